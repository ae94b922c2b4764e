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
//! "codex_error_info":"usage_limit_exceeded"}}}`.
//!
//! It also reads what usage codex recorded: every model turn's rate-limit
//! headers become an `event_msg`/`token_count` line with a `rate_limits`
//! object (seen, 0.169.0). Those lines name no account; the first line
//! (session_meta) names the creator (`creator_user_id`,
//! `creator_account_id`), and a resumed thread appends to the creator's file
//! under the new account without a new session_meta (seen). Who a line
//! belongs to is decided in usage::learn, not here.
//! Everything here treats rollouts as hostile input: folders are found by
//! name and never through a link (`walk`), a file is opened only if it is a
//! regular file and without blocking (`base::files::open_regular`), a line
//! is kept up to `base::lines::LINE_CAP` and a longer one skipped, and what
//! is read of a file is bounded (`run::SCAN_CAP`, `meta`). Rollouts are
//! only read, never written or moved; `index` keeps swop's own record of
//! them (in SWOP_HOME) for `resume --last`.
//!
//! Parts: `walk` (folders and names), `meta` (the first line), `run` (what
//! one run of codex wrote), `index` (the newest session per directory).

use crate::accounts::Account;
use crate::config::Config;

use std::path::{Path, PathBuf};

pub mod index;
pub mod meta;
pub mod run;
pub mod walk;

/// The sessions dir codex writes rollouts to for this account.
pub fn dir(cfg: &Config, account: &Account) -> PathBuf {
    match shared_dir(cfg) {
        Some(d) => d,
        None => account.home.join("sessions"),
    }
}

/// codex's history.jsonl for this account: the shared one when it is
/// shared (the sandbox's entry is then a link, never followed).
pub fn history_file(cfg: &Config, account: &Account) -> PathBuf {
    let shared = cfg.sandbox.share.iter().any(|e| e == "history.jsonl");
    match shared.then(|| cfg.shared_home().ok()).flatten() {
        Some(h) => h.join("history.jsonl"),
        None => account.home.join("history.jsonl"),
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
    is_thread_id(id).then(|| id.to_string())
}

/// Whether one rollout line records a usage limit hit at or after `since`
/// (Unix milliseconds; a line without a readable timestamp counts only
/// when `since` is None): a turn that ended with codex's
/// `usage_limit_exceeded` error, or rate limits that codex saw at 100 %.
pub fn line_hits_limit(line: &str, since: Option<i64>) -> bool {
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
        if timestamp_ms(v.get("timestamp")).is_none_or(|at| at < since) {
            return false;
        }
    }
    let payload = &v["payload"];
    is_usage_limit_error(&payload["error"]) || is_usage_limit_error(payload) || at_limit(payload)
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

/// A `rate_limits` object codex wrote, and when (Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitLine {
    pub at_ms: i64,
    pub rate_limits: serde_json::Value,
}

/// Unix milliseconds of an RFC 3339 timestamp as codex writes them.
pub fn timestamp_ms(v: Option<&serde_json::Value>) -> Option<i64> {
    let t: jiff::Timestamp = v?.as_str()?.parse().ok()?;
    Some(t.as_millisecond())
}

/// The `rate_limits` object of a `token_count` line, when it carries a
/// non-null one. Lines that are not JSON (a torn last line while codex
/// writes) give None.
pub fn rate_limit_line(line: &str) -> Option<RateLimitLine> {
    if !line.contains("\"token_count\"") || !line.contains("\"rate_limits\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? != "event_msg" {
        return None;
    }
    let payload = v.get("payload")?;
    if payload.get("type")?.as_str()? != "token_count" {
        return None;
    }
    let rl = payload.get("rate_limits")?;
    rl.is_object().then(|| RateLimitLine {
        at_ms: timestamp_ms(v.get("timestamp")).unwrap_or(0),
        rate_limits: rl.clone(),
    })
}

/// The thread a codex command line resumes: the first thread id after a
/// `resume` argument.
pub fn resumed_thread(args: &[std::ffi::OsString]) -> Option<String> {
    let strs: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let at = strs.iter().position(|a| *a == "resume")?;
    strs[at + 1..]
        .iter()
        .find(|a| is_thread_id(a))
        .map(|a| a.to_string())
}

