//! What every experiment repeats: the [`Outcome`] it fills, its data, its training runs and
//! their diagnosis. Every run is seeded with [`SEED`].

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Axis, Curve};
use crate::data::{builtin, Standardizer, SyntheticOptions};
use crate::diagnostics::{Diagnostics, LayerDiagnostics};
use crate::model::{output_layer, FitConfig, Model};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::train::{self, Batchable, History, TrainConfig};
use crate::{Activation, Dataset, Error, Loss, Mlp, MlpConfig, Result, Target, Task};

/// What a measurement function produces; [`super::Experiment::run`] adds the rest.
pub(super) struct Outcome {
    pub(super) measurements: BTreeMap<String, f64>,
    /// Whether every [`Outcome::check`] so far passed.
    pub(super) holds: bool,
    pub(super) notes: Vec<String>,
    pub(super) series: Vec<Curve>,
}

impl Outcome {
    /// No measurements yet, and no failed check.
    pub(super) fn new() -> Outcome {
        Outcome {
            measurements: BTreeMap::new(),
            holds: true,
            notes: Vec::new(),
            series: Vec::new(),
        }
    }

    /// Records the measurement `name` and returns its value.
    pub(super) fn set(&mut self, name: impl Into<String>, value: f64) -> f64 {
        self.measurements.insert(name.into(), value);
        value
    }

    /// One condition of the criterion: the claim holds only if every check passes.
    pub(super) fn check(&mut self, passed: bool) {
        self.holds &= passed;
    }

    /// Adds the curve `label` of `quantity` over `x`.
    pub(super) fn curve(
        &mut self,
        quantity: &str,
        x: Axis,
        log_y: bool,
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
    ) {
        self.series.push(Curve {
            quantity: quantity.into(),
            x,
            label: label.into(),
            log_y,
            points,
        });
    }
}

// ---- data ---------------------------------------------------------------------------------------

/// The seed every experiment draws its data, weights and batches with.
pub(super) const SEED: u64 = 0;

/// The built-in data set `name`, with `samples` rows where it is generated.
pub(super) fn dataset(name: &str, samples: Option<usize>) -> Result<crate::data::Split> {
    let options = SyntheticOptions {
        samples,
        noise: None,
        seed: SEED,
    };
    builtin(name, &options).ok_or_else(|| Error::config(format!("no built-in data set '{name}'")))
}

/// At most `n` evenly spaced rows of the built-in data set `name`'s training split.
pub(super) fn train_rows(name: &str, n: usize) -> Result<Dataset> {
    Ok(spaced_rows(dataset(name, None)?.train, n))
}

/// At most `n` evenly spaced rows of `data`.
fn spaced_rows(data: Dataset, n: usize) -> Dataset {
    if data.len() <= n {
        return data;
    }
    let rows: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
    data.subset(&rows)
}

// ---- training -----------------------------------------------------------------------------------

fn optimizer(kind: OptimizerKind) -> OptimizerConfig {
    OptimizerConfig {
        kind,
        ..OptimizerConfig::default()
    }
}

/// Mini-batches of 32 with the optimizer `kind` at `learning_rate`, for `epochs`.
pub(super) fn training(kind: OptimizerKind, learning_rate: f32, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs: Some(epochs),
        batch_size: 32,
        learning_rate,
        optimizer: optimizer(kind),
        seed: SEED,
        ..TrainConfig::default()
    }
}

/// A network with `hidden` layers of `activation`, trained by `train`.
pub(super) fn fit_config(hidden: Vec<usize>, activation: Activation, train: TrainConfig) -> FitConfig {
    FitConfig {
        hidden,
        activations: vec![activation],
        train,
        ..FitConfig::default()
    }
}

/// A classifier for `data` with its weights drawn as [`crate::model::fit`] would draw them, not
/// trained, so that it can be diagnosed at initialisation.
pub(super) fn untrained(data: &Dataset, hidden: Vec<usize>, activation: Activation, seed: u64) -> Result<Model> {
    let Target::Classes { classes, .. } = &data.target else {
        return Err(Error::config("the experiment needs class labels"));
    };
    let (output, outputs) = output_layer(Task::Classification, classes.len(), None)?;
    let config = MlpConfig {
        inputs: data.n_features(),
        hidden,
        activations: vec![activation],
        outputs,
        output,
        residual: false,
        init: None,
    };
    Ok(Model {
        mlp: Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(seed))?,
        task: Task::Classification,
        classes: classes.clone(),
        feature_names: data.feature_names.clone(),
        target_name: data.target_name.clone(),
        input: Standardizer::fit(&data.x),
        target_scale: None,
        loss: Loss::for_output(output),
        threshold: None,
    })
}

