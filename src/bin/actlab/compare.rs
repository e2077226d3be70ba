//! `actlab compare`: one network per activation on the same data and seeds, side by side.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use actlab::compare::{self, CompareConfig, Comparison, Progress};
use actlab::model::output_layer;
use actlab::{Activation, Loss, Target, Task};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use crate::args::{activation, fit_config, NetworkArgs, OptimArgs, Prepared, SplitArgs};
use crate::report;
use crate::stdout::{self, say};

pub const EXAMPLES: &str = "Examples:
  actlab compare                                   # MNIST-1D, six activations, under a minute
  actlab compare --seeds 3 --report report         # mean ± std over 3 seeds; charts in report/index.html
  actlab compare --data circles --hidden 16,16 --activations identity,tanh,relu --json
  actlab compare --data digits --activations relu,elu,selu,silu,mish --epochs 30";

#[derive(Args, Debug)]
#[command(
    mut_arg("data", |a| a.required(false).default_value("mnist1d")),
    mut_arg("hidden", |a| a.default_value("100,100")),
    mut_arg("lr", |a| a.default_value("0.01")),
    mut_arg("batch_size", |a| a.default_value("100")),
    mut_arg("epochs", |a| a.help(
        "Passes over the training data (default: enough to see about 240,000 samples, 10 to 300 epochs: 60 on MNIST-1D)"
    )),
    mut_arg("seed", |a| a.help(
        "First seed: runs use seeds N, N+1, … (--seeds); the same seed gives every activation the same random stream for its initial weights and the same sample order"
    )),
)]
pub struct CompareArgs {
    #[command(flatten)]
    pub split: SplitArgs,
    /// Hidden activations to compare, comma separated; each is used in every hidden layer of its
    /// own network. Parameters after a colon: leaky_relu:0.2, elu:0.5, gelu:tanh.
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        action = clap::ArgAction::Set,
        default_value = "identity,sigmoid,tanh,relu,leaky_relu,gelu",
        value_parser = activation
    )]
    pub activations: Vec<Activation>,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Train each activation with this many seeds and report mean ± standard deviation.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub seeds: u64,
    /// Training accuracy to count epochs to (default: 0.9 × the best final training accuracy
    /// of all runs). Classification only.
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = accuracy)]
    pub target_accuracy: Option<f64>,
    /// Compute the per-layer diagnostics (dead and saturated units, gradient norms) after every
    /// epoch on at most N training samples.
    #[arg(long, value_name = "N", default_value_t = compare::DEFAULT_DIAGNOSTIC_SAMPLES as u64, value_parser = crate::args::positive_u64)]
    pub diagnostics: u64,
    /// Write DIR/index.html and DIR/report.md with the tables and SVG charts (loss and accuracy
    /// curves, each activation and its derivative, dead and saturated units per layer over
    /// time, gradient ratio). DIR is created if missing; files of an earlier report there are
    /// replaced, other files are never touched.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Print one JSON object {"runs": [...], ...} instead of the table: one entry per activation
    /// and seed with every figure of the table and the per-epoch history.
    #[arg(long)]
    pub json: bool,
}

fn accuracy(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        Ok(_) => Err("must be above 0 and at most 1".into()),
        Err(_) => Err("expected a number".into()),
    }
}

