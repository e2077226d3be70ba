//! The library as a dependent uses it: fit, predict one sample (by position or by name),
//! predict labels, a `Predictor` built from a model, and reading a file by a model's columns.

use actlab::data::{builtin, read_csv_columns, stratified_split, SyntheticOptions};
use actlab::{fit, Dataset, FitConfig, Matrix, Model, Prediction, Target};

/// The built-in iris data set, all 150 rows.
fn iris_data() -> Dataset {
    builtin(
        "iris",
        &SyntheticOptions {
            samples: None,
            noise: None,
            seed: 0,
        },
    )
    .unwrap()
    .train
}

fn iris() -> (Model, Dataset) {
    let (train, test) = stratified_split(&iris_data(), 0.2, 0);
    (fit(&train, &FitConfig::default()).unwrap().model, test)
}

/// y = 3·x0 − 2·x1 + 100 on a grid: a regression whose target is far from 0 and 1, so that
/// un-scaling the target matters.
fn regression() -> (Model, Dataset) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..20 {
        for j in 0..10 {
            let (a, b) = (i as f32 / 4.0, j as f32 / 3.0);
            x.extend([a, b]);
            y.push(3.0 * a - 2.0 * b + 100.0);
        }
    }
    let data = Dataset {
        x: Matrix::from_vec(y.len(), 2, x),
        feature_names: vec!["a".into(), "b".into()],
        target_name: "y".into(),
        target: Target::Values(y),
        images: false,
    };
    let mut config = FitConfig {
        hidden: vec![16],
        ..FitConfig::default()
    };
    config.train.epochs = Some(200);
    (fit(&data, &config).unwrap().model, data)
}

/// The prediction that a row of [`Model::predict`] stands for.
fn expected(model: &Model, row: &[f32]) -> Prediction {
    if model.classes.is_empty() {
        return Prediction::Value(row[0]);
    }
    let index = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    Prediction::Class {
        label: model.classes[index].clone(),
        index,
        probabilities: row.to_vec(),
    }
}

#[test]
fn predict_one_is_predict_on_one_row_and_the_batch_to_rounding() {
    for (model, data) in [iris(), regression()] {
        let all = model.predict(&data).unwrap();
        for (i, row) in data.x.iter_rows().enumerate() {
            let one = model.predict_one(row).unwrap();
            assert_eq!(
                one,
                expected(&model, model.predict(&data.subset(&[i])).unwrap().row(0)),
                "row {i}"
            );
            // A product of many rows adds in another order than one of a single row.
            let batch = expected(&model, all.row(i));
            match (&one, &batch) {
                (Prediction::Value(a), Prediction::Value(b)) => assert!((a - b).abs() <= 1e-5 * b.abs(), "{a} vs {b}"),
                (Prediction::Class { probabilities: a, .. }, Prediction::Class { probabilities: b, .. }) => {
                    assert_eq!(one.label(), batch.label());
                    assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-6), "{a:?} vs {b:?}");
                }
                _ => panic!("{one:?} vs {batch:?}"),
            }
        }
    }
}

#[test]
fn a_predictor_agrees_with_predict_one_to_rounding() {
    for (model, data) in [iris(), regression()] {
        let mut predictor = model.predictor();
        assert_eq!(predictor.feature_names(), model.feature_names.as_slice());
        for row in data.x.iter_rows() {
            match (predictor.predict_one(row).unwrap(), model.predict_one(row).unwrap()) {
                (Prediction::Value(fast), Prediction::Value(batch)) => {
                    assert!((fast - batch).abs() <= 1e-4 * batch.abs(), "{fast} vs {batch}")
                }
                (
                    Prediction::Class {
                        label,
                        index,
                        probabilities,
                    },
                    Prediction::Class {
                        label: l,
                        index: i,
                        probabilities: p,
                    },
                ) => {
                    assert_eq!((label, index), (l, i));
                    for (a, b) in probabilities.iter().zip(&p) {
                        assert!((a - b).abs() <= 1e-5, "{probabilities:?} vs {p:?}");
                    }
                    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                }
                other => panic!("different kinds of prediction: {other:?}"),
            }
        }
    }
}

