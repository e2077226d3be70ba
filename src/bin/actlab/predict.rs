//! `actlab predict`.

use std::path::PathBuf;

use actlab::{data, fileio, model_io, Task};
use anyhow::{bail, Context, Result};
use clap::Args;

use crate::eval::note_unused;

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// CSV file with the model's feature columns, matched by name (other columns, such as the
    /// target, are ignored with a note).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// One probability column per class (named by its label) instead of the predicted class.
    #[arg(long)]
    proba: bool,
    /// Write the CSV to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The CSV file has no header row: its columns are the model's features in training order
    /// (and nothing else).
    #[arg(long)]
    no_header: bool,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    let inputs = [args.model.as_path(), args.data.as_path()];
    if let Some(out) = &args.out {
        fileio::check_output(out, &inputs).map_err(crate::args::flag("--out"))?;
    }
    let model = model_io::load(&args.model)?;
    let columns = data::Columns {
        header: !args.no_header,
        ..model.columns(None)
    };
    let read = data::read_csv_columns(&args.data, &columns)?;
    let predictions = model.predict(&read.data)?;
    note_unused(&read.ignored);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let name = if model.target_name.is_empty() {
        "prediction"
    } else {
        model.target_name.as_str()
    };
    match (model.task, args.proba) {
        (Task::Classification, true) => {
            writer.write_record(&model.classes)?;
            for row in predictions.iter_rows() {
                writer.write_record(row.iter().map(|p| p.to_string()))?;
            }
        }
        (Task::Classification, false) => {
            writer.write_record([name])?;
            for row in predictions.iter_rows() {
                writer.write_record([&model.classes[model.class_of(row)]])?;
            }
        }
        (Task::Regression, proba) => {
            if proba {
                bail!("--proba needs a classifier; {} predicts numbers", args.model.display());
            }
            writer.write_record([name])?;
            for row in predictions.iter_rows() {
                writer.write_record([row[0].to_string()])?;
            }
        }
    }
    let bytes = writer.into_inner().context("writing CSV")?;
    match &args.out {
        Some(path) => fileio::write_atomically(path, &bytes, &inputs).map_err(crate::args::flag("--out"))?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).context("standard output")?;
        }
    }
    Ok(())
}
