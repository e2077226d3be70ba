//! Data sets: CSV and IDX files, built-in and synthetic sets, splits and standardization.
//!
//! The types every source produces live here ([`Dataset`], its [`Target`] and [`Task`], a
//! [`Split`] into training and test data); each kind of source has its own module: [`csv`]
//! files, [`idx`] files, [`builtin`](mod@builtin) sets (embedded CSV files and the [`synthetic`] ones),
//! and [`load`](mod@load), which reads a data set named by one string (a file, a directory or a
//! built-in name). [`split`] makes train/test splits and [`standardize`] scales features.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Matrix, MatrixRef, Result};

pub mod builtin;
pub mod csv;
pub mod idx;
pub mod load;
pub mod split;
pub mod standardize;
pub mod synthetic;
pub mod table;

pub use builtin::{builtin, BUILTIN_NAMES};
pub use csv::{quote, read_csv, read_csv_columns, Columns, Matched};
pub use idx::{read_idx, read_idx_dir};
pub use load::{load, LoadError, LoadOptions, Source, FASHION_MNIST_DIR};
pub use split::{stratified_indices, stratified_split};
pub use standardize::Standardizer;

use csv::{classes_from_labels, name_list, order_classes};

/// Whether a target holds classes or real values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Predict one of a few labels.
    Classification,
    /// Predict a real number.
    Regression,
}

/// What is to be predicted for each row of a [`Dataset`].
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A class index per row into `classes`, the class labels in output order.
    Classes {
        /// Class index of each row.
        labels: Vec<u32>,
        /// Class labels as written in the data, in output order.
        classes: Vec<String>,
    },
    /// One real value per row.
    Values(Vec<f32>),
    /// No target (data to predict on).
    None,
}

/// Features and target of a set of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// One row per sample.
    pub x: Matrix,
    /// Name of each feature column.
    pub feature_names: Vec<String>,
    /// Name of the target column (empty when there is none).
    pub target_name: String,
    /// What is to be predicted.
    pub target: Target,
    /// Whether the features are pixel intensities of images (read from IDX files); by default
    /// such features share one scale. False for every other source.
    pub images: bool,
}

/// How to read a CSV file.
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// Target column by header name; `None` means the last column.
    pub target: Option<String>,
    /// Force the task; `None` infers it from the target column.
    pub task: Option<Task>,
}

/// Settings of the generated 2-D data sets.
#[derive(Clone, Copy, Debug)]
pub struct SyntheticOptions {
    /// Number of samples; `None` uses the set's default.
    pub samples: Option<usize>,
    /// Noise level; `None` uses the set's default.
    pub noise: Option<f32>,
    /// Seed of the generator.
    pub seed: u64,
}

/// A data set with an optional separate test set.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training data.
    pub train: Dataset,
    /// Test data, when the source defines it (MNIST-1D, IDX directories).
    pub test: Option<Dataset>,
}

/// A [`Dataset`] whose features are borrowed (rows someone else owns, such as a numpy
/// array): what training reads, without a copy of the features.
#[derive(Clone, Copy, Debug)]
pub struct DatasetRef<'a> {
    /// One row per sample.
    pub x: MatrixRef<'a>,
    /// Name of each feature column.
    pub feature_names: &'a [String],
    /// Name of the target column (empty when there is none).
    pub target_name: &'a str,
    /// What is to be predicted.
    pub target: &'a Target,
    /// Whether the features are pixel intensities of images (see [`Dataset::images`]).
    pub images: bool,
}

impl<'a> From<&'a Dataset> for DatasetRef<'a> {
    fn from(data: &'a Dataset) -> Self {
        data.view()
    }
}

