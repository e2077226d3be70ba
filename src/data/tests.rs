//! Tests of [`Dataset`], and helpers shared by the tests of the data modules.

use std::path::{Path, PathBuf};

use super::*;

pub(super) fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// Reads `content` as a CSV file named `data.csv`.
pub(super) fn csv(content: &str, options: &CsvOptions) -> Result<Dataset> {
    let dir = tempfile::tempdir().unwrap();
    read_csv(&write(dir.path(), "data.csv", content.as_bytes()), options)
}

pub(super) fn classes_of(data: &Dataset) -> (&[u32], Vec<&str>) {
    match &data.target {
        Target::Classes { labels, classes } => (labels, classes.iter().map(String::as_str).collect()),
        other => panic!("expected classes, got {other:?}"),
    }
}

pub(super) fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub(super) fn labelled(counts: &[usize]) -> Dataset {
    let labels: Vec<u32> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c as u32, n))
        .collect();
    let n = labels.len();
    Dataset {
        x: Matrix::from_vec(n, 1, (0..n).map(|i| i as f32).collect()),
        feature_names: vec!["i".to_string()],
        target_name: "label".to_string(),
        target: Target::Classes {
            labels,
            classes: (0..counts.len()).map(|c| c.to_string()).collect(),
        },
        images: false,
    }
}

pub(super) fn count(data: &Dataset, class: u32) -> usize {
    classes_of(data).0.iter().filter(|&&l| l == class).count()
}

impl SyntheticOptions {
    pub(crate) fn default_for_tests() -> Self {
        SyntheticOptions {
            samples: None,
            noise: None,
            seed: 0,
        }
    }
}

#[test]
fn built_in_labels_are_read_for_the_task_asked() {
    let iris = builtin("iris", &SyntheticOptions::default_for_tests()).unwrap().train;
    let regression = iris.clone().with_task(Task::Regression).unwrap();
    let Target::Values(values) = &regression.target else {
        panic!()
    };
    assert_eq!((values[0], values[60], values[149]), (0.0, 1.0, 2.0));
    let back = regression.with_task(Task::Classification).unwrap();
    assert_eq!(back.target, iris.target);
    let words = csv("a,y\n1,cat\n2,dog\n", &CsvOptions::default()).unwrap();
    let err = words.clone().with_task(Task::Regression).unwrap_err().to_string();
    assert!(err.contains("the target 'y' holds the class 'cat'"), "{err}");
    // A class label that parses to a number beyond f32 is no regression value either (the CSV
    // reader refuses such cells, but a data set built in code may hold them).
    for label in ["inf", "-inf", "NaN", "1e39"] {
        let data = Dataset {
            target: Target::Classes {
                labels: vec![0, 1],
                classes: strings(&["1", label]),
            },
            ..words.clone()
        };
        let err = data.with_task(Task::Regression).unwrap_err().to_string();
        assert!(err.contains(&format!("holds the class '{label}'")), "{err}");
    }
}

#[test]
fn subset_and_align_classes() {
    let mut data = labelled(&[1, 2, 1]);
    let sub = data.subset(&[3, 0]);
    assert_eq!(sub.x.as_slice(), &[3.0, 0.0]);
    assert_eq!(classes_of(&sub).0, [2, 0]);
    // Superset in another order.
    data.align_classes(&strings(&["9", "2", "1", "0"])).unwrap();
    assert_eq!(classes_of(&data), (&[3, 2, 2, 1][..], vec!["9", "2", "1", "0"]));
    // A label missing from the model's classes.
    let err = data.align_classes(&strings(&["0", "1"])).unwrap_err();
    assert!(err.to_string().contains("'2'"), "{err}");
    let mut regression = Dataset {
        target: Target::Values(vec![0.0]),
        ..labelled(&[1])
    };
    assert!(regression.align_classes(&strings(&["0"])).is_err());
}
