//! The selection policy: a pure function of (accounts, usage, policy, current
//! directory, now) returning the choice and the reasons. No I/O here; the
//! shim, `swop pick` and `swop status` all call [`select`].
//!
//! Must never read the clock, the environment or a file: everything it
//! decides on comes in through [`Input`] and [`Policy`].

mod reason;

pub use reason::{Basis, Passed, Pick, Reason, Unusable};

use crate::base::error::{exit, Error};
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
    pub why: Pick,
    /// Accounts not picked and why, in name order.
    pub passed: Vec<Passed>,
    /// No account had usage numbers: the pick was made blind.
    pub without_data: bool,
    pub warnings: Vec<String>,
}

/// When one account comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct Comeback {
    pub name: String,
    pub at: i64,
}

#[derive(Debug, Clone)]
pub struct Blocked {
    /// Each account and why it cannot be used (with when it can again).
    pub accounts: Vec<Unusable>,
    pub earliest: Option<Comeback>,
}

impl Blocked {
    /// "all accounts blocked; earliest: work at Fri 28 Nov 10:00 (in 2d 3h)"
    pub fn headline(&self, now: i64) -> String {
        match &self.earliest {
            Some(c) => format!(
                "all accounts blocked; earliest: {} at {}",
                c.name,
                time::reset(c.at, now)
            ),
            None => "all accounts blocked; none has a known reset time".to_string(),
        }
    }

    /// Whether every account is out because its login is dead.
    pub fn all_expired(&self) -> bool {
        self.accounts
            .iter()
            .all(|u| u.reason == Reason::SessionExpired)
    }

    /// The error a launch or `swop pick` ends with: each account's reason,
    /// and the fix that applies (log in again, or wait / add / force).
    pub fn error(&self, now: i64) -> Error {
        let mut msg = self.headline(now);
        for u in &self.accounts {
            msg.push_str(&format!("\n  {}: {u}", u.name));
        }
        if self.all_expired() && !self.accounts.is_empty() {
            let first = &self.accounts[0].name;
            return Error::new(msg)
                .help(format!("log in again: swop relogin {first}"))
                .code(exit::LOGIN_NEEDED);
        }
        Error::new(msg)
            .help("wait for a reset, add another account (swop add NAME), or force one: SWOP_ACCOUNT=NAME codex ...")
            .code(exit::ALL_BLOCKED)
    }
}

enum Verdict {
    Eligible,
    /// Eligible only as a last resort: usage unknown.
    Unknown(Reason),
    Blocked(Reason, Option<i64>),
}

