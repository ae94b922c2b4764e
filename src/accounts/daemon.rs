//! codex's background app server (the "daemon"): whether one runs in an
//! account's sandbox.
//!
//! Seen with codex 0.171.0 (README, "codex's background app server"): it is
//! started by `codex app-server daemon start`, `codex remote-control start`
//! or a plain TUI with no `-c` on its command line (never by a launch
//! through swop, which always passes one), copies the codex package into
//! `$CODEX_HOME/packages/app-server-daemon/` (about 420 MB), writes
//! `$CODEX_HOME/app-server-daemon/daemon.pid`, listens on
//! `$CODEX_HOME/app-server-control/app-server-control.sock`, and keeps
//! running with that home's login after the codex that started it has
//! exited; a separate updater process (`daemon-updater.pid`) even outlives
//! `codex app-server daemon stop`. In an account sandbox the server keeps
//! the account in use: `swop ps` shows it and `swop logout` stops it first.
//!
//! codex's pid files are hostile input: read through `files::read_regular`
//! (no link, no FIFO, 4 KiB at most), and a pid is trusted only when that
//! process is the one the file describes: same boot and same start time on
//! Linux (codex records both), so a reused pid is never taken for the
//! server. Never starts anything; signals only a verified updater.

use crate::base::files;
use serde::Deserialize;
use std::path::{Path, PathBuf};

const PID_CAP: u64 = 4096;