pub fn is_thread_id(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn rollout_lines_and_names_never_panic(line in ".*", name in ".*") {
            let _ = line_hits_limit(&line, Some(0));
            let _ = rate_limit_line(&line);
            let _ = thread_id_of(Path::new(&format!("rollout-{name}.jsonl")));
        }
    }

    const ID: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";

    // Lines as codex 0.169.0 wrote them in the TUI on the loopback rig when
    // a turn got 429 usage_limit_reached (long fields shortened).
    const LIMIT_TASK_COMPLETE: &str = r#"{"timestamp":"2026-11-26T09:19:01.976Z","ordinal":14,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"01a21726-b30e-7210-b195-5346690eb4e9","turn_id":"01a21726-b30e-7210-b195-5346690eb4e9","last_agent_message":null,"error":{"message":"You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at Nov 29th, 2026 9:19 AM.","codex_error_info":"usage_limit_exceeded"},"started_at":1795684741,"completed_at":1795684741,"duration_ms":72}}"#;
    const NULL_TOKEN_COUNT: &str = r#"{"timestamp":"2026-11-26T09:19:01.973Z","ordinal":13,"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"limit_id":"codex","limit_name":null,"primary":null,"secondary":null,"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}"#;
    const USER_MESSAGE: &str = r#"{"timestamp":"2026-11-26T09:19:01.960Z","ordinal":12,"type":"event_msg","payload":{"type":"item_completed","thread_id":"01a21726-b1fc-7131-9545-e712139a54b7","item":{"type":"UserMessage","content":[{"type":"text","text":"why do I hit usage_limit_exceeded?","text_elements":[]}]}}}"#;
    /// 2026-11-26T09:19:01.976Z in Unix milliseconds.
    const LIMIT_AT_MS: i64 = 1_795_684_741_976;

    fn hit_limit_since<'a>(lines: impl IntoIterator<Item = &'a str>, since: Option<i64>) -> bool {
        lines.into_iter().any(|l| line_hits_limit(l, since))
    }

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

    /// Lines shaped exactly as codex 0.169.0 writes them (seen on the rig).
    const META: &str = r#"{"timestamp":"2026-11-26T08:30:42.252Z","ordinal":0,"type":"session_meta","payload":{"account_scoped":true,"creator_user_id":"user-a","creator_account_id":"acct-a","session_id":"01a216fa-737d-7de0-b9b4-d60eee2c537e","id":"01a216fa-737d-7de0-b9b4-d60eee2c537e","timestamp":"2026-11-26T08:30:42.104Z","cwd":"/tmp/p","originator":"codex_exec","cli_version":"0.169.0","source":"exec"}}"#;
    const COUNT: &str = r#"{"timestamp":"2026-11-26T08:30:42.353Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1}},"rate_limits":{"limit_id":"codex","limit_name":null,"primary":{"used_percent":12.5,"window_minutes":300,"resets_at":1795685442},"secondary":{"used_percent":73.0,"window_minutes":10080,"resets_at":1795768242},"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}"#;
    const COUNT_NULL: &str = r#"{"timestamp":"2026-11-26T08:31:00.000Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;

    #[test]
    fn rate_limit_lines_as_codex_writes_them() {
        let text = format!("{META}\n{COUNT}\n{COUNT_NULL}\n{{\"torn");
        let lines: Vec<RateLimitLine> = text.lines().filter_map(rate_limit_line).collect();
        assert_eq!(lines.len(), 1, "null rate_limits and torn lines skipped");
        assert_eq!(lines[0].at_ms, 1_795_681_842_353);
        assert_eq!(lines[0].rate_limits["secondary"]["used_percent"], 73.0);
    }

    #[test]
    fn resumed_thread_from_args() {
        let a = |v: &[&str]| v.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert_eq!(
            resumed_thread(&a(&["exec", "resume", ID, "go"])).as_deref(),
            Some(ID)
        );
        assert_eq!(
            resumed_thread(&a(&["-c", "x=1", "resume", "--all", ID])).as_deref(),
            Some(ID)
        );
        assert_eq!(resumed_thread(&a(&["exec", "hi", ID])), None);
        assert_eq!(resumed_thread(&a(&["resume", "--last"])), None);
    }
}
