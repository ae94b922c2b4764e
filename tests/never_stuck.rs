//! When every account is blocked: `swop redeem` (a limit-reset credit,
//! guarded and idempotent), the launch's offer (`[failover] redeem =
//! "ask"`), `swop wait`, and a reserve account. The fake codex's app-server
//! answers the consume call here; tests/real_codex/redeem.rs shows the same
//! with the real codex against the loopback backend.

use crate::support::world::{config_for, on_a_terminal, world};
use crate::support::{api_key, flip_exhausted, now_unix, usage_json, Backend, Fault, TestEnv};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USAGE: &str = "/backend-api/wham/usage";

/// A usage body at its weekly limit, both windows resetting at `reset_at`,
/// with `credits` limit-reset credits.
pub fn limited(reset_at: i64, credits: i64) -> Value {
    let mut u = usage_json("plus", 40.0, 100.0);
    flip_exhausted(&mut u);
    u["rate_limit"]["primary_window"]["reset_at"] = json!(reset_at.min(now_unix() + 18000));
    u["rate_limit"]["secondary_window"]["reset_at"] = json!(reset_at);
    u["rate_limit_reset_credits"] = json!({"available_count": credits});
    u
}

/// Accounts `a` (blocked a long time, with `credits`) and `b` (blocked
/// until sooner, no credit), served by the backend.
fn all_blocked(credits: i64, extra: &str) -> (TestEnv, Backend) {
    let (env, backend) = world(&[("a", 10.0), ("b", 10.0)], extra);
    backend.set_usage("acct-a", limited(now_unix() + 3 * 86400, credits));
    backend.set_usage("acct-b", limited(now_unix() + 86400, 0));
    (env, backend)
}

fn is_uuid(k: &str) -> bool {
    k.len() == 36
        && k.matches('-').count() == 4
        && k.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[test]
fn redeem_yes_spends_one_credit_with_that_accounts_login_and_the_next_pick_uses_it() {
    let (env, backend) = all_blocked(2, "");
    let out = env.swop().args(["redeem", "a", "--yes"]).ok();
    let calls = env.consume_calls();
    assert_eq!(calls.len(), 1, "exactly one consume: {calls:?}");
    assert_eq!(calls[0].0, env.account_home("a").display().to_string());
    assert!(is_uuid(&calls[0].1), "{calls:?}");
    assert!(
        out.stdout
            .starts_with("reset the limit of 'a' with one limit-reset credit"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("'a' has 2 limit-reset credits"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("resets its weekly limit (100% used"),
        "{}",
        out.stderr
    );
    // The numbers were read from the server just before.
    assert!(backend
        .account_ids_for(USAGE)
        .contains(&"acct-a".to_string()));
    // The cache holds the numbers codex read after the reset: the next
    // pick uses 'a' without asking anyone.
    let before = backend.count(USAGE);
    let pick = env.swop().args(["pick"]).ok();
    assert!(pick.stdout.starts_with("a: "), "{}", pick.stdout);
    assert_eq!(backend.count(USAGE), before, "no request for the pick");
    // The attempt was answered: its key is gone.
    assert!(!env.swop_home.join("redeem/a.json").exists());
}

#[test]
fn redeem_reads_the_server_never_the_cache_and_sends_nothing_without_a_credit() {
    let (env, backend) = all_blocked(2, "cache_ttl = \"1h\"\n");
    env.swop().args(["status"]).ok(); // the cache says: 2 credits
    backend.set_usage("acct-a", limited(now_unix() + 3 * 86400, 0));
    let out = env.swop().args(["redeem", "a", "--yes", "--json"]).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "no_credit", "{v}");
    assert_eq!(v["requested"], false);
    assert_eq!(v["credits_before"], 0);
    assert!(env.consume_calls().is_empty(), "nothing sent");
}

#[test]
fn redeem_without_yes_off_a_terminal_sends_nothing() {
    let (env, _backend) = all_blocked(2, "");
    let out = env.swop().args(["redeem", "a"]).code(9);
    assert!(env.consume_calls().is_empty());
    assert!(
        out.stderr.contains("no terminal to ask on"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("swop redeem a --yes"), "{}", out.stderr);
    // --json: the error document, with the code.
    let out = env.swop().args(["redeem", "a", "--json"]).code(9);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["exit_code"], 9);
    assert!(env.consume_calls().is_empty());
}

#[test]
fn redeem_asks_on_a_terminal_and_a_plain_enter_is_no() {
    let (env, _backend) = all_blocked(2, "");
    let (code, screen) = on_a_terminal(
        env.swop().args(["redeem", "a"]),
        b"\n",
        Duration::from_secs(30),
    );
    assert!(
        screen.contains("Spend one limit-reset credit of 'a' now? [y/N]"),
        "{screen}"
    );
    assert_eq!(code, Some(9), "{screen}");
    assert!(env.consume_calls().is_empty());
    let (code, screen) = on_a_terminal(
        env.swop().args(["redeem", "a"]),
        b"y\n",
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "{screen}");
    assert_eq!(env.consume_calls().len(), 1);
}

#[test]
fn no_credit_and_nothing_to_reset_are_reported_without_error() {
    let (env, _backend) = all_blocked(2, "");
    let out = env
        .swop()
        .args(["redeem", "a", "--yes"])
        .env("FAKE_CONSUME_OUTCOME", "noCredit")
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "'a' has no limit-reset credit left; nothing was spent"
    );
    let out = env
        .swop()
        .args(["redeem", "a", "--yes", "--json"])
        .env("FAKE_CONSUME_OUTCOME", "nothingToReset")
        .ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "nothing_to_reset", "{v}");
    assert_eq!(v["requested"], true);
    assert_eq!(env.consume_calls().len(), 2);
    // An answer settles the attempt: the next one has its own key.
    let calls = env.consume_calls();
    assert_ne!(calls[0].1, calls[1].1);
}

