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
//! The scalar definitions live in two tables, the private macros `with_forward!` and
//! `with_derivative!`, with the same arms in the same order; the scalar methods and the batch
//! loops all expand them, so that every batch loop is specialised to one function (the `match`
//! sits outside the loop).

use std::f64::consts::FRAC_1_SQRT_2;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Init, Result};

pub(crate) mod kernels;

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

/// SELU's `λ` (Klambauer et al., 2017).
pub const SELU_LAMBDA: f32 = SELU_LAMBDA_F64 as f32;
/// SELU's `α` (Klambauer et al., 2017).
pub const SELU_ALPHA: f32 = SELU_ALPHA_F64 as f32;

const SELU_LAMBDA_F64: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;
const SELU_ALPHA_F64: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
/// `λα`, rounded once.
const SELU_LAMBDA_ALPHA: f32 = (SELU_LAMBDA_F64 * SELU_ALPHA_F64) as f32;

const DEFAULT_LEAKY_SLOPE: f32 = 0.01;
const DEFAULT_ELU_ALPHA: f32 = 1.0;
const DEFAULT_SOFTPLUS_BETA: f32 = 1.0;
const DEFAULT_SOFTPLUS_THRESHOLD: f32 = 20.0;
const DEFAULT_PRELU_INIT: f32 = 0.25;

/// `1 / √(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2/π)`, the scale inside GELU's tanh approximation.
const GELU_TANH_SCALE: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// Beyond `±GATE_CLAMP` GELU, SiLU, Mish and their derivatives equal their limits (`0` or `x`,
/// and `0` or `1`) to f32 precision. Their gates see the input clamped to this so that `±∞`
/// give those limits rather than `∞ · 0 = NaN` (clamping keeps NaN).
const GATE_CLAMP: f32 = 128.0;

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

/// Matches `$act` against `{ pattern => closure, ... }` and, in the matching arm, binds the
/// closure to `$f` and evaluates `$body`: each arm gets its own copy of `$body`, specialised to
/// that closure.
macro_rules! dispatch {
    ($act:expr, $f:ident => $body:expr, { $($pattern:pat => $closure:expr,)* }) => {
        match $act {
            $($pattern => {
                let $f = $closure;
                $body
            })*
        }
    };
}

/// Evaluates `$body` with `$f` bound to the scalar forward function `Fn(f32) -> f32` of `$act`.
/// This is the one definition of every forward function; same arms, same order as
/// [`with_derivative!`].
macro_rules! with_forward {
    ($act:expr, $f:ident => $body:expr) => {
        dispatch!($act, $f => $body, {
            Activation::Identity => |x: f32| x,
            Activation::Sigmoid => sigmoid,
            Activation::Tanh => f32::tanh,
            Activation::Relu => relu,
            Activation::LeakyRelu { negative_slope } => move |x: f32| leaky(x, negative_slope),
            Activation::Elu { alpha } => move |x: f32| if x > 0.0 { x } else { alpha * x.exp_m1() },
            Activation::Selu => |x: f32| {
                if x > 0.0 { SELU_LAMBDA * x } else { SELU_LAMBDA_ALPHA * x.exp_m1() }
            },
            Activation::Gelu => gelu,
            Activation::GeluTanh => gelu_tanh,
            Activation::Silu => silu,
            Activation::Softplus { beta, threshold } => move |x: f32| {
                if beta * x > threshold {
                    x
                } else {
                    (softplus64(f64::from(beta * x)) / f64::from(beta)) as f32
                }
            },
            Activation::Mish => mish,
            Activation::Softsign => |x: f32| {
                let x = clamped(x, -f32::MAX, f32::MAX); // ±∞ → ±1, not ∞/∞
                (x / (1.0 + x.abs())) as f32
            },
            Activation::Relu6 => |x: f32| x.clamp(0.0, 6.0),
            Activation::HardSigmoid => |x: f32| (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Activation::HardSwish => |x: f32| {
                if x <= -3.0 { 0.0 } else if x >= 3.0 { x } else { x * (x + 3.0) / 6.0 }
            },
            Activation::Prelu { init } => move |x: f32| leaky(x, init),
            Activation::Softmax => |x: f32| x,
        })
    };
}

/// Evaluates `$body` with `$df` bound to the scalar derivative `Fn(x: f32, y: f32) -> f32` of
/// `$act` (`y = f(x)`). The one definition of every derivative; same arms, same order as
/// [`with_forward!`].
macro_rules! with_derivative {
    ($act:expr, $df:ident => $body:expr) => {
        dispatch!($act, $df => $body, {
            Activation::Identity => |x: f32, _y: f32| nan_or(x, 1.0),
            Activation::Sigmoid => |_x: f32, y: f32| y * (1.0 - y),
            Activation::Tanh => |_x: f32, y: f32| (1.0 - y) * (1.0 + y),
            Activation::Relu => |x: f32, _y: f32| nan_or(x, if x > 0.0 { 1.0 } else { 0.0 }),
            Activation::LeakyRelu { negative_slope } => move |x: f32, _y: f32| {
                leaky_derivative(x, negative_slope)
            },
            Activation::Elu { alpha } => move |x: f32, y: f32| if x > 0.0 { 1.0 } else { y + alpha },
            Activation::Selu => |x: f32, y: f32| {
                if x > 0.0 { SELU_LAMBDA } else { y + SELU_LAMBDA_ALPHA }
            },
            Activation::Gelu => |x: f32, _y: f32| gelu_derivative(x),
            Activation::GeluTanh => |x: f32, _y: f32| gelu_tanh_derivative(x),
            Activation::Silu => |x: f32, _y: f32| silu_derivative(x),
            Activation::Softplus { beta, threshold } => move |x: f32, _y: f32| {
                if beta * x > threshold { 1.0 } else { sigmoid(beta * x) }
            },
            Activation::Mish => |x: f32, _y: f32| mish_derivative(x),
            Activation::Softsign => |x: f32, _y: f32| {
                let d = 1.0 + x.abs();
                1.0 / (d * d)
            },
            Activation::Relu6 => |x: f32, _y: f32| {
                nan_or(x, if x > 0.0 && x < 6.0 { 1.0 } else { 0.0 })
            },
            Activation::HardSigmoid => |x: f32, _y: f32| {
                nan_or(x, if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 })
            },
            Activation::HardSwish => |x: f32, _y: f32| {
                if x < -3.0 { 0.0 } else if x > 3.0 { 1.0 } else { (2.0 * x + 3.0) / 6.0 }
            },
            Activation::Prelu { init } => move |x: f32, _y: f32| leaky_derivative(x, init),
            Activation::Softmax => |_x: f32, y: f32| y * (1.0 - y),
        })
    };
}

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
        with_forward!(self, f => f(x))
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
        with_derivative!(self, df => df(x, y))
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
            Activation::Softmax => {
                for (z_row, out_row) in z.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                    out_row.copy_from_slice(z_row);
                    softmax_in_place(out_row);
                }
            }
            Activation::Prelu { .. } => {
                check_slopes(slopes, cols);
                for (z_row, out_row) in z.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                    for ((o, &x), &s) in out_row.iter_mut().zip(z_row).zip(slopes) {
                        *o = leaky(x, s);
                    }
                }
            }
            _ if kernels::has_kernel(self) => kernels::forward(self, z, out),
            _ => with_forward!(self, f => {
                for (o, &x) in out.iter_mut().zip(z) {
                    *o = f(x);
                }
            }),
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
            Activation::Softmax => {
                let rows = y.chunks_exact(cols).zip(grad_y.chunks_exact(cols));
                for ((y_row, gy_row), gz_row) in rows.zip(grad_z.chunks_exact_mut(cols)) {
                    let dot: f32 = y_row.iter().zip(gy_row).map(|(&y, &g)| y * g).sum();
                    for ((gz, &y), &gy) in gz_row.iter_mut().zip(y_row).zip(gy_row) {
                        *gz = y * (gy - dot);
                    }
                }
            }
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
            _ => with_derivative!(self, df => {
                let inputs = z.iter().zip(y).zip(grad_y);
                for (gz, ((&x, &y), &gy)) in grad_z.iter_mut().zip(inputs) {
                    *gz = gy * df(x, y);
                }
            }),
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

    /// The name in the CLI form, without parameters (`gelu:tanh` keeps its form: it is a
    /// function of its own).
    pub fn name(self) -> &'static str {
        use Activation::*;
        match self {
            Identity => "identity",
            Sigmoid => "sigmoid",
            Tanh => "tanh",
            Relu => "relu",
            LeakyRelu { .. } => "leaky_relu",
            Elu { .. } => "elu",
            Selu => "selu",
            Gelu => "gelu",
            GeluTanh => "gelu:tanh",
            Silu => "silu",
            Softplus { .. } => "softplus",
            Mish => "mish",
            Softsign => "softsign",
            Relu6 => "relu6",
            HardSigmoid => "hard_sigmoid",
            HardSwish => "hard_swish",
            Prelu { .. } => "prelu",
            Softmax => "softmax",
        }
    }
}

impl fmt::Display for Activation {
    /// The CLI form, parameters included when they differ from the default
    /// (`leaky_relu:0.2`, `gelu:tanh`); parses back to the same value.
    /// Width, fill and alignment are honoured (`{:>12}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        let text = match *self {
            Activation::LeakyRelu { negative_slope: p } if p != DEFAULT_LEAKY_SLOPE => {
                format!("{name}:{p}")
            }
            Activation::Elu { alpha: p } if p != DEFAULT_ELU_ALPHA => format!("{name}:{p}"),
            Activation::Prelu { init: p } if p != DEFAULT_PRELU_INIT => format!("{name}:{p}"),
            Activation::Softplus { beta, threshold } if threshold != DEFAULT_SOFTPLUS_THRESHOLD => {
                format!("{name}:{beta}:{threshold}")
            }
            Activation::Softplus { beta, .. } if beta != DEFAULT_SOFTPLUS_BETA => {
                format!("{name}:{beta}")
            }
            _ => return f.pad(name),
        };
        f.pad(&text)
    }
}

/// Accepted names: the canonical ones first (in [`Activation::ALL`] order), then aliases.
const ALIASES: [(&str, &str); 4] = [
    ("linear", "identity"),
    ("none", "identity"),
    ("logistic", "sigmoid"),
    ("swish", "silu"),
];