#[test]
fn regression_predictions_are_in_the_targets_units() {
    let (model, data) = regression();
    let Target::Values(y) = &data.target else {
        unreachable!()
    };
    let predicted: Vec<f32> = data
        .x
        .iter_rows()
        .map(|row| model.predict_one(row).unwrap().value().unwrap())
        .collect();
    let worst = predicted.iter().zip(y).map(|(p, t)| (p - t).abs()).fold(0.0, f32::max);
    assert!(worst < 2.0, "worst error {worst} on targets from 100 to about 115");
    assert!(model.predict_one(&[1.0, 1.0]).unwrap().label().is_none());
    assert!(model
        .predict_labels(&data)
        .unwrap_err()
        .to_string()
        .contains("predicts numbers"));
}

#[test]
fn labels_are_the_most_probable_classes() {
    let (model, test) = iris();
    let labels = model.predict_labels(&test).unwrap();
    let probabilities = model.predict(&test).unwrap();
    assert_eq!(labels.len(), test.len());
    let Target::Classes { labels: truth, classes } = &test.target else {
        unreachable!()
    };
    let mut correct = 0;
    for ((label, row), &t) in labels.iter().zip(probabilities.iter_rows()).zip(truth) {
        let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(label, &model.classes[best]);
        correct += usize::from(*label == classes[t as usize]);
    }
    assert_eq!(
        correct as f64 / test.len() as f64,
        model.evaluate(&test).unwrap().accuracy.unwrap()
    );
}

#[test]
fn features_by_name_take_any_order_and_refuse_what_does_not_fit() {
    let (model, test) = iris();
    let row = test.x.row(0);
    let names: Vec<&str> = model.feature_names.iter().map(String::as_str).collect();
    let reversed: Vec<(&str, f32)> = names.iter().copied().zip(row.iter().copied()).rev().collect();
    assert_eq!(model.features_by_name(reversed.clone()).unwrap(), row);

    let missing = model
        .features_by_name(reversed[1..].iter().copied())
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains(names[3]) && missing.contains("1 of the model's features is missing"),
        "{missing}"
    );
    let mut twice = reversed.clone();
    twice.push(reversed[0]);
    let twice = model.features_by_name(twice).unwrap_err().to_string();
    assert!(twice.contains("given twice") && twice.contains(names[3]), "{twice}");
    let mut unknown = reversed;
    unknown[2].0 = "petal_lenght";
    let unknown = model.features_by_name(unknown).unwrap_err().to_string();
    assert!(
        unknown.contains("'petal_lenght' is not one of the model's features"),
        "{unknown}"
    );
}

#[test]
fn one_sample_that_does_not_fit_is_an_error_not_a_number() {
    let (model, _) = iris();
    let mut predictor = model.predictor();
    for bad in [&[1.0, 2.0, 3.0][..], &[1.0, 2.0, 3.0, 4.0, 5.0], &[]] {
        let e = model.predict_one(bad).unwrap_err().to_string();
        assert!(
            e.contains(&format!("the sample has {} features but the model takes 4", bad.len())),
            "{e}"
        );
        assert_eq!(predictor.predict_one(bad).unwrap_err().to_string(), e);
    }
    for bad in [f32::NAN, f32::INFINITY, -f32::INFINITY] {
        let sample = [5.0, 3.0, bad, 1.0];
        let e = model.predict_one(&sample).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "feature 'petal_length' is {bad}; every feature must be a finite number"
            )),
            "{e}"
        );
        assert_eq!(predictor.predict_one(&sample).unwrap_err().to_string(), e);
    }
    // Finite once standardized, but far enough out that the network's sums may overflow: an
    // error that says so, or finite probabilities (fused multiply-adds can keep a sum of huge
    // terms finite where separate products overflow), never a non-finite answer.
    for far in [[5.0, 3.0, f32::MAX, 1.0], [1e30, -1e30, 1e30, -1e30], [1e30; 4]] {
        for answer in [model.predict_one(&far), predictor.predict_one(&far)] {
            match answer {
                Ok(Prediction::Class { probabilities, .. }) => {
                    assert!(
                        probabilities.iter().all(|p| (0.0..=1.0).contains(p)),
                        "{probabilities:?}"
                    )
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => assert!(e.to_string().contains("overflow f32"), "{e}"),
            }
        }
    }
    let e = model.predict_one(&[5.0, 3.0, f32::MAX, 1.0]).unwrap_err().to_string();
    assert!(e.contains("layer 0") && e.contains("overflow f32"), "{e}");
}

