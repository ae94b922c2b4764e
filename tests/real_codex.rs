//! The real codex (npm @openai/codex, pinned; SWOP_TEST_REAL_CODEX) on the
//! loopback rig: whatever swop claims about codex is shown here with the real
//! binary. Logins are hand-made (the fake codex's `login`); everything else
//! is the real codex, pointed at the fake backend by the shared config.toml.

use crate::support::world::write_config;
use crate::support::{
    access_token_of, real_codex, usage_json, Backend, Identity, RefreshBehavior, Responses,
    TestCommand, TestEnv,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod redeem;

const USAGE: &str = "/backend-api/wham/usage";

struct Rig {
    env: TestEnv,
    backend: Backend,
    real: PathBuf,
}

impl Rig {
    /// Accounts with these weekly used%, usage served by the backend, and a
    /// shared config.toml that points codex at the backend.
    fn new(accounts: &[(&str, f64)], extra: &str) -> Option<Rig> {
        let real = real_codex()?;
        let (env, backend) =
            crate::support::world::real_codex_world(accounts, extra, |b| b.rig_config_toml());
        Some(Rig { env, backend, real })
    }

    fn with_real(&self, mut c: TestCommand) -> TestCommand {
        c.env("SWOP_CODEX", &self.real)
            .envs(self.backend.rig_env())
            .timeout(Duration::from_secs(90));
        c
    }

    /// `codex ...` through the shim, running the real codex.
    fn codex(&self) -> TestCommand {
        self.with_real(self.env.codex())
    }

    fn swop(&self) -> TestCommand {
        self.with_real(self.env.swop())
    }

    fn token(&self, name: &str) -> String {
        access_token_of(&fs::read_to_string(self.env.account_home(name).join("auth.json")).unwrap())
    }

    /// Bearer tokens of the model turns, in order.
    fn turn_tokens(&self) -> Vec<String> {
        self.backend
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/responses")
            .filter_map(|r| r.bearer().map(str::to_string))
            .collect()
    }
}

/// The thread id codex prints on stderr (`session id: <uuid>`).
fn session_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("session id: "))
        .unwrap_or_else(|| panic!("no session id in: {stderr}"))
        .trim()
        .to_string()
}

fn walk(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        out.push(p.clone());
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            walk(&p, out);
        }
    }
}

#[test]
fn real_codex_sees_each_sandbox_as_a_separate_login() {
    let Some(rig) = Rig::new(&[("a", 10.0), ("b", 20.0)], "") else {
        return;
    };
    for n in ["a", "b"] {
        let out = rig
            .env
            .command(&rig.real)
            .args(["login", "status"])
            .env("CODEX_HOME", rig.env.account_home(n))
            .ok();
        assert!(
            out.stderr.contains("Logged in using ChatGPT")
                || out.stdout.contains("Logged in using ChatGPT"),
            "{n}: {}",
            out.stderr
        );
    }
    let empty = rig.env.root.join("empty-home");
    fs::create_dir_all(&empty).unwrap();
    let out = rig
        .env
        .command(&rig.real)
        .args(["login", "status"])
        .env("CODEX_HOME", &empty)
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    // swop logout runs the real `codex logout` in a's sandbox only.
    rig.swop().args(["logout", "a"]).ok();
    assert!(!rig.env.account_home("a").join("auth.json").exists());
    let out = rig
        .env
        .command(&rig.real)
        .args(["login", "status"])
        .env("CODEX_HOME", rig.env.account_home("b"))
        .ok();
    assert!(format!("{}{}", out.stdout, out.stderr).contains("Logged in using ChatGPT"));
}

#[test]
fn real_shim_runs_on_the_lowest_weekly_account_and_the_backend_sees_its_token() {
    let Some(rig) = Rig::new(&[("work", 70.0), ("personal", 12.0)], "") else {
        return;
    };
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "hi"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert!(
        out.stderr.contains("swop: codex on 'personal'"),
        "{}",
        out.stderr
    );
    let tokens = rig.turn_tokens();
    assert!(!tokens.is_empty());
    assert!(
        tokens.iter().all(|t| *t == rig.token("personal")),
        "every turn on personal's token"
    );
    // The fast path prints the real version and asks nothing.
    let before = rig.backend.requests().len();
    let out = rig.codex().arg("--version").ok();
    let own = std::process::Command::new(&rig.real)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        out.stdout.trim(),
        String::from_utf8_lossy(&own.stdout).trim()
    );
    assert!(out.stdout.starts_with("codex-cli 0."), "{}", out.stdout);
    assert_eq!(rig.backend.requests().len(), before);
}

