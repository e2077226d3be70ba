//! Activation functions side by side: the same network trained on the same data from the same
//! seeds, once per activation, and measured.
//!
//! Every run uses [`crate::model::fit_with`] with one [`FitConfig`]; only the hidden activation
//! (all hidden layers) and the seed change. Runs with the same seed draw their initial weights
//! from the same random stream, each scaled by its activation's default initialisation (Glorot
//! for sigmoid and tanh, He for the ReLU family: see [`Activation::default_init`]) unless the
//! configuration fixes one scheme for all, and see the samples in the same order.
//!
//! Per run: final training and test accuracy (R² for regression) and loss, the first epoch
//! whose training accuracy reaches a target, training time, and from the per-layer
//! [`diagnostics`](crate::diagnostics) after the last epoch the share of dead units, the share
//! of saturated activations, and the gradient norm ratio of the first to the last layer; and
//! the same figures after every epoch. Over several seeds each figure is summarised as
//! mean ± standard deviation. [`report`] renders it all as an HTML page and a Markdown file
//! with SVG charts.

mod report;

use serde::Serialize;

use crate::diagnostics::Diagnostics;
use crate::model::{fit_with, FitConfig};
use crate::train::{Continuation, EpochRecord};
use crate::{Activation, Dataset, Error, Result, Task};

pub use report::report;

/// Without a given target, the target training accuracy is this share of the best final
/// training accuracy of all runs.
pub const TARGET_SHARE: f64 = 0.9;

/// Diagnostics are computed on at most this many training samples unless the configuration
/// says otherwise.
pub const DEFAULT_DIAGNOSTIC_SAMPLES: usize = 1000;

/// What to compare.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareConfig {
    /// The hidden activations; each one is used in every hidden layer of its network.
    pub activations: Vec<Activation>,
    /// Training seeds (initial weights and sample order); each activation runs once per seed.
    pub seeds: Vec<u64>,
    /// The network and its training, shared by every run. Its `activations` and `train.seed`
    /// are replaced per run; `train.diagnostics` of `None` becomes
    /// [`DEFAULT_DIAGNOSTIC_SAMPLES`] (the figures need them after every epoch).
    pub fit: FitConfig,
    /// The training accuracy whose first epoch is reported as "epochs to target"; `None` takes
    /// [`TARGET_SHARE`] × the best final training accuracy over all runs. Classification only.
    pub target_accuracy: Option<f64>,
}

/// Samples that each run sees when [`CompareConfig::fit`] leaves the epochs to the default
/// (60 epochs of MNIST-1D), six times what [`crate::train::default_epochs`] gives a single run.
pub const DEFAULT_SAMPLES_SEEN: usize = 240_000;

impl CompareConfig {
    /// This configuration with every default decided for the training data `train`: epochs
    /// to see about [`DEFAULT_SAMPLES_SEEN`] samples (10 to 300), and the rest as
    /// [`FitConfig::resolved`] decides.
    pub fn resolved(&self, train: &Dataset) -> CompareConfig {
        let mut config = self.clone();
        if config.fit.train.epochs.is_none() {
            config.fit.train.epochs = Some(crate::train::epochs_to_see(DEFAULT_SAMPLES_SEEN, train.len()));
        }
        config.fit = config.fit.resolved(train);
        config
    }
}

/// Where the comparison stands, for progress displays.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// 0-based index of the run.
    pub run: usize,
    /// Number of runs in all.
    pub runs: usize,
    /// The run's activation.
    pub activation: Activation,
    /// The run's seed.
    pub seed: u64,
    /// The epoch just finished.
    pub epoch: &'a EpochRecord,
}

/// A figure over several seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (`n - 1` in the denominator; 0 for a single value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// Mean and standard deviation of `values`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Stat { mean, std, n })
    }
}

/// One hidden layer's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerFigures {
    /// Share of the layer's units whose output is exactly 0 on every sample.
    pub dead_fraction: f64,
    /// Share of (sample, unit) pairs where the derivative is below 1 % of its maximum; `None`
    /// for functions that do not saturate.
    pub saturated_fraction: Option<f64>,
    /// Mean output of the layer (how far from zero-centred).
    pub output_mean: f64,
    /// L2 norm of the loss gradient with respect to the layer's weights.
    pub grad_norm: f64,
}

