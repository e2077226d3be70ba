//! Tables of mixed columns: numbers, text and missing cells, read from a CSV file whose
//! delimiter is sniffed from the header. [`crate::preprocess`] turns a [`Table`] into features.
//!
//! Quoting follows RFC 4180 (the `csv` crate): a quoted field may hold the delimiter, quotes
//! written twice and line breaks. Cells are trimmed of surrounding whitespace. A cell is missing
//! when its trimmed text is one of [`TableOptions::na_values`] (by default
//! [`DEFAULT_NA_VALUES`]).
//!
//! The file is read in batches of a few MiB; each batch is cut into chunks at line feeds and the
//! chunks are parsed in parallel on the rayon pool, then joined in order, so that the table is
//! the same, cell for cell and line for line, as a reading from start to end. A chunk is parsed
//! as if a record started on its first byte. That guess is checked rather than made safe by a
//! scan for quotes: a chunk that ends inside a quoted cell (a line break in quotes across the
//! cut) is continued with the rest of the file, one record after another on one thread; the
//! chunks after it are dropped. A column that turns into text in one chunk makes the chunks
//! after it be parsed again with the column as text from their first row (see [`Column::Text`]).
//! The next batch is read from the file while one is parsed.
//!
//! A chunk without any quote is read line by line straight from its bytes: fields end at the
//! delimiter, short decimals are worked out in place (see `parse_prefix`); a line that fails
//! there (a ragged row, a number that is not finite, text that is not UTF-8) is left to the
//! general reader (`csv-core`), which reports it.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{data_error, name_list, open, quote};
use crate::{memory, Error, Result};

/// The cells read as missing unless [`TableOptions::na_values`] says otherwise.
pub const DEFAULT_NA_VALUES: [&str; 8] = ["", "NA", "N/A", "NaN", "nan", "null", "?", "-"];

/// The delimiters [`read_table`] chooses among, in the order that breaks a tie.
pub const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Code of a missing cell in a [`Column::Text`].
pub const MISSING: u32 = u32::MAX;

/// Bytes of the file in a chunk parsed by one thread.
pub(super) const CHUNK_BYTES: usize = 1 << 19;

/// Chunks per thread in a batch: the file is read a batch at a time (the next one while this
/// one is parsed), and the table's memory checked after each (see [`memory::check`]).
pub(super) const CHUNKS_PER_THREAD: usize = 4;

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

/// A cell as `str::parse::<f32>` reads it: plain decimals by a faster parser, whatever that one
/// refuses or reads as infinite or NaN by the standard library's (so both agree on every text).
pub(super) fn parse_f32(cell: &str) -> std::result::Result<f32, std::num::ParseFloatError> {
    match fast_float2::parse::<f32, _>(cell) {
        Ok(v) if v.is_finite() => Ok(v),
        _ => cell.parse::<f32>(),
    }
}

/// The finite number at the start of `bytes` and how many bytes it takes, as
/// [`fast_float2::parse_partial`] reads it (`None` for one it reads as infinite or NaN). Short decimals (an optional minus, at most nine
/// digits around an optional point, a value up to 2^24, no exponent) are worked out here: the
/// digits as an integer divided by a power of ten, both exact in `f32`, so that the one
/// rounding of the division gives the correctly rounded value, as every parser must.
fn parse_prefix(bytes: &[u8]) -> Option<(f32, usize)> {
    let negative = bytes.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut mantissa = 0u64;
    let mut digits = 0;
    let mut fraction = 0;
    let mut point = false;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_digit() && digits < 10 {
            mantissa = 10 * mantissa + u64::from(b - b'0');
            digits += 1;
            fraction += usize::from(point);
        } else if b == b'.' && !point {
            point = true;
        } else {
            break;
        }
        i += 1;
    }
    let exact = digits > 0 && digits < 10 && mantissa <= 1 << 24;
    if !exact || matches!(bytes.get(i), Some(b'0'..=b'9' | b'e' | b'E')) {
        return fast_float2::parse_partial(bytes)
            .ok()
            .filter(|(v, _): &(f32, _)| v.is_finite());
    }
    let value = mantissa as f32 / POWERS[fraction];
    Some((if negative { -value } else { value }, i))
}

/// Powers of ten exact in `f32`, to divide a short decimal's digits by.
const POWERS: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// The cell `bytes[start..end]` as a finite number, as [`parse_prefix`] reads it when it fills
/// the cell. A short decimal (an optional minus, then at most eight digits and one point) is read
/// eight bytes at a time: its bytes that are not digits found at once, the point taken out, and
/// the digits summed in one word (see [`digits_value`]); what that finds exact goes through the
/// one division of [`parse_prefix`], anything else through [`parse_prefix`] itself.
fn parse_number(bytes: &[u8], start: usize, end: usize) -> Option<f32> {
    if start == end {
        return None;
    }
    let negative = bytes.get(start) == Some(&b'-');
    let from = start + usize::from(negative);
    let len = end.saturating_sub(from);
    let word = bytes.get(from..from + 8).filter(|_| (1..=8).contains(&len));
    let Some(word) = word.map(|w| u64::from_le_bytes(w.try_into().expect("eight bytes"))) else {
        return parse_prefix(&bytes[start..]).and_then(|(v, n)| (n == end - start).then_some(v));
    };
    let others = non_digits(word) & (u64::MAX >> (8 * (8 - len)));
    let (digits, fraction) = if others == 0 {
        (word, 0)
    } else {
        // One point, and nothing else but digits: the digits after it moved down one byte.
        let point = others.trailing_zeros() as usize / 8;
        if others & (others - 1) != 0 || (word >> (8 * point)) as u8 != b'.' {
            return parse_prefix(&bytes[start..]).and_then(|(v, n)| (n == end - start).then_some(v));
        }
        let below = (1u64 << (8 * point)) - 1;
        ((word & below) | ((word >> 8) & !below), len - 1 - point)
    };
    let count = len - usize::from(others != 0);
    let mantissa = digits_value(digits, count);
    if count == 0 || mantissa > 1 << 24 {
        return parse_prefix(&bytes[start..]).and_then(|(v, n)| (n == end - start).then_some(v));
    }
    // The sign set without a branch: signs in data follow no pattern a branch would learn.
    let value = mantissa as f32 / POWERS[fraction];
    Some(f32::from_bits(value.to_bits() | (u32::from(negative) << 31)))
}

