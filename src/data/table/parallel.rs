//! The parallel reader against a reading from start to end with the `csv` crate (the reader
//! [`read_table`] replaced, with each row's line counted from the bytes), on random tables cut
//! into batches and chunks at every position.

use proptest::prelude::*;

use super::*;

/// The reference: every record in order through the `csv` crate and one [`Builder`] per column.
fn serial(path: &Path, options: &TableOptions) -> Result<Table> {
    let bytes = std::fs::read(path).unwrap();
    // The line a record begins on: its first byte that does not end a line.
    let line_of = |pos: u64| {
        let start = (pos as usize..bytes.len())
            .find(|&i| bytes[i] != b'\n' && bytes[i] != b'\r')
            .unwrap_or(bytes.len());
        1 + bytes[..start].iter().filter(|&&b| b == b'\n').count()
    };
    let quotes = bytes.iter().filter(|&&b| b == b'"').count();
    let utf8 = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => data_error(
            path,
            line_of(pos.as_ref().unwrap().byte()),
            err.field() + 1,
            super::super::csv::invalid_utf8(path),
        ),
        other => panic!("{other:?}"),
    };
    let first = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(&bytes[..first]));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(options.header)
        .flexible(true)
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(&bytes[..]);
    let header: Vec<String> = reader.headers().map_err(utf8)?.iter().map(str::to_string).collect();
    if header.is_empty() {
        let expected = if options.header { "a header row" } else { "data rows" };
        return Err(data_error(path, 1, 0, format!("empty file: expected {expected}")));
    }
    let names: Vec<String> = if options.header {
        crate::data::csv::check_header(&header).map_err(|(column, message)| data_error(path, 1, column, message))?;
        header
    } else {
        (1..=header.len()).map(|c| c.to_string()).collect()
    };
    let mut builders: Vec<Builder> = names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            Builder::new((options.verbatim_last && c + 1 == names.len()) || options.verbatim.contains(name))
        })
        .collect();
    let mut lines = Vec::new();
    let mut line_break = None;
    for record in reader.records() {
        let record = record.map_err(utf8)?;
        let line = line_of(record.position().unwrap().byte());
        line_break = record
            .iter()
            .position(|cell| cell.contains(['\n', '\r']))
            .map(|c| (line, c));
        if record.len() != names.len() {
            if let Some((line, c)) = line_break.filter(|_| quotes % 2 == 1) {
                return Err(unterminated(path, line, c));
            }
            let plural = if record.len() == 1 { "" } else { "s" };
            let first = if options.header { "header" } else { "first row" };
            let message = format!("row has {} field{plural}, {first} has {}", record.len(), names.len());
            return Err(data_error(path, line, 0, message));
        }
        for (c, (builder, cell)) in builders.iter_mut().zip(record.iter()).enumerate() {
            let missing = options.na_values.iter().any(|na| na == cell);
            builder
                .push(cell, missing, None)
                .map_err(|why| data_error(path, line, c + 1, format!("column {}: {why}", quote(&names[c]))))?;
        }
        lines.push(line);
    }
    if let Some((line, c)) = line_break.filter(|_| quotes % 2 == 1) {
        return Err(unterminated(path, line, c));
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

/// A table or an error as text that tells every bit apart (NaN included).
fn outcome(result: &Result<Table>) -> String {
    match result {
        Err(e) => format!("error: {e}"),
        Ok(t) => {
            let columns: Vec<String> = t
                .columns
                .iter()
                .map(|c| match c {
                    Column::Numeric(v) => format!("{:?}", v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                    Column::Text { codes, levels } => format!("{codes:?} {levels:?}"),
                })
                .collect();
            format!("{:?} {:?} {:?} {}", t.names, t.lines, columns, t.delimiter)
        }
    }
}

/// Cells: numbers in several spellings, missing cells, text, quoted cells with delimiters,
/// quotes and line breaks, a quote in the middle of a cell, texts near numbers.
const CELLS: &[&str] = &[
    "1",
    "-0",
    "1.50",
    "2e3",
    ".5",
    "+3",
    "7.",
    "1e40",
    "-1e-50",
    "inf",
    "NaN",
    "nan",
    "NA",
    "",
    "?",
    "-",
    " 7 ",
    "x",
    "y z",
    "\"q,uoted\"",
    "\"multi\nline\"",
    "\"crlf\r\nx\"",
    "\"esc\"\"aped\"",
    "a\"b",
    "0x10",
    "1_0",
    "1e",
    "é",
    "\"\"",
    "\"7\"",
    "\" 8 \"",
    "\t9",
    "\"a\nb\" c",
];

/// The cells without quotes: tables of these only are read by [`Part::feed_lines`] throughout.
fn plain_cells() -> Vec<&'static str> {
    CELLS.iter().copied().filter(|c| !c.contains('"')).collect()
}

fn table_text() -> impl Strategy<Value = (String, usize)> {
    let cells = prop_oneof![Just((CELLS.to_vec(), false)), Just((plain_cells(), true))];
    let row = |cells: Vec<&'static str>| (1usize..4, prop::collection::vec(prop::sample::select(cells), 0..5));
    (
        1usize..4,
        cells.prop_flat_map(move |(cells, plain)| (prop::collection::vec(row(cells), 0..8), Just(plain))),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
        prop::sample::select(vec![",", ";", "\t"]),
        any::<bool>(),
        prop::sample::select(vec!["", "\"open", "\n\n", "\r\n\r\n"]),
        prop::sample::select(vec!["", "\u{feff}"]),
    )
        .prop_map(|(columns, (rows, plain), end, delimiter, final_end, tail, bom)| {
            let names = if plain {
                ["a", "b", "c d"]
            } else {
                ["a", "\"b\"", "c d"]
            };
            let mut text = bom.to_string() + &names[..columns].join(delimiter) + end;
            for (i, (blank, cells)) in rows.into_iter().enumerate() {
                // mostly rows of the header's width, now and then a ragged one or blank lines
                let width = if i % 5 == 4 { cells.len() + 1 } else { columns };
                let row: Vec<&str> = (0..width).map(|c| cells.get(c).copied().unwrap_or("1")).collect();
                text += &row.join(delimiter);
                text += &end.repeat(if blank == 3 { 2 } else { 1 });
            }
            if !final_end {
                text.truncate(text.len() - end.len());
            }
            text += tail;
            (text, columns)
        })
}

/// Every way of cutting `text` that changes something: batches of every size up to the
/// whole, each cut into single lines and into chunks of a few bytes, and whole batches cut
/// into chunks of every size.
fn check_all_cuts(text: &str, options: &TableOptions) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    let expected = outcome(&serial(file.path(), options));
    let n = text.len() + 1;
    let sizes = (1..=n)
        .flat_map(|batch| [Sizes { batch, chunk: 1 }, Sizes { batch, chunk: 3 }])
        .chain((1..=n).map(|chunk| Sizes { batch: n, chunk }));
    for sizes in sizes {
        let got = outcome(&read_table_in(file.path(), options, sizes));
        assert_eq!(got, expected, "{text:?} cut as {sizes:?}");
    }
    assert_eq!(outcome(&read_table(file.path(), options)), expected, "{text:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parallel_reading_matches_serial(
        (text, columns) in table_text(),
        header in any::<bool>(),
        sniff in any::<bool>(),
        verbatim_last in any::<bool>(),
        custom_na in any::<bool>(),
    ) {
        let options = TableOptions {
            delimiter: if sniff { None } else { Some(b',') },
            header,
            verbatim_last: verbatim_last && columns > 1,
            na_values: if custom_na { vec!["x".into(), "7".into()] } else { TableOptions::default().na_values },
            ..TableOptions::default()
        };
        check_all_cuts(&text, &options);
    }

    #[test]
    fn fast_float_parsing_agrees_with_std(
        text in prop_oneof![
            "[+-]?[0-9]{0,12}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,3})?",
            "-?[0-9]{0,5}\\.?[0-9]{0,6}",
            "[+-]?(inf|infinity|nan|NaN|INF|Infinity)",
            "\\PC{0,6}",
            any::<f32>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
        ]
    ) {
        let fast = parse_f32(&text).map(f32::to_bits).ok();
        let std = text.parse::<f32>().map(f32::to_bits).ok();
        prop_assert_eq!(fast, std, "{:?}", text);
        // A number that fills the whole cell reads the same from its first bytes.
        if let Some((v, n)) = parse_prefix(text.as_bytes()).filter(|&(_, n)| n == text.len()) {
            prop_assert_eq!(Some(v.to_bits()), std, "{:?} ({} bytes)", text, n);
        }
    }

    #[test]
    fn cells_read_a_word_at_a_time_agree_with_std(
        text in prop_oneof![
            "[+-]?[0-9]{0,10}(\\.[0-9]{0,10})?([eE][+-]?[0-9]{1,2})?",
            "-?0{0,4}[0-9]{0,5}\\.?[0-9]{0,6}",
            "[-+.0-9]{0,10}",
            "\\PC{0,6}",
            any::<f32>().prop_map(|v| v.to_string()),
        ],
        before in "[-,.0-9]{0,3}",
        after in "[-,.0-9\n]{0,12}",
    ) {
        // The cell between other bytes, which must not change its reading.
        let bytes = format!("{before},{text},{after}").into_bytes();
        let start = before.len() + 1;
        let got = parse_number(&bytes, start, start + text.len()).map(f32::to_bits);
        let std = text.parse::<f32>().ok().filter(|v| v.is_finite()).map(f32::to_bits);
        prop_assert_eq!(got, std, "{:?}", text);
    }
}

