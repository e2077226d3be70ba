//! The engine behind `actlab lab`, the live web lab: TensorFlow Playground's data sets and
//! input features, and a training [`Session`] that steps a network a few epochs at a time and
//! describes it after each step as a [`Frame`] (losses, per-layer measurements, heatmaps of
//! the output and of every hidden neuron over the input plane).
//!
//! A session trains through the same [`Trainer`] as [`crate::model::fit`] (same initial draws,
//! same shuffles, same steps, L1 and L2 included), so the `actlab train` command that
//! [`Session::command`] writes, run on the data of [`Session::csv`], ends with the same weights.

use std::f32::consts::TAU;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::data::{builtin, stratified_split, Standardizer, SyntheticOptions};
use crate::diagnostics::{diagnose, GradientVerdict, HISTOGRAM_BINS, HISTOGRAM_LIMIT, SATURATION_THRESHOLD};
use crate::loss::Loss;
use crate::mlp::{MlpConfig, Workspace};
use crate::model::output_layer;
use crate::optim::{OptimizerConfig, OptimizerKind, Schedule};
use crate::train::{self, Batchable, TrainConfig, Trainer};
use crate::{Activation, Dataset, Error, Matrix, Mlp, Model, Result, Target, Task};

/// Side of the square grid the heatmaps are computed on.
pub const GRID: usize = 100;
/// Most hidden layers a lab network may have.
pub const MAX_HIDDEN_LAYERS: usize = 6;
/// Most neurons per hidden layer.
pub const MAX_NEURONS: usize = 8;
/// Most samples of a generated data set.
pub const MAX_SAMPLES: usize = 5_000;
/// Most bytes of an uploaded CSV.
pub const MAX_UPLOAD_BYTES: usize = 2 << 20;
/// Most data rows of an uploaded CSV.
pub const MAX_UPLOAD_ROWS: usize = 10_000;
/// Most feature columns of an uploaded CSV.
pub const MAX_UPLOAD_FEATURES: usize = 64;
/// Samples the per-layer diagnostics are computed on.
const DIAGNOSTIC_SAMPLES: usize = 500;

/// A generated data set, as Playground offers them (and moons and several Gaussian classes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Class 1 inside a circle of radius 0.5, class 0 on a ring of radius 1.
    Circle,
    /// Class 1 where the signs of x₁ and x₂ differ.
    Xor,
    /// Two Gaussian clusters around (-1, -1) and (1, 1).
    Gauss,
    /// Two interleaved spirals.
    Spiral,
    /// Two interleaved half circles.
    Moons,
    /// Regression: `y = (x₁ + x₂) / 2` on the square `[-1, 1]²`.
    Plane,
    /// [`LabConfig::classes`] Gaussian clusters on a circle of radius 1.
    MultiGauss,
}

/// An input feature computed from the plane's coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// x₁
    X1,
    /// x₂
    X2,
    /// x₁²
    X1Sq,
    /// x₂²
    X2Sq,
    /// x₁·x₂
    X1X2,
    /// sin x₁
    SinX1,
    /// sin x₂
    SinX2,
}

impl Feature {
    /// Every feature, in Playground's order.
    pub const ALL: [Feature; 7] = [
        Feature::X1,
        Feature::X2,
        Feature::X1Sq,
        Feature::X2Sq,
        Feature::X1X2,
        Feature::SinX1,
        Feature::SinX2,
    ];

    /// The column name in the data and the model file (`x1`, `x1_sq`, `sin_x2`, …).
    pub fn name(self) -> &'static str {
        match self {
            Feature::X1 => "x1",
            Feature::X2 => "x2",
            Feature::X1Sq => "x1_sq",
            Feature::X2Sq => "x2_sq",
            Feature::X1X2 => "x1_x2",
            Feature::SinX1 => "sin_x1",
            Feature::SinX2 => "sin_x2",
        }
    }

    /// The feature's value at the point `(x1, x2)`.
    pub fn of(self, x1: f32, x2: f32) -> f32 {
        match self {
            Feature::X1 => x1,
            Feature::X2 => x2,
            Feature::X1Sq => x1 * x1,
            Feature::X2Sq => x2 * x2,
            Feature::X1X2 => x1 * x2,
            Feature::SinX1 => x1.sin(),
            Feature::SinX2 => x2.sin(),
        }
    }
}

