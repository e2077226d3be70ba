//! Activation functions: forward and derivative side by side, with their properties as data.
//!
//! Every function is written to be numerically stable: finite inputs give finite outputs (unless
//! the true value itself lies beyond `f32::MAX`, as `selu(f32::MAX) = λ·f32::MAX` does), infinite
//! inputs give the mathematical limits (`silu(-∞) = 0`, never `-∞ · 0 = NaN`), and NaN gives NaN,
//! in the forward direction and in the derivative alike.
//!
//! Sigmoid, softplus, GELU (both forms), SiLU, Mish and softsign, and their derivatives, are
//! evaluated in f64 from the f32 input and rounded once: on the tests' grid their values are
//! within 1 ULP of an f64 reference, and the monotonic ones are monotonic in f32 too (checked
//! over every f32 once; an all-f32 sigmoid `e/(1+e)` steps back by 1 ULP at some 200 000
//! inputs, an all-f32 softplus or softsign at millions). Tanh, ELU and SELU use the f32 `tanh`
//! and `exp_m1`: within 2 ULP, and monotonic.
//!
//! The batch methods ([`Activation::forward_batch`], [`Activation::backward_batch`]) run
//! vectorised kernels (the private module `kernels`, dispatched on the CPU's features at run
//! time). Those of sigmoid, tanh, ELU, SiLU, softplus and GELU evaluate in f32, with their own
//! `exp` and `log1p` and in forms built from monotonic roundings (sigmoid `2^m/(2^m + e^r)`,
//! tanh `-u/(2 + u)`, `u = e^(-2|x|) - 1`): within 3 ULP of the f64 reference over every f32
//! (GELU within 1.3e-7), and monotonic where the function is, both checked over every f32 at every
//! instruction-set level by an ignored test. SiLU's derivative, whose bracket cancels near its
//! zero, is written around that zero (within 4 ULP over every f32).
//!
//! Each function's forward and derivative are written side by side, as one arm of the table
//! in `scalar` (the private macro `with_scalar!`); the scalar methods and the batch loops of
//! the functions without a kernel all expand it, so that every batch loop is specialised to
//! one function (the `match` sits outside the loop). The other files of this folder: `names`
//! (the CLI form: printing, parsing, aliases, suggestions), `softmax` (softmax, log-softmax,
//! log-sum-exp), `kernels` (the batch kernels; the CPU level they run at is `crate::cpu`).
//!
//! Adding an activation: its variant here, then every `match` the compiler names (its forward
//! and derivative in `with_scalar!`, its properties, default initialisation and name), and an
//! entry in [`Activation::ALL`], without which the test
//! `every_variant_has_a_forward_a_derivative_and_a_batch_path` does not compile.

use serde::{Deserialize, Serialize};

use crate::Init;
use scalar::{leaky, leaky_derivative, FRAC_1_SQRT_2PI, SELU_LAMBDA_ALPHA};

pub(crate) mod kernels;
mod names;
mod scalar;
mod softmax;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use scalar::{log_sigmoid, sigmoid, softplus, SELU_ALPHA, SELU_LAMBDA};
pub use softmax::{log_softmax_in_place, log_sum_exp, softmax_in_place};

