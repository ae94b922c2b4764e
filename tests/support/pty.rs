//! Run a command on a pseudo-terminal, for the interactive paths (relogin
//! prompts) that only happen when stdin/stdout are a TTY.
//!
//! The child gets the pty slave as stdin, stdout and stderr, becomes a
//! session leader with the pty as its controlling terminal, and sees
//! `input` typed once it has shown a prompt (output containing `?` or
//! `[Y/n]`) or after 2 s, or ([`run_in_pty_after`]) once it has shown a
//! given text. Output is read until the child exits (then
//! drained) or the timeout kills its process group. The output is scanned
//! for secrets.

use super::fixtures;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a prompt before typing anyway.
const PROMPT_WAIT: Duration = Duration::from_secs(2);

fn set_cloexec(fd: i32) {
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

/// Run `cmd` on a fresh pty, type `input` after a prompt, and return its
/// exit code (None if killed by a signal or by the timeout) and everything
/// the terminal showed (including the echo of `input`).
pub fn run_in_pty(mut cmd: Command, input: &[u8], timeout: Duration) -> (Option<i32>, String) {
    let (code, out, _) = run_in_pty_full(&mut cmd, input, timeout);
    (code, out)
}

/// Same, also saying whether the timeout fired.
pub fn run_in_pty_full(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> (Option<i32>, String, bool) {
    run_in_pty_cols(cmd, input, timeout, 100)
}

/// Types `input` once a prompt is visible (a `?` or `[Y/n]`), or after
/// PROMPT_WAIT.
fn prompt_shown(shown: &str, waited: Duration) -> bool {
    shown.contains('?') || shown.contains("[Y/n]") || waited >= PROMPT_WAIT
}

/// Same, on a terminal `cols` columns wide (what the child's TIOCGWINSZ
/// says; the rig clears the environment, so COLUMNS is not set).
pub fn run_in_pty_cols(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
    cols: u16,
) -> (Option<i32>, String, bool) {
    run_in_pty_when(cmd, input, timeout, &prompt_shown, cols)
}

/// Like [`run_in_pty_full`], but `input` is typed only once the terminal
/// shows `after` (e.g. Ctrl-C once codex has printed its last line); the
/// timeout still bounds the run.
pub fn run_in_pty_after(
    cmd: &mut Command,
    after: &str,
    input: &[u8],
    timeout: Duration,
) -> (Option<i32>, String, bool) {
    run_in_pty_when(
        cmd,
        input,
        timeout,
        &|shown: &str, _| shown.contains(after),
        100,
    )
}

fn run_in_pty_when(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
    ready: &dyn Fn(&str, Duration) -> bool,
    cols: u16,
) -> (Option<i32>, String, bool) {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    let mut ws = libc::winsize {
        ws_row: 40,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut ws as *mut libc::winsize, // *const on Linux, *mut on macOS
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    set_cloexec(master);
    set_cloexec(slave);
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };

    cmd.stdin(Stdio::from(slave.try_clone().expect("dup slave")));
    cmd.stdout(Stdio::from(slave.try_clone().expect("dup slave")));
    cmd.stderr(Stdio::from(slave.try_clone().expect("dup slave")));
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn on pty");
    // The Command keeps the slave copies until it is dropped; the caller
    // owns it, so replace them with nulls to close our side of the slave.
    cmd.stdin(Stdio::null());
    cmd.stdout(Stdio::null());
    cmd.stderr(Stdio::null());
    drop(slave);

    let mfd = master.as_raw_fd();
    let mut out: Vec<u8> = Vec::new();
    let start = Instant::now();
    let mut typed = input.is_empty();
    let mut timed_out = false;
    let mut exited: Option<std::process::ExitStatus> = None;
    let mut idle_after_exit = 0u32;
    loop {
        // Type the input once a prompt is visible (or after PROMPT_WAIT).
        if !typed {
            let shown = String::from_utf8_lossy(&out);
            if ready(&shown, start.elapsed()) {
                let mut off = 0;
                while off < input.len() {
                    let n = unsafe {
                        libc::write(mfd, input[off..].as_ptr().cast(), input.len() - off)
                    };
                    if n <= 0 {
                        break;
                    }
                    off += n as usize;
                }
                typed = true;
            }
        }
        let mut pfd = libc::pollfd {
            fd: mfd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = unsafe { libc::poll(&mut pfd, 1, 20) };
        let mut got_data = false;
        let mut hung_up = false;
        if ready > 0 {
            if pfd.revents & libc::POLLIN != 0 {
                let mut buf = [0u8; 4096];
                let n = unsafe { libc::read(mfd, buf.as_mut_ptr().cast(), buf.len()) };
                if n > 0 {
                    out.extend_from_slice(&buf[..n as usize]);
                    got_data = true;
                } else {
                    hung_up = true; // EOF or EIO: every slave fd closed
                }
            } else if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                hung_up = true;
            }
        }
        if exited.is_none() {
            if let Ok(Some(st)) = child.try_wait() {
                exited = Some(st);
            }
        }
        if let Some(_st) = exited {
            // Drain what is left; stop when the slave is gone or nothing
            // arrives for a while (a leaked slave fd must not hang us).
            if hung_up {
                break;
            }
            if got_data {
                idle_after_exit = 0;
            } else {
                idle_after_exit += 1;
                if idle_after_exit >= 10 {
                    break;
                }
            }
        } else if hung_up {
            // Slave closed but the child is still running: wait for it.
            std::thread::sleep(Duration::from_millis(10));
        }
        if exited.is_none() && start.elapsed() >= timeout {
            timed_out = true;
            unsafe {
                libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
                libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
            }
            exited = Some(child.wait().expect("wait after kill"));
            break;
        }
    }
    drop(master);
    let status = match exited {
        Some(s) => s,
        None => child.wait().expect("wait"),
    };
    let text = String::from_utf8_lossy(&out).to_string();
    fixtures::assert_no_secrets(&text, "pty output");
    let code = if timed_out { None } else { status.code() };
    (code, text, timed_out)
}

/// What a terminal shows of `s`: escape sequences and carriage returns
/// removed.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Terminal columns of the widest line (every character counted one wide).
pub fn widest(s: &str) -> usize {
    s.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}
