//! The product's main path: `codex ARGS...` (through the shim) and
//! `swop codex ARGS...`. Picks an account, says which on stderr, runs the real
//! codex under it with ARGS unchanged, and passes its exit status through.
//!
//! One call, top to bottom: [`run`] guards recursion, reads swop.toml, asks
//! [`route`] where the call goes (bypass, fast path, refused login/logout,
//! nested call, or a pick), and for a pick hands a [`Launcher`] the
//! [`Pool`] (accounts + usage + policy). The launcher picks, runs codex
//! (`run_child`), and after each run `after_run` decides: exit, retry after
//! a relogin, or switch accounts ([`rerun`]). codex's argv grammar lives
//! in [`argv`]; running sessions are registered in [`live`].
//!
//! Never parses swop's own flags and never renders tables: that is `cli/`.
//! A fresh cache means no network and no extra process before codex starts.

mod app_server;
pub mod argv;
mod guard;
mod in_turn;
pub mod live;
mod pool;
pub mod redeem;
pub mod rerun;
mod route;
mod summary;

pub use pool::Pool;

use crate::accounts::{self, rollouts, sandbox, Account};
use crate::base::context::Context;
use crate::base::error::{exit, Error, Result};
use crate::base::paths::Paths;
use crate::base::term;
use crate::codex::{self, Codex};
use crate::config::Config;
use crate::select::Choice;
use crate::usage::gather::AccountState;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;

pub use route::LAUNCHED_VAR;
use route::{Guarded, Route, Unpicked};

/// `codex ARGS...`: decide the route, then carry it out. Reads top to
/// bottom: guard -> config -> route -> accounts -> pick -> run.
pub fn run(ctx: Context) -> Result<i32> {
    codex::check_depth()?;
    let paths = Paths::from_env()?;
    let has_login = |home: &Path| home.join("auth.json").is_file();
    let disk = route::Disk {
        accounts_dir: &paths.accounts(),
        has_login: &has_login,
    };
    let route = route::route(&ctx, &disk);
    // A broken swop.toml never stands between the user and the real codex
    // when swop is asked to stay out of the way.
    let cfg = match route {
        Route::Bypass => Config::load(&paths.config()).unwrap_or_default(),
        // Nor `codex --version` / `--help`: said once, then the defaults.
        Route::FastPath => Config::load(&paths.config()).unwrap_or_else(|e| {
            term::warn(&format!("ignoring swop.toml: {}", e.message));
            Config::default()
        }),
        _ => Config::load(&paths.config())?,
    };
    let codex = Codex::locate(&cfg, &paths)?;
    let args = ctx.args.clone();
    match route {
        Route::Bypass | Route::FastPath => exec_plain(&codex, &args),
        Route::Refuse(what) => Err(refusal(what)),
        Route::Unpicked(why) => exec_unpicked(&codex, &cfg, &args, why),
        Route::Nested(home) => {
            let mut cmd = codex.in_home(&home)?.command;
            cmd.env(LAUNCHED_VAR, &home).args(&args);
            if app_server::shape(&args) == app_server::Shape::Stdio {
                let name = home.file_name().unwrap_or_default().to_string_lossy();
                return guard::run(cmd, &name);
            }
            codex::run_attached(cmd)
        }
        Route::Pick => {
            paths.check_private()?;
            let all = accounts::list(&paths)?;
            if all.is_empty() {
                term::note(
                    "no accounts yet, so codex runs with your own login (add one with: swop add NAME)",
                );
                return exec_plain(&codex, &args);
            }
            if argv::needs_learning(&args) {
                // A word the table does not know: only the installed codex
                // can say whether it is a subcommand (cached per binary).
                let bound = cfg.usage.timeout.max(std::time::Duration::from_secs(5));
                if let Some(l) = codex::help::learned(&paths, &codex, bound) {
                    argv::learn(l);
                }
            }
            let pool = Pool {
                paths,
                cfg,
                codex,
                accounts: all,
                ctx,
            };
            Launcher { pool }.launch(args)
        }
    }
}

