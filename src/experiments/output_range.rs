//! Experiment 8: the output activation must fit the target range.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::harness::{dataset, fit_config, training, Outcome, SEED};
use super::{Budget, Experiment};
use crate::model::{fit, FitConfig};
use crate::optim::OptimizerKind;
use crate::{Activation, Dataset, Matrix, Result, Target};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 8,
    name: "output_fits_target",
    claim: "The output activation must fit the target range: with targets above 1 (target \
            scaling off) a sigmoid or tanh output fails while identity and relu work; targets \
            in [0, 1] work with sigmoid; multi-class works with softmax.",
    criterion: "train R² >= 0.9 for identity and relu and < 0 for sigmoid and tanh on targets in \
                about [1, 6]; R² >= 0.9 for sigmoid on the same targets rescaled to [0, 1]; \
                train accuracy >= 0.9 for softmax on iris",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    let (samples, epochs) = budget.pick((200, 60), (500, 150));
    let above_one = regression_data(samples);
    let Target::Values(y) = &above_one.target else {
        unreachable!("regression data has values")
    };
    let (low, high) = y
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    out.set("targets_min", f64::from(low));
    out.set("targets_max", f64::from(high));
    let unit = Dataset {
        target: Target::Values(y.iter().map(|&v| (v - low) / (high - low)).collect()),
        ..above_one.clone()
    };
    let regress = |data: &Dataset, output: Activation| -> Result<(f64, f64)> {
        let config = FitConfig {
            output: Some(output),
            scale_target: false,
            ..fit_config(vec![32], Activation::Tanh, training(OptimizerKind::Adam, 0.01, epochs))
        };
        let scores = fit(data, &config)?.model.evaluate(data)?;
        Ok((scores.loss, scores.r2.expect("regression scores have R²")))
    };
    for output in [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
    ] {
        let (mse, r2) = regress(&above_one, output)?;
        out.set(format!("above_1_{output}_mse"), mse);
        out.set(format!("above_1_{output}_r2"), r2);
        out.check(if matches!(output, Activation::Identity | Activation::Relu) {
            r2 >= 0.9
        } else {
            r2 < 0.0
        });
    }
    let (mse, r2) = regress(&unit, Activation::Sigmoid)?;
    out.set("unit_interval_sigmoid_mse", mse);
    out.set("unit_interval_sigmoid_r2", r2);
    out.check(r2 >= 0.9);

    let iris = dataset("iris", None)?.train;
    let config = fit_config(vec![16], Activation::Relu, training(OptimizerKind::Adam, 0.01, epochs));
    let fitted = fit(&iris, &config)?;
    let scores = fitted.model.evaluate(&iris)?;
    out.set("iris_softmax_cross_entropy", scores.loss);
    let acc = out.set("iris_softmax_train_accuracy", scores.accuracy.unwrap_or(0.0));
    out.check(acc >= 0.9);
    Ok(())
}

/// `y = 4 + 2·x₁ − x₂² + 0.1·ε` for `x` uniform in [-1, 1]²: targets in about [1, 6].
fn regression_data(n: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let noise = Normal::new(0.0f32, 0.1).expect("finite std");
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
        x.extend([a, b]);
        y.push(4.0 + 2.0 * a - b * b + noise.sample(&mut rng));
    }
    Dataset {
        x: Matrix::from_vec(n, 2, x),
        feature_names: vec!["x1".into(), "x2".into()],
        target_name: "y".into(),
        target: Target::Values(y),
        images: false,
    }
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn bounded_outputs_fail_on_targets_above_one() {
        let r = quick(8);
        assert!(m(&r, "targets_max") > 1.0);
        for bounded in ["sigmoid", "tanh"] {
            for unbounded in ["identity", "relu"] {
                let (b, u) = (format!("above_1_{bounded}"), format!("above_1_{unbounded}"));
                assert!(m(&r, &format!("{u}_r2")) > m(&r, &format!("{b}_r2")) + 1.0);
                assert!(m(&r, &format!("{u}_mse")) < m(&r, &format!("{b}_mse")));
            }
        }
        assert!(m(&r, "unit_interval_sigmoid_r2") > m(&r, "above_1_sigmoid_r2") + 1.0);
    }
}
