//! `swop uninstall [--purge] [--yes]`: removes what install.sh installed:
//! the binary, the shim, the marked PATH block in the shell rc files, the
//! completion scripts and the man page. Accounts stay unless `--purge`,
//! which is asked on a terminal and refused off one without `--yes`.
//! install.sh writes the blocks of shim/path.sh and shim/path.fish; the
//! markers are read from those same files, so both sides always agree.
//! install.sh notes the rc files and dirs it made in
//! `$SWOP_HOME/install-manifest`; an rc file it made is removed once the
//! block is out and nothing else is in it, a dir it made once it is empty.
//! The manifest is only a hint: never touches anything outside the known
//! paths.

use crate::base::context::Context;
use crate::base::error::{Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use std::path::{Path, PathBuf};

/// `swop uninstall`'s flags.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub purge: bool,
    /// `--yes`: purge without asking.
    pub yes: bool,
}

pub fn run(req: Request, paths: &Paths, ctx: &Context) -> Result<i32> {
    if req.purge && !req.yes {
        confirm_purge(paths, ctx)?;
    }
    let removed = uninstall(paths, req.purge)?;
    out::print(&removed.iter().map(|r| format!("{r}\n")).collect::<String>())?;
    Ok(0)
}

/// `--purge` deletes every login for good: asked on a terminal (as `rustup
/// self uninstall` does), refused off one unless `--yes`. Before anything
/// is removed.
fn confirm_purge(paths: &Paths, ctx: &Context) -> Result<()> {
    let (home, names) = purge_target(paths);
    let what = match names.len() {
        0 => format!("'{}' (no accounts in it)", home.display()),
        1 => format!("'{}' with the login of '{}'", home.display(), names[0]),
        n => format!(
            "'{}' with the logins of {n} accounts ({})",
            home.display(),
            names.join(", ")
        ),
    };
    if !(ctx.stdin_tty && ctx.stderr_tty) {
        return Err(Error::usage(format!(
            "uninstall --purge would delete {what}, and there is no terminal to ask"
        ))
        .help("to delete it anyway: swop uninstall --purge --yes; to keep the accounts: swop uninstall"));
    }
    term::note(&format!(
        "this removes swop and deletes {what}; the logins cannot be recovered"
    ));
    if term::confirm_strict("delete them?") {
        return Ok(());
    }
    Err(Error::new("nothing was removed (you answered no)")
        .help("to remove swop but keep the accounts: swop uninstall"))
}

/// The block install.sh appends; its first and last lines are the markers.
const BLOCK: &str = include_str!("../../../shim/path.sh");

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

/// The files install.sh writes outside SWOP_HOME besides the rc blocks:
/// the completion scripts and the man page (the same paths as install.sh).
pub fn extra_files(home: &Path, data_home: Option<&Path>) -> Vec<PathBuf> {
    let data = data_home.map_or_else(|| home.join(".local/share"), Path::to_path_buf);
    vec![
        data.join("bash-completion/completions/swop"),
        home.join(".zfunc/_swop"),
        home.join(".config/fish/completions/swop.fish"),
        data.join("man/man1/swop.1"),
    ]
}

/// The manifest install.sh keeps: what it made outside SWOP_HOME.
const MANIFEST: &str = "install-manifest";

/// What install.sh noted as made by it: (files, dirs). Read as hostile
/// input (bounded, never through a link); missing means nothing noted.
fn manifest(paths: &Paths) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let text = crate::base::files::read_regular(&paths.home.join(MANIFEST), 64 * 1024)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| l.starts_with('/')) {
        match line.strip_suffix('/') {
            Some(d) => dirs.push(PathBuf::from(d)),
            None => files.push(PathBuf::from(line)),
        }
    }
    (files, dirs)
}

/// Takes the block out of each rc file; a file install.sh made (`made`) and
/// that holds nothing else afterwards is removed, as is swop's own fish file.
fn strip_rc_files(home: &Path, made: &[PathBuf], done: &mut Vec<String>) -> Result<()> {
    for rc in rc_files(home) {
        let Ok(text) = std::fs::read_to_string(&rc) else {
            continue;
        };
        let Some(stripped) = strip_block(&text) else {
            continue;
        };
        let ours = made.contains(&rc) || rc.extension().is_some_and(|e| e == "fish");
        if ours && stripped.trim().is_empty() {
            std::fs::remove_file(&rc).map_err(|e| Error::io("cannot remove", &rc, e))?;
            done.push(format!(
                "removed '{}' (made by install.sh; nothing else was in it)",
                rc.display()
            ));
        } else {
            std::fs::write(&rc, stripped).map_err(|e| Error::io("cannot edit", &rc, e))?;
            done.push(format!("removed the PATH block from '{}'", rc.display()));
        }
    }
    Ok(())
}

