//! The accept loop and one connection: check the path secret first (a
//! request without it gets 404 having had at most `http::LIMITS.line`
//! bytes read), answer a websocket upgrade with 426 (codex then uses HTTP
//! at once), forward the request, and for a model request that comes back
//! 429 `usage_limit_reached`, re-send it on the next account before codex
//! sees anything (a 401 on another account's token: codex refreshes that
//! login, and the request goes again once). Plain threads, one per
//! connection, as many as `gate` allows.
//!
//! A panic in a connection ends that connection only: each runs under
//! `catch_unwind` (the release profile unwinds; a build with
//! `panic = "abort"` is refused at compile time, see `relay/mod.rs`), the
//! accept loop too, and the panic is reported as one warning that names
//! where it happened, never its message (which could hold input).

use super::forward::{Credentials, Upstream};
use super::gate::{self, Backoff, Gate};
use super::http::{self, Framing, Request, Wire};
use super::reroute::{is_usage_limit, Outgoing, Route};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Shared {
    pub secret: String,
    pub upstream: Upstream,
    pub route: Route,
    pub stop: AtomicBool,
    pub gate: Gate,
}

/// The pause after pushing a silent connection out to free a descriptor:
/// time for its thread to close it. (At most once per waiting connection
/// in a row, so this never spins.)
const FREED_PAUSE: Duration = Duration::from_millis(5);

pub fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    accept_loop_with(listener, shared, handle);
}

/// What serves one connection ([`handle`]; tests pass others).
type Handler = fn(&Shared, &TcpStream, gate::Waiting<'_>) -> io::Result<()>;

fn accept_loop_with(listener: TcpListener, shared: Arc<Shared>, handler: Handler) {
    install_panic_hook();
    let mut backoff = Backoff::default();
    while !shared.stop.load(Ordering::SeqCst) {
        let turn = panic::catch_unwind(AssertUnwindSafe(|| {
            accept_one(&listener, &shared, &mut backoff, handler)
        }));
        if turn.is_err() {
            report_panic(&shared);
            std::thread::sleep(backoff.next());
        }
    }
}

fn accept_one(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    backoff: &mut Backoff,
    handler: Handler,
) {
    match listener.accept() {
        Ok((stream, _)) => {
            backoff.reset();
            if !shared.stop.load(Ordering::SeqCst) {
                spawn_connection(shared, stream, backoff, handler);
            }
        }
        Err(e) => match e.raw_os_error() {
            Some(libc::EINTR) | Some(libc::ECONNABORTED) => {}
            // Out of descriptors or memory: free what idles longest (never
            // a connection whose request is arriving) and try again once
            // it is closed, or wait longer each time instead of spinning.
            errno => {
                let freed = matches!(errno, Some(libc::EMFILE) | Some(libc::ENFILE))
                    && shared.gate.evict_silent();
                std::thread::sleep(if freed { FREED_PAUSE } else { backoff.next() });
            }
        },
    }
}

fn spawn_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    backoff: &mut Backoff,
    handler: Handler,
) {
    let stream = Arc::new(stream);
    let id = shared.gate.admit(stream.clone());
    let s = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("swop-relay-conn".into())
        .spawn(move || {
            let waiting = s.gate.waiting(id);
            let served = panic::catch_unwind(AssertUnwindSafe(|| {
                let _ = handler(&s, &stream, waiting);
            }));
            if served.is_err() {
                report_panic(&s);
            }
        });
    if spawned.is_err() {
        // No thread to be had: the connection is dropped (closed).
        drop(shared.gate.waiting(id));
        std::thread::sleep(backoff.next());
    }
}

thread_local! {
    /// Where the last panic on this relay thread happened (file:line).
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Once per process: a panic on a relay thread prints nothing (codex may
/// own the terminal, and the message could hold input); its place is kept
/// for [`report_panic`]. Other threads' panics go to the hook that was
/// there before.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let relay = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("swop-relay"));
            if !relay {
                return before(info);
            }
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            let _ = PANIC_AT.try_with(|p| *p.borrow_mut() = at);
        }));
    });
}

fn report_panic(shared: &Shared) {
    let at = PANIC_AT
        .try_with(|p| p.borrow_mut().take())
        .ok()
        .flatten()
        .map_or_else(String::new, |at| format!(" at {at}"));
    shared.route.notices.warn(format!(
        "the in-turn relay dropped one request after an internal error{at}; codex may retry it (please report this)"
    ));
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

/// Reads from the connection, each read bounded by what is left until
/// `deadline` and by [`gate::IDLE`]. Holds the connection's place in the
/// waiting room until the secret is checked, and tells the gate once bytes
/// come in.
struct Timed<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    waiting: Option<gate::Waiting<'a>>,
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left.min(gate::IDLE)))?;
        let mut s = self.stream;
        let n = s.read(buf)?;
        if n > 0 {
            if let Some(w) = self.waiting.as_mut() {
                w.heard();
            }
        }
        Ok(n)
    }
}

