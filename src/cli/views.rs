//! The `--json` documents: one `Serialize` type per schema, so that a field
//! is named in exactly one place and the README's "JSON output" section can
//! be checked against these types (the test at the bottom does).
//!
//! Views are plain data built from domain values; they never read files or
//! the network, and hold no secret (no token field exists to fill).

use crate::accounts::Account;
use crate::base::time;
use crate::cli::render::{self, StatusRow};
use crate::select::forecast::Forecast;
use crate::select::{Blocked, Choice, Reason};
use serde::Serialize;

/// A point in time, for scripts: Unix seconds and RFC 3339 (UTC).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimeView {
    pub unix: i64,
    pub rfc3339: String,
}

impl TimeView {
    /// A time swop took from its own clock (always showable).
    pub fn at(unix: i64) -> TimeView {
        TimeView {
            unix,
            rfc3339: time::rfc3339(unix).unwrap_or_default(),
        }
    }

    /// A time that may be missing or out of range: `null` then, never a
    /// half-filled value.
    pub fn opt(unix: Option<i64>) -> Option<TimeView> {
        let unix = unix?;
        Some(TimeView {
            unix,
            rfc3339: time::rfc3339(unix)?,
        })
    }
}

/// One usage window (5-hour or weekly).
#[derive(Debug, Clone, Serialize)]
pub struct WindowView {
    pub used_percent: f64,
    pub window_seconds: Option<i64>,
    pub reset_at: Option<TimeView>,
}

impl From<&crate::usage::Window> for WindowView {
    fn from(w: &crate::usage::Window) -> WindowView {
        WindowView {
            used_percent: w.used_percent,
            window_seconds: w.window_seconds,
            reset_at: TimeView::opt(w.reset_at),
        }
    }
}

/// A running launch of codex under swop.
#[derive(Debug, Clone, Serialize)]
pub struct LiveView {
    pub pid: u32,
    pub cwd: String,
    pub started_at: TimeView,
}

/// One account in `swop status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub name: String,
    pub email: Option<String>,
    pub plan: Option<String>,
    /// The same words as the table's STATE column and `pick`'s reasons.
    pub state: String,
    pub session_expired: bool,
    pub stale_seconds: Option<i64>,
    pub allowed: Option<bool>,
    pub limit_reached: Option<bool>,
    pub five_hour: Option<WindowView>,
    pub weekly: Option<WindowView>,
    pub warning: Option<String>,
    pub picked: bool,
    /// Kept out of automatic picks by `swop disable`.
    pub disabled: bool,
    /// In `[selection] reserve`: used only when every other account is
    /// blocked.
    pub reserve: bool,
    /// When an account that cannot be used now becomes usable again (the
    /// reset that unblocks it, or the end of a `disable --for`).
    pub usable_at: Option<TimeView>,
    pub live_sessions: usize,
    pub live: Vec<LiveView>,
    /// Where the numbers came from: "server" (a fetch) or "session" (what
    /// codex recorded during a run); `taken_at` is when.
    pub source: Option<String>,
    pub taken_at: Option<TimeView>,
    pub last_error: Option<String>,
    /// When swop asks the usage server again (backoff or Retry-After).
    pub next_try: Option<TimeView>,
    pub reset_credits: Option<i64>,
    pub credits: Option<crate::usage::Credits>,
    pub additional_limits: Vec<crate::usage::NamedLimit>,
    pub limit_reached_type: Option<String>,
}

/// `swop status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub picked: Option<String>,
    pub accounts: Vec<AccountView>,
    pub forecast: ForecastView,
}

impl StatusView {
    /// The document of the status rows shown, the pick and the forecast.
    pub fn of(rows: &[StatusRow], picked: Option<&str>, forecast: &Forecast) -> StatusView {
        StatusView {
            picked: picked.map(str::to_string),
            accounts: rows.iter().map(AccountView::from).collect(),
            forecast: forecast.into(),
        }
    }
}

impl From<&StatusRow<'_>> for AccountView {
    fn from(r: &StatusRow) -> AccountView {
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
            state: render::row_state(r, true),
            session_expired: r.state.dead,
            stale_seconds: render::stale_age(r.state),
            allowed: u.and_then(|u| u.allowed),
            limit_reached: u.and_then(|u| u.limit_reached),
            five_hour: u.and_then(|u| u.five_hour.as_ref()).map(WindowView::from),
            weekly: u.and_then(|u| u.weekly.as_ref()).map(WindowView::from),
            // A new login is the fix: the JSON says so too.
            warning: r.state.warning.clone().map(|w| {
                if r.state.dead || r.state.login_rejected() {
                    format!("{w}; log in again: swop relogin {}", r.state.name)
                } else {
                    w
                }
            }),
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
    }
}

