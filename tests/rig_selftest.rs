//! Tests of the test rig itself (`support/`): the fake backend, the
//! fixtures and secret scan, the fake codex, the command runner, the pty,
//! and (with SWOP_TEST_REAL_CODEX) the real codex against the backend.
//! None of these depend on swop's behaviour.

use crate::support::fixtures;
use crate::support::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn usage_url(b: &Backend) -> String {
    format!("{}/wham/usage", b.backend_api())
}

fn get_usage(b: &Backend, account: &str) -> HttpResponse {
    http_get(
        &usage_url(b),
        &[
            ("Authorization", "Bearer opaque-test"),
            ("ChatGPT-Account-Id", account),
        ],
    )
}

// ---------------------------------------------------------------------------
// fixtures and the secret registry

#[test]
fn rig_jwt_decodes_to_the_claims() {
    let id = Identity::named("alice").with_plan("pro");
    let auth = chatgpt_auth_json(&id, 2_000_000_000);
    let v: serde_json::Value = serde_json::from_str(&auth).unwrap();
    assert_eq!(v["auth_mode"], "chatgpt");
    assert!(v["OPENAI_API_KEY"].is_null());
    assert_eq!(v["tokens"]["account_id"], "acct-alice");
    assert!(v["last_refresh"].as_str().unwrap().ends_with('Z'));

    let idt = decode_jwt(v["tokens"]["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(idt["email"], "alice@example.com");
    assert_eq!(idt["exp"], 2_000_000_000);
    let auth_claims = &idt["https://api.openai.com/auth"];
    assert_eq!(auth_claims["chatgpt_plan_type"], "pro");
    assert_eq!(auth_claims["chatgpt_account_id"], "acct-alice");
    assert_eq!(auth_claims["chatgpt_user_id"], "user-alice");

    let at = access_token_of(&auth);
    let atc = decode_jwt(&at).unwrap();
    assert_eq!(atc["exp"], 2_000_000_000);
    assert_eq!(
        atc["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-alice"
    );

    let header = at.split('.').next().unwrap();
    assert_eq!(header, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0");
    let rt = refresh_token_of(&auth);
    assert!(rt.starts_with("rt_") && rt.len() == 43, "{}", &rt[..6]);
}

#[test]
fn rig_tokens_are_unique() {
    let id = Identity::named("bob");
    let a = chatgpt_auth_json(&id, 2_000_000_000);
    let b = chatgpt_auth_json(&id, 2_000_000_000);
    assert_ne!(access_token_of(&a), access_token_of(&b));
    assert_ne!(refresh_token_of(&a), refresh_token_of(&b));
    let sig_a = access_token_of(&a).rsplit('.').next().unwrap().to_string();
    let sig_b = access_token_of(&b).rsplit('.').next().unwrap().to_string();
    assert_ne!(sig_a, sig_b);
    assert!(sig_a.len() >= 40);
}

#[test]
fn rig_rfc3339_dates() {
    assert_eq!(fixtures::rfc3339_utc(0, 0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        fixtures::rfc3339_utc(1_795_607_685, 123),
        "2026-11-25T11:54:45.000123Z"
    );
    assert_eq!(
        fixtures::rfc3339_utc(951_782_400, 0),
        "2000-02-29T00:00:00.000000Z"
    );
}

fn leak_message(text: &str) -> String {
    let r = std::panic::catch_unwind(|| assert_no_secrets(text, "selftest"));
    let e = r.expect_err("assert_no_secrets should have panicked");
    e.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn rig_assert_no_secrets_catches_leaks() {
    let id = Identity::named("carol");
    let auth = chatgpt_auth_json(&id, 2_000_000_000);
    let at = access_token_of(&auth);
    let rt = refresh_token_of(&auth);
    let parts: Vec<&str> = at.split('.').collect();

    // Clean text and the shared header pass.
    assert_no_secrets("using account carol@example.com (acct-carol)", "selftest");
    assert_no_secrets(&format!("header {}", parts[0]), "selftest");

    let m = leak_message(&format!("token: {at}"));
    assert!(m.contains("JWT"), "{m}");
    assert!(
        !m.contains(&at) && !m.contains(parts[1]),
        "the message must not hold the secret"
    );

    let m = leak_message(&format!("sig={}", parts[2]));
    assert!(m.contains("signature"), "{m}");
    let m = leak_message(&format!("payload={}.", parts[1]));
    assert!(m.contains("payload"), "{m}");
    let m = leak_message(&format!("refresh {rt}"));
    assert!(m.contains("refresh token"), "{m}");
    assert!(m.contains(&rt[..6]) && !m.contains(&rt[..7]), "{m}");
    // Part of a high-entropy secret is a leak too.
    let m = leak_message(&format!("...{}...", &rt[10..30]));
    assert!(m.contains("refresh token"), "{m}");

    let key = api_key();
    let key_auth = apikey_auth_json(&key);
    assert!(key_auth.contains("\"apikey\""));
    let m = leak_message(&key);
    assert!(m.contains("API key"), "{m}");
}

// ---------------------------------------------------------------------------
// the backend

#[test]
fn rig_backend_serves_usage_per_account() {
    let b = Backend::start();
    b.set_usage("acct-a", usage_json("plus", 10.0, 20.0));
    b.set_usage("acct-b", usage_json("pro", 50.0, 70.0));
    let a = get_usage(&b, "acct-a");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["rate_limit"]["secondary_window"]["used_percent"],
        20.0
    );
    let r = http_get(
        &usage_url(&b),
        &[
            ("authorization", "Bearer x-opaque"),
            ("chatgpt-account-id", "acct-b"),
        ],
    );
    assert_eq!(r.json()["plan_type"], "pro");
    // The non-backend-api route serves the same data.
    let r = http_get(
        &format!("{}/api/codex/usage", b.url()),
        &[
            ("Authorization", "Bearer x-opaque"),
            ("CHATGPT-ACCOUNT-ID", "acct-b"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["plan_type"], "pro");
    // Unknown account: 404.
    assert_eq!(get_usage(&b, "acct-nobody").status, 404);
    // A doubled slash (base URL with a trailing slash) routes the same.
    let r = http_get(
        &format!("{}/backend-api//wham/usage", b.url()),
        &[
            ("Authorization", "Bearer x-opaque"),
            ("ChatGPT-Account-Id", "acct-a"),
        ],
    );
    assert_eq!(r.status, 200);

    let reqs = b.requests();
    assert_eq!(reqs.len(), 5);
    assert_eq!(reqs[1].account_id.as_deref(), Some("acct-b"));
    assert_eq!(reqs[0].authorization.as_deref(), Some("Bearer opaque-test"));
    assert_eq!(b.count("/backend-api/wham/usage"), 4);
    assert_eq!(b.count("/api/codex/usage"), 1);
    assert_eq!(b.bearer_tokens_for("/api/")[0], "x-opaque");
}

#[test]
fn rig_backend_checks_tokens() {
    let b = Backend::start();
    let alice = Identity::named("alice");
    b.set_usage("acct-alice", usage_json("plus", 1.0, 2.0));
    let good = chatgpt_auth_json(&alice, now_unix() + 3600);
    let r = get_usage_with(&b, &good);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["plan_type"], "plus");
    assert_eq!(
        b.requests()[0].user_agent.as_deref(),
        Some("swop-rig-selftest")
    );
    assert_eq!(
        b.bearer_tokens_for("/backend-api/wham/usage"),
        vec![access_token_of(&good)]
    );

    // Expired access token: 401.
    let expired = chatgpt_auth_json(&alice, now_unix() - 10);
    assert_eq!(get_usage_with(&b, &expired).status, 401);
    // Token of another account with alice's header: 401.
    let bob = chatgpt_auth_json(&Identity::named("bob"), now_unix() + 3600);
    let bearer = format!("Bearer {}", access_token_of(&bob));
    let r = http_get(
        &usage_url(&b),
        &[
            ("Authorization", &bearer),
            ("ChatGPT-Account-Id", "acct-alice"),
        ],
    );
    assert_eq!(r.status, 401);
    // No bearer: 401.
    assert_eq!(
        http_get(&usage_url(&b), &[("ChatGPT-Account-Id", "acct-alice")]).status,
        401
    );
    b.set_check_tokens(false);
    assert_eq!(get_usage_with(&b, &expired).status, 200);
}

#[test]
fn rig_backend_usage_faults() {
    let b = Backend::start();
    b.set_usage("acct-a", usage_json("plus", 10.0, 20.0));

    b.set_usage_fault("acct-a", Fault::Status(403, "{\"detail\":\"nope\"}".into()));
    let r = get_usage(&b, "acct-a");
    assert_eq!((r.status, r.body.as_str()), (403, "{\"detail\":\"nope\"}"));

    b.set_usage_fault("acct-a", Fault::Html502);
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 502);
    assert!(r.body.contains("<html>"));

    b.set_usage_fault("acct-a", Fault::NotJson);
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());

    b.set_usage_fault("acct-a", Fault::WrongShape);
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 200);
    assert!(r.json()["rate_limit"].is_string());

    b.set_usage_fault("acct-a", Fault::Empty);
    let r = get_usage(&b, "acct-a");
    assert_eq!((r.status, r.body.as_str()), (200, ""));

    b.set_usage_fault("acct-a", Fault::RetryAfter429(7));
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));

    b.set_usage_fault(
        "acct-a",
        Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
    );
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:9/elsewhere"));

    b.clear_usage_fault("acct-a");
    assert_eq!(get_usage(&b, "acct-a").status, 200);
}

#[test]
fn rig_backend_hang_does_not_answer() {
    let b = Backend::start();
    b.set_usage("acct-a", usage_json("plus", 10.0, 20.0));
    b.set_usage_fault("acct-a", Fault::Hang);
    let t = Instant::now();
    let r = http_request(
        "GET",
        &usage_url(&b),
        &[
            ("Authorization", "Bearer x-opaque"),
            ("ChatGPT-Account-Id", "acct-a"),
        ],
        b"",
        Duration::from_secs(1),
    );
    let e = r.expect_err("a hung request must not be answered");
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    assert!(t.elapsed() >= Duration::from_millis(900));
    // The request was still logged.
    assert_eq!(b.count("/backend-api/wham/usage"), 1);
}

#[test]
fn rig_backend_drop_releases_hung_connections() {
    use std::io::{Read, Write};
    let b = Backend::start();
    b.set_usage_fault("acct-a", Fault::Hang);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", b.port())).unwrap();
    s.write_all(
        b"GET /backend-api/wham/usage HTTP/1.1\r\nHost: x\r\nChatGPT-Account-Id: acct-a\r\n\r\n",
    )
    .unwrap();
    assert!(b.wait_for("/backend-api/wham/usage", 1, Duration::from_secs(5)));
    let t = Instant::now();
    drop(b);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let n = s
        .read_to_end(&mut buf)
        .expect("the connection is closed, not hung");
    assert_eq!(n, 0, "no answer, just a close");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn rig_backend_slow_bytes_and_delay() {
    let b = Backend::start();
    b.set_usage("acct-a", usage_json("plus", 10.0, 20.0));
    b.set_usage_fault("acct-a", Fault::SlowBytes);
    let r = http_request(
        "GET",
        &usage_url(&b),
        &[("ChatGPT-Account-Id", "acct-a")],
        b"",
        Duration::from_millis(1500),
    );
    assert!(r.is_err(), "a slow body does not complete in 1.5 s");

    b.clear_usage_fault("acct-a");
    b.set_usage_delay(Duration::from_millis(400));
    let t = Instant::now();
    let r = get_usage(&b, "acct-a");
    assert_eq!(r.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(380));
}

#[test]
fn rig_backend_responses() {
    let b = Backend::start();
    // Websocket attempt: 426.
    let r = http_get(
        &format!("{}/v1/responses", b.url()),
        &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
    );
    assert_eq!(r.status, 426);

    // Default: the hello SSE stream.
    let post = |account: &str| {
        http_request(
            "POST",
            &format!("{}/v1/responses", b.url()),
            &[
                ("Authorization", "Bearer opaque-a"),
                ("chatgpt-account-id", account),
                ("Content-Encoding", "zstd"),
            ],
            &[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3],
            Duration::from_secs(5),
        )
        .unwrap()
    };
    let r = post("acct-a");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events: Vec<&str> = r
        .body
        .lines()
        .filter(|l| l.starts_with("event: "))
        .collect();
    assert_eq!(
        events,
        [
            "event: response.created",
            "event: response.output_item.done",
            "event: response.completed"
        ]
    );
    assert!(r.body.contains("\"text\":\"hello\""));

    b.set_responses("acct-a", Responses::Ok("bonjour".into()));
    assert!(post("acct-a").body.contains("\"text\":\"bonjour\""));

    // Usage limit: 429 and the usage flips.
    b.set_usage("acct-a", usage_json("plus", 10.0, 20.0));
    let resets = now_unix() + 3600;
    b.set_responses("acct-a", Responses::UsageLimit { resets_at: resets });
    let r = post("acct-a");
    assert_eq!(r.status, 429);
    let e = &r.json()["error"];
    assert_eq!(e["type"], "usage_limit_reached");
    assert_eq!(e["resets_at"], resets);
    assert!(e["resets_in_seconds"].as_i64().unwrap() > 3500);
    let u = get_usage(&b, "acct-a").json();
    assert_eq!(u["rate_limit"]["limit_reached"], true);
    assert_eq!(u["rate_limit"]["allowed"], false);
    assert_eq!(u["rate_limit"]["secondary_window"]["used_percent"], 100);
    assert_eq!(
        u["rate_limit"]["secondary_window"]["limit_window_seconds"],
        604800
    );

    b.set_responses("acct-b", Responses::Unauthorized);
    assert_eq!(post("acct-b").status, 401);
    // 1 websocket GET + 4 POSTs; the GET carried no token.
    assert_eq!(b.count("/v1/responses"), 5);
    assert_eq!(b.bearer_tokens_for("/v1/responses").len(), 4);

    // The TUI's workspace check names the caller's account, unconstrained.
    let r = http_get(
        &format!("{}/backend-api/wham/accounts/check", b.url()),
        &[("ChatGPT-Account-Id", "acct-b")],
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["accounts"][0]["id"], "acct-b");
    assert_eq!(
        v["accounts"][0]["workspace_backend_origin"],
        "NO_CONSTRAINT"
    );
    assert_eq!(v["account_ordering"][0], "acct-b");

    // Anything else: 404 {}.
    let r = http_get(&format!("{}/backend-api/wham/settings/user", b.url()), &[]);
    assert_eq!((r.status, r.body.as_str()), (404, "{}"));
}

#[test]
fn rig_backend_refresh_and_revoke() {
    let b = Backend::start();
    let url = format!("{}/oauth/token", b.url());
    let body = br#"{"client_id":"x","grant_type":"refresh_token","refresh_token":"rt_x"}"#;
    let r = http_request(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        body,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "refresh_token_expired");

    let id = Identity::named("dave");
    b.set_refresh(RefreshBehavior::Succeed(id.clone()));
    let r = http_request("POST", &url, &[], body, Duration::from_secs(5)).unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(
        decode_jwt(at).unwrap()["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-dave"
    );
    assert!(decode_jwt(v["id_token"].as_str().unwrap()).unwrap()["email"] == "dave@example.com");
    // The fresh tokens are registered secrets.
    assert!(find_secret(&r.body).is_some());
    assert!(find_secret(v["refresh_token"].as_str().unwrap()).is_some());

    let r = http_request(
        "POST",
        &format!("{}/oauth/revoke", b.url()),
        &[],
        b"{}",
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "{}"));
}

#[test]
fn rig_backend_codex_args() {
    let b = Backend::start();
    let p = b.port();
    assert_eq!(b.url(), format!("http://127.0.0.1:{p}"));
    assert_eq!(
        b.codex_rig_args(),
        vec![
            "-c".to_string(),
            format!("chatgpt_base_url=\"http://127.0.0.1:{p}/backend-api/\""),
            "-c".to_string(),
            format!("openai_base_url=\"http://127.0.0.1:{p}/v1\""),
        ]
    );
    assert!(b.rig_config_toml().contains(&format!(
        "chatgpt_base_url = \"http://127.0.0.1:{p}/backend-api/\"\n"
    )));
    let env = b.rig_env();
    assert_eq!(
        env[0],
        (
            "CODEX_REFRESH_TOKEN_URL_OVERRIDE".into(),
            format!("http://127.0.0.1:{p}/oauth/token")
        )
    );
    assert_eq!(env[1].0, "CODEX_REVOKE_TOKEN_URL_OVERRIDE");
}

// ---------------------------------------------------------------------------
// the fake codex and the command runner

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
    run.signal(libc::SIGTERM);
    let out = run.wait_output(Duration::from_secs(5));
    assert!(!out.timed_out);
    assert_eq!(out.signal, Some(libc::SIGTERM));
    assert!(t.elapsed() < Duration::from_secs(5));
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

// ---------------------------------------------------------------------------
// the pty

#[test]
fn rig_pty_is_a_terminal_and_takes_input() {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args([
        "-c",
        "test -t 0 && test -t 1 && test -t 2 || exit 9; (exec 3</dev/tty) || exit 8; \
         printf 'Log in again? [Y/n] '; read a; echo \"got:$a\"; exit 4",
    ]);
    let (code, out) = run_in_pty(cmd, b"y\n", Duration::from_secs(10));
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("[Y/n]"), "{out}");
    assert!(out.contains("got:y"), "{out}");
}

#[test]
fn rig_pty_timeout_kills() {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "echo started; sleep 30"]);
    let t = Instant::now();
    let (code, out) = run_in_pty(cmd, b"", Duration::from_millis(500));
    assert_eq!(code, None);
    assert!(out.contains("started"));
    assert!(t.elapsed() < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------
// the real codex against the backend (SWOP_TEST_REAL_CODEX)

#[test]
fn rig_real_codex_exec_against_backend() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let b = Backend::start();
    let id = Identity::named("grace");
    let fixture = env.write_auth_fixture("grace", &id);
    let home = env.root.join("codex-home");
    fs::create_dir_all(&home).unwrap();

    // Fake login, then the real exec through the fake's delegation.
    env.command(&env.fake_codex)
        .arg("login")
        .env("CODEX_HOME", &home)
        .env("FAKE_CODEX_AUTH", &fixture)
        .ok();
    let out = env
        .command(&env.fake_codex)
        .args(["exec", "--skip-git-repo-check", "hi"])
        .env("CODEX_HOME", &home)
        .envs(b.delegate_env(&real))
        .timeout(Duration::from_secs(30))
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "hello",
        "{}",
        report("real codex exec", &out)
    );

    let token = access_token_of(&fs::read_to_string(&fixture).unwrap());
    let posts: Vec<Req> = b
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/responses")
        .collect();
    assert!(
        !posts.is_empty(),
        "no POST /v1/responses: {:?}",
        b.requests()
    );
    for p in &posts {
        assert_eq!(p.bearer(), Some(token.as_str()));
        assert_eq!(p.account_id.as_deref(), Some("acct-grace"));
    }

    // The same with the rig args given directly to the real binary.
    let mut args = b.codex_rig_args();
    args.extend(["exec", "--skip-git-repo-check", "hi"].map(String::from));
    b.set_responses("acct-grace", Responses::Ok("second".into()));
    let out = env
        .command(&real)
        .args(args)
        .env("CODEX_HOME", &home)
        .envs(b.rig_env())
        .timeout(Duration::from_secs(30))
        .ok();
    assert_eq!(out.stdout.trim(), "second");
    let calls = env.fake_log();
    assert_eq!(
        calls.len(),
        2,
        "the fake logged login and the delegated exec only"
    );
}

