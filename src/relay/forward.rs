//! One request upstream, unchanged but for the hop and (on a switched
//! account) the two credential headers: ureq with a pooled agent (a TLS
//! session to the backend is reused across turns), no automatic headers, no
//! decompression (no gzip/brotli features: bodies pass through as bytes, the
//! zstd request body included), no redirects, statuses as responses.
//!
//! Never logs or returns a header value or a body in an error: the cause is
//! a fixed description.

use super::http::{hop_by_hop, Request};
use crate::accounts::auth::Secret;
use std::time::Duration;
use ureq::config::AutoHeaderValue;

/// The credentials a request goes out with when it is not codex's own.
pub struct Credentials {
    pub token: Secret,
    pub account_id: Option<String>,
}

pub struct Upstream {
    agent: ureq::Agent,
    /// Where the relay's paths continue: codex's model provider URL under
    /// a ChatGPT login (`<base_url>/codex`), no trailing slash.
    base: String,
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// The path part of a URL, without a trailing slash ("" for none).
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match rest.find('/') {
        Some(i) => rest[i..].trim_end_matches('/').to_string(),
        None => String::new(),
    }
}

impl Upstream {
    pub fn new(base: String) -> Upstream {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .user_agent(AutoHeaderValue::None)
            .accept(AutoHeaderValue::None)
            .accept_encoding(AutoHeaderValue::None)
            .allow_non_standard_methods(true);
        Upstream {
            agent: config.build().into(),
            base,
        }
    }

    /// Sends `req` to the same path under the base. `creds`: replace the
    /// `Authorization` and `chatgpt-account-id` headers with these.
    pub fn send(
        &self,
        req: &Request,
        path: &str,
        creds: Option<&Credentials>,
    ) -> Result<ureq::http::Response<ureq::Body>, &'static str> {
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(format!("{}{path}", self.base));
        let replaced = |k: &str| {
            creds.is_some()
                && (k.eq_ignore_ascii_case("authorization")
                    || k.eq_ignore_ascii_case("chatgpt-account-id"))
        };
        for (k, v) in &req.headers {
            if !hop_by_hop(k) && !replaced(k) {
                builder = builder.header(k.as_str(), v.as_str());
            }
        }
        if let Some(c) = creds {
            builder = builder.header("authorization", format!("Bearer {}", c.token.expose()));
            if let Some(id) = &c.account_id {
                builder = builder.header("chatgpt-account-id", id.as_str());
            }
        }
        let sent =
            if req.body.is_empty() && !matches!(req.method.as_str(), "POST" | "PUT" | "PATCH") {
                let r = builder.body(()).map_err(|_| "malformed request")?;
                self.agent.run(r)
            } else {
                let r = builder
                    .body(req.body.as_slice())
                    .map_err(|_| "malformed request")?;
                self.agent.run(r)
            };
        sent.map_err(describe)
    }
}

/// ureq's error as a cause without URL, header or body.
fn describe(e: ureq::Error) -> &'static str {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => "the backend did not answer in time",
        E::HostNotFound => "the backend's host was not found",
        E::ConnectionFailed => "cannot connect to the backend",
        E::Io(_) => "network error talking to the backend",
        E::Tls(_) => "TLS error talking to the backend",
        _ => "the request to the backend failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_path() {
        let b = "https://chatgpt.com/backend-api/";
        assert_eq!(origin_of(b).as_deref(), Some("https://chatgpt.com"));
        assert_eq!(path_of(b), "/backend-api");
        assert_eq!(
            origin_of("http://127.0.0.1:9").as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(path_of("http://127.0.0.1:9"), "");
        assert_eq!(origin_of("nonsense"), None);
    }
}
