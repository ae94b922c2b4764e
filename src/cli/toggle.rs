//! `swop disable NAME [--for DURATION]` and `swop enable NAME`: keep an
//! account out of automatic picks without editing swop.toml. The list lives
//! in `accounts::disabled`; the selection reads it. Never touches a login.

use crate::accounts::{self, disabled};
use crate::base::error::Result;
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::base::time;
use std::time::Duration;

pub fn disable(paths: &Paths, name: &str, duration: Option<Duration>) -> Result<i32> {
    accounts::get(paths, name)?;
    let now = time::now();
    let until =
        duration.map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
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

pub fn enable(paths: &Paths, name: &str) -> Result<i32> {
    accounts::get(paths, name)?;
    if disabled::enable(paths, name, time::now())? {
        out::line(&format!(
            "enabled '{name}': automatic picks may use it again"
        ))?;
    } else {
        out::line(&format!("'{name}' was not disabled; nothing changed"))?;
    }
    Ok(0)
}
