//! codex's session files (rollouts) as swop needs them: which session a run
//! created, and what `resume --last` should mean across accounts.
//!
//! codex 0.169.0 scopes `--last` to the login that created a thread (the
//! rollout's session_meta has `account_scoped` and the creator's user and
//! workspace ids), so under another account `--last` silently starts a new
//! thread. Resuming by id works across accounts, so swop replaces `--last`
//! with the id of the newest session itself (same cwd rule as codex: only
//! sessions started in this directory, unless `--all`).
//!
//! It also tells whether a session ran into a usage limit: codex 0.169.0
//! records no account in the rollout, but when a turn is refused with 429
//! `usage_limit_reached` it appends (seen, TUI and exec alike)
//! `{"timestamp":"...","type":"event_msg","payload":{"type":"task_complete",
//! ...,"error":{"message":"You’ve hit your usage limit. ...",
//! "codex_error_info":"usage_limit_exceeded"}}}`. These functions only read
//! rollouts; they never write or move them.

use crate::accounts::Account;
use crate::config::Config;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The sessions dir codex writes rollouts to for this account.
pub fn dir(cfg: &Config, account: &Account) -> PathBuf {
    match shared_dir(cfg) {
        Some(d) => d,
        None => account.home.join("sessions"),
    }
}

/// The shared sessions dir, when sessions are shared.
pub fn shared_dir(cfg: &Config) -> Option<PathBuf> {
    let shared = cfg
        .sandbox
        .share
        .iter()
        .any(|e| e.trim_end_matches('/') == "sessions");
    shared
        .then(|| cfg.shared_home().ok().map(|h| h.join("sessions")))
        .flatten()
}

/// A thread id from a rollout file name: `rollout-<date>T<time>-<uuid>.jsonl`.
pub fn thread_id_of(file: &Path) -> Option<String> {
    let stem = file
        .file_name()?
        .to_str()?
        .strip_prefix("rollout-")?
        .strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    let ok = id.char_indices().all(|(i, c)| {
        if [8, 13, 18, 23].contains(&i) {
            c == '-'
        } else {
            c.is_ascii_hexdigit()
        }
    });
    ok.then(|| id.to_string())
}

pub struct Filter<'a> {
    /// Only rollouts written at or after this time.
    pub since: Option<SystemTime>,
    /// Only sessions whose session_meta names this cwd.
    pub cwd: Option<&'a Path>,
    /// Skip `codex exec` sessions (the TUI's picker hides them too).
    pub interactive_only: bool,
}

/// The newest rollout under `dir` that passes `filter`: its thread id.
pub fn newest(dir: &Path, filter: &Filter) -> Option<String> {
    let mut best: Option<(SystemTime, String)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
                continue;
            }
            let Some(id) = thread_id_of(&p) else { continue };
            let Ok(mtime) = m.modified() else { continue };
            if filter
                .since
                .is_some_and(|s| mtime + std::time::Duration::from_secs(1) < s)
            {
                continue;
            }
            if best.as_ref().is_some_and(|(t, _)| mtime <= *t) || !meta_matches(&p, filter) {
                continue;
            }
            best = Some((mtime, id));
        }
    }
    best.map(|(_, id)| id)
}

/// Checks the first line (session_meta) against the cwd and source rules.
fn meta_matches(file: &Path, filter: &Filter) -> bool {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(file) else {
        return false;
    };
    let mut first = String::new();
    let _ = std::io::BufReader::new(f).read_line(&mut first);
    let (cwd, source) = session_meta(&first);
    if let (Some(want), Some(c)) = (filter.cwd, cwd) {
        if Path::new(&c) != want {
            return false;
        }
    }
    !(filter.interactive_only && source.as_deref() == Some("exec"))
}

/// The cwd and source of a rollout's first line (session_meta), whatever
/// the line holds.
fn session_meta(line: &str) -> (Option<String>, Option<String>) {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let field = |k: &str| {
        v.get("payload")
            .and_then(|p| p.get(k))
            .and_then(|c| c.as_str())
            .map(str::to_string)
    };
    (field("cwd"), field("source"))
}

/// The rollout file of thread `id` under `dir`, if any.
pub fn path_of(dir: &Path, id: &str) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if thread_id_of(&p).as_deref() == Some(id) {
                return Some(p);
            }
        }
    }
    None
}

/// Whether these rollout lines record a usage limit hit at or after `since`
/// (Unix milliseconds; lines without a readable timestamp count only when
/// `since` is None): a turn that ended with codex's `usage_limit_exceeded`
/// error, or rate limits that codex saw at 100 %. A resumed session's file
/// holds earlier runs too, hence the time bound.
pub fn hit_limit_since<'a>(lines: impl IntoIterator<Item = &'a str>, since: Option<i64>) -> bool {
    lines.into_iter().any(|line| {
        // Cheap pre-filter: most lines are long and irrelevant.
        if !line.contains("usage_limit") && !line.contains("used_percent") {
            return false;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return false;
        };
        if v.get("type").and_then(|t| t.as_str()) != Some("event_msg") {
            return false;
        }
        if let Some(since) = since {
            let at = v.get("timestamp").and_then(|t| t.as_str()).and_then(|t| {
                t.parse::<jiff::Timestamp>()
                    .ok()
                    .map(|t| t.as_millisecond())
            });
            if at.is_none_or(|at| at < since) {
                return false;
            }
        }
        let payload = &v["payload"];
        is_usage_limit_error(&payload["error"])
            || is_usage_limit_error(payload)
            || at_limit(payload)
    })
}

