//! `actlab._actlab`: the Rust side of the Python package. Thin: every number comes from the
//! `actlab` library; this converts numpy arrays to its data sets and its errors to Python's.
//! The scikit-learn estimators around it are Python (`python/actlab/`).

use std::borrow::Cow;
use std::path::Path;
use std::sync::OnceLock;

use actlab::compare::CompareConfig;
use actlab::experiments::{find as find_experiment, Budget, Experiment, EXPERIMENTS};
use actlab::model::{fit_with, FitConfig};
use actlab::optim::{OptimizerKind, OptimizerState};
use actlab::predictor::Predictor;
use actlab::train::{self, Batchable, Continuation, State, TrainConfig};
use actlab::{model_io, onnx, Activation, Dataset, DatasetRef, Init, Matrix, MatrixRef, Target};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// actlab's error as a Python `ValueError` with actlab's one-line message.
fn value_error(e: actlab::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A trained actlab model (`actlab::Model`), picklable through its safetensors bytes.
#[pyclass(module = "actlab._actlab", frozen)]
struct Model {
    inner: actlab::Model,
    /// The model laid out for prediction, made by the first `predict` (a model never changes:
    /// `partial_fit` makes a new one), so that predicting a row does not lay it out again.
    predictor: OnceLock<Predictor>,
}

impl From<actlab::Model> for Model {
    fn from(inner: actlab::Model) -> Self {
        Self {
            inner,
            predictor: OnceLock::new(),
        }
    }
}

/// The rows of `x` as the library reads them: numpy's own buffer, borrowed, when `x` is
/// C-contiguous (no copy), else a row-major copy.
///
/// Training and prediction read the borrowed rows with the GIL released (`Python::detach`,
/// whose closure may only capture `Send` values: a `&[f32]` is, the array's Python handles are
/// not, so they stay outside). That is sound because the caller keeps `x` alive across the
/// call: the `PyReadonlyArray2` holds a reference to the array, so its buffer is neither freed
/// nor reallocated (numpy refuses to resize an array that others reference), and it registers
/// a shared borrow with rust-numpy, so no Rust code using rust-numpy writes the array meanwhile.
/// Python code in another thread could still write it during the call, as it can during any
/// extension's or numpy's own GIL-free loop: that is the caller's race to avoid, as with numpy
/// (it would change the numbers read; the buffer itself stays valid).
fn features<'a>(x: &'a PyReadonlyArray2<'_, f32>) -> (usize, usize, Cow<'a, [f32]>) {
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let values = match x.as_slice() {
        Ok(slice) => Cow::Borrowed(slice),
        Err(_) => Cow::Owned(x.as_array().iter().copied().collect()),
    };
    (rows, cols, values)
}

/// A data set that owns a copy of `x` with `target` and the features' `names`, for the calls
/// whose library functions take a `Dataset` (comparisons, diagnostics); training and
/// prediction borrow `x` instead (see [`features`]).
fn dataset(x: &PyReadonlyArray2<'_, f32>, target: Target, names: Vec<String>) -> Dataset {
    let (rows, cols, values) = features(x);
    Dataset {
        x: Matrix::from_vec(rows, cols, values.into_owned()),
        feature_names: names,
        target_name: "y".into(),
        target,
        images: false,
    }
}

/// The names the library gives features that come without names.
fn feature_names(cols: usize) -> Vec<String> {
    (0..cols).map(|i| format!("x{i}")).collect()
}

/// Classes (`labels` indexes into `classes`, the labels as text) or values, one per row of the
/// `rows` rows of the features.
fn target(
    rows: usize,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    classes: Vec<String>,
    values: Option<PyReadonlyArray1<'_, f32>>,
) -> PyResult<Target> {
    let given = labels.as_ref().map(|l| l.len()).or(values.as_ref().map(|v| v.len()));
    if let Some(n) = given.filter(|&n| n != rows) {
        return Err(PyValueError::new_err(format!("y has {n} values but X has {rows} rows")));
    }
    match (labels, values) {
        (Some(labels), None) => {
            let labels = labels.as_array();
            if let Some(&bad) = labels.iter().find(|&&l| l < 0 || l as usize >= classes.len()) {
                return Err(PyValueError::new_err(format!(
                    "class index {bad} is not below {}",
                    classes.len()
                )));
            }
            Ok(Target::Classes {
                labels: labels.iter().map(|&l| l as u32).collect(),
                classes,
            })
        }
        (None, Some(values)) => Ok(Target::Values(values.as_array().to_vec())),
        _ => Err(PyTypeError::new_err("give either labels or values")),
    }
}

