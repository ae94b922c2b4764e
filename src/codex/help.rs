//! What the installed codex says it accepts, from its own `--help`: its
//! subcommands (with aliases) and the top-level options that take a value.
//! swop's argv table (launch/argv.rs) knows every subcommand of the pinned
//! codex; this is how a subcommand that a newer codex adds is still taken
//! for a subcommand, not for the TUI's prompt.
//!
//! Learned once per binary: the answer is cached in
//! `$SWOP_HOME/cache/codex-grammar` under the binary's identity (canonical
//! path, size, mtime, ctime, inode), so a warm launch reads one small file
//! and starts no process. The cache is hostile input: read through
//! `files::read_regular` (no link, no FIFO, bounded), every name checked.
//!
//! Never fails a launch: when codex cannot say (timeout, odd output), the
//! built-in table alone decides and nothing is cached.

use super::Codex;
use crate::base::files;
use crate::base::paths::Paths;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cache file (not `*.json`: those are the accounts' usage files).
pub const CACHE_NAME: &str = "codex-grammar";
/// Larger cache files are refused (a real one is about 1 KiB).
const CACHE_CAP: u64 = 64 * 1024;
/// At most this much of `codex --help` is read (a real one is about 6 KiB).
const HELP_CAP: usize = 256 * 1024;
/// More names than this is not a help text.
const MAX_NAMES: usize = 200;

/// What one codex binary accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learned {
    /// Subcommand names and their aliases.
    pub subcommands: Vec<String>,
    /// Top-level options that take a value (`-c`, `--remote`, ...).
    pub value_options: Vec<String>,
}

/// Which binary a cached answer belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    dev: u64,
    ino: u64,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    key: Key,
    learned: Learned,
}

fn key_of(binary: &Path) -> Option<Key> {
    let path = binary.canonicalize().ok()?;
    let m = std::fs::metadata(&path).ok()?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Key {
        size: m.len(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
        dev: m.dev(),
        ino: m.ino(),
        path,
    })
}

pub fn cache_file(paths: &Paths) -> PathBuf {
    paths.cache_dir().join(CACHE_NAME)
}

/// What the real codex accepts: from the cache when it belongs to this
/// binary, else from `codex --help` (at most `limit`), then cached.
pub fn learned(paths: &Paths, codex: &Codex, limit: Duration) -> Option<Learned> {
    let key = key_of(codex.binary()?)?;
    let file = cache_file(paths);
    if let Some(l) = read_cache(&file, &key) {
        return Some(l);
    }
    let text = help_text(codex, limit)?;
    let learned = parse(&text)?;
    let cached = Cached {
        key,
        learned: learned.clone(),
    };
    if files::create_private_dir(&paths.cache_dir()).is_ok() {
        let bytes = serde_json::to_vec(&cached).expect("serialises");
        let _ = files::write_atomic_cache(&file, &bytes);
    }
    Some(learned)
}

/// The cached answer, when it is for `key` and every name in it is sane.
fn read_cache(file: &Path, key: &Key) -> Option<Learned> {
    let bytes = files::read_regular(file, CACHE_CAP).ok()?;
    let cached: Cached = serde_json::from_slice(&bytes).ok()?;
    let l = cached.learned;
    let sane = l.subcommands.len() <= MAX_NAMES
        && l.value_options.len() <= MAX_NAMES
        && l.subcommands.iter().all(|s| is_name(s))
        && l.value_options.iter().all(|o| is_option(o));
    (cached.key == *key && sane).then_some(l)
}

/// `codex --help` on stdout, bounded in size and time (see
/// `codex::bounded_output`); None unless it exits 0 within `limit` having
/// printed something.
fn help_text(codex: &Codex, limit: Duration) -> Option<String> {
    let (status, out) = super::bounded_output(codex, "--help", HELP_CAP as u64, limit)?;
    (status.success() && !out.is_empty()).then_some(())?;
    String::from_utf8(out).ok()
}

