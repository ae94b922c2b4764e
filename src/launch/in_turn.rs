//! Starting the in-turn relay (src/relay) for one codex run: the relay gets
//! this launch's accounts and its selection, so an account that runs out
//! mid-turn is replaced by the one a new launch would pick. On when
//! `[failover] in_turn = true`, and for an app server unless it says
//! `false` (an editor's app server has no "after the run" to fail over in).
//!
//! An account whose workspace needs codex's own routing of model requests
//! (data residency, `usage::routing`) never has its turns relayed: launched
//! on one, codex runs without the relay; as a fallback it is passed over.
//! The person is told once per such account.

use super::{app_server, argv, Launcher};
use crate::accounts::Account;
use crate::base::term;
use crate::relay::{self, Relay};
use crate::usage::routing::{self, Routing};
use std::ffi::OsString;

impl Launcher {
    /// The relay for a run of codex `args` on `account`, or None (not asked
    /// for, not allowed for the account, or it could not start: then codex
    /// runs without it, and the person is told).
    pub(super) fn in_turn_relay(&self, account: &Account, args: &[OsString]) -> Option<Relay> {
        let app_server = app_server::shape(args) == app_server::Shape::Stdio;
        if !self.pool.cfg.failover.in_turn_for(app_server) {
            return None;
        }
        // The TUI owns the terminal: a line written into it lands over its
        // screen, so the relay's news waits until codex has exited.
        let tui = argv::mode(args) == argv::Mode::Interactive;
        if !self.may_relay(account, Some(true)) {
            return None;
        }
        let pool = &self.pool;
        let chooser = Launcher {
            pool: self.pool.clone(),
        };
        let pick: relay::ChooseNext = Box::new(move |passed| {
            let g = crate::usage::gather::gather_with(
                &chooser.pool.paths,
                &chooser.pool.cfg,
                &chooser.pool.accounts,
                &chooser.pool.codex,
                crate::usage::gather::Mode::Wait,
            );
            let mut passed = passed.to_vec();
            loop {
                let name = chooser.pool.choose(&g.states, &passed).ok()?.name;
                let say = (!tui).then_some(false);
                if chooser.may_relay(chooser.pool.account(&name), say) {
                    return Some(name);
                }
                passed.push(name);
            }
        });
        let accounts = relay::Accounts {
            paths: pool.paths.clone(),
            cfg: pool.cfg.clone(),
            codex: pool.codex.clone(),
            all: pool.accounts.clone(),
            launched: account.name.clone(),
            pick,
        };
        let when = if tui {
            relay::When::AfterExit
        } else {
            relay::When::Live
        };
        relay::start(accounts, when)
            .map_err(|why| {
                term::warn(&format!(
                    "in-turn failover is off for this run: the relay cannot start ({why})"
                ))
            })
            .ok()
    }

    /// Whether `account`'s model requests may go through the relay (its
    /// workspace needs no routing of its own). `say`: tell why not (once
    /// for a constraint), and whether codex runs on it (`Some(true)`) or it
    /// is a fallback candidate; None: silently (the TUI owns the screen).
    fn may_relay(&self, account: &Account, say: Option<bool>) -> bool {
        let cfg = &self.pool.cfg;
        let name = &account.name;
        let ask = || {
            routing::routing(
                &self.pool.paths,
                account,
                &cfg.usage.base_url,
                cfg.usage.timeout,
            )
        };
        let mut found = ask();
        if found == Routing::Expired {
            // The question needs a live token: codex refreshes the login in
            // the account's own home (as the relay would before its first
            // request there), and the question is asked again.
            let pool = &self.pool;
            crate::usage::gather::refresh_through_codex(
                &pool.paths,
                &pool.cfg,
                &pool.codex,
                account,
                false,
            );
            found = ask();
        }
        let Some(launched) = say else {
            return found == Routing::Unconstrained;
        };
        match found {
            Routing::Unconstrained => true,
            Routing::Constrained { first_time } => {
                if first_time {
                    routing::mark_told(&self.pool.paths, name);
                    term::note(&if launched {
                        format!("in-turn failover is off on '{name}': its workspace routes model requests to its own backend (data residency), which only codex's own routing respects")
                    } else {
                        format!("'{name}' is never used for in-turn failover: its workspace routes model requests to its own backend (data residency)")
                    });
                }
                false
            }
            Routing::Expired | Routing::Unknown(_) => {
                let why = match found {
                    Routing::Unknown(why) => why,
                    _ => "its access token has expired and codex could not refresh it".into(),
                };
                term::warn(&format!(
                    "in-turn failover {} '{name}' for now: cannot tell whether its workspace needs codex's own routing ({why})",
                    if launched { "is off on" } else { "passes over" }
                ));
                false
            }
        }
    }
}
