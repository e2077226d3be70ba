//! Line charts as SVG or PNG, drawn with [plotters](https://docs.rs/plotters).
//!
//! One small, generic description — a [`Chart`] of named [`Series`] of `(x, y)` points — and
//! two renderers: [`svg`] (text, for reports and browsers) and [`png()`] (pixels). The legend
//! sits in a panel right of the plot, so it never hides a curve. Text in PNG files is drawn
//! with the DejaVu Sans font built into the program (no system fonts are needed); SVG files
//! name the `sans-serif` family and leave the font to the viewer.
//!
//! Points whose `y` is not finite (or, on a logarithmic axis, not positive) are left out and
//! break the line there, so a curve with a pole or a diverged run still draws.
//!
//! ```
//! use actlab::plot::{svg, Chart, Series};
//!
//! let chart = Chart {
//!     title: "y = x²".into(),
//!     x_label: "x".into(),
//!     y_label: "y".into(),
//!     series: vec![Series::new("square", (-10..=10).map(|i| (i as f64, (i * i) as f64)).collect())],
//!     ..Chart::default()
//! };
//! let text = svg(&chart).unwrap();
//! assert!(text.starts_with("<svg") && text.contains("square"));
//! ```

use std::ops::Range;
use std::sync::Once;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Activation, Error, Result};

/// Width of a chart in pixels, legend panel included.
pub const WIDTH: u32 = 760;
/// Height of a chart in pixels.
pub const HEIGHT: u32 = 420;

/// Line colours, in series order (the Tableau 10 palette); series beyond ten reuse them.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

const FONT: &str = "sans-serif";

/// One named line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// `(x, y)` points, drawn in order.
    pub points: Vec<(f64, f64)>,
    /// Draw the line dashed (e.g. a derivative next to its function).
    pub dashed: bool,
    /// Index into [`PALETTE`]; `None` takes the series' position in the chart.
    pub color: Option<usize>,
}

impl Series {
    /// A solid line in the next free colour.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            dashed: false,
            color: None,
        }
    }
}

/// A line chart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Caption above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The lines, drawn in order and listed in the legend in order.
    pub series: Vec<Series>,
    /// Logarithmic vertical axis (for losses and gradient ratios).
    pub log_y: bool,
    /// Fixed vertical range `(low, high)`; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
}

/// Draws `chart` as an SVG document.
///
/// # Errors
/// [`Error::Plot`] when plotters fails (it does not for finite data).
pub fn svg(chart: &Chart) -> Result<String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(text)
}

/// Draws `chart` as a PNG image ([`WIDTH`] × [`HEIGHT`], RGB).
///
/// # Errors
/// [`Error::Plot`] when drawing or encoding fails.
pub fn png(chart: &Chart) -> Result<Vec<u8>> {
    register_font();
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart).map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    let mut bytes = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(plot_error)?;
    writer.write_image_data(&pixels).map_err(plot_error)?;
    writer.finish().map_err(plot_error)?;
    Ok(bytes)
}

/// A chart of `activations` over `x ∈ [low, high]`, and with `derivative` also each one's
/// derivative `f'` (dashed, in its function's colour, named with a prime: `tanh′`).
///
/// # Errors
/// [`Error::Config`] for softmax (a function of a whole row, not of one number) or an empty
/// or non-finite range.
pub fn activation_chart(activations: &[Activation], (low, high): (f64, f64), derivative: bool) -> Result<Chart> {
    const SAMPLES: usize = 600;
    if !(low.is_finite() && high.is_finite() && low < high) {
        return Err(Error::config(format!(
            "the range must be two finite numbers, low < high; got {low}, {high}"
        )));
    }
    let mut series = Vec::new();
    for (i, &a) in activations.iter().enumerate() {
        if a.is_output_only() {
            return Err(Error::config(format!(
                "{a} acts on a whole row of outputs, not on one number: it has no curve f(x)"
            )));
        }
        let xs = (0..=SAMPLES).map(|k| low + (high - low) * k as f64 / SAMPLES as f64);
        let curve = |d: bool| {
            xs.clone()
                .map(|x| {
                    let y = a.forward(x as f32);
                    (x, f64::from(if d { a.derivative(x as f32, y) } else { y }))
                })
                .collect()
        };
        series.push(Series {
            color: Some(i),
            ..Series::new(a.to_string(), curve(false))
        });
        if derivative {
            series.push(Series {
                name: format!("{a}′"),
                points: curve(true),
                dashed: true,
                color: Some(i),
            });
        }
    }
    let names: Vec<String> = activations.iter().map(|a| a.to_string()).collect();
    Ok(Chart {
        title: if derivative {
            format!(
                "{} and derivative{}",
                names.join(", "),
                if names.len() > 1 { "s" } else { "" }
            )
        } else {
            names.join(", ")
        },
        x_label: "x".into(),
        y_label: if derivative { "f(x), f′(x) (dashed)" } else { "f(x)" }.into(),
        series,
        ..Chart::default()
    })
}

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// Makes the built-in DejaVu Sans the `sans-serif` family for measuring and drawing text.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the built-in DejaVu Sans font is valid"));
    });
}

