//! What the two benchmark binaries (`engine`, `workloads`) share: the functions whose kernels
//! they time and the networks of the workloads.

use actlab::{Activation, Mlp, MlpConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The activation functions of workload W3.
pub const W3_FUNCTIONS: [&str; 8] = [
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "elu",
    "softplus",
];

/// `inputs → hidden… → outputs` with `activation` on every hidden layer and a softmax output,
/// initial weights drawn from `seed`.
pub fn network(inputs: usize, hidden: Vec<usize>, activation: Activation, outputs: usize, seed: u64) -> Mlp {
    let config = MlpConfig {
        inputs,
        hidden,
        activations: vec![activation],
        outputs,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap()
}
