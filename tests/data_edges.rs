//! The command line's data loading at its edges: test files with their columns in another
//! order, missing or extra; `--task` for built-in sets; damaged IDX directories.

mod common;

use common::{actlab, fails_with, last_json_line, write};
use serde_json::Value;

/// `rows` rows of `y = 3a - 2b + 0.5` (and a class: whether `y` exceeds 1), columns in `order`.
fn table(order: &[&str], rows: std::ops::Range<usize>, class: bool) -> String {
    let mut text = order.join(",") + "\n";
    for i in rows {
        let (a, b) = ((i % 17) as f32 / 4.0, (i % 11) as f32 / 3.0);
        let y = 3.0 * a - 2.0 * b + 0.5;
        let cells: Vec<String> = order
            .iter()
            .map(|&c| match c {
                "a" => a.to_string(),
                "b" => b.to_string(),
                "y" if class => if y > 1.0 { "big" } else { "small" }.to_string(),
                "y" => y.to_string(),
                _ => "9".to_string(),
            })
            .collect();
        text += &(cells.join(",") + "\n");
    }
    text
}

/// The `train --json` report for training on `train` and testing on `test`, with its stderr.
fn train_and_test(train: &str, test: &str) -> (Value, String) {
    let output = actlab()
        .args([
            "train", "--data", train, "--test", test, "--epochs", "60", "--hidden", "32", "--lr", "0.01", "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    (last_json_line(&output.stdout), stderr)
}

#[test]
fn test_files_with_reordered_columns_score_as_the_original_order() {
    let dir = tempfile::tempdir().unwrap();
    for (class, score) in [(false, "test_r2"), (true, "test_accuracy")] {
        let train = write(dir.path(), "train.csv", &table(&["a", "b", "y"], 0..200, class));
        let same = write(dir.path(), "same.csv", &table(&["a", "b", "y"], 200..260, class));
        let moved = write(dir.path(), "moved.csv", &table(&["y", "b", "a"], 200..260, class));
        let (original, _) = train_and_test(&train, &same);
        let (reordered, _) = train_and_test(&train, &moved);
        assert_eq!(original[score], reordered[score], "{score}");
        assert_eq!(original["test_loss"], reordered["test_loss"]);
        // and the model learned something, so that a mix-up of columns would show
        let value = original[score].as_f64().unwrap();
        assert!(value > 0.8, "{score} {value}");
    }
}

#[test]
fn test_files_missing_columns_name_each_and_extra_ones_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let train = write(dir.path(), "train.csv", &table(&["a", "b", "y"], 0..50, false));
    let missing = write(dir.path(), "missing.csv", &table(&["b", "z"], 0..10, false));
    fails_with(
        &["train", "--data", &train, "--test", &missing, "--epochs", "1"],
        "missing.csv:1: missing columns 'a', 'y'; the file has 'b', 'z'",
    );
    let extra = write(dir.path(), "extra.csv", &table(&["id", "b", "y", "a"], 0..10, false));
    let (report, stderr) = train_and_test(&train, &extra);
    assert_eq!(report["n_test"], 10);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("note: ") && stderr.contains("extra.csv") && stderr.contains("'id'"),
        "{stderr}"
    );
}

#[test]
fn task_regression_applies_to_built_in_sets() {
    let output = actlab()
        .args([
            "train",
            "--data",
            "iris",
            "--task",
            "regression",
            "--epochs",
            "30",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = last_json_line(&output.stdout);
    assert_eq!(report["task"], "regression");
    assert_eq!(report["n_outputs"], 1);
    // the species numbers 0, 1, 2 follow the petal sizes closely
    assert!(report["test_r2"].as_f64().unwrap() > 0.8, "{report}");
}

#[test]
fn a_split_without_test_rows_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let two = write(dir.path(), "two.csv", "a,y\n1,x\n2,z\n");
    fails_with(
        &["train", "--data", &two, "--epochs", "1"],
        "two.csv: 2 rows leave no test samples",
    );
}

#[test]
fn empty_and_oversized_idx_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let idx = |n_dims: u8, dims: &[u32], body: usize| {
        let mut bytes = vec![0, 0, 8, n_dims];
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.resize(bytes.len() + body, 1);
        bytes
    };
    let files = [
        ("train-images-idx3-ubyte", idx(3, &[0, 28, 28], 0)),
        ("train-labels-idx1-ubyte", idx(1, &[0], 0)),
        ("t10k-images-idx3-ubyte", idx(3, &[1, 2, 2], 4)),
        ("t10k-labels-idx1-ubyte", idx(1, &[1], 1)),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let path = dir.path().to_str().unwrap();
    fails_with(
        &["train", "--data", path, "--epochs", "1"],
        "train-images-idx3-ubyte: the IDX header promises no images (0×28×28)",
    );
    // A header promising 2^40 pixels: refused before anything is read.
    std::fs::write(dir.path().join(files[0].0), idx(3, &[1 << 14, 1 << 13, 1 << 13], 16)).unwrap();
    fails_with(
        &["train", "--data", path, "--epochs", "1"],
        "train-images-idx3-ubyte (16384×8192×8192 bytes) needs about 5.0 TiB",
    );
}

/// The only test of this file that calls the library: the memory limit it sets is the
/// process's, and the others run the binary.
#[test]
fn csv_reading_stops_at_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = write(dir.path(), "big.csv", &table(&["a", "b", "c", "y"], 0..20_000, false));
    actlab::memory::set_limit(64 << 10);
    let result = actlab::data::read_csv(std::path::Path::new(&big), &Default::default());
    actlab::memory::set_limit(0);
    let err = result.unwrap_err();
    assert!(matches!(err, actlab::Error::Memory { .. }), "{err}");
    assert!(
        err.to_string().contains("the data of ") && err.to_string().contains("big.csv"),
        "{err}"
    );
    assert!(actlab::data::read_csv(std::path::Path::new(&big), &Default::default()).is_ok());

    // The estimate counts the target's text too: two features and a 200-character label per
    // row, checked first after 4096 rows (the values held, as much again for their growth, and
    // each label with its String and line number).
    let label = "x".repeat(200);
    let mut text = String::from("a,b,y\n");
    for i in 0..10_000 {
        text += &format!("{},{},{label}{}\n", i % 7, i % 5, i % 2);
    }
    let wordy = write(dir.path(), "wordy.csv", &text);
    let per_row = 2 * 2 * 4 + 201 + std::mem::size_of::<String>() + std::mem::size_of::<usize>();
    let needed = 4096 * per_row as u64;
    actlab::memory::set_limit(needed - 1);
    let result = actlab::data::read_csv(std::path::Path::new(&wordy), &Default::default());
    actlab::memory::set_limit(needed);
    let within = actlab::data::read_csv(std::path::Path::new(&wordy), &Default::default());
    actlab::memory::set_limit(0);
    let err = result.unwrap_err().to_string();
    let expected = format!(
        "the data of {wordy} needs about {}",
        actlab::memory::format_size(needed)
    );
    assert!(err.starts_with(&expected), "{err}\nexpected: {expected}");
    // At exactly the estimate the first check passes; the second (8192 rows) is over it.
    let err = within.unwrap_err().to_string();
    let later = actlab::memory::format_size(2 * needed);
    assert!(err.contains(&format!("needs about {later}")), "{err}");
}
