//! Activation functions: forward and derivative side by side, with their properties as data.
//!
//! HELPER-TODO: implement every `todo!()` below and the tests (see the task description).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Init, Result};

/// An activation function, parameters carried in the variant.
///
/// Parses from and prints to the CLI form: `relu`, `leaky_relu:0.2`, `elu:0.5`, `gelu`,
/// `gelu:tanh`, `softplus:2` or `softplus:2:10` (beta, threshold), `prelu:0.1` (initial slope).
/// Serialized (serde) as that same string.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `f(x) = x`
    Identity,
    /// `f(x) = 1 / (1 + e^-x)`
    Sigmoid,
    /// `f(x) = tanh x`
    Tanh,
    /// `f(x) = max(x, 0)`
    Relu,
    /// `f(x) = x` for `x > 0`, `negative_slope · x` otherwise.
    LeakyRelu {
        /// Slope for negative inputs (default 0.01).
        negative_slope: f32,
    },
    /// `f(x) = x` for `x > 0`, `alpha (e^x - 1)` otherwise.
    Elu {
        /// Saturation value for large negative inputs is `-alpha` (default 1.0).
        alpha: f32,
    },
    /// `f(x) = λ x` for `x > 0`, `λ α (e^x - 1)` otherwise, with the published constants.
    Selu,
    /// `f(x) = x Φ(x) = x/2 (1 + erf(x/√2))` (exact form).
    Gelu,
    /// `f(x) = x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))` (tanh approximation).
    GeluTanh,
    /// `f(x) = x σ(x)` (swish).
    Silu,
    /// `f(x) = ln(1 + e^(βx)) / β`, and `x` where `βx > threshold` (as in PyTorch).
    Softplus {
        /// Sharpness (default 1).
        beta: f32,
        /// Above `βx > threshold` the function is taken as linear (default 20).
        threshold: f32,
    },
    /// `f(x) = x tanh(softplus(x))`
    Mish,
    /// `f(x) = x / (1 + |x|)`
    Softsign,
    /// `f(x) = min(max(x, 0), 6)`
    Relu6,
    /// `f(x) = relu6(x + 3) / 6` (PyTorch's definition).
    HardSigmoid,
    /// `f(x) = x relu6(x + 3) / 6`
    HardSwish,
    /// Leaky ReLU whose negative slope is learned, one per neuron.
    Prelu {
        /// Initial slope of every neuron (default 0.25).
        init: f32,
    },
    /// Row-wise `softmax(z)_i = e^(z_i) / Σ_j e^(z_j)`: output layer only.
    Softmax,
}

/// What an activation function is like, as data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Properties {
    /// Smallest and largest output (may be infinite).
    pub range: (f32, f32),
    /// Whether `f(0) = 0` and outputs take both signs around it (so a layer's mean output can sit at 0).
    pub zero_centred: bool,
    /// Whether `f` is non-decreasing.
    pub monotonic: bool,
    /// Whether `f'(x) → 0` for large `|x|` on at least one side (gradients vanish there).
    pub saturating: bool,
    /// Whether `f` is continuously differentiable everywhere.
    pub smooth: bool,
    /// Largest value of `f'` (used to judge saturation: `f' < 1 %` of this).
    pub max_derivative: f32,
}

impl Activation {
    /// Every activation with its default parameters, in documentation order.
    pub const ALL: [Activation; 19] = todo!();

    /// Applies `f` to one value. For [`Activation::Prelu`] this uses the initial slope;
    /// layers pass their learned slopes to [`Activation::forward_batch`].
    /// [`Activation::Softmax`] is a row operation: here it returns `x` unchanged (use `forward_batch`).
    pub fn forward(self, x: f32) -> f32 {
        todo!()
    }

    /// `f'(x)`, given both the input `x` and the output `y = f(x)`: each function uses the
    /// cheaper or more accurate one (sigmoid `y(1-y)`, tanh `1-y²`, relu `x > 0`).
    /// At kinks the derivative is the left one for the ReLU family: `relu'(0) = 0`.
    pub fn derivative(self, x: f32, y: f32) -> f32 {
        todo!()
    }

    /// `out = f(z)` over a row-major batch with `cols` columns (one per neuron).
    /// `slopes` holds one learned slope per column for [`Activation::Prelu`] and is ignored
    /// otherwise; softmax is applied to each row.
    pub fn forward_batch(self, z: &[f32], out: &mut [f32], cols: usize, slopes: &[f32]) {
        todo!()
    }

    /// `grad_z = grad_y ⊙ f'(z)` over a batch (for softmax the Jacobian-vector product
    /// `y ⊙ (grad_y - Σ grad_y·y)` per row). `z` are the inputs, `y` the outputs.
    pub fn backward_batch(
        self,
        z: &[f32],
        y: &[f32],
        grad_y: &[f32],
        grad_z: &mut [f32],
        cols: usize,
        slopes: &[f32],
    ) {
        todo!()
    }

    /// For [`Activation::Prelu`]: adds `Σ_rows grad_y · min(z, 0)` to each column's
    /// `grad_slopes` entry (the gradient of the loss with respect to the learned slopes).
    pub fn slope_gradient(z: &[f32], grad_y: &[f32], grad_slopes: &mut [f32]) {
        todo!()
    }

    /// The function's properties.
    pub fn properties(self) -> Properties {
        todo!()
    }

    /// The weight initialisation that suits this function (Glorot for sigmoid, tanh, identity
    /// and other bounded functions; He for the ReLU family and its smooth relatives; LeCun for SELU).
    pub fn default_init(self) -> Init {
        todo!()
    }

    /// Whether the function may only be used on the output layer (softmax).
    pub fn is_output_only(self) -> bool {
        matches!(self, Activation::Softmax)
    }
}

impl fmt::Display for Activation {
    /// The CLI form, parameters included when they differ from the default
    /// (`leaky_relu:0.2`, `gelu:tanh`); parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl FromStr for Activation {
    type Err = Error;
    /// Parses the CLI form (case-insensitive; `swish` = silu, `logistic` = sigmoid, `linear` = identity).
    /// An unknown name is [`Error::UnknownActivation`] with the valid names and the closest one.
    fn from_str(s: &str) -> Result<Self> {
        todo!()
    }
}

impl TryFrom<String> for Activation {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
    }
}

/// Logistic sigmoid `1 / (1 + e^-x)`, computed by sign so that `e^-x` never overflows.
pub fn sigmoid(x: f32) -> f32 {
    todo!()
}

/// `ln(1 + e^x)` computed as `max(x, 0) + ln_1p(e^-|x|)`: exact for large |x|, never overflows.
pub fn softplus(x: f32) -> f32 {
    todo!()
}

/// `ln σ(x) = -softplus(-x)`, stable for all x.
pub fn log_sigmoid(x: f32) -> f32 {
    todo!()
}

/// `ln Σ e^(x_i)`, subtracting the maximum first. Empty or all `-inf` input gives `-inf`;
/// a `+inf` entry gives `+inf`; NaN propagates.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    todo!()
}

/// Softmax of one row in place, subtracting the row maximum. A row of all `-inf` (every
/// option masked) becomes the uniform distribution; a row with `+inf` entries shares the
/// mass among them equally.
pub fn softmax_in_place(row: &mut [f32]) {
    todo!()
}

/// `ln softmax(x)` of one row in place (`x_i - log_sum_exp(x)`).
pub fn log_softmax_in_place(row: &mut [f32]) {
    todo!()
}
