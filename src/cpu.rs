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
