//! The usage model and its parsers: the `/wham/usage` JSON and codex
//! app-server's `account/rateLimits/read` result both become a [`Usage`].
//!
//! Parsing is lenient (null windows, null `rate_limit`, unknown plans and
//! unknown fields are fine) but not blind: a body that is not an object with
//! `plan_type` or `rate_limit` is "the wrong shape", and errors are fixed
//! strings, never an echo of the body.
//!
//! Unit `usage/`: the model (here), its sources (`fetch`: wham HTTP and codex
//! app-server), the `cache`, `gather` (one parallel round for all
//! accounts), and spending a limit-reset credit (`reset_credit`). Never
//! picks an account and never prints: warnings travel back as values.

pub mod advice;
pub mod background;
pub mod cache;
pub mod extras;
pub mod fetch;
pub mod gather;
pub mod history;
pub mod learn;
pub mod reset_credit;
pub mod routing;

pub use extras::{Credits, NamedLimit};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Windows up to this long are the short (5-hour) window.
const SHORT_WINDOW_MAX_SECS: i64 = 24 * 3600;

/// The sane ranges of the server's numbers. A used percentage is never
/// negative and never above this (a little over 100 is possible, 1e308 is
/// not); a window is never longer, and a reset never further from now, than
/// [`MAX_SPAN_SECS`]. Anything else is treated as missing, with a warning, so
/// that it can neither win a selection nor wrap a clock.
pub const MAX_PERCENT: f64 = 1000.0;
pub const MAX_SPAN_SECS: i64 = 400 * 86400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub plan: Option<String>,
    pub allowed: Option<bool>,
    pub limit_reached: Option<bool>,
    pub five_hour: Option<Window>,
    pub weekly: Option<Window>,
    /// What [`Usage::checked`] dropped as out of range (fixed phrases).
    #[serde(skip)]
    pub ignored: Vec<&'static str>,
    /// `rate_limit_reset_credits.available_count`: resets the person may
    /// still spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_credits: Option<i64>,
    /// `additional_rate_limits`: limits with a name (e.g. per model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<NamedLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<Credits>,
    /// Which limit was reached, as the backend names it (e.g. "primary").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub used_percent: f64,
    pub window_seconds: Option<i64>,
    /// Unix seconds.
    pub reset_at: Option<i64>,
}

impl Usage {
    pub fn weekly_used(&self) -> Option<f64> {
        self.weekly.as_ref().map(|w| w.used_percent)
    }
    pub fn five_hour_used(&self) -> Option<f64> {
        self.five_hour.as_ref().map(|w| w.used_percent)
    }
    pub fn weekly_reset(&self) -> Option<i64> {
        self.weekly.as_ref().and_then(|w| w.reset_at)
    }

    /// The same usage with every out-of-range number removed: an insane
    /// percentage makes the whole answer unusable (an error, so the account
    /// counts as having no data and cannot win); an insane window length or
    /// reset time becomes unknown and is listed in `ignored`.
    pub fn checked(mut self, now: i64) -> Result<Usage, &'static str> {
        let mut ignored = Vec::new();
        for slot in [&mut self.five_hour, &mut self.weekly] {
            let Some(w) = slot.as_mut() else { continue };
            if !(0.0..=MAX_PERCENT).contains(&w.used_percent) {
                return Err("the usage server sent an out-of-range used_percent");
            }
            if w.window_seconds
                .is_some_and(|s| !(1..=MAX_SPAN_SECS).contains(&s))
            {
                ignored.push("window length");
                w.window_seconds = None;
            }
            if w.reset_at
                .is_some_and(|t| t.abs_diff(now) > MAX_SPAN_SECS as u64)
            {
                ignored.push("reset time");
                w.reset_at = None;
            }
        }
        ignored.dedup();
        self.ignored = ignored;
        Ok(self)
    }

    /// A warning for what [`Usage::checked`] dropped, if anything.
    pub fn ignored_warning(&self) -> Option<String> {
        (!self.ignored.is_empty()).then(|| {
            format!(
                "the usage server sent an out-of-range {}; treated as missing",
                self.ignored.join(", ")
            )
        })
    }

    /// Exhausted by the backend's own flags.
    pub fn is_limited(&self) -> bool {
        self.limit_reached == Some(true) || self.allowed == Some(false)
    }
}

