//! Criterion benchmarks of the engine: activation kernels, matrix products on the shapes of
//! the 784-256-128-10 network, its forward and backward passes, one full training step and
//! single-sample inference.
//!
//! `cargo bench --bench engine` (all), or e.g. `cargo bench --bench engine -- kernels/relu`.

use std::hint::black_box;

use actlab::loss::Loss;
use actlab::matrix::{gemm, Op};
use actlab::mlp::Workspace;
use actlab::optim::{Optimizer, OptimizerConfig};
use actlab::Activation;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shared::{network, W3_FUNCTIONS};

#[path = "shared/mod.rs"]
mod shared;

fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

fn one_hot_targets(rows: usize, classes: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * classes];
    for r in 0..rows {
        t[r * classes + (r * 7) % classes] = 1.0;
    }
    t
}

fn kernels(c: &mut Criterion) {
    const N: usize = 1 << 22;
    let z = uniform(N, -6.0, 6.0, 1);
    let grad_y = uniform(N, -1.0, 1.0, 2);
    let mut y = vec![0.0; N];
    let mut grad_z = vec![0.0; N];
    let mut group = c.benchmark_group("kernels");
    group.throughput(Throughput::Bytes((2 * N * 4) as u64));
    group.sample_size(20);
    for name in W3_FUNCTIONS {
        let act: Activation = name.parse().unwrap();
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter(|| act.forward_batch(black_box(&z), &mut y, 1, &[]))
        });
        act.forward_batch(&z, &mut y, 1, &[]);
        group.bench_function(BenchmarkId::new("backward", name), |b| {
            b.iter(|| act.backward_batch(black_box(&z), &y, &grad_y, &mut grad_z, 1, &[]))
        });
    }
    group.finish();
}

fn products(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm");
    group.sample_size(20);
    // (name, m, n, k, op_a, op_b): the forward, weight-gradient and input-gradient products of
    // the 784-256-128-10 network at batch 128, and a square one.
    let b = 128;
    let shapes = [
        ("fwd1", b, 256, 784, Op::N, Op::T),
        ("fwd2", b, 128, 256, Op::N, Op::T),
        ("fwd3", b, 10, 128, Op::N, Op::T),
        ("dw1", 256, 784, b, Op::T, Op::N),
        ("dw2", 128, 256, b, Op::T, Op::N),
        ("dx2", b, 256, 128, Op::N, Op::N),
        ("sq1024", 1024, 1024, 1024, Op::N, Op::N),
    ];
    for (name, m, n, k, op_a, op_b) in shapes {
        let a = uniform(m * k, -1.0, 1.0, 3);
        let bm = uniform(k * n, -1.0, 1.0, 4);
        let mut out = vec![0.0; m * n];
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.bench_function(format!("{name}_{m}x{n}x{k}"), |bch| {
            bch.iter(|| gemm(m, n, k, black_box(&a), op_a, &bm, op_b, &mut out, false))
        });
    }
    group.finish();
}

fn training(c: &mut Criterion) {
    let mut mlp = network(784, vec![256, 128], Activation::Relu, 10, 5);
    let mut group = c.benchmark_group("w1");
    group.sample_size(20);
    for rows in [32, 128, 512] {
        let x = uniform(rows * 784, -1.0, 1.0, 6);
        let t = one_hot_targets(rows, 10);
        let mut ws = Workspace::default();
        let mut grads = vec![0.0; mlp.params().len()];
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function(BenchmarkId::new("forward", rows), |b| {
            b.iter(|| mlp.forward(black_box(&x), rows, &mut ws))
        });
        group.bench_function(BenchmarkId::new("backward", rows), |b| {
            mlp.forward(&x, rows, &mut ws);
            let (z, y, g) = ws.output_parts();
            Loss::CrossEntropy.loss_and_grad(Activation::Softmax, z, y, &t, 10, g);
            b.iter(|| {
                grads.fill(0.0);
                mlp.backward(black_box(&x), &mut ws, &mut grads)
            })
        });
        let mut optimizer = Optimizer::new(OptimizerConfig::default(), mlp.params().len());
        let decayed: Vec<_> = mlp.weight_ranges().collect();
        group.bench_function(BenchmarkId::new("train_step", rows), |b| {
            b.iter(|| {
                mlp.forward(black_box(&x), rows, &mut ws);
                let (z, y, g) = ws.output_parts();
                let loss = Loss::CrossEntropy.loss_and_grad(Activation::Softmax, z, y, &t, 10, g);
                grads.fill(0.0);
                mlp.backward(&x, &mut ws, &mut grads);
                optimizer.step(mlp.params_mut(), &mut grads, 1e-4, &decayed);
                loss
            })
        });
    }
    group.finish();
}

fn inference(c: &mut Criterion) {
    let mlp = network(40, vec![100, 100], Activation::Relu, 10, 8);
    let x = uniform(40, -1.0, 1.0, 9);
    let mut ws = Workspace::default();
    c.bench_function("w4/forward_one_40-100-100-10", |b| {
        b.iter(|| {
            mlp.forward(black_box(&x), 1, &mut ws);
            ws.output()[0]
        })
    });
    let mut predictor = actlab::inference::Predictor::new(&mlp);
    c.bench_function("w4/predict_one_40-100-100-10", |b| {
        b.iter(|| predictor.predict_one(black_box(&x))[0])
    });
}

criterion_group!(benches, kernels, products, training, inference);
criterion_main!(benches);