/// Where the fields of `line` (at `offset` in its bytes, without its line end) end: at each
/// `delimiter`, found eight bytes at a time, and at the end of the line.
fn field_ends(line: &[u8], offset: usize, delimiter: u8, ends: &mut Vec<usize>) {
    const SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    ends.clear();
    let mut words = line.chunks_exact(8);
    let mut at = offset;
    for word in &mut words {
        // a byte's low seven bits plus 0x7f set its top bit unless they are zero, without a carry
        let x =
            u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ (u64::from(delimiter) * 0x0101_0101_0101_0101);
        let mut found = !((((x & SEVEN) + SEVEN) | x) | SEVEN);
        while found != 0 {
            ends.push(at + found.trailing_zeros() as usize / 8);
            found &= found - 1;
        }
        at += 8;
    }
    ends.extend(
        (at..)
            .zip(words.remainder())
            .filter(|&(_, &b)| b == delimiter)
            .map(|(i, _)| i),
    );
    ends.push(offset + line.len());
}

/// The top bit of each byte of `word` that is not an ASCII digit, and no other bit.
fn non_digits(word: u64) -> u64 {
    const SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // A digit's byte xor '0' is at most 9: its low seven bits plus 0x76 stay below 0x80 (and
    // never carry into the next byte); any other byte's set the top bit, or had it set.
    let x = word ^ 0x3030_3030_3030_3030;
    (((x & SEVEN) + 0x7676_7676_7676_7676) | x) & !SEVEN
}

/// The value of the first `count` (at most 8) bytes of `word`, ASCII digits with the first
/// lowest: moved to the top with zeros below, then paired, paired again and summed with
/// multiplications (the method of `fast_float`'s eight-digit parser).
fn digits_value(word: u64, count: usize) -> u64 {
    const PAIRS: u64 = 0x0000_00ff_0000_00ff;
    if count == 0 {
        return 0;
    }
    let digits = word.wrapping_sub(0x3030_3030_3030_3030) << (8 * (8 - count));
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let low = (pairs & PAIRS).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((pairs >> 16) & PAIRS).wrapping_mul(1 + (10_000 << 32));
    low.wrapping_add(high) >> 32
}

/// The column being read.
#[derive(Debug)]
enum Builder {
    Numeric(Vec<f32>),
    /// Each row's index into the distinct texts in order of appearance: below `offset`, into
    /// the table's levels when the chunk was read (see [`Builder::push`]); from `offset` on,
    /// into `levels`, the texts new to the chunk.
    Text {
        codes: Vec<u32>,
        levels: Levels,
        offset: usize,
    },
}

/// Distinct texts in order of appearance, each found by its text: a text shorter than 16 bytes
/// by its bytes and length packed into one integer (see [`pack`]), without comparing strings.
#[derive(Debug, Default)]
struct Levels {
    texts: indexmap::IndexSet<String, foldhash::fast::RandomState>,
    short: std::collections::HashMap<u128, u32, foldhash::fast::RandomState>,
}

impl Levels {
    fn len(&self) -> usize {
        self.texts.len()
    }

    /// The index of the text whose bytes are `text`.
    fn find(&self, text: &[u8]) -> Option<usize> {
        match pack(text) {
            Some(key) => self.short.get(&key).map(|&code| code as usize),
            None => self.texts.get_index_of(std::str::from_utf8(text).ok()?),
        }
    }

    /// The index of `text`, added at the end if new, and whether it was.
    fn insert_full(&mut self, text: String) -> (usize, bool) {
        let Some(key) = pack(text.as_bytes()) else {
            return self.texts.insert_full(text);
        };
        let next = self.texts.len();
        match self.short.entry(key) {
            std::collections::hash_map::Entry::Occupied(code) => (*code.get() as usize, false),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(next as u32);
                self.texts.insert(text);
                (next, true)
            }
        }
    }
}

/// A text shorter than 16 bytes as one integer: its bytes, zeros, and its length last.
fn pack(text: &[u8]) -> Option<u128> {
    if text.len() >= 16 {
        return None;
    }
    let bytes = text
        .iter()
        .enumerate()
        .fold(0, |key, (i, &b)| key | u128::from(b) << (8 * i));
    Some(bytes | (text.len() as u128) << 120)
}

impl Builder {
    fn new(text: bool) -> Self {
        if text {
            Builder::Text {
                codes: Vec::new(),
                levels: Levels::default(),
                offset: 0,
            }
        } else {
            Builder::Numeric(Vec::new())
        }
    }