/// An activation function, parameters carried in the variant.
///
/// Each variant's documentation gives `f` and `f'`, and whether the derivative is computed from
/// the input `x` or the output `y = f(x)` (see [`Activation::derivative`]).
///
/// Parses from and prints to the CLI form: `relu`, `leaky_relu:0.2`, `elu:0.5`, `gelu`,
/// `gelu:tanh`, `softplus:2` or `softplus:2:10` (beta, threshold), `prelu:0.1` (initial slope).
/// Serialized (serde) as that same string.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// `f(x) = x`; `f' = 1`.
    Identity,
    /// `f(x) = 1 / (1 + e^-x)`; `f' = y (1 - y)`, from the output.
    Sigmoid,
    /// `f(x) = tanh x`; `f' = 1 - y² = (1 - y)(1 + y)`, from the output.
    Tanh,
    /// `f(x) = max(x, 0)`; `f' = 1` for `x > 0`, else 0 (`relu'(0) = 0`), from the input.
    Relu,
    /// `f(x) = x` for `x > 0`, `negative_slope · x` otherwise; `f' = 1` for `x > 0`, else
    /// `negative_slope` (also at the kink, `f'(0) = negative_slope`), from the input.
    LeakyRelu {
        /// Slope for negative inputs (default 0.01).
        negative_slope: f32,
    },
    /// `f(x) = x` for `x > 0`, `alpha (e^x - 1)` otherwise; `f' = 1` for `x > 0`, else
    /// `y + alpha` (`f'(0) = alpha`), from the input's sign and the output.
    Elu {
        /// Saturation value for large negative inputs is `-alpha` (default 1.0).
        alpha: f32,
    },
    /// `f(x) = λ x` for `x > 0`, `λ α (e^x - 1)` otherwise, with the published constants
    /// [`SELU_LAMBDA`] and [`SELU_ALPHA`]; `f' = λ` for `x > 0`, else `y + λα` (`f'(0) = λα`),
    /// from the input's sign and the output.
    Selu,
    /// `f(x) = x Φ(x) = x/2 erfc(-x/√2)` (exact form, erfc keeps it accurate for `x < 0`);
    /// `f' = Φ(x) + x φ(x)`, from the input.
    Gelu,
    /// `f(x) = x/2 (1 + tanh(u)) = x σ(2u)`, `u = √(2/π) (x + 0.044715 x³)` (tanh approximation);
    /// `f' = σ(2u) + 2 x u' σ(2u) (1 - σ(2u))`, from the input.
    GeluTanh,
    /// `f(x) = x σ(x)` (swish); `f' = σ(x) (1 + x (1 - σ(x)))`, from the input.
    Silu,
    /// `f(x) = ln(1 + e^(βx)) / β`, and `x` where `βx > threshold` (as in PyTorch);
    /// `f' = σ(βx)`, and 1 where `βx > threshold`, from the input.
    Softplus {
        /// Sharpness (default 1).
        beta: f32,
        /// Above `βx > threshold` the function is taken as linear (default 20).
        threshold: f32,
    },
    /// `f(x) = x tanh(softplus(x))`; `f' = t + x σ(x) (1 - t²)` with `t = tanh(softplus(x))`,
    /// from the input.
    Mish,
    /// `f(x) = x / (1 + |x|)`; `f' = 1 / (1 + |x|)²`, from the input (the output form
    /// `(1 - |y|)²` loses accuracy for large `|x|`).
    Softsign,
    /// `f(x) = min(max(x, 0), 6)`; `f' = 1` for `0 < x < 6`, else 0 (0 at both kinks, as in
    /// PyTorch), from the input.
    Relu6,
    /// `f(x) = relu6(x + 3) / 6` (PyTorch's definition); `f' = 1/6` for `-3 < x < 3`, else 0
    /// (0 at both kinks), from the input.
    HardSigmoid,
    /// `f(x) = x relu6(x + 3) / 6`; `f' = 0` for `x < -3`, 1 for `x > 3`, `(2x + 3) / 6`
    /// in between, kinks included (`f'(-3) = -1/2`, `f'(3) = 3/2`, as in PyTorch), from the input.
    HardSwish,
    /// Leaky ReLU whose negative slope is learned, one per neuron; `f'` as for
    /// [`Activation::LeakyRelu`] (`f'(0)` is the slope), from the input.
    Prelu {
        /// Initial slope of every neuron (default 0.25).
        init: f32,
    },
    /// Row-wise `softmax(z)_i = e^(z_i) / Σ_j e^(z_j)`: output layer only. The scalar
    /// derivative is the Jacobian's diagonal `∂y_i/∂z_i = y_i (1 - y_i)`, from the output.
    Softmax,
}

/// What an activation function is like, as data.
///
/// Conventions, for functions and parameters alike (the tests check every flag numerically):
/// - `range` is the closure of the set of outputs: whether an end is attained is not recorded.
/// - `zero_centred`: `f(0) = 0` and, for a standard normal input `X`, the mean output is small
///   next to its spread: `|E f(X)| ≤ 0.1 · √(E f(X)²)`. True for identity, tanh, softsign and
///   SELU (whose constants make that mean 0); false for ELU (`α = 1`: ratio 0.2), the ReLU family
///   and GELU, SiLU and Mish, whose outputs are mostly positive.
/// - `monotonic`: non-decreasing everywhere; softmax counts as monotonic since each output grows
///   with its own input.
/// - `saturating`: on at least one side, `f'(x) → 0` as `x → ±∞` without `f` being exactly 0
///   there: sigmoid, tanh, softsign, softmax, hard sigmoid and ReLU6 (flat at their bounds),
///   and on their left side ELU, SELU, GELU, SiLU, Mish and softplus. A side where `f` is
///   exactly 0 on a whole half-line (ReLU for `x < 0`, hard swish for `x < -3`) is a unit
///   switched off ("dying"), not saturated, so ReLU and hard swish are not saturating.
/// - `smooth`: `f` is continuously differentiable (C¹). ELU is C¹ only for `α = 1`; softplus
///   only while its linear cut-off is invisible in f32 (`σ(-threshold) < 2⁻²⁴`, i.e. a
///   threshold of about 17 or more); below that the cut-off is a visible jump and softplus is
///   neither smooth nor monotonic.
/// - `max_derivative`: the supremum of `f'` (for softmax, of the Jacobian's diagonal).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Properties {
    /// Smallest and largest output (may be infinite).
    pub range: (f32, f32),
    /// Whether `f(0) = 0` and outputs take both signs around it evenly enough for a layer's mean
    /// output to sit near 0 (the criterion is above).
    pub zero_centred: bool,
    /// Whether `f` is non-decreasing.
    pub monotonic: bool,
    /// Whether `f'(x) → 0` for large `|x|` on at least one side (gradients vanish there; see
    /// above for the "dying" sides, which do not count).
    pub saturating: bool,
    /// Whether `f` is continuously differentiable everywhere.
    pub smooth: bool,
    /// Largest value of `f'` (used to judge saturation: `f' < 1 %` of this).
    pub max_derivative: f32,
}

