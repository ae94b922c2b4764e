//! The fake codex and the command runner: the fake login writes a 0600
//! auth.json, every call is logged, a sleeping codex can be killed, and
//! `TestCommand` starts from a clean, bounded environment and scans every
//! output for secrets, a test's temp dir is removed, and a missing real
//! codex is skipped loudly. Every area test runs through these.

use crate::support::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

#[test]
fn rig_fake_codex_login_writes_auth_0600() {
    let env = TestEnv::new();
    let id = Identity::named("erin");
    let fixture = env.write_auth_fixture("erin", &id);
    let home = env.root.join("acct-home");
    fs::create_dir_all(&home).unwrap();

    let status = |env: &TestEnv| {
        env.command(&env.fake_codex)
            .args(["login", "status"])
            .env("CODEX_HOME", &home)
            .run()
    };
    let out = status(&env);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Not logged in"));

    let out = env
        .command(&env.fake_codex)
        .args(["login", "--device-auth"])
        .env("CODEX_HOME", &home)
        .env("FAKE_CODEX_AUTH", &fixture)
        .ok();
    assert!(out.stderr.contains("Successfully logged in"));
    let auth = home.join("auth.json");
    assert_eq!(
        fs::read_to_string(&auth).unwrap(),
        fs::read_to_string(&fixture).unwrap()
    );
    assert_eq!(
        fs::metadata(&auth).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = status(&env);
    assert_eq!(out.code, Some(0));
    assert!(out.stderr.contains("Logged in using ChatGPT"));

    env.command(&env.fake_codex)
        .arg("logout")
        .env("CODEX_HOME", &home)
        .ok();
    assert!(!auth.exists());

    // Failing and missing-home logins.
    let out = env
        .command(&env.fake_codex)
        .arg("login")
        .env("CODEX_HOME", &home)
        .env("FAKE_CODEX_AUTH", &fixture)
        .env("FAKE_LOGIN_FAIL", "1")
        .fails();
    assert!(out.stderr.contains("login failed"));
    env.command(&env.fake_codex)
        .arg("login")
        .env("CODEX_HOME", env.root.join("missing"))
        .env("FAKE_CODEX_AUTH", &fixture)
        .fails();

    // API-key login from stdin.
    let key = api_key();
    env.command(&env.fake_codex)
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", &home)
        .stdin(format!("{key}\n"))
        .ok();
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&auth).unwrap()).unwrap();
    assert_eq!(v["OPENAI_API_KEY"], key.as_str());

    let calls = env.fake_log();
    assert_eq!(calls.len(), 7);
    assert_eq!(calls[1].args, ["login", "--device-auth"]);
    assert_eq!(calls[1].codex_home.as_deref(), Some(home.to_str().unwrap()));
    assert_eq!(calls[1].subcommand(), Some("login"));
}

#[test]
fn rig_fake_codex_logs_and_exits() {
    let env = TestEnv::new();
    let out = env.command(&env.fake_codex).arg("--version").ok();
    assert_eq!(out.stdout.trim(), "codex-cli 0.0.0-fake");

    let out = env
        .command(&env.fake_codex)
        .args(["-c", "model=\"o3\"", "exec", "two words", ""])
        .env("CODEX_HOME", "/tmp/some home")
        .env("SWOP_LAUNCHED_HOME", "/tmp/launched")
        .env("CODEX_API_KEY", "")
        .env("FAKE_LOG_VARS", "SWOP_DEPTH MISSING")
        .env("SWOP_DEPTH", "2")
        .env("FAKE_EXIT", "7")
        .env("FAKE_STDERR", "warning: x")
        .code(7);
    assert_eq!(
        out.stdout,
        "fake codex ran with CODEX_HOME=/tmp/some home\n"
    );
    assert_eq!(out.stderr, "warning: x\n");

    let out = env
        .command(&env.fake_codex)
        .arg("resume")
        .env("FAKE_KILL_SELF", "TERM")
        .run();
    assert_eq!(out.signal, Some(libc::SIGTERM), "{}", out.stderr);

    let calls = env.fake_log();
    assert_eq!(calls.len(), 3);
    let c = &calls[1];
    assert_eq!(c.args, ["-c", "model=\"o3\"", "exec", "two words", ""]);
    assert_eq!(c.subcommand(), Some("exec"));
    assert_eq!(c.codex_home.as_deref(), Some("/tmp/some home"));
    assert_eq!(c.launched_home.as_deref(), Some("/tmp/launched"));
    assert!(c.api_key_set);
    assert!(!c.access_token_set);
    assert_eq!(c.cwd, env.work.to_str().unwrap());
    assert_eq!(c.vars.get("SWOP_DEPTH").map(String::as_str), Some("2"));
    assert!(!c.vars.contains_key("MISSING"));
    assert!(calls[0].codex_home.is_none() && !calls[0].api_key_set);
    assert!(calls.iter().all(|c| c.pid > 1));
}

