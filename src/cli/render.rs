//! Rendering: the status table and the JSON documents of status, pick and
//! list. Human times only (never a raw epoch in the table); JSON carries
//! both Unix seconds and RFC 3339 for scripts. Nothing here can see a token.

use crate::accounts::Account;
use crate::base::paths::Paths;
use crate::base::time;
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
    let notes: Vec<String> = rows.iter().flat_map(|(_, s)| details(s, now)).collect();
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
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    if picked.is_some() {
        out.push_str("\n* = the account `codex` would use now\n");
    }
    out
}

/// Lines under the table for what does not fit a column: where numbers
/// came from when not asked just now, failures and when the next try is,
/// named limits, reset credits, credits.
fn details(s: &AccountState, now: i64) -> Vec<String> {
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

/// The cache facts and the extra fields of the status JSON.
fn extras_json(s: &AccountState) -> Value {
    let u = s.usage.as_ref().map(|(u, _)| u);
    let c = &s.cache;
    json!({
        "source": c.source.map(|x| x.as_str()),
        "taken_at": time_json(c.taken_at),
        "last_error": c.last_error,
        "next_try": time_json(c.next_try),
        "reset_credits": u.and_then(|u| u.reset_credits),
        "credits": u.and_then(|u| u.credits.clone()),
        "additional_limits": u.map(|u| u.additional.clone()).unwrap_or_default(),
        "limit_reached_type": u.and_then(|u| u.reached_type.clone()),
    })
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
            let mut doc = json!({
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
            });
            if let (Value::Object(d), Value::Object(x)) = (&mut doc, extras_json(s)) {
                d.extend(x);
            }
            doc
        })
        .collect();
    serde_json::to_string_pretty(&json!({"accounts": accounts, "picked": picked})).expect("json")
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