/// Trains `model` on `data` in place.
pub(super) fn train_model(model: &mut Model, data: &Dataset, config: &TrainConfig) -> Result<History> {
    let (x, targets, labels) = model.prepare(data)?;
    let batches = Batchable {
        x: &x,
        targets: &targets,
        labels: labels.as_deref(),
        weights: None,
    };
    train::train(&mut model.mlp, model.loss, batches, None, config, |_| {})
}

/// Trains `model` on `data` in place by `config`, recording its diagnostics on at most `samples`
/// rows after every epoch.
pub(super) fn train_diagnosed(
    model: &mut Model,
    data: &Dataset,
    config: TrainConfig,
    samples: usize,
) -> Result<History> {
    let config = TrainConfig {
        diagnostics: Some(samples),
        ..config
    };
    train_model(model, data, &config)
}

/// The classification accuracy of `model` on `data`.
pub(super) fn accuracy(model: &Model, data: &Dataset) -> Result<f64> {
    model
        .evaluate(data)?
        .accuracy
        .ok_or_else(|| Error::config("accuracy needs class labels"))
}

/// The first epoch whose training accuracy (over the epoch's batches) reached `target`, and the
/// seconds since training began at its end.
fn reached(history: &History, target: f64) -> Option<(usize, f64)> {
    history
        .epochs
        .iter()
        .find(|r| r.train_accuracy.is_some_and(|a| a >= target))
        .map(|r| (r.epoch, r.seconds))
}

/// Records epochs and seconds to `target` under `prefix`; returns the epochs (infinite if never).
pub(super) fn record_reached(out: &mut Outcome, prefix: &str, history: &History, target: f64) -> f64 {
    match reached(history, target) {
        Some((epoch, seconds)) => {
            out.set(format!("{prefix}_seconds_to_target"), seconds);
            out.set(format!("{prefix}_epochs_to_target"), epoch as f64)
        }
        None => {
            out.notes.push(format!(
                "{prefix} never reached {target} training accuracy in {} epochs.",
                history.epochs.len()
            ));
            f64::INFINITY
        }
    }
}

/// `(epoch, training accuracy)` for every epoch of `history`.
pub(super) fn accuracy_curve(history: &History) -> Vec<(f64, f64)> {
    history
        .epochs
        .iter()
        .filter_map(|r| r.train_accuracy.map(|a| (r.epoch as f64, a)))
        .collect()
}

// ---- diagnosis ----------------------------------------------------------------------------------

/// `(epoch, f(diagnostics))` for every epoch of `history` that recorded diagnostics.
pub(super) fn diagnosed_epochs(history: &History, f: impl Fn(&Diagnostics) -> f64) -> Vec<(f64, f64)> {
    history
        .epochs
        .iter()
        .filter_map(|r| r.diagnostics.as_ref().map(|d| (r.epoch as f64, f(d))))
        .collect()
}

/// Mean of `f` over the hidden layers (all but the output layer).
pub(super) fn hidden_mean(d: &Diagnostics, f: impl Fn(&LayerDiagnostics) -> Option<f64>) -> f64 {
    let values: Vec<f64> = d.layers[..d.layers.len() - 1].iter().filter_map(f).collect();
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

#[cfg(test)]
pub(super) mod testing {
    //! What the experiments' tests share.

    use super::super::{find, Budget, ExperimentResult};

    pub(in crate::experiments) fn quick(id: u8) -> ExperimentResult {
        find(id).unwrap().run(Budget::Quick).unwrap()
    }

    pub(in crate::experiments) fn m(r: &ExperimentResult, name: &str) -> f64 {
        *r.measurements
            .get(name)
            .unwrap_or_else(|| panic!("no measurement {name} in {:?}", r.measurements.keys()))
    }

    /// Epochs to the target, infinite when the run never reached it.
    pub(in crate::experiments) fn epochs(r: &ExperimentResult, prefix: &str) -> f64 {
        r.measurements
            .get(&format!("{prefix}_epochs_to_target"))
            .copied()
            .unwrap_or(f64::INFINITY)
    }
}