/// Everything that sets up a lab run. Deserializes from the page's JSON, every field optional
/// (the defaults are Playground's: circle, 500 points, 2 hidden layers of 4 tanh units, SGD at
/// 0.03 in batches of 10).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabConfig {
    /// The generated data set (ignored for uploaded data).
    pub data: Shape,
    /// Classes of [`Shape::MultiGauss`], 3 to 5.
    pub classes: usize,
    /// Samples generated, train and test together.
    pub samples: usize,
    /// Standard deviation of the Gaussian noise added to each coordinate.
    pub noise: f32,
    /// Share of the samples used for training, the rest for testing (0.1 to 0.9).
    pub train_ratio: f32,
    /// Input features computed from the plane's coordinates (ignored for uploaded data with
    /// other than 2 columns).
    pub features: Vec<Feature>,
    /// Hidden layer widths (0 to [`MAX_HIDDEN_LAYERS`] layers of 1 to [`MAX_NEURONS`]).
    pub hidden: Vec<usize>,
    /// One activation for all hidden layers, or one per hidden layer.
    pub activations: Vec<Activation>,
    /// Output activation; `None` picks as `actlab train` does (softmax for several classes,
    /// sigmoid for two, identity for regression).
    pub output: Option<Activation>,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// Learning rate.
    pub learning_rate: f32,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// L1 regularisation rate on the weights (see [`OptimizerConfig::l1`]).
    pub l1: f32,
    /// L2 regularisation rate on the weights (the optimizer's weight decay).
    pub l2: f32,
    /// Seed of the data, the split, the initial weights and the shuffles.
    pub seed: u64,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            data: Shape::Circle,
            classes: 3,
            samples: 500,
            noise: 0.05,
            train_ratio: 0.5,
            features: vec![Feature::X1, Feature::X2],
            hidden: vec![4, 4],
            activations: vec![Activation::Tanh],
            output: None,
            optimizer: OptimizerKind::Sgd,
            learning_rate: 0.03,
            batch_size: 10,
            l1: 0.0,
            l2: 0.0,
            seed: 0,
        }
    }
}

impl LabConfig {
    /// Checks every setting's range.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the first setting out of range.
    pub fn check(&self) -> Result<()> {
        let bad = |field: &'static str, message: String| Err(Error::Setting { field, message });
        if !(3..=5).contains(&self.classes) {
            return bad("classes", format!("must be 3 to 5, got {}", self.classes));
        }
        if !(10..=MAX_SAMPLES).contains(&self.samples) {
            return bad("samples", format!("must be 10 to {MAX_SAMPLES}, got {}", self.samples));
        }
        if !(0.0..=2.0).contains(&self.noise) {
            return bad("noise", format!("must be 0 to 2, got {}", self.noise));
        }
        if !(0.1..=0.9).contains(&self.train_ratio) {
            return bad("train_ratio", format!("must be 0.1 to 0.9, got {}", self.train_ratio));
        }
        if self.features.is_empty() {
            return bad("features", "choose at least one input feature".into());
        }
        if self.hidden.len() > MAX_HIDDEN_LAYERS || self.hidden.iter().any(|&h| !(1..=MAX_NEURONS).contains(&h)) {
            return bad(
                "hidden",
                format!(
                    "at most {MAX_HIDDEN_LAYERS} layers of 1 to {MAX_NEURONS} neurons, got {:?}",
                    self.hidden
                ),
            );
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 10.0) {
            return bad(
                "learning_rate",
                format!("must be in (0, 10], got {}", self.learning_rate),
            );
        }
        if !(1..=1000).contains(&self.batch_size) {
            return bad("batch_size", format!("must be 1 to 1000, got {}", self.batch_size));
        }
        for (field, rate) in [("l1", self.l1), ("l2", self.l2)] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(field, format!("must be 0 to 1, got {rate}"));
            }
        }
        Ok(())
    }

    /// The settings that [`crate::model::fit`] trains with for this set-up.
    fn train_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: None,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            optimizer: OptimizerConfig {
                kind: self.optimizer,
                weight_decay: self.l2,
                l1: self.l1,
                ..OptimizerConfig::default()
            },
            schedule: Schedule::Constant,
            clip_norm: None,
            patience: None,
            seed: self.seed,
            diagnostics: None,
            dropout: Vec::new(),
        }
    }
}

