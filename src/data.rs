//! Data sets: CSV and IDX files, built-in and synthetic sets, splits and standardization.
//!
//! All CSV sources (files, files read for prediction, the built-in `iris`, `digits` and
//! `mnist1d` sets) go through one reader, `read_table`; errors name the file, the 1-based
//! line (the header is line 1) and the 1-based column at fault.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::{memory, Error, Matrix, Result};

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
pub const BUILTIN_NAMES: [&str; 8] = [
    "iris", "digits", "mnist1d", "xor", "circles", "moons", "spirals", "gauss",
];

/// At most this many distinct integer target values make an inferred classification task.
const MAX_INFERRED_CLASSES: usize = 32;

/// Default number of samples of the generated sets.
const DEFAULT_SAMPLES: usize = 400;

const IRIS_CSV: &str = include_str!("../data/iris.csv");
const DIGITS_CSV: &str = include_str!("../data/digits.csv");
const MNIST1D_TRAIN_CSV: &str = include_str!("../data/mnist1d_train.csv");
const MNIST1D_TEST_CSV: &str = include_str!("../data/mnist1d_test.csv");

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
        match self.target {
            Target::Classes { .. } => Some(Task::Classification),
            Target::Values(_) => Some(Task::Regression),
            Target::None => None,
        }
    }

    /// The samples at `indices`, in that order, with their targets.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let target = match &self.target {
            Target::Classes { labels, classes } => Target::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                classes: classes.clone(),
            },
            Target::Values(values) => Target::Values(indices.iter().map(|&i| values[i]).collect()),
            Target::None => Target::None,
        };
        Dataset {
            x: self.x.select_rows(indices),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            target,
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

/// Reads a CSV file with a header row of distinct, non-empty names. Every feature cell must be
/// a finite number; the target column may hold numbers or strings.
///
/// Class labels: when every label is a number, labels that are the same number are one class,
/// named by the number's shortest decimal form (`0`, `0.0` and `-0` are class `0`; `1.50` is
/// `1.5`), and classes are in numeric order; otherwise each distinct text is a class, in
/// lexicographic order.
///
/// # Errors
/// [`crate::Error::Io`] if the file cannot be read; [`crate::Error::Data`] naming line and
/// column for an empty file, an empty or repeated column name, a ragged row, a non-numeric,
/// NaN or infinite cell, a quoted cell left open or running over lines, or a missing target
/// column; [`crate::Error::Memory`] when the data outgrow the memory limit.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    parse_csv(open(path)?, path, options)
}

/// Which columns a file must provide, for [`read_csv_columns`].
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// The feature columns' names, in the order the data set gets them (a model's order).
    pub features: &'a [String],
    /// The target column's name (empty when not known). Read only when `task` is given;
    /// otherwise a column of this name is skipped without being reported as ignored.
    pub target: &'a str,
    /// Read the target as classes or values; `None` for data to predict on (no target read).
    pub task: Option<Task>,
    /// Whether the first row names the columns. Without a header the columns are taken by
    /// position: the features in order, then the target last when `task` is given.
    pub header: bool,
}

/// A data set read by [`read_csv_columns`].
#[derive(Clone, Debug)]
pub struct Matched {
    /// The features in the order asked for, and the target when one was asked for.
    pub data: Dataset,
    /// Columns of the file that were neither a feature nor the target, in file order.
    pub ignored: Vec<String>,
}

/// Reads a CSV file whose columns must fit known ones (a model's, or a training set's): data
/// to evaluate or test on (`columns.task` given: the target is required) or to predict on.
///
/// With a header, every feature and the target are matched by name, whatever their order;
/// other columns are ignored and listed in [`Matched::ignored`]. Without one, the file must
/// have exactly as many columns as there are features, plus one (the target, last) when a
/// target is read. Class labels are read as by [`read_csv`].
///
/// # Errors
/// As [`read_csv`]; [`crate::Error::Data`] at line 1 naming every missing column (and the
/// columns the file has), or giving both counts when a file without header has too few or
/// too many columns.
pub fn read_csv_columns(path: &Path, columns: &Columns) -> Result<Matched> {
    let wanted = columns.features.len() + usize::from(columns.task.is_some());
    let mut ignored = Vec::new();
    let table = read_table(open(path)?, path, columns.header, |header| {
        let features: Vec<(usize, String)>;
        let target;
        if columns.header {
            let find = |name: &str| header.iter().position(|h| h == name);
            let mut missing: Vec<&str> = Vec::new();
            features = columns
                .features
                .iter()
                .filter_map(|name| {
                    find(name).map(|c| (c, name.clone())).or_else(|| {
                        missing.push(name);
                        None
                    })
                })
                .collect();
            target = match columns.task {
                Some(_) => find(columns.target)
                    .map(|c| (c, columns.target.to_string()))
                    .or_else(|| {
                        missing.push(columns.target);
                        None
                    }),
                None => None,
            };
            if !missing.is_empty() {
                let plural = if missing.len() == 1 { "" } else { "s" };
                return Err(format!(
                    "missing column{plural} {}; the file has {}",
                    name_list(&missing),
                    name_list(header)
                ));
            }
            ignored = header
                .iter()
                .filter(|h| *h != columns.target && !columns.features.contains(h))
                .cloned()
                .collect();
        } else {
            if header.len() != wanted {
                let target = if columns.task.is_some() {
                    " and the target last"
                } else {
                    ""
                };
                return Err(format!(
                    "expected {wanted} columns ({} features{target}), found {} (the file has no header row)",
                    columns.features.len(),
                    header.len()
                ));
            }
            features = columns.features.iter().cloned().enumerate().collect();
            target = columns.task.map(|_| (wanted - 1, columns.target.to_string()));
        }
        Ok(Chosen { features, target })
    })?;
    let target = match (&table.target, columns.task) {
        (Some(column), Some(task)) => build_target(column, Some(task), path)?,
        _ => Target::None,
    };
    Ok(Matched {
        data: Dataset {
            x: table.x,
            feature_names: table.feature_names,
            target_name: table.target.map(|t| t.name).unwrap_or_default(),
            target,
        },
        ignored,
    })
}

/// Reads an IDX image file and its label file (each gzip-compressed or raw) as a
/// classification data set with one feature per pixel (values as stored, 0–255).
///
/// # Errors
/// Truncated or malformed files, or image and label counts that differ.
pub fn read_idx(images: &Path, labels: &Path) -> Result<Dataset> {
    let image_file = read_idx_file(images, 3)?;
    let label_file = read_idx_file(labels, 1)?;
    let (n, pixels) = (
        image_file.dims[0],
        image_file.dims[1].saturating_mul(image_file.dims[2]),
    );
    if n == 0 || pixels == 0 {
        let what = if n == 0 { "no images" } else { "images of no pixels" };
        let shape = format!("{n}×{}×{}", image_file.dims[1], image_file.dims[2]);
        return Err(data_error(
            images,
            0,
            0,
            format!("the IDX header promises {what} ({shape})"),
        ));
    }
    if label_file.dims[0] != n {
        return Err(data_error(
            labels,
            0,
            0,
            format!(
                "{} labels, but the image file {} holds {n} images",
                label_file.dims[0],
                images.display()
            ),
        ));
    }
    // A name per pixel: a String and its few bytes of text.
    crate::memory::check(
        &format!("naming the {pixels} pixels of {}", images.display()),
        crate::memory::bytes([pixels], 40),
    )?;
    let x = Matrix::from_vec(n, pixels, image_file.data.iter().map(|&p| f32::from(p)).collect());
    let values: BTreeSet<u8> = label_file.data.iter().copied().collect();
    let mut index = [0u32; 256];
    for (i, &v) in values.iter().enumerate() {
        index[usize::from(v)] = i as u32;
    }
    Ok(Dataset {
        x,
        feature_names: (0..pixels).map(|i| format!("px{i}")).collect(),
        target_name: "label".to_string(),
        target: Target::Classes {
            labels: label_file.data.iter().map(|&v| index[usize::from(v)]).collect(),
            classes: values.iter().map(u8::to_string).collect(),
        },
    })
}