/// A background server process of one codex home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub pid: u32,
    /// Unix seconds, when the system says (Linux).
    pub started_at: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PidFile {
    pid: u32,
    process_identity: Option<Identity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity {
    boot_id: Option<String>,
    start_ticks: Option<u64>,
}

pub fn pid_file(home: &Path) -> PathBuf {
    home.join("app-server-daemon").join("daemon.pid")
}

fn updater_pid_file(home: &Path) -> PathBuf {
    home.join("app-server-daemon").join("daemon-updater.pid")
}

/// The background app server running for the codex home `home`, if any.
pub fn running(home: &Path) -> Option<Server> {
    verified(&pid_file(home))
}

/// Its updater (`codex app-server daemon pid-update-loop`), if it runs.
pub fn updater(home: &Path) -> Option<Server> {
    verified(&updater_pid_file(home))
}

/// Stops a verified updater of `home` (it outlives `daemon stop`, and has
/// nothing left to update once the sandbox is gone). True when one was told
/// to stop.
pub fn terminate_updater(home: &Path) -> bool {
    match updater(home) {
        // SAFETY: kill on a pid verified just now to be the updater.
        Some(s) => unsafe { libc::kill(s.pid as libc::pid_t, libc::SIGTERM) == 0 },
        None => false,
    }
}

/// Stops the verified server of `home` with SIGTERM (when codex's own
/// `daemon stop` could not). True when one was told to stop.
pub fn terminate(home: &Path) -> bool {
    match running(home) {
        // SAFETY: kill on a pid verified just now to be the server.
        Some(s) => unsafe { libc::kill(s.pid as libc::pid_t, libc::SIGTERM) == 0 },
        None => false,
    }
}

/// The process a codex pid file names, if it still is that process.
fn verified(file: &Path) -> Option<Server> {
    let bytes = files::read_regular(file, PID_CAP).ok()?;
    let f: PidFile = serde_json::from_slice(&bytes).ok()?;
    if f.pid <= 1 || f.pid > i32::MAX as u32 {
        return None;
    }
    // SAFETY: signal 0 only asks whether the process exists.
    let alive = unsafe { libc::kill(f.pid as libc::pid_t, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !alive {
        return None;
    }
    let id = f.process_identity;
    let (boot, ticks) = match &id {
        Some(i) => (i.boot_id.as_deref(), i.start_ticks),
        None => (None, None),
    };
    match proc::identity(f.pid) {
        // Linux: the same boot and the same start, or not ours.
        Some((now_boot, now_ticks)) => {
            let same_boot = boot.is_none_or(|b| b == now_boot);
            let same_start = ticks.is_none_or(|t| t == now_ticks);
            (same_boot && same_start).then(|| Server {
                pid: f.pid,
                started_at: proc::started_at(now_ticks),
            })
        }
        // Elsewhere: alive is all the system says.
        None => Some(Server {
            pid: f.pid,
            started_at: None,
        }),
    }
}

#[cfg(target_os = "linux")]
mod proc {
    use crate::base::files;
    use std::path::Path;

    /// (boot id, start time in clock ticks since boot) of `pid`.
    pub fn identity(pid: u32) -> Option<(String, u64)> {
        let boot = files::read_regular(Path::new("/proc/sys/kernel/random/boot_id"), 128).ok()?;
        let boot = String::from_utf8(boot).ok()?.trim().to_string();
        let stat = files::read_regular(Path::new(&format!("/proc/{pid}/stat")), 4096).ok()?;
        let stat = String::from_utf8_lossy(&stat);
        // "pid (comm) state ppid ...": comm may hold spaces and parens;
        // the fields after the last ')' start at field 3, starttime is 22.
        let rest = &stat[stat.rfind(')')? + 1..];
        let ticks = rest.split_whitespace().nth(19)?.parse().ok()?;
        Some((boot, ticks))
    }

    /// Unix seconds of a start time in ticks since boot.
    pub fn started_at(ticks: u64) -> Option<i64> {
        let stat = files::read_regular(Path::new("/proc/stat"), 1 << 20).ok()?;
        let btime: i64 = String::from_utf8_lossy(&stat)
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| btime + (ticks / hz as u64) as i64)
    }
}

#[cfg(not(target_os = "linux"))]
mod proc {
    pub fn identity(_pid: u32) -> Option<(String, u64)> {
        None
    }
    pub fn started_at(_ticks: u64) -> Option<i64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "swop-daemon-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("app-server-daemon")).unwrap();
        d
    }

    fn write(home: &Path, text: &str) {
        std::fs::write(pid_file(home), text).unwrap();
    }

    /// A pid file naming this test process, as codex writes them.
    fn own(boot: &str, ticks: u64) -> String {
        format!(
            r#"{{"pid":{},"processStartTime":"x","processIdentity":{{"bootId":"{boot}","startTicks":{ticks}}},"executableIdentity":{{"digest":[1]}}}}"#,
            std::process::id()
        )
    }

    #[test]
    fn only_the_process_the_file_describes_counts() {
        let h = home();
        assert_eq!(running(&h), None, "no file");
        #[cfg(target_os = "linux")]
        {
            let (boot, ticks) = proc::identity(std::process::id()).unwrap();
            write(&h, &own(&boot, ticks));
            let s = running(&h).expect("this process, as described");
            assert_eq!(s.pid, std::process::id());
            let now = crate::base::time::now();
            assert!(s
                .started_at
                .is_some_and(|t| t <= now && t > now - 86_400 * 365));
            // The same pid with another start time: a reused pid.
            write(&h, &own(&boot, ticks + 1));
            assert_eq!(running(&h), None);
            write(&h, &own("another-boot", ticks));
            assert_eq!(running(&h), None);
        }
        // A dead pid, garbage, pid 1, a link and a FIFO: nothing.
        write(&h, r#"{"pid":2147483646}"#);
        assert_eq!(running(&h), None);
        write(&h, r#"{"pid":1}"#);
        assert_eq!(running(&h), None);
        write(&h, "not json");
        assert_eq!(running(&h), None);
        std::fs::remove_file(pid_file(&h)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", pid_file(&h)).unwrap();
        assert_eq!(running(&h), None);
        std::fs::remove_file(pid_file(&h)).unwrap();
        let c = std::ffi::CString::new(pid_file(&h).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(running(&h), None);
        assert!(
            !terminate_updater(&h),
            "nothing verified, nothing signalled"
        );
        std::fs::remove_dir_all(&h).unwrap();
    }
}