/// A lab's data: training and test parts of the network's inputs, with the plane's
/// coordinates of every sample when there is a plane to draw.
#[derive(Clone, Debug)]
pub struct LabData {
    /// Training samples, one column per network input.
    pub train: Dataset,
    /// Test samples.
    pub test: Dataset,
    /// `(x₁, x₂)` of each training sample, then each test sample; empty without a plane.
    pub points: Vec<[f32; 2]>,
    /// The plane drawn: `[x₁ low, x₁ high, x₂ low, x₂ high]`; `None` for data of other than
    /// two columns.
    pub domain: Option<[f32; 4]>,
    /// The features, for data on the plane.
    pub features: Vec<Feature>,
    /// Whether the inputs are standardized with the training part's statistics (uploads).
    pub standardize: bool,
}

impl LabData {
    /// Generates the data set that `config` describes and splits it.
    ///
    /// # Errors
    /// As [`LabConfig::check`].
    pub fn generate(config: &LabConfig) -> Result<LabData> {
        config.check()?;
        let options = SyntheticOptions {
            samples: Some(config.samples),
            noise: Some(config.noise),
            seed: config.seed,
        };
        let name = match config.data {
            Shape::Circle => "circles",
            Shape::Xor => "xor",
            Shape::Gauss => "gauss",
            Shape::Spiral => "spirals",
            Shape::Moons => "moons",
            Shape::Plane => return Ok(Self::on_plane(plane(config), config)),
            Shape::MultiGauss => return Ok(Self::on_plane(multi_gauss(config), config)),
        };
        let plane = builtin(name, &options).expect("a generated set").train;
        Ok(Self::on_plane(plane, config))
    }

    /// Reads an uploaded CSV (header row, target in the last column), splits it by
    /// `config.train_ratio` and `config.seed`. Two feature columns are the plane's coordinates
    /// and get `config.features`; other counts are used as they are. Inputs are standardized.
    ///
    /// # Errors
    /// [`Error::Data`] over [`MAX_UPLOAD_BYTES`], [`MAX_UPLOAD_ROWS`] or
    /// [`MAX_UPLOAD_FEATURES`], or with fewer than 4 rows; the CSV reader's errors naming line
    /// and column; [`Error::Setting`] as [`LabConfig::check`].
    pub fn upload(bytes: &[u8], config: &LabConfig) -> Result<LabData> {
        config.check()?;
        let path = Path::new("the uploaded CSV");
        let refuse = |message: String| {
            Err(Error::Data {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                message,
            })
        };
        if bytes.len() > MAX_UPLOAD_BYTES {
            return refuse(format!(
                "it has {} bytes; the lab takes at most {} KiB",
                bytes.len(),
                MAX_UPLOAD_BYTES >> 10
            ));
        }
        let lines = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .count();
        if lines > MAX_UPLOAD_ROWS + 1 {
            return refuse(format!(
                "it has {} data rows; the lab takes at most {MAX_UPLOAD_ROWS}",
                lines - 1
            ));
        }
        let data = crate::data::csv::parse_csv(bytes, path, &Default::default())?;
        if data.len() < 4 {
            return refuse(format!("it has {} data rows; the lab needs at least 4", data.len()));
        }
        if data.n_features() > MAX_UPLOAD_FEATURES {
            return refuse(format!(
                "it has {} feature columns; the lab takes at most {MAX_UPLOAD_FEATURES}",
                data.n_features()
            ));
        }
        if data.n_features() != 2 {
            let (train, test) = stratified_split(&data, 1.0 - config.train_ratio, config.seed);
            return Ok(LabData {
                train,
                test,
                points: Vec::new(),
                domain: None,
                features: Vec::new(),
                standardize: true,
            });
        }
        let mut lab = Self::on_plane(data, config);
        lab.standardize = true;
        Ok(lab)
    }

