//! Finding rollout files by their names, before any stat: codex files a
//! session under `sessions/YYYY/MM/DD/` (the local date it was created) as
//! `rollout-YYYY-MM-DDThh-mm-ss-<thread id>.jsonl` (local time), and since
//! 2025 the thread id is a UUID v7 whose first 48 bits are the creation
//! time in Unix milliseconds (seen, codex 0.171.0, TZ=Pacific/Kiritimati:
//! folder `2026/12/07` and name `...T10-39-11-01a24d14-ff3d-7e40-...` for a
//! session created 2026-12-06 20:39:11 UTC, id time 20:39:11.421 UTC).
//!
//! So "what can a run that started at T have created" is answered by names:
//! folders dated on or after T's UTC date minus one day (local dates are
//! within a day of UTC dates), files whose id time is at or after T.
//!
//! Directory entries are typed by `DirEntry::file_type` (the kernel's
//! d_type, else lstat): a symbolic link is never followed, a FIFO or socket
//! never taken for a folder or a file. Only the root the caller names is
//! opened as given. Nothing here reads a file's content.

use std::path::{Path, PathBuf};

/// A calendar date as codex names its folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub y: u16,
    pub m: u8,
    pub d: u8,
}

impl Day {
    /// The UTC date of `ms` (Unix milliseconds) moved by `shift` days.
    pub fn utc(ms: i64, shift: i64) -> Day {
        let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let date = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
        let date = date
            .checked_add(jiff::Span::new().days(shift))
            .unwrap_or(date);
        Day {
            y: date.year().max(0) as u16,
            m: date.month() as u8,
            d: date.day() as u8,
        }
    }

    /// `YYYY/MM/DD`, the folder's path under `sessions/`.
    pub fn key(&self) -> String {
        format!("{:04}/{:02}/{:02}", self.y, self.m, self.d)
    }
}

/// One rollout file in a folder, known by its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub id: String,
    pub path: PathBuf,
}

