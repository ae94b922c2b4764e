//! Filesystem primitives every module uses: private directories, atomic
//! writes, and file locks created with private permissions.
//!
//! Every file swop writes goes through [`write_atomic`]: a temp file in the
//! same directory, fsync, rename. A crash at any instant leaves the old or the
//! new content, never a torn file. Directories are 0700, files 0600.

use crate::base::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `dir` and its missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("cannot create directory", dir, e))
}

/// Writes `bytes` to `path` atomically with mode 0600, durably (fsync of the
/// file and of the directory), for state that must survive a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, bytes, true)
}

/// The same without the fsyncs, for caches: a reader still sees the old or
/// the new content (rename is atomic), and what a power cut could tear is
/// detected as corrupt and rebuilt. Keeps fsync off `codex`'s hot path.
pub fn write_atomic_cache(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, bytes, false)
}

fn write_atomic_with(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            // Make the rename itself durable.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

/// A temp name next to `path`, unique per process and call; the pid in it
/// lets [`sweep_temp`] remove what a killed writer left.
fn temp_sibling(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// An exclusive advisory lock (flock) held until dropped. The lock file is
/// created 0600 before fslock opens it (fslock alone would create it 0644).
pub struct Lock {
    _file: fslock::LockFile,
}

fn open_lock(path: &Path) -> Result<fslock::LockFile> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("cannot create lock file", path, e))?;
    fslock::LockFile::open(path).map_err(|e| Error::io("cannot open lock file", path, e))
}

/// Blocks until the lock is held.
pub fn lock(path: &Path) -> Result<Lock> {
    let mut file = open_lock(path)?;
    file.lock().map_err(|e| Error::io("cannot lock", path, e))?;
    Ok(Lock { _file: file })
}

/// Takes the lock without blocking: `None` when someone else holds it.
pub fn try_lock(path: &Path) -> Result<Option<Lock>> {
    let mut file = open_lock(path)?;
    match file.try_lock() {
        Ok(true) => Ok(Some(Lock { _file: file })),
        Ok(false) => Ok(None),
        Err(e) => Err(Error::io("cannot lock", path, e)),
    }
}

/// Tries to take the lock until `wait` has passed: `None` on time-out, so a
/// hung holder can never hang the caller.
pub fn lock_within(path: &Path, wait: Duration) -> Result<Option<Lock>> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(l) = try_lock(path)? {
            return Ok(Some(l));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Deletes the temp files in `dir` that a process left behind when it died
/// mid-write: names starting with `.` whose owner pid (read by `owner`
/// from the name) is no longer running. A live owner is never disturbed.
/// Only regular files and links are removed, never followed. Best effort.
pub fn sweep_temp(dir: &Path, owner: impl Fn(&str) -> Option<i32>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !name.starts_with('.') || is_dir {
            continue;
        }
        if owner(&name).is_some_and(|pid| !crate::base::process::pid_alive(pid)) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The pid in a [`write_atomic`] temp name: `.NAME.tmp-PID-N`.
pub fn atomic_temp_owner(name: &str) -> Option<i32> {
    let (_, tail) = name.rsplit_once(".tmp-")?;
    tail.split('-').next()?.parse().ok()
}

/// Mode bits of `path` (without following a final symlink).
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::symlink_metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Sets a private mode (0700 for dirs, 0600 for files).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("cannot set permissions on", path, e))
}
