//! The accounts as a launch, `swop status` and `swop pick` see them: their
//! usage (cache first, one parallel round otherwise) and the policy's pick.
//! Prints the usage warnings; never starts codex except as the app-server
//! fallback of a fetch.

use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::base::process::Context;
use crate::base::term;
use crate::codex::Codex;
use crate::config::Config;
use crate::select::{self, Choice};
use crate::usage::gather::{self, AccountState};

#[derive(Clone)]
pub struct Pool {
    pub paths: Paths,
    pub cfg: Config,
    pub codex: Codex,
    pub accounts: Vec<Account>,
    /// The process: cwd (directory rules), SWOP_ACCOUNT, terminals.
    pub ctx: Context,
}

impl Pool {
    /// Usage for some accounts (cache first); warnings printed.
    pub fn states(&self, accounts: &[Account], force: bool) -> Vec<AccountState> {
        let g = gather::gather(&self.paths, &self.cfg, accounts, &self.codex, force);
        for s in &g.states {
            let Some(w) = &s.warning else { continue };
            if s.dead {
                term::warn(&format!(
                    "session for '{}' has expired ({w}); run: swop relogin {}",
                    s.name, s.name
                ));
                continue;
            }
            let fallback = match &s.usage {
                Some((_, gather::Freshness::Stale(age))) => {
                    format!("; using numbers from {} ago", crate::base::time::span(*age))
                }
                _ => String::new(),
            };
            term::warn(&format!(
                "usage for '{}' unavailable: {w}{fallback}",
                s.name
            ));
        }
        g.states
    }

    /// Selection over `states`, skipping `exclude`d accounts.
    pub fn choose(
        &self,
        states: &[AccountState],
        exclude: &[String],
    ) -> std::result::Result<Choice, select::Blocked> {
        let lives: Vec<usize> = states
            .iter()
            .map(|s| super::live::list(&self.paths, &s.name).len())
            .collect();
        let mut cfg = self.cfg.selection.clone();
        cfg.exclude.extend(exclude.iter().cloned());
        let forced = self.ctx.var_str("SWOP_ACCOUNT");
        let home = dirs::home_dir();
        let now = crate::base::time::now();
        let disabled = crate::accounts::disabled::load(&self.paths, now);
        let inputs: Vec<select::Input> = states
            .iter()
            .zip(lives)
            .map(|(state, live)| select::Input { state, live })
            .collect();
        select::select(
            &inputs,
            &select::Policy {
                cfg: &cfg,
                forced: forced.filter(|f| !exclude.iter().any(|e| e == f)),
                cwd: &self.ctx.cwd,
                home: home.as_deref(),
                disabled: &disabled,
                now,
            },
        )
    }

    /// Asking the person is possible: stdin and stderr are terminals.
    pub fn interactive(&self) -> bool {
        self.ctx.stdin_tty && self.ctx.stderr_tty
    }

    pub fn account(&self, name: &str) -> &Account {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .expect("chosen from this list")
    }
}
