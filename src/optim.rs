//! Optimizers, learning-rate schedules and gradient clipping.
//!
//! Every optimizer updates the network's flat parameter buffer from a gradient buffer of the
//! same layout, so its state is a few vectors of the same length.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// `θ ← θ - η g`
    Sgd,
    /// Heavy-ball momentum: `v ← μ v + g`, `θ ← θ - η v`.
    Momentum,
    /// Nesterov momentum: `v ← μ v + g`, `θ ← θ - η (g + μ v)`.
    Nesterov,
    /// Adam: bias-corrected first and second moment estimates.
    Adam,
    /// Adam with decoupled weight decay: `θ ← θ - η λ θ` besides the Adam step.
    AdamW,
    /// RMSprop: `s ← ρ s + (1-ρ) g²`, `θ ← θ - η g / (√s + ε)`.
    RmsProp,
}

impl OptimizerKind {
    /// Names accepted by `FromStr`.
    pub const NAMES: &'static str = "sgd, momentum, nesterov, adam, adamw, rmsprop";
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::RmsProp => "rmsprop",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "sgd" => OptimizerKind::Sgd,
            "momentum" => OptimizerKind::Momentum,
            "nesterov" => OptimizerKind::Nesterov,
            "adam" => OptimizerKind::Adam,
            "adamw" => OptimizerKind::AdamW,
            "rmsprop" => OptimizerKind::RmsProp,
            _ => {
                return Err(Error::config(format!(
                    "unknown optimizer '{s}'; valid: {}",
                    Self::NAMES
                )))
            }
        })
    }
}

/// Optimizer settings. The defaults are PyTorch's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Momentum factor μ (momentum, Nesterov).
    pub momentum: f32,
    /// Adam's β₁.
    pub beta1: f32,
    /// Adam's β₂.
    pub beta2: f32,
    /// RMSprop's smoothing constant ρ.
    pub rho: f32,
    /// Added to denominators (Adam, RMSprop).
    pub epsilon: f32,
    /// L2 weight decay λ on the weights (not biases): added to the gradient as `λ θ`, or
    /// applied directly to the weights for AdamW.
    pub weight_decay: f32,
    /// L1 regularisation rate λ₁ on the weights (not biases), the penalty `λ₁ Σ |w|`. Its
    /// gradient is undefined at 0, so it is applied as a proximal step after each update: every
    /// weight is soft-thresholded, `w ← sign(w) · max(|w| − τ, 0)`, pulled toward 0 by `τ` and
    /// set to exactly 0 where it would cross. `τ` is the step's size times λ₁, as the optimizer
    /// scales the gradient (see [`Optimizer::step`]): `τ = η λ₁` for SGD, momentum and
    /// Nesterov, and for AdamW (decoupled, as its weight decay is); `τ = η λ₁ / (√v̂ + ε)` per
    /// weight for Adam (`v̂` its bias-corrected second moment) and RMSprop (`v̂ = s`), whose steps
    /// are scaled so. 0: none, and training is bit for bit what it is without the setting.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub l1: f32,
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            rho: 0.99,
            epsilon: 1e-8,
            weight_decay: 0.0,
            l1: 0.0,
        }
    }
}

/// What an optimizer carries from one step to the next.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    /// Momentum, or Adam's first moment; empty for SGD and RMSprop.
    pub m: Vec<f32>,
    /// Adam's or RMSprop's second moment; empty for SGD and momentum.
    pub v: Vec<f32>,
    /// Steps taken (Adam's bias correction depends on it).
    pub steps: u32,
}

impl OptimizerState {
    /// Checks that the state is one an optimizer with `config` for `n` parameters could have
    /// reached: moments of the right lengths, finite, second moments not negative.
    ///
    /// # Errors
    /// What does not fit, in words.
    pub fn check(&self, config: &OptimizerConfig, n: usize) -> std::result::Result<(), String> {
        let expected = |used: bool| if used { n } else { 0 };
        for (name, values, len) in [
            ("first moment", &self.m, expected(uses_m(config.kind))),
            ("second moment", &self.v, expected(uses_v(config.kind))),
        ] {
            if values.len() != len {
                return Err(format!(
                    "{}'s {name} has {} values, expected {len}",
                    config.kind,
                    values.len()
                ));
            }
            if let Some(i) = values.iter().position(|x| !x.is_finite()) {
                return Err(format!("{}'s {name} is {} at {i}", config.kind, values[i]));
            }
        }
        if let Some(i) = self.v.iter().position(|&x| x < 0.0) {
            return Err(format!("{}'s second moment is negative at {i}", config.kind));
        }
        Ok(())
    }
}

