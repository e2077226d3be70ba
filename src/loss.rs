//! Loss functions. Each returns the mean loss of a batch and writes `∂L/∂z`, the gradient with
//! respect to the output layer's pre-activations (logits), which starts backpropagation.
//!
//! Cross-entropy is computed from logits fused with softmax, and binary cross-entropy from
//! logits fused with sigmoid: the probabilities are never logged, so a confident wrong answer
//! costs a large finite loss instead of `ln 0 = -inf`, and the gradient is the exact `p - t`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::activation::{log_sum_exp, softplus};
use crate::{Activation, Error, Result};

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy, `L = log Σ_j e^(z_j) - Σ_k t_k z_k` per sample (targets `t` sum to 1);
    /// mean over samples. Requires a softmax output.
    CrossEntropy,
    /// Sigmoid binary cross-entropy per output, `L = softplus(z) - t z`, mean over all outputs
    /// (one output for binary, several for multi-label). Requires a sigmoid output.
    BinaryCrossEntropy,
    /// Mean squared error `(y - t)²`, mean over all outputs.
    Mse,
    /// Huber loss: `r²/2` for `|r| ≤ δ`, `δ(|r| - δ/2)` beyond; mean over all outputs.
    Huber {
        /// Where the loss turns from quadratic to linear.
        delta: f32,
    },
}

impl Loss {
    /// The loss that fits an output activation: cross-entropy for softmax, binary
    /// cross-entropy for sigmoid, mean squared error otherwise.
    pub fn for_output(output: Activation) -> Loss {
        match output {
            Activation::Softmax => Loss::CrossEntropy,
            Activation::Sigmoid => Loss::BinaryCrossEntropy,
            _ => Loss::Mse,
        }
    }

    /// Checks that this loss can be computed on top of `output`.
    ///
    /// # Errors
    /// [`Error::Config`] for cross-entropy without softmax, binary cross-entropy without
    /// sigmoid, or a regression loss on softmax.
    pub fn check(self, output: Activation) -> Result<()> {
        let ok = match self {
            Loss::CrossEntropy => output == Activation::Softmax,
            Loss::BinaryCrossEntropy => output == Activation::Sigmoid,
            Loss::Mse | Loss::Huber { .. } => output != Activation::Softmax,
        };
        if ok {
            return Ok(());
        }
        Err(Error::config(match self {
            Loss::CrossEntropy => format!("loss {self} needs a softmax output, not {output}"),
            Loss::BinaryCrossEntropy => format!("loss {self} needs a sigmoid output, not {output}"),
            _ => format!("loss {self} cannot follow a softmax output; use cross_entropy"),
        }))
    }

    /// Mean loss of a batch and `∂L/∂z` written into `grad_z`.
    ///
    /// `z` are the output layer's pre-activations, `y = output(z)` its outputs and `targets`
    /// the targets, all `[rows, cols]` row-major.
    pub fn loss_and_grad(
        self,
        output: Activation,
        z: &[f32],
        y: &[f32],
        targets: &[f32],
        cols: usize,
        grad_z: &mut [f32],
    ) -> f64 {
        self.weighted_loss_and_grad(output, z, y, targets, cols, None, grad_z)
    }

    /// [`Loss::loss_and_grad`] with each sample's loss, and its gradient, multiplied by its
    /// weight (`weights`: one per row; `None`: all 1, bit for bit the unweighted loss). The
    /// mean is still over the rows (as Keras' `sum_over_batch_size`): weights that average 1
    /// keep the loss on the unweighted scale.
    #[allow(clippy::too_many_arguments)]
    pub fn weighted_loss_and_grad(
        self,
        output: Activation,
        z: &[f32],
        y: &[f32],
        targets: &[f32],
        cols: usize,
        weights: Option<&[f32]>,
        grad_z: &mut [f32],
    ) -> f64 {
        let rows = z.len() / cols;
        let total = self.sum_and_grad(output, z, y, targets, cols, weights, rows, Some(grad_z));
        total / self.denominator(rows, cols)
    }

    /// Mean loss of a batch, without the gradient.
    pub fn loss(self, output: Activation, z: &[f32], y: &[f32], targets: &[f32], cols: usize) -> f64 {
        self.weighted_loss(output, z, y, targets, cols, None)
    }

    /// Mean weighted loss of a batch (see [`Loss::weighted_loss_and_grad`]), without the gradient.
    pub fn weighted_loss(
        self,
        output: Activation,
        z: &[f32],
        y: &[f32],
        targets: &[f32],
        cols: usize,
        weights: Option<&[f32]>,
    ) -> f64 {
        let rows = z.len() / cols;
        self.sum_and_grad(output, z, y, targets, cols, weights, rows, None) / self.denominator(rows, cols)
    }