const DEFAULT_LEAKY_SLOPE: f32 = 0.01;
const DEFAULT_ELU_ALPHA: f32 = 1.0;
const DEFAULT_SOFTPLUS_BETA: f32 = 1.0;
const DEFAULT_SOFTPLUS_THRESHOLD: f32 = 20.0;
const DEFAULT_PRELU_INIT: f32 = 0.25;

// Extremes of the smooth non-monotonic functions, computed with 30-digit arithmetic and rounded
// to f32 (and checked against a dense f64 scan in the tests): GELU's minimum is at x ≈ -0.7518,
// its steepest slope at x = √2; SiLU's at x ≈ -1.2785 and 2.3994; Mish's at -1.1924 and 1.4906.
const GELU_MIN: f32 = -0.169_971_21;
const GELU_MAX_DERIVATIVE: f32 = 1.128_904_1; // at x = √2
const GELU_TANH_MIN: f32 = -0.170_040_76;
const GELU_TANH_MAX_DERIVATIVE: f32 = 1.128_993;
const SILU_MIN: f32 = -0.278_464_56;
const SILU_MAX_DERIVATIVE: f32 = 1.099_839_3;
const MISH_MIN: f32 = -0.308_843_4;
const MISH_MAX_DERIVATIVE: f32 = 1.088_498_2;

