//! A multi-layer perceptron: a chain of dense layers with one activation each, optionally
//! with skip connections `h = h + σ(W·h + b)` between hidden layers of equal width.
//!
//! All parameters live in one flat buffer (layer after layer: weight, bias, PReLU slopes), so
//! optimizers, gradient clipping, checkpoints and model files each handle a single slice.

use std::ops::Range;

use rand::{Rng, RngExt};

use crate::layer::{LayerSpec, Params};
use crate::{Activation, Error, Init, Matrix, Result};

/// The architecture of a network, before its weights are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// Number of input features.
    pub inputs: usize,
    /// Width of each hidden layer.
    pub hidden: Vec<usize>,
    /// One activation for all hidden layers, or one per hidden layer.
    pub activations: Vec<Activation>,
    /// Number of outputs.
    pub outputs: usize,
    /// Activation of the output layer.
    pub output: Activation,
    /// Skip connections between hidden layers of equal width.
    pub residual: bool,
    /// Weight initialisation for every layer; `None` picks each layer's activation's default.
    pub init: Option<Init>,
}

/// A multi-layer perceptron with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    layers: Vec<LayerSpec>,
    /// Start of each layer's parameters in `params`, plus the total length at the end.
    offsets: Vec<usize>,
    params: Vec<f32>,
    residual: bool,
}

/// Buffers for the forward and backward passes of one batch, reused from batch to batch.
///
/// After [`Mlp::forward`] it holds each layer's pre-activations `z = W·h_prev + b` and outputs,
/// which is what the diagnostics read.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    rows: usize,
    /// Per layer: pre-activations `z`, `[rows, outputs]`.
    z: Vec<Vec<f32>>,
    /// Per layer: `σ(z)`.
    y: Vec<Vec<f32>>,
    /// Per residual layer: `h_prev + σ(z)` (empty for the others, whose output is `y`).
    h: Vec<Vec<f32>>,
    /// Per layer: gradient of the loss with respect to `z`.
    grad_z: Vec<Vec<f32>>,
    /// Per layer: gradient of the loss with respect to the layer's output `h`.
    grad_h: Vec<Vec<f32>>,
    /// Per hidden layer under dropout: the mask its output was multiplied by (0, or
    /// `1 / (1 - rate)` for a kept unit); empty for the other layers and without dropout.
    masks: Vec<Vec<f32>>,
}

impl Workspace {
    /// Number of samples in the last forward pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Pre-activations `z` of layer `i`, `[rows, outputs]` row-major.
    pub fn pre_activation(&self, i: usize) -> &[f32] {
        &self.z[i]
    }

    /// Activation outputs `σ(z)` of layer `i` (before any skip connection is added).
    pub fn activation(&self, i: usize) -> &[f32] {
        &self.y[i]
    }

    /// The layer's output `h` that feeds the next layer (`σ(z)`, plus `h_prev` on a skip connection).
    pub fn output_of(&self, i: usize) -> &[f32] {
        if self.h[i].is_empty() {
            &self.y[i]
        } else {
            &self.h[i]
        }
    }

    /// Gradient of the loss with respect to layer `i`'s pre-activations, after [`Mlp::backward`].
    pub fn pre_activation_grad(&self, i: usize) -> &[f32] {
        &self.grad_z[i]
    }

