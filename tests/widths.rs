//! What a person reads fits the terminal (items 3, 6, 15, on a
//! real pty at 60 and 80 columns, with COLUMNS unset so the width comes
//! from the terminal itself), piped output stays whole, and the wording
//! fixes (items 4, 5, 7, 13, 14) that show in the output of commands.

use crate::support::world::{add, config_for, world};
use crate::support::{
    run_in_pty_cols, strip_ansi, widest, Backend, Fault, Identity, TestCommand, TestEnv,
};
use serde_json::Value;
use std::time::Duration;

const WIDTHS: [u16; 2] = [60, 80];

/// What a `cols`-wide terminal shows for `cmd` (escape codes and CRs
/// removed); the exit code too. The command is killed after `timeout`.
fn on_terminal(cmd: &mut TestCommand, cols: u16, timeout: Duration) -> (Option<i32>, String) {
    let mut c = cmd.env("TERM", "dumb").env_remove("COLUMNS").to_command();
    let (code, out, _) = run_in_pty_cols(&mut c, b"", timeout, cols);
    (code, strip_ansi(&out))
}

fn shown(cmd: &mut TestCommand, cols: u16) -> String {
    let (code, out) = on_terminal(cmd, cols, Duration::from_secs(30));
    assert_eq!(code, Some(0), "at {cols} columns:\n{out}");
    out
}

fn assert_fits(out: &str, cols: u16, what: &str) {
    assert!(
        widest(out) <= cols as usize,
        "{what}: a line is wider than {cols}:\n{out}"
    );
}

const LONG: &str = "team-shared-workspace-of-the-whole-org-1";

#[test]
fn list_keeps_each_account_on_one_line() {
    let env = TestEnv::new();
    add(&env, LONG, &Identity::named(LONG));
    add(&env, "b", &Identity::named("b").with_plan("pro"));
    for cols in WIDTHS {
        let out = shown(env.swop().arg("list"), cols);
        assert_fits(&out, cols, "list");
        let row = out.lines().find(|l| l.starts_with("team-")).unwrap();
        assert!(row.ends_with("plus"), "PLAN on its own line:\n{out}");
        assert!(out.contains('…'), "{out}");
    }
    let piped = env.swop().arg("list").ok().stdout;
    assert!(piped.contains(&format!("{LONG}@example.com")), "{piped}");
}

/// At 60 columns the columns that say nothing go first
/// (an all-`-` USABLE AGAIN, an all-`0` LIVE), not WEEK RESET; at 80 a
/// 40-character name is cut instead of costing columns.
#[test]
fn status_drops_empty_columns_first_and_cuts_long_names() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    let out = shown(env.swop().arg("status"), 60);
    assert_fits(&out, 60, "status");
    assert!(out.contains("WEEK RESET"), "{out}");
    for gone in ["LIVE", "USABLE AGAIN", "BACK"] {
        assert!(!out.contains(gone), "{gone} says nothing here:\n{out}");
    }
    let (env, _backend) = world(&[(LONG, 10.0), ("b", 20.0)], "");
    let out = shown(env.swop().arg("status"), 80);
    assert_fits(&out, 80, "status");
    assert!(out.contains("team-shared-") && out.contains('…'), "{out}");
    for kept in ["PLAN", "WEEK RESET", "5H USED", "WEEK USED"] {
        assert!(
            out.contains(kept),
            "{kept} dropped, the name not cut:\n{out}"
        );
    }
    let piped = env.swop().arg("status").ok().stdout;
    assert!(piped.contains(LONG) && piped.contains("LIVE"), "{piped}");
}

