//! One codex life across accounts. Each account sandbox (a CODEX_HOME) keeps
//! its own credentials (auth.json and its lock files) and links the entries
//! of `[sandbox] share` to the shared codex home (default ~/.codex): config,
//! AGENTS.md, prompts, skills, rules, sessions and history.
//!
//! SQLite databases are never linked one by one (SQLite puts -wal/-shm beside
//! the path it opened, so two homes linking one file would each get their own
//! WAL); the whole database dir is shared by pointing CODEX_SQLITE_HOME at the
//! shared home instead.
//!
//! Links are created on every launch (so existing sandboxes migrate), an
//! entry that is a real file inside a sandbox is never overwritten (session
//! files are moved into the shared dir; anything else is reported once), and
//! removing a sandbox only ever unlinks.

use crate::base::error::Result;
use crate::base::files;
use crate::config::Config;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What every codex process swop starts gets, on top of CODEX_HOME.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub env: Vec<(String, PathBuf)>,
    /// `-c key=value` pairs placed before codex's own arguments.
    pub args: Vec<String>,
}

impl Setup {
    pub fn apply(&self, cmd: &mut Command) {
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.args(&self.args);
    }
}

/// Entries that may be listed in `share` but must never be shared.
const NEVER_SHARE: &[&str] = &[
    "auth.json",
    "auth.json.lock",
    "auth.lock",
    crate::accounts::META_FILE,
];

fn share_list(cfg: &Config) -> Vec<(String, bool)> {
    cfg.sandbox
        .share
        .iter()
        .map(|e| (e.trim_end_matches('/').to_string(), e.ends_with('/')))
        .filter(|(n, _)| {
            !n.is_empty() && !NEVER_SHARE.contains(&n.as_str()) && !n.contains('/') && n != ".."
        })
        .filter(|(n, _)| !n.ends_with(".sqlite") && !n.contains(".sqlite-"))
        .collect()
}

/// Whether the sandboxes share a codex home at all (`share` not empty).
pub fn shares(cfg: &Config) -> bool {
    !share_list(cfg).is_empty()
}

/// The environment and arguments for codex under this config.
pub fn setup(cfg: &Config) -> Setup {
    let mut s = Setup {
        args: credentials_args().iter().map(|a| a.to_string()).collect(),
        ..Setup::default()
    };
    if share_list(cfg).is_empty() {
        return s;
    }
    let Ok(shared) = cfg.shared_home() else {
        return s;
    };
    if crate::base::context::var("CODEX_SQLITE_HOME").is_none() {
        s.env.push(("CODEX_SQLITE_HOME".into(), shared));
    }
    s
}

/// Every codex swop starts keeps file-based credentials in its own sandbox:
/// a shared (or profile) config with `keyring`/`auto`/`ephemeral` would make
/// codex look elsewhere, and without a keyring codex 0.169.0 then runs with
/// no credentials at all and prints no error. A later `-c` of the user's own
/// still wins (codex applies them in order).
pub fn credentials_args() -> [&'static str; 2] {
    ["-c", "cli_auth_credentials_store=\"file\""]
}

/// The store the shared config asks for, if any (doctor reports it).
pub fn shared_credentials_store(cfg: &Config) -> Option<String> {
    credentials_store(&cfg.shared_home().ok()?.join("config.toml"))
}

fn credentials_store(config: &Path) -> Option<String> {
    let text = fs::read_to_string(config).ok()?;
    let v: toml::Table = text.parse().ok()?;
    v.get("cli_auth_credentials_store")?
        .as_str()
        .map(str::to_string)
}

