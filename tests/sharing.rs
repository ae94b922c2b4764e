//! The links of each sandbox into the shared
//! codex home, migration of existing sandboxes, and links that never
//! dangle. The real codex side (resume across accounts, one SQLite home) is
//! in real_codex.rs.

use crate::support::world::config_for;
use crate::support::{Backend, TestEnv};
use std::fs;
use std::path::Path;

const SHARED: &[&str] = &[
    "config.toml",
    "AGENTS.md",
    "prompts",
    "skills",
    "rules",
    "sessions",
    "archived_sessions",
    "history.jsonl",
];

/// Account `a`, added after swop.toml (with the share list off or not) is
/// written, so its sandbox is made under that list.
fn setup(share_off: bool) -> (TestEnv, Backend) {
    let extra = if share_off {
        "[sandbox]\nshare = []\n"
    } else {
        ""
    };
    crate::support::world::World::new(&[("a", 10.0)])
        .extra(extra)
        .config_first()
        .build()
}

/// Rewrites swop.toml with the default share list.
fn share_on(env: &TestEnv, backend: &Backend) {
    config_for(env, backend, "");
}

fn assert_linked(home: &Path, shared: &Path) {
    for name in SHARED {
        let link = home.join(name);
        let target =
            fs::read_link(&link).unwrap_or_else(|_| panic!("{} is not a link", link.display()));
        assert_eq!(target, shared.join(name));
        assert!(link.exists(), "{} dangles", link.display());
    }
}

#[test]
fn every_sandbox_links_the_shared_entries_and_keeps_its_own_auth() {
    let (env, _backend) = setup(false);
    let shared = env.home.join(".codex");
    assert!(!shared.join("config.toml").exists() || shared.join("config.toml").is_file());
    env.codex().args(["exec", "x"]).ok();
    let home = env.account_home("a");
    assert_linked(&home, &shared);
    let auth = fs::symlink_metadata(home.join("auth.json")).unwrap();
    assert!(
        auth.is_file() && !auth.file_type().is_symlink(),
        "credentials stay per account"
    );
    assert!(!shared.join("auth.json").exists());
    // codex gets the shared SQLite home, and the file credential store.
    let run = env
        .fake_log()
        .into_iter()
        .rev()
        .find(|c| c.subcommand() == Some("exec"))
        .unwrap();
    assert_eq!(
        &run.args[..2],
        ["-c", "cli_auth_credentials_store=\"file\""]
    );
}

#[test]
fn sqlite_home_points_at_the_shared_dir() {
    let (env, _backend) = setup(false);
    env.codex()
        .args(["exec", "x"])
        .env("FAKE_LOG_VARS", "CODEX_SQLITE_HOME")
        .ok();
    let run = env
        .fake_log()
        .into_iter()
        .rev()
        .find(|c| c.subcommand() == Some("exec"))
        .unwrap();
    assert_eq!(
        run.vars.get("CODEX_SQLITE_HOME").map(String::as_str),
        Some(env.home.join(".codex").to_str().unwrap())
    );
}

#[test]
fn an_existing_sandbox_migrates_on_its_next_launch() {
    let (env, backend) = setup(true);
    let home = env.account_home("a");
    // A sandbox from before sharing: its own sessions and config.
    let day = home.join("sessions/2026/11/20");
    fs::create_dir_all(&day).unwrap();
    fs::write(
        day.join("rollout-2026-11-20T10-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl"),
        "{}\n",
    )
    .unwrap();
    fs::write(home.join("config.toml"), "model = \"mine\"\n").unwrap();
    let shared = env.home.join(".codex");
    fs::create_dir_all(shared.join("sessions/2026/11/21")).unwrap();
    fs::write(shared.join("sessions/2026/11/21/other.jsonl"), "{}\n").unwrap();

    share_on(&env, &backend);
    let out = env.codex().args(["exec", "x"]).ok();
    // Sessions merged into the shared dir, then linked.
    assert!(
        out.stderr
            .contains("moved the sandbox's sessions/ into the shared"),
        "{}",
        out.stderr
    );
    assert!(fs::read_link(home.join("sessions")).is_ok());
    assert!(shared.join("sessions/2026/11/20/rollout-2026-11-20T10-00-00-0199a213-81c0-7800-8aa1-bbab2a035a53.jsonl").is_file());
    assert!(shared.join("sessions/2026/11/21/other.jsonl").is_file());
    // The sandbox's own config.toml is never overwritten: reported once.
    assert_eq!(
        fs::read_to_string(home.join("config.toml")).unwrap(),
        "model = \"mine\"\n"
    );
    assert!(
        out.stderr
            .contains("config.toml' is the sandbox's own copy"),
        "{}",
        out.stderr
    );
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(
        !out.stderr.contains("own copy"),
        "reported once only: {}",
        out.stderr
    );
}

#[test]
fn session_files_that_exist_on_both_sides_are_left_in_place() {
    let (env, backend) = setup(true);
    let home = env.account_home("a");
    fs::create_dir_all(home.join("sessions")).unwrap();
    fs::write(home.join("sessions/same.jsonl"), "mine\n").unwrap();
    let shared = env.home.join(".codex");
    fs::create_dir_all(shared.join("sessions")).unwrap();
    fs::write(shared.join("sessions/same.jsonl"), "theirs\n").unwrap();
    share_on(&env, &backend);
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(
        out.stderr.contains("1 file in '")
            && out
                .stderr
                .contains("also exists in the shared sessions/; left in place"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(home.join("sessions/same.jsonl")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        fs::read_to_string(shared.join("sessions/same.jsonl")).unwrap(),
        "theirs\n"
    );
}

#[test]
fn links_never_dangle_even_without_a_shared_home() {
    let (env, _backend) = setup(false);
    let shared = env.home.join(".codex");
    fs::remove_dir_all(&shared).ok();
    env.codex().args(["exec", "x"]).ok();
    assert_linked(&env.account_home("a"), &shared);
    assert!(shared.join("sessions").is_dir() && shared.join("config.toml").is_file());
    crate::support::world::assert_private_tree(&shared);
}

#[test]
fn share_off_removes_earlier_links_and_keeps_homes_separate() {
    let (env, backend) = setup(false);
    env.codex().args(["exec", "x"]).ok();
    let shared = env.home.join(".codex");
    fs::write(shared.join("config.toml"), "keep = 1\n").unwrap();
    config_for(&env, &backend, "[sandbox]\nshare = []\n");
    env.codex()
        .args(["exec", "x"])
        .env("FAKE_LOG_VARS", "CODEX_SQLITE_HOME")
        .ok();
    for name in SHARED {
        assert!(
            fs::symlink_metadata(env.account_home("a").join(name)).is_err(),
            "{name} still linked"
        );
    }
    assert_eq!(
        fs::read_to_string(shared.join("config.toml")).unwrap(),
        "keep = 1\n",
        "targets untouched"
    );
    let run = env
        .fake_log()
        .into_iter()
        .rev()
        .find(|c| c.subcommand() == Some("exec"))
        .unwrap();
    assert!(!run.vars.contains_key("CODEX_SQLITE_HOME"));
}
