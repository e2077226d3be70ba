//! `actlab predict`.

use std::path::PathBuf;

use actlab::data::table::{Table, TableOptions};
use actlab::{data, fileio, model_io, Task};
use anyhow::{bail, Context, Result};
use clap::Args;

use crate::args::{check_output, print_notes, OutputKind, TableArgs};
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
    /// Write the CSV to this file instead of stdout. An existing text file is replaced (with a
    /// note); any other file (a model, say) is refused.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The CSV file has no header row: its columns are the model's features in training order
    /// (and nothing else).
    #[arg(long)]
    no_header: bool,
    /// Columns of the data file to copy, as written, into the output before the predictions
    /// (an identifier, say), comma separated.
    #[arg(long, value_name = "COLS", value_delimiter = ',', action = clap::ArgAction::Set)]
    keep: Vec<String>,
    #[command(flatten)]
    table: TableArgs,
    /// Refuse a category that the training data did not have (default: encode it as all zeros
    /// and count it in a note).
    #[arg(long)]
    strict: bool,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    let inputs = [args.model.as_path(), args.data.as_path()];
    let replaces = match &args.out {
        Some(out) => check_output("--out", out, &inputs, OutputKind::Text)?,
        None => false,
    };
    let (model, preprocessor) = model_io::load_with_preprocessor(&args.model)?;
    let options = TableOptions {
        header: !args.no_header,
        verbatim: args.keep.clone(),
        ..args.table.options()
    };
    let (data, ignored, kept) = match &preprocessor {
        Some(preprocessor) => {
            let read = preprocessor.read(&args.data, &options, None, args.strict)?;
            let kept = kept_cells(&read.table, &args.keep)?;
            print_notes(&read.notes);
            (read.data, read.ignored, kept)
        }
        None => {
            if let Some(flag) = args.table.flag_given().or(args.strict.then_some("--strict")) {
                bail!(
                    "{flag} needs a model that stores its preprocessing; retrain {} with this actlab",
                    args.model.display()
                );
            }
            let columns = data::Columns {
                header: !args.no_header,
                ..model.columns(None)
            };
            let read = data::read_csv_columns(&args.data, &columns)?;
            let kept = if args.keep.is_empty() {
                vec![Vec::new(); read.data.len()]
            } else {
                kept_cells(&data::table::read_table(&args.data, &options)?, &args.keep)?
            };
            (read.data, read.ignored, kept)
        }
    };
    let predictions = model.predict(&data).with_context(|| args.data.display().to_string())?;
    note_unused(&ignored);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = |names: &[String]| -> Vec<String> { args.keep.iter().chain(names).cloned().collect() };
    let record = |kept: &[String], values: Vec<String>| -> Vec<String> { kept.iter().cloned().chain(values).collect() };
    let name = if model.target_name.is_empty() {
        "prediction"
    } else {
        model.target_name.as_str()
    };
    match (model.task, args.proba) {
        (Task::Classification, true) => {
            writer.write_record(header(&model.classes))?;
            for (row, kept) in predictions.iter_rows().zip(&kept) {
                writer.write_record(record(kept, row.iter().map(|p| p.to_string()).collect()))?;
            }
        }
        (Task::Classification, false) => {
            writer.write_record(header(&[name.to_string()]))?;
            for (row, kept) in predictions.iter_rows().zip(&kept) {
                let label = model.classes[model.class_of(row)].clone();
                writer.write_record(record(kept, vec![label]))?;
            }
        }
        (Task::Regression, proba) => {
            if proba {
                bail!("--proba needs a classifier; {} predicts numbers", args.model.display());
            }
            writer.write_record(header(&[name.to_string()]))?;
            for (row, kept) in predictions.iter_rows().zip(&kept) {
                writer.write_record(record(kept, vec![row[0].to_string()]))?;
            }
        }
    }
    let bytes = writer.into_inner().context("writing CSV")?;
    match &args.out {
        Some(path) => {
            fileio::write_atomically(path, &bytes, &inputs).map_err(crate::args::flag("--out"))?;
            if replaces {
                eprintln!("note: --out {}: replaced the existing file", path.display());
            }
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).context("standard output")?;
        }
    }
    Ok(())
}

/// The cells of the columns `keep` in each row of `table`, as written (empty when missing).
fn kept_cells(table: &Table, keep: &[String]) -> Result<Vec<Vec<String>>> {
    let columns = keep
        .iter()
        .map(|name| {
            table.find(name).with_context(|| {
                format!(
                    "--keep {name}: {} has no such column; it has {}",
                    table.path.display(),
                    table.name_list()
                )
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    Ok((0..table.rows())
        .map(|r| {
            columns
                .iter()
                .map(|&c| table.columns[c].text(r).map(|t| t.into_owned()).unwrap_or_default())
                .collect()
        })
        .collect())
}
