//! Vectorised batch kernels for the common activation functions, with runtime CPU-feature
//! dispatch.
//!
//! Each kernel is written once, as a branch-free loop over the batch, and compiled several
//! times: for AVX-512 and for AVX2 + FMA on x86-64 (chosen at run time, so no
//! `-C target-cpu` is needed) and for the baseline target (SSE2 on x86-64, NEON on AArch64,
//! whatever else elsewhere). LLVM vectorises each copy for its instruction set.
//!
//! The transcendental functions follow the scalar definitions in the parent module: they widen
//! the input to f64, evaluate there and round once. The scalar code calls libm; the kernels use
//! their own branch-free f64 `exp`, `expm1`, `log1p` (relative error below 1e-15) and a
//! Chebyshev `erfc` (relative error below 1.2e-7, used by GELU only, whose bound is 1e-6). So
//! sigmoid, tanh, SiLU, ELU and softplus meet the same 4 ULP bound as the scalar code and stay
//! monotonic in f32: an f64 result within 1e-15 of a monotonic function can only step back by
//! less than the gap between neighbouring f32 inputs' values. The tests check every level
//! the machine can run against the f64 reference.

use super::{nan_or, Activation};

/// An instruction-set level the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// The target's baseline (SSE2 on x86-64, NEON on AArch64), without fused multiply-add.
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

    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    /// `1.5 · 2^52`: adding it rounds to an integer, kept in the low bits.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

    #[inline(always)]
    pub fn fma<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
        if F {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }

    /// `Σ c_i x^i` by Horner's rule, `coeffs` highest degree first.
    #[inline(always)]
    fn horner<const F: bool>(x: f64, coeffs: &[f64]) -> f64 {
        let mut acc = coeffs[0];
        for &c in &coeffs[1..] {
            acc = fma::<F>(acc, x, c);
        }
        acc
    }

    /// `1/12!, 1/11!, …, 1/2!, 1, 1`: Taylor series of `e^r` for `|r| ≤ ln2/2` (truncation
    /// error below 2e-16).
    const EXP_TAYLOR: [f64; 13] = [
        2.087_675_698_786_81e-9,
        2.505_210_838_544_172e-8,
        2.755_731_922_398_589e-7,
        2.755_731_922_398_589e-6,
        2.480_158_730_158_73e-5,
        1.984_126_984_126_984e-4,
        1.388_888_888_888_889e-3,
        8.333_333_333_333_333e-3,
        4.166_666_666_666_666_4e-2,
        1.666_666_666_666_666_6e-1,
        0.5,
        1.0,
        1.0,
    ];

    /// `e^x` for any `x` (clamped to [-708, 709], so the result stays a normal number;
    /// callers only need it below the f32 range's limits). NaN gives NaN.
    #[inline(always)]
    pub fn exp<const F: bool>(x: f64) -> f64 {
        let x = x.clamp(-708.0, 709.0);
        let t = fma::<F>(x, LOG2_E, SHIFTER);
        let n = t - SHIFTER;
        let r = fma::<F>(n, -LN2_HI, x);
        let r = fma::<F>(n, -LN2_LO, r);
        let scale = f64::from_bits(t.to_bits().wrapping_add(1023) << 52);
        horner::<F>(r, &EXP_TAYLOR) * scale
    }

    /// `e^x - 1`, accurate near 0 (Taylor series up to degree 14 for `|x| < 1/2`).
    #[inline(always)]
    pub fn exp_m1<const F: bool>(x: f64) -> f64 {
        // 1/14!, …, 1/2!, 1, 0
        const C: [f64; 15] = [
            1.147_074_559_772_972_5e-11,
            1.605_904_383_682_161_3e-10,
            2.087_675_698_786_81e-9,
            2.505_210_838_544_172e-8,
            2.755_731_922_398_589e-7,
            2.755_731_922_398_589e-6,
            2.480_158_730_158_73e-5,
            1.984_126_984_126_984e-4,
            1.388_888_888_888_889e-3,
            8.333_333_333_333_333e-3,
            4.166_666_666_666_666_4e-2,
            1.666_666_666_666_666_6e-1,
            0.5,
            1.0,
            0.0,
        ];
        let small = horner::<F>(x.clamp(-0.5, 0.5), &C);
        let large = exp::<F>(x) - 1.0;
        if x.abs() < 0.5 {
            small
        } else {
            large
        }
    }

    /// `ln(1 + u)` for `u ∈ [0, 1]` (NaN gives NaN): `w = 1 + u` scaled into [√½, √2] by a
    /// power of two, `ln w = k ln 2 + 2 atanh(s)`, `s = (f - 1)/(f + 1)`, plus the rounding
    /// error of `1 + u` as a first-order correction.
    #[inline(always)]
    pub fn ln_1p_unit<const F: bool>(u: f64) -> f64 {
        // 2/21, 2/19, …, 2/3, 2: 2 atanh(s) = Σ 2 s^(2i+1)/(2i+1), |s| ≤ 0.172
        const C: [f64; 11] = [
            2.0 / 21.0,
            2.0 / 19.0,
            2.0 / 17.0,
            2.0 / 15.0,
            2.0 / 13.0,
            2.0 / 11.0,
            2.0 / 9.0,
            2.0 / 7.0,
            2.0 / 5.0,
            2.0 / 3.0,
            2.0,
        ];
        let w = 1.0 + u;
        let correction = (u - (w - 1.0)) / w;
        let high = w > std::f64::consts::SQRT_2;
        let f = if high { 0.5 * w } else { w };
        let k = if high { 1.0 } else { 0.0 };
        let s = (f - 1.0) / (f + 1.0);
        let atanh2 = s * horner::<F>(s * s, &C);
        fma::<F>(k, std::f64::consts::LN_2, atanh2) + correction
    }

    /// `σ(x)` by sign, as `sigmoid64` in the parent module.
    #[inline(always)]
    pub fn sigmoid64<const F: bool>(x: f64) -> f64 {
        let e = exp::<F>(-x.abs());
        let numerator = if x >= 0.0 { 1.0 } else { e };
        numerator / (1.0 + e)
    }

    /// `ln(1 + e^x) = max(x, 0) + ln_1p(e^-|x|)`.
    #[inline(always)]
    pub fn softplus64<const F: bool>(x: f64) -> f64 {
        x.max(0.0) + ln_1p_unit::<F>(exp::<F>(-x.abs()))
    }

    /// Numerical Recipes' Chebyshev fit: `erfc(z) ≈ t e^(-z² + P(t))`, `t = 1/(1 + z/2)`.
    const ERFC_COEFFS: [f64; 10] = [
        0.170_872_77,
        -0.822_152_23,
        1.488_515_87,
        -1.135_203_98,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_68,
        -1.265_512_23,
    ];

    /// `erfc(z)` for `z ≥ 0` (Chebyshev fit of Numerical Recipes, relative error below 1.2e-7).
    #[inline(always)]
    fn erfc_positive<const F: bool>(z: f64) -> f64 {
        let t = 1.0 / fma::<F>(0.5, z, 1.0);
        let p = horner::<F>(t, &ERFC_COEFFS);
        t * exp::<F>(fma::<F>(-z, z, p))
    }

    /// `Φ(x) = erfc(-x/√2) / 2`.
    #[inline(always)]
    fn normal_cdf<const F: bool>(x: f64) -> f64 {
        let z = x * FRAC_1_SQRT_2;
        let tail = 0.5 * erfc_positive::<F>(z.abs());
        if z > 0.0 {
            1.0 - tail
        } else {
            tail
        }
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
        sigmoid64::<F>(f64::from(x)) as f32
    }

    #[inline(always)]
    pub fn tanh<const F: bool>(x: f32) -> f32 {
        let a = f64::from(x).abs();
        let t = exp_m1::<F>(2.0 * a);
        ((t / (t + 2.0)) as f32).copysign(x)
    }

    #[inline(always)]
    pub fn elu<const F: bool>(x: f32, alpha: f32) -> f32 {
        let x_neg = if x > 0.0 { 0.0 } else { x }; // NaN stays NaN
        let negative = alpha * exp_m1::<F>(f64::from(x_neg)) as f32;
        if x > 0.0 {
            x
        } else {
            negative
        }
    }

    #[inline(always)]
    pub fn silu<const F: bool>(x: f32) -> f32 {
        let x = f64::from(x.clamp(-GATE_CLAMP, f32::INFINITY));
        (x * sigmoid64::<F>(x)) as f32
    }

    #[inline(always)]
    pub fn silu_derivative<const F: bool>(x: f32) -> f32 {
        let x = f64::from(x.clamp(-GATE_CLAMP, GATE_CLAMP));
        let s = sigmoid64::<F>(x);
        (s * fma::<F>(x, 1.0 - s, 1.0)) as f32
    }

    #[inline(always)]
    pub fn gelu<const F: bool>(x: f32) -> f32 {
        let x = f64::from(x.clamp(-GATE_CLAMP, f32::INFINITY));
        (x * normal_cdf::<F>(x)) as f32
    }

    #[inline(always)]
    pub fn gelu_derivative<const F: bool>(x: f32) -> f32 {
        let x = f64::from(x.clamp(-GATE_CLAMP, GATE_CLAMP));
        let density = exp::<F>(-0.5 * x * x) * FRAC_1_SQRT_2PI;
        fma::<F>(x, density, normal_cdf::<F>(x)) as f32
    }

    #[inline(always)]
    pub fn softplus<const F: bool>(x: f32, beta: f32, threshold: f32) -> f32 {
        let bx = beta * x;
        let smooth = (softplus64::<F>(f64::from(bx)) / f64::from(beta)) as f32;
        if bx > threshold {
            x
        } else {
            smooth
        }
    }

    #[inline(always)]
    pub fn softplus_derivative<const F: bool>(x: f32, beta: f32, threshold: f32) -> f32 {
        let bx = beta * x;
        let smooth = sigmoid64::<F>(f64::from(bx)) as f32;
        if bx > threshold {
            1.0
        } else {
            smooth
        }
    }
}

