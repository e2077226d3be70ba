//! Fuzz target: see `check` in tests/fuzz_checks/args.rs.

#![no_main]
// The binary's modules are here for their argument structs; most of their functions go unused.
#![allow(dead_code)]

// The binary's modules, at the crate root where their `crate::` paths point.
#[path = "../../src/bin/actlab/advise.rs"]
mod advise;
#[path = "../../src/bin/actlab/args.rs"]
mod args;
#[path = "../../src/bin/actlab/compare.rs"]
mod compare;
#[path = "../../src/bin/actlab/cv.rs"]
mod cv;
#[path = "../../src/bin/actlab/eval.rs"]
mod eval;
#[path = "../../src/bin/actlab/experiments.rs"]
mod experiments;
#[path = "../../src/bin/actlab/export.rs"]
mod export;
#[path = "../../src/bin/actlab/lab.rs"]
mod lab;
#[path = "../../src/bin/actlab/plot.rs"]
mod plot;
#[path = "../../src/bin/actlab/predict.rs"]
mod predict;
#[path = "../../src/bin/actlab/report.rs"]
mod report;
#[path = "../../src/bin/actlab/scores.rs"]
mod scores;
#[path = "../../src/bin/actlab/stdout.rs"]
mod stdout;
#[path = "../../src/bin/actlab/train.rs"]
mod train;

#[path = "../../tests/fuzz_checks/args.rs"]
mod check_args;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check_args::check(data));
