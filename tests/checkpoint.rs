//! `actlab train --checkpoint/--resume` end to end: a run killed with SIGKILL between two
//! checkpoints and resumed ends with the weights of an uninterrupted run, bit for bit; damaged
//! checkpoints, other flags or other data are one error line; and every optimizer's divergence
//! is caught.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{actlab, last_json_line};
use serde_json::Value;

/// The longest any command of these tests may take.
const LIMIT: Duration = Duration::from_secs(120);

/// `base` followed by `extra`.
fn concat<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    [base, extra].concat()
}

/// Runs `actlab args` to its end (at most [`LIMIT`]).
fn run(args: &[&str]) -> Output {
    actlab().args(args).timeout(LIMIT).output().unwrap()
}

/// Runs `actlab args` and returns its JSON report, failing on an error.
fn succeeds(args: &[&str]) -> Value {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    last_json_line(&output.stdout)
}

/// Runs `actlab args`, expects it to fail with one line `error: …` containing every needle.
fn fails_with(args: &[&str], needles: &[&str]) {
    let output = run(args);
    assert!(!output.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: expected one line, got:\n{stderr}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "{args:?}: expected '{needle}' in: {stderr}");
    }
}

/// Starts `actlab args --checkpoint checkpoint --checkpoint-every every`, waits for the first
/// checkpoint, kills the process with SIGKILL and returns the epoch the checkpoint holds.
fn kill_after_first_checkpoint(args: &[&str], checkpoint: &Path, every: usize) -> usize {
    let mut child = Command::new(env!("CARGO_BIN_EXE_actlab"))
        .args(args)
        .arg("--checkpoint")
        .arg(checkpoint)
        .args(["--checkpoint-every", &every.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !checkpoint.exists() {
        if start.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("no checkpoint after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "the run ended before it was killed: {status}");
    actlab::checkpoint::load(checkpoint).unwrap().state.epoch
}

/// The per-epoch training and validation losses of a JSON report.
fn losses(report: &Value) -> Vec<(Value, Value)> {
    report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["train_loss"].clone(), r["val_loss"].clone()))
        .collect()
}

/// Trains `args` uninterrupted, then killed after its first checkpoint and resumed, and checks
/// that both save the same model file, byte for byte, after the same history. Returns the
/// uninterrupted run's report.
fn resumed_run_ends_like_an_uninterrupted_one(args: &[&str], every: usize) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (whole, resumed, checkpoint) = (
        path("whole.safetensors"),
        path("resumed.safetensors"),
        path("c.safetensors"),
    );

    let report = succeeds(&concat(args, &["--save", &whole, "--json"]));
    let epochs = report["epochs"].as_u64().unwrap() as usize;
    let killed_at = kill_after_first_checkpoint(args, Path::new(&checkpoint), every);
    assert!(
        killed_at == every && killed_at < epochs,
        "killed at {killed_at} of {epochs}"
    );
    // The resumed run goes on writing checkpoints to the same file.
    let resumed_report = succeeds(&concat(
        args,
        &[
            "--resume",
            &checkpoint,
            "--checkpoint",
            &checkpoint,
            "--save",
            &resumed,
            "--json",
        ],
    ));
    assert_eq!(
        std::fs::read(&resumed).unwrap(),
        std::fs::read(&whole).unwrap(),
        "{args:?}"
    );
    assert_eq!(losses(&resumed_report), losses(&report));
    for key in ["epochs", "steps", "best_epoch", "test_loss"] {
        assert_eq!(resumed_report[key], report[key], "{key}");
    }
    // The last checkpoint is of the finished run: resuming it trains nothing more.
    assert_eq!(
        actlab::checkpoint::load(Path::new(&checkpoint)).unwrap().state.epoch,
        epochs
    );
    let again = path("again.safetensors");
    succeeds(&concat(args, &["--resume", &checkpoint, "--save", &again, "--json"]));
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&whole).unwrap());
    report
}

#[test]
fn adam_resumed_after_a_kill_ends_with_the_uninterrupted_weights() {
    let args = [
        "train", "--data", "mnist1d", "--hidden", "64,64", "--epochs", "200", "--lr", "0.003",
    ];
    resumed_run_ends_like_an_uninterrupted_one(&args, 3);
}