/// `swop simulate --json`: each strategy's figures and the recommendation.
#[derive(Debug, Clone, Serialize)]
pub struct SimulateView {
    pub strategies: Vec<StrategyView>,
    pub recommended: String,
    pub reason: String,
    pub workload: String,
    pub days: u32,
    pub seed: u64,
    /// Where the accounts came from: "--accounts", "your accounts" or "sample".
    pub source: String,
    pub accounts: Vec<SimAccountView>,
    /// Your accounts that could not be simulated, and why.
    pub left_out: Vec<LeftOutView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeftOutView {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyView {
    pub strategy: String,
    pub blocked_hours: f64,
    pub wasted_percent: f64,
    pub switches_per_day: f64,
    pub work_done_percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimAccountView {
    pub name: String,
    pub plan: String,
    pub weekly_used_percent: f64,
    pub weekly_reset_in_seconds: i64,
}

/// When each account, and the pool, runs out at this week's pace.
#[derive(Debug, Clone, Serialize)]
pub struct ForecastView {
    pub accounts: Vec<AccountForecastView>,
    pub pool: Option<PoolForecastView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountForecastView {
    pub name: String,
    pub weekly_percent_per_hour: f64,
    pub runs_out_at: Option<TimeView>,
    pub weekly_reset_at: Option<TimeView>,
    pub runs_out_before_reset: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolForecastView {
    pub runs_out_at: Option<TimeView>,
    pub first_reset_at: Option<TimeView>,
    pub runs_out_before_reset: bool,
}

impl From<&crate::select::forecast::Forecast> for ForecastView {
    fn from(f: &crate::select::forecast::Forecast) -> ForecastView {
        ForecastView {
            accounts: f
                .accounts
                .iter()
                .map(|a| AccountForecastView {
                    name: a.name.clone(),
                    weekly_percent_per_hour: (a.pace_per_hour * 100.0).round() / 100.0,
                    runs_out_at: TimeView::opt(a.runs_out_at),
                    weekly_reset_at: TimeView::opt(a.weekly_reset),
                    runs_out_before_reset: a.runs_out_before_reset(),
                })
                .collect(),
            pool: f.pool.as_ref().map(|p| PoolForecastView {
                runs_out_at: TimeView::opt(Some(p.dry_at)),
                first_reset_at: TimeView::opt(p.first_reset),
                runs_out_before_reset: p.dry_before_reset(),
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PassedView {
    pub name: String,
    pub reason: String,
}

/// `swop pick --json` when an account can be used.
#[derive(Debug, Clone, Serialize)]
pub struct PickView {
    pub account: String,
    pub reason: String,
    pub without_quota_data: bool,
    pub passed_over: Vec<PassedView>,
    pub warnings: Vec<String>,
}

impl From<&Choice> for PickView {
    fn from(c: &Choice) -> PickView {
        PickView {
            account: c.name.clone(),
            reason: c.why.to_string(),
            without_quota_data: c.without_data,
            passed_over: c
                .passed
                .iter()
                .map(|p| PassedView {
                    name: p.name().to_string(),
                    reason: p.to_string(),
                })
                .collect(),
            warnings: c.warnings.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EarliestView {
    pub name: String,
    pub at: TimeView,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockedAccountView {
    pub name: String,
    pub reason: String,
    pub usable_at: Option<TimeView>,
    /// Limit-reset credits of an account out for a usage limit: `swop
    /// redeem NAME` can bring it back now.
    pub reset_credits: Option<i64>,
}

/// The extra fields of the error document when every account is blocked.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedView {
    /// Always null: no account can be used.
    pub account: Option<String>,
    pub earliest: Option<EarliestView>,
    pub accounts: Vec<BlockedAccountView>,
}

impl From<&Blocked> for BlockedView {
    fn from(b: &Blocked) -> BlockedView {
        BlockedView {
            account: None,
            earliest: b.earliest.as_ref().map(|c| EarliestView {
                name: c.name.clone(),
                at: TimeView::at(c.at),
            }),
            accounts: b
                .accounts
                .iter()
                .map(|u| BlockedAccountView {
                    name: u.name.clone(),
                    reason: u.to_string(),
                    usable_at: TimeView::opt(u.until),
                    reset_credits: b
                        .redeemable
                        .iter()
                        .find(|(n, _)| *n == u.name)
                        .map(|(_, c)| *c),
                })
                .collect(),
        }
    }
}

/// The document every `--json` command prints on stdout when it fails.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub error: String,
    pub help: Option<String>,
    pub exit_code: u8,
    /// Command-specific details (a [`BlockedView`] for `pick`).
    #[serde(flatten)]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

impl From<&crate::base::error::Error> for ErrorView {
    fn from(e: &crate::base::error::Error) -> ErrorView {
        ErrorView {
            error: e.message.clone(),
            help: e.help.clone(),
            exit_code: e.code,
            details: match &e.details {
                Some(serde_json::Value::Object(m)) => Some(m.clone()),
                _ => None,
            },
        }
    }
}

/// One entry of `swop list --json` (the document is an array of these).
#[derive(Debug, Clone, Serialize)]
pub struct ListEntryView {
    pub name: String,
    pub email: Option<String>,
    pub plan: Option<String>,
    pub home: std::path::PathBuf,
}

impl From<&Account> for ListEntryView {
    fn from(a: &Account) -> ListEntryView {
        let id = a.identity();
        ListEntryView {
            name: a.name.clone(),
            email: id.email,
            plan: id.plan,
            home: a.home.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    /// "ok", "warn" or "fail".
    pub level: &'static str,
    pub check: String,
    pub fix: Option<String>,
}

/// `swop doctor --json`.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorView {
    pub ok: bool,
    pub checks: Vec<CheckView>,
}

/// One live codex session in `swop ps --json`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub pid: u32,
    pub account: String,
    pub cwd: String,
    pub started_at: TimeView,
    /// codex's session (thread) id, once its rollout file names it.
    pub session_id: Option<String>,
}

/// codex's background app server running in an account's sandbox (it
/// keeps that account's login while it runs).
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    pub pid: u32,
    pub account: String,
    /// Null where the system does not say (macOS).
    pub started_at: Option<TimeView>,
}

/// `swop ps --json`.
#[derive(Debug, Clone, Serialize)]
pub struct PsView {
    pub sessions: Vec<SessionView>,
    pub servers: Vec<ServerView>,
}

/// `swop redeem --json`: what the server answered, and the account after.
#[derive(Debug, Clone, Serialize)]
pub struct RedeemView {
    pub account: String,
    /// "reset", "already_redeemed" (an earlier try of this attempt reset
    /// it), "nothing_to_reset" or "no_credit".
    pub outcome: String,
    /// A request went to the server (false when the numbers read just
    /// before showed no credit).
    pub requested: bool,
    /// Credits the server reported before, and after a reset.
    pub credits_before: Option<i64>,
    pub credits_left: Option<i64>,
    /// The limits that were at their end: "5-hour", "weekly".
    pub resets: Vec<String>,
    /// Another account that was usable right now (then a reset was
    /// almost certainly a waste).
    pub other_usable: Option<String>,
    /// The windows read right after a reset (null when not read).
    pub five_hour: Option<WindowView>,
    pub weekly: Option<WindowView>,
}

/// One settings file (or login session) of an editor in `swop ide --json`.
#[derive(Debug, Clone, Serialize)]
pub struct IdeEntryView {
    pub editor: String,
    /// `user` (this machine's editor), `remote` (a WSL / SSH server's
    /// machine settings) or `login` (the desktop app's environment).
    pub scope: String,
    pub settings: String,
    pub through_swop: bool,
    /// The codex the editor is pointed at, if any.
    pub value: Option<String>,
    /// Why the file could not be read, if it could not.
    pub problem: Option<String>,
}

/// `swop ide --json`.
#[derive(Debug, Clone, Serialize)]
pub struct IdeView {
    /// What `swop ide EDITOR` points editors at.
    pub shim: String,
    /// The real codex recorded for editors whose PATH lacks it.
    pub real_codex: Option<String>,
    pub editors: Vec<IdeEntryView>,
}

/// Pretty JSON of a view, for stdout.
/// A view as pretty JSON that is also safe on a terminal (`term::json`
/// escapes the control and bidi characters serde_json leaves raw).
pub fn to_string<T: Serialize>(view: &T) -> String {
    crate::base::term::json(&serde_json::to_value(view).expect("views serialise"))
}

/// A view as JSON on one line (NDJSON: `status --json --watch`), just as
/// safe on a terminal.
pub fn to_line<T: Serialize>(view: &T) -> String {
    crate::base::term::json_line(&serde_json::to_value(view).expect("views serialise"))
}

#[cfg(test)]
pub mod samples {
    //! One fully filled value of each view (no field left null or empty), so
    //! that every nested field name is present when compared with the README.
    use super::*;

    fn time() -> TimeView {
        TimeView::at(1_795_612_585)
    }
    fn window(secs: i64) -> WindowView {
        WindowView {
            used_percent: 10.0,
            window_seconds: Some(secs),
            reset_at: Some(time()),
        }
    }

    pub fn ide() -> IdeView {
        IdeView {
            shim: "/home/me/.swop/shim/codex".into(),
            real_codex: Some("/usr/local/bin/codex".into()),
            editors: vec![IdeEntryView {
                editor: "vscode".into(),
                scope: "user".into(),
                settings: "/home/me/.config/Code/User/settings.json".into(),
                through_swop: true,
                value: Some("/home/me/.swop/shim/codex".into()),
                problem: Some("not valid JSON".into()),
            }],
        }
    }

    pub fn status() -> StatusView {
        StatusView {
            picked: Some("work".into()),
            accounts: vec![AccountView {
                name: "work".into(),
                email: Some("w@example.com".into()),
                plan: Some("plus".into()),
                state: "ok".into(),
                session_expired: false,
                stale_seconds: Some(60),
                allowed: Some(true),
                limit_reached: Some(false),
                five_hour: Some(window(18000)),
                weekly: Some(window(604800)),
                warning: Some("usage server timed out".into()),
                picked: true,
                disabled: false,
                reserve: false,
                usable_at: Some(time()),
                live_sessions: 1,
                live: vec![LiveView {
                    pid: 42,
                    cwd: "/src".into(),
                    started_at: time(),
                }],
                source: Some("session".into()),
                taken_at: Some(time()),
                last_error: Some("HTTP 500".into()),
                next_try: Some(time()),
                reset_credits: Some(1),
                credits: Some(crate::usage::Credits {
                    has_credits: Some(true),
                    unlimited: Some(false),
                    balance: Some("5".into()),
                }),
                additional_limits: vec![crate::usage::NamedLimit {
                    name: "gpt-5-codex".into(),
                    metered_feature: Some("codex".into()),
                    limit_reached: Some(false),
                    five_hour: Some(crate::usage::Window {
                        used_percent: 1.0,
                        window_seconds: Some(18000),
                        reset_at: Some(1),
                    }),
                    weekly: Some(crate::usage::Window {
                        used_percent: 2.0,
                        window_seconds: Some(604800),
                        reset_at: Some(2),
                    }),
                }],
                limit_reached_type: Some("primary".into()),
            }],
            forecast: ForecastView {
                accounts: vec![AccountForecastView {
                    name: "work".into(),
                    weekly_percent_per_hour: 0.5,
                    runs_out_at: Some(time()),
                    weekly_reset_at: Some(time()),
                    runs_out_before_reset: true,
                }],
                pool: Some(PoolForecastView {
                    runs_out_at: Some(time()),
                    first_reset_at: Some(time()),
                    runs_out_before_reset: true,
                }),
            },
        }
    }

    pub fn simulate() -> SimulateView {
        SimulateView {
            strategies: vec![StrategyView {
                strategy: "drain".into(),
                blocked_hours: 1.5,
                wasted_percent: 7.4,
                switches_per_day: 2.0,
                work_done_percent: 99.0,
            }],
            recommended: "drain".into(),
            reason: "least blocked".into(),
            workload: "steady".into(),
            days: 28,
            seed: 1,
            source: "sample".into(),
            accounts: vec![SimAccountView {
                name: "a".into(),
                plan: "plus".into(),
                weekly_used_percent: 20.0,
                weekly_reset_in_seconds: 86400,
            }],
            left_out: vec![LeftOutView {
                name: "b".into(),
                reason: "no usage numbers cached".into(),
            }],
        }
    }

    pub fn pick() -> PickView {
        PickView {
            account: "work".into(),
            reason: "lowest weekly usage (10%)".into(),
            without_quota_data: false,
            passed_over: vec![PassedView {
                name: "home".into(),
                reason: "limit reached".into(),
            }],
            warnings: vec!["a warning".into()],
        }
    }

    pub fn blocked_error() -> ErrorView {
        let blocked = BlockedView {
            account: None,
            earliest: Some(EarliestView {
                name: "work".into(),
                at: time(),
            }),
            accounts: vec![BlockedAccountView {
                name: "work".into(),
                reason: "limit reached".into(),
                usable_at: Some(time()),
                reset_credits: Some(1),
            }],
        };
        let e = crate::base::error::Error::new("all accounts blocked")
            .help("wait")
            .details(serde_json::to_value(blocked).unwrap());
        ErrorView::from(&e)
    }

    pub fn list() -> Vec<ListEntryView> {
        vec![ListEntryView {
            name: "work".into(),
            email: Some("w@example.com".into()),
            plan: Some("plus".into()),
            home: "/home/u/.swop/accounts/work".into(),
        }]
    }

    pub fn doctor() -> DoctorView {
        DoctorView {
            ok: false,
            checks: vec![CheckView {
                level: "fail",
                check: "the shim dir is not on PATH".into(),
                fix: Some("run ./install.sh again".into()),
            }],
        }
    }

    pub fn redeem() -> RedeemView {
        RedeemView {
            account: "work".into(),
            outcome: "reset".into(),
            requested: true,
            credits_before: Some(2),
            credits_left: Some(1),
            resets: vec!["weekly".into()],
            other_usable: Some("home".into()),
            five_hour: Some(window(18000)),
            weekly: Some(window(604800)),
        }
    }

    pub fn ps() -> PsView {
        PsView {
            sessions: vec![SessionView {
                pid: 42,
                account: "work".into(),
                cwd: "/src".into(),
                started_at: time(),
                session_id: Some("019a-example".into()),
            }],
            servers: vec![ServerView {
                pid: 43,
                account: "work".into(),
                started_at: Some(time()),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The README's ```json blocks, each under the `swop ... --json` named on
    /// the nearest line above it.
    fn readme_examples() -> Vec<(String, Value)> {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## JSON output")
            .nth(1)
            .expect("README has a JSON output section");
        let section = section.split("\n## ").next().unwrap();
        let mut out = Vec::new();
        let mut label = String::new();
        let mut lines = section.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "```json" {
                let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
                let v: Value = serde_json::from_str(&body.join("\n"))
                    .unwrap_or_else(|e| panic!("README example for {label} is not JSON: {e}"));
                out.push((label.clone(), v));
            } else if let Some(start) = line.find("`swop ") {
                let rest = &line[start + 1..];
                label = rest[..rest.find('`').unwrap()].to_string();
            }
        }
        out
    }

    /// Compares the field names of two documents at every depth (arrays by
    /// their first element); returns the paths that differ.
    fn key_diff(path: &str, doc: &Value, view: &Value, out: &mut Vec<String>) {
        match (doc, view) {
            (Value::Object(d), Value::Object(v)) => {
                for k in d.keys().filter(|k| !v.contains_key(*k)) {
                    out.push(format!("{path}.{k} is in the README, not in the view"));
                }
                for k in v.keys().filter(|k| !d.contains_key(*k)) {
                    out.push(format!("{path}.{k} is in the view, not in the README"));
                }
                for (k, dv) in d {
                    if let Some(vv) = v.get(k) {
                        key_diff(&format!("{path}.{k}"), dv, vv, out);
                    }
                }
            }
            (Value::Array(d), Value::Array(v)) => match (d.first(), v.first()) {
                (Some(d), Some(v)) => key_diff(&format!("{path}[0]"), d, v, out),
                (None, Some(v)) if v.is_object() => {
                    out.push(format!("{path}: the README shows an empty array"))
                }
                _ => {}
            },
            (Value::Null, v) if v.is_object() || v.is_array() => {
                out.push(format!("{path}: the README shows null, not the shape"))
            }
            (Value::Object(_), _) | (_, Value::Object(_)) => out.push(format!(
                "{path}: the README and the view disagree on the shape"
            )),
            _ => {}
        }
    }

    #[test]
    fn readme_json_section_names_exactly_the_view_fields() {
        let views: Vec<(&str, Value)> = vec![
            (
                "swop status --json",
                serde_json::to_value(samples::status()).unwrap(),
            ),
            (
                "swop pick --json",
                serde_json::to_value(samples::pick()).unwrap(),
            ),
            (
                "swop pick --json (all blocked)",
                serde_json::to_value(samples::blocked_error()).unwrap(),
            ),
            (
                "swop list --json",
                serde_json::to_value(samples::list()).unwrap(),
            ),
            (
                "swop doctor --json",
                serde_json::to_value(samples::doctor()).unwrap(),
            ),
            (
                "swop ps --json",
                serde_json::to_value(samples::ps()).unwrap(),
            ),
            (
                "swop redeem --json",
                serde_json::to_value(samples::redeem()).unwrap(),
            ),
            (
                "swop simulate --json",
                serde_json::to_value(samples::simulate()).unwrap(),
            ),
            (
                "swop ide --json",
                serde_json::to_value(samples::ide()).unwrap(),
            ),
        ];
        let examples = readme_examples();
        let mut problems = Vec::new();
        for (label, view) in &views {
            match examples.iter().find(|(l, _)| l == label) {
                Some((_, doc)) => key_diff(label, doc, view, &mut problems),
                None => problems.push(format!("the README has no ```json example under `{label}`")),
            }
        }
        for (label, _) in &examples {
            if !views.iter().any(|(l, _)| l == label) {
                problems.push(format!("README example `{label}` matches no view type"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn key_diff_catches_a_renamed_nested_field() {
        let doc = serde_json::json!({"a": [{"b": 1, "c": {"d": 2}}]});
        let view = serde_json::json!({"a": [{"b": 1, "c": {"e": 2}}]});
        let mut out = Vec::new();
        key_diff("x", &doc, &view, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("x.a[0].c.d"), "{out:?}");
    }

    #[test]
    fn empty_options_are_null_and_times_carry_both_forms() {
        let w = WindowView::from(&crate::usage::Window {
            used_percent: 12.5,
            window_seconds: None,
            reset_at: Some(0),
        });
        let v = serde_json::to_value(w).unwrap();
        assert_eq!(v["window_seconds"], Value::Null);
        assert_eq!(v["reset_at"]["unix"], 0);
        assert_eq!(v["reset_at"]["rfc3339"], "1970-01-01T00:00:00Z");
        assert_eq!(v["used_percent"], 12.5);
    }

    #[test]
    fn pick_view_keeps_the_choice() {
        use crate::select::{Basis, Passed, Pick, Reason, Unusable};
        let c = Choice {
            name: "a".into(),
            why: Pick {
                basis: Basis::LowestWeekly { weekly: None },
                stale_for: None,
                blind: true,
            },
            passed: vec![Passed::Unusable(Unusable {
                name: "b".into(),
                reason: Reason::LimitReached,
                until: None,
                now: 0,
            })],
            without_data: true,
            warnings: vec![],
        };
        let v = serde_json::to_value(PickView::from(&c)).unwrap();
        assert_eq!(v["account"], "a");
        assert_eq!(v["passed_over"][0]["name"], "b");
        assert_eq!(v["passed_over"][0]["reason"], "limit reached");
        assert_eq!(v["without_quota_data"], true);
    }

    #[test]
    fn blocked_view_has_a_null_account_and_the_earliest_reset() {
        use crate::select::{Comeback, Reason, Unusable};
        let out = |name: &str, until| Unusable {
            name: name.into(),
            reason: Reason::LimitReached,
            until,
            now: 0,
        };
        let b = Blocked {
            accounts: vec![out("a", Some(100)), out("b", None)],
            earliest: Some(Comeback {
                name: "a".into(),
                at: 100,
            }),
            redeemable: vec![("b".into(), 2)],
            has_reserve: false,
        };
        let v = serde_json::to_value(BlockedView::from(&b)).unwrap();
        assert_eq!(v["account"], Value::Null);
        assert_eq!(v["earliest"]["name"], "a");
        assert_eq!(v["earliest"]["at"]["unix"], 100);
        assert_eq!(v["accounts"][1]["usable_at"], Value::Null);
        assert_eq!(v["accounts"][0]["reset_credits"], Value::Null);
        assert_eq!(v["accounts"][1]["reset_credits"], 2);
    }

    #[test]
    fn error_view_merges_details_without_overriding_the_error() {
        let e = crate::base::error::Error::new("boom")
            .code(5)
            .details(serde_json::json!({"account": null, "extra": 1}));
        let v = serde_json::to_value(ErrorView::from(&e)).unwrap();
        assert_eq!(v["error"], "boom");
        assert_eq!(v["exit_code"], 5);
        assert_eq!(v["help"], Value::Null);
        assert_eq!(v["extra"], 1);
        let plain =
            serde_json::to_value(ErrorView::from(&crate::base::error::Error::new("x"))).unwrap();
        assert_eq!(plain.as_object().unwrap().len(), 3, "{plain}");
    }
}