/// Runs `work` on a rayon pool of `n_threads` threads (all cores when `None`), at most one per
/// core: more would only share the cores (the results do not depend on the thread count), and
/// a huge count would try to start that many threads.
fn with_threads<T: Send>(n_threads: Option<usize>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    match n_threads {
        None => Ok(work()),
        Some(0) => Err(PyValueError::new_err("n_threads must be at least 1")),
        Some(n) => {
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.min(cores))
                .build()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            Ok(pool.install(work))
        }
    }
}

fn parse<T: std::str::FromStr<Err = actlab::Error>>(s: &str) -> PyResult<T> {
    s.parse().map_err(value_error)
}

/// An optimizer's state as Python holds it between calls: its first and second moments (empty
/// where the optimizer keeps none) and its step count.
type PyOptimizerState<'py> = (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>, u32);

fn optimizer_state_to_py(py: Python<'_>, state: OptimizerState) -> PyOptimizerState<'_> {
    (state.m.into_pyarray(py), state.v.into_pyarray(py), state.steps)
}

/// Runs `train` (a library training call given its [`Continuation`]) starting from `optimizer`
/// (`None`: a fresh optimizer), and returns its outcome with the optimizer's state after the
/// last epoch, taken from the run's checkpoint, which comes after its last epoch whatever the
/// interval (`epochs`, so that there is one).
fn keeping_optimizer<T>(
    epochs: usize,
    optimizer: Option<OptimizerState>,
    train: impl FnOnce(Continuation<'_>) -> actlab::Result<T>,
) -> actlab::Result<(T, OptimizerState)> {
    let mut last = None;
    let mut keep = |state: &State| {
        last = Some(state.optimizer.clone());
        Ok(())
    };
    let continuation = Continuation {
        checkpoint: Some((epochs.max(1), &mut keep)),
        optimizer,
        ..Continuation::default()
    };
    let outcome = train(continuation)?;
    Ok((outcome, last.expect("a run that ends saves its state")))
}

/// Trains a model; returns it, its history as JSON (`actlab::train::History`) and the
/// optimizer's state after the last epoch (for `partial_fit`).
#[pyfunction]
#[pyo3(signature = (x, labels, classes, values, hidden, activations, output, init, residual, dropout, optimizer,
    weight_decay, batch_size, learning_rate, epochs, patience, validation_fraction, seed, n_threads,
    feature_names=None, target_name=None))]
