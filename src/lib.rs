//! # actlab
//!
//! Multi-layer perceptrons where activation functions are the centre of attention.
//!
//! A network is a chain `h = σ(W·h_prev + b)`; actlab lets every layer choose its σ and
//! measures what that choice does.

#![warn(missing_docs)]

pub mod activation;
pub mod data;
pub mod error;
pub mod init;
pub mod matrix;

pub use activation::Activation;
pub use data::{Dataset, Target, Task};
pub use error::{Error, Result};
pub use init::Init;
pub use matrix::Matrix;