/// Whether `kind` keeps a first moment (momentum).
fn uses_m(kind: OptimizerKind) -> bool {
    !matches!(kind, OptimizerKind::Sgd | OptimizerKind::RmsProp)
}

/// Whether `kind` keeps a second moment.
fn uses_v(kind: OptimizerKind) -> bool {
    matches!(
        kind,
        OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::RmsProp
    )
}

/// An optimizer with its state.
#[derive(Clone, Debug)]
pub struct Optimizer {
    config: OptimizerConfig,
    /// Momentum or Adam's first moment.
    m: Vec<f32>,
    /// Adam's or RMSprop's second moment.
    v: Vec<f32>,
    steps: u32,
}

impl Optimizer {
    /// A fresh optimizer for `n` parameters.
    pub fn new(config: OptimizerConfig, n: usize) -> Self {
        Self {
            config,
            m: vec![0.0; if uses_m(config.kind) { n } else { 0 }],
            v: vec![0.0; if uses_v(config.kind) { n } else { 0 }],
            steps: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// A copy of the state that changes from step to step.
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            m: self.m.clone(),
            v: self.v.clone(),
            steps: self.steps,
        }
    }

    /// An optimizer for `n` parameters that continues from `state` (see [`OptimizerState::check`]).
    ///
    /// # Errors
    /// [`Error::Config`] when `state` does not fit `config` and `n`.
    pub fn resume(config: OptimizerConfig, n: usize, state: OptimizerState) -> Result<Self> {
        state.check(&config, n).map_err(Error::config)?;
        Ok(Self {
            config,
            m: state.m,
            v: state.v,
            steps: state.steps,
        })
    }

    /// One update of `params` from `grads` at learning rate `lr`. Weight decay and L1 apply to
    /// the `decayed` ranges (the weight matrices, in increasing order, not overlapping); weight
    /// decay is added to the gradient (into `grads`, which is scratch space, or inside Adam's
    /// update; AdamW's is applied to the weights), and L1's soft-threshold (see
    /// [`OptimizerConfig::l1`]) follows the update.
    pub fn step(&mut self, params: &mut [f32], grads: &mut [f32], lr: f32, decayed: &[Range<usize>]) {
        self.step_sum(params, grads, &[], lr, decayed);
    }