#[allow(clippy::too_many_arguments)]
fn fit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'_, f32>,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    classes: Vec<String>,
    values: Option<PyReadonlyArray1<'_, f32>>,
    hidden: Vec<usize>,
    activations: Vec<String>,
    output: Option<String>,
    init: Option<String>,
    residual: bool,
    dropout: Vec<f32>,
    optimizer: &str,
    weight_decay: f32,
    batch_size: usize,
    learning_rate: f32,
    epochs: usize,
    patience: Option<usize>,
    validation_fraction: f32,
    seed: u64,
    n_threads: Option<usize>,
    feature_names: Option<Vec<String>>,
    target_name: Option<String>,
) -> PyResult<(Model, String, PyOptimizerState<'py>)> {
    let (rows, cols, x) = features(&x);
    let target = target(rows, labels, classes, values)?;
    // The model file keeps the names (pandas' columns, or x0, x1, …): `actlab predict` and
    // `actlab eval` match a CSV file's columns by them, and the ONNX graph lists them.
    let names = feature_names.unwrap_or_else(|| self::feature_names(cols));
    if names.len() != cols {
        return Err(PyValueError::new_err(format!(
            "{} feature names for {cols} columns",
            names.len()
        )));
    }
    let target_name = target_name.unwrap_or_else(|| "y".into());
    let data = DatasetRef {
        x: MatrixRef::new(rows, cols, &x),
        feature_names: &names,
        target_name: &target_name,
        target: &target,
        images: false,
    };
    let mut config = FitConfig {
        hidden,
        activations: activations
            .iter()
            .map(|a| parse::<Activation>(a))
            .collect::<PyResult<_>>()?,
        output: output.as_deref().map(parse::<Activation>).transpose()?,
        residual,
        init: init.as_deref().map(parse::<Init>).transpose()?,
        validation_fraction: Some(if patience.is_some() { validation_fraction } else { 0.0 }),
        train: TrainConfig {
            epochs: Some(epochs),
            batch_size,
            learning_rate,
            patience,
            seed,
            dropout,
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    config.train.optimizer.kind = parse::<OptimizerKind>(optimizer)?;
    config.train.optimizer.weight_decay = weight_decay;
    let (fitted, optimizer) = py
        .detach(|| {
            with_threads(n_threads, || {
                keeping_optimizer(epochs, None, |continuation| {
                    fit_with(data, &config, continuation, |_| {})
                })
            })
        })?
        .map_err(value_error)?;
    let history = serde_json::to_string(&fitted.history).expect("history serializes");
    Ok((fitted.model.into(), history, optimizer_state_to_py(py, optimizer)))
}

#[pymethods]
impl Model {
    /// The model from the bytes of an actlab `.safetensors` model file.
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Model> {
        let inner = model_io::from_safetensors(bytes, Path::new("<bytes>")).map_err(value_error)?;
        Ok(inner.into())
    }

    /// The bytes of the model's `.safetensors` file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = model_io::to_safetensors(&self.inner).map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The bytes of the model as an ONNX graph (see `actlab::onnx`).
    fn to_onnx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = onnx::to_onnx(&self.inner).map_err(value_error)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let constructor = slf.getattr("from_bytes")?;
        Ok((constructor, (slf.get().to_bytes(slf.py())?,)))
    }

    /// Probabilities (one column per class) or values in the target's units, `[rows, columns]`.
    fn predict<'py>(&self, py: Python<'py>, x: PyReadonlyArray2<'py, f32>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (rows, cols, values) = features(&x);
        let view = MatrixRef::new(rows, cols, &values);
        let out = py
            .detach(|| self.predictor.get_or_init(|| self.inner.predictor()).predict_rows(view))
            .map_err(value_error)?;
        let (rows, cols) = (out.rows(), out.cols());
        out.into_vec().into_pyarray(py).reshape([rows, cols])
    }

    /// Trains the model further for `epochs` epochs on `x` with `optimizer` (and its weight
    /// decay), continuing from `optimizer_state` (that of the call before: moments and step
    /// count; `None`: a fresh optimizer); returns the new model, the history as JSON and the
    /// optimizer's state after the last epoch.
    #[pyo3(signature = (x, labels, classes, values, epochs, batch_size, learning_rate, seed, n_threads,
        optimizer, weight_decay, optimizer_state))]
    #[allow(clippy::too_many_arguments)]
    fn partial_fit<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: Vec<String>,
        values: Option<PyReadonlyArray1<'_, f32>>,
        epochs: usize,
        batch_size: usize,
        learning_rate: f32,
        seed: u64,
        n_threads: Option<usize>,
        optimizer: &str,
        weight_decay: f32,
        optimizer_state: Option<(PyReadonlyArray1<'_, f32>, PyReadonlyArray1<'_, f32>, u32)>,
    ) -> PyResult<(Model, String, PyOptimizerState<'py>)> {
        let (rows, cols, x) = features(&x);
        let target = target(rows, labels, classes, values)?;
        let data = DatasetRef {
            x: MatrixRef::new(rows, cols, &x),
            feature_names: &self.inner.feature_names,
            target_name: &self.inner.target_name,
            target: &target,
            images: false,
        };
        let mut config = TrainConfig {
            epochs: Some(epochs),
            batch_size,
            learning_rate,
            seed,
            ..TrainConfig::default()
        };
        config.optimizer.kind = parse::<OptimizerKind>(optimizer)?;
        config.optimizer.weight_decay = weight_decay;
        let optimizer_state = optimizer_state.map(|(m, v, steps)| OptimizerState {
            m: m.as_array().to_vec(),
            v: v.as_array().to_vec(),
            steps,
        });
        let mut model = self.inner.clone();
        let (history, optimizer) = py
            .detach(|| {
                with_threads(n_threads, || {
                    let (x, targets, labels) = model.prepare(data)?;
                    let batch = Batchable {
                        x: &x,
                        targets: &targets,
                        labels: labels.as_deref(),
                        weights: None,
                    };
                    keeping_optimizer(epochs, optimizer_state, |continuation| {
                        train::train_with(&mut model.mlp, model.loss, batch, None, &config, continuation, |_| {})
                    })
                })
            })?
            .map_err(value_error)?;
        Ok((
            Model::from(model),
            serde_json::to_string(&history).expect("history serializes"),
            optimizer_state_to_py(py, optimizer),
        ))
    }

    /// Dead, saturated and gradient-flow measurements per layer on (at most `max_samples` rows
    /// of) `x` with its target, as JSON (`actlab::diagnostics::Diagnostics`).
    #[pyo3(signature = (x, labels, classes, values, max_samples))]
    fn diagnose(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        labels: Option<PyReadonlyArray1<'_, i64>>,
        classes: Vec<String>,
        values: Option<PyReadonlyArray1<'_, f32>>,
        max_samples: usize,
    ) -> PyResult<String> {
        let target = target(x.shape()[0], labels, classes, values)?;
        let data = dataset(&x, target, self.inner.feature_names.clone());
        let d = py
            .detach(|| self.inner.diagnose(&data, max_samples))
            .map_err(value_error)?;
        Ok(serde_json::to_string(&d).expect("diagnostics serialize"))
    }

    /// Number of input features.
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.mlp.inputs()
    }
}

