//! The selection policy: a pure function of (accounts, usage, policy, current
//! directory, now) returning the choice and the reasons. No I/O here; the
//! shim, `swop pick` and `swop status` all call [`select`].

use crate::base::time;
use crate::config::{SelectionConfig, Strategy};
use crate::usage::gather::{AccountState, Freshness};
use crate::usage::Usage;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

pub struct Policy<'a> {
    pub cfg: &'a SelectionConfig,
    /// SWOP_ACCOUNT: this account, whatever its usage says.
    pub forced: Option<&'a str>,
    pub cwd: &'a Path,
    /// For `~` in rule dirs.
    pub home: Option<&'a Path>,
    pub now: i64,
}

/// One account as the policy sees it.
pub struct Input<'a> {
    pub state: &'a AccountState,
    pub live: usize,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub name: String,
    pub why: String,
    /// Accounts not picked and why, in name order.
    pub passed: Vec<(String, String)>,
    /// No account had usage numbers: the pick was made blind.
    pub without_data: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Blocked {
    /// Each account, why it cannot be used, and when it can (Unix seconds).
    pub accounts: Vec<(String, String, Option<i64>)>,
    pub earliest: Option<(String, i64)>,
}

impl Blocked {
    /// "all accounts blocked; earliest: work at Fri 28 Nov 10:00 (in 2d 3h)"
    pub fn headline(&self, now: i64) -> String {
        match &self.earliest {
            Some((name, t)) => format!(
                "all accounts blocked; earliest: {name} at {}",
                time::reset(*t, now)
            ),
            None => "all accounts blocked; none has a known reset time".to_string(),
        }
    }
}

enum Verdict {
    Eligible,
    /// Eligible only as a last resort: usage unknown.
    Unknown(String),
    Blocked(String, Option<i64>),
}

fn verdict(i: &Input, cfg: &SelectionConfig, now: i64) -> Verdict {
    let s = i.state;
    if cfg.exclude.contains(&s.name) {
        return Verdict::Blocked("excluded by [selection] exclude".into(), None);
    }
    if s.dead {
        return Verdict::Blocked(
            format!("session expired (run: swop relogin {})", s.name),
            None,
        );
    }
    let Some((u, _)) = &s.usage else {
        let why = if s.api_key {
            "API-key login (no usage data)".to_string()
        } else {
            "usage unavailable".to_string()
        };
        return Verdict::Unknown(why);
    };
    let reset_of = |w: &Option<crate::usage::Window>| w.as_ref().and_then(|w| w.reset_at);
    let when = |t: Option<i64>| match t {
        Some(t) => format!(", resets {}", time::reset(t, now)),
        None => String::new(),
    };
    let weekly = u.weekly_used().unwrap_or(0.0);
    let five = u.five_hour_used().unwrap_or(0.0);
    if u.is_limited() {
        // Which window ran out decides when the account comes back.
        let t = if weekly >= 100.0 || weekly >= five {
            reset_of(&u.weekly).or(reset_of(&u.five_hour))
        } else {
            reset_of(&u.five_hour).or(reset_of(&u.weekly))
        };
        let what = if u.limit_reached == Some(true) {
            "limit reached"
        } else {
            "not allowed"
        };
        return Verdict::Blocked(format!("{what}{}", when(t)), t);
    }
    if weekly >= cfg.max_weekly_percent {
        let t = reset_of(&u.weekly);
        return Verdict::Blocked(
            format!(
                "weekly {weekly:.0}% is at or above max_weekly_percent {:.0}{}",
                cfg.max_weekly_percent,
                when(t)
            ),
            t,
        );
    }
    if five >= cfg.max_5h_percent {
        let t = reset_of(&u.five_hour);
        return Verdict::Blocked(
            format!(
                "5-hour {five:.0}% is at or above max_5h_percent {:.0}{}",
                cfg.max_5h_percent,
                when(t)
            ),
            t,
        );
    }
    Verdict::Eligible
}

fn usage_of<'a>(i: &Input<'a>) -> Option<&'a Usage> {
    i.state.usage.as_ref().map(|(u, _)| u)
}