#[test]
fn real_app_server_refreshes_an_expired_token_and_swop_never_does() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let backend = Backend::start();
    let id = Identity::named("old");
    let auth = env.write_auth_fixture_exp("old", &id, crate::support::now_unix() - 3600);
    env.swop()
        .args(["add", "old"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    let shared = env.home.join(".codex");
    write_config(
        &env,
        &format!("[usage]\nbase_url = \"{}\"\ntimeout = \"10s\"\ncache_ttl = 0\n[sandbox]\nshared_home = \"{}\"\n", backend.backend_api(), shared.display()),
    );
    backend.set_usage("acct-old", usage_json("plus", 5.0, 33.0));
    backend.set_refresh(RefreshBehavior::Succeed(id.clone()));
    let old_token =
        access_token_of(&fs::read_to_string(env.account_home("old").join("auth.json")).unwrap());
    let out = env
        .swop()
        .args(["status", "--json"])
        .env("SWOP_CODEX", &real)
        .envs(backend.rig_env())
        .timeout(Duration::from_secs(60))
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["accounts"][0]["weekly"]["used_percent"], 33.0,
        "{v}\n{}",
        out.stderr
    );
    assert_eq!(
        backend.count("/oauth/token"),
        1,
        "codex refreshed its own token"
    );
    let bearers = backend.bearer_tokens_for(USAGE);
    assert!(!bearers.is_empty());
    assert!(
        !bearers.contains(&old_token),
        "the expired token is never sent"
    );
    let new_auth = fs::read_to_string(env.account_home("old").join("auth.json")).unwrap();
    assert_eq!(
        access_token_of(&new_auth),
        bearers[0],
        "codex wrote the refreshed login"
    );
    assert_eq!(
        crate::support::world::mode(&env.account_home("old").join("auth.json")),
        0o600
    );

    // When codex cannot refresh either, the session is dead.
    let auth2 = env.write_auth_fixture_exp(
        "gone",
        &Identity::named("gone"),
        crate::support::now_unix() - 3600,
    );
    env.swop()
        .args(["add", "gone"])
        .env("FAKE_CODEX_AUTH", &auth2)
        .ok();
    backend.set_refresh(RefreshBehavior::Fail401);
    let out = env
        .swop()
        .args(["status", "gone"])
        .env("SWOP_CODEX", &real)
        .envs(backend.rig_env())
        .timeout(Duration::from_secs(60))
        .ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("gone@example.com"))
        .unwrap();
    assert!(line.contains("session expired"), "{line}\n{}", out.stderr);
    // Said once: under the table (stdout), not again on stderr.
    assert!(
        out.stdout.contains("swop relogin gone") || out.stderr.contains("swop relogin gone"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn real_sessions_config_and_sqlite_are_shared_and_resume_works_across_accounts() {
    let Some(rig) = Rig::new(&[("a", 10.0), ("b", 20.0)], "") else {
        return;
    };
    let shared = rig.env.home.join(".codex");
    // Created on a (both accounts reach the backend only through the shared
    // config.toml: no rig flags on the command line).
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "first"])
        .env("SWOP_ACCOUNT", "a")
        .ok();
    let id = session_id(&out.stderr);
    assert_eq!(rig.turn_tokens().last().unwrap(), &rig.token("a"));
    // Resumed by id on b: same thread, b's token.
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "resume", &id, "again"])
        .env("SWOP_ACCOUNT", "b")
        .ok();
    assert_eq!(session_id(&out.stderr), id);
    assert_eq!(out.stdout.trim(), "hello");
    assert_eq!(rig.turn_tokens().last().unwrap(), &rig.token("b"));
    // `--last` on b finds a's thread too (codex alone would start a new one).
    let out = rig
        .codex()
        .args([
            "exec",
            "--skip-git-repo-check",
            "resume",
            "--last",
            "once more",
        ])
        .env("SWOP_ACCOUNT", "b")
        .ok();
    assert!(
        out.stderr.contains(&format!(
            "resuming the newest session here across all accounts: {id}"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(session_id(&out.stderr), id);

    // SQLite exists once, in the shared dir; nothing links a database.
    let mut all = Vec::new();
    walk(&shared, &mut all);
    walk(&rig.env.swop_home, &mut all);
    let sqlite: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".sqlite"))
        .collect();
    assert!(
        sqlite.iter().any(|p| p.starts_with(&shared)
            && p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("state_")),
        "{sqlite:?}"
    );
    for p in &sqlite {
        assert!(
            p.parent() == Some(shared.as_path()),
            "database outside the shared dir: {}",
            p.display()
        );
        assert!(
            !fs::symlink_metadata(p).unwrap().file_type().is_symlink(),
            "linked database: {}",
            p.display()
        );
    }
    let rollouts: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.to_string_lossy().contains(&id) && p.starts_with(&shared))
        .collect();
    assert_eq!(
        rollouts.len(),
        1,
        "one rollout, in the shared sessions dir: {rollouts:?}"
    );

    // Logging a out leaves the shared life intact, and b can still resume a's thread.
    let config_before = fs::read(shared.join("config.toml")).unwrap();
    rig.swop().args(["logout", "a"]).ok();
    assert_eq!(fs::read(shared.join("config.toml")).unwrap(), config_before);
    assert!(rollouts[0].exists());
    for p in &sqlite {
        assert!(p.exists(), "{} removed", p.display());
    }
    let out = rig
        .codex()
        .args([
            "exec",
            "--skip-git-repo-check",
            "resume",
            &id,
            "after logout",
        ])
        .env("SWOP_ACCOUNT", "b")
        .ok();
    assert_eq!(session_id(&out.stderr), id);
}

