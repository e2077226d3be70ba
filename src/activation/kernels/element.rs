//! The element functions, forward `f(x)` and backward `gy · f'(x, y)`, written once and
//! generic over whether `mul_add` is a fused instruction (`F`).
//!
//! The module is private to `kernels`: its `pub` items reach no further.

use crate::activation::scalar::{nan_or, GATE_CLAMP};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn fma32<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `Σ c_i x^i` by Horner's rule, `coeffs` highest degree first.
#[inline(always)]
fn horner32<const F: bool>(x: f32, coeffs: &[f32]) -> f32 {
    let mut acc = coeffs[0];
    for &c in &coeffs[1..] {
        acc = fma32::<F>(acc, x, c);
    }
    acc
}

const SHIFTER32: f32 = 12_582_912.0; // 1.5 · 2^23
/// `ln 2` in two parts, the first with 9 significant bits so that `n · LN2_HI32` is exact.
const LN2_HI32: f32 = 0.693_359_4;
const LN2_LO32: f32 = -2.121_944_4e-4;
/// `(e^r - 1 - r)/r²` on `|r| ≤ ln2/2`, highest degree first: a near-minimax fit (Chebyshev
/// nodes) for the relative error of `e^r = 1 + r + r² c(r)`, below 6.5e-9.
const EXP32_C: [f32; 5] = [0.0013905006, 0.00836625, 0.04166686, 0.16666545, 0.5];

/// `x = n ln2 + r`, `|r| ≤ ln2/2`: returns `(n, e^r - 1)` for `x` in [-185 ln2, 127 ln2]
/// (NaN gives NaN). `e^r - 1 = r + r² c(r)` is rounded once at the end, so that it stays
/// within about half an ULP, and it never decreases as `x` grows within one `n`.
#[inline(always)]
fn exp32_parts<const F: bool>(x: f32) -> (i32, f32) {
    let t = fma32::<F>(x, std::f32::consts::LOG2_E, SHIFTER32);
    let n = t - SHIFTER32;
    let r = fma32::<F>(n, -LN2_HI32, x);
    let r = fma32::<F>(n, -LN2_LO32, r);
    let q = fma32::<F>(r * r, horner32::<F>(r, &EXP32_C), r);
    (t.to_bits().wrapping_sub(SHIFTER32.to_bits()) as i32, q)
}

/// `2^m` for `m` in [-126, 127].
#[inline(always)]
fn pow2(m: i32) -> f32 {
    f32::from_bits((m + 127).cast_unsigned() << 23)
}

/// `e^x` in f32 for `x ≤ 0` (NaN gives NaN), 0 below -87 where it would be subnormal.
#[inline(always)]
fn exp32_non_positive<const F: bool>(x: f32) -> f32 {
    let (n, q) = exp32_parts::<F>(x.clamp(-87.0, 0.0)); // NaN stays NaN
    let e = (1.0 + q) * pow2(n);
    if x < -87.0 {
        0.0
    } else {
        e
    }
}

/// `e^x - 1` in f32 for `x ≤ 20` (NaN gives NaN): `2^n (e^r - 1) + (2^n - 1)` with one
/// rounding, exactly `e^r - 1` for `n = 0`.
#[inline(always)]
pub fn exp_m1_32<const F: bool>(x: f32) -> f32 {
    let (n, q) = exp32_parts::<F>(x.clamp(-87.0, 20.0));
    let scale = pow2(n);
    fma32::<F>(scale, q, scale - 1.0)
}

