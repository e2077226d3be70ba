//! Model files whose parts disagree: every mismatch is one error naming the file and what
//! disagrees, through the library and through `actlab eval`/`predict`, never a panic, a wrong
//! label or a score computed from values the file does not justify.

mod common;

use std::path::Path;

use actlab::data::{builtin, SyntheticOptions};
use actlab::model::{fit, FitConfig};
use actlab::train::TrainConfig;
use actlab::{model_io, Dataset, Matrix, Model, Target};
use common::{actlab, write, Tensors};
use safetensors::Dtype;
use serde_json::{json, Value};

fn quick(data: &Dataset, hidden: Vec<usize>) -> Model {
    let config = FitConfig {
        hidden,
        train: TrainConfig {
            epochs: Some(2),
            ..TrainConfig::default()
        },
        ..FitConfig::default()
    };
    fit(data, &config).unwrap().model
}

fn iris() -> Dataset {
    let options = SyntheticOptions {
        samples: None,
        noise: None,
        seed: 0,
    };
    builtin("iris", &options).unwrap().train
}

/// iris with two classes (sigmoid output), and a regression on its first feature.
fn binary_and_regression() -> (Dataset, Dataset) {
    let data = iris();
    let Target::Classes { labels, .. } = &data.target else {
        unreachable!()
    };
    let keep: Vec<usize> = (0..data.len()).filter(|&i| labels[i] < 2).collect();
    let mut binary = data.subset(&keep);
    if let Target::Classes { classes, .. } = &mut binary.target {
        classes.truncate(2);
    }
    let mut regression = data.clone();
    regression.target = Target::Values(data.x.iter_rows().map(|r| r[0] * 2.0 + r[1]).collect());
    regression.target_name = "y".into();
    (binary, regression)
}

