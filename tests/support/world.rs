//! Shortcuts the area tests share: adding accounts through the fake codex,
//! writing swop.toml, pointing swop at a loopback backend, and `World`, the
//! one way a test builds a temp home, a backend and accounts.

use crate::support::{run_in_pty, usage_json, Backend, Identity, Output, TestCommand, TestEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// `swop add NAME` through the fake codex login, which writes a fixture
/// auth.json for `id`.
pub fn add(env: &TestEnv, name: &str, id: &Identity) -> Output {
    let auth = env.write_auth_fixture(&format!("auth-{name}"), id);
    env.swop()
        .args(["add", name])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok()
}

/// Adds accounts named after their identities (`Identity::named`).
pub fn add_named(env: &TestEnv, names: &[&str]) {
    for n in names {
        add(env, n, &Identity::named(n));
    }
}

/// Writes `$SWOP_HOME/swop.toml`.
pub fn write_config(env: &TestEnv, text: &str) {
    std::fs::create_dir_all(&env.swop_home).unwrap();
    std::fs::set_permissions(&env.swop_home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(env.swop_home.join("swop.toml"), text).unwrap();
}

/// swop.toml pointing usage at `backend`, with sharing into a test-owned
/// shared home, plus `extra` TOML appended.
pub fn config_for(env: &TestEnv, backend: &Backend, extra: &str) {
    let (usage_extra, rest) = split_usage(extra);
    let timeout = if usage_extra.contains("timeout") {
        ""
    } else {
        "timeout = \"2s\"\n"
    };
    let shared = format!("shared_home = \"{}\"\n", env.home.join(".codex").display());
    // One [sandbox] table: the test's own, or ours.
    let (sandbox, rest) = if rest.contains("[sandbox]\n") {
        (
            String::new(),
            rest.replacen("[sandbox]\n", &format!("[sandbox]\n{shared}"), 1),
        )
    } else {
        (format!("[sandbox]\n{shared}"), rest)
    };
    write_config(
        env,
        &format!(
            "[usage]\nbase_url = \"{}\"\n{timeout}{usage_extra}\n{sandbox}{rest}\n",
            backend.backend_api()
        ),
    );
}

/// Lines of `extra` before its first `[table]` go into [usage].
fn split_usage(extra: &str) -> (String, String) {
    match extra.find("\n[").or(if extra.starts_with('[') {
        Some(0)
    } else {
        None
    }) {
        Some(i) => (extra[..i].to_string(), extra[i..].to_string()),
        None => (extra.to_string(), String::new()),
    }
}

pub fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every file under `root` is 0600 and every directory 0700 (links are not
/// followed; lock files included).
pub fn assert_private_tree(root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                continue;
            }
            seen += 1;
            let want = if m.is_dir() { 0o700 } else { 0o600 };
            // The installed binary is the one exception: it must be executable.
            if p.ends_with("bin/swop") {
                continue;
            }
            assert_eq!(mode(&p), want, "{} has mode {:o}", p.display(), mode(&p));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    assert!(seen > 0, "nothing under {}", root.display());
}

/// A world with these accounts (weekly used% served by a fresh loopback
/// backend, 5-hour at 5%) and swop.toml pointing at it plus `extra`.
pub fn world(names_weekly: &[(&str, f64)], extra: &str) -> (TestEnv, Backend) {
    World::new(names_weekly).extra(extra).build()
}

/// When `World` writes swop.toml (`config_for`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum SwopToml {
    /// After the accounts are added (the default).
    After,
    /// Before: `swop add` already sees it (the share list, the shared home).
    Before,
    /// Never: swop runs on its defaults.
    Absent,
}

/// How a test world is built: a temp home (`TestEnv`), a loopback
/// `Backend`, accounts named after their identities whose weekly used% the
/// backend serves (5-hour at 5%, plan plus), and swop.toml pointing at the
/// backend plus `extra` (see `config_for`). `world` is the common case.
pub struct World<'a> {
    accounts: &'a [(&'a str, f64)],
    extra: String,
    toml: SwopToml,
    env: Option<TestEnv>,
    codex_config: Option<fn(&Backend) -> String>,
    expiring: Vec<(&'a str, i64)>,
}