    /// What a batch's summed loss is divided by for its mean: its rows for cross-entropy (a
    /// row's loss sums over its classes), its values for the others.
    pub(crate) fn denominator(self, rows: usize, cols: usize) -> f64 {
        match self {
            Loss::CrossEntropy => rows.max(1) as f64,
            _ => (rows * cols).max(1) as f64,
        }
    }

    /// Summed loss of `z`'s rows, each row's times its weight, and, when `grad_z` is given,
    /// `∂L/∂z` of the mean loss of a batch of `batch_rows` rows (these or more: a shard of a
    /// batch gives its part of the batch's gradient). The batch's mean loss is the sum over its
    /// rows divided by [`Loss::denominator`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sum_and_grad(
        self,
        output: Activation,
        z: &[f32],
        y: &[f32],
        targets: &[f32],
        cols: usize,
        weights: Option<&[f32]>,
        batch_rows: usize,
        mut grad_z: Option<&mut [f32]>,
    ) -> f64 {
        let rows = z.len() / cols;
        let scale = 1.0 / self.denominator(batch_rows, cols) as f32;
        // Multiplying by 1 is exact: without weights, the values are the unweighted ones, bit for bit.
        let weight = |row: usize| weights.map_or(1.0, |w| w[row]);
        let mut total = 0.0f64;
        match self {
            Loss::CrossEntropy => {
                for r in 0..rows {
                    let span = r * cols..(r + 1) * cols;
                    let (zr, yr, tr) = (&z[span.clone()], &y[span.clone()], &targets[span.clone()]);
                    // -Σ t_k log softmax(z)_k = Σ t_k (lse(z) - z_k); skipping t_k = 0 keeps a
                    // -inf logit of an impossible class from turning 0·inf into NaN.
                    let lse = log_sum_exp(zr);
                    let w = weight(r);
                    total += tr
                        .iter()
                        .zip(zr)
                        .filter(|(&t, _)| t != 0.0)
                        .map(|(&t, &z)| (t * (lse - z)) as f64)
                        .sum::<f64>()
                        * w as f64;
                    if let Some(g) = grad_z.as_deref_mut() {
                        for ((g, &p), &t) in g[span].iter_mut().zip(yr).zip(tr) {
                            *g = (p - t) * scale * w;
                        }
                    }
                }
            }
            Loss::BinaryCrossEntropy => {
                for (i, (&z, &t)) in z.iter().zip(targets).enumerate() {
                    // -t ln σ(z) - (1-t) ln(1-σ(z)) = softplus(z) - t z
                    let w = weight(i / cols);
                    total += (softplus(z) - t * z) as f64 * w as f64;
                    if let Some(g) = grad_z.as_deref_mut() {
                        g[i] = (y[i] - t) * scale * w;
                    }
                }
            }
            Loss::Mse | Loss::Huber { .. } => {
                for (i, (&y, &t)) in y.iter().zip(targets).enumerate() {
                    // The value in f64: a residual of 1e20 is finite in f32 but its square is not.
                    let r = y - t;
                    let r64 = r as f64;
                    let (value, slope) = match self {
                        Loss::Huber { delta } if r.abs() > delta => {
                            (delta as f64 * (r64.abs() - 0.5 * delta as f64), delta.copysign(r))
                        }
                        Loss::Huber { .. } => (0.5 * r64 * r64, r),
                        _ => (r64 * r64, 2.0 * r),
                    };
                    let w = weight(i / cols);
                    total += value * w as f64;
                    if let Some(g) = grad_z.as_deref_mut() {
                        // ∂L/∂z = ∂L/∂y · σ'(z); `check` rules out softmax, so σ acts elementwise.
                        g[i] = slope * scale * w * output.derivative(z[i], y);
                    }
                }
            }
        }
        total
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::CrossEntropy => f.write_str("cross_entropy"),
            Loss::BinaryCrossEntropy => f.write_str("binary_cross_entropy"),
            Loss::Mse => f.write_str("mse"),
            Loss::Huber { delta } if *delta == 1.0 => f.write_str("huber"),
            Loss::Huber { delta } => write!(f, "huber:{delta}"),
        }
    }
}

