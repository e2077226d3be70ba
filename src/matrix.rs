//! A dense row-major `f32` matrix and the three matrix products backpropagation needs.
//!
//! The products are computed by a packed, register-tiled kernel written here (see
//! `bench/RESULTS.md` for the measurements against the `gemm`, `matrixmultiply` and `faer`
//! crates that decided it): unlike them it allocates nothing once its buffers have grown.

use serde::{Deserialize, Serialize};

/// A dense, row-major matrix of `f32`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Wraps row-major `data`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix data has the wrong length");
        Self { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The elements, row after row.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The elements, row after row, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the matrix and returns its row-major elements.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i`, mutably.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Iterator over the rows.
    pub fn iter_rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.cols.max(1))
    }

    /// A new matrix made of the rows listed in `indices`, in that order.
    pub fn select_rows(&self, indices: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            data.extend_from_slice(self.row(i));
        }
        Matrix::from_vec(indices.len(), self.cols, data)
    }

    /// Resizes to `rows × cols`, keeping the allocation when it is large enough.
    /// The contents afterwards are unspecified.
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, 0.0);
    }
}

/// Whether an operand of a product is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use its transpose.
    T,
}

/// `c = a' · b' (+ c if accumulate)`, where `a'` is `m × k` and `b'` is `k × n` after applying
/// `op_a` / `op_b` to the row-major buffers `a` and `b`; `c` is row-major `m × n`.
///
/// Blocked and packed (see [`kernel`]): the operands are copied block by block into buffers
/// that each thread keeps between calls, so that after the first call of a given size no call
/// allocates; tiles of `c` are shared out over the rayon pool when the product is large enough,
/// each tile summed in the same order whatever the number of threads (results do not depend
/// on it).
///
/// # Panics
/// If a buffer is shorter than its shape needs.
#[allow(clippy::too_many_arguments)]
pub fn gemm(m: usize, n: usize, k: usize, a: &[f32], op_a: Op, b: &[f32], op_b: Op, c: &mut [f32], accumulate: bool) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    kernel::gemm(kernel::level(), m, n, k, a, op_a, b, op_b, &mut c[..m * n], accumulate);
}

/// `out[j] = bias[j] + Σ_p weight[j, p] · x[p]` for one input vector `x` (`weight` is
/// `[out.len(), x.len()]` row-major): the single-sample layer, without the packing and
/// threading a batch product needs.
///
/// # Panics
/// If the lengths do not match.
pub fn affine_one(weight: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
    assert!(
        weight.len() == out.len() * x.len() && bias.len() == out.len(),
        "affine_one: shapes differ"
    );
    #[cfg(target_arch = "x86_64")]
    if kernel::level() == kernel::Level::Avx512 {
        // SAFETY: the CPU has AVX-512F, and the shapes were checked above.
        return unsafe { affine_one_avx512(weight, bias, x, out) };
    }
    let k = x.len();
    for ((o, &b), row) in out.iter_mut().zip(bias).zip(weight.chunks_exact(k.max(1))) {
        let mut lanes = [0.0f32; 8];
        let split = k - k % 8;
        for (w, x) in row[..split].chunks_exact(8).zip(x[..split].chunks_exact(8)) {
            for l in 0..8 {
                lanes[l] += w[l] * x[l];
            }
        }
        let tail: f32 = row[split..].iter().zip(&x[split..]).map(|(w, x)| w * x).sum();
        let pairs = [
            lanes[0] + lanes[4],
            lanes[1] + lanes[5],
            lanes[2] + lanes[6],
            lanes[3] + lanes[7],
        ];
        *o = b + ((pairs[0] + pairs[2]) + (pairs[1] + pairs[3])) + tail;
    }
}

/// [`affine_one`] with AVX-512: four rows at a time, 16 lanes each, the tail of `x` loaded
/// under a mask.
///
/// # Safety
/// The CPU must have AVX-512F; `weight` must hold `out.len() × x.len()` values and `bias`
/// `out.len()`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn affine_one_avx512(weight: &[f32], bias: &[f32], x: &[f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let (k, n) = (x.len(), out.len());
    let mask: __mmask16 = ((1u32 << (k % 16)) - 1) as __mmask16;
    let xp = x.as_ptr();
    /// `N` rows from row `j` on, each in its own accumulator (independent chains keep both
    /// FMA units busy), unrolled at compile time.
    #[inline(always)]
    unsafe fn rows<const N: usize>(
        weight: &[f32],
        bias: &[f32],
        out: &mut [f32],
        j: usize,
        k: usize,
        xp: *const f32,
        mask: __mmask16,
    ) {
        let (chunks, rem) = (k / 16, k % 16);
        let rows: [*const f32; N] = std::array::from_fn(|r| weight[(j + r) * k..].as_ptr());
        let mut acc = [_mm512_setzero_ps(); N];
        // SAFETY: each row has `k` weights; full loads stay below `chunks · 16 ≤ k`, masked
        // loads read only the `rem` values after that.
        unsafe {
            for c in 0..chunks {
                let xv = _mm512_loadu_ps(xp.add(c * 16));
                for r in 0..N {
                    acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(rows[r].add(c * 16)), xv, acc[r]);
                }
            }
            if rem > 0 {
                let xv = _mm512_maskz_loadu_ps(mask, xp.add(chunks * 16));
                for r in 0..N {
                    let wv = _mm512_maskz_loadu_ps(mask, rows[r].add(chunks * 16));
                    acc[r] = _mm512_fmadd_ps(wv, xv, acc[r]);
                }
            }
        }
        if N == 16 {
            // SAFETY: the CPU has AVX-512F (this function's contract).
            let sums = unsafe { reduce16(acc[..].try_into().unwrap()) };
            let out: &mut [f32; 16] = (&mut out[j..j + 16]).try_into().unwrap();
            let bias: &[f32; 16] = bias[j..j + 16].try_into().unwrap();
            // SAFETY: both arrays hold 16 values.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), _mm512_add_ps(_mm512_loadu_ps(bias.as_ptr()), sums)) };
        } else {
            for r in 0..N {
                out[j + r] = bias[j + r] + _mm512_reduce_add_ps(acc[r]);
            }
        }
    }

    /// The lane sums of 16 vectors as one vector (lane `r` = Σ lanes of `a[r]`): halves,
    /// quarters, pairs and single lanes of neighbouring vectors added by shuffles, then one
    /// permutation into row order; 46 instructions instead of 16 separate reductions.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn reduce16(a: &[__m512; 16]) -> __m512 {
        let mut b = [_mm512_setzero_ps(); 8];
        for i in 0..8 {
            let (x, y) = (a[2 * i], a[2 * i + 1]);
            b[i] = _mm512_add_ps(_mm512_shuffle_f32x4::<0x44>(x, y), _mm512_shuffle_f32x4::<0xEE>(x, y));
        }
        let mut c = [_mm512_setzero_ps(); 4];
        for i in 0..4 {
            let (x, y) = (b[2 * i], b[2 * i + 1]);
            c[i] = _mm512_add_ps(_mm512_shuffle_f32x4::<0x88>(x, y), _mm512_shuffle_f32x4::<0xDD>(x, y));
        }
        let mut d = [_mm512_setzero_ps(); 2];
        for i in 0..2 {
            let (x, y) = (c[2 * i], c[2 * i + 1]);
            d[i] = _mm512_add_ps(_mm512_shuffle_ps::<0x44>(x, y), _mm512_shuffle_ps::<0xEE>(x, y));
        }
        let e = _mm512_add_ps(
            _mm512_shuffle_ps::<0x88>(d[0], d[1]),
            _mm512_shuffle_ps::<0xDD>(d[0], d[1]),
        );
        // lane 4q + m of `e` holds the sum of row 4m + q: put row r in lane r
        let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
        _mm512_permutexvar_ps(order, e)
    }
    let mut j = 0;
    // SAFETY: as for this function; `rows` reads rows `j .. j + N < n`.
    unsafe {
        while j + 16 <= n {
            rows::<16>(weight, bias, out, j, k, xp, mask);
            j += 16;
        }
        if j + 8 <= n {
            rows::<8>(weight, bias, out, j, k, xp, mask);
            j += 8;
        }
        if j + 4 <= n {
            rows::<4>(weight, bias, out, j, k, xp, mask);
            j += 4;
        }
        while j < n {
            rows::<1>(weight, bias, out, j, k, xp, mask);
            j += 1;
        }
    }
}

/// The blocked product: packing, a register-tiled micro-kernel compiled for AVX-512, for
/// AVX2 + FMA and for the baseline target (chosen at run time), and the split over threads.
pub(crate) mod kernel {
    use std::cell::RefCell;

    use rayon::prelude::*;

    use super::Op;

    /// Depth of one packed block: a `KC × NR` panel of `b'` stays in L1.
    const KC: usize = 256;
    /// Below this many multiply-adds a product runs on the calling thread.
    const PARALLEL_FROM: usize = 1 << 20;

    /// Instruction-set level of the micro-kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Level {
        /// Baseline target (SSE2 on x86-64, NEON on AArch64).
        Baseline,
        /// AVX2 + FMA.
        Avx2,
        /// AVX-512F.
        Avx512,
    }

    /// The best level this CPU runs (detected once).
    pub(crate) fn level() -> Level {
        static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx512f") {
                    return Level::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    return Level::Avx2;
                }
            }
            Level::Baseline
        })
    }

    /// Tile shape (rows, columns) of the micro-kernel at `level`.
    fn tile(level: Level) -> (usize, usize) {
        match level {
            Level::Avx512 => (8, 32),
            Level::Avx2 => (6, 16),
            Level::Baseline => (4, 8),
        }
    }

    thread_local! {
        /// Packed blocks of `a'` and `b'`, kept for the next call.
        static PACKED: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gemm(
        level: Level,
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        op_a: Op,
        b: &[f32],
        op_b: Op,
        c: &mut [f32],
        accumulate: bool,
    ) {
        let (mr, nr) = tile(level);
        let (m_panels, n_panels) = (m.div_ceil(mr), n.div_ceil(nr));
        PACKED.with_borrow_mut(|(pa, pb)| {
            for (block, p0) in (0..k).step_by(KC).enumerate() {
                let kc = KC.min(k - p0);
                grow(pa, m_panels * mr * kc);
                grow(pb, n_panels * nr * kc);
                pack_a(&mut pa[..m_panels * mr * kc], a, op_a, m, k, p0, kc, mr);
                pack_b(&mut pb[..n_panels * nr * kc], b, op_b, k, n, p0, kc, nr);
                let add = accumulate || block > 0;
                let (pa, pb) = (&pa[..], &pb[..]);
                let row_panel = |(ip, c_rows): (usize, &mut [f32])| {
                    let rows = mr.min(m - ip * mr);
                    let a_panel = &pa[ip * mr * kc..][..mr * kc];
                    for jp in 0..n_panels {
                        let cols = nr.min(n - jp * nr);
                        let b_panel = &pb[jp * nr * kc..][..nr * kc];
                        micro(level, kc, a_panel, b_panel, &mut c_rows[jp * nr..], n, rows, cols, add);
                    }
                };
                if m * n * kc >= PARALLEL_FROM && rayon::current_num_threads() > 1 {
                    c.par_chunks_mut(mr * n).enumerate().for_each(row_panel);
                } else {
                    c.chunks_mut(mr * n).enumerate().for_each(row_panel);
                }
            }
        });
    }

    /// Makes `v` at least `len` long (allocating only when it grows).
    fn grow(v: &mut Vec<f32>, len: usize) {
        if v.len() < len {
            v.resize(len, 0.0);
        }
    }

    /// Packs rows of `a'` (columns `p0..p0 + kc`) into panels of `mr` rows, each stored
    /// column by column (`mr` values per step of the sum), zero-padded at the bottom.
    #[allow(clippy::too_many_arguments)]
    fn pack_a(dst: &mut [f32], a: &[f32], op: Op, m: usize, k: usize, p0: usize, kc: usize, mr: usize) {
        for (ip, panel) in dst.chunks_exact_mut(mr * kc).enumerate() {
            let i0 = ip * mr;
            let rows = mr.min(m - i0);
            if rows < mr {
                panel.fill(0.0);
            }
            match op {
                Op::N => {
                    for r in 0..rows {
                        let src = &a[(i0 + r) * k + p0..][..kc];
                        for (p, &v) in src.iter().enumerate() {
                            panel[p * mr + r] = v;
                        }
                    }
                }
                Op::T => {
                    for p in 0..kc {
                        panel[p * mr..p * mr + rows].copy_from_slice(&a[(p0 + p) * m + i0..][..rows]);
                    }
                }
            }
        }
    }

    /// Packs columns of `b'` (rows `p0..p0 + kc`) into panels of `nr` columns, each stored row
    /// by row, zero-padded at the right.
    #[allow(clippy::too_many_arguments)]
    fn pack_b(dst: &mut [f32], b: &[f32], op: Op, k: usize, n: usize, p0: usize, kc: usize, nr: usize) {
        for (jp, panel) in dst.chunks_exact_mut(nr * kc).enumerate() {
            let j0 = jp * nr;
            let cols = nr.min(n - j0);
            if cols < nr {
                panel.fill(0.0);
            }
            match op {
                Op::N => {
                    for p in 0..kc {
                        panel[p * nr..p * nr + cols].copy_from_slice(&b[(p0 + p) * n + j0..][..cols]);
                    }
                }
                Op::T => {
                    for j in 0..cols {
                        let src = &b[(j0 + j) * k + p0..][..kc];
                        for (p, &v) in src.iter().enumerate() {
                            panel[p * nr + j] = v;
                        }
                    }
                }
            }
        }
    }

    /// One tile: `c[..rows, ..cols] (+)= a_panel · b_panel` at `level`.
    #[allow(clippy::too_many_arguments)]
    fn micro(
        level: Level,
        kc: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        ldc: usize,
        rows: usize,
        cols: usize,
        add: bool,
    ) {
        match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `level()` detected AVX-512F.
            Level::Avx512 => unsafe { micro_avx512(kc, a, b, c, ldc, rows, cols, add) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `level()` detected AVX2 and FMA.
            Level::Avx2 => unsafe { micro_avx2(kc, a, b, c, ldc, rows, cols, add) },
            _ => micro_generic::<4, 8, { cfg!(target_arch = "aarch64") }>(kc, a, b, c, ldc, rows, cols, add),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    fn micro_avx512(kc: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize, rows: usize, cols: usize, add: bool) {
        use std::arch::x86_64::*;
        let (a, b) = (&a[..kc * 8], &b[..kc * 32]);
        let mut acc = [[_mm512_setzero_ps(); 2]; 8];
        for (ap, bp) in a.chunks_exact(8).zip(b.chunks_exact(32)) {
            // SAFETY: `bp` holds 32 values, so both unaligned loads stay inside it.
            let (b0, b1) = unsafe { (_mm512_loadu_ps(bp.as_ptr()), _mm512_loadu_ps(bp.as_ptr().add(16))) };
            for (acc, &ai) in acc.iter_mut().zip(ap) {
                let ai = _mm512_set1_ps(ai);
                acc[0] = _mm512_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm512_fmadd_ps(ai, b1, acc[1]);
            }
        }
        let mut tile = [0.0f32; 8 * 32];
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: row `i` of `tile` has 32 slots.
            unsafe {
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * 32), acc[0]);
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * 32 + 16), acc[1]);
            }
        }
        write_tile::<32>(&tile, c, ldc, rows, cols, add);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn micro_avx2(kc: usize, a: &[f32], b: &[f32], c: &mut [f32], ldc: usize, rows: usize, cols: usize, add: bool) {
        use std::arch::x86_64::*;
        let (a, b) = (&a[..kc * 6], &b[..kc * 16]);
        let mut acc = [[_mm256_setzero_ps(); 2]; 6];
        for (ap, bp) in a.chunks_exact(6).zip(b.chunks_exact(16)) {
            // SAFETY: `bp` holds 16 values, so both unaligned loads stay inside it.
            let (b0, b1) = unsafe { (_mm256_loadu_ps(bp.as_ptr()), _mm256_loadu_ps(bp.as_ptr().add(8))) };
            for (acc, &ai) in acc.iter_mut().zip(ap) {
                let ai = _mm256_set1_ps(ai);
                acc[0] = _mm256_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(ai, b1, acc[1]);
            }
        }
        let mut tile = [0.0f32; 6 * 16];
        for (i, acc) in acc.iter().enumerate() {
            // SAFETY: row `i` of `tile` has 16 slots.
            unsafe {
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * 16), acc[0]);
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * 16 + 8), acc[1]);
            }
        }
        write_tile::<16>(&tile, c, ldc, rows, cols, add);
    }

    /// Adds or copies the first `rows × cols` of a row-major tile with `NR` columns into `c`.
    #[inline(always)]
    fn write_tile<const NR: usize>(tile: &[f32], c: &mut [f32], ldc: usize, rows: usize, cols: usize, add: bool) {
        for (i, t) in tile.chunks_exact(NR).take(rows).enumerate() {
            let c_row = &mut c[i * ldc..][..cols];
            if add {
                for (c, &v) in c_row.iter_mut().zip(t) {
                    *c += v;
                }
            } else {
                c_row.copy_from_slice(&t[..cols]);
            }
        }
    }

    /// The register tile: `MR × NR` sums kept in registers over the whole depth `kc`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn micro_generic<const MR: usize, const NR: usize, const FMA: bool>(
        kc: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        ldc: usize,
        rows: usize,
        cols: usize,
        add: bool,
    ) {
        let (a, b) = (&a[..kc * MR], &b[..kc * NR]);
        let mut acc = [[0.0f32; NR]; MR];
        for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
            let bp: &[f32; NR] = bp.try_into().unwrap();
            let ap: &[f32; MR] = ap.try_into().unwrap();
            for i in 0..MR {
                let ai = ap[i];
                for j in 0..NR {
                    acc[i][j] = if FMA {
                        ai.mul_add(bp[j], acc[i][j])
                    } else {
                        ai * bp[j] + acc[i][j]
                    };
                }
            }
        }
        write_tile::<NR>(acc.as_flattened(), c, ldc, rows, cols, add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f32], op_a: Op, b: &[f32], op_b: Op) -> Vec<f32> {
        let at = |i: usize, p: usize| match op_a {
            Op::N => a[i * k + p],
            Op::T => a[p * m + i],
        };
        let bt = |p: usize, j: usize| match op_b {
            Op::N => b[p * n + j],
            Op::T => b[j * k + p],
        };
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| at(i, p) as f64 * bt(p, j) as f64).sum::<f64>() as f32;
            }
        }
        c
    }

    #[test]
    fn affine_one_matches_the_naive_sum() {
        for k in [1, 15, 16, 40, 100] {
            let (n, w) = (
                7,
                (0..7 * k)
                    .map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0)
                    .collect::<Vec<_>>(),
            );
            let x: Vec<f32> = (0..k).map(|i| ((i * 17 % 13) as f32 - 6.0) / 4.0).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 - 3.0).collect();
            let mut out = vec![0.0; n];
            affine_one(&w, &bias, &x, &mut out);
            let want = naive(1, n, k, &x, Op::N, &w, Op::T);
            for j in 0..n {
                assert!(
                    (out[j] - bias[j] - want[j]).abs() < 1e-4,
                    "k {k}: {} vs {}",
                    out[j],
                    want[j] + bias[j]
                );
            }
        }
    }

    #[test]
    fn gemm_matches_naive_product_for_every_transposition() {
        // edge tiles, several depth blocks, and a product large enough to be split over threads
        for (m, n, k) in [(7, 5, 33), (1, 40, 3), (13, 37, 600), (70, 300, 70)] {
            check_gemm(m, n, k);
        }
    }

    fn check_gemm(m: usize, n: usize, k: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 13) as f32 - 6.0) / 4.0).collect();
        for op_a in [Op::N, Op::T] {
            for op_b in [Op::N, Op::T] {
                let want = naive(m, n, k, &a, op_a, &b, op_b);
                let mut c = vec![1.0; m * n];
                gemm(m, n, k, &a, op_a, &b, op_b, &mut c, false);
                let tol = 1e-5 * k as f32;
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - y).abs() < tol, "{m}x{n}x{k} {op_a:?}{op_b:?}: {x} vs {y}");
                }
                gemm(m, n, k, &a, op_a, &b, op_b, &mut c, true);
                for (x, y) in c.iter().zip(&want) {
                    assert!((x - 2.0 * y).abs() < 2.0 * tol, "accumulate {op_a:?}{op_b:?}");
                }
                let levels = [kernel::Level::Baseline, kernel::Level::Avx2, kernel::Level::Avx512];
                for level in levels.into_iter().filter(|&l| l as u8 <= kernel::level() as u8) {
                    let mut c = vec![1.0; m * n];
                    kernel::gemm(level, m, n, k, &a, op_a, &b, op_b, &mut c, false);
                    for (x, y) in c.iter().zip(&want) {
                        assert!(
                            (x - y).abs() < tol,
                            "{level:?} {m}x{n}x{k} {op_a:?}{op_b:?}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }
}
