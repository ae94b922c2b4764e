//! Reliability and security under load, faults and bad input.
//!
//! Every command here runs through the rig's `TestCommand`, which scans its
//! stdout and stderr for every registered fixture secret (whole JWTs, their
//! payload and signature segments, refresh tokens, API keys, and anything a
//! test registers): a leak anywhere fails the test that caused it. On top of
//! that, each test checks that the message still names the cause.
//!
//! Figures (requests, launches, faults, inputs) are printed with eprintln!
//! and show with `cargo test --test tests reliability -- --nocapture`.

use crate::helpers::{
    add, add_named, age_cache, announced, assert_private_tree, config_for, mode, write_config,
};
use crate::support::fixtures::{random_bytes, SecretKind};
use crate::support::{
    access_token_of, api_key, apikey_auth_json, chatgpt_auth_json, find_secret, now_unix,
    refresh_token_of, register_secret, usage_json, Backend, Fault, Identity, Output, TestEnv,
};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USAGE: &str = "/backend-api/wham/usage";

// ---------------------------------------------------------------------------
// shared bits

fn setup(names_weekly: &[(&str, f64)], extra: &str) -> (TestEnv, Backend) {
    let env = TestEnv::new();
    let backend = Backend::start();
    let names: Vec<&str> = names_weekly.iter().map(|(n, _)| *n).collect();
    add_named(&env, &names);
    for (n, w) in names_weekly {
        backend.set_usage(&format!("acct-{n}"), usage_json("plus", 5.0, *w));
    }
    config_for(&env, &backend, extra);
    (env, backend)
}

fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}):\n{}", out.stdout))
}

fn pick_json(env: &TestEnv) -> (Value, Output) {
    let out = env.swop().args(["pick", "--json"]).ok();
    (json_of(&out, "pick --json"), out)
}

fn auth_file(env: &TestEnv, name: &str) -> PathBuf {
    env.account_home(name).join("auth.json")
}

/// Names in `swop list --json`.
fn listed(env: &TestEnv) -> Vec<String> {
    let out = env.swop().args(["list", "--json"]).ok();
    json_of(&out, "list --json")
        .as_array()
        .expect("list --json is an array")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_string())
        .collect()
}

/// Entries of SWOP_HOME/accounts whose name starts with `prefix`.
fn hidden_entries(env: &TestEnv, prefix: &str) -> Vec<String> {
    fs::read_dir(env.swop_home.join("accounts"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// Every `*.json` under SWOP_HOME/cache parses; returns how many there are
/// and how many hidden temp files are lying around.
fn cache_files_parse(env: &TestEnv) -> (usize, usize) {
    let dir = env.swop_home.join("cache");
    let Ok(rd) = fs::read_dir(&dir) else {
        return (0, 0);
    };
    let (mut n, mut tmp) = (0, 0);
    for e in rd {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') {
            tmp += 1;
            continue;
        }
        if name.ends_with(".json") {
            let bytes = fs::read(&p).unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{} does not parse ({e}): {:?}",
                    p.display(),
                    String::from_utf8_lossy(&bytes)
                )
            });
            n += 1;
        }
    }
    (n, tmp)
}

/// The CODEX_HOME the fake codex printed it ran with.
fn ran_in(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("fake codex ran with CODEX_HOME="))
        .map(str::to_string)
}

/// The only stderr line about `account`'s usage, asserting it is one line
/// that names the account.
fn one_warning<'a>(stderr: &'a str, account: &str, what: &str) -> &'a str {
    let quoted = format!("'{account}'");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning:") && l.contains(&quoted))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: exactly one warning line for {quoted}:\n{stderr}"
    );
    lines[0]
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A random duration in `0..max_ms` milliseconds.
fn random_ms(max_ms: u64) -> Duration {
    let b = random_bytes(8);
    let n = u64::from_le_bytes(b.try_into().unwrap());
    Duration::from_millis(n % max_ms.max(1))
}

