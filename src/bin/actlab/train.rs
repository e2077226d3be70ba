//! `actlab train`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use actlab::model::{output_layer, FitConfig, Fitted, Scores, Standardized};
use actlab::preprocess::ColumnSummary;
use actlab::train::EpochRecord;
use actlab::{checkpoint, fileio, model_io, Activation, Dataset, Task};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use crate::args::{
    activation, check_output, count, fit_config, NetworkArgs, OptimArgs, OutputKind, Prepared, Preprocessing,
    SplitArgs, WeightArgs,
};

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub split: SplitArgs,
    /// Hidden activation: one name for all layers or one per layer, comma separated. Names take
    /// parameters after a colon: leaky_relu:0.2, elu:0.5, gelu:tanh, softplus:2. See `actlab activations`.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', action = clap::ArgAction::Set, default_value = "relu", value_parser = activation)]
    pub activation: Vec<Activation>,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    #[command(flatten)]
    pub weights: WeightArgs,
    /// Record per-layer diagnostics (dead and saturated units, gradient norms, …) after every
    /// epoch, on at most N training samples (2000 when N is left out); they appear in the --json
    /// history.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "2000", value_parser = crate::args::positive_u64)]
    pub diagnostics: Option<u64>,
    /// Save the trained model to this .safetensors file. An existing model file is replaced (the
    /// summary says so); any other file (a CSV file, say) is refused before training.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Write a checkpoint to this .safetensors file every --checkpoint-every epochs and after the
    /// last: the weights, the optimizer's moments, the schedule's position, the early-stopping
    /// state, the shuffling's random state and the history, replaced atomically (a crash or kill
    /// leaves the previous checkpoint whole), for --resume.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between two checkpoints.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "checkpoint", value_parser = crate::args::positive_u64)]
    pub checkpoint_every: u64,
    /// Continue the run that wrote this checkpoint: it ends with the same weights, bit for bit,
    /// as if it had never stopped. Give the same data and flags as that run, --epochs included
    /// (a run cannot be extended: its learning-rate schedule was made for its epochs); a
    /// difference is refused, naming the setting. --threads, --diagnostics, --json, --save and
    /// the checkpoint flags may differ. Add --checkpoint to go on writing checkpoints (the same
    /// file is fine).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Print one JSON object on the last line of stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
}

pub fn train(args: TrainArgs) -> Result<()> {
    let inputs: Vec<&Path> = std::iter::once(Path::new(&args.split.data.data))
        .chain(args.split.test.as_deref())
        .collect();
    let mut replaces = false;
    if let Some(path) = &args.save {
        replaces = check_output("--save", path, &inputs, OutputKind::Safetensors)?;
    }
    if let Some(path) = &args.checkpoint {
        check_output("--checkpoint", path, &inputs, OutputKind::Safetensors)?;
    }
    args.optim.init_threads()?;
    let loading = Instant::now();
    let mut prepared = args.split.load(args.optim.seed)?;
    let mut config = fit_config(&args.network, &args.optim, args.activation.clone());
    args.weights.apply(
        &mut config,
        &mut prepared,
        &args.split.data.data,
        args.split.table.delimiter,
    )?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let mut config = config.resolved(&prepared.train);
    config.train.diagnostics = args.diagnostics.map(|n| n as usize);
    let task = prepared.train.task().context("the training data has no target")?;
    if !args.json {
        print_data_summary(&prepared.name, &prepared.train, &prepared.test);
        if let Some((_, schema)) = &prepared.preprocessing {
            print_schema(schema);
        }
        if args.network.output.0.is_none() {
            print_auto_output(&prepared.train, task)?;
        }
    }
    let Prepared {
        train,
        test,
        name,
        preprocessing,
    } = prepared;
    let outcome = fit(&args, &config, train, &test, load_seconds)?;
    if let Some(path) = &args.save {
        let preprocessor = preprocessing.as_ref().map(|(p, _)| p);
        let bytes = model_io::to_safetensors_with(&outcome.fitted.model, preprocessor)?;
        fileio::write_atomically(path, &bytes, &inputs).map_err(crate::args::flag("--save"))?;
        if args.json && replaces {
            eprintln!("note: --save {}: replaced the existing file", path.display());
        }
    }
    if args.json {
        let data = (name.as_str(), &test, preprocessing.as_ref());
        println!("{}", json_report(&args, &config, data, task, &outcome)?);
    } else {
        print_summary(&args, &outcome, replaces);
    }
    Ok(())
}

