//! One run of codex and the session files it wrote, found once after it
//! exited and handed to whoever needs them (learning its usage numbers,
//! telling whether it hit a usage limit, naming the session to continue):
//! no second walk, and no file read twice.
//!
//! Before codex starts, [`Launch::begin`] notes the time and, when the
//! arguments resume a thread by id, that thread's file and its size: what
//! the run appends starts there. After codex exited, [`Launch::written`]
//! lists only the day folders the run could have written into (by name) and
//! keeps the files created since it started (by the UUID v7 time in their
//! names; the mtime only for ids that carry no time).
//!
//! A file's content is read once, lazily ([`RunFile::scan`]): only what the
//! run appended (from the size at launch; a new file from its start), at
//! most the last [`SCAN_CAP`] bytes of it, line by line in constant memory,
//! and never past the size the file had when the read began, so a codex
//! still appending (a thread another session continues) is not chased.

use super::meta::{self, Meta, Read1};
use super::walk::{self, Day};
use super::RateLimitLine;
use crate::base::files;
use crate::base::lines::{Line, Lines, LINE_CAP};
use std::cell::OnceCell;
use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The most of a run's appended bytes swop reads from one rollout: 4 MiB,
/// the newest part (rate limits and a refused turn are written at the end
/// of a turn; a session that hit its limit ends on that).
pub const SCAN_CAP: u64 = 4 << 20;

/// The most of codex's history.jsonl one run's lines are read from.
const HISTORY_CAP: u64 = 1 << 20;

/// A run of codex, as far as its session files go.
pub struct Launch {
    dir: PathBuf,
    started_ms: i64,
    resumed: Option<(PathBuf, u64)>,
    /// codex's history.jsonl and its size at launch, for a resume that
    /// names no thread.
    history: Option<(PathBuf, u64)>,
}

/// What a scan of the run's part of one file found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scan {
    /// The newest `rate_limits` written during the run.
    pub limits: Option<RateLimitLine>,
    /// A usage-limit hit was recorded during the run.
    pub limit_hit: bool,
    /// Bytes read from the file.
    pub read: u64,
}

/// One session file the run wrote.
#[derive(Debug)]
pub struct RunFile {
    pub path: PathBuf,
    pub id: String,
    /// Its session_meta; None for a resumed file (its meta names whoever
    /// created the thread, not this run) or an unreadable first line.
    pub meta: Option<Meta>,
    /// The thread this launch resumed by id.
    pub resumed: bool,
    /// A thread the person picked in `codex resume`'s picker (known from
    /// what they typed into it, in codex's history.jsonl).
    pub picked: bool,
    from: u64,
    since_ms: i64,
    scan: OnceCell<Scan>,
}

/// Every session file the run wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<RunFile>,
}

impl Launch {
    /// Just before codex starts. For `resume ID` this costs three folder
    /// listings (the id names its day) and one stat.
    pub fn begin(dir: PathBuf, args: &[OsString]) -> Launch {
        Launch::at(dir, crate::base::time::now_ms(), args)
    }

    /// [`Launch::begin`] at a given time (Unix ms).
    pub fn at(dir: PathBuf, started_ms: i64, args: &[OsString]) -> Launch {
        let resumed = super::resumed_thread(args)
            .and_then(|id| walk::find_by_id(&dir, &id))
            .and_then(|e| {
                let len = std::fs::symlink_metadata(&e.path).ok()?.len();
                Some((e.path, len))
            });
        Launch {
            dir,
            started_ms,
            resumed,
            history: None,
        }
    }

    /// For an interactive `codex resume` that names no thread (its picker):
    /// the thread the person picks is learnt after the run from what they
    /// typed into it, which the TUI appends to `file` (codex's
    /// history.jsonl: `{"session_id", "ts", "text"}` per prompt). One stat
    /// now; after the run only what was appended, at most 1 MiB.
    pub fn with_history(mut self, file: PathBuf) -> Launch {
        let len = std::fs::symlink_metadata(&file)
            .map(|m| m.len())
            .unwrap_or(0);
        self.history = Some((file, len));
        self
    }

