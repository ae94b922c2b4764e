//! codex's session files (rollouts) as swop reads them, whatever the size
//! of the codex home: links and FIFOs in `sessions/` neither hang
//! swop nor are followed, a resumed rollout is read only from its size at
//! launch and at most the cap, an over-long line is skipped, `--last` still
//! finds the newest session of the directory across accounts, and
//! `swop ps` names each live session's rollout.

use crate::support::world::world;
use crate::support::TestEnv;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cap on what swop reads of one run's part of a rollout (4 MiB,
/// `rollouts::run::SCAN_CAP`) and on one line (1 MiB, `base::lines`).
const SCAN_CAP: usize = 4 << 20;
const LINE_CAP: usize = 1 << 20;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn stamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// The shared sessions dir of the test world.
fn sessions(env: &TestEnv) -> PathBuf {
    let root = env.home.join(".codex/sessions");
    fs::create_dir_all(&root).unwrap();
    root
}

/// A thread id as codex 0.171.0 makes them: UUID v7 of `ms`.
fn v7(ms: i64, n: u32) -> String {
    format!("{:08x}-{:04x}-7000-8000-{n:012x}", ms >> 16, ms & 0xffff)
}

fn utc_day(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y/%m/%d")
        .to_string()
}

/// The name codex gives a session created at `ms` (UTC as local time).
fn rollout_name(ms: i64, n: u32) -> String {
    let t = jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H-%M-%S");
    format!("rollout-{t}-{}.jsonl", v7(ms, n))
}

/// Writes a session created at `ms` under `root`: its path and id.
fn write_rollout(root: &Path, ms: i64, n: u32, lines: &[String]) -> (PathBuf, String) {
    let dir = root.join(utc_day(ms));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(rollout_name(ms, n));
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, v7(ms, n))
}

/// A session_meta line (the fields codex 0.171.0 writes first).
fn meta(cwd: &Path, source: &str, creator: &str, ms: i64) -> String {
    format!(
        r#"{{"timestamp":"{t}","type":"session_meta","payload":{{"account_scoped":true,"creator_user_id":"user-{creator}","creator_account_id":"acct-{creator}","timestamp":"{t}","cwd":"{}","source":"{source}","base_instructions":{{"text":"You are Codex."}}}}}}"#,
        cwd.display(),
        t = stamp(ms)
    )
}

/// A turn refused for the usage limit, as codex writes it (seen, 0.169.0).
fn limit_hit(ms: i64) -> String {
    format!(
        r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"task_complete","error":{{"message":"You’ve hit your usage limit.","codex_error_info":"usage_limit_exceeded"}}}}}}"#,
        stamp(ms)
    )
}

