//! Nine claims about activation functions, each checked by a real training run or measurement
//! on built-in data.
//!
//! Every experiment returns its measurements (name → number) and decides whether the claim
//! held from those numbers by the criterion written in [`Experiment::criterion`]: nothing is
//! hard-coded, and a run that does not support its claim says so. Runs are seeded and
//! deterministic (timings aside). [`Budget::Quick`] runs a smaller version of each (for tests),
//! [`Budget::Full`] the version the command line reports. [`report`] renders results as an
//! HTML page and a Markdown file with SVG charts.
//!
//! ```no_run
//! use actlab::experiments::{Budget, EXPERIMENTS};
//!
//! for experiment in &EXPERIMENTS {
//!     let result = experiment.run(Budget::Full).unwrap();
//!     println!("{} {}: {}", result.id, result.claim, if result.holds { "holds" } else { "does not hold" });
//! }
//! ```

use std::collections::BTreeMap;
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use crate::activation::softmax_in_place;
use crate::data::{builtin, stratified_split, Standardizer, SyntheticOptions};
use crate::diagnostics::Diagnostics;
use crate::mlp::Workspace;
use crate::model::{fit, output_layer, FitConfig, Model};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::train::{self, Batchable, History, TrainConfig};
use crate::{Activation, Dataset, Error, Init, Loss, Matrix, Mlp, MlpConfig, Result, Target, Task};

mod report;

pub use report::report;

/// How much work each experiment does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Small data and few epochs: enough to see the direction of each effect (tests).
    Quick,
    /// The sizes the command line reports (all nine in well under two minutes on two cores).
    Full,
}

impl Budget {
    fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Budget::Quick => quick,
            Budget::Full => full,
        }
    }
}

/// What one experiment measured, and whether its claim held.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExperimentResult {
    /// 1 to 9, as in [`EXPERIMENTS`].
    pub id: u8,
    /// Short name (`linear_collapse`, …).
    pub name: String,
    /// The claim under test.
    pub claim: String,
    /// How `holds` is decided from the measurements.
    pub criterion: String,
    /// Every number the run produced, by name.
    pub measurements: BTreeMap<String, f64>,
    /// Whether the measurements meet the criterion.
    pub holds: bool,
    /// Wall-clock seconds the experiment took.
    pub seconds: f64,
    /// What the numbers mean where the criterion alone does not say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Curves for plotting, such as training accuracy per epoch or variance per layer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Curve>,
}

impl ExperimentResult {
    /// The curve of `quantity` labelled `label`, if the experiment measured it.
    pub fn curve(&self, quantity: &str, label: &str) -> Option<&Curve> {
        self.series.iter().find(|c| c.quantity == quantity && c.label == label)
    }
}

/// A curve an experiment measured. The curves of one experiment with the same `quantity` and
/// `x` belong in one chart, one line per `label`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    /// What the values are (the vertical axis), e.g. `training accuracy with adam`.
    pub quantity: String,
    /// What the points run over (the horizontal axis).
    pub x: Axis,
    /// Which of the experiment's runs it is (the legend), e.g. `relu`, `relu he`, `relu lr 0.05`.
    pub label: String,
    /// Whether the values span orders of magnitude, so that a logarithmic axis shows them.
    pub log_y: bool,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
}

/// The horizontal axis of a [`Curve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    /// Layer number, from 1 (the first layer) to the output layer.
    Layer,
    /// Epoch number; 0 is before training.
    Epoch,
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Axis::Layer => "layer",
            Axis::Epoch => "epoch",
        })
    }
}

/// The first sentence of a claim, before its colon: `Sigmoid saturates and kills gradients`.
pub fn headline(claim: &str) -> &str {
    claim.split(':').next().unwrap_or(claim)
}

