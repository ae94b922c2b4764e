//! Fetching one account's usage: `GET {base}/wham/usage` with the account's
//! access token, or, when that token is expired or rejected, asking the real
//! codex (`codex app-server`, `account/rateLimits/read`), which refreshes its
//! own token (an expired one by itself; one the backend refused only when
//! asked with `account/read {refreshToken: true}`, which the in-turn relay
//! does). swop itself never spends a refresh token.
//!
//! Every outcome carries a short cause fit for a one-line warning: a status
//! code or a fixed description, never a response body or a header.

use crate::accounts::auth::{self, Auth};
use crate::codex::app_server::Session;
use crate::codex::Codex;
use crate::usage::{self, Usage};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

pub const USER_AGENT: &str = concat!("swop/", env!("CARGO_PKG_VERSION"));

#[derive(Debug)]
pub enum Fetched {
    Ok(Usage),
    /// An API-key login: no ChatGPT usage windows exist.
    ApiKey,
    /// The session is dead: codex itself could not get a working token.
    Dead(String),
    /// 429 with a `Retry-After` (seconds): not to be asked before then.
    Throttled(String, u64),
    /// Anything else: the cause, for a warning.
    Failed(String),
}

/// What a fetch needs besides the account.
#[derive(Clone, Copy)]
pub struct FetchContext<'a> {
    pub base_url: &'a str,
    pub timeout: Duration,
    /// The real codex, for the app-server fallback.
    pub codex: &'a Codex,
    pub now: i64,
}

/// `{base}/wham/usage`, or `{base}/api/codex/usage` when the base has no
/// `/backend-api` (as codex does).
pub fn usage_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.contains("/backend-api") {
        format!("{base}/wham/usage")
    } else {
        format!("{base}/api/codex/usage")
    }
}

/// The HTTP client for usage requests to `base_url`. One round shares one
/// (one TLS set-up, one connection pool); buffers are small, since a usage
/// answer is a few KB (ureq's default is 128 KB each way per connection).
pub fn agent(base_url: &str, timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(proxy_for(&usage_url(base_url)))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(USER_AGENT)
        .input_buffer_size(64 << 10)
        .output_buffer_size(16 << 10)
        .build()
        .into()
}

pub fn fetch(home: &Path, ctx: &FetchContext) -> Fetched {
    fetch_with(home, ctx, &agent(ctx.base_url, ctx.timeout))
}

/// [`fetch`] through a client the caller shares between requests.
pub fn fetch_with(home: &Path, ctx: &FetchContext, agent: &ureq::Agent) -> Fetched {
    let auth = match auth::read(&home.join("auth.json")) {
        Ok(a) => a,
        Err(e) if e.code == crate::base::error::exit::LOGIN_NEEDED => {
            return Fetched::Dead(short(&e.message))
        }
        Err(e) => return Fetched::Failed(e.message),
    };
    let (token, exp, account_id) = match auth {
        Auth::ApiKey => return Fetched::ApiKey,
        Auth::ChatGpt {
            access_token,
            access_exp,
            account_id,
            ..
        } => (access_token, access_exp, account_id),
    };
    // An access token about to expire would only earn a 401: go to codex.
    if exp.is_some_and(|e| e <= ctx.now + 30) {
        return via_app_server(home, ctx, "the access token has expired", false);
    }
    match http(&token, account_id.as_deref(), ctx, agent) {
        Http::Ok(u) => Fetched::Ok(u),
        // Not forced: codex 0.169.0 then refreshes only an expired token,
        // so a revoked but unexpired one counts as dead here (the in-turn
        // relay forces the refresh; see `force_refresh_via_codex`).
        Http::Rejected(code) => {
            via_app_server(home, ctx, &format!("{REJECTED} (HTTP {code})"), false)
        }
        Http::Throttled(why, secs) => Fetched::Throttled(why, secs),
        Http::Failed(why) => Fetched::Failed(why),
    }
}

