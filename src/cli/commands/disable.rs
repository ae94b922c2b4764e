//! `swop disable NAME [--for DURATION]`: keeps an account out of automatic
//! picks without editing swop.toml (until `swop enable NAME`, or for a
//! while). The list lives in `accounts::disabled`; the selection reads it.
//! Never touches a login.

use crate::accounts::{self, disabled};
use crate::base::error::Result;
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::base::time;
use std::time::Duration;

/// `swop disable`'s account and `--for`.
#[derive(Debug, PartialEq)]
pub struct Request {
    pub name: String,
    pub duration: Option<Duration>,
}

pub fn run(req: Request, paths: &Paths) -> Result<i32> {
    let name = &req.name;
    accounts::get(paths, name)?;
    let now = time::now();
    let until = req
        .duration
        .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    disabled::disable(paths, name, until, now)?;
    match until {
        Some(t) => out::line(&format!(
            "disabled '{name}' until {}: automatic picks skip it",
            time::reset(t, now)
        ))?,
        None => out::line(&format!(
            "disabled '{name}': automatic picks skip it until `swop enable {name}`"
        ))?,
    }
    term::plain(&format!("(SWOP_ACCOUNT={name} codex ... still uses it)"));
    Ok(0)
}