#[test]
fn a_file_is_read_by_the_models_column_names() {
    let (model, test) = iris();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.csv");
    // Columns reversed, an extra column, no target.
    let mut text = String::from("id,");
    text += &model.feature_names.iter().rev().cloned().collect::<Vec<_>>().join(",");
    text.push('\n');
    for (i, row) in test.x.iter_rows().enumerate() {
        let cells: Vec<String> = row.iter().rev().map(|v| v.to_string()).collect();
        text += &format!("{i},{}\n", cells.join(","));
    }
    std::fs::write(&path, text).unwrap();
    let read = read_csv_columns(&path, &model.columns(None)).unwrap();
    assert_eq!(read.ignored, ["id"]);
    assert_eq!(read.data.x, test.x);
    assert_eq!(
        model.predict_labels(&read.data).unwrap(),
        model.predict_labels(&test).unwrap()
    );
}

/// The README's promise: the library's defaults are the command line's, so `fit` with
/// `FitConfig::default()` scores what `actlab train --data iris` prints.
#[test]
fn the_library_and_the_command_line_agree_on_iris() {
    let (model, test) = iris();
    let library = model.evaluate(&test).unwrap().accuracy.unwrap();
    let out = assert_cmd::Command::cargo_bin("actlab")
        .unwrap()
        .args(["train", "--data", "iris", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["test_accuracy"].as_f64().unwrap(), library);
    assert_eq!(
        report["epochs"], 300,
        "120 training samples: 40,000 / 120 clamped to 300 epochs"
    );
}

#[test]
fn errors_name_the_library_setting_not_a_flag() {
    let data = builtin(
        "xor",
        &SyntheticOptions {
            samples: Some(40),
            noise: None,
            seed: 0,
        },
    )
    .unwrap()
    .train;
    let mut config = FitConfig::default();
    config.train.batch_size = 0;
    let e = fit(&data, &config).unwrap_err();
    assert!(
        matches!(
            e,
            actlab::Error::Setting {
                field: "train.batch_size",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "train.batch_size must be at least 1");
    config.train.batch_size = 8;
    config.train.epochs = Some(0);
    assert_eq!(
        fit(&data, &config).unwrap_err().to_string(),
        "train.epochs must be at least 1"
    );
}

#[test]
fn a_target_that_is_not_finite_is_refused_naming_its_row() {
    let (model, data) = regression();
    for bad in [f32::INFINITY, f32::NAN] {
        let mut broken = data.clone();
        let Target::Values(values) = &mut broken.target else {
            unreachable!()
        };
        values[6] = bad;
        let expected = format!("row 7 of the data: the target 'y' is {bad}; every target value must be finite");
        // Neither trained on (it would end in a divergence) nor scored (a NaN score).
        let Err(e) = fit(&broken, &FitConfig::default()) else {
            panic!("a target of {bad} trained");
        };
        assert_eq!(e.to_string(), expected);
        assert_eq!(model.evaluate(&broken).unwrap_err().to_string(), expected);
    }
}

#[test]
fn a_feature_that_is_not_finite_is_refused_naming_its_row_in_the_data() {
    use actlab::model::Scaling;
    let data = iris_data();
    let configs = [
        FitConfig::default(),
        FitConfig {
            scaling: Some(Scaling::Global),
            ..FitConfig::default()
        },
        FitConfig {
            scaling: Some(Scaling::None),
            ..FitConfig::default()
        },
        // Rows held out for validation: the error still counts rows in the data given.
        FitConfig {
            validation_fraction: Some(0.3),
            ..FitConfig::default()
        },
    ];
    for bad in [f32::NAN, f32::INFINITY, -f32::INFINITY] {
        for row in [0, 6, 149] {
            let mut broken = data.clone();
            broken.x.row_mut(row)[2] = bad;
            // A later one is not the one named.
            broken.x.row_mut(149.min(row + 1))[3] = f32::NAN;
            for config in &configs {
                let e = fit(&broken, config).unwrap_err().to_string();
                assert_eq!(
                    e,
                    format!(
                        "row {} of the data: feature 'petal_length' is {bad}; every feature must be a finite number",
                        row + 1
                    ),
                    "{config:?}"
                );
            }
        }
    }
}
