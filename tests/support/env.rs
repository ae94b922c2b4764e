//! A temp home per test and a `TestCommand` that runs the built `swop`.
//!
//! Every command runs with a clean environment (only what `TestEnv` sets
//! plus what the test adds) and a bounded wait; its stdout and stderr are
//! always scanned for registered secrets (`fixtures::assert_no_secrets`),
//! which is how the whole suite proves that nothing leaks. A failed
//! expectation prints the command, the env overrides, the status and both
//! streams.

use super::fake_codex::{self, FakeCall};
use super::fixtures::{self, Identity};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The default bound on a command's run time.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The swop binary under test.
pub fn swop_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_swop"))
}

/// The real codex for the real-codex tests, from `SWOP_TEST_REAL_CODEX`.
/// Unset: prints a loud SKIPPED line and returns None; but with `CI` set
/// an unset variable is a failure (in CI real-codex tests must run).
pub fn real_codex() -> Option<PathBuf> {
    match std::env::var_os("SWOP_TEST_REAL_CODEX").filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.exists(),
                "SWOP_TEST_REAL_CODEX={} does not exist",
                p.display()
            );
            Some(p)
        }
        None => {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!(
                    "CI is set but SWOP_TEST_REAL_CODEX is not: real-codex tests must run in CI \
                     (./test.sh installs the tested versions; or npm install --prefix DIR \
                     @openai/codex@VERSION and SWOP_TEST_REAL_CODEX=DIR/node_modules/.bin/codex)"
                );
            }
            eprintln!(
                "SKIPPED: real-codex test {}: set SWOP_TEST_REAL_CODEX to a codex binary to run it",
                thread::current().name().unwrap_or("?")
            );
            None
        }
    }
}

/// The system's tools without any `codex`: a directory (one per test
/// process, under cargo's target tmp dir) of links to everything in
/// /usr/bin and /bin except `codex`, plus `node` from the test's own PATH
/// when it is elsewhere (nvm). Tests put this on PATH instead of
/// /usr/bin:/bin, so a codex the host has installed (/usr/bin/codex from
/// `npm install -g`, /usr/local/bin, an nvm dir) is never found by
/// accident: the suite passes on a machine set up as the README says.
pub fn system_path() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        sweep_system_paths(&root);
        let dir = root.join(format!("system-path-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the system path dir");
        let mut tools: Vec<PathBuf> = ["/usr/bin", "/bin"]
            .iter()
            .flat_map(|d| fs::read_dir(d).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        tools.extend(which_in_own_path("node"));
        for t in tools {
            let Some(name) = t.file_name() else { continue };
            if name == "codex" || dir.join(name).symlink_metadata().is_ok() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(&t, dir.join(name));
        }
        dir
    })
}