    /// The network's output: the last layer's activation outputs.
    pub fn output(&self) -> &[f32] {
        self.y.last().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The last layer's pre-activations (logits).
    pub fn logits(&self) -> &[f32] {
        self.z.last().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Where the loss writes `∂L/∂z` of the output layer before [`Mlp::backward`].
    pub fn output_grad_mut(&mut self) -> &mut [f32] {
        self.grad_z.last_mut().map(Vec::as_mut_slice).unwrap_or(&mut [])
    }

    /// The logits, the outputs and the output gradient buffer at once (for the loss).
    pub fn output_parts(&mut self) -> (&[f32], &[f32], &mut [f32]) {
        let last = self.z.len() - 1;
        (&self.z[last], &self.y[last], &mut self.grad_z[last])
    }

    fn prepare(&mut self, mlp: &Mlp, rows: usize) {
        let n = mlp.layers.len();
        for v in [
            &mut self.z,
            &mut self.y,
            &mut self.h,
            &mut self.grad_z,
            &mut self.grad_h,
        ] {
            v.resize_with(n, Vec::new);
        }
        for (i, layer) in mlp.layers.iter().enumerate() {
            let len = rows * layer.outputs;
            self.z[i].resize(len, 0.0);
            self.y[i].resize(len, 0.0);
            self.grad_z[i].resize(len, 0.0);
            self.grad_h[i].resize(len, 0.0);
            self.h[i].resize(if mlp.is_residual(i) { len } else { 0 }, 0.0);
        }
        // Emptied, not dropped: a layer's mask keeps its memory for the next step.
        self.masks.iter_mut().for_each(Vec::clear);
        self.rows = rows;
    }
}

impl Mlp {
    /// Builds a network and draws its weights from `rng` (biases start at zero, PReLU slopes
    /// at their initial value).
    ///
    /// # Errors
    /// [`Error::Config`] for a zero size, an activation list whose length is neither 1 nor the
    /// number of hidden layers, softmax on a hidden layer, or softmax with a single output.
    pub fn new<R: Rng + ?Sized>(config: &MlpConfig, rng: &mut R) -> Result<Self> {
        let MlpConfig {
            inputs,
            ref hidden,
            ref activations,
            outputs,
            output,
            residual,
            init,
        } = *config;
        if inputs == 0 {
            return Err(Error::config("the data has no feature columns"));
        }
        if let Some(i) = hidden.iter().position(|&h| h == 0) {
            return Err(Error::config(format!(
                "hidden layer {} has size 0; every layer needs at least one neuron",
                i + 1
            )));
        }
        if outputs == 0 {
            return Err(Error::config("the network needs at least one output"));
        }
        if !hidden.is_empty() && activations.len() != 1 && activations.len() != hidden.len() {
            return Err(Error::config(format!(
                "{} activations given for {} hidden layers: give one for all, or one per layer",
                activations.len(),
                hidden.len()
            )));
        }
        if let Some(a) = activations.iter().find(|a| a.is_output_only()) {
            return Err(Error::config(format!("{a} can only be the output activation")));
        }
        if output == Activation::Softmax && outputs < 2 {
            return Err(Error::config("softmax needs at least two outputs; use sigmoid for one"));
        }
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut width = inputs;
        for (i, &h) in hidden.iter().enumerate() {
            let activation = activations[if activations.len() == 1 { 0 } else { i }];
            layers.push(LayerSpec {
                inputs: width,
                outputs: h,
                activation,
            });
            width = h;
        }
        layers.push(LayerSpec {
            inputs: width,
            outputs,
            activation: output,
        });
        let mut mlp = Self::from_parts(layers, None, residual)?;
        for i in 0..mlp.layers.len() {
            let layer = mlp.layers[i];
            let p = layer.split_mut(mlp.layer_params_mut(i));
            let scheme = init.unwrap_or_else(|| layer.activation.default_init());
            scheme.fill(p.weight, layer.inputs, layer.outputs, rng);
            if let Activation::Prelu { init } = layer.activation {
                p.slopes.fill(init);
            }
        }
        Ok(mlp)
    }

    /// Assembles a network from layer specifications and, optionally, a flat parameter buffer
    /// (zeros when `None`).
    ///
    /// # Errors
    /// As [`Mlp::parameter_count`], and [`Error::Config`] when `params` has the wrong length.
    pub fn from_parts(layers: Vec<LayerSpec>, params: Option<Vec<f32>>, residual: bool) -> Result<Self> {
        let total = Self::parameter_count(&layers)?;
        let params = match params {
            Some(params) => params,
            None => {
                crate::memory::check("the network's parameters", crate::memory::bytes([total], 4))?;
                vec![0.0; total]
            }
        };
        if params.len() != total {
            return Err(Error::config(format!(
                "expected {total} parameters, got {}",
                params.len()
            )));
        }
        let mut offsets = vec![0];
        for layer in &layers {
            offsets.push(offsets.last().unwrap() + layer.param_len());
        }
        Ok(Self {
            layers,
            offsets,
            params,
            residual,
        })
    }

    /// The number of parameters of a network with these layers, once they are checked to make
    /// one.
    ///
    /// # Errors
    /// [`Error::Config`] when there is no layer, a layer has no inputs or outputs, consecutive
    /// layers' sizes do not chain, a hidden layer has an output-only activation, softmax has a
    /// single output, or the count overflows.
    pub fn parameter_count(layers: &[LayerSpec]) -> Result<usize> {
        let Some(last) = layers.last() else {
            return Err(Error::config("a network needs at least one layer"));
        };
        for (i, layer) in layers.iter().enumerate() {
            if layer.inputs == 0 || layer.outputs == 0 {
                return Err(Error::config(format!(
                    "layer {i} has {} inputs and {} outputs; every layer needs at least one of each",
                    layer.inputs, layer.outputs
                )));
            }
            if i + 1 < layers.len() && layer.activation.is_output_only() {
                return Err(Error::config(format!(
                    "layer {i} is hidden but its activation {} can only be the output activation",
                    layer.activation
                )));
            }
        }
        if last.activation == Activation::Softmax && last.outputs < 2 {
            return Err(Error::config("softmax needs at least two outputs; use sigmoid for one"));
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[0].outputs != pair[1].inputs {
                return Err(Error::config(format!(
                    "layer {} has {} outputs but layer {} has {} inputs",
                    i,
                    pair[0].outputs,
                    i + 1,
                    pair[1].inputs
                )));
            }
        }
        layers.iter().try_fold(0usize, |total, layer| {
            layer
                .inputs
                .checked_mul(layer.outputs)
                .and_then(|w| w.checked_add(layer.outputs.checked_add(layer.slopes_len())?))
                .and_then(|n| n.checked_add(total))
                .ok_or_else(|| Error::config("the network has more parameters than memory can address"))
        })
    }

    /// The layers, input side first; the last is the output layer.
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        self.layers.last().unwrap().outputs
    }

    /// Whether skip connections are enabled.
    pub fn residual(&self) -> bool {
        self.residual
    }

    /// Whether layer `i` adds its input to its output: a hidden layer (not the first, not the
    /// output layer) whose width equals its input's, in a residual network.
    pub fn is_residual(&self, i: usize) -> bool {
        self.residual && i > 0 && i + 1 < self.layers.len() && self.layers[i].inputs == self.layers[i].outputs
    }

    /// All parameters, layer after layer (weight, bias, PReLU slopes).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, mutably.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Layer `i`'s share of a flat buffer laid out like the parameters (e.g. a gradient).
    pub fn layer_range(&self, i: usize) -> Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// Layer `i`'s parameters.
    pub fn layer_params(&self, i: usize) -> Params<&[f32]> {
        self.layers[i].split(&self.params[self.layer_range(i)])
    }

    fn layer_params_mut(&mut self, i: usize) -> &mut [f32] {
        let range = self.layer_range(i);
        &mut self.params[range]
    }

    /// Ranges of the weight matrices in the flat buffer (weight decay applies to these only).
    pub fn weight_ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.layers
            .iter()
            .zip(&self.offsets)
            .map(|(l, &o)| o..o + l.weight_len())
    }

