//! Vectorised batch kernels for the common activation functions, with runtime CPU-feature
//! dispatch.
//!
//! Each kernel (but softplus' forward at the AVX-512 level, below) is written once, as a
//! branch-free loop over the batch, and compiled several times: for AVX-512 and for AVX2 + FMA
//! on x86-64 (chosen at run time, so no `-C target-cpu` is needed) and for the baseline target
//! (SSE2 on x86-64, NEON on AArch64, whatever else elsewhere). LLVM vectorises each copy for
//! its instruction set.
//!
//! Outputs of 4 Mi values and more (beyond the caches) are written with non-temporal stores,
//! 16 values at a time, with the inputs prefetched 4 KiB ahead; each value comes from the same
//! expression as in the plain loop, so the results are the same bits.
//!
//! The transcendental kernels evaluate in f32, 16 lanes to an AVX-512 vector, with their own
//! branch-free `e^x`: `x = n ln2 + r` (`ln 2` in two parts, the first short enough that
//! `n · ln2_hi` and `x - n · ln2_hi` are exact), `e^r - 1 = r + r² c(r)` with a degree-4
//! near-minimax `c` (relative error 6.5e-9) and a single rounding at the end, and `2^n` put
//! into the exponent bits, in two factors where the result may be subnormal so that it is
//! rounded once. On that:
//! - sigmoid is `2^m / (2^m + e^r)` with `e^-x = 2^-m e^r` (one sum, one quotient, one scaling);
//!   SiLU multiplies `x` in before the scaling; softplus' derivative is this sigmoid;
//! - tanh is `-u / (2 + u)`, `u = e^(-2|x|) - 1`;
//! - ELU is `α (2^n (e^r - 1) + (2^n - 1))`, `e^r - 1` itself when `n = 0`;
//! - softplus is `max(x, 0) + ln(1 + u)`, `u = e^-|x|`, with `ln(1 + u) = k ln 2 + ln(1 + g)`,
//!   `g = u` or `(u - 1)/2` (both exact) and a degree-8 near-minimax polynomial for
//!   `ln(1 + g)` on [-1/4, 1/2] (relative error 4.8e-9), except on `0 < x < 1`, where that sum
//!   of a rising and a falling rounded term steps back and `ln 2 + x/2 + x² Q(x²)` (a degree-4
//!   fit of `ln cosh(x/2)`) is used instead. At the AVX-512 level, softplus' forward kernel
//!   instead reads a polynomial per interval of width 1/2 from a table held in registers
//!   (`softplus_avx512`, the one kernel written with intrinsics: LLVM does not turn a table
//!   lookup into the two-register permutation it needs), and takes the form above only
//!   below `x = -15.25`;
//! - GELU is `x Φ(x)` with `Φ(-|x|) = e^(-x²/2) erfcx(z)/2`, `z = |x|/√2`, and a degree-12
//!   weighted fit of `erfcx` (no division); its derivative `Φ(x) + x φ(x)` reuses that
//!   `e^(-x²/2)` for the density.
//!
//! Accuracy: over every f32, at every level, sigmoid, tanh, SiLU, ELU and softplus are within
//! 3 ULP of the f64 reference (the bound is 4), GELU within 1.3e-7 of it (relative to
//! `max(1, |f|)`, the bound is 1e-6). Monotonicity: sigmoid, tanh, ELU and softplus are
//! compositions of roundings (each monotonic) of `e^r` (softplus on (0, 1): one rounding of
//! a rising polynomial plus `ln 2`), and `e^r` does not decrease within one
//! `n` because its last operation is one rounding of `r + r² c(r)` whose rounding errors
//! inside are far below `r`'s own step; across the boundaries of `n`, the polynomial's error
//! (below 1e-8) is below the step of `e^x` between neighbouring floats there. That argument is
//! not a proof, so the ignored test `exhaustive_kernels_over_every_f32` runs every f32 through
//! every kernel at every level and checks both the bound and that no monotonic function
//! steps back (`cargo test --release --lib exhaustive -- --ignored --nocapture`, about 17
//! minutes on two cores). The default tests check the same on a grid and on walks of
//! neighbouring floats.
//!
//! SiLU's derivative `σ(1 + x(1 - σ))` cancels near its zero at `x₀ ≈ -1.278`; there it is
//! written around `x₀` (`1 + x + e^x = d + e^x₀ (e^d - 1)`, `d = x - x₀`, see
//! `element::silu_derivative`), which keeps it within 4 ULP in f32 over every f32 (an ignored
//! test checks it).

