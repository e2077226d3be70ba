//! Single-sample inference: a network's weights laid out for one input vector at a time.
//!
//! A batch product packs its operands on every call; for one sample that packing, and any
//! framework's dispatch, costs more than the arithmetic. A [`Predictor`] copies the weights once
//! into the layout a matrix–vector product wants: transposed (input `p`'s weights to every
//! output side by side), each row padded with zeros to whole 64-byte lines of 16 floats. A
//! layer is then `y = b + Σ_p x_p · Wᵀ[p]`: per input one broadcast and one aligned multiply-add
//! per 16 outputs, no horizontal sums, no masks, and the weights read front to back.

#[cfg(target_arch = "x86_64")]
use crate::cpu::Isa;
use crate::cpu::{level, Level};
use crate::{Activation, Mlp};

/// Sixteen floats on one 64-byte cache line (one AVX-512 register).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// Floats per [`Line`].
const LANES: usize = 16;

/// One layer in the inference layout.
#[derive(Clone, Debug)]
struct PackedLayer {
    inputs: usize,
    outputs: usize,
    /// `inputs` rows of `lines` lines: row `p` holds `W[j, p]` for every output `j`, then zeros.
    weight: Vec<Line>,
    /// The bias, padded with zeros.
    bias: Vec<Line>,
    activation: Activation,
    slopes: Vec<f32>,
    /// Whether the layer's input is added to its output (a skip connection).
    residual: bool,
}

impl PackedLayer {
    /// Lines per row of the transposed weights.
    fn lines(&self) -> usize {
        self.bias.len()
    }
}

/// An [`Mlp`]'s layers in the inference layout, read by any number of threads at once.
#[derive(Clone, Debug)]
struct Layout {
    layers: Vec<PackedLayer>,
}

/// The buffers one thread needs to run a [`Layout`] on one sample.
#[derive(Clone, Debug)]
struct Buffers {
    /// Pre-activations of the current layer.
    z: Vec<Line>,
    /// Outputs of alternate layers.
    h: [Vec<Line>; 2],
}

impl Buffers {
    /// The network's outputs after [`Layout::run_rows`].
    fn output(&self, layout: &Layout) -> &[f32] {
        &flat(&self.h[(layout.layers.len() - 1) % 2])[..layout.outputs()]
    }
}

/// Rows per task when [`Layout::predict_rows`] spreads a batch over the rayon pool; batches
/// of at most this many rows run on the calling thread (handing them over costs more).
const ROWS_PER_TASK: usize = 32;

/// Samples that [`Layout::predict_rows`] runs through the products together, sharing each load
/// of the weights (a divisor of [`ROWS_PER_TASK`]).
const GROUP: usize = 2;