impl Activation {
    /// Every activation with its default parameters, in documentation order.
    pub const ALL: [Activation; 18] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: DEFAULT_LEAKY_SLOPE,
        },
        Activation::Elu {
            alpha: DEFAULT_ELU_ALPHA,
        },
        Activation::Selu,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Softplus {
            beta: DEFAULT_SOFTPLUS_BETA,
            threshold: DEFAULT_SOFTPLUS_THRESHOLD,
        },
        Activation::Mish,
        Activation::Softsign,
        Activation::Relu6,
        Activation::HardSigmoid,
        Activation::HardSwish,
        Activation::Prelu {
            init: DEFAULT_PRELU_INIT,
        },
        Activation::Softmax,
    ];

    /// Applies `f` to one value. For [`Activation::Prelu`] this uses the initial slope;
    /// layers pass their learned slopes to [`Activation::forward_batch`].
    /// [`Activation::Softmax`] is a row operation: here it returns `x` unchanged (use `forward_batch`).
    #[inline]
    pub fn forward(self, x: f32) -> f32 {
        scalar::forward(self, x)
    }

    /// `f'(x)`, given both the input `x` and the output `y = f(x)`: each function uses the
    /// cheaper or more accurate one (sigmoid `y(1-y)`, tanh `1-y²`, relu `x > 0`); each variant's
    /// documentation says which.
    ///
    /// At kinks the derivative is the left one for the ReLU family: `relu'(0) = 0`,
    /// `leaky_relu'(0) = prelu'(0) = slope`, `elu'(0) = α`, `selu'(0) = λα`. The clipped functions
    /// follow PyTorch: `relu6'` is 1 only for `0 < x < 6`, `hard_sigmoid'` is 1/6 only for
    /// `-3 < x < 3`, and `hard_swish'(x) = (2x + 3)/6` on the closed interval `[-3, 3]`.
    /// For [`Activation::Softmax`], `y` must come from [`Activation::forward_batch`]: the result is
    /// the Jacobian's diagonal `y (1 - y)`. A NaN input gives NaN.
    #[inline]
    pub fn derivative(self, x: f32, y: f32) -> f32 {
        scalar::derivative(self, x, y)
    }

    /// `out = f(z)` over a row-major batch with `cols` columns (one per neuron).
    /// `slopes` holds one learned slope per column for [`Activation::Prelu`] and is ignored
    /// otherwise; softmax is applied to each row.
    ///
    /// # Panics
    /// If `out` and `z` differ in length, `cols` does not divide it, or (for PReLU) `slopes`
    /// does not have `cols` entries.
    pub fn forward_batch(self, z: &[f32], out: &mut [f32], cols: usize, slopes: &[f32]) {
        assert_eq!(z.len(), out.len(), "forward_batch: input and output lengths differ");
        if !check_shape(z.len(), cols) {
            return;
        }
        match self {
            Activation::Softmax => softmax::forward_rows(z, out, cols),
            Activation::Prelu { .. } => {
                check_slopes(slopes, cols);
                for (z_row, out_row) in z.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                    for ((o, &x), &s) in out_row.iter_mut().zip(z_row).zip(slopes) {
                        *o = leaky(x, s);
                    }
                }
            }
            _ if kernels::has_kernel(self) => kernels::forward(self, z, out),
            _ => scalar::forward_each(self, z, out),
        }
    }

    /// `grad_z = grad_y ⊙ f'(z)` over a batch (for softmax the Jacobian-vector product
    /// `y ⊙ (grad_y - Σ grad_y·y)` per row). `z` are the inputs, `y` the outputs.
    ///
    /// # Panics
    /// If the four slices differ in length, `cols` does not divide it, or (for PReLU) `slopes`
    /// does not have `cols` entries.
    pub fn backward_batch(self, z: &[f32], y: &[f32], grad_y: &[f32], grad_z: &mut [f32], cols: usize, slopes: &[f32]) {
        let n = z.len();
        assert!(
            y.len() == n && grad_y.len() == n && grad_z.len() == n,
            "backward_batch: z, y, grad_y and grad_z must have the same length"
        );
        if !check_shape(n, cols) {
            return;
        }
        match self {
            Activation::Softmax => softmax::backward_rows(y, grad_y, grad_z, cols),
            Activation::Prelu { .. } => {
                check_slopes(slopes, cols);
                let rows = z.chunks_exact(cols).zip(grad_y.chunks_exact(cols));
                for ((z_row, gy_row), gz_row) in rows.zip(grad_z.chunks_exact_mut(cols)) {
                    let inputs = z_row.iter().zip(gy_row).zip(slopes);
                    for (gz, ((&x, &gy), &s)) in gz_row.iter_mut().zip(inputs) {
                        *gz = gy * leaky_derivative(x, s);
                    }
                }
            }
            _ if kernels::has_kernel(self) => kernels::backward(self, z, y, grad_y, grad_z),
            _ => scalar::backward_each(self, z, y, grad_y, grad_z),
        }
    }

    /// For [`Activation::Prelu`]: adds `Σ_rows grad_y · min(z, 0)` to each column's
    /// `grad_slopes` entry (the gradient of the loss with respect to the learned slopes).
    /// The number of columns is `grad_slopes.len()`.
    ///
    /// # Panics
    /// If `z` and `grad_y` differ in length or `grad_slopes.len()` does not divide it.
    pub fn slope_gradient(z: &[f32], grad_y: &[f32], grad_slopes: &mut [f32]) {
        assert_eq!(z.len(), grad_y.len(), "slope_gradient: z and grad_y lengths differ");
        let cols = grad_slopes.len();
        if !check_shape(z.len(), cols) {
            return;
        }
        for (z_row, gy_row) in z.chunks_exact(cols).zip(grad_y.chunks_exact(cols)) {
            for ((acc, &x), &gy) in grad_slopes.iter_mut().zip(z_row).zip(gy_row) {
                // min(z, 0), NaN kept
                *acc += gy * if x > 0.0 { 0.0 } else { x };
            }
        }
    }

    /// The function's properties (see [`Properties`] for the conventions).
    pub fn properties(self) -> Properties {
        use Activation::*;
        const INF: f32 = f32::INFINITY;
        let props = |range, zero_centred, monotonic, saturating, smooth, max_derivative| Properties {
            range,
            zero_centred,
            monotonic,
            saturating,
            smooth,
            max_derivative,
        };
        match self {
            Identity => props((-INF, INF), true, true, false, true, 1.0),
            Sigmoid => props((0.0, 1.0), false, true, true, true, 0.25),
            Tanh => props((-1.0, 1.0), true, true, true, true, 1.0),
            Relu => props((0.0, INF), false, true, false, false, 1.0),
            LeakyRelu { negative_slope: s } | Prelu { init: s } => {
                let range = if s > 0.0 { (-INF, INF) } else { (0.0, INF) };
                props(range, leaky_zero_centred(s), s >= 0.0, false, s == 1.0, s.max(1.0))
            }
            Elu { alpha } => props(
                ((-alpha).min(0.0), INF),
                elu_zero_centred(alpha),
                alpha >= 0.0,
                alpha != 0.0,
                alpha == 1.0,
                alpha.max(1.0),
            ),
            Selu => props((-SELU_LAMBDA_ALPHA, INF), true, true, true, false, SELU_LAMBDA_ALPHA),
            Gelu => props((GELU_MIN, INF), false, false, true, true, GELU_MAX_DERIVATIVE),
            GeluTanh => props((GELU_TANH_MIN, INF), false, false, true, true, GELU_TANH_MAX_DERIVATIVE),
            Silu => props((SILU_MIN, INF), false, false, true, true, SILU_MAX_DERIVATIVE),
            Softplus { threshold, .. } => {
                let seamless = sigmoid(-threshold) < f32::EPSILON / 2.0;
                props((0.0, INF), false, seamless, true, seamless, 1.0)
            }
            Mish => props((MISH_MIN, INF), false, false, true, true, MISH_MAX_DERIVATIVE),
            Softsign => props((-1.0, 1.0), true, true, true, true, 1.0),
            Relu6 => props((0.0, 6.0), false, true, true, false, 1.0),
            HardSigmoid => props((0.0, 1.0), false, true, true, false, 1.0 / 6.0),
            HardSwish => props((-0.375, INF), false, false, false, false, 1.5),
            Softmax => props((0.0, 1.0), false, true, true, true, 0.25),
        }
    }

    /// The weight initialisation that suits this function (Glorot for sigmoid, tanh, identity
    /// and other bounded functions; He for the ReLU family and its smooth relatives; LeCun for SELU).
    pub fn default_init(self) -> Init {
        use Activation::*;
        match self {
            Identity | Sigmoid | Tanh | Softsign | HardSigmoid | Softmax => Init::Glorot,
            Relu
            | LeakyRelu { .. }
            | Prelu { .. }
            | Elu { .. }
            | Gelu
            | GeluTanh
            | Silu
            | Mish
            | Softplus { .. }
            | Relu6
            | HardSwish => Init::He,
            Selu => Init::Lecun,
        }
    }

    /// Whether the function may only be used on the output layer (softmax).
    pub fn is_output_only(self) -> bool {
        matches!(self, Activation::Softmax)
    }
}

