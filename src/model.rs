//! A trained model: the network together with what it needs to read raw data and to speak
//! in the data's own terms (class labels, target units).

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::{stratified_indices, Columns, DatasetRef, Standardizer};
use crate::diagnostics::{self, Diagnostics};
use crate::error::short_number;
use crate::loss::Loss;
use crate::mlp::{MlpConfig, Workspace};
use crate::optim::OptimizerKind;
use crate::predictor::{Prediction, Predictor};
use crate::train::{self, Batchable, History, TrainConfig};
use crate::weights::{self, ClassWeight, Threshold};
use crate::{metrics, Activation, Dataset, Error, Init, Matrix, MatrixRef, Mlp, Result, Target, Task};

/// A network with its data conventions.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The network.
    pub mlp: Mlp,
    /// Classification or regression.
    pub task: Task,
    /// Class labels in output order (empty for regression).
    pub classes: Vec<String>,
    /// Names of the input features, in order.
    pub feature_names: Vec<String>,
    /// Name of the target column.
    pub target_name: String,
    /// Feature standardization (training statistics; mean 0 and std 1 when it was off).
    pub input: Standardizer,
    /// Target standardization for regression (`mean`, `std`), when it was on.
    pub target_scale: Option<(f32, f32)>,
    /// The loss the network was trained with.
    pub loss: Loss,
    /// Binary classifiers: the probability of the second class (in [`Model::classes`] order)
    /// at or above which it is predicted; `None`: the class of highest probability (for a
    /// sigmoid output, the second class from 0.5). See [`Model::class_of`].
    pub threshold: Option<f32>,
}

/// How input features are standardized before they reach the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Each feature to mean 0 and standard deviation 1.
    Feature,
    /// All features with one shared mean and standard deviation (pixels).
    Global,
    /// Features as they are.
    None,
}

/// How to build and train a model from a data set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FitConfig {
    /// Width of each hidden layer.
    pub hidden: Vec<usize>,
    /// One activation for all hidden layers, or one per hidden layer.
    pub activations: Vec<Activation>,
    /// Output activation; `None` picks softmax for several classes, sigmoid for two,
    /// identity for regression.
    pub output: Option<Activation>,
    /// Loss; `None` picks the one that fits the output (cross-entropy for softmax, binary
    /// cross-entropy for sigmoid on classes, mean squared error otherwise).
    pub loss: Option<Loss>,
    /// Skip connections between hidden layers of equal width.
    pub residual: bool,
    /// Weight initialisation; `None` uses each activation's default.
    pub init: Option<Init>,
    /// How features are standardized (statistics of the training split); `None`: one shared
    /// scale for image pixels ([`Dataset::images`]), each feature its own otherwise.
    pub scaling: Option<Scaling>,
    /// Standardize regression targets internally (predictions are mapped back).
    pub scale_target: bool,
    /// Share of the training data held out for validation (0 for none); `None`: 0.1 when
    /// [`TrainConfig::patience`] asks for early stopping (it needs validation data), else 0.
    pub validation_fraction: Option<f32>,
    /// Optimizer, schedule, epochs, batch size, seed.
    pub train: TrainConfig,
    /// Class weights in training (classification); `None`: every class weighs 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<ClassWeight>,
    /// One weight per sample of the data given to [`fit`], multiplying its loss in training
    /// (with its class's weight); `None`: all 1. See [`crate::weights`]. Serialized as a
    /// digest (see [`weights::digest`]), so that a checkpoint tells when they change.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "serialize_digest")]
    pub sample_weights: Option<Vec<f32>>,
    /// The decision threshold of a binary classifier, stored in the model (see
    /// [`Model::threshold`]); `Auto` tunes it for F1 on the validation data (which it then
    /// holds out, 0.1 by default). `None`: the most probable class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Threshold>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            hidden: vec![100],
            activations: vec![Activation::Relu],
            output: None,
            loss: None,
            residual: false,
            init: None,
            scaling: None,
            scale_target: true,
            validation_fraction: None,
            train: TrainConfig::default(),
            class_weight: None,
            sample_weights: None,
            threshold: None,
        }
    }
}

/// The validation share that early stopping and a tuned threshold take when
/// [`FitConfig::validation_fraction`] is left to the default.
pub const PATIENCE_VALIDATION_FRACTION: f32 = 0.1;

impl FitConfig {
    /// This configuration with every default decided for the training data `data`: the
    /// epochs ([`crate::train::default_epochs`] of its samples), the feature scaling and the
    /// validation share. [`fit`] trains with it; a front end shows it as the settings used.
    pub fn resolved<'a>(&self, data: impl Into<DatasetRef<'a>>) -> FitConfig {
        let data = data.into();
        let mut config = self.clone();
        config.train.epochs = Some(self.train.epochs_for(data.len()));
        config.scaling = Some(
            self.scaling
                .unwrap_or(if data.images { Scaling::Global } else { Scaling::Feature }),
        );
        let needs_validation = self.train.patience.is_some() || self.threshold == Some(Threshold::Auto);
        config.validation_fraction = Some(self.validation_fraction.unwrap_or(if needs_validation {
            PATIENCE_VALIDATION_FRACTION
        } else {
            0.0
        }));
        config
    }
}

/// A trained model and how training went.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The model.
    pub model: Model,
    /// Per-epoch record.
    pub history: History,
    /// Samples used for the gradient steps (after holding out validation data).
    pub n_train: usize,
    /// Where the time of the call went: set-up and epochs.
    pub timings: Timings,
}

/// Wall-clock seconds of a [`fit_with`] call, set-up and epochs apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// From the call to the first epoch: holding out validation data, fitting the
    /// standardizer, preparing the inputs and targets, scoring the untrained network.
    pub setup_seconds: f64,
    /// The epochs this call ran, from the first one's start to the last one's end (validation,
    /// diagnostics and checkpoints after each included).
    pub train_seconds: f64,
    /// Epochs this call ran (a resumed run's earlier epochs are not among them).
    pub epochs: usize,
}

impl Fitted {
    /// Training samples per second of the epochs this call ran: epochs × [`Fitted::n_train`] ÷
    /// [`Timings::train_seconds`]; 0 when it ran none.
    pub fn samples_per_second(&self) -> f64 {
        let t = &self.timings;
        if t.epochs == 0 {
            return 0.0;
        }
        (t.epochs * self.n_train) as f64 / t.train_seconds.max(1e-9)
    }
}

