//! A dense row-major `f32` matrix and the three matrix products backpropagation needs.
//!
//! The products call faer's single-threaded kernel, the fastest of the `gemm`,
//! `matrixmultiply` and `faer` crates on this project's shapes and the one that allocates
//! nothing per call (see `bench/RESULTS.md`); this module splits large products over threads.

use serde::{Deserialize, Serialize};

/// Asks Linux to back the 2 MiB-aligned part of a large buffer with huge pages, before its
/// first write (the kernel then maps huge pages as the pages are first touched).
///
/// A training set is read a random row at a time, one batch after another: with 4 KiB pages
/// nearly every row costs a page walk (a two-level one under a hypervisor), since the TLB
/// covers a few MiB. With huge pages Fashion-MNIST's 188 MB fit in the TLB. Measured with
/// `actlab train` on W2's set-up (`bench/RESULTS.md`, 2 threads, alternating, medians of 7 and
/// 9 runs): 0.142 → 0.134 and 0.140 → 0.135 s an epoch, and reading the IDX files 0.169 → 0.14 s. Only buffers of
/// 16 MiB and more are advised; the advice is a hint, and nothing changes where it is refused.
fn advise_huge_pages(data: &[f32]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(data);
        if bytes < 8 * HUGE {
            return;
        }
        let start = (data.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (data.as_ptr() as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: `start..end` lies inside `data`, which this process owns; the advice
            // changes how the range is mapped, never its contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = data;
}

/// A dense, row-major matrix of `f32`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// A `rows × cols` matrix of zeros (of huge pages on Linux when it is large).
    pub fn zeros(rows: usize, cols: usize) -> Self {
        let data = vec![0.0; rows * cols];
        advise_huge_pages(&data);
        Self { rows, cols, data }
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

/// A borrowed dense, row-major matrix of `f32`: rows someone else owns (a [`Matrix`], a
/// memory-mapped file, a numpy array), read without a copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatrixRef<'a> {
    rows: usize,
    cols: usize,
    data: &'a [f32],
}

impl<'a> MatrixRef<'a> {
    /// Views row-major `data` as `rows × cols`.
    ///
    /// # Panics
    /// If `data.len() != rows * cols`.
    pub fn new(rows: usize, cols: usize, data: &'a [f32]) -> Self {
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
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The row and column of the first value (in row-major order) that is NaN or infinite.
    /// Large matrices are searched in parallel, in blocks of rows.
    pub fn first_non_finite(&self) -> Option<(usize, usize)> {
        use rayon::prelude::*;
        /// Rows per block: about 1 MiB of values, or one row.
        const BLOCK_VALUES: usize = 1 << 18;
        if self.cols == 0 {
            return None;
        }
        let rows_per_block = (BLOCK_VALUES / self.cols).max(1);
        self.data
            .par_chunks(rows_per_block * self.cols)
            .enumerate()
            .find_map_first(|(block, values)| {
                let finite = crate::cpu::vectorized(
                    #[inline(always)]
                    || values.iter().fold(true, |finite, v| finite & v.is_finite()),
                );
                if finite {
                    return None;
                }
                let at = values.iter().position(|v| !v.is_finite())?;
                Some((block * rows_per_block + at / self.cols, at % self.cols))
            })
    }
}

impl<'a> From<&'a Matrix> for MatrixRef<'a> {
    fn from(m: &'a Matrix) -> Self {
        m.view()
    }
}

impl Matrix {
    /// A borrowed view of the matrix.
    pub fn view(&self) -> MatrixRef<'_> {
        MatrixRef::new(self.rows, self.cols, &self.data)
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
/// The product is faer's single-threaded kernel (which allocates nothing per call), except
/// for the last few columns of a layer's forward product `x · wᵀ` on CPUs with AVX-512, which
/// go by dot products (see `EDGE_COLUMNS`). Large
/// products are cut into one block of rows or columns of `c` per thread of the rayon pool,
/// each starting on a multiple of 4 (rows) or 16 (columns). faer sums every element of `c` in an order that does not
/// depend on where such a block starts or how wide it is (checked bit for bit by
/// `blocks_of_rows_or_columns_sum_like_the_whole_product`), so results do not depend on the
/// number of threads.
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
    let product = Product::new(m, n, k, a, op_a, b, op_b, c, accumulate);
    let (size, by_rows) = block_size(m, n, k, rayon::current_num_threads());
    let along = if by_rows { m } else { n };
    let run = |start: usize| {
        // SAFETY: the buffers were checked to hold their shapes; blocks write disjoint parts of `c`.
        unsafe { product.block(start..(start + size).min(along), by_rows) }
    };
    if size < along {
        use rayon::prelude::*;
        (0..along.div_ceil(size)).into_par_iter().for_each(|i| run(i * size));
    } else {
        run(0);
    }
}

/// Products with fewer multiply-adds than this, or whose longer side of `c` is shorter than
/// [`SPLIT_FROM`], run on the calling thread: handing half of them to another thread costs more
/// than it saves. Measured on the 2-core machine of `bench/RESULTS.md`, called from a thread of
/// the pool as training does: the 128×10×128 product (164 k) ran at 33–55 GFLOP/s split and
/// 40–44 whole, the 512×10×128 one (655 k) at 43–82 split and 43 whole; splitting the 1 M
/// products of W1 at batch 32 (sides 128 and 256) took it from 43–50 k to 53–55 k samples/s,
/// while splitting the 100×100×100 ones of `actlab compare` (into 64 + 36 columns, narrower
/// than faer's 96-wide tile) made its runs a third slower.
const PARALLEL_FROM: usize = 1 << 19;

/// See [`PARALLEL_FROM`].
const SPLIT_FROM: usize = 128;

/// Width of the blocks a product is cut into on `threads` threads, a multiple of
/// [`block_step`] (`m` or more when it is not cut), and whether they are blocks of rows of `c`
/// (else of columns).
///
/// The longer side is cut, except that the columns are cut whenever `b'` holds 2^19 values
/// (2 MiB, a core's L2 cache on the machine of `bench/RESULTS.md`) or more: faer packs `b'`
/// for each block of rows, so every thread would pack all of it, from memory. Measured on
/// 1024³: 194–293 GFLOP/s with the columns cut, 144–235 with the rows.
fn block_size(m: usize, n: usize, k: usize, threads: usize) -> (usize, bool) {
    let by_rows = m >= n && n * k < 1 << 19;
    let along = if by_rows { m } else { n };
    let blocks = if m * n * k < PARALLEL_FROM || along < SPLIT_FROM {
        1
    } else {
        threads.max(1)
    };
    let step = block_step(by_rows);
    // Blocks of fewer than 16 rows can take faer's path for small products, which sums in
    // another order (4 × 10 × 100 does).
    let mut size = along.div_ceil(blocks).next_multiple_of(step).max(16);
    // A last block one row or column wide would take faer's matrix–vector path, which sums in
    // another order. (A product one row or column wide is a single block: nothing to move.)
    while size < along && along % size == 1 {
        size += step;
    }
    (size, by_rows)
}

/// Blocks of rows of `c` start on multiples of 4 and blocks of columns on multiples of 16, and
/// both are at least 16 wide: faer sums such blocks like the whole product (see
/// `blocks_of_rows_or_columns_sum_like_the_whole_product`). Rows are cut finer so that the
/// threads' shares stay even: W2's 200 rows go 100 + 100, where steps of 16 made 112 + 88.
fn block_step(by_rows: bool) -> usize {
    if by_rows {
        4
    } else {
        16
    }
}

/// Whether [`gemm`] cuts the product `m × n × k` into blocks for threads (on a pool of more
/// than one).
pub(crate) fn is_split(m: usize, n: usize, k: usize) -> bool {
    let (size, by_rows) = block_size(m, n, k, 2);
    size < if by_rows { m } else { n }
}

/// Clears the upper halves of the vector registers after faer's AVX-512 kernels, which leave
/// them dirty: the SSE code that follows (everything compiled for the baseline target, and
/// libm) otherwise pays a state-transition penalty on every instruction.
#[inline]
fn clean_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        // SAFETY: the CPU has AVX.
        unsafe { zero_upper() }
    }
}

