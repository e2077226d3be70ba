//! Data sets: CSV and IDX files, built-in and synthetic sets, splits and standardization.
//!
//! HELPER-TODO: implement every `todo!()` below and the tests (see the task description).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Matrix, Result};

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

/// Per-feature mean and standard deviation (statistics of the training split).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each column.
    pub mean: Vec<f32>,
    /// Standard deviation of each column (1 where the column is constant).
    pub std: Vec<f32>,
}

/// Names accepted by [`builtin`].
pub const BUILTIN_NAMES: [&str; 8] = ["iris", "digits", "mnist1d", "xor", "circles", "moons", "spirals", "gauss"];

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
        todo!()
    }

    /// The samples at `indices`, in that order, with their targets.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        todo!()
    }

    /// Re-indexes class labels to follow `classes` (a model's output order).
    ///
    /// # Errors
    /// A label of this data set that is not in `classes`, or a target that is not classes.
    pub fn align_classes(&mut self, classes: &[String]) -> Result<()> {
        todo!()
    }
}

/// Reads a CSV file with a header row. Every feature cell must be a finite number; the target
/// column may hold numbers or strings. Classes are ordered numerically when all labels are
/// numbers, else lexicographically.
///
/// # Errors
/// [`crate::Error::Io`] if the file cannot be read; [`crate::Error::Data`] naming line and
/// column for an empty file, a ragged row, a non-numeric, NaN or infinite cell, or a missing
/// target column.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    todo!()
}

/// Reads the feature columns of a CSV file for prediction: the columns named `feature_names`
/// when the header has them all, else all columns when there are exactly that many, else all
/// but the last (a target column) when there is one more. The target column is not needed.
///
/// # Errors
/// As [`read_csv`], and [`crate::Error::Data`] when the columns do not fit `feature_names`.
pub fn read_csv_features(path: &Path, feature_names: &[String]) -> Result<Dataset> {
    todo!()
}

/// Reads an IDX image file and its label file (each gzip-compressed or raw) as a
/// classification data set with one feature per pixel (values as stored, 0–255).
///
/// # Errors
/// Truncated or malformed files, or image and label counts that differ.
pub fn read_idx(images: &Path, labels: &Path) -> Result<Dataset> {
    todo!()
}

/// Reads a directory in the MNIST layout (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`)
/// as a train/test split.
pub fn read_idx_dir(dir: &Path) -> Result<Split> {
    todo!()
}

/// A built-in data set by name (see [`BUILTIN_NAMES`]); `None` if the name is not one.
pub fn builtin(name: &str, options: &SyntheticOptions) -> Option<Split> {
    todo!()
}

/// Splits into train and test parts, keeping each class's share (random for regression).
pub fn stratified_split(data: &Dataset, test_fraction: f32, seed: u64) -> (Dataset, Dataset) {
    todo!()
}

impl Standardizer {
    /// Column means and (population) standard deviations of `x`.
    pub fn fit(x: &Matrix) -> Self {
        todo!()
    }

    /// `x ← (x - mean) / std`, column by column.
    pub fn apply(&self, x: &mut Matrix) {
        todo!()
    }
}
