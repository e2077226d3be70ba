use prost::Message;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::proto::{DimensionValue, ModelProto, NodeProto, TensorProto, FLOAT, INT64, STRING};
use super::{to_onnx, to_onnx_with, IR_VERSION, ML_OPSET, OPSET};
use crate::data::table::DEFAULT_NA_VALUES;
use crate::data::Standardizer;
use crate::preprocess::{ColumnPlan, Encoding, Preprocessor};
use crate::{Activation, Loss, Mlp, MlpConfig, Model, Task};

/// A 3-feature model with hidden layers `hidden` of `activation`, untrained (random weights).
fn model(hidden: &[usize], activation: Activation, task: Task, outputs: usize, output: Activation) -> Model {
    let mlp = Mlp::new(
        &MlpConfig {
            inputs: 3,
            hidden: hidden.to_vec(),
            activations: vec![activation],
            outputs,
            output,
            residual: true,
            init: None,
        },
        &mut ChaCha8Rng::seed_from_u64(7),
    )
    .unwrap();
    let classes = match (task, outputs) {
        (Task::Regression, _) => vec![],
        (_, 1) => vec!["no".into(), "yes".into()],
        (_, n) => (0..n).map(|i| format!("c{i}")).collect(),
    };
    Model {
        mlp,
        task,
        classes,
        feature_names: vec!["a".into(), "b".into(), "c".into()],
        target_name: "y".into(),
        input: Standardizer {
            mean: vec![1.0, 2.0, 3.0],
            std: vec![0.5, 1.5, 2.5],
        },
        target_scale: (task == Task::Regression).then_some((10.0, 4.0)),
        loss: match output {
            Activation::Softmax => Loss::CrossEntropy,
            Activation::Sigmoid => Loss::BinaryCrossEntropy,
            _ => Loss::Mse,
        },
        threshold: None,
    }
}

fn decode(model: &Model) -> ModelProto {
    ModelProto::decode(to_onnx(model).unwrap().as_slice()).unwrap()
}

fn initializer<'a>(m: &'a ModelProto, name: &str) -> &'a TensorProto {
    let graph = m.graph.as_ref().unwrap();
    graph
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no initializer '{name}'"))
}

fn ops(m: &ModelProto) -> Vec<&str> {
    m.graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .collect()
}

/// The operators that each hidden activation becomes, between the first `Gemm` and the next.
fn hidden_ops(m: &ModelProto) -> Vec<&str> {
    let all = ops(m);
    let first = all.iter().position(|&o| o == "Gemm").unwrap();
    let next = first + 1 + all[first + 1..].iter().position(|&o| o == "Gemm").unwrap();
    all[first + 1..next].to_vec()
}

