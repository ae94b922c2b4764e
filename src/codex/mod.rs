//! The real codex: finding it without ever finding ourselves, and building
//! the commands swop runs it with (login, logout, app-server, the child).
//!
//! Search order: `SWOP_CODEX`, then `codex_path` in swop.toml, then the first
//! `codex` on PATH that is not swop: shim dirs are skipped, and so is any
//! candidate that is the running executable (same canonical path, or the same
//! inode, which also catches hard links and copies made by `ln`).
//!
//! Unit `codex/`: the binary, the [`Codex`] runner, login into a home
//! (`login`), a JSON-RPC session with `codex app-server` (`app_server`),
//! signal forwarding (`signals`). Never picks an account and never
//! reads usage: it runs codex where it is told to.

pub mod app_server;
pub mod help;
pub mod login;
pub mod record;
mod runner;
pub mod signals;
pub mod versions;

pub use runner::{Codex, HomeCommand};

use crate::base::error::{exit, Error, Result};
use crate::base::paths::{env_nonempty, Paths};
use crate::config::Config;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Incremented for every codex swop starts; a loop of shims stops at LIMIT.
pub const DEPTH_VAR: &str = "SWOP_DEPTH";
pub const DEPTH_LIMIT: u32 = 20;

/// The name of the inherited marker that carries the depth where the
/// environment does not reach: `swop-depth-N`.
const DEPTH_MARK: &str = "swop-depth-";

/// Variables that make codex ignore the account swop chose.
pub const OVERRIDING_VARS: &[&str] = &["CODEX_API_KEY", "CODEX_ACCESS_TOKEN"];

/// How many swops started this process in a chain: the larger of
/// SWOP_DEPTH and, on Linux, the inherited depth marker. A wrapper that
/// clears the environment (`env -i ... codex`) drops SWOP_DEPTH but not
/// the marker, an open memfd named `swop-depth-N` that every codex swop
/// starts inherits (see [`mark_depth`]). Elsewhere only SWOP_DEPTH counts.
pub fn depth() -> u32 {
    static DEPTH: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *DEPTH.get_or_init(|| {
        let from_env = crate::base::context::var_str(DEPTH_VAR)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        from_env.max(inherited_depth())
    })
}

/// The deepest `swop-depth-N` memfd among this process's descriptors.
#[cfg(target_os = "linux")]
fn inherited_depth() -> u32 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            let n = t.strip_prefix("/memfd:")?.strip_prefix(DEPTH_MARK)?;
            n.split(' ').next()?.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn inherited_depth() -> u32 {
    0
}

/// Makes `cmd` carry depth + 1: in SWOP_DEPTH and, on Linux, in an
/// inherited memfd marker that survives `env -i`. The memfd is made once
/// per process (close-on-exec, so only the commands marked here get it).
pub fn mark_depth(cmd: &mut Command) -> &mut Command {
    let next = depth() + 1;
    cmd.env(DEPTH_VAR, next.to_string());
    #[cfg(target_os = "linux")]
    {
        static MARK: std::sync::OnceLock<Option<i32>> = std::sync::OnceLock::new();
        let fd = *MARK.get_or_init(|| {
            let name = std::ffi::CString::new(format!("{DEPTH_MARK}{next}")).ok()?;
            let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
            (fd >= 0).then_some(fd)
        });
        if let Some(fd) = fd {
            crate::base::process::inherit_fd(cmd, fd);
        }
    }
    cmd
}

/// Stops a runaway chain of swop -> codex -> swop before it forks forever.
pub fn check_depth() -> Result<()> {
    let d = depth();
    if d >= DEPTH_LIMIT {
        return Err(Error::new(format!(
            "infinite recursion detected: swop started codex {d} times in a chain"
        ))
        .help("the `codex` swop runs leads back to swop (perhaps through a wrapper); set SWOP_CODEX to the real codex binary")
        .code(exit::NO_CODEX));
    }
    Ok(())
}

struct SelfId {
    canonical: Option<PathBuf>,
    inode: Option<(u64, u64)>,
}