/// How the cause of a fetch starts when the usage server refused the
/// login (401/403) and codex could not renew it either: what status, the
/// warnings and doctor recognise to name `swop relogin`.
pub const REJECTED: &str = "the usage server rejected the token";

/// Whether `why` (a fetch's cause) is a refused login.
pub fn is_rejected(why: &str) -> bool {
    why.starts_with(REJECTED)
}

fn short(msg: &str) -> String {
    msg.split(" (").next().unwrap_or(msg).to_string()
}

enum Http {
    Ok(Usage),
    Rejected(u16),
    Throttled(String, u64),
    Failed(String),
}

/// The proxy the usage request may use. Plain http (allowed only to a
/// loopback host, see config) never goes through one: the proxy would read
/// the bearer token. https may use the environment's HTTP(S) proxy, which
/// ureq 3 only ever uses as a CONNECT tunnel, so the proxy sees TLS bytes.
fn proxy_for(url: &str) -> Option<ureq::Proxy> {
    if !url.starts_with("https://") {
        return None;
    }
    ureq::Proxy::try_from_env().filter(|p| {
        matches!(
            p.protocol(),
            ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
        )
    })
}

/// Plain http to anything but this machine: never send a token there,
/// whatever the config check let through.
pub(crate) fn cleartext_to_elsewhere(url: &str) -> bool {
    url.strip_prefix("http://").is_some_and(|rest| {
        !crate::config::is_loopback_authority(rest.split(['/', '?', '#']).next().unwrap_or(""))
    })
}

fn http(
    token: &auth::Secret,
    account_id: Option<&str>,
    ctx: &FetchContext,
    agent: &ureq::Agent,
) -> Http {
    let url = usage_url(ctx.base_url);
    if cleartext_to_elsewhere(&url) {
        return Http::Failed("refused to send the token over plain http to another host".into());
    }
    let mut req = agent
        .get(url)
        .config()
        .timeout_global(Some(ctx.timeout))
        .build()
        .header("Authorization", format!("Bearer {}", token.expose()));
    if let Some(id) = account_id {
        req = req.header("ChatGPT-Account-Id", id);
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        Err(e) => return Http::Failed(describe(&e, ctx.timeout)),
    };
    let status = resp.status().as_u16();
    match status {
        200..=299 => {}
        401 | 403 => return Http::Rejected(status),
        300..=399 => {
            return Http::Failed(format!(
                "HTTP {status} redirect (not followed: it would carry the token elsewhere)"
            ))
        }
        429 => {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            return match retry {
                Some(s) => Http::Throttled(format!("throttled (HTTP 429, retry after {s}s)"), s),
                None => Http::Failed("throttled (HTTP 429)".to_string()),
            };
        }
        _ => return Http::Failed(format!("HTTP {status}")),
    }
    let body = match resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
    {
        Ok(b) => b,
        Err(e) => return Http::Failed(describe(&e, ctx.timeout)),
    };
    match usage::parse_wham(&body, ctx.now) {
        Ok(u) => Http::Ok(u),
        Err(why) => Http::Failed(why.to_string()),
    }
}

/// ureq's error, reduced to a cause without URLs or bodies.
pub(crate) fn describe(e: &ureq::Error, timeout: Duration) -> String {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => format!("no answer within {}", humantime::format_duration(timeout)),
        E::ConnectionFailed => "connection failed".into(),
        E::HostNotFound => "host not found".into(),
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            format!("no answer within {}", humantime::format_duration(timeout))
        }
        // The OS's words (e.g. "failed to lookup address information: ...")
        // name no URL and no header.
        E::Io(io) => format!("network error: {io}"),
        E::Tls(_) => "TLS error".into(),
        E::BodyExceedsLimit(_) => "response too large".into(),
        _ => "request failed".into(),
    }
}

/// Has codex refresh the login in `home` (app-server's rate-limits call
/// refreshes an expired access token and rewrites auth.json itself), and
/// returns the numbers it read. swop never posts to the token endpoint.
pub fn refresh_via_codex(home: &Path, ctx: &FetchContext) -> Fetched {
    via_app_server(home, ctx, "the access token has expired", false)
}

