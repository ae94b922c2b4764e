//! Spending a limit-reset credit, guarded: what `swop redeem NAME` and a
//! launch that finds every account blocked (`[failover] redeem = "ask"`)
//! share. Before anything is spent the account's usage is read again from
//! the server (never from the cache: a credit spent on stale numbers is a
//! credit lost), and the person is told what will happen: credits left,
//! which limit it resets, and whether another account could run right now
//! (then a reset is almost certainly a waste).
//!
//! The spending itself is `usage::reset_credit` (through codex, one
//! idempotency key per attempt). Never asks the person: the callers do.

use crate::base::error::{exit, Error, Result};
use crate::base::term;
use crate::base::time;
use crate::config::RedeemPolicy;
use crate::launch::Pool;
use crate::select::{Blocked, Choice};
use crate::usage::cache::{self, Entry, Source};
use crate::usage::fetch::FetchContext;
use crate::usage::gather::{AccountState, Freshness};
use crate::usage::reset_credit::{self, Consumed, Outcome};
use crate::usage::{Usage, Window};
use std::time::Duration;

/// How many times one attempt is sent before swop gives up on an answer,
/// and the first pause between tries (doubled each time).
const TRIES: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// A reached limit that a reset would clear.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// "5-hour" or "weekly".
    pub which: &'static str,
    pub used: f64,
    pub reset_at: Option<i64>,
}

/// What spending a credit on `name` would do, from numbers read just now.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    /// Credits the server says the account has (None: it did not say).
    pub credits: Option<i64>,
    /// The windows at their limit (or at the configured max).
    pub limits: Vec<Limit>,
    /// The account is out although no window is full (another kind of
    /// limit, e.g. a workspace's credits): its name, when the server gave one.
    pub other_limit: Option<String>,
    /// Another account that a launch could use right now, and its weekly %.
    pub other_usable: Option<(String, Option<f64>)>,
}

impl Plan {
    /// Nothing is at a limit: the server will most likely answer that there
    /// is nothing to reset.
    pub fn nothing_reached(&self) -> bool {
        self.limits.is_empty() && self.other_limit.is_none()
    }

    /// The lines that tell the person what will happen.
    pub fn describe(&self, now: i64) -> (Vec<String>, Vec<String>) {
        let name = &self.name;
        let credits = match self.credits {
            Some(n) => term::plural_i64(n, "limit-reset credit", "limit-reset credits"),
            None => "an unknown number of limit-reset credits (the server did not say)".into(),
        };
        let mut notes = vec![format!("'{name}' has {credits} (numbers read just now)")];
        let mut warnings = Vec::new();
        for l in &self.limits {
            let when = l
                .reset_at
                .map(|t| format!(", which would otherwise reset {}", time::reset(t, now)))
                .unwrap_or_default();
            notes.push(format!(
                "spending one resets its {} limit ({:.0}% used{when})",
                l.which, l.used
            ));
        }
        if let Some(kind) = &self.other_limit {
            notes.push(format!(
                "spending one resets the limit it has reached ({})",
                crate::base::term::clean(kind)
            ));
        }
        if self.nothing_reached() {
            warnings.push(format!(
                "'{name}' is not at a limit now; the server will most likely answer that there is nothing to reset (nothing is spent then)"
            ));
        }
        if let Some((other, weekly)) = &self.other_usable {
            let w = weekly
                .map(|w| format!(" (weekly {w:.0}%)"))
                .unwrap_or_default();
            warnings.push(format!(
                "'{other}' is usable right now{w}: spending a credit now is almost certainly a waste"
            ));
        }
        (notes, warnings)
    }
}

/// `name`'s usage read from the server now (Retry-After honoured), never
/// from the cache; an error when no fresh numbers could be had.
pub fn fresh_state(pool: &Pool, name: &str) -> Result<AccountState> {
    let account = pool.account(name).clone();
    let before = time::now();
    let state = pool
        .states(std::slice::from_ref(&account), true)
        .pop()
        .expect("one account in, one out");
    if state.api_key {
        return Err(Error::new(format!(
            "'{name}' is an API-key login: limit-reset credits exist only for ChatGPT logins"
        ))
        .code(exit::USAGE));
    }
    if state.dead {
        return Err(Error::new(format!("the session of '{name}' has expired"))
            .help(format!("log in again: swop relogin {name}"))
            .code(exit::LOGIN_NEEDED));
    }
    let fresh = matches!(state.usage, Some((_, Freshness::Fresh)))
        && state.cache.taken_at.is_some_and(|t| t >= before);
    if !fresh {
        let why = state
            .warning
            .clone()
            .or(state.cache.last_error.clone())
            .unwrap_or_else(|| "no answer".into());
        return Err(Error::new(format!(
            "cannot read the usage of '{name}' right now ({why}); not spending a credit on old numbers"
        ))
        .help(format!("try again in a moment: swop redeem {name}")));
    }
    Ok(state)
}

