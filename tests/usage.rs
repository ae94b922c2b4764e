//! Usage fetch, cache, selection, `swop pick` and `swop status`,
//! against the loopback backend.

use crate::support::world::add_named;
use crate::support::{usage_json, Fault, TestEnv};
use serde_json::Value;
use std::time::{Duration, Instant};

const USAGE: &str = "/backend-api/wham/usage";

use crate::support::world::world as setup;

fn pick_json(env: &TestEnv) -> Value {
    serde_json::from_str(&env.swop().args(["pick", "--json"]).ok().stdout).unwrap()
}

fn limited(u: &mut Value) {
    u["rate_limit"]["limit_reached"] = Value::Bool(true);
}

#[test]
fn lowest_weekly_wins_and_each_account_is_asked_with_its_own_token() {
    let (env, backend) = setup(&[("a", 60.0), ("b", 12.0), ("c", 30.0)], "");
    let p = pick_json(&env);
    assert_eq!(p["account"], "b");
    assert!(
        p["reason"]
            .as_str()
            .unwrap()
            .contains("lowest weekly usage (12%)"),
        "{p}"
    );
    assert_eq!(p["passed_over"].as_array().unwrap().len(), 2);
    assert_eq!(backend.count(USAGE), 3);
    let mut ids = backend.account_ids_for(USAGE);
    ids.sort();
    assert_eq!(ids, ["acct-a", "acct-b", "acct-c"]);
    for r in backend.requests().iter().filter(|r| r.path == USAGE) {
        let token = r.bearer().unwrap();
        let claims = crate::support::decode_jwt(token).unwrap();
        let acct = &claims["https://api.openai.com/auth"]["chatgpt_account_id"];
        assert_eq!(
            acct.as_str(),
            r.account_id.as_deref(),
            "token and account header must match"
        );
        assert!(r.user_agent.as_deref().unwrap_or("").starts_with("swop/"));
    }
}

#[test]
fn limit_reached_and_not_allowed_accounts_are_skipped() {
    let (env, backend) = setup(&[("a", 1.0), ("b", 2.0), ("c", 50.0)], "");
    let mut ua = usage_json("plus", 5.0, 1.0);
    limited(&mut ua);
    backend.set_usage("acct-a", ua);
    let mut ub = usage_json("plus", 5.0, 2.0);
    ub["rate_limit"]["allowed"] = Value::Bool(false);
    backend.set_usage("acct-b", ub);
    let p = pick_json(&env);
    assert_eq!(p["account"], "c");
    let passed = p["passed_over"].to_string();
    assert!(
        passed.contains("limit reached") && passed.contains("not allowed"),
        "{passed}"
    );
}

#[test]
fn policy_keys_change_the_pick() {
    let cases: &[(&str, &str)] = &[
        ("", "b"),
        ("[selection]\nmax_weekly_percent = 10\n", "b"),
        ("[selection]\nexclude = [\"b\"]\n", "c"),
        (
            "[selection]\nstrategy = \"ordered\"\norder = [\"a\", \"c\"]\n",
            "a",
        ),
        ("[selection]\nmax_5h_percent = 4\n", "BLOCKED"),
    ];
    for (extra, want) in cases {
        let (env, _backend) = setup(&[("a", 60.0), ("b", 5.0), ("c", 30.0)], extra);
        if *want == "BLOCKED" {
            env.swop().arg("pick").code(5);
        } else {
            assert_eq!(pick_json(&env)["account"], *want, "config: {extra}");
        }
    }
}

#[test]
fn drain_picks_the_soonest_weekly_reset() {
    let (env, backend) = setup(
        &[("a", 60.0), ("b", 5.0)],
        "[selection]\nstrategy = \"drain\"\n",
    );
    let mut ua = usage_json("plus", 5.0, 60.0);
    ua["rate_limit"]["secondary_window"]["reset_at"] =
        Value::from(crate::support::now_unix() + 3600);
    backend.set_usage("acct-a", ua);
    let p = pick_json(&env);
    assert_eq!(p["account"], "a");
    assert!(p["reason"].as_str().unwrap().starts_with("drain"), "{p}");
}