/// Scores of a model on a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Scores {
    /// Mean loss (for regression, in standardized target units when targets were scaled).
    pub loss: f64,
    /// Share of correct predictions (classification).
    pub accuracy: Option<f64>,
    /// Coefficient of determination (regression).
    pub r2: Option<f64>,
    /// Root mean squared error in the target's units (regression).
    pub rmse: Option<f64>,
}

/// Picks the output activation and the number of outputs for a task with `classes` classes.
///
/// # Errors
/// Softmax for regression or for a single output, or a target with fewer than two classes.
pub fn output_layer(task: Task, classes: usize, output: Option<Activation>) -> Result<(Activation, usize)> {
    match task {
        Task::Regression => match output.unwrap_or(Activation::Identity) {
            Activation::Softmax => Err(Error::config(
                "softmax cannot be the output of a regression: it needs several outputs summing to 1",
            )),
            a => Ok((a, 1)),
        },
        Task::Classification => {
            if classes < 2 {
                return Err(Error::config(format!(
                    "the target has {classes} class; classification needs at least two"
                )));
            }
            let activation = output.unwrap_or(if classes == 2 {
                Activation::Sigmoid
            } else {
                Activation::Softmax
            });
            let outputs = if classes == 2 && activation != Activation::Softmax {
                1
            } else {
                classes
            };
            Ok((activation, outputs))
        }
    }
}

/// Builds a network for `data` and trains it. `data` is a [`Dataset`], or a [`DatasetRef`]
/// whose features someone else owns (a numpy array): they are read where they lie, and the
/// standardized copy training runs on is the only copy made.
///
/// # Errors
/// Configuration errors (see [`Mlp::new`], [`Loss::check`], [`train::train`]) and divergence.
pub fn fit<'a>(data: impl Into<DatasetRef<'a>>, config: &FitConfig) -> Result<Fitted> {
    fit_with(data, config, train::Continuation::default(), |_| {})
}

/// [`fit`] that shows each epoch's record to `on_epoch` (for progress), and continues an
/// interrupted run and saves its state as it goes, as `continuation` says (see
/// [`train::train_with`]; [`crate::checkpoint::fit`] does it with checkpoint files).
///
/// # Errors
/// As [`fit`], and a state to resume from that does not fit the network or the data.
pub fn fit_with<'a>(
    data: impl Into<DatasetRef<'a>>,
    config: &FitConfig,
    continuation: train::Continuation<'_>,
    on_epoch: impl FnMut(&train::EpochRecord),
) -> Result<Fitted> {
    let began = Instant::now();
    let data = data.into();
    let mut plan = plan(data, config)?;
    // The training part held out of `data` is standardized in place: one copy of the data in all.
    let (x, targets, labels) = match plan.held_out.take() {
        None => plan.model.prepare(data)?,
        Some(part) => plan.model.prepare_owned(part, false)?,
    };
    train_planned(plan, &x, targets, labels, continuation, on_epoch, began)
}

/// [`fit_with`] of data the caller gives up: its features are standardized in place, so that
/// no copy of them is made (when no validation data is held out; otherwise as [`fit_with`]),
/// and handed back with the model as [`Standardized`] data that the model scores without
/// standardizing them again ([`Model::evaluate`], [`Model::report`], [`Model::diagnose`]).
/// The model is the one [`fit_with`] trains, bit for bit.
///
/// # Errors
/// As [`fit_with`].
pub fn fit_owned_with(
    mut data: Dataset,
    config: &FitConfig,
    continuation: train::Continuation<'_>,
    on_epoch: impl FnMut(&train::EpochRecord),
) -> Result<(Fitted, Standardized)> {
    let began = Instant::now();
    let mut plan = plan(data.view(), config)?;
    if let Some(part) = plan.held_out.take() {
        let (x, targets, labels) = plan.model.prepare_owned(part, false)?;
        let fitted = train_planned(plan, &x, targets, labels, continuation, on_epoch, began)?;
        drop(x);
        data.x = fitted.model.standardized_in_place(data.x)?;
        return Ok((fitted, Standardized(data)));
    }
    let x = plan
        .model
        .standardized_in_place(std::mem::replace(&mut data.x, Matrix::zeros(0, 0)))?;
    let (x, targets, labels) = plan.model.prepare_inputs(data.view(), x)?;
    let fitted = train_planned(plan, &x, targets, labels, continuation, on_epoch, began)?;
    data.x = x;
    Ok((fitted, Standardized(data)))
}

/// Training data that [`fit_owned_with`] standardized in place with its model's statistics:
/// that model scores it without standardizing it again (it converts into [`Samples`]). Give
/// it to no other model.
#[derive(Debug)]
pub struct Standardized(Dataset);

impl Standardized {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.0.n_features()
    }
}

/// Labelled samples for a model to score: a data set as read (its features are standardized
/// row by row as the network takes them), or the [`Standardized`] training data of
/// [`fit_owned_with`].
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    data: DatasetRef<'a>,
    /// Whether `data.x` is standardized with the model's statistics already.
    standardized: bool,
}

impl<'a> From<&'a Dataset> for Samples<'a> {
    fn from(data: &'a Dataset) -> Self {
        Samples {
            data: data.view(),
            standardized: false,
        }
    }
}

impl<'a> From<DatasetRef<'a>> for Samples<'a> {
    fn from(data: DatasetRef<'a>) -> Self {
        Samples {
            data,
            standardized: false,
        }
    }
}

impl<'a> From<&'a Standardized> for Samples<'a> {
    fn from(data: &'a Standardized) -> Self {
        Samples {
            data: data.0.view(),
            standardized: true,
        }
    }
}

/// A training run decided before its data is prepared: the untrained model with its
/// statistics, and the parts the data was split into.
struct Plan {
    config: FitConfig,
    model: Model,
    /// The training part, when validation data is held out.
    held_out: Option<Dataset>,
    validation: Option<Dataset>,
    /// The rows of the data that the training part holds.
    fit_rows: Vec<usize>,
}

/// The error for a feature `raw` at (`row`, `column`) that is NaN or infinite.
fn not_finite_feature(names: &[String], row: usize, column: usize, raw: f32) -> Error {
    Error::config(format!(
        "row {} of the data: feature '{}' is {raw}; every feature must be a finite number",
        row + 1,
        names.get(column).map_or("?", String::as_str)
    ))
}

