//! Each way the usage backend can fail (error statuses, bad bodies, slow or
//! refused connections) gives one warning line naming the account and the
//! documented fallback: stale numbers, or a pick without data. A launch
//! must go on whatever the server does.

use super::{closed_port, json_of, one_warning, pick_json};
use crate::support::world::{age_cache, announced, world, write_config};
use crate::support::Fault;

fn fault_matrix() -> Vec<(Fault, &'static str)> {
    vec![
        (Fault::Status(500, "{}".into()), "HTTP 500"),
        (Fault::Status(503, "".into()), "HTTP 503"),
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
    ]
}

#[test]
fn each_usage_fault_is_one_line_and_falls_back_as_documented() {
    let mut runs = 0;
    for (fault, cause) in fault_matrix() {
        let (env, backend) = world(
            &[("a", 10.0), ("b", 20.0)],
            "timeout = \"1s\"\ncache_ttl = 0\n",
        );
        // A good fetch first: both have cached numbers.
        assert_eq!(pick_json(&env).0["account"], "a");

        // (1) cached numbers younger than stale_after are used, labelled.
        backend.set_usage_fault("acct-a", fault.clone());
        let (p, out) = pick_json(&env);
        runs += 1;
        let line = one_warning(&out.stderr, "a", &format!("{fault:?}"));
        assert!(
            line.contains("usage for 'a' unavailable"),
            "{fault:?}: {line}"
        );
        assert!(line.contains(cause), "{fault:?}: {line}");
        assert!(line.contains("using numbers from"), "{fault:?}: {line}");
        assert_eq!(out.stderr.lines().count(), 1, "{fault:?}: {}", out.stderr);
        assert_eq!(p["account"], "a", "{fault:?}: stale numbers still count");
        assert!(
            p["reason"].as_str().unwrap().contains("numbers from"),
            "{p}"
        );
        let status = env.swop().arg("status").ok();
        runs += 1;
        // Status says it once, under its table, not also as a warning.
        assert!(!status.stderr.contains("warning:"), "{}", status.stderr);
        assert_eq!(
            status.stdout.matches(cause).count(),
            1,
            "{fault:?}: {}",
            status.stdout
        );
        assert!(status.stdout.contains("stale"), "{}", status.stdout);
        // The launch says the same in one line, then announces.
        let out = env.codex().args(["exec", "x"]).ok();
        runs += 1;
        one_warning(&out.stderr, "a", "launch");
        assert_eq!(announced(&out.stderr).as_deref(), Some("a"), "{fault:?}");

        // (2) numbers older than stale_after: the account with data wins.
        age_cache(&env, "a", 2 * 3600);
        let (p, out) = pick_json(&env);
        runs += 1;
        let line = one_warning(&out.stderr, "a", &format!("{fault:?} old"));
        assert!(line.contains(cause), "{fault:?}: {line}");
        assert!(!line.contains("using numbers from"), "{fault:?}: {line}");
        assert_eq!(p["account"], "b", "{fault:?}");
        assert_eq!(p["without_quota_data"], false);

        // (3) no account has data: a pick is still made, and says so.
        backend.set_usage_fault("acct-b", fault.clone());
        age_cache(&env, "b", 2 * 3600);
        let (p, out) = pick_json(&env);
        runs += 1;
        one_warning(&out.stderr, "a", "none");
        one_warning(&out.stderr, "b", "none");
        // One summarised line names both.
        assert_eq!(out.stderr.lines().count(), 1, "{fault:?}: {}", out.stderr);
        assert_eq!(p["without_quota_data"], true, "{fault:?}: {p}");
        assert!(
            p["reason"].as_str().unwrap().contains("without quota data"),
            "{p}"
        );
    }
    eprintln!(
        "usage fault matrix: {} faults x 3 fallbacks, {runs} commands",
        fault_matrix().len()
    );
}

#[test]
fn unauthorized_and_forbidden_with_a_dead_app_server_mean_session_expired() {
    for code in [401, 403] {
        let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
        // a has the better cached numbers: they must not be used for a dead
        // session.
        assert_eq!(pick_json(&env).0["account"], "a");
        backend.set_usage_fault("acct-a", Fault::Status(code, "{}".into()));
        let out = env
            .swop()
            .args(["pick", "--json"])
            .env("FAKE_APP_SERVER", "dead")
            .ok();
        let line = one_warning(&out.stderr, "a", &code.to_string());
        assert!(
            line.contains("session for 'a' has expired")
                && line.contains(&format!("HTTP {code}"))
                && line.contains("swop relogin a"),
            "{line}"
        );
        assert_eq!(json_of(&out, "pick")["account"], "b");
        let status = json_of(
            &env.swop()
                .args(["status", "--json"])
                .env("FAKE_APP_SERVER", "dead")
                .ok(),
            "status",
        );
        assert_eq!(status["accounts"][0]["session_expired"], true, "{status}");
        assert_eq!(status["accounts"][0]["state"], "session expired");
        let out = env
            .codex()
            .args(["exec", "x"])
            .env("FAKE_APP_SERVER", "dead")
            .ok();
        assert_eq!(announced(&out.stderr).as_deref(), Some("b"));
        // The app-server ran in a's sandbox; auth.json was left alone.
        assert!(env
            .fake_log()
            .iter()
            .any(|c| c.subcommand() == Some("app-server")
                && c.codex_home.as_deref() == Some(env.account_home("a").to_str().unwrap())));
    }
}

#[test]
fn connection_refused_uses_stale_numbers_then_picks_without_data() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
    assert_eq!(pick_json(&env).0["account"], "a");
    // The usage server goes away: point swop at a closed port.
    write_config(
        &env,
        &format!(
            "[usage]\nbase_url = \"http://127.0.0.1:{}/backend-api\"\ntimeout = \"1s\"\ncache_ttl = 0\n[sandbox]\nshared_home = \"{}\"\n",
            closed_port(),
            env.home.join(".codex").display()
        ),
    );
    let (p, out) = pick_json(&env);
    for n in ["a", "b"] {
        let line = one_warning(&out.stderr, n, "refused");
        assert!(line.contains("connection refused"), "{line}");
        assert!(line.contains("using numbers from"), "{line}");
    }
    // One summarised line names both.
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(p["account"], "a");
    age_cache(&env, "a", 7200);
    age_cache(&env, "b", 7200);
    let (p, out) = pick_json(&env);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(p["without_quota_data"], true, "{p}");
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(out.stderr.contains("without quota data"), "{}", out.stderr);
}
