//! Mini-batch training: seeded shuffling, epochs, validation, early stopping with the best
//! weights restored, per-epoch history and divergence detection.

use std::ops::Range;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{diagnose, Diagnostics};
use crate::loss::Loss;
use crate::metrics;
use crate::mlp::Workspace;
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig, OptimizerKind, Schedule, Scheduler};
use crate::{Activation, Error, Matrix, Mlp, Result};

/// Samples prepared for the network: inputs and dense targets (one-hot rows for classes).
#[derive(Clone, Copy, Debug)]
pub struct Batchable<'a> {
    /// Inputs, `[n, inputs]`.
    pub x: &'a Matrix,
    /// Targets, `[n, outputs]`.
    pub targets: &'a Matrix,
    /// Class index of each sample, when the task is classification (for accuracy).
    pub labels: Option<&'a [u32]>,
}

/// Settings of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Initial learning rate.
    pub learning_rate: f32,
    /// Update rule and its constants.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Clip the gradient's global L2 norm to this value.
    pub clip_norm: Option<f32>,
    /// Stop when the validation loss has not improved for this many epochs, and restore the
    /// best weights (needs validation data).
    pub patience: Option<usize>,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Record [`Diagnostics`] of the training data after every epoch, on at most this many samples.
    pub diagnostics: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 32,
            learning_rate: 1e-3,
            optimizer: OptimizerConfig::default(),
            schedule: Schedule::Constant,
            clip_norm: None,
            patience: None,
            seed: 0,
            diagnostics: None,
        }
    }
}

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss over the epoch's batches.
    pub train_loss: f64,
    /// Accuracy over the epoch's batches (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Loss on the validation data after the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Accuracy (classification) or R² (regression) on the validation data after the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_score: Option<f64>,
    /// Learning rate used during the epoch.
    pub learning_rate: f32,
    /// Wall-clock seconds since training began, not counting the time spent on diagnostics.
    pub seconds: f64,
    /// Per-layer measurements after the epoch, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Diagnostics>,
}

/// The record of a training run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
    /// Epoch (1-based) whose weights the network holds at the end, when early stopping restored them.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended training before the last epoch.
    pub stopped_early: bool,
    /// Gradient steps taken.
    pub steps: usize,
}

