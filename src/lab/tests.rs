use super::*;
use crate::model::{fit, FitConfig, Scaling};

fn config(data: Shape) -> LabConfig {
    LabConfig {
        data,
        ..LabConfig::default()
    }
}

fn session(config: LabConfig) -> Session {
    let data = LabData::generate(&config).unwrap();
    Session::new(config, data).unwrap()
}

#[test]
fn data_sets_split_and_features() {
    for shape in [
        Shape::Circle,
        Shape::Xor,
        Shape::Gauss,
        Shape::Spiral,
        Shape::Moons,
        Shape::Plane,
        Shape::MultiGauss,
    ] {
        let mut c = config(shape);
        c.samples = 200;
        c.train_ratio = 0.7;
        c.features = Feature::ALL.to_vec();
        let data = LabData::generate(&c).unwrap();
        assert_eq!(data.train.len() + data.test.len(), 200, "{shape:?}");
        assert!(
            (135..=145).contains(&data.train.len()),
            "{shape:?}: {}",
            data.train.len()
        );
        assert_eq!(
            data.train.feature_names,
            ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]
        );
        let [x_low, x_high, y_low, y_high] = data.domain.unwrap();
        for (row, p) in data
            .train
            .x
            .iter_rows()
            .chain(data.test.x.iter_rows())
            .zip(&data.points)
        {
            let [a, b] = *p;
            assert_eq!(row, [a, b, a * a, b * b, a * b, a.sin(), b.sin()]);
            assert!((x_low..=x_high).contains(&a) && (y_low..=y_high).contains(&b));
        }
        let classes = match &data.train.target {
            Target::Classes { classes, .. } => classes.len(),
            Target::Values(_) => 0,
            Target::None => unreachable!(),
        };
        let expected = match shape {
            Shape::Plane => 0,
            Shape::MultiGauss => 3,
            _ => 2,
        };
        assert_eq!(classes, expected, "{shape:?}");
    }
}

#[test]
fn generated_sets_have_their_shape() {
    let mut c = config(Shape::Plane);
    c.noise = 0.0;
    let data = LabData::generate(&c).unwrap();
    let Target::Values(y) = &data.train.target else {
        panic!()
    };
    for (row, &v) in data.train.x.iter_rows().zip(y) {
        assert!((v - (row[0] + row[1]) / 2.0).abs() < 1e-6);
        assert!(row[0].abs() <= 1.0 && row[1].abs() <= 1.0);
    }
    let mut c = config(Shape::MultiGauss);
    c.classes = 5;
    c.noise = 0.0;
    c.samples = 1000;
    let data = LabData::generate(&c).unwrap();
    let Target::Classes { labels, classes } = &data.train.target else {
        panic!()
    };
    assert_eq!(classes.len(), 5);
    // Each class's mean lies near its centre on the unit circle.
    for k in 0..5 {
        let rows: Vec<&[f32]> = data
            .train
            .x
            .iter_rows()
            .zip(labels)
            .filter(|(_, &l)| l == k)
            .map(|(r, _)| r)
            .collect();
        let mean_x = rows.iter().map(|r| r[0]).sum::<f32>() / rows.len() as f32;
        let mean_y = rows.iter().map(|r| r[1]).sum::<f32>() / rows.len() as f32;
        let angle = TAU * k as f32 / 5.0;
        assert!(
            (mean_x - angle.cos()).abs() < 0.1 && (mean_y - angle.sin()).abs() < 0.1,
            "class {k}"
        );
    }
}

