//! The product's main path: `codex ARGS...` (through the shim) and
//! `swop codex ARGS...`. Picks an account, says which on stderr, runs the real
//! codex under it with ARGS unchanged, and passes its exit status through.
//!
//! Order of checks, cheapest first: recursion depth, SWOP_BYPASS, fast paths
//! (--version, --help, help, completion), login/logout guard, nested call from
//! inside a swop-launched codex, then selection. A fresh cache means no
//! network and no extra process before codex starts.

pub mod failover;
pub mod live;

use crate::accounts::sandbox;
use crate::accounts::{self, Account};
use crate::base::error::{exit, Error, Result};
use crate::base::paths::{env_nonempty, Paths};
use crate::codex;
use crate::config::Config;
use crate::select::{self, Choice};
use crate::usage::gather::{self, AccountState};

use crate::base::term;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Set for the codex swop starts: the sandbox it runs in. A nested `codex`
/// keeps the parent's account only while CODEX_HOME still equals this path
/// and the sandbox exists, so a marker inherited by a long-lived daemon can
/// never pin a later, unrelated call to a removed account. (The name has no
/// KEY/SECRET/TOKEN in it: codex's shell environment policy drops those.)
pub const LAUNCHED_VAR: &str = "SWOP_LAUNCHED_HOME";

const FAST_PATHS: &[&str] = &["--version", "-V", "--help", "-h", "help", "completion"];

/// The codex subcommand: the first argument that is not an option (skipping
/// the value of `-c`/`--config`, `-p`/`--profile`, `-m`/`--model`, ...).
pub fn subcommand(args: &[OsString]) -> Option<&str> {
    let mut skip = false;
    for a in args {
        let s = a.to_str()?;
        if skip {
            skip = false;
            continue;
        }
        if matches!(
            s,
            "-c" | "--config"
                | "-p"
                | "--profile"
                | "-m"
                | "--model"
                | "-C"
                | "--cd"
                | "-s"
                | "--sandbox"
                | "-a"
                | "--ask-for-approval"
                | "-i"
                | "--image"
                | "--enable"
                | "--disable"
        ) {
            skip = true;
            continue;
        }
        if s == "--" {
            return None;
        }
        if !s.starts_with('-') {
            return Some(s);
        }
    }
    None
}

pub fn run(args: Vec<OsString>) -> Result<i32> {
    codex::check_depth()?;
    let paths = Paths::from_env()?;
    if env_nonempty("SWOP_BYPASS").is_some_and(|v| v != "0") {
        // Exactly as if swop were not there: same args, same environment.
        let cfg = Config::load(&paths.config()).unwrap_or_default();
        let real = codex::find(&cfg, &paths)?;
        return exec_plain(&real, &args);
    }
    let first = args.first().and_then(|a| a.to_str());
    let cfg = Config::load(&paths.config())?;
    let real = codex::find(&cfg, &paths)?;
    if first.is_some_and(|f| FAST_PATHS.contains(&f)) {
        return exec_plain(&real, &args);
    }
    match subcommand(&args) {
        Some("login") => {
            return Err(Error::usage("`codex login` through swop would log in to an arbitrary account sandbox")
                .help("add an account: swop add NAME; log in again: swop relogin NAME; or run the real codex: SWOP_BYPASS=1 codex login"))
        }
        Some("logout") => {
            return Err(Error::usage("`codex logout` through swop would log out of an arbitrary account sandbox")
                .help("remove an account: swop logout NAME; or run the real codex: SWOP_BYPASS=1 codex logout"))
        }
        _ => {}
    }
    if let Some(home) = nested_home(&paths) {
        let (mut cmd, _) = codex::command(&real, &home);
        sandbox::setup(&cfg).apply(&mut cmd);
        cmd.env(LAUNCHED_VAR, &home).args(&args);
        return codex::run_attached(cmd);
    }
    paths.check_private()?;
    let all = accounts::list(&paths)?;
    if all.is_empty() {
        term::note(
            "no accounts yet, so codex runs with your own login (add one with: swop add NAME)",
        );
        return exec_plain(&real, &args);
    }
    Launcher {
        paths,
        cfg,
        real,
        accounts: all,
    }
    .launch(args)
}

/// The sandbox of the swop-launched codex this call comes from, if it is one.
fn nested_home(paths: &Paths) -> Option<PathBuf> {
    let marker = PathBuf::from(env_nonempty(LAUNCHED_VAR)?);
    let home = PathBuf::from(env_nonempty("CODEX_HOME")?);
    if marker != home || !home.starts_with(paths.accounts()) || !home.join("auth.json").is_file() {
        return None;
    }
    Some(home)
}

