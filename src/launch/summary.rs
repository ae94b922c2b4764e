//! The line after a run: how the account's numbers moved during it, e.g.
//! `swop: 'work' weekly 41% -> 47%, 5h 3% -> 9% (weekly resets Fri 28 Nov 10:00)`
//! (`[output] summary`).
//!
//! "Before" is what the launch picked from; "after" is what the run itself
//! recorded (learned from its session), else the cache's entry when it was
//! taken after the run began. Never a guess: without such numbers there is
//! no line. The pure part ([`after`], [`line()`]) reads no clock, file or
//! terminal; [`Launcher::summarize`] gathers those and prints through
//! `term::note`, which fits the width and cleans the text.

use super::Launcher;
use crate::base::{term, time};
use crate::usage::cache::{self, Entry, Loaded};
use crate::usage::learn::Learned;
use crate::usage::{Usage, Window};
use jiff::tz::TimeZone;
use std::time::SystemTime;

/// The numbers to report after a run that began at `started_ms` (Unix ms),
/// given what learning did and the account's cache entry read after it.
pub fn after<'a>(
    learned: &Learned,
    entry: Option<&'a Entry>,
    started_ms: i64,
) -> Option<&'a Usage> {
    let entry = entry?;
    let newer = match learned {
        // The cache holds the snapshot this run wrote, or newer numbers.
        Learned::Snapshot(_) | Learned::KeptNewer => true,
        // Nothing from the session: numbers from a later second than the
        // run's start only (`fetched_at` has no finer grain, and the
        // launch's own fetch may share the start's second).
        Learned::Nothing | Learned::FromRelay => entry.fetched_at > started_ms.div_euclid(1000),
    };
    entry.usage.as_ref().filter(|_| newer)
}

/// One window of a [`Usage`], by the label the line gives it.
type WindowOf = fn(&Usage) -> Option<&Window>;

/// The windows the line names, in its order (weekly first: it is what
/// runs out for good).
const WINDOWS: [(&str, WindowOf); 2] = [
    ("weekly", |u| u.weekly.as_ref()),
    ("5h", |u| u.five_hour.as_ref()),
];

/// The summary text (without the `swop: ` prefix), or None when `after`
/// knows neither window. `now` and `tz` only shape the reset time.
pub fn line(
    name: &str,
    before: Option<&Usage>,
    after: &Usage,
    now: i64,
    tz: &TimeZone,
) -> Option<String> {
    let moves: Vec<String> = WINDOWS
        .iter()
        .filter_map(|(label, of)| {
            let a = of(after)?.used_percent;
            Some(match before.and_then(of) {
                Some(b) => format!("{label} {:.0}% -> {a:.0}%", b.used_percent),
                None => format!("{label} {a:.0}%"),
            })
        })
        .collect();
    if moves.is_empty() {
        return None;
    }
    let mut text = format!("'{name}' {}", moves.join(", "));
    let reset = WINDOWS.iter().find_map(|(label, of)| {
        let at = of(after)?.reset_at.filter(|&t| t > now)?;
        Some(format!("{label} resets {}", time::wall_in(at, tz)))
    });
    if let Some(r) = reset {
        text.push_str(&format!(" ({r})"));
    }
    Some(text)
}

