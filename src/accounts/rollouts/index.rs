//! The newest session per directory, for `resume --last` across accounts:
//! swop's own record of the shared sessions dir, so that asking costs a
//! listing of the year and month folders and one stat per day folder, not
//! a read of every rollout (50,000 first lines for a directory that has no
//! session at all).
//!
//! Kept in `$SWOP_HOME/cache/sessions/last.json` (0600, written whole and
//! renamed; a lost or corrupt file is rebuilt). For each day folder it
//! keeps the folder's inode and mtime when it was read, how many rollouts it
//! held and the greatest name among them; a folder whose stamp changed is
//! read again, only its new names when nothing else changed. For each
//! directory it keeps the newest session (any, and interactive only).
//!
//! "Newest" is the newest created (by the time in the thread id or name),
//! plus the threads swop itself resumed ([`touched`]), among which the
//! newest by mtime wins: codex orders `--last` by last update, which a
//! record cannot follow without a stat of every rollout, but the sessions
//! that get updated after their creation day are the ones swop resumed.
//! The answer is checked on disk before it is given; a session that was
//! deleted or archived since makes the record be rebuilt once.

use super::meta::{self, Meta, Read1};
use super::walk;
use crate::base::files;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;
/// The record is refused past this size (it is rebuilt instead).
const MAX_BYTES: u64 = 16 << 20;
/// Threads swop resumed, kept per directory.
const TOUCHED_PER_DIR: usize = 8;

/// What `--last` asks for.
pub struct Query<'a> {
    /// Only sessions started in this directory (None: `--all`).
    pub cwd: Option<&'a Path>,
    /// Skip `codex exec` sessions.
    pub interactive_only: bool,
}

/// A session found: its thread id and file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub path: PathBuf,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct Index {
    v: u32,
    root: String,
    /// Day folders by `YYYY/MM/DD` ("" for files in the root itself).
    days: BTreeMap<String, DayState>,
    /// Newest session per directory; "" for any directory.
    best: BTreeMap<String, Best>,
    /// Threads swop resumed, per directory ("" for any), newest last.
    touched: BTreeMap<String, Vec<Slot>>,
}

#[derive(Serialize, Deserialize, Default, Clone, PartialEq, Debug)]
struct DayState {
    /// (inode, mtime seconds, mtime nanoseconds) of the folder.
    stamp: (u64, i64, i64),
    count: usize,
    max: String,
    /// Names whose first line was still being written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pending: Vec<String>,
}

#[derive(Serialize, Deserialize, Default, Clone, Debug)]
struct Best {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tui: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
struct Slot {
    /// Relative to the root: `YYYY/MM/DD/rollout-....jsonl`.
    rel: String,
    tui: bool,
}

/// The newest session under `root` that `q` accepts; `file` is the record.
pub fn newest(file: &Path, root: &Path, q: &Query) -> Option<Found> {
    // Held from load to save, so a concurrent `touched` is never lost; a
    // record whose lock cannot be had is still read, only not written.
    let guard = lock(file);
    let mut idx = load(file, root);
    let mut changed = refresh(&mut idx, root);
    let mut answer = pick(&idx, root, q);
    if answer.as_ref().is_some_and(|(_, gone)| *gone) {
        // Deleted or archived since it was recorded: read everything again.
        idx = fresh(root);
        refresh(&mut idx, root);
        changed = true;
        answer = pick(&idx, root, q);
    }
    if changed && guard.is_some() {
        save(file, &idx);
    }
    answer.filter(|(_, gone)| !gone).map(|(f, _)| f)
}

/// Records that swop ran a resume of the thread in `path` (under `root`):
/// `--last` then weighs it by its mtime against the newest created.
pub fn touched(file: &Path, root: &Path, path: &Path) {
    let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) else {
        return;
    };
    let Read1::Meta(m) = meta::read(path) else {
        return;
    };
    let Some(_guard) = lock(file) else {
        return;
    };
    let mut idx = load(file, root);
    let slot = Slot {
        rel: rel.to_string(),
        tui: m.interactive(),
    };
    let mut changed = false;
    for key in keys(&m) {
        let list = idx.touched.entry(key).or_default();
        // Already the latest resumed here (the same thread again): the
        // record is unchanged, and is not written again.
        if list.last() == Some(&slot) {
            continue;
        }
        list.retain(|s| s.rel != slot.rel);
        list.push(slot.clone());
        let extra = list.len().saturating_sub(TOUCHED_PER_DIR);
        list.drain(..extra);
        changed = true;
    }
    if changed {
        save(file, &idx);
    }
}