#[test]
fn every_hidden_activation_maps_to_its_operators_with_the_layers_tensors() {
    for activation in Activation::ALL.into_iter().filter(|a| *a != Activation::Softmax) {
        let m = model(&[4], activation, Task::Classification, 3, Activation::Softmax);
        let onnx = decode(&m);
        assert_eq!(onnx.ir_version, IR_VERSION);
        assert_eq!(onnx.opset_import[0].version, OPSET);
        let expected: &[&str] = match activation {
            Activation::Identity => &[],
            Activation::Sigmoid => &["Sigmoid"],
            Activation::Tanh => &["Tanh"],
            Activation::Relu => &["Relu"],
            Activation::LeakyRelu { .. } => &["LeakyRelu"],
            Activation::Elu { .. } => &["Elu"],
            Activation::Selu => &["Selu"],
            Activation::Gelu => &["Div", "Erf", "Add", "Mul", "Mul"],
            Activation::GeluTanh => &["Mul", "Mul", "Mul", "Add", "Mul", "Tanh", "Add", "Mul", "Mul"],
            Activation::Silu => &["Sigmoid", "Mul"],
            Activation::Softplus { .. } => &["Mul", "Softplus", "Div", "Greater", "Where"],
            Activation::Mish => &["Softplus", "Tanh", "Mul"],
            Activation::Softsign => &["Softsign"],
            Activation::Relu6 => &["Clip"],
            Activation::HardSigmoid => &["HardSigmoid"],
            Activation::HardSwish => &["HardSwish"],
            Activation::Prelu { .. } => &["PRelu"],
            Activation::Softmax => unreachable!(),
        };
        assert_eq!(hidden_ops(&onnx), expected, "{activation}");
        for (i, (outputs, inputs)) in [(4, 3), (3, 4)].into_iter().enumerate() {
            let w = initializer(&onnx, &format!("layers.{i}.weight"));
            assert_eq!(w.dims, [outputs, inputs], "{activation}");
            assert_eq!(w.data_type, FLOAT);
            assert_eq!(w.float_data, m.mlp.layer_params(i).weight, "{activation}");
            assert_eq!(initializer(&onnx, &format!("layers.{i}.bias")).dims, [outputs]);
        }
        let slopes = m.mlp.layer_params(0).slopes;
        if let Activation::Prelu { init } = activation {
            let t = initializer(&onnx, "layers.0.prelu");
            assert_eq!(t.dims, [4]);
            assert_eq!(t.float_data, slopes);
            assert_eq!(t.float_data, [init; 4]);
        } else {
            assert!(slopes.is_empty());
        }
        let node = |op: &str| -> &NodeProto {
            onnx.graph
                .as_ref()
                .unwrap()
                .node
                .iter()
                .find(|n| n.op_type == op)
                .unwrap()
        };
        match activation {
            Activation::LeakyRelu { negative_slope } => assert_eq!(node("LeakyRelu").attribute[0].f, negative_slope),
            Activation::Selu => assert_eq!(node("Selu").attribute[1].f, crate::activation::SELU_LAMBDA),
            Activation::HardSigmoid => assert_eq!(node("HardSigmoid").attribute[0].f, 1.0 / 6.0),
            _ => {}
        }
    }
}

#[test]
fn a_classifier_returns_probabilities_and_labels_and_standardizes_its_input() {
    let m = model(&[5, 5], Activation::Relu, Task::Classification, 3, Activation::Softmax);
    let onnx = decode(&m);
    let graph = onnx.graph.as_ref().unwrap();
    let all = ops(&onnx);
    assert_eq!(&all[..2], ["Sub", "Div"]);
    assert_eq!(initializer(&onnx, "input.mean").float_data, [1.0, 2.0, 3.0]);
    assert_eq!(initializer(&onnx, "input.std").float_data, [0.5, 1.5, 2.5]);
    // The second hidden layer (5 → 5) of a residual network adds its input back.
    assert_eq!(all.iter().filter(|&&o| o == "Add").count(), 1);
    assert!(all.ends_with(&["Softmax", "Identity", "ArgMax", "Gather"]), "{all:?}");
    let classes = initializer(&onnx, "classes");
    assert_eq!(classes.data_type, STRING);
    assert_eq!(classes.string_data, [b"c0".to_vec(), b"c1".to_vec(), b"c2".to_vec()]);
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs, ["probabilities", "label"]);
    let shape = |v: &super::proto::ValueInfoProto| -> Vec<DimensionValue> {
        let t = v.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap();
        t.shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone().unwrap())
            .collect()
    };
    assert_eq!(
        shape(&graph.input[0]),
        [DimensionValue::DimParam("N".into()), DimensionValue::DimValue(3)]
    );
    assert_eq!(
        shape(&graph.output[0]),
        [DimensionValue::DimParam("N".into()), DimensionValue::DimValue(3)]
    );
}

#[test]
fn a_single_sigmoid_output_is_spelled_out_as_two_probabilities() {
    let m = model(&[4], Activation::Tanh, Task::Classification, 1, Activation::Sigmoid);
    let onnx = decode(&m);
    assert!(ops(&onnx).ends_with(&["Sigmoid", "Sub", "Concat", "ArgMax", "Gather"]));
    assert_eq!(initializer(&onnx, "layers.1.weight").dims, [1, 4]);
    assert_eq!(initializer(&onnx, "classes").dims, [2]);
}

