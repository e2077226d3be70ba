//! Safe output files: every file actlab writes goes through [`write_atomically`].
//!
//! The rules:
//! - An output only ever replaces a **regular file**. A directory, device node, FIFO or socket
//!   at the path is refused, and so is a file that the same command reads: inputs are compared
//!   by identity (device and inode on Unix), so `./data.csv`, `data.csv` and a hard link to it
//!   are the same file.
//! - A **symbolic link** at the path is followed: when it leads to a regular file, that file is
//!   replaced and the link is kept; a link to anything else, or a dangling link, is refused.
//! - The bytes go to a temporary file beside the target, named `.NAME.actlab-tmp.PID`, which
//!   is then renamed over the target, so the target is never half written. The temporary file
//!   is removed when the write fails, and on SIGINT and SIGTERM once
//!   [`remove_temp_files_on_signals`] is installed.
//! - A temporary file left by a process that was killed outright (SIGKILL, power loss) is
//!   **stale**: the next write to the same target removes it when the process named by its PID
//!   is no longer running, or when it is older than [`STALE_AFTER`] (a PID may be reused).
//! - A replaced file keeps its permission bits; a new file gets 0644.
//!
//! [`check_output`] applies the same checks without writing, so that a command can refuse a
//! bad output path before it starts a long computation; [`write_atomically`] checks again.
//!
//! Inputs are opened with [`open_input`] or read with [`read_input`], which accept only a
//! regular file: a FIFO would block for ever and `/dev/zero` would be read for ever.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::{Error, Result};

/// A temporary file older than this is stale whatever its PID says.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// What tells an actlab temporary file: `.NAME` + this + `PID`.
const TEMP_MARK: &str = ".actlab-tmp.";

/// Temporary files being written by this process, for the signal handler.
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn in_flight() -> MutexGuard<'static, Vec<PathBuf>> {
    IN_FLIGHT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn refuse(path: &Path, message: impl Into<String>) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks that `path` may be written as an output of a command that reads `inputs`: see the
/// [module documentation](self) for the rules. Inputs that do not exist (built-in data set
/// names) are ignored; an input directory stands for the files directly inside it.
///
/// # Errors
/// [`Error::Output`] naming `path` when the rules refuse it or its directory is missing or not
/// writable.
pub fn check_output(path: &Path, inputs: &[&Path]) -> Result<()> {
    output_target(path, inputs).map(|_| ())
}

/// Writes `bytes` to `path` through a temporary file beside it and a rename, after checking it
/// as [`check_output`] does; `inputs` are the files the command reads. Stale temporary files
/// of the same target are removed first.
///
/// # Errors
/// [`Error::Output`] as for [`check_output`]; [`Error::Io`] naming `path` (never the
/// temporary file) when writing fails, in which case the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8], inputs: &[&Path]) -> Result<()> {
    let target = output_target(path, inputs)?;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent(&target);
    let name = target.file_name().expect("output_target returns a file path");
    remove_stale_temp_files(dir, name);
    let temp = dir.join(temp_name(name, std::process::id()));
    let mut file = create_temp(&temp).map_err(io)?;
    let result = fill(&mut file, &target, bytes).and_then(|()| fs::rename(&temp, &target));
    drop(file);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    in_flight().retain(|p| p != &temp);
    result.map_err(io)?;
    // Make the rename itself durable; a failure here loses nothing already written.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Installs a handler for SIGINT and SIGTERM that removes the temporary files being written
/// and ends the process with the conventional status, 128 + the signal's number (130 for
/// SIGINT, 143 for SIGTERM). Meant for programs (the `actlab` command line); call it once,
/// early. On other platforms than Unix it does nothing.
///
/// # Errors
/// [`Error::Config`] if the handler cannot be installed.
pub fn remove_temp_files_on_signals() -> Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Error::config(format!("cannot install the signal handler: {e}")))?;
        std::thread::spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Holding the lock until the process ends keeps any new temporary file from
                // being created after this cleanup.
                let temps = in_flight();
                for temp in temps.iter() {
                    let _ = fs::remove_file(temp);
                }
                std::process::exit(128 + signal);
            }
        });
    }
    Ok(())
}

/// Opens the input file `path` and gives its length, refusing anything but a regular file.
///
/// # Errors
/// [`Error::Io`] naming `path` when it cannot be opened or is not a regular file.
pub fn open_input(path: &Path) -> Result<(File, u64)> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true);
    // Without O_NONBLOCK, opening a FIFO waits for a writer; on a regular file it changes nothing.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(io(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    Ok((file, metadata.len()))
}

