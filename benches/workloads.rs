//! The actlab side of `bench/run`: the workloads W1–W5 of `bench/RESULTS.md`, one per call,
//! printing one JSON object per measurement.
//!
//! ```text
//! cargo bench --bench workloads -- w1 --batch 32 --epochs 1 --threads 2
//! cargo bench --bench workloads -- w2 --activation tanh --epochs 10 --threads 2
//! cargo bench --bench workloads -- w3 --n 16777216 --threads 2
//! cargo bench --bench workloads -- w4
//! cargo bench --bench workloads -- w5 --threads 2
//! cargo bench --bench workloads -- peak
//! cargo bench --bench workloads -- w6 --file table.csv --reps 5 --threads 2
//! cargo bench --bench workloads -- w6 --idx /usr/share/datasets/fashion-mnist --reps 5 --threads 2
//! ```
//! Fashion-MNIST is read from `/usr/share/datasets/fashion-mnist` (or `$FASHION_MNIST`), its
//! pixels standardized with one mean and standard deviation (as `--scaling global` does).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use actlab::data::{read_idx_dir, Standardizer};
use actlab::inference::Predictor;
use actlab::matrix::{gemm, Matrix, Op};
use actlab::optim::{OptimizerConfig, OptimizerKind};
use actlab::train::{self, Batchable, TrainConfig};
use actlab::{Activation, Dataset, Loss, Target};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use shared::{network, W3_FUNCTIONS};

#[path = "shared/mod.rs"]
mod shared;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &format!("--{name}"))
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("--{name}: cannot parse {v}")))
        .unwrap_or(default)
}

fn emit(value: serde_json::Value) {
    println!("{value}");
}

/// Peak resident memory of this process (VmHWM), in bytes.
fn max_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Times `f` `reps` times; the median in seconds.
fn time_median(reps: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Fashion-MNIST's training and test sets, standardized in place with the training pixels'
/// global mean and standard deviation, with one-hot targets and labels.
struct Prepared {
    x: Matrix,
    targets: Matrix,
    labels: Vec<u32>,
}

fn prepare(data: Dataset, scaler: &Standardizer) -> Prepared {
    let Dataset { mut x, target, .. } = data;
    scaler.apply(&mut x);
    let Target::Classes { labels, classes } = target else {
        panic!("Fashion-MNIST has classes")
    };
    let mut targets = Matrix::zeros(labels.len(), classes.len());
    for (row, &l) in labels.iter().enumerate() {
        targets.row_mut(row)[l as usize] = 1.0;
    }
    Prepared { x, targets, labels }
}

fn fashion_mnist(with_test: bool) -> (Prepared, Option<Prepared>) {
    let dir = std::env::var("FASHION_MNIST").unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let split = read_idx_dir(&PathBuf::from(dir)).expect("reading Fashion-MNIST");
    let scaler = Standardizer::fit_global(&split.train.x);
    let test = if with_test { split.test } else { None };
    let train = prepare(split.train, &scaler);
    (train, test.map(|t| prepare(t, &scaler)))
}

fn batchable(p: &Prepared) -> Batchable<'_> {
    Batchable {
        x: &p.x,
        targets: &p.targets,
        labels: Some(&p.labels),
        weights: None,
    }
}

/// W1: one epoch (or `--epochs`) of 784-256-128-10 ReLU, Adam, at `--batch`.
fn w1() {
    let (batch, epochs) = (arg("batch", 32usize), arg("epochs", 1usize));
    let (train, _) = fashion_mnist(false);
    let mut mlp = network(784, vec![256, 128], Activation::Relu, 10, 0);
    let config = TrainConfig {
        epochs: Some(epochs),
        batch_size: batch,
        learning_rate: 1e-3,
        ..TrainConfig::default()
    };
    let n = train.x.rows() as f64;
    let mut previous = 0.0;
    train::train(&mut mlp, Loss::CrossEntropy, batchable(&train), None, &config, |e| {
        let seconds = e.seconds - previous;
        previous = e.seconds;
        emit(
            json!({"workload": "w1", "batch": batch, "epoch": e.epoch, "seconds": seconds,
            "samples_per_second": n / seconds, "loss": e.train_loss, "max_rss": max_rss(),
            "data_bytes": train.x.as_slice().len() * 4, "params": mlp_params(784, &[256, 128], 10)}),
        );
    })
    .unwrap();
}

fn mlp_params(inputs: usize, hidden: &[usize], outputs: usize) -> usize {
    let mut widths = vec![inputs];
    widths.extend_from_slice(hidden);
    widths.push(outputs);
    widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
}

