//! In-turn failover (`[failover] in_turn = true`): swop relays codex's model
//! turns on loopback and re-sends a turn refused for the usage limit on the
//! next account, inside the same codex run. The real codex (0.169.0) on the
//! loopback rig shows it; the fake codex shows the relay's edges (the path
//! secret, nothing without `in_turn`).

use crate::support::world::World;
use crate::support::{
    access_token_of, http_request, real_codex, Backend, Identity, RefreshBehavior, Responses,
    TestCommand, TestEnv,
};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) struct Rig {
    pub env: TestEnv,
    pub backend: Backend,
    pub real: PathBuf,
}

/// work (weekly 10 %) and personal (weekly 40 %); work's turns are refused
/// for the usage limit. Post-session failover is off, so a turn that ends
/// well can only have been saved inside the run.
pub(crate) fn rig(in_turn: bool, personal_exp: Option<i64>) -> Option<Rig> {
    let real = real_codex()?;
    let mut world = World::new(&[("work", 10.0), ("personal", 40.0)])
        .extra(&format!(
            "timeout = \"10s\"\ncache_ttl = \"1h\"\n[failover]\nmode = \"off\"\nin_turn = {in_turn}\n"
        ))
        .config_first()
        .codex_config(|b| b.rig_config_toml());
    if let Some(exp) = personal_exp {
        world = world.expiring("personal", exp);
    }
    let (env, backend) = world.build();
    let resets_at = crate::support::now_unix() + 3 * 86400;
    backend.set_responses("acct-work", Responses::UsageLimit { resets_at });
    Some(Rig { env, backend, real })
}

impl Rig {
    pub fn codex(&self) -> TestCommand {
        let mut c = self.env.codex();
        c.env("SWOP_CODEX", &self.real)
            .envs(self.backend.rig_env())
            .timeout(Duration::from_secs(90));
        c
    }

    pub fn token(&self, name: &str) -> String {
        access_token_of(&fs::read_to_string(self.env.account_home(name).join("auth.json")).unwrap())
    }

    /// (path, bearer) of every model turn the backend saw, in order.
    pub fn turns(&self) -> Vec<(String, String)> {
        self.backend
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
            .map(|r| (r.path.clone(), r.bearer().unwrap_or_default().to_string()))
            .collect()
    }

    /// Fills the usage cache as a launch a moment ago would have, so that
    /// the launch itself fetches nothing (and refreshes no token).
    pub fn warm_cache(&self) {
        let out = self.env.swop().args(["status", "--json"]).ok();
        assert!(out.stdout.contains("\"personal\""), "{}", out.stderr);
    }
}

pub(crate) fn session_ids(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("session id: ").map(str::to_string))
        .collect()
}

#[test]
fn real_exec_turn_refused_for_the_limit_is_answered_on_the_next_account() {
    let Some(rig) = rig(true, None) else { return };
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "'work' hit its usage limit; codex's turns continue on 'personal' (in-turn failover)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        session_ids(&out.stderr).len(),
        1,
        "one codex run: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("continuing this session"),
        "{}",
        out.stderr
    );
    let turns = rig.turns();
    let want = vec![
        (
            "/backend-api/codex/responses".to_string(),
            rig.token("work"),
        ),
        (
            "/backend-api/codex/responses".to_string(),
            rig.token("personal"),
        ),
    ];
    assert_eq!(turns, want, "first on work, the retry on personal");
    let retry = rig
        .backend
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .unwrap();
    assert_eq!(retry.account_id.as_deref(), Some("acct-personal"));
}

#[test]
fn real_exec_without_in_turn_still_fails_the_turn() {
    let Some(rig) = rig(false, None) else { return };
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("usage limit"), "{}", out.stderr);
    let turns = rig.turns();
    assert!(
        turns
            .iter()
            .all(|(p, t)| p == "/v1/responses" && *t == rig.token("work")),
        "no relay, no other account: {turns:?}"
    );
}

#[test]
fn real_exec_with_every_account_exhausted_passes_the_limit_through() {
    let Some(rig) = rig(true, None) else { return };
    let resets_at = crate::support::now_unix() + 2 * 86400;
    rig.backend
        .set_responses("acct-personal", Responses::UsageLimit { resets_at });
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("hit your usage limit"),
        "{}",
        out.stderr
    );
    let tokens: Vec<String> = rig.turns().into_iter().map(|(_, t)| t).collect();
    assert_eq!(tokens.first(), Some(&rig.token("work")), "{tokens:?}");
    assert!(tokens.contains(&rig.token("personal")), "{tokens:?}");
}

