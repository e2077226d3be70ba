//! The scalar functions: each activation's forward `f(x)` written beside its derivative
//! `f'(x, y)` (`y = f(x)`), the way an autograd op keeps its forward beside its local gradient.
//!
//! `with_scalar!` is the one table of them: each arm gives one activation's forward and
//! derivative as a pair, the longer ones calling the functions below, where each forward is
//! again followed by its derivative. The scalar methods and the batch loops of the functions
//! without a kernel all expand that table, so that every loop is specialised to one function
//! (the `match` sits outside the loop), and a variant lacking either half does not compile.

use std::f64::consts::FRAC_1_SQRT_2;

use super::Activation;

/// SELU's `λ` (Klambauer et al., 2017).
pub const SELU_LAMBDA: f32 = SELU_LAMBDA_F64 as f32;
/// SELU's `α` (Klambauer et al., 2017).
pub const SELU_ALPHA: f32 = SELU_ALPHA_F64 as f32;

pub(super) const SELU_LAMBDA_F64: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;
pub(super) const SELU_ALPHA_F64: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
/// `λα`, rounded once.
pub(super) const SELU_LAMBDA_ALPHA: f32 = (SELU_LAMBDA_F64 * SELU_ALPHA_F64) as f32;

/// `1 / √(2π)`, the standard normal density at 0.
pub(super) const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// `√(2/π)`, the scale inside GELU's tanh approximation.
const GELU_TANH_SCALE: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// Beyond `±GATE_CLAMP` GELU, SiLU, Mish and their derivatives equal their limits (`0` or `x`,
/// and `0` or `1`) to f32 precision. Their gates see the input clamped to this so that `±∞`
/// give those limits rather than `∞ · 0 = NaN` (clamping keeps NaN).
pub(super) const GATE_CLAMP: f32 = 128.0;

/// Evaluates `$body` with `$pair` (a pattern such as `(f, _)`) bound to the pair
/// `(forward, derivative)` of `$act`: `forward: Fn(f32) -> f32`, `derivative: Fn(x: f32, y: f32)
/// -> f32` with `y = f(x)`. Each arm of the `match` gets its own copy of `$body`, specialised to
/// that pair. This is the one definition of every scalar function.
macro_rules! with_scalar {
    ($act:expr, $pair:pat => $body:expr) => {
        with_scalar!(@match $act, $pair => $body, {
            Activation::Identity => (|x: f32| x, |x: f32, _y: f32| nan_or(x, 1.0)),
            Activation::Sigmoid => (sigmoid, |_x: f32, y: f32| y * (1.0 - y)),
            Activation::Tanh => (f32::tanh, |_x: f32, y: f32| (1.0 - y) * (1.0 + y)),
            Activation::Relu => (relu, |x: f32, _y: f32| nan_or(x, if x > 0.0 { 1.0 } else { 0.0 })),
            Activation::LeakyRelu { negative_slope } => (
                move |x: f32| leaky(x, negative_slope),
                move |x: f32, _y: f32| leaky_derivative(x, negative_slope),
            ),
            Activation::Elu { alpha } => (
                move |x: f32| if x > 0.0 { x } else { alpha * x.exp_m1() },
                move |x: f32, y: f32| if x > 0.0 { 1.0 } else { y + alpha },
            ),
            Activation::Selu => (
                |x: f32| if x > 0.0 { SELU_LAMBDA * x } else { SELU_LAMBDA_ALPHA * x.exp_m1() },
                |x: f32, y: f32| if x > 0.0 { SELU_LAMBDA } else { y + SELU_LAMBDA_ALPHA },
            ),
            Activation::Gelu => (gelu, |x: f32, _y: f32| gelu_derivative(x)),
            Activation::GeluTanh => (gelu_tanh, |x: f32, _y: f32| gelu_tanh_derivative(x)),
            Activation::Silu => (silu, |x: f32, _y: f32| silu_derivative(x)),
            Activation::Softplus { beta, threshold } => (
                move |x: f32| {
                    if beta * x > threshold {
                        x
                    } else {
                        (softplus64(f64::from(beta * x)) / f64::from(beta)) as f32
                    }
                },
                move |x: f32, _y: f32| if beta * x > threshold { 1.0 } else { sigmoid(beta * x) },
            ),
            Activation::Mish => (mish, |x: f32, _y: f32| mish_derivative(x)),
            Activation::Softsign => (
                |x: f32| {
                    let x = clamped(x, -f32::MAX, f32::MAX); // ±∞ → ±1, not ∞/∞
                    (x / (1.0 + x.abs())) as f32
                },
                |x: f32, _y: f32| {
                    let d = 1.0 + x.abs();
                    1.0 / (d * d)
                },
            ),
            Activation::Relu6 => (
                |x: f32| x.clamp(0.0, 6.0),
                |x: f32, _y: f32| nan_or(x, if x > 0.0 && x < 6.0 { 1.0 } else { 0.0 }),
            ),
            Activation::HardSigmoid => (
                |x: f32| (x + 3.0).clamp(0.0, 6.0) / 6.0,
                |x: f32, _y: f32| nan_or(x, if x > -3.0 && x < 3.0 { 1.0 / 6.0 } else { 0.0 }),
            ),
            Activation::HardSwish => (
                |x: f32| if x <= -3.0 { 0.0 } else if x >= 3.0 { x } else { x * (x + 3.0) / 6.0 },
                |x: f32, _y: f32| if x < -3.0 { 0.0 } else if x > 3.0 { 1.0 } else { (2.0 * x + 3.0) / 6.0 },
            ),
            Activation::Prelu { init } => (move |x: f32| leaky(x, init), move |x: f32, _y: f32| leaky_derivative(x, init)),
            Activation::Softmax => (|x: f32| x, |_x: f32, y: f32| y * (1.0 - y)),
        })
    };
    (@match $act:expr, $pair:pat => $body:expr, { $($pattern:pat => $functions:expr,)* }) => {
        match $act {
            $($pattern => {
                let $pair = $functions;
                $body
            })*
        }
    };
}

