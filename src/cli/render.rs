//! Rendering for people: the status table (fitted to the terminal), plain
//! tables, and the view values the `--json` documents are made from (the
//! JSON shapes themselves live in `views`). Human times only in tables
//! (never a raw epoch). Nothing here can see a token.

use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::base::term;
use crate::base::time;
use crate::cli::views::{AccountView, LiveView, StatusView, TimeView, WindowView};
use crate::select::forecast::{self, Forecast};
use crate::select::{Blocked, Reason, Unusable};
use crate::usage::gather::{AccountState, Freshness};

/// A plain left-aligned table with two spaces between columns. Every cell
/// is cleaned ([`term::clean`]): cells hold server and JWT strings.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let plain: Vec<Vec<(String, Option<&str>)>> = rows
        .iter()
        .map(|r| r.iter().map(|c| (c.clone(), None)).collect())
        .collect();
    painted_table(header, &plain, false)
}

/// A table whose cells may carry an SGR colour, applied after padding so
/// that colour never changes the alignment.
fn painted_table(header: &[&str], rows: &[Vec<(String, Option<&str>)>], color: bool) -> String {
    // Cells hold server and JWT strings: never print one raw.
    let rows: Vec<Vec<(String, Option<&str>)>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|(c, code)| (term::clean(c).into_owned(), *code))
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, (c, _)) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<(&str, Option<&str>)>| {
        let mut s = String::new();
        for (i, (c, code)) in cells.iter().enumerate() {
            let last = i + 1 == cells.len();
            let pad = if last {
                0
            } else {
                widths[i] - c.chars().count() + 2
            };
            match code {
                Some(code) => s.push_str(&crate::base::term::painted(color, code, c)),
                None => s.push_str(c),
            }
            s.push_str(&" ".repeat(pad));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| (*h, None)).collect());
    for r in rows {
        out.push_str(&line(r.iter().map(|(c, k)| (c.as_str(), *k)).collect()));
    }
    out
}

/// The state with its freshness: "ok", "limit reached, stale (5m old)".
pub fn state_text(reason: Option<&Reason>, stale: Option<i64>, long: bool) -> String {
    let word = match reason {
        None => "ok",
        Some(r) if long => r.word(),
        Some(r) => r.short(),
    };
    match stale {
        Some(age) if long => format!("{word}, stale ({} old)", time::span(age)),
        Some(_) => format!("{word}, stale"),
        None => word.to_string(),
    }
}

/// How old the numbers are, when that matters (not for a dead session,
/// whose numbers are not used at all).
fn stale_of(s: &AccountState) -> Option<i64> {
    match &s.usage {
        _ if s.dead => None,
        Some((_, Freshness::Stale(age))) => Some(*age),
        _ => None,
    }
}

/// One account as the status table and `status --json` see it.
pub struct StatusRow<'a> {
    pub account: &'a Account,
    pub state: &'a AccountState,
    /// Why it cannot be picked now (None: it can).
    pub unusable: Option<Unusable>,
    pub picked: bool,
    /// In `[selection] reserve`.
    pub reserve: bool,
    pub live: Vec<crate::launch::live::LiveSession>,
}

impl StatusRow<'_> {
    fn plan(&self) -> Option<String> {
        let u = self.state.usage.as_ref().map(|(u, _)| u);
        u.and_then(|u| u.plan.clone())
            .or_else(|| self.account.identity().plan)
    }
}

pub fn status_rows<'a>(
    paths: &Paths,
    shown: &[(&'a Account, &'a AccountState, Option<Unusable>)],
    picked: Option<&str>,
) -> Vec<StatusRow<'a>> {
    shown
        .iter()
        .map(|(account, state, unusable)| StatusRow {
            account,
            state,
            unusable: unusable.clone(),
            picked: picked == Some(account.name.as_str()),
            reserve: false,
            live: crate::launch::live::list(paths, &account.name),
        })
        .collect()
}

/// How much of the table to show; tried from the fullest to the narrowest.
#[derive(Clone, Copy)]
struct Layout {
    long_times: bool,
    email: bool,
    plan: bool,
    week_reset: bool,
    live: bool,
    long_state: bool,
    name_max: usize,
}