    /// Forward pass of `rows` samples (`x` is `[rows, inputs]` row-major) into `ws`.
    ///
    /// # Panics
    /// If `x.len() != rows * inputs`.
    pub fn forward(&self, x: &[f32], rows: usize, ws: &mut Workspace) {
        self.forward_with_dropout(x, rows, ws, None);
    }

    /// [`Mlp::forward`] for training with inverted dropout: each unit of hidden layer `i`'s
    /// output is zeroed with probability `rates[i]` and the kept ones are scaled by
    /// `1 / (1 - rates[i])`, masks drawn from `rng`; [`Mlp::backward`] then follows the same
    /// masks. `rates` holds one rate per hidden layer (a rate of 0 leaves its layer alone);
    /// `None` is [`Mlp::forward`].
    ///
    /// # Panics
    /// If `x.len() != rows * inputs`, or a rate is not in `[0, 1)`, or `rates` is shorter
    /// than the hidden layers.
    pub fn forward_with_dropout(
        &self,
        x: &[f32],
        rows: usize,
        ws: &mut Workspace,
        mut dropout: Option<(&[f32], &mut rand_chacha::ChaCha8Rng)>,
    ) {
        assert_eq!(x.len(), rows * self.inputs(), "input has the wrong shape");
        ws.prepare(self, rows);
        for (i, layer) in self.layers.iter().enumerate() {
            // Split the buffers so layer i-1's output is read while layer i's is written.
            let (y_done, y_rest) = ws.y.split_at_mut(i);
            let (h_done, h_rest) = ws.h.split_at_mut(i);
            let input: &[f32] = match i {
                0 => x,
                _ => ws_output(&y_done[i - 1], &h_done[i - 1]),
            };
            let (y, h) = (&mut y_rest[0], &mut h_rest[0]);
            layer.forward(&self.layer_params(i), input, rows, &mut ws.z[i], y);
            if !h.is_empty() {
                for ((h, &y), &x) in h.iter_mut().zip(y.iter()).zip(input) {
                    *h = x + y;
                }
            }
            let rate = match &dropout {
                Some((rates, _)) if i + 1 < self.layers.len() => rates[i],
                _ => 0.0,
            };
            if rate > 0.0 {
                assert!(rate < 1.0, "a dropout rate must be below 1, got {rate}");
                let rng = &mut *dropout.as_mut().expect("a rate comes with its generator").1;
                let keep = 1.0 / (1.0 - rate);
                if ws.masks.len() <= i {
                    ws.masks.resize_with(i + 1, Vec::new);
                }
                let mask = &mut ws.masks[i];
                mask.extend((0..y.len()).map(|_| if rng.random::<f32>() < rate { 0.0 } else { keep }));
                // The dropped output feeds the next layer from `h`; `y` stays σ(z) for the
                // activation's derivative.
                if h.is_empty() {
                    h.extend_from_slice(y);
                }
                for (h, &m) in h.iter_mut().zip(mask.iter()) {
                    *h *= m;
                }
            }
        }
    }

