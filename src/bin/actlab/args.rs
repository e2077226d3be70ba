//! Argument groups and parsers shared by the subcommands, and reading `--data`.

use std::path::PathBuf;

use actlab::data::table::TableOptions;
pub use actlab::data::Source;
use actlab::data::{self, LoadError, LoadOptions, FASHION_MNIST_DIR};
use actlab::model::{FitConfig, Scaling};
use actlab::optim::{OptimizerConfig, OptimizerKind, Schedule};
use actlab::preprocess::{self, ColumnSummary, Preprocessor, SchemaOptions};
use actlab::train::TrainConfig;
use actlab::weights::{ClassWeight, Threshold};
use actlab::{Activation, Dataset, Init, Loss, Task};
use anyhow::{anyhow, bail, Context, Result};
use clap::{ArgAction, Args, ValueEnum};

#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// A CSV file (header row; target in the last column unless --target), a directory of IDX
    /// files (train-*/t10k-*), or a built-in set: iris, digits, mnist1d, fashion-mnist (needs the
    /// Debian package dataset-fashion-mnist), xor, circles, moons, spirals, gauss.
    #[arg(long, value_name = "PATH|NAME")]
    pub data: String,
    /// Name of the target column (default: the last column).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Samples of a generated set (xor, circles, moons, spirals, gauss): 4 to 10,000,000
    /// (default: 400).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(4..=10_000_000))]
    pub samples: Option<u64>,
    /// Noise of a generated set: the standard deviation of the Gaussian noise added to each
    /// coordinate, in the coordinates' units (the noise-free points lie within [-1, 2]). Default:
    /// 0.05 (xor, circles, spirals), 0.1 (moons), 0.5 (gauss).
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = non_negative_f32)]
    pub noise: Option<f32>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TaskArg {
    Auto,
    Classification,
    Regression,
}

impl TaskArg {
    /// The task to force, or `None` to infer it.
    pub fn task(self) -> Option<Task> {
        match self {
            TaskArg::Auto => None,
            TaskArg::Classification => Some(Task::Classification),
            TaskArg::Regression => Some(Task::Regression),
        }
    }
}

pub fn activation(s: &str) -> Result<Activation, String> {
    s.parse().map_err(|e: actlab::Error| e.to_string())
}

/// A setting that is either `auto` (`None`: the library chooses) or a given value.
#[derive(Clone, Copy, Debug)]
pub struct Auto<T>(pub Option<T>);

pub fn auto_or<T>(
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

pub fn scaling(s: &str) -> Result<Scaling, String> {
    match s.to_ascii_lowercase().as_str() {
        "feature" => Ok(Scaling::Feature),
        "global" => Ok(Scaling::Global),
        "none" => Ok(Scaling::None),
        _ => Err("expected auto, feature, global or none".into()),
    }
}

pub fn layer_size(s: &str) -> Result<usize, String> {
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

/// A count of at least 1 (`--epochs`, `--batch-size`, …).
pub fn positive_u64(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a positive integer".into()),
    }
}

pub fn positive_f32(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if x > 0.0 {
            Ok(x)
        } else {
            Err("must be greater than 0".into())
        }
    })
}

pub fn non_negative_f32(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if x >= 0.0 {
            Ok(x)
        } else {
            Err("must not be negative".into())
        }
    })
}

pub fn fraction(s: &str) -> Result<f32, String> {
    number(s).and_then(|x| {
        if (0.0..1.0).contains(&x) {
            Ok(x)
        } else {
            Err("must be at least 0 and below 1".into())
        }
    })
}

/// Reads `--data` (see [`data::load`]); errors name the flags at fault.
pub fn load_data(args: &DataArgs, task: Option<Task>, seed: u64) -> Result<Source> {
    let options = LoadOptions {
        target: args.target.clone(),
        task,
        samples: args.samples.map(|n| n as usize),
        noise: args.noise,
        seed,
    };
    data::load(&args.data, &options).map_err(|e| match e {
        LoadError::Read(e) => e.into(),
        LoadError::TargetWithIdx(spec) => anyhow!("--target cannot be used with the IDX directory '{spec}'"),
        LoadError::TargetWithBuiltin(spec) => anyhow!("--target cannot be used with the built-in data set '{spec}'"),
        LoadError::FashionMnistMissing => anyhow!(
            "--data fashion-mnist: {FASHION_MNIST_DIR} not found; install it with `apt-get install dataset-fashion-mnist`"
        ),
        LoadError::Unknown(spec) => anyhow!(
            "--data '{spec}': no such file, and not a built-in data set ({}, fashion-mnist)",
            data::BUILTIN_NAMES.join(", ")
        ),
        LoadError::Task { task, name, error } => anyhow::Error::new(error).context(format!(
            "--task {} with the data set '{name}'",
            format!("{task:?}").to_lowercase()
        )),
    })
}

