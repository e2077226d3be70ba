use prost::Message;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::proto::{DimensionValue, ModelProto, NodeProto, TensorProto, FLOAT, INT64, STRING};
use super::{to_onnx, to_onnx_with, IR_VERSION, OPSET};
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
    let numeric = |name: &str, median: f32, indicator: bool| ColumnPlan {
        name: name.into(),
        encoding: Encoding::Numeric { median, indicator },
    };
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

    preprocess.columns[3] = ColumnPlan {
        name: "c".into(),
        encoding: Encoding::Categorical {
            categories: vec!["x".into()],
            other: vec![],
            missing: false,
        },
    };
    let error = to_onnx_with(&m, Some(&preprocess)).unwrap_err().to_string();
    assert!(error.contains("text column 'c'"), "{error}");
    // A preprocessing that does not make the model's features is refused.
    preprocess.columns.truncate(2);
    assert!(to_onnx_with(&m, Some(&preprocess)).is_err());
}