    /// The file of the thread this launch resumes, when known at launch.
    pub fn resumed_file(&self) -> Option<&Path> {
        self.resumed.as_ref().map(|(p, _)| p.as_path())
    }

    /// After codex exited: the files this run wrote (and files other runs
    /// created meanwhile; callers tell them apart by their meta).
    pub fn written(&self) -> Written {
        let mut files = Vec::new();
        let resumed = self.resumed_file();
        let from = Day::utc(self.started_ms, -1);
        for (_, dir) in walk::days(&self.dir, Some(from)) {
            for e in walk::rollouts_in(&dir) {
                if Some(e.path.as_path()) == resumed || !self.created_during(&e) {
                    continue;
                }
                let meta = match meta::read(&e.path) {
                    Read1::Meta(m) => Some(m),
                    _ => None,
                };
                files.push(self.file(e.path, e.id, meta, false, 0));
            }
        }
        if let Some((path, len)) = &self.resumed {
            if let Some(id) = super::thread_id_of(path) {
                files.push(self.file(path.clone(), id, None, true, *len));
            }
        }
        for id in self.typed_into() {
            if files.iter().any(|f| f.id == id) {
                continue;
            }
            if let Some(e) = walk::find_by_id(&self.dir, &id) {
                let meta = match meta::read(&e.path) {
                    Read1::Meta(m) => Some(m),
                    _ => None,
                };
                let mut f = self.file(e.path, e.id, meta, false, 0);
                f.picked = true;
                files.push(f);
            }
        }
        Written { files }
    }

    /// The threads prompts were typed into during the run, per the lines
    /// appended to codex's history.jsonl (at most 16, newest last).
    fn typed_into(&self) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Entry {
            session_id: String,
            ts: i64,
        }
        let Some((path, from)) = &self.history else {
            return Vec::new();
        };
        let Ok(mut file) = files::open_regular(path) else {
            return Vec::new();
        };
        let end = file.metadata().map(|m| m.len()).unwrap_or(0);
        if end <= *from || file.seek(SeekFrom::Start(*from)).is_err() {
            return Vec::new();
        }
        let appended = file.take((end - from).min(HISTORY_CAP));
        let mut lines = Lines::new(appended, LINE_CAP);
        let mut ids: Vec<String> = Vec::new();
        while let Some(line) = lines.next_line() {
            let Line::Text(bytes) = line else { continue };
            let Ok(e) = serde_json::from_slice::<Entry>(bytes) else {
                continue;
            };
            let fresh = e.ts.saturating_mul(1000) + 999 >= self.started_ms;
            if fresh && super::is_thread_id(&e.session_id) {
                ids.retain(|i| *i != e.session_id);
                ids.push(e.session_id);
            }
        }
        let extra = ids.len().saturating_sub(16);
        ids.drain(..extra);
        ids
    }

    fn created_during(&self, e: &walk::Entry) -> bool {
        is_new(e, self.started_ms)
    }

    fn file(
        &self,
        path: PathBuf,
        id: String,
        meta: Option<Meta>,
        resumed: bool,
        from: u64,
    ) -> RunFile {
        RunFile {
            path,
            id,
            meta,
            resumed,
            picked: false,
            from,
            since_ms: self.started_ms,
            scan: OnceCell::new(),
        }
    }
}

/// The sessions created under `dir` at or after `since_ms`, newest first,
/// with their meta, read lazily: a caller that stops early reads no more.
/// Day folders before `since_ms` are pruned by name; a file is told new by
/// the time in its id (its mtime only for ids without one).
pub fn created_since(
    dir: &Path,
    since_ms: i64,
) -> impl Iterator<Item = (walk::Entry, Option<Meta>)> {
    let days = walk::days(dir, Some(Day::utc(since_ms, -1)));
    days.into_iter().rev().flat_map(move |(_, d)| {
        walk::rollouts_in(&d)
            .into_iter()
            .rev()
            .filter(move |e| is_new(e, since_ms))
            .map(|e| {
                let meta = match meta::read(&e.path) {
                    Read1::Meta(m) => Some(m),
                    _ => None,
                };
                (e, meta)
            })
    })
}

