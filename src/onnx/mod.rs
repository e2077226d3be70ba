//! ONNX export: a trained [`Model`] as an ONNX graph that any ONNX runtime can run.
//!
//! The graph uses the standard operator set **opset 17** (ONNX IR version 8), which onnxruntime
//! 1.13 and later run. It takes the raw features and returns what `actlab predict` does:
//!
//! - input `features`: float32 `[N, features]`, the model's features in training order (for a
//!   model of a raw table of numeric columns, those columns: see [`to_onnx_with`]); a model of a
//!   raw table with a categorical column has one input per column instead, named by the column;
//! - for a classifier, output `probabilities`: float32 `[N, classes]` in [`Model::classes`]
//!   order (a single sigmoid output is spelled out as `[1 - p, p]`), and output `label`: string
//!   `[N]`, the class with the highest probability (the first of equals);
//! - for a regressor, output `prediction`: float32 `[N, 1]` in the target's units.
//!
//! Inside: `(x - mean) / std` with the training statistics, then per layer `Gemm` (the
//! weights as stored, `transB = 1`) and its activation, the input added back on residual
//! layers, and for a regressor with a scaled target `y · std + mean`. Activations map to native
//! operators where ONNX has the same function (`Sigmoid`, `Tanh`, `Relu`, `LeakyRelu`, `Elu`,
//! `Selu`, `Softsign`, `HardSigmoid`, `HardSwish`, `PRelu` with the learned slopes, `Softmax`,
//! `Clip` for ReLU6) and to exact compositions elsewhere: GELU `x/2 (1 + erf(x/√2))`, GELU's
//! tanh form, SiLU `x σ(x)`, Mish `x tanh(softplus(x))`, softplus with β and its linear
//! threshold. The results agree with actlab's to float32 rounding (checked with onnxruntime by
//! the Python tests).
//!
//! A model of a raw table has its preprocessing ([`Preprocessor`]) in the graph: numeric
//! columns `Where(IsNaN(x), median, x)` and their missing-value indicators (`Cast`), categorical
//! columns `LabelEncoder` (from `ai.onnx.ml`, [`ML_OPSET`]) from the text to the index of its
//! one-hot feature, then `Equal` with `0..k` and `Cast` (a category never seen in training
//! matches no index and is all zeros, as in `actlab predict`). The metadata entries `features`,
//! `columns` and `missing_values` list the inputs, the columns with their encodings, and the
//! texts read as a missing cell.

pub mod proto;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use prost::Message;

use crate::activation::{SELU_ALPHA, SELU_LAMBDA};
use crate::data::table::DEFAULT_NA_VALUES;
use crate::preprocess::{ColumnPlan, Encoding, Preprocessor};
use crate::{fileio, model_io, Activation, Error, Model, Result, Task};
use proto::*;

/// The ONNX standard operator set version the graph uses.
pub const OPSET: i64 = 17;
/// The ONNX IR version written (the one that goes with opset 17).
pub const IR_VERSION: i64 = 8;
/// The `ai.onnx.ml` operator set version that goes with opset 17, imported by a graph with a
/// categorical column (for its `LabelEncoder`).
pub const ML_OPSET: i64 = 3;

/// Metadata keys of the model file that the export translates; any other key with a value
/// (preprocessing added to the model format later) makes [`to_onnx`] refuse the model rather
/// than export a graph that would skip a step of `actlab predict`.
const TRANSLATED_METADATA: [&str; 11] = [
    "version",
    "actlab",
    "task",
    "classes",
    "residual",
    "layers",
    "features",
    "target",
    "loss",
    "threshold",
    "preprocess",
];

/// The model as the bytes of an `.onnx` file (see the module documentation for the graph).
///
/// # Errors
/// [`Error::Config`] for a model whose file metadata would hold a setting the export does not
/// translate (such as preprocessing of the raw columns), naming it.
pub fn to_onnx(model: &Model) -> Result<Vec<u8>> {
    to_onnx_with(model, None)
}

