//! Experiment 4: tanh is preferred to sigmoid.

use super::harness::{accuracy, accuracy_curve, fit_config, record_reached, train_rows, training, Outcome, SEED};
use super::{Axis, Budget, Experiment};
use crate::data::stratified_split;
use crate::model::fit;
use crate::optim::OptimizerKind;
use crate::{Activation, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 4,
    name: "tanh_beats_sigmoid",
    claim: "Tanh is preferred to sigmoid: on the same data, network, seed and budget it trains \
            faster and ends at least as accurate.",
    criterion: "digits 64-64-64-10, 30 epochs, plain SGD (lr 0.1) and Adam (lr 0.001): tanh reaches 90% \
                training accuracy in fewer epochs than sigmoid (never reaching counts as never) \
                and ends with a test accuracy at least as high, under both optimizers",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    const TARGET: f64 = 0.9;
    let (samples, epochs) = budget.pick((600, 8), (1797, 30));
    let data = train_rows("digits", samples)?;
    let (train_set, test_set) = stratified_split(&data, 0.2, SEED);
    for (kind, lr) in [(OptimizerKind::Sgd, 0.1), (OptimizerKind::Adam, 1e-3)] {
        let mut epochs_to = [0.0; 2];
        let mut test_acc = [0.0; 2];
        for (i, activation) in [Activation::Tanh, Activation::Sigmoid].into_iter().enumerate() {
            let config = fit_config(vec![64, 64], activation, training(kind, lr, epochs));
            let fitted = fit(&train_set, &config)?;
            let prefix = format!("{kind}_{activation}");
            epochs_to[i] = record_reached(out, &prefix, &fitted.history, TARGET);
            let train_scores = fitted.model.evaluate(&train_set)?;
            out.set(format!("{prefix}_train_loss"), train_scores.loss);
            out.set(format!("{prefix}_train_accuracy"), train_scores.accuracy.unwrap_or(0.0));
            test_acc[i] = out.set(format!("{prefix}_test_accuracy"), accuracy(&fitted.model, &test_set)?);
            out.curve(
                &format!("training accuracy with {kind}"),
                Axis::Epoch,
                false,
                activation.to_string(),
                accuracy_curve(&fitted.history),
            );
        }
        out.check(epochs_to[0] < epochs_to[1] && test_acc[0] >= test_acc[1]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{epochs, m, quick};

    #[test]
    fn tanh_trains_faster_than_sigmoid() {
        let r = quick(4);
        for optimizer in ["sgd", "adam"] {
            let (tanh, sigmoid) = (format!("{optimizer}_tanh"), format!("{optimizer}_sigmoid"));
            assert!(epochs(&r, &tanh).is_finite() && epochs(&r, &tanh) < epochs(&r, &sigmoid));
            let loss = |p: &str| m(&r, &format!("{p}_train_loss"));
            assert!(loss(&tanh) < loss(&sigmoid), "{optimizer}");
        }
    }
}
