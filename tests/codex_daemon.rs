//! Codex's background app server (the "daemon", codex 0.162.1 and
//! later), found out with the real codex (SWOP_TEST_REAL_CODEX) on the
//! loopback rig, and what swop does about it.
//!
//! What these tests show (README, "codex's background app server"):
//! launches through swop, `codex exec` and the TUI alike, never start a
//! background server in an account's sandbox (swop's `-c` makes codex run
//! an embedded one); one started on purpose on an account
//! (`SWOP_ACCOUNT=a codex app-server daemon start`) outlives codex, so
//! `swop ps` shows it, `swop logout` refuses while it runs and `--force`
//! stops it (and its updater) before the sandbox goes.
//!
//! Every server a test starts is killed when the test ends, however it
//! ends ([`Reaper`]): nothing is left running on the machine.

use crate::support::{real_codex, Responses, TestCommand, TestEnv};
use crate::tui::{turn_done, until_ready, TuiRig};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Kills, on drop, every process named by a codex pid file under these
/// homes whose command line is inside the home (the daemon runs from
/// `<home>/packages/...`), so a failed test leaves nothing running.
struct Reaper(Vec<PathBuf>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for home in &self.0 {
            for f in ["daemon.pid", "daemon-updater.pid"] {
                if let Some(pid) = pid_in(&home.join("app-server-daemon").join(f)) {
                    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    if String::from_utf8_lossy(&cmdline).contains(&*home.to_string_lossy()) {
                        // SAFETY: a process this test started, checked above.
                        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    }
                }
            }
        }
    }
}

fn pid_in(file: &Path) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_slice(&fs::read(file).ok()?).ok()?;
    v["pid"].as_u64().map(|p| p as u32)
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Waits (bounded) for `pid` to be gone.
fn gone(pid: u32) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// What a background server leaves in a codex home.
fn server_traces(home: &Path) -> Vec<String> {
    ["app-server-daemon", "app-server-control", "packages"]
        .iter()
        .filter(|d| home.join(d).exists())
        .map(|d| d.to_string())
        .collect()
}

fn servers(env: &TestEnv) -> Vec<serde_json::Value> {
    let out = env.swop().args(["ps", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v["servers"].as_array().cloned().unwrap_or_default()
}

#[test]
fn real_launches_through_swop_start_no_background_server() {
    let Some(rig) = TuiRig::new(&[("a", 10.0)], "") else {
        return;
    };
    let home = rig.env.account_home("a");
    let _reaper = Reaper(vec![home.clone()]);
    rig.backend
        .set_responses("acct-a", Responses::Ok("from the rig".into()));
    let mut c = rig.env.codex();
    c.args(["exec", "--skip-git-repo-check", "hi"])
        .env("SWOP_CODEX", &rig.real)
        .envs(rig.backend.tls_env(&rig.env.root))
        .current_dir(&rig.project)
        .timeout(Duration::from_secs(90));
    let out = c.ok();
    assert_eq!(out.stdout.trim(), "from the rig", "{}", out.stderr);
    assert_eq!(server_traces(&home), Vec::<String>::new(), "after exec");
    // The TUI (codex starts its server there when run plainly): a turn,
    // then /quit. It ran embedded: it ends as a session that is over, not
    // one that a background server keeps running.
    let tui = rig.start(&[]);
    until_ready(&tui);
    tui.send("say something");
    tui.wait_for("from the rig", Duration::from_secs(60));
    turn_done(&tui, 1);
    tui.send("/quit");
    let code = tui.wait_exit(Duration::from_secs(60));
    let pane = tui.history();
    assert_eq!(code, 0, "{pane}");
    assert!(pane.contains("swop: codex on 'a'"), "{pane}");
    assert!(
        !pane.contains("Any running work continues"),
        "not handed to a background server: {pane}"
    );
    assert_eq!(server_traces(&home), Vec::<String>::new(), "after the TUI");
    assert!(servers(&rig.env).is_empty());
}

/// The real codex on the plain (http) rig, through the shim.
fn shim(env: &TestEnv, real: &Path, backend: &crate::support::Backend) -> TestCommand {
    let mut c = env.codex();
    c.env("SWOP_CODEX", real)
        .envs(backend.rig_env())
        .timeout(Duration::from_secs(120));
    c
}

#[test]
fn real_background_server_on_an_account_is_shown_guarded_and_stopped_by_logout() {
    let Some(real) = real_codex() else { return };
    let (env, backend) =
        crate::support::world::real_codex_world(&[("a", 10.0), ("b", 20.0)], "", |b| {
            b.rig_config_toml()
        });
    let home = env.account_home("a");
    let _reaper = Reaper(vec![home.clone(), env.account_home("b")]);
    // Not on whichever account a pick finds.
    let out = shim(&env, &real, &backend)
        .args(["app-server", "daemon", "start"])
        .code(2);
    assert!(out.stderr.contains("SWOP_ACCOUNT=NAME"), "{}", out.stderr);
    assert!(server_traces(&home).is_empty());
    // On purpose, on a: it starts there and outlives the codex that
    // started it.
    let out = shim(&env, &real, &backend)
        .args(["app-server", "daemon", "start"])
        .env("SWOP_ACCOUNT", "a")
        .ok();
    assert!(
        out.stdout.contains("\"status\":\"started\""),
        "{}",
        out.stdout
    );
    let pid = pid_in(&home.join("app-server-daemon/daemon.pid")).expect("daemon.pid");
    let updater = pid_in(&home.join("app-server-daemon/daemon-updater.pid"));
    assert!(
        alive(pid),
        "the server outlives `codex app-server daemon start`"
    );
    assert!(home.join("packages/app-server-daemon").is_dir());
    assert!(server_traces(&env.account_home("b")).is_empty());
    let s = servers(&env);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0]["account"], "a");
    assert_eq!(s[0]["pid"], pid);
    let text = env.swop().args(["ps"]).ok().stdout;
    assert!(
        text.contains(&format!(
            "codex's background app server runs on 'a' (pid {pid}"
        )),
        "{text}"
    );
    // A launch on a meanwhile runs embedded, as before.
    let out = shim(&env, &real, &backend)
        .args(["exec", "--skip-git-repo-check", "hi"])
        .env("SWOP_ACCOUNT", "a")
        .ok();
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    // Logout refuses while it keeps the login...
    let mut c = env.swop();
    c.args(["logout", "a"])
        .env("SWOP_CODEX", &real)
        .envs(backend.rig_env());
    let out = c.code(1);
    assert!(
        out.stderr
            .contains(&format!("pid {pid}: codex's background app server")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("swop logout a --force"),
        "{}",
        out.stderr
    );
    assert!(home.join("auth.json").exists() && alive(pid));
    // ... and --force stops it (and its updater) before the sandbox goes.
    let mut c = env.swop();
    c.args(["logout", "a", "--force"])
        .env("SWOP_CODEX", &real)
        .envs(backend.rig_env())
        .timeout(Duration::from_secs(120));
    let out = c.ok();
    assert!(
        out.stderr
            .contains("stopped codex's background app server on 'a'"),
        "{}",
        out.stderr
    );
    assert!(gone(pid), "the server was stopped");
    if let Some(u) = updater {
        assert!(gone(u), "its updater was stopped too");
    }
    assert!(!home.join("auth.json").exists());
    assert!(!home.join("packages").exists(), "its copy of codex is gone");
    assert!(servers(&env).is_empty());
}