/// Where the training and test data come from.
#[derive(Args, Debug)]
pub struct SplitArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Test data (CSV); without it a seeded, stratified 80/20 split of --data is used
    /// (built-in MNIST-1D and IDX directories bring their own test split).
    #[arg(long, value_name = "PATH")]
    pub test: Option<PathBuf>,
    /// Classification or regression; auto infers it from the target (strings, or integers with
    /// few distinct values, are classes).
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    pub task: TaskArg,
    #[command(flatten)]
    pub table: TableArgs,
    #[command(flatten)]
    pub schema: SchemaArgs,
}

/// The network around the hidden activations.
#[derive(Args, Debug, Clone)]
pub struct NetworkArgs {
    /// Hidden layer sizes, comma separated (e.g. 256,128).
    #[arg(long, value_name = "SIZES", value_delimiter = ',', action = ArgAction::Set, default_value = "100", value_parser = layer_size)]
    pub hidden: Vec<usize>,
    /// Output activation. auto: softmax for several classes, sigmoid for two, identity for regression.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(activation))]
    pub output: Auto<Activation>,
    /// Loss: cross_entropy, binary_cross_entropy, mse, huber[:delta] (delta: where the loss turns
    /// from quadratic to linear, in the units the network predicts, standardized targets unless
    /// --no-scale-target; default 1). auto: the one that fits the output.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(|s| s.parse::<Loss>().map_err(|e| e.to_string())))]
    pub loss: Auto<Loss>,
    /// Weight initialisation: glorot, he, lecun. auto: the one that suits each layer's activation.
    #[arg(long, value_name = "NAME", default_value = "auto", value_parser = auto_or(|s| s.parse::<Init>().map_err(|e| e.to_string())))]
    pub init: Auto<Init>,
    /// Add each hidden layer's input to its output where widths match: h = h + σ(W·h + b).
    #[arg(long)]
    pub residual: bool,
    /// Feature standardization with training-split statistics: feature (each column to mean 0,
    /// std 1), global (one mean and std for all columns, for pixels), none. auto: global for IDX
    /// image data, feature otherwise.
    #[arg(long, value_name = "HOW", default_value = "auto", value_parser = auto_or(scaling))]
    pub scaling: Auto<Scaling>,
    /// Do not standardize regression targets internally.
    #[arg(long)]
    pub no_scale_target: bool,
    /// Inverted dropout on the hidden layers' outputs in training only: one rate for all hidden
    /// layers or one per hidden layer, comma separated, each at least 0 and below 1 (e.g. 0.2 or
    /// 0.2,0.1). Deterministic for a given --seed. Default: no dropout.
    #[arg(long, value_name = "RATES", value_delimiter = ',', action = ArgAction::Set, allow_negative_numbers = true, value_parser = fraction)]
    pub dropout: Vec<f32>,
}

/// The most worker threads --threads accepts: far more than any machine's cores, few enough
/// that starting them takes no noticeable time.
const MAX_THREADS: u64 = 1024;