#[test]
fn real_share_off_gives_fully_separate_homes() {
    let Some(rig) = Rig::new(&[("a", 10.0)], "share = []\n") else {
        return;
    };
    // Without sharing, codex needs the rig keys in the sandbox's own config.
    fs::write(
        rig.env.account_home("a").join("config.toml"),
        rig.backend.rig_config_toml(),
    )
    .unwrap();
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "alone"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    let home = rig.env.account_home("a");
    let sessions = fs::symlink_metadata(home.join("sessions")).unwrap();
    assert!(sessions.is_dir() && !sessions.file_type().is_symlink());
    let mut all = Vec::new();
    walk(&home, &mut all);
    assert!(
        all.iter().any(|p| p.to_string_lossy().ends_with(".sqlite")),
        "databases stay in the sandbox"
    );
    assert!(!rig.env.home.join(".codex/sessions").exists());
}

fn failover_rig(mode: &str) -> Option<Rig> {
    let rig = Rig::new(
        &[("work", 10.0), ("personal", 40.0)],
        &format!("[failover]\nmode = \"{mode}\"\n"),
    )?;
    let resets_at = crate::support::now_unix() + 3 * 86400;
    rig.backend
        .set_responses("acct-work", Responses::UsageLimit { resets_at });
    Some(rig)
}

#[test]
fn real_failover_auto_continues_the_session_on_the_next_account() {
    let Some(rig) = failover_rig("auto") else {
        return;
    };
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert!(
        out.stderr.contains("work hit its weekly limit"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("continuing this session on 'personal'"),
        "{}",
        out.stderr
    );
    let ids: Vec<String> = out
        .stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("session id: ").map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 2, "{}", out.stderr);
    assert_eq!(ids[0], ids[1], "the same thread continues");
    let tokens = rig.turn_tokens();
    assert_eq!(tokens.first().unwrap(), &rig.token("work"));
    assert_eq!(tokens.last().unwrap(), &rig.token("personal"));
}