/// Puts two optional windows in their slots by their length: the short one
/// is the 5-hour window, the long one the weekly. Without lengths the
/// backend's order (primary = 5-hour, secondary = weekly) holds.
fn classify(
    primary: Option<Window>,
    secondary: Option<Window>,
) -> (Option<Window>, Option<Window>) {
    let is_short = |w: &Window| w.window_seconds.map(|s| s <= SHORT_WINDOW_MAX_SECS);
    let mut five = None;
    let mut week = None;
    for (w, default_short) in [(primary, true), (secondary, false)] {
        let Some(w) = w else { continue };
        if is_short(&w).unwrap_or(default_short) {
            if five.is_none() {
                five = Some(w);
            } else {
                week = week.or(Some(w));
            }
        } else if week.is_none() {
            week = Some(w);
        } else {
            five = five.or(Some(w));
        }
    }
    (five, week)
}

fn num(v: Option<&Value>) -> Result<Option<f64>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err("unexpected response shape (a number field has another type)"),
    }
}

fn int(v: Option<&Value>) -> Result<Option<i64>, &'static str> {
    Ok(num(v)?.map(|f| f as i64))
}

fn boolean(v: Option<&Value>) -> Result<Option<bool>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err("unexpected response shape (a flag is not true/false)"),
    }
}

fn object(v: Option<&Value>) -> Result<Option<&serde_json::Map<String, Value>>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err("unexpected response shape (an object field has another type)"),
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

/// Parses the body of `GET /wham/usage`. `now` resolves `reset_after_seconds`
/// when `reset_at` is missing.
pub fn parse_wham(body: &str, now: i64) -> Result<Usage, &'static str> {
    if body.trim().is_empty() {
        return Err("empty response body");
    }
    let v: Value = serde_json::from_str(body).map_err(|_| "response is not JSON")?;
    let Value::Object(top) = &v else {
        return Err("unexpected response shape (not a JSON object)");
    };
    if !top.contains_key("plan_type") && !top.contains_key("rate_limit") {
        return Err("unexpected response shape (no plan_type or rate_limit)");
    }
    let window = |w: Option<&Value>| -> Result<Option<Window>, &'static str> {
        let Some(o) = object(w)? else { return Ok(None) };
        let Some(used) = num(o.get("used_percent"))? else {
            return Ok(None);
        };
        let reset_at = match int(o.get("reset_at"))? {
            Some(t) => Some(t),
            // Saturating: 1e300 seconds must not wrap into a past year
            // (`checked` then drops the far-off reset with a warning).
            None => int(o.get("reset_after_seconds"))?.map(|s| now.saturating_add(s)),
        };
        Ok(Some(Window {
            used_percent: used,
            window_seconds: int(o.get("limit_window_seconds"))?,
            reset_at,
        }))
    };
    let mut usage = Usage {
        plan: string(top.get("plan_type")),
        ..Usage::default()
    };
    if let Some(rl) = object(top.get("rate_limit"))? {
        usage.allowed = boolean(rl.get("allowed"))?;
        usage.limit_reached = boolean(rl.get("limit_reached"))?;
        let (five, week) = classify(
            window(rl.get("primary_window"))?,
            window(rl.get("secondary_window"))?,
        );
        usage.five_hour = five;
        usage.weekly = week;
    }
    extras::apply_wham(&mut usage, top, now);
    usage.checked(now)
}

