//! The backend's shared state: what each account is served (usage, faults,
//! model turns, refresh, consume), the request log, and the shutdown flag
//! the handlers watch. One mutex; a poisoned lock is taken anyway so that
//! one failed test never blocks another's backend.

use super::*;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

pub(super) fn bearer_of(authorization: Option<&str>) -> Option<&str> {
    let a = authorization?.trim();
    let (scheme, rest) = a.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.trim())
    } else {
        None
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) usage: HashMap<String, Value>,
    pub(super) faults: HashMap<String, Fault>,
    pub(super) usage_delay: Duration,
    pub(super) responses: HashMap<String, Responses>,
    pub(super) turn_headers: HashMap<String, Vec<(String, String)>>,
    pub(super) refresh: Option<RefreshBehavior>,
    pub(super) no_token_checks: bool,
    /// Access tokens answered 401 although they have not expired.
    pub(super) revoked: Vec<String>,
    /// `workspace_backend_origin` per account id (default NO_CONSTRAINT).
    pub(super) workspace_origin: HashMap<String, String>,
    pub(super) requests: Vec<Req>,
    /// Usage bodies that replace an account's from a time (Unix s) on.
    pub(super) scheduled_usage: HashMap<String, (i64, Value)>,
    /// How the reset-credit consume endpoint answers, per account.
    pub(super) consume: HashMap<String, Consume>,
    /// Consume request ids that already reset a limit.
    pub(super) redeemed: Vec<String>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) shutdown: AtomicBool,
    pub(super) port: u16,
    pub(super) tls_port: u16,
    /// Usage requests being answered right now, and the most at once.
    pub(super) in_flight: AtomicUsize,
    pub(super) max_in_flight: AtomicUsize,
}

/// Counts a usage request as in flight while it lives.
pub(super) struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    pub(super) fn enter(s: &'a Shared) -> InFlight<'a> {
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Sleep `d`, waking early on shutdown. Returns false on shutdown.
    pub(super) fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.down() {
                return false;
            }
            thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
        !self.down()
    }
}
