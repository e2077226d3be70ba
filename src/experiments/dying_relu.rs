//! Experiment 6: ReLU neurons can die.

use std::collections::BTreeMap;

use super::harness::{
    accuracy, diagnosed_epochs, hidden_mean, train_diagnosed, train_rows, training, untrained, Outcome, SEED,
};
use super::{Axis, Budget, Experiment};
use crate::optim::OptimizerKind;
use crate::{Activation, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 6,
    name: "dying_relu",
    claim: "ReLU neurons can die: with a large learning rate a share of a relu network's \
            neurons (claimed 20-50%) output 0 on every sample, while leaky relu under the same \
            settings has none.",
    criterion: "digits 64-128-128-10, 15 epochs of Adam at learning rate 0.05: relu dead fraction >= 0.05 and \
                above its dead fraction at learning rate 0.001; leaky relu dead fraction < 0.01",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    let (samples, epochs) = budget.pick((600, 5), (1797, 15));
    let data = train_rows("digits", samples)?;
    let leaky = Activation::LeakyRelu { negative_slope: 0.01 };
    let mut dead = BTreeMap::new();
    for (activation, lr) in [(Activation::Relu, 0.05), (Activation::Relu, 1e-3), (leaky, 0.05)] {
        let mut model = untrained(&data, vec![128, 128], activation, SEED)?;
        let history = train_diagnosed(&mut model, &data, training(OptimizerKind::Adam, lr, epochs), 2000)?;
        let d = model.diagnose(&data, 2000)?;
        let key = format!("{activation}_lr_{lr}");
        dead.insert(
            key.clone(),
            out.set(
                format!("{key}_dead_fraction"),
                hidden_mean(&d, |l| Some(l.dead_fraction)),
            ),
        );
        out.set(format!("{key}_train_accuracy"), accuracy(&model, &data)?);
        out.curve(
            "dead fraction of hidden units",
            Axis::Epoch,
            false,
            format!("{activation} lr {lr}"),
            diagnosed_epochs(&history, |d| hidden_mean(d, |l| Some(l.dead_fraction))),
        );
    }
    let (large, small, leaky_dead) = (dead["relu_lr_0.05"], dead["relu_lr_0.001"], dead["leaky_relu_lr_0.05"]);
    out.check(large >= 0.05 && large > small && leaky_dead < 0.01);
    out.notes.push(format!(
        "Measured {:.1}% dead relu units at learning rate 0.05 ({} the claimed 20-50%).",
        100.0 * large,
        if (0.2..=0.5).contains(&large) {
            "within"
        } else {
            "outside"
        }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn large_learning_rate_kills_relu_units_but_not_leaky_ones() {
        let r = quick(6);
        let large = m(&r, "relu_lr_0.05_dead_fraction");
        assert!(large > m(&r, "relu_lr_0.001_dead_fraction"));
        assert!(large > m(&r, "leaky_relu_lr_0.05_dead_fraction"));
        assert!(r.notes.as_deref().unwrap().contains("dead relu units"));
    }
}
