//! Softmax, log-softmax and log-sum-exp: stability, the batch passes, the Jacobian.

use proptest::prelude::*;
use std::f64::consts::LN_2;

use super::*;
use crate::activation::testing::*;
use crate::activation::Activation::*;

#[test]
fn log_sum_exp_is_stable() {
    let lse = log_sum_exp(&[1e4, 1e4]);
    assert!(ulp_distance(lse, (1e4 + LN_2) as f32) <= 1, "{lse}");
    assert_eq!(log_sum_exp(&[-1e4, 0.0]), 0.0);
    assert_eq!(log_sum_exp(&[MAX, MAX]), MAX);
    assert_eq!(log_sum_exp(&[-MAX, MAX]), MAX);
    assert!(ulp_distance(log_sum_exp(&[0.0; 4]), (4f64.ln()) as f32) <= 1);
    assert_eq!(log_sum_exp(&[-INF, 2.0]), 2.0);
    assert_eq!(log_sum_exp(&[]), -INF);
    assert_eq!(log_sum_exp(&[-INF, -INF]), -INF);
    assert_eq!(log_sum_exp(&[1.0, INF]), INF);
    assert!(log_sum_exp(&[1.0, f32::NAN]).is_nan());
    assert!(log_sum_exp(&[f32::NAN, INF]).is_nan());
    assert!(log_sum_exp(&[INF, f32::NAN]).is_nan());
}

fn softmax_of(row: &[f32]) -> Vec<f32> {
    let mut row = row.to_vec();
    softmax_in_place(&mut row);
    row
}

fn log_softmax_of(row: &[f32]) -> Vec<f32> {
    let mut row = row.to_vec();
    log_softmax_in_place(&mut row);
    row
}

#[test]
fn softmax_is_stable() {
    assert_eq!(softmax_of(&[1e4, 0.0]), [1.0, 0.0]);
    assert_eq!(softmax_of(&[MAX, -MAX]), [1.0, 0.0]);
    assert_eq!(softmax_of(&[-INF, 0.0]), [0.0, 1.0]);
    assert_eq!(softmax_of(&[-INF; 4]), [0.25; 4], "all masked: uniform");
    assert_eq!(softmax_of(&[INF, 1.0, INF, -INF]), [0.5, 0.0, 0.5, 0.0]);
    assert_eq!(softmax_of(&[7.0]), [1.0]);
    assert!(softmax_of(&[]).is_empty());
    assert!(softmax_of(&[1.0, f32::NAN, 2.0]).iter().all(|v| v.is_nan()));
    assert!(softmax_of(&[INF, f32::NAN]).iter().all(|v| v.is_nan()));
    assert!(softmax_of(&[f32::NAN, -INF]).iter().all(|v| v.is_nan()));
    let y = softmax_of(&[1.0, 2.0, 3.0]);
    let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
    for (got, want) in y.iter().zip(e) {
        assert!(ulp_distance(*got, (want / e.iter().sum::<f64>()) as f32) <= 2);
    }
}

#[test]
fn log_softmax_is_stable() {
    assert_eq!(log_softmax_of(&[1e4, 0.0]), [0.0, -1e4]);
    assert_eq!(log_softmax_of(&[0.0, -INF]), [0.0, -INF]);
    let ln4 = 4f32.ln();
    assert_eq!(log_softmax_of(&[-INF; 4]), [-ln4; 4]);
    assert_eq!(log_softmax_of(&[INF, 1.0, INF]), [-LN2, -INF, -LN2]);
    assert!(log_softmax_of(&[1.0, f32::NAN]).iter().all(|v| v.is_nan()));
    let y = log_softmax_of(&[1.0, 2.0, 3.0]);
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    for (got, x) in y.iter().zip([1.0, 2.0, 3.0]) {
        assert!(ulp_distance(*got, (x - lse) as f32) <= 2);
    }
}

/// `Σ w · softmax(z)` per row, in f64.
fn weighted_softmax_sum(z: &[f64], w: &[f32], cols: usize) -> f64 {
    let rows = z.chunks(cols).zip(w.chunks(cols));
    rows.map(|(z, w)| {
        let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().zip(w).map(|(e, &w)| f64::from(w) * e / total).sum::<f64>()
    })
    .sum()
}

#[test]
fn softmax_backward_is_the_jacobian_vector_product() {
    let (rows, cols) = (4, 6);
    let z = uniform(rows * cols, -3.0, 3.0, 1);
    let w = uniform(rows * cols, -1.0, 1.0, 2);
    let mut y = vec![0.0; z.len()];
    Softmax.forward_batch(&z, &mut y, cols, &[]);
    let mut grad = vec![0.0; z.len()];
    Softmax.backward_batch(&z, &y, &w, &mut grad, cols, &[]);
    let z64: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
    let h = 1e-6;
    for i in 0..z.len() {
        let (mut up, mut down) = (z64.clone(), z64.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (weighted_softmax_sum(&up, &w, cols) - weighted_softmax_sum(&down, &w, cols)) / (2.0 * h);
        assert!((f64::from(grad[i]) - fd).abs() < 1e-5, "{i}: {} vs {fd}", grad[i]);
    }
}

#[test]
fn softmax_batches_work_row_by_row() {
    let z = [1.0, 2.0, 3.0, -INF, -INF, -INF, 1e4, 0.0, 0.0];
    let mut y = [0.0; 9];
    Softmax.forward_batch(&z, &mut y, 3, &[]);
    assert_eq!(y[..3], softmax_of(&z[..3])[..]);
    assert_eq!(y[3..6], [1.0 / 3.0; 3]);
    assert_eq!(y[6..], [1.0, 0.0, 0.0]);
    // a gradient that is constant along a row changes nothing (softmax ignores shifts)
    let mut grad_z = [1.0; 9];
    Softmax.backward_batch(&z, &y, &[0.5; 9], &mut grad_z, 3, &[]);
    assert!(grad_z.iter().all(|g| g.abs() < 1e-7), "{grad_z:?}");
}

proptest! {
    #[test]
    fn softmax_sums_to_one_and_ignores_shifts(
        z in prop::collection::vec(-20f32..20.0, 1..32),
        shift in -20f32..20.0,
    ) {
        let y = softmax_of(&z);
        let total: f64 = y.iter().map(|&v| f64::from(v)).sum();
        prop_assert!((total - 1.0).abs() <= 1e-6, "sum {}", total);
        let shifted: Vec<f32> = z.iter().map(|v| v + shift).collect();
        for (a, b) in y.iter().zip(softmax_of(&shifted)) {
            prop_assert!((a - b).abs() <= 1e-5, "{} vs {}", a, b);
        }
    }
}
