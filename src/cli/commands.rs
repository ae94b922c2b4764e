//! The management commands: add, import, list, relogin, logout, status, pick,
//! redeem, wait, uninstall, completions. Each turns a parsed [`Command`] into actions on the
//! core modules and prints the outcome.

use crate::accounts::{self, Staging};
use crate::base::context::Context;
use crate::base::error::{exit, Error, Result};
use crate::base::fit::{self, Give};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::cli::{self, Command};
use crate::codex;
use crate::codex::{login, Codex};
use crate::config::Config;
use crate::launch;
use crate::launch::live;
use crate::usage::cache;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

pub fn run(cmd: Command, ctx: &Context) -> Result<i32> {
    match cmd {
        // Help fits the terminal (rows wrap under their own column);
        // `help config` is a file to copy, printed as it is.
        Command::Help(None) => {
            out::print(&fit::lines(&cli::help::main_help(), term::stdout_width()))?
        }
        Command::Help(Some(topic)) => match cli::help::topic_help(&topic) {
            Some(h) if topic == "config" => out::print(&h)?,
            Some(h) => out::print(&fit::lines(&h, term::stdout_width()))?,
            None => {
                return Err(Error::usage(format!("no help for '{topic}'")).help("see: swop --help"))
            }
        },
        Command::Version => out::line(&cli::help::version())?,
        Command::Man => out::print(&cli::man::page())?,
        Command::Codex { args } => {
            // `swop codex ARGS`: the same process, codex's arguments.
            return launch::run(Context {
                args,
                ..ctx.clone()
            });
        }
        Command::Completions { shell } => out::print(&crate::cli::completions::script(&shell))?,
        Command::Uninstall { purge, yes } => return uninstall(purge, yes, ctx),
        Command::Simulate {
            json,
            accounts,
            days,
            workload,
            seed,
        } => {
            return crate::cli::simulate::run(crate::cli::simulate::Request {
                json,
                accounts,
                days,
                workload,
                seed,
            })
        }
        Command::Doctor { json } => {
            let paths = Paths::from_env()?;
            return crate::cli::doctor::run(&paths, json);
        }
        cmd => {
            let paths = Paths::from_env()?;
            let cfg = Config::load(&paths.config())?;
            return with_config(cmd, &paths, &cfg, ctx);
        }
    }
    Ok(0)
}

fn with_config(cmd: Command, paths: &Paths, cfg: &Config, ctx: &Context) -> Result<i32> {
    paths.check_private()?;
    match cmd {
        Command::Add {
            name,
            device_auth,
            extra,
        } => add(paths, cfg, &name, device_auth, &extra),
        Command::Import { name, from } => import(paths, &name, from),
        Command::List { json } => list(paths, json),
        Command::Relogin {
            name,
            device_auth,
            extra,
        } => {
            let codex = Codex::locate(cfg, paths)?;
            // A background app server uses the login as a session does.
            let server = accounts::daemon::running(&paths.account(&name));
            let how = login::Relogin {
                device_auth,
                extra: &extra,
                live_sessions: live::list(paths, &name).len() + usize::from(server.is_some()),
                timeout: cfg.usage.timeout,
            };
            login::relogin(paths, &codex, &name, &how)?;
            cache::clear(paths, &name);
            if server.is_some() {
                term::warn(&format!("codex's background app server on '{name}' still runs with the old login; restart it: SWOP_ACCOUNT={name} codex app-server daemon restart"));
            }
            Ok(0)
        }
        Command::Logout { name, force } => logout(paths, cfg, &name, force),
        Command::Status {
            json,
            refresh,
            names,
            watch,
        } => crate::cli::status::status(paths, cfg, ctx, json, refresh, &names, watch),
        Command::Pick { json } => crate::cli::status::pick(paths, cfg, ctx, json),
        Command::Redeem { name, yes, json } => {
            crate::cli::redeem::run(paths, cfg, ctx, &name, yes, json)
        }
        Command::Wait {
            names,
            timeout,
            notify,
        } => crate::cli::wait::run(paths, cfg, ctx, &names, timeout, notify),
        Command::Ps { json } => crate::cli::status::ps(paths, cfg, json),
        Command::Disable { name, duration } => crate::cli::toggle::disable(paths, &name, duration),
        Command::Enable { name } => crate::cli::toggle::enable(paths, &name),
        Command::Ide {
            editor,
            remove,
            json,
        } => crate::cli::ide::run(
            paths,
            cfg,
            ctx,
            crate::cli::ide::Request {
                editor,
                remove,
                json,
            },
        ),
        _ => unreachable!("handled in run"),
    }
}