pub fn compare(args: CompareArgs) -> Result<()> {
    args.optim.init_threads()?;
    if let Some(dir) = &args.report {
        report::check_dir(dir, &report::PAGES)?;
        stdout::outlive_closed_pipe();
    }
    let data = args.split.load(args.optim.seed)?;
    let mut fit = fit_config(&args.network, &args.optim, Vec::new());
    fit.train.diagnostics = Some(args.diagnostics as usize);
    let config = CompareConfig {
        activations: args.activations.clone(),
        seeds: (0..args.seeds).map(|i| args.optim.seed.wrapping_add(i)).collect(),
        fit,
        target_accuracy: args.target_accuracy,
    }
    .resolved(&data.train);
    let epochs = config.fit.train.epochs_for(data.train.len());
    let settings = settings(&args, &data, &config)?;
    if !args.json {
        for line in &settings {
            say!("{line}")?;
        }
    }

    let runs = config.activations.len() * config.seeds.len();
    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new((runs * epochs) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} run {msg} [{elapsed} < {eta}]").expect("valid template"),
        );
        bar
    });
    let comparison = compare::compare(&data.train, &data.test, &config, |p: &Progress<'_>| {
        if let Some(bar) = &progress {
            bar.set_position((p.run * epochs + p.epoch.epoch) as u64);
            bar.set_message(format!(
                "{}/{}: {} seed {}, epoch {}/{epochs}, loss {:.4}{}",
                p.run + 1,
                p.runs,
                p.activation,
                p.seed,
                p.epoch.epoch,
                p.epoch.train_loss,
                p.epoch
                    .train_accuracy
                    .map(|a| format!(" acc {a:.3}"))
                    .unwrap_or_default()
            ));
        }
    })?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    if args.json {
        let mut report = serde_json::to_value(&comparison).context("serializing the comparison")?;
        report["data"] = json!(data.name);
        say!("{report}")?;
    } else {
        say!("")?;
        print_table(&compare::table(&comparison))?;
        say!("")?;
        for note in compare::notes(&comparison) {
            say!("{note}")?;
        }
    }
    if let Some(dir) = &args.report {
        write_report(dir, &comparison, &data, &settings)?;
        if !args.json {
            say!("\nreport   {}", dir.join("index.html").display())?;
        }
    }
    Ok(())
}

/// The lines that describe the data, the network and the training.
fn settings(args: &CompareArgs, data: &Prepared, config: &CompareConfig) -> Result<Vec<String>> {
    let train = &data.train;
    let task = train.task().context("the training data has no target")?;
    let classes = match &train.target {
        Target::Classes { classes, .. } => classes.len(),
        _ => 0,
    };
    let (output, outputs) = output_layer(task, classes, config.fit.output)?;
    let loss = config.fit.loss.unwrap_or(match task {
        Task::Classification => Loss::for_output(output),
        Task::Regression => Loss::Mse,
    });
    let target = match task {
        Task::Classification => format!("{classes} classes"),
        Task::Regression => format!("regression on '{}'", train.target_name),
    };
    let hidden: Vec<String> = config.fit.hidden.iter().map(|h| format!("{h} σ")).collect();
    let init = match config.fit.init {
        Some(init) => format!("{init} initialisation for all"),
        None => "each activation's default initialisation".into(),
    };
    let t = &config.fit.train;
    let seeds = match config.seeds.as_slice() {
        [one] => format!("seed {one}"),
        many => format!("seeds {}–{}", many[0], many[many.len() - 1]),
    };
    Ok(vec![
        format!(
            "data     {}: {} train / {} test samples, {} features, {target}",
            data.name,
            train.len(),
            data.test.len(),
            train.n_features()
        ),
        format!(
            "network  {} → {} → {outputs} {output}{}; {loss} loss; {init}",
            train.n_features(),
            hidden.join(" → "),
            if config.fit.residual { " (skip connections)" } else { "" },
        ),
        format!(
            "training {} lr {} batch {}, {} epochs, {seeds}{}; σ = {}",
            args.optim.optimizer,
            t.learning_rate,
            t.batch_size,
            t.epochs_for(train.len()),
            if t.dropout.is_empty() {
                String::new()
            } else {
                format!(
                    ", dropout {}",
                    t.dropout.iter().map(f32::to_string).collect::<Vec<_>>().join(",")
                )
            },
            config
                .activations
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ])
}

fn print_table(rows: &[Vec<String>]) -> Result<()> {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                let pad = " ".repeat(w - cell.chars().count());
                if i == 0 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        say!("{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}

fn write_report(dir: &Path, comparison: &Comparison, data: &Prepared, settings: &[String]) -> Result<()> {
    let files = compare::report(comparison, &format!("actlab compare: {}", data.name), settings)?;
    report::write(dir, &files)
}
