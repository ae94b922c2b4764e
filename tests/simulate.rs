//! `swop simulate`, the usage history and the forecast in
//! `swop status`, and the launch's once-a-day pool warning. The clock is
//! fixed with the hidden `SWOP_TEST_NOW`.

use crate::support::world::{config_for, world};
use crate::support::{usage_json, Backend, Identity, TestEnv};
use serde_json::Value;

const HOUR: i64 = 3600;

fn simulate(env: &TestEnv, args: &[&str]) -> Value {
    let out = env.swop().arg("simulate").args(args).arg("--json").ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

fn blocked(v: &Value, strategy: &str) -> f64 {
    v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["strategy"] == strategy)
        .unwrap_or_else(|| panic!("no {strategy} in {v}"))["blocked_hours"]
        .as_f64()
        .unwrap()
}

#[test]
fn simulate_without_accounts_reports_every_strategy_and_a_recommendation() {
    let env = TestEnv::new();
    let v = simulate(&env, &[]);
    assert_eq!(v["source"], "sample");
    assert_eq!(v["workload"], "steady");
    assert_eq!(v["days"], 28);
    let names: Vec<&str> = v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lowest-weekly", "ordered", "drain", "reset-aware"]);
    for s in v["strategies"].as_array().unwrap() {
        for k in [
            "blocked_hours",
            "wasted_percent",
            "switches_per_day",
            "work_done_percent",
        ] {
            assert!(s[k].as_f64().is_some(), "{k} in {s}");
        }
    }
    let rec = v["recommended"].as_str().unwrap();
    assert!(names.contains(&rec), "{v}");
    assert!(blocked(&v, rec) <= blocked(&v, "lowest-weekly"), "{v}");
    // swop simulate never makes swop's home.
    assert!(!env.swop_home.exists());
}

#[test]
fn simulate_is_reproducible_with_a_seed() {
    let env = TestEnv::new();
    let args = ["--workload", "crunch", "--seed", "7"];
    let a = simulate(&env, &args);
    assert_eq!(a, simulate(&env, &args));
    assert_eq!(a["workload"], "crunch");
    assert_ne!(
        a["strategies"],
        simulate(&env, &["--workload", "crunch", "--seed", "8"])["strategies"]
    );
    let rec = a["recommended"].as_str().unwrap();
    assert!(blocked(&a, rec) <= blocked(&a, "lowest-weekly"), "{a}");
}

#[test]
fn simulate_table_and_bad_flags() {
    let env = TestEnv::new();
    let out = env
        .swop()
        .args([
            "simulate",
            "--accounts",
            "plus:60@1d,pro:20@6d",
            "--days",
            "7",
        ])
        .ok();
    assert!(out.stdout.contains("STRATEGY"), "{}", out.stdout);
    assert!(out.stdout.contains("recommended: "), "{}", out.stdout);
    assert!(
        out.stdout.contains("a2 (pro, weekly 20%, resets in 6d)"),
        "{}",
        out.stdout
    );
    let bad = env.swop().args(["simulate", "--workload", "nope"]).fails();
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("steady, weekday-bursts, crunch"),
        "{}",
        bad.stderr
    );
    let bad = env
        .swop()
        .args(["simulate", "--json", "--accounts", "plus:300"])
        .fails();
    assert_eq!(bad.code, Some(2));
    assert!(bad.stdout.contains("\"error\""), "{}", bad.stdout);
}

#[test]
fn simulate_uses_your_accounts_last_numbers() {
    let (env, _backend) = world(&[("a", 60.0), ("b", 10.0)], "");
    env.swop().args(["status"]).ok(); // fills the cache
    let v = simulate(&env, &["--days", "3"]);
    assert_eq!(v["source"], "your accounts");
    let used: Vec<f64> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["weekly_used_percent"].as_f64().unwrap())
        .collect();
    assert_eq!(used, [60.0, 10.0]);
}

/// Weekly `used`% at `at`, resetting at `reset`.
fn usage_at(used: f64, reset: i64) -> Value {
    let mut u = usage_json("plus", 5.0, used);
    u["rate_limit"]["secondary_window"]["reset_at"] = reset.into();
    u["rate_limit"]["secondary_window"]["reset_after_seconds"] = Value::Null;
    u
}

