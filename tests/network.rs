//! Cross-module checks of the network: whole-network gradient checks, training on small
//! problems, determinism and model files.

use actlab::data::{builtin, SyntheticOptions};
use actlab::mlp::Workspace;
use actlab::model::{fit, FitConfig};
use actlab::train::TrainConfig;
use actlab::{model_io, Activation, Loss, Mlp, MlpConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn act(s: &str) -> Activation {
    s.parse().unwrap()
}

/// Mean loss of the network on `x`, accumulated in f64.
fn loss_of(mlp: &Mlp, loss: Loss, x: &[f32], t: &[f32], rows: usize) -> f64 {
    let mut ws = Workspace::default();
    mlp.forward(x, rows, &mut ws);
    loss.loss(
        mlp.layers().last().unwrap().activation,
        ws.logits(),
        ws.output(),
        t,
        mlp.outputs(),
    )
}

/// Compares backpropagation with central differences `(L(θ+h) - L(θ-h)) / 2h` (differences
/// taken in f64) for every parameter, to a relative tolerance `tolerance`.
///
/// The network computes in f32, so a loss carries rounding noise of about 1e-7 of its size:
/// h = 1e-2 keeps that noise (÷ 2h) and the O(h²) truncation error both near 1e-5. Networks with
/// kinks (PReLU, ELU at 0) take a smaller h, so that no pre-activation crosses a kink, and a
/// looser tolerance for the larger noise.
fn check_gradients(config: MlpConfig, loss: Loss, h: f32, tolerance: f64, targets: impl Fn(usize, usize) -> f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut mlp = Mlp::new(&config, &mut rng).unwrap();
    let rows = 6;
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let x: Vec<f32> = (0..rows * config.inputs).map(|_| normal.sample(&mut rng)).collect();
    let t: Vec<f32> = (0..rows * config.outputs)
        .map(|i| targets(i / config.outputs, i % config.outputs))
        .collect();

    let mut ws = Workspace::default();
    mlp.forward(&x, rows, &mut ws);
    let (z, y, grad_z) = ws.output_parts();
    loss.loss_and_grad(config.output, z, y, &t, config.outputs, grad_z);
    // Stale values: `backward` overwrites every gradient, so none of them may survive.
    let mut grads = vec![1e3f32; mlp.params().len()];
    mlp.backward(&x, &mut ws, &mut grads);

    let mut worst = 0.0f64;
    for (i, &analytic) in grads.iter().enumerate() {
        let original = mlp.params()[i];
        mlp.params_mut()[i] = original + h;
        let plus = loss_of(&mlp, loss, &x, &t, rows);
        mlp.params_mut()[i] = original - h;
        let minus = loss_of(&mlp, loss, &x, &t, rows);
        mlp.params_mut()[i] = original;
        let numeric = (plus - minus) / (2.0 * h as f64);
        let analytic = analytic as f64;
        let error = (numeric - analytic).abs() / (numeric.abs().max(analytic.abs()) + 1e-2);
        worst = worst.max(error);
        assert!(
            error < tolerance,
            "parameter {i}: backprop {analytic:.6e}, central difference {numeric:.6e}"
        );
    }
    assert!(worst.is_finite());
}

fn one_hot(row: usize, col: usize) -> f32 {
    f32::from(row % 3 == col)
}

#[test]
fn three_layer_softmax_network_gradients_match_central_differences() {
    let config = MlpConfig {
        inputs: 4,
        hidden: vec![5, 4],
        activations: vec![act("tanh"), act("sigmoid")],
        outputs: 3,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    check_gradients(config, Loss::CrossEntropy, 1e-2, 1e-2, one_hot);
}

#[test]
fn residual_regression_network_gradients_match_central_differences() {
    let config = MlpConfig {
        inputs: 3,
        hidden: vec![4, 4, 4],
        activations: vec![act("gelu"), act("silu"), act("softplus")],
        outputs: 2,
        output: Activation::Identity,
        residual: true,
        init: None,
    };
    check_gradients(config.clone(), Loss::Mse, 1e-2, 1e-2, |r, c| {
        (r as f32 - 2.0) * 0.5 + c as f32
    });
    check_gradients(config, Loss::Huber { delta: 0.5 }, 1e-2, 1e-2, |r, c| {
        (r as f32 - 2.0) * 0.5 + c as f32
    });
}

#[test]
fn prelu_and_sigmoid_output_gradients_match_central_differences() {
    let config = MlpConfig {
        inputs: 3,
        hidden: vec![5, 4],
        activations: vec![act("prelu"), act("elu")],
        outputs: 2,
        output: Activation::Sigmoid,
        residual: false,
        init: None,
    };
    check_gradients(config.clone(), Loss::BinaryCrossEntropy, 1e-3, 2e-2, |r, c| {
        f32::from((r + c) % 2 == 0)
    });
    check_gradients(
        MlpConfig {
            output: act("tanh"),
            ..config
        },
        Loss::Mse,
        1e-3,
        2e-2,
        |r, c| f32::from((r + c) % 2 == 0) - 0.5,
    );
}

fn synthetic(name: &str, seed: u64) -> actlab::Dataset {
    builtin(
        name,
        &SyntheticOptions {
            samples: Some(200),
            noise: None,
            seed,
        },
    )
    .unwrap()
    .train
}

fn xor_accuracy(activation: &str) -> f64 {
    let data = builtin(
        "xor",
        &SyntheticOptions {
            samples: Some(200),
            noise: Some(0.0),
            seed: 1,
        },
    )
    .unwrap()
    .train;
    let config = FitConfig {
        hidden: vec![8],
        activations: vec![act(activation)],
        train: TrainConfig {
            epochs: Some(150),
            batch_size: 16,
            learning_rate: 0.02,
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let fitted = fit(&data, &config).unwrap();
    fitted.model.evaluate(&data).unwrap().accuracy.unwrap()
}

#[test]
fn xor_needs_a_nonlinearity() {
    let identity = xor_accuracy("identity");
    assert!(
        identity <= 0.75,
        "an identity network is one linear map, yet it reached {identity} on XOR"
    );
    for activation in ["tanh", "relu"] {
        let accuracy = xor_accuracy(activation);
        assert!(accuracy >= 0.97, "{activation} reached only {accuracy} on XOR");
    }
}

#[test]
fn iris_defaults_reach_ninety_percent_in_a_few_epochs() {
    let data = builtin(
        "iris",
        &SyntheticOptions {
            samples: None,
            noise: None,
            seed: 0,
        },
    )
    .unwrap()
    .train;
    let (train, test) = actlab::data::stratified_split(&data, 0.2, 0);
    let config = FitConfig {
        train: TrainConfig {
            epochs: Some(60),
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let fitted = fit(&train, &config).unwrap();
    let accuracy = fitted.model.evaluate(&test).unwrap().accuracy.unwrap();
    assert!(accuracy >= 0.9, "iris test accuracy {accuracy}");
    let losses: Vec<f64> = fitted.history.epochs.iter().map(|e| e.train_loss).collect();
    assert!(
        losses.last().unwrap() < &(losses[0] * 0.5),
        "loss did not fall: {losses:?}"
    );
}

#[test]
fn training_is_reproducible_for_a_seed_and_any_thread_count() {
    let data = synthetic("moons", 3);
    let config = FitConfig {
        hidden: vec![32, 32],
        train: TrainConfig {
            epochs: Some(5),
            seed: 11,
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| fit(&data, &config).unwrap().model)
    };
    let one = run(1);
    assert_eq!(one.mlp.params(), run(1).mlp.params());
    assert_eq!(one.mlp.params(), run(2).mlp.params());
    let other_seed = fit(
        &data,
        &FitConfig {
            train: TrainConfig {
                seed: 12,
                ..config.train.clone()
            },
            ..config.clone()
        },
    )
    .unwrap();
    assert_ne!(one.mlp.params(), other_seed.model.mlp.params());
}

/// Trains a 64-256-256-10 ReLU network (initial weights from `seed`) for `epochs` epochs of
/// batch `batch` on `n` random samples: steps with parallel work, as its 128×256×256 products
/// (at batch 128) are cut for threads, batches of 256 into shards, and Adam's 85 k parameters
/// are shared out. Returns the trained parameters.
fn train_wide_network(n: usize, epochs: usize, seed: u64, batch: usize) -> Vec<f32> {
    use actlab::matrix::Matrix;
    use actlab::train::{train, Batchable};
    let (inputs, classes) = (64, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let x = Matrix::from_vec(n, inputs, (0..n * inputs).map(|_| normal.sample(&mut rng)).collect());
    let labels: Vec<u32> = (0..n as u32).map(|i| i * 7 % classes as u32).collect();
    let mut one_hot = vec![0.0; n * classes];
    for (i, &l) in labels.iter().enumerate() {
        one_hot[i * classes + l as usize] = 1.0;
    }
    let targets = Matrix::from_vec(n, classes, one_hot);
    let config = MlpConfig {
        inputs,
        hidden: vec![256, 256],
        activations: vec![act("relu")],
        outputs: classes,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    let mut mlp = Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
    assert!(mlp.params().len() >= 1 << 16);
    let data = Batchable {
        x: &x,
        targets: &targets,
        labels: Some(&labels),
        weights: None,
    };
    let config = TrainConfig {
        epochs: Some(epochs),
        batch_size: batch,
        ..TrainConfig::default()
    };
    train(&mut mlp, Loss::CrossEntropy, data, None, &config, |_| {}).unwrap();
    mlp.params().to_vec()
}

/// The same with a network whose steps have parallel work: products cut into blocks for the
/// threads, batches cut into shards (see `actlab::train::SHARD_FROM`), Adam shared out, the
/// pool's other threads spinning for work during each epoch.
#[test]
fn training_with_parallel_steps_is_the_same_on_any_thread_count() {
    const { assert!(actlab::train::SHARD_FROM <= 256 && actlab::train::SHARD_FROM > 128) };
    for batch in [128, 256] {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| train_wide_network(512, 2, 5, batch))
        };
        let one = run(1);
        assert_eq!(one, run(2), "batch {batch}");
        assert_eq!(one, run(3), "batch {batch}");
    }
}

/// Several trainings with parallel steps at once on one pool (a seed sweep with `par_iter`):
/// a thread running one training's steps must not wait inside another's spinning helper.
#[test]
fn concurrent_trainings_on_one_pool_finish_with_the_sequential_results() {
    use rayon::prelude::*;
    let run = |seed: u64| train_wide_network(512, 2, seed, 256);
    let sequential: Vec<_> = (0..6).map(run).collect();
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let concurrent: Vec<_> = pool.install(|| (0..6).into_par_iter().map(run).collect());
        assert!(concurrent == sequential, "{threads} threads");
    }
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    let data = synthetic("circles", 5);
    let config = FitConfig {
        hidden: vec![64],
        validation_fraction: Some(0.3),
        train: TrainConfig {
            epochs: Some(300),
            learning_rate: 0.05,
            patience: Some(5),
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let fitted = fit(&data, &config).unwrap();
    let h = &fitted.history;
    let best = h.best_epoch.unwrap();
    let best_loss = h.epochs[best - 1].val_loss.unwrap();
    assert!(h.epochs.iter().all(|e| e.val_loss.unwrap() >= best_loss));
    if h.stopped_early {
        assert_eq!(h.epochs.len(), best + 5);
    }
}

#[test]
fn divergence_names_the_layer_and_suggests_a_lower_rate() {
    let data = synthetic("gauss", 2);
    let config = FitConfig {
        hidden: vec![16, 16],
        output: Some(Activation::Identity),
        loss: Some(Loss::Mse),
        train: TrainConfig {
            epochs: Some(50),
            learning_rate: 1e4,
            optimizer: actlab::optim::OptimizerConfig {
                kind: actlab::optim::OptimizerKind::Sgd,
                ..Default::default()
            },
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let err = fit(&data, &config).unwrap_err().to_string();
    assert!(
        err.contains("diverged") && err.contains("layer") && err.contains("lower learning rate"),
        "{err}"
    );
}

#[test]
fn model_files_round_trip_and_reject_damage() {
    let data = synthetic("spirals", 4);
    let config = FitConfig {
        hidden: vec![16, 16],
        activations: vec![act("prelu"), act("leaky_relu:0.2")],
        residual: true,
        train: TrainConfig {
            epochs: Some(3),
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let model = fit(&data, &config).unwrap().model;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model_io::save(&model, &path).unwrap();
    let loaded = model_io::load(&path).unwrap();
    assert_eq!(loaded, model);
    assert_eq!(loaded.predict(&data).unwrap(), model.predict(&data).unwrap());

    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, 100, bytes.len() - 1] {
        let err = model_io::from_safetensors(&bytes[..cut], &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.safetensors"), "{err}");
    }
    let mut garbled = bytes.clone();
    garbled[10..30].fill(b'#');
    assert!(model_io::from_safetensors(&garbled, &path).is_err());
}

#[test]
fn regression_targets_are_scaled_and_mapped_back() {
    // y = 100 + 30·x0 - 20·x1 is learnable exactly by a linear model.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let n = 300;
    let x: Vec<f32> = (0..2 * n).map(|_| normal.sample(&mut rng)).collect();
    let y: Vec<f32> = x.chunks(2).map(|r| 100.0 + 30.0 * r[0] - 20.0 * r[1]).collect();
    let data = actlab::Dataset {
        x: actlab::Matrix::from_vec(n, 2, x),
        feature_names: vec!["a".into(), "b".into()],
        target_name: "y".into(),
        target: actlab::Target::Values(y),
        images: false,
    };
    let config = FitConfig {
        hidden: vec![],
        train: TrainConfig {
            epochs: Some(100),
            learning_rate: 0.01,
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    let fitted = fit(&data, &config).unwrap();
    let scores = fitted.model.evaluate(&data).unwrap();
    assert!(scores.r2.unwrap() > 0.999, "{scores:?}");
    assert!(scores.rmse.unwrap() < 1.0, "{scores:?}");
}

#[test]
fn single_sample_prediction_matches_the_batch_forward_pass() {
    let config = MlpConfig {
        inputs: 40,
        hidden: vec![100, 100, 100],
        activations: vec![act("relu"), act("prelu"), act("tanh")],
        outputs: 10,
        output: Activation::Softmax,
        residual: true,
        init: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mlp = Mlp::new(&config, &mut rng).unwrap();
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let x: Vec<f32> = (0..5 * 40).map(|_| normal.sample(&mut rng)).collect();
    let mut ws = Workspace::default();
    mlp.forward(&x, 5, &mut ws);
    let mut predictor = actlab::inference::Predictor::new(&mlp);
    for (row, want) in x.chunks(40).zip(ws.output().chunks(10)) {
        let got = predictor.predict_one(row);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{g} vs {w}");
        }
        assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
