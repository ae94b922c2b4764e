//! Logging an account in: `codex login` run attached in an account's home,
//! with the device-code hint where a browser cannot work. Used by `swop add`,
//! `swop relogin` and the relogin a launch offers for a dead session.
//!
//! Never writes auth.json itself: only codex does.

use crate::accounts::{self, auth::Identity, Refused, Staging};
use crate::base::error::{exit, Error, Result};
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::{Codex, HomeCommand};
use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Whether a browser login is unlikely to work here (WSL, SSH without a
/// display): codex's device-code flow is the better choice.
pub fn headless_hint() -> Option<&'static str> {
    use crate::base::context::var;
    let wsl = var("WSL_DISTRO_NAME").is_some()
        || std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|r| r.to_lowercase().contains("microsoft"));
    let ssh = var("SSH_CONNECTION").is_some() || var("SSH_TTY").is_some();
    let display = var("DISPLAY").is_some() || var("WAYLAND_DISPLAY").is_some();
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

/// The line swop says before codex's browser login starts. codex ends its
/// own instructions with "On a remote or headless machine? Use `codex login
/// --device-auth` instead.", a command the shim refuses; so swop names its
/// own first. Said before codex speaks rather than by rewriting codex's
/// output: the login is interactive (a URL to open, a code to type, Ctrl-C
/// to stop), so codex keeps the terminal itself; piping its output through
/// swop would take the terminal from it and could hold back the URL.
fn device_auth_line(via: &str, name: &str) -> String {
    let ours = format!("swop {via} {name} --device-auth");
    match headless_hint() {
        Some(why) => format!("{why}; if the browser login fails, use: {ours}"),
        None => format!(
            "on a remote or headless machine use `{ours}`, not the `codex login --device-auth` codex names below"
        ),
    }
}

/// Runs `codex login` in `home` with the terminal attached, for `swop
/// {via} {name}` (`via`: the command that reruns it, `add` or `relogin`).
/// Ctrl-C is a cancel (exit 130, no advice), not a failure.
pub fn run_login(
    codex: &Codex,
    home: &Path,
    via: &str,
    name: &str,
    device_auth: bool,
    extra: &[OsString],
) -> Result<()> {
    if !device_auth {
        term::note(&device_auth_line(via, name));
    }
    let mut cmd = codex.in_home(home)?.command;
    cmd.args(login_args(device_auth, extra));
    let run = super::run_attached_full(cmd)?;
    let code = run.code;
    // A login that succeeded despite a Ctrl-C is a login.
    if code != 0 && (run.interrupted || code == 128 + libc::SIGINT) {
        return Err(Error::new(format!("login for '{name}' cancelled")).code(exit::CANCELLED));
    }
    if code != 0 {
        let mut e = Error::new(format!("codex login for '{name}' failed (exit {code})"))
            .code(exit::LOGIN_NEEDED);
        if !device_auth {
            e = e.help(format!(
                "try the device-code flow: swop {via} {name} --device-auth"
            ));
        }
        return Err(e);
    }
    Ok(())
}

pub fn describe(id: &Identity) -> String {
    format!(
        "{} ({})",
        crate::base::term::clean(id.email.as_deref().unwrap_or("unknown email")),
        crate::base::term::clean(id.plan.as_deref().unwrap_or("unknown plan"))
    )
}

/// What a relogin needs to know besides the account.
pub struct Relogin<'a> {
    pub device_auth: bool,
    pub extra: &'a [OsString],
    /// codex sessions running on this account right now: while there are
    /// any, the old login is not revoked (they still hold its tokens).
    pub live_sessions: usize,
    /// Bound for the best-effort `codex logout` calls.
    pub timeout: Duration,
}

/// Logs `name` in again without ever risking its current login: codex logs
/// in inside a fresh staging home; only a successful login of the same user
/// and workspace replaces the account's auth.json (a rename). A failed or
/// cancelled login leaves the old one untouched; a foreign one is logged out
/// again and refused. The replaced login is then revoked (as codex itself
/// would) unless codex is running on it. The caller forgets the account's
/// cached usage.
pub fn relogin(paths: &Paths, codex: &Codex, name: &str, how: &Relogin) -> Result<()> {
    let account = accounts::get(paths, name)?;
    accounts::sweep(paths);
    let staging = Staging::for_relogin(paths, name)?;
    run_login(
        codex,
        &staging.dir,
        "relogin",
        name,
        how.device_auth,
        how.extra,
    )
    .map_err(|e| Error {
        message: format!("{}; the current login of '{name}' is unchanged", e.message),
        ..e
    })?;
    let retired = accounts::retired_login_dir(paths, name);
    match accounts::replace_login(paths, &account, &staging, &retired) {
        Ok(id) => term::note(&format!("logged in to '{name}' again ({})", describe(&id))),
        Err(Refused::Failed(e)) => return Err(e),
        Err(Refused::Foreign {
            account: was,
            login,
        }) => {
            // Best effort: do not leave a stray valid login behind.
            logout_bounded(codex, &staging.dir, how.timeout);
            return Err(Error::new(format!(
                "that login is {}, but '{name}' is {}; kept the current login of '{name}'",
                describe(&login),
                describe(&was)
            ))
            .help(format!(
                "log in as {} (use a private browser window to pick the account), or add the other login as its own account: swop add NAME",
                was.email.as_deref().unwrap_or("the account's user")
            ))
            .code(exit::LOGIN_NEEDED));
        }
    }
    if retired.exists() {
        if how.live_sessions == 0 {
            logout_bounded(codex, &retired, how.timeout);
        } else {
            term::note(&format!(
                "codex is running on '{name}' in {}; the old login is not revoked so they keep working",
                crate::base::term::plural(how.live_sessions, "session", "sessions")
            ));
        }
        let _ = std::fs::remove_dir_all(&retired);
    }
    Ok(())
}

/// `codex logout` in `home`, bounded; its outcome never matters to the
/// caller (the remote part is best effort).
fn logout_bounded(codex: &Codex, home: &Path, limit: Duration) {
    let Ok(HomeCommand { mut command, .. }) = codex.in_home(home) else {
        return;
    };
    command
        .arg("logout")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Ok(mut child) = command.spawn() {
        let _ = super::wait_bounded(&mut child, limit.max(Duration::from_secs(1)));
    }
}
