//! Mini-batch training: seeded shuffling, epochs, validation, early stopping with the best
//! weights restored, per-epoch history, divergence detection, and a [`State`] to continue an
//! interrupted run from.

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
use crate::optim::{
    clip_grad_norm, Optimizer, OptimizerConfig, OptimizerKind, OptimizerState, Schedule, SchedulePosition, Scheduler,
};
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
    /// Weight of each sample's loss in training (see [`Loss::weighted_loss_and_grad`]);
    /// `None`: all 1. Validation losses and scores are unweighted.
    pub weights: Option<&'a [f32]>,
}

/// Settings of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training data; `None`: enough to see about 40,000 samples, 10 to 300
    /// epochs (see [`default_epochs`]).
    pub epochs: Option<usize>,
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
    /// Inverted dropout on the hidden layers' outputs during training (never when evaluating
    /// or predicting): one rate for every hidden layer, or one per hidden layer, each in
    /// `[0, 1)`; empty (or all 0) for none. The masks are drawn from a generator seeded by
    /// [`TrainConfig::seed`] and the step number, so a run is the same on every repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropout: Vec<f32>,
}

/// Samples that the default number of epochs lets a run see.
pub const DEFAULT_SAMPLES_SEEN: usize = 40_000;

/// The default number of epochs for `n` training samples: enough to see about
/// [`DEFAULT_SAMPLES_SEEN`] samples, at least 10 and at most 300.
pub fn default_epochs(n: usize) -> usize {
    epochs_to_see(DEFAULT_SAMPLES_SEEN, n)
}

/// Epochs over `n` samples that see about `samples` of them, at least 10 and at most 300.
pub fn epochs_to_see(samples: usize, n: usize) -> usize {
    samples.div_ceil(n.max(1)).clamp(10, 300)
}

impl TrainConfig {
    /// The number of epochs a run on `n` training samples makes: [`TrainConfig::epochs`], or
    /// [`default_epochs`] when it is `None`.
    pub fn epochs_for(&self, n: usize) -> usize {
        self.epochs.unwrap_or_else(|| default_epochs(n))
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: None,
            batch_size: 32,
            learning_rate: 1e-3,
            optimizer: OptimizerConfig::default(),
            schedule: Schedule::Constant,
            clip_norm: None,
            patience: None,
            seed: 0,
            diagnostics: None,
            dropout: Vec::new(),
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
/// [`Error::Diverged`] when the loss becomes non-finite, naming where values first did, or
/// when an epoch's mean loss exceeds [`DIVERGENCE_FACTOR`] times the untrained network's.
pub fn train(
    mlp: &mut Mlp,
    loss: Loss,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    train_with(mlp, loss, train, validation, config, Continuation::default(), on_epoch)
}

/// A training run is declared diverged when an epoch's mean training loss exceeds this many
/// times the untrained network's mean loss over the training data (see [`untrained_loss`]),
/// even while it stays finite. (Over many rows, not over the first batch: one lucky row of a
/// batch of one can have a loss near 0.)
///
/// A run whose steps overshoot (Adam at a learning rate of 10⁶, say) can grow its weights and
/// its loss by many orders of magnitude without ever overflowing f32. Legitimate runs stay far
/// below the factor: the worst epoch of `actlab compare` and `actlab experiments` is at
/// 2.4 times the untrained network's mean loss (`actlab experiments`; `compare`: 0.82).
pub const DIVERGENCE_FACTOR: f64 = 1e4;

/// A function that receives a run's [`State`] (and writes a checkpoint of it, say).
pub type SaveState<'a> = &'a mut dyn FnMut(&State) -> Result<()>;

/// Where a run starts, and where it saves its state as it goes: see [`train_with`].
#[derive(Default)]
pub struct Continuation<'a> {
    /// The state of an interrupted run of the same configuration on the same data, to continue
    /// from; `None` starts afresh.
    pub resume: Option<State>,
    /// Every so many epochs (at least 1), and after the last epoch, the run's [`State`] is
    /// passed to this function (which writes a checkpoint, say); an error it returns ends training.
    pub checkpoint: Option<(usize, SaveState<'a>)>,
    /// For a fresh run (no `resume`): the optimizer's moments and step count to start from,
    /// those of earlier training of the same network ([`State::optimizer`]), possibly on other
    /// data, as scikit-learn's `partial_fit` carries them from call to call; `None`: a fresh
    /// optimizer.
    pub optimizer: Option<OptimizerState>,
}

/// The validation loss and the weights of the best epoch so far (early stopping).
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// Validation loss after the epoch.
    pub val_loss: f64,
    /// 1-based epoch.
    pub epoch: usize,
    /// The network's parameters after the epoch.
    pub params: Vec<f32>,
}

/// Everything a training run carries from one epoch to the next: continued from it (see
/// [`Continuation`]), a run ends with the same weights, bit for bit, as if it had never stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Epochs completed.
    pub epoch: usize,
    /// The network after those epochs.
    pub network: Mlp,
    /// The optimizer's moments and step count.
    pub optimizer: OptimizerState,
    /// The learning-rate schedule's position.
    pub schedule: SchedulePosition,
    /// The generator of the shuffles.
    pub rng: ChaCha8Rng,
    /// The order of the training samples in the last epoch (each epoch shuffles the order of
    /// the one before).
    pub order: Vec<usize>,
    /// Early stopping's best epoch so far.
    pub best: Option<Best>,
    /// Mean loss of the untrained network over the training data (see [`untrained_loss`]).
    pub start_loss: f64,
    /// The record of the epochs completed.
    pub history: History,
}

