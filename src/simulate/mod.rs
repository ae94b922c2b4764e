//! `swop simulate`: replays a synthetic workload through the real selection
//! code ([`crate::select::select`], the function a launch calls) once per
//! strategy, and measures what each one costs: hours blocked, quota wasted
//! at resets, account switches, work done.
//!
//! Sits above select/ and usage/ (it builds their values) and below cli/.
//! Never touches the network, codex, the wall clock or a file: the caller
//! passes the start instant and the accounts, so a seed reproduces a run.
//!
//! The model, in 5-minute steps: each account has a weekly window (fixed
//! period, staggered resets) and a 5-hour window that starts with its first
//! use after the last one ended. Work is measured in plus-percent (1% of a
//! plus account's week); an account of capacity c spends 1/c of a weekly
//! percent per unit, and a full 5-hour window is [`FIVE_HOUR_SHARE`] of the
//! week. Arriving work joins a backlog; each step serves up to
//! [`PACE_FACTOR`] times the pool's sustainable hourly rate. A task is
//! served by the account `select` picks when it starts, and keeps it for
//! up to [`SESSION_SECS`] (picked again when that account runs out, when
//! the hour is over, or after a step without work).

pub mod spec;
pub mod workload;

use crate::config::{SelectionConfig, Strategy};
use crate::select::forecast::plan_capacity;
use crate::select::{self, Input, Policy};
use crate::usage::gather::{AccountState, Freshness};
use crate::usage::{Usage, Window};
use spec::AccountSpec;
use workload::Workload;

pub const STEP_SECS: i64 = 300;
const WEEK: i64 = 7 * 86_400;
const FIVE_HOURS: i64 = 5 * 3600;
/// A full 5-hour window spends this share of the weekly quota.
pub const FIVE_HOUR_SHARE: f64 = 0.15;
/// Backlog is served at up to this multiple of the pool's sustainable rate
/// (several sessions at once), so a backlog drains but not instantly.
pub const PACE_FACTOR: f64 = 4.0;
/// A task keeps its account (codex does not change accounts mid-session)
/// for up to this long, unless the account runs out first or work stops.
pub const SESSION_SECS: i64 = 3600;
const EPS: f64 = 1e-9;

pub struct Scenario {
    pub accounts: Vec<AccountSpec>,
    pub start: i64,
    pub days: u32,
    pub workload: Workload,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub strategy: Strategy,
    /// Hours in which work waited and no account was eligible.
    pub blocked_hours: f64,
    /// Quota that expired unused at weekly resets, % of all capacity the
    /// simulation had (what was left at the start plus each new window).
    pub wasted_percent: f64,
    pub switches_per_day: f64,
    /// Work served, % of work that arrived.
    pub work_done_percent: f64,
}

struct Acct {
    name: String,
    plan: String,
    cap: f64,
    weekly: f64,
    weekly_reset: i64,
    five: f64,
    five_reset: Option<i64>,
}

impl Acct {
    fn new(s: &AccountSpec, start: i64) -> Acct {
        Acct {
            name: s.name.clone(),
            plan: s.plan.clone(),
            cap: plan_capacity(Some(&s.plan)),
            weekly: s.weekly_used,
            weekly_reset: start + s.weekly_reset_in,
            five: s.five_hour_used,
            five_reset: s.five_hour_reset_in.map(|r| start + r),
        }
    }

    /// What the usage endpoint would say about this account now.
    fn state(&self) -> AccountState {
        let full = self.weekly >= 100.0 - EPS || self.five >= 100.0 - EPS;
        let usage = Usage {
            plan: Some(self.plan.clone()),
            allowed: Some(!full),
            limit_reached: Some(full),
            five_hour: Some(Window {
                used_percent: self.five,
                window_seconds: Some(FIVE_HOURS),
                reset_at: self.five_reset,
            }),
            weekly: Some(Window {
                used_percent: self.weekly,
                window_seconds: Some(WEEK),
                reset_at: Some(self.weekly_reset),
            }),
            ..Usage::default()
        };
        AccountState {
            name: self.name.clone(),
            usage: Some((usage, Freshness::Fresh)),
            dead: false,
            api_key: false,
            warning: None,
            cache: Default::default(),
        }
    }

    /// Work (plus-percent) this account can still take before a limit.
    fn room(&self) -> f64 {
        let weekly = 100.0 - self.weekly;
        let five = (100.0 - self.five) * FIVE_HOUR_SHARE;
        (weekly.min(five) * self.cap).max(0.0)
    }

    fn spend(&mut self, work: f64, now: i64) {
        if self.five_reset.is_none() {
            self.five_reset = Some(now + FIVE_HOURS);
        }
        let pct = work / self.cap;
        self.weekly = (self.weekly + pct).min(100.0);
        self.five = (self.five + pct / FIVE_HOUR_SHARE).min(100.0);
    }
}

/// Totals of one run, in plus-percent.
#[derive(Default)]
struct Tally {
    capacity: f64,
    wasted: f64,
    arrived: f64,
    done: f64,
    blocked_secs: f64,
    switches: u32,
}

