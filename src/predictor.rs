//! Predictions in the data's own terms, one sample at a time: a class label with its
//! probabilities, or a value in the target's units.
//!
//! ```no_run
//! use actlab::model_io;
//!
//! let model = model_io::load(std::path::Path::new("iris.safetensors")).unwrap();
//! let features = model
//!     .features_by_name([("sepal_length", 5.1), ("sepal_width", 3.5), ("petal_length", 1.4), ("petal_width", 0.2)])
//!     .unwrap();
//! let mut predictor = model.predictor();
//! println!("{}", predictor.predict_one(&features).unwrap().label().unwrap());
//! ```

use serde::Serialize;

use crate::{inference, Error, Matrix, MatrixRef, Model, Result, Task};

/// What a model says about one sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// A classifier's answer.
    Class {
        /// The most probable class's label.
        label: String,
        /// Its index in [`Model::classes`].
        index: usize,
        /// The probability of every class, in [`Model::classes`] order.
        probabilities: Vec<f32>,
    },
    /// A regression's answer, in the target's units.
    Value(f32),
}

impl Prediction {
    /// The prediction of `model` whose outputs in the data's terms (see [`Model::predict`]) are
    /// `row`.
    pub(crate) fn new(model: &Model, row: &[f32]) -> Self {
        match model.task {
            Task::Classification => {
                let index = model.class_of(row);
                Prediction::Class {
                    label: model.classes[index].clone(),
                    index,
                    probabilities: row.to_vec(),
                }
            }
            Task::Regression => Prediction::Value(row[0]),
        }
    }

    /// The predicted class label (`None` for a regression).
    pub fn label(&self) -> Option<&str> {
        match self {
            Prediction::Class { label, .. } => Some(label),
            Prediction::Value(_) => None,
        }
    }

    /// The predicted value (`None` for a classification).
    pub fn value(&self) -> Option<f32> {
        match self {
            Prediction::Value(v) => Some(*v),
            Prediction::Class { .. } => None,
        }
    }
}

/// A [`Model`] laid out for predicting one sample at a time: standardization, the network in
/// the single-sample layout of [`inference::Predictor`], target un-scaling and class labels.
///
/// Its figures are [`Model::predict_one`]'s and [`Model::predict`]'s, bit for bit (the batch
/// path runs the same single-sample code on every row). The copy does not follow later
/// changes to the model.
#[derive(Clone, Debug)]
pub struct Predictor {
    model: Model,
    network: inference::Predictor,
    /// The current sample, standardized.
    scaled: Vec<f32>,
}

impl Predictor {
    /// Lays out `model` for single-sample prediction.
    pub fn new(model: &Model) -> Self {
        Self {
            model: model.clone(),
            network: inference::Predictor::new(&model.mlp),
            scaled: vec![0.0; model.mlp.inputs()],
        }
    }

    /// The model's feature names: the order [`Predictor::predict_one`] takes them in.
    pub fn feature_names(&self) -> &[String] {
        &self.model.feature_names
    }

    /// [`Model::predict_rows`] without laying the network out again: the same bits, for
    /// callers that predict many small batches with one model.
    ///
    /// # Errors
    /// As [`Model::predict_rows`].
    pub fn predict_rows(&self, x: MatrixRef<'_>) -> Result<Matrix> {
        self.model.predict_rows_with(&self.network, x)
    }

    /// The model's answer for one sample, `features` in [`Predictor::feature_names`] order.
    ///
    /// # Errors
    /// As [`Model::predict_one`].
    pub fn predict_one(&mut self, features: &[f32]) -> Result<Prediction> {
        let model = &self.model;
        model.check_sample(features)?;
        let input = &model.input;
        for (((s, &x), &m), &sd) in self.scaled.iter_mut().zip(features).zip(&input.mean).zip(&input.std) {
            *s = (x - m) / sd;
        }
        let out = self.network.predict_one(&self.scaled);
        if self.scaled.iter().chain(out).all(|v| v.is_finite()) {
            let out = model.in_data_terms(Matrix::from_vec(1, out.len(), out.to_vec()))?;
            return Ok(Prediction::new(model, out.row(0)));
        }
        // The batch path names the cause (a feature beyond f32, or where the outputs stop
        // being finite).
        model.predict_one(features)?;
        Err(Error::config(
            "the network's outputs for this sample are not finite (its features are far beyond the training data's)",
        ))
    }
}
