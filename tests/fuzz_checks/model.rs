//! Bytes as a model file through `from_safetensors`; a model that loads must predict and
//! survive a save and reload unchanged.
//!
//! Mutating a whole file rarely gets past the safetensors header (its length prefix and
//! offsets must agree), so an input that is the `actlab` metadata JSON, a zero byte and
//! parameter bytes is also assembled into a file with a tensor of the right shape for every
//! layer: that way the fuzzer edits layer sizes, activations and classes directly.

use std::collections::HashMap;
use std::path::Path;

use actlab::model_io::{from_safetensors, to_safetensors, ModelMeta};
use actlab::{Dataset, Matrix, Target, Task};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

/// Rows of the matrix the loaded model predicts on.
const ROWS: usize = 3;

/// Models wider than this many inputs are loaded but not run.
const MAX_INPUTS: usize = 1 << 14;

/// Models with more parameters than this are not assembled from metadata.
const MAX_ASSEMBLED: usize = 1 << 16;

/// Loads `bytes` as a model file, and as metadata and parameters assembled into one.
pub fn check(bytes: &[u8]) {
    check_file(bytes);
    if let Some(file) = assemble(bytes) {
        check_file(&file);
    }
}

/// A model file from `metadata JSON, 0, parameter bytes` (the bytes repeated as needed, as
/// little-endian `f32`), or `None` when the input is not of that form.
fn assemble(bytes: &[u8]) -> Option<Vec<u8>> {
    let split = bytes.iter().position(|&b| b == 0)?;
    let (json, params) = (std::str::from_utf8(&bytes[..split]).ok()?, &bytes[split + 1..]);
    let meta: ModelMeta = serde_json::from_str(json).ok()?;
    let mut shapes: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, layer) in meta.layers.iter().enumerate() {
        shapes.push((format!("layers.{i}.weight"), vec![layer.outputs, layer.inputs]));
        shapes.push((format!("layers.{i}.bias"), vec![layer.outputs]));
        if layer.slopes_len() > 0 {
            shapes.push((format!("layers.{i}.prelu"), vec![layer.outputs]));
        }
    }
    let n = meta.features.len();
    shapes.push(("input.mean".into(), vec![n]));
    shapes.push(("input.std".into(), vec![n]));
    if meta.task == Task::Regression {
        shapes.push(("target.mean".into(), vec![1]));
        shapes.push(("target.std".into(), vec![1]));
    }
    let mut total = 0usize;
    for (_, shape) in &shapes {
        total = total.checked_add(shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?)?;
    }
    if total > MAX_ASSEMBLED {
        return None;
    }
    let mut source = params.iter().copied().cycle().chain(std::iter::repeat(0));
    let data: Vec<Vec<u8>> = shapes
        .iter()
        .map(|(_, shape)| {
            (0..shape.iter().product::<usize>() * 4)
                .map(|_| source.next().unwrap())
                .collect()
        })
        .collect();
    let views = shapes
        .iter()
        .zip(&data)
        .map(|((name, shape), data)| Some((name.clone(), TensorView::new(Dtype::F32, shape.clone(), data).ok()?)))
        .collect::<Option<Vec<_>>>()?;
    safetensors::serialize(views, Some(HashMap::from([("actlab".to_string(), json.to_string())]))).ok()
}

/// Loads `bytes` as a model file and, when that works, runs and re-saves the model.
fn check_file(bytes: &[u8]) {
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
        images: false,
    };
    // A loaded model predicts on data of its width, or says why the values overflow.
    let predictions = match model.predict(&data) {
        Ok(predictions) => predictions,
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("is not finite") || message.contains("is beyond f32"),
                "a model that loads fails to predict: {message}"
            );
            return;
        }
    };
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