/// `σ(x)` in f32 as `(q, s1, s2)` with `σ(x) = q s1 s2`, `q` normal and `s1 s2` a power of
/// two that may be subnormal (multiply by `s1` first, then `s2`, to round once). With
/// `e^-x = 2^-m e^r`: `σ(x) = 2^m/(2^m + e^r)`, so
/// `q = 1/(2^m + e^r)`: the sum and the quotient are the only roundings after `e^r`, and
/// both are monotonic, so `σ` never steps back while `e^r` does not. Inputs are clamped to
/// [-128, 80] (NaN stays NaN), beyond which σ and `x σ(x)` are at their f32 limits.
#[inline(always)]
pub fn sigmoid_parts32<const F: bool>(x: f32) -> (f32, f32, f32) {
    let (n, q) = exp32_parts::<F>(-x.clamp(-128.0, 80.0));
    let m = -n;
    let m1 = m >> 1;
    let (s1, s2) = (pow2(m1), pow2(m - m1));
    let quotient = 1.0 / (s1 * s2 + (1.0 + q));
    (quotient, s1, s2)
}

/// `(ln(1 + g) - g)/g²` on `g ∈ [-1/4, 1/2]`, highest degree first: a near-minimax fit
/// (Chebyshev nodes) for the relative error of `ln(1 + g) = g + g² c(g)`, below 4.8e-9.
const LN1P32_C: [f32; 9] = [
    -0.044909615,
    0.10448332,
    -0.13162231,
    0.14482062,
    -0.16647767,
    0.19990607,
    -0.25000054,
    0.33333454,
    -0.5,
];

/// `ln(cosh(√t / 2)) / t` on `t ∈ [0, 1]`, highest degree first (Chebyshev-node fit,
/// relative error of `softplus` below 2e-10).
const LN_COSH_HALF_C: [f32; 5] = [1.7416645e-06, -2.6021895e-05, 0.00034710678, -0.005208319, 0.125];

/// `ln(1 + e^x)` in f32 (NaN gives NaN): `max(x, 0) + ln(1 + u)`, `u = e^-|x|` (scaled in
/// two steps so that a subnormal `u` is rounded once), `ln(1 + u) = k ln 2 + ln(1 + g)` with
/// `g = u` (`k = 0`, `u ≤ 1/2`) or `g = (u - 1)/2` (`k = 1`), both exact.
#[inline(always)]
pub fn softplus32<const F: bool>(x: f32) -> f32 {
    let (n, q) = exp32_parts::<F>(-x.abs().clamp(0.0, 120.0)); // NaN stays NaN
    let n1 = n >> 1;
    let u = (1.0 + q) * pow2(n1) * pow2(n - n1);
    // `g = (u - 1)/2 = u/2 - 1/2` (`k = 1`) or `u` (`k = 0`), one exact multiply-add: selecting
    // the constants rather than `g` keeps LLVM from evaluating the polynomial twice.
    let high = u > 0.5;
    let (scale, shift, k) = if high { (0.5, -0.5, 1.0) } else { (1.0, 0.0, 0.0) };
    let g = fma32::<F>(u, scale, shift);
    let ln_1p_g = fma32::<F>(g * g, horner32::<F>(g, &LN1P32_C), g);
    let ln_1p_u = fma32::<F>(k, std::f32::consts::LN_2, ln_1p_g);
    // On (0, 1), `x + ln(1 + e^-x)` would add a decreasing rounded term to an increasing
    // one and step back; there `ln 2 + x/2 + x² Q(x²)` (`ln cosh(x/2) = x² Q(x²)`) is
    // monotonic instead.
    let t = x * x;
    let near_zero = std::f32::consts::LN_2 + fma32::<F>(t, horner32::<F>(t, &LN_COSH_HALF_C), 0.5 * x);
    if x > 0.0 && x < 1.0 {
        near_zero
    } else {
        x.max(0.0) + ln_1p_u
    }
}

/// `erfcx(z)/2 = e^(z²) erfc(z)/2` on `z ∈ [0, 4]`, highest degree first: a weighted
/// near-minimax fit (Lawson iterations) of `erfc(z) = e^(-z²) erfcx(z)`, absolute error
/// 8.8e-9 in `erfc` (5.1e-8 evaluated in f32). Beyond `z = 4` (`|x| > 5.66`) the tail
/// `erfc(z)/2 < 8e-9` is below half an ULP of 1, and `e^(-z²)` scales the value at 4 to it.
const HALF_ERFCX_C: [f32; 13] = [
    3.7463244e-06,
    -7.257698e-05,
    0.000636603,
    -0.0033894992,
    0.012475087,
    -0.034567866,
    0.077279,
    -0.14746998,
    0.24904978,
    -0.37594584,
    0.4999822,
    -0.5641889,
    0.5,
];