    fn is_text(&self) -> bool {
        matches!(self, Builder::Text { .. })
    }

    /// Whether the column, read as numbers at first, turned text at its first cell that is not
    /// missing: what it holds is then what a reading as text from the first row would hold. (Its
    /// first level is then no number: numbers before the first text become levels that are.)
    fn text_from_first_cell(&self) -> bool {
        let Builder::Text { codes, levels, offset } = self else {
            return false;
        };
        let first = codes.iter().find(|&&code| code != MISSING);
        let level = first.and_then(|&code| levels.texts.get_index((code as usize).checked_sub(*offset)?));
        level.is_some_and(|level| parse_f32(level).is_err())
    }

    /// Turns a numeric column into text: each number becomes the shortest text of its value.
    fn make_text(&mut self) {
        if let Builder::Numeric(values) = self {
            let values = std::mem::take(values);
            *self = Builder::new(true);
            for v in values {
                let missing = v.is_nan();
                self.push_text(&if missing { String::new() } else { number_text(v) }, missing, None);
            }
        }
    }

    /// Adds a cell; `Err` with why for a number that is not finite. A text is looked up in
    /// `base` (the table's levels, for a chunk's column that was text before the chunk) first.
    fn push(&mut self, cell: &str, missing: bool, base: Option<&Levels>) -> std::result::Result<(), String> {
        if let Builder::Numeric(values) = self {
            if missing {
                values.push(f32::NAN);
                return Ok(());
            }
            match parse_f32(cell) {
                Ok(v) if v.is_finite() => {
                    values.push(v);
                    return Ok(());
                }
                Ok(_) => return Err(format!("{} is not a finite number", quote(cell))),
                Err(_) => self.make_text(),
            }
        }
        self.push_text(cell, missing, base);
        Ok(())
    }

    /// Adds a cell to a text column, looking it up in `base` first.
    fn push_text(&mut self, cell: &str, missing: bool, base: Option<&Levels>) {
        let Builder::Text { codes, .. } = self else {
            unreachable!("the column is text")
        };
        if missing {
            codes.push(MISSING);
            return;
        }
        if self.push_known(cell.as_bytes(), base) {
            return;
        }
        let Builder::Text { codes, levels, offset } = self else {
            unreachable!("the column is text")
        };
        let (code, _) = levels.insert_full(cell.to_string());
        codes.push((*offset + code) as u32);
    }

    /// Adds a cell of a text column that is a level already (looked up in `base` first) and
    /// whether it was one; a cell of a numeric column is none.
    fn push_known(&mut self, cell: &[u8], base: Option<&Levels>) -> bool {
        let Builder::Text { codes, levels, offset } = self else {
            return false;
        };
        if let Some(base) = base {
            *offset = base.len();
            if let Some(code) = base.find(cell) {
                codes.push(code as u32);
                return true;
            }
        }
        let code = levels.find(cell).map(|code| *offset + code);
        codes.extend(code.map(|code| code as u32));
        code.is_some()
    }

    /// Room for `rows` more cells.
    fn reserve(&mut self, rows: usize) {
        match self {
            Builder::Numeric(values) => values.reserve(rows),
            Builder::Text { codes, .. } => codes.reserve(rows),
        }
    }

    /// Appends the rows of `part`, read after this column's. A numeric part must not follow
    /// text (its numbers would have been read as text, see [`read_table`]). Returns the bytes
    /// of new levels.
    fn append(&mut self, part: Builder) -> usize {
        match (self, part) {
            (Builder::Numeric(values), Builder::Numeric(more)) => {
                values.extend_from_slice(&more);
                0
            }
            (this, Builder::Text { codes, levels, offset }) => {
                this.make_text();
                let Builder::Text {
                    codes: all,
                    levels: all_levels,
                    ..
                } = this
                else {
                    unreachable!("the column is text")
                };
                let mut bytes = 0;
                let map: Vec<u32> = levels
                    .texts
                    .into_iter()
                    .map(|level| {
                        let new = level_bytes(&level);
                        let (code, added) = all_levels.insert_full(level);
                        bytes += if added { new } else { 0 };
                        code as u32
                    })
                    .collect();
                all.extend(codes.iter().map(|&c| match c as usize {
                    _ if c == MISSING => MISSING,
                    c if c < offset => c as u32,
                    c => map[c - offset],
                }));
                bytes
            }
            (Builder::Text { .. }, Builder::Numeric(_)) => unreachable!("numbers read after the column turned text"),
        }
    }

    fn finish(self) -> Column {
        match self {
            Builder::Numeric(values) => Column::Numeric(values),
            Builder::Text { codes, levels, .. } => Column::Text {
                codes,
                levels: levels.texts.into_iter().collect(),
            },
        }
    }
}

/// The memory a level of text takes: the text, its `String` and its slot in the index.
fn level_bytes(cell: &str) -> usize {
    cell.len() + std::mem::size_of::<String>() + 16
}

/// Splits CSV bytes fed to it piece by piece into records exactly as the `csv` crate does
/// (RFC 4180 quoting; `\r`, `\n` or `\r\n` ends a record; blank lines are skipped), and counts
/// the lines passed.
pub(super) struct Records {
    /// Built when first needed: a chunk without quotes is split without it, and building one
    /// takes longer than splitting a few lines.
    core: Option<csv_core::Reader>,
    delimiter: u8,
    /// Whether the next bytes fed begin the file (where a UTF-8 byte order mark is dropped).
    file_start: bool,
    /// Whether the core has been fed yet.
    fed: bool,
    /// The fields of the record being read, and where each ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    nout: usize,
    nend: usize,
    /// Bytes between one field's end and the next one's start: 0 as the core writes fields, 1
    /// for a line split directly (its delimiters kept).
    gap: usize,
    /// Whether a record has begun and not ended.
    pub(super) in_record: bool,
    /// Line feeds passed since the first byte fed.
    pub(super) newlines: usize,
    /// The 1-based line, counted from the first byte fed, on which the last record began.
    pub(super) line: usize,
}

