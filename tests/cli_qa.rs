//! What a new user of the command line met: outputs that replaced files of another kind without
//! a word, a class seen once passing unnoticed, counts of one in the plural, flags without their
//! defaults in `--help`.

mod common;

use std::path::Path;

use common::{actlab, write};

/// A two-class table of `rows` rows (`x`, `y`, `label`), the label `typo` on row `typo_row`.
fn table(rows: usize, typo_row: Option<usize>) -> String {
    let mut text = String::from("x,y,label\n");
    for i in 0..rows {
        let (x, y) = ((i % 7) as f32 * 0.3 - 1.0, (i % 5) as f32 * 0.4 - 0.8);
        let label = if Some(i) == typo_row {
            "typo"
        } else if x + y > 0.0 {
            "yes"
        } else {
            "no"
        };
        text += &format!("{x},{y},{label}\n");
    }
    text
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `args`, expects exit status 1 and exactly the line `error: {line}` on stderr, nothing on
/// stdout.
fn refused(args: &[&str], line: &str) {
    let output = actlab().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{args:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("error: {line}\n"),
        "{args:?}"
    );
    assert!(output.stdout.is_empty(), "{args:?}");
}

#[test]
fn save_and_checkpoint_never_replace_a_file_that_is_not_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "data.csv", &table(40, None));
    let other = write(dir.path(), "other.csv", "id,value\n1,2\n");
    for flag in ["--save", "--checkpoint"] {
        refused(
            &["train", "--data", &data, "--epochs", "1", flag, &other],
            &format!(
                "{flag} {other}: exists and is a text file, not a model file; refusing to replace it \
                 (remove it first, or choose another name)"
            ),
        );
    }
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "id,value\n1,2\n");

    // A model is replaced, and the summary says so; a new file is just saved.
    let model = dir.path().join("m.safetensors");
    let saved = |json: bool| {
        let mut command = actlab();
        command.args(["train", "--data", &data, "--epochs", "1", "--save", s(&model)]);
        if json {
            command.arg("--json");
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (first, _) = saved(false);
    assert!(first.ends_with(&format!("saved    {}\n", s(&model))), "{first}");
    let (second, _) = saved(false);
    assert!(
        second.ends_with(&format!("saved    {} (replaced the existing file)\n", s(&model))),
        "{second}"
    );
    let (json, note) = saved(true);
    assert_eq!(json.lines().count(), 1, "{json}");
    assert_eq!(
        note,
        format!("note: --save {}: replaced the existing file\n", s(&model))
    );
}

#[test]
fn export_and_predict_replace_only_files_of_their_own_kind() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "data.csv", &table(40, None));
    let model = dir.path().join("m.safetensors");
    let model2 = dir.path().join("m2.safetensors");
    for m in [&model, &model2] {
        actlab()
            .args(["train", "--data", &data, "--epochs", "1", "--save", s(m)])
            .assert()
            .success();
    }
    let model2_bytes = std::fs::read(&model2).unwrap();

    // export --onnx onto the data file (not an input of export) is refused, the file untouched.
    refused(
        &["export", "--model", s(&model), "--onnx", &data],
        &format!(
            "--onnx {data}: exists and is a text file, not an ONNX file; refusing to replace it \
             (remove it first, or choose another name)"
        ),
    );
    assert_eq!(std::fs::read_to_string(&data).unwrap(), table(40, None));
    // ... and onto another model.
    refused(
        &["export", "--model", s(&model), "--onnx", s(&model2)],
        &format!(
            "--onnx {}: exists and is a safetensors file, not an ONNX file; refusing to replace it \
             (remove it first, or choose another name)",
            s(&model2)
        ),
    );
    // A new ONNX file is written quietly; replacing one says so on stderr.
    let onnx = dir.path().join("m.onnx");
    let export = || {
        actlab()
            .args(["export", "--model", s(&model), "--onnx", s(&onnx)])
            .output()
            .unwrap()
    };
    let first = export();
    assert!(first.status.success() && first.stdout.is_empty() && first.stderr.is_empty());
    let second = export();
    assert!(second.status.success() && second.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&second.stderr),
        format!("note: --onnx {}: replaced the existing file\n", s(&onnx))
    );

    // predict --out onto another model is refused; onto a CSV file it replaces it with a note.
    refused(
        &["predict", "--model", s(&model), "--data", &data, "--out", s(&model2)],
        &format!(
            "--out {}: exists and is a safetensors file, not a CSV file; refusing to replace it \
             (remove it first, or choose another name)",
            s(&model2)
        ),
    );
    assert_eq!(std::fs::read(&model2).unwrap(), model2_bytes);
    let out = write(dir.path(), "p.csv", "old\n");
    let output = actlab()
        .args(["predict", "--model", s(&model), "--data", &data, "--out", &out])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).ends_with(&format!("note: --out {out}: replaced the existing file\n"))
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 41);
}

