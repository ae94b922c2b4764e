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
