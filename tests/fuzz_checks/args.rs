//! Bytes as a command line (arguments separated by newlines, any bytes in them) through the
//! `actlab` binary's clap definitions, and the checks that run before any data is read or
//! any network trained.
//!
//! The binary keeps `Cli` private in `main.rs`, so this check builds the same subcommands from
//! the public argument structs of its modules, which the including crate must declare at its
//! root (they refer to each other through `crate::`): `advise`, `args`, `compare`, `cv`, `eval`,
//! `experiments`, `plot`, `predict`, `report`, `scores`, `stdout` and `train`, loaded with `#[path]`
//! from `src/bin/actlab/`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use actlab::mlp::{Mlp, MlpConfig};
use actlab::model::{output_layer, Scaling};
use actlab::{Dataset, Loss, Matrix, Target, Task};
use clap::{Args, Command, FromArgMatches};
use rand::SeedableRng;

use crate::advise::AdviseArgs;
use crate::args::{fit_config, NetworkArgs, OptimArgs, Prepared};
use crate::compare::CompareArgs;
use crate::cv::CvArgs;
use crate::eval::EvalArgs;
use crate::experiments::ExperimentsArgs;
use crate::plot::PlotArgs;
use crate::predict::PredictArgs;
use crate::train::TrainArgs;

/// Networks with more parameters than this are not built (building one is not cheap).
const MAX_PARAMS: usize = 1 << 20;

/// Parses `bytes` as the arguments after `actlab`.
pub fn check(bytes: &[u8]) {
    let argv = std::iter::once(OsString::from("actlab"))
        .chain(bytes.split(|&b| b == b'\n').map(|a| OsString::from_vec(a.to_vec())));
    let matches = match command().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => {
            // What main prints for an error.
            assert!(!e.render().to_string().trim().is_empty(), "an empty clap error");
            return;
        }
    };
    let (name, sub) = matches.subcommand().expect("a subcommand is required");
    match name {
        "train" => {
            let args = parsed::<TrainArgs>(sub);
            let task = args.split.task.task();
            check_network(&args.network, &args.optim, &args.activation, task);
        }
        "cv" => {
            let args = parsed::<CvArgs>(sub);
            let task = args.split.task.task();
            check_network(&args.network, &args.optim, &args.activation, task);
        }
        "compare" => {
            let args = parsed::<CompareArgs>(sub);
            let task = args.split.task.task();
            for &activation in &args.activations {
                check_network(&args.network, &args.optim, &[activation], task);
            }
        }
        "plot" => {
            let args = parsed::<PlotArgs>(sub);
            if let Ok(chart) = actlab::plot::activation_chart(&args.names, args.range, args.derivative) {
                actlab::plot::svg(&chart).expect("a chart of valid arguments draws");
            }
        }
        "eval" => drop(parsed::<EvalArgs>(sub)),
        "predict" => drop(parsed::<PredictArgs>(sub)),
        "experiments" => drop(parsed::<ExperimentsArgs>(sub)),
        "advise" => drop(parsed::<AdviseArgs>(sub)),
        "activations" => {}
        _ => unreachable!("unknown subcommand {name}"),
    }
}

/// The `actlab` command: the subcommands of `main.rs`'s `Command`, built from their arguments.
pub fn command() -> Command {
    Command::new("actlab")
        .subcommand_required(true)
        .subcommand(TrainArgs::augment_args(Command::new("train")))
        .subcommand(EvalArgs::augment_args(Command::new("eval")))
        .subcommand(PredictArgs::augment_args(Command::new("predict")))
        .subcommand(ExperimentsArgs::augment_args(Command::new("experiments")))
        .subcommand(AdviseArgs::augment_args(Command::new("advise")))
        .subcommand(CompareArgs::augment_args(Command::new("compare")))
        .subcommand(CvArgs::augment_args(Command::new("cv")))
        .subcommand(PlotArgs::augment_args(Command::new("plot")))
        .subcommand(Command::new("activations").arg(clap::arg!(--json)))
}

/// The typed arguments of a subcommand clap accepted (which must convert).
fn parsed<T: FromArgMatches>(matches: &clap::ArgMatches) -> T {
    T::from_arg_matches(matches).expect("accepted arguments convert to their struct")
}

/// What `fit` checks before training, for the network flags on a tiny data set of `task`.
fn check_network(network: &NetworkArgs, optim: &OptimArgs, activations: &[actlab::Activation], task: Option<Task>) {
    let data = tiny(task.unwrap_or(Task::Classification));
    let classes = match &data.train.target {
        Target::Classes { classes, .. } => classes.len(),
        _ => 0,
    };
    let config = fit_config(network, optim, activations.to_vec()).resolved(&data.train);
    assert_eq!(config.hidden, network.hidden);
    if network.scaling.0.is_none() {
        assert_eq!(
            config.scaling,
            Some(Scaling::Feature),
            "auto scaling of data that are not images"
        );
    }
    let Ok((output, outputs)) = output_layer(data.train.task().unwrap(), classes, config.output) else {
        return;
    };
    let loss = config.loss.unwrap_or(Loss::for_output(output));
    if loss.check(output).is_err() {
        return;
    }
    let mut widths = vec![data.train.n_features()];
    widths.extend(&config.hidden);
    widths.push(outputs);
    let params = widths
        .windows(2)
        .try_fold(0usize, |sum, w| sum.checked_add(w[0].checked_mul(w[1])?));
    if params.is_none_or(|p| p > MAX_PARAMS) {
        return;
    }
    let mlp_config = MlpConfig {
        inputs: data.train.n_features(),
        hidden: config.hidden.clone(),
        activations: config.activations.clone(),
        outputs,
        output,
        residual: config.residual,
        init: config.init,
    };
    if let Ok(mlp) = Mlp::new(
        &mlp_config,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(config.train.seed),
    ) {
        assert_eq!(mlp.outputs(), outputs);
        assert!(
            mlp.params().iter().all(|p| p.is_finite()),
            "initial weights are not finite"
        );
    }
}

/// Four samples of two features, with two classes or real targets.
fn tiny(task: Task) -> Prepared {
    let target = match task {
        Task::Classification => Target::Classes {
            labels: vec![0, 1, 0, 1],
            classes: vec!["a".into(), "b".into()],
        },
        Task::Regression => Target::Values(vec![0.5, -1.0, 2.0, 0.0]),
    };
    let data = Dataset {
        x: Matrix::from_vec(4, 2, vec![0.0, 1.0, 1.0, 0.0, 2.0, -1.0, -0.5, 3.0]),
        feature_names: vec!["x".into(), "y".into()],
        target_name: "t".into(),
        target,
        images: false,
    };
    Prepared {
        train: data.clone(),
        test: data,
        name: "tiny".into(),
        preprocessing: None,
    }
}