/// Reads the whole input file `path` (a regular file, see [`open_input`]) once its size times
/// `copies`, the copies its reader will hold, fits the memory limit.
///
/// # Errors
/// As [`open_input`], and [`Error::Memory`].
pub fn read_input(path: &Path, copies: u64) -> Result<Vec<u8>> {
    let (mut file, len) = open_input(path)?;
    crate::memory::check(&format!("reading {}", path.display()), len.saturating_mul(copies))?;
    let mut bytes = Vec::with_capacity(len as usize);
    io::Read::read_to_end(&mut file, &mut bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes)
}

/// The file a write to `path` replaces or creates: `path` itself, or the file a symbolic link
/// at `path` leads to.
fn output_target(path: &Path, inputs: &[&Path]) -> Result<PathBuf> {
    if path.as_os_str().is_empty() {
        return Err(refuse(path, "an empty file name"));
    }
    if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with(std::path::MAIN_SEPARATOR) {
        return Err(refuse(path, "names a directory, not a file"));
    }
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path).map_err(|_| {
            refuse(
                path,
                "is a symbolic link that leads nowhere; refusing to write through it",
            )
        })?,
        Ok(_) => path.to_path_buf(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            check_directory(path)?;
            return Ok(path.to_path_buf());
        }
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let meta = fs::metadata(&target).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(refuse(
            path,
            format!(
                "is {}, not a regular file; refusing to replace it",
                kind(&meta.file_type())
            ),
        ));
    }
    for input in inputs {
        if let Some(same) = same_as_input(&meta, &target, input) {
            let message = if same == path {
                "is an input of this command; refusing to overwrite it".to_string()
            } else {
                format!(
                    "is the same file as {}, an input of this command; refusing to overwrite it",
                    same.display()
                )
            };
            return Err(refuse(path, message));
        }
    }
    check_directory(&target)?;
    Ok(target)
}

/// Refuses a file path whose directory is missing, not a directory, or not writable.
fn check_directory(path: &Path) -> Result<()> {
    let dir = parent(path);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(refuse(path, format!("{} is not a directory", dir.display()))),
        Err(_) => return Err(refuse(path, format!("the directory {} does not exist", dir.display()))),
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_dir = std::ffi::CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| refuse(path, "the file name holds a NUL byte"))?;
        // SAFETY: `c_dir` is a valid NUL-terminated string that outlives the call.
        if unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) } != 0 {
            let reason = io::Error::last_os_error();
            return Err(refuse(
                path,
                format!("cannot write in the directory {}: {reason}", dir.display()),
            ));
        }
    }
    Ok(())
}

/// The directory a file path lies in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn kind(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The input, or the file inside an input directory, that is the same file as `target`.
fn same_as_input(target_meta: &fs::Metadata, target: &Path, input: &Path) -> Option<PathBuf> {
    let meta = fs::metadata(input).ok()?;
    if !meta.is_dir() {
        return same_file(target_meta, target, &meta, input).then(|| input.to_path_buf());
    }
    fs::read_dir(input)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|file| fs::metadata(file).is_ok_and(|m| m.is_file() && same_file(target_meta, target, &m, file)))
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, _: &Path, b: &fs::Metadata, _: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, a: &Path, _: &fs::Metadata, b: &Path) -> bool {
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

fn temp_name(name: &std::ffi::OsStr, pid: u32) -> OsString {
    let mut temp = OsString::from(".");
    temp.push(name);
    temp.push(TEMP_MARK);
    temp.push(pid.to_string());
    temp
}

/// Creates the temporary file `temp` (never through a link planted at its name) and records
/// it as in flight. A file already there with this process's PID is a leftover of an earlier
/// process that had the same PID, unless this process is writing it now.
fn create_temp(temp: &Path) -> io::Result<File> {
    let mut temps = in_flight();
    if temps.iter().any(|p| p == temp) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "this file is already being written",
        ));
    }
    let create = || {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(temp)
    };
    let file = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(temp)?;
            create()?
        }
        other => other?,
    };
    temps.push(temp.to_path_buf());
    Ok(file)
}