    /// [`Optimizer::step`] from the sum of two gradients, `grads + more` element by element (as
    /// two shards of a batch give them; `more` empty: `grads` alone). Adam and AdamW add them
    /// inside their update; the others first add `more` into `grads`.
    ///
    /// # Panics
    /// If `more` is neither empty nor as long as `grads`.
    pub fn step_sum(&mut self, params: &mut [f32], grads: &mut [f32], more: &[f32], lr: f32, decayed: &[Range<usize>]) {
        assert!(
            more.is_empty() || more.len() == grads.len(),
            "the gradients differ in length"
        );
        let c = self.config;
        let adams = matches!(c.kind, OptimizerKind::Adam | OptimizerKind::AdamW);
        if !adams && !more.is_empty() {
            grads.iter_mut().zip(more).for_each(|(g, &o)| *g += o);
        }
        // Adam's L2 penalty joins the gradient inside its update, in the same operations.
        if c.weight_decay > 0.0 && c.kind != OptimizerKind::Adam {
            for range in decayed.iter().cloned() {
                if c.kind == OptimizerKind::AdamW {
                    params[range].iter_mut().for_each(|p| *p -= lr * c.weight_decay * *p);
                } else {
                    for (g, &p) in grads[range.clone()].iter_mut().zip(&params[range]) {
                        *g += c.weight_decay * p;
                    }
                }
            }
        }
        self.steps += 1;
        match c.kind {
            OptimizerKind::Sgd => params.iter_mut().zip(grads.iter()).for_each(|(p, &g)| *p -= lr * g),
            OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                let nesterov = c.kind == OptimizerKind::Nesterov;
                for ((p, &g), m) in params.iter_mut().zip(grads.iter()).zip(&mut self.m) {
                    *m = c.momentum * *m + g;
                    *p -= lr * if nesterov { g + c.momentum * *m } else { *m };
                }
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let t = self.steps as i32;
                let correction1 = 1.0 - c.beta1.powi(t);
                let correction2 = 1.0 - c.beta2.powi(t);
                // lr·m̂/(√v̂ + ε) with m̂ = m/c₁, v̂ = v/c₂, written as (lr·√c₂/c₁)·m/(√v + ε·√c₂):
                // one square root and one division per parameter (both are the divider's, which
                // bounds this loop), instead of one more division by √c₂.
                let sqrt_c2 = correction2.sqrt();
                let step = lr * sqrt_c2 / correction1;
                let k = [c.beta1, c.beta2, step, c.epsilon * sqrt_c2];
                let decay = if c.kind == OptimizerKind::Adam {
                    c.weight_decay
                } else {
                    0.0
                };
                let block = AdamBlock {
                    params,
                    grads,
                    more,
                    m: &mut self.m,
                    v: &mut self.v,
                };
                adam(block, decayed, k, decay);
            }
            OptimizerKind::RmsProp => {
                for ((p, &g), v) in params.iter_mut().zip(grads.iter()).zip(&mut self.v) {
                    *v = c.rho * *v + (1.0 - c.rho) * g * g;
                    *p -= lr * g / (v.sqrt() + c.epsilon);
                }
            }
        }
        if c.l1 > 0.0 {
            self.shrink(params, lr, decayed.iter().cloned());
        }
    }

    /// L1's proximal step after an update at learning rate `lr`: soft-thresholds the weights in
    /// `ranges` by `τ` (see [`OptimizerConfig::l1`]).
    fn shrink(&self, params: &mut [f32], lr: f32, ranges: impl Iterator<Item = Range<usize>>) {
        let c = self.config;
        let soft_threshold = |w: &mut f32, tau: f32| *w = w.signum() * (w.abs() - tau).max(0.0);
        // Adam's v̂ = v / (1 - β₂ᵗ); RMSprop's running mean s is not bias-corrected.
        let correction2 = match c.kind {
            OptimizerKind::Adam => 1.0 - c.beta2.powi(self.steps as i32),
            _ => 1.0,
        };
        for range in ranges {
            match c.kind {
                OptimizerKind::Adam | OptimizerKind::RmsProp => {
                    for (w, &v) in params[range.clone()].iter_mut().zip(&self.v[range]) {
                        soft_threshold(w, lr * c.l1 / ((v / correction2).sqrt() + c.epsilon));
                    }
                }
                _ => params[range].iter_mut().for_each(|w| soft_threshold(w, lr * c.l1)),
            }
        }
    }
}

/// The smallest number of parameters Adam shares out over the pool (see [`adam`]).
const BLOCK: usize = 1 << 14;

/// Whether Adam shares its update of `n` parameters out over the pool's threads.
pub(crate) fn adam_is_parallel(n: usize) -> bool {
    n >= 4 * BLOCK
}

/// The slices of one stretch of Adam's update: the parameters, their gradient (`grads`, plus
/// `more` element by element when it is not empty) and the two moments.
struct AdamBlock<'a> {
    params: &'a mut [f32],
    grads: &'a [f32],
    more: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
}

impl<'a> AdamBlock<'a> {
    /// The first `at` parameters' stretch and the rest's.
    fn split_at(self, at: usize) -> (Self, Self) {
        let (params, params2) = self.params.split_at_mut(at);
        let (grads, grads2) = self.grads.split_at(at);
        let (more, more2) = if self.more.is_empty() {
            (self.more, self.more)
        } else {
            self.more.split_at(at)
        };
        let (m, m2) = self.m.split_at_mut(at);
        let (v, v2) = self.v.split_at_mut(at);
        (
            Self {
                params,
                grads,
                more,
                m,
                v,
            },
            Self {
                params: params2,
                grads: grads2,
                more: more2,
                m: m2,
                v: v2,
            },
        )
    }
}

