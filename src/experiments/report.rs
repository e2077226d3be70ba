//! Experiment results as files: `index.html` and `report.md` with a summary, each claim's
//! measurements and verdict, and its charts as SVG.

use super::{format_measurement, headline, Curve, ExperimentResult};
use crate::plot::{activation_chart, Chart, Series};
use crate::report::{file_stem, Figure, Page, ReportFile, Section, Table};
use crate::{Activation, Result};

/// Range of `x` in the charts of the activation functions.
const FUNCTION_RANGE: (f64, f64) = (-5.0, 5.0);

/// Renders `results` as files to put in one directory: `index.html` (the page, which links the
/// charts), `report.md` (the same in Markdown) and the charts as SVG.
///
/// The page starts with a summary table (claim, verdict, seconds) and has one section per
/// experiment: its claim, the criterion, the measurements, the notes and the charts — one per
/// quantity of its [`series`](ExperimentResult::series) (see [`Curve`]), and, where the claim
/// is about the shape of the functions, the activation functions it compares (with their
/// derivatives where those make the point). `title` heads the page; `settings` are listed
/// under it.
///
/// # Errors
/// [`crate::Error::Plot`] if a chart cannot be drawn.
pub fn report(results: &[ExperimentResult], title: &str, settings: &[String]) -> Result<Vec<ReportFile>> {
    let mut files = Vec::new();
    let mut summary = vec![["#", "claim", "verdict", "seconds"].map(String::from).to_vec()];
    let mut sections = Vec::new();
    for r in results {
        summary.push(vec![
            r.id.to_string(),
            headline(&r.claim).into(),
            verdict(r).into(),
            format!("{:.2}", r.seconds),
        ]);
        let mut colours = Vec::new();
        let mut figures = Vec::new();
        for chart in charts(&r.series, &mut colours) {
            let file = format!("experiment-{}-{}.svg", r.id, file_stem(&chart.title.to_lowercase()));
            figures.push(Figure::chart(&mut files, file, &chart)?);
        }
        if let Some(chart) = function_chart(r, &mut colours)? {
            figures.push(Figure::chart(
                &mut files,
                format!("experiment-{}-functions.svg", r.id),
                &chart,
            )?);
        }
        let mut measurements = vec![vec!["measurement".to_string(), "value".to_string()]];
        measurements.extend(
            r.measurements
                .iter()
                .map(|(name, &value)| vec![name.clone(), format_measurement(value)]),
        );
        sections.push(Section {
            heading: format!("{}. {}: {}", r.id, headline(&r.claim), verdict(r)),
            paragraphs: vec![format!("Claim: {}", r.claim), format!("Criterion: {}", r.criterion)],
            tables: vec![Table::new(measurements)],
            notes: r.notes.iter().cloned().collect(),
            figures,
        });
    }
    sections.insert(
        0,
        Section {
            heading: "Summary".into(),
            tables: vec![Table {
                rows: summary,
                text_columns: 3,
            }],
            ..Section::default()
        },
    );
    let page = Page {
        title: title.into(),
        settings: settings.to_vec(),
        sections,
    };
    files.extend(page.files());
    Ok(files)
}

fn verdict(r: &ExperimentResult) -> &'static str {
    if r.holds {
        "✓ holds"
    } else {
        "✗ does not hold"
    }
}

/// The palette index of `name` among `names`, added if new: a label keeps its colour in
/// every chart of an experiment.
fn colour(names: &mut Vec<String>, name: &str) -> usize {
    names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.into());
        names.len() - 1
    })
}