/// [`to_onnx`] of a model with the preprocessing that turns raw table columns into its
/// features (see [`model_io::load_with_preprocessor`]): the whole preprocessing is then part of
/// the graph, whose inputs are the raw columns the model reads: one float32 input `features`
/// when every column it reads is numeric, else one input per column, named by it (float32
/// `[N, 1]` for a numeric column, string `[N, 1]` for a categorical one).
///
/// # Errors
/// As [`to_onnx`]; [`Error::Config`] for a preprocessing that does not make the model's
/// features, or (with a categorical column) a column whose name is empty, repeated or that of
/// an output of the graph.
pub fn to_onnx_with(model: &Model, preprocess: Option<&Preprocessor>) -> Result<Vec<u8>> {
    refuse_untranslated(&model_io::to_safetensors_with(model, preprocess)?).map_err(Error::Config)?;
    let inputs = match preprocess {
        None => Inputs::Features,
        Some(p) => {
            p.check(&model.feature_names).map_err(Error::Config)?;
            let columns: Vec<&ColumnPlan> = p.used_columns().collect();
            if columns
                .iter()
                .any(|c| matches!(c.encoding, Encoding::Categorical { .. }))
            {
                check_input_names(&columns, model.task)?;
                Inputs::Columns(columns)
            } else {
                Inputs::Numeric(columns)
            }
        }
    };
    Ok(graph_model(model, preprocess, &inputs).encode_to_vec())
}

/// What the graph takes.
///
/// Numeric-only preprocessing keeps the single matrix input of a model without preprocessing;
/// a categorical column needs a string input, and then every column gets an input of its own
/// named by the column, as scikit-learn's `ColumnTransformer` pipelines have in ONNX.
enum Inputs<'a> {
    /// Input `features`: float32 `[N, features]`, the model's features.
    Features,
    /// Input `features`: float32 `[N, columns]`, these raw numeric columns in file order, NaN
    /// for a missing cell.
    Numeric(Vec<&'a ColumnPlan>),
    /// One input per raw column, in file order, named by the column: float32 `[N, 1]` for a
    /// numeric column (NaN for a missing cell), string `[N, 1]` for a categorical one (a
    /// missing cell as one of [`DEFAULT_NA_VALUES`], the empty string among them).
    Columns(Vec<&'a ColumnPlan>),
}

/// The graph's outputs for `task`.
fn output_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Classification => &["probabilities", "label"],
        Task::Regression => &["prediction"],
    }
}

/// Refuses column names that cannot name distinct graph inputs: empty, repeated, or the name
/// of an output.
fn check_input_names(columns: &[&ColumnPlan], task: Task) -> Result<()> {
    let mut seen = HashSet::new();
    for c in columns {
        let why = if c.name.is_empty() {
            "is empty"
        } else if !seen.insert(c.name.as_str()) {
            "is repeated"
        } else if output_names(task).contains(&c.name.as_str()) {
            "is that of an output of the graph"
        } else {
            continue;
        };
        return Err(Error::Config(format!(
            "cannot export to ONNX: the name of the column '{}' {why}, and each column is an input named by the column \
             (rename it in the training file and train again)",
            c.name
        )));
    }
    Ok(())
}

/// The model file at `path` as the bytes of an `.onnx` file: [`to_onnx`] of [`model_io::load`],
/// refusing also metadata in the file that this actlab does not read (written by a newer one).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Model`] if it is not a valid model or
/// holds a setting the export does not translate.
pub fn export_file(path: &Path) -> Result<Vec<u8>> {
    let bytes = fileio::read_input(path, 2)?;
    let (model, preprocess) = model_io::from_safetensors_with(&bytes, path)?;
    let bad = |message: String| Error::Model {
        path: path.to_path_buf(),
        message,
    };
    refuse_untranslated(&bytes).map_err(bad)?;
    to_onnx_with(&model, preprocess.as_ref()).map_err(|e| bad(e.to_string()))
}