/// What a run gave: the model, its scores and how fast it trained.
struct Outcome {
    fitted: Fitted,
    /// The training data, as the model takes it.
    train: Standardized,
    train_scores: Scores,
    /// None for a data set too small to hold out a test sample (one sample per class).
    test_scores: Option<Scores>,
    /// The full metrics of the test data, or of the training data when there is none.
    report: (&'static str, actlab::metrics::Report),
    /// Reading and preprocessing the data files.
    load_seconds: f64,
    /// The whole training call (a checkpoint's reading and writing included).
    seconds: f64,
}

/// Trains (or resumes training) with a progress bar on a terminal, and scores the model.
fn fit(
    args: &TrainArgs,
    config: &FitConfig,
    train_set: Dataset,
    test_set: &Dataset,
    load_seconds: f64,
) -> Result<Outcome> {
    let epochs = config.train.epochs_for(train_set.len());
    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
                .expect("valid template"),
        );
        bar
    });
    let start = Instant::now();
    let (resume, every) = (args.resume.as_deref(), args.checkpoint_every as usize);
    let checkpoint = args.checkpoint.as_deref().map(|path| (path, every));
    // The training data is standardized in place (no copy of it is made) and scored as it is.
    let (fitted, train_set) = checkpoint::fit_owned(train_set, config, resume, checkpoint, |record: &EpochRecord| {
        if let Some(bar) = &progress {
            bar.set_position(record.epoch as u64);
            bar.set_message(format!(
                "loss {:.4}{}",
                record.train_loss,
                record
                    .train_accuracy
                    .map(|a| format!(" acc {a:.3}"))
                    .unwrap_or_default()
            ));
        }
    })?;
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let train_scores = fitted.model.evaluate(&train_set)?;
    let test_scores = (!test_set.is_empty())
        .then(|| fitted.model.evaluate(test_set))
        .transpose()?;
    let report = if test_set.is_empty() {
        ("train", fitted.model.report(&train_set)?)
    } else {
        ("test", fitted.model.report(test_set)?)
    };
    Ok(Outcome {
        fitted,
        train: train_set,
        train_scores,
        test_scores,
        report,
        load_seconds,
        seconds,
    })
}

/// The `--json` report: the data, the network, the settings training ran with, the scores and
/// the history.
/// `data`: the data's name, the test data and how a CSV file's columns became the features.
fn json_report(
    args: &TrainArgs,
    config: &FitConfig,
    (name, test, preprocessing): (&str, &Dataset, Option<&Preprocessing>),
    task: Task,
    outcome: &Outcome,
) -> Result<serde_json::Value> {
    let fitted = &outcome.fitted;
    let mut report = json!({
        "data": name,
        "task": task,
        "n_train": fitted.n_train,
        "n_test": test.len(),
        "n_features": outcome.train.n_features(),
        "n_outputs": fitted.model.mlp.outputs(),
        "classes": fitted.model.classes,
        "layers": layer_report(fitted, &outcome.train)?,
        "residual": args.network.residual,
        "loss": fitted.model.loss.to_string(),
        // The settings training ran with, as the library received them.
        "optimizer": config.train.optimizer.kind.to_string(),
        "weight_decay": config.train.optimizer.weight_decay,
        "l1": config.train.optimizer.l1,
        "learning_rate": config.train.learning_rate,
        "batch_size": config.train.batch_size,
        "seed": config.train.seed,
        "threads": rayon::current_num_threads(),
        "epochs": fitted.history.epochs.len(),
        "best_epoch": fitted.history.best_epoch,
        "steps": fitted.history.steps,
        "train_loss": outcome.train_scores.loss,
        "seconds": outcome.seconds,
        "load_seconds": outcome.load_seconds,
        "setup_seconds": fitted.timings.setup_seconds,
        "train_seconds": fitted.timings.train_seconds,
        "samples_per_second": fitted.samples_per_second(),
        "history": fitted.history.epochs,
    });
    add_scores(&mut report, "train", &outcome.train_scores);
    if let Some(test_scores) = &outcome.test_scores {
        report["test_loss"] = json!(test_scores.loss);
        add_scores(&mut report, "test", test_scores);
    }
    if let Some(path) = &args.save {
        report["model"] = json!(path);
    }
    if let Some(t) = fitted.model.threshold {
        report["threshold"] = json!(t);
    }
    if let Some(spec) = &config.class_weight {
        report["class_weight"] = json!(spec.to_string());
    }
    if !config.train.dropout.is_empty() {
        report["dropout"] = json!(config.train.dropout);
    }
    report[format!("{}_metrics", outcome.report.0)] = crate::scores::report_json(&outcome.report.1);
    if let Some((_, schema)) = preprocessing {
        report["schema"] = json!(schema);
    }
    Ok(report)
}

