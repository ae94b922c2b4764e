//! Failover inside a turn (the after-exit kind is `launch::rerun`): which
//! account this codex's model requests go out on, and the decision to
//! move them when one runs out: on a 429 `usage_limit_reached` (or once a
//! turn's headers say a window is full) the next eligible account, chosen by
//! the launch's own selection, takes over for the rest of the run.
//!
//! Credentials of another account come from its auth.json, read each time
//! (codex may have refreshed it). An expired or nearly expired access token,
//! or one the backend refused, is refreshed by codex in that account's home
//! (app-server); this module never writes auth.json and never calls the
//! token endpoint.
//!
//! Requests are only re-credentialed when they carry the launched account's
//! own token: whoever else finds the relay cannot borrow an account with it.

use super::forward::Credentials;
use super::notices::Notices;
use crate::accounts::auth::{self, Auth};
use crate::accounts::Account;
use crate::base::time;
use crate::usage::cache;
use std::sync::Mutex;

/// Names the next eligible account, passing over these (the launch's
/// selection over fresh-enough usage). None: every account is exhausted.
pub type ChooseNext = Box<dyn Fn(&[String]) -> Option<String> + Send + Sync>;

/// What the relay needs to know about the accounts.
pub struct Accounts {
    pub paths: crate::base::paths::Paths,
    pub cfg: crate::config::Config,
    pub codex: crate::codex::Codex,
    pub all: Vec<Account>,
    /// The account codex was started on.
    pub launched: String,
    pub pick: ChooseNext,
}

#[derive(Default)]
struct State {
    /// Model requests go out on this account instead of codex's own.
    current: Option<String>,
    /// Accounts that ran out during this run.
    exhausted: Vec<String>,
    /// The launched account's windows were full at its last turn.
    launched_full: bool,
}

/// Where a model request goes out.
pub enum Outgoing {
    /// On this account, with these credentials (None: codex's own).
    Ours((String, Option<Credentials>)),
    Foreign,
}

pub struct Route {
    accounts: Accounts,
    state: Mutex<State>,
    /// What the person is told about a move, and when.
    pub notices: Notices,
}

/// Whether a 429 body says the account's usage limit is reached (and not
/// some other throttling, which another account would not cure).
pub fn is_usage_limit(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            let kind = e.get("type").or_else(|| e.get("code"))?.as_str()?;
            Some(kind == "usage_limit_reached")
        })
        .unwrap_or(false)
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, rest) = authorization?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

