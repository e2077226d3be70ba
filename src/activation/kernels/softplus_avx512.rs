//! softplus' forward kernel at the AVX-512 level: a piecewise polynomial read from a table
//! held in registers.
//!
//! `f(t) = ln(1 + e^t)` on [-15.25, 0.75] is split into 32 intervals of width 1/2 centred on
//! `t₀ = -15, -14.5, …, 0.5`; on each, `f(t₀ + d)` (`|d| ≤ 1/4`) is a degree-6 polynomial in
//! `d`, fitted for relative error by `tools/fit_softplus_table.py`. Each coefficient's 32
//! values fill two vectors, and one `vpermt2ps` picks a coefficient for all 16 lanes from the
//! interval index, so a value costs a handful of instructions instead of an `e^x` and a
//! logarithm (the baseline and AVX2 kernels, which have no such permutation, keep those).
//!
//! With `t = βx`, softplus is `f(t)` for `t < 3/4` and `t + f(-t)` from there on (`t + f(-t)`
//! rises by more than one step of `t` per step there, so it never steps back, while on
//! (0, 3/4) the falling rounded `f(-t)` could outweigh the rise of `t`). From `t ≥ 15.25`,
//! `f(-t) < 2.4e-7` is below half an ULP of `t` and the interval at -15 gives `t` exactly.
//! Below `t = -15.25` a vector takes the element kernel (`e^t` with subnormal care) for those
//! lanes; a lane's value depends only on its own input, whichever way its vector goes.

use std::arch::x86_64::*;

/// Coefficient `k` of the polynomial on interval `j` (centred on `-15 + j/2`), lowest degree
/// first; largest relative error of the fits with f32 coefficients: 4.82e-08.
#[rustfmt::skip]
#[allow(clippy::approx_constant)] // f(0) = ln 2, as fitted
const TABLE: [[f32; 32]; 7] = [
    [
        3.0590226e-07, 5.0434755e-07, 8.315284e-07, 1.3709581e-06, 2.260327e-06, 3.7266461e-06, 6.1441933e-06, 1.0130042e-05,
        1.670156e-05, 2.753607e-05, 4.5398898e-05, 7.484903e-05, 0.00012340219, 0.00020344768, 0.00033540637, 0.00055293145,
        0.0009114664, 0.0015023102, 0.0024756852, 0.004078443, 0.0067153485, 0.011047745, 0.018149927, 0.029750418,
        0.048587352, 0.078889735, 0.12692802, 0.20141327, 0.3132617, 0.474077, 0.6931472, 0.974077,
    ],
    [
        3.0590226e-07, 5.043474e-07, 8.31528e-07, 1.3709573e-06, 2.260324e-06, 3.7266395e-06, 6.144175e-06, 1.0129992e-05,
        1.6701424e-05, 2.753569e-05, 4.5397872e-05, 7.484623e-05, 0.00012339457, 0.00020342696, 0.00033535014, 0.0005527787,
        0.00091105123, 0.0015011822, 0.002472623, 0.004070138, 0.006692851, 0.010986942, 0.017986216, 0.02931223,
        0.047425874, 0.075858176, 0.119202904, 0.18242547, 0.26894143, 0.37754068, 0.5, 0.62245935,
    ],
    [
        1.5295383e-07, 2.5216934e-07, 4.157615e-07, 6.854877e-07, 1.1301393e-06, 1.8633356e-06, 3.072105e-06, 5.0650065e-06,
        8.350755e-06, 1.3767341e-05, 2.269823e-05, 3.7420607e-05, 6.168932e-05, 0.000101691316, 0.00016762027, 0.00027624215,
        0.0004551164, 0.0007494646, 0.0012332387, 0.0020268112, 0.0033240358, 0.005433051, 0.008831497, 0.014226591,
        0.022588225, 0.03505167, 0.05249551, 0.07457393, 0.098305896, 0.11750131, 0.124999404, 0.11750134,
    ],
    [
        5.0981566e-08, 8.4058335e-08, 1.3859005e-07, 2.2848673e-07, 3.7673703e-07, 6.210856e-07, 1.0239766e-06, 1.6882133e-06,
        2.783299e-06, 4.5889e-06, 7.5651187e-06, 1.2471175e-05, 2.0558751e-05, 3.3885084e-05, 5.5835273e-05, 9.1972186e-05,
        0.00015142572, 0.00024907378, 0.00040905768, 0.0006700714, 0.0010931764, 0.001771285, 0.0028375075, 0.004464196,
        0.0068152156, 0.009911603, 0.013328189, 0.015792131, 0.015142125, 0.009592013, -4.0878416e-07, -0.009594141,
    ],
    [
        1.2635732e-08, 2.1179261e-08, 3.4735262e-08, 5.672941e-08, 9.5006804e-08, 1.5437242e-07, 2.5452323e-07, 4.195224e-07,
        6.8851153e-07, 1.1519597e-06, 1.8781983e-06, 3.1048805e-06, 5.151237e-06, 8.524236e-06, 1.38853675e-05, 2.2717897e-05,
        3.7494792e-05, 6.188621e-05, 0.00010187698, 0.00016376609, 0.0002656696, 0.000425797, 0.00065241597, 0.0009801373,
        0.0013760583, 0.0017001518, 0.0016704367, 0.00063132035, -0.0014694828, -0.0039935145, -0.0051848004, -0.003996279,
    ],
    [
        2.5775588e-09, 4.211948e-09, 6.9094646e-09, 1.1490646e-08, 1.8626858e-08, 3.1246902e-08, 5.168907e-08, 8.539174e-08,
        1.4086817e-07, 2.3006127e-07, 3.8010913e-07, 6.289886e-07, 1.0200421e-06, 1.6765617e-06, 2.7829672e-06, 4.6354166e-06,
        7.50242e-06, 1.2217522e-05, 1.9827794e-05, 3.2222557e-05, 5.0344952e-05, 7.657972e-05, 0.000116985946, 0.00014617856,
        0.0001565179, 7.375595e-05, -0.00018831398, -0.0006734199, -0.0010146049, -0.00085650675, 8.415901e-06, 0.00088643463,
    ],
    [
        1.5552276e-09, -9.46853e-10, 2.3927657e-10, 5.871731e-09, -5.4959437e-09, 1.42993475e-08, 2.3763791e-08, 4.0476785e-08,
        9.795813e-08, -1.0224847e-08, 1.9170751e-07, 2.3049319e-07, 2.4851397e-08, -3.458714e-07, 9.997514e-07, 3.087354e-06,
        3.453366e-06, 2.0458497e-06, -3.163611e-06, 1.560297e-05, 1.0208905e-05, -1.5885413e-05, 6.7359724e-05, 3.895369e-05,
        -4.4751418e-05, -0.00013229651, -0.00065487245, 1.9298104e-05, -9.112769e-05, -2.3594972e-05, 0.00011423372, 1.4801913e-05,
    ],
];

