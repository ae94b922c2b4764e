//! The forecast: from each account's usage history, its burn rate in the
//! current weekly window and when it (and the whole pool) runs out at that
//! pace, compared with the next resets. Pure: no clock, no files; the
//! caller passes `now` and the histories (`usage::history`).
//!
//! The pool is measured in plan capacity ([`plan_capacity`]: a pro account's
//! 1% is worth about six of a plus account's), because work moves between
//! accounts. The model is deliberately simple and says so: linear pace,
//! weekly windows only, no reset counted before the pool runs dry.

use crate::base::time;
use crate::usage::history::Snapshot;

/// Two snapshots closer than this give no pace (noise, not a trend).
pub const MIN_SPAN_SECS: i64 = 600;
/// Reset times of one window may wobble by a few seconds between fetches.
const SAME_WINDOW_SECS: i64 = 3600;

/// Weekly capacity of a plan relative to plus (= 1). Unknown plans count as
/// plus. Figures are OpenAI's published ratios, rounded.
pub fn plan_capacity(plan: Option<&str>) -> f64 {
    match plan.map(str::to_ascii_lowercase).as_deref() {
        Some("pro") => 6.0,
        Some("free") => 0.2,
        _ => 1.0,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountForecast {
    pub name: String,
    /// Weekly used% per hour in the current window.
    pub pace_per_hour: f64,
    /// Weekly used% now, projected from the newest snapshot at that pace.
    pub used_now: f64,
    /// When the weekly window runs out at this pace (None: it does not).
    pub runs_out_at: Option<i64>,
    pub weekly_reset: Option<i64>,
}

impl AccountForecast {
    /// Runs out before its weekly reset (an unknown reset counts as later).
    pub fn runs_out_before_reset(&self) -> bool {
        match (self.runs_out_at, self.weekly_reset) {
            (Some(out), Some(reset)) => out < reset,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolForecast {
    /// When every account is out at the pool's combined pace.
    pub dry_at: i64,
    /// The soonest weekly reset still ahead.
    pub first_reset: Option<i64>,
}

impl PoolForecast {
    pub fn dry_before_reset(&self) -> bool {
        self.first_reset.is_none_or(|r| self.dry_at < r)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Forecast {
    /// Accounts with a pace (two snapshots far enough apart in this window).
    pub accounts: Vec<AccountForecast>,
    pub pool: Option<PoolForecast>,
}

/// The snapshots of the newest one's weekly window, oldest first.
fn current_window(history: &[Snapshot]) -> Vec<&Snapshot> {
    let Some(last) = history.last() else {
        return Vec::new();
    };
    let same = |s: &Snapshot| match (s.weekly_reset, last.weekly_reset) {
        (Some(a), Some(b)) => (a - b).abs() <= SAME_WINDOW_SECS,
        (None, None) => true,
        _ => false,
    };
    // Walk back while the window holds and used% does not go up.
    let mut start = history.len() - 1;
    while start > 0 {
        let prev = &history[start - 1];
        let ok = same(prev) && prev.weekly.is_some() && prev.weekly <= history[start].weekly;
        if !ok {
            break;
        }
        start -= 1;
    }
    history[start..].iter().collect()
}

/// One account's pace and run-out time; None without enough history or
/// when its window has already reset (the numbers say nothing about now).
pub fn account(name: &str, history: &[Snapshot], now: i64) -> Option<AccountForecast> {
    let window = current_window(history);
    let (first, last) = (window.first()?, window.last()?);
    let (w0, w1) = (first.weekly?, last.weekly?);
    let span = last.at - first.at;
    if span < MIN_SPAN_SECS || last.weekly_reset.is_some_and(|r| r <= now) {
        return None;
    }
    let pace = ((w1 - w0) / (span as f64 / 3600.0)).max(0.0);
    let ahead = (now - last.at).max(0) as f64 / 3600.0;
    let used_now = if last.limited {
        100.0
    } else {
        (w1 + pace * ahead).min(100.0)
    };
    // The crossing of 100% on the line through the newest snapshot.
    let runs_out_at = if last.limited || w1 >= 100.0 {
        Some(last.at)
    } else if pace > 0.0 {
        Some(last.at + ((100.0 - w1) / pace * 3600.0) as i64)
    } else {
        None
    };
    Some(AccountForecast {
        name: name.to_string(),
        pace_per_hour: pace,
        used_now,
        runs_out_at,
        weekly_reset: last.weekly_reset,
    })
}

/// Every account's forecast and the pool's. `histories`: (name, snapshots).
pub fn forecast(histories: &[(String, Vec<Snapshot>)], now: i64) -> Forecast {
    let mut out = Forecast::default();
    let (mut left, mut burn) = (0.0, 0.0);
    let mut first_reset: Option<i64> = None;
    for (name, h) in histories {
        let Some(last) = h.last() else { continue };
        let cap = plan_capacity(last.plan.as_deref());
        if let Some(r) = last.weekly_reset.filter(|&r| r > now) {
            first_reset = Some(first_reset.map_or(r, |f| f.min(r)));
        }
        match account(name, h, now) {
            Some(f) => {
                left += (100.0 - f.used_now) * cap;
                burn += f.pace_per_hour * cap;
                out.accounts.push(f);
            }
            // No pace: its headroom still counts (a reset window is full).
            None => {
                let reset = last.weekly_reset.is_some_and(|r| r <= now);
                let used = if reset {
                    0.0
                } else {
                    last.weekly.unwrap_or(0.0)
                };
                let used = if last.limited && !reset { 100.0 } else { used };
                left += (100.0 - used).max(0.0) * cap;
            }
        }
    }
    if burn > 0.0 {
        out.pool = Some(PoolForecast {
            dry_at: now + (left / burn * 3600.0) as i64,
            first_reset,
        });
    }
    out
}

/// "at this week's pace: all accounts blocked Thu 14:00, first reset Fri 10:00"
pub fn pool_line(p: &PoolForecast) -> String {
    let reset = match p.first_reset {
        Some(r) => format!("first reset {}", time::wall(r)),
        None => "no reset known".to_string(),
    };
    if p.dry_before_reset() {
        format!(
            "at this week's pace: all accounts blocked {}, {reset}",
            time::wall(p.dry_at)
        )
    } else {
        format!("at this week's pace: the accounts last past the {reset}")
    }
}

/// The launch's once-a-day line, only when the pool runs dry before a reset.
pub fn pool_warning(f: &Forecast, now: i64) -> Option<String> {
    let p = f.pool.as_ref().filter(|p| p.dry_before_reset())?;
    Some(format!(
        "{} (in {}); consider a lighter pace or another account",
        pool_line(p),
        time::span(p.dry_at - now)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn snap(at: i64, weekly: f64, reset: i64) -> Snapshot {
        Snapshot {
            at,
            plan: Some("plus".into()),
            weekly: Some(weekly),
            weekly_reset: Some(reset),
            five_hour: None,
            five_hour_reset: None,
            limited: false,
        }
    }

    #[test]
    fn one_snapshot_gives_no_forecast() {
        let h = vec![snap(0, 10.0, 100 * H)];
        assert_eq!(account("a", &h, H), None);
        assert_eq!(forecast(&[("a".into(), h)], H), Forecast::default());
    }

    #[test]
    fn pace_and_run_out_from_two_snapshots() {
        // 20% -> 30% in 2 hours: 5%/h; 70% left at now = 2h: out in 14h.
        let h = vec![snap(0, 20.0, 72 * H), snap(2 * H, 30.0, 72 * H)];
        let f = account("a", &h, 2 * H).unwrap();
        assert_eq!(f.pace_per_hour, 5.0);
        assert_eq!(f.runs_out_at, Some(16 * H));
        assert!(f.runs_out_before_reset());
        // An hour later, projected: 35% used, same run-out time.
        let f = account("a", &h, 3 * H).unwrap();
        assert_eq!(f.used_now, 35.0);
        assert_eq!(f.runs_out_at, Some(16 * H));
    }

    #[test]
    fn a_reset_starts_a_new_window() {
        // Before the reset 90%, after it 5% -> 10%: only the new window counts.
        let h = vec![
            snap(0, 80.0, 10 * H),
            snap(5 * H, 90.0, 10 * H),
            snap(11 * H, 5.0, 178 * H),
            snap(12 * H, 10.0, 178 * H),
        ];
        let f = account("a", &h, 12 * H).unwrap();
        assert_eq!(f.pace_per_hour, 5.0);
        assert_eq!(f.runs_out_at, Some(30 * H));
        assert!(f.runs_out_before_reset());
    }

    #[test]
    fn idle_account_never_runs_out() {
        let h = vec![snap(0, 40.0, 72 * H), snap(3 * H, 40.0, 72 * H)];
        let f = account("a", &h, 3 * H).unwrap();
        assert_eq!((f.pace_per_hour, f.runs_out_at), (0.0, None));
        assert_eq!(forecast(&[("a".into(), h)], 3 * H).pool, None);
    }

    #[test]
    fn pool_counts_every_account_in_capacity_units() {
        // a: plus, 10%/h, 50% left; b: pro idle at 90% (10% of 6 = 60 units).
        // Pool: 50 + 60 = 110 units at 10 units/h = 11h.
        let a = vec![snap(0, 30.0, 40 * H), snap(2 * H, 50.0, 40 * H)];
        let mut b = vec![snap(0, 90.0, 20 * H)];
        b[0].plan = Some("pro".into());
        let f = forecast(&[("a".into(), a), ("b".into(), b)], 2 * H);
        let p = f.pool.unwrap();
        assert_eq!(p.dry_at, 13 * H);
        assert_eq!(p.first_reset, Some(20 * H));
        assert!(p.dry_before_reset());
        assert!(pool_warning(&f_with(p.clone()), 2 * H).is_some());
        let later = PoolForecast {
            dry_at: 30 * H,
            ..p
        };
        assert!(!later.dry_before_reset());
        assert_eq!(pool_warning(&f_with(later), 2 * H), None);
    }

    fn f_with(p: PoolForecast) -> Forecast {
        Forecast {
            accounts: Vec::new(),
            pool: Some(p),
        }
    }

    #[test]
    fn capacity_of_plans() {
        assert_eq!(plan_capacity(Some("pro")), 6.0);
        assert_eq!(plan_capacity(Some("plus")), 1.0);
        assert_eq!(plan_capacity(None), 1.0);
    }
}
