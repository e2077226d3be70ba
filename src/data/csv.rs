//! CSV files: every CSV source (files, files read for prediction, the built-in `iris`,
//! `digits` and `mnist1d` sets) goes through one reader, `read_table`; errors name the file,
//! the 1-based line (the header is line 1) and the 1-based column at fault.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::table::{split_lines, Input, Records, CHUNKS_PER_THREAD, CHUNK_BYTES};
use super::{data_error, open, CsvOptions, Dataset, Target, Task};
use crate::{memory, Error, Matrix, Result};

/// At most this many distinct integer target values make an inferred classification task.
const MAX_INFERRED_CLASSES: usize = 32;

/// Reads a CSV file with a header row of distinct, non-empty names. Every feature cell must be
/// a finite number; the target column may hold numbers or strings.
///
/// Class labels: when every label is a number, labels that are the same number are one class,
/// named by the number's shortest decimal form (`0`, `0.0` and `-0` are class `0`; `1.50` is
/// `1.5`), and classes are in numeric order; otherwise each distinct text is a class, in
/// lexicographic order.
///
/// # Errors
/// [`crate::Error::Io`] if the file cannot be read; [`crate::Error::Data`] naming line and
/// column for an empty file, an empty or repeated column name, a ragged row, a non-numeric,
/// NaN or infinite cell, a quoted cell left open or running over lines, or a missing target
/// column; [`crate::Error::Memory`] when the data outgrow the memory limit.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let table = read_file(path, true, choose_target(options))?;
    labelled(table, options)
}

/// Which columns a file must provide, for [`read_csv_columns`].
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// The feature columns' names, in the order the data set gets them (a model's order).
    pub features: &'a [String],
    /// The target column's name (empty when not known). Read only when `task` is given;
    /// otherwise a column of this name is skipped without being reported as ignored.
    pub target: &'a str,
    /// Read the target as classes or values; `None` for data to predict on (no target read).
    pub task: Option<Task>,
    /// Whether the first row names the columns. Without a header the columns are taken by
    /// position: the features in order, then the target last when `task` is given.
    pub header: bool,
}

/// A data set read by [`read_csv_columns`].
#[derive(Clone, Debug)]
pub struct Matched {
    /// The features in the order asked for, and the target when one was asked for.
    pub data: Dataset,
    /// Columns of the file that were neither a feature nor the target, in file order.
    pub ignored: Vec<String>,
}

/// Reads a CSV file whose columns must fit known ones (a model's, or a training set's): data
/// to evaluate or test on (`columns.task` given: the target is required) or to predict on.
///
/// With a header, every feature and the target are matched by name, whatever their order;
/// other columns are ignored and listed in [`Matched::ignored`]. Without one, the file must
/// have exactly as many columns as there are features, plus one (the target, last) when a
/// target is read. Class labels are read as by [`read_csv`].
///
/// # Errors
/// As [`read_csv`]; [`crate::Error::Data`] at line 1 naming every missing column (and the
/// columns the file has), or giving both counts when a file without header has too few or
/// too many columns.
pub fn read_csv_columns(path: &Path, columns: &Columns) -> Result<Matched> {
    let wanted = columns.features.len() + usize::from(columns.task.is_some());
    let mut ignored = Vec::new();
    let table = read_file(path, columns.header, |header| {
        let features: Vec<(usize, String)>;
        let target;
        if columns.header {
            let find = |name: &str| header.iter().position(|h| h == name);
            let mut missing: Vec<&str> = Vec::new();
            features = columns
                .features
                .iter()
                .filter_map(|name| {
                    find(name).map(|c| (c, name.clone())).or_else(|| {
                        missing.push(name);
                        None
                    })
                })
                .collect();
            target = match columns.task {
                Some(_) => find(columns.target)
                    .map(|c| (c, columns.target.to_string()))
                    .or_else(|| {
                        missing.push(columns.target);
                        None
                    }),
                None => None,
            };
            if !missing.is_empty() {
                let plural = if missing.len() == 1 { "" } else { "s" };
                return Err(format!(
                    "missing column{plural} {}; the file has {}",
                    name_list(&missing),
                    name_list(header)
                ));
            }
            ignored = header
                .iter()
                .filter(|h| *h != columns.target && !columns.features.contains(h))
                .cloned()
                .collect();
        } else {
            if header.len() != wanted {
                let target = if columns.task.is_some() {
                    " and the target last"
                } else {
                    ""
                };
                return Err(format!(
                    "expected {wanted} columns ({} features{target}), found {} (the file has no header row)",
                    columns.features.len(),
                    header.len()
                ));
            }
            features = columns.features.iter().cloned().enumerate().collect();
            target = columns.task.map(|_| (wanted - 1, columns.target.to_string()));
        }
        Ok(Chosen { features, target })
    })?;
    let target = match (&table.target, columns.task) {
        (Some(column), Some(task)) => build_target(column, Some(task), path)?,
        _ => Target::None,
    };
    Ok(Matched {
        data: Dataset {
            x: table.x,
            feature_names: table.feature_names,
            target_name: table.target.map(|t| t.name).unwrap_or_default(),
            target,
            images: false,
        },
        ignored,
    })
}

