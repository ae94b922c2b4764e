//! The read-only views of the accounts: `swop status` (once, or redrawn in
//! place with `--watch`), `swop pick` and `swop ps`. They gather usage the
//! way a launch does (cache first) and never change an account.

use crate::accounts::{self, Account};
use crate::base::error::{exit, Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::process::Context;
use crate::base::term;
use crate::cli::render::{self, StatusRow};
use crate::cli::views::{self, PickView, PsView, SessionView, TimeView};
use crate::config::Config;
use crate::launch::Pool;
use crate::select::{Blocked, Choice};
use crate::usage::gather::{self, AccountState};
use std::io::Write;
use std::time::Duration;

/// The accounts with their usage and the policy. No real codex is needed
/// (then no app-server fallback).
fn launcher(paths: &Paths, cfg: &Config, ctx: &Context) -> Result<Pool> {
    Ok(Pool {
        paths: paths.clone(),
        cfg: cfg.clone(),
        codex: crate::codex::Codex::if_present(cfg, paths),
        accounts: accounts::list(paths)?,
        ctx: ctx.clone(),
    })
}

/// What status shows: the rows, the pick (or why there is none).
struct Snapshot<'a> {
    rows: Vec<StatusRow<'a>>,
    choice: std::result::Result<Choice, Blocked>,
    forecast: crate::select::forecast::Forecast,
}

fn snapshot<'a>(l: &'a Pool, states: &'a [AccountState], names: &[String]) -> Snapshot<'a> {
    let choice = l.choose(states, &[]);
    let now = crate::base::time::now();
    let disabled = accounts::disabled::load(&l.paths, now);
    let shown: Vec<(&Account, &AccountState, _)> = l
        .accounts
        .iter()
        .zip(states)
        .filter(|(a, _)| names.is_empty() || names.contains(&a.name))
        .map(|(a, s)| {
            let why = crate::select::judge(s, &l.cfg.selection, &disabled, now);
            (a, s, why)
        })
        .collect();
    let picked = choice.as_ref().ok().map(|c| c.name.clone());
    let rows = render::status_rows(&l.paths, &shown, picked.as_deref());
    let history =
        crate::usage::history::load_all(&l.paths, l.accounts.iter().map(|a| a.name.as_str()));
    let mut forecast = crate::select::forecast::forecast(&history, now);
    forecast
        .accounts
        .retain(|f| names.is_empty() || names.contains(&f.name));
    Snapshot {
        rows,
        choice,
        forecast,
    }
}

pub fn status(
    paths: &Paths,
    cfg: &Config,
    ctx: &Context,
    json: bool,
    refresh: bool,
    names: &[String],
    watch: Option<u64>,
) -> Result<i32> {
    let l = launcher(paths, cfg, ctx)?;
    for n in names {
        accounts::get(paths, n)?;
    }
    if let Some(secs) = watch {
        return watch_loop(&l, names, refresh, secs.max(1));
    }
    let states = l.states(&l.accounts, refresh);
    let snap = snapshot(&l, &states, names);
    if json {
        let picked = snap.choice.as_ref().ok().map(|c| c.name.as_str());
        out::line(&views::to_string(&render::status_view(
            &snap.rows,
            picked,
            &snap.forecast,
        )))?;
    } else if l.accounts.is_empty() {
        term::plain("no accounts yet; add one with: swop add NAME");
    } else {
        out::print(&table_of(&snap))?;
    }
    Ok(0)
}

fn table_of(snap: &Snapshot) -> String {
    let now = crate::base::time::now();
    let table = render::status_table(
        &snap.rows,
        snap.choice.as_ref().err(),
        now,
        term::stdout_width(),
        term::stdout_color(),
    );
    let details: Vec<String> = snap
        .rows
        .iter()
        .flat_map(|r| render::details(r.state, now))
        .collect();
    // Lines under the table fit the terminal like the table does.
    let width = term::stdout_width();
    let mut text = table;
    if !details.is_empty() {
        text.push('\n');
        for line in details {
            text.push_str(&term::fill(&term::clean(&line), width));
            text.push('\n');
        }
    }
    for line in render::forecast_lines(&snap.forecast, now).split_inclusive('\n') {
        let (body, end) = line.split_at(line.trim_end_matches('\n').len());
        text.push_str(&term::fill(body, width));
        text.push_str(end);
    }
    text
}

/// Usage without printing warnings (they would scroll the watched screen);
/// the caller shows them in the frame instead.
fn quiet_states(l: &Pool, force: bool) -> Vec<AccountState> {
    let mode = if force {
        gather::Mode::Force
    } else {
        gather::Mode::Wait
    };
    gather::gather_with(&l.paths, &l.cfg, &l.accounts, &l.codex, mode).states
}

/// Redraws the table every `secs` until interrupted. Usage comes from the
/// cache, which is refetched only once it is older than `cache_ttl`, so a
/// short interval never means more requests. On a terminal each frame
/// replaces the last (cursor home, clear below); piped, frames follow one
/// another.
fn watch_loop(l: &Pool, names: &[String], refresh: bool, secs: u64) -> Result<i32> {
    let tty = term::stdout_width().is_some();
    let mut force = refresh;
    loop {
        let states = quiet_states(l, force);
        force = false;
        let snap = snapshot(l, &states, names);
        let mut frame = String::new();
        if tty {
            frame.push_str("\x1b[H\x1b[J");
        }
        frame.push_str(&table_of(&snap));
        let warned = states.iter().filter(|s| s.warning.is_some()).count();
        if warned > 0 {
            frame.push_str(&format!(
                "usage unavailable for {warned} account(s); run `swop status` for why\n"
            ));
        }
        frame.push_str(&format!(
            "\n{}: every {secs}s, usage refreshed every {}; Ctrl-C to stop\n",
            crate::base::time::wall(crate::base::time::now()),
            humantime::format_duration(l.cfg.usage.cache_ttl)
        ));
        if !tty {
            frame.push('\n');
        }
        let mut out = std::io::stdout().lock();
        if out
            .write_all(frame.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return Ok(0); // the reader went away (a closed pipe)
        }
        drop(out);
        std::thread::sleep(Duration::from_secs(secs));
    }
}

