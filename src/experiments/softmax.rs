//! Experiment 7: softmax gives a probability distribution.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::harness::{accuracy, dataset, fit_config, training, Outcome, SEED};
use super::{Budget, Experiment};
use crate::activation::softmax_in_place;
use crate::mlp::Workspace;
use crate::model::fit;
use crate::optim::OptimizerKind;
use crate::{Activation, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 7,
    name: "softmax_distribution",
    claim: "Softmax gives a probability distribution: outputs in (0, 1) that sum to 1, unchanged \
            by adding a constant to every logit; a trained classifier's rows are class \
            probabilities.",
    criterion: "on 1000 random logit rows: every value in (0, 1) and every row sums to 1 within \
                1e-6; adding 10 to every logit changes no output by more than 1e-5; on a trained \
                iris classifier: every log-probability z_i - logsumexp(z), computed from its \
                logits in f64, is finite and below 0 (so every probability lies in (0, 1) even \
                where f32 rounds it to 1), and every row of f32 probabilities sums to 1 within 1e-6",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    let (rows, cols) = (1000, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let normal = Normal::new(0.0f32, 3.0).expect("finite std");
    let logits: Vec<f32> = (0..rows * cols).map(|_| normal.sample(&mut rng)).collect();
    let p = softmax_rows(&logits, cols, 0.0);
    let (min, max, sum_error) = distribution_stats(&p, cols);
    out.set("random_logits_min_probability", min);
    out.set("random_logits_max_probability", max);
    out.set("random_logits_max_sum_error", sum_error);
    out.check(min > 0.0 && max < 1.0 && sum_error <= 1e-6);
    for shift in [10.0f32, 1000.0] {
        let shifted = softmax_rows(&logits, cols, shift);
        let change = p
            .iter()
            .zip(&shifted)
            .map(|(&a, &b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        out.set(format!("max_change_adding_{shift}_to_logits"), change);
        if shift == 10.0 {
            out.check(change <= 1e-5);
        }
    }
    // Without subtracting the row maximum, e^(z + 1000) overflows to infinity.
    let naive_nan_rows = logits
        .chunks_exact(cols)
        .filter(|row| {
            let e: Vec<f32> = row.iter().map(|&z| (z + 1000.0).exp()).collect();
            let sum: f32 = e.iter().sum();
            e.iter().any(|&v| (v / sum).is_nan())
        })
        .count();
    out.set("naive_softmax_nan_rows_adding_1000", naive_nan_rows as f64);

    let iris = dataset("iris", None)?.train;
    let config = fit_config(
        vec![16],
        Activation::Relu,
        training(OptimizerKind::Adam, 0.01, budget.pick(30, 100)),
    );
    let fitted = fit(&iris, &config)?;
    let probabilities = fitted.model.predict(&iris)?;
    let (min, max, sum_error) = distribution_stats(probabilities.as_slice(), probabilities.cols());
    out.set("iris_min_probability", min);
    out.set("iris_max_probability", max);
    out.set("iris_max_sum_error", sum_error);
    let rounded = probabilities
        .as_slice()
        .iter()
        .filter(|&&p| p == 0.0 || p == 1.0)
        .count();
    out.set("iris_probabilities_rounded_to_0_or_1", rounded as f64);
    // Whether each probability lies strictly inside (0, 1) is decided on log-probabilities from
    // the logits in f64, which resolve a top probability of 1 - 1e-10 that f32 rounds to 1.
    let (x, _, _) = fitted.model.prepare(&iris)?;
    let mut ws = Workspace::default();
    fitted.model.mlp.forward(x.as_slice(), x.rows(), &mut ws);
    let log_max = ws
        .logits()
        .chunks_exact(probabilities.cols())
        .flat_map(|row| {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(f64::from(z)));
            let lse = m + row.iter().map(|&z| (f64::from(z) - m).exp()).sum::<f64>().ln();
            row.iter().map(move |&z| f64::from(z) - lse)
        })
        .fold(f64::NEG_INFINITY, f64::max);
    out.set("iris_largest_log_probability", log_max);
    if rounded > 0 {
        out.notes.push(format!(
            "Exactly 0 or 1 in f32: {rounded} of the trained classifier's {} probabilities (a confident \
             answer's top probability is closer to 1 than f32 resolves there, 3e-8); its log-probability, \
             {log_max:.3e} at most, shows it is below 1, and the rows still sum to 1.",
            probabilities.as_slice().len()
        ));
    }
    out.set("iris_train_accuracy", accuracy(&fitted.model, &iris)?);
    let mean_top = probabilities
        .iter_rows()
        .map(|row| row.iter().fold(0.0f64, |m, &p| m.max(f64::from(p))))
        .sum::<f64>()
        / probabilities.rows() as f64;
    out.set("iris_mean_top_probability", mean_top);
    out.check(log_max < 0.0 && log_max.is_finite() && sum_error <= 1e-6);
    Ok(())
}

/// Smallest value, largest value and largest |row sum − 1| of probability rows.
fn distribution_stats(probabilities: &[f32], cols: usize) -> (f64, f64, f64) {
    let min = probabilities.iter().fold(f64::INFINITY, |m, &p| m.min(f64::from(p)));
    let max = probabilities
        .iter()
        .fold(f64::NEG_INFINITY, |m, &p| m.max(f64::from(p)));
    let sum_error = probabilities
        .chunks_exact(cols)
        .map(|row| (row.iter().map(|&p| f64::from(p)).sum::<f64>() - 1.0).abs())
        .fold(0.0, f64::max);
    (min, max, sum_error)
}

fn softmax_rows(logits: &[f32], cols: usize, shift: f32) -> Vec<f32> {
    let mut p: Vec<f32> = logits.iter().map(|&z| z + shift).collect();
    p.chunks_exact_mut(cols).for_each(softmax_in_place);
    p
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn softmax_rows_are_distributions() {
        let r = quick(7);
        for set in ["random_logits", "iris"] {
            assert!(m(&r, &format!("{set}_max_sum_error")) <= 1e-6);
            assert!(m(&r, &format!("{set}_min_probability")) >= 0.0);
            assert!(m(&r, &format!("{set}_max_probability")) <= 1.0);
        }
        assert!(m(&r, "max_change_adding_10_to_logits") <= 1e-5);
        assert!(m(&r, "naive_softmax_nan_rows_adding_1000") > 0.0);
        assert!(m(&r, "iris_mean_top_probability") > 1.0 / 3.0);
    }
}
