//! Tables of mixed columns: numbers, text and missing cells, read from a CSV file whose
//! delimiter is sniffed from the header. [`crate::preprocess`] turns a [`Table`] into features.
//!
//! Quoting follows RFC 4180 (the `csv` crate): a quoted field may hold the delimiter, quotes
//! written twice and line breaks. Cells are trimmed of surrounding whitespace. A cell is missing
//! when its trimmed text is one of [`TableOptions::na_values`] (by default
//! [`DEFAULT_NA_VALUES`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::csv::{csv_error, LineCounter};
use super::{data_error, name_list, open, quote};
use crate::{memory, Error, Result};

/// The cells read as missing unless [`TableOptions::na_values`] says otherwise.
pub const DEFAULT_NA_VALUES: [&str; 8] = ["", "NA", "N/A", "NaN", "nan", "null", "?", "-"];

/// The delimiters [`read_table`] chooses among, in the order that breaks a tie.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Code of a missing cell in a [`Column::Text`].
pub const MISSING: u32 = u32::MAX;

/// Rows read between two checks of the memory the table takes (see [`memory::check`]).
const ROWS_PER_MEMORY_CHECK: usize = 4096;

/// How to read a table.
#[derive(Clone, Debug)]
pub struct TableOptions {
    /// The delimiter; `None` sniffs it from the header line: the one of [`DELIMITERS`] that
    /// occurs most often outside quotes (a comma when none occurs).
    pub delimiter: Option<u8>,
    /// Cells (after trimming) that mean "missing".
    pub na_values: Vec<String>,
    /// Whether the first row names the columns; without one, columns are named `1`, `2`, ….
    pub header: bool,
    /// Columns kept as text exactly as written even when every cell is a number (a target,
    /// columns copied into predictions).
    pub verbatim: Vec<String>,
    /// Keep the last column as text too (the default target).
    pub verbatim_last: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            na_values: DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect(),
            header: true,
            verbatim: Vec::new(),
            verbatim_last: false,
        }
    }
}

/// The cells of one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Every present cell is a finite number; NaN marks a missing cell.
    Numeric(Vec<f32>),
    /// Text: each row's index into `levels` (the distinct texts, in order of appearance), or
    /// [`MISSING`]. A column turns into text at its first cell that is not a number; the
    /// numbers before it become the shortest text of their `f32` value.
    Text {
        /// Index into `levels` per row.
        codes: Vec<u32>,
        /// Distinct texts.
        levels: Vec<String>,
    },
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Text { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the cell of `row` is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match self {
            Column::Numeric(v) => v[row].is_nan(),
            Column::Text { codes, .. } => codes[row] == MISSING,
        }
    }

    /// The text of the cell of `row` (`None` when missing); numbers as the shortest text of
    /// their `f32` value (`1.50` is `1.5`, `-0` is `0`).
    pub fn text(&self, row: usize) -> Option<Cow<'_, str>> {
        match self {
            Column::Numeric(v) => (!v[row].is_nan()).then(|| Cow::Owned(number_text(v[row]))),
            Column::Text { codes, levels } => levels.get(codes[row] as usize).map(|s| Cow::Borrowed(s.as_str())),
        }
    }

    /// The column as numbers (NaN for missing), or the first row whose cell is not a finite
    /// number.
    pub fn numbers(&self) -> std::result::Result<Cow<'_, [f32]>, usize> {
        match self {
            Column::Numeric(v) => Ok(Cow::Borrowed(v)),
            Column::Text { codes, levels } => {
                let parsed: Vec<Option<f32>> = levels
                    .iter()
                    .map(|l| l.parse::<f32>().ok().filter(|v| v.is_finite()))
                    .collect();
                codes
                    .iter()
                    .enumerate()
                    .map(|(row, &c)| match c {
                        MISSING => Ok(f32::NAN),
                        c => parsed[c as usize].ok_or(row),
                    })
                    .collect::<std::result::Result<Vec<f32>, usize>>()
                    .map(Cow::Owned)
            }
        }
    }
}

/// The shortest text that reads back as `value` (`-0` as `0`).
pub fn number_text(value: f32) -> String {
    (value + 0.0).to_string()
}

