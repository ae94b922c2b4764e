//! With the fake codex: a launch never waits for numbers it can
//! decide with (`[usage] refresh = "background"`), failures are remembered
//! (Retry-After, backoff), and a refresh that failed never shows as fresh.
//! Learning from codex's own session needs the real codex: real_codex.rs.

use crate::support::world::{age_cache, announced, world};
use crate::support::{usage_json, Fault, TestEnv};
use serde_json::Value;
use std::time::{Duration, Instant};

const USAGE: &str = "/backend-api/wham/usage";

fn status_json(env: &TestEnv, refresh: bool) -> Value {
    let mut c = env.swop();
    c.args(["status", "--json"]);
    if refresh {
        c.arg("--refresh");
    }
    serde_json::from_str(&c.ok().stdout).unwrap()
}

fn account<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()
}

/// a at 10% and b at 20% are cached, 90 s old (past cache_ttl, well within
/// stale_after); then the server's numbers change to a 50%, b 20% and it
/// takes 3 s to answer. Which account is announced shows whether the launch
/// waited for the server: b if it did, a if it started from the cache.
fn launch_on_slightly_old_numbers(policy: &str) -> (String, usize) {
    let (env, backend) = world(
        &[("a", 10.0), ("b", 20.0)],
        &format!("timeout = \"20s\"\nrefresh = \"{policy}\"\n"),
    );
    env.swop().args(["pick", "--json"]).ok();
    age_cache(&env, "a", 90);
    age_cache(&env, "b", 90);
    backend.set_usage("acct-a", usage_json("plus", 5.0, 50.0));
    backend.set_usage_delay(Duration::from_secs(3));
    let out = env.codex().args(["exec", "x"]).ok();
    let asked = backend.count(USAGE);
    (announced(&out.stderr).expect(&out.stderr), asked)
}

#[test]
fn numbers_a_little_older_than_the_ttl_start_codex_at_once() {
    let (picked, _) = launch_on_slightly_old_numbers("background");
    assert_eq!(picked, "a", "picked from the cache, without waiting 3 s");
    // Today's behaviour, kept behind the policy key: it waits and sees b.
    let (picked, _) = launch_on_slightly_old_numbers("before-launch");
    assert_eq!(picked, "b", "before-launch waits for the new numbers");
}

#[test]
fn a_hung_usage_server_holds_neither_codex_nor_swops_exit() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "timeout = \"30s\"\n");
    env.swop().args(["pick", "--json"]).ok();
    age_cache(&env, "a", 90);
    age_cache(&env, "b", 90);
    backend.set_usage_fault("acct-b", Fault::Hang);
    let t = Instant::now();
    let out = env.codex().args(["exec", "x"]).ok();
    // Generous bound: a launch or an exit that waited for the refresh
    // would take the 30 s timeout.
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("a"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.lines().count() == 1,
        "no warning: {}",
        out.stderr
    );
}

#[test]
fn numbers_past_the_ttl_are_refreshed_while_codex_runs() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    env.swop().args(["pick", "--json"]).ok();
    age_cache(&env, "a", 90);
    age_cache(&env, "b", 90);
    backend.set_usage("acct-b", usage_json("plus", 5.0, 35.0));
    let before = backend.count(USAGE);
    // codex runs for a second: time for the round.
    let out = env.codex().args(["exec", "x"]).env("FAKE_SLEEP", "1").ok();
    assert_eq!(announced(&out.stderr).as_deref(), Some("a"));
    let asked: Vec<String> = backend.account_ids_for(USAGE)[before..].to_vec();
    assert_eq!(asked, ["acct-b"], "only b: a is the one codex ran on");
    let s = status_json(&env, false);
    let b = account(&s, "b");
    assert_eq!(b["weekly"]["used_percent"], 35.0, "{b}");
    assert_eq!(b["state"], "ok", "refreshed during the run: {b}");
}

