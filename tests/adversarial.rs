//! The adversarial corpus: malformed and hostile inputs (CSV, IDX raw and gzip, safetensors),
//! bad flags, bad output paths, closed pipes and degenerate data sizes, each run through the
//! `actlab` binary. Every case must end within a time bound, never panic, never die of a signal
//! (except SIGPIPE where a pipe is closed on purpose), and either succeed with finite numbers and
//! no `error:` line, or fail with exactly one `error: …` line that names what is at fault. A
//! refused command leaves its directory as it found it.
//!
//! Each case runs in a directory of its own holding the files it needs, with relative paths, so
//! that messages (and the needles that check them) read `d.csv:3:2`, not a temporary path.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

mod common;

use actlab::data::{read_csv, CsvOptions};
use actlab::model::{fit, FitConfig};
use actlab::model_io;
use actlab::train::TrainConfig;
use common::{edited_model, Tensors};
use safetensors::{Dtype, SafeTensors};
use serde_json::{json, Value};

/// No case may take longer than this.
const LIMIT: Duration = Duration::from_secs(20);
/// Cases run at once (each is a short process; most of their time is start-up and I/O).
const WORKERS: usize = 4;
/// Training flags that keep a case fast and off the other cores.
const TRAIN: &str = "train --threads 1 --epochs 1 --hidden 3";
/// The same on 40 samples of generated data, for train and compare.
const XOR: &str = "--threads 1 --data xor --samples 40 --epochs 1 --hidden 3";
/// A comparison that takes long enough for a reader to close the pipe while it trains.
const CMP: &str = "compare --threads 1 --data xor --samples 400 --epochs 3 --hidden 8";

/// What a case's directory starts with.
enum Input {
    File(Vec<u8>),
    Dir,
    Fifo,
}

enum Expect {
    /// Exit 0, no `error:` line, every number on stdout finite.
    Ok,
    /// A non-zero exit (not a panic, not a signal) with one line `error: …` containing this.
    Err(String),
    /// Stdout is closed after this many bytes were read: the program ends quietly, by SIGPIPE
    /// or successfully, with no `error:` line.
    ClosedPipe(usize),
}

/// A check of a case's directory after its run.
type Check = fn(&Path) -> Result<(), String>;

struct Case {
    name: String,
    args: Vec<String>,
    inputs: Vec<(String, Input)>,
    expect: Expect,
    /// Stdout is /dev/full instead of a pipe.
    full_stdout: bool,
    /// A check of the directory after the run.
    then: Option<Check>,
}

/// A case running `args` (split at whitespace; see [`Case::arg`] for others), expected to
/// succeed until told otherwise.
fn case(name: &str, args: &str) -> Case {
    Case {
        name: name.to_string(),
        args: args.split_whitespace().map(String::from).collect(),
        inputs: Vec::new(),
        expect: Expect::Ok,
        full_stdout: false,
        then: None,
    }
}

impl Case {
    fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }
    fn file(mut self, name: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.inputs.push((name.to_string(), Input::File(contents.into())));
        self
    }
    fn files(mut self, files: Vec<(String, Vec<u8>)>) -> Self {
        self.inputs
            .extend(files.into_iter().map(|(name, bytes)| (name, Input::File(bytes))));
        self
    }
    fn dir(mut self, name: &str) -> Self {
        self.inputs.push((name.to_string(), Input::Dir));
        self
    }
    fn fifo(mut self, name: &str) -> Self {
        self.inputs.push((name.to_string(), Input::Fifo));
        self
    }
    fn err(mut self, needle: impl Into<String>) -> Self {
        self.expect = Expect::Err(needle.into());
        self
    }
    fn closed_after(mut self, bytes: usize) -> Self {
        self.expect = Expect::ClosedPipe(bytes);
        self
    }
    fn full_stdout(mut self) -> Self {
        self.full_stdout = true;
        self
    }
    fn then(mut self, check: Check) -> Self {
        self.then = Some(check);
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs.

/// `a,b,y` with `n` rows: two numeric features and the target `label(i)`.
fn rows(n: usize, label: impl Fn(usize) -> String) -> Vec<u8> {
    let mut text = String::from("a,b,y\n");
    for i in 0..n {
        text += &format!("{},{},{}\n", i, (i * 7) % 5, label(i));
    }
    text.into_bytes()
}

fn binary(n: usize) -> Vec<u8> {
    rows(n, |i| (i % 2).to_string())
}

fn multi(n: usize) -> Vec<u8> {
    rows(n, |i| ["cat", "dog", "emu"][i % 3].to_string())
}

fn regression(n: usize) -> Vec<u8> {
    rows(n, |i| format!("{}", i as f32 * 1.5 - ((i * 7) % 5) as f32 + 0.25))
}

/// Twelve binary rows whose second cell of line 3 is `cell`.
fn with_cell(cell: impl AsRef<[u8]>) -> Vec<u8> {
    let rows = binary(12);
    let mut out = Vec::new();
    for (i, line) in rows.split(|&b| b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
        if i == 2 {
            out.extend([b"1,", cell.as_ref(), b",1"].concat());
        } else {
            out.extend(line);
        }
        out.push(b'\n');
    }
    out
}

/// An IDX header: the magic number, then each dimension, big-endian.
fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(u32::to_be_bytes)
        .collect()
}

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = idx_header(0x803, &[n, rows, cols]);
    bytes.extend((0..n * rows * cols).map(|i| (i * 37 % 256) as u8));
    bytes
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut bytes = idx_header(0x801, &[n]);
    bytes.extend((0..n).map(|i| (i % 3) as u8));
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// An MNIST-layout directory `m` of 12 training and 6 test images of 3×3 pixels (gzip when
/// `gz`), with `edit` applied to the files (by name, without `.gz`) before compression.
fn mnist(gz: bool, edit: impl FnOnce(&mut BTreeMap<&'static str, Vec<u8>>)) -> Vec<(String, Vec<u8>)> {
    let mut files = BTreeMap::from([
        (TRAIN_IMAGES, idx_images(12, 3, 3)),
        (TRAIN_LABELS, idx_labels(12)),
        (TEST_IMAGES, idx_images(6, 3, 3)),
        (TEST_LABELS, idx_labels(6)),
    ]);
    edit(&mut files);
    files
        .into_iter()
        .map(|(name, bytes)| {
            if gz {
                (format!("m/{name}.gz"), gzip(&bytes))
            } else {
                (format!("m/{name}"), bytes)
            }
        })
        .collect()
}

/// An MNIST directory whose file `name` is replaced by `bytes`, stored as given (already
/// compressed or not: the name says which).
fn mnist_with(name: &str, bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let stem = name.trim_end_matches(".gz");
    let mut files: Vec<(String, Vec<u8>)> = mnist(false, |_| {})
        .into_iter()
        .filter(|(n, _)| n != &format!("m/{stem}"))
        .collect();
    files.push((format!("m/{name}"), bytes));
    files
}

/// Models trained once on `binary(12)`, `multi(12)` and `regression(12)` (features a, b,
/// target y), as safetensors bytes.
struct Models {
    binary: Vec<u8>,
    multi: Vec<u8>,
    regression: Vec<u8>,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let train = |csv: Vec<u8>| {
            let path = dir.path().join("d.csv");
            std::fs::write(&path, csv).unwrap();
            let data = read_csv(&path, &CsvOptions::default()).unwrap();
            let config = FitConfig {
                hidden: vec![3],
                train: TrainConfig {
                    epochs: Some(2),
                    ..TrainConfig::default()
                },
                ..FitConfig::default()
            };
            model_io::to_safetensors(&fit(&data, &config).unwrap().model).unwrap()
        };
        Models {
            binary: train(binary(12)),
            multi: train(multi(12)),
            regression: train(regression(12)),
        }
    })
}

/// A model file whose safetensors header (the JSON after the length) is edited as JSON and
/// written back as is, data untouched.
fn edited_header(bytes: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(&mut header);
    let text = header.to_string().into_bytes();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&bytes[8 + n..]);
    out
}

fn set_f32(tensors: &mut Tensors, name: &str, index: usize, value: f32) {
    tensors.get_mut(name).unwrap().2[4 * index..4 * index + 4].copy_from_slice(&value.to_le_bytes());
}

/// A tensor converted to another dtype of the same width or a different one.
fn retype(tensors: &mut Tensors, name: &str, dtype: Dtype) {
    let (d, _, data) = tensors.get_mut(name).unwrap();
    let values: Vec<f32> = data
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    *d = dtype;
    *data = match dtype {
        Dtype::F64 => values.iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect(),
        Dtype::I32 => values.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect(),
        Dtype::U8 => values.iter().map(|v| *v as u8).collect(),
        Dtype::F16 | Dtype::BF16 => values
            .iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
            .collect(),
        _ => unreachable!(),
    };
}

// ---------------------------------------------------------------------------------------------
// Checks of the directory after a run.

fn report_written(dir: &Path) -> Result<(), String> {
    for name in ["index.html", "report.md"] {
        if !dir.join("r").join(name).is_file() {
            return Err(format!("r/{name} was not written"));
        }
    }
    Ok(())
}

