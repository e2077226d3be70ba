//! A comparison as files: `index.html` and `report.md` with the tables, and SVG charts.

use super::{table, Comparison, EpochFigures, Run};
use crate::plot::{activation_chart, Chart, Series};
use crate::report::{file_stem, Figure, Page, ReportFile, Section, Table};
use crate::{Activation, Result, Task};

/// Range of `x` in the charts of the activation functions.
const FUNCTION_RANGE: (f64, f64) = (-5.0, 5.0);

/// Renders `comparison` as files to put in one directory: `index.html` (the page, which
/// links the charts), `report.md` (the same in Markdown) and the charts as SVG: training loss
/// and accuracy per epoch, each activation with its derivative, dead and saturated shares per
/// hidden layer per epoch, and the gradient ratio per epoch. Curves over several seeds are the
/// mean of the seeds. `title` heads the page; `settings` are listed under it (data, network,
/// training).
///
/// # Errors
/// [`crate::Error::Plot`] if a chart cannot be drawn.
pub fn report(comparison: &Comparison, title: &str, settings: &[String]) -> Result<Vec<ReportFile>> {
    let mut files = Vec::new();
    let seeds = comparison.summaries.first().map_or(1, |s| s.runs);
    let of_seeds = if seeds > 1 {
        format!(" (mean of {seeds} seeds)")
    } else {
        String::new()
    };
    let chart_sections = [
        ("Training curves", training_curves(comparison, &of_seeds, &mut files)?),
        (
            "Activation functions and their derivatives",
            function_figures(comparison, &mut files)?,
        ),
        (
            "Dead and saturated units",
            unit_figures(comparison, &of_seeds, &mut files)?,
        ),
        (
            "Gradient flow",
            vec![Figure::chart(
                &mut files,
                "gradient-ratio.svg".into(),
                &gradient_chart(comparison, &of_seeds),
            )?],
        ),
    ];

    let mut sections = vec![Section {
        heading: "Results".into(),
        tables: vec![Table::new(table(comparison))],
        notes: super::notes(comparison),
        ..Section::default()
    }];
    sections.extend(chart_sections.into_iter().map(|(heading, figures)| Section {
        heading: heading.into(),
        figures,
        ..Section::default()
    }));
    sections.push(Section {
        heading: "Every run".into(),
        tables: vec![Table::new(run_table(comparison))],
        ..Section::default()
    });
    let page = Page {
        title: title.into(),
        settings: settings.to_vec(),
        sections,
    };
    files.extend(page.files());
    Ok(files)
}

/// The training loss per epoch and, for a classification, the training accuracy.
fn training_curves(comparison: &Comparison, of_seeds: &str, files: &mut Vec<ReportFile>) -> Result<Vec<Figure>> {
    let mut curves = vec![Figure::chart(
        files,
        "loss.svg".into(),
        &loss_chart(comparison, of_seeds),
    )?];
    if comparison.task == Task::Classification {
        let chart = accuracy_chart(comparison, of_seeds);
        curves.push(Figure::chart(files, "accuracy.svg".into(), &chart)?);
    }
    Ok(curves)
}

fn loss_chart(comparison: &Comparison, of_seeds: &str) -> Chart {
    Chart {
        title: format!("Training loss{of_seeds}"),
        x_label: "epoch".into(),
        y_label: "training loss (log scale)".into(),
        series: per_activation(comparison, |e| Some(e.train_loss)),
        log_y: true,
        y_range: None,
    }
}

/// The training accuracy per epoch, with the target accuracy as a dashed line if there is one.
fn accuracy_chart(comparison: &Comparison, of_seeds: &str) -> Chart {
    let mut series = per_activation(comparison, |e| e.train_accuracy);
    if let Some(t) = comparison.target_accuracy {
        series.push(Series {
            name: format!("target {t:.2}"),
            points: vec![(1.0, t), (comparison.epochs.max(2) as f64, t)],
            dashed: true,
            color: Some(7),
        });
    }
    Chart {
        title: format!("Training accuracy{of_seeds}"),
        x_label: "epoch".into(),
        y_label: "training accuracy".into(),
        series,
        ..Chart::default()
    }
}

/// One chart per activation: the function and its derivative.
fn function_figures(comparison: &Comparison, files: &mut Vec<ReportFile>) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for (i, s) in comparison.summaries.iter().enumerate() {
        let file = format!("activation-{}.svg", file_stem(&s.activation.to_string()));
        figures.push(Figure::chart(files, file, &function_chart(s.activation, i)?)?);
    }
    Ok(figures)
}