/// Applies `$body` (an expression in `x`, or in `x`, `y`, `gy`) over the batch.
macro_rules! map1 {
    ($z:expr, $out:expr, |$x:ident| $body:expr) => {
        for (o, &$x) in $out.iter_mut().zip($z) {
            *o = $body;
        }
    };
}

macro_rules! map3 {
    ($z:expr, $y:expr, $gy:expr, $gz:expr, |$x:ident, $yv:ident, $g:ident| $body:expr) => {
        for (gz, ((&$x, &$yv), &$g)) in $gz.iter_mut().zip($z.iter().zip($y).zip($gy)) {
            *gz = $body;
        }
    };
}

/// The forward kernel of `act` over a batch, generic over fused multiply-add.
#[inline(always)]
fn forward_generic<const F: bool>(act: Activation, z: &[f32], out: &mut [f32]) {
    use element as e;
    match act {
        Activation::Identity => out.copy_from_slice(z),
        Activation::Relu => map1!(z, out, |x| e::relu(x)),
        Activation::LeakyRelu { negative_slope: s } => map1!(z, out, |x| e::leaky(x, s)),
        Activation::Sigmoid => map1!(z, out, |x| e::sigmoid::<F>(x)),
        Activation::Tanh => map1!(z, out, |x| e::tanh::<F>(x)),
        Activation::Elu { alpha } => map1!(z, out, |x| e::elu::<F>(x, alpha)),
        Activation::Gelu => map1!(z, out, |x| e::gelu::<F>(x)),
        Activation::Silu => map1!(z, out, |x| e::silu::<F>(x)),
        Activation::Softplus { beta, threshold } => map1!(z, out, |x| e::softplus::<F>(x, beta, threshold)),
        _ => unreachable!("no kernel for {act}"),
    }
}