/// A subcommand name as codex spells them: `exec`, `migrate-nfs-db`.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_option(s: &str) -> bool {
    let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'));
    body.is_some_and(|b| {
        !b.is_empty() && b.len() <= 40 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The subcommands and value-taking options of a clap help text. None
/// when it has no "Commands:" section (not codex's help).
pub fn parse(text: &str) -> Option<Learned> {
    let mut learned = Learned::default();
    let mut section = "";
    let mut entry = String::new();
    let flush = |entry: &mut String, learned: &mut Learned| {
        learned.subcommands.extend(command_names(entry));
        entry.clear();
    };
    for line in text.lines() {
        if !line.starts_with(' ') && line.trim_end().ends_with(':') {
            flush(&mut entry, &mut learned);
            section = line.trim_end();
            continue;
        }
        match section {
            "Commands:" if line.starts_with("  ") && !line.starts_with("   ") => {
                flush(&mut entry, &mut learned);
                entry.push_str(line);
            }
            "Commands:" => {
                entry.push(' ');
                entry.push_str(line.trim());
            }
            "Options:" => learned.value_options.extend(value_options(line)),
            _ => {}
        }
    }
    flush(&mut entry, &mut learned);
    let found = text.lines().any(|l| l.trim_end() == "Commands:");
    learned.subcommands.retain(|s| is_name(s));
    learned.value_options.retain(|o| is_option(o));
    learned.subcommands.truncate(MAX_NAMES);
    learned.value_options.truncate(MAX_NAMES);
    found.then_some(learned)
}

/// "  apply  Apply the latest diff ... [aliases: a]" -> apply, a.
fn command_names(entry: &str) -> Vec<String> {
    let mut names: Vec<String> = entry
        .split_whitespace()
        .next()
        .map(str::to_string)
        .into_iter()
        .collect();
    for tag in ["[aliases: ", "[alias: "] {
        if let Some(rest) = entry.split(tag).nth(1) {
            let list = rest.split(']').next().unwrap_or_default();
            names.extend(list.split(',').map(|a| a.trim().to_string()));
        }
    }
    names
}

/// "  -c, --config <key=value>" -> -c, --config; "      --oss" -> nothing.
fn value_options(line: &str) -> Vec<String> {
    let t = line.trim_start();
    if !t.starts_with('-') || line.len() - t.len() > 8 {
        return Vec::new();
    }
    let head = t.split("  ").next().unwrap_or_default();
    if !head.contains(" <") && !head.contains("=<") {
        return Vec::new();
    }
    head.split([',', ' ', '='])
        .filter(|w| w.starts_with('-'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// codex 0.171.0's whole `--help`, as the binary printed it.
    pub const HELP_0_171_0: &str = include_str!("../../tests/data/codex-0.171.0-help.txt");

    #[test]
    fn parses_codex_0_171_0_help() {
        let l = parse(HELP_0_171_0).unwrap();
        assert_eq!(l.subcommands.len(), 29, "{:?}", l.subcommands);
        for s in [
            "agents",
            "exec",
            "e",
            "apply",
            "a",
            "migrate-nfs-db",
            "help",
        ] {
            assert!(l.subcommands.contains(&s.to_string()), "{s}: {l:?}");
        }
        assert!(!l.subcommands.iter().any(|s| s == "working" || s == "the"));
        for o in [
            "-c",
            "--config",
            "--remote",
            "--remote-auth-token-env",
            "-i",
            "-C",
            "--add-dir",
        ] {
            assert!(l.value_options.contains(&o.to_string()), "{o}: {l:?}");
        }
        for flag in ["--oss", "--no-daemon", "--search", "-h", "--help"] {
            assert!(!l.value_options.contains(&flag.to_string()), "{flag}");
        }
    }

    #[test]
    fn odd_text_is_not_learned() {
        assert_eq!(parse("no commands here\n"), None);
        let planted = "Commands:\n  Rm-RF  x\n  ok-one  fine\n  ../x  y\n";
        assert_eq!(parse(planted).unwrap().subcommands, ["ok-one"]);
        assert!(!is_name("exec;rm"));
        assert!(!is_name(&"a".repeat(41)));
        assert!(is_option("--remote-auth-token-env") && !is_option("--x y"));
    }

    #[test]
    fn the_cache_belongs_to_one_binary_and_is_read_safely() {
        let dir = std::env::temp_dir().join(format!("swop-help-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("codex");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        let key = key_of(&bin).unwrap();
        let file = dir.join(CACHE_NAME);
        let learned = parse(HELP_0_171_0).unwrap();
        let write = |k: &Key, l: &Learned| {
            let c = Cached {
                key: k.clone(),
                learned: l.clone(),
            };
            std::fs::write(&file, serde_json::to_vec(&c).unwrap()).unwrap();
        };
        write(&key, &learned);
        assert_eq!(read_cache(&file, &key), Some(learned.clone()));
        // Another binary (a new install changes size/mtime/inode): not ours.
        std::fs::write(&bin, "#!/bin/sh\n# 0.172.0\n").unwrap();
        assert_eq!(read_cache(&file, &key_of(&bin).unwrap()), None);
        // A planted name is refused whole.
        let mut bad = learned.clone();
        bad.subcommands.push("$(reboot)".into());
        write(&key, &bad);
        assert_eq!(read_cache(&file, &key), None);
        // A link or a FIFO in its place is never followed or waited on.
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &file).unwrap();
        assert_eq!(read_cache(&file, &key), None);
        std::fs::remove_file(&file).unwrap();
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_cache(&file, &key), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