impl FromStr for Loss {
    type Err = Error;
    /// `cross_entropy` (`ce`), `binary_cross_entropy` (`bce`), `mse`, `huber[:delta]`.
    fn from_str(s: &str) -> Result<Self> {
        // Only the name is normalized: a parameter keeps its signs and exponents (1e-3).
        let (name, param) = s.split_once(':').map_or((s, None), |(n, p)| (n, Some(p)));
        let name = name.to_ascii_lowercase().replace('-', "_");
        match (name.as_str(), param) {
            ("cross_entropy" | "ce", None) => Ok(Loss::CrossEntropy),
            ("binary_cross_entropy" | "bce", None) => Ok(Loss::BinaryCrossEntropy),
            ("mse", None) => Ok(Loss::Mse),
            ("huber", None) => Ok(Loss::Huber { delta: 1.0 }),
            ("huber", Some(p)) => match p.parse::<f32>() {
                Ok(delta) if delta > 0.0 && delta.is_finite() => Ok(Loss::Huber { delta }),
                _ => Err(Error::config(format!(
                    "huber delta must be a positive number, got '{p}'"
                ))),
            },
            _ => Err(Error::config(format!(
                "unknown loss '{s}'; valid: cross_entropy, binary_cross_entropy, mse, huber[:delta]"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of the output activation for logits `z`.
    fn outputs(output: Activation, z: &[f32], cols: usize) -> Vec<f32> {
        let mut y = vec![0.0; z.len()];
        output.forward_batch(z, &mut y, cols, &[]);
        y
    }

    /// `∂L/∂z` from `loss_and_grad` against central differences of `loss` (in f64).
    fn check_gradient(loss: Loss, output: Activation, z: &[f32], targets: &[f32], cols: usize) {
        check_weighted_gradient(loss, output, z, targets, cols, None);
    }

    /// The same for the loss weighted per row by `weights`.
    fn check_weighted_gradient(
        loss: Loss,
        output: Activation,
        z: &[f32],
        targets: &[f32],
        cols: usize,
        weights: Option<&[f32]>,
    ) {
        let y = outputs(output, z, cols);
        let mut grad = vec![0.0; z.len()];
        let value = loss.weighted_loss_and_grad(output, z, &y, targets, cols, weights, &mut grad);
        assert!((value - loss.weighted_loss(output, z, &y, targets, cols, weights)).abs() < 1e-12);
        let h = 1e-2f32;
        for i in 0..z.len() {
            let mut zp = z.to_vec();
            zp[i] += h;
            let mut zm = z.to_vec();
            zm[i] -= h;
            let lp = loss.weighted_loss(output, &zp, &outputs(output, &zp, cols), targets, cols, weights);
            let lm = loss.weighted_loss(output, &zm, &outputs(output, &zm, cols), targets, cols, weights);
            let numeric = (lp - lm) / (2.0 * h as f64);
            let error = (numeric - grad[i] as f64).abs();
            assert!(
                error < 1e-3 * numeric.abs().max(1.0),
                "{loss} on {output}, z[{i}]: backprop {} vs {numeric}",
                grad[i]
            );
        }
    }

    #[test]
    fn every_loss_gradient_matches_central_differences() {
        let z = [0.3, -1.2, 2.0, 0.7, -0.4, 0.1];
        check_gradient(
            Loss::CrossEntropy,
            Activation::Softmax,
            &z,
            &[0.0, 1.0, 0.0, 0.2, 0.3, 0.5],
            3,
        );
        check_gradient(
            Loss::BinaryCrossEntropy,
            Activation::Sigmoid,
            &z,
            &[1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
            2,
        );
        for output in [Activation::Identity, Activation::Tanh, Activation::Sigmoid] {
            let t = [0.5, -0.2, 0.9, 0.1, 0.0, -0.7];
            check_gradient(Loss::Mse, output, &z, &t, 2);
            check_gradient(Loss::Huber { delta: 0.5 }, output, &z, &t, 2);
        }
    }

    #[test]
    fn weighted_loss_gradients_match_central_differences() {
        let z = [0.3, -1.2, 2.0, 0.7, -0.4, 0.1];
        // Two rows of three columns, three rows of two, six of one.
        check_weighted_gradient(
            Loss::CrossEntropy,
            Activation::Softmax,
            &z,
            &[0.0, 1.0, 0.0, 0.2, 0.3, 0.5],
            3,
            Some(&[2.5, 0.25]),
        );
        let w3 = [0.0, 3.0, 0.5];
        check_weighted_gradient(
            Loss::BinaryCrossEntropy,
            Activation::Sigmoid,
            &z,
            &[1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
            2,
            Some(&w3),
        );
        let t = [0.5, -0.2, 0.9, 0.1, 0.0, -0.7];
        check_weighted_gradient(Loss::Mse, Activation::Tanh, &z, &t, 2, Some(&w3));
        check_weighted_gradient(
            Loss::Huber { delta: 0.5 },
            Activation::Identity,
            &z,
            &t,
            1,
            Some(&[1.0, 2.0, 0.0, 4.0, 0.5, 1.5]),
        );
        // Weights of 1 give the unweighted loss and gradient bit for bit; a weight of 2 doubles a row.
        let y = outputs(Activation::Sigmoid, &z, 1);
        let (mut plain, mut ones, mut doubled) = ([0.0; 6], [0.0; 6], [0.0; 6]);
        let t = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let a = Loss::BinaryCrossEntropy.loss_and_grad(Activation::Sigmoid, &z, &y, &t, 1, &mut plain);
        let b = Loss::BinaryCrossEntropy.weighted_loss_and_grad(
            Activation::Sigmoid,
            &z,
            &y,
            &t,
            1,
            Some(&[1.0; 6]),
            &mut ones,
        );
        assert_eq!(
            (a.to_bits(), plain.map(f32::to_bits)),
            (b.to_bits(), ones.map(f32::to_bits))
        );
        Loss::BinaryCrossEntropy.weighted_loss_and_grad(
            Activation::Sigmoid,
            &z,
            &y,
            &t,
            1,
            Some(&[2.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
            &mut doubled,
        );
        assert_eq!(doubled[0], 2.0 * plain[0]);
        assert_eq!(doubled[1..], plain[1..]);
    }

    #[test]
    fn cross_entropy_from_logits_is_stable_at_extremes() {
        let z = [1e4f32, -1e4, 0.0];
        let y = outputs(Activation::Softmax, &z, 3);
        let mut grad = [0.0; 3];
        // Wrong by a margin of 1e4: the loss is the margin, not ln(0) = inf.
        let loss = Loss::CrossEntropy.loss_and_grad(Activation::Softmax, &z, &y, &[0.0, 0.0, 1.0], 3, &mut grad);
        approx::assert_relative_eq!(loss, 1e4, max_relative = 1e-6);
        assert_eq!(grad, [1.0, 0.0, -1.0]);
        // Right by the same margin: zero loss and gradient.
        let loss = Loss::CrossEntropy.loss_and_grad(Activation::Softmax, &z, &y, &[1.0, 0.0, 0.0], 3, &mut grad);
        assert_eq!(loss, 0.0);
        assert_eq!(grad, [0.0, 0.0, 0.0]);
        // An impossible class (logit -inf) with target 0 contributes nothing, not 0·inf = NaN.
        let z = [f32::NEG_INFINITY, 0.0, 0.0];
        let y = outputs(Activation::Softmax, &z, 3);
        let loss = Loss::CrossEntropy.loss(Activation::Softmax, &z, &y, &[0.0, 1.0, 0.0], 3);
        approx::assert_abs_diff_eq!(loss, std::f64::consts::LN_2, epsilon = 1e-6);
    }

    #[test]
    fn binary_cross_entropy_from_logits_is_stable_at_extremes() {
        let z = [1e4f32, -1e4, 1e4, -1e4, f32::MAX];
        let t = [0.0f32, 1.0, 1.0, 0.0, 1.0];
        let y = outputs(Activation::Sigmoid, &z, 1);
        let mut grad = [0.0; 5];
        let loss = Loss::BinaryCrossEntropy.loss_and_grad(Activation::Sigmoid, &z, &y, &t, 1, &mut grad);
        // Two confident mistakes cost 1e4 each; the right answers cost 0.
        approx::assert_relative_eq!(loss, 2e4 / 5.0, max_relative = 1e-6);
        assert_eq!(grad, [0.2, -0.2, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn mse_of_huge_residuals_stays_finite() {
        let z = [1e30f32];
        let loss = Loss::Mse.loss(Activation::Identity, &z, &z, &[0.0], 1);
        assert!(loss.is_finite() && loss > 1e59);
    }

    #[test]
    fn losses_check_their_output_and_parse() {
        assert!(Loss::CrossEntropy.check(Activation::Softmax).is_ok());
        assert!(Loss::CrossEntropy.check(Activation::Sigmoid).is_err());
        assert!(Loss::BinaryCrossEntropy.check(Activation::Identity).is_err());
        assert!(Loss::Mse.check(Activation::Softmax).is_err());
        for loss in [
            Loss::CrossEntropy,
            Loss::BinaryCrossEntropy,
            Loss::Mse,
            Loss::Huber { delta: 1.0 },
            Loss::Huber { delta: 0.5 },
        ] {
            assert_eq!(loss.to_string().parse::<Loss>().unwrap(), loss);
        }
        assert!("huber:-1".parse::<Loss>().is_err());
        assert!("hinge".parse::<Loss>().is_err());
    }

    #[test]
    fn a_huber_delta_keeps_its_minus_signs() {
        assert_eq!("Huber:1e-3".parse::<Loss>().unwrap(), Loss::Huber { delta: 1e-3 });
        assert_eq!(
            "binary-cross-entropy".parse::<Loss>().unwrap(),
            Loss::BinaryCrossEntropy
        );
        let message = "huber:-1".parse::<Loss>().unwrap_err().to_string();
        assert_eq!(message, "huber delta must be a positive number, got '-1'");
    }
}