fn refusal(what: Guarded) -> Error {
    match what {
        Guarded::Login => Error::usage("`codex login` through swop would log in to an arbitrary account sandbox")
            .help("add an account: swop add NAME; log in again: swop relogin NAME; or run the real codex: SWOP_BYPASS=1 codex login"),
        Guarded::Logout => Error::usage("`codex logout` through swop would log out of an arbitrary account sandbox")
            .help("remove an account: swop logout NAME; or run the real codex: SWOP_BYPASS=1 codex logout"),
        Guarded::SignOut => Error::usage("`codex app-server --startup-sign-out` through swop would revoke the login of an account sandbox")
            .help("remove an account: swop logout NAME; or run the real codex: SWOP_BYPASS=1 codex app-server ..."),
        Guarded::Listen => Error::usage("swop runs `codex app-server` only on stdio: on another transport it cannot keep the client from logging an account out")
            .help("drop --listen (stdio is the default), or run the real codex: SWOP_BYPASS=1 codex app-server ..."),
        Guarded::Daemon => Error::usage("codex's background app server keeps one account's login for as long as it runs, so swop will not start or manage it on whichever account a pick finds")
            .help("name the account: SWOP_ACCOUNT=NAME codex ... (stop it the same way); `swop ps` shows the servers that run"),
    }
}

/// A run that involves no account (a command on local files only, or a
/// `--remote` run): the real codex in the shared codex home, as the
/// sandboxes see it through their links, with no pick and no network.
/// Without sharing (`share = []`) codex runs exactly as called.
fn exec_unpicked(codex: &Codex, cfg: &Config, args: &[OsString], why: Unpicked) -> Result<i32> {
    if why == Unpicked::Remote {
        term::note(
            "--remote: that app server runs the turns with its own login, so no account is picked",
        );
    }
    let mut cmd = codex.plain()?;
    if sandbox::shares(cfg) {
        let shared = cfg.shared_home()?;
        crate::base::files::create_private_dir(&shared)?;
        cmd.env("CODEX_HOME", shared);
    }
    let err = cmd.args(args).exec();
    let real = codex.binary().unwrap_or(Path::new("codex"));
    Err(Error::new(format!("cannot run '{}': {err}", real.display())).code(exit::NO_CODEX))
}

/// Replaces swop with the real codex: no selection, nothing changed but the
/// recursion counter.
fn exec_plain(codex: &Codex, args: &[OsString]) -> Result<i32> {
    let err = codex.plain()?.args(args).exec();
    let real = codex.binary().unwrap_or(Path::new("codex"));
    Err(Error::new(format!("cannot run '{}': {err}", real.display())).code(exit::NO_CODEX))
}

/// One `codex ...` call that needs an account.
pub struct Launcher {
    pub pool: Pool,
}

/// One finished run of codex.
struct Run {
    account: Account,
    code: i32,
    /// The session files it wrote, found once after it exited.
    written: rollouts::run::Written,
}

/// How codex's run ended, and whether its turns went through the relay.
struct ChildExit {
    code: i32,
    relayed: bool,
}

/// What the launch loop has done so far.
struct Progress {
    /// Accounts already run on, in order (failover never returns to one).
    used: Vec<String>,
    /// A relogin was already offered (at most one per launch).
    relogged: bool,
    states: Vec<AccountState>,
}

/// The decision after a run, which the loop carries out.
enum Next {
    Exit(i32),
    /// The login was renewed: the same arguments on the same account.
    Retry,
    /// Continue on another account with these arguments.
    Switch {
        choice: Choice,
        args: Vec<OsString>,
    },
}

