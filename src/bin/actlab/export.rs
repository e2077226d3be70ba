//! `actlab export`.

use std::path::PathBuf;

use actlab::{fileio, onnx};
use anyhow::Result;
use clap::Args;

pub const EXAMPLES: &str = "Examples:
  actlab export --model iris.safetensors --onnx iris.onnx
  python -c \"import onnxruntime as rt; s = rt.InferenceSession('iris.onnx'); print(s.run(None, {'features': X}))\"";

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A model file written by `actlab train --save`.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// The ONNX file to write (opset 17): input `features` (float32 [N, features], raw), outputs
    /// `probabilities` and `label` for a classifier, `prediction` for a regressor.
    #[arg(long, value_name = "FILE")]
    onnx: PathBuf,
}

pub fn export(args: ExportArgs) -> Result<()> {
    let inputs = [args.model.as_path()];
    fileio::check_output(&args.onnx, &inputs).map_err(crate::args::flag("--onnx"))?;
    let bytes = onnx::export_file(&args.model)?;
    fileio::write_atomically(&args.onnx, &bytes, &inputs).map_err(crate::args::flag("--onnx"))?;
    Ok(())
}