/// The record's lock (`last.json.lock` beside it), waited for at most a
/// moment: the record is a cache, and a launch never waits long on one.
fn lock(file: &Path) -> Option<files::Lock> {
    if let Some(dir) = file.parent() {
        files::create_private_dir(dir).ok()?;
    }
    let path = file.with_extension("json.lock");
    files::lock_within(&path, std::time::Duration::from_secs(2))
        .ok()
        .flatten()
}

fn fresh(root: &Path) -> Index {
    Index {
        v: VERSION,
        root: root.to_string_lossy().into_owned(),
        ..Index::default()
    }
}

fn load(file: &Path, root: &Path) -> Index {
    files::read_regular(file, MAX_BYTES)
        .ok()
        .and_then(|b| serde_json::from_slice::<Index>(&b).ok())
        .filter(|i| i.v == VERSION && Path::new(&i.root) == root)
        .unwrap_or_else(|| fresh(root))
}

fn save(file: &Path, idx: &Index) {
    if let Some(dir) = file.parent() {
        if files::create_private_dir(dir).is_err() {
            return;
        }
    }
    let bytes = serde_json::to_vec(idx).expect("the index serialises");
    // Best effort: a record that cannot be written is rebuilt next time.
    let _ = files::write_atomic_cache(file, &bytes);
}

/// The directory keys a session counts under: its cwd and "".
fn keys(m: &Meta) -> Vec<String> {
    let mut out = vec![String::new()];
    if let Some(c) = &m.cwd {
        out.push(norm(Path::new(c)));
    }
    out
}

fn norm(p: &Path) -> String {
    p.components()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

/// Order of creation: the id's time (v7), else the name's, then the name.
fn order(rel: &str) -> (i64, &str) {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let t = super::thread_id_of(Path::new(name))
        .and_then(|id| walk::id_time_ms(&id))
        .or_else(|| walk::name_time_ms(name))
        .unwrap_or(0);
    (t, name)
}

fn stamp(dir: &Path) -> Option<(u64, i64, i64)> {
    let m = std::fs::symlink_metadata(dir).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec()))
}

/// Reads what changed since the record was written. True if it changed.
fn refresh(idx: &mut Index, root: &Path) -> bool {
    let mut folders: Vec<(String, PathBuf)> = walk::days(root, None)
        .into_iter()
        .map(|(d, p)| (d.key(), p))
        .collect();
    folders.push((String::new(), root.to_path_buf()));
    let before = idx.days.len();
    idx.days
        .retain(|k, _| folders.iter().any(|(key, _)| key == k));
    let mut changed = idx.days.len() != before;
    for (key, dir) in folders {
        // The stamp is taken before the listing: a file added meanwhile
        // leaves the folder stale, to be read again next time.
        let Some(now) = stamp(&dir) else { continue };
        let old = idx.days.get(&key).cloned();
        if old
            .as_ref()
            .is_some_and(|o| o.stamp == now && o.pending.is_empty())
        {
            continue;
        }
        changed = true;
        let state = read_day(idx, &key, &dir, now, old);
        idx.days.insert(key, state);
    }
    changed
}

/// Reads a day folder's new files (all of them when older names changed).
fn read_day(
    idx: &mut Index,
    key: &str,
    dir: &Path,
    now: (u64, i64, i64),
    old: Option<DayState>,
) -> DayState {
    let entries = walk::rollouts_in(dir);
    // Only names past the greatest one read before are new, unless the
    // older names changed too (a file removed or moved in): then all are.
    let all = old
        .as_ref()
        .is_none_or(|o| entries.iter().filter(|e| e.name <= o.max).count() != o.count);
    let is_new = |name: &str| match &old {
        Some(o) if !all => name > o.max.as_str() || o.pending.iter().any(|p| p == name),
        _ => true,
    };
    let mut pending = Vec::new();
    for e in entries.iter().filter(|e| is_new(&e.name)) {
        match meta::read(&e.path) {
            Read1::Meta(m) => {
                let rel = if key.is_empty() {
                    e.name.clone()
                } else {
                    format!("{key}/{}", e.name)
                };
                merge(idx, &rel, &m);
            }
            Read1::Incomplete => pending.push(e.name.clone()),
            Read1::Unusable => {}
        }
    }
    DayState {
        stamp: now,
        count: entries.len(),
        max: entries.last().map(|e| e.name.clone()).unwrap_or_default(),
        pending,
    }
}