#[test]
fn a_launch_waits_when_no_account_has_usable_numbers() {
    // Empty cache: nothing to decide with, so this launch asks first.
    let (env, backend) = world(&[("a", 60.0), ("b", 12.0)], "");
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(announced(&out.stderr).as_deref(), Some("b"));
    assert_eq!(backend.count(USAGE), 2);
    // Numbers older than stale_after do not count either.
    age_cache(&env, "a", 2 * 3600);
    age_cache(&env, "b", 2 * 3600);
    backend.set_usage("acct-a", usage_json("plus", 5.0, 5.0));
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("a"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_429_with_retry_after_is_asked_at_most_once_across_launches() {
    for policy in ["before-launch", "background"] {
        let (env, backend) = world(
            &[("a", 10.0), ("b", 20.0)],
            &format!("cache_ttl = 0\nrefresh = \"{policy}\"\n"),
        );
        backend.set_usage_fault("acct-a", Fault::RetryAfter429(300));
        for _ in 0..4 {
            env.codex().args(["exec", "x"]).ok();
        }
        status_json(&env, false);
        let s = status_json(&env, true); // even --refresh honours it
        let asked_a = backend
            .account_ids_for(USAGE)
            .iter()
            .filter(|id| *id == "acct-a")
            .count();
        let asked_b = backend
            .account_ids_for(USAGE)
            .iter()
            .filter(|id| *id == "acct-b")
            .count();
        assert!(asked_a <= 1, "{policy}: a asked {asked_a} times");
        if policy == "before-launch" {
            assert_eq!(asked_a, 1, "the first launch asks");
        }
        assert!(asked_b >= 2, "{policy}: b is still asked ({asked_b})");
        let a = account(&s, "a");
        if asked_a == 1 {
            assert!(
                a["last_error"].as_str().unwrap().contains("HTTP 429"),
                "{a}"
            );
            assert!(a["next_try"]["unix"].as_i64().is_some(), "{a}");
        }
    }
}

#[test]
fn other_failures_back_off_per_account() {
    let (env, backend) = world(
        &[("a", 10.0), ("b", 20.0)],
        "cache_ttl = 0\nrefresh = \"before-launch\"\n",
    );
    backend.set_usage_fault("acct-a", Fault::Status(500, "{}".into()));
    for _ in 0..3 {
        env.swop().args(["pick", "--json"]).ok();
    }
    let asked_a = backend
        .account_ids_for(USAGE)
        .iter()
        .filter(|id| *id == "acct-a")
        .count();
    assert_eq!(
        asked_a, 1,
        "backing off for a minute after the first failure"
    );
    let s = status_json(&env, false);
    let a = account(&s, "a");
    assert_eq!(a["last_error"], "HTTP 500", "{a}");
    let wait = a["next_try"]["unix"].as_i64().unwrap() - crate::support::now_unix();
    assert!((1..=60).contains(&wait), "{wait}");
    // The table says so too.
    let out = env.swop().arg("status").ok();
    assert!(
        out.stdout
            .contains("a: usage server: HTTP 500; next try in"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_refresh_that_failed_marks_the_numbers_stale_never_fresh() {
    let (env, backend) = world(&[("a", 10.0)], "");
    let s = status_json(&env, false);
    assert_eq!(account(&s, "a")["state"], "ok");
    backend.set_usage_fault("acct-a", Fault::Status(500, "{}".into()));
    let s = status_json(&env, true);
    let a = account(&s, "a");
    assert!(a["state"].as_str().unwrap().contains("stale"), "{a}");
    assert!(a["stale_seconds"].is_number(), "{a}");
    assert_eq!(a["weekly"]["used_percent"], 10.0, "the old numbers stay");
}

#[test]
fn extra_fields_of_the_usage_server_are_shown() {
    let (env, backend) = world(&[("a", 10.0)], "");
    let mut u = usage_json("pro", 5.0, 10.0);
    u["rate_limit_reset_credits"] = serde_json::json!({"available_count": 2});
    u["credits"] = serde_json::json!({"has_credits": true, "unlimited": false, "balance": "7.5"});
    u["additional_rate_limits"] = serde_json::json!([{"limit_name": "gpt-6-pro",
        "rate_limit": {"primary_window": {"used_percent": 40, "limit_window_seconds": 18000}}}]);
    u["rate_limit_reached_type"] = serde_json::json!({"kind": "primary"});
    backend.set_usage("acct-a", u);
    let s = status_json(&env, false);
    let a = account(&s, "a");
    assert_eq!(a["reset_credits"], 2, "{a}");
    assert_eq!(a["credits"]["balance"], "7.5", "{a}");
    assert_eq!(a["additional_limits"][0]["name"], "gpt-6-pro", "{a}");
    assert_eq!(a["limit_reached_type"], "primary", "{a}");
    assert_eq!(a["source"], "usage server", "{a}");
    let out = env.swop().arg("status").ok();
    for want in [
        "a: limit 'gpt-6-pro': 5h 40%, weekly -",
        "a: 2 limit reset credits available",
        "a: credits: 7.5",
    ] {
        assert!(out.stdout.contains(want), "{want}: {}", out.stdout);
    }
}