fn verdict(i: &Input, cfg: &SelectionConfig) -> Verdict {
    let s = i.state;
    if cfg.exclude.contains(&s.name) {
        return Verdict::Blocked(Reason::Excluded, None);
    }
    if s.dead {
        return Verdict::Blocked(Reason::SessionExpired, None);
    }
    let Some((u, _)) = &s.usage else {
        return Verdict::Unknown(if s.api_key {
            Reason::ApiKeyLogin
        } else {
            Reason::UsageUnavailable
        });
    };
    let reset_of = |w: &Option<crate::usage::Window>| w.as_ref().and_then(|w| w.reset_at);
    let weekly = u.weekly_used().unwrap_or(0.0);
    let five = u.five_hour_used().unwrap_or(0.0);
    if u.is_limited() {
        // Which window ran out decides when the account comes back.
        let t = if weekly >= 100.0 || weekly >= five {
            reset_of(&u.weekly).or(reset_of(&u.five_hour))
        } else {
            reset_of(&u.five_hour).or(reset_of(&u.weekly))
        };
        let reason = if u.limit_reached == Some(true) {
            Reason::LimitReached
        } else {
            Reason::NotAllowed
        };
        return Verdict::Blocked(reason, t);
    }
    if weekly >= cfg.max_weekly_percent {
        let max = cfg.max_weekly_percent;
        return Verdict::Blocked(
            Reason::WeeklyAtCap { used: weekly, max },
            reset_of(&u.weekly),
        );
    }
    if five >= cfg.max_5h_percent {
        let max = cfg.max_5h_percent;
        return Verdict::Blocked(
            Reason::FiveHourAtCap { used: five, max },
            reset_of(&u.five_hour),
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

/// The verdicts over all inputs, and the helpers every step of [`select`]
/// shares.
struct Table<'i, 'a> {
    inputs: &'i [Input<'a>],
    verdicts: Vec<Verdict>,
    known_good: bool,
    now: i64,
}

impl<'i, 'a> Table<'i, 'a> {
    fn new(inputs: &'i [Input<'a>], cfg: &SelectionConfig, now: i64) -> Self {
        let verdicts: Vec<Verdict> = inputs.iter().map(|i| verdict(i, cfg)).collect();
        let known_good = verdicts.iter().any(|v| matches!(v, Verdict::Eligible));
        Table {
            inputs,
            verdicts,
            known_good,
            now,
        }
    }

    fn name(&self, k: usize) -> &str {
        &self.inputs[k].state.name
    }

    fn weekly(&self, k: usize) -> Option<f64> {
        usage_of(&self.inputs[k]).and_then(Usage::weekly_used)
    }

    fn usable(&self, k: usize) -> bool {
        match &self.verdicts[k] {
            Verdict::Eligible => true,
            Verdict::Unknown(_) => !self.known_good,
            Verdict::Blocked(..) => false,
        }
    }

    fn unusable(&self, k: usize) -> Option<Unusable> {
        let (reason, until) = match &self.verdicts[k] {
            Verdict::Blocked(r, t) => (*r, *t),
            Verdict::Unknown(r) => (*r, None),
            Verdict::Eligible => return None,
        };
        Some(Unusable {
            name: self.name(k).to_string(),
            reason,
            until,
            now: self.now,
        })
    }

    fn passed(&self, chosen: usize) -> Vec<Passed> {
        (0..self.inputs.len())
            .filter(|&k| k != chosen)
            .map(|k| match &self.verdicts[k] {
                _ if self.usable(k) => Passed::Eligible {
                    name: self.name(k).to_string(),
                    weekly: self.weekly(k),
                },
                Verdict::Unknown(r) => Passed::NoDataWhileOthersHave {
                    name: self.name(k).to_string(),
                    reason: *r,
                },
                _ => Passed::Unusable(self.unusable(k).expect("not usable")),
            })
            .collect()
    }

    fn choice(&self, k: usize, why: Basis, warnings: Vec<String>, blind: bool) -> Choice {
        let stale_for = match &self.inputs[k].state.usage {
            Some((_, Freshness::Stale(age))) => Some(*age),
            _ => None,
        };
        let without_data = usage_of(&self.inputs[k]).is_none();
        Choice {
            name: self.name(k).to_string(),
            why: Pick {
                basis: why,
                stale_for,
                blind: blind && without_data,
            },
            passed: self.passed(k),
            without_data,
            warnings,
        }
    }

    fn blocked(&self) -> Blocked {
        let accounts: Vec<Unusable> = (0..self.inputs.len())
            .filter_map(|k| self.unusable(k))
            .collect();
        let earliest = accounts
            .iter()
            .filter_map(|u| u.until.map(|at| (at, u.name.clone())))
            .min()
            .map(|(at, name)| Comeback { name, at });
        Blocked { accounts, earliest }
    }
}

pub fn select(inputs: &[Input], policy: &Policy) -> Result<Choice, Blocked> {
    let cfg = policy.cfg;
    let table = Table::new(inputs, cfg, policy.now);
    let mut warnings = Vec::new();
    if let Some(k) = forced(&table, policy.forced, &mut warnings) {
        return Ok(table.choice(k, Basis::Forced, warnings, false));
    }
    if let Some((k, dir)) = dir_rule(&table, policy, &mut warnings) {
        return Ok(table.choice(k, Basis::DirRule { dir }, warnings, false));
    }
    let mut pool: Vec<usize> = (0..inputs.len()).filter(|&k| table.usable(k)).collect();
    if pool.is_empty() {
        return Err(table.blocked());
    }
    pool.sort_by(|&a, &b| lowest_weekly(&inputs[a], &inputs[b]));
    let (k, why) = by_strategy(&table, cfg, &pool);
    Ok(table.choice(k, why, warnings, true))
}

/// 1. SWOP_ACCOUNT wins, even over a blocked account.
fn forced(table: &Table, forced: Option<&str>, warnings: &mut Vec<String>) -> Option<usize> {
    let forced = forced?;
    let k = table.inputs.iter().position(|i| i.state.name == forced)?;
    if let Some(u) = table.unusable(k).filter(|_| !table.usable(k)) {
        warnings.push(format!(
            "SWOP_ACCOUNT={forced} is blocked ({u}); using it anyway"
        ));
    }
    Some(k)
}

/// 2. The first directory rule that contains the current directory.
fn dir_rule(table: &Table, policy: &Policy, warnings: &mut Vec<String>) -> Option<(usize, String)> {
    let rule = policy
        .cfg
        .rules
        .iter()
        .find(|r| policy.cwd.starts_with(expand(&r.dir, policy.home)))?;
    match table
        .inputs
        .iter()
        .position(|i| i.state.name == rule.account)
    {
        Some(k) if table.usable(k) => return Some((k, rule.dir.clone())),
        Some(k) => {
            let why = table.unusable(k).map(|u| u.to_string()).unwrap_or_default();
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
    None
}

/// 3. The strategy among usable accounts (`pool`, sorted lowest weekly first).
fn by_strategy(table: &Table, cfg: &SelectionConfig, pool: &[usize]) -> (usize, Basis) {
    let inputs = table.inputs;
    match cfg.strategy {
        Strategy::Ordered => {
            let pos = |k: usize| {
                cfg.order
                    .iter()
                    .position(|n| n == table.name(k))
                    .unwrap_or(usize::MAX)
            };
            let k = *pool
                .iter()
                .min_by_key(|&&k| pos(k))
                .expect("pool not empty");
            let why = if pos(k) == usize::MAX {
                Basis::OrderedNoneUsable {
                    weekly: table.weekly(k),
                }
            } else {
                Basis::Ordered
            };
            (k, why)
        }
        Strategy::Drain => {
            let reset = |k: usize| usage_of(&inputs[k]).and_then(Usage::weekly_reset);
            let k = *pool
                .iter()
                .min_by_key(|&&k| reset(k).unwrap_or(i64::MAX))
                .expect("pool not empty");
            let why = Basis::Drain {
                reset: reset(k),
                weekly: table.weekly(k),
                now: table.now,
            };
            (k, why)
        }
        Strategy::LowestWeekly if cfg.spread => {
            let best = table.weekly(pool[0]).unwrap_or(0.0);
            let k = *pool
                .iter()
                .filter(|&&k| table.weekly(k).unwrap_or(0.0) <= best + cfg.spread_margin)
                .min_by_key(|&&k| inputs[k].live)
                .expect("the best is within the margin");
            let why = if k == pool[0] {
                Basis::LowestWeekly {
                    weekly: table.weekly(k),
                }
            } else {
                Basis::Spread {
                    live: inputs[k].live,
                    weekly: table.weekly(k),
                    margin: cfg.spread_margin,
                }
            };
            (k, why)
        }
        Strategy::LowestWeekly => {
            let k = pool[0];
            let weekly = table.weekly(k);
            (k, Basis::LowestWeekly { weekly })
        }
    }
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
        assert_eq!(c.why.basis, Basis::LowestWeekly { weekly: Some(10.0) });
        assert_eq!(c.why.to_string(), "lowest weekly usage (10%)");
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
        assert!(
            matches!(c.why.basis, Basis::Spread { live: 0, .. }),
            "{}",
            c.why
        );
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
            .any(|p| matches!(p, Passed::Unusable(u) if u.name == "a" && u.reason == Reason::LimitReached)));
        assert!(choice.passed.iter().any(
            |p| matches!(p, Passed::Unusable(u) if u.name == "b" && u.reason == Reason::NotAllowed)
        ));
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
        assert!(
            matches!(c.why.basis, Basis::Drain { reset: Some(_), .. }),
            "{}",
            c.why
        );
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
        assert!(c.why.blind, "{}", c.why);
        assert!(c.why.to_string().contains("without quota data"));
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
        assert_eq!(
            e.earliest,
            Some(Comeback {
                name: "work".into(),
                at: 7000
            })
        );
        let h = e.headline(1000);
        assert!(
            h.starts_with("all accounts blocked; earliest: work at "),
            "{h}"
        );
        assert!(h.ends_with("(in 1h 40m)"), "{h}");
        assert_eq!(e.accounts.len(), 3);
    }
}