/// Checks the settings against `data`, holds out validation data, builds the network and
/// fits the standardization.
fn plan(data: DatasetRef<'_>, config: &FitConfig) -> Result<Plan> {
    let config = config.resolved(data);
    let validation_fraction = config.validation_fraction.unwrap_or(0.0);
    let task = data
        .task()
        .ok_or_else(|| Error::config("the training data has no target column"))?;
    let classes = match data.target {
        Target::Classes { classes, .. } => classes.clone(),
        _ => Vec::new(),
    };
    let (output, outputs) = output_layer(task, classes.len(), config.output)?;
    let loss = config.loss.unwrap_or(match task {
        Task::Classification => Loss::for_output(output),
        Task::Regression => Loss::Mse,
    });
    loss.check(output)?;
    if !(0.0..1.0).contains(&validation_fraction) {
        return Err(Error::config("the validation fraction must be in [0, 1)"));
    }
    if config.threshold.is_some() && classes.len() != 2 {
        return Err(Error::Setting {
            field: "threshold",
            message: format!(
                "applies to two classes; the target '{}' has {}",
                data.target_name,
                if task == Task::Classification {
                    format!("{} classes", classes.len())
                } else {
                    "numbers".into()
                }
            ),
        });
    }
    if config.threshold == Some(Threshold::Auto) && validation_fraction == 0.0 {
        return Err(Error::Setting {
            field: "threshold",
            message: "auto tunes it on validation data, but the validation fraction is 0".into(),
        });
    }
    if config.class_weight.is_some() && task != Task::Classification {
        return Err(Error::Setting {
            field: "class_weight",
            message: format!("needs classes; the target '{}' is numbers", data.target_name),
        });
    }
    if let Some(w) = &config.sample_weights {
        if w.len() != data.len() {
            return Err(Error::config(format!(
                "{} sample weights for {} samples",
                w.len(),
                data.len()
            )));
        }
    }
    let (held_out, validation, fit_rows) = if validation_fraction > 0.0 {
        let (t_rows, v_rows) =
            stratified_indices(data.target, data.len(), validation_fraction, config.train.seed ^ 0x5eed);
        let (t, v) = (data.subset(&t_rows), data.subset(&v_rows));
        if v.is_empty() || t.is_empty() {
            return Err(Error::config(format!(
                "a validation fraction of {} leaves {} of {} samples for validation and {} for training; each needs at least one",
                validation_fraction,
                v.len(),
                data.len(),
                t.len()
            )));
        }
        (Some(t), Some(v), t_rows)
    } else {
        (None, None, (0..data.len()).collect())
    };

    let fit_part = held_out.as_ref().map_or(data, Dataset::view);
    check_training_memory(&config, data.n_features(), outputs, data.len())?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.train.seed);
    let mlp = Mlp::new(
        &MlpConfig {
            inputs: data.n_features(),
            hidden: config.hidden.clone(),
            activations: config.activations.clone(),
            outputs,
            output,
            residual: config.residual,
            init: config.init,
        },
        &mut rng,
    )?;
    let scaling = config.scaling.unwrap_or(Scaling::Feature);
    let input = match scaling {
        Scaling::Feature => Standardizer::fit(fit_part.x),
        Scaling::Global => Standardizer::fit_global(fit_part.x),
        Scaling::None => Standardizer {
            mean: vec![0.0; data.n_features()],
            std: vec![1.0; data.n_features()],
        },
    };
    // Every feature must be finite. Statistics are finite exactly when the values they sum
    // are (sums of f32 in f64 cannot overflow), so the data are searched for the first value
    // that is not (to name its row in `data`) only when they are not, or when they do not
    // cover every row: the search is one more pass over the data.
    if held_out.is_some() || scaling == Scaling::None || !input.is_finite() {
        if let Some((row, column)) = data.x.first_non_finite() {
            return Err(not_finite_feature(
                data.feature_names,
                row,
                column,
                data.x.row(row)[column],
            ));
        }
    }
    let target_scale = match (fit_part.target, config.scale_target) {
        (Target::Values(v), true) => Some(mean_std(v)),
        _ => None,
    };
    let model = Model {
        mlp,
        task,
        classes,
        feature_names: data.feature_names.to_vec(),
        target_name: data.target_name.to_string(),
        input,
        target_scale,
        loss,
        threshold: None,
    };
    Ok(Plan {
        config,
        model,
        held_out,
        validation,
        fit_rows,
    })
}

/// Trains the model on the training part prepared as `x`, `targets` and `labels` (see
/// [`Model::prepare`]); `began`: when the call began, for [`Timings`].
fn train_planned(
    plan: Plan,
    x: &Matrix,
    targets: Matrix,
    labels: Option<Vec<u32>>,
    continuation: train::Continuation<'_>,
    mut on_epoch: impl FnMut(&train::EpochRecord),
    began: Instant,
) -> Result<Fitted> {
    let Plan {
        config,
        mut model,
        validation,
        fit_rows,
        ..
    } = plan;
    let n_train = x.rows();
    let sample_weights = training_weights(&config, &model.classes, labels.as_deref(), &fit_rows)?;
    let prepared_validation = validation.as_ref().map(|v| model.prepare(v)).transpose()?;
    let mut epochs = 0;
    let (history, epochs_began) = train::train_timed(
        &mut model.mlp,
        model.loss,
        Batchable {
            x,
            targets: &targets,
            labels: labels.as_deref(),
            weights: sample_weights.as_deref(),
        },
        prepared_validation.as_ref().map(|(x, t, l)| Batchable {
            x,
            targets: t,
            labels: l.as_deref(),
            weights: None,
        }),
        &config.train,
        continuation,
        |record| {
            epochs += 1;
            on_epoch(record);
        },
    )?;
    let timings = Timings {
        setup_seconds: (epochs_began - began).as_secs_f64(),
        train_seconds: epochs_began.elapsed().as_secs_f64(),
        epochs,
    };
    model.threshold = match config.threshold {
        None => None,
        Some(Threshold::Value(t)) => Some(t),
        Some(Threshold::Auto) => {
            let v = validation
                .as_ref()
                .expect("resolved() holds out validation data for it");
            let p = model.predict(v)?;
            let scores: Vec<f32> = p.iter_rows().map(|row| row[1]).collect();
            let positive: Vec<bool> = model.labels(v)?.iter().map(|&l| l == 1).collect();
            Some(weights::best_threshold(&scores, &positive))
        }
    };
    Ok(Fitted {
        model,
        history,
        n_train,
        timings,
    })
}

