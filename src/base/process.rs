//! Facts about other processes, asked of the kernel.

/// Whether a process with this pid exists (EPERM means it does, under
/// another user).
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Lets the process `cmd` starts inherit descriptor `fd` (swop opens its
/// descriptors close-on-exec): only the child's copy changes.
pub fn inherit_fd(cmd: &mut std::process::Command, fd: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only fcntl(2) between fork and exec: async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
            Ok(())
        });
    }
}

/// What the process was given, read once: arguments, environment (an empty
/// variable counts as unset), working directory, and whether the standard
/// streams are terminals. Decisions take it as a value, so they can be
/// tested with a made-up one. The clock is not in it: a launch outlives its
/// start by hours (the TUI), so each decision reads the time when it is
/// made.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub args: Vec<std::ffi::OsString>,
    pub env: std::collections::HashMap<String, std::ffi::OsString>,
    pub cwd: std::path::PathBuf,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
}

impl Context {
    /// The real process's context.
    pub fn from_process(args: Vec<std::ffi::OsString>) -> Context {
        use std::io::IsTerminal;
        let env = std::env::vars_os()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .collect();
        Context {
            args,
            env,
            cwd: std::env::current_dir().unwrap_or_default(),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// A variable's value; None when unset or empty.
    pub fn var(&self, name: &str) -> Option<&std::ffi::OsStr> {
        self.env.get(name).map(|v| v.as_os_str())
    }

    /// A variable as text; None when unset, empty or not UTF-8.
    pub fn var_str(&self, name: &str) -> Option<&str> {
        self.var(name).and_then(|v| v.to_str())
    }
}
