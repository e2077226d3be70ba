//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) and the inputs that made a fuzz target
//! fail (`tests/fuzz_regressions/<target>/`) through the fuzz targets' checks
//! (`tests/fuzz_checks/`): no input may panic, unless it is listed in [`KNOWN_FAILURES`].
//!
//! The fuzzing itself runs with cargo-fuzz (see `fuzz/`); this only replays what it found.

// The binary's modules are here for their argument structs; most of their functions go unused.
#![allow(dead_code)]

mod fuzz_checks;

// The binary's modules, at the crate root where their `crate::` paths point (for `check_args`).
#[path = "../src/bin/actlab/advise.rs"]
mod advise;
#[path = "../src/bin/actlab/args.rs"]
mod args;
#[path = "../src/bin/actlab/compare.rs"]
mod compare;
#[path = "../src/bin/actlab/cv.rs"]
mod cv;
#[path = "../src/bin/actlab/eval.rs"]
mod eval;
#[path = "../src/bin/actlab/experiments.rs"]
mod experiments;
#[path = "../src/bin/actlab/export.rs"]
mod export;
#[path = "../src/bin/actlab/lab.rs"]
mod lab;
#[path = "../src/bin/actlab/plot.rs"]
mod plot;
#[path = "../src/bin/actlab/predict.rs"]
mod predict;
#[path = "../src/bin/actlab/report.rs"]
mod report;
#[path = "../src/bin/actlab/scores.rs"]
mod scores;
#[path = "../src/bin/actlab/stdout.rs"]
mod stdout;
#[path = "../src/bin/actlab/train.rs"]
mod train;

#[path = "fuzz_checks/args.rs"]
mod check_args;

use std::collections::BTreeSet;
use std::panic::catch_unwind;
use std::path::{Path, PathBuf};

/// How a regression input still fails on today's code.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Failure {
    /// The check panics; the replay expects it to, so the entry must go once it is fixed.
    Panics,
    /// It would exhaust the memory and abort the test process: not replayed while listed.
    ExhaustsMemory,
}

/// Regression inputs (target, file name) that still fail. Remove an entry when its bug is
/// fixed: the input is then replayed like every other.
const KNOWN_FAILURES: &[(&str, &str, Failure)] = &[
    // None today. Fixed: from_safetensors accepted an output layer whose width differs from
    // the class count (`output_wider_than_classes`, `digits_nine_classes_ten_outputs`), and
    // read_idx named every pixel of zero 65535×65535 images (`zero_images_huge_pixels`).
];

/// The files of the corpus and of the regression inputs of `target`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("fuzz/corpus").join(target),
        root.join("tests/fuzz_regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        files.extend(entries.map(|e| e.expect("a directory entry").path()));
    }
    files.sort();
    assert!(files.len() >= 5, "the corpus of {target} is missing or nearly empty");
    files
}

/// Runs `check` on every input of `target`: only the known failures may panic, and they must.
fn replay(target: &str, check: fn(&[u8])) {
    let known = |name: &str, failure: Failure| {
        KNOWN_FAILURES
            .iter()
            .any(|&(t, n, f)| t == target && n == name && f == failure)
    };
    let mut panicked = BTreeSet::new();
    for path in inputs(target) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if known(&name, Failure::ExhaustsMemory) {
            continue;
        }
        let bytes = std::fs::read(&path).expect("reading a corpus file");
        if catch_unwind(|| check(&bytes)).is_err() {
            panicked.insert(name);
        }
    }
    let expected: BTreeSet<String> = KNOWN_FAILURES
        .iter()
        .filter(|&&(t, _, f)| t == target && f == Failure::Panics)
        .map(|&(_, n, _)| n.to_string())
        .collect();
    assert_eq!(
        panicked, expected,
        "inputs of {target} that panic, against the known failures"
    );
}

#[test]
fn csv_corpus_replays() {
    replay("csv", fuzz_checks::csv::check);
}

#[test]
fn idx_corpus_replays() {
    replay("idx", fuzz_checks::idx::check);
}

#[test]
fn model_corpus_replays() {
    replay("model", fuzz_checks::model::check);
}

#[test]
fn args_corpus_replays() {
    replay("args", check_args::check);
}

#[test]
fn args_check_builds_a_sound_command() {
    check_args::command().debug_assert();
}

/// The model seeds are files `actlab train --save` wrote: they must still load, so that the
/// fuzzer starts from valid files (rewrite them when the format changes).
#[test]
fn model_seeds_load() {
    for name in ["digits", "iris", "prelu", "reg", "reg_noscale", "residual"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/model")
            .join(name);
        let bytes = std::fs::read(&path).expect("a model seed");
        let model = actlab::model_io::from_safetensors(&bytes, &path).expect("a seed loads");
        assert_eq!(model.feature_names.len(), model.mlp.inputs());
    }
}