fn self_id() -> SelfId {
    let exe = crate::base::context::exe();
    let canonical = exe.as_ref().and_then(|e| e.canonicalize().ok());
    let inode = exe
        .as_ref()
        .and_then(|e| std::fs::metadata(e).ok())
        .map(|m| (m.dev(), m.ino()));
    SelfId { canonical, inode }
}

impl SelfId {
    fn is_me(&self, p: &Path) -> bool {
        if let (Some(me), Ok(c)) = (&self.canonical, p.canonicalize()) {
            if *me == c {
                return true;
            }
        }
        match (self.inode, std::fs::metadata(p)) {
            (Some(me), Ok(m)) => me == (m.dev(), m.ino()),
            _ => false,
        }
    }
}

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Where the real codex was found.
pub(crate) struct Found {
    pub binary: PathBuf,
    /// Found through the path `swop ide` recorded, not through PATH: its
    /// directory joins the PATH of the codex swop starts (an npm-installed
    /// codex is a node script, and nvm keeps `node` beside it).
    pub path_dir: Option<PathBuf>,
}

impl From<PathBuf> for Found {
    fn from(binary: PathBuf) -> Found {
        Found {
            binary,
            path_dir: None,
        }
    }
}

/// Finds the real codex: SWOP_CODEX, codex_path, PATH, then the path
/// `swop ide` recorded. The error names everything that was searched.
fn find(cfg: &Config, paths: &Paths) -> Result<Found> {
    let me = self_id();
    let explicit = |p: PathBuf, source: &str| -> Result<PathBuf> {
        if me.is_me(&p) {
            return Err(Error::new(format!(
                "{source} points to swop itself ('{}'), not to the real codex",
                p.display()
            ))
            .help("point it at the real codex binary, e.g. the one `npm install -g @openai/codex` installed")
            .code(exit::NO_CODEX));
        }
        if !is_executable_file(&p) {
            return Err(Error::new(format!(
                "{source} is '{}', which is not an executable file",
                p.display()
            ))
            .help("fix the path, or unset it to search PATH")
            .code(exit::NO_CODEX));
        }
        Ok(p)
    };
    if let Some(p) = env_nonempty("SWOP_CODEX") {
        return explicit(PathBuf::from(p), "SWOP_CODEX").map(Found::from);
    }
    if let Some(p) = &cfg.codex_path {
        return explicit(
            crate::base::paths::expand_tilde(p)?,
            "codex_path in swop.toml",
        )
        .map(Found::from);
    }
    let shim = paths.shim_dir();
    let shim_canon = shim.canonicalize().ok();
    let path_var = crate::base::context::var("PATH").unwrap_or_default();
    let mut skipped = Vec::new();
    for dir in std::env::split_paths(&path_var) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let candidate = dir.join("codex");
        if !is_executable_file(&candidate) {
            continue;
        }
        let in_shim =
            dir == shim || (shim_canon.is_some() && dir.canonicalize().ok() == shim_canon);
        if in_shim || me.is_me(&candidate) {
            skipped.push(candidate.display().to_string());
            continue;
        }
        return Ok(candidate.into());
    }
    let mut msg = String::from("cannot find the real codex: searched SWOP_CODEX (unset), codex_path in swop.toml (unset) and PATH");
    if !skipped.is_empty() {
        msg.push_str(&format!(
            "; skipped {} because it is swop's own shim",
            skipped.join(", ")
        ));
    }
    match record::load(paths) {
        Some(p) => {
            let in_shim = p.parent().is_some_and(|d| {
                d == shim || (shim_canon.is_some() && d.canonicalize().ok() == shim_canon)
            });
            if !in_shim && !me.is_me(&p) && is_executable_file(&p) {
                let path_dir = p.parent().map(Path::to_path_buf);
                return Ok(Found {
                    binary: p,
                    path_dir,
                });
            }
            msg.push_str(&format!(
                "; the path `swop ide` recorded, '{}', is not the real codex (gone, not executable, or swop itself)",
                p.display()
            ));
        }
        None => msg.push_str("; no path recorded by `swop ide`"),
    }
    Err(Error {
        message: msg,
        ..not_found()
    })
}

