use super::*;
use crate::data::{builtin, SyntheticOptions};
use crate::model::{fit_with, FitConfig};
use crate::Dataset;

fn spirals() -> Dataset {
    let options = SyntheticOptions {
        samples: Some(120),
        noise: None,
        seed: 3,
    };
    builtin("spirals", &options).unwrap().train
}

fn fit_config(kind: OptimizerKind, learning_rate: f32, schedule: Schedule, patience: Option<usize>) -> FitConfig {
    FitConfig {
        hidden: vec![12, 12],
        validation_fraction: Some(if patience.is_some() { 0.25 } else { 0.0 }),
        train: TrainConfig {
            epochs: Some(12),
            batch_size: 16,
            learning_rate,
            optimizer: OptimizerConfig {
                kind,
                weight_decay: 1e-3,
                ..OptimizerConfig::default()
            },
            schedule,
            patience,
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    }
}

/// Trains with `config`, handing the state after every epoch to `states`.
fn run(data: &Dataset, config: &FitConfig, resume: Option<State>, states: &mut Vec<State>) -> Result<(Mlp, History)> {
    let mut keep = |state: &State| {
        states.push(state.clone());
        Ok(())
    };
    let continuation = Continuation {
        resume,
        checkpoint: Some((1, &mut keep)),
        ..Continuation::default()
    };
    let fitted = fit_with(data, config, continuation, |_| {})?;
    Ok((fitted.model.mlp, fitted.history))
}

/// The history without its times, which no two runs share.
fn untimed(mut history: History) -> History {
    history.epochs.iter_mut().for_each(|r| r.seconds = 0.0);
    history
}

#[test]
fn every_optimizer_at_an_absurd_learning_rate_diverges() {
    let data = spirals();
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adam,
        OptimizerKind::AdamW,
        OptimizerKind::RmsProp,
    ] {
        let config = fit_config(kind, 1e6, Schedule::Constant, None);
        match run(&data, &config, None, &mut Vec::new()) {
            Err(e @ Error::Diverged { learning_rate, .. }) => {
                assert_eq!(learning_rate, 1e6);
                let message = e.to_string();
                assert!(
                    message.contains(&format!("with {kind},")) && message.contains("lower learning rate"),
                    "{message}"
                );
            }
            other => panic!("{kind}: {:?}", other.map(|(_, h)| h.epochs.last().unwrap().train_loss)),
        }
    }
}

#[test]
fn a_finite_blow_up_is_measured_against_the_untrained_loss() {
    // Adam moves every weight by about the learning rate per step: at 1e4 the loss grows by
    // orders of magnitude in the first epoch yet stays finite.
    let config = fit_config(OptimizerKind::Adam, 1e4, Schedule::Constant, None);
    let Err(Error::Diverged { epoch, detail, .. }) = run(&spirals(), &config, None, &mut Vec::new()) else {
        panic!("Adam at 1e4 did not diverge");
    };
    assert_eq!(epoch, 1);
    assert!(
        detail.contains("times the untrained network's") && detail.contains("layer"),
        "{detail}"
    );
    // A sound learning rate trains without complaint.
    let config = fit_config(OptimizerKind::Adam, 0.01, Schedule::Constant, None);
    run(&spirals(), &config, None, &mut Vec::new()).unwrap();
}

#[test]
fn a_run_resumed_after_any_epoch_ends_like_an_uninterrupted_one() {
    let data = spirals();
    let plateau = Schedule::Plateau {
        patience: 1,
        factor: 0.5,
    };
    for config in [
        fit_config(OptimizerKind::Adam, 0.01, Schedule::Constant, None),
        fit_config(OptimizerKind::Momentum, 0.05, Schedule::Cosine, None),
        fit_config(OptimizerKind::Nesterov, 0.05, "step:3:0.5".parse().unwrap(), None),
        fit_config(OptimizerKind::RmsProp, 0.003, plateau, None),
        fit_config(OptimizerKind::AdamW, 0.03, plateau, Some(2)),
    ] {
        let mut states = Vec::new();
        let (mlp, history) = run(&data, &config, None, &mut states).unwrap();
        let kind = config.train.optimizer.kind;
        assert_eq!(states.len(), history.epochs.len(), "{kind}: one state per epoch");
        if config.train.patience.is_some() {
            assert!(
                history.stopped_early,
                "{kind}: early stopping did not happen; the test needs it"
            );
        }
        let bits = |m: &Mlp| m.params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for state in &states {
            let mut later = Vec::new();
            let (resumed, resumed_history) = run(&data, &config, Some(state.clone()), &mut later).unwrap();
            assert_eq!(
                bits(&resumed),
                bits(&mlp),
                "{kind}: resumed after epoch {}",
                state.epoch
            );
            assert_eq!(
                untimed(resumed_history),
                untimed(history.clone()),
                "{kind}: epoch {}",
                state.epoch
            );
            let untimed_state = |s: &State| State {
                history: untimed(s.history.clone()),
                ..s.clone()
            };
            let expected: Vec<State> = states[state.epoch..].iter().map(untimed_state).collect();
            assert_eq!(later.iter().map(untimed_state).collect::<Vec<_>>(), expected, "{kind}");
        }
    }
}

