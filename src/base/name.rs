//! The rule for account names, shared by swop.toml (rules, order) and the
//! registry: a name is also a directory name under SWOP_HOME, so it must be
//! a safe single path component.

use crate::base::error::{Error, Result};

/// Letters, digits, `-`, `_`, `.`; 1-64 chars; not `.`/`..`; no leading `-`
/// or `.` (a leading dot would hide it, a leading dash would read as a flag).
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::usage(format!(
            "invalid account name '{}': {why}",
            name.escape_debug()
        ))
        .help("use 1-64 letters, digits, '-', '_' or '.', e.g. 'work' or 'personal-plus'"))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > 64 {
        return bad("it is longer than 64 characters");
    }
    if name == "." || name == ".." {
        return bad("it is a path component");
    }
    if name.starts_with('-') || name.starts_with('.') {
        return bad("it must not start with '-' or '.'");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return bad(&format!("'{}' is not allowed", c.escape_debug()));
    }
    Ok(())
}
