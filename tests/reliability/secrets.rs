//! No secret in any output. The rig's scan itself is shown to catch every
//! JWT segment, refresh token and API key, and swop is shown never to echo
//! a token that a usage error body or a broken auth.json hands it, nor the
//! key of an API-key login. A token printed once stays in a scrollback or a
//! CI log.

use super::{auth_file, json_of, one_warning, pick_json, ran_in, USAGE};
use crate::support::fixtures::SecretKind;
use crate::support::world::{announced, config_for, world};
use crate::support::{
    access_token_of, api_key, apikey_auth_json, chatgpt_auth_json, find_secret, now_unix,
    refresh_token_of, register_secret, Backend, Fault, Identity, TestEnv,
};
use serde_json::Value;
use std::fs;

#[test]
fn secret_scan_covers_every_segment_refresh_tokens_and_api_keys() {
    let auth = chatgpt_auth_json(&Identity::named("scan"), now_unix() + 3600);
    let v: Value = serde_json::from_str(&auth).unwrap();
    let mut checked = 0;
    for field in ["id_token", "access_token"] {
        let t = v["tokens"][field].as_str().unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(find_secret(&format!("x {t} y")).is_some(), "whole {field}");
        // The header is the shared alg:none one (public); payload and
        // signature are caught on their own.
        assert!(find_secret(parts[0]).is_none(), "shared header of {field}");
        assert_eq!(
            find_secret(&format!("p={}", parts[1])).map(|s| s.0),
            Some(SecretKind::JwtPayload),
            "{field} payload"
        );
        assert_eq!(
            find_secret(&format!("s={}", parts[2])).map(|s| s.0),
            Some(SecretKind::JwtSignature),
            "{field} signature"
        );
        // 16 characters from the middle of a signature are enough.
        assert!(find_secret(&parts[2][10..26]).is_some(), "{field} partial");
        checked += 4;
    }
    let rt = refresh_token_of(&auth);
    assert_eq!(
        find_secret(&rt[5..21]).map(|s| s.0),
        Some(SecretKind::RefreshToken)
    );
    let key = api_key();
    assert_eq!(
        find_secret(&key[12..28]).map(|s| s.0),
        Some(SecretKind::ApiKey)
    );
    checked += 2;
    // The scan runs on every command the rig starts, stderr included.
    // (From a file, so that the token is not in the command line that the
    // failure message quotes.)
    let env = TestEnv::new();
    let file = env.write_fixture_text("partial", &rt[3..30]);
    let r = std::panic::catch_unwind(|| {
        env.command("/bin/sh")
            .arg("-c")
            .arg(format!("cat '{}' >&2", file.display()))
            .run();
    });
    assert!(r.is_err(), "a refresh token on stderr must fail the run");
    eprintln!("secret scan: {checked} kinds of secret material checked");
}