/// Replaces swop with the real codex: no selection, nothing changed but the
/// recursion counter.
fn exec_plain(real: &Path, args: &[OsString]) -> Result<i32> {
    let err = std::process::Command::new(real)
        .args(args)
        .env(codex::DEPTH_VAR, (codex::depth() + 1).to_string())
        .exec();
    Err(Error::new(format!("cannot run '{}': {err}", real.display())).code(exit::NO_CODEX))
}

pub struct Launcher {
    pub paths: Paths,
    pub cfg: Config,
    pub real: PathBuf,
    pub accounts: Vec<Account>,
}

impl Launcher {
    fn setup(&self) -> sandbox::Setup {
        sandbox::setup(&self.cfg)
    }

    /// Usage for some accounts (cache first); warnings printed.
    pub fn states(&self, accounts: &[Account], force: bool) -> Vec<AccountState> {
        let mode = if force {
            gather::Mode::Force
        } else {
            gather::Mode::Wait
        };
        self.states_with(accounts, mode)
    }

    /// The launch's usage: under `refresh = "background"`, cached numbers
    /// younger than `stale_after` are used when they settle the pick.
    fn states_for_launch(&self) -> Vec<AccountState> {
        if self.cfg.usage.refresh == crate::config::RefreshPolicy::BeforeLaunch {
            return self.states(&self.accounts, false);
        }
        let decidable = |s: &[AccountState]| self.choose(s, &[]).is_ok_and(|c| !c.without_data);
        self.states_with(&self.accounts, gather::Mode::CacheFirst(&decidable))
    }

    fn states_with(&self, accounts: &[Account], mode: gather::Mode) -> Vec<AccountState> {
        let setup = self.setup();
        let prepare = move |c: &mut std::process::Command| setup.apply(c);
        // status and pick also run without a real codex (no app-server then).
        let real = Some(self.real.as_path()).filter(|p| !p.as_os_str().is_empty());
        let g = gather::gather_with(&self.paths, &self.cfg, accounts, real, &prepare, mode);
        for line in gather::warning_lines(&g.states) {
            term::warn(&line);
        }
        g.states
    }

    /// Refreshes, while codex runs on `running`, the accounts whose numbers
    /// are due (refresh = "background" only).
    fn start_refresher(
        &self,
        running: &str,
        states: &[AccountState],
        read_cache_ms: i64,
    ) -> Option<crate::usage::background::Refresher> {
        if self.cfg.usage.refresh != crate::config::RefreshPolicy::Background {
            return None;
        }
        let due: Vec<Account> = states
            .iter()
            .filter(|s| s.cache.refresh_due && s.name != running)
            .map(|s| self.account(&s.name).clone())
            .collect();
        let setup = self.setup();
        let real = Some(self.real.clone()).filter(|p| !p.as_os_str().is_empty());
        crate::usage::background::start(
            &self.paths,
            &self.cfg,
            read_cache_ms,
            due,
            real,
            Box::new(move |c| setup.apply(c)),
        )
    }

    /// Selection over `states`, skipping `exclude`d accounts.
    pub fn choose(
        &self,
        states: &[AccountState],
        exclude: &[String],
    ) -> std::result::Result<Choice, select::Blocked> {
        let lives: Vec<usize> = states
            .iter()
            .map(|s| crate::launch::live::list(&self.paths, &s.name).len())
            .collect();
        let mut cfg = self.cfg.selection.clone();
        cfg.exclude.extend(exclude.iter().cloned());
        let cwd = std::env::current_dir().unwrap_or_default();
        let forced = env_nonempty("SWOP_ACCOUNT").and_then(|v| v.into_string().ok());
        let home = dirs::home_dir();
        let inputs: Vec<select::Input> = states
            .iter()
            .zip(lives)
            .map(|(state, live)| select::Input { state, live })
            .collect();
        select::select(
            &inputs,
            &select::Policy {
                cfg: &cfg,
                forced: forced
                    .as_deref()
                    .filter(|f| !exclude.iter().any(|e| e == f)),
                cwd: &cwd,
                home: home.as_deref(),
                now: crate::base::time::now(),
            },
        )
    }

    fn account(&self, name: &str) -> &Account {
        self.accounts
            .iter()
            .find(|a| a.name == name)
            .expect("chosen from this list")
    }