impl Launcher {
    /// After a run on `name` (learning done): the summary line, when
    /// `[output] summary` asks for it and numbers newer than the run's
    /// start are known. `before`: what the launch picked from.
    pub(super) fn summarize(
        &self,
        name: &str,
        before: Option<&Usage>,
        learned: &Learned,
        started: SystemTime,
    ) {
        let pool = &self.pool;
        if !pool.cfg.output.summary.shown(pool.ctx.stderr_tty) {
            return;
        }
        let entry = match cache::load(&pool.paths, name) {
            Loaded::Found(e) => Some(e),
            Loaded::Missing | Loaded::Corrupt => None,
        };
        let started_ms = started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let Some(after) = after(learned, entry.as_ref(), started_ms) else {
            return;
        };
        if let Some(text) = line(name, before, after, time::now(), &TimeZone::system()) {
            term::note(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fri 28 Nov 2025 10:00 UTC.
    const FRI_10: i64 = 1_764_324_000;
    const NOW: i64 = FRI_10 - 2 * 86400;

    fn window(used: f64, reset_at: Option<i64>) -> Option<Window> {
        Some(Window {
            used_percent: used,
            window_seconds: None,
            reset_at,
        })
    }

    fn usage(weekly: Option<f64>, five: Option<f64>) -> Usage {
        Usage {
            weekly: weekly.and_then(|w| window(w, Some(FRI_10))),
            five_hour: five.and_then(|f| window(f, Some(NOW + 3600))),
            ..Usage::default()
        }
    }

    fn text(before: Option<&Usage>, after: &Usage) -> Option<String> {
        line("work", before, after, NOW, &TimeZone::UTC)
    }

    #[test]
    fn before_and_after_of_both_windows() {
        let before = usage(Some(41.0), Some(3.0));
        let after = usage(Some(47.0), Some(9.4));
        assert_eq!(
            text(Some(&before), &after).unwrap(),
            "'work' weekly 41% -> 47%, 5h 3% -> 9% (weekly resets Fri 28 Nov 10:00)"
        );
    }

    #[test]
    fn only_weekly_known() {
        let before = usage(Some(41.0), None);
        let after = usage(Some(47.0), None);
        assert_eq!(
            text(Some(&before), &after).unwrap(),
            "'work' weekly 41% -> 47% (weekly resets Fri 28 Nov 10:00)"
        );
    }

    #[test]
    fn no_before_shows_the_after_alone() {
        let after = usage(Some(47.0), Some(9.0));
        assert_eq!(
            text(None, &after).unwrap(),
            "'work' weekly 47%, 5h 9% (weekly resets Fri 28 Nov 10:00)"
        );
    }

    #[test]
    fn after_without_windows_says_nothing() {
        assert_eq!(
            text(Some(&usage(Some(41.0), None)), &Usage::default()),
            None
        );
    }

    #[test]
    fn a_past_reset_is_not_shown_and_the_next_one_is() {
        let mut after = usage(Some(47.0), Some(9.0));
        let at = |u: &Usage, t: i64| line("work", None, u, t, &TimeZone::UTC).unwrap();
        assert!(at(&after, NOW).ends_with("(weekly resets Fri 28 Nov 10:00)"));
        // Weekly reset passed: the 5-hour one (still ahead) is named.
        after.weekly.as_mut().unwrap().reset_at = Some(NOW - 1);
        assert_eq!(
            at(&after, NOW),
            "'work' weekly 47%, 5h 9% (5h resets Wed 26 Nov 11:00)"
        );
        assert_eq!(at(&after, NOW + 7200), "'work' weekly 47%, 5h 9%");
    }

    fn entry(fetched_at: i64) -> Entry {
        Entry {
            fetched_at,
            usage: Some(usage(Some(47.0), None)),
            ..Entry::default()
        }
    }

    #[test]
    fn learned_numbers_are_the_after() {
        let started_ms = NOW * 1000 + 500;
        let e = entry(NOW + 30);
        for learned in [Learned::Snapshot(NOW * 1000 + 30_000), Learned::KeptNewer] {
            assert!(after(&learned, Some(&e), started_ms).is_some());
        }
    }

    #[test]
    fn without_learning_only_numbers_newer_than_the_start_count() {
        let started_ms = NOW * 1000 + 500;
        let nothing = Learned::Nothing;
        assert!(after(&nothing, Some(&entry(NOW + 1)), started_ms).is_some());
        // Taken in the start's second: maybe the launch's own fetch.
        assert!(after(&nothing, Some(&entry(NOW)), started_ms).is_none());
        assert!(after(&nothing, Some(&entry(NOW - 60)), started_ms).is_none());
        assert!(after(&nothing, None, started_ms).is_none());
        let empty = Entry {
            usage: None,
            ..entry(NOW + 5)
        };
        assert!(after(&Learned::KeptNewer, Some(&empty), started_ms).is_none());
    }
}
