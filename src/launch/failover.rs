//! Failover: when codex exits non-zero and its account is now exhausted, or
//! an interactive session ends (any exit code) after its rollout recorded a
//! usage limit, find the session that run created or resumed, and continue
//! it on the next eligible account (`codex resume ID` for interactive runs,
//! `codex exec resume ID PROMPT` for exec runs; hints name the same form),
//! after asking, automatically, or not at all, per `[failover] mode`. The
//! launcher calls this at most once per account, so it never loops.

use crate::accounts::rollouts::{self, Filter};
use crate::accounts::Account;
use crate::base::error::Result;
use crate::base::term;
use crate::base::time;
use crate::config::FailoverMode;
use crate::launch::{subcommand, Launcher};
use crate::select::Choice;
use crate::usage::gather::AccountState;
use std::ffi::OsString;
use std::time::SystemTime;

/// The arguments that continue session `id`, built from the original ones.
pub fn continuation(args: &[OsString], id: &str) -> Vec<OsString> {
    let sub = subcommand(args);
    let pos = sub.and_then(|s| args.iter().position(|a| a.to_str() == Some(s)));
    match (sub, pos) {
        (Some("exec" | "e"), Some(i)) => {
            let before = &args[..=i];
            let rest = &args[i + 1..];
            if subcommand(rest) == Some("resume") {
                return replace_last(args, id);
            }
            // The prompt is the last argument when it is not an option.
            let (opts, prompt) = match rest.last() {
                Some(p) if !p.to_string_lossy().starts_with('-') => {
                    (&rest[..rest.len() - 1], Some(p.clone()))
                }
                _ => (rest, None),
            };
            let mut out: Vec<OsString> = before.to_vec();
            out.extend(opts.iter().cloned());
            out.push("resume".into());
            out.push(id.into());
            out.extend(prompt);
            out
        }
        (Some("resume"), Some(_)) => replace_last(args, id),
        _ => {
            // Interactive: keep the options before any prompt, then resume.
            let opts: Vec<OsString> = match pos {
                Some(i) => args[..i].to_vec(),
                None => args.to_vec(),
            };
            let mut out = opts;
            out.push("resume".into());
            out.push(id.into());
            out
        }
    }
}

/// A `codex exec` run (continued with `codex exec resume`), as opposed to
/// an interactive one (continued with `codex resume`).
pub fn is_exec(args: &[OsString]) -> bool {
    matches!(subcommand(args), Some("exec" | "e"))
}

/// The command a person types to continue session `id` later.
pub fn resume_hint(args: &[OsString], id: &str) -> String {
    if is_exec(args) {
        format!("codex exec resume {id}")
    } else {
        format!("codex resume {id}")
    }
}

/// After an interactive session ended (any exit code): the thread id when
/// that session, run on `account` since `started`, hit a usage limit (per
/// its rollout). None for `codex exec` runs, which fail over on their
/// non-zero exit instead.
pub fn interactive_limit_hit(
    l: &Launcher,
    account: &Account,
    args: &[OsString],
    started: SystemTime,
) -> Option<String> {
    if is_exec(args) {
        return None;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let filter = Filter {
        since: Some(started),
        cwd: Some(&cwd),
        interactive_only: false,
    };
    let dir = rollouts::dir(&l.cfg, account);
    let id = rollouts::newest(&dir, &filter)?;
    rollouts::session_hit_limit(&dir, &id, started).then_some(id)
}

/// `resume --last` becomes `resume ID`; `resume ID` stays as it is.
fn replace_last(args: &[OsString], id: &str) -> Vec<OsString> {
    args.iter()
        .map(|a| {
            if a == "--last" {
                OsString::from(id)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// Decides what happens after `account` ran out. `Some` = run again with
/// this choice and these arguments.
pub fn plan(
    l: &Launcher,
    account: &Account,
    now: &AccountState,
    args: &[OsString],
    started: SystemTime,
    states: &[AccountState],
    used: &[String],
) -> Result<Option<(Choice, Vec<OsString>)>> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let filter = Filter {
        since: Some(started),
        cwd: Some(&cwd),
        interactive_only: false,
    };
    let id = rollouts::newest(&rollouts::dir(&l.cfg, account), &filter);
    let usage = now.usage.as_ref().map(|(u, _)| u);
    let weekly_out = usage
        .and_then(|u| u.weekly_used())
        .is_some_and(|w| w >= 100.0);
    let five_out = usage
        .and_then(|u| u.five_hour_used())
        .is_some_and(|w| w >= 100.0);
    let (which, reset) = match (weekly_out, five_out) {
        (false, true) => (
            "5-hour",
            usage
                .and_then(|u| u.five_hour.as_ref())
                .and_then(|w| w.reset_at),
        ),
        _ => ("weekly", usage.and_then(|u| u.weekly_reset())),
    };
    let resets = reset
        .map(|t| format!(" (resets {})", time::wall(t)))
        .unwrap_or_default();
    let headline = format!("{} hit its {which} limit{resets}", account.name);
    let resume_cmd = id.as_ref().map(|id| resume_hint(args, id));
    let next = match l.choose(states, used) {
        Ok(c) => c,
        Err(blocked) => {
            let mut msg = format!("{headline}; {}", blocked.headline(crate::base::time::now()));
            if let Some(cmd) = &resume_cmd {
                msg.push_str(&format!("; session to resume later: {cmd}"));
            }
            term::warn(&msg);
            return Ok(None);
        }
    };
    let next_weekly = states
        .iter()
        .find(|s| s.name == next.name)
        .and_then(|s| s.usage.as_ref())
        .and_then(|(u, _)| u.weekly_used())
        .map(|w| format!(" (weekly {w:.0}%)"))
        .unwrap_or_default();
    let what = if id.is_some() {
        "this session"
    } else {
        "this command"
    };
    let mode = l.cfg.failover.mode.unwrap_or(if term::interactive() {
        FailoverMode::Ask
    } else {
        FailoverMode::Off
    });
    let go = match mode {
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
    };
    if !go {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    const ID: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";

    #[test]
    fn exec_continuation_keeps_options_and_prompt() {
        assert_eq!(
            continuation(&a(&["exec", "--skip-git-repo-check", "task"]), ID),
            a(&["exec", "--skip-git-repo-check", "resume", ID, "task"])
        );
        assert_eq!(
            continuation(&a(&["exec", "resume", "--last", "p"]), ID),
            a(&["exec", "resume", ID, "p"])
        );
        assert_eq!(
            continuation(&a(&["-c", "x=1", "exec", "t"]), ID),
            a(&["-c", "x=1", "exec", "resume", ID, "t"])
        );
    }

    #[test]
    fn hints_name_the_form_that_continues_the_run() {
        assert_eq!(
            resume_hint(&a(&["exec", "--skip-git-repo-check", "task"]), ID),
            format!("codex exec resume {ID}")
        );
        assert_eq!(
            resume_hint(&a(&["-c", "x=1", "e", "t"]), ID),
            format!("codex exec resume {ID}")
        );
        assert_eq!(resume_hint(&a(&[]), ID), format!("codex resume {ID}"));
        assert_eq!(
            resume_hint(&a(&["resume", "--last"]), ID),
            format!("codex resume {ID}")
        );
    }

    #[test]
    fn interactive_continuation() {
        assert_eq!(continuation(&a(&[]), ID), a(&["resume", ID]));
        assert_eq!(
            continuation(&a(&["-m", "o3", "fix the bug"]), ID),
            a(&["-m", "o3", "resume", ID])
        );
        assert_eq!(
            continuation(&a(&["resume", "--last"]), ID),
            a(&["resume", ID])
        );
    }
}
