//! Which output activation, loss and hidden activation suit a data set's target, and why.
//!
//! [`advise`] looks at the target (classes, or the range of the values) and recommends the
//! output activation and loss that fit it, with a one-line reason each, and warns when an
//! output the user means to use cannot fit it (a sigmoid for targets above 1, softmax for a
//! regression, …). Multi-label targets (several 0/1 columns) are not recognised: actlab's data
//! sets have one target column.

use std::fmt;

use serde::Serialize;

use crate::{Activation, Dataset, Error, Result, Target};

/// What kind of values the target holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Two classes.
    Binary,
    /// Three or more classes.
    MultiClass,
    /// Real values, all within [0, 1].
    UnitInterval,
    /// Real values within [-1, 1], some negative.
    SymmetricUnit,
    /// Real values, none negative, some above 1.
    NonNegative,
    /// Real values of both signs beyond [-1, 1].
    Unbounded,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Binary => "binary classification",
            TargetKind::MultiClass => "multi-class classification",
            TargetKind::UnitInterval => "real values bounded in [0, 1]",
            TargetKind::SymmetricUnit => "real values bounded in [-1, 1]",
            TargetKind::NonNegative => "non-negative real values, unbounded above",
            TargetKind::Unbounded => "real values of both signs, unbounded",
        })
    }
}

/// What the target looks like.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetSummary {
    /// The kind of target.
    pub kind: TargetKind,
    /// Name of the target column.
    pub name: String,
    /// Number of samples.
    pub samples: usize,
    /// Class labels (classification).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Smallest value (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f32>,
    /// Largest value (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f32>,
    /// Largest distance from the mean in standard deviations (regression): outliers above 5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_z: Option<f64>,
}

/// One recommendation and its reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The name as `actlab train` spells it.
    pub name: String,
    /// Why, in one line.
    pub reason: String,
}

/// Recommendations for a data set's target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Advice {
    /// What the target looks like.
    pub target: TargetSummary,
    /// Output activation.
    pub output: Choice,
    /// Loss.
    pub loss: Choice,
    /// Hidden activation.
    pub hidden: Choice,
    /// Whether to standardise a regression target ([`crate::FitConfig::scale_target`]): false
    /// where the recommended output's range must hold the targets as they are.
    pub scale_target: bool,
    /// Problems with the output activation the user gave (empty when it fits or none was given).
    pub warnings: Vec<String>,
}

/// Targets further than this many standard deviations from their mean count as outliers.
pub const OUTLIER_Z: f64 = 5.0;

/// Inspects `data`'s target and recommends output activation, loss and hidden activation;
/// `planned_output` is checked against the target.
///
/// # Errors
/// [`Error::Config`] when the data has no target or no samples, or its classes are fewer
/// than two.
pub fn advise(data: &Dataset, planned_output: Option<Activation>) -> Result<Advice> {
    let target = summarize(data)?;
    let choice = |name: &str, reason: String| Choice {
        name: name.to_string(),
        reason,
    };
    let range = || format!("[{}, {}]", target.min.unwrap_or(0.0), target.max.unwrap_or(0.0));
    let unscaled = "pass --no-scale-target, since standardised targets leave that range";
    let (output, loss) = match target.kind {
        TargetKind::Binary => (
            choice("sigmoid", "one unit giving P(second class) in (0, 1)".into()),
            choice(
                "binary_cross_entropy",
                "computed from the logit, its gradient p - t does not vanish when a confident answer is wrong".into(),
            ),
        ),
        TargetKind::MultiClass => (
            choice(
                "softmax",
                format!(
                    "one probability per class ({} classes), summing to 1",
                    target.classes.len()
                ),
            ),
            choice(
                "cross_entropy",
                "computed from the logits with softmax, its gradient p - t does not saturate".into(),
            ),
        ),
        TargetKind::UnitInterval => (
            choice(
                "sigmoid",
                format!("its range (0, 1) covers the targets {}; {unscaled}", range()),
            ),
            regression_loss(&target),
        ),
        TargetKind::SymmetricUnit => (
            choice(
                "tanh",
                format!("its range (-1, 1) covers the targets {}; {unscaled}", range()),
            ),
            regression_loss(&target),
        ),
        TargetKind::NonNegative => (
            choice(
                "identity",
                format!(
                    "targets {} go beyond 1, out of sigmoid's and tanh's reach; with target standardisation (the \
                     default) identity fits any scale (softplus with --no-scale-target keeps predictions positive)",
                    range()
                ),
            ),
            regression_loss(&target),
        ),
        TargetKind::Unbounded => (
            choice(
                "identity",
                format!(
                    "targets {} take both signs beyond [-1, 1]: only an unbounded output reaches them",
                    range()
                ),
            ),
            regression_loss(&target),
        ),
    };
    let hidden = choice(
        "relu",
        "no saturation for positive inputs, so gradients reach the first layers and training is fast; \
         leaky_relu if units die (see train --diagnostics)"
            .into(),
    );
    let scale_target = !matches!(target.kind, TargetKind::UnitInterval | TargetKind::SymmetricUnit);
    let warnings = planned_output.map(|o| check_output(o, &target)).unwrap_or_default();
    Ok(Advice {
        target,
        output,
        loss,
        hidden,
        scale_target,
        warnings,
    })
}