/// Parses the `result` of app-server's `account/rateLimits/read`.
pub fn parse_app_server(result: &Value, now: i64) -> Result<Usage, &'static str> {
    let rl = result
        .get("rateLimits")
        .and_then(Value::as_object)
        .ok_or("unexpected app-server reply (no rateLimits)")?;
    let window = |w: Option<&Value>| -> Result<Option<Window>, &'static str> {
        let Some(o) = object(w)? else { return Ok(None) };
        let Some(used) = num(o.get("usedPercent"))? else {
            return Ok(None);
        };
        Ok(Some(Window {
            used_percent: used,
            window_seconds: int(o.get("windowDurationMins"))?.map(|m| m.saturating_mul(60)),
            reset_at: int(o.get("resetsAt"))?,
        }))
    };
    let (five, week) = classify(window(rl.get("primary"))?, window(rl.get("secondary"))?);
    let mut u = with_reached(
        from_windows(string(rl.get("planType")), five, week),
        extras::reached_type(rl.get("rateLimitReachedType")),
        extras::credits(rl.get("credits")),
    );
    u.reset_credits = result
        .pointer("/rateLimitResetCredits/availableCount")
        .and_then(Value::as_i64);
    u.checked(now)
}

/// A usage whose limit flags come from its windows: a window at 100% (or a
/// named reached limit) means reached. For the sources that send no
/// allowed/limit_reached of their own (app-server, turn headers, rollouts);
/// then the same range checks as every answer.
fn from_windows(plan: Option<String>, five: Option<Window>, week: Option<Window>) -> Usage {
    let exhausted = [&five, &week]
        .iter()
        .any(|w| w.as_ref().is_some_and(|w| w.used_percent >= 100.0));
    Usage {
        plan,
        allowed: Some(!exhausted),
        limit_reached: Some(exhausted),
        five_hour: five,
        weekly: week,
        ..Usage::default()
    }
}

/// Marks `u` reached when the source named a reached limit.
fn with_reached(mut u: Usage, reached_type: Option<String>, credits: Option<Credits>) -> Usage {
    if reached_type.is_some() {
        u.allowed = Some(false);
        u.limit_reached = Some(true);
    }
    u.reached_type = reached_type;
    u.credits = credits;
    u
}

/// The `x-codex-*` rate-limit headers of a model turn (`get` looks one up by
/// its lowercase name); None when they carry no window. `now` resolves
/// `reset-after-seconds` when `reset-at` is missing.
pub fn parse_codex_headers<'a>(get: impl Fn(&str) -> Option<&'a str>, now: i64) -> Option<Usage> {
    let num = |name: String| get(&name).and_then(|v| v.trim().parse::<f64>().ok());
    let window = |which: &str| -> Option<Window> {
        let used = num(format!("x-codex-{which}-used-percent"))?;
        let reset_at = num(format!("x-codex-{which}-reset-at"))
            .map(|t| t as i64)
            .or_else(|| {
                num(format!("x-codex-{which}-reset-after-seconds")).map(|s| now + s as i64)
            });
        Some(Window {
            used_percent: used,
            window_seconds: num(format!("x-codex-{which}-window-minutes")).map(|m| m as i64 * 60),
            reset_at,
        })
    };
    let (five, week) = classify(window("primary"), window("secondary"));
    if five.is_none() && week.is_none() {
        return None;
    }
    // The same range checks as the usage endpoint's answer: a header value
    // out of range never wins a pick.
    from_windows(get("x-codex-plan-type").map(str::to_string), five, week)
        .checked(now)
        .ok()
}

