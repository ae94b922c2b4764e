//! The read-only views of the accounts: `swop status` (once, or redrawn in
//! place with `--watch`), `swop pick` and `swop ps`. They gather usage the
//! way a launch does (cache first) and never change an account.

use crate::accounts::{self, Account};
use crate::base::context::Context;
use crate::base::error::{exit, Error, Result};
use crate::base::fit;
use crate::base::fit::{Cell, Give};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::cli::render::{self, StatusRow};
use crate::cli::views::{self, PickView, PsView, SessionView, TimeView};
use crate::config::Config;
use crate::launch::Pool;
use crate::select::{Basis, Blocked, Choice};
use crate::usage::gather::{self, AccountState};
use std::io::Write;
use std::time::Duration;

/// `swop status`'s accounts and flags.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub json: bool,
    pub refresh: bool,
    pub names: Vec<String>,
    /// `--watch [SECS]`: redraw every SECS seconds.
    pub watch: Option<u64>,
}

/// The accounts with their usage and the policy. No real codex is needed
/// (then no app-server fallback).
fn pool(paths: &Paths, cfg: &Config, ctx: &Context) -> Result<Pool> {
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

/// The rows of the accounts shown (all, or those `names` names), with the
/// codex sessions running on each read from disk.
fn snapshot<'a>(pool: &'a Pool, states: &'a [AccountState], names: &[String]) -> Snapshot<'a> {
    let choice = pool.choose(states, &[]);
    let now = crate::base::time::now();
    let disabled = accounts::disabled::load(&pool.paths, now);
    let judged = crate::select::judge_all(states, &pool.cfg.selection, &disabled, now);
    let picked = choice.as_ref().ok().map(|c| c.name.as_str());
    let rows: Vec<StatusRow> = pool
        .accounts
        .iter()
        .zip(states)
        .zip(judged)
        .filter(|((a, _), _)| names.is_empty() || names.contains(&a.name))
        .map(|((account, state), unusable)| StatusRow {
            account,
            state,
            unusable,
            picked: picked == Some(account.name.as_str()),
            reserve: pool.cfg.selection.reserve.contains(&account.name),
            live: crate::launch::live::list(&pool.paths, &account.name),
        })
        .collect();
    let history =
        crate::usage::history::load_all(&pool.paths, pool.accounts.iter().map(|a| a.name.as_str()));
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

pub fn status(req: Request, paths: &Paths, cfg: &Config, ctx: &Context) -> Result<i32> {
    let Request {
        json,
        refresh,
        names,
        watch,
    } = req;
    let pool = pool(paths, cfg, ctx)?;
    for n in &names {
        accounts::get(paths, n)?;
    }
    if let Some(secs) = watch {
        return watch_loop(&pool, &names, refresh, secs.max(1), json);
    }
    // Quiet: each account's trouble is said once, under the table (or in
    // its JSON `warning`), not also as a warning above it.
    let states = quiet_states(&pool, refresh);
    let snap = snapshot(&pool, &states, &names);
    if let Some(w) = accounts::disabled::problem(paths) {
        term::warn(&w);
    }
    if json {
        out::line(&status_json(&snap, false))?;
    } else if pool.accounts.is_empty() {
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
            text.push_str(&fit::lines(&term::clean(&line), width));
            text.push('\n');
        }
    }
    text.push_str(&fit::lines(
        &render::forecast_lines(&snap.forecast, now),
        width,
    ));
    text
}

/// One `status --json` document: pretty, or on one line for `--watch`.
fn status_json(snap: &Snapshot, one_line: bool) -> String {
    let picked = snap.choice.as_ref().ok().map(|c| c.name.as_str());
    let view = views::StatusView::of(&snap.rows, picked, &snap.forecast);
    if one_line {
        views::to_line(&view)
    } else {
        views::to_string(&view)
    }
}

/// Usage without printing warnings (they would scroll the watched screen);
/// the caller shows them in the frame instead.
fn quiet_states(pool: &Pool, force: bool) -> Vec<AccountState> {
    let mode = if force {
        gather::Mode::Force
    } else {
        gather::Mode::Wait
    };
    gather::gather_with(&pool.paths, &pool.cfg, &pool.accounts, &pool.codex, mode).states
}

/// Redraws the table every `secs` until interrupted. Usage comes from the
/// cache, which is refetched only once it is older than `cache_ttl`, so a
/// short interval never means more requests. On a terminal each frame
/// replaces the last (cursor home, clear below); piped, frames follow one
/// another. With `json`, each refresh is one status document on one line
/// (NDJSON), on a terminal too.
fn watch_loop(pool: &Pool, names: &[String], refresh: bool, secs: u64, json: bool) -> Result<i32> {
    let width = term::stdout_width();
    let mut force = refresh;
    loop {
        let states = quiet_states(pool, force);
        force = false;
        let snap = snapshot(pool, &states, names);
        let mut frame = String::new();
        if json {
            frame.push_str(&status_json(&snap, true));
            frame.push('\n');
        } else {
            if width.is_some() {
                frame.push_str("\x1b[H\x1b[J");
            }
            frame.push_str(&table_of(&snap));
            // Each account's trouble is under the table already: nothing
            // more to say about it here.
            let footer = format!(
                "{}: every {secs}s, usage refreshed every {}; Ctrl-C to stop",
                crate::base::time::wall(crate::base::time::now()),
                humantime::format_duration(pool.cfg.usage.cache_ttl)
            );
            frame.push_str(&format!("\n{}\n", fit::lines(&footer, width)));
            if width.is_none() {
                frame.push('\n');
            }
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

pub fn pick(json: bool, paths: &Paths, cfg: &Config, ctx: &Context) -> Result<i32> {
    let pool = pool(paths, cfg, ctx)?;
    if pool.accounts.is_empty() {
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
    let states = pool.states(&pool.accounts, false);
    match pool.choose(&states, &[]) {
        Ok(c) => {
            for w in &c.warnings {
                term::warn(w);
            }
            if json {
                out::line(&views::to_string(&PickView::from(&c)))?;
            } else {
                out::print(&pick_text(&c, term::stdout_width()))?;
            }
            Ok(0)
        }
        Err(b) => {
            let details = serde_json::to_value(views::BlockedView::from(&b)).expect("json");
            Err(b.error(crate::base::time::now()).details(details))
        }
    }
}

/// "work: lowest weekly usage (10%)" and the others under "passed over:"
/// (for a forced or directory-rule pick nothing was weighed: the unusable
/// ones under "not usable now:"), fitted to `width`: long names are cut,
/// reasons wrap under themselves.
fn pick_text(c: &Choice, width: Option<usize>) -> String {
    let why = format!("{}: {}", c.name, term::clean(&c.why.to_string()));
    let mut s = fit::wrap(&why, width, 2) + "\n";
    if c.passed.is_empty() {
        return s;
    }
    let weighed = !matches!(c.why.basis, Basis::Forced | Basis::DirRule { .. });
    s.push_str(if weighed {
        "passed over:\n"
    } else {
        "not usable now:\n"
    });
    let rows: Vec<Vec<String>> = c
        .passed
        .iter()
        .map(|p| vec![format!("  {}", p.name()), p.to_string()])
        .collect();
    let give = [Give::Cut(0, 14), Give::Wrap(20), Give::Cut(0, 6)];
    s.push_str(
        &fit::Table::of(&["", ""], &rows)
            .headless()
            .fit(width, &give, false)
            .text,
    );
    s
}

/// `swop ps`: the codex sessions swop started that are running now.
pub fn ps(json: bool, paths: &Paths, cfg: &Config) -> Result<i32> {
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
    let ids = session_ids(cfg, &all, &sessions);
    let mut view = PsView {
        sessions: sessions
            .iter()
            .map(|(name, l)| SessionView {
                pid: l.pid,
                account: name.clone(),
                cwd: l.cwd.clone(),
                started_at: TimeView::at(l.started_at),
                session_id: None,
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
    for (s, id) in view.sessions.iter_mut().zip(ids) {
        s.session_id = id;
    }
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
    out::print(&ps_table(
        &view,
        crate::base::time::now(),
        term::stdout_width(),
    ))?;
    Ok(0)
}

/// How `swop ps` narrows, in this order until it fits: SINCE becomes
/// "3m ago", SESSION goes when no session is known, long directories are
/// cut from the left ("…/src/app") and long names with "…", then SESSION
/// goes, then both are cut further. `--json` and piped output keep all.
fn ps_table(view: &PsView, now: i64, width: Option<usize>) -> String {
    const ACCOUNT: usize = 1;
    const DIR: usize = 2;
    const SINCE: usize = 3;
    const SESSION: usize = 4;
    let col = |f: &dyn Fn(&SessionView) -> String| -> Vec<Cell> {
        view.sessions.iter().map(|s| Cell::from(f(s))).collect()
    };
    let ago = |s: &SessionView| format!("{} ago", crate::base::time::span(now - s.started_at.unix));
    let table = fit::Table::new(vec![
        fit::Column::new("PID", col(&|s| s.pid.to_string())),
        fit::Column::new("ACCOUNT", col(&|s| s.account.clone())),
        fit::Column::new("DIRECTORY", col(&|s| s.cwd.clone())),
        fit::Column::new(
            "SINCE",
            col(&|s| {
                format!(
                    "{} ({})",
                    crate::base::time::wall(s.started_at.unix),
                    ago(s)
                )
            }),
        )
        .or("SINCE", col(&ago)),
        fit::Column::new(
            "SESSION",
            col(&|s| s.session_id.clone().unwrap_or_else(|| "-".into())),
        )
        .blank(&["-"]),
    ]);
    let give = [
        Give::Shorten(SINCE),
        Give::DropBlank,
        Give::CutLeft(DIR, 24),
        Give::Cut(ACCOUNT, 12),
        Give::Drop(SESSION),
        Give::CutLeft(DIR, 10),
        Give::Cut(ACCOUNT, 6),
    ];
    table.fit(width, &give, false).text
}

/// The codex session each launch is running: the rollout its live entry
/// names (a thread resumed by id), else the newest session created in its
/// directory since it started. One pass per sessions dir (shared: one in
/// all) over the day folders since the earliest such start, newest first,
/// reading first lines only until every launch has its answer. Only
/// claimed when no other live launch shares the directory (two could not
/// be told apart).
fn session_ids(
    cfg: &Config,
    all: &[Account],
    sessions: &[(String, crate::launch::live::LiveSession)],
) -> Vec<Option<String>> {
    use crate::accounts::rollouts;
    let mut ids: Vec<Option<String>> = sessions
        .iter()
        .map(|(_, l)| {
            let named = l.rollout.as_deref().map(std::path::Path::new);
            named.and_then(rollouts::thread_id_of)
        })
        .collect();
    let alone = |l: &crate::launch::live::LiveSession| {
        sessions.iter().filter(|(_, o)| o.cwd == l.cwd).count() == 1
    };
    // The launches still to answer, grouped by the sessions dir they write.
    let mut groups: Vec<(std::path::PathBuf, Vec<usize>)> = Vec::new();
    for (i, (name, l)) in sessions.iter().enumerate() {
        let Some(account) = all.iter().find(|a| &a.name == name) else {
            continue;
        };
        if ids[i].is_some() || !alone(l) {
            continue;
        }
        let dir = rollouts::dir(cfg, account);
        match groups.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, v)) => v.push(i),
            None => groups.push((dir, vec![i])),
        }
    }
    let since = |i: usize| sessions[i].1.started_at.saturating_mul(1000) - 1000;
    for (dir, mut todo) in groups {
        let Some(earliest) = todo.iter().map(|&i| since(i)).min() else {
            continue;
        };
        for (entry, meta) in rollouts::run::created_since(&dir, earliest) {
            let Some(meta) = meta else { continue };
            let created = meta.created_ms.unwrap_or(i64::MAX);
            todo.retain(|&i| {
                let l = &sessions[i].1;
                let mine = meta.cwd.as_deref().map(std::path::Path::new)
                    == Some(std::path::Path::new(&l.cwd))
                    && created >= since(i);
                if mine {
                    ids[i] = Some(entry.id.clone());
                }
                !mine
            });
            if todo.is_empty() {
                break;
            }
        }
    }
    ids
}