/// One chart per quantity and horizontal axis, in the order the curves first name them, with
/// one line per curve (in its label's colour from `colours`); logarithmic when the curves ask
/// for it.
fn charts(curves: &[Curve], colours: &mut Vec<String>) -> Vec<Chart> {
    let mut charts: Vec<(&Curve, Chart)> = Vec::new();
    for curve in curves {
        let series = Series {
            color: Some(colour(colours, &curve.label)),
            ..Series::new(curve.label.clone(), curve.points.clone())
        };
        match charts
            .iter_mut()
            .find(|(first, _)| first.quantity == curve.quantity && first.x == curve.x)
        {
            Some((_, chart)) => chart.series.push(series),
            None => {
                let mut title = format!("{} by {}", curve.quantity, curve.x);
                title[..1].make_ascii_uppercase();
                charts.push((
                    curve,
                    Chart {
                        title,
                        x_label: curve.x.to_string(),
                        y_label: if curve.log_y {
                            format!("{} (log scale)", curve.quantity)
                        } else {
                            curve.quantity.clone()
                        },
                        series: vec![series],
                        log_y: curve.log_y,
                        y_range: None,
                    },
                ))
            }
        }
    }
    charts.into_iter().map(|(_, chart)| chart).collect()
}

/// The activation functions a claim is about, where their curves show why it holds: the
/// derivatives of those whose gradients it compares, the ranges of the hidden functions whose
/// outputs it compares, and the output functions beside the targets' range.
fn function_chart(r: &ExperimentResult, colours: &mut Vec<String>) -> Result<Option<Chart>> {
    use Activation::{Identity, Relu, Sigmoid, Tanh};
    let (functions, derivatives, title) = match r.id {
        2 => (
            vec![Sigmoid, Relu],
            true,
            "Derivatives: sigmoid′ ≤ 0.25, relu′ = 1 for x > 0",
        ),
        3 => (
            vec![Sigmoid, Tanh],
            false,
            "Sigmoid's outputs centre on 0.5, tanh's on 0",
        ),
        4 => (
            vec![Tanh, Sigmoid],
            true,
            "Derivatives: tanh′ peaks at 1, sigmoid′ at 0.25",
        ),
        5 => (
            vec![Relu, Tanh, Sigmoid],
            true,
            "Derivatives: relu′ = 1 for every x > 0",
        ),
        8 => (
            vec![Identity, Relu, Sigmoid, Tanh],
            false,
            "Output functions and the targets' range",
        ),
        _ => return Ok(None),
    };
    let targets = match (r.measurements.get("targets_min"), r.measurements.get("targets_max")) {
        (Some(&low), Some(&high)) => Some((low, high)),
        _ => None,
    };
    let range = targets.map_or(FUNCTION_RANGE, |(_, high)| (-2.0, high.ceil() + 1.0));
    let mut chart = activation_chart(&functions, range, derivatives)?;
    if derivatives {
        // The derivatives alone: next to relu's line they would be squeezed flat.
        chart.series.retain(|s| s.dashed);
        chart.series.iter_mut().for_each(|s| s.dashed = false);
        chart.y_label = "f′(x)".into();
    }
    for series in &mut chart.series {
        series.color = Some(colour(colours, series.name.trim_end_matches('′')));
    }
    if let Some((low, high)) = targets {
        // Two dashed lines, one legend entry: a non-finite point breaks the line.
        let (a, b) = range;
        chart.series.push(Series {
            name: format!("targets {low:.2} to {high:.2}"),
            points: vec![(a, low), (b, low), (b, f64::NAN), (a, high), (b, high)],
            dashed: true,
            color: Some(7),
        });
    }
    chart.title = title.into();
    Ok(Some(chart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::Axis;
    use crate::plot::tests::has_text;

    fn curve(quantity: &str, x: Axis, label: &str, log_y: bool) -> Curve {
        Curve {
            quantity: quantity.into(),
            x,
            label: label.into(),
            log_y,
            points: vec![(1.0, 0.5), (2.0, 0.25)],
        }
    }

    #[test]
    fn curves_are_grouped_into_one_chart_per_quantity_and_axis() {
        let curves = [
            curve("gradient norm at init", Axis::Layer, "sigmoid", true),
            curve("first / last layer gradient norm", Axis::Epoch, "sigmoid", true),
            curve("gradient norm at init", Axis::Layer, "relu", true),
            curve("first / last layer gradient norm", Axis::Epoch, "relu", true),
            curve("training accuracy", Axis::Epoch, "relu", false),
            curve("training accuracy", Axis::Layer, "relu", false),
        ];
        let mut colours = Vec::new();
        let charts = charts(&curves, &mut colours);
        let titles: Vec<&str> = charts.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Gradient norm at init by layer",
                "First / last layer gradient norm by epoch",
                "Training accuracy by epoch",
                "Training accuracy by layer",
            ]
        );
        let labels = |c: &Chart| c.series.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(labels(&charts[0]), ["sigmoid", "relu"]);
        assert_eq!(labels(&charts[1]), ["sigmoid", "relu"]);
        assert_eq!(labels(&charts[2]), ["relu"]);
        assert!(charts[0].log_y && !charts[2].log_y);
        assert_eq!(charts[0].x_label, "layer");
        assert_eq!(charts[0].y_label, "gradient norm at init (log scale)");
        assert_eq!(charts[2].y_label, "training accuracy");
        // A label keeps its colour across the charts.
        let colour_of = |c: &Chart, name: &str| c.series.iter().find(|s| s.name == name).unwrap().color;
        assert_eq!(colour_of(&charts[0], "relu"), colour_of(&charts[1], "relu"));
        assert_eq!(colour_of(&charts[0], "relu"), colour_of(&charts[2], "relu"));
        assert_ne!(colour_of(&charts[0], "relu"), colour_of(&charts[0], "sigmoid"));
        assert_eq!(colours, ["sigmoid", "relu"]);
    }

    #[test]
    fn the_report_has_a_summary_a_section_per_experiment_and_the_charts() {
        let results: Vec<ExperimentResult> = [2, 8]
            .iter()
            .map(|&id| {
                super::super::find(id)
                    .unwrap()
                    .run(super::super::Budget::Quick)
                    .unwrap()
            })
            .collect();
        let files = report(&results, "experiments <quick>", &["quick versions".into()]).unwrap();
        let text = |name: &str| {
            String::from_utf8(
                files
                    .iter()
                    .find(|f| f.name == name)
                    .unwrap_or_else(|| panic!("no {name}"))
                    .contents
                    .clone(),
            )
            .unwrap()
        };
        let page = text("index.html");
        assert!(page.contains(crate::report::GENERATOR));
        assert!(page.contains("<h1>experiments &lt;quick&gt;</h1>"));
        // Summary: header + 2 rows; measurements: header + one row per measurement.
        let rows = 3 + results.iter().map(|r| 1 + r.measurements.len()).sum::<usize>();
        assert_eq!(page.matches("<tr>").count(), rows);
        assert!(page.contains("Sigmoid saturates and kills gradients"));
        assert!(page.contains("Criterion: first/last layer gradient-norm ratio"));
        let md = text("report.md");
        let svgs: Vec<&str> = files
            .iter()
            .map(|f| f.name.as_str())
            .filter(|n| n.ends_with(".svg"))
            .collect();
        assert_eq!(
            svgs,
            [
                "experiment-2-gradient-norm-at-init-by-layer.svg",
                "experiment-2-first-last-layer-gradient-norm-by-epoch.svg",
                "experiment-2-functions.svg",
                "experiment-8-functions.svg",
            ]
        );
        for svg in &svgs {
            assert!(page.contains(&format!("src=\"{svg}\"")), "{svg}");
            assert!(md.contains(&format!("({svg})")), "{svg}");
        }
        let gradients = text(svgs[0]);
        assert!(has_text(&gradients, "sigmoid") && has_text(&gradients, "relu"));
        let outputs = text(svgs[3]);
        let (low, high) = (
            results[1].measurements["targets_min"],
            results[1].measurements["targets_max"],
        );
        assert!(has_text(&outputs, "tanh") && has_text(&outputs, &format!("targets {low:.2} to {high:.2}")));
        // The gradient claims show the derivatives alone.
        let derivatives = text(svgs[2]);
        assert!(has_text(&derivatives, "sigmoid′") && !has_text(&derivatives, "sigmoid"));
    }
}
