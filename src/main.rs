//! The `actlab` command line: a thin layer over the library that parses arguments, reads
//! data, calls the library and reports. Every failure becomes one line `error: …`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use actlab::data::{self, CsvOptions, Split, SyntheticOptions};
use actlab::model::{fit, output_layer, FitConfig, Fitted, Scaling, Scores};
use actlab::optim::{OptimizerConfig, OptimizerKind, Schedule};
use actlab::train::{EpochRecord, TrainConfig};
use actlab::{model_io, Activation, Dataset, Init, Loss, Task};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

/// Train multi-layer perceptrons with any activation per layer, and see what it does.
///
/// A network is a chain h = σ(W·h_prev + b). Pick σ per layer with --activation, train on a
/// CSV file, an IDX directory (MNIST, Fashion-MNIST) or a built-in data set, and compare.
#[derive(Parser, Debug)]
#[command(name = "actlab", version, about, long_about = None, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "Examples:
  actlab train --data iris
  actlab train --data digits --hidden 256,128 --activation tanh --save digits.safetensors
  actlab train --data xor --hidden 8 --activation identity      # no σ: one linear map, fails on XOR
  actlab eval --model digits.safetensors --data digits
  actlab predict --model digits.safetensors --data new.csv --proba
  actlab activations";

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network and report train and test scores.
    Train(TrainArgs),
    /// Score a saved model on labelled data.
    Eval(EvalArgs),
    /// Write a saved model's predictions as CSV.
    Predict(PredictArgs),
    /// List the activation functions and their properties.
    Activations {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct DataArgs {
    /// A CSV file (header row; target in the last column unless --target), a directory of IDX
    /// files (train-*/t10k-*), or a built-in set: iris, digits, mnist1d, fashion-mnist (needs the
    /// Debian package dataset-fashion-mnist), xor, circles, moons, spirals, gauss.
    #[arg(long, value_name = "PATH|NAME")]
    data: String,
    /// Name of the target column (default: the last column).
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Samples of a generated set (xor, circles, moons, spirals, gauss).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(4..))]
    samples: Option<u64>,
    /// Noise of a generated set.
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = non_negative_f32)]
    noise: Option<f32>,
}

#[derive(Args, Debug)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Test data (CSV); without it a seeded, stratified 80/20 split of --data is used
    /// (built-in MNIST-1D and IDX directories bring their own test split).
    #[arg(long, value_name = "PATH")]
    test: Option<PathBuf>,
    /// Classification or regression; auto infers it from the target (strings, or integers with
    /// few distinct values, are classes).
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    task: TaskArg,
    /// Hidden layer sizes, comma separated (e.g. 256,128); empty for none.
    #[arg(long, value_name = "SIZES", value_delimiter = ',', default_value = "100", value_parser = layer_size)]
    hidden: Vec<usize>,
    /// Hidden activation: one name for all layers or one per layer, comma separated. Names take
    /// parameters after a colon: leaky_relu:0.2, elu:0.5, gelu:tanh, softplus:2. See `actlab activations`.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', default_value = "relu", value_parser = activation)]
    activation: Vec<Activation>,
    /// Output activation. auto: softmax for several classes, sigmoid for two, identity for regression.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(activation))]
    output: Auto<Activation>,
    /// Loss: cross_entropy, binary_cross_entropy, mse, huber[:delta]. auto: the one that fits the output.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(|s| s.parse::<Loss>().map_err(|e| e.to_string())))]
    loss: Auto<Loss>,
    /// Weight initialisation: glorot, he, lecun. auto: the one that suits each layer's activation.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(|s| s.parse::<Init>().map_err(|e| e.to_string())))]
    init: Auto<Init>,
    /// Add each hidden layer's input to its output where widths match: h = h + σ(W·h + b).
    #[arg(long)]
    residual: bool,
    /// Optimizer: sgd, momentum, nesterov, adam, adamw, rmsprop.
    #[arg(long, value_name = "NAME", default_value = "adam", value_parser = |s: &str| s.parse::<OptimizerKind>().map_err(|e| e.to_string()))]
    optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, value_name = "X", default_value_t = 1e-3, allow_negative_numbers = true, value_parser = positive_f32)]
    lr: f32,
    /// Learning-rate schedule: constant, step[:every[:gamma]], cosine, plateau[:patience[:factor]].
    #[arg(long, value_name = "NAME", default_value = "constant", value_parser = |s: &str| s.parse::<Schedule>().map_err(|e| e.to_string()))]
    schedule: Schedule,
    /// Samples per gradient step.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Passes over the training data (default: enough to see about 40,000 samples, 10 to 300 epochs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    epochs: Option<u64>,
    /// L2 weight decay on the weights (decoupled for adamw).
    #[arg(long, value_name = "X", default_value_t = 0.0, allow_negative_numbers = true, value_parser = non_negative_f32)]
    weight_decay: f32,
    /// Clip the gradient's global L2 norm to this value.
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = positive_f32)]
    clip_norm: Option<f32>,
    /// Hold out this share of the training data for validation (reported per epoch).
    #[arg(long, value_name = "X", default_value_t = 0.0, allow_negative_numbers = true, value_parser = fraction)]
    validation: f32,
    /// Stop when the validation loss has not improved for N epochs and keep the best weights
    /// (holds out 10% for validation unless --validation says otherwise).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    patience: Option<u64>,
    /// Feature standardization with training-split statistics: feature (each column to mean 0,
    /// std 1), global (one mean and std for all columns, for pixels), none. auto: global for IDX
    /// image data, feature otherwise.
    #[arg(long, value_name = "HOW", default_value = "auto", value_parser = auto_or(scaling))]
    scaling: Auto<Scaling>,
    /// Do not standardize regression targets internally.
    #[arg(long)]
    no_scale_target: bool,
    /// Seed of the initial weights, the shuffling and the splits.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// Save the trained model to this .safetensors file.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Print one JSON object on the last line of stdout instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// CSV file with the model's feature columns (a target column, if present, is ignored).
    #[arg(long, value_name = "PATH")]
    data: PathBuf,
    /// One probability column per class (named by its label) instead of the predicted class.
    #[arg(long)]
    proba: bool,
    /// Write the CSV to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum TaskArg {
    Auto,
    Classification,
    Regression,
}

