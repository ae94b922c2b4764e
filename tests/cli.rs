//! The command line itself: a closed stdout (broken pipe) ends every
//! command quietly, help that teaches, "did you mean".

use crate::helpers::world;
use crate::support::{Identity, TestCommand, TestEnv};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What a run against a closed stdout produced.
struct Closed {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
}

/// Runs `cmd` with stdout the write end of a pipe whose read end is already
/// closed, as `swop ... | head -c0` after head has gone: every write to
/// stdout fails with EPIPE, deterministically (no race with the reader).
fn with_closed_stdout(cmd: &TestCommand) -> Closed {
    use std::os::unix::process::ExitStatusExt;
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two fresh descriptors that we then own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    let mut c = cmd.to_command();
    c.stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}\n{}", cmd.describe()));
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("timed out\n{}", cmd.describe());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Closed {
        code: status.code(),
        signal: status.signal(),
        stderr: reader.join().expect("stderr reader"),
    }
}

/// The promise (SECURITY.md): a reader that goes away ends swop quietly
/// with exit 0: no panic, no abort, no message, and the work already done
/// (an added account, a logout) stays done.
fn assert_quiet_end(cmd: &TestCommand, want: i32) {
    let out = with_closed_stdout(cmd);
    assert!(
        out.code == Some(want) && out.signal.is_none(),
        "want exit {want} on a broken pipe, got code {:?} signal {:?}\n{}\nstderr: {}",
        out.code,
        out.signal,
        cmd.describe(),
        out.stderr
    );
    for bad in ["panicked", "Broken pipe", "broken pipe", "failed printing"] {
        assert!(
            !out.stderr.contains(bad),
            "{bad:?} on stderr\n{}\nstderr: {}",
            cmd.describe(),
            out.stderr
        );
    }
}

#[test]
fn a_closed_stdout_ends_every_printing_command_quietly() {
    let env = TestEnv::new();
    let simple: &[&[&str]] = &[
        &[],
        &["--help"],
        &["-h"],
        &["--version"],
        &["help"],
        &["help", "status"],
        &["status", "--help"],
        &["help", "config"],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["doctor", "--json"],
        &["uninstall"],
    ];
    for args in simple {
        assert_quiet_end(env.swop().args(args.iter().copied()), 0);
    }
    // doctor's verdict in this bare world is "fail" (exit 1) either way;
    // what matters is that it does not panic.
    let out = with_closed_stdout(env.swop().arg("doctor"));
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(matches!(out.code, Some(0 | 1)), "{:?}", out.code);
    // An error document of a --json command: the error's own exit code.
    assert_quiet_end(env.swop().args(["list", "--json", "--nope"]), 2);
}

#[test]
fn a_closed_stdout_ends_account_commands_quietly_and_keeps_their_work() {
    let (env, _backend) = world(&[("work", 10.0), ("home", 20.0)], "");
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["status"],
        &["status", "--json"],
        &["status", "--refresh", "work"],
        &["pick"],
        &["pick", "--json"],
    ] {
        assert_quiet_end(env.swop().args(args.iter().copied()), 0);
    }
    let auth = env.write_auth_fixture("auth-new", &Identity::named("new"));
    assert_quiet_end(
        env.swop()
            .args(["add", "new"])
            .env("FAKE_CODEX_AUTH", &auth),
        0,
    );
    assert!(env.account_home("new").join("auth.json").is_file());
    assert_quiet_end(env.swop().args(["logout", "new"]), 0);
    // The login is gone (links into the shared home may stay, by design).
    assert!(!env.account_home("new").join("auth.json").exists());
    let codex_home = env.home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::copy(
        env.write_auth_fixture("auth-old", &Identity::named("old")),
        codex_home.join("auth.json"),
    )
    .unwrap();
    assert_quiet_end(env.swop().args(["import", "old"]), 0);
    assert!(env.account_home("old").join("auth.json").is_file());
}
