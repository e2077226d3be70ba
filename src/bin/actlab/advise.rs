//! `actlab advise`: which output activation, loss and hidden activation fit a data set's target.

use actlab::advise::{advise as advise_target, Advice, Choice, TargetSummary};
use actlab::Activation;
use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::args::{activation, load_data, DataArgs, Source, TaskArg};

pub const EXAMPLES: &str = "Examples:
  actlab advise --data iris                                # multi-class: softmax and cross-entropy
  actlab advise --data houses.csv --target price           # regression: the target's range decides
  actlab advise --data houses.csv --output sigmoid         # warns: sigmoid cannot reach prices above 1";

#[derive(Args, Debug)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Classification or regression; auto infers it from the target (strings, or integers with
    /// few distinct values, are classes).
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    pub task: TaskArg,
    /// The output activation you mean to use: advise warns when it cannot fit the target.
    #[arg(long, value_name = "NAME", value_parser = activation)]
    pub output: Option<Activation>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    pub json: bool,
}

pub fn advise(args: AdviseArgs) -> Result<()> {
    let path = std::path::Path::new(&args.data.data);
    // A CSV file is read as a raw table (strings and missing cells allowed), as train reads it.
    let (data, name) = if path.is_file() {
        let prepared = actlab::preprocess::read_training(
            path,
            &Default::default(),
            &Default::default(),
            args.data.target.as_deref(),
            args.task.task(),
            None,
        )?;
        (prepared.data, args.data.data.clone())
    } else {
        let Source { split, name, .. } = load_data(&args.data, args.task.task(), 0)?;
        (split.train, name)
    };
    let mut advice = advise_target(&data, args.output)?;
    advice.warnings.extend(crate::args::single_sample_classes(&[&data]));
    if args.json {
        // The advice's fields in its order, the train flags in place of `scale_target`.
        #[derive(Serialize)]
        struct Report<'a> {
            data: &'a str,
            target: &'a TargetSummary,
            output: &'a Choice,
            loss: &'a Choice,
            hidden: &'a Choice,
            train_flags: Vec<String>,
            warnings: &'a [String],
        }
        let report = Report {
            data: &name,
            target: &advice.target,
            output: &advice.output,
            loss: &advice.loss,
            hidden: &advice.hidden,
            train_flags: train_flags(&advice),
            warnings: &advice.warnings,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let mut data_flag = name.clone();
    if let Some(target) = &args.data.target {
        data_flag += &format!(" --target {target}");
    }
    print_advice(&name, &data_flag, &data, &advice);
    Ok(())
}

fn print_advice(name: &str, data_flag: &str, data: &actlab::Dataset, a: &Advice) {
    let t = &a.target;
    let detail = match (t.classes.len(), t.min, t.max) {
        (n, _, _) if n > 0 => format!(
            ": {n} classes ({}{})",
            t.classes.iter().take(10).cloned().collect::<Vec<_>>().join(", "),
            if n > 10 { ", …" } else { "" }
        ),
        (_, Some(min), Some(max)) => format!(" ({min} to {max})"),
        _ => String::new(),
    };
    println!(
        "data     {}: {} samples, {} feature{}, target '{}'",
        name,
        t.samples,
        data.n_features(),
        if data.n_features() == 1 { "" } else { "s" },
        t.name
    );
    println!("target   {}{detail}", t.kind);
    println!("output   {}: {}", a.output.name, a.output.reason);
    println!("loss     {}: {}", a.loss.name, a.loss.reason);
    println!("hidden   {}: {}", a.hidden.name, a.hidden.reason);
    for w in &a.warnings {
        println!("warning  {w}");
    }
    println!("train    actlab train --data {data_flag} {}", train_flags(a).join(" "));
}

/// The `actlab train` flags that follow the advice.
fn train_flags(a: &Advice) -> Vec<String> {
    let mut flags = vec![
        format!("--output {}", a.output.name),
        format!("--loss {}", a.loss.name),
        format!("--activation {}", a.hidden.name),
    ];
    if !a.scale_target {
        flags.push("--no-scale-target".into());
    }
    flags
}
