//! Model files: one `.safetensors` file that any safetensors reader can rebuild the network from.
//!
//! Tensors (all `F32`):
//! - `layers.{i}.weight` `[out, in]` (PyTorch's `nn.Linear` layout), `layers.{i}.bias` `[out]`,
//!   `layers.{i}.prelu` `[out]` for PReLU layers;
//! - `input.mean`, `input.std` `[features]`: inputs are fed as `(x - mean) / std`;
//! - `target.mean`, `target.std` `[1]` for regression with scaled targets: predictions are
//!   `output · std + mean`.
//!
//! Metadata key `actlab`: the configuration as JSON (see [`ModelMeta`]). A model trained on a raw
//! table also stores its preprocessing there, under `preprocess` (see
//! [`crate::preprocess::Preprocessor`]); files without it load as before.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::data::Standardizer;
use crate::layer::LayerSpec;
use crate::loss::Loss;
use crate::model::Model;
use crate::preprocess::Preprocessor;
use crate::{fileio, Error, Mlp, Result, Task};

/// Format version written into new files.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON stored under the metadata key `actlab`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Format version.
    pub version: u32,
    /// actlab version that wrote the file.
    pub actlab: String,
    /// `classification` or `regression`.
    pub task: Task,
    /// Class labels in output order (empty for regression).
    pub classes: Vec<String>,
    /// Whether hidden layers of equal width add their input to their output.
    pub residual: bool,
    /// The layers, input side first; the last is the output layer.
    pub layers: Vec<LayerSpec>,
    /// Feature names in input order.
    pub features: Vec<String>,
    /// Target column name.
    pub target: String,
    /// Loss the model was trained with.
    pub loss: Loss,
    /// Decision threshold of a binary classifier (see [`Model::threshold`]); absent in files
    /// written before it existed, and when the model predicts the most probable class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
    /// How raw table columns become [`ModelMeta::features`] (absent in files of models trained
    /// on numeric data read without it, and in files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocess: Option<Preprocessor>,
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Serializes a model into the bytes of a `.safetensors` file.
///
/// # Errors
/// Only if the safetensors encoder rejects the data (it should not).
pub fn to_safetensors(model: &Model) -> Result<Vec<u8>> {
    to_safetensors_with(model, None)
}

/// [`to_safetensors`] with the preprocessing that turns raw tables into the model's features.
///
/// # Errors
/// As [`to_safetensors`].
pub fn to_safetensors_with(model: &Model, preprocess: Option<&Preprocessor>) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, layer) in model.mlp.layers().iter().enumerate() {
        let p = model.mlp.layer_params(i);
        tensors.push((
            format!("layers.{i}.weight"),
            vec![layer.outputs, layer.inputs],
            to_bytes(p.weight),
        ));
        tensors.push((format!("layers.{i}.bias"), vec![layer.outputs], to_bytes(p.bias)));
        if !p.slopes.is_empty() {
            tensors.push((format!("layers.{i}.prelu"), vec![layer.outputs], to_bytes(p.slopes)));
        }
    }
    let n = model.input.mean.len();
    tensors.push(("input.mean".into(), vec![n], to_bytes(&model.input.mean)));
    tensors.push(("input.std".into(), vec![n], to_bytes(&model.input.std)));
    if let Some((mean, std)) = model.target_scale {
        tensors.push(("target.mean".into(), vec![1], to_bytes(&[mean])));
        tensors.push(("target.std".into(), vec![1], to_bytes(&[std])));
    }
    let meta = ModelMeta {
        version: FORMAT_VERSION,
        actlab: env!("CARGO_PKG_VERSION").to_string(),
        task: model.task,
        classes: model.classes.clone(),
        residual: model.mlp.residual(),
        layers: model.mlp.layers().to_vec(),
        features: model.feature_names.clone(),
        target: model.target_name.clone(),
        loss: model.loss,
        threshold: model.threshold,
        preprocess: preprocess.cloned(),
    };
    let json = serde_json::to_string(&meta).expect("metadata serializes");
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes).expect("shape matches data");
            (name.clone(), view)
        })
        .collect::<Vec<_>>();
    safetensors::serialize(views, Some(HashMap::from([("actlab".to_string(), json)])))
        .map_err(|e| Error::config(format!("cannot encode the model: {e}")))
}

