//! Reports as files: one [`Page`] rendered as HTML (`index.html`) and as Markdown
//! (`report.md`), with its charts as SVG files beside them.
//!
//! [`crate::compare::report`] and [`crate::experiments::report`] build their pages from these
//! parts; the command line writes the files into one directory.
//!
//! ```
//! use actlab::report::{Page, Section, Table};
//!
//! let page = Page {
//!     title: "squares".into(),
//!     settings: vec!["x from 1 to 2".into()],
//!     sections: vec![Section {
//!         heading: "Results".into(),
//!         tables: vec![Table::new(vec![vec!["x".into(), "x²".into()], vec!["2".into(), "4".into()]])],
//!         ..Section::default()
//!     }],
//! };
//! let files = page.files();
//! assert_eq!(files[0].name, "index.html");
//! assert!(String::from_utf8_lossy(&files[1].contents).contains("| 2 | 4 |"));
//! ```

use crate::plot::{svg, Chart};
use crate::Result;

/// Marks an `index.html` written by actlab (see [`is_report`]).
pub const GENERATOR: &str = r#"<meta name="generator" content="actlab">"#;

/// The mark of the pages that `actlab compare` wrote before [`GENERATOR`].
const COMPARE_GENERATOR: &str = r#"<meta name="generator" content="actlab compare">"#;

/// Whether `page`, the text of an `index.html`, is a report written by actlab (so that the
/// files of a new report may replace it).
pub fn is_report(page: &str) -> bool {
    page.contains(GENERATOR) || page.contains(COMPARE_GENERATOR)
}

/// A file of a report: a name (no directories) and its contents.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFile {
    /// File name, e.g. `loss.svg`.
    pub name: String,
    /// The bytes to write.
    pub contents: Vec<u8>,
}

/// A chart on the page: the SVG file it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File name of the SVG, beside the page.
    pub file: String,
    /// Describes the chart (the image's alternative text).
    pub caption: String,
}

impl Figure {
    /// Draws `chart` as an SVG file named `file`, adds it to `files` and returns the figure
    /// that shows it (captioned with the chart's title).
    ///
    /// # Errors
    /// [`crate::Error::Plot`] if the chart cannot be drawn.
    pub fn chart(files: &mut Vec<ReportFile>, file: String, chart: &Chart) -> Result<Figure> {
        files.push(ReportFile {
            name: file.clone(),
            contents: svg(chart)?.into_bytes(),
        });
        Ok(Figure {
            file,
            caption: chart.title.clone(),
        })
    }
}

/// A table: a header row, then the body rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// The header row first; every row has the same number of cells.
    pub rows: Vec<Vec<String>>,
    /// How many leading columns hold text (left-aligned); the others hold numbers
    /// (right-aligned).
    pub text_columns: usize,
}

impl Table {
    /// A table whose first column is text and whose other columns are numbers.
    pub fn new(rows: Vec<Vec<String>>) -> Self {
        Self { rows, text_columns: 1 }
    }
}

/// A part of the page under its own heading: paragraphs, tables, notes and charts, in that
/// order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Section {
    /// The heading (also the anchor of the section: `#results`).
    pub heading: String,
    /// Text before the tables, one entry per paragraph.
    pub paragraphs: Vec<String>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Small print after the tables, one line each.
    pub notes: Vec<String>,
    /// Charts, side by side.
    pub figures: Vec<Figure>,
}

/// A report page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    /// Heads the page.
    pub title: String,
    /// Listed under the title (data, network, training, …).
    pub settings: Vec<String>,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

impl Page {
    /// The page as `index.html` and as `report.md`; both show the figures' SVG files by
    /// their names.
    pub fn files(&self) -> [ReportFile; 2] {
        [
            ReportFile {
                name: "index.html".into(),
                contents: self.html().into_bytes(),
            },
            ReportFile {
                name: "report.md".into(),
                contents: self.markdown().into_bytes(),
            },
        ]
    }

    /// The page as an HTML document, marked with [`GENERATOR`].
    pub fn html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{GENERATOR}\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{t}</title>\n\
             <style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n<ul class=\"settings\">\n",
            t = escape(&self.title)
        );
        for s in &self.settings {
            out += &format!("<li>{}</li>\n", escape(s));
        }
        out += "</ul>\n";
        for section in &self.sections {
            out += &format!(
                "<h2 id=\"{}\">{}</h2>\n",
                file_stem(&section.heading.to_lowercase()),
                escape(&section.heading)
            );
            for p in &section.paragraphs {
                out += &format!("<p>{}</p>\n", escape(p));
            }
            for table in &section.tables {
                out += &html_table(table);
            }
            if !section.notes.is_empty() {
                out += "<p class=\"notes\">";
                out += &section
                    .notes
                    .iter()
                    .map(|n| escape(n))
                    .collect::<Vec<_>>()
                    .join("<br>\n");
                out += "</p>\n";
            }
            if !section.figures.is_empty() {
                out += "<div class=\"figures\">\n";
                for f in &section.figures {
                    out += &format!(
                        "<figure><a href=\"{file}\"><img src=\"{file}\" alt=\"{caption}\"></a></figure>\n",
                        file = escape(&f.file),
                        caption = escape(&f.caption)
                    );
                }
                out += "</div>\n";
            }
        }
        out + "</body>\n</html>\n"
    }

    /// The page as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n\n", self.title);
        for s in &self.settings {
            out += &format!("- {s}\n");
        }
        for section in &self.sections {
            out += &format!("\n## {}\n\n", section.heading);
            for p in &section.paragraphs {
                out += &format!("{p}\n\n");
            }
            for table in &section.tables {
                out += &markdown_table(&table.rows);
                out += "\n";
            }
            for n in &section.notes {
                out += &format!("{n}\n");
            }
            for f in &section.figures {
                out += &format!("![{}]({})\n", f.caption, f.file);
            }
        }
        out
    }
}