/// Usage server error answers whose bodies carry the account's own tokens.
#[test]
fn usage_error_bodies_that_carry_tokens_are_never_echoed() {
    let mut tried = 0;
    // (what, the fault built from the access and refresh tokens, the cause
    // the message must name, whether the token counts as rejected)
    type MakeFault = Box<dyn Fn(&str, &str) -> Fault>;
    let cases: Vec<(&str, MakeFault, &str, bool)> = vec![
        (
            "500 with the token in the body",
            Box::new(|at: &str, rt: &str| {
                Fault::Status(
                    500,
                    format!(r#"{{"error":"bad token {at}","refresh_token":"{rt}"}}"#),
                )
            }),
            "HTTP 500",
            false,
        ),
        (
            "401 with the token in the body",
            Box::new(|at: &str, _: &str| {
                Fault::Status(401, format!(r#"{{"detail":"token {at} expired"}}"#))
            }),
            "rejected the token (HTTP 401)",
            true,
        ),
        (
            "403 with the token in the body",
            Box::new(|at: &str, rt: &str| {
                Fault::Status(403, format!("forbidden for Bearer {at} / {rt}"))
            }),
            "rejected the token (HTTP 403)",
            true,
        ),
        (
            "200 with invalid JSON holding the token",
            Box::new(|at: &str, _: &str| Fault::Status(200, format!("{{\"token\": \"{at}\" oops"))),
            "not JSON",
            false,
        ),
        (
            "200 with JSON of the wrong shape holding the token",
            Box::new(|at: &str, rt: &str| {
                Fault::Status(
                    200,
                    format!(r#"{{"plan_type":"plus","rate_limit":"{at}","rt":"{rt}"}}"#),
                )
            }),
            "unexpected response shape",
            false,
        ),
        (
            "redirect to a URL holding the token",
            Box::new(|at: &str, _: &str| {
                Fault::Redirect(format!("http://127.0.0.1:1/steal?t={at}"))
            }),
            "redirect (not followed",
            false,
        ),
    ];
    for (what, fault, cause, rejected) in cases {
        // before-launch: the launch below must ask, to show what it says.
        let (env, backend) = world(
            &[("a", 10.0), ("b", 20.0)],
            "timeout = \"2s\"\ncache_ttl = 0\nrefresh = \"before-launch\"\n",
        );
        let auth = fs::read_to_string(auth_file(&env, "a")).unwrap();
        let (at, rt) = (access_token_of(&auth), refresh_token_of(&auth));
        backend.set_usage_fault("acct-a", fault(&at, &rt));
        // With a rejected token, codex app-server is asked next; "dead"
        // makes it fail too, so the cause reaches the user.
        let dead = |c: &mut crate::support::TestCommand| {
            if rejected {
                c.env("FAKE_APP_SERVER", "dead");
            }
        };
        let mut c = env.swop();
        c.args(["pick", "--json"]);
        dead(&mut c);
        let out = c.ok();
        tried += 1;
        let line = one_warning(&out.stderr, "a", what);
        assert!(line.contains(cause), "{what}: {line}");
        if rejected {
            assert!(line.contains("swop relogin a"), "{what}: {line}");
        }
        assert_eq!(json_of(&out, what)["account"], "b", "{what}");
        for args in [
            &["status"][..],
            &["status", "--json", "--refresh"],
            &["doctor"],
            &["doctor", "--json"],
        ] {
            let mut c = env.swop();
            c.args(args.iter().copied());
            dead(&mut c);
            let out = c.run();
            tried += 1;
            assert!(!out.timed_out && out.signal.is_none(), "{what} {args:?}");
            let all = format!("{}{}", out.stdout, out.stderr);
            if rejected {
                assert!(all.contains("session expired"), "{what} {args:?}: {all}");
            } else {
                assert!(all.contains(cause), "{what} {args:?}: {all}");
            }
            if args.contains(&"--json") {
                json_of(&out, what);
            }
        }
        // Through the shim too: launches on b, says why a was passed over.
        let mut c = env.codex();
        c.args(["exec", "x"]);
        dead(&mut c);
        let out = c.ok();
        tried += 1;
        assert_eq!(announced(&out.stderr).as_deref(), Some("b"), "{what}");
        assert!(out.stderr.contains(cause), "{what}: {}", out.stderr);
        // The (fake) app-server with a reply holding the token, for the
        // rejected cases: not echoed either.
        if rejected {
            let out = env
                .swop()
                .args(["pick", "--json"])
                .env(
                    "FAKE_APP_SERVER_RESULT",
                    format!(r#"{{"oops":"{at}","rt":"{rt}"}}"#),
                )
                .ok();
            tried += 1;
            let line = one_warning(&out.stderr, "a", what);
            assert!(line.contains("app-server"), "{what}: {line}");
        }
    }
    eprintln!("token-bearing usage answers: {tried} commands run, secrets found: 0");
}

/// auth.json files that are broken in ways that put a token or a key right
/// where a parser error would quote it.
#[test]
fn broken_auth_files_are_named_but_never_quoted() {
    let good = chatgpt_auth_json(&Identity::named("a"), now_unix() + 86_400);
    let at = access_token_of(&good);
    // Cut in the middle of the access token's signature.
    let cut = good.find(&at).unwrap() + at.len() - 20;
    let truncated = good[..cut].to_string();
    let tail: String = truncated.chars().rev().take(40).collect::<String>();
    register_secret(SecretKind::Other, &tail.chars().rev().collect::<String>());
    let key = api_key();
    let opaque_id = format!(
        "opaque-id-token-{}",
        crate::support::fixtures::random_hex(40)
    );
    register_secret(SecretKind::Other, &opaque_id);
    let cases: Vec<(&str, String, &str)> = vec![
        ("truncated mid-token", truncated, "truncated"),
        (
            "not JSON, with a key in it",
            format!(
                "OPENAI_API_KEY={key}\nrefresh={}\n",
                refresh_token_of(&good)
            ),
            "not valid codex auth JSON",
        ),
        (
            "JSON with the token where an object belongs",
            format!(r#"{{"auth_mode":"chatgpt","tokens":"{at}"}}"#),
            "not valid codex auth JSON",
        ),
        (
            "id_token that is not a JWT",
            format!(
                r#"{{"auth_mode":"chatgpt","tokens":{{"id_token":"{opaque_id}","access_token":"{at}","account_id":"acct-a"}}}}"#
            ),
            "not a JWT",
        ),
        (
            "API-key mode without a key, with tokens",
            format!(
                r#"{{"auth_mode":"apikey","OPENAI_API_KEY":"","tokens":{{"access_token":"{at}"}}}}"#
            ),
            "API-key login without a key",
        ),
    ];
    let mut tried = 0;
    for (what, text, cause) in &cases {
        let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
        fs::write(auth_file(&env, "a"), text).unwrap();
        for args in [
            &["status"][..],
            &["status", "--json"],
            &["pick", "--json"],
            &["list", "--json"],
            &["doctor"],
            &["doctor", "--json"],
        ] {
            let out = env.swop().args(args.iter().copied()).run();
            tried += 1;
            assert!(!out.timed_out && out.signal.is_none(), "{what} {args:?}");
            assert!(
                !out.stderr.contains("panicked"),
                "{what} {args:?}: {}",
                out.stderr
            );
            if args[0] != "list" {
                let all = format!("{}{}", out.stdout, out.stderr);
                assert!(all.contains(cause), "{what} {args:?}: {all}");
                assert!(all.contains("relogin a"), "{what} {args:?}: {all}");
            }
            if args.contains(&"--json") {
                json_of(&out, what);
            }
        }
        let status: Value = json_of(&env.swop().args(["status", "--json"]).ok(), what);
        let a = &status["accounts"][0];
        assert_eq!(a["name"], "a");
        assert_eq!(a["session_expired"], true, "{what}: {a}");
        let out = env.codex().args(["exec", "x"]).ok();
        tried += 1;
        assert_eq!(announced(&out.stderr).as_deref(), Some("b"), "{what}");
        // Alone, the broken account is never launched: exit 6 and the fix.
        env.swop().args(["logout", "b"]).ok();
        let out = env.codex().args(["exec", "x"]).code(6);
        tried += 1;
        assert!(
            out.stderr.contains("swop relogin a"),
            "{what}: {}",
            out.stderr
        );
        assert!(ran_in(&out.stdout).is_none(), "{what}: codex ran");
    }
    eprintln!(
        "broken auth.json: {} variants, {tried} commands, secrets found: 0",
        cases.len()
    );
}

#[test]
fn api_key_login_is_added_and_shown_without_the_key() {
    let env = TestEnv::new();
    let backend = Backend::start();
    let key = api_key();
    let fixture = env.write_fixture_text("apikey", &apikey_auth_json(&key));
    let out = env
        .swop()
        .args(["add", "keyed"])
        .env("FAKE_CODEX_AUTH", &fixture)
        .ok();
    assert!(out.stdout.contains("added 'keyed'"), "{}", out.stdout);
    assert!(out.stdout.contains("api-key"), "{}", out.stdout);
    // The key piped into `codex login --with-api-key` never shows either.
    let key2 = api_key();
    env.swop()
        .args(["add", "piped", "--", "--with-api-key"])
        .stdin(format!("{key2}\n"))
        .ok();
    assert!(
        fs::read_to_string(auth_file(&env, "piped"))
            .unwrap()
            .contains(&key2),
        "the key reached codex login"
    );
    config_for(&env, &backend, "");
    let list = json_of(&env.swop().args(["list", "--json"]).ok(), "list");
    assert_eq!(list[0]["plan"], "api-key", "{list}");
    let status = env.swop().arg("status").ok();
    assert!(
        status.stdout.contains("api key (no usage data)"),
        "{}",
        status.stdout
    );
    let sj = json_of(&env.swop().args(["status", "--json"]).ok(), "status");
    assert_eq!(sj["accounts"][0]["session_expired"], false, "{sj}");
    let (p, _) = pick_json(&env);
    assert_eq!(p["account"], "keyed", "{p}");
    let doctor = env.swop().arg("doctor").run();
    assert!(doctor.stdout.contains("API-key login"), "{}", doctor.stdout);
    json_of(&env.swop().args(["doctor", "--json"]).run(), "doctor");
    let out = env.codex().args(["exec", "x"]).ok();
    assert!(announced(&out.stderr).is_some(), "{}", out.stderr);
    assert_eq!(backend.count(USAGE), 0, "an API key is never sent anywhere");
}
