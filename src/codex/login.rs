//! Logging an account in: `codex login` run attached in an account's home,
//! with the device-code hint where a browser cannot work. Used by `swop add`,
//! `swop relogin` and the relogin a launch offers for a dead session.
//!
//! Never writes auth.json itself: only codex does.

use crate::accounts::{self, auth::Identity};
use crate::base::error::{exit, Error, Result};
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::Codex;
use std::ffi::OsString;
use std::path::Path;

/// Whether a browser login is unlikely to work here (WSL, SSH without a
/// display): codex's device-code flow is the better choice.
pub fn headless_hint() -> Option<&'static str> {
    let wsl = std::env::var_os("WSL_DISTRO_NAME").is_some()
        || std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|r| r.to_lowercase().contains("microsoft"));
    let ssh = std::env::var_os("SSH_CONNECTION").is_some() || std::env::var_os("SSH_TTY").is_some();
    let display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if wsl {
        Some("this looks like WSL, where the browser login often cannot reach codex")
    } else if ssh && !display && !cfg!(target_os = "macos") {
        Some("this is an SSH session without a display")
    } else {
        None
    }
}

fn login_args(device_auth: bool, extra: &[OsString]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["login".into()];
    if device_auth {
        a.push("--device-auth".into());
    }
    a.extend(extra.iter().cloned());
    a
}

/// Runs `codex login` in `home` with the terminal attached.
pub fn run_login(
    codex: &Codex,
    home: &Path,
    name: &str,
    device_auth: bool,
    extra: &[OsString],
) -> Result<()> {
    if !device_auth {
        if let Some(why) = headless_hint() {
            term::note(&format!(
                "{why}; if the browser login fails, use: swop add {name} --device-auth"
            ));
        }
    }
    let mut cmd = codex.in_home(home)?.command;
    cmd.args(login_args(device_auth, extra));
    let code = super::run_attached(cmd)?;
    if code != 0 {
        let mut e = Error::new(format!("codex login for '{name}' failed (exit {code})"))
            .code(exit::LOGIN_NEEDED);
        if !device_auth {
            e = e.help(format!("try the device-code flow: swop add {name} --device-auth (or swop relogin {name} --device-auth)"));
        }
        return Err(e);
    }
    Ok(())
}

pub fn describe(id: &Identity) -> String {
    format!(
        "{} ({})",
        id.email.as_deref().unwrap_or("unknown email"),
        id.plan.as_deref().unwrap_or("unknown plan")
    )
}

/// Logs `name` in again in its own home. The caller forgets its cached
/// usage (the numbers belonged to the old login).
pub fn relogin(
    paths: &Paths,
    codex: &Codex,
    name: &str,
    device_auth: bool,
    extra: &[OsString],
) -> Result<()> {
    let account = accounts::get(paths, name)?;
    run_login(codex, &account.home, name, device_auth, extra)?;
    match accounts::refresh_identity(&account)? {
        Some(old) => term::warn(&format!(
            "'{name}' is now logged in as {} (was {})",
            describe(&accounts::get(paths, name)?.identity()),
            describe(&old)
        )),
        None => term::note(&format!("logged in to '{name}' again")),
    }
    Ok(())
}