/// The plan for `fresh` (read just now) among the other accounts' `states`.
pub fn plan(pool: &Pool, fresh: &AccountState, states: &[AccountState]) -> Plan {
    let u = fresh.usage.as_ref().map(|(u, _)| u);
    let sel = &pool.cfg.selection;
    let at_limit = |w: &Option<Window>, max: f64, which| {
        w.as_ref()
            .filter(|w| w.used_percent >= max.min(100.0))
            .map(|w| Limit {
                which,
                used: w.used_percent,
                reset_at: w.reset_at,
            })
    };
    let limits: Vec<Limit> = u
        .map(|u| {
            [
                at_limit(&u.five_hour, sel.max_5h_percent, "5-hour"),
                at_limit(&u.weekly, sel.max_weekly_percent, "weekly"),
            ]
            .into_iter()
            .flatten()
            .collect()
        })
        .unwrap_or_default();
    let other_limit = u.filter(|u| limits.is_empty() && u.is_limited()).map(|u| {
        u.reached_type
            .clone()
            .unwrap_or_else(|| "a usage limit".into())
    });
    // Whether a launch would find another account, SWOP_ACCOUNT aside.
    let mut unforced = pool.clone();
    unforced.ctx.env.remove("SWOP_ACCOUNT");
    let mut all: Vec<AccountState> = states.to_vec();
    match all.iter_mut().find(|s| s.name == fresh.name) {
        Some(s) => *s = fresh.clone(),
        None => all.push(fresh.clone()),
    }
    let other_usable = unforced
        .choose(&all, std::slice::from_ref(&fresh.name))
        .ok()
        .filter(|c| !c.without_data)
        .map(|c| {
            let weekly = all
                .iter()
                .find(|s| s.name == c.name)
                .and_then(|s| s.usage.as_ref())
                .and_then(|(u, _)| u.weekly_used());
            (c.name, weekly)
        });
    Plan {
        name: fresh.name.clone(),
        credits: u.and_then(|u| u.reset_credits),
        limits,
        other_limit,
        other_usable,
    }
}

/// What one spend did.
#[derive(Debug)]
pub struct Spent {
    pub outcome: Outcome,
    /// The account's numbers right after a reset, when codex could read them.
    pub after: Option<Usage>,
    /// This attempt was begun earlier and its answer lost: its key was sent
    /// again.
    pub retried: bool,
}

/// Spends one credit of `name` (the caller holds `reset_credit::lock` and
/// has the person's yes). A reset updates the usage cache with the numbers
/// codex read right after it (or marks it stale), so the next launch sees it.
pub fn spend(pool: &Pool, name: &str) -> Result<Spent> {
    let now = time::now();
    let (key, retried) = reset_credit::attempt_key(&pool.paths, name, now)?;
    let account = pool.account(name);
    let ctx = FetchContext {
        base_url: &pool.cfg.usage.base_url,
        timeout: pool.cfg.usage.timeout,
        codex: &pool.codex,
        now,
    };
    match reset_credit::consume(&account.home, &ctx, &key, TRIES, FIRST_PAUSE) {
        Consumed::Answered { outcome, after } => {
            reset_credit::settle(&pool.paths, name);
            if outcome.reset() {
                remember(pool, name, after.as_ref(), time::now());
            }
            Ok(Spent {
                outcome,
                after,
                retried,
            })
        }
        Consumed::Dead => {
            let _ = cache::mark_dead(&pool.paths, name, time::now());
            Err(Error::new(format!(
                "the session of '{name}' has expired and codex could not refresh it; nothing was spent"
            ))
            .help(format!("log in again: swop relogin {name}"))
            .code(exit::LOGIN_NEEDED))
        }
        Consumed::Failed(why) => Err(Error::new(format!(
            "no answer about the limit reset of '{name}' after {TRIES} tries (last: {why}); a credit may or may not have been spent"
        ))
        .help(format!(
            "run `swop redeem {name}` again: it repeats this same request, which can never spend a second credit"
        ))),
    }
}

/// The numbers after a reset become the account's cache entry; without
/// them the entry is marked stale so the next launch asks again.
fn remember(pool: &Pool, name: &str, after: Option<&Usage>, now: i64) {
    let stored = after.is_some_and(|u| {
        let entry = Entry {
            fetched_at: now,
            usage: Some(u.clone()),
            source: Some(Source::Server),
            attempted_ms: now.saturating_mul(1000),
            ..Entry::default()
        };
        cache::store(&pool.paths, name, &entry).is_ok()
    });
    if !stored {
        let _ = cache::invalidate(&pool.paths, name);
    }
}

