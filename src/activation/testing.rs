//! What the tests of every file in this folder share: the f64 reference definitions, the
//! ULP distance, the element-wise variants and the common grids.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};
use std::f64::consts::{PI, SQRT_2};

use super::kernels;
use super::scalar::{SELU_ALPHA_F64, SELU_LAMBDA_F64};
use super::Activation::{self, *};

pub(super) const INF: f32 = f32::INFINITY;
pub(super) const MAX: f32 = f32::MAX;
pub(super) const TINY: f32 = 1e-30;
pub(super) const LN2: f32 = std::f32::consts::LN_2;

/// Distance between `a` and `b` in units in the last place: how many f32 values apart they
/// are, ordering floats by bit pattern with the sign handled (`-0` and `+0` coincide);
/// 0 for two NaNs, `u32::MAX` for NaN against a number.
pub(super) fn ulp_distance(a: f32, b: f32) -> u32 {
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
pub(super) fn reference(act: Activation, x: f64) -> f64 {
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
pub(super) fn reference_slope(act: Activation, x: f64) -> f64 {
    let h = 1e-5;
    (reference(act, x + h) - reference(act, x - h)) / (2.0 * h)
}

/// Every element-wise activation: `ALL` but softmax, plus non-default parameters.
pub(super) fn variants() -> Vec<Activation> {
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

/// 200 001 points evenly over [-30, 30] and 2 × 20 001 log-spaced magnitudes 1e-30..1e4.
pub(super) fn accuracy_grid() -> Vec<f32> {
    let even = (0..=200_000).map(|i| -30.0 + 60.0 * f64::from(i) / 200_000.0);
    let magnitudes = (0..=20_000).map(|i| 10f64.powf(-30.0 + 34.0 * f64::from(i) / 20_000.0));
    even.chain(magnitudes.flat_map(|m| [m, -m])).map(|x| x as f32).collect()
}

pub(super) fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let dist = Uniform::new(lo, hi).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| dist.sample(&mut rng)).collect()
}

pub(super) fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Whether a batch kernel's value `got` agrees with the scalar code's `want`: bit for bit
/// where the kernel evaluates the same formula (the piecewise-linear functions and the
/// derivatives from outputs), else within the accuracy bounds (4 ULP, or 1e-6 relative
/// to `max(1, |want|)` for GELU, whose kernel uses its own fit of erfc).
pub(super) fn agrees(act: Activation, got: f32, want: f32) -> bool {
    let exact =
        !kernels::has_kernel(act) || matches!(act, Identity | Relu | LeakyRelu { .. } | Sigmoid | Tanh | Elu { .. });
    same(got, want)
        || (!exact
            && (ulp_distance(got, want) <= 4 || (act == Gelu && (got - want).abs() <= 1e-6 * want.abs().max(1.0))))
}

/// Walks 100 000 consecutive floats upwards from places where rounding in a naive f32
/// formula steps back (sigmoid's `e/(1+e)` near -1.94, softplus near 0, softsign near
/// 2^25) and elsewhere: functions flagged monotonic never decrease.
pub(super) const MONOTONIC_WALK_STARTS: [f32; 10] = [
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
pub(super) fn neighbours_from(start: f32, n: usize) -> Vec<f32> {
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
