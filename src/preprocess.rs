//! From a raw table (numbers, text, missing cells) to the numeric features a network takes:
//! the schema inferred from training data, and a fitted [`Preprocessor`] that encodes any
//! table with the same columns in the same way. The preprocessor is stored in model files
//! (see [`crate::model_io`]) so that `eval` and `predict` replay it on raw files.
//!
//! Per column, in file order (the target excluded):
//! - **numeric** (every present cell a finite number): the value; a missing cell takes the
//!   training median. Columns that had missing cells in training also get an indicator column
//!   `NAME:missing` (1 where the cell was missing); a column without missing cells in training
//!   gets none, and a missing cell at prediction time takes the median and is counted in a note.
//! - **categorical** (text, or numbers named in [`SchemaOptions::categorical`]): one column
//!   `NAME=CATEGORY` per category seen at least [`SchemaOptions::min_category_count`] times in
//!   training (sorted), one `NAME=<other>` for the rarer ones pooled together (when there are
//!   any) and one `NAME=<missing>` when training had missing cells. A category never seen in
//!   training encodes as all zeros and is counted (an error when `strict`).
//! - **dropped**: named in [`SchemaOptions::drop`], every cell missing, or free text (at least
//!   [`MIN_ROWS_FOR_DISTINCT`] present cells, at least [`FREE_TEXT_SHARE`] of them distinct,
//!   and not looking like an identifier).
//!
//! A column looks like an identifier when its name is `id` or ends in `_id` or `Id`, or when
//! it has at least [`MIN_ROWS_FOR_DISTINCT`] present cells, all distinct, that are integers or
//! single words: it is kept, with a warning that suggests dropping it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::csv::{build_target, name_list, TargetColumn};
use crate::data::table::{read_table, Column, Table, TableOptions};
use crate::data::{quote, stratified_indices};
use crate::{memory, Dataset, Error, Matrix, Result, Target, Task};

/// Categories seen fewer times than this in training are pooled into `<other>` by default.
pub const DEFAULT_MIN_CATEGORY_COUNT: usize = 5;

/// Share of distinct values among the present cells of a text column from which it is free
/// text (and dropped), when it does not look like an identifier.
pub const FREE_TEXT_SHARE: f64 = 0.9;

/// Present cells a column needs before "all distinct" or "almost all distinct" is judged.
pub const MIN_ROWS_FOR_DISTINCT: usize = 10;

/// How to infer the schema.
#[derive(Clone, Debug)]
pub struct SchemaOptions {
    /// Columns to encode as categories even though they hold numbers.
    pub categorical: Vec<String>,
    /// Columns to ignore.
    pub drop: Vec<String>,
    /// Categories seen fewer times are pooled into `<other>` (1 pools none).
    pub min_category_count: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            categorical: Vec::new(),
            drop: Vec::new(),
            min_category_count: DEFAULT_MIN_CATEGORY_COUNT,
        }
    }
}

/// How one column is encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Encoding {
    /// The value, missing cells imputed with `median`.
    Numeric {
        /// Training median of the present cells.
        median: f32,
        /// Whether an indicator column `NAME:missing` follows.
        indicator: bool,
    },
    /// One-hot.
    Categorical {
        /// Categories with a column each, in column order.
        categories: Vec<String>,
        /// Rare categories pooled into one `<other>` column (empty: no such column).
        other: Vec<String>,
        /// Whether a `<missing>` column follows.
        missing: bool,
    },
    /// Not used.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// One raw column and its encoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnPlan {
    /// The column's name in the raw file.
    pub name: String,
    /// How it is encoded.
    pub encoding: Encoding,
}

/// The fitted preprocessing: every raw column except the target, in training file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// The columns.
    pub columns: Vec<ColumnPlan>,
}

/// One line of the inferred schema, as `train` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// `numeric`, `categorical`, `dropped` or `target`.
    pub kind: &'static str,
    /// Missing cells (in the rows kept).
    pub missing: usize,
    /// Smallest and largest value (numeric columns).
    pub range: Option<[f32; 2]>,
    /// Categories with a column of their own (categorical columns).
    pub categories: Option<Vec<String>>,
    /// Rare categories pooled into `<other>`.
    pub pooled: usize,
    /// Why it was dropped, or what to look at.
    pub note: Option<String>,
}