/// Rebuilds a model from the bytes of a `.safetensors` file; `path` is only used in messages.
///
/// Every part is checked against the others before the model is returned, so that nothing
/// downstream can index out of bounds or compute with values the file does not justify.
///
/// # Errors
/// [`Error::Model`] naming what disagrees: a truncated or corrupted file, missing or malformed
/// metadata, an unknown format version, tensors that are missing, unexpected, of another type
/// or shape, or not finite, layers that do not chain, class labels that do not fit the output
/// layer, a task that does not fit the output activation or loss, feature names that are not
/// one per input or not distinct, standard deviations that are not positive, and a target
/// scale that is half present or present on a classifier.
pub fn from_safetensors(bytes: &[u8], path: &Path) -> Result<Model> {
    from_safetensors_with(bytes, path).map(|(model, _)| model)
}

/// [`from_safetensors`] with the preprocessing stored in the file, if any.
///
/// # Errors
/// As [`from_safetensors`], and a preprocessing that does not make the model's features.
pub fn from_safetensors_with(bytes: &[u8], path: &Path) -> Result<(Model, Option<Preprocessor>)> {
    let bad = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        // A safetensors file starts with its header's length, eight bytes that are not text.
        let start = &bytes[..bytes.len().min(512)];
        // The cut at 512 bytes may fall inside a character: what comes before it counts.
        let text = match std::str::from_utf8(start) {
            Ok(t) => Some(t),
            Err(e) if e.error_len().is_none() => std::str::from_utf8(&start[..e.valid_up_to()]).ok(),
            Err(_) => None,
        };
        let text = text.is_some_and(|t| !t.is_empty() && t.chars().all(|c| !c.is_control() || c.is_whitespace()));
        bad(if text {
            "a text file, not a model (models are the .safetensors files that `actlab train --save` writes)".into()
        } else {
            format!("not a valid safetensors file ({e}); is it truncated or corrupted?")
        })
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("actlab"))
        .ok_or_else(|| bad("no 'actlab' metadata: this safetensors file was not written by actlab".into()))?;
    let meta: ModelMeta = serde_json::from_str(json).map_err(|e| bad(format!("malformed 'actlab' metadata: {e}")))?;
    if meta.version == 0 || meta.version > FORMAT_VERSION {
        return Err(bad(format!(
            "format version {} is not one this actlab understands (1 to {FORMAT_VERSION})",
            meta.version
        )));
    }
    // The layers chain, with sizes that can be multiplied, before any tensor is read by them.
    Mlp::parameter_count(&meta.layers).map_err(|e| bad(e.to_string()))?;
    let n = meta.layers[0].inputs;
    let expected = expected_tensors(&meta);
    if let Some(name) = file
        .names()
        .into_iter()
        .find(|name| !expected.iter().any(|(e, _)| e == name))
    {
        return Err(bad(format!(
            "unexpected tensor '{name}': not part of this model's layers"
        )));
    }
    let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let view = file
            .tensor(name)
            .map_err(|_| bad(format!("tensor '{name}' is missing")))?;
        if view.dtype() != Dtype::F32 || view.shape() != shape {
            return Err(bad(format!(
                "tensor '{name}' is {:?} {:?}, expected F32 {shape:?}",
                view.dtype(),
                view.shape()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("tensor '{name}' holds {} at index {i}", values[i])));
        }
        Ok(values)
    };
    let mut params = Vec::new();
    for (name, shape) in expected.iter().filter(|(name, _)| name.starts_with("layers.")) {
        params.extend(tensor(name, shape)?);
    }
    let mlp = Mlp::from_parts(meta.layers.clone(), Some(params), meta.residual).map_err(|e| bad(e.to_string()))?;
    let input = Standardizer {
        mean: tensor("input.mean", &[n])?,
        std: tensor("input.std", &[n])?,
    };
    if let Some(i) = input.std.iter().position(|&s| s <= 0.0) {
        return Err(bad(format!(
            "tensor 'input.std' is {} for feature {i}; a standard deviation must be positive",
            input.std[i]
        )));
    }
    let target_scale = match (file.tensor("target.mean").is_ok(), file.tensor("target.std").is_ok()) {
        (true, true) => {
            let (mean, std) = (tensor("target.mean", &[1])?[0], tensor("target.std", &[1])?[0]);
            if std <= 0.0 {
                return Err(bad(format!(
                    "tensor 'target.std' is {std}; a standard deviation must be positive"
                )));
            }
            Some((mean, std))
        }
        (false, false) => None,
        (true, false) => return Err(bad("tensor 'target.mean' without 'target.std'".into())),
        (false, true) => return Err(bad("tensor 'target.std' without 'target.mean'".into())),
    };
    check_metadata(&meta, target_scale.is_some()).map_err(bad)?;
    if let Some(preprocess) = &meta.preprocess {
        preprocess.check(&meta.features).map_err(bad)?;
    }
    let model = Model {
        mlp,
        task: meta.task,
        classes: meta.classes,
        feature_names: meta.features,
        target_name: meta.target,
        input,
        target_scale,
        loss: meta.loss,
        threshold: meta.threshold,
    };
    Ok((model, meta.preprocess))
}

