//! W1 of `bench/RESULTS.md` with candle: Fashion-MNIST, 784-256-128-10 ReLU, Adam (lr 1e-3;
//! candle's AdamW with no weight decay), cross-entropy, one epoch (or `--epochs`) at `--batch`,
//! the batches gathered from a shuffled order as `bench/peers/torch_peer.py` does. One JSON line
//! per epoch.
//!
//! ```text
//! actlab-peer-candle w1 --batch 32 --epochs 1 --threads 2
//! ```

use std::time::Instant;

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{linear, loss, AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[path = "../../common.rs"]
mod common;

fn main() -> Result<()> {
    common::set_threads();
    assert_eq!(
        std::env::args().nth(1).as_deref(),
        Some("w1"),
        "usage: actlab-peer-candle w1 [--batch B]"
    );
    let (batch, epochs) = (common::arg("batch", 32usize), common::arg("epochs", 1usize));
    let (pixels, labels) = common::fashion_mnist_train();
    let n = labels.len();
    let device = Device::Cpu;
    let x = Tensor::from_vec(pixels, (n, 784), &device)?;
    let y = Tensor::from_vec(labels, n, &device)?;

    let vars = VarMap::new();
    let vb = VarBuilder::from_varmap(&vars, DType::F32, &device);
    let (l1, l2, l3) = (
        linear(784, 256, vb.pp("l1"))?,
        linear(256, 128, vb.pp("l2"))?,
        linear(128, 10, vb.pp("l3"))?,
    );
    let params = ParamsAdamW {
        lr: 1e-3,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut adam = AdamW::new(vars.all_vars(), params)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut order: Vec<u32> = (0..n as u32).collect();
    for epoch in 1..=epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        let order_t = Tensor::from_slice(&order, n, &device)?;
        let mut last = 0.0;
        for i in (0..n).step_by(batch) {
            let idx = order_t.narrow(0, i, batch.min(n - i))?;
            let (xb, yb) = (x.index_select(&idx, 0)?, y.index_select(&idx, 0)?);
            let logits = l3.forward(&l2.forward(&l1.forward(&xb)?.relu()?)?.relu()?)?;
            let loss = loss::cross_entropy(&logits, &yb)?;
            adam.backward_step(&loss)?;
            if i + batch >= n {
                last = loss.to_scalar::<f32>()?;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"workload": "w1", "batch": batch, "epoch": epoch, "seconds": seconds,
                "samples_per_second": n as f64 / seconds, "loss": last, "max_rss": common::max_rss()})
        );
    }
    Ok(())
}