fn merge(idx: &mut Index, rel: &str, m: &Meta) {
    let newer = |old: &Option<String>| old.as_deref().is_none_or(|o| order(rel) > order(o));
    for key in keys(m) {
        let best = idx.best.entry(key).or_default();
        if newer(&best.any) {
            best.any = Some(rel.to_string());
        }
        if m.interactive() && newer(&best.tui) {
            best.tui = Some(rel.to_string());
        }
    }
}

/// The answer, and whether the newest created session is gone from disk.
fn pick(idx: &Index, root: &Path, q: &Query) -> Option<(Found, bool)> {
    let key = q.cwd.map(norm).unwrap_or_default();
    let best = idx.best.get(&key).and_then(|b| {
        if q.interactive_only {
            b.tui.clone()
        } else {
            b.any.clone()
        }
    });
    let mtime = |rel: &str| {
        std::fs::symlink_metadata(root.join(rel))
            .ok()
            .filter(|m| m.is_file())
            .and_then(|m| m.modified().ok())
    };
    let best_time = best.as_deref().map(mtime);
    if best_time.as_ref().is_some_and(|t| t.is_none()) {
        let rel = best.unwrap_or_default();
        return Some((found(root, &rel)?, true));
    }
    let mut winner = best.zip(best_time.flatten());
    for s in idx.touched.get(&key).into_iter().flatten() {
        if q.interactive_only && !s.tui {
            continue;
        }
        let Some(t) = mtime(&s.rel) else { continue };
        if winner.as_ref().is_none_or(|(_, w)| t > *w) {
            winner = Some((s.rel.clone(), t));
        }
    }
    let (rel, _) = winner?;
    Some((found(root, &rel)?, false))
}

