//! Standard output for commands that still have work to do after printing, such as writing a
//! `--report`: a closed pipe (`actlab compare --report r | head -1`) must not end them early.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

/// Set once standard output turned out to be a closed pipe.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints a line through [`line`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stdout::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// From now on a write to a closed pipe fails (and [`line`] drops it) instead of ending the
/// program by SIGPIPE, the default that `main` sets for every other command.
pub fn outlive_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN has no handler to race with.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Writes `args` and a newline to standard output; once it is a closed pipe, writes nothing
/// more. Any other failure (a full disk) is an error naming standard output.
pub fn line(args: fmt::Arguments) -> Result<()> {
    if CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match writeln!(std::io::stdout().lock(), "{args}") {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
            CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        result => result.context("standard output"),
    }
}