/// `activation` and its derivative, both in the activation's colour (number `color`), as in
/// the other charts.
fn function_chart(activation: Activation, color: usize) -> Result<Chart> {
    let mut chart = activation_chart(&[activation], FUNCTION_RANGE, true)?;
    chart.series[1].name = "derivative".into();
    chart.series[0].name = "function".into();
    chart.series.iter_mut().for_each(|series| series.color = Some(color));
    Ok(chart)
}

/// For every hidden layer, the share of dead units per epoch and, if any activation saturates,
/// the share of saturated activations.
fn unit_figures(comparison: &Comparison, of_seeds: &str, files: &mut Vec<ReportFile>) -> Result<Vec<Figure>> {
    let hidden = comparison
        .runs
        .iter()
        .map(|r| r.history.first().map_or(0, |e| e.layers.len()))
        .max()
        .unwrap_or(0);
    let mut units = Vec::new();
    for layer in 0..hidden {
        let n = layer + 1;
        let chart = dead_chart(comparison, layer, of_seeds);
        units.push(Figure::chart(files, format!("dead-layer-{n}.svg"), &chart)?);
        if let Some(chart) = saturated_chart(comparison, layer, of_seeds) {
            units.push(Figure::chart(files, format!("saturated-layer-{n}.svg"), &chart)?);
        }
    }
    Ok(units)
}

/// The share of dead units in hidden layer `layer` (from 0) per epoch.
fn dead_chart(comparison: &Comparison, layer: usize, of_seeds: &str) -> Chart {
    let dead = per_activation(comparison, |e| e.layers.get(layer).map(|l| 100.0 * l.dead_fraction));
    Chart {
        title: format!("Dead units in hidden layer {}{of_seeds}", layer + 1),
        x_label: "epoch".into(),
        y_label: "dead units (%)".into(),
        y_range: Some(percent_range(&dead)),
        series: dead,
        ..Chart::default()
    }
}

/// The share of saturated activations in hidden layer `layer` (from 0) per epoch; `None` if no
/// activation saturates.
fn saturated_chart(comparison: &Comparison, layer: usize, of_seeds: &str) -> Option<Chart> {
    let saturated = per_activation(comparison, |e| {
        e.layers
            .get(layer)
            .and_then(|l| l.saturated_fraction.map(|s| 100.0 * s))
    });
    (!saturated.is_empty()).then(|| Chart {
        title: format!("Saturated activations in hidden layer {}{of_seeds}", layer + 1),
        x_label: "epoch".into(),
        y_label: "f′(z) < 1 % of its maximum (%)".into(),
        y_range: Some(percent_range(&saturated)),
        series: saturated,
        ..Chart::default()
    })
}

fn gradient_chart(comparison: &Comparison, of_seeds: &str) -> Chart {
    Chart {
        title: format!("Gradient norm, first layer / last layer{of_seeds}"),
        x_label: "epoch".into(),
        y_label: "ratio (log scale)".into(),
        series: per_activation(comparison, |e| Some(e.gradient_ratio)),
        log_y: true,
        y_range: None,
    }
}

/// One series per activation (those with at least one point), each the mean over its seeds
/// of `figure` at every epoch.
fn per_activation(comparison: &Comparison, figure: impl Fn(&EpochFigures) -> Option<f64>) -> Vec<Series> {
    comparison
        .summaries
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let runs: Vec<&Run> = comparison
                .runs
                .iter()
                .filter(|r| r.activation == s.activation)
                .collect();
            let epochs = runs.iter().map(|r| r.history.len()).max().unwrap_or(0);
            let points: Vec<(f64, f64)> = (0..epochs)
                .filter_map(|e| {
                    let values: Vec<f64> = runs.iter().filter_map(|r| r.history.get(e).and_then(&figure)).collect();
                    (!values.is_empty()).then(|| ((e + 1) as f64, values.iter().sum::<f64>() / values.len() as f64))
                })
                .collect();
            (!points.is_empty()).then(|| Series {
                color: Some(i),
                ..Series::new(s.activation.to_string(), points)
            })
        })
        .collect()
}

/// A vertical range for percentages: from 0 to a little above the largest value (at least 1 %),
/// with room below 0 so that a line at 0 is not hidden by the axis.
fn percent_range(series: &[Series]) -> (f64, f64) {
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .fold(1.0, f64::max)
        .min(100.0);
    let high = if max >= 95.0 { 100.0 } else { max * 1.08 };
    (-0.03 * high, high * 1.02)
}

