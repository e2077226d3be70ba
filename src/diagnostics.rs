//! What the activation functions are doing inside a network, measured.
//!
//! For each layer, over a data set: dead and saturated units, the mean and spread of the
//! outputs (is the layer zero-centred?), a histogram of pre-activations, the gradient's norm
//! and its ratio to the weights' norm (do gradients vanish or explode on their way down?), and
//! how often a neuron's incoming weight gradients all share one sign (the zig-zag that
//! non-zero-centred inputs force on gradient descent).

use serde::{Deserialize, Serialize};

use crate::loss::Loss;
use crate::mlp::Workspace;
use crate::{Matrix, Mlp};

/// Pre-activation histogram range: `[-HISTOGRAM_LIMIT, HISTOGRAM_LIMIT]`, values beyond it
/// counted in the outer bins.
pub const HISTOGRAM_LIMIT: f32 = 8.0;
/// Number of histogram bins.
pub const HISTOGRAM_BINS: usize = 32;
/// A unit is saturated where its derivative is below this share of the function's largest
/// derivative.
pub const SATURATION_THRESHOLD: f32 = 0.01;
/// Gradient norms of the first and last layer that differ by this factor are called vanishing
/// (first smaller) or exploding (first larger).
pub const GRADIENT_RATIO_ALARM: f64 = 100.0;

/// Counts of pre-activations in equal bins over `[-HISTOGRAM_LIMIT, HISTOGRAM_LIMIT]`; the
/// first and last bins also hold everything beyond.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub low: f32,
    /// Upper edge of the last bin.
    pub high: f32,
    /// Count per bin.
    pub counts: Vec<u64>,
}

/// Measurements of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerDiagnostics {
    /// 0-based layer index (the last layer is the output layer).
    pub layer: usize,
    /// The layer's activation, as the CLI spells it.
    pub activation: String,
    /// Number of neurons.
    pub units: usize,
    /// Share of neurons whose output is exactly 0 for every sample.
    pub dead_fraction: f64,
    /// Share of (sample, neuron) pairs where `f'(z)` is below 1 % of its maximum; `None` for
    /// functions that do not saturate (the ReLU family: see `dead_fraction`).
    pub saturated_fraction: Option<f64>,
    /// Neurons saturated on every sample (`None` as above).
    pub always_saturated: Option<usize>,
    /// Mean of the layer's activation outputs.
    pub output_mean: f64,
    /// Standard deviation of the layer's activation outputs.
    pub output_std: f64,
    /// Histogram of pre-activations `z`.
    pub histogram: Histogram,
    /// L2 norm of the loss gradient with respect to the layer's weights (mean over samples).
    pub grad_norm: f64,
    /// L2 norm of the weights.
    pub weight_norm: f64,
    /// `grad_norm / weight_norm`: the relative size of one gradient step.
    pub grad_to_weight: f64,
    /// Mean over neurons of the share of a sample's incoming weight gradients `δ_j·h_i` that
    /// have the majority sign (1.0: all one sign, as with all-positive inputs; about 0.5 for
    /// inputs centred on zero).
    pub same_sign_share: f64,
}

/// Whether gradients reach the first layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientVerdict {
    /// First and last layers' gradient norms within a factor of 100.
    Healthy,
    /// The first layer's gradient is at least 100 times smaller than the last layer's.
    Vanishing,
    /// The first layer's gradient is at least 100 times larger, or not finite.
    Exploding,
}

/// Measurements of every layer, and the gradient verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// One entry per layer, input side first (the last is the output layer).
    pub layers: Vec<LayerDiagnostics>,
    /// Gradient norm of the first layer divided by that of the last.
    pub gradient_ratio: f64,
    /// What the ratio says.
    pub verdict: GradientVerdict,
    /// Samples the figures were computed on.
    pub samples: usize,
}