type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The points to draw: finite, and positive on a logarithmic axis.
fn visible(chart: &Chart, y: f64) -> bool {
    y.is_finite() && (!chart.log_y || y > 0.0)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let label_font = TextStyle::from((FONT, 14).into_font());
    let legend_width = chart
        .series
        .iter()
        .map(|s| root.estimate_text_size(&s.name, &label_font).map(|(w, _)| w))
        .try_fold(0u32, |acc, w| w.map(|w| acc.max(w)))?
        .min(WIDTH / 3)
        + 52;
    let (plot_area, legend_area) = root.split_horizontally(WIDTH - legend_width);

    let points = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|&&(_, y)| visible(chart, y))
    };
    let (mut x_low, mut x_high) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(x, _)| {
        (lo.min(x), hi.max(x))
    });
    if x_low >= x_high {
        (x_low, x_high) = if x_low.is_finite() {
            (x_low - 1.0, x_low + 1.0)
        } else {
            (0.0, 1.0)
        };
    }
    let (y_low, y_high) = chart.y_range.unwrap_or_else(|| {
        let (lo, hi) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
        pad(chart.log_y, lo, hi)
    });
    if chart.log_y {
        draw_plot(&plot_area, chart, x_low..x_high, (y_low..y_high).log_scale(), 0.0)?;
    } else {
        draw_plot(&plot_area, chart, x_low..x_high, y_low..y_high, y_high - y_low)?;
    }
    draw_legend(&legend_area, chart, &label_font)
}

/// A y range around `[lo, hi]` with 5 % room (on a log axis: a factor).
fn pad(log: bool, lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (lo, hi) = if hi / lo < 1.01 { (lo / 2.0, hi * 2.0) } else { (lo, hi) };
        let room = (hi / lo).powf(0.05);
        (lo / room, hi * room)
    } else {
        let span = if hi - lo > 1e-12 * hi.abs().max(1.0) {
            hi - lo
        } else {
            hi.abs().max(1.0)
        };
        (lo - 0.05 * span, hi + 0.05 * span)
    }
}

fn draw_plot<DB, Y>(area: &DrawingArea<DB, Shift>, chart: &Chart, x: Range<f64>, y: Y, y_span: f64) -> DrawResult<DB>
where
    DB: DrawingBackend,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_span = x.end - x.start;
    // Whole numbers on x (epochs, layers) over a short range: a label at each, none between.
    let whole = chart.series.iter().flat_map(|s| &s.points).all(|p| p.0.fract() == 0.0);
    let mut ctx = ChartBuilder::on(area)
        .caption(&chart.title, (FONT, 18))
        .margin(12)
        .margin_right(4)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    let mut mesh = ctx.configure_mesh();
    if whole && x_span <= 10.0 {
        mesh.x_labels(x_span as usize + 1);
    }
    mesh.x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .x_label_formatter(&|v| number(*v, x_span))
        .y_label_formatter(&|v| {
            if chart.log_y && !is_round(*v) {
                String::new()
            } else {
                number(*v, y_span)
            }
        })
        .max_light_lines(4)
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    for (i, series) in chart.series.iter().enumerate() {
        let style = color(series.color.unwrap_or(i)).stroke_width(2);
        for run in series
            .points
            .split(|&(_, y)| !visible(chart, y))
            .filter(|r| !r.is_empty())
        {
            if series.dashed {
                ctx.draw_series(DashedLineSeries::new(run.iter().copied(), 6, 4, style))?;
            } else {
                ctx.draw_series(LineSeries::new(run.iter().copied(), style))?;
            }
        }
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, chart: &Chart, font: &TextStyle) -> DrawResult<DB> {
    let text = font.clone().pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Center,
    ));
    for (i, series) in chart.series.iter().enumerate() {
        let y = 50 + 22 * i as i32;
        let style = color(series.color.unwrap_or(i)).stroke_width(2);
        if series.dashed {
            area.draw(&PathElement::new(vec![(6, y), (14, y)], style))?;
            area.draw(&PathElement::new(vec![(20, y), (28, y)], style))?;
        } else {
            area.draw(&PathElement::new(vec![(6, y), (28, y)], style))?;
        }
        area.draw(&Text::new(series.name.clone(), (36, y), text.clone()))?;
    }
    Ok(())
}

/// Whether `v > 0` is 1, 2 or 5 times a power of ten (the labelled ticks of a log axis).
fn is_round(v: f64) -> bool {
    let mantissa = v / 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6 * m)
}