/// Trains `mlp` on `train`, validating on `validation` after each epoch, and calls `on_epoch`
/// with each epoch's record (for progress display).
///
/// # Errors
/// [`Error::Config`] for zero epochs or batch size, or data that does not fit the network;
/// [`Error::Diverged`] when the loss becomes non-finite, naming where values first did.
pub fn train(
    mlp: &mut Mlp,
    loss: Loss,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    check_config(mlp, train, validation, config)?;
    loss.check(mlp.layers().last().unwrap().activation)?;
    let (n, inputs, outputs) = (train.x.rows(), mlp.inputs(), mlp.outputs());
    let batch_size = config.batch_size.min(n);

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut scheduler = Scheduler::new(config.schedule, config.learning_rate, config.epochs);
    let mut stepper = Stepper::new(mlp, loss, config.optimizer, config.clip_norm);
    let spin = steps_have_parallel_work(mlp, batch_size, config.optimizer);
    let mut batch_x = Vec::with_capacity(batch_size * inputs);
    let mut batch_t = Vec::with_capacity(batch_size * outputs);
    let mut best: Option<(f64, usize, Vec<f32>)> = None;
    let mut history = History::default();
    let start = Instant::now();
    // Time spent on diagnostics, left out of the records' `seconds`.
    let mut diagnostics_seconds = 0.0;

    for epoch in 0..config.epochs {
        order.shuffle(&mut rng);
        let lr = scheduler.rate();
        let (loss_sum, correct) = on_busy_pool(spin, || -> Result<(f64, usize)> {
            let (mut loss_sum, mut correct) = (0.0f64, 0usize);
            for (step, batch) in order.chunks(batch_size).enumerate() {
                gather_rows(train.x, batch, &mut batch_x);
                gather_rows(train.targets, batch, &mut batch_t);
                let batch_loss = stepper.forward_loss(mlp, &batch_x, &batch_t, batch.len());
                if !batch_loss.is_finite() {
                    return Err(diverged(mlp, stepper.workspace(), epoch, step, batch_loss, lr));
                }
                loss_sum += batch_loss * batch.len() as f64;
                if let Some(labels) = train.labels {
                    correct += batch
                        .iter()
                        .zip(stepper.workspace().output().chunks_exact(outputs))
                        .filter(|(&i, row)| metrics::predicted_class(row) == labels[i] as usize)
                        .count();
                }
                stepper.update(mlp, &batch_x, lr);
                history.steps += 1;
            }
            Ok((loss_sum, correct))
        })?;
        let train_loss = loss_sum / n as f64;
        let (val_loss, val_score) = match validation {
            Some(v) => {
                let e = evaluate(mlp, v, loss);
                (Some(e.loss), e.score)
            }
            None => (None, None),
        };
        let seconds = start.elapsed().as_secs_f64() - diagnostics_seconds;
        let diagnostics_start = Instant::now();
        let diagnostics = config
            .diagnostics
            .map(|max| diagnose(mlp, train.x, train.targets, loss, max));
        diagnostics_seconds += diagnostics_start.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss,
            train_accuracy: train.labels.map(|_| correct as f64 / n as f64),
            val_loss,
            val_score,
            learning_rate: lr,
            seconds,
            diagnostics,
        };
        on_epoch(&record);
        history.epochs.push(record);
        scheduler.end_epoch(epoch, val_loss.unwrap_or(train_loss));

        if let (Some(patience), Some(val)) = (config.patience, val_loss) {
            if best.as_ref().is_none_or(|(b, _, _)| val < *b) {
                best = Some((val, epoch + 1, mlp.params().to_vec()));
            } else if epoch + 1 - best.as_ref().unwrap().1 >= patience {
                history.stopped_early = true;
                break;
            }
        }
    }
    if let Some((_, best_epoch, params)) = best {
        mlp.params_mut().copy_from_slice(&params);
        history.best_epoch = Some(best_epoch);
    }
    Ok(history)
}

