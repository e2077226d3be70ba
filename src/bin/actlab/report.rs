//! `--report DIR`, shared by the subcommands that write one: checking the directory and writing
//! a report's files into it.

use std::path::Path;

use actlab::fileio;
use actlab::report::{is_report, ReportFile};
use anyhow::{bail, Context, Result};

/// The files every report has; checked before the work starts, so that a directory that would
/// be refused is refused before it, not after.
pub const PAGES: [&str; 2] = ["index.html", "report.md"];

/// Refuses `dir` if it is not a directory, if it holds any of `names` and its `index.html`
/// is not an earlier actlab report, or if any of `names` there is not a file that
/// [`fileio::check_output`] lets us replace.
pub fn check_dir(dir: &Path, names: &[&str]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("--report {}: exists and is not a directory", dir.display());
    }
    if dir.is_dir() {
        for name in names {
            fileio::check_output(&dir.join(name), &[]).map_err(crate::args::flag("--report"))?;
        }
    }
    let ours = std::fs::read_to_string(dir.join("index.html")).is_ok_and(|page| is_report(&page));
    if !ours {
        if let Some(name) = names.iter().find(|n| dir.join(n).exists()) {
            bail!(
                "--report {}: {name} exists there and was not written by actlab; choose a new or empty directory",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Writes `files` into `dir` (created if missing), each atomically, the page last: until it
/// is written, the directory is not marked as a report. Checks `dir` again first.
pub fn write(dir: &Path, files: &[ReportFile]) -> Result<()> {
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    check_dir(dir, &names)?;
    std::fs::create_dir_all(dir).with_context(|| format!("--report {}: cannot create the directory", dir.display()))?;
    for file in files
        .iter()
        .filter(|f| f.name != "index.html")
        .chain(files.iter().filter(|f| f.name == "index.html"))
    {
        fileio::write_atomically(&dir.join(&file.name), &file.contents, &[]).map_err(crate::args::flag("--report"))?;
    }
    Ok(())
}