impl State {
    /// Checks every part against the others and against a run of `config` on `n` training
    /// samples: epoch counts, step counts, lengths, finite values, a permutation of the samples.
    ///
    /// # Errors
    /// The first thing that does not fit, in words.
    pub fn check(&self, n: usize, config: &TrainConfig) -> std::result::Result<(), String> {
        let p = self.network.params().len();
        let epochs = config.epochs_for(n);
        if !(1..=epochs).contains(&self.epoch) {
            return Err(format!("it is at epoch {} of a run of {epochs} epochs", self.epoch));
        }
        let h = &self.history;
        if h.epochs.len() != self.epoch || h.epochs.iter().enumerate().any(|(i, r)| r.epoch != i + 1) {
            return Err(format!("its history does not list epochs 1 to {} in order", self.epoch));
        }
        let steps = self.epoch * n.div_ceil(config.batch_size.min(n).max(1));
        if h.steps != steps || self.optimizer.steps as usize != steps {
            return Err(format!(
                "{} epochs of {n} samples in batches of {} take {steps} steps, but it counts {} (optimizer {})",
                self.epoch, config.batch_size, h.steps, self.optimizer.steps
            ));
        }
        if let Some(i) = self.network.params().iter().position(|x| !x.is_finite()) {
            return Err(format!("parameter {i} is {}", self.network.params()[i]));
        }
        self.optimizer.check(&config.optimizer, p)?;
        self.schedule.check(config.schedule, config.learning_rate)?;
        let mut seen = vec![false; n];
        if self.order.len() != n
            || !self
                .order
                .iter()
                .all(|&i| i < n && !std::mem::replace(&mut seen[i], true))
        {
            return Err(format!(
                "its sample order is not a permutation of the {n} training samples"
            ));
        }
        if let Some(best) = &self.best {
            if config.patience.is_none() {
                return Err("it has a best epoch but the run has no early stopping".into());
            }
            if !(1..=self.epoch).contains(&best.epoch) || best.params.len() != p {
                return Err(format!(
                    "its best epoch {} with {} parameters does not fit epoch {} and {p} parameters",
                    best.epoch,
                    best.params.len(),
                    self.epoch
                ));
            }
            if best.val_loss.is_nan() || best.params.iter().any(|x| !x.is_finite()) {
                return Err("its best epoch holds non-finite values".into());
            }
        }
        if h.stopped_early && config.patience.is_none() {
            return Err("it stopped early but the run has no early stopping".into());
        }
        if !(self.start_loss.is_finite() && self.start_loss >= 0.0) {
            return Err(format!("its initial loss is {}", self.start_loss));
        }
        Ok(())
    }
}

/// [`train`] that continues an interrupted run and saves its state as it goes, as
/// `continuation` says. Continued from the [`State`] after epoch k of a run, training ends with
/// the same weights and history (times aside) as that run would have, bit for bit.
///
/// # Errors
/// As [`train`]; [`Error::Config`] when the state to resume from does not fit the network,
/// the data or the configuration (see [`State::check`]), or the checkpoint interval is 0; and
/// whatever the checkpoint function returns.
pub fn train_with(
    mlp: &mut Mlp,
    loss: Loss,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
    continuation: Continuation<'_>,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<History> {
    train_timed(mlp, loss, train, validation, config, continuation, on_epoch).map(|(history, _)| history)
}