/// Created at or after `since_ms`: by its name, else (an id without a
/// time) by the file's mtime.
fn is_new(e: &walk::Entry, since_ms: i64) -> bool {
    walk::created_since(e, since_ms).unwrap_or_else(|| {
        std::fs::symlink_metadata(&e.path)
            .ok()
            .and_then(|m| m.modified().ok())
            .map(crate::base::time::ms_of)
            .is_some_and(|t| t + 1_000 >= since_ms)
    })
}

/// A login: (user id, workspace id), as session_meta names its creator.
pub type Owner<'a> = (&'a str, &'a str);

impl RunFile {
    /// Created during the run by `owner`.
    pub fn created_by(&self, owner: Option<Owner>) -> bool {
        let (Some((user, workspace)), Some(m)) = (owner, &self.meta) else {
            return false;
        };
        m.user_id.as_deref() == Some(user)
            && m.account_id.as_deref() == Some(workspace)
            && m.created_ms.is_some_and(|t| t >= self.since_ms)
    }

    /// What the run appended to this file, read once.
    pub fn scan(&self) -> &Scan {
        self.scan
            .get_or_init(|| scan_file(&self.path, self.from, self.since_ms))
    }
}

impl Written {
    /// The session the run worked in, in `cwd`: the thread it resumed, else
    /// the newest session it created there (`owner`'s first, since other
    /// swops may have started sessions in the same folder meanwhile; not a
    /// sub-agent's), else the thread last picked in codex's picker there.
    pub fn session(&self, owner: Option<Owner>, cwd: &Path) -> Option<&RunFile> {
        if let Some(f) = self.files.iter().find(|f| f.resumed) {
            return Some(f);
        }
        let here = |f: &&RunFile| {
            f.meta
                .as_ref()
                .and_then(|m| m.cwd.as_deref())
                .is_some_and(|c| Path::new(c) == cwd)
        };
        // The owner's first, then a session the person started over one a
        // sub-agent of it started (its source is an object), then the newest.
        let newest = |f: &&RunFile| {
            let m = f.meta.as_ref();
            let top = m
                .and_then(|m| m.source.as_deref())
                .is_some_and(|s| !s.starts_with('{'));
            (f.created_by(owner), top, m.and_then(|m| m.created_ms))
        };
        let created = self.files.iter().filter(|f| !f.picked).filter(here);
        created
            .max_by_key(newest)
            .or_else(|| self.files.iter().filter(|f| f.picked).filter(here).last())
    }

    /// The files that provably hold `owner`'s turns of this run: the
    /// resumed thread, and sessions `owner` created during the run.
    pub fn owned_by<'a>(&'a self, owner: Option<Owner<'a>>) -> impl Iterator<Item = &'a RunFile> {
        self.files
            .iter()
            .filter(move |f| f.resumed || f.created_by(owner))
    }
}

/// Scans what was appended to `path` since it was `from` bytes long.
fn scan_file(path: &Path, from: u64, since_ms: i64) -> Scan {
    let Ok(file) = files::open_regular(path) else {
        return Scan::default();
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return Scan::default();
    };
    scan_region(file, from, len, since_ms)
}

