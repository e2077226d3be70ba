//! Weight initialisation schemes.
//!
//! Each activation has a default (see [`crate::Activation::default_init`]): the scheme that keeps
//! the variance of the signal roughly constant from layer to layer for that function.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How a layer's weights are drawn; biases always start at zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Glorot/Xavier uniform: `W ~ U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`.
    /// For sigmoid, tanh, identity and the other bounded, zero-slope-at-tails functions.
    Glorot,
    /// He/Kaiming normal: `W ~ N(0, 2 / fan_in)`. For the ReLU family.
    He,
    /// LeCun normal: `W ~ N(0, 1 / fan_in)`. For SELU (self-normalising networks).
    Lecun,
}

impl Init {
    /// All schemes, for listings.
    pub const ALL: [Init; 3] = [Init::Glorot, Init::He, Init::Lecun];

    /// Fills `weights` (a `fan_out × fan_in` matrix) with draws from this scheme.
    pub fn fill<R: Rng + ?Sized>(self, weights: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut R) {
        let fan_in = fan_in.max(1) as f64;
        let fan_out = fan_out.max(1) as f64;
        match self {
            Init::Glorot => {
                let a = (6.0 / (fan_in + fan_out)).sqrt();
                let dist = Uniform::new_inclusive(-a, a).expect("finite bounds");
                weights.iter_mut().for_each(|w| *w = dist.sample(rng) as f32);
            }
            Init::He | Init::Lecun => {
                let gain = if self == Init::He { 2.0 } else { 1.0 };
                let dist = Normal::new(0.0, (gain / fan_in).sqrt()).expect("finite std");
                weights.iter_mut().for_each(|w| *w = dist.sample(rng) as f32);
            }
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Init::Glorot => "glorot",
            Init::He => "he",
            Init::Lecun => "lecun",
        })
    }
}

impl FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "glorot" | "xavier" => Ok(Init::Glorot),
            "he" | "kaiming" => Ok(Init::He),
            "lecun" => Ok(Init::Lecun),
            _ => Err(Error::config(format!(
                "unknown initialisation '{s}'; valid: glorot (xavier), he (kaiming), lecun"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn variance(init: Init, fan_in: usize, fan_out: usize) -> f64 {
        let mut w = vec![0.0f32; fan_in * fan_out];
        init.fill(&mut w, fan_in, fan_out, &mut ChaCha8Rng::seed_from_u64(1));
        let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
        assert!(mean.abs() < 0.01, "{init}: mean {mean}");
        w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64
    }

    #[test]
    fn init_variances_match_their_formulas() {
        let (fan_in, fan_out) = (400, 300);
        let rel = |got: f64, want: f64| (got - want).abs() / want;
        assert!(rel(variance(Init::Glorot, fan_in, fan_out), 2.0 / 700.0) < 0.03);
        assert!(rel(variance(Init::He, fan_in, fan_out), 2.0 / 400.0) < 0.03);
        assert!(rel(variance(Init::Lecun, fan_in, fan_out), 1.0 / 400.0) < 0.03);
    }

    #[test]
    fn init_names_round_trip() {
        for init in Init::ALL {
            assert_eq!(init.to_string().parse::<Init>().unwrap(), init);
        }
        assert!("uniform".parse::<Init>().is_err());
    }
}