#[test]
fn real_expired_fallback_token_is_refreshed_by_codex_before_the_retry() {
    let Some(rig) = rig(true, Some(crate::support::now_unix() - 3600)) else {
        return;
    };
    // The cache answers the launch, so nothing refreshes personal's token
    // before the turn needs it.
    let personal = Identity::named("personal");
    rig.backend
        .set_refresh(RefreshBehavior::Succeed(personal.clone()));
    let now = crate::support::now_unix();
    let cache = rig.env.swop_home.join("cache");
    fs::create_dir_all(&cache).unwrap();
    for (n, w) in [("work", 10.0), ("personal", 40.0)] {
        let entry = serde_json::json!({"fetched_at": now, "attempted_ms": now * 1000,
            "usage": {"plan": "plus", "allowed": true, "limit_reached": false,
              "five_hour": {"used_percent": 5.0, "window_seconds": 18000, "reset_at": now + 3600},
              "weekly": {"used_percent": w, "window_seconds": 604800, "reset_at": now + 86400}}});
        fs::write(cache.join(format!("{n}.json")), entry.to_string()).unwrap();
    }
    let old = rig.token("personal");
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    let refreshes: Vec<_> = rig
        .backend
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token")
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh, by codex");
    let ua = refreshes[0].user_agent.clone().unwrap_or_default();
    assert!(!ua.starts_with("swop"), "codex refreshed, not swop: {ua}");
    let new = rig.token("personal");
    assert_ne!(new, old, "codex rewrote personal's auth.json");
    let tokens: Vec<String> = rig.turns().into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        tokens,
        vec![rig.token("work"), new],
        "retry with the refreshed token"
    );
    assert!(!tokens.contains(&old), "the expired token is never sent");
}

#[test]
fn real_fallback_token_refused_with_401_is_refreshed_by_codex_and_the_turn_resent_once() {
    let Some(rig) = rig(true, None) else { return };
    // The cache answers the launch and the pick, so nothing but the refused
    // retry makes codex refresh personal's login.
    rig.warm_cache();
    let old = rig.token("personal");
    rig.backend.revoke_token(&old);
    rig.backend
        .set_refresh(RefreshBehavior::Succeed(Identity::named("personal")));
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .run();
    for r in rig.backend.requests() {
        eprintln!(
            "DEBUG {} {} {:?} {:?}",
            r.method, r.path, r.account_id, r.user_agent
        );
    }
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert_eq!(
        session_ids(&out.stderr).len(),
        1,
        "one codex run: {}",
        out.stderr
    );
    let refreshes: Vec<_> = rig
        .backend
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token")
        .collect();
    assert_eq!(refreshes.len(), 1, "one refresh, by codex");
    let ua = refreshes[0].user_agent.clone().unwrap_or_default();
    // codex app-server names its client (swop) in its user agent, then
    // its own version; swop's own requests say `swop/<swop's version>`.
    let version = std::process::Command::new(&rig.real)
        .arg("--version")
        .output()
        .expect("codex --version");
    let version = String::from_utf8_lossy(&version.stdout);
    let version = version.split_whitespace().last().unwrap_or("?");
    assert!(
        ua.contains(version),
        "codex {version} refreshed, not swop: {ua}"
    );
    let new = rig.token("personal");
    assert_ne!(new, old, "codex rewrote personal's auth.json");
    let tokens: Vec<String> = rig.turns().into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        tokens,
        vec![rig.token("work"), old, new],
        "work refused, personal's old token refused, re-sent once with the new one"
    );
}

#[test]
fn real_fallback_login_that_codex_cannot_refresh_is_left_and_codex_gets_the_limit() {
    let Some(rig) = rig(true, None) else { return };
    rig.warm_cache();
    let old = rig.token("personal");
    rig.backend.revoke_token(&old);
    // The refresh fails (the default): personal's login is dead.
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("hit your usage limit"),
        "{}",
        out.stderr
    );
    let tokens: Vec<String> = rig.turns().into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        tokens,
        vec![rig.token("work"), old.clone()],
        "personal refused once; not re-sent with the same token"
    );
    assert_eq!(
        rig.backend.count("/oauth/token"),
        1,
        "codex tried to refresh"
    );
    assert_eq!(
        rig.token("personal"),
        old,
        "nothing rewrote personal's login"
    );
}