#[test]
fn rig_real_codex_usage_limit_and_dead_session() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let b = Backend::start();
    let id = Identity::named("heidi");
    let home = env.root.join("codex-home");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join("config.toml"), b.rig_config_toml()).unwrap();
    let auth = chatgpt_auth_json(&id, now_unix() + 86_400);
    fs::write(home.join("auth.json"), &auth).unwrap();
    fs::set_permissions(home.join("auth.json"), fs::Permissions::from_mode(0o600)).unwrap();

    // Usage limit: exit 1 with the usage-limit message; the usage flips.
    b.set_usage("acct-heidi", usage_json("plus", 10.0, 20.0));
    b.set_responses(
        "acct-heidi",
        Responses::UsageLimit {
            resets_at: now_unix() + 3600,
        },
    );
    let out = env
        .command(&real)
        .args(["exec", "--skip-git-repo-check", "hi"])
        .env("CODEX_HOME", &home)
        .envs(b.rig_env())
        .timeout(Duration::from_secs(30))
        .code(1);
    assert!(
        out.stderr.contains("usage limit"),
        "{}",
        report("usage limit", &out)
    );
    assert_eq!(
        b.usage("acct-heidi").unwrap()["rate_limit"]["limit_reached"],
        true
    );

    // Dead session: 401 and a failing refresh.
    b.set_responses("acct-heidi", Responses::Unauthorized);
    let out = env
        .command(&real)
        .args(["exec", "--skip-git-repo-check", "hi"])
        .env("CODEX_HOME", &home)
        .envs(b.rig_env())
        .timeout(Duration::from_secs(30))
        .code(1);
    assert!(
        b.count("/oauth/token") >= 1,
        "codex tried to refresh: {:?}",
        b.requests()
    );
    assert!(
        out.stderr.contains("refresh"),
        "{}",
        report("dead session", &out)
    );
}