impl Records {
    pub(super) fn new(delimiter: u8, file_start: bool) -> Self {
        Self {
            core: None,
            delimiter,
            file_start,
            fed: false,
            out: vec![0; 1024],
            ends: vec![0; 64],
            nout: 0,
            nend: 0,
            gap: 0,
            in_record: false,
            newlines: 0,
            line: 0,
        }
    }

    /// Reads the next record from `input`, advancing it. `false` when `input` ends first: the
    /// part of a record read so far is kept for the next call (or [`Records::finish`]). With
    /// `plain` (`input` holds no quote), a whole line is split at the delimiter directly, as
    /// the core would split it.
    pub(super) fn next(&mut self, input: &mut &[u8], plain: bool) -> bool {
        loop {
            if !self.in_record {
                let skip = input
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(input.len());
                self.newlines += memchr::memchr_iter(b'\n', &input[..skip]).count();
                self.file_start &= skip == 0;
                *input = &input[skip..];
                if input.is_empty() {
                    return false;
                }
                self.in_record = true;
                self.line = self.newlines + 1;
                self.nout = 0;
                self.nend = 0;
                self.gap = 0;
                if plain && !self.file_start {
                    if let Some(end) = memchr::memchr2(b'\n', b'\r', input) {
                        self.split_line(&input[..end]);
                        *input = &input[end..];
                        return true;
                    }
                }
            }
            // The core drops a byte order mark from the first bytes it is fed: one byte at first
            // keeps it from doing so anywhere but at the start of the file.
            let take = if self.fed || self.file_start { input.len() } else { 1 };
            let (result, nin, nout, nend) = core(&mut self.core, self.delimiter).read_record(
                &input[..take],
                &mut self.out[self.nout..],
                &mut self.ends[self.nend..],
            );
            self.fed = true;
            self.file_start = false;
            self.newlines += memchr::memchr_iter(b'\n', &input[..nin]).count();
            *input = &input[nin..];
            self.nout += nout;
            self.nend += nend;
            match result {
                csv_core::ReadRecordResult::Record => {
                    self.in_record = false;
                    return true;
                }
                csv_core::ReadRecordResult::OutputFull => self.out.resize(2 * self.out.len(), 0),
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(2 * self.ends.len(), 0),
                csv_core::ReadRecordResult::InputEmpty | csv_core::ReadRecordResult::End => {
                    if input.is_empty() {
                        return false;
                    }
                }
            }
        }
    }

    /// Takes `line`, which holds no quote and no line end, as a record.
    fn split_line(&mut self, line: &[u8]) {
        if self.out.len() < line.len() {
            self.out.resize(line.len().next_power_of_two(), 0);
        }
        self.out[..line.len()].copy_from_slice(line);
        self.nout = line.len();
        self.gap = 1;
        for end in memchr::memchr_iter(self.delimiter, line).chain([line.len()]) {
            if self.nend == self.ends.len() {
                self.ends.resize(2 * self.ends.len(), 0);
            }
            self.ends[self.nend] = end;
            self.nend += 1;
        }
        self.in_record = false;
    }

    /// At the end of the file: the record left unfinished, if any.
    pub(super) fn finish(&mut self) -> bool {
        while self.in_record {
            let (result, _, _, nend) =
                core(&mut self.core, self.delimiter).read_record(&[], &mut [], &mut self.ends[self.nend..]);
            self.nend += nend;
            match result {
                csv_core::ReadRecordResult::Record => {
                    self.in_record = false;
                    return true;
                }
                csv_core::ReadRecordResult::OutputEndsFull => self.ends.resize(2 * self.ends.len() + 1, 0),
                _ => self.in_record = false,
            }
        }
        false
    }

    /// The fields of the last record read.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = &self.ends[..self.nend];
        (0..ends.len()).map(move |i| &self.out[if i == 0 { 0 } else { ends[i - 1] + self.gap }..ends[i]])
    }

    /// The text of the last record read, where each field ends in it and the gap before the
    /// next, or the 0-based index of the first field that is not UTF-8.
    fn text(&self) -> std::result::Result<(&str, &[usize], usize), usize> {
        let ends = &self.ends[..self.nend];
        // The whole record at once; a field is UTF-8 when the record is and it starts and ends
        // between characters (a gap is an ASCII delimiter).
        match std::str::from_utf8(&self.out[..self.nout]) {
            Ok(text) if ends.iter().all(|&end| text.is_char_boundary(end)) => Ok((text, ends, self.gap)),
            _ => Err(self
                .fields()
                .position(|field| std::str::from_utf8(field).is_err())
                .expect("a field that is not UTF-8")),
        }
    }

    /// The fields of the last record read, trimmed, or the 0-based index of the first that is
    /// not UTF-8.
    pub(super) fn cells(&self) -> std::result::Result<Vec<&str>, usize> {
        let (text, ends, gap) = self.text()?;
        Ok(cells(text, ends, gap).collect())
    }
}

