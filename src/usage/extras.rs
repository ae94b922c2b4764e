//! What the usage sources report besides the two main windows: reset
//! credits, named (additional) limits, credits and which limit was reached.
//!
//! Everything here is best effort: a field of an unknown shape is skipped,
//! never an error, so a new backend field can never break a launch.

use super::{classify, Usage, Window};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A limit with a name (`additional_rate_limits[]`), e.g. one model's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedLimit {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_feature: Option<String>,
    #[serde(default)]
    pub limit_reached: Option<bool>,
    #[serde(default)]
    pub five_hour: Option<Window>,
    #[serde(default)]
    pub weekly: Option<Window>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub has_credits: Option<bool>,
    pub unlimited: Option<bool>,
    /// As the backend sends it (a decimal string).
    pub balance: Option<String>,
}

/// Fills the extra fields of `usage` from a `/wham/usage` body.
pub(super) fn apply_wham(usage: &mut Usage, top: &Map<String, Value>, now: i64) {
    usage.reset_credits = top
        .get("rate_limit_reset_credits")
        .and_then(|r| r.get("available_count"))
        .and_then(Value::as_i64);
    usage.credits = credits(top.get("credits"));
    usage.reached_type = reached_type(top.get("rate_limit_reached_type"));
    usage.additional = top
        .get("additional_rate_limits")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|l| named_limit(l, now)).collect())
        .unwrap_or_default();
}

/// `{"kind": "..."}` (wham) or a plain string (app-server, rollouts).
pub(super) fn reached_type(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("kind").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

pub(super) fn credits(v: Option<&Value>) -> Option<Credits> {
    let o = v?.as_object()?;
    let balance = match o.get("balance") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(Credits {
        has_credits: o.get("has_credits").and_then(Value::as_bool),
        unlimited: o.get("unlimited").and_then(Value::as_bool),
        balance,
    })
}

/// A wham-shaped window, leniently: None for anything it cannot read.
fn lenient_window(v: Option<&Value>, now: i64) -> Option<Window> {
    let o = v?.as_object()?;
    let reset_at = o.get("reset_at").and_then(Value::as_i64).or_else(|| {
        o.get("reset_after_seconds")
            .and_then(Value::as_i64)
            .map(|s| now + s)
    });
    Some(Window {
        used_percent: o.get("used_percent")?.as_f64()?,
        window_seconds: o.get("limit_window_seconds").and_then(Value::as_i64),
        reset_at,
    })
}

fn named_limit(v: &Value, now: i64) -> Option<NamedLimit> {
    let o = v.as_object()?;
    let name = o
        .get("limit_name")
        .or_else(|| o.get("metered_feature"))
        .and_then(Value::as_str)?
        .to_string();
    let rl = o.get("rate_limit").and_then(Value::as_object);
    let (five, week) = match rl {
        Some(rl) => classify(
            lenient_window(rl.get("primary_window"), now),
            lenient_window(rl.get("secondary_window"), now),
        ),
        None => (None, None),
    };
    Some(NamedLimit {
        name,
        metered_feature: o
            .get("metered_feature")
            .and_then(Value::as_str)
            .map(str::to_string),
        limit_reached: rl
            .and_then(|r| r.get("limit_reached"))
            .and_then(Value::as_bool),
        five_hour: five,
        weekly: week,
    })
}

#[cfg(test)]
mod tests {
    use crate::usage::parse_wham;

    #[test]
    fn extras_are_read_where_present() {
        let body = r#"{"plan_type":"pro","rate_limit":null,
            "rate_limit_reset_credits":{"available_count":2},
            "credits":{"has_credits":true,"unlimited":false,"balance":"12.5"},
            "rate_limit_reached_type":{"kind":"primary"},
            "additional_rate_limits":[
              {"limit_name":"gpt-6-pro","metered_feature":"pro_model",
               "rate_limit":{"limit_reached":false,
                 "primary_window":{"used_percent":40,"limit_window_seconds":18000,"reset_after_seconds":60}}},
              {"limit_name":"odd","rate_limit":"weird"},
              7, {"no":"name"}]}"#;
        let u = parse_wham(body, 1000).unwrap();
        assert_eq!(u.reset_credits, Some(2));
        let c = u.credits.unwrap();
        assert_eq!(c.has_credits, Some(true));
        assert_eq!(c.balance.as_deref(), Some("12.5"));
        assert_eq!(u.reached_type.as_deref(), Some("primary"));
        assert_eq!(u.additional.len(), 2, "the named ones, odd shapes included");
        let pro = &u.additional[0];
        assert_eq!(pro.name, "gpt-6-pro");
        assert_eq!(pro.five_hour.as_ref().unwrap().used_percent, 40.0);
        assert_eq!(pro.five_hour.as_ref().unwrap().reset_at, Some(1060));
        assert!(u.additional[1].five_hour.is_none());
    }

    #[test]
    fn unknown_shapes_of_extras_never_fail() {
        for extra in [
            r#""rate_limit_reset_credits":[1]"#,
            r#""credits":"lots""#,
            r#""rate_limit_reached_type":42"#,
            r#""additional_rate_limits":{"a":1}"#,
        ] {
            let body = format!(r#"{{"plan_type":"plus",{extra}}}"#);
            let u = parse_wham(&body, 0).unwrap_or_else(|e| panic!("{extra}: {e}"));
            assert_eq!(u.plan.as_deref(), Some("plus"));
        }
    }
}