    fn launch(self, args: Vec<OsString>) -> Result<i32> {
        if let Some(forced) = env_nonempty("SWOP_ACCOUNT") {
            accounts::get(&self.paths, &forced.to_string_lossy())?;
        }
        let read_cache_ms = crate::usage::gather::now_ms();
        let mut states = self.states_for_launch();
        let choice = loop {
            let choice = self.pick_or_relogin(&mut states)?;
            // A fresh cache may predate a lost login: check the file itself.
            // codex 0.169.0 runs with no credentials at all, silently, when
            // it cannot read auth.json.
            let account = self.account(&choice.name);
            let Err(e) = crate::accounts::auth::read(&account.auth_file()) else {
                break choice;
            };
            let state = states
                .iter_mut()
                .find(|s| s.name == choice.name)
                .expect("chosen from states");
            if state.dead {
                // Only SWOP_ACCOUNT picks a dead account; without a login
                // file codex would run unauthenticated, so stop here.
                return Err(Error::new(format!(
                    "cannot use account '{}': {}",
                    choice.name, e.message
                ))
                .help(format!("log in again: swop relogin {}", choice.name))
                .code(exit::LOGIN_NEEDED));
            }
            let _ =
                crate::usage::cache::mark_dead(&self.paths, &choice.name, crate::base::time::now());
            term::warn(&format!(
                "session for '{}' has expired ({}); run: swop relogin {}",
                choice.name, e.message, choice.name
            ));
            state.dead = true;
        };
        let cwd = std::env::current_dir().unwrap_or_default();
        let args = match crate::accounts::rollouts::resolve_last(&self.cfg, &args, &cwd) {
            Some((resolved, id)) => {
                term::note(&format!(
                    "resuming the newest session here across all accounts: {id}"
                ));
                resolved
            }
            None => args,
        };
        let refresher = self.start_refresher(&choice.name, &states, read_cache_ms);
        let code = self.run_on(choice, args, &states);
        if let Some(r) = refresher {
            r.finish(crate::usage::background::EXIT_GRACE);
        }
        code
    }

    /// Picks; when the account that would win has a dead session, asks to log
    /// in again on a terminal, or skips it (and says so) without one.
    fn pick_or_relogin(&self, states: &mut [AccountState]) -> Result<Choice> {
        let dead: Vec<String> = states
            .iter()
            .filter(|s| s.dead)
            .map(|s| s.name.clone())
            .collect();
        if !dead.is_empty() {
            let mut revived: Vec<AccountState> = states.to_vec();
            revived.iter_mut().for_each(|s| s.dead = false);
            if let Ok(would) = self.choose(&revived, &[]) {
                if dead.contains(&would.name) {
                    let name = would.name.clone();
                    if term::interactive()
                        && term::confirm(&format!(
                            "Session for '{name}' has expired. Log in again now?"
                        ))
                    {
                        crate::cli::commands::relogin(&self.paths, &self.cfg, &name, false, &[])?;
                        let fresh = self.states(std::slice::from_ref(self.account(&name)), true);
                        if let Some(i) = states.iter().position(|s| s.name == name) {
                            states[i] = fresh.into_iter().next().expect("one account in, one out");
                        }
                    } else {
                        term::warn(&format!(
                            "skipping '{name}' for this launch (its session has expired)"
                        ));
                    }
                }
            }
        }
        self.choose(states, &[]).map_err(|b| blocked_error(&b))
    }

    fn announce(&self, choice: &Choice, states: &[AccountState]) {
        for w in &choice.warnings {
            term::warn(w);
        }
        if !self.cfg.output.announce {
            return;
        }
        let account = self.account(&choice.name);
        let state = states.iter().find(|s| s.name == choice.name);
        let usage = state.and_then(|s| s.usage.as_ref()).map(|(u, _)| u);
        let plan = usage
            .and_then(|u| u.plan.clone())
            .or_else(|| account.identity().plan)
            .unwrap_or_else(|| "unknown plan".into());
        let mut facts = vec![plan];
        if let Some(w) = usage.and_then(|u| u.weekly_used()) {
            facts.push(format!("weekly {w:.0}%"));
        }
        if let Some(f) = usage.and_then(|u| u.five_hour_used()) {
            facts.push(format!("5h {f:.0}%"));
        }
        term::note(&format!(
            "codex on '{}' ({}): {}",
            choice.name,
            facts.join(", "),
            choice.why
        ));
    }