/// Refuses a model file (`bytes`) whose metadata has a non-default value under a key that is
/// not in [`TRANSLATED_METADATA`]: the message names the keys.
fn refuse_untranslated(bytes: &[u8]) -> std::result::Result<(), String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read the model's metadata: {e}");
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(|e| unreadable(&e))?;
    let json = header.metadata().as_ref().and_then(|m| m.get("actlab")).cloned();
    let meta: serde_json::Value = serde_json::from_str(json.as_deref().unwrap_or("{}")).map_err(|e| unreadable(&e))?;
    let untranslated = untranslated_keys(&meta);
    if untranslated.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the model's {} ('{}' in its metadata) cannot be exported to ONNX yet: the graph would skip that step of `actlab predict`",
        if untranslated.len() == 1 { "setting" } else { "settings" },
        untranslated.join("', '")
    ))
}

/// The keys of model metadata `meta` outside [`TRANSLATED_METADATA`] whose values are not
/// empty (null, false, 0, `""`, `[]` or `{}`).
fn untranslated_keys(meta: &serde_json::Value) -> Vec<&str> {
    let is_default = |v: &serde_json::Value| match v {
        serde_json::Value::Null => true,
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
    };
    meta.as_object()
        .into_iter()
        .flatten()
        .filter(|(key, value)| !TRANSLATED_METADATA.contains(&key.as_str()) && !is_default(value))
        .map(|(key, _)| key.as_str())
        .collect()
}

/// Nodes and constants of the graph under construction; every value gets a fresh name, none
/// of the graph's input and output names (which are reserved when the builder is made).
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    taken: HashSet<String>,
}

