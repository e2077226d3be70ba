//! Checkpoints: a training run's [`State`] in one `.safetensors` file, with what the run was
//! made from, so that an interrupted run continues to the same weights, bit for bit.
//!
//! Tensors (1-D): `network.params` F32 (the network's flat parameter buffer, see
//! [`Mlp::params`]); `optimizer.m` and `optimizer.v` F32 when the optimizer keeps them;
//! `order` U64 (the sample order of the last epoch); `start_loss` F64 `[1]`; `schedule.rate`
//! F32 `[1]` and `schedule.best` F64 `[1]`; `best.params` F32 and `best.val_loss` F64 `[1]` once
//! early stopping has a best epoch. Values that must come back bit for bit are tensors.
//!
//! Metadata key `actlab_checkpoint`: JSON with the format version, the fit configuration, a
//! fingerprint of the training data, the layers, the epoch, the optimizer's step count, the
//! plateau schedule's count of epochs without improvement, the shuffling generator, the best
//! epoch and the history so far.
//!
//! A checkpoint is written atomically (a temporary file renamed over the old one), so a crash
//! or `kill -9` at any moment leaves either the previous checkpoint or the new one.

use std::collections::HashMap;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::layer::LayerSpec;
use crate::model::{self, FitConfig, Fitted, Standardized};
use crate::optim::{OptimizerState, SchedulePosition};
use crate::train::{Best, Continuation, EpochRecord, History, SaveState, State, TrainConfig};
use crate::{fileio, Dataset, Error, Mlp, Result, Target};

/// Format version written into new checkpoints.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata key of the JSON part.
const KEY: &str = "actlab_checkpoint";

/// What identifies a training data set: its counts and a CRC-32 of its contents (the bits of
/// every feature value and target, and the class labels).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    /// Samples.
    pub samples: usize,
    /// Features per sample.
    pub features: usize,
    /// Classes (0 for regression).
    pub classes: usize,
    /// CRC-32 of the contents.
    pub crc32: u32,
}

impl DataFingerprint {
    /// The fingerprint of `data`.
    pub fn of(data: &Dataset) -> Self {
        let mut hasher = crc32fast::Hasher::new();
        let mut hash_f32 = |values: &[f32]| {
            for chunk in values.chunks(1024) {
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                hasher.update(&bytes);
            }
        };
        hash_f32(data.x.as_slice());
        let classes = match &data.target {
            Target::Values(values) => {
                hash_f32(values);
                0
            }
            Target::Classes { labels, classes } => {
                let bytes: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
                hasher.update(&bytes);
                for class in classes {
                    hasher.update(class.as_bytes());
                    hasher.update(&[0]);
                }
                classes.len()
            }
            Target::None => 0,
        };
        Self {
            samples: data.len(),
            features: data.n_features(),
            classes,
            crc32: hasher.finalize(),
        }
    }
}

impl std::fmt::Display for DataFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} samples of {} features, {} classes, CRC-32 {:08x}",
            self.samples, self.features, self.classes, self.crc32
        )
    }
}

/// The JSON stored under the metadata key `actlab_checkpoint`.
#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    actlab: String,
    /// The fit configuration, as [`settings`] writes it.
    config: Value,
    data: DataFingerprint,
    layers: Vec<LayerSpec>,
    residual: bool,
    epoch: usize,
    optimizer_steps: u32,
    schedule_bad_epochs: usize,
    rng: ChaCha8Rng,
    best_epoch: Option<usize>,
    history: History,
}

/// A checkpoint read back: the run's state and what the run was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The run's fit configuration as JSON (see [`settings`]).
    pub config: Value,
    /// The training data's fingerprint.
    pub data: DataFingerprint,
    /// The training state after the checkpoint's epoch.
    pub state: State,
}

/// The settings of `config` that decide a run's weights, as JSON: all of them except
/// `train.diagnostics` (which only adds measurements to the history).
pub fn settings(config: &FitConfig) -> Value {
    // Through the text, as a file stores it, so that f32 settings compare equal once read back.
    let text = serde_json::to_string(config).expect("the configuration serializes");
    let mut value: Value = serde_json::from_str(&text).expect("serde_json reads its own output");
    if let Some(train) = value.get_mut("train").and_then(Value::as_object_mut) {
        train.remove("diagnostics");
    }
    value
}

