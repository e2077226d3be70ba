//! The library's error type.
//!
//! Every fallible function in actlab returns [`Result`]. Messages are written for the
//! person at the keyboard: they name the file, line and column, or the setting, at fault.

use std::path::PathBuf;

/// Result alias used throughout actlab.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in actlab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// An output path that actlab refuses to write (see [`crate::fileio`]): not a regular
    /// file, an input of the same command, or in a missing directory.
    #[error("{path}: {message}")]
    Output {
        /// The output path as given.
        path: PathBuf,
        /// Why it is refused.
        message: String,
    },
    /// A data file is malformed. `line` and `column` are 1-based; 0 means "not applicable".
    #[error("{}", format_location(path, *line, *column, message))]
    Data {
        /// The file at fault.
        path: PathBuf,
        /// 1-based line number, 0 when the error concerns the whole file.
        line: usize,
        /// 1-based column number, 0 when the error concerns a whole line.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// An activation name that actlab does not know.
    #[error("unknown activation '{name}'{}; valid names: {valid}", suggestion.as_ref().map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default())]
    UnknownActivation {
        /// What the user wrote.
        name: String,
        /// The closest valid name, if one is close.
        suggestion: Option<String>,
        /// All valid names, comma separated.
        valid: String,
    },
    /// A setting is out of range or inconsistent with another.
    #[error("{0}")]
    Config(String),
    /// One setting is out of range: `field` names it as the configuration spells it
    /// (`train.epochs`), so that a front end can name its own spelling (`--epochs`).
    #[error("{field} {message}")]
    Setting {
        /// The configuration field, dotted from [`crate::FitConfig`] (`train.batch_size`).
        field: &'static str,
        /// What is wrong with its value, e.g. `must be at least 1`.
        message: String,
    },
    /// A run to resume from a checkpoint differs from it in a setting.
    #[error("cannot resume from {}: it was made with {field} = {then}, this run has {now}; a run continues only with the settings and data it began with", path.display())]
    ResumeSetting {
        /// The checkpoint file.
        path: PathBuf,
        /// The setting that differs, dotted from [`crate::FitConfig`] (`train.epochs`).
        field: String,
        /// Its value in the checkpoint, as JSON.
        then: String,
        /// Its value in this run, as JSON.
        now: String,
    },
    /// A model file is truncated, corrupted or does not fit the data.
    #[error("{path}: {message}")]
    Model {
        /// The model file at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Training produced a non-finite loss.
    #[error(
        "training diverged at epoch {epoch}: {detail}; try a lower learning rate (now {})",
        short_number(*.learning_rate)
    )]
    Diverged {
        /// 1-based epoch in which the loss became non-finite.
        epoch: usize,
        /// Where the values first became non-finite.
        detail: String,
        /// The learning rate in use.
        learning_rate: f32,
    },
    /// An allocation would exceed the memory limit (see [`crate::memory`]).
    #[error("{what} needs about {} but the memory limit is {}", crate::memory::format_size(*needed), crate::memory::format_size(*limit))]
    Memory {
        /// What would be allocated.
        what: String,
        /// Estimated bytes.
        needed: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A chart could not be drawn or encoded.
    #[error("cannot draw the chart: {0}")]
    Plot(String),
}

/// `x` for a message: as written, or in scientific notation when its plain form would be long
/// (`1.9e31`, `1e-7`; `0.01` and `250` as they are).
pub fn short_number(x: f32) -> String {
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-5..1e9).contains(&magnitude) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

fn format_location(path: &std::path::Path, line: usize, column: usize, message: &str) -> String {
    match (line, column) {
        (0, _) => format!("{}: {message}", path.display()),
        (l, 0) => format!("{}:{l}: {message}", path.display()),
        (l, c) => format!("{}:{l}:{c}: {message}", path.display()),
    }
}

impl Error {
    /// Shorthand for a [`Error::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_messages_are_short() {
        let shown: Vec<String> = [0.0, 0.01, 250.0, -3.5, 1e-5, 999_999_900.0, 1e9, 1.9e31, -3e38, 1e-7]
            .into_iter()
            .map(short_number)
            .collect();
        assert_eq!(
            shown,
            [
                "0",
                "0.01",
                "250",
                "-3.5",
                "0.00001",
                "999999900",
                "1e9",
                "1.9e31",
                "-3e38",
                "1e-7"
            ]
        );
        let diverged = Error::Diverged {
            epoch: 1,
            detail: "the loss is inf".into(),
            learning_rate: 1e30,
        };
        assert_eq!(
            diverged.to_string(),
            "training diverged at epoch 1: the loss is inf; try a lower learning rate (now 1e30)"
        );
    }
}
