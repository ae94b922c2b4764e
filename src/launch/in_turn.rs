//! Starting the in-turn relay (`[failover] in_turn = true`, src/relay) for
//! one codex run: the relay gets this launch's accounts and its selection,
//! so an account that runs out mid-turn is replaced by the one a new launch
//! would pick. Without `in_turn` nothing here runs.

use super::{argv, Launcher};
use crate::accounts::Account;
use crate::base::term;
use crate::relay::{self, Relay};
use std::ffi::OsString;

impl Launcher {
    /// The relay for a run of codex `args` on `account`, or None (not asked
    /// for, or it could not start: then codex runs without it, and the
    /// person is told).
    pub(super) fn in_turn_relay(&self, account: &Account, args: &[OsString]) -> Option<Relay> {
        if !self.pool.cfg.failover.in_turn {
            return None;
        }
        let pool = &self.pool;
        let chooser = self.pool.clone();
        let pick: relay::Pick = Box::new(move |passed| {
            let g = crate::usage::gather::gather_with(
                &chooser.paths,
                &chooser.cfg,
                &chooser.accounts,
                &chooser.codex,
                crate::usage::gather::Mode::Wait,
            );
            chooser.choose(&g.states, passed).ok().map(|c| c.name)
        });
        let accounts = relay::Accounts {
            paths: pool.paths.clone(),
            cfg: pool.cfg.clone(),
            codex: pool.codex.clone(),
            all: pool.accounts.clone(),
            launched: account.name.clone(),
            pick,
        };
        // The TUI owns the terminal: a line written into it lands over its
        // screen, so the relay's news waits until codex has exited.
        let when = match argv::mode(args) {
            argv::Mode::Interactive => relay::When::AfterExit,
            argv::Mode::Exec | argv::Mode::Other => relay::When::Live,
        };
        relay::start(accounts, when)
            .map_err(|why| {
                term::warn(&format!(
                    "in-turn failover is off for this run: the relay cannot start ({why})"
                ))
            })
            .ok()
    }
}
