//! Human times: "Fri 28 Nov 10:00 (in 2d 3h)" in the local time zone, and
//! short ages ("5m ago"). Never a raw epoch in front of a person.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The clock override of the test builds: `main` passes the context's
/// `SWOP_TEST_NOW=UNIX_SECONDS` to [`set_test_now`] (undocumented for users;
/// the integration tests use it to age usage history without sleeping).
pub const TEST_NOW_VAR: &str = "SWOP_TEST_NOW";

static TEST_NOW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Fixes [`now`] at `value` (Unix seconds) for the rest of the process,
/// once, and only in a build with debug assertions (the one the tests
/// run): a release build has no clock override at all. Ignored unless it
/// parses.
pub fn set_test_now(value: Option<&str>) {
    if cfg!(debug_assertions) {
        if let Some(t) = value.and_then(|v| v.trim().parse::<i64>().ok()) {
            let _ = TEST_NOW.set(t);
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it), or the
/// test builds' override.
pub fn now() -> i64 {
    if let Some(t) = TEST_NOW.get() {
        return *t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch by the real clock (never the test
/// override: codex stamps its files with the real clock).
pub fn now_ms() -> i64 {
    ms_of(std::time::SystemTime::now())
}

/// `t` in Unix milliseconds (0 before the epoch).
pub fn ms_of(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Nanoseconds since the Unix epoch, for unique names.
pub fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Local wall time, e.g. "Fri 28 Nov 10:00".
pub fn wall(unix: i64) -> String {
    wall_in(unix, &TimeZone::system())
}

/// [`wall`] in a given time zone (tests pin one).
pub fn wall_in(unix: i64, tz: &TimeZone) -> String {
    match Timestamp::from_second(unix) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%a %-d %b %H:%M")
            .to_string(),
        Err(_) => "unknown time".to_string(),
    }
}

/// A duration in at most two units: "2d 3h", "3h 5m", "45m", "30s".
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// "Fri 28 Nov 10:00 (in 2d 3h)", or "(now)" when it has passed.
pub fn reset(unix: i64, now: i64) -> String {
    if unix <= now {
        format!("{} (now)", wall(unix))
    } else {
        format!("{} (in {})", wall(unix), span(unix.saturating_sub(now)))
    }
}

/// RFC 3339 in UTC, for JSON output; None outside the years jiff knows.
pub fn rfc3339(unix: i64) -> Option<String> {
    Timestamp::from_second(unix).ok().map(|ts| ts.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span(30), "30s");
        assert_eq!(span(45 * 60), "45m");
        assert_eq!(span(3 * 3600 + 5 * 60), "3h 5m");
        assert_eq!(span(2 * 86400 + 3 * 3600 + 59), "2d 3h");
        assert_eq!(span(86400), "1d");
        assert_eq!(span(-5), "0s");
    }

    #[test]
    fn wall_time_has_no_epoch() {
        // 2026-11-28 10:00 UTC; TZ may differ on the machine, the shape not.
        let w = wall(1_795_860_000);
        assert!(!w.contains("1795860000"));
        assert_eq!(w.split(' ').count(), 4, "{w}");
        assert!(reset(1_795_860_000, 1_795_860_000 - 3600).ends_with("(in 1h)"));
    }
}