#[test]
fn a_regressor_maps_its_output_back_to_the_targets_units() {
    let m = model(&[4], Activation::Gelu, Task::Regression, 1, Activation::Identity);
    let onnx = decode(&m);
    assert!(ops(&onnx).ends_with(&["Gemm", "Mul", "Add"]), "{:?}", ops(&onnx));
    assert_eq!(initializer(&onnx, "target.mean").float_data, [10.0]);
    assert_eq!(initializer(&onnx, "target.std").float_data, [4.0]);
    let graph = onnx.graph.as_ref().unwrap();
    assert_eq!(graph.output.len(), 1);
    assert_eq!(graph.output[0].name, "prediction");
    assert_eq!(graph.node.last().unwrap().output, ["prediction"]);
}

#[test]
fn metadata_beyond_what_the_export_translates_is_named_unless_it_is_empty() {
    let m = model(&[4], Activation::Relu, Task::Regression, 1, Activation::Identity);
    let bytes = crate::model_io::to_safetensors(&m).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&header.metadata().as_ref().unwrap()["actlab"]).unwrap();
    assert_eq!(super::untranslated_keys(&meta), Vec::<&str>::new());
    let object = meta.as_object_mut().unwrap();
    object.insert("missing".into(), serde_json::json!({}));
    object.insert("encoders".into(), serde_json::json!([]));
    assert_eq!(super::untranslated_keys(&meta), Vec::<&str>::new());
    let object = meta.as_object_mut().unwrap();
    object.insert(
        "encoders".into(),
        serde_json::json!([{"column": "colour", "categories": ["red"]}]),
    );
    object.insert("impute".into(), serde_json::json!(true));
    assert_eq!(super::untranslated_keys(&meta), ["encoders", "impute"]);
}