#[test]
fn settings_out_of_range_are_named() {
    type Change = fn(&mut LabConfig);
    let cases: [(Change, &str); 6] = [
        (|c| c.hidden = vec![4; 7], "hidden"),
        (|c| c.hidden = vec![9], "hidden"),
        (|c| c.learning_rate = 0.0, "learning_rate"),
        (|c| c.batch_size = 0, "batch_size"),
        (|c| c.features.clear(), "features"),
        (|c| c.classes = 6, "classes"),
    ];
    for (change, name) in cases {
        let mut c = LabConfig::default();
        change(&mut c);
        match c.check() {
            Err(Error::Setting { field, .. }) => assert_eq!(field, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    let parsed: LabConfig = serde_json::from_str(r#"{"data":"xor","activations":["relu"],"hidden":[3]}"#).unwrap();
    assert_eq!(
        (parsed.data, parsed.hidden, parsed.activations[0]),
        (Shape::Xor, vec![3], Activation::Relu)
    );
    assert!(serde_json::from_str::<LabConfig>(r#"{"bogus":1}"#).is_err());
}

/// The lab trains as `fit` (and so `actlab train`) does: same weights after the same epochs,
/// however the epochs are split into steps, with L1 regularisation too.
#[test]
fn session_reproduces_fit() {
    for (shape, optimizer, l1) in [
        (Shape::Xor, OptimizerKind::Sgd, 0.0),
        (Shape::MultiGauss, OptimizerKind::Adam, 0.0),
        (Shape::Plane, OptimizerKind::Sgd, 0.0),
        (Shape::Xor, OptimizerKind::Sgd, 0.01),
        (Shape::MultiGauss, OptimizerKind::Adam, 0.003),
        (Shape::Circle, OptimizerKind::RmsProp, 0.003),
    ] {
        let mut c = config(shape);
        c.optimizer = optimizer;
        c.hidden = vec![5, 3];
        c.activations = vec![Activation::Relu, Activation::Tanh];
        c.l1 = l1;
        c.l2 = 0.001;
        c.seed = 7;
        let mut s = session(c.clone());
        s.step(3).unwrap();
        s.step(4).unwrap();
        assert_eq!(s.epoch(), 7);
        let fitted = fit(
            &s.data().train,
            &FitConfig {
                hidden: c.hidden.clone(),
                activations: c.activations.clone(),
                scaling: Some(Scaling::None),
                scale_target: false,
                train: TrainConfig {
                    epochs: Some(7),
                    ..c.train_config()
                },
                ..FitConfig::default()
            },
        )
        .unwrap();
        assert_eq!(
            s.model().mlp.params(),
            fitted.model.mlp.params(),
            "{shape:?} {optimizer} L1 {l1}"
        );
        assert_ne!(s.model().mlp.params(), session(c).model().mlp.params());
        assert!(
            s.command().contains(&format!(" --l1 {l1} --weight-decay 0.001 ")),
            "{}",
            s.command()
        );
        let mlp = &s.model().mlp;
        let zeros: usize = mlp
            .weight_ranges()
            .map(|r| mlp.params()[r].iter().filter(|&&w| w == 0.0).count())
            .sum();
        assert_eq!(zeros > 0, l1 > 0.0, "{shape:?} {optimizer} L1 {l1}: {zeros} zeros");
    }
}

#[test]
fn training_learns_the_circle() {
    let mut s = session(LabConfig::default());
    let before = s.frame();
    s.step(100).unwrap();
    let after = s.frame();
    assert_eq!(after.epoch, 100);
    assert!(
        after.train_loss < before.train_loss / 3.0,
        "{} → {}",
        before.train_loss,
        after.train_loss
    );
    assert!(after.test_score.unwrap() > 0.95, "{:?}", after.test_score);
    // One output heatmap and one per hidden neuron.
    assert_eq!(after.heatmaps.len(), GRID * GRID * (1 + 4 + 4));
    // The output heatmap agrees with the network's prediction at grid points.
    let [x_low, x_high, y_low, y_high] = s.data().domain.unwrap();
    for (col, row) in [(50, 50), (0, 0), (99, 30), (20, 80)] {
        let a = x_low + (x_high - x_low) * (col as f32 + 0.5) / GRID as f32;
        let b = y_high - (y_high - y_low) * (row as f32 + 0.5) / GRID as f32;
        let p = s
            .model()
            .mlp
            .predict(&Matrix::from_vec(1, 2, vec![a, b]))
            .unwrap()
            .as_slice()[0];
        assert_eq!(
            after.heatmaps[row * GRID + col],
            (p * 255.0).round() as u8,
            "({col}, {row})"
        );
    }
    // Inside the circle is class 1, far outside class 0.
    assert!(after.heatmaps[50 * GRID + 50] > 200 && after.heatmaps[0] < 55);
}

#[test]
fn frame_marks_dead_and_saturated_units() {
    let mut s = session(LabConfig {
        activations: vec![Activation::Relu, Activation::Sigmoid],
        ..LabConfig::default()
    });
    // Unit 2 of the first layer never fires; unit 0 of the second is pushed deep into saturation.
    let mlp = &mut s.model.mlp;
    let first = mlp.layer_range(0);
    let second = mlp.layer_range(1);
    mlp.params_mut()[first.start + 8 + 2] = -100.0;
    mlp.params_mut()[second.start + 16] = 50.0;
    let frame = s.frame();
    assert_eq!(frame.layers[0].dead, [false, false, true, false]);
    assert_eq!(frame.layers[0].saturated, [None; 4]);
    assert_eq!(frame.layers[1].saturated[0], Some(1.0));
    assert!(frame.layers[1].saturated[1].unwrap() < 0.5);
    assert_eq!(frame.layers[0].biases[2], -100.0);
    assert_eq!(frame.layers[0].weights.len(), 8);
    assert!(frame
        .layers
        .iter()
        .all(|l| l.grad_norm.is_finite() && l.histogram.len() == HISTOGRAM_BINS));
}

#[test]
fn divergence_stops_and_names_a_layer() {
    let mut c = config(Shape::Plane);
    c.activations = vec![Activation::Relu];
    c.hidden = vec![8, 8, 8];
    c.learning_rate = 10.0;
    let mut s = session(c);
    let error = s.step(50).unwrap_err().to_string();
    assert!(error.contains("layer"), "{error}");
    let why = s.diverged().unwrap().to_string();
    assert!(why.contains("smaller learning rate than 10"), "{why}");
    let epoch = s.epoch();
    assert!(s.step(1).is_err());
    assert_eq!(s.epoch(), epoch);
    assert_eq!(s.frame().diverged.as_deref(), Some(why.as_str()));
}

#[test]
fn l1_zeroes_weights() {
    let mut s = session(LabConfig {
        l1: 0.05,
        ..LabConfig::default()
    });
    s.step(20).unwrap();
    let mlp = &s.model().mlp;
    let zeros: usize = mlp
        .weight_ranges()
        .map(|r| mlp.params()[r].iter().filter(|&&w| w == 0.0).count())
        .sum();
    assert!(zeros >= 10, "{zeros} of 28 weights are 0");
}

#[test]
fn uploads_are_read_and_bounded() {
    let c = LabConfig::default();
    let mut text = String::from("a,b,class\n");
    for i in 0..40 {
        let (a, b) = (i as f32 / 10.0, (i % 7) as f32);
        text.push_str(&format!("{a},{b},{}\n", if a > 2.0 { "big" } else { "small" }));
    }
    let data = LabData::upload(text.as_bytes(), &c).unwrap();
    assert_eq!(data.train.len() + data.test.len(), 40);
    assert!(data.standardize && data.domain.is_some());
    let mut s = Session::new(c.clone(), data).unwrap();
    s.step(5).unwrap();
    assert_eq!(s.frame().heatmaps.len(), GRID * GRID * 9);
    assert_eq!(s.model().classes, ["big", "small"]);

    let three = "a,b,c,y\n1,2,3,0.5\n2,3,4,0.7\n3,4,5,0.1\n4,5,6,0.2\n5,6,7,0.9\n";
    let data = LabData::upload(three.as_bytes(), &c).unwrap();
    assert!(data.domain.is_none() && data.points.is_empty());
    let mut s = Session::new(c.clone(), data).unwrap();
    s.step(2).unwrap();
    assert!(s.frame().heatmaps.is_empty());

    let bad = LabData::upload(b"a,b,y\n1,2,0\n1,x,1\n", &c).unwrap_err().to_string();
    assert!(bad.starts_with("the uploaded CSV:3:2: column 'b'"), "{bad}");
    let many = format!("a,b,y\n{}", "1,2,0\n".repeat(MAX_UPLOAD_ROWS + 1));
    let error = LabData::upload(many.as_bytes(), &c).unwrap_err().to_string();
    assert!(
        error.contains("10001 data rows") && error.contains("at most 10000"),
        "{error}"
    );
    let huge = vec![b'1'; MAX_UPLOAD_BYTES + 1];
    let error = LabData::upload(&huge, &c).unwrap_err().to_string();
    assert!(error.contains("at most 2048 KiB"), "{error}");
}

#[test]
fn csv_and_model_round_trip() {
    let mut s = session(LabConfig {
        features: vec![Feature::X1, Feature::X2, Feature::X1Sq, Feature::SinX2],
        ..LabConfig::default()
    });
    s.step(3).unwrap();
    let text = s.csv(false);
    let read = crate::data::csv::parse_csv(text.as_bytes(), Path::new("lab-train.csv"), &Default::default()).unwrap();
    assert_eq!(read.x, s.data().train.x);
    assert_eq!(read.target, s.data().train.target);
    assert_eq!(read.feature_names, ["x1", "x2", "x1_sq", "sin_x2"]);
    assert_eq!(s.csv(true).lines().count(), s.data().test.len() + 1);
    let bytes = crate::model_io::to_safetensors(s.model()).unwrap();
    let model = crate::model_io::from_safetensors(&bytes, Path::new("lab.safetensors")).unwrap();
    assert_eq!(&model, s.model());
    let command = s.command();
    assert!(
        command.contains("--hidden 4,4 --activation tanh --optimizer sgd --lr 0.03 --batch-size 10")
            && command.contains("--epochs 3 --seed 0 --scaling none"),
        "{command}"
    );
}

#[test]
fn curves_span_the_histogram_range() {
    let [f, df] = curve(Activation::Relu, 33);
    assert_eq!((f.len(), df.len()), (33, 33));
    assert_eq!((f[0], f[16], f[32]), (0.0, 0.0, 8.0));
    assert_eq!((df[0], df[32]), (0.0, 1.0));
    let [f, df] = curve(Activation::Tanh, 3);
    assert_eq!(f, [(-8.0f32).tanh(), 0.0, 8.0f32.tanh()]);
    assert_eq!(df[1], 1.0);
}

/// A sigmoid output cannot reach the plane's negative targets: the loss stays high, where the
/// identity output fits them (the claim of `actlab experiments` on output ranges).
#[test]
fn output_activation_against_the_target_range() {
    let run = |output| {
        let mut s = session(LabConfig {
            data: Shape::Plane,
            noise: 0.0,
            output,
            ..LabConfig::default()
        });
        s.step(60).unwrap();
        (s.frame().test_loss, s.command())
    };
    let (identity, _) = run(None);
    let (sigmoid, command) = run(Some(Activation::Sigmoid));
    assert!(
        identity < 0.01 && sigmoid > 0.05,
        "identity {identity}, sigmoid {sigmoid}"
    );
    assert!(
        command.contains("--task regression --hidden 4,4 --activation tanh --output sigmoid "),
        "{command}"
    );
    let softmax = Session::new(
        LabConfig {
            output: Some(Activation::Softmax),
            ..LabConfig::default()
        },
        LabData::generate(&LabConfig::default()).unwrap(),
    );
    assert_eq!(
        softmax.unwrap().model().mlp.outputs(),
        2,
        "softmax over two classes has two outputs"
    );
}

#[test]
fn weights_set_by_hand() {
    let mut s = session(LabConfig::default());
    s.set_weight(0, 3, 1, 2.5).unwrap();
    s.set_weight(2, 0, 4, -1.5).unwrap();
    let frame = s.frame();
    // Layer 0 is 2 → 4: weight of neuron 3 from input 1 is at 3 * 2 + 1.
    assert_eq!(frame.layers[0].weights[7], 2.5);
    assert_eq!(frame.layers[2].biases, [-1.5]);
    assert!(s.command().starts_with("# weights were set by hand"));
    assert!(s.set_weight(3, 0, 0, 1.0).is_err());
    assert!(s.set_weight(0, 4, 0, 1.0).is_err());
    assert!(s.set_weight(0, 0, 3, 1.0).is_err());
    assert!(s.set_weight(0, 0, 0, f32::NAN).is_err());
    s.step(1).unwrap();
    assert_ne!(s.frame().layers[0].weights[7], 2.5, "training goes on from the edit");
}
