//! `swop redeem NAME [--yes] [--json]`: spends one limit-reset credit of an
//! account, guarded (`launch::redeem`): numbers read from the server just
//! before, what a credit would do, a yes (asked on a terminal; `--yes` off
//! one, else exit 9 and nothing sent), then the server's answer in its own
//! words. `nothingToReset` and `noCredit` spend nothing and are not errors.

use crate::accounts::{self, Account};
use crate::base::context::Context;
use crate::base::error::{exit, Error, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::base::time;
use crate::cli::views::{self, RedeemView, WindowView};
use crate::codex::Codex;
use crate::config::Config;
use crate::launch::redeem::{self, Plan, Spent};
use crate::launch::Pool;
use crate::usage::reset_credit::{self, Outcome};

/// `swop redeem`'s account and flags.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub name: String,
    pub yes: bool,
    pub json: bool,
}

pub fn run(req: Request, paths: &Paths, cfg: &Config, ctx: &Context) -> Result<i32> {
    let (name, yes, json) = (req.name.as_str(), req.yes, req.json);
    accounts::get(paths, name)?;
    let pool = Pool {
        paths: paths.clone(),
        cfg: cfg.clone(),
        codex: Codex::locate(cfg, paths)?,
        accounts: accounts::list(paths)?,
        ctx: ctx.clone(),
    };
    // Held from the fresh read to the answer: one attempt at a time.
    let _attempt = reset_credit::lock(paths, name)?;
    let fresh = redeem::fresh_state(&pool, name)?;
    let others: Vec<Account> = pool
        .accounts
        .iter()
        .filter(|a| a.name != name)
        .cloned()
        .collect();
    let states = pool.states(&others, false);
    let plan = redeem::plan(&pool, &fresh, &states);
    let (notes, warnings) = plan.describe(time::now());
    notes.iter().for_each(|n| term::note(n));
    warnings.iter().for_each(|w| term::warn(w));
    if plan.credits == Some(0) {
        // Nothing to spend: no request at all.
        let view = view_of(&plan, Outcome::NoCredit, None);
        return report(
            json,
            &view,
            &format!("'{name}' has no limit-reset credit; nothing was spent"),
        );
    }
    if !yes {
        if !pool.interactive() {
            return Err(Error::new(format!(
                "not spending a limit-reset credit of '{name}' without a yes: there is no terminal to ask on"
            ))
            .help(format!("to spend it from a script: swop redeem {name} --yes"))
            .code(exit::NOT_CONFIRMED));
        }
        if !term::confirm_strict(&format!("Spend one limit-reset credit of '{name}' now?")) {
            return Err(Error::new(format!(
                "not confirmed; no limit-reset credit of '{name}' was spent"
            ))
            .code(exit::NOT_CONFIRMED));
        }
    }
    let spent = redeem::spend(&pool, name)?;
    let view = view_of(&plan, spent.outcome, Some(&spent));
    report(json, &view, &redeem::outcome_line(name, &spent))
}

fn report(json: bool, view: &RedeemView, line: &str) -> Result<i32> {
    if json {
        out::line(&views::to_string(view))?;
    } else {
        out::line(line)?;
    }
    Ok(0)
}

fn view_of(plan: &Plan, outcome: Outcome, spent: Option<&Spent>) -> RedeemView {
    let after = spent.and_then(|s| s.after.as_ref());
    RedeemView {
        account: plan.name.clone(),
        outcome: outcome.as_str().to_string(),
        requested: spent.is_some(),
        credits_before: plan.credits,
        credits_left: after.and_then(|u| u.reset_credits),
        resets: plan.limits.iter().map(|l| l.which.to_string()).collect(),
        other_usable: plan.other_usable.as_ref().map(|(n, _)| n.clone()),
        five_hour: after
            .and_then(|u| u.five_hour.as_ref())
            .map(WindowView::from),
        weekly: after.and_then(|u| u.weekly.as_ref()).map(WindowView::from),
    }
}
