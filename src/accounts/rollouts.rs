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
//! These functions only read rollouts; they never write or move them.

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
    is_thread_id(id).then(|| id.to_string())
}

pub struct Filter<'a> {
    /// Only rollouts written at or after this time.
    pub since: Option<SystemTime>,
    /// Only sessions whose session_meta names this cwd.
    pub cwd: Option<&'a Path>,
    /// Skip `codex exec` sessions (the TUI's picker hides them too).
    pub interactive_only: bool,
}

/// Every rollout file under `dir` (known by its name) with its metadata.
/// `enter` sees the numeric parts of a folder's path (`[2026, 11, 25]` for
/// a day folder) and says whether to look inside it.
fn each_rollout(
    dir: &Path,
    enter: impl Fn(&[u32]) -> bool,
    mut visit: impl FnMut(PathBuf, String, std::fs::Metadata),
) {
    let mut stack = vec![(dir.to_path_buf(), Vec::<u32>::new())];
    while let Some((d, parts)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                let mut parts = parts.clone();
                if let Some(n) = e.file_name().to_str().and_then(|n| n.parse().ok()) {
                    parts.push(n);
                }
                if enter(&parts) {
                    stack.push((p, parts));
                }
                continue;
            }
            if let Some(id) = thread_id_of(&p) {
                visit(p, id, m);
            }
        }
    }
}

/// The newest rollout under `dir` that passes `filter`: its thread id.
pub fn newest(dir: &Path, filter: &Filter) -> Option<String> {
    let mut best: Option<(SystemTime, String)> = None;
    each_rollout(
        dir,
        |_| true,
        |p, id, m| {
            let Ok(mtime) = m.modified() else { return };
            if filter
                .since
                .is_some_and(|s| mtime + std::time::Duration::from_secs(1) < s)
            {
                return;
            }
            if best.as_ref().is_some_and(|(t, _)| mtime <= *t) || !meta_matches(&p, filter) {
                return;
            }
            best = Some((mtime, id));
        },
    );
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

/// Every `token_count` line of a rollout's text that carries a non-null
/// `rate_limits` object, in file order. Lines that are not JSON (a torn
/// last line while codex writes) are skipped.
pub fn rate_limit_lines(text: &str) -> Vec<RateLimitLine> {
    text.lines()
        .filter(|l| l.contains("\"token_count\"") && l.contains("\"rate_limits\""))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("type").and_then(|t| t.as_str()) == Some("event_msg"))
        .filter_map(|v| {
            let payload = v.get("payload")?;
            if payload.get("type")?.as_str()? != "token_count" {
                return None;
            }
            let rl = payload.get("rate_limits")?;
            rl.is_object().then(|| RateLimitLine {
                at_ms: timestamp_ms(v.get("timestamp")).unwrap_or(0),
                rate_limits: rl.clone(),
            })
        })
        .collect()
}

/// Who created a thread, from its session_meta line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    pub user_id: Option<String>,
    pub account_id: Option<String>,
    /// When the session began (Unix milliseconds).
    pub created_ms: Option<i64>,
}

/// The creator named by a rollout's first line, if it is a session_meta.
pub fn creator(first_line: &str) -> Option<Creator> {
    let v: serde_json::Value = serde_json::from_str(first_line).ok()?;
    if v.get("type")?.as_str()? != "session_meta" {
        return None;
    }
    let p = v.get("payload")?;
    let text = |k: &str| p.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Some(Creator {
        user_id: text("creator_user_id"),
        account_id: text("creator_account_id"),
        created_ms: timestamp_ms(p.get("timestamp")).or(timestamp_ms(v.get("timestamp"))),
    })
}

/// Rollout files under `dir` modified at or after `since` (1 s of slack
/// for coarse mtimes). Day folders (`YYYY/MM/DD`) more than a day before
/// `since` are not entered, so a long history costs nothing.
pub fn touched_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let since_day = day_number(since - std::time::Duration::from_secs(86_400));
    let old_day = |parts: &[u32]| parts.len() == 3 && (parts[0], parts[1], parts[2]) < since_day;
    let mut out = Vec::new();
    each_rollout(
        dir,
        |parts| !old_day(parts),
        |p, _, m| {
            let recent = m
                .modified()
                .is_ok_and(|t| t + std::time::Duration::from_secs(1) >= since);
            if recent {
                out.push(p);
            }
        },
    );
    out
}

