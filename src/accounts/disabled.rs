//! `swop disable` / `swop enable`: which accounts are kept out of automatic
//! picks, and until when. One small file, `$SWOP_HOME/disabled.json` (0600),
//! changed only under its lock by an atomic rewrite, so two commands racing
//! never lose an entry. swop.toml is never edited.
//!
//! This module only stores the list; the selection decides what it means
//! (SWOP_ACCOUNT still forces a disabled account).

use crate::base::error::{exit, Error, Result};
use crate::base::files;
use crate::base::paths::Paths;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An account kept out of automatic picks, until a time (Unix seconds) or
/// until `swop enable`.
#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    pub name: String,
    pub until: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    /// name -> until (Unix seconds), null for "until enabled".
    accounts: BTreeMap<String, Option<i64>>,
}

/// The list is a few hundred bytes; anything past this is not ours.
const FILE_MAX: u64 = 1 << 20;

/// The file, through `files::read_regular`: a link is refused (never
/// followed), a FIFO or device never blocks; either is an error (exit 8,
/// as for every link where swop expects its own file) that says to remove
/// it. A missing file is an empty list.
fn read(paths: &Paths) -> Result<File> {
    let path = paths.home.join("disabled.json");
    let remove = || {
        format!(
            "remove it to enable every account again: rm '{}'",
            path.display()
        )
    };
    let bytes = match files::read_regular(&path, FILE_MAX) {
        Ok(bytes) => bytes,
        Err(files::ReadError::Missing) => return Ok(File::default()),
        Err(files::ReadError::Io(e)) => return Err(Error::io("cannot read", &path, e)),
        Err(why @ (files::ReadError::Link | files::ReadError::NotRegular)) => {
            return Err(Error::new(format!(
                "'{}' {why}, where swop expects its own file",
                path.display()
            ))
            .help(remove())
            .code(exit::UNSAFE_PERMISSIONS))
        }
        Err(why) => return Err(Error::new(format!("'{}' {why}", path.display())).help(remove())),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::new(format!("'{}' is not valid: {e}", path.display())).help(remove()))
}

/// The accounts disabled at `now` (entries whose time has passed are left
/// out). An unreadable file disables nothing: a launch must never fail on
/// it, nor hang (see [`read`]); `swop status` says why ([`problem`]).
pub fn load(paths: &Paths, now: i64) -> Vec<Disabled> {
    read(paths)
        .unwrap_or_default()
        .accounts
        .into_iter()
        .filter(|(_, until)| until.is_none_or(|t| t > now))
        .map(|(name, until)| Disabled { name, until })
        .collect()
}

/// Why the list cannot be read (then no account counts as disabled), as a
/// warning line with what to do.
pub fn problem(paths: &Paths) -> Option<String> {
    let e = read(paths).err()?;
    Some(match e.help {
        Some(h) => format!("{}; no account counts as disabled ({h})", e.message),
        None => format!("{}; no account counts as disabled", e.message),
    })
}

/// Read-modify-write under the lock; expired entries are dropped on the way.
fn update(paths: &Paths, now: i64, change: impl FnOnce(&mut File)) -> Result<()> {
    paths.ensure()?;
    let _lock = files::lock(&paths.home.join("disabled.lock"))?;
    let mut file = read(paths)?;
    file.accounts
        .retain(|_, until| until.is_none_or(|t| t > now));
    change(&mut file);
    let path = paths.home.join("disabled.json");
    if file.accounts.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("cannot remove", &path, e))
            }
            _ => Ok(()),
        };
    }
    let bytes = serde_json::to_vec_pretty(&file).expect("serialises");
    files::write_atomic(&path, &bytes)
}

/// Keeps `name` out of automatic picks until `until` (None: until enabled).
pub fn disable(paths: &Paths, name: &str, until: Option<i64>, now: i64) -> Result<()> {
    update(paths, now, |f| {
        f.accounts.insert(name.to_string(), until);
    })
}

/// Lets `name` be picked again; says whether it was disabled.
pub fn enable(paths: &Paths, name: &str, now: i64) -> Result<bool> {
    let mut was = false;
    update(paths, now, |f| was = f.accounts.remove(name).is_some())?;
    Ok(was)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_paths(tag: &str) -> Paths {
        let dir = std::env::temp_dir().join(format!("swop-disabled-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Paths { home: dir }
    }

    #[test]
    fn disable_enable_round_trip_private_file() {
        let p = temp_paths("rt");
        disable(&p, "a", None, 100).unwrap();
        disable(&p, "b", Some(500), 100).unwrap();
        assert_eq!(
            load(&p, 100),
            vec![
                Disabled {
                    name: "a".into(),
                    until: None
                },
                Disabled {
                    name: "b".into(),
                    until: Some(500)
                }
            ]
        );
        let mode = std::fs::metadata(p.home.join("disabled.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // b's time has passed at 500.
        assert_eq!(load(&p, 500).len(), 1);
        assert!(enable(&p, "a", 100).unwrap());
        assert!(!enable(&p, "a", 100).unwrap());
        assert!(enable(&p, "b", 100).unwrap());
        assert!(
            !p.home.join("disabled.json").exists(),
            "empty list leaves no file"
        );
        let _ = std::fs::remove_dir_all(&p.home);
    }

    #[test]
    fn a_link_or_fifo_is_never_followed_nor_read() {
        let p = temp_paths("planted");
        p.ensure().unwrap();
        let target = p.home.join("elsewhere.json");
        std::fs::write(&target, r#"{"accounts":{"a":null}}"#).unwrap();
        let file = p.home.join("disabled.json");
        std::os::unix::fs::symlink(&target, &file).unwrap();
        assert!(load(&p, 0).is_empty(), "the link is not followed");
        let e = disable(&p, "b", None, 0).unwrap_err();
        assert_eq!(e.code, exit::UNSAFE_PERMISSIONS);
        assert!(e.message.contains("symbolic link"), "{}", e.message);
        assert!(problem(&p).unwrap().contains("rm '"), "{:?}", problem(&p));
        std::fs::remove_file(&file).unwrap();
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(load(&p, 0).is_empty(), "a FIFO is not waited on");
        assert!(problem(&p).unwrap().contains("not a regular file"));
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            r#"{"accounts":{"a":null}}"#
        );
        let _ = std::fs::remove_dir_all(&p.home);
    }

    #[test]
    fn a_corrupt_file_disables_nothing_but_refuses_changes() {
        let p = temp_paths("bad");
        p.ensure().unwrap();
        std::fs::write(p.home.join("disabled.json"), "{not json").unwrap();
        assert!(load(&p, 0).is_empty());
        let e = disable(&p, "a", None, 0).unwrap_err();
        assert!(e.help.unwrap().contains("rm "), "{}", e.message);
        let _ = std::fs::remove_dir_all(&p.home);
    }
}
