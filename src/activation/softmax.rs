//! Softmax, log-softmax and log-sum-exp: the row operations, their numerics (the row maximum
//! subtracted first, `-inf` and `+inf` entries, subnormals skipped) and softmax's batch
//! forward and backward passes.

/// `ln Σ e^(x_i)`, subtracting the maximum first. Empty or all `-inf` input gives `-inf`;
/// a `+inf` entry gives `+inf`; NaN propagates.
pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = nan_max(x);
    if !max.is_finite() {
        return max;
    }
    let sum: f64 = x.iter().map(|&v| f64::from(exp_non_positive(v - max))).sum();
    max + (sum as f32).ln()
}

/// Softmax of one row in place, subtracting the row maximum. A row of all `-inf` (every
/// option masked) becomes the uniform distribution; a row with `+inf` entries shares the
/// mass among them equally. A NaN entry makes the whole row NaN.
pub fn softmax_in_place(row: &mut [f32]) {
    if !shift_by_max(row) {
        return;
    }
    let mut sum = 0.0f64;
    for v in row.iter_mut() {
        *v = exp_non_positive(*v);
        sum += f64::from(*v);
    }
    let sum = sum as f32;
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// `ln softmax(x)` of one row in place (`x_i - log_sum_exp(x)`), with the same conventions as
/// [`softmax_in_place`] (all `-inf`: `-ln n` everywhere; `+inf` entries: `-ln k` there and
/// `-inf` elsewhere; NaN: all NaN).
pub fn log_softmax_in_place(row: &mut [f32]) {
    if !shift_by_max(row) {
        return;
    }
    let sum: f64 = row.iter().map(|&v| f64::from(exp_non_positive(v))).sum();
    let log_sum = (sum as f32).ln();
    for v in row.iter_mut() {
        *v -= log_sum;
    }
}

/// Softmax of each row of `cols` values of `z`, into `out`.
pub(super) fn forward_rows(z: &[f32], out: &mut [f32], cols: usize) {
    for (z_row, out_row) in z.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        out_row.copy_from_slice(z_row);
        softmax_in_place(out_row);
    }
}

/// The Jacobian-vector product `grad_z = y ⊙ (grad_y - Σ grad_y·y)` of each row of `cols`
/// values (`y` the softmax outputs).
pub(super) fn backward_rows(y: &[f32], grad_y: &[f32], grad_z: &mut [f32], cols: usize) {
    let rows = y.chunks_exact(cols).zip(grad_y.chunks_exact(cols));
    for ((y_row, gy_row), gz_row) in rows.zip(grad_z.chunks_exact_mut(cols)) {
        let dot: f32 = y_row.iter().zip(gy_row).map(|(&y, &g)| y * g).sum();
        for ((gz, &y), &gy) in gz_row.iter_mut().zip(y_row).zip(gy_row) {
            *gz = y * (gy - dot);
        }
    }
}

/// `e^v` for a logit shifted by its row's maximum (`v ≤ 0`), 0 where the result would be
/// subnormal (`v < -87`): subnormal probabilities change no sum or gradient in f32, but every
/// operation on them costs a microcode assist on x86, which made a confident softmax layer
/// slower than the matrix products feeding it. NaN stays NaN.
#[inline]
fn exp_non_positive(v: f32) -> f32 {
    if v < -87.0 {
        0.0
    } else {
        v.exp()
    }
}

/// The largest entry, NaN if there is a NaN, `-inf` for an empty slice.
fn nan_max(x: &[f32]) -> f32 {
    x.iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m || v.is_nan() { v } else { m })
}

/// Subtracts the row maximum `m` from every entry; if `m` is infinite (all `-inf`, or some
/// `+inf`), the entries equal to `m` become 0 and the others `-inf`. A row with a NaN becomes
/// all NaN and the result is `false` (nothing left to do).
fn shift_by_max(row: &mut [f32]) -> bool {
    let max = nan_max(row);
    if max.is_nan() {
        row.fill(f32::NAN);
        false
    } else if max.is_finite() {
        row.iter_mut().for_each(|v| *v -= max);
        true
    } else {
        let shift = |v: f32| if v == max { 0.0 } else { f32::NEG_INFINITY };
        row.iter_mut().for_each(|v| *v = shift(*v));
        true
    }
}

#[cfg(test)]
mod tests;