/// Reads bytes `from..end` of `r` (at most the last [`SCAN_CAP`] of them)
/// line by line.
fn scan_region<R: Read + Seek>(mut r: R, from: u64, end: u64, since_ms: i64) -> Scan {
    let start = from.max(end.saturating_sub(SCAN_CAP)).min(end);
    let mut scan = Scan::default();
    // Started inside the region: the first line is whole only when the
    // byte before it ends a line.
    let mut partial = false;
    if start > from {
        let mut before = [0u8; 1];
        let ok = r.seek(SeekFrom::Start(start - 1)).is_ok() && r.read_exact(&mut before).is_ok();
        partial = !ok || before[0] != b'\n';
        scan.read += 1;
    }
    if r.seek(SeekFrom::Start(start)).is_err() {
        return scan;
    }
    let mut counted = Counted {
        inner: r.take(end - start),
        read: 0,
    };
    {
        let mut lines = Lines::new(&mut counted, LINE_CAP);
        if partial {
            lines.next_line();
        }
        while let Some(line) = lines.next_line() {
            let Line::Text(bytes) = line else { continue };
            let Ok(text) = std::str::from_utf8(bytes) else {
                continue;
            };
            if super::line_hits_limit(text, Some(since_ms)) {
                scan.limit_hit = true;
            }
            if let Some(l) = super::rate_limit_line(text).filter(|l| l.at_ms >= since_ms) {
                if scan.limits.as_ref().is_none_or(|old| l.at_ms >= old.at_ms) {
                    scan.limits = Some(l);
                }
            }
        }
    }
    scan.read += counted.read;
    scan
}