/// The figures of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochFigures {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches (classification).
    pub train_accuracy: Option<f64>,
    /// Training seconds up to the end of the epoch (diagnostics not counted).
    pub seconds: f64,
    /// Hidden layers after the epoch, input side first.
    pub layers: Vec<LayerFigures>,
    /// Gradient norm of the first layer over that of the last (output) layer after the epoch.
    pub gradient_ratio: f64,
}

/// One training run: an activation and a seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// The hidden activation.
    pub activation: Activation,
    /// The training seed.
    pub seed: u64,
    /// Why the run stopped early (training diverged); its other figures then describe the last
    /// completed epoch and its scores are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Final training accuracy (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Final test accuracy (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Final training R² (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_r2: Option<f64>,
    /// Final test R² (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f64>,
    /// Final training loss.
    pub train_loss: Option<f64>,
    /// Final test loss.
    pub test_loss: Option<f64>,
    /// Epochs completed.
    pub epochs: usize,
    /// First epoch whose training accuracy reached the target; `None` if none did (or for
    /// regression).
    pub epochs_to_target: Option<usize>,
    /// Training seconds up to the end of that epoch.
    pub seconds_to_target: Option<f64>,
    /// Training seconds in all (diagnostics not counted).
    pub seconds: f64,
    /// Share of dead units over all hidden layers after the last epoch.
    pub dead_fraction: f64,
    /// Share of saturated activations over all hidden layers after the last epoch; `None` for
    /// functions that do not saturate.
    pub saturated_fraction: Option<f64>,
    /// Gradient norm of the first layer over that of the last layer, after the last epoch.
    pub gradient_ratio: f64,
    /// Hidden layers after the last epoch.
    pub layers: Vec<LayerFigures>,
    /// Every epoch's figures.
    pub history: Vec<EpochFigures>,
}

impl Run {
    /// Final training score: accuracy, or R² for regression.
    pub fn train_score(&self) -> Option<f64> {
        self.train_accuracy.or(self.train_r2)
    }

    /// Final test score: accuracy, or R² for regression.
    pub fn test_score(&self) -> Option<f64> {
        self.test_accuracy.or(self.test_r2)
    }
}

/// One activation's runs, summarised over the seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The hidden activation.
    pub activation: Activation,
    /// Runs (seeds).
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Final training score (accuracy or R²) of the runs that finished.
    pub train_score: Option<Stat>,
    /// Final test score.
    pub test_score: Option<Stat>,
    /// Final training loss.
    pub train_loss: Option<Stat>,
    /// Final test loss.
    pub test_loss: Option<Stat>,
    /// Epochs to the target, over the runs that reached it.
    pub epochs_to_target: Option<Stat>,
    /// Runs that reached the target.
    pub reached_target: usize,
    /// Training seconds.
    pub seconds: Stat,
    /// Share of dead units.
    pub dead_fraction: Stat,
    /// Share of saturated activations (functions that saturate).
    pub saturated_fraction: Option<Stat>,
    /// Gradient norm ratio of the first to the last layer.
    pub gradient_ratio: Stat,
}

/// Everything a comparison measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Classification or regression.
    pub task: Task,
    /// The target training accuracy used for "epochs to target" (classification).
    pub target_accuracy: Option<f64>,
    /// Whether the target was derived from the runs ([`TARGET_SHARE`] × best) rather than given.
    pub target_from_runs: bool,
    /// Epochs each run was given.
    pub epochs: usize,
    /// Training samples the diagnostics were computed on.
    pub diagnostic_samples: usize,
    /// One entry per activation and seed, activations in the order given, seeds within.
    pub runs: Vec<Run>,
    /// One entry per activation, in the order given.
    pub summaries: Vec<Summary>,
}

impl Comparison {
    /// What the score is called: "accuracy" or "R²".
    pub fn score_name(&self) -> &'static str {
        match self.task {
            Task::Classification => "accuracy",
            Task::Regression => "R²",
        }
    }
}