/// The lowest `t` the table covers.
const LOW: f32 = -15.25;
/// From here on, `t + f(-t)`.
const SPLIT: f32 = 0.75;
/// `1.5 · 2^23 + 30`: adding it to `2t` rounds to an integer, whose low five bits are then the
/// interval's index `round(2t) + 30`.
const SHIFTER: f32 = 12_582_942.0;

/// The table in registers: coefficient `k` for intervals 0-15 and 16-31.
struct Table([(__m512, __m512); 7]);

impl Table {
    #[target_feature(enable = "avx512f")]
    fn load() -> Table {
        // SAFETY: each row holds 32 floats, read as two unaligned vectors of 16.
        Table(std::array::from_fn(|k| unsafe {
            (
                _mm512_loadu_ps(TABLE[k].as_ptr()),
                _mm512_loadu_ps(TABLE[k].as_ptr().add(16)),
            )
        }))
    }
}

/// The parameters of `softplus:β:threshold`, and `1/β`.
struct Params {
    beta: f32,
    inv_beta: f32,
    threshold: f32,
}

/// softplus of the 16 values in `x`: `x` beyond the threshold, else `f(βx)/β` as above.
///
/// # Safety
/// The CPU must run AVX-512F and FMA (it is inlined into [`forward`], which enables them).
#[inline(always)]
unsafe fn block(table: &Table, p: &Params, x: __m512) -> __m512 {
    // SAFETY (each intrinsic): the caller's CPU runs AVX-512F.
    unsafe {
        let t = _mm512_mul_ps(x, _mm512_set1_ps(p.beta));
        let high = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(t, _mm512_set1_ps(SPLIT));
        // `v = -t` from the split on, `t` below it, and no lower than the table (NaN stays
        // NaN: `max` returns its second operand when one is NaN).
        let v = _mm512_mask_sub_ps(t, high, _mm512_setzero_ps(), t);
        let v = _mm512_max_ps(_mm512_set1_ps(LOW), v);
        let s = _mm512_fmadd_ps(v, _mm512_set1_ps(2.0), _mm512_set1_ps(SHIFTER));
        let index = _mm512_castps_si512(s);
        // `d = v - round(2v)/2`, exact.
        let d = _mm512_fnmadd_ps(_mm512_sub_ps(s, _mm512_set1_ps(SHIFTER)), _mm512_set1_ps(0.5), v);
        let coefficient = |k: usize| _mm512_permutex2var_ps(table.0[k].0, index, table.0[k].1);
        // `f = a₀ + (a₁d + d² Q(d))`: the rounding errors of `d² Q(d)` are far below the steps
        // of the exact `a₁d` (`|d Q(d)| ≤ a₁/8`), so the sum in parentheses, rounded once,
        // never steps back as `d` grows, and neither does `a₀` plus it (Horner's rule all the
        // way could, and did, by one ULP near `t = -1/4`).
        let mut q = coefficient(6);
        for k in (2..6).rev() {
            q = _mm512_fmadd_ps(q, d, coefficient(k));
        }
        let rise = _mm512_fmadd_ps(d, coefficient(1), _mm512_mul_ps(_mm512_mul_ps(d, d), q));
        let f = _mm512_add_ps(coefficient(0), rise);
        let y = _mm512_mul_ps(_mm512_mask_add_ps(f, high, f, t), _mm512_set1_ps(p.inv_beta));
        let over = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(t, _mm512_set1_ps(p.threshold));
        let y = _mm512_mask_blend_ps(over, y, x);
        let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(t, _mm512_set1_ps(LOW)) & !over;
        if below == 0 {
            y
        } else {
            below_table(p, x, y, below)
        }
    }
}

