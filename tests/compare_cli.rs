//! End-to-end tests of `actlab compare` and `actlab plot`.

mod common;

use common::{actlab, fails_with};

use predicates::prelude::*;
use serde_json::Value;

/// A small comparison on the circles: a linear network against tanh, two seeds.
const SMALL: [&str; 15] = [
    "compare",
    "--data",
    "circles",
    "--samples",
    "200",
    "--hidden",
    "8",
    "--activations",
    "identity,tanh",
    "--epochs",
    "40",
    "--batch-size",
    "16",
    "--seeds",
    "2",
];

fn run_json(args: &[&str]) -> Value {
    let output = actlab().args(args).arg("--json").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "stdout is one JSON object: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn compare_json_has_one_entry_per_activation_and_seed_with_every_figure() {
    let report = run_json(&SMALL);
    let runs = report["runs"].as_array().unwrap();
    let keys: Vec<(String, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["activation"].as_str().unwrap().to_string(),
                r["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("identity".to_string(), 0),
            ("identity".to_string(), 1),
            ("tanh".to_string(), 0),
            ("tanh".to_string(), 1)
        ]
    );
    for run in runs {
        for key in [
            "train_accuracy",
            "test_accuracy",
            "train_loss",
            "test_loss",
            "epochs_to_target",
            "seconds",
            "dead_fraction",
            "saturated_fraction",
            "gradient_ratio",
            "layers",
            "history",
        ] {
            assert!(run.get(key).is_some(), "missing {key} in {run}");
        }
        assert_eq!(run["history"].as_array().unwrap().len(), 40);
        assert!(run["gradient_ratio"].as_f64().unwrap() > 0.0);
        assert!(run["seconds"].as_f64().unwrap() > 0.0);
    }
    let test_accuracy = |i: usize| runs[i]["test_accuracy"].as_f64().unwrap();
    assert!(test_accuracy(0) < 0.75 && test_accuracy(1) < 0.75, "identity: {report}");
    assert!(test_accuracy(2) > 0.9 && test_accuracy(3) > 0.9, "tanh: {report}");
    // Saturation does not apply to identity; tanh reaches the target, identity never does.
    assert!(runs[0]["saturated_fraction"].is_null());
    assert!(runs[2]["saturated_fraction"].as_f64().is_some());
    assert!(runs[0]["epochs_to_target"].is_null());
    assert!(runs[2]["epochs_to_target"].as_u64().unwrap() <= 40);
}

#[test]
fn compare_prints_a_table_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let report_arg = report.to_str().unwrap();
    let output = actlab().args(SMALL).args(["--report", report_arg]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let header = stdout.lines().find(|l| l.starts_with("activation")).unwrap();
    for column in [
        "train acc",
        "test acc",
        "test loss",
        "epochs to",
        "time s",
        "dead %",
        "saturated %",
        "grad first/last",
    ] {
        assert!(header.contains(column), "{column} in {header}");
    }
    let tanh = stdout.lines().find(|l| l.starts_with("tanh")).unwrap();
    assert!(tanh.contains(" ± "), "two seeds: {tanh}");
    assert!(stdout.contains("index.html"));

    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    for svg in [
        "loss.svg",
        "accuracy.svg",
        "activation-identity.svg",
        "activation-tanh.svg",
        "dead-layer-1.svg",
        "saturated-layer-1.svg",
        "gradient-ratio.svg",
    ] {
        let text = std::fs::read_to_string(report.join(svg)).unwrap();
        assert!(text.starts_with("<svg"), "{svg}");
        assert!(page.contains(&format!("src=\"{svg}\"")), "{svg} on the page");
        assert!(markdown.contains(&format!("({svg})")), "{svg} in the Markdown");
    }
    assert!(std::fs::read_to_string(report.join("loss.svg"))
        .unwrap()
        .contains("tanh"));

    // A second report replaces the first; a directory with someone else's page is refused.
    actlab()
        .args([
            "compare",
            "--data",
            "xor",
            "--hidden",
            "4",
            "--activations",
            "relu",
            "--epochs",
            "2",
        ])
        .args(["--report", report_arg])
        .assert()
        .success();
    let other = dir.path().join("site");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("index.html"), "<p>mine</p>").unwrap();
    fails_with(
        &[
            "compare",
            "--data",
            "xor",
            "--epochs",
            "1",
            "--report",
            other.to_str().unwrap(),
        ],
        "index.html exists there",
    );
    assert_eq!(
        std::fs::read_to_string(other.join("index.html")).unwrap(),
        "<p>mine</p>"
    );
}

#[test]
fn compare_errors_are_one_line() {
    fails_with(&["compare", "--activations", "relu,swishy"], "swishy");
    fails_with(
        &["compare", "--activations", "relu,softmax", "--data", "xor"],
        "softmax",
    );
    fails_with(&["compare", "--activations", "relu,relu", "--data", "xor"], "twice");
    fails_with(&["compare", "--seeds", "0"], "--seeds");
    fails_with(&["compare", "--target-accuracy", "1.5"], "--target-accuracy");
    fails_with(&["compare", "--data", "nonexistent.csv"], "nonexistent.csv");
}

#[test]
fn plot_draws_functions_and_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("f.svg");
    actlab()
        .args([
            "plot",
            "sigmoid",
            "tanh",
            "leaky_relu:0.2",
            "--derivative",
            "--range",
            "-3,3",
            "--out",
        ])
        .arg(&svg)
        .assert()
        .success()
        .stdout(predicate::str::contains("f.svg"));
    let text = std::fs::read_to_string(&svg).unwrap();
    for name in ["sigmoid", "sigmoid′", "tanh′", "leaky_relu:0.2"] {
        assert!(text.contains(&format!(">\n{name}\n</text>")), "{name}");
    }
    // The x axis spans the range.
    assert!(text.contains(">\n-3\n</text>") && text.contains(">\n3\n</text>"));

    let png = dir.path().join("f.png");
    actlab()
        .args(["plot", "gelu,silu", "--out"])
        .arg(&png)
        .assert()
        .success();
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));

    actlab()
        .args(["plot", "relu", "--out", "-"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("<svg").and(predicate::str::contains("relu")));
}

#[test]
fn plot_errors_are_one_line() {
    fails_with(&["plot", "tanh", "--range", "5,-5"], "--range");
    fails_with(&["plot", "tanh", "--range", "a,b"], "--range");
    fails_with(&["plot", "tanh", "--range", "3"], "--range");
    fails_with(&["plot", "tanhh"], "tanhh");
    fails_with(&["plot", "softmax", "--out", "-"], "softmax");
    fails_with(&["plot", "tanh", "--out", "x.pdf"], ".svg or .png");
    fails_with(&["plot"], "NAMES");
}
