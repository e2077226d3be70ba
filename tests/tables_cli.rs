//! Raw tables through the binary (issue 14): strings, missing cells, an identifier column,
//! delimiters; the preprocessing stored in the model and replayed by `eval` and `predict`.

mod common;

use std::path::Path;

use actlab::data::stratified_indices;
use actlab::data::table::TableOptions;
use actlab::preprocess::{self, SchemaOptions};
use common::{actlab, edited_model, fails_with, last_json_line, write};

/// A titanic-like table: an id, a class, a quoted name with a comma, a sex, an age with
/// missing cells, a port with an empty cell now and then, and whether the passenger survived.
fn titanic(rows: usize, delimiter: char) -> String {
    let d = delimiter;
    let mut text = format!("PassengerId{d}pclass{d}name{d}sex{d}age{d}embarked{d}survived\n");
    for i in 0..rows {
        let sex = ["male", "female"][(i * 7 / 3) % 2];
        let pclass = 1 + (i * 5) % 3;
        let age = if i % 6 == 2 {
            "NA".to_string()
        } else {
            format!("{}", 2 + (i * 13) % 60)
        };
        let port = ["S", "C", "", "S", "Q"][i % 5];
        let survived = u8::from(sex == "female" || pclass == 1 && i % 3 == 0);
        text += &format!(
            "{}{d}{pclass}{d}\"Doe, Jo {i}\"{d}{sex}{d}{age}{d}{port}{d}{survived}\n",
            1000 + i
        );
    }
    text
}

fn run(args: &[&str]) -> std::process::Output {
    let output = actlab().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn train_then_predict_and_eval_replay_the_preprocessing() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "titanic.csv", &titanic(90, ','));
    let model = dir.path().join("m.safetensors").display().to_string();
    let common = ["--epochs", "20", "--threads", "1", "--hidden", "8"];
    let output = run(&[
        &["train", "--data", &data, "--target", "survived", "--save", &model][..],
        &common,
    ]
    .concat());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("schema   PassengerId numeric"), "{stdout}");
    assert!(
        stdout.contains("sex         categorical 0 missing; 2 categories: 'female', 'male'"),
        "{stdout}"
    );
    assert!(stdout.contains("age         numeric     12 missing"), "{stdout}");
    assert!(
        stderr.contains("warning: column 'PassengerId' looks like an identifier"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: column 'name' is dropped as free text"),
        "{stderr}"
    );

    let output = run(&[
        &["train", "--data", &data, "--target", "survived", "--json"][..],
        &common,
    ]
    .concat());
    let report = last_json_line(&output.stdout);
    let kinds: Vec<&str> = report["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "numeric",
            "numeric",
            "dropped",
            "categorical",
            "numeric",
            "categorical",
            "target"
        ]
    );
    // id, pclass, age + indicator, sex × 2, embarked: C, Q, S, <missing>.
    assert_eq!(report["n_features"], 10);

    // predict --keep on the training file itself (its target is ignored with a note): the
    // probabilities are the model's on the rows as training encoded them.
    let output = run(&[
        "predict",
        "--model",
        &model,
        "--data",
        &data,
        "--keep",
        "PassengerId",
        "--proba",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("PassengerId,0,1"));
    let (saved, preprocessor) = actlab::model_io::load_with_preprocessor(Path::new(&model)).unwrap();
    let read = |holdout| {
        preprocess::read_training(
            Path::new(&data),
            &TableOptions::default(),
            &SchemaOptions::default(),
            Some("survived"),
            None,
            holdout,
        )
        .unwrap()
    };
    // Training fitted the preprocessing on its 80/20 split's training part (seed 0).
    let prepared = read(Some((0.2, 0)));
    assert_eq!(preprocessor.as_ref(), Some(&prepared.preprocessor));
    let test = prepared.test.as_ref().unwrap();
    let (fit_rows, test_rows) = stratified_indices(&read(None).data.target, 90, 0.2, 0);
    let mut expected = vec![Vec::new(); 90];
    for (rows, part) in [(&fit_rows, &prepared.data), (&test_rows, test)] {
        for (&r, p) in rows.iter().zip(saved.predict(part).unwrap().iter_rows()) {
            expected[r] = p.to_vec();
        }
    }
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], (1000 + i).to_string());
        let got: Vec<f32> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert_eq!(got.len(), 2);
        for (g, e) in got.iter().zip(&expected[i]) {
            assert!((g - e).abs() <= 1e-6, "row {i}: {got:?} against {:?}", expected[i]);
        }
        rows += 1;
    }
    assert_eq!(rows, 90);

    // eval on the whole file: the accuracies of both parts, weighted.
    let output = run(&["eval", "--model", &model, "--data", &data, "--json"]);
    let report = last_json_line(&output.stdout);
    let train_accuracy = saved.evaluate(&prepared.data).unwrap().accuracy.unwrap();
    let test_accuracy = saved.evaluate(test).unwrap().accuracy.unwrap();
    let whole = (train_accuracy * 72.0 + test_accuracy * 18.0) / 90.0;
    assert!(
        (report["test_accuracy"].as_f64().unwrap() - whole).abs() < 1e-9,
        "{report} {whole}"
    );
    assert_eq!(report["n_test"], 90);

    // New rows, semicolon-separated, columns reordered, no target, an unknown port, a
    // missing age and text where training had numbers.
    let new = write(
        dir.path(),
        "new.csv",
        "embarked;sex;age;pclass;PassengerId\nX;female;NA;1;7\nS;male;30;3;8\n",
    );
    let output = run(&["predict", "--model", &model, "--data", &new, "--keep", "PassengerId"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stdout.lines().next(), Some("PassengerId,survived"));
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.lines().nth(1).unwrap().starts_with("7,"), "{stdout}");
    assert!(
        stderr.contains("note: column 'embarked': 1 cell with a category never seen in training encoded as all zeros"),
        "{stderr}"
    );
    fails_with(
        &["predict", "--model", &model, "--data", &new, "--strict"],
        "new.csv:2:1: column 'embarked': category 'X' was never seen in training",
    );
    let bad = write(
        dir.path(),
        "bad.csv",
        "PassengerId,pclass,sex,age,embarked\n1,1,male,old,S\n",
    );
    fails_with(
        &["predict", "--model", &model, "--data", &bad],
        "bad.csv:2:4: column 'age': 'old' is not a number, but the column was numeric in training",
    );
    fails_with(
        &["predict", "--model", &model, "--data", &new, "--keep", "name"],
        "--keep name: ",
    );
}

