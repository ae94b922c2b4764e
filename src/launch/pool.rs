//! The accounts as a launch, `swop status` and `swop pick` see them: their
//! usage (cache first, one parallel round otherwise) and the policy's pick.
//! Prints the usage warnings; never starts codex except as the app-server
//! fallback of a fetch.

use crate::accounts::Account;
use crate::base::context::Context;
use crate::base::paths::Paths;
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
        let mode = if force {
            gather::Mode::Force
        } else {
            gather::Mode::Wait
        };
        self.states_with(accounts, mode)
    }

    /// The launch's usage: under `refresh = "background"`, cached numbers
    /// younger than `stale_after` are used when they settle the pick.
    pub fn states_for_launch(&self) -> Vec<AccountState> {
        if self.cfg.usage.refresh == crate::config::RefreshPolicy::BeforeLaunch {
            return self.states(&self.accounts, false);
        }
        let decidable = |s: &[AccountState]| self.choose(s, &[]).is_ok_and(|c| !c.without_data);
        self.states_with(&self.accounts, gather::Mode::CacheFirst(&decidable))
    }

    fn states_with(&self, accounts: &[Account], mode: gather::Mode) -> Vec<AccountState> {
        let g = gather::gather_with(&self.paths, &self.cfg, accounts, &self.codex, mode);
        for line in gather::warning_lines(&g.states) {
            term::warn(&line);
        }
        g.states
    }

    /// Refreshes, while codex runs on `running`, the accounts whose numbers
    /// are due (refresh = "background" only). `read_cache_ms`: when the
    /// launch read the cache.
    pub fn start_refresher(
        &self,
        running: &str,
        states: &[AccountState],
        read_cache_ms: i64,
    ) -> Option<crate::usage::background::Refresher> {
        if self.cfg.usage.refresh != crate::config::RefreshPolicy::Background {
            return None;
        }
        let due: Vec<Account> = states
            .iter()
            .filter(|s| s.cache.refresh_due && s.name != running)
            .map(|s| self.account(&s.name).clone())
            .collect();
        crate::usage::background::start(
            &self.paths,
            &self.cfg,
            read_cache_ms,
            due,
            self.codex.clone(),
        )
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
