//! The bodies of the fuzz targets in `fuzz/fuzz_targets/` (which include this module with
//! `#[path]`), shared with `tests/fuzz_corpus.rs`, which replays the fuzz corpus through them.
//!
//! Each `check` takes arbitrary bytes, runs one input path of the library on them and panics
//! only when the library panics or breaks an invariant of its result; errors are fine.

pub mod csv;
pub mod idx;
pub mod model;

use std::path::PathBuf;
use std::sync::OnceLock;

/// Writes `bytes` to `name` in a temporary directory of this process and gives its path, for
/// the readers that take paths. The directory is in memory (`/dev/shm`) where there is one:
/// a file written and read on a disk takes milliseconds, which would slow the fuzzer 30-fold.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory")
    });
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("writing a temporary file");
    path
}
