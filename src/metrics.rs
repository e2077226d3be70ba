//! Scores of predictions: accuracy, R², RMSE.

/// The class a row of outputs predicts: the arg-max, or for a single (sigmoid) output,
/// class 1 when it is at least 0.5. Ties go to the first class; NaN is never chosen.
pub fn predicted_class(row: &[f32]) -> usize {
    if let [p] = row {
        return usize::from(*p >= 0.5);
    }
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

/// Share of rows (of `outputs.len() / labels.len()` columns) whose predicted class is the label.
pub fn accuracy(outputs: &[f32], labels: &[u32]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let cols = outputs.len() / labels.len();
    let correct = outputs
        .chunks_exact(cols)
        .zip(labels)
        .filter(|(row, &l)| predicted_class(row) == l as usize)
        .count();
    correct as f64 / labels.len() as f64
}

/// Coefficient of determination `1 - Σ(y - t)² / Σ(t - t̄)²`, accumulated in f64; `None` when
/// it is undefined: fewer than two targets, or all targets equal (`Σ(t - t̄)² = 0`).
pub fn r2(predictions: &[f32], targets: &[f32]) -> Option<f64> {
    let n = targets.len() as f64;
    let mean = targets.iter().map(|&t| t as f64).sum::<f64>() / n;
    let ss_tot: f64 = targets.iter().map(|&t| (t as f64 - mean).powi(2)).sum();
    if targets.len() < 2 || ss_tot == 0.0 {
        return None;
    }
    let ss_res: f64 = predictions
        .iter()
        .zip(targets)
        .map(|(&y, &t)| (y as f64 - t as f64).powi(2))
        .sum();
    Some(1.0 - ss_res / ss_tot)
}

/// Root mean squared error, accumulated in f64.
pub fn rmse(predictions: &[f32], targets: &[f32]) -> f64 {
    let n = targets.len().max(1) as f64;
    (predictions
        .iter()
        .zip(targets)
        .map(|(&y, &t)| (y as f64 - t as f64).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicted_class_uses_argmax_or_threshold() {
        assert_eq!(predicted_class(&[0.1, 0.7, 0.2]), 1);
        assert_eq!(predicted_class(&[f32::NAN, 0.2, 0.1]), 1);
        assert_eq!(predicted_class(&[0.49]), 0);
        assert_eq!(predicted_class(&[0.5]), 1);
    }

    #[test]
    fn scores_match_hand_computed_values() {
        assert_eq!(accuracy(&[0.9, 0.1, 0.2, 0.8, 0.6, 0.4], &[0, 1, 1]), 2.0 / 3.0);
        // t = [1,2,3], mean 2, ss_tot = 2; y = [1,2,4] gives ss_res = 1.
        approx::assert_abs_diff_eq!(r2(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0]).unwrap(), 0.5, epsilon = 1e-12);
        // Undefined for one sample, a constant target, or none.
        assert_eq!(r2(&[1.0], &[2.0]), None);
        assert_eq!(r2(&[1.0, 3.0], &[2.0, 2.0]), None);
        assert_eq!(r2(&[], &[]), None);
        approx::assert_abs_diff_eq!(
            rmse(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0]),
            (1.0f64 / 3.0).sqrt(),
            epsilon = 1e-12
        );
    }
}