    /// Backward pass after [`Mlp::forward`] on the same `x` and after the loss has written
    /// `∂L/∂z` of the output layer into [`Workspace::output_grad_mut`]. Writes the gradient of
    /// every parameter into `grads` (laid out like [`Mlp::params`]), overwriting it.
    pub fn backward(&self, x: &[f32], ws: &mut Workspace, grads: &mut [f32]) {
        assert_eq!(grads.len(), self.params.len(), "gradient buffer has the wrong length");
        let rows = ws.rows;
        for i in (0..self.layers.len()).rev() {
            let layer = &self.layers[i];
            let p = self.layer_params(i);
            let grad_slopes = &mut grads[self.offsets[i] + layer.weight_len() + layer.outputs..self.offsets[i + 1]];
            if let Some(mask) = ws.masks.get(i).filter(|m| !m.is_empty()) {
                // ∂L/∂h before dropout: the mask's factor, 0 for a dropped unit.
                for (g, &m) in ws.grad_h[i].iter_mut().zip(mask) {
                    *g *= m;
                }
            }
            if i + 1 < self.layers.len() {
                layer.backward_activation(&p, &ws.z[i], &ws.y[i], &ws.grad_h[i], &mut ws.grad_z[i], grad_slopes);
            } else {
                // The loss wrote the output layer's `∂L/∂z` through its activation.
                grad_slopes.fill(0.0);
            }
            let (lower, upper) = ws.grad_h.split_at_mut(i);
            let input: &[f32] = if i == 0 {
                x
            } else {
                ws_output(&ws.y[i - 1], &ws.h[i - 1])
            };
            let grad_x = lower.last_mut().map(Vec::as_mut_slice);
            let g = layer.split_mut(&mut grads[self.offsets[i]..self.offsets[i + 1]]);
            layer.backward_linear(&p, input, rows, &ws.grad_z[i], g, grad_x);
            if i > 0 && self.is_residual(i) {
                // h_i = h_{i-1} + σ(z_i): the upstream gradient also flows straight through.
                for (g, &u) in lower[i - 1].iter_mut().zip(&upper[0]) {
                    *g += u;
                }
            }
        }
    }

    /// Outputs for every row of `x` (`[rows, outputs]`), each row computed on its own in the
    /// single-sample layout of [`crate::inference::Predictor`]: a row's outputs are the same
    /// bits whatever the batch it comes in, its place there and the number of threads.
    ///
    /// # Errors
    /// [`Error::Config`] when the output layer's pre-activations or outputs of a row are not
    /// finite (a softmax of infinite logits would otherwise pass for a uniform distribution),
    /// naming the row and the first layer where values stopped being finite.
    pub fn predict(&self, x: &Matrix) -> Result<Matrix> {
        assert_eq!(x.cols(), self.inputs(), "input has the wrong number of columns");
        let mut out = vec![0.0; x.rows() * self.outputs()];
        crate::inference::Predictor::new(self)
            .predict_rows(&mut out, |row, input| {
                input.copy_from_slice(x.row(row));
                Ok::<(), ()>(())
            })
            .map_err(|(row, _)| self.non_finite(x.row(row), row))?;
        Ok(Matrix::from_vec(x.rows(), self.outputs(), out))
    }

    /// Why input row `row`, `x`, gives a non-finite output: the first layer whose
    /// pre-activations or outputs stop being finite.
    pub(crate) fn non_finite(&self, x: &[f32], row: usize) -> Error {
        let mut ws = Workspace::default();
        self.forward(x, 1, &mut ws);
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let place = (0..self.layers.len())
            .find_map(|i| {
                let layer = self.layers[i];
                let what = format!("layer {i} ({} → {}, {})", layer.inputs, layer.outputs, layer.activation);
                if !finite(ws.pre_activation(i)) {
                    Some(format!("the pre-activations of {what} overflow f32"))
                } else if !finite(ws.activation(i)) {
                    Some(format!("the outputs of {what} are not finite"))
                } else {
                    None
                }
            })
            .unwrap_or_else(|| "an output is not finite".to_string());
        Error::config(format!(
            "the prediction for row {} of the data is not finite: {place}",
            row + 1
        ))
    }

    /// Bytes of a [`Workspace`] for `rows` rows (saturating).
    pub fn workspace_bytes(&self, rows: usize) -> u64 {
        let per_row: u64 = (0..self.layers.len())
            .map(|i| self.layers[i].outputs as u64 * if self.is_residual(i) { 5 } else { 4 })
            .sum();
        crate::memory::bytes([rows], 4).saturating_mul(per_row)
    }
}

fn ws_output<'a>(y: &'a [f32], h: &'a [f32]) -> &'a [f32] {
    if h.is_empty() {
        y
    } else {
        h
    }
}