impl Checkpoint {
    /// Refuses to continue this checkpoint (read from `path`) with another configuration or
    /// other training data than it was made with.
    ///
    /// # Errors
    /// [`Error::ResumeSetting`] naming the first setting that differs; [`Error::Config`] giving
    /// the data's counts and hashes when the data differ.
    pub fn check_matches(&self, path: &Path, config: &FitConfig, data: &Dataset) -> Result<()> {
        let refuse = |what: String| {
            Error::config(format!(
                "cannot resume from {}: {what}; a run continues only with the settings and data it began with",
                path.display()
            ))
        };
        if let Some((field, then, now)) = first_difference(&self.config, &settings(config), String::new()) {
            return Err(Error::ResumeSetting {
                path: path.to_path_buf(),
                field,
                then: then.to_string(),
                now: now.to_string(),
            });
        }
        let fingerprint = DataFingerprint::of(data);
        if fingerprint != self.data {
            return Err(refuse(format!(
                "it was made from other training data ({}; now {fingerprint})",
                self.data
            )));
        }
        Ok(())
    }
}

/// The first place, in key order, where `a` and `b` differ: its path and both values (null
/// for a setting that one side leaves out, as an unset optional one).
fn first_difference(a: &Value, b: &Value, at: String) -> Option<(String, Value, Value)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|key| {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                let (a, b) = (x.get(key).unwrap_or(&Value::Null), y.get(key).unwrap_or(&Value::Null));
                first_difference(a, b, path)
            })
        }
        _ if a == b => None,
        _ => Some((at, a.clone(), b.clone())),
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Serializes a checkpoint of `state`, made by a run of `config` on data with `fingerprint`,
/// into the bytes of a `.safetensors` file.
///
/// # Errors
/// Only if the safetensors encoder rejects the data (it should not).
pub fn to_safetensors(config: &FitConfig, data: &DataFingerprint, state: &State) -> Result<Vec<u8>> {
    let mut tensors: Vec<(&str, Dtype, Vec<u8>)> = vec![
        ("network.params", Dtype::F32, f32_bytes(state.network.params())),
        ("optimizer.m", Dtype::F32, f32_bytes(&state.optimizer.m)),
        ("optimizer.v", Dtype::F32, f32_bytes(&state.optimizer.v)),
        (
            "order",
            Dtype::U64,
            state.order.iter().flat_map(|&i| (i as u64).to_le_bytes()).collect(),
        ),
        ("start_loss", Dtype::F64, state.start_loss.to_le_bytes().to_vec()),
        ("schedule.rate", Dtype::F32, state.schedule.rate.to_le_bytes().to_vec()),
        ("schedule.best", Dtype::F64, state.schedule.best.to_le_bytes().to_vec()),
    ];
    if let Some(best) = &state.best {
        tensors.push(("best.params", Dtype::F32, f32_bytes(&best.params)));
        tensors.push(("best.val_loss", Dtype::F64, best.val_loss.to_le_bytes().to_vec()));
    }
    tensors.retain(|(_, _, bytes)| !bytes.is_empty());
    let meta = Meta {
        version: FORMAT_VERSION,
        actlab: env!("CARGO_PKG_VERSION").to_string(),
        config: settings(config),
        data: data.clone(),
        layers: state.network.layers().to_vec(),
        residual: state.network.residual(),
        epoch: state.epoch,
        optimizer_steps: state.optimizer.steps,
        schedule_bad_epochs: state.schedule.bad_epochs,
        rng: state.rng.clone(),
        best_epoch: state.best.as_ref().map(|b| b.epoch),
        history: state.history.clone(),
    };
    let json = serde_json::to_string(&meta).expect("metadata serializes");
    let views = tensors
        .iter()
        .map(|(name, dtype, bytes)| {
            let len = bytes.len() * 8 / dtype.bitsize();
            let view = safetensors::tensor::TensorView::new(*dtype, vec![len], bytes).expect("shape matches data");
            (name.to_string(), view)
        })
        .collect::<Vec<_>>();
    safetensors::serialize(views, Some(HashMap::from([(KEY.to_string(), json)])))
        .map_err(|e| Error::config(format!("cannot encode the checkpoint: {e}")))
}

