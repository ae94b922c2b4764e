//! Refreshing usage while codex runs: swop, the parent, is idle then. One
//! parallel round over the accounts whose numbers are older than
//! `cache_ttl` (and not backing off), single flight with other swops (a
//! refresher that finds the fetch lock held leaves the round to its holder),
//! each request bounded by `[usage] timeout`.
//!
//! It never delays codex's start (it is a thread started just before codex,
//! whose round begins a moment later) and delays swop's exit by at most the grace given to
//! [`Refresher::finish`]: a round still running then is abandoned, not
//! waited for. Abandoning is safe: cache writes are renames, the fetch lock
//! is released by the kernel when swop exits, and an app-server child exits
//! when its stdin (swop's pipe) closes.

use crate::accounts::Account;
use crate::base::files;
use crate::base::paths::Paths;
use crate::codex::Codex;
use crate::config::Config;
use crate::usage::cache::{self, Loaded};
use crate::usage::fetch::FetchContext;
use crate::usage::gather;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long swop waits for a round after codex exited, at most.
pub const EXIT_GRACE: Duration = Duration::from_millis(50);

/// The round starts this long after the refresher: codex's own start (exec,
/// loading) goes first instead of sharing the CPU with TLS set-up and fetch
/// threads. A codex that is done sooner cancels the round before it asks.
const START_DELAY: Duration = Duration::from_millis(20);

pub struct Refresher {
    done: mpsc::Receiver<()>,
    /// Dropped by `finish`: a round that has not started yet never starts.
    cancel: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// How a refresher ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// The round was over (or had nothing to do).
    Done,
    /// Still asking when the grace ran out: left behind, swop exits.
    Abandoned,
}

/// Starts a round over `accounts` (the caller passes those due for a
/// refresh, without the one codex runs on: that one learns from its own
/// session). `since_ms`: when the caller read the cache; an account asked
/// since then by another swop is not asked again. None when there is
/// nothing to refresh: no thread at all.
pub fn start(
    paths: &Paths,
    cfg: &Config,
    since_ms: i64,
    accounts: Vec<Account>,
    codex: Codex,
) -> Option<Refresher> {
    if accounts.is_empty() {
        return None;
    }
    let (tx, done) = mpsc::channel();
    let (cancel, cancelled) = mpsc::channel::<()>();
    let paths = paths.clone();
    let cfg = cfg.clone();
    let thread = std::thread::Builder::new()
        .name("swop-usage-refresh".into())
        .spawn(move || {
            let go = cancelled.recv_timeout(START_DELAY) == Err(mpsc::RecvTimeoutError::Timeout);
            if go {
                refresh(&paths, &cfg, since_ms, &accounts, &codex);
            }
            let _ = tx.send(());
        })
        .ok()?;
    Some(Refresher {
        done,
        cancel: Some(cancel),
        thread: Some(thread),
    })
}

impl Refresher {
    /// Waits up to `grace` for the round, then lets it go.
    pub fn finish(mut self, grace: Duration) -> Finished {
        drop(self.cancel.take());
        match self.done.recv_timeout(grace) {
            Err(mpsc::RecvTimeoutError::Timeout) => Finished::Abandoned,
            _ => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                Finished::Done
            }
        }
    }
}

/// One round, under the fetch lock if nobody else holds it.
fn refresh(paths: &Paths, cfg: &Config, since_ms: i64, accounts: &[Account], codex: &Codex) {
    let _lock = match files::try_lock(&paths.fetch_lock()) {
        Ok(Some(l)) => Some(l),
        Ok(None) => return, // another swop is fetching: single flight
        Err(_) => None,     // no lock possible (read-only SWOP_HOME)
    };
    let now = crate::base::time::now();
    let ttl = cfg.usage.cache_ttl.as_secs() as i64;
    // Re-read under the lock: someone may have refreshed since the launch.
    let mut entries: Vec<_> = accounts
        .iter()
        .map(|a| match cache::load(paths, &a.name) {
            Loaded::Found(e) => Some(e),
            _ => None,
        })
        .collect();
    let todo: Vec<usize> = (0..accounts.len())
        .filter(|&i| {
            entries[i].as_ref().is_none_or(|e| {
                !e.is_fresh(now, ttl) && e.may_fetch(now, false) && !e.fetched_since(since_ms)
            })
        })
        .collect();
    if todo.is_empty() {
        return;
    }
    let ctx = FetchContext {
        base_url: &cfg.usage.base_url,
        timeout: cfg.usage.timeout,
        codex,
        now,
    };
    gather::round(paths, accounts, &todo, &mut entries, &ctx);
}