/// [`train_with`] that also returns the moment the first epoch began (after checking the data
/// and scoring the untrained network), for [`crate::model::Timings`].
pub(crate) fn train_timed(
    mlp: &mut Mlp,
    loss: Loss,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
    continuation: Continuation<'_>,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<(History, Instant)> {
    check_config(mlp, train, validation, config)?;
    if config.patience.is_some() && validation.is_none() {
        return Err(Error::config("early stopping needs validation data"));
    }
    loss.check(mlp.layers().last().unwrap().activation)?;
    let Continuation {
        resume,
        mut checkpoint,
        optimizer,
    } = continuation;
    if resume.is_some() && optimizer.is_some() {
        return Err(Error::config(
            "a run continues from a state or from an optimizer's state, not both",
        ));
    }
    if matches!(checkpoint, Some((0, _))) {
        return Err(Error::config("the checkpoint interval must be at least 1 epoch"));
    }
    let n = train.x.rows();
    let epochs = config.epochs_for(n);

    let mut scheduler = Scheduler::new(config.schedule, config.learning_rate, epochs);
    let mut best: Option<Best> = None;
    let mut history = History::default();
    let mut first_epoch = 0;
    if let Some(state) = &resume {
        let unfit = |e: String| Error::config(format!("the training state to resume from does not fit: {e}"));
        state.check(n, config).map_err(unfit)?;
        if state.network.layers() != mlp.layers() || state.network.residual() != mlp.residual() {
            return Err(unfit("its network has other layers".into()));
        }
        mlp.params_mut().copy_from_slice(state.network.params());
    }
    let start_loss = resume
        .as_ref()
        .map_or_else(|| untrained_loss(mlp, train, loss), |state| state.start_loss);
    let mut trainer = Trainer::new(mlp, loss, train, config, start_loss)?;
    if let Some(state) = optimizer {
        trainer.stepper.optimizer = Optimizer::resume(config.optimizer, mlp.params().len(), state)
            .map_err(|e| Error::config(format!("the optimizer state to start from does not fit: {e}")))?;
    }
    if let Some(state) = resume {
        trainer.stepper.optimizer = Optimizer::resume(config.optimizer, mlp.params().len(), state.optimizer)?;
        scheduler = Scheduler::resume(config.schedule, config.learning_rate, epochs, state.schedule)?;
        (trainer.rng, trainer.order, trainer.steps) = (state.rng, state.order, state.history.steps);
        (best, history) = (state.best, state.history);
        first_epoch = if history.stopped_early { epochs } else { state.epoch };
    }
    let spin = steps_have_parallel_work(mlp, config.batch_size.min(n), config.optimizer);
    let start = Instant::now();
    // Seconds of the epochs before a resumption.
    let earlier_seconds = history.epochs.last().map_or(0.0, |r| r.seconds);
    // Time spent on diagnostics, left out of the records' `seconds`.
    let mut diagnostics_seconds = 0.0;

    for epoch in first_epoch..epochs {
        let lr = scheduler.rate();
        let (train_loss, train_accuracy) = on_busy_pool(spin, || trainer.epoch(mlp, train, epoch, lr))?;
        history.steps = trainer.steps;
        let (val_loss, val_score) = match validation {
            Some(v) => {
                let e = evaluate(mlp, v, loss);
                (Some(e.loss), e.score)
            }
            None => (None, None),
        };
        let seconds = earlier_seconds + start.elapsed().as_secs_f64() - diagnostics_seconds;
        let diagnostics_start = Instant::now();
        let diagnostics = config
            .diagnostics
            .map(|max| diagnose(mlp, train.x, train.targets, loss, max));
        diagnostics_seconds += diagnostics_start.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss,
            train_accuracy,
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
            if best.as_ref().is_none_or(|b| val < b.val_loss) {
                best = Some(Best {
                    val_loss: val,
                    epoch: epoch + 1,
                    params: mlp.params().to_vec(),
                });
            } else if epoch + 1 - best.as_ref().unwrap().epoch >= patience {
                history.stopped_early = true;
            }
        }
        if let Some((every, save)) = &mut checkpoint {
            if (epoch + 1) % *every == 0 || epoch + 1 == epochs || history.stopped_early {
                save(&State {
                    epoch: epoch + 1,
                    network: mlp.clone(),
                    optimizer: trainer.stepper.optimizer.state(),
                    schedule: scheduler.position(),
                    rng: trainer.rng.clone(),
                    order: trainer.order.clone(),
                    best: best.clone(),
                    start_loss,
                    history: history.clone(),
                })?;
            }
        }
        if history.stopped_early {
            break;
        }
    }
    if let Some(best) = best {
        mlp.params_mut().copy_from_slice(&best.params);
        history.best_epoch = Some(best.epoch);
    }
    Ok((history, start))
}