/// Refuses a training run whose parameters, gradients, optimizer state, best weights, batch
/// buffers and prepared copy of the data would exceed the memory limit, before any of it is
/// allocated.
fn check_training_memory(config: &FitConfig, inputs: usize, outputs: usize, samples: usize) -> Result<()> {
    let widths: Vec<usize> = config.hidden.iter().copied().chain([outputs]).collect();
    let (mut params, mut fan_in) = (0u64, inputs as u64);
    for &w in &widths {
        params = params.saturating_add(fan_in.saturating_add(3).saturating_mul(w as u64));
        fan_in = w as u64;
    }
    let optimizer_slots = match config.train.optimizer.kind {
        OptimizerKind::Sgd => 0,
        OptimizerKind::Momentum | OptimizerKind::Nesterov | OptimizerKind::RmsProp => 1,
        OptimizerKind::Adam | OptimizerKind::AdamW => 2,
    };
    // parameters, gradients, the optimizer's slots and the best weights kept for early stopping;
    // the buffers of a training batch or of a chunk of evaluated rows, whichever is larger
    let state = params.saturating_mul(3 + optimizer_slots);
    let batch = config.train.batch_size.min(samples).max(1) as u64;
    let buffers = widths
        .iter()
        .map(|&w| (w as u64).saturating_mul(5))
        .fold(0u64, u64::saturating_add)
        .saturating_mul(batch.max(samples.min(1024) as u64));
    let data = (samples as u64).saturating_mul((inputs + outputs) as u64);
    let bytes = state.saturating_add(buffers).saturating_add(data).saturating_mul(4);
    let shape: Vec<String> = std::iter::once(inputs).chain(widths).map(|w| w.to_string()).collect();
    crate::memory::check(
        &format!(
            "training a {} network ({params} parameters) on {samples} samples",
            shape.join("-")
        ),
        bytes,
    )
}

fn serialize_digest<S: serde::Serializer>(weights: &Option<Vec<f32>>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&weights::digest(weights.as_deref().unwrap_or_default()))
}

/// Each training sample's weight: its class's weight times its own sample weight (`fit_rows`:
/// the rows of the data that the training part holds); `None` when neither is set.
fn training_weights(
    config: &FitConfig,
    classes: &[String],
    labels: Option<&[u32]>,
    fit_rows: &[usize],
) -> Result<Option<Vec<f32>>> {
    let per_class = match (&config.class_weight, labels) {
        (Some(spec), Some(labels)) => Some((weights::class_weights(spec, classes, labels)?, labels)),
        _ => None,
    };
    let weights: Vec<f32> = match (&config.sample_weights, &per_class) {
        (None, None) => return Ok(None),
        (sample, _) => (0..fit_rows.len())
            .map(|i| {
                let s = sample.as_ref().map_or(1.0, |w| w[fit_rows[i]]);
                per_class.as_ref().map_or(s, |(c, labels)| s * c[labels[i] as usize])
            })
            .collect(),
    };
    if weights.iter().all(|&w| w == 0.0) {
        return Err(Error::config(
            "every training sample weighs 0 (sample and class weights multiplied): nothing to train on",
        ));
    }
    Ok(Some(weights))
}

fn mean_std(v: &[f32]) -> (f32, f32) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let std = if var > 1e-24 { var.sqrt() } else { 1.0 };
    (mean as f32, std as f32)
}