    /// Splits `plane` (two columns, x₁ and x₂) and computes the features of each sample.
    fn on_plane(plane: Dataset, config: &LabConfig) -> LabData {
        let (train, test) = stratified_split(&plane, 1.0 - config.train_ratio, config.seed);
        let points: Vec<[f32; 2]> = train
            .x
            .iter_rows()
            .chain(test.x.iter_rows())
            .map(|r| [r[0], r[1]])
            .collect();
        let (mut low, mut high) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in &points {
            for d in 0..2 {
                low[d] = low[d].min(p[d]);
                high[d] = high[d].max(p[d]);
            }
        }
        // A square plane centred on the data with a margin, as Playground draws it.
        let centre = [(low[0] + high[0]) / 2.0, (low[1] + high[1]) / 2.0];
        let half = ((high[0] - low[0]).max(high[1] - low[1]) / 2.0 * 1.15).max(1e-3);
        let domain = [centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half];
        let featurize = |d: Dataset| Dataset {
            x: features_of(d.x.iter_rows().map(|r| [r[0], r[1]]), &config.features),
            feature_names: config.features.iter().map(|f| f.name().to_string()).collect(),
            ..d
        };
        LabData {
            train: featurize(train),
            test: featurize(test),
            points,
            domain: Some(domain),
            features: config.features.clone(),
            standardize: false,
        }
    }
}

/// The features of each point, one row per point.
fn features_of(points: impl Iterator<Item = [f32; 2]>, features: &[Feature]) -> Matrix {
    let mut data = Vec::new();
    let mut rows = 0;
    for [x1, x2] in points {
        data.extend(features.iter().map(|f| f.of(x1, x2)));
        rows += 1;
    }
    Matrix::from_vec(rows, features.len(), data)
}

/// Regression on a plane, `y = (x₁ + x₂) / 2` plus noise, `x` uniform on `[-1, 1]²`.
fn plane(config: &LabConfig) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..config.samples {
        let (a, b): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        let noise: f32 = StandardNormal.sample(&mut rng);
        x.extend([a, b]);
        y.push((a + b) / 2.0 + config.noise * noise);
    }
    plane_dataset(x, Target::Values(y))
}

/// `classes` Gaussian clusters of standard deviation `0.3 + noise` on a circle of radius 1.
fn multi_gauss(config: &LabConfig) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let k = config.classes;
    let mut labels: Vec<u32> = (0..config.samples).map(|i| (i % k) as u32).collect();
    labels.shuffle(&mut rng);
    let spread = 0.3 + config.noise;
    let mut x = Vec::new();
    for &c in &labels {
        let angle = TAU * c as f32 / k as f32;
        let (dx, dy): (f32, f32) = (StandardNormal.sample(&mut rng), StandardNormal.sample(&mut rng));
        x.extend([angle.cos() + spread * dx, angle.sin() + spread * dy]);
    }
    plane_dataset(
        x,
        Target::Classes {
            labels,
            classes: (0..k).map(|c| c.to_string()).collect(),
        },
    )
}