/// A measurement as the reports print it: integers as integers, very small or large values in
/// scientific notation, others with 4 decimals.
pub fn format_measurement(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e6 {
        format!("{x:.0}")
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

/// One claim and the run that checks it.
#[derive(Clone, Copy, Debug)]
pub struct Experiment {
    /// 1 to 9.
    pub id: u8,
    /// Short name.
    pub name: &'static str,
    /// The claim under test.
    pub claim: &'static str,
    /// How the measurements decide whether the claim holds.
    pub criterion: &'static str,
    measure: fn(Budget) -> Result<Outcome>,
}

impl Experiment {
    /// Runs the experiment and times it.
    ///
    /// # Errors
    /// Only if a training run fails (divergence is reported as an error naming the run).
    pub fn run(&self, budget: Budget) -> Result<ExperimentResult> {
        let start = Instant::now();
        let outcome = (self.measure)(budget)?;
        Ok(ExperimentResult {
            id: self.id,
            name: self.name.to_string(),
            claim: self.claim.to_string(),
            criterion: self.criterion.to_string(),
            measurements: outcome.measurements,
            holds: outcome.holds,
            seconds: start.elapsed().as_secs_f64(),
            notes: (!outcome.notes.is_empty()).then(|| outcome.notes.join(" ")),
            series: outcome.series,
        })
    }
}

/// The experiment with this id.
pub fn find(id: u8) -> Option<&'static Experiment> {
    EXPERIMENTS.iter().find(|e| e.id == id)
}

/// The nine experiments, in order.
pub const EXPERIMENTS: [Experiment; 9] = [
    Experiment {
        id: 1,
        name: "linear_collapse",
        claim: "Without activations a network is one linear map: the product of its layers' matrices \
                reproduces its output, and on XOR and circles it stays at chance level while tanh and \
                relu networks fit.",
        criterion: "a trained 2-8-8-1 identity network's logits differ from the folded affine map by at \
                    most 1e-4 (a tanh network's by more than 1e-2); identity train accuracy <= 0.75 \
                    on xor and circles; tanh and relu >= 0.95 on both",
        measure: linear_collapse,
    },
    Experiment {
        id: 2,
        name: "sigmoid_vanishing_gradients",
        claim: "Sigmoid saturates and kills gradients: in a network of 10 hidden layers the first \
                layer's gradient norm is orders of magnitude below the last layer's, unlike relu.",
        criterion: "first/last layer gradient-norm ratio < 1e-2 for sigmoid and > 1e-1 for relu, at \
                    initialisation and after 5 epochs (digits, 10 hidden layers of 32, Adam, lr 0.001)",
        measure: sigmoid_vanishing_gradients,
    },
    Experiment {
        id: 3,
        name: "sigmoid_not_zero_centred",
        claim: "Sigmoid is not zero-centred: its outputs' mean is far from 0 while tanh's is near 0, \
                and the weight gradients into a neuron fed by sigmoid units share one sign.",
        criterion: "after 10 epochs (digits, 2 hidden layers of 32, Adam): |mean output| of hidden layer 1 \
                    >= 0.25 for sigmoid and <= 0.1 for tanh; same-sign share of hidden layer 2's \
                    incoming weight gradients >= 0.95 fed by sigmoid and <= 0.8 fed by tanh",
        measure: sigmoid_not_zero_centred,
    },
    Experiment {
        id: 4,
        name: "tanh_beats_sigmoid",
        claim: "Tanh is preferred to sigmoid: on the same data, network, seed and budget it trains \
                faster and ends at least as accurate.",
        criterion: "digits 64-64-64-10, 30 epochs, plain SGD (lr 0.1) and Adam (lr 0.001): tanh reaches 90% \
                    training accuracy in fewer epochs than sigmoid (never reaching counts as never) \
                    and ends with a test accuracy at least as high, under both optimizers",
        measure: tanh_beats_sigmoid,
    },
    Experiment {
        id: 5,
        name: "relu_trains_faster",
        claim: "ReLU trains faster: it reaches a target training accuracy in fewer epochs (and \
                seconds) than tanh and sigmoid.",
        criterion: "MNIST-1D 40-100-100-100-10, SGD with momentum 0.9 (lr 0.01), 40 epochs: relu reaches 70% \
                    training accuracy in fewer epochs than tanh and than sigmoid (never reaching \
                    counts as never)",
        measure: relu_trains_faster,
    },
    Experiment {
        id: 6,
        name: "dying_relu",
        claim: "ReLU neurons can die: with a large learning rate a share of a relu network's \
                neurons (claimed 20-50%) output 0 on every sample, while leaky relu under the same \
                settings has none.",
        criterion: "digits 64-128-128-10, 15 epochs of Adam at learning rate 0.05: relu dead fraction >= 0.05 and \
                    above its dead fraction at learning rate 0.001; leaky relu dead fraction < 0.01",
        measure: dying_relu,
    },
    Experiment {
        id: 7,
        name: "softmax_distribution",
        claim: "Softmax gives a probability distribution: outputs in (0, 1) that sum to 1, unchanged \
                by adding a constant to every logit; a trained classifier's rows are class \
                probabilities.",
        criterion: "on 1000 random logit rows: every value in (0, 1) and every row sums to 1 within \
                    1e-6; adding 10 to every logit changes no output by more than 1e-5; on a trained \
                    iris classifier: every log-probability z_i - logsumexp(z), computed from its \
                    logits in f64, is finite and below 0 (so every probability lies in (0, 1) even \
                    where f32 rounds it to 1), and every row of f32 probabilities sums to 1 within 1e-6",
        measure: softmax_distribution,
    },
    Experiment {
        id: 8,
        name: "output_fits_target",
        claim: "The output activation must fit the target range: with targets above 1 (target \
                scaling off) a sigmoid or tanh output fails while identity and relu work; targets \
                in [0, 1] work with sigmoid; multi-class works with softmax.",
        criterion: "train R² >= 0.9 for identity and relu and < 0 for sigmoid and tanh on targets in \
                    about [1, 6]; R² >= 0.9 for sigmoid on the same targets rescaled to [0, 1]; \
                    train accuracy >= 0.9 for softmax on iris",
        measure: output_fits_target,
    },
    Experiment {
        id: 9,
        name: "init_matches_activation",
        claim: "Initialisation must match the activation: through 30 layers at initialisation relu \
                keeps its signal with He scaling and loses it with Glorot or LeCun; tanh with \
                Glorot keeps it; selu with LeCun normal settles at mean 0, variance 1.",
        criterion: "output variance of layer 30 / layer 1: within [0.1, 10] for relu+he, < 1e-3 for \
                    relu+glorot and relu+lecun, > 1e-2 for tanh+glorot; selu+lecun layer 30 has \
                    |mean| < 0.2 and variance in [0.5, 2] (MNIST-1D inputs, 30 layers of 128)",
        measure: init_matches_activation,
    },
];

/// What a measurement function produces; [`Experiment::run`] adds the rest.
#[derive(Default)]
struct Outcome {
    measurements: BTreeMap<String, f64>,
    holds: bool,
    notes: Vec<String>,
    series: Vec<Curve>,
}

impl Outcome {
    fn set(&mut self, name: impl Into<String>, value: f64) -> f64 {
        self.measurements.insert(name.into(), value);
        value
    }

    fn curve(&mut self, quantity: &str, x: Axis, log_y: bool, label: impl Into<String>, points: Vec<(f64, f64)>) {
        self.series.push(Curve {
            quantity: quantity.into(),
            x,
            label: label.into(),
            log_y,
            points,
        });
    }
}

// ---- shared helpers ---------------------------------------------------------------------------

const SEED: u64 = 0;

fn dataset(name: &str, samples: Option<usize>) -> Result<crate::data::Split> {
    let options = SyntheticOptions {
        samples,
        noise: None,
        seed: SEED,
    };
    builtin(name, &options).ok_or_else(|| Error::config(format!("no built-in data set '{name}'")))
}

/// At most `n` evenly spaced rows of `data`.
fn spaced_rows(data: Dataset, n: usize) -> Dataset {
    if data.len() <= n {
        return data;
    }
    let rows: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
    data.subset(&rows)
}

fn optimizer(kind: OptimizerKind) -> OptimizerConfig {
    OptimizerConfig {
        kind,
        ..OptimizerConfig::default()
    }
}

fn training(kind: OptimizerKind, learning_rate: f32, epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate,
        optimizer: optimizer(kind),
        seed: SEED,
        ..TrainConfig::default()
    }
}