/// Panics unless a batch of `len` values can be split into rows of `cols`; returns whether
/// there is anything to do (`len > 0`).
fn check_shape(len: usize, cols: usize) -> bool {
    assert!(
        len.is_multiple_of(cols),
        "batch of {len} values cannot be split into rows of {cols} columns"
    );
    len > 0
}

fn check_slopes(slopes: &[f32], cols: usize) {
    assert_eq!(slopes.len(), cols, "prelu needs one slope per column");
}

/// Whether leaky ReLU with slope `s` is zero-centred by the [`Properties`] criterion: for a
/// standard normal input its mean is `(1 - s)/√(2π)` and its mean square `(1 + s²)/2`.
fn leaky_zero_centred(s: f32) -> bool {
    let s = f64::from(s);
    centred((1.0 - s) * FRAC_1_SQRT_2PI, (1.0 + s * s) / 2.0)
}

/// Whether ELU with parameter `alpha` is zero-centred by the [`Properties`] criterion: for a
/// standard normal input its mean is `1/√(2π) - α (1/2 - √e Φ(-1))` and its mean square
/// `1/2 + α² (e² Φ(-2) - 2 √e Φ(-1) + 1/2)`.
fn elu_zero_centred(alpha: f32) -> bool {
    const PHI_MINUS_1: f64 = 0.158_655_253_931_457_05; // Φ(-1)
    const PHI_MINUS_2: f64 = 0.022_750_131_948_179_21; // Φ(-2)
    let a = f64::from(alpha);
    let sqrt_e = 0.5f64.exp();
    let mean = FRAC_1_SQRT_2PI - a * (0.5 - sqrt_e * PHI_MINUS_1);
    let tail_sq = 2f64.exp() * PHI_MINUS_2 - 2.0 * sqrt_e * PHI_MINUS_1 + 0.5;
    centred(mean, 0.5 + a * a * tail_sq)
}

/// The zero-centred criterion of [`Properties`]: `|mean| ≤ 0.1 · √(mean square)`.
fn centred(mean: f64, mean_sq: f64) -> bool {
    mean.abs() <= 0.1 * mean_sq.sqrt()
}