fn plane_dataset(x: Vec<f32>, target: Target) -> Dataset {
    Dataset {
        x: Matrix::from_vec(x.len() / 2, 2, x),
        feature_names: vec!["x1".into(), "x2".into()],
        target_name: "label".into(),
        target,
        images: false,
    }
}

/// One layer's state, for the page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerView {
    /// The activation, in the CLI form.
    pub activation: String,
    /// Per neuron: whether its output is exactly 0 on every training sample.
    pub dead: Vec<bool>,
    /// Per neuron: the share of training samples where `f'(z)` is below 1 % of its maximum
    /// (`None` for functions that do not saturate).
    pub saturated: Vec<Option<f32>>,
    /// Weights, `[outputs, inputs]` row-major, then the biases.
    pub weights: Vec<f32>,
    /// Biases.
    pub biases: Vec<f32>,
    /// Norm of the loss gradient with respect to the weights.
    pub grad_norm: f64,
    /// Norm of the weights.
    pub weight_norm: f64,
    /// Their ratio.
    pub grad_to_weight: f64,
    /// Histogram of the pre-activations over [`crate::diagnostics::HISTOGRAM_LIMIT`].
    pub histogram: Vec<u64>,
}

/// What the page shows after a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Frame {
    /// Epochs trained.
    pub epoch: usize,
    /// Mean loss over the training data.
    pub train_loss: f64,
    /// Mean loss over the test data.
    pub test_loss: f64,
    /// Accuracy (classification) or R² (regression) on the training data.
    pub train_score: Option<f64>,
    /// The same on the test data.
    pub test_score: Option<f64>,
    /// Every layer, the output layer last.
    pub layers: Vec<LayerView>,
    /// First layer's gradient norm over the last layer's.
    pub gradient_ratio: f64,
    /// Vanishing, exploding or healthy, as [`crate::diagnostics`] says.
    pub verdict: GradientVerdict,
    /// Why training stopped, when the loss became non-finite or blew up.
    pub diverged: Option<String>,
    /// Heatmaps over the plane, `GRID × GRID` bytes each, rows from the top (x₂ high) down:
    /// one per output (probability × 255 for classes; `(y + 1) / 2 × 255` clamped for
    /// regression), then one per hidden neuron, layer by layer (`(h + 1) / 2 × 255` clamped).
    /// Empty without a plane.
    #[serde(skip)]
    pub heatmaps: Vec<u8>,
}

/// A network training on a lab's data, a few epochs at a time.
pub struct Session {
    config: LabConfig,
    data: LabData,
    model: Model,
    x: Matrix,
    targets: Matrix,
    labels: Option<Vec<u32>>,
    test: (Matrix, Matrix, Option<Vec<u32>>),
    trainer: Trainer,
    epoch: usize,
    diverged: Option<String>,
    /// Whether a weight was set by hand.
    edited: bool,
    /// The network's inputs at every grid point, standardized.
    grid: Option<Matrix>,
    ws: Workspace,
}

