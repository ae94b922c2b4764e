//! The real codex: finding it without ever finding ourselves, and building
//! the commands swop runs it with (login, logout, app-server, the child).
//!
//! Search order: `SWOP_CODEX`, then `codex_path` in swop.toml, then the first
//! `codex` on PATH that is not swop: shim dirs are skipped, and so is any
//! candidate that is the running executable (same canonical path, or the same
//! inode, which also catches hard links and copies made by `ln`).
//!
//! Unit `codex/`: the binary, the [`Codex`] runner, login into a home
//! (`login`), signal forwarding (`signals`). Never picks an account and never
//! reads usage: it runs codex where it is told to.

pub mod login;
mod runner;
pub mod signals;

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

/// Variables that make codex ignore the account swop chose.
pub const OVERRIDING_VARS: &[&str] = &["CODEX_API_KEY", "CODEX_ACCESS_TOKEN"];

pub fn depth() -> u32 {
    std::env::var(DEPTH_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Stops a runaway chain of swop -> codex -> swop before it forks forever.
pub fn check_depth() -> Result<()> {
    let d = depth();
    if d >= DEPTH_LIMIT {
        return Err(Error::new(format!(
            "infinite recursion detected: swop started codex {d} times in a chain"
        ))
        .help("the `codex` swop runs is swop itself; set SWOP_CODEX to the real codex binary")
        .code(exit::NO_CODEX));
    }
    Ok(())
}

struct SelfId {
    canonical: Option<PathBuf>,
    inode: Option<(u64, u64)>,
}

fn self_id() -> SelfId {
    let exe = std::env::current_exe().ok();
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

/// Finds the real codex. The error names everything that was searched.
fn find(cfg: &Config, paths: &Paths) -> Result<PathBuf> {
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
        return explicit(PathBuf::from(p), "SWOP_CODEX");
    }
    if let Some(p) = &cfg.codex_path {
        return explicit(
            crate::base::paths::expand_tilde(p)?,
            "codex_path in swop.toml",
        );
    }
    let shim = paths.shim_dir();
    let shim_canon = shim.canonicalize().ok();
    let path_var = std::env::var_os("PATH").unwrap_or_default();
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
        return Ok(candidate);
    }
    let mut msg = String::from("cannot find the real codex: searched SWOP_CODEX (unset), codex_path in swop.toml (unset) and PATH");
    if !skipped.is_empty() {
        msg.push_str(&format!(
            "; skipped {} because it is swop's own shim",
            skipped.join(", ")
        ));
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

/// `codex --version` output, for doctor.
pub fn version(real: &Path) -> Option<String> {
    let mut child = Command::new(real)
        .arg("--version")
        .env(DEPTH_VAR, (depth() + 1).to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut out = String::new();
    if let Some(mut so) = child.stdout.take() {
        use std::io::Read;
        let _ = so.read_to_string(&mut out);
    }
    wait_bounded(&mut child, Duration::from_secs(10))?;
    let v = out.trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// Runs `cmd` as swop's child with stdio inherited and signals forwarded;
/// returns codex's exit code (128+N when a signal ended it).
pub fn run_attached(mut cmd: Command) -> Result<i32> {
    let forwarder = signals::Forwarder::install();
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot start codex: {e}")).code(exit::NO_CODEX))?;
    forwarder.set_child(child.id());
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("lost track of codex: {e}")))?;
    drop(forwarder);
    Ok(signals::exit_code(status))
}
