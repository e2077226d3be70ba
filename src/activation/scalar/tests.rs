//! The scalar functions: stability at the extremes, accuracy against the f64 reference,
//! derivatives against finite differences, monotonicity.

use proptest::prelude::*;

use super::*;
use crate::activation::testing::*;
use crate::activation::Activation::*;

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

// ---------------------------------------------------------------- accuracy

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

// ---------------------------------------------------------------- derivatives

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

// ---------------------------------------------------------------- properties (proptest)

/// Finite f32 values of every kind and magnitude, and ordinary ones.
fn finite() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NORMAL, SUBNORMAL, ZERO};
    prop_oneof![-30f32..30.0, NORMAL | SUBNORMAL | ZERO]
}

proptest! {
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
