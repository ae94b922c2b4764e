//! What swop shows. The status table fitted to the terminal (and
//! whole when piped), `status --watch` on a pty, `ps`, `disable`/`enable`,
//! and doctor's checks.

use crate::support::world::{config_for, on_a_terminal, world};
use crate::support::{strip_ansi, usage_json, widest, Backend, Fault, TestEnv};
use serde_json::Value;
use std::time::Duration;

/// Five accounts with long names: one at its limit, one with stale numbers.
fn five_accounts() -> (TestEnv, Backend) {
    let names = [
        ("work-enterprise-primary", 10.0),
        ("personal-plus-account", 100.0),
        ("team-shared-workspace", 30.0),
        ("side-project-account", 40.0),
        ("weekend-hacking-login", 50.0),
    ];
    let (env, backend) = world(&names, "stale_after = \"1h\"\n");
    let mut limited = usage_json("plus", 100.0, 50.0);
    limited["rate_limit"]["limit_reached"] = Value::Bool(true);
    limited["rate_limit"]["allowed"] = Value::Bool(false);
    // Two minutes past the hour, so that a slow test still reads "in 1h ...".
    let five_hour_reset = crate::support::now_unix() + 3600 + 120;
    limited["rate_limit"]["primary_window"]["reset_at"] = five_hour_reset.into();
    backend.set_usage("acct-personal-plus-account", limited);
    env.swop().arg("status").ok(); // fills the cache
                                   // Ten minutes later the server fails for one account: its numbers are stale.
    let cache = env.swop_home.join("cache/team-shared-workspace.json");
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    entry["fetched_at"] = (entry["fetched_at"].as_i64().unwrap() - 600).into();
    std::fs::write(&cache, entry.to_string()).unwrap();
    backend.set_usage_fault(
        "acct-team-shared-workspace",
        Fault::Status(500, "{}".into()),
    );
    (env, backend)
}

#[test]
fn status_fits_sixty_columns_on_a_terminal_and_is_whole_when_piped() {
    let (env, _backend) = five_accounts();
    let (code, shown) = on_a_terminal(
        env.swop()
            .args(["status", "--refresh"])
            .env("COLUMNS", "60"),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "{shown}");
    let shown = strip_ansi(&shown);
    assert!(widest(&shown) <= 60, "a line is wider than 60:\n{shown}");
    assert!(shown.contains("limit"), "{shown}");
    assert!(shown.contains("stale"), "{shown}");
    let piped = env.swop().args(["status", "--refresh"]).ok().stdout;
    assert!(widest(&piped) > 60, "{piped}");
    for col in [
        "EMAIL",
        "PLAN",
        "5H USED",
        "WEEK USED",
        "WEEK RESET",
        "STATE",
        "USABLE AGAIN",
        "LIVE",
    ] {
        assert!(piped.contains(col), "piped table lacks {col}:\n{piped}");
    }
    assert!(piped.contains("work-enterprise-primary"), "{piped}");
    // The limited account comes back at its 5-hour reset (in 1h), and the
    // stale one says how old its numbers are.
    let limited = piped
        .lines()
        .find(|l| l.contains("personal-plus-account"))
        .unwrap();
    assert!(
        limited.contains("limit reached") && limited.contains("(in 1h"),
        "{limited}"
    );
    let stale = piped
        .lines()
        .find(|l| l.contains("team-shared-workspace"))
        .unwrap();
    assert!(stale.contains("ok, stale ("), "{stale}");
    assert!(
        piped.contains("* = the account `codex` would use now"),
        "{piped}"
    );
}

#[test]
fn status_says_when_everything_is_blocked_and_uses_pick_words() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    for n in ["a", "b"] {
        let mut u = usage_json("plus", 100.0, 50.0);
        u["rate_limit"]["allowed"] = Value::Bool(false);
        backend.set_usage(&format!("acct-{n}"), u);
    }
    let out = env.swop().args(["status", "--refresh"]).ok();
    assert!(out.stdout.contains("not allowed"), "{}", out.stdout);
    assert!(!out.stdout.contains("blocked  "), "{}", out.stdout);
    assert!(
        out.stdout.contains("all accounts blocked; earliest: a at"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("* ="),
        "no row has the star: {}",
        out.stdout
    );
    let pick = env.swop().arg("pick").code(5);
    assert!(pick.stderr.contains("not allowed"), "{}", pick.stderr);
}

#[test]
fn pick_lists_the_passed_over_accounts_plainly() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    let out = env.swop().arg("pick").ok();
    assert!(
        out.stdout.starts_with("a: lowest weekly usage (10%)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("passed over:\n  b"), "{}", out.stdout);
    assert!(!out.stdout.contains("not b"), "{}", out.stdout);
}

#[test]
fn status_watch_redraws_in_place_from_the_cache() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = \"1h\"\n");
    let (_, shown) = on_a_terminal(
        env.swop()
            .args(["status", "--watch", "1"])
            .env("COLUMNS", "100"),
        b"",
        Duration::from_secs(4),
    );
    let frames = shown.matches("\x1b[H\x1b[J").count();
    assert!(
        frames >= 2,
        "expected a redraw, got {frames} frame(s):\n{shown}"
    );
    assert!(strip_ansi(&shown).contains("Ctrl-C to stop"), "{shown}");
    // Every frame after the first came from the cache: one request per account.
    assert_eq!(backend.count("/backend-api/wham/usage"), 2);
}