/// Trains one network per activation and seed on the training data and scores it on the test
/// data (`actlab::compare::compare`); the comparison as JSON.
#[pyfunction]
#[pyo3(signature = (x, labels, classes, values, x_test, labels_test, values_test, activations, hidden, seeds,
    epochs, batch_size, learning_rate))]
#[allow(clippy::too_many_arguments)]
fn compare(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f32>,
    labels: Option<PyReadonlyArray1<'_, i64>>,
    classes: Vec<String>,
    values: Option<PyReadonlyArray1<'_, f32>>,
    x_test: PyReadonlyArray2<'_, f32>,
    labels_test: Option<PyReadonlyArray1<'_, i64>>,
    values_test: Option<PyReadonlyArray1<'_, f32>>,
    activations: Vec<String>,
    hidden: Vec<usize>,
    seeds: Vec<u64>,
    epochs: Option<usize>,
    batch_size: usize,
    learning_rate: f32,
) -> PyResult<String> {
    let train_target = target(x.shape()[0], labels, classes.clone(), values)?;
    let train = dataset(&x, train_target, feature_names(x.shape()[1]));
    let test_target = target(x_test.shape()[0], labels_test, classes, values_test)?;
    let test = dataset(&x_test, test_target, feature_names(x_test.shape()[1]));
    let mut fit = FitConfig {
        hidden,
        ..FitConfig::default()
    };
    fit.train.epochs = epochs;
    fit.train.batch_size = batch_size;
    fit.train.learning_rate = learning_rate;
    let config = CompareConfig {
        activations: activations
            .iter()
            .map(|a| parse::<Activation>(a))
            .collect::<PyResult<_>>()?,
        seeds,
        fit,
        target_accuracy: None,
    };
    let comparison = py
        .detach(|| actlab::compare::compare(&train, &test, &config, |_| {}))
        .map_err(value_error)?;
    Ok(serde_json::to_string(&comparison).expect("the comparison serializes"))
}

/// Runs actlab's experiments (`ids`, or all nine), `quick` with the smaller budget of the tests;
/// their results as JSON.
#[pyfunction]
#[pyo3(signature = (ids, quick))]
fn experiments(py: Python<'_>, ids: Option<Vec<i64>>, quick: bool) -> PyResult<String> {
    let chosen: Vec<&Experiment> = match ids {
        None => EXPERIMENTS.iter().collect(),
        Some(ids) => ids
            .iter()
            .map(|&id| {
                u8::try_from(id).ok().and_then(find_experiment).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "no experiment {id}; they are numbered 1 to {}",
                        EXPERIMENTS.len()
                    ))
                })
            })
            .collect::<PyResult<_>>()?,
    };
    let budget = if quick { Budget::Quick } else { Budget::Full };
    let results = py
        .detach(|| chosen.iter().map(|e| e.run(budget)).collect::<actlab::Result<Vec<_>>>())
        .map_err(value_error)?;
    Ok(serde_json::to_string(&results).expect("results serialize"))
}

/// `activation(x)` elementwise (the scalar definition, in f32), or its derivative.
#[pyfunction]
#[pyo3(signature = (name, x, derivative=false))]
fn activation<'py>(
    py: Python<'py>,
    name: &str,
    x: PyReadonlyArrayDyn<'py, f32>,
    derivative: bool,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let a = parse::<Activation>(name)?;
    if a.is_output_only() {
        return Err(PyValueError::new_err(format!(
            "{a} works on whole rows, not on single values"
        )));
    }
    let out = x.as_array().mapv(|v| {
        if derivative {
            a.derivative(v, a.forward(v))
        } else {
            a.forward(v)
        }
    });
    Ok(out.into_pyarray(py))
}

/// The activation names actlab knows, with default parameters.
#[pyfunction]
fn activation_names() -> Vec<String> {
    Activation::ALL.iter().map(|a| a.to_string()).collect()
}

/// Whether `name` parses as an activation (the error message otherwise).
#[pyfunction]
fn check_activation(name: &str) -> PyResult<String> {
    Ok(parse::<Activation>(name)?.to_string())
}

#[pymodule]
fn _actlab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(experiments, m)?)?;
    m.add_function(wrap_pyfunction!(activation, m)?)?;
    m.add_function(wrap_pyfunction!(activation_names, m)?)?;
    m.add_function(wrap_pyfunction!(check_activation, m)?)?;
    Ok(())
}