impl Layout {
    fn new(mlp: &Mlp) -> Self {
        let layers = mlp
            .layers()
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let p = mlp.layer_params(i);
                let lines = spec.outputs.div_ceil(LANES);
                let mut weight = vec![Line::default(); spec.inputs * lines];
                for (j, row) in p.weight.chunks_exact(spec.inputs.max(1)).enumerate() {
                    for (q, &w) in row.iter().enumerate() {
                        weight[q * lines + j / LANES].0[j % LANES] = w;
                    }
                }
                let mut bias = vec![Line::default(); lines];
                for (j, &b) in p.bias.iter().enumerate() {
                    bias[j / LANES].0[j % LANES] = b;
                }
                PackedLayer {
                    inputs: spec.inputs,
                    outputs: spec.outputs,
                    weight,
                    bias,
                    activation: spec.activation,
                    slopes: p.slopes.to_vec(),
                    residual: mlp.is_residual(i),
                }
            })
            .collect();
        Self { layers }
    }

    fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    fn buffers(&self) -> Buffers {
        let widest = self.layers.iter().map(PackedLayer::lines).max().unwrap_or(0);
        let buffer = || vec![Line::default(); widest];
        Buffers {
            z: buffer(),
            h: [buffer(), buffer()],
        }
    }

    /// The outputs for one sample `x` at `level`, one this CPU runs, computed in `buffers`;
    /// afterwards `buffers.z` holds the output layer's pre-activations.
    fn run<'b>(&self, level: Level, x: &[f32], buffers: &'b mut Buffers) -> &'b [f32] {
        self.run_rows(level, [x], [&mut *buffers]);
        buffers.output(self)
    }

    /// [`Layout::run`] of `R` samples at once, sample `r` in `buffers[r]` (see
    /// [`Buffers::output`]).
    ///
    /// Every sum runs in an order fixed by the layer's shape alone (see [`affine_generic`]),
    /// and the activations work on each sample's row alone, so a sample's outputs are the same
    /// bits whatever else is predicted with it.
    fn run_rows<const R: usize>(&self, level: Level, x: [&[f32]; R], buffers: [&mut Buffers; R]) {
        for x in x {
            assert_eq!(x.len(), self.inputs(), "input has the wrong length");
        }
        let mut parts = buffers.map(|b| {
            let Buffers { z, h } = b;
            let [even, odd] = h;
            (z, even, odd)
        });
        for (i, layer) in self.layers.iter().enumerate() {
            let mut rows = std::array::from_fn::<_, R, _>(|_| None);
            let mut outs = std::array::from_fn::<_, R, _>(|_| None);
            for (r, (z, even, odd)) in parts.iter_mut().enumerate() {
                let (previous, current) = if i % 2 == 0 {
                    (&**odd, &mut **even)
                } else {
                    (&**even, &mut **odd)
                };
                let input = if i == 0 { x[r] } else { &flat(previous)[..layer.inputs] };
                rows[r] = Some(Row {
                    x: input,
                    z: &mut z[..],
                });
                outs[r] = Some(current);
            }
            let mut rows = rows.map(Option::unwrap);
            affine_at(level, layer, &mut rows);
            let n = layer.outputs;
            for (row, out) in rows.into_iter().zip(outs) {
                let out = &mut flat_mut(out.unwrap())[..n];
                layer.activation.forward_batch(&flat(row.z)[..n], out, n, &layer.slopes);
                if layer.residual {
                    out.iter_mut().zip(row.x).for_each(|(o, &x)| *o += x);
                }
            }
        }
    }

    /// The outputs of `out.len() / outputs` samples, each the same bits as [`Predictor::predict_one`]'s,
    /// written row after row to `out`. `input(row, x)` writes sample `row`'s inputs to `x`;
    /// large batches run on the rayon pool.
    ///
    /// # Errors
    /// The first row (in order) whose `input` fails, with its error, or whose outputs or
    /// output pre-activations are not finite, with `None`.
    fn predict_rows<E: Send>(
        &self,
        out: &mut [f32],
        input: impl Fn(usize, &mut [f32]) -> Result<(), E> + Sync,
    ) -> Result<(), (usize, Option<E>)> {
        use rayon::prelude::*;
        let (level, outputs) = (level(), self.outputs());
        // A task's buffers: each sample's inputs, and those of [`Layout::run_rows`].
        let buffers = || {
            let x: [Vec<f32>; GROUP] = std::array::from_fn(|_| vec![0.0; self.inputs()]);
            (x, std::array::from_fn::<_, GROUP, _>(|_| self.buffers()))
        };
        let task = |(x, buffers): &mut ([Vec<f32>; GROUP], [Buffers; GROUP]), (t, rows): (usize, &mut [f32])| {
            for (g, group) in rows.chunks_mut(GROUP * outputs.max(1)).enumerate() {
                let first = t * ROWS_PER_TASK + g * GROUP;
                let mut count = group.len() / outputs.max(1);
                // The first sample whose inputs fail, after the outputs of those before it.
                let mut refused = None;
                for (r, x) in x[..count].iter_mut().enumerate() {
                    if let Err(e) = input(first + r, x) {
                        refused = Some((first + r, Some(e)));
                        count = r;
                        break;
                    }
                }
                if count == GROUP {
                    self.run_rows(level, x.each_ref().map(Vec::as_slice), buffers.each_mut());
                } else {
                    for (x, buffers) in x[..count].iter().zip(buffers.iter_mut()) {
                        self.run_rows(level, [x], [buffers]);
                    }
                }
                let finite = |v: &[f32]| v.iter().all(|v| v.is_finite());
                for (r, (row, buffers)) in group
                    .chunks_exact_mut(outputs.max(1))
                    .zip(&buffers[..count])
                    .enumerate()
                {
                    row.copy_from_slice(buffers.output(self));
                    if !finite(row) || !finite(&flat(&buffers.z)[..outputs]) {
                        return Some((first + r, None));
                    }
                }
                if refused.is_some() {
                    return refused;
                }
            }
            None
        };
        let chunk = ROWS_PER_TASK * outputs.max(1);
        let failure = if out.len() <= chunk {
            let mut buffers = buffers();
            out.chunks_mut(chunk)
                .enumerate()
                .find_map(|rows| task(&mut buffers, rows))
        } else {
            out.par_chunks_mut(chunk)
                .enumerate()
                .map_init(buffers, task)
                .find_map_first(|failure| failure)
        };
        failure.map_or(Ok(()), Err)
    }
}

