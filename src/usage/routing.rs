//! Whether an account's workspace needs codex's own routing of its model
//! requests: a workspace with a data-residency constraint is served from
//! its own backend origin, which codex learns from
//! `GET {base}/wham/accounts/check` (`workspace_backend_origin`,
//! `account_routing_override`; anything but `NO_CONSTRAINT` is a
//! constraint). The in-turn relay sends model requests to `[usage]
//! base_url`, which would bypass that routing, so it never carries such an
//! account's turns.
//!
//! The answer is cached per account (`cache/routing/NAME.json`) for a week:
//! a workspace's residency does not change between launches, and the hot
//! path of a launch needs no request once it is known. An answer that could
//! not be had is never cached (the next launch asks again). The cache also
//! remembers that the person was told about a constraint ([`mark_told`]),
//! so that it is said once.

use crate::accounts::auth::{self, Auth};
use crate::accounts::Account;
use crate::base::files;
use crate::base::paths::Paths;
use crate::usage::fetch;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// How long a known answer is used without asking again.
const TTL_SECS: i64 = 7 * 86400;
const FILE_MAX: u64 = 4096;
const BODY_MAX: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Any backend origin serves it: the relay may carry its turns.
    Unconstrained,
    /// Its workspace is bound to its own backend (data residency).
    /// `first_time`: the person has not been told yet.
    Constrained { first_time: bool },
    /// Not known (the cause, for a warning): treated as constrained.
    Unknown(String),
    /// Not known because the account's access token has expired: asked
    /// again once codex has refreshed the login (the relay would have it
    /// refreshed before its first request on the account anyway).
    Expired,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Entry {
    checked_at: i64,
    constrained: bool,
    #[serde(default)]
    told: bool,
}

fn file(paths: &Paths, name: &str) -> PathBuf {
    paths
        .cache_dir()
        .join("routing")
        .join(format!("{name}.json"))
}

fn load(paths: &Paths, name: &str) -> Option<Entry> {
    let bytes = files::read_regular(&file(paths, name), FILE_MAX).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn store(paths: &Paths, name: &str, e: &Entry) {
    let path = file(paths, name);
    if let Some(dir) = path.parent() {
        if files::create_private_dir(dir).is_err() {
            return;
        }
    }
    let _ = files::write_atomic_cache(&path, &serde_json::to_vec(e).expect("serialises"));
}

/// `{base}/wham/accounts/check`, or None for a base that is not the
/// ChatGPT backend (codex routes only that one).
pub fn check_url(base: &str) -> Option<String> {
    let base = base.trim_end_matches('/');
    base.contains("/backend-api")
        .then(|| format!("{base}/wham/accounts/check"))
}

/// Whether the accounts/check answer `body` binds workspace `account_id`
/// to its own backend; Err when the answer does not say.
pub fn parse_constrained(body: &str, account_id: &str) -> Result<bool, &'static str> {
    let v: Value = serde_json::from_str(body).map_err(|_| "the answer is not JSON")?;
    let entry = v
        .get("accounts")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|e| e.get("id").and_then(Value::as_str) == Some(account_id))
        })
        .ok_or("the workspace is not in the answer")?;
    let field = |k: &str| entry.get(k).and_then(Value::as_str);
    match (
        field("workspace_backend_origin"),
        field("account_routing_override"),
    ) {
        (Some(origin), over) => {
            Ok(origin != "NO_CONSTRAINT" || over.is_some_and(|o| o != "NO_CONSTRAINT"))
        }
        (None, _) => Err("the answer names no backend origin"),
    }
}

const EXPIRED: &str = "its access token has expired";

/// Asks the backend with the account's access token (never refreshed
/// here: an expired one means "not known").
fn ask(account: &Account, base: &str, timeout: Duration, now: i64) -> Result<bool, String> {
    let Some(url) = check_url(base) else {
        return Ok(false);
    };
    if fetch::cleartext_to_elsewhere(&url) {
        return Err("refused to send the token over plain http to another host".into());
    }
    let (token, account_id) = match auth::read(&account.auth_file()) {
        Ok(Auth::ChatGpt {
            access_token,
            access_exp,
            account_id: Some(id),
            ..
        }) if access_exp.is_none_or(|e| e > now + 30) => (access_token, id),
        Ok(Auth::ApiKey) => return Ok(false), // no workspace: codex's API path
        Ok(_) => return Err(EXPIRED.into()),
        Err(e) => return Err(e.message),
    };
    let resp = fetch::agent(base, timeout)
        .get(&url)
        .header("Authorization", format!("Bearer {}", token.expose()))
        .header("ChatGPT-Account-Id", &account_id)
        .call();
    let mut resp = resp.map_err(|e| fetch::describe(&e, timeout))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(BODY_MAX)
        .read_to_string()
        .map_err(|e| fetch::describe(&e, timeout))?;
    parse_constrained(&body, &account_id).map_err(str::to_string)
}

/// The account's routing: cached, else asked (bounded by `timeout`).
pub fn routing(paths: &Paths, account: &Account, base: &str, timeout: Duration) -> Routing {
    let now = crate::base::time::now();
    let cached =
        load(paths, &account.name).filter(|e| (0..TTL_SECS).contains(&(now - e.checked_at)));
    let entry = match cached {
        Some(e) => e,
        None => match ask(account, base, timeout, now) {
            Ok(constrained) => Entry {
                checked_at: now,
                constrained,
                told: false,
            },
            Err(why) if why == EXPIRED => return Routing::Expired,
            Err(why) => return Routing::Unknown(why),
        },
    };
    if !entry.constrained {
        if entry.checked_at == now {
            store(paths, &account.name, &entry);
        }
        return Routing::Unconstrained;
    }
    if entry.checked_at == now {
        store(paths, &account.name, &entry);
    }
    Routing::Constrained {
        first_time: !entry.told,
    }
}

/// The person has been told that `name` is constrained.
pub fn mark_told(paths: &Paths, name: &str) {
    if let Some(mut e) = load(paths, name) {
        e.told = true;
        store(paths, name, &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_no_constraint_everywhere_is_unconstrained() {
        let body = |origin: &str, over: &str| {
            format!(
                r#"{{"accounts":[{{"id":"other","workspace_backend_origin":"https://eu.example"}},
                {{"id":"acct","plan_type":"team","workspace_backend_origin":"{origin}","account_routing_override":"{over}"}}],
                "account_ordering":["acct"]}}"#
            )
        };
        assert_eq!(
            parse_constrained(&body("NO_CONSTRAINT", "NO_CONSTRAINT"), "acct"),
            Ok(false)
        );
        assert_eq!(
            parse_constrained(&body("https://eu.chatgpt.com", "NO_CONSTRAINT"), "acct"),
            Ok(true)
        );
        assert_eq!(
            parse_constrained(&body("NO_CONSTRAINT", "EU"), "acct"),
            Ok(true)
        );
        assert!(parse_constrained(&body("NO_CONSTRAINT", "NO_CONSTRAINT"), "gone").is_err());
        assert!(parse_constrained(r#"{"accounts":[{"id":"acct"}]}"#, "acct").is_err());
        assert!(parse_constrained("<html>", "acct").is_err());
    }

    #[test]
    fn only_the_chatgpt_backend_is_routed() {
        assert_eq!(
            check_url("https://chatgpt.com/backend-api/").as_deref(),
            Some("https://chatgpt.com/backend-api/wham/accounts/check")
        );
        assert_eq!(check_url("https://proxy.example/api"), None);
    }
}