/// The `csv-core` reader of [`Records`], built on first use.
fn core(core: &mut Option<csv_core::Reader>, delimiter: u8) -> &mut csv_core::Reader {
    core.get_or_insert_with(|| csv_core::ReaderBuilder::new().delimiter(delimiter).build())
}

/// The trimmed cells of a record's `text`, whose fields end at `ends`, each but the first
/// starting `gap` bytes after the end of the one before.
fn cells<'a>(text: &'a str, ends: &'a [usize], gap: usize) -> impl Iterator<Item = &'a str> + 'a {
    (0..ends.len()).map(move |i| text[if i == 0 { 0 } else { ends[i - 1] + gap }..ends[i]].trim())
}

/// What every part of a reading shares.
struct Layout<'a> {
    names: &'a [String],
    options: &'a TableOptions,
    /// The length of the longest missing-value token (a longer cell is not one).
    longest_na: usize,
    /// Which bytes a missing-value token begins with.
    na_first: [bool; 256],
    /// Whether a missing-value token reads as a number (else no number is one).
    numeric_na: bool,
}

impl Layout<'_> {
    fn new<'a>(names: &'a [String], options: &'a TableOptions) -> Layout<'a> {
        let mut na_first = [false; 256];
        for na in &options.na_values {
            na_first[usize::from(na.as_bytes().first().copied().unwrap_or(0))] = true;
        }
        Layout {
            names,
            options,
            longest_na: options.na_values.iter().map(String::len).max().unwrap_or(0),
            na_first,
            numeric_na: options.na_values.iter().any(|na| parse_f32(na).is_ok()),
        }
    }

    /// Whether `cell` is one of the missing-value tokens (the empty one begins with byte 0 here).
    fn is_missing(&self, cell: &[u8]) -> bool {
        cell.len() <= self.longest_na
            && self.na_first[usize::from(cell.first().copied().unwrap_or(0))]
            && self.options.na_values.iter().any(|na| na.as_bytes() == cell)
    }
}

/// Why a reading stopped, at a line counted from the start of the part that stopped.
#[derive(Debug)]
enum Failure {
    /// An error at a cell or a line.
    At {
        line: usize,
        column: usize,
        message: String,
    },
    /// Text that is not UTF-8 (see [`super::csv::invalid_utf8`]).
    Utf8 { line: usize, column: usize },
    /// A ragged row; when one of its cells holds a line break (0-based column), a quote left
    /// open is the better explanation if the file has an odd number of quotes.
    Ragged {
        line: usize,
        fields: usize,
        line_break: Option<usize>,
    },
}

/// The rows read from one chunk of the file (or, after a chunk that ended inside quotes, from
/// there to the end of the file).
#[derive(Debug)]
struct Part {
    records: Records,
    builders: Vec<Builder>,
    /// Lines on which the rows begin, counted from the start of the part.
    lines: Vec<usize>,
    failure: Option<Failure>,
    /// The last row's first cell (0-based) that holds a line break, with the row's line.
    line_break: Option<(usize, usize)>,
    /// The columns read as text from the first row (see [`Builder::append`]).
    text: Vec<bool>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("newlines", &self.newlines).finish()
    }
}

impl Part {
    fn new(records: Records, text: Vec<bool>) -> Self {
        Self {
            records,
            builders: text.iter().map(|&t| Builder::new(t)).collect(),
            lines: Vec::new(),
            failure: None,
            line_break: None,
            text,
        }
    }

    /// Reads the records of `input` (and with `end`, the one the file ends in) until one fails.
    fn feed(&mut self, mut input: &[u8], end: bool, layout: &Layout, bases: &[Option<&Levels>]) {
        let plain = memchr::memchr(b'"', input).is_none();
        loop {
            if plain && !self.records.in_record && !self.records.file_start && self.failure.is_none() {
                self.feed_lines(&mut input, layout, bases);
            }
            if self.failure.is_some() || !self.records.next(&mut input, plain) {
                break;
            }
            self.failure = self.push(layout, bases).err();
        }
        if end && self.failure.is_none() && self.records.finish() {
            self.failure = self.push(layout, bases).err();
        }
    }

