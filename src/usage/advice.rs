//! What to do about a failed usage fetch, by the kind of failure: one short
//! fix a person can act on. Pure text from the failure's own words (which
//! never carry a secret); used by the launch warnings and by doctor.

/// The fix for a fetch of account `name` that failed with `why`.
/// `all_failed`: every account failed in this round, so the server or the
/// URL is the likely cause, not the account. A login the server refused
/// (and codex could not renew) is fixed by logging in again, whatever the
/// others did.
pub fn fix(name: &str, why: &str, all_failed: bool) -> String {
    if crate::usage::fetch::is_rejected(why) {
        return format!("log in again: swop relogin {name}");
    }
    let kind = if why.contains("throttled") {
        "retry later: the usage server is throttling requests"
    } else if why.contains("no answer within") {
        "retry later, or raise [usage] timeout in swop.toml"
    } else if why.contains("HTTP 5") {
        "the usage server has a problem; retry later"
    } else if why.contains("redirect") || why.contains("shape") || why.contains("HTTP 404") {
        "check [usage] base_url in swop.toml: it does not look like the ChatGPT backend"
    } else if all_failed {
        "check your network and [usage] base_url in swop.toml"
    } else {
        "retry later (swop status --refresh)"
    };
    if all_failed && !kind.contains("base_url") {
        format!("{kind}; every account failed, so also check [usage] base_url")
    } else {
        kind.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_by_kind() {
        assert!(fix("a", "throttled (HTTP 429)", false).starts_with("retry later"));
        assert!(fix("a", "no answer within 3s", false).contains("[usage] timeout"));
        assert!(fix("a", "HTTP 404", false).contains("base_url"));
        assert_eq!(
            fix("a", "connection refused", false),
            "retry later (swop status --refresh)"
        );
        assert!(fix("a", "connection refused", true).contains("base_url"));
        assert!(fix("a", "throttled (HTTP 429)", true).contains("every account failed"));
        let rejected = "the usage server rejected the token (HTTP 401), and codex app-server reported an error";
        assert_eq!(fix("w", rejected, true), "log in again: swop relogin w");
    }
}