#[test]
fn real_failover_ask_on_a_terminal() {
    for (answer, want_code) in [(&b"y\n"[..], Some(0)), (&b"n\n"[..], Some(1))] {
        let Some(rig) = failover_rig("ask") else {
            return;
        };
        let (code, screen) = crate::support::world::on_a_terminal(
            rig.codex().args(["exec", "--skip-git-repo-check", "task"]),
            answer,
            Duration::from_secs(90),
        );
        assert!(
            screen.contains("work hit its weekly limit (resets "),
            "{screen}"
        );
        assert!(
            screen.contains("Continue this session on personal (weekly 40%)? [Y/n]"),
            "{screen}"
        );
        assert_eq!(code, want_code, "{screen}");
        // swop's warnings fill the terminal's width: join continued lines.
        let joined = screen.replace("\r\n  ", " ").replace("\n  ", " ");
        if want_code == Some(1) {
            assert!(
                joined.contains("to continue on another account run: codex exec resume "),
                "{screen}"
            );
            assert_eq!(rig.turn_tokens().last().unwrap(), &rig.token("work"));
        } else {
            assert_eq!(rig.turn_tokens().last().unwrap(), &rig.token("personal"));
        }
    }
}

#[test]
fn real_failover_with_every_account_exhausted_names_the_reset_and_the_session() {
    let Some(rig) = failover_rig("auto") else {
        return;
    };
    let resets_at = crate::support::now_unix() + 2 * 86400;
    rig.backend
        .set_responses("acct-personal", Responses::UsageLimit { resets_at });
    let mut u = usage_json("plus", 5.0, 100.0);
    u["rate_limit"]["limit_reached"] = serde_json::Value::Bool(true);
    u["rate_limit"]["secondary_window"]["reset_at"] = serde_json::Value::from(resets_at);
    rig.backend.set_usage("acct-personal", u);
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let id = session_id(&out.stderr);
    assert!(
        out.stderr
            .contains("all accounts blocked; earliest: personal at "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("session to resume later: codex exec resume {id}")),
        "{}",
        out.stderr
    );
}

/// The `x-codex-*` headers of the model turns become the account's numbers
/// (codex records them in its rollout; swop reads them after the run), so
/// `swop status` shows them and the next launch asks nothing.
#[test]
fn real_session_numbers_are_learned_and_the_next_launch_asks_nothing() {
    let Some(rig) = Rig::new(&[("a", 20.0)], "") else {
        return;
    };
    rig.backend.set_rate_headers("acct-a", 12.5, 64.0);
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "hi"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    let asked = rig.backend.count(USAGE);
    assert_eq!(asked, 1, "the first launch had no numbers");
    let out = rig.swop().args(["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let a = &v["accounts"][0];
    assert_eq!(a["weekly"]["used_percent"], 64.0, "from the headers: {a}");
    assert_eq!(a["five_hour"]["used_percent"], 12.5, "{a}");
    assert_eq!(a["source"], "session", "{a}");
    assert_eq!(a["plan"], "plus", "the last known plan is kept: {a}");
    assert_eq!(a["state"], "ok", "{a}");
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "again"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert!(out.stderr.contains("weekly 64%"), "{}", out.stderr);
    assert_eq!(
        rig.backend.count(USAGE),
        asked,
        "no usage request after a run"
    );
}

/// A run on `a` (20% weekly, 5% 5-hour before) whose model turn reports
/// 13% / 64%, with this `[output] summary`: codex's stderr.
fn run_for_summary(mode: &str) -> Option<(Rig, String)> {
    let rig = Rig::new(&[("a", 20.0)], &format!("[output]\nsummary = {mode}\n"))?;
    rig.backend.set_rate_headers("acct-a", 13.0, 64.0);
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "hi"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    Some((rig, out.stderr))
}

/// The session's own numbers make the after-run line: before = what the
/// launch picked from, after = what the model turn reported.
#[test]
fn real_summary_always_says_how_the_numbers_moved() {
    let Some((rig, stderr)) = run_for_summary("\"always\"") else {
        return;
    };
    let line = stderr
        .lines()
        .find(|l| l.starts_with("swop: 'a' "))
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    assert!(
        line.starts_with("swop: 'a' weekly 20% -> 64%, 5h 5% -> 13% (weekly resets "),
        "{stderr}"
    );
    // It comes after codex's own output, once.
    assert_eq!(stderr.matches("swop: 'a' ").count(), 1, "{stderr}");
    assert!(
        stderr.find("swop: 'a' ") > stderr.find("session id: "),
        "{stderr}"
    );
    // A second run starts from the numbers the first one learned.
    rig.backend.set_rate_headers("acct-a", 15.0, 66.0);
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "again"])
        .ok();
    assert!(
        out.stderr
            .contains("swop: 'a' weekly 64% -> 66%, 5h 13% -> 15% (weekly resets "),
        "{}",
        out.stderr
    );
}