/// A `rate_limits` object that codex wrote into a session rollout
/// (`event_msg` / `token_count`): `primary`/`secondary` with `used_percent`,
/// `window_minutes`, `resets_at`. It carries no allowed/limit-reached flags:
/// a window at 100% or a non-null `rate_limit_reached_type` means reached.
/// None when it holds no window at all (nothing worth learning).
pub fn parse_session(rl: &Value, now: i64) -> Option<Usage> {
    let rl = rl.as_object()?;
    let window = |w: Option<&Value>| -> Option<Window> {
        let o = w?.as_object()?;
        Some(Window {
            used_percent: o.get("used_percent")?.as_f64()?,
            window_seconds: o
                .get("window_minutes")
                .and_then(Value::as_i64)
                .map(|m| m * 60),
            reset_at: o.get("resets_at").and_then(Value::as_i64),
        })
    };
    let (five, week) = classify(window(rl.get("primary")), window(rl.get("secondary")));
    if five.is_none() && week.is_none() {
        return None;
    }
    with_reached(
        from_windows(string(rl.get("plan_type")), five, week),
        extras::reached_type(rl.get("rate_limit_reached_type")),
        extras::credits(rl.get("credits")),
    )
    .checked(now)
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn usage_parsers_never_panic(
            text in ".*",
            used in proptest::num::f64::ANY,
            secs in proptest::num::i64::ANY,
            now in proptest::num::i64::ANY,
        ) {
            let _ = parse_wham(&text, now);
            let w = serde_json::json!({"used_percent": used, "reset_after_seconds": secs,
                "limit_window_seconds": secs, "reset_at": secs});
            let body = serde_json::json!({"plan_type": text, "rate_limit":
                {"primary_window": w, "secondary_window": w}});
            if let Ok(u) = parse_wham(&body.to_string(), now) {
                for w in [&u.five_hour, &u.weekly].into_iter().flatten() {
                    proptest::prop_assert!((0.0..=MAX_PERCENT).contains(&w.used_percent));
                }
            }
            let a = serde_json::json!({"rateLimits": {"primary": {"usedPercent": used,
                "windowDurationMins": secs, "resetsAt": secs}, "planType": text}});
            let _ = parse_app_server(&a, now);
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                let _ = parse_app_server(&v, now);
            }
        }
    }

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/usage-samples");

    fn sample(name: &str) -> Usage {
        let body = std::fs::read_to_string(format!("{SAMPLES}/{name}")).unwrap();
        parse_wham(&body, 1_795_600_000).unwrap()
    }

    #[test]
    fn every_sample_parses() {
        let mut n = 0;
        for entry in std::fs::read_dir(SAMPLES).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read_to_string(&p).unwrap();
                parse_wham(&body, 0).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                n += 1;
            }
        }
        assert!(n >= 5, "expected the shared samples, found {n}");
    }

    #[test]
    fn plus_ok_windows_classified() {
        let u = sample("plus-ok.json");
        assert_eq!(u.plan.as_deref(), Some("plus"));
        assert_eq!(u.five_hour_used(), Some(12.0));
        assert_eq!(u.weekly_used(), Some(41.0));
        assert_eq!(u.weekly_reset(), Some(1795910400));
        assert!(!u.is_limited());
    }

    #[test]
    fn null_rate_limit_and_null_window() {
        let u = sample("free-no-windows.json");
        assert_eq!(u.plan.as_deref(), Some("free"));
        assert!(u.weekly.is_none() && u.five_hour.is_none());
        let u = sample("unknown-plan-extra-fields.json");
        assert_eq!(u.plan.as_deref(), Some("prolite"));
        assert!(u.five_hour.is_none());
        assert_eq!(u.weekly_used(), Some(7.0));
    }

    #[test]
    fn exhausted_samples_are_limited() {
        assert!(sample("pro-weekly-exhausted.json").is_limited());
        let t = sample("team-5h-exhausted.json");
        assert!(t.is_limited());
        assert_eq!(t.five_hour_used(), Some(100.0));
    }

    #[test]
    fn windows_swapped_are_classified_by_length() {
        let body = r#"{"plan_type":"plus","rate_limit":{
            "primary_window":{"used_percent":50,"limit_window_seconds":604800},
            "secondary_window":{"used_percent":5,"limit_window_seconds":18000,"reset_after_seconds":10}}}"#;
        let u = parse_wham(body, 100).unwrap();
        assert_eq!(u.weekly_used(), Some(50.0));
        assert_eq!(u.five_hour_used(), Some(5.0));
        assert_eq!(u.five_hour.unwrap().reset_at, Some(110));
    }

    #[test]
    fn bad_bodies_have_fixed_messages() {
        assert_eq!(parse_wham("", 0).unwrap_err(), "empty response body");
        assert_eq!(
            parse_wham("<html>502</html>", 0).unwrap_err(),
            "response is not JSON"
        );
        assert!(parse_wham("[1,2]", 0).unwrap_err().contains("shape"));
        assert!(parse_wham(r#"{"hello":"world"}"#, 0)
            .unwrap_err()
            .contains("shape"));
        assert!(parse_wham(r#"{"plan_type":"plus","rate_limit":"nope"}"#, 0)
            .unwrap_err()
            .contains("shape"));
        assert!(parse_wham(
            r#"{"plan_type":"plus","rate_limit":{"primary_window":{"used_percent":"9"}}}"#,
            0
        )
        .unwrap_err()
        .contains("shape"));
    }

    #[test]
    fn out_of_range_numbers_are_missing_and_never_wrap() {
        let now = 1_795_600_000;
        let body = |used: &str, extra: &str| {
            format!(
                r#"{{"plan_type":"plus","rate_limit":{{"secondary_window":{{"used_percent":{used},"limit_window_seconds":604800{extra}}}}}}}"#
            )
        };
        for used in ["-50", "1e308", "1001"] {
            let e = parse_wham(&body(used, ""), now).unwrap_err();
            assert!(e.contains("out-of-range used_percent"), "{used}: {e}");
        }
        for extra in [
            r#","reset_after_seconds":1e300"#,
            r#","reset_after_seconds":9.2e18"#,
            r#","reset_at":253402300800"#,
            r#","reset_at":-5"#,
        ] {
            let u = parse_wham(&body("10", extra), now).unwrap();
            assert_eq!(u.weekly_used(), Some(10.0), "{extra}");
            assert_eq!(u.weekly_reset(), None, "{extra}");
            assert!(
                u.ignored_warning().unwrap().contains("reset time"),
                "{extra}"
            );
        }
        let u = parse_wham(&body("10", r#","reset_after_seconds":3600"#), now).unwrap();
        assert_eq!(u.weekly_reset(), Some(now + 3600));
        assert!(u.ignored_warning().is_none());
    }

    #[test]
    fn app_server_result() {
        let v = serde_json::json!({"rateLimits": {
            "primary": {"usedPercent": 10, "windowDurationMins": 300, "resetsAt": 100},
            "secondary": {"usedPercent": 33, "windowDurationMins": 10080, "resetsAt": 200},
            "planType": "plus"}});
        let u = parse_app_server(&v, 150).unwrap();
        assert_eq!(u.weekly_used(), Some(33.0));
        assert_eq!(u.five_hour_used(), Some(10.0));
        assert_eq!(u.plan.as_deref(), Some("plus"));
        assert!(!u.is_limited());
        assert_eq!(u.reset_credits, None);
        let v = serde_json::json!({"rateLimits": {"primary": null},
            "rateLimitResetCredits": {"availableCount": 2, "credits": null}});
        assert_eq!(parse_app_server(&v, 150).unwrap().reset_credits, Some(2));
        let v = serde_json::json!({"rateLimits": {"primary": null,
            "secondary": {"usedPercent": 100, "windowDurationMins": 10080, "resetsAt": 200}}});
        assert!(parse_app_server(&v, 150).unwrap().is_limited());
    }

    #[test]
    fn codex_headers_of_a_turn() {
        let h = [
            ("x-codex-primary-used-percent", "12.5"),
            ("x-codex-primary-window-minutes", "300"),
            ("x-codex-primary-reset-after-seconds", "60"),
            ("x-codex-secondary-used-percent", "100"),
            ("x-codex-secondary-window-minutes", "10080"),
            ("x-codex-secondary-reset-at", "1795977098"),
            ("x-codex-plan-type", "plus"),
        ];
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        let now = 1_795_900_000;
        let u = parse_codex_headers(get, now).unwrap();
        assert_eq!(u.five_hour_used(), Some(12.5));
        assert_eq!(u.five_hour.as_ref().unwrap().reset_at, Some(now + 60));
        assert_eq!(u.weekly_used(), Some(100.0));
        assert_eq!(u.weekly_reset(), Some(1795977098));
        assert_eq!(u.plan.as_deref(), Some("plus"));
        assert!(u.is_limited());
        assert!(parse_codex_headers(|_| None, 0).is_none());
        let junk = |n: &str| (n == "x-codex-primary-used-percent").then_some("lots");
        assert!(parse_codex_headers(junk, 0).is_none());
    }
}