impl FromStr for Activation {
    type Err = Error;
    /// Parses the CLI form (case-insensitive, `-` accepted for `_` in the name; `swish` = silu,
    /// `logistic` = sigmoid, `linear` and `none` = identity; `gelu:erf` = gelu).
    /// Parameters must be finite numbers, `elu`'s alpha non-negative, `softplus`'s beta and
    /// threshold positive (the threshold may be `inf`).
    /// An unknown name is [`Error::UnknownActivation`] with the valid names and the closest one;
    /// a bad parameter is [`Error::Config`] naming it.
    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim().to_ascii_lowercase();
        let (name, params) = match text.split_once(':') {
            Some((name, params)) => (name, params.split(':').collect()),
            None => (text.as_str(), Vec::new()),
        };
        let name = name.replace('-', "_");
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name.as_str(), |(_, canonical)| canonical);
        let p = |names, defaults| parse_params(name, &params, names, defaults);
        match name {
            "identity" => p(&[], &[]).map(|_| Activation::Identity),
            "sigmoid" => p(&[], &[]).map(|_| Activation::Sigmoid),
            "tanh" => p(&[], &[]).map(|_| Activation::Tanh),
            "relu" => p(&[], &[]).map(|_| Activation::Relu),
            "leaky_relu" => {
                p(&["negative_slope"], &[DEFAULT_LEAKY_SLOPE]).map(|v| Activation::LeakyRelu { negative_slope: v[0] })
            }
            "elu" => p(&["alpha"], &[DEFAULT_ELU_ALPHA]).and_then(|v| {
                require(v[0] >= 0.0, "elu: alpha must be non-negative")?;
                Ok(Activation::Elu { alpha: v[0] })
            }),
            "selu" => p(&[], &[]).map(|_| Activation::Selu),
            "gelu" => match params.as_slice() {
                [] | ["erf"] => Ok(Activation::Gelu),
                ["tanh"] => Ok(Activation::GeluTanh),
                _ => Err(Error::config(format!(
                    "gelu: unknown form '{}'; valid: gelu, gelu:erf (the same), gelu:tanh",
                    params.join(":")
                ))),
            },
            "silu" => p(&[], &[]).map(|_| Activation::Silu),
            "softplus" => p(
                &["beta", "threshold"],
                &[DEFAULT_SOFTPLUS_BETA, DEFAULT_SOFTPLUS_THRESHOLD],
            )
            .and_then(|v| {
                require(v[0] > 0.0, "softplus: beta must be positive")?;
                require(v[1] > 0.0, "softplus: threshold must be positive")?;
                Ok(Activation::Softplus {
                    beta: v[0],
                    threshold: v[1],
                })
            }),
            "mish" => p(&[], &[]).map(|_| Activation::Mish),
            "softsign" => p(&[], &[]).map(|_| Activation::Softsign),
            "relu6" => p(&[], &[]).map(|_| Activation::Relu6),
            "hard_sigmoid" => p(&[], &[]).map(|_| Activation::HardSigmoid),
            "hard_swish" => p(&[], &[]).map(|_| Activation::HardSwish),
            "prelu" => p(&["init"], &[DEFAULT_PRELU_INIT]).map(|v| Activation::Prelu { init: v[0] }),
            "softmax" => p(&[], &[]).map(|_| Activation::Softmax),
            _ => Err(unknown_activation(s.trim(), name)),
        }
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

/// Parses `given` as the values of the parameters `names` of activation `activation`,
/// `defaults` filling those not given. Each value must be a number, finite except for a
/// parameter named `threshold`.
fn parse_params(activation: &str, given: &[&str], names: &[&str], defaults: &[f32]) -> Result<Vec<f32>> {
    if given.len() > names.len() {
        return Err(Error::config(match names {
            [] => format!("{activation} takes no parameters, got '{}'", given.join(":")),
            _ => format!(
                "{activation} takes at most {} parameter(s) ({}), got {}",
                names.len(),
                names.join(", "),
                given.len()
            ),
        }));
    }
    let mut values = defaults.to_vec();
    for ((value, &name), &text) in values.iter_mut().zip(names).zip(given) {
        *value = text
            .parse()
            .map_err(|_| Error::config(format!("{activation}: {name} must be a number, got '{text}'")))?;
        let finite_required = name != "threshold";
        require(
            !value.is_nan() && (value.is_finite() || !finite_required),
            &format!("{activation}: {name} must be finite, got '{text}'"),
        )?;
    }
    Ok(values)
}

fn require(condition: bool, message: &str) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(Error::config(message))
    }
}

/// [`Error::UnknownActivation`] for `written` (whose normalised name is `name`), suggesting the
/// closest accepted name within `max(2, len/3)` edits (ties: the closest in length, then the
/// first listed).
fn unknown_activation(written: &str, name: &str) -> Error {
    let candidates = Activation::ALL
        .iter()
        .map(|a| a.name())
        .chain(ALIASES.iter().map(|(alias, _)| *alias));
    let len = name.chars().count();
    let suggestion = candidates
        .map(|c| (levenshtein(name, c), c.chars().count().abs_diff(len), c))
        .min_by_key(|&(distance, len_diff, _)| (distance, len_diff))
        .filter(|&(distance, _, _)| distance <= (len / 3).max(2))
        .map(|(_, _, c)| c.to_string());
    let valid = Activation::ALL.map(|a| a.name()).join(", ");
    Error::UnknownActivation {
        name: written.to_string(),
        suggestion,
        valid,
    }
}

/// Edit distance (insertions, deletions, substitutions) between `a` and `b`, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
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

/// `v`, or NaN if `x` is NaN: for piecewise-constant derivatives, so that NaN is not hidden.
#[inline]
fn nan_or(x: f32, v: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        v
    }
}

#[inline]
fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

#[inline]
fn leaky(x: f32, slope: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        slope * x
    }
}

#[inline]
fn leaky_derivative(x: f32, slope: f32) -> f32 {
    nan_or(x, if x > 0.0 { 1.0 } else { slope })
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

/// `x` clamped to `[lo, hi]` (NaN stays NaN) and widened to f64.
#[inline]
fn clamped(x: f32, lo: f32, hi: f32) -> f64 {
    f64::from(x.clamp(lo, hi))
}

/// `σ(x)` by sign: `e = e^-|x|` never overflows.
#[inline]
fn sigmoid64(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    let numerator = if x >= 0.0 { 1.0 } else { e };
    numerator / (1.0 + e)
}

/// `max(x, 0) + ln_1p(e^-|x|)` (NaN propagates through the second term).
#[inline]
fn softplus64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `x Φ(x) = x/2 erfc(-x/√2)`.
#[inline]
fn gelu(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (0.5 * x * libm::erfc(-x * FRAC_1_SQRT_2)) as f32
}

/// `Φ(x) + x φ(x)`.
#[inline]
fn gelu_derivative(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, GATE_CLAMP);
    let density = (-0.5 * x * x).exp() * FRAC_1_SQRT_2PI;
    (0.5 * libm::erfc(-x * FRAC_1_SQRT_2) + x * density) as f32
}

/// `2u`, the argument of the sigmoid in `gelu_tanh(x) = x σ(2u)`.
#[inline]
fn gelu_tanh_2u(x: f64) -> f64 {
    2.0 * GELU_TANH_SCALE * x * (1.0 + GELU_TANH_CUBIC * x * x)
}

#[inline]
fn gelu_tanh(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (x * sigmoid64(gelu_tanh_2u(x))) as f32
}

#[inline]
fn gelu_tanh_derivative(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, GATE_CLAMP);
    let s = sigmoid64(gelu_tanh_2u(x));
    let du = GELU_TANH_SCALE * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x);
    (s + 2.0 * x * du * s * (1.0 - s)) as f32
}

#[inline]
fn silu(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (x * sigmoid64(x)) as f32
}

#[inline]
fn silu_derivative(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, GATE_CLAMP);
    let s = sigmoid64(x);
    (s * (1.0 + x * (1.0 - s))) as f32
}

/// `t = tanh(softplus(x)) = n / (n + 2)` with `n = e^x (e^x + 2)`; returns `(t, n)`.
/// Above `x = 20`, where `t = 1` in f64, `x` is taken as 20 so that `n` stays finite
/// (a NaN `x` then gives a finite `t`: callers multiply by `x`).
#[inline]
fn tanh_softplus(x: f64) -> (f64, f64) {
    let e = x.min(20.0).exp();
    let n = e * (e + 2.0);
    (n / (n + 2.0), n)
}

#[inline]
fn mish(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (x * tanh_softplus(x).0) as f32
}

/// `t + x σ(x) (1 - t²)` with `t = tanh(softplus(x))`, `1 - t² = 4 (n + 1) / (n + 2)²`.
#[inline]
fn mish_derivative(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, GATE_CLAMP);
    let (t, n) = tanh_softplus(x);
    let one_minus_t2 = 4.0 * (n + 1.0) / ((n + 2.0) * (n + 2.0));
    (t + x * sigmoid64(x) * one_minus_t2) as f32
}

/// Logistic sigmoid `1 / (1 + e^-x)`, computed by sign so that `e^-x` never overflows.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    sigmoid64(f64::from(x)) as f32
}

/// `ln(1 + e^x)` computed as `max(x, 0) + ln_1p(e^-|x|)`: exact for large |x|, never overflows.
#[inline]
pub fn softplus(x: f32) -> f32 {
    softplus64(f64::from(x)) as f32
}

/// `ln σ(x) = -softplus(-x)`, stable for all x.
#[inline]
pub fn log_sigmoid(x: f32) -> f32 {
    -softplus64(-f64::from(x)) as f32
}

/// `ln Σ e^(x_i)`, subtracting the maximum first. Empty or all `-inf` input gives `-inf`;
/// a `+inf` entry gives `+inf`; NaN propagates.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = nan_max(x);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(exp_non_positive(v - max))).sum();
    max + (sum as f32).ln()
}

/// Softmax of one row in place, subtracting the row maximum. A row of all `-inf` (every
/// option masked) becomes the uniform distribution; a row with `+inf` entries shares the
/// mass among them equally. A NaN entry makes the whole row NaN.
pub fn softmax_in_place(row: &mut [f32]) {
    if !shift_by_max(row) {
        return;
    }
    let mut sum = 0.0f64;
    for v in row.iter_mut() {
        *v = exp_non_positive(*v);
        sum += f64::from(*v);
    }
    let sum = sum as f32;
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// `ln softmax(x)` of one row in place (`x_i - log_sum_exp(x)`), with the same conventions as
/// [`softmax_in_place`] (all `-inf`: `-ln n` everywhere; `+inf` entries: `-ln k` there and
/// `-inf` elsewhere; NaN: all NaN).
pub fn log_softmax_in_place(row: &mut [f32]) {
    if !shift_by_max(row) {
        return;
    }
    let sum: f64 = row.iter().map(|&v| f64::from(exp_non_positive(v))).sum();
    let log_sum = (sum as f32).ln();
    for v in row.iter_mut() {
        *v -= log_sum;
    }
}

/// `e^v` for a logit shifted by its row's maximum (`v ≤ 0`), 0 where the result would be
/// subnormal (`v < -87`): subnormal probabilities change no sum or gradient in f32, but every
/// operation on them costs a microcode assist on x86, which made a confident softmax layer
/// slower than the matrix products feeding it. NaN stays NaN.
#[inline]
fn exp_non_positive(v: f32) -> f32 {
    if v < -87.0 {
        0.0
    } else {
        v.exp()
    }
}

/// The largest entry, NaN if there is a NaN, `-inf` for an empty slice.
fn nan_max(x: &[f32]) -> f32 {
    x.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m || v.is_nan() { v } else { m })
}