/// The backward kernel of `act`: `gz = gy · f'(z, y)`.
#[inline(always)]
fn backward_generic<const F: bool>(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    use element as e;
    match act {
        Activation::Identity => map3!(z, y, gy, gz, |x, _y, g| g * nan_or(x, 1.0)),
        Activation::Relu => map3!(z, y, gy, gz, |x, _y, g| e::relu_backward(x, g)),
        Activation::LeakyRelu { negative_slope: s } => map3!(z, y, gy, gz, |x, _y, g| e::leaky_backward(x, g, s)),
        Activation::Sigmoid => map3!(z, y, gy, gz, |_x, y, g| g * (y * (1.0 - y))),
        Activation::Tanh => map3!(z, y, gy, gz, |_x, y, g| g * ((1.0 - y) * (1.0 + y))),
        Activation::Elu { alpha } => map3!(z, y, gy, gz, |x, y, g| g * if x > 0.0 { 1.0 } else { y + alpha }),
        Activation::Gelu => map3!(z, y, gy, gz, |x, _y, g| g * e::gelu_derivative::<F>(x)),
        Activation::Silu => map3!(z, y, gy, gz, |x, _y, g| g * e::silu_derivative::<F>(x)),
        Activation::Softplus { beta, threshold } => {
            map3!(z, y, gy, gz, |x, _y, g| g * e::softplus_derivative::<F>(
                x, beta, threshold
            ))
        }
        _ => unreachable!("no kernel for {act}"),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn forward_avx512(act: Activation, z: &[f32], out: &mut [f32]) {
    forward_generic::<true>(act, z, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_avx2(act: Activation, z: &[f32], out: &mut [f32]) {
    forward_generic::<true>(act, z, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn backward_avx512(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    backward_generic::<true>(act, z, y, gy, gz)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn backward_avx2(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    backward_generic::<true>(act, z, y, gy, gz)
}

/// AArch64 always has NEON and fused multiply-add.
const BASELINE_FMA: bool = cfg!(target_arch = "aarch64");

/// Elements per task when a large batch is split across threads: the split depends only on
/// the length, so results do not depend on the number of threads.
const CHUNK: usize = 1 << 15;
/// Batches at least this long are split across the rayon pool.
const PARALLEL_FROM: usize = 1 << 18;

/// `out = f(z)` at `level`.
///
/// # Safety contract
/// `level` must be one this CPU runs ([`Level::detect`] or below).
pub(crate) fn forward_at(level: Level, act: Activation, z: &[f32], out: &mut [f32]) {
    debug_assert_eq!(z.len(), out.len());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller passes a level the CPU supports.
        Level::Avx512 => unsafe { forward_avx512(act, z, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { forward_avx2(act, z, out) },
        _ => forward_generic::<BASELINE_FMA>(act, z, out),
    }
}

/// `gz = gy · f'(z, y)` at `level` (a level the CPU runs).
pub(crate) fn backward_at(level: Level, act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller passes a level the CPU supports.
        Level::Avx512 => unsafe { backward_avx512(act, z, y, gy, gz) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Level::Avx2 => unsafe { backward_avx2(act, z, y, gy, gz) },
        _ => backward_generic::<BASELINE_FMA>(act, z, y, gy, gz),
    }
}

fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(Level::detect)
}

/// `out = f(z)` with the best kernel, large batches split across the rayon pool.
pub(crate) fn forward(act: Activation, z: &[f32], out: &mut [f32]) {
    let level = level();
    if z.len() >= PARALLEL_FROM && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        z.par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(|(z, out)| forward_at(level, act, z, out));
    } else {
        forward_at(level, act, z, out);
    }
}

/// `gz = gy · f'(z, y)` with the best kernel, large batches split across the rayon pool.
pub(crate) fn backward(act: Activation, z: &[f32], y: &[f32], gy: &[f32], gz: &mut [f32]) {
    let level = level();
    if z.len() >= PARALLEL_FROM && rayon::current_num_threads() > 1 {
        use rayon::prelude::*;
        (z.par_chunks(CHUNK), y.par_chunks(CHUNK), gy.par_chunks(CHUNK))
            .into_par_iter()
            .zip(gz.par_chunks_mut(CHUNK))
            .for_each(|((z, y, gy), gz)| backward_at(level, act, z, y, gy, gz));
    } else {
        backward_at(level, act, z, y, gy, gz);
    }
}