/// Reads a directory in the MNIST layout (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`)
/// as a train/test split. A dot instead of the last dash (`train-images.idx3-ubyte`, as some
/// downloads name them) is accepted too.
///
/// # Errors
/// [`crate::Error::Io`] if the directory cannot be read, [`crate::Error::Data`] naming a file
/// that is missing, and the errors of [`read_idx`].
pub fn read_idx_dir(dir: &Path) -> Result<Split> {
    let metadata = std::fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(data_error(dir, 0, 0, "not a directory (expected the MNIST layout)"));
    }
    let find = |stem: &str, kind: &str| -> Result<PathBuf> {
        [format!("{stem}-{kind}"), format!("{stem}.{kind}")]
            .iter()
            .flat_map(|name| [format!("{name}.gz"), name.clone()])
            .map(|name| dir.join(name))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                data_error(
                    dir,
                    0,
                    0,
                    format!("missing {stem}-{kind} (or {stem}-{kind}.gz) in the MNIST layout"),
                )
            })
    };
    let mut train = read_idx(
        &find("train-images", "idx3-ubyte")?,
        &find("train-labels", "idx1-ubyte")?,
    )?;
    let mut test = read_idx(&find("t10k-images", "idx3-ubyte")?, &find("t10k-labels", "idx1-ubyte")?)?;
    if train.feature_names.len() != test.feature_names.len() {
        return Err(data_error(
            dir,
            0,
            0,
            format!(
                "training images have {} pixels, test images {}",
                train.feature_names.len(),
                test.feature_names.len()
            ),
        ));
    }
    unify_classes(&mut train, &mut test)?;
    Ok(Split {
        train,
        test: Some(test),
    })
}

/// A built-in data set by name (see [`BUILTIN_NAMES`]); `None` if the name is not one.
pub fn builtin(name: &str, options: &SyntheticOptions) -> Option<Split> {
    let split = match name {
        "iris" => Split {
            train: builtin_csv("iris", IRIS_CSV),
            test: None,
        },
        "digits" => Split {
            train: builtin_csv("digits", DIGITS_CSV),
            test: None,
        },
        "mnist1d" => {
            let mut train = builtin_csv("mnist1d_train", MNIST1D_TRAIN_CSV);
            let mut test = builtin_csv("mnist1d_test", MNIST1D_TEST_CSV);
            unify_classes(&mut train, &mut test).expect("built-in MNIST-1D has class labels");
            Split {
                train,
                test: Some(test),
            }
        }
        _ => Split {
            train: synthetic(name, options)?,
            test: None,
        },
    };
    Some(split)
}

/// Splits into train and test parts, keeping each class's share (random for regression).
///
/// Each class (or, without classes, the whole set) contributes `round(n · test_fraction)`
/// samples to the test part, at least one and at most `n - 1` when it has two or more samples
/// and `test_fraction` lies strictly between 0 and 1. Both parts keep the original row order
/// and the class list. The same seed gives the same split.
pub fn stratified_split(data: &Dataset, test_fraction: f32, seed: u64) -> (Dataset, Dataset) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let groups: Vec<Vec<usize>> = match &data.target {
        Target::Classes { labels, classes } => {
            let mut groups = vec![Vec::new(); classes.len()];
            for (i, &label) in labels.iter().enumerate() {
                groups[label as usize].push(i);
            }
            groups
        }
        Target::Values(_) | Target::None => vec![(0..data.len()).collect()],
    };
    let mut train = Vec::with_capacity(data.len());
    let mut test = Vec::new();
    for mut group in groups {
        group.shuffle(&mut rng);
        let n_test = test_count(group.len(), test_fraction);
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (data.subset(&train), data.subset(&test))
}

/// How many of `n` samples go to the test part.
fn test_count(n: usize, fraction: f32) -> usize {
    let fraction = f64::from(fraction);
    if fraction.is_nan() || fraction <= 0.0 {
        return 0;
    }
    if fraction >= 1.0 {
        return n;
    }
    let count = (n as f64 * fraction).round() as usize;
    if n >= 2 {
        count.clamp(1, n - 1)
    } else {
        count.min(n)
    }
}

impl Standardizer {
    /// Column means and (population) standard deviations of `x`.
    ///
    /// Statistics are accumulated in `f64`; a column whose standard deviation is below
    /// `1e-12` (a constant column, such as an image's border pixels) gets a standard deviation
    /// of 1, so standardizing keeps it finite.
    pub fn fit(x: &Matrix) -> Self {
        let (rows, cols) = (x.rows(), x.cols());
        let mut sum = vec![0f64; cols];
        for row in x.iter_rows() {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += f64::from(v);
            }
        }
        let n = rows.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut squares = vec![0f64; cols];
        for row in x.iter_rows() {
            for ((s, &m), &v) in squares.iter_mut().zip(&mean).zip(row) {
                let d = f64::from(v) - m;
                *s += d * d;
            }
        }
        let std = squares
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd < 1e-12 {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// One mean and (population) standard deviation over every cell of `x`, repeated for each
    /// column: for features on one shared scale such as pixels, where per-column statistics
    /// would blow up columns that are almost always zero.
    pub fn fit_global(x: &Matrix) -> Self {
        let n = x.as_slice().len().max(1) as f64;
        let mean = x.as_slice().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x.as_slice().iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        let std = if var.sqrt() < 1e-12 { 1.0 } else { var.sqrt() as f32 };
        Standardizer {
            mean: vec![mean as f32; x.cols()],
            std: vec![std; x.cols()],
        }
    }

    /// `x ← (x - mean) / std`, column by column.
    ///
    /// # Panics
    /// If `x` does not have as many columns as the standardizer.
    pub fn apply(&self, x: &mut Matrix) {
        assert_eq!(
            x.cols(),
            self.mean.len(),
            "standardizer fitted on {} columns applied to {}",
            self.mean.len(),
            x.cols()
        );
        let cols = x.cols();
        if cols == 0 {
            return;
        }
        for row in x.as_mut_slice().chunks_exact_mut(cols) {
            for ((v, &m), &s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// Cells longer than this many characters are cut short when an error message quotes them.
const QUOTED_CHARS: usize = 80;

/// Rows read between two checks of the memory the data takes (see [`memory::check`]).
const ROWS_PER_MEMORY_CHECK: usize = 4096;

/// `text` in single quotes for a message: whole up to 80 characters, else its first 79
/// characters, an ellipsis and the full length, so that a huge cell cannot flood the error line.
/// Every message that quotes a cell, a column name or a class label of a file goes through it.
pub fn quote(text: &str) -> String {
    // Control characters (a NUL, an escape sequence that would clear the terminal) are
    // written as escapes, never copied into the message.
    let visible = |chars: &mut dyn Iterator<Item = char>| -> String {
        chars
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_debug().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect()
    };
    let count = text.chars().count();
    if count <= QUOTED_CHARS {
        format!("'{}'", visible(&mut text.chars()))
    } else {
        let head = visible(&mut text.chars().take(QUOTED_CHARS - 1));
        format!("'{head}…' ({count} characters)")
    }
}

/// Column names for a message: each quoted, at most ten, then how many there are in all.
fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| quote(n.as_ref())).collect();
    match names.len() {
        0..=10 => shown.join(", "),
        n => format!("{}, … ({n} in all)", shown.join(", ")),
    }
}

/// The canonical text of a numeric class label: the shortest decimal that reads back as the
/// same `f64`, without exponent or trailing zeros (`0.0`, `-0` and `0e3` are all `0`, `1.50` is
/// `1.5`); `None` for a label that is not a finite number.
fn canonical_number(label: &str) -> Option<String> {
    let value = label.parse::<f64>().ok().filter(|v| v.is_finite())?;
    Some((value + 0.0).to_string())
}

/// The columns chosen from a file, as 0-based indices with the name each is reported under.
struct Chosen {
    features: Vec<(usize, String)>,
    target: Option<(usize, String)>,
}

/// The cells of a target column, kept as text until the task is known.
struct TargetColumn {
    name: String,
    /// 1-based column number.
    column: usize,
    cells: Vec<String>,
    /// 1-based line of each cell.
    lines: Vec<usize>,
}

/// A CSV file read into numeric features and a raw target column.
struct Table {
    feature_names: Vec<String>,
    x: Matrix,
    target: Option<TargetColumn>,
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

fn csv_error<R: Read>(path: &Path, error: csv::Error, reader: &mut csv::Reader<LineCounter<R>>) -> Error {
    let line = error.position().map_or(0, |p| reader.get_mut().line_at(p.byte()));
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => data_error(path, line, err.field() + 1, "invalid UTF-8 text"),
        _ => data_error(path, line, 0, message),
    }
}

/// A reader that notes where its lines end, so that a record's byte offset gives its line:
/// the csv crate's own count is one too low in files with CRLF line ends.
struct LineCounter<R> {
    inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of the line feeds read but not yet passed by [`LineCounter::line_at`].
    ahead: VecDeque<u64>,
    /// Line feeds passed.
    passed: usize,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, &b)| b == b'\n') {
            self.ahead.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
        }
    }