impl Session {
    /// A fresh network for `data`, built and initialised as [`crate::model::fit`] does.
    ///
    /// # Errors
    /// As [`LabConfig::check`] and [`Mlp::new`].
    pub fn new(config: LabConfig, data: LabData) -> Result<Session> {
        config.check()?;
        let task = data
            .train
            .task()
            .ok_or_else(|| Error::config("the data has no target column"))?;
        let classes = match &data.train.target {
            Target::Classes { classes, .. } => classes.clone(),
            _ => Vec::new(),
        };
        let (output, outputs) = output_layer(task, classes.len(), config.output)?;
        let loss = match task {
            Task::Classification => Loss::for_output(output),
            Task::Regression => Loss::Mse,
        };
        loss.check(output)?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mlp = Mlp::new(
            &MlpConfig {
                inputs: data.train.n_features(),
                hidden: config.hidden.clone(),
                activations: config.activations.clone(),
                outputs,
                output,
                residual: false,
                init: None,
            },
            &mut rng,
        )?;
        let n = data.train.n_features();
        let input = if data.standardize {
            Standardizer::fit(&data.train.x)
        } else {
            Standardizer {
                mean: vec![0.0; n],
                std: vec![1.0; n],
            }
        };
        let model = Model {
            mlp,
            task,
            classes,
            feature_names: data.train.feature_names.clone(),
            target_name: data.train.target_name.clone(),
            input,
            target_scale: None,
            loss,
            threshold: None,
        };
        let (x, targets, labels) = model.prepare(&data.train)?;
        let test = model.prepare(&data.test)?;
        let grid = data.domain.map(|[x_low, x_high, y_low, y_high]| {
            let step = |low: f32, high: f32, i: usize| low + (high - low) * (i as f32 + 0.5) / GRID as f32;
            let points = (0..GRID * GRID).map(|i| [step(x_low, x_high, i % GRID), step(y_high, y_low, i / GRID)]);
            let mut m = features_of(points, &data.features);
            for row in 0..m.rows() {
                for (v, (mean, std)) in m
                    .row_mut(row)
                    .iter_mut()
                    .zip(model.input.mean.iter().zip(&model.input.std))
                {
                    *v = (*v - mean) / std;
                }
            }
            m
        });
        let samples = batchable(&x, &targets, &labels);
        let start_loss = train::untrained_loss(&model.mlp, samples, loss);
        let trainer = Trainer::new(&model.mlp, loss, samples, &config.train_config(), start_loss)?;
        Ok(Session {
            config,
            data,
            model,
            x,
            targets,
            labels,
            test,
            trainer,
            epoch: 0,
            diverged: None,
            edited: false,
            grid,
            ws: Workspace::default(),
        })
    }

    /// The set-up.
    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    /// The data.
    pub fn data(&self) -> &LabData {
        &self.data
    }

    /// The model as trained so far (what the page downloads).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Epochs trained.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Why training stopped, once it has diverged.
    pub fn diverged(&self) -> Option<&str> {
        self.diverged.as_deref()
    }

    /// Sets the weight from input `from` to neuron `to` of layer `layer` (0-based, the output
    /// layer last), or with `from` equal to the layer's number of inputs, the neuron's bias.
    /// Training goes on from the edited network; [`Session::command`] then says that it cannot
    /// reproduce the run.
    ///
    /// # Errors
    /// [`Error::Config`] for a layer, neuron or input that does not exist, or a value that is
    /// not finite.
    pub fn set_weight(&mut self, layer: usize, to: usize, from: usize, value: f32) -> Result<()> {
        let mlp = &mut self.model.mlp;
        let Some(&spec) = mlp.layers().get(layer) else {
            return Err(Error::config(format!("the network has no layer {layer}")));
        };
        if to >= spec.outputs || from > spec.inputs || !value.is_finite() {
            return Err(Error::config(format!(
                "layer {layer} has {} neurons of {} inputs (and a bias); cannot set {from} → {to} to {value}",
                spec.outputs, spec.inputs
            )));
        }
        // Weights are `[outputs, inputs]` row-major, then the biases.
        let index = if from == spec.inputs {
            spec.outputs * spec.inputs + to
        } else {
            to * spec.inputs + from
        };
        let start = mlp.layer_range(layer).start;
        mlp.params_mut()[start + index] = value;
        self.edited = true;
        Ok(())
    }

    /// Trains `epochs` more epochs through the [`Trainer`] that [`crate::train::train`] uses (a
    /// seeded shuffle, then one optimizer step per batch).
    ///
    /// # Errors
    /// [`Error::Diverged`] when the loss becomes non-finite (naming the first layer where
    /// values stopped being finite) or an epoch's loss exceeds [`train::DIVERGENCE_FACTOR`] times the
    /// untrained network's; the session then stops and every later step returns the error.
    pub fn step(&mut self, epochs: usize) -> Result<()> {
        if let Some(why) = &self.diverged {
            return Err(Error::config(why.clone()));
        }
        let result = self.train(epochs);
        if let Err(e) = &result {
            self.diverged = Some(format!("{e}. {}", advice(&self.config)));
        }
        result
    }

