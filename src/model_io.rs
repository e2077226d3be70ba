//! Model files: one `.safetensors` file that any safetensors reader can rebuild the network from.
//!
//! Tensors (all `F32`):
//! - `layers.{i}.weight` `[out, in]` (PyTorch's `nn.Linear` layout), `layers.{i}.bias` `[out]`,
//!   `layers.{i}.prelu` `[out]` for PReLU layers;
//! - `input.mean`, `input.std` `[features]`: inputs are fed as `(x - mean) / std`;
//! - `target.mean`, `target.std` `[1]` for regression with scaled targets: predictions are
//!   `output · std + mean`.
//!
//! Metadata key `actlab`: the configuration as JSON (see [`ModelMeta`]).

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::data::Standardizer;
use crate::layer::LayerSpec;
use crate::loss::Loss;
use crate::model::Model;
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
}

fn to_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Serializes a model into the bytes of a `.safetensors` file.
///
/// # Errors
/// Only if the safetensors encoder rejects the data (it should not).
pub fn to_safetensors(model: &Model) -> Result<Vec<u8>> {
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
/// # Errors
/// [`Error::Model`] for a truncated or corrupted file, missing or malformed metadata, and
/// tensors that are missing or whose shapes do not fit the layers.
pub fn from_safetensors(bytes: &[u8], path: &Path) -> Result<Model> {
    let bad = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        bad(format!(
            "not a valid safetensors file ({e}); is it truncated or corrupted?"
        ))
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("actlab"))
        .ok_or_else(|| bad("no 'actlab' metadata: this safetensors file was not written by actlab".into()))?;
    let meta: ModelMeta = serde_json::from_str(json).map_err(|e| bad(format!("malformed 'actlab' metadata: {e}")))?;
    if meta.version > FORMAT_VERSION {
        return Err(bad(format!(
            "format version {} is newer than this actlab understands ({FORMAT_VERSION})",
            meta.version
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
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let mut params = Vec::new();
    for (i, layer) in meta.layers.iter().enumerate() {
        params.extend(tensor(&format!("layers.{i}.weight"), &[layer.outputs, layer.inputs])?);
        params.extend(tensor(&format!("layers.{i}.bias"), &[layer.outputs])?);
        if layer.slopes_len() > 0 {
            params.extend(tensor(&format!("layers.{i}.prelu"), &[layer.outputs])?);
        }
    }
    let mlp = Mlp::from_parts(meta.layers, Some(params), meta.residual).map_err(|e| bad(e.to_string()))?;
    let n = mlp.inputs();
    if meta.features.len() != n {
        return Err(bad(format!(
            "metadata names {} features but the first layer takes {n}",
            meta.features.len()
        )));
    }
    if meta.task == Task::Classification && meta.classes.len() < 2 {
        return Err(bad(
            "a classifier needs at least two class labels in its metadata".into()
        ));
    }
    let input = Standardizer {
        mean: tensor("input.mean", &[n])?,
        std: tensor("input.std", &[n])?,
    };
    let target_scale = match (file.tensor("target.mean"), file.tensor("target.std")) {
        (Ok(_), Ok(_)) => Some((tensor("target.mean", &[1])?[0], tensor("target.std", &[1])?[0])),
        _ => None,
    };
    Ok(Model {
        mlp,
        task: meta.task,
        classes: meta.classes,
        feature_names: meta.features,
        target_name: meta.target,
        input,
        target_scale,
        loss: meta.loss,
    })
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
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_safetensors(&bytes, path)
}
