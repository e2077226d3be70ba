//! Scores of predictions: accuracy, R², RMSE, and the full reports that tell the truth about
//! a classifier (per-class precision, recall, F1 and support, macro and weighted F1, balanced
//! accuracy, the confusion matrix, ROC AUC and log loss) or a regression (MAE, RMSE, R²).
//!
//! Every number a report holds is finite. Where a ratio has nothing to divide by, it is 0 by
//! convention (as scikit-learn's `zero_division=0`), and the report's `notes` say so: the
//! precision of a class that is never predicted, the recall of a class absent from the data.

use serde::Serialize;

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

/// Mean absolute error, accumulated in f64.
pub fn mae(predictions: &[f32], targets: &[f32]) -> f64 {
    let n = targets.len().max(1) as f64;
    predictions
        .iter()
        .zip(targets)
        .map(|(&y, &t)| (y as f64 - t as f64).abs())
        .sum::<f64>()
        / n
}

/// Probabilities are clipped to `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` before [`log_loss`] takes
/// their logarithm (as scikit-learn does), so that one confident mistake costs a large finite
/// loss, `-ln 1e-15 ≈ 34.5`, rather than infinity.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// Mean negative log-probability of the true class: `probabilities` has one row of class
/// probabilities per label. Clipped (see [`LOG_LOSS_EPS`]), so always finite; 0 without labels.
pub fn log_loss(probabilities: &[f32], labels: &[u32]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let cols = probabilities.len() / labels.len();
    let sum: f64 = probabilities
        .chunks_exact(cols)
        .zip(labels)
        .map(|(row, &l)| {
            let p = row[l as usize] as f64;
            // NaN clamps to NaN; treat it as the worst case.
            -(if p.is_nan() {
                LOG_LOSS_EPS
            } else {
                p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
            })
            .ln()
        })
        .sum();
    sum / labels.len() as f64
}

/// Area under the ROC curve of `scores` (higher: more likely positive) against `positive`:
/// the probability that a random positive scores above a random negative, ties counting one
/// half (the Mann-Whitney statistic with tied scores given their average rank). `None` when
/// the labels hold only one class, where it is undefined.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += average_rank * order[start..end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassScores {
    /// The class label.
    pub class: String,
    /// Share of the samples predicted as this class that are of it; 0 when it is never predicted.
    pub precision: f64,
    /// Share of the samples of this class predicted as it; 0 when the data has none.
    pub recall: f64,
    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub f1: f64,
    /// Samples of this class in the data.
    pub support: usize,
}

/// Everything that tells how good a classifier's predictions are, beyond accuracy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// Share of correct predictions.
    pub accuracy: f64,
    /// The accuracy of always answering the most frequent class of the data scored.
    pub majority_accuracy: f64,
    /// That most frequent class (the first of them on a tie).
    pub majority_class: String,
    /// Mean recall over the classes present in the data.
    pub balanced_accuracy: f64,
    /// Mean F1 over the classes present in the data or predicted.
    pub macro_f1: f64,
    /// F1 averaged with each class weighted by its support.
    pub weighted_f1: f64,
    /// Area under the ROC curve of the probability of the second class (binary problems,
    /// with both classes present).
    pub roc_auc: Option<f64>,
    /// Mean negative log-probability of the true class, probabilities clipped (see [`log_loss`]).
    pub log_loss: Option<f64>,
    /// One entry per class, in the model's class order.
    pub per_class: Vec<ClassScores>,
    /// `confusion[t][p]`: samples of class `t` predicted as class `p`.
    pub confusion: Vec<Vec<usize>>,
    /// Conventions that applied (a ratio with nothing to divide by, taken as 0), in words.
    pub notes: Vec<String>,
}

impl ClassificationReport {
    /// Whether the accuracy is no better than always answering the majority class.
    pub fn no_better_than_majority(&self) -> bool {
        self.accuracy <= self.majority_accuracy
    }
}