/// Adam's update of every parameter, `k = [β₁, β₂, lr·√(1 - β₂ᵗ) / (1 - β₁ᵗ), ε·√(1 - β₂ᵗ)]`, with
/// the L2 penalty `decay · p` added to the gradients of the `decayed` ranges (in increasing
/// order). Long vectors are cut in halves down to [`BLOCK`] parameters, the halves shared out
/// over the rayon pool; the update is element by element, so the result does not depend on
/// the number of threads.
fn adam(block: AdamBlock<'_>, decayed: &[Range<usize>], k: [f32; 4], decay: f32) {
    let n = block.params.len();
    let parallel = adam_is_parallel(n) && rayon::current_num_threads() > 1;
    fn cut(block: AdamBlock<'_>, start: usize, decayed: &[Range<usize>], k: [f32; 4], decay: f32, parallel: bool) {
        let n = block.params.len();
        if parallel && n > BLOCK {
            let half = (n / 2).next_multiple_of(BLOCK).min(n - 1);
            let (first, rest) = block.split_at(half);
            rayon::join(
                || cut(first, start, decayed, k, decay, parallel),
                || cut(rest, start + half, decayed, k, decay, parallel),
            );
            return;
        }
        // Parameters `start..end`: the decayed ranges in it with the penalty, the rest without.
        let end = start + n;
        let (mut block, mut at) = (Some(block), start);
        let mut update = |to: usize, decay: f32| {
            if to > at {
                let (part, rest) = block.take().expect("parts end at `end`").split_at(to - at);
                adam_block(part, k, decay);
                (block, at) = (Some(rest), to);
            }
        };
        for r in decayed.iter().filter(|r| r.end > start && r.start < end) {
            update(r.start.max(start), 0.0);
            update(r.end.min(end), decay);
        }
        update(end, 0.0);
    }
    cut(block, 0, decayed, k, decay, parallel);
}

/// [`adam`] on one stretch, compiled for AVX-512 and AVX2 as well as the baseline target and
/// chosen at run time (the same operations in the same order on every path, so the result
/// does not depend on the CPU either).
fn adam_block(block: AdamBlock<'_>, k: [f32; 4], decay: f32) {
    #[inline(always)]
    fn body(block: AdamBlock<'_>, k: [f32; 4], decay: f32) {
        /// Every load before any store: large vectors each start on the same offset in a
        /// 4-KiB page, and a load that follows a store to the same offset in another page
        /// waits for it (4K aliasing): storing `m` before loading `v` made this loop 3 to 4
        /// times slower (measured: W1's 235 k parameters, 28 against 7.5 cycles per 16).
        #[inline(always)]
        fn update(p: &mut f32, g: f32, m: &mut f32, v: &mut f32, [beta1, beta2, step, epsilon]: [f32; 4]) {
            let (p0, m0, v0) = (*p, *m, *v);
            let m1 = beta1 * m0 + (1.0 - beta1) * g;
            let v1 = beta2 * v0 + (1.0 - beta2) * g * g;
            let p1 = p0 - step * m1 / (v1.sqrt() + epsilon);
            (*m, *v, *p) = (m1, v1, p1);
        }
        let AdamBlock {
            params,
            grads,
            more,
            m,
            v,
        } = block;
        let rows = params.iter_mut().zip(grads).zip(m.iter_mut().zip(v));
        // One loop per case, each simple enough to vectorize: the shards' gradients are added
        // first, then the penalty (as `step` adds them into the gradient for the others).
        match (more.is_empty(), decay == 0.0) {
            (true, true) => rows.for_each(|((p, &g), (m, v))| update(p, g, m, v, k)),
            (true, false) => rows.for_each(|((p, &g), (m, v))| update(p, g + decay * *p, m, v, k)),
            (false, true) => rows
                .zip(more)
                .for_each(|(((p, &g), (m, v)), &o)| update(p, g + o, m, v, k)),
            (false, false) => rows
                .zip(more)
                .for_each(|(((p, &g), (m, v)), &o)| update(p, (g + o) + decay * *p, m, v, k)),
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512(block: AdamBlock<'_>, k: [f32; 4], decay: f32) {
            body(block, k, decay)
        }
        #[target_feature(enable = "avx2")]
        fn avx2(block: AdamBlock<'_>, k: [f32; 4], decay: f32) {
            body(block, k, decay)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512(block, k, decay) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(block, k, decay) };
        }
    }
    body(block, k, decay)
}

/// Scales `grads` so that their global L2 norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt() as f32;
    if norm > max_norm && norm.is_finite() {
        let scale = max_norm / norm;
        grads.iter_mut().for_each(|g| *g *= scale);
    }
    norm
}

/// How the learning rate changes from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between reductions.
        every: usize,
        /// Factor applied at each reduction.
        gamma: f32,
    },
    /// Cosine annealing from the base rate down to 0 over the training's epochs.
    Cosine,
    /// Multiply by `factor` when the monitored loss has not improved for `patience` epochs.
    Plateau {
        /// Epochs without improvement before a reduction.
        patience: usize,
        /// Factor applied at each reduction.
        factor: f32,
    },
}