/// How the network is trained.
#[derive(Args, Debug, Clone)]
pub struct OptimArgs {
    /// Optimizer: sgd, momentum, nesterov, adam, adamw, rmsprop.
    #[arg(long, value_name = "NAME", default_value = "adam", value_parser = |s: &str| s.parse::<OptimizerKind>().map_err(|e| e.to_string()))]
    pub optimizer: OptimizerKind,
    /// Learning rate.
    #[arg(long, value_name = "X", default_value_t = 1e-3, allow_negative_numbers = true, value_parser = positive_f32)]
    pub lr: f32,
    /// Learning-rate schedule: constant; step[:every[:gamma]] (multiply the rate by gamma every
    /// `every` epochs; default 10 and 0.1); cosine (from --lr down to 0 over the epochs);
    /// plateau[:patience[:factor]] (multiply by factor when the monitored loss has not improved
    /// for `patience` epochs; default 5 and 0.1).
    #[arg(long, value_name = "NAME", default_value = "constant", value_parser = |s: &str| s.parse::<Schedule>().map_err(|e| e.to_string()))]
    pub schedule: Schedule,
    /// Samples per gradient step.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = crate::args::positive_u64)]
    pub batch_size: u64,
    /// Passes over the training data (default: enough to see about 40,000 samples, 10 to 300 epochs).
    #[arg(long, value_name = "N", value_parser = crate::args::positive_u64)]
    pub epochs: Option<u64>,
    /// L2 weight decay on the weights (decoupled for adamw).
    #[arg(long, value_name = "X", default_value_t = 0.0, allow_negative_numbers = true, value_parser = non_negative_f32)]
    pub weight_decay: f32,
    /// L1 regularisation on the weights: after each update every weight moves toward 0 by this
    /// rate times the step size and stops at exactly 0, so the weights a task does not need
    /// become 0 (a sparse network). Scaled per weight as the step is for adam and rmsprop.
    #[arg(long, value_name = "X", default_value_t = 0.0, allow_negative_numbers = true, value_parser = non_negative_f32)]
    pub l1: f32,
    /// Clip the gradient's global L2 norm to this value (default: no clipping).
    #[arg(long, value_name = "X", allow_negative_numbers = true, value_parser = positive_f32)]
    pub clip_norm: Option<f32>,
    /// Hold out this fraction of the training data (at least 0, below 1; 0.1 is 10%) for
    /// validation, reported per epoch.
    #[arg(long, value_name = "X", default_value_t = 0.0, allow_negative_numbers = true, value_parser = fraction)]
    pub validation: f32,
    /// Stop when the validation loss has not improved for N epochs and keep the best weights
    /// (holds out 10% for validation unless --validation says otherwise). Default: no early
    /// stopping.
    #[arg(long, value_name = "N", value_parser = crate::args::positive_u64)]
    pub patience: Option<u64>,
    /// Seed of the initial weights, the shuffling and the splits.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Worker threads, 1 to 1024 (default: all cores). Results are identical for any N at a given
    /// seed. While an epoch has work to share out, the other threads wait for it by spinning, so
    /// they keep their cores busy until the epoch ends; --threads 1 leaves the other cores free.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
    pub threads: Option<u64>,
}

/// Training and test data, ready to fit.
pub struct Prepared {
    pub train: Dataset,
    pub test: Dataset,
    /// How the data is called in reports.
    pub name: String,
    /// How a CSV file's raw columns became the features, and the schema inferred (None for
    /// built-in sets and IDX directories).
    pub preprocessing: Option<Preprocessing>,
}

/// How a CSV file's raw columns became the features, and the schema inferred.
pub type Preprocessing = (Preprocessor, Vec<ColumnSummary>);

impl SplitArgs {
    /// Reads the data and makes the train/test split (seeded by `seed`).
    pub fn load(&self, seed: u64) -> Result<Prepared> {
        let (Source { split, name }, preprocessing) = self.read(seed, true)?;
        let (train, test) = match (split.test, &self.test) {
            (_, Some(path)) if preprocessing.is_some() => {
                let (preprocessor, _) = preprocessing.as_ref().expect("matched");
                let task = split.train.task().context("the training data has no target")?;
                let read = preprocessor.read(
                    path,
                    &self.table.options(),
                    Some((&split.train.target_name, task)),
                    false,
                )?;
                print_notes(&read.notes);
                note_ignored(path, &read.ignored);
                let mut test = read.data;
                if let actlab::Target::Classes { classes, .. } = &split.train.target {
                    if classes.len() >= 2 {
                        test.align_classes(classes)
                            .with_context(|| format!("--test {}", path.display()))?;
                    }
                }
                (split.train, test)
            }
            (_, Some(path)) => {
                // The training set's columns, by name, in whatever order the test file has them.
                let columns = data::Columns {
                    features: &split.train.feature_names,
                    target: &split.train.target_name,
                    task: split.train.task(),
                    header: true,
                };
                let mut matched = data::read_csv_columns(path, &columns)?;
                // Before training: a class the training data lacks cannot be scored. (With fewer
                // than two classes, training refuses the data with a better message.)
                match &split.train.target {
                    actlab::Target::Classes { classes, .. } if classes.len() >= 2 => matched
                        .data
                        .align_classes(classes)
                        .with_context(|| format!("--test {}", path.display()))?,
                    _ => {}
                }
                note_ignored(path, &matched.ignored);
                (split.train, matched.data)
            }
            (Some(test), None) => (split.train, test),
            (None, None) => {
                let (train, test) = data::stratified_split(&split.train, 0.2, seed);
                if test.is_empty() {
                    return Err(no_test_samples(&name, train.len()));
                }
                (train, test)
            }
        };
        Ok(Prepared {
            train,
            test,
            name,
            preprocessing,
        })
    }