/// The error for "there is no real codex", with the fix.
fn not_found() -> Error {
    Error::new("cannot find the real codex")
        .help("install codex (npm install -g @openai/codex) so that it is on PATH, or set SWOP_CODEX=/path/to/codex")
        .code(exit::NO_CODEX)
}

/// Waits for `child` at most `limit`; kills it when the time is up.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Stops the background app server of the codex home `home` the way codex
/// does it (`codex app-server daemon stop`), within `limit`, and then its
/// updater, which `daemon stop` leaves running (seen, 0.171.0); as a last
/// resort the verified server process itself. True when none is left.
pub fn stop_daemon(codex: &Codex, home: &Path, limit: Duration) -> bool {
    use crate::accounts::daemon;
    if daemon::running(home).is_some() {
        if let Ok(hc) = codex.in_home(home) {
            let mut cmd = hc.command;
            cmd.args(["app-server", "daemon", "stop"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            if let Ok(mut child) = cmd.spawn() {
                wait_bounded(&mut child, limit);
            }
        }
        if daemon::running(home).is_some() {
            daemon::terminate(home);
        }
    }
    daemon::terminate_updater(home);
    // A signalled process needs a moment to go.
    let deadline = Instant::now() + Duration::from_secs(2);
    while daemon::running(home).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon::running(home).is_none()
}

/// What `codex ARG` prints on stdout (at most `cap` bytes) and how it
/// exits, within `limit` whatever codex does: stdout is read on a thread,
/// so a codex that hangs (or leaves a grandchild holding the pipe) is
/// killed at the bound, never waited for. None when it cannot start or
/// does not exit in time.
pub fn bounded_output(
    codex: &Codex,
    arg: &str,
    cap: u64,
    limit: Duration,
) -> Option<(ExitStatus, Vec<u8>)> {
    let mut child = codex
        .plain()
        .ok()?
        .arg(arg)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + limit;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(so) = child.stdout.take() {
        std::thread::spawn(move || {
            use std::io::Read;
            let mut out = Vec::new();
            let _ = so.take(cap).read_to_end(&mut out);
            let _ = tx.send(out);
        });
    }
    let out = rx.recv_timeout(limit).unwrap_or_default();
    let left = deadline.saturating_duration_since(Instant::now());
    let status = wait_bounded(&mut child, left)?;
    Some((status, out))
}

/// `codex --version` output, for doctor, within `limit` (see
/// [`bounded_output`]).
pub fn version(codex: &Codex, limit: Duration) -> Option<String> {
    let (_, out) = bounded_output(codex, "--version", 64 << 10, limit)?;
    let v = String::from_utf8_lossy(&out).trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// Runs `cmd` as swop's child with stdio inherited and signals forwarded;
/// returns codex's exit code (128+N when a signal ended it).
pub fn run_attached(cmd: Command) -> Result<i32> {
    run_attached_full(cmd).map(|a| a.code)
}

/// How an attached child ended.
pub struct Attached {
    /// codex's exit code (128+N when signal N ended it).
    pub code: i32,
    /// A SIGINT (Ctrl-C) arrived while it ran.
    pub interrupted: bool,
}

/// [`run_attached`], also saying whether Ctrl-C was pressed meanwhile.
pub fn run_attached_full(cmd: Command) -> Result<Attached> {
    run_attached_with(cmd, |_| ()).map(|(a, ())| a)
}

/// [`run_attached_full`], with `attach` called on the child once it runs
/// (to take the pipes `cmd` asked for); also returns what `attach` made.
pub fn run_attached_with<T>(
    mut cmd: Command,
    attach: impl FnOnce(&mut Child) -> T,
) -> Result<(Attached, T)> {
    let forwarder = signals::Forwarder::install();
    // A signal between spawn and set_child waits, then is forwarded.
    let blocked = signals::block(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start codex: {e}")).code(exit::NO_CODEX))?;
    forwarder.set_child(child.id());
    drop(blocked);
    let made = attach(&mut child);
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("lost track of codex: {e}")))?;
    let interrupted = forwarder.interrupted();
    drop(forwarder);
    let code = signals::exit_code(status);
    Ok((Attached { code, interrupted }, made))
}
