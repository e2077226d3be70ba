//! Bytes as a model file through `from_safetensors`; a model that loads must predict and
//! survive a save and reload unchanged.

use std::path::Path;

use actlab::model_io::{from_safetensors, to_safetensors};
use actlab::{Dataset, Matrix, Target, Task};

/// Rows of the matrix the loaded model predicts on.
const ROWS: usize = 3;

/// Models wider than this many inputs are loaded but not run.
const MAX_INPUTS: usize = 1 << 14;

/// Loads `bytes` as a model file and, when that works, runs and re-saves the model.
pub fn check(bytes: &[u8]) {
    let Ok(model) = from_safetensors(bytes, Path::new("fuzz.safetensors")) else {
        return;
    };
    let saved = to_safetensors(&model).expect("a loaded model saves");
    let reloaded = from_safetensors(&saved, Path::new("saved.safetensors")).expect("a saved model loads");
    assert_eq!(to_safetensors(&reloaded).expect("a reloaded model saves"), saved);

    let inputs = model.mlp.inputs();
    if inputs > MAX_INPUTS {
        return;
    }
    let values = (0..ROWS * inputs).map(|i| (i % 7) as f32 - 3.0).collect();
    let data = Dataset {
        x: Matrix::from_vec(ROWS, inputs, values),
        feature_names: model.feature_names.clone(),
        target_name: String::new(),
        target: Target::None,
    };
    let predictions = model.predict(&data).expect("a model predicts on data of its width");
    assert_eq!(predictions.rows(), ROWS);
    let columns = match model.task {
        Task::Classification => model.classes.len(),
        Task::Regression => 1,
    };
    assert_eq!(
        predictions.cols(),
        columns,
        "predictions have {} columns for a {:?} model with classes {:?}",
        predictions.cols(),
        model.task,
        model.classes
    );
}