fn found(root: &Path, rel: &str) -> Option<Found> {
    let path = root.join(rel);
    let id = super::thread_id_of(&path)?;
    Some(Found { id, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct World {
        root: PathBuf,
        file: PathBuf,
    }

    impl World {
        fn new(tag: &str) -> World {
            let base =
                std::env::temp_dir().join(format!("swop-index-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            let root = base.join("sessions");
            std::fs::create_dir_all(&root).unwrap();
            World {
                file: base.join("cache/last.json"),
                root,
            }
        }
        /// A rollout created at `hms` on `day` in `cwd`; `n` makes the id.
        fn add(&self, day: &str, hms: &str, n: u32, cwd: &str, source: &str) -> PathBuf {
            let dir = self.root.join(day);
            std::fs::create_dir_all(&dir).unwrap();
            let date = day.replace('/', "-");
            let ms = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", format!("{date}T{hms}"))
                .unwrap()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_millisecond();
            let id = format!("{:08x}-{:04x}-7000-8000-{n:012x}", ms >> 16, ms & 0xffff);
            let name = format!("rollout-{date}T{}-{id}.jsonl", hms.replace(':', "-"));
            let path = dir.join(name);
            let meta = format!(
                r#"{{"type":"session_meta","payload":{{"id":"{id}","cwd":"{cwd}","source":"{source}"}}}}"#
            );
            std::fs::write(&path, meta + "\n").unwrap();
            path
        }
        fn newest(&self, cwd: Option<&str>, interactive_only: bool) -> Option<String> {
            let q = Query {
                cwd: cwd.map(Path::new),
                interactive_only,
            };
            newest(&self.file, &self.root, &q)
                .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        }
    }

    fn name(p: &Path) -> Option<String> {
        Some(p.file_name().unwrap().to_string_lossy().into_owned())
    }

    #[test]
    fn newest_per_directory_across_days_and_sources() {
        let w = World::new("basic");
        let a = w.add("2025/01/02", "10:00:00", 1, "/w", "cli");
        let b = w.add("2026/11/25", "09:00:00", 2, "/w", "exec");
        let c = w.add("2026/11/20", "09:00:00", 3, "/other", "cli");
        assert_eq!(w.newest(Some("/w"), false), name(&b));
        assert_eq!(
            w.newest(Some("/w"), true),
            name(&a),
            "exec sessions skipped"
        );
        assert_eq!(w.newest(Some("/w/"), true), name(&a), "the same directory");
        assert_eq!(w.newest(Some("/nowhere"), false), None);
        assert_eq!(w.newest(None, true), name(&c));
        // A session added later is found (only its folder is read again).
        let d = w.add("2026/11/25", "11:00:00", 4, "/w", "cli");
        assert_eq!(w.newest(Some("/w"), true), name(&d));
        // Deleted: the record is rebuilt and the next one answers.
        std::fs::remove_file(&d).unwrap();
        assert_eq!(w.newest(Some("/w"), true), name(&a));
        std::fs::remove_dir_all(w.root.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_session_swop_resumed_wins_by_its_mtime() {
        let w = World::new("touched");
        let old = w.add("2025/01/02", "10:00:00", 1, "/w", "cli");
        std::thread::sleep(std::time::Duration::from_millis(20));
        let new = w.add("2026/11/25", "09:00:00", 2, "/w", "cli");
        assert_eq!(w.newest(Some("/w"), true), name(&new));
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The old thread is resumed (appended to) through swop.
        let mut f = std::fs::OpenOptions::new().append(true).open(&old).unwrap();
        std::io::Write::write_all(&mut f, b"{}\n").unwrap();
        touched(&w.file, &w.root, &old);
        assert_eq!(w.newest(Some("/w"), true), name(&old));
        std::fs::remove_dir_all(w.root.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_same_thread_resumed_again_leaves_the_record_unwritten() {
        let w = World::new("again");
        let a = w.add("2025/01/02", "10:00:00", 1, "/w", "cli");
        let b = w.add("2025/01/03", "10:00:00", 2, "/w", "cli");
        let ino = |w: &World| std::fs::metadata(&w.file).unwrap().ino();
        touched(&w.file, &w.root, &a);
        let first = ino(&w);
        touched(&w.file, &w.root, &a);
        assert_eq!(ino(&w), first, "unchanged: not written again");
        // Another thread, then the first again: both change the record.
        touched(&w.file, &w.root, &b);
        let second = ino(&w);
        assert_ne!(second, first);
        touched(&w.file, &w.root, &a);
        assert_ne!(ino(&w), second);
        std::fs::remove_dir_all(w.root.parent().unwrap()).unwrap();
    }

    #[test]
    fn resumes_recorded_at_once_are_all_kept() {
        let w = World::new("concurrent");
        let paths: Vec<PathBuf> = (1..=TOUCHED_PER_DIR as u32)
            .map(|n| w.add("2025/01/02", &format!("10:00:0{n}"), n, "/w", "cli"))
            .collect();
        // Eight launches record their resume at the same moment: each
        // read-modify-write holds the record's lock, so none is lost.
        std::thread::scope(|s| {
            for p in &paths {
                let w = &w;
                s.spawn(move || touched(&w.file, &w.root, p));
            }
        });
        let idx = load(&w.file, &w.root);
        let mut kept: Vec<&str> = idx.touched[""].iter().map(|s| s.rel.as_str()).collect();
        kept.sort();
        assert_eq!(
            kept.len(),
            TOUCHED_PER_DIR,
            "every resume recorded: {kept:?}"
        );
        std::fs::remove_dir_all(w.root.parent().unwrap()).unwrap();
    }

    #[test]
    fn unchanged_folders_are_not_read_again() {
        let w = World::new("stamps");
        let a = w.add("2026/11/25", "09:00:00", 1, "/w", "cli");
        assert_eq!(w.newest(Some("/w"), true), name(&a));
        // Made unreadable behind the record's back, but its folder's stamp
        // is the same: the record answers without opening it.
        std::fs::write(&a, "garbage\n").unwrap();
        assert_eq!(w.newest(Some("/w"), true), name(&a));
        std::fs::remove_dir_all(w.root.parent().unwrap()).unwrap();
    }
}