    /// Reads the whole lines at the start of `input`, which holds no quote, cell by cell
    /// straight from the bytes: each record is a line, its fields end at delimiters. Stops
    /// before a line that fails (a ragged row, text that is not UTF-8, a number that is not
    /// finite), which [`Records::next`] and [`Part::push`] then read and report as ever; the
    /// cells of that line already added do not matter, since the reading stops there.
    fn feed_lines(&mut self, input: &mut &[u8], layout: &Layout, bases: &[Option<&Levels>]) {
        let bytes = *input;
        let Some(stop) = memchr::memrchr2(b'\n', b'\r', bytes) else {
            return;
        };
        let delimiter = self.records.delimiter;
        // A delimiter that could be part of a number or a line end leaves this path.
        if !delimiter.is_ascii() || delimiter.is_ascii_alphanumeric() || b"+-.\r\n\"".contains(&delimiter) {
            return;
        }
        let columns = self.builders.len();
        let rows = memchr::memchr_iter(b'\n', &bytes[..=stop]).count();
        self.lines.reserve(rows);
        for builder in &mut self.builders {
            builder.reserve(rows);
        }
        // Where each field of a line ends: found for the whole line first, so that no cell's
        // end waits for the cell before it to be read.
        let mut ends = Vec::with_capacity(columns);
        let mut pos = 0;
        while pos <= stop {
            // Line ends and blank lines between records, as `Records::next` skips them.
            let start = pos
                + bytes[pos..=stop]
                    .iter()
                    .position(|&b| b != b'\n' && b != b'\r')
                    .unwrap_or(stop + 1 - pos);
            // (mostly one line end: counted in place)
            self.records.newlines += bytes[pos..start].iter().filter(|&&b| b == b'\n').count();
            pos = start;
            if pos > stop {
                break;
            }
            let line_end = memchr::memchr2(b'\n', b'\r', &bytes[pos..=stop]).map_or(stop, |i| pos + i);
            field_ends(&bytes[pos..line_end], pos, delimiter, &mut ends);
            // A row with fewer or more fields than columns is read by `Records::next`.
            if ends.len() != columns {
                *input = &bytes[start..];
                return;
            }
            for (c, (builder, &end)) in self.builders.iter_mut().zip(&ends).enumerate() {
                let cell = &bytes[pos..end];
                // A cell that begins and ends with a visible ASCII character is its own trimmed
                // text: when it is no missing-value token, a number or a text seen before is
                // added as it is; anything else goes through `Builder::push`.
                let plain = |cell: &[u8]| {
                    cell.first().is_some_and(u8::is_ascii_graphic)
                        && cell.last().is_some_and(u8::is_ascii_graphic)
                        && !layout.is_missing(cell)
                };
                let read = match builder {
                    Builder::Numeric(values) => parse_number(bytes, pos, end)
                        .filter(|_| !layout.numeric_na || !layout.is_missing(cell))
                        .map(|v| values.push(v))
                        .is_some(),
                    Builder::Text { .. } => plain(cell) && builder.push_known(cell, bases[c]),
                };
                let read = read
                    || std::str::from_utf8(cell).is_ok_and(|cell| {
                        let cell = cell.trim();
                        builder.push(cell, layout.is_missing(cell.as_bytes()), bases[c]).is_ok()
                    });
                // A failed cell: the line is read again by `Records::next`, which reports it.
                if !read {
                    *input = &bytes[start..];
                    return;
                }
                pos = end + 1;
            }
            pos = line_end;
            self.lines.push(self.records.newlines + 1);
            self.line_break = None;
        }
        *input = &bytes[pos..];
    }

    /// Adds the record just read as a row.
    fn push(&mut self, layout: &Layout, bases: &[Option<&Levels>]) -> std::result::Result<(), Failure> {
        let line = self.records.line;
        let (text, ends, gap) = self.records.text().map_err(|i| Failure::Utf8 { line, column: i + 1 })?;
        self.line_break = memchr::memchr2(b'\n', b'\r', text.as_bytes())
            .and_then(|_| cells(text, ends, gap).position(|cell| cell.contains(['\n', '\r'])))
            .map(|c| (line, c));
        if ends.len() != layout.names.len() {
            return Err(Failure::Ragged {
                line,
                fields: ends.len(),
                line_break: self.line_break.map(|(_, c)| c),
            });
        }
        for (c, (builder, cell)) in self.builders.iter_mut().zip(cells(text, ends, gap)).enumerate() {
            let missing = layout.is_missing(cell.as_bytes());
            builder.push(cell, missing, bases[c]).map_err(|why| Failure::At {
                line,
                column: c + 1,
                message: format!("column {}: {why}", quote(&layout.names[c])),
            })?;
        }
        self.lines.push(line);
        Ok(())
    }

    /// Whether the part ended between records, so that the next chunk began with a record.
    fn clean(&self) -> bool {
        !self.records.in_record
    }

    /// Hands over the rows read so far, keeping the place in the file to read on with the
    /// columns typed as `text` says.
    fn take_rows(&mut self, text: &[bool]) -> (Vec<Builder>, Vec<usize>) {
        let builders = text.iter().map(|&t| Builder::new(t)).collect();
        self.text = text.to_vec();
        (
            std::mem::replace(&mut self.builders, builders),
            std::mem::take(&mut self.lines),
        )
    }
}

/// The file, read a batch at a time.
pub(super) struct Input<'a> {
    pub(super) file: std::fs::File,
    pub(super) path: &'a Path,
    /// Bytes read and not yet parsed; they begin with a record.
    pub(super) buffer: Vec<u8>,
    pub(super) eof: bool,
}

impl Input<'_> {
    /// Reads until the buffer holds `bytes` or the file ends.
    pub(super) fn fill(&mut self, bytes: usize) -> Result<()> {
        if self.buffer.len() >= bytes || self.eof {
            return Ok(());
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        let more = bytes - buffer.len();
        let read = self.read(&mut buffer, more);
        self.buffer = buffer;
        self.eof = read?;
        Ok(())
    }

    /// Reads what follows the buffer into `next` after a copy of `rest` (the end of the
    /// buffer): at most `bytes` more. Returns `next`, and whether the file ended.
    fn read_after(&self, rest: &[u8], bytes: usize, mut next: Vec<u8>) -> Result<(Vec<u8>, bool)> {
        next.clear();
        next.extend_from_slice(rest);
        let eof = self.read(&mut next, bytes)?;
        Ok((next, eof))
    }

    /// Appends up to `bytes` of the file to `buffer`; whether the file ended.
    fn read(&self, buffer: &mut Vec<u8>, bytes: usize) -> Result<bool> {
        memory::check(
            &format!("reading {}", self.path.display()),
            (buffer.len() + bytes) as u64,
        )?;
        buffer.reserve(bytes);
        let read = (&self.file)
            .take(bytes as u64)
            .read_to_end(buffer)
            .map_err(|source| Error::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
        Ok(read < bytes)
    }
}

/// The number of double quotes in the file (read again: needed only to explain an error).
fn count_quotes(path: &Path) -> Result<u64> {
    let bytes = crate::fileio::read_input(path, 1)?;
    Ok(memchr::memchr_iter(b'"', &bytes).count() as u64)
}

/// How [`read_table_in`] cuts the file: bytes read per batch, and bytes per chunk.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    batch: usize,
    chunk: usize,
}