#[test]
fn real_turn_headers_update_the_cache_of_the_account_the_turn_went_out_on() {
    let Some(rig) = rig(true, None) else { return };
    rig.warm_cache();
    rig.backend.set_turn_headers(
        "acct-personal",
        &[
            ("x-codex-primary-used-percent", "7"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-secondary-used-percent", "55"),
            ("x-codex-secondary-window-minutes", "10080"),
        ],
    );
    rig.codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .ok();
    let out = rig.env.swop().args(["status", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let personal = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "personal")
        .unwrap();
    assert_eq!(personal["weekly"]["used_percent"], 55.0, "{v}");
    assert_eq!(personal["five_hour"]["used_percent"], 7.0, "{v}");
    // The session file was created under work, but the turn it records went
    // out on personal: its numbers are never learned as work's.
    let work = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "work")
        .unwrap();
    assert_ne!(work["weekly"]["used_percent"], 55.0, "{v}");
    assert_ne!(work["source"], "session", "{v}");
}

/// The relay URL codex was given, from the fake codex's log.
pub(crate) fn relay_base(env: &TestEnv) -> Option<String> {
    env.fake_log().iter().find_map(|c| {
        c.args.iter().find_map(|a| {
            a.strip_prefix("openai_base_url=\"")
                .map(|u| u.trim_end_matches('"').to_string())
        })
    })
}

/// [`relay_base`] once the launched codex has it (within 20 s).
pub(crate) fn await_relay_base(env: &TestEnv) -> String {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(b) = relay_base(env) {
            return b;
        }
        assert!(std::time::Instant::now() < end, "codex never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn relay_refuses_requests_without_its_path_secret() {
    let (env, backend) = World::new(&[("work", 10.0)])
        .extra("[failover]\nin_turn = true\n")
        .config_first()
        .build();
    let run = env
        .codex()
        .args(["exec", "hi"])
        .env("FAKE_SLEEP", "30")
        .spawn();
    let base = await_relay_base(&env);
    // http://127.0.0.1:PORT/SECRET
    let rest = base.strip_prefix("http://127.0.0.1:").unwrap();
    let (port, secret) = rest.split_once('/').unwrap();
    assert_eq!(secret.len(), 32, "128 random bits");
    let origin = format!("http://127.0.0.1:{port}");
    let token =
        access_token_of(&fs::read_to_string(env.account_home("work").join("auth.json")).unwrap());
    let bearer = format!("Bearer {token}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("ChatGPT-Account-Id", "acct-work"),
    ];
    let post = |p: &str| {
        http_request(
            "POST",
            &format!("{origin}{p}"),
            &auth,
            b"{}",
            Duration::from_secs(5),
        )
        .unwrap()
    };
    let before = backend.requests().len();
    for wrong in [
        "/".to_string(),
        "/responses".to_string(),
        format!("/{}/responses", &secret[..31]),
        format!("/{secret}x/responses"),
    ] {
        assert_eq!(post(&wrong).status, 404, "{wrong}");
    }
    assert_eq!(
        backend.requests().len(),
        before,
        "nothing reached the backend"
    );
    let ok = post(&format!("/{secret}/responses"));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("response.completed"), "{}", ok.body);
    let seen = backend.requests().pop().unwrap();
    assert_eq!(seen.path, "/backend-api/codex/responses");
    assert_eq!(seen.bearer(), Some(token.as_str()), "forwarded unchanged");
    let upgrade = http_request(
        "GET",
        &format!("{origin}/{secret}/responses"),
        &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
        b"",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(upgrade.status, 426, "websockets are refused at once");
    run.signal(libc::SIGTERM);
    run.finish();
}

#[test]
fn without_in_turn_codex_gets_no_relay() {
    let (env, _backend) = World::new(&[("work", 10.0)]).config_first().build();
    env.codex().args(["exec", "hi"]).ok();
    assert!(relay_base(&env).is_none(), "{:?}", env.fake_log());
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// BENCHMARKS.md, "In-turn relay": a model turn (POST .../responses, SSE
/// answer) through the relay vs straight to the loopback backend, and a
/// launch with and without `in_turn`, median of 30 each. Prints, asserts
/// nothing about time. Run:
/// `cargo test --release --test tests bench_in_turn -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_in_turn() {
    let (env, backend) = World::new(&[("work", 10.0)])
        .extra("[failover]\nin_turn = true\n")
        .config_first()
        .build();
    let token =
        access_token_of(&fs::read_to_string(env.account_home("work").join("auth.json")).unwrap());
    let bearer = format!("Bearer {token}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("ChatGPT-Account-Id", "acct-work"),
    ];
    let run = env
        .codex()
        .args(["exec", "hi"])
        .env("FAKE_SLEEP", "60")
        .spawn();
    let relay = await_relay_base(&env);
    let turn = |url: &str| {
        let t = std::time::Instant::now();
        let r = http_request("POST", url, &auth, b"{}", Duration::from_secs(5)).unwrap();
        assert_eq!(r.status, 200);
        t.elapsed().as_secs_f64() * 1000.0
    };
    let direct_url = format!("{}/codex/responses", backend.backend_api());
    let relay_url = format!("{relay}/responses");
    let (mut direct, mut relayed) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        direct.push(turn(&direct_url));
        relayed.push(turn(&relay_url));
    }
    run.signal(libc::SIGTERM);
    run.finish();
    println!(
        "turn: direct median {:.3} ms, through relay median {:.3} ms",
        median_ms(direct),
        median_ms(relayed)
    );
    let launch = |in_turn: bool| {
        crate::support::world::config_for(
            &env,
            &backend,
            &format!("cache_ttl = \"1h\"\n[failover]\nin_turn = {in_turn}\n"),
        );
        env.codex().args(["exec", "hi"]).ok();
        let mut v = Vec::new();
        for _ in 0..30 {
            let t = std::time::Instant::now();
            env.codex().args(["exec", "hi"]).ok();
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        median_ms(v)
    };
    let off = launch(false);
    let on = launch(true);
    println!(
        "launch (fake codex exits at once): in_turn off median {off:.2} ms, on median {on:.2} ms"
    );
}