/// Subtracts the row maximum `m` from every entry; if `m` is infinite (all `-inf`, or some
/// `+inf`), the entries equal to `m` become 0 and the others `-inf`. A row with a NaN becomes
/// all NaN and the result is `false` (nothing left to do).
fn shift_by_max(row: &mut [f32]) -> bool {
    let max = nan_max(row);
    if max.is_nan() {
        row.fill(f32::NAN);
        false
    } else if max.is_finite() {
        row.iter_mut().for_each(|v| *v -= max);
        true
    } else {
        let shift = |v: f32| if v == max { 0.0 } else { f32::NEG_INFINITY };
        row.iter_mut().for_each(|v| *v = shift(*v));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Uniform};
    use std::f64::consts::{LN_2, PI, SQRT_2};
    use Activation::*;

    const INF: f32 = f32::INFINITY;
    const MAX: f32 = f32::MAX;
    const TINY: f32 = 1e-30;
    const LN2: f32 = std::f32::consts::LN_2;

    /// Distance between `a` and `b` in units in the last place: how many f32 values apart they
    /// are, ordering floats by bit pattern with the sign handled (`-0` and `+0` coincide);
    /// 0 for two NaNs, `u32::MAX` for NaN against a number.
    fn ulp_distance(a: f32, b: f32) -> u32 {
        if a.is_nan() || b.is_nan() {
            return if a.is_nan() && b.is_nan() { 0 } else { u32::MAX };
        }
        let key = |x: f32| {
            let magnitude = i64::from(x.to_bits() & 0x7fff_ffff);
            if x.is_sign_negative() {
                -magnitude
            } else {
                magnitude
            }
        };
        (key(a) - key(b)).unsigned_abs() as u32
    }

    /// Textbook definitions in f64, written independently of the f32 code.
    fn reference(act: Activation, x: f64) -> f64 {
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        let leaky = |x: f64, slope: f32| if x > 0.0 { x } else { f64::from(slope) * x };
        let elu = |x: f64, alpha: f64| if x > 0.0 { x } else { alpha * x.exp_m1() };
        match act {
            Identity | Softmax => x,
            Sigmoid => sigmoid(x),
            Tanh => x.tanh(),
            Relu => x.max(0.0),
            LeakyRelu { negative_slope: s } | Prelu { init: s } => leaky(x, s),
            Elu { alpha } => elu(x, f64::from(alpha)),
            Selu => SELU_LAMBDA_F64 * elu(x, SELU_ALPHA_F64),
            Gelu => 0.5 * x * libm::erfc(-x / SQRT_2),
            GeluTanh => 0.5 * x * (1.0 + ((2.0 / PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh()),
            Silu => x * sigmoid(x),
            Softplus { beta, threshold } => {
                let (beta, threshold) = (f64::from(beta), f64::from(threshold));
                if beta * x > threshold {
                    x
                } else {
                    (beta * x).exp().ln_1p() / beta
                }
            }
            Mish => x * x.exp().ln_1p().tanh(),
            Softsign => x / (1.0 + x.abs()),
            Relu6 => x.clamp(0.0, 6.0),
            HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        }
    }

    /// Central difference of the f64 reference.
    fn reference_slope(act: Activation, x: f64) -> f64 {
        let h = 1e-5;
        (reference(act, x + h) - reference(act, x - h)) / (2.0 * h)
    }

    /// Inputs where `f'` jumps (finite differences are meaningless there).
    fn kinks(act: Activation) -> Vec<f64> {
        match act {
            Relu | LeakyRelu { .. } | Prelu { .. } | Elu { .. } | Selu => vec![0.0],
            Relu6 => vec![0.0, 6.0],
            HardSigmoid | HardSwish => vec![-3.0, 3.0],
            Softplus { beta, threshold } => vec![f64::from(threshold / beta)],
            _ => vec![],
        }
    }

    /// Every element-wise activation: `ALL` but softmax, plus non-default parameters.
    fn variants() -> Vec<Activation> {
        let extra = [
            LeakyRelu { negative_slope: 0.8 },
            LeakyRelu { negative_slope: -0.5 },
            LeakyRelu { negative_slope: 0.0 },
            Elu { alpha: 0.5 },
            Elu { alpha: 1.6 },
            Elu { alpha: 0.0 },
            Softplus {
                beta: 2.0,
                threshold: 20.0,
            },
            Softplus {
                beta: 1.0,
                threshold: 2.0,
            },
            Prelu { init: 1.0 },
            Prelu { init: 0.1 },
        ];
        let defaults = Activation::ALL.into_iter().filter(|&a| a != Softmax);
        defaults.chain(extra).collect()
    }

    // ---------------------------------------------------------------- stability at extremes

    /// Checks `f(x)` and `f'(x, f(x))` for each `(x, f, f')` within 2 ULP (so subnormal
    /// leftovers of a 0 limit pass), and that NaN gives NaN in both directions.
    #[track_caller]
    fn check_extremes(act: Activation, cases: &[(f32, f32, f32)]) {
        for &(x, want_y, want_dy) in cases {
            let y = act.forward(x);
            let dy = act.derivative(x, y);
            assert!(ulp_distance(y, want_y) <= 2, "{act}({x:e}) = {y:e}, want {want_y:e}");
            assert!(
                ulp_distance(dy, want_dy) <= 2,
                "{act}'({x:e}) = {dy:e}, want {want_dy:e}"
            );
        }
        let y = act.forward(f32::NAN);
        assert!(y.is_nan(), "{act}(NaN) = {y}");
        let dy = act.derivative(f32::NAN, y);
        assert!(dy.is_nan(), "{act}'(NaN) = {dy}");
    }

    #[test]
    fn identity_is_stable_at_extremes() {
        let xs = [0.0, TINY, -TINY, 1e4, -1e4, MAX, -MAX, INF, -INF];
        check_extremes(Identity, &xs.map(|x| (x, x, 1.0)));
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        check_extremes(
            Sigmoid,
            &[
                (0.0, 0.5, 0.25),
                (TINY, 0.5, 0.25),
                (-TINY, 0.5, 0.25),
                (1e4, 1.0, 0.0),
                (-1e4, 0.0, 0.0),
                (MAX, 1.0, 0.0),
                (-MAX, 0.0, 0.0),
                (INF, 1.0, 0.0),
                (-INF, 0.0, 0.0),
            ],
        );
        let deep = sigmoid(-100.0); // e^-100: subnormal, not flushed to a wrong value
        assert!(deep > 0.0 && ulp_distance(deep, (-100f64).exp() as f32) <= 1);
    }

    #[test]
    fn tanh_is_stable_at_extremes() {
        check_extremes(
            Tanh,
            &[
                (0.0, 0.0, 1.0),
                (TINY, TINY, 1.0),
                (-TINY, -TINY, 1.0),
                (1e4, 1.0, 0.0),
                (-1e4, -1.0, 0.0),
                (MAX, 1.0, 0.0),
                (-MAX, -1.0, 0.0),
                (INF, 1.0, 0.0),
                (-INF, -1.0, 0.0),
            ],
        );
    }

    #[test]
    fn relu_is_stable_at_extremes() {
        check_extremes(
            Relu,
            &[
                (0.0, 0.0, 0.0),
                (TINY, TINY, 1.0),
                (-TINY, 0.0, 0.0),
                (1e4, 1e4, 1.0),
                (-1e4, 0.0, 0.0),
                (MAX, MAX, 1.0),
                (-MAX, 0.0, 0.0),
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    /// Leaky ReLU and PReLU (which uses its initial slope on single values).
    fn check_leaky_extremes(act: Activation, s: f32) {
        check_extremes(
            act,
            &[
                (0.0, 0.0, s),
                (TINY, TINY, 1.0),
                (-TINY, -s * TINY, s),
                (1e4, 1e4, 1.0),
                (-1e4, -s * 1e4, s),
                (MAX, MAX, 1.0),
                (-MAX, -s * MAX, s),
                (INF, INF, 1.0),
                (-INF, -INF, s),
            ],
        );
    }

    #[test]
    fn leaky_relu_is_stable_at_extremes() {
        check_leaky_extremes("leaky_relu".parse().unwrap(), 0.01);
        check_leaky_extremes(LeakyRelu { negative_slope: 0.2 }, 0.2);
    }

    #[test]
    fn prelu_is_stable_at_extremes() {
        check_leaky_extremes("prelu".parse().unwrap(), 0.25);
    }

    #[test]
    fn elu_is_stable_at_extremes() {
        for alpha in [1.0, 0.5] {
            check_extremes(
                Elu { alpha },
                &[
                    (0.0, 0.0, alpha),
                    (TINY, TINY, 1.0),
                    (-TINY, -alpha * TINY, alpha),
                    (1e4, 1e4, 1.0),
                    (-1e4, -alpha, 0.0),
                    (MAX, MAX, 1.0),
                    (-MAX, -alpha, 0.0),
                    (INF, INF, 1.0),
                    (-INF, -alpha, 0.0),
                ],
            );
        }
    }

    #[test]
    fn selu_is_stable_at_extremes() {
        let (l, la) = (SELU_LAMBDA, SELU_LAMBDA_ALPHA);
        check_extremes(
            Selu,
            &[
                (0.0, 0.0, la),
                (TINY, l * TINY, l),
                (-TINY, -la * TINY, la),
                (1e4, l * 1e4, l),
                (-1e4, -la, 0.0),
                // λ·f32::MAX is beyond f32: infinity is the correctly rounded value
                (MAX, INF, l),
                (-MAX, -la, 0.0),
                (INF, INF, l),
                (-INF, -la, 0.0),
            ],
        );
    }

    /// GELU (both forms) and SiLU: `f(x) = x · gate(x)` with `gate(0) = 1/2`.
    fn check_self_gated_extremes(act: Activation) {
        check_extremes(
            act,
            &[
                (0.0, 0.0, 0.5),
                (TINY, 0.5 * TINY, 0.5),
                (-TINY, -0.5 * TINY, 0.5),
                (1e4, 1e4, 1.0),
                (-1e4, 0.0, 0.0),
                (MAX, MAX, 1.0),
                (-MAX, 0.0, 0.0),
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    #[test]
    fn gelu_is_stable_at_extremes() {
        check_self_gated_extremes(Gelu);
    }

    #[test]
    fn gelu_tanh_is_stable_at_extremes() {
        check_self_gated_extremes(GeluTanh);
    }

    #[test]
    fn silu_is_stable_at_extremes() {
        check_self_gated_extremes(Silu);
        // deep in the left tail x e^x is subnormal yet keeps its relative accuracy
        let want = (-100.0 * (-100f64).exp()) as f32;
        assert!(ulp_distance(Silu.forward(-100.0), want) <= 1);
    }

    #[test]
    fn mish_is_stable_at_extremes() {
        // tanh(softplus(0)) = tanh(ln 2) = 3/5
        check_extremes(
            Mish,
            &[
                (0.0, 0.0, 0.6),
                (TINY, 0.6 * TINY, 0.6),
                (-TINY, -0.6 * TINY, 0.6),
                (1e4, 1e4, 1.0),
                (-1e4, 0.0, 0.0),
                (MAX, MAX, 1.0),
                (-MAX, 0.0, 0.0),
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    #[test]
    fn softplus_is_stable_at_extremes() {
        check_extremes(
            "softplus".parse().unwrap(),
            &[
                (0.0, LN2, 0.5),
                (TINY, LN2, 0.5),
                (-TINY, LN2, 0.5),
                (-30.0, (-30f64).exp() as f32, (-30f64).exp() as f32),
                (1e4, 1e4, 1.0),
                (-1e4, 0.0, 0.0),
                (MAX, MAX, 1.0),
                (-MAX, 0.0, 0.0),
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
            ],
        );
        // beta = 2: ln(1 + e^(2x)) / 2, linear above 2x > 20
        let sharp = Softplus {
            beta: 2.0,
            threshold: 20.0,
        };
        check_extremes(sharp, &[(0.0, LN2 / 2.0, 0.5), (10.5, 10.5, 1.0), (-MAX, 0.0, 0.0)]);
    }

    #[test]
    fn softsign_is_stable_at_extremes() {
        check_extremes(
            Softsign,
            &[
                (0.0, 0.0, 1.0),
                (TINY, TINY, 1.0),
                (-TINY, -TINY, 1.0),
                (1e4, (1e4 / 10_001f64) as f32, 9.998e-9),
                (-1e4, (-1e4 / 10_001f64) as f32, 9.998e-9),
                (MAX, 1.0, 0.0),
                (-MAX, -1.0, 0.0),
                (INF, 1.0, 0.0),
                (-INF, -1.0, 0.0),
            ],
        );
    }

    #[test]
    fn relu6_is_stable_at_extremes() {
        check_extremes(
            Relu6,
            &[
                (0.0, 0.0, 0.0),
                (TINY, TINY, 1.0),
                (-TINY, 0.0, 0.0),
                (5.5, 5.5, 1.0),
                (6.0, 6.0, 0.0),
                (1e4, 6.0, 0.0),
                (-1e4, 0.0, 0.0),
                (MAX, 6.0, 0.0),
                (-MAX, 0.0, 0.0),
                (INF, 6.0, 0.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    #[test]
    fn hard_sigmoid_is_stable_at_extremes() {
        check_extremes(
            HardSigmoid,
            &[
                (0.0, 0.5, 1.0 / 6.0),
                (TINY, 0.5, 1.0 / 6.0),
                (-3.0, 0.0, 0.0),
                (3.0, 1.0, 0.0),
                (1e4, 1.0, 0.0),
                (-1e4, 0.0, 0.0),
                (MAX, 1.0, 0.0),
                (-MAX, 0.0, 0.0),
                (INF, 1.0, 0.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    #[test]
    fn hard_swish_is_stable_at_extremes() {
        check_extremes(
            HardSwish,
            &[
                (0.0, 0.0, 0.5),
                (TINY, 0.5 * TINY, 0.5),
                (-3.0, 0.0, -0.5),
                (-3.5, 0.0, 0.0),
                (3.0, 3.0, 1.5),
                (3.5, 3.5, 1.0),
                (1e4, 1e4, 1.0),
                (-1e4, 0.0, 0.0),
                (MAX, MAX, 1.0),
                (-MAX, 0.0, 0.0),
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
            ],
        );
    }

    #[test]
    fn scalar_softmax_passes_values_through_and_its_derivative_is_the_jacobian_diagonal() {
        assert_eq!(Softmax.forward(3.5), 3.5);
        assert_eq!(Softmax.derivative(3.5, 0.5), 0.25);
        assert_eq!(Softmax.derivative(0.0, 1.0), 0.0);
        assert!(Softmax.derivative(f32::NAN, f32::NAN).is_nan());
    }

    #[test]
    fn softplus_and_log_sigmoid_are_stable() {
        assert_eq!(softplus(1e4), 1e4);
        assert_eq!(softplus(-1e4), 0.0);
        assert_eq!(softplus(INF), INF);
        assert_eq!(softplus(-INF), 0.0);
        assert_eq!(softplus(MAX), MAX);
        assert!(ulp_distance(softplus(-100.0), (-100f64).exp() as f32) <= 1);
        assert!(softplus(f32::NAN).is_nan());

        assert_eq!(log_sigmoid(300.0), 0.0);
        assert_eq!(log_sigmoid(-300.0), -300.0);
        assert_eq!(log_sigmoid(INF), 0.0);
        assert_eq!(log_sigmoid(-INF), -INF);
        assert_eq!(log_sigmoid(-MAX), -MAX);
        assert!(ulp_distance(log_sigmoid(0.0), -LN2) <= 1);
        assert!(ulp_distance(log_sigmoid(20.0), -(-20f64).exp() as f32) <= 1);
        assert!(log_sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let lse = log_sum_exp(&[1e4, 1e4]);
        assert!(ulp_distance(lse, (1e4 + LN_2) as f32) <= 1, "{lse}");
        assert_eq!(log_sum_exp(&[-1e4, 0.0]), 0.0);
        assert_eq!(log_sum_exp(&[MAX, MAX]), MAX);
        assert_eq!(log_sum_exp(&[-MAX, MAX]), MAX);
        assert!(ulp_distance(log_sum_exp(&[0.0; 4]), (4f64.ln()) as f32) <= 1);
        assert_eq!(log_sum_exp(&[-INF, 2.0]), 2.0);
        assert_eq!(log_sum_exp(&[]), -INF);
        assert_eq!(log_sum_exp(&[-INF, -INF]), -INF);
        assert_eq!(log_sum_exp(&[1.0, INF]), INF);
        assert!(log_sum_exp(&[1.0, f32::NAN]).is_nan());
        assert!(log_sum_exp(&[f32::NAN, INF]).is_nan());
        assert!(log_sum_exp(&[INF, f32::NAN]).is_nan());
    }

    fn softmax_of(row: &[f32]) -> Vec<f32> {
        let mut row = row.to_vec();
        softmax_in_place(&mut row);
        row
    }

    fn log_softmax_of(row: &[f32]) -> Vec<f32> {
        let mut row = row.to_vec();
        log_softmax_in_place(&mut row);
        row
    }

    #[test]
    fn softmax_is_stable() {
        assert_eq!(softmax_of(&[1e4, 0.0]), [1.0, 0.0]);
        assert_eq!(softmax_of(&[MAX, -MAX]), [1.0, 0.0]);
        assert_eq!(softmax_of(&[-INF, 0.0]), [0.0, 1.0]);
        assert_eq!(softmax_of(&[-INF; 4]), [0.25; 4], "all masked: uniform");
        assert_eq!(softmax_of(&[INF, 1.0, INF, -INF]), [0.5, 0.0, 0.5, 0.0]);
        assert_eq!(softmax_of(&[7.0]), [1.0]);
        assert!(softmax_of(&[]).is_empty());
        assert!(softmax_of(&[1.0, f32::NAN, 2.0]).iter().all(|v| v.is_nan()));
        assert!(softmax_of(&[INF, f32::NAN]).iter().all(|v| v.is_nan()));
        assert!(softmax_of(&[f32::NAN, -INF]).iter().all(|v| v.is_nan()));
        let y = softmax_of(&[1.0, 2.0, 3.0]);
        let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
        for (got, want) in y.iter().zip(e) {
            assert!(ulp_distance(*got, (want / e.iter().sum::<f64>()) as f32) <= 2);
        }
    }

    #[test]
    fn log_softmax_is_stable() {
        assert_eq!(log_softmax_of(&[1e4, 0.0]), [0.0, -1e4]);
        assert_eq!(log_softmax_of(&[0.0, -INF]), [0.0, -INF]);
        let ln4 = 4f32.ln();
        assert_eq!(log_softmax_of(&[-INF; 4]), [-ln4; 4]);
        assert_eq!(log_softmax_of(&[INF, 1.0, INF]), [-LN2, -INF, -LN2]);
        assert!(log_softmax_of(&[1.0, f32::NAN]).iter().all(|v| v.is_nan()));
        let y = log_softmax_of(&[1.0, 2.0, 3.0]);
        let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        for (got, x) in y.iter().zip([1.0, 2.0, 3.0]) {
            assert!(ulp_distance(*got, (x - lse) as f32) <= 2);
        }
    }

    // ---------------------------------------------------------------- accuracy

    /// 200 001 points evenly over [-30, 30] and 2 × 20 001 log-spaced magnitudes 1e-30..1e4.
    fn accuracy_grid() -> Vec<f32> {
        let even = (0..=200_000).map(|i| -30.0 + 60.0 * f64::from(i) / 200_000.0);
        let magnitudes = (0..=20_000).map(|i| 10f64.powf(-30.0 + 34.0 * f64::from(i) / 20_000.0));
        even.chain(magnitudes.flat_map(|m| [m, -m])).map(|x| x as f32).collect()
    }

    /// Forward values against the f64 references: GELU (both forms) within 1e-6 absolute
    /// (relative above 1: the error is measured as `|f - ref| / max(1, |ref|)`), every other
    /// function within 4 ULP of the reference rounded to f32. (The textbook tanh-form reference
    /// `x/2 (1 + tanh u)` cancels for `x ≪ 0`, so a ULP count for `gelu:tanh` means nothing.)
    #[test]
    fn forward_matches_f64_reference() {
        let grid = accuracy_grid();
        for act in variants() {
            let (mut max_ulp, mut max_abs) = (0, 0.0f64);
            for &x in &grid {
                let (got, want) = (act.forward(x), reference(act, f64::from(x)));
                max_ulp = max_ulp.max(ulp_distance(got, want as f32));
                max_abs = max_abs.max((f64::from(got) - want).abs() / want.abs().max(1.0));
            }
            eprintln!("{act:<14} max {max_ulp} ULP, max abs error {max_abs:.2e}");
            if matches!(act, Gelu | GeluTanh) {
                assert!(max_abs <= 1e-6, "{act}: abs error {max_abs:e}");
            } else {
                assert!(max_ulp <= 4, "{act}: {max_ulp} ULP");
            }
        }
    }

    #[test]
    fn ulp_distance_orders_floats_by_bit_pattern() {
        let next = |x: f32| f32::from_bits(x.to_bits() + 1);
        assert_eq!(ulp_distance(1.0, next(1.0)), 1);
        assert_eq!(ulp_distance(-1.0, -next(1.0)), 1);
        assert_eq!(ulp_distance(0.0, -0.0), 0);
        let smallest = f32::from_bits(1);
        assert_eq!(ulp_distance(smallest, -smallest), 2);
        assert_eq!(ulp_distance(MAX, INF), 1);
        assert_eq!(ulp_distance(-INF, INF), 2 * 0x7f80_0000);
        assert_eq!(ulp_distance(f32::NAN, f32::NAN), 0);
        assert_eq!(ulp_distance(f32::NAN, 1.0), u32::MAX);
    }

    // ---------------------------------------------------------------- derivatives

    /// `derivative(x, f(x))` against central differences of the f64 reference, away from
    /// kinks: `|f' - fd| ≤ 1e-3 |fd| + 1e-6` (f32 precision; the absolute term covers the
    /// `y (1 - y)` forms, whose absolute error is about 1e-7, where `f'` is tiny).
    #[test]
    fn derivatives_match_central_differences() {
        let even = (0..=3650).map(|i| -25.0 + 0.0137 * f64::from(i));
        let far = [30.0, 50.0, 100.0, 1e3].into_iter().flat_map(|x| [x, -x]);
        let points: Vec<f32> = even.chain(far).map(|x| x as f32).collect();
        for act in variants() {
            let kinks = kinks(act);
            for &x in &points {
                let x64 = f64::from(x);
                if kinks.iter().any(|k| (x64 - k).abs() < 1e-3) {
                    continue;
                }
                let got = f64::from(act.derivative(x, act.forward(x)));
                let want = reference_slope(act, x64);
                assert!(
                    (got - want).abs() <= 1e-3 * want.abs() + 1e-6,
                    "{act}'({x}) = {got}, finite difference {want}"
                );
            }
        }
    }

    fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
        let dist = Uniform::new(lo, hi).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| dist.sample(&mut rng)).collect()
    }

    /// `Σ w · softmax(z)` per row, in f64.
    fn weighted_softmax_sum(z: &[f64], w: &[f32], cols: usize) -> f64 {
        let rows = z.chunks(cols).zip(w.chunks(cols));
        rows.map(|(z, w)| {
            let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
            let total: f64 = e.iter().sum();
            e.iter().zip(w).map(|(e, &w)| f64::from(w) * e / total).sum::<f64>()
        })
        .sum()
    }

    #[test]
    fn softmax_backward_is_the_jacobian_vector_product() {
        let (rows, cols) = (4, 6);
        let z = uniform(rows * cols, -3.0, 3.0, 1);
        let w = uniform(rows * cols, -1.0, 1.0, 2);
        let mut y = vec![0.0; z.len()];
        Softmax.forward_batch(&z, &mut y, cols, &[]);
        let mut grad = vec![0.0; z.len()];
        Softmax.backward_batch(&z, &y, &w, &mut grad, cols, &[]);
        let z64: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
        let h = 1e-6;
        for i in 0..z.len() {
            let (mut up, mut down) = (z64.clone(), z64.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (weighted_softmax_sum(&up, &w, cols) - weighted_softmax_sum(&down, &w, cols)) / (2.0 * h);
            assert!((f64::from(grad[i]) - fd).abs() < 1e-5, "{i}: {} vs {fd}", grad[i]);
        }
    }

    #[test]
    fn slope_gradient_matches_finite_differences() {
        let (rows, cols) = (5, 3);
        let z = uniform(rows * cols, -3.0, 3.0, 3);
        let grad_y = uniform(rows * cols, -1.0, 1.0, 4);
        let slopes = [0.25f64, 0.1, -0.2];
        // L(slopes) = Σ grad_y · prelu(z; slopes), in f64
        let loss = |slopes: &[f64]| -> f64 {
            let terms = z.iter().zip(&grad_y).enumerate();
            terms
                .map(|(i, (&z, &g))| {
                    let z = f64::from(z);
                    f64::from(g) * if z > 0.0 { z } else { slopes[i % cols] * z }
                })
                .sum()
        };
        let initial = [1.0f32, 2.0, 3.0];
        let mut grad_slopes = initial;
        Activation::slope_gradient(&z, &grad_y, &mut grad_slopes);
        for c in 0..cols {
            let (mut up, mut down) = (slopes, slopes);
            up[c] += 1e-4;
            down[c] -= 1e-4;
            let fd = (loss(&up) - loss(&down)) / 2e-4;
            let got = f64::from(grad_slopes[c] - initial[c]);
            assert!((got - fd).abs() < 1e-5, "column {c}: {got} vs {fd}");
        }
    }

    // ---------------------------------------------------------------- batches

    fn batch_inputs() -> Vec<f32> {
        let mut z = uniform(60, -8.0, 8.0, 5);
        z.extend([0.0, -0.0, 3.0, -3.0, 6.0, 25.0, -25.0, INF, -INF, f32::NAN, MAX, -MAX]);
        z
    }

    /// Eight columns' slopes: PReLU's initial one (so that batches match `forward`), and
    /// values the other functions must ignore.
    fn prelu_slopes(act: Activation) -> [f32; 8] {
        match act {
            Prelu { init } => [init; 8],
            _ => [f32::NAN; 8],
        }
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Whether a batch kernel's value `got` agrees with the scalar code's `want`: bit for bit
    /// where the kernel evaluates the same formula (the piecewise-linear functions and the
    /// derivatives from outputs), else within the accuracy bounds (4 ULP, or 1e-6 relative
    /// to `max(1, |want|)` for GELU, whose kernel uses its own fit of erfc).
    fn agrees(act: Activation, got: f32, want: f32) -> bool {
        let exact = !kernels::has_kernel(act)
            || matches!(act, Identity | Relu | LeakyRelu { .. } | Sigmoid | Tanh | Elu { .. });
        same(got, want)
            || (!exact
                && (ulp_distance(got, want) <= 4 || (act == Gelu && (got - want).abs() <= 1e-6 * want.abs().max(1.0))))
    }

    #[test]
    fn forward_batch_matches_scalar_forward() {
        let z = batch_inputs();
        for act in variants() {
            let mut out = vec![0.0; z.len()];
            act.forward_batch(&z, &mut out, 8, &prelu_slopes(act));
            for (&x, &y) in z.iter().zip(&out) {
                let want = act.forward(x);
                let exact_forward = !kernels::has_kernel(act) || matches!(act, Identity | Relu | LeakyRelu { .. });
                let ok = if exact_forward {
                    same(y, want)
                } else {
                    agrees(Gelu, y, want)
                };
                assert!(ok, "{act}({x}): batch {y}, scalar {want}");
            }
        }
    }

    /// Each kernel, forward, at every instruction-set level this machine runs, against the
    /// f64 reference with the bounds of `forward_matches_f64_reference`, and at the extremes
    /// against the scalar code.
    #[test]
    fn every_kernel_level_matches_the_f64_reference() {
        let grid = accuracy_grid();
        let extremes = [
            0.0,
            -0.0,
            TINY,
            -TINY,
            1e4,
            -1e4,
            MAX,
            -MAX,
            INF,
            -INF,
            f32::NAN,
            1e-45,
            -1e-45,
        ];
        let mut out = vec![0.0; grid.len()];
        for level in kernels::Level::available() {
            for act in variants().into_iter().filter(|&a| kernels::has_kernel(a)) {
                kernels::forward_at(level, act, &grid, &mut out, false);
                let (mut max_ulp, mut max_abs) = (0, 0.0f64);
                for (&x, &got) in grid.iter().zip(&out) {
                    let want = reference(act, f64::from(x));
                    max_ulp = max_ulp.max(ulp_distance(got, want as f32));
                    max_abs = max_abs.max((f64::from(got) - want).abs() / want.abs().max(1.0));
                }
                eprintln!("{level:?} {act:<14} max {max_ulp} ULP, max abs error {max_abs:.2e}");
                if act == Gelu {
                    assert!(max_abs <= 1e-6, "{level:?} {act}: abs error {max_abs:e}");
                } else {
                    assert!(max_ulp <= 4, "{level:?} {act}: {max_ulp} ULP");
                }
                let mut ext = [0.0; 13];
                kernels::forward_at(level, act, &extremes, &mut ext, false);
                for (&x, &got) in extremes.iter().zip(&ext) {
                    let want = act.forward(x);
                    assert!(
                        same(got, want) || ulp_distance(got, want) <= 2,
                        "{level:?} {act}({x:e}) = {got:e}, scalar {want:e}"
                    );
                }
            }
        }
    }

    /// Each kernel, backward, at every level this machine runs: `grad_y · f'` against the
    /// scalar derivative on a grid and at the extremes (NaN stays NaN).
    #[test]
    fn every_kernel_level_matches_the_scalar_derivative() {
        let mut z: Vec<f32> = (0..=40_000).map(|i| -25.0 + 1.25e-3 * i as f32).collect();
        z.extend([0.0, -0.0, TINY, -TINY, 1e4, -1e4, MAX, -MAX, INF, -INF, f32::NAN]);
        let grad_y = uniform(z.len(), -2.0, 2.0, 11);
        let (mut y, mut grad_z) = (vec![0.0; z.len()], vec![0.0; z.len()]);
        for level in kernels::Level::available() {
            for act in variants().into_iter().filter(|&a| kernels::has_kernel(a)) {
                act.forward_batch(&z, &mut y, 1, &[]);
                kernels::backward_at(level, act, &z, &y, &grad_y, &mut grad_z, false);
                for i in 0..z.len() {
                    let want = grad_y[i] * act.derivative(z[i], y[i]);
                    assert!(
                        agrees(act, grad_z[i], want),
                        "{level:?} {act}' at {}: {} vs {want}",
                        z[i],
                        grad_z[i]
                    );
                }
            }
        }
    }

    /// Large outputs are written 16 values at a time with non-temporal stores; every value
    /// must be the one the plain loop gives, whatever the output's alignment and length.
    #[test]
    fn streaming_kernels_give_the_plain_kernels_bits() {
        let n = 4099;
        let mut z = uniform(n, -12.0, 12.0, 21);
        z[7] = f32::NAN;
        z[100] = INF;
        z[2000] = -INF;
        let grad_y = uniform(n, -2.0, 2.0, 22);
        let mut y = vec![0.0; n];
        for level in kernels::Level::available() {
            for act in variants().into_iter().filter(|&a| kernels::has_kernel(a)) {
                act.forward_batch(&z, &mut y, 1, &[]);
                // offsets 0..16 floats move the output across a 64-byte line
                for offset in [0, 1, 5, 15] {
                    let len = n - offset - 3;
                    let (z, y, gy) = (&z[..len], &y[..len], &grad_y[..len]);
                    let [mut plain, mut streamed] = [vec![0.0f32; n], vec![0.0f32; n]];
                    kernels::forward_at(level, act, z, &mut plain[offset..offset + len], false);
                    kernels::forward_at(level, act, z, &mut streamed[offset..offset + len], true);
                    let differs = |a: &[f32], b: &[f32]| a.iter().zip(b).position(|(&a, &b)| !same(a, b));
                    assert_eq!(
                        differs(&plain, &streamed),
                        None,
                        "{level:?} {act} forward, offset {offset}"
                    );
                    kernels::backward_at(level, act, z, y, gy, &mut plain[offset..offset + len], false);
                    kernels::backward_at(level, act, z, y, gy, &mut streamed[offset..offset + len], true);
                    assert_eq!(
                        differs(&plain, &streamed),
                        None,
                        "{level:?} {act} backward, offset {offset}"
                    );
                }
            }
        }
    }

    /// The monotonicity walk of `monotonic_functions_never_step_back_between_neighbouring_floats`
    /// through the kernels, at every level this machine runs.
    #[test]
    fn every_kernel_level_is_monotonic_between_neighbouring_floats() {
        let mut out = vec![0.0; 100_001];
        for level in kernels::Level::available() {
            let monotonic = variants()
                .into_iter()
                .filter(|&a| kernels::has_kernel(a) && a.properties().monotonic);
            for act in monotonic {
                for &start in &MONOTONIC_WALK_STARTS {
                    let xs = neighbours_from(start, out.len());
                    kernels::forward_at(level, act, &xs, &mut out, false);
                    if let Some(i) = (1..out.len()).find(|&i| out[i] < out[i - 1]) {
                        panic!(
                            "{level:?} {act} steps back at {:e}: {:e} → {:e}",
                            xs[i],
                            out[i - 1],
                            out[i]
                        );
                    }
                }
            }
        }
    }

    /// softplus' AVX-512 kernel reads a polynomial per interval of width 1/2 of `t = βx` on
    /// [-15.25, 0.75], switches to `t + f(-t)` at 0.75 and to the element kernel below -15.25:
    /// across each of those joins, 20 000 neighbouring floats stay within 4 ULP of the f64
    /// reference and never step back, at every level, for β = 1 and 2.
    #[test]
    fn softplus_kernels_are_accurate_and_monotonic_across_their_joins() {
        let mut out = vec![0.0; 20_000];
        for level in kernels::Level::available() {
            for beta in [1.0f32, 2.0] {
                let act = Softplus { beta, threshold: 20.0 };
                for join in (0..=32).map(|k| (-15.25 + 0.5 * k as f32) / beta).chain([15.25 / beta]) {
                    // 10 000 floats below the join (none of the joins is 0)
                    let start = f32::from_bits(if join > 0.0 {
                        join.to_bits() - 10_000
                    } else {
                        join.to_bits() + 10_000
                    });
                    let xs = neighbours_from(start, out.len());
                    kernels::forward_at(level, act, &xs, &mut out, false);
                    for (i, (&x, &got)) in xs.iter().zip(&out).enumerate() {
                        let want = reference(act, f64::from(x)) as f32;
                        assert!(
                            ulp_distance(got, want) <= 4,
                            "{level:?} {act}({x:e}) = {got:e}, want {want:e}"
                        );
                        assert!(i == 0 || got >= out[i - 1], "{level:?} {act} steps back at {x:e}");
                    }
                }
            }
        }
    }

    /// Every f32 from `-∞` to `+∞` in increasing order (NaNs left out), as blocks of
    /// consecutive values: `block(i)` for `i < EVERY_F32_BLOCKS`.
    const EVERY_F32_BLOCKS: u32 = 1 << 16;

    fn every_f32_block(i: u32) -> Vec<f32> {
        // Key k in 0..2^32 ordered like the floats: k < 2^31 are the negatives, largest first.
        (i << 16..=(i << 16) + 0xffff)
            .map(|k| {
                if k < 1 << 31 {
                    f32::from_bits(!k)
                } else {
                    f32::from_bits(k - (1 << 31))
                }
            })
            .filter(|x| !x.is_nan())
            .collect()
    }

    /// Exhaustive check of every transcendental forward kernel at every level this machine
    /// runs, over every f32: within the accuracy bound of
    /// `every_kernel_level_matches_the_f64_reference` (4 ULP, GELU 1e-6 relative to
    /// `max(1, |f|)`; at ±∞ against the scalar code's limits), NaN exactly for NaN, and, for
    /// the monotonic functions, never stepping back between neighbouring floats. About 4·10^9
    /// inputs per function (one to two minutes each on two cores, 17 minutes in all), so it is
    /// ignored by default:
    /// `cargo test --release --lib exhaustive -- --ignored --nocapture` (prints the largest
    /// error per function and level; `ACTLAB_EXHAUSTIVE=sigmoid,gelu` restricts it to those).
    #[test]
    #[ignore]
    fn exhaustive_kernels_over_every_f32() {
        use rayon::prelude::*;
        let levels = kernels::Level::available();
        let mut failures = Vec::new();
        // The piecewise-linear kernels evaluate the scalar formula (the other tests compare them
        // bit for bit); these are the ones with their own approximations.
        let transcendental = |a: Activation| matches!(a, Sigmoid | Tanh | Elu { .. } | Gelu | Silu | Softplus { .. });
        // ACTLAB_EXHAUSTIVE=sigmoid,elu:0.5 checks only those (names as printed).
        let only = std::env::var("ACTLAB_EXHAUSTIVE").ok();
        let chosen = |a: Activation| {
            only.as_ref()
                .is_none_or(|names| names.split(',').any(|n| n == a.to_string()))
        };
        for act in variants().into_iter().filter(|&a| transcendental(a) && chosen(a)) {
            let monotonic = act.properties().monotonic;
            let start = std::time::Instant::now();
            // Per block and level: max ULP, max error, first step back, first and last values.
            let per_block = |i: u32| {
                let xs = every_f32_block(i);
                if xs.is_empty() {
                    return None; // NaNs only
                }
                // ±∞: the limits, which the scalar code gives (the textbook reference says
                // `-∞ · 0 = NaN` for GELU and SiLU at -∞)
                let want: Vec<f64> = xs
                    .iter()
                    .map(|&x| {
                        if x.is_infinite() {
                            f64::from(act.forward(x))
                        } else {
                            reference(act, f64::from(x))
                        }
                    })
                    .collect();
                let mut out = vec![0.0f32; xs.len()];
                let results = levels
                    .iter()
                    .map(|&level| {
                        kernels::forward_at(level, act, &xs, &mut out, false);
                        let (mut ulp, mut rel, mut back) = (0u32, 0.0f64, None);
                        for (j, ((&x, &got), &want)) in xs.iter().zip(&out).zip(&want).enumerate() {
                            ulp = ulp.max(ulp_distance(got, want as f32));
                            let both_nan = got.is_nan() && want.is_nan();
                            if !(both_nan || f64::from(got) == want) {
                                let err = (f64::from(got) - want).abs() / want.abs().max(1.0);
                                rel = rel.max(if err.is_nan() { f64::INFINITY } else { err });
                            }
                            if monotonic && j > 0 && back.is_none() && got < out[j - 1] {
                                back = Some((x, out[j - 1], got));
                            }
                        }
                        (ulp, rel, back, xs[0], out[0], *out.last().unwrap())
                    })
                    .collect::<Vec<_>>();
                Some(results)
            };
            let blocks: Vec<_> = (0..EVERY_F32_BLOCKS).into_par_iter().filter_map(per_block).collect();
            for (l, &level) in levels.iter().enumerate() {
                let (mut ulp, mut rel, mut back) = (0u32, 0.0f64, None);
                for (b, block) in blocks.iter().enumerate() {
                    let (u, r, bk, ..) = block[l];
                    ulp = ulp.max(u);
                    rel = rel.max(r);
                    back = back.or(bk);
                    // the step from the previous block's last value to this block's first
                    if monotonic && b > 0 && back.is_none() {
                        let (.., first_x, first, _) = block[l];
                        let previous = blocks[b - 1][l].5;
                        if first < previous {
                            back = Some((first_x, previous, first));
                        }
                    }
                }
                let mut nan_out = [0.0f32];
                kernels::forward_at(level, act, &[f32::NAN], &mut nan_out, false);
                eprintln!(
                    "{level:?} {act:<14} max {ulp} ULP, max error {rel:.2e} (relative to max(1, |f|)){}",
                    back.map_or(String::new(), |(x, a, b)| format!(
                        ", steps back at {x:e}: {a:e} → {b:e}"
                    ))
                );
                let accurate = if act == Gelu { rel <= 1e-6 } else { ulp <= 4 };
                if !accurate || back.is_some() || !nan_out[0].is_nan() {
                    failures.push(format!("{level:?} {act}"));
                }
            }
            eprintln!("  ({act}: {:.0} s)", start.elapsed().as_secs_f64());
        }
        assert!(failures.is_empty(), "failed: {failures:?}");
    }

    /// SiLU's derivative `σ(x)(1 + x(1 - σ(x))) = e K/(1 + e)²` (`x < 0`, `e = e^x`,
    /// `K = 1 + x + e`) in f64, with `K` written `d + e^x₀ (e^d - 1)`, `d = x - x₀`, near the
    /// zero `x₀`, where the textbook form cancels (`x₀` in two parts, to about 1e-32); for
    /// `x ≥ 0`, with `e = e^-x`, `(1 + e(1 + x))/(1 + e)²`.
    fn silu_derivative_reference(x: f64) -> f64 {
        const X0: (f64, f64) = (-1.278_464_542_761_073_7, -1.094_699_418_309_343_7e-16);
        const E0: f64 = 0.278_464_542_761_073_8;
        let x = x.clamp(-f64::from(GATE_CLAMP), f64::from(GATE_CLAMP));
        let e = (-x.abs()).exp();
        if x >= 0.0 {
            return (1.0 + e * (1.0 + x)) / ((1.0 + e) * (1.0 + e));
        }
        let k = if (x - X0.0).abs() < 0.5 {
            let d = (x - X0.0) - X0.1;
            d + E0 * d.exp_m1()
        } else {
            1.0 + x + e
        };
        e * k / ((1.0 + e) * (1.0 + e))
    }

    /// Every f32 through SiLU's backward kernel (with `grad_y = 1`) at every level this
    /// machine runs, against [`silu_derivative_reference`]: within 4 ULP (it is the one
    /// derivative with its own approximation; the others come from the outputs or reuse the
    /// forward's pieces, and the default tests compare them on a grid). Ignored (about two
    /// minutes): `cargo test --release --lib exhaustive_silu -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn exhaustive_silu_derivative_over_every_f32() {
        use rayon::prelude::*;
        let levels = kernels::Level::available();
        let per_block = |i: u32| {
            let xs = every_f32_block(i);
            let (ones, zeros) = (vec![1.0f32; xs.len()], vec![0.0f32; xs.len()]);
            let mut out = vec![0.0f32; xs.len()];
            levels
                .iter()
                .map(|&level| {
                    kernels::backward_at(level, Silu, &xs, &zeros, &ones, &mut out, false);
                    let mut worst = (0u32, 0.0f32);
                    for (&x, &got) in xs.iter().zip(&out) {
                        let ulp = ulp_distance(got, silu_derivative_reference(f64::from(x)) as f32);
                        if ulp > worst.0 {
                            worst = (ulp, x);
                        }
                    }
                    worst
                })
                .collect::<Vec<_>>()
        };
        let blocks: Vec<_> = (0..EVERY_F32_BLOCKS).into_par_iter().map(per_block).collect();
        let mut failures = Vec::new();
        for (l, level) in levels.iter().enumerate() {
            let (ulp, x) = blocks.iter().map(|b| b[l]).max_by_key(|w| w.0).unwrap();
            eprintln!("{level:?} silu' max {ulp} ULP (at {x:e})");
            if ulp > 4 {
                failures.push(format!("{level:?}: {ulp} ULP at {x:e}"));
            }
        }
        assert!(failures.is_empty(), "silu': {failures:?}");
        for level in levels {
            let mut nan_out = [0.0f32];
            kernels::backward_at(level, Silu, &[f32::NAN], &[0.0], &[1.0], &mut nan_out, false);
            assert!(nan_out[0].is_nan(), "{level:?}: silu'(NaN) = {}", nan_out[0]);
        }
    }

    #[test]
    fn backward_batch_is_grad_y_times_derivative() {
        let z = batch_inputs();
        let grad_y = uniform(z.len(), -2.0, 2.0, 6);
        for act in variants() {
            let mut y = vec![0.0; z.len()];
            act.forward_batch(&z, &mut y, 8, &prelu_slopes(act));
            let mut grad_z = vec![0.0; z.len()];
            act.backward_batch(&z, &y, &grad_y, &mut grad_z, 8, &prelu_slopes(act));
            for i in 0..z.len() {
                let want = grad_y[i] * act.derivative(z[i], y[i]);
                assert!(
                    agrees(act, grad_z[i], want),
                    "{act} at {}: {} vs {want}",
                    z[i],
                    grad_z[i]
                );
            }
        }
    }

    #[test]
    fn prelu_batches_use_one_slope_per_column() {
        let cols = 3;
        let slopes = [0.1, 0.5, -0.3];
        let z = uniform(7 * cols, -4.0, 4.0, 7);
        let grad_y = uniform(z.len(), -1.0, 1.0, 8);
        let prelu = Prelu { init: 0.25 };
        let mut y = vec![0.0; z.len()];
        prelu.forward_batch(&z, &mut y, cols, &slopes);
        let mut grad_z = vec![0.0; z.len()];
        prelu.backward_batch(&z, &y, &grad_y, &mut grad_z, cols, &slopes);
        for i in 0..z.len() {
            let leaky = LeakyRelu {
                negative_slope: slopes[i % cols],
            };
            assert_eq!(y[i], leaky.forward(z[i]));
            assert_eq!(grad_z[i], grad_y[i] * leaky.derivative(z[i], y[i]));
        }
        assert!(z.iter().any(|&v| v < 0.0) && z.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn softmax_batches_work_row_by_row() {
        let z = [1.0, 2.0, 3.0, -INF, -INF, -INF, 1e4, 0.0, 0.0];
        let mut y = [0.0; 9];
        Softmax.forward_batch(&z, &mut y, 3, &[]);
        assert_eq!(y[..3], softmax_of(&z[..3])[..]);
        assert_eq!(y[3..6], [1.0 / 3.0; 3]);
        assert_eq!(y[6..], [1.0, 0.0, 0.0]);
        // a gradient that is constant along a row changes nothing (softmax ignores shifts)
        let mut grad_z = [1.0; 9];
        Softmax.backward_batch(&z, &y, &[0.5; 9], &mut grad_z, 3, &[]);
        assert!(grad_z.iter().all(|g| g.abs() < 1e-7), "{grad_z:?}");
    }

    #[test]
    fn empty_batches_do_nothing() {
        for act in Activation::ALL {
            act.forward_batch(&[], &mut [], 0, &[]);
            act.backward_batch(&[], &[], &[], &mut [], 4, &[]);
        }
        Activation::slope_gradient(&[], &[], &mut []);
    }

    #[test]
    #[should_panic(expected = "cannot be split into rows")]
    fn ragged_batches_panic() {
        Relu.forward_batch(&[1.0; 5], &mut [0.0; 5], 2, &[]);
    }

    #[test]
    #[should_panic(expected = "one slope per column")]
    fn prelu_without_slopes_panics() {
        Prelu { init: 0.25 }.forward_batch(&[1.0; 4], &mut [0.0; 4], 2, &[0.25]);
    }

    // ---------------------------------------------------------------- properties

    /// The largest `|f(x + δ) - f(x)|`-style jump of `f'` between neighbours 1e-3 apart.
    fn largest_derivative_jump(act: Activation) -> f32 {
        let xs: Vec<f32> = (0..=40_000).map(|i| -10.0 + 1e-3 * i as f32).collect();
        let d: Vec<f32> = xs.iter().map(|&x| act.derivative(x, act.forward(x))).collect();
        d.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
    }

    /// Checks every flag of `properties()` against the f64 reference: the range against a
    /// scan of [-50, 50] (step 1e-4) and the tails at ±1e7, monotonicity against the same scan,
    /// `max_derivative` against central differences on [-10, 10] (step 1e-4), saturation
    /// against `f'` at ±1e6 and `f` at ±5 (not exactly 0), smoothness against jumps of `f'`, and the
    /// zero-centred criterion by quadrature against the normal density.
    #[test]
    fn properties_match_a_numerical_scan() {
        for act in variants() {
            let p = act.properties();
            let f = |x: f64| reference(act, x);
            let scan: Vec<f64> = (-500_000..=500_000).map(|i| f(f64::from(i) * 1e-4)).collect();
            let tails = [f(-1e7), f(1e7)];
            let lo = scan.iter().chain(&tails).copied().fold(f64::INFINITY, f64::min);
            let hi = scan.iter().chain(&tails).copied().fold(f64::NEG_INFINITY, f64::max);
            for (end, seen, outward) in [(p.range.0, lo, -1.0), (p.range.1, hi, 1.0)] {
                if end.is_infinite() {
                    assert!(
                        f64::from(end) * outward > 0.0 && seen * outward >= 1e4,
                        "{act}: {end} vs {seen}"
                    );
                } else {
                    let end = f64::from(end);
                    assert!(
                        (seen - end).abs() <= 1e-6 * end.abs().max(1.0),
                        "{act}: {end} vs {seen}"
                    );
                }
            }

            let monotonic = scan.windows(2).all(|w| w[1] >= w[0] - 1e-12);
            assert_eq!(p.monotonic, monotonic, "{act}: monotonic");

            let slopes = (-100_000..=100_000).map(|i| reference_slope(act, f64::from(i) * 1e-4));
            let steepest = slopes.fold(f64::NEG_INFINITY, f64::max);
            let max_d = f64::from(p.max_derivative);
            if matches!(act, Gelu | GeluTanh | Silu | Mish) {
                // an interior maximum, hard-coded from 30-digit arithmetic
                assert!((steepest - max_d).abs() <= 1e-6, "{act}: {steepest} vs {max_d}");
            } else {
                // a supremum at a kink or at infinity, approached by the scan
                let within = steepest <= max_d * (1.0 + 1e-6) && steepest >= max_d * (1.0 - 1e-3);
                assert!(within, "{act}: max f' {steepest} vs {max_d}");
            }

            let saturates_towards = |side: f32| {
                let x = side * 1e6;
                let flat = act.derivative(x, act.forward(x)).abs() < 1e-6 * p.max_derivative;
                flat && f(f64::from(side) * 5.0) != 0.0
            };
            let saturating = saturates_towards(-1.0) || saturates_towards(1.0);
            assert_eq!(p.saturating, saturating, "{act}: saturating");

            let smooth = largest_derivative_jump(act) < 0.01;
            assert_eq!(p.smooth, smooth, "{act}: smooth");

            let density = |x: f64| (-0.5 * x * x).exp() / (2.0 * PI).sqrt();
            let (mut mean, mut mean_sq) = (0.0, 0.0);
            for i in -12_000..=12_000 {
                let x = f64::from(i) * 1e-3;
                mean += f(x) * density(x) * 1e-3;
                mean_sq += f(x) * f(x) * density(x) * 1e-3;
            }
            let centred = f(0.0) == 0.0 && mean.abs() <= 0.1 * mean_sq.sqrt();
            assert_eq!(p.zero_centred, centred, "{act}: mean {mean}, mean square {mean_sq}");
        }
        let softmax = Softmax.properties();
        assert_eq!((softmax.range, softmax.max_derivative), ((0.0, 1.0), 0.25));
        assert!(softmax.monotonic && softmax.saturating && softmax.smooth && !softmax.zero_centred);
    }

    #[test]
    fn properties_read_as_documented() {
        let p = |name: &str| name.parse::<Activation>().unwrap().properties();
        assert_eq!(p("sigmoid").range, (0.0, 1.0));
        assert_eq!(p("tanh").range, (-1.0, 1.0));
        assert!(p("tanh").zero_centred && !p("sigmoid").zero_centred && !p("relu").zero_centred);
        assert!(p("selu").zero_centred && !p("elu").zero_centred);
        assert!(p("sigmoid").saturating && p("elu").saturating && p("gelu").saturating);
        assert!(!p("relu").saturating && !p("leaky_relu").saturating && !p("hard_swish").saturating);
        assert!(p("relu6").saturating && p("hard_sigmoid").saturating);
        assert!(p("elu").smooth && !p("elu:0.5").smooth && !p("selu").smooth);
        assert!(p("softplus").smooth && !p("softplus:1:5").smooth && !p("softplus:1:5").monotonic);
        assert_eq!(p("leaky_relu:0.2").max_derivative, 1.0);
        assert_eq!(p("elu:2").max_derivative, 2.0);
        assert_eq!(p("selu").max_derivative, SELU_LAMBDA_ALPHA);
        assert_eq!(p("hard_swish").max_derivative, 1.5);
        assert!(!p("gelu").monotonic && !p("mish").monotonic && p("softsign").monotonic);
    }

    #[test]
    fn default_init_follows_the_function_family() {
        let glorot = ["identity", "sigmoid", "tanh", "softsign", "hard_sigmoid", "softmax"];
        let lecun = ["selu"];
        for act in Activation::ALL {
            let name = act.to_string();
            let want = if glorot.contains(&name.as_str()) {
                Init::Glorot
            } else if lecun.contains(&name.as_str()) {
                Init::Lecun
            } else {
                Init::He
            };
            assert_eq!(act.default_init(), want, "{act}");
        }
        assert_eq!(
            Activation::ALL.iter().filter(|a| a.default_init() == Init::He).count(),
            11
        );
    }

    // ---------------------------------------------------------------- names

    #[test]
    fn all_lists_every_variant_once() {
        let names: Vec<String> = Activation::ALL.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            names.join(" "),
            "identity sigmoid tanh relu leaky_relu elu selu gelu gelu:tanh silu softplus mish \
             softsign relu6 hard_sigmoid hard_swish prelu softmax"
        );
        assert!(Activation::ALL.iter().filter(|a| a.is_output_only()).eq([&Softmax]));
    }

    #[test]
    fn names_round_trip_through_display_from_str_and_serde() {
        let extra = [
            LeakyRelu { negative_slope: 0.2 },
            LeakyRelu { negative_slope: -0.3 },
            LeakyRelu { negative_slope: 1e-7 },
            Elu { alpha: 0.5 },
            Softplus {
                beta: 2.0,
                threshold: 20.0,
            },
            Softplus {
                beta: 2.0,
                threshold: 10.0,
            },
            Softplus {
                beta: 1.0,
                threshold: 10.0,
            },
            Softplus {
                beta: 0.1,
                threshold: INF,
            },
            Prelu { init: 0.1 },
            Prelu { init: 1.0 / 3.0 },
        ];
        for act in Activation::ALL.into_iter().chain(extra) {
            let text = act.to_string();
            assert_eq!(text.parse::<Activation>().unwrap(), act, "{text}");
            let json = serde_json::to_string(&act).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Activation>(&json).unwrap(), act, "{json}");
        }
        let shown = |a: Activation| a.to_string();
        assert_eq!(shown(LeakyRelu { negative_slope: 0.2 }), "leaky_relu:0.2");
        assert_eq!(shown(LeakyRelu { negative_slope: 0.01 }), "leaky_relu");
        assert_eq!(
            shown(Softplus {
                beta: 2.0,
                threshold: 20.0
            }),
            "softplus:2"
        );
        assert_eq!(
            shown(Softplus {
                beta: 2.0,
                threshold: 10.0
            }),
            "softplus:2:10"
        );
        assert_eq!(
            shown(Softplus {
                beta: 1.0,
                threshold: 10.0
            }),
            "softplus:1:10"
        );
        assert_eq!(shown(Elu { alpha: 0.5 }), "elu:0.5");
        assert_eq!(format!("{:>8}|{:<6}|", Relu, Tanh), "    relu|tanh  |");
    }

    #[test]
    fn parsing_accepts_parameters_aliases_and_spellings() {
        let parse = |s: &str| s.parse::<Activation>().unwrap();
        assert_eq!(parse("leaky_relu:0.2"), LeakyRelu { negative_slope: 0.2 });
        assert_eq!(parse("leaky_relu:-0.1"), LeakyRelu { negative_slope: -0.1 });
        assert_eq!(parse("Leaky-ReLU"), LeakyRelu { negative_slope: 0.01 });
        assert_eq!(parse("elu"), Elu { alpha: 1.0 });
        assert_eq!(parse("elu:0.5"), Elu { alpha: 0.5 });
        assert_eq!(parse("gelu"), Gelu);
        assert_eq!(parse("gelu:erf"), Gelu);
        assert_eq!(parse("GELU:Tanh"), GeluTanh);
        assert_eq!(
            parse("softplus"),
            Softplus {
                beta: 1.0,
                threshold: 20.0
            }
        );
        assert_eq!(
            parse("softplus:2"),
            Softplus {
                beta: 2.0,
                threshold: 20.0
            }
        );
        assert_eq!(
            parse("softplus:2:10"),
            Softplus {
                beta: 2.0,
                threshold: 10.0
            }
        );
        assert_eq!(parse("prelu"), Prelu { init: 0.25 });
        assert_eq!(parse("prelu:0.1"), Prelu { init: 0.1 });
        assert_eq!(parse("linear"), Identity);
        assert_eq!(parse("none"), Identity);
        assert_eq!(parse("logistic"), Sigmoid);
        assert_eq!(parse("Swish"), Silu);
        assert_eq!(parse(" hard-swish "), HardSwish);
        assert_eq!(parse("HARD_SIGMOID"), HardSigmoid);
        assert_eq!(parse("relu6"), Relu6);
    }

    fn unknown(s: &str) -> (Option<String>, String) {
        match s.parse::<Activation>() {
            Err(Error::UnknownActivation {
                name,
                suggestion,
                valid,
            }) => {
                assert_eq!(name, s.trim());
                (suggestion, valid)
            }
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn unknown_names_suggest_the_closest_one() {
        assert_eq!(unknown("relu5").0.as_deref(), Some("relu6"));
        assert_eq!(unknown("sigmoyd").0.as_deref(), Some("sigmoid"));
        assert_eq!(unknown("tahn").0.as_deref(), Some("tanh"));
        assert_eq!(unknown("leakyrelu:0.3").0.as_deref(), Some("leaky_relu"));
        assert_eq!(unknown("swich").0.as_deref(), Some("swish"));
        assert_eq!(unknown("Hard-Swich").0.as_deref(), Some("hard_swish"));
        assert_eq!(unknown("xyzzy").0, None);
        assert_eq!(unknown("").0, None);
        let valid = unknown("relu5").1;
        for act in Activation::ALL {
            assert!(valid.split(", ").any(|v| v == act.to_string()), "{act} not in {valid}");
        }
        let message = "relu5".parse::<Activation>().unwrap_err().to_string();
        assert!(
            message.starts_with("unknown activation 'relu5' (did you mean 'relu6'?); valid names: identity, sigmoid"),
            "{message}"
        );
    }

    #[test]
    fn bad_parameters_are_config_errors_naming_the_parameter() {
        let config_error = |s: &str| match s.parse::<Activation>() {
            Err(Error::Config(message)) => message,
            other => panic!("{s}: {other:?}"),
        };
        assert!(config_error("leaky_relu:abc").contains("negative_slope"));
        assert!(config_error("leaky_relu:").contains("negative_slope"));
        assert!(config_error("leaky_relu:nan").contains("negative_slope"));
        assert!(config_error("elu:inf").contains("alpha"));
        assert!(config_error("elu:-1").contains("alpha"));
        assert!(config_error("prelu:x").contains("init"));
        assert!(config_error("softplus:0").contains("beta"));
        assert!(config_error("softplus:2:-1").contains("threshold"));
        assert!(config_error("softplus:1:2:3").contains("at most 2"));
        assert!(config_error("relu:1").contains("no parameters"));
        assert!(config_error("gelu:fast").contains("tanh"));
        assert_eq!(
            "softplus:1:inf".parse::<Activation>().unwrap(),
            Softplus {
                beta: 1.0,
                threshold: INF
            }
        );
    }

    // ---------------------------------------------------------------- properties (proptest)

    /// Finite f32 values of every kind and magnitude, and ordinary ones.
    fn finite() -> impl Strategy<Value = f32> {
        use proptest::num::f32::{NORMAL, SUBNORMAL, ZERO};
        prop_oneof![-30f32..30.0, NORMAL | SUBNORMAL | ZERO]
    }

    proptest! {
        #[test]
        fn softmax_sums_to_one_and_ignores_shifts(
            z in prop::collection::vec(-20f32..20.0, 1..32),
            shift in -20f32..20.0,
        ) {
            let y = softmax_of(&z);
            let total: f64 = y.iter().map(|&v| f64::from(v)).sum();
            prop_assert!((total - 1.0).abs() <= 1e-6, "sum {}", total);
            let shifted: Vec<f32> = z.iter().map(|v| v + shift).collect();
            for (a, b) in y.iter().zip(softmax_of(&shifted)) {
                prop_assert!((a - b).abs() <= 1e-5, "{} vs {}", a, b);
            }
        }

        #[test]
        fn sigmoid_is_point_symmetric(x in prop_oneof![-100f32..100.0, finite()]) {
            let (left, right) = (f64::from(sigmoid(-x)), 1.0 - f64::from(sigmoid(x)));
            prop_assert!((left - right).abs() <= 1e-7, "σ(-x) = {}, 1 - σ(x) = {}", left, right);
        }

        #[test]
        fn monotonic_functions_are_monotonic(a in finite(), b in finite()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            for act in variants().into_iter().filter(|a| a.properties().monotonic) {
                prop_assert!(act.forward(lo) <= act.forward(hi), "{}: f({}) > f({})", act, lo, hi);
            }
        }

        #[test]
        fn finite_inputs_give_finite_outputs(x in finite()) {
            for act in variants() {
                let (y, dy) = (act.forward(x), act.derivative(x, act.forward(x)));
                let representable = reference(act, f64::from(x)).abs() <= f64::from(MAX);
                prop_assert!(y.is_finite() || !representable, "{}({}) = {}", act, x, y);
                prop_assert!(dy.is_finite(), "{}'({}) = {}", act, x, dy);
            }
        }
    }

    /// Walks 100 000 consecutive floats upwards from places where rounding in a naive f32
    /// formula steps back (sigmoid's `e/(1+e)` near -1.94, softplus near 0, softsign near
    /// 2^25) and elsewhere: functions flagged monotonic never decrease.
    const MONOTONIC_WALK_STARTS: [f32; 10] = [
        -1.944_345_1,
        -0.5,
        0.0,
        1e-8,
        0.9,
        -3.355_442_8e7,
        3.3e7,
        -21.0,
        19.5,
        87.0,
    ];

    /// `n` consecutive floats upwards from `start`.
    fn neighbours_from(start: f32, n: usize) -> Vec<f32> {
        let next = |x: f32| {
            if x == 0.0 {
                f32::from_bits(1)
            } else if x > 0.0 {
                f32::from_bits(x.to_bits() + 1)
            } else {
                f32::from_bits(x.to_bits() - 1)
            }
        };
        std::iter::successors(Some(start), |&x| Some(next(x))).take(n).collect()
    }

    #[test]
    fn monotonic_functions_never_step_back_between_neighbouring_floats() {
        for act in variants().into_iter().filter(|a| a.properties().monotonic) {
            for &start in &MONOTONIC_WALK_STARTS {
                let xs = neighbours_from(start, 100_001);
                for w in xs.windows(2) {
                    let (previous, y) = (act.forward(w[0]), act.forward(w[1]));
                    assert!(y >= previous, "{act} steps back at {:e}: {previous:e} → {y:e}", w[1]);
                }
            }
        }
    }
}