impl<'a> World<'a> {
    /// `accounts`: (name, weekly used%).
    pub fn new(accounts: &'a [(&'a str, f64)]) -> World<'a> {
        World {
            accounts,
            extra: String::new(),
            toml: SwopToml::After,
            env: None,
            codex_config: None,
            expiring: Vec::new(),
        }
    }

    /// TOML added to swop.toml: lines before its first `[table]` go into
    /// `[usage]`.
    pub fn extra(mut self, extra: &str) -> Self {
        self.extra = extra.to_string();
        self
    }

    /// Writes swop.toml before adding the accounts.
    pub fn config_first(mut self) -> Self {
        self.toml = SwopToml::Before;
        self
    }

    /// Writes no swop.toml at all.
    pub fn without_config(mut self) -> Self {
        self.toml = SwopToml::Absent;
        self
    }

    /// Builds in `env` (already set up, e.g. with swop installed) instead
    /// of a fresh one.
    pub fn in_env(mut self, env: TestEnv) -> Self {
        self.env = Some(env);
        self
    }

    /// Sets the shared codex home's config.toml (the rig's plain or TLS
    /// one, for the real codex).
    pub fn codex_config(mut self, f: fn(&Backend) -> String) -> Self {
        self.codex_config = Some(f);
        self
    }

    /// The access token of `name`'s login expires at `exp` (Unix s)
    /// instead of in a day.
    pub fn expiring(mut self, name: &'a str, exp: i64) -> Self {
        self.expiring.push((name, exp));
        self
    }

    pub fn build(self) -> (TestEnv, Backend) {
        let env = self.env.unwrap_or_default();
        let backend = Backend::start();
        if self.toml == SwopToml::Before {
            config_for(&env, &backend, &self.extra);
        }
        for (n, _) in self.accounts {
            let fixture = format!("auth-{n}");
            let auth = match self.expiring.iter().find(|(e, _)| e == n) {
                Some((_, exp)) => env.write_auth_fixture_exp(&fixture, &Identity::named(n), *exp),
                None => env.write_auth_fixture(&fixture, &Identity::named(n)),
            };
            env.swop()
                .args(["add", n])
                .env("FAKE_CODEX_AUTH", &auth)
                .ok();
        }
        for (n, w) in self.accounts {
            backend.set_usage(&format!("acct-{n}"), usage_json("plus", 5.0, *w));
        }
        if self.toml == SwopToml::After {
            config_for(&env, &backend, &self.extra);
        }
        if let Some(f) = self.codex_config {
            let shared = env.home.join(".codex");
            std::fs::create_dir_all(&shared).unwrap();
            std::fs::write(shared.join("config.toml"), f(&backend)).unwrap();
        }
        (env, backend)
    }
}

/// Runs `cmd` on a terminal (TERM=dumb), typing `input` at its prompt:
/// the exit code and everything the terminal showed.
pub fn on_a_terminal(
    cmd: &mut TestCommand,
    input: &[u8],
    timeout: Duration,
) -> (Option<i32>, String) {
    run_in_pty(cmd.env("TERM", "dumb").to_command(), input, timeout)
}

/// Makes `name`'s cached numbers `age` seconds old (and not marked stale).
pub fn age_cache(env: &TestEnv, name: &str, age: i64) {
    let p = env.swop_home.join(format!("cache/{name}.json"));
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["fetched_at"] = serde_json::Value::from(crate::support::now_unix() - age);
    v["invalidated"] = serde_json::Value::Bool(false);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

/// The account the launch announced ("swop: codex on 'NAME' ...").
pub fn announced(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("swop: codex on '"))
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_string)
}

/// The world the real-codex tests share: `accounts` (name, weekly used%)
/// whose usage the backend serves, swop pointed at the backend with a 10s
/// usage timeout (plus `extra` TOML after `[sandbox]`), written before the
/// accounts are added, and the shared codex home's config.toml set to
/// `codex_config` (the rig's plain or TLS one).
pub fn real_codex_world(
    accounts: &[(&str, f64)],
    extra: &str,
    codex_config: fn(&Backend) -> String,
) -> (TestEnv, Backend) {
    World::new(accounts)
        .extra(&format!("timeout = \"10s\"\n[sandbox]\n{extra}"))
        .config_first()
        .codex_config(codex_config)
        .build()
}