fn status_at(env: &TestEnv, now: i64) -> Value {
    let out = env
        .swop()
        .args(["status", "--json"])
        .env("SWOP_TEST_NOW", now.to_string())
        .ok();
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn status_forecasts_after_two_snapshots_with_a_fixed_clock() {
    let t0 = crate::support::now_unix();
    let reset = t0 + 72 * HOUR;
    let (env, backend) = world(&[("a", 20.0)], "");
    backend.set_usage("acct-a", usage_at(20.0, reset));
    let first = status_at(&env, t0);
    assert_eq!(
        first["forecast"]["accounts"],
        Value::Array(vec![]),
        "{first}"
    );
    assert_eq!(first["forecast"]["pool"], Value::Null);
    // Two hours later (the cache is stale by then): 30%, so 5%/h; 70% left
    // lasts 14 hours, ending before the reset three days out.
    backend.set_usage("acct-a", usage_at(30.0, reset));
    let v = status_at(&env, t0 + 2 * HOUR);
    let f = &v["forecast"]["accounts"][0];
    assert_eq!(f["name"], "a");
    assert_eq!(f["weekly_percent_per_hour"], 5.0);
    assert_eq!(f["runs_out_at"]["unix"], t0 + 16 * HOUR);
    assert_eq!(f["weekly_reset_at"]["unix"], reset);
    assert_eq!(f["runs_out_before_reset"], true);
    let pool = &v["forecast"]["pool"];
    assert_eq!(pool["runs_out_at"]["unix"], t0 + 16 * HOUR);
    assert_eq!(pool["runs_out_before_reset"], true);
    let table = env
        .swop()
        .arg("status")
        .env("SWOP_TEST_NOW", (t0 + 2 * HOUR).to_string())
        .ok()
        .stdout;
    assert!(table.contains("forecast (at this week's pace):"), "{table}");
    assert!(table.contains("5.0%/h, runs out"), "{table}");
    assert!(
        table.contains("at this week's pace: all accounts blocked"),
        "{table}"
    );
    assert!(table.contains("first reset"), "{table}");
}

#[test]
fn a_launch_warns_once_a_day_when_the_pool_runs_dry_before_a_reset() {
    let t0 = crate::support::now_unix();
    let reset = t0 + 72 * HOUR;
    // An access token valid past the test's last clock (t0 + 27h): an
    // expired one would send the fetch to the fake app-server instead.
    let env = TestEnv::new();
    let backend = Backend::start();
    let auth = env.write_auth_fixture_exp("auth-a", &Identity::named("a"), t0 + 10 * 24 * HOUR);
    env.swop()
        .args(["add", "a"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    config_for(&env, &backend, "");
    backend.set_usage("acct-a", usage_at(20.0, reset));
    status_at(&env, t0);
    backend.set_usage("acct-a", usage_at(30.0, reset));
    let launch = |now: i64| {
        env.codex()
            .args(["exec", "hi"])
            .env("SWOP_TEST_NOW", now.to_string())
            .ok()
            .stderr
    };
    let warned = |s: &str| s.contains("at this week's pace: all accounts blocked");
    let first = launch(t0 + 2 * HOUR);
    assert!(warned(&first), "{first}");
    assert_eq!(first.matches("at this week's pace").count(), 1, "{first}");
    // Later the same day: quiet. A day later: said again.
    assert!(!warned(&launch(t0 + 3 * HOUR)));
    // 80% a day later: 60 points in 27 hours, out in 9 more, well before
    // the reset 72 hours after the start.
    backend.set_usage("acct-a", usage_at(80.0, reset));
    let next_day = launch(t0 + 27 * HOUR);
    assert!(warned(&next_day), "{next_day}");
}

#[test]
fn no_warning_when_the_pool_lasts_past_the_reset() {
    let t0 = crate::support::now_unix();
    let reset = t0 + 10 * HOUR;
    let (env, backend) = world(&[("a", 20.0)], "");
    backend.set_usage("acct-a", usage_at(20.0, reset));
    status_at(&env, t0);
    backend.set_usage("acct-a", usage_at(22.0, reset));
    let out = env
        .codex()
        .args(["exec", "hi"])
        .env("SWOP_TEST_NOW", (t0 + 2 * HOUR).to_string())
        .ok();
    assert!(
        !out.stderr.contains("at this week's pace"),
        "{}",
        out.stderr
    );
    let v = status_at(&env, t0 + 2 * HOUR);
    assert_eq!(v["forecast"]["pool"]["runs_out_before_reset"], false, "{v}");
}