impl FromStr for Schedule {
    type Err = Error;
    /// `constant`, `step[:every[:gamma]]` (10, 0.1), `cosine`, `plateau[:patience[:factor]]` (5, 0.1).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        let mut parts = lower.split(':');
        let name = parts.next().unwrap_or_default();
        let bad = |what: &str| Error::config(format!("schedule '{s}': {what}"));
        let mut next_usize = |default: usize| -> Result<usize> {
            parts.next().map_or(Ok(default), |p| {
                p.parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("expected a positive integer"))
            })
        };
        let schedule = match name {
            "constant" => Schedule::Constant,
            "cosine" => Schedule::Cosine,
            "step" => Schedule::Step {
                every: next_usize(10)?,
                gamma: 0.1,
            },
            "plateau" => Schedule::Plateau {
                patience: next_usize(5)?,
                factor: 0.1,
            },
            _ => {
                return Err(Error::config(format!(
                "unknown schedule '{s}'; valid: constant, step[:every[:gamma]], cosine, plateau[:patience[:factor]]"
            )))
            }
        };
        let most = match schedule {
            Schedule::Constant | Schedule::Cosine => 1,
            _ => 3,
        };
        if lower.split(':').count() > most {
            return Err(bad(&format!(
                "{name} takes {} parameters",
                if most == 1 { "no" } else { "at most two" }
            )));
        }
        let factor = match lower.split(':').nth(2) {
            None => return Ok(schedule),
            Some(p) => p
                .parse::<f32>()
                .ok()
                .filter(|f| *f > 0.0 && *f <= 1.0)
                .ok_or_else(|| bad("factor must be in (0, 1]"))?,
        };
        Ok(match schedule {
            Schedule::Step { every, .. } => Schedule::Step { every, gamma: factor },
            Schedule::Plateau { patience, .. } => Schedule::Plateau { patience, factor },
            other => other,
        })
    }
}

/// Where a [`Scheduler`] is in its schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchedulePosition {
    /// The learning rate of the next epoch.
    pub rate: f32,
    /// Plateau: the lowest monitored loss so far (infinite before the first epoch).
    pub best: f64,
    /// Plateau: epochs without improvement since the last improvement or reduction.
    pub bad_epochs: usize,
}

impl SchedulePosition {
    /// Checks that `schedule` from the base rate `base` can reach this position: a rate in
    /// `[0, base]`, a loss that is not NaN, and no more epochs without improvement than a plateau
    /// schedule's patience (none for the other schedules).
    ///
    /// # Errors
    /// What does not fit, in words.
    pub fn check(&self, schedule: Schedule, base: f32) -> std::result::Result<(), String> {
        if !(0.0..=base).contains(&self.rate) {
            return Err(format!(
                "the schedule's learning rate is {}, outside [0, {base}]",
                self.rate
            ));
        }
        if self.best.is_nan() {
            return Err("the schedule's best loss is NaN".into());
        }
        let max_bad = match schedule {
            Schedule::Plateau { patience, .. } => patience,
            _ => 0,
        };
        if self.bad_epochs > max_bad {
            return Err(format!(
                "the schedule counts {} epochs without improvement, more than {max_bad}",
                self.bad_epochs
            ));
        }
        Ok(())
    }
}

/// Tracks the learning rate through training.
#[derive(Clone, Debug)]
pub struct Scheduler {
    schedule: Schedule,
    base: f32,
    current: f32,
    total_epochs: usize,
    best: f64,
    bad_epochs: usize,
}