    /// Reads `--data` whole, without a train/test split: a CSV file's preprocessing is fitted on
    /// every row (see [`SplitArgs::read`]).
    pub fn read_whole(&self, seed: u64) -> Result<Prepared> {
        let (Source { split, name }, preprocessing) = self.read(seed, false)?;
        Ok(Prepared {
            test: split.train.subset(&[]),
            train: split.train,
            name,
            preprocessing,
        })
    }

    /// Reads `--data`: a CSV file as a raw table whose schema is inferred (see
    /// [`preprocess::read_training`]), anything else with [`load_data`]. Without `--test` and
    /// with `split`, a CSV file's 80/20 split is made before anything is fitted.
    fn read(&self, seed: u64, split: bool) -> Result<(Source, Option<Preprocessing>)> {
        let path = std::path::Path::new(&self.data.data);
        if !path.is_file() {
            if let Some(flag) = self.table.flag_given().or(self.schema.flag_given()) {
                bail!("{flag} applies to CSV files; {} is not one", self.data.data);
            }
            return Ok((load_data(&self.data, self.task.task(), seed)?, None));
        }
        let prepared = preprocess::read_training(
            path,
            &self.table.options(),
            &self.schema.options(),
            self.data.target.as_deref(),
            self.task.task(),
            // Without --test, the 80/20 split is made before anything is fitted.
            (split && self.test.is_none()).then_some((0.2, seed)),
        )?;
        if prepared.test.as_ref().is_some_and(Dataset::is_empty) {
            return Err(no_test_samples(&self.data.data, prepared.data.len()));
        }
        for warning in &prepared.warnings {
            eprintln!("warning: {warning}");
        }
        let parts: Vec<&Dataset> = std::iter::once(&prepared.data).chain(&prepared.test).collect();
        if let Some(warning) = single_sample_classes(&parts) {
            eprintln!("warning: {warning}");
        }
        print_notes(&prepared.notes);
        let source = Source {
            split: data::Split {
                train: prepared.data,
                test: prepared.test,
            },
            name: self.data.data.clone(),
        };
        Ok((source, Some((prepared.preprocessor, prepared.schema))))
    }
}

/// A warning naming the classes that have a single sample in data (`parts`: the parts of one
/// set, which share its class list) of at least 10 samples: a label seen once among many is more
/// often a typo than a class, and one sample can neither teach nor test it.
pub fn single_sample_classes(parts: &[&Dataset]) -> Option<String> {
    let actlab::Target::Classes { classes, .. } = &parts.first()?.target else {
        return None;
    };
    let mut counts = vec![0usize; classes.len()];
    for part in parts {
        if let actlab::Target::Classes { labels, .. } = &part.target {
            for &label in labels {
                counts[label as usize] += 1;
            }
        }
    }
    let total: usize = counts.iter().sum();
    let once: Vec<String> = (0..classes.len())
        .filter(|&c| counts[c] == 1)
        .map(|c| data::quote(&classes[c]))
        .collect();
    if once.is_empty() || total < 10 {
        return None;
    }
    let target = &parts[0].target_name;
    let (named, noun) = match once.len() {
        1 => (once[0].clone(), "class"),
        n if n <= 5 => (once.join(", "), "classes"),
        n => (format!("{}, … ({n} in all)", once[..5].join(", ")), "classes"),
    };
    Some(format!(
        "{noun} {named} of '{target}' {} a single sample among {total}: a typo? One sample can neither teach a class nor test it",
        if once.len() == 1 { "has" } else { "have" }
    ))
}

/// The error for data too small to hold out a test sample.
fn no_test_samples(name: &str, rows: usize) -> anyhow::Error {
    anyhow!(
        "{name}: {rows} {} no test samples in the 80/20 split (it keeps one of each class for training); \
         give more rows, or test data with --test",
        if rows == 1 { "row leaves" } else { "rows leave" }
    )
}

