//! `actlab export`.

use std::path::PathBuf;

use actlab::{fileio, onnx};
use anyhow::Result;
use clap::Args;

use crate::args::{check_output, OutputKind};

pub const EXAMPLES: &str = "Examples:
  actlab export --model iris.safetensors --onnx iris.onnx
  python -c \"import onnxruntime as rt; s = rt.InferenceSession('iris.onnx'); print(s.run(None, {'features': X}))\"
  actlab train --data houses.csv --target price --save houses.safetensors   # text columns one-hot encoded
  actlab export --model houses.safetensors --onnx houses.onnx   # inputs: one per column, named by it";

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// The ONNX file to write (opset 17): outputs `probabilities` and `label` for a classifier,
    /// `prediction` for a regressor. Input `features` (float32 [N, features], raw; for a model of
    /// a CSV table of numeric columns, those columns in file order, NaN for a missing cell). A
    /// model of a CSV table with a categorical column has one input per column it reads, named
    /// by the column: float32 [N, 1] for a numeric one (NaN for missing), string [N, 1] for a
    /// categorical one (missing as "", NA, N/A, NaN, nan, null, ? or -); the metadata entries
    /// `features` and `columns` list them. An existing ONNX file is replaced (with a note); any
    /// other file is refused.
    #[arg(long, value_name = "FILE")]
    onnx: PathBuf,
}

pub fn export(args: ExportArgs) -> Result<()> {
    let inputs = [args.model.as_path()];
    let replaces = check_output("--onnx", &args.onnx, &inputs, OutputKind::Onnx)?;
    let bytes = onnx::export_file(&args.model)?;
    fileio::write_atomically(&args.onnx, &bytes, &inputs).map_err(crate::args::flag("--onnx"))?;
    if replaces {
        eprintln!("note: --onnx {}: replaced the existing file", args.onnx.display());
    }
    Ok(())
}