fn add(
    paths: &Paths,
    cfg: &Config,
    name: &str,
    device_auth: bool,
    extra: &[OsString],
) -> Result<i32> {
    accounts::ensure_free(paths, name)?;
    accounts::sweep(paths);
    let mut staging = Staging::new(paths, name)?;
    let codex = Codex::locate(cfg, paths)?;
    login::run_login(&codex, &staging.dir, "add", name, device_auth, extra).map_err(|e| Error {
        message: format!("{}; nothing was added", e.message),
        ..e
    })?;
    let account = accounts::commit(paths, &mut staging, name)?;
    let _ = crate::accounts::sandbox::link(cfg, &account.home)
        .map(|notes| notes.iter().for_each(|n| term::note(n)));
    out::line(&format!(
        "added '{}': {}",
        account.name,
        login::describe(&account.identity())
    ))?;
    if account.identity().plan.as_deref() == Some("api-key")
        && !cfg.selection.reserve.contains(&account.name)
    {
        // Billed per use, with no usage numbers: usually wanted last.
        term::plain(&format!(
            "an API-key login has no usage numbers; to use it only when every other account is blocked, set in swop.toml: [selection] reserve = [\"{}\"]",
            account.name
        ));
    }
    term::plain(
        "next: run `codex` (or `swop codex`) and swop picks the account with the most quota left",
    );
    Ok(0)
}

fn import(paths: &Paths, name: &str, from: Option<OsString>) -> Result<i32> {
    accounts::ensure_free(paths, name)?;
    let from = match from {
        Some(f) => PathBuf::from(f),
        None => match crate::base::paths::env_nonempty("CODEX_HOME") {
            Some(h) if !Path::new(&h).starts_with(paths.accounts()) => PathBuf::from(h),
            _ => crate::base::paths::user_home()?.join(".codex"),
        },
    };
    let src = from.join("auth.json");
    if std::fs::symlink_metadata(&src).is_ok_and(|m| m.file_type().is_symlink()) {
        // Moving the link would move no login and leave it in two places.
        return Err(Error::new(format!(
            "'{}' is a symbolic link; import moves the login file itself",
            src.display()
        ))
        .help(format!(
            "import from the directory that holds the real file: swop import {name} --from DIR"
        ))
        .code(exit::USAGE));
    }
    if !src.is_file() {
        return Err(Error::new(format!(
            "no codex login to import: '{}' does not exist",
            src.display()
        ))
        .help(format!(
            "log in with: swop add {name}; or name the codex home: swop import {name} --from DIR"
        ))
        .code(exit::NOT_FOUND));
    }
    crate::accounts::auth::read(&src)?; // refuse to import something codex could not use
    accounts::sweep(paths);
    let mut staging = Staging::new(paths, name)?;
    let dst = staging.dir.join("auth.json");
    move_file(&src, &dst)?;
    match accounts::commit(paths, &mut staging, name) {
        Ok(account) => {
            out::line(&format!(
                "imported '{}': {}\nmoved '{}' -> '{}'\n(the login now lives only in swop's sandbox; codex run without swop is logged out of '{}')",
                account.name,
                login::describe(&account.identity()),
                src.display(),
                account.auth_file().display(),
                from.display()
            ))?;
            Ok(0)
        }
        Err(e) => {
            // Put the login back where it was: nothing may be lost.
            let _ = move_file(&dst, &src);
            Err(e)
        }
    }
}

/// Moves a file, across filesystems too (copy, fsync, then remove).
fn move_file(src: &Path, dst: &Path) -> Result<()> {
    match std::fs::rename(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let bytes = std::fs::read(src).map_err(|e| Error::io("cannot read", src, e))?;
            crate::base::files::write_atomic(dst, &bytes)?;
            std::fs::remove_file(src).map_err(|e| Error::io("cannot remove", src, e))
        }
        Err(e) => Err(Error::io("cannot move", src, e)),
    }?;
    crate::base::files::set_mode(dst, 0o600)
}

