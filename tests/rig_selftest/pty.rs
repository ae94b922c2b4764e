//! The pseudo-terminal runner: the program sees a terminal, gets the typed
//! input, and is killed at the timeout, so that prompts can be tested
//! without hanging the suite.

use crate::support::*;
use std::time::{Duration, Instant};

#[test]
fn rig_pty_is_a_terminal_and_takes_input() {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args([
        "-c",
        "test -t 0 && test -t 1 && test -t 2 || exit 9; (exec 3</dev/tty) || exit 8; \
         printf 'Log in again? [Y/n] '; read a; echo \"got:$a\"; exit 4",
    ]);
    let (code, out) = run_in_pty(cmd, b"y\n", Duration::from_secs(10));
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("[Y/n]"), "{out}");
    assert!(out.contains("got:y"), "{out}");
}

#[test]
fn rig_pty_timeout_kills() {
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "echo started; sleep 30"]);
    let t = Instant::now();
    let (code, out) = run_in_pty(cmd, b"", Duration::from_millis(500));
    assert_eq!(code, None);
    assert!(out.contains("started"));
    assert!(t.elapsed() < Duration::from_secs(5));
}
