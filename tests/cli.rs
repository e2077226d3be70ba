//! End-to-end tests of the `actlab` binary.

mod common;

use common::{actlab, fails_with, last_json_line, write};

use predicates::prelude::*;
use serde_json::Value;

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "train",
        "eval",
        "predict",
        "activations",
        "compare",
        "cv",
        "plot",
        "experiments",
        "advise",
    ] {
        actlab()
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage"));
    }
}

#[test]
fn train_json_reports_every_required_field() {
    let output = actlab()
        .args(["train", "--data", "iris", "--epochs", "30", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = last_json_line(&output.stdout);
    for key in [
        "task",
        "n_train",
        "n_test",
        "n_features",
        "n_outputs",
        "epochs",
        "train_loss",
        "test_loss",
        "train_accuracy",
        "test_accuracy",
        "seconds",
        "samples_per_second",
        "history",
    ] {
        assert!(report.get(key).is_some(), "missing {key} in {report}");
    }
    assert_eq!(report["task"], "classification");
    assert_eq!(report["n_train"], 120);
    assert_eq!(report["n_test"], 30);
    assert_eq!(report["n_features"], 4);
    assert_eq!(report["n_outputs"], 3);
    assert_eq!(report["history"].as_array().unwrap().len(), 30);
    assert!(report["test_accuracy"].as_f64().unwrap() > 0.8, "{report}");
}

#[test]
fn train_json_splits_loading_set_up_and_epochs() {
    let began = std::time::Instant::now();
    let output = actlab()
        .args(["train", "--data", "digits", "--epochs", "3", "--json"])
        .output()
        .unwrap();
    let wall = began.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = last_json_line(&output.stdout);
    let seconds = |key: &str| {
        let v = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("missing {key} in {report}"));
        assert!(v.is_finite() && v >= 0.0, "{key} = {v}");
        v
    };
    let (load, setup, train) = (
        seconds("load_seconds"),
        seconds("setup_seconds"),
        seconds("train_seconds"),
    );
    assert!(train > 0.0 && load + setup + train <= wall, "{report}");
    // The training call holds the set-up and the epochs.
    assert!(setup + train <= seconds("seconds"), "{report}");
    let n_train = report["n_train"].as_f64().unwrap();
    let expected = 3.0 * n_train / train;
    let throughput = seconds("samples_per_second");
    assert!(
        (throughput - expected).abs() <= 1e-9 * expected,
        "{throughput} vs {expected}"
    );
}

#[test]
fn regression_json_reports_r2_and_rmse() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..200 {
        let (a, b) = ((i % 17) as f32 / 4.0, (i % 11) as f32 / 3.0);
        csv += &format!("{a},{b},{}\n", 3.0 * a - 2.0 * b + 0.5);
    }
    let path = write(dir.path(), "lin.csv", &csv);
    let output = actlab()
        .args(["train", "--data", &path, "--epochs", "40", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = last_json_line(&output.stdout);
    assert_eq!(report["task"], "regression");
    assert!(report["test_r2"].as_f64().unwrap() > 0.95, "{report}");
    assert!(report["test_rmse"].as_f64().is_some());
}

#[test]
fn save_eval_predict_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("x,y,kind\n");
    for i in 0..120 {
        let x = (i % 12) as f32 - 6.0;
        let y = (i % 7) as f32 - 3.0;
        csv += &format!("{x},{y},{}\n", if x > 0.0 { "right" } else { "left" });
    }
    let data = write(dir.path(), "lr.csv", &csv);
    let model = dir.path().join("m.safetensors").to_string_lossy().into_owned();
    actlab()
        .args(["train", "--data", &data, "--epochs", "30", "--save", &model])
        .assert()
        .success();
    let output = actlab()
        .args(["eval", "--model", &model, "--data", &data, "--json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(last_json_line(&output.stdout)["test_accuracy"].as_f64().unwrap() > 0.95);

    // Prediction needs no target column.
    let new = write(dir.path(), "new.csv", "x,y\n5,0\n-5,1\n");
    actlab()
        .args(["predict", "--model", &model, "--data", &new])
        .assert()
        .success()
        .stdout("kind\nright\nleft\n");
    let out = dir.path().join("p.csv");
    actlab()
        .args([
            "predict",
            "--model",
            &model,
            "--data",
            &new,
            "--proba",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("left,right"));
    let first: Vec<f32> = lines.next().unwrap().split(',').map(|v| v.parse().unwrap()).collect();
    assert!(
        (first.iter().sum::<f32>() - 1.0).abs() < 1e-6 && first[1] > 0.5,
        "{first:?}"
    );
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("nope.csv").to_string_lossy().into_owned();
    fails_with(&["train", "--data", &missing], "nope.csv");
    let empty = write(d, "empty.csv", "");
    fails_with(&["train", "--data", &empty], "empty.csv");
    let ragged = write(d, "ragged.csv", "a,b,c\n1,2,0\n3,4\n");
    fails_with(&["train", "--data", &ragged], "ragged.csv:3");
    // Text cells make a categorical column and NaN is missing (issue 14); a number beyond f32,
    // and NaN when it is not among --na-values, are still refused.
    let big = write(d, "big.csv", "a,b,c\n1,2,0\n3,1e39,1\n");
    fails_with(&["train", "--data", &big], "big.csv:3:2");
    let nan = write(d, "nan.csv", "a,b,c\n1,NaN,0\n3,4,1\n");
    fails_with(&["train", "--data", &nan, "--na-values", "NA"], "nan.csv:2:2");
    let inf = write(d, "inf.csv", "a,b,c\n1,2,0\ninf,4,1\n");
    fails_with(&["train", "--data", &inf], "inf.csv:3:1");
    fails_with(&["train", "--data", "iris", "--target", "species"], "--target");
    let good = write(d, "good.csv", "a,b,c\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    fails_with(&["train", "--data", &good, "--target", "species"], "species");
    fails_with(&["train", "--data", "iris", "--activation", "sigmoyd"], "sigmoid");
    fails_with(&["train", "--data", "iris", "--hidden", "10,0"], "--hidden");
    fails_with(&["train", "--data", "iris", "--lr", "0"], "--lr");
    fails_with(&["train", "--data", "iris", "--lr", "-0.1"], "--lr");
    fails_with(&["train", "--data", "iris", "--l1", "-1"], "--l1");
    fails_with(&["train", "--data", "iris", "--l1", "nan"], "--l1");
    fails_with(&["compare", "--data", "iris", "--l1", "inf"], "--l1");
    fails_with(&["cv", "--data", "iris", "--l1", "-0.5"], "--l1");
    fails_with(&["train", "--data", "no-such-set"], "no-such-set");
}

#[test]
fn damaged_files_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An IDX directory whose image file stops short of what its header promises.
    let idx = d.join("idx");
    std::fs::create_dir(&idx).unwrap();
    let images = |n: u32| {
        let mut b = vec![0, 0, 8, 3];
        for v in [n, 2, 2] {
            b.extend(v.to_be_bytes());
        }
        b
    };
    let labels = |n: u32| {
        let mut b = vec![0, 0, 8, 1];
        b.extend(n.to_be_bytes());
        b.extend((0..n).map(|i| (i % 2) as u8));
        b
    };
    let mut full = images(4);
    full.extend([7u8; 16]);
    std::fs::write(idx.join("train-images-idx3-ubyte"), &full[..full.len() - 5]).unwrap();
    std::fs::write(idx.join("train-labels-idx1-ubyte"), labels(4)).unwrap();
    std::fs::write(idx.join("t10k-images-idx3-ubyte"), &full).unwrap();
    std::fs::write(idx.join("t10k-labels-idx1-ubyte"), labels(4)).unwrap();
    fails_with(&["train", "--data", idx.to_str().unwrap()], "truncated");

    let corrupt = write(d, "bad.safetensors", "this is not a model");
    fails_with(&["eval", "--model", &corrupt, "--data", "iris"], "bad.safetensors");

    let model = d.join("iris.safetensors").to_string_lossy().into_owned();
    actlab()
        .args(["train", "--data", "iris", "--epochs", "2", "--save", &model])
        .assert()
        .success();
    fails_with(
        &["eval", "--model", &model, "--data", "digits"],
        "the data lacks 4 of the model's feature columns: sepal_length, sepal_width, petal_length, petal_width",
    );
    let three = write(d, "three.csv", "a,b,c\n1,2,3\n");
    fails_with(
        &["predict", "--model", &model, "--data", &three],
        "missing columns 'sepal_length'",
    );
}

#[test]
fn summary_names_the_automatic_output_choice() {
    actlab()
        .args(["train", "--data", "xor", "--epochs", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "output   auto: sigmoid with 1 output for 2 classes",
        ));
}

#[test]
fn activations_lists_every_function() {
    let output = actlab().args(["activations", "--json"]).output().unwrap();
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for name in [
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "gelu",
        "gelu:tanh",
        "selu",
        "prelu",
        "softmax",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn diagnostics_appear_in_the_json_history_and_layers() {
    let output = actlab()
        .args([
            "train",
            "--data",
            "circles",
            "--hidden",
            "8,8",
            "--activation",
            "sigmoid",
            "--epochs",
            "3",
        ])
        .args(["--diagnostics", "100", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = last_json_line(&output.stdout);
    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    for epoch in history {
        let d = &epoch["diagnostics"];
        assert_eq!(d["samples"], 100);
        assert_eq!(d["layers"].as_array().unwrap().len(), 3);
        assert!(d["layers"][0]["saturated_fraction"].as_f64().is_some());
    }
    let layers = report["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[1]["in"], 8);
    assert_eq!(layers[1]["activation"], "sigmoid");
    // Sigmoid outputs are positive, so layer 1's incoming gradients share one sign per sample.
    assert_eq!(layers[1]["same_sign_share"], 1.0);
    assert!(layers[0]["output_mean"].as_f64().unwrap() > 0.2);
}

/// The settings in `--json` are the ones training ran with: each flag reaches the library.
#[test]
fn json_reports_the_settings_training_ran_with() {
    let run = |extra: &[&str]| {
        let mut args = vec!["train", "--data", "iris", "--hidden", "4", "--json"];
        args.extend_from_slice(extra);
        let output = actlab().args(&args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        last_json_line(&output.stdout)
    };
    let report = run(&[
        "--epochs",
        "2",
        "--optimizer",
        "sgd",
        "--weight-decay",
        "0.01",
        "--l1",
        "0.002",
        "--threads",
        "1",
    ]);
    assert_eq!(report["optimizer"], "sgd");
    assert_eq!(report["weight_decay"].as_f64().unwrap() as f32, 0.01);
    assert_eq!(report["l1"].as_f64().unwrap() as f32, 0.002);
    assert_eq!(report["threads"], 1);
    assert_eq!(run(&["--epochs", "1", "--threads", "2"])["threads"], 2);
    // Default epochs: enough to see about 40,000 samples, 10 to 300: iris' 120 training rows
    // get 300, MNIST-1D's 4000 get 10.
    assert_eq!(run(&[])["epochs"], 300);
    let output = actlab()
        .args(["train", "--data", "mnist1d", "--hidden", "4", "--json"])
        .output()
        .unwrap();
    assert_eq!(last_json_line(&output.stdout)["epochs"], 10);
    for scaling in ["auto", "feature", "global", "none"] {
        assert_eq!(
            run(&["--epochs", "1", "--scaling", scaling])["epochs"],
            1,
            "--scaling {scaling}"
        );
    }
}

#[test]
fn fashion_mnist_says_how_to_install_it() {
    if std::path::Path::new("/usr/share/datasets/fashion-mnist").is_dir() {
        eprintln!("note: Fashion-MNIST is installed; the message for a missing one is not checked");
        return;
    }
    fails_with(
        &["train", "--data", "fashion-mnist"],
        "install it with `apt-get install dataset-fashion-mnist`",
    );
}
