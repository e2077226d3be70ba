//! Experiment 1: without activations a network is one linear map.

use super::harness::{accuracy, dataset, fit_config, training, Outcome};
use super::{Budget, Experiment};
use crate::mlp::Workspace;
use crate::model::fit;
use crate::optim::OptimizerKind;
use crate::{Activation, Matrix, Mlp, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 1,
    name: "linear_collapse",
    claim: "Without activations a network is one linear map: the product of its layers' matrices \
            reproduces its output, and on XOR and circles it stays at chance level while tanh and \
            relu networks fit.",
    criterion: "a trained 2-8-8-1 identity network's logits differ from the folded affine map by at \
                most 1e-4 (a tanh network's by more than 1e-2); identity train accuracy <= 0.75 \
                on xor and circles; tanh and relu >= 0.95 on both",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    let (samples, epochs) = budget.pick((200, 100), (400, 200));
    for name in ["xor", "circles"] {
        let data = dataset(name, Some(samples))?.train;
        for activation in [Activation::Identity, Activation::Tanh, Activation::Relu] {
            let config = fit_config(vec![8, 8], activation, training(OptimizerKind::Adam, 0.01, epochs));
            let fitted = fit(&data, &config)?;
            let acc = out.set(
                format!("{name}_{activation}_train_accuracy"),
                accuracy(&fitted.model, &data)?,
            );
            out.check(if activation == Activation::Identity {
                acc <= 0.75
            } else {
                acc >= 0.95
            });
            if name == "xor" && activation != Activation::Relu {
                let x = fitted.model.inputs(&data)?;
                let error = out.set(
                    format!("folded_map_max_abs_difference_{activation}"),
                    folded_map_error(&fitted.model.mlp, &x),
                );
                out.check(if activation == Activation::Identity {
                    error <= 1e-4
                } else {
                    error > 1e-2
                });
            }
        }
    }
    Ok(())
}

/// Folds every layer's `W·h + b` into one affine map `A·x + c` (in f64, activations ignored) and
/// returns the largest difference between `A·x + c` and the network's logits on `x`.
fn folded_map_error(mlp: &Mlp, x: &Matrix) -> f64 {
    let n = mlp.inputs();
    let mut a: Vec<f64> = (0..n * n).map(|k| if k / n == k % n { 1.0 } else { 0.0 }).collect();
    let mut c = vec![0.0f64; n];
    for (i, layer) in mlp.layers().iter().enumerate() {
        let p = mlp.layer_params(i);
        let mut a_next = vec![0.0f64; layer.outputs * n];
        let mut c_next: Vec<f64> = p.bias.iter().map(|&b| f64::from(b)).collect();
        for o in 0..layer.outputs {
            for k in 0..layer.inputs {
                let w = f64::from(p.weight[o * layer.inputs + k]);
                c_next[o] += w * c[k];
                for j in 0..n {
                    a_next[o * n + j] += w * a[k * n + j];
                }
            }
        }
        a = a_next;
        c = c_next;
    }
    let mut ws = Workspace::default();
    mlp.forward(x.as_slice(), x.rows(), &mut ws);
    let outputs = mlp.outputs();
    let mut worst = 0.0f64;
    for (row, logits) in x.iter_rows().zip(ws.logits().chunks_exact(outputs)) {
        for (o, &logit) in logits.iter().enumerate() {
            let folded: f64 = c[o] + (0..n).map(|j| a[o * n + j] * f64::from(row[j])).sum::<f64>();
            worst = worst.max((folded - f64::from(logit)).abs());
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn identity_network_is_one_affine_map_and_stays_at_chance() {
        let r = quick(1);
        assert!(m(&r, "folded_map_max_abs_difference_identity") < 1e-4);
        assert!(m(&r, "folded_map_max_abs_difference_tanh") > 1e-2);
        for data in ["xor", "circles"] {
            let identity = m(&r, &format!("{data}_identity_train_accuracy"));
            for nonlinear in ["tanh", "relu"] {
                let fitted = m(&r, &format!("{data}_{nonlinear}_train_accuracy"));
                assert!(
                    fitted > identity + 0.2,
                    "{data}: {nonlinear} {fitted} vs identity {identity}"
                );
            }
        }
    }
}