/// Links `home` to the shared home. Returns notes for the user (each said
/// once per sandbox and entry).
pub fn link(cfg: &Config, home: &Path) -> Result<Vec<String>> {
    let entries = share_list(cfg);
    let shared = cfg.shared_home()?;
    let mut notes = Vec::new();
    remove_unlisted_links(home, &shared, &entries);
    if entries.is_empty() {
        return Ok(notes);
    }
    files::create_private_dir(&shared)?;
    for (name, is_dir) in &entries {
        let target = shared.join(name);
        ensure_target(&target, *is_dir)?;
        let link = home.join(name);
        match fs::symlink_metadata(&link) {
            Err(_) => make_link(&target, &link)?,
            Ok(m) if m.file_type().is_symlink() => {
                if fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                    replace_link(&target, &link)?;
                }
            }
            Ok(m) if m.is_dir() && (name == "sessions" || name == "archived_sessions") => {
                let left = merge_dir(&link, &target);
                if left == 0 {
                    let _ = fs::remove_dir_all(&link);
                    make_link(&target, &link)?;
                    notes.push(format!(
                        "moved the sandbox's {name}/ into the shared '{}'",
                        target.display()
                    ));
                } else {
                    notes.extend(report_once(
                        home,
                        name,
                        &format!(
                            "{} in '{}' also {} in the shared {name}/; left in place, not shared",
                            crate::base::term::plural(left, "file", "files"),
                            link.display(),
                            if left == 1 { "exists" } else { "exist" }
                        ),
                    ));
                }
            }
            Ok(_) => notes.extend(report_once(
                home,
                name,
                &format!(
                "'{}' is the sandbox's own copy, so it is not shared; move it away to share '{}'",
                link.display(),
                target.display()
            ),
            )),
        }
    }
    Ok(notes)
}

fn ensure_target(target: &Path, is_dir: bool) -> Result<()> {
    if fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    if is_dir {
        files::create_private_dir(target)
    } else {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(crate::base::error::Error::io("cannot create", target, e)),
        }
    }
}

fn make_link(target: &Path, link: &Path) -> Result<()> {
    match std::os::unix::fs::symlink(target, link) {
        Ok(()) => Ok(()),
        // A concurrent launch made it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(crate::base::error::Error::io("cannot link", link, e)),
    }
}

fn replace_link(target: &Path, link: &Path) -> Result<()> {
    let tmp = link.with_file_name(format!(".link-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .map_err(|e| crate::base::error::Error::io("cannot link", link, e))?;
    fs::rename(&tmp, link).map_err(|e| crate::base::error::Error::io("cannot link", link, e))
}

/// Moves every file of `from` into `to` where `to` has no such file yet.
/// Returns how many files could not be moved.
fn merge_dir(from: &Path, to: &Path) -> usize {
    let mut left = 0;
    let Ok(entries) = fs::read_dir(from) else {
        return 1;
    };
    for e in entries.flatten() {
        let src = e.path();
        let dst = to.join(e.file_name());
        let Ok(ft) = e.file_type() else {
            left += 1;
            continue;
        };
        if ft.is_dir() {
            if files::create_private_dir(&dst).is_err() {
                left += 1;
                continue;
            }
            let l = merge_dir(&src, &dst);
            if l == 0 {
                let _ = fs::remove_dir(&src);
            }
            left += l;
        } else if fs::symlink_metadata(&dst).is_ok() || fs::rename(&src, &dst).is_err() {
            left += 1;
        }
    }
    left
}

/// Links into the shared home that the share list no longer names are
/// removed (unlinked only), so `share = []` gives fully separate homes.
fn remove_unlisted_links(home: &Path, shared: &Path, entries: &[(String, bool)]) {
    let Ok(dir) = fs::read_dir(home) else { return };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if entries.iter().any(|(n, _)| *n == name) || !e.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        }
        if let Ok(t) = fs::read_link(e.path()) {
            if t.starts_with(shared) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

const REPORTED: &str = "swop-unshared.json";

/// The note, unless it was already given for this sandbox and entry.
fn report_once(home: &Path, name: &str, note: &str) -> Option<String> {
    let file = home.join(REPORTED);
    let mut seen: Vec<String> = fs::read(&file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if seen.iter().any(|s| s == name) {
        return None;
    }
    seen.push(name.to_string());
    let _ = files::write_atomic(&file, &serde_json::to_vec(&seen).expect("serialises"));
    Some(note.to_string())
}