/// Cells longer than this many characters are cut short when an error message quotes them.
const QUOTED_CHARS: usize = 80;

/// Rows read between two checks of the memory the data takes (see [`memory::check`]).
const ROWS_PER_MEMORY_CHECK: usize = 4096;

/// The message for a table whose header has one column, `name`: with a hint when `name` holds
/// another of the delimiters the readers know, which then probably separates the columns.
pub(crate) fn only_one_column(name: &str) -> String {
    let hint = [b',', b';', b'\t', b'|']
        .into_iter()
        .find(|&d| name.as_bytes().contains(&d))
        .map_or(String::new(), |d| {
            let shown = if d == b'\t' {
                "tab".to_string()
            } else {
                (d as char).to_string()
            };
            format!(" (the header holds '{shown}': is that the delimiter? --delimiter {shown})")
        });
    format!(
        "only one column ({}): need at least one feature column besides the target{hint}",
        quote(name)
    )
}

/// The message for text that is not UTF-8 in `path`: a compressed file is named as such (it
/// fails on its first bytes); other text is to be converted.
pub(crate) fn invalid_utf8(path: &Path) -> String {
    let mut start = [0u8; 6];
    let read = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut start))
        .unwrap_or(0);
    let compressed = [
        (&b"\x1f\x8b"[..], "gzip", "gunzip -k"),
        (b"PK\x03\x04", "zip", "unzip"),
        (b"\xfd7zXZ\x00", "xz", "unxz -k"),
        (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"),
        (b"BZh", "bzip2", "bunzip2 -k"),
    ]
    .into_iter()
    .find(|(magic, _, _)| start[..read].starts_with(magic));
    match compressed {
        Some((_, format, command)) => {
            format!("invalid UTF-8 text: this is a {format}-compressed file; decompress it first ({command} FILE)")
        }
        None => "invalid UTF-8 text: save the file as UTF-8 (from Latin-1, say: iconv -f latin1 -t utf-8)".into(),
    }
}

/// `text` in single quotes for a message: whole up to 80 characters, else its first 79
/// characters, an ellipsis and the full length, so that a huge cell cannot flood the error line.
/// Every message that quotes a cell, a column name or a class label of a file goes through it.
pub fn quote(text: &str) -> String {
    // Control characters (a NUL, an escape sequence that would clear the terminal) are
    // written as escapes, never copied into the message.
    let visible = |chars: &mut dyn Iterator<Item = char>| -> String {
        chars
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_debug().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect()
    };
    let count = text.chars().count();
    if count <= QUOTED_CHARS {
        format!("'{}'", visible(&mut text.chars()))
    } else {
        let head = visible(&mut text.chars().take(QUOTED_CHARS - 1));
        format!("'{head}…' ({count} characters)")
    }
}

/// Column names for a message: each quoted, at most ten, then how many there are in all.
pub(crate) fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    let shown: Vec<String> = names.iter().take(10).map(|n| quote(n.as_ref())).collect();
    match names.len() {
        0..=10 => shown.join(", "),
        n => format!("{}, … ({n} in all)", shown.join(", ")),
    }
}

/// The canonical text of a numeric class label: the shortest decimal that reads back as the
/// same `f64`, without exponent or trailing zeros (`0.0`, `-0` and `0e3` are all `0`, `1.50` is
/// `1.5`); `None` for a label that is not a finite number.
pub(super) fn canonical_number(label: &str) -> Option<String> {
    let value = label.parse::<f64>().ok().filter(|v| v.is_finite())?;
    Some((value + 0.0).to_string())
}

