//! A row's prediction is the same bits whatever batch it is predicted in, wherever it sits
//! there, and on any number of threads: [`Model::predict`], [`Model::predict_rows`],
//! [`Model::predict_one`] and [`actlab::predictor::Predictor`] (one sample or a batch) agree bit
//! for bit (scikit-learn's `check_methods_subset_invariance` asks the same of the estimators).

use actlab::data::Standardizer;
use actlab::{Activation, Loss, Matrix, MatrixRef, Mlp, MlpConfig, Model, Task};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Batch sizes around the kernels' and the thread split's boundaries.
const BATCHES: [usize; 10] = [1, 2, 3, 7, 31, 32, 33, 64, 65, 211];

/// What the model predicts.
#[derive(Clone, Copy, Debug)]
enum Output {
    /// Three classes, softmax.
    Classes,
    /// Two classes, one sigmoid output.
    Binary,
    /// A number, identity output, un-scaled to the target's units.
    Value,
}

const OUTPUTS: [Output; 3] = [Output::Classes, Output::Binary, Output::Value];

/// A model with `hidden` layers of `activation` and random (seeded) parameters, feature
/// statistics and target scale; its inputs are `inputs` wide.
fn model(activation: Activation, output: Output, inputs: usize, hidden: &[usize], seed: u64) -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (outputs, last, task, classes) = match output {
        Output::Classes => (3, Activation::Softmax, Task::Classification, vec!["a", "b", "c"]),
        Output::Binary => (1, Activation::Sigmoid, Task::Classification, vec!["no", "yes"]),
        Output::Value => (1, Activation::Identity, Task::Regression, vec![]),
    };
    let config = MlpConfig {
        inputs,
        hidden: hidden.to_vec(),
        activations: vec![activation; hidden.len()],
        outputs,
        output: last,
        residual: hidden.windows(2).all(|w| w[0] == w[1]) && hidden.len() > 1,
        init: None,
    };
    let mut mlp = Mlp::new(&config, &mut rng).unwrap();
    // Biases and PReLU slopes away from their initial zeros and constants too.
    for p in mlp.params_mut() {
        *p += rng.random_range(-0.05..0.05);
    }
    Model {
        mlp,
        task,
        classes: classes.into_iter().map(String::from).collect(),
        feature_names: (0..inputs).map(|i| format!("x{i}")).collect(),
        target_name: "y".into(),
        input: Standardizer {
            mean: (0..inputs).map(|_| rng.random_range(-1.0..1.0)).collect(),
            std: (0..inputs).map(|_| rng.random_range(0.5..2.0)).collect(),
        },
        target_scale: matches!(output, Output::Value).then_some((3.5, 2.25)),
        loss: match output {
            Output::Classes => Loss::CrossEntropy,
            Output::Binary => Loss::BinaryCrossEntropy,
            Output::Value => Loss::Mse,
        },
        threshold: None,
    }
}

/// `rows × cols` features of a fixed (seeded) normal-ish spread.
fn features(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Matrix::from_vec(
        rows,
        cols,
        (0..rows * cols).map(|_| rng.random_range(-3.0..3.0)).collect(),
    )
}

fn bits(row: &[f32]) -> Vec<u32> {
    row.iter().map(|v| v.to_bits()).collect()
}

/// Predicts `x` on a pool of `threads` threads.
fn on_threads(model: &Model, x: &Matrix, threads: usize) -> Matrix {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| model.predict_rows(x.view())).unwrap()
}

/// Checks every way of predicting the rows `subset` of `x` against the whole batch's rows.
fn check(model: &Model, x: &Matrix, subset: &[usize]) {
    let whole = model.predict_rows(x.view()).unwrap();
    for threads in [1, 2, 3] {
        assert_eq!(
            bits(on_threads(model, x, threads).as_slice()),
            bits(whole.as_slice()),
            "{threads} threads"
        );
    }
    let part = model.predict_rows(x.select_rows(subset).view()).unwrap();
    let mut predictor = model.predictor();
    assert_eq!(
        bits(predictor.predict_rows(x.view()).unwrap().as_slice()),
        bits(whole.as_slice()),
        "Predictor"
    );
    for (i, &r) in subset.iter().enumerate() {
        let want = bits(whole.row(r));
        assert_eq!(
            bits(part.row(i)),
            want,
            "row {r} as row {i} of a batch of {}",
            subset.len()
        );
        let alone = model.predict_rows(MatrixRef::new(1, x.cols(), x.row(r))).unwrap();
        assert_eq!(bits(alone.row(0)), want, "row {r} alone");
        let one = model.predict_one(x.row(r)).unwrap();
        let by_predictor = predictor.predict_one(x.row(r)).unwrap();
        assert_eq!(
            one, by_predictor,
            "row {r}: Model::predict_one and Predictor::predict_one"
        );
        let got = match one {
            actlab::Prediction::Class { probabilities, .. } => probabilities,
            actlab::Prediction::Value(v) => vec![v],
        };
        assert_eq!(bits(&got), want, "row {r} by predict_one");
    }
}

#[test]
fn every_activation_and_output_predicts_a_row_the_same_in_any_batch() {
    for (a, &activation) in Activation::ALL.iter().filter(|a| !a.is_output_only()).enumerate() {
        for (o, &output) in OUTPUTS.iter().enumerate() {
            // Wide enough for several 16-wide lines and blocks of them, long sums.
            let model = model(activation, output, 37, &[150, 33], (a * 3 + o) as u64);
            for rows in BATCHES {
                let x = features(rows, 37, rows as u64);
                // Every other row from the end, and the last row alone.
                let subset: Vec<usize> = (0..rows).rev().step_by(2).collect();
                check(&model, &x, &subset);
                check(&model, &x, &[rows - 1]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_subset_of_rows_predicts_as_in_the_whole_batch(
        activation in prop::sample::select(Activation::ALL.iter().copied().filter(|a| !a.is_output_only()).collect::<Vec<_>>()),
        output in prop::sample::select(OUTPUTS.to_vec()),
        inputs in 1usize..90,
        hidden in prop::collection::vec(1usize..140, 1..4),
        rows in prop_oneof![prop::sample::select(BATCHES.to_vec()), 1usize..300],
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..40),
        seed in any::<u64>(),
    ) {
        let model = model(activation, output, inputs, &hidden, seed);
        let x = features(rows, inputs, seed ^ 1);
        let subset: Vec<usize> = picks.iter().map(|p| p.index(rows)).collect();
        check(&model, &x, &subset);
    }
}