#[test]
fn directory_rule_and_swop_account() {
    let (env, _backend) = setup(
        &[("a", 60.0), ("b", 5.0)],
        "[[selection.rule]]\ndir = \"~/projects/corp\"\naccount = \"a\"\n",
    );
    let corp = env.home.join("projects/corp/repo");
    std::fs::create_dir_all(&corp).unwrap();
    let p: Value = serde_json::from_str(
        &env.swop()
            .args(["pick", "--json"])
            .current_dir(&corp)
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(p["account"], "a");
    assert!(
        p["reason"].as_str().unwrap().contains("directory rule"),
        "{p}"
    );
    assert_eq!(pick_json(&env)["account"], "b");
    let p: Value = serde_json::from_str(
        &env.swop()
            .args(["pick", "--json"])
            .env("SWOP_ACCOUNT", "a")
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(p["account"], "a");
    assert_eq!(p["reason"], "SWOP_ACCOUNT");
    let out = env.swop().arg("pick").env("SWOP_ACCOUNT", "nobody").code(4);
    assert!(
        out.stderr.contains("no account named 'nobody'"),
        "{}",
        out.stderr
    );
}

#[test]
fn all_blocked_names_the_earliest_reset_in_human_form() {
    let (env, backend) = setup(&[("work", 1.0), ("home", 1.0)], "");
    let now = crate::support::now_unix();
    for (n, reset) in [
        ("work", now + 2 * 86400 + 3 * 3600 + 30),
        ("home", now + 4 * 86400),
    ] {
        let mut u = usage_json("plus", 5.0, 100.0);
        limited(&mut u);
        u["rate_limit"]["secondary_window"]["reset_at"] = Value::from(reset);
        backend.set_usage(&format!("acct-{n}"), u);
    }
    let out = env.swop().arg("pick").code(5);
    assert!(
        out.stderr
            .contains("all accounts blocked; earliest: work at "),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(in 2d 3h)"), "{}", out.stderr);
    assert!(
        !out.stderr.contains(&(now + 2 * 86400).to_string()[..6]),
        "raw epoch in: {}",
        out.stderr
    );
    // The JSON error document stays valid JSON.
    let out = env.swop().args(["pick", "--json"]).code(5);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["account"], Value::Null);
    assert_eq!(v["earliest"]["name"], "work");
    // The shim gives the same message and never starts codex.
    let out = env.codex().args(["exec", "x"]).code(5);
    assert!(
        out.stderr.contains("all accounts blocked"),
        "{}",
        out.stderr
    );
    assert!(env
        .fake_log()
        .iter()
        .all(|c| c.subcommand() == Some("login")));
}

#[test]
fn cache_is_reused_within_ttl_and_refetched_after() {
    let (env, backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = \"1h\"\n");
    pick_json(&env);
    assert_eq!(backend.count(USAGE), 2);
    pick_json(&env);
    env.swop().arg("status").ok();
    assert_eq!(
        backend.count(USAGE),
        2,
        "a fresh cache must mean no network at all"
    );
    env.swop().args(["status", "--refresh"]).ok();
    assert_eq!(backend.count(USAGE), 4);
}

#[test]
fn failing_usage_falls_back_to_stale_cache_with_a_warning() {
    let (env, backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
    assert_eq!(pick_json(&env)["account"], "a");
    backend.set_usage_fault("acct-a", Fault::Status(500, "{\"detail\":\"boom\"}".into()));
    let out = env.swop().args(["pick", "--json"]).ok();
    assert!(
        out.stderr
            .contains("usage for 'a' unavailable: HTTP 500; using numbers from"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("boom"), "body dumped: {}", out.stderr);
    let p: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(p["account"], "a");
    assert!(
        p["reason"].as_str().unwrap().contains("numbers from"),
        "{p}"
    );
    let status = env.swop().arg("status").ok();
    assert!(status.stdout.contains("stale"), "{}", status.stdout);
}

#[test]
fn usage_faults_warn_and_fall_back_within_the_timeout() {
    let faults = [
        (Fault::Status(500, "{}".into()), "HTTP 500"),
        (Fault::Html502, "HTTP 502"),
        (Fault::NotJson, "not JSON"),
        (Fault::WrongShape, "shape"),
        (Fault::Empty, "empty response"),
        (Fault::Hang, "no answer within 1s"),
        (Fault::SlowBytes, "no answer within 1s"),
        (Fault::RetryAfter429(30), "HTTP 429, retry after 30s"),
        (
            Fault::Redirect("http://127.0.0.1:1/elsewhere".into()),
            "redirect (not followed",
        ),
    ];
    for (fault, cause) in faults {
        let (env, backend) = setup(&[("a", 10.0), ("b", 20.0)], "timeout = \"1s\"\n");
        backend.set_usage_fault("acct-a", fault.clone());
        let t = Instant::now();
        let out = env.swop().args(["pick", "--json"]).ok();
        let took = t.elapsed();
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains("usage for 'a' unavailable"))
            .unwrap_or_else(|| panic!("{fault:?}: {}", out.stderr));
        assert!(line.contains(cause), "{fault:?}: {line}");
        assert_eq!(
            out.stderr.lines().count(),
            1,
            "{fault:?}: one line only: {}",
            out.stderr
        );
        // Fallback: the account with data is picked.
        let p: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(p["account"], "b", "{fault:?}");
        // Generous bound: proves the hung/slow server did not hold swop.
        assert!(took < Duration::from_secs(10), "{fault:?} took {took:?}");
    }
}

#[test]
fn refused_connection_and_no_data_anywhere_still_picks_and_says_so() {
    let env = TestEnv::new();
    add_named(&env, &["a", "b"]);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    crate::support::world::write_config(
        &env,
        &format!("[usage]\nbase_url = \"http://127.0.0.1:{port}/backend-api\"\ntimeout = \"1s\"\n"),
    );
    let out = env.swop().args(["pick", "--json"]).ok();
    assert!(
        out.stderr
            .contains("usage unavailable for 2 accounts ('a', 'b': connection refused)"),
        "{}",
        out.stderr
    );
    let p: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(p["without_quota_data"], true);
    assert!(
        p["reason"].as_str().unwrap().contains("without quota data"),
        "{p}"
    );
}

#[test]
fn unauthorized_goes_through_codex_app_server_and_never_writes_auth_json() {
    let (env, backend) = setup(
        &[("a", 10.0), ("b", 20.0)],
        "timeout = \"1s\"\ncache_ttl = 0\n",
    );
    backend.set_usage_fault("acct-a", Fault::Status(401, "{}".into()));
    let before = std::fs::read(env.account_home("a").join("auth.json")).unwrap();
    // The (fake) app-server answers weekly 30%: b (20%) wins.
    let p = pick_json(&env);
    assert_eq!(p["account"], "b", "{p}");
    let app = env
        .fake_log()
        .into_iter()
        .find(|c| c.subcommand() == Some("app-server"))
        .unwrap();
    assert_eq!(
        app.codex_home.as_deref(),
        Some(env.account_home("a").to_str().unwrap())
    );
    // An app-server that never answers is a warning within the timeout.
    let out = env
        .swop()
        .args(["pick", "--json"])
        .env("FAKE_APP_SERVER", "hang")
        .ok();
    assert!(
        out.stderr
            .contains("rejected the token (HTTP 401), and codex app-server gave no answer in time"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read(env.account_home("a").join("auth.json")).unwrap(),
        before,
        "swop never writes auth.json"
    );
}

#[test]
fn accounts_are_fetched_in_parallel() {
    let names: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
    let refs: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 10.0)).collect();
    let (env, backend) = setup(&refs, "");
    backend.set_usage_delay(Duration::from_millis(300));
    let t = Instant::now();
    pick_json(&env);
    let took = t.elapsed();
    assert_eq!(backend.count(USAGE), 8);
    assert_eq!(
        backend.max_in_flight(),
        8,
        "all 8 requests must be open at once"
    );
    eprintln!("8 accounts x 300 ms: {took:?}");
}

/// A cold pick over many accounts asks at most 16 at once (a
/// thread and a connection each), and still asks them all.
#[test]
fn a_large_pool_is_asked_at_most_sixteen_at_a_time() {
    let names: Vec<String> = (0..40).map(|i| format!("n{i:02}")).collect();
    let refs: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 10.0)).collect();
    let (env, backend) = setup(&refs, "");
    backend.set_usage_delay(Duration::from_millis(100));
    let out = env.swop().args(["pick", "--json"]).ok();
    assert_eq!(backend.count(USAGE), 40, "{}", out.stderr);
    assert_eq!(backend.max_in_flight(), 16, "16 at once, never more");
    assert!(!out.stderr.contains("unavailable"), "{}", out.stderr);
}

