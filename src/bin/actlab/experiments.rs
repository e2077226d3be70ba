//! `actlab experiments`: the nine claims about activation functions, measured.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use actlab::experiments::{self as lab, find, format_measurement, headline, Budget, ExperimentResult, EXPERIMENTS};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use crate::report;
use crate::stdout::{self, say};

#[derive(Args, Debug)]
pub struct ExperimentsArgs {
    /// Run only these experiments (1-9), comma separated, e.g. --only 2,6.
    #[arg(long, value_name = "IDS", value_delimiter = ',', action = clap::ArgAction::Set, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub only: Vec<u8>,
    /// Run small versions (fewer samples and epochs): a quick look, not the reported figures.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON object {"experiments": [...]} with every measurement instead of the report.
    #[arg(long)]
    pub json: bool,
    /// Also write DIR/index.html and DIR/report.md: a summary, each claim with its criterion,
    /// measurements and verdict, and SVG charts of its curves (gradient norms and variances per
    /// layer, accuracy and dead units per epoch) and of the activation functions it compares.
    /// DIR is created if missing; files of an earlier report there are replaced, other files
    /// are never touched.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// The experiments by number, for `--help`.
pub fn list() -> String {
    let mut text = String::from("Experiments (each prints its claim, the criterion, every measurement and ✓ or ✗):\n");
    for e in &EXPERIMENTS {
        text += &format!("  {}  {}\n", e.id, headline(e.claim));
    }
    text
}

pub fn experiments(args: ExperimentsArgs) -> Result<()> {
    if let Some(dir) = &args.report {
        report::check_dir(dir, &report::PAGES)?;
        stdout::outlive_closed_pipe();
    }
    let mut selected: Vec<_> = if args.only.is_empty() {
        EXPERIMENTS.iter().collect()
    } else {
        args.only.iter().filter_map(|&id| find(id)).collect()
    };
    selected.sort_by_key(|e| e.id);
    selected.dedup_by_key(|e| e.id);
    let budget = if args.quick { Budget::Quick } else { Budget::Full };

    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(selected.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} experiment {msg} [{elapsed}]")
                .expect("valid template"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    let start = Instant::now();
    let mut results = Vec::with_capacity(selected.len());
    for experiment in selected {
        if let Some(bar) = &progress {
            bar.set_message(format!("{} ({})", experiment.id, experiment.name));
        }
        let result = experiment
            .run(budget)
            .with_context(|| format!("experiment {} ({})", experiment.id, experiment.name))?;
        if let Some(bar) = &progress {
            bar.inc(1);
            if !args.json {
                bar.suspend(|| print_result(&result))?;
            }
        } else if !args.json {
            print_result(&result)?;
        }
        results.push(result);
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let seconds = start.elapsed().as_secs_f64();
    let held = results.iter().filter(|r| r.holds).count();
    let verdicts = format!(
        "{held} of {} claims held ({:.1} s{})",
        results.len(),
        seconds,
        if args.quick { ", quick versions" } else { "" }
    );
    if args.json {
        say!("{}", json!({ "experiments": results, "seconds": seconds }))?;
    } else {
        say!("{verdicts}")?;
    }
    if let Some(dir) = &args.report {
        let budget = if args.quick {
            "quick versions (--quick): small data and few epochs, a quick look, not the reported figures"
        } else {
            "full versions"
        };
        let settings = [
            verdicts,
            format!("{budget}; built-in data, seed 0; actlab {}", env!("CARGO_PKG_VERSION")),
        ];
        report::write(dir, &lab::report(&results, "actlab experiments", &settings)?)?;
        if !args.json {
            say!("report   {}", dir.join("index.html").display())?;
        }
    }
    Ok(())
}

fn print_result(r: &ExperimentResult) -> Result<()> {
    say!("{}. {}", r.id, r.name)?;
    print_wrapped("claim", &r.claim)?;
    print_wrapped("test", &r.criterion)?;
    let width = r.measurements.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    for (i, (name, value)) in r.measurements.iter().enumerate() {
        let label = if i == 0 { "measured" } else { "" };
        say!("   {label:<9} {name:<width$}  {}", format_measurement(*value))?;
    }
    if let Some(notes) = &r.notes {
        print_wrapped("note", notes)?;
    }
    let verdict = if r.holds { "✓ holds" } else { "✗ does not hold" };
    say!("   {verdict} ({:.1} s)\n", r.seconds)
}

/// `text` after a label, wrapped at 100 columns and indented under the label.
fn print_wrapped(label: &str, text: &str) -> Result<()> {
    const WIDTH: usize = 100;
    let indent = 13;
    let mut line = String::new();
    let mut first = true;
    let flush = |line: &str, first: bool| {
        let head = if first { label } else { "" };
        say!("   {head:<9} {line}")
    };
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            flush(&line, first)?;
            first = false;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        flush(&line, first)?;
    }
    Ok(())
}