/// When a launch finds every account blocked and `[failover] redeem =
/// "ask"`: on a terminal, offers to spend a credit of the blocked account
/// that would otherwise wait longest (only one that has credits), after
/// reading its numbers again. On a yes and a reset: the pick that follows,
/// on the numbers read right after it (`states` updated). None: no offer,
/// a no, or nothing reset; the launch then ends blocked.
pub fn offer(
    pool: &Pool,
    states: &mut [AccountState],
    blocked: &Blocked,
) -> Result<Option<Choice>> {
    if pool.cfg.failover.redeem != RedeemPolicy::Ask || !pool.interactive() {
        return Ok(None);
    }
    let Some((name, _)) = blocked.redeemable.first() else {
        return Ok(None);
    };
    let name = name.clone();
    // Held from the fresh read to the answer: one attempt at a time.
    let locked = reset_credit::lock(&pool.paths, &name)
        .and_then(|lock| Ok((lock, fresh_state(pool, &name)?)));
    let (_attempt, fresh) = match locked {
        Ok(v) => v,
        Err(e) => {
            term::warn(&format!("not offering a limit reset: {}", e.message));
            return Ok(None);
        }
    };
    put(states, fresh.clone());
    if let Ok(c) = pool.choose(states, &[]) {
        return Ok(Some(c)); // the numbers read just now let it run
    }
    let plan = plan(pool, &fresh, states);
    if plan.credits == Some(0) {
        return Ok(None);
    }
    let now = time::now();
    term::warn(&blocked.headline(now));
    let (notes, warnings) = plan.describe(now);
    notes.iter().for_each(|n| term::note(n));
    warnings.iter().for_each(|w| term::warn(w));
    let ask = format!("Spend one limit-reset credit of '{name}' and run codex on it now?");
    if !term::confirm_strict(&ask) {
        return Ok(None);
    }
    let spent = spend(pool, &name)?;
    term::note(&outcome_line(&name, &spent));
    if !spent.outcome.reset() {
        return Ok(None);
    }
    match spent.after {
        Some(u) => {
            let mut state = fresh;
            state.usage = Some((u, Freshness::Fresh));
            put(states, state);
        }
        None => {
            let account = pool.account(&name).clone();
            if let Some(s) = pool.states(&[account], true).pop() {
                put(states, s);
            }
        }
    }
    Ok(pool.choose(states, &[]).ok())
}

fn put(states: &mut [AccountState], state: AccountState) {
    if let Some(s) = states.iter_mut().find(|s| s.name == state.name) {
        *s = state;
    }
}

/// One line for what the server answered.
pub fn outcome_line(name: &str, s: &Spent) -> String {
    let after = s
        .after
        .as_ref()
        .map(|u| {
            let pct = |w: Option<f64>| w.map(|w| format!("{w:.0}%")).unwrap_or_else(|| "?".into());
            let left = u
                .reset_credits
                .map(|n| format!("; {} left", term::plural_i64(n, "credit", "credits")))
                .unwrap_or_default();
            format!(
                " (now 5h {}, weekly {}{left})",
                pct(u.five_hour_used()),
                pct(u.weekly_used())
            )
        })
        .unwrap_or_default();
    let again = if s.retried && s.outcome != Outcome::AlreadyRedeemed {
        " (this repeated an earlier request whose answer was lost)"
    } else {
        ""
    };
    let line = match s.outcome {
        Outcome::Reset => format!("reset the limit of '{name}' with one limit-reset credit{after}"),
        Outcome::AlreadyRedeemed => format!(
            "the limit of '{name}' was already reset by an earlier try of this same request, whose answer was lost; no second credit was spent{after}"
        ),
        Outcome::NothingToReset => format!(
            "nothing to reset on '{name}': no limit of it is at a point the server resets; no credit was spent"
        ),
        Outcome::NoCredit => {
            format!("'{name}' has no limit-reset credit left; nothing was spent")
        }
    };
    line + again
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(limits: Vec<Limit>, other: Option<(&str, Option<f64>)>) -> Plan {
        Plan {
            name: "work".into(),
            credits: Some(2),
            limits,
            other_limit: None,
            other_usable: other.map(|(n, w)| (n.to_string(), w)),
        }
    }

    #[test]
    fn the_plan_says_what_a_credit_would_do() {
        let weekly = Limit {
            which: "weekly",
            used: 100.0,
            reset_at: Some(1000 + 7200),
        };
        let (notes, warnings) = plan_with(vec![weekly], None).describe(1000);
        assert_eq!(
            notes[0],
            "'work' has 2 limit-reset credits (numbers read just now)"
        );
        assert!(
            notes[1].starts_with(
                "spending one resets its weekly limit (100% used, which would otherwise reset "
            ),
            "{notes:?}"
        );
        assert!(notes[1].ends_with("(in 2h))"), "{notes:?}");
        assert!(warnings.is_empty());
        let (_, warnings) = plan_with(vec![], Some(("home", Some(20.0)))).describe(1000);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("nothing to reset"));
        assert_eq!(
            warnings[1],
            "'home' is usable right now (weekly 20%): spending a credit now is almost certainly a waste"
        );
    }

    #[test]
    fn each_outcome_has_its_own_words() {
        let s = |outcome| Spent {
            outcome,
            after: None,
            retried: false,
        };
        let words: Vec<String> = [
            Outcome::Reset,
            Outcome::AlreadyRedeemed,
            Outcome::NothingToReset,
            Outcome::NoCredit,
        ]
        .into_iter()
        .map(|o| outcome_line("w", &s(o)))
        .collect();
        assert!(words[0].starts_with("reset the limit of 'w'"));
        assert!(words[1].contains("no second credit was spent"));
        assert!(words[2].contains("no credit was spent"));
        assert!(words[3].contains("nothing was spent"));
    }
}
