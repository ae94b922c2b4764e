//! Failover after codex exits (the in-turn kind is `relay::reroute`):
//! when codex exits non-zero and its account is now exhausted, or an
//! interactive session ends (any exit code) after its rollout recorded a
//! usage limit during this run, find the session that run created or
//! resumed, and continue it on the next eligible account (`codex resume ID`
//! for interactive runs, `codex exec resume ID PROMPT` for exec runs), after
//! asking, automatically, or not at all, per `[failover] mode`. The launch
//! loop calls this at most once per account, so it never loops.

use crate::accounts::rollouts::run::{RunFile, Written};
use crate::accounts::Account;
use crate::base::error::Result;
use crate::base::term;
use crate::base::time;
use crate::config::FailoverMode;
use crate::launch::argv::{self, continuation, continue_hint};
use crate::launch::Pool;
use crate::select::Choice;
use crate::usage::gather::AccountState;
use std::ffi::OsString;

/// Which window ran out on `account`, and when it resets: "work hit its
/// weekly limit (resets Fri 28 Nov 10:00)".
fn limit_headline(account: &Account, state: &AccountState) -> String {
    let usage = state.usage.as_ref().map(|(u, _)| u);
    let out = |w: Option<f64>| w.is_some_and(|w| w >= 100.0);
    let weekly_out = out(usage.and_then(|u| u.weekly_used()));
    let five_out = out(usage.and_then(|u| u.five_hour_used()));
    let (which, reset) = if five_out && !weekly_out {
        let reset = usage
            .and_then(|u| u.five_hour.as_ref())
            .and_then(|w| w.reset_at);
        ("5-hour", reset)
    } else {
        ("weekly", usage.and_then(|u| u.weekly_reset()))
    };
    let resets = reset
        .map(|t| format!(" (resets {})", time::wall(t)))
        .unwrap_or_default();
    format!("{} hit its {which} limit{resets}", account.name)
}

/// The session file this run of `account` worked in (in the launch's cwd),
/// among those `written` found.
fn session<'a>(pool: &Pool, account: &Account, written: &'a Written) -> Option<&'a RunFile> {
    let id = account.identity();
    let owner = id.user_id.as_deref().zip(id.account_id.as_deref());
    written.session(owner, &pool.ctx.cwd)
}

/// After an interactive session ended (any exit code; the TUI stays open on
/// a usage limit and `/quit` exits 0): the thread id when that session, run
/// on `account`, hit a usage limit during the run per its rollout (only
/// what the run appended is read). None for `codex exec` and other runs,
/// which fail over on a non-zero exit instead.
pub fn interactive_limit_hit(
    pool: &Pool,
    account: &Account,
    args: &[OsString],
    written: &Written,
) -> Option<String> {
    let class = argv::class(args);
    if class.mode != argv::Mode::Interactive || !class.continuable {
        return None;
    }
    let file = session(pool, account, written)?;
    file.scan().limit_hit.then(|| file.id.clone())
}

/// The run that just ended on an account that is now out.
pub struct Ended<'a> {
    pub account: &'a Account,
    /// The account's numbers read right after the run.
    pub state: &'a AccountState,
    /// The arguments codex ran with.
    pub args: &'a [OsString],
    /// The session files the run wrote.
    pub written: &'a Written,
}

/// After `ended` ran out: picks the next account (among `states`, never one
/// of `used`), says so and, per `[failover] mode`, asks (on a terminal),
/// goes on by itself, or only says how to. `Some` = run again with this
/// choice and these arguments; None when everything is blocked or the
/// person said no (what to do instead has been said).
pub fn ask_to_continue_elsewhere(
    pool: &Pool,
    ended: &Ended,
    states: &[AccountState],
    used: &[String],
) -> Result<Option<(Choice, Vec<OsString>)>> {
    let (account, args) = (ended.account, ended.args);
    // `codex review` and the like are run again, not continued.
    let id = argv::class(args)
        .continuable
        .then(|| session(pool, account, ended.written).map(|f| f.id.clone()))
        .flatten();
    let headline = limit_headline(account, ended.state);
    let resume_cmd = id.as_ref().map(|id| continue_hint(args, id));
    let next = match pool.choose(states, used) {
        Ok(c) => c,
        Err(blocked) => {
            let mut msg = format!("{headline}; {}", blocked.headline(crate::base::time::now()));
            if let Some(cmd) = &resume_cmd {
                msg.push_str(&format!("; session to resume later: {cmd}"));
            }
            // The ways out: wait for the reset, or a limit-reset credit.
            msg.push_str("; `swop wait` returns once an account is usable");
            if let Some((name, _)) = blocked.redeemable.first() {
                msg.push_str(&format!(", or reset one now: swop redeem {name}"));
            }
            term::warn(&msg);
            return Ok(None);
        }
    };
    let what = if id.is_some() {
        "this session"
    } else {
        "this command"
    };
    if !confirmed(pool, &headline, what, &next, states) {
        let how = match &resume_cmd {
            Some(cmd) => format!("to continue on another account run: {cmd}"),
            None => "run the command again to use another account".to_string(),
        };
        term::warn(&format!("{headline}; {how}"));
        return Ok(None);
    }
    let next_args = match &id {
        Some(id) => continuation(args, id),
        None => args.to_vec(),
    };
    Ok(Some((next, next_args)))
}

/// Whether to continue `what` on `next`, per `[failover] mode` (unset:
/// ask on a terminal, else no); says so when it goes on by itself.
fn confirmed(
    pool: &Pool,
    headline: &str,
    what: &str,
    next: &Choice,
    states: &[AccountState],
) -> bool {
    let next_weekly = states
        .iter()
        .find(|s| s.name == next.name)
        .and_then(|s| s.usage.as_ref())
        .and_then(|(u, _)| u.weekly_used())
        .map(|w| format!(" (weekly {w:.0}%)"))
        .unwrap_or_default();
    let mode = pool.cfg.failover.mode.unwrap_or(if pool.interactive() {
        FailoverMode::Ask
    } else {
        FailoverMode::Off
    });
    match mode {
        FailoverMode::Off => false,
        FailoverMode::Auto => {
            term::note(&format!(
                "{headline}; continuing {what} on '{}'{next_weekly}",
                next.name
            ));
            true
        }
        FailoverMode::Ask => term::confirm(&format!(
            "{headline}. Continue {what} on {}{next_weekly}?",
            next.name
        )),
    }
}