/// Each layer's shape and activation with its diagnostics on the training data.
fn layer_report(fitted: &Fitted, train: &Standardized) -> Result<serde_json::Value> {
    let diagnostics = fitted.model.diagnose(train, 2000)?;
    let layers = fitted
        .model
        .mlp
        .layers()
        .iter()
        .zip(&diagnostics.layers)
        .map(|(spec, d)| {
            let mut entry = serde_json::to_value(d).expect("diagnostics serialize");
            entry["in"] = json!(spec.inputs);
            entry["out"] = json!(spec.outputs);
            entry
        });
    Ok(json!(layers.collect::<Vec<_>>()))
}

pub fn add_scores(report: &mut serde_json::Value, prefix: &str, s: &Scores) {
    for (key, value) in [("accuracy", s.accuracy), ("r2", s.r2), ("rmse", s.rmse)] {
        if let Some(v) = value {
            report[format!("{prefix}_{key}")] = json!(v);
        }
    }
}

pub fn describe(s: &Scores) -> String {
    match (s.accuracy, s.r2, s.rmse) {
        (Some(a), _, _) => format!("accuracy {a:.4} (loss {:.4})", s.loss),
        (_, Some(r2), Some(rmse)) => format!("R² {r2:.4}, RMSE {rmse:.4}"),
        (_, None, Some(rmse)) => format!("R² undefined (constant target), RMSE {rmse:.4}"),
        _ => format!("loss {:.4}", s.loss),
    }
}

fn print_data_summary(name: &str, train: &Dataset, test: &Dataset) {
    let target = match &train.target {
        actlab::Target::Classes { classes, .. } => {
            let shown: Vec<_> = classes.iter().take(10).map(String::as_str).collect();
            format!(
                "{} classes ({}{})",
                classes.len(),
                shown.join(", "),
                if classes.len() > 10 { ", …" } else { "" }
            )
        }
        _ => format!("regression on '{}'", train.target_name),
    };
    println!(
        "data     {name}: {} train / {} test samples, {} features, {target}",
        train.len(),
        test.len(),
        train.n_features()
    );
}

/// The schema inferred from a CSV file, one line per column.
///
/// A wide table (more than [`SCHEMA_LINES`] columns) shows its first columns and, after them,
/// only the columns with something to say (not numeric, missing cells, a note), then one line
/// counting the plain numeric columns left out.
fn print_schema(schema: &[ColumnSummary]) {
    let plain = |c: &ColumnSummary| c.kind == "numeric" && c.missing == 0 && c.note.is_none();
    let wide = schema.len() > SCHEMA_LINES;
    let shown = |i: usize, c: &ColumnSummary| !wide || i < SCHEMA_LINES / 2 || !plain(c);
    let width = schema.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).min(24);
    for (i, column) in schema.iter().enumerate().filter(|&(i, c)| shown(i, c)) {
        let mut detail = Vec::new();
        if column.missing > 0 || column.kind != "dropped" {
            detail.push(format!("{} missing", column.missing));
        }
        if let Some([lo, hi]) = column.range {
            detail.push(format!(
                "range {} to {}",
                actlab::error::short_number(lo),
                actlab::error::short_number(hi)
            ));
        }
        if let Some(categories) = &column.categories {
            let shown: Vec<String> = categories.iter().take(6).map(|c| actlab::data::quote(c)).collect();
            let more = if categories.len() > shown.len() { ", …" } else { "" };
            let label = if column.kind == "target" {
                "classes"
            } else {
                "categories"
            };
            if categories.is_empty() {
                detail.push(format!("no {label} of its own"));
            } else {
                detail.push(format!("{} {label}: {}{more}", categories.len(), shown.join(", ")));
            }
        }
        if column.pooled > 0 {
            detail.push(format!("{} rare pooled into <other>", column.pooled));
        }
        if let Some(note) = &column.note {
            detail.push(note.clone());
        }
        println!(
            "{} {:<width$} {:<11} {}",
            if i == 0 { "schema  " } else { "        " },
            column.name,
            column.kind,
            detail.join("; ")
        );
    }
    let hidden = schema.iter().enumerate().filter(|&(i, c)| !shown(i, c)).count();
    if hidden > 0 {
        println!("         … and {hidden} more numeric columns with no missing cell (--json lists every column)");
    }
}

