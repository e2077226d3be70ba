//! Outputs never destroy what they should not: refused paths, temporary files, signals, closed
//! pipes, and the small command-line faults that come with them.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{actlab, fails_with, last_json_line, write};

/// What a path is before and after a refused write: its type, inode, size, mtime and contents.
fn snapshot(path: &Path) -> (u32, u64, u64, i64, i64, Option<Vec<u8>>) {
    let m = std::fs::symlink_metadata(path).unwrap();
    let contents = m.is_file().then(|| std::fs::read(path).unwrap());
    (m.mode(), m.ino(), m.size(), m.mtime(), m.mtime_nsec(), contents)
}

/// The actlab temporary files in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".actlab-tmp."))
        .collect()
}

/// Runs `args`, expects one `error:` line containing `needle`, and `path` untouched.
fn refused(args: &[&str], path: &Path, needle: &str) {
    let before = snapshot(path);
    fails_with(args, needle);
    assert_eq!(snapshot(path), before, "{args:?} changed {}", path.display());
    assert!(temps(path.parent().unwrap()).is_empty());
}

fn iris_csv(dir: &Path) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv")).unwrap();
    write(dir, "iris.csv", &text)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn save_refuses_directories_fifos_sockets_and_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("inside"), b"kept").unwrap();
    refused(
        &["train", "--data", "iris", "--epochs", "1", "--save", s(&sub)],
        &sub,
        "is a directory, not a regular file",
    );
    assert_eq!(std::fs::read(sub.join("inside")).unwrap(), b"kept");

    let fifo = dir.path().join("fifo");
    assert!(Process::new("mkfifo").arg(&fifo).status().unwrap().success());
    refused(
        &["train", "--data", "iris", "--epochs", "1", "--save", s(&fifo)],
        &fifo,
        "is a FIFO",
    );

    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    refused(
        &["train", "--data", "iris", "--epochs", "1", "--save", s(&socket)],
        &socket,
        "is a socket",
    );
    assert!(std::fs::symlink_metadata(&socket).unwrap().file_type().is_socket());

    // Refused before any work: nothing is printed, the data is not even read.
    let missing = dir.path().join("no/such/dir/m.safetensors");
    let output = actlab()
        .args(["train", "--data", "digits", "--epochs", "300", "--save", s(&missing)])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: --save ") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn save_refuses_device_nodes() {
    let dir = tempfile::tempdir().unwrap();
    // A private device node like /dev/null (1, 3); making one needs root.
    let node = dir.path().join("null");
    let made = Process::new("mknod")
        .args([s(&node), "c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !made {
        eprintln!("note: not root, so no device node to test --save on; skipped");
        return;
    }
    refused(
        &["train", "--data", "iris", "--epochs", "1", "--save", s(&node)],
        &node,
        "is a character device",
    );
    assert!(std::fs::metadata(&node).unwrap().file_type().is_char_device());
    // A link to it is refused just the same, and stays a link.
    let link = dir.path().join("link.svg");
    std::os::unix::fs::symlink(&node, &link).unwrap();
    refused(&["plot", "relu", "--out", s(&link)], &link, "is a character device");
}

#[test]
fn outputs_never_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let data = PathBuf::from(iris_csv(dir.path()));
    let train = |save: &Path| -> Vec<String> {
        ["train", "--data", s(&data), "--epochs", "1", "--save", s(save)]
            .map(String::from)
            .to_vec()
    };
    let args = train(&data);
    refused(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &data,
        "is an input of this command",
    );
    // The same file by another name: ./x, and a hard link.
    let dotted = dir.path().join(".").join("sub").join("..").join("iris.csv");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let args = train(&dotted);
    refused(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &data,
        "an input of this command",
    );
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&data, &hard).unwrap();
    let args = train(&hard);
    refused(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &data,
        "is the same file as",
    );
    // --test is an input too.
    let test = PathBuf::from(write(dir.path(), "test.csv", &std::fs::read_to_string(&data).unwrap()));
    refused(
        &[
            "train",
            "--data",
            s(&data),
            "--test",
            s(&test),
            "--epochs",
            "1",
            "--save",
            s(&test),
        ],
        &test,
        "is an input of this command",
    );

    // predict --out onto the model file, or onto its data.
    let model = dir.path().join("m.safetensors");
    actlab()
        .args(["train", "--data", s(&data), "--epochs", "2", "--save", s(&model)])
        .assert()
        .success();
    let predict = |out: &Path| ["predict", "--model", s(&model), "--data", s(&data), "--out", s(out)].map(String::from);
    refused(
        &predict(&model).iter().map(String::as_str).collect::<Vec<_>>(),
        &model,
        "is an input of this command",
    );
    refused(
        &predict(&hard).iter().map(String::as_str).collect::<Vec<_>>(),
        &data,
        "is the same file as",
    );
    // A fresh path works, and the model still loads.
    let out = dir.path().join("p.csv");
    actlab()
        .args(predict(&out).iter().map(String::as_str))
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 151);
}

#[test]
fn a_symbolic_link_to_a_file_replaces_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.svg");
    std::fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link.svg");
    std::os::unix::fs::symlink("real.svg", &link).unwrap();
    actlab().args(["plot", "relu", "--out", s(&link)]).assert().success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("<svg"));
    let dangling = dir.path().join("dangling.svg");
    std::os::unix::fs::symlink("nowhere.svg", &dangling).unwrap();
    refused(&["plot", "relu", "--out", s(&dangling)], &dangling, "leads nowhere");
    assert!(!dir.path().join("nowhere.svg").exists());
}

