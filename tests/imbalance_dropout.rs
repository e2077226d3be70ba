//! Class and sample weights, the decision threshold and dropout through the library.

use actlab::data::{builtin, SyntheticOptions};
use actlab::mlp::Workspace;
use actlab::weights::{ClassWeight, Threshold};
use actlab::{fit, Activation, Dataset, FitConfig, Loss, Matrix, Mlp, MlpConfig, Target};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn iris() -> Dataset {
    let options = SyntheticOptions {
        samples: None,
        noise: None,
        seed: 0,
    };
    builtin("iris", &options).unwrap().train
}

/// 300 rows of two features, one in ten of class "yes", shifted in x0.
fn imbalanced() -> Dataset {
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for i in 0..300u32 {
        let yes = i % 10 == 0;
        x.extend([
            ((i * 37) % 101) as f32 / 101.0 + if yes { 0.5 } else { 0.0 },
            ((i * 53) % 97) as f32 / 97.0,
        ]);
        labels.push(u32::from(yes));
    }
    Dataset {
        x: Matrix::from_vec(300, 2, x),
        feature_names: vec!["x0".into(), "x1".into()],
        target_name: "y".into(),
        target: Target::Classes {
            labels,
            classes: vec!["no".into(), "yes".into()],
        },
        images: false,
    }
}

fn config(epochs: usize) -> FitConfig {
    let mut config = FitConfig {
        hidden: vec![16, 16],
        ..FitConfig::default()
    };
    config.train.epochs = Some(epochs);
    config
}

fn params(data: &Dataset, config: &FitConfig) -> Vec<u32> {
    fit(data, config)
        .unwrap()
        .model
        .mlp
        .params()
        .iter()
        .map(|p| p.to_bits())
        .collect()
}

#[test]
fn dropout_zero_and_unit_weights_are_the_plain_run_bit_for_bit() {
    let data = iris();
    let plain = params(&data, &config(5));
    let mut zero = config(5);
    zero.train.dropout = vec![0.0];
    assert_eq!(params(&data, &zero), plain);
    zero.train.dropout = vec![0.0, 0.0];
    assert_eq!(params(&data, &zero), plain);
    let mut ones = config(5);
    ones.sample_weights = Some(vec![1.0; data.len()]);
    ones.class_weight = Some(ClassWeight::Given(vec![("0".into(), 1.0)]));
    assert_eq!(params(&data, &ones), plain);
}

#[test]
fn dropout_is_deterministic_and_changes_training() {
    let data = iris();
    let mut dropped = config(5);
    dropped.train.dropout = vec![0.3, 0.1];
    let first = params(&data, &dropped);
    assert_eq!(params(&data, &dropped), first);
    assert_ne!(first, params(&data, &config(5)));
    // Never at prediction: the same input gives the same output twice.
    let model = fit(&data, &dropped).unwrap().model;
    assert_eq!(model.predict(&data).unwrap(), model.predict(&data).unwrap());
    for (rates, message) in [
        (
            vec![1.0],
            "train.dropout must be at least 0 and below 1 (1 would drop every unit), got 1",
        ),
        (
            vec![-0.1],
            "train.dropout must be at least 0 and below 1 (1 would drop every unit), got -0.1",
        ),
        (
            vec![0.1, 0.1, 0.1],
            "train.dropout gives 3 rates; give one rate for all hidden layers or one per hidden layer (2)",
        ),
    ] {
        dropped.train.dropout = rates;
        assert_eq!(fit(&data, &dropped).unwrap_err().to_string(), message);
    }
}

#[test]
fn gradients_under_dropout_match_central_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mlp_config = MlpConfig {
        inputs: 3,
        hidden: vec![6, 6],
        activations: vec![Activation::Tanh],
        outputs: 2,
        output: Activation::Softmax,
        residual: true,
        init: None,
    };
    let mut mlp = Mlp::new(&mlp_config, &mut rng).unwrap();
    let x = [0.3, -0.7, 1.1, 0.5, 0.2, -0.4, -1.0, 0.8, 0.1, 0.0, 0.6, -0.2];
    let t = [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    let weights = [1.0, 2.0, 0.5, 0.0];
    let rates = [0.5, 0.3];
    // The same generator state gives the same masks: the loss is a function of the parameters.
    let loss_of = |mlp: &Mlp, grads: Option<&mut Vec<f32>>| {
        let mut ws = Workspace::default();
        let mut masks = ChaCha8Rng::seed_from_u64(9);
        mlp.forward_with_dropout(&x, 4, &mut ws, Some((&rates, &mut masks)));
        let (z, y, grad_z) = ws.output_parts();
        let loss = Loss::CrossEntropy.weighted_loss_and_grad(Activation::Softmax, z, y, &t, 2, Some(&weights), grad_z);
        if let Some(g) = grads {
            mlp.backward(&x, &mut ws, g);
        }
        loss
    };
    let mut grads = vec![0.0; mlp.params().len()];
    loss_of(&mlp, Some(&mut grads));
    let h = 1e-2f32;
    for (i, &grad) in grads.iter().enumerate() {
        let p = mlp.params()[i];
        mlp.params_mut()[i] = p + h;
        let up = loss_of(&mlp, None);
        mlp.params_mut()[i] = p - h;
        let down = loss_of(&mlp, None);
        mlp.params_mut()[i] = p;
        let numeric = (up - down) / (2.0 * h as f64);
        assert!(
            (numeric - grad as f64).abs() < 2e-3 * numeric.abs().max(1.0),
            "parameter {i}: backprop {grad} vs {numeric}"
        );
    }
}

