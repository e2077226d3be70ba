//! The accuracy figures the README quotes, each measured by running the CLI command it shows.
//! Slow: ignored by default. Run them all with
//!
//! ```text
//! cargo test --release --test quality -- --ignored --nocapture --test-threads 1
//! ```
//!
//! `fashion_mnist_*` needs the Debian package `dataset-fashion-mnist`.

use assert_cmd::Command;
use serde_json::Value;

/// Runs `actlab train <args> --json` and returns its report.
fn train(args: &str) -> Value {
    let mut cmd = Command::cargo_bin("actlab").unwrap();
    let output = cmd
        .arg("train")
        .args(args.split_whitespace())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "actlab train {args}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn test_accuracy(args: &str) -> f64 {
    let report = train(args);
    let accuracy = report["test_accuracy"].as_f64().unwrap();
    println!(
        "actlab train {args}: test accuracy {accuracy:.4} in {:.1} s",
        report["seconds"].as_f64().unwrap()
    );
    accuracy
}

fn mean_over_seeds(args: &str) -> f64 {
    let runs: Vec<f64> = (0..3)
        .map(|seed| test_accuracy(&format!("{args} --seed {seed}")))
        .collect();
    let mean = runs.iter().sum::<f64>() / runs.len() as f64;
    println!("mean over seeds 0, 1, 2: {mean:.4}");
    mean
}

#[test]
#[ignore = "slow accuracy run"]
fn iris_defaults() {
    assert!(test_accuracy("--data iris") >= 0.93);
}

#[test]
#[ignore = "slow accuracy run"]
fn digits_defaults() {
    assert!(test_accuracy("--data digits") >= 0.97);
}

const MNIST1D_MLP: &str =
    "--data mnist1d --hidden 100,100 --activation relu --optimizer adam --lr 0.01 --batch-size 100 --epochs 200";

#[test]
#[ignore = "slow accuracy run"]
fn mnist1d_benchmark_mlp() {
    assert!(mean_over_seeds(MNIST1D_MLP) >= 0.62);
}

#[test]
#[ignore = "slow accuracy run"]
fn mnist1d_benchmark_mlp_residual() {
    assert!(mean_over_seeds(&format!("{MNIST1D_MLP} --residual")) >= 0.65);
}

#[test]
#[ignore = "slow accuracy run; needs dataset-fashion-mnist"]
fn fashion_mnist_784_256_128_10() {
    assert!(
        test_accuracy(
            "--data fashion-mnist --hidden 256,128 --activation relu --optimizer adam --epochs 10 --schedule cosine"
        ) >= 0.88
    );
}

#[test]
#[ignore = "slow accuracy run"]
fn xor_needs_a_nonlinearity() {
    let xor = "--data xor --noise 0 --hidden 8 --epochs 200 --lr 0.01";
    assert!(test_accuracy(&format!("{xor} --activation identity")) <= 0.75);
    assert_eq!(test_accuracy(&format!("{xor} --activation tanh")), 1.0);
    assert_eq!(test_accuracy(&format!("{xor} --activation relu")), 1.0);
}