/// Rewrites the cached `fetched_at` of `name` to `age` seconds ago.
/// Every entry under `root`: files with their mode, length and a hash of
/// their bytes (never the bytes: a failing assertion must not print a
/// token), dirs with their mode, links with their target. To prove that a
/// failed command changed nothing.
fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", m.permissions().mode() & 0o777)
            } else {
                let bytes = fs::read(&p).unwrap();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                format!(
                    "{:o} {} bytes, hash {:016x}",
                    m.permissions().mode() & 0o777,
                    bytes.len(),
                    h.finish()
                )
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// 1. secrets

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
        let (env, backend) = setup(
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
        let (env, _backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
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

// ---------------------------------------------------------------------------
// 2. permissions

#[test]
fn every_file_is_0600_and_every_dir_0700_after_a_full_scenario() {
    let (env, _backend) = setup(&[("work", 10.0), ("home", 20.0)], "");
    // swop.toml is the user's file (written by the test): not swop's to set.
    fs::set_permissions(
        env.swop_home.join("swop.toml"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    env.swop().arg("pick").ok();
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("FAKE_SLEEP", "2")
        .spawn();
    // While codex runs: the live entry and its lock are private too.
    let live = env.swop_home.join("live/work");
    let end = Instant::now() + Duration::from_secs(20);
    let registered = || {
        fs::read_dir(&live).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    };
    while !registered() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        registered(),
        "the launch never registered in {}",
        live.display()
    );
    assert_private_tree(&env.swop_home);
    assert!(out.finish().success());
    env.swop().args(["status", "--refresh"]).ok();
    env.swop().args(["logout", "home"]).ok();
    assert_private_tree(&env.swop_home);
    let mut counts = (0, 0);
    let mut stack = vec![env.swop_home.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                counts.0 += 1;
                stack.push(p);
            } else if m.is_file() {
                counts.1 += 1;
            }
        }
    }
    assert_eq!(mode(&env.swop_home), 0o700);
    eprintln!(
        "private tree: {} dirs 0700, {} files 0600",
        counts.0, counts.1
    );
}

#[test]
fn auth_json_readable_by_others_is_refused_at_launch_with_chmod_600() {
    let (env, _backend) = setup(&[("work", 10.0)], "");
    let file = auth_file(&env, "work");
    for m in [0o644, 0o640, 0o604] {
        fs::set_permissions(&file, fs::Permissions::from_mode(m)).unwrap();
        let out = env.codex().args(["exec", "x"]).code(8);
        assert!(out.stderr.contains("too open"), "{m:o}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("chmod 600 '{}'", file.display())),
            "{m:o}: {}",
            out.stderr
        );
        assert!(ran_in(&out.stdout).is_none(), "{m:o}: codex ran");
        let doctor = env.swop().arg("doctor").run();
        assert!(doctor.stdout.contains("chmod 600"), "{}", doctor.stdout);
    }
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(announced(&out.stderr).as_deref(), Some("work"));
}

#[test]
fn swop_home_or_accounts_open_to_group_or_others_is_refused() {
    let (env, _backend) = setup(&[("work", 10.0)], "");
    let accounts = env.swop_home.join("accounts");
    for dir in [&env.swop_home, &accounts] {
        for m in [0o750, 0o705, 0o770] {
            fs::set_permissions(dir, fs::Permissions::from_mode(m)).unwrap();
            for out in [
                env.swop().arg("list").code(8),
                env.swop().arg("status").code(8),
                env.codex().args(["exec", "x"]).code(8),
            ] {
                assert!(
                    out.stderr
                        .contains(&format!("chmod 700 '{}'", dir.display())),
                    "{m:o} {}: {}",
                    dir.display(),
                    out.stderr
                );
                assert!(ran_in(&out.stdout).is_none());
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
    }
    env.swop().arg("list").ok();
}

// ---------------------------------------------------------------------------
// 3. concurrency

/// 32 launches at once through the shim on 3 accounts whose cache is stale,
/// with a slow usage server. Returns the usage request count.
fn thirty_two_launches(extra: &str, sleep: &str, label: &str) -> usize {
    let names = ["a", "b", "c"];
    let (env, backend) = setup(&[("a", 10.0), ("b", 20.0), ("c", 30.0)], extra);
    backend.set_usage_delay(Duration::from_millis(100));
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(auth_file(&env, n)).unwrap())
        .collect();
    let t = Instant::now();
    let running: Vec<_> = (0..32)
        .map(|i| {
            env.codex()
                .args(["exec", &format!("task {i}")])
                .env("FAKE_SLEEP", sleep)
                .spawn()
        })
        .collect();
    let mut ok = 0;
    let mut per_account = std::collections::BTreeMap::<String, usize>::new();
    for r in running {
        let out = r.wait_output(Duration::from_secs(120));
        assert!(out.success(), "exit {:?}: {}", out.code, out.stderr);
        let name = announced(&out.stderr).unwrap_or_else(|| panic!("{}", out.stderr));
        let home = ran_in(&out.stdout).unwrap_or_else(|| panic!("{}", out.stdout));
        assert_eq!(
            home,
            env.account_home(&name).display().to_string(),
            "announced {name}"
        );
        *per_account.entry(name).or_default() += 1;
        ok += 1;
    }
    let took = t.elapsed();
    let requests = backend.count(USAGE);
    eprintln!(
        "32 concurrent launches ({label}): {ok}/32 held, accounts used {per_account:?}, \
         usage requests {requests} (one round per launch would be {}), max in flight {}, {took:?}",
        32 * 3,
        backend.max_in_flight()
    );
    assert_eq!(ok, 32);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            fs::read(auth_file(&env, n)).unwrap(),
            before[i],
            "auth.json of {n} changed"
        );
    }
    let (files, _) = cache_files_parse(&env);
    assert_eq!(files, 3);
    requests
}

#[test]

fn thirty_two_concurrent_launches_with_ttl_0_share_fetches() {
    let requests = thirty_two_launches("cache_ttl = \"0s\"\n", "0", "cache_ttl = \"0s\"");
    assert!(
        requests < 32 * 3 / 2,
        "{requests} usage requests for 32 launches: launches that waited for the fetch lock \
         must use the numbers fetched meanwhile"
    );
}

#[test]
fn thirty_two_concurrent_launches_run_where_announced_and_share_fetches() {
    // No cache yet, default TTL: the first launch fetches, the others wait
    // for its lock and use its numbers. (The runs last a second: a finished
    // run marks the numbers stale, which would make later launches refetch.)
    let requests = thirty_two_launches("", "1", "empty cache, cache_ttl 60s");
    assert!(
        requests < 32 * 3 / 2,
        "{requests} usage requests for 32 launches: concurrent launches must share fetches"
    );
}

/// Starts `adds` new accounts and logs out `logouts` existing ones, all at
/// once, `rounds` times; then checks that the registry matches the disk.
fn concurrent_registry_ops(adds: usize, logouts: usize, rounds: usize) -> Vec<String> {
    let env = TestEnv::new();
    let mut want: Vec<String> = Vec::new();
    for r in 0..rounds {
        let gone: Vec<String> = (0..logouts).map(|i| format!("old{r}-{i}")).collect();
        for g in &gone {
            add(&env, g, &Identity::named(g));
        }
        let fresh: Vec<String> = (0..adds).map(|i| format!("new{r}-{i}")).collect();
        let mut running = Vec::new();
        for i in 0..adds.max(logouts) {
            if let Some(n) = fresh.get(i) {
                let fixture = env.write_auth_fixture(&format!("f-{n}"), &Identity::named(n));
                running.push(
                    env.swop()
                        .args(["add", n])
                        .env("FAKE_CODEX_AUTH", &fixture)
                        .spawn(),
                );
            }
            if let Some(g) = gone.get(i) {
                running.push(env.swop().args(["logout", g]).spawn());
            }
        }
        for r in running {
            let out = r.wait_output(Duration::from_secs(60));
            assert!(out.success(), "{}\n{}", out.stdout, out.stderr);
        }
        want.extend(fresh);
        for g in &gone {
            assert!(!auth_file(&env, g).exists(), "{g} still has a login");
        }
    }
    want.sort();
    let names = listed(&env);
    assert_eq!(names, want, "list after concurrent add/logout");
    for n in &names {
        assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
        let meta: Value = serde_json::from_slice(
            &fs::read(env.account_home(n).join("swop-account.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["identity"]["email"], format!("{n}@example.com"));
    }
    for prefix in [".add-", ".trash-", ".retire-", ".logout-"] {
        assert!(
            hidden_entries(&env, prefix).is_empty(),
            "left behind: {:?}",
            hidden_entries(&env, prefix)
        );
    }
    names
}

#[test]
fn eight_concurrent_adds_all_land_complete() {
    let names = concurrent_registry_ops(8, 0, 1);
    eprintln!("8 concurrent adds: {} listed, each complete", names.len());
}

#[test]
fn eight_concurrent_logouts_all_finish() {
    let names = concurrent_registry_ops(0, 8, 1);
    assert!(names.is_empty(), "{names:?}");
    eprintln!("8 concurrent logouts: none left listed, nothing left behind");
}

#[test]

fn concurrent_adds_and_logouts_keep_the_registry_consistent() {
    let names = concurrent_registry_ops(4, 4, 4);
    eprintln!(
        "4 rounds of 4 adds + 4 logouts at once: registry consistent ({} listed)",
        names.len()
    );
}

#[test]

fn an_add_during_a_slow_logout_leaves_that_logout_alone() {
    let env = TestEnv::new();
    add_named(&env, &["big"]);
    // A sandbox with many files (codex keeps logs there), so that deleting
    // it takes a moment.
    let log = env.account_home("big").join("log");
    fs::create_dir_all(&log).unwrap();
    for i in 0..20_000 {
        fs::write(log.join(format!("{i}.log")), b"x").unwrap();
    }
    let logout = env.swop().args(["logout", "big"]).spawn();
    let end = Instant::now() + Duration::from_secs(20);
    while hidden_entries(&env, ".logout-").is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_micros(200));
    }
    // Hold the logout mid-delete (as a slow disk or a busy machine would).
    logout.signal(libc::SIGSTOP);
    let caught = !hidden_entries(&env, ".logout-").is_empty();
    // `swop add` sweeps what crashed commands left: not a live logout's.
    let fixture = env.write_auth_fixture("other", &Identity::named("other"));
    let add = env
        .swop()
        .args(["add", "other"])
        .env("FAKE_CODEX_AUTH", &fixture)
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    logout.signal(libc::SIGCONT);
    let add = add.wait_output(Duration::from_secs(30));
    let out = logout.wait_output(Duration::from_secs(30));
    assert!(caught, "logout was not caught deleting");
    assert!(add.success(), "add failed: {}", add.stderr);
    assert!(out.success(), "logout failed: {}", out.stderr);
    assert_eq!(listed(&env), ["other"]);
    // Its links stay (sessions it started remain resumable).
    assert!(env.account_home("big").join("swop-retired").is_file());
}

// ---------------------------------------------------------------------------
// 4. usage backend fault matrix

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
        let (env, backend) = setup(
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
        let (env, backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
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
    let (env, _backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
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

// ---------------------------------------------------------------------------
// 5. local faults

#[test]
fn unusable_auth_json_is_skipped_with_the_relogin_command() {
    let not_jwt =
        r#"{"tokens":{"id_token":"plainstring","access_token":"x","account_id":"acct-w"}}"#
            .to_string();
    let variants: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "auth.json is missing"),
        ("empty", Some(String::new()), "the file is empty"),
        (
            "truncated",
            Some("{\"auth_mode\": \"chatgpt\", \"tokens\": {\"id_tok".into()),
            "truncated",
        ),
        ("not JSON", Some("<html>login</html>".into()), "not valid"),
        ("id_token not a JWT", Some(not_jwt), "not a JWT"),
    ];
    for (what, content, cause) in &variants {
        // A fresh cache says `w` is best: the login file itself must be
        // checked before launching on it.
        let (env, _backend) = setup(&[("w", 5.0), ("p", 50.0)], "cache_ttl = \"1h\"\n");
        assert_eq!(pick_json(&env).0["account"], "w");
        match content {
            None => fs::remove_file(auth_file(&env, "w")).unwrap(),
            Some(t) => fs::write(auth_file(&env, "w"), t).unwrap(),
        }
        let out = env.codex().args(["exec", "x"]).ok();
        assert!(out.stderr.contains(cause), "{what}: {}", out.stderr);
        assert!(
            out.stderr.contains("swop relogin w"),
            "{what}: {}",
            out.stderr
        );
        assert_eq!(announced(&out.stderr).as_deref(), Some("p"), "{what}");
        let status = env.swop().arg("status").ok();
        let line = status.stdout.lines().find(|l| l.contains(" w ")).unwrap();
        assert!(line.contains("session expired"), "{what}: {line}");
        // Alone: exit 6 with the command that fixes it.
        env.swop().args(["logout", "p"]).ok();
        let out = env.codex().args(["exec", "x"]).code(6);
        assert!(
            out.stderr.contains("swop relogin w"),
            "{what}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}");
        assert!(
            ran_in(&out.stdout).is_none(),
            "{what}: codex ran without a login"
        );
        let out = env.swop().args(["pick", "--json"]).code(6);
        json_of(&out, what);
    }
    // An access token that is not a JWT is opaque, not broken: still usable.
    let (env, backend) = setup(&[("o", 5.0)], "cache_ttl = 0\n");
    backend.set_check_tokens(false);
    let mut v: Value =
        serde_json::from_str(&fs::read_to_string(auth_file(&env, "o")).unwrap()).unwrap();
    let opaque = format!("opaque-{}", crate::support::fixtures::random_hex(40));
    register_secret(SecretKind::Other, &opaque);
    v["tokens"]["access_token"] = Value::from(opaque);
    fs::write(auth_file(&env, "o"), v.to_string()).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("o"),
        "{}",
        out.stderr
    );
    eprintln!(
        "unusable auth.json: {} variants + 1 opaque token",
        variants.len()
    );
}

#[test]
fn bad_swop_toml_exits_3_naming_file_line_and_key() {
    let env = TestEnv::new();
    // No account: with a broken swop.toml nothing may fall back to the real
    // usage server (doctor would otherwise try the default base_url).
    let cases: &[(&str, &str, &[&str])] = &[
        ("syntax error", "[usage\ntimeout = \"1s\"\n", &["line 1"]),
        (
            "unknown key",
            "[usage]\ntimeout = \"1s\"\n\n[selection]\nstrategy = \"drain\"\nmax_weekly = 3\n",
            &["line 6", "max_weekly"],
        ),
        (
            "wrong type",
            "[selection]\nspread = \"yes\"\n",
            &["line 2", "spread"],
        ),
        (
            "bad duration",
            "[usage]\ncache_ttl = \"soon\"\n",
            &["line 2", "cache_ttl"],
        ),
        (
            "unknown table",
            "[usag]\ntimeout = \"1s\"\n",
            &["line 1", "usag"],
        ),
        (
            "percent out of range",
            "[selection]\nmax_weekly_percent = 150\n",
            &["max_weekly_percent"],
        ),
        (
            "not a URL",
            "[usage]\nbase_url = \"chatgpt.com\"\n",
            &["base_url"],
        ),
    ];
    let config = env.swop_home.join("swop.toml");
    for (what, text, wants) in cases {
        write_config(&env, text);
        for out in [
            env.swop().arg("list").code(3),
            env.swop().args(["status", "--json"]).code(3),
            env.swop().arg("pick").code(3),
            env.codex().args(["exec", "x"]).code(3),
        ] {
            assert!(
                out.stderr.contains(&config.display().to_string()),
                "{what}: file not named: {}",
                out.stderr
            );
            for w in *wants {
                assert!(
                    out.stderr.contains(w),
                    "{what}: lacks {w:?}: {}",
                    out.stderr
                );
            }
            assert!(ran_in(&out.stdout).is_none(), "{what}: codex ran");
        }
        let doctor = env.swop().arg("doctor").run();
        assert!(doctor.stdout.contains("FAIL"), "{what}: {}", doctor.stdout);
    }
    eprintln!("bad swop.toml: {} variants, exit 3 each", cases.len());
}

#[test]
fn corrupt_or_truncated_cache_files_warn_and_are_rebuilt() {
    let bad: &[(&str, &[u8])] = &[
        ("empty", b""),
        (
            "truncated",
            b"{\"fetched_at\": 1700000000, \"usage\": {\"plan\": \"pl",
        ),
        ("binary", &[0xff, 0x00, 0xfe, 0x12, 0x80]),
        ("wrong type", b"[1, 2, 3]"),
        ("wrong field type", b"{\"fetched_at\": \"yesterday\"}"),
    ];
    for (what, bytes) in bad {
        // before-launch: the launch must refetch the lost numbers first.
        let (env, backend) = setup(
            &[("a", 10.0), ("b", 20.0)],
            "cache_ttl = \"1h\"\nrefresh = \"before-launch\"\n",
        );
        pick_json(&env);
        let n = backend.count(USAGE);
        let file = env.swop_home.join("cache/a.json");
        fs::write(&file, bytes).unwrap();
        let out = env.codex().args(["exec", "x"]).ok();
        let line = one_warning(&out.stderr, "a", what);
        assert!(line.contains("cache file was corrupt"), "{what}: {line}");
        assert_eq!(announced(&out.stderr).as_deref(), Some("a"), "{what}");
        assert_eq!(backend.count(USAGE), n + 1, "{what}: only a is refetched");
        let v: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert!(
            v["usage"]["weekly"]["used_percent"].is_number(),
            "{what}: {v}"
        );
        assert_eq!(mode(&file), 0o600);
        let out = env.swop().arg("status").ok();
        assert!(
            !out.stderr.contains("corrupt"),
            "{what}: rebuilt: {}",
            out.stderr
        );
    }
}

/// Runs `f` on a thread with its own private mount namespace: mounts made
/// there are invisible to the rest of the machine and vanish with the
/// thread. Err says why this machine does not allow it.
fn with_private_mounts<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscalls on this thread's own namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                return Err(format!(
                    "unshare(CLONE_NEWNS): {}",
                    std::io::Error::last_os_error()
                ));
            }
            sys_mount(
                None,
                Path::new("/"),
                None,
                libc::MS_REC | libc::MS_PRIVATE,
                None,
            )
            .map_err(|e| format!("make / private: {e}"))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn sys_mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &str| CString::new(s).unwrap();
    let src = src.map(c);
    let fstype = fstype.map(c);
    let data = data.map(c);
    let target = CString::new(target.as_os_str().as_bytes()).unwrap();
    let p = |o: &Option<CString>| o.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid NUL-terminated strings or null, as mount(2) allows.
    let r = unsafe {
        libc::mount(
            p(&src),
            target.as_ptr(),
            p(&fstype),
            flags,
            p(&data) as *const libc::c_void,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn sys_umount(target: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let t = std::ffi::CString::new(target.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path; MNT_DETACH never blocks.
    unsafe {
        libc::umount2(t.as_ptr(), libc::MNT_DETACH);
    }
}

#[test]
fn read_only_swop_home_fails_clearly_and_changes_nothing() {
    let (env, _backend) = setup(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
    pick_json(&env);
    // Older numbers on disk, so that the next fetch has something to write.
    age_cache(&env, "a", 60);
    age_cache(&env, "b", 60);
    let other = env.root.join("other-codex");
    fs::create_dir_all(&other).unwrap();
    let import_src = env.write_auth_fixture("imp", &Identity::named("imp"));
    fs::copy(&import_src, other.join("auth.json")).unwrap();
    let before = snapshot(&env.swop_home);
    let home = env.swop_home.clone();
    let r = with_private_mounts(|| {
        sys_mount(
            Some(home.to_str().unwrap()),
            &home,
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| format!("bind mount: {e}"))?;
        sys_mount(
            None,
            &home,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            None,
        )
        .map_err(|e| format!("remount read-only: {e}"))?;
        let probe = fs::write(home.join("probe"), b"x");
        assert!(probe.is_err(), "root can still write: not read-only");

        // Reading works: list, status, pick, and a launch (warnings only).
        assert_eq!(listed(&env), ["a", "b"]);
        let out = env.swop().args(["pick", "--json"]).ok();
        assert!(
            out.stderr.contains("cannot update the usage cache"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        json_of(&out, "pick");
        let out = env.codex().args(["exec", "x"]).ok();
        assert_eq!(
            announced(&out.stderr).as_deref(),
            Some("a"),
            "{}",
            out.stderr
        );
        assert!(ran_in(&out.stdout).is_some());
        // Changing things fails with the cause and what to check.
        let fixture = env.write_auth_fixture("c", &Identity::named("c"));
        let out = env
            .swop()
            .args(["add", "c"])
            .env("FAKE_CODEX_AUTH", &fixture)
            .fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("writable"), "{}", out.stderr);
        let out = env.swop().args(["logout", "b"]).fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        let out = env
            .swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        assert!(other.join("auth.json").is_file(), "import lost the login");
        sys_umount(&home);
        Ok::<(), String>(())
    });
    match r {
        Ok(Ok(())) => {}
        Ok(Err(why)) | Err(why) => {
            eprintln!(
                "SKIPPED read-only SWOP_HOME: cannot make a read-only mount here ({why}); \
                 a chmod-based read-only dir would not stop root, so a mount is required"
            );
            return;
        }
    }
    assert_eq!(
        snapshot(&env.swop_home),
        before,
        "a failed command changed SWOP_HOME"
    );
    assert_eq!(listed(&env), ["a", "b"]);
    eprintln!("read-only SWOP_HOME: reads work, 3 writes refused, nothing changed");
}

fn free_blocks(p: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out pointer.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    s.f_bavail as u64
}

/// Fills the filesystem of `dir` with `dir/filler` (4 KiB pages) and then
/// frees `leave` pages again.
fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&filler)
        .unwrap();
    let page = [0u8; 4096];
    while f.write_all(&page).is_ok() {}
    let _ = f.sync_all();
    let len = f.metadata().unwrap().len();
    let len = len - len % 4096;
    f.set_len(len.saturating_sub(4096 * leave)).unwrap();
    fs::set_permissions(&filler, fs::Permissions::from_mode(0o600)).unwrap();
    filler
}

/// Runs `f` with SWOP_HOME on a small tmpfs (`size`, e.g. "64k") mounted
/// in a private mount namespace. False (after saying why) when this machine
/// does not allow the mount.
fn on_tiny_disk(env: &TestEnv, size: &str, what: &str, f: impl FnOnce() + Send) -> bool {
    let home = env.swop_home.clone();
    fs::create_dir_all(&home).unwrap();
    let r = with_private_mounts(|| {
        sys_mount(
            Some("tmpfs"),
            &home,
            Some("tmpfs"),
            0,
            Some(&format!("size={size},mode=0700")),
        )
        .map_err(|e| format!("mount -t tmpfs -o size={size}: {e}"))?;
        // Unmount even when `f` fails an assertion.
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                sys_umount(self.0);
            }
        }
        let _unmount = Unmount(&home);
        f();
        Ok::<(), String>(())
    });
    match r {
        Ok(Ok(())) => true,
        Ok(Err(why)) | Err(why) => {
            eprintln!("SKIPPED {what}: cannot mount a small tmpfs here ({why})");
            false
        }
    }
}

#[test]
fn full_disk_fails_clearly_and_keeps_the_previous_state() {
    let env = TestEnv::new();
    let backend = Backend::start();
    let home = env.swop_home.clone();
    let ran = on_tiny_disk(&env, "64k", "full disk", || {
        add_named(&env, &["a", "b"]);
        backend.set_usage("acct-a", usage_json("plus", 5.0, 10.0));
        backend.set_usage("acct-b", usage_json("plus", 5.0, 20.0));
        config_for(&env, &backend, "cache_ttl = 0\n");
        pick_json(&env);
        age_cache(&env, "a", 60);
        let cache_before = fs::read(home.join("cache/a.json")).unwrap();
        let only_a = |snap: Vec<(PathBuf, String)>| -> Vec<(PathBuf, String)> {
            snap.into_iter()
                .filter(|(p, _)| p.starts_with(home.join("accounts/a")))
                .collect()
        };
        let a_before = only_a(snapshot(&home.join("accounts")));

        // Completely full: usage numbers cannot be cached, launches still
        // work, the old cache stays whole.
        let filler = fill_disk(&home, 0);
        assert_eq!(free_blocks(&home), 0);
        let out = env.swop().args(["pick", "--json"]).ok();
        assert!(
            out.stderr.contains("cannot update the usage cache"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        json_of(&out, "pick");
        assert_eq!(fs::read(home.join("cache/a.json")).unwrap(), cache_before);
        let out = env.codex().args(["exec", "x"]).ok();
        assert!(ran_in(&out.stdout).is_some(), "{}", out.stderr);
        let (_, tmp) = cache_files_parse(&env);
        assert_eq!(tmp, 0, "temp files left behind by failed writes");

        // One free page: codex's auth.json fits, swop's own record does not.
        fs::remove_file(&filler).unwrap();
        let filler = fill_disk(&home, 1);
        assert_eq!(free_blocks(&home), 1);
        let fixture = env.write_auth_fixture("c", &Identity::named("c"));
        let out = env
            .swop()
            .args(["add", "c"])
            .env("FAKE_CODEX_AUTH", &fixture)
            .fails();
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("disk is full"), "{}", out.stderr);
        assert!(hidden_entries(&env, ".add-").is_empty(), "staging left");
        assert_eq!(listed(&env), ["a", "b"]);

        // Import across filesystems onto a full disk: the login stays put.
        let other = env.root.join("other-codex");
        fs::create_dir_all(&other).unwrap();
        let src = env.write_auth_fixture("imp", &Identity::named("imp"));
        fs::copy(&src, other.join("auth.json")).unwrap();
        fs::remove_file(&filler).unwrap();
        let filler = fill_disk(&home, 0);
        let out = env
            .swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .fails();
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        assert_eq!(
            fs::read(other.join("auth.json")).unwrap(),
            fs::read(&src).unwrap(),
            "import lost the login on a full disk"
        );
        assert_eq!(listed(&env), ["a", "b"]);
        assert_eq!(
            only_a(snapshot(&home.join("accounts"))),
            a_before,
            "account a changed while the disk was full"
        );

        // Space again: everything works.
        fs::remove_file(&filler).unwrap();
        add(&env, "c", &Identity::named("c"));
        env.swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .ok();
        env.swop().args(["logout", "b"]).ok();
        assert_eq!(listed(&env), ["a", "c", "imp"]);
        pick_json(&env);
    });
    if ran {
        eprintln!("full disk: 64k tmpfs; cache, add and import refused cleanly, state kept");
    }
}

#[test]

fn logout_on_a_full_disk_is_all_or_nothing() {
    let env = TestEnv::new();
    let home = env.swop_home.clone();
    on_tiny_disk(&env, "64k", "logout on a full disk", || {
        add_named(&env, &["a", "b"]);
        let before = snapshot(&home.join("accounts"));
        let filler = fill_disk(&home, 0);
        // codex logout fails, so it frees nothing either.
        let out = env
            .swop()
            .args(["logout", "b"])
            .env("FAKE_LOGOUT_FAIL", "1")
            .run();
        let names = listed(&env);
        let hidden: Vec<String> = [".logout-", ".retire-"]
            .iter()
            .flat_map(|p| hidden_entries(&env, p))
            .collect();
        eprintln!(
            "logout on a full disk: exit {:?}, listed {names:?}, hidden {hidden:?}\n{}",
            out.code, out.stderr
        );
        if out.success() {
            assert_eq!(names, ["a"]);
        } else {
            assert!(
                out.stderr.contains("No space left on device"),
                "{}",
                out.stderr
            );
            assert_eq!(names, ["a", "b"], "a failed logout made the account vanish");
            assert_eq!(snapshot(&home.join("accounts")), before, "half a logout");
        }
        fs::remove_file(&filler).unwrap();
    });
}

// ---------------------------------------------------------------------------
// 6. crash safety

/// Every listed account is complete: auth.json and swop-account.json parse.
fn assert_listed_accounts_complete(env: &TestEnv, context: &str) -> Vec<String> {
    let names = listed(env);
    for n in &names {
        let home = env.account_home(n);
        let meta = fs::read(home.join("swop-account.json"))
            .unwrap_or_else(|e| panic!("{context}: {n} listed without its record: {e}"));
        serde_json::from_slice::<Value>(&meta)
            .unwrap_or_else(|e| panic!("{context}: {n} record torn: {e}"));
    }
    names
}

#[test]
fn kill_9_at_random_points_never_leaves_a_half_made_account() {
    let t = Instant::now();
    let (env, backend) = setup(&[("base", 10.0)], "cache_ttl = 0\ntimeout = \"1s\"\n");
    let mut kills = 0;
    let mut completed = 0;
    // Adds: killed during the login (hung) or anywhere in the add.
    for i in 0..20 {
        let name = format!("k{i}");
        let fixture = env.write_auth_fixture(&name, &Identity::named(&name));
        let mut c = env.swop();
        c.args(["add", &name]).env("FAKE_CODEX_AUTH", &fixture);
        let hang = i % 2 == 0;
        if hang {
            c.env("FAKE_LOGIN_HANG", "1");
        }
        let r = c.spawn();
        std::thread::sleep(random_ms(if hang { 200 } else { 40 }));
        // kill -9 swop itself; its codex child is reaped a moment later.
        r.signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        r.signal_group(libc::SIGKILL);
        let out = r.wait_output(Duration::from_secs(10));
        if out.signal == Some(libc::SIGKILL) {
            kills += 1;
        } else {
            completed += 1;
        }
        let names = assert_listed_accounts_complete(&env, &format!("after add {name}"));
        for n in &names {
            assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
        }
    }
    // Logouts: killed during `codex logout` (hung) or during the delete.
    let mut set_aside = Vec::new();
    for i in 0..15 {
        let name = format!("v{i}");
        add(&env, &name, &Identity::named(&name));
        let mut c = env.swop();
        c.args(["logout", &name]);
        let hang = i % 3 == 0;
        if hang {
            c.env("FAKE_LOGOUT_HANG", "1");
        }
        let r = c.spawn();
        std::thread::sleep(random_ms(if hang { 200 } else { 30 }));
        r.signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        r.signal_group(libc::SIGKILL);
        let out = r.wait_output(Duration::from_secs(10));
        if out.signal == Some(libc::SIGKILL) {
            kills += 1;
        } else {
            completed += 1;
        }
        let names = assert_listed_accounts_complete(&env, &format!("after logout {name}"));
        // Listed means whole: the sandbox leaves the list before its login
        // is touched (SECURITY.md, promise 19).
        if names.contains(&name) {
            assert!(
                auth_file(&env, &name).is_file(),
                "{name} listed without auth.json"
            );
        } else if hidden_entries(&env, ".logout-")
            .iter()
            .any(|h| h.ends_with(&format!("-{name}")))
        {
            // Killed between the rename and the end: the next logout
            // finishes the job.
            set_aside.push(name.clone());
        }
    }
    // Cache writes: concurrent picks with a stale cache, some killed.
    backend.set_usage_delay(Duration::from_millis(20));
    for _ in 0..3 {
        let running: Vec<_> = (0..8)
            .map(|_| env.swop().args(["pick", "--json"]).spawn())
            .collect();
        for (j, r) in running.into_iter().enumerate() {
            if j % 2 == 0 {
                std::thread::sleep(random_ms(60));
                r.signal(libc::SIGKILL);
            }
            let out = r.wait_output(Duration::from_secs(30));
            match out.signal {
                Some(libc::SIGKILL) => kills += 1,
                _ => {
                    assert!(out.success(), "{}", out.stderr);
                    json_of(&out, "pick");
                    completed += 1;
                }
            }
        }
        cache_files_parse(&env);
    }
    // Everything still works.
    for n in &set_aside {
        env.swop().args(["logout", n]).ok();
    }
    let names = assert_listed_accounts_complete(&env, "at the end");
    for n in &names {
        assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
    }
    env.swop().arg("list").ok();
    env.swop().arg("status").ok();
    add(&env, "survivor", &Identity::named("survivor"));
    assert!(listed(&env).contains(&"survivor".to_string()));
    // The add swept what the killed ones left; the second logouts finished
    // what they set aside.
    for prefix in [".add-", ".trash-", ".retire-", ".logout-"] {
        assert!(
            hidden_entries(&env, prefix).is_empty(),
            "{prefix}* left: {:?}",
            hidden_entries(&env, prefix)
        );
    }
    let (files, tmp) = cache_files_parse(&env);
    eprintln!(
        "kill -9: {kills} killed, {completed} finished, {} set-aside logins finished by a \
         second logout, {} accounts listed and complete, {files} cache files parse, \
         {tmp} temp files left in cache/, {:?}",
        set_aside.len(),
        names.len() + 1,
        t.elapsed()
    );
    // The 15 hung ones are always killed; most of the others too.
    assert!(
        kills >= 15,
        "too few kills landed ({kills}) to mean anything"
    );
}

// ---------------------------------------------------------------------------
// 7. bad input

#[test]
fn bad_account_names_are_refused_by_every_command() {
    let env = TestEnv::new();
    add_named(&env, &["keep"]);
    // Never the real usage server: a closed port.
    write_config(
        &env,
        &format!(
            "[usage]\nbase_url = \"http://127.0.0.1:{}/backend-api\"\ntimeout = \"1s\"\n",
            closed_port()
        ),
    );
    let before = snapshot(&env.swop_home);
    let long = "x".repeat(300);
    let bad = [
        "a/b",
        "..",
        ".",
        "../keep",
        "keep/..",
        "-rf",
        "has space",
        "ünïcode",
        "tab\there",
        "new\nline",
        long.as_str(),
        "",
        ".hidden",
        "/etc",
    ];
    let from = env.root.join("from");
    fs::create_dir_all(&from).unwrap();
    let mut tried = 0;
    for name in bad {
        for cmd in [
            vec!["add", name],
            vec!["import", name, "--from", from.to_str().unwrap()],
            vec!["logout", name],
            vec!["logout", "--force", name],
            vec!["relogin", name],
            vec!["status", name],
            vec!["status", "--json", name],
        ] {
            let out = env.swop().args(&cmd).run();
            tried += 1;
            assert!(
                matches!(out.code, Some(2) | Some(4)),
                "{cmd:?}: exit {:?}: {}",
                out.code,
                out.stderr
            );
            let msg = &out.stderr;
            assert!(
                msg.contains("invalid account name")
                    || msg.contains("invalid option")
                    || msg.contains("missing account NAME")
                    || msg.contains("unexpected argument")
                    || msg.contains("no account named"),
                "{cmd:?}: {msg}"
            );
            assert!(!msg.contains("panicked"), "{cmd:?}");
            if cmd.contains(&"--json") {
                let v = json_of(&out, &format!("{cmd:?}"));
                assert_eq!(v["exit_code"], out.code.unwrap(), "{v}");
            } else {
                assert!(out.stdout.is_empty(), "{cmd:?}: {}", out.stdout);
            }
        }
        // An empty SWOP_ACCOUNT means unset (as codex treats its own).
        if !name.is_empty() {
            let out = env
                .codex()
                .args(["exec", "x"])
                .env("SWOP_ACCOUNT", name)
                .run();
            tried += 1;
            assert!(
                matches!(out.code, Some(2) | Some(4)),
                "SWOP_ACCOUNT={name:?}: {}",
                out.stderr
            );
            assert!(
                ran_in(&out.stdout).is_none(),
                "SWOP_ACCOUNT={name:?}: codex ran"
            );
        }
    }
    assert!(
        env.fake_log()
            .iter()
            .all(|c| c.subcommand() == Some("login")),
        "codex ran for a bad name"
    );
    assert_eq!(
        snapshot(&env.swop_home),
        before,
        "a refused command changed SWOP_HOME"
    );
    assert_eq!(listed(&env), ["keep"]);
    eprintln!(
        "bad names: {} names, {tried} commands refused, nothing changed",
        bad.len()
    );
}

#[test]
fn unknown_commands_and_flags_exit_2_and_point_to_help() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unknown command 'frobnicate'"),
        (&["--bogus"], "--bogus"),
        (&["-x"], "-x"),
        (&["list", "--bogus"], "--bogus"),
        (&["list", "extra"], "unexpected argument 'extra'"),
        (&["status", "--json", "--nope"], "--nope"),
        (&["list", "--json", "--nope"], "--nope"),
        (&["pick", "--json", "x"], "unexpected argument 'x'"),
        (&["pick", "now"], "unexpected argument 'now'"),
        (&["add"], "missing account NAME"),
        (&["add", "a", "b"], "unexpected argument 'b'"),
        (&["logout"], "missing account NAME"),
        (&["import", "x", "--from"], "--from"),
        (&["completions", "tcsh"], "tcsh"),
        (&["completions"], "completions"),
        (&["help", "nope"], "no help for 'nope'"),
        (&["doctor", "--fix"], "--fix"),
        (&["uninstall", "--all"], "--all"),
        (&["LIST"], "unknown command 'LIST'"),
    ];
    for (args, want) in cases {
        let out = env.swop().args(args.iter().copied()).run();
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("help"),
            "{args:?}: no pointer to help: {}",
            out.stderr
        );
        if args.contains(&"--json") {
            // A --json command answers with a JSON error document.
            let v = json_of(&out, &format!("{args:?}"));
            assert_eq!(v["exit_code"], 2, "{v}");
            assert!(v["error"].as_str().unwrap().contains(want), "{v}");
        } else {
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
    }
    assert!(
        !env.swop_home.join("accounts").exists(),
        "a bad command created state"
    );
    eprintln!(
        "unknown commands/flags: {} inputs, exit 2 each",
        cases.len()
    );
}

