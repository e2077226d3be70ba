//! The batch kernels at every instruction-set level this machine runs: accuracy against the
//! f64 reference and the scalar code, monotonicity, streaming stores; and, ignored by default,
//! the exhaustive checks over every f32.

use super::*;
use crate::activation::scalar::GATE_CLAMP;
use crate::activation::testing::*;
use crate::activation::Activation::*;

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
    for level in Level::available() {
        for act in variants().into_iter().filter(|&a| has_kernel(a)) {
            forward_at(level, act, &grid, &mut out, false);
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
            forward_at(level, act, &extremes, &mut ext, false);
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
    for level in Level::available() {
        for act in variants().into_iter().filter(|&a| has_kernel(a)) {
            act.forward_batch(&z, &mut y, 1, &[]);
            backward_at(level, act, &z, &y, &grad_y, &mut grad_z, false);
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
    for level in Level::available() {
        for act in variants().into_iter().filter(|&a| has_kernel(a)) {
            act.forward_batch(&z, &mut y, 1, &[]);
            // offsets 0..16 floats move the output across a 64-byte line
            for offset in [0, 1, 5, 15] {
                let len = n - offset - 3;
                let (z, y, gy) = (&z[..len], &y[..len], &grad_y[..len]);
                let [mut plain, mut streamed] = [vec![0.0f32; n], vec![0.0f32; n]];
                forward_at(level, act, z, &mut plain[offset..offset + len], false);
                forward_at(level, act, z, &mut streamed[offset..offset + len], true);
                let differs = |a: &[f32], b: &[f32]| a.iter().zip(b).position(|(&a, &b)| !same(a, b));
                assert_eq!(
                    differs(&plain, &streamed),
                    None,
                    "{level:?} {act} forward, offset {offset}"
                );
                backward_at(level, act, z, y, gy, &mut plain[offset..offset + len], false);
                backward_at(level, act, z, y, gy, &mut streamed[offset..offset + len], true);
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
    for level in Level::available() {
        let monotonic = variants()
            .into_iter()
            .filter(|&a| has_kernel(a) && a.properties().monotonic);
        for act in monotonic {
            for &start in &MONOTONIC_WALK_STARTS {
                let xs = neighbours_from(start, out.len());
                forward_at(level, act, &xs, &mut out, false);
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
    for level in Level::available() {
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
                forward_at(level, act, &xs, &mut out, false);
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
    let levels = Level::available();
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
                    forward_at(level, act, &xs, &mut out, false);
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
            forward_at(level, act, &[f32::NAN], &mut nan_out, false);
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
    let levels = Level::available();
    let per_block = |i: u32| {
        let xs = every_f32_block(i);
        let (ones, zeros) = (vec![1.0f32; xs.len()], vec![0.0f32; xs.len()]);
        let mut out = vec![0.0f32; xs.len()];
        levels
            .iter()
            .map(|&level| {
                backward_at(level, Silu, &xs, &zeros, &ones, &mut out, false);
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
        backward_at(level, Silu, &[f32::NAN], &[0.0], &[1.0], &mut nan_out, false);
        assert!(nan_out[0].is_nan(), "{level:?}: silu'(NaN) = {}", nan_out[0]);
    }
}
