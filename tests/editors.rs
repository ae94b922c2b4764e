//! Editors: `codex app-server` through the shim as VS Code's
//! Codex extension and Zed run it (the real codex over JSON-RPC on the
//! loopback rig: in-turn failover by default, logins refused by the guard),
//! and `swop ide` on settings files with comments, trailing commas and
//! other keys.

use crate::support::world::real_codex_world;
use crate::support::{
    access_token_of, real_codex, usage_json, Backend, Responses, TestCommand, TestEnv,
};
use serde_json::{json, Value};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// A JSON-RPC client of `codex app-server` over stdio, as an editor is.
struct AppServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    next_id: i64,
    /// Every notification seen so far.
    seen: Vec<Value>,
}

impl AppServer {
    fn start(cmd: &TestCommand) -> AppServer {
        let mut c = cmd.to_command();
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn the app server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON message ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (sink, mut from) = (stderr.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut from, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut s = AppServer {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stderr,
            next_id: 0,
            seen: Vec::new(),
        };
        let init = s.request(
            "initialize",
            json!({"clientInfo": {"name": "swop-test", "title": "swop test", "version": "0.1"},
                   "capabilities": {}}),
        );
        assert!(init.get("result").is_some(), "initialize: {init}");
        s.send(&json!({"jsonrpc": "2.0", "method": "initialized"}));
        s
    }

    fn send(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    fn next(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(v) => v,
            Err(_) => panic!(
                "no {waiting_for} from the app server in time; notifications: {:?}\nstderr:\n{}",
                self.seen,
                self.stderr()
            ),
        }
    }

    /// Sends a request and returns its answer (result or error).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.next(deadline, &format!("answer to {method}"));
            if v.get("id") == Some(&json!(id)) && v.get("method").is_none() {
                return v;
            }
            self.seen.push(v);
        }
    }

    /// Waits for the notification `method` whose params satisfy `want`.
    fn wait_for(&mut self, method: &str, want: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self
            .seen
            .iter()
            .find(|v| v["method"] == method && want(&v["params"]))
        {
            return v.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.next(deadline, method);
            let hit = v["method"] == method && want(&v["params"]);
            self.seen.push(v.clone());
            if hit {
                return v;
            }
        }
    }

    /// One turn in `thread`: its `turn/completed` notification.
    fn turn(&mut self, thread: &str, text: &str) -> Value {
        let r = self.request(
            "turn/start",
            json!({"threadId": thread,
                   "input": [{"type": "text", "text": text, "text_elements": []}]}),
        );
        let turn_id = r["result"]["turn"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("turn/start: {r}"))
            .to_string();
        self.wait_for("turn/completed", |p| p["turn"]["id"] == turn_id)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes stdin (an app server exits then) and waits: the exit code
    /// and everything it wrote on stderr (scanned for secrets).
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let child = &mut self.child;
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr();
        crate::support::assert_no_secrets(&err, "app server stderr");
        for v in &self.seen {
            crate::support::assert_no_secrets(&v.to_string(), "app server notification");
        }
        (status.code(), err)
    }
}

/// A test that fails never leaves the server running (it would hold what
/// the test process held, e.g. a lock).
impl Drop for AppServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn token(env: &TestEnv, name: &str) -> String {
    access_token_of(&fs::read_to_string(env.account_home(name).join("auth.json")).unwrap())
}

/// The bearer tokens of the model turns the backend saw, in order.
fn turn_tokens(backend: &Backend) -> Vec<String> {
    backend
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/responses"))
        .map(|r| r.bearer().unwrap_or_default().to_string())
        .collect()
}

/// `codex app-server` through the shim, on the real codex and the rig.
fn real_app_server(env: &TestEnv, backend: &Backend, real: &Path) -> TestCommand {
    let mut c = env.codex();
    c.arg("app-server")
        .env("SWOP_CODEX", real)
        .envs(backend.rig_env())
        .timeout(Duration::from_secs(120));
    c
}

