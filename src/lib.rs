//! # actlab
//!
//! Multi-layer perceptrons where activation functions are the centre of attention.
//!
//! A network is a chain `h = σ(W·h_prev + b)`; actlab lets every layer choose its σ, trains
//! it on real data, and measures what that choice does.
//!
//! ```no_run
//! use actlab::data::{builtin, SyntheticOptions};
//! use actlab::model::{fit, FitConfig};
//!
//! let split = builtin("iris", &SyntheticOptions { samples: None, noise: None, seed: 0 }).unwrap();
//! let fitted = fit(&split.train, &FitConfig::default()).unwrap();
//! println!("{:?}", fitted.model.evaluate(&split.train).unwrap());
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod advise;
pub mod checkpoint;
pub mod compare;
pub(crate) mod cpu;
pub mod cv;
pub mod data;
pub mod diagnostics;
pub mod error;
pub mod experiments;
pub mod fileio;
pub mod inference;
pub mod init;
pub mod lab;
pub mod layer;
pub mod loss;
pub mod matrix;
pub mod memory;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod model_io;
pub mod onnx;
pub mod optim;
pub mod plot;
pub mod predictor;
pub mod preprocess;
pub mod report;
pub mod train;
pub mod weights;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use activation::Activation;
pub use data::{Dataset, DatasetRef, Target, Task};
pub use error::{Error, Result};
pub use init::Init;
pub use loss::Loss;
pub use matrix::{Matrix, MatrixRef};
pub use mlp::{Mlp, MlpConfig};
pub use model::{fit, FitConfig, Model};
pub use predictor::Prediction;