/// One connection: the request line first (the secret), then the rest.
fn handle(shared: &Shared, stream: &TcpStream, waiting: gate::Waiting<'_>) -> io::Result<()> {
    let accepted = Instant::now();
    stream.set_write_timeout(Some(gate::IDLE))?;
    let mut out = stream;
    let mut wire = Wire::new(Timed {
        stream,
        deadline: accepted + gate::LINE_WITHIN,
        waiting: Some(waiting),
    });
    let mut serving = None;
    let read = http::read_request(
        &mut wire,
        &http::LIMITS,
        &shared.gate.budget,
        |timed, line| {
            strip_secret(&line.target, &shared.secret)
                .ok_or(http::Refusal::Status(404, "not found"))?;
            timed.waiting = None; // past the gate: out of the waiting room
            serving = Some(
                shared
                    .gate
                    .serve()
                    .ok_or(http::Refusal::Status(503, "the relay is busy; try again"))?,
            );
            timed.deadline = accepted + gate::REQUEST_WITHIN;
            Ok(())
        },
    );
    let req = match read {
        Ok(req) => req,
        Err(http::Refusal::Gone) => return Ok(()),
        Err(http::Refusal::Status(404, _)) => {
            return http::answer(&mut out, 404, r#"{"error":{"message":"not found"}}"#)
        }
        Err(http::Refusal::Status(code, why)) => {
            let body = serde_json::json!({"error": {"message": format!("swop relay: {why}")}});
            return http::answer(&mut out, code, &body.to_string());
        }
    };
    let _serving = serving;
    serve(shared, &req, &mut out)
}

/// A whole request from codex (its secret checked): forwarded, or failed
/// over when it is a model turn.
fn serve(shared: &Shared, req: &Request, out: &mut &TcpStream) -> io::Result<()> {
    let path = strip_secret(&req.target, &shared.secret).unwrap_or("");
    let path = if path.is_empty() { "/" } else { path };
    if req.header("upgrade").is_some() {
        return http::answer(
            out,
            426,
            r#"{"error":{"message":"websocket not relayed; use HTTP"}}"#,
        );
    }
    if !is_model_request(&req.method, path) {
        return match shared.upstream.send(req, path, None) {
            Ok(resp) => stream_back(resp, req, out),
            Err(why) => bad_gateway(out, why),
        };
    }
    model_turn(shared, req, path, out)
}

/// A model request: on the account the route says, then on the next ones
/// while the answer is a usage-limit 429. A 401 on credentials the relay
/// put on (another account's) is not codex's to fix: codex refreshes that
/// login in its own home and the request goes again, once per account;
/// still refused, that account is left for the next one. When none is
/// left, codex gets the first refusal as it came.
fn model_turn(shared: &Shared, req: &Request, path: &str, out: &mut &TcpStream) -> io::Result<()> {
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
    out: &mut &TcpStream,
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
    use crate::relay::{notices, reroute};
    use std::net::{Ipv4Addr, Shutdown};
    use std::time::Duration;

    fn shared(home: &std::path::Path) -> Arc<Shared> {
        let paths = crate::base::paths::Paths {
            home: home.to_path_buf(),
        };
        let cfg = crate::config::Config::default();
        let codex = crate::codex::Codex::if_present(&cfg, &paths);
        let accounts = reroute::Accounts {
            paths,
            cfg,
            codex,
            all: Vec::new(),
            launched: "a".into(),
            pick: Box::new(|_| None),
        };
        Arc::new(Shared {
            secret: "s".into(),
            upstream: Upstream::new("http://127.0.0.1:9".into()),
            route: Route::new(accounts, notices::Notices::new(notices::When::AfterExit)),
            stop: AtomicBool::new(false),
            gate: Gate::default(),
        })
    }

    /// Panics on `GET /boom`, answers 200 to anything else.
    fn boom(_: &Shared, stream: &TcpStream, _: gate::Waiting<'_>) -> io::Result<()> {
        let mut line = [0u8; 9];
        (&*stream).read_exact(&mut line)?;
        if &line == b"GET /boom" {
            panic!("boom");
        }
        http::answer(&mut &*stream, 200, "{}")
    }

    fn ask(port: u16, path: &str) -> String {
        let mut c = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
            .unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        let _ = c.read_to_string(&mut got);
        got
    }

    #[test]
    fn a_panic_in_one_connection_ends_that_connection_only() {
        let home = std::env::temp_dir().join(format!("swop-relay-panic-{}", std::process::id()));
        let shared = shared(&home);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = shared.clone();
        std::thread::spawn(move || accept_loop_with(listener, s, boom));
        assert!(ask(port, "/fine").starts_with("HTTP/1.1 200"));
        assert_eq!(ask(port, "/boom"), "", "the panicking connection is closed");
        // The relay still serves, and said once what happened (held until
        // codex exits, as under the TUI).
        assert!(ask(port, "/fine").starts_with("HTTP/1.1 200"));
        let held = shared.route.notices.held();
        assert_eq!(held.len(), 1, "{held:?}");
        assert!(
            held[0].contains("internal error at src/relay/server.rs:"),
            "{held:?}"
        );
        assert!(!held[0].contains("boom"), "the message is never shown");
        shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, port));
        let _ = std::fs::remove_dir_all(&home);
    }

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
