//! The attacks of the hostile review that did not hold, one test
//! (or a few) per promise in SECURITY.md ("Hardening"). Each of these failed
//! before its fix.

use crate::support::world::{announced, world, write_config};
use crate::support::{usage_json, Identity, Output, TestEnv};
use serde_json::Value;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "/backend-api/wham/usage";

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", out.stdout))
}

/// No output of swop may hold a terminal control character other than \n.
fn assert_no_control(text: &str, what: &str) {
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        panic!("{what}: control character {c:?} reached the terminal:\n{text:?}");
    }
}

// ---------------------------------------------------------------------------
// 1. bearer tokens in cleartext

#[test]
fn plain_http_to_another_host_is_a_config_error_naming_https() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    for host in ["192.0.2.1:9", "example.com", "127.0.0.1.example.com"] {
        write_config(
            &env,
            &format!("[usage]\nbase_url = \"http://{host}/backend-api\"\ntimeout = \"1s\"\n"),
        );
        for out in [
            env.swop().args(["status", "--refresh"]).code(3),
            env.codex().args(["exec", "x"]).code(3),
        ] {
            assert!(out.stderr.contains("https://"), "{host}: {}", out.stderr);
            assert!(out.stderr.contains("unencrypted"), "{host}: {}", out.stderr);
        }
        assert!(env
            .fake_log()
            .iter()
            .all(|c| c.subcommand() != Some("exec")));
    }
}

/// A loopback TCP listener that only counts the connections it gets.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            // Hold it open without answering, as a proxy that reads.
            std::thread::spawn(move || {
                let _c = conn;
                std::thread::sleep(Duration::from_secs(10));
            });
        }
    });
    (url, n)
}

#[test]
fn a_plain_http_usage_request_never_goes_through_a_proxy() {
    let (env, backend) = world(&[("a", 10.0)], "");
    let (proxy, connections) = counting_listener();
    let out = env
        .swop()
        .args(["status", "--refresh", "--json"])
        .envs(
            [
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "ALL_PROXY",
                "http_proxy",
                "all_proxy",
            ]
            .map(|k| (k, proxy.as_str())),
        )
        .ok();
    assert_eq!(connections.load(Ordering::SeqCst), 0, "{}", out.stderr);
    assert_eq!(backend.count(USAGE), 1, "{}", out.stderr);
    assert_eq!(json_of(&out)["accounts"][0]["weekly"]["used_percent"], 10.0);
}

// ---------------------------------------------------------------------------
// 4. huge durations