/// One note naming the columns of a test file that training did not use.
fn note_ignored(path: &std::path::Path, ignored: &[String]) {
    if !ignored.is_empty() {
        let shown: Vec<String> = ignored.iter().take(8).map(|n| data::quote(n)).collect();
        eprintln!(
            "note: {} has {} the training data lacks, ignored: {}{}",
            path.display(),
            count(ignored.len(), "column"),
            shown.join(", "),
            if ignored.len() > shown.len() { ", …" } else { "" }
        );
    }
}

/// Each note on its own `note:` line on stderr.
pub fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("note: {note}");
    }
}

/// How a CSV file is read: its delimiter and the cells that mean "missing".
#[derive(Args, Debug, Clone, Default)]
pub struct TableArgs {
    /// The CSV delimiter: ',', ';', '|' or 'tab' (default: sniffed from the header line, the one
    /// of these found most often outside quotes).
    #[arg(long, value_name = "CHAR", value_parser = delimiter)]
    pub delimiter: Option<u8>,
    /// Cells that mean "missing", comma separated (a leading comma includes the empty cell).
    /// Default: empty, NA, N/A, null, ?, - and not-a-number in its two usual spellings.
    #[arg(long, value_name = "TOKENS", value_delimiter = ',', action = ArgAction::Set, allow_hyphen_values = true)]
    pub na_values: Option<Vec<String>>,
}

impl TableArgs {
    /// The library's reading options.
    pub fn options(&self) -> TableOptions {
        let mut options = TableOptions {
            delimiter: self.delimiter,
            ..TableOptions::default()
        };
        if let Some(na) = &self.na_values {
            options.na_values = na.iter().map(|s| s.trim().to_string()).collect();
        }
        options
    }

    /// The first of these flags given, for a message that they do not apply.
    pub fn flag_given(&self) -> Option<&'static str> {
        if self.delimiter.is_some() {
            Some("--delimiter")
        } else if self.na_values.is_some() {
            Some("--na-values")
        } else {
            None
        }
    }
}

fn delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => Err("must be ',', ';', '|' or 'tab'".into()),
    }
}

/// How the columns of a training CSV file are typed.
#[derive(Args, Debug, Clone)]
pub struct SchemaArgs {
    /// Columns of integers to encode as categories (one-hot) rather than numbers, comma separated.
    #[arg(long, value_name = "COLS", value_delimiter = ',', action = ArgAction::Set)]
    pub categorical: Vec<String>,
    /// Columns to leave out (an identifier, say), comma separated.
    #[arg(long, value_name = "COLS", value_delimiter = ',', action = ArgAction::Set)]
    pub drop: Vec<String>,
    /// Categories seen fewer times than this in the training file are pooled into one
    /// "<other>" column.
    #[arg(long, value_name = "N", default_value_t = preprocess::DEFAULT_MIN_CATEGORY_COUNT as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub min_category_count: u64,
}

impl SchemaArgs {
    /// The library's schema options.
    pub fn options(&self) -> SchemaOptions {
        SchemaOptions {
            categorical: self.categorical.clone(),
            drop: self.drop.clone(),
            min_category_count: self.min_category_count as usize,
        }
    }

    /// The first of these flags given, for a message that they do not apply.
    pub fn flag_given(&self) -> Option<&'static str> {
        if !self.categorical.is_empty() {
            Some("--categorical")
        } else if !self.drop.is_empty() {
            Some("--drop")
        } else if self.min_category_count != preprocess::DEFAULT_MIN_CATEGORY_COUNT as u64 {
            Some("--min-category-count")
        } else {
            None
        }
    }
}

impl OptimArgs {
    /// Sets up the global thread pool when --threads is given.
    pub fn init_threads(&self) -> Result<()> {
        if let Some(threads) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads as usize)
                .build_global()
                .context("--threads")?;
        }
        Ok(())
    }
}