/// A raw table's numeric preprocessing is part of the graph: its input is the raw columns used
/// (a dropped one left out), NaN becomes the median, and indicator features are gathered in
/// the model's feature order; a decision threshold picks the label. Text columns are refused.
#[test]
fn numeric_preprocessing_and_a_threshold_are_part_of_the_graph() {
    let mut m = model(&[4], Activation::Tanh, Task::Classification, 1, Activation::Sigmoid);
    m.feature_names = vec!["a".into(), "b".into(), "b:missing".into()];
    m.threshold = Some(0.25);
    let mut preprocess = Preprocessor {
        columns: vec![
            numeric("a", 1.5, false),
            ColumnPlan {
                name: "id".into(),
                encoding: Encoding::Dropped {
                    reason: "dropped by request".into(),
                },
            },
            numeric("b", -2.0, true),
        ],
    };
    let onnx = ModelProto::decode(to_onnx_with(&m, Some(&preprocess)).unwrap().as_slice()).unwrap();
    let all = ops(&onnx);
    assert_eq!(
        &all[..7],
        ["IsNaN", "Where", "Cast", "Concat", "Gather", "Sub", "Div"],
        "{all:?}"
    );
    assert_eq!(initializer(&onnx, "input.median").float_data, [1.5, -2.0]);
    // Columns of [imputed a, imputed b, a missing, b missing]: a, b, b's indicator.
    let order = initializer(&onnx, "input.order");
    assert_eq!((order.data_type, order.int64_data.as_slice()), (INT64, &[0, 1, 3][..]));
    assert_eq!(onnx.metadata_props[0].value, r#"["a","b"]"#);
    assert!(
        all.ends_with(&["Gather", "GreaterOrEqual", "Cast", "Gather"]),
        "{all:?}"
    );
    assert_eq!(initializer(&onnx, "threshold").float_data, [0.25]);

    // Without indicators the imputed columns are the features.
    m.feature_names = vec!["a".into(), "b".into(), "c".into()];
    preprocess.columns[2] = numeric("b", -2.0, false);
    preprocess.columns.push(numeric("c", 0.0, false));
    let onnx = ModelProto::decode(to_onnx_with(&m, Some(&preprocess)).unwrap().as_slice()).unwrap();
    assert_eq!(&ops(&onnx)[..4], ["IsNaN", "Where", "Sub", "Div"]);
    let graph = onnx.graph.as_ref().unwrap();
    assert_eq!(graph.input.len(), 1);
    assert_eq!(graph.input[0].name, "features");

    // A preprocessing that does not make the model's features is refused.
    preprocess.columns.truncate(2);
    let error = to_onnx_with(&m, Some(&preprocess)).unwrap_err().to_string();
    assert!(error.contains("not the model's 3 features"), "{error}");
}

fn numeric(name: &str, median: f32, indicator: bool) -> ColumnPlan {
    ColumnPlan {
        name: name.into(),
        encoding: Encoding::Numeric { median, indicator },
    }
}

fn categorical(name: &str, categories: &[&str], other: &[&str], missing: bool) -> ColumnPlan {
    let strings = |s: &[&str]| s.iter().map(|c| c.to_string()).collect();
    ColumnPlan {
        name: name.into(),
        encoding: Encoding::Categorical {
            categories: strings(categories),
            other: strings(other),
            missing,
        },
    }
}

/// An untrained model of `task` whose features are those `preprocess` makes.
fn table_model(preprocess: &Preprocessor, task: Task) -> Model {
    let features = preprocess.feature_names();
    let output = match task {
        Task::Classification => Activation::Sigmoid,
        Task::Regression => Activation::Identity,
    };
    let mut m = model(&[4], Activation::Relu, task, 1, output);
    m.mlp = Mlp::new(
        &MlpConfig {
            inputs: features.len(),
            hidden: vec![4],
            activations: vec![Activation::Relu],
            outputs: 1,
            output,
            residual: false,
            init: None,
        },
        &mut ChaCha8Rng::seed_from_u64(3),
    )
    .unwrap();
    m.input = Standardizer {
        mean: vec![0.0; features.len()],
        std: vec![1.0; features.len()],
    };
    m.feature_names = features;
    m
}

fn node<'a>(m: &'a ModelProto, op: &str, k: usize) -> &'a NodeProto {
    m.graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .filter(|n| n.op_type == op)
        .nth(k)
        .unwrap_or_else(|| panic!("no {op} number {k}"))
}

/// The `LabelEncoder` of node `node` as (key, value) pairs, sorted by key.
fn label_map(node: &NodeProto) -> Vec<(String, i64)> {
    let keys = &node
        .attribute
        .iter()
        .find(|a| a.name == "keys_strings")
        .unwrap()
        .strings;
    let values = &node.attribute.iter().find(|a| a.name == "values_int64s").unwrap().ints;
    assert_eq!(keys.len(), values.len());
    let mut pairs: Vec<(String, i64)> = keys
        .iter()
        .map(|k| String::from_utf8(k.clone()).unwrap())
        .zip(values.iter().copied())
        .collect();
    pairs.sort();
    pairs
}

/// `pairs` with every missing-value text mapped to `missing`, sorted by key.
fn with_missing(pairs: &[(&str, i64)], missing: i64) -> Vec<(String, i64)> {
    let mut all: Vec<(String, i64)> = pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    all.extend(DEFAULT_NA_VALUES.iter().map(|na| (na.to_string(), missing)));
    all.sort();
    all
}

