//! Fuzz target: see `check` in tests/fuzz_checks/model.rs.

#![no_main]

#[allow(dead_code)]
#[path = "../../tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::model::check(data));
