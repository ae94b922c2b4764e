//! Drive an interactive full-screen program (the real codex TUI, through
//! swop's shim) in a tmux pane: start it, wait for text on the screen,
//! type, read the screen, wait for the exit code.
//!
//! Every `Tui` has its own tmux server (a socket under the test's root and
//! an empty config), so tests never see each other's sessions or the
//! user's; dropping the `Tui` kills that server and everything in it. The
//! program runs under a tiny `sh` that writes its exit status to a file
//! (tmux's own `pane_dead_status` was seen to lag for a minute when the
//! server had not reaped the pane yet), and the pane stays after the exit
//! (`remain-on-exit`), so the last screen can still be read. Every screen a test reads
//! is scanned for registered secrets.
//!
//! tmux is required for these tests: `tmux_bin()` skips them loudly when it
//! is missing, except under `CI`, where a missing tmux is a failure.

use super::env::TestCommand;
use super::fixtures;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Columns and rows of the pane.
pub const WIDTH: u16 = 120;
pub const HEIGHT: u16 = 40;

/// The tmux binary, or None (with a SKIPPED line) when it is not installed;
/// with `CI` set a missing tmux panics (TUI tests must run in CI).
pub fn tmux_bin() -> Option<PathBuf> {
    if let Ok(p) = which_tmux() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!(
            "CI is set but tmux is not installed: the TUI tests need it \
             (apt-get install tmux; test.sh does this when run as root in CI)"
        );
    }
    eprintln!(
        "SKIPPED: TUI test {}: tmux is not installed",
        thread::current().name().unwrap_or("?")
    );
    None
}

fn which_tmux() -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("tmux"))
        .find(|p| p.is_file())
        .ok_or(())
}

/// One program running in its own tmux server.
pub struct Tui {
    tmux: PathBuf,
    socket: PathBuf,
    /// Where the wrapper writes the program's exit status.
    status: PathBuf,
    /// What was started, for failure messages.
    describe: String,
}

impl Tui {
    /// Start `cmd` (program, args, clean env and cwd as built) in a
    /// detached WIDTHxHEIGHT pane. `dir` holds the tmux socket and config.
    /// None when tmux is missing (see `tmux_bin`).
    pub fn start(cmd: &TestCommand, dir: &Path) -> Option<Tui> {
        let tmux = tmux_bin()?;
        let tag = fixtures::unique_tag();
        let socket = dir.join(format!("tmux-{tag}.sock"));
        let conf = dir.join(format!("tmux-{tag}.conf"));
        let status = dir.join(format!("tmux-{tag}.status"));
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g history-limit 20000\nset -g status off\n",
        )
        .expect("write tmux config");
        let inner = cmd.to_command();
        // The server inherits this clean environment, so the pane gets
        // exactly the command's environment (plus TERM from tmux).
        let mut c = Command::new(&tmux);
        c.env_clear();
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        if let Some(d) = inner.get_current_dir() {
            c.current_dir(d);
        }
        c.arg("-S").arg(&socket).arg("-f").arg(&conf);
        c.args(["new-session", "-d", "-s", "t"]);
        c.args(["-x", &WIDTH.to_string(), "-y", &HEIGHT.to_string(), "--"]);
        c.args([
            "/bin/sh",
            "-c",
            r#"f=$1; shift; "$@"; echo $? > "$f.tmp" && mv "$f.tmp" "$f""#,
            "sh",
        ]);
        c.arg(&status);
        c.arg(inner.get_program());
        c.args(inner.get_args());
        let tui = Tui {
            tmux,
            socket,
            status,
            describe: cmd.describe(),
        };
        let out = c.output().expect("run tmux new-session");
        assert!(
            out.status.success(),
            "tmux new-session failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            tui.describe
        );
        Some(tui)
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.tmux)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_clear()
            .output()
            .expect("run tmux")
    }

    /// The visible screen, as plain text (wrapped lines joined).
    pub fn screen(&self) -> String {
        self.capture(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    /// The whole pane including its scrollback, as plain text (wrapped
    /// lines joined, so a long message reads as one line).
    pub fn history(&self) -> String {
        self.capture(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
    }

    fn capture(&self, args: &[&str]) -> String {
        let text = String::from_utf8_lossy(&self.tmux(args).stdout).to_string();
        fixtures::assert_no_secrets(&text, &format!("the screen of\n{}", self.describe));
        text
    }

    /// Wait until the pane (with scrollback) shows `text`; panics with the
    /// screen when it does not within `timeout`.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        match self.wait_for_any(&[text], timeout) {
            Some(screen) => screen,
            None => panic!(
                "waited {timeout:?} for {text:?}; the pane shows:\n{}\n---\n{}",
                self.history(),
                self.describe
            ),
        }
    }

    /// Wait until the pane shows one of `texts`: the pane text, or None on
    /// timeout.
    pub fn wait_for_any(&self, texts: &[&str], timeout: Duration) -> Option<String> {
        let end = Instant::now() + timeout;
        loop {
            let screen = self.history();
            if texts.iter().any(|t| screen.contains(t)) {
                return Some(screen);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the pane shows `text` at least `n` times (e.g. the n-th
    /// finished turn); panics with the pane on timeout.
    pub fn wait_for_nth(&self, text: &str, n: usize, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let screen = self.history();
            if screen.matches(text).count() >= n {
                return screen;
            }
            if Instant::now() >= end {
                panic!(
                    "waited {timeout:?} for {text:?} (x{n}); the pane shows:\n{screen}\n---\n{}",
                    self.describe
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Type `text` literally (no Enter).
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Press keys by tmux name (`Enter`, `Escape`, `C-c`, ...).
    pub fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// Type `text`, wait until it shows on the screen (so the program has
    /// taken it as typing, not as a paste that swallows the Enter), then
    /// press Enter.
    pub fn send(&self, text: &str) {
        self.type_text(text);
        let visible = text.chars().take(40).collect::<String>();
        self.wait_for(&visible, Duration::from_secs(10));
        thread::sleep(Duration::from_millis(300));
        self.key("Enter");
    }

    /// The exit code once the program has ended, None while it runs
    /// (`128 + sig` when a signal killed it, as the shell reports it).
    pub fn exit_code(&self) -> Option<i32> {
        std::fs::read_to_string(&self.status)
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// The pane's process tree (`ps` lines), for failure messages.
    pub fn processes(&self) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let ps = Command::new("ps")
            .args(["-eo", "pid=,ppid=,stat=,wchan:20=,args="])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default();
        let rows: Vec<(String, String, &str)> = ps
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.to_string(), f.next()?.to_string(), l))
            })
            .collect();
        let mut tree = vec![root];
        let mut lines = Vec::new();
        let mut i = 0;
        while i < tree.len() {
            for (pid, ppid, line) in &rows {
                if *ppid == tree[i] || (*pid == tree[i] && i == 0) {
                    if *pid != tree[i] {
                        tree.push(pid.clone());
                    }
                    lines.push(line.to_string());
                }
            }
            i += 1;
        }
        lines.join("\n")
    }

    /// Wait for the program to exit; panics with the pane after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let end = Instant::now() + timeout;
        loop {
            if let Some(code) = self.exit_code() {
                return code;
            }
            if Instant::now() >= end {
                panic!(
                    "still running after {timeout:?}; the pane shows:\n{}\n---\n\
                     processes:\n{}\n---\n{}",
                    self.history(),
                    self.processes(),
                    self.describe
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}