/// Lines that are neither a limit hit nor rate limits, `bytes` of them.
fn filler(bytes: usize) -> String {
    let line = format!(
        r#"{{"type":"response_item","payload":{{"type":"message","text":"{}"}}}}"#,
        "x".repeat(1000)
    );
    let mut out = String::with_capacity(bytes + line.len());
    while out.len() < bytes {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

const LIMIT_SAID: &str = "hit its weekly limit";

#[test]
fn links_and_fifos_in_sessions_neither_hang_nor_are_followed() {
    let (env, _backend) = world(
        &[("work", 10.0), ("personal", 40.0)],
        "[failover]\nmode = \"off\"\n",
    );
    let root = sessions(&env);
    let now = now_ms();
    // The session `--last` must answer: an hour old, here.
    let (_, real) = write_rollout(
        &root,
        now - 3_600_000,
        1,
        &[meta(&env.work, "cli", "work", now - 3_600_000)],
    );
    // Loops: a walk that follows links never ends.
    std::os::unix::fs::symlink(".", root.join("a")).unwrap();
    std::os::unix::fs::symlink(".", root.join("b")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("2099")).unwrap();
    // Newer sessions that live elsewhere, reached only through links: a
    // file, and a whole day folder. Each records a usage-limit hit.
    let outside = env.root.join("outside");
    let lines = |ms| vec![meta(&env.work, "cli", "work", ms), limit_hit(ms + 60_000)];
    let (planted, _) = write_rollout(&outside, now + 1_000, 2, &lines(now + 1_000));
    let today = root.join(utc_day(now));
    fs::create_dir_all(&today).unwrap();
    std::os::unix::fs::symlink(&planted, today.join(planted.file_name().unwrap())).unwrap();
    let later = now + 2 * 86_400_000;
    write_rollout(&outside, later, 3, &lines(later));
    let later_day = root.join(utc_day(later));
    fs::create_dir_all(later_day.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(outside.join(utc_day(later)), &later_day).unwrap();
    // A FIFO named like a new rollout: opening it would block.
    mkfifo(&today.join(rollout_name(now + 2_000, 4)));

    let out = env
        .codex()
        .args(["resume", "--last"])
        .env("SWOP_ACCOUNT", "work")
        .timeout(Duration::from_secs(30))
        .ok();
    assert!(
        out.stderr.contains(&format!(
            "resuming the newest session here across all accounts: {real}"
        )),
        "{}",
        out.stderr
    );
    assert!(env.fake_log().last().unwrap().args.contains(&real));
    // An interactive run: afterwards swop looks at the new files, neither
    // blocking on the FIFO nor reading the linked ones (their limit hits).
    let out = env
        .codex()
        .arg("hi")
        .env("SWOP_ACCOUNT", "work")
        .timeout(Duration::from_secs(30))
        .ok();
    assert!(!out.stderr.contains(LIMIT_SAID), "{}", out.stderr);
    // And `swop ps` next to a live session.
    let run = env
        .codex()
        .args(["exec", "hi"])
        .env("FAKE_SLEEP", "20")
        .spawn();
    let mut listed = false;
    for _ in 0..200 {
        let ps = env
            .swop()
            .args(["ps", "--json"])
            .timeout(Duration::from_secs(30))
            .ok();
        if ps.stdout.contains(&run.pid().to_string()) {
            listed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    run.signal_group(libc::SIGKILL);
    let _ = run.wait_output(Duration::from_secs(10));
    assert!(listed, "swop ps never listed the live session");
}

/// `sh -c 'ulimit -v KB; exec codex ARGS'`: swop under an address-space
/// limit far below the rollout's size.
fn codex_limited(env: &TestEnv, kb: u64, args: &[&str]) -> crate::support::TestCommand {
    let mut c = env.command("/bin/sh");
    c.env(
        "PATH",
        format!("{}:{}:/usr/bin:/bin", env.shim.display(), env.bin.display()),
    )
    .args(["-c", &format!("ulimit -v {kb} && exec \"$0\" \"$@\"")])
    .arg(env.shim.join("codex"))
    .args(args);
    c
}

#[test]
fn a_resumed_rollout_is_read_from_its_size_at_launch_and_at_most_the_cap() {
    let (env, _backend) = world(
        &[("work", 10.0), ("personal", 40.0)],
        "[failover]\nmode = \"off\"\n",
    );
    let root = sessions(&env);
    let now = now_ms();
    let future = now + 3_600_000;
    // A thread created yesterday on personal, 2 GiB (sparse), whose earlier
    // runs recorded limit hits dated in the future: none of this run's.
    let first = [
        meta(&env.work, "cli", "personal", now - 86_400_000),
        limit_hit(future),
    ];
    let (path, id) = write_rollout(&root, now - 86_400_000, 1, &first);
    let f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, format!("\n{}\n", limit_hit(future)).as_bytes()).unwrap();
    drop(f);

    // This run (on work) appends a limit hit, then more than the cap of
    // other lines: only the last SCAN_CAP bytes of its part are read.
    let turns = env.root.join("turns.jsonl");
    fs::write(
        &turns,
        format!("{}\n{}", limit_hit(future), filler(SCAN_CAP + (1 << 20))),
    )
    .unwrap();
    let out = codex_limited(&env, 1 << 20, &["resume", &id])
        .env("SWOP_ACCOUNT", "work")
        .env(
            "FAKE_APPEND",
            format!("{}:{}", turns.display(), path.display()),
        )
        .timeout(Duration::from_secs(60))
        .ok();
    assert!(!out.stderr.contains(LIMIT_SAID), "{}", out.stderr);

    // The same with the hit among the run's last lines: seen, and the
    // session to continue is this thread.
    fs::write(
        &turns,
        format!("{}{}\n", filler(SCAN_CAP + (1 << 20)), limit_hit(future)),
    )
    .unwrap();
    let out = codex_limited(&env, 1 << 20, &["resume", &id])
        .env("SWOP_ACCOUNT", "work")
        .env(
            "FAKE_APPEND",
            format!("{}:{}", turns.display(), path.display()),
        )
        .timeout(Duration::from_secs(60))
        .ok();
    let said = out.stderr.replace("\n  ", " ");
    assert!(said.contains(&format!("work {LIMIT_SAID}")), "{said}");
    assert!(said.contains(&format!("codex resume {id}")), "{said}");
}

#[test]
fn a_new_interactive_session_that_hit_its_limit_is_detected() {
    let (env, _backend) = world(
        &[("work", 10.0), ("personal", 40.0)],
        "[failover]\nmode = \"off\"\n",
    );
    sessions(&env);
    let now = now_ms();
    let rollout = env.root.join("new.jsonl");
    let lines = [
        meta(&env.work, "cli", "work", now + 5_000),
        limit_hit(now + 10_000),
    ];
    fs::write(&rollout, lines.join("\n") + "\n").unwrap();
    let out = env
        .codex()
        .arg("task")
        .env("SWOP_ACCOUNT", "work")
        .env("FAKE_NEW_ROLLOUT", &rollout)
        .ok();
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("fake session: "))
        .unwrap()
        .to_string();
    let said = out.stderr.replace("\n  ", " ");
    assert!(said.contains(&format!("work {LIMIT_SAID}")), "{said}");
    assert!(said.contains(&format!("codex resume {id}")), "{said}");
}

/// `codex resume` with no id opens codex's picker: which thread the person
/// picked is known from what they typed into it (codex's history.jsonl),
/// not from a walk of every session.
#[test]
fn a_thread_picked_in_codex_resume_that_hit_its_limit_is_detected() {
    let (env, _backend) = world(
        &[("work", 10.0), ("personal", 40.0)],
        "[failover]\nmode = \"off\"\n",
    );
    let root = sessions(&env);
    let now = now_ms();
    let created = now - 40 * 86_400_000;
    let (path, id) = write_rollout(
        &root,
        created,
        1,
        &[meta(&env.work, "cli", "personal", created)],
    );
    let history = env.home.join(".codex/history.jsonl");
    fs::write(&history, "").unwrap();
    let typed = env.root.join("typed.jsonl");
    let ts = now / 1000 + 2;
    fs::write(
        &typed,
        format!("{{\"session_id\":\"{id}\",\"ts\":{ts},\"text\":\"go on\"}}\n"),
    )
    .unwrap();
    let turn = env.root.join("turn.jsonl");
    fs::write(&turn, limit_hit(now + 5_000) + "\n").unwrap();
    let append = format!(
        "{}:{} {}:{}",
        typed.display(),
        history.display(),
        turn.display(),
        path.display()
    );
    let out = env
        .codex()
        .arg("resume")
        .env("SWOP_ACCOUNT", "work")
        .env("FAKE_APPEND", append)
        .ok();
    let said = out.stderr.replace("\n  ", " ");
    assert!(said.contains(&format!("work {LIMIT_SAID}")), "{said}");
    assert!(said.contains(&format!("codex resume {id}")), "{said}");
}

#[test]
fn resume_last_finds_the_newest_session_of_the_directory_across_accounts() {
    let (env, _backend) = world(&[("work", 10.0), ("personal", 40.0)], "");
    let root = sessions(&env);
    let here = env.work.clone();
    let elsewhere = env.root.join("elsewhere");
    let now = now_ms();
    let day = 86_400_000;
    write_rollout(
        &root,
        now - 300 * day,
        1,
        &[meta(&here, "cli", "work", now - 300 * day)],
    );
    let (_, personal) = write_rollout(
        &root,
        now - 2 * day,
        2,
        &[meta(&here, "cli", "personal", now - 2 * day)],
    );
    let (_, exec) = write_rollout(
        &root,
        now - day,
        3,
        &[meta(&here, "exec", "work", now - day)],
    );
    let (_, other) = write_rollout(
        &root,
        now - 60_000,
        4,
        &[meta(&elsewhere, "cli", "work", now - 60_000)],
    );
    // Newer still, but its first line is longer than the cap before it
    // names its directory: skipped, never gathered.
    let bulky = format!(
        r#"{{"type":"session_meta","payload":{{"base_instructions":{{"text":"{}"}},"cwd":"{}","source":"cli"}}}}"#,
        "x".repeat(LINE_CAP + 10),
        here.display()
    );
    write_rollout(&root, now - 30_000, 5, &[bulky]);

    let last = |args: &[&str]| {
        let out = env.codex().args(args).env("SWOP_ACCOUNT", "work").ok();
        let line = out
            .stderr
            .lines()
            .find_map(|l| l.split("across all accounts: ").nth(1))
            .map(str::to_string);
        line.unwrap_or_else(|| panic!("{}", out.stderr))
    };
    assert_eq!(
        last(&["resume", "--last"]),
        personal,
        "personal's, here, interactive"
    );
    assert_eq!(
        last(&["exec", "resume", "--last", "go"]),
        exec,
        "exec sessions count for exec"
    );
    assert_eq!(last(&["resume", "--last", "--all"]), other, "any directory");
    // A session started since is found (its folder is read again).
    let (_, newer) = write_rollout(&root, now, 6, &[meta(&here, "cli", "personal", now)]);
    assert_eq!(last(&["resume", "--last"]), newer);
    // A thread resumed through swop counts by its last update.
    let out = env
        .codex()
        .args(["resume", &personal])
        .env("SWOP_ACCOUNT", "work")
        .ok();
    assert!(out.success());
    let old = root
        .join(utc_day(now - 2 * day))
        .join(rollout_name(now - 2 * day, 2));
    std::thread::sleep(Duration::from_millis(20));
    let mut f = fs::OpenOptions::new().append(true).open(old).unwrap();
    std::io::Write::write_all(&mut f, b"{}\n").unwrap();
    drop(f);
    let out = env
        .codex()
        .args(["resume", &personal])
        .env("SWOP_ACCOUNT", "work")
        .ok();
    assert!(out.success());
    assert_eq!(last(&["resume", "--last"]), personal);
}

#[test]
fn ps_names_each_live_sessions_rollout() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "");
    let root = sessions(&env);
    let (p1, p2) = (env.root.join("p1"), env.root.join("p2"));
    fs::create_dir_all(&p1).unwrap();
    fs::create_dir_all(&p2).unwrap();
    let now = now_ms();
    let new = env.root.join("new.jsonl");
    fs::write(&new, meta(&p1, "exec", "a", now + 5_000) + "\n").unwrap();
    let (old_path, old) = write_rollout(
        &root,
        now - 86_400_000,
        1,
        &[meta(&p2, "cli", "b", now - 86_400_000)],
    );
    // Last written an hour ago: nothing but the live entry ties it to the
    // launch that resumes it (the fake codex appends nothing).
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .append(true)
        .open(&old_path)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let mut created = env.codex();
    created
        .args(["exec", "hi"])
        .current_dir(&p1)
        .env("SWOP_ACCOUNT", "a")
        .env("FAKE_NEW_ROLLOUT", &new)
        .env("FAKE_SLEEP", "20");
    let created = created.spawn();
    let mut resumed = env.codex();
    resumed
        .args(["exec", "resume", &old, "go"])
        .current_dir(&p2)
        .env("SWOP_ACCOUNT", "b")
        .env("FAKE_SLEEP", "20");
    let resumed = resumed.spawn();
    let mut ids = Vec::new();
    for _ in 0..200 {
        let v: serde_json::Value =
            serde_json::from_str(&env.swop().args(["ps", "--json"]).ok().stdout).unwrap();
        ids = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["pid"].as_u64().unwrap(),
                    s["session_id"].as_str().map(str::to_string),
                )
            })
            .collect();
        if ids.len() == 2 && ids.iter().all(|(_, id)| id.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let made = created
        .stderr_so_far()
        .lines()
        .find_map(|l| l.strip_prefix("fake session: "))
        .map(str::to_string);
    for run in [created, resumed] {
        run.signal_group(libc::SIGKILL);
        let _ = run.wait_output(Duration::from_secs(10));
    }
    let made = made.expect("the fake codex made a session");
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.iter()
            .any(|(_, id)| id.as_deref() == Some(made.as_str())),
        "{ids:?}"
    );
    assert!(
        ids.iter()
            .any(|(_, id)| id.as_deref() == Some(old.as_str())),
        "{ids:?}"
    );
}