/// Reads a CSV file as a table of typed columns.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Data`] naming line and column for an
/// empty file, a header without data rows, an empty or repeated column name, a ragged row, an
/// infinite number, or a quote left open; [`Error::Memory`] when the table outgrows the
/// memory limit.
pub fn read_table(path: &Path, options: &TableOptions) -> Result<Table> {
    let chunks = CHUNKS_PER_THREAD * rayon::current_num_threads();
    let sizes = Sizes {
        batch: chunks * CHUNK_BYTES,
        chunk: CHUNK_BYTES,
    };
    read_table_in(path, options, sizes)
}

/// [`read_table`], cutting the file as `sizes` says.
fn read_table_in(path: &Path, options: &TableOptions, sizes: Sizes) -> Result<Table> {
    let mut input = Input {
        file: open(path)?,
        path,
        buffer: Vec::new(),
        eof: false,
    };
    // The header: the first line decides the delimiter, the first record names the columns.
    let mut want = sizes.batch.max(1);
    input.fill(want)?;
    while memchr::memchr(b'\n', &input.buffer).is_none() && !input.eof {
        want *= 2;
        input.fill(want)?;
    }
    let first_line = memchr::memchr(b'\n', &input.buffer).map_or(input.buffer.len(), |i| i + 1);
    let delimiter = options
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&input.buffer[..first_line]));
    let mut records = Records::new(delimiter, true);
    let mut pos = 0;
    let found = loop {
        let mut rest = &input.buffer[pos..];
        let found = records.next(&mut rest, false);
        pos = input.buffer.len() - rest.len();
        if found {
            break true;
        }
        if input.eof {
            break records.finish();
        }
        want *= 2;
        input.fill(want)?;
    };
    let header: Vec<String> = if found {
        let cells = records
            .cells()
            .map_err(|i| data_error(path, records.line, i + 1, super::csv::invalid_utf8(path)))?;
        cells.into_iter().map(str::to_string).collect()
    } else {
        Vec::new()
    };
    if header.is_empty() {
        let expected = if options.header { "a header row" } else { "data rows" };
        return Err(data_error(path, 1, 0, format!("empty file: expected {expected}")));
    }
    let names: Vec<String> = if options.header {
        super::csv::check_header(&header).map_err(|(column, message)| data_error(path, 1, column, message))?;
        header
    } else {
        (1..=header.len()).map(|c| c.to_string()).collect()
    };
    // Without a header the first record is data: the reading starts again at the first byte
    // (where the first chunk's parser drops a byte order mark, as the header's did).
    let mut newlines = records.newlines;
    let mut first = None;
    if !options.header {
        (pos, newlines) = (0, 0);
        first = Some(Records::new(delimiter, true));
    }
    input.buffer.drain(..pos);
    let layout = Layout::new(&names, options);
    let mut text: Vec<bool> = names
        .iter()
        .enumerate()
        .map(|(c, name)| (options.verbatim_last && c + 1 == names.len()) || options.verbatim.contains(name))
        .collect();
    let mut builders: Vec<Builder> = text.iter().map(|&t| Builder::new(t)).collect();
    let mut lines: Vec<usize> = Vec::new();
    let mut level_bytes = 0u64;
    let mut line_break = None;
    let what = format!("the data of {}", path.display());
    // After a chunk that ends inside quotes, this one part reads on (alone) from there.
    let mut serial: Option<(Part, usize)> = None;
    // The buffer of the batch before, to read the one after next into.
    let mut spare = Vec::new();
    let fail = |failure: Failure, base: usize| -> Result<Table> {
        Err(match failure {
            Failure::At { line, column, message } => data_error(path, base + line, column, message),
            Failure::Utf8 { line, column } => data_error(path, base + line, column, super::csv::invalid_utf8(path)),
            Failure::Ragged {
                line,
                fields,
                line_break,
            } => {
                if let Some(c) = line_break.filter(|_| count_quotes(path).is_ok_and(|q| q % 2 == 1)) {
                    unterminated(path, base + line, c)
                } else {
                    let plural = if fields == 1 { "" } else { "s" };
                    let first = if options.header { "header" } else { "first row" };
                    let message = format!("row has {fields} field{plural}, {first} has {}", names.len());
                    data_error(path, base + line, 0, message)
                }
            }
        })
    };
    loop {
        input.fill(want.max(sizes.batch))?;
        // The batch ends with the last line feed read (or with the file).
        let end = if input.eof {
            input.buffer.len()
        } else {
            match memchr::memrchr(b'\n', &input.buffer) {
                Some(i) => i + 1,
                None => {
                    want = 2 * input.buffer.len().max(1);
                    continue;
                }
            }
        };
        want = sizes.batch;
        let at_end = input.eof;
        let (batch, rest) = input.buffer.split_at(end);
        // Chunks look their texts up in the table's levels first.
        let bases: Vec<Option<&Levels>> = builders
            .iter()
            .map(|builder| match builder {
                Builder::Text { levels, .. } => Some(levels),
                Builder::Numeric(_) => None,
            })
            .collect();
        // The next batch is read while this one is parsed.
        let (parts, ahead) = rayon::join(
            || {
                let mut parts: Vec<(Part, usize)> = Vec::new();
                if let Some((mut part, base)) = serial.take() {
                    part.feed(batch, at_end, &layout, &bases);
                    newlines = base + part.records.newlines;
                    parts.push((part, base));
                } else {
                    let chunks = split_lines(batch, sizes.chunk);
                    let last = chunks.len().saturating_sub(1);
                    let parse = |k: usize, records: Option<Records>, text: Vec<bool>| {
                        let mut part = Part::new(records.unwrap_or_else(|| Records::new(delimiter, false)), text);
                        part.feed(chunks[k], at_end && k == last, &layout, &bases);
                        part
                    };
                    let first_records = first.take();
                    let mut done: Vec<Part> = if chunks.len() == 1 {
                        vec![parse(0, first_records, text.clone())]
                    } else {
                        let mut first_records = Some(first_records);
                        let starts: Vec<Option<Records>> =
                            (0..chunks.len()).map(|_| first_records.take().flatten()).collect();
                        starts
                            .into_par_iter()
                            .enumerate()
                            .map(|(k, records)| parse(k, records, text.clone()))
                            .collect()
                    };
                    // A column that turned text in a chunk is text from the start of every later one:
                    // parse those again until no chunk's columns change (but for a chunk read to its
                    // end where the column turned text at its first cell that is not missing: that
                    // is the same).
                    loop {
                        let mut now = text.clone();
                        let mut again = Vec::new();
                        for (k, part) in done.iter().enumerate() {
                            let same = |((&was, &is), builder): ((&bool, &bool), &Builder)| {
                                was == is || (is && part.failure.is_none() && builder.text_from_first_cell())
                            };
                            if !part.text.iter().zip(&now).zip(&part.builders).all(same) {
                                again.push((k, now.clone()));
                            }
                            if part.failure.is_some() || !part.clean() {
                                break;
                            }
                            for (t, builder) in now.iter_mut().zip(&part.builders) {
                                *t |= builder.is_text();
                            }
                        }
                        if again.is_empty() {
                            break;
                        }
                        let redone: Vec<(usize, Part)> = again
                            .into_par_iter()
                            .map(|(k, text)| (k, parse(k, None, text)))
                            .collect();
                        for (k, part) in redone {
                            done[k] = part;
                        }
                    }
                    // Each chunk's lines start after the line feeds of the chunks before it.
                    let mut base = newlines;
                    let mut rest = done.into_iter().zip(chunks.iter()).enumerate();
                    while let Some((k, (mut part, _))) = rest.next() {
                        let part_base = base;
                        let cut_in_quotes = part.failure.is_none() && !part.clean() && !(at_end && k == last);
                        if cut_in_quotes {
                            // A line break in quotes across the cut: this part reads on, alone.
                            for (j, (_, chunk)) in rest.by_ref() {
                                part.feed(chunk, at_end && j == last, &layout, &bases);
                            }
                        }
                        base = part_base + part.records.newlines;
                        let stop = part.failure.is_some() || cut_in_quotes;
                        parts.push((part, part_base));
                        if stop {
                            break;
                        }
                    }
                    newlines = base;
                }
                parts
            },
            || match at_end {
                true => Ok((Vec::new(), true)),
                false => input.read_after(rest, sizes.batch, std::mem::take(&mut spare)),
            },
        );
        for (mut part, base) in parts {
            if !part.lines.is_empty() {
                line_break = part.line_break.map(|(line, c)| (base + line, c));
            }
            let (columns, part_lines) = part.take_rows(&text);
            level_bytes += builders
                .par_iter_mut()
                .zip(columns)
                .map(|(builder, column)| builder.append(column) as u64)
                .sum::<u64>();
            for (t, builder) in text.iter_mut().zip(&builders) {
                *t = builder.is_text();
            }
            lines.extend(part_lines.into_iter().map(|line| base + line));
            if let Some(failure) = part.failure.take() {
                return fail(failure, base);
            }
            if !part.clean() && !at_end {
                part.take_rows(&text);
                serial = Some((part, base));
            }
        }
        // what is held now, and as much again when the columns grow next
        let cells = memory::bytes([lines.len(), names.len() + 1], 4);
        memory::check(&what, (2 * cells).saturating_add(level_bytes))?;
        if at_end {
            break;
        }
        let (next, eof) = ahead?;
        spare = std::mem::replace(&mut input.buffer, next);
        input.eof = eof;
    }
    // A quote left open swallows the rest of the file into the last row's cell: the file then
    // has an odd number of quotes and its last row a line break in a cell.
    if let Some((line, c)) = line_break {
        if count_quotes(path)? % 2 == 1 {
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

/// Cuts `bytes` into chunks of about `size` bytes, each but the last ending with a line feed.
pub(super) fn split_lines(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = match memchr::memchr(b'\n', &bytes[(start + size.max(1) - 1).min(bytes.len())..]) {
            Some(i) => (start + size.max(1) - 1).min(bytes.len()) + i + 1,
            None => bytes.len(),
        };
        chunks.push(&bytes[start..end]);
        start = end;
    }
    if chunks.is_empty() {
        chunks.push(bytes);
    }
    chunks
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

#[cfg(test)]
mod parallel;