/// The columns chosen from a file, as 0-based indices with the name each is reported under.
struct Chosen {
    features: Vec<(usize, String)>,
    target: Option<(usize, String)>,
}

/// The cells of a target column, kept as text until the task is known.
pub(crate) struct TargetColumn {
    pub(crate) name: String,
    /// 1-based column number.
    pub(crate) column: usize,
    pub(crate) cells: Vec<String>,
    /// 1-based line of each cell.
    pub(crate) lines: Vec<usize>,
}

/// A CSV file read into numeric features and a raw target column.
struct Table {
    path: PathBuf,
    feature_names: Vec<String>,
    x: Matrix,
    target: Option<TargetColumn>,
}

pub(super) fn csv_error<R: Read>(path: &Path, error: csv::Error, reader: &mut csv::Reader<LineCounter<R>>) -> Error {
    let line = error.position().map_or(0, |p| reader.get_mut().line_at(p.byte()));
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => data_error(path, line, err.field() + 1, invalid_utf8(path)),
        _ => data_error(path, line, 0, message),
    }
}

/// A reader that notes where its lines end, so that a record's byte offset gives its line:
/// the csv crate's own count is one too low in files with CRLF line ends.
pub(super) struct LineCounter<R> {
    pub(super) inner: R,
    /// Bytes read so far.
    offset: u64,
    /// Offsets of the line feeds read but not yet passed by [`LineCounter::line_at`].
    ahead: VecDeque<u64>,
    /// Line feeds passed.
    passed: usize,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, _) in buf[..n].iter().enumerate().filter(|(_, &b)| b == b'\n') {
            self.ahead.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            ahead: VecDeque::new(),
            passed: 0,
        }
    }

    /// The 1-based line of a record the csv crate places at byte `offset`; offsets must not
    /// decrease from call to call. (After a CRLF the crate places the next record on the line
    /// feed, which therefore counts as passed.)
    pub(super) fn line_at(&mut self, offset: u64) -> usize {
        while self.ahead.front().is_some_and(|&newline| newline <= offset) {
            self.ahead.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// Refuses a header with an empty or repeated column name, naming the columns (1-based).
pub(super) fn check_header(header: &[String]) -> std::result::Result<(), (usize, String)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (c, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err((c + 1, format!("column {} has no name in the header", c + 1)));
        }
        if let Some(first) = seen.insert(name, c) {
            return Err((
                c + 1,
                format!("columns {} and {} are both named {}", first + 1, c + 1, quote(name)),
            ));
        }
    }
    Ok(())
}

