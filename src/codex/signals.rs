//! Signals while swop waits for a child codex: swop stays the parent (it
//! needs the exit status), so the terminal's Ctrl-C must reach codex and not
//! kill swop, and a signal sent to swop by another process must reach codex.
//!
//! While a [`Forwarder`] lives, SIGINT, SIGQUIT, SIGTERM and SIGHUP get a
//! handler (not SIG_IGN: an ignored signal stays ignored across exec, a
//! handled one is reset to the default in the child, so codex starts with a
//! normal Ctrl-C). SIGTERM and SIGHUP are always re-sent to the child.
//! SIGINT and SIGQUIT are re-sent only when a process sent them (`kill -INT
//! <swop pid>`, Python's `send_signal`, Node's `child.kill`): the terminal's
//! Ctrl-C already reaches the whole foreground group, codex included, and
//! forwarding it too would deliver it twice. `SA_SIGINFO`'s `si_code` tells
//! the two apart. Dropping the forwarder restores the previous dispositions,
//! so a later prompt can be left with Ctrl-C.
//!
//! Between spawning the child and recording its pid the handled signals are
//! blocked ([`block`]), so one that arrives then waits and is forwarded
//! instead of being lost. The child would inherit that mask (std does not
//! reset it), so [`block`] also empties the mask of the command in its
//! pre_exec. The handlers only touch atomics and call kill(2):
//! async-signal-safe. A SIGINT is also noted ([`Forwarder::interrupted`]),
//! so that a Ctrl-C during `codex login` reads as "cancelled" whatever exit
//! code codex chose.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static CHILD: AtomicI32 = AtomicI32::new(0);

/// Set when a SIGINT arrived while the current [`Forwarder`] lived: the
/// person pressed Ctrl-C (or a process sent SIGINT), whatever codex then
/// made of it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];

/// Whether the signal came from a process (kill, sigqueue, tgkill) rather
/// than from the kernel (a terminal's Ctrl-C or Ctrl-\).
fn sent_by_a_process(code: libc::c_int) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // Linux: codes a process causes are SI_USER (0) or negative; the
        // kernel's (SI_KERNEL for a terminal) are positive.
        code <= 0
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        code == libc::SI_USER || code == libc::SI_QUEUE
    }
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo.
    let from_process = !info.is_null() && sent_by_a_process(unsafe { (*info).si_code });
    if sig == libc::SIGINT {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    if sig == libc::SIGTERM || sig == libc::SIGHUP || from_process {
        let pid = CHILD.load(Ordering::SeqCst);
        if pid > 0 {
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }
}

/// The handled signals held back on this thread until dropped (then the
/// pending ones are delivered); `cmd` will start with none blocked.
pub struct Blocked {
    previous: libc::sigset_t,
}

pub fn block(cmd: &mut std::process::Command) -> Blocked {
    use std::os::unix::process::CommandExt;
    // SAFETY: only sigemptyset/sigprocmask between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in HANDLED {
            libc::sigaddset(&mut set, sig);
        }
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous);
        Blocked { previous }
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut());
        }
    }
}

pub struct Forwarder {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl Forwarder {
    /// Installs the handlers. Call before spawning the child.
    pub fn install() -> Forwarder {
        INTERRUPTED.store(false, Ordering::SeqCst);
        let mut previous = Vec::new();
        for sig in HANDLED {
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
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

    /// Whether a SIGINT arrived since [`Forwarder::install`].
    pub fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
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