fn model_saved(dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(dir.join("m.safetensors")).map_err(|e| format!("m.safetensors: {e}"))?;
    model_io::from_safetensors(&bytes, Path::new("m.safetensors"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn predictions_written(dir: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(dir.join("p.csv")).map_err(|e| format!("p.csv: {e}"))?;
    match text.lines().count() {
        13 => Ok(()),
        n => Err(format!("p.csv has {n} lines, expected a header and 12 predictions")),
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus.

fn csv_cases() -> Vec<Case> {
    let t = |name: &str| case(name, &format!("{TRAIN} --data d.csv"));
    vec![
        t("csv: empty file").file("d.csv", "").err("d.csv:1: empty file"),
        t("csv: header only")
            .file("d.csv", "a,b,y\n")
            .err("d.csv:1: header but no data rows"),
        t("csv: header without newline").file("d.csv", "a,b,y").err("d.csv:1"),
        t("csv: blank lines only").file("d.csv", "\n\n\n").err("d.csv"),
        t("csv: UTF-8 BOM").file("d.csv", [b"\xef\xbb\xbf".to_vec(), binary(12)].concat()),
        t("csv: CRLF line ends").file("d.csv", String::from_utf8(binary(12)).unwrap().replace('\n', "\r\n")),
        t("csv: lone CR line ends").file("d.csv", String::from_utf8(binary(12)).unwrap().replace('\n', "\r")),
        t("csv: no final newline").file("d.csv", String::from_utf8(binary(12)).unwrap().trim_end().to_string()),
        t("csv: short row")
            .file("d.csv", "a,b,y\n1,2,0\n3,4\n5,6,0\n")
            .err("d.csv:3: row has 2 fields, header has 3"),
        t("csv: long row")
            .file("d.csv", "a,b,y\n1,2,0\n3,4,1,9\n5,6,0\n")
            .err("d.csv:3: row has 4 fields"),
        t("csv: empty row in the middle").file("d.csv", "a,b,y\n1,2,0\n\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n2,2,1\n"),
        t("csv: quoted numbers").file(
            "d.csv",
            String::from_utf8(binary(12)).unwrap().replace("\n1,", "\n\"1\","),
        ),
        t("csv: quoted label with a comma").file("d.csv", rows(12, |i| ["\"x,y\"", "\"z,w\""][i % 2].to_string())),
        // Quoted line breaks are part of the cell (issue 14).
        t("csv: quoted label with a newline").file("d.csv", rows(12, |i| ["\"x\ny\"", "z"][i % 2].to_string())),
        t("csv: unterminated quote")
            .file("d.csv", "a,b,y\n1,2,0\n3,\"4,1\n5,6,0\n")
            .err("d.csv:3:2: unterminated quoted field"),
        // Cells that are not numbers make a categorical column (issue 14).
        t("csv: quote inside a cell").file("d.csv", with_cell("4\"2")),
        // NaN, nan and the empty cell are missing by default (issue 14), unless --na-values says otherwise.
        t("csv: NaN cell").file("d.csv", with_cell("NaN")),
        t("csv: NaN cell, not a missing value")
            .file("d.csv", with_cell("NaN"))
            .arg("--na-values")
            .arg("NA")
            .err("d.csv:3:2: column 'b': 'NaN' is not a finite number"),
        t("csv: nan cell").file("d.csv", with_cell("nan")),
        t("csv: inf cell").file("d.csv", with_cell("inf")).err("d.csv:3:2"),
        t("csv: -Infinity cell")
            .file("d.csv", with_cell("-Infinity"))
            .err("d.csv:3:2"),
        t("csv: 1e39 cell (beyond f32)")
            .file("d.csv", with_cell("1e39"))
            .err("d.csv:3:2"),
        t("csv: 1e-50 cell (below f32)").file("d.csv", with_cell("1e-50")),
        t("csv: -0 cell").file("d.csv", with_cell("-0")),
        t("csv: hex cell").file("d.csv", with_cell("0x10")),
        t("csv: 1_000 cell").file("d.csv", with_cell("1_000")),
        t("csv: 1,000 quoted cell").file("d.csv", with_cell("\"1,000\"")),
        t("csv: empty cell").file("d.csv", with_cell("")),
        t("csv: spaces around a number").file("d.csv", with_cell(" 4 ")),
        t("csv: 1 MB cell")
            .file("d.csv", with_cell("7".repeat(1 << 20)))
            .err("(1048576 characters) is not a finite number"),
        t("csv: 1 MB header name").file("d.csv", {
            let text = String::from_utf8(binary(12)).unwrap();
            text.replacen("a,", &format!("{},", "h".repeat(1 << 20)), 1)
        }),
        t("csv: 10,000 columns").file("d.csv", {
            let n = 10_000;
            let mut text = (0..n).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",") + ",y\n";
            for r in 0..6 {
                text += &((0..n).map(|c| ((r * c) % 7).to_string()).collect::<Vec<_>>().join(",")
                    + &format!(",{}\n", r % 2));
            }
            text
        }),
        t("csv: 200,000 columns in one data row")
            .file("d.csv", {
                let n = 200_000;
                let mut text = (0..n).map(|c| format!("c{c}")).collect::<Vec<_>>().join(",") + ",y\n";
                text += &("1,".repeat(n) + "0\n");
                text
            })
            .err("d.csv: 1 row leaves no test samples"),
        t("csv: target only")
            .file("d.csv", "y\n0\n1\n0\n1\n0\n1\n")
            .err("d.csv:1: only one column"),
        t("csv: duplicate header names")
            .file("d.csv", "a,a,y\n1,2,0\n3,4,1\n")
            .err("d.csv:1:2: columns 1 and 2 are both named 'a'"),
        t("csv: empty header name")
            .file("d.csv", "a,,y\n1,2,0\n3,4,1\n")
            .err("d.csv:1:2: column 2 has no name"),
        t("csv: non-UTF-8 cell")
            .file("d.csv", with_cell([0xff, 0xfe]))
            .err("d.csv:3:2: invalid UTF-8"),
        t("csv: non-UTF-8 label")
            .file("d.csv", [&b"a,b,y\n1,2,"[..], &[0xfe], b"\n3,4,b\n"].concat())
            .err("d.csv:2:3: invalid UTF-8 text: save the file as UTF-8 (from Latin-1, say: iconv -f latin1 -t utf-8)"),
        t("csv: a gzip-compressed file")
            .file("d.csv", [&[0x1f, 0x8b, 0x08, 0x00][..], &[0xff; 40]].concat())
            .err("d.csv:1:1: invalid UTF-8 text: this is a gzip-compressed file; decompress it first (gunzip -k FILE)"),
        t("csv: comma file read with --delimiter ';'")
            .file("d.csv", "a,b,y\n1,2,0\n3,4,1\n")
            .arg("--delimiter")
            .arg(";")
            .err("d.csv:1: only one column ('a,b,y'): need at least one feature column besides the target (the header holds ',': is that the delimiter? --delimiter ,)"),
        t("csv: NUL byte in a cell").file("d.csv", with_cell("4\u{0}2")),
        t("csv: escape sequence in a cell").file("d.csv", with_cell("\u{1b}[2J4")),
        t("csv: UTF-16 file")
            .file("d.csv", {
                let text = String::from_utf8(binary(12)).unwrap();
                [
                    vec![0xff, 0xfe],
                    text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
                ]
                .concat()
            })
            .err("d.csv:1"),
        t("csv: binary garbage")
            .file(
                "d.csv",
                (0..4096u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
                    .collect::<Vec<_>>(),
            )
            .err("d.csv"),
        t("csv: one row")
            .file("d.csv", binary(1))
            .err("d.csv: 1 row leaves no test samples"),
        t("csv: one class")
            .file("d.csv", rows(12, |_| "0".into()))
            .err("1 class"),
        t("csv: one string class")
            .file("d.csv", rows(12, |_| "cat".into()))
            .err("1 class"),
        t("csv: two rows, two classes")
            .file("d.csv", binary(2))
            .err("d.csv: 2 rows leave no test samples"),
        t("csv: two rows, two classes, tested on themselves")
            .file("d.csv", binary(2))
            .arg("--test")
            .arg("d.csv"),
        t("csv: constant feature").file(
            "d.csv",
            "a,b,y\n1,2,0\n1,4,1\n1,6,0\n1,8,1\n1,1,0\n1,2,1\n1,3,0\n1,3,1\n",
        ),
        t("csv: every feature constant").file("d.csv", "a,b,y\n1,2,0\n1,2,1\n1,2,0\n1,2,1\n1,2,0\n1,2,1\n"),
        t("csv: features near f32::MAX").file(
            "d.csv",
            "a,b,y\n3e38,2,0\n-3e38,4,1\n3.4e38,6,0\n-3.4e38,8,1\n1,1,0\n2,2,1\n3e38,3,0\n-3e38,1,1\n",
        ),
        t("csv: features of 1e-38").file(
            "d.csv",
            "a,b,y\n1e-38,2,0\n2e-38,4,1\n3e-38,6,0\n4e-38,8,1\n5e-38,1,0\n6e-38,2,1\n7e-38,3,0\n8e-38,1,1\n",
        ),
        t("csv: regression targets of 1e30")
            .file("d.csv", rows(12, |i| format!("{}e30", i + 1)))
            .arg("--task")
            .arg("regression"),
        t("csv: regression targets near f32::MAX")
            .file("d.csv", rows(12, |i| format!("{}e37", 10 + i * 2)))
            .arg("--task")
            .arg("regression")
            .err("of the data is not finite: the output"),
        // Twelve distinct whole numbers are few enough to be read as twelve classes.
        t("csv: twelve large whole targets")
            .file("d.csv", rows(12, |i| format!("{}e30", i + 1)))
            .err("d.csv: 12 rows leave no test samples"),
        t("csv: regression targets all equal")
            .file("d.csv", rows(12, |_| "2.5".into()))
            .arg("--task")
            .arg("regression"),
        t("csv: string labels with commas and quotes").file(
            "d.csv",
            rows(12, |i| ["\"a, \"\"b\"\"\"", "\"c,d\""][i % 2].to_string()),
        ),
        t("csv: 1,000 classes in 1,000 rows")
            .file("d.csv", rows(1000, |i| format!("k{i}")))
            .err("d.csv: 1000 rows leave no test samples"),
        t("csv: --target not found")
            .file("d.csv", binary(12))
            .arg("--target")
            .arg("z")
            .err("d.csv:1: no target column 'z'"),
        t("csv: --target empty")
            .file("d.csv", binary(12))
            .arg("--target")
            .arg("")
            .err("d.csv:1"),
        t("csv: --target is a feature column")
            .file("d.csv", binary(12))
            .arg("--target")
            .arg("b"),
        t("csv: --target named twice")
            .file("d.csv", binary(12))
            .arg("--target")
            .arg("y")
            .arg("--target")
            .arg("y")
            .err("'--target <NAME>' cannot be used multiple times"),
        t("csv: --target on a header named twice")
            .file("d.csv", "a,y,y\n1,2,0\n3,4,1\n")
            .arg("--target")
            .arg("y")
            .err("d.csv:1:3"),
        t("csv: --test with reordered columns")
            .file("d.csv", binary(12))
            .file("t.csv", "y,b,a\n0,2,1\n1,4,3\n")
            .arg("--test")
            .arg("t.csv"),
        t("csv: --test missing a column")
            .file("d.csv", binary(12))
            .file("t.csv", "a,y\n0,2\n1,4\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv:1: missing column 'b'"),
        t("csv: --test missing the target")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b\n0,2\n1,4\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv:1: missing column 'y'"),
        t("csv: --test with an extra column")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b,c,y\n0,2,1,1\n1,4,3,0\n")
            .arg("--test")
            .arg("t.csv"),
        t("csv: --test with a class not in training")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b,y\n0,2,1\n1,4,7\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv"),
        t("csv: --test header only")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b,y\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv:1: header but no data rows"),
        t("csv: --test missing file")
            .file("d.csv", binary(12))
            .arg("--test")
            .arg("nope.csv")
            .err("nope.csv"),
        t("csv: --test a directory")
            .file("d.csv", binary(12))
            .dir("t")
            .arg("--test")
            .arg("t")
            .err("t"),
        // A missing cell takes the training median, with a note.
        t("csv: --test with a NaN")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b,y\n0,nan,1\n")
            .arg("--test")
            .arg("t.csv"),
        t("csv: --test with text in a numeric column")
            .file("d.csv", binary(12))
            .file("t.csv", "a,b,y\n0,1,1\n0,x,1\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv:3:2: column 'b': 'x' is not a number, but the column was numeric in training"),
        t("csv: --test regression target not a number")
            .file("d.csv", regression(12))
            .file("t.csv", "a,b,y\n0,1,x\n")
            .arg("--test")
            .arg("t.csv")
            .err("t.csv:2:3"),
        t("csv: --task regression on string labels")
            .file("d.csv", multi(12))
            .arg("--task")
            .arg("regression")
            .err("d.csv"),
        t("csv: --task classification on fractional targets")
            .file("d.csv", regression(12))
            .arg("--task")
            .arg("classification")
            .err("d.csv: 12 rows leave no test samples"),
        case(
            "csv: --data a directory without IDX files",
            &format!("{TRAIN} --data d"),
        )
        .dir("d")
        .err("d: missing train-images-idx3-ubyte"),
        case("csv: --data /dev/null", &format!("{TRAIN} --data /dev/null")).err("/dev/null: not a regular file"),
        case("csv: --data a FIFO", &format!("{TRAIN} --data f"))
            .fifo("f")
            .err("f"),
        case("csv: --data /dev/zero", &format!("{TRAIN} --data /dev/zero")).err("/dev/zero"),
        case("csv: --test a FIFO", &format!("{TRAIN} --data d.csv --test f"))
            .file("d.csv", binary(12))
            .fifo("f")
            .err("f"),
        case("csv: --data missing", &format!("{TRAIN} --data nope.csv")).err("--data 'nope.csv': no such file"),
    ]
}

fn idx_cases() -> Vec<Case> {
    let t = |name: &str| case(name, &format!("{TRAIN} --data m"));
    let header_only = |bytes: Vec<u8>, n: usize| bytes[..n].to_vec();
    vec![
        t("idx: valid raw files").files(mnist(false, |_| {})),
        t("idx: valid gzip files").files(mnist(true, |_| {})),
        t("idx: dotted names (train-images.idx3-ubyte)").files(
            mnist(false, |_| {})
                .into_iter()
                .map(|(n, b)| (n.replace("-idx", ".idx"), b))
                .collect(),
        ),
        t("idx: bad image magic")
            .files(mnist(false, |f| f.get_mut(TRAIN_IMAGES).unwrap()[3] = 0x04))
            .err("m/train-images-idx3-ubyte: expected an IDX image file"),
        t("idx: bad label magic")
            .files(mnist(false, |f| f.get_mut(TRAIN_LABELS).unwrap()[3] = 0x03))
            .err("m/train-labels-idx1-ubyte: expected an IDX label file"),
        t("idx: magic of another element type")
            .files(mnist(false, |f| f.get_mut(TRAIN_IMAGES).unwrap()[2] = 0x0d))
            .err("m/train-images-idx3-ubyte"),
        t("idx: gzip bad magic")
            .files(mnist(true, |f| f.get_mut(TEST_IMAGES).unwrap()[0] = 0xff))
            .err("m/t10k-images-idx3-ubyte.gz"),
        t("idx: truncated header")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, header_only(idx_images(12, 3, 3), 7));
            }))
            .err("m/train-images-idx3-ubyte: truncated IDX file: the header needs 16 bytes, found 7"),
        t("idx: empty file")
            .files(mnist(false, |f| {
                f.insert(TRAIN_LABELS, Vec::new());
            }))
            .err("m/train-labels-idx1-ubyte"),
        t("idx: truncated body")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, header_only(idx_images(12, 3, 3), 40));
            }))
            .err("m/train-images-idx3-ubyte: truncated IDX file"),
        t("idx: truncated body, gzip")
            .files(mnist(true, |f| {
                f.insert(TRAIN_IMAGES, header_only(idx_images(12, 3, 3), 40));
            }))
            .err("m/train-images-idx3-ubyte.gz: truncated IDX file"),
        t("idx: trailing bytes")
            .files(mnist(false, |f| f.get_mut(TEST_LABELS).unwrap().extend(b"xx")))
            .err("m/t10k-labels-idx1-ubyte: IDX file longer than its header says"),
        t("idx: trailing bytes, gzip")
            .files(mnist(true, |f| f.get_mut(TRAIN_IMAGES).unwrap().push(0)))
            .err("m/train-images-idx3-ubyte.gz: IDX file longer"),
        t("idx: label count differs from image count")
            .files(mnist(false, |f| {
                f.insert(TRAIN_LABELS, idx_labels(11));
            }))
            .err("m/train-labels-idx1-ubyte: 11 labels, but the image file m/train-images-idx3-ubyte holds 12 images"),
        t("idx: zero images")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, idx_images(0, 3, 3));
                f.insert(TRAIN_LABELS, idx_labels(0));
            }))
            .err("m/train-images-idx3-ubyte: the IDX header promises no images"),
        t("idx: images of zero pixels")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, idx_images(12, 0, 3));
            }))
            .err("m/train-images-idx3-ubyte: the IDX header promises images of no pixels"),
        t("idx: test images of another size")
            .files(mnist(false, |f| {
                f.insert(TEST_IMAGES, idx_images(6, 2, 2));
            }))
            .err("m: training images have 9 pixels, test images 4"),
        t("idx: header promising 2^40 bytes")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, idx_header(0x803, &[1 << 20, 1 << 10, 1 << 10]));
            }))
            .err("m/train-images-idx3-ubyte (1048576×1024×1024 bytes) needs about"),
        t("idx: gzip header promising 2^40 bytes")
            .files(mnist(true, |f| {
                f.insert(TRAIN_IMAGES, idx_header(0x803, &[1 << 20, 1 << 10, 1 << 10]));
            }))
            .err("m/train-images-idx3-ubyte.gz (1048576×1024×1024 bytes) needs about"),
        t("idx: header dims overflowing u64")
            .files(mnist(false, |f| {
                f.insert(TRAIN_IMAGES, idx_header(0x803, &[u32::MAX; 3]));
            }))
            .err("m/train-images-idx3-ubyte"),
        t("idx: gzip bomb (200 MB of zeros after a 12×3×3 header)")
            .files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                encoder.write_all(&idx_images(12, 3, 3)).unwrap();
                let zeros = vec![0u8; 1 << 20];
                for _ in 0..200 {
                    encoder.write_all(&zeros).unwrap();
                }
                encoder.finish().unwrap()
            }))
            .err("m/train-images-idx3-ubyte.gz: IDX file longer than its header says"),
        t("idx: corrupt gzip stream")
            .files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), {
                let mut bytes = gzip(&idx_images(12, 3, 3));
                let middle = bytes.len() / 2;
                for b in &mut bytes[12..middle] {
                    *b ^= 0x5a;
                }
                bytes
            }))
            .err("m/train-images-idx3-ubyte.gz"),
        t("idx: gzip with a bad CRC")
            .files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), {
                let mut bytes = gzip(&idx_images(12, 3, 3));
                let n = bytes.len();
                bytes[n - 8] ^= 0xff;
                bytes
            }))
            .err("m/train-images-idx3-ubyte.gz"),
        t("idx: truncated gzip stream")
            .files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), {
                let bytes = gzip(&idx_images(12, 3, 3));
                bytes[..bytes.len() / 2].to_vec()
            }))
            .err("m/train-images-idx3-ubyte.gz: corrupt gzip data"),
        t("idx: gzip stream of 10 bytes")
            .files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), gzip(b"")[..10].to_vec()))
            .err("m/train-images-idx3-ubyte.gz"),
        t("idx: concatenated gzip members").files(mnist_with(&format!("{TRAIN_IMAGES}.gz"), {
            let bytes = idx_images(12, 3, 3);
            [gzip(&bytes[..40]), gzip(&bytes[40..])].concat()
        })),
        t("idx: raw bytes under a .gz name").files(mnist_with(&format!("{TRAIN_LABELS}.gz"), idx_labels(12))),
        t("idx: empty directory")
            .dir("m")
            .err("m: missing train-images-idx3-ubyte"),
        t("idx: missing t10k files")
            .files(mnist(false, |f| {
                f.remove(TEST_IMAGES);
                f.remove(TEST_LABELS);
            }))
            .err("m: missing t10k-images-idx3-ubyte"),
        t("idx: missing train labels")
            .files(mnist(false, |f| {
                f.remove(TRAIN_LABELS);
            }))
            .err("m: missing train-labels-idx1-ubyte"),
        t("idx: a directory where a file should be")
            .files(mnist(false, |f| {
                f.remove(TEST_LABELS);
            }))
            .dir(&format!("m/{TEST_LABELS}"))
            .err("m: missing t10k-labels-idx1-ubyte"),
        t("idx: test labels unseen in training").files(mnist(false, |f| {
            let l = f.get_mut(TEST_LABELS).unwrap();
            l[8] = 9;
        })),
        t("idx: --target is refused")
            .files(mnist(false, |_| {}))
            .arg("--target")
            .arg("label")
            .err("--target cannot be used with the IDX directory 'm'"),
        t("idx: --task regression")
            .files(mnist(false, |_| {}))
            .arg("--task")
            .arg("regression"),
        case(
            "idx: eval with a model of other inputs",
            "eval --model m.safetensors --data m",
        )
        .files(mnist(false, |_| {}))
        .file("m.safetensors", models().binary.clone())
        .err("the data lacks 2 of the model's feature columns: a, b"),
    ]
}