/// The CSV reader behind every CSV source. `choose` picks the columns from the header (the
/// first row when `has_header` is false, which is then read as data); its error message is
/// reported at line 1. Every chosen feature cell must be a finite number.
fn read_table<R: Read>(
    source: R,
    path: &Path,
    has_header: bool,
    choose: impl FnOnce(&[String]) -> std::result::Result<Chosen, String>,
) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(has_header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(LineCounter::new(source));
    let header: Vec<String> = match reader.headers() {
        Ok(header) => header.iter().map(str::to_string).collect(),
        Err(e) => return Err(csv_error(path, e, &mut reader)),
    };
    if header.is_empty() {
        let expected = if has_header { "a header row" } else { "data rows" };
        return Err(data_error(path, 1, 0, format!("empty file: expected {expected}")));
    }
    if has_header {
        check_header(&header).map_err(|(column, message)| data_error(path, 1, column, message))?;
    }
    let chosen = choose(&header).map_err(|message| data_error(path, 1, 0, message))?;
    let mut target = chosen.target.map(|(c, name)| TargetColumn {
        name,
        column: c + 1,
        cells: Vec::new(),
        lines: Vec::new(),
    });
    let what = format!("the data of {}", path.display());
    let mut values = Vec::new();
    let mut target_bytes = 0u64;
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    let next = |reader: &mut csv::Reader<LineCounter<R>>, record: &mut csv::StringRecord| {
        reader.read_record(record).map_err(|e| csv_error(path, e, reader))
    };
    while next(&mut reader, &mut record)? {
        let line = record.position().map_or(0, |p| reader.get_mut().line_at(p.byte()));
        // A quote left open swallows the rest of the file into one cell (which starts on the
        // record's line: the cells before it hold no line break).
        if let Some(c) = record.iter().position(|cell| cell.contains(['\n', '\r'])) {
            let message = if next(&mut reader, &mut record)? {
                "quoted cell runs over several lines; a cell must fit on one line"
            } else {
                "unterminated quoted field: the quote opened here is not closed before the end of the file"
            };
            return Err(data_error(path, line, c + 1, message));
        }
        if record.len() != header.len() {
            let plural = if record.len() == 1 { "" } else { "s" };
            let first = if has_header { "header" } else { "first row" };
            return Err(data_error(
                path,
                line,
                0,
                format!("row has {} field{plural}, {first} has {}", record.len(), header.len()),
            ));
        }
        for (c, name) in &chosen.features {
            let value = parse_number(&record[*c])
                .map_err(|why| data_error(path, line, c + 1, format!("column {}: {why}", quote(name))))?;
            values.push(value);
        }
        if let Some(target) = target.as_mut() {
            let cell = &record[target.column - 1];
            target_bytes += (cell.len() + std::mem::size_of::<String>() + std::mem::size_of::<usize>()) as u64;
            target.cells.push(cell.to_string());
            target.lines.push(line);
        }
        rows += 1;
        if rows % ROWS_PER_MEMORY_CHECK == 0 {
            // what is held now, and as much again when the values grow next
            memory::check(&what, 2 * memory::bytes([values.len()], 4) + target_bytes)?;
        }
    }
    if rows == 0 {
        return Err(data_error(path, 1, 0, "header but no data rows"));
    }
    Ok(Table {
        path: path.to_path_buf(),
        feature_names: chosen.features.into_iter().map(|(_, name)| name).collect(),
        x: Matrix::from_vec(rows, values.len() / rows, values),
        target,
    })
}

/// [`read_table`] of a file, in parallel: the file is read in batches cut into chunks at line
/// feeds, and the chunks parsed on the rayon pool by the record splitter of
/// [`super::table::read_table`] (which splits records as the `csv` crate does). A file with
/// anything [`read_table`] refuses (and any quoted line break) is read again by it from the
/// start, so that its error is exactly the one it reports.
fn read_file(
    path: &Path,
    has_header: bool,
    mut choose: impl FnMut(&[String]) -> std::result::Result<Chosen, String>,
) -> Result<Table> {
    let batch = CHUNKS_PER_THREAD * rayon::current_num_threads() * CHUNK_BYTES;
    match read_parallel(path, has_header, &mut choose, batch, CHUNK_BYTES)? {
        Some(table) => Ok(table),
        None => read_table(open(path)?, path, has_header, choose),
    }
}

/// The rows of one chunk of a file read by [`read_parallel`].
#[derive(Default)]
struct Rows {
    values: Vec<f32>,
    cells: Vec<String>,
    /// Lines on which the rows begin, counted from the start of the chunk.
    lines: Vec<usize>,
    /// Line feeds in the chunk.
    newlines: usize,
}

