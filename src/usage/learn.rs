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

use crate::accounts::rollouts::{self, RateLimitLine};
use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::config::Config;
use crate::usage::cache::{self, Entry, Loaded, Source};
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How much of a rollout's end is read: token_count lines are near the end
/// and a long session's file can be large.
const TAIL_BYTES: u64 = 4 << 20;

/// One run of codex on one account, as far as learning needs it. Begin it
/// just before codex starts (it only reads the clock and the arguments).
pub struct Run {
    sessions: PathBuf,
    started: SystemTime,
    started_ms: i64,
    resumed: Option<String>,
}

/// What [`Run::finish`] did.
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

impl Run {
    pub fn begin(cfg: &Config, account: &Account, args: &[OsString]) -> Run {
        let started = SystemTime::now();
        Run {
            sessions: rollouts::dir(cfg, account),
            started,
            started_ms: ms(started),
            resumed: rollouts::resumed_thread(args),
        }
    }

    /// After codex exited: learn the newest snapshot of this run for
    /// `account`, or mark the account for a refresh.
    pub fn finish(self, paths: &Paths, account: &Account) -> Learned {
        let id = account.identity();
        let owner = match (id.user_id, id.account_id) {
            (Some(u), Some(a)) => Some((u, a)),
            _ => None,
        };
        let newest = self.newest_snapshot(owner.as_ref());
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

    /// The newest rate-limit line of this run among the files that are
    /// provably this account's.
    fn newest_snapshot(&self, owner: Option<&(String, String)>) -> Option<RateLimitLine> {
        let mut files = rollouts::touched_since(&self.sessions, self.started);
        if let Some(id) = &self.resumed {
            if !files
                .iter()
                .any(|f| rollouts::thread_id_of(f).as_deref() == Some(id))
            {
                files.extend(rollouts::find_thread(&self.sessions, id));
            }
        }
        files
            .iter()
            .filter_map(|f| {
                let resumed = self.resumed.is_some()
                    && rollouts::thread_id_of(f).as_deref() == self.resumed.as_deref();
                let (text, whole) = read_tail(f)?;
                if !resumed && !self.created_here(&text, whole, f, owner) {
                    return None;
                }
                rollouts::rate_limit_lines(&text)
                    .into_iter()
                    .filter(|l| l.at_ms >= self.started_ms)
                    .max_by_key(|l| l.at_ms)
            })
            .max_by_key(|l| l.at_ms)
    }

    /// The file's session began during this run and its creator is `owner`.
    fn created_here(
        &self,
        text: &str,
        whole: bool,
        file: &Path,
        owner: Option<&(String, String)>,
    ) -> bool {
        let Some((user, workspace)) = owner else {
            return false;
        };
        // Only a whole file's text starts with the session_meta line.
        let first = if whole {
            text.lines().next().map(str::to_string)
        } else {
            first_line(file)
        };
        let Some(c) = first.as_deref().and_then(rollouts::creator) else {
            return false;
        };
        c.user_id.as_deref() == Some(user)
            && c.account_id.as_deref() == Some(workspace)
            && c.created_ms.is_some_and(|t| t >= self.started_ms)
    }
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

fn ms(t: SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn first_line(file: &Path) -> Option<String> {
    use std::io::BufRead;
    let f = std::fs::File::open(file).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(f).read_line(&mut line).ok()?;
    Some(line)
}

/// The file's text, or its last [`TAIL_BYTES`] from the first whole line;
/// true when that is the whole file.
fn read_tail(file: &Path) -> Option<(String, bool)> {
    let mut f = std::fs::File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    let skip = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(skip)).ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if skip == 0 {
        return Some((text, true));
    }
    let start = text.find('\n').map(|i| i + 1).unwrap_or(text.len());
    Some((text[start..].to_string(), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "01a216fa-737d-7de0-b9b4-d60eee2c537e";
    const ID_B: &str = "01a216fa-737d-7de0-b9b4-d60eee2c5370";

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

    struct World {
        dir: PathBuf,
        run: Run,
    }

    fn world(tag: &str, resumed: Option<&str>) -> World {
        let dir = std::env::temp_dir().join(format!("swop-learn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let started = SystemTime::now();
        World {
            run: Run {
                sessions: dir.clone(),
                started,
                started_ms: ms(started),
                resumed: resumed.map(str::to_string),
            },
            dir,
        }
    }

    fn write(dir: &Path, id: &str, lines: &[String]) {
        let f = dir.join(format!("rollout-2026-11-26T08-30-42-{id}.jsonl"));
        std::fs::write(f, lines.join("\n") + "\n").unwrap();
    }

    fn owner(n: &str) -> (String, String) {
        (format!("user-{n}"), format!("acct-{n}"))
    }

    #[test]
    fn only_this_accounts_new_sessions_count() {
        let w = world("own", None);
        let t = w.run.started_ms;
        write(
            &w.dir,
            ID_A,
            &[meta("user-a", "acct-a", t + 5), count(t + 10, 40.0)],
        );
        write(
            &w.dir,
            ID_B,
            &[meta("user-b", "acct-b", t + 5), count(t + 20, 90.0)],
        );
        let got = w.run.newest_snapshot(Some(&owner("a"))).unwrap();
        assert_eq!(got.rate_limits["secondary"]["used_percent"], 40.0);
        let got = w.run.newest_snapshot(Some(&owner("b"))).unwrap();
        assert_eq!(got.rate_limits["secondary"]["used_percent"], 90.0);
        assert!(w.run.newest_snapshot(Some(&owner("c"))).is_none());
        assert!(
            w.run.newest_snapshot(None).is_none(),
            "no identity, no learning"
        );
        std::fs::remove_dir_all(&w.dir).unwrap();
    }

    #[test]
    fn same_workspace_other_user_is_not_ours() {
        let w = world("user", None);
        let t = w.run.started_ms;
        write(
            &w.dir,
            ID_A,
            &[meta("user-x", "acct-a", t + 5), count(t + 10, 40.0)],
        );
        assert!(w.run.newest_snapshot(Some(&owner("a"))).is_none());
        std::fs::remove_dir_all(&w.dir).unwrap();
    }

    #[test]
    fn a_session_begun_before_the_run_is_not_ours_unless_resumed() {
        let w = world("old", None);
        let t = w.run.started_ms;
        // Another launch on this account's thread from before, still running.
        write(
            &w.dir,
            ID_A,
            &[meta("user-a", "acct-a", t - 60_000), count(t + 10, 40.0)],
        );
        assert!(w.run.newest_snapshot(Some(&owner("a"))).is_none());
        let _ = std::fs::remove_dir_all(&w.dir);
        // Resumed by this launch (created by b): only the lines of this run.
        let w = world("resumed", Some(ID_A));
        let t = w.run.started_ms;
        write(
            &w.dir,
            ID_A,
            &[
                meta("user-b", "acct-b", t - 60_000),
                count(t - 50_000, 99.0),
                count(t + 10, 12.0),
            ],
        );
        let got = w.run.newest_snapshot(Some(&owner("a"))).unwrap();
        assert_eq!(got.rate_limits["secondary"]["used_percent"], 12.0);
        std::fs::remove_dir_all(&w.dir).unwrap();
    }

    #[test]
    fn lines_before_the_run_never_count() {
        let w = world("before", Some(ID_A));
        let t = w.run.started_ms;
        write(
            &w.dir,
            ID_A,
            &[meta("user-a", "acct-a", t - 9000), count(t - 5000, 50.0)],
        );
        assert!(w.run.newest_snapshot(Some(&owner("a"))).is_none());
        std::fs::remove_dir_all(&w.dir).unwrap();
    }
}
