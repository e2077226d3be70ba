use super::*;
use crate::data::{builtin, stratified_split, SyntheticOptions};
use crate::train::TrainConfig;

fn circles() -> (Dataset, Dataset) {
    let options = SyntheticOptions {
        samples: Some(300),
        noise: None,
        seed: 0,
    };
    stratified_split(&builtin("circles", &options).unwrap().train, 0.2, 0)
}

fn config(activations: Vec<Activation>, seeds: Vec<u64>) -> CompareConfig {
    CompareConfig {
        activations,
        seeds,
        fit: FitConfig {
            hidden: vec![16, 16],
            train: TrainConfig {
                epochs: Some(60),
                batch_size: 20,
                learning_rate: 0.01,
                ..TrainConfig::default()
            },
            ..FitConfig::default()
        },
        target_accuracy: None,
    }
}

#[test]
fn identity_stays_linear_on_circles_and_tanh_fits_them() {
    let (train, test) = circles();
    let mut seen = 0;
    let c = compare(
        &train,
        &test,
        &config(vec![Activation::Identity, Activation::Tanh], vec![0, 1]),
        |p| {
            assert_eq!(p.runs, 4);
            seen += 1;
        },
    )
    .unwrap();
    assert_eq!(seen, 4 * 60);
    assert_eq!(c.runs.len(), 4);
    assert_eq!(
        c.runs
            .iter()
            .map(|r| (r.activation.to_string(), r.seed))
            .collect::<Vec<_>>(),
        [
            ("identity".into(), 0),
            ("identity".into(), 1),
            ("tanh".into(), 0),
            ("tanh".into(), 1)
        ]
    );
    for run in &c.runs {
        assert!(run.error.is_none());
        assert_eq!(run.epochs, 60);
        assert_eq!(run.history.len(), 60);
        assert_eq!(run.layers.len(), 2, "two hidden layers");
        assert!(run.seconds > 0.0 && run.gradient_ratio.is_finite() && run.gradient_ratio > 0.0);
        assert!(run.train_loss.unwrap().is_finite() && run.test_loss.unwrap().is_finite());
        assert!((0.0..=1.0).contains(&run.dead_fraction));
        assert!(run.train_r2.is_none());
    }
    let (identity, tanh) = (&c.summaries[0], &c.summaries[1]);
    assert!(identity.test_score.unwrap().mean < 0.75, "{identity:?}");
    assert!(identity.train_score.unwrap().mean < 0.75, "{identity:?}");
    assert!(tanh.test_score.unwrap().mean > 0.9, "{tanh:?}");
    assert!(tanh.train_loss.unwrap().mean < identity.train_loss.unwrap().mean);
    assert_eq!(tanh.train_score.unwrap().n, 2);
    // Saturation applies to tanh, not to identity.
    assert!(identity.saturated_fraction.is_none());
    assert!((0.0..=1.0).contains(&tanh.saturated_fraction.unwrap().mean));
    // The default target is 90 % of the best final training accuracy: tanh gets there,
    // the linear network does not.
    let best = c.runs.iter().filter_map(Run::train_score).fold(0.0, f64::max);
    assert_eq!(c.target_accuracy, Some(TARGET_SHARE * best));
    assert_eq!(tanh.reached_target, 2);
    assert_eq!(identity.reached_target, 0);
    for run in c.runs.iter().filter(|r| r.activation == Activation::Tanh) {
        let e = run.epochs_to_target.unwrap();
        assert!(run.history[e - 1].train_accuracy.unwrap() >= c.target_accuracy.unwrap());
        assert!(
            e == 1
                || run.history[..e - 1]
                    .iter()
                    .all(|h| h.train_accuracy.unwrap() < c.target_accuracy.unwrap())
        );
    }
    let rows = table(&c);
    assert_eq!(rows.len(), 3);
    assert!(rows[0].iter().any(|h| h.starts_with("epochs to")));
    assert!(rows[1][1].contains(" ± "), "{:?}", rows[1]);
    assert_eq!(rows[1][rows[0].len() - 2], "–", "identity does not saturate");
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["runs"][2]["activation"], "tanh");
    assert!(json["runs"][2]["test_accuracy"].as_f64().unwrap() > 0.85);
}

#[test]
fn relu_units_can_be_dead_and_a_given_target_is_used() {
    let (train, test) = circles();
    let mut cfg = config(vec![Activation::Relu], vec![3]);
    cfg.target_accuracy = Some(0.6);
    cfg.fit.train.epochs = Some(5);
    let c = compare(&train, &test, &cfg, |_| {}).unwrap();
    assert_eq!(c.target_accuracy, Some(0.6));
    assert!(!c.target_from_runs);
    let run = &c.runs[0];
    assert!(run.saturated_fraction.is_none());
    // The overall dead share is the unit-weighted mean of the layers'.
    let mean = run.layers.iter().map(|l| l.dead_fraction).sum::<f64>() / 2.0;
    assert!((run.dead_fraction - mean).abs() < 1e-12);
    assert_eq!(c.summaries[0].gradient_ratio.std, 0.0);
}

#[test]
fn bad_configurations_are_refused() {
    let (train, test) = circles();
    let refuse = |cfg: CompareConfig, needle: &str| {
        let e = compare(&train, &test, &cfg, |_| {}).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    };
    refuse(config(vec![], vec![0]), "no activation");
    refuse(config(vec![Activation::Tanh], vec![]), "no seed");
    refuse(config(vec![Activation::Tanh, Activation::Tanh], vec![0]), "twice");
    refuse(config(vec![Activation::Softmax], vec![0]), "output");
    let mut cfg = config(vec![Activation::Tanh], vec![0]);
    cfg.target_accuracy = Some(1.5);
    refuse(cfg, "target accuracy");
    let mut cfg = config(vec![Activation::Tanh], vec![0]);
    cfg.fit.hidden.clear();
    refuse(cfg, "no hidden layer");
}

#[test]
fn a_diverging_run_is_kept_with_its_error() {
    let (train, test) = circles();
    let mut cfg = config(vec![Activation::Identity, Activation::Tanh], vec![0]);
    cfg.fit.train.learning_rate = 1e30;
    cfg.fit.train.optimizer.kind = crate::optim::OptimizerKind::Sgd;
    cfg.fit.train.epochs = Some(3);
    let c = compare(&train, &test, &cfg, |_| {}).unwrap();
    let identity = &c.runs[0];
    assert!(identity.error.as_deref().unwrap().contains("diverged"), "{identity:?}");
    assert!(identity.train_accuracy.is_none() && identity.test_loss.is_none());
    assert_eq!(c.summaries[0].diverged, 1);
    assert!(table(&c)[1][0].contains("diverged"));
}

#[test]
fn stats_and_ratios() {
    let s = Stat::of([1.0, 2.0, 3.0]).unwrap();
    assert_eq!((s.mean, s.std, s.n), (2.0, 1.0, 3));
    assert_eq!(Stat::of([5.0]).unwrap().std, 0.0);
    assert!(Stat::of([]).is_none());
    assert_eq!(ratio(0.1234), "0.123");
    assert_eq!(ratio(12.34), "12.3");
    assert_eq!(ratio(0.000123), "1.23e-4");
    assert_eq!(ratio(f64::NAN), "–");
    assert_eq!(ratio(0.0), "0.00");
    let s = Stat::of([1.5, 1.9]).unwrap();
    assert_eq!(ratio_cell(s), "1.70 ± 0.28");
}