#[test]
fn rig_real_codex_app_server_reads_usage_through_the_rig() {
    use std::io::{BufRead, BufReader, Write};
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let b = Backend::start();
    let id = Identity::named("ivan");
    let home = env.root.join("codex-home");
    fs::create_dir_all(&home).unwrap();
    fs::write(home.join("config.toml"), b.rig_config_toml()).unwrap();
    let auth = chatgpt_auth_json(&id, now_unix() + 3600);
    fs::write(home.join("auth.json"), &auth).unwrap();
    b.set_usage("acct-ivan", usage_json("plus", 10.0, 33.0));

    let mut cmd = env
        .command(&real)
        .arg("app-server")
        .env("CODEX_HOME", &home)
        .envs(b.rig_env())
        .to_command();
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // stdin must stay open until the reply: app-server exits on EOF.
    for msg in [
        json_line(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"swop","version":"0.1"}}}"#,
        ),
        json_line(r#"{"jsonrpc":"2.0","method":"initialized"}"#),
        json_line(r#"{"jsonrpc":"2.0","id":2,"method":"account/rateLimits/read"}"#),
    ] {
        stdin.write_all(msg.as_bytes()).unwrap();
    }
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(20);
    let reply = loop {
        let left = end.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("app-server answered id 2 in time");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["id"] == 2 {
            break v;
        }
    };
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    assert_no_secrets(&reply.to_string(), "app-server reply");
    let rl = &reply["result"]["rateLimits"];
    assert_eq!(rl["secondary"]["usedPercent"], 33, "{reply}");
    assert_eq!(rl["primary"]["windowDurationMins"], 300, "{reply}");
    assert_eq!(rl["planType"], "plus", "{reply}");
    let token = access_token_of(&auth);
    assert!(b
        .bearer_tokens_for("/backend-api/wham/usage")
        .contains(&token));
}

fn json_line(s: &str) -> String {
    format!("{s}\n")
}