/// What training carries from epoch to epoch besides the network: the generator of the
/// shuffles and the order of the samples, the gradient steps' state (the optimizer's included)
/// and their count, and the untrained network's loss that divergence is measured against.
/// [`train_with`] runs each of its epochs through [`Trainer::epoch`], and so does the lab
/// ([`crate::lab::Session`]) a few epochs at a time: there is one implementation of an epoch.
#[derive(Debug)]
pub struct Trainer {
    config: TrainConfig,
    rng: ChaCha8Rng,
    order: Vec<usize>,
    stepper: Stepper,
    dropout: Option<Vec<f32>>,
    steps: usize,
    start_loss: f64,
    batch_x: Vec<f32>,
    batch_t: Vec<f32>,
    batch_w: Vec<f32>,
}

impl Trainer {
    /// A run of `config` that trains `mlp` with `loss` on `train`, from its first epoch;
    /// `start_loss` is the untrained network's mean loss over `train` (see
    /// [`untrained_loss`]).
    ///
    /// # Errors
    /// As [`train`], for the settings, the loss and the data.
    pub fn new(mlp: &Mlp, loss: Loss, train: Batchable<'_>, config: &TrainConfig, start_loss: f64) -> Result<Self> {
        check_config(mlp, train, None, config)?;
        loss.check(mlp.layers().last().unwrap().activation)?;
        let n = train.x.rows();
        let batch_size = config.batch_size.min(n);
        Ok(Self {
            config: config.clone(),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            order: (0..n).collect(),
            stepper: Stepper::new(mlp, loss, config.optimizer, config.clip_norm),
            dropout: dropout_rates(mlp, &config.dropout),
            steps: 0,
            start_loss,
            batch_x: Vec::with_capacity(batch_size * mlp.inputs()),
            batch_t: Vec::with_capacity(batch_size * mlp.outputs()),
            batch_w: Vec::new(),
        })
    }