fn model_cases() -> Vec<Case> {
    let m = models();
    let eval = |name: &str, bytes: Vec<u8>| {
        case(name, "eval --model m.safetensors --data d.csv")
            .file("d.csv", binary(12))
            .file("m.safetensors", bytes)
    };
    let predict = |name: &str, bytes: Vec<u8>| {
        case(name, "predict --model m.safetensors --data d.csv")
            .file("d.csv", binary(12))
            .file("m.safetensors", bytes)
    };
    let len = m.binary.len();
    let header_len = u64::from_le_bytes(m.binary[..8].try_into().unwrap()) as usize;
    let mut cases = Vec::new();
    for cut in [
        0,
        1,
        7,
        8,
        9,
        8 + header_len / 2,
        8 + header_len - 1,
        8 + header_len,
        8 + header_len + 3,
        len - 4,
        len - 1,
    ] {
        cases.push(eval(&format!("model: truncated at byte {cut}"), m.binary[..cut].to_vec()).err("m.safetensors: "));
    }
    cases.extend([
        eval("model: valid binary classifier", m.binary.clone()),
        eval("model: valid multi-class classifier", m.multi.clone()).file("d.csv", multi(12)),
        eval("model: valid regression", m.regression.clone()).file("d.csv", regression(12)),
        eval("model: one extra byte", [m.binary.clone(), vec![0]].concat()).err("m.safetensors"),
        eval(
            "model: garbage",
            (0..777u32).map(|i| (i * 131 % 251) as u8).collect::<Vec<_>>(),
        )
        .err("m.safetensors: "),
        eval("model: a CSV file", binary(12)).err("m.safetensors: a text file, not a model"),
        eval(
            "model: empty JSON header",
            [2u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat(),
        )
        .err("m.safetensors"),
        eval(
            "model: header length 2^64-1",
            [u64::MAX.to_le_bytes().to_vec(), m.binary[8..].to_vec()].concat(),
        )
        .err("m.safetensors"),
        eval(
            "model: header length 2^40",
            [(1u64 << 40).to_le_bytes().to_vec(), m.binary[8..].to_vec()].concat(),
        )
        .err("m.safetensors"),
        eval("model: header not JSON", {
            let mut b = m.binary.clone();
            b[8] = b'[';
            b[9] = b'[';
            b
        })
        .err("m.safetensors"),
        eval(
            "model: offsets past the end",
            edited_header(&m.binary, |h| h["layers.0.weight"]["data_offsets"] = json!([24, 4000])),
        )
        .err("m.safetensors"),
        eval(
            "model: overlapping offsets",
            edited_header(&m.binary, |h| h["layers.0.bias"]["data_offsets"] = json!([0, 12])),
        )
        .err("m.safetensors"),
        eval(
            "model: offsets reversed",
            edited_header(&m.binary, |h| h["layers.0.weight"]["data_offsets"] = json!([40, 24])),
        )
        .err("m.safetensors"),
        eval(
            "model: shape disagreeing with offsets",
            edited_header(&m.binary, |h| h["layers.0.weight"]["shape"] = json!([3, 3])),
        )
        .err("m.safetensors"),
        eval(
            "model: shape of 2^62 elements",
            edited_header(&m.binary, |h| {
                h["layers.0.weight"]["shape"] = json!([1u64 << 31, 1u64 << 31])
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: unknown dtype",
            edited_header(&m.binary, |h| h["layers.0.bias"]["dtype"] = json!("Q7")),
        )
        .err("m.safetensors"),
        eval(
            "model: F64 weights",
            edited_model(&m.binary, |_, t| retype(t, "layers.0.weight", Dtype::F64)),
        )
        .err("m.safetensors"),
        eval(
            "model: I32 weights",
            edited_model(&m.binary, |_, t| retype(t, "layers.0.weight", Dtype::I32)),
        )
        .err("m.safetensors"),
        eval(
            "model: F16 bias",
            edited_model(&m.binary, |_, t| retype(t, "layers.0.bias", Dtype::F16)),
        )
        .err("m.safetensors"),
        eval(
            "model: U8 std",
            edited_model(&m.binary, |_, t| retype(t, "input.std", Dtype::U8)),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata not JSON",
            edited_model(&m.binary, |meta, _| *meta = json!("{\"version\": 1,")),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata a number",
            edited_model(&m.binary, |meta, _| *meta = json!("42")),
        )
        .err("m.safetensors"),
        eval("model: no actlab metadata", {
            let file = SafeTensors::deserialize(&m.binary).unwrap();
            let views: Vec<_> = file.tensors();
            safetensors::serialize(views, None).unwrap()
        })
        .err("m.safetensors"),
        eval(
            "model: metadata without layers",
            edited_model(&m.binary, |meta, _| {
                meta.as_object_mut().unwrap().remove("layers");
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata without classes",
            edited_model(&m.binary, |meta, _| {
                meta.as_object_mut().unwrap().remove("classes");
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata without features",
            edited_model(&m.binary, |meta, _| {
                meta.as_object_mut().unwrap().remove("features");
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata without version",
            edited_model(&m.binary, |meta, _| {
                meta.as_object_mut().unwrap().remove("version");
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: metadata version 2",
            edited_model(&m.binary, |meta, _| meta["version"] = json!(2)),
        )
        .err("m.safetensors"),
        // Metadata keys actlab does not know are ignored (a later version may add some).
        eval(
            "model: metadata with an extra key",
            edited_model(&m.binary, |meta, _| meta["surprise"] = json!(true)),
        ),
        eval(
            "model: layers a string",
            edited_model(&m.binary, |meta, _| meta["layers"] = json!("2-3-1")),
        )
        .err("m.safetensors"),
        eval(
            "model: layer width a string",
            edited_model(&m.binary, |meta, _| meta["layers"][0]["out"] = json!("3")),
        )
        .err("m.safetensors"),
        eval(
            "model: negative layer width",
            edited_model(&m.binary, |meta, _| meta["layers"][0]["out"] = json!(-3)),
        )
        .err("m.safetensors"),
        eval(
            "model: layer width 1e12",
            edited_model(&m.binary, |meta, _| {
                meta["layers"][0]["out"] = json!(1_000_000_000_000u64);
                meta["layers"][1]["in"] = json!(1_000_000_000_000u64);
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: layer width 2^64-1",
            edited_model(&m.binary, |meta, _| {
                meta["layers"][0]["out"] = json!(u64::MAX);
                meta["layers"][1]["in"] = json!(u64::MAX);
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: layer width 2.5",
            edited_model(&m.binary, |meta, _| meta["layers"][0]["out"] = json!(2.5)),
        )
        .err("m.safetensors"),
        eval(
            "model: no layers",
            edited_model(&m.binary, |meta, _| meta["layers"] = json!([])),
        )
        .err("m.safetensors"),
        eval(
            "model: unknown activation",
            edited_model(&m.binary, |meta, _| meta["layers"][0]["activation"] = json!("swoosh")),
        )
        .err("m.safetensors"),
        eval(
            "model: activation with a NaN parameter",
            edited_model(&m.binary, |meta, _| {
                meta["layers"][0]["activation"] = json!("leaky_relu:nan")
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: unknown task",
            edited_model(&m.binary, |meta, _| meta["task"] = json!("clustering")),
        )
        .err("m.safetensors"),
        eval(
            "model: unknown loss",
            edited_model(&m.binary, |meta, _| meta["loss"] = json!("hinge")),
        )
        .err("m.safetensors"),
        eval(
            "model: three classes for one sigmoid output",
            edited_model(&m.binary, |meta, _| meta["classes"] = json!(["0", "1", "2"])),
        )
        .err("m.safetensors"),
        eval(
            "model: one class",
            edited_model(&m.binary, |meta, _| meta["classes"] = json!(["0"])),
        )
        .err("m.safetensors"),
        eval(
            "model: duplicate classes",
            edited_model(&m.multi, |meta, _| meta["classes"] = json!(["cat", "cat", "emu"])),
        )
        .file("d.csv", multi(12))
        .err("m.safetensors"),
        eval(
            "model: classes of numbers, not strings",
            edited_model(&m.binary, |meta, _| meta["classes"] = json!([0, 1])),
        )
        .err("m.safetensors"),
        eval(
            "model: duplicate feature names",
            edited_model(&m.binary, |meta, _| meta["features"] = json!(["a", "a"])),
        )
        .err("m.safetensors"),
        eval(
            "model: one feature name for two inputs",
            edited_model(&m.binary, |meta, _| meta["features"] = json!(["a"])),
        )
        .err("m.safetensors"),
        eval(
            "model: NaN weight",
            edited_model(&m.binary, |_, t| set_f32(t, "layers.0.weight", 1, f32::NAN)),
        )
        .err("m.safetensors"),
        eval(
            "model: infinite bias",
            edited_model(&m.binary, |_, t| set_f32(t, "layers.1.bias", 0, f32::INFINITY)),
        )
        .err("m.safetensors"),
        eval(
            "model: std 0",
            edited_model(&m.binary, |_, t| set_f32(t, "input.std", 0, 0.0)),
        )
        .err("m.safetensors"),
        eval(
            "model: negative std",
            edited_model(&m.binary, |_, t| set_f32(t, "input.std", 1, -1.0)),
        )
        .err("m.safetensors"),
        eval(
            "model: NaN mean",
            edited_model(&m.binary, |_, t| set_f32(t, "input.mean", 0, f32::NAN)),
        )
        .err("m.safetensors"),
        eval(
            "model: weights of 1e38",
            edited_model(&m.binary, |_, t| {
                for i in 0..4 {
                    set_f32(t, "layers.0.weight", i, 3e38)
                }
            }),
        )
        .err("the prediction for row 8 of the data is not finite"),
        eval(
            "model: a tensor missing",
            edited_model(&m.binary, |_, t| {
                t.remove("layers.1.bias");
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: an extra tensor",
            edited_model(&m.binary, |_, t| {
                t.insert("layers.9.weight".into(), (Dtype::F32, vec![1], vec![0; 4]));
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: a tensor of the wrong shape",
            edited_model(&m.binary, |_, t| {
                t.insert("layers.1.bias".into(), (Dtype::F32, vec![2], vec![0; 8]));
            }),
        )
        .err("m.safetensors"),
        eval(
            "model: target scale on a classifier",
            edited_model(&m.binary, |_, t| {
                t.insert("target.mean".into(), (Dtype::F32, vec![1], vec![0; 4]));
            }),
        )
        .err("m.safetensors"),
        case("model: a directory", "eval --model m.safetensors --data d.csv")
            .file("d.csv", binary(12))
            .dir("m.safetensors")
            .err("m.safetensors"),
        case("model: missing file", "eval --model nope.safetensors --data d.csv")
            .file("d.csv", binary(12))
            .err("nope.safetensors"),
        case("model: a FIFO", "eval --model f --data d.csv")
            .file("d.csv", binary(12))
            .fifo("f")
            .err("f: not a regular file"),
        case("model: /dev/zero", "eval --model /dev/zero --data d.csv")
            .file("d.csv", binary(12))
            .err("/dev/zero: not a regular file"),
        eval("model: eval data without the target", m.binary.clone())
            .file("d.csv", "a,b\n1,2\n")
            .err("d.csv:1: missing column 'y'"),
        eval("model: eval data with an unseen class", m.binary.clone())
            .file("d.csv", "a,b,y\n1,2,0\n3,4,5\n")
            .err("d.csv"),
        eval("model: eval regression data that is text", m.regression.clone())
            .file("d.csv", "a,b,y\n1,2,x\n")
            .err("d.csv:2:3"),
        eval("model: eval classifier on regression values", m.binary.clone())
            .file("d.csv", "a,b,y\n1,2,0.5\n")
            .err("d.csv"),
        case(
            "model: eval a built-in set of other columns",
            "eval --model m.safetensors --data iris",
        )
        .file("m.safetensors", m.binary.clone())
        .err("the data lacks 2 of the model's feature columns: a, b"),
        predict("model: predict, valid", m.binary.clone()),
        predict("model: predict --proba", m.multi.clone()).arg("--proba"),
        predict("model: predict --proba on regression", m.regression.clone())
            .arg("--proba")
            .err("--proba needs a classifier"),
        predict("model: predict on a header only", m.binary.clone())
            .file("d.csv", "a,b\n")
            .err("d.csv:1: header but no data rows"),
        predict("model: predict on one row", m.binary.clone()).file("d.csv", "a,b\n1,2\n"),
        predict("model: predict on reordered columns", m.regression.clone()).file("d.csv", "b,a,z\n1,2,3\n"),
        predict("model: predict on a missing column", m.binary.clone())
            .file("d.csv", "a,c\n1,2\n")
            .err("d.csv:1: missing column 'b'"),
        predict("model: predict on values of 1e38", m.binary.clone())
            .file("d.csv", "a,b\n3e38,-3e38\n")
            .err("row 1 of the data is not finite"),
        predict(
            "model: predict with huge weights",
            edited_model(&m.regression, |_, t| {
                for i in 0..6 {
                    set_f32(t, "layers.0.weight", i, 3e38)
                }
            }),
        )
        .err("overflow f32"),
        predict("model: predict --no-header, right count", m.binary.clone())
            .file("d.csv", "1,2\n3,4\n")
            .arg("--no-header"),
        predict("model: predict --no-header, wrong count", m.binary.clone())
            .file("d.csv", "1,2,3\n")
            .arg("--no-header")
            .err("d.csv:1: expected 2 columns"),
        case("model: predict --data a FIFO", "predict --model m.safetensors --data f")
            .file("m.safetensors", m.binary.clone())
            .fifo("f")
            .err("f"),
        predict("model: corrupt model, good data", m.binary[..len / 2].to_vec()).err("m.safetensors"),
    ]);
    cases
}

fn flag_cases() -> Vec<Case> {
    let mut cases = vec![
        case("flags: no subcommand", "").err("subcommand"),
        case("flags: unknown subcommand", "tain --data iris").err("unrecognized subcommand 'tain'"),
        case("flags: --version", "--version"),
        case("flags: --help", "train --help"),
        case("flags: train without --data", "train --epochs 1").err("--data"),
        case("flags: eval without --model", "eval --data iris").err("--model"),
        case("flags: eval without --data", "eval --model m").err("--data"),
        case("flags: predict without --model", "predict --data d.csv").err("--model"),
        case("flags: predict without --data", "predict --model m").err("--data"),
        case("flags: plot without names", "plot").err("<NAMES>"),
        case("flags: train unknown flag", "train --data iris --bogus").err("unexpected argument '--bogus'"),
        case("flags: eval unknown flag", "eval --model m --data iris --epochs 3").err("unexpected argument '--epochs'"),
        case("flags: predict unknown flag", "predict --model m --data d --lr 1").err("unexpected argument '--lr'"),
        case("flags: compare unknown flag", "compare --activation relu").err("unexpected argument '--activation'"),
        case("flags: experiments unknown flag", "experiments --bogus").err("unexpected argument '--bogus'"),
        case("flags: advise unknown flag", "advise --data iris --epochs 1").err("unexpected argument '--epochs'"),
        case("flags: activations unknown flag", "activations --bogus").err("unexpected argument '--bogus'"),
        case("flags: plot unknown flag", "plot relu --bogus").err("unexpected argument '--bogus'"),
        case("flags: a flag given twice", "train --data iris --lr 0.1 --lr 0.2")
            .err("'--lr <X>' cannot be used multiple times"),
        case("flags: --data given twice", "train --data iris --data xor")
            .err("'--data <PATH|NAME>' cannot be used multiple times"),
        case("flags: --hidden given twice", "train --data iris --hidden 3 --hidden 4")
            .err("'--hidden <SIZES>' cannot be used multiple times"),
        case("flags: --data with no value", "train --data").err("--data"),
        case("flags: --data empty", TRAIN)
            .arg("--data")
            .arg("")
            .err("--data ''"),
        case("flags: --data an unknown name", &format!("{TRAIN} --data irish"))
            .err("--data 'irish': no such file, and not a built-in data set"),
        case(
            "flags: --target with a built-in set",
            &format!("{TRAIN} --data iris --target species"),
        )
        .err("--target cannot be used with the built-in data set 'iris'"),
    ];
    // Where the Debian package is installed the set loads, and the quality test covers it.
    if !Path::new(actlab::data::FASHION_MNIST_DIR).exists() {
        cases.push(
            case(
                "flags: --data fashion-mnist missing",
                &format!("{TRAIN} --data fashion-mnist"),
            )
            .err("apt-get install dataset-fashion-mnist"),
        );
    }
    let train = |name: String, flag: &str, value: &str| {
        case(&name, "train --threads 1 --data xor --samples 40")
            .arg(flag)
            .arg(value)
    };
    for (flag, values, needle) in [
        (
            "--lr",
            &["-1", "0", "nan", "inf", "1e40", "", "abc", "0x1"][..],
            "'--lr <X>'",
        ),
        (
            "--epochs",
            &["-1", "0", "nan", "1.5", "1e30", "", "18446744073709551616"][..],
            "'--epochs <N>'",
        ),
        ("--batch-size", &["-1", "0", "", "abc", "3.5"][..], "'--batch-size <N>'"),
        (
            "--hidden",
            &[",", "10,,20", "0", "-1", "1e9", "4,0", " ", "3,", "abc"][..],
            "'--hidden <SIZES>'",
        ),
        (
            "--activation",
            &[
                "bogus",
                "leaky_relu:nan",
                "elu:-1",
                "softplus:0",
                "prelu:inf",
                "relu:1",
                ",",
                "gelu:foo",
                "leaky_relu:",
                "leaky_relu:0.2:3",
                "softplus:-1",
                "elu:1e40",
                "RELU:",
            ][..],
            "'--activation <NAMES>'",
        ),
        ("--output", &["bogus", "", "leaky_relu:inf"][..], "'--output <NAME>'"),
        (
            "--loss",
            &["bogus", "huber:nan", "huber:0", "huber:", "mse:2"][..],
            "'--loss <NAME>'",
        ),
        ("--init", &["bogus", ""][..], "'--init <NAME>'"),
        ("--optimizer", &["bogus", ""][..], "'--optimizer <NAME>'"),
        (
            "--schedule",
            &["bogus", "step:0", "step:-1", "step:2:nan", "plateau:0"][..],
            "'--schedule <NAME>'",
        ),
        ("--scaling", &["bogus"][..], "'--scaling <HOW>'"),
        ("--task", &["bogus"][..], "'--task <TASK>'"),
        (
            "--validation",
            &["1.0", "1", "-0.1", "nan", "2"][..],
            "'--validation <X>'",
        ),
        ("--patience", &["0", "-1", "x"][..], "'--patience <N>'"),
        ("--threads", &["0", "2000", "-1", ""][..], "'--threads <N>'"),
        (
            "--max-memory",
            &["0", "abc", "1Q", "-1", "", "99999999999999999999T"][..],
            "'--max-memory <SIZE>'",
        ),
        ("--seed", &["-1", "18446744073709551616", "1.5"][..], "'--seed <N>'"),
        ("--samples", &["0", "3", "-5"][..], "'--samples <N>'"),
        ("--noise", &["nan", "-1", "inf", "x"][..], "'--noise <X>'"),
        ("--weight-decay", &["-1", "nan"][..], "'--weight-decay <X>'"),
        ("--clip-norm", &["0", "-1", "inf"][..], "'--clip-norm <X>'"),
        ("--diagnostics", &["0", "-3"][..], "'--diagnostics"),
    ] {
        for value in values {
            cases.push(train(format!("flags: train {flag} '{value}'"), flag, value).err(needle));
        }
    }
    cases.extend([
        train("flags: train --hidden 1e11 (memory)".into(), "--hidden", "100000000000")
            .arg("--epochs")
            .arg("1")
            .err("needs about"),
        train("flags: train --max-memory 1K".into(), "--max-memory", "1K")
            .arg("--epochs")
            .arg("1")
            .err("the memory limit is 1.0 KiB"),
        train("flags: train --max-memory 1T".into(), "--max-memory", "1T")
            .arg("--epochs")
            .arg("1")
            .arg("--hidden")
            .arg("3"),
        train("flags: train --seed 2^64-1".into(), "--seed", "18446744073709551615")
            .arg("--epochs")
            .arg("1")
            .arg("--hidden")
            .arg("3"),
        case(
            "flags: train --samples 4",
            "train --threads 1 --data xor --samples 4 --epochs 1 --hidden 3",
        ),
        case(
            "flags: train --samples 1e11",
            "train --threads 1 --data xor --samples 100000000000 --epochs 1 --hidden 3",
        )
        .err("--samples"),
        case(
            "flags: train --samples on a CSV",
            &format!("{TRAIN} --data d.csv --samples 10"),
        )
        .file("d.csv", binary(12)),
        case(
            "flags: train --schedule cosine:3",
            "train --threads 1 --data xor --samples 40 --epochs 1 --schedule cosine:3",
        )
        .err("'--schedule <NAME>'"),
        case(
            "flags: train --loss huber:1e-3",
            "train --threads 1 --data d.csv --epochs 1 --hidden 3 --loss huber:1e-3",
        )
        .file("d.csv", regression(12)),
        case(
            "flags: train --noise 1e30",
            "train --threads 1 --data xor --samples 40 --noise 1e30 --epochs 1 --hidden 3",
        ),
        case(
            "flags: train --lr 1e30 diverges",
            "train --threads 1 --data xor --samples 40 --epochs 3 --hidden 3 --lr 1e30 --optimizer sgd",
        )
        .err("diverged"),
        // One step of it leaves weights whose outputs overflow: refused when scored.
        case(
            "flags: train --lr 1e30, one epoch",
            &format!("train {XOR} --lr 1e30 --optimizer sgd"),
        )
        .err("of the data is not finite"),
        case(
            "flags: train --batch-size beyond the data",
            "train --threads 1 --data xor --samples 40 --batch-size 1000000 --epochs 1 --hidden 3",
        ),
        case(
            "flags: train more activations than layers",
            &format!("train {XOR} --activation relu,relu,relu"),
        )
        .err("3 activations given for 1 hidden layers"),
        case(
            "flags: train one activation per layer",
            "train --threads 1 --data xor --samples 40 --epochs 1 --hidden 3,3 --activation relu,tanh",
        ),
        case(
            "flags: train softmax for regression",
            &format!("{TRAIN} --data d.csv --output softmax"),
        )
        .file("d.csv", regression(12))
        .err("softmax cannot be the output of a regression"),
        case(
            "flags: train bce with softmax",
            &format!("{TRAIN} --data d.csv --output softmax --loss binary_cross_entropy"),
        )
        .file("d.csv", binary(12))
        .err("loss binary_cross_entropy needs a sigmoid output, not softmax"),
        case(
            "flags: train cross-entropy for regression",
            &format!("{TRAIN} --data d.csv --loss cross_entropy"),
        )
        .file("d.csv", regression(12))
        .err("loss cross_entropy needs a softmax output"),
        case(
            "flags: train huber:-1",
            &format!("{TRAIN} --data d.csv --loss huber:-1"),
        )
        .file("d.csv", regression(12))
        .err("got '-1'"),
        case(
            "flags: train --validation 0.99",
            &format!("{TRAIN} --data d.csv --validation 0.99"),
        )
        .file("d.csv", binary(12)),
        case(
            "flags: train --patience with 3 rows to hold out from",
            "train --threads 1 --data d.csv --test d.csv --epochs 3 --hidden 3 --patience 1",
        )
        .file("d.csv", binary(3)),
        case(
            "flags: train --patience with 12 rows",
            &format!("{TRAIN} --data d.csv --patience 1"),
        )
        .file("d.csv", binary(12)),
        case(
            "flags: train --threads 1024",
            "train --threads 1024 --data xor --samples 40 --epochs 1 --hidden 3",
        ),
        case(
            "flags: eval --seed -1",
            "eval --model m.safetensors --data iris --seed -1",
        )
        .err("'--seed <N>'"),
        case(
            "flags: eval --no-header on a built-in set",
            "eval --model m.safetensors --data iris --no-header",
        )
        .file("m.safetensors", models().binary.clone())
        .err("--no-header applies to CSV files"),
        case("flags: compare --seeds 0", "compare --data xor --seeds 0").err("'--seeds <N>'"),
        case("flags: compare --activations empty", "compare --data xor --activations")
            .arg("")
            .err("'--activations <NAMES>'"),
        case(
            "flags: compare --target-accuracy 0",
            "compare --data xor --target-accuracy 0",
        )
        .err("'--target-accuracy <X>'"),
        case(
            "flags: compare --target-accuracy 1.5",
            "compare --data xor --target-accuracy 1.5",
        )
        .err("'--target-accuracy <X>'"),
        case(
            "flags: compare --target-accuracy nan",
            "compare --data xor --target-accuracy nan",
        )
        .err("'--target-accuracy <X>'"),
        case(
            "flags: compare on regression with --target-accuracy",
            "compare --threads 1 --data d.csv --epochs 1 --hidden 3 --activations relu --target-accuracy 0.5",
        )
        .file("d.csv", regression(12)),
        case("flags: experiments --only 0", "experiments --only 0").err("'--only <IDS>'"),
        case("flags: experiments --only 10", "experiments --only 10").err("'--only <IDS>'"),
        case("flags: experiments --only 1,,2", "experiments --only 1,,2").err("'--only <IDS>'"),
        case("flags: experiments --only -1", "experiments --only -1").err("'--only <IDS>'"),
        case(
            "flags: experiments --only 7,7 --quick",
            "experiments --only 7,7 --quick",
        ),
        case("flags: advise --output bogus", "advise --data iris --output bogus").err("'--output <NAME>'"),
        case(
            "flags: advise --task regression on string labels",
            "advise --data d.csv --task regression",
        )
        .file("d.csv", multi(12))
        .err("d.csv"),
        case(
            "flags: advise --output sigmoid on large targets",
            "advise --data d.csv --output sigmoid",
        )
        .file("d.csv", regression(12)),
        case("flags: plot unknown name", "plot swoosh --out p.svg").err("unknown activation 'swoosh'"),
        case("flags: plot --range 5,-5", "plot relu --range 5,-5 --out p.svg").err("'--range <LOW,HIGH>'"),
        case("flags: plot --range a,b", "plot relu --range a,b --out p.svg").err("'--range <LOW,HIGH>'"),
        case("flags: plot --range 1", "plot relu --range 1 --out p.svg").err("'--range <LOW,HIGH>'"),
        case("flags: plot --range nan,1", "plot relu --range nan,1 --out p.svg").err("'--range <LOW,HIGH>'"),
        case("flags: plot --range 0,1e300", "plot relu --range 0,1e300 --out p.svg"),
        case(
            "flags: plot --range -1e-30,1e-30",
            "plot sigmoid --range -1e-30,1e-30 --out p.svg",
        ),
        case(
            "flags: plot --range -1e30,1e30 exp-like",
            "plot elu softplus mish --range -1e30,1e30 --derivative --out p.png",
        ),
        case("flags: activations --json", "activations --json"),
        case(
            "flags: --max-memory before the subcommand",
            "--max-memory 1K train --data xor --samples 40 --epochs 1 --threads 1",
        )
        .err("the memory limit is 1.0 KiB"),
    ]);
    cases
}

fn output_cases() -> Vec<Case> {
    let m = models();
    vec![
        case(
            "output: --save into a missing directory",
            &format!("{TRAIN} --data d.csv --save no/such/m.safetensors"),
        )
        .file("d.csv", binary(12))
        .err("--save no/such/m.safetensors"),
        case(
            "output: --save onto a directory",
            &format!("{TRAIN} --data d.csv --save m"),
        )
        .file("d.csv", binary(12))
        .dir("m")
        .err("--save m: is a directory"),
        case(
            "output: --save onto --data",
            &format!("{TRAIN} --data d.csv --save d.csv"),
        )
        .file("d.csv", binary(12))
        .err("--save d.csv"),
        case(
            "output: --save onto --test",
            &format!("{TRAIN} --data d.csv --test t.csv --save t.csv"),
        )
        .file("d.csv", binary(12))
        .file("t.csv", binary(4))
        .err("--save t.csv"),
        case("output: --save onto a FIFO", &format!("{TRAIN} --data d.csv --save f"))
            .file("d.csv", binary(12))
            .fifo("f")
            .err("--save f"),
        case("output: --save an empty path", &format!("{TRAIN} --data d.csv --save"))
            .file("d.csv", binary(12))
            .arg("")
            .err("--save"),
        case(
            "output: --save to /dev/full",
            &format!("{TRAIN} --data d.csv --save /dev/full"),
        )
        .file("d.csv", binary(12))
        .err("--save /dev/full"),
        case(
            "output: --save a valid path",
            &format!("{TRAIN} --data d.csv --save m.safetensors"),
        )
        .file("d.csv", binary(12))
        .then(model_saved),
        case(
            "output: --save replaces an old model",
            &format!("{TRAIN} --data d.csv --save m.safetensors"),
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.regression.clone())
        .then(model_saved),
        case(
            "output: predict --out onto the model",
            "predict --model m.safetensors --data d.csv --out m.safetensors",
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.binary.clone())
        .err("--out m.safetensors"),
        case(
            "output: predict --out onto --data",
            "predict --model m.safetensors --data d.csv --out d.csv",
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.binary.clone())
        .err("--out d.csv"),
        case(
            "output: predict --out into a missing directory",
            "predict --model m.safetensors --data d.csv --out no/p.csv",
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.binary.clone())
        .err("--out no/p.csv"),
        case(
            "output: predict --out a directory",
            "predict --model m.safetensors --data d.csv --out p",
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.binary.clone())
        .dir("p")
        .err("--out p"),
        case(
            "output: predict --out a valid path",
            "predict --model m.safetensors --data d.csv --out p.csv",
        )
        .file("d.csv", binary(12))
        .file("m.safetensors", m.binary.clone())
        .then(predictions_written),
        case(
            "output: plot --out into a missing directory",
            "plot relu --out no/p.svg",
        )
        .err("--out no/p.svg"),
        case("output: plot --out a directory", "plot relu --out p.svg")
            .dir("p.svg")
            .err("--out p.svg"),
        case("output: plot --out without extension", "plot relu --out p")
            .err("--out p: the file name must end in .svg or .png"),
        case("output: plot --out .txt", "plot relu --out p.txt").err("--out p.txt"),
        case("output: plot --out empty", "plot relu --out").arg("").err("--out"),
        case("output: plot --out a FIFO", "plot relu --out f.svg")
            .fifo("f.svg")
            .err("--out f.svg"),
        case("output: plot --out - to stdout", "plot relu tanh --out -"),
        case("output: plot --out PNG", "plot relu --out p.PNG"),
        case(
            "output: compare --report onto a file",
            "compare --data xor --epochs 1 --report r",
        )
        .file("r", "keep")
        .err("--report r: exists and is not a directory"),
        case(
            "output: compare --report over a foreign index.html",
            "compare --data xor --epochs 1 --report r",
        )
        .file("r/index.html", "mine")
        .err("--report r: index.html exists there and was not written by actlab"),
        case(
            "output: compare --report into a missing parent",
            &format!("compare {XOR} --activations relu --report a/b/r"),
        )
        .then(|dir| report_written(&dir.join("a/b"))),
        case(
            "output: experiments --report onto a file",
            "experiments --quick --only 7 --report r",
        )
        .file("r", "keep")
        .err("--report r: exists and is not a directory"),
        case(
            "output: experiments --report a valid directory",
            "experiments --quick --only 7 --report r",
        )
        .then(report_written),
    ]
}

fn pipe_cases() -> Vec<Case> {
    let m = models();
    vec![
        case(
            "pipe: train closed after 10 bytes",
            "train --threads 1 --data xor --samples 400 --epochs 20 --hidden 8",
        )
        .closed_after(10),
        case("pipe: train closed at once", &format!("train {XOR}")).closed_after(0),
        case(
            "pipe: train --json closed after 1 byte",
            "train --threads 1 --data xor --samples 40 --epochs 2 --hidden 3 --json",
        )
        .closed_after(1),
        case(
            "pipe: predict, large output, closed after 10 bytes",
            "predict --model m.safetensors --data d.csv",
        )
        .file("m.safetensors", m.multi.clone())
        .file("d.csv", rows(200_000, |i| ["cat", "dog", "emu"][i % 3].to_string()))
        .closed_after(10),
        case(
            "pipe: predict --proba closed at once",
            "predict --model m.safetensors --data d.csv --proba",
        )
        .file("m.safetensors", m.multi.clone())
        .file("d.csv", multi(5000))
        .closed_after(0),
        case("pipe: activations closed after 5 bytes", "activations").closed_after(5),
        case(
            "pipe: plot --out - closed after 10 bytes",
            "plot relu tanh --derivative --out -",
        )
        .closed_after(10),
        case("pipe: eval closed at once", "eval --model m.safetensors --data d.csv")
            .file("m.safetensors", m.binary.clone())
            .file("d.csv", binary(12))
            .closed_after(0),
        case("pipe: advise closed after 3 bytes", "advise --data iris").closed_after(3),
        case(
            "pipe: compare closed after the first line",
            &format!("{CMP} --activations relu,tanh"),
        )
        .closed_after(20),
        case(
            "pipe: compare --report closed early, report still written",
            &format!("{CMP} --activations relu,tanh --report r"),
        )
        .closed_after(20)
        .then(report_written),
        case(
            "pipe: compare --json --report closed, report still written",
            &format!("{CMP} --activations relu --json --report r"),
        )
        .closed_after(0)
        .then(report_written),
        case(
            "pipe: experiments --report closed early, report still written",
            "experiments --quick --only 1,7 --report r",
        )
        .closed_after(5)
        .then(report_written),
        case("pipe: stdout /dev/full, activations", "activations")
            .full_stdout()
            .err("standard output"),
        case("pipe: stdout /dev/full, train", &format!("train {XOR}"))
            .full_stdout()
            .err("standard output"),
        case("pipe: stdout /dev/full, plot --out -", "plot relu --out -")
            .full_stdout()
            .err("standard output"),
        case(
            "pipe: stdout /dev/full, compare",
            &format!("compare {XOR} --activations relu"),
        )
        .full_stdout()
        .err("standard output"),
        case(
            "pipe: stdout /dev/full, compare --report",
            &format!("compare {XOR} --activations relu --report r"),
        )
        .full_stdout()
        .err("standard output"),
        case("pipe: stdout /dev/full, experiments", "experiments --quick --only 7")
            .full_stdout()
            .err("standard output"),
        case(
            "pipe: stdout /dev/full, predict",
            "predict --model m.safetensors --data d.csv",
        )
        .file("m.safetensors", m.binary.clone())
        .file("d.csv", binary(12))
        .full_stdout()
        .err("standard output"),
    ]
}

fn size_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (kind, make) in [
        ("binary", binary as fn(usize) -> Vec<u8>),
        ("multi-class", multi),
        ("regression", regression),
    ] {
        for n in [1, 2, 3, 5, 7] {
            let name = format!("size: {kind}, {n} rows");
            let split = case(&name, &format!("{TRAIN} --data d.csv --batch-size 64")).file("d.csv", make(n));
            // A split needs a test row besides one training row per class.
            let classes = match kind {
                "binary" => n.min(2),
                "multi-class" => n.min(3),
                _ => 1,
            };
            let splits = if kind == "regression" { n >= 2 } else { n > classes };
            cases.push(if splits {
                split
            } else {
                let rows = if n == 1 {
                    "1 row leaves".to_string()
                } else {
                    format!("{n} rows leave")
                };
                split.err(format!("d.csv: {rows} no test samples"))
            });
            // Without a split only one class is too few.
            let themselves = case(
                &format!("{name}, tested on themselves"),
                &format!("{TRAIN} --data d.csv --test d.csv"),
            )
            .file("d.csv", make(n));
            cases.push(if kind != "regression" && classes < 2 {
                themselves.err("the target has 1 class")
            } else {
                themselves
            });
        }
    }
    cases
}

fn all_cases() -> Vec<Case> {
    [
        csv_cases(),
        idx_cases(),
        model_cases(),
        flag_cases(),
        output_cases(),
        pipe_cases(),
        size_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the cases.

/// Every path under `dir` with the contents of its regular files.
fn listing(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                pending.push(path.clone());
            }
            let contents = kind.is_file().then(|| std::fs::read(&path).unwrap());
            found.insert(path, contents);
        }
    }
    found
}

fn prepare(case: &Case, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, input) in &case.inputs {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match input {
            Input::File(bytes) => std::fs::write(&path, bytes).unwrap(),
            Input::Dir => std::fs::create_dir_all(&path).unwrap(),
            Input::Fifo => {
                let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(
                    unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
                    0,
                    "mkfifo {}",
                    path.display()
                );
            }
        }
    }
}

fn command(case: &Case, dir: &Path) -> Process {
    let mut command = Process::new(env!("CARGO_BIN_EXE_actlab"));
    command
        .args(&case.args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    command
}

/// Waits for `child` at most until `deadline` from `start`; kills it after.
fn wait_until(child: &mut Child, start: Instant) -> (ExitStatus, bool) {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, false);
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            return (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs one case; `Err` describes how it failed.
fn run(case: &Case, dir: &Path) -> Result<(), String> {
    prepare(case, dir);
    let before = listing(dir);
    let start = Instant::now();
    let (output, timed_out) = match case.expect {
        Expect::ClosedPipe(bytes) => {
            let mut child = command(case, dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = child.stdout.take().unwrap();
            let mut head = vec![0; bytes];
            let mut read = 0;
            while read < bytes {
                match stdout.read(&mut head[read..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
            drop(stdout);
            let mut stderr = child.stderr.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = stderr.read_to_end(&mut text);
                text
            });
            let (status, timed_out) = wait_until(&mut child, start);
            let stderr = reader.join().unwrap();
            (
                Output {
                    status,
                    stdout: head,
                    stderr,
                },
                timed_out,
            )
        }
        _ if case.full_stdout => {
            let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
            let mut child = command(case, dir).stdout(full).stderr(Stdio::piped()).spawn().unwrap();
            let mut stderr = child.stderr.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = stderr.read_to_end(&mut text);
                text
            });
            let (status, timed_out) = wait_until(&mut child, start);
            (
                Output {
                    status,
                    stdout: Vec::new(),
                    stderr: reader.join().unwrap(),
                },
                timed_out,
            )
        }
        _ => {
            let output = assert_cmd::Command::from_std(command(case, dir))
                .timeout(LIMIT)
                .output()
                .unwrap();
            let timed_out = start.elapsed() >= LIMIT || output.status.signal() == Some(libc::SIGKILL);
            (output, timed_out)
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let fail = |why: String| {
        Err(format!(
            "{why}\n    status: {:?}, {seconds:.1} s\n    stderr: {stderr}",
            output.status
        ))
    };
    if timed_out {
        return fail(format!("did not end within {} s", LIMIT.as_secs()));
    }
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        if stderr.to_lowercase().contains(&bad.to_lowercase()) {
            return fail(format!("'{bad}' on stderr"));
        }
    }
    if output.status.code() == Some(101) {
        return fail("exit status 101 (a panic)".into());
    }
    if let Some(signal) = output.status.signal() {
        if !(matches!(case.expect, Expect::ClosedPipe(_)) && signal == libc::SIGPIPE) {
            return fail(format!("killed by signal {signal}"));
        }
    }
    if let Some(line) = stderr.lines().find(|l| l.chars().any(|c| c.is_control() && c != '\t')) {
        return fail(format!("a control character on stderr: {line:?}"));
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    let others: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("error") && !l.starts_with("note: ") && !l.starts_with("warning: "))
        .collect();
    if !others.is_empty() {
        return fail(format!("unexpected lines on stderr: {others:?}"));
    }
    match &case.expect {
        Expect::Ok | Expect::ClosedPipe(_) => {
            if !errors.is_empty() {
                return fail("an error line".into());
            }
            if matches!(case.expect, Expect::Ok) && !output.status.success() {
                return fail("failed".into());
            }
            if let Some(token) = stdout
                .split(|c: char| !(c.is_alphanumeric() || "._-+".contains(c)))
                .map(|t| t.trim_start_matches(['-', '+']).to_lowercase())
                .find(|t| ["nan", "inf", "infinity"].contains(&t.as_str()))
            {
                return fail(format!("a number that is not finite on stdout: {token}"));
            }
        }
        Expect::Err(needle) => {
            if output.status.success() {
                return fail(format!(
                    "succeeded; stdout: {}",
                    stdout.chars().take(500).collect::<String>()
                ));
            }
            if errors.len() != 1 || !errors[0].starts_with("error: ") {
                return fail(format!("expected one line 'error: …', got {errors:?}"));
            }
            if stderr.lines().last() != Some(errors[0]) {
                return fail("the error line is not the last line on stderr".into());
            }
            if !errors[0].contains(needle) {
                return fail(format!("expected '{needle}' in the error line"));
            }
            let after = listing(dir);
            if after != before {
                let changed: Vec<_> = after
                    .keys()
                    .chain(before.keys())
                    .filter(|p| after.get(*p) != before.get(*p))
                    .collect();
                return fail(format!("a refused command changed its directory: {changed:?}"));
            }
        }
    }
    if let Some(check) = case.then {
        check(dir).or_else(fail)?;
    }
    Ok(())
}

/// Runs `cases` on [`WORKERS`] threads and panics listing every failure.
fn run_all(cases: &[&Case]) {
    let root = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                if let Err(why) = run(case, &root.path().join(format!("case{i}"))) {
                    failures.lock().unwrap().push(format!("{}: {why}", case.name));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!("{} cases in {:.1} s", cases.len(), start.elapsed().as_secs_f64());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus() {
    let cases = all_cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "two cases share a name");
    let filter = std::env::var("ADVERSARIAL_FILTER").unwrap_or_default();
    let selected: Vec<&Case> = cases.iter().filter(|c| c.name.contains(&filter)).collect();
    run_all(&selected);
}

/// Runs the cases whose names contain `part`: a named test for one fix.
fn run_matching(part: &str) {
    let cases = all_cases();
    let selected: Vec<&Case> = cases.iter().filter(|c| c.name.contains(part)).collect();
    assert!(!selected.is_empty(), "no case matches '{part}'");
    run_all(&selected);
}

/// `actlab compare --report r | head -1` and the same for experiments: the report is written
/// although stdout closed before the table was printed.
#[test]
fn a_closed_pipe_does_not_lose_the_report() {
    run_matching("report still written");
}

/// Stdout on a full device: one error line naming standard output, not a panic.
#[test]
fn an_unwritable_stdout_is_one_error_line() {
    run_matching("stdout /dev/full");
}

/// `--epochs -1`, `--seed -1`, `--only -1`…: refused naming the flag, not as an unknown `-1`.
#[test]
fn a_negative_value_is_refused_naming_its_flag() {
    run_matching("'-1'");
}

#[test]
fn no_subcommand_is_one_error_line() {
    run_matching("flags: no subcommand");
}

/// A finite network output that overflows f32 once scaled back to the target's units.
#[test]
fn a_prediction_beyond_f32_in_target_units_is_an_error() {
    run_matching("regression targets near f32::MAX");
}
