//! Names: the CLI form of an [`Activation`] (printing, parsing, parameters and their checks),
//! the aliases, and the suggestion of the closest name for an unknown one.

use std::fmt;
use std::str::FromStr;

use super::{
    Activation, DEFAULT_ELU_ALPHA, DEFAULT_LEAKY_SLOPE, DEFAULT_PRELU_INIT, DEFAULT_SOFTPLUS_BETA,
    DEFAULT_SOFTPLUS_THRESHOLD,
};
use crate::{Error, Result};

impl Activation {
    /// The name in the CLI form, without parameters (`gelu:tanh` keeps its form: it is a
    /// function of its own).
    pub fn name(self) -> &'static str {
        use Activation::*;
        match self {
            Identity => "identity",
            Sigmoid => "sigmoid",
            Tanh => "tanh",
            Relu => "relu",
            LeakyRelu { .. } => "leaky_relu",
            Elu { .. } => "elu",
            Selu => "selu",
            Gelu => "gelu",
            GeluTanh => "gelu:tanh",
            Silu => "silu",
            Softplus { .. } => "softplus",
            Mish => "mish",
            Softsign => "softsign",
            Relu6 => "relu6",
            HardSigmoid => "hard_sigmoid",
            HardSwish => "hard_swish",
            Prelu { .. } => "prelu",
            Softmax => "softmax",
        }
    }
}

impl fmt::Display for Activation {
    /// The CLI form, parameters included when they differ from the default
    /// (`leaky_relu:0.2`, `gelu:tanh`); parses back to the same value.
    /// Width, fill and alignment are honoured (`{:>12}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        let text = match *self {
            Activation::LeakyRelu { negative_slope: p } if p != DEFAULT_LEAKY_SLOPE => {
                format!("{name}:{p}")
            }
            Activation::Elu { alpha: p } if p != DEFAULT_ELU_ALPHA => format!("{name}:{p}"),
            Activation::Prelu { init: p } if p != DEFAULT_PRELU_INIT => format!("{name}:{p}"),
            Activation::Softplus { beta, threshold } if threshold != DEFAULT_SOFTPLUS_THRESHOLD => {
                format!("{name}:{beta}:{threshold}")
            }
            Activation::Softplus { beta, .. } if beta != DEFAULT_SOFTPLUS_BETA => {
                format!("{name}:{beta}")
            }
            _ => return f.pad(name),
        };
        f.pad(&text)
    }
}

/// Accepted names: the canonical ones first (in [`Activation::ALL`] order), then aliases.
const ALIASES: [(&str, &str); 4] = [
    ("linear", "identity"),
    ("none", "identity"),
    ("logistic", "sigmoid"),
    ("swish", "silu"),
];