/// The report of predicted classes against true `labels`, both indices into `classes`.
/// With `probabilities` (one row of `classes.len()` columns per sample), the log loss, and for
/// two classes the ROC AUC of the second class's probability.
///
/// # Panics
/// When the lengths disagree or an index is not below `classes.len()`.
pub fn classification_report(
    classes: &[String],
    labels: &[u32],
    predicted: &[u32],
    probabilities: Option<&[f32]>,
) -> ClassificationReport {
    assert_eq!(labels.len(), predicted.len(), "one prediction per label");
    let k = classes.len();
    let n = labels.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&t, &p) in labels.iter().zip(predicted) {
        confusion[t as usize][p as usize] += 1;
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut notes = Vec::new();
    let per_class: Vec<ClassScores> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[c]).sum();
            if predicted == 0 && support > 0 {
                notes.push(format!(
                    "class '{}' is never predicted: its precision is taken as 0",
                    classes[c]
                ));
            }
            if support == 0 {
                notes.push(format!(
                    "class '{}' is absent from the data: its recall is taken as 0",
                    classes[c]
                ));
            }
            let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassScores {
                class: classes[c].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect();
    let mean = |values: Vec<f64>| {
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let present = |c: &&ClassScores| c.support > 0;
    let seen = |(c, s): &(usize, &ClassScores)| s.support > 0 || confusion.iter().any(|row| row[*c] > 0);
    let (majority, majority_count) =
        per_class.iter().enumerate().fold(
            (0, 0),
            |best, (c, s)| if s.support > best.1 { (c, s.support) } else { best },
        );
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let (log_loss, roc_auc) = match probabilities {
        Some(p) if n > 0 => {
            let auc = (k == 2)
                .then(|| {
                    let scores: Vec<f32> = p.chunks_exact(2).map(|row| row[1]).collect();
                    let positive: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
                    roc_auc(&scores, &positive)
                })
                .flatten();
            (Some(log_loss(p, labels)), auc)
        }
        _ => (None, None),
    };
    ClassificationReport {
        accuracy: ratio(correct, n),
        majority_accuracy: ratio(majority_count, n),
        majority_class: classes.get(majority).cloned().unwrap_or_default(),
        balanced_accuracy: mean(per_class.iter().filter(present).map(|c| c.recall).collect()),
        macro_f1: mean(per_class.iter().enumerate().filter(seen).map(|(_, c)| c.f1).collect()),
        weighted_f1: per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / n.max(1) as f64,
        roc_auc,
        log_loss,
        per_class,
        confusion,
        notes,
    }
}

/// Scores of a regression in the target's own units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RegressionReport {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination; `None` where undefined (see [`r2`]).
    pub r2: Option<f64>,
}

/// The report of `predictions` against `targets`, both in the target's units.
pub fn regression_report(predictions: &[f32], targets: &[f32]) -> RegressionReport {
    RegressionReport {
        mae: mae(predictions, targets),
        rmse: rmse(predictions, targets),
        r2: r2(predictions, targets),
    }
}