#[test]
fn a_state_that_does_not_fit_the_run_is_refused() {
    let data = spirals();
    let config = fit_config(OptimizerKind::Adam, 0.01, Schedule::Cosine, None);
    let mut states = Vec::new();
    run(&data, &config, None, &mut states).unwrap();
    let state = &states[3];
    let (n, train) = (state.order.len(), &config.train);
    state.check(n, train).unwrap();
    let refused = |change: &dyn Fn(&mut State), needle: &str| {
        let mut s = state.clone();
        change(&mut s);
        let message = s.check(n, train).unwrap_err();
        assert!(message.contains(needle), "{needle}: {message}");
        let e = run(&data, &config, Some(s), &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("does not fit") && e.contains(needle), "{e}");
    };
    refused(&|s| s.order[0] = s.order[1], "permutation");
    refused(&|s| s.order.push(0), "permutation");
    refused(&|s| s.epoch = 13, "epoch 13");
    refused(&|s| s.history.steps += 1, "steps");
    refused(&|s| s.optimizer.m.pop().map_or((), drop), "first moment");
    refused(&|s| s.optimizer.v[5] = f32::NAN, "second moment");
    refused(&|s| s.schedule.rate = 1.0, "learning rate");
    refused(&|s| s.network.params_mut()[0] = f32::INFINITY, "parameter 0");
    refused(&|s| s.start_loss = -1.0, "initial loss");
    refused(
        &|s| {
            s.best = Some(Best {
                val_loss: 1.0,
                epoch: 1,
                params: s.network.params().to_vec(),
            })
        },
        "early stopping",
    );
}

