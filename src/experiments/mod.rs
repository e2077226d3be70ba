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

use serde::Serialize;

use crate::Result;
use harness::Outcome;

mod harness;
mod report;

// One file per experiment: its claim, its criterion and the run that measures it, side by side.
mod dying_relu;
mod initialisation;
mod linear_collapse;
mod output_range;
mod relu_speed;
mod sigmoid_gradients;
mod softmax;
mod tanh_vs_sigmoid;
mod zero_centred;

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
    measure: fn(Budget, &mut Outcome) -> Result<()>,
}

impl Experiment {
    /// Runs the experiment and times it.
    ///
    /// # Errors
    /// Only if a training run fails (divergence is reported as an error naming the run).
    pub fn run(&self, budget: Budget) -> Result<ExperimentResult> {
        let start = Instant::now();
        let mut outcome = Outcome::new();
        (self.measure)(budget, &mut outcome)?;
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
    linear_collapse::EXPERIMENT,
    sigmoid_gradients::EXPERIMENT,
    zero_centred::EXPERIMENT,
    tanh_vs_sigmoid::EXPERIMENT,
    relu_speed::EXPERIMENT,
    dying_relu::EXPERIMENT,
    softmax::EXPERIMENT,
    output_range::EXPERIMENT,
    initialisation::EXPERIMENT,
];

#[cfg(test)]
mod tests {
    use super::harness::testing::quick;
    use super::*;

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