    /// Trains epoch `epoch` (0-based) of `mlp` on `train` (the samples of [`Trainer::new`];
    /// their labels and weights may be left out) at learning rate `lr`: shuffles the order of
    /// the samples, then takes one step per batch. Returns the mean loss over the epoch's
    /// batches and, when `train` has labels, the share of samples the batches classified
    /// correctly.
    ///
    /// # Errors
    /// [`Error::Config`] for another number of samples than [`Trainer::new`] had;
    /// [`Error::Diverged`] when a batch's loss is not finite, naming where values first were
    /// not, or when the epoch's mean loss exceeds [`DIVERGENCE_FACTOR`] times the start loss.
    pub fn epoch(&mut self, mlp: &mut Mlp, train: Batchable<'_>, epoch: usize, lr: f32) -> Result<(f64, Option<f64>)> {
        let n = train.x.rows();
        if n != self.order.len() {
            return Err(Error::config(format!(
                "{n} training samples; this run began with {}",
                self.order.len()
            )));
        }
        let outputs = mlp.outputs();
        self.order.shuffle(&mut self.rng);
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for (step, batch) in self.order.chunks(self.config.batch_size.min(n)).enumerate() {
            let shards = shard_rows(batch.len(), self.dropout.is_some());
            gather_rows(train.x, batch, &mut self.batch_x, &shards);
            gather_rows(train.targets, batch, &mut self.batch_t, &[0..batch.len(), 0..0]);
            let weights = train.weights.map(|w| {
                self.batch_w.clear();
                self.batch_w.extend(batch.iter().map(|&i| w[i]));
                self.batch_w.as_slice()
            });
            let masks = self
                .dropout
                .as_deref()
                .map(|rates| (rates, dropout_rng(self.config.seed, self.steps)));
            let stepper = &mut self.stepper;
            let batch_loss =
                stepper.forward_weighted_loss(mlp, &self.batch_x, &self.batch_t, weights, masks, batch.len());
            if !batch_loss.is_finite() {
                return Err(diverged(
                    mlp,
                    stepper.workspaces(),
                    &self.config,
                    epoch,
                    step,
                    batch_loss,
                    lr,
                ));
            }
            loss_sum += batch_loss * batch.len() as f64;
            if let Some(labels) = train.labels {
                correct += batch
                    .iter()
                    .zip(stepper.workspaces().flat_map(|ws| ws.output().chunks_exact(outputs)))
                    .filter(|(&i, row)| metrics::predicted_class(row) == labels[i] as usize)
                    .count();
            }
            stepper.update(mlp, &self.batch_x, lr);
            self.steps += 1;
        }
        let train_loss = loss_sum / n as f64;
        if train_loss > DIVERGENCE_FACTOR * self.start_loss {
            return Err(blew_up(mlp, &self.config, epoch, train_loss, self.start_loss, lr));
        }
        Ok((train_loss, train.labels.map(|_| correct as f64 / n as f64)))
    }
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
/// batch to gather, shards (see [`SHARD_FROM`]), a product [`crate::matrix::gemm`] cuts into
/// blocks, or Adam's update.
fn steps_have_parallel_work(mlp: &Mlp, rows: usize, optimizer: OptimizerConfig) -> bool {
    use crate::matrix::is_split;
    let adam = matches!(optimizer.kind, OptimizerKind::Adam | OptimizerKind::AdamW);
    rows * mlp.inputs() >= GATHER_PARALLEL_FROM
        || rows >= SHARD_FROM
        || (adam && crate::optim::adam_is_parallel(mlp.params().len()))
        || mlp.layers().iter().any(|l| {
            is_split(rows, l.outputs, l.inputs)
                || is_split(l.outputs, l.inputs, rows)
                || is_split(rows, l.inputs, l.outputs)
        })
}

/// `out` = the rows of `m` listed in `rows`, in that order. A batch cut into shards (see
/// [`SHARD_FROM`]) is copied shard by shard, each by the thread likely to take that shard
/// forward (the one that runs the first half of a `rayon::join` runs the first shard), so
/// that its rows are in that core's cache; other large batches are copied by the rayon pool
/// (copying one core's share at a time leaves memory bandwidth unused).
fn gather_rows(m: &Matrix, rows: &[usize], out: &mut Vec<f32>, shards: &[Range<usize>; 2]) {
    let cols = m.cols();
    out.resize(rows.len() * cols, 0.0);
    let copy = |(dst, &i): (&mut [f32], &usize)| dst.copy_from_slice(m.row(i));
    if cols == 0 {
        return;
    }
    if !shards[1].is_empty() {
        let (first, second) = out.split_at_mut(shards[1].start * cols);
        let (a, b) = rows.split_at(shards[1].start);
        rayon::join(
            || first.chunks_exact_mut(cols).zip(a).for_each(copy),
            || second.chunks_exact_mut(cols).zip(b).for_each(copy),
        );
    } else if out.len() >= GATHER_PARALLEL_FROM {
        use rayon::prelude::*;
        out.par_chunks_exact_mut(cols).zip(rows).for_each(copy);
    } else {
        out.chunks_exact_mut(cols).zip(rows).for_each(copy);
    }
}

/// Batches of at least this many rows are cut into two shards of rows, each taken forward and
/// backward on its own (by one thread each when the pool has two), with their parameter
/// gradients summed at the end: the serial stretches of a step (activations, the loss, the
/// small products of narrow layers, bias gradients) then run on both cores, and the threads
/// meet twice a step instead of at every product. The cut depends on the batch alone, never
/// on the number of threads, so results do not either. Smaller batches stay whole: each shard
/// writes a whole gradient, which costs more than it saves when a shard has few rows.
/// Measured with `actlab train` on Fashion-MNIST, 2 threads (train seconds per epoch, medians
/// of 3–5, alternating with the binary before): 784-100-10 at batch 200 (shards of 100 rows)
/// 0.145 → 0.135 s, but 784-256-128-10 at batch 128 (shards of 64) 0.368 → 0.417 s.
pub const SHARD_FROM: usize = 192;

/// The rows of each shard of a batch of `rows` rows (one shard, or two, see [`SHARD_FROM`]).
/// The second starts on a multiple of 4, so that with faer's x86-64 kernels each shard's
/// products are those rows of the whole batch's, bit for bit (see [`crate::matrix::gemm`]):
/// only the sums over rows (the parameter gradients and the loss) differ from the whole
/// batch's, by rounding. (On AArch64 a shard's rows may also differ by rounding; the cut
/// depends on the batch alone everywhere, so results never depend on the number of threads.)
fn shard_rows(rows: usize, dropout: bool) -> [Range<usize>; 2] {
    if rows >= SHARD_FROM && !dropout {
        let half = rows.div_ceil(2).next_multiple_of(4);
        [0..half, half..rows]
    } else {
        [0..rows, rows..rows]
    }
}

/// One shard's buffers: its forward/backward workspace and its parameter gradient.
#[derive(Debug, Default)]
struct Shard {
    ws: Workspace,
    grads: Vec<f32>,
}

/// One gradient step's state, reused from step to step so that a step allocates nothing once
/// the first has sized the buffers: the forward/backward workspaces, the gradients and the
/// optimizer's moments.
#[derive(Debug)]
pub struct Stepper {
    loss: Loss,
    output: Activation,
    clip_norm: Option<f32>,
    /// The shards of a batch (see [`SHARD_FROM`]); the first one's gradient receives the sum.
    shards: [Shard; 2],
    /// The rows of each shard of the last batch (the second empty when it was whole).
    rows: [Range<usize>; 2],
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
            shards: [
                Shard {
                    ws: Workspace::default(),
                    grads: vec![0.0; mlp.params().len()],
                },
                Shard::default(),
            ],
            rows: [0..0, 0..0],
            optimizer: Optimizer::new(optimizer, mlp.params().len()),
            decayed: mlp.weight_ranges().collect(),
        }
    }

    /// Forward pass of `rows` samples `x` (`[rows, inputs]`) and the loss against `targets`
    /// (`[rows, outputs]`); returns the mean loss and leaves `∂L/∂z` of the output layer in the
    /// workspaces for [`Stepper::update`].
    pub fn forward_loss(&mut self, mlp: &Mlp, x: &[f32], targets: &[f32], rows: usize) -> f64 {
        self.forward_weighted_loss(mlp, x, targets, None, None, rows)
    }

    /// [`Stepper::forward_loss`] with each sample's loss weighted (see
    /// [`Loss::weighted_loss_and_grad`]) and the hidden layers under dropout (see
    /// [`Mlp::forward_with_dropout`]: one rate per hidden layer, and the masks' generator).
    /// A batch under dropout stays whole, so that its masks are drawn as one.
    pub fn forward_weighted_loss(
        &mut self,
        mlp: &Mlp,
        x: &[f32],
        targets: &[f32],
        weights: Option<&[f32]>,
        dropout: Option<(&[f32], ChaCha8Rng)>,
        rows: usize,
    ) -> f64 {
        let (inputs, outputs) = (mlp.inputs(), mlp.outputs());
        assert!(
            x.len() == rows * inputs && targets.len() == rows * outputs,
            "batch has the wrong shape"
        );
        self.rows = shard_rows(rows, dropout.is_some());
        let (loss, output) = (self.loss, self.output);
        // One shard's forward pass and loss; masks only ever come with a whole batch.
        let run = |ws: &mut Workspace, part: Range<usize>, masks: Option<(&[f32], &mut ChaCha8Rng)>| {
            mlp.forward_with_dropout(&x[part.start * inputs..part.end * inputs], part.len(), ws, masks);
            let (z, y, grad_z) = ws.output_parts();
            let targets = &targets[part.start * outputs..part.end * outputs];
            let weights = weights.map(|w| &w[part]);
            loss.sum_and_grad(output, z, y, targets, outputs, weights, rows, Some(grad_z))
        };
        let [first, second] = &mut self.shards;
        let sum = match self.rows.clone() {
            [whole, rest] if rest.is_empty() => {
                let mut dropout = dropout;
                run(&mut first.ws, whole, dropout.as_mut().map(|(rates, rng)| (*rates, rng)))
            }
            [part0, part1] => {
                let (a, b) = rayon::join(|| run(&mut first.ws, part0, None), || run(&mut second.ws, part1, None));
                a + b
            }
        };
        sum / loss.denominator(rows, outputs)
    }

    /// Backward pass after [`Stepper::forward_loss`] on the same `x`, then one optimizer update
    /// at learning rate `lr` (after clipping the gradient, when asked for).
    pub fn update(&mut self, mlp: &mut Mlp, x: &[f32], lr: f32) {
        let inputs = mlp.inputs();
        let [first, second] = &mut self.shards;
        let more: &[f32] = match self.rows.clone() {
            [_, rest] if rest.is_empty() => {
                mlp.backward(x, &mut first.ws, &mut first.grads);
                &[]
            }
            [part0, part1] => {
                second.grads.resize(mlp.params().len(), 0.0);
                let mlp: &Mlp = mlp;
                let backward = |shard: &mut Shard, part: Range<usize>| {
                    mlp.backward(
                        &x[part.start * inputs..part.end * inputs],
                        &mut shard.ws,
                        &mut shard.grads,
                    )
                };
                rayon::join(|| backward(first, part0), || backward(second, part1));
                &second.grads
            }
        };
        let decayed = &self.decayed;
        if let Some(max_norm) = self.clip_norm {
            // The norm is the summed gradient's.
            first.grads.iter_mut().zip(more).for_each(|(g, &o)| *g += o);
            clip_grad_norm(&mut first.grads, max_norm);
            self.optimizer.step(mlp.params_mut(), &mut first.grads, lr, decayed);
        } else {
            self.optimizer
                .step_sum(mlp.params_mut(), &mut first.grads, more, lr, decayed);
        }
    }

    /// The workspaces of the last forward pass, one per shard of the batch, in the order of
    /// its rows (see [`SHARD_FROM`]).
    pub fn workspaces(&self) -> impl Iterator<Item = &Workspace> + Clone {
        self.shards
            .iter()
            .zip(&self.rows)
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(shard, _)| &shard.ws)
    }
}