#[test]
fn timings_split_set_up_from_the_epochs_this_call_ran() {
    let data = spirals();
    let config = fit_config(OptimizerKind::Adam, 0.01, Schedule::Constant, None);
    let began = Instant::now();
    let mut states = Vec::new();
    let mut keep = |state: &State| {
        states.push(state.clone());
        Ok(())
    };
    let continuation = Continuation {
        resume: None,
        checkpoint: Some((1, &mut keep)),
        ..Continuation::default()
    };
    let fitted = fit_with(&data, &config, continuation, |_| {}).unwrap();
    let wall = began.elapsed().as_secs_f64();
    let t = fitted.timings;
    assert_eq!(t.epochs, 12);
    assert!(t.setup_seconds >= 0.0 && t.train_seconds > 0.0, "{t:?}");
    assert!(t.setup_seconds + t.train_seconds <= wall, "{t:?} in {wall} s");
    // The last epoch ends within the epochs' time.
    assert!(
        fitted.history.epochs.last().unwrap().seconds <= t.train_seconds,
        "{t:?}"
    );
    assert_eq!(
        fitted.samples_per_second(),
        (12 * fitted.n_train) as f64 / t.train_seconds
    );
    // A run resumed after epoch 8 runs, and counts, the last 4.
    let resumed = fit_with(
        &data,
        &config,
        Continuation {
            resume: Some(states[7].clone()),
            checkpoint: None,
            ..Continuation::default()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(resumed.timings.epochs, 4);
    assert_eq!(resumed.history.epochs.len(), 12);
    assert_eq!(
        resumed.samples_per_second(),
        (4 * resumed.n_train) as f64 / resumed.timings.train_seconds
    );
}

/// L1 through the shared loop: some weights end exactly 0, more with a larger rate, none
/// without it.
#[test]
fn l1_sets_weights_to_exactly_zero() {
    let data = spirals();
    let zeros = |l1: f32| -> usize {
        let mut config = fit_config(OptimizerKind::Adam, 0.01, Schedule::Constant, None);
        config.train.optimizer.l1 = l1;
        let (mlp, history) = run(&data, &config, None, &mut Vec::new()).unwrap();
        assert!(history.epochs.last().unwrap().train_loss.is_finite());
        mlp.weight_ranges()
            .map(|r| mlp.params()[r].iter().filter(|&&w| w == 0.0).count())
            .sum()
    };
    let (none, some, more) = (zeros(0.0), zeros(1e-3), zeros(1e-2));
    assert_eq!(none, 0);
    assert!(0 < some && some < more, "{some} then {more} weights are 0");
}

/// A batch of [`SHARD_FROM`] rows or more is cut into two shards: each row's outputs and
/// output gradient are the whole batch's (bit for bit on x86-64), and the summed gradient and
/// loss differ from the whole batch's by rounding only. Smaller batches and batches under dropout stay whole.
#[test]
fn a_batch_cut_into_shards_steps_like_the_whole_batch() {
    use crate::mlp::MlpConfig;
    use rand::RngExt;
    let config = MlpConfig {
        inputs: 9,
        hidden: vec![13, 5],
        activations: vec!["tanh".parse().unwrap()],
        outputs: 3,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mlp = Mlp::new(&config, &mut rng).unwrap();
    for rows in [SHARD_FROM - 1, SHARD_FROM, SHARD_FROM + 1, 2 * SHARD_FROM + 3] {
        let x: Vec<f32> = (0..rows * 9).map(|_| rng.random_range(-2.0..2.0)).collect();
        let mut targets = vec![0.0f32; rows * 3];
        (0..rows).for_each(|r| targets[r * 3 + r % 3] = 1.0);
        let weights: Vec<f32> = (0..rows).map(|r| 0.5 + (r % 4) as f32 / 3.0).collect();
        for weights in [None, Some(weights.as_slice())] {
            // The whole batch at once.
            let mut ws = Workspace::default();
            mlp.forward(&x, rows, &mut ws);
            let (z, y, grad_z) = ws.output_parts();
            let loss =
                Loss::CrossEntropy.weighted_loss_and_grad(Activation::Softmax, z, y, &targets, 3, weights, grad_z);
            let mut grads = vec![0.0; mlp.params().len()];
            mlp.backward(&x, &mut ws, &mut grads);

            let mut stepper = Stepper::new(&mlp, Loss::CrossEntropy, OptimizerConfig::default(), None);
            let sharded = stepper.forward_weighted_loss(&mlp, &x, &targets, weights, None, rows);
            assert_eq!(
                stepper.workspaces().count(),
                if rows >= SHARD_FROM { 2 } else { 1 },
                "{rows} rows"
            );
            let outputs: Vec<f32> = stepper.workspaces().flat_map(|w| w.output().to_vec()).collect();
            let output_grads: Vec<f32> = stepper
                .workspaces()
                .flat_map(|w| w.pre_activation_grad(2).to_vec())
                .collect();
            // Bit for bit with faer's x86-64 kernels; its kernels for other CPUs may sum a
            // shard's rows in another order than the whole batch's (seen on AArch64).
            let close = |a: &[f32], b: &[f32]| {
                a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| {
                        if cfg!(target_arch = "x86_64") {
                            x == y
                        } else {
                            (x - y).abs() <= 1e-5 * (1.0 + y.abs())
                        }
                    })
            };
            assert!(
                close(&outputs, ws.output()) && close(&output_grads, ws.pre_activation_grad(2)),
                "{rows} rows"
            );
            assert!(
                (sharded - loss).abs() <= if cfg!(target_arch = "x86_64") { 1e-12 } else { 1e-6 } * loss,
                "{rows} rows: loss {sharded} against {loss}"
            );
            stepper.update(&mut mlp.clone(), &x, 1e-3);
            // Adam adds the second shard's gradient inside its update.
            let [first, second] = &stepper.shards;
            let summed: Vec<f32> = match rows >= SHARD_FROM {
                true => first.grads.iter().zip(&second.grads).map(|(a, b)| a + b).collect(),
                false => first.grads.clone(),
            };
            for (i, (&a, &b)) in summed.iter().zip(&grads).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{rows} rows: gradient {i} is {a}, whole {b}"
                );
            }
            if rows < SHARD_FROM {
                assert!(
                    summed == grads,
                    "{rows} rows: a whole batch has the whole batch's gradient"
                );
            }
        }
    }
    // Under dropout, a large batch stays whole: its masks are drawn as one.
    let rows = 2 * SHARD_FROM;
    let x = vec![0.5f32; rows * 9];
    let targets: Vec<f32> = (0..rows * 3).map(|i| (i % 3 == 0) as u8 as f32).collect();
    let mut stepper = Stepper::new(&mlp, Loss::CrossEntropy, OptimizerConfig::default(), None);
    let rates = [0.5, 0.5];
    stepper.forward_weighted_loss(
        &mlp,
        &x,
        &targets,
        None,
        Some((&rates, ChaCha8Rng::seed_from_u64(1))),
        rows,
    );
    assert_eq!(stepper.workspaces().count(), 1);
}

