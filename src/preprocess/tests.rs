use std::io::Write;

use proptest::prelude::*;

use super::*;
use crate::data::{read_csv, CsvOptions};

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn train(text: &str, schema: &SchemaOptions, target: Option<&str>) -> Result<(Prepared, tempfile::NamedTempFile)> {
    let f = file(text);
    read_training(f.path(), &TableOptions::default(), schema, target, None, None).map(|p| (p, f))
}

/// A table of 12 rows: an id, a number with two missing cells, a category with a rare value
/// and a missing cell, free text, an empty column and a target with one missing cell.
fn mixed() -> String {
    let mut text = String::from("id,age,port,name,empty,y\n");
    for i in 0..12 {
        let age = if i % 5 == 1 {
            "NA".to_string()
        } else {
            (20 + i).to_string()
        };
        let port = match i {
            0 => "",
            1 => "Q",
            _ if i % 2 == 0 => "S",
            _ => "C",
        };
        let y = if i == 11 { "?" } else { ["no", "yes"][i % 2] };
        text += &format!("{},{age},{port},\"Name {i}, the {i}th\",,{y}\n", 100 + i);
    }
    text
}

#[test]
fn infers_the_schema_of_a_mixed_table() {
    let (p, _f) = train(&mixed(), &SchemaOptions::default(), None).unwrap();
    let kinds: Vec<(&str, &str)> = p.schema.iter().map(|c| (c.name.as_str(), c.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("id", "numeric"),
            ("age", "numeric"),
            ("port", "categorical"),
            ("name", "dropped"),
            ("empty", "dropped"),
            ("y", "target")
        ]
    );
    // Row 11 (missing target) is left out: 11 rows, ages 20..30 without rows 1 and 6.
    assert_eq!(p.data.len(), 11);
    assert_eq!(p.schema[1].missing, 2);
    assert_eq!(p.schema[1].range, Some([20.0, 30.0]));
    // S: rows 2,4,6,8,10 (5 times), C: 3,5,7,9 (4 < 5: pooled with Q), missing once.
    assert_eq!(p.schema[2].categories.as_deref(), Some(&["S".to_string()][..]));
    assert_eq!(p.schema[2].pooled, 2);
    assert_eq!(
        p.data.feature_names,
        ["id", "age", "age:missing", "port=S", "port=<other>", "port=<missing>"]
    );
    assert!(p.warnings.iter().any(|w| w.contains("'id' looks like an identifier")));
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("dropped 1 row whose target 'y' is missing")));
    assert!(p.notes.iter().any(|n| n.contains("'name' is dropped as free text")));
    assert!(p
        .notes
        .iter()
        .any(|n| n.contains("'empty' is dropped: every cell is missing")));
    // Median of 20, 22..25, 27..30 (9 present in the 11 rows): 25.
    let row = |r: usize| p.data.x.row(r).to_vec();
    assert_eq!(row(0), [100.0, 20.0, 0.0, 0.0, 0.0, 1.0]);
    assert_eq!(row(1), [101.0, 25.0, 1.0, 0.0, 1.0, 0.0]);
    assert_eq!(row(2), [102.0, 22.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(row(3), [103.0, 23.0, 0.0, 0.0, 1.0, 0.0]);
    let Target::Classes { labels, classes } = &p.data.target else {
        panic!("classes expected")
    };
    assert_eq!(classes, &["no", "yes"]);
    assert_eq!(labels[..3], [0, 1, 0]);
}

#[test]
fn drop_categorical_and_min_count_flags() {
    let schema = SchemaOptions {
        drop: vec!["id".into(), "name".into()],
        categorical: vec!["age".into()],
        min_category_count: 1,
    };
    let (p, _f) = train(&mixed(), &schema, Some("y")).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.schema[0].note.as_deref(), Some("dropped by request"));
    let names = &p.data.feature_names;
    assert_eq!(names[0], "age=20");
    assert!(names.contains(&"age=<missing>".to_string()));
    assert!(names.contains(&"port=Q".to_string()) && names.contains(&"port=C".to_string()));
    assert!(!names.iter().any(|n| n.contains("<other>")));
    for (bad, needle) in [
        (vec!["nope".to_string()], "no column 'nope' to drop"),
        (vec!["y".to_string()], "the target 'y' cannot be dropped"),
    ] {
        let schema = SchemaOptions {
            drop: bad,
            ..SchemaOptions::default()
        };
        let error = train(&mixed(), &schema, None).unwrap_err().to_string();
        assert!(error.contains(needle), "{error}");
    }
}

