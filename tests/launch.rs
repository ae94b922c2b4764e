//! `codex ...` through the shim (and `swop codex`): the pick, the
//! announcement, environment hygiene, fast paths, nesting, recursion safety,
//! exit codes and signals, concurrency, and dead sessions.

use crate::support::world::{add, config_for};
use crate::support::{usage_json, Backend, Fault, Identity, TestEnv};
use std::fs;
use std::time::{Duration, Instant};

const USAGE: &str = "/backend-api/wham/usage";

use crate::support::world::world as setup;

fn home_of(env: &TestEnv, name: &str) -> String {
    env.account_home(name).display().to_string()
}

/// The runs of the fake codex other than login/logout/app-server.
fn runs(env: &TestEnv) -> Vec<crate::support::FakeCall> {
    env.fake_log()
        .into_iter()
        .filter(|c| !matches!(c.subcommand(), Some("login" | "logout" | "app-server")))
        .collect()
}

#[test]
fn shim_runs_codex_on_the_lowest_weekly_account_with_args_unchanged() {
    let (env, _backend) = setup(&[("work", 70.0), ("personal", 12.0)], "");
    let out = env
        .codex()
        .args(["exec", "--json", "fix it", "--", "-x"])
        .ok();
    assert!(
        out.stderr
            .contains("swop: codex on 'personal' (plus, weekly 12%, 5h 5%): lowest weekly usage\n"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "one announcement line: {}",
        out.stderr
    );
    let run = runs(&env).pop().unwrap();
    assert_eq!(
        run.codex_home.as_deref(),
        Some(home_of(&env, "personal").as_str())
    );
    assert_eq!(
        run.launched_home.as_deref(),
        Some(home_of(&env, "personal").as_str())
    );
    // swop's own `-c` override first, then the user's arguments untouched.
    assert_eq!(run.args[2..], ["exec", "--json", "fix it", "--", "-x"]);
    // `swop codex` is the same path.
    let out = env.swop().args(["codex", "exec", "y"]).ok();
    assert!(out.stderr.contains("codex on 'personal'"), "{}", out.stderr);
}

#[test]
fn announce_false_silences_the_line() {
    let (env, _backend) = setup(&[("a", 1.0)], "[output]\nannounce = false\n");
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(out.stderr, "", "{}", out.stderr);
}

#[test]
fn inherited_overrides_are_removed_with_one_note() {
    let (env, _backend) = setup(&[("a", 1.0)], "");
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("CODEX_API_KEY", "sk-test-inherited-key-0000")
        .env("CODEX_ACCESS_TOKEN", "inherited")
        .env("CODEX_HOME", env.root.join("elsewhere"))
        .env("UNRELATED_VAR", "kept")
        .env("FAKE_LOG_VARS", "UNRELATED_VAR")
        .ok();
    let notes: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("removed"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", out.stderr);
    assert!(
        notes[0].contains("CODEX_API_KEY, CODEX_ACCESS_TOKEN, CODEX_HOME"),
        "{}",
        notes[0]
    );
    let run = runs(&env).pop().unwrap();
    assert!(!run.api_key_set && !run.access_token_set);
    assert_eq!(run.codex_home.as_deref(), Some(home_of(&env, "a").as_str()));
    assert_eq!(
        run.vars.get("UNRELATED_VAR").map(String::as_str),
        Some("kept")
    );
}

#[test]
fn fast_paths_make_no_selection_and_no_request() {
    let (env, backend) = setup(&[("a", 1.0)], "");
    for args in [
        &["--version"][..],
        &["--help"],
        &["help"],
        &["completion", "bash"],
        &["-V"],
    ] {
        let out = env.codex().args(args.iter().copied()).ok();
        assert!(!out.stderr.contains("codex on"), "{args:?}: {}", out.stderr);
        let call = env.fake_log().pop().unwrap();
        assert_eq!(call.args, *args, "passed through unchanged");
        assert_eq!(
            call.codex_home, None,
            "{args:?}: the user's environment is untouched"
        );
    }
    let out = env.codex().args(["--version"]).ok();
    assert_eq!(out.stdout.trim(), "codex-cli 0.0.0-fake");
    assert_eq!(backend.count(USAGE), 0);
    assert!(!env.swop_home.join("cache").exists());
}

#[test]
fn bypass_runs_the_real_codex_as_if_swop_were_not_there() {
    let (env, backend) = setup(&[("a", 1.0)], "");
    env.codex()
        .args(["exec", "x"])
        .env("SWOP_BYPASS", "1")
        .env("CODEX_API_KEY", "sk-bypass-key-111111")
        .ok();
    let call = env.fake_log().pop().unwrap();
    assert_eq!(call.args, ["exec", "x"]);
    assert_eq!(call.codex_home, None);
    assert!(call.api_key_set, "bypass changes nothing");
    assert_eq!(backend.count(USAGE), 0);
    // login/logout are refused through the shim, passed with SWOP_BYPASS.
    let out = env.codex().arg("login").code(2);
    assert!(
        out.stderr.contains("swop add NAME") && out.stderr.contains("swop relogin NAME"),
        "{}",
        out.stderr
    );
    let out = env.codex().args(["-c", "x=1", "logout"]).code(2);
    assert!(out.stderr.contains("swop logout NAME"), "{}", out.stderr);
    let before = env.fake_log().len();
    env.codex().arg("logout").env("SWOP_BYPASS", "1").ok();
    assert_eq!(env.fake_log().len(), before + 1);
}

#[test]
fn nested_call_keeps_the_parents_account_and_stale_markers_do_not() {
    let (env, backend) = setup(&[("work", 70.0), ("personal", 12.0)], "");
    let work = home_of(&env, "work");
    env.codex()
        .args(["exec", "inner"])
        .env("SWOP_LAUNCHED_HOME", &work)
        .env("CODEX_HOME", &work)
        .ok();
    let run = runs(&env).pop().unwrap();
    assert_eq!(run.codex_home.as_deref(), Some(work.as_str()));
    assert_eq!(backend.count(USAGE), 0, "a nested call does no selection");
    // A marker that no longer matches (a daemon that outlived its launch,
    // or a CODEX_HOME changed since) falls back to a normal pick.
    env.codex()
        .args(["exec", "later"])
        .env("SWOP_LAUNCHED_HOME", &work)
        .env("CODEX_HOME", env.root.join("other"))
        .ok();
    assert_eq!(
        runs(&env).pop().unwrap().codex_home.as_deref(),
        Some(home_of(&env, "personal").as_str())
    );
    let gone = env.swop_home.join("accounts/removed");
    env.codex()
        .args(["exec", "gone"])
        .env("SWOP_LAUNCHED_HOME", &gone)
        .env("CODEX_HOME", &gone)
        .ok();
    assert_eq!(
        runs(&env).pop().unwrap().codex_home.as_deref(),
        Some(home_of(&env, "personal").as_str())
    );
}

#[test]
fn path_with_only_the_shim_fails_fast_and_says_how_to_fix_it() {
    let (env, _backend) = setup(&[("a", 1.0)], "");
    let t = Instant::now();
    let out = env
        .codex()
        .args(["exec", "x"])
        .env_remove("SWOP_CODEX")
        .env("PATH", env.shim.display().to_string())
        .code(7);
    assert!(
        out.stderr.contains("PATH") && out.stderr.contains("SWOP_CODEX"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("swop's own shim"), "{}", out.stderr);
    assert!(t.elapsed() < Duration::from_secs(5));
    // SWOP_CODEX pointing at swop itself is refused too.
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("SWOP_CODEX", env.shim.join("codex"))
        .code(7);
    assert!(
        out.stderr.contains("points to swop itself"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_loop_of_shims_stops_at_the_depth_limit() {
    let (env, _backend) = setup(&[("a", 1.0)], "");
    // A second copy of swop (a different file, so not "itself") named codex.
    let other = env.root.join("other-install");
    fs::create_dir_all(&other).unwrap();
    fs::copy(crate::support::swop_bin(), other.join("codex")).unwrap();
    let out = env
        .codex()
        .args(["exec", "x"])
        .env_remove("SWOP_CODEX")
        .env(
            "PATH",
            format!("{}:{}", env.shim.display(), other.display()),
        )
        .code(7);
    assert!(
        out.stderr.contains("infinite recursion detected"),
        "{}",
        out.stderr
    );
}

#[test]
fn exit_codes_pass_through() {
    let (env, _backend) = setup(&[("a", 1.0)], "");
    for code in [0, 1, 3] {
        let out = env
            .codex()
            .args(["exec", "x"])
            .env("FAKE_EXIT", code.to_string())
            .run();
        assert_eq!(out.code, Some(code), "{}", out.stderr);
    }
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let out = env
            .codex()
            .args(["exec", "x"])
            .env("FAKE_KILL_SELF", sig)
            .run();
        assert_eq!(out.code, Some(code), "{sig}: {}", out.stderr);
    }
}

#[test]
fn sigterm_and_sighup_reach_codex_and_ctrl_c_does_not_kill_swop() {
    let (env, _backend) = setup(&[("a", 1.0)], "");
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let mut running = env
            .codex()
            .args(["exec", "long"])
            .env("FAKE_SLEEP", "30")
            .spawn();
        assert!(running.wait_for_output("codex on 'a'", Duration::from_secs(20)));
        std::thread::sleep(Duration::from_millis(300));
        running.signal(sig);
        let out = running.wait_output(Duration::from_secs(20));
        assert!(!out.timed_out, "signal {sig} not forwarded");
        assert_eq!(
            out.code,
            Some(code),
            "swop itself must exit with codex's status: {}",
            out.stderr
        );
    }
    // Ctrl-C: the terminal signals the whole group; codex dies, swop reports.
    let mut running = env
        .codex()
        .args(["exec", "long"])
        .env("FAKE_SLEEP", "30")
        .spawn();
    assert!(running.wait_for_output("codex on 'a'", Duration::from_secs(20)));
    std::thread::sleep(Duration::from_millis(300));
    running.signal_group(libc::SIGINT);
    let out = running.wait_output(Duration::from_secs(20));
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    assert_eq!(out.signal, None, "swop exited normally, it was not killed");
}

#[test]
fn sixteen_concurrent_launches_each_run_on_the_account_they_announce() {
    let (env, _backend) = setup(
        &[("a", 10.0), ("b", 10.5)],
        "cache_ttl = 0\n[selection]\nspread = true\n",
    );
    let auth_before: Vec<Vec<u8>> = ["a", "b"]
        .iter()
        .map(|n| fs::read(env.account_home(n).join("auth.json")).unwrap())
        .collect();
    let running: Vec<_> = (0..16)
        .map(|i| {
            env.codex()
                .args(["exec", &format!("task {i}")])
                .env("FAKE_SLEEP", "1")
                .spawn()
        })
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for r in running {
        let out = r.wait_output(Duration::from_secs(90));
        assert!(out.success(), "{}", out.stderr);
        let announced = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("swop: codex on '"))
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_string();
        let ran_in = out
            .stdout
            .trim()
            .strip_prefix("fake codex ran with CODEX_HOME=")
            .unwrap()
            .to_string();
        assert_eq!(ran_in, home_of(&env, &announced), "announced {announced}");
        used.insert(announced);
    }
    assert_eq!(
        used.len(),
        2,
        "spread sends parallel launches to both accounts"
    );
    for (i, n) in ["a", "b"].iter().enumerate() {
        assert_eq!(
            fs::read(env.account_home(n).join("auth.json")).unwrap(),
            auth_before[i],
            "auth.json of {n} changed"
        );
    }
    for e in fs::read_dir(env.swop_home.join("cache")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            serde_json::from_slice::<serde_json::Value>(&fs::read(&p).unwrap()).unwrap();
        }
    }
}

#[test]
fn usage_is_marked_stale_after_a_run() {
    let (env, backend) = setup(&[("a", 1.0)], "cache_ttl = \"1h\"\n");
    env.codex().args(["exec", "x"]).ok();
    assert_eq!(backend.count(USAGE), 1);
    env.swop().arg("pick").ok();
    assert_eq!(
        backend.count(USAGE),
        2,
        "the run made the cached numbers stale"
    );
    env.swop().arg("pick").ok();
    assert_eq!(backend.count(USAGE), 2);
}

#[test]
fn dead_session_on_a_tty_prompts_relogs_in_and_launches() {
    let (env, _backend) = setup(&[("solo", 5.0)], "");
    fs::remove_file(env.account_home("solo").join("auth.json")).unwrap();
    let fresh = env.write_auth_fixture("solo-new", &Identity::named("solo"));
    let (code, screen) = crate::support::world::on_a_terminal(
        env.codex()
            .args(["exec", "task"])
            .env("FAKE_CODEX_AUTH", &fresh),
        b"y\n",
        Duration::from_secs(60),
    );
    assert!(
        screen.contains("Session for 'solo' has expired. Log in again now? [Y/n]"),
        "{screen}"
    );
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("fake codex ran with CODEX_HOME="),
        "{screen}"
    );
    let calls = env.fake_log();
    let subs: Vec<_> = calls.iter().filter_map(|c| c.subcommand()).collect();
    assert_eq!(&subs[subs.len() - 2..], ["login", "exec"], "{subs:?}");
}

#[test]
fn session_dying_during_the_run_is_relogged_and_retried_once() {
    let (env, _backend) = setup(&[("solo", 5.0)], "");
    let fresh = env.write_auth_fixture("solo-new", &Identity::named("solo"));
    let (code, screen) = crate::support::world::on_a_terminal(
        env.codex()
            .args(["exec", "task"])
            .env("FAKE_CODEX_AUTH", &fresh)
            .env("FAKE_RUN_LOGS_OUT", "1")
            .env("FAKE_EXIT", "1"),
        b"y\n",
        Duration::from_secs(60),
    );
    // First run dies with the session; relogin; the retry dies the same way
    // and is reported, not retried again.
    assert_eq!(code, Some(1), "{screen}");
    assert_eq!(screen.matches("Log in again now?").count(), 1, "{screen}");
    assert!(
        screen.contains("still fails after logging in again; not retrying"),
        "{screen}"
    );
    let subs: Vec<String> = env
        .fake_log()
        .iter()
        .filter_map(|c| c.subcommand().map(str::to_string))
        .collect();
    assert_eq!(subs.iter().filter(|s| *s == "exec").count(), 2, "{subs:?}");
}

#[test]
fn dead_session_without_a_tty_falls_back_or_names_the_fix() {
    let (env, _backend) = setup(&[("work", 5.0), ("personal", 50.0)], "");
    fs::remove_file(env.account_home("work").join("auth.json")).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(
        out.stderr.contains("session for 'work' has expired"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("run: swop relogin work"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("codex on 'personal'"), "{}", out.stderr);
    // Forcing the dead one is refused: codex would run without credentials.
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("SWOP_ACCOUNT", "work")
        .code(6);
    assert!(
        out.stderr.contains("cannot use account 'work'")
            && out.stderr.contains("swop relogin work"),
        "{}",
        out.stderr
    );
    // Only the dead one left: fail with the command to run.
    env.swop().args(["logout", "personal"]).ok();
    let out = env.codex().args(["exec", "x"]).code(6);
    assert!(out.stderr.contains("swop relogin work"), "{}", out.stderr);
}

#[test]
fn login_lost_behind_a_fresh_cache_is_detected_before_launch() {
    let (env, _backend) = setup(&[("work", 5.0), ("personal", 50.0)], "cache_ttl = \"1h\"\n");
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(out.stderr.contains("codex on 'work'"), "{}", out.stderr);
    fs::remove_file(env.account_home("work").join("auth.json")).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(
        out.stderr.contains("session for 'work' has expired"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("skipping 'work' for this launch"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("codex on 'personal'"), "{}", out.stderr);
    // Never started codex on the account without a login.
    assert_eq!(
        runs(&env)
            .iter()
            .filter(|r| r.codex_home.as_deref() == Some(home_of(&env, "work").as_str()))
            .count(),
        1
    );
}

#[test]
fn expired_access_token_asks_codex_app_server_and_never_touches_auth_json() {
    let env = TestEnv::new();
    let backend = Backend::start();
    let id = Identity::named("old");
    let auth = env.write_auth_fixture_exp("old", &id, crate::support::now_unix() - 3600);
    env.swop()
        .args(["add", "old"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    add(&env, "other", &Identity::named("other"));
    backend.set_usage("acct-other", usage_json("plus", 5.0, 90.0));
    config_for(&env, &backend, "");
    let before = fs::read(env.account_home("old").join("auth.json")).unwrap();
    let p: serde_json::Value =
        serde_json::from_str(&env.swop().args(["pick", "--json"]).ok().stdout).unwrap();
    // The fake app-server answers weekly 30%, below other's 90%.
    assert_eq!(p["account"], "old", "{p}");
    assert_eq!(
        backend.account_ids_for(USAGE),
        ["acct-other"],
        "the expired token was not sent"
    );
    let app = env
        .fake_log()
        .into_iter()
        .find(|c| c.subcommand() == Some("app-server"))
        .unwrap();
    assert_eq!(
        app.codex_home.as_deref(),
        Some(home_of(&env, "old").as_str())
    );
    assert!(
        app.args.iter().any(|a| a.contains("chatgpt_base_url")),
        "{:?}",
        app.args
    );
    assert_eq!(
        fs::read(env.account_home("old").join("auth.json")).unwrap(),
        before
    );
    // When codex cannot refresh either, the session is dead.
    let out = env
        .swop()
        .args(["status", "--refresh"])
        .env("FAKE_APP_SERVER", "dead")
        .ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("old@example.com"))
        .unwrap();
    assert!(line.contains("session expired"), "{line}");
    backend.set_usage_fault("acct-other", Fault::Status(401, "{}".into()));
}