/// The seed's rule: lowest weekly, then lower 5-hour, sooner weekly reset,
/// fewer live sessions, name.
fn lowest_weekly(a: &Input, b: &Input) -> Ordering {
    let key = |i: &Input| {
        let u = usage_of(i);
        (
            u.and_then(Usage::weekly_used).unwrap_or(0.0),
            u.and_then(Usage::five_hour_used).unwrap_or(0.0),
            u.and_then(Usage::weekly_reset).unwrap_or(i64::MAX),
        )
    };
    let (ka, kb) = (key(a), key(b));
    ka.0.total_cmp(&kb.0)
        .then(ka.1.total_cmp(&kb.1))
        .then(ka.2.cmp(&kb.2))
        .then(a.live.cmp(&b.live))
        .then(a.state.name.cmp(&b.state.name))
}

fn expand(dir: &str, home: Option<&Path>) -> PathBuf {
    match (dir.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ if dir == "~" && home.is_some() => home.unwrap().to_path_buf(),
        _ => PathBuf::from(dir),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "?".into())
}

pub fn select(inputs: &[Input], policy: &Policy) -> Result<Choice, Blocked> {
    let cfg = policy.cfg;
    let verdicts: Vec<Verdict> = inputs.iter().map(|i| verdict(i, cfg, policy.now)).collect();
    let mut warnings = Vec::new();
    let known_good = verdicts.iter().any(|v| matches!(v, Verdict::Eligible));
    let usable = |k: usize| match &verdicts[k] {
        Verdict::Eligible => true,
        Verdict::Unknown(_) => !known_good,
        Verdict::Blocked(..) => false,
    };
    let passed = |chosen: usize| -> Vec<(String, String)> {
        inputs
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != chosen)
            .map(|(k, i)| {
                let why = match &verdicts[k] {
                    Verdict::Eligible | Verdict::Unknown(_) if usable(k) => {
                        format!(
                            "eligible (weekly {})",
                            pct(usage_of(i).and_then(Usage::weekly_used))
                        )
                    }
                    Verdict::Unknown(w) => format!("{w}; other accounts have usage data"),
                    Verdict::Blocked(w, _) => w.clone(),
                    Verdict::Eligible => unreachable!(),
                };
                (i.state.name.clone(), why)
            })
            .collect()
    };
    let stale_note = |k: usize| match &inputs[k].state.usage {
        Some((_, Freshness::Stale(age))) => format!(" (numbers from {} ago)", time::span(*age)),
        _ => String::new(),
    };
    let done = |k: usize, why: String, warnings: Vec<String>| Choice {
        name: inputs[k].state.name.clone(),
        why: format!("{why}{}", stale_note(k)),
        passed: passed(k),
        without_data: usage_of(&inputs[k]).is_none(),
        warnings,
    };

    // 1. SWOP_ACCOUNT wins, even over a blocked account.
    if let Some(forced) = policy.forced {
        if let Some(k) = inputs.iter().position(|i| i.state.name == forced) {
            if let Verdict::Blocked(why, _) = &verdicts[k] {
                warnings.push(format!(
                    "SWOP_ACCOUNT={forced} is blocked ({why}); using it anyway"
                ));
            }
            return Ok(done(k, "SWOP_ACCOUNT".into(), warnings));
        }
    }

    // 2. The first directory rule that contains the current directory.
    if let Some(rule) = cfg
        .rules
        .iter()
        .find(|r| policy.cwd.starts_with(expand(&r.dir, policy.home)))
    {
        match inputs.iter().position(|i| i.state.name == rule.account) {
            Some(k) if usable(k) => {
                return Ok(done(
                    k,
                    format!("directory rule for '{}'", rule.dir),
                    warnings,
                ));
            }
            Some(k) => {
                let why = match &verdicts[k] {
                    Verdict::Blocked(w, _) => w.clone(),
                    Verdict::Unknown(w) => w.clone(),
                    Verdict::Eligible => String::new(),
                };
                warnings.push(format!(
                    "directory rule for '{}' pins '{}', which cannot be used ({why}); picking by strategy",
                    rule.dir, rule.account
                ));
            }
            None => warnings.push(format!(
                "directory rule for '{}' names '{}', which is not an account; picking by strategy",
                rule.dir, rule.account
            )),
        }
    }

    // 3. The strategy among usable accounts.
    let mut pool: Vec<usize> = (0..inputs.len()).filter(|&k| usable(k)).collect();
    if pool.is_empty() {
        let accounts: Vec<(String, String, Option<i64>)> = inputs
            .iter()
            .zip(&verdicts)
            .map(|(i, v)| match v {
                Verdict::Blocked(w, t) => (i.state.name.clone(), w.clone(), *t),
                Verdict::Unknown(w) => (i.state.name.clone(), w.clone(), None),
                Verdict::Eligible => unreachable!(),
            })
            .collect();
        let earliest = accounts
            .iter()
            .filter_map(|(n, _, t)| t.map(|t| (n.clone(), t)))
            .min_by_key(|(n, t)| (*t, n.clone()));
        return Err(Blocked { accounts, earliest });
    }
    pool.sort_by(|&a, &b| lowest_weekly(&inputs[a], &inputs[b]));
    let weekly = |k: usize| usage_of(&inputs[k]).and_then(Usage::weekly_used);

    let (k, why) = match cfg.strategy {
        Strategy::Ordered => {
            let pos = |k: usize| {
                cfg.order
                    .iter()
                    .position(|n| *n == inputs[k].state.name)
                    .unwrap_or(usize::MAX)
            };
            let k = *pool
                .iter()
                .min_by_key(|&&k| pos(k))
                .expect("pool not empty");
            let why = if pos(k) == usize::MAX {
                format!(
                    "no account in [selection] order is usable; lowest weekly usage ({})",
                    pct(weekly(k))
                )
            } else {
                "first usable account in [selection] order".to_string()
            };
            (k, why)
        }
        Strategy::Drain => {
            let reset = |k: usize| {
                usage_of(&inputs[k])
                    .and_then(Usage::weekly_reset)
                    .unwrap_or(i64::MAX)
            };
            let k = *pool
                .iter()
                .min_by_key(|&&k| reset(k))
                .expect("pool not empty");
            let why = match usage_of(&inputs[k]).and_then(Usage::weekly_reset) {
                Some(t) => format!(
                    "drain: soonest weekly reset ({})",
                    time::reset(t, policy.now)
                ),
                None => format!(
                    "drain: no weekly reset known; lowest weekly usage ({})",
                    pct(weekly(k))
                ),
            };
            (k, why)
        }
        Strategy::LowestWeekly if cfg.spread => {
            let best = weekly(pool[0]).unwrap_or(0.0);
            let k = *pool
                .iter()
                .filter(|&&k| weekly(k).unwrap_or(0.0) <= best + cfg.spread_margin)
                .min_by_key(|&&k| inputs[k].live)
                .expect("the best is within the margin");
            let why = if k == pool[0] {
                format!("lowest weekly usage ({})", pct(weekly(k)))
            } else {
                format!(
                    "spread: {} live session(s), weekly {} within {:.0} points of the lowest",
                    inputs[k].live,
                    pct(weekly(k)),
                    cfg.spread_margin
                )
            };
            (k, why)
        }
        Strategy::LowestWeekly => {
            let k = pool[0];
            (k, format!("lowest weekly usage ({})", pct(weekly(k))))
        }
    };
    let mut choice = done(k, why, warnings);
    if choice.without_data {
        choice.why = format!(
            "{} (picked without quota data: usage is unavailable for every account)",
            choice.why
        );
    }
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DirRule;
    use crate::usage::Window;

    fn state(name: &str, weekly: Option<f64>, five: f64, reset: i64) -> AccountState {
        AccountState {
            name: name.into(),
            usage: weekly.map(|w| {
                (
                    Usage {
                        plan: Some("plus".into()),
                        allowed: Some(true),
                        limit_reached: Some(false),
                        five_hour: Some(Window {
                            used_percent: five,
                            window_seconds: Some(18000),
                            reset_at: Some(reset - 1000),
                        }),
                        weekly: Some(Window {
                            used_percent: w,
                            window_seconds: Some(604800),
                            reset_at: Some(reset),
                        }),
                        ..Usage::default()
                    },
                    Freshness::Fresh,
                )
            }),
            dead: false,
            api_key: false,
            warning: None,
            cache: Default::default(),
        }
    }

    fn pick_with(
        states: &[AccountState],
        cfg: &SelectionConfig,
        forced: Option<&str>,
        cwd: &str,
    ) -> Result<Choice, Blocked> {
        let inputs: Vec<Input> = states.iter().map(|s| Input { state: s, live: 0 }).collect();
        select(
            &inputs,
            &Policy {
                cfg,
                forced,
                cwd: Path::new(cwd),
                home: Some(Path::new("/home/u")),
                now: 1000,
            },
        )
    }

    fn pick(states: &[AccountState]) -> String {
        pick_with(states, &SelectionConfig::default(), None, "/")
            .unwrap()
            .name
    }

    #[test]
    fn lowest_weekly_wins() {
        let s = [
            state("a", Some(50.0), 0.0, 5000),
            state("b", Some(10.0), 90.0, 9000),
            state("c", Some(30.0), 0.0, 2000),
        ];
        let c = pick_with(&s, &SelectionConfig::default(), None, "/").unwrap();
        assert_eq!(c.name, "b");
        assert!(c.why.contains("lowest weekly usage (10%)"), "{}", c.why);
        assert_eq!(c.passed.len(), 2);
    }

    #[test]
    fn ties_by_5h_then_reset_then_name() {
        assert_eq!(
            pick(&[
                state("a", Some(10.0), 40.0, 5000),
                state("b", Some(10.0), 20.0, 9000)
            ]),
            "b"
        );
        assert_eq!(
            pick(&[
                state("a", Some(10.0), 20.0, 9000),
                state("b", Some(10.0), 20.0, 5000)
            ]),
            "b"
        );
        assert_eq!(
            pick(&[
                state("b", Some(10.0), 20.0, 5000),
                state("a", Some(10.0), 20.0, 5000)
            ]),
            "a"
        );
    }

    #[test]
    fn live_sessions_break_ties_only() {
        let s = [
            state("a", Some(10.0), 20.0, 5000),
            state("b", Some(10.0), 20.0, 5000),
        ];
        let inputs = [
            Input {
                state: &s[0],
                live: 2,
            },
            Input {
                state: &s[1],
                live: 0,
            },
        ];
        let cfg = SelectionConfig::default();
        let p = Policy {
            cfg: &cfg,
            forced: None,
            cwd: Path::new("/"),
            home: None,
            now: 0,
        };
        assert_eq!(select(&inputs, &p).unwrap().name, "b");
        let s = [
            state("a", Some(10.0), 20.0, 5000),
            state("b", Some(11.0), 20.0, 5000),
        ];
        let inputs = [
            Input {
                state: &s[0],
                live: 5,
            },
            Input {
                state: &s[1],
                live: 0,
            },
        ];
        assert_eq!(select(&inputs, &p).unwrap().name, "a");
    }

    #[test]
    fn spread_prefers_fewer_live_within_margin() {
        let s = [
            state("a", Some(10.0), 0.0, 5000),
            state("b", Some(15.0), 0.0, 5000),
            state("c", Some(40.0), 0.0, 5000),
        ];
        let cfg = SelectionConfig {
            spread: true,
            ..SelectionConfig::default()
        };
        let p = Policy {
            cfg: &cfg,
            forced: None,
            cwd: Path::new("/"),
            home: None,
            now: 0,
        };
        let inputs = [
            Input {
                state: &s[0],
                live: 1,
            },
            Input {
                state: &s[1],
                live: 0,
            },
            Input {
                state: &s[2],
                live: 0,
            },
        ];
        let c = select(&inputs, &p).unwrap();
        assert_eq!(c.name, "b");
        assert!(c.why.starts_with("spread"), "{}", c.why);
    }

    #[test]
    fn limited_and_disallowed_are_skipped() {
        let mut a = state("a", Some(1.0), 0.0, 5000);
        a.usage.as_mut().unwrap().0.limit_reached = Some(true);
        let mut b = state("b", Some(2.0), 0.0, 5000);
        b.usage.as_mut().unwrap().0.allowed = Some(false);
        let c = state("c", Some(90.0), 0.0, 5000);
        let choice = pick_with(&[a, b, c], &SelectionConfig::default(), None, "/").unwrap();
        assert_eq!(choice.name, "c");
        assert!(choice
            .passed
            .iter()
            .any(|(n, w)| n == "a" && w.contains("limit reached")));
        assert!(choice
            .passed
            .iter()
            .any(|(n, w)| n == "b" && w.contains("not allowed")));
    }

    #[test]
    fn thresholds_and_exclude() {
        let s = [
            state("a", Some(85.0), 0.0, 5000),
            state("b", Some(90.0), 10.0, 5000),
        ];
        let cfg = SelectionConfig {
            max_weekly_percent: 80.0,
            ..Default::default()
        };
        assert!(pick_with(&s, &cfg, None, "/").is_err());
        let s = [
            state("a", Some(10.0), 70.0, 5000),
            state("b", Some(20.0), 10.0, 5000),
        ];
        let cfg = SelectionConfig {
            max_5h_percent: 50.0,
            ..Default::default()
        };
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "b");
        let cfg = SelectionConfig {
            exclude: vec!["a".into()],
            ..Default::default()
        };
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "b");
    }

    #[test]
    fn ordered_and_drain() {
        let s = [
            state("a", Some(10.0), 0.0, 9000),
            state("b", Some(50.0), 0.0, 3000),
            state("c", Some(30.0), 0.0, 6000),
        ];
        let cfg = SelectionConfig {
            strategy: Strategy::Ordered,
            order: vec!["c".into(), "a".into()],
            ..Default::default()
        };
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "c");
        let cfg = SelectionConfig {
            strategy: Strategy::Drain,
            ..Default::default()
        };
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "b");
        assert!(c.why.contains("drain"));
    }

    #[test]
    fn dir_rule_pins_and_falls_back_when_blocked() {
        let s = [
            state("a", Some(10.0), 0.0, 9000),
            state("b", Some(50.0), 0.0, 3000),
        ];
        let cfg = SelectionConfig {
            rules: vec![DirRule {
                dir: "~/work".into(),
                account: "b".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            pick_with(&s, &cfg, None, "/home/u/work/repo").unwrap().name,
            "b"
        );
        assert_eq!(
            pick_with(&s, &cfg, None, "/home/u/workshop").unwrap().name,
            "a"
        );
        let mut s2 = s.clone();
        s2[1].usage.as_mut().unwrap().0.limit_reached = Some(true);
        let c = pick_with(&s2, &cfg, None, "/home/u/work").unwrap();
        assert_eq!(c.name, "a");
        assert!(c.warnings[0].contains("cannot be used"));
    }

    #[test]
    fn forced_account_even_when_blocked() {
        let mut s = [
            state("a", Some(10.0), 0.0, 9000),
            state("b", Some(50.0), 0.0, 3000),
        ];
        s[1].dead = true;
        let c = pick_with(&s, &SelectionConfig::default(), Some("b"), "/").unwrap();
        assert_eq!(c.name, "b");
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn unknown_usage_only_as_last_resort() {
        let s = [state("a", None, 0.0, 0), state("b", Some(60.0), 0.0, 3000)];
        let c = pick_with(&s, &SelectionConfig::default(), None, "/").unwrap();
        assert_eq!(c.name, "b");
        let s = [state("a", None, 0.0, 0), state("b", None, 0.0, 0)];
        let c = pick_with(&s, &SelectionConfig::default(), None, "/").unwrap();
        assert_eq!(c.name, "a");
        assert!(c.without_data);
        assert!(c.why.contains("without quota data"));
    }

    #[test]
    fn all_blocked_reports_earliest() {
        let mut a = state("work", Some(100.0), 0.0, 7000);
        a.usage.as_mut().unwrap().0.limit_reached = Some(true);
        let mut b = state("home", Some(100.0), 0.0, 9000);
        b.usage.as_mut().unwrap().0.limit_reached = Some(true);
        let mut c = state("dead", Some(1.0), 0.0, 9000);
        c.dead = true;
        let e = pick_with(&[a, b, c], &SelectionConfig::default(), None, "/").unwrap_err();
        assert_eq!(e.earliest, Some(("work".into(), 7000)));
        let h = e.headline(1000);
        assert!(
            h.starts_with("all accounts blocked; earliest: work at "),
            "{h}"
        );
        assert!(h.ends_with("(in 1h 40m)"), "{h}");
        assert_eq!(e.accounts.len(), 3);
    }
}