#[test]
fn a_class_seen_once_is_named_in_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let typo = write(dir.path(), "typo.csv", &table(40, Some(7)));
    let warning = "class 'typo' of 'label' has a single sample among 40: a typo? One sample can neither teach a class nor test it";
    let output = actlab()
        .args(["train", "--data", &typo, "--epochs", "1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, format!("warning: {warning}\n"));
    let output = actlab().args(["advise", "--data", &typo]).output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8(output.stdout)
        .unwrap()
        .contains(&format!("\nwarning  {warning}\n")));

    // Two samples of every class: no warning.
    let clean = write(dir.path(), "clean.csv", &table(40, None));
    let output = actlab()
        .args(["train", "--data", &clean, "--epochs", "1"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(dir.path(), "one.csv", "x,label\n1,a\n");
    refused(
        &["train", "--data", &one],
        &format!(
            "{one}: 1 row leaves no test samples in the 80/20 split (it keeps one of each class for training); \
             give more rows, or test data with --test"
        ),
    );
    let output = actlab()
        .args(["train", "--data", "iris", "--epochs", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(", 1 epoch (4 steps), seed 0:"), "{stdout}");
}

#[test]
fn help_gives_the_defaults_of_flags_without_a_default_value() {
    let output = actlab().args(["train", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "(default: 400)",
        "Default: 0.05 (xor, circles, spirals), 0.1 (moons), 0.5 (gauss)",
        "(default: no clipping)",
        "(2000 when N is left out)",
        "default 10 and 0.1",
        "default 5 and 0.1",
        "--no-scale-target; default 1)",
        "Default: no dropout",
        "Default: no early stopping",
    ] {
        assert!(help.contains(needle), "'{needle}' not in train --help");
    }
}

#[test]
fn a_wide_table_schema_shows_what_needs_a_look_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    // 30 numeric columns; c12 has a missing cell, c25 holds text; then the target.
    let mut text: String = (0..30).map(|j| format!("c{j},")).collect::<String>() + "label\n";
    for i in 0..20 {
        for j in 0..30 {
            text += &match (i, j) {
                (3, 12) => String::new(),
                (_, 25) => ["red", "blue"][i % 2].to_string(),
                _ => format!("{}", (i * 31 + j * 7) % 11),
            };
            text.push(',');
        }
        text += &format!("{}\n", i % 2);
    }
    let wide = write(dir.path(), "wide.csv", &text);
    let output = actlab()
        .args(["train", "--data", &wide, "--epochs", "1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("schema"))
        .take_while(|l| l.starts_with(' ') || l.starts_with("schema"))
        .map(|l| l[9..].split_whitespace().next().unwrap())
        .collect();
    let mut expected: Vec<String> = (0..10).map(|j| format!("c{j}")).collect();
    expected.extend(["c12", "c25", "label", "…"].map(String::from));
    assert_eq!(names, expected, "{stdout}");
    assert!(
        stdout.contains("\n         … and 18 more numeric columns with no missing cell (--json lists every column)\n")
    );
    // --json still lists every column.
    let output = actlab()
        .args(["train", "--data", &wide, "--epochs", "1", "--json"])
        .output()
        .unwrap();
    let report = common::last_json_line(&output.stdout);
    assert_eq!(report["schema"].as_array().unwrap().len(), 31);
}

#[test]
fn huge_values_are_short_and_errors_on_them_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b,label\n");
    for i in 0..20 {
        text += &format!("{}e30,{},{}\n", i, i % 3, i % 2);
    }
    let data = write(dir.path(), "huge.csv", &text);
    let model = dir.path().join("m.safetensors");
    let output = actlab()
        .args(["train", "--data", &data, "--epochs", "1", "--save", s(&model)])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.lines().find(|l| l.starts_with("schema")).unwrap();
    assert!(line.contains("; range 0 to 1.9e31"), "{line}");
    // A value beyond f32 once standardized: the error names the file.
    let row = write(dir.path(), "row.csv", "a,b\n1,3e38\n");
    let output = actlab()
        .args(["predict", "--model", s(&model), "--data", &row])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("error: {row}: row 1 of the data: feature 'b'")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn a_count_of_zero_is_refused_in_words() {
    for flag in ["--epochs", "--batch-size", "--patience"] {
        let output = actlab().args(["train", "--data", "iris", flag, "0"]).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let expected = format!("error: invalid value '0' for '{flag} <N>': must be at least 1\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), expected);
    }
    let output = actlab()
        .args(["train", "--data", "iris", "--epochs", "-3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: "));
}

#[test]
fn a_test_file_with_many_extra_columns_gets_a_short_note() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "data.csv", &table(40, None));
    // The test file: the columns reordered, then twelve the training data lacks.
    let mut text = String::from("label,y,x");
    for j in 0..12 {
        text += &format!(",extra{j}");
    }
    text.push('\n');
    for line in table(10, None).lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        text += &format!("{},{},{}{}\n", cells[2], cells[1], cells[0], ",0".repeat(12));
    }
    let test = write(dir.path(), "test.csv", &text);
    let output = actlab()
        .args(["train", "--data", &data, "--test", &test, "--epochs", "1"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let names: String = (0..8).map(|j| format!("'extra{j}', ")).collect();
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("note: {test} has 12 columns the training data lacks, ignored: {names}…\n")
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(" 40 train / 10 test samples,"));
}

#[test]
fn a_batch_larger_than_the_training_set_is_reported_as_the_set() {
    let output = actlab()
        .args(["train", "--data", "iris", "--epochs", "2", "--batch-size", "100000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    // iris: 120 of the 150 rows train
    assert!(
        stdout.contains("batch 120 (the whole set: --batch-size 100000 is more than its rows), 2 epochs (2 steps)"),
        "{stdout}"
    );
    let output = actlab()
        .args(["train", "--data", "iris", "--epochs", "1", "--batch-size", "120"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("batch 120, 1 epoch (1 step)"), "{stdout}");
}