/// The tensors a file with these layers may hold, with their shapes, layer tensors first in
/// parameter order.
fn expected_tensors(meta: &ModelMeta) -> Vec<(String, Vec<usize>)> {
    let mut names = Vec::new();
    for (i, layer) in meta.layers.iter().enumerate() {
        names.push((format!("layers.{i}.weight"), vec![layer.outputs, layer.inputs]));
        names.push((format!("layers.{i}.bias"), vec![layer.outputs]));
        if layer.slopes_len() > 0 {
            names.push((format!("layers.{i}.prelu"), vec![layer.outputs]));
        }
    }
    let n = meta.layers.first().map_or(0, |l| l.inputs);
    names.push(("input.mean".into(), vec![n]));
    names.push(("input.std".into(), vec![n]));
    names.push(("target.mean".into(), vec![1]));
    names.push(("target.std".into(), vec![1]));
    names
}

/// Checks the metadata's task, classes, loss and names against the layers (which chain).
fn check_metadata(meta: &ModelMeta, target_scale: bool) -> std::result::Result<(), String> {
    let last = meta.layers.last().expect("the layers were checked");
    let (output, outputs) = (last.activation, last.outputs);
    if meta.features.len() != meta.layers[0].inputs {
        return Err(format!(
            "metadata names {} features but the first layer takes {}",
            meta.features.len(),
            meta.layers[0].inputs
        ));
    }
    if let Some(name) = first_duplicate(&meta.features) {
        return Err(format!("metadata names the feature '{name}' twice"));
    }
    if let Some(t) = meta.threshold {
        if meta.task != Task::Classification || meta.classes.len() != 2 || !(0.0..=1.0).contains(&t) {
            return Err(format!(
                "the metadata's decision threshold {t} needs a classifier of two classes and a value in [0, 1]"
            ));
        }
    }
    meta.loss
        .check(output)
        .map_err(|e| format!("the metadata's loss does not fit the output layer: {e}"))?;
    match meta.task {
        Task::Classification => {
            if meta.classes.len() < 2 {
                return Err(format!(
                    "a classifier needs at least two class labels in its metadata, found {}",
                    meta.classes.len()
                ));
            }
            if let Some(name) = first_duplicate(&meta.classes) {
                return Err(format!("metadata names the class '{name}' twice"));
            }
            let fits = if outputs == 1 {
                meta.classes.len() == 2
            } else {
                outputs == meta.classes.len()
            };
            if !fits {
                return Err(format!(
                    "metadata names {} classes but the output layer has {outputs} output{} ({output})",
                    meta.classes.len(),
                    if outputs == 1 { "" } else { "s" }
                ));
            }
            if target_scale {
                return Err("a classifier cannot have a target scale ('target.mean', 'target.std')".into());
            }
        }
        Task::Regression => {
            if !meta.classes.is_empty() {
                return Err(format!(
                    "metadata says regression but names {} class labels",
                    meta.classes.len()
                ));
            }
            if outputs != 1 {
                return Err(format!(
                    "metadata says regression, which predicts one number, but the output layer has {outputs} outputs"
                ));
            }
        }
    }
    Ok(())
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).map(String::as_str)
}

/// Writes `model` to `path` atomically with [`fileio::write_atomically`], which refuses to
/// replace anything but a regular file. A program that reads files should call
/// `fileio::write_atomically` with them and [`to_safetensors`]'s bytes instead, so that it
/// never overwrites one.
///
/// # Errors
/// [`Error::Output`] for a path that is refused, [`Error::Io`] when writing fails.
pub fn save(model: &Model, path: &Path) -> Result<()> {
    let bytes = to_safetensors(model)?;
    fileio::write_atomically(path, &bytes, &[])
}

/// Reads a model file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read, [`Error::Model`] if it is not a valid actlab model.
pub fn load(path: &Path) -> Result<Model> {
    // The bytes, and the model's copy of its tensors.
    from_safetensors(&fileio::read_input(path, 2)?, path)
}

/// Reads a model file with the preprocessing stored in it, if any.
///
/// # Errors
/// As [`load`].
pub fn load_with_preprocessor(path: &Path) -> Result<(Model, Option<Preprocessor>)> {
    from_safetensors_with(&fileio::read_input(path, 2)?, path)
}