impl FromStr for Activation {
    type Err = Error;
    /// Parses the CLI form (case-insensitive, `-` accepted for `_` in the name; `swish` = silu,
    /// `logistic` = sigmoid, `linear` and `none` = identity; `gelu:erf` = gelu).
    /// Parameters must be finite numbers, `elu`'s alpha non-negative, `softplus`'s beta and
    /// threshold positive (the threshold may be `inf`).
    /// An unknown name is [`Error::UnknownActivation`] with the valid names and the closest one;
    /// a bad parameter is [`Error::Config`] naming it.
    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim().to_ascii_lowercase();
        let (name, params) = match text.split_once(':') {
            Some((name, params)) => (name, params.split(':').collect()),
            None => (text.as_str(), Vec::new()),
        };
        let name = name.replace('-', "_");
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name.as_str(), |(_, canonical)| canonical);
        let p = |names, defaults| parse_params(name, &params, names, defaults);
        match name {
            "identity" => p(&[], &[]).map(|_| Activation::Identity),
            "sigmoid" => p(&[], &[]).map(|_| Activation::Sigmoid),
            "tanh" => p(&[], &[]).map(|_| Activation::Tanh),
            "relu" => p(&[], &[]).map(|_| Activation::Relu),
            "leaky_relu" => {
                p(&["negative_slope"], &[DEFAULT_LEAKY_SLOPE]).map(|v| Activation::LeakyRelu { negative_slope: v[0] })
            }
            "elu" => p(&["alpha"], &[DEFAULT_ELU_ALPHA]).and_then(|v| {
                require(v[0] >= 0.0, "elu: alpha must be non-negative")?;
                Ok(Activation::Elu { alpha: v[0] })
            }),
            "selu" => p(&[], &[]).map(|_| Activation::Selu),
            "gelu" => match params.as_slice() {
                [] | ["erf"] => Ok(Activation::Gelu),
                ["tanh"] => Ok(Activation::GeluTanh),
                _ => Err(Error::config(format!(
                    "gelu: unknown form '{}'; valid: gelu, gelu:erf (the same), gelu:tanh",
                    params.join(":")
                ))),
            },
            "silu" => p(&[], &[]).map(|_| Activation::Silu),
            "softplus" => p(
                &["beta", "threshold"],
                &[DEFAULT_SOFTPLUS_BETA, DEFAULT_SOFTPLUS_THRESHOLD],
            )
            .and_then(|v| {
                require(v[0] > 0.0, "softplus: beta must be positive")?;
                require(v[1] > 0.0, "softplus: threshold must be positive")?;
                Ok(Activation::Softplus {
                    beta: v[0],
                    threshold: v[1],
                })
            }),
            "mish" => p(&[], &[]).map(|_| Activation::Mish),
            "softsign" => p(&[], &[]).map(|_| Activation::Softsign),
            "relu6" => p(&[], &[]).map(|_| Activation::Relu6),
            "hard_sigmoid" => p(&[], &[]).map(|_| Activation::HardSigmoid),
            "hard_swish" => p(&[], &[]).map(|_| Activation::HardSwish),
            "prelu" => p(&["init"], &[DEFAULT_PRELU_INIT]).map(|v| Activation::Prelu { init: v[0] }),
            "softmax" => p(&[], &[]).map(|_| Activation::Softmax),
            _ => Err(unknown_activation(s.trim(), name)),
        }
    }
}

impl TryFrom<String> for Activation {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Activation> for String {
    fn from(a: Activation) -> String {
        a.to_string()
    }
}

/// Parses `given` as the values of the parameters `names` of activation `activation`,
/// `defaults` filling those not given. Each value must be a number, finite except for a
/// parameter named `threshold`.
fn parse_params(activation: &str, given: &[&str], names: &[&str], defaults: &[f32]) -> Result<Vec<f32>> {
    if given.len() > names.len() {
        return Err(Error::config(match names {
            [] => format!("{activation} takes no parameters, got '{}'", given.join(":")),
            _ => format!(
                "{activation} takes at most {} parameter(s) ({}), got {}",
                names.len(),
                names.join(", "),
                given.len()
            ),
        }));
    }
    let mut values = defaults.to_vec();
    for ((value, &name), &text) in values.iter_mut().zip(names).zip(given) {
        *value = text
            .parse()
            .map_err(|_| Error::config(format!("{activation}: {name} must be a number, got '{text}'")))?;
        let finite_required = name != "threshold";
        require(
            !value.is_nan() && (value.is_finite() || !finite_required),
            &format!("{activation}: {name} must be finite, got '{text}'"),
        )?;
    }
    Ok(values)
}

fn require(condition: bool, message: &str) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(Error::config(message))
    }
}

/// [`Error::UnknownActivation`] for `written` (whose normalised name is `name`), suggesting the
/// closest accepted name within `max(2, len/3)` edits (ties: the closest in length, then the
/// first listed).
fn unknown_activation(written: &str, name: &str) -> Error {
    let candidates = Activation::ALL
        .iter()
        .map(|a| a.name())
        .chain(ALIASES.iter().map(|(alias, _)| *alias));
    let len = name.chars().count();
    let suggestion = candidates
        .map(|c| (levenshtein(name, c), c.chars().count().abs_diff(len), c))
        .min_by_key(|&(distance, len_diff, _)| (distance, len_diff))
        .filter(|&(distance, _, _)| distance <= (len / 3).max(2))
        .map(|(_, _, c)| c.to_string());
    let valid = Activation::ALL.map(|a| a.name()).join(", ");
    Error::UnknownActivation {
        name: written.to_string(),
        suggestion,
        valid,
    }
}

/// Edit distance (insertions, deletions, substitutions) between `a` and `b`, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
