//! Learning usage from codex's own session files: after a run, the newest
//! `rate_limits` snapshot that run wrote becomes the account's numbers in
//! the cache (source "session"), so the next launch needs no request.
//!
//! Attribution must hold while several swops on different accounts write
//! into one shared `sessions/`. A rollout line names no account, so a
//! snapshot counts only when its file provably belongs to this account and
//! the line was written during this run:
//! - a file whose session_meta names this account's user and workspace as
//!   creator and whose session began during the run; or
//! - the file of the thread this launch resumed (a resume appends to the
//!   creator's file under the new account, without a new session_meta).
//!
//! When nothing qualifies, nothing is learned and the account is marked for
//! a refresh instead (as before). Never writes anything but the cache.

use crate::accounts::rollouts::run::{Owner, Written};
use crate::accounts::rollouts::RateLimitLine;
use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::usage::cache::{self, Entry, Loaded, Source};

/// What [`finish`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Learned {
    /// Stored a snapshot written at this time (Unix ms).
    Snapshot(i64),
    /// Kept newer numbers that were already in the cache.
    KeptNewer,
    /// Nothing provably ours: the account is marked for a refresh.
    Nothing,
    /// Not read: the in-turn relay stored each turn's numbers under the
    /// account the turn went out on (the rollout mixes accounts after a
    /// switch).
    FromRelay,
}

/// After codex exited: learn the newest snapshot the run wrote for
/// `account` among the files `written` found, or mark the account for a
/// refresh.
pub fn finish(paths: &Paths, account: &Account, written: &Written) -> Learned {
    let id = account.identity();
    let owner = match (&id.user_id, &id.account_id) {
        (Some(u), Some(a)) => Some((u.as_str(), a.as_str())),
        _ => None,
    };
    let newest = newest_snapshot(written, owner);
    let usage = newest.as_ref().and_then(|l| {
        let at = l.at_ms / 1000;
        crate::usage::parse_session(&l.rate_limits, at).map(|u| (l.at_ms, u))
    });
    let Some((at_ms, usage)) = usage else {
        let _ = cache::invalidate(paths, &account.name);
        return Learned::Nothing;
    };
    store(paths, &account.name, at_ms, usage)
}

/// The newest rate-limit line of the run among the files that are
/// provably `owner`'s (each read once, only its part of this run).
fn newest_snapshot(written: &Written, owner: Option<Owner>) -> Option<RateLimitLine> {
    written
        .owned_by(owner)
        .filter_map(|f| f.scan().limits.clone())
        .max_by_key(|l| l.at_ms)
}