#[test]
fn huge_durations_are_config_errors_and_codex_version_still_works() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    for text in [
        "[usage]\ntimeout = 1e30\n",
        "[usage]\ntimeout = 1e19\ncache_ttl = \"0s\"\n",
        "[usage]\ncache_ttl = 1e300\n",
    ] {
        write_config(&env, text);
        for args in [&["--version"][..], &["--help"][..]] {
            let out = env.codex().args(args).ok();
            assert!(!out.stderr.contains("panicked"), "{text}: {}", out.stderr);
        }
        let v = env.codex().arg("--version").ok();
        assert!(v.stdout.contains("codex-cli"), "{text}: {}", v.stdout);
        for out in [
            env.codex().args(["exec", "x"]).code(3),
            env.swop().arg("status").code(3),
        ] {
            assert!(!out.stderr.contains("panicked"), "{text}: {}", out.stderr);
            assert!(
                out.stderr.contains("SWOP_BYPASS=1"),
                "{text}: {}",
                out.stderr
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 6. server text reaches the terminal raw

#[test]
fn server_strings_are_cleaned_before_printing() {
    let (env, backend) = world(&[("a", 10.0)], "");
    let evil = "plus\u{1b}]0;pwned\u{7}\u{1b}[2J\nswop: codex on 'forged' (evil)\r\u{9b}";
    let mut body = usage_json("plus", 5.0, 10.0);
    body["plan_type"] = Value::from(evil);
    backend.set_usage("acct-a", body);
    let launch = env.codex().args(["exec", "x"]).ok();
    let status = env.swop().args(["status", "--refresh"]).ok();
    for (what, out) in [("launch", &launch), ("status", &status)] {
        assert_no_control(&out.stdout, what);
        assert_no_control(&out.stderr, what);
        for line in out.stderr.lines().chain(out.stdout.lines()) {
            assert!(
                !line.starts_with("swop: codex on 'forged'"),
                "{what}: {line}"
            );
        }
    }
    assert_eq!(announced(&launch.stderr).as_deref(), Some("a"));
    assert!(
        status.stdout.contains("\\u{1b}]0;pwned"),
        "{}",
        status.stdout
    );
    let json = env.swop().args(["status", "--json"]).ok();
    assert_no_control(&json.stdout, "status --json");
    assert_eq!(json_of(&json)["accounts"][0]["plan"], evil);
}

// ---------------------------------------------------------------------------
// 7. unchecked arithmetic on server numbers

#[test]
fn insane_server_numbers_are_missing_never_winning_or_wrapping() {
    let (env, backend) = world(&[("a", 10.0), ("b", 30.0)], "");
    let mut body = usage_json("plus", 5.0, 10.0);
    body["rate_limit"]["secondary_window"]["used_percent"] = Value::from(-50);
    body["rate_limit"]["primary_window"]["used_percent"] = Value::from(1e308);
    backend.set_usage("acct-a", body);
    let pick = env.swop().args(["pick", "--json"]).ok();
    assert_eq!(json_of(&pick)["account"], "b", "{}", pick.stderr);
    assert!(pick.stderr.contains("out-of-range"), "{}", pick.stderr);
    let table = env.swop().arg("status").ok();
    assert!(
        table.stdout.lines().all(|l| l.len() < 200),
        "{}",
        table.stdout
    );
    assert!(!table.stdout.contains("-50%"), "{}", table.stdout);
    for (field, v) in [
        ("reset_after_seconds", 1e300),
        ("reset_at", 253_402_300_800.0),
    ] {
        let mut body = usage_json("plus", 5.0, 10.0);
        let w = &mut body["rate_limit"]["secondary_window"];
        w.as_object_mut().unwrap().remove("reset_at");
        w[field] = Value::from(v);
        backend.set_usage("acct-a", body);
        let out = env.swop().args(["status", "--refresh", "--json"]).ok();
        let a = &json_of(&out)["accounts"][0];
        assert_eq!(a["weekly"]["used_percent"], 10.0, "{field}");
        assert_eq!(a["weekly"]["reset_at"], Value::Null, "{field}: {a}");
    }
}

// ---------------------------------------------------------------------------
// 11. cache_ttl = "0s"

#[test]
fn numbers_fetched_just_now_are_not_stale_with_ttl_0() {
    let (env, _backend) = world(&[("a", 10.0)], "cache_ttl = \"0s\"\n");
    let out = env.swop().arg("status").ok();
    assert!(!out.stdout.contains("stale"), "{}", out.stdout);
    let json = env.swop().args(["status", "--json"]).ok();
    assert_eq!(json_of(&json)["accounts"][0]["state"], "ok");
    assert_eq!(json_of(&json)["accounts"][0]["stale_seconds"], Value::Null);
}

// ---------------------------------------------------------------------------
// 8. symlinks where swop expects its own files

#[test]
fn an_account_dir_that_is_a_link_is_refused_never_followed() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    let link = env.account_home("evil");
    std::os::unix::fs::symlink(env.account_home("b"), &link).unwrap();
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("SWOP_ACCOUNT", "evil")
        .code(8);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(env
        .fake_log()
        .iter()
        .all(|c| c.subcommand() != Some("exec")));
    let out = env.swop().args(["logout", "evil", "--force"]).code(8);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(env.account_home("b").join("auth.json").is_file());
    let listed = env.swop().args(["list", "--json"]).ok();
    assert!(!listed.stdout.contains("evil"), "{}", listed.stdout);
}

#[test]
fn an_auth_json_that_is_a_link_is_refused_without_a_useless_chmod() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    let file = env.account_home("a").join("auth.json");
    let elsewhere = env.root.join("elsewhere.json");
    std::fs::rename(&file, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let out = env.codex().args(["exec", "x"]).code(8);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(!out.stderr.contains("chmod"), "{}", out.stderr);
    assert!(env
        .fake_log()
        .iter()
        .all(|c| c.subcommand() != Some("exec")));
}

#[test]
fn import_of_a_linked_auth_json_is_refused_and_moves_nothing() {
    let env = TestEnv::new();
    let codex_home = env.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    let real = env.write_auth_fixture("real", &Identity::named("x"));
    std::os::unix::fs::symlink(&real, codex_home.join("auth.json")).unwrap();
    let out = env.swop().args(["import", "x"]).fails();
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(!out.stdout.contains("moved"), "{}", out.stdout);
    assert!(codex_home.join("auth.json").is_symlink() && real.is_file());
    assert!(!env.account_home("x").exists());
}

// ---------------------------------------------------------------------------
// 9. doctor's bound

#[test]
fn doctor_finishes_within_its_bound_when_codex_version_hangs() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    let hang = env.root.join("hanging-codex");
    // A grandchild keeps stdout open too: reading to EOF would hang (60 s,
    // three times the bound below, and gone soon after the test).
    std::fs::write(&hang, "#!/bin/sh\nsleep 60 &\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env
        .swop()
        .arg("doctor")
        .env("SWOP_CODEX", &hang)
        .timeout(Duration::from_secs(20))
        .run();
    assert!(!out.timed_out, "doctor did not finish within 20 s");
    assert!(
        out.stdout.contains("does not answer --version"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------------------
// 10. leftover temp files

#[test]
fn temp_files_of_dead_writers_are_swept_and_live_ones_kept() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    env.swop().arg("status").ok();
    let dead = 2_147_483_000; // above any pid_max: never running
    let alive = std::process::id();
    let cache = env.swop_home.join("cache");
    let live = env.swop_home.join("live/a");
    std::fs::create_dir_all(&live).unwrap();
    let planted = [
        (cache.join(format!(".a.json.tmp-{dead}-0")), false),
        (live.join(format!(".{dead}.tmp")), false),
        (cache.join(format!(".a.json.tmp-{alive}-3")), true),
        (live.join(format!(".{alive}.tmp")), true),
    ];
    for (p, _) in &planted {
        std::fs::write(p, "{").unwrap();
    }
    env.swop()
        .args(["add", "b"])
        .env(
            "FAKE_CODEX_AUTH",
            env.write_auth_fixture("auth-b", &Identity::named("b")),
        )
        .ok();
    for (p, kept) in &planted {
        assert_eq!(p.exists(), *kept, "{}", p.display());
    }
}

// ---------------------------------------------------------------------------
// 2. kill -9 of swop keeps the in-use guard while codex runs

/// `swop status --json`: how many live sessions account `name` has.
fn live_sessions(env: &TestEnv, name: &str) -> u64 {
    let v = json_of(&env.swop().args(["status", "--json"]).ok());
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .and_then(|a| a["live_sessions"].as_u64())
        .unwrap()
}

#[test]
fn a_killed_swop_keeps_the_session_live_until_codex_ends() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    let mut r = env
        .codex()
        .args(["exec", "long"])
        .env("FAKE_SLEEP", "60")
        .spawn();
    assert!(r.wait_for_output("swop: codex on 'a'", Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(300));
    r.signal(libc::SIGKILL);
    let pgid = r.pid() as libc::pid_t;
    r.wait_output(Duration::from_secs(20));
    // swop is gone; the orphaned codex still runs in its process group.
    assert_eq!(live_sessions(&env, "a"), 1);
    let out = env.swop().args(["logout", "a"]).code(1);
    assert!(
        out.stderr.contains("codex is running on 'a'"),
        "{}",
        out.stderr
    );
    assert!(env.account_home("a").join("auth.json").is_file());
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let mut ended = false;
    for _ in 0..100 {
        if live_sessions(&env, "a") == 0 {
            ended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ended, "the session is still live after codex ended");
}

// ---------------------------------------------------------------------------
// 3. SIGINT/SIGQUIT sent to swop's pid

#[test]
fn sigint_and_sigquit_sent_to_swop_by_a_process_reach_codex() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGQUIT, 131)] {
        let mut r = env
            .codex()
            .args(["exec", "long"])
            .env("FAKE_SLEEP", "30")
            .spawn();
        assert!(r.wait_for_output("swop: codex on 'a'", Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(300));
        r.signal(sig); // to swop's pid only, as kill(1) or send_signal do
        let out = r.wait_output(Duration::from_secs(15));
        assert!(!out.timed_out, "signal {sig} was swallowed: {}", out.stderr);
        assert_eq!(out.code, Some(code), "{sig}: {}", out.stderr);
        assert_eq!(
            out.signal, None,
            "swop itself must exit with codex's status"
        );
    }
}

// ---------------------------------------------------------------------------
// 12. an environment-clearing wrapper

#[test]
fn a_wrapper_that_clears_the_environment_cannot_loop_forever() {
    let (env, _backend) = world(&[("a", 10.0)], "");
    let dir = env.root.join("wrapper");
    std::fs::create_dir_all(&dir).unwrap();
    let wrapper = dir.join("codex");
    // Drops every variable, SWOP_DEPTH included, and finds the shim first.
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec env -i HOME='{}' SWOP_HOME='{}' PATH='{}:{}:/usr/bin:/bin' codex \"$@\"\n",
            env.home.display(),
            env.swop_home.display(),
            env.shim.display(),
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [&["exec", "x"][..], &["--version"][..]] {
        let out = env
            .codex()
            .args(args)
            .env("SWOP_CODEX", &wrapper)
            .timeout(Duration::from_secs(40))
            .run();
        assert!(!out.timed_out, "{args:?}: the chain did not stop");
        assert!(
            out.stderr.contains("infinite recursion detected"),
            "{args:?}: {}",
            out.stderr
        );
        assert_ne!(out.code, Some(0), "{args:?}");
    }
}