/// Diagnoses `mlp` on (at most `max_samples` evenly spaced rows of) `x` with dense `targets`,
/// under `loss`. Gradients are those of the mean loss over the rows used.
///
/// # Panics
/// If `x` or `targets` do not fit the network.
pub fn diagnose(mlp: &Mlp, x: &Matrix, targets: &Matrix, loss: Loss, max_samples: usize) -> Diagnostics {
    assert_eq!(x.cols(), mlp.inputs(), "inputs do not fit the network");
    assert_eq!(targets.cols(), mlp.outputs(), "targets do not fit the network");
    let n = x.rows().min(max_samples.max(1));
    let rows: Vec<usize> = (0..n).map(|i| i * x.rows() / n).collect();
    let layers = mlp.layers();
    let output = layers.last().unwrap().activation;
    let mut acc: Vec<Accumulator> = layers.iter().map(|l| Accumulator::new(l.inputs, l.outputs)).collect();
    let mut grads = vec![0.0f32; mlp.params().len()];
    let mut chunk_grads = grads.clone();
    let mut ws = Workspace::default();
    const CHUNK: usize = 256;
    for chunk in rows.chunks(CHUNK) {
        let cx = x.select_rows(chunk);
        let ct = targets.select_rows(chunk);
        mlp.forward(cx.as_slice(), chunk.len(), &mut ws);
        let (z, y, grad_z) = ws.output_parts();
        loss.loss_and_grad(output, z, y, ct.as_slice(), mlp.outputs(), grad_z);
        // The loss gradient is the chunk's mean; weight it to make the sum a mean over all rows.
        let weight = chunk.len() as f32 / n as f32;
        ws.output_grad_mut().iter_mut().for_each(|g| *g *= weight);
        mlp.backward(cx.as_slice(), &mut ws, &mut chunk_grads);
        grads.iter_mut().zip(&chunk_grads).for_each(|(g, c)| *g += c);
        for (i, a) in acc.iter_mut().enumerate() {
            let input = if i == 0 { cx.as_slice() } else { ws.output_of(i - 1) };
            a.add(layers[i].activation, &ws, i, input);
        }
    }
    let layers: Vec<LayerDiagnostics> = acc
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let p = mlp.layer_params(i);
            let g = layers[i].split(&grads[mlp.layer_range(i)]);
            a.finish(i, layers[i].activation, norm(g.weight), norm(p.weight))
        })
        .collect();
    let gradient_ratio = layers[0].grad_norm / layers.last().unwrap().grad_norm;
    let verdict = if !gradient_ratio.is_finite() || gradient_ratio >= GRADIENT_RATIO_ALARM {
        GradientVerdict::Exploding
    } else if gradient_ratio <= 1.0 / GRADIENT_RATIO_ALARM {
        GradientVerdict::Vanishing
    } else {
        GradientVerdict::Healthy
    };
    Diagnostics {
        layers,
        gradient_ratio,
        verdict,
        samples: n,
    }
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
}

/// Running sums for one layer.
struct Accumulator {
    units: usize,
    samples: usize,
    ever_nonzero: Vec<bool>,
    saturated: usize,
    saturated_count: Vec<usize>,
    sum: f64,
    sum_sq: f64,
    histogram: Vec<u64>,
    same_sign_sum: Vec<f64>,
    same_sign_samples: Vec<usize>,
    inputs: usize,
}

impl Accumulator {
    fn new(inputs: usize, units: usize) -> Self {
        Self {
            units,
            samples: 0,
            ever_nonzero: vec![false; units],
            saturated: 0,
            saturated_count: vec![0; units],
            sum: 0.0,
            sum_sq: 0.0,
            histogram: vec![0; HISTOGRAM_BINS],
            same_sign_sum: vec![0.0; units],
            same_sign_samples: vec![0; units],
            inputs,
        }
    }

