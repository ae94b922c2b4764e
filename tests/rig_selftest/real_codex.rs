//! The real codex against the fake backend (with SWOP_TEST_REAL_CODEX;
//! skipped otherwise): exec, the usage limit and a dead session, and the
//! app server reading usage through the rig. This shows that the rig
//! answers the way the real codex expects before swop is tested on it.

use crate::support::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

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