/// The `--watch` frame fits, and says nothing about a
/// failing account beyond its one line under the table.
#[test]
fn status_watch_fits_and_says_a_failure_once() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = \"1h\"\n");
    backend.set_usage_fault("acct-b", Fault::Status(500, "{}".into()));
    for cols in WIDTHS {
        let (_, out) = on_terminal(
            env.swop().args(["status", "--watch", "1"]),
            cols,
            Duration::from_secs(3),
        );
        assert!(out.contains("Ctrl-C"), "{out}");
        assert_fits(&out, cols, "status --watch");
        assert!(!out.contains("(s)"), "{out}");
        assert!(!out.contains("run `swop status` for why"), "{out}");
        let whole: Vec<&str> = out
            .split("  NAME")
            .filter(|f| f.contains("Ctrl-C"))
            .collect();
        assert!(!whole.is_empty(), "{out}");
        for frame in whole {
            assert_eq!(frame.matches("HTTP 500").count(), 1, "{out}");
        }
    }
}

/// Plain `status` says a failure once, under the table,
/// not also as a warning above it.
#[test]
fn status_says_a_failure_once() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    backend.set_usage_fault("acct-b", Fault::Status(500, "{}".into()));
    let out = env.swop().args(["status", "--refresh"]).ok();
    assert!(!out.stderr.contains("HTTP 500"), "{}", out.stderr);
    assert_eq!(out.stdout.matches("HTTP 500").count(), 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("b: usage server: HTTP 500; next try in"),
        "{}",
        out.stdout
    );
    let json = env.swop().args(["status", "--json"]).ok();
    assert!(json.stderr.is_empty(), "{}", json.stderr);
    // A launch is where a warning belongs.
    let launch = env.codex().args(["exec", "hi"]).ok();
    assert!(
        launch.stderr.contains("usage for 'b' unavailable"),
        "{}",
        launch.stderr
    );
}

/// A login the usage server refuses, which codex could not
/// renew, is called that and names `swop relogin` in status, pick and
/// doctor (not "usage unavailable", "no data" or "retry later").
#[test]
fn a_rejected_login_names_the_relogin_everywhere() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "timeout = \"1s\"\n");
    backend.set_usage_fault("acct-b", Fault::Status(401, "{}".into()));
    let hang = |c: &mut TestCommand| {
        c.env("FAKE_APP_SERVER", "hang");
    };
    let mut cmd = env.swop();
    cmd.args(["status", "--refresh"]);
    hang(&mut cmd);
    let status = cmd.ok().stdout;
    let row = status.lines().find(|l| l.contains(" b ")).unwrap();
    assert!(row.contains("login rejected"), "{status}");
    assert!(row.contains("after swop relogin b"), "{status}");
    assert!(status.contains("log in again: swop relogin b"), "{status}");
    let json: Value =
        serde_json::from_str(&env.swop().args(["status", "--json"]).ok().stdout).unwrap();
    assert_eq!(json["accounts"][1]["state"], "login rejected", "{json}");
    let mut cmd = env.swop();
    cmd.args(["pick", "--json"]);
    hang(&mut cmd);
    let pick = cmd.ok();
    assert!(
        pick.stderr.contains("login for 'b' rejected") && pick.stderr.contains("swop relogin b"),
        "{}",
        pick.stderr
    );
    let mut cmd = env.swop();
    cmd.arg("doctor");
    hang(&mut cmd);
    let doctor = cmd.run();
    assert!(
        doctor.stdout.contains("'b': login rejected"),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("fix: log in again: swop relogin b"),
        "{}",
        doctor.stdout
    );
    assert!(!doctor.stdout.contains("retry later"), "{}", doctor.stdout);
}