/// A table read by [`read_table`].
#[derive(Clone, Debug)]
pub struct Table {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    /// Column names, in file order.
    pub names: Vec<String>,
    /// The columns, in file order.
    pub columns: Vec<Column>,
    /// The 1-based line on which each row starts.
    pub lines: Vec<usize>,
    /// The delimiter used.
    pub delimiter: u8,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The index of the column named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// A [`Error::Data`] at the cell of `row` (0-based) in `column` (0-based), naming the column.
    pub fn cell_error(&self, row: usize, column: usize, message: impl std::fmt::Display) -> Error {
        data_error(
            &self.path,
            self.lines[row],
            column + 1,
            format!("column {}: {message}", quote(&self.names[column])),
        )
    }

    /// A [`Error::Data`] about the header (line 1).
    pub fn header_error(&self, message: impl Into<String>) -> Error {
        data_error(&self.path, 1, 0, message)
    }

    /// The column names for a message (quoted, at most ten).
    pub fn name_list(&self) -> String {
        name_list(&self.names)
    }
}

/// A reader that counts the double quotes that pass through it, to tell a quote left open.
struct QuoteCounter<R> {
    inner: R,
    quotes: u64,
}

impl<R: Read> Read for QuoteCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.quotes += buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
        Ok(n)
    }
}

/// The delimiter of `line`: the one of [`DELIMITERS`] found most often outside quotes, a
/// comma when there is none.
pub fn sniff_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
                counts[i] += 1;
            }
        }
    }
    let best = (0..DELIMITERS.len()).fold(0, |best, i| if counts[i] > counts[best] { i } else { best });
    DELIMITERS[best]
}

/// The error for a quote opened in the cell at `line`, 0-based column `c`, and never closed.
fn unterminated(path: &Path, line: usize, c: usize) -> Error {
    data_error(
        path,
        line,
        c + 1,
        "unterminated quoted field: the quote opened here is not closed before the end of the file",
    )
}

/// The column being read.
enum Builder {
    Numeric(Vec<f32>),
    Text {
        codes: Vec<u32>,
        levels: Vec<String>,
        index: HashMap<String, u32>,
    },
}