/// Training data read from a raw file: the encoded data set, how it was encoded, and what
/// to tell the user.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Encoded features and the target: every row with a target, or the training part when a
    /// part was held out.
    pub data: Dataset,
    /// The held-out part, encoded with the preprocessing fitted on `data` (when asked for).
    pub test: Option<Dataset>,
    /// The fitted preprocessing.
    pub preprocessor: Preprocessor,
    /// The inferred schema, target last.
    pub schema: Vec<ColumnSummary>,
    /// Warnings (identifier-like columns).
    pub warnings: Vec<String>,
    /// Notes (dropped columns and rows).
    pub notes: Vec<String>,
}

/// Raw data read for a fitted [`Preprocessor`] (data to evaluate or predict on).
#[derive(Clone, Debug)]
pub struct Encoded {
    /// Encoded features, and the target when one was read.
    pub data: Dataset,
    /// The raw table.
    pub table: Table,
    /// The table's rows that `data` holds (rows with a missing target are left out).
    pub rows: Vec<usize>,
    /// Columns of the file the preprocessor does not use (not counting the target).
    pub ignored: Vec<String>,
    /// Counted notes: unknown categories, missing cells the training data did not have, rows
    /// without a target.
    pub notes: Vec<String>,
}

/// Whether `name` looks like an identifier's: `id`, `*_id`, `*Id`.
fn id_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id" || lower.ends_with("_id") || lower.ends_with("-id") || (name.ends_with("Id") && name.len() > 2)
}

