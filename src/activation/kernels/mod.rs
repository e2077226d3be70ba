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
//!   (`softplus_avx512`, the one activation kernel written with intrinsics: LLVM does not turn a table
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

use super::scalar::nan_or;
use super::Activation;
#[cfg(target_arch = "x86_64")]
use crate::cpu::Isa;
use crate::cpu::{level, Level};

mod element;
#[cfg(target_arch = "x86_64")]
mod softplus_avx512;
#[cfg(test)]
mod tests;

/// Whether [`forward`] and [`backward`] have a kernel for `act`.
pub(crate) fn has_kernel(act: Activation) -> bool {
    use Activation::*;
    matches!(
        act,
        Identity | Relu | LeakyRelu { .. } | Sigmoid | Tanh | Elu { .. } | Gelu | Silu | Softplus { .. }
    )
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

/// `out = f(z)` at `level`, with non-temporal stores if `stream`. Safe: a [`Level`] is made
/// only by detecting that this CPU runs it (see [`crate::cpu`]).
pub(crate) fn forward_at(level: Level, act: Activation, z: &[f32], out: &mut [f32], stream: bool) {
    debug_assert_eq!(z.len(), out.len());
    match level.isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Level` is made only by detection: this CPU runs AVX-512F, AVX2 and FMA.
        Isa::Avx512 => unsafe { forward_avx512(act, z, out, stream) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 and FMA.
        Isa::Avx2 => unsafe { forward_avx2(act, z, out, stream) },
        _ => forward_generic::<BASELINE_FMA>(act, z, out, stream),
    }
}

/// `gz = gy · f'(z, y)` at `level`, with non-temporal stores if `stream`. Safe, as
/// [`forward_at`].
pub(crate) fn backward_at(
    level: Level,
    act: Activation,
    z: &[f32],
    y: &[f32],
    gy: &[f32],
    gz: &mut [f32],
    stream: bool,
) {
    match level.isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Level` is made only by detection: this CPU runs AVX-512F, AVX2 and FMA.
        Isa::Avx512 => unsafe { backward_avx512(act, z, y, gy, gz, stream) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, with AVX2 and FMA.
        Isa::Avx2 => unsafe { backward_avx2(act, z, y, gy, gz, stream) },
        _ => backward_generic::<BASELINE_FMA>(act, z, y, gy, gz, stream),
    }
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
