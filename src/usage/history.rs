//! A short, bounded history of each account's usage numbers, for the
//! forecast (`select::forecast`): `$SWOP_HOME/cache/history/<name>.json`
//! holds at most [`MAX_SNAPSHOTS`] snapshots, oldest first. Recorded where a
//! fetch stores good numbers (`gather`), so a session's spend shows up in the
//! fetch that follows it.
//!
//! Read-modify-write under one lock for the history dir, atomic writes,
//! 0700/0600. Best effort by design: history only feeds a forecast, so a
//! failure here never fails a fetch or a launch, and a corrupt file is
//! simply started afresh. This module never decides anything; it stores.

use crate::base::error::Result;
use crate::base::files;
use crate::base::paths::Paths;
use crate::usage::Usage;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Snapshots kept per account.
pub const MAX_SNAPSHOTS: usize = 32;
/// Older snapshots are kept at least this far apart (the newest is always
/// the latest numbers), so 32 of them span about 32 hours of use rather
/// than 32 minutes of back-to-back fetches.
pub const MIN_SPACING_SECS: i64 = 3600;
/// How long a launch waits for the history lock before giving up on it.
const LOCK_WAIT: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Unix seconds of the fetch.
    pub at: i64,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub weekly: Option<f64>,
    #[serde(default)]
    pub weekly_reset: Option<i64>,
    #[serde(default)]
    pub five_hour: Option<f64>,
    #[serde(default)]
    pub five_hour_reset: Option<i64>,
    /// The backend said the account is exhausted (limit reached / not allowed).
    #[serde(default)]
    pub limited: bool,
}

impl Snapshot {
    pub fn of(at: i64, u: &Usage) -> Snapshot {
        Snapshot {
            at,
            plan: u.plan.clone(),
            weekly: u.weekly_used(),
            weekly_reset: u.weekly_reset(),
            five_hour: u.five_hour_used(),
            five_hour_reset: u.five_hour.as_ref().and_then(|w| w.reset_at),
            limited: u.is_limited(),
        }
    }
}

fn dir(paths: &Paths) -> PathBuf {
    paths.cache_dir().join("history")
}

/// Account names never start with '.', so these cannot collide with one.
fn lock_file(paths: &Paths) -> PathBuf {
    dir(paths).join(".lock")
}

fn file(paths: &Paths, name: &str) -> PathBuf {
    dir(paths).join(format!("{name}.json"))
}

fn warning_file(paths: &Paths) -> PathBuf {
    dir(paths).join(".pool-warning.json")
}

/// A history file holds 32 small snapshots; anything past this is not ours.
const FILE_MAX: u64 = 256 << 10;

/// The account's snapshots, oldest first (empty when none or unreadable:
/// a link, FIFO or device there is not read, see `files::read_regular`,
/// and the next record replaces it).
pub fn load(paths: &Paths, name: &str) -> Vec<Snapshot> {
    files::read_regular(&file(paths, name), FILE_MAX)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// (name, snapshots) for each of `names`, for the forecast.
pub fn load_all<'a>(
    paths: &Paths,
    names: impl Iterator<Item = &'a str>,
) -> Vec<(String, Vec<Snapshot>)> {
    names.map(|n| (n.to_string(), load(paths, n))).collect()
}

/// Adds `snap` to `list`: the newest always replaces a tail that is closer
/// than [`MIN_SPACING_SECS`] to the snapshot before it; at most
/// [`MAX_SNAPSHOTS`] are kept. A snapshot older than the newest is ignored
/// (a slow fetch finishing after a newer one).
pub fn push(list: &mut Vec<Snapshot>, snap: Snapshot) {
    if let Some(last) = list.last() {
        if snap.at < last.at {
            return;
        }
    }
    let n = list.len();
    if n >= 2 && snap.at - list[n - 2].at < MIN_SPACING_SECS {
        list[n - 1] = snap;
    } else {
        list.push(snap);
    }
    if list.len() > MAX_SNAPSHOTS {
        let extra = list.len() - MAX_SNAPSHOTS;
        list.drain(..extra);
    }
}

/// Records good numbers fetched at `at` for account `name`.
pub fn record(paths: &Paths, name: &str, at: i64, usage: &Usage) -> Result<()> {
    files::create_private_dir(&dir(paths))?;
    let Some(_lock) = files::lock_within(&lock_file(paths), LOCK_WAIT)? else {
        return Ok(()); // someone holds it for long: skip one point, never wait
    };
    let mut list = load(paths, name);
    push(&mut list, Snapshot::of(at, usage));
    let json = serde_json::to_vec(&list).expect("history serialises");
    files::write_atomic_cache(&file(paths, name), &json)
}

/// Forgets an account's history (it was logged out or logged in again).
pub fn clear(paths: &Paths, name: &str) {
    let _ = std::fs::remove_file(file(paths, name));
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct WarningMark {
    warned_at: i64,
    checked_at: i64,
}

/// Once a day at most: when the launch's pool warning is due, runs `check`
/// (which computes the warning line, if any) and returns its line. The
/// check itself runs at most every [`CHECK_EVERY_SECS`], so the launch
/// reads the histories rarely; otherwise this costs one small file read.
pub fn pool_warning_due(
    paths: &Paths,
    now: i64,
    check: impl FnOnce() -> Option<String>,
) -> Option<String> {
    let mark: WarningMark = files::read_regular(&warning_file(paths), 4 << 10)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    // A mark from the future (clock moved back) never silences for good.
    let within = |t: i64, secs: i64| t <= now && now - t < secs;
    if within(mark.warned_at, WARN_EVERY_SECS) || within(mark.checked_at, CHECK_EVERY_SECS) {
        return None;
    }
    let line = check();
    let next = WarningMark {
        warned_at: if line.is_some() { now } else { mark.warned_at },
        checked_at: now,
    };
    if files::create_private_dir(&dir(paths)).is_ok() {
        let json = serde_json::to_vec(&next).expect("mark serialises");
        let _ = files::write_atomic_cache(&warning_file(paths), &json);
    }
    line
}

/// The pool warning is shown at most once per this many seconds.
pub const WARN_EVERY_SECS: i64 = 86_400;
/// Between warnings, the forecast is recomputed at most this often.
pub const CHECK_EVERY_SECS: i64 = 600;

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at: i64, weekly: f64) -> Snapshot {
        Snapshot {
            at,
            plan: None,
            weekly: Some(weekly),
            weekly_reset: None,
            five_hour: None,
            five_hour_reset: None,
            limited: false,
        }
    }

    #[test]
    fn close_snapshots_replace_the_tail() {
        let mut l = Vec::new();
        push(&mut l, snap(0, 1.0));
        push(&mut l, snap(60, 2.0));
        push(&mut l, snap(120, 3.0));
        assert_eq!(l.len(), 2);
        assert_eq!(l[1], snap(120, 3.0));
        push(&mut l, snap(3600, 4.0));
        assert_eq!(l.len(), 3);
        push(&mut l, snap(100, 9.0)); // older than the newest: ignored
        assert_eq!(l.last().unwrap().weekly, Some(4.0));
    }

    #[test]
    fn bounded() {
        let mut l = Vec::new();
        for i in 0..100 {
            push(&mut l, snap(i * MIN_SPACING_SECS, i as f64));
        }
        assert_eq!(l.len(), MAX_SNAPSHOTS);
        assert_eq!(l.last().unwrap().weekly, Some(99.0));
        assert_eq!(l[0].weekly, Some((100 - MAX_SNAPSHOTS) as f64));
    }
}
