//! Experiment 9: initialisation must match the activation.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::harness::{train_rows, Outcome, SEED};
use super::{Axis, Budget, Experiment};
use crate::data::Standardizer;
use crate::mlp::Workspace;
use crate::{Activation, Init, Matrix, Mlp, MlpConfig, Result};

pub(super) const EXPERIMENT: Experiment = Experiment {
    id: 9,
    name: "init_matches_activation",
    claim: "Initialisation must match the activation: through 30 layers at initialisation relu \
            keeps its signal with He scaling and loses it with Glorot or LeCun; tanh with \
            Glorot keeps it; selu with LeCun normal settles at mean 0, variance 1.",
    criterion: "output variance of layer 30 / layer 1: within [0.1, 10] for relu+he, < 1e-3 for \
                relu+glorot and relu+lecun, > 1e-2 for tanh+glorot; selu+lecun layer 30 has \
                |mean| < 0.2 and variance in [0.5, 2] (MNIST-1D inputs, 30 layers of 128)",
    measure,
};

fn measure(budget: Budget, out: &mut Outcome) -> Result<()> {
    const DEPTH: usize = 30;
    let (samples, width) = budget.pick((200, 64), (1000, 128));
    let data = train_rows("mnist1d", samples)?;
    let mut x = data.x.clone();
    Standardizer::fit(&x).apply(&mut x);
    for (activation, init) in [
        (Activation::Relu, Init::He),
        (Activation::Relu, Init::Glorot),
        (Activation::Relu, Init::Lecun),
        (Activation::Tanh, Init::Glorot),
        (Activation::Selu, Init::Lecun),
    ] {
        let config = MlpConfig {
            inputs: x.cols(),
            hidden: vec![width; DEPTH],
            activations: vec![activation],
            outputs: 1,
            output: Activation::Identity,
            residual: false,
            init: Some(init),
        };
        let mlp = Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(SEED))?;
        let stats = layer_statistics(&mlp, &x);
        let key = format!("{activation}_{init}");
        let (first_var, (last_mean, last_var)) = (stats[0].1, stats[DEPTH - 1]);
        out.set(format!("{key}_layer1_variance"), first_var);
        out.set(format!("{key}_layer30_variance"), last_var);
        out.set(format!("{key}_layer30_mean"), last_mean);
        let ratio = out.set(format!("{key}_variance_ratio_30_to_1"), last_var / first_var);
        out.check(match (activation, init) {
            (Activation::Relu, Init::He) => (0.1..=10.0).contains(&ratio),
            (Activation::Relu, _) => ratio < 1e-3,
            (Activation::Tanh, _) => ratio > 1e-2,
            _ => last_mean.abs() < 0.2 && (0.5..=2.0).contains(&last_var),
        });
        out.curve(
            "output variance at init",
            Axis::Layer,
            true,
            format!("{activation} {init}"),
            stats
                .iter()
                .enumerate()
                .map(|(i, &(_, v))| ((i + 1) as f64, v))
                .collect(),
        );
    }
    Ok(())
}

/// Mean and variance of each hidden layer's outputs over a forward pass of `x`.
fn layer_statistics(mlp: &Mlp, x: &Matrix) -> Vec<(f64, f64)> {
    let mut ws = Workspace::default();
    mlp.forward(x.as_slice(), x.rows(), &mut ws);
    (0..mlp.layers().len() - 1)
        .map(|i| {
            let h = ws.output_of(i);
            let n = h.len().max(1) as f64;
            let mean = h.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = h.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
            (mean, var)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::experiments::harness::testing::{m, quick};

    #[test]
    fn he_keeps_relu_signal_and_glorot_loses_it() {
        let r = quick(9);
        let he = m(&r, "relu_he_layer30_variance");
        for init in ["glorot", "lecun"] {
            assert!(he > 1e3 * m(&r, &format!("relu_{init}_layer30_variance")), "{init}");
        }
        assert!(m(&r, "selu_lecun_layer30_mean").abs() < m(&r, "relu_he_layer30_mean").abs());
        let curve = r.curve("output variance at init", "relu he").unwrap();
        assert_eq!(curve.points.len(), 30);
    }
}
