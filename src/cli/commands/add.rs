//! `swop add NAME [--device-auth] [-- ARGS]`: a new account, logged in by
//! `codex login` in a fresh sandbox that becomes the account only once the
//! login worked. Never leaves a half-made account behind, never prints the
//! login itself (only its email and plan).

use super::Login;
use crate::accounts::{self, Staging};
use crate::base::error::{Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::{login, Codex};
use crate::config::Config;

pub fn run(req: Login, paths: &Paths, cfg: &Config) -> Result<i32> {
    let name = &req.name;
    accounts::ensure_free(paths, name)?;
    accounts::sweep(paths);
    let mut staging = Staging::new(paths, name)?;
    let codex = Codex::locate(cfg, paths)?;
    login::run_login(
        &codex,
        &staging.dir,
        "add",
        name,
        req.device_auth,
        &req.extra,
    )
    .map_err(|e| Error {
        message: format!("{}; nothing was added", e.message),
        ..e
    })?;
    let account = accounts::commit(paths, &mut staging, name)?;
    let _ = crate::accounts::sandbox::link(cfg, &account.home)
        .map(|notes| notes.iter().for_each(|n| term::note(n)));
    out::line(&format!(
        "added '{}': {}",
        account.name,
        login::describe(&account.identity())
    ))?;
    if account.identity().plan.as_deref() == Some("api-key")
        && !cfg.selection.reserve.contains(&account.name)
    {
        // Billed per use, with no usage numbers: usually wanted last.
        term::plain(&format!(
            "an API-key login has no usage numbers; to use it only when every other account is blocked, set in swop.toml: [selection] reserve = [\"{}\"]",
            account.name
        ));
    }
    term::plain(
        "next: run `codex` (or `swop codex`) and swop picks the account with the most quota left",
    );
    Ok(0)
}