impl DatasetRef<'_> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.rows()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.rows() == 0
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.x.cols()
    }

    /// The task the target implies (`None` when there is no target).
    pub fn task(&self) -> Option<Task> {
        match self.target {
            Target::Classes { .. } => Some(Task::Classification),
            Target::Values(_) => Some(Task::Regression),
            Target::None => None,
        }
    }

    /// The samples at `indices`, in that order, with their targets (a copy).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let target = match self.target {
            Target::Classes { labels, classes } => Target::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                classes: classes.clone(),
            },
            Target::Values(values) => Target::Values(indices.iter().map(|&i| values[i]).collect()),
            Target::None => Target::None,
        };
        let mut x = Vec::with_capacity(indices.len() * self.n_features());
        for &i in indices {
            x.extend_from_slice(self.x.row(i));
        }
        Dataset {
            x: Matrix::from_vec(indices.len(), self.n_features(), x),
            feature_names: self.feature_names.to_vec(),
            target_name: self.target_name.to_string(),
            target,
            images: self.images,
        }
    }
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.rows()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.rows() == 0
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.x.cols()
    }

    /// The task the target implies (`None` when there is no target).
    pub fn task(&self) -> Option<Task> {
        self.view().task()
    }

    /// The samples at `indices`, in that order, with their targets.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        self.view().subset(indices)
    }

    /// The data set borrowed, as training reads it.
    pub fn view(&self) -> DatasetRef<'_> {
        DatasetRef {
            x: self.x.view(),
            feature_names: &self.feature_names,
            target_name: &self.target_name,
            target: &self.target,
            images: self.images,
        }
    }

    /// The data with its target read for `task`: for regression, class labels that are
    /// numbers become their values; for classification, values become classes named as
    /// [`read_csv`] names numeric labels. A data set without a target is returned as it is.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first class label that is not a number, for regression.
    pub fn with_task(self, task: Task) -> Result<Dataset> {
        let target = match (self.target, task) {
            (Target::Classes { labels, classes }, Task::Regression) => {
                let values = classes
                    .iter()
                    .map(|c| match c.parse::<f32>() {
                        Ok(v) if v.is_finite() => Ok(v),
                        _ => Err(Error::config(format!(
                            "regression needs numbers, but the target {} holds the class {}",
                            quote(&self.target_name),
                            quote(c)
                        ))),
                    })
                    .collect::<Result<Vec<f32>>>()?;
                Target::Values(labels.iter().map(|&l| values[l as usize]).collect())
            }
            (Target::Values(values), Task::Classification) => {
                classes_from_labels(&values.iter().map(f32::to_string).collect::<Vec<_>>())
            }
            (target, _) => target,
        };
        Ok(Dataset { target, ..self })
    }

    /// Re-indexes class labels to follow `classes` (a model's output order).
    ///
    /// # Errors
    /// A label of this data set that is not in `classes`, or a target that is not classes.
    pub fn align_classes(&mut self, classes: &[String]) -> Result<()> {
        let Target::Classes { labels, classes: own } = &mut self.target else {
            return Err(Error::config(format!(
                "the data set has no class labels to align with the classes {}",
                name_list(classes)
            )));
        };
        let position: HashMap<&str, u32> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        // Old class index → new class index; only classes that occur must be known.
        let mut used = vec![false; own.len()];
        for &label in labels.iter() {
            used[label as usize] = true;
        }
        let mut remap = vec![0u32; own.len()];
        for (old, name) in own.iter().enumerate() {
            match position.get(name.as_str()) {
                Some(&new) => remap[old] = new,
                None if used[old] => {
                    return Err(Error::config(format!(
                        "class {} of the data is not among the classes {}",
                        quote(name),
                        name_list(classes)
                    )))
                }
                None => {}
            }
        }
        for label in labels.iter_mut() {
            *label = remap[*label as usize];
        }
        *own = classes.to_vec();
        Ok(())
    }
}

fn data_error(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        line,
        column,
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<std::fs::File> {
    crate::fileio::open_input(path).map(|(file, _)| file)
}

/// Gives a train and a test set the union of their class lists, in class order.
fn unify_classes(train: &mut Dataset, test: &mut Dataset) -> Result<()> {
    let mut union = BTreeSet::new();
    for data in [&*train, &*test] {
        if let Target::Classes { classes, .. } = &data.target {
            union.extend(classes.iter().cloned());
        }
    }
    let classes = order_classes(union);
    train.align_classes(&classes)?;
    test.align_classes(&classes)
}

#[cfg(test)]
mod tests;