/// Categorical columns: one input per used raw column, named by it (a numeric one float, a
/// categorical one string), each categorical column through `LabelEncoder` (pooled rare
/// categories to `<other>`, missing-value texts to `<missing>` or -1) and `Equal` with its
/// feature indices; a column of one category, one whose every category was pooled, names with
/// spaces and non-ASCII letters.
#[test]
fn categorical_columns_are_inputs_of_their_own_one_hot_encoded_in_the_graph() {
    let preprocess = Preprocessor {
        columns: vec![
            numeric("size cm", 2.5, true),
            ColumnPlan {
                name: "id".into(),
                encoding: Encoding::Dropped {
                    reason: "dropped by request".into(),
                },
            },
            categorical("colour", &["blue", "red"], &["violet"], true),
            categorical("größe", &[], &["a", "b"], false),
            categorical("one", &["x"], &[], false),
            numeric("w", -1.0, false),
        ],
    };
    let m = table_model(&preprocess, Task::Classification);
    assert_eq!(m.mlp.inputs(), 9);
    let onnx = ModelProto::decode(to_onnx_with(&m, Some(&preprocess)).unwrap().as_slice()).unwrap();
    let graph = onnx.graph.as_ref().unwrap();
    let inputs: Vec<(&str, i32)> = graph
        .input
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().elem_type,
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("size cm", FLOAT),
            ("colour", STRING),
            ("größe", STRING),
            ("one", STRING),
            ("w", FLOAT)
        ]
    );
    let ml: Vec<(&str, i64)> = onnx
        .opset_import
        .iter()
        .map(|o| (o.domain.as_str(), o.version))
        .collect();
    assert_eq!(ml, [("", OPSET), ("ai.onnx.ml", ML_OPSET)]);
    let all = ops(&onnx);
    #[rustfmt::skip]
    let expected = [
        "IsNaN", "Where", "Cast",
        "LabelEncoder", "Equal", "Cast",
        "LabelEncoder", "Equal", "Cast",
        "LabelEncoder", "Equal", "Cast",
        "IsNaN", "Where",
        "Concat", "Sub", "Div",
    ];
    assert_eq!(&all[..expected.len()], expected, "{all:?}");
    assert_eq!(node(&onnx, "IsNaN", 0).input, ["size cm"]);
    assert_eq!(initializer(&onnx, "columns.0.median").float_data, [2.5]);
    assert_eq!(initializer(&onnx, "columns.4.median").float_data, [-1.0]);
    // colour: blue, red, <other>, <missing>; größe: <other> only; one: x only.
    let encoder = node(&onnx, "LabelEncoder", 0);
    assert_eq!(
        (encoder.domain.as_str(), encoder.input.as_slice()),
        ("ai.onnx.ml", &["colour".to_string()][..])
    );
    assert_eq!(
        encoder.attribute.iter().find(|a| a.name == "default_int64").unwrap().i,
        -1
    );
    assert_eq!(
        label_map(encoder),
        with_missing(&[("blue", 0), ("red", 1), ("violet", 2)], 3)
    );
    assert_eq!(initializer(&onnx, "columns.1.positions").int64_data, [0, 1, 2, 3]);
    assert_eq!(
        label_map(node(&onnx, "LabelEncoder", 1)),
        with_missing(&[("a", 0), ("b", 0)], -1)
    );
    assert_eq!(initializer(&onnx, "columns.2.positions").int64_data, [0]);
    assert_eq!(label_map(node(&onnx, "LabelEncoder", 2)), with_missing(&[("x", 0)], -1));
    assert_eq!(initializer(&onnx, "columns.3.positions").int64_data, [0]);
    // The parts in the model's feature order: size, its indicator, 4 + 1 + 1 one-hot, w.
    let concat = node(&onnx, "Concat", 0);
    let producers: Vec<&str> = concat
        .input
        .iter()
        .map(|name| {
            graph
                .node
                .iter()
                .find(|n| n.output[0] == *name)
                .unwrap()
                .op_type
                .as_str()
        })
        .collect();
    assert_eq!(producers, ["Where", "Cast", "Cast", "Cast", "Cast", "Where"]);
    assert_eq!(node(&onnx, "Sub", 0).input[0], concat.output[0]);

    let meta: Vec<(&str, serde_json::Value)> = onnx
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), serde_json::from_str(&p.value).unwrap()))
        .collect();
    assert_eq!(
        meta[0],
        (
            "features",
            serde_json::json!(["size cm", "colour", "größe", "one", "w"])
        )
    );
    assert_eq!(meta[1].0, "columns");
    let columns: Vec<ColumnPlan> = serde_json::from_value(meta[1].1.clone()).unwrap();
    assert_eq!(columns, preprocess.columns);
    assert_eq!(meta[2], ("missing_values", serde_json::json!(DEFAULT_NA_VALUES)));
}

