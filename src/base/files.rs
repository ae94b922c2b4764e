//! Filesystem primitives every module uses: private directories, atomic
//! writes, and file locks created with private permissions.
//!
//! Every file swop writes goes through [`write_atomic`]: a temp file in the
//! same directory, fsync, rename. A crash at any instant leaves the old or the
//! new content, never a torn file. Directories are 0700, files 0600.
//!
//! Every file swop reads that someone else could have planted (its own state
//! files, codex's rollouts) goes through [`open_regular`] / [`read_regular`]:
//! never through a final symlink, never blocking on a FIFO or a device, and
//! never more than a stated number of bytes.

use crate::base::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
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

/// Why [`open_regular`] or [`read_regular`] refused a file. `Missing` is the
/// usual "not there yet"; the others mean something else sits where swop
/// expects a plain file of its own (or codex's), and nothing was read.
#[derive(Debug)]
pub enum ReadError {
    Missing,
    /// A symbolic link: never followed.
    Link,
    /// A FIFO, socket, device or directory.
    NotRegular,
    /// Larger than the cap the caller named (in bytes).
    TooLarge(u64),
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => write!(f, "does not exist"),
            ReadError::Link => write!(f, "is a symbolic link (refused, never followed)"),
            ReadError::NotRegular => write!(f, "is not a regular file"),
            ReadError::TooLarge(cap) => write!(f, "is larger than {cap} bytes"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Opens `path` for reading only if it is a regular file: `O_NOFOLLOW` (a
/// final symlink is refused, not followed) and `O_NONBLOCK` (a FIFO cannot
/// block the open), then `fstat` on what was opened (no race with a swap).
/// The returned file is blocking again, for plain reads.
pub fn open_regular(path: &Path) -> std::result::Result<File, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => ReadError::Missing,
            Some(libc::ELOOP) => ReadError::Link,
            // Linux and macOS answer a final link with ELOOP; the BSDs
            // with EMLINK.
            Some(libc::EMLINK) => ReadError::Link,
            _ => ReadError::Io(e),
        })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular);
    }
    set_blocking(&file);
    Ok(file)
}

/// Clears `O_NONBLOCK` again: on a regular file it changes nothing for
/// reads, but callers may hand the file on.
fn set_blocking(file: &File) {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; failure leaves it non-blocking,
    // which a regular file does not mind.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// The whole content of the regular file at `path`, refused (nothing kept)
/// when it is larger than `cap` bytes: by its size first, and by what is
/// actually read, since a file can grow between the `fstat` and the read.
pub fn read_regular(path: &Path, cap: u64) -> std::result::Result<Vec<u8>, ReadError> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(ReadError::Io)?.len();
    if len > cap {
        return Err(ReadError::TooLarge(cap));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "swop-files-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn read_regular_reads_a_plain_file_and_refuses_links_fifos_and_size() {
        let d = dir();
        let plain = d.join("plain.json");
        fs::write(&plain, b"{}").unwrap();
        assert_eq!(read_regular(&plain, 2).unwrap(), b"{}");
        assert!(matches!(
            read_regular(&plain, 1),
            Err(ReadError::TooLarge(1))
        ));
        assert!(matches!(
            read_regular(&d.join("absent"), 9),
            Err(ReadError::Missing)
        ));

        let link = d.join("link.json");
        std::os::unix::fs::symlink(&plain, &link).unwrap();
        assert!(matches!(read_regular(&link, 9), Err(ReadError::Link)));
        let zero = d.join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_regular(&zero, 9), Err(ReadError::Link)));

        // A FIFO with no writer: a plain open would block forever.
        let fifo = d.join("fifo.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_regular(&fifo, 9), Err(ReadError::NotRegular)));
        assert!(matches!(read_regular(&d, 9), Err(ReadError::NotRegular)));
        fs::remove_dir_all(&d).unwrap();
    }
}