/// `codex_error_info` naming the usage limit, as a string (seen) or as an
/// enum object keyed by it.
fn is_usage_limit_error(v: &serde_json::Value) -> bool {
    let info = &v["codex_error_info"];
    info.as_str() == Some("usage_limit_exceeded") || info.get("usage_limit_exceeded").is_some()
}

/// A token_count whose rate limits are used up (a window at 100 %).
fn at_limit(payload: &serde_json::Value) -> bool {
    let limits = &payload["rate_limits"];
    ["primary", "secondary"].iter().any(|w| {
        limits[w]["used_percent"]
            .as_f64()
            .is_some_and(|p| p >= 100.0)
    })
}

/// `hit_limit_since` over the rollout of thread `id` in `dir`, counting
/// only what was written at or after `since`.
pub fn session_hit_limit(dir: &Path, id: &str, since: SystemTime) -> bool {
    let Some(path) = path_of(dir, id) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let since_ms = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .ok();
    hit_limit_since(text.lines(), since_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn rollout_lines_and_names_never_panic(line in ".*", name in ".*") {
            let _ = session_meta(&line);
            let _ = session_meta(&format!(r#"{{"payload":{{"cwd":{line:?},"source":{name:?}}}}}"#));
            let _ = thread_id_of(Path::new(&format!("rollout-{name}.jsonl")));
        }
    }

    const ID: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";

    fn meta(cwd: &str, source: &str) -> String {
        format!("{{\"type\":\"session_meta\",\"payload\":{{\"cwd\":\"{cwd}\",\"source\":\"{source}\"}}}}\n")
    }

    // Lines as codex 0.169.0 wrote them in the TUI on the loopback rig when
    // a turn got 429 usage_limit_reached (long fields shortened).
    const LIMIT_TASK_COMPLETE: &str = r#"{"timestamp":"2026-11-26T09:19:01.976Z","ordinal":14,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"01a21726-b30e-7210-b195-5346690eb4e9","turn_id":"01a21726-b30e-7210-b195-5346690eb4e9","last_agent_message":null,"error":{"message":"You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at Nov 29th, 2026 9:19 AM.","codex_error_info":"usage_limit_exceeded"},"started_at":1795684741,"completed_at":1795684741,"duration_ms":72}}"#;
    const NULL_TOKEN_COUNT: &str = r#"{"timestamp":"2026-11-26T09:19:01.973Z","ordinal":13,"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"limit_id":"codex","limit_name":null,"primary":null,"secondary":null,"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}"#;
    const USER_MESSAGE: &str = r#"{"timestamp":"2026-11-26T09:19:01.960Z","ordinal":12,"type":"event_msg","payload":{"type":"item_completed","thread_id":"01a21726-b1fc-7131-9545-e712139a54b7","item":{"type":"UserMessage","content":[{"type":"text","text":"why do I hit usage_limit_exceeded?","text_elements":[]}]}}}"#;
    /// 2026-11-26T09:19:01.976Z in Unix milliseconds.
    const LIMIT_AT_MS: i64 = 1_795_684_741_976;

    #[test]
    fn a_usage_limit_error_in_the_rollout_is_a_hit() {
        let lines = [USER_MESSAGE, NULL_TOKEN_COUNT, LIMIT_TASK_COMPLETE];
        assert!(hit_limit_since(lines, None));
        assert!(hit_limit_since(lines, Some(LIMIT_AT_MS)));
        assert!(
            !hit_limit_since(lines, Some(LIMIT_AT_MS + 1)),
            "a hit before this run (a resumed session) does not count"
        );
        assert!(
            !hit_limit_since([USER_MESSAGE, NULL_TOKEN_COUNT], None),
            "a prompt that mentions the error, and null rate limits, are no hit"
        );
    }

    #[test]
    fn rate_limits_at_100_percent_are_a_hit() {
        let full = r#"{"timestamp":"2026-11-26T09:19:01.976Z","type":"event_msg","payload":{"type":"token_count","info":{},"rate_limits":{"limit_id":"codex","primary":{"used_percent":12.5,"window_minutes":300,"resets_at":1795680098},"secondary":{"used_percent":100.0,"window_minutes":10080,"resets_at":1795977098}}}}"#;
        let fine = full.replace("100.0", "73.0");
        assert!(hit_limit_since([full], None));
        assert!(!hit_limit_since([fine.as_str()], None));
        assert!(!hit_limit_since(["not json usage_limit", ""], None));
    }

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
    fn newest_respects_since_cwd_and_source() {
        let dir = std::env::temp_dir().join(format!("swop-sessions-{}", std::process::id()));
        let day = dir.join("2026/11/25");
        std::fs::create_dir_all(&day).unwrap();
        let start = SystemTime::now();
        std::fs::write(
            day.join(format!("rollout-2026-11-25T12-00-00-{ID}.jsonl")),
            meta("/w", "exec"),
        )
        .unwrap();
        let f = |since, cwd, interactive_only| Filter {
            since,
            cwd,
            interactive_only,
        };
        assert_eq!(
            newest(&dir, &f(Some(start), Some(Path::new("/w")), false)).as_deref(),
            Some(ID)
        );
        assert_eq!(
            newest(&dir, &f(Some(start), Some(Path::new("/elsewhere")), false)),
            None
        );
        assert_eq!(
            newest(&dir, &f(None, None, true)),
            None,
            "exec sessions are not interactive"
        );
        let later = start + std::time::Duration::from_secs(60);
        assert_eq!(newest(&dir, &f(Some(later), None, false)), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
