//! The real codex's path as `swop ide` found it on the shell's PATH
//! (`$SWOP_HOME/codex-path.json`), for a codex started where PATH has none:
//! an editor started from a desktop launcher does not get the login
//! shell's PATH (no nvm, no npm global bin). Used only after PATH found
//! nothing, and never when it leads back to swop (see `find`).
//!
//! The file is swop's own state, read as hostile input: bounded, never
//! through a link, only an absolute path.

use crate::base::error::{Error, Result};
use crate::base::files;
use crate::base::paths::Paths;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FILE_MAX: u64 = 8192;

#[derive(Serialize, Deserialize)]
struct Record {
    path: PathBuf,
}

fn file(paths: &Paths) -> PathBuf {
    paths.home.join("codex-path.json")
}

/// The recorded path, if one is there and absolute.
pub fn load(paths: &Paths) -> Option<PathBuf> {
    let bytes = files::read_regular(&file(paths), FILE_MAX).ok()?;
    let r: Record = serde_json::from_slice(&bytes).ok()?;
    r.path.is_absolute().then_some(r.path)
}

/// Records `path` (absolute, as found on PATH: not canonicalised, so that
/// its directory is the one that holds `node` too).
pub fn store(paths: &Paths, path: &Path) -> Result<()> {
    files::create_private_dir(&paths.home)?;
    let json = serde_json::to_vec(&Record {
        path: path.to_path_buf(),
    })
    .map_err(|_| {
        Error::new(format!(
            "cannot record the path of the real codex, '{}': it is not UTF-8",
            path.display()
        ))
    })?;
    files::write_atomic(&file(paths), &json)
}