impl Route {
    pub fn new(accounts: Accounts, notices: Notices) -> Route {
        Route {
            accounts,
            state: Mutex::new(State::default()),
            notices,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn home(&self, name: &str) -> Option<&Account> {
        self.accounts.all.iter().find(|a| a.name == name)
    }

    /// The account a model request goes out on, and the credentials to put
    /// on it (None: exactly as codex sent it, on the launched account).
    /// `Foreign`: the request does not carry the launched account's token
    /// (not this codex's): forwarded as it came, never re-credentialed,
    /// and its answer neither fails over nor counts for any account.
    pub fn outgoing(&self, authorization: Option<&str>) -> Outgoing {
        if !self.is_codex_own(authorization) {
            return Outgoing::Foreign;
        }
        let launched = self.accounts.launched.clone();
        let (current, full) = {
            let s = self.lock();
            (s.current.clone(), s.launched_full)
        };
        let own = || (launched.clone(), None);
        Outgoing::Ours(self.ours(current, full, own))
    }

    fn ours(
        &self,
        current: Option<String>,
        full: bool,
        own: impl Fn() -> (String, Option<Credentials>),
    ) -> (String, Option<Credentials>) {
        let launched = self.accounts.launched.clone();
        if let Some(name) = current {
            return match self.credentials(&name) {
                Ok(c) => (name, Some(c)),
                // Lost in the meantime: on to the next one.
                Err(_) => self
                    .move_on(&name, false)
                    .map_or_else(own, |(n, c)| (n, Some(c))),
            };
        }
        if full {
            // Known exhausted: do not spend a refused turn to learn it again.
            return self
                .move_on(&launched, true)
                .map_or_else(own, |(n, c)| (n, Some(c)));
        }
        own()
    }

    /// The request carries the launched account's current access token.
    fn is_codex_own(&self, authorization: Option<&str>) -> bool {
        let Some(sent) = bearer(authorization) else {
            return false;
        };
        let Some(acct) = self.home(&self.accounts.launched) else {
            return false;
        };
        match auth::read(&acct.auth_file()) {
            Ok(Auth::ChatGpt { access_token, .. }) => access_token.expose() == sent,
            _ => false,
        }
    }

    /// `ran_out` refused a turn for its usage limit: the next eligible
    /// account and its credentials, or None when none is left.
    pub fn after_limit(&self, ran_out: &str) -> Option<(String, Credentials)> {
        self.move_on(ran_out, true)
    }

    /// `name`'s access token, put on a request by the relay, was refused
    /// (401): codex refreshes that login in its own home, and the new
    /// token comes back; Err when codex could not refresh it (the token in
    /// auth.json is still the refused one).
    pub fn refreshed_after_refusal(
        &self,
        name: &str,
        refused: &Credentials,
    ) -> Result<Credentials, String> {
        let acct = self.home(name).ok_or("not an account")?;
        self.refresh_through_codex(acct, true);
        let fresh = self.credentials(name)?;
        if fresh.token == refused.token {
            return Err("its login was refused and codex could not refresh it".into());
        }
        Ok(fresh)
    }

    /// `name`'s login was refused even after a refresh: the next eligible
    /// account and its credentials, or None when none is left.
    pub fn after_refused_login(&self, name: &str) -> Option<(String, Credentials)> {
        self.move_on(name, false)
    }

    /// Leaves `from` (out of quota when `limited`, else unusable) for the
    /// next eligible account.
    fn move_on(&self, from: &str, limited: bool) -> Option<(String, Credentials)> {
        let ran_out = from;
        if limited {
            let _ = cache::mark_limited(&self.accounts.paths, ran_out, time::now());
        }
        let mut s = self.lock();
        if !s.exhausted.iter().any(|n| n == ran_out) {
            s.exhausted.push(ran_out.to_string());
        }
        // Another request may have moved on already.
        if let Some(cur) = s.current.clone().filter(|c| !s.exhausted.contains(c)) {
            if let Ok(c) = self.credentials(&cur) {
                return Some((cur, c));
            }
            s.exhausted.push(cur);
        }
        let mut passed = s.exhausted.clone();
        passed.push(self.accounts.launched.clone());
        loop {
            let next = (self.accounts.pick)(&passed)?;
            match self.credentials(&next) {
                Ok(c) => {
                    let why = if limited {
                        format!("'{ran_out}' hit its usage limit")
                    } else {
                        format!("'{ran_out}' can no longer be used")
                    };
                    self.notices.note(format!(
                        "{why}; codex's turns continue on '{next}' (in-turn failover)"
                    ));
                    s.current = Some(next.clone());
                    return Some((next, c));
                }
                Err(why) => {
                    self.notices
                        .warn(format!("cannot fail over to '{next}': {why}"));
                    passed.push(next);
                }
            }
        }
    }

    /// The rate-limit headers of a turn that went out on `account`.
    pub fn record_usage<'a>(&self, account: &str, get: impl Fn(&str) -> Option<&'a str>) {
        let now = time::now();
        let Some(usage) = crate::usage::parse_codex_headers(get, now) else {
            return;
        };
        if account == self.accounts.launched {
            self.lock().launched_full = usage.is_limited();
        }
        let _ = cache::record(&self.accounts.paths, account, usage, now);
    }

    /// Access token and account id of `name`, refreshed by codex first when
    /// the token has expired or is about to. Errors name no secret.
    pub fn credentials(&self, name: &str) -> Result<Credentials, String> {
        let acct = self.home(name).ok_or("not an account")?;
        let mut refreshed = false;
        loop {
            let (token, exp, account_id) = match auth::read(&acct.auth_file()) {
                Ok(Auth::ChatGpt {
                    access_token,
                    access_exp,
                    account_id,
                    ..
                }) => (access_token, access_exp, account_id),
                Ok(Auth::ApiKey) => return Err("it is an API-key login".into()),
                Err(e) => return Err(e.message),
            };
            let expiring = exp.is_some_and(|e| e <= time::now() + 60);
            if !expiring {
                return Ok(Credentials { token, account_id });
            }
            if refreshed {
                return Err("its access token has expired and codex could not refresh it".into());
            }
            self.refresh_through_codex(acct, false);
            refreshed = true;
        }
    }

    /// codex refreshes the login in the account's own home (`force`: even
    /// though its token has not expired); its numbers go to the cache on
    /// the way.
    fn refresh_through_codex(&self, acct: &Account, force: bool) {
        let a = &self.accounts;
        crate::usage::gather::refresh_through_codex(&a.paths, &a.cfg, &a.codex, acct, force);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_usage_limit_counts() {
        assert!(is_usage_limit(
            br#"{"error":{"type":"usage_limit_reached","message":"x","resets_at":1}}"#
        ));
        assert!(!is_usage_limit(
            br#"{"error":{"type":"rate_limited","message":"slow down"}}"#
        ));
        assert!(!is_usage_limit(b"<html>429</html>"));
        assert!(!is_usage_limit(b""));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }
}