#[test]
fn json_output_stays_valid_on_error_paths() {
    // No accounts at all.
    let env = TestEnv::new();
    let out = env.swop().args(["list", "--json"]).ok();
    assert_eq!(json_of(&out, "list"), Value::Array(vec![]));
    let out = env.swop().args(["status", "--json"]).ok();
    assert_eq!(json_of(&out, "status")["accounts"], Value::Array(vec![]));
    let out = env.swop().args(["pick", "--json"]).code(4);
    let v = json_of(&out, "pick with no accounts");
    assert_eq!(v["exit_code"], 4, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no accounts"), "{v}");
    json_of(&env.swop().args(["doctor", "--json"]).run(), "doctor");

    // Every account blocked.
    let (env, backend) = setup(
        &[("a", 10.0), ("b", 20.0)],
        "cache_ttl = 0\ntimeout = \"1s\"\n",
    );
    for n in ["a", "b"] {
        let mut u = usage_json("plus", 5.0, 100.0);
        u["rate_limit"]["limit_reached"] = Value::Bool(true);
        backend.set_usage(&format!("acct-{n}"), u);
    }
    let out = env.swop().args(["pick", "--json"]).code(5);
    let v = json_of(&out, "pick blocked");
    assert_eq!(v["account"], Value::Null);
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["accounts"].as_array().unwrap().len(), 2);

    // Every session dead.
    for n in ["a", "b"] {
        backend.set_usage_fault(&format!("acct-{n}"), Fault::Status(401, "{}".into()));
    }
    let out = env
        .swop()
        .args(["pick", "--json"])
        .env("FAKE_APP_SERVER", "dead")
        .code(6);
    let v = json_of(&out, "pick dead");
    assert_eq!(v["exit_code"], 6, "{v}");

    // The usage server failing in every way.
    for fault in [
        Fault::Status(500, "{}".into()),
        Fault::NotJson,
        Fault::Hang,
        Fault::Redirect("http://127.0.0.1:1/".into()),
    ] {
        for n in ["a", "b"] {
            backend.set_usage_fault(&format!("acct-{n}"), fault.clone());
        }
        for args in [
            &["status", "--json"][..],
            &["status", "--json", "--refresh"],
            &["pick", "--json"],
            &["doctor", "--json"],
        ] {
            let out = env.swop().args(args.iter().copied()).run();
            let v = json_of(&out, &format!("{args:?} {fault:?}"));
            if args[0] == "status" {
                assert!(out.success());
                let w = v["accounts"][0]["warning"].as_str().unwrap_or("");
                assert!(!w.is_empty(), "{fault:?}: no warning in {v}");
            }
        }
    }
    // A refused connection, and a bad name argument.
    write_config(
        &env,
        &format!(
            "[usage]\nbase_url = \"http://127.0.0.1:{}/backend-api\"\ntimeout = \"1s\"\n",
            closed_port()
        ),
    );
    let out = env.swop().args(["status", "--json", "--refresh"]).ok();
    let v = json_of(&out, "status refused");
    assert!(
        v["accounts"][1]["warning"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{v}"
    );
    let out = env.swop().args(["status", "--json", "nobody"]).code(4);
    let v = json_of(&out, "status nobody");
    assert!(v["error"].as_str().unwrap().contains("nobody"), "{v}");
    // A broken swop.toml is an error document too.
    write_config(&env, "[usage\n");
    for args in [
        &["status", "--json"][..],
        &["pick", "--json"],
        &["list", "--json"],
    ] {
        let out = env.swop().args(args.iter().copied()).code(3);
        assert_eq!(json_of(&out, "bad config")["exit_code"], 3);
    }
    write_config(&env, "");
    let out = env.swop().args(["list", "--json"]).ok();
    assert_eq!(json_of(&out, "list").as_array().unwrap().len(), 2);
}
