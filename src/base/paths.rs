//! The on-disk layout under SWOP_HOME. Nothing here touches the disk except
//! `ensure_*` and the permission check; everything else only names paths.
//!
//! ```text
//!     $SWOP_HOME (default ~/.swop)      0700
//!       swop.toml                       the user's policy (optional)
//!       accounts/<name>/                0700, the CODEX_HOME of one account
//!       cache/<name>.json               usage snapshots
//!       cache/sessions/last.json        newest session per directory
//!       live/<name>/<pid>.json          launches running on <name>
//!       bin/swop, shim/codex            what install.sh puts there
//! ```

use crate::base::error::{exit, Error, Result};
use crate::base::files;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
}

/// A variable of the process's context; one that is set but empty counts
/// as unset (as codex does).
pub fn env_nonempty(name: &str) -> Option<std::ffi::OsString> {
    crate::base::context::var(name)
}

/// The user's home directory, from `dirs` (HOME on Unix).
pub fn user_home() -> Result<PathBuf> {
    dirs::home_dir().ok_or_else(|| {
        Error::new("cannot find your home directory").help("set HOME, or set SWOP_HOME")
    })
}

/// Expands a leading `~/` to the user's home.
pub fn expand_tilde(p: &str) -> Result<PathBuf> {
    if p == "~" {
        return user_home();
    }
    match p.strip_prefix("~/") {
        Some(rest) => Ok(user_home()?.join(rest)),
        None => Ok(PathBuf::from(p)),
    }
}

impl Paths {
    pub fn from_env() -> Result<Paths> {
        let home = match env_nonempty("SWOP_HOME") {
            Some(h) => PathBuf::from(h),
            None => user_home()?.join(".swop"),
        };
        let home = if home.is_relative() {
            crate::base::context::cwd()
                .ok_or_else(|| Error::new("cannot read the current directory"))?
                .join(home)
        } else {
            home
        };
        Ok(Paths { home })
    }

    pub fn config(&self) -> PathBuf {
        self.home.join("swop.toml")
    }
    pub fn accounts(&self) -> PathBuf {
        self.home.join("accounts")
    }
    pub fn account(&self, name: &str) -> PathBuf {
        self.accounts().join(name)
    }
    pub fn registry_lock(&self) -> PathBuf {
        self.home.join("accounts.lock")
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.home.join("cache")
    }
    pub fn cache_file(&self, name: &str) -> PathBuf {
        self.cache_dir().join(format!("{name}.json"))
    }
    /// swop's record of the shared sessions dir, for `resume --last`.
    pub fn sessions_index(&self) -> PathBuf {
        self.cache_dir().join("sessions").join("last.json")
    }
    pub fn fetch_lock(&self) -> PathBuf {
        self.cache_dir().join("fetch.lock")
    }
    pub fn live_dir(&self, name: &str) -> PathBuf {
        self.home.join("live").join(name)
    }
    /// Where a launch writes its entry before renaming it into place.
    pub fn live_temp(&self, name: &str, pid: u32) -> PathBuf {
        self.live_dir(name).join(format!(".{pid}.tmp"))
    }
    pub fn bin_dir(&self) -> PathBuf {
        self.home.join("bin")
    }
    pub fn shim_dir(&self) -> PathBuf {
        self.home.join("shim")
    }

    /// Creates SWOP_HOME and accounts/ (0700) when missing.
    pub fn ensure(&self) -> Result<()> {
        files::create_private_dir(&self.home)?;
        files::create_private_dir(&self.accounts())
    }

    /// Refuses, like ssh does, to use an accounts dir that other users can
    /// read or that belongs to someone else: it holds everyone's logins.
    pub fn check_private(&self) -> Result<()> {
        check_private_dir(&self.home)?;
        check_private_dir(&self.accounts())
    }
}

/// The owner pid in a [`Paths::live_temp`] name, `.PID.tmp`.
pub fn live_temp_owner(name: &str) -> Option<i32> {
    name.strip_prefix('.')?.strip_suffix(".tmp")?.parse().ok()
}

/// A directory that must be ours and closed to group and others.
pub fn check_private_dir(dir: &Path) -> Result<()> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(()); // not created yet: created 0700 when needed
    };
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Err(Error::new(format!(
            "'{}' belongs to another user (uid {}); refusing to use it",
            dir.display(),
            meta.uid()
        ))
        .help(format!("run: chown -R \"$(id -u)\" '{}'", dir.display()))
        .code(exit::UNSAFE_PERMISSIONS));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(Error::new(format!(
            "permissions {:04o} for '{}' are too open: other users could read your codex logins",
            meta.mode() & 0o7777,
            dir.display()
        ))
        .help(format!("run: chmod 700 '{}'", dir.display()))
        .code(exit::UNSAFE_PERMISSIONS));
    }
    Ok(())
}

/// A credentials file must be a regular file (a link is refused: its mode
/// says nothing and it may lead to another login) not readable by group or
/// others.
pub fn check_private_file(file: &Path) -> Result<()> {
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::new(format!(
            "'{}' is a symbolic link; swop uses a login only from a regular file in the account's sandbox",
            file.display()
        ))
        .help(format!(
            "replace the link with the file it points to (mv the target to '{}'), or log in again: swop relogin NAME",
            file.display()
        ))
        .code(exit::UNSAFE_PERMISSIONS));
    }
    if let Some(mode) = files::mode_of(file) {
        if mode & 0o077 != 0 {
            return Err(Error::new(format!(
                "permissions {mode:04o} for '{}' are too open: other users could read this login",
                file.display()
            ))
            .help(format!("run: chmod 600 '{}'", file.display()))
            .code(exit::UNSAFE_PERMISSIONS));
        }
    }
    Ok(())
}
