//! Reading a data set named by one string: a CSV file, a directory of IDX files, or the name
//! of a built-in set.

use std::path::Path;

use super::{builtin, read_csv, read_idx_dir, CsvOptions, Dataset, Split, SyntheticOptions, Task, BUILTIN_NAMES};
use crate::Error;

/// Where the Debian package `dataset-fashion-mnist` puts Fashion-MNIST (IDX files), read for the
/// name `fashion-mnist`.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// How [`load`] reads a data set.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Target column of a CSV file by header name; `None` means the last column. Built-in sets
    /// and IDX directories have their own target and refuse one.
    pub target: Option<String>,
    /// Read the target for this task; `None` infers it from a CSV file's target column and
    /// keeps the target of a built-in set or IDX directory as it comes.
    pub task: Option<Task>,
    /// Samples of a generated set (`xor`, `circles`, …); `None` uses the set's default.
    pub samples: Option<usize>,
    /// Noise of a generated set; `None` uses the set's default.
    pub noise: Option<f32>,
    /// Seed of a generated set.
    pub seed: u64,
}

/// A data set read by [`load`].
///
/// Whether its features are image pixels is [`Dataset::images`] of its data.
#[derive(Clone, Debug)]
pub struct Source {
    /// The data, with a test set of its own when the source defines one (MNIST-1D, IDX
    /// directories).
    pub split: Split,
    /// How the data is called in reports: the path as given, `fashion-mnist`, or the built-in
    /// set's name in lower case.
    pub name: String,
}

/// Why [`load`] failed. Messages name the setting at fault by its [`LoadOptions`] field; every
/// one converts into an [`Error`] with `?`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be read; the error names it.
    #[error(transparent)]
    Read(#[from] Error),
    /// A target column was named for an IDX directory (given as the field holds it).
    #[error("target: cannot be used with the IDX directory '{0}'")]
    TargetWithIdx(String),
    /// A target column was named for a built-in set (given as the field holds it).
    #[error("target: cannot be used with the built-in data set '{0}'")]
    TargetWithBuiltin(String),
    /// `fashion-mnist` was asked for, but [`FASHION_MNIST_DIR`] is not a directory.
    #[error("'fashion-mnist': {FASHION_MNIST_DIR} not found; install it with `apt-get install dataset-fashion-mnist`")]
    FashionMnistMissing,
    /// The string is neither an existing path nor the name of a built-in set (given as written).
    #[error("'{0}': no such file, and not a built-in data set ({names}, fashion-mnist)", names = BUILTIN_NAMES.join(", "))]
    Unknown(String),
    /// The target of a built-in set or IDX directory cannot be read for the task asked.
    #[error("task {} with the data set '{name}': {error}", task_name(*task))]
    Task {
        /// The task asked for.
        task: Task,
        /// The data set's name, as in [`Source::name`].
        name: String,
        /// Why its target does not fit the task.
        error: Error,
    },
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Read(error) => error,
            other => Error::config(other.to_string()),
        }
    }
}

/// The task in lower case, as messages name it.
fn task_name(task: Task) -> String {
    format!("{task:?}").to_lowercase()
}

/// Reads the data set `spec` names: a directory of IDX files in the MNIST layout (see
/// [`read_idx_dir`]); else an existing file, read as CSV (see [`read_csv`]); else
/// `fashion-mnist` (the IDX files in [`FASHION_MNIST_DIR`]) or a name of [`BUILTIN_NAMES`],
/// ignoring case.
///
/// # Errors
/// [`LoadError::Read`] with the reader's error; [`LoadError::TargetWithIdx`] and
/// [`LoadError::TargetWithBuiltin`] when `options.target` is given for a set that has its own
/// target; [`LoadError::FashionMnistMissing`]; [`LoadError::Unknown`] for a name that is neither
/// a path nor a built-in set; [`LoadError::Task`] when a built-in set's or IDX directory's target
/// cannot be read for `options.task`.
pub fn load(spec: &str, options: &LoadOptions) -> Result<Source, LoadError> {
    let path = Path::new(spec);
    if path.is_dir() {
        if options.target.is_some() {
            return Err(LoadError::TargetWithIdx(spec.to_string()));
        }
        let source = Source {
            split: read_idx_dir(path)?,
            name: spec.to_string(),
        };
        return with_task(source, options.task);
    }
    if path.exists() {
        let csv = CsvOptions {
            target: options.target.clone(),
            task: options.task,
        };
        let split = Split {
            train: read_csv(path, &csv)?,
            test: None,
        };
        return Ok(Source {
            split,
            name: spec.to_string(),
        });
    }
    if spec.eq_ignore_ascii_case("fashion-mnist") {
        if options.target.is_some() {
            return Err(LoadError::TargetWithBuiltin(spec.to_string()));
        }
        let dir = Path::new(FASHION_MNIST_DIR);
        if !dir.is_dir() {
            return Err(LoadError::FashionMnistMissing);
        }
        let source = Source {
            split: read_idx_dir(dir)?,
            name: "fashion-mnist".to_string(),
        };
        return with_task(source, options.task);
    }
    let synthetic = SyntheticOptions {
        samples: options.samples,
        noise: options.noise,
        seed: options.seed,
    };
    let name = spec.to_ascii_lowercase();
    if let Some(n) = options.samples {
        // Two f32 features and a u32 label per sample, and the shuffled copy the split makes.
        crate::memory::check(&format!("generating {n} samples"), crate::memory::bytes([n], 2 * 12))?;
    }
    let Some(split) = builtin(&name, &synthetic) else {
        return Err(LoadError::Unknown(spec.to_string()));
    };
    if options.target.is_some() {
        return Err(LoadError::TargetWithBuiltin(spec.to_string()));
    }
    with_task(Source { split, name }, options.task)
}

/// Reads the target of a built-in set or IDX directory for `task` (`None`: as it comes).
fn with_task(source: Source, task: Option<Task>) -> Result<Source, LoadError> {
    let Some(task) = task else {
        return Ok(source);
    };
    let Source { split, name } = source;
    let read = |data: Dataset| {
        data.with_task(task).map_err(|error| LoadError::Task {
            task,
            name: name.clone(),
            error,
        })
    };
    let train = read(split.train)?;
    let test = split.test.map(read).transpose()?;
    Ok(Source {
        split: Split { train, test },
        name,
    })
}

#[cfg(test)]
mod tests;