/// [`read_file`]'s parallel reading, `batch` bytes at a time cut into chunks of `chunk` bytes:
/// `None` when the file holds anything but plain rows of numbers (and target cells) or
/// outgrows the memory limit.
fn read_parallel(
    path: &Path,
    has_header: bool,
    choose: &mut dyn FnMut(&[String]) -> std::result::Result<Chosen, String>,
    batch: usize,
    chunk: usize,
) -> Result<Option<Table>> {
    let mut input = Input {
        file: open(path)?,
        path,
        buffer: Vec::new(),
        eof: false,
    };
    // A batch beyond the memory limit is left to the serial reader, which reads less at a time.
    let fill = |input: &mut Input, want: usize| match input.fill(want) {
        Err(Error::Memory { .. }) => Ok(false),
        other => other.map(|()| true),
    };
    let mut want = batch.max(1);
    let (mut records, rest) = loop {
        if !fill(&mut input, want)? {
            return Ok(None);
        }
        let mut records = Records::new(b',', true);
        let mut rest = &input.buffer[..];
        if records.next(&mut rest, false) || (input.eof && records.finish()) {
            break (records, input.buffer.len() - rest.len());
        }
        if input.eof {
            return Ok(None);
        }
        want *= 2;
    };
    let Ok(header) = records.cells() else {
        return Ok(None);
    };
    let header: Vec<String> = header.into_iter().map(str::to_string).collect();
    if header.is_empty() || (has_header && check_header(&header).is_err()) {
        return Ok(None);
    }
    let Ok(chosen) = choose(&header) else {
        return Ok(None);
    };
    let features: Vec<usize> = chosen.features.iter().map(|&(c, _)| c).collect();
    let target_column = chosen.target.as_ref().map(|&(c, _)| c);
    let mut newlines = 0;
    let mut first = None;
    if has_header {
        newlines = records.newlines;
        input.buffer.drain(..rest);
    } else {
        first = Some(records);
        records = Records::new(b',', true);
    }
    drop(records);
    let parse = |chunk: &[u8], mut records: Records, end: bool| -> Option<Rows> {
        let plain = memchr::memchr(b'"', chunk).is_none();
        let mut rows = Rows::default();
        let take = |records: &Records, rows: &mut Rows| -> Option<()> {
            let cells = records.cells().ok()?;
            if cells.len() != header.len() || cells.iter().any(|cell| cell.contains(['\n', '\r'])) {
                return None;
            }
            for &c in &features {
                let cell = cells[c];
                let value = super::table::parse_f32(cell).ok().filter(|v| v.is_finite())?;
                rows.values.push(value);
            }
            if let Some(c) = target_column {
                rows.cells.push(cells[c].to_string());
            }
            rows.lines.push(records.line);
            Some(())
        };
        let mut input = chunk;
        while records.next(&mut input, plain) {
            take(&records, &mut rows)?;
        }
        if end && records.finish() {
            take(&records, &mut rows)?;
        }
        if records.in_record {
            return None;
        }
        rows.newlines = records.newlines;
        Some(rows)
    };
    let what = format!("the data of {}", path.display());
    let (mut values, mut cells, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut target_bytes = 0u64;
    want = batch.max(1);
    loop {
        if !fill(&mut input, want)? {
            return Ok(None);
        }
        let end = match (input.eof, memchr::memrchr(b'\n', &input.buffer)) {
            (true, _) => input.buffer.len(),
            (false, Some(i)) => i + 1,
            (false, None) => {
                want = 2 * input.buffer.len().max(1);
                continue;
            }
        };
        want = batch.max(1);
        let chunks = split_lines(&input.buffer[..end], chunk);
        let last = chunks.len() - 1;
        let mut starts: Vec<Records> = (0..chunks.len()).map(|_| Records::new(b',', false)).collect();
        if let Some(records) = first.take() {
            starts[0] = records;
        }
        let parts: Option<Vec<Rows>> = starts
            .into_par_iter()
            .enumerate()
            .map(|(k, records)| parse(chunks[k], records, input.eof && k == last))
            .collect();
        let Some(parts) = parts else {
            return Ok(None);
        };
        for part in parts {
            values.extend_from_slice(&part.values);
            target_bytes += part
                .cells
                .iter()
                .map(|cell| (cell.len() + std::mem::size_of::<String>() + std::mem::size_of::<usize>()) as u64)
                .sum::<u64>();
            cells.extend(part.cells);
            lines.extend(part.lines.iter().map(|line| newlines + line));
            newlines += part.newlines;
        }
        // what is held now, and as much again when the values grow next
        if memory::check(&what, 2 * memory::bytes([values.len()], 4) + target_bytes).is_err() {
            return Ok(None);
        }
        input.buffer.drain(..end);
        if input.eof {
            break;
        }
    }
    let rows = lines.len();
    if rows == 0 {
        return Ok(None);
    }
    let target = chosen.target.map(|(c, name)| TargetColumn {
        name,
        column: c + 1,
        cells,
        lines,
    });
    Ok(Some(Table {
        path: path.to_path_buf(),
        feature_names: chosen.features.into_iter().map(|(_, name)| name).collect(),
        x: Matrix::from_vec(rows, features.len(), values),
        target,
    }))
}

/// A finite `f32`, or why the cell is not one.
fn parse_number(cell: &str) -> std::result::Result<f32, String> {
    if cell.is_empty() {
        return Err("empty cell, expected a number".to_string());
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("{} is not a finite number", quote(cell))),
        Err(_) => Err(format!("{} is not a number", quote(cell))),
    }
}

