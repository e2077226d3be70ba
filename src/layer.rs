//! One dense layer, `h = σ(W·h_prev + b)`, over a batch of row vectors.
//!
//! A layer owns no memory: its parameters are a slice of the network's flat parameter
//! buffer (see [`crate::Mlp`]) and its activations live in a [`crate::mlp::Workspace`].

use serde::{Deserialize, Serialize};

use crate::matrix::{gemm, Op};
use crate::Activation;

/// Shape and activation of one dense layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    /// Number of inputs.
    #[serde(rename = "in")]
    pub inputs: usize,
    /// Number of outputs (neurons).
    #[serde(rename = "out")]
    pub outputs: usize,
    /// The layer's activation function.
    pub activation: Activation,
}

/// A layer's parameters inside the flat buffer: `weight` is `[outputs, inputs]` row-major
/// (PyTorch's `nn.Linear` layout), `bias` is `[outputs]`, `slopes` holds the learned PReLU
/// slopes (`[outputs]`, empty for every other activation).
#[derive(Debug)]
pub struct Params<T> {
    /// `[outputs, inputs]`, row-major.
    pub weight: T,
    /// `[outputs]`.
    pub bias: T,
    /// `[outputs]` for PReLU, else empty.
    pub slopes: T,
}

impl LayerSpec {
    /// Number of weights, `inputs × outputs`.
    pub fn weight_len(&self) -> usize {
        self.inputs * self.outputs
    }

    /// Number of learned PReLU slopes (0 unless the activation is PReLU).
    pub fn slopes_len(&self) -> usize {
        match self.activation {
            Activation::Prelu { .. } => self.outputs,
            _ => 0,
        }
    }

    /// Number of parameters: weights, biases and PReLU slopes.
    pub fn param_len(&self) -> usize {
        self.weight_len() + self.outputs + self.slopes_len()
    }

    /// Splits this layer's share of a flat buffer into its parts.
    pub fn split<'a>(&self, flat: &'a [f32]) -> Params<&'a [f32]> {
        let (weight, rest) = flat.split_at(self.weight_len());
        let (bias, slopes) = rest.split_at(self.outputs);
        Params {
            weight,
            bias,
            slopes: &slopes[..self.slopes_len()],
        }
    }

    /// Splits this layer's share of a flat buffer into its parts, mutably.
    pub fn split_mut<'a>(&self, flat: &'a mut [f32]) -> Params<&'a mut [f32]> {
        let (weight, rest) = flat.split_at_mut(self.weight_len());
        let (bias, slopes) = rest.split_at_mut(self.outputs);
        let slopes_len = self.slopes_len();
        Params {
            weight,
            bias,
            slopes: &mut slopes[..slopes_len],
        }
    }

    /// Forward pass over `rows` samples: `z = x·Wᵀ + b` (bias written first, the product
    /// accumulated onto it) and `y = σ(z)`.
    pub fn forward(&self, p: &Params<&[f32]>, x: &[f32], rows: usize, z: &mut [f32], y: &mut [f32]) {
        for row in z.chunks_exact_mut(self.outputs) {
            row.copy_from_slice(p.bias);
        }
        gemm(rows, self.outputs, self.inputs, x, Op::N, p.weight, Op::T, z, true);
        self.activation.forward_batch(z, y, self.outputs, p.slopes);
    }

    /// Backward pass through the activation: `grad_z = grad_y ⊙ σ'(z)`, and for PReLU the
    /// slopes' gradient written to `grad_slopes`.
    pub fn backward_activation(
        &self,
        p: &Params<&[f32]>,
        z: &[f32],
        y: &[f32],
        grad_y: &[f32],
        grad_z: &mut [f32],
        grad_slopes: &mut [f32],
    ) {
        self.activation
            .backward_batch(z, y, grad_y, grad_z, self.outputs, p.slopes);
        if !grad_slopes.is_empty() {
            grad_slopes.fill(0.0);
            Activation::slope_gradient(z, grad_y, grad_slopes);
        }
    }

    /// Backward pass through the affine map: `∂W = grad_zᵀ·x`, `∂b = Σ_rows grad_z` and,
    /// when asked for, `grad_x = grad_z·W` (each overwriting its buffer).
    pub fn backward_linear(
        &self,
        p: &Params<&[f32]>,
        x: &[f32],
        rows: usize,
        grad_z: &[f32],
        grads: Params<&mut [f32]>,
        grad_x: Option<&mut [f32]>,
    ) {
        gemm(
            self.outputs,
            self.inputs,
            rows,
            grad_z,
            Op::T,
            x,
            Op::N,
            grads.weight,
            false,
        );
        grads.bias.fill(0.0);
        for row in grad_z.chunks_exact(self.outputs) {
            for (g, &d) in grads.bias.iter_mut().zip(row) {
                *g += d;
            }
        }
        if let Some(grad_x) = grad_x {
            gemm(
                rows,
                self.inputs,
                self.outputs,
                grad_z,
                Op::N,
                p.weight,
                Op::N,
                grad_x,
                false,
            );
        }
    }
}