/// Subfolders of `dir` named by exactly `width` digits with a value in
/// `lo..=hi`, with that value. Links and non-folders are passed over.
fn numbered(dir: &Path, width: usize, lo: u32, hi: u32) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            if name.len() != width || !name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = name.parse().ok()?;
            let is_dir = e.file_type().ok()?.is_dir();
            (is_dir && (lo..=hi).contains(&n)).then(|| (n, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The day folders under `root` dated on or after `from` (all with None),
/// oldest first. Costs one directory listing per year and month folder
/// entered; folders before `from` are pruned by name.
pub fn days(root: &Path, from: Option<Day>) -> Vec<(Day, PathBuf)> {
    let from = from.unwrap_or(Day { y: 0, m: 0, d: 0 });
    let mut out = Vec::new();
    for (y, ydir) in numbered(root, 4, from.y as u32, 9999) {
        let y = y as u16;
        let m_lo = if y == from.y { from.m as u32 } else { 1 };
        for (m, mdir) in numbered(&ydir, 2, m_lo.max(1), 12) {
            let m = m as u8;
            let d_lo = if (y, m) == (from.y, from.m) {
                from.d as u32
            } else {
                1
            };
            for (d, ddir) in numbered(&mdir, 2, d_lo.max(1), 31) {
                out.push((Day { y, m, d: d as u8 }, ddir));
            }
        }
    }
    out
}

/// The rollout files directly in `dir` (regular files by their directory
/// entry, named like codex names them), sorted by name: creation order.
pub fn rollouts_in(dir: &Path) -> Vec<Entry> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Entry> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = super::thread_id_of(Path::new(&name))?;
            e.file_type().ok()?.is_file().then(|| Entry {
                path: e.path(),
                name,
                id,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The creation time (Unix ms) a UUID v7 thread id carries.
pub fn id_time_ms(id: &str) -> Option<i64> {
    let b = id.as_bytes();
    if id.len() != 36 || b[14] != b'7' {
        return None;
    }
    let hex: String = id[..8].chars().chain(id[9..13].chars()).collect();
    i64::from_str_radix(&hex, 16).ok()
}

/// The local date and time in a rollout name, read as if it were UTC (Unix
/// ms): within 14 hours of the true creation time.
pub fn name_time_ms(name: &str) -> Option<i64> {
    let t = name.strip_prefix("rollout-")?.get(..19)?;
    let civil: jiff::civil::DateTime =
        jiff::civil::DateTime::strptime("%Y-%m-%dT%H-%M-%S", t).ok()?;
    let ts = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_millisecond())
}

/// Whether this file was created at or after `since_ms`, by its name
/// alone: Some when the name settles it, None when only the file's mtime
/// can (an id that is not v7 and a name time within a day of `since_ms`).
pub fn created_since(e: &Entry, since_ms: i64) -> Option<bool> {
    /// Clocks of swop and codex are one clock; a second covers rounding.
    const SLACK_MS: i64 = 1_000;
    /// A local time is within 14 hours of UTC; a day covers it.
    const DAY_MS: i64 = 86_400_000;
    if let Some(t) = id_time_ms(&e.id) {
        return Some(t + SLACK_MS >= since_ms);
    }
    match name_time_ms(&e.name) {
        Some(t) if t + DAY_MS < since_ms => Some(false),
        _ => None,
    }
}

/// The rollout file of thread `id` under `root`. A v7 id names its day
/// (three folders are listed); any other id costs a walk of every folder
/// by name (still no stat, no link followed).
pub fn find_by_id(root: &Path, id: &str) -> Option<Entry> {
    let wanted = |entries: Vec<Entry>| entries.into_iter().find(|e| e.id == id);
    if let Some(t) = id_time_ms(id) {
        let (lo, hi) = (Day::utc(t, -1), Day::utc(t, 1));
        return days(root, Some(lo))
            .into_iter()
            .take_while(|(d, _)| *d <= hi)
            .find_map(|(_, dir)| wanted(rollouts_in(&dir)));
    }
    days(root, None)
        .into_iter()
        .rev()
        .find_map(|(_, dir)| wanted(rollouts_in(&dir)))
        .or_else(|| wanted(rollouts_in(root)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v7_ids_carry_their_creation_time() {
        // Seen with codex 0.171.0: created 2026-12-06 20:39:11.421 UTC.
        let id = "01a24d14-ff3d-7e40-acfd-093a810f551c";
        let t = id_time_ms(id).unwrap();
        assert_eq!(
            jiff::Timestamp::from_millisecond(t).unwrap().to_string(),
            "2026-12-06T20:39:11.421Z"
        );
        assert_eq!(
            id_time_ms("0199a213-81c0-4800-8aa1-bbab2a035a53"),
            None,
            "v4"
        );
        assert_eq!(Day::utc(t, 0).key(), "2026/12/06");
        assert_eq!(Day::utc(t, 1).key(), "2026/12/07");
        assert_eq!(Day::utc(t, -6).key(), "2026/11/30");
        let name = "rollout-2026-12-07T10-39-11-01a24d14-ff3d-7e40-acfd-093a810f551c.jsonl";
        let local = name_time_ms(name).unwrap();
        assert_eq!(local - t, 14 * 3_600_000 - 421, "Kiritimati is UTC+14");
    }

    #[test]
    fn folders_are_pruned_by_name_and_links_never_entered() {
        let root = std::env::temp_dir().join(format!("swop-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in [
            "2025/12/31",
            "2026/01/01",
            "2026/02/15",
            "2026/x/01",
            "20267/01/01",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::os::unix::fs::symlink(&root, root.join("2027")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("2026/03")).unwrap();
        let keys = |v: Vec<(Day, PathBuf)>| v.iter().map(|(d, _)| d.key()).collect::<Vec<_>>();
        assert_eq!(
            keys(days(&root, None)),
            ["2025/12/31", "2026/01/01", "2026/02/15"]
        );
        let from = Day {
            y: 2026,
            m: 1,
            d: 2,
        };
        assert_eq!(keys(days(&root, Some(from))), ["2026/02/15"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