impl Model {
    /// Standardized inputs of `data`.
    ///
    /// # Errors
    /// When the data's feature count differs from the model's, or a feature is beyond f32 once
    /// standardized.
    pub fn inputs<'a>(&self, data: impl Into<DatasetRef<'a>>) -> Result<Matrix> {
        let data = data.into();
        self.check_features(data.n_features())?;
        self.standardized(data.x)
    }

    /// Refuses data with other than the model's number of features.
    fn check_features(&self, features: usize) -> Result<()> {
        if features != self.mlp.inputs() {
            return Err(Error::config(format!(
                "the data has {} feature columns but the model was trained on {} ({})",
                features,
                self.mlp.inputs(),
                preview(&self.feature_names)
            )));
        }
        Ok(())
    }

    /// `raw` (one row per sample, the model's features in order) standardized with the
    /// training statistics, every value checked finite.
    fn standardized(&self, raw: MatrixRef<'_>) -> Result<Matrix> {
        self.input
            .standardized(raw)
            .map_err(|(row, column)| self.beyond_f32(row, column, raw.row(row)[column]))
    }

    /// [`Model::standardized`] in place, for data the caller owns.
    fn standardized_in_place(&self, mut x: Matrix) -> Result<Matrix> {
        self.check_features(x.cols())?;
        self.input
            .apply_checked(&mut x)
            .map_err(|(row, column, raw)| self.beyond_f32(row, column, raw))?;
        Ok(x)
    }

    /// The error for a feature `raw` at (`row`, `column`) that is not finite once standardized
    /// (or before).
    fn beyond_f32(&self, row: usize, column: usize, raw: f32) -> Error {
        if !raw.is_finite() {
            return not_finite_feature(&self.feature_names, row, column, raw);
        }
        Error::config(format!(
            "row {} of the data: feature '{}' = {} is beyond f32 once standardized with the model's mean {} and std {}",
            row + 1,
            self.feature_names.get(column).map_or("?", String::as_str),
            short_number(raw),
            short_number(self.input.mean[column]),
            short_number(self.input.std[column])
        ))
    }

    /// The columns a data file must provide for this model: its features by name, and its
    /// target (by name, only read when `task` is given), for [`crate::data::read_csv_columns`].
    ///
    /// ```no_run
    /// # let model = actlab::model_io::load(std::path::Path::new("iris.safetensors")).unwrap();
    /// let rows = actlab::data::read_csv_columns(std::path::Path::new("new.csv"), &model.columns(None)).unwrap();
    /// let labels = model.predict_labels(&rows.data).unwrap();
    /// ```
    pub fn columns(&self, task: Option<Task>) -> Columns<'_> {
        Columns {
            features: &self.feature_names,
            target: &self.target_name,
            task,
            header: true,
        }
    }

    /// One sample's features in the model's order, from `(name, value)` pairs in any order.
    ///
    /// # Errors
    /// Naming a feature of the model that is missing, a name given twice, or a name that is
    /// not one of the model's features.
    pub fn features_by_name<'a>(&self, named: impl IntoIterator<Item = (&'a str, f32)>) -> Result<Vec<f32>> {
        let mut features = vec![None; self.feature_names.len()];
        for (name, value) in named {
            let Some(i) = self.feature_names.iter().position(|n| n == name) else {
                return Err(Error::config(format!(
                    "'{name}' is not one of the model's features ({})",
                    preview(&self.feature_names)
                )));
            };
            if features[i].replace(value).is_some() {
                return Err(Error::config(format!("feature '{name}' is given twice")));
            }
        }
        let missing: Vec<&str> = self
            .feature_names
            .iter()
            .zip(&features)
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::config(format!(
                "{} of the model's features {} missing: {}",
                missing.len(),
                if missing.len() == 1 { "is" } else { "are" },
                missing.join(", ")
            )));
        }
        Ok(features.into_iter().flatten().collect())
    }

    /// The model's answer for one sample, `features` in [`Model::feature_names`] order (see
    /// [`Model::features_by_name`]): [`Model::predict`] of a one-row data set, and of the same
    /// row in any batch, bit for bit. To predict many single samples fast, make a
    /// [`Predictor`] once.
    ///
    /// # Errors
    /// A wrong number of features, a feature beyond f32 once standardized, or a prediction
    /// that is not finite.
    pub fn predict_one(&self, features: &[f32]) -> Result<Prediction> {
        self.check_sample(features)?;
        let out = self.predict_rows(MatrixRef::new(1, features.len(), features))?;
        Ok(Prediction::new(self, out.row(0)))
    }

    /// Refuses a sample with the wrong number of features.
    pub(crate) fn check_sample(&self, features: &[f32]) -> Result<()> {
        if features.len() == self.mlp.inputs() {
            return Ok(());
        }
        Err(Error::config(format!(
            "the sample has {} features but the model takes {} ({})",
            features.len(),
            self.mlp.inputs(),
            preview(&self.feature_names)
        )))
    }

    /// A [`Predictor`]: this model laid out for predicting one sample at a time.
    pub fn predictor(&self) -> Predictor {
        Predictor::new(self)
    }

    /// `data` with its feature columns in the model's order, matched by name, and the names
    /// of the columns the model does not use (in the data's order).
    ///
    /// # Errors
    /// Naming every feature of the model that `data` lacks.
    pub fn select_features(&self, data: &Dataset) -> Result<(Dataset, Vec<String>)> {
        if data.feature_names == self.feature_names {
            return Ok((data.clone(), Vec::new()));
        }
        let position: std::collections::HashMap<&str, usize> = data
            .feature_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let missing: Vec<&str> = self
            .feature_names
            .iter()
            .filter(|n| !position.contains_key(n.as_str()))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::config(format!(
                "the data lacks {} of the model's feature columns: {}",
                missing.len(),
                missing.join(", ")
            )));
        }
        let columns: Vec<usize> = self.feature_names.iter().map(|n| position[n.as_str()]).collect();
        let mut x = Vec::with_capacity(data.len() * columns.len());
        for row in data.x.iter_rows() {
            x.extend(columns.iter().map(|&c| row[c]));
        }
        let unused = data
            .feature_names
            .iter()
            .filter(|n| !self.feature_names.contains(n))
            .cloned()
            .collect();
        let selected = Dataset {
            x: Matrix::from_vec(data.len(), columns.len(), x),
            feature_names: self.feature_names.clone(),
            target_name: data.target_name.clone(),
            target: data.target.clone(),
            images: data.images,
        };
        Ok((selected, unused))
    }

    /// Class index of each sample in the model's class order.
    ///
    /// # Errors
    /// A label the model does not know, or a target that is not classes.
    pub fn labels<'a>(&self, data: impl Into<DatasetRef<'a>>) -> Result<Vec<u32>> {
        let data = data.into();
        match data.target {
            Target::Classes { labels, classes } => {
                let map: Vec<u32> = classes
                    .iter()
                    .map(|c| {
                        self.classes
                            .iter()
                            .position(|m| same_label(m, c))
                            .map(|i| i as u32)
                            .ok_or_else(|| {
                                Error::config(format!(
                                    "class '{c}' of the data is not one of the model's classes ({})",
                                    preview(&self.classes)
                                ))
                            })
                    })
                    .collect::<Result<_>>()?;
                Ok(labels.iter().map(|&l| map[l as usize]).collect())
            }
            _ => Err(Error::config(format!(
                "the model classifies, but the data's target '{}' is not classes",
                data.target_name
            ))),
        }
    }

    /// Diagnostics of the network on `data` (at most `max_samples` rows).
    ///
    /// # Errors
    /// Feature count or target kind that does not fit the model.
    pub fn diagnose<'a>(&self, data: impl Into<Samples<'a>>, max_samples: usize) -> Result<Diagnostics> {
        let Samples { data, standardized } = data.into();
        // Only the rows that diagnostics looks at (see [`diagnostics::diagnose`]) are prepared.
        let n = data.len().min(max_samples.max(1));
        let rows: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
        let (x, targets, _) = self.prepare_owned(data.subset(&rows), standardized)?;
        Ok(diagnostics::diagnose(&self.mlp, &x, &targets, self.loss, max_samples))
    }

    /// Inputs, dense targets (one-hot rows for classes) and, for classification, labels, as
    /// the network sees them.
    ///
    /// # Errors
    /// Feature count or target kind that does not fit the model.
    pub fn prepare<'a>(&self, data: impl Into<DatasetRef<'a>>) -> Result<(Matrix, Matrix, Option<Vec<u32>>)> {
        let data = data.into();
        self.prepare_inputs(data, self.inputs(data)?)
    }

    /// [`Model::prepare`] of data the caller no longer needs: its features are standardized
    /// in place rather than copied (unless `standardized` says they are already).
    fn prepare_owned(&self, mut data: Dataset, standardized: bool) -> Result<(Matrix, Matrix, Option<Vec<u32>>)> {
        let x = std::mem::replace(&mut data.x, Matrix::zeros(0, 0));
        let x = if standardized {
            self.check_features(x.cols())?;
            x
        } else {
            self.standardized_in_place(x)?
        };
        self.prepare_inputs(data.view(), x)
    }

    /// [`Model::prepare`] with the inputs `x` of `data` already standardized.
    fn prepare_inputs(&self, data: DatasetRef<'_>, x: Matrix) -> Result<(Matrix, Matrix, Option<Vec<u32>>)> {
        let outputs = self.mlp.outputs();
        match self.task {
            Task::Classification => {
                let labels = self.labels(data)?;
                let mut t = Matrix::zeros(labels.len(), outputs);
                for (row, &l) in labels.iter().enumerate() {
                    if outputs == 1 {
                        t.row_mut(row)[0] = l as f32;
                    } else {
                        t.row_mut(row)[l as usize] = 1.0;
                    }
                }
                Ok((x, t, Some(labels)))
            }
            Task::Regression => {
                let values = self.target_values(data)?;
                let (mean, std) = self.target_scale.unwrap_or((0.0, 1.0));
                let t = values.iter().map(|&v| (v - mean) / std).collect();
                Ok((x, Matrix::from_vec(values.len(), 1, t), None))
            }
        }
    }

    /// Predictions for every sample: class probabilities (one column per class, in
    /// [`Model::classes`] order) or target values in the target's units.
    ///
    /// # Errors
    /// When the data's feature count differs from the model's.
    pub fn predict(&self, data: &Dataset) -> Result<Matrix> {
        self.predict_rows(data.x.view())
    }

    /// [`Model::predict`] of borrowed rows of features (the model's features in order, one row
    /// per sample), read where they lie: each row is standardized into a buffer of its own as
    /// the network takes it, so the features are never copied whole. A row's predictions are
    /// the same bits whatever the other rows, its place among them and the number of threads
    /// (see [`crate::inference::Predictor`]), and the same as [`Model::predict_one`]'s.
    ///
    /// # Errors
    /// As [`Model::predict`]; a feature beyond f32 once standardized, or a prediction that is
    /// not finite, naming the row.
    pub fn predict_rows(&self, x: MatrixRef<'_>) -> Result<Matrix> {
        self.predict_rows_with(&crate::inference::Predictor::new(&self.mlp), x)
    }

    /// [`Model::predict_rows`] with the network already laid out for prediction.
    pub(crate) fn predict_rows_with(&self, network: &crate::inference::Predictor, x: MatrixRef<'_>) -> Result<Matrix> {
        self.predict_inputs(network, x, false)
    }

    /// [`Model::predict_rows_with`] of rows that are `standardized` already or not.
    fn predict_inputs(
        &self,
        network: &crate::inference::Predictor,
        x: MatrixRef<'_>,
        standardized: bool,
    ) -> Result<Matrix> {
        let outputs = self.mlp.outputs();
        crate::memory::check(
            &format!("predicting {} rows", x.rows()),
            crate::memory::bytes([x.rows(), outputs.max(2)], 4),
        )?;
        self.check_features(x.cols())?;
        let mut out = vec![0.0; x.rows() * outputs];
        network
            .predict_rows(&mut out, |row, input| {
                self.network_input(x.row(row), standardized, input).map_or(Ok(()), Err)
            })
            .map_err(|(row, column)| match column {
                Some(column) => self.beyond_f32(row, column, x.row(row)[column]),
                None => {
                    let mut input = vec![0.0; x.cols()];
                    self.network_input(x.row(row), standardized, &mut input);
                    self.mlp.non_finite(&input, row)
                }
            })?;
        self.in_data_terms(Matrix::from_vec(x.rows(), outputs, out))
    }

    /// `input ←` the features `raw` of one sample as the network takes them: standardized,
    /// unless they are `standardized` already; the column of the first that is not finite.
    fn network_input(&self, raw: &[f32], standardized: bool, input: &mut [f32]) -> Option<usize> {
        if standardized {
            input.copy_from_slice(raw);
            return None;
        }
        self.input.row(raw, input)
    }

    /// [`Model::predict`] of samples.
    fn predict_samples(&self, samples: Samples<'_>) -> Result<Matrix> {
        let network = crate::inference::Predictor::new(&self.mlp);
        self.predict_inputs(&network, samples.data.x, samples.standardized)
    }

    /// The predicted class label of every sample.
    ///
    /// # Errors
    /// As [`Model::predict`], and a model that predicts numbers rather than classes.
    pub fn predict_labels(&self, data: &Dataset) -> Result<Vec<String>> {
        if self.task != Task::Classification {
            return Err(Error::config(format!(
                "the model predicts numbers ('{}'), not class labels",
                self.target_name
            )));
        }
        let probabilities = self.predict(data)?;
        Ok(probabilities
            .iter_rows()
            .map(|row| self.classes[self.class_of(row)].clone())
            .collect())
    }

    /// The class (index into [`Model::classes`]) that a row of class probabilities, as
    /// [`Model::predict`] gives them, predicts: with a [`Model::threshold`], the second of two
    /// classes when its probability is at or above it; otherwise [`metrics::predicted_class`].
    pub fn class_of(&self, probabilities: &[f32]) -> usize {
        match (self.threshold, probabilities) {
            (Some(t), [_, p]) => usize::from(*p >= t),
            _ => metrics::predicted_class(probabilities),
        }
    }

    /// The full report of the model's predictions on a labelled data set: for classes,
    /// per-class precision, recall, F1 and support, macro and weighted F1, balanced accuracy,
    /// the confusion matrix, log loss and (two classes) ROC AUC; for numbers, MAE, RMSE and R²
    /// in the target's units. See [`metrics`].
    ///
    /// # Errors
    /// No samples, or features or a target that do not fit the model.
    pub fn report<'a>(&self, data: impl Into<Samples<'a>>) -> Result<metrics::Report> {
        let samples = data.into();
        let data = samples.data;
        if data.is_empty() {
            return Err(Error::config("no samples to score"));
        }
        let predicted = self.predict_samples(samples)?;
        match self.task {
            Task::Classification => {
                let labels = self.labels(data)?;
                let classes: Vec<u32> = predicted.iter_rows().map(|row| self.class_of(row) as u32).collect();
                Ok(metrics::Report::Classification(metrics::classification_report(
                    &self.classes,
                    &labels,
                    &classes,
                    Some(predicted.as_slice()),
                )))
            }
            Task::Regression => {
                let values = self.target_values(data)?;
                Ok(metrics::Report::Regression(metrics::regression_report(
                    predicted.as_slice(),
                    values,
                )))
            }
        }
    }

    /// The network's outputs `out` in the data's terms: two class probabilities for a single
    /// sigmoid output, values in the target's units for a scaled regression target.
    pub(crate) fn in_data_terms(&self, out: Matrix) -> Result<Matrix> {
        Ok(match (self.task, self.target_scale) {
            // A single sigmoid output is P(class 1); spell out both classes.
            (Task::Classification, _) if out.cols() == 1 => Matrix::from_vec(
                out.rows(),
                2,
                out.as_slice().iter().flat_map(|&p| [1.0 - p, p]).collect(),
            ),
            (Task::Regression, Some((mean, std))) => {
                // Finite outputs can still overflow f32 once in the target's units.
                let values: Vec<f32> = out.as_slice().iter().map(|&y| y * std + mean).collect();
                if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::config(format!(
                        "the prediction for row {} of the data is not finite: the output {} in the target's units \
                         ({} × {std:e} + {mean:e}) overflows f32",
                        row + 1,
                        out.as_slice()[row],
                        out.as_slice()[row]
                    )));
                }
                Matrix::from_vec(out.rows(), 1, values)
            }
            _ => out,
        })
    }

    /// Loss and scores on a labelled data set: a [`Dataset`], or the [`Standardized`] training
    /// data of [`fit_owned_with`]. The loss and accuracy are [`train::evaluate`]'s, bit for bit,
    /// but each chunk of rows is standardized into a buffer of its own as the network takes
    /// it (the features are not copied whole) and the chunks run in parallel.
    ///
    /// # Errors
    /// Feature count or target kind that does not fit the model.
    pub fn evaluate<'a>(&self, data: impl Into<Samples<'a>>) -> Result<Scores> {
        let samples = data.into();
        let data = samples.data;
        if data.is_empty() {
            return Err(Error::config("no samples to score"));
        }
        self.check_features(data.n_features())?;
        let targets = match self.task {
            Task::Classification => self.labels(data).map(Targets::Labels),
            Task::Regression => self.target_values(data).map(Targets::Values),
        };
        // A feature beyond f32 once standardized is named before a target that does not fit,
        // as [`Model::prepare`] does.
        let targets = targets.or_else(|e| self.loss_sum(samples, None).and(Err(e)))?;
        let (sum, correct) = self.loss_sum(samples, Some(&targets))?;
        let n = data.len() as f64;
        let loss = sum / n;
        if !loss.is_finite() {
            // Either an output is not finite (the error names where it stopped being so) or
            // the loss of finite outputs overflowed.
            self.predict_samples(samples)?;
            return Err(Error::config(format!(
                "the {} loss of the model's predictions is {} (the outputs are finite but too far from the targets to score in f64)",
                self.loss, loss
            )));
        }
        Ok(match targets {
            Targets::Labels(_) => Scores {
                loss,
                // The network's own rule unless a threshold decides.
                accuracy: match self.threshold {
                    None => Some(correct as f64 / n),
                    Some(_) => match self.report(samples)? {
                        metrics::Report::Classification(r) => Some(r.accuracy),
                        metrics::Report::Regression(_) => unreachable!("a classifier reports classes"),
                    },
                },
                r2: None,
                rmse: None,
            },
            Targets::Values(values) => {
                let predicted = self.predict_samples(samples)?;
                Scores {
                    loss,
                    accuracy: None,
                    r2: metrics::r2(predicted.as_slice(), values),
                    rmse: Some(metrics::rmse(predicted.as_slice(), values)),
                }
            }
        })
    }

    /// The sum of the loss over the samples and the number of them whose class the network's
    /// own rule predicts right, as [`train::evaluate`] sums them: chunks of
    /// [`EVALUATION_CHUNK`] rows, each chunk's mean loss times its rows added in row order, so
    /// the chunks may run in parallel. `targets: None` only checks the inputs.
    ///
    /// # Errors
    /// The first feature in row order that is beyond f32 once standardized.
    fn loss_sum(&self, samples: Samples<'_>, targets: Option<&Targets<'_>>) -> Result<(f64, usize)> {
        use rayon::prelude::*;
        let x = samples.data.x;
        let (inputs, outputs, n) = (x.cols(), self.mlp.outputs(), x.rows());
        let output = self.mlp.layers().last().expect("a network has layers").activation;
        let (mean, std) = self.target_scale.unwrap_or((0.0, 1.0));
        let chunks: Vec<std::result::Result<(f64, usize), (usize, usize)>> = (0..n.div_ceil(EVALUATION_CHUNK))
            .into_par_iter()
            .map_init(
                || (Workspace::default(), Vec::new(), Vec::new()),
                |(ws, standardized, dense), c| {
                    let rows = c * EVALUATION_CHUNK..((c + 1) * EVALUATION_CHUNK).min(n);
                    let count = rows.len();
                    let raw = &x.as_slice()[rows.start * inputs..rows.end * inputs];
                    let chunk = if samples.standardized {
                        raw
                    } else {
                        standardized.resize(raw.len(), 0.0);
                        for (r, (raw, input)) in raw
                            .chunks_exact(inputs)
                            .zip(standardized.chunks_exact_mut(inputs))
                            .enumerate()
                        {
                            if let Some(column) = self.input.row(raw, input) {
                                return Err((rows.start + r, column));
                            }
                        }
                        &standardized[..]
                    };
                    let Some(targets) = targets else {
                        return Ok((0.0, 0));
                    };
                    // The targets as [`Model::prepare`] makes them.
                    dense.clear();
                    dense.resize(count * outputs, 0.0);
                    match targets {
                        Targets::Labels(labels) => {
                            for (t, &l) in dense.chunks_exact_mut(outputs).zip(&labels[rows.clone()]) {
                                if outputs == 1 {
                                    t[0] = l as f32;
                                } else {
                                    t[l as usize] = 1.0;
                                }
                            }
                        }
                        Targets::Values(values) => {
                            for (t, &v) in dense.iter_mut().zip(&values[rows.clone()]) {
                                *t = (v - mean) / std;
                            }
                        }
                    }
                    self.mlp.forward(chunk, count, ws);
                    let loss = self.loss.loss(output, ws.logits(), ws.output(), dense, outputs) * count as f64;
                    let correct = match targets {
                        Targets::Labels(labels) => ws
                            .output()
                            .chunks_exact(outputs)
                            .zip(&labels[rows])
                            .filter(|(row, &l)| metrics::predicted_class(row) == l as usize)
                            .count(),
                        Targets::Values(_) => 0,
                    };
                    Ok((loss, correct))
                },
            )
            .collect();
        let (mut sum, mut correct) = (0.0, 0);
        for chunk in chunks {
            let (loss, right) = chunk.map_err(|(row, column)| self.beyond_f32(row, column, x.row(row)[column]))?;
            sum += loss;
            correct += right;
        }
        Ok((sum, correct))
    }

    /// The target values of `data`, for a model that predicts numbers.
    ///
    /// # Errors
    /// A target that is not numbers.
    fn target_values<'a>(&self, data: DatasetRef<'a>) -> Result<&'a [f32]> {
        match data.target {
            Target::Values(values) => match values.iter().position(|v| !v.is_finite()) {
                // Training on it would only end in a divergence, and a score in NaN.
                Some(row) => Err(Error::config(format!(
                    "row {} of the data: the target '{}' is {}; every target value must be finite",
                    row + 1,
                    data.target_name,
                    values[row]
                ))),
                None => Ok(values),
            },
            _ => Err(Error::config(format!(
                "the model predicts numbers, but the data's target '{}' is not numeric",
                data.target_name
            ))),
        }
    }
}