/// A tick label: short, without trailing zeros, scientific for very small or large numbers;
/// 0 for what is zero up to rounding on an axis spanning `span` (0 for a log axis).
fn number(v: f64, span: f64) -> String {
    let a = v.abs();
    if a <= 1e-9 * span {
        return "0".into();
    }
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn chart(log_y: bool) -> Chart {
        Chart {
            title: "loss".into(),
            x_label: "epoch".into(),
            y_label: "training loss".into(),
            series: vec![
                Series::new("relu", (1..=20).map(|e| (e as f64, 1.0 / e as f64)).collect()),
                Series::new("sigmoid", (1..=20).map(|e| (e as f64, 2.0 / e as f64)).collect()),
            ],
            log_y,
            y_range: None,
        }
    }

    /// Whether `svg` has a text element reading `label` (plotters puts it on a line of its own).
    pub(crate) fn has_text(svg: &str, label: &str) -> bool {
        svg.contains(&format!(">\n{label}\n</text>"))
    }

    #[test]
    fn svg_is_a_document_with_the_labels_and_one_line_per_series() {
        for log_y in [false, true] {
            let text = svg(&chart(log_y)).unwrap();
            assert!(
                text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
                "{text}"
            );
            for label in ["relu", "sigmoid", "epoch", "training loss", "loss"] {
                assert!(has_text(&text, label), "{label}");
            }
            // Two series lines plus two legend samples, all in the series colours.
            for (r, g, b) in &PALETTE[..2] {
                let hex = format!("#{r:02X}{g:02X}{b:02X}");
                assert!(text.matches(&hex).count() >= 2, "{hex} in {log_y}");
            }
        }
    }

    #[test]
    fn non_finite_points_break_the_line_instead_of_failing() {
        let mut c = chart(true);
        c.series[0].points[5].1 = f64::NAN;
        c.series[0].points[6].1 = f64::INFINITY;
        c.series[1].points[3].1 = 0.0; // not drawable on a log axis
        let text = svg(&c).unwrap();
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        // relu's line is now two polylines, plus the legend's sample line.
        let relu = format!("#{:02X}{:02X}{:02X}", PALETTE[0].0, PALETTE[0].1, PALETTE[0].2);
        assert_eq!(
            text.matches(&format!("polyline fill=\"none\" opacity=\"1\" stroke=\"{relu}\""))
                .count(),
            3
        );
    }

    #[test]
    fn whole_number_x_over_a_short_range_is_labelled_at_whole_numbers_only() {
        let c = Chart {
            series: vec![Series::new(
                "ratio",
                (0..=5).map(|e| (e as f64, 10.0 * e as f64)).collect(),
            )],
            ..Chart::default()
        };
        let text = svg(&c).unwrap();
        assert!((0..=5).all(|e| has_text(&text, &e.to_string())), "{text}");
        assert!(!has_text(&text, "0.5") && !has_text(&text, "2.5"), "{text}");
    }

    #[test]
    fn png_has_the_png_signature_and_size() {
        let bytes = png(&chart(false)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let decoder = ::png::Decoder::new(std::io::Cursor::new(&bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (WIDTH, HEIGHT));
    }

    #[test]
    fn activation_chart_samples_the_function_and_its_derivative() {
        let c = activation_chart(&[Activation::Tanh, Activation::Relu], (-3.0, 3.0), true).unwrap();
        let names: Vec<_> = c.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["tanh", "tanh′", "relu", "relu′"]);
        let at = |s: &Series, x: f64| s.points.iter().find(|p| (p.0 - x).abs() < 1e-9).unwrap().1;
        assert!((at(&c.series[0], 1.0) - 1f64.tanh()).abs() < 1e-6);
        assert!((at(&c.series[1], 1.0) - (1.0 - 1f64.tanh().powi(2))).abs() < 1e-6);
        assert_eq!(at(&c.series[3], -1.0), 0.0);
        assert_eq!(at(&c.series[3], 1.0), 1.0);
        assert!(c.series[1].dashed && c.series[1].color == c.series[0].color);
        assert!(activation_chart(&[Activation::Softmax], (-1.0, 1.0), false).is_err());
        assert!(activation_chart(&[Activation::Tanh], (1.0, -1.0), false).is_err());
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(number(0.5, 1.0), "0.5");
        assert_eq!(number(2.0, 1.0), "2");
        assert_eq!(number(-0.0, 1.0), "0");
        assert_eq!(number(-2.2e-16, 2.0), "0", "rounding error of a linear axis");
        assert_eq!(number(0.0001, 0.0), "1e-4");
        assert_eq!(number(250000.0, 0.0), "2.5e5");
        assert!(is_round(0.2) && is_round(1.0) && is_round(5e-7) && is_round(100.0));
        assert!(!is_round(0.3) && !is_round(0.9) && !is_round(7e3));
    }
}
