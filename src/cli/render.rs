//! Rendering for people: the status table (fitted to the terminal), the
//! lines under it, plain tables, and the words of an account's state that
//! the table and `status --json` share. Pure: never reads a file (the rows
//! come filled in), never builds a `--json` document (that is `views`).
//! Human times only in tables (never a raw epoch). Nothing here can see a
//! token.

use crate::accounts::Account;
use crate::base::fit::{self, Cell, Give};
use crate::base::term;
use crate::base::time;
use crate::select::forecast::{self, Forecast};
use crate::select::{Blocked, Reason, Unusable};
use crate::usage::gather::{AccountState, Freshness};

/// A plain left-aligned table with two spaces between columns, whole
/// (every cell cleaned; see `base::fit` for one that fits a terminal).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    fit::Table::of(header, rows).fit(None, &[], false).text
}

/// The state with its freshness: "ok", "limit reached, stale (5m old)".
fn state_text(reason: Option<&Reason>, stale: Option<i64>, long: bool) -> String {
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

/// How old the numbers are when they are stale (None: fresh, or none):
/// `status --json`'s `stale_seconds`.
pub fn stale_age(s: &AccountState) -> Option<i64> {
    match &s.usage {
        Some((_, Freshness::Stale(age))) => Some(*age),
        _ => None,
    }
}

/// The staleness the state words mention: [`stale_age`], except for a
/// dead session, whose numbers are not used at all.
fn stale_shown(s: &AccountState) -> Option<i64> {
    stale_age(s).filter(|_| !s.dead)
}

/// The state words of a row, as the table's STATE column (long form) and
/// `status --json`'s `state` say them.
pub fn row_state(r: &StatusRow, long: bool) -> String {
    state_text(
        r.unusable.as_ref().map(|u| &u.reason),
        stale_shown(r.state),
        long,
    )
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
    /// The plan the usage server last named, else the login's.
    pub fn plan(&self) -> Option<String> {
        let u = self.state.usage.as_ref().map(|(u, _)| u);
        u.and_then(|u| u.plan.clone())
            .or_else(|| self.account.identity().plan)
    }
}

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
        (Reason::SessionExpired | Reason::LoginRejected, true) => {
            format!("after swop relogin {name}")
        }
        (Reason::SessionExpired | Reason::LoginRejected, false) => "relogin".into(),
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

// The status table's columns, in order.
const NAME: usize = 0;
const EMAIL: usize = 1;
const PLAN: usize = 2;
const FIVE: usize = 3;
const WEEK: usize = 4;
const RESET: usize = 5;
const STATE: usize = 6;
const AGAIN: usize = 7;
const LIVE: usize = 8;

/// How the status table narrows, in this order until it fits: full dates
/// become "in 2d 3h"; columns that say nothing (all "-", all "0") go; long
/// names are cut with "…" (to 12 columns); EMAIL, PLAN, WEEK RESET and
/// LIVE go; states and headers get short; names are cut further. What
/// still does not fit is cut, never wrapped.
const STATUS_GIVE: [Give; 13] = [
    Give::Shorten(RESET),
    Give::Shorten(AGAIN),
    Give::DropBlank,
    Give::Cut(NAME, 14),
    Give::Drop(EMAIL),
    Give::Drop(PLAN),
    Give::Drop(RESET),
    Give::Drop(LIVE),
    Give::Shorten(FIVE),
    Give::Shorten(WEEK),
    Give::Shorten(STATE),
    Give::Shorten(AGAIN),
    Give::Cut(NAME, 6),
];

/// The status table's columns, every form of each (see [`STATUS_GIVE`]).
fn status_columns(rows: &[StatusRow], now: i64) -> fit::Table {
    let col = |f: &dyn Fn(&StatusRow) -> String| -> Vec<Cell> {
        rows.iter().map(|r| Cell::from(f(r))).collect()
    };
    let usage = |r: &StatusRow| r.state.usage.as_ref().map(|(u, _)| u.clone());
    let reset = |long: bool| {
        col(&|r| {
            let t = usage(r).and_then(|u| u.weekly_reset());
            t.map(|t| when(t, now, long)).unwrap_or_else(|| "-".into())
        })
    };
    let state = |long: bool| -> Vec<Cell> {
        rows.iter()
            .map(|r| {
                let reason = r.unusable.as_ref().map(|u| &u.reason);
                Cell {
                    text: row_state(r, long),
                    color: Some(state_color(reason, stale_shown(r.state).is_some())),
                }
            })
            .collect()
    };
    let five = col(&|r| pct(usage(r).and_then(|u| u.five_hour_used())));
    let week = col(&|r| pct(usage(r).and_then(|u| u.weekly_used())));
    fit::Table::new(vec![
        fit::Column::new(
            "  NAME",
            col(&|r| format!("{} {}", if r.picked { "*" } else { " " }, r.account.name)),
        ),
        fit::Column::new(
            "EMAIL",
            col(&|r| r.account.identity().email.unwrap_or_else(|| "-".into())),
        )
        .blank(&["-"]),
        fit::Column::new("PLAN", col(&|r| r.plan().unwrap_or_else(|| "-".into()))).blank(&["-"]),
        fit::Column::new("5H USED", five.clone()).or("5H", five),
        fit::Column::new("WEEK USED", week.clone()).or("WEEK", week),
        fit::Column::new("WEEK RESET", reset(true))
            .or("WEEK RESET", reset(false))
            .blank(&["-"]),
        fit::Column::new("STATE", state(true)).or("STATE", state(false)),
        fit::Column::new("USABLE AGAIN", col(&|r| usable_again(r, now, true)))
            .or("USABLE AGAIN", col(&|r| usable_again(r, now, false)))
            .or("BACK", col(&|r| usable_again(r, now, false)))
            .blank(&["-"]),
        fit::Column::new("LIVE", col(&|r| r.live.len().to_string())).blank(&["0"]),
    ])
}

/// The lines under the table: the `*` legend (only when a row has the
/// star), the all-blocked summary, and the meaning of the short headers
/// that are shown.
fn footer(rows: &[StatusRow], blocked: Option<&Blocked>, now: i64, t: &fit::Fitted) -> Vec<String> {
    let mut lines = Vec::new();
    if rows.iter().any(|r| r.picked) {
        lines.push("* = the account `codex` would use now".to_string());
    }
    if let Some(b) = blocked {
        lines.push(match &b.earliest {
            Some(c) if t.shows(STATE, 1) => format!(
                "all accounts blocked; earliest: {} {}",
                c.name,
                when(c.at, now, false)
            ),
            _ => b.headline(now),
        });
    }
    let mut legend = Vec::new();
    if t.shows(FIVE, 1) {
        legend.push("5H, WEEK: % used");
    }
    if t.shows(AGAIN, 2) {
        legend.push("BACK: when usable again");
    }
    if !legend.is_empty() {
        lines.push(legend.join("; "));
    }
    lines
}

/// The status table, fitted to `width` (None: every column) by
/// [`STATUS_GIVE`], and the lines under it (fitted the same way).
pub fn status_table(
    rows: &[StatusRow],
    blocked: Option<&Blocked>,
    now: i64,
    width: Option<usize>,
    color: bool,
) -> String {
    let t = status_columns(rows, now).fit(width, &STATUS_GIVE, color);
    let lines = footer(rows, blocked, now, &t);
    let mut text = t.text.clone();
    if !lines.is_empty() {
        text.push('\n');
        for l in lines {
            text.push_str(&fit::lines(&term::clean(&l), width));
            text.push('\n');
        }
    }
    text
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

/// The one line that says why an account has no fresh numbers, when
/// something went wrong: the cause, when the next try is, and the fix
/// when it is a new login. (What status says about it, once: no warning
/// above the table repeats it.)
fn trouble(s: &AccountState, now: i64) -> Option<String> {
    let c = &s.cache;
    let why = s.warning.as_deref().or(match (&c.last_error, c.next_try) {
        (Some(e), Some(_)) => Some(e.as_str()),
        (Some(e), None) if s.dead => Some(e.as_str()),
        _ => None,
    })?;
    let name = &s.name;
    let from_server = c.last_error.as_deref() == Some(why) && !why.contains("usage server");
    let mut line = if from_server {
        format!("{name}: usage server: {why}")
    } else {
        format!("{name}: {why}")
    };
    if s.dead || s.login_rejected() {
        line.push_str(&format!("; log in again: swop relogin {name}"));
    } else if let Some(next) = c.next_try.filter(|&t| t > now) {
        line.push_str(&format!("; next try in {}", time::span(next - now)));
    }
    Some(line)
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
    if let Some(line) = trouble(s, now) {
        out.push(line);
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
        let credits = term::plural(
            n.max(0) as usize,
            "limit reset credit",
            "limit reset credits",
        );
        out.push(format!("{name}: {credits} available"));
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

    #[test]
    fn table_aligns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\n");
        let t = table(&["A"], &[vec!["p\x1b[2J\nswop: x".into()]]);
        assert!(!t.contains('\x1b') && t.lines().count() == 2, "{t:?}");
    }

    fn account(name: &str) -> Account {
        Account {
            name: name.into(),
            home: format!("/nonexistent/{name}").into(),
        }
    }

    fn usage(week: f64, limited: bool, now: i64) -> AccountState {
        AccountState::plus_for_tests("", (week, now + 3 * 86400), (3.0, now + 3600), limited)
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
        assert!(fit::widest(&narrow) <= 60, "{narrow}");
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
            assert!(fit::widest(&t) <= w, "{w}: {t}");
        }
    }

    /// Columns that say nothing go before any that does, and
    /// a long name is cut before a column is dropped.
    #[test]
    fn narrowing_drops_empty_columns_first_and_cuts_names_before_columns() {
        let now = 1_800_000_000;
        let a = [account("a"), account("b")];
        let s = [usage(10.0, false, now), usage(20.0, false, now)];
        let r = rows(&a, &s, &[None, None]);
        let t = status_table(&r, None, now, Some(60), false);
        assert!(fit::widest(&t) <= 60, "{t}");
        assert!(t.contains("WEEK RESET") && t.contains("PLAN"), "{t}");
        for gone in ["LIVE", "USABLE AGAIN", "BACK"] {
            assert!(!t.contains(gone), "{gone} says nothing here:\n{t}");
        }
        let long = "team-shared-workspace-of-the-whole-org-1";
        assert_eq!(long.len(), 40);
        let a = [account(long), account("b")];
        let r = rows(&a, &s, &[None, None]);
        let t = status_table(&r, None, now, Some(80), false);
        assert!(fit::widest(&t) <= 80, "{t}");
        assert!(t.contains("team-shared-workspace-of-"), "{t}");
        assert!(t.contains('…') && !t.contains(long), "{t}");
        for kept in ["PLAN", "5H USED", "WEEK USED", "WEEK RESET", "STATE"] {
            assert!(
                t.contains(kept),
                "{kept} dropped instead of cutting the name:\n{t}"
            );
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
    }
}