/// `never`, and `auto` with stderr not a terminal, print no line, though
/// the numbers were learned.
#[test]
fn real_summary_never_and_auto_off_a_terminal_stay_silent() {
    for mode in ["\"never\"", "\"auto\"", "false"] {
        let Some((rig, stderr)) = run_for_summary(mode) else {
            return;
        };
        assert!(!stderr.contains("swop: 'a' "), "{mode}: {stderr}");
        let out = rig.swop().args(["status", "--json"]).ok();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(v["accounts"][0]["weekly"]["used_percent"], 64.0, "{mode}");
    }
}

/// `auto` (the default) on a terminal: the line is there.
#[test]
fn real_summary_auto_on_a_terminal_is_shown() {
    let Some(rig) = Rig::new(&[("a", 20.0)], "") else {
        return;
    };
    rig.backend.set_rate_headers("acct-a", 13.0, 64.0);
    let (code, screen) = crate::support::world::on_a_terminal(
        rig.codex().args(["exec", "--skip-git-repo-check", "hi"]),
        b"",
        Duration::from_secs(90),
    );
    assert_eq!(code, Some(0), "{screen}");
    // swop's lines fill the terminal's width: join continued lines.
    let joined = screen.replace("\r\n  ", " ").replace("\n  ", " ");
    assert!(
        joined.contains("swop: 'a' weekly 20% -> 64%, 5h 5% -> 13% (weekly resets "),
        "{screen}"
    );
}

/// 16 launches at once, 8 forced on each of 2 accounts, into one shared
/// sessions dir; the backend sends each account its own header values.
/// Every account ends with its own numbers, learned from its own sessions.
#[test]
fn real_parallel_launches_learn_each_accounts_own_numbers() {
    let Some(rig) = Rig::new(&[("a", 20.0), ("b", 30.0)], "") else {
        return;
    };
    rig.backend.set_rate_headers("acct-a", 11.0, 41.0);
    rig.backend.set_rate_headers("acct-b", 22.0, 82.0);
    // Numbers first, so that no launch waits and all run side by side.
    rig.swop().args(["status"]).ok();
    let running: Vec<_> = (0..16)
        .map(|i| {
            let name = if i % 2 == 0 { "a" } else { "b" };
            let mut c = rig.codex();
            c.args(["exec", "--skip-git-repo-check", &format!("task {i}")])
                .env("SWOP_ACCOUNT", name);
            c.spawn()
        })
        .collect();
    for r in running {
        let out = r.wait_output(Duration::from_secs(180));
        assert!(out.success(), "{}", out.stderr);
    }
    let cache = |n: &str| -> serde_json::Value {
        let p = rig.env.swop_home.join(format!("cache/{n}.json"));
        serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
    };
    for (n, five, weekly) in [("a", 11.0, 41.0), ("b", 22.0, 82.0)] {
        let c = cache(n);
        assert_eq!(c["source"], "session", "{n}: {c}");
        assert_eq!(c["usage"]["weekly"]["used_percent"], weekly, "{n}: {c}");
        assert_eq!(c["usage"]["five_hour"]["used_percent"], five, "{n}: {c}");
    }
}