const LAYOUTS: [Layout; 7] = {
    let full = Layout {
        long_times: true,
        email: true,
        plan: true,
        week_reset: true,
        live: true,
        long_state: true,
        name_max: usize::MAX,
    };
    let short_times = Layout {
        long_times: false,
        ..full
    };
    let no_email = Layout {
        email: false,
        ..short_times
    };
    let no_plan = Layout {
        plan: false,
        ..no_email
    };
    let no_reset = Layout {
        week_reset: false,
        ..no_plan
    };
    let no_live = Layout {
        live: false,
        ..no_reset
    };
    let short_state = Layout {
        long_state: false,
        ..no_live
    };
    [
        full,
        short_times,
        no_email,
        no_plan,
        no_reset,
        no_live,
        short_state,
    ]
};

fn when(t: i64, now: i64, long: bool) -> String {
    match (long, t > now) {
        (true, _) => time::reset(t, now),
        (false, true) => format!("in {}", time::span(t - now)),
        (false, false) => "now".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "-".into())
}

/// When an unusable account becomes usable again, or what brings it back.
fn usable_again(r: &StatusRow, now: i64, long: bool) -> String {
    let Some(u) = &r.unusable else {
        return "-".into();
    };
    if let Some(t) = u.until {
        return when(t, now, long);
    }
    let name = &r.account.name;
    match (u.reason, long) {
        (Reason::SessionExpired, true) => format!("after swop relogin {name}"),
        (Reason::SessionExpired, false) => "relogin".into(),
        (Reason::Disabled, true) => format!("after swop enable {name}"),
        (Reason::Disabled, false) => "enable".into(),
        (Reason::Excluded, true) => "edit swop.toml".into(),
        (Reason::Excluded, false) => "config".into(),
        (Reason::Reserve, true) => "when all others are blocked".into(),
        (Reason::Reserve, false) => "last".into(),
        _ => "-".into(),
    }
}

/// Red for what stops an account, yellow for what qualifies it (no
/// numbers, old numbers, disabled by you), green for ok.
fn state_color(reason: Option<&Reason>, stale: bool) -> &'static str {
    match reason {
        Some(r) if r.is_bad() => "31",
        Some(_) => "33",
        None if stale => "33",
        None => "32",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep: String = s.chars().take(max.saturating_sub(1)).collect();
    keep + "…"
}

/// The table for `layout`, and the lines under it.
fn layout_table(rows: &[StatusRow], layout: Layout, now: i64, color: bool) -> String {
    let l = layout;
    let mut header = vec!["  NAME"];
    let cols: [(bool, &str); 9] = [
        (l.email, "EMAIL"),
        (l.plan, "PLAN"),
        (true, if l.long_state { "5H USED" } else { "5H" }),
        (true, if l.long_state { "WEEK USED" } else { "WEEK" }),
        (l.week_reset, "WEEK RESET"),
        (true, "STATE"),
        (true, if l.long_state { "USABLE AGAIN" } else { "BACK" }),
        (l.live, "LIVE"),
        (false, ""),
    ];
    header.extend(cols.iter().filter(|(on, _)| *on).map(|(_, h)| *h));
    let body: Vec<Vec<(String, Option<&str>)>> = rows
        .iter()
        .map(|r| {
            let u = r.state.usage.as_ref().map(|(u, _)| u);
            let id = r.account.identity();
            let stale = stale_of(r.state);
            let mark = if r.picked { "*" } else { " " };
            let name = truncate(&r.account.name, l.name_max);
            let mut cells: Vec<(String, Option<&str>)> = vec![(format!("{mark} {name}"), None)];
            let mut push = |on: bool, text: String, code: Option<&'static str>| {
                if on {
                    cells.push((text, code));
                }
            };
            push(l.email, id.email.unwrap_or_else(|| "-".into()), None);
            push(l.plan, r.plan().unwrap_or_else(|| "-".into()), None);
            push(true, pct(u.and_then(|u| u.five_hour_used())), None);
            push(true, pct(u.and_then(|u| u.weekly_used())), None);
            let reset = u.and_then(|u| u.weekly_reset());
            let reset = reset.map(|t| when(t, now, l.long_times));
            push(l.week_reset, reset.unwrap_or_else(|| "-".into()), None);
            let reason = r.unusable.as_ref().map(|u| &u.reason);
            let state = state_text(reason, stale, l.long_state);
            push(true, state, Some(state_color(reason, stale.is_some())));
            push(true, usable_again(r, now, l.long_times), None);
            push(l.live, r.live.len().to_string(), None);
            cells
        })
        .collect();
    painted_table(&header, &body, color)
}

