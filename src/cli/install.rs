//! Uninstalling what install.sh installed: the binary, the shim, and the
//! marked PATH block in the shell rc files. Accounts stay unless `--purge`.
//! install.sh writes the blocks of shim/path.sh and shim/path.fish; the
//! markers are read from those same files, so both sides always agree.

use crate::base::error::{Error, Result};
use crate::base::paths::Paths;
use std::path::{Path, PathBuf};

/// The block install.sh appends; its first and last lines are the markers.
const BLOCK: &str = include_str!("../../shim/path.sh");

fn begin() -> &'static str {
    BLOCK.lines().next().expect("block has lines")
}

fn end() -> &'static str {
    BLOCK.lines().last().expect("block has lines")
}

/// The rc files install.sh may have touched.
pub fn rc_files(home: &Path) -> Vec<PathBuf> {
    [
        ".bashrc",
        ".bash_profile",
        ".profile",
        ".zshrc",
        ".zprofile",
        ".config/fish/conf.d/swop.fish",
    ]
    .iter()
    .map(|f| home.join(f))
    .collect()
}

/// `text` without the marked block (markers included).
pub fn strip_block(text: &str) -> Option<String> {
    let (begin, end) = (begin(), end());
    if !text.contains(begin) {
        return None;
    }
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == begin {
            inside = true;
            // install.sh put one blank line before the block: take it too.
            if out.ends_with("\n\n") {
                out.pop();
            }
        } else if inside && t == end {
            inside = false;
        } else if !inside {
            out.push_str(line);
        }
    }
    Some(out)
}

pub fn uninstall(paths: &Paths, purge: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let home = crate::base::paths::user_home()?;
    for rc in rc_files(&home) {
        let Ok(text) = std::fs::read_to_string(&rc) else {
            continue;
        };
        if let Some(stripped) = strip_block(&text) {
            if rc.extension().is_some_and(|e| e == "fish") && stripped.trim().is_empty() {
                let _ = std::fs::remove_file(&rc);
            } else {
                std::fs::write(&rc, stripped).map_err(|e| Error::io("cannot edit", &rc, e))?;
            }
            done.push(format!("removed the PATH block from '{}'", rc.display()));
        }
    }
    for p in [paths.shim_dir().join("codex"), paths.bin_dir().join("swop")] {
        if std::fs::symlink_metadata(&p).is_ok() {
            std::fs::remove_file(&p).map_err(|e| Error::io("cannot remove", &p, e))?;
            done.push(format!("removed '{}'", p.display()));
        }
    }
    for d in [paths.shim_dir(), paths.bin_dir()] {
        let _ = std::fs::remove_dir(d);
    }
    if purge {
        if paths.home.exists() {
            std::fs::remove_dir_all(&paths.home)
                .map_err(|e| Error::io("cannot remove", &paths.home, e))?;
            done.push(format!(
                "removed '{}' with every account in it",
                paths.home.display()
            ));
        }
    } else if paths.accounts().is_dir() {
        done.push(format!(
            "kept your accounts in '{}' (remove them too with: swop uninstall --purge)",
            paths.accounts().display()
        ));
    }
    done.push("open a new shell so that PATH no longer has the shim".into());
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FISH_BLOCK: &str = include_str!("../../shim/path.fish");

    #[test]
    fn both_blocks_share_the_markers() {
        assert_eq!(FISH_BLOCK.lines().next(), Some(begin()));
        assert_eq!(FISH_BLOCK.lines().last(), Some(end()));
    }

    #[test]
    fn strips_only_the_block() {
        let t = format!("a\n\n{BLOCK}b\n");
        assert_eq!(strip_block(&t).unwrap(), "a\nb\n");
        let t = format!("a\n{FISH_BLOCK}");
        assert_eq!(strip_block(&t).unwrap(), "a\n");
        assert_eq!(strip_block("a\n"), None);
    }
}