#[test]
fn weights_shift_predictions_towards_the_rare_class() {
    let data = imbalanced();
    let predicted_yes = |config: &FitConfig| {
        let model = fit(&data, config).unwrap().model;
        model
            .predict_labels(&data)
            .unwrap()
            .iter()
            .filter(|l| *l == "yes")
            .count()
    };
    let plain = predicted_yes(&config(30));
    let mut balanced = config(30);
    balanced.class_weight = Some(ClassWeight::Balanced);
    let weighted = predicted_yes(&balanced);
    assert!(
        weighted > plain + 10,
        "balanced weights predict 'yes' {weighted} times, plain {plain}"
    );
    // Weighting the rare class's samples by hand does what balanced class weights do.
    let mut by_sample = config(30);
    let Target::Classes { labels, .. } = &data.target else {
        unreachable!()
    };
    by_sample.sample_weights = Some(labels.iter().map(|&l| if l == 1 { 5.0 } else { 5.0 / 9.0 }).collect());
    assert_eq!(params(&data, &by_sample), params(&data, &balanced));
    // Weights of zero everywhere leave nothing to learn from.
    let mut zero = config(3);
    zero.sample_weights = Some(vec![0.0; data.len()]);
    assert!(fit(&data, &zero)
        .unwrap_err()
        .to_string()
        .contains("every training sample weighs 0"));
    zero.sample_weights = Some(vec![1.0; 3]);
    assert_eq!(
        fit(&data, &zero).unwrap_err().to_string(),
        "3 sample weights for 300 samples"
    );
}

#[test]
fn a_tuned_threshold_is_stored_in_the_model_and_used() {
    let data = imbalanced();
    let mut tuned = config(20);
    tuned.threshold = Some(Threshold::Auto);
    let model = fit(&data, &tuned).unwrap().model;
    let t = model.threshold.expect("a threshold was tuned");
    assert!((0.0..=1.0).contains(&t));
    let bytes = actlab::model_io::to_safetensors(&model).unwrap();
    let loaded = actlab::model_io::from_safetensors(&bytes, std::path::Path::new("m")).unwrap();
    assert_eq!(loaded.threshold, Some(t));
    let probabilities = model.predict(&data).unwrap();
    let labels = model.predict_labels(&data).unwrap();
    for (row, label) in probabilities.iter_rows().zip(&labels) {
        assert_eq!(label == "yes", row[1] >= t);
    }
    let mut fixed = config(3);
    fixed.threshold = Some(Threshold::Value(0.0));
    let model = fit(&data, &fixed).unwrap().model;
    assert!(model.predict_labels(&data).unwrap().iter().all(|l| l == "yes"));
    fixed.threshold = Some(Threshold::Auto);
    assert_eq!(
        fit(&iris(), &fixed).unwrap_err().to_string(),
        "threshold applies to two classes; the target 'species' has 3 classes"
    );
}

#[test]
fn cross_validation_scores_each_fold_with_a_model_trained_on_the_others() {
    let data = iris();
    let mut config = config(3);
    config.sample_weights = Some((0..data.len()).map(|i| (i % 3) as f32 + 0.5).collect());
    let result = actlab::cv::cross_validate(&data, &config, 3, 7, |_| {}).unwrap();
    let folds = actlab::cv::fold_indices(&data, 3, 7).unwrap();
    // Fold 2 by hand: train on folds 1 and 3 with their rows' weights, score on fold 2.
    let train_rows: Vec<usize> = (0..data.len()).filter(|i| !folds[1].contains(i)).collect();
    let mut by_hand = config.clone();
    by_hand.sample_weights = Some(train_rows.iter().map(|&i| (i % 3) as f32 + 0.5).collect());
    let model = fit(&data.subset(&train_rows), &by_hand).unwrap().model;
    assert_eq!(result.folds[1].metrics, model.report(&data.subset(&folds[1])).unwrap());
    let accuracy: Vec<f64> = result
        .folds
        .iter()
        .map(|f| actlab::cv::scalars(&f.metrics)[0].1.unwrap())
        .collect();
    let summary = &result.summary[0];
    assert_eq!(summary.metric, "accuracy");
    assert!((summary.mean - accuracy.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    config.sample_weights = Some(vec![1.0; 4]);
    assert_eq!(
        actlab::cv::cross_validate(&data, &config, 3, 7, |_| {})
            .unwrap_err()
            .to_string(),
        "4 sample weights for 150 samples"
    );
}