/// Has codex refresh the login in `home` although its access token has not
/// expired (the backend refused it: revoked, or expired early), then read
/// the numbers with the new one. codex 0.169.0 does not refresh on a 401
/// from the rate-limits call (seen), so it is asked first with
/// `account/read {refreshToken: true}` (its normal refresh flow, auth.json
/// rewritten by codex). `Dead` when even the new token is refused.
pub fn force_refresh_via_codex(home: &Path, ctx: &FetchContext) -> Fetched {
    via_app_server(home, ctx, "the access token was refused", true)
}

/// Asks the real codex for the rate limits (after a forced refresh when
/// `force_refresh`) through one app-server session (`codex::app_server`:
/// bounded lines, killed when done). codex refreshes an expired token
/// itself; if even codex gets an auth error, the session is dead.
fn via_app_server(home: &Path, ctx: &FetchContext, why_here: &str, force_refresh: bool) -> Fetched {
    let deadline = Instant::now() + ctx.timeout;
    let mut session = match Session::start(ctx.codex, home, ctx.base_url, deadline) {
        Ok(s) => s,
        Err(why) => return Fetched::Failed(format!("{why_here}, and {why}")),
    };
    if force_refresh {
        // Its answer is not read: the rate-limits call below shows whether
        // the login works now.
        let refresh = json!({"refreshToken": true});
        if session.call("account/read", refresh, deadline).is_none() {
            return no_answer(why_here);
        }
    }
    match session.call("account/rateLimits/read", Value::Null, deadline) {
        Some(reply) => judge_reply(&reply, why_here, ctx.now),
        None => no_answer(why_here),
    }
}

fn no_answer(why_here: &str) -> Fetched {
    Fetched::Failed(format!(
        "{why_here}, and codex app-server gave no answer in time"
    ))
}

/// The numbers in app-server's reply, or why there are none: an auth error
/// means even codex could not refresh the login (the session is dead).
fn judge_reply(reply: &Value, why_here: &str, now: i64) -> Fetched {
    if let Some(result) = reply.get("result") {
        return match usage::parse_app_server(result, now) {
            Ok(u) => Fetched::Ok(u),
            Err(why) => Fetched::Failed(why.to_string()),
        };
    }
    let message = reply
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("");
    if crate::codex::app_server::is_auth_message(message) {
        Fetched::Dead(format!("{why_here}, and codex could not refresh it"))
    } else {
        Fetched::Failed(format!(
            "{why_here}, and codex app-server reported an error"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_url_follows_codex() {
        assert_eq!(
            usage_url("https://chatgpt.com/backend-api"),
            "https://chatgpt.com/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("http://127.0.0.1:9/backend-api/"),
            "http://127.0.0.1:9/backend-api/wham/usage"
        );
        assert_eq!(
            usage_url("http://127.0.0.1:9"),
            "http://127.0.0.1:9/api/codex/usage"
        );
    }

    #[test]
    fn plain_http_never_uses_a_proxy_and_only_goes_to_loopback() {
        assert!(proxy_for("http://127.0.0.1:9/backend-api/wham/usage").is_none());
        assert!(cleartext_to_elsewhere("http://example.com/x"));
        assert!(!cleartext_to_elsewhere("http://127.0.0.1:9/x"));
        assert!(!cleartext_to_elsewhere("https://example.com/x"));
    }

    #[test]
    fn auth_failures_recognised() {
        assert!(crate::codex::app_server::is_auth_message(
            "codex account authentication required to read rate limits"
        ));
        assert!(crate::codex::app_server::is_auth_message(
            "failed to fetch codex rate limits: GET x failed: 401 Unauthorized; body"
        ));
        assert!(!crate::codex::app_server::is_auth_message(
            "failed to fetch codex rate limits: 500 Internal Server Error"
        ));
    }
}