/// `name` on the test process's own PATH, if it is there.
fn which_in_own_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Removes the system path dirs of test processes that are gone.
fn sweep_system_paths(root: &Path) {
    for e in fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("system-path-")
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// One test's world: a temp dir holding HOME, SWOP_HOME, the fake codex and
/// its log, a `codex` symlink to swop, and a work dir. Removed on drop
/// (kept when `SWOP_TEST_KEEP` is set).
pub struct TestEnv {
    pub root: PathBuf,
    /// HOME
    pub home: PathBuf,
    /// SWOP_HOME = home/.swop (not created: swop makes it)
    pub swop_home: PathBuf,
    /// Holds the fake `codex`; first on PATH.
    pub bin: PathBuf,
    /// The fake codex script.
    pub fake_codex: PathBuf,
    /// Holds `codex` -> the swop binary.
    pub shim: PathBuf,
    /// FAKE_CODEX_LOG
    pub log: PathBuf,
    /// The default cwd of commands (not a git repository).
    pub work: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let root = std::env::temp_dir().join(format!(
            "swop-test-{}-{}",
            std::process::id(),
            fixtures::unique_tag()
        ));
        fs::create_dir_all(&root).expect("create test root");
        let root = root.canonicalize().expect("canonical test root");
        let home = root.join("home");
        let bin = root.join("bin");
        let shim = root.join("shim");
        let work = root.join("work");
        for d in [&home, &bin, &shim, &work] {
            fs::create_dir_all(d).expect("create test dir");
        }
        let fake_codex = fake_codex::write_fake_codex(&bin);
        std::os::unix::fs::symlink(swop_bin(), shim.join("codex")).expect("symlink shim codex");
        TestEnv {
            swop_home: home.join(".swop"),
            log: root.join("fake-codex.log"),
            root,
            home,
            bin,
            fake_codex,
            shim,
            work,
        }
    }

    /// The environment every command starts from.
    pub fn base_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PATH".to_string(),
                format!("{}:{}", self.bin.display(), system_path().display()),
            ),
            ("HOME".to_string(), self.home.display().to_string()),
            (
                "SWOP_HOME".to_string(),
                self.swop_home.display().to_string(),
            ),
            (
                "SWOP_CODEX".to_string(),
                self.fake_codex.display().to_string(),
            ),
            ("FAKE_CODEX_LOG".to_string(), self.log.display().to_string()),
            ("TZ".to_string(), "UTC".to_string()),
            ("NO_COLOR".to_string(), "1".to_string()),
        ]
    }

    /// `swop ...` with the clean environment.
    pub fn swop(&self) -> TestCommand {
        self.command(swop_bin())
    }

    /// `codex ...` through the `codex` symlink to swop (argv[0] dispatch).
    /// PATH is `<shim>:<bin>:<system>`, as after an install.
    pub fn codex(&self) -> TestCommand {
        let mut c = self.command(self.shim.join("codex"));
        c.env(
            "PATH",
            format!(
                "{}:{}:{}",
                self.shim.display(),
                self.bin.display(),
                system_path().display()
            ),
        );
        c
    }

    /// Any program with the same clean environment and cwd.
    pub fn command(&self, program: impl AsRef<Path>) -> TestCommand {
        let mut c = TestCommand::new(program.as_ref());
        for (k, v) in self.base_env() {
            c.base_env(&k, &v);
        }
        c.current_dir(&self.work);
        c
    }

    /// Every `account/rateLimitResetCredit/consume` the fake app-server
    /// answered: (CODEX_HOME, idempotency key), in order.
    pub fn consume_calls(&self) -> Vec<(String, String)> {
        fake_codex::parse_consume_log(&self.log.with_extension("log.consume"))
    }

    /// Every fake codex invocation so far.
    pub fn fake_log(&self) -> Vec<FakeCall> {
        fake_codex::parse_fake_log(&self.log)
    }

    /// Write a ChatGPT auth.json fixture (access token valid for a day) to
    /// `<root>/fixtures/<name>.json`, for FAKE_CODEX_AUTH.
    pub fn write_auth_fixture(&self, name: &str, id: &Identity) -> PathBuf {
        self.write_auth_fixture_exp(name, id, fixtures::now_unix() + 86_400)
    }

    /// Same with the access token expiring at `access_exp`.
    pub fn write_auth_fixture_exp(&self, name: &str, id: &Identity, access_exp: i64) -> PathBuf {
        self.write_fixture_text(name, &fixtures::chatgpt_auth_json(id, access_exp))
    }

    /// Write an arbitrary fixture file `<root>/fixtures/<name>.json`.
    pub fn write_fixture_text(&self, name: &str, text: &str) -> PathBuf {
        let dir = self.root.join("fixtures");
        fs::create_dir_all(&dir).expect("create fixtures dir");
        let p = dir.join(format!("{name}.json"));
        fs::write(&p, text).expect("write fixture");
        p
    }

    /// The account sandbox swop is expected to use: SWOP_HOME/accounts/<name>.
    pub fn account_home(&self, name: &str) -> PathBuf {
        self.swop_home.join("accounts").join(name)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::env::var_os("SWOP_TEST_KEEP").is_some() {
            eprintln!("SWOP_TEST_KEEP: kept {}", self.root.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// What a finished command produced.
#[derive(Clone, Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// None when killed by a signal.
    pub code: Option<i32>,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// True when the run hit its timeout and was killed.
    pub timed_out: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A command builder around `std::process::Command` with a clean env.
pub struct TestCommand {
    program: PathBuf,
    args: Vec<OsString>,
    /// Env from TestEnv (printed only on request).
    base: Vec<(String, String)>,
    /// Overrides by the test: Some(value) set, None removed.
    overrides: Vec<(String, Option<String>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    /// stdin is a pipe left open in `Running::child` for the test.
    hold_stdin: bool,
    timeout: Duration,
}

impl TestCommand {
    pub fn new(program: &Path) -> TestCommand {
        TestCommand {
            program: program.to_path_buf(),
            args: vec![],
            base: vec![],
            overrides: vec![],
            cwd: None,
            stdin: None,
            hold_stdin: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn base_env(&mut self, k: &str, v: &str) {
        self.base.push((k.to_string(), v.to_string()));
    }

    pub fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, k: impl AsRef<str>, v: impl AsRef<std::ffi::OsStr>) -> &mut Self {
        self.overrides.push((
            k.as_ref().to_string(),
            Some(v.as_ref().to_string_lossy().to_string()),
        ));
        self
    }

    /// Several `env` at once (e.g. `backend.rig_env()`).
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<std::ffi::OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    pub fn env_remove(&mut self, k: impl AsRef<str>) -> &mut Self {
        self.overrides.push((k.as_ref().to_string(), None));
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// stdin a pipe that stays open: the test takes it from
    /// `Running::child.stdin` and closes it when it wants (codex exec waits
    /// for EOF on a piped stdin before it starts its turn).
    pub fn stdin_held(&mut self) -> &mut Self {
        self.hold_stdin = true;
        self
    }

    /// Bytes fed to stdin (then closed). Without it stdin is /dev/null.
    pub fn stdin(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    /// Bound on the run time (default 60 s); on expiry the process group
    /// is killed and the run reports `timed_out`.
    pub fn timeout(&mut self, t: Duration) -> &mut Self {
        self.timeout = t;
        self
    }

    /// The effective environment.
    pub fn effective_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self.base.clone();
        for (k, v) in &self.overrides {
            env.retain(|(k2, _)| k2 != k);
            if let Some(v) = v {
                env.push((k.clone(), v.clone()));
            }
        }
        env
    }

    /// A `std::process::Command` with everything applied (stdio untouched),
    /// e.g. for `pty::run_in_pty`. Not made a process-group leader.
    pub fn to_command(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        c.env_clear();
        for (k, v) in self.effective_env() {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c
    }

    /// A description for failure messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "command: {}",
            shell_quote(&self.program.to_string_lossy())
        );
        for a in &self.args {
            let _ = write!(s, " {}", shell_quote(&a.to_string_lossy()));
        }
        if let Some(d) = &self.cwd {
            let _ = write!(s, "\ncwd: {}", d.display());
        }
        if !self.overrides.is_empty() {
            s.push_str("\nenv overrides:");
            for (k, v) in &self.overrides {
                match v {
                    Some(v) => {
                        let _ = write!(s, " {k}={}", shell_quote(v));
                    }
                    None => {
                        let _ = write!(s, " -{k}");
                    }
                }
            }
        }
        if let Some(i) = &self.stdin {
            let _ = write!(s, "\nstdin: {} bytes", i.len());
        }
        s
    }

    /// Start it: piped stdout/stderr (collected in the background), stdin
    /// fed and closed, own process group (so a timeout kills helpers too).
    pub fn spawn(&self) -> Running {
        use std::os::unix::process::CommandExt;
        let mut c = self.to_command();
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c.stdin(if self.stdin.is_some() || self.hold_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.process_group(0);
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn: {e}\n{}", self.describe()));
        if let Some(bytes) = self.stdin.clone() {
            let mut stdin = child.stdin.take().expect("stdin pipe");
            thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let stdout = collect(child.stdout.take().expect("stdout pipe"));
        let stderr = collect(child.stderr.take().expect("stderr pipe"));
        Running {
            child,
            stdout,
            stderr,
            describe: self.describe(),
            default_timeout: self.timeout,
        }
    }

    /// Run to completion (bounded by the timeout). Always scans stdout and
    /// stderr for secrets.
    pub fn run(&self) -> Output {
        self.spawn().wait_output(self.timeout)
    }

    /// Run and require exit code 0.
    pub fn ok(&self) -> Output {
        let out = self.run();
        if !out.success() {
            panic!("expected success\n{}", report(&self.describe(), &out));
        }
        out
    }

    /// Run and require a failure (non-zero exit or a signal).
    pub fn fails(&self) -> Output {
        let out = self.run();
        if out.success() || out.timed_out {
            panic!("expected failure\n{}", report(&self.describe(), &out));
        }
        out
    }

    /// Run and require this exit code.
    pub fn code(&self, code: i32) -> Output {
        let out = self.run();
        if out.code != Some(code) {
            panic!(
                "expected exit code {code}\n{}",
                report(&self.describe(), &out)
            );
        }
        out
    }
}

/// Everything needed to understand a failed expectation.
pub fn report(describe: &str, out: &Output) -> String {
    format!(
        "{describe}\nstatus: {}{}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
        out.status,
        if out.timed_out {
            " (TIMED OUT, killed)"
        } else {
            ""
        },
        out.stdout,
        out.stderr
    )
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

type Sink = Arc<Mutex<Vec<u8>>>;

fn collect(mut r: impl Read + Send + 'static) -> (Sink, thread::JoinHandle<()>) {
    let sink: Sink = Arc::new(Mutex::new(Vec::new()));
    let s2 = sink.clone();
    let h = thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => s2
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]),
            }
        }
    });
    (sink, h)
}

fn text_of(s: &Sink) -> String {
    String::from_utf8_lossy(&s.lock().unwrap_or_else(|e| e.into_inner())).to_string()
}

/// A started command (from `TestCommand::spawn`), for concurrency and
/// signal tests.
pub struct Running {
    pub child: Child,
    stdout: (Sink, thread::JoinHandle<()>),
    stderr: (Sink, thread::JoinHandle<()>),
    describe: String,
    default_timeout: Duration,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal (libc::SIGTERM, ...) to the process.
    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// Send a signal to the whole process group (as a terminal would).
    pub fn signal_group(&self, sig: i32) {
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), sig);
        }
    }

    /// What it printed so far (scanned for secrets).
    pub fn stdout_so_far(&self) -> String {
        let t = text_of(&self.stdout.0);
        fixtures::assert_no_secrets(&t, &format!("stdout of\n{}", self.describe));
        t
    }

    pub fn stderr_so_far(&self) -> String {
        let t = text_of(&self.stderr.0);
        fixtures::assert_no_secrets(&t, &format!("stderr of\n{}", self.describe));
        t
    }

    /// Wait until stdout+stderr contain `needle`; false on timeout or exit.
    pub fn wait_for_output(&mut self, needle: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if text_of(&self.stdout.0).contains(needle) || text_of(&self.stderr.0).contains(needle)
            {
                return true;
            }
            if Instant::now() >= end || matches!(self.child.try_wait(), Ok(Some(_))) {
                return text_of(&self.stdout.0).contains(needle)
                    || text_of(&self.stderr.0).contains(needle);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait (the command's own timeout), collect, scan for secrets.
    pub fn finish(self) -> Output {
        let t = self.default_timeout;
        self.wait_output(t)
    }

    /// Wait up to `timeout` (then kill the process group), collect both
    /// streams and scan them for secrets.
    pub fn wait_output(mut self, timeout: Duration) -> Output {
        let end = Instant::now() + timeout;
        let mut timed_out = false;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) => {}
                Err(e) => panic!("wait failed: {e}\n{}", self.describe),
            }
            if Instant::now() >= end {
                timed_out = true;
                unsafe {
                    libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
                    libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
                }
                break self.child.wait().expect("wait after kill");
            }
            thread::sleep(Duration::from_millis(5));
        };
        // Grandchildren may hold the pipes open: give the readers a moment,
        // then take what is there.
        let grace = Instant::now() + Duration::from_secs(2);
        while !(self.stdout.1.is_finished() && self.stderr.1.is_finished())
            && Instant::now() < grace
        {
            thread::sleep(Duration::from_millis(5));
        }
        let out = Output {
            status,
            code: status.code(),
            signal: status.signal(),
            stdout: text_of(&self.stdout.0),
            stderr: text_of(&self.stderr.0),
            timed_out,
        };
        fixtures::assert_no_secrets(&out.stdout, &format!("stdout of\n{}", self.describe));
        fixtures::assert_no_secrets(&out.stderr, &format!("stderr of\n{}", self.describe));
        out
    }
}

/// A description of a `Running` for messages.
impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Running(pid {}, {})", self.child.id(), self.describe)
    }
}