/// Columns of the schema shown in full; a wider table shows the columns that need a look.
const SCHEMA_LINES: usize = 20;

/// The output layer that `--output auto` chose for the training data.
fn print_auto_output(train: &Dataset, task: Task) -> Result<()> {
    let n_classes = match &train.target {
        actlab::Target::Classes { classes, .. } => classes.len(),
        _ => 0,
    };
    let (output, outputs) = output_layer(task, n_classes, None)?;
    println!(
        "output   auto: {output} with {outputs} output{} for {}",
        if outputs == 1 { "" } else { "s" },
        match task {
            Task::Regression => "regression".to_string(),
            Task::Classification => format!("{n_classes} classes"),
        }
    );
    Ok(())
}

/// The network, the training and the scores, after training.
/// The summary of a run; `replaced`: whether `--save` replaced an existing file.
fn print_summary(args: &TrainArgs, outcome: &Outcome, replaced: bool) {
    let fitted = &outcome.fitted;
    let mlp = &fitted.model.mlp;
    let mut chain = mlp.inputs().to_string();
    for (i, layer) in mlp.layers().iter().enumerate() {
        chain += &format!(
            " → {} {}{}",
            layer.outputs,
            layer.activation,
            if mlp.is_residual(i) { " (+skip)" } else { "" }
        );
    }
    println!(
        "network  {chain}; loss {}, {} parameters",
        fitted.model.loss,
        mlp.params().len()
    );
    let h = &fitted.history;
    let stopped = match (h.stopped_early, h.best_epoch) {
        (true, Some(best)) => format!(", stopped early, kept epoch {best}"),
        (false, Some(best)) => format!(", kept best epoch {best}"),
        _ => String::new(),
    };
    let o = &args.optim;
    // A batch larger than the training set is the whole set: say so rather than print a batch
    // size no step had.
    let batch = match usize::try_from(o.batch_size) {
        Ok(b) if b <= fitted.n_train => b.to_string(),
        _ => format!(
            "{} (the whole set: --batch-size {} is more than its rows)",
            fitted.n_train, o.batch_size
        ),
    };
    println!(
        "training {} lr {} batch {batch}, {} ({}{stopped}), seed {}: {:.2} s, {:.0} samples/s \
         (load {:.2} s, set-up {:.2} s before the first epoch)",
        o.optimizer,
        o.lr,
        count(h.epochs.len(), "epoch"),
        count(h.steps, "step"),
        o.seed,
        fitted.timings.train_seconds,
        fitted.samples_per_second(),
        outcome.load_seconds,
        fitted.timings.setup_seconds
    );
    let mut options = Vec::new();
    if !args.network.dropout.is_empty() {
        let rates: Vec<String> = args.network.dropout.iter().map(f32::to_string).collect();
        options.push(format!("dropout {}", rates.join(",")));
    }
    if let Some(spec) = &args.weights.class_weight {
        options.push(format!("class weights {spec}"));
    }
    if let Some(column) = &args.weights.sample_weight {
        options.push(format!("sample weights from '{column}'"));
    }
    if !options.is_empty() {
        println!("options  {}", options.join(", "));
    }
    println!(
        "result   train {}, test {}",
        describe(&outcome.train_scores),
        outcome
            .test_scores
            .as_ref()
            .map_or_else(|| "none (too few samples to hold one out)".to_string(), describe)
    );
    if let Some(t) = fitted.model.threshold {
        println!(
            "decision predict '{}' when its probability is at least {t:.4}",
            fitted.model.classes[1]
        );
    }
    crate::scores::print_report(outcome.report.0, &outcome.report.1);
    if let Some(path) = &args.save {
        println!("saved    {}{}", path.display(), crate::args::replaced(replaced));
    }
}