use super::{nan_or, Activation};

#[cfg(target_arch = "x86_64")]
mod softplus_avx512;

/// An instruction-set level the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Level {
    /// The target's baseline: SSE2 without fused multiply-add on x86-64, NEON with it on
    /// AArch64.
    Baseline,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl Level {
    /// The best level this CPU runs.
    pub(crate) fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Baseline
    }

    /// Every level this CPU runs, best last.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Level> {
        [Level::Baseline, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|&l| l == Level::Baseline || Level::detect() as u8 >= l as u8)
            .collect()
    }
}

/// Whether [`forward`] and [`backward`] have a kernel for `act`.
pub(crate) fn has_kernel(act: Activation) -> bool {
    use Activation::*;
    matches!(
        act,
        Identity | Relu | LeakyRelu { .. } | Sigmoid | Tanh | Elu { .. } | Gelu | Silu | Softplus { .. }
    )
}

/// The element functions, forward `f(x)` and backward `gy · f'(x, y)`, written once and
/// generic over whether `mul_add` is a fused instruction (`F`).
mod element {
    use super::super::{nan_or, GATE_CLAMP};

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
}

/// Writes 16 values to `dst` (16 floats, 64-byte aligned) with non-temporal stores, which
/// go to memory without first reading the line into the caches: a large output then costs
/// one memory transfer instead of two. Elsewhere than x86-64, a plain copy.
#[inline(always)]
fn stream16(dst: &mut [f32], values: &[f32; 16]) {
    debug_assert!(dst.len() == 16 && dst.as_ptr().align_offset(64) == 0);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64; `dst` holds 16 floats from a 16-byte boundary, so each
    // store writes 4 floats inside it at the alignment `_mm_stream_ps` requires.
    unsafe {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_stream_ps};
        for k in 0..4 {
            _mm_stream_ps(dst.as_mut_ptr().add(4 * k), _mm_loadu_ps(values.as_ptr().add(4 * k)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(values);
}

/// Asks for the line at `p` to be brought into the caches.
/// (x86-64 only: outputs are streamed only there, see [`STREAM_FROM`].)
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch(p.cast::<i8>(), _MM_HINT_T0)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// How far ahead (in values: 4 KiB) the streaming loops prefetch their inputs. With the
/// hardware prefetcher alone the compute-bound kernels left memory idle: on 16 Mi values
/// GELU forward went from 17-22 to 27 GB/s, tanh from 21-25 to 31-36 (two cores).
const PREFETCH_AHEAD: usize = 1024;

/// Orders the non-temporal stores before any later store (so before the thread signals that
/// its share is done).
#[inline(always)]
fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    }
}

/// Applies `$body` (an expression in `x`, or in `x`, `y`, `gy`) over the batch: one plain
/// loop, or, when `$stream`, the same body 16 values at a time into a block that
/// [`stream16`] writes out (the output's unaligned head and its tail take the plain loop).
/// Each value is computed by the same expression either way, so both give the same bits.
macro_rules! map1 {
    ($stream:expr, $z:expr, $out:expr, |$x:ident| $body:expr) => {{
        let (z, out): (&[f32], &mut [f32]) = ($z, $out);
        let head = if $stream {
            out.as_ptr().align_offset(64).min(out.len())
        } else {
            out.len()
        };
        let ((z_head, z_rest), (out_head, out_rest)) = (z.split_at(head), out.split_at_mut(head));
        for (o, &$x) in out_head.iter_mut().zip(z_head) {
            *o = $body;
        }
        let (mut zs, mut outs) = (z_rest.chunks_exact(16), out_rest.chunks_exact_mut(16));
        for (z16, out16) in (&mut zs).zip(&mut outs) {
            prefetch(z16.as_ptr().wrapping_add(PREFETCH_AHEAD));
            let mut block = [0.0f32; 16];
            for (o, &$x) in block.iter_mut().zip(z16) {
                *o = $body;
            }
            stream16(out16, &block);
        }
        for (o, &$x) in outs.into_remainder().iter_mut().zip(zs.remainder()) {
            *o = $body;
        }
        if $stream {
            stream_fence();
        }
    }};
}

/// The backward form of [`map1`]; `($reads_z, $reads_y)` say which of `z` and `y` the body
/// reads, so that only those (and `gy`) are prefetched.
macro_rules! map3 {
    ($stream:expr, ($reads_z:expr, $reads_y:expr), $z:expr, $y:expr, $gy:expr, $gz:expr,
     |$x:ident, $yv:ident, $g:ident| $body:expr) => {{
        let (z, y, gy, gz): (&[f32], &[f32], &[f32], &mut [f32]) = ($z, $y, $gy, $gz);
        let head = if $stream {
            gz.as_ptr().align_offset(64).min(gz.len())
        } else {
            gz.len()
        };
        let (z, y, gy) = (z.split_at(head), y.split_at(head), gy.split_at(head));
        let (gz_head, gz_rest) = gz.split_at_mut(head);
        for (o, ((&$x, &$yv), &$g)) in gz_head.iter_mut().zip(z.0.iter().zip(y.0).zip(gy.0)) {
            *o = $body;
        }
        let (mut zs, mut ys, mut gys) = (z.1.chunks_exact(16), y.1.chunks_exact(16), gy.1.chunks_exact(16));
        let mut outs = gz_rest.chunks_exact_mut(16);
        for (out16, ((z16, y16), gy16)) in (&mut outs).zip((&mut zs).zip(&mut ys).zip(&mut gys)) {
            if $reads_z {
                prefetch(z16.as_ptr().wrapping_add(PREFETCH_AHEAD));
            }
            if $reads_y {
                prefetch(y16.as_ptr().wrapping_add(PREFETCH_AHEAD));
            }
            prefetch(gy16.as_ptr().wrapping_add(PREFETCH_AHEAD));
            let mut block = [0.0f32; 16];
            for (o, ((&$x, &$yv), &$g)) in block.iter_mut().zip(z16.iter().zip(y16).zip(gy16)) {
                *o = $body;
            }
            stream16(out16, &block);
        }
        let rest = zs.remainder().iter().zip(ys.remainder()).zip(gys.remainder());
        for (o, ((&$x, &$yv), &$g)) in outs.into_remainder().iter_mut().zip(rest) {
            *o = $body;
        }
        if $stream {
            stream_fence();
        }
    }};
}

/// The forward kernel of `act` over a batch, generic over fused multiply-add.
#[inline(always)]
fn forward_generic<const F: bool>(act: Activation, z: &[f32], out: &mut [f32], stream: bool) {
    use element as e;
    match act {
        Activation::Identity => map1!(stream, z, out, |x| x),
        Activation::Relu => map1!(stream, z, out, |x| e::relu(x)),
        Activation::LeakyRelu { negative_slope: s } => map1!(stream, z, out, |x| e::leaky(x, s)),
        Activation::Sigmoid => map1!(stream, z, out, |x| e::sigmoid::<F>(x)),
        Activation::Tanh => map1!(stream, z, out, |x| e::tanh::<F>(x)),
        Activation::Elu { alpha } => map1!(stream, z, out, |x| e::elu::<F>(x, alpha)),
        Activation::Gelu => map1!(stream, z, out, |x| e::gelu::<F>(x)),
        Activation::Silu => map1!(stream, z, out, |x| e::silu::<F>(x)),
        Activation::Softplus { beta, threshold } => {
            let inv_beta = 1.0 / beta;
            map1!(stream, z, out, |x| e::softplus::<F>(x, beta, inv_beta, threshold))
        }
        _ => unreachable!("no kernel for {act}"),
    }
}

/// The backward kernel of `act`: `gz = gy · f'(z, y)`.
#[inline(always)]
fn backward_generic<const F: bool>(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32], stream: bool) {
    use element as e;
    match act {
        Activation::Identity => map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| g * nan_or(x, 1.0)),
        Activation::Relu => map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| e::relu_backward(x, g)),
        Activation::LeakyRelu { negative_slope: s } => {
            map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| e::leaky_backward(
                x, g, s
            ))
        }
        Activation::Sigmoid => map3!(stream, (false, true), z, y, gy, gz, |_x, y, g| g * (y * (1.0 - y))),
        Activation::Tanh => map3!(stream, (false, true), z, y, gy, gz, |_x, y, g| g
            * ((1.0 - y) * (1.0 + y))),
        Activation::Elu { alpha } => map3!(stream, (true, true), z, y, gy, gz, |x, y, g| g * e::elu_slope(
            x, y, alpha
        )),
        Activation::Gelu => map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| g
            * e::gelu_derivative::<F>(x)),
        Activation::Silu => map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| g
            * e::silu_derivative::<F>(x)),
        Activation::Softplus { beta, threshold } => {
            map3!(stream, (true, false), z, y, gy, gz, |x, _y, g| g
                * e::softplus_derivative::<F>(x, beta, threshold))
        }
        _ => unreachable!("no kernel for {act}"),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn forward_avx512(act: Activation, z: &[f32], out: &mut [f32], stream: bool) {
    match act {
        Activation::Softplus { beta, threshold } => softplus_avx512::forward(z, out, beta, threshold, stream),
        _ => forward_generic::<true>(act, z, out, stream),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_avx2(act: Activation, z: &[f32], out: &mut [f32], stream: bool) {
    forward_generic::<true>(act, z, out, stream)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn backward_avx512(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32], stream: bool) {
    backward_generic::<true>(act, z, y, gy, gz, stream)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn backward_avx2(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32], stream: bool) {
    backward_generic::<true>(act, z, y, gy, gz, stream)
}

/// AArch64 always has NEON and fused multiply-add.
const BASELINE_FMA: bool = cfg!(target_arch = "aarch64");

/// Elements per task when a large batch is split across threads: the split depends only on
/// the length, so results do not depend on the number of threads.
const CHUNK: usize = 1 << 15;
/// Batches at least this long are split across the rayon pool.
const PARALLEL_FROM: usize = 1 << 18;
/// Outputs at least this long (16 MiB, four times the L2 of this machine's two cores and
/// beyond most L3 shares) are written with non-temporal stores (x86-64 only): they would leave
/// the caches anyway, and writing without reading first lifted a ReLU loop over 16 Mi values
/// from 19-28 to 49-61 GB/s on two cores (W3's ReLU forward: 18-21 to 45-53). Smaller outputs
/// stay in the caches for the next layer.
const STREAM_FROM: usize = 1 << 22;

/// Whether an output of `len` values is written with non-temporal stores.
fn streams(len: usize) -> bool {
    cfg!(target_arch = "x86_64") && len >= STREAM_FROM
}

/// `out = f(z)` at `level`, with non-temporal stores if `stream`.
///
/// # Safety contract
/// `level` must be one this CPU runs ([`Level::detect`] or below).
pub(crate) fn forward_at(level: Level, act: Activation, z: &[f32], out: &mut [f32], stream: bool) {
    debug_assert_eq!(z.len(), out.len());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller passes a level the CPU supports.
        Level::Avx512 => unsafe { forward_avx512(act, z, out, stream) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { forward_avx2(act, z, out, stream) },
        _ => forward_generic::<BASELINE_FMA>(act, z, out, stream),
    }
}

/// `gz = gy · f'(z, y)` at `level` (a level the CPU runs), with non-temporal stores if
/// `stream`.
pub(crate) fn backward_at(
    level: Level,
    act: Activation,
    z: &[f32],
    y: &[f32],
    gy: &[f32],
    gz: &mut [f32],
    stream: bool,
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller passes a level the CPU supports.
        Level::Avx512 => unsafe { backward_avx512(act, z, y, gy, gz, stream) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { backward_avx2(act, z, y, gy, gz, stream) },
        _ => backward_generic::<BASELINE_FMA>(act, z, y, gy, gz, stream),
    }
}

/// The best level this CPU runs, detected once.
pub(crate) fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(Level::detect)
}

/// `out = f(z)` with the best kernel, large batches split across the rayon pool.
pub(crate) fn forward(act: Activation, z: &[f32], out: &mut [f32]) {
    let (level, stream) = (level(), streams(out.len()));
    if z.len() >= PARALLEL_FROM && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        z.par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(|(z, out)| forward_at(level, act, z, out, stream));
    } else {
        forward_at(level, act, z, out, stream);
    }
}

/// `gz = gy · f'(z, y)` with the best kernel, large batches split across the rayon pool.
pub(crate) fn backward(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    let (level, stream) = (level(), streams(gz.len()));
    if z.len() >= PARALLEL_FROM && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        (z.par_chunks(CHUNK), y.par_chunks(CHUNK), gy.par_chunks(CHUNK))
            .into_par_iter()
            .zip(gz.par_chunks_mut(CHUNK))
            .for_each(|((z, y, gy), gz)| backward_at(level, act, z, y, gy, gz, stream));
    } else {
        backward_at(level, act, z, y, gy, gz, stream);
    }
}