fn activation(s: &str) -> Result<Activation, String> {
    s.parse().map_err(|e: actlab::Error| e.to_string())
}

/// A setting that is either `auto` (`None`: the library chooses) or a given value.
#[derive(Clone, Copy, Debug)]
struct Auto<T>(Option<T>);

fn auto_or<T>(
    parse: impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static,
) -> impl Fn(&str) -> Result<Auto<T>, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        if s.eq_ignore_ascii_case("auto") {
            Ok(Auto(None))
        } else {
            parse(s).map(|v| Auto(Some(v)))
        }
    }
}

fn scaling(s: &str) -> Result<Scaling, String> {
    match s.to_ascii_lowercase().as_str() {
        "feature" => Ok(Scaling::Feature),
        "global" => Ok(Scaling::Global),
        "none" => Ok(Scaling::None),
        _ => Err("expected auto, feature, global or none".into()),
    }
}

fn layer_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("a hidden layer needs at least one neuron".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a positive integer".into()),
    }
}

fn number(s: &str) -> Result<f32, String> {
    s.trim()
        .parse::<f32>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| "expected a finite number".to_string())
}

fn positive_f32(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if x > 0.0 {
            Ok(x)
        } else {
            Err("must be greater than 0".into())
        }
    })
}

fn non_negative_f32(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if x >= 0.0 {
            Ok(x)
        } else {
            Err("must not be negative".into())
        }
    })
}

fn fraction(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if (0.0..1.0).contains(&x) {
            Ok(x)
        } else {
            Err("must be at least 0 and below 1".into())
        }
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid arguments"));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::Predict(args) => predict(args),
        Command::Activations { json } => activations(json),
    }
}

const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Data read from `--data`.
struct Source {
    split: Split,
    /// How the data is called in reports.
    name: String,
    /// Whether it came from IDX image files.
    images: bool,
}