/// The operands of one product as raw parts, so that blocks of it can run on other threads.
#[derive(Clone, Copy)]
struct Product {
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    op_a: Op,
    b: *const f32,
    op_b: Op,
    c: *mut f32,
    accumulate: bool,
}

// SAFETY: `Product` only travels to the threads of one `gemm` call, which outlives them;
// each thread writes its own block of `c`.
unsafe impl Send for Product {}
// SAFETY: as above.
unsafe impl Sync for Product {}

impl Product {
    /// The parts of `c = a'·b' (+ c)`; the caller has checked the lengths.
    #[allow(clippy::too_many_arguments)]
    fn new(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        op_a: Op,
        b: &[f32],
        op_b: Op,
        c: &mut [f32],
        accumulate: bool,
    ) -> Self {
        Self {
            m,
            n,
            k,
            a: a.as_ptr(),
            op_a,
            b: b.as_ptr(),
            op_b,
            c: c.as_mut_ptr(),
            accumulate,
        }
    }

    /// Rows (or columns) `range` of `c`.
    ///
    /// # Safety
    /// The pointers must hold the shapes, and no other thread may write this block.
    unsafe fn block(&self, range: std::ops::Range<usize>, by_rows: bool) {
        use faer::{MatMut, MatRef};
        let (m, n, k) = (self.m as isize, self.n as isize, self.k as isize);
        // (row stride, column stride) of a' and b' in their buffers
        let (a_rs, a_cs) = match self.op_a {
            Op::N => (k, 1),
            Op::T => (1, m),
        };
        let (b_rs, b_cs) = match self.op_b {
            Op::N => (n, 1),
            Op::T => (1, k),
        };
        let len = range.len();
        let start = range.start as isize;
        // SAFETY: every index the strides reach lies inside the buffers (the caller's contract).
        unsafe {
            let (a, b, c, rows, cols) = if by_rows {
                (
                    self.a.offset(start * a_rs),
                    self.b,
                    self.c.offset(start * n),
                    len,
                    self.n,
                )
            } else {
                (self.a, self.b.offset(start * b_cs), self.c.offset(start), self.m, len)
            };
            // The last columns of `x · wᵀ` that fall short of faer's 16-wide tiles go by dot
            // products (see `EDGE_COLUMNS`). They are the same columns in every block: blocks
            // of columns start on multiples of 16, and a block of rows has every column.
            let edge = if (self.op_a, self.op_b) == (Op::N, Op::T) && (by_rows || range.end == self.n) {
                edge_columns(self.n)
            } else {
                0
            };
            if edge > 0 {
                let k = self.k;
                // `c` goes as a pointer: a slice over the edge's rows would span the columns
                // that other threads write.
                dot_columns(
                    std::slice::from_raw_parts(a, rows * k),
                    std::slice::from_raw_parts(self.b.add((self.n - edge) * k), edge * k),
                    c.add(cols - edge),
                    (rows, edge, k, self.n),
                    self.accumulate,
                );
            }
            let cols = cols - edge;
            if cols == 0 {
                return;
            }
            let lhs = MatRef::from_raw_parts(a, rows, self.k, a_rs, a_cs);
            let rhs = MatRef::from_raw_parts(b, self.k, cols, b_rs, b_cs);
            let dst = MatMut::from_raw_parts_mut(c, rows, cols, n, 1);
            let accum = if self.accumulate {
                faer::Accum::Add
            } else {
                faer::Accum::Replace
            };
            faer::linalg::matmul::matmul(dst, accum, lhs, rhs, 1.0f32, faer::Par::Seq);
            clean_upper_state();
        }
    }
}

