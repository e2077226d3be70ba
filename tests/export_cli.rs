//! `actlab export`: a model file becomes an ONNX file that decodes back to the model's graph;
//! anything else is one clear error. (The graph's numbers are checked against onnxruntime by
//! the Python tests, `python/tests/test_onnx.py`, which `.ci/run` runs.)

mod common;

use actlab::onnx::proto::{ModelProto, FLOAT, STRING};
use common::{actlab, edited_model, fails_with, write};
use prost::Message;
use serde_json::json;

/// Trains a small iris model with `activation` and saves it in `dir`; returns its path.
fn train(dir: &std::path::Path, activation: &str) -> String {
    let path = dir.join("m.safetensors");
    actlab()
        .args([
            "train",
            "--data",
            "iris",
            "--hidden",
            "6",
            "--epochs",
            "2",
            "--activation",
            activation,
        ])
        .args(["--save", path.to_str().unwrap()])
        .assert()
        .success();
    path.to_string_lossy().into_owned()
}

#[test]
fn export_writes_an_onnx_graph_with_the_models_layers() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path(), "prelu");
    let out = dir.path().join("m.onnx");
    actlab()
        .args(["export", "--model", &model, "--onnx", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    let onnx = ModelProto::decode(std::fs::read(&out).unwrap().as_slice()).unwrap();
    let graph = onnx.graph.unwrap();
    let shape = |name: &str| graph.initializer.iter().find(|t| t.name == name).unwrap().dims.clone();
    assert_eq!(shape("layers.0.weight"), [6, 4]);
    assert_eq!(shape("layers.0.prelu"), [6]);
    assert_eq!(shape("layers.1.weight"), [3, 6]);
    let saved = actlab::model_io::load(std::path::Path::new(&model)).unwrap();
    let prelu = graph.initializer.iter().find(|t| t.name == "layers.0.prelu").unwrap();
    assert_eq!(prelu.float_data, saved.mlp.layer_params(0).slopes);
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs, ["probabilities", "label"]);
}

#[test]
fn export_of_a_file_that_is_not_a_model_is_one_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "data.csv", "a,b\n1,2\n");
    let out = dir.path().join("m.onnx");
    fails_with(
        &["export", "--model", &csv, "--onnx", out.to_str().unwrap()],
        "data.csv: a text file, not a model",
    );
    assert!(!out.exists());
    fails_with(
        &[
            "export",
            "--model",
            &dir.path().join("absent").to_string_lossy(),
            "--onnx",
            out.to_str().unwrap(),
        ],
        "absent",
    );
}

#[test]
fn export_refuses_metadata_it_does_not_translate_and_will_not_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = train(dir.path(), "relu");
    let bytes = edited_model(&std::fs::read(&model).unwrap(), |meta, _| {
        meta["encoders"] = json!([{"column": "colour", "categories": ["red", "blue"]}]);
    });
    let edited = dir.path().join("edited.safetensors");
    std::fs::write(&edited, bytes).unwrap();
    let out = dir.path().join("m.onnx");
    fails_with(
        &[
            "export",
            "--model",
            edited.to_str().unwrap(),
            "--onnx",
            out.to_str().unwrap(),
        ],
        "edited.safetensors: the model's setting ('encoders' in its metadata) cannot be exported to ONNX",
    );
    assert!(!out.exists());
    fails_with(&["export", "--model", &model, "--onnx", &model], "--onnx");
}

/// Trains on a CSV file of a number and a text column named `text` (target `y`); returns the
/// model's path.
fn train_table(dir: &std::path::Path, text: &str) -> String {
    let mut csv = format!("size,{text},y\n");
    for i in 0..40 {
        csv += &format!(
            "{i},{},{}\n",
            ["red", "blue", "NA"][i % 3],
            ["no", "yes"][usize::from(i % 4 == 0)]
        );
    }
    let data = write(dir, &format!("{text}.csv"), &csv);
    let path = dir.join(format!("{text}.safetensors"));
    actlab()
        .args(["train", "--data", &data, "--target", "y", "--epochs", "1"])
        .args(["--save", path.to_str().unwrap()])
        .assert()
        .success();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_model_with_a_text_column_takes_one_input_per_column_unless_one_is_named_like_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = train_table(dir.path(), "colour");
    let out = dir.path().join("m.onnx");
    actlab()
        .args(["export", "--model", &model, "--onnx", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    let onnx = ModelProto::decode(std::fs::read(&out).unwrap().as_slice()).unwrap();
    let graph = onnx.graph.unwrap();
    let inputs: Vec<(&str, i32)> = graph
        .input
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().elem_type,
            )
        })
        .collect();
    assert_eq!(inputs, [("size", FLOAT), ("colour", STRING)]);
    assert!(graph.node.iter().any(|n| n.op_type == "LabelEncoder"));

    let model = train_table(dir.path(), "label");
    fails_with(
        &["export", "--model", &model, "--onnx", out.to_str().unwrap()],
        "label.safetensors: cannot export to ONNX: the name of the column 'label' is that of an output of the graph",
    );
}
