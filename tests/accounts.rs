//! Accounts in isolated sandboxes (add, import, list, relogin,
//! logout), names, permissions and argv[0] dispatch, through the fake codex.

use crate::support::world::{add, add_named, assert_private_tree, mode, write_config};
use crate::support::{Identity, TestEnv};
use std::fs;

/// What swop puts before codex's own arguments (see sandbox::credentials_args).
const CRED: [&str; 2] = ["-c", "cli_auth_credentials_store=\"file\""];

#[test]
fn add_two_accounts_records_identity_in_private_sandboxes() {
    let env = TestEnv::new();
    let out = add(&env, "work", &Identity::named("work").with_plan("team"));
    assert!(
        out.stdout.contains("added 'work': work@example.com (team)"),
        "{}",
        out.stdout
    );
    add(&env, "personal", &Identity::named("personal"));

    // codex login ran with CODEX_HOME = a staging dir inside accounts/, which
    // then became the sandbox.
    let logins: Vec<_> = env
        .fake_log()
        .into_iter()
        .filter(|c| c.subcommand() == Some("login"))
        .collect();
    assert_eq!(logins.len(), 2);
    for c in &logins {
        let home = c.codex_home.as_deref().unwrap();
        assert!(
            home.starts_with(env.swop_home.join("accounts").to_str().unwrap()),
            "{home}"
        );
    }
    for name in ["work", "personal"] {
        let home = env.account_home(name);
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join("auth.json")), 0o600);
    }
    assert_eq!(mode(&env.swop_home), 0o700);
    assert_private_tree(&env.swop_home);

    let list = env.swop().arg("list").ok();
    assert!(
        list.stdout.contains("personal") && list.stdout.contains("personal@example.com"),
        "{}",
        list.stdout
    );
    assert!(
        list.stdout.contains("work@example.com") && list.stdout.contains("team"),
        "{}",
        list.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.swop().args(["list", "--json"]).ok().stdout).unwrap();
    assert_eq!(json[0]["name"], "personal");
    assert_eq!(json[1]["plan"], "team");
}

