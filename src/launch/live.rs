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
use std::io::Write;
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
        cwd: std::env::current_dir()
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
    // flock, as fslock uses too (`list` takes it with fslock).
    use std::os::unix::io::AsRawFd;
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(Registration { locked: f, path })
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
        let Ok(mut lock) = fslock::LockFile::open(&path) else {
            continue;
        };
        match lock.try_lock() {
            Ok(true) => {
                // Nobody holds it: the launch is gone.
                let _ = std::fs::remove_file(&path);
            }
            Ok(false) => {
                if let Some(s) = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                {
                    out.push(s);
                }
            }
            Err(_) => {}
        }
    }
    out.sort_by_key(|s: &LiveSession| s.started_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