/// Runs `steps` on a thread of the rayon pool and returns its result; with `spin`, the pool's
/// other threads wait for work by spinning rather than sleeping meanwhile.
///
/// Each training step has several parallel regions (the batch gather, the large products,
/// Adam) with short serial stretches between them, longer than rayon's idle threads spin
/// before they sleep. Waking a sleeping thread is a system call (a futex wake, an
/// inter-processor interrupt under a hypervisor): in a profile of W2 (`bench/RESULTS.md`) it
/// took 21 % of all samples. Here every other thread of the pool runs a task that keeps
/// taking work from the pool (`rayon::yield_now`) until `steps` returns, so it never sleeps
/// and is never woken; like OpenMP's spin-wait, those threads use their cores for the duration.
/// The results do not change: only which thread runs a block of work does. Steps without
/// parallel work do not spin (measured: a spinning neighbour slowed the small steps of
/// `actlab compare`, which have none, by about a fifth).
fn on_busy_pool<T: Send>(spin: bool, steps: impl FnOnce() -> T + Send) -> T {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, Ordering};
    thread_local! {
        /// Whether this thread is running training steps (further down its stack, too).
        static RUNNING_STEPS: Cell<bool> = const { Cell::new(false) };
    }
    /// When the steps end, even by a panic: restores the thread's flag and releases the helpers.
    struct End<'a>(bool, &'a AtomicBool);
    impl Drop for End<'_> {
        fn drop(&mut self) {
            RUNNING_STEPS.set(self.0);
            self.1.store(true, Ordering::Release);
        }
    }
    let done = AtomicBool::new(false);
    let done = &done;
    rayon::scope(|s| {
        let helpers = if spin { rayon::current_num_threads() - 1 } else { 0 };
        for _ in 0..helpers {
            s.spawn(move |_| {
                // A thread running steps (these or another training's, when several train at
                // once on one pool) may pick this task up while it waits for other work; it
                // must not spin then, or two trainings could each wait for the other's end.
                if RUNNING_STEPS.get() {
                    return;
                }
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        let _end = End(RUNNING_STEPS.replace(true), done);
        steps()
    })
}

/// Batches of at least this many values are gathered by the rayon pool.
const GATHER_PARALLEL_FROM: usize = 1 << 16;

/// Whether a training step of `rows` samples has work it shares out over threads: a large
/// batch to gather, a product [`crate::matrix::gemm`] cuts into blocks, or Adam's update.
fn steps_have_parallel_work(mlp: &Mlp, rows: usize, optimizer: OptimizerConfig) -> bool {
    use crate::matrix::is_split;
    let adam = matches!(optimizer.kind, OptimizerKind::Adam | OptimizerKind::AdamW);
    rows * mlp.inputs() >= GATHER_PARALLEL_FROM
        || (adam && crate::optim::adam_is_parallel(mlp.params().len()))
        || mlp.layers().iter().any(|l| {
            is_split(rows, l.outputs, l.inputs)
                || is_split(l.outputs, l.inputs, rows)
                || is_split(rows, l.inputs, l.outputs)
        })
}

/// `out` = the rows of `m` listed in `rows`, in that order; large batches are copied by the
/// rayon pool (copying one core's share at a time leaves memory bandwidth unused).
fn gather_rows(m: &Matrix, rows: &[usize], out: &mut Vec<f32>) {
    let cols = m.cols();
    out.resize(rows.len() * cols, 0.0);
    let copy = |(dst, &i): (&mut [f32], &usize)| dst.copy_from_slice(m.row(i));
    if out.len() >= GATHER_PARALLEL_FROM && cols > 0 {
        use rayon::prelude::*;
        out.par_chunks_exact_mut(cols).zip(rows).for_each(copy);
    } else {
        out.chunks_exact_mut(cols.max(1)).zip(rows).for_each(copy);
    }
}

/// One gradient step's state, reused from step to step so that a step allocates nothing once
/// the first has sized the buffers: the forward/backward workspace, the gradient and the
/// optimizer's moments.
#[derive(Debug)]
pub struct Stepper {
    loss: Loss,
    output: Activation,
    clip_norm: Option<f32>,
    ws: Workspace,
    grads: Vec<f32>,
    optimizer: Optimizer,
    decayed: Vec<Range<usize>>,
}

impl Stepper {
    /// A stepper for `mlp` trained with `loss` (which must fit its output activation, see
    /// [`Loss::check`]), `optimizer` and optional gradient clipping.
    pub fn new(mlp: &Mlp, loss: Loss, optimizer: OptimizerConfig, clip_norm: Option<f32>) -> Self {
        Self {
            loss,
            output: mlp.layers().last().unwrap().activation,
            clip_norm,
            ws: Workspace::default(),
            grads: vec![0.0; mlp.params().len()],
            optimizer: Optimizer::new(optimizer, mlp.params().len()),
            decayed: mlp.weight_ranges().collect(),
        }
    }

    /// Forward pass of `rows` samples `x` (`[rows, inputs]`) and the loss against `targets`
    /// (`[rows, outputs]`); returns the mean loss and leaves `∂L/∂z` of the output layer in the
    /// workspace for [`Stepper::update`].
    pub fn forward_loss(&mut self, mlp: &Mlp, x: &[f32], targets: &[f32], rows: usize) -> f64 {
        mlp.forward(x, rows, &mut self.ws);
        let (z, y, grad_z) = self.ws.output_parts();
        self.loss
            .loss_and_grad(self.output, z, y, targets, mlp.outputs(), grad_z)
    }

    /// Backward pass after [`Stepper::forward_loss`] on the same `x`, then one optimizer update
    /// at learning rate `lr` (after clipping the gradient, when asked for).
    pub fn update(&mut self, mlp: &mut Mlp, x: &[f32], lr: f32) {
        mlp.backward(x, &mut self.ws, &mut self.grads);
        if let Some(max_norm) = self.clip_norm {
            clip_grad_norm(&mut self.grads, max_norm);
        }
        self.optimizer
            .step(mlp.params_mut(), &mut self.grads, lr, self.decayed.iter().cloned());
    }

    /// The workspace of the last forward pass.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }
}

fn check_config(
    mlp: &Mlp,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
) -> Result<()> {
    if config.epochs == 0 {
        return Err(Error::config("--epochs must be at least 1"));
    }
    if config.batch_size == 0 {
        return Err(Error::config("--batch-size must be at least 1"));
    }
    if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
        return Err(Error::config(format!(
            "--lr must be a positive number, got {}",
            config.learning_rate
        )));
    }
    if train.x.rows() == 0 {
        return Err(Error::config("no training samples"));
    }
    if config.patience.is_some() && validation.is_none() {
        return Err(Error::config("early stopping needs validation data"));
    }
    for data in std::iter::once(train).chain(validation) {
        if data.x.cols() != mlp.inputs() || data.targets.cols() != mlp.outputs() || data.targets.rows() != data.x.rows()
        {
            return Err(Error::config(format!(
                "data has {} features and {} targets per sample; the network takes {} and gives {}",
                data.x.cols(),
                data.targets.cols(),
                mlp.inputs(),
                mlp.outputs()
            )));
        }
    }
    Ok(())
}

/// Names the first place where values stopped being finite: a layer's parameters, its
/// pre-activations, or (if everything inside the network is finite) the loss itself.
fn diverged(mlp: &Mlp, ws: &Workspace, epoch: usize, step: usize, loss: f64, lr: f32) -> Error {
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    let describe = |i: usize| {
        let l = mlp.layers()[i];
        let kind = if i + 1 == mlp.layers().len() {
            "output layer".to_string()
        } else {
            format!("hidden layer {}", i + 1)
        };
        format!("{kind} ({} → {}, {})", l.inputs, l.outputs, l.activation)
    };
    let place = (0..mlp.layers().len())
        .find_map(|i| {
            if !finite(&mlp.params()[mlp.layer_range(i)]) {
                Some(format!("the weights of {} became non-finite", describe(i)))
            } else if !finite(ws.pre_activation(i)) {
                Some(format!("the pre-activations of {} became non-finite", describe(i)))
            } else if !finite(ws.activation(i)) {
                Some(format!("the outputs of {} became non-finite", describe(i)))
            } else {
                None
            }
        })
        .unwrap_or_else(|| "every value inside the network is finite but the loss is not".to_string());
    Error::Diverged {
        epoch: epoch + 1,
        detail: format!("loss is {loss} at step {} of the epoch; {place}", step + 1),
        learning_rate: lr,
    }
}

/// Loss and score of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Accuracy for classification, R² for regression (`None` where R² is undefined: fewer
    /// than two samples, or a constant target).
    pub score: Option<f64>,
}

