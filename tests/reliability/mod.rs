//! Reliability and security under load, faults and bad input.
//!
//! Every command here runs through the rig's `TestCommand`, which scans its
//! stdout and stderr for every registered fixture secret (whole JWTs, their
//! payload and signature segments, refresh tokens, API keys, and anything a
//! test registers): a leak anywhere fails the test that caused it. On top of
//! that, each test checks that the message still names the cause.
//!
//! Figures (requests, launches, faults, inputs) are printed with eprintln!
//! and show with `cargo test --test tests reliability -- --nocapture`.
//!
//! One file per topic; this file holds what they share. Every world comes
//! from `support::world`.

mod bad_input;
mod concurrency;
mod crash_safety;
mod fault_matrix;
mod local_faults;
mod permissions;
mod secrets;

use crate::support::{Output, TestEnv};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const USAGE: &str = "/backend-api/wham/usage";

fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}):\n{}", out.stdout))
}

fn pick_json(env: &TestEnv) -> (Value, Output) {
    let out = env.swop().args(["pick", "--json"]).ok();
    (json_of(&out, "pick --json"), out)
}

fn auth_file(env: &TestEnv, name: &str) -> PathBuf {
    env.account_home(name).join("auth.json")
}

/// Names in `swop list --json`.
fn listed(env: &TestEnv) -> Vec<String> {
    let out = env.swop().args(["list", "--json"]).ok();
    json_of(&out, "list --json")
        .as_array()
        .expect("list --json is an array")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect()
}

/// Entries of SWOP_HOME/accounts whose name starts with `prefix`.
fn hidden_entries(env: &TestEnv, prefix: &str) -> Vec<String> {
    fs::read_dir(env.swop_home.join("accounts"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Every `*.json` under SWOP_HOME/cache parses; returns how many there are
/// and how many hidden temp files are lying around.
fn cache_files_parse(env: &TestEnv) -> (usize, usize) {
    let dir = env.swop_home.join("cache");
    let Ok(rd) = fs::read_dir(&dir) else {
        return (0, 0);
    };
    let (mut n, mut tmp) = (0, 0);
    for e in rd {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') {
            tmp += 1;
            continue;
        }
        if name.ends_with(".json") {
            let bytes = fs::read(&p).unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{} does not parse ({e}): {:?}",
                    p.display(),
                    String::from_utf8_lossy(&bytes)
                )
            });
            n += 1;
        }
    }
    (n, tmp)
}

/// The CODEX_HOME the fake codex printed it ran with.
fn ran_in(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("fake codex ran with CODEX_HOME="))
        .map(str::to_string)
}

/// The only stderr line about `account`'s usage, asserting it is one line
/// that names the account.
fn one_warning<'a>(stderr: &'a str, account: &str, what: &str) -> &'a str {
    let quoted = format!("'{account}'");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning:") && l.contains(&quoted))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: exactly one warning line for {quoted}:\n{stderr}"
    );
    lines[0]
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every entry under `root`: files with their mode, length and a hash of
/// their bytes (never the bytes: a failing assertion must not print a
/// token), dirs with their mode, links with their target. To prove that a
/// failed command changed nothing.
fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", m.permissions().mode() & 0o777)
            } else {
                let bytes = fs::read(&p).unwrap();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                format!(
                    "{:o} {} bytes, hash {:016x}",
                    m.permissions().mode() & 0o777,
                    bytes.len(),
                    h.finish()
                )
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}