/// Reads a checkpoint from the bytes of a `.safetensors` file and checks every part against
/// the others (see [`State::check`]); `path` is only used in messages.
///
/// # Errors
/// [`Error::Model`] for a truncated or corrupted file, one that is not a checkpoint, and parts
/// that do not fit together.
pub fn from_safetensors(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
    let bad = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| bad(format!("not a valid checkpoint ({e}); is it truncated or corrupted?")))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("unreadable header: {e}")))?;
    let json =
        header.metadata().as_ref().and_then(|m| m.get(KEY)).ok_or_else(|| {
            bad("no checkpoint metadata: this file was not written by actlab train --checkpoint".into())
        })?;
    let meta: Meta = serde_json::from_str(json).map_err(|e| bad(format!("malformed checkpoint metadata: {e}")))?;
    if meta.version > FORMAT_VERSION {
        return Err(bad(format!(
            "checkpoint format version {} is newer than this actlab understands ({FORMAT_VERSION})",
            meta.version
        )));
    }
    let train: TrainConfig = serde_json::from_value(meta.config.get("train").cloned().unwrap_or_default())
        .map_err(|e| bad(format!("malformed training configuration: {e}")))?;

    // The data of a 1-D tensor of `dtype` (empty when the tensor is absent), checked to hold
    // `len` values when `len` is given.
    let vector = |name: &str, dtype: Dtype, len: Option<usize>| -> Result<&[u8]> {
        let Ok(view) = file.tensor(name) else {
            return match len {
                None | Some(0) => Ok(&[]),
                Some(_) => Err(bad(format!("tensor '{name}' is missing"))),
            };
        };
        if view.dtype() != dtype || view.shape().len() != 1 || len.is_some_and(|n| view.shape() != [n]) {
            return Err(bad(format!(
                "tensor '{name}' is {:?} {:?}, expected {dtype:?} {}",
                view.dtype(),
                view.shape(),
                len.map_or("[n]".to_string(), |n| format!("[{n}]"))
            )));
        }
        Ok(view.data())
    };
    let f32s = |name: &str| -> Result<Vec<f32>> {
        Ok(vector(name, Dtype::F32, None)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect())
    };
    let f64_scalar = |name: &str| -> Result<f64> {
        Ok(f64::from_le_bytes(
            vector(name, Dtype::F64, Some(1))?.try_into().unwrap(),
        ))
    };

    let params = f32s("network.params")?;
    let p = params.len();
    // Sizes that cannot be a network of `p` parameters are refused before any size arithmetic.
    if let Some(layer) = meta
        .layers
        .iter()
        .find(|l| l.inputs > p || l.outputs > p || l.inputs.checked_mul(l.outputs).is_none_or(|w| w > p))
    {
        return Err(bad(format!(
            "a layer of {} → {} does not fit {p} parameters",
            layer.inputs, layer.outputs
        )));
    }
    let network = Mlp::from_parts(meta.layers, Some(params), meta.residual).map_err(|e| bad(e.to_string()))?;
    let order = vector("order", Dtype::U64, None)?
        .chunks_exact(8)
        .map(|b| usize::try_from(u64::from_le_bytes(b.try_into().unwrap())).unwrap_or(usize::MAX))
        .collect::<Vec<_>>();
    if order.len() > meta.data.samples {
        return Err(bad(format!(
            "its sample order has {} samples, more than the data's {}",
            order.len(),
            meta.data.samples
        )));
    }
    let best = match meta.best_epoch {
        Some(epoch) => Some(Best {
            val_loss: f64_scalar("best.val_loss")?,
            epoch,
            params: f32s("best.params")?,
        }),
        None => None,
    };
    let state = State {
        epoch: meta.epoch,
        network,
        optimizer: OptimizerState {
            m: f32s("optimizer.m")?,
            v: f32s("optimizer.v")?,
            steps: meta.optimizer_steps,
        },
        schedule: SchedulePosition {
            rate: f32::from_le_bytes(vector("schedule.rate", Dtype::F32, Some(1))?.try_into().unwrap()),
            best: f64_scalar("schedule.best")?,
            bad_epochs: meta.schedule_bad_epochs,
        },
        rng: meta.rng,
        order,
        best,
        start_loss: f64_scalar("start_loss")?,
        history: meta.history,
    };
    state
        .check(state.order.len(), &train)
        .map_err(|e| bad(format!("inconsistent checkpoint: {e}")))?;
    Ok(Checkpoint {
        config: meta.config,
        data: meta.data,
        state,
    })
}

/// Writes a checkpoint of `state` to `path` atomically (see [`fileio::write_atomically`]).
///
/// # Errors
/// [`Error::Io`] when the directory is not writable.
pub fn save(path: &Path, config: &FitConfig, data: &DataFingerprint, state: &State) -> Result<()> {
    fileio::write_atomically(path, &to_safetensors(config, data, state)?, &[])
}

