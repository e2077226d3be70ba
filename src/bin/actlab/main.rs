//! The `actlab` command line: a thin layer over the library that parses arguments, reads
//! data, calls the library and reports. Every failure becomes one line `error: …`.

mod advise;
mod args;
mod compare;
mod cv;
mod eval;
mod experiments;
mod export;
mod lab;
mod plot;
mod predict;
mod report;
mod scores;
mod stdout;
mod train;

use std::process::ExitCode;

use actlab::Activation;
use anyhow::Result;
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::json;

/// Train multi-layer perceptrons with any activation per layer, and see what it does.
///
/// A network is a chain h = σ(W·h_prev + b). Pick σ per layer with --activation, train on a
/// CSV file, an IDX directory (MNIST, Fashion-MNIST) or a built-in data set, and compare.
#[derive(Parser, Debug)]
#[command(name = "actlab", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    /// Refuse work whose estimated memory is above SIZE (e.g. 512M, 4G) with an error that gives
    /// the estimate. Default: three quarters of the memory available when actlab starts.
    #[arg(long, global = true, value_name = "SIZE", value_parser = |s: &str| actlab::memory::parse_size(s).map_err(|e| e.to_string()))]
    max_memory: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  actlab compare                                                # six activations on MNIST-1D, side by side
  actlab train --data iris
  actlab train --data digits --hidden 256,128 --activation tanh --save digits.safetensors
  actlab train --data xor --hidden 8 --activation identity      # no σ: one linear map, fails on XOR
  actlab eval --model digits.safetensors --data digits
  actlab predict --model digits.safetensors --data new.csv --proba
  actlab experiments --only 2,6                                 # claims about activations, measured
  actlab advise --data my.csv --target price                    # which output, loss and activation
  actlab plot sigmoid tanh relu --derivative
  actlab lab                                                    # train live in the browser
  actlab activations";

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network and report train and test scores.
    Train(Box<train::TrainArgs>),
    /// Score a saved model on labelled data.
    Eval(eval::EvalArgs),
    /// Write a saved model's predictions as CSV.
    Predict(predict::PredictArgs),
    /// Write a saved model as an ONNX graph that returns what `predict` does.
    #[command(after_help = export::EXAMPLES)]
    Export(export::ExportArgs),
    /// Reproduce nine claims about activation functions on built-in data and say whether each held.
    #[command(after_help = experiments::list())]
    Experiments(experiments::ExperimentsArgs),
    /// Recommend output activation, loss and hidden activation for a data set's target.
    #[command(after_help = advise::EXAMPLES)]
    Advise(advise::AdviseArgs),
    /// Train the same network with several activations (same data, same seeds) and compare them.
    #[command(after_help = compare::EXAMPLES)]
    Compare(Box<compare::CompareArgs>),
    /// Serve the lab: train networks live in the browser and watch their activations work.
    #[command(after_help = lab::EXAMPLES)]
    Lab(lab::LabArgs),
    /// Cross-validate: train on k-1 folds, score the k-th, and report each metric's mean ± std.
    #[command(after_help = cv::EXAMPLES)]
    Cv(Box<cv::CvArgs>),
    /// Draw activation functions and their derivatives as SVG or PNG.
    #[command(after_help = plot::EXAMPLES)]
    Plot(plot::PlotArgs),
    /// List the activation functions and their properties.
    Activations {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns a write to a closed pipe (`actlab … | head`) into a
    // panic in println!; the default disposition ends the program quietly instead, as for
    // any other Unix tool. Files are not pipes: no write to a file can be cut short by it.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    stdout_failures_are_errors();
    if let Err(e) = actlab::fileio::remove_temp_files_on_signals() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // clap's answer is the whole help text; one line says what is missing.
            let names: Vec<String> = Cli::command()
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            eprintln!(
                "error: no subcommand given; choose one of {} (see actlab --help)",
                names.join(", ")
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            // One line: clap's message up to the usage, e.g. the missing arguments after
            // "the following required arguments were not provided:".
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            if message.is_empty() {
                eprintln!("error: invalid arguments");
            } else {
                eprintln!("{}", message.join(" "));
            }
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line. A negative number after a flag is that flag's value, so that
/// `--epochs -1` is refused naming `--epochs` rather than as an unknown argument `-1`.
fn parse() -> Result<Cli, clap::Error> {
    let negative_values = |arg: clap::Arg| {
        if arg.get_action().takes_values() {
            arg.allow_negative_numbers(true)
        } else {
            arg
        }
    };
    let mut matches = Cli::command()
        .mut_args(negative_values)
        .mut_subcommands(|sub| sub.mut_args(negative_values))
        .try_get_matches()?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut Cli::command()))
}