/// Reads a labelled CSV (file or built-in): features and a target column.
pub(crate) fn parse_csv<R: Read>(source: R, path: &Path, options: &CsvOptions) -> Result<Dataset> {
    let table = read_table(source, path, true, choose_target(options))?;
    labelled(table, options)
}

/// Chooses the target column of a labelled CSV (`options.target`, else the last) and every
/// other column as a feature.
fn choose_target(options: &CsvOptions) -> impl FnMut(&[String]) -> std::result::Result<Chosen, String> + '_ {
    |header| {
        let target = match &options.target {
            Some(name) => header.iter().position(|h| h == name).ok_or_else(|| {
                format!(
                    "no target column {}; the columns are {}",
                    quote(name),
                    name_list(header)
                )
            })?,
            None => header.len() - 1,
        };
        if header.len() < 2 {
            return Err(only_one_column(&header[target]));
        }
        Ok(Chosen {
            features: (0..header.len())
                .filter(|&c| c != target)
                .map(|c| (c, header[c].clone()))
                .collect(),
            target: Some((target, header[target].clone())),
        })
    }
}

/// A labelled data set from a table read with [`choose_target`].
fn labelled(table: Table, options: &CsvOptions) -> Result<Dataset> {
    let column = table.target.expect("a target column was chosen");
    let target = build_target(&column, options.task, &table.path)?;
    Ok(Dataset {
        x: table.x,
        feature_names: table.feature_names,
        target_name: column.name,
        target,
        images: false,
    })
}

/// Turns the text of a target column into classes or values, inferring the task when `task`
/// is `None`.
pub(crate) fn build_target(column: &TargetColumn, task: Option<Task>, path: &Path) -> Result<Target> {
    let error = |i: usize, why: String| {
        data_error(
            path,
            column.lines[i],
            column.column,
            format!("column {}: {why}", quote(&column.name)),
        )
    };
    if let Some(i) = column.cells.iter().position(|c| c.is_empty()) {
        return Err(error(i, "empty target cell".to_string()));
    }
    let task = match task {
        Some(task) => task,
        None => {
            let numbers: Option<Vec<f64>> = column.cells.iter().map(|c| c.parse::<f64>().ok()).collect();
            match numbers {
                None => Task::Classification,
                Some(numbers) => {
                    if let Some(i) = numbers.iter().position(|v| !v.is_finite()) {
                        let why = format!("{} is not a finite number", quote(&column.cells[i]));
                        return Err(error(i, why));
                    }
                    let distinct: BTreeSet<u64> = numbers.iter().map(|v| (v + 0.0).to_bits()).collect();
                    if numbers.iter().all(|v| v.fract() == 0.0) && distinct.len() <= MAX_INFERRED_CLASSES {
                        Task::Classification
                    } else {
                        Task::Regression
                    }
                }
            }
        }
    };
    match task {
        Task::Regression => column
            .cells
            .iter()
            .enumerate()
            .map(|(i, cell)| parse_number(cell).map_err(|why| error(i, format!("{why} (the task is regression)"))))
            .collect::<Result<Vec<f32>>>()
            .map(Target::Values),
        Task::Classification => Ok(classes_from_labels(&column.cells)),
    }
}

/// Classes from label texts. When every label is a finite number, labels that are the same
/// number are one class, named by [`canonical_number`]; otherwise each distinct text is a class.
pub(super) fn classes_from_labels(cells: &[String]) -> Target {
    let canonical: Option<Vec<String>> = cells.iter().map(|c| canonical_number(c)).collect();
    let cells = canonical.as_deref().unwrap_or(cells);
    let classes = order_classes(cells.iter().cloned().collect());
    let index: HashMap<&str, u32> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i as u32))
        .collect();
    let labels = cells.iter().map(|c| index[c.as_str()]).collect();
    Target::Classes { labels, classes }
}

/// Class labels in output order: numerically ascending when all are numbers (ties by text),
/// else lexicographic.
pub(super) fn order_classes(labels: BTreeSet<String>) -> Vec<String> {
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|v| !v.is_nan()))
        .collect();
    match numbers {
        None => labels.into_iter().collect(),
        Some(numbers) => {
            let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(labels).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            pairs.into_iter().map(|(_, l)| l).collect()
        }
    }
}

#[cfg(test)]
mod tests;