/// Every run: activation, seed, scores, epochs to target, time and unit figures.
fn run_table(c: &Comparison) -> Vec<Vec<String>> {
    let score = match c.task {
        Task::Classification => "acc",
        Task::Regression => "R²",
    };
    let mut rows = vec![[
        "activation",
        "seed",
        &format!("train {score}"),
        &format!("test {score}"),
        "train loss",
        "test loss",
        "epochs to target",
        "time s",
        "dead %",
        "saturated %",
        "grad first/last",
        "note",
    ]
    .map(String::from)
    .to_vec()];
    let num = |x: Option<f64>, decimals: usize| x.map_or("–".into(), |x| format!("{x:.decimals$}"));
    for r in &c.runs {
        rows.push(vec![
            r.activation.to_string(),
            r.seed.to_string(),
            num(r.train_score(), 4),
            num(r.test_score(), 4),
            num(r.train_loss, 4),
            num(r.test_loss, 4),
            r.epochs_to_target
                .map_or(if c.target_accuracy.is_some() { "never" } else { "–" }.into(), |e| {
                    e.to_string()
                }),
            format!("{:.3}", r.seconds),
            format!("{:.1}", 100.0 * r.dead_fraction),
            num(r.saturated_fraction.map(|s| 100.0 * s), 1),
            super::ratio(r.gradient_ratio),
            r.error.clone().unwrap_or_default(),
        ]);
    }
    if c.runs.iter().all(|r| r.error.is_none()) {
        rows.iter_mut().for_each(|row| {
            row.pop();
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{compare, CompareConfig};
    use crate::data::{builtin, SyntheticOptions};
    use crate::model::FitConfig;
    use crate::plot::tests::has_text;
    use crate::report::GENERATOR;
    use crate::train::TrainConfig;
    use crate::Activation;

    #[test]
    fn the_report_has_the_page_the_markdown_and_every_chart() {
        let options = SyntheticOptions {
            samples: Some(100),
            noise: None,
            seed: 0,
        };
        let data = builtin("xor", &options).unwrap().train;
        let config = CompareConfig {
            activations: vec![Activation::Relu, "leaky_relu:0.2".parse().unwrap(), Activation::Sigmoid],
            seeds: vec![0, 1],
            fit: FitConfig {
                hidden: vec![8, 8],
                train: TrainConfig {
                    epochs: Some(5),
                    ..TrainConfig::default()
                },
                ..FitConfig::default()
            },
            target_accuracy: None,
        };
        let c = compare(&data, &data, &config, |_| {}).unwrap();
        let files = report(&c, "xor <test>", &["data: xor".into()]).unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        for name in [
            "index.html",
            "report.md",
            "loss.svg",
            "accuracy.svg",
            "activation-relu.svg",
            "activation-leaky_relu-0.2.svg",
            "activation-sigmoid.svg",
            "dead-layer-1.svg",
            "dead-layer-2.svg",
            "saturated-layer-1.svg",
            "saturated-layer-2.svg",
            "gradient-ratio.svg",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let text =
            |name: &str| String::from_utf8(files.iter().find(|f| f.name == name).unwrap().contents.clone()).unwrap();
        let page = text("index.html");
        assert!(page.contains(GENERATOR));
        assert!(page.contains("<h1>xor &lt;test&gt;</h1>"));
        // Every SVG is shown on the page and in the Markdown.
        let md = text("report.md");
        for name in names.iter().filter(|n| n.ends_with(".svg")) {
            assert!(page.contains(&format!("src=\"{name}\"")), "{name}");
            assert!(md.contains(&format!("({name})")), "{name}");
        }
        // The summary table has one row per activation; the run table one per run.
        assert_eq!(page.matches("<tr>").count(), 1 + 3 + 1 + 6);
        assert!(md.contains("| activation | train acc | test acc |"));
        // Saturation is drawn only for sigmoid, dead units for all three.
        let saturated = text("saturated-layer-1.svg");
        assert!(has_text(&saturated, "sigmoid") && !has_text(&saturated, "relu"));
        let dead = text("dead-layer-2.svg");
        assert!(has_text(&dead, "relu") && has_text(&dead, "leaky_relu:0.2") && has_text(&dead, "sigmoid"));
        assert!(text("accuracy.svg").contains("target"));
    }
}