impl Launcher {
    /// Logs `name` in again (the person said yes) and forgets the old
    /// login's numbers.
    fn relogin(&self, name: &str) -> Result<()> {
        let how = codex::login::Relogin {
            device_auth: false,
            extra: &[],
            live_sessions: live::list(&self.pool.paths, name).len(),
            timeout: self.pool.cfg.usage.timeout,
        };
        codex::login::relogin(&self.pool.paths, &self.pool.codex, name, &how)?;
        crate::usage::cache::clear(&self.pool.paths, name);
        Ok(())
    }

    fn launch(self, args: Vec<OsString>) -> Result<i32> {
        if let Some(forced) = self.pool.ctx.var("SWOP_ACCOUNT") {
            let forced = forced.to_string_lossy();
            accounts::get(&self.pool.paths, &forced).map_err(|e| Error {
                message: format!("SWOP_ACCOUNT={forced}: {}", e.message),
                ..e
            })?;
        }
        let read_cache_ms = crate::base::time::now_ms();
        let mut states = self.pool.states_for_launch();
        let choice = loop {
            let choice = self.pick_or_relogin(&mut states)?;
            // A fresh cache may predate a lost login: check the file itself.
            // codex 0.169.0 runs with no credentials at all, silently, when
            // it cannot read auth.json.
            let account = self.pool.account(&choice.name);
            let Err(e) = crate::accounts::auth::read(&account.auth_file()) else {
                break choice;
            };
            if e.code == exit::UNSAFE_PERMISSIONS {
                // A link, FIFO or device where the login should be: refused
                // as such (never followed, never waited on), not "expired".
                return Err(e);
            }
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
            let _ = crate::usage::cache::mark_dead(
                &self.pool.paths,
                &choice.name,
                crate::base::time::now(),
            );
            term::warn(&format!(
                "session for '{}' has expired ({}); run: swop relogin {}",
                choice.name, e.message, choice.name
            ));
            state.dead = true;
        };
        let cwd = self.pool.ctx.cwd.clone();
        let args = match resolve_last(&self.pool.paths, &self.pool.cfg, &args, &cwd) {
            Some((resolved, id)) => {
                term::note(&format!(
                    "resuming the newest session here across all accounts: {id}"
                ));
                resolved
            }
            None => args,
        };
        self.pool_warning();
        let refresher = self
            .pool
            .start_refresher(&choice.name, &states, read_cache_ms);
        let code = self.run_on(choice, args, &states);
        if let Some(r) = refresher {
            r.finish(crate::usage::background::EXIT_GRACE);
        }
        code
    }