/// Applies the resets due at `t`: an expiring weekly window's unused
/// quota is counted as wasted, and the new window as new capacity.
fn apply_resets(accts: &mut [Acct], t: i64, tally: &mut Tally) {
    for a in accts.iter_mut() {
        while a.weekly_reset <= t {
            tally.wasted += (100.0 - a.weekly).max(0.0) * a.cap;
            tally.capacity += 100.0 * a.cap;
            a.weekly = 0.0;
            a.weekly_reset += WEEK;
        }
        if a.five_reset.is_some_and(|r| r <= t) {
            a.five = 0.0;
            a.five_reset = None;
        }
    }
}

/// The account `select` picks now, or None when every account is blocked.
fn pick(accts: &[Acct], cfg: &SelectionConfig, now: i64) -> Option<usize> {
    let states: Vec<AccountState> = accts.iter().map(Acct::state).collect();
    let inputs = Input::idle(&states);
    let policy = Policy::placeless(cfg, &[], now);
    let choice = select::select(&inputs, &policy).ok()?;
    accts.iter().position(|a| a.name == choice.name)
}

/// Runs `demand` (plus-percent per step) through `strategy`.
pub fn run_with(sc: &Scenario, strategy: Strategy, demand: &[f64]) -> Outcome {
    let mut accts: Vec<Acct> = sc.accounts.iter().map(|s| Acct::new(s, sc.start)).collect();
    let cfg = SelectionConfig {
        strategy,
        order: accts.iter().map(|a| a.name.clone()).collect(),
        ..SelectionConfig::default()
    };
    let pool_week: f64 = accts.iter().map(|a| a.cap * 100.0).sum();
    let max_per_step = PACE_FACTOR * pool_week / 168.0 * STEP_SECS as f64 / 3600.0;
    let mut tally = Tally {
        capacity: accts.iter().map(|a| (100.0 - a.weekly) * a.cap).sum(),
        ..Tally::default()
    };
    let (mut backlog, mut last) = (0.0, None);
    // The account a running task is on, and until when it keeps it.
    let mut session: Option<(usize, i64)> = None;
    for (i, arriving) in demand.iter().enumerate() {
        let t = sc.start + i as i64 * STEP_SECS;
        apply_resets(&mut accts, t, &mut tally);
        tally.arrived += arriving;
        backlog += arriving;
        let budget = backlog.min(max_per_step);
        let mut left = budget;
        if budget <= EPS {
            session = None; // idle: the next work is a new task
        }
        for _ in 0..=accts.len() {
            if left <= EPS {
                break;
            }
            let k = match session {
                Some((k, until)) if t < until && accts[k].room() > EPS => k,
                _ => {
                    let Some(k) = pick(&accts, &cfg, t) else {
                        break;
                    };
                    session = Some((k, t + SESSION_SECS));
                    k
                }
            };
            let served = left.min(accts[k].room());
            if served <= EPS {
                break;
            }
            accts[k].spend(served, t);
            left -= served;
            if last.is_some_and(|l| l != k) {
                tally.switches += 1;
            }
            last = Some(k);
        }
        if left > EPS {
            tally.blocked_secs += STEP_SECS as f64 * left / budget;
        }
        tally.done += budget - left;
        backlog -= budget - left;
    }
    let days = demand.len() as f64 * STEP_SECS as f64 / 86_400.0;
    Outcome {
        strategy,
        blocked_hours: tally.blocked_secs / 3600.0,
        wasted_percent: pct(tally.wasted, tally.capacity),
        switches_per_day: if days > 0.0 {
            tally.switches as f64 / days
        } else {
            0.0
        },
        work_done_percent: if tally.arrived > 0.0 {
            pct(tally.done, tally.arrived)
        } else {
            100.0
        },
    }
}

fn pct(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        100.0 * part / whole
    } else {
        0.0
    }
}

/// The scenario's workload, step by step.
pub fn demand(sc: &Scenario) -> Vec<f64> {
    let steps = sc.days as usize * 86_400 / STEP_SECS as usize;
    let pool_week: f64 = sc
        .accounts
        .iter()
        .map(|a| plan_capacity(Some(&a.plan)) * 100.0)
        .sum();
    workload::series(sc.workload, sc.seed, sc.start, steps, STEP_SECS, pool_week)
}

/// Every strategy on the same workload.
pub fn run_all(sc: &Scenario) -> Vec<Outcome> {
    let d = demand(sc);
    Strategy::ALL.iter().map(|&s| run_with(sc, s, &d)).collect()
}

/// The best strategy: fewest blocked hours, then least waste, then fewest
/// switches (each to a tenth); a tie keeps the default, `lowest-weekly`.
pub fn recommend(outcomes: &[Outcome]) -> &Outcome {
    let tenth = |v: f64| (v * 10.0).round() as i64;
    outcomes
        .iter()
        .min_by_key(|o| {
            (
                tenth(o.blocked_hours),
                tenth(o.wasted_percent),
                tenth(o.switches_per_day),
                o.strategy != Strategy::LowestWeekly,
            )
        })
        .expect("at least one strategy")
}

#[cfg(test)]
mod tests;