/// Reads and checks a checkpoint file.
///
/// # Errors
/// [`Error::Io`] if it cannot be read or is not a regular file, [`Error::Memory`] if it is
/// larger than the memory limit allows, [`Error::Model`] if it is not a sound checkpoint (see
/// [`from_safetensors`]).
pub fn load(path: &Path) -> Result<Checkpoint> {
    // The file's bytes and the state decoded from them.
    from_safetensors(&fileio::read_input(path, 2)?, path)
}

/// Fits like [`model::fit`], continuing the run whose checkpoint is `resume` (refused when its
/// configuration or data differ from `config` and `data`) and writing a checkpoint to
/// `checkpoint.0` every `checkpoint.1` epochs and after the last epoch.
///
/// The final weights and history (times aside) are those of an uninterrupted run, bit for bit.
/// A run cannot be extended: `config.train.epochs` must be the checkpoint's, like every other
/// setting, since the learning-rate schedule was made for that many epochs.
///
/// # Errors
/// Those of [`load`], [`Checkpoint::check_matches`], [`save`] and [`model::fit`].
pub fn fit(
    data: &Dataset,
    config: &FitConfig,
    resume: Option<&Path>,
    checkpoint: Option<(&Path, usize)>,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<Fitted> {
    fit_by(data, config, resume, checkpoint, |data, config, continuation| {
        model::fit_with(data, config, continuation, on_epoch)
    })
}

/// [`fit`] of data the caller gives up, as [`model::fit_owned_with`] fits it: its features
/// are standardized in place and handed back with the model.
///
/// # Errors
/// As [`fit`].
pub fn fit_owned(
    data: Dataset,
    config: &FitConfig,
    resume: Option<&Path>,
    checkpoint: Option<(&Path, usize)>,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<(Fitted, Standardized)> {
    fit_by(data, config, resume, checkpoint, |data, config, continuation| {
        model::fit_owned_with(data, config, continuation, on_epoch)
    })
}

/// Checks the checkpoint to resume from against `config` and `data`, and runs `fit` on them
/// with the continuation that resumes it and writes the checkpoints.
fn fit_by<D: std::borrow::Borrow<Dataset>, T>(
    data: D,
    config: &FitConfig,
    resume: Option<&Path>,
    checkpoint: Option<(&Path, usize)>,
    fit: impl FnOnce(D, &FitConfig, Continuation<'_>) -> Result<T>,
) -> Result<T> {
    // Checkpoints hold the settings as they were decided, defaults included.
    let config = &config.resolved(data.borrow());
    let resume = match resume {
        Some(path) => {
            let saved = load(path)?;
            saved.check_matches(path, config, data.borrow())?;
            Some(saved.state)
        }
        None => None,
    };
    let mut write_to = checkpoint.map(|(path, every)| {
        let fingerprint = DataFingerprint::of(data.borrow());
        (every, move |state: &State| save(path, config, &fingerprint, state))
    });
    let continuation = Continuation {
        resume,
        checkpoint: write_to.as_mut().map(|(every, write)| (*every, write as SaveState<'_>)),
        ..Continuation::default()
    };
    fit(data, config, continuation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{builtin, SyntheticOptions};
    use crate::optim::{OptimizerKind, Schedule};

    fn circles(seed: u64) -> Dataset {
        let options = SyntheticOptions {
            samples: Some(100),
            noise: None,
            seed,
        };
        builtin("circles", &options).unwrap().train
    }

    fn config(kind: OptimizerKind, patience: Option<usize>) -> FitConfig {
        FitConfig {
            hidden: vec![8],
            validation_fraction: Some(0.2),
            train: TrainConfig {
                epochs: Some(6),
                batch_size: 16,
                learning_rate: 0.01,
                optimizer: crate::optim::OptimizerConfig {
                    kind,
                    ..Default::default()
                },
                schedule: Schedule::Plateau {
                    patience: 1,
                    factor: 0.5,
                },
                patience,
                ..TrainConfig::default()
            },
            ..FitConfig::default()
        }
    }

    /// The states after every epoch of a run of `config` on `data`.
    fn states(data: &Dataset, config: &FitConfig) -> Vec<State> {
        let mut states = Vec::new();
        let mut keep = |state: &State| {
            states.push(state.clone());
            Ok(())
        };
        let continuation = Continuation {
            resume: None,
            checkpoint: Some((1, &mut keep)),
            ..Continuation::default()
        };
        model::fit_with(data, config, continuation, |_| {}).unwrap();
        states
    }

    #[test]
    fn a_checkpoint_reads_back_as_the_state_it_was_written_from() {
        let data = circles(0);
        for (kind, patience) in [
            (OptimizerKind::Sgd, None),
            (OptimizerKind::Momentum, None),
            (OptimizerKind::RmsProp, Some(10)),
            (OptimizerKind::Adam, Some(10)),
        ] {
            let config = config(kind, patience);
            let fingerprint = DataFingerprint::of(&data);
            for state in states(&data, &config) {
                let bytes = to_safetensors(&config, &fingerprint, &state).unwrap();
                let back = from_safetensors(&bytes, Path::new("c.safetensors")).unwrap();
                assert_eq!(back.state, state, "{kind}, epoch {}", state.epoch);
                assert_eq!(back.data, fingerprint);
                assert_eq!(back.config, settings(&config));
                assert_eq!(back.state.best.is_some(), patience.is_some());
                back.check_matches(Path::new("c"), &config, &data).unwrap();
            }
        }
    }

    #[test]
    fn a_damaged_checkpoint_is_one_clear_error() {
        let data = circles(0);
        let config = config(OptimizerKind::Adam, Some(10));
        let state = states(&data, &config).pop().unwrap();
        let bytes = to_safetensors(&config, &DataFingerprint::of(&data), &state).unwrap();
        let path = Path::new("damaged.safetensors");
        for len in 0..bytes.len() {
            let e = from_safetensors(&bytes[..len], path).unwrap_err().to_string();
            assert!(e.starts_with("damaged.safetensors: "), "{len}: {e}");
        }
        // Every byte overwritten in turn: refused or still a sound state, never a panic.
        let mut refused = 0;
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0xa5;
            if let Ok(c) = from_safetensors(&damaged, path) {
                c.state.check(c.state.order.len(), &config.train).unwrap();
            } else {
                refused += 1;
            }
        }
        assert!(refused > bytes.len() / 10, "{refused} of {}", bytes.len());

        let damaged = |change: &dyn Fn(&mut State)| {
            let mut s = state.clone();
            change(&mut s);
            let bytes = to_safetensors(&config, &DataFingerprint::of(&data), &s).unwrap();
            from_safetensors(&bytes, path).unwrap_err().to_string()
        };
        assert!(damaged(&|s| s.network.params_mut()[3] = f32::NAN).contains("parameter 3 is NaN"));
        assert!(damaged(&|s| s.order[1] = s.order[0]).contains("permutation"));
        assert!(damaged(&|s| s.optimizer.v.truncate(2)).contains("second moment"));
        assert!(damaged(&|s| s.best.as_mut().unwrap().params.push(0.0)).contains("best epoch"));
        assert!(damaged(&|s| s.history.epochs.truncate(1)).contains("history"));

        let model = crate::model::fit(&data, &config).unwrap().model;
        let e = from_safetensors(&crate::model_io::to_safetensors(&model).unwrap(), path).unwrap_err();
        assert!(
            e.to_string().contains("not written by actlab train --checkpoint"),
            "{e}"
        );
    }

    #[test]
    fn other_settings_or_data_are_named_and_refused() {
        let data = circles(0);
        let config = config(OptimizerKind::Adam, None);
        let checkpoint = Checkpoint {
            config: settings(&config),
            data: DataFingerprint::of(&data),
            state: states(&data, &config).remove(2),
        };
        let path = Path::new("c.safetensors");
        let refused = |config: &FitConfig, data: &Dataset| {
            let e = checkpoint.check_matches(path, config, data).unwrap_err().to_string();
            assert!(e.starts_with("cannot resume from c.safetensors: "), "{e}");
            e
        };
        let mut other = config.clone();
        other.train.learning_rate = 0.02;
        assert!(refused(&other, &data).contains("train.learning_rate = 0.01, this run has 0.02"));
        other = config.clone();
        other.train.epochs = Some(7);
        assert!(refused(&other, &data).contains("train.epochs = 6, this run has 7"));
        other = config.clone();
        other.train.schedule = Schedule::Cosine;
        assert!(refused(&other, &data).contains("train.schedule = {\"plateau\""));
        other = config.clone();
        other.hidden = vec![8, 8];
        assert!(refused(&other, &data).contains("hidden = [8], this run has [8,8]"));
        assert!(refused(&config, &circles(1)).contains("other training data"));
        let mut nudged = data.clone();
        nudged.x.row_mut(7)[1] += 1e-6;
        let e = refused(&config, &nudged);
        assert!(e.contains("100 samples of 2 features, 2 classes"), "{e}");
        // Diagnostics only add measurements: they may differ.
        other = config.clone();
        other.train.diagnostics = Some(50);
        checkpoint.check_matches(path, &other, &data).unwrap();
    }
}