fn fit_config(hidden: Vec<usize>, activation: Activation, train: TrainConfig) -> FitConfig {
    FitConfig {
        hidden,
        activations: vec![activation],
        train,
        ..FitConfig::default()
    }
}

/// A classifier for `data` with its weights drawn as [`fit`] would draw them, not trained, so that
/// it can be diagnosed at initialisation.
fn untrained(data: &Dataset, hidden: Vec<usize>, activation: Activation, seed: u64) -> Result<Model> {
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
    })
}

/// Trains `model` on `data` in place.
fn train_model(model: &mut Model, data: &Dataset, config: &TrainConfig) -> Result<History> {
    let (x, targets, labels) = model.prepare(data)?;
    let batches = Batchable {
        x: &x,
        targets: &targets,
        labels: labels.as_deref(),
    };
    train::train(&mut model.mlp, model.loss, batches, None, config, |_| {})
}

fn accuracy(model: &Model, data: &Dataset) -> Result<f64> {
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
fn record_reached(out: &mut Outcome, prefix: &str, history: &History, target: f64) -> f64 {
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

fn accuracy_curve(history: &History) -> Vec<(f64, f64)> {
    history
        .epochs
        .iter()
        .filter_map(|r| r.train_accuracy.map(|a| (r.epoch as f64, a)))
        .collect()
}

/// Mean of `f` over the hidden layers (all but the output layer).
fn hidden_mean(d: &Diagnostics, f: impl Fn(&crate::diagnostics::LayerDiagnostics) -> Option<f64>) -> f64 {
    let values: Vec<f64> = d.layers[..d.layers.len() - 1].iter().filter_map(f).collect();
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

// ---- 1. linear collapse -----------------------------------------------------------------------

/// Folds every layer's `W·h + b` into one affine map `A·x + c` (in f64, activations ignored) and
/// returns the largest difference between `A·x + c` and the network's logits on `x`.
fn folded_map_error(mlp: &Mlp, x: &Matrix) -> f64 {
    let n = mlp.inputs();
    let mut a: Vec<f64> = (0..n * n).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect();
    let mut c = vec![0.0f64; n];
    for (i, layer) in mlp.layers().iter().enumerate() {
        let p = mlp.layer_params(i);
        let mut a_next = vec![0.0f64; layer.outputs * n];
        let mut c_next: Vec<f64> = p.bias.iter().map(|&b| f64::from(b)).collect();
        for o in 0..layer.outputs {
            for k in 0..layer.inputs {
                let w = f64::from(p.weight[o * layer.inputs + k]);
                c_next[o] += w * c[k];
                for j in 0..n {
                    a_next[o * n + j] += w * a[k * n + j];
                }
            }
        }
        a = a_next;
        c = c_next;
    }
    let mut ws = Workspace::default();
    mlp.forward(x.as_slice(), x.rows(), &mut ws);
    let outputs = mlp.outputs();
    let mut worst = 0.0f64;
    for (row, logits) in x.iter_rows().zip(ws.logits().chunks_exact(outputs)) {
        for (o, &logit) in logits.iter().enumerate() {
            let folded: f64 = c[o] + (0..n).map(|j| a[o * n + j] * f64::from(row[j])).sum::<f64>();
            worst = worst.max((folded - f64::from(logit)).abs());
        }
    }
    worst
}

fn linear_collapse(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((200, 100), (400, 200));
    let mut holds = true;
    for name in ["xor", "circles"] {
        let data = dataset(name, Some(samples))?.train;
        for activation in [Activation::Identity, Activation::Tanh, Activation::Relu] {
            let config = fit_config(vec![8, 8], activation, training(OptimizerKind::Adam, 0.01, epochs));
            let fitted = fit(&data, &config, |_| {})?;
            let acc = out.set(
                format!("{name}_{activation}_train_accuracy"),
                accuracy(&fitted.model, &data)?,
            );
            holds &= if activation == Activation::Identity {
                acc <= 0.75
            } else {
                acc >= 0.95
            };
            if name == "xor" && activation != Activation::Relu {
                let x = fitted.model.inputs(&data)?;
                let error = out.set(
                    format!("folded_map_max_abs_difference_{activation}"),
                    folded_map_error(&fitted.model.mlp, &x),
                );
                holds &= if activation == Activation::Identity {
                    error <= 1e-4
                } else {
                    error > 1e-2
                };
            }
        }
    }
    out.holds = holds;
    Ok(out)
}

// ---- 2. sigmoid gradients ---------------------------------------------------------------------

fn sigmoid_vanishing_gradients(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((400, 2), (1797, 5));
    let data = spaced_rows(dataset("digits", None)?.train, samples);
    let mut holds = true;
    for activation in [Activation::Sigmoid, Activation::Relu] {
        let mut model = untrained(&data, vec![32; 10], activation, SEED)?;
        let before = model.diagnose(&data, 1000)?;
        let config = TrainConfig {
            diagnostics: Some(1000),
            ..training(OptimizerKind::Adam, 1e-3, epochs)
        };
        let history = train_model(&mut model, &data, &config)?;
        let after = history
            .epochs
            .last()
            .and_then(|r| r.diagnostics.clone())
            .expect("diagnostics recorded");
        let ratio_before = out.set(format!("{activation}_gradient_ratio_init"), before.gradient_ratio);
        let ratio_after = out.set(format!("{activation}_gradient_ratio_trained"), after.gradient_ratio);
        out.set(format!("{activation}_train_accuracy"), accuracy(&model, &data)?);
        if activation == Activation::Sigmoid {
            out.set(
                "sigmoid_saturated_fraction_init",
                hidden_mean(&before, |l| l.saturated_fraction),
            );
            out.set(
                "sigmoid_saturated_fraction_trained",
                hidden_mean(&after, |l| l.saturated_fraction),
            );
            holds &= ratio_before < 1e-2 && ratio_after < 1e-2;
        } else {
            holds &= ratio_before > 1e-1 && ratio_after > 1e-1;
        }
        out.curve(
            "gradient norm at init",
            Axis::Layer,
            true,
            activation.to_string(),
            before
                .layers
                .iter()
                .map(|l| ((l.layer + 1) as f64, l.grad_norm))
                .collect(),
        );
        let ratios = std::iter::once((0.0, before.gradient_ratio)).chain(
            history
                .epochs
                .iter()
                .filter_map(|r| r.diagnostics.as_ref().map(|d| (r.epoch as f64, d.gradient_ratio))),
        );
        out.curve(
            "first / last layer gradient norm",
            Axis::Epoch,
            true,
            activation.to_string(),
            ratios.collect(),
        );
    }
    let saturated = out.measurements["sigmoid_saturated_fraction_trained"];
    if saturated < 0.01 {
        out.notes.push(format!(
            "Only {:.2}% of sigmoid activations are saturated after training: the gradient shrinks because \
             σ' ≤ 0.25 at every layer (0.25^10 ≈ 1e-6), not because units sit in the flat tails.",
            100.0 * saturated
        ));
    }
    out.holds = holds;
    Ok(out)
}

// ---- 3. zero-centred outputs ------------------------------------------------------------------

fn sigmoid_not_zero_centred(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((400, 3), (1797, 10));
    let data = spaced_rows(dataset("digits", None)?.train, samples);
    let mut holds = true;
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        let mut model = untrained(&data, vec![32, 32], activation, SEED)?;
        let before = model.diagnose(&data, 2000)?;
        train_model(&mut model, &data, &training(OptimizerKind::Adam, 1e-3, epochs))?;
        let after = model.diagnose(&data, 2000)?;
        for (when, d) in [("init", &before), ("trained", &after)] {
            out.set(
                format!("{activation}_layer1_output_mean_{when}"),
                d.layers[0].output_mean,
            );
            out.set(
                format!("{activation}_layer2_same_sign_share_{when}"),
                d.layers[1].same_sign_share,
            );
        }
        let (mean, share) = (after.layers[0].output_mean.abs(), after.layers[1].same_sign_share);
        holds &= if activation == Activation::Sigmoid {
            mean >= 0.25 && share >= 0.95
        } else {
            mean <= 0.1 && share <= 0.8
        };
    }
    out.holds = holds;
    Ok(out)
}

// ---- 4. tanh vs sigmoid -----------------------------------------------------------------------

fn tanh_beats_sigmoid(budget: Budget) -> Result<Outcome> {
    const TARGET: f64 = 0.9;
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((600, 8), (1797, 30));
    let data = spaced_rows(dataset("digits", None)?.train, samples);
    let (train_set, test_set) = stratified_split(&data, 0.2, SEED);
    let mut holds = true;
    for (kind, lr) in [(OptimizerKind::Sgd, 0.1), (OptimizerKind::Adam, 1e-3)] {
        let mut epochs_to = [0.0; 2];
        let mut test_acc = [0.0; 2];
        for (i, activation) in [Activation::Tanh, Activation::Sigmoid].into_iter().enumerate() {
            let config = fit_config(vec![64, 64], activation, training(kind, lr, epochs));
            let fitted = fit(&train_set, &config, |_| {})?;
            let prefix = format!("{kind}_{activation}");
            epochs_to[i] = record_reached(&mut out, &prefix, &fitted.history, TARGET);
            let train_scores = fitted.model.evaluate(&train_set)?;
            out.set(format!("{prefix}_train_loss"), train_scores.loss);
            out.set(format!("{prefix}_train_accuracy"), train_scores.accuracy.unwrap_or(0.0));
            test_acc[i] = out.set(format!("{prefix}_test_accuracy"), accuracy(&fitted.model, &test_set)?);
            out.curve(
                &format!("training accuracy with {kind}"),
                Axis::Epoch,
                false,
                activation.to_string(),
                accuracy_curve(&fitted.history),
            );
        }
        holds &= epochs_to[0] < epochs_to[1] && test_acc[0] >= test_acc[1];
    }
    out.holds = holds;
    Ok(out)
}

// ---- 5. relu trains faster --------------------------------------------------------------------

fn relu_trains_faster(budget: Budget) -> Result<Outcome> {
    const TARGET: f64 = 0.7;
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((1000, 15), (4000, 40));
    let data = spaced_rows(dataset("mnist1d", None)?.train, samples);
    let mut epochs_to = BTreeMap::new();
    for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        let config = fit_config(
            vec![100, 100, 100],
            activation,
            training(OptimizerKind::Momentum, 0.01, epochs),
        );
        let fitted = fit(&data, &config, |_| {})?;
        let name = activation.to_string();
        epochs_to.insert(name.clone(), record_reached(&mut out, &name, &fitted.history, TARGET));
        out.set(format!("{name}_train_accuracy"), accuracy(&fitted.model, &data)?);
        out.curve(
            "training accuracy",
            Axis::Epoch,
            false,
            name.clone(),
            accuracy_curve(&fitted.history),
        );
    }
    let relu = epochs_to["relu"];
    for other in ["tanh", "sigmoid"] {
        if relu.is_finite() && epochs_to[other].is_finite() {
            out.set(format!("epochs_ratio_{other}_to_relu"), epochs_to[other] / relu);
        }
    }
    out.holds = relu < epochs_to["tanh"] && relu < epochs_to["sigmoid"];
    Ok(out)
}

// ---- 6. dying relu ----------------------------------------------------------------------------

fn dying_relu(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((600, 5), (1797, 15));
    let data = spaced_rows(dataset("digits", None)?.train, samples);
    let leaky = Activation::LeakyRelu { negative_slope: 0.01 };
    let mut dead = BTreeMap::new();
    for (activation, lr) in [(Activation::Relu, 0.05), (Activation::Relu, 1e-3), (leaky, 0.05)] {
        let mut model = untrained(&data, vec![128, 128], activation, SEED)?;
        let config = TrainConfig {
            diagnostics: Some(2000),
            ..training(OptimizerKind::Adam, lr, epochs)
        };
        let history = train_model(&mut model, &data, &config)?;
        let d = model.diagnose(&data, 2000)?;
        let key = format!("{activation}_lr_{lr}");
        dead.insert(
            key.clone(),
            out.set(
                format!("{key}_dead_fraction"),
                hidden_mean(&d, |l| Some(l.dead_fraction)),
            ),
        );
        out.set(format!("{key}_train_accuracy"), accuracy(&model, &data)?);
        out.curve(
            "dead fraction of hidden units",
            Axis::Epoch,
            false,
            format!("{activation} lr {lr}"),
            history
                .epochs
                .iter()
                .filter_map(|r| {
                    r.diagnostics
                        .as_ref()
                        .map(|d| (r.epoch as f64, hidden_mean(d, |l| Some(l.dead_fraction))))
                })
                .collect(),
        );
    }
    let (large, small, leaky_dead) = (dead["relu_lr_0.05"], dead["relu_lr_0.001"], dead["leaky_relu_lr_0.05"]);
    out.holds = large >= 0.05 && large > small && leaky_dead < 0.01;
    out.notes.push(format!(
        "Measured {:.1}% dead relu units at learning rate 0.05 ({} the claimed 20-50%).",
        100.0 * large,
        if (0.2..=0.5).contains(&large) {
            "within"
        } else {
            "outside"
        }
    ));
    Ok(out)
}

// ---- 7. softmax -------------------------------------------------------------------------------

/// Smallest value, largest value and largest |row sum − 1| of probability rows.
fn distribution_stats(probabilities: &[f32], cols: usize) -> (f64, f64, f64) {
    let min = probabilities.iter().fold(f64::INFINITY, |m, &p| m.min(f64::from(p)));
    let max = probabilities
        .iter()
        .fold(f64::NEG_INFINITY, |m, &p| m.max(f64::from(p)));
    let sum_error = probabilities
        .chunks_exact(cols)
        .map(|row| (row.iter().map(|&p| f64::from(p)).sum::<f64>() - 1.0).abs())
        .fold(0.0, f64::max);
    (min, max, sum_error)
}

fn softmax_rows(logits: &[f32], cols: usize, shift: f32) -> Vec<f32> {
    let mut p: Vec<f32> = logits.iter().map(|&z| z + shift).collect();
    p.chunks_exact_mut(cols).for_each(softmax_in_place);
    p
}

fn softmax_distribution(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (rows, cols) = (1000, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let normal = Normal::new(0.0f32, 3.0).expect("finite std");
    let logits: Vec<f32> = (0..rows * cols).map(|_| normal.sample(&mut rng)).collect();
    let p = softmax_rows(&logits, cols, 0.0);
    let (min, max, sum_error) = distribution_stats(&p, cols);
    out.set("random_logits_min_probability", min);
    out.set("random_logits_max_probability", max);
    out.set("random_logits_max_sum_error", sum_error);
    let mut holds = min > 0.0 && max < 1.0 && sum_error <= 1e-6;
    for shift in [10.0f32, 1000.0] {
        let shifted = softmax_rows(&logits, cols, shift);
        let change = p
            .iter()
            .zip(&shifted)
            .map(|(&a, &b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        out.set(format!("max_change_adding_{shift}_to_logits"), change);
        if shift == 10.0 {
            holds &= change <= 1e-5;
        }
    }
    // Without subtracting the row maximum, e^(z + 1000) overflows to infinity.
    let naive_nan_rows = logits
        .chunks_exact(cols)
        .filter(|row| {
            let e: Vec<f32> = row.iter().map(|&z| (z + 1000.0).exp()).collect();
            let sum: f32 = e.iter().sum();
            e.iter().any(|&v| (v / sum).is_nan())
        })
        .count();
    out.set("naive_softmax_nan_rows_adding_1000", naive_nan_rows as f64);

    let iris = dataset("iris", None)?.train;
    let config = fit_config(
        vec![16],
        Activation::Relu,
        training(OptimizerKind::Adam, 0.01, budget.pick(30, 100)),
    );
    let fitted = fit(&iris, &config, |_| {})?;
    let probabilities = fitted.model.predict(&iris)?;
    let (min, max, sum_error) = distribution_stats(probabilities.as_slice(), probabilities.cols());
    out.set("iris_min_probability", min);
    out.set("iris_max_probability", max);
    out.set("iris_max_sum_error", sum_error);
    let rounded = probabilities
        .as_slice()
        .iter()
        .filter(|&&p| p == 0.0 || p == 1.0)
        .count();
    out.set("iris_probabilities_rounded_to_0_or_1", rounded as f64);
    // Whether each probability lies strictly inside (0, 1) is decided on log-probabilities from
    // the logits in f64, which resolve a top probability of 1 - 1e-10 that f32 rounds to 1.
    let (x, _, _) = fitted.model.prepare(&iris)?;
    let mut ws = Workspace::default();
    fitted.model.mlp.forward(x.as_slice(), x.rows(), &mut ws);
    let log_max = ws
        .logits()
        .chunks_exact(probabilities.cols())
        .flat_map(|row| {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(f64::from(z)));
            let lse = m + row.iter().map(|&z| (f64::from(z) - m).exp()).sum::<f64>().ln();
            row.iter().map(move |&z| f64::from(z) - lse)
        })
        .fold(f64::NEG_INFINITY, f64::max);
    out.set("iris_largest_log_probability", log_max);
    if rounded > 0 {
        out.notes.push(format!(
            "Exactly 0 or 1 in f32: {rounded} of the trained classifier's {} probabilities (a confident \
             answer's top probability is closer to 1 than f32 resolves there, 3e-8); its log-probability, \
             {log_max:.3e} at most, shows it is below 1, and the rows still sum to 1.",
            probabilities.as_slice().len()
        ));
    }
    out.set("iris_train_accuracy", accuracy(&fitted.model, &iris)?);
    let mean_top = probabilities
        .iter_rows()
        .map(|row| row.iter().fold(0.0f64, |m, &p| m.max(f64::from(p))))
        .sum::<f64>()
        / probabilities.rows() as f64;
    out.set("iris_mean_top_probability", mean_top);
    holds &= log_max < 0.0 && log_max.is_finite() && sum_error <= 1e-6;
    out.holds = holds;
    Ok(out)
}

// ---- 8. output activation vs target range -----------------------------------------------------

/// `y = 4 + 2·x₁ − x₂² + 0.1·ε` for `x` uniform in [-1, 1]²: targets in about [1, 6].
fn regression_data(n: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let noise = Normal::new(0.0f32, 0.1).expect("finite std");
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        x.extend([a, b]);
        y.push(4.0 + 2.0 * a - b * b + noise.sample(&mut rng));
    }
    Dataset {
        x: Matrix::from_vec(n, 2, x),
        feature_names: vec!["x1".into(), "x2".into()],
        target_name: "y".into(),
        target: Target::Values(y),
        images: false,
    }
}

fn output_fits_target(budget: Budget) -> Result<Outcome> {
    let mut out = Outcome::default();
    let (samples, epochs) = budget.pick((200, 60), (500, 150));
    let above_one = regression_data(samples);
    let Target::Values(y) = &above_one.target else {
        unreachable!("regression data has values")
    };
    let (low, high) = y
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    out.set("targets_min", f64::from(low));
    out.set("targets_max", f64::from(high));
    let unit = Dataset {
        target: Target::Values(y.iter().map(|&v| (v - low) / (high - low)).collect()),
        ..above_one.clone()
    };
    let regress = |data: &Dataset, output: Activation| -> Result<(f64, f64)> {
        let config = FitConfig {
            output: Some(output),
            scale_target: false,
            ..fit_config(vec![32], Activation::Tanh, training(OptimizerKind::Adam, 0.01, epochs))
        };
        let scores = fit(data, &config, |_| {})?.model.evaluate(data)?;
        Ok((scores.loss, scores.r2.expect("regression scores have R²")))
    };
    let mut holds = true;
    for output in [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
    ] {
        let (mse, r2) = regress(&above_one, output)?;
        out.set(format!("above_1_{output}_mse"), mse);
        out.set(format!("above_1_{output}_r2"), r2);
        holds &= if matches!(output, Activation::Identity | Activation::Relu) {
            r2 >= 0.9
        } else {
            r2 < 0.0
        };
    }
    let (mse, r2) = regress(&unit, Activation::Sigmoid)?;
    out.set("unit_interval_sigmoid_mse", mse);
    out.set("unit_interval_sigmoid_r2", r2);
    holds &= r2 >= 0.9;

    let iris = dataset("iris", None)?.train;
    let config = fit_config(vec![16], Activation::Relu, training(OptimizerKind::Adam, 0.01, epochs));
    let fitted = fit(&iris, &config, |_| {})?;
    let scores = fitted.model.evaluate(&iris)?;
    out.set("iris_softmax_cross_entropy", scores.loss);
    let acc = out.set("iris_softmax_train_accuracy", scores.accuracy.unwrap_or(0.0));
    holds &= acc >= 0.9;
    out.holds = holds;
    Ok(out)
}

// ---- 9. initialisation ------------------------------------------------------------------------

/// Mean and variance of each hidden layer's outputs over a forward pass of `x`.
fn layer_statistics(mlp: &Mlp, x: &Matrix) -> Vec<(f64, f64)> {
    let mut ws = Workspace::default();
    mlp.forward(x.as_slice(), x.rows(), &mut ws);
    (0..mlp.layers().len() - 1)
        .map(|i| {
            let h = ws.output_of(i);
            let n = h.len().max(1) as f64;
            let mean = h.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = h.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            (mean, var)
        })
        .collect()
}

fn init_matches_activation(budget: Budget) -> Result<Outcome> {
    const DEPTH: usize = 30;
    let mut out = Outcome::default();
    let (samples, width) = budget.pick((200, 64), (1000, 128));
    let data = spaced_rows(dataset("mnist1d", None)?.train, samples);
    let mut x = data.x.clone();
    Standardizer::fit(&x).apply(&mut x);
    let mut holds = true;
    for (activation, init) in [
        (Activation::Relu, Init::He),
        (Activation::Relu, Init::Glorot),
        (Activation::Relu, Init::Lecun),
        (Activation::Tanh, Init::Glorot),
        (Activation::Selu, Init::Lecun),
    ] {
        let config = MlpConfig {
            inputs: x.cols(),
            hidden: vec![width; DEPTH],
            activations: vec![activation],
            outputs: 1,
            output: Activation::Identity,
            residual: false,
            init: Some(init),
        };
        let mlp = Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(SEED))?;
        let stats = layer_statistics(&mlp, &x);
        let key = format!("{activation}_{init}");
        let (first_var, (last_mean, last_var)) = (stats[0].1, stats[DEPTH - 1]);
        out.set(format!("{key}_layer1_variance"), first_var);
        out.set(format!("{key}_layer30_variance"), last_var);
        out.set(format!("{key}_layer30_mean"), last_mean);
        let ratio = out.set(format!("{key}_variance_ratio_30_to_1"), last_var / first_var);
        holds &= match (activation, init) {
            (Activation::Relu, Init::He) => (0.1..=10.0).contains(&ratio),
            (Activation::Relu, _) => ratio < 1e-3,
            (Activation::Tanh, _) => ratio > 1e-2,
            _ => last_mean.abs() < 0.2 && (0.5..=2.0).contains(&last_var),
        };
        out.curve(
            "output variance at init",
            Axis::Layer,
            true,
            format!("{activation} {init}"),
            stats
                .iter()
                .enumerate()
                .map(|(i, &(_, v))| ((i + 1) as f64, v))
                .collect(),
        );
    }
    out.holds = holds;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(id: u8) -> ExperimentResult {
        find(id).unwrap().run(Budget::Quick).unwrap()
    }

    fn m(r: &ExperimentResult, name: &str) -> f64 {
        *r.measurements
            .get(name)
            .unwrap_or_else(|| panic!("no measurement {name} in {:?}", r.measurements.keys()))
    }

    #[test]
    fn identity_network_is_one_affine_map_and_stays_at_chance() {
        let r = quick(1);
        assert!(m(&r, "folded_map_max_abs_difference_identity") < 1e-4);
        assert!(m(&r, "folded_map_max_abs_difference_tanh") > 1e-2);
        for data in ["xor", "circles"] {
            let identity = m(&r, &format!("{data}_identity_train_accuracy"));
            for nonlinear in ["tanh", "relu"] {
                let fitted = m(&r, &format!("{data}_{nonlinear}_train_accuracy"));
                assert!(
                    fitted > identity + 0.2,
                    "{data}: {nonlinear} {fitted} vs identity {identity}"
                );
            }
        }
    }

    #[test]
    fn deep_sigmoid_gradients_vanish_relu_gradients_do_not() {
        let r = quick(2);
        let (sigmoid, relu) = (m(&r, "sigmoid_gradient_ratio_init"), m(&r, "relu_gradient_ratio_init"));
        assert!(sigmoid * 100.0 < relu, "sigmoid {sigmoid}, relu {relu}");
        let curve = r.curve("gradient norm at init", "sigmoid").unwrap();
        assert_eq!(curve.points.len(), 11);
    }

    #[test]
    fn sigmoid_outputs_are_off_centre_and_tanh_outputs_are_not() {
        let r = quick(3);
        for when in ["init", "trained"] {
            let sigmoid = m(&r, &format!("sigmoid_layer1_output_mean_{when}")).abs();
            let tanh = m(&r, &format!("tanh_layer1_output_mean_{when}")).abs();
            assert!(sigmoid > tanh + 0.2, "{when}: {sigmoid} vs {tanh}");
            let sigmoid = m(&r, &format!("sigmoid_layer2_same_sign_share_{when}"));
            let tanh = m(&r, &format!("tanh_layer2_same_sign_share_{when}"));
            assert!(sigmoid > tanh + 0.1, "{when}: {sigmoid} vs {tanh}");
        }
    }

    /// Epochs to the target, infinite when the run never reached it.
    fn epochs(r: &ExperimentResult, prefix: &str) -> f64 {
        r.measurements
            .get(&format!("{prefix}_epochs_to_target"))
            .copied()
            .unwrap_or(f64::INFINITY)
    }

    #[test]
    fn tanh_trains_faster_than_sigmoid() {
        let r = quick(4);
        for optimizer in ["sgd", "adam"] {
            let (tanh, sigmoid) = (format!("{optimizer}_tanh"), format!("{optimizer}_sigmoid"));
            assert!(epochs(&r, &tanh).is_finite() && epochs(&r, &tanh) < epochs(&r, &sigmoid));
            let loss = |p: &str| m(&r, &format!("{p}_train_loss"));
            assert!(loss(&tanh) < loss(&sigmoid), "{optimizer}");
        }
    }

    #[test]
    fn relu_reaches_the_target_first() {
        let r = quick(5);
        let relu = epochs(&r, "relu");
        assert!(relu.is_finite() && relu < epochs(&r, "tanh") && relu < epochs(&r, "sigmoid"));
        assert!(m(&r, "relu_train_accuracy") > m(&r, "sigmoid_train_accuracy"));
    }

    #[test]
    fn large_learning_rate_kills_relu_units_but_not_leaky_ones() {
        let r = quick(6);
        let large = m(&r, "relu_lr_0.05_dead_fraction");
        assert!(large > m(&r, "relu_lr_0.001_dead_fraction"));
        assert!(large > m(&r, "leaky_relu_lr_0.05_dead_fraction"));
        assert!(r.notes.as_deref().unwrap().contains("dead relu units"));
    }

    #[test]
    fn softmax_rows_are_distributions() {
        let r = quick(7);
        for set in ["random_logits", "iris"] {
            assert!(m(&r, &format!("{set}_max_sum_error")) <= 1e-6);
            assert!(m(&r, &format!("{set}_min_probability")) >= 0.0);
            assert!(m(&r, &format!("{set}_max_probability")) <= 1.0);
        }
        assert!(m(&r, "max_change_adding_10_to_logits") <= 1e-5);
        assert!(m(&r, "naive_softmax_nan_rows_adding_1000") > 0.0);
        assert!(m(&r, "iris_mean_top_probability") > 1.0 / 3.0);
    }

    #[test]
    fn bounded_outputs_fail_on_targets_above_one() {
        let r = quick(8);
        assert!(m(&r, "targets_max") > 1.0);
        for bounded in ["sigmoid", "tanh"] {
            for unbounded in ["identity", "relu"] {
                let (b, u) = (format!("above_1_{bounded}"), format!("above_1_{unbounded}"));
                assert!(m(&r, &format!("{u}_r2")) > m(&r, &format!("{b}_r2")) + 1.0);
                assert!(m(&r, &format!("{u}_mse")) < m(&r, &format!("{b}_mse")));
            }
        }
        assert!(m(&r, "unit_interval_sigmoid_r2") > m(&r, "above_1_sigmoid_r2") + 1.0);
    }

    #[test]
    fn he_keeps_relu_signal_and_glorot_loses_it() {
        let r = quick(9);
        let he = m(&r, "relu_he_layer30_variance");
        for init in ["glorot", "lecun"] {
            assert!(he > 1e3 * m(&r, &format!("relu_{init}_layer30_variance")), "{init}");
        }
        assert!(m(&r, "selu_lecun_layer30_mean").abs() < m(&r, "relu_he_layer30_mean").abs());
        let curve = r.curve("output variance at init", "relu he").unwrap();
        assert_eq!(curve.points.len(), 30);
    }

    #[test]
    fn result_json_has_the_documented_fields() {
        let json = serde_json::to_value(quick(7)).unwrap();
        for key in ["id", "claim", "criterion", "measurements", "holds", "seconds"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(json.get("series").is_none(), "empty series are left out");
    }

    #[test]
    fn measurements_are_readable() {
        assert_eq!(format_measurement(12.0), "12");
        assert_eq!(format_measurement(0.95123), "0.9512");
        assert_eq!(format_measurement(3.2e-7), "3.20e-7");
        assert_eq!(format_measurement(-0.5), "-0.5000");
        assert_eq!(headline(EXPERIMENTS[1].claim), "Sigmoid saturates and kills gradients");
    }

    #[test]
    fn experiments_are_numbered_one_to_nine() {
        let ids: Vec<u8> = EXPERIMENTS.iter().map(|e| e.id).collect();
        assert_eq!(ids, (1..=9).collect::<Vec<_>>());
        assert!(find(0).is_none() && find(10).is_none());
    }
}
