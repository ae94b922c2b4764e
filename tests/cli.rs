//! The command line itself: a closed stdout (broken pipe) ends every
//! command quietly, help that teaches, "did you mean".

use crate::support::world::world;
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

/// Every `see: swop ...` / `did you mean: swop ...` an error points to is
/// a command that works (`swop --verbose` used to point to `swop help
/// swop`, which failed).
#[test]
fn every_help_pointer_of_a_usage_error_runs() {
    let env = TestEnv::new();
    let bad: &[&[&str]] = &[
        &["--verbose"],
        &["-x"],
        &["--versoin"],
        &["stauts"],
        &["frobnicate"],
        &["status", "--jsn"],
        &["list", "--bogus"],
        &["logout", "a", "--refresh"],
        &["add"],
        &["add", "a", "b"],
        &["import", "x", "--from"],
        &["help", "stauts"],
        &["help", "nope"],
        &["pick", "now"],
        &["completions"],
    ];
    let mut ran = 0;
    for args in bad {
        let out = env.swop().args(args.iter().copied()).code(2);
        let help = out
            .stderr
            .lines()
            .find(|l| l.starts_with("help:"))
            .unwrap_or_else(|| panic!("{args:?}: no help line: {}", out.stderr));
        let Some(at) = help.find("swop ") else {
            continue; // e.g. "use one of: bash, zsh, fish"
        };
        let pointed: Vec<&str> = help[at + 5..]
            .split([')', '?'])
            .next()
            .unwrap()
            .split_whitespace()
            .take_while(|w| !w.ends_with(':') && *w != "NAME")
            .collect();
        if pointed
            .first()
            .is_some_and(|w| ["add", "import"].contains(w))
        {
            continue; // "swop add NAME -- ARGS": a shape, not a command
        }
        let run = env.swop().args(pointed.iter().copied()).run();
        assert_eq!(
            run.code,
            Some(0),
            "{args:?} points to `swop {}`, which fails: {}",
            pointed.join(" "),
            run.stderr
        );
        assert!(run.stdout.starts_with("Usage: swop") || run.stdout.starts_with("swop: run"));
        ran += 1;
    }
    assert!(ran >= 10, "only {ran} pointers followed");
}

#[test]
fn did_you_mean_for_commands_and_flags() {
    let env = TestEnv::new();
    let out = env.swop().arg("stauts").code(2);
    assert!(
        out.stderr.contains("unknown command 'stauts'"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean 'status'"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
    let out = env.swop().args(["status", "--jsn"]).code(2);
    assert!(
        out.stderr.contains("did you mean '--json'"),
        "{}",
        out.stderr
    );
    let out = env.swop().args(["logout", "old", "--refresh"]).code(2);
    assert!(
        out.stderr.contains("'--refresh' is an option of: status"),
        "{}",
        out.stderr
    );
    // Nothing near: no guess, just the pointer.
    let out = env.swop().arg("frobnicate").code(2);
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
}

/// `swop help config` is the documented config, and it is a config swop
/// accepts as it is.
#[test]
fn help_config_prints_a_config_that_swop_accepts() {
    let env = TestEnv::new();
    let text = env.swop().args(["help", "config"]).ok().stdout;
    assert!(
        text.contains("[usage]") && text.contains("timeout"),
        "{text}"
    );
    crate::support::world::write_config(&env, &text);
    env.swop().arg("list").ok();
    let doctor = env.swop().args(["doctor", "--json"]).run();
    assert!(
        doctor.stdout.contains("parses"),
        "doctor did not accept it: {}",
        doctor.stdout
    );
    // A broken config points to it, never to a file the user may not have.
    crate::support::world::write_config(&env, "[usage]\nbogus = 1\n");
    let out = env.swop().arg("list").code(3);
    assert!(out.stderr.contains("swop help config"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("config.example.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_teaches_examples_and_environment() {
    let env = TestEnv::new();
    let main = env.swop().arg("--help").ok().stdout;
    for var in [
        "SWOP_HOME",
        "SWOP_ACCOUNT",
        "SWOP_BYPASS",
        "SWOP_CODEX",
        "NO_COLOR",
        "SWOP_ACCOUNT_NAME",
        "swop help config",
    ] {
        assert!(main.contains(var), "swop --help lacks {var}");
    }
    let commands = main
        .split("\nCommands:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("a Commands: section");
    assert!(commands.lines().count() >= 12, "{commands}");
    for line in commands.lines() {
        assert!(
            line.ends_with('.') && !line.ends_with(".."),
            "a summary is cut: {line:?}"
        );
    }
    for cmd in ["add", "status", "logout", "completions", "help"] {
        let h = env.swop().args([cmd, "--help"]).ok().stdout;
        assert_eq!(h, env.swop().args(["help", cmd]).ok().stdout);
        assert!(h.contains("\nExamples:\n  "), "{cmd}: {h}");
    }
}

/// The bash script, sourced into a real bash, completes each command's own
/// flags (the old hand-written one offered `--refresh` to `logout`).
#[test]
fn bash_completion_offers_each_commands_own_flags() {
    let env = TestEnv::new();
    let script = env.swop().args(["completions", "bash"]).ok().stdout;
    let path = env.root.join("swop.bash");
    std::fs::write(&path, script).unwrap();
    let complete = |words: &str| {
        let line = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); _swop; echo \"${{COMPREPLY[*]}}\"",
            path.display()
        );
        env.command("/bin/bash").args(["-c", &line]).ok().stdout
    };
    assert_eq!(complete("swop stat").trim(), "status");
    assert_eq!(complete("swop logout --").trim(), "--force --help");
    assert_eq!(
        complete("swop status --").trim(),
        "--json --refresh --watch --help"
    );
    assert_eq!(
        complete("swop completions ''").trim(),
        "bash zsh fish --help"
    );
}