#[test]
fn momentum_with_a_cosine_schedule_resumed_after_a_kill_ends_with_the_uninterrupted_weights() {
    let args = [
        "train",
        "--data",
        "mnist1d",
        "--hidden",
        "64,64",
        "--epochs",
        "200",
        "--optimizer",
        "momentum",
        "--lr",
        "0.02",
        "--weight-decay",
        "0.0001",
        "--schedule",
        "cosine",
    ];
    resumed_run_ends_like_an_uninterrupted_one(&args, 4);
}

#[test]
fn early_stopping_with_a_plateau_schedule_resumed_after_a_kill_ends_with_the_uninterrupted_weights() {
    let args = [
        "train",
        "--data",
        "mnist1d",
        "--hidden",
        "128,128",
        "--epochs",
        "300",
        "--lr",
        "0.003",
        "--schedule",
        "plateau:2:0.5",
        "--patience",
        "25",
    ];
    let report = resumed_run_ends_like_an_uninterrupted_one(&args, 5);
    // The early stopping carried across the kill: it stopped, and kept an epoch after the kill.
    let (epochs, best) = (
        report["epochs"].as_u64().unwrap(),
        report["best_epoch"].as_u64().unwrap(),
    );
    assert!(
        epochs < 300 && best > 5 && epochs == best + 25,
        "{epochs} epochs, best {best}"
    );
    let rates: Vec<f64> = report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["learning_rate"].as_f64().unwrap())
        .collect();
    assert!(
        rates.last() < rates.first(),
        "the plateau schedule never lowered the rate"
    );
}

#[test]
fn damaged_or_foreign_checkpoints_and_other_flags_or_data_are_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let mut csv = String::from("a,b,label\n");
    for i in 0..120 {
        csv += &format!("{},{},{}\n", i % 7, i % 5, ["x", "y", "z"][i % 3]);
    }
    let data = common::write(dir.path(), "data.csv", &csv);
    let checkpoint = path("c.safetensors");
    let model = path("m.safetensors");
    let args = ["train", "--data", &data, "--epochs", "4", "--hidden", "8"];
    succeeds(&concat(
        &args,
        &["--checkpoint", &checkpoint, "--save", &model, "--json"],
    ));

    let bytes = std::fs::read(&checkpoint).unwrap();
    let truncated = path("truncated.safetensors");
    for len in [0, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&truncated, &bytes[..len]).unwrap();
        fails_with(
            &concat(&args, &["--resume", &truncated]),
            &[&truncated, "truncated or corrupted"],
        );
    }
    let garbage = path("garbage.safetensors");
    std::fs::write(&garbage, "this is not a checkpoint").unwrap();
    fails_with(
        &concat(&args, &["--resume", &garbage]),
        &[&garbage, "truncated or corrupted"],
    );
    fails_with(
        &concat(&args, &["--resume", &model]),
        &[&model, "not written by actlab train --checkpoint"],
    );
    fails_with(&concat(&args, &["--resume", &path("missing")]), &["missing"]);

    fails_with(
        &concat(&args, &["--resume", &checkpoint, "--lr", "0.002"]),
        &["cannot resume", "--lr = 0.001, this run has 0.002"],
    );
    fails_with(
        &concat(&args, &["--resume", &checkpoint, "--optimizer", "sgd"]),
        &["--optimizer = \"adam\", this run has \"sgd\""],
    );
    fails_with(
        &[
            "train",
            "--data",
            &data,
            "--epochs",
            "5",
            "--hidden",
            "8",
            "--resume",
            &checkpoint,
        ],
        &["--epochs = 4, this run has 5"],
    );
    std::fs::write(&data, csv.replacen("0,0,x", "0,0,y", 1)).unwrap();
    fails_with(
        &concat(&args, &["--resume", &checkpoint]),
        &["other training data", "96 samples of 2 features"],
    );
    fails_with(
        &concat(&args, &["--checkpoint", &data]),
        &["--checkpoint", "is an input of this command"],
    );
    fails_with(&concat(&args, &["--checkpoint-every", "2"]), &["--checkpoint"]);
}

#[test]
fn every_optimizer_at_an_absurd_learning_rate_fails_with_one_line_naming_it() {
    for optimizer in ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"] {
        fails_with(
            &[
                "train",
                "--data",
                "iris",
                "--optimizer",
                optimizer,
                "--lr",
                "1e6",
                "--epochs",
                "20",
            ],
            &[
                "training diverged at epoch",
                &format!("with {optimizer},"),
                "try a lower learning rate (now 1000000)",
            ],
        );
    }
}