impl Scheduler {
    /// Starts at `base` for a training of `total_epochs` epochs.
    pub fn new(schedule: Schedule, base: f32, total_epochs: usize) -> Self {
        Self {
            schedule,
            base,
            current: base,
            total_epochs,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// A scheduler like [`Scheduler::new`]'s, at `position` (see [`SchedulePosition::check`]).
    ///
    /// # Errors
    /// [`Error::Config`] when `position` is not one that `schedule` from `base` can reach.
    pub fn resume(schedule: Schedule, base: f32, total_epochs: usize, position: SchedulePosition) -> Result<Self> {
        position.check(schedule, base).map_err(Error::config)?;
        Ok(Self {
            current: position.rate,
            best: position.best,
            bad_epochs: position.bad_epochs,
            ..Self::new(schedule, base, total_epochs)
        })
    }

    /// The state that changes from epoch to epoch.
    pub fn position(&self) -> SchedulePosition {
        SchedulePosition {
            rate: self.current,
            best: self.best,
            bad_epochs: self.bad_epochs,
        }
    }

    /// The learning rate to use now.
    pub fn rate(&self) -> f32 {
        self.current
    }

    /// Called after epoch `epoch` (0-based) with the monitored loss; sets the next epoch's rate.
    pub fn end_epoch(&mut self, epoch: usize, loss: f64) {
        let next = epoch + 1;
        self.current = match self.schedule {
            Schedule::Constant => self.base,
            Schedule::Step { every, gamma } => self.base * gamma.powi((next / every) as i32),
            Schedule::Cosine => {
                let progress = next as f32 / self.total_epochs.max(1) as f32;
                0.5 * self.base * (1.0 + (std::f32::consts::PI * progress.min(1.0)).cos())
            }
            Schedule::Plateau { patience, factor } => {
                if loss < self.best {
                    self.best = loss;
                    self.bad_epochs = 0;
                } else {
                    self.bad_epochs += 1;
                    if self.bad_epochs > patience {
                        self.bad_epochs = 0;
                        self.current *= factor;
                    }
                }
                self.current
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises f(θ) = Σ (θ_i - i)² and returns the distance to the optimum.
    fn minimise(kind: OptimizerKind, lr: f32, steps: usize) -> f32 {
        let mut params = vec![0.0f32; 4];
        let mut grads = vec![0.0f32; 4];
        let mut opt = Optimizer::new(
            OptimizerConfig {
                kind,
                ..Default::default()
            },
            4,
        );
        for _ in 0..steps {
            for (i, (g, p)) in grads.iter_mut().zip(&params).enumerate() {
                *g = 2.0 * (p - i as f32);
            }
            opt.step(&mut params, &mut grads, lr, &[]);
        }
        params
            .iter()
            .enumerate()
            .map(|(i, p)| (p - i as f32).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn every_optimizer_minimises_a_quadratic() {
        for (kind, lr) in [
            (OptimizerKind::Sgd, 0.1),
            (OptimizerKind::Momentum, 0.05),
            (OptimizerKind::Nesterov, 0.05),
            (OptimizerKind::Adam, 0.1),
            (OptimizerKind::AdamW, 0.1),
            (OptimizerKind::RmsProp, 0.01),
        ] {
            let err = minimise(kind, lr, 500);
            assert!(err < 0.02, "{kind}: distance {err}");
        }
    }

    #[test]
    fn adam_first_step_moves_each_parameter_by_the_learning_rate() {
        // With bias correction, Adam's first step is lr · g/|g| whatever the gradient's scale.
        let mut params = vec![1.0f32, 1.0];
        let mut grads = vec![1e-3f32, -50.0];
        let mut opt = Optimizer::new(OptimizerConfig::default(), 2);
        opt.step(&mut params, &mut grads, 0.01, &[]);
        approx::assert_abs_diff_eq!(params[0], 0.99, epsilon = 1e-5);
        approx::assert_abs_diff_eq!(params[1], 1.01, epsilon = 1e-5);
    }

    #[test]
    fn weight_decay_touches_only_the_given_ranges() {
        let config = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            weight_decay: 0.5,
            ..Default::default()
        };
        let mut opt = Optimizer::new(config, 2);
        let mut params = vec![2.0f32, 2.0];
        let mut grads = vec![0.0f32, 0.0];
        opt.step(&mut params, &mut grads, 0.1, std::slice::from_ref(&(0..1)));
        assert_eq!(params, vec![2.0 - 0.1 * 0.5 * 2.0, 2.0]);
    }

    #[test]
    fn l1_soft_thresholds_the_given_ranges_to_exact_zeros() {
        let config = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            l1: 1.0,
            ..Default::default()
        };
        let mut opt = Optimizer::new(config, 4);
        // Weights 0..3, a bias at 3; no gradient, so only L1 moves them: τ = η λ₁ = 0.1.
        let mut params = vec![0.25f32, -0.05, 0.1, 2.0];
        let mut grads = vec![0.0f32; 4];
        opt.step(&mut params, &mut grads, 0.1, std::slice::from_ref(&(0..3)));
        assert_eq!(params, vec![0.25 - 0.1, 0.0, 0.0, 2.0]);
        // A weight at 0 stays there while its gradient is smaller than λ₁.
        let mut grads = vec![0.0f32, 0.9, -0.9, 0.0];
        opt.step(&mut params, &mut grads, 0.1, std::slice::from_ref(&(0..3)));
        assert_eq!(&params[1..3], [0.0, 0.0]);
    }

    /// One step of `kind` on one parameter as the docs state it: weight decay coupled into the
    /// gradient (decoupled for AdamW), the update rule with Adam's bias-corrected moments, then
    /// L1's soft-threshold for weights (`OptimizerConfig::l1`).
    fn naive_step(c: &OptimizerConfig, t: i32, [w, m, v]: &mut [f32; 3], g: f32, lr: f32, weight: bool) {
        let mut g = g;
        if weight && c.kind == OptimizerKind::AdamW {
            *w -= lr * c.weight_decay * *w;
        } else if weight {
            g += c.weight_decay * *w;
        }
        let mut scale = 1.0;
        match c.kind {
            OptimizerKind::Sgd => *w -= lr * g,
            OptimizerKind::Momentum => {
                *m = c.momentum * *m + g;
                *w -= lr * *m;
            }
            OptimizerKind::Nesterov => {
                *m = c.momentum * *m + g;
                *w -= lr * (g + c.momentum * *m);
            }
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                *m = c.beta1 * *m + (1.0 - c.beta1) * g;
                *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
                let (m_hat, v_hat) = (*m / (1.0 - c.beta1.powi(t)), *v / (1.0 - c.beta2.powi(t)));
                *w -= lr * m_hat / (v_hat.sqrt() + c.epsilon);
                if c.kind == OptimizerKind::Adam {
                    scale = v_hat.sqrt() + c.epsilon;
                }
            }
            OptimizerKind::RmsProp => {
                *v = c.rho * *v + (1.0 - c.rho) * g * g;
                *w -= lr * g / (v.sqrt() + c.epsilon);
                scale = v.sqrt() + c.epsilon;
            }
        }
        let tau = lr * c.l1 / scale;
        if weight {
            *w = if w.abs() <= tau { 0.0 } else { *w - tau * w.signum() };
        }
    }

    #[test]
    fn l1_updates_match_a_naive_reference() {
        let kinds = [
            OptimizerKind::Sgd,
            OptimizerKind::Momentum,
            OptimizerKind::Nesterov,
            OptimizerKind::Adam,
            OptimizerKind::AdamW,
            OptimizerKind::RmsProp,
        ];
        let n = 40;
        for kind in kinds {
            let c = OptimizerConfig {
                kind,
                weight_decay: 0.01,
                l1: 0.2,
                ..Default::default()
            };
            let lr = 0.05;
            let mut opt = Optimizer::new(c, n);
            let mut params: Vec<f32> = (0..n).map(|i| (i as f32 - 20.0) / 40.0).collect();
            let mut naive: Vec<[f32; 3]> = params.iter().map(|&w| [w, 0.0, 0.0]).collect();
            // Weights 0..30 in two ranges, biases 30..40.
            let ranges = [0..12, 12..30];
            for t in 1..=25 {
                // A gradient that pulls every parameter toward 0.3 (weights at index ≥ 20 more strongly).
                let mut grads: Vec<f32> = params
                    .iter()
                    .enumerate()
                    .map(|(i, w)| if i >= 20 { 2.0 } else { 0.01 } * (w - 0.3) + 0.001 * (t as f32).sin())
                    .collect();
                for (i, (p, g)) in naive.iter_mut().zip(&grads).enumerate() {
                    naive_step(&c, t, p, *g, lr, i < 30);
                }
                opt.step(&mut params, &mut grads, lr, &ranges);
                for (i, (&w, reference)) in params.iter().zip(&naive).enumerate() {
                    let r = reference[0];
                    assert!(
                        (w - r).abs() <= 1e-5 * r.abs().max(1.0) && (w == 0.0) == (r == 0.0),
                        "{kind} step {t}, parameter {i}: {w} against {r}"
                    );
                }
            }
            // L1 has set weights of the weak gradients to exactly 0 (not AdamW's: its decoupled
            // threshold is small beside its normalised steps), and no bias.
            let zeros = params[..20].iter().filter(|&&w| w == 0.0).count();
            if kind != OptimizerKind::AdamW {
                assert!(zeros >= 5, "{kind}: {zeros} of 20 weights are 0: {params:?}");
            }
            assert!(params[30..].iter().all(|&b| b != 0.0), "{kind}: {params:?}");
        }
    }

    #[test]
    fn l1_of_0_is_left_out_of_the_settings() {
        // So that checkpoints written before the setting existed still resume.
        let text = serde_json::to_string(&OptimizerConfig::default()).unwrap();
        assert!(!text.contains("l1"), "{text}");
        let read: OptimizerConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(read, OptimizerConfig::default());
        let l1 = OptimizerConfig {
            l1: 0.5,
            ..Default::default()
        };
        let read: OptimizerConfig = serde_json::from_str(&serde_json::to_string(&l1).unwrap()).unwrap();
        assert_eq!(read.l1, 0.5);
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        approx::assert_abs_diff_eq!(g[0], 0.6, epsilon = 1e-6);
        approx::assert_abs_diff_eq!(g[1], 0.8, epsilon = 1e-6);
        let mut small = vec![0.3f32, 0.4];
        clip_grad_norm(&mut small, 1.0);
        assert_eq!(small, vec![0.3, 0.4]);
    }

    /// `step_sum` (Adam's fused addition of two shards' gradients among them) updates like
    /// `step` on the summed gradient, bit for bit, for every optimizer, with and without weight
    /// decay and L1, on a short vector and on one long enough to be shared out over threads.
    #[test]
    fn step_sum_is_the_step_of_the_summed_gradient() {
        use OptimizerKind::*;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for n in [7, 5 * BLOCK + 3] {
            let decayed = [0..3, 5..n - 2];
            for kind in [Sgd, Momentum, Nesterov, Adam, AdamW, RmsProp] {
                for (weight_decay, l1) in [(0.0, 0.0), (1e-2, 0.0), (1e-2, 1e-3)] {
                    let config = OptimizerConfig {
                        kind,
                        weight_decay,
                        l1,
                        ..Default::default()
                    };
                    let (mut fused, mut summed) = (Optimizer::new(config, n), Optimizer::new(config, n));
                    let start: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) / 60.0).collect();
                    let (mut p1, mut p2) = (start.clone(), start);
                    for step in 0..3 {
                        let g = |salt: usize| -> Vec<f32> {
                            (0..n)
                                .map(|i| ((i * 13 + salt * 7 + step) % 29) as f32 / 29.0 - 0.5)
                                .collect()
                        };
                        let (mut a, more) = (g(1), g(2));
                        let mut sum: Vec<f32> = a.iter().zip(&more).map(|(a, b)| a + b).collect();
                        pool.install(|| {
                            fused.step_sum(&mut p1, &mut a, &more, 0.01, &decayed);
                            summed.step(&mut p2, &mut sum, 0.01, &decayed);
                        });
                        assert!(
                            p1 == p2,
                            "{kind:?} decay {weight_decay} l1 {l1}, {n} parameters, step {step}"
                        );
                    }
                    assert_eq!(fused.state(), summed.state(), "{kind:?}");
                }
            }
        }
    }

    #[test]
    fn schedules_follow_their_formulas() {
        let mut step = Scheduler::new("step:2:0.5".parse().unwrap(), 1.0, 10);
        let rates: Vec<f32> = (0..5)
            .map(|e| {
                let r = step.rate();
                step.end_epoch(e, 0.0);
                r
            })
            .collect();
        assert_eq!(rates, vec![1.0, 1.0, 0.5, 0.5, 0.25]);

        let mut cosine = Scheduler::new(Schedule::Cosine, 1.0, 4);
        cosine.end_epoch(1, 0.0);
        approx::assert_abs_diff_eq!(cosine.rate(), 0.5, epsilon = 1e-6);
        cosine.end_epoch(3, 0.0);
        approx::assert_abs_diff_eq!(cosine.rate(), 0.0, epsilon = 1e-6);

        let mut plateau = Scheduler::new("plateau:1:0.5".parse().unwrap(), 1.0, 10);
        for (e, loss) in [1.0, 0.9, 0.95, 0.95, 0.95].into_iter().enumerate() {
            plateau.end_epoch(e, loss);
        }
        assert_eq!(plateau.rate(), 0.5);
        assert!("warmup".parse::<Schedule>().is_err());
        assert!("step:0".parse::<Schedule>().is_err());
    }
}
