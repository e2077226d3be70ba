//! Helpers shared by the command-line tests.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use assert_cmd::Command;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

/// The `actlab` binary built for the tests.
pub fn actlab() -> Command {
    Command::cargo_bin("actlab").unwrap()
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs `actlab` with `args`, expects failure with one line `error: …` containing `needle`,
/// and no panic or backtrace.
pub fn fails_with(args: &[&str], needle: &str) {
    let output = actlab().args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: expected one line, got:\n{stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected '{needle}' in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// The JSON object on the last line of `stdout`.
pub fn last_json_line(stdout: &[u8]) -> Value {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// A model file's tensors by name: type, shape and little-endian bytes.
pub type Tensors = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

/// The model file `bytes` with its `actlab` metadata (as JSON) and its tensors edited by `edit`,
/// written back. Metadata edited into a JSON string is stored as that raw text.
pub fn edited_model(bytes: &[u8], edit: impl FnOnce(&mut Value, &mut Tensors)) -> Vec<u8> {
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta: Value = serde_json::from_str(&header.metadata().as_ref().unwrap()["actlab"]).unwrap();
    let file = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, (view.dtype(), view.shape().to_vec(), view.data().to_vec())))
        .collect();
    edit(&mut meta, &mut tensors);
    let metadata = match meta {
        Value::String(raw) => raw,
        other => other.to_string(),
    };
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, (dtype, shape, data))| (name.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize(views, Some(HashMap::from([("actlab".to_string(), metadata)]))).unwrap()
}