/// A classification or a regression report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    /// Of a classifier.
    Classification(ClassificationReport),
    /// Of a regression.
    Regression(RegressionReport),
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
    fn names(k: usize) -> Vec<String> {
        ["a", "b", "c", "d"][..k].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classification_report_matches_hand_computed_values() {
        // confusion (rows true, columns predicted): a [2 1 0], b [1 1 0], c [1 0 0]
        let r = classification_report(&names(3), &[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 0, 0], None);
        assert_eq!(r.confusion, vec![vec![2, 1, 0], vec![1, 1, 0], vec![1, 0, 0]]);
        let eps = 1e-12;
        approx::assert_abs_diff_eq!(r.per_class[0].precision, 0.5, epsilon = eps);
        approx::assert_abs_diff_eq!(r.per_class[0].recall, 2.0 / 3.0, epsilon = eps);
        approx::assert_abs_diff_eq!(r.per_class[0].f1, 4.0 / 7.0, epsilon = eps);
        approx::assert_abs_diff_eq!(r.per_class[1].f1, 0.5, epsilon = eps);
        assert_eq!(r.per_class.iter().map(|c| c.support).collect::<Vec<_>>(), [3, 2, 1]);
        // Class c is never predicted: precision 0 by convention, with a note.
        assert_eq!((r.per_class[2].precision, r.per_class[2].f1), (0.0, 0.0));
        assert_eq!(r.notes, ["class 'c' is never predicted: its precision is taken as 0"]);
        approx::assert_abs_diff_eq!(r.accuracy, 0.5, epsilon = eps);
        approx::assert_abs_diff_eq!(r.balanced_accuracy, 7.0 / 18.0, epsilon = eps);
        approx::assert_abs_diff_eq!(r.macro_f1, (4.0 / 7.0 + 0.5) / 3.0, epsilon = eps);
        approx::assert_abs_diff_eq!(r.weighted_f1, (4.0 / 7.0 * 3.0 + 0.5 * 2.0) / 6.0, epsilon = eps);
        assert_eq!((r.majority_class.as_str(), r.majority_accuracy), ("a", 0.5));
        assert!(r.no_better_than_majority());
        assert_eq!((r.roc_auc, r.log_loss), (None, None));
    }

    #[test]
    fn classification_report_edges_stay_finite() {
        // One class present out of two, one sample: recall of the absent class is 0 by
        // convention, and balanced accuracy and macro F1 leave it out.
        let r = classification_report(&names(2), &[1], &[1], Some(&[0.2, 0.8]));
        assert_eq!((r.accuracy, r.balanced_accuracy, r.macro_f1), (1.0, 1.0, 1.0));
        assert_eq!(r.roc_auc, None);
        assert_eq!(r.notes, ["class 'a' is absent from the data: its recall is taken as 0"]);
        approx::assert_abs_diff_eq!(r.log_loss.unwrap(), -(0.8f32 as f64).ln(), epsilon = 1e-12);
        // Predicting the majority class everywhere: accuracy 0.75, but no better than it.
        let r = classification_report(&names(2), &[0, 0, 0, 1], &[0, 0, 0, 0], None);
        assert!(r.no_better_than_majority());
        assert_eq!(r.balanced_accuracy, 0.5);
        // No samples at all.
        let r = classification_report(&names(2), &[], &[], Some(&[]));
        assert_eq!(
            (r.accuracy, r.macro_f1, r.weighted_f1, r.log_loss),
            (0.0, 0.0, 0.0, None)
        );
        let all = serde_json::to_string(&classification_report(&names(3), &[2, 2], &[0, 1], None)).unwrap();
        // serde_json writes a non-finite number as null: only the absent AUC and log loss are.
        assert_eq!(all.matches("null").count(), 2, "{all}");
    }

    #[test]
    fn per_class_scores_match_a_naive_count() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let labels: Vec<u32> = (0..200).map(|_| rng.random_range(0..4)).collect();
        let predicted: Vec<u32> = (0..200).map(|_| rng.random_range(0..4)).collect();
        let r = classification_report(&names(4), &labels, &predicted, None);
        for c in 0..4u32 {
            let pairs = || labels.iter().zip(&predicted);
            let tp = pairs().filter(|&(&t, &p)| t == c && p == c).count() as f64;
            let fp = pairs().filter(|&(&t, &p)| t != c && p == c).count() as f64;
            let fn_ = pairs().filter(|&(&t, &p)| t == c && p != c).count() as f64;
            let s = &r.per_class[c as usize];
            approx::assert_abs_diff_eq!(s.precision, tp / (tp + fp), epsilon = 1e-12);
            approx::assert_abs_diff_eq!(s.recall, tp / (tp + fn_), epsilon = 1e-12);
            approx::assert_abs_diff_eq!(s.f1, 2.0 * tp / (2.0 * tp + fp + fn_), epsilon = 1e-12);
        }
    }

    /// AUC by counting every (positive, negative) pair, ties one half.
    fn naive_auc(scores: &[f32], positive: &[bool]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate().filter(|(i, _)| positive[*i]) {
            for (_, &sj) in scores.iter().enumerate().filter(|(j, _)| !positive[*j]) {
                pairs += 1.0;
                wins += if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
            }
            let _ = i;
        }
        wins / pairs
    }

    #[test]
    fn roc_auc_averages_tied_ranks() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.2, 0.9], &[true, true]), None);
        assert_eq!(roc_auc(&[], &[]), None);
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Scores on a coarse grid, so that many tie across the classes.
        let scores: Vec<f32> = (0..300).map(|_| rng.random_range(0..10) as f32 / 10.0).collect();
        let positive: Vec<bool> = scores.iter().map(|&s| rng.random_bool(0.2 + 0.6 * s as f64)).collect();
        approx::assert_abs_diff_eq!(
            roc_auc(&scores, &positive).unwrap(),
            naive_auc(&scores, &positive),
            epsilon = 1e-12
        );
    }

    #[test]
    fn log_loss_clips_and_regression_report_matches_hand_values() {
        let p = [0.8, 0.2, 0.3, 0.7];
        let expected = -((0.8f32 as f64).ln() + (0.7f32 as f64).ln()) / 2.0;
        approx::assert_abs_diff_eq!(log_loss(&p, &[0, 1]), expected, epsilon = 1e-12);
        // A certain mistake costs -ln 1e-15, not infinity.
        approx::assert_abs_diff_eq!(log_loss(&[1.0, 0.0], &[1]), -(1e-15f64).ln(), epsilon = 1e-9);
        let r = regression_report(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0]);
        approx::assert_abs_diff_eq!(r.mae, 1.0 / 3.0, epsilon = 1e-12);
        approx::assert_abs_diff_eq!(r.rmse, (1.0f64 / 3.0).sqrt(), epsilon = 1e-12);
        approx::assert_abs_diff_eq!(r.r2.unwrap(), 0.5, epsilon = 1e-12);
    }
}
