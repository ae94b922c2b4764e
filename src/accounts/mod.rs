//! The account registry: one directory per account under accounts/, each the
//! CODEX_HOME of that account, plus `swop-account.json` with the identity
//! swop recorded when it was added (no secret in it).
//!
//! Crash safety comes from renames: an account is made in a hidden staging
//! dir (`.add-NAME-PID`) and renamed into place only when complete; logout
//! renames the sandbox to a hidden `.logout-*` dir before its login is
//! revoked and it is deleted. Hidden entries are never listed and are swept
//! later (a `.logout-*` one is finished by the next logout instead: it may
//! hold a valid login), so a kill -9 at any point never leaves a half-made
//! or half-removed account in `swop list`.
//!
//! Deleting never follows a symlink out of a sandbox (std's remove_dir_all
//! unlinks symlinks instead of descending into them).
//!
//! Unit `accounts/`: registry, auth.json and JWT claims (`auth`), sandbox
//! sharing (`sandbox`), codex's session files (`rollouts`). Never writes
//! auth.json (only codex does), never starts codex, never touches the network.

pub mod auth;
pub mod daemon;
pub mod disabled;
pub mod rollouts;
pub mod sandbox;

use crate::accounts::auth::Identity;
use crate::base::error::{exit, Error, Result};
use crate::base::files;
use crate::base::paths::Paths;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub const META_FILE: &str = "swop-account.json";

/// Marks what is left of a logged-out account: only its links into the
/// shared home. codex 0.169.0 records a new thread's rollout path through the
/// creating home's `sessions` link (`$CODEX_HOME/sessions/...`), and resume
/// by id fails everywhere once that path is gone; so logout keeps the links
/// (no credentials, nothing else) until the name is added again.
pub const RETIRED_FILE: &str = "swop-retired";

/// An account: its name and sandbox. The identity is read on demand, so
/// listing accounts on `codex`'s hot path reads no file per account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub home: PathBuf,
}

impl Account {
    pub fn auth_file(&self) -> PathBuf {
        self.home.join("auth.json")
    }

    /// Who this account is: as recorded at add, else from auth.json. The
    /// record is read through `files::read_regular` (a link or FIFO there
    /// is not read: the login's own claims are used instead).
    pub fn identity(&self) -> Identity {
        files::read_regular(&self.home.join(META_FILE), 64 << 10)
            .ok()
            .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
            .map(|m| m.identity)
            .or_else(|| auth::read(&self.auth_file()).ok().map(|a| a.identity()))
            .unwrap_or_default()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    identity: Identity,
    added_at: i64,
}

pub use crate::base::name::validate_name;

/// All complete accounts, sorted by name. No network, no subprocess.
pub fn list(paths: &Paths) -> Result<Vec<Account>> {
    let dir = paths.accounts();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("cannot read", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        // d_type from readdir: no stat per entry on the launch hot path.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if validate_name(&name).is_err() || !is_dir || is_retired(&entry.path()) {
            continue; // staging, trash, retired, or something that is not ours
        }
        out.push(load(paths, &name));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What is left of a logged-out account (see [`RETIRED_FILE`]).
fn is_retired(dir: &Path) -> bool {
    dir.join(RETIRED_FILE).exists()
}

fn is_account_dir(dir: &Path) -> bool {
    dir.is_dir() && !is_retired(dir)
}

fn load(paths: &Paths, name: &str) -> Account {
    Account {
        name: name.to_string(),
        home: paths.account(name),
    }
}

/// The account called `name`, or a not-found error listing what exists.
pub fn get(paths: &Paths, name: &str) -> Result<Account> {
    validate_name(name)?;
    refuse_link(&paths.account(name), "an account")?;
    if is_account_dir(&paths.account(name)) {
        return Ok(load(paths, name));
    }
    let names: Vec<String> = list(paths)?.into_iter().map(|a| a.name).collect();
    Err(Error::new(format!("no account named '{name}'"))
        .help(not_found_help(name, &names))
        .code(exit::NOT_FOUND))
}

/// How many names a not-found error lists when none is near the typed one.
const LISTED_NAMES: usize = 6;

/// The `help:` for a name that is not an account: the nearest name when one
/// is near ("did you mean"), else the names themselves when they are few.
fn not_found_help(name: &str, names: &[String]) -> String {
    if names.is_empty() {
        return "no accounts yet; add one with: swop add NAME".into();
    }
    if let Some(near) = crate::base::suggest::closest(name, names.iter().map(String::as_str)) {
        return format!("did you mean '{near}'? (every account: swop list)");
    }
    if names.len() <= LISTED_NAMES {
        format!("accounts: {}", names.join(", "))
    } else {
        format!("none of the {} accounts is near it: swop list", names.len())
    }
}

/// The one rule for links inside SWOP_HOME: swop's own files and account
/// dirs are never symbolic links, and one found where swop expects its own
/// file is refused, never followed (it could lead to another account's login
/// or make swop write elsewhere). Links *inside* a sandbox into the shared
/// codex home are the exception, made and removed by `sandbox` only.
pub fn refuse_link(path: &Path, what: &str) -> Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::new(format!(
            "'{}' is a symbolic link, where swop expects {what} of its own; refusing to follow it",
            path.display()
        ))
        .help(format!(
            "remove the link (rm '{}') or replace it with the real thing it points to",
            path.display()
        ))
        .code(exit::UNSAFE_PERMISSIONS));
    }
    Ok(())
}

