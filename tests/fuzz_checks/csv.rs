//! Bytes as a CSV file through `read_csv` (with and without a target column and a forced task)
//! and `read_csv_columns` (the columns of a model, with and without the target and a header).

use actlab::data::{read_csv, read_csv_columns, Columns, CsvOptions};
use actlab::{Dataset, Target, Task};

/// Reads `bytes` as a CSV file in every way the command line does.
pub fn check(bytes: &[u8]) {
    let path = super::scratch_file("data.csv", bytes);
    // The first header name, to pick a target column that is not the last.
    let first = String::from_utf8_lossy(bytes)
        .split([',', '\n', '\r'])
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let mut known = vec![(vec!["a".to_string(), "b".to_string()], "y".to_string())];
    for target in [None, Some(first), Some("no such column".to_string())] {
        for task in [None, Some(Task::Classification), Some(Task::Regression)] {
            let options = CsvOptions {
                target: target.clone(),
                task,
            };
            if let Ok(data) = read_csv(&path, &options) {
                assert_labelled(&data, task);
                known.push((data.feature_names.clone(), data.target_name.clone()));
            }
        }
    }
    for (features, target) in &known {
        for task in [None, Some(Task::Classification), Some(Task::Regression)] {
            for header in [true, false] {
                let columns = Columns {
                    features,
                    target,
                    task,
                    header,
                };
                let Ok(read) = read_csv_columns(&path, &columns) else {
                    continue;
                };
                let data = read.data;
                assert_eq!(
                    data.n_features(),
                    features.len(),
                    "read_csv_columns: one column per name"
                );
                if header {
                    assert_eq!(
                        &data.feature_names, features,
                        "read_csv_columns: the features asked for, in order"
                    );
                }
                match task {
                    None => {
                        assert_features(&data);
                        assert_eq!(data.target, Target::None);
                    }
                    Some(_) => assert_labelled(&data, task),
                }
            }
        }
    }
}

/// Rows, columns and feature names agree, and every feature is finite.
fn assert_features(data: &Dataset) {
    assert!(!data.is_empty(), "a data set read from CSV has rows");
    assert!(data.n_features() > 0, "a data set read from CSV has feature columns");
    assert_eq!(data.x.as_slice().len(), data.len() * data.n_features());
    assert_eq!(data.feature_names.len(), data.n_features());
    assert!(
        data.x.as_slice().iter().all(|v| v.is_finite()),
        "a feature is not finite"
    );
}

/// As [`assert_features`], and one target per row: a class index below the number of classes
/// (every class used, none twice) or a finite value, of the forced task if any.
fn assert_labelled(data: &Dataset, task: Option<Task>) {
    assert_features(data);
    match &data.target {
        Target::Classes { labels, classes } => {
            assert_eq!(labels.len(), data.len());
            assert!(
                labels.iter().all(|&l| (l as usize) < classes.len()),
                "a label is out of range"
            );
            let mut used = vec![false; classes.len()];
            labels.iter().for_each(|&l| used[l as usize] = true);
            assert!(used.iter().all(|&u| u), "a class no row has");
            let mut distinct = classes.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), classes.len(), "a class is listed twice");
        }
        Target::Values(values) => {
            assert_eq!(values.len(), data.len());
            assert!(values.iter().all(|v| v.is_finite()), "a target value is not finite");
        }
        Target::None => panic!("read_csv returned no target"),
    }
    if task.is_some() {
        assert_eq!(data.task(), task, "the forced task was not followed");
    }
}
