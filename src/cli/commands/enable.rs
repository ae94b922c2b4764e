//! `swop enable NAME`: lets automatic picks use an account that `swop
//! disable` kept out. The list lives in `accounts::disabled`. Never touches
//! a login.

use crate::accounts::{self, disabled};
use crate::base::error::Result;
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::time;

pub fn run(name: &str, paths: &Paths) -> Result<i32> {
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
