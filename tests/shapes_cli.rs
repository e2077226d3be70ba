//! Training, validating, testing and predicting on data of every size from 1 to 70 rows, with
//! binary and regression targets and batches of 1, 7 and 32: matrix products one row or column
//! wide once looped forever. Every run must end in time, with finite numbers or one error line.

mod common;

use std::time::Duration;

use common::{actlab, last_json_line, write};

/// Far more than any of these runs needs (tens of milliseconds), far less than a hang.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Classes 0 and 1 (1 on rows 1, 4, 7, …): a sigmoid output.
    Binary,
    /// Real values: an identity output.
    Regression,
}

/// `rows` rows of two features and a target `y`, starting at row `first` of the pattern.
fn csv(kind: Kind, rows: usize, first: usize) -> String {
    let mut text = String::from("a,b,y\n");
    for i in first..first + rows {
        let (a, b) = ((i * 7 % 13) as f32 / 13.0, (i * 5 % 11) as f32 / 11.0);
        let y = match kind {
            Kind::Binary => u8::from(i % 3 == 1).to_string(),
            Kind::Regression => format!("{:.3}", a - 2.0 * b + 0.1 * i as f32),
        };
        text += &format!("{a},{b},{y}\n");
    }
    text
}

/// Runs `actlab args`: its stdout when it succeeds, else its one-line `error: …`. Fails the
/// test on a hang, a panic, or an error that is not one line.
fn run(args: &[&str]) -> Result<String, String> {
    let output = actlab().args(args).timeout(TIMEOUT).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.code().is_some(),
        "{args:?} did not end within {TIMEOUT:?}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{args:?}: {stderr}"
    );
    if output.status.success() {
        return Ok(String::from_utf8(output.stdout).unwrap());
    }
    assert_eq!(stderr.lines().count(), 1, "{args:?}: expected one line, got:\n{stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    Err(stderr)
}

/// The scores a `train --json` report must hold, each a finite number (JSON has no NaN: a
/// non-finite score would be `null`).
fn assert_finite_scores(stdout: &str, kind: Kind, context: &str) {
    let report = last_json_line(stdout.as_bytes());
    let scores: &[&str] = match kind {
        Kind::Binary => &["train_loss", "test_loss", "train_accuracy", "test_accuracy"],
        Kind::Regression => &[
            "train_loss",
            "test_loss",
            "train_r2",
            "test_r2",
            "train_rmse",
            "test_rmse",
        ],
    };
    for key in scores {
        let value = &report[key];
        // R² is undefined, and left out, for a part of fewer than two rows (`n_train` counts
        // the rows left after validation, at most those scored).
        let rows = &report[if key.starts_with("train") { "n_train" } else { "n_test" }];
        if key.ends_with("r2") && value.is_null() {
            assert!(rows.as_u64().unwrap() < 2, "{context}: {key} = {value} on {rows} rows");
            continue;
        }
        assert!(value.as_f64().is_some_and(f64::is_finite), "{context}: {key} = {value}");
    }
}

/// Why training on `rows` rows must fail, or `None` when it must succeed. Without a test file
/// the 80/20 split holds out data, and with one the run holds out a validation share: either
/// way each class keeps its only row for training.
fn expected_error(kind: Kind, rows: usize, with_test_file: bool) -> Option<&'static str> {
    match (kind, rows) {
        (Kind::Binary, 1 | 2) | (Kind::Regression, 1) if !with_test_file => Some("no test samples in the 80/20 split"),
        (Kind::Binary, 1) => Some("the target has 1 class"),
        (Kind::Binary, 2) | (Kind::Regression, 1) => Some("samples for validation"),
        _ => None,
    }
}

/// The task, given (one row of values would otherwise be taken for one class).
fn task(kind: Kind) -> &'static str {
    match kind {
        Kind::Binary => "classification",
        Kind::Regression => "regression",
    }
}

fn train_every_size(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    for rows in 1..=70 {
        let data = write(dir.path(), &format!("{rows}.csv"), &csv(kind, rows, 0));
        for batch in ["1", "7", "32"] {
            let args = [
                "train",
                "--data",
                &data,
                "--task",
                task(kind),
                "--hidden",
                "3",
                "--epochs",
                "2",
                "--batch-size",
                batch,
                "--json",
            ];
            let context = format!("{kind:?}, {rows} rows, batch {batch}");
            match (run(&args), expected_error(kind, rows, false)) {
                (Ok(stdout), None) => assert_finite_scores(&stdout, kind, &context),
                (Err(error), Some(why)) => assert!(error.contains(why), "{context}: {error}"),
                (outcome, expected) => panic!("{context}: expected {expected:?}, got {outcome:?}"),
            }
        }
    }
}

/// Trains on every size with a one-row test file and as little validation as there can be
/// (one row, once there are rows to spare), then predicts one row.
fn validate_test_and_predict_one_row(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let test = write(dir.path(), "test.csv", &csv(kind, 1, 100));
    // One row to predict on, without the target column.
    let one_row = write(dir.path(), "predict.csv", "b,a\n0.25,0.5\n");
    let model = dir.path().join("model.safetensors");
    let model = model.to_str().unwrap();
    for rows in 1..=70 {
        let data = write(dir.path(), &format!("{rows}.csv"), &csv(kind, rows, 0));
        let args = [
            "train",
            "--data",
            &data,
            "--task",
            task(kind),
            "--test",
            &test,
            "--validation",
            "0.01",
            "--hidden",
            "2",
            "--epochs",
            "3",
            "--batch-size",
            "7",
            "--save",
            model,
            "--json",
        ];
        let context = format!("{kind:?}, {rows} rows, one-row test and validation");
        match (run(&args), expected_error(kind, rows, true)) {
            (Ok(stdout), None) => {
                assert_finite_scores(&stdout, kind, &context);
                assert_eq!(last_json_line(stdout.as_bytes())["n_test"], 1, "{context}");
            }
            (Err(error), Some(why)) => {
                assert!(error.contains(why), "{context}: {error}");
                continue;
            }
            (outcome, expected) => panic!("{context}: expected {expected:?}, got {outcome:?}"),
        }
        let predicted = run(&["predict", "--model", model, "--data", &one_row]).unwrap();
        let lines: Vec<&str> = predicted.lines().collect();
        assert_eq!(lines.len(), 2, "{context}: {predicted}");
        assert_eq!(lines[0], "y", "{context}");
        match kind {
            Kind::Binary => {
                assert!(["0", "1"].contains(&lines[1]), "{context}: {predicted}");
                let proba = run(&["predict", "--model", model, "--data", &one_row, "--proba"]).unwrap();
                let p: Vec<f64> = proba
                    .lines()
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .map(|p| p.parse().unwrap())
                    .collect();
                assert!(p.len() == 2 && (p[0] + p[1] - 1.0).abs() < 1e-6, "{context}: {proba}");
            }
            Kind::Regression => {
                let value: f64 = lines[1].parse().unwrap();
                assert!(value.is_finite(), "{context}: {predicted}");
            }
        }
    }
}

#[test]
fn binary_data_of_every_size_and_batch_trains_or_fails_cleanly() {
    train_every_size(Kind::Binary);
}

#[test]
fn regression_data_of_every_size_and_batch_trains_or_fails_cleanly() {
    train_every_size(Kind::Regression);
}

#[test]
fn binary_one_row_validation_test_and_prediction() {
    validate_test_and_predict_one_row(Kind::Binary);
}

#[test]
fn regression_one_row_validation_test_and_prediction() {
    validate_test_and_predict_one_row(Kind::Regression);
}
