//! `swop simulate`: chooses the accounts to simulate (`--accounts`, else the
//! user's own with their last cached numbers, else the sample), runs every
//! strategy through `crate::simulate`, and prints the table or JSON with a
//! recommendation. Reads the usage cache only: no network, no codex.

use crate::base::error::Result;
use crate::base::paths::Paths;
use crate::cli::views::{LeftOutView, SimAccountView, SimulateView, StrategyView};
use crate::config::Strategy;
use crate::simulate::spec::{self, AccountSpec};
use crate::simulate::workload::Workload;
use crate::simulate::{self, Outcome, Scenario};

/// `swop simulate`'s flags, validated by the parser.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub json: bool,
    /// `--accounts` spec; None: the user's accounts, else the sample.
    pub accounts: Option<String>,
    pub days: u32,
    pub workload: String,
    pub seed: u64,
}

/// What a simulation runs on: the accounts, the start instant, where they
/// came from, and which of yours were left out and why.
struct Chosen {
    accounts: Vec<AccountSpec>,
    start: i64,
    source: &'static str,
    left_out: Vec<(String, &'static str)>,
}

fn accounts(req: &Request) -> Result<Chosen> {
    if let Some(text) = &req.accounts {
        return Ok(Chosen {
            accounts: spec::parse(text)?,
            start: spec::FIXED_START,
            source: "--accounts",
            left_out: Vec::new(),
        });
    }
    let now = crate::base::time::now();
    let mine = Paths::from_env()
        .ok()
        .and_then(|p| spec::from_cache(&p, now));
    Ok(match mine {
        Some(y) => Chosen {
            accounts: y.accounts,
            start: now - now.rem_euclid(simulate::STEP_SECS),
            source: "your accounts",
            left_out: y.left_out,
        },
        None => Chosen {
            accounts: spec::sample(),
            start: spec::FIXED_START,
            source: "sample",
            left_out: Vec::new(),
        },
    })
}

pub fn run(req: Request) -> Result<i32> {
    let chosen = accounts(&req)?;
    let sc = Scenario {
        accounts: chosen.accounts.clone(),
        start: chosen.start,
        days: req.days,
        workload: Workload::parse(&req.workload)?,
        seed: req.seed,
    };
    let outcomes = simulate::run_all(&sc);
    let best = simulate::recommend(&outcomes);
    if req.json {
        crate::base::out::line(&to_json(&sc, &chosen, &outcomes, best))?;
    } else {
        let text = to_text(&sc, &chosen, &outcomes, best);
        let width = crate::base::term::stdout_width();
        crate::base::out::print(&crate::base::fit::lines(&text, width))?;
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

/// Why the recommendation, against the default (lowest-weekly), saying
/// only what differs: when every strategy comes out the same, that they
/// tie; when the winner only switches less, that.
fn because(outcomes: &[Outcome], best: &Outcome) -> String {
    let Some(base) = outcomes
        .iter()
        .find(|o| o.strategy == Strategy::LowestWeekly)
    else {
        return String::new();
    };
    let tenth = |v: f64| (v * 10.0).round() as i64;
    let key = |o: &Outcome| {
        (
            tenth(o.blocked_hours),
            tenth(o.wasted_percent),
            tenth(o.switches_per_day),
        )
    };
    if outcomes.iter().all(|o| key(o) == key(base)) {
        return format!(
            "the strategies tie: each blocked {:.1} h and wasted {:.1}% of the quota, so the default stays",
            base.blocked_hours, base.wasted_percent
        );
    }
    if best.strategy == Strategy::LowestWeekly {
        return "no strategy blocks less or wastes less than the default".into();
    }
    let mut said = Vec::new();
    if tenth(best.blocked_hours) != tenth(base.blocked_hours) {
        said.push(format!(
            "blocked {:.1} h instead of {:.1} h",
            best.blocked_hours, base.blocked_hours
        ));
    }
    if tenth(best.wasted_percent) != tenth(base.wasted_percent) {
        said.push(format!(
            "{:.1}% of the quota wasted instead of {:.1}%",
            best.wasted_percent, base.wasted_percent
        ));
    }
    if said.is_empty() {
        said.push(format!(
            "as few hours blocked ({:.1} h) and as little wasted ({:.1}%), with {:.1} switches a day instead of {:.1}",
            best.blocked_hours, best.wasted_percent, best.switches_per_day, base.switches_per_day
        ));
    }
    let tied: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.strategy != best.strategy && key(o) == key(best))
        .map(|o| o.strategy.name())
        .collect();
    let mut text = format!("{}, vs lowest-weekly", said.join(", "));
    if !tied.is_empty() {
        text.push_str(&format!("; {} did as well", tied.join(" and ")));
    }
    text
}

/// "your accounts (10 of 12; left out: 'x' (no usage numbers cached yet))".
fn source_text(sc: &Scenario, chosen: &Chosen) -> String {
    if chosen.left_out.is_empty() {
        return format!("{} ({})", chosen.source, sc.accounts.len());
    }
    let mut why: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, reason) in &chosen.left_out {
        match why.iter_mut().find(|(r, _)| r == reason) {
            Some((_, names)) => names.push(format!("'{name}'")),
            None => why.push((reason, vec![format!("'{name}'")])),
        }
    }
    let why: Vec<String> = why
        .iter()
        .map(|(r, names)| format!("{} ({r})", names.join(", ")))
        .collect();
    format!(
        "{} ({} of {}; left out: {})",
        chosen.source,
        sc.accounts.len(),
        sc.accounts.len() + chosen.left_out.len(),
        why.join("; ")
    )
}

fn to_text(sc: &Scenario, chosen: &Chosen, outcomes: &[Outcome], best: &Outcome) -> String {
    let mut s = format!(
        "simulated {} days of the '{}' workload (seed {}) on {}:\n",
        sc.days,
        sc.workload.name(),
        sc.seed,
        source_text(sc, chosen),
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

fn to_json(sc: &Scenario, chosen: &Chosen, outcomes: &[Outcome], best: &Outcome) -> String {
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
        source: chosen.source.into(),
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
        left_out: chosen
            .left_out
            .iter()
            .map(|(name, reason)| LeftOutView {
                name: name.clone(),
                reason: reason.to_string(),
            })
            .collect(),
    };
    crate::cli::views::to_string(&view)
}