/// A copy of an [`Mlp`] laid out for predicting one sample at a time, with its buffers.
///
/// ```
/// # use actlab::{Activation, Mlp, MlpConfig};
/// # use rand::SeedableRng;
/// # let config = MlpConfig { inputs: 4, hidden: vec![8], activations: vec![Activation::Relu],
/// #     outputs: 3, output: Activation::Softmax, residual: false, init: None };
/// # let mlp = Mlp::new(&config, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0)).unwrap();
/// let mut predictor = actlab::inference::Predictor::new(&mlp);
/// let probabilities = predictor.predict_one(&[0.1, -0.2, 0.3, 0.0]);
/// assert_eq!(probabilities.len(), 3);
/// ```
///
/// [`Mlp::predict`] runs the same code on every row of a batch, so its rows are these
/// outputs, bit for bit. The copy does not follow later changes to the network's parameters:
/// make a new predictor after training further.
#[derive(Clone, Debug)]
pub struct Predictor {
    layout: Layout,
    buffers: Buffers,
}

impl Predictor {
    /// Lays out `mlp`'s parameters for single-sample inference.
    pub fn new(mlp: &Mlp) -> Self {
        let layout = Layout::new(mlp);
        let buffers = layout.buffers();
        Self { layout, buffers }
    }

    /// Number of inputs a sample has.
    pub fn inputs(&self) -> usize {
        self.layout.inputs()
    }

    /// The network's outputs for one sample `x` (`[inputs]`), without allocating.
    ///
    /// # Panics
    /// If `x.len()` is not the number of inputs.
    pub fn predict_one(&mut self, x: &[f32]) -> &[f32] {
        self.predict_at(level(), x)
    }

    /// [`Predictor::predict_one`] with the products at `level`, one this CPU runs.
    fn predict_at(&mut self, level: Level, x: &[f32]) -> &[f32] {
        self.layout.run(level, x, &mut self.buffers)
    }

    /// The outputs for `out.len() / outputs` samples, written row after row to `out`, each
    /// the same bits as [`Predictor::predict_one`]'s whatever the batch's size, the row's place
    /// in it or the number of threads: the library's one batch prediction path. `input(row, x)`
    /// writes sample `row`'s inputs to `x`; large batches run on the rayon pool.
    ///
    /// # Errors
    /// The first row (in order) whose `input` fails, with its error, or whose outputs or
    /// output pre-activations are not finite, with `None`.
    pub(crate) fn predict_rows<E: Send>(
        &self,
        out: &mut [f32],
        input: impl Fn(usize, &mut [f32]) -> Result<(), E> + Sync,
    ) -> Result<(), (usize, Option<E>)> {
        self.layout.predict_rows(out, input)
    }
}

