//! Limit-reset credits and API-key logins with the real codex: `swop
//! redeem` goes through the real `codex app-server`
//! (`account/rateLimitResetCredit/consume`), which posts
//! `{"redeem_request_id": KEY}` to the loopback backend's
//! `/backend-api/wham/rate-limit-reset-credits/consume` with the account's
//! own token; and `swop add NAME -- --with-api-key` runs the real login.

use super::Rig;
use crate::never_stuck::limited;
use crate::support::{api_key, now_unix, real_codex, Consume, Req, TestEnv};
use serde_json::Value;
use std::time::Duration;

const CONSUME: &str = "/backend-api/wham/rate-limit-reset-credits/consume";

/// `a` blocked for three days with 2 credits, `b` blocked a day without.
fn blocked_rig(extra: &str) -> Option<Rig> {
    let rig = Rig::new(&[("a", 10.0), ("b", 10.0)], extra)?;
    rig.backend
        .set_usage("acct-a", limited(now_unix() + 3 * 86400, 2));
    rig.backend
        .set_usage("acct-b", limited(now_unix() + 86400, 0));
    Some(rig)
}

fn consumes(rig: &Rig) -> Vec<Req> {
    rig.backend
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == CONSUME)
        .collect()
}

fn request_id(r: &Req) -> String {
    let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{}", r.body));
    v["redeem_request_id"].as_str().unwrap().to_string()
}

#[test]
fn real_redeem_sends_one_consume_with_the_accounts_token_and_the_launch_runs_there() {
    let Some(rig) = blocked_rig("") else { return };
    rig.backend.set_consume(
        "acct-a",
        Consume {
            fail_first: 0,
            lose_first: 0,
            code: "reset",
        },
    );
    let out = rig.swop().args(["redeem", "a", "--yes"]).ok();
    let sent = consumes(&rig);
    assert_eq!(sent.len(), 1, "exactly one consume request");
    assert_eq!(sent[0].bearer(), Some(rig.token("a").as_str()));
    assert_eq!(sent[0].account_id.as_deref(), Some("acct-a"));
    assert_eq!(request_id(&sent[0]).len(), 36, "a UUID: {}", sent[0].body);
    assert!(
        out.stdout
            .contains("reset the limit of 'a' with one limit-reset credit (now 5h 0%, weekly 0%; 1 credit left)"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // The cache holds codex's numbers after the reset: the launch runs on
    // 'a' with its token.
    let out = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "hi"])
        .ok();
    assert_eq!(
        crate::support::world::announced(&out.stderr).as_deref(),
        Some("a")
    );
    assert_eq!(rig.turn_tokens().last(), Some(&rig.token("a")));
}

#[test]
fn real_a_lost_answer_is_retried_with_the_same_request_id_and_spends_one_credit() {
    let Some(rig) = blocked_rig("") else { return };
    // The first request is carried out but its answer is lost (500); the
    // second gets no answer either; the third, the same request, learns it
    // was already redeemed.
    rig.backend.set_consume(
        "acct-a",
        Consume {
            fail_first: 0,
            lose_first: 2,
            code: "reset",
        },
    );
    let out = rig.swop().args(["redeem", "a", "--yes", "--json"]).ok();
    let sent = consumes(&rig);
    assert_eq!(sent.len(), 3, "{}", out.stderr);
    let id = request_id(&sent[0]);
    assert!(
        sent.iter().all(|r| request_id(r) == id),
        "one id per attempt"
    );
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "already_redeemed", "{v}");
    assert_eq!(v["credits_left"], 1, "one credit spent: {v}");
    assert_eq!(
        rig.backend.usage("acct-a").unwrap()["rate_limit_reset_credits"]["available_count"],
        1
    );
}

#[test]
fn real_launch_offer_spends_only_after_y_and_then_runs_on_that_account() {
    for (answer, want) in [(&b"n\n"[..], Some(5)), (b"y\n", Some(0))] {
        let Some(rig) = blocked_rig("[failover]\nredeem = \"ask\"\n") else {
            return;
        };
        rig.backend.set_consume(
            "acct-a",
            Consume {
                fail_first: 0,
                lose_first: 0,
                code: "reset",
            },
        );
        let (code, screen) = crate::support::world::on_a_terminal(
            rig.codex().args(["exec", "--skip-git-repo-check", "task"]),
            answer,
            Duration::from_secs(90),
        );
        assert_eq!(code, want, "{screen}");
        let sent = consumes(&rig);
        if want == Some(0) {
            assert_eq!(sent.len(), 1, "{screen}");
            assert_eq!(sent[0].bearer(), Some(rig.token("a").as_str()));
            assert_eq!(rig.turn_tokens(), [rig.token("a")], "{screen}");
        } else {
            assert!(sent.is_empty(), "{screen}");
            assert!(rig.turn_tokens().is_empty());
        }
    }
}

#[test]
fn real_api_key_login_is_added_and_status_shows_it_without_numbers() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let key = api_key();
    let out = env
        .swop()
        .args(["add", "key", "--", "--with-api-key"])
        .env("SWOP_CODEX", &real)
        .stdin(&key)
        .timeout(Duration::from_secs(60))
        .ok();
    assert!(out.stdout.contains("added 'key'"), "{}", out.stdout);
    assert!(
        out.stderr.contains("[selection] reserve = [\"key\"]"),
        "{}",
        out.stderr
    );
    let auth = std::fs::read_to_string(env.account_home("key").join("auth.json")).unwrap();
    let v: Value = serde_json::from_str(&auth).unwrap();
    assert_eq!(v["auth_mode"], "apikey");
    assert_eq!(
        crate::support::world::mode(&env.account_home("key").join("auth.json")),
        0o600
    );
    let out = env.swop().args(["status"]).env("SWOP_CODEX", &real).ok();
    let row = out.stdout.lines().find(|l| l.contains(" key ")).unwrap();
    assert!(row.contains("api-key"), "{row}");
    assert!(row.contains("api key (no usage data)"), "{row}");
    assert!(row.contains("  -  "), "no percentages: {row}");
    // The login works for codex itself ("API key configured" in 0.171.0,
    // "Logged in using an API key" in 0.162.1).
    let status = env
        .command(&real)
        .args(["login", "status"])
        .env("CODEX_HOME", env.account_home("key"))
        .ok();
    assert!(
        ["API key configured", "Logged in using an API key"]
            .iter()
            .any(|w| format!("{}{}", status.stdout, status.stderr).contains(w)),
        "{}",
        status.stderr
    );
}
