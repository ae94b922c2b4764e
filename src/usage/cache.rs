//! The usage cache: per account, the last good snapshot with its fetch time,
//! plus what swop learned about the session (dead since when) and whether a
//! run since then made the numbers stale.
//!
//! It also remembers failures per account, so a launch never asks a server
//! that said "not now": a 429's `Retry-After` is honoured to the second, and
//! other failures back off from 1 minute, doubling, up to 15 minutes.
//!
//! Files are written atomically; a corrupt file is treated as missing (the
//! caller warns) and rewritten by the next fetch.

use crate::base::error::Result;
use crate::base::files;
use crate::base::paths::Paths;
use crate::usage::Usage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Entry {
    /// Unix seconds of the last good fetch (meaningful when `usage` is set).
    pub fetched_at: i64,
    pub usage: Option<Usage>,
    /// Set when codex itself could not get a working token.
    pub dead_since: Option<i64>,
    /// A codex run ended since the fetch: refetch on next use.
    pub invalidated: bool,
    /// True for an API-key login (no usage windows exist).
    pub api_key: bool,
    /// When a fetch last tried this account (success or not), in Unix
    /// milliseconds: what single flight compares with (seconds are too
    /// coarse for it).
    pub attempted_ms: i64,
    /// Why that attempt failed (a one-line cause, never a body or a token),
    /// so that a launch that waited for it can say why too.
    pub last_error: Option<String>,
    /// Where `usage` came from.
    pub source: Option<Source>,
    /// Failed fetches in a row (reset by a good one).
    pub failures: u32,
    /// No usage request before this (Unix s): the server's `Retry-After`.
    pub throttled_until: Option<i64>,
    /// No usage request before this (Unix s) unless forced: our own backoff.
    pub backoff_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Asked: `GET /wham/usage`, or codex app-server's
    /// `account/rateLimits/read` when the token needed a refresh.
    Server,
    /// The rate-limit headers of a model turn, as codex recorded them.
    Session,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Server => "usage server",
            Source::Session => "session",
        }
    }
}

/// First backoff after a failure; it doubles per failure up to the cap.
const BACKOFF_FIRST_SECS: i64 = 60;
const BACKOFF_MAX_SECS: i64 = 15 * 60;
/// A `Retry-After` longer than this is read as this (a bogus header never
/// silences an account for days).
const RETRY_AFTER_MAX_SECS: i64 = 6 * 3600;

// Loaded once per account and taken apart at once: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    Missing,
    Corrupt,
    Found(Entry),
}

/// A cache entry is a few KiB; anything past this is not ours.
const CACHE_FILE_MAX: u64 = 1 << 20;

pub fn load(paths: &Paths, name: &str) -> Loaded {
    match files::read_regular(&paths.cache_file(name), CACHE_FILE_MAX) {
        Err(files::ReadError::Missing) => Loaded::Missing,
        // A link, a FIFO or a huge file where our cache file should be:
        // nothing usable was read (and nothing blocked).
        Err(_) => Loaded::Corrupt,
        Ok(bytes) => match serde_json::from_slice::<Entry>(&bytes) {
            // The file is ours, but the numbers came from a server: keep
            // them in range whatever wrote them.
            Ok(mut e) => {
                let now = crate::base::time::now();
                e.usage = e.usage.and_then(|u| u.checked(now).ok());
                Loaded::Found(e)
            }
            Err(_) => Loaded::Corrupt,
        },
    }
}

pub fn store(paths: &Paths, name: &str, entry: &Entry) -> Result<()> {
    files::create_private_dir(&paths.cache_dir())?;
    let json = serde_json::to_vec(entry).expect("cache entry serialises");
    files::write_atomic_cache(&paths.cache_file(name), &json)
}

impl Entry {
    /// Whether a request for this account may go out now. `forced`
    /// (status --refresh) skips our own backoff but never the server's
    /// Retry-After.
    pub fn may_fetch(&self, now: i64, forced: bool) -> bool {
        let before = |t: Option<i64>| t.is_some_and(|t| now < t);
        !before(self.throttled_until) && (forced || !before(self.backoff_until))
    }

    /// Records a failed fetch: `retry_after` (seconds) from a 429, else the
    /// doubling backoff.
    pub fn record_failure(&mut self, now: i64, why: String, retry_after: Option<u64>) {
        self.failures = self.failures.saturating_add(1);
        self.last_error = Some(why);
        match retry_after {
            Some(s) => self.throttled_until = Some(now + (s as i64).min(RETRY_AFTER_MAX_SECS)),
            None => {
                let shift = (self.failures - 1).min(10);
                let wait = (BACKOFF_FIRST_SECS << shift).min(BACKOFF_MAX_SECS);
                self.backoff_until = Some(now + wait);
            }
        }
    }

    /// Tried by a fetch at or after `t_ms`, and not invalidated since.
    pub fn fetched_since(&self, t_ms: i64) -> bool {
        !self.invalidated && self.attempted_ms >= t_ms && self.attempted_ms > 0
    }