/// `(Φ(x), e^(-x²/2))`: the normal distribution and its density times `√(2π)`, with
/// `Φ(-|x|) = erfc(|x|/√2)/2 = e^(-x²/2) erfcx(z)/2`, one `e^x` and no division.
///
/// Beyond `x²/2 = 50` (`|x| > 10`) the density is taken as 0, so GELU and its derivative
/// are 0 there instead of below 1e-21 (GELU's bound is 1e-6 absolute there). Those tiny
/// values, times small upstream gradients, made subnormal numbers, which slow every
/// product they enter: `actlab compare` trained GELU in 0.86 s against SiLU's 0.41 s, and
/// in 0.44 s with this cut-off (with the same results to the last printed digit).
#[inline(always)]
fn normal_cdf_and_gauss<const F: bool>(x: f32) -> (f32, f32) {
    let h = (0.5 * x) * x; // 0.5 x is exact: one rounding
    let gauss = if h > 50.0 { 0.0 } else { exp32_non_positive::<F>(-h) }; // NaN stays NaN
    let z = (x.abs() * FRAC_1_SQRT_2).min(4.0); // NaN went into `gauss`
    let tail = gauss * horner32::<F>(z, &HALF_ERFCX_C);
    (if x > 0.0 { 1.0 - tail } else { tail }, gauss)
}

#[inline(always)]
pub fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

#[inline(always)]
pub fn relu_backward(x: f32, gy: f32) -> f32 {
    gy * nan_or(x, if x > 0.0 { 1.0 } else { 0.0 })
}

#[inline(always)]
pub fn leaky(x: f32, slope: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        slope * x
    }
}

#[inline(always)]
pub fn leaky_backward(x: f32, gy: f32, slope: f32) -> f32 {
    gy * nan_or(x, if x > 0.0 { 1.0 } else { slope })
}

#[inline(always)]
pub fn sigmoid<const F: bool>(x: f32) -> f32 {
    let (q, s1, s2) = sigmoid_parts32::<F>(x);
    q * s1 * s2
}

/// `tanh |x| = -u/(2 + u)` with `u = e^(-2|x|) - 1` in (-1, 0], the sign copied from `x`:
/// as `|x|` grows `u` falls, so the numerator `-u` (exact) rises and the denominator
/// `2 + u` (one rounding) falls, and the rounded quotient never steps back. One division.
#[inline(always)]
pub fn tanh<const F: bool>(x: f32) -> f32 {
    let a = x.abs();
    let u = exp_m1_32::<F>(-2.0 * a.clamp(0.0, 10.0)); // NaN stays NaN
    (-u / (2.0 + u)).copysign(x)
}

#[inline(always)]
pub fn elu<const F: bool>(x: f32, alpha: f32) -> f32 {
    let negative = alpha * exp_m1_32::<F>(x);
    if x > 0.0 {
        x
    } else {
        negative
    }
}

/// ELU's derivative from its output: 1 for `x > 0`, else `y + α` (`= α e^x`).
#[inline(always)]
pub fn elu_slope(x: f32, y: f32, alpha: f32) -> f32 {
    let negative = y + alpha;
    if x > 0.0 {
        1.0
    } else {
        negative
    }
}

#[inline(always)]
pub fn silu<const F: bool>(x: f32) -> f32 {
    let (q, s1, s2) = sigmoid_parts32::<F>(x);
    let x = x.clamp(-GATE_CLAMP, f32::INFINITY);
    x * q * s1 * s2
}