#[test]
fn add_device_auth_and_extra_args_reach_codex_login() {
    let env = TestEnv::new();
    let auth = env.write_auth_fixture("a", &Identity::named("a"));
    env.swop()
        .args(["add", "a", "--device-auth", "--", "--extra", "x"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    let call = env
        .fake_log()
        .into_iter()
        .find(|c| c.subcommand() == Some("login"))
        .unwrap();
    // swop's file-store override comes first, codex login's arguments after.
    assert_eq!(
        call.args,
        [CRED[0], CRED[1], "login", "--device-auth", "--extra", "x"]
    );
}

#[test]
fn bad_names_are_refused_before_anything_is_created() {
    let env = TestEnv::new();
    let long = "x".repeat(300);
    for bad in [
        "a/b",
        "..",
        ".",
        "-rf",
        "has space",
        "ünïcode",
        &long,
        "",
        "../escape",
    ] {
        let out = env.swop().args(["add", bad]).code(2);
        assert!(
            out.stderr.contains("invalid account name") || out.stderr.contains("invalid option"),
            "{bad:?}: {}",
            out.stderr
        );
    }
    assert!(env.fake_log().is_empty(), "codex ran for a bad name");
    assert!(
        !env.swop_home.join("accounts").exists()
            || fs::read_dir(env.swop_home.join("accounts"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn duplicate_name_points_to_relogin() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let auth = env.write_auth_fixture("other", &Identity::named("other"));
    let out = env
        .swop()
        .args(["add", "work"])
        .env("FAKE_CODEX_AUTH", &auth)
        .code(2);
    assert!(
        out.stderr.contains("account 'work' already exists"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("swop relogin work"), "{}", out.stderr);
    assert_eq!(
        env.fake_log()
            .iter()
            .filter(|c| c.subcommand() == Some("login"))
            .count(),
        1
    );
}

#[test]
fn duplicate_login_is_refused_and_named() {
    let env = TestEnv::new();
    add(&env, "work", &Identity::named("same"));
    let auth = env.write_auth_fixture("again", &Identity::named("same"));
    let out = env
        .swop()
        .args(["add", "work2"])
        .env("FAKE_CODEX_AUTH", &auth)
        .code(2);
    assert!(
        out.stderr.contains("already added as 'work'"),
        "{}",
        out.stderr
    );
    assert!(!env.account_home("work2").exists());
    assert_no_staging_left(&env);
    // Same user in another workspace is a different account.
    let mut other_ws = Identity::named("same");
    other_ws.account_id = "acct-team".into();
    add(&env, "team", &other_ws);
}

fn assert_no_staging_left(env: &TestEnv) {
    let names: Vec<String> = fs::read_dir(env.swop_home.join("accounts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

#[test]
fn failed_login_leaves_nothing() {
    let env = TestEnv::new();
    let out = env
        .swop()
        .args(["add", "work"])
        .env("FAKE_LOGIN_FAIL", "1")
        .code(6);
    assert!(
        out.stderr.contains("codex login for 'work' failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was added"), "{}", out.stderr);
    assert!(!env.account_home("work").exists());
    assert_no_staging_left(&env);
    let list = env.swop().args(["list", "--json"]).ok();
    assert_eq!(list.stdout.trim(), "[]");
}

#[test]
fn login_that_writes_no_auth_leaves_nothing() {
    let env = TestEnv::new();
    let empty = env.write_fixture_text("empty", "");
    let out = env
        .swop()
        .args(["add", "work"])
        .env("FAKE_CODEX_AUTH", &empty)
        .code(6);
    assert!(out.stderr.contains("the file is empty"), "{}", out.stderr);
    assert!(!env.account_home("work").exists());
    assert_no_staging_left(&env);
}

#[test]
fn import_moves_auth_json_and_says_so() {
    let env = TestEnv::new();
    let codex_home = env.home.join(".codex");
    fs::create_dir_all(&codex_home).unwrap();
    let auth = env.write_auth_fixture("old", &Identity::named("old"));
    fs::copy(&auth, codex_home.join("auth.json")).unwrap();
    let out = env.swop().args(["import", "old"]).ok();
    assert!(
        out.stdout
            .contains("imported 'old': old@example.com (plus)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("moved"), "{}", out.stdout);
    assert!(
        !codex_home.join("auth.json").exists(),
        "auth.json must be moved, not copied"
    );
    assert_eq!(
        fs::read(env.account_home("old").join("auth.json")).unwrap(),
        fs::read(&auth).unwrap()
    );
    assert_eq!(mode(&env.account_home("old").join("auth.json")), 0o600);

    // Nothing left to import, and --from names another home.
    let out = env.swop().args(["import", "again"]).code(4);
    assert!(
        out.stderr.contains("no codex login to import"),
        "{}",
        out.stderr
    );
    let other = env.root.join("other-home");
    fs::create_dir_all(&other).unwrap();
    let auth2 = env.write_auth_fixture("o2", &Identity::named("o2"));
    fs::copy(&auth2, other.join("auth.json")).unwrap();
    env.swop().args(["import", "o2", "--from"]).arg(&other).ok();
    assert!(!other.join("auth.json").exists());
}

#[test]
fn import_of_a_duplicate_login_puts_the_file_back() {
    let env = TestEnv::new();
    add(&env, "work", &Identity::named("dup"));
    let from = env.root.join("from");
    fs::create_dir_all(&from).unwrap();
    let auth = env.write_auth_fixture("dup2", &Identity::named("dup"));
    fs::copy(&auth, from.join("auth.json")).unwrap();
    let out = env
        .swop()
        .args(["import", "x", "--from"])
        .arg(&from)
        .code(2);
    assert!(
        out.stderr.contains("already added as 'work'"),
        "{}",
        out.stderr
    );
    assert!(
        from.join("auth.json").exists(),
        "the login must not be lost"
    );
}

#[test]
fn relogin_logs_in_a_staging_home_and_swaps_the_login_in() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let auth = env.write_auth_fixture("w2", &Identity::named("work"));
    env.swop()
        .args(["relogin", "work", "--device-auth"])
        .env("FAKE_CODEX_AUTH", &auth)
        .env("FAKE_LOGIN_REVOKES_FIRST", "1")
        .ok();
    let calls = env.fake_log();
    let login = calls
        .iter()
        .rev()
        .find(|c| c.args.contains(&"login".to_string()))
        .unwrap();
    assert_eq!(login.args, [CRED[0], CRED[1], "login", "--device-auth"]);
    let staging = login.codex_home.as_deref().unwrap();
    let accounts = env.swop_home.join("accounts");
    assert!(
        staging.starts_with(accounts.join(".relogin-work-").to_str().unwrap()),
        "login ran in {staging}, not in a staging home"
    );
    assert_eq!(
        fs::read(env.account_home("work").join("auth.json")).unwrap(),
        fs::read(&auth).unwrap(),
        "the new login is in place"
    );
    assert_eq!(mode(&env.account_home("work").join("auth.json")), 0o600);
    // The replaced login was revoked through codex, in a home of its own.
    let logout = calls
        .iter()
        .find(|c| c.args.contains(&"logout".to_string()))
        .unwrap();
    let retired = logout.codex_home.as_deref().unwrap();
    assert!(retired.contains(".trash-login-work-"), "{retired}");
    let leftovers: Vec<_> = fs::read_dir(&accounts)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    let out = env.swop().args(["relogin", "nobody"]).code(4);
    assert!(
        out.stderr.contains("no account named 'nobody'"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failed_relogin_never_loses_the_current_login() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let file = env.account_home("work").join("auth.json");
    let before = fs::read(&file).unwrap();
    // Like codex 0.169.0: the login revokes and deletes first, then fails.
    let out = env
        .swop()
        .args(["relogin", "work"])
        .env("FAKE_LOGIN_REVOKES_FIRST", "1")
        .env("FAKE_LOGIN_FAIL", "1")
        .code(6);
    assert!(
        out.stderr
            .contains("the current login of 'work' is unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        before,
        "the old login is untouched"
    );
    assert!(
        !env.fake_log()
            .iter()
            .any(|c| c.args.contains(&"logout".to_string())),
        "nothing was revoked"
    );
    // And the account still launches with it.
    let run = env.codex().args(["exec", "task"]).ok();
    assert!(run.stderr.contains("codex on 'work'"), "{}", run.stderr);
}

#[test]
fn a_relogin_into_another_account_is_refused_and_logged_out_again() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let file = env.account_home("work").join("auth.json");
    let before = fs::read(&file).unwrap();
    let stranger = env.write_auth_fixture(
        "stranger",
        &Identity::new("someone@else.example", "pro", "user-other", "acct-other"),
    );
    let out = env
        .swop()
        .args(["relogin", "work"])
        .env("FAKE_CODEX_AUTH", &stranger)
        .code(6);
    assert!(
        out.stderr.contains("someone@else.example") && out.stderr.contains("work@"),
        "both identities are named: {}",
        out.stderr
    );
    assert_eq!(
        fs::read(&file).unwrap(),
        before,
        "the old login is untouched"
    );
    let logout = env
        .fake_log()
        .into_iter()
        .find(|c| c.args.contains(&"logout".to_string()))
        .expect("the foreign login is logged out again");
    assert!(
        logout.codex_home.unwrap().contains(".relogin-work-"),
        "logged out in the staging home, never in the account's"
    );
}

#[test]
fn logout_removes_sandbox_and_keeps_symlink_targets() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let outside = env.root.join("precious.txt");
    fs::write(&outside, "keep me").unwrap();
    let outside_dir = env.root.join("precious-dir");
    fs::create_dir_all(&outside_dir).unwrap();
    fs::write(outside_dir.join("f"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, env.account_home("work").join("link-to-file")).unwrap();
    std::os::unix::fs::symlink(&outside_dir, env.account_home("work").join("link-to-dir")).unwrap();
    let out = env.swop().args(["logout", "work"]).ok();
    assert!(out.stdout.contains("logged out 'work'"), "{}", out.stdout);
    assert_logged_out(&env, "work");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "keep me");
    assert_eq!(fs::read_to_string(outside_dir.join("f")).unwrap(), "keep");
    let logout = env
        .fake_log()
        .into_iter()
        .find(|c| c.subcommand() == Some("logout"))
        .unwrap();
    // Revoked from where the sandbox was set aside, once out of the list.
    let home = logout.codex_home.unwrap();
    let aside = env.swop_home.join("accounts/.logout-");
    assert!(home.starts_with(aside.to_str().unwrap()), "{home}");
    assert!(home.ends_with("-work"), "{home}");
}

#[test]
fn logout_succeeds_when_codex_logout_fails() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let out = env
        .swop()
        .args(["logout", "work"])
        .env("FAKE_LOGOUT_FAIL", "1")
        .ok();
    assert!(
        out.stderr.contains("`codex logout` failed"),
        "{}",
        out.stderr
    );
    assert_logged_out(&env, "work");
}

#[test]
fn logout_succeeds_when_codex_logout_hangs() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    write_config(&env, "[usage]\ntimeout = \"1s\"\n");
    let t = std::time::Instant::now();
    let out = env
        .swop()
        .args(["logout", "work"])
        .env("FAKE_LOGOUT_HANG", "1")
        .ok();
    assert!(
        out.stderr.contains("did not finish within 1s"),
        "{}",
        out.stderr
    );
    assert_logged_out(&env, "work");
    // Bounded: generous limit, this only proves it did not wait for the hang.
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn logout_without_real_codex_still_removes_the_sandbox() {
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let out = env
        .swop()
        .args(["logout", "work"])
        .env("SWOP_CODEX", "/nonexistent/codex")
        .ok();
    assert!(
        out.stderr.contains("removing the local login only"),
        "{}",
        out.stderr
    );
    assert_logged_out(&env, "work");
}

#[test]
fn argv0_codex_dispatches_to_launch() {
    let env = TestEnv::new();
    // No accounts: the shim runs the real (fake) codex unchanged, with a hint.
    let out = env.codex().args(["exec", "hello"]).ok();
    assert!(out.stderr.contains("no accounts yet"), "{}", out.stderr);
    assert!(out.stdout.contains("fake codex ran"), "{}", out.stdout);
    let call = env.fake_log().pop().unwrap();
    assert_eq!(call.args, ["exec", "hello"]);
    // The same binary under its own name is the management CLI.
    let out = env.swop().arg("--version").ok();
    assert!(out.stdout.starts_with("swop "), "{}", out.stdout);
}

#[test]
fn accounts_dir_readable_by_others_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    add_named(&env, &["work"]);
    let accounts = env.swop_home.join("accounts");
    fs::set_permissions(&accounts, fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.swop().arg("list").code(8);
    assert!(out.stderr.contains("too open"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("chmod 700 '{}'", accounts.display())),
        "{}",
        out.stderr
    );
    fs::set_permissions(&accounts, fs::Permissions::from_mode(0o700)).unwrap();
    env.swop().arg("list").ok();
}

#[test]
fn help_and_errors_for_every_command() {
    let env = TestEnv::new();
    let out = env.swop().arg("--help").ok();
    for c in [
        "add",
        "import",
        "list",
        "relogin",
        "logout",
        "status",
        "pick",
        "codex",
        "doctor",
        "uninstall",
        "completions",
    ] {
        assert!(out.stdout.contains(c), "main help lacks {c}");
        // `swop codex --help` is codex's own help (arguments pass through).
        let h = env.swop().args(["help", c]).ok();
        assert!(h.stdout.starts_with("Usage: swop"), "{c}: {}", h.stdout);
    }
    let out = env.swop().arg("frobnicate").code(2);
    assert!(
        out.stderr.contains("unknown command 'frobnicate'"),
        "{}",
        out.stderr
    );
    let out = env.swop().args(["list", "--bogus"]).code(2);
    assert!(out.stderr.contains("--bogus"), "{}", out.stderr);
    for shell in ["bash", "zsh", "fish"] {
        let s = env.swop().args(["completions", shell]).ok();
        assert!(s.stdout.contains("relogin"), "{shell}");
    }
}

#[test]
fn invalid_config_names_file_line_and_key() {
    let env = TestEnv::new();
    write_config(&env, "[usage]\ntimeout = \"2s\"\nbogus_key = 1\n");
    let out = env.swop().arg("list").code(3);
    assert!(out.stderr.contains("swop.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
    assert!(out.stderr.contains("bogus_key"), "{}", out.stderr);
    write_config(&env, "[output]\nannounce = \"yes\"\n");
    let out = env.swop().arg("list").code(3);
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("announce"),
        "{}",
        out.stderr
    );
}

/// The sandbox is gone: no credentials, not listed, and nothing left but
/// links into the shared home (kept so its sessions stay resumable) and the
/// retired marker. The name can be added again.
fn assert_logged_out(env: &TestEnv, name: &str) {
    let home = env.account_home(name);
    let shared = env.home.join(".codex");
    if home.exists() {
        for e in fs::read_dir(&home).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() == "swop-retired" {
                continue;
            }
            let target =
                fs::read_link(&p).unwrap_or_else(|_| panic!("{} is not a link", p.display()));
            assert!(
                target.starts_with(&shared),
                "{} -> {}",
                p.display(),
                target.display()
            );
        }
    }
    let list = env.swop().args(["list", "--json"]).ok();
    assert!(
        !list.stdout.contains(&format!("\"{name}\"")),
        "{}",
        list.stdout
    );
    add(env, name, &Identity::named(&format!("{name}-again")));
    assert!(home.join("auth.json").is_file());
}

#[test]
fn logout_with_sharing_off_deletes_everything() {
    let env = TestEnv::new();
    write_config(&env, "[sandbox]\nshare = []\n");
    add_named(&env, &["solo"]);
    env.swop().args(["logout", "solo"]).ok();
    assert!(!env.account_home("solo").exists());
}

#[test]
fn headless_logins_are_pointed_to_device_auth() {
    let env = TestEnv::new();
    let auth = env.write_auth_fixture("h", &Identity::named("h"));
    let out = env
        .swop()
        .args(["add", "h"])
        .env("FAKE_CODEX_AUTH", &auth)
        .env("SSH_CONNECTION", "10.0.0.1 22 10.0.0.2 22")
        .ok();
    assert!(
        out.stderr.contains("SSH session without a display"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("swop add h --device-auth"),
        "{}",
        out.stderr
    );
    // With --device-auth nothing to suggest; a failed browser login suggests it.
    let auth = env.write_auth_fixture("d", &Identity::named("d"));
    let out = env
        .swop()
        .args(["add", "d", "--device-auth"])
        .env("FAKE_CODEX_AUTH", &auth)
        .env("SSH_TTY", "/dev/pts/1")
        .ok();
    assert!(!out.stderr.contains("--device-auth"), "{}", out.stderr);
    let out = env
        .swop()
        .args(["add", "e"])
        .env("FAKE_LOGIN_FAIL", "1")
        .code(6);
    assert!(
        out.stderr
            .contains("try the device-code flow: swop add e --device-auth"),
        "{}",
        out.stderr
    );
}

#[test]
fn json_commands_print_a_json_error_document_on_failure() {
    let env = TestEnv::new();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["pick", "--json"], 4),
        (vec!["status", "--json", "--bogus"], 2),
        (vec!["status", "--json", "nobody"], 4),
    ];
    for (args, code) in cases {
        let out = env.swop().args(args.clone()).code(code);
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", out.stdout));
        assert_eq!(v["exit_code"], code, "{args:?}");
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{args:?}: {v}"
        );
    }
    write_config(&env, "[usage\n");
    let out = env.swop().args(["list", "--json"]).code(3);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("swop.toml"));
}
