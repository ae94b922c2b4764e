//! The selection policy: a pure function of (accounts, usage, policy, current
//! directory, now) returning the choice and the reasons. No I/O here; the
//! shim, `swop pick` and `swop status` all call [`select`].
//!
//! Must never read the clock, the environment or a file: everything it
//! decides on comes in through [`Input`] and [`Policy`].

pub mod forecast;
mod reason;

pub use crate::accounts::disabled::Disabled;
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
    /// `swop disable`: out of automatic picks (SWOP_ACCOUNT still wins).
    pub disabled: &'a [Disabled],
    pub now: i64,
}

impl<'a> Policy<'a> {
    /// The policy with no place in it: nothing forced, no directory rule
    /// applies (status's verdicts, the simulator).
    pub fn placeless(cfg: &'a SelectionConfig, disabled: &'a [Disabled], now: i64) -> Policy<'a> {
        Policy {
            cfg,
            forced: None,
            cwd: Path::new("/"),
            home: None,
            disabled,
            now,
        }
    }
}

/// One account as the policy sees it.
pub struct Input<'a> {
    pub state: &'a AccountState,
    pub live: usize,
}

impl<'a> Input<'a> {
    /// Each of `states` with no live session counted.
    pub fn idle(states: &'a [AccountState]) -> Vec<Input<'a>> {
        states
            .iter()
            .map(|state| Input { state, live: 0 })
            .collect()
    }
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
    /// Accounts out for a usage limit that hold limit-reset credits (name,
    /// how many), the one that would wait longest first: `swop redeem NAME`
    /// brings one back at once.
    pub redeemable: Vec<(String, i64)>,
    /// Whether `[selection] reserve` names an account (then it is blocked
    /// too, and listed in `accounts`).
    pub has_reserve: bool,
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

    /// The ways out that apply, one line each: wait for the reset, spend a
    /// limit-reset credit, a reserve account, force one.
    pub fn ways_out(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.earliest {
            Some(c) => out.push(format!(
                "wait: `swop wait && codex ...` starts once '{}' is usable again",
                c.name
            )),
            None => out.push(
                "wait: `swop wait && codex ...` starts once an account is usable again".into(),
            ),
        }
        if let Some((name, n)) = self.redeemable.first() {
            out.push(format!(
                "or reset a limit now with one of its {}: swop redeem {name}",
                crate::base::term::plural_i64(*n, "limit-reset credit", "limit-reset credits")
            ));
        }
        if !self.has_reserve {
            out.push(
                "or keep a reserve for this: [selection] reserve = [\"NAME\"] in swop.toml, e.g. an API-key login (swop add NAME -- --with-api-key)".into(),
            );
        }
        out.push("or force one: SWOP_ACCOUNT=NAME codex ...".into());
        out
    }

    /// The error a launch or `swop pick` ends with: each account's reason,
    /// and the fix that applies (log in again, or the ways out).
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
            .help(self.ways_out().join("\n  "))
            .code(exit::ALL_BLOCKED)
    }
}

enum Verdict {
    Eligible,
    /// Eligible only as a last resort: usage unknown.
    Unknown(Reason),
    Blocked(Reason, Option<i64>),
}

/// Why each account cannot be picked now, and when it can again; None when
/// it can be. (Unknown usage is reported too: it is usable only when no
/// account has numbers, which [`select`] decides; a reserve account is out,
/// [`Reason::Reserve`], while another account can be used.) What `status`
/// shows.
pub fn judge_all(
    states: &[AccountState],
    cfg: &SelectionConfig,
    disabled: &[Disabled],
    now: i64,
) -> Vec<Option<Unusable>> {
    let inputs = Input::idle(states);
    let policy = Policy::placeless(cfg, disabled, now);
    let table = Table::new(&inputs, &policy);
    (0..inputs.len()).map(|k| table.unusable(k)).collect()
}