/// W2: scikit-learn's `MLPClassifier(hidden_layer_sizes=(100,))` defaults: Adam (lr 1e-3),
/// batch 200, L2 penalty α = 1e-4 (added to the gradient as α/batch · W).
fn w2() {
    let name: String = arg("activation", "relu".to_string());
    let epochs = arg("epochs", 10usize);
    let activation: Activation = name.parse().unwrap();
    let (train, test) = fashion_mnist(true);
    let test = test.unwrap();
    let mut mlp = network(784, vec![100], activation, 10, 0);
    let config = TrainConfig {
        epochs: Some(epochs),
        batch_size: 200,
        learning_rate: 1e-3,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Adam,
            weight_decay: 1e-4 / 200.0,
            ..OptimizerConfig::default()
        },
        ..TrainConfig::default()
    };
    let mut seconds = Vec::new();
    let mut previous = 0.0;
    train::train(&mut mlp, Loss::CrossEntropy, batchable(&train), None, &config, |e| {
        seconds.push(e.seconds - previous);
        previous = e.seconds;
    })
    .unwrap();
    let accuracy = train::evaluate(&mlp, batchable(&test), Loss::CrossEntropy)
        .score
        .expect("accuracy of a non-empty set");
    emit(json!({"workload": "w2", "activation": name, "epochs": epochs,
        "seconds_per_epoch": median(seconds), "test_accuracy": accuracy}));
}

/// W3: forward and backward kernels on `--n` values, and the copy bandwidth, GB/s.
fn w3() {
    let (n, reps) = (arg("n", 1usize << 24), arg("reps", 7usize));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut uniform = |lo: f32, hi: f32| -> Vec<f32> {
        use rand::RngExt;
        (0..n).map(|_| rng.random_range(lo..hi)).collect()
    };
    let (z, grad_y) = (uniform(-6.0, 6.0), uniform(-1.0, 1.0));
    let (mut y, mut out) = (vec![0.0f32; n], vec![0.0f32; n]);
    // Copy with the same split over threads as the kernels.
    let copy = time_median(reps, || {
        use rayon::prelude::*;
        out.par_chunks_mut(1 << 15)
            .zip(z.par_chunks(1 << 15))
            .for_each(|(o, i)| o.copy_from_slice(i));
    });
    emit(json!({"workload": "w3", "function": "copy", "direction": "copy", "seconds": copy, "bytes": 8 * n}));
    let streaming_copy = time_median(reps, || {
        use rayon::prelude::*;
        out.par_chunks_mut(1 << 15)
            .zip(z.par_chunks(1 << 15))
            .for_each(|(o, i)| stream_copy(i, o));
    });
    emit(
        json!({"workload": "w3", "function": "streaming_copy", "direction": "copy", "seconds": streaming_copy,
        "bytes": 8 * n}),
    );
    for name in W3_FUNCTIONS {
        let act: Activation = name.parse().unwrap();
        act.forward_batch(&z, &mut y, 1, &[]);
        let forward = time_median(reps, || act.forward_batch(black_box(&z), &mut y, 1, &[]));
        let backward = time_median(reps, || {
            act.backward_batch(black_box(&z), &y, &grad_y, &mut out, 1, &[])
        });
        emit(json!({"workload": "w3", "function": name, "direction": "forward", "seconds": forward, "bytes": 8 * n}));
        // grad_y and one of z or y in, grad_z out (each kernel reads only the one it needs)
        emit(
            json!({"workload": "w3", "function": name, "direction": "backward", "seconds": backward, "bytes": 12 * n}),
        );
    }
}

