//! `swop relogin NAME [--device-auth] [-- ARGS]`: a new login for an
//! existing account, in its own sandbox (`codex::login::relogin`), and its
//! cached usage dropped. Never prints the login; says when codex's
//! background app server still holds the old one.

use super::Login;
use crate::accounts;
use crate::base::error::Result;
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::{login, Codex};
use crate::config::Config;
use crate::launch::live;
use crate::usage::cache;

pub fn run(req: Login, paths: &Paths, cfg: &Config) -> Result<i32> {
    let name = &req.name;
    let codex = Codex::locate(cfg, paths)?;
    // A background app server uses the login as a session does.
    let server = accounts::daemon::running(&paths.account(name));
    let how = login::Relogin {
        device_auth: req.device_auth,
        extra: &req.extra,
        live_sessions: live::list(paths, name).len() + usize::from(server.is_some()),
        timeout: cfg.usage.timeout,
    };
    login::relogin(paths, &codex, name, &how)?;
    cache::clear(paths, name);
    if server.is_some() {
        term::warn(&format!("codex's background app server on '{name}' still runs with the old login; restart it: SWOP_ACCOUNT={name} codex app-server daemon restart"));
    }
    Ok(0)
}
