//! `actlab cv`: k-fold cross-validation with every `train` flag.

use actlab::cv::{cross_validate, Fold};
use actlab::Activation;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

use crate::args::{activation, fit_config, NetworkArgs, OptimArgs, SplitArgs, WeightArgs};

pub const EXAMPLES: &str = "Examples:
  actlab cv --data iris --folds 5
  actlab cv --data my.csv --target churn --class-weight balanced --folds 10 --json";

#[derive(Args, Debug)]
pub struct CvArgs {
    #[command(flatten)]
    pub split: SplitArgs,
    /// Hidden activation: one name for all layers or one per layer, comma separated.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', action = clap::ArgAction::Set, default_value = "relu", value_parser = activation)]
    pub activation: Vec<Activation>,
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    #[command(flatten)]
    pub weights: WeightArgs,
    /// Number of folds (stratified by class for classification; shuffled with --seed). Each
    /// fold is scored by a model trained on the others. A CSV table's preprocessing (schema,
    /// medians, categories) is fitted once on every row, before the folds are made.
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub folds: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn cv(args: CvArgs) -> Result<()> {
    if args.split.test.is_some() {
        bail!("--test does not apply to cv: every fold is scored in turn; give all the data with --data");
    }
    args.optim.init_threads()?;
    let seed = args.optim.seed;
    // A set that comes split (MNIST-1D, IDX directories) is cross-validated on its training part.
    let mut prepared = args.split.read_whole(seed)?;
    let mut config = fit_config(&args.network, &args.optim, args.activation.clone());
    args.weights.apply(
        &mut config,
        &mut prepared,
        &args.split.data.data,
        args.split.table.delimiter,
    )?;
    let data = &prepared.train;
    let k = args.folds as usize;
    if !args.json {
        println!(
            "data     {}: {}, {} features; {k} {}folds (seed {seed})",
            prepared.name,
            crate::args::count(data.len(), "sample"),
            data.n_features(),
            if matches!(data.target, actlab::Target::Classes { .. }) {
                "stratified "
            } else {
                ""
            }
        );
    }
    let print_fold = |f: &Fold| {
        if !args.json {
            let scores: Vec<String> = actlab::cv::scalars(&f.metrics)
                .into_iter()
                .filter_map(|(name, v)| v.map(|v| format!("{name} {v:.4}")))
                .collect();
            println!(
                "fold {:>2}  {} train / {} test: {}",
                f.fold,
                f.n_train,
                f.n_test,
                scores.join(", ")
            );
        }
    };
    let result = cross_validate(data, &config, k, seed, print_fold)?;
    if args.json {
        let summary: serde_json::Map<String, serde_json::Value> = result
            .summary
            .iter()
            .map(|s| {
                (
                    s.metric.to_string(),
                    json!({"mean": s.mean, "std": s.std, "folds": s.folds}),
                )
            })
            .collect();
        let mut report = json!({
            "data": prepared.name,
            "n_samples": data.len(),
            "folds": k,
            "seed": seed,
            "summary": summary,
            "per_fold": result.folds,
        });
        if let Some((_, schema)) = &prepared.preprocessing {
            report["schema"] = json!(schema);
        }
        println!("{report}");
    } else {
        println!("{:<18} mean ± std over {k} folds", "metric");
        for s in &result.summary {
            let defined = if s.folds < k {
                format!(" ({} folds define it)", s.folds)
            } else {
                String::new()
            };
            println!("{:<18} {:.4} ± {:.4}{defined}", s.metric, s.mean, s.std);
        }
    }
    Ok(())
}
