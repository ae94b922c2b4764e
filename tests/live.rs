//! Live sessions per account, spreading, and the
//! logout guard. Failover itself runs against the real codex in real_codex.rs.

use crate::support::{Backend, Running, TestEnv};
use serde_json::Value;
use std::time::Duration;

/// `a` (weekly 10%) and `b` (15%).
fn setup(extra: &str) -> (TestEnv, Backend) {
    crate::support::world::world(&[("a", 10.0), ("b", 15.0)], extra)
}

/// A launch that keeps codex running until killed.
fn long_launch(env: &TestEnv) -> Running {
    let mut r = env
        .codex()
        .args(["exec", "long"])
        .env("FAKE_SLEEP", "60")
        .spawn();
    assert!(r.wait_for_output("swop: codex on", Duration::from_secs(20)));
    // Give the launch a moment to register before codex starts.
    std::thread::sleep(Duration::from_millis(200));
    r
}

fn live_counts(env: &TestEnv) -> Vec<(String, u64)> {
    let v: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["live_sessions"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn status_counts_live_sessions_and_forgets_them_when_they_end() {
    let (env, _backend) = setup("");
    let r1 = long_launch(&env);
    let r2 = long_launch(&env);
    assert_eq!(
        live_counts(&env),
        [("a".to_string(), 2), ("b".to_string(), 0)]
    );
    let v: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    let live = &v["accounts"][0]["live"];
    let pids: Vec<u64> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["pid"].as_u64().unwrap())
        .collect();
    assert!(
        pids.contains(&(r1.pid() as u64)) && pids.contains(&(r2.pid() as u64)),
        "{live}"
    );
    assert_eq!(live[0]["cwd"], env.work.display().to_string());
    let table = env.swop().arg("status").ok().stdout;
    assert!(table.contains("LIVE"), "{table}");
    r1.signal(libc::SIGTERM);
    r1.wait_output(Duration::from_secs(20));
    assert_eq!(
        live_counts(&env),
        [("a".to_string(), 1), ("b".to_string(), 0)]
    );
    r2.signal(libc::SIGTERM);
    r2.wait_output(Duration::from_secs(20));
    assert_eq!(
        live_counts(&env),
        [("a".to_string(), 0), ("b".to_string(), 0)]
    );
}

#[test]
fn a_killed_swop_leaves_no_live_session_behind() {
    let (env, _backend) = setup("");
    let r = long_launch(&env);
    // swop and its codex killed together (a codex that outlives swop keeps
    // the session live: hardening::a_killed_swop_keeps_the_session_live_...).
    r.signal_group(libc::SIGKILL);
    r.wait_output(Duration::from_secs(20));
    assert_eq!(
        live_counts(&env),
        [("a".to_string(), 0), ("b".to_string(), 0)]
    );
    // The stale entry is gone from disk as well.
    let dir = env.swop_home.join("live/a");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn logout_refuses_while_codex_runs_unless_forced() {
    let (env, _backend) = setup("");
    let r = long_launch(&env);
    let out = env.swop().args(["logout", "a"]).code(1);
    assert!(
        out.stderr.contains("codex is running on 'a' in 1 session:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("pid {}", r.pid())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("swop logout a --force"),
        "{}",
        out.stderr
    );
    assert!(env.account_home("a").join("auth.json").exists());
    env.swop().args(["logout", "a", "--force"]).ok();
    assert!(!env.account_home("a").join("auth.json").exists());
    r.signal(libc::SIGTERM);
    r.wait_output(Duration::from_secs(20));
}

#[test]
fn spread_sends_the_next_launch_to_the_idle_account() {
    let (env, _backend) = setup("[selection]\nspread = true\n");
    let r = long_launch(&env);
    assert!(r.stderr_so_far().contains("codex on 'a'"));
    let out = env.codex().args(["exec", "second"]).ok();
    assert!(out.stderr.contains("codex on 'b'"), "{}", out.stderr);
    assert!(
        out.stderr.contains("spread: 0 live sessions"),
        "{}",
        out.stderr
    );
    // Without spread, the lowest weekly wins whatever runs there.
    let (env2, _b2) = setup("");
    let r2 = long_launch(&env2);
    let out = env2.codex().args(["exec", "second"]).ok();
    assert!(out.stderr.contains("codex on 'a'"), "{}", out.stderr);
    for r in [r, r2] {
        r.signal(libc::SIGTERM);
        r.wait_output(Duration::from_secs(20));
    }
}

#[test]
fn a_relogin_while_codex_runs_keeps_the_old_login_valid_for_it() {
    let (env, _backend) = setup("");
    let running = long_launch(&env);
    let auth = env.write_auth_fixture("a2", &crate::support::Identity::named("a"));
    let out = env
        .swop()
        .args(["relogin", "a"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    assert!(
        out.stderr
            .contains("the old login is not revoked so they keep working"),
        "{}",
        out.stderr
    );
    assert!(
        !env.fake_log()
            .iter()
            .any(|c| c.args.contains(&"logout".to_string())),
        "no logout while codex runs on the old tokens"
    );
    assert_eq!(
        std::fs::read(env.account_home("a").join("auth.json")).unwrap(),
        std::fs::read(&auth).unwrap()
    );
    running.signal(libc::SIGTERM);
    running.finish();
}