/// Reads `--data`: a path if one exists, else a built-in name.
fn load_data(args: &DataArgs, task: Option<Task>, seed: u64) -> Result<Source> {
    let path = Path::new(&args.data);
    let options = CsvOptions {
        target: args.target.clone(),
        task,
    };
    let idx = |dir: &Path, name: &str| -> Result<Source> {
        Ok(Source {
            split: data::read_idx_dir(dir)?,
            name: name.to_string(),
            images: true,
        })
    };
    if path.is_dir() {
        return idx(path, &args.data);
    }
    if path.exists() {
        let split = Split {
            train: data::read_csv(path, &options)?,
            test: None,
        };
        return Ok(Source {
            split,
            name: args.data.clone(),
            images: false,
        });
    }
    if args.data.eq_ignore_ascii_case("fashion-mnist") {
        if !Path::new(FASHION_MNIST).is_dir() {
            bail!("--data fashion-mnist: {FASHION_MNIST} not found; install it with `apt-get install dataset-fashion-mnist`");
        }
        return idx(Path::new(FASHION_MNIST), "fashion-mnist");
    }
    let synthetic = SyntheticOptions {
        samples: args.samples.map(|n| n as usize),
        noise: args.noise,
        seed,
    };
    let name = args.data.to_ascii_lowercase();
    match data::builtin(&name, &synthetic) {
        Some(split) => {
            if args.target.is_some() {
                bail!("--target cannot be used with the built-in data set '{}'", args.data);
            }
            Ok(Source {
                split,
                name,
                images: false,
            })
        }
        None => bail!(
            "--data '{}': no such file, and not a built-in data set ({}, fashion-mnist)",
            args.data,
            data::BUILTIN_NAMES.join(", ")
        ),
    }
}

/// Default epochs: enough to see about 40,000 samples, at least 10 and at most 300.
fn default_epochs(n_train: usize) -> usize {
    (40_000usize.div_ceil(n_train.max(1))).clamp(10, 300)
}

