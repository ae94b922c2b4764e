//! Codex's own subcommands through the shim behave as swop's argv
//! table says (src/launch/argv.rs): the fake codex records every argv, so
//! each test shows where the call ran (which CODEX_HOME), with which
//! arguments, and whether swop picked, announced or failed over.

use crate::support::{flip_exhausted, usage_json, Backend, FakeCall, TestEnv};
use std::fs;

const USAGE: &str = "/backend-api/wham/usage";
const FILE_STORE: &str = "cli_auth_credentials_store=\"file\"";

/// `a` (weekly 10%) and `b` (40%), failover automatic.
fn world() -> (TestEnv, Backend) {
    crate::support::world::world(&[("a", 10.0), ("b", 40.0)], "[failover]\nmode = \"auto\"\n")
}

fn home(env: &TestEnv, name: &str) -> String {
    env.account_home(name).display().to_string()
}

fn shared(env: &TestEnv) -> String {
    env.home.join(".codex").display().to_string()
}

/// The fake codex's runs, without the logins of `swop add` and the
/// `--help` of the grammar look-up.
fn runs(env: &TestEnv) -> Vec<FakeCall> {
    env.fake_log()
        .into_iter()
        .filter(|c| c.args != ["--help"] && c.subcommand() != Some("login"))
        .collect()
}

fn help_calls(env: &TestEnv) -> usize {
    env.fake_log()
        .iter()
        .filter(|c| c.args == ["--help"])
        .count()
}

/// `a`'s numbers cached as fine, then `a` exhausted on the server: a launch
/// picks `a` from the cache and only the after-run look finds it out.
fn exhaust_a_behind_the_cache(env: &TestEnv, backend: &Backend) {
    backend.set_usage("acct-a", usage_json("plus", 5.0, 10.0));
    env.swop().args(["status", "--refresh"]).ok();
    let mut u = usage_json("plus", 5.0, 10.0);
    flip_exhausted(&mut u);
    backend.set_usage("acct-a", u);
}

#[test]
fn commands_that_need_no_account_run_in_the_shared_home_without_a_pick() {
    let (env, backend) = world();
    for args in [
        &["update"][..],
        &["archive", "019a-id"],
        &["features", "enable", "x"],
        &["mcp", "list"],
        &["migrate-rollouts", "--apply"],
    ] {
        let before = runs(&env).len();
        let out = env.codex().args(args.iter().copied()).ok();
        assert!(!out.stderr.contains("codex on"), "{args:?}: {}", out.stderr);
        let calls = runs(&env);
        assert_eq!(calls.len(), before + 1, "{args:?}: one run");
        let call = calls.last().unwrap();
        assert_eq!(call.args, *args, "{args:?}: passed through unchanged");
        assert_eq!(call.codex_home.as_deref(), Some(shared(&env).as_str()));
        assert_eq!(call.launched_home, None, "no account's sandbox");
    }
    assert_eq!(backend.count(USAGE), 0, "no pick, so no usage request");
    assert_eq!(help_calls(&env), 0, "the table knew them all");
}

#[test]
fn remote_runs_are_passed_through_without_a_pick_and_said_once() {
    let (env, backend) = world();
    for args in [
        &["exec", "--remote", "ws://127.0.0.1:9", "task"][..],
        &["--remote", "unix://", "hi"],
        &["--remote=wss://127.0.0.1:9"],
        &["archive", "--remote", "unix://", "019a-id"],
    ] {
        let out = env.codex().args(args.iter().copied()).ok();
        let said = "swop: --remote: that app server runs the turns with its own login, so no account is picked";
        assert_eq!(
            out.stderr.matches(said).count(),
            1,
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("codex on"), "{}", out.stderr);
        let call = runs(&env).pop().unwrap();
        assert_eq!(call.args, *args, "{args:?}");
        assert_eq!(call.codex_home.as_deref(), Some(shared(&env).as_str()));
    }
    assert_eq!(backend.count(USAGE), 0);
}

#[test]
fn review_runs_on_a_pick_and_fails_over_by_running_again_not_resuming() {
    let (env, backend) = world();
    let out = env.codex().args(["review", "--uncommitted"]).ok();
    assert!(out.stderr.contains("swop: codex on 'a'"), "{}", out.stderr);
    let call = runs(&env).pop().unwrap();
    assert_eq!(call.codex_home.as_deref(), Some(home(&env, "a").as_str()));
    assert_eq!(call.args, ["-c", FILE_STORE, "review", "--uncommitted"]);
    // `a` runs out during the review: the same command again on `b`.
    exhaust_a_behind_the_cache(&env, &backend);
    let before = runs(&env).len();
    let out = env
        .codex()
        .args(["review", "--uncommitted"])
        .env("FAKE_EXIT", "1")
        .run();
    assert_eq!(out.code, Some(1), "b's run fails too (FAKE_EXIT)");
    assert!(
        out.stderr.contains("continuing this command on 'b'"),
        "{}",
        out.stderr
    );
    let calls = &runs(&env)[before..];
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[0].codex_home.as_deref(),
        Some(home(&env, "a").as_str())
    );
    assert_eq!(
        calls[1].codex_home.as_deref(),
        Some(home(&env, "b").as_str())
    );
    assert_eq!(calls[1].args, ["-c", FILE_STORE, "review", "--uncommitted"]);
}