#[test]
fn real_app_server_fails_over_inside_the_running_server_by_default() {
    let Some(real) = real_codex() else { return };
    // No [failover] table at all: the app server gets the relay by default.
    let (env, backend) = real_codex_world(&[("work", 10.0), ("personal", 40.0)], "", |b| {
        b.rig_config_toml()
    });
    assert!(!fs::read_to_string(env.swop_home.join("swop.toml"))
        .unwrap()
        .contains("failover"));
    let mut server = AppServer::start(&real_app_server(&env, &backend, &real));
    let thread = server.request("thread/start", json!({"cwd": env.work}));
    let thread = thread["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/start: {thread}"))
        .to_string();

    let first = server.turn(&thread, "first");
    assert_eq!(first["params"]["turn"]["status"], "completed", "{first}");
    assert_eq!(
        turn_tokens(&backend),
        vec![token(&env, "work")],
        "the picked account"
    );

    // work runs out while the editor keeps the same app server open.
    let resets_at = crate::support::now_unix() + 3 * 86400;
    backend.set_responses("acct-work", Responses::UsageLimit { resets_at });
    let second = server.turn(&thread, "second");
    assert_eq!(second["params"]["turn"]["status"], "completed", "{second}");
    let tokens = turn_tokens(&backend);
    assert_eq!(
        tokens,
        vec![
            token(&env, "work"),
            token(&env, "work"),
            token(&env, "personal")
        ],
        "the refused turn went out again on personal"
    );
    let (_, stderr) = server.finish();
    assert!(
        stderr.contains(
            "'work' hit its usage limit; codex's turns continue on 'personal' (in-turn failover)"
        ),
        "{stderr}"
    );
}