/// Cells at the edges of the word-at-a-time reading: signs, points at either end, eight bytes
/// and more, leading zeros, values at 2^24 and ones that round, cells near the end of the bytes.
#[test]
fn short_numbers_read_as_std_reads_them() {
    let cells = [
        "0",
        "-0",
        "7",
        "-7",
        "7.",
        ".5",
        "-.5",
        "-0.000000",
        "0.1234567",
        "-0.1234567",
        "1.2345678",
        "12345678",
        "-12345678",
        "16777216",
        "16777217",
        "16777215.",
        "1677721.7",
        "0.16777217",
        "99999999",
        "00000001",
        "0000000.1",
        "123456789",
        "0.33333334",
        "3.4028235",
        "1e5",
        "1.5e3",
        "+1",
        "1.2.3",
        "--1",
        "-",
        ".",
        "-.",
        "",
        "1-2",
        "1 ",
        " 1",
        "nan",
        "inf",
        "0x1",
        "é",
    ];
    for cell in cells {
        let expected = cell.parse::<f32>().ok().filter(|v| v.is_finite()).map(f32::to_bits);
        for tail in ["", ",", "\n", ",1,2,3,4,5,6,7,8", "\r\n-1.5,2.25\n"] {
            let bytes = format!("{cell}{tail}").into_bytes();
            let got = parse_number(&bytes, 0, cell.len()).map(f32::to_bits);
            assert_eq!(got, expected, "{cell:?} before {tail:?}");
        }
    }
}