fn same_login(a: &Identity, b: &Identity) -> bool {
    a.user_id.is_some() && a.user_id == b.user_id && a.account_id == b.account_id
}

/// A hidden staging dir that is removed on drop unless committed.
pub struct Staging {
    pub dir: PathBuf,
    committed: bool,
}

impl Staging {
    /// The home a new account logs in to (`swop add`).
    pub fn new(paths: &Paths, name: &str) -> Result<Staging> {
        Staging::with_prefix(paths, "add", name)
    }

    /// The home an existing account logs in to again: its own home keeps
    /// the old login until the new one is proven (codex 0.169.0's login
    /// revokes and deletes the home's login before it starts).
    pub fn for_relogin(paths: &Paths, name: &str) -> Result<Staging> {
        Staging::with_prefix(paths, "relogin", name)
    }

    fn with_prefix(paths: &Paths, prefix: &str, name: &str) -> Result<Staging> {
        paths.ensure()?;
        let dir = paths
            .accounts()
            .join(format!(".{prefix}-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        files::create_private_dir(&dir)?;
        Ok(Staging {
            dir,
            committed: false,
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Refuses a name that is taken, pointing to relogin.
pub fn ensure_free(paths: &Paths, name: &str) -> Result<()> {
    validate_name(name)?;
    let dir = paths.account(name);
    if dir.exists() && !is_retired(&dir) {
        return Err(Error::new(format!("account '{name}' already exists"))
            .help(format!(
                "to log in to it again run: swop relogin {name}; to replace it: swop logout {name}, then swop add {name}"
            ))
            .code(exit::USAGE));
    }
    Ok(())
}

/// Registers the login in `staging` as `name`: checks the name and the
/// identity against every account under the registry lock, records the
/// identity, and renames the staging dir into place. On error the staging
/// dir is still there (the caller may rescue files from it before dropping).
pub fn commit(paths: &Paths, staging: &mut Staging, name: &str) -> Result<Account> {
    let auth = auth::read(&staging.dir.join("auth.json"))?;
    let identity = auth.identity();
    let _lock = files::lock(&paths.registry_lock())?;
    ensure_free(paths, name)?;
    for other in list(paths)? {
        if same_login(&other.identity(), &identity) {
            return Err(Error::new(format!(
                "this login ({}) is already added as '{}'",
                identity
                    .email
                    .as_deref()
                    .unwrap_or("same user and workspace"),
                other.name
            ))
            .help(format!(
                "use '{}', or remove it first with: swop logout {}",
                other.name, other.name
            ))
            .code(exit::USAGE));
        }
    }
    let meta = Meta {
        identity: identity.clone(),
        added_at: crate::base::time::now(),
    };
    write_meta(&staging.dir, &meta)?;
    let target = paths.account(name);
    if is_retired(&target) {
        // Links only (never followed): the new login relinks at once.
        fs::remove_dir_all(&target).map_err(|e| Error::io("cannot reuse", &target, e))?;
    }
    fs::rename(&staging.dir, &target)
        .map_err(|e| Error::io("cannot create account", &target, e))?;
    staging.committed = true;
    Ok(Account {
        name: name.to_string(),
        home: target,
    })
}

fn write_meta(home: &Path, meta: &Meta) -> Result<()> {
    let json = serde_json::to_vec_pretty(meta).expect("meta serialises");
    files::write_atomic(&home.join(META_FILE), &json)
}

/// Why a new login was not put in place.
#[derive(Debug)]
pub enum Refused {
    /// The login belongs to another user or workspace than the account.
    Foreign {
        account: Box<Identity>,
        login: Box<Identity>,
    },
    Failed(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        Refused::Failed(e)
    }
}

/// Puts the login made in `staging` in place of `account`'s, when it is the
/// same user and workspace (or the account's identity was never known).
/// Under the registry lock: the old auth.json is renamed into `retired` (a
/// dir the caller revokes and removes), the new one renamed into the home.
/// Renames only: at every instant the home holds a whole login.
pub fn replace_login(
    paths: &Paths,
    account: &Account,
    staging: &Staging,
    retired: &Path,
) -> std::result::Result<Identity, Refused> {
    let new = auth::read(&staging.dir.join("auth.json"))?.identity();
    let _lock = files::lock(&paths.registry_lock())?;
    let recorded = account.identity();
    let known = if recorded.user_id.is_some() {
        recorded
    } else {
        // Added before identities were recorded: the login on disk says.
        auth::read(&account.auth_file())
            .map(|a| a.identity())
            .unwrap_or(recorded)
    };
    if known.user_id.is_some() && !same_login(&known, &new) {
        return Err(Refused::Foreign {
            account: Box::new(known),
            login: Box::new(new),
        });
    }
    let old = account.auth_file();
    if old.exists() {
        files::create_private_dir(retired)?;
        fs::rename(&old, retired.join("auth.json"))
            .map_err(|e| Error::io("cannot move the old login aside", &old, e))?;
    }
    let fresh = staging.dir.join("auth.json");
    fs::rename(&fresh, &old).map_err(|e| Error::io("cannot put the new login in", &old, e))?;
    write_meta(
        &account.home,
        &Meta {
            identity: new.clone(),
            added_at: crate::base::time::now(),
        },
    )?;
    Ok(new)
}

/// A hidden dir (swept by owner pid) that holds a replaced login until it
/// has been revoked.
pub fn retired_login_dir(paths: &Paths, name: &str) -> PathBuf {
    paths
        .accounts()
        .join(format!(".trash-login-{name}-{}", std::process::id()))
}

/// Where `swop logout` keeps an account's sandbox, its login included,
/// between taking it out of the registry and revoking that login:
/// `.logout-PID-NANOS-NAME`. Never swept: a logout killed in between leaves
/// it for the next `swop logout NAME` ([`interrupted_logouts`]), which
/// revokes the login and deletes the dir.
const LOGOUT_PREFIX: &str = ".logout-";

/// An account taken out of the registry by [`retire`].
pub struct Retired {
    /// The sandbox, moved aside whole: revoke its login, then
    /// [`remove_retired`] it.
    pub dir: PathBuf,
    /// Whether its links into the shared home stayed at the account's
    /// place (see [`RETIRED_FILE`]).
    pub kept_links: bool,
}

/// Takes `name` out of the registry with one rename, under the registry
/// lock, before anything is revoked or deleted: the sandbox (login and all)
/// becomes a hidden `.logout-*` dir, and its links into `shared` stay at
/// the account's place as a retired entry. Everything that needs disk
/// space happens before the sandbox moves, so on a full disk the account
/// stays as it was. Killed at any point, this leaves the account as it was
/// or no account (links, if any, in a `.retire-*` dir that is swept).
pub fn retire(paths: &Paths, name: &str, shared: Option<&Path>) -> Result<Retired> {
    let dir = paths.account(name);
    let nanos = crate::base::time::now_nanos();
    let pid = std::process::id();
    let aside = paths
        .accounts()
        .join(format!("{LOGOUT_PREFIX}{pid}-{nanos}-{name}"));
    // Hidden names end in the owner's pid: `sweep` leaves a live owner alone.
    let retire = paths
        .accounts()
        .join(format!(".retire-{name}-{nanos}-{pid}"));
    let _lock = files::lock(&paths.registry_lock())?;
    let links: Vec<std::ffi::OsString> = match (shared, fs::read_dir(&dir)) {
        (Some(shared), Ok(entries)) => entries
            .flatten()
            .filter(|e| fs::read_link(e.path()).is_ok_and(|t| t.starts_with(shared)))
            .map(|e| e.file_name())
            .collect(),
        _ => Vec::new(),
    };
    let kept_links = !links.is_empty();
    if kept_links {
        let made = files::create_private_dir(&retire).and_then(|()| {
            files::write_atomic(
                &retire.join(RETIRED_FILE),
                b"logged out; links kept so its sessions stay resumable\n",
            )
        });
        if let Err(e) = made {
            let _ = fs::remove_dir_all(&retire);
            return Err(e);
        }
    }
    if let Err(e) = fs::rename(&dir, &aside) {
        let _ = fs::remove_dir_all(&retire);
        return Err(Error::io("cannot remove account", &dir, e));
    }
    if kept_links {
        for l in &links {
            let _ = fs::rename(aside.join(l), retire.join(l));
        }
        fs::rename(&retire, &dir).map_err(|e| Error::io("cannot keep links in", &dir, e))?;
    }
    Ok(Retired {
        dir: aside,
        kept_links,
    })
}

/// Deletes a sandbox [`retire`] moved aside (its login revoked or not:
/// the caller has tried) and the account's cached usage. Links are
/// unlinked, never followed.
pub fn remove_retired(paths: &Paths, name: &str, dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io("cannot delete", dir, e))
        }
        _ => {}
    }
    let _ = fs::remove_file(paths.cache_file(name));
    Ok(())
}

/// The sandboxes of `name` that a logout moved aside and did not finish
/// (its process is gone): each may still hold a login to revoke.
pub fn interrupted_logouts(paths: &Paths, name: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(paths.accounts()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| {
            let file_name = e.file_name();
            let Some(rest) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(LOGOUT_PREFIX))
            else {
                return false;
            };
            let mut parts = rest.splitn(3, '-');
            let pid = parts.next().and_then(|p| p.parse::<i32>().ok());
            let (_nanos, owner) = (parts.next(), parts.next());
            owner == Some(name) && pid.is_some_and(|p| !crate::base::process::pid_alive(p))
        })
        .map(|e| e.path())
        .collect()
}

/// Deletes the hidden dirs (`.add-*`, `.trash-*`, `.retire-*`) and the temp
/// files (`cache/.NAME.json.tmp-PID-N`, `live/NAME/.PID.tmp`) whose owner
/// process is gone: left by a crash or a kill -9. Their names hold the
/// owner's pid, so a running add, logout or write is never disturbed.
/// Best effort.
pub fn sweep(paths: &Paths) {
    // Temp files of a killed writer: cache entries and live registrations.
    files::sweep_temp(&paths.cache_dir(), files::atomic_temp_owner);
    if let Ok(live) = fs::read_dir(paths.home.join("live")) {
        for dir in live.flatten() {
            files::sweep_temp(&dir.path(), crate::base::paths::live_temp_owner);
        }
    }
    let Ok(entries) = fs::read_dir(paths.accounts()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let ours = [".add-", ".relogin-", ".trash-", ".retire-"]
            .iter()
            .any(|p| name.starts_with(p));
        let owner_gone = name
            .rsplit('-')
            .next()
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|pid| !crate::base::process::pid_alive(pid));
        if ours && owner_gone {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for n in [
            "work",
            "a",
            "personal-plus",
            "team_2",
            "v1.2",
            &"x".repeat(64),
        ] {
            validate_name(n).unwrap();
        }
    }

    #[test]
    fn bad_names() {
        for n in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "-rf",
            ".hidden",
            "has space",
            "ünï",
            &"x".repeat(65),
            "a\0b",
        ] {
            let e = validate_name(n).unwrap_err();
            assert_eq!(e.code, exit::USAGE, "{n:?}");
            assert!(e.message.contains("invalid account name"), "{n:?}: {e}");
        }
    }

    #[test]
    fn same_login_needs_user_and_workspace() {
        let a = Identity {
            user_id: Some("u".into()),
            account_id: Some("w1".into()),
            ..Default::default()
        };
        let b = Identity {
            user_id: Some("u".into()),
            account_id: Some("w2".into()),
            ..Default::default()
        };
        assert!(same_login(&a, &a.clone()));
        assert!(!same_login(&a, &b));
        assert!(!same_login(&Identity::default(), &Identity::default()));
    }
}