/// Trains one network per activation and seed on `train`, scores it on `train` and `test`,
/// and measures it; `on_epoch` sees every epoch of every run (for progress displays).
///
/// A run whose training diverges is kept, with its error and the figures of its last complete
/// epoch; every other error ends the comparison.
///
/// # Errors
/// [`Error::Config`] for an empty list of activations or seeds, a repeated or output-only
/// activation, no hidden layer, a target accuracy outside (0, 1], or a configuration that
/// [`fit_with`] rejects.
pub fn compare(
    train: &Dataset,
    test: &Dataset,
    config: &CompareConfig,
    mut on_epoch: impl FnMut(&Progress<'_>),
) -> Result<Comparison> {
    check(config)?;
    let config = &config.resolved(train);
    let task = train
        .task()
        .ok_or_else(|| Error::config("the training data has no target column"))?;
    let mut fit_config = config.fit.clone();
    fit_config.train.diagnostics = Some(fit_config.train.diagnostics.unwrap_or(DEFAULT_DIAGNOSTIC_SAMPLES));
    let runs_total = config.activations.len() * config.seeds.len();
    let mut runs = Vec::with_capacity(runs_total);
    for &activation in &config.activations {
        for &seed in &config.seeds {
            fit_config.activations = vec![activation];
            fit_config.train.seed = seed;
            let mut records: Vec<EpochRecord> = Vec::new();
            let progress = |record: &EpochRecord| {
                on_epoch(&Progress {
                    run: runs.len(),
                    runs: runs_total,
                    activation,
                    seed,
                    epoch: record,
                });
                records.push(record.clone());
            };
            let (scores, error) = match fit_with(train, &fit_config, Continuation::default(), progress) {
                Ok(fitted) => (
                    Some((fitted.model.evaluate(train)?, fitted.model.evaluate(test)?)),
                    None,
                ),
                Err(e @ Error::Diverged { .. }) => (None, Some(e.to_string())),
                Err(e) => return Err(e),
            };
            let history: Vec<EpochFigures> = records.iter().map(epoch_figures).collect();
            let last = records.last().and_then(|r| r.diagnostics.as_ref());
            let (dead_fraction, saturated_fraction) = last.map_or((0.0, None), overall);
            let (train_scores, test_scores) = scores.unzip();
            runs.push(Run {
                activation,
                seed,
                error,
                train_accuracy: train_scores.and_then(|s| s.accuracy),
                test_accuracy: test_scores.and_then(|s| s.accuracy),
                train_r2: train_scores.and_then(|s| s.r2),
                test_r2: test_scores.and_then(|s| s.r2),
                train_loss: train_scores.map(|s| s.loss),
                test_loss: test_scores.map(|s| s.loss),
                epochs: records.len(),
                epochs_to_target: None,
                seconds_to_target: None,
                seconds: records.last().map_or(0.0, |r| r.seconds),
                dead_fraction,
                saturated_fraction,
                gradient_ratio: last.map_or(f64::NAN, |d| d.gradient_ratio),
                layers: history.last().map(|h| h.layers.clone()).unwrap_or_default(),
                history,
            });
        }
    }

    let (target_accuracy, target_from_runs) = match (task, config.target_accuracy) {
        (Task::Regression, _) => (None, false),
        (Task::Classification, Some(t)) => (Some(t), false),
        (Task::Classification, None) => (
            runs.iter()
                .filter_map(Run::train_score)
                .fold(None, |best: Option<f64>, s| Some(best.map_or(s, |b| b.max(s))))
                .map(|best| TARGET_SHARE * best),
            true,
        ),
    };
    if let Some(target) = target_accuracy {
        for run in &mut runs {
            if let Some(e) = run
                .history
                .iter()
                .find(|e| e.train_accuracy.is_some_and(|a| a >= target))
            {
                run.epochs_to_target = Some(e.epoch);
                run.seconds_to_target = Some(e.seconds);
            }
        }
    }
    let summaries = config
        .activations
        .iter()
        .map(|&a| summarise(a, runs.iter().filter(|r| r.activation == a)))
        .collect();
    Ok(Comparison {
        task,
        target_accuracy,
        target_from_runs,
        epochs: config.fit.train.epochs_for(train.len()),
        diagnostic_samples: fit_config.train.diagnostics.unwrap_or(0).min(train.len()),
        runs,
        summaries,
    })
}

fn check(config: &CompareConfig) -> Result<()> {
    if config.activations.is_empty() {
        return Err(Error::config("no activation to compare"));
    }
    if config.seeds.is_empty() {
        return Err(Error::config("no seed to run"));
    }
    if config.fit.hidden.is_empty() {
        return Err(Error::config(
            "the network has no hidden layer, so there is no activation to compare",
        ));
    }
    for (i, a) in config.activations.iter().enumerate() {
        if a.is_output_only() {
            return Err(Error::config(format!("{a} can only be an output activation")));
        }
        if config.activations[..i].contains(a) {
            return Err(Error::config(format!("{a} is listed twice")));
        }
    }
    if let Some(t) = config.target_accuracy {
        if !(t > 0.0 && t <= 1.0) {
            return Err(Error::config(format!("the target accuracy must be in (0, 1], got {t}")));
        }
    }
    Ok(())
}

/// Hidden layers of a diagnosis (the last layer is the output layer).
fn hidden_layers(d: &Diagnostics) -> &[crate::diagnostics::LayerDiagnostics] {
    &d.layers[..d.layers.len().saturating_sub(1)]
}

/// Dead units over all hidden units, and saturated activations over all hidden activations
/// (`None` when no hidden layer saturates).
fn overall(d: &Diagnostics) -> (f64, Option<f64>) {
    let layers = hidden_layers(d);
    let units: usize = layers.iter().map(|l| l.units).sum();
    let dead = layers.iter().map(|l| l.dead_fraction * l.units as f64).sum::<f64>() / units.max(1) as f64;
    let saturating: Vec<_> = layers
        .iter()
        .filter_map(|l| l.saturated_fraction.map(|s| (s, l.units)))
        .collect();
    let saturated = (!saturating.is_empty()).then(|| {
        saturating.iter().map(|&(s, u)| s * u as f64).sum::<f64>()
            / saturating.iter().map(|&(_, u)| u).sum::<usize>() as f64
    });
    (dead, saturated)
}

fn epoch_figures(record: &EpochRecord) -> EpochFigures {
    let d = record
        .diagnostics
        .as_ref()
        .expect("compare asks for diagnostics after every epoch");
    EpochFigures {
        epoch: record.epoch,
        train_loss: record.train_loss,
        train_accuracy: record.train_accuracy,
        seconds: record.seconds,
        layers: hidden_layers(d)
            .iter()
            .map(|l| LayerFigures {
                dead_fraction: l.dead_fraction,
                saturated_fraction: l.saturated_fraction,
                output_mean: l.output_mean,
                grad_norm: l.grad_norm,
            })
            .collect(),
        gradient_ratio: d.gradient_ratio,
    }
}

fn summarise<'a>(activation: Activation, runs: impl Iterator<Item = &'a Run> + Clone) -> Summary {
    let stat = |f: fn(&Run) -> Option<f64>| Stat::of(runs.clone().filter_map(f));
    Summary {
        activation,
        runs: runs.clone().count(),
        diverged: runs.clone().filter(|r| r.error.is_some()).count(),
        train_score: stat(Run::train_score),
        test_score: stat(Run::test_score),
        train_loss: stat(|r| r.train_loss),
        test_loss: stat(|r| r.test_loss),
        epochs_to_target: stat(|r| r.epochs_to_target.map(|e| e as f64)),
        reached_target: runs.clone().filter(|r| r.epochs_to_target.is_some()).count(),
        seconds: stat(|r| Some(r.seconds)).expect("every activation has runs"),
        dead_fraction: stat(|r| Some(r.dead_fraction)).expect("every activation has runs"),
        saturated_fraction: stat(|r| r.saturated_fraction),
        gradient_ratio: stat(|r| Some(r.gradient_ratio)).expect("every activation has runs"),
    }
}