/// The library's fit configuration from the command line's flags.
pub fn fit_config(network: &NetworkArgs, optim: &OptimArgs, activations: Vec<Activation>) -> FitConfig {
    FitConfig {
        hidden: network.hidden.clone(),
        activations,
        output: network.output.0,
        loss: network.loss.0,
        residual: network.residual,
        init: network.init.0,
        scaling: network.scaling.0,
        scale_target: !network.no_scale_target,
        // 0 (the flag's default) leaves the share to the library: some when --patience needs it.
        validation_fraction: (optim.validation > 0.0).then_some(optim.validation),
        train: TrainConfig {
            epochs: optim.epochs.map(|e| e as usize),
            batch_size: optim.batch_size as usize,
            learning_rate: optim.lr,
            optimizer: OptimizerConfig {
                kind: optim.optimizer,
                weight_decay: optim.weight_decay,
                l1: optim.l1,
                ..OptimizerConfig::default()
            },
            schedule: optim.schedule,
            clip_norm: optim.clip_norm,
            patience: optim.patience.map(|p| p as usize),
            seed: optim.seed,
            diagnostics: None,
            dropout: network.dropout.clone(),
        },
        class_weight: None,
        sample_weights: None,
        threshold: None,
    }
}

/// The command line's flag for a configuration field of the library (`train.epochs` →
/// `--epochs`), where one flag sets it as it is.
pub fn flag_of(field: &str) -> Option<&'static str> {
    const FLAGS: [(&str, &str); 23] = [
        ("hidden", "--hidden"),
        ("activations", "--activation"),
        ("output", "--output"),
        ("loss", "--loss"),
        ("residual", "--residual"),
        ("init", "--init"),
        ("scaling", "--scaling"),
        ("validation_fraction", "--validation"),
        ("train.epochs", "--epochs"),
        ("train.batch_size", "--batch-size"),
        ("train.learning_rate", "--lr"),
        ("train.optimizer.kind", "--optimizer"),
        ("train.optimizer.weight_decay", "--weight-decay"),
        ("train.optimizer.l1", "--l1"),
        ("train.schedule", "--schedule"),
        ("train.clip_norm", "--clip-norm"),
        ("train.patience", "--patience"),
        ("train.seed", "--seed"),
        ("train.dropout", "--dropout"),
        ("class_weight", "--class-weight"),
        ("threshold", "--threshold"),
        ("folds", "--folds"),
        ("sample_weights", "--sample-weight"),
    ];
    // A field inside a flag's setting (`train.schedule.step.every`) is part of that flag.
    FLAGS
        .iter()
        .find(|(f, _)| {
            field
                .strip_prefix(f)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .map(|&(_, flag)| flag)
}

/// A library error in the command line's words: settings named by their flags, and the memory
/// limit's flag.
pub fn in_flags(e: &actlab::Error) -> String {
    use actlab::Error;
    match e {
        Error::Setting { field, message } => format!("{} {message}", flag_of(field).unwrap_or(field)),
        Error::ResumeSetting { path, field, then, now } => Error::ResumeSetting {
            path: path.clone(),
            field: flag_of(field).map_or_else(|| field.clone(), str::to_string),
            then: then.clone(),
            now: now.clone(),
        }
        .to_string(),
        Error::Memory { .. } => format!("{e} (set it with --max-memory)"),
        _ => e.to_string(),
    }
}

/// Prefixes a library error with the flag whose value it concerns, e.g.
/// `--save out: is a directory, not a regular file; refusing to replace it`.
pub fn flag(name: &'static str) -> impl Fn(actlab::Error) -> anyhow::Error {
    move |e| anyhow::anyhow!("{name} {}", in_flags(&e))
}

/// Weights for imbalanced data and the decision threshold (train and cv).
#[derive(Args, Debug, Clone)]
pub struct WeightArgs {
    /// Weigh each class's samples in training: balanced (inversely to the class's frequency,
    /// n / (k · n_class)) or label=weight pairs, comma separated (e.g. yes=5,no=1; classes not
    /// named weigh 1).
    #[arg(long, value_name = "SPEC", value_parser = |s: &str| s.parse::<ClassWeight>().map_err(|e| e.to_string()))]
    pub class_weight: Option<ClassWeight>,
    /// A column of the CSV file holding each sample's weight (finite, at least 0); it multiplies
    /// the sample's loss in training and is not a feature.
    #[arg(long, value_name = "COL")]
    pub sample_weight: Option<String>,
    /// Binary classification: predict the second class when its probability is at least X
    /// (default: 0.5), or auto: the threshold with the best F1 of the second class on the
    /// validation data (holds out 10% unless --validation says otherwise). Stored in the model.
    #[arg(long, value_name = "X", value_parser = |s: &str| s.parse::<Threshold>().map_err(|e| e.to_string()))]
    pub threshold: Option<Threshold>,
}

impl WeightArgs {
    /// Sets the weights and the threshold of `config`, and takes the sample-weight column out of
    /// the features of `prepared` (checked in the file `data` first, split by `delimiter`, the
    /// --delimiter flag, or the one the table reader sniffs; errors name line and column).
    pub fn apply(
        &self,
        config: &mut FitConfig,
        prepared: &mut Prepared,
        data: &str,
        delimiter: Option<u8>,
    ) -> Result<()> {
        config.class_weight = self.class_weight.clone();
        config.threshold = self.threshold;
        let Some(column) = &self.sample_weight else {
            return Ok(());
        };
        let path = std::path::Path::new(data);
        if !path.is_file() {
            bail!("--sample-weight reads a column of a CSV file; {data} is not one");
        }
        actlab::weights::check_weight_column(path, column, delimiter)?;
        let weights = actlab::weights::take_feature(&mut prepared.train, column).ok_or_else(|| {
            anyhow!("--sample-weight '{column}' is not a numeric feature column of {data} (is it the target?)")
        })?;
        actlab::weights::take_feature(&mut prepared.test, column);
        // A raw table's weight column is no feature of the model: predict does not need it.
        if let Some((preprocessor, schema)) = &mut prepared.preprocessing {
            let reason = "sample weights (--sample-weight)".to_string();
            for plan in preprocessor.columns.iter_mut().filter(|c| &c.name == column) {
                plan.encoding = actlab::preprocess::Encoding::Dropped { reason: reason.clone() };
            }
            for summary in schema.iter_mut().filter(|c| &c.name == column) {
                summary.kind = "dropped";
                summary.note = Some(reason.clone());
            }
        }
        config.sample_weights = Some(weights);
        Ok(())
    }
}

/// What an output flag writes, so that an existing file of another kind is not replaced: a
/// CSV file given to `--save` by a slip of the keyboard, or a model given to `predict --out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A safetensors file (`--save`, `--checkpoint`).
    Safetensors,
    /// An ONNX graph (`export --onnx`): binary, but not safetensors.
    Onnx,
    /// Text (`predict --out`'s CSV).
    Text,
}