/// What the README says the editor shows when every account is spent:
/// codex's own usage-limit failure for that turn, in the same server, and
/// the next turn tries again.
#[test]
fn real_app_server_with_every_account_spent_fails_the_turn_and_keeps_serving() {
    let Some(real) = real_codex() else { return };
    let (env, backend) = real_codex_world(&[("work", 10.0), ("personal", 40.0)], "", |b| {
        b.rig_config_toml()
    });
    let mut server = AppServer::start(&real_app_server(&env, &backend, &real));
    let thread = server.request("thread/start", json!({"cwd": env.work}));
    let thread = thread["result"]["thread"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("thread/start: {thread}"))
        .to_string();
    let first = server.turn(&thread, "first");
    assert_eq!(first["params"]["turn"]["status"], "completed", "{first}");

    let resets_at = crate::support::now_unix() + 3 * 86400;
    for acct in ["acct-work", "acct-personal"] {
        backend.set_responses(acct, Responses::UsageLimit { resets_at });
    }
    let spent = server.turn(&thread, "second");
    let turn = &spent["params"]["turn"];
    assert_eq!(turn["status"], "failed", "{spent}");
    assert_eq!(
        turn["error"]["codexErrorInfo"], "usageLimitExceeded",
        "{spent}"
    );
    assert!(
        turn["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("hit your usage limit")),
        "{spent}"
    );
    assert_eq!(
        turn_tokens(&backend)[1..],
        [token(&env, "work"), token(&env, "personal")],
        "both accounts were asked before codex got the refusal"
    );

    // personal's limit resets: the next turn in the same server gets through.
    backend.set_responses("acct-personal", Responses::Ok("back".into()));
    backend.set_usage("acct-personal", usage_json("plus", 5.0, 40.0));
    let again = server.turn(&thread, "third");
    assert_eq!(again["params"]["turn"]["status"], "completed", "{again}");
    assert_eq!(
        turn_tokens(&backend).last(),
        Some(&token(&env, "personal")),
        "answered on personal"
    );
    let (code, stderr) = server.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn real_app_server_login_requests_from_the_editor_never_reach_the_accounts_login() {
    let Some(real) = real_codex() else { return };
    // `account/read` needs codex's workspace routing, which wants https.
    let (env, backend) = real_codex_world(&[("work", 10.0)], "", |b| b.rig_config_toml_tls());
    let auth = env.account_home("work").join("auth.json");
    let before = fs::read(&auth).unwrap();
    let mut cmd = real_app_server(&env, &backend, &real);
    cmd.envs(backend.tls_env(&env.root));
    let mut server = AppServer::start(&cmd);

    // Reading the account passes through: the editor sees it is logged in.
    let read = server.request("account/read", json!({}));
    assert!(read.get("result").is_some(), "{read}");
    assert_eq!(
        read["result"]["account"]["email"], "work@example.com",
        "{read}"
    );

    // What an editor sends when it thinks it is logged out, or signs out.
    let key = crate::support::api_key();
    let asks = [
        ("account/logout", Value::Null, "swop logout work"),
        (
            "account/login/start",
            json!({"type": "chatgpt"}),
            "swop relogin work",
        ),
        (
            "account/login/start",
            json!({"type": "chatgptDeviceCode"}),
            "swop relogin work",
        ),
        (
            "account/login/start",
            json!({"type": "apiKey", "apiKey": key}),
            "swop relogin work",
        ),
        (
            "accountSession/switch",
            json!({"sessionId": "x"}),
            "SWOP_ACCOUNT",
        ),
    ];
    for (method, params, says) in asks {
        let r = server.request(method, params);
        // Without the guard codex revokes and deletes the login right here.
        assert_eq!(backend.count("/oauth/revoke"), 0, "{method} revoked: {r}");
        assert_eq!(fs::read(&auth).ok(), Some(before.clone()), "{method}: {r}");
        let msg = r["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{method}: {r}"));
        assert!(
            msg.contains(says) && msg.contains("swop"),
            "{method}: {msg}"
        );
    }
    // The same server still works on the same login.
    let thread = server.request("thread/start", json!({"cwd": env.work}));
    let thread = thread["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let turn = server.turn(&thread, "still here");
    assert_eq!(turn["params"]["turn"]["status"], "completed", "{turn}");
    let (_, stderr) = server.finish();

    assert_eq!(backend.count("/oauth/revoke"), 0, "nothing was revoked");
    assert_eq!(
        fs::read(&auth).unwrap(),
        before,
        "auth.json is exactly as it was"
    );
    assert!(stderr.contains("account/logout refused"), "{stderr}");
    assert_eq!(turn_tokens(&backend), vec![token(&env, "work")]);
}

#[test]
fn real_app_server_startup_sign_out_through_swop_is_refused() {
    let Some(real) = real_codex() else { return };
    let (env, backend) = real_codex_world(&[("work", 10.0)], "", |b| b.rig_config_toml());
    let auth = env.account_home("work").join("auth.json");
    let before = fs::read(&auth).unwrap();
    let out = real_app_server(&env, &backend, &real)
        .args(["--print-startup-config", "--startup-sign-out"])
        .code(2);
    assert!(out.stderr.contains("--startup-sign-out"), "{}", out.stderr);
    assert!(out.stderr.contains("swop logout NAME"), "{}", out.stderr);
    assert_eq!(backend.count("/oauth/revoke"), 0);
    assert_eq!(fs::read(&auth).unwrap(), before);
}

// ---------------------------------------------------------------------------
// The app server's relay and routing, with the fake codex.

/// The relay URL the fake codex was given in its `app-server` run, if any.
fn relayed(env: &TestEnv) -> Option<String> {
    env.fake_log()
        .iter()
        .filter(|c| c.subcommand() == Some("app-server") && c.launched_home.is_some())
        .flat_map(|c| c.args.clone())
        .find_map(|a| a.strip_prefix("openai_base_url=").map(str::to_string))
}

fn app_server_world(extra: &str) -> (TestEnv, Backend) {
    crate::support::world::World::new(&[("work", 10.0)])
        .extra(extra)
        .config_first()
        .build()
}

#[test]
fn an_app_server_gets_the_relay_unless_swop_toml_says_in_turn_false() {
    let (env, _backend) = app_server_world("");
    env.codex().arg("app-server").ok();
    assert!(relayed(&env).is_some(), "{:?}", env.fake_log());
    // exec keeps its default: no relay.
    let (env, _backend) = app_server_world("");
    env.codex().args(["exec", "hi"]).ok();
    assert!(
        relayed(&env).is_none()
            && env
                .fake_log()
                .iter()
                .all(|c| !c.args.iter().any(|a| a.starts_with("openai_base_url=")))
    );
    let (env, _backend) = app_server_world("[failover]\nin_turn = false\n");
    env.codex().arg("app-server").ok();
    assert!(relayed(&env).is_none(), "{:?}", env.fake_log());
}

#[test]
fn a_workspace_bound_to_its_own_backend_keeps_codexs_routing_and_is_told_once() {
    let (env, backend) = app_server_world("");
    backend.set_workspace_origin("acct-work", "https://eu.chatgpt.example");
    let first = env.codex().arg("app-server").ok();
    assert!(relayed(&env).is_none(), "no relay for this account");
    let said =
        "in-turn failover is off on 'work': its workspace routes model requests to its own backend";
    assert!(first.stderr.contains(said), "{}", first.stderr);
    let checks = backend.count("/backend-api/wham/accounts/check");
    assert_eq!(checks, 1);
    let second = env.codex().arg("app-server").ok();
    assert!(
        !second.stderr.contains(said),
        "said once: {}",
        second.stderr
    );
    assert_eq!(
        backend.count("/backend-api/wham/accounts/check"),
        checks,
        "cached"
    );
    assert!(relayed(&env).is_none());
}

#[test]
fn a_workspace_whose_routing_cannot_be_learned_gets_no_relay_and_a_reason() {
    let (env, backend) = app_server_world("");
    drop(backend); // the check cannot be answered
    let out = env.codex().arg("app-server").ok();
    assert!(relayed(&env).is_none());
    assert!(
        out.stderr
            .contains("cannot tell whether its workspace needs codex's own routing"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// `swop ide`

/// An installed swop: `$SWOP_HOME/shim/codex` -> the swop binary.
fn installed() -> TestEnv {
    let env = TestEnv::new();
    let shim = env.swop_home.join("shim");
    fs::create_dir_all(&shim).unwrap();
    for d in [&env.swop_home, &shim] {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::os::unix::fs::symlink(crate::support::swop_bin(), shim.join("codex")).unwrap();
    env
}

fn shim_of(env: &TestEnv) -> String {
    env.swop_home.join("shim/codex").display().to_string()
}

fn put(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn vscode_user(env: &TestEnv) -> PathBuf {
    env.home.join(".config/Code/User/settings.json")
}

fn vscode_remote(env: &TestEnv) -> PathBuf {
    env.home.join(".vscode-server/data/Machine/settings.json")
}

fn zed_settings(env: &TestEnv) -> PathBuf {
    env.home.join(".config/zed/settings.json")
}

const VSCODE_TEXT: &str = "// Place your settings in this file\n{\n    \"editor.fontSize\": 14, // bigger\n    /* the theme */\n    \"workbench.colorTheme\": \"Default Dark+\",\n    \"files.exclude\": {\n        \"**/.git\": true,\n    },\n}\n";

/// The editor's view: what it runs with its own environment (no SWOP_*,
/// a desktop PATH without the real codex's folder: the system's tools
/// without any codex the host may have in /usr/bin).
fn as_the_editor_runs(env: &TestEnv, program: &str) -> TestCommand {
    let mut c = env.command(program);
    c.env_remove("SWOP_CODEX")
        .env_remove("SWOP_HOME")
        .env("PATH", crate::support::system_path());
    c
}

#[test]
fn ide_vscode_sets_the_key_in_user_and_remote_settings_keeping_every_other_byte() {
    let env = installed();
    put(&vscode_user(&env), VSCODE_TEXT);
    let remote_text = "{\n  \"remote.autoForwardPorts\": false\n}\n";
    put(&vscode_remote(&env), remote_text);
    let out = env.swop().args(["ide", "vscode"]).ok();
    let shim = shim_of(&env);
    let line = format!("    \"chatgpt.cliExecutable\": \"{shim}\",\n");
    let want = VSCODE_TEXT.replacen("    },\n}", &format!("    }},\n{line}}}"), 1);
    assert_eq!(
        fs::read_to_string(vscode_user(&env)).unwrap(),
        want,
        "{}",
        out.stdout
    );
    assert_eq!(
        fs::read_to_string(vscode_remote(&env)).unwrap(),
        format!("{{\n  \"remote.autoForwardPorts\": false,\n  \"chatgpt.cliExecutable\": \"{shim}\"\n}}\n")
    );
    // The previous content is kept beside each file.
    let backup = vscode_user(&env).with_file_name("settings.json.swop-backup");
    assert_eq!(fs::read_to_string(backup).unwrap(), VSCODE_TEXT);
    assert!(
        out.stdout.contains("vscode (user)") && out.stdout.contains("vscode (remote)"),
        "{}",
        out.stdout
    );

    // The configured path runs the shim in the editor's environment, which
    // has no real codex on PATH: swop uses the path it recorded.
    let version = as_the_editor_runs(&env, &shim).arg("--version").ok();
    assert_eq!(
        version.stdout.trim(),
        "codex-cli 0.0.0-fake",
        "{}",
        version.stderr
    );
    let listed = env.swop().args(["ide", "--json"]).ok();
    let v: Value = serde_json::from_str(&listed.stdout).unwrap();
    let vscode: Vec<&Value> = v["editors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["editor"] == "vscode")
        .collect();
    assert_eq!(vscode.len(), 2, "{v}");
    assert!(
        vscode
            .iter()
            .all(|e| e["through_swop"] == true && e["value"] == shim.as_str()),
        "{v}"
    );
    assert_eq!(v["real_codex"], env.fake_codex.display().to_string());

    env.swop().args(["ide", "vscode", "--remove"]).ok();
    assert_eq!(fs::read_to_string(vscode_user(&env)).unwrap(), VSCODE_TEXT);
    assert_eq!(
        fs::read_to_string(vscode_remote(&env)).unwrap(),
        remote_text
    );
    let table = env.swop().arg("ide").ok();
    assert!(table.stdout.contains("no (not set)"), "{}", table.stdout);
}

#[test]
fn ide_zed_sets_codex_path_in_the_codex_agent_env_and_remove_restores_it() {
    let env = installed();
    let text = "// Zed settings\n{\n  \"theme\": \"One Dark\", // dark\n  \"vim_mode\": true,\n  \"languages\": {\"Rust\": {\"tab_size\": 4,},},\n}\n";
    put(&zed_settings(&env), text);
    env.swop().args(["ide", "zed"]).ok();
    let now = fs::read_to_string(zed_settings(&env)).unwrap();
    // Every byte the person had stays; the new entry goes before the
    // closing brace, the trailing comma kept.
    let entry = format!(
        "  \"agent_servers\": {{\n    \"codex-acp\": {{\n      \"type\": \"registry\",\n      \"env\": {{\n        \"CODEX_PATH\": \"{}\"\n      }}\n    }}\n  }},\n",
        shim_of(&env)
    );
    assert_eq!(now, text.replacen("\n}\n", &format!("\n{entry}}}\n"), 1));
    let no_comments: String = now
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| l.split(" //").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let no_trailing = no_comments.replace(",}", "}").replace(",\n}", "\n}");
    let v: Value =
        serde_json::from_str(&no_trailing).unwrap_or_else(|e| panic!("{e}: {no_trailing}"));
    let agent = &v["agent_servers"]["codex-acp"];
    assert_eq!(agent["type"], "registry", "{now}");
    assert_eq!(agent["env"]["CODEX_PATH"], shim_of(&env).as_str(), "{now}");
    // What Zed's adapter runs answers through the shim in Zed's environment.
    let path = agent["env"]["CODEX_PATH"].as_str().unwrap();
    let version = as_the_editor_runs(&env, path).arg("--version").ok();
    assert_eq!(
        version.stdout.trim(),
        "codex-cli 0.0.0-fake",
        "{}",
        version.stderr
    );
    let listed = env.swop().args(["ide", "--json"]).ok();
    assert!(
        listed.stdout.contains("\"through_swop\": true"),
        "{}",
        listed.stdout
    );

    env.swop().args(["ide", "zed", "--remove"]).ok();
    assert_eq!(fs::read_to_string(zed_settings(&env)).unwrap(), text);

    // An agent entry the person had keeps everything but CODEX_PATH.
    let own = "{\n  \"agent_servers\": {\n    \"codex-acp\": {\n      \"type\": \"registry\",\n      \"default_mode\": \"auto\",\n    },\n  },\n}\n";
    put(&zed_settings(&env), own);
    env.swop().args(["ide", "zed"]).ok();
    assert!(fs::read_to_string(zed_settings(&env))
        .unwrap()
        .contains("CODEX_PATH"));
    env.swop().args(["ide", "zed", "--remove"]).ok();
    assert_eq!(fs::read_to_string(zed_settings(&env)).unwrap(), own);
}

#[test]
fn ide_leaves_a_settings_file_that_does_not_parse_untouched_and_says_where() {
    let env = installed();
    let broken = "{\n  \"editor.fontSize\": 14,\n  \"editor.tabSize\" 4\n}\n";
    put(&vscode_user(&env), broken);
    let out = env.swop().args(["ide", "vscode"]).code(1);
    assert!(out.stderr.contains("line 3, column 20"), "{}", out.stderr);
    assert!(out.stderr.contains("left it untouched"), "{}", out.stderr);
    assert_eq!(fs::read_to_string(vscode_user(&env)).unwrap(), broken);
    assert!(!vscode_user(&env)
        .with_file_name("settings.json.swop-backup")
        .exists());
    assert!(
        !env.swop_home.join("codex-path.json").exists(),
        "nothing done at all"
    );
    let listed = env.swop().arg("ide").ok();
    assert!(
        listed.stdout.contains("line 3, column 20"),
        "{}",
        listed.stdout
    );
    // Zed's file too.
    put(&zed_settings(&env), "{\"theme\": \"x\",, }");
    let out = env.swop().args(["ide", "zed"]).code(1);
    assert!(out.stderr.contains("line 1, column"), "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(zed_settings(&env)).unwrap(),
        "{\"theme\": \"x\",, }"
    );
}

#[test]
fn ide_edits_a_linked_settings_file_where_it_points_and_keeps_the_link() {
    let env = installed();
    let dotfiles = env.root.join("dotfiles/vscode.json");
    put(&dotfiles, "{\n  \"a\": 1\n}\n");
    fs::create_dir_all(vscode_user(&env).parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&dotfiles, vscode_user(&env)).unwrap();
    env.swop().args(["ide", "vscode"]).ok();
    assert!(fs::symlink_metadata(vscode_user(&env))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&dotfiles)
        .unwrap()
        .contains("chatgpt.cliExecutable"));
}

#[test]
fn ide_names_where_it_looked_for_an_editor_that_is_not_here() {
    let env = installed();
    let out = env.swop().args(["ide", "cursor"]).code(1);
    assert!(out.stderr.contains(".config/Cursor/User"), "{}", out.stderr);
    assert!(out.stderr.contains(".cursor-server"), "{}", out.stderr);
    let out = env.swop().args(["ide", "vscodee"]).code(2);
    assert!(
        out.stderr.contains("did you mean 'vscode'"),
        "{}",
        out.stderr
    );
    let out = env.swop().arg("ide").ok();
    assert!(
        out.stdout.contains("no editor found here"),
        "{}",
        out.stdout
    );
    if !cfg!(target_os = "macos") {
        let out = env.swop().args(["ide", "desktop"]).code(1);
        assert!(out.stderr.contains("macOS only"), "{}", out.stderr);
    }
}

#[test]
fn the_shim_never_runs_itself_when_the_recorded_codex_leads_back_to_swop() {
    let env = installed();
    fs::write(
        env.swop_home.join("codex-path.json"),
        json!({"path": env.swop_home.join("shim/codex")}).to_string(),
    )
    .unwrap();
    let out = as_the_editor_runs(&env, &shim_of(&env))
        .arg("--version")
        .code(7);
    assert!(
        out.stderr.contains("cannot find the real codex"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("swop ide"), "{}", out.stderr);
}