/// One dropout rate per hidden layer from the configured ones (one for all, or one per hidden
/// layer); `None` when every rate is 0, so that such a run is the run without dropout, bit for bit.
fn dropout_rates(mlp: &Mlp, rates: &[f32]) -> Option<Vec<f32>> {
    let hidden = mlp.layers().len() - 1;
    let rates = match rates {
        [rate] => vec![*rate; hidden],
        _ => rates.to_vec(),
    };
    rates.iter().any(|&r| r > 0.0).then_some(rates)
}

/// The generator of the dropout masks of gradient step `step` (0-based) of a run seeded `seed`:
/// a stream of its own per step, so that a resumed run draws the same masks.
fn dropout_rng(seed: u64, step: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xd5_0f0d_5eed);
    rng.set_stream(step as u64);
    rng
}

fn check_config(
    mlp: &Mlp,
    train: Batchable<'_>,
    validation: Option<Batchable<'_>>,
    config: &TrainConfig,
) -> Result<()> {
    let setting = |field, message: String| Err(Error::Setting { field, message });
    if config.epochs == Some(0) {
        return setting("train.epochs", "must be at least 1".into());
    }
    if config.batch_size == 0 {
        return setting("train.batch_size", "must be at least 1".into());
    }
    if !(config.learning_rate > 0.0 && config.learning_rate.is_finite()) {
        return setting(
            "train.learning_rate",
            format!("must be a positive number, got {}", config.learning_rate),
        );
    }
    if !(config.optimizer.l1 >= 0.0 && config.optimizer.l1.is_finite()) {
        return setting(
            "train.optimizer.l1",
            format!("must be a finite number, at least 0, got {}", config.optimizer.l1),
        );
    }
    let hidden = mlp.layers().len() - 1;
    if !config.dropout.is_empty() {
        if config.dropout.len() != 1 && config.dropout.len() != hidden {
            return setting(
                "train.dropout",
                format!(
                    "gives {} rates; give one rate for all hidden layers or one per hidden layer ({hidden})",
                    config.dropout.len()
                ),
            );
        }
        if let Some(r) = config.dropout.iter().find(|r| !(0.0..1.0).contains(*r)) {
            return setting(
                "train.dropout",
                format!("must be at least 0 and below 1 (1 would drop every unit), got {r}"),
            );
        }
    }
    if train.x.rows() == 0 {
        return Err(Error::config("no training samples"));
    }
    if let Some(w) = train.weights {
        if w.len() != train.x.rows() {
            return Err(Error::config(format!(
                "{} sample weights for {} training samples",
                w.len(),
                train.x.rows()
            )));
        }
        if let Some(i) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::config(format!(
                "the weight of training sample {} is {}; weights must be finite and at least 0",
                i + 1,
                w[i]
            )));
        }
        if w.iter().all(|&w| w == 0.0) {
            return Err(Error::config("every sample weight is 0: nothing to train on"));
        }
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