    fn train(&mut self, epochs: usize) -> Result<()> {
        // Without labels: the lab scores the network itself after the step (see `frame`).
        let samples = Batchable {
            x: &self.x,
            targets: &self.targets,
            labels: None,
            weights: None,
        };
        for _ in 0..epochs {
            self.trainer
                .epoch(&mut self.model.mlp, samples, self.epoch, self.config.learning_rate)?;
            self.epoch += 1;
        }
        Ok(())
    }

    /// The page's view of the network now.
    pub fn frame(&mut self) -> Frame {
        let loss = self.model.loss;
        let mlp = &self.model.mlp;
        let train = train::evaluate(mlp, batchable(&self.x, &self.targets, &self.labels), loss);
        let (tx, tt, tl) = &self.test;
        let test = train::evaluate(mlp, batchable(tx, tt, tl), loss);
        let diagnostics = diagnose(mlp, &self.x, &self.targets, loss, DIAGNOSTIC_SAMPLES);
        mlp.forward(self.x.as_slice(), self.x.rows(), &mut self.ws);
        let layers = mlp
            .layers()
            .iter()
            .zip(&diagnostics.layers)
            .enumerate()
            .map(|(i, (layer, d))| {
                let (z, y) = (self.ws.pre_activation(i), self.ws.activation(i));
                let units = layer.outputs;
                let f = layer.activation;
                let floor = SATURATION_THRESHOLD * f.properties().max_derivative;
                let saturated = (0..units)
                    .map(|u| {
                        f.properties().saturating.then(|| {
                            let count = (u..z.len())
                                .step_by(units)
                                .filter(|&k| f.derivative(z[k], y[k]).abs() < floor)
                                .count();
                            count as f32 / self.x.rows().max(1) as f32
                        })
                    })
                    .collect();
                let dead = (0..units)
                    .map(|u| (u..y.len()).step_by(units).all(|k| y[k] == 0.0))
                    .collect();
                let p = mlp.layer_params(i);
                LayerView {
                    activation: f.to_string(),
                    dead,
                    saturated,
                    weights: p.weight.to_vec(),
                    biases: p.bias.to_vec(),
                    grad_norm: d.grad_norm,
                    weight_norm: d.weight_norm,
                    grad_to_weight: d.grad_to_weight,
                    histogram: d.histogram.counts.clone(),
                }
            })
            .collect();
        debug_assert!(diagnostics
            .layers
            .iter()
            .all(|d| d.histogram.counts.len() == HISTOGRAM_BINS));
        Frame {
            epoch: self.epoch,
            train_loss: train.loss,
            test_loss: test.loss,
            train_score: train.score,
            test_score: test.score,
            layers,
            gradient_ratio: diagnostics.gradient_ratio,
            verdict: diagnostics.verdict,
            diverged: self.diverged.clone(),
            heatmaps: self.heatmaps(),
        }
    }

    /// The heatmaps of [`Frame::heatmaps`].
    fn heatmaps(&mut self) -> Vec<u8> {
        let Some(grid) = &self.grid else {
            return Vec::new();
        };
        let mlp = &self.model.mlp;
        mlp.forward(grid.as_slice(), grid.rows(), &mut self.ws);
        let last = mlp.layers().len() - 1;
        let regression = self.model.task == Task::Regression;
        let mut out = Vec::with_capacity(GRID * GRID * (mlp.outputs() + 4 * MAX_HIDDEN_LAYERS));
        let mut push = |values: &[f32], units: usize, probability: bool| {
            for u in 0..units {
                out.extend((u..values.len()).step_by(units).map(|k| {
                    let v = if probability {
                        values[k]
                    } else {
                        (values[k] + 1.0) / 2.0
                    };
                    (v.clamp(0.0, 1.0) * 255.0).round() as u8
                }));
            }
        };
        push(self.ws.output(), mlp.outputs(), !regression);
        for i in 0..last {
            push(self.ws.output_of(i), mlp.layers()[i].outputs, false);
        }
        out
    }