/// A run of lines as floats.
fn flat(lines: &[Line]) -> &[f32] {
    // SAFETY: `Line` is `repr(C)` around `[f32; 16]`, 64 bytes without padding.
    unsafe { std::slice::from_raw_parts(lines.as_ptr().cast(), lines.len() * LANES) }
}

/// A run of lines as floats, mutably.
fn flat_mut(lines: &mut [Line]) -> &mut [f32] {
    // SAFETY: as for `flat`.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast(), lines.len() * LANES) }
}

/// One sample's part of a layer's products: its inputs, and its pre-activations' buffer.
struct Row<'a> {
    x: &'a [f32],
    z: &'a mut [Line],
}

/// `z = b + Σ_p x_p · Wᵀ[p]` for `R` samples at once, at most 8 lines (128 outputs) at a time
/// so that the sums stay in registers; generic over whether `mul_add` is a fused instruction
/// (`F`). The samples share each load of the weights; each sample's sums run in the same order
/// whatever `R` (they depend on the layer's width alone), so a sample's pre-activations are the
/// same bits alone or with others.
#[inline(always)]
fn affine_generic<const R: usize, const F: bool>(layer: &PackedLayer, rows: &mut [Row<'_>; R]) {
    let lines = layer.lines();
    let mut start = 0;
    while start < lines {
        let width = (lines - start).min(8);
        // Narrow blocks split the inputs over several chains of sums, so that enough
        // independent multiply-adds are in flight to hide their latency.
        // Blocks of several chains take one sample at a time: with more, LLVM spills their
        // sums from the registers (measured 3× slower on 64 → 64 with two samples).
        match width {
            1 => one_by_one::<1, 4, R, F>(layer, rows, start),
            2 => one_by_one::<2, 4, R, F>(layer, rows, start),
            3 => one_by_one::<3, 2, R, F>(layer, rows, start),
            4 => one_by_one::<4, 2, R, F>(layer, rows, start),
            5 => block::<5, 1, R, F>(layer, rows, start),
            6 => block::<6, 1, R, F>(layer, rows, start),
            7 => block::<7, 1, R, F>(layer, rows, start),
            _ => block::<8, 1, R, F>(layer, rows, start),
        }
        start += width;
    }
}

/// Lines `start .. start + V` of each row's `z`, summed in `S` chains (input `p` goes to chain
/// `p % S`; the chains are added last, in order).
#[inline(always)]
fn block<const V: usize, const S: usize, const R: usize, const F: bool>(
    layer: &PackedLayer,
    rows: &mut [Row<'_>; R],
    start: usize,
) {
    let lines = layer.lines();
    let x: [&[f32]; R] = std::array::from_fn(|r| &rows[r].x[..layer.inputs]);
    let mut acc = [[[[0.0f32; LANES]; V]; S]; R];
    for acc in &mut acc {
        acc[0] = std::array::from_fn(|v| layer.bias[start + v].0);
    }
    let whole = layer.inputs - layer.inputs % S;
    for (q, weights) in layer.weight[..whole * lines].chunks_exact(S * lines).enumerate() {
        for s in 0..S {
            let w = &weights[s * lines + start..][..V];
            for r in 0..R {
                add_row::<V, F>(&mut acc[r][s], w, x[r][q * S + s]);
            }
        }
    }
    for (p, weights) in (whole..).zip(layer.weight[whole * lines..].chunks_exact(lines)) {
        for r in 0..R {
            add_row::<V, F>(&mut acc[r][0], &weights[start..start + V], x[r][p]);
        }
    }
    for (row, acc) in rows.iter_mut().zip(&mut acc) {
        let (sums, others) = acc.split_at_mut(1);
        for other in others {
            for (sum, &o) in sums[0].as_flattened_mut().iter_mut().zip(other.as_flattened()) {
                *sum += o;
            }
        }
        for (line, sum) in row.z[start..start + V].iter_mut().zip(sums[0]) {
            line.0 = sum;
        }
    }
}

/// [`block`] of each sample in turn.
#[inline(always)]
fn one_by_one<const V: usize, const S: usize, const R: usize, const F: bool>(
    layer: &PackedLayer,
    rows: &mut [Row<'_>; R],
    start: usize,
) {
    for row in rows {
        block::<V, S, 1, F>(layer, std::array::from_mut(row), start);
    }
}

/// `acc += xp · row`.
#[inline(always)]
fn add_row<const V: usize, const F: bool>(acc: &mut [[f32; LANES]; V], row: &[Line], xp: f32) {
    let row: &[Line; V] = row.try_into().unwrap();
    for (a, &w) in acc.as_flattened_mut().iter_mut().zip(flat(row)) {
        *a = if F { w.mul_add(xp, *a) } else { w * xp + *a };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn affine_avx512<const R: usize>(layer: &PackedLayer, rows: &mut [Row<'_>; R]) {
    affine_generic::<R, true>(layer, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn affine_avx2<const R: usize>(layer: &PackedLayer, rows: &mut [Row<'_>; R]) {
    affine_generic::<R, true>(layer, rows)
}

/// The layer's pre-activations for `R` samples at `level`, which must be one this CPU runs.
fn affine_at<const R: usize>(level: Level, layer: &PackedLayer, rows: &mut [Row<'_>; R]) {
    match level.isa() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `Level` is made only by feature detection (see `crate::cpu`).
        Isa::Avx512 => unsafe { affine_avx512(layer, rows) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { affine_avx2(layer, rows) },
        _ => affine_generic::<R, { cfg!(target_arch = "aarch64") }>(layer, rows),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::mlp::Workspace;
    use crate::MlpConfig;

    /// Widths that exercise every block width (1 to 8 lines, and 8 + 2), inputs that do not
    /// divide into the chains, PReLU slopes and skip connections.
    fn network() -> Mlp {
        let config = MlpConfig {
            inputs: 7,
            hidden: vec![150, 150, 33, 90, 50, 70, 100, 120],
            activations: ["relu", "prelu", "tanh", "gelu", "sigmoid", "elu", "silu", "leaky_relu"]
                .iter()
                .map(|a| a.parse().unwrap())
                .collect(),
            outputs: 3,
            output: Activation::Identity,
            residual: true,
            init: None,
        };
        Mlp::new(&config, &mut ChaCha8Rng::seed_from_u64(5)).unwrap()
    }

    #[test]
    fn every_level_matches_the_batch_forward_pass() {
        let mlp = network();
        let rows = 9;
        let x: Vec<f32> = (0..rows * 7).map(|i| ((i * 29 % 17) as f32 - 8.0) / 4.0).collect();
        let mut ws = Workspace::default();
        mlp.forward(&x, rows, &mut ws);
        let mut predictor = Predictor::new(&mlp);
        for level in Level::available() {
            for (sample, want) in x.chunks(7).zip(ws.output().chunks(3)) {
                let got = predictor.predict_at(level, sample);
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{level:?}: {g} vs {w}");
                }
            }
        }
        assert_eq!(predictor.predict_one(&x[..7]).len(), 3);
    }

    #[test]
    fn the_layout_is_the_transposed_weights_padded_with_zeros() {
        let mlp = network();
        let predictor = Predictor::new(&mlp);
        let (layer, p) = (&predictor.layout.layers[2], mlp.layer_params(2));
        assert_eq!((layer.inputs, layer.outputs, layer.lines()), (150, 33, 3));
        let w = flat(&layer.weight);
        for j in 0..33 {
            for q in 0..150 {
                assert_eq!(w[q * 48 + j], p.weight[j * 150 + q]);
            }
        }
        assert!((0..150).all(|q| w[q * 48 + 33..(q + 1) * 48].iter().all(|&v| v == 0.0)));
        assert_eq!(&flat(&layer.bias)[..33], p.bias);
        assert!(flat(&layer.bias)[33..].iter().all(|&v| v == 0.0));
    }
}