/// `println!` panics when standard output cannot be written (a full disk, /dev/full, or a
/// closed pipe once [`stdout::outlive_closed_pipe`] is in force); that one panic becomes the
/// usual error line and exit status 1. Any other panic is a bug, reported as such.
fn stdout_failures_are_errors() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        match info
            .payload_as_str()
            .and_then(|m| m.strip_prefix("failed printing to stdout: "))
        {
            Some(reason) => {
                eprintln!("error: standard output: {reason}");
                std::process::exit(1);
            }
            None => default(info),
        }
    }));
}

/// The error and its causes on one line, `outer: inner: …`, leaving out a cause whose text the
/// line already ends with (an error that shows its source in its own message, like
/// `actlab::Error::Io`, would otherwise repeat the operating system's reason).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = match cause.downcast_ref::<actlab::Error>() {
            Some(e) => args::in_flags(e),
            None => cause.to_string(),
        };
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line = format!("{line}: {text}");
        }
    }
    line.replace('\n', " ")
}

fn run(cli: Cli) -> Result<()> {
    if let Some(bytes) = cli.max_memory {
        actlab::memory::set_limit(bytes);
    }
    match cli.command {
        Command::Train(args) => train::train(*args),
        Command::Eval(args) => eval::eval(args),
        Command::Predict(args) => predict::predict(args),
        Command::Export(args) => export::export(args),
        Command::Experiments(args) => experiments::experiments(args),
        Command::Advise(args) => advise::advise(args),
        Command::Compare(args) => compare::compare(*args),
        Command::Cv(args) => cv::cv(*args),
        Command::Plot(args) => plot::plot(args),
        Command::Lab(args) => lab::run(&args),
        Command::Activations { json } => activations(json),
    }
}

fn activations(json: bool) -> Result<()> {
    if json {
        let list: Vec<_> = Activation::ALL
            .iter()
            .map(|a| json!({"name": a.to_string(), "properties": a.properties(), "init": a.default_init()}))
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(());
    }
    println!("name          range            zero-c monot  satur  smooth max f'   init");
    for a in Activation::ALL {
        let p = a.properties();
        let yes = |b: bool| if b { "yes" } else { "no" };
        let range = format!("({}, {})", bound(p.range.0), bound(p.range.1));
        println!(
            "{:<13} {:<16} {:<6} {:<6} {:<6} {:<6} {:<8.4} {}",
            a.to_string(),
            range,
            yes(p.zero_centred),
            yes(p.monotonic),
            yes(p.saturating),
            yes(p.smooth),
            p.max_derivative,
            a.default_init()
        );
    }
    Ok(())
}

fn bound(x: f32) -> String {
    if x.is_infinite() {
        if x > 0.0 {
            "∞".into()
        } else {
            "-∞".into()
        }
    } else {
        format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definitions_are_sound() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_error_line_gives_the_os_reason_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let reason = io.to_string();
        let e = anyhow::Error::from(actlab::Error::Io {
            path: "out.csv".into(),
            source: io,
        });
        assert_eq!(one_line(&e), format!("out.csv: {reason}"));
        let e = e.context("writing the report");
        assert_eq!(one_line(&e), format!("writing the report: out.csv: {reason}"));
        let e = anyhow::Error::from(std::io::Error::other("disk on fire")).context("--out x\ny");
        assert_eq!(one_line(&e), "--out x y: disk on fire");
    }

    #[test]
    fn library_settings_are_named_by_their_flags() {
        let setting = |field| actlab::Error::Setting {
            field,
            message: "must be at least 1".into(),
        };
        let line = |e: actlab::Error| one_line(&anyhow::Error::from(e));
        assert_eq!(line(setting("train.epochs")), "--epochs must be at least 1");
        assert_eq!(line(setting("train.batch_size")), "--batch-size must be at least 1");
        // A field without a flag of its own keeps the library's name.
        assert_eq!(
            line(setting("train.optimizer.beta1")),
            "train.optimizer.beta1 must be at least 1"
        );
        let resume = |field: &str| actlab::Error::ResumeSetting {
            path: "run.ckpt".into(),
            field: field.into(),
            then: "1".into(),
            now: "2".into(),
        };
        assert!(line(resume("train.schedule.step.every")).contains("made with --schedule = 1, this run has 2"));
        assert!(line(resume("scale_target")).contains("made with scale_target = 1"));
        let memory = actlab::Error::Memory {
            what: "x".into(),
            needed: 2048,
            limit: 1024,
        };
        assert_eq!(
            line(memory),
            "x needs about 2.0 KiB but the memory limit is 1.0 KiB (set it with --max-memory)"
        );
    }
}