/// Rows per chunk of [`Model::evaluate`]: [`train::evaluate`]'s, whose sums it repeats.
const EVALUATION_CHUNK: usize = 1024;

/// The targets [`Model::evaluate`] scores against: class indices in the model's order, or
/// values in the target's units.
enum Targets<'a> {
    Labels(Vec<u32>),
    Values(&'a [f32]),
}

/// Whether two class labels name the same class: equal text, or the same number (a model
/// saved with the label `1.0` scores data whose label reads `1`).
fn same_label(a: &str, b: &str) -> bool {
    a == b
        || match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
}

fn preview(names: &[String]) -> String {
    match names.len() {
        0..=6 => names.join(", "),
        n => format!("{}, … {} in all", names[..5].join(", "), n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{builtin, SyntheticOptions};

    /// The 1,797 digits (two chunks of [`EVALUATION_CHUNK`] rows), and a regression on their
    /// pixels.
    fn digits() -> (Dataset, Dataset) {
        let options = SyntheticOptions {
            samples: None,
            noise: None,
            seed: 0,
        };
        let classes = builtin("digits", &options).unwrap().train;
        let values = classes
            .x
            .iter_rows()
            .map(|row| row[20] * 3.0 - row[43] + 100.0)
            .collect();
        let numbers = Dataset {
            target: Target::Values(values),
            target_name: "y".into(),
            ..classes.clone()
        };
        (classes, numbers)
    }

    fn config(validation: f32, threshold: Option<Threshold>) -> FitConfig {
        FitConfig {
            hidden: vec![16],
            validation_fraction: Some(validation),
            threshold,
            train: TrainConfig {
                epochs: Some(2),
                batch_size: 64,
                ..TrainConfig::default()
            },
            ..FitConfig::default()
        }
    }

    /// Runs `f` on a pool of 1 and of 3 threads.
    fn on_pools<T: Send>(f: impl Fn() -> T + Sync) -> [T; 2] {
        [1, 3].map(|t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(&f)
        })
    }

    #[test]
    fn evaluation_in_chunks_sums_like_train_evaluate() {
        let (classes, numbers) = digits();
        for data in [&classes, &numbers] {
            let model = fit(data, &config(0.0, None)).unwrap().model;
            let (x, targets, labels) = model.prepare(data).unwrap();
            let whole = train::evaluate(
                &model.mlp,
                Batchable {
                    x: &x,
                    targets: &targets,
                    labels: labels.as_deref(),
                    weights: None,
                },
                model.loss,
            );
            for scores in on_pools(|| model.evaluate(data).unwrap()) {
                assert_eq!(scores.loss.to_bits(), whole.loss.to_bits());
                if labels.is_some() {
                    assert_eq!(scores.accuracy, whole.score);
                } else {
                    let predicted = model.predict(data).unwrap();
                    let Target::Values(values) = &data.target else {
                        unreachable!()
                    };
                    assert_eq!(scores.r2, metrics::r2(predicted.as_slice(), values));
                    assert!(scores.r2.unwrap() > 0.1, "{scores:?}");
                }
            }
        }
    }

    #[test]
    fn owned_data_trains_the_same_model_and_scores_the_same_standardized_in_place() {
        let (classes, numbers) = digits();
        let two_classes = Dataset {
            target: match &classes.target {
                Target::Classes { labels, .. } => Target::Classes {
                    labels: labels.iter().map(|&l| u32::from(l >= 5)).collect(),
                    classes: vec!["low".into(), "high".into()],
                },
                _ => unreachable!(),
            },
            ..classes.clone()
        };
        let cases = [
            (&classes, config(0.0, None)),
            (&classes, config(0.2, None)),
            (&numbers, config(0.0, None)),
            (&numbers, config(0.25, None)),
            (&two_classes, config(0.0, Some(Threshold::Value(0.3)))),
            (
                &two_classes,
                FitConfig {
                    validation_fraction: None,
                    ..config(0.0, Some(Threshold::Auto))
                },
            ),
        ];
        for (data, config) in cases {
            let borrowed = fit(data, &config).unwrap();
            let (owned, standardized) =
                fit_owned_with(data.clone(), &config, train::Continuation::default(), |_| {}).unwrap();
            let what = format!("{} with {config:?}", data.target_name);
            assert_eq!(owned.model, borrowed.model, "{what}");
            assert_eq!(owned.n_train, borrowed.n_train, "{what}");
            let losses = |f: &Fitted| f.history.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
            assert_eq!(losses(&owned), losses(&borrowed), "{what}");
            assert_eq!(standardized.len(), data.len());
            assert_eq!(standardized.n_features(), data.n_features());
            let model = &owned.model;
            assert_eq!(
                model.evaluate(&standardized).unwrap(),
                model.evaluate(data).unwrap(),
                "{what}"
            );
            assert_eq!(
                model.report(&standardized).unwrap(),
                model.report(data).unwrap(),
                "{what}"
            );
            assert_eq!(
                model.diagnose(&standardized, 300).unwrap(),
                model.diagnose(data, 300).unwrap(),
                "{what}"
            );
        }
    }

    #[test]
    fn evaluation_names_the_first_feature_beyond_f32_before_a_target_that_does_not_fit() {
        let (classes, _) = digits();
        let mut model = fit(&classes, &config(0.0, None)).unwrap().model;
        model.input.std[7] = 1e-30;
        let mut data = classes.clone();
        data.x.row_mut(1500)[7] = 1e10;
        data.x.row_mut(1700)[7] = 2e10;
        for result in on_pools(|| model.evaluate(&data)) {
            let message = result.unwrap_err().to_string();
            assert!(message.starts_with("row 1501 of the data: feature"), "{message}");
        }
        // With a class the model does not know besides.
        if let Target::Classes { classes, .. } = &mut data.target {
            classes[3] = "three".into();
        }
        let message = model.evaluate(&data).unwrap_err().to_string();
        assert!(message.starts_with("row 1501 of the data: feature"), "{message}");
        data.x.row_mut(1500)[7] = 0.0;
        data.x.row_mut(1700)[7] = 0.0;
        let message = model.evaluate(&data).unwrap_err().to_string();
        assert!(
            message.contains("class 'three' of the data is not one of the model's classes"),
            "{message}"
        );
    }

    #[test]
    fn a_threshold_tuned_without_validation_data_is_refused() {
        let (classes, _) = digits();
        let binary = Dataset {
            target: Target::Classes {
                labels: classes.x.iter_rows().map(|row| u32::from(row[20] > 8.0)).collect(),
                classes: vec!["a".into(), "b".into()],
            },
            ..classes
        };
        let message = fit(&binary, &config(0.0, Some(Threshold::Auto)))
            .unwrap_err()
            .to_string();
        assert!(message.contains("validation fraction is 0"), "{message}");
    }
}