#[test]
fn other_commands_on_an_exhausted_account_keep_codexs_exit_code() {
    let (env, backend) = world();
    exhaust_a_behind_the_cache(&env, &backend);
    let before = runs(&env).len();
    let out = env.codex().args(["doctor"]).env("FAKE_EXIT", "3").run();
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("swop: codex on 'a'"), "{}", out.stderr);
    assert!(!out.stderr.contains("continuing"), "{}", out.stderr);
    assert_eq!(runs(&env).len(), before + 1, "no second run");
}

#[test]
fn the_background_servers_commands_need_swop_account() {
    let (env, _backend) = world();
    for args in [
        &["app-server", "daemon", "start"][..],
        &["app-server", "proxy"],
        &["remote-control", "start"],
    ] {
        let out = env.codex().args(args.iter().copied()).code(2);
        assert!(
            out.stderr
                .contains("background app server keeps one account's login"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("SWOP_ACCOUNT=NAME codex"),
            "{}",
            out.stderr
        );
    }
    assert!(runs(&env).is_empty(), "nothing ran");
    env.codex()
        .args(["app-server", "daemon", "start"])
        .env("SWOP_ACCOUNT", "b")
        .ok();
    let call = runs(&env).pop().unwrap();
    assert_eq!(call.codex_home.as_deref(), Some(home(&env, "b").as_str()));
    assert_eq!(call.args[2..], ["app-server", "daemon", "start"]);
    // The stdio app server (editors) is a normal launch.
    env.codex().args(["app-server"]).ok();
    let call = runs(&env).pop().unwrap();
    assert_eq!(call.codex_home.as_deref(), Some(home(&env, "a").as_str()));
}

/// A subcommand a newer codex adds is learned from that codex's `--help`
/// (once per binary: a warm launch asks nothing) and run as a subcommand:
/// on an account, codex's exit code final. The same word, when codex does
/// not list it, is the TUI's prompt, which fails over.
#[test]
fn a_subcommand_a_newer_codex_adds_is_learned_once_and_is_not_a_prompt() {
    let (env, backend) = world();
    exhaust_a_behind_the_cache(&env, &backend);
    let newer = |c: &mut crate::support::TestCommand| {
        c.env("FAKE_EXTRA_COMMANDS", "frobnicate")
            .env("FAKE_EXIT", "1");
    };
    let mut c = env.codex();
    c.args(["frobnicate", "--deep"]);
    newer(&mut c);
    let out = c.run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(!out.stderr.contains("continuing"), "{}", out.stderr);
    let calls = runs(&env);
    assert_eq!(calls.len(), 1, "one run, no failover: {calls:?}");
    assert_eq!(calls[0].args, ["-c", FILE_STORE, "frobnicate", "--deep"]);
    assert_eq!(help_calls(&env), 1, "learned from codex --help");
    let cache = env.swop_home.join("cache/codex-grammar");
    assert!(cache.is_file());
    assert_eq!(crate::support::world::mode(&cache), 0o600);
    // Warm: the same binary is not asked again.
    let mut c = env.codex();
    c.args(["frobnicate"]);
    newer(&mut c);
    c.run();
    assert_eq!(help_calls(&env), 1, "the cache answered");
    // Another binary (an upgrade rewrites it) is asked afresh, and an
    // older codex that lists no such command makes it the TUI's prompt:
    // an interactive run, which fails over to b.
    crate::support::write_fake_codex(&env.bin);
    exhaust_a_behind_the_cache(&env, &backend);
    let before = runs(&env).len();
    let out = env.codex().args(["frobnicate"]).env("FAKE_EXIT", "1").run();
    assert_eq!(help_calls(&env), 2, "a new binary is asked again");
    assert!(
        out.stderr.contains("continuing this command on 'b'"),
        "{}",
        out.stderr
    );
    assert_eq!(runs(&env).len(), before + 2);
    // A prompt with a space never needs codex's help.
    env.codex().args(["fix the bug"]).run();
    assert_eq!(help_calls(&env), 2);
}

/// A planted grammar cache (a link, a FIFO, garbage) never blocks or breaks
/// a launch: it is refused and rebuilt.
#[test]
fn a_hostile_grammar_cache_is_refused_and_rebuilt() {
    let (env, _backend) = world();
    let cache_dir = env.swop_home.join("cache");
    fs::create_dir_all(&cache_dir).unwrap();
    let cache = cache_dir.join("codex-grammar");
    let c = std::ffi::CString::new(cache.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = env
        .codex()
        .args(["frobnicate"])
        .env("FAKE_EXTRA_COMMANDS", "frobnicate")
        .ok();
    assert!(out.stderr.contains("codex on 'a'"), "{}", out.stderr);
    assert_eq!(help_calls(&env), 1);
    assert!(cache.is_file(), "replaced by a regular file");
    fs::remove_file(&cache).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &cache).unwrap();
    env.codex()
        .args(["frobnicate"])
        .env("FAKE_EXTRA_COMMANDS", "frobnicate")
        .ok();
    assert_eq!(help_calls(&env), 2);
    assert!(!fs::symlink_metadata(&cache)
        .unwrap()
        .file_type()
        .is_symlink());
    fs::write(&cache, "{not json").unwrap();
    env.codex()
        .args(["frobnicate"])
        .env("FAKE_EXTRA_COMMANDS", "frobnicate")
        .ok();
    assert_eq!(help_calls(&env), 3);
}