fn regression_loss(target: &TargetSummary) -> Choice {
    match target.max_z {
        Some(z) if z > OUTLIER_Z => Choice {
            name: "huber".into(),
            reason: format!(
                "a target lies {} standard deviations from the mean: such outliers dominate a squared error, \
                 huber grows only linearly for them",
                short(z)
            ),
        },
        _ => Choice {
            name: "mse".into(),
            reason: "the standard regression loss; its gradient is the residual y - t".into(),
        },
    }
}

fn summarize(data: &Dataset) -> Result<TargetSummary> {
    if data.is_empty() {
        return Err(Error::config("the data has no samples"));
    }
    let mut summary = TargetSummary {
        kind: TargetKind::Unbounded,
        name: data.target_name.clone(),
        samples: data.len(),
        classes: Vec::new(),
        min: None,
        max: None,
        max_z: None,
    };
    match &data.target {
        Target::None => return Err(Error::config("the data has no target column")),
        Target::Classes { classes, .. } if classes.len() < 2 => {
            return Err(Error::config(format!(
                "the target '{}' holds one class ({}): classification needs at least two",
                data.target_name,
                classes.first().map_or("none", String::as_str)
            )))
        }
        Target::Classes { classes, .. } => {
            summary.kind = if classes.len() == 2 {
                TargetKind::Binary
            } else {
                TargetKind::MultiClass
            };
            summary.classes = classes.clone();
        }
        Target::Values(values) => {
            let (min, max) = values
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
            let n = values.len() as f64;
            let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let std = (values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
            summary.kind = if min >= 0.0 && max <= 1.0 {
                TargetKind::UnitInterval
            } else if min >= -1.0 && max <= 1.0 {
                TargetKind::SymmetricUnit
            } else if min >= 0.0 {
                TargetKind::NonNegative
            } else {
                TargetKind::Unbounded
            };
            summary.min = Some(min);
            summary.max = Some(max);
            let (low, high) = (f64::from(min), f64::from(max));
            summary.max_z = Some(if std > 0.0 {
                (high - mean).max(mean - low) / std
            } else {
                0.0
            });
        }
    }
    Ok(summary)
}

/// Why `output` does not fit the target (empty when it does).
fn check_output(output: Activation, target: &TargetSummary) -> Vec<String> {
    let classes = target.classes.len();
    match target.kind {
        TargetKind::Binary | TargetKind::MultiClass => match output {
            Activation::Softmax => Vec::new(),
            Activation::Sigmoid if target.kind == TargetKind::Binary => Vec::new(),
            Activation::Sigmoid => vec![format!(
                "sigmoid treats the {classes} classes as independent yes/no questions: the outputs do not sum \
                 to 1; use softmax for one class per sample"
            )],
            other => vec![format!(
                "{other} does not give probabilities: the loss falls back to mse on 0/1 targets; use {} for \
                 classes",
                if target.kind == TargetKind::Binary {
                    "sigmoid"
                } else {
                    "softmax"
                }
            )],
        },
        _ => {
            if output == Activation::Softmax {
                return vec![
                    "softmax cannot be a regression output: its outputs sum to 1 (actlab train refuses it); use \
                     identity"
                        .into(),
                ];
            }
            let (low, high) = output.properties().range;
            let (min, max) = (target.min.unwrap_or(0.0), target.max.unwrap_or(0.0));
            if min < low || max > high {
                vec![format!(
                    "{output} outputs lie in ({}, {}) but the targets range over [{min}, {max}]: the predictions \
                     cannot reach them",
                    short(f64::from(low)),
                    short(f64::from(high)),
                )]
            } else if low.is_finite() || high.is_finite() {
                vec![format!(
                    "{output} outputs lie in ({}, {}): it fits these targets only with --no-scale-target, since \
                     standardised targets (mean 0, standard deviation 1) leave that range",
                    short(f64::from(low)),
                    short(f64::from(high)),
                )]
            } else {
                Vec::new()
            }
        }
    }
}

/// A number with at most 4 significant decimals and no trailing zeros; infinities as ∞.
fn short(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;

    fn values(v: &[f32]) -> Dataset {
        Dataset {
            x: Matrix::zeros(v.len(), 1),
            feature_names: vec!["x".into()],
            target_name: "y".into(),
            target: Target::Values(v.to_vec()),
            images: false,
        }
    }

    fn classes(n: usize) -> Dataset {
        Dataset {
            x: Matrix::zeros(2 * n, 1),
            feature_names: vec!["x".into()],
            target_name: "label".into(),
            target: Target::Classes {
                labels: (0..2 * n as u32).map(|i| i % n as u32).collect(),
                classes: (0..n).map(|c| format!("c{c}")).collect(),
            },
            images: false,
        }
    }

    fn advice(data: &Dataset, output: Option<&str>) -> Advice {
        advise(data, output.map(|o| o.parse().unwrap())).unwrap()
    }

    #[test]
    fn binary_target_gets_sigmoid_and_binary_cross_entropy() {
        let a = advice(&classes(2), None);
        assert_eq!(a.target.kind, TargetKind::Binary);
        assert_eq!(
            (a.output.name.as_str(), a.loss.name.as_str()),
            ("sigmoid", "binary_cross_entropy")
        );
        assert!(a.warnings.is_empty());
        assert!(advice(&classes(2), Some("softmax")).warnings.is_empty());
        assert!(advice(&classes(2), Some("tanh")).warnings[0].contains("use sigmoid"));
    }

    #[test]
    fn multi_class_target_gets_softmax_and_cross_entropy() {
        let a = advice(&classes(3), Some("sigmoid"));
        assert_eq!(a.target.kind, TargetKind::MultiClass);
        assert_eq!(
            (a.output.name.as_str(), a.loss.name.as_str()),
            ("softmax", "cross_entropy")
        );
        assert!(a.output.reason.contains("3 classes"));
        assert_eq!(a.warnings.len(), 1);
        assert!(a.warnings[0].contains("do not sum to 1"));
        assert!(advice(&classes(3), Some("softmax")).warnings.is_empty());
    }

    #[test]
    fn unit_interval_target_gets_sigmoid_without_target_scaling() {
        let a = advice(&values(&[0.0, 0.25, 1.0]), None);
        assert_eq!(a.target.kind, TargetKind::UnitInterval);
        assert_eq!((a.output.name.as_str(), a.loss.name.as_str()), ("sigmoid", "mse"));
        assert!(!a.scale_target);
        let w = advice(&values(&[0.0, 0.25, 1.0]), Some("sigmoid")).warnings;
        assert!(w.len() == 1 && w[0].contains("--no-scale-target"), "{w:?}");
    }

    #[test]
    fn symmetric_target_gets_tanh() {
        let a = advice(&values(&[-0.5, 0.2, 1.0]), None);
        assert_eq!(a.target.kind, TargetKind::SymmetricUnit);
        assert_eq!(a.output.name, "tanh");
        assert!(advice(&values(&[-0.5, 0.2, 1.0]), Some("sigmoid")).warnings[0].contains("cannot reach"));
    }

    #[test]
    fn non_negative_and_unbounded_targets_get_identity() {
        let a = advice(&values(&[0.0, 3.0, 12.5]), Some("sigmoid"));
        assert_eq!(a.target.kind, TargetKind::NonNegative);
        assert_eq!(a.output.name, "identity");
        assert!(a.scale_target);
        assert!(
            a.warnings[0].contains("sigmoid outputs lie in (0, 1)"),
            "{:?}",
            a.warnings
        );
        assert!(a.warnings[0].contains("[0, 12.5]"), "{:?}", a.warnings);

        let a = advice(&values(&[-4.0, 0.0, 2.0]), Some("relu"));
        assert_eq!(a.target.kind, TargetKind::Unbounded);
        assert_eq!(a.output.name, "identity");
        assert!(a.warnings[0].contains("relu outputs lie in (0, ∞)"), "{:?}", a.warnings);
        assert!(advice(&values(&[-4.0, 0.0, 2.0]), Some("identity")).warnings.is_empty());
        assert!(advice(&values(&[-4.0, 0.0, 2.0]), Some("softmax")).warnings[0].contains("regression"));
    }

    #[test]
    fn outliers_suggest_huber() {
        let mut v: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        assert_eq!(advice(&values(&v), None).loss.name, "mse");
        v.push(1000.0);
        let a = advice(&values(&v), None);
        assert_eq!(a.loss.name, "huber");
        assert!(a.target.max_z.unwrap() > OUTLIER_Z);
    }

    #[test]
    fn data_without_target_is_an_error() {
        let mut d = values(&[1.0]);
        d.target = Target::None;
        assert!(advise(&d, None).unwrap_err().to_string().contains("no target"));
        assert!(advise(&values(&[]), None).is_err());
    }

    #[test]
    fn one_class_is_an_error() {
        let err = advise(&classes(1), None).unwrap_err().to_string();
        assert_eq!(
            err,
            "the target 'label' holds one class (c0): classification needs at least two"
        );
    }
}
