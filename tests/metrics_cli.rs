//! The metrics report, class and sample weights, the decision threshold, dropout and
//! cross-validation, through the `actlab` binary.

mod common;

use common::{actlab, fails_with, last_json_line, write};
use serde_json::Value;

/// 400 rows, 4 % positives ("yes"), the positives shifted in x1.
fn imbalanced(dir: &std::path::Path) -> String {
    let mut csv = String::from("x1,x2,w,y\n");
    for i in 0..400u32 {
        let positive = i % 25 == 0;
        let x1 = ((i * 37) % 101) as f32 / 101.0 + if positive { 0.6 } else { 0.0 };
        let x2 = ((i * 53) % 97) as f32 / 97.0;
        let w = 1 + i % 3;
        csv += &format!("{x1},{x2},{w},{}\n", if positive { "yes" } else { "no" });
    }
    write(dir, "imbalanced.csv", &csv)
}

fn run_json(args: &[&str]) -> Value {
    let output = actlab().args(args).arg("--json").output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    last_json_line(&output.stdout)
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn an_imbalanced_classifier_is_reported_truthfully() {
    let dir = tempfile::tempdir().unwrap();
    let data = imbalanced(dir.path());
    let args: &[&str] = &["train", "--data", &data, "--target", "y"];
    let report = run_json(&[args, &["--epochs", "3"]].concat());
    let m = &report["test_metrics"];
    assert_eq!(number(&m["accuracy"]), number(&report["test_accuracy"]));
    let confusion: Vec<Vec<u64>> = serde_json::from_value(m["confusion"].clone()).unwrap();
    assert_eq!(
        confusion.iter().flatten().sum::<u64>(),
        report["n_test"].as_u64().unwrap()
    );
    let support: Vec<u64> = m["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["support"].as_u64().unwrap())
        .collect();
    assert_eq!(
        support,
        [confusion[0].iter().sum::<u64>(), confusion[1].iter().sum::<u64>()]
    );
    let auc = number(&m["roc_auc"]);
    assert!((0.0..=1.0).contains(&auc));
    assert!(number(&m["log_loss"]).is_finite());
    // Three epochs barely move from the majority class: the summary says that accuracy means nothing here.
    let (accuracy, majority) = (number(&m["accuracy"]), number(&m["majority_accuracy"]));
    assert!(accuracy <= majority && majority == 77.0 / 80.0, "{accuracy} {majority}");
    let output = actlab().args(args).args(["--epochs", "3"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let baseline: Vec<&str> = text.lines().filter(|l| l.starts_with("baseline")).collect();
    assert_eq!(
        baseline,
        [format!(
            "baseline test: accuracy {accuracy:.4} is no better than always answering the majority class 'no' (0.9625)"
        )]
    );
    for note in m["notes"].as_array().unwrap() {
        assert!(text.contains(&format!("note     {}", note.as_str().unwrap())), "{text}");
    }
    assert!(
        text.contains("confusion matrix (test; rows: true class, columns: predicted class)"),
        "{text}"
    );
}

#[test]
fn eval_reports_the_same_metrics_as_train() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("iris.safetensors");
    let model = model.to_str().unwrap();
    let train = run_json(&["train", "--data", "iris", "--epochs", "20", "--save", model]);
    let eval = run_json(&["eval", "--model", model, "--data", "iris"]);
    assert_eq!(train["test_metrics"], eval["metrics"]);
    let m = &eval["metrics"];
    assert_eq!(m["roc_auc"], Value::Null, "three classes have no single ROC AUC");
    assert_eq!(m["per_class"].as_array().unwrap().len(), 3);
    let f1: Vec<f64> = m["per_class"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| number(&c["f1"]))
        .collect();
    assert!((number(&m["macro_f1"]) - f1.iter().sum::<f64>() / 3.0).abs() < 1e-12);
}

#[test]
fn regression_reports_mae_rmse_and_r2_in_target_units() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("x,y\n");
    for i in 0..200 {
        let x = i as f32 / 20.0;
        csv += &format!("{x},{}\n", 1000.0 + 300.0 * x);
    }
    let data = write(dir.path(), "linear.csv", &csv);
    let report = run_json(&["train", "--data", &data, "--target", "y", "--epochs", "30"]);
    let m = &report["test_metrics"];
    assert_eq!(number(&m["rmse"]), number(&report["test_rmse"]));
    assert_eq!(number(&m["r2"]), number(&report["test_r2"]));
    let (mae, rmse) = (number(&m["mae"]), number(&m["rmse"]));
    assert!(mae > 0.0 && mae <= rmse, "MAE {mae} RMSE {rmse}");
    fails_with(
        &["eval", "--model", "nonexistent.safetensors", "--data", &data],
        "nonexistent",
    );
}

#[test]
fn weights_and_thresholds_are_flags_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = imbalanced(dir.path());
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    let base = ["train", "--data", &data, "--target", "y", "--epochs", "5"];
    let plain = run_json(&base);
    let weighted = run_json(&[&base[..], &["--class-weight", "balanced", "--sample-weight", "w"]].concat());
    assert_eq!(weighted["class_weight"], "balanced");
    // The weight column is not a feature.
    assert_eq!(
        (plain["n_features"].as_u64(), weighted["n_features"].as_u64()),
        (Some(3), Some(2))
    );
    let tuned = run_json(&[&base[..], &["--threshold", "auto", "--save", model]].concat());
    let t = number(&tuned["threshold"]);
    assert!((0.0..=1.0).contains(&t));
    let eval = run_json(&["eval", "--model", model, "--data", &data]);
    assert!(eval["metrics"]["confusion"].is_array());
    let fixed = run_json(&[&base[..], &["--threshold", "0"]].concat());
    let confusion = &fixed["test_metrics"]["confusion"];
    assert_eq!(
        (confusion[0][0].as_u64(), confusion[1][0].as_u64()),
        (Some(0), Some(0)),
        "{confusion}"
    );

    let bad = write(dir.path(), "bad.csv", "x,w,y\n1,1,a\n2,2,b\n3,-1,a\n4,1,b\n");
    fails_with(
        &["train", "--data", &bad, "--target", "y", "--sample-weight", "w"],
        "bad.csv:4:2: sample weight 'w' -1 is negative",
    );
    fails_with(
        &["train", "--data", &data, "--target", "y", "--class-weight", "maybe=2"],
        "--class-weight names the class 'maybe', which the training data does not have (its classes: no, yes)",
    );
    fails_with(
        &["train", "--data", "iris", "--threshold", "auto"],
        "--threshold applies to two classes",
    );
    fails_with(
        &["train", "--data", "iris", "--threshold", "1.5"],
        "must be auto or a number from 0 to 1",
    );
}

#[test]
fn dropout_is_a_flag_of_train_and_compare() {
    fails_with(
        &["train", "--data", "iris", "--dropout", "1"],
        "must be at least 0 and below 1",
    );
    fails_with(
        &["train", "--data", "iris", "--hidden", "8,8", "--dropout", "0.1,0.1,0.1"],
        "--dropout gives 3 rates",
    );
    let report = run_json(&["train", "--data", "iris", "--epochs", "5", "--dropout", "0.2"]);
    assert_eq!(report["dropout"], serde_json::json!([0.2f32]));
    let args = [
        "compare",
        "--data",
        "iris",
        "--epochs",
        "3",
        "--activations",
        "relu,tanh",
    ];
    let plain = run_json(&args);
    let dropped = run_json(&[&args[..], &["--dropout", "0.5"]].concat());
    let loss = |r: &Value| number(&r["runs"][0]["history"][0]["train_loss"]);
    assert_ne!(loss(&plain), loss(&dropped));
}

#[test]
fn cv_reports_each_metric_over_stratified_folds() {
    let report = run_json(&[
        "cv", "--data", "iris", "--folds", "3", "--epochs", "10", "--hidden", "8",
    ]);
    let folds = report["per_fold"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    assert_eq!(folds.iter().map(|f| f["n_test"].as_u64().unwrap()).sum::<u64>(), 150);
    let accuracy: Vec<f64> = folds.iter().map(|f| number(&f["metrics"]["accuracy"])).collect();
    let mean = accuracy.iter().sum::<f64>() / 3.0;
    let std = (accuracy.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    let summary = &report["summary"]["accuracy"];
    assert!((number(&summary["mean"]) - mean).abs() < 1e-12);
    assert!((number(&summary["std"]) - std).abs() < 1e-12);
    assert_eq!(
        report["summary"]["roc_auc"],
        Value::Null,
        "three classes have no ROC AUC"
    );
    // Every train flag applies: with dropout the folds train differently.
    let dropped = run_json(&[
        "cv",
        "--data",
        "iris",
        "--folds",
        "3",
        "--epochs",
        "10",
        "--hidden",
        "8",
        "--dropout",
        "0.5",
    ]);
    assert_ne!(dropped["summary"]["log_loss"], report["summary"]["log_loss"]);

    let dir = tempfile::tempdir().unwrap();
    let data = imbalanced(dir.path());
    fails_with(
        &["cv", "--data", &data, "--target", "y", "--folds", "20"],
        "--folds (20) exceed the 16 samples of class 'yes', the smallest; stratified folds need one of each class in every fold",
    );
    fails_with(
        &["cv", "--data", "iris", "--test", &data],
        "--test does not apply to cv",
    );
    let output = actlab()
        .args([
            "cv",
            "--data",
            &data,
            "--target",
            "y",
            "--folds",
            "4",
            "--epochs",
            "3",
            "--threshold",
            "auto",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("roc_auc "), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("fold ")).count(), 4, "{text}");
}

#[test]
fn a_threshold_in_a_model_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data = imbalanced(dir.path());
    let model = dir.path().join("m.safetensors");
    let report = run_json(&[
        "train",
        "--data",
        &data,
        "--target",
        "y",
        "--epochs",
        "2",
        "--threshold",
        "0.25",
        "--save",
        model.to_str().unwrap(),
    ]);
    assert_eq!(number(&report["threshold"]), 0.25);
    let bytes = std::fs::read(&model).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert!(header.metadata().as_ref().unwrap()["actlab"].contains("\"threshold\":0.25"));
    let broken = common::edited_model(&bytes, |meta, _| meta["threshold"] = serde_json::json!(1.5));
    let broken_path = dir.path().join("broken.safetensors");
    std::fs::write(&broken_path, broken).unwrap();
    fails_with(
        &["eval", "--model", broken_path.to_str().unwrap(), "--data", &data],
        "the metadata's decision threshold 1.5 needs a classifier of two classes and a value in [0, 1]",
    );
    // Without the field (a file written before thresholds existed) the model predicts the most probable class.
    let old = common::edited_model(&bytes, |meta, _| {
        meta.as_object_mut().unwrap().remove("threshold");
    });
    let old_path = dir.path().join("old.safetensors");
    std::fs::write(&old_path, old).unwrap();
    let eval = run_json(&["eval", "--model", old_path.to_str().unwrap(), "--data", &data]);
    assert!(eval["metrics"]["accuracy"].is_number());
}

#[test]
fn a_run_resumes_only_with_its_weights_and_dropout() {
    let dir = tempfile::tempdir().unwrap();
    let data = imbalanced(dir.path());
    let checkpoint = dir.path().join("c.safetensors");
    let checkpoint = checkpoint.to_str().unwrap();
    let base = [
        "train",
        "--data",
        &data,
        "--target",
        "y",
        "--epochs",
        "2",
        "--sample-weight",
        "w",
    ];
    let first = run_json(&[&base[..], &["--checkpoint", checkpoint]].concat());
    let resumed = run_json(&[&base[..], &["--resume", checkpoint]].concat());
    assert_eq!(first["test_metrics"], resumed["test_metrics"]);
    fails_with(
        &[
            "train", "--data", &data, "--target", "y", "--epochs", "2", "--resume", checkpoint,
        ],
        "made with --sample-weight = \"320 weights, FNV-1a",
    );
    fails_with(
        &[&base[..], &["--dropout", "0.1", "--resume", checkpoint]].concat(),
        "made with --dropout = null, this run has [0.1]",
    );
}

/// The weight column of a raw table (with a string column and a missing cell) is no feature:
/// the model's schema drops it and predict works on a file without it. `cv` reads the same
/// raw table.
#[test]
fn a_raw_tables_weight_column_is_not_a_feature() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("colour,x,w,y\n");
    let mut predict = String::from("colour,x\n");
    for i in 0..120u32 {
        let colour = ["red", "green", "blue"][(i % 3) as usize];
        let x = if i == 7 {
            String::new()
        } else {
            format!("{}", (i * 13 % 29) as f32 / 29.0)
        };
        csv += &format!("{colour},{x},{},{}\n", 1 + i % 2, if i % 3 == 0 { "a" } else { "b" });
        predict += &format!("{colour},{x}\n");
    }
    let data = write(dir.path(), "raw.csv", &csv);
    let rows = write(dir.path(), "rows.csv", &predict);
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    let report = run_json(&[
        "train",
        "--data",
        &data,
        "--target",
        "y",
        "--sample-weight",
        "w",
        "--epochs",
        "3",
        "--save",
        model,
    ]);
    let schema = report["schema"].as_array().unwrap();
    let w = schema.iter().find(|c| c["name"] == "w").unwrap();
    assert_eq!(w["kind"], "dropped", "{w}");
    let output = actlab()
        .args(["predict", "--model", model, "--data", &rows])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 121);
    let cv = run_json(&["cv", "--data", &data, "--target", "y", "--folds", "3", "--epochs", "2"]);
    assert_eq!(cv["per_fold"].as_array().map(Vec::len), Some(3), "{cv}");
    assert_eq!(cv["n_samples"], 120);
    assert!(
        cv["schema"]
            .as_array()
            .is_some_and(|s| s.iter().any(|c| c["name"] == "colour")),
        "{cv}"
    );
}
