//! Feature standardization with statistics of the training split.

use serde::{Deserialize, Serialize};

use crate::Matrix;

/// Per-feature mean and standard deviation (statistics of the training split).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column.
    pub mean: Vec<f32>,
    /// Standard deviation of each column (1 where the column is constant).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Column means and (population) standard deviations of `x`.
    ///
    /// Statistics are accumulated in `f64`; a column whose standard deviation is below
    /// `1e-12` (a constant column, such as an image's border pixels) gets a standard deviation
    /// of 1, so standardizing keeps it finite.
    pub fn fit(x: &Matrix) -> Self {
        let (rows, cols) = (x.rows(), x.cols());
        let mut sum = vec![0f64; cols];
        for row in x.iter_rows() {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let n = rows.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut squares = vec![0f64; cols];
        for row in x.iter_rows() {
            for ((s, &m), &v) in squares.iter_mut().zip(&mean).zip(row) {
                let d = f64::from(v) - m;
                *s += d * d;
            }
        }
        let std = squares
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd < 1e-12 {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// One mean and (population) standard deviation over every cell of `x`, repeated for each
    /// column: for features on one shared scale such as pixels, where per-column statistics
    /// would blow up columns that are almost always zero.
    pub fn fit_global(x: &Matrix) -> Self {
        let n = x.as_slice().len().max(1) as f64;
        let mean = x.as_slice().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x.as_slice().iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let std = if var.sqrt() < 1e-12 { 1.0 } else { var.sqrt() as f32 };
        Standardizer {
            mean: vec![mean as f32; x.cols()],
            std: vec![std; x.cols()],
        }
    }

    /// `x ← (x - mean) / std`, column by column.
    ///
    /// # Panics
    /// If `x` does not have as many columns as the standardizer.
    pub fn apply(&self, x: &mut Matrix) {
        assert_eq!(
            x.cols(),
            self.mean.len(),
            "standardizer fitted on {} columns applied to {}",
            self.mean.len(),
            x.cols()
        );
        let cols = x.cols();
        if cols == 0 {
            return;
        }
        for row in x.as_mut_slice().chunks_exact_mut(cols) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
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
}