#[test]
fn a_stale_temporary_file_is_removed_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    // i32::MAX is above any PID the kernel hands out: that process is not running.
    let stale = dir.path().join(format!(".m.safetensors.actlab-tmp.{}", i32::MAX));
    std::fs::write(&stale, b"half a model").unwrap();
    actlab()
        .args(["train", "--data", "iris", "--epochs", "1", "--save", s(&model)])
        .assert()
        .success();
    assert!(!stale.exists());
    assert!(temps(dir.path()).is_empty());
    assert!(std::fs::metadata(&model).unwrap().len() > 1000);
}

#[test]
fn a_failed_write_names_the_file_once_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chart.svg");
    std::fs::write(&out, b"old chart").unwrap();
    // Files may not grow beyond 1 KiB; SIGXFSZ is ignored so that the write fails with EFBIG.
    let output = Process::new("sh")
        .arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 1; exec "$0" plot relu tanh --out "$1""#)
        .arg(env!("CARGO_BIN_EXE_actlab"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: --out {}: ", out.display())),
        "{stderr}"
    );
    assert_eq!(stderr.matches("chart.svg").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("File too large").count(), 1, "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"old chart");
    assert!(temps(dir.path()).is_empty());
}

/// Waits at most `limit` for `child` to end; kills it and fails if it does not.
fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
}

#[test]
fn sigterm_and_sigint_during_training_end_with_the_conventional_status() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut child = Process::new(env!("CARGO_BIN_EXE_actlab"))
            .args([
                "train",
                "--data",
                "iris",
                "--epochs",
                "100000",
                "--threads",
                "1",
                "--save",
                s(&model),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The data line comes after the handler is installed and the data is read.
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("data"), "{line}");
        std::thread::sleep(Duration::from_millis(200));
        signal(&child, sig);
        let status = wait_for(&mut child, Duration::from_secs(20));
        assert_eq!(status.code(), Some(code), "{status:?}");
        assert!(!model.exists());
        assert!(temps(dir.path()).is_empty());
    }
}

#[test]
fn sigterm_while_the_model_is_written_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("big.safetensors");
    // 9 million weights: about 36 MB to write, which takes long enough to be caught.
    let mut caught = 0;
    for _ in 0..3 {
        let mut child = Process::new(env!("CARGO_BIN_EXE_actlab"))
            .args([
                "train",
                "--data",
                "iris",
                "--hidden",
                "3000,3000",
                "--epochs",
                "1",
                "--threads",
                "1",
            ])
            .args(["--json", "--save", s(&model)])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if !temps(dir.path()).is_empty() {
                signal(&child, libc::SIGTERM);
                caught += 1;
                break wait_for(&mut child, Duration::from_secs(20));
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "training took too long");
            std::thread::yield_now();
        };
        assert!(temps(dir.path()).is_empty(), "a temporary file outlived the process");
        // Either the signal came first (143, no model) or the model was complete.
        match status.code() {
            Some(143) => assert!(!model.exists()),
            Some(0) => assert!(std::fs::metadata(&model).unwrap().len() > 36_000_000),
            _ => panic!("{status:?}"),
        }
        let _ = std::fs::remove_file(&model);
    }
    assert!(caught > 0, "the temporary file was never seen while it was written");
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let run = |args: &[&str], read_first_line: bool| {
        let mut child = Process::new(env!("CARGO_BIN_EXE_actlab"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        if read_first_line {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            assert!(!line.is_empty());
        } else {
            drop(stdout);
        }
        let status = wait_for(&mut child, Duration::from_secs(60));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("error"),
            "{args:?}: {stderr}"
        );
        // Ended by SIGPIPE like `yes | head`, or done before the pipe closed.
        assert!(
            status.success() || status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {status:?}"
        );
    };
    // `actlab train --data iris | head -1`: the summary comes after the reader has gone.
    run(&["train", "--data", "iris", "--epochs", "20"], true);
    run(&["plot", "relu", "--out", "-"], false);
    run(&["activations", "--json"], false);
}

#[test]
fn threads_beyond_1024_are_refused_at_once() {
    let start = Instant::now();
    fails_with(&["train", "--data", "iris", "--threads", "1000000"], "1..=1024");
    fails_with(&["compare", "--threads", "0"], "--threads");
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}

#[test]
fn list_flags_given_twice_are_refused() {
    fails_with(
        &["train", "--data", "iris", "--hidden", "10", "--hidden", "20"],
        "--hidden",
    );
    fails_with(
        &[
            "train",
            "--data",
            "iris",
            "--activation",
            "relu",
            "--activation",
            "tanh",
        ],
        "--activation",
    );
    fails_with(
        &["compare", "--activations", "relu", "--activations", "tanh"],
        "--activations",
    );
    fails_with(&["compare", "--hidden", "8", "--hidden", "8"], "--hidden");
    fails_with(&["experiments", "--only", "1", "--only", "2"], "--only");
    // One flag with a list still works.
    let output = actlab()
        .args([
            "train",
            "--data",
            "iris",
            "--hidden",
            "10,20",
            "--activation",
            "relu,tanh",
        ])
        .args(["--epochs", "1", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let layers = &last_json_line(&output.stdout)["layers"];
    let widths: Vec<u64> = layers
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["out"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, [10, 20, 3]);
}

#[test]
fn advise_refuses_a_single_class() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "one.csv", "x,label\n1,yes\n2,yes\n3,yes\n");
    fails_with(
        &["advise", "--data", &data],
        "one class (yes): classification needs at least two",
    );
}
