//! The one way swop starts the real codex: the binary (when there is one),
//! the sandbox setup every child gets (shared SQLite home, file credential
//! store) and the environment hygiene (no variable that would override the
//! account's login, the recursion counter raised). login, logout,
//! app-server and the launch itself all come from a [`Codex`].

use super::{find, mark_depth, not_found, OVERRIDING_VARS};
use crate::accounts::sandbox::{self, Setup};
use crate::base::error::Result;
use crate::base::paths::Paths;
use crate::config::Config;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone)]
pub struct Codex {
    binary: Option<PathBuf>,
    /// Added to the PATH of every codex started (see `Found::path_dir`).
    path_dir: Option<PathBuf>,
    setup: Setup,
}

/// A codex command for one account's home, and which inherited variables
/// were removed from it (the launch says so).
pub struct HomeCommand {
    pub command: Command,
    pub removed: Vec<&'static str>,
}

impl Codex {
    /// The real codex, which must exist (launch, login, logout).
    pub fn locate(cfg: &Config, paths: &Paths) -> Result<Codex> {
        let found = find(cfg, paths)?;
        Ok(Codex {
            binary: Some(found.binary),
            path_dir: found.path_dir,
            setup: sandbox::setup(cfg),
        })
    }

    /// The real codex if there is one: status, pick and doctor work without
    /// it (they then never start an app-server).
    pub fn if_present(cfg: &Config, paths: &Paths) -> Codex {
        let found = find(cfg, paths).ok();
        Codex {
            path_dir: found.as_ref().and_then(|f| f.path_dir.clone()),
            binary: found.map(|f| f.binary),
            setup: sandbox::setup(cfg),
        }
    }

    pub fn binary(&self) -> Option<&Path> {
        self.binary.as_deref()
    }

    fn binary_or_error(&self) -> Result<&Path> {
        self.binary.as_deref().ok_or_else(not_found)
    }

    /// A command for the real codex, its PATH extended when it was found
    /// through the recorded path.
    fn command(&self) -> Result<Command> {
        let mut command = Command::new(self.binary_or_error()?);
        if let Some(dir) = &self.path_dir {
            let mut dirs: Vec<PathBuf> = crate::base::context::var("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default();
            dirs.push(dir.clone());
            if let Ok(joined) = std::env::join_paths(dirs) {
                command.env("PATH", joined);
            }
        }
        Ok(command)
    }

    /// codex running as the account whose CODEX_HOME is `home`.
    pub fn in_home(&self, home: &Path) -> Result<HomeCommand> {
        let mut command = self.command()?;
        command.env("CODEX_HOME", home);
        mark_depth(&mut command);
        let mut removed = Vec::new();
        for var in OVERRIDING_VARS {
            // Removed even when empty; named (for the warning) when set.
            if crate::base::context::var(var).is_some() {
                removed.push(*var);
            }
            command.env_remove(var);
        }
        self.setup.apply(&mut command);
        Ok(HomeCommand { command, removed })
    }

    /// codex exactly as the user called it: no home, no setup, only the
    /// recursion counter (fast paths, SWOP_BYPASS, no accounts yet).
    pub fn plain(&self) -> Result<Command> {
        let mut command = self.command()?;
        mark_depth(&mut command);
        Ok(command)
    }
}