    /// Fresh: no network needed for this account now.
    pub fn is_fresh(&self, now: i64, ttl_secs: i64) -> bool {
        if self.invalidated {
            return false;
        }
        let recent = |t: i64| now - t < ttl_secs && now >= t;
        if let Some(dead) = self.dead_since {
            return recent(dead);
        }
        (self.usage.is_some() || self.api_key) && recent(self.fetched_at)
    }
}

/// Marks an account's numbers stale after a run, keeping them as fallback.
/// No fetch lock: a fetch may hold it for up to the usage timeout, and this
/// runs when codex has already exited. Racing a fetch can only lose the flag
/// (the fetch wrote newer numbers) or flag newer numbers (one extra fetch
/// later); the rename keeps the file whole either way.
pub fn invalidate(paths: &Paths, name: &str) -> Result<()> {
    if let Loaded::Found(mut e) = load(paths, name) {
        if !e.invalidated {
            e.invalidated = true;
            store(paths, name, &e)?;
        }
    }
    Ok(())
}

/// Records that the session is dead (its login file is gone or unusable).
/// Unlocked for the same reason as [`invalidate`].
pub fn mark_dead(paths: &Paths, name: &str, now: i64) -> Result<()> {
    let mut e = match load(paths, name) {
        Loaded::Found(e) => e,
        _ => Entry::default(),
    };
    e.dead_since = Some(now);
    store(paths, name, &e)
}

/// Forgets that the session was dead (after a relogin).
pub fn clear(paths: &Paths, name: &str) {
    let _ = std::fs::remove_file(paths.cache_file(name));
}

/// Records numbers seen outside a fetch (a model turn's rate-limit headers):
/// a fresh entry. Unlocked for the same reason as [`invalidate`]: the
/// numbers are newer than any fetch could have.
pub fn record(paths: &Paths, name: &str, usage: Usage, now: i64) -> Result<()> {
    let entry = Entry {
        fetched_at: now,
        usage: Some(usage),
        attempted_ms: now * 1000,
        ..Entry::default()
    };
    store(paths, name, &entry)
}

/// Records that the backend refused a turn for the usage limit: the account
/// is exhausted now, whatever the last numbers said.
pub fn mark_limited(paths: &Paths, name: &str, now: i64) -> Result<()> {
    let mut usage = match load(paths, name) {
        Loaded::Found(Entry { usage: Some(u), .. }) => u,
        _ => Usage::default(),
    };
    usage.limit_reached = Some(true);
    usage.allowed = Some(false);
    record(paths, name, usage, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness() {
        let e = Entry {
            fetched_at: 100,
            usage: Some(Usage::default()),
            ..Default::default()
        };
        assert!(e.is_fresh(150, 60));
        assert!(!e.is_fresh(161, 60));
        assert!(!Entry {
            invalidated: true,
            ..e.clone()
        }
        .is_fresh(150, 60));
        assert!(!Entry::default().is_fresh(0, 60));
        let dead = Entry {
            dead_since: Some(100),
            ..Default::default()
        };
        assert!(dead.is_fresh(120, 60));
        // A clock that went backwards never makes an entry fresh forever.
        assert!(!e.is_fresh(50, 60));
    }

    #[test]
    fn fetched_since() {
        let e = Entry {
            attempted_ms: 100_500,
            usage: Some(Usage::default()),
            ..Default::default()
        };
        assert!(e.fetched_since(100_500) && !e.fetched_since(100_501));
        assert!(!Entry {
            invalidated: true,
            ..e.clone()
        }
        .fetched_since(0));
        assert!(!Entry::default().fetched_since(0));
    }

    #[test]
    fn failures_back_off_and_retry_after_is_honoured() {
        let mut e = Entry::default();
        assert!(e.may_fetch(0, false));
        let waits: Vec<i64> = (0..6)
            .map(|_| {
                e.record_failure(1000, "HTTP 500".into(), None);
                e.backoff_until.unwrap() - 1000
            })
            .collect();
        assert_eq!(waits, [60, 120, 240, 480, 900, 900]);
        assert!(!e.may_fetch(1899, false) && e.may_fetch(1900, false));
        assert!(e.may_fetch(1000, true), "forced skips our own backoff");
        let mut t = Entry::default();
        t.record_failure(1000, "throttled".into(), Some(300));
        assert_eq!(t.throttled_until, Some(1300));
        assert!(
            !t.may_fetch(1299, true),
            "not even forced before Retry-After"
        );
        assert!(t.may_fetch(1300, false));
        t.record_failure(1000, "throttled".into(), Some(10_000_000));
        assert_eq!(t.throttled_until, Some(1000 + RETRY_AFTER_MAX_SECS));
    }

    #[test]
    fn old_files_with_missing_fields_still_parse() {
        let e: Entry = serde_json::from_str("{}").unwrap();
        assert_eq!(e, Entry::default());
    }
}
