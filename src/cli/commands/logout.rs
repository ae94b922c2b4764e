//! `swop logout NAME [--force]`: revokes an account's login (`codex
//! logout` in its sandbox) and deletes the sandbox, in an order a kill at
//! any point cannot tear. Refuses while codex runs on it unless forced;
//! never deletes what a shared home links to.

use crate::accounts;
use crate::base::error::{exit, Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::{self, Codex};
use crate::config::Config;
use crate::launch::live;
use std::path::Path;
use std::process::Stdio;

/// `swop logout`'s account and `--force`.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub name: String,
    pub force: bool,
}

/// `swop logout NAME`, in an order that a kill -9 at any point cannot
/// tear: the sandbox leaves the registry first (one rename, see
/// `accounts::retire`), then its login is revoked from where it was moved,
/// then it is deleted. Killed in between, the account is either as it was
/// or gone from the list with its login set aside; the next `swop logout
/// NAME` finishes that (revokes and deletes), even when the name is no
/// longer an account.
pub fn run(req: Request, paths: &Paths, cfg: &Config) -> Result<i32> {
    let (name, force) = (req.name.as_str(), req.force);
    crate::base::name::validate_name(name)?;
    let interrupted = accounts::interrupted_logouts(paths, name);
    let account = match accounts::get(paths, name) {
        Ok(a) => Some(a),
        Err(e) if e.code == exit::NOT_FOUND && !interrupted.is_empty() => None,
        Err(e) => return Err(e),
    };
    if let Some(a) = &account {
        refuse_while_live(paths, name, &a.home, force)?;
        stop_background_server(paths, cfg, name, &a.home);
    }
    let codex = Codex::locate(cfg, paths);
    if let Err(e) = &codex {
        term::warn(&format!("{}; removing the local login only", e.message));
    }
    for dir in &interrupted {
        revoke(codex.as_ref().ok(), cfg, dir);
        accounts::remove_retired(paths, name, dir)?;
    }
    let Some(account) = account else {
        out::line(&format!(
            "logged out '{name}': finished the logout that was interrupted (its login is revoked and deleted)"
        ))?;
        return Ok(0);
    };
    let shared = cfg.shared_home().ok();
    let retired = accounts::retire(paths, name, shared.as_deref())?;
    revoke(codex.as_ref().ok(), cfg, &retired.dir);
    accounts::remove_retired(paths, name, &retired.dir)?;
    let _ = std::fs::remove_dir_all(paths.live_dir(name));
    crate::usage::history::clear(paths, name);
    if retired.kept_links {
        out::line(&format!(
            "logged out '{name}': its login is deleted; '{}' keeps only its links into the shared home (no credentials), so sessions it started can still be resumed",
            account.home.display()
        ))?;
    } else {
        out::line(&format!(
            "logged out '{name}' and deleted its sandbox '{}'",
            account.home.display()
        ))?;
    }
    Ok(0)
}

/// Refuses a logout while codex runs on the account (a session, or codex's
/// background app server in `home`, which keeps the login), unless forced.
fn refuse_while_live(paths: &Paths, name: &str, home: &Path, force: bool) -> Result<()> {
    let sessions = live::list(paths, name);
    let server = accounts::daemon::running(home);
    if (sessions.is_empty() && server.is_none()) || force {
        return Ok(());
    }
    let mut msg = format!(
        "codex is running on '{name}' in {}:",
        term::plural(
            sessions.len() + usize::from(server.is_some()),
            "session",
            "sessions"
        )
    );
    for s in &sessions {
        msg.push_str(&format!(
            "\n  pid {} in '{}', since {}",
            s.pid,
            term::clean(&s.cwd),
            crate::base::time::wall(s.started_at)
        ));
    }
    if let Some(s) = &server {
        msg.push_str(&format!(
            "\n  pid {}: codex's background app server, which keeps this login (stop it: SWOP_ACCOUNT={name} codex app-server daemon stop)",
            s.pid
        ));
    }
    Err(Error::new(msg)
        .help(format!(
            "end those sessions first, or remove it anyway: swop logout {name} --force (stops the background server)"
        ))
        .code(exit::FAILURE))
}

/// Best effort: `codex logout` in `home` (a sandbox moved aside) revokes
/// its login remotely and deletes it. Never the exit status.
fn revoke(codex: Option<&Codex>, cfg: &Config, home: &std::path::Path) {
    let Some(home_cmd) = codex.and_then(|c| c.in_home(home).ok()) else {
        return;
    };
    let mut cmd = home_cmd.command;
    cmd.arg("logout")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let limit = cfg.usage.timeout.max(std::time::Duration::from_secs(1));
    match cmd.spawn() {
        Ok(mut child) => match codex::wait_bounded(&mut child, limit) {
            Some(s) if s.success() => {}
            Some(s) => term::warn(&format!(
                "`codex logout` failed (exit {}); the login may stay valid on the server",
                crate::codex::signals::exit_code(s)
            )),
            None => term::warn(&format!(
                "`codex logout` did not finish within {}; stopped it (the login may stay valid on the server)",
                humantime::format_duration(limit)
            )),
        },
        Err(e) => term::warn(&format!("cannot run `codex logout`: {e}")),
    }
}

/// Before a sandbox goes: its background app server (it holds the login)
/// and the server's updater (it would outlive the sandbox) are stopped.
fn stop_background_server(paths: &Paths, cfg: &Config, name: &str, home: &Path) {
    if accounts::daemon::running(home).is_none() && accounts::daemon::updater(home).is_none() {
        return;
    }
    let codex = Codex::if_present(cfg, paths);
    let limit = cfg.usage.timeout.max(std::time::Duration::from_secs(5));
    if codex::stop_daemon(&codex, home, limit) {
        term::note(&format!(
            "stopped codex's background app server on '{name}'"
        ));
    } else {
        term::warn(&format!(
            "codex's background app server on '{name}' is still running; stop it with: kill {}",
            accounts::daemon::running(home)
                .map(|s| s.pid)
                .unwrap_or_default()
        ));
    }
}