    fn add(&mut self, activation: crate::Activation, ws: &Workspace, layer: usize, input: &[f32]) {
        let (z, y, delta) = (
            ws.pre_activation(layer),
            ws.activation(layer),
            ws.pre_activation_grad(layer),
        );
        let max_derivative = activation.properties().max_derivative;
        let bin_width = 2.0 * HISTOGRAM_LIMIT / HISTOGRAM_BINS as f32;
        for ((z_row, y_row), (delta_row, h_row)) in z
            .chunks_exact(self.units)
            .zip(y.chunks_exact(self.units))
            .zip(delta.chunks_exact(self.units).zip(input.chunks_exact(self.inputs)))
        {
            self.samples += 1;
            // δ_j·h_i has the sign of h_i times that of δ_j, so the majority share among a
            // neuron's incoming gradients is the majority share of signs among the inputs.
            let positive = h_row.iter().filter(|&&h| h > 0.0).count();
            let negative = h_row.iter().filter(|&&h| h < 0.0).count();
            let share = if positive + negative == 0 {
                0.0
            } else {
                positive.max(negative) as f64 / (positive + negative) as f64
            };
            for j in 0..self.units {
                let (z, y) = (z_row[j], y_row[j]);
                self.ever_nonzero[j] |= y != 0.0;
                self.sum += f64::from(y);
                self.sum_sq += f64::from(y) * f64::from(y);
                let bin = ((z + HISTOGRAM_LIMIT) / bin_width)
                    .floor()
                    .clamp(0.0, (HISTOGRAM_BINS - 1) as f32);
                self.histogram[if z.is_nan() { 0 } else { bin as usize }] += 1;
                if activation.derivative(z, y).abs() < SATURATION_THRESHOLD * max_derivative {
                    self.saturated += 1;
                    self.saturated_count[j] += 1;
                }
                if delta_row[j] != 0.0 && positive + negative > 0 {
                    self.same_sign_sum[j] += share;
                    self.same_sign_samples[j] += 1;
                }
            }
        }
    }