/// Reads a training file: infers the schema, fits the preprocessing and encodes the data.
/// `target` names the target column (`None`: the last); `task` forces the task. `holdout`
/// (`(test_fraction, seed)`) holds out the test part of [`crate::data::stratified_split`]
/// before anything is fitted: the schema and the preprocessing are of the training part only.
///
/// # Errors
/// As [`read_table`]; [`Error::Data`] at line 1 for a missing target column, a file with no
/// column besides the target, or flags naming columns that do not exist; [`Error::Data`] when
/// every target cell is missing; [`Error::Config`] when no feature column is left.
pub fn read_training(
    path: &Path,
    table_options: &TableOptions,
    schema: &SchemaOptions,
    target: Option<&str>,
    task: Option<Task>,
    holdout: Option<(f32, u64)>,
) -> Result<Prepared> {
    let options = TableOptions {
        verbatim: target.map(|t| vec![t.to_string()]).unwrap_or_default(),
        verbatim_last: target.is_none(),
        ..table_options.clone()
    };
    let table = read_table(path, &options)?;
    let t = match target {
        Some(name) => table.find(name).ok_or_else(|| {
            table.header_error(format!(
                "no target column {}; the columns are {}",
                quote(name),
                table.name_list()
            ))
        })?,
        None => table.names.len() - 1,
    };
    if table.names.len() < 2 {
        return Err(table.header_error(crate::data::csv::only_one_column(&table.names[t])));
    }
    for (flag, done, names) in [
        ("to drop", "dropped", &schema.drop),
        ("to treat as categorical", "a feature", &schema.categorical),
    ] {
        let unknown: Vec<&String> = names.iter().filter(|n| table.find(n).is_none()).collect();
        if !unknown.is_empty() {
            return Err(table.header_error(format!(
                "no column {} {flag}; the columns are {}",
                name_list(&unknown),
                table.name_list()
            )));
        }
        if names.contains(&table.names[t]) {
            return Err(table.header_error(format!("the target {} cannot be {done}", quote(&table.names[t]))));
        }
    }
    let (target_column, rows) = target_cells(&table, t);
    let mut notes = Vec::new();
    let dropped_rows = table.rows() - rows.len();
    if rows.is_empty() {
        return Err(table.cell_error(0, t, "every target cell is missing"));
    }
    if dropped_rows > 0 {
        notes.push(format!(
            "dropped {dropped_rows} row{} whose target {} is missing",
            plural(dropped_rows),
            quote(&table.names[t])
        ));
    }
    let target_values = build_target(&target_column, task, path)?;
    let (fit, held_out) = match holdout {
        Some((fraction, seed)) => stratified_indices(&target_values, rows.len(), fraction, seed),
        None => ((0..rows.len()).collect(), Vec::new()),
    };
    let fit_rows: Vec<usize> = fit.iter().map(|&i| rows[i]).collect();
    // The columns are fitted in parallel; their warnings and notes are kept in column order.
    let fitted: Vec<_> = table
        .columns
        .par_iter()
        .enumerate()
        .filter(|&(c, _)| c != t)
        .map(|(c, column)| {
            let (mut warnings, mut notes) = (Vec::new(), Vec::new());
            let (plan, summary) = fit_column(&table.names[c], column, &fit_rows, schema, &mut warnings, &mut notes);
            (plan, summary, warnings, notes)
        })
        .collect();
    let mut warnings = Vec::new();
    let mut summaries = Vec::new();
    let mut columns = Vec::new();
    for (plan, summary, column_warnings, column_notes) in fitted {
        columns.push(plan);
        summaries.push(summary);
        warnings.extend(column_warnings);
        notes.extend(column_notes);
    }
    let preprocessor = Preprocessor { columns };
    if preprocessor.width() == 0 {
        return Err(Error::config(format!(
            "{}: no feature column is left once the dropped ones are set aside ({})",
            path.display(),
            summaries
                .iter()
                .map(|s| format!("{}: {}", s.name, s.note.as_deref().unwrap_or("dropped")))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    summaries.push(target_summary(&table.names[t], &target_values, dropped_rows));
    // The targets of every row with one, without features: each part takes its targets from it
    // and has its own rows encoded, so the encoded features are not copied into the parts.
    let targets = Dataset {
        x: Matrix::zeros(rows.len(), 0),
        feature_names: preprocessor.feature_names(),
        target_name: table.names[t].clone(),
        target: target_values,
        images: false,
    };
    let encode = |part: Option<&[usize]>| -> Result<Dataset> {
        let Some(part) = part else {
            let x = preprocessor.encode(&table, &rows, false)?.0;
            return Ok(Dataset { x, ..targets.clone() });
        };
        let table_rows: Vec<usize> = part.iter().map(|&i| rows[i]).collect();
        let x = preprocessor.encode(&table, &table_rows, false)?.0;
        Ok(Dataset {
            x,
            ..targets.subset(part)
        })
    };
    let (data, test) = match holdout {
        Some(_) => (encode(Some(&fit))?, Some(encode(Some(&held_out))?)),
        None => (encode(None)?, None),
    };
    Ok(Prepared {
        data,
        test,
        preprocessor,
        schema: summaries,
        warnings,
        notes,
    })
}

/// The target's present cells as text with their lines, and the rows that have one.
fn target_cells(table: &Table, t: usize) -> (TargetColumn, Vec<usize>) {
    let column = &table.columns[t];
    let rows: Vec<usize> = (0..table.rows()).filter(|&r| !column.is_missing(r)).collect();
    let target = TargetColumn {
        name: table.names[t].clone(),
        column: t + 1,
        cells: rows
            .iter()
            .map(|&r| column.text(r).map(|c| c.into_owned()).unwrap_or_default())
            .collect(),
        lines: rows.iter().map(|&r| table.lines[r]).collect(),
    };
    (target, rows)
}

/// The error for columns a table lacks, naming each and the columns it has.
fn missing_error(table: &Table, missing: &[&str]) -> Error {
    table.header_error(format!(
        "missing column{} {}; the file has {}",
        plural(missing.len()),
        name_list(missing),
        table.name_list()
    ))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn target_summary(name: &str, target: &Target, dropped: usize) -> ColumnSummary {
    let (range, categories) = match target {
        Target::Classes { classes, .. } => (None, Some(classes.clone())),
        Target::Values(v) => {
            let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (Some([lo, hi]), None)
        }
        Target::None => (None, None),
    };
    ColumnSummary {
        name: name.to_string(),
        kind: "target",
        missing: dropped,
        range,
        categories,
        pooled: 0,
        note: (dropped > 0).then(|| format!("{dropped} row{} without a target dropped", plural(dropped))),
    }
}

/// Warns that the column `name` looks like an identifier.
fn flag_identifier(name: &str, all_distinct: bool, warnings: &mut Vec<String>, summary: &mut ColumnSummary) {
    let why = if all_distinct {
        "every value is distinct"
    } else {
        "by its name"
    };
    warnings.push(format!(
        "column {} looks like an identifier ({why}); if it is one, leave it out with --drop {name}",
        quote(name)
    ));
    summary.note = Some("looks like an identifier".into());
}

/// How many times each present text occurs in the rows `rows` of `column`.
fn text_counts(column: &Column, rows: &[usize]) -> HashMap<String, usize> {
    match column {
        Column::Text { codes, levels } => {
            let mut per_level = vec![0usize; levels.len()];
            for &r in rows {
                if let Some(count) = per_level.get_mut(codes[r] as usize) {
                    *count += 1;
                }
            }
            levels
                .iter()
                .zip(per_level)
                .filter(|(_, n)| *n > 0)
                .map(|(l, n)| (l.clone(), n))
                .collect()
        }
        Column::Numeric(_) => {
            let mut counts = HashMap::new();
            for &r in rows {
                if let Some(text) = column.text(r) {
                    *counts.entry(text.into_owned()).or_default() += 1;
                }
            }
            counts
        }
    }
}

/// Infers and fits one column on the rows `rows`.
fn fit_column(
    name: &str,
    column: &Column,
    rows: &[usize],
    schema: &SchemaOptions,
    warnings: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> (ColumnPlan, ColumnSummary) {
    let missing = rows.iter().filter(|&&r| column.is_missing(r)).count();
    let present = rows.len() - missing;
    let mut summary = ColumnSummary {
        name: name.to_string(),
        kind: "dropped",
        missing,
        range: None,
        categories: None,
        pooled: 0,
        note: None,
    };
    let dropped = |reason: String, summary: &mut ColumnSummary| {
        summary.note = Some(reason.clone());
        ColumnPlan {
            name: name.to_string(),
            encoding: Encoding::Dropped { reason },
        }
    };
    if schema.drop.iter().any(|d| d == name) {
        return (dropped("dropped by request".into(), &mut summary), summary);
    }
    if present == 0 {
        notes.push(format!("column {} is dropped: every cell is missing", quote(name)));
        return (dropped("every cell is missing".into(), &mut summary), summary);
    }
    let numbers = column.numbers().ok();
    let categorical = schema.categorical.iter().any(|c| c == name);
    if let (Some(values), false) = (&numbers, categorical) {
        let mut present_values: Vec<f32> = rows.iter().map(|&r| values[r]).filter(|v| !v.is_nan()).collect();
        let n = present_values.len();
        // Whether every value is distinct (which takes sorting them) matters only to a column
        // that may be an identifier.
        let integers = present_values.iter().all(|v| v.fract() == 0.0);
        let all_distinct = (integers || id_name(name)) && n >= MIN_ROWS_FOR_DISTINCT && {
            present_values.sort_unstable_by(f32::total_cmp);
            present_values.windows(2).all(|w| w[0] != w[1])
        };
        if id_name(name) || (all_distinct && integers) {
            flag_identifier(name, all_distinct, warnings, &mut summary);
        }
        let range = [
            present_values.iter().copied().min_by(f32::total_cmp),
            present_values.iter().copied().max_by(f32::total_cmp),
        ]
        .map(|v| v.expect("a present value"));
        // The middle value (or the two of an even count) in sorted order.
        let (below, &mut upper, _) = present_values.select_nth_unstable_by(n / 2, f32::total_cmp);
        let median = if n % 2 == 1 {
            upper
        } else {
            let lower = below.iter().copied().max_by(f32::total_cmp).expect("n is at least 2");
            ((f64::from(lower) + f64::from(upper)) / 2.0) as f32
        };
        summary.kind = "numeric";
        summary.range = Some(range);
        let plan = ColumnPlan {
            name: name.to_string(),
            encoding: Encoding::Numeric {
                median,
                indicator: missing > 0,
            },
        };
        return (plan, summary);
    }
    let counts = text_counts(column, rows);
    let all_distinct = present >= MIN_ROWS_FOR_DISTINCT && counts.len() == present;
    let id_like = id_name(name) || (all_distinct && counts.keys().all(|k| !k.contains(char::is_whitespace)));
    if id_like {
        flag_identifier(name, all_distinct, warnings, &mut summary);
    }
    if numbers.is_none()
        && !id_like
        && present >= MIN_ROWS_FOR_DISTINCT
        && counts.len() as f64 >= FREE_TEXT_SHARE * present as f64
    {
        let reason = format!("free text: {} distinct values in {present} cells", counts.len());
        notes.push(format!("column {} is dropped as {reason}", quote(name)));
        return (dropped(reason, &mut summary), summary);
    }
    let sorted: BTreeMap<String, usize> = counts.into_iter().collect();
    let (mut categories, mut other) = (Vec::new(), Vec::new());
    for (category, count) in sorted {
        if count >= schema.min_category_count {
            categories.push(category);
        } else {
            other.push(category);
        }
    }
    summary.kind = "categorical";
    summary.categories = Some(categories.clone());
    summary.pooled = other.len();
    let plan = ColumnPlan {
        name: name.to_string(),
        encoding: Encoding::Categorical {
            categories,
            other,
            missing: missing > 0,
        },
    };
    (plan, summary)
}

impl Encoding {
    /// The names of the columns this encoding makes for the raw column `name`.
    fn feature_names(&self, name: &str) -> Vec<String> {
        match self {
            Encoding::Numeric { indicator, .. } => {
                let mut names = vec![name.to_string()];
                if *indicator {
                    names.push(format!("{name}:missing"));
                }
                names
            }
            Encoding::Categorical {
                categories,
                other,
                missing,
            } => {
                let mut names: Vec<String> = categories.iter().map(|c| format!("{name}={c}")).collect();
                if !other.is_empty() {
                    names.push(format!("{name}=<other>"));
                }
                if *missing {
                    names.push(format!("{name}=<missing>"));
                }
                names
            }
            Encoding::Dropped { .. } => Vec::new(),
        }
    }
}

impl Preprocessor {
    /// The encoded feature names, in the order of the encoded columns.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|c| c.encoding.feature_names(&c.name))
            .collect()
    }

    /// Number of encoded features.
    pub fn width(&self) -> usize {
        self.feature_names().len()
    }

    /// The raw columns that are used (not dropped).
    pub fn used_columns(&self) -> impl Iterator<Item = &ColumnPlan> {
        self.columns
            .iter()
            .filter(|c| !matches!(c.encoding, Encoding::Dropped { .. }))
    }

    /// The used columns that `table` lacks.
    fn missing_columns(&self, table: &Table) -> Vec<&str> {
        let names: std::collections::HashSet<&str> = table.names.iter().map(String::as_str).collect();
        self.used_columns()
            .map(|c| c.name.as_str())
            .filter(|n| !names.contains(n))
            .collect()
    }

    /// Encodes the rows `rows` of `table`, its columns matched by name. Returns the features
    /// and counted notes (unknown categories, missing cells that training did not have).
    ///
    /// # Errors
    /// [`Error::Data`] at line 1 naming every used column the table lacks; at the cell, for a
    /// numeric column holding text, and (when `strict`) for a category or a missing cell that
    /// training did not have; [`Error::Memory`].
    pub fn encode(&self, table: &Table, rows: &[usize], strict: bool) -> Result<(Matrix, Vec<String>)> {
        let missing = self.missing_columns(table);
        if !missing.is_empty() {
            return Err(missing_error(table, &missing));
        }
        let position: HashMap<&str, usize> = table.names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();

        let width = self.width();
        memory::check(
            &format!("encoding {} rows of {}", rows.len(), table.path.display()),
            memory::bytes([rows.len(), width], 4),
        )?;
        let mut offset = 0;
        let encoders: Vec<ColumnEncoder> = self
            .used_columns()
            .map(|plan| {
                let column = position[plan.name.as_str()];
                let source = match &plan.encoding {
                    Encoding::Numeric { .. } => Source::Numbers(table.columns[column].numbers()),
                    Encoding::Categorical { categories, other, .. } => {
                        let mut index: HashMap<&str, usize> =
                            categories.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
                        index.extend(other.iter().map(|c| (c.as_str(), categories.len())));
                        Source::Categories {
                            index,
                            missing_at: categories.len() + usize::from(!other.is_empty()),
                        }
                    }
                    Encoding::Dropped { .. } => unreachable!("used columns only"),
                };
                let encoder = ColumnEncoder {
                    plan,
                    column,
                    offset,
                    source,
                };
                offset += plan.encoding.feature_names(&plan.name).len();
                encoder
            })
            .collect();
        // Blocks of rows in parallel, every column of a block at once (the features are written
        // row by row); each block counts its notes and finds its first refused cell per column.
        let mut x = Matrix::zeros(rows.len(), width);
        let block = ENCODE_BLOCK * width.max(1);
        let tallies: Vec<Vec<Tally>> = x
            .as_mut_slice()
            .par_chunks_mut(block)
            .enumerate()
            .map(|(b, out)| {
                let first = b * ENCODE_BLOCK;
                let rows = &rows[first..first + out.len() / width];
                encoders
                    .iter()
                    .map(|e| e.encode(table, rows, first, width, out, strict))
                    .collect()
            })
            .collect();
        // In column order as the columns are encoded one after the other: the first refused
        // cell, else each column's notes.
        let mut notes = Vec::new();
        for (k, e) in encoders.iter().enumerate() {
            let c = e.column;
            if let Source::Numbers(Err(row)) = &e.source {
                let text = table.columns[c].text(*row).unwrap_or_default();
                return Err(table.cell_error(
                    *row,
                    c,
                    format!(
                        "{} is not a number, but the column was numeric in training",
                        quote(&text)
                    ),
                ));
            }
            let (mut counts, mut refused) = ([0; 2], None);
            for tally in tallies.iter().map(|t| &t[k]) {
                counts = [counts[0] + tally.counts[0], counts[1] + tally.counts[1]];
                refused = refused.or(tally.refused);
            }
            if let Some(i) = refused {
                let text = table.columns[c].text(rows[i]).unwrap_or_default();
                return Err(table.cell_error(
                    rows[i],
                    c,
                    format!("category {} was never seen in training", quote(&text)),
                ));
            }
            let name = quote(&e.plan.name);
            match (&e.source, counts) {
                (Source::Numbers(_), [imputed, _]) if imputed > 0 => {
                    let Encoding::Numeric { median, .. } = &e.plan.encoding else {
                        unreachable!("numbers are encoded as numeric")
                    };
                    notes.push(format!(
                        "column {name}: {imputed} missing cell{} (none in training) took the training median {median}",
                        plural(imputed)
                    ));
                }
                (Source::Categories { .. }, [unknown, unseen_missing]) => {
                    if unknown > 0 {
                        notes.push(format!(
                            "column {name}: {unknown} cell{} with a category never seen in training encoded as all zeros",
                            plural(unknown)
                        ));
                    }
                    if unseen_missing > 0 {
                        notes.push(format!(
                            "column {name}: {unseen_missing} missing cell{} (none in training) encoded as all zeros",
                            plural(unseen_missing)
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok((x, notes))
    }

    /// Reads a raw file and encodes it: data to evaluate on (`target` gives the target column
    /// and the task to read it for; rows whose target is missing are left out with a note) or
    /// to predict on. `options.verbatim` may name columns to keep as written (for copying).
    ///
    /// # Errors
    /// As [`read_table`] and [`Preprocessor::encode`]; [`Error::Data`] at line 1 for a missing
    /// target column.
    pub fn read(
        &self,
        path: &Path,
        options: &TableOptions,
        target: Option<(&str, Task)>,
        strict: bool,
    ) -> Result<Encoded> {
        let mut options = options.clone();
        if let Some((name, _)) = target {
            options.verbatim.push(name.to_string());
        }
        let mut table = read_table(path, &options)?;
        if !options.header {
            // Columns by position: the training file's, then the target.
            let names: Vec<String> = self
                .columns
                .iter()
                .map(|c| c.name.clone())
                .chain(target.map(|(name, _)| name.to_string()))
                .collect();
            if names.len() != table.names.len() {
                return Err(table.header_error(format!(
                    "expected {} columns (those of the training file{}), found {} (the file has no header row)",
                    names.len(),
                    if target.is_some() { " and the target last" } else { "" },
                    table.names.len()
                )));
            }
            table.names = names;
        }
        let mut notes = Vec::new();
        let (target_values, target_name, rows) = match target {
            Some((name, task)) => {
                let Some(t) = table.find(name) else {
                    // Every missing column at once, the target last.
                    let mut missing = self.missing_columns(&table);
                    missing.push(name);
                    return Err(missing_error(&table, &missing));
                };
                let (cells, rows) = target_cells(&table, t);
                let dropped = table.rows() - rows.len();
                if rows.is_empty() {
                    return Err(table.cell_error(0, t, "every target cell is missing"));
                }
                if dropped > 0 {
                    notes.push(format!(
                        "left out {dropped} row{} whose target {} is missing",
                        plural(dropped),
                        quote(name)
                    ));
                }
                (build_target(&cells, Some(task), path)?, name.to_string(), rows)
            }
            None => (Target::None, String::new(), (0..table.rows()).collect()),
        };
        let (x, encode_notes) = self.encode(&table, &rows, strict)?;
        notes.extend(encode_notes);
        let known: std::collections::HashSet<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let ignored = table
            .names
            .iter()
            .filter(|n| **n != target_name && !known.contains(n.as_str()))
            .cloned()
            .collect();
        let data = Dataset {
            x,
            feature_names: self.feature_names(),
            target_name,
            target: target_values,
            images: false,
        };
        Ok(Encoded {
            data,
            table,
            rows,
            ignored,
            notes,
        })
    }

    /// Checks a preprocessor read from a model file against the model's feature names.
    ///
    /// # Errors
    /// A message naming what disagrees.
    pub fn check(&self, features: &[String]) -> std::result::Result<(), String> {
        let names = self.feature_names();
        if names != features {
            return Err(format!(
                "the preprocessing makes {} features that are not the model's {} features",
                names.len(),
                features.len()
            ));
        }
        if let Some(c) = self
            .columns
            .iter()
            .find(|c| matches!(c.encoding, Encoding::Numeric { median, .. } if !median.is_finite()))
        {
            return Err(format!("the median of column '{}' is not finite", c.name));
        }
        Ok(())
    }
}

/// Rows per block of [`Preprocessor::encode`].
const ENCODE_BLOCK: usize = 1024;

/// One used column of a table on its way into the encoded features.
struct ColumnEncoder<'a> {
    plan: &'a ColumnPlan,
    /// Its index in the table.
    column: usize,
    /// Its first encoded feature.
    offset: usize,
    source: Source<'a>,
}

/// What a column's cells are read as.
enum Source<'a> {
    /// Numbers (NaN where missing), or the first row whose cell is not a number.
    Numbers(std::result::Result<std::borrow::Cow<'a, [f32]>, usize>),
    /// Text: each category's one-hot column (the pooled ones share theirs), and the column of
    /// a missing cell.
    Categories {
        index: HashMap<&'a str, usize>,
        missing_at: usize,
    },
}

/// What a block of rows found in one column: for numbers, the missing cells imputed without
/// an indicator; for text, the unknown categories and the missing cells without a column of
/// their own; and the first cell refused (its index in the rows encoded).
struct Tally {
    counts: [usize; 2],
    refused: Option<usize>,
}

impl ColumnEncoder<'_> {
    /// Writes the features of `rows` of `table` into `out` (one row of `width` features each);
    /// `first`: the index of `rows[0]` among the rows encoded.
    fn encode(
        &self,
        table: &Table,
        rows: &[usize],
        first: usize,
        width: usize,
        out: &mut [f32],
        strict: bool,
    ) -> Tally {
        let mut tally = Tally {
            counts: [0; 2],
            refused: None,
        };
        let at = self.offset;
        let cells = out.chunks_exact_mut(width);
        match (&self.source, &self.plan.encoding) {
            (Source::Numbers(Err(_)), _) => {}
            (Source::Numbers(Ok(values)), Encoding::Numeric { median, indicator }) => {
                for (out, &r) in cells.zip(rows) {
                    let v = values[r];
                    if v.is_nan() {
                        out[at] = *median;
                        if *indicator {
                            out[at + 1] = 1.0;
                        } else {
                            tally.counts[0] += 1;
                        }
                    } else {
                        out[at] = v;
                    }
                }
            }
            (Source::Categories { index, missing_at }, Encoding::Categorical { missing, .. }) => {
                let column = &table.columns[self.column];
                for (i, (out, &r)) in cells.zip(rows).enumerate() {
                    let hot = match column.text(r) {
                        None if *missing => Some(*missing_at),
                        None => {
                            tally.counts[1] += 1;
                            None
                        }
                        Some(text) => match index.get(text.as_ref()) {
                            Some(&k) => Some(k),
                            None if strict => {
                                tally.refused = tally.refused.or(Some(first + i));
                                None
                            }
                            None => {
                                tally.counts[0] += 1;
                                None
                            }
                        },
                    };
                    if let Some(k) = hot {
                        out[at + k] = 1.0;
                    }
                }
            }
            _ => unreachable!("a column's source follows its encoding"),
        }
        tally
    }
}

#[cfg(test)]
mod tests;