#[test]
fn replays_on_new_data_with_unknown_categories_and_missing_cells() {
    let (p, _f) = train(&mixed(), &SchemaOptions::default(), None).unwrap();
    // Columns in another order, an extra one, no target; an unknown port, a rare one and a
    // missing id (no missing ids in training).
    let new = file("port;extra;age;id\nX;1;30;1\nQ;2;NA;NA\nS;3;21;3\n");
    let read = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, false)
        .unwrap();
    assert_eq!(read.ignored, ["extra"]);
    assert_eq!(read.data.x.row(0), [1.0, 30.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(read.data.x.row(1), [105.0, 25.0, 1.0, 0.0, 1.0, 0.0]);
    assert_eq!(read.data.x.row(2), [3.0, 21.0, 0.0, 1.0, 0.0, 0.0]);
    assert_eq!(read.notes.len(), 2, "{:?}", read.notes);
    assert!(read.notes[0].contains("'id': 1 missing cell (none in training) took the training median 105"));
    assert!(read.notes[1].contains("'port': 1 cell with a category never seen in training encoded as all zeros"));
    let error = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, true)
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(":2:1: column 'port': category 'X' was never seen in training"),
        "{error}"
    );
    // Text in a column that was numeric in training.
    let new = file("id,age,port\n1,30,S\n2,thirty,S\n");
    let error = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, false)
        .unwrap_err()
        .to_string();
    assert!(
        error.ends_with(":3:2: column 'age': 'thirty' is not a number, but the column was numeric in training"),
        "{error}"
    );
    // A used column missing; the dropped ones may be absent.
    let new = file("id,port\n1,S\n");
    let error = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, false)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(":1: missing column 'age'; the file has 'id', 'port'"),
        "{error}"
    );
}

#[test]
fn replays_the_training_rows_exactly_with_a_target() {
    let (p, f) = train(&mixed(), &SchemaOptions::default(), None).unwrap();
    let read = p
        .preprocessor
        .read(
            f.path(),
            &TableOptions::default(),
            Some(("y", Task::Classification)),
            false,
        )
        .unwrap();
    assert_eq!(read.data.x, p.data.x);
    assert_eq!(read.data.target, p.data.target);
    assert_eq!(read.rows.len(), 11);
    assert!(read.notes[0].contains("left out 1 row whose target 'y' is missing"));
    // Without a header: the training file's columns by position, then the target.
    let body: String = mixed().lines().skip(1).map(|l| format!("{l}\n")).collect();
    let headless = file(&body);
    let options = TableOptions {
        header: false,
        ..TableOptions::default()
    };
    let read = p
        .preprocessor
        .read(headless.path(), &options, Some(("y", Task::Classification)), false)
        .unwrap();
    assert_eq!(read.data.x, p.data.x);
}

#[test]
fn numeric_files_read_as_read_csv_reads_them() {
    let text = "a,b,c,y\n1.50,-0,1e-3,1\n2,3.25,7,0\n-4.125,0.1,1e30,1\n0.3,0.7,5,2\n";
    let f = file(text);
    let old = read_csv(f.path(), &CsvOptions::default()).unwrap();
    let (new, _f) = train(text, &SchemaOptions::default(), None).unwrap();
    assert_eq!(new.data, old);
    assert!(new.notes.is_empty() && new.warnings.is_empty());
    let regression = "a,y\n1,0.5\n2,1.25\n3,1e3\n";
    let f = file(regression);
    let old = read_csv(f.path(), &CsvOptions::default()).unwrap();
    let (new, _f) = train(regression, &SchemaOptions::default(), None).unwrap();
    assert_eq!(new.data, old);
}

#[test]
fn edges() {
    let schema = SchemaOptions::default();
    let error = train("a,y\n", &schema, None).unwrap_err().to_string();
    assert!(error.ends_with(":1: header but no data rows"), "{error}");
    let error = train("y\n1\n0\n", &schema, None).unwrap_err().to_string();
    assert!(error.contains(":1: only one column ('y')"), "{error}");
    // One row, one category: a constant one-hot column.
    let (p, _f) = train("a,b,y\nNA,x,1\n", &schema, None).unwrap();
    assert_eq!(p.data.feature_names, ["b=<other>"]);
    assert!(p.notes[0].contains("'a' is dropped: every cell is missing"));
    let (p, _f) = train("a,b,y\n1,x,1\n3,x,0\n", &schema, None).unwrap();
    assert_eq!(p.data.x.as_slice(), [1.0, 1.0, 3.0, 1.0]);
    let schema1 = SchemaOptions {
        min_category_count: 1,
        ..SchemaOptions::default()
    };
    let (p, _f) = train("a,b,y\n1,x,1\n3,x,0\n", &schema1, None).unwrap();
    assert_eq!(p.data.feature_names, ["a", "b=x"]);
    let error = train("a,y\n1,NA\n2,\n", &schema, None).unwrap_err().to_string();
    assert!(
        error.ends_with(":2:2: column 'y': every target cell is missing"),
        "{error}"
    );
    let error = train("a,y\nNA,1\n,0\n", &schema, None).unwrap_err().to_string();
    assert!(
        error.contains("no feature column is left") && error.contains("a: every cell is missing"),
        "{error}"
    );
}