/// A table of the summaries: a header row and one row per activation, cells as text.
///
/// Columns: activation, training and test score, training and test loss, epochs to the target
/// (classification), seconds, dead %, saturated %, and the gradient ratio first/last layer.
/// Over several seeds a cell reads `mean ± std`; "epochs to target" adds `(k/n)` when only `k`
/// of `n` seeds reached it and reads "never" when none did; "–" marks a figure that does not
/// apply (saturation of a function that does not saturate) or is missing (a diverged run).
pub fn table(comparison: &Comparison) -> Vec<Vec<String>> {
    let short = match comparison.task {
        Task::Classification => "acc",
        Task::Regression => "R²",
    };
    let mut header = vec![
        "activation".to_string(),
        format!("train {short}"),
        format!("test {short}"),
        "train loss".into(),
        "test loss".into(),
    ];
    if let Some(t) = comparison.target_accuracy {
        header.push(format!("epochs to {t:.2}"));
    }
    header.extend(["time s", "dead %", "saturated %", "grad first/last"].map(String::from));
    let mut rows = vec![header];
    for s in &comparison.summaries {
        let mut row = vec![s.activation.to_string()];
        row.push(cell(s.train_score, 4, 1.0));
        row.push(cell(s.test_score, 4, 1.0));
        row.push(cell(s.train_loss, 4, 1.0));
        row.push(cell(s.test_loss, 4, 1.0));
        if comparison.target_accuracy.is_some() {
            row.push(match s.epochs_to_target {
                None => "never".into(),
                Some(e) if s.reached_target < s.runs => {
                    format!("{} ({}/{})", cell(Some(e), 0, 1.0), s.reached_target, s.runs)
                }
                Some(e) => cell(Some(e), if s.runs > 1 { 1 } else { 0 }, 1.0),
            });
        }
        // Three significant digits, at least one decimal: 12.3, 1.23, 0.00123.
        let digits = (2 - s.seconds.mean.max(1e-6).log10().floor() as i64).clamp(1, 8) as usize;
        row.push(cell(Some(s.seconds), digits, 1.0));
        row.push(cell(Some(s.dead_fraction), 1, 100.0));
        row.push(cell(s.saturated_fraction, 1, 100.0));
        row.push(ratio_cell(s.gradient_ratio));
        if s.diverged > 0 {
            row[0] = format!("{} ({}/{} diverged)", row[0], s.diverged, s.runs);
        }
        rows.push(row);
    }
    rows
}

