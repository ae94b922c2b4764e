//! Live sessions: each launch registers itself for its account for its whole
//! life, in `live/<account>/<pid>.json`, and holds an flock on that file. The
//! kernel drops the lock when the process dies, however it dies, so a reader
//! that can take the lock knows the entry is stale and removes it: no cleanup
//! is ever needed after a crash, and pid reuse cannot fake a live session.
//!
//! The codex a launch starts inherits the locked descriptor
//! ([`Registration::inherit_into`]), and an flock lives as long as any
//! descriptor of it: if swop itself is killed (kill -9), the session stays
//! live, and `swop logout` keeps refusing, until codex (and anything codex
//! left running with the descriptor) ends.

use crate::base::error::Result;
use crate::base::files;
use crate::base::paths::Paths;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveSession {
    pub pid: u32,
    pub started_at: i64,
    pub cwd: String,
    /// The rollout the launch writes into, when known at launch (a thread
    /// resumed by id), so `swop ps` needs no search for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
}

/// Held for the launch's lifetime; dropping it ends the registration.
pub struct Registration {
    /// The entry itself, open and flock'ed.
    locked: std::fs::File,
    path: std::path::PathBuf,
}

impl Registration {
    /// Makes the process `cmd` starts inherit the locked descriptor (it is
    /// close-on-exec in swop), so the lock outlives swop for as long as
    /// codex runs.
    pub fn inherit_into(&self, cmd: &mut std::process::Command) {
        use std::os::unix::io::AsRawFd;
        crate::base::process::inherit_fd(cmd, self.locked.as_raw_fd());
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Registers this launch on `account`; `rollout`: the session file it
/// resumes, when known.
pub fn register(
    paths: &Paths,
    account: &str,
    rollout: Option<&std::path::Path>,
) -> Result<Registration> {
    let dir = paths.live_dir(account);
    files::create_private_dir(&dir)?;
    let pid = std::process::id();
    let entry = LiveSession {
        pid,
        started_at: crate::base::time::now(),
        cwd: crate::base::context::cwd()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        rollout: rollout.map(|p| p.display().to_string()),
    };
    // Written and locked under a hidden name, then renamed: a reader never
    // sees an unlocked entry and mistakes it for a stale one.
    let tmp = paths.live_temp(account, pid);
    let path = dir.join(format!("{pid}.json"));
    let io = |e| crate::base::error::Error::io("cannot register the session in", &dir, e);
    // Our own pid's leftover (a pid reused after a crash) is unlinked, never
    // followed; then the name is created afresh, refusing a planted link.
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(&serde_json::to_vec(&entry).expect("serialises"))
        .map_err(io)?;
    // flock, as `list` takes it (`try_flock`).
    use std::os::unix::io::AsRawFd;
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(Registration { locked: f, path })
}

/// An entry is a pid, a time and a directory; anything past this is not ours.
const ENTRY_MAX: u64 = 64 << 10;

/// flock(LOCK_EX | LOCK_NB) on `file` (the lock `register` holds, taken on
/// a descriptor of its own): Some(true) taken (the entry is stale, and the
/// lock goes with `file`), Some(false) held by a live launch.
fn try_flock(file: &std::fs::File) -> Option<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Some(true);
    }
    (std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)).then_some(false)
}

/// The live sessions of `account`; stale entries are removed on the way.
pub fn list(paths: &Paths, account: &str) -> Vec<LiveSession> {
    let dir = paths.live_dir(account);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let path = e.path();
        // A link, FIFO or device in place of an entry is not a session of
        // ours: skipped, never followed, never waited on.
        let Ok(file) = files::open_regular(&path) else {
            continue;
        };
        match try_flock(&file) {
            Some(true) => {
                // Nobody holds it: the launch is gone.
                let _ = std::fs::remove_file(&path);
            }
            Some(false) => {
                let mut bytes = Vec::new();
                let read = (&file).take(ENTRY_MAX).read_to_end(&mut bytes);
                if let Some(s) = read.ok().and_then(|_| serde_json::from_slice(&bytes).ok()) {
                    out.push(s);
                }
            }
            None => {}
        }
    }
    out.sort_by_key(|s: &LiveSession| s.started_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_entry_is_never_followed_nor_waited_on() {
        let root = std::env::temp_dir().join(format!("swop-live-planted-{}", std::process::id()));
        let paths = Paths { home: root.clone() };
        let dir = paths.live_dir("a");
        files::create_private_dir(&dir).unwrap();
        // Another launch's entry, held: a link to it must not count.
        let other = register(&paths, "b", None).unwrap();
        let held = paths
            .live_dir("b")
            .join(format!("{}.json", std::process::id()));
        std::os::unix::fs::symlink(&held, dir.join("1.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("2.json")).unwrap();
        let fifo = std::ffi::CString::new(dir.join("3.json").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(list(&paths, "a").is_empty());
        assert_eq!(list(&paths, "b").len(), 1, "the real entry still counts");
        drop(other);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_planted_link_at_the_temp_name_is_never_followed() {
        let root = std::env::temp_dir().join(format!("swop-live-{}", std::process::id()));
        let paths = Paths { home: root.clone() };
        let dir = paths.live_dir("a");
        files::create_private_dir(&dir).unwrap();
        let victim = root.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        let reg = register(&paths, "a", None).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(list(&paths, "a").len(), 1);
        drop(reg);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
