//! One error type for the whole binary.
//!
//! Messages are lowercase, quote user values, and carry an optional `help:`
//! line that says what to do next. They are printed once, at the top, with a
//! `swop: ` prefix. An error never carries a secret: callers build messages
//! from names, paths and status codes only, never from token material or raw
//! response bodies.

use std::fmt;
use std::path::Path;

/// Exit codes swop itself uses (documented in the README). In codex mode the
/// child's own exit code is passed through instead once codex has started.
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const ALL_BLOCKED: u8 = 5;
    pub const LOGIN_NEEDED: u8 = 6;
    pub const NO_CODEX: u8 = 7;
    pub const UNSAFE_PERMISSIONS: u8 = 8;
    /// Something that needs a person's yes got none (no terminal to ask
    /// and no --yes, or the answer was no): nothing was done.
    pub const NOT_CONFIRMED: u8 = 9;
    /// Ctrl-C during a step swop waits for (a login): 128 + SIGINT, what a
    /// shell reports for an interrupted command.
    pub const CANCELLED: u8 = 130;
}

#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub help: Option<String>,
    pub code: u8,
    /// Extra fields for the JSON error document of `--json` commands
    /// (cli::views::ErrorView merges them in).
    pub details: Option<serde_json::Value>,
    /// Set only by [`Error::reader_gone`]: end quietly, print nothing.
    pub quiet: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            help: None,
            code: exit::FAILURE,
            details: None,
            quiet: false,
        }
    }

    /// stdout's reader has gone away (EPIPE): not a failure. `main` ends
    /// the process with exit 0 and prints nothing (see `base::out`).
    pub fn reader_gone() -> Error {
        Error {
            quiet: true,
            ..Error::new("stdout was closed by its reader").code(0)
        }
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(message).code(exit::USAGE)
    }

    pub fn code(mut self, code: u8) -> Error {
        self.code = code;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Error {
        self.help = Some(help.into());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Error {
        self.details = Some(details);
        self
    }

    /// An I/O failure on `path`: the path is always part of the message.
    pub fn io(what: &str, path: &Path, err: std::io::Error) -> Error {
        let mut e = Error::new(format!("{what} '{}': {}", path.display(), err));
        if err.kind() == std::io::ErrorKind::PermissionDenied
            || err.raw_os_error() == Some(libc::EROFS)
        {
            e = e.help(format!(
                "check that '{}' is writable by you (swop keeps its state under SWOP_HOME)",
                path.display()
            ));
        } else if err.raw_os_error() == Some(libc::ENOSPC) {
            e = e.help("the disk is full; free some space and run the command again");
        }
        e
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