pub fn pick(paths: &Paths, cfg: &Config, ctx: &Context, json: bool) -> Result<i32> {
    let l = launcher(paths, cfg, ctx)?;
    if l.accounts.is_empty() {
        return Err(Error::new("no accounts yet")
            .help("add one with: swop add NAME")
            .code(exit::NOT_FOUND));
    }
    if let Some(forced) = ctx.var("SWOP_ACCOUNT") {
        accounts::get(paths, &forced.to_string_lossy()).map_err(|e| Error {
            message: format!("SWOP_ACCOUNT={}: {}", forced.to_string_lossy(), e.message),
            ..e
        })?;
    }
    let states = l.states(&l.accounts, false);
    match l.choose(&states, &[]) {
        Ok(c) => {
            for w in &c.warnings {
                term::warn(w);
            }
            if json {
                out::line(&views::to_string(&PickView::from(&c)))?;
            } else {
                out::print(&pick_text(&c))?;
            }
            Ok(0)
        }
        Err(b) => {
            let details = serde_json::to_value(views::BlockedView::from(&b)).expect("json");
            Err(b.error(crate::base::time::now()).details(details))
        }
    }
}

/// "work: lowest weekly usage (10%)" and the others under "passed over:".
fn pick_text(c: &Choice) -> String {
    let why = c.why.to_string();
    let mut s = format!("{}: {}\n", c.name, crate::base::term::clean(&why));
    if c.passed.is_empty() {
        return s;
    }
    let rows: Vec<Vec<String>> = c
        .passed
        .iter()
        .map(|p| vec![format!("  {}", p.name()), p.to_string()])
        .collect();
    s.push_str("passed over:\n");
    let table = render::table(&["", ""], &rows);
    s.push_str(table.split_once('\n').map(|(_, t)| t).unwrap_or(""));
    s
}

/// `swop ps`: the codex sessions swop started that are running now.
pub fn ps(paths: &Paths, cfg: &Config, json: bool) -> Result<i32> {
    let all = accounts::list(paths)?;
    let mut sessions: Vec<(String, crate::launch::live::LiveSession)> = all
        .iter()
        .flat_map(|a| {
            crate::launch::live::list(paths, &a.name)
                .into_iter()
                .map(|l| (a.name.clone(), l))
        })
        .collect();
    sessions.sort_by_key(|(_, l)| l.started_at);
    let view = PsView {
        sessions: sessions
            .iter()
            .map(|(name, l)| SessionView {
                pid: l.pid,
                account: name.clone(),
                cwd: l.cwd.clone(),
                started_at: TimeView::at(l.started_at),
                session_id: session_id(cfg, &all, &sessions, name, l),
            })
            .collect(),
        servers: all
            .iter()
            .filter_map(|a| {
                let s = crate::accounts::daemon::running(&a.home)?;
                Some(views::ServerView {
                    pid: s.pid,
                    account: a.name.clone(),
                    started_at: s.started_at.map(TimeView::at),
                })
            })
            .collect(),
    };
    if json {
        out::line(&views::to_string(&view))?;
        return Ok(0);
    }
    for s in &view.servers {
        out::line(&format!(
            "codex's background app server runs on '{}' (pid {}{}); it keeps that login until stopped: SWOP_ACCOUNT={} codex app-server daemon stop",
            s.account,
            s.pid,
            s.started_at
                .as_ref()
                .map(|t| format!(", since {}", crate::base::time::wall(t.unix)))
                .unwrap_or_default(),
            s.account
        ))?;
    }
    if view.sessions.is_empty() {
        term::plain("no codex session is running through swop");
        return Ok(0);
    }
    let now = crate::base::time::now();
    let rows: Vec<Vec<String>> = view
        .sessions
        .iter()
        .map(|s| {
            vec![
                s.pid.to_string(),
                s.account.clone(),
                s.cwd.clone(),
                format!(
                    "{} ({} ago)",
                    crate::base::time::wall(s.started_at.unix),
                    crate::base::time::span(now - s.started_at.unix)
                ),
                s.session_id.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out::print(&render::table(
        &["PID", "ACCOUNT", "DIRECTORY", "SINCE", "SESSION"],
        &rows,
    ))?;
    Ok(0)
}

/// The codex session a launch is running: the newest rollout written in its
/// directory since it started. Only claimed when no other live launch shares
/// that directory (two could not be told apart).
fn session_id(
    cfg: &Config,
    all: &[Account],
    sessions: &[(String, crate::launch::live::LiveSession)],
    account: &str,
    live: &crate::launch::live::LiveSession,
) -> Option<String> {
    let alone = sessions.iter().filter(|(_, l)| l.cwd == live.cwd).count() == 1;
    let account = all.iter().find(|a| a.name == account)?;
    let since = std::time::UNIX_EPOCH + Duration::from_secs(live.started_at.max(0) as u64);
    let filter = crate::accounts::rollouts::Filter {
        since: Some(since),
        cwd: Some(std::path::Path::new(&live.cwd)),
        interactive_only: false,
    };
    alone
        .then(|| {
            crate::accounts::rollouts::newest(
                &crate::accounts::rollouts::dir(cfg, account),
                &filter,
            )
        })
        .flatten()
}