/// A copy with non-temporal stores, which write memory without first reading the lines
/// into the caches, and the source prefetched 4 KiB ahead (x86-64; elsewhere a plain copy):
/// the bandwidth open to a kernel that streams its output, as actlab's do for outputs this
/// large, the same way.
fn stream_copy(src: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_ps, _mm_prefetch, _mm_sfence, _mm_stream_ps, _MM_HINT_T0};
        let head = dst.as_ptr().align_offset(64).min(dst.len());
        dst[..head].copy_from_slice(&src[..head]);
        let (src, dst) = (&src[head..], &mut dst[head..]);
        let (mut from, mut to) = (src.chunks_exact(16), dst.chunks_exact_mut(16));
        for (s16, d16) in (&mut from).zip(&mut to) {
            // SAFETY: SSE is part of x86-64; `d16` is 16 floats from a 64-byte boundary, and a
            // prefetch never faults.
            unsafe {
                _mm_prefetch(s16.as_ptr().wrapping_add(1024).cast::<i8>(), _MM_HINT_T0);
                for k in 0..4 {
                    _mm_stream_ps(d16.as_mut_ptr().add(4 * k), _mm_loadu_ps(s16.as_ptr().add(4 * k)));
                }
            }
        }
        to.into_remainder().copy_from_slice(from.remainder());
        // SAFETY: as above.
        unsafe { _mm_sfence() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// W4: single-sample prediction through 40-100-100-10 ReLU (softmax output) with a
/// [`Predictor`], median latency.
fn w4() {
    let (calls, rounds) = (arg("calls", 20_000usize), arg("rounds", 51usize));
    let mlp = network(40, vec![100, 100], Activation::Relu, 10, 0);
    let x: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
    let mut predictor = Predictor::new(&mlp);
    let mut call = |x: &[f32]| predictor.predict_one(x)[0];
    for _ in 0..1000 {
        black_box(call(black_box(&x)));
    }
    let per_call: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                black_box(call(black_box(&x)));
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    let fastest = per_call.iter().copied().fold(f64::INFINITY, f64::min);
    emit(json!({"workload": "w4", "median_seconds": median(per_call), "min_seconds": fastest}));
}

/// The matrix products of W1 (forward, weight gradient, input gradient) and 1024³.
pub fn w5_shapes() -> Vec<(String, usize, usize, usize, Op, Op)> {
    let mut shapes = Vec::new();
    for b in [32, 128, 512] {
        shapes.push((format!("fwd1 b{b}"), b, 256, 784, Op::N, Op::T));
        shapes.push((format!("fwd2 b{b}"), b, 128, 256, Op::N, Op::T));
        shapes.push((format!("fwd3 b{b}"), b, 10, 128, Op::N, Op::T));
        shapes.push((format!("dw1 b{b}"), 256, 784, b, Op::T, Op::N));
        shapes.push((format!("dw2 b{b}"), 128, 256, b, Op::T, Op::N));
        shapes.push((format!("dx2 b{b}"), b, 256, 128, Op::N, Op::N));
    }
    shapes.push(("square".into(), 1024, 1024, 1024, Op::N, Op::N));
    shapes
}

/// W5: GFLOP/s of [`gemm`] on the shapes of W1 and on 1024³.
fn w5() {
    let reps = arg("reps", 15usize);
    for (name, m, n, k, op_a, op_b) in w5_shapes() {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let inner = ((2e7 / flops) as usize).max(1);
        gemm(m, n, k, &a, op_a, &b, op_b, &mut c, false);
        let seconds = time_median(reps, || {
            for _ in 0..inner {
                gemm(m, n, k, black_box(&a), op_a, &b, op_b, &mut c, false);
            }
        }) / inner as f64;
        emit(json!({"workload": "w5", "shape": name, "m": m, "n": n, "k": k,
            "gflops": flops / seconds / 1e9}));
    }
}

/// The machine's peak: the clock from a chain of dependent integer additions (one per cycle),
/// and the FMA units from the throughput of independent 512-bit (else 256-bit) FMAs.
fn peak() {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::asm;
        let adds = 1u64 << 30;
        let start = Instant::now();
        let mut x = 0u64;
        for _ in 0..adds / 8 {
            // SAFETY: register arithmetic only.
            unsafe {
                // register operands: a chain of immediate additions can be folded at rename
                asm!("add {x}, {one}", "add {x}, {one}", "add {x}, {one}", "add {x}, {one}",
                     "add {x}, {one}", "add {x}, {one}", "add {x}, {one}", "add {x}, {one}",
                     x = inout(reg) x, one = in(reg) 1u64);
            }
        }
        let ghz = adds as f64 / start.elapsed().as_secs_f64() / 1e9;
        black_box(x);
        let wide = std::arch::is_x86_feature_detected!("avx512f");
        let iterations = 1u64 << 26;
        let start = Instant::now();
        for _ in 0..iterations {
            // SAFETY: register arithmetic only; the clobbered registers are declared.
            unsafe {
                if wide {
                    asm!(
                        "vfmadd231ps zmm0, zmm12, zmm13", "vfmadd231ps zmm1, zmm12, zmm13",
                        "vfmadd231ps zmm2, zmm12, zmm13", "vfmadd231ps zmm3, zmm12, zmm13",
                        "vfmadd231ps zmm4, zmm12, zmm13", "vfmadd231ps zmm5, zmm12, zmm13",
                        "vfmadd231ps zmm6, zmm12, zmm13", "vfmadd231ps zmm7, zmm12, zmm13",
                        "vfmadd231ps zmm8, zmm12, zmm13", "vfmadd231ps zmm9, zmm12, zmm13",
                        "vfmadd231ps zmm10, zmm12, zmm13", "vfmadd231ps zmm11, zmm12, zmm13",
                        out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _, out("zmm4") _,
                        out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _, out("zmm9") _,
                        out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _,
                    );
                } else {
                    asm!(
                        "vfmadd231ps ymm0, ymm12, ymm13", "vfmadd231ps ymm1, ymm12, ymm13",
                        "vfmadd231ps ymm2, ymm12, ymm13", "vfmadd231ps ymm3, ymm12, ymm13",
                        "vfmadd231ps ymm4, ymm12, ymm13", "vfmadd231ps ymm5, ymm12, ymm13",
                        "vfmadd231ps ymm6, ymm12, ymm13", "vfmadd231ps ymm7, ymm12, ymm13",
                        "vfmadd231ps ymm8, ymm12, ymm13", "vfmadd231ps ymm9, ymm12, ymm13",
                        "vfmadd231ps ymm10, ymm12, ymm13", "vfmadd231ps ymm11, ymm12, ymm13",
                        out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _, out("ymm4") _,
                        out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _, out("ymm9") _,
                        out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _,
                    );
                }
            }
        }
        let fma_per_second = (iterations * 12) as f64 / start.elapsed().as_secs_f64();
        let width = if wide { 16 } else { 8 };
        let units = (fma_per_second / (ghz * 1e9)).round();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        emit(
            json!({"workload": "peak", "clock_ghz": ghz, "fma_per_cycle_measured": fma_per_second / (ghz * 1e9),
            "fma_units": units, "f32_lanes": width, "cores": cores,
            "peak_gflops_per_core": units * width as f64 * 2.0 * ghz,
            "peak_gflops": units * width as f64 * 2.0 * ghz * cores as f64,
            "measured_fma_gflops_one_core": fma_per_second * width as f64 * 2.0 / 1e9}),
        );
    }
}