#[test]
fn the_untrained_loss_of_a_large_set_comes_from_rows_spread_across_it() {
    use crate::mlp::MlpConfig;
    use rand::RngExt;
    let config = MlpConfig {
        inputs: 3,
        hidden: vec![4],
        activations: vec!["relu".parse().unwrap()],
        outputs: 2,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mlp = Mlp::new(&config, &mut rng).unwrap();
    for n in [
        1,
        2,
        UNTRAINED_LOSS_ROWS - 1,
        UNTRAINED_LOSS_ROWS,
        UNTRAINED_LOSS_ROWS + 1,
        3 * UNTRAINED_LOSS_ROWS + 7,
    ] {
        // The second half of the rows lies far from the first, and the classes cycle with a
        // period of 3: a sample of the first rows, or one at a stride, would miss either.
        let x: Vec<f32> = (0..n * 3)
            .map(|i| rng.random_range(-1.0..1.0) + if i / 3 >= n / 2 { 6.0 } else { 0.0 })
            .collect();
        let targets: Vec<f32> = (0..n)
            .flat_map(|r| if r % 3 == 0 { [1.0, 0.0] } else { [0.0, 1.0] })
            .collect();
        let (x, targets) = (Matrix::from_vec(n, 3, x), Matrix::from_vec(n, 2, targets));
        let data = Batchable {
            x: &x,
            targets: &targets,
            labels: None,
            weights: None,
        };
        let all = evaluate(&mlp, data, Loss::CrossEntropy).loss;
        let sampled = untrained_loss(&mlp, data, Loss::CrossEntropy);
        if n <= UNTRAINED_LOSS_ROWS {
            assert_eq!(sampled, all, "{n} rows");
        } else {
            let rows = untrained_loss_rows(n);
            assert!(rows.windows(2).all(|w| w[0] < w[1]) && rows.len() == UNTRAINED_LOSS_ROWS);
            let (sx, st) = (x.select_rows(&rows), targets.select_rows(&rows));
            let sample = Batchable {
                x: &sx,
                targets: &st,
                labels: None,
                weights: None,
            };
            assert_eq!(sampled, evaluate(&mlp, sample, Loss::CrossEntropy).loss, "{n} rows");
            assert!((sampled - all).abs() < 0.02 * all, "{n} rows: {sampled} against {all}");
        }
    }
}

#[test]
fn a_fresh_run_continues_an_optimizer_state_it_is_given() {
    let data = spirals();
    let config = fit_config(OptimizerKind::Adam, 0.01, Schedule::Constant, None);
    let mut states = Vec::new();
    let mut keep = |state: &State| {
        states.push(state.clone());
        Ok(())
    };
    let continuation = Continuation {
        checkpoint: Some((1, &mut keep)),
        ..Continuation::default()
    };
    let model = fit_with(&data, &config, continuation, |_| {}).unwrap().model;
    let earlier = states.last().unwrap().optimizer.clone();
    let steps_per_run = earlier.steps;
    assert_eq!(steps_per_run as usize, 12 * data.len().div_ceil(16));

    // A second run on the trained network, from the first run's moments and step count.
    let (x, targets, labels) = model.prepare(&data).unwrap();
    let batch = Batchable {
        x: &x,
        targets: &targets,
        labels: labels.as_deref(),
        weights: None,
    };
    let mlp = &model.mlp;
    let train_again = |optimizer: Option<OptimizerState>, resume: Option<State>, kind: OptimizerKind| {
        let mut mlp = mlp.clone();
        let mut last = None;
        let mut keep = |state: &State| {
            last = Some(state.optimizer.clone());
            Ok(())
        };
        let mut train_config = config.train.clone();
        train_config.optimizer.kind = kind;
        let continuation = Continuation {
            resume,
            checkpoint: Some((1, &mut keep)),
            optimizer,
        };
        let outcome = train_with(&mut mlp, model.loss, batch, None, &train_config, continuation, |_| {});
        outcome.map(|_| (mlp, last.unwrap()))
    };
    let (carried, state) = train_again(Some(earlier.clone()), None, OptimizerKind::Adam).unwrap();
    assert_eq!(state.steps, 2 * steps_per_run);
    let (fresh, state) = train_again(None, None, OptimizerKind::Adam).unwrap();
    assert_eq!(state.steps, steps_per_run);
    // Adam's bias correction and moments differ, so do the weights.
    assert_ne!(carried.params(), fresh.params());

    // A state that does not fit is refused, naming why; so is a state given twice over.
    let Err(e) = train_again(Some(earlier.clone()), None, OptimizerKind::Sgd) else {
        panic!("Adam's moments accepted by SGD");
    };
    assert!(
        e.to_string().contains("optimizer state to start from does not fit"),
        "{e}"
    );
    let Err(e) = train_again(Some(earlier), Some(states[0].clone()), OptimizerKind::Adam) else {
        panic!("a state and an optimizer state both accepted");
    };
    assert!(e.to_string().contains("not both"), "{e}");
}