/// Lines that explain the columns of [`table`] for `comparison`.
pub fn notes(comparison: &Comparison) -> Vec<String> {
    let seeds = comparison.summaries.first().map_or(1, |s| s.runs);
    let mut notes = vec![format!(
        "Scores and losses after the last of {} epochs{}.",
        comparison.epochs,
        if seeds > 1 {
            format!(", mean ± standard deviation over {seeds} seeds")
        } else {
            String::new()
        }
    )];
    if let Some(t) = comparison.target_accuracy {
        notes.push(format!(
            "epochs to {t:.2}: the first epoch whose training accuracy (over the epoch's batches) reached {t:.4}{}.",
            if comparison.target_from_runs {
                format!(", {TARGET_SHARE} × the best final training accuracy of all runs")
            } else {
                String::new()
            }
        ));
    }
    notes.push("time: training seconds, diagnostics not counted.".into());
    notes.push(format!(
        "dead: hidden units whose output is 0 on every sample; saturated: hidden activations where f′ is below \
         1 % of its maximum (– for functions that do not saturate); grad first/last: gradient norm of the first \
         layer's weights over the last layer's (below {} the gradient vanishes on its way down). All on at most \
         {} training samples after the last epoch.",
        1.0 / crate::diagnostics::GRADIENT_RATIO_ALARM,
        comparison.diagnostic_samples
    ));
    notes
}

fn cell(stat: Option<Stat>, decimals: usize, scale: f64) -> String {
    match stat {
        None => "–".into(),
        Some(s) if s.n > 1 => format!("{:.decimals$} ± {:.decimals$}", s.mean * scale, s.std * scale),
        Some(s) => format!("{:.decimals$}", s.mean * scale),
    }
}

/// A gradient ratio in three significant digits (scientific outside [0.01, 1000)).
pub fn ratio(x: f64) -> String {
    ratio_with(x, x)
}

/// `x` written with the precision that suits `reference`.
fn ratio_with(x: f64, reference: f64) -> String {
    let r = reference.abs();
    if !x.is_finite() {
        "–".into()
    } else if r == 0.0 || (0.01..1000.0).contains(&r) {
        let digits = if r == 0.0 {
            2
        } else {
            (2 - r.log10().floor() as i32).clamp(0, 4) as usize
        };
        format!("{x:.digits$}")
    } else {
        format!("{x:.2e}")
    }
}

/// Mean (± std) of gradient ratios, both with the mean's precision.
fn ratio_cell(s: Stat) -> String {
    if s.n > 1 {
        format!("{} ± {}", ratio_with(s.mean, s.mean), ratio_with(s.std, s.mean))
    } else {
        ratio(s.mean)
    }
}

#[cfg(test)]
mod tests;