/// `f(x)` of `act` (see [`Activation::forward`]).
#[inline]
pub(super) fn forward(act: Activation, x: f32) -> f32 {
    with_scalar!(act, (f, _) => f(x))
}

/// `f'(x)` of `act` from `x` and `y = f(x)` (see [`Activation::derivative`]).
#[inline]
pub(super) fn derivative(act: Activation, x: f32, y: f32) -> f32 {
    with_scalar!(act, (_, df) => df(x, y))
}

/// `out = f(z)` element by element, the loop specialised to `act`'s function.
pub(super) fn forward_each(act: Activation, z: &[f32], out: &mut [f32]) {
    with_scalar!(act, (f, _) => {
        for (o, &x) in out.iter_mut().zip(z) {
            *o = f(x);
        }
    })
}

/// `grad_z = grad_y ⊙ f'(z)` element by element (`y = f(z)`), the loop specialised to `act`'s
/// derivative.
pub(super) fn backward_each(act: Activation, z: &[f32], y: &[f32], grad_y: &[f32], grad_z: &mut [f32]) {
    with_scalar!(act, (_, df) => {
        let inputs = z.iter().zip(y).zip(grad_y);
        for (gz, ((&x, &y), &gy)) in grad_z.iter_mut().zip(inputs) {
            *gz = gy * df(x, y);
        }
    })
}

/// `v`, or NaN if `x` is NaN: for piecewise-constant derivatives, so that NaN is not hidden.
#[inline]
pub(super) fn nan_or(x: f32, v: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        v
    }
}

/// `max(x, 0)` (`-0` stays `-0`, NaN stays NaN); its derivative is the `Relu` arm above.
#[inline]
fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `x` for `x > 0`, else `slope · x`.
#[inline]
pub(super) fn leaky(x: f32, slope: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        slope * x
    }
}

/// 1 for `x > 0`, else `slope` (the kink included); NaN for NaN.
#[inline]
pub(super) fn leaky_derivative(x: f32, slope: f32) -> f32 {
    nan_or(x, if x > 0.0 { 1.0 } else { slope })
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

/// `x σ(2u)`, `u = √(2/π) (x + 0.044715 x³)`.
#[inline]
fn gelu_tanh(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (x * sigmoid64(gelu_tanh_2u(x))) as f32
}

/// `σ(2u) + 2 x u' σ(2u) (1 - σ(2u))`.
#[inline]
fn gelu_tanh_derivative(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, GATE_CLAMP);
    let s = sigmoid64(gelu_tanh_2u(x));
    let du = GELU_TANH_SCALE * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x);
    (s + 2.0 * x * du * s * (1.0 - s)) as f32
}

/// `x σ(x)`.
#[inline]
fn silu(x: f32) -> f32 {
    let x = clamped(x, -GATE_CLAMP, f32::INFINITY);
    (x * sigmoid64(x)) as f32
}

/// `σ(x) (1 + x (1 - σ(x)))`.
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

/// `x tanh(softplus(x))`.
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

#[cfg(test)]
mod tests;