    /// The 1-based line of a record the csv crate places at byte `offset`; offsets must not
    /// decrease from call to call. (After a CRLF the crate places the next record on the line
    /// feed, which therefore counts as passed.)
    fn line_at(&mut self, offset: u64) -> usize {
        while self.ahead.front().is_some_and(|&newline| newline <= offset) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// Refuses a header with an empty or repeated column name, naming the columns (1-based).
fn check_header(header: &[String]) -> std::result::Result<(), (usize, String)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (c, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err((c + 1, format!("column {} has no name in the header", c + 1)));
        }
        if let Some(first) = seen.insert(name, c) {
            return Err((
                c + 1,
                format!("columns {} and {} are both named {}", first + 1, c + 1, quote(name)),
            ));
        }
    }
    Ok(())
}

/// The CSV reader behind every CSV source. `choose` picks the columns from the header (the
/// first row when `has_header` is false, which is then read as data); its error message is
/// reported at line 1. Every chosen feature cell must be a finite number.
fn read_table<R: Read>(
    source: R,
    path: &Path,
    has_header: bool,
    choose: impl FnOnce(&[String]) -> std::result::Result<Chosen, String>,
) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(LineCounter::new(source));
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(str::to_string).collect(),
        Err(e) => return Err(csv_error(path, e, &mut reader)),
    };
    if header.is_empty() {
        let expected = if has_header { "a header row" } else { "data rows" };
        return Err(data_error(path, 1, 0, format!("empty file: expected {expected}")));
    }
    if has_header {
        check_header(&header).map_err(|(column, message)| data_error(path, 1, column, message))?;
    }
    let chosen = choose(&header).map_err(|message| data_error(path, 1, 0, message))?;
    let mut target = chosen.target.map(|(c, name)| TargetColumn {
        name,
        column: c + 1,
        cells: Vec::new(),
        lines: Vec::new(),
    });
    let what = format!("the data of {}", path.display());
    let mut values = Vec::new();
    let mut target_bytes = 0u64;
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    let next = |reader: &mut csv::Reader<LineCounter<R>>, record: &mut csv::StringRecord| {
        reader.read_record(record).map_err(|e| csv_error(path, e, reader))
    };
    while next(&mut reader, &mut record)? {
        let line = record.position().map_or(0, |p| reader.get_mut().line_at(p.byte()));
        // A quote left open swallows the rest of the file into one cell (which starts on the
        // record's line: the cells before it hold no line break).
        if let Some(c) = record.iter().position(|cell| cell.contains(['\n', '\r'])) {
            let message = if next(&mut reader, &mut record)? {
                "quoted cell runs over several lines; a cell must fit on one line"
            } else {
                "unterminated quoted field: the quote opened here is not closed before the end of the file"
            };
            return Err(data_error(path, line, c + 1, message));
        }
        if record.len() != header.len() {
            let plural = if record.len() == 1 { "" } else { "s" };
            let first = if has_header { "header" } else { "first row" };
            return Err(data_error(
                path,
                line,
                0,
                format!("row has {} field{plural}, {first} has {}", record.len(), header.len()),
            ));
        }
        for (c, name) in &chosen.features {
            let value = parse_number(&record[*c])
                .map_err(|why| data_error(path, line, c + 1, format!("column {}: {why}", quote(name))))?;
            values.push(value);
        }
        if let Some(target) = target.as_mut() {
            let cell = &record[target.column - 1];
            target_bytes += (cell.len() + std::mem::size_of::<String>() + std::mem::size_of::<usize>()) as u64;
            target.cells.push(cell.to_string());
            target.lines.push(line);
        }
        rows += 1;
        if rows % ROWS_PER_MEMORY_CHECK == 0 {
            // what is held now, and as much again when the values grow next
            memory::check(&what, 2 * memory::bytes([values.len()], 4) + target_bytes)?;
        }
    }
    if rows == 0 {
        return Err(data_error(path, 1, 0, "header but no data rows"));
    }
    Ok(Table {
        feature_names: chosen.features.into_iter().map(|(_, name)| name).collect(),
        x: Matrix::from_vec(rows, values.len() / rows, values),
        target,
    })
}

/// A finite `f32`, or why the cell is not one.
fn parse_number(cell: &str) -> std::result::Result<f32, String> {
    if cell.is_empty() {
        return Err("empty cell, expected a number".to_string());
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{} is not a finite number", quote(cell))),
        Err(_) => Err(format!("{} is not a number", quote(cell))),
    }
}

/// Reads a labelled CSV (file or built-in): features and a target column.
fn parse_csv<R: Read>(source: R, path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let table = read_table(source, path, true, |header| {
        let target = match &options.target {
            Some(name) => header.iter().position(|h| h == name).ok_or_else(|| {
                format!(
                    "no target column {}; the columns are {}",
                    quote(name),
                    name_list(header)
                )
            })?,
            None => header.len() - 1,
        };
        if header.len() < 2 {
            return Err(format!(
                "only one column ({}): need at least one feature column besides the target",
                quote(&header[target])
            ));
        }
        Ok(Chosen {
            features: (0..header.len())
                .filter(|&c| c != target)
                .map(|c| (c, header[c].clone()))
                .collect(),
            target: Some((target, header[target].clone())),
        })
    })?;
    let column = table.target.expect("a target column was chosen");
    let target = build_target(&column, options.task, path)?;
    Ok(Dataset {
        x: table.x,
        feature_names: table.feature_names,
        target_name: column.name,
        target,
    })
}

/// Turns the text of a target column into classes or values, inferring the task when `task`
/// is `None`.
fn build_target(column: &TargetColumn, task: Option<Task>, path: &Path) -> Result<Target> {
    let error = |i: usize, why: String| {
        data_error(
            path,
            column.lines[i],
            column.column,
            format!("column {}: {why}", quote(&column.name)),
        )
    };
    if let Some(i) = column.cells.iter().position(|c| c.is_empty()) {
        return Err(error(i, "empty target cell".to_string()));
    }
    let task = match task {
        Some(task) => task,
        None => {
            let numbers: Option<Vec<f64>> = column.cells.iter().map(|c| c.parse::<f64>().ok()).collect();
            match numbers {
                None => Task::Classification,
                Some(numbers) => {
                    if let Some(i) = numbers.iter().position(|v| !v.is_finite()) {
                        let why = format!("{} is not a finite number", quote(&column.cells[i]));
                        return Err(error(i, why));
                    }
                    let distinct: BTreeSet<u64> = numbers.iter().map(|v| (v + 0.0).to_bits()).collect();
                    if numbers.iter().all(|v| v.fract() == 0.0) && distinct.len() <= MAX_INFERRED_CLASSES {
                        Task::Classification
                    } else {
                        Task::Regression
                    }
                }
            }
        }
    };
    match task {
        Task::Regression => column
            .cells
            .iter()
            .enumerate()
            .map(|(i, cell)| parse_number(cell).map_err(|why| error(i, format!("{why} (the task is regression)"))))
            .collect::<Result<Vec<f32>>>()
            .map(Target::Values),
        Task::Classification => Ok(classes_from_labels(&column.cells)),
    }
}