#[test]
fn disable_keeps_an_account_out_of_picks_until_enabled() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    let out = env.swop().args(["disable", "a"]).ok();
    assert!(out.stdout.contains("disabled 'a'"), "{}", out.stdout);
    let file = env.swop_home.join("disabled.json");
    assert_eq!(crate::support::world::mode(&file), 0o600);
    let pick: Value =
        serde_json::from_str(&env.swop().args(["pick", "--json"]).ok().stdout).unwrap();
    assert_eq!(pick["account"], "b");
    assert_eq!(pick["passed_over"][0]["reason"], "disabled (swop enable a)");
    let status: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(status["accounts"][0]["disabled"], true);
    assert_eq!(status["accounts"][0]["state"], "disabled");
    let table = env.swop().arg("status").ok().stdout;
    assert!(table.contains("after swop enable a"), "{table}");
    // SWOP_ACCOUNT still forces it.
    let forced: Value = serde_json::from_str(
        &env.swop()
            .args(["pick", "--json"])
            .env("SWOP_ACCOUNT", "a")
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(forced["account"], "a");
    let out = env.codex().args(["exec", "hi"]).ok();
    assert!(out.stderr.contains("codex on 'b'"), "{}", out.stderr);
    env.swop().args(["enable", "a"]).ok();
    let pick: Value =
        serde_json::from_str(&env.swop().args(["pick", "--json"]).ok().stdout).unwrap();
    assert_eq!(pick["account"], "a");
    let again = env.swop().args(["enable", "a"]).ok();
    assert!(
        again.stdout.contains("was not disabled"),
        "{}",
        again.stdout
    );
}

#[test]
fn disable_for_a_while_shows_when_it_comes_back() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    env.swop().args(["disable", "a", "--for", "2h"]).ok();
    let status: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    let a = &status["accounts"][0];
    assert_eq!(a["disabled"], true);
    assert!(a["usable_at"]["unix"].as_i64().is_some(), "{a}");
    let table = env.swop().arg("status").ok().stdout;
    assert!(
        table.contains("(in 2h)") || table.contains("(in 1h 59m)"),
        "{table}"
    );
    env.swop().args(["disable", "nobody"]).code(4);
    env.swop().args(["disable", "a", "--for", "soon"]).code(2);
}

#[test]
fn ps_lists_live_sessions() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    let empty: Value =
        serde_json::from_str(&env.swop().args(["ps", "--json"]).ok().stdout).unwrap();
    assert_eq!(empty["sessions"].as_array().unwrap().len(), 0);
    let run = env
        .codex()
        .args(["exec", "hi"])
        .env("FAKE_SLEEP", "20")
        .spawn();
    let mut seen = Value::Null;
    for _ in 0..200 {
        let v: Value =
            serde_json::from_str(&env.swop().args(["ps", "--json"]).ok().stdout).unwrap();
        if !v["sessions"].as_array().unwrap().is_empty() {
            seen = v;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = &seen["sessions"][0];
    assert_eq!(s["account"], "a", "{seen}");
    assert_eq!(s["pid"], run.pid(), "{seen}");
    assert_eq!(s["cwd"], env.work.display().to_string(), "{seen}");
    assert!(s["started_at"]["rfc3339"].is_string(), "{seen}");
    let table = env.swop().arg("ps").ok().stdout;
    assert!(
        table.starts_with("PID ") && table.contains("ACCOUNT  DIRECTORY"),
        "{table}"
    );
    assert!(table.contains(&run.pid().to_string()), "{table}");
    run.signal_group(libc::SIGKILL);
    let _ = run.wait_output(Duration::from_secs(10));
}

/// Account `work` and no swop.toml.
fn doctor_world() -> (TestEnv, Backend) {
    crate::support::world::World::new(&[("work", 12.0)])
        .without_config()
        .build()
}

#[test]
fn doctor_says_defaults_without_a_config_and_accepts_any_link_to_swop() {
    let (env, _backend) = doctor_world();
    // A `codex -> swop` link of the user's own, first on PATH; no shim dir.
    let own = env.home.join("mybin");
    std::fs::create_dir_all(&own).unwrap();
    std::os::unix::fs::symlink(crate::support::swop_bin(), own.join("codex")).unwrap();
    let out = env
        .swop()
        .arg("doctor")
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                own.display(),
                env.bin.display(),
                crate::support::system_path().display()
            ),
        )
        .run();
    assert!(out.stdout.contains("no config file"), "{}", out.stdout);
    assert!(out.stdout.contains("the defaults apply"), "{}", out.stdout);
    assert!(!out.stdout.contains("config '"), "{}", out.stdout);
    assert!(out.stdout.contains("a link to swop"), "{}", out.stdout);
    assert!(!out.stdout.contains("not on PATH"), "{}", out.stdout);
    // The fake codex's version is outside the tested range: a warning.
    let (lo, hi) = crate::install::tested_range();
    assert!(
        out.stdout
            .contains(&format!("swop is tested with codex {lo} to {hi}")),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_fix_depends_on_how_the_usage_server_failed() {
    let (env, backend) = doctor_world();
    config_for(&env, &backend, "");
    backend.set_usage_fault("acct-work", Fault::Status(429, "{}".into()));
    let v: Value =
        serde_json::from_str(&env.swop().args(["doctor", "--json"]).run().stdout).unwrap();
    let check = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["check"]
                .as_str()
                .unwrap()
                .contains("'work': usage server")
        })
        .cloned()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(check["level"], "warn");
    let fix = check["fix"].as_str().unwrap();
    assert!(
        fix.contains("retry later") && fix.contains("throttling"),
        "{fix}"
    );
    assert!(
        fix.contains("every account failed"),
        "the only account failed: {fix}"
    );
}
