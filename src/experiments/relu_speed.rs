//! Experiment 5: ReLU trains faster.

use std::collections::BTreeMap;

use super::harness::{accuracy, accuracy_curve, fit_config, record_reached, train_rows, training, Outcome};
use super::{Axis, Budget, Experiment};
use crate::model::fit;
use crate::optim::OptimizerKind;
use crate::{Activation, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 5,
    name: "relu_trains_faster",
    claim: "ReLU trains faster: it reaches a target training accuracy in fewer epochs (and \
            seconds) than tanh and sigmoid.",
    criterion: "MNIST-1D 40-100-100-100-10, SGD with momentum 0.9 (lr 0.01), 40 epochs: relu reaches 70% \
                training accuracy in fewer epochs than tanh and than sigmoid (never reaching \
                counts as never)",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    const TARGET: f64 = 0.7;
    let (samples, epochs) = budget.pick((1000, 15), (4000, 40));
    let data = train_rows("mnist1d", samples)?;
    let mut epochs_to = BTreeMap::new();
    for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        let config = fit_config(
            vec![100, 100, 100],
            activation,
            training(OptimizerKind::Momentum, 0.01, epochs),
        );
        let fitted = fit(&data, &config)?;
        let name = activation.to_string();
        epochs_to.insert(name.clone(), record_reached(out, &name, &fitted.history, TARGET));
        out.set(format!("{name}_train_accuracy"), accuracy(&fitted.model, &data)?);
        out.curve(
            "training accuracy",
            Axis::Epoch,
            false,
            name.clone(),
            accuracy_curve(&fitted.history),
        );
    }
    let relu = epochs_to["relu"];
    for other in ["tanh", "sigmoid"] {
        if relu.is_finite() && epochs_to[other].is_finite() {
            out.set(format!("epochs_ratio_{other}_to_relu"), epochs_to[other] / relu);
        }
    }
    out.check(relu < epochs_to["tanh"] && relu < epochs_to["sigmoid"]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{epochs, m, quick};

    #[test]
    fn relu_reaches_the_target_first() {
        let r = quick(5);
        let relu = epochs(&r, "relu");
        assert!(relu.is_finite() && relu < epochs(&r, "tanh") && relu < epochs(&r, "sigmoid"));
        assert!(m(&r, "relu_train_accuracy") > m(&r, "sigmoid_train_accuracy"));
    }
}
