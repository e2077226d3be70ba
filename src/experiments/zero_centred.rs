//! Experiment 3: sigmoid is not zero-centred.

use super::harness::{train_model, train_rows, training, untrained, Outcome, SEED};
use super::{Budget, Experiment};
use crate::optim::OptimizerKind;
use crate::{Activation, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 3,
    name: "sigmoid_not_zero_centred",
    claim: "Sigmoid is not zero-centred: its outputs' mean is far from 0 while tanh's is near 0, \
            and the weight gradients into a neuron fed by sigmoid units share one sign.",
    criterion: "after 10 epochs (digits, 2 hidden layers of 32, Adam): |mean output| of hidden layer 1 \
                >= 0.25 for sigmoid and <= 0.1 for tanh; same-sign share of hidden layer 2's \
                incoming weight gradients >= 0.95 fed by sigmoid and <= 0.8 fed by tanh",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    let (samples, epochs) = budget.pick((400, 3), (1797, 10));
    let data = train_rows("digits", samples)?;
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        let mut model = untrained(&data, vec![32, 32], activation, SEED)?;
        let before = model.diagnose(&data, 2000)?;
        train_model(&mut model, &data, &training(OptimizerKind::Adam, 1e-3, epochs))?;
        let after = model.diagnose(&data, 2000)?;
        for (when, d) in [("init", &before), ("trained", &after)] {
            out.set(
                format!("{activation}_layer1_output_mean_{when}"),
                d.layers[0].output_mean,
            );
            out.set(
                format!("{activation}_layer2_same_sign_share_{when}"),
                d.layers[1].same_sign_share,
            );
        }
        let (mean, share) = (after.layers[0].output_mean.abs(), after.layers[1].same_sign_share);
        out.check(if activation == Activation::Sigmoid {
            mean >= 0.25 && share >= 0.95
        } else {
            mean <= 0.1 && share <= 0.8
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn sigmoid_outputs_are_off_centre_and_tanh_outputs_are_not() {
        let r = quick(3);
        for when in ["init", "trained"] {
            let sigmoid = m(&r, &format!("sigmoid_layer1_output_mean_{when}")).abs();
            let tanh = m(&r, &format!("tanh_layer1_output_mean_{when}")).abs();
            assert!(sigmoid > tanh + 0.2, "{when}: {sigmoid} vs {tanh}");
            let sigmoid = m(&r, &format!("sigmoid_layer2_same_sign_share_{when}"));
            let tanh = m(&r, &format!("tanh_layer2_same_sign_share_{when}"));
            assert!(sigmoid > tanh + 0.1, "{when}: {sigmoid} vs {tanh}");
        }
    }
}