/// Classes from label texts. When every label is a finite number, labels that are the same
/// number are one class, named by [`canonical_number`]; otherwise each distinct text is a class.
fn classes_from_labels(cells: &[String]) -> Target {
    let canonical: Option<Vec<String>> = cells.iter().map(|c| canonical_number(c)).collect();
    let cells = canonical.as_deref().unwrap_or(cells);
    let classes = order_classes(cells.iter().cloned().collect());
    let index: HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let labels = cells.iter().map(|c| index[c.as_str()]).collect();
    Target::Classes { labels, classes }
}

/// Class labels in output order: numerically ascending when all are numbers (ties by text),
/// else lexicographic.
fn order_classes(labels: BTreeSet<String>) -> Vec<String> {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|v| !v.is_nan()))
        .collect();
    match numbers {
        None => labels.into_iter().collect(),
        Some(numbers) => {
            let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(labels).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            pairs.into_iter().map(|(_, l)| l).collect()
        }
    }
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

/// Parses a CSV compiled into the binary.
fn builtin_csv(name: &str, text: &str) -> Dataset {
    let path = PathBuf::from(format!("<builtin {name}>"));
    parse_csv(text.as_bytes(), &path, &CsvOptions::default())
        .unwrap_or_else(|e| panic!("built-in data set is malformed: {e}"))
}

// ---------------------------------------------------------------------------------------------
// IDX

/// A decoded IDX file of unsigned bytes.
struct IdxFile {
    dims: Vec<usize>,
    data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes with `n_dims` dimensions, gunzipping it if needed.
///
/// The header is read first and the size it promises checked against the memory limit (one
/// byte per element and the `f32` or `u32` each becomes) before the elements are read; a file
/// holding fewer or more elements than promised is refused. Every error names the file.
fn read_idx_file(path: &Path, n_dims: usize) -> Result<IdxFile> {
    let error = |message: String| data_error(path, 0, 0, message);
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = open(path)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut buffered = std::io::BufReader::new(file);
    let gzipped = buffered.fill_buf().map_err(io_error)?.starts_with(&[0x1f, 0x8b]);
    let mut source: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    // Up to `n` bytes (fewer at the end of the file).
    let mut read = |n: u64| -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        match source.by_ref().take(n).read_to_end(&mut bytes) {
            Ok(_) => Ok(bytes),
            Err(e) if gzipped => Err(error(format!("corrupt gzip data: {e}"))),
            Err(e) => Err(io_error(e)),
        }
    };
    let magic_bytes = read(4)?;
    let [b0, b1, type_code, dims_count] = magic_bytes[..] else {
        return Err(error(format!(
            "truncated IDX file: {} bytes, too short for the 4-byte magic number",
            magic_bytes.len()
        )));
    };
    let magic = u32::from_be_bytes([b0, b1, type_code, dims_count]);
    if b0 != 0 || b1 != 0 {
        return Err(error(format!(
            "not an IDX file: bad magic number 0x{magic:08x} (expected 0x{:08x})",
            0x800 + n_dims
        )));
    }
    let type_name = match type_code {
        0x08 => None,
        0x09 => Some("signed bytes"),
        0x0b => Some("16-bit integers"),
        0x0c => Some("32-bit integers"),
        0x0d => Some("32-bit floats"),
        0x0e => Some("64-bit floats"),
        code => {
            return Err(error(format!(
                "not an IDX file: bad magic number 0x{magic:08x} (unknown element type 0x{code:02x})"
            )))
        }
    };
    if let Some(type_name) = type_name {
        return Err(error(format!(
            "unsupported IDX element type 0x{type_code:02x} ({type_name}): only unsigned bytes (0x08) are supported"
        )));
    }
    if usize::from(dims_count) != n_dims {
        let what = if n_dims == 3 { "image" } else { "label" };
        return Err(error(format!(
            "expected an IDX {what} file with {n_dims} dimension(s) (magic 0x{:08x}), found {dims_count} (magic 0x{magic:08x})",
            0x800 + n_dims,
        )));
    }
    let header_len = 4 + 4 * n_dims;
    let dim_bytes = read(4 * n_dims as u64)?;
    if dim_bytes.len() < 4 * n_dims {
        return Err(error(format!(
            "truncated IDX file: the header needs {header_len} bytes, found {}",
            4 + dim_bytes.len()
        )));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let shape = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
    // Each byte becomes an f32 pixel or a u32 label: 5 bytes each while both are held.
    memory::check(
        &format!("{} ({shape} bytes)", path.display()),
        memory::bytes(dims.iter().copied(), 5),
    )?;
    let size = memory::bytes(dims.iter().copied(), 1);
    if !gzipped && file_len != header_len as u64 + size {
        let found = file_len.saturating_sub(header_len as u64);
        let problem = if found < size {
            "truncated IDX file"
        } else {
            "IDX file longer than its header says"
        };
        return Err(error(format!(
            "{problem}: header promises {shape} bytes, found {found}"
        )));
    }
    let data = read(size)?;
    if (data.len() as u64) < size {
        return Err(error(format!(
            "truncated IDX file: header promises {shape} bytes, found {}",
            data.len()
        )));
    }
    if !read(1)?.is_empty() {
        return Err(error(format!(
            "IDX file longer than its header says: header promises {shape} bytes, found more"
        )));
    }
    Ok(IdxFile { dims, data })
}

// ---------------------------------------------------------------------------------------------
// Synthetic sets

/// A generated 2-D binary classification set, or `None` for an unknown name.
///
/// Both classes get half the samples (class 0 one more when the count is odd); rows are
/// shuffled so that the classes interleave.
fn synthetic(name: &str, options: &SyntheticOptions) -> Option<Dataset> {
    // Default noise, and a random noise-free point of class `c`.
    type Generator = fn(&mut ChaCha8Rng, u32) -> [f32; 2];
    let (default_noise, generate): (f32, Generator) = match name {
        "xor" => (0.05, xor_point),
        "circles" => (0.05, circle_point),
        "moons" => (0.1, moon_point),
        "spirals" => (0.05, spiral_point),
        "gauss" => (0.5, |_, c| if c == 0 { [-1.0, -1.0] } else { [1.0, 1.0] }),
        _ => return None,
    };
    let n = options.samples.unwrap_or(DEFAULT_SAMPLES);
    let noise = options.noise.unwrap_or(default_noise);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut labels: Vec<u32> = (0..n).map(|i| u32::from(i >= n.div_ceil(2))).collect();
    labels.shuffle(&mut rng);
    let mut data = Vec::with_capacity(2 * n);
    for &c in &labels {
        let [x, y] = generate(&mut rng, c);
        let dx: f32 = StandardNormal.sample(&mut rng);
        let dy: f32 = StandardNormal.sample(&mut rng);
        data.extend([x + noise * dx, y + noise * dy]);
    }
    Some(Dataset {
        x: Matrix::from_vec(n, 2, data),
        feature_names: vec!["x".to_string(), "y".to_string()],
        target_name: "label".to_string(),
        target: Target::Classes {
            labels,
            classes: vec!["0".to_string(), "1".to_string()],
        },
    })
}

/// Uniform in the quadrants of class `c` (1 when the signs of x and y differ), at least
/// `XOR_MARGIN` from both axes so that the noise-free set is separable with a margin.
fn xor_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    const XOR_MARGIN: f32 = 0.1;
    let mut coordinate = || {
        let magnitude: f32 = rng.random_range(XOR_MARGIN..1.0);
        if rng.random_range(0..2) == 0 {
            magnitude
        } else {
            -magnitude
        }
    };
    let x = coordinate();
    let y = coordinate().abs();
    let same_sign = if x > 0.0 { y } else { -y };
    [x, if c == 0 { same_sign } else { -same_sign }]
}

/// On the outer circle (radius 1) for class 0, the inner one (radius 0.5) for class 1.
fn circle_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let radius = if c == 0 { 1.0 } else { 0.5 };
    [radius * angle.cos(), radius * angle.sin()]
}

