//! Helpers shared by the command-line tests.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The `actlab` binary built for the tests.
pub fn actlab() -> Command {
    Command::cargo_bin("actlab").unwrap()
}

/// Writes `contents` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs `actlab` with `args`, expects failure with one line `error: …` containing `needle`,
/// and no panic or backtrace.
pub fn fails_with(args: &[&str], needle: &str) {
    let output = actlab().args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{args:?}: expected one line, got:\n{stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected '{needle}' in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// The JSON object on the last line of `stdout`.
pub fn last_json_line(stdout: &[u8]) -> Value {
    let text = String::from_utf8(stdout.to_vec()).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}