/// `y` with the lanes in `below` replaced by the element kernel's values.
#[cold]
#[target_feature(enable = "avx512f,avx2,fma")]
fn below_table(p: &Params, x: __m512, y: __m512, below: __mmask16) -> __m512 {
    let (mut xs, mut ys) = ([0.0f32; 16], [0.0f32; 16]);
    // SAFETY: both arrays hold 16 floats.
    unsafe {
        _mm512_storeu_ps(xs.as_mut_ptr(), x);
        _mm512_storeu_ps(ys.as_mut_ptr(), y);
    }
    for (lane, (o, &x)) in ys.iter_mut().zip(&xs).enumerate() {
        if below & (1 << lane) != 0 {
            *o = super::element::softplus::<true>(x, p.beta, p.inv_beta, p.threshold);
        }
    }
    // SAFETY: as above.
    unsafe { _mm512_loadu_ps(ys.as_ptr()) }
}

/// `out = softplus(z)` with parameters `beta` and `threshold`, with non-temporal stores if
/// `stream` (from the first 64-byte boundary of `out`); every value goes through [`block`],
/// the head and tail padded to 16, so its bits do not depend on where it lies.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) fn forward(z: &[f32], out: &mut [f32], beta: f32, threshold: f32, stream: bool) {
    let table = Table::load();
    let p = Params {
        beta,
        inv_beta: 1.0 / beta,
        threshold,
    };
    // SAFETY (each `block`): this function runs with AVX-512F and FMA.
    let partial = |z: &[f32], out: &mut [f32]| {
        if !z.is_empty() {
            let mut x = [0.0f32; 16];
            x[..z.len()].copy_from_slice(z);
            // SAFETY: `x` holds 16 floats; see above for `block`.
            let y = unsafe { block(&table, &p, _mm512_loadu_ps(x.as_ptr())) };
            // SAFETY: as above.
            unsafe { _mm512_storeu_ps(x.as_mut_ptr(), y) };
            out.copy_from_slice(&x[..z.len()]);
        }
    };
    let head = if stream {
        out.as_ptr().align_offset(64).min(out.len())
    } else {
        0
    };
    let ((z_head, z_rest), (out_head, out_rest)) = (z.split_at(head), out.split_at_mut(head));
    partial(z_head, out_head);
    let (mut zs, mut outs) = (z_rest.chunks_exact(16), out_rest.chunks_exact_mut(16));
    for (z16, out16) in (&mut zs).zip(&mut outs) {
        // SAFETY: `z16` and `out16` hold 16 floats, and `out16` starts on a 64-byte boundary
        // when `stream`; see above for `block`.
        unsafe {
            let y = block(&table, &p, _mm512_loadu_ps(z16.as_ptr()));
            if stream {
                super::prefetch(z16.as_ptr().wrapping_add(super::PREFETCH_AHEAD));
                _mm512_stream_ps(out16.as_mut_ptr(), y);
            } else {
                _mm512_storeu_ps(out16.as_mut_ptr(), y);
            }
        }
    }
    partial(zs.remainder(), outs.into_remainder());
    if stream {
        super::stream_fence();
    }
}
