//! A steady-state training step and a single-sample prediction allocate nothing.
//!
//! The global allocator of this test binary counts allocations; the file holds one test so
//! that no other test allocates while it counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use actlab::inference::Predictor;
use actlab::matrix::Op;
use actlab::optim::OptimizerConfig;
use actlab::train::Stepper;
use actlab::{Activation, Loss, Mlp, MlpConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn steady_state_steps_and_single_predictions_allocate_nothing() {
    // The W1 network of the benchmark, with every kind of layer work: GEMMs large enough to be
    // split over threads (batch 128), batches cut into shards (256, see
    // `actlab::train::SHARD_FROM`), activation kernels, softmax and cross-entropy, Adam.
    let config = MlpConfig {
        inputs: 784,
        hidden: vec![256, 128],
        activations: vec![Activation::Relu, Activation::Gelu],
        outputs: 10,
        output: Activation::Softmax,
        residual: false,
        init: None,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut mlp = Mlp::new(&config, &mut rng).unwrap();
    let rows = 256;
    let x: Vec<f32> = (0..rows * 784).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
    let mut t = vec![0.0f32; rows * 10];
    for r in 0..rows {
        t[r * 10 + r % 10] = 1.0;
    }
    // Both pools live to the end: a pool's threads allocate while they shut down.
    let pools: Vec<_> = [1, 2]
        .map(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap())
        .into();
    for pool in &pools {
        let threads = pool.current_num_threads();
        // faer keeps one packing buffer per thread, made at the thread's first product; with
        // work stealing a thread may run its first block of a step late, so every thread of the
        // pool runs one product before the count.
        pool.broadcast(|_| {
            let (a, mut c) = (vec![1.0f32; 64 * 64], vec![0.0f32; 64 * 64]);
            actlab::matrix::gemm(64, 64, 64, &a, Op::N, &a, Op::N, &mut c, false);
        });
        // A whole batch with clipping, a batch in shards with clipping (the gradients summed
        // first) and without (summed inside Adam).
        for (rows, clip) in [(128, Some(5.0)), (256, Some(5.0)), (256, None)] {
            let (x, t) = (&x[..rows * 784], &t[..rows * 10]);
            pool.install(|| {
                let mut stepper = Stepper::new(&mlp, Loss::CrossEntropy, OptimizerConfig::default(), clip);
                let mut step = |mlp: &mut Mlp| {
                    let loss = stepper.forward_loss(mlp, x, t, rows);
                    stepper.update(mlp, x, 1e-3);
                    loss
                };
                // Warm-up: every thread's buffers reach their size once it has run each kind of
                // block, which with work stealing takes a few steps.
                let first = step(&mut mlp);
                for _ in 0..10 {
                    step(&mut mlp);
                }
                let mut last = 0.0;
                let counted = allocations_during(|| {
                    for _ in 0..10 {
                        last = step(&mut mlp);
                    }
                });
                assert_eq!(
                    counted, 0,
                    "{threads} thread(s), batch {rows}: 10 training steps allocated {counted} times"
                );
                assert!(last < first, "the steps did not learn: {first} → {last}");
            });
        }
    }

    let mut predictor = Predictor::new(&mlp);
    let sample = &x[..784];
    let want = predictor.predict_one(sample).to_vec();
    let counted = allocations_during(|| {
        for _ in 0..10 {
            assert_eq!(predictor.predict_one(sample), &want[..]);
        }
    });
    assert_eq!(counted, 0, "10 single predictions allocated {counted} times");
}