#[test]
fn rows_of_every_count_and_one_column() {
    let options = TableOptions::default();
    for rows in [0, 1, 2, 3, 5, 7, 11, 13] {
        for end in ["\n", "\r\n"] {
            let mut text = format!("only{end}");
            for r in 0..rows {
                text += &format!("{}{end}", r * 7 % 5);
            }
            check_all_cuts(&text, &options);
        }
    }
}

#[test]
fn plain_chunks_beside_quoted_ones() {
    // A byte order mark, CRLF and lone CR line ends, blank lines, a ragged row only at the end,
    // a quote only in the middle of the file, cells the direct path leaves to the general one
    // (spaces, missing cells, text in a numeric column, numbers too long for the short path),
    // and a last line without a line end.
    let mut text = String::from("\u{feff}a,b,c\r\n");
    for row in 0..12 {
        let a = ["1.5", "-0.25", " 7 ", "", "NA", "123456789.5", "-", "1e3"][row % 8];
        let b = if row == 6 {
            "\"q,\"\"x\""
        } else {
            ["w1", "w2", "3"][row % 3]
        };
        let end = ["\n", "\r\n", "\r", "\n\n"][row % 4];
        text += &format!("{a},{b},{row}{end}");
    }
    text += "9,w9,10";
    check_all_cuts(&text, &TableOptions::default());
    let options = TableOptions {
        header: false,
        ..TableOptions::default()
    };
    check_all_cuts(&text, &options);
    for bad in ["1,2\n", "1,2,3,4\n", "1,2,3,\n", "1,inf,3\n", "1,\u{ff}x,3\n"] {
        let text = format!("a,b,c\n1,2,3\n{bad}4,5,6\n");
        check_all_cuts(&text, &TableOptions::default());
    }
}