/// Stores a learned snapshot unless the cache already holds newer numbers.
/// Unlocked, like cache::invalidate: it runs after codex exited and must
/// not wait for a fetch; the rename keeps the file whole.
fn store(paths: &Paths, name: &str, at_ms: i64, mut usage: crate::usage::Usage) -> Learned {
    let old = match cache::load(paths, name) {
        Loaded::Found(e) => e,
        _ => Entry::default(),
    };
    let at = at_ms / 1000;
    if old.usage.is_some() && !old.invalidated && old.fetched_at > at {
        return Learned::KeptNewer;
    }
    // The snapshot often names no plan: keep the last known one.
    if usage.plan.is_none() {
        usage.plan = old.usage.as_ref().and_then(|u| u.plan.clone());
    }
    let entry = Entry {
        fetched_at: at,
        usage: Some(usage),
        source: Some(Source::Session),
        // A model turn just worked: the session is alive.
        dead_since: None,
        invalidated: false,
        ..old
    };
    match cache::store(paths, name, &entry) {
        Ok(()) => Learned::Snapshot(at_ms),
        Err(_) => Learned::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::rollouts::run::{write_rollout, Launch};
    use std::path::{Path, PathBuf};

    fn stamp(ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    fn meta(user: &str, acct: &str, at: i64) -> String {
        format!(
            r#"{{"timestamp":"{t}","type":"session_meta","payload":{{"account_scoped":true,"creator_user_id":"{user}","creator_account_id":"{acct}","timestamp":"{t}","source":"exec"}}}}"#,
            t = stamp(at)
        )
    }

    fn count(at: i64, weekly: f64) -> String {
        format!(
            r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"token_count","info":null,"rate_limits":{{"limit_id":"codex","limit_name":null,"primary":{{"used_percent":1.0,"window_minutes":300,"resets_at":1}},"secondary":{{"used_percent":{weekly},"window_minutes":10080,"resets_at":2}},"credits":null,"plan_type":null,"rate_limit_reached_type":null}}}}}}"#,
            stamp(at)
        )
    }

    /// A sessions dir; the run starts a minute from now (files are dated
    /// around it, in their right day folders).
    fn sessions(tag: &str) -> (PathBuf, i64) {
        let dir = std::env::temp_dir().join(format!("swop-learn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (dir, crate::base::time::now_ms() + 60_000)
    }

    fn args(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(std::ffi::OsString::from).collect()
    }

    fn append(path: &Path, line: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        writeln!(f, "{line}").unwrap();
    }

    fn snapshot(w: &Written, n: &str) -> Option<f64> {
        let (u, a) = (format!("user-{n}"), format!("acct-{n}"));
        newest_snapshot(w, Some((&u, &a)))
            .map(|l| l.rate_limits["secondary"]["used_percent"].as_f64().unwrap())
    }

    #[test]
    fn only_this_accounts_new_sessions_count() {
        let (dir, t) = sessions("own");
        let run = Launch::at(dir.clone(), t, &[]);
        write_rollout(
            &dir,
            t + 5,
            1,
            &[meta("user-a", "acct-a", t + 5), count(t + 10, 40.0)],
        );
        write_rollout(
            &dir,
            t + 5,
            2,
            &[meta("user-b", "acct-b", t + 5), count(t + 20, 90.0)],
        );
        let w = run.written();
        assert_eq!(snapshot(&w, "a"), Some(40.0));
        assert_eq!(snapshot(&w, "b"), Some(90.0));
        assert_eq!(snapshot(&w, "c"), None);
        assert!(
            newest_snapshot(&w, None).is_none(),
            "no identity, no learning"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn same_workspace_other_user_is_not_ours() {
        let (dir, t) = sessions("user");
        let run = Launch::at(dir.clone(), t, &[]);
        write_rollout(
            &dir,
            t + 5,
            1,
            &[meta("user-x", "acct-a", t + 5), count(t + 10, 40.0)],
        );
        assert_eq!(snapshot(&run.written(), "a"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_session_begun_before_the_run_is_not_ours_unless_resumed() {
        let (dir, t) = sessions("old");
        // Another launch on this account's thread from before, still running.
        let path = write_rollout(&dir, t - 60_000, 1, &[meta("user-a", "acct-a", t - 60_000)]);
        let id = crate::accounts::rollouts::thread_id_of(&path).unwrap();
        let run = Launch::at(dir.clone(), t, &[]);
        append(&path, &count(t + 10, 40.0));
        assert_eq!(snapshot(&run.written(), "a"), None);
        // Resumed by this launch (created by b): only the lines of this run.
        std::fs::write(
            &path,
            format!(
                "{}\n{}\n",
                meta("user-b", "acct-b", t - 60_000),
                count(t - 50_000, 99.0)
            ),
        )
        .unwrap();
        let run = Launch::at(dir.clone(), t, &args(&["resume", &id]));
        append(&path, &count(t + 10, 12.0));
        assert_eq!(snapshot(&run.written(), "a"), Some(12.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_before_the_run_never_count() {
        let (dir, t) = sessions("before");
        let path = write_rollout(
            &dir,
            t - 9000,
            1,
            &[meta("user-a", "acct-a", t - 9000), count(t - 5000, 50.0)],
        );
        let id = crate::accounts::rollouts::thread_id_of(&path).unwrap();
        let run = Launch::at(dir.clone(), t, &args(&["exec", "resume", &id, "go"]));
        assert_eq!(snapshot(&run.written(), "a"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
