//! Names: the list, printing and parsing round trips, aliases, suggestions, bad parameters.

use crate::activation::testing::*;
use crate::activation::Activation::{self, *};
use crate::Error;

#[test]
fn all_lists_every_variant_once() {
    let names: Vec<String> = Activation::ALL.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        names.join(" "),
        "identity sigmoid tanh relu leaky_relu elu selu gelu gelu:tanh silu softplus mish \
         softsign relu6 hard_sigmoid hard_swish prelu softmax"
    );
    assert!(Activation::ALL.iter().filter(|a| a.is_output_only()).eq([&Softmax]));
}

#[test]
fn names_round_trip_through_display_from_str_and_serde() {
    let extra = [
        LeakyRelu { negative_slope: 0.2 },
        LeakyRelu { negative_slope: -0.3 },
        LeakyRelu { negative_slope: 1e-7 },
        Elu { alpha: 0.5 },
        Softplus {
            beta: 2.0,
            threshold: 20.0,
        },
        Softplus {
            beta: 2.0,
            threshold: 10.0,
        },
        Softplus {
            beta: 1.0,
            threshold: 10.0,
        },
        Softplus {
            beta: 0.1,
            threshold: INF,
        },
        Prelu { init: 0.1 },
        Prelu { init: 1.0 / 3.0 },
    ];
    for act in Activation::ALL.into_iter().chain(extra) {
        let text = act.to_string();
        assert_eq!(text.parse::<Activation>().unwrap(), act, "{text}");
        let json = serde_json::to_string(&act).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<Activation>(&json).unwrap(), act, "{json}");
    }
    let shown = |a: Activation| a.to_string();
    assert_eq!(shown(LeakyRelu { negative_slope: 0.2 }), "leaky_relu:0.2");
    assert_eq!(shown(LeakyRelu { negative_slope: 0.01 }), "leaky_relu");
    assert_eq!(
        shown(Softplus {
            beta: 2.0,
            threshold: 20.0
        }),
        "softplus:2"
    );
    assert_eq!(
        shown(Softplus {
            beta: 2.0,
            threshold: 10.0
        }),
        "softplus:2:10"
    );
    assert_eq!(
        shown(Softplus {
            beta: 1.0,
            threshold: 10.0
        }),
        "softplus:1:10"
    );
    assert_eq!(shown(Elu { alpha: 0.5 }), "elu:0.5");
    assert_eq!(format!("{:>8}|{:<6}|", Relu, Tanh), "    relu|tanh  |");
}

#[test]
fn parsing_accepts_parameters_aliases_and_spellings() {
    let parse = |s: &str| s.parse::<Activation>().unwrap();
    assert_eq!(parse("leaky_relu:0.2"), LeakyRelu { negative_slope: 0.2 });
    assert_eq!(parse("leaky_relu:-0.1"), LeakyRelu { negative_slope: -0.1 });
    assert_eq!(parse("Leaky-ReLU"), LeakyRelu { negative_slope: 0.01 });
    assert_eq!(parse("elu"), Elu { alpha: 1.0 });
    assert_eq!(parse("elu:0.5"), Elu { alpha: 0.5 });
    assert_eq!(parse("gelu"), Gelu);
    assert_eq!(parse("gelu:erf"), Gelu);
    assert_eq!(parse("GELU:Tanh"), GeluTanh);
    assert_eq!(
        parse("softplus"),
        Softplus {
            beta: 1.0,
            threshold: 20.0
        }
    );
    assert_eq!(
        parse("softplus:2"),
        Softplus {
            beta: 2.0,
            threshold: 20.0
        }
    );
    assert_eq!(
        parse("softplus:2:10"),
        Softplus {
            beta: 2.0,
            threshold: 10.0
        }
    );
    assert_eq!(parse("prelu"), Prelu { init: 0.25 });
    assert_eq!(parse("prelu:0.1"), Prelu { init: 0.1 });
    assert_eq!(parse("linear"), Identity);
    assert_eq!(parse("none"), Identity);
    assert_eq!(parse("logistic"), Sigmoid);
    assert_eq!(parse("Swish"), Silu);
    assert_eq!(parse(" hard-swish "), HardSwish);
    assert_eq!(parse("HARD_SIGMOID"), HardSigmoid);
    assert_eq!(parse("relu6"), Relu6);
}

fn unknown(s: &str) -> (Option<String>, String) {
    match s.parse::<Activation>() {
        Err(Error::UnknownActivation {
            name,
            suggestion,
            valid,
        }) => {
            assert_eq!(name, s.trim());
            (suggestion, valid)
        }
        other => panic!("{s}: {other:?}"),
    }
}

#[test]
fn unknown_names_suggest_the_closest_one() {
    assert_eq!(unknown("relu5").0.as_deref(), Some("relu6"));
    assert_eq!(unknown("sigmoyd").0.as_deref(), Some("sigmoid"));
    assert_eq!(unknown("tahn").0.as_deref(), Some("tanh"));
    assert_eq!(unknown("leakyrelu:0.3").0.as_deref(), Some("leaky_relu"));
    assert_eq!(unknown("swich").0.as_deref(), Some("swish"));
    assert_eq!(unknown("Hard-Swich").0.as_deref(), Some("hard_swish"));
    assert_eq!(unknown("xyzzy").0, None);
    assert_eq!(unknown("").0, None);
    let valid = unknown("relu5").1;
    for act in Activation::ALL {
        assert!(valid.split(", ").any(|v| v == act.to_string()), "{act} not in {valid}");
    }
    let message = "relu5".parse::<Activation>().unwrap_err().to_string();
    assert!(
        message.starts_with("unknown activation 'relu5' (did you mean 'relu6'?); valid names: identity, sigmoid"),
        "{message}"
    );
}

#[test]
fn bad_parameters_are_config_errors_naming_the_parameter() {
    let config_error = |s: &str| match s.parse::<Activation>() {
        Err(Error::Config(message)) => message,
        other => panic!("{s}: {other:?}"),
    };
    assert!(config_error("leaky_relu:abc").contains("negative_slope"));
    assert!(config_error("leaky_relu:").contains("negative_slope"));
    assert!(config_error("leaky_relu:nan").contains("negative_slope"));
    assert!(config_error("elu:inf").contains("alpha"));
    assert!(config_error("elu:-1").contains("alpha"));
    assert!(config_error("prelu:x").contains("init"));
    assert!(config_error("softplus:0").contains("beta"));
    assert!(config_error("softplus:2:-1").contains("threshold"));
    assert!(config_error("softplus:1:2:3").contains("at most 2"));
    assert!(config_error("relu:1").contains("no parameters"));
    assert!(config_error("gelu:fast").contains("tanh"));
    assert_eq!(
        "softplus:1:inf".parse::<Activation>().unwrap(),
        Softplus {
            beta: 1.0,
            threshold: INF
        }
    );
}
