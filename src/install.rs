//! Uninstalling what install.sh installed: the binary, the shim, and the
//! marked PATH block in the shell rc files. Accounts stay unless `--purge`.
//! (install.sh writes the same markers; both sides must agree on them.)

use crate::error::{Error, Result};
use crate::paths::Paths;
use std::path::{Path, PathBuf};

pub const BEGIN: &str = "# >>> swop: codex account switcher >>>";
pub const END: &str = "# <<< swop <<<";

/// The rc files install.sh may have touched.
pub fn rc_files(home: &Path) -> Vec<PathBuf> {
    [".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".config/fish/conf.d/swop.fish"]
        .iter()
        .map(|f| home.join(f))
        .collect()
}

/// `text` without the marked block (markers included).
pub fn strip_block(text: &str) -> Option<String> {
    if !text.contains(BEGIN) {
        return None;
    }
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t == BEGIN {
            inside = true;
        } else if inside && t == END {
            inside = false;
        } else if !inside {
            out.push_str(line);
        }
    }
    Some(out)
}

pub fn uninstall(paths: &Paths, purge: bool) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let home = crate::paths::user_home()?;
    for rc in rc_files(&home) {
        let Ok(text) = std::fs::read_to_string(&rc) else { continue };
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
            std::fs::remove_dir_all(&paths.home).map_err(|e| Error::io("cannot remove", &paths.home, e))?;
            done.push(format!("removed '{}' with every account in it", paths.home.display()));
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

    #[test]
    fn strips_only_the_block() {
        let t = format!("a\n{BEGIN}\nexport PATH=x\n{END}\nb\n");
        assert_eq!(strip_block(&t).unwrap(), "a\nb\n");
        assert_eq!(strip_block("a\n"), None);
    }
}