#[test]
fn bad_tables() {
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--epochs", "1", "--threads", "1", "--hidden", "2"];
    let one_class = write(
        dir.path(),
        "one.csv",
        "a,b,y\n1,x,yes\n2,y,yes\n3,x,yes\n4,y,yes\n5,x,yes\n",
    );
    fails_with(
        &[&["train", "--data", &one_class][..], &fast].concat(),
        "the target has 1 class; classification needs at least two",
    );
    // A column with every cell missing is dropped with a note; rows without a target too.
    let empty = write(
        dir.path(),
        "empty.csv",
        "a,b,y\n1,,0\n2,NA,1\n3,,0\n4,?,1\n5,,0\n6,-,1\n7,,NA\n",
    );
    let output = run(&[&["train", "--data", &empty][..], &fast].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("note: column 'b' is dropped: every cell is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: dropped 1 row whose target 'y' is missing"),
        "{stderr}"
    );
    let nothing = write(dir.path(), "nothing.csv", "a,y\nNA,0\n,1\n");
    fails_with(
        &[&["train", "--data", &nothing][..], &fast].concat(),
        "no feature column is left",
    );
    fails_with(
        &[&["train", "--data", &empty, "--drop", "zz"][..], &fast].concat(),
        "empty.csv:1: no column 'zz' to drop",
    );
    fails_with(
        &[&["train", "--data", "iris", "--drop", "a"][..], &fast].concat(),
        "--drop applies to CSV files; iris is not one",
    );
}

#[test]
fn delimiter_and_na_flags() {
    let dir = tempfile::tempdir().unwrap();
    let fast = ["--epochs", "1", "--threads", "1", "--hidden", "2", "--json"];
    // Tab-separated, sniffed; forcing a comma makes one column of the header, and two of a
    // row (its quoted name holds a comma).
    let tsv = write(dir.path(), "t.tsv", &titanic(30, '\t'));
    let output = run(&[&["train", "--data", &tsv, "--target", "survived"][..], &fast].concat());
    assert_eq!(last_json_line(&output.stdout)["n_features"], 10);
    fails_with(
        &[
            &["train", "--data", &tsv, "--target", "survived", "--delimiter", ","][..],
            &fast,
        ]
        .concat(),
        "t.tsv:2: row has 2 fields, header has 1",
    );
    // With --na-values missing, 'NA' is a category of the (now text) age column.
    let csv = write(dir.path(), "t.csv", &titanic(30, ','));
    let args = [
        &[
            "train",
            "--data",
            &csv,
            "--target",
            "survived",
            "--na-values",
            "missing",
            "--min-category-count",
            "1",
        ][..],
        &fast,
    ]
    .concat();
    let report = last_json_line(&run(&args).stdout);
    let age = &report["schema"][4];
    assert_eq!(age["kind"], "categorical");
    assert!(age["categories"].as_array().unwrap().iter().any(|c| c == "NA"), "{age}");
    // Integers named by --categorical are one-hot encoded.
    let args = [
        &[
            "train",
            "--data",
            &csv,
            "--target",
            "survived",
            "--categorical",
            "pclass",
        ][..],
        &fast,
    ]
    .concat();
    let report = last_json_line(&run(&args).stdout);
    assert_eq!(report["schema"][1]["categories"], serde_json::json!(["1", "2", "3"]));
}

#[test]
fn the_stored_preprocessing_is_checked_and_optional() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "t.csv", &titanic(40, ','));
    let model = dir.path().join("m.safetensors");
    let m = model.display().to_string();
    run(&[
        "train",
        "--data",
        &data,
        "--target",
        "survived",
        "--save",
        &m,
        "--epochs",
        "1",
        "--threads",
        "1",
    ]);
    let bytes = std::fs::read(&model).unwrap();
    let (_, preprocessor) = actlab::model_io::from_safetensors_with(&bytes, &model).unwrap();
    assert_eq!(preprocessor.unwrap().width(), 10);
    // A category fewer than the network takes is refused when the file is loaded.
    let edited = edited_model(&bytes, |meta, _| {
        let columns = meta["preprocess"]["columns"].as_array_mut().unwrap();
        let sex = columns.iter_mut().find(|c| c["name"] == "sex").unwrap();
        sex["encoding"]["categories"].as_array_mut().unwrap().pop();
    });
    let error = actlab::model_io::from_safetensors_with(&edited, &model)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the preprocessing makes 9 features that are not the model's 10 features"),
        "{error}"
    );
    // Without it (a file written before it existed), the model loads and reads encoded columns.
    let edited = edited_model(&bytes, |meta, _| {
        meta.as_object_mut().unwrap().remove("preprocess");
    });
    let (model, none) = actlab::model_io::from_safetensors_with(&edited, &model).unwrap();
    assert!(none.is_none());
    assert_eq!(model.feature_names[2..4], ["sex=female", "sex=male"]);
}
