//! Rendering: the status table and the JSON documents of status, pick and
//! list. Human times only (never a raw epoch in the table); JSON carries
//! both Unix seconds and RFC 3339 for scripts. Nothing here can see a token.

use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::base::time;
use crate::select::forecast::{self, Forecast};
use crate::select::{Blocked, Choice};
use crate::usage::gather::{AccountState, Freshness};
use serde_json::{json, Value};

/// A plain left-aligned table with two spaces between columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// ok / limit reached / blocked / session expired / usage unavailable /
/// stale (age) / api key.
pub fn state_word(s: &AccountState) -> String {
    if s.dead {
        return "session expired".into();
    }
    match &s.usage {
        None if s.api_key => "api key (no usage data)".into(),
        None => "usage unavailable".into(),
        Some((u, fresh)) => {
            let base = if u.limit_reached == Some(true) {
                "limit reached"
            } else if u.allowed == Some(false) {
                "blocked"
            } else {
                "ok"
            };
            match fresh {
                Freshness::Fresh => base.into(),
                Freshness::Stale(age) => format!("{base}, stale ({} old)", time::span(*age)),
            }
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "-".into())
}

pub fn status_table(
    paths: &Paths,
    rows: &[(&Account, &AccountState)],
    picked: Option<&str>,
) -> String {
    let now = crate::base::time::now();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(a, s)| {
            let u = s.usage.as_ref().map(|(u, _)| u);
            let id = a.identity();
            let mark = if picked == Some(a.name.as_str()) {
                "*"
            } else {
                " "
            };
            vec![
                format!("{mark} {}", a.name),
                id.email.unwrap_or_else(|| "-".into()),
                u.and_then(|u| u.plan.clone())
                    .or(id.plan)
                    .unwrap_or_else(|| "-".into()),
                pct(u.and_then(|u| u.five_hour_used())),
                pct(u.and_then(|u| u.weekly_used())),
                u.and_then(|u| u.weekly_reset())
                    .map(|t| time::reset(t, now))
                    .unwrap_or_else(|| "-".into()),
                state_word(s),
                crate::launch::live::list(paths, &a.name).len().to_string(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "  NAME",
            "EMAIL",
            "PLAN",
            "5H",
            "WEEKLY",
            "WEEKLY RESET",
            "STATE",
            "LIVE",
        ],
        &body,
    );
    if picked.is_some() {
        out.push_str("\n* = the account `codex` would use now\n");
    }
    out
}

fn time_json(t: Option<i64>) -> Value {
    match t {
        Some(t) => json!({"unix": t, "rfc3339": time::rfc3339(t)}),
        None => Value::Null,
    }
}

fn window_json(w: Option<&crate::usage::Window>) -> Value {
    match w {
        Some(w) => {
            json!({"used_percent": w.used_percent, "window_seconds": w.window_seconds, "reset_at": time_json(w.reset_at)})
        }
        None => Value::Null,
    }
}

pub fn status_json(
    paths: &Paths,
    rows: &[(&Account, &AccountState)],
    picked: Option<&str>,
    forecast: &Forecast,
) -> String {
    let accounts: Vec<Value> = rows
        .iter()
        .map(|(a, s)| {
            let u = s.usage.as_ref().map(|(u, _)| u);
            let id = a.identity();
            let live: Vec<Value> = crate::launch::live::list(paths, &a.name)
                .into_iter()
                .map(|l| json!({"pid": l.pid, "cwd": l.cwd, "started_at": time_json(Some(l.started_at))}))
                .collect();
            json!({
                "name": a.name,
                "email": id.email,
                "plan": u.and_then(|u| u.plan.clone()).or(id.plan),
                "state": state_word(s),
                "session_expired": s.dead,
                "stale_seconds": match &s.usage { Some((_, Freshness::Stale(age))) => json!(age), _ => Value::Null },
                "allowed": u.and_then(|u| u.allowed),
                "limit_reached": u.and_then(|u| u.limit_reached),
                "five_hour": window_json(u.and_then(|u| u.five_hour.as_ref())),
                "weekly": window_json(u.and_then(|u| u.weekly.as_ref())),
                "warning": s.warning,
                "picked": picked == Some(a.name.as_str()),
                "live_sessions": live.len(),
                "live": live,
            })
        })
        .collect();
    serde_json::to_string_pretty(
        &json!({"accounts": accounts, "picked": picked, "forecast": forecast_json(forecast)}),
    )
    .expect("json")
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

fn forecast_json(f: &Forecast) -> Value {
    let accounts: Vec<Value> = f
        .accounts
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "weekly_percent_per_hour": (a.pace_per_hour * 100.0).round() / 100.0,
                "runs_out_at": time_json(a.runs_out_at),
                "weekly_reset_at": time_json(a.weekly_reset),
                "runs_out_before_reset": a.runs_out_before_reset(),
            })
        })
        .collect();
    let pool = f.pool.as_ref().map(|p| {
        json!({
            "runs_out_at": time_json(Some(p.dry_at)),
            "first_reset_at": time_json(p.first_reset),
            "runs_out_before_reset": p.dry_before_reset(),
        })
    });
    json!({"accounts": accounts, "pool": pool})
}

pub fn pick_json(c: &Choice) -> String {
    let passed: Vec<Value> = c
        .passed
        .iter()
        .map(|p| json!({"name": p.name(), "reason": p.to_string()}))
        .collect();
    serde_json::to_string_pretty(&json!({
        "account": c.name, "reason": c.why.to_string(), "without_quota_data": c.without_data,
        "passed_over": passed, "warnings": c.warnings,
    }))
    .expect("json")
}

/// The details of an "all accounts blocked" error, for `pick --json`.
pub fn blocked_json(b: &Blocked) -> Value {
    let accounts: Vec<Value> = b
        .accounts
        .iter()
        .map(|u| json!({"name": u.name, "reason": u.to_string(), "usable_at": time_json(u.until)}))
        .collect();
    json!({
        "account": null,
        "earliest": b.earliest.as_ref().map(|c| json!({"name": c.name, "at": time_json(Some(c.at))})),
        "accounts": accounts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1\n");
    }
}