/// The lines under the table: the `*` legend (only when a row has the
/// star), the all-blocked summary, and the short headers' meaning.
fn footer(rows: &[StatusRow], blocked: Option<&Blocked>, now: i64, long: bool) -> String {
    let mut lines = Vec::new();
    if rows.iter().any(|r| r.picked) {
        lines.push("* = the account `codex` would use now".to_string());
    }
    if let Some(b) = blocked {
        lines.push(match (&b.earliest, long) {
            (Some(c), false) => {
                format!(
                    "all accounts blocked; earliest: {} {}",
                    c.name,
                    when(c.at, now, false)
                )
            }
            _ => b.headline(now),
        });
    }
    if !long {
        lines.push("5H, WEEK: % used; BACK: when usable again".to_string());
    }
    if lines.is_empty() {
        return String::new();
    }
    format!("\n{}\n", lines.join("\n"))
}

fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// The status table, fitted to `width` (None: every column). Columns go in
/// this order until it fits: full dates become "in 2d 3h", then EMAIL, PLAN,
/// WEEK RESET and LIVE are dropped, states and headers get short, names are
/// shortened with "…"; a line that still does not fit is cut, never wrapped.
pub fn status_table(
    rows: &[StatusRow],
    blocked: Option<&Blocked>,
    now: i64,
    width: Option<usize>,
    color: bool,
) -> String {
    let render = |l: Layout, color: bool| {
        layout_table(rows, l, now, color) + &footer(rows, blocked, now, l.long_state)
    };
    let Some(width) = width else {
        return render(LAYOUTS[0], color);
    };
    for l in LAYOUTS {
        let plain = render(l, false);
        if widest(&plain) <= width {
            return render(l, color);
        }
    }
    let narrowest = LAYOUTS[LAYOUTS.len() - 1];
    let longest = rows
        .iter()
        .map(|r| r.account.name.chars().count())
        .max()
        .unwrap_or(0);
    for name_max in (4..longest).rev() {
        let l = Layout {
            name_max,
            ..narrowest
        };
        let plain = render(l, false);
        if widest(&plain) <= width {
            return render(l, color);
        }
    }
    // Still too wide: cut every line (no colour, so no escape code is cut).
    let l = Layout {
        name_max: 4,
        ..narrowest
    };
    render(l, false)
        .lines()
        .map(|line| line.chars().take(width).collect::<String>() + "\n")
        .collect()
}

pub fn status_view(rows: &[StatusRow], picked: Option<&str>, forecast: &Forecast) -> StatusView {
    let accounts = rows
        .iter()
        .map(|r| {
            let u = r.state.usage.as_ref().map(|(u, _)| u);
            let live: Vec<LiveView> = r
                .live
                .iter()
                .map(|l| LiveView {
                    pid: l.pid,
                    cwd: l.cwd.clone(),
                    started_at: TimeView::at(l.started_at),
                })
                .collect();
            AccountView {
                name: r.account.name.clone(),
                email: r.account.identity().email,
                plan: r.plan(),
                state: state_text(
                    r.unusable.as_ref().map(|u| &u.reason),
                    stale_of(r.state),
                    true,
                ),
                session_expired: r.state.dead,
                stale_seconds: match &r.state.usage {
                    Some((_, Freshness::Stale(age))) => Some(*age),
                    _ => None,
                },
                allowed: u.and_then(|u| u.allowed),
                limit_reached: u.and_then(|u| u.limit_reached),
                five_hour: u.and_then(|u| u.five_hour.as_ref()).map(WindowView::from),
                weekly: u.and_then(|u| u.weekly.as_ref()).map(WindowView::from),
                warning: r.state.warning.clone(),
                picked: r.picked,
                disabled: r
                    .unusable
                    .as_ref()
                    .is_some_and(|u| u.reason == Reason::Disabled),
                reserve: r.reserve,
                usable_at: TimeView::opt(r.unusable.as_ref().and_then(|u| u.until)),
                live_sessions: live.len(),
                live,
                source: r.state.cache.source.map(|x| x.as_str().to_string()),
                taken_at: TimeView::opt(r.state.cache.taken_at),
                last_error: r.state.cache.last_error.clone(),
                next_try: TimeView::opt(r.state.cache.next_try),
                reset_credits: u.and_then(|u| u.reset_credits),
                credits: u.and_then(|u| u.credits.clone()),
                additional_limits: u.map(|u| u.additional.clone()).unwrap_or_default(),
                limit_reached_type: u.and_then(|u| u.reached_type.clone()),
            }
        })
        .collect();
    StatusView {
        picked: picked.map(str::to_string),
        accounts,
        forecast: forecast.into(),
    }
}