/// What the file whose first bytes are `head` (of `len` bytes in all) is, in words, and
/// whether an output of `kind` may replace it.
fn sniff(head: &[u8], len: u64, kind: OutputKind) -> (&'static str, bool) {
    if head.len() > 8 && head[8] == b'{' {
        let header = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if header.checked_add(8).is_some_and(|end| end <= len) {
            return ("a safetensors file", kind == OutputKind::Safetensors);
        }
    }
    // Text: no NUL byte, and UTF-8 but for a character cut off at the end of `head`.
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if utf8 && !head.contains(&0) {
        ("a text file", kind == OutputKind::Text)
    } else {
        ("a binary file", kind == OutputKind::Onnx)
    }
}

/// Checks the output path `path` of `flag` as [`actlab::fileio::check_output`] does (no
/// directory, device or input of the command), and refuses to replace an existing non-empty
/// file of another kind than `kind`. Returns whether there is a file that the write replaces.
pub fn check_output(
    flag: &'static str,
    path: &std::path::Path,
    inputs: &[&std::path::Path],
    kind: OutputKind,
) -> Result<bool> {
    use std::io::Read;
    actlab::fileio::check_output(path, inputs).map_err(self::flag(flag))?;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(false);
    };
    let mut head = Vec::new();
    // A file that cannot be read is left for the write to report.
    if meta.len() == 0
        || std::fs::File::open(path)
            .and_then(|f| f.take(8192).read_to_end(&mut head))
            .is_err()
    {
        return Ok(true);
    }
    let (found, replaceable) = sniff(&head, meta.len(), kind);
    if !replaceable {
        let wanted = match kind {
            OutputKind::Safetensors => "a model file",
            OutputKind::Onnx => "an ONNX file",
            OutputKind::Text => "a CSV file",
        };
        bail!(
            "{flag} {}: exists and is {found}, not {wanted}; refusing to replace it (remove it first, or choose another name)",
            path.display()
        );
    }
    Ok(true)
}

/// The words that say a write replaced a file.
pub fn replaced(existed: bool) -> &'static str {
    if existed {
        " (replaced the existing file)"
    } else {
        ""
    }
}

/// `n` and `noun`, in the plural unless `n` is 1: `1 epoch`, `3 epochs`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