/// Mean loss and score (accuracy with labels, else R² over all outputs) of `data`.
pub fn evaluate(mlp: &Mlp, data: Batchable<'_>, loss: Loss) -> Evaluation {
    const CHUNK: usize = 1024;
    let output = mlp.layers().last().unwrap().activation;
    let (inputs, outputs) = (mlp.inputs(), mlp.outputs());
    let mut ws = Workspace::default();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut predictions = Vec::with_capacity(if data.labels.is_none() {
        data.x.rows() * outputs
    } else {
        0
    });
    // On a thread of the rayon pool, like training.
    rayon::scope(|_| {
        for (c, chunk) in data.x.as_slice().chunks(CHUNK * inputs).enumerate() {
            let rows = chunk.len() / inputs;
            let targets = &data.targets.as_slice()[c * CHUNK * outputs..][..rows * outputs];
            mlp.forward(chunk, rows, &mut ws);
            loss_sum += loss.loss(output, ws.logits(), ws.output(), targets, outputs) * rows as f64;
            match data.labels {
                Some(labels) => {
                    let labels = &labels[c * CHUNK..][..rows];
                    correct += ws
                        .output()
                        .chunks_exact(outputs)
                        .zip(labels)
                        .filter(|(row, &l)| metrics::predicted_class(row) == l as usize)
                        .count();
                }
                None => predictions.extend_from_slice(ws.output()),
            }
        }
    });
    let n = data.x.rows().max(1) as f64;
    let score = match data.labels {
        Some(_) => Some(correct as f64 / n),
        None => metrics::r2(&predictions, data.targets.as_slice()),
    };
    Evaluation {
        loss: loss_sum / n,
        score,
    }
}