/// The forecast under the status table: one line per account with a pace,
/// then the pool's. Empty when no account has two snapshots yet.
pub fn forecast_lines(f: &Forecast, now: i64) -> String {
    if f.accounts.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nforecast (at this week's pace):\n");
    let width = f
        .accounts
        .iter()
        .map(|a| a.name.chars().count())
        .max()
        .unwrap_or(0);
    for a in &f.accounts {
        let reset = a
            .weekly_reset
            .map(time::wall)
            .unwrap_or_else(|| "unknown".into());
        let fate = match a.runs_out_at {
            Some(t) if a.runs_out_before_reset() => {
                format!("runs out {}, before its reset {reset}", time::reset(t, now))
            }
            _ => format!("lasts until its reset {reset}"),
        };
        out.push_str(&format!(
            "  {:<width$}  {:.1}%/h, {fate}\n",
            a.name, a.pace_per_hour
        ));
    }
    if let Some(p) = &f.pool {
        out.push_str(&format!("  {}\n", forecast::pool_line(p)));
    }
    out
}

/// Lines under the table for what does not fit a column: where numbers
/// came from when not asked just now, failures and when the next try is,
/// named limits, reset credits, credits.
pub fn details(s: &AccountState, now: i64) -> Vec<String> {
    let mut out = Vec::new();
    let name = &s.name;
    let c = &s.cache;
    if let (Some(src), Some(at)) = (c.source, c.taken_at) {
        if src == crate::usage::cache::Source::Session
            || !matches!(s.usage, Some((_, Freshness::Fresh)))
        {
            out.push(format!(
                "{name}: numbers from {} ({} ago)",
                src.as_str(),
                time::span(now - at)
            ));
        }
    }
    if let (Some(why), Some(next)) = (&c.last_error, c.next_try) {
        out.push(format!(
            "{name}: usage server: {why}; next try in {}",
            time::span(next - now)
        ));
    }
    let Some((u, _)) = &s.usage else { return out };
    for l in &u.additional {
        let w = |w: &Option<crate::usage::Window>| pct(w.as_ref().map(|w| w.used_percent));
        out.push(format!(
            "{name}: limit '{}': 5h {}, weekly {}",
            l.name,
            w(&l.five_hour),
            w(&l.weekly)
        ));
    }
    if let Some(n) = u.reset_credits {
        out.push(format!("{name}: {n} limit reset credit(s) available"));
    }
    if let Some(cr) = &u.credits {
        if cr.unlimited == Some(true) {
            out.push(format!("{name}: credits: unlimited"));
        } else if cr.has_credits == Some(true) {
            out.push(format!(
                "{name}: credits: {}",
                cr.balance.as_deref().unwrap_or("yes")
            ));
        }
    }
    if let Some(t) = &u.reached_type {
        out.push(format!("{name}: limit reached: {t}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::{Usage, Window};

    #[test]
    fn table_aligns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\n");
        let t = table(&["A"], &[vec!["p\x1b[2J\nswop: x".into()]]);
        assert!(!t.contains('\x1b') && t.lines().count() == 2, "{t:?}");
    }

    #[test]
    fn colour_does_not_change_alignment() {
        let rows = vec![vec![("ok".to_string(), Some("32")), ("1".into(), None)]];
        let t = painted_table(&["STATE", "N"], &rows, true);
        assert_eq!(t, "STATE  N\n\x1b[32mok\x1b[0m     1\n");
    }

    fn account(name: &str) -> Account {
        Account {
            name: name.into(),
            home: format!("/nonexistent/{name}").into(),
        }
    }

    fn usage(week: f64, limited: bool, now: i64) -> AccountState {
        AccountState {
            name: String::new(),
            usage: Some((
                Usage {
                    plan: Some("plus".into()),
                    allowed: Some(!limited),
                    limit_reached: Some(limited),
                    five_hour: Some(Window {
                        used_percent: 3.0,
                        window_seconds: Some(18000),
                        reset_at: Some(now + 3600),
                    }),
                    weekly: Some(Window {
                        used_percent: week,
                        window_seconds: Some(604800),
                        reset_at: Some(now + 3 * 86400),
                    }),
                    ..Usage::default()
                },
                Freshness::Fresh,
            )),
            dead: false,
            api_key: false,
            warning: None,
            cache: Default::default(),
        }
    }

    fn out(reason: Reason, until: Option<i64>) -> Option<Unusable> {
        Some(Unusable {
            name: String::new(),
            reason,
            until,
            now: 0,
        })
    }

    fn sample(now: i64) -> (Vec<Account>, Vec<AccountState>, Vec<Option<Unusable>>) {
        let names = [
            "work-enterprise-primary",
            "personal-plus-account",
            "team-shared-workspace",
            "side-project-account",
            "old-login-account",
        ];
        let accounts = names.iter().map(|n| account(n)).collect();
        let mut states: Vec<AccountState> =
            (0..5).map(|i| usage(10.0 * i as f64, false, now)).collect();
        states[1] = usage(100.0, true, now);
        states[2].usage.as_mut().unwrap().1 = Freshness::Stale(600);
        states[3].dead = true;
        let standings = vec![
            None,
            out(Reason::LimitReached, Some(now + 3600)),
            None,
            out(Reason::SessionExpired, None),
            out(Reason::Disabled, None),
        ];
        (accounts, states, standings)
    }

    fn rows<'a>(
        a: &'a [Account],
        s: &'a [AccountState],
        st: &[Option<Unusable>],
    ) -> Vec<StatusRow<'a>> {
        a.iter()
            .zip(s)
            .zip(st)
            .enumerate()
            .map(|(i, ((account, state), unusable))| StatusRow {
                account,
                state,
                unusable: unusable.clone(),
                picked: i == 0,
                reserve: false,
                live: vec![],
            })
            .collect()
    }

    #[test]
    fn fits_sixty_columns_and_keeps_everything_unbounded() {
        let now = 1_800_000_000;
        let (a, s, st) = sample(now);
        let r = rows(&a, &s, &st);
        let narrow = status_table(&r, None, now, Some(60), false);
        assert!(widest(&narrow) <= 60, "{narrow}");
        assert!(
            narrow.contains("in 1h"),
            "the 5-hour block's return: {narrow}"
        );
        assert!(narrow.contains("relogin"), "{narrow}");
        let full = status_table(&r, None, now, None, false);
        assert!(
            full.contains("WEEK RESET") && full.contains("EMAIL"),
            "{full}"
        );
        assert!(full.contains("work-enterprise-primary"), "{full}");
        assert!(full.contains("limit reached"), "{full}");
        assert!(
            full.contains("after swop relogin side-project-account"),
            "{full}"
        );
        for w in [20, 40, 80, 100, 120, 200] {
            let t = status_table(&r, None, now, Some(w), false);
            assert!(widest(&t) <= w, "{w}: {t}");
        }
    }

    #[test]
    fn star_legend_only_with_a_star_and_a_summary_when_all_blocked() {
        let now = 1_800_000_000;
        let (a, s, st) = sample(now);
        let mut r = rows(&a, &s, &st);
        r.iter_mut().for_each(|r| r.picked = false);
        let blocked = Blocked {
            accounts: vec![],
            earliest: Some(crate::select::Comeback {
                name: "personal-plus-account".into(),
                at: now + 3600,
            }),
            redeemable: vec![],
            has_reserve: false,
        };
        let t = status_table(&r, Some(&blocked), now, None, false);
        assert!(!t.contains("* ="), "{t}");
        assert!(
            t.contains("all accounts blocked; earliest: personal-plus-account"),
            "{t}"
        );
    }

    #[test]
    fn state_colours() {
        assert_eq!(state_color(Some(&Reason::LimitReached), false), "31");
        assert_eq!(state_color(Some(&Reason::SessionExpired), false), "31");
        assert_eq!(state_color(Some(&Reason::Disabled), false), "33");
        assert_eq!(state_color(None, true), "33");
        assert_eq!(state_color(None, false), "32");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
