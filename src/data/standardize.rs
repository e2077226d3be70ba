//! Feature standardization with statistics of the training split.

use serde::{Deserialize, Serialize};

use crate::{Matrix, MatrixRef};

/// Per-feature mean and standard deviation (statistics of the training split).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column.
    pub mean: Vec<f32>,
    /// Standard deviation of each column (1 where the column is constant).
    pub std: Vec<f32>,
}

/// Values per block of rows in the parallel passes: a block stays in the core's cache while it
/// is read twice.
const BLOCK: usize = 1 << 15;

/// Values from which the standardizing passes run on the rayon pool.
const PARALLEL_FROM: usize = 1 << 18;

/// Rows of `cols` values per block of the parallel passes.
fn block_len(cols: usize) -> usize {
    cols * (BLOCK / cols).max(1)
}

/// Count, mean and sum of squared deviations from the mean, per column or pooled over every
/// value, of some rows.
#[derive(Clone)]
struct Moments {
    n: usize,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Moments {
    /// Of the rows of `block` (`cols` values each), in two passes over the block; `pooled`: of
    /// all its values as one column.
    fn of(block: &[f32], cols: usize, pooled: bool) -> Self {
        crate::cpu::vectorized(
            #[inline(always)]
            || Self::of_inline(block, cols, pooled),
        )
    }

    /// [`Moments::of`], inlined into its vectorized copies.
    #[inline(always)]
    fn of_inline(block: &[f32], cols: usize, pooled: bool) -> Self {
        let rows = block.len() / cols;
        let mut sum = vec![0f64; cols];
        for row in block.chunks_exact(cols) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let mean: Vec<f64> = if pooled {
            vec![sum.iter().sum::<f64>() / block.len() as f64; cols]
        } else {
            sum.iter().map(|s| s / rows as f64).collect()
        };
        let mut m2 = vec![0f64; cols];
        for row in block.chunks_exact(cols) {
            for ((s, &m), &v) in m2.iter_mut().zip(&mean).zip(row) {
                let d = f64::from(v) - m;
                *s += d * d;
            }
        }
        if pooled {
            return Moments {
                n: block.len(),
                mean: vec![mean[0]],
                m2: vec![m2.iter().sum()],
            };
        }
        Moments { n: rows, mean, m2 }
    }

    /// The moments of the rows of both (Chan, Golub and LeVeque's pairwise update).
    fn merge(mut self, other: Moments) -> Self {
        if self.n == 0 {
            return other;
        }
        let (a, b) = (self.n as f64, other.n as f64);
        for ((mean, m2), (other_mean, other_m2)) in self
            .mean
            .iter_mut()
            .zip(&mut self.m2)
            .zip(other.mean.iter().zip(&other.m2))
        {
            let delta = other_mean - *mean;
            *mean += delta * b / (a + b);
            *m2 += other_m2 + delta * delta * a * b / (a + b);
        }
        self.n += other.n;
        self
    }

    /// Of the rows of `x` in one pass over memory: each block of rows (in parallel) in two
    /// passes over the cache, the blocks merged in order, so the result does not depend on the
    /// number of threads.
    fn of_matrix(x: MatrixRef<'_>, pooled: bool) -> Self {
        use rayon::prelude::*;
        let cols = x.cols().max(1);
        let width = if pooled { 1 } else { x.cols() };
        let empty = Moments {
            n: 0,
            mean: vec![0.0; width],
            m2: vec![0.0; width],
        };
        let blocks: Vec<Moments> = x
            .as_slice()
            .par_chunks(block_len(cols))
            .with_min_len(PARALLEL_FROM / BLOCK)
            .map(|block| Moments::of(block, cols, pooled))
            .collect();
        blocks.into_iter().fold(empty, Moments::merge)
    }

    /// Means and standard deviations as f32, a standard deviation below `1e-12` taken as 1.
    fn into_standardizer(self, cols: usize) -> Standardizer {
        let n = self.n.max(1) as f64;
        let std = self.m2.iter().map(|s| {
            let sd = (s / n).sqrt();
            if sd < 1e-12 {
                1.0
            } else {
                sd as f32
            }
        });
        let (mean, std): (Vec<f32>, Vec<f32>) = self.mean.iter().map(|&m| m as f32).zip(std).unzip();
        if mean.len() == cols {
            return Standardizer { mean, std };
        }
        Standardizer {
            mean: vec![mean[0]; cols],
            std: vec![std[0]; cols],
        }
    }
}

impl Standardizer {
    /// Column means and (population) standard deviations of `x`.
    ///
    /// Statistics are accumulated in `f64`, in one pass over `x` (blocks of rows that fit in
    /// cache, each block's count, mean and squared deviations merged into the total by Chan's
    /// update, in row order, so the result does not depend on the thread count); a column
    /// whose standard deviation is below `1e-12` (a constant column, such as an image's border
    /// pixels) gets a standard deviation of 1, so standardizing keeps it finite.
    pub fn fit<'a>(x: impl Into<MatrixRef<'a>>) -> Self {
        let x = x.into();
        Moments::of_matrix(x, false).into_standardizer(x.cols())
    }