#[test]
fn lines_after_blank_lines_and_quoted_breaks() {
    let text = "a,b\n1,2\n\n\n3,4\r\n\r\n\"x\ny\",5\n6,7\n";
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let table = read_table(file.path(), &TableOptions::default()).unwrap();
    assert_eq!(table.lines, [2, 5, 7, 9]);
    assert_eq!(table.columns[0].text(2).as_deref(), Some("x\ny"));
    check_all_cuts(text, &TableOptions::default());
}

#[test]
fn a_column_turning_text_in_a_later_chunk_keeps_the_first_spelling() {
    // "1.50" before the first text cell is the number 1.5; after it, the text as written.
    let mut text = String::from("v,y\n");
    for row in 0..40 {
        let cell = match row {
            25 => "word",
            _ if row % 2 == 0 => "1.50",
            _ => "NA",
        };
        text += &format!("{cell},{row}\n");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let table = read_table_in(file.path(), &TableOptions::default(), Sizes { batch: 64, chunk: 16 }).unwrap();
    let Column::Text { levels, .. } = &table.columns[0] else {
        panic!("{:?}", table.columns[0])
    };
    assert_eq!(levels, &["1.5", "word", "1.50"]);
    check_all_cuts(&text, &TableOptions::default());
}

#[test]
fn a_column_turning_text_at_a_chunks_first_present_cell() {
    // Every chunk of 16 bytes or so begins with missing cells, then a word, then numbers: read
    // as numbers first, the column turns text at the word, which is where a reading as text
    // from the chunk's first row would have put it; the numbers after it keep their spelling.
    let mut text = String::from("v,y\n");
    for row in 0..60 {
        let cell = match row % 6 {
            0 | 1 => "NA",
            2 => "word",
            3 => "1.50",
            4 => "",
            _ => "-0",
        };
        text += &format!("{cell},{row}\n");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    let table = read_table_in(file.path(), &TableOptions::default(), Sizes { batch: 256, chunk: 24 }).unwrap();
    let Column::Text { levels, codes } = &table.columns[0] else {
        panic!("{:?}", table.columns[0])
    };
    assert_eq!(levels, &["word", "1.50", "-0"]);
    assert_eq!(&codes[..6], &[MISSING, MISSING, 0, 1, MISSING, 2]);
    check_all_cuts(&text, &TableOptions::default());
}

#[test]
fn a_chunk_that_fails_is_read_again_with_the_columns_before_it() {
    // Cut into chunks of 14 bytes, the second chunk reads 'inf' as a number (an error) before
    // its column turns text at the next row; as text from its first row (the column turned
    // text in the first chunk) it is a level like any other.
    let text = "a\r\n1\r\n\r\n1\r\n\r\n1\r\n\r\ninf\r\n\r\n\t9;0x10;7.;1\r\n\r\n2e3\r\n\r\n\r\n\r\n";
    let options = TableOptions {
        header: false,
        ..TableOptions::default()
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let table = read_table_in(file.path(), &options, Sizes { batch: 53, chunk: 14 }).unwrap();
    assert_eq!(table.columns[0].text(4).as_deref(), Some("inf"));
    check_all_cuts(text, &options);
}