/// How the messages name layer `i`, e.g. "hidden layer 1 (4 → 16, tanh)".
fn layer_name(mlp: &Mlp, i: usize) -> String {
    let l = mlp.layers()[i];
    let kind = if i + 1 == mlp.layers().len() {
        "output layer".to_string()
    } else {
        format!("hidden layer {}", i + 1)
    };
    format!("{kind} ({} → {}, {})", l.inputs, l.outputs, l.activation)
}

/// Names the first place where values stopped being finite: a layer's parameters, its
/// pre-activations, or (if everything inside the network is finite) the loss itself.
pub(crate) fn diverged<'a>(
    mlp: &Mlp,
    workspaces: impl Iterator<Item = &'a Workspace> + Clone,
    config: &TrainConfig,
    epoch: usize,
    step: usize,
    loss: f64,
    lr: f32,
) -> Error {
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    let place = (0..mlp.layers().len())
        .find_map(|i| {
            if !finite(&mlp.params()[mlp.layer_range(i)]) {
                Some(format!("the weights of {} became non-finite", layer_name(mlp, i)))
            } else if !workspaces.clone().all(|ws| finite(ws.pre_activation(i))) {
                Some(format!(
                    "the pre-activations of {} became non-finite",
                    layer_name(mlp, i)
                ))
            } else if !workspaces.clone().all(|ws| finite(ws.activation(i))) {
                Some(format!("the outputs of {} became non-finite", layer_name(mlp, i)))
            } else {
                None
            }
        })
        .unwrap_or_else(|| "every value inside the network is finite but the loss is not".to_string());
    Error::Diverged {
        epoch: epoch + 1,
        detail: format!(
            "with {}, the loss is {loss} at step {} of the epoch; {place}",
            config.optimizer.kind,
            step + 1
        ),
        learning_rate: lr,
    }
}