/// The optimistic pick (cached numbers past the TTL say `work` is fine)
/// meets an exhausted account: codex fails with the usage limit, failover
/// asks again, sees it and continues the session on the other account.
#[test]
fn real_optimistic_pick_of_an_exhausted_account_is_caught_by_failover() {
    let Some(rig) = failover_rig("auto") else {
        return;
    };
    rig.swop().args(["pick"]).ok();
    crate::support::world::age_cache(&rig.env, "work", 300);
    crate::support::world::age_cache(&rig.env, "personal", 300);
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .ok();
    assert!(
        out.stderr.contains("swop: codex on 'work'") && out.stderr.contains("numbers from 5m"),
        "picked from 5-minute-old numbers: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("continuing this session on 'personal'"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
}

/// Codex's own subcommands through the shim, with the real codex:
/// `features` and `archive` need no account (no pick, no request, the
/// shared home), `exec --remote` is passed through without a pick, and
/// `review` runs its turn on the picked account.
#[test]
fn real_subcommands_go_where_the_table_says() {
    let Some(rig) = Rig::new(&[("a", 10.0), ("b", 20.0)], "") else {
        return;
    };
    let shared = rig.env.home.join(".codex");
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "first"])
        .ok();
    let id = session_id(&out.stderr);
    let usage_before = rig.backend.count(USAGE);
    let turns_before = rig.turn_tokens().len();
    // No account: no pick, no request.
    let out = rig.codex().args(["features", "list"]).ok();
    assert!(out.stdout.contains("daemon_auto_start"), "{}", out.stdout);
    assert!(!out.stderr.contains("codex on"), "{}", out.stderr);
    let out = rig.codex().args(["archive", &id]).ok();
    assert!(!out.stderr.contains("codex on"), "{}", out.stderr);
    let mut archived = Vec::new();
    walk(&shared.join("archived_sessions"), &mut archived);
    assert!(
        archived.iter().any(|p| p.to_string_lossy().contains(&id)),
        "archived in the shared home: {archived:?}\n{}",
        out.stderr
    );
    // --remote: no pick; codex itself fails to reach the (absent) server.
    let out = rig
        .codex()
        .args([
            "exec",
            "--remote",
            "ws://127.0.0.1:9",
            "--skip-git-repo-check",
            "hi",
        ])
        .run();
    assert_ne!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("so no account is picked").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("codex on"), "{}", out.stderr);
    assert_eq!(rig.backend.count(USAGE), usage_before, "nothing was asked");
    assert_eq!(rig.turn_tokens().len(), turns_before, "no model turn");
    // review (in a git repository: codex reviews only there): a pick, and
    // its turn on that account's token.
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&rig.env.work)
        .status()
        .expect("git");
    assert!(git.success());
    let out = rig.codex().args(["review", "look at this"]).run();
    assert!(out.stderr.contains("swop: codex on 'a'"), "{}", out.stderr);
    let tokens = rig.turn_tokens();
    assert!(
        tokens.len() > turns_before,
        "review ran a turn: {}",
        out.stderr
    );
    assert!(
        tokens[turns_before..].iter().all(|t| *t == rig.token("a")),
        "on a's token"
    );
}

/// With codex's `cli_resume_account_check` switched on, resuming
/// a session another login created is refused, so swop's cross-account
/// resume (and failover) cannot survive it; off (0.171.0's default) it
/// works. An older codex without the feature resumes either way.
#[test]
fn real_resume_across_accounts_with_cli_resume_account_check_on() {
    let Some(rig) = Rig::new(&[("a", 10.0), ("b", 20.0)], "") else {
        return;
    };
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "first"])
        .env("SWOP_ACCOUNT", "a")
        .ok();
    let id = session_id(&out.stderr);
    let has_feature = rig
        .codex()
        .args(["features", "list"])
        .ok()
        .stdout
        .contains("cli_resume_account_check");
    let resume_on_b = |extra: &[&str]| {
        let mut c = rig.codex();
        c.args(extra.iter().copied())
            .args(["exec", "--skip-git-repo-check", "resume", &id, "again"])
            .env("SWOP_ACCOUNT", "b");
        c.run()
    };
    let on = resume_on_b(&["-c", "features.cli_resume_account_check=true"]);
    if has_feature {
        assert_eq!(on.code, Some(1), "{}", on.stderr);
        assert!(
            on.stderr
                .contains("This thread was created with a different ChatGPT account or workspace"),
            "{}",
            on.stderr
        );
        assert_eq!(
            rig.turn_tokens().last().unwrap(),
            &rig.token("a"),
            "no turn on b"
        );
    } else {
        assert_eq!(on.code, Some(0), "{}", on.stderr);
    }
    let off = resume_on_b(&["-c", "features.cli_resume_account_check=false"]);
    assert_eq!(off.code, Some(0), "{}", off.stderr);
    assert_eq!(session_id(&off.stderr), id);
    assert_eq!(rig.turn_tokens().last().unwrap(), &rig.token("b"));
}