#[test]
fn the_plan_warns_when_another_account_could_run() {
    let (env, backend) = all_blocked(2, "");
    backend.set_usage("acct-b", usage_json("plus", 5.0, 20.0));
    let out = env.swop().args(["redeem", "a", "--yes"]).ok();
    let joined = out.stderr.replace("\n  ", " ");
    assert!(
        joined.contains("'b' is usable right now (weekly 20%): spending a credit now is almost certainly a waste"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_retried_attempt_reuses_its_idempotency_key() {
    let (env, _backend) = all_blocked(2, "");
    // The first try gets no answer; the retry in the same run is the same
    // request.
    env.swop()
        .args(["redeem", "a", "--yes"])
        .env("FAKE_CONSUME_FAILS", "1")
        .ok();
    let calls = env.consume_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].1, calls[1].1, "one key per attempt");
    // Three tries without an answer: the run fails, the key is kept, and
    // the next `swop redeem a` repeats the same request.
    let out = env
        .swop()
        .args(["redeem", "a", "--yes"])
        .env("FAKE_CONSUME_FAILS", "5")
        .code(1);
    assert!(
        out.stderr.contains("may or may not have been spent"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("can never spend a second credit"),
        "{}",
        out.stderr
    );
    let calls = env.consume_calls();
    assert_eq!(calls.len(), 5);
    let key = &calls[2].1;
    assert_ne!(key, &calls[0].1, "a new attempt after an answered one");
    assert!(calls[2..].iter().all(|(_, k)| k == key), "{calls:?}");
    let out = env.swop().args(["redeem", "a", "--yes"]).ok();
    let calls = env.consume_calls();
    assert_eq!(&calls[5].1, key, "the unanswered attempt is repeated");
    assert!(
        out.stdout.contains("repeated an earlier request"),
        "{}",
        out.stdout
    );
}

#[test]
fn redeem_refuses_an_api_key_login_and_an_unknown_account() {
    let env = TestEnv::new();
    let backend = Backend::start();
    config_for(&env, &backend, "");
    env.swop()
        .args(["add", "key", "--", "--with-api-key"])
        .stdin(api_key())
        .ok();
    let out = env.swop().args(["redeem", "key", "--yes"]).code(2);
    assert!(out.stderr.contains("API-key login"), "{}", out.stderr);
    env.swop().args(["redeem", "nope", "--yes"]).code(4);
    assert!(env.consume_calls().is_empty());
}

#[test]
fn launch_offer_with_redeem_ask_spends_only_after_y_and_runs_on_that_account() {
    for (answer, want) in [(&b"n\n"[..], Some(5)), (b"\n", Some(5)), (b"y\n", Some(0))] {
        let (env, _backend) = all_blocked(1, "[failover]\nredeem = \"ask\"\n");
        let (code, screen) = on_a_terminal(
            env.codex().args(["exec", "task"]),
            answer,
            Duration::from_secs(60),
        );
        assert!(
            screen.contains("Spend one limit-reset credit of 'a' and run codex on it now? [y/N]"),
            "{screen}"
        );
        assert_eq!(code, want, "{screen}");
        let consumed = env.consume_calls();
        let runs: Vec<_> = env
            .fake_log()
            .into_iter()
            .filter(|c| c.subcommand() == Some("exec"))
            .collect();
        if want == Some(0) {
            assert_eq!(consumed.len(), 1, "{consumed:?}");
            assert_eq!(consumed[0].0, env.account_home("a").display().to_string());
            assert_eq!(runs.len(), 1, "{screen}");
            assert_eq!(
                runs[0].codex_home.as_deref(),
                Some(env.account_home("a").display().to_string().as_str())
            );
            assert!(screen.contains("swop: codex on 'a'"), "{screen}");
        } else {
            assert!(consumed.is_empty(), "no yes, nothing spent: {screen}");
            assert!(runs.is_empty());
            assert!(screen.contains("swop redeem a"), "{screen}");
        }
    }
}

#[test]
fn without_redeem_ask_a_launch_names_the_ways_out_and_offers_nothing() {
    let (env, _backend) = all_blocked(1, "");
    let (code, screen) = on_a_terminal(
        env.codex().args(["exec", "task"]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(5), "{screen}");
    assert!(!screen.contains("[y/N]"), "{screen}");
    let joined = screen.replace("\r\n", "\n").replace("\n  ", " ");
    assert!(joined.contains("swop wait && codex ..."), "{screen}");
    assert!(
        joined.contains("reset a limit now with one of its 1 limit-reset credit: swop redeem a"),
        "{screen}"
    );
    assert!(joined.contains("[selection] reserve"), "{screen}");
    assert!(env.consume_calls().is_empty());
    // swop pick says the same, exit 5, and --json carries the credits.
    let out = env.swop().args(["pick", "--json"]).code(5);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let a = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "a")
        .unwrap();
    assert_eq!(a["reset_credits"], 1, "{v}");
    assert!(v["help"].as_str().unwrap().contains("swop redeem a"), "{v}");
}

#[test]
fn wait_returns_once_the_backend_says_an_account_is_usable_at_its_reset() {
    let (env, backend) = world(&[("a", 10.0)], "");
    let reset = now_unix() + 3;
    backend.set_usage("acct-a", limited(reset, 0));
    backend.set_usage_from("acct-a", reset, usage_json("plus", 0.0, 0.0));
    let out = env
        .swop()
        .args(["wait", "--timeout", "60s"])
        .timeout(Duration::from_secs(90))
        .ok();
    assert!(out.stderr.contains("'a' is usable now"), "{}", out.stderr);
    assert!(
        !out.stderr.contains('\r'),
        "no countdown when piped: {:?}",
        out.stderr
    );
    assert!(backend.count(USAGE) >= 2, "asked again at the reset");
    // And the launch that follows runs at once on the fresh numbers.
    let before = backend.count(USAGE);
    env.codex().args(["exec", "x"]).ok();
    assert_eq!(backend.count(USAGE), before);
}

/// The usage server answers the ask at the reset with 429 and a
/// Retry-After longer than swop's own schedule for a reset that passed
/// without bringing the account back (30 s): swop asks nothing until the
/// Retry-After has run out, then returns as soon as the answer is usable.
#[test]
fn wait_asks_nothing_while_the_servers_retry_after_runs() {
    const RETRY_AFTER: u64 = 35;
    let (env, backend) = world(&[("a", 10.0)], "");
    backend.set_usage("acct-a", limited(now_unix() + 2, 0));
    let waiting = env
        .swop()
        .args(["wait", "--timeout", "120s"])
        .timeout(Duration::from_secs(180))
        .spawn();
    assert!(backend.wait_for(USAGE, 1, Duration::from_secs(30)));
    backend.set_usage_fault("acct-a", Fault::RetryAfter429(RETRY_AFTER));
    assert!(
        backend.wait_for(USAGE, 2, Duration::from_secs(60)),
        "asked at the reset"
    );
    let refused = Instant::now();
    backend.clear_usage_fault("acct-a");
    backend.set_usage("acct-a", usage_json("plus", 0.0, 0.0));
    assert!(
        backend.wait_for(USAGE, 3, Duration::from_secs(120)),
        "asked again once the Retry-After ran out"
    );
    let gap = refused.elapsed();
    // Retry-After counts whole seconds: 34 s at least after the refusal
    // (33 s allowing for this test's polling). swop's own schedule alone
    // would ask after 30 s.
    assert!(
        gap >= Duration::from_secs(RETRY_AFTER - 2),
        "asked again {gap:?} after a 429 with Retry-After: {RETRY_AFTER}"
    );
    let out = waiting.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("'a' is usable now"), "{}", out.stderr);
    assert_eq!(backend.count(USAGE), 3, "nothing asked in between");
}

#[test]
fn wait_gives_up_at_the_timeout_with_exit_5_and_can_notify() {
    let (env, backend) = world(&[("a", 10.0)], "");
    backend.set_usage("acct-a", limited(now_unix() + 2 * 86400, 1));
    let notified = env.root.join("notified");
    let notifier = env.bin.join("notify-send");
    std::fs::write(
        &notifier,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\n",
            notified.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &notifier,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = env
        .swop()
        .args(["wait", "--timeout", "2s", "--notify"])
        .code(5);
    assert!(
        out.stderr.contains("gave up waiting after 2s (--timeout)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("swop redeem a"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&notified).unwrap(),
        "swop|still blocked after 2s|"
    );
    // On a terminal: one countdown line, redrawn in place.
    let (code, screen) = on_a_terminal(
        env.swop().args(["wait", "--timeout", "2s"]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(5), "{screen}");
    assert!(
        screen.contains("\r\x1b[2Kswop: waiting: 'a' is usable again in 1d 23h"),
        "{screen:?}"
    );
}

#[test]
fn wait_for_named_accounts_only() {
    let (env, backend) = world(&[("a", 10.0), ("b", 10.0)], "");
    backend.set_usage("acct-a", limited(now_unix() + 86400, 0));
    // 'b' is usable, but only 'a' is waited for.
    env.swop().args(["wait", "--timeout", "1", "a"]).code(5);
    let out = env.swop().args(["wait", "b"]).ok();
    assert!(out.stderr.contains("'b' is usable now"), "{}", out.stderr);
    env.swop().args(["wait", "nope"]).code(4);
}

/// A ChatGPT account `a` (weekly 50%), and in reserve a ChatGPT account
/// `pro` (weekly 1%: it would win on numbers) and an API-key login `key`.
fn with_reserve() -> (TestEnv, Backend) {
    let (env, backend) = crate::support::world::World::new(&[("a", 50.0), ("pro", 1.0)])
        .without_config()
        .build();
    backend.set_usage("acct-pro", usage_json("pro", 1.0, 1.0));
    env.swop()
        .args(["add", "key", "--", "--with-api-key"])
        .stdin(api_key())
        .ok();
    config_for(
        &env,
        &backend,
        "[selection]\nreserve = [\"key\", \"pro\"]\n",
    );
    (env, backend)
}

fn ran_on(env: &TestEnv) -> Option<String> {
    env.fake_log()
        .into_iter()
        .rfind(|c| c.subcommand() == Some("exec"))
        .and_then(|c| c.codex_home)
}

#[test]
fn a_reserve_is_never_picked_while_another_account_is_eligible() {
    let (env, _backend) = with_reserve();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        crate::support::world::announced(&out.stderr).as_deref(),
        Some("a")
    );
    assert_eq!(
        ran_on(&env),
        Some(env.account_home("a").display().to_string())
    );
    let out = env.swop().args(["status"]).ok();
    for name in ["key", "pro"] {
        let row = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap();
        assert!(row.contains("reserve"), "{row}");
        assert!(row.contains("when all others are blocked"), "{row}");
    }
    let key = out.stdout.lines().find(|l| l.contains(" key ")).unwrap();
    assert!(key.contains("api-key"), "{key}");
    let pick = env.swop().args(["pick"]).ok();
    assert!(pick.stdout.starts_with("a: "), "{}", pick.stdout);
    assert!(
        pick.stdout
            .contains("pro  reserve (used only when every other account is blocked)"),
        "{}",
        pick.stdout
    );
    let v: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    let key = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "key")
        .unwrap();
    assert_eq!(key["reserve"], true);
    assert_eq!(key["state"], "reserve");
    assert_eq!(
        key["weekly"],
        Value::Null,
        "no usage numbers for an API key"
    );
}

#[test]
fn a_reserve_is_picked_when_every_other_account_is_blocked() {
    let (env, backend) = with_reserve();
    backend.set_usage("acct-a", limited(now_unix() + 86400, 0));
    // The reserve with numbers first, as among regular accounts.
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        crate::support::world::announced(&out.stderr).as_deref(),
        Some("pro")
    );
    assert_eq!(
        ran_on(&env),
        Some(env.account_home("pro").display().to_string())
    );
    // Then the API-key login (the cached numbers of 'pro' aged out).
    backend.set_usage("acct-pro", limited(now_unix() + 86400, 0));
    crate::support::world::age_cache(&env, "pro", 86400);
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        crate::support::world::announced(&out.stderr).as_deref(),
        Some("key")
    );
    assert_eq!(
        ran_on(&env),
        Some(env.account_home("key").display().to_string())
    );
    // A launch that finds the reserve is not "all blocked": wait returns.
    let out = env.swop().args(["wait", "--timeout", "1"]).ok();
    assert!(out.stderr.contains("'key' is usable now"), "{}", out.stderr);
}