impl Builder {
    fn text() -> Self {
        Builder::Text {
            codes: Vec::new(),
            levels: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Adds a cell; `Err` with why for a number that is not finite. Returns the bytes of a new
    /// level.
    fn push(&mut self, cell: &str, missing: bool) -> std::result::Result<usize, String> {
        if let Builder::Numeric(values) = self {
            if missing {
                values.push(f32::NAN);
                return Ok(0);
            }
            match cell.parse::<f32>() {
                Ok(v) if v.is_finite() => {
                    values.push(v);
                    return Ok(0);
                }
                Ok(_) => return Err(format!("{} is not a finite number", quote(cell))),
                Err(_) => {
                    let mut text = Builder::text();
                    for &v in values.iter() {
                        let missing = v.is_nan();
                        text.push(&if missing { String::new() } else { number_text(v) }, missing)?;
                    }
                    *self = text;
                }
            }
        }
        let Builder::Text { codes, levels, index } = self else {
            unreachable!("the column is text now")
        };
        if missing {
            codes.push(MISSING);
            return Ok(0);
        }
        if let Some(&code) = index.get(cell) {
            codes.push(code);
            return Ok(0);
        }
        let code = levels.len() as u32;
        levels.push(cell.to_string());
        index.insert(cell.to_string(), code);
        codes.push(code);
        Ok(2 * (cell.len() + std::mem::size_of::<String>()) + 16)
    }

    fn finish(self) -> Column {
        match self {
            Builder::Numeric(values) => Column::Numeric(values),
            Builder::Text { codes, levels, .. } => Column::Text { codes, levels },
        }
    }
}

/// Reads a CSV file as a table of typed columns.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Data`] naming line and column for an
/// empty file, a header without data rows, an empty or repeated column name, a ragged row, an
/// infinite number, or a quote left open; [`Error::Memory`] when the table outgrows the
/// memory limit.
pub fn read_table(path: &Path, options: &TableOptions) -> Result<Table> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut source = BufReader::new(open(path)?);
    let mut first = Vec::new();
    source.read_until(b'\n', &mut first).map_err(io)?;
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&first));
    let counter = QuoteCounter {
        inner: std::io::Cursor::new(first).chain(source),
        quotes: 0,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(options.header)
        .flexible(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(LineCounter::new(counter));
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(str::to_string).collect(),
        Err(e) => return Err(csv_error(path, e, &mut reader)),
    };
    if header.is_empty() {
        let expected = if options.header { "a header row" } else { "data rows" };
        return Err(data_error(path, 1, 0, format!("empty file: expected {expected}")));
    }
    let names: Vec<String> = if options.header {
        super::csv::check_header(&header).map_err(|(column, message)| data_error(path, 1, column, message))?;
        header.clone()
    } else {
        (1..=header.len()).map(|c| c.to_string()).collect()
    };
    let mut builders: Vec<Builder> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let last = options.verbatim_last && c + 1 == names.len();
            if last || options.verbatim.contains(name) {
                Builder::text()
            } else {
                Builder::Numeric(Vec::new())
            }
        })
        .collect();
    let what = format!("the data of {}", path.display());
    let mut lines = Vec::new();
    let mut level_bytes = 0u64;
    let mut record = csv::StringRecord::new();
    let mut last_line_break = None;
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(path, e, &mut reader))?
    {
        let line = record.position().map_or(0, |p| reader.get_mut().line_at(p.byte()));
        last_line_break = record
            .iter()
            .position(|cell| cell.contains(['\n', '\r']))
            .map(|c| (line, c));
        if record.len() != names.len() {
            if let Some((line, c)) = last_line_break {
                // A quote left open makes a ragged row of the rest of the file.
                while reader
                    .read_record(&mut record)
                    .map_err(|e| csv_error(path, e, &mut reader))?
                {}
                if reader.get_ref().inner.quotes % 2 == 1 {
                    return Err(unterminated(path, line, c));
                }
            }
            let plural = if record.len() == 1 { "" } else { "s" };
            let first = if options.header { "header" } else { "first row" };
            return Err(data_error(
                path,
                line,
                0,
                format!("row has {} field{plural}, {first} has {}", record.len(), names.len()),
            ));
        }
        let row = lines.len();
        for (c, (builder, cell)) in builders.iter_mut().zip(record.iter()).enumerate() {
            let missing = options.na_values.iter().any(|na| na == cell);
            level_bytes += builder
                .push(cell, missing)
                .map_err(|why| data_error(path, line, c + 1, format!("column {}: {why}", quote(&names[c]))))?
                as u64;
        }
        lines.push(line);
        if (row + 1) % ROWS_PER_MEMORY_CHECK == 0 {
            // what is held now, and as much again when the columns grow next
            let cells = memory::bytes([lines.len(), names.len() + 1], 4);
            memory::check(&what, (2 * cells).saturating_add(level_bytes))?;
        }
    }
    // A quote left open swallows the rest of the file into the last row's cell: the file then
    // has an odd number of quotes and its last row a line break in a cell.
    if let Some((line, c)) = last_line_break {
        if reader.get_ref().inner.quotes % 2 == 1 {
            return Err(unterminated(path, line, c));
        }
    }
    if lines.is_empty() {
        return Err(data_error(path, 1, 0, "header but no data rows"));
    }
    Ok(Table {
        path: path.to_path_buf(),
        names,
        columns: builders.into_iter().map(Builder::finish).collect(),
        lines,
        delimiter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    fn read(text: &str) -> Result<Table> {
        let file = write(text);
        read_table(file.path(), &TableOptions::default())
    }

    #[test]
    fn sniffs_each_delimiter() {
        for d in DELIMITERS {
            let d = d as char;
            let table = read(&format!("a{d}b{d}c\n1{d}x{d}2.5\n3{d}y{d}NA\n")).unwrap();
            assert_eq!(table.delimiter, d as u8);
            assert_eq!(table.names, ["a", "b", "c"]);
            assert_eq!(table.columns[0], Column::Numeric(vec![1.0, 3.0]));
            assert_eq!(table.columns[1].text(1).as_deref(), Some("y"));
            assert!(table.columns[2].is_missing(1));
        }
        // A comma inside quotes does not count; the semicolon wins.
        assert_eq!(sniff_delimiter(b"\"a,b,c\";d\n"), b';');
        assert_eq!(sniff_delimiter(b"one\n"), b',');
    }

    #[test]
    fn forced_delimiter() {
        let file = write("a;b,c\n1;2,3\n");
        let options = TableOptions {
            delimiter: Some(b','),
            ..TableOptions::default()
        };
        let table = read_table(file.path(), &options).unwrap();
        assert_eq!(table.names, ["a;b", "c"]);
    }

    #[test]
    fn quoted_delimiters_newlines_and_crlf() {
        let table = read("name,x\r\n\"Smith, John\",1\r\n\"two\r\nlines\",2\r\nplain,3\r\n").unwrap();
        assert_eq!(table.columns[0].text(0).as_deref(), Some("Smith, John"));
        assert_eq!(table.columns[0].text(1).as_deref(), Some("two\r\nlines"));
        assert_eq!(table.columns[1], Column::Numeric(vec![1.0, 2.0, 3.0]));
        // The third row starts on line 5, after the quoted line break.
        assert_eq!(table.lines, [2, 3, 5]);
    }

    #[test]
    fn na_tokens_and_text_conversion() {
        let table = read("a,b\n1.50,NA\nN/A,?\n-0,x\nnull,-\nnan,\n").unwrap();
        match &table.columns[0] {
            Column::Numeric(v) => {
                assert_eq!(v[0], 1.5);
                assert_eq!((1..5).filter(|&r| v[r].is_nan()).count(), 3);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(table.columns[1].text(2).as_deref(), Some("x"));
        assert_eq!((0..5).filter(|&r| table.columns[1].is_missing(r)).count(), 4);
        // Numbers read before the first text become text, missing cells stay missing.
        let table = read("a\n1.50\nNA\nabc\n1.5\n").unwrap();
        let texts: Vec<_> = (0..4)
            .map(|r| table.columns[0].text(r).map(|t| t.to_string()))
            .collect();
        assert_eq!(
            texts,
            [Some("1.5".into()), None, Some("abc".into()), Some("1.5".into())]
        );
        assert_eq!(table.columns[0].numbers(), Err(2));
    }

    #[test]
    fn custom_na_values() {
        let file = write("a\nmissing\n2\n\n");
        let options = TableOptions {
            na_values: vec!["missing".into()],
            ..TableOptions::default()
        };
        // The empty line is skipped by the reader; "missing" is missing.
        let table = read_table(file.path(), &options).unwrap();
        assert!(table.columns[0].is_missing(0));
        let error = read("a\nNaN\ninf\n").unwrap_err().to_string();
        assert!(
            error.ends_with(":3:1: column 'a': 'inf' is not a finite number"),
            "{error}"
        );
    }

    #[test]
    fn verbatim_columns_keep_their_text() {
        let file = write("id,y\n007,1.50\n8,2\n");
        let options = TableOptions {
            verbatim: vec!["id".into()],
            verbatim_last: true,
            ..TableOptions::default()
        };
        let table = read_table(file.path(), &options).unwrap();
        assert_eq!(table.columns[0].text(0).as_deref(), Some("007"));
        assert_eq!(table.columns[1].text(0).as_deref(), Some("1.50"));
        assert_eq!(table.columns[1].numbers().unwrap().as_ref(), [1.5, 2.0]);
    }

    #[test]
    fn rows_edges_and_errors() {
        let error = read("a,b\n").unwrap_err().to_string();
        assert!(error.ends_with(":1: header but no data rows"), "{error}");
        let error = read("").unwrap_err().to_string();
        assert!(error.contains("empty file"), "{error}");
        let table = read("only\n5\n").unwrap();
        assert_eq!((table.rows(), table.names.len()), (1, 1));
        let error = read("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert!(error.ends_with(":3: row has 1 field, header has 2"), "{error}");
        let error = read("a,b\n1,2\n3,\"open\n4,5\n").unwrap_err().to_string();
        assert!(
            error.ends_with(
                ":3:2: unterminated quoted field: the quote opened here is not closed before the end of the file"
            ),
            "{error}"
        );
        let error = read("a,a\n1,2\n").unwrap_err().to_string();
        assert!(error.contains(":1:2: columns 1 and 2 are both named 'a'"), "{error}");
    }
}