/// A text that means a missing cell wins over a category of the same text (possible when the
/// model was trained with other `--na-values`), as it does when `actlab predict` reads it.
#[test]
fn a_missing_value_text_is_a_missing_cell_even_where_it_was_a_category() {
    let with = categorical("c", &["?", "NA", "z"], &["-"], true);
    let (keys, values, width) = super::category_indices(&with.encoding);
    assert_eq!(width, 5);
    let map: Vec<(String, i64)> = keys.into_iter().zip(values).collect();
    assert_eq!(map, with_missing(&[("z", 2)], 4));
    let without = categorical("c", &["NA", "z"], &[], false);
    let (keys, values, width) = super::category_indices(&without.encoding);
    assert_eq!(width, 2);
    assert_eq!(
        keys.into_iter().zip(values).collect::<Vec<_>>(),
        with_missing(&[("z", 1)], -1)
    );
}

/// Columns may be named like values inside the graph (which then take other names) but not
/// like its outputs; every value name in the graph is defined once.
#[test]
fn column_names_that_clash_with_the_graphs_own_names() {
    let preprocess = Preprocessor {
        columns: vec![
            numeric("one", 0.0, false),
            numeric("input.mean", 0.0, false),
            categorical("classes", &["layers.0.weight", "b"], &[], false),
            numeric("features", 1.0, true),
        ],
    };
    let m = table_model(&preprocess, Task::Classification);
    let onnx = ModelProto::decode(to_onnx_with(&m, Some(&preprocess)).unwrap().as_slice()).unwrap();
    let graph = onnx.graph.as_ref().unwrap();
    let inputs: Vec<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(inputs, ["one", "input.mean", "classes", "features"]);
    let defined: Vec<&str> = inputs
        .iter()
        .copied()
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
        .collect();
    let distinct: std::collections::HashSet<&str> = defined.iter().copied().collect();
    assert_eq!(distinct.len(), defined.len(), "{defined:?}");
    assert_eq!(initializer(&onnx, "input.mean#2").float_data, vec![0.0; 6]);
    assert_eq!(initializer(&onnx, "one#2").float_data, [1.0]);
    assert_eq!(
        initializer(&onnx, "classes#2").string_data,
        [b"no".to_vec(), b"yes".to_vec()]
    );
    // Every name a node reads is defined (an input, a constant or an earlier node's output).
    let mut known: std::collections::HashSet<&str> = inputs
        .iter()
        .copied()
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .collect();
    for n in &graph.node {
        assert!(n.input.iter().all(|i| known.contains(i.as_str())), "{n:?}");
        known.extend(n.output.iter().map(String::as_str));
    }

    let mut clash = preprocess.clone();
    clash.columns[0].name = "label".into();
    let m = table_model(&clash, Task::Classification);
    let error = to_onnx_with(&m, Some(&clash)).unwrap_err().to_string();
    assert!(error.contains("column 'label' is that of an output"), "{error}");
    // A regressor has no output `label`.
    let m = table_model(&clash, Task::Regression);
    assert!(to_onnx_with(&m, Some(&clash)).is_ok());
    clash.columns[1].name = "label".into();
    let m = table_model(&clash, Task::Regression);
    let error = to_onnx_with(&m, Some(&clash)).unwrap_err().to_string();
    assert!(error.contains("column 'label' is repeated"), "{error}");
}