fn list(paths: &Paths, json: bool) -> Result<i32> {
    let all = accounts::list(paths)?;
    if json {
        let v: Vec<crate::cli::views::ListEntryView> = all.iter().map(Into::into).collect();
        out::line(&crate::cli::views::to_string(&v))?;
    } else if all.is_empty() {
        term::plain("no accounts yet; add one with: swop add NAME");
    } else {
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|a| {
                let id = a.identity();
                vec![
                    a.name.clone(),
                    id.email.unwrap_or_else(|| "-".into()),
                    id.plan.unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        // On a narrow terminal emails and names are cut with "…" (never
        // wrapped, PLAN stays on its line); piped, all whole.
        let give = [
            Give::Cut(1, 20),
            Give::Cut(0, 12),
            Give::Cut(1, 12),
            Give::Cut(0, 6),
        ];
        let table = fit::Table::of(&["NAME", "EMAIL", "PLAN"], &rows);
        out::print(&table.fit(term::stdout_width(), &give, false).text)?;
    }
    Ok(0)
}

/// `swop logout NAME`, in an order that a kill -9 at any point cannot
/// tear: the sandbox leaves the registry first (one rename, see
/// `accounts::retire`), then its login is revoked from where it was moved,
/// then it is deleted. Killed in between, the account is either as it was
/// or gone from the list with its login set aside; the next `swop logout
/// NAME` finishes that (revokes and deletes), even when the name is no
/// longer an account.
fn logout(paths: &Paths, cfg: &Config, name: &str, force: bool) -> Result<i32> {
    crate::base::name::validate_name(name)?;
    let interrupted = accounts::interrupted_logouts(paths, name);
    let account = match accounts::get(paths, name) {
        Ok(a) => Some(a),
        Err(e) if e.code == exit::NOT_FOUND && !interrupted.is_empty() => None,
        Err(e) => return Err(e),
    };
    if let Some(a) = &account {
        refuse_while_live(paths, name, &a.home, force)?;
        stop_background_server(paths, cfg, name, &a.home);
    }
    let codex = Codex::locate(cfg, paths);
    if let Err(e) = &codex {
        term::warn(&format!("{}; removing the local login only", e.message));
    }
    for dir in &interrupted {
        revoke(codex.as_ref().ok(), cfg, dir);
        accounts::remove_retired(paths, name, dir)?;
    }
    let Some(account) = account else {
        out::line(&format!(
            "logged out '{name}': finished the logout that was interrupted (its login is revoked and deleted)"
        ))?;
        return Ok(0);
    };
    let shared = cfg.shared_home().ok();
    let retired = accounts::retire(paths, name, shared.as_deref())?;
    revoke(codex.as_ref().ok(), cfg, &retired.dir);
    accounts::remove_retired(paths, name, &retired.dir)?;
    let _ = std::fs::remove_dir_all(paths.live_dir(name));
    crate::usage::history::clear(paths, name);
    if retired.kept_links {
        out::line(&format!(
            "logged out '{name}': its login is deleted; '{}' keeps only its links into the shared home (no credentials), so sessions it started can still be resumed",
            account.home.display()
        ))?;
    } else {
        out::line(&format!(
            "logged out '{name}' and deleted its sandbox '{}'",
            account.home.display()
        ))?;
    }
    Ok(0)
}

/// Refuses a logout while codex runs on the account (a session, or codex's
/// background app server in `home`, which keeps the login), unless forced.
fn refuse_while_live(paths: &Paths, name: &str, home: &Path, force: bool) -> Result<()> {
    let sessions = live::list(paths, name);
    let server = accounts::daemon::running(home);
    if (sessions.is_empty() && server.is_none()) || force {
        return Ok(());
    }
    let mut msg = format!(
        "codex is running on '{name}' in {}:",
        term::plural(
            sessions.len() + usize::from(server.is_some()),
            "session",
            "sessions"
        )
    );
    for s in &sessions {
        msg.push_str(&format!(
            "\n  pid {} in '{}', since {}",
            s.pid,
            term::clean(&s.cwd),
            crate::base::time::wall(s.started_at)
        ));
    }
    if let Some(s) = &server {
        msg.push_str(&format!(
            "\n  pid {}: codex's background app server, which keeps this login (stop it: SWOP_ACCOUNT={name} codex app-server daemon stop)",
            s.pid
        ));
    }
    Err(Error::new(msg)
        .help(format!(
            "end those sessions first, or remove it anyway: swop logout {name} --force (stops the background server)"
        ))
        .code(exit::FAILURE))
}

/// Best effort: `codex logout` in `home` (a sandbox moved aside) revokes
/// its login remotely and deletes it. Never the exit status.
fn revoke(codex: Option<&Codex>, cfg: &Config, home: &std::path::Path) {
    let Some(home_cmd) = codex.and_then(|c| c.in_home(home).ok()) else {
        return;
    };
    let mut cmd = home_cmd.command;
    cmd.arg("logout")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let limit = cfg.usage.timeout.max(std::time::Duration::from_secs(1));
    match cmd.spawn() {
        Ok(mut child) => match codex::wait_bounded(&mut child, limit) {
            Some(s) if s.success() => {}
            Some(s) => term::warn(&format!(
                "`codex logout` failed (exit {}); the login may stay valid on the server",
                crate::codex::signals::exit_code(s)
            )),
            None => term::warn(&format!(
                "`codex logout` did not finish within {}; stopped it (the login may stay valid on the server)",
                humantime::format_duration(limit)
            )),
        },
        Err(e) => term::warn(&format!("cannot run `codex logout`: {e}")),
    }
}

/// Before a sandbox goes: its background app server (it holds the login)
/// and the server's updater (it would outlive the sandbox) are stopped.
fn stop_background_server(paths: &Paths, cfg: &Config, name: &str, home: &Path) {
    if accounts::daemon::running(home).is_none() && accounts::daemon::updater(home).is_none() {
        return;
    }
    let codex = Codex::if_present(cfg, paths);
    let limit = cfg.usage.timeout.max(std::time::Duration::from_secs(5));
    if codex::stop_daemon(&codex, home, limit) {
        term::note(&format!(
            "stopped codex's background app server on '{name}'"
        ));
    } else {
        term::warn(&format!(
            "codex's background app server on '{name}' is still running; stop it with: kill {}",
            accounts::daemon::running(home)
                .map(|s| s.pid)
                .unwrap_or_default()
        ));
    }
}

fn uninstall(purge: bool, yes: bool, ctx: &Context) -> Result<i32> {
    let paths = Paths::from_env()?;
    if purge && !yes {
        confirm_purge(&paths, ctx)?;
    }
    let removed = crate::cli::install::uninstall(&paths, purge)?;
    out::print(&removed.iter().map(|r| format!("{r}\n")).collect::<String>())?;
    Ok(0)
}

/// `--purge` deletes every login for good: asked on a terminal (as `rustup
/// self uninstall` does), refused off one unless `--yes`. Before anything
/// is removed.
fn confirm_purge(paths: &Paths, ctx: &Context) -> Result<()> {
    let (home, names) = crate::cli::install::purge_target(paths);
    let what = match names.len() {
        0 => format!("'{}' (no accounts in it)", home.display()),
        1 => format!("'{}' with the login of '{}'", home.display(), names[0]),
        n => format!(
            "'{}' with the logins of {n} accounts ({})",
            home.display(),
            names.join(", ")
        ),
    };
    if !(ctx.stdin_tty && ctx.stderr_tty) {
        return Err(Error::usage(format!(
            "uninstall --purge would delete {what}, and there is no terminal to ask"
        ))
        .help("to delete it anyway: swop uninstall --purge --yes; to keep the accounts: swop uninstall"));
    }
    term::note(&format!(
        "this removes swop and deletes {what}; the logins cannot be recovered"
    ));
    if term::confirm_strict("delete them?") {
        return Ok(());
    }
    Err(Error::new("nothing was removed (you answered no)")
        .help("to remove swop but keep the accounts: swop uninstall"))
}