/// (year, month, day) in UTC; codex names day folders by local date, which
/// is within a day of it.
fn day_number(t: SystemTime) -> (u32, u32, u32) {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match jiff::Timestamp::from_second(secs) {
        Ok(ts) => {
            let d = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
            (d.year() as u32, d.month() as u32, d.day() as u32)
        }
        Err(_) => (0, 0, 0),
    }
}

/// The rollout file of thread `id` under `dir`, wherever its day folder.
pub fn find_thread(dir: &Path, id: &str) -> Option<PathBuf> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if thread_id_of(&p).as_deref() == Some(id) {
                return Some(p);
            }
        }
    }
    None
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

fn is_thread_id(s: &str) -> bool {
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

    /// Lines shaped exactly as codex 0.169.0 writes them (seen on the rig).
    const META: &str = r#"{"timestamp":"2026-11-26T08:30:42.252Z","ordinal":0,"type":"session_meta","payload":{"account_scoped":true,"creator_user_id":"user-a","creator_account_id":"acct-a","session_id":"01a216fa-737d-7de0-b9b4-d60eee2c537e","id":"01a216fa-737d-7de0-b9b4-d60eee2c537e","timestamp":"2026-11-26T08:30:42.104Z","cwd":"/tmp/p","originator":"codex_exec","cli_version":"0.169.0","source":"exec"}}"#;
    const COUNT: &str = r#"{"timestamp":"2026-11-26T08:30:42.353Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":1}},"rate_limits":{"limit_id":"codex","limit_name":null,"primary":{"used_percent":12.5,"window_minutes":300,"resets_at":1795685442},"secondary":{"used_percent":73.0,"window_minutes":10080,"resets_at":1795768242},"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}"#;
    const COUNT_NULL: &str = r#"{"timestamp":"2026-11-26T08:31:00.000Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;

    #[test]
    fn rate_limit_lines_as_codex_writes_them() {
        let text = format!("{META}\n{COUNT}\n{COUNT_NULL}\n{{\"torn");
        let lines = rate_limit_lines(&text);
        assert_eq!(lines.len(), 1, "null rate_limits and torn lines skipped");
        assert_eq!(lines[0].at_ms, 1_795_681_842_353);
        assert_eq!(lines[0].rate_limits["secondary"]["used_percent"], 73.0);
    }

    #[test]
    fn creator_from_session_meta() {
        let c = creator(META).unwrap();
        assert_eq!(c.user_id.as_deref(), Some("user-a"));
        assert_eq!(c.account_id.as_deref(), Some("acct-a"));
        assert_eq!(c.created_ms, Some(1_795_681_842_104));
        assert_eq!(creator(COUNT), None, "not a session_meta");
        assert_eq!(creator("garbage"), None);
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

    #[test]
    fn touched_since_skips_old_day_folders_and_old_files() {
        let dir = std::env::temp_dir().join(format!("swop-touched-{}", std::process::id()));
        let old = dir.join("2001/01/01");
        let (y, m, d) = day_number(SystemTime::now());
        let today = dir.join(format!("{y:04}/{m:02}/{d:02}"));
        std::fs::create_dir_all(&old).unwrap();
        std::fs::create_dir_all(&today).unwrap();
        let name = format!("rollout-2026-11-25T12-00-00-{ID}.jsonl");
        std::fs::write(old.join(&name), "x").unwrap();
        let start = SystemTime::now();
        std::fs::write(today.join(&name), "x").unwrap();
        assert_eq!(touched_since(&dir, start), vec![today.join(&name)]);
        let later = start + std::time::Duration::from_secs(60);
        assert!(touched_since(&dir, later).is_empty());
        assert!(find_thread(&dir, ID).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
