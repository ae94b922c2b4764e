//! The accept loop and one connection: check the path secret, answer a
//! websocket upgrade with 426 (codex then uses HTTP at once), forward the
//! request, and for a model request that comes back 429
//! `usage_limit_reached`, re-send it on the next account before codex sees
//! anything (a 401 on another account's token: codex refreshes that login,
//! and the request goes again once). Plain threads: one per connection, a
//! handful per turn.

use super::failover::{is_usage_limit, Outgoing, Route};
use super::forward::{Credentials, Upstream};
use super::http::{self, Framing, Request};
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Shared {
    pub secret: String,
    pub upstream: Upstream,
    pub route: Route,
    pub stop: AtomicBool,
}

pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let s = shared.clone();
        let _ = std::thread::Builder::new()
            .name("swop-relay-conn".into())
            .spawn(move || {
                let _ = handle(&s, stream);
            });
    }
}

/// The path after `/<secret>`, or None when the target does not start with it.
fn strip_secret<'a>(target: &'a str, secret: &str) -> Option<&'a str> {
    let rest = target.strip_prefix('/')?.strip_prefix(secret)?;
    (rest.starts_with('/') || rest.starts_with('?') || rest.is_empty()).then_some(rest)
}

/// A request that runs a model turn (and so spends the account's quota):
/// `POST .../responses` and its sub-paths (`/responses/compact`).
fn is_model_request(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or("");
    method.eq_ignore_ascii_case("POST") && path.split('/').any(|seg| seg == "responses")
}

fn handle(shared: &Shared, stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let req = http::read_request(&mut reader)?;
    let Some(path) = strip_secret(&req.target, &shared.secret) else {
        return http::answer(&mut out, 404, r#"{"error":{"message":"not found"}}"#);
    };
    let path = if path.is_empty() { "/" } else { path };
    if req.header("upgrade").is_some() {
        return http::answer(
            &mut out,
            426,
            r#"{"error":{"message":"websocket not relayed; use HTTP"}}"#,
        );
    }
    if !is_model_request(&req.method, path) {
        return match shared.upstream.send(&req, path, None) {
            Ok(resp) => stream_back(resp, &req, &mut out),
            Err(why) => bad_gateway(&mut out, why),
        };
    }
    model_turn(shared, &req, path, &mut out)
}

/// A model request: on the account the route says, then on the next ones
/// while the answer is a usage-limit 429. A 401 on credentials the relay
/// put on (another account's) is not codex's to fix: codex refreshes that
/// login in its own home and the request goes again, once per account;
/// still refused, that account is left for the next one. When none is
/// left, codex gets the first refusal as it came.
fn model_turn(shared: &Shared, req: &Request, path: &str, out: &mut TcpStream) -> io::Result<()> {
    let (mut account, mut creds): (String, Option<Credentials>) =
        match shared.route.outgoing(req.header("authorization")) {
            Outgoing::Ours(on) => on,
            Outgoing::Foreign => {
                return match shared.upstream.send(req, path, None) {
                    Ok(resp) => stream_back(resp, req, out),
                    Err(why) => bad_gateway(out, why),
                }
            }
        };
    let mut first_refusal: Option<Refusal> = None;
    // Accounts whose refused login codex has refreshed for this request.
    let mut refreshed: Vec<String> = Vec::new();
    loop {
        let resp = match shared.upstream.send(req, path, creds.as_ref()) {
            Ok(r) => r,
            Err(why) => return bad_gateway(out, why),
        };
        shared.route.record_usage(&account, |name| {
            resp.headers().get(name).and_then(|v| v.to_str().ok())
        });
        let status = resp.status().as_u16();
        let next = match (status, &creds) {
            (429, _) => {
                let refusal = Refusal::read(resp)?;
                let next = is_usage_limit(&refusal.body)
                    .then(|| shared.route.after_limit(&account))
                    .flatten();
                first_refusal.get_or_insert(refusal);
                next
            }
            (401, Some(refused)) => {
                first_refusal.get_or_insert(Refusal::read(resp)?);
                after_unauthorized(shared, &account, refused, &mut refreshed)
            }
            _ => return stream_back(resp, req, out),
        };
        match next {
            Some((name, c)) => {
                account = name;
                creds = Some(c);
            }
            None => return first_refusal.map_or(Ok(()), |r| r.write(out)),
        }
    }
}

/// `account`'s token, put on the request by the relay, was refused: the
/// same account with the token codex refreshed (once per request and
/// account), else the next account, else None.
fn after_unauthorized(
    shared: &Shared,
    account: &str,
    refused: &Credentials,
    refreshed: &mut Vec<String>,
) -> Option<(String, Credentials)> {
    if !refreshed.iter().any(|n| n == account) {
        refreshed.push(account.to_string());
        if let Ok(fresh) = shared.route.refreshed_after_refusal(account, refused) {
            return Some((account.to_string(), fresh));
        }
    }
    shared.route.after_refused_login(account)
}

/// A refusal as it came (its body read whole: it is small).
struct Refusal {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Refusal {
    fn read(resp: ureq::http::Response<ureq::Body>) -> io::Result<Refusal> {
        let (parts, body) = resp.into_parts();
        let mut bytes = Vec::new();
        body.into_reader().take(1 << 20).read_to_end(&mut bytes)?;
        Ok(Refusal {
            status: parts.status.as_u16(),
            headers: header_list(&parts.headers),
            body: bytes,
        })
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let len = self.body.len() as u64;
        http::write_head(out, self.status, &self.headers, Framing::Length(len))?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn header_list(h: &ureq::http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Status and headers as they came, then the body as it arrives.
fn stream_back(
    resp: ureq::http::Response<ureq::Body>,
    req: &Request,
    out: &mut TcpStream,
) -> io::Result<()> {
    let (parts, body) = resp.into_parts();
    let status = parts.status.as_u16();
    let no_body = req.method.eq_ignore_ascii_case("HEAD") || matches!(status, 204 | 304);
    let length = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| !parts.headers.contains_key("transfer-encoding"));
    let framing = match (no_body, length) {
        (true, _) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::Chunked,
    };
    http::write_head(out, status, &header_list(&parts.headers), framing)?;
    http::copy_body(&mut body.into_reader(), out, framing)
}

fn bad_gateway(out: &mut impl Write, why: &str) -> io::Result<()> {
    let body = serde_json::json!({"error": {"message": format!("swop relay: {why}")}});
    http::answer(out, 502, &body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_prefix_is_required() {
        assert_eq!(
            strip_secret("/abc/v1/responses", "abc"),
            Some("/v1/responses")
        );
        assert_eq!(strip_secret("/abc", "abc"), Some(""));
        assert_eq!(strip_secret("/abc?x=1", "abc"), Some("?x=1"));
        assert_eq!(strip_secret("/abcd/v1", "abc"), None);
        assert_eq!(strip_secret("/v1/responses", "abc"), None);
        assert_eq!(strip_secret("abc/v1", "abc"), None);
    }

    #[test]
    fn model_requests() {
        assert!(is_model_request("POST", "/backend-api/codex/responses"));
        assert!(is_model_request("POST", "/v1/responses/compact?x=1"));
        assert!(!is_model_request("GET", "/backend-api/codex/responses"));
        assert!(!is_model_request(
            "POST",
            "/backend-api/codex/analytics-events/events"
        ));
        assert!(!is_model_request("POST", "/responsesx"));
    }
}