/// Explains a loss that grew past [`DIVERGENCE_FACTOR`] times the untrained network's while
/// staying finite, naming the layer with the largest parameter.
pub(crate) fn blew_up(mlp: &Mlp, config: &TrainConfig, epoch: usize, loss: f64, start_loss: f64, lr: f32) -> Error {
    let (layer, largest) = (0..mlp.layers().len())
        .map(|i| {
            let max = mlp.params()[mlp.layer_range(i)]
                .iter()
                .fold(0.0f32, |m, x| m.max(x.abs()));
            (i, max)
        })
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    Error::Diverged {
        epoch: epoch + 1,
        detail: format!(
            "with {}, the epoch's mean loss is {loss:.3e}, {:.1e} times the untrained network's {start_loss:.4}; \
             the steps overshoot and the weights grow (up to {largest:.2e} in {})",
            config.optimizer.kind,
            loss / start_loss,
            layer_name(mlp, layer)
        ),
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

/// The reference of [`DIVERGENCE_FACTOR`]: the untrained network's mean loss over the training
/// data, or over [`UNTRAINED_LOSS_ROWS`] of its rows when it has more: the same rows every
/// time for the same number of rows (drawn at random by a generator of a fixed seed).
pub fn untrained_loss(mlp: &Mlp, data: Batchable<'_>, loss: Loss) -> f64 {
    let n = data.x.rows();
    if n <= UNTRAINED_LOSS_ROWS {
        return evaluate(mlp, data, loss).loss;
    }
    let rows = untrained_loss_rows(n);
    let (x, targets) = (data.x.select_rows(&rows), data.targets.select_rows(&rows));
    let sample = Batchable {
        x: &x,
        targets: &targets,
        labels: None,
        weights: None,
    };
    evaluate(mlp, sample, loss).loss
}

/// The rows [`untrained_loss`] takes out of `n > UNTRAINED_LOSS_ROWS`: drawn at random (by a
/// generator of a fixed seed) rather than at a fixed stride, which data with a period (rows
/// cycling through the classes, say) could fall in step with.
fn untrained_loss_rows(n: usize) -> Vec<usize> {
    let mut rows = rand::seq::index::sample(&mut ChaCha8Rng::seed_from_u64(0), n, UNTRAINED_LOSS_ROWS).into_vec();
    rows.sort_unstable();
    rows
}

/// At most this many rows give [`untrained_loss`]. The reference only has to be right within a
/// small factor of [`DIVERGENCE_FACTOR`]; a whole pass over Fashion-MNIST's 60,000 rows took
/// 0.03–0.04 s of the set-up (a forward pass, 9.4 GFLOP), and a sample of 8192 rows still
/// made up most of the 0.022 s between preparing the data and the first epoch (a copy of
/// 25 MB and 1.3 GFLOP).
pub const UNTRAINED_LOSS_ROWS: usize = 2048;

/// Mean loss and score (accuracy with labels, else R² over all outputs) of `data`.
pub fn evaluate(mlp: &Mlp, data: Batchable<'_>, loss: Loss) -> Evaluation {
    use rayon::prelude::*;
    const CHUNK: usize = 1024;
    let output = mlp.layers().last().unwrap().activation;
    let (inputs, outputs, n) = (mlp.inputs(), mlp.outputs(), data.x.rows());
    // Chunks in parallel, each one's loss, correct count and (for regression) outputs, added up
    // in the chunks' order afterwards: the same sums as one chunk after the other.
    let parts: Vec<(f64, usize, Vec<f32>)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(Workspace::default, |ws, c| {
            let rows = c * CHUNK..((c + 1) * CHUNK).min(n);
            let x = &data.x.as_slice()[rows.start * inputs..rows.end * inputs];
            let targets = &data.targets.as_slice()[rows.start * outputs..rows.end * outputs];
            mlp.forward(x, rows.len(), ws);
            let loss = loss.loss(output, ws.logits(), ws.output(), targets, outputs) * rows.len() as f64;
            match data.labels {
                Some(labels) => {
                    let correct = ws
                        .output()
                        .chunks_exact(outputs)
                        .zip(&labels[rows])
                        .filter(|(row, &l)| metrics::predicted_class(row) == l as usize)
                        .count();
                    (loss, correct, Vec::new())
                }
                None => (loss, 0, ws.output().to_vec()),
            }
        })
        .collect();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut predictions = Vec::with_capacity(if data.labels.is_none() { n * outputs } else { 0 });
    for (loss, right, outputs) in parts {
        loss_sum += loss;
        correct += right;
        predictions.extend_from_slice(&outputs);
    }
    let n = n.max(1) as f64;
    let score = match data.labels {
        Some(_) => Some(correct as f64 / n),
        None => metrics::r2(&predictions, data.targets.as_slice()),
    };
    Evaluation {
        loss: loss_sum / n,
        score,
    }
}

#[cfg(test)]
mod tests;
