//! `swop import NAME [--from DIR]`: makes an account of a login codex
//! already has (`$CODEX_HOME`, else `~/.codex`) by moving its auth.json
//! into a new sandbox. Never copies it (a login lives in one place), never
//! follows a link to it, and puts it back if the account cannot be made.

use crate::accounts::{self, Staging};
use crate::base::error::{exit, Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::codex::login;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `swop import`'s account and `--from`.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub name: String,
    pub from: Option<OsString>,
}

pub fn run(req: Request, paths: &Paths) -> Result<i32> {
    let name = req.name.as_str();
    accounts::ensure_free(paths, name)?;
    let from = match req.from {
        Some(f) => PathBuf::from(f),
        None => match crate::base::paths::env_nonempty("CODEX_HOME") {
            Some(h) if !Path::new(&h).starts_with(paths.accounts()) => PathBuf::from(h),
            _ => crate::base::paths::user_home()?.join(".codex"),
        },
    };
    let src = from.join("auth.json");
    if std::fs::symlink_metadata(&src).is_ok_and(|m| m.file_type().is_symlink()) {
        // Moving the link would move no login and leave it in two places.
        return Err(Error::new(format!(
            "'{}' is a symbolic link; import moves the login file itself",
            src.display()
        ))
        .help(format!(
            "import from the directory that holds the real file: swop import {name} --from DIR"
        ))
        .code(exit::USAGE));
    }
    if !src.is_file() {
        return Err(Error::new(format!(
            "no codex login to import: '{}' does not exist",
            src.display()
        ))
        .help(format!(
            "log in with: swop add {name}; or name the codex home: swop import {name} --from DIR"
        ))
        .code(exit::NOT_FOUND));
    }
    crate::accounts::auth::read(&src)?; // refuse to import something codex could not use
    accounts::sweep(paths);
    let mut staging = Staging::new(paths, name)?;
    let dst = staging.dir.join("auth.json");
    move_file(&src, &dst)?;
    match accounts::commit(paths, &mut staging, name) {
        Ok(account) => {
            out::line(&format!(
                "imported '{}': {}\nmoved '{}' -> '{}'\n(the login now lives only in swop's sandbox; codex run without swop is logged out of '{}')",
                account.name,
                login::describe(&account.identity()),
                src.display(),
                account.auth_file().display(),
                from.display()
            ))?;
            Ok(0)
        }
        Err(e) => {
            // Put the login back where it was: nothing may be lost.
            let _ = move_file(&dst, &src);
            Err(e)
        }
    }
}

/// Moves a file, across filesystems too (copy, fsync, then remove).
fn move_file(src: &Path, dst: &Path) -> Result<()> {
    match std::fs::rename(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let bytes = std::fs::read(src).map_err(|e| Error::io("cannot read", src, e))?;
            crate::base::files::write_atomic(dst, &bytes)?;
            std::fs::remove_file(src).map_err(|e| Error::io("cannot remove", src, e))
        }
        Err(e) => Err(Error::io("cannot move", src, e)),
    }?;
    crate::base::files::set_mode(dst, 0o600)
}