#[test]
fn corrupt_cache_is_ignored_with_a_warning_and_rebuilt() {
    let (env, backend) = setup(&[("a", 10.0)], "cache_ttl = \"1h\"\n");
    pick_json(&env);
    let file = env.swop_home.join("cache/a.json");
    std::fs::write(&file, "{\"fetched_at\": 12, \"usage\": {tru").unwrap();
    let out = env.swop().args(["pick", "--json"]).ok();
    assert!(
        out.stderr.contains("cache file was corrupt"),
        "{}",
        out.stderr
    );
    assert_eq!(backend.count(USAGE), 2);
    let v: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["usage"].is_object());
}

#[test]
fn sixteen_concurrent_writers_leave_a_valid_cache() {
    let (env, backend) = setup(&[("a", 10.0), ("b", 20.0), ("c", 30.0)], "cache_ttl = 0\n");
    backend.set_usage_delay(Duration::from_millis(50));
    let running: Vec<_> = (0..16)
        .map(|_| env.swop().args(["pick", "--json"]).spawn())
        .collect();
    for r in running {
        let out = r.wait_output(Duration::from_secs(60));
        assert!(out.success(), "{}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout).unwrap();
    }
    for n in ["a", "b", "c"] {
        let v: Value = serde_json::from_slice(
            &std::fs::read(env.swop_home.join(format!("cache/{n}.json"))).unwrap(),
        )
        .unwrap();
        assert!(v["usage"]["weekly"]["used_percent"].is_number(), "{n}: {v}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(env.swop_home.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn status_shows_plan_usage_and_human_reset_without_epochs_or_secrets() {
    let (env, backend) = setup(&[("work", 41.0), ("home", 7.0)], "");
    let mut u = usage_json("team", 12.0, 41.0);
    let reset = crate::support::now_unix() + 2 * 86400 + 3 * 3600 + 60;
    u["rate_limit"]["secondary_window"]["reset_at"] = Value::from(reset);
    backend.set_usage("acct-work", u);
    let out = env.swop().arg("status").ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("work@example.com"))
        .unwrap();
    assert!(
        line.contains("team") && line.contains("12%") && line.contains("41%"),
        "{line}"
    );
    assert!(line.contains("(in 2d 3h)"), "{line}");
    assert!(line.contains(" ok"), "{line}");
    assert!(
        !out.stdout.contains(&reset.to_string()),
        "raw epoch: {}",
        out.stdout
    );
    let home_line = out
        .stdout
        .lines()
        .find(|l| l.contains("home@example.com"))
        .unwrap();
    assert!(
        home_line.starts_with("* home"),
        "the pick is marked: {home_line}"
    );
    let json: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["picked"], "home");
    let work = &json["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "work")
        .unwrap();
    assert_eq!(work["weekly"]["used_percent"], 41.0);
    assert_eq!(work["weekly"]["reset_at"]["unix"], reset);
    assert_eq!(work["plan"], "team");
    // Names filter the rows; an unknown name is an error.
    let one = env.swop().args(["status", "work"]).ok();
    assert!(!one.stdout.contains("home@example.com"));
    env.swop().args(["status", "nobody"]).code(4);
}

#[test]
fn a_stuck_fetcher_holding_the_lock_is_not_waited_for_twice() {
    let (env, backend) = setup(&[("a", 10.0)], "timeout = \"1s\"\n");
    let cache = env.swop_home.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // Another "swop" holds the fetch lock and never finishes.
    let mut holder = std::process::Command::new("flock")
        .arg(cache.join("fetch.lock"))
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let out = env.swop().args(["pick", "--json"]).ok();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(
        out.stderr.contains(
            "usage for 'a' unavailable: another swop is still fetching usage; not waiting for it"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        backend.count(USAGE),
        0,
        "waited for the lock, then used the cache without a second wait"
    );
    let p: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(p["without_quota_data"], true);
}