/// Writes a rollout the way codex names it, created at `ms` (UTC day
/// folder, v7 id; `n` tells ids of one instant apart). For tests.
#[cfg(test)]
pub fn write_rollout(root: &Path, ms: i64, n: u32, lines: &[String]) -> PathBuf {
    let day = Day::utc(ms, 0);
    let dir = root.join(day.key());
    std::fs::create_dir_all(&dir).unwrap();
    let id = format!("{:08x}-{:04x}-7000-8000-{n:012x}", ms >> 16, ms & 0xffff);
    let time = jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H-%M-%S");
    let path = dir.join(format!("rollout-{time}-{id}.jsonl"));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Counts what is read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(at: &str, weekly: f64) -> String {
        format!(
            r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":null,"rate_limits":{{"primary":{{"used_percent":1.0,"window_minutes":300,"resets_at":1}},"secondary":{{"used_percent":{weekly},"window_minutes":10080,"resets_at":2}}}}}}}}"#
        )
    }

    const AT_MS: i64 = 1_795_684_741_976; // 2026-11-26T09:19:01.976Z
    const AT: &str = "2026-11-26T09:19:01.976Z";

    #[test]
    fn only_the_appended_part_and_at_most_the_cap_is_read() {
        // A resumed rollout far larger than the cap: an earlier run's lines,
        // a hole of 3 caps, then this run's lines.
        let old = count("2026-11-26T09:00:00.000Z", 99.0) + "\n";
        let mine = format!("{}\n{}\n", count(AT, 12.0), count(AT, 13.0));
        let mut bytes = old.into_bytes();
        bytes.resize(3 * SCAN_CAP as usize, b' ');
        bytes.push(b'\n');
        let from = bytes.len() as u64;
        bytes.extend_from_slice(mine.as_bytes());
        let end = bytes.len() as u64;
        let scan = scan_region(std::io::Cursor::new(&bytes), from, end, AT_MS);
        assert_eq!(scan.read, mine.len() as u64, "only what was appended");
        let l = scan.limits.unwrap();
        assert_eq!(l.rate_limits["secondary"]["used_percent"], 13.0);
        // Everything appended, 3 caps and more: the last cap only.
        let scan = scan_region(std::io::Cursor::new(&bytes), 0, end, AT_MS);
        assert!(scan.read <= SCAN_CAP + 1, "read {}", scan.read);
        assert!(
            scan.limits.is_some(),
            "the newest lines are in the last cap"
        );
        // The end is fixed when the read begins: what a writer adds later
        // is not chased.
        let scan = scan_region(std::io::Cursor::new(&bytes), from, from, AT_MS);
        assert_eq!((scan.read, scan.limits), (0, None));
    }

    #[test]
    fn a_thread_picked_in_the_picker_is_known_from_the_prompts_typed_into_it() {
        let root = std::env::temp_dir().join(format!("swop-picked-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let t = crate::base::time::now_ms();
        let meta = |ms: i64| {
            format!(
                r#"{{"timestamp":"{s}","type":"session_meta","payload":{{"cwd":"/w","source":"cli","timestamp":"{s}"}}}}"#,
                s = jiff::Timestamp::from_millisecond(ms).unwrap()
            )
        };
        let old = write_rollout(&root, t - 30 * 86_400_000, 1, &[meta(t - 30 * 86_400_000)]);
        let id = super::super::thread_id_of(&old).unwrap();
        let history = root.join("history.jsonl");
        let before = r#"{"session_id":"01a24d14-ff3d-7e40-acfd-093a810f551c","ts":1,"text":"x"}"#;
        std::fs::write(&history, format!("{before}\n")).unwrap();
        let args: Vec<OsString> = vec!["resume".into()];
        let run = Launch::at(root.clone(), t, &args).with_history(history.clone());
        let typed = format!(
            r#"{{"session_id":"{id}","ts":{},"text":"go on"}}"#,
            t / 1000 + 1
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&history)
            .unwrap();
        std::io::Write::write_all(&mut f, format!("not json\n{typed}\n").as_bytes()).unwrap();
        let w = run.written();
        let s = w.session(None, Path::new("/w")).expect("the picked thread");
        assert_eq!(
            (s.id.as_str(), s.picked, s.resumed),
            (id.as_str(), true, false)
        );
        assert!(w.session(None, Path::new("/elsewhere")).is_none());
        assert_eq!(w.owned_by(None).count(), 0, "never learnt from");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_session_of_a_run_is_its_owners_own_not_a_sub_agents() {
        let root = std::env::temp_dir().join(format!("swop-session-of-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let t = crate::base::time::now_ms() + 60_000;
        let meta = |who: &str, source: &str, cwd: &str, ms: i64| {
            format!(
                r#"{{"type":"session_meta","payload":{{"creator_user_id":"user-{who}","creator_account_id":"acct-{who}","timestamp":"{}","cwd":"{cwd}","source":{source}}}}}"#,
                jiff::Timestamp::from_millisecond(ms).unwrap()
            )
        };
        let run = Launch::at(root.clone(), t, &[]);
        let main = write_rollout(&root, t + 10, 1, &[meta("a", r#""cli""#, "/w", t + 10)]);
        write_rollout(
            &root,
            t + 20,
            2,
            &[meta("a", r#"{"subagent":"review"}"#, "/w", t + 20)],
        );
        write_rollout(&root, t + 30, 3, &[meta("b", r#""cli""#, "/w", t + 30)]);
        write_rollout(
            &root,
            t + 40,
            4,
            &[meta("a", r#""cli""#, "/elsewhere", t + 40)],
        );
        let w = run.written();
        assert_eq!(w.files.len(), 4);
        let s = w
            .session(Some(("user-a", "acct-a")), Path::new("/w"))
            .unwrap();
        assert_eq!(s.path, main);
        let s = w
            .session(Some(("user-b", "acct-b")), Path::new("/w"))
            .unwrap();
        assert!(s.created_by(Some(("user-b", "acct-b"))));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_line_longer_than_the_line_cap_is_skipped() {
        let hit = r#"{"timestamp":"2026-11-26T09:19:01.976Z","type":"event_msg","payload":{"type":"task_complete","error":{"codex_error_info":"usage_limit_exceeded"}}}"#;
        // The limit hit hidden inside a line longer than the cap.
        let long = format!("{hit}{}\n", " ".repeat(LINE_CAP));
        let scan = scan_region(
            std::io::Cursor::new(long.as_bytes()),
            0,
            long.len() as u64,
            AT_MS,
        );
        assert!(!scan.limit_hit, "a skipped line is not read");
        let text = format!("{long}{hit}\n");
        let scan = scan_region(
            std::io::Cursor::new(text.as_bytes()),
            0,
            text.len() as u64,
            AT_MS,
        );
        assert!(scan.limit_hit, "the next line is read");
    }
}
