//! The CPU's instruction-set level, detected at run time: which compiled copy of a kernel (the
//! activation batches, the inference products) may run here.
//!
//! A [`Level`] is made only by detection (its field is private), so holding one is the proof
//! that this CPU runs its instructions. The functions that take a `Level` (`forward_at`,
//! `backward_at`, `affine_at`) are therefore safe to call, and their `unsafe` blocks rest on
//! that proof. (The alternative, `unsafe fn forward_at` with a `# Safety` section, would move
//! the same check to every caller, tests included, without making any of them safer.)

use std::fmt;

/// The instruction sets the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Isa {
    /// The target's baseline: SSE2 without fused multiply-add on x86-64, NEON with it on
    /// AArch64.
    Baseline,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

/// An instruction-set level this CPU runs: only `level` and `Level::available`, which
/// detect the CPU's features, make one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level(Isa);

impl Level {
    /// The best level this CPU runs.
    fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level(Isa::Avx512);
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return Level(Isa::Avx2);
            }
        }
        Level(Isa::Baseline)
    }

    /// Every level this CPU runs, best last.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Level> {
        let best = level().0;
        [Isa::Baseline, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&isa| isa == Isa::Baseline || best >= isa)
            .map(Level)
            .collect()
    }

    /// The instruction set, for dispatch.
    pub(crate) fn isa(self) -> Isa {
        self.0
    }
}

impl fmt::Debug for Level {
    /// The instruction set's name (`Avx2`), as test messages print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The best level this CPU runs, detected once.
pub(crate) fn level() -> Level {
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(Level::detect)
}

/// Runs `work` in a function compiled for the best instruction set this CPU runs, so that the
/// plain loops over slices in it are vectorized that wide (a build for the baseline x86-64
/// target vectorizes them for SSE2 alone: 2 f64 or 4 f32 at a time).
///
/// `work` should hold its loops itself, or call `#[inline(always)]` functions: what it calls
/// that is not inlined into it runs at the baseline. Every copy computes the same bits (Rust
/// never fuses a multiply and an add, and a loop vectorized across independent elements
/// keeps each element's operations and their order); only the speed differs.
#[inline(always)]
pub(crate) fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        fn avx512<R>(work: impl FnOnce() -> R) -> R {
            work()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(work: impl FnOnce() -> R) -> R {
            work()
        }
        match level().isa() {
            // SAFETY: a `Level` is made only by feature detection.
            Isa::Avx512 => return unsafe { avx512(work) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { avx2(work) },
            Isa::Baseline => {}
        }
    }
    work()
}