#[test]
fn rig_fake_codex_sleep_is_killable() {
    let env = TestEnv::new();
    let mut run = env
        .command(&env.fake_codex)
        .arg("exec")
        .env("FAKE_SLEEP", "30")
        .spawn();
    // Wait until the script logged itself, then TERM it.
    let t = Instant::now();
    while env.fake_log().is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(!run.wait_for_output("fake codex ran", Duration::from_millis(50)));
    // Ended by the signal, long before its 30 s sleep would end.
    run.signal(libc::SIGTERM);
    let out = run.wait_output(Duration::from_secs(10));
    assert!(!out.timed_out);
    assert_eq!(out.signal, Some(libc::SIGTERM));
}

#[test]
fn rig_command_env_is_clean_and_bounded() {
    let env = TestEnv::new();
    let out = env.command("/bin/sh").args(["-c", "env | sort"]).ok();
    let mut names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .collect();
    names.retain(|k| !["PWD", "SHLVL", "_", "OLDPWD"].contains(k));
    assert_eq!(
        names,
        [
            "FAKE_CODEX_LOG",
            "HOME",
            "NO_COLOR",
            "PATH",
            "SWOP_CODEX",
            "SWOP_HOME",
            "TZ"
        ],
        "{}",
        out.stdout
    );
    for needle in [
        format!("HOME={}", env.home.display()),
        format!("SWOP_HOME={}", env.swop_home.display()),
        format!("SWOP_CODEX={}", env.fake_codex.display()),
        format!("FAKE_CODEX_LOG={}", env.log.display()),
        format!(
            "PATH={}:{}",
            env.bin.display(),
            crate::support::system_path().display()
        ),
        "TZ=UTC".to_string(),
        "NO_COLOR=1".to_string(),
    ] {
        assert!(
            out.stdout.contains(&needle),
            "missing {needle} in\n{}",
            out.stdout
        );
    }
    let out = env
        .command("/bin/sh")
        .args(["-c", "echo ${TZ-unset} $X; pwd; cat"])
        .env_remove("TZ")
        .env("X", "y")
        .current_dir(&env.home)
        .stdin("from stdin")
        .ok();
    assert_eq!(
        out.stdout,
        format!("unset y\n{}\nfrom stdin", env.home.display())
    );

    // A hanging command is killed at the timeout.
    let out = env
        .command("/bin/sh")
        .args(["-c", "sleep 30"])
        .timeout(Duration::from_millis(300))
        .run();
    assert!(out.timed_out);

    // The failure report names the command, overrides and streams.
    let r = std::panic::catch_unwind(|| {
        env.command("/bin/sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .env("K", "v w")
            .ok();
    });
    let e = r.expect_err("ok() must panic on exit 3");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    for needle in [
        "expected success",
        "/bin/sh",
        "K='v w'",
        "exit status: 3",
        "out",
        "err",
    ] {
        assert!(m.contains(needle), "missing {needle:?} in {m}");
    }

    // The swop command and the codex shim are wired as documented.
    let cmd = env.swop().to_command();
    assert_eq!(cmd.get_program(), swop_bin().as_os_str());
    assert_eq!(fs::read_link(env.shim.join("codex")).unwrap(), swop_bin());
    let cmd = env.codex().to_command();
    assert!(cmd.get_program().to_string_lossy().ends_with("/shim/codex"));
    let path = cmd
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v)
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(path.starts_with(&format!("{}:", env.shim.display())));
}

#[test]
fn rig_command_output_is_scanned_for_secrets() {
    let env = TestEnv::new();
    let auth = chatgpt_auth_json(&Identity::named("frank"), now_unix() + 60);
    let fixture = env.write_fixture_text("frank", &auth);
    let r = std::panic::catch_unwind(|| {
        env.command("/bin/cat").arg(&fixture).run();
    });
    let e = r.expect_err("printing auth.json must be caught");
    let m = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(m.contains("SECRET LEAK"), "{m}");
    assert!(!m.contains(&access_token_of(&auth)));
}

#[test]
fn rig_temp_dir_is_removed() {
    let env = TestEnv::new();
    let root = env.root.clone();
    assert!(root.join("bin/codex").exists());
    drop(env);
    if std::env::var_os("SWOP_TEST_KEEP").is_none() {
        assert!(!root.exists());
    }
}

#[test]
fn rig_real_codex_is_skipped_loudly_or_found() {
    // With the variable set this returns a path; unset (and no CI) it
    // returns None after printing SKIPPED.
    if std::env::var_os("SWOP_TEST_REAL_CODEX").is_some() || std::env::var_os("CI").is_none() {
        let _ = real_codex();
    }
}