    fn finish(self, layer: usize, activation: crate::Activation, grad_norm: f64, weight_norm: f64) -> LayerDiagnostics {
        let cells = (self.samples * self.units).max(1) as f64;
        let mean = self.sum / cells;
        let saturating = activation.properties().saturating;
        let per_neuron: Vec<f64> = self
            .same_sign_sum
            .iter()
            .zip(&self.same_sign_samples)
            .filter(|(_, &n)| n > 0)
            .map(|(s, &n)| s / n as f64)
            .collect();
        LayerDiagnostics {
            layer,
            activation: activation.to_string(),
            units: self.units,
            dead_fraction: self.ever_nonzero.iter().filter(|&&alive| !alive).count() as f64 / self.units as f64,
            saturated_fraction: saturating.then(|| self.saturated as f64 / cells),
            always_saturated: saturating.then(|| self.saturated_count.iter().filter(|&&c| c == self.samples).count()),
            output_mean: mean,
            output_std: (self.sum_sq / cells - mean * mean).max(0.0).sqrt(),
            histogram: Histogram {
                low: -HISTOGRAM_LIMIT,
                high: HISTOGRAM_LIMIT,
                counts: self.histogram,
            },
            grad_norm,
            weight_norm,
            grad_to_weight: grad_norm / weight_norm,
            same_sign_share: if per_neuron.is_empty() {
                0.0
            } else {
                per_neuron.iter().sum::<f64>() / per_neuron.len() as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, MlpConfig};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    fn network(activation: &str, hidden: Vec<usize>, seed: u64) -> Mlp {
        let config = MlpConfig {
            inputs: 8,
            hidden,
            activations: vec![activation.parse().unwrap()],
            outputs: 3,
            output: Activation::Softmax,
            residual: false,
            init: None,
        };
        Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
    }

    fn data(rows: usize) -> (Matrix, Matrix) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        let x = Matrix::from_vec(rows, 8, (0..rows * 8).map(|_| normal.sample(&mut rng)).collect());
        let mut t = Matrix::zeros(rows, 3);
        for r in 0..rows {
            t.row_mut(r)[r % 3] = 1.0;
        }
        (x, t)
    }

    #[test]
    fn deep_sigmoid_gradients_vanish_and_relu_gradients_do_not() {
        let (x, t) = data(200);
        let sigmoid = diagnose(&network("sigmoid", vec![32; 10], 1), &x, &t, Loss::CrossEntropy, 1000);
        assert_eq!(
            sigmoid.verdict,
            GradientVerdict::Vanishing,
            "ratio {}",
            sigmoid.gradient_ratio
        );
        let relu = diagnose(&network("relu", vec![32; 10], 1), &x, &t, Loss::CrossEntropy, 1000);
        assert_eq!(relu.verdict, GradientVerdict::Healthy, "ratio {}", relu.gradient_ratio);
    }

    #[test]
    fn sigmoid_outputs_are_positive_and_force_one_sign_on_the_next_layers_gradients() {
        let (x, t) = data(100);
        let d = diagnose(&network("sigmoid", vec![16, 16], 2), &x, &t, Loss::CrossEntropy, 1000);
        assert!(d.layers[0].output_mean > 0.3, "{}", d.layers[0].output_mean);
        // Layer 1's inputs are sigmoid outputs: all positive.
        assert_eq!(d.layers[1].same_sign_share, 1.0);
        let tanh = diagnose(&network("tanh", vec![16, 16], 2), &x, &t, Loss::CrossEntropy, 1000);
        assert!(tanh.layers[0].output_mean.abs() < 0.1, "{}", tanh.layers[0].output_mean);
        assert!(
            tanh.layers[1].same_sign_share < 0.8,
            "{}",
            tanh.layers[1].same_sign_share
        );
    }

    #[test]
    fn dead_and_saturated_units_are_counted() {
        let (x, t) = data(50);
        let mut mlp = network("relu", vec![4], 3);
        // Kill neuron 0: zero weights and a negative bias keep its output at exactly 0.
        let range = mlp.layer_range(0);
        let params = &mut mlp.params_mut()[range];
        params[..8].fill(0.0);
        params[32] = -1.0;
        let d = diagnose(&mlp, &x, &t, Loss::CrossEntropy, 1000);
        assert_eq!(d.layers[0].dead_fraction, 0.25);
        assert_eq!(d.layers[0].saturated_fraction, None);

        let mut mlp = network("sigmoid", vec![4], 3);
        let range = mlp.layer_range(0);
        let params = &mut mlp.params_mut()[range];
        params[..8].fill(0.0);
        params[32] = 20.0; // σ(20): derivative 2e-9, saturated on every sample
        let d = diagnose(&mlp, &x, &t, Loss::CrossEntropy, 1000);
        assert_eq!(d.layers[0].always_saturated, Some(1));
        assert!(d.layers[0].saturated_fraction.unwrap() >= 0.25);
        let total: u64 = d.layers[0].histogram.counts.iter().sum();
        assert_eq!(total, 50 * 4);
        assert_eq!(
            d.layers[0].histogram.counts[HISTOGRAM_BINS - 1],
            50,
            "z = 20 lands in the top bin"
        );
    }

    #[test]
    fn gradient_norm_matches_a_full_batch_backward_pass() {
        let (x, t) = data(300);
        let mlp = network("tanh", vec![6], 4);
        let d = diagnose(&mlp, &x, &t, Loss::CrossEntropy, 1000);
        let mut ws = Workspace::default();
        mlp.forward(x.as_slice(), 300, &mut ws);
        let (z, y, g) = ws.output_parts();
        Loss::CrossEntropy.loss_and_grad(Activation::Softmax, z, y, t.as_slice(), 3, g);
        let mut grads = vec![0.0; mlp.params().len()];
        mlp.backward(x.as_slice(), &mut ws, &mut grads);
        let want = norm(&grads[..8 * 6]);
        approx::assert_relative_eq!(d.layers[0].grad_norm, want, max_relative = 1e-4);
    }
}