impl Builder {
    /// A builder whose values avoid the names `reserved`.
    fn new<'a>(reserved: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            nodes: Vec::new(),
            initializers: Vec::new(),
            taken: reserved.into_iter().map(str::to_string).collect(),
        }
    }

    /// `name`, or `name#2`, `name#3`, … when it is taken (by a column named so).
    fn fresh(&mut self, name: &str) -> String {
        let mut fresh = name.to_string();
        for k in 2.. {
            if self.taken.insert(fresh.clone()) {
                break;
            }
            fresh = format!("{name}#{k}");
        }
        fresh
    }

    /// Adds `op` on `inputs` with `attributes`; returns the name of its output.
    fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.node_in("", op, inputs, attributes)
    }

    /// [`Builder::node`] of an operator of the operator set `domain`.
    fn node_in(&mut self, domain: &str, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let output = self.fresh(&format!("{}_{}", op.to_lowercase(), self.nodes.len()));
        self.push(domain, op, inputs, attributes, &output);
        output
    }

    /// Adds `op` on `inputs` whose output is named `output` (a reserved name: a graph output).
    fn node_named(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>, output: &str) {
        self.push("", op, inputs, attributes, output);
    }

    fn push(&mut self, domain: &str, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>, output: &str) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute,
            domain: domain.to_string(),
        });
    }

    /// Adds a constant; returns its (fresh) name.
    fn tensor(&mut self, name: &str, tensor: TensorProto) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            name: name.clone(),
            ..tensor
        });
        name
    }

    /// Adds a float32 constant of shape `dims`; returns its name.
    fn constant(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let tensor = TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: values.to_vec(),
            ..Default::default()
        };
        self.tensor(name, tensor)
    }

    /// An int64 constant of shape `dims`; returns its name.
    fn int64s(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        let tensor = TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: INT64,
            int64_data: values.to_vec(),
            ..Default::default()
        };
        self.tensor(name, tensor)
    }

    /// The model's features from the raw numeric columns `raw` (graph input `features`): a
    /// missing cell (NaN) takes the column's training median, and a column with an indicator
    /// is followed by `1` where its cell was missing, else `0`. Returns the features' name.
    fn impute(&mut self, raw: &[&ColumnPlan]) -> String {
        let numeric: Vec<(f32, bool)> = raw
            .iter()
            .filter_map(|c| match c.encoding {
                Encoding::Numeric { median, indicator } => Some((median, indicator)),
                _ => None,
            })
            .collect();
        let medians: Vec<f32> = numeric.iter().map(|&(median, _)| median).collect();
        let medians = self.constant("input.median", &[numeric.len()], &medians);
        let missing = self.node("IsNaN", &["features"], vec![]);
        let imputed = self.node("Where", &[&missing, &medians, "features"], vec![]);
        if !numeric.iter().any(|&(_, indicator)| indicator) {
            return imputed;
        }
        let indicators = self.node("Cast", &[&missing], vec![int("to", FLOAT.into())]);
        let both = self.node("Concat", &[&imputed, &indicators], vec![int("axis", 1)]);
        // Column j of `both` is raw column j's value, column R + j its indicator.
        let order: Vec<i64> = numeric
            .iter()
            .enumerate()
            .flat_map(|(j, &(_, indicator))| {
                std::iter::once(j as i64).chain(indicator.then_some((numeric.len() + j) as i64))
            })
            .collect();
        let order = self.int64s("input.order", &[order.len()], &order);
        self.node("Gather", &[&both, &order], vec![int("axis", 1)])
    }

    /// The model's features from one input per raw column (see [`Inputs::Columns`]), each
    /// column's features in turn, concatenated. Returns the features' name.
    ///
    /// A numeric column is imputed as in [`Builder::impute`]. A categorical column's text goes
    /// through `LabelEncoder` to the index of its feature (a pooled rare category to the
    /// `<other>` feature's, a missing cell to the `<missing>` feature's) or to -1 (a category
    /// never seen in training, or a missing cell when training had none); `Equal` with the
    /// indices `0..k` then makes the one-hot row, all zeros for -1.
    fn encode_columns(&mut self, columns: &[&ColumnPlan]) -> String {
        let mut parts = Vec::new();
        for (j, column) in columns.iter().enumerate() {
            let input = column.name.as_str();
            match &column.encoding {
                Encoding::Numeric { median, indicator } => {
                    let median = self.scalar(&format!("columns.{j}.median"), *median);
                    let missing = self.node("IsNaN", &[input], vec![]);
                    parts.push(self.node("Where", &[&missing, &median, input], vec![]));
                    if *indicator {
                        parts.push(self.node("Cast", &[&missing], vec![int("to", FLOAT.into())]));
                    }
                }
                Encoding::Categorical { .. } => {
                    let (keys, values, width) = category_indices(&column.encoding);
                    let attributes = vec![
                        strings("keys_strings", &keys),
                        ints("values_int64s", values),
                        int("default_int64", -1),
                    ];
                    let codes = self.node_in(ML_DOMAIN, "LabelEncoder", &[input], attributes);
                    let positions: Vec<i64> = (0..width as i64).collect();
                    let positions = self.int64s(&format!("columns.{j}.positions"), &[width], &positions);
                    let hot = self.node("Equal", &[&codes, &positions], vec![]);
                    parts.push(self.node("Cast", &[&hot], vec![int("to", FLOAT.into())]));
                }
                Encoding::Dropped { .. } => unreachable!("used columns only"),
            }
        }
        match parts.as_slice() {
            [single] => single.clone(),
            _ => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                self.node("Concat", &parts, vec![int("axis", 1)])
            }
        }
    }

    /// A scalar float32 constant (shape `[]`, broadcast by the arithmetic operators).
    fn scalar(&mut self, name: &str, value: f32) -> String {
        self.constant(name, &[], &[value])
    }

    /// `activation(z)` of layer `layer`; returns the output's name.
    fn activation(&mut self, activation: Activation, layer: usize, z: &str, slopes: &[f32]) -> String {
        let name = |what: &str| format!("layers.{layer}.{what}");
        match activation {
            Activation::Identity => z.to_string(),
            Activation::Sigmoid => self.node("Sigmoid", &[z], vec![]),
            Activation::Tanh => self.node("Tanh", &[z], vec![]),
            Activation::Relu => self.node("Relu", &[z], vec![]),
            Activation::LeakyRelu { negative_slope } => {
                self.node("LeakyRelu", &[z], vec![float("alpha", negative_slope)])
            }
            Activation::Elu { alpha } => self.node("Elu", &[z], vec![float("alpha", alpha)]),
            Activation::Selu => self.node(
                "Selu",
                &[z],
                vec![float("alpha", SELU_ALPHA), float("gamma", SELU_LAMBDA)],
            ),
            Activation::Gelu => {
                // x/2 (1 + erf(x/√2))
                let sqrt2 = self.scalar(&name("sqrt2"), std::f32::consts::SQRT_2);
                let (one, half) = (self.scalar(&name("one"), 1.0), self.scalar(&name("half"), 0.5));
                let scaled = self.node("Div", &[z, &sqrt2], vec![]);
                let erf = self.node("Erf", &[&scaled], vec![]);
                let bracket = self.node("Add", &[&erf, &one], vec![]);
                let product = self.node("Mul", &[z, &bracket], vec![]);
                self.node("Mul", &[&product, &half], vec![])
            }
            Activation::GeluTanh => {
                // x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))
                let c = self.scalar(&name("sqrt_2_over_pi"), (2.0 / std::f64::consts::PI).sqrt() as f32);
                let k = self.scalar(&name("cubic"), 0.044715);
                let (one, half) = (self.scalar(&name("one"), 1.0), self.scalar(&name("half"), 0.5));
                let square = self.node("Mul", &[z, z], vec![]);
                let cube = self.node("Mul", &[&square, z], vec![]);
                let term = self.node("Mul", &[&cube, &k], vec![]);
                let inner = self.node("Add", &[z, &term], vec![]);
                let u = self.node("Mul", &[&inner, &c], vec![]);
                let t = self.node("Tanh", &[&u], vec![]);
                let bracket = self.node("Add", &[&t, &one], vec![]);
                let product = self.node("Mul", &[z, &bracket], vec![]);
                self.node("Mul", &[&product, &half], vec![])
            }
            Activation::Silu => {
                let s = self.node("Sigmoid", &[z], vec![]);
                self.node("Mul", &[z, &s], vec![])
            }
            Activation::Softplus { beta, threshold } => {
                // ln(1 + e^(βx)) / β, and x where βx > threshold
                let b = self.scalar(&name("beta"), beta);
                let t = self.scalar(&name("threshold"), threshold);
                let bx = self.node("Mul", &[z, &b], vec![]);
                let soft = self.node("Softplus", &[&bx], vec![]);
                let curve = self.node("Div", &[&soft, &b], vec![]);
                let linear = self.node("Greater", &[&bx, &t], vec![]);
                self.node("Where", &[&linear, z, &curve], vec![])
            }
            Activation::Mish => {
                let soft = self.node("Softplus", &[z], vec![]);
                let t = self.node("Tanh", &[&soft], vec![]);
                self.node("Mul", &[z, &t], vec![])
            }
            Activation::Softsign => self.node("Softsign", &[z], vec![]),
            Activation::Relu6 => {
                let (lo, hi) = (self.scalar(&name("zero"), 0.0), self.scalar(&name("six"), 6.0));
                self.node("Clip", &[z, &lo, &hi], vec![])
            }
            Activation::HardSigmoid => {
                self.node("HardSigmoid", &[z], vec![float("alpha", 1.0 / 6.0), float("beta", 0.5)])
            }
            Activation::HardSwish => self.node("HardSwish", &[z], vec![]),
            Activation::Prelu { .. } => {
                let s = self.constant(&name("prelu"), &[slopes.len()], slopes);
                self.node("PRelu", &[z, &s], vec![])
            }
            Activation::Softmax => self.node("Softmax", &[z], vec![int("axis", -1)]),
        }
    }
}

fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: ATTRIBUTE_FLOAT,
        f,
        ..Default::default()
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: ATTRIBUTE_INT,
        i,
        ..Default::default()
    }
}

fn ints(name: &str, values: Vec<i64>) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: ATTRIBUTE_INTS,
        ints: values,
        ..Default::default()
    }
}

fn strings(name: &str, values: &[String]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: ATTRIBUTE_STRINGS,
        strings: values.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// What a categorical column's `LabelEncoder` maps (keys, their feature indices) and how many
/// features the column has: each category to its feature, each pooled rare one to `<other>`,
/// and the missing-value texts of [`DEFAULT_NA_VALUES`] to `<missing>` (-1 when training had
/// no missing cell). A missing-value text wins over a category of the same text, as it does
/// when `actlab predict` reads a file: such a cell is missing.
fn category_indices(encoding: &Encoding) -> (Vec<String>, Vec<i64>, usize) {
    let Encoding::Categorical {
        categories,
        other,
        missing,
    } = encoding
    else {
        unreachable!("categorical columns only")
    };
    let other_at = categories.len() as i64;
    let missing_at = other_at + i64::from(!other.is_empty());
    let mut index: BTreeMap<&str, i64> = categories.iter().zip(0..).map(|(c, i)| (c.as_str(), i)).collect();
    index.extend(other.iter().map(|c| (c.as_str(), other_at)));
    index.extend(
        DEFAULT_NA_VALUES
            .iter()
            .map(|&na| (na, if *missing { missing_at } else { -1 })),
    );
    let width = (missing_at + i64::from(*missing)) as usize;
    let (keys, values) = index.into_iter().map(|(k, v)| (k.to_string(), v)).unzip();
    (keys, values, width)
}

/// A tensor type with a symbolic batch dimension `N` followed by `dims`.
fn value_info(name: &str, elem_type: i32, dims: &[usize], doc: &str) -> ValueInfoProto {
    let dim = std::iter::once(DimensionValue::DimParam("N".into()))
        .chain(dims.iter().map(|&d| DimensionValue::DimValue(d as i64)))
        .map(|value| Dimension { value: Some(value) })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        doc_string: doc.to_string(),
    }
}

