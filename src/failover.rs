//! Failover: when codex exits non-zero and its account is now exhausted, find
//! the session that run created or resumed, and continue it on the next
//! eligible account (`codex resume ID` for interactive runs, `codex exec
//! resume ID PROMPT` for exec runs), after asking, automatically, or not at
//! all, per `[failover] mode`. The launcher calls this at most once per
//! account, so it never loops.

use crate::accounts::Account;
use crate::config::FailoverMode;
use crate::error::Result;
use crate::launch::{subcommand, Launcher};
use crate::quota::AccountState;
use crate::select::Choice;
use crate::{timefmt, ui};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The sessions dir codex writes rollouts to for this account.
pub fn sessions_dir(l: &Launcher, account: &Account) -> PathBuf {
    let shared = l
        .cfg
        .sandbox
        .share
        .iter()
        .any(|e| e.trim_end_matches('/') == "sessions");
    match (shared, l.cfg.shared_home()) {
        (true, Ok(h)) => h.join("sessions"),
        _ => account.home.join("sessions"),
    }
}

/// A thread id from a rollout file name: `rollout-<date>T<time>-<uuid>.jsonl`.
pub fn thread_id_of(file: &Path) -> Option<String> {
    let stem = file
        .file_name()?
        .to_str()?
        .strip_prefix("rollout-")?
        .strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    ok.then(|| id.to_string())
}

/// The newest rollout written since `since` whose session ran in `cwd` (when
/// the rollout says): the session this run created or resumed.
pub fn newest_rollout(dir: &Path, since: SystemTime, cwd: &Path) -> Option<String> {
    let mut best: Option<(SystemTime, String)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(p);
                continue;
            }
            let Some(id) = thread_id_of(&p) else { continue };
            let Ok(mtime) = m.modified() else { continue };
            if mtime + std::time::Duration::from_secs(1) < since || !ran_in(&p, cwd) {
                continue;
            }
            if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
                best = Some((mtime, id));
            }
        }
    }
    best.map(|(_, id)| id)
}

/// Whether the rollout's session_meta names `cwd` (true when it names none).
fn ran_in(file: &Path, cwd: &Path) -> bool {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(file) else {
        return false;
    };
    let mut first = String::new();
    if std::io::BufReader::new(f).read_line(&mut first).is_err() {
        return true;
    }
    let v: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    match v.pointer("/payload/cwd").and_then(|c| c.as_str()) {
        Some(c) => Path::new(c) == cwd,
        None => true,
    }
}

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
    let id = newest_rollout(&sessions_dir(l, account), started, &cwd);
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
        .map(|t| format!(" (resets {})", timefmt::wall(t)))
        .unwrap_or_default();
    let headline = format!("{} hit its {which} limit{resets}", account.name);
    let resume_cmd = id.as_ref().map(|id| format!("codex resume {id}"));
    let next = match l.choose(states, used) {
        Ok(c) => c,
        Err(blocked) => {
            let mut msg = format!("{headline}; {}", blocked.headline(crate::accounts::now()));
            if let Some(cmd) = &resume_cmd {
                msg.push_str(&format!("; session to resume later: {cmd}"));
            }
            ui::warn(&msg);
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
    let mode = l.cfg.failover.mode.unwrap_or(if ui::interactive() {
        FailoverMode::Ask
    } else {
        FailoverMode::Off
    });
    let go = match mode {
        FailoverMode::Off => false,
        FailoverMode::Auto => {
            ui::note(&format!(
                "{headline}; continuing {what} on '{}'{next_weekly}",
                next.name
            ));
            true
        }
        FailoverMode::Ask => ui::confirm(&format!(
            "{headline}. Continue {what} on {}{next_weekly}?",
            next.name
        )),
    };
    if !go {
        let how = match &resume_cmd {
            Some(cmd) => format!("to continue on another account run: {cmd}"),
            None => "run the command again to use another account".to_string(),
        };
        ui::warn(&format!("{headline}; {how}"));
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
    fn thread_ids_from_rollout_names() {
        let p = PathBuf::from(format!(
            "/s/2026/11/25/rollout-2026-11-25T12-00-00-{ID}.jsonl"
        ));
        assert_eq!(thread_id_of(&p).as_deref(), Some(ID));
        assert_eq!(thread_id_of(Path::new("/s/rollout-x.jsonl")), None);
        assert_eq!(thread_id_of(Path::new("/s/notes.txt")), None);
    }

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

    #[test]
    fn newest_rollout_since_start() {
        let dir = std::env::temp_dir().join(format!("swop-fo-{}", std::process::id()));
        let day = dir.join("2026/11/25");
        std::fs::create_dir_all(&day).unwrap();
        let start = SystemTime::now();
        let f = day.join(format!("rollout-2026-11-25T12-00-00-{ID}.jsonl"));
        std::fs::write(
            &f,
            "{\"type\":\"session_meta\",\"payload\":{\"cwd\":\"/w\"}}\n",
        )
        .unwrap();
        assert_eq!(
            newest_rollout(&dir, start, Path::new("/w")).as_deref(),
            Some(ID)
        );
        assert_eq!(newest_rollout(&dir, start, Path::new("/elsewhere")), None);
        let later = start + std::time::Duration::from_secs(60);
        assert_eq!(newest_rollout(&dir, later, Path::new("/w")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