    /// One mean and (population) standard deviation over every cell of `x`, repeated for each
    /// column: for features on one shared scale such as pixels, where per-column statistics
    /// would blow up columns that are almost always zero.
    pub fn fit_global<'a>(x: impl Into<MatrixRef<'a>>) -> Self {
        let x = x.into();
        Moments::of_matrix(x, true).into_standardizer(x.cols())
    }

    /// Whether every mean and standard deviation is finite.
    pub fn is_finite(&self) -> bool {
        self.mean.iter().chain(&self.std).all(|v| v.is_finite())
    }

    /// `x ← (x - mean) / std`, column by column.
    ///
    /// # Panics
    /// If `x` does not have as many columns as the standardizer.
    pub fn apply(&self, x: &mut Matrix) {
        let cols = x.cols();
        let _ = self.rows(x, |_, block| {
            let mut raw = vec![0.0; cols];
            for row in block.chunks_exact_mut(cols) {
                raw.copy_from_slice(row);
                // Results that are not finite are kept like any other.
                self.row(&raw, row);
            }
            None
        });
    }

    /// [`Standardizer::apply`] that stops at the first result that is not finite, in row-major
    /// order, and returns its row, its column and the value it came from (`x` is then left
    /// partly standardized). Large matrices are standardized in parallel.
    ///
    /// # Panics
    /// If `x` does not have as many columns as the standardizer.
    pub fn apply_checked(&self, x: &mut Matrix) -> std::result::Result<(), (usize, usize, f32)> {
        let cols = x.cols();
        self.rows(x, |first_row, block| {
            let mut raw = vec![0.0; cols];
            for (r, row) in block.chunks_exact_mut(raw.len()).enumerate() {
                raw.copy_from_slice(row);
                if let Some(c) = self.row(&raw, row) {
                    return Some((first_row + r, c, raw[c]));
                }
            }
            None
        })
    }

    /// `(raw - mean) / std` as a new matrix, in one pass over `raw` (in parallel when it is
    /// large), or the row and column of the first result that is not finite.
    ///
    /// # Panics
    /// If `raw` does not have as many columns as the standardizer.
    pub fn standardized<'a>(&self, raw: impl Into<MatrixRef<'a>>) -> std::result::Result<Matrix, (usize, usize)> {
        let raw = raw.into();
        let mut x = Matrix::zeros(raw.rows(), raw.cols());
        let cols = raw.cols();
        self.rows(&mut x, |first_row, block| {
            let source = &raw.as_slice()[first_row * cols..first_row * cols + block.len()];
            for (r, (row, raw)) in block.chunks_exact_mut(cols).zip(source.chunks_exact(cols)).enumerate() {
                if let Some(c) = self.row(raw, row) {
                    return Some((first_row + r, c, raw[c]));
                }
            }
            None
        })
        .map_err(|(row, column, _)| (row, column))?;
        Ok(x)
    }

    /// Runs `block(first row, rows)` over the rows of `x` in blocks, on the rayon pool when `x`
    /// is large, and returns the first (in row order) of the positions the blocks stop at.
    fn rows(
        &self,
        x: &mut Matrix,
        block: impl Fn(usize, &mut [f32]) -> Option<(usize, usize, f32)> + Sync,
    ) -> std::result::Result<(), (usize, usize, f32)> {
        use rayon::prelude::*;
        assert_eq!(
            x.cols(),
            self.mean.len(),
            "standardizer fitted on {} columns applied to {}",
            self.mean.len(),
            x.cols()
        );
        let cols = x.cols();
        if cols == 0 {
            return Ok(());
        }
        let len = block_len(cols);
        let stop = x
            .as_mut_slice()
            .par_chunks_mut(len)
            .with_min_len(PARALLEL_FROM / BLOCK)
            .enumerate()
            .map(|(i, rows)| block(i * len / cols, rows))
            .find_map_first(|stop| stop);
        stop.map_or(Ok(()), Err)
    }

    /// `out ← (raw - mean) / std` for one row; the column of its first result that is not
    /// finite.
    pub(crate) fn row(&self, raw: &[f32], out: &mut [f32]) -> Option<usize> {
        let finite = crate::cpu::vectorized(
            #[inline(always)]
            || {
                for ((o, &v), (&m, &s)) in out.iter_mut().zip(raw).zip(self.mean.iter().zip(&self.std)) {
                    *o = (v - m) / s;
                }
                out.iter().fold(true, |finite, v| finite & v.is_finite())
            },
        );
        if finite {
            return None;
        }
        out.iter().position(|v| !v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizer() {
        let mut x = Matrix::from_vec(
            4,
            3,
            vec![1.0, 5.0, 100.0, 2.0, 5.0, 200.0, 3.0, 5.0, 300.0, 4.0, 5.0, 400.0],
        );
        let s = Standardizer::fit(&x);
        assert_eq!(s.mean, [2.5, 5.0, 250.0]);
        assert_eq!(s.std[1], 1.0);
        assert!((s.std[0] - 1.118034).abs() < 1e-6);
        s.apply(&mut x);
        for c in [0, 2] {
            let column: Vec<f64> = x.iter_rows().map(|r| f64::from(r[c])).collect();
            let mean = column.iter().sum::<f64>() / 4.0;
            let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-6 && (var.sqrt() - 1.0).abs() < 1e-6, "{mean} {var}");
        }
        assert!(x.iter_rows().all(|r| r[1] == 0.0));
    }

    /// The textbook two passes over the whole matrix, in row order: the reference.
    fn two_pass(values: &[f32]) -> (f32, f32) {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        (mean as f32, var.sqrt() as f32)
    }

    /// 100,000 rows (many blocks, on the pool) of columns on very different scales.
    fn wide_ranging() -> Matrix {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (rows, cols) = (100_000, 7);
        let mut x = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            let u: f32 = rng.random();
            x.extend([
                u,
                1e6 + 3.0 * u,
                -4e-3 * u,
                (r % 256) as f32,
                if r % 1000 == 0 { 1e4 } else { 0.0 },
                5.0,
                rng.random::<f32>() * 1e30,
            ]);
        }
        Matrix::from_vec(rows, cols, x)
    }

    #[test]
    fn one_pass_statistics_match_the_two_pass_ones_bit_for_bit() {
        let x = wide_ranging();
        let s = Standardizer::fit(&x);
        for c in 0..x.cols() {
            let column: Vec<f32> = x.iter_rows().map(|r| r[c]).collect();
            let (mean, std) = two_pass(&column);
            assert_eq!(
                (s.mean[c], s.std[c]),
                (mean, if c == 5 { 1.0 } else { std }),
                "column {c}"
            );
        }
        let pixels = Matrix::from_vec(100_000, 5, (0..500_000u64).map(|i| ((i * 7919) % 256) as f32).collect());
        let g = Standardizer::fit_global(&pixels);
        let (mean, std) = two_pass(pixels.as_slice());
        assert_eq!((g.mean, g.std), (vec![mean; 5], vec![std; 5]));
        // A matrix without rows: mean 0, std 1.
        let none = Standardizer::fit(&Matrix::zeros(0, 3));
        assert_eq!((none.mean, none.std), (vec![0.0; 3], vec![1.0; 3]));
    }

    #[test]
    fn standardizing_in_parallel_copies_or_in_place_gives_the_same_bits() {
        let raw = wide_ranging();
        let s = Standardizer::fit(&raw);
        let copied = s.standardized(&raw).unwrap();
        let mut in_place = raw.clone();
        s.apply_checked(&mut in_place).unwrap();
        let mut plain = raw.clone();
        s.apply(&mut plain);
        for (i, ((&c, &p), &v)) in copied
            .as_slice()
            .iter()
            .zip(plain.as_slice())
            .zip(raw.as_slice())
            .enumerate()
        {
            let col = i % raw.cols();
            assert_eq!(c.to_bits(), ((v - s.mean[col]) / s.std[col]).to_bits(), "cell {i}");
            assert_eq!(c.to_bits(), p.to_bits(), "cell {i}");
        }
        assert_eq!(copied, in_place);
    }

    #[test]
    fn the_first_result_beyond_f32_is_named_with_its_raw_value() {
        let mut raw = wide_ranging();
        let s = Standardizer {
            mean: vec![0.0; 7],
            std: vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1e-10],
        };
        // Row 0 of the last column is 1e30 × u / 1e-10: beyond f32 unless u is tiny; put the
        // first offender far into the matrix, in a later block than others on the pool.
        for r in 0..raw.rows() {
            raw.row_mut(r)[6] = 1.0;
        }
        raw.row_mut(70_000)[6] = 1e30;
        raw.row_mut(90_000)[6] = 2e30;
        assert_eq!(s.standardized(&raw), Err((70_000, 6)));
        let mut x = raw.clone();
        assert_eq!(s.apply_checked(&mut x), Err((70_000, 6, 1e30)));
        // Standardizing without the check keeps going.
        let mut x = raw.clone();
        s.apply(&mut x);
        assert!(x.row(90_000)[6].is_infinite() && x.row(99_999)[6] == 1e10);
    }
}
