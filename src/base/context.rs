//! The inputs of this process, read once in `main`: `argv[0]` and the
//! arguments, environment, working directory, whether the standard streams
//! are terminals, and the binary's own path.
//! Everything below `main` takes them from here (or from a value built
//! from them, like `Paths`), never from `std::env`, so that every decision
//! can be tested with a made-up context. Code that is not handed the
//! context (the terminal's colour and width, finding codex) reads the one
//! `main` installed, through [`var`] and [`cwd`]. Never reads the process
//! environment after [`Context::from_process`].

/// What the process was given, read once: arguments, environment (an empty
/// variable counts as unset), working directory, and whether the standard
/// streams are terminals. Decisions take it as a value, so they can be
/// tested with a made-up one. The clock is not in it: a launch outlives its
/// start by hours (the TUI), so each decision reads the time when it is
/// made.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// How the process was started (`argv[0]`): `codex` through the shim.
    pub argv0: Option<std::ffi::OsString>,
    /// The arguments after `argv[0]`.
    pub args: Vec<std::ffi::OsString>,
    pub env: std::collections::HashMap<String, std::ffi::OsString>,
    pub cwd: std::path::PathBuf,
    pub stdin_tty: bool,
    pub stderr_tty: bool,
    /// This binary's own path (to tell swop from the real codex).
    pub exe: Option<std::path::PathBuf>,
}

impl Context {
    /// The real process's context.
    pub fn from_process() -> Context {
        use std::io::IsTerminal;
        let mut args = std::env::args_os();
        let argv0 = args.next();
        let env = std::env::vars_os()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
            .collect();
        Context {
            argv0,
            args: args.collect(),
            env,
            cwd: std::env::current_dir().unwrap_or_default(),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            exe: std::env::current_exe().ok(),
        }
    }

    /// Makes this the context of the whole process, read by [`var`] and
    /// [`cwd`] (once, in `main`; a later call keeps the first).
    pub fn install(&self) {
        let _ = PROCESS.set(self.clone());
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

static PROCESS: std::sync::OnceLock<Context> = std::sync::OnceLock::new();

/// Variable `name` of the context `main` installed (None when unset or
/// empty, and in unit tests, which have no `main`: nothing is set there).
pub fn var(name: &str) -> Option<std::ffi::OsString> {
    PROCESS.get()?.var(name).map(|v| v.to_os_string())
}

/// [`var`] as text; None when unset, empty or not UTF-8.
pub fn var_str(name: &str) -> Option<String> {
    var(name).and_then(|v| v.into_string().ok())
}

/// The working directory `main` read (None in unit tests, or when it could
/// not be read).
pub fn cwd() -> Option<std::path::PathBuf> {
    PROCESS
        .get()
        .map(|c| c.cwd.clone())
        .filter(|c| !c.as_os_str().is_empty())
}

/// This binary's own path as `main` read it (None in unit tests).
pub fn exe() -> Option<std::path::PathBuf> {
    PROCESS.get()?.exe.clone()
}