/// Gives `file` the permissions of the `target` it replaces (0644 for a new one) and writes
/// `bytes` to it, durably.
fn fill(file: &mut File, target: &Path, bytes: &[u8]) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(target).map_or(0o644, |m| m.permissions().mode());
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the stale temporary files of `name` in `dir` (see the module documentation).
fn remove_stale_temp_files(dir: &Path, name: &std::ffi::OsStr) {
    let prefix = temp_name(name, 0);
    let prefix = prefix.to_string_lossy();
    let prefix = prefix.strip_suffix('0').expect("temp_name ends with the PID");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old || !process_is_running(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(unix)]
fn process_is_running(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_running(_: u32) -> bool {
    // Without a cheap check, only the age makes a temporary file stale.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temps(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(TEMP_MARK))
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    #[test]
    fn new_files_get_0644_and_replaced_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.csv");
        write_atomically(&new, b"a\n", &[]).unwrap();
        assert_eq!(fs::read(&new).unwrap(), b"a\n");
        assert_eq!(fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o644);
        let existing = dir.path().join("existing.csv");
        fs::write(&existing, b"old").unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&existing, b"new", &[]).unwrap();
        assert_eq!(fs::read(&existing).unwrap(), b"new");
        assert_eq!(fs::metadata(&existing).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(temps(dir.path()).is_empty());
    }

    #[test]
    fn inputs_are_compared_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.csv");
        fs::write(&data, b"x,y\n1,2\n").unwrap();
        let dotted = dir.path().join(".").join("data.csv");
        let err = write_atomically(&dotted, b"z", &[&data]).unwrap_err().to_string();
        assert!(err.contains("is an input of this command"), "{err}");
        // A directory input stands for the files inside it.
        let err = check_output(&data, &[dir.path()]).unwrap_err().to_string();
        assert!(
            err.ends_with("data.csv: is an input of this command; refusing to overwrite it"),
            "{err}"
        );
        let link = dir.path().join("link.csv");
        fs::hard_link(&data, &link).unwrap();
        let err = check_output(&link, &[&data]).unwrap_err().to_string();
        assert!(err.contains("same file as") && err.contains("data.csv"), "{err}");
        // Built-in names that are no files are no inputs.
        check_output(&dir.path().join("model.safetensors"), &[Path::new("iris")]).unwrap();
        assert_eq!(fs::read(&data).unwrap(), b"x,y\n1,2\n");
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomically(dir.path(), b"z", &[]).unwrap_err().to_string();
        assert!(
            err.contains("names a directory") || err.contains("is a directory"),
            "{err}"
        );
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let err = write_atomically(&sub, b"z", &[]).unwrap_err().to_string();
        assert!(err.contains("is a directory, not a regular file"), "{err}");
        let err = check_output(&dir.path().join("missing/model.safetensors"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        #[cfg(unix)]
        {
            let socket = dir.path().join("socket");
            let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
            let err = write_atomically(&socket, b"z", &[]).unwrap_err().to_string();
            assert!(err.contains("is a socket"), "{err}");
            use std::os::unix::fs::FileTypeExt;
            assert!(fs::symlink_metadata(&socket).unwrap().file_type().is_socket());
        }
        assert!(temps(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_to_a_regular_file_replaces_that_file_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("real.csv", &link).unwrap();
        write_atomically(&link, b"new", &[]).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A link to an input is that input; a dangling link and a link to a directory are refused.
        let err = check_output(&link, &[&real]).unwrap_err().to_string();
        assert!(err.contains("same file as"), "{err}");
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink("nowhere.csv", &dangling).unwrap();
        let err = write_atomically(&dangling, b"z", &[]).unwrap_err().to_string();
        assert!(err.contains("leads nowhere"), "{err}");
        assert!(!dir.path().join("nowhere.csv").exists());
        let to_dir = dir.path().join("to_dir");
        std::os::unix::fs::symlink(dir.path(), &to_dir).unwrap();
        let err = write_atomically(&to_dir, b"z", &[]).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        assert!(temps(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn stale_temporary_files_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("model.safetensors");
        let temp = |pid: u32| dir.path().join(temp_name(target.file_name().unwrap(), pid));
        // PID 1 runs; i32::MAX is above any PID the kernel hands out.
        let (running, dead) = (temp(1), temp(i32::MAX as u32));
        fs::write(&running, b"in flight").unwrap();
        fs::write(&dead, b"left by a killed process").unwrap();
        let other_target = dir.path().join(temp_name("other.csv".as_ref(), i32::MAX as u32));
        fs::write(&other_target, b"another target's").unwrap();
        write_atomically(&target, b"model", &[]).unwrap();
        assert!(running.exists(), "a running process's temporary file was removed");
        assert!(!dead.exists(), "a dead process's temporary file was kept");
        assert!(other_target.exists(), "another target's temporary file was removed");
        // An old one is stale even when its PID runs (the PID may have been reused).
        let long_ago = std::time::SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(&running)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        write_atomically(&target, b"model", &[]).unwrap();
        assert!(!running.exists());
        assert_eq!(fs::read(&target).unwrap(), b"model");
    }

    #[cfg(unix)]
    #[test]
    fn a_leftover_at_this_process_temporary_name_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let mine = dir
            .path()
            .join(temp_name(target.file_name().unwrap(), std::process::id()));
        // A link planted at the temporary name is removed, not written through.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, &mine).unwrap();
        write_atomically(&target, b"out", &[]).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read(&target).unwrap(), b"out");
        assert!(temps(dir.path()).is_empty());
        assert!(!in_flight().contains(&mine));
    }
}