    /// Runs codex on the chosen account; afterwards, a dead session is
    /// relogged once and an exhausted account fails over (issue: failover).
    fn run_on(
        &self,
        mut choice: Choice,
        mut args: Vec<OsString>,
        states: &[AccountState],
    ) -> Result<i32> {
        let mut used: Vec<String> = Vec::new();
        let mut relogged = false;
        let mut states = states.to_vec();
        loop {
            self.announce(&choice, &states);
            let account = self.account(&choice.name).clone();
            used.push(account.name.clone());
            let started = std::time::SystemTime::now();
            // Only the first run's login was checked (in `launch`); a
            // relogin or a failover account is checked here.
            let learning = crate::usage::learn::Run::begin(&self.cfg, &account, &args);
            let code = self.run_child(&account, &args, used.len() == 1 && !relogged)?;
            // The numbers codex recorded in this run, or a refresh mark.
            learning.finish(&self.paths, &account);
            // Success, or the person stopped codex (Ctrl-C, kill): done.
            if code == 0 || code > 128 {
                return Ok(code);
            }
            // codex failed: look at the account again, never at its output.
            let now = self.states(std::slice::from_ref(&account), true).remove(0);
            if now.dead {
                if relogged {
                    term::warn(&format!("'{}' still fails after logging in again; not retrying (run: swop relogin {})", account.name, account.name));
                    return Ok(code);
                }
                relogged = true;
                if term::interactive()
                    && term::confirm(&format!(
                        "Session for '{}' has expired. Log in again now?",
                        account.name
                    ))
                {
                    crate::cli::commands::relogin(
                        &self.paths,
                        &self.cfg,
                        &account.name,
                        false,
                        &[],
                    )?;
                    term::note(&format!("retrying on '{}'", account.name));
                    continue;
                }
                term::warn(&format!(
                    "the session for '{}' has expired; run: swop relogin {}",
                    account.name, account.name
                ));
                return Ok(code);
            }
            let exhausted = now.usage.as_ref().is_some_and(|(u, _)| u.is_limited());
            if !exhausted {
                return Ok(code);
            }
            if let Some(i) = states.iter().position(|s| s.name == now.name) {
                states[i] = now.clone();
            }
            match crate::launch::failover::plan(
                self, &account, &now, &args, started, &states, &used,
            )? {
                Some((next, next_args)) => {
                    choice = next;
                    args = next_args;
                }
                None => return Ok(code),
            }
        }
    }

    /// Runs codex once on `account`. `login_checked`: the caller has just
    /// read its auth.json (the first launch does, in `launch`).
    fn run_child(&self, account: &Account, args: &[OsString], login_checked: bool) -> Result<i32> {
        crate::base::paths::check_private_file(&account.auth_file())?;
        // codex 0.169.0 runs with no credentials at all, silently, when it
        // cannot read auth.json: never start it on an unusable login.
        if !login_checked {
            crate::accounts::auth::read(&account.auth_file()).map_err(|e| {
                Error::new(format!(
                    "cannot use account '{}': {}",
                    account.name, e.message
                ))
                .help(format!("log in again: swop relogin {}", account.name))
                .code(exit::LOGIN_NEEDED)
            })?;
        }
        for n in sandbox::link(&self.cfg, &account.home)? {
            term::note(&n);
        }
        let (mut cmd, removed) = codex::command(&self.real, &account.home);
        let mut dropped: Vec<&str> = removed;
        if env_nonempty("CODEX_HOME").is_some_and(|h| Path::new(&h) != account.home) {
            dropped.push("CODEX_HOME");
        }
        if !dropped.is_empty() {
            term::note(&format!(
                "removed {} from codex's environment so that it uses account '{}'",
                dropped.join(", "),
                account.name
            ));
        }
        self.setup().apply(&mut cmd);
        cmd.env(LAUNCHED_VAR, &account.home).args(args);
        let _live = crate::launch::live::register(&self.paths, &account.name)
            .map_err(|e| term::warn(&format!("cannot register this session: {}", e.message)))
            .ok();
        codex::run_attached(cmd)
    }
}

/// The "all accounts blocked" error with each account's reason.
pub fn blocked_error(b: &select::Blocked) -> Error {
    let now = crate::base::time::now();
    let mut msg = b.headline(now);
    for (name, why, _) in &b.accounts {
        msg.push_str(&format!("\n  {name}: {why}"));
    }
    let all_dead = b
        .accounts
        .iter()
        .all(|(_, why, _)| why.starts_with("session expired"));
    let (code, help) = if all_dead {
        let first = &b.accounts[0].0;
        (
            exit::LOGIN_NEEDED,
            format!("log in again: swop relogin {first}"),
        )
    } else {
        (exit::ALL_BLOCKED, "wait for a reset, add another account (swop add NAME), or force one: SWOP_ACCOUNT=NAME codex ...".to_string())
    };
    Error::new(msg).help(help).code(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn subcommand_skips_option_values() {
        assert_eq!(subcommand(&args(&["-c", "a=b", "login"])), Some("login"));
        assert_eq!(subcommand(&args(&["--json", "exec", "hi"])), Some("exec"));
        assert_eq!(subcommand(&args(&["-m", "login", "exec"])), Some("exec"));
        assert_eq!(subcommand(&args(&["--", "login"])), None);
        assert_eq!(subcommand(&args(&[])), None);
    }
}
