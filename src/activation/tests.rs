//! The public methods: batches against the scalar code, PReLU's slopes, shapes, properties
//! against a numerical scan, default initialisations, and every variant's paths.

use std::f64::consts::PI;

use super::*;
use crate::activation::testing::*;
use crate::cpu::Level;
use Activation::*;

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

// ---------------------------------------------------------------- every variant

/// `act`'s entry in [`Activation::ALL`], by a `match` with no wildcard: a new variant does not
/// compile here until it has an arm, and its arm `ALL[n]` does not compile (index out of
/// bounds) until `ALL` has an `n`-th entry.
fn entry_in_all(act: Activation) -> Activation {
    match act {
        Identity => Activation::ALL[0],
        Sigmoid => Activation::ALL[1],
        Tanh => Activation::ALL[2],
        Relu => Activation::ALL[3],
        LeakyRelu { .. } => Activation::ALL[4],
        Elu { .. } => Activation::ALL[5],
        Selu => Activation::ALL[6],
        Gelu => Activation::ALL[7],
        GeluTanh => Activation::ALL[8],
        Silu => Activation::ALL[9],
        Softplus { .. } => Activation::ALL[10],
        Mish => Activation::ALL[11],
        Softsign => Activation::ALL[12],
        Relu6 => Activation::ALL[13],
        HardSigmoid => Activation::ALL[14],
        HardSwish => Activation::ALL[15],
        Prelu { .. } => Activation::ALL[16],
        Softmax => Activation::ALL[17],
    }
}

/// Every variant is in `ALL` (by [`entry_in_all`]) and has a forward, a derivative and a batch
/// path that agree with each other: on a row of inputs, `forward_batch` and `backward_batch`,
/// and the kernel at every level this machine runs where there is one, give the scalar values
/// (bit for bit where the batch evaluates the scalar formula, else within the accuracy bounds
/// of [`agrees`]). Softmax's batch is a row operation: there the backward pass of a one-hot
/// gradient `e_i` must give the scalar derivative (the Jacobian's diagonal) at `i`.
#[test]
fn every_variant_has_a_forward_a_derivative_and_a_batch_path() {
    for (i, act) in Activation::ALL.into_iter().enumerate() {
        let entry = entry_in_all(act);
        assert_eq!(
            std::mem::discriminant(&entry),
            std::mem::discriminant(&act),
            "ALL[{i}] = {act}"
        );
    }
    let z = [-3.5f32, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0, 30.0];
    let grad_y = [1.0f32, -0.5, 2.0, 0.25, -1.5, 1.0, 0.75, -2.0];
    let cols = z.len();
    for act in Activation::ALL {
        let y: Vec<f32> = z.iter().map(|&x| act.forward(x)).collect();
        let dy: Vec<f32> = z.iter().zip(&y).map(|(&x, &y)| act.derivative(x, y)).collect();
        assert!(y.iter().chain(&dy).all(|v| v.is_finite()), "{act}: f {y:?}, f' {dy:?}");
        let slopes = prelu_slopes(act);
        let (mut out, mut grad_z) = ([0.0f32; 8], [0.0f32; 8]);
        if act == Softmax {
            act.forward_batch(&z, &mut out, cols, &slopes);
            for i in 0..cols {
                let mut one_hot = [0.0f32; 8];
                one_hot[i] = 1.0;
                act.backward_batch(&z, &out, &one_hot, &mut grad_z, cols, &slopes);
                assert!(same(grad_z[i], act.derivative(z[i], out[i])), "{act}' at {}", z[i]);
            }
            continue;
        }
        let exact_forward = !kernels::has_kernel(act) || matches!(act, Identity | Relu | LeakyRelu { .. });
        let forward_ok = |got: f32, want: f32| {
            if exact_forward {
                same(got, want)
            } else {
                agrees(Gelu, got, want)
            }
        };
        let want_grad: Vec<f32> = grad_y.iter().zip(&dy).map(|(&g, &d)| g * d).collect();
        let check = |path: &str, out: &[f32], grad_z: &[f32]| {
            for i in 0..cols {
                assert!(
                    forward_ok(out[i], y[i]),
                    "{act} {path}({}) = {}, scalar {}",
                    z[i],
                    out[i],
                    y[i]
                );
                let (got, want) = (grad_z[i], want_grad[i]);
                assert!(agrees(act, got, want), "{act}' {path} at {}: {got} vs {want}", z[i]);
            }
        };
        act.forward_batch(&z, &mut out, cols, &slopes);
        act.backward_batch(&z, &y, &grad_y, &mut grad_z, cols, &slopes);
        check("batch", &out, &grad_z);
        if kernels::has_kernel(act) {
            for level in Level::available() {
                kernels::forward_at(level, act, &z, &mut out, false);
                kernels::backward_at(level, act, &z, &y, &grad_y, &mut grad_z, false);
                check(&format!("{level:?} kernel"), &out, &grad_z);
            }
        }
    }
}
