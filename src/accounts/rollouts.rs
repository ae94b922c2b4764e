//! codex's session files (rollouts) as swop needs them: which session a run
//! created, and what `resume --last` should mean across accounts.
//!
//! codex 0.169.0 scopes `--last` to the login that created a thread (the
//! rollout's session_meta has `account_scoped` and the creator's user and
//! workspace ids), so under another account `--last` silently starts a new
//! thread. Resuming by id works across accounts, so swop replaces `--last`
//! with the id of the newest session itself (same cwd rule as codex: only
//! sessions started in this directory, unless `--all`).

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
    let v: serde_json::Value = serde_json::from_str(&first).unwrap_or_default();
    let payload = v.get("payload");
    if let Some(cwd) = filter.cwd {
        if let Some(c) = payload.and_then(|p| p.get("cwd")).and_then(|c| c.as_str()) {
            if Path::new(c) != cwd {
                return false;
            }
        }
    }
    if filter.interactive_only {
        let source = payload
            .and_then(|p| p.get("source"))
            .and_then(|s| s.as_str());
        if source == Some("exec") {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";

    fn meta(cwd: &str, source: &str) -> String {
        format!("{{\"type\":\"session_meta\",\"payload\":{{\"cwd\":\"{cwd}\",\"source\":\"{source}\"}}}}\n")
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