/// A random cell of a column of kind `kind` (0 numbers, 1 words, 2 anything).
fn cell(kind: u8, pick: u32) -> String {
    match (kind, pick % 7) {
        (_, 0) => "NA".into(),
        (0, p) | (2, p @ 1..=3) => format!("{}", (pick as f32 / 7.0) - p as f32 * 3.5),
        (_, p) => ["red", "green", "blue", "a b", "x,y", "\"q\""][p as usize % 6].into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn encoding_has_the_expected_width_and_finite_values(
        kinds in prop::collection::vec(0u8..3, 1..5),
        picks in prop::collection::vec(any::<u32>(), 1..200),
        rows in 1usize..40,
        min_count in 1usize..4,
    ) {
        let mut writer = ::csv::Writer::from_writer(Vec::new());
        let header: Vec<String> = (0..kinds.len()).map(|c| format!("c{c}")).chain(["y".to_string()]).collect();
        writer.write_record(&header).unwrap();
        for r in 0..rows {
            let mut record: Vec<String> = kinds
                .iter()
                .enumerate()
                .map(|(c, &k)| cell(k, picks[(r * kinds.len() + c) % picks.len()].wrapping_add(r as u32)))
                .collect();
            record.push((r % 2).to_string());
            writer.write_record(&record).unwrap();
        }
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let schema = SchemaOptions { min_category_count: min_count, ..SchemaOptions::default() };
        match train(&text, &schema, None) {
            Ok((p, f)) => {
                // Width: one per numeric column plus its indicator, one per category, <other>
                // and <missing> when present.
                let expected: usize = p.preprocessor.columns.iter().map(|c| match &c.encoding {
                    Encoding::Numeric { indicator, .. } => 1 + usize::from(*indicator),
                    Encoding::Categorical { categories, other, missing } =>
                        categories.len() + usize::from(!other.is_empty()) + usize::from(*missing),
                    Encoding::Dropped { .. } => 0,
                }).sum();
                prop_assert_eq!(p.data.n_features(), expected);
                prop_assert_eq!(p.data.feature_names.len(), expected);
                prop_assert_eq!(p.data.len(), rows);
                prop_assert!(p.data.x.as_slice().iter().all(|v| v.is_finite()));
                let read = p.preprocessor.read(f.path(), &TableOptions::default(), None, true).unwrap();
                prop_assert_eq!(&read.data.x, &p.data.x);
            }
            Err(e) => prop_assert!(e.to_string().contains("no feature column is left"), "{}", e),
        }
    }
}

#[test]
fn a_held_out_part_is_not_fitted() {
    // 20 rows: the held-out fifth's values must not move the median or add categories.
    let mut text = String::from("x,c,y\n");
    for i in 0..20 {
        text += &format!("{},k{},{}\n", i * i, i, i % 2);
    }
    let f = file(&text);
    let schema = SchemaOptions {
        min_category_count: 1,
        ..SchemaOptions::default()
    };
    let p = read_training(f.path(), &TableOptions::default(), &schema, None, None, Some((0.2, 7))).unwrap();
    let test = p.test.as_ref().unwrap();
    assert_eq!((p.data.len(), test.len()), (16, 4));
    // The same rows as stratified_split of the whole encoding.
    let whole = read_training(f.path(), &TableOptions::default(), &schema, None, None, None).unwrap();
    let (train, held) = crate::data::stratified_split(&whole.data, 0.2, 7);
    let first = |d: &Dataset| d.x.iter_rows().map(|r| r[0]).collect::<Vec<f32>>();
    assert_eq!(first(&p.data), first(&train));
    assert_eq!(first(test), first(&held));
    // Categories: only the 16 training rows' (each seen once), so a test row is all zeros.
    let Encoding::Categorical { categories, .. } = &p.preprocessor.columns[1].encoding else {
        panic!("categorical expected")
    };
    assert_eq!(categories.len(), 16);
    assert!(test.x.iter_rows().all(|r| r[1..].iter().all(|&v| v == 0.0)));
    assert_eq!(
        p.schema[0].range.unwrap()[1],
        first(&train).iter().copied().fold(0.0, f32::max)
    );
}

#[test]
fn held_out_parts_are_the_parts_of_the_whole_encoding() {
    // Numbers only: each part, encoded on its own, is the split of the whole encoding.
    let mut text = String::from("a,b,y\n");
    for i in 0..50 {
        text += &format!("{},{},{}\n", (i * 7) % 11, 0.1 * i as f64, ["u", "v", "w"][i % 3]);
    }
    let f = file(&text);
    let options = (&TableOptions::default(), &SchemaOptions::default());
    let p = read_training(f.path(), options.0, options.1, None, None, Some((0.3, 4))).unwrap();
    let whole = read_training(f.path(), options.0, options.1, None, None, None).unwrap();
    let (train, held) = crate::data::stratified_split(&whole.data, 0.3, 4);
    assert_eq!(p.data.feature_names, ["a", "b"]);
    assert_eq!((&p.data, p.test.as_ref().unwrap()), (&train, &held));
}

proptest! {
    /// The median and the range of a numeric column, found without sorting it, are those of the
    /// sorted column (in `f32::total_cmp` order), for odd and even counts, ties and both zeros.
    #[test]
    fn median_and_range_are_those_of_the_sorted_values(
        values in proptest::collection::vec(prop_oneof![-3i32..3, -1000i32..1000].prop_map(|v| v as f32 / 4.0), 1..60),
        negative_zero in any::<bool>(),
    ) {
        let mut values = values;
        if negative_zero {
            values[0] = -0.0;
        }
        let mut text = String::from("x,y\n");
        for (i, v) in values.iter().enumerate() {
            text += &format!("{v:?},{}\n", i % 2);
        }
        let (p, _f) = train(&text, &SchemaOptions::default(), None).unwrap();
        let mut sorted = values.clone();
        sorted.sort_by(f32::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            ((f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0) as f32
        };
        let Encoding::Numeric { median: fitted, .. } = &p.preprocessor.columns[0].encoding else {
            panic!("numeric expected")
        };
        prop_assert_eq!(fitted.to_bits(), median.to_bits());
        let range = p.schema[0].range.unwrap();
        prop_assert_eq!([range[0].to_bits(), range[1].to_bits()], [sorted[0].to_bits(), sorted[n - 1].to_bits()]);
    }
}

#[test]
fn blocks_of_rows_report_the_first_refused_cell_and_count_every_note() {
    let (p, _f) = train(&mixed(), &SchemaOptions::default(), None).unwrap();
    // 3,000 rows (three blocks): unknown ports at rows 2,600 and 1,500, a missing id at row
    // 2,900 and text in the numeric 'age' at row 2,950; the id column comes first.
    let mut text = String::from("id,age,port\n");
    for i in 0..3000 {
        let port = match i {
            1500 => "X",
            2600 => "Y",
            _ => "S",
        };
        let id = if i == 2900 { String::new() } else { i.to_string() };
        text += &format!("{id},{},{port}\n", if i == 2950 { "old" } else { "30" });
    }
    let new = file(&text);
    let error = |strict| {
        p.preprocessor
            .read(new.path(), &TableOptions::default(), None, strict)
            .unwrap_err()
            .to_string()
    };
    // 'age' is encoded before 'port' (the training file's order), so its error comes first.
    assert!(
        error(true).ends_with(":2952:2: column 'age': 'old' is not a number, but the column was numeric in training")
    );
    let text = text.replace(",old,", ",31,");
    let new = file(&text);
    let strict_error = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, true)
        .unwrap_err()
        .to_string();
    assert!(
        strict_error.ends_with(":1502:3: column 'port': category 'X' was never seen in training"),
        "{strict_error}"
    );
    let read = p
        .preprocessor
        .read(new.path(), &TableOptions::default(), None, false)
        .unwrap();
    assert_eq!(read.notes.len(), 2, "{:?}", read.notes);
    assert!(read.notes[0].contains("'id': 1 missing cell (none in training) took the training median 105"));
    assert!(read.notes[1].contains("'port': 2 cells with a category never seen in training encoded as all zeros"));
    assert_eq!(read.data.x.row(2900)[..2], [105.0, 30.0]);
    assert_eq!(read.data.x.row(2950)[..2], [2950.0, 31.0]);
    assert!(read.data.x.row(2600)[2..].iter().all(|&v| v == 0.0));
    assert_eq!(read.data.x.row(2601)[2..], read.data.x.row(5)[2..]);
}