fn verdict(s: &AccountState, cfg: &SelectionConfig, disabled: &[Disabled], now: i64) -> Verdict {
    if let Some(d) = disabled
        .iter()
        .find(|d| d.name == s.name && d.until.is_none_or(|t| t > now))
    {
        return Verdict::Blocked(Reason::Disabled, d.until);
    }
    if cfg.exclude.contains(&s.name) {
        return Verdict::Blocked(Reason::Excluded, None);
    }
    if s.dead {
        return Verdict::Blocked(Reason::SessionExpired, None);
    }
    let Some((u, _)) = &s.usage else {
        return Verdict::Unknown(if s.api_key {
            Reason::ApiKeyLogin
        } else if s.login_rejected() {
            Reason::LoginRejected
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

/// The default strategy: lowest weekly, then lower 5-hour, sooner weekly
/// reset, fewer live sessions, name (the weekly limit is the one that
/// blocks for days; the others only break ties).
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

/// A 5-hour window at or above this is nearly spent: reset-aware moves on
/// before the limit interrupts a task.
pub const FIVE_HOUR_GUARD: f64 = 90.0;

/// reset-aware: spend first the weekly quota that expires first (the
/// soonest weekly reset), passing over accounts whose 5-hour window is at
/// or above [`FIVE_HOUR_GUARD`] while another has room. `pool` is usable
/// accounts in lowest-weekly order, which breaks ties.
fn reset_aware(pool: &[usize], inputs: &[Input], now: i64) -> (usize, Basis) {
    let u = |k: usize| usage_of(&inputs[k]);
    let five_full =
        |k: usize| u(k).and_then(Usage::five_hour_used).unwrap_or(0.0) >= FIVE_HOUR_GUARD;
    let reset = |k: usize| u(k).and_then(Usage::weekly_reset).unwrap_or(i64::MAX);
    let k = *pool
        .iter()
        .min_by_key(|&&k| (five_full(k), reset(k)))
        .expect("pool not empty");
    let why = Basis::ResetAware {
        reset: u(k).and_then(Usage::weekly_reset),
        weekly: u(k).and_then(Usage::weekly_used),
        now,
    };
    (k, why)
}

fn expand(dir: &str, home: Option<&Path>) -> PathBuf {
    match (dir.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ if dir == "~" && home.is_some() => home.unwrap().to_path_buf(),
        _ => PathBuf::from(dir),
    }
}

/// The verdicts over all inputs, and the helpers every step of [`select`]
/// shares. Accounts come in two tiers: the regular ones, and the reserve
/// (`[selection] reserve`), usable only when no regular account is.
struct Table<'i, 'a> {
    inputs: &'i [Input<'a>],
    verdicts: Vec<Verdict>,
    reserve: Vec<bool>,
    /// Per tier (regular, reserve): an account of it has good numbers.
    known_good: [bool; 2],
    /// A regular account can be used: the reserve is held back.
    regular_usable: bool,
    now: i64,
}

impl<'i, 'a> Table<'i, 'a> {
    fn new(inputs: &'i [Input<'a>], policy: &Policy) -> Self {
        let (cfg, now) = (policy.cfg, policy.now);
        let verdicts: Vec<Verdict> = inputs
            .iter()
            .map(|i| verdict(i.state, cfg, policy.disabled, now))
            .collect();
        let reserve: Vec<bool> = inputs
            .iter()
            .map(|i| cfg.reserve.contains(&i.state.name))
            .collect();
        let good_in = |tier: bool| {
            (0..inputs.len())
                .any(|k| reserve[k] == tier && matches!(verdicts[k], Verdict::Eligible))
        };
        let known_good = [good_in(false), good_in(true)];
        let mut table = Table {
            inputs,
            verdicts,
            known_good,
            reserve,
            regular_usable: false,
            now,
        };
        table.regular_usable = (0..inputs.len()).any(|k| !table.reserve[k] && table.tier_usable(k));
        table
    }

    fn name(&self, k: usize) -> &str {
        &self.inputs[k].state.name
    }

    fn weekly(&self, k: usize) -> Option<f64> {
        usage_of(&self.inputs[k]).and_then(Usage::weekly_used)
    }

    /// Usable within its own tier: eligible, or without numbers while no
    /// account of the tier has good ones.
    fn tier_usable(&self, k: usize) -> bool {
        match &self.verdicts[k] {
            Verdict::Eligible => true,
            Verdict::Unknown(_) => !self.known_good[usize::from(self.reserve[k])],
            Verdict::Blocked(..) => false,
        }
    }

    /// A reserve account kept back while a regular account can run (one
    /// blocked on its own, by a limit, a login or the person, says so
    /// instead).
    fn held_back(&self, k: usize) -> bool {
        self.reserve[k] && self.regular_usable && !matches!(self.verdicts[k], Verdict::Blocked(..))
    }

    fn usable(&self, k: usize) -> bool {
        self.tier_usable(k) && !self.held_back(k)
    }

    fn unusable(&self, k: usize) -> Option<Unusable> {
        let (reason, until) = match &self.verdicts[k] {
            _ if self.held_back(k) => (Reason::Reserve, None),
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
                _ if self.held_back(k) => Passed::Unusable(self.unusable(k).expect("held back")),
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
        let mut passed = self.passed(k);
        if matches!(why, Basis::Forced | Basis::DirRule { .. }) {
            // Nothing was weighed: a usable account was not passed over,
            // it was simply not the one named. Only the unusable ones
            // have something true to say.
            passed.retain(|p| !matches!(p, Passed::Eligible { .. }));
        }
        Choice {
            name: self.name(k).to_string(),
            why: Pick {
                basis: why,
                stale_for,
                blind: blind && without_data,
            },
            passed,
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
        // Out for a usage limit (not disabled, expired, ...), with credits;
        // the longest wait first (unknown counts as longest).
        let mut redeemable: Vec<(Option<i64>, String, i64)> = accounts
            .iter()
            .filter(|u| u.reason.is_usage_limit())
            .filter_map(|u| {
                let k = self.inputs.iter().position(|i| i.state.name == u.name)?;
                let n = usage_of(&self.inputs[k])?
                    .reset_credits
                    .filter(|&n| n > 0)?;
                Some((u.until, u.name.clone(), n))
            })
            .collect();
        redeemable.sort_by(|a, b| {
            let wait = |t: Option<i64>| t.unwrap_or(i64::MAX);
            wait(b.0).cmp(&wait(a.0)).then(a.1.cmp(&b.1))
        });
        Blocked {
            accounts,
            earliest,
            redeemable: redeemable.into_iter().map(|(_, n, c)| (n, c)).collect(),
            has_reserve: self.reserve.iter().any(|&r| r),
        }
    }
}

pub fn select(inputs: &[Input], policy: &Policy) -> Result<Choice, Blocked> {
    let cfg = policy.cfg;
    let table = Table::new(inputs, policy);
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
        Strategy::ResetAware => reset_aware(pool, inputs, table.now),
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

    fn state(name: &str, weekly: Option<f64>, five: f64, reset: i64) -> AccountState {
        match weekly {
            Some(w) => AccountState::plus_for_tests(name, (w, reset), (five, reset - 1000), false),
            None => AccountState {
                name: name.into(),
                ..AccountState::default()
            },
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
                disabled: &[],
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

    /// a, b and c with their weekly windows resetting last, first and in
    /// between (b at 50% weekly and `b_five`% 5-hour).
    fn staggered(b_five: f64) -> [AccountState; 3] {
        [
            state("a", Some(10.0), 0.0, 9000),
            state("b", Some(50.0), b_five, 3000),
            state("c", Some(30.0), 0.0, 6000),
        ]
    }

    fn with_strategy(strategy: Strategy) -> SelectionConfig {
        SelectionConfig {
            strategy,
            ..Default::default()
        }
    }

    /// [`select`] with `live[i]` sessions running on `states[i]`.
    fn select_live(
        states: &[AccountState],
        live: &[usize],
        cfg: &SelectionConfig,
    ) -> Result<Choice, Blocked> {
        let inputs: Vec<Input> = states
            .iter()
            .zip(live)
            .map(|(state, &live)| Input { state, live })
            .collect();
        let p = Policy {
            cfg,
            forced: None,
            cwd: Path::new("/"),
            home: None,
            disabled: &[],
            now: 0,
        };
        select(&inputs, &p)
    }

    #[test]
    fn live_sessions_break_ties_only() {
        let cfg = SelectionConfig::default();
        let s = [
            state("a", Some(10.0), 20.0, 5000),
            state("b", Some(10.0), 20.0, 5000),
        ];
        assert_eq!(select_live(&s, &[2, 0], &cfg).unwrap().name, "b");
        let s = [
            state("a", Some(10.0), 20.0, 5000),
            state("b", Some(11.0), 20.0, 5000),
        ];
        assert_eq!(select_live(&s, &[5, 0], &cfg).unwrap().name, "a");
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
        let c = select_live(&s, &[1, 0, 0], &cfg).unwrap();
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
        let s = staggered(0.0);
        let cfg = SelectionConfig {
            strategy: Strategy::Ordered,
            order: vec!["c".into(), "a".into()],
            ..Default::default()
        };
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "c");
        let cfg = with_strategy(Strategy::Drain);
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "b");
        assert!(
            matches!(c.why.basis, Basis::Drain { reset: Some(_), .. }),
            "{}",
            c.why
        );
    }

    #[test]
    fn reset_aware_spends_the_soonest_reset_unless_its_5h_is_nearly_full() {
        let s = staggered(95.0);
        let cfg = with_strategy(Strategy::ResetAware);
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "c", "b's 5-hour window is at 95%");
        assert!(matches!(
            c.why.basis,
            Basis::ResetAware {
                reset: Some(6000),
                ..
            }
        ));
        assert!(
            c.why
                .to_string()
                .starts_with("reset-aware: its 70% left expires first"),
            "{}",
            c.why
        );
        let mut all_full = s.clone();
        for k in [0, 2] {
            let five = all_full[k].usage.as_mut().unwrap().0.five_hour.as_mut();
            five.unwrap().used_percent = 99.0;
        }
        assert_eq!(pick_with(&all_full, &cfg, None, "/").unwrap().name, "b");
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
        // A usable account is not "passed over" by a forced pick: nothing
        // was weighed.
        assert!(c.passed.is_empty(), "{:?}", c.passed);
        s[1].dead = false;
        s[0].dead = true;
        let c = pick_with(&s, &SelectionConfig::default(), Some("b"), "/").unwrap();
        assert_eq!(c.passed.len(), 1, "the unusable one still says why");
        assert_eq!(c.passed[0].name(), "a");
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

    #[test]
    fn disabled_is_skipped_until_its_time_but_forced_still_wins() {
        let s = [
            state("a", Some(10.0), 0.0, 9000),
            state("b", Some(50.0), 0.0, 3000),
        ];
        let cfg = SelectionConfig::default();
        let pick_at = |disabled: &[Disabled], forced: Option<&str>, now: i64| {
            let inputs: Vec<Input> = s.iter().map(|s| Input { state: s, live: 0 }).collect();
            select(
                &inputs,
                &Policy {
                    cfg: &cfg,
                    forced,
                    cwd: Path::new("/"),
                    home: None,
                    disabled,
                    now,
                },
            )
        };
        let forever = [Disabled {
            name: "a".into(),
            until: None,
        }];
        let c = pick_at(&forever, None, 1000).unwrap();
        assert_eq!(c.name, "b");
        assert_eq!(c.passed[0].to_string(), "disabled (swop enable a)");
        assert_eq!(pick_at(&forever, Some("a"), 1000).unwrap().name, "a");
        let for_a_while = [Disabled {
            name: "a".into(),
            until: Some(2000),
        }];
        assert_eq!(pick_at(&for_a_while, None, 1000).unwrap().name, "b");
        assert_eq!(pick_at(&for_a_while, None, 2000).unwrap().name, "a");
    }

    fn limited(name: &str, reset: i64, credits: Option<i64>) -> AccountState {
        let mut s = state(name, Some(100.0), 0.0, reset);
        let u = &mut s.usage.as_mut().unwrap().0;
        u.limit_reached = Some(true);
        u.reset_credits = credits;
        s
    }

    fn api_key(name: &str) -> AccountState {
        AccountState {
            api_key: true,
            ..state(name, None, 0.0, 0)
        }
    }

    #[test]
    fn a_reserve_is_never_picked_while_another_account_can_run() {
        let cfg = SelectionConfig {
            reserve: vec!["key".into(), "pro".into()],
            ..SelectionConfig::default()
        };
        // The reserve has the lowest usage, and one has no numbers at all:
        // neither matters while 'a' can run.
        let s = [
            state("a", Some(80.0), 0.0, 9000),
            state("pro", Some(1.0), 0.0, 9000),
            api_key("key"),
        ];
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "a");
        assert_eq!(
            c.passed[0].to_string(),
            "reserve (used only when every other account is blocked)"
        );
        let s = [state("a", Some(80.0), 0.0, 9000), api_key("key")];
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "a");
        assert_eq!(c.passed[0].name(), "key");
        assert!(c.passed[0].to_string().starts_with("reserve"));
        // A regular account without numbers still comes before the reserve.
        let s = [state("a", None, 0.0, 0), state("pro", Some(1.0), 0.0, 9000)];
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "a");
        let judged = judge_all(&s, &cfg, &[], 1000);
        assert_eq!(judged[1].as_ref().unwrap().reason, Reason::Reserve);
        // SWOP_ACCOUNT still forces a reserve.
        let s = [state("a", Some(80.0), 0.0, 9000), api_key("key")];
        assert_eq!(pick_with(&s, &cfg, Some("key"), "/").unwrap().name, "key");
    }

    #[test]
    fn a_reserve_is_picked_when_every_other_account_is_blocked() {
        let cfg = SelectionConfig {
            reserve: vec!["key".into(), "pro".into()],
            ..SelectionConfig::default()
        };
        let s = [limited("a", 7000, None), api_key("key")];
        let c = pick_with(&s, &cfg, None, "/").unwrap();
        assert_eq!(c.name, "key");
        // Among reserves, good numbers first, as among regular accounts.
        let s = [
            limited("a", 7000, None),
            api_key("key"),
            state("pro", Some(50.0), 0.0, 9000),
        ];
        assert_eq!(pick_with(&s, &cfg, None, "/").unwrap().name, "pro");
        assert!(judge_all(&s, &cfg, &[], 1000)[2].is_none());
        // Every reserve blocked too: blocked, and the message says so.
        let s = [limited("a", 7000, None), limited("pro", 8000, None)];
        let b = pick_with(&s, &cfg, None, "/").unwrap_err();
        assert!(b.has_reserve);
        assert!(!b.ways_out().join("\n").contains("[selection] reserve"));
    }

    #[test]
    fn all_blocked_names_the_ways_out_that_apply() {
        let s = [
            limited("soon", 2000, Some(1)),
            limited("late", 9000, Some(2)),
            limited("none", 5000, Some(0)),
        ];
        let b = pick_with(&s, &SelectionConfig::default(), None, "/").unwrap_err();
        assert_eq!(
            b.redeemable,
            [("late".to_string(), 2), ("soon".to_string(), 1)],
            "the longest wait first; no credit, no entry"
        );
        let e = b.error(1000);
        assert_eq!(e.code, exit::ALL_BLOCKED);
        let help = e.help.unwrap();
        assert!(help.contains("swop wait && codex ..."), "{help}");
        assert!(help.contains("'soon' is usable again"), "{help}");
        assert!(help.contains("swop redeem late"), "{help}");
        assert!(help.contains("[selection] reserve"), "{help}");
        assert!(help.contains("SWOP_ACCOUNT=NAME"), "{help}");
        // Without credits, no redeem line.
        let s = [limited("a", 2000, None)];
        let b = pick_with(&s, &SelectionConfig::default(), None, "/").unwrap_err();
        assert!(!b.error(1000).help.unwrap().contains("redeem"));
    }

    #[test]
    fn judge_says_which_reset_brings_an_account_back() {
        let cfg = SelectionConfig::default();
        let judge_at =
            |s: &AccountState| judge_all(std::slice::from_ref(s), &cfg, &[], 1000)[0].clone();
        assert_eq!(judge_at(&state("a", Some(10.0), 0.0, 9000)), None);
        // A 5-hour block comes back at the 5-hour reset, not the weekly one.
        let mut five = state("a", Some(10.0), 100.0, 9000);
        five.usage.as_mut().unwrap().0.allowed = Some(false);
        let u = judge_at(&five).unwrap();
        assert_eq!(u.reason, Reason::NotAllowed);
        assert_eq!(u.until, Some(8000));
        let mut week = state("a", Some(100.0), 0.0, 9000);
        week.usage.as_mut().unwrap().0.limit_reached = Some(true);
        assert_eq!(judge_at(&week).unwrap().until, Some(9000));
        assert_eq!(
            judge_at(&state("a", None, 0.0, 0)).unwrap().reason,
            Reason::UsageUnavailable
        );
    }
}
