//! End-to-end tests of `actlab experiments` and `actlab advise`.

mod common;

use common::{actlab, fails_with, write};

use predicates::prelude::*;
use serde_json::Value;

/// Runs `actlab` with `args`, expects success and one JSON object on stdout.
fn json(args: &[&str]) -> Value {
    let output = actlab().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn experiments_json_has_one_entry_per_selected_experiment() {
    let report = json(&["experiments", "--only", "7", "--json"]);
    let list = report["experiments"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_eq!(e["id"], 7);
    assert!(e["claim"].as_str().unwrap().contains("Softmax"));
    assert!(e["holds"].is_boolean());
    assert!(e["seconds"].as_f64().unwrap() >= 0.0);
    let measurements = e["measurements"].as_object().unwrap();
    assert!(measurements.values().all(Value::is_number));
    let sum_error = measurements["random_logits_max_sum_error"].as_f64().unwrap();
    assert!(sum_error <= 1e-6, "{sum_error}");
}

#[test]
fn experiments_report_names_claims_and_verdicts() {
    actlab()
        .args(["experiments", "--only", "9,1,9", "--quick"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1. linear_collapse"))
        .stdout(predicate::str::contains("9. init_matches_activation"))
        .stdout(predicate::str::contains("relu_he_layer30_variance"))
        .stdout(predicate::str::is_match("[✓✗]").unwrap())
        .stdout(predicate::str::is_match(r"\d of 2 claims held").unwrap());
}

#[test]
fn experiments_report_writes_the_page_the_markdown_and_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let report_arg = report.to_str().unwrap();
    // With --json, stdout is still one JSON object.
    let json = json(&[
        "experiments",
        "--only",
        "2,9",
        "--quick",
        "--json",
        "--report",
        report_arg,
    ]);
    assert_eq!(json["experiments"].as_array().unwrap().len(), 2);
    let curve = &json["experiments"][1]["series"][0];
    assert_eq!(curve["x"], "layer");
    assert_eq!(curve["label"], "relu he");
    assert_eq!(curve["points"].as_array().unwrap().len(), 30);

    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    let markdown = std::fs::read_to_string(report.join("report.md")).unwrap();
    for text in [&page, &markdown] {
        assert!(text.contains("2. Sigmoid saturates and kills gradients: "));
        assert!(text.contains("9. Initialisation must match the activation: "));
        assert!(text.contains("relu_he_variance_ratio_30_to_1"));
        assert!(!text.contains("3. Sigmoid is not zero-centred"), "not selected");
    }
    let mut svgs: Vec<String> = std::fs::read_dir(&report)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    svgs.sort();
    assert_eq!(
        svgs,
        [
            "experiment-2-first-last-layer-gradient-norm-by-epoch.svg",
            "experiment-2-functions.svg",
            "experiment-2-gradient-norm-at-init-by-layer.svg",
            "experiment-9-output-variance-at-init-by-layer.svg",
        ]
    );
    for svg in &svgs {
        assert!(page.contains(&format!("src=\"{svg}\"")), "{svg} on the page");
        assert!(markdown.contains(&format!("({svg})")), "{svg} in the Markdown");
    }
    // Each chart names its series in the legend.
    let read = |name: &str| std::fs::read_to_string(report.join(name)).unwrap();
    let gradients = read(&svgs[2]);
    assert!(gradients.starts_with("<svg") && gradients.contains("Gradient norm at init by layer"));
    assert!(gradients.contains(">\nsigmoid\n<") && gradients.contains(">\nrelu\n<"));
    let variances = read(&svgs[3]);
    for label in ["relu he", "relu glorot", "relu lecun", "tanh glorot", "selu lecun"] {
        assert!(variances.contains(&format!(">\n{label}\n<")), "{label}");
    }

    // A directory holding someone else's page is refused before any experiment runs.
    let other = dir.path().join("site");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("report.md"), "mine").unwrap();
    fails_with(
        &["experiments", "--only", "5", "--report", other.to_str().unwrap()],
        "report.md exists there",
    );
    assert_eq!(std::fs::read_to_string(other.join("report.md")).unwrap(), "mine");
}

#[test]
fn experiments_reject_unknown_ids() {
    fails_with(&["experiments", "--only", "10"], "--only");
    fails_with(&["experiments", "--only", "two"], "--only");
}

#[test]
fn advise_recommends_softmax_for_iris() {
    let a = json(&["advise", "--data", "iris", "--json"]);
    assert_eq!(a["target"]["kind"], "multi_class");
    assert_eq!(a["output"]["name"], "softmax");
    assert_eq!(a["loss"]["name"], "cross_entropy");
    assert!(!a["hidden"]["name"].as_str().unwrap().is_empty());
    assert_eq!(a["warnings"].as_array().unwrap().len(), 0);
    actlab()
        .args(["advise", "--data", "iris"])
        .assert()
        .success()
        .stdout(predicate::str::contains("output   softmax"))
        .stdout(predicate::str::contains("actlab train --data iris --output softmax"));
}

#[test]
fn advise_on_regression_csv_and_warning_for_a_bounded_output() {
    let dir = tempfile::tempdir().unwrap();
    let above = write(dir.path(), "above.csv", "x,price\n1,2.5\n2,3.5\n3,10.25\n4,7\n");
    let a = json(&["advise", "--data", &above, "--target", "price", "--json"]);
    assert_eq!(a["target"]["kind"], "non_negative");
    assert_eq!(a["target"]["max"], 10.25);
    assert_eq!(a["output"]["name"], "identity");
    assert_eq!(a["loss"]["name"], "mse");

    let a = json(&["advise", "--data", &above, "--output", "sigmoid", "--json"]);
    let warning = a["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("[2.5, 10.25]") && warning.contains("sigmoid"),
        "{warning}"
    );
    actlab()
        .args(["advise", "--data", &above, "--output", "softmax"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "warning  softmax cannot be a regression output",
        ));

    let unit = write(dir.path(), "unit.csv", "x,share\n1,0.25\n2,0.5\n3,0.75\n4,0.125\n");
    let a = json(&["advise", "--data", &unit, "--json"]);
    assert_eq!(a["target"]["kind"], "unit_interval");
    assert_eq!(a["output"]["name"], "sigmoid");
    assert!(a["train_flags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("--no-scale-target")));
}

#[test]
fn advise_errors_are_one_line() {
    fails_with(&["advise", "--data", "no-such-set"], "no-such-set");
    fails_with(&["advise", "--data", "iris", "--output", "sigmoidd"], "--output");
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "d.csv", "x,y\n1,2\n2,3\n");
    fails_with(&["advise", "--data", &csv, "--target", "z"], "no target column 'z'");
}

/// advise reads a raw table as train does: string and missing feature cells are fine.
#[test]
fn advise_reads_raw_tables() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "raw.csv",
        "city;rooms;price\nParis;3;250.5\nLyon;;120\nNA;2;99.5\nParis;4;310\n",
    );
    let a = json(&["advise", "--data", &csv, "--target", "price", "--json"]);
    assert_eq!(a["target"]["kind"], "non_negative");
    assert_eq!(a["target"]["max"], 310.0);
    assert_eq!(a["output"]["name"], "identity");
}
