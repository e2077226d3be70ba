//! `actlab plot`: draw activation functions and their derivatives.

use std::io::Write;
use std::path::PathBuf;

use actlab::{fileio, plot, Activation};
use anyhow::{bail, Context, Result};
use clap::Args;

use crate::args::activation;

pub const EXAMPLES: &str = "Examples:
  actlab plot sigmoid tanh relu                    # writes activations.svg
  actlab plot sigmoid tanh --derivative            # with f′ dashed: sigmoid′ peaks at 0.25, tanh′ at 1
  actlab plot relu leaky_relu:0.2 elu gelu --range -3,2 --out relu-family.png
  actlab plot silu mish --out - > smooth.svg       # SVG on stdout";

const DEFAULT_OUT: &str = "activations.svg";

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Activation functions to draw (spaces or commas between them); parameters after a colon:
    /// leaky_relu:0.2, elu:0.5, gelu:tanh. See `actlab activations`.
    #[arg(value_name = "NAMES", required = true, value_delimiter = ',', value_parser = activation)]
    pub names: Vec<Activation>,
    /// Also draw each function's derivative f′ (dashed, in the function's colour).
    #[arg(long)]
    pub derivative: bool,
    /// Range of x, as LOW,HIGH.
    #[arg(long, value_name = "LOW,HIGH", default_value = "-5,5", allow_hyphen_values = true, value_parser = range)]
    pub range: (f64, f64),
    /// Output file: FILE.svg or FILE.png (PNG text uses a built-in font), or - for SVG on stdout.
    /// An existing file is replaced.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
}

fn range(s: &str) -> Result<(f64, f64), String> {
    const EXPECTED: &str = "expected LOW,HIGH: two finite numbers with LOW < HIGH, e.g. -5,5";
    let (low, high) = s.split_once(',').ok_or(EXPECTED)?;
    let number = |t: &str| t.trim().parse::<f64>().ok().filter(|x| x.is_finite());
    match (number(low), number(high)) {
        (Some(low), Some(high)) if low < high => Ok((low, high)),
        _ => Err(EXPECTED.into()),
    }
}

pub fn plot(args: PlotArgs) -> Result<()> {
    let chart = plot::activation_chart(&args.names, args.range, args.derivative)?;
    if args.out.as_os_str() == "-" {
        // Flushed here: what is left in the buffer at exit would fail unnoticed.
        let mut out = std::io::stdout().lock();
        out.write_all(plot::svg(&chart)?.as_bytes())
            .and_then(|()| out.flush())
            .context("standard output")?;
        return Ok(());
    }
    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("svg") => plot::svg(&chart)?.into_bytes(),
        Some("png") => plot::png(&chart)?,
        _ => bail!(
            "--out {}: the file name must end in .svg or .png (or be - for SVG on stdout)",
            args.out.display()
        ),
    };
    let existed = args.out.exists();
    fileio::write_atomically(&args.out, &bytes, &[]).map_err(crate::args::flag("--out"))?;
    println!(
        "wrote {}{}",
        args.out.display(),
        if existed { " (replaced the existing file)" } else { "" }
    );
    Ok(())
}
