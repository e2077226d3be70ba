//! `actlab eval`.

use std::path::{Path, PathBuf};

use actlab::{data, model_io};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use actlab::data::table::TableOptions;

use crate::args::{load_data, print_notes, DataArgs, Source, TableArgs};
use crate::train::{add_scores, describe};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// For a built-in data set: the --seed the model was trained with, which chose (and for
    /// generated sets, drew) the test part that is scored.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// The CSV file has no header row: its columns are the model's features in training order,
    /// then the target.
    #[arg(long)]
    no_header: bool,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    table: TableArgs,
    /// Refuse a category that the training data did not have (default: encode it as all zeros
    /// and count it in a note).
    #[arg(long)]
    strict: bool,
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let (model, preprocessor) = model_io::load_with_preprocessor(&args.model)?;
    let path = Path::new(&args.data.data);
    // A CSV file given by the user is scored whole, its columns matched by name (the target by
    // the model's target name unless --target names another); a built-in set or an IDX
    // directory by the test part that `actlab train` held out.
    let (data, unused, name, part) = if let (true, Some(preprocessor)) = (path.is_file(), &preprocessor) {
        // A model trained on a raw table reads raw tables the same way.
        let target = args.data.target.as_deref().unwrap_or(&model.target_name);
        let options = TableOptions {
            header: !args.no_header,
            ..args.table.options()
        };
        let read = preprocessor.read(path, &options, Some((target, model.task)), args.strict)?;
        print_notes(&read.notes);
        (read.data, read.ignored, args.data.data.clone(), "every row".to_string())
    } else if path.is_file() {
        if let Some(flag) = args.table.flag_given().or(args.strict.then_some("--strict")) {
            bail!(
                "{flag} needs a model that stores its preprocessing; retrain {} with this actlab",
                args.model.display()
            );
        }
        let target = args.data.target.as_deref().unwrap_or(&model.target_name);
        let columns = data::Columns {
            target,
            header: !args.no_header,
            ..model.columns(Some(model.task))
        };
        let read = data::read_csv_columns(path, &columns)?;
        (read.data, read.ignored, args.data.data.clone(), "every row".to_string())
    } else {
        if args.no_header {
            bail!("--no-header applies to CSV files; {} is not one", args.data.data);
        }
        let builtin = !path.exists();
        let Source { split, name, .. } = load_data(&args.data, Some(model.task), args.seed)?;
        let (data, part) = match split.test {
            Some(test) => (test, "its test split".to_string()),
            None if builtin => (
                data::stratified_split(&split.train, 0.2, args.seed).1,
                format!("the test part of train's 80/20 split with seed {}", args.seed),
            ),
            None => (split.train, "every row".to_string()),
        };
        let (data, unused) = model.select_features(&data)?;
        (data, unused, name, part)
    };
    let scores = model.evaluate(&data).with_context(|| name.clone())?;
    let report = model.report(&data).with_context(|| name.clone())?;
    note_unused(&unused);
    if args.json {
        let mut json = json!({"data": name, "model": args.model, "task": model.task, "scored": part, "n_test": data.len(), "test_loss": scores.loss});
        add_scores(&mut json, "test", &scores);
        json["metrics"] = crate::scores::report_json(&report);
        println!("{json}");
    } else {
        println!(
            "{name}: {} ({part}), {}",
            crate::args::count(data.len(), "sample"),
            describe(&scores)
        );
        crate::scores::print_report("scored", &report);
    }
    Ok(())
}

/// One note on stderr for the columns of a file that the model does not use.
pub fn note_unused(unused: &[String]) {
    if !unused.is_empty() {
        let shown: Vec<&str> = unused.iter().take(8).map(String::as_str).collect();
        eprintln!(
            "note: ignoring {} column{} the model does not use: {}{}",
            unused.len(),
            if unused.len() == 1 { "" } else { "s" },
            shown.join(", "),
            if unused.len() > shown.len() { ", …" } else { "" }
        );
    }
}
