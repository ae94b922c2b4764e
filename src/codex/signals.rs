//! Signals while swop waits for a child codex: swop stays the parent (it
//! needs the exit status), so the terminal's Ctrl-C must reach codex and not
//! kill swop, and a SIGTERM or SIGHUP sent to swop must reach codex too.
//!
//! While a [`Forwarder`] lives, SIGINT and SIGQUIT get a no-op handler (not
//! SIG_IGN: an ignored signal stays ignored across exec, a handled one is
//! reset to the default in the child, so codex starts with a normal Ctrl-C),
//! and SIGTERM/SIGHUP are re-sent to the child. Dropping it restores the
//! previous dispositions, so a later prompt can be left with Ctrl-C.
//! The handlers only read an atomic and call kill(2): async-signal-safe.

use std::sync::atomic::{AtomicI32, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);

const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGTERM || sig == libc::SIGHUP {
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
    // SIGINT/SIGQUIT: the terminal sent them to the whole foreground process
    // group, codex included; swop just keeps waiting.
}

pub struct Forwarder {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl Forwarder {
    /// Installs the handlers. Call before spawning the child.
    pub fn install() -> Forwarder {
        let mut previous = Vec::new();
        for sig in HANDLED {
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &action, &mut old) == 0 {
                    previous.push((sig, old));
                }
            }
        }
        Forwarder { previous }
    }

    pub fn set_child(&self, pid: u32) {
        CHILD.store(pid as i32, Ordering::SeqCst);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        CHILD.store(0, Ordering::SeqCst);
        for (sig, old) in &self.previous {
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

/// The exit code a shell would report: the code, or 128+N for signal N.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 1,
    }
}