    /// Once a day, when the pool is forecast to run dry before the next
    /// reset: one line (history read only when the check is due).
    fn pool_warning(&self) {
        let now = crate::base::time::now();
        let check = || {
            let names = self.pool.accounts.iter().map(|a| a.name.as_str());
            let h = crate::usage::history::load_all(&self.pool.paths, names);
            crate::select::forecast::pool_warning(&crate::select::forecast::forecast(&h, now), now)
        };
        if let Some(line) = crate::usage::history::pool_warning_due(&self.pool.paths, now, check) {
            term::note(&line);
        }
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
            if let Ok(would) = self.pool.choose(&revived, &[]) {
                if dead.contains(&would.name) {
                    let name = would.name.clone();
                    if self.pool.interactive()
                        && term::confirm(&format!(
                            "Session for '{name}' has expired. Log in again now?"
                        ))
                    {
                        self.relogin(&name)?;
                        let fresh = self
                            .pool
                            .states(std::slice::from_ref(self.pool.account(&name)), true);
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
        match self.pool.choose(states, &[]) {
            Ok(c) => Ok(c),
            // Every account blocked: a limit-reset credit, if the person
            // says so ([failover] redeem = "ask").
            Err(b) => redeem::offer(&self.pool, states, &b)?
                .ok_or_else(|| b.error(crate::base::time::now())),
        }
    }

    fn announce(&self, choice: &Choice, states: &[AccountState]) {
        for w in &choice.warnings {
            term::warn(w);
        }
        if !self.pool.cfg.output.announce {
            return;
        }
        let account = self.pool.account(&choice.name);
        let state = states.iter().find(|s| s.name == choice.name);
        let usage = state.and_then(|s| s.usage.as_ref()).map(|(u, _)| u);
        let plan = usage
            .and_then(|u| u.plan.clone())
            .or_else(|| account.identity().plan)
            .unwrap_or_else(|| "unknown plan".into());
        let mut facts = vec![term::clean(&plan).into_owned()];
        let weekly = usage.and_then(|u| u.weekly_used());
        if let Some(w) = weekly {
            facts.push(format!("weekly {w:.0}%"));
        }
        if let Some(f) = usage.and_then(|u| u.five_hour_used()) {
            facts.push(format!("5h {f:.0}%"));
        }
        // The weekly figure is in the facts: the reason does not repeat it.
        let why = match weekly {
            Some(_) => format!("{:#}", choice.why),
            None => choice.why.to_string(),
        };
        term::note(&format!(
            "codex on '{}' ({}): {why}",
            choice.name,
            facts.join(", ")
        ));
    }

    /// Runs codex on the chosen account, then carries out what
    /// [`Launcher::after_run`] decides: done, the same again after a
    /// relogin, or the session continued on another account.
    fn run_on(&self, choice: Choice, args: Vec<OsString>, states: &[AccountState]) -> Result<i32> {
        let mut progress = Progress {
            used: Vec::new(),
            relogged: false,
            states: states.to_vec(),
        };
        let (mut choice, mut args) = (choice, args);
        loop {
            self.announce(&choice, &progress.states);
            let before = progress.states.iter().find(|s| s.name == choice.name);
            let before = before
                .and_then(|s| s.usage.as_ref())
                .map(|(u, _)| u.clone());
            let account = self.pool.account(&choice.name).clone();
            progress.used.push(account.name.clone());
            let started = std::time::SystemTime::now();
            // Only the first run's login was checked (in `launch`); a
            // relogin or a failover account is checked here.
            let first = progress.used.len() == 1 && !progress.relogged;
            let watch = self.watch(&account, &args);
            let ChildExit { code, relayed } =
                self.run_child(&account, &args, first, watch.resumed_file())?;
            // What this run wrote, found once for everything below.
            let written = watch.written();
            // The numbers codex recorded in this run, or a refresh mark. With
            // the in-turn relay the rollout may hold another account's
            // numbers after a switch; the relay recorded each turn's own.
            let learned = if relayed {
                crate::usage::learn::Learned::FromRelay
            } else {
                crate::usage::learn::finish(&self.pool.paths, &account, &written)
            };
            self.summarize(&account.name, before.as_ref(), &learned, started);
            self.note_resumed(watch.resumed_file());
            let run = Run {
                account,
                code,
                written,
            };
            match self.after_run(&run, &args, &mut progress)? {
                Next::Exit(code) => return Ok(code),
                Next::Retry => term::note(&format!("retrying on '{}'", run.account.name)),
                Next::Switch {
                    choice: next,
                    args: next_args,
                } => (choice, args) = (next, next_args),
            }
        }
    }

    /// What happens after codex exited. Looks at the account again, never at
    /// codex's output: a dead session is offered one relogin, an exhausted
    /// account fails over (at most once per account).
    fn after_run(&self, run: &Run, args: &[OsString], progress: &mut Progress) -> Result<Next> {
        // An app server fails over inside its turns; when it ends, the
        // editor that ran it is gone: nothing to continue.
        if app_server::shape(args) == app_server::Shape::Stdio {
            return Ok(Next::Exit(run.code));
        }
        // An interactive session that hit a limit ends with any code.
        let limit_hit =
            rerun::interactive_limit_hit(&self.pool, &run.account, args, &run.written).is_some();
        // Success, or the person stopped codex (Ctrl-C, kill): done.
        if (run.code == 0 || run.code > 128) && !limit_hit {
            return Ok(Next::Exit(run.code));
        }
        let account = &run.account;
        let now = self
            .pool
            .states(std::slice::from_ref(account), true)
            .remove(0);
        if now.dead {
            return self.after_dead_session(run, progress);
        }
        // `codex doctor`, `codex cloud`, ...: codex's exit code is final.
        if !argv::class(args).fails_over() {
            return Ok(Next::Exit(run.code));
        }
        if !limit_hit && !now.usage.as_ref().is_some_and(|(u, _)| u.is_limited()) {
            return Ok(Next::Exit(run.code));
        }
        if let Some(i) = progress.states.iter().position(|s| s.name == now.name) {
            progress.states[i] = now.clone();
        }
        let ended = rerun::Ended {
            account,
            state: &now,
            args,
            written: &run.written,
        };
        let plan =
            rerun::ask_to_continue_elsewhere(&self.pool, &ended, &progress.states, &progress.used)?;
        Ok(match plan {
            Some((choice, args)) => Next::Switch { choice, args },
            None => Next::Exit(run.code),
        })
    }

    /// The run failed and the login is dead: log in again once (asked on a
    /// terminal), else say how.
    fn after_dead_session(&self, run: &Run, progress: &mut Progress) -> Result<Next> {
        let name = &run.account.name;
        if progress.relogged {
            term::warn(&format!(
                "'{name}' still fails after logging in again; not retrying (run: swop relogin {name})"
            ));
            return Ok(Next::Exit(run.code));
        }
        progress.relogged = true;
        let ask = format!("Session for '{name}' has expired. Log in again now?");
        if self.pool.interactive() && term::confirm(&ask) {
            self.relogin(name)?;
            return Ok(Next::Retry);
        }
        term::warn(&format!(
            "the session for '{name}' has expired; run: swop relogin {name}"
        ));
        Ok(Next::Exit(run.code))
    }

    /// What a run of codex on `account` with `args` is watched for: its
    /// session files, and for an interactive `codex resume` that names no
    /// thread (the picker), codex's history.jsonl.
    fn watch(&self, account: &Account, args: &[OsString]) -> rollouts::run::Launch {
        let cfg = &self.pool.cfg;
        let watch = rollouts::run::Launch::begin(rollouts::dir(cfg, account), args);
        let picker = argv::mode(args) == argv::Mode::Interactive
            && watch.resumed_file().is_none()
            && args.iter().any(|a| a == "resume");
        if picker {
            return watch.with_history(rollouts::history_file(cfg, account));
        }
        watch
    }

    /// After a run that resumed the thread in `file`: `resume --last`
    /// weighs that thread by its last update from now on (shared sessions
    /// only; see rollouts::index).
    fn note_resumed(&self, file: Option<&Path>) {
        let (Some(file), Some(shared)) = (file, rollouts::shared_dir(&self.pool.cfg)) else {
            return;
        };
        if file.starts_with(&shared) {
            rollouts::index::touched(&self.pool.paths.sessions_index(), &shared, file);
        }
    }

    /// Runs codex once on `account`. `login_checked`: the caller has just
    /// read its auth.json (the first launch does, in `launch`). `rollout`:
    /// the session file it resumes, when known (for `swop ps`).
    fn run_child(
        &self,
        account: &Account,
        args: &[OsString],
        login_checked: bool,
        rollout: Option<&Path>,
    ) -> Result<ChildExit> {
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
        for n in sandbox::link(&self.pool.cfg, &account.home)? {
            term::note(&n);
        }
        let codex::HomeCommand {
            command: mut cmd,
            removed: mut dropped,
        } = self.pool.codex.in_home(&account.home)?;
        if self
            .pool
            .ctx
            .var("CODEX_HOME")
            .is_some_and(|h| Path::new(h) != account.home)
        {
            dropped.push("CODEX_HOME");
        }
        if !dropped.is_empty() {
            term::note(&format!(
                "removed {} from codex's environment so that it uses account '{}'",
                dropped.join(", "),
                account.name
            ));
        }
        // The account's name (no secret), for prompts and scripts.
        cmd.env("SWOP_ACCOUNT_NAME", &account.name);
        // In-turn failover: codex's model turns go through swop's relay,
        // which lives exactly as long as this codex.
        let relay = self.in_turn_relay(account, args);
        if let Some(r) = &relay {
            cmd.args(r.codex_overrides());
        }
        cmd.env(LAUNCHED_VAR, &account.home).args(args);
        let _live = crate::launch::live::register(&self.pool.paths, &account.name, rollout)
            .map_err(|e| term::warn(&format!("cannot register this session: {}", e.message)))
            .ok();
        if let Some(live) = &_live {
            live.inherit_into(&mut cmd); // live while codex runs, even if swop dies
        }
        let code = if app_server::shape(args) == app_server::Shape::Stdio {
            guard::run(cmd, &account.name)?
        } else {
            codex::run_attached(cmd)?
        };
        Ok(ChildExit {
            code,
            relayed: relay.is_some(),
        })
    }
}

/// `resume --last` / `exec resume --last` with `--last` replaced by the id
/// of the newest matching session in the shared dir, across accounts; None
/// when the args do not ask for `--last` or no session matches (codex then
/// decides).
fn resolve_last(
    paths: &Paths,
    cfg: &Config,
    args: &[OsString],
    cwd: &Path,
) -> Option<(Vec<OsString>, String)> {
    let req = argv::LastRequest::find(args)?;
    let query = rollouts::index::Query {
        cwd: (!req.all).then_some(cwd),
        interactive_only: !req.exec && !req.include_non_interactive,
    };
    let shared = rollouts::shared_dir(cfg)?;
    let id = rollouts::index::newest(&paths.sessions_index(), &shared, &query)?.id;
    Some((req.answer(args, &id), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn meta(cwd: &str, source: &str) -> String {
        format!("{{\"type\":\"session_meta\",\"payload\":{{\"cwd\":\"{cwd}\",\"source\":\"{source}\"}}}}\n")
    }

    #[test]
    fn resume_last_is_answered_across_accounts_from_the_shared_sessions() {
        const ID: &str = "0199a213-81c0-7800-8aa1-bbab2a035a53";
        const ID2: &str = "0199a213-81c0-7800-8aa1-bbab2a035a54";
        let dir = std::env::temp_dir().join(format!("swop-last-{}", std::process::id()));
        let sessions = dir.join("sessions/2026/11/25");
        std::fs::create_dir_all(&sessions).unwrap();
        let write = |name: String, text: String| std::fs::write(sessions.join(name), text).unwrap();
        write(
            format!("rollout-2026-11-25T12-00-00-{ID}.jsonl"),
            meta("/w", "exec"),
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(
            format!("rollout-2026-11-25T12-00-01-{ID2}.jsonl"),
            meta("/other", "cli"),
        );
        let mut cfg = Config::default();
        cfg.sandbox.shared_home = dir.display().to_string();
        let paths = Paths {
            home: dir.join("swop"),
        };
        let resolve_last = |cfg: &Config, a: &[OsString], w: &Path| resolve_last(&paths, cfg, a, w);
        let w = Path::new("/w");
        let (out, id) = resolve_last(&cfg, &args(&["exec", "resume", "--last", "go"]), w).unwrap();
        assert_eq!(id, ID);
        assert_eq!(out, args(&["exec", "resume", ID, "go"]));
        let all = args(&["exec", "resume", "--last", "--all", "go"]);
        assert_eq!(resolve_last(&cfg, &all, w).unwrap().1, ID2);
        assert!(resolve_last(&cfg, &args(&["exec", "resume", ID, "go"]), w).is_none());
        assert!(
            resolve_last(&cfg, &args(&["resume", "--last"]), w).is_none(),
            "only an exec session here"
        );
        cfg.sandbox.share.clear();
        assert!(resolve_last(&cfg, &args(&["exec", "resume", "--last"]), w).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
