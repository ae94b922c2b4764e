//! The fake backend (`support::backend`): usage per account, token checks,
//! injected faults (hangs, slow bytes, delays), model turns, refresh and
//! revoke, and the arguments that point codex at it. The tests of swop
//! trust its answers, so they are checked here first.

use crate::support::*;
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
