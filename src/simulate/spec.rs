//! The accounts a simulation starts from: `--accounts` text, the built-in
//! sample of three (named `sample-a`...: never mistaken for yours), or the
//! user's own accounts with their last cached numbers (no network), with
//! the ones that have none named. Reset times are offsets from the simulation's
//! start, so a spec means the same thing on every run.

use crate::base::error::{Error, Result};
use crate::base::paths::Paths;
use crate::usage::cache::{self, Loaded};

/// Where the sample and `--accounts` simulations start: Monday
/// 2026-01-05 00:00 UTC (a fixed instant, never the wall clock).
pub const FIXED_START: i64 = 1_767_571_200;

#[derive(Debug, Clone, PartialEq)]
pub struct AccountSpec {
    pub name: String,
    pub plan: String,
    pub weekly_used: f64,
    /// Seconds from the start to the weekly reset.
    pub weekly_reset_in: i64,
    pub five_hour_used: f64,
    /// Seconds from the start to the 5-hour reset (None: the window is idle).
    pub five_hour_reset_in: Option<i64>,
}

const WEEK: i64 = 7 * 86_400;

/// Three accounts with staggered resets.
pub fn sample() -> Vec<AccountSpec> {
    let a = |name: &str, plan: &str, used: f64, days: f64| AccountSpec {
        name: name.into(),
        plan: plan.into(),
        weekly_used: used,
        weekly_reset_in: (days * 86_400.0) as i64,
        five_hour_used: 0.0,
        five_hour_reset_in: None,
    };
    vec![
        a("sample-a", "team", 55.0, 1.0),
        a("sample-b", "plus", 20.0, 3.5),
        a("sample-c", "plus", 5.0, 6.0),
    ]
}

fn bad(item: &str, why: &str) -> Error {
    Error::usage(format!("simulate: bad account '{item}': {why}"))
        .help("write --accounts [NAME=]PLAN[:WEEKLY%[@RESET_IN]],... e.g. plus:60@1d,pro:20@6d")
}

/// `[NAME=]PLAN[:WEEKLY%[@RESET_IN]]`, comma-separated. A missing reset is
/// staggered: account i of n resets at (i+1)/n of a week.
pub fn parse(text: &str) -> Result<Vec<AccountSpec>> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(bad(text, "empty entry"));
    }
    let n = items.len() as i64;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (name, rest) = match item.split_once('=') {
            Some((n, r)) => (n.to_string(), r),
            None => (format!("a{}", i + 1), *item),
        };
        crate::accounts::validate_name(&name).map_err(|e| bad(item, &e.message))?;
        let (plan, rest) = match rest.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (rest, None),
        };
        if plan.is_empty() || !plan.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(item, "the plan must be a word such as plus, pro, team"));
        }
        let (used, reset) = match rest.map(|r| r.split_once('@').unwrap_or((r, ""))) {
            Some((u, r)) => (Some(u), Some(r).filter(|r| !r.is_empty())),
            None => (None, None),
        };
        let used = match used {
            Some(u) => u
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|u| (0.0..=100.0).contains(u))
                .ok_or_else(|| bad(item, "the weekly used% must be a number from 0 to 100"))?,
            None => 0.0,
        };
        let reset_in = match reset {
            Some(r) => {
                let d = humantime::parse_duration(r)
                    .map_err(|_| bad(item, "the reset must be a duration such as 1d, 36h"))?;
                let s = d.as_secs() as i64;
                if s == 0 || s > WEEK {
                    return Err(bad(item, "the reset must be within a week"));
                }
                s
            }
            None => WEEK * (i as i64 + 1) / n,
        };
        out.push(AccountSpec {
            name,
            plan: plan.to_ascii_lowercase(),
            weekly_used: used,
            weekly_reset_in: reset_in,
            five_hour_used: 0.0,
            five_hour_reset_in: None,
        });
    }
    Ok(out)
}

/// Your accounts as a simulation starts from them: those with cached
/// numbers, and the others with why they were left out.
pub struct Yours {
    pub accounts: Vec<AccountSpec>,
    pub left_out: Vec<(String, &'static str)>,
}

/// The user's accounts with their last cached numbers, as of `now`; None
/// when there are no accounts or none has numbers.
pub fn from_cache(paths: &Paths, now: i64) -> Option<Yours> {
    let accounts = crate::accounts::list(paths).ok()?;
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        let entry = match cache::load(paths, &a.name) {
            Loaded::Found(e) => e,
            _ => {
                left_out.push((a.name.clone(), "no usage numbers cached yet"));
                continue;
            }
        };
        let Some(u) = entry.usage else {
            left_out.push((
                a.name.clone(),
                if entry.api_key {
                    "an API-key login has no usage windows"
                } else {
                    "no usage numbers cached yet"
                },
            ));
            continue;
        };
        let reset_in = u
            .weekly_reset()
            .map(|r| r - now)
            .filter(|s| (1..=WEEK).contains(s))
            .unwrap_or(WEEK * (i as i64 + 1) / accounts.len() as i64);
        let five = u.five_hour.as_ref();
        let five_reset_in = five
            .and_then(|w| w.reset_at)
            .map(|r| r - now)
            .filter(|s| *s > 0);
        out.push(AccountSpec {
            name: a.name.clone(),
            plan: u.plan.clone().unwrap_or_else(|| "plus".into()),
            // A window that has reset since the fetch is empty now.
            weekly_used: if u.weekly_reset().is_some_and(|r| r <= now) {
                0.0
            } else {
                u.weekly_used().unwrap_or(0.0).clamp(0.0, 100.0)
            },
            weekly_reset_in: reset_in,
            five_hour_used: match five_reset_in {
                Some(_) => five.map_or(0.0, |w| w.used_percent.clamp(0.0, 100.0)),
                None => 0.0,
            },
            five_hour_reset_in: five_reset_in,
        });
    }
    (!out.is_empty()).then_some(Yours {
        accounts: out,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_plans_usage_and_resets() {
        let a = parse("plus:60@1d, big=pro:20@6d,team").unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!((a[0].name.as_str(), a[0].plan.as_str()), ("a1", "plus"));
        assert_eq!((a[0].weekly_used, a[0].weekly_reset_in), (60.0, 86_400));
        assert_eq!(
            (a[1].name.as_str(), a[1].weekly_reset_in),
            ("big", 6 * 86_400)
        );
        // Unset reset: staggered, the third of three resets in a week.
        assert_eq!((a[2].weekly_used, a[2].weekly_reset_in), (0.0, WEEK));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "",
            "plus,,pro",
            "plus:101",
            "plus:x",
            "plus:5@8d",
            "p/x",
            "-a=plus",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