/// The resident memory of this process now (VmRSS), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// W6: reading a CSV file as `actlab train --data` does (`data::table::read_table`, every
/// column typed) or the four IDX files of a directory (`data::read_idx_dir`), `--reps` times
/// through the library call. Seconds of each reading; the bytes of the result; and how much the
/// first reading raised the process's peak memory above what it held before. `--reader strict`
/// reads the file with `data::read_csv` instead (numbers only, the last column the target).
fn w6() {
    let reps = arg("reps", 5usize);
    let file = arg("file", String::new());
    let idx = arg("idx", String::new());
    let reader = arg("reader", String::from("table"));
    let before = rss();
    let mut seconds = Vec::new();
    let mut result_bytes = 0;
    let mut peak_added = 0;
    for rep in 0..reps {
        let start = Instant::now();
        let bytes = if !file.is_empty() && reader == "strict" {
            // The strict numeric reader of `--test`, `actlab eval` and `actlab predict`.
            let data = actlab::data::read_csv(file.as_ref(), &Default::default()).expect("reading the file");
            seconds.push(start.elapsed().as_secs_f64());
            let bytes = 4 * (data.x.as_slice().len() + data.len());
            black_box(data);
            bytes
        } else if !file.is_empty() {
            let table = actlab::data::table::read_table(file.as_ref(), &Default::default()).expect("reading the table");
            let secs = start.elapsed().as_secs_f64();
            let bytes: usize = table
                .columns
                .iter()
                .map(|c| match c {
                    actlab::data::table::Column::Numeric(v) => 4 * v.len(),
                    actlab::data::table::Column::Text { codes, levels } => {
                        4 * codes.len() + levels.iter().map(|l| l.len() + 24).sum::<usize>()
                    }
                })
                .sum();
            seconds.push(secs);
            black_box(table);
            bytes
        } else {
            let split = read_idx_dir(idx.as_ref()).expect("reading the IDX files");
            seconds.push(start.elapsed().as_secs_f64());
            let test = split.test.as_ref().expect("a test set");
            black_box(&split);
            4 * (split.train.x.as_slice().len() + test.x.as_slice().len() + split.train.len() + test.len())
        };
        if rep == 0 {
            peak_added = max_rss().saturating_sub(before);
            result_bytes = bytes;
        }
    }
    let name = if file.is_empty() { "fashion-mnist" } else { &file };
    let name = std::path::Path::new(name)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    emit(
        json!({"workload": "w6", "file": name, "seconds": seconds, "median_seconds": median(seconds.clone()),
                "result_bytes": result_bytes, "peak_added_bytes": peak_added}),
    );
}

fn main() {
    let threads = arg("threads", 0usize);
    if threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .unwrap();
    }
    let command = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    match command.as_str() {
        "w1" => w1(),
        "w2" => w2(),
        // From a thread of the pool, as the training loop calls the kernels and the products
        // (`train::train`): a parallel region then shares its work with the calling thread.
        "w3" => rayon::scope(|_| w3()),
        "w4" => w4(),
        "w5" => rayon::scope(|_| w5()),
        "w6" => w6(),
        "peak" => peak(),
        other => panic!("unknown workload '{other}': w1, w2, w3, w4, w5, w6 or peak"),
    }
}
