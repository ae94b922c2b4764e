//! Standard output: the one place swop writes to stdout.
//!
//! Every command prints through [`print()`] / [`line()`], never `println!`
//! (which panics on a closed pipe: `swop status --json | head -c 10` used
//! to abort with exit 134). When the reader has gone away (EPIPE) the write
//! returns [`Error::reader_gone`], which callers pass up with `?` like any
//! error and `main` turns into a quiet exit 0: the reader closing the pipe
//! is how `head` says "enough", not a failure of swop. Work already done
//! (an account added, a sandbox deleted) stays done. Any other write error
//! (a full disk behind a redirect) is a normal error, exit 1.
//! The promise and its test are recorded in SECURITY.md.

use crate::base::error::{Error, Result};
use std::io::Write;

/// Writes `text` to stdout as it is and flushes it.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Error::reader_gone()),
        Err(e) => Err(Error::new(format!("cannot write to stdout: {e}"))),
    }
}

/// Writes `text` and a newline to stdout, in one write.
pub fn line(text: &str) -> Result<()> {
    print(&format!("{text}\n"))
}