/// Products `x · wᵀ` (a layer's forward pass) whose last `n % 16` columns number at most this
/// many compute those columns by [`dot_columns`] on CPUs with AVX-512. faer's narrowest tile
/// is 16 columns of `c` wide, so a layer 100 wide (96 + 4) cost as much as one 112 wide.
/// Measured on one core of the machine of `bench/RESULTS.md` (k = 784, 100 rows, µs, faer
/// alone → with the edge by dot products): 100 columns 161 → 146 (96 columns take 138), 104
/// 161 → 153, 108 161 → 161, 110 160 → 166; 10 columns of k = 100, 3.43 → 3.18.
const EDGE_COLUMNS: usize = 10;

/// How many of the last columns of the product `x · wᵀ`, `n` wide, [`dot_columns`] computes
/// on this CPU (none without AVX-512).
fn edge_columns(n: usize) -> usize {
    if crate::cpu::level().isa() == crate::cpu::Isa::Avx512 && n % 16 <= EDGE_COLUMNS {
        n % 16
    } else {
        0
    }
}

/// `c[i][j] = (c[i][j] +) Σ_p a[i][p] · w[j][p]` for `rows` rows of `a` and the `cols` rows of
/// `w` (row-major, `k` values each); rows of `c` lie `ldc` apart. Each element is a dot
/// product in 16 lanes of fused multiply-adds, the lanes then added by
/// `_mm512_reduce_add_ps`. Called only where [`edge_columns`] found AVX-512. Written with
/// intrinsics: as plain loops over arrays of 16 lanes (for `cpu::vectorized`), LLVM kept the
/// lanes' sums in memory or did not vectorize them, 4.6–14 GFLOP/s on 100 × 4 × 784 against
/// 97 here.
///
/// # Safety
/// `c` must point at `rows` rows of `cols` values, `ldc` apart, that no other thread reads or
/// writes meanwhile.
#[cfg(target_arch = "x86_64")]
unsafe fn dot_columns(
    a: &[f32],
    w: &[f32],
    c: *mut f32,
    (rows, cols, k, ldc): (usize, usize, usize, usize),
    accumulate: bool,
) {
    assert!(a.len() >= rows * k && w.len() >= cols * k);
    assert_eq!(crate::cpu::level().isa(), crate::cpu::Isa::Avx512);
    let mut i = 0;
    while i < rows {
        // Two rows at a time where there are two: each value of `w` loaded serves both.
        let pair = rows - i >= 2;
        let mut j = 0;
        while j < cols {
            let (x, w) = (&a[i * k..], &w[j * k..]);
            // SAFETY: the CPU has AVX-512F (asserted above); the slices hold what is read, and
            // `out` the values written (the caller's contract).
            j += unsafe {
                let out = c.add(i * ldc + j);
                match (pair, cols - j) {
                    (true, 1) => dots::<2, 1>(x, w, out, k, ldc, accumulate),
                    (true, 2) => dots::<2, 2>(x, w, out, k, ldc, accumulate),
                    (true, 3) => dots::<2, 3>(x, w, out, k, ldc, accumulate),
                    (true, _) => dots::<2, 4>(x, w, out, k, ldc, accumulate),
                    (false, 1) => dots::<1, 1>(x, w, out, k, ldc, accumulate),
                    (false, 2) => dots::<1, 2>(x, w, out, k, ldc, accumulate),
                    (false, 3) => dots::<1, 3>(x, w, out, k, ldc, accumulate),
                    (false, _) => dots::<1, 4>(x, w, out, k, ldc, accumulate),
                }
            };
        }
        i += if pair { 2 } else { 1 };
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_columns(_: &[f32], _: &[f32], _: *mut f32, _: (usize, usize, usize, usize), _: bool) {
    unreachable!("edge_columns is 0 without AVX-512")
}

/// The dot products of the first `R` rows of `x` with the first `C` rows of `w` (rows of `k`
/// values) into the first `C` values of the first `R` rows at `out` (rows `ldc` apart; added
/// to them with `accumulate`); returns `C`.
///
/// # Safety
/// The CPU must have AVX-512F, and `out` must point at `R` rows of `C` values, `ldc` apart,
/// that no other thread reads or writes meanwhile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dots<const R: usize, const C: usize>(
    x: &[f32],
    w: &[f32],
    out: *mut f32,
    k: usize,
    ldc: usize,
    accumulate: bool,
) -> usize {
    use std::arch::x86_64::*;
    assert!(x.len() >= R * k && w.len() >= C * k);
    let (x, w) = (x.as_ptr(), w.as_ptr());
    // sums[c][r]: row r of `x` with row c of `w`
    let mut sums = [[_mm512_setzero_ps(); R]; C];
    let mut step = |p: usize, mask: __mmask16| {
        // SAFETY: the mask keeps the loads inside the rows (asserted above to hold R and C
        // rows of k values): lanes p.. of each row, p + 16 <= k or masked down to k.
        unsafe {
            let xs: [__m512; R] = std::array::from_fn(|r| _mm512_maskz_loadu_ps(mask, x.add(r * k + p)));
            for (c, sums) in sums.iter_mut().enumerate() {
                let w = _mm512_maskz_loadu_ps(mask, w.add(c * k + p));
                for (sum, &x) in sums.iter_mut().zip(&xs) {
                    *sum = _mm512_fmadd_ps(x, w, *sum);
                }
            }
        }
    };
    let whole = k - k % 16;
    for p in (0..whole).step_by(16) {
        step(p, !0);
    }
    if whole < k {
        step(whole, (1 << (k - whole)) - 1);
    }
    for (c, sums) in sums.iter().enumerate() {
        for (r, &sum) in sums.iter().enumerate() {
            // SAFETY: row r, column c of the block at `out` (the caller's contract).
            let out = unsafe { &mut *out.add(r * ldc + c) };
            let sum = _mm512_reduce_add_ps(sum);
            *out = if accumulate { *out + sum } else { sum };
        }
    }
    C
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layers' forward products `x · wᵀ` of every width from 1 to 50, so every count of edge
    /// columns (see `EDGE_COLUMNS`), against the naive product: one row and several, odd row
    /// counts (a last row without a pair), and sums shorter than, equal to and longer than 16
    /// lanes, with and without a last partial group of lanes.
    #[test]
    fn forward_products_of_every_width_match_the_naive_product() {
        for n in 1..=50 {
            for (m, k) in [(1, 1), (1, 784), (2, 16), (3, 17), (5, 100), (4, 15), (7, 33)] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 13) as f32 - 6.0) / 4.0).collect();
                let want = naive(m, n, k, &a, Op::N, &b, Op::T);
                let start: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
                for accumulate in [false, true] {
                    let mut c = start.clone();
                    gemm(m, n, k, &a, Op::N, &b, Op::T, &mut c, accumulate);
                    for (i, ((&got, &want), &start)) in c.iter().zip(&want).zip(&start).enumerate() {
                        let want = if accumulate { start + want } else { want };
                        let tol = 1e-5 * (k as f32).max(1.0) * want.abs().max(1.0);
                        assert!(
                            (got - want).abs() <= tol,
                            "{m}×{n}×{k} [{i}] accumulate {accumulate}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_first_value_that_is_not_finite_is_found_in_row_major_order() {
        // Shapes with no values, one row, one column, and blocks of rows: one wide row per
        // block (300,000 columns), several rows per block, a last block that is partly full.
        for (rows, cols) in [(0, 3), (3, 0), (1, 1), (1, 7), (5, 1), (3, 300_000), (2_000, 1_000)] {
            let clean = Matrix::from_vec(rows, cols, (0..rows * cols).map(|i| i as f32 * 1e30).collect());
            assert_eq!(clean.view().first_non_finite(), None, "{rows}×{cols}");
            let Some(last) = (rows * cols).checked_sub(1) else {
                continue;
            };
            let bad = [f32::NAN, f32::INFINITY, -f32::INFINITY].into_iter().cycle();
            for (i, bad) in [0, 1, cols, last / 2, last.saturating_sub(cols), last]
                .into_iter()
                .zip(bad)
            {
                let i = i.min(last);
                let mut m = clean.clone();
                m.as_mut_slice()[i] = bad;
                // A later one is not the first.
                if i < last {
                    m.as_mut_slice()[last] = f32::NAN;
                }
                let found = m.view().first_non_finite();
                assert_eq!(found, Some((i / cols, i % cols)), "{rows}×{cols} at {i}");
            }
        }
    }

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
    fn gemm_matches_naive_product_for_every_transposition() {
        // small shapes, and products cut into row blocks and into column blocks
        for (m, n, k) in [(7, 5, 33), (1, 40, 3), (13, 37, 600), (300, 70, 100), (40, 300, 200)] {
            check_gemm(m, n, k);
        }
    }

    #[test]
    fn large_products_do_not_depend_on_the_number_of_threads() {
        let (m, n, k) = (96, 300, 200);
        assert!(block_size(m, n, k, 2).0 < n);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 30.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 103) as f32 - 51.0) / 40.0).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut c = vec![0.0; m * n];
            pool.install(|| gemm(m, n, k, &a, Op::N, &b, Op::T, &mut c, false));
            c
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn no_product_is_cut_into_a_last_block_one_wide() {
        for along in 128..700 {
            for threads in 2..40 {
                for (m, n) in [(along, 64), (64, along)] {
                    let (size, by_rows) = block_size(m, n, 1 << 12, threads);
                    let along = if by_rows { m } else { n };
                    assert!(along % size != 1, "{m}×{n} on {threads} threads: blocks of {size}");
                    // ... and the blocks are the narrowest that do so: one step less would
                    // be under 16, leave a last block one wide or need more blocks than threads.
                    let narrower = size - block_step(by_rows);
                    assert!(
                        narrower < 16 || along % narrower == 1 || along.div_ceil(narrower) > threads,
                        "{m}×{n} on {threads} threads: blocks of {size}, {narrower} would do"
                    );
                }
            }
        }
    }

    /// The property the thread split relies on (`block_size` starts blocks on multiples of 4 or 16,
    /// at least 16 wide): faer's sums for a block of 16 rows or more starting on any multiple of
    /// 4, or of columns starting on a multiple of 16, are the whole product's, bit for bit.
    /// (Blocks of 4 rows are not: 4 × 10 × 100 takes faer's path for small products.)
    #[test]
    fn blocks_of_rows_or_columns_sum_like_the_whole_product() {
        let shapes = [
            (200, 100, 784),
            (100, 784, 200),
            (200, 10, 100),
            (130, 3, 9),
            (512, 256, 128),
            (37, 53, 1500),
            (64, 300, 33),
        ];
        for (m, n, k) in shapes {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 30.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 17 % 103) as f32 - 51.0) / 40.0).collect();
            let start: Vec<f32> = (0..m * n).map(|i| ((i * 7 % 19) as f32 - 9.0) / 8.0).collect();
            for (op_a, op_b, accumulate) in [(Op::N, Op::T, true), (Op::T, Op::N, false), (Op::N, Op::N, true)] {
                let product = |c: &mut Vec<f32>, size: usize, by_rows: bool| {
                    let p = Product::new(m, n, k, &a, op_a, &b, op_b, c, accumulate);
                    let along = if by_rows { m } else { n };
                    for start in (0..along).step_by(size) {
                        // SAFETY: the buffers hold the shapes; blocks run one after another.
                        unsafe { p.block(start..(start + size).min(along), by_rows) };
                    }
                };
                let mut whole = start.clone();
                product(&mut whole, m.max(n), true);
                let sizes = [
                    (16, true),
                    (20, true),
                    (68, true),
                    (100, true),
                    (16, false),
                    (48, false),
                    (112, false),
                ];
                for (size, by_rows) in sizes {
                    // `block_size` never leaves a last block one wide (see there)
                    if (if by_rows { m } else { n }) % size != 1 {
                        let mut blocks = start.clone();
                        product(&mut blocks, size, by_rows);
                        assert!(blocks == whole, "{m}×{n}×{k} {op_a:?}{op_b:?}: blocks of {size}");
                    }
                }
            }
        }
    }

    /// `count` values of a fixed pattern, small multiples of 1/8 so that f32 holds them exactly.
    fn pattern(count: usize, salt: usize) -> Vec<f32> {
        (0..count)
            .map(|i| ((i * 37 + salt * 11) % 23) as f32 / 8.0 - 1.375)
            .collect()
    }

    /// Row-major `rows × cols` `logical`, stored as `op` says (transposed for `Op::T`).
    fn store(logical: &[f32], rows: usize, cols: usize, op: Op) -> Vec<f32> {
        match op {
            Op::N => logical.to_vec(),
            Op::T => (0..cols * rows)
                .map(|i| logical[(i % rows) * cols + i / rows])
                .collect(),
        }
    }

    /// The operands of the test product `m × n × k`: `a'`, `b'` (row-major, as used) and the
    /// `c` that accumulating products start from.
    fn operands(m: usize, n: usize, k: usize) -> [Vec<f32>; 3] {
        [pattern(m * k, 1), pattern(k * n, 2), pattern(m * n, 3)]
    }

    /// `gemm` of the test product for every transposition, without and with accumulating.
    fn products(m: usize, n: usize, k: usize) -> Vec<Vec<f32>> {
        let [a, b, start] = operands(m, n, k);
        let mut products = Vec::new();
        for op_a in [Op::N, Op::T] {
            for op_b in [Op::N, Op::T] {
                let (sa, sb) = (store(&a, m, k, op_a), store(&b, k, n, op_b));
                for accumulate in [false, true] {
                    let mut c = if accumulate {
                        start.clone()
                    } else {
                        vec![f32::NAN; m * n]
                    };
                    gemm(m, n, k, &sa, op_a, &sb, op_b, &mut c, accumulate);
                    products.push(c);
                }
            }
        }
        products
    }

    /// Checks [`products`] against an f64 reference and returns them.
    fn check_shape(m: usize, n: usize, k: usize) -> Vec<Vec<f32>> {
        let [a, b, start] = operands(m, n, k);
        let mut want = vec![0f64; m * n];
        let mut bound = vec![0f64; m * n];
        for i in 0..m {
            for p in 0..k {
                let x = f64::from(a[i * k + p]);
                for j in 0..n {
                    want[i * n + j] += x * f64::from(b[p * n + j]);
                    bound[i * n + j] += (x * f64::from(b[p * n + j])).abs();
                }
            }
        }
        let products = products(m, n, k);
        for (index, c) in products.iter().enumerate() {
            // in the order of `products`: N·N, N·N accumulated, N·T, …
            let accumulate = index % 2 == 1;
            for (i, &got) in c.iter().enumerate() {
                let expected = want[i] + if accumulate { f64::from(start[i]) } else { 0.0 };
                // f32 rounding of k products and their running sum
                let tolerance = (bound[i] + 2.0) * (k + 2) as f64 * f64::from(f32::EPSILON);
                assert!(
                    (f64::from(got) - expected).abs() <= tolerance,
                    "{m}×{n}×{k} product {index}: c[{i}] = {got}, expected {expected}"
                );
            }
        }
        products
    }

    #[test]
    fn empty_products_touch_only_what_they_own() {
        // A side of 0: nothing of `c` belongs to the product, so nothing changes; an inner
        // dimension of 0 makes every entry an empty sum (0, or `c` as it was when accumulating).
        for (m, n, k) in [
            (0, 0, 0),
            (0, 3, 2),
            (3, 0, 2),
            (0, 3, 0),
            (3, 0, 0),
            (3, 4, 0),
            (1, 1, 0),
        ] {
            for accumulate in [false, true] {
                let (a, b) = (vec![1.0; m * k], vec![1.0; k * n]);
                let mut c = vec![7.0; m * n + 3];
                gemm(m, n, k, &a, Op::N, &b, Op::T, &mut c, accumulate);
                let owned = if accumulate { 7.0 } else { 0.0 };
                assert!(c[..m * n].iter().all(|&v| v == owned), "{m}×{n}×{k}: {c:?}");
                assert_eq!(c[m * n..], [7.0; 3], "{m}×{n}×{k}: wrote past the product");
            }
        }
    }

    #[test]
    fn every_small_shape_matches_the_reference() {
        for m in 1..=40 {
            for n in 1..=40 {
                for k in 1..=40 {
                    check_shape(m, n, k);
                }
            }
        }
    }

    #[test]
    fn large_and_prime_shapes_match_the_reference_on_any_number_of_threads() {
        let sides = [1, 2, 3, 17, 127, 128, 129, 257, 509, 1021];
        let pools: Vec<rayon::ThreadPool> = (1..=3)
            .map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap())
            .collect();
        let mut split = 0;
        for &m in &sides {
            for &n in &sides {
                for &k in &sides {
                    // large sides only (the small ones are all checked above), and the f64
                    // reference kept to about a second in all; still dozens of shapes cut into blocks,
                    // among them 1×1021×1021, 1021×1×1021 and 1021×1021×1
                    if m * n * k > 1 << 20 || m.max(n).max(k) < 100 {
                        continue;
                    }
                    split += usize::from(is_split(m, n, k));
                    let one = pools[0].install(|| check_shape(m, n, k));
                    for pool in &pools[1..] {
                        let other = pool.install(|| products(m, n, k));
                        assert!(
                            one == other,
                            "{m}×{n}×{k}: results differ on {} threads",
                            pool.current_num_threads()
                        );
                    }
                }
            }
        }
        assert!(split >= 10, "only {split} of the shapes were cut into blocks");
    }

    /// `block_size` on a thread of its own, so that a loop that never ends fails the test
    /// instead of hanging it.
    fn block_size_within_a_second(m: usize, n: usize, k: usize, threads: usize) -> (usize, bool) {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || send.send(block_size(m, n, k, threads)));
        receive
            .recv_timeout(std::time::Duration::from_secs(1))
            .unwrap_or_else(|_| panic!("block_size({m}, {n}, {k}, {threads}) did not return"))
    }

    /// The split plan is a measured choice (see [`PARALLEL_FROM`]): which side is cut, and
    /// when a product is worth cutting at all. Results do not depend on it (see
    /// `blocks_of_rows_or_columns_sum_like_the_whole_product`), so only this test notices a
    /// change to it.
    #[test]
    fn products_are_cut_as_measured() {
        // (m, n, k, threads) → (block size, cut by rows)
        let plans = [
            // compare's 100×100×100 products: worth cutting, but their longest side is under
            // SPLIT_FROM, so they run whole.
            ((100, 100, 100, 2), (100, true)),
            // Under PARALLEL_FROM multiply-adds: whole.
            ((128, 10, 128, 2), (128, true)),
            ((512, 10, 100, 2), (512, true)),
            // Tall products with a small row (n·k) are cut by rows, wide ones by columns.
            ((512, 10, 128, 2), (256, true)),
            ((32, 256, 784, 2), (128, false)),
            ((512, 256, 128, 3), (172, true)),
            // W2's forward product: 100 + 100 rows.
            ((200, 100, 784, 2), (100, true)),
            // A large row (n·k ≥ 2^19) is cut by columns even when c is tall.
            ((1000, 800, 1000, 2), (400, false)),
            // One thread: whole.
            ((512, 256, 128, 1), (512, true)),
            // At each threshold exactly: a row of 2^19, 2^19 multiply-adds, a side of SPLIT_FROM.
            ((1024, 512, 1024, 2), (256, false)),
            ((512, 8, 128, 2), (256, true)),
            ((128, 64, 128, 2), (64, true)),
        ];
        for ((m, n, k, threads), plan) in plans {
            assert_eq!(block_size(m, n, k, threads), plan, "{m}×{n}×{k} on {threads} threads");
        }
        assert!(is_split(512, 10, 128) && !is_split(100, 100, 100) && !is_split(128, 10, 128));
    }

    #[test]
    fn block_size_terminates_and_covers_the_product() {
        let alongs = [1, 2, 3, 15, 16, 17, 31, 32, 33, 127, 128, 129, 145, 257, 1021, 4097];
        for along in alongs {
            for other in [1, 2, 64, 1000] {
                for k in [1, 64, 1 << 12] {
                    for threads in 1..=5 {
                        for (m, n) in [(along, other), (other, along)] {
                            let (size, by_rows) = block_size_within_a_second(m, n, k, threads);
                            let along = if by_rows { m } else { n };
                            assert!(size >= 1, "{m}×{n}×{k}: blocks of {size}");
                            // `gemm` runs blocks `0..along.div_ceil(size)`; cut ones start on multiples of 4 (rows) or 16
                            if along.div_ceil(size) > 1 {
                                assert!(along >= SPLIT_FROM, "{m}×{n}×{k}: cut though short");
                                assert_eq!(size % block_step(by_rows), 0, "{m}×{n}×{k}");
                                assert_ne!(along % size, 1, "{m}×{n}×{k}: a last block one wide");
                            }
                        }
                    }
                }
            }
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
            }
        }
    }
}