/// Removes what install.sh put outside SWOP_HOME: rc blocks, completion
/// scripts, the man page, then the dirs it made that are empty now.
fn remove_outside(paths: &Paths, home: &Path, data_home: Option<&Path>) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let (made_files, made_dirs) = manifest(paths);
    strip_rc_files(home, &made_files, &mut done)?;
    for f in extra_files(home, data_home) {
        if std::fs::symlink_metadata(&f).is_ok() {
            std::fs::remove_file(&f).map_err(|e| Error::io("cannot remove", &f, e))?;
            done.push(format!("removed '{}'", f.display()));
        }
    }
    // Only dirs on the way to a known path, deepest first; rmdir never
    // removes one that still holds anything.
    let known: Vec<PathBuf> = rc_files(home)
        .into_iter()
        .chain(extra_files(home, data_home))
        .collect();
    let mut dirs: Vec<&PathBuf> = made_dirs
        .iter()
        .filter(|d| d.starts_with(home) && known.iter().any(|k| k.starts_with(d)))
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
    Ok(done)
}

/// What `--purge` deletes, for the question and the refusal: the home and
/// its account names.
fn purge_target(paths: &Paths) -> (PathBuf, Vec<String>) {
    let names = crate::accounts::list(paths)
        .map(|all| all.into_iter().map(|a| a.name).collect())
        .unwrap_or_default();
    (paths.home.clone(), names)
}

fn uninstall(paths: &Paths, purge: bool) -> Result<Vec<String>> {
    let home = crate::base::paths::user_home()?;
    let data_home = crate::base::paths::env_nonempty("XDG_DATA_HOME").map(PathBuf::from);
    let mut done = remove_outside(paths, &home, data_home.as_deref())?;
    for p in [paths.shim_dir().join("codex"), paths.bin_dir().join("swop")] {
        if std::fs::symlink_metadata(&p).is_ok() {
            std::fs::remove_file(&p).map_err(|e| Error::io("cannot remove", &p, e))?;
            done.push(format!("removed '{}'", p.display()));
        }
    }
    for d in [paths.shim_dir(), paths.bin_dir()] {
        let _ = std::fs::remove_dir(d);
    }
    let _ = std::fs::remove_file(paths.home.join(MANIFEST));
    let accounts = crate::accounts::list(paths).unwrap_or_default();
    if purge {
        if paths.home.exists() {
            std::fs::remove_dir_all(&paths.home)
                .map_err(|e| Error::io("cannot remove", &paths.home, e))?;
            done.push(format!(
                "removed '{}' with every account in it",
                paths.home.display()
            ));
        }
    } else if !accounts.is_empty() {
        done.push(format!(
            "kept your {} in '{}' (remove {} too with: swop uninstall --purge)",
            match accounts.len() {
                1 => "account".to_string(),
                n => format!("{n} accounts"),
            },
            paths.accounts().display(),
            if accounts.len() == 1 { "it" } else { "them" }
        ));
    }
    done.push("open a new shell so that PATH no longer has the shim".into());
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FISH_BLOCK: &str = include_str!("../../../shim/path.fish");

    #[test]
    fn both_blocks_share_the_markers() {
        assert_eq!(FISH_BLOCK.lines().next(), Some(begin()));
        assert_eq!(FISH_BLOCK.lines().last(), Some(end()));
    }

    /// The manifest is a hint, never an order: only rc files, the known
    /// extras and dirs on the way to them under HOME are ever removed.
    #[test]
    fn a_planted_manifest_removes_nothing_else() {
        let root = std::env::temp_dir().join(format!(
            "swop-install-test-{}-{}",
            std::process::id(),
            crate::base::time::now_nanos()
        ));
        let home = root.join("home");
        let outside = root.join("outside");
        let own = home.join("notes");
        let empty = home.join("empty");
        for d in [&home, &outside, &own, &empty, &home.join(".zfunc")] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(own.join("keep.txt"), "mine").unwrap();
        let paths = Paths {
            home: home.join(".swop"),
        };
        std::fs::create_dir_all(&paths.home).unwrap();
        let manifest = format!(
            "{}/\n{}/\n{}\n{}/\n{}/\n",
            outside.display(),
            own.display(),
            own.join("keep.txt").display(),
            empty.display(),
            home.join(".zfunc").display()
        );
        std::fs::write(paths.home.join(MANIFEST), manifest).unwrap();
        std::fs::write(home.join(".zfunc/_swop"), "#compdef swop\n").unwrap();
        let done = remove_outside(&paths, &home, None).unwrap();
        assert!(outside.is_dir() && empty.is_dir(), "{done:?}");
        assert!(own.join("keep.txt").is_file(), "{done:?}");
        assert!(!home.join(".zfunc").exists(), "{done:?}");
        let _ = std::fs::remove_dir_all(&root);
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