/// `leaky_relu:0.2` → `leaky_relu-0.2`, `first / last` → `first-last`: a name safe in any
/// file system (and as an anchor), each run of other characters replaced by one `-`.
pub fn file_stem(name: &str) -> String {
    let mut stem = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            stem.push(c);
        } else if !stem.ends_with('-') {
            stem.push('-');
        }
    }
    stem
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(table: &Table) -> String {
    let Some((header, body)) = table.rows.split_first() else {
        return String::new();
    };
    let mut out = String::from("<table>\n<thead><tr>");
    for h in header {
        out += &format!("<th>{}</th>", escape(h));
    }
    out += "</tr></thead>\n<tbody>\n";
    for row in body {
        out += "<tr>";
        for (i, cell) in row.iter().enumerate() {
            let class = if i < table.text_columns { "" } else { " class=\"num\"" };
            out += &format!("<td{class}>{}</td>", escape(cell));
        }
        out += "</tr>\n";
    }
    out + "</tbody>\n</table>\n"
}

fn markdown_table(rows: &[Vec<String>]) -> String {
    let Some((header, body)) = rows.split_first() else {
        return String::new();
    };
    let line = |cells: &[String]| {
        format!(
            "| {} |\n",
            cells
                .iter()
                .map(|c| c.replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    let mut out = line(header);
    out += &format!("|{}\n", "---|".repeat(header.len()));
    for row in body {
        out += &line(row);
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1600px;padding:0 1.5em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
ul.settings{color:#444}
table{border-collapse:collapse;font-size:.92em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.3em .6em}th{background:#f3f3f3;text-align:left}
td{white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafafa}
p.notes{color:#555;font-size:.9em;max-width:70em}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:1em}
figure{margin:0}figure img{width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555;text-align:center}
";

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Page {
        Page {
            title: "a <b> & c".into(),
            settings: vec!["data: xor".into()],
            sections: vec![
                Section {
                    heading: "Results".into(),
                    paragraphs: vec!["Claim: x < y".into()],
                    tables: vec![Table {
                        rows: vec![
                            vec!["#".into(), "name".into(), "value".into()],
                            vec!["1".into(), "a|b".into(), "0.5".into()],
                        ],
                        text_columns: 2,
                    }],
                    notes: vec!["first note".into(), "second note".into()],
                    figures: vec![],
                },
                Section {
                    heading: "Charts".into(),
                    figures: vec![Figure {
                        file: "loss.svg".into(),
                        caption: "Training loss".into(),
                    }],
                    ..Section::default()
                },
            ],
        }
    }

    #[test]
    fn html_is_escaped_marked_and_aligned_by_column_kind() {
        let html = page().html();
        assert!(is_report(&html));
        assert!(html.contains("<h1>a &lt;b&gt; &amp; c</h1>"));
        assert!(html.contains("<p>Claim: x &lt; y</p>"));
        assert!(html.contains("<tr><td>1</td><td>a|b</td><td class=\"num\">0.5</td></tr>"));
        assert!(html.contains("<p class=\"notes\">first note<br>\nsecond note</p>"));
        assert!(html.contains("<h2 id=\"charts\">Charts</h2>"));
        assert!(html.contains("<img src=\"loss.svg\" alt=\"Training loss\">"));
        // No empty notes or figure blocks.
        assert_eq!(html.matches("class=\"notes\"").count(), 1);
        assert_eq!(html.matches("<div class=\"figures\">").count(), 1);
    }

    #[test]
    fn markdown_has_the_same_content() {
        let md = page().markdown();
        assert!(md.starts_with("# a <b> & c\n\n- data: xor\n"));
        assert!(
            md.contains("\n## Results\n\nClaim: x < y\n\n| # | name | value |\n|---|---|---|\n| 1 | a\\|b | 0.5 |\n")
        );
        assert!(md.contains("first note\nsecond note\n"));
        assert!(md.contains("![Training loss](loss.svg)"));
    }

    #[test]
    fn file_stems_are_safe_names() {
        assert_eq!(file_stem("leaky_relu:0.2"), "leaky_relu-0.2");
        assert_eq!(file_stem("first / last layer"), "first-last-layer");
        assert_eq!(file_stem("2. sigmoid: ✓ holds"), "2.-sigmoid-holds");
    }

    #[test]
    fn pages_of_earlier_compare_reports_are_recognised() {
        assert!(is_report(
            r#"<head><meta name="generator" content="actlab compare"></head>"#
        ));
        assert!(!is_report("<p>mine</p>"));
        assert!(!is_report(r#"<meta name="generator" content="hugo">"#));
    }
}