    /// The data as CSV text, the feature columns then `label`: the training part, or the test
    /// part with `test`. Numbers are written in their shortest form that reads back exactly.
    pub fn csv(&self, test: bool) -> String {
        let data = if test { &self.data.test } else { &self.data.train };
        let mut text = data.feature_names.join(",");
        text.push(',');
        text.push_str(&data.target_name);
        text.push('\n');
        for (i, row) in data.x.iter_rows().enumerate() {
            for v in row {
                text.push_str(&format!("{v},"));
            }
            text.push_str(&match &data.target {
                Target::Classes { labels, classes } => classes[labels[i] as usize].clone(),
                Target::Values(values) => format!("{}", values[i]),
                Target::None => String::new(),
            });
            text.push('\n');
        }
        text
    }

    /// The `actlab train` command that trains the same network to the same weights, on the
    /// data of [`Session::csv`] saved as `lab-train.csv` and `lab-test.csv`; after
    /// [`Session::set_weight`] a first line says the command cannot reproduce the run.
    pub fn command(&self) -> String {
        let c = &self.config;
        let hidden = if c.hidden.is_empty() {
            String::new()
        } else {
            let sizes: Vec<String> = c.hidden.iter().map(usize::to_string).collect();
            let activations: Vec<String> = c.activations.iter().map(Activation::to_string).collect();
            format!(" --hidden {} --activation {}", sizes.join(","), activations.join(","))
        };
        let task = match self.model.task {
            Task::Classification => "classification",
            Task::Regression => "regression",
        };
        let scaling = if self.data.standardize { "feature" } else { "none" };
        let output = match self.config.output {
            Some(output) => format!(" --output {output}"),
            None => String::new(),
        };
        let edited = if self.edited {
            "# weights were set by hand: this command trains without those edits\n"
        } else {
            ""
        };
        format!(
            "{edited}actlab train --data lab-train.csv --test lab-test.csv --task {task}{hidden}{output} --optimizer {} --lr {} \
             --batch-size {} --l1 {} --weight-decay {} --epochs {} --seed {} --scaling {scaling} --no-scale-target \
             --save lab.safetensors",
            c.optimizer,
            c.learning_rate,
            c.batch_size,
            c.l1,
            c.l2,
            self.epoch.max(1),
            c.seed
        )
    }
}

/// `f` and `f'` of `activation` at `points` evenly spaced inputs over
/// `[-HISTOGRAM_LIMIT, HISTOGRAM_LIMIT]`, the range of the pre-activation histograms.
pub fn curve(activation: Activation, points: usize) -> [Vec<f32>; 2] {
    let xs = (0..points).map(|i| HISTOGRAM_LIMIT * (2.0 * i as f32 / (points.max(2) - 1) as f32 - 1.0));
    let (f, df): (Vec<f32>, Vec<f32>) = xs
        .map(|x| {
            let y = activation.forward(x);
            (y, activation.derivative(x, y))
        })
        .unzip();
    [f, df]
}

/// What to try when training diverges.
fn advice(config: &LabConfig) -> String {
    format!(
        "Try a smaller learning rate than {}, a saturating activation, or L2 regularisation",
        config.learning_rate
    )
}

fn batchable<'a>(x: &'a Matrix, targets: &'a Matrix, labels: &'a Option<Vec<u32>>) -> Batchable<'a> {
    Batchable {
        x,
        targets,
        labels: labels.as_deref(),
        weights: None,
    }
}

#[cfg(test)]
mod tests;
