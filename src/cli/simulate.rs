//! `swop simulate`: chooses the accounts to simulate (`--accounts`, else the
//! user's own with their last cached numbers, else the sample), runs every
//! strategy through `crate::simulate`, and prints the table or JSON with a
//! recommendation. Reads the usage cache only: no network, no codex.

use crate::base::error::Result;
use crate::base::paths::Paths;
use crate::cli::views::{SimAccountView, SimulateView, StrategyView};
use crate::config::Strategy;
use crate::simulate::spec::{self, AccountSpec};
use crate::simulate::workload::Workload;
use crate::simulate::{self, Outcome, Scenario};

pub struct Request {
    pub json: bool,
    pub accounts: Option<String>,
    pub days: u32,
    pub workload: String,
    pub seed: u64,
}

/// The accounts and the start instant, and where they came from.
fn accounts(req: &Request) -> Result<(Vec<AccountSpec>, i64, &'static str)> {
    if let Some(text) = &req.accounts {
        return Ok((spec::parse(text)?, spec::FIXED_START, "--accounts"));
    }
    let now = crate::base::time::now();
    let mine = Paths::from_env()
        .ok()
        .and_then(|p| spec::from_cache(&p, now));
    Ok(match mine {
        Some(a) => (
            a,
            now - now.rem_euclid(simulate::STEP_SECS),
            "your accounts",
        ),
        None => (spec::sample(), spec::FIXED_START, "sample"),
    })
}

pub fn run(req: Request) -> Result<i32> {
    let (accounts, start, source) = accounts(&req)?;
    let sc = Scenario {
        accounts,
        start,
        days: req.days,
        workload: Workload::parse(&req.workload)?,
        seed: req.seed,
    };
    let outcomes = simulate::run_all(&sc);
    let best = simulate::recommend(&outcomes);
    if req.json {
        crate::base::out::line(&to_json(&sc, source, &outcomes, best))?;
    } else {
        crate::base::out::print(&to_text(&sc, source, &outcomes, best))?;
    }
    Ok(0)
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn account_line(a: &AccountSpec) -> String {
    format!(
        "{} ({}, weekly {:.0}%, resets in {})",
        a.name,
        a.plan,
        a.weekly_used,
        crate::base::time::span(a.weekly_reset_in)
    )
}

/// Why the recommendation, against the default.
fn because(outcomes: &[Outcome], best: &Outcome) -> String {
    let Some(base) = outcomes
        .iter()
        .find(|o| o.strategy == Strategy::LowestWeekly)
    else {
        return String::new();
    };
    if best.strategy == Strategy::LowestWeekly {
        return "no strategy blocks less or wastes less than the default".into();
    }
    format!(
        "blocked {:.1} h instead of {:.1} h, {:.1}% of the quota wasted instead of {:.1}%, vs lowest-weekly",
        best.blocked_hours, base.blocked_hours, best.wasted_percent, base.wasted_percent
    )
}

fn to_text(sc: &Scenario, source: &str, outcomes: &[Outcome], best: &Outcome) -> String {
    let mut s = format!(
        "simulated {} days of the '{}' workload (seed {}) on {} ({}):\n",
        sc.days,
        sc.workload.name(),
        sc.seed,
        source,
        sc.accounts.len()
    );
    for a in &sc.accounts {
        s.push_str(&format!("  {}\n", account_line(a)));
    }
    s.push('\n');
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![
                o.strategy.name().to_string(),
                format!("{:.1} h", o.blocked_hours),
                format!("{:.1}%", o.wasted_percent),
                format!("{:.1}", o.switches_per_day),
                format!("{:.1}%", o.work_done_percent),
            ]
        })
        .collect();
    s.push_str(&crate::cli::render::table(
        &["STRATEGY", "BLOCKED", "WASTED", "SWITCHES/DAY", "WORK DONE"],
        &rows,
    ));
    s.push_str(&format!(
        "\nrecommended: {} ({})\nset it in swop.toml: [selection] strategy = \"{}\"\n",
        best.strategy.name(),
        because(outcomes, best),
        best.strategy.name()
    ));
    s
}

fn to_json(sc: &Scenario, source: &str, outcomes: &[Outcome], best: &Outcome) -> String {
    let view = SimulateView {
        strategies: outcomes
            .iter()
            .map(|o| StrategyView {
                strategy: o.strategy.name().into(),
                blocked_hours: round(o.blocked_hours, 2),
                wasted_percent: round(o.wasted_percent, 2),
                switches_per_day: round(o.switches_per_day, 2),
                work_done_percent: round(o.work_done_percent, 2),
            })
            .collect(),
        recommended: best.strategy.name().into(),
        reason: because(outcomes, best),
        workload: sc.workload.name().into(),
        days: sc.days,
        seed: sc.seed,
        source: source.into(),
        accounts: sc
            .accounts
            .iter()
            .map(|a| SimAccountView {
                name: a.name.clone(),
                plan: a.plan.clone(),
                weekly_used_percent: a.weekly_used,
                weekly_reset_in_seconds: a.weekly_reset_in,
            })
            .collect(),
    };
    crate::cli::views::to_string(&view)
}
