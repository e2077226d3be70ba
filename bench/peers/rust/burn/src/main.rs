//! W1 of `bench/RESULTS.md` with burn on one of its pure-Rust CPU backends (`--backend flex` or
//! `ndarray`): Fashion-MNIST, 784-256-128-10 ReLU, Adam (lr 1e-3), cross-entropy, one epoch (or
//! `--epochs`) at `--batch`, the batches gathered from a shuffled order as
//! `bench/peers/torch_peer.py` does. One JSON line per epoch.
//!
//! ```text
//! actlab-peer-burn w1 --backend flex --batch 32 --epochs 1 --threads 2
//! ```

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[path = "../../common.rs"]
mod common;

#[derive(Module, Debug)]
struct Mlp {
    l1: Linear,
    l2: Linear,
    l3: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Mlp {
            l1: LinearConfig::new(784, 256).init(device),
            l2: LinearConfig::new(256, 128).init(device),
            l3: LinearConfig::new(128, 10).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.l3.forward(relu(self.l2.forward(relu(self.l1.forward(x)))))
    }
}

fn main() {
    common::set_threads();
    assert_eq!(
        std::env::args().nth(1).as_deref(),
        Some("w1"),
        "usage: actlab-peer-burn w1 [--backend flex|ndarray]"
    );
    let (batch, epochs) = (common::arg("batch", 32usize), common::arg("epochs", 1usize));
    let backend: String = common::arg("backend", "flex".to_string());
    #[allow(deprecated)] // burn 0.22 deprecates NdArray in favour of Flex; both are measured
    let device = match backend.as_str() {
        "flex" => Device::flex(),
        "ndarray" => Device::ndarray(),
        other => panic!("--backend {other}: flex or ndarray"),
    }
    .autodiff();
    let (pixels, labels) = common::fashion_mnist_train();
    let n = labels.len();
    let x = Tensor::<2>::from_data(TensorData::new(pixels, [n, 784]), &device);
    let labels: Vec<i64> = labels.into_iter().map(i64::from).collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device);

    let mut model = Mlp::new(&device);
    let mut adam = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut order: Vec<i64> = (0..n as i64).collect();
    for epoch in 1..=epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        let order_t = Tensor::<1, Int>::from_data(TensorData::new(order.clone(), [n]), &device);
        let mut last = 0.0;
        for i in (0..n).step_by(batch) {
            let idx = order_t.clone().slice(i..(i + batch).min(n));
            let (xb, yb) = (x.clone().select(0, idx.clone()), y.clone().select(0, idx));
            let loss = loss_fn.forward(model.forward(xb), yb);
            if i + batch >= n {
                last = loss.clone().into_scalar::<f32>();
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = adam.step(1e-3, model, grads);
        }
        device.sync().expect("burn device");
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"workload": "w1", "backend": backend, "batch": batch, "epoch": epoch,
                "seconds": seconds, "samples_per_second": n as f64 / seconds, "loss": last,
                "max_rss": common::max_rss()})
        );
    }
}