/// On the upper moon for class 0, the lower, shifted one for class 1 (as scikit-learn).
fn moon_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let angle = rng.random_range(0.0..std::f32::consts::PI);
    if c == 0 {
        [angle.cos(), angle.sin()]
    } else {
        [1.0 - angle.cos(), 0.5 - angle.sin()]
    }
}

/// On arm `c` of two interleaved spirals of 1.5 turns, radius growing from 0 to 1.
fn spiral_point(rng: &mut ChaCha8Rng, c: u32) -> [f32; 2] {
    let t: f32 = rng.random_range(0.0..1.0);
    let angle = 3.0 * std::f32::consts::PI * t + std::f32::consts::PI * c as f32;
    [t * angle.cos(), t * angle.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Reads `content` as a CSV file named `data.csv`.
    fn csv(content: &str, options: &CsvOptions) -> Result<Dataset> {
        let dir = tempfile::tempdir().unwrap();
        read_csv(&write(dir.path(), "data.csv", content.as_bytes()), options)
    }

    fn classes_of(data: &Dataset) -> (&[u32], Vec<&str>) {
        match &data.target {
            Target::Classes { labels, classes } => (labels, classes.iter().map(String::as_str).collect()),
            other => panic!("expected classes, got {other:?}"),
        }
    }

    /// The error of reading `content`, as its position and displayed text.
    fn csv_err(content: &str, options: &CsvOptions) -> (usize, usize, String) {
        match csv(content, options) {
            Err(e @ Error::Data { line, column, .. }) => (line, column, e.to_string()),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn iris_builtin() {
        let split = builtin("iris", &SyntheticOptions::default_for_tests()).unwrap();
        let iris = split.train;
        assert!(split.test.is_none());
        assert_eq!((iris.len(), iris.n_features()), (150, 4));
        assert_eq!(iris.task(), Some(Task::Classification));
        let (labels, classes) = classes_of(&iris);
        assert_eq!(classes, ["0", "1", "2"]);
        for c in 0..3 {
            assert_eq!(labels.iter().filter(|&&l| l == c).count(), 50);
        }
        assert_eq!(iris.x.row(0), &[5.1, 3.5, 1.4, 0.2]);
        assert_eq!(iris.target_name, "species");
    }

    #[test]
    fn digits_builtin() {
        let digits = builtin("digits", &SyntheticOptions::default_for_tests()).unwrap().train;
        assert_eq!((digits.len(), digits.n_features()), (1797, 64));
        let (_, classes) = classes_of(&digits);
        assert_eq!(classes, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    }

    #[test]
    fn mnist1d_builtin() {
        let split = builtin("mnist1d", &SyntheticOptions::default_for_tests()).unwrap();
        let test = split.test.expect("mnist1d has a test set");
        assert_eq!((split.train.len(), split.train.n_features()), (4000, 40));
        assert_eq!((test.len(), test.n_features()), (1000, 40));
        assert_eq!(classes_of(&split.train).1.len(), 10);
        assert_eq!(classes_of(&split.train).1, classes_of(&test).1);
    }

    #[test]
    fn builtin_names_all_known_and_unknown_is_none() {
        let options = SyntheticOptions {
            samples: Some(20),
            ..SyntheticOptions::default_for_tests()
        };
        for name in BUILTIN_NAMES {
            assert!(builtin(name, &options).is_some(), "{name}");
        }
        assert!(builtin("nope", &options).is_none());
    }

    #[test]
    fn string_labels_ordered_lexicographically() {
        let data = csv(
            "a,b,species\n1,2,virginica\n3,4,setosa\n5,6,versicolor\n7,8,setosa\n",
            &CsvOptions::default(),
        )
        .unwrap();
        let (labels, classes) = classes_of(&data);
        assert_eq!(classes, ["setosa", "versicolor", "virginica"]);
        assert_eq!(labels, [2, 0, 1, 0]);
        assert_eq!(data.feature_names, ["a", "b"]);
        assert_eq!(data.target_name, "species");
    }

    #[test]
    fn numeric_labels_ordered_numerically() {
        let data = csv("a,label\n1,10\n2,2\n3,1\n4,2\n", &CsvOptions::default()).unwrap();
        let (labels, classes) = classes_of(&data);
        assert_eq!(classes, ["1", "2", "10"]);
        assert_eq!(labels, [2, 1, 0, 1]);
    }

    #[test]
    fn regression_inferred_for_float_targets() {
        let data = csv("a,y\n1,0.5\n2,1\n3,-2.25\n", &CsvOptions::default()).unwrap();
        assert_eq!(data.task(), Some(Task::Regression));
        assert_eq!(data.target, Target::Values(vec![0.5, 1.0, -2.25]));
    }

    #[test]
    fn many_distinct_integers_are_regression() {
        let text: String = std::iter::once("a,y\n".to_string())
            .chain((0..40).map(|i| format!("{i},{}\n", i * 3)))
            .collect();
        assert_eq!(
            csv(&text, &CsvOptions::default()).unwrap().task(),
            Some(Task::Regression)
        );
        let text: String = std::iter::once("a,y\n".to_string())
            .chain((0..40).map(|i| format!("{i},{}\n", i % 32)))
            .collect();
        assert_eq!(
            csv(&text, &CsvOptions::default()).unwrap().task(),
            Some(Task::Classification)
        );
    }

    #[test]
    fn target_by_name_selects_a_middle_column() {
        let options = CsvOptions {
            target: Some("t".to_string()),
            task: None,
        };
        let data = csv("a, t ,b\n1,x,2\n3,y,4\n", &options).unwrap();
        assert_eq!(data.feature_names, ["a", "b"]);
        assert_eq!(data.target_name, "t");
        assert_eq!(data.x.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(classes_of(&data).1, ["x", "y"]);
    }

    #[test]
    fn forced_tasks() {
        let regression = CsvOptions {
            target: None,
            task: Some(Task::Regression),
        };
        let data = csv("a,y\n1,1\n2,2\n", &regression).unwrap();
        assert_eq!(data.target, Target::Values(vec![1.0, 2.0]));
        let (line, column, text) = csv_err("a,b,y\n1,2,3\n4,5,cat\n", &regression);
        assert_eq!((line, column), (3, 3));
        assert!(
            text.contains("data.csv:3:3: column 'y': 'cat' is not a number"),
            "{text}"
        );

        let classification = CsvOptions {
            target: None,
            task: Some(Task::Classification),
        };
        let data = csv("a,y\n1,0.5\n2,1.5\n3,0.5\n4,1.0\n", &classification).unwrap();
        let (labels, classes) = classes_of(&data);
        assert_eq!(classes, ["0.5", "1", "1.5"]);
        assert_eq!(labels, [0, 2, 0, 1]);
    }

    #[test]
    fn whitespace_is_trimmed() {
        let data = csv(" a , b \n 1 , x \n2,  y\n", &CsvOptions::default()).unwrap();
        assert_eq!(data.feature_names, ["a"]);
        assert_eq!(classes_of(&data).1, ["x", "y"]);
    }

    #[test]
    fn empty_file_and_header_only() {
        let (line, column, text) = csv_err("", &CsvOptions::default());
        assert_eq!((line, column), (1, 0));
        assert!(text.contains("data.csv:1: empty file"), "{text}");
        let (line, column, text) = csv_err("a,b\n", &CsvOptions::default());
        assert_eq!((line, column), (1, 0));
        assert!(text.contains("data.csv:1: header but no data rows"), "{text}");
    }

    #[test]
    fn single_column_is_an_error() {
        let (line, _, text) = csv_err("label\n1\n2\n", &CsvOptions::default());
        assert_eq!(line, 1);
        assert!(text.contains("feature column"), "{text}");
    }

    #[test]
    fn ragged_row() {
        let (line, column, text) = csv_err("a,b,c,d,e\n1,2,3,4,0\n1,2,3\n", &CsvOptions::default());
        assert_eq!((line, column), (3, 0));
        assert!(text.contains("data.csv:3: row has 3 fields, header has 5"), "{text}");
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let header = "sepal_length,sepal_width,petal_length,label\n1,2,3,a\n4,5,6,b\n";
        let cases = [
            ("abc", "'abc' is not a number"),
            ("NaN", "'NaN' is not a finite number"),
            ("inf", "'inf' is not a finite number"),
            ("-inf", "'-inf' is not a finite number"),
            ("", "empty cell"),
        ];
        for (cell, why) in cases {
            let content = format!("{header}7,8,{cell},c\n");
            let (line, column, text) = csv_err(&content, &CsvOptions::default());
            assert_eq!((line, column), (4, 3), "{cell}");
            let expected = format!("data.csv:4:3: column 'petal_length': {why}");
            assert!(text.contains(&expected), "{text}");
        }
    }

    #[test]
    fn blank_lines_keep_line_numbers() {
        let (line, column, _) = csv_err("a,b\n1,x\n\n2,y\nz,w\n", &CsvOptions::default());
        assert_eq!((line, column), (5, 1));
    }

    #[test]
    fn missing_target_column_lists_columns() {
        let options = CsvOptions {
            target: Some("class".to_string()),
            task: None,
        };
        let (line, _, text) = csv_err("a,b,label\n1,2,3\n", &options);
        assert_eq!(line, 1);
        assert!(text.contains("data.csv:1:"), "{text}");
        assert!(
            text.contains("no target column 'class'; the columns are 'a', 'b', 'label'"),
            "{text}"
        );
    }

    #[test]
    fn non_finite_numeric_target_is_an_error() {
        let (line, column, _) = csv_err("a,y\n1,0.5\n2,nan\n", &CsvOptions::default());
        assert_eq!((line, column), (3, 2));
        let (line, column, _) = csv_err("a,y\n1,0.5\n2,\n", &CsvOptions::default());
        assert_eq!((line, column), (3, 2));
    }

    #[test]
    fn missing_file_is_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let result = read_csv(&dir.path().join("none.csv"), &CsvOptions::default());
        assert!(matches!(result, Err(Error::Io { .. })));
    }

    fn columns<'a>(features: &'a [String], target: &'a str, task: Option<Task>) -> Columns<'a> {
        Columns {
            features,
            target,
            task,
            header: true,
        }
    }

    /// Reads `content` as `data.csv` through [`read_csv_columns`].
    fn matched(content: &str, columns: &Columns) -> Result<Matched> {
        let dir = tempfile::tempdir().unwrap();
        read_csv_columns(&write(dir.path(), "data.csv", content.as_bytes()), columns)
    }

    fn matched_err(content: &str, columns: &Columns) -> (usize, usize, String) {
        match matched(content, columns) {
            Err(e @ Error::Data { line, column, .. }) => (line, column, e.to_string()),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn reordered_columns_give_the_same_data_set() {
        let features = strings(&["a", "b", "c"]);
        let want = columns(&features, "y", Some(Task::Regression));
        let original = matched("a,b,c,y\n1,2,3,0.5\n4,5,6,1.5\n", &want).unwrap();
        let reordered = matched("y,c,a,b\n0.5,3,1,2\n1.5,6,4,5\n", &want).unwrap();
        assert_eq!(original.data, reordered.data);
        assert_eq!(reordered.data.x.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(reordered.data.target, Target::Values(vec![0.5, 1.5]));
        assert_eq!(reordered.data.target_name, "y");
        assert!(reordered.ignored.is_empty());
        // The same for classes.
        let want = columns(&features, "y", Some(Task::Classification));
        let reordered = matched("c,y,b,a\n3,x,2,1\n6,w,5,4\n", &want).unwrap();
        assert_eq!(reordered.data.x.as_slice(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(classes_of(&reordered.data), (&[1, 0][..], vec!["w", "x"]));
    }

    #[test]
    fn missing_columns_are_each_named() {
        let features = strings(&["a", "b", "c"]);
        let want = columns(&features, "y", Some(Task::Regression));
        let (line, _, text) = matched_err("a,c,y\n1,2,3\n", &want);
        assert_eq!(line, 1);
        assert!(
            text.contains("missing column 'b'; the file has 'a', 'c', 'y'"),
            "{text}"
        );
        let (_, _, text) = matched_err("c,x,b\n1,2,3\n", &want);
        assert!(
            text.contains("missing columns 'a', 'y'; the file has 'c', 'x', 'b'"),
            "{text}"
        );
        // Data to predict on needs no target.
        let predict = columns(&features, "y", None);
        let data = matched("c,b,a\n3,2,1\n", &predict).unwrap().data;
        assert_eq!(data.x.as_slice(), &[1.0, 2.0, 3.0]);
        assert_eq!((data.target, data.target_name.as_str()), (Target::None, ""));
    }

    #[test]
    fn extra_columns_are_reported_and_the_target_is_not_a_feature() {
        let features = strings(&["a", "b"]);
        let content = "id,b,y,a,note\n7,2,1.5,1,x\n8,4,2.5,3,z\n";
        let read = matched(content, &columns(&features, "y", Some(Task::Regression))).unwrap();
        assert_eq!(read.ignored, ["id", "note"]);
        assert_eq!(read.data.x.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        // Predicting: the target column is skipped, not reported.
        let read = matched(content, &columns(&features, "y", None)).unwrap();
        assert_eq!(read.ignored, ["id", "note"]);
        assert_eq!(read.data.feature_names, ["a", "b"]);
        assert_eq!(read.data.target, Target::None);
    }

    #[test]
    fn without_header_columns_go_by_position_and_their_count_is_checked() {
        let features = strings(&["a", "b"]);
        let no_header = |task| Columns {
            header: false,
            ..columns(&features, "y", task)
        };
        let read = matched("1,2,0\n3,4,1\n", &no_header(Some(Task::Classification))).unwrap();
        assert_eq!(read.data.x.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(classes_of(&read.data), (&[0, 1][..], vec!["0", "1"]));
        assert_eq!(read.data.feature_names, ["a", "b"]);
        let read = matched("1,2\n3,4\n", &no_header(None)).unwrap();
        assert_eq!((read.data.len(), read.data.n_features()), (2, 2));
        let (line, _, text) = matched_err("1,2\n3,4\n", &no_header(Some(Task::Regression)));
        assert_eq!(line, 1);
        assert!(
            text.contains("expected 3 columns (2 features and the target last), found 2"),
            "{text}"
        );
        let (_, _, text) = matched_err("1,2,3\n", &no_header(None));
        assert!(text.contains("expected 2 columns (2 features), found 3"), "{text}");
        // A bad cell is named by the feature it should be.
        let (line, column, text) = matched_err("1,2\n3,x\n", &no_header(None));
        assert_eq!((line, column), (2, 2));
        assert!(text.contains("column 'b': 'x' is not a number"), "{text}");
    }

    #[test]
    fn crlf_files_report_the_right_lines() {
        let (line, column, text) = csv_err("a,b\r\n1,x\r\n2,y\r\nz,w\r\n", &CsvOptions::default());
        assert_eq!((line, column), (4, 1), "{text}");
        let (line, column, _) = csv_err("a,b\r\n1,x\r\n\r\n2,y\r\n3\r\n", &CsvOptions::default());
        assert_eq!((line, column), (5, 0));
    }

    #[test]
    fn duplicate_and_empty_header_names_are_refused() {
        let options = CsvOptions {
            target: Some("a".to_string()),
            task: None,
        };
        let (line, column, text) = csv_err("a,b,a\n1,2,3\n", &options);
        assert_eq!((line, column), (1, 3));
        assert!(text.contains("columns 1 and 3 are both named 'a'"), "{text}");
        let (line, column, text) = csv_err("x,,y\n1,2,3\n", &CsvOptions::default());
        assert_eq!((line, column), (1, 2));
        assert!(text.contains("column 2 has no name"), "{text}");
        let features = strings(&["x"]);
        let (_, _, text) = matched_err("x,y,x\n1,2,3\n", &columns(&features, "y", None));
        assert!(text.contains("columns 1 and 3 are both named 'x'"), "{text}");
    }

    #[test]
    fn numeric_labels_of_the_same_number_are_one_class() {
        let data = csv("a,y\n1,0\n2,0.0\n3,1\n4,1.00\n5,-0\n6,1e0\n", &CsvOptions::default()).unwrap();
        assert_eq!(classes_of(&data), (&[0, 0, 1, 1, 0, 1][..], vec!["0", "1"]));
        // Labels that are not all numbers keep their text.
        let data = csv("a,y\n1,0\n2,0.0\n3,cat\n", &CsvOptions::default()).unwrap();
        assert_eq!(classes_of(&data).1, ["0", "0.0", "cat"]);
    }

    #[test]
    fn long_cells_are_cut_short_in_messages() {
        let cell = "9".repeat(100) + &"x".repeat(10_000_000);
        let (line, column, text) = csv_err(&format!("a,y\n1,0\n{cell},1\n"), &CsvOptions::default());
        assert_eq!((line, column), (3, 1));
        assert!(text.len() < 200, "{} characters", text.len());
        assert!(text.ends_with("is not a number"), "{}", &text[..300.min(text.len())]);
        assert!(
            text.contains(&format!("'{}…' (10000100 characters) is not a number", "9".repeat(79))),
            "{text}"
        );
        let options = CsvOptions {
            target: Some("y".to_string()),
            task: None,
        };
        let (_, _, text) = csv_err(&format!("a,{cell}\n1,0\n"), &options);
        assert!(text.len() < 300, "{} characters", text.len());
        assert!(
            text.contains("(10000100 characters)"),
            "{}",
            &text[..300.min(text.len())]
        );
        assert_eq!(quote("short"), "'short'");
        assert_eq!(quote(&"é".repeat(80)), format!("'{}'", "é".repeat(80)));
    }

    #[test]
    fn unterminated_quote_is_named_where_it_opens() {
        let (line, column, text) = csv_err("a,b,y\n1,2,x\n3,\"4,z\n5,6,w\n7,8,v\n", &CsvOptions::default());
        assert_eq!((line, column), (3, 2), "{text}");
        assert!(text.contains("data.csv:3:2: unterminated quoted field"), "{text}");
        // A closed quote over two lines is not a number either, but says so.
        let (line, column, text) = csv_err("a,b,y\n1,2,\"x\ny\"\n3,4,z\n", &CsvOptions::default());
        assert_eq!((line, column), (2, 3));
        assert!(text.contains("runs over several lines"), "{text}");
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
        let err = words.with_task(Task::Regression).unwrap_err().to_string();
        assert!(err.contains("the target 'y' holds the class 'cat'"), "{err}");
    }

    // ---- IDX -----------------------------------------------------------------------------

    fn idx_bytes(type_code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, type_code, dims.len() as u8];
        for d in dims {
            bytes.extend(d.to_be_bytes());
        }
        bytes.extend_from_slice(data);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    const PIXELS: [u8; 12] = [0, 1, 2, 3, 10, 20, 30, 40, 255, 254, 253, 252];

    fn tiny_images() -> Vec<u8> {
        idx_bytes(0x08, &[3, 2, 2], &PIXELS)
    }

    fn tiny_labels(labels: &[u8]) -> Vec<u8> {
        idx_bytes(0x08, &[labels.len() as u32], labels)
    }

    fn idx_err(images: &[u8], labels: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "images", images);
        let l = write(dir.path(), "labels", labels);
        match read_idx(&i, &l) {
            Err(e @ Error::Data { line: 0, column: 0, .. }) => e.to_string(),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn idx_round_trip_raw_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let images = tiny_images();
        let labels = tiny_labels(&[7, 2, 7]);
        for gz in [false, true] {
            let wrap = |b: &[u8]| if gz { gzip(b) } else { b.to_vec() };
            let i = write(dir.path(), "i", &wrap(&images));
            let l = write(dir.path(), "l", &wrap(&labels));
            let data = read_idx(&i, &l).unwrap();
            assert_eq!((data.len(), data.n_features()), (3, 4));
            let expected: Vec<f32> = PIXELS.iter().map(|&p| f32::from(p)).collect();
            assert_eq!(data.x.as_slice(), expected.as_slice());
            assert_eq!(data.feature_names, ["px0", "px1", "px2", "px3"]);
            let (labels, classes) = classes_of(&data);
            assert_eq!(classes, ["2", "7"]);
            assert_eq!(labels, [1, 0, 1]);
        }
    }

    #[test]
    fn idx_truncated() {
        let mut images = tiny_images();
        images.truncate(images.len() - 2);
        let err = idx_err(&images, &tiny_labels(&[1, 2, 3]));
        assert!(
            err.contains("truncated IDX file: header promises 3×2×2 bytes, found 10"),
            "{err}"
        );
        assert!(err.contains("images"), "{err}");
        let err = idx_err(&tiny_images()[..9], &tiny_labels(&[1, 2, 3]));
        assert!(err.contains("truncated"), "{err}");
        let err = idx_err(&tiny_images(), &gzip(&tiny_labels(&[1, 2, 3]))[..1]);
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn idx_header_promising_too_much_is_refused_before_reading() {
        // 2^14 × 2^13 × 2^13 = 2^40 pixels, promised by a gzip file of a few dozen bytes
        let dir = tempfile::tempdir().unwrap();
        let bomb = gzip(&idx_bytes(0x08, &[1 << 14, 1 << 13, 1 << 13], &[0; 4096]));
        assert!(bomb.len() < 200);
        let images = write(dir.path(), "bomb.gz", &bomb);
        let labels = write(dir.path(), "labels", &tiny_labels(&[1]));
        let err = read_idx(&images, &labels).unwrap_err();
        assert!(matches!(err, Error::Memory { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("bomb.gz (16384×8192×8192 bytes) needs about 5.0 TiB"),
            "{text}"
        );
    }

    #[test]
    fn idx_files_must_hold_exactly_what_the_header_promises() {
        let mut longer = tiny_images();
        longer.extend([7, 7]);
        for (wrap, found) in [(false, "found 14"), (true, "found more")] {
            let bytes = if wrap { gzip(&longer) } else { longer.clone() };
            let err = idx_err(&bytes, &tiny_labels(&[1, 2, 3]));
            assert!(err.contains("images: IDX file longer than its header says"), "{err}");
            assert!(err.contains(&format!("header promises 3×2×2 bytes, {found}")), "{err}");
        }
        let mut shorter = tiny_images();
        shorter.truncate(shorter.len() - 3);
        let err = idx_err(&gzip(&shorter), &tiny_labels(&[1, 2, 3]));
        assert!(
            err.contains("images: truncated IDX file: header promises 3×2×2 bytes, found 9"),
            "{err}"
        );
        // A gzip stream cut short.
        let cut = gzip(&tiny_images());
        let err = idx_err(&cut[..cut.len() - 6], &tiny_labels(&[1, 2, 3]));
        assert!(err.contains("images: corrupt gzip data"), "{err}");
    }

    #[test]
    fn idx_without_images_or_pixels_names_the_file() {
        for dims in [[0, 2, 2], [3, 0, 5]] {
            let err = idx_err(
                &idx_bytes(0x08, &dims, &[]),
                &tiny_labels(&[1, 2, 3][..dims[0] as usize]),
            );
            assert!(err.contains("images: the IDX header promises"), "{err}");
        }
    }

    #[test]
    fn idx_bad_magic_and_types() {
        let labels = tiny_labels(&[1, 2, 3]);
        let mut images = tiny_images();
        images[0] = 0x50;
        let err = idx_err(&images, &labels);
        assert!(err.contains("bad magic number 0x50000803"), "{err}");
        let err = idx_err(&idx_bytes(0x0d, &[3, 2, 2], &[0; 48]), &labels);
        assert!(err.contains("unsupported IDX element type 0x0d"), "{err}");
        // Image and label files swapped.
        let err = idx_err(&labels, &tiny_images());
        assert!(err.contains("expected an IDX image file with 3 dimension(s)"), "{err}");
    }

    #[test]
    fn idx_mismatched_counts() {
        let err = idx_err(&tiny_images(), &tiny_labels(&[1, 2]));
        assert!(err.contains("2 labels") && err.contains("3 images"), "{err}");
        assert!(err.contains("labels: 2 labels"), "{err}");
    }

    #[test]
    fn idx_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train-images-idx3-ubyte.gz", &gzip(&tiny_images()));
        write(dir.path(), "train-labels-idx1-ubyte", &tiny_labels(&[0, 1, 1]));
        write(
            dir.path(),
            "t10k-images-idx3-ubyte",
            &idx_bytes(0x08, &[1, 2, 2], &[9; 4]),
        );
        let err = read_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("t10k-labels-idx1-ubyte"), "{err}");
        write(dir.path(), "t10k-labels.idx1-ubyte.gz", &gzip(&tiny_labels(&[5])));
        let split = read_idx_dir(dir.path()).unwrap();
        let test = split.test.unwrap();
        assert_eq!((split.train.len(), test.len()), (3, 1));
        // Both sets get the union of the classes.
        assert_eq!(classes_of(&split.train), (&[0, 1, 1][..], vec!["0", "1", "5"]));
        assert_eq!(classes_of(&test), (&[2][..], vec!["0", "1", "5"]));
        assert!(matches!(
            read_idx_dir(&dir.path().join("absent")),
            Err(Error::Io { .. })
        ));
    }

    /// Loads the Fashion-MNIST files of the Debian package `dataset-fashion-mnist`, when
    /// installed (`cargo test --release -- --ignored fashion`).
    #[test]
    #[ignore = "needs /usr/share/datasets/fashion-mnist"]
    fn fashion_mnist_from_debian_package() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.is_dir() {
            return;
        }
        let start = std::time::Instant::now();
        let split = read_idx_dir(dir).unwrap();
        eprintln!("loaded Fashion-MNIST in {:?}", start.elapsed());
        let test = split.test.unwrap();
        assert_eq!((split.train.len(), split.train.n_features()), (60000, 784));
        assert_eq!((test.len(), test.n_features()), (10000, 784));
        assert_eq!(classes_of(&test).1.len(), 10);
    }

    // ---- splits, standardization, datasets ------------------------------------------------

    fn labelled(counts: &[usize]) -> Dataset {
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
        }
    }

    fn count(data: &Dataset, class: u32) -> usize {
        classes_of(data).0.iter().filter(|&&l| l == class).count()
    }

    #[test]
    fn stratified_split_keeps_proportions() {
        let data = labelled(&[100, 50, 10, 2]);
        let (train, test) = stratified_split(&data, 0.2, 7);
        assert_eq!([0, 1, 2, 3].map(|c| count(&test, c)), [20, 10, 2, 1]);
        assert_eq!([0, 1, 2, 3].map(|c| count(&train, c)), [80, 40, 8, 1]);
        assert_eq!(classes_of(&test).1, ["0", "1", "2", "3"]);
        // Every sample in exactly one part.
        let mut all: Vec<f32> = train.x.as_slice().iter().chain(test.x.as_slice()).copied().collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..162).map(|i| i as f32).collect::<Vec<_>>());
        // Labels still match the rows.
        for part in [&train, &test] {
            for (row, &label) in part.x.iter_rows().zip(classes_of(part).0) {
                assert_eq!(
                    data.subset(&[row[0] as usize]).target,
                    Target::Classes {
                        labels: vec![label],
                        classes: strings(&["0", "1", "2", "3"]),
                    }
                );
            }
        }
    }

    #[test]
    fn stratified_split_is_seeded() {
        let data = labelled(&[60, 40]);
        let a = stratified_split(&data, 0.25, 1);
        let b = stratified_split(&data, 0.25, 1);
        let c = stratified_split(&data, 0.25, 2);
        assert_eq!(a.1, b.1);
        assert_eq!(a.0, b.0);
        assert_ne!(a.1.x, c.1.x);
    }

    #[test]
    fn regression_split_is_random_and_complete() {
        let data = Dataset {
            target: Target::Values((0..50).map(|i| i as f32).collect()),
            ..labelled(&[50])
        };
        let (train, test) = stratified_split(&data, 0.3, 3);
        assert_eq!((train.len(), test.len()), (35, 15));
        let Target::Values(values) = &test.target else { panic!() };
        assert_eq!(values.as_slice(), test.x.as_slice());
        assert_ne!(test.x.as_slice(), &(0..15).map(|i| i as f32).collect::<Vec<_>>()[..]);
        let (_, none) = stratified_split(&data, 0.0, 3);
        assert!(none.is_empty());
    }

    #[test]
    fn standardizer() {
        let mut x = Matrix::from_vec(
            4,
            3,
            vec![1.0, 5.0, 100.0, 2.0, 5.0, 200.0, 3.0, 5.0, 300.0, 4.0, 5.0, 400.0],
        );
        let s = Standardizer::fit(&x);
        assert_eq!(s.mean, [2.5, 5.0, 250.0]);
        assert_eq!(s.std[1], 1.0);
        assert!((s.std[0] - 1.118034).abs() < 1e-6);
        s.apply(&mut x);
        for c in [0, 2] {
            let column: Vec<f64> = x.iter_rows().map(|r| f64::from(r[c])).collect();
            let mean = column.iter().sum::<f64>() / 4.0;
            let var = column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-6 && (var.sqrt() - 1.0).abs() < 1e-6, "{mean} {var}");
        }
        assert!(x.iter_rows().all(|r| r[1] == 0.0));
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

    // ---- synthetic sets ---------------------------------------------------------------------

    impl SyntheticOptions {
        fn default_for_tests() -> Self {
            SyntheticOptions {
                samples: None,
                noise: None,
                seed: 0,
            }
        }
    }

    #[test]
    fn synthetic_sets() {
        for name in ["xor", "circles", "moons", "spirals", "gauss"] {
            let options = |samples, seed| SyntheticOptions {
                samples,
                noise: None,
                seed,
            };
            let data = builtin(name, &options(None, 1)).unwrap().train;
            assert_eq!(data.len(), 400, "{name}");
            let data = builtin(name, &options(Some(301), 1)).unwrap().train;
            assert_eq!((data.len(), data.n_features()), (301, 2), "{name}");
            assert_eq!(data.feature_names, ["x", "y"]);
            assert_eq!(data.target_name, "label");
            assert_eq!(classes_of(&data).1, ["0", "1"]);
            assert_eq!((count(&data, 0), count(&data, 1)), (151, 150), "{name}");
            // Interleaved, not one class after the other.
            assert!(classes_of(&data).0[..100].contains(&1), "{name}");
            assert!(data.x.as_slice().iter().all(|v| v.is_finite() && v.abs() < 5.0));
            let again = builtin(name, &options(Some(301), 1)).unwrap().train;
            assert_eq!(data, again, "{name}");
            let other = builtin(name, &options(Some(301), 2)).unwrap().train;
            assert_ne!(data.x, other.x, "{name}");
        }
    }

    #[test]
    fn synthetic_geometry() {
        let exact = |name| {
            builtin(
                name,
                &SyntheticOptions {
                    samples: Some(200),
                    noise: Some(0.0),
                    seed: 3,
                },
            )
            .unwrap()
            .train
        };
        let xor = exact("xor");
        for (r, &l) in xor.x.iter_rows().zip(classes_of(&xor).0) {
            assert_eq!(u32::from((r[0] > 0.0) != (r[1] > 0.0)), l);
        }
        let circles = exact("circles");
        for (r, &l) in circles.x.iter_rows().zip(classes_of(&circles).0) {
            let radius = r[0].hypot(r[1]);
            assert!((radius - if l == 0 { 1.0 } else { 0.5 }).abs() < 1e-5);
        }
        let gauss = exact("gauss");
        for (r, &l) in gauss.x.iter_rows().zip(classes_of(&gauss).0) {
            assert_eq!(r[0], if l == 0 { -1.0 } else { 1.0 });
        }
        let noisy = builtin(
            "gauss",
            &SyntheticOptions {
                samples: Some(2000),
                noise: Some(0.5),
                seed: 3,
            },
        )
        .unwrap()
        .train;
        let mean_x = noisy.x.iter_rows().map(|r| f64::from(r[0])).sum::<f64>() / 2000.0;
        assert!(mean_x.abs() < 0.1, "{mean_x}");
    }
}