fn f32s(values: &[f32]) -> (Dtype, Vec<usize>, Vec<u8>) {
    (
        Dtype::F32,
        vec![values.len()],
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// Edits a valid model file and expects loading it to fail with `needle` in the message.
fn refused(model: &Model, needle: &str, edit: impl FnOnce(&mut Value, &mut Tensors)) -> Vec<u8> {
    let bytes = common::edited_model(&model_io::to_safetensors(model).unwrap(), edit);
    let path = Path::new("edited.safetensors");
    match model_io::from_safetensors(&bytes, path) {
        Ok(_) => panic!("a file with '{needle}' wrong was accepted"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("edited.safetensors: "), "{message}");
            assert!(message.contains(needle), "expected '{needle}' in: {message}");
        }
    }
    bytes
}

fn set_weight(tensors: &mut Tensors, name: &str, index: usize, value: f32) {
    let data = &mut tensors.get_mut(name).unwrap().2;
    data[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn valid_files_of_every_task_load_back_equal() {
    let (binary, regression) = binary_and_regression();
    let dir = tempfile::tempdir().unwrap();
    for (data, hidden) in [(iris(), vec![5]), (binary, vec![3, 3]), (regression, vec![])] {
        let model = quick(&data, hidden);
        let loaded = model_io::from_safetensors(&model_io::to_safetensors(&model).unwrap(), Path::new("m")).unwrap();
        assert_eq!(loaded, model);
        let path = dir.path().join("m.safetensors");
        model_io::save(&model, &path).unwrap();
        assert_eq!(model_io::load(&path).unwrap(), model);
    }
}

#[test]
fn classes_must_fit_the_output_layer() {
    let softmax = quick(&iris(), vec![5]);
    refused(&softmax, "2 classes but the output layer has 3 outputs", |m, _| {
        m["classes"] = json!(["0", "1"]);
    });
    refused(&softmax, "5 classes but the output layer has 3 outputs", |m, _| {
        m["classes"] = json!(["0", "1", "2", "3", "4"]);
    });
    refused(&softmax, "names the class '1' twice", |m, _| {
        m["classes"] = json!(["0", "1", "1"]);
    });
    let sigmoid = quick(&binary_and_regression().0, vec![4]);
    refused(
        &sigmoid,
        "3 classes but the output layer has 1 output (sigmoid)",
        |m, _| {
            m["classes"] = json!(["a", "b", "c"]);
        },
    );
    refused(
        &sigmoid,
        "at least two class labels in its metadata, found 1",
        |m, _| {
            m["classes"] = json!(["a"]);
        },
    );
}

#[test]
fn the_task_must_fit_the_output_and_the_loss() {
    let softmax = quick(&iris(), vec![5]);
    refused(
        &softmax,
        "regression, which predicts one number, but the output layer has 3 outputs",
        |m, _| {
            m["task"] = json!("regression");
            m["classes"] = json!([]);
        },
    );
    refused(&softmax, "says regression but names 3 class labels", |m, _| {
        m["task"] = json!("regression");
    });
    refused(&softmax, "loss does not fit the output layer", |m, _| {
        m["loss"] = json!("binary_cross_entropy");
    });
    let regression = quick(&binary_and_regression().1, vec![4]);
    refused(&regression, "a classifier cannot have a target scale", |m, _| {
        m["task"] = json!("classification");
        m["classes"] = json!(["low", "high"]);
    });
    refused(&regression, "'target.mean' without 'target.std'", |_, t| {
        t.remove("target.std");
    });
    refused(&regression, "'target.std' without 'target.mean'", |_, t| {
        t.remove("target.mean");
    });
    refused(&regression, "'target.std' is 0", |_, t| {
        t.insert("target.std".into(), f32s(&[0.0]));
    });
}

#[test]
fn layers_must_chain_and_fit_their_tensors() {
    let model = quick(&iris(), vec![5, 6]);
    refused(&model, "layer 0 has 5 outputs but layer 1 has 7 inputs", |m, _| {
        m["layers"][1]["in"] = json!(7);
    });
    refused(
        &model,
        "tensor 'layers.1.weight' is F32 [6, 5], expected F32 [7, 5]",
        |m, _| {
            m["layers"][1]["out"] = json!(7);
            m["layers"][2]["in"] = json!(7);
        },
    );
    refused(&model, "every layer needs at least one of each", |m, _| {
        m["layers"][0]["out"] = json!(0);
        m["layers"][1]["in"] = json!(0);
    });
    refused(&model, "more parameters than memory can address", |m, _| {
        m["layers"][0]["out"] = json!(1u64 << 62);
        m["layers"][1]["in"] = json!(1u64 << 62);
    });
    refused(&model, "can only be the output activation", |m, _| {
        m["layers"][0]["activation"] = json!("softmax");
    });
    refused(&model, "at least one layer", |m, _| {
        m["layers"] = json!([]);
    });
    refused(&model, "tensor 'layers.2.bias' is missing", |_, t| {
        t.remove("layers.2.bias");
    });
    refused(&model, "unexpected tensor 'layers.3.weight'", |_, t| {
        let extra = t["layers.2.weight"].clone();
        t.insert("layers.3.weight".into(), extra);
    });
    refused(&model, "tensor 'layers.0.bias' is F16", |_, t| {
        let bias = t.get_mut("layers.0.bias").unwrap();
        bias.0 = Dtype::F16;
        bias.2.truncate(10);
    });
}

#[test]
fn every_value_must_be_finite_and_every_std_positive() {
    let model = quick(&iris(), vec![5]);
    refused(&model, "tensor 'layers.1.weight' holds NaN at index 4", |_, t| {
        set_weight(t, "layers.1.weight", 4, f32::NAN);
    });
    refused(&model, "tensor 'layers.0.bias' holds inf at index 2", |_, t| {
        set_weight(t, "layers.0.bias", 2, f32::INFINITY);
    });
    refused(&model, "tensor 'input.mean' holds -inf", |_, t| {
        set_weight(t, "input.mean", 0, f32::NEG_INFINITY);
    });
    refused(&model, "'input.std' is 0 for feature 3", |_, t| {
        set_weight(t, "input.std", 3, 0.0);
    });
    refused(&model, "'input.std' is -1 for feature 1", |_, t| {
        set_weight(t, "input.std", 1, -1.0);
    });
    refused(&model, "tensor 'input.std' is F32 [3], expected F32 [4]", |_, t| {
        t.insert("input.std".into(), f32s(&[1.0, 1.0, 1.0]));
    });
}

#[test]
fn names_and_versions_must_fit() {
    let model = quick(&iris(), vec![5]);
    refused(
        &model,
        "metadata names 3 features but the first layer takes 4",
        |m, _| {
            m["features"] = json!(["a", "b", "c"]);
        },
    );
    refused(&model, "names the feature 'sepal_width' twice", |m, _| {
        m["features"] = json!(["sepal_length", "sepal_width", "sepal_width", "petal_width"]);
    });
    refused(&model, "format version 0 is not one this actlab understands", |m, _| {
        m["version"] = json!(0);
    });
    refused(&model, "format version 99 is not one", |m, _| {
        m["version"] = json!(99);
    });
    refused(&model, "malformed 'actlab' metadata", |m, _| {
        m["layers"][0]["activation"] = json!("relu:banana");
    });
}

#[test]
fn a_text_file_given_as_a_model_is_called_one() {
    let path = Path::new("data.csv");
    let refused = |bytes: &[u8]| model_io::from_safetensors(bytes, path).unwrap_err().to_string();
    let text = refused(b"sepal_length,sepal_width\n5.1,3.5\n");
    assert_eq!(
        text,
        "data.csv: a text file, not a model (models are the .safetensors files that `actlab train --save` writes)"
    );
    // Text whose 512th byte falls inside a character is text all the same.
    let long = format!("{}é,b\n", "a".repeat(511));
    assert!(
        refused(long.as_bytes()).contains("a text file, not a model"),
        "{}",
        refused(long.as_bytes())
    );
    // A model file cut short, or bytes that are not text, are called corrupted as before.
    let bytes = model_io::to_safetensors(&quick(&iris(), vec![3])).unwrap();
    for broken in [&bytes[..bytes.len() / 2], &[0xff, 0x00, 0x17][..]] {
        assert!(
            refused(broken).contains("is it truncated or corrupted?"),
            "{}",
            refused(broken)
        );
    }
}

/// The hostile files of the review, through the command line: one error line, no panic.
#[test]
fn eval_and_predict_refuse_files_whose_parts_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = write(
        d,
        "rows.csv",
        "sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n",
    );
    let model = quick(&iris(), vec![5]);
    let files = [
        refused(&model, "2 classes", |m, _| m["classes"] = json!(["0", "1"])),
        refused(&model, "regression", |m, _| m["task"] = json!("regression")),
        refused(&model, "NaN", |_, t| set_weight(t, "layers.0.weight", 0, f32::NAN)),
        refused(&model, "'input.std' is 0", |_, t| set_weight(t, "input.std", 0, 0.0)),
    ];
    for (i, bytes) in files.iter().enumerate() {
        let path = d.join(format!("bad{i}.safetensors"));
        std::fs::write(&path, bytes).unwrap();
        let path = path.to_string_lossy().into_owned();
        common::fails_with(
            &["eval", "--model", &path, "--data", &csv],
            &format!("bad{i}.safetensors: "),
        );
        common::fails_with(
            &["predict", "--model", &path, "--data", &csv],
            &format!("bad{i}.safetensors: "),
        );
    }
}

#[test]
fn predictions_that_overflow_are_an_error_naming_the_layer() {
    let data = iris();
    let mut model = quick(&data, vec![5]);
    // Hidden units at 1e30 whatever the input (weights 0, biases 1e30), output weights 1e30:
    // the output layer's sums overflow.
    let (hidden, output) = (model.mlp.layer_range(0), model.mlp.layer_range(1));
    model.mlp.params_mut()[hidden.clone()].fill(0.0);
    model.mlp.params_mut()[hidden.end - 5..hidden.end].fill(1e30);
    model.mlp.params_mut()[output].fill(1e30);
    let err = model.predict(&data).unwrap_err().to_string();
    assert!(
        err.contains("prediction for row 1 of the data is not finite")
            && err.contains("pre-activations of layer 1 (5 → 3, softmax) overflow f32"),
        "{err}"
    );
    assert!(model.evaluate(&data).is_err());

    let mut model = quick(&data, vec![5]);
    model.input.mean[0] = 0.0;
    model.input.std[0] = 1e-38;
    let err = model.predict(&data).unwrap_err().to_string();
    assert_eq!(
        err,
        "row 1 of the data: feature 'sepal_length' = 5.1 is beyond f32 once standardized with the model's mean 0 and std 1e-38"
    );

    let mut empty = data.subset(&[]);
    empty.x = Matrix::zeros(0, 4);
    assert_eq!(model.evaluate(&empty).unwrap_err().to_string(), "no samples to score");
}

#[test]
fn columns_are_matched_by_name_for_built_in_and_reordered_data() {
    let data = iris();
    let model = quick(&data, vec![5]);
    let mut reordered = data.clone();
    let order = [2, 0, 3, 1];
    reordered.feature_names = order.iter().map(|&c| data.feature_names[c].clone()).collect();
    reordered.x = Matrix::from_vec(
        data.len(),
        4,
        data.x.iter_rows().flat_map(|r| order.map(|c| r[c])).collect(),
    );
    let (aligned, unused) = model.select_features(&reordered).unwrap();
    assert_eq!(aligned, data);
    assert!(unused.is_empty());
    let mut renamed = data.clone();
    renamed.feature_names[1] = "sepal".into();
    renamed.feature_names[3] = "petal".into();
    let err = model.select_features(&renamed).unwrap_err().to_string();
    assert_eq!(
        err,
        "the data lacks 2 of the model's feature columns: sepal_width, petal_width"
    );
}

#[test]
fn the_memory_limit_refuses_what_does_not_fit_and_chunks_what_does() {
    actlab()
        .args(["train", "--data", "iris", "--hidden", "100000000"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "error: training a 4-100000000-3 network (1000000009 parameters)",
        ));
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors").to_string_lossy().into_owned();
    actlab()
        .args([
            "train", "--data", "iris", "--hidden", "100", "--epochs", "2", "--save", &model,
        ])
        .assert()
        .success();
    let csv = dir.path().join("iris.csv");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/iris.csv"), &csv).unwrap();
    let csv = csv.to_string_lossy().into_owned();
    let predict = |limit: &str| {
        let out = actlab()
            .args([
                "predict",
                "--model",
                &model,
                "--data",
                &csv,
                "--proba",
                "--max-memory",
                limit,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    // 2 MiB lets 79 rows through the 4-100-3 network at a time, 1 GiB 1024.
    assert_eq!(predict("2M"), predict("1G"));
    common::fails_with(
        &["predict", "--model", &model, "--data", &csv, "--max-memory", "1K"],
        "but the memory limit is 1.0 KiB (set it with --max-memory)",
    );
}