/// The zero of SiLU's derivative, `1 + x₀ + e^x₀ = 0`, in two parts (`x - SILU_ZERO_HI` is
/// exact near it; the sum is within 1.2e-16 of `x₀`), and `e^x₀`.
const SILU_ZERO_HI: f32 = -1.278_464_6;
const SILU_ZERO_LO: f32 = 1.297_928_3e-8;
/// `e^x₀ = -1 - x₀`, in two parts the same way.
const EXP_SILU_ZERO_HI: f32 = 0.278_464_56;
const EXP_SILU_ZERO_LO: f32 = -1.297_928_3e-8;

/// `σ(x)(1 + x(1 - σ(x))) = N / (1 + e)²` in f32, in three forms of one `e^a`:
/// - `x ≥ -0.95`: `e = e^-x`, `N = 1 + e(1 + x)` (a sum of positive terms there);
/// - `x ≤ -1.6`: `e = e^x`, `N = e K`, `K = 1 + x + e` (`|K| > 0.4`);
/// - between, around the zero `x₀ ≈ -1.278` where `K` cancels: `K = d + e^x₀ (e^d - 1)`,
///   `d = x - x₀`, whose two terms share their sign, and `e = e^x₀ e^d`; `|d| < ln2/2`,
///   so `e^d - 1` is the `q` of [`exp32_parts`] itself.
///
/// Within 4 ULP of the f64 reference over every f32 (the ignored test
/// `exhaustive_silu_derivative_over_every_f32`).
#[inline(always)]
pub fn silu_derivative<const F: bool>(x: f32) -> f32 {
    let x = x.clamp(-GATE_CLAMP, GATE_CLAMP);
    let near_zero = x > -1.6 && x < -0.95;
    let far_left = x <= -1.6;
    let d = (x - SILU_ZERO_HI) - SILU_ZERO_LO;
    let a = if near_zero {
        d
    } else if far_left {
        x
    } else {
        -x
    };
    let (n, q) = exp32_parts::<F>(a); // NaN stays NaN
    let n1 = n >> 1;
    let (s1, s2) = (pow2(n1), pow2(n - n1));
    let mantissa = (1.0 + q) * s1; // e^a = mantissa · s2, which may be subnormal
    let e_a = mantissa * s2;
    let one_plus_x = 1.0 + x;
    let (e, numerator) = if near_zero {
        // e^x₀ (1 + q) and d + e^x₀ q, with e^x₀ to 2^-48 (its f32 rounding alone would
        // cost an ULP)
        let (hi, lo) = (EXP_SILU_ZERO_HI, EXP_SILU_ZERO_LO);
        let e = hi + fma32::<F>(hi, q, lo);
        (e, e * fma32::<F>(hi, q, fma32::<F>(lo, q, d)))
    } else if far_left {
        // scaled last, so that a subnormal result is rounded once
        (e_a, (mantissa * (one_plus_x + e_a)) * s2)
    } else {
        (e_a, fma32::<F>(e_a, one_plus_x, 1.0))
    };
    numerator / fma32::<F>(e, e + 2.0, 1.0)
}

#[inline(always)]
pub fn gelu<const F: bool>(x: f32) -> f32 {
    let x = x.clamp(-GATE_CLAMP, f32::INFINITY);
    x * normal_cdf_and_gauss::<F>(x).0
}

#[inline(always)]
pub fn gelu_derivative<const F: bool>(x: f32) -> f32 {
    let x = x.clamp(-GATE_CLAMP, GATE_CLAMP);
    let (cdf, gauss) = normal_cdf_and_gauss::<F>(x);
    fma32::<F>(x * FRAC_1_SQRT_2PI, gauss, cdf)
}

#[inline(always)]
pub fn softplus<const F: bool>(x: f32, beta: f32, inv_beta: f32, threshold: f32) -> f32 {
    let bx = beta * x;
    let smooth = softplus32::<F>(bx) * inv_beta;
    if bx > threshold {
        x
    } else {
        smooth
    }
}

#[inline(always)]
pub fn softplus_derivative<const F: bool>(x: f32, beta: f32, threshold: f32) -> f32 {
    let bx = beta * x;
    let smooth = sigmoid::<F>(bx);
    if bx > threshold {
        1.0
    } else {
        smooth
    }
}