/// A launch that keeps running, from a directory with a long path.
fn long_launch(env: &TestEnv) -> crate::support::Running {
    let deep = env
        .work
        .join("projects/customer-facing-dashboard/frontend/packages/app");
    std::fs::create_dir_all(&deep).unwrap();
    let mut r = env
        .codex()
        .args(["exec", "long"])
        .env("FAKE_SLEEP", "60")
        .current_dir(&deep)
        .spawn();
    assert!(r.wait_for_output("swop: codex on", Duration::from_secs(20)));
    for _ in 0..200 {
        let v: Value =
            serde_json::from_str(&env.swop().args(["ps", "--json"]).ok().stdout).unwrap();
        if !v["sessions"].as_array().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

#[test]
fn ps_fits_and_keeps_the_end_of_the_directory() {
    let (env, _backend) = world(&[(LONG, 10.0)], "");
    let run = long_launch(&env);
    for cols in WIDTHS {
        let out = shown(env.swop().arg("ps"), cols);
        assert_fits(&out, cols, "ps");
        assert!(out.contains("…") && out.contains("/app"), "{out}");
        assert!(out.contains(" ago"), "{out}");
    }
    let piped = env.swop().arg("ps").ok().stdout;
    assert!(
        piped.contains("customer-facing-dashboard/frontend/packages/app"),
        "{piped}"
    );
    assert!(piped.contains(LONG), "{piped}");
    run.signal_group(libc::SIGKILL);
    let _ = run.wait_output(Duration::from_secs(10));
}

/// Pick's reasons wrap under themselves; a forced pick
/// lists no usable account as "passed over".
#[test]
fn pick_fits_and_a_forced_pick_passes_nobody_over() {
    let (env, backend) = world(
        &[("a", 10.0), (LONG, 95.0), ("c", 20.0)],
        "[selection]\nmax_weekly_percent = 90\n",
    );
    let _ = &backend;
    for cols in WIDTHS {
        let out = shown(env.swop().arg("pick"), cols);
        assert_fits(&out, cols, "pick");
        assert!(out.contains("max_weekly_percent"), "{out}");
    }
    let piped = env.swop().arg("pick").ok().stdout;
    assert!(
        piped.contains("over weekly max (weekly 95% used, max_weekly_percent 90)"),
        "{piped}"
    );
    let forced = env.swop().arg("pick").env("SWOP_ACCOUNT", "a").ok().stdout;
    assert!(!forced.contains("passed over"), "{forced}");
    assert!(!forced.contains("eligible"), "{forced}");
    assert!(
        forced.contains("not usable now:") && forced.contains(LONG),
        "{forced}"
    );
}

/// With no numbers at all the reason says so, once,
/// without a "(?)" figure.
#[test]
fn a_blind_pick_says_so_once() {
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    for n in ["a", "b"] {
        backend.set_usage_fault(&format!("acct-{n}"), Fault::Status(500, "{}".into()));
    }
    let out = env.swop().arg("pick").ok().stdout;
    assert!(out.contains("without quota data"), "{out}");
    assert!(
        !out.contains('?') && !out.contains("lowest weekly"),
        "{out}"
    );
}

/// Simulate fits, names its sample accounts as samples,
/// says when the strategies tie, and names the accounts it left out.
#[test]
fn simulate_fits_and_says_what_it_compared() {
    let env = TestEnv::new();
    for cols in WIDTHS {
        let out = shown(env.swop().arg("simulate"), cols);
        assert_fits(&out, cols, "simulate");
        assert!(out.contains("sample-a (team"), "{out}");
        for theirs in ["work", "personal", "spare"] {
            let row = format!("  {theirs} (");
            assert!(!out.contains(&row), "{theirs} looks like yours:\n{out}");
        }
    }
    // One account: every strategy picks it, nothing differs.
    let one = env
        .swop()
        .args(["simulate", "--accounts", "plus:10@3d", "--days", "2"])
        .ok()
        .stdout;
    assert!(one.contains("the strategies tie"), "{one}");
    assert!(!one.contains("instead of 0.0 h"), "{one}");
    // Yours, with one that has no numbers yet.
    let (env, backend) = world(&[("a", 60.0), ("b", 10.0), ("c", 5.0)], "");
    env.swop().args(["status"]).ok();
    // c's numbers never arrived.
    std::fs::remove_file(env.swop_home.join("cache/c.json")).unwrap();
    let _ = &backend;
    let out = env.swop().args(["simulate", "--days", "2"]).ok().stdout;
    assert!(
        out.contains("on your accounts (2 of 3; left out: 'c' (no usage numbers cached yet))"),
        "{out}"
    );
}

/// `swop help simulate` once had a 99-column example.
#[test]
fn help_fits_and_is_whole_when_piped() {
    let env = TestEnv::new();
    for cols in WIDTHS {
        for args in [&["help", "simulate"][..], &["--help"], &["help", "status"]] {
            let out = shown(env.swop().args(args), cols);
            assert_fits(&out, cols, &format!("{args:?}"));
        }
    }
    let piped = env.swop().args(["help", "simulate"]).ok().stdout;
    let examples = piped.split("Examples:").nth(1).unwrap();
    assert!(widest(examples) <= 80, "{piped}");
    assert!(
        piped.contains("  swop simulate --accounts plus:60@1d,pro:20@6d --workload crunch\n"),
        "{piped}"
    );
}

/// Doctor fits at word boundaries, colours `ok`, and ends
/// with a count when it has warned.
#[test]
fn doctor_fits_and_counts_its_warnings() {
    let env = TestEnv::new();
    let backend = Backend::start();
    add(&env, "work", &Identity::named("work"));
    config_for(&env, &backend, "timeout = \"1s\"\n");
    backend.set_usage_fault("acct-work", Fault::Status(500, "{}".into()));
    for cols in WIDTHS {
        // Installed: the shim dir is on PATH (its fix is a command too
        // long to wrap at 60 columns under a temp HOME).
        let path = format!("{}:{}:/usr/bin:/bin", env.shim.display(), env.bin.display());
        let mut c = env
            .swop()
            .arg("doctor")
            .env("PATH", path)
            .env("TERM", "dumb")
            .env_remove("COLUMNS")
            .env_remove("NO_COLOR")
            .to_command();
        let (_, raw, _) = run_in_pty_cols(&mut c, b"", Duration::from_secs(30), cols);
        assert!(
            raw.contains("\x1b[32mok  \x1b[0m"),
            "ok is coloured too:\n{raw}"
        );
        let out = strip_ansi(&raw);
        // A path longer than any line (the temp HOME's) stays whole on its
        // line; everything else fits.
        for l in out.lines().filter(|l| l.chars().count() > cols as usize) {
            let word = l.split(' ').next_back().unwrap_or("");
            assert!(
                word.chars().count() + 6 > cols as usize,
                "doctor: a line is wider than {cols}: {l:?}\n{out}"
            );
        }
        let last = out.trim_end().lines().last().unwrap();
        assert!(
            last.contains("warning") && !out.contains("all good"),
            "{out}"
        );
        // Continuation lines sit under the text, never at column 0.
        for l in out.lines().filter(|l| !l.is_empty()) {
            assert!(
                ["ok", "warn", "FAIL", "  ", "1 ", "2 ", "3 ", "4 "]
                    .iter()
                    .any(|p| l.starts_with(p)),
                "a line broken out of its indentation: {l:?}\n{out}"
            );
        }
    }
    let piped = env.swop().arg("doctor").env_remove("NO_COLOR").run().stdout;
    assert!(!piped.contains('\x1b'), "{piped}");
}

/// `status --json --watch` prints one JSON document per
/// refresh, one per line (NDJSON), never the table.
#[test]
fn status_json_watch_is_ndjson() {
    let (env, _backend) = world(&[("a", 10.0)], "cache_ttl = \"1h\"\n");
    let (_, out) = on_terminal(
        env.swop().args(["status", "--json", "--watch", "1"]),
        80,
        Duration::from_secs(3),
    );
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{out}");
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{out}"));
        assert_eq!(v["accounts"][0]["name"], "a", "{l}");
    }
    assert!(!out.contains("NAME") && !out.contains("Ctrl-C"), "{out}");
    let e = env.swop().args(["status", "--watch", "abc"]).code(2);
    assert!(e.stderr.contains("swop status abc --watch"), "{}", e.stderr);
}

/// No "account(s)" or "session(s)" left in swop's words.
#[test]
fn plurals_are_spelled_out() {
    let mut files = Vec::new();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            // Inside string literals only: the odd pieces between quotes.
            let quoted = line.split('"').skip(1).step_by(2);
            for piece in quoted {
                let piece = piece.replace("http(s)", "");
                assert!(!piece.contains("(s)"), "{}:{}: {line}", f.display(), n + 1);
            }
        }
    }
}