fn train(args: TrainArgs) -> Result<()> {
    let task = match args.task {
        TaskArg::Auto => None,
        TaskArg::Classification => Some(Task::Classification),
        TaskArg::Regression => Some(Task::Regression),
    };
    if let Some(threads) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .build_global()
            .context("--threads")?;
    }
    let Source { split, name, images } = load_data(&args.data, task, args.seed)?;
    let (train_set, test_set) = match (split.test, &args.test) {
        (_, Some(path)) => {
            let options = CsvOptions {
                target: args
                    .data
                    .target
                    .clone()
                    .or_else(|| (!split.train.target_name.is_empty()).then(|| split.train.target_name.clone())),
                task: split.train.task(),
            };
            (split.train, data::read_csv(path, &options)?)
        }
        (Some(test), None) => (split.train, test),
        (None, None) => data::stratified_split(&split.train, 0.2, args.seed),
    };
    for path in [&args.save].into_iter().flatten() {
        refuse_to_overwrite_input(path, &args.data.data, args.test.as_deref())?;
    }

    let epochs = args
        .epochs
        .map_or_else(|| default_epochs(train_set.len()), |e| e as usize);
    let validation_fraction = if args.patience.is_some() && args.validation == 0.0 {
        0.1
    } else {
        args.validation
    };
    let config = FitConfig {
        hidden: args.hidden.clone(),
        activations: args.activation.clone(),
        output: args.output.0,
        loss: args.loss.0,
        residual: args.residual,
        init: args.init.0,
        scaling: args
            .scaling
            .0
            .unwrap_or(if images { Scaling::Global } else { Scaling::Feature }),
        scale_target: !args.no_scale_target,
        validation_fraction,
        train: TrainConfig {
            epochs,
            batch_size: args.batch_size as usize,
            learning_rate: args.lr,
            optimizer: OptimizerConfig {
                kind: args.optimizer,
                weight_decay: args.weight_decay,
                ..OptimizerConfig::default()
            },
            schedule: args.schedule,
            clip_norm: args.clip_norm,
            patience: args.patience.map(|p| p as usize),
            seed: args.seed,
        },
    };
    let task = train_set.task().context("the training data has no target")?;
    let n_classes = match &train_set.target {
        actlab::Target::Classes { classes, .. } => classes.len(),
        _ => 0,
    };
    if !args.json {
        print_data_summary(&name, &train_set, &test_set);
        if args.output.0.is_none() {
            let (output, outputs) = output_layer(task, n_classes, None)?;
            println!(
                "output   auto: {output} with {outputs} output{} for {}",
                if outputs == 1 { "" } else { "s" },
                match task {
                    Task::Regression => "regression".to_string(),
                    Task::Classification => format!("{n_classes} classes"),
                }
            );
        }
    }

    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} epoch {pos}/{len} {msg} [{elapsed} < {eta}]")
                .expect("valid template"),
        );
        bar
    });
    let start = Instant::now();
    let fitted = fit(&train_set, &config, |record: &EpochRecord| {
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
    let test_scores = fitted.model.evaluate(&test_set)?;
    if let Some(path) = &args.save {
        model_io::save(&fitted.model, path)?;
    }
    let samples_per_second = (fitted.history.epochs.len() * fitted.n_train) as f64 / seconds.max(1e-9);
    if args.json {
        let mut report = json!({
            "data": name,
            "task": task,
            "n_train": fitted.n_train,
            "n_test": test_set.len(),
            "n_features": train_set.n_features(),
            "n_outputs": fitted.model.mlp.outputs(),
            "classes": fitted.model.classes,
            "layers": fitted.model.mlp.layers(),
            "residual": args.residual,
            "loss": fitted.model.loss.to_string(),
            "optimizer": args.optimizer.to_string(),
            "learning_rate": args.lr,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "epochs": fitted.history.epochs.len(),
            "best_epoch": fitted.history.best_epoch,
            "steps": fitted.history.steps,
            "train_loss": train_scores.loss,
            "test_loss": test_scores.loss,
            "seconds": seconds,
            "samples_per_second": samples_per_second,
            "history": fitted.history.epochs,
        });
        add_scores(&mut report, "train", &train_scores);
        add_scores(&mut report, "test", &test_scores);
        if let Some(path) = &args.save {
            report["model"] = json!(path);
        }
        println!("{report}");
    } else {
        print_training_summary(&fitted, &args, seconds, samples_per_second);
        println!(
            "result   train {}, test {}",
            describe(&train_scores),
            describe(&test_scores)
        );
        if let Some(path) = &args.save {
            println!("saved    {}", path.display());
        }
    }
    Ok(())
}

fn add_scores(report: &mut serde_json::Value, prefix: &str, s: &Scores) {
    for (key, value) in [("accuracy", s.accuracy), ("r2", s.r2), ("rmse", s.rmse)] {
        if let Some(v) = value {
            report[format!("{prefix}_{key}")] = json!(v);
        }
    }
}

fn describe(s: &Scores) -> String {
    match (s.accuracy, s.r2, s.rmse) {
        (Some(a), _, _) => format!("accuracy {a:.4} (loss {:.4})", s.loss),
        (_, Some(r2), Some(rmse)) => format!("R² {r2:.4}, RMSE {rmse:.4}"),
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

fn print_training_summary(fitted: &Fitted, args: &TrainArgs, seconds: f64, samples_per_second: f64) {
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
    println!(
        "training {} lr {} batch {}, {} epochs ({} steps{stopped}), seed {}: {:.2} s, {:.0} samples/s",
        args.optimizer,
        args.lr,
        args.batch_size,
        h.epochs.len(),
        h.steps,
        args.seed,
        seconds,
        samples_per_second
    );
}

/// Refuses to write a model or predictions over a data file the user gave.
fn refuse_to_overwrite_input(out: &Path, data: &str, test: Option<&Path>) -> Result<()> {
    let Ok(out_canonical) = out.canonicalize() else {
        return Ok(());
    };
    for input in std::iter::once(Path::new(data)).chain(test) {
        if input.canonicalize().is_ok_and(|p| p == out_canonical) {
            bail!("{} is an input data file; refusing to overwrite it", out.display());
        }
    }
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    let model = model_io::load(&args.model)?;
    let Source { split, name, .. } = load_data(&args.data, Some(model.task), 0)?;
    let data = split.test.unwrap_or(split.train);
    let scores = model.evaluate(&data)?;
    if args.json {
        let mut report = json!({"data": name, "model": args.model, "task": model.task, "n_test": data.len(), "test_loss": scores.loss});
        add_scores(&mut report, "test", &scores);
        println!("{report}");
    } else {
        println!("{name}: {} samples, {}", data.len(), describe(&scores));
    }
    Ok(())
}

fn predict(args: PredictArgs) -> Result<()> {
    let model = model_io::load(&args.model)?;
    if let Some(out) = &args.out {
        refuse_to_overwrite_input(out, &args.data.to_string_lossy(), None)?;
    }
    let data = data::read_csv_features(&args.data, &model.feature_names)?;
    let predictions = model.predict(&data)?;
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
                writer.write_record([&model.classes[actlab::metrics::predicted_class(row)]])?;
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
        Some(path) => model_io::write_atomically(path, &bytes)?,
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    Ok(())
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
    fn default_epochs_aim_at_forty_thousand_samples() {
        assert_eq!(default_epochs(1438), 28);
        assert_eq!(default_epochs(60_000), 10);
        assert_eq!(default_epochs(120), 300);
    }
}