/// The graph of `model` taking `inputs`; `preprocess` (the one `inputs` come from) is listed
/// in the metadata.
fn graph_model(model: &Model, preprocess: Option<&Preprocessor>, inputs: &Inputs) -> ModelProto {
    let features = model.mlp.inputs();
    let (graph_inputs, input_names): (Vec<ValueInfoProto>, Vec<String>) = match inputs {
        Inputs::Features => (
            vec![value_info(
                "features",
                FLOAT,
                &[features],
                "raw features, in the model's feature order",
            )],
            model.feature_names.clone(),
        ),
        Inputs::Numeric(columns) => (
            vec![value_info(
                "features",
                FLOAT,
                &[columns.len()],
                "the raw table's numeric columns the model reads, in file order (the 'features' entry of the metadata), NaN for a missing cell",
            )],
            columns.iter().map(|c| c.name.clone()).collect(),
        ),
        Inputs::Columns(columns) => columns
            .iter()
            .map(|c| {
                let input = match c.encoding {
                    Encoding::Numeric { .. } => {
                        value_info(&c.name, FLOAT, &[1], "a numeric column of the raw table, NaN for a missing cell")
                    }
                    _ => value_info(
                        &c.name,
                        STRING,
                        &[1],
                        "a categorical column of the raw table, the cells' text (trimmed); a missing cell as one of the 'missing_values' of the metadata, such as the empty string",
                    ),
                };
                (input, c.name.clone())
            })
            .unzip(),
    };
    let reserved = input_names.iter().map(String::as_str).chain(["features"]);
    let mut b = Builder::new(reserved.chain(output_names(model.task).iter().copied()));
    let input = match inputs {
        Inputs::Features => "features".to_string(),
        Inputs::Numeric(columns) => b.impute(columns),
        Inputs::Columns(columns) => b.encode_columns(columns),
    };
    let mean = b.constant("input.mean", &[features], &model.input.mean);
    let std = b.constant("input.std", &[features], &model.input.std);
    let centred = b.node("Sub", &[&input, &mean], vec![]);
    let mut h = b.node("Div", &[&centred, &std], vec![]);
    for (i, layer) in model.mlp.layers().iter().enumerate() {
        let p = model.mlp.layer_params(i);
        let w = b.constant(&format!("layers.{i}.weight"), &[layer.outputs, layer.inputs], p.weight);
        let bias = b.constant(&format!("layers.{i}.bias"), &[layer.outputs], p.bias);
        let z = b.node("Gemm", &[&h, &w, &bias], vec![int("transB", 1)]);
        let y = b.activation(layer.activation, i, &z, p.slopes);
        h = if model.mlp.is_residual(i) {
            b.node("Add", &[&h, &y], vec![])
        } else {
            y
        };
    }
    let outputs = match model.task {
        Task::Classification => {
            let classes = model.classes.len();
            let probabilities = "probabilities";
            if model.mlp.outputs() == 1 {
                let one = b.scalar("one", 1.0);
                let complement = b.node("Sub", &[&one, &h], vec![]);
                b.node_named("Concat", &[&complement, &h], vec![int("axis", 1)], probabilities);
            } else {
                b.node_named("Identity", &[&h], vec![], probabilities);
            }
            let index = match model.threshold {
                // The second class where its probability is at or above the threshold.
                Some(t) if classes == 2 => {
                    let second = b.int64s("second", &[], &[1]);
                    let p = b.node("Gather", &[probabilities, &second], vec![int("axis", 1)]);
                    let t = b.scalar("threshold", t);
                    let above = b.node("GreaterOrEqual", &[&p, &t], vec![]);
                    b.node("Cast", &[&above], vec![int("to", INT64.into())])
                }
                _ => b.node(
                    "ArgMax",
                    &[probabilities],
                    vec![int("axis", 1), int("keepdims", 0), int("select_last_index", 0)],
                ),
            };
            let names = TensorProto {
                dims: vec![classes as i64],
                data_type: STRING,
                string_data: model.classes.iter().map(|c| c.as_bytes().to_vec()).collect(),
                ..Default::default()
            };
            let names = b.tensor("classes", names);
            b.node_named("Gather", &[&names, &index], vec![int("axis", 0)], "label");
            vec![
                value_info(
                    probabilities,
                    FLOAT,
                    &[classes],
                    "class probabilities, in the model's class order",
                ),
                value_info(
                    "label",
                    STRING,
                    &[],
                    "the predicted class: the most probable, or by the model's decision threshold",
                ),
            ]
        }
        Task::Regression => {
            match model.target_scale {
                Some((mean, std)) => {
                    let (m, s) = (b.scalar("target.mean", mean), b.scalar("target.std", std));
                    let scaled = b.node("Mul", &[&h, &s], vec![]);
                    b.node_named("Add", &[&scaled, &m], vec![], "prediction");
                }
                None => b.node_named("Identity", &[&h], vec![], "prediction"),
            }
            vec![value_info(
                "prediction",
                FLOAT,
                &[1],
                &format!("'{}' in the target's units", model.target_name),
            )]
        }
    };
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: std::iter::once((String::new(), OPSET))
            .chain(matches!(inputs, Inputs::Columns(_)).then(|| (ML_DOMAIN.to_string(), ML_OPSET)))
            .map(|(domain, version)| OperatorSetIdProto { domain, version })
            .collect(),
        producer_name: "actlab".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "actlab {} model; features: {}",
            match model.task {
                Task::Classification => "classification",
                Task::Regression => "regression",
            },
            input_names.join(", ")
        ),
        graph: Some(GraphProto {
            node: b.nodes,
            name: "actlab".into(),
            initializer: b.initializers,
            doc_string: String::new(),
            input: graph_inputs,
            output: outputs,
        }),
        metadata_props: metadata(&input_names, preprocess, inputs),
    }
}

/// The metadata entries: `features`, the names of the graph's input columns in order (the
/// model's features, or the raw columns it reads); with a preprocessing, `columns`, every
/// column of the training file but the target in file order with its encoding (the
/// preprocessing as stored in the model file: a dropped column has no input); with one input
/// per column, `missing_values`, the texts that mean a missing cell of a categorical column.
fn metadata(input_names: &[String], preprocess: Option<&Preprocessor>, inputs: &Inputs) -> Vec<StringStringEntryProto> {
    let entry = |key: &str, value: String| StringStringEntryProto { key: key.into(), value };
    let json = "plain data serializes";
    let mut entries = vec![entry("features", serde_json::to_string(input_names).expect(json))];
    if let Some(p) = preprocess {
        entries.push(entry("columns", serde_json::to_string(&p.columns).expect(json)));
    }
    if let Inputs::Columns(_) = inputs {
        entries.push(entry(
            "missing_values",
            serde_json::to_string(&DEFAULT_NA_VALUES).expect(json),
        ));
    }
    entries
}

#[cfg(test)]
mod tests;
