//! A fake ChatGPT/OpenAI backend on 127.0.0.1 (the "loopback rig").
//!
//! One thread per connection, a minimal HTTP/1.1 parser, one request per
//! connection, `Connection: close` answers. Serves the usage endpoint per
//! ChatGPT account id (with injectable faults), the model endpoint
//! `/v1/responses` (SSE, usage-limit 429, 401), the token refresh and revoke
//! endpoints, the workspace check the TUI needs (`/wham/accounts/check`),
//! and 404 `{}` for everything else. Every request is logged.
//!
//! The same routes are served over plain HTTP (`url()`) and over TLS
//! (`https_url()`, certificate from `tls::self_signed_for_loopback`, trusted
//! by codex through `CODEX_CA_CERTIFICATE`; see `tls_env`).
//!
//! Token checks, like the real service: a request whose bearer token is one
//! of our JWTs is answered 401 when the token is expired or when its
//! `chatgpt_account_id` claim differs from the `ChatGPT-Account-Id` header,
//! or was revoked (`revoke_token`). Turn this off with `set_check_tokens(false)`.
//!
//! Dropping the `Backend` stops the accept loop and makes hung handlers
//! (`Fault::Hang`, `Fault::SlowBytes`, delays) close their connections.

use super::fixtures::{self, Identity};
use super::tls;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// A way for the usage endpoint to misbehave for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// This status with this body (content type application/json).
    Status(u16, String),
    /// 502 with an HTML page, like a proxy in front of the service.
    Html502,
    /// 200, `application/json`, a body that is not JSON.
    NotJson,
    /// 200 with valid JSON of the wrong shape.
    WrongShape,
    /// 200 with an empty body.
    Empty,
    /// Read the request and never answer (until the Backend is dropped).
    Hang,
    /// Headers at once, then one byte per second of a valid usage body (the
    /// account's usage if set, else a default one).
    SlowBytes,
    /// 429 with `Retry-After: <secs>`.
    RetryAfter429(u64),
    /// 302 to this location.
    Redirect(String),
}

/// How `POST /v1/responses` answers for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Responses {
    /// 200 SSE stream whose assistant message is this text.
    Ok(String),
    /// 429 `usage_limit_reached`; also flips the account's usage (if set)
    /// to limit reached with the weekly window at 100 %.
    UsageLimit { resets_at: i64 },
    /// 401 token expired.
    Unauthorized,
}

/// How `POST /oauth/token` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshBehavior {
    /// 401 `refresh_token_expired` (the default).
    Fail401,
    /// 200 with fresh tokens for this identity (access token valid 1 h).
    Succeed(Identity),
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// The path without the query string, repeated slashes collapsed.
    pub path: String,
    /// The request target as sent.
    pub target: String,
    pub authorization: Option<String>,
    pub account_id: Option<String>,
    pub user_agent: Option<String>,
    /// All headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The request body as text (bodies over 1 MiB are cut; zstd bodies
    /// read as noise).
    pub body: String,
}

impl Req {
    /// The bearer token, if the Authorization header carries one.
    pub fn bearer(&self) -> Option<&str> {
        bearer_of(self.authorization.as_deref())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn bearer_of(authorization: Option<&str>) -> Option<&str> {
    let a = authorization?.trim();
    let (scheme, rest) = a.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.trim())
    } else {
        None
    }
}

#[derive(Default)]
struct State {
    usage: HashMap<String, Value>,
    faults: HashMap<String, Fault>,
    usage_delay: Duration,
    responses: HashMap<String, Responses>,
    turn_headers: HashMap<String, Vec<(String, String)>>,
    refresh: Option<RefreshBehavior>,
    no_token_checks: bool,
    /// Access tokens answered 401 although they have not expired.
    revoked: Vec<String>,
    /// `workspace_backend_origin` per account id (default NO_CONSTRAINT).
    workspace_origin: HashMap<String, String>,
    requests: Vec<Req>,
    /// Usage bodies that replace an account's from a time (Unix s) on.
    scheduled_usage: HashMap<String, (i64, Value)>,
    /// How the reset-credit consume endpoint answers, per account.
    consume: HashMap<String, Consume>,
    /// Consume request ids that already reset a limit.
    redeemed: Vec<String>,
}

/// How `POST /backend-api/wham/rate-limit-reset-credits/consume` answers
/// for one account (the body codex sends: `{"redeem_request_id": KEY}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consume {
    /// Answer the first this-many requests with HTTP 500 (nothing done).
    pub fail_first: u32,
    /// Then carry out this-many requests but answer them 500 anyway: the
    /// answer is lost on the way, as after a dropped connection.
    pub lose_first: u32,
    /// Then `{"code": ...}`: "reset" (resets the account's usage to 0 %
    /// and takes one of its `rate_limit_reset_credits`), "nothing_to_reset",
    /// "no_credit". A request id that already reset is answered
    /// "already_redeemed", as the service does.
    pub code: &'static str,
}

struct Shared {
    state: Mutex<State>,
    shutdown: AtomicBool,
    port: u16,
    tls_port: u16,
    /// Usage requests being answered right now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Counts a usage request as in flight while it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(s: &'a Shared) -> InFlight<'a> {
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Sleep `d`, waking early on shutdown. Returns false on shutdown.
    fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if self.down() {
                return false;
            }
            thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
        !self.down()
    }
}

/// The fake backend. Start with `Backend::start()`; stops on drop.
pub struct Backend {
    shared: Arc<Shared>,
    accept: Vec<thread::JoinHandle<()>>,
    cert_pem: String,
}

/// Accept connections until shutdown, one handler thread each.
fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    serve: impl Fn(&Shared, TcpStream) + Send + Sync + Clone + 'static,
) -> thread::JoinHandle<()> {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    thread::Builder::new()
        .name(format!("backend-{port}"))
        .spawn(move || {
            for conn in listener.incoming() {
                if shared.down() {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let (s2, serve) = (shared.clone(), serve.clone());
                let _ = thread::Builder::new()
                    .name(format!("backend-{port}-conn"))
                    .spawn(move || serve(&s2, stream));
            }
        })
        .expect("spawn accept thread")
}

impl Backend {
    pub fn start() -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let tls_listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let tls_port = tls_listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            shutdown: AtomicBool::new(false),
            port,
            tls_port,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let identity = tls::self_signed_for_loopback();
        let config = identity.config.clone();
        let plain = accept_loop(shared.clone(), listener, |s, stream| {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
            handle(s, stream)
        });
        let secure = accept_loop(shared.clone(), tls_listener, move |s, stream| {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
            if let Ok(tls_stream) = tls::accept(&config, stream) {
                handle(s, tls_stream)
            }
        });
        Backend {
            shared,
            accept: vec![plain, secure],
            cert_pem: identity.cert_pem,
        }
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `https://127.0.0.1:TLS_PORT`: the same routes over TLS.
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.shared.tls_port)
    }

    /// `https://127.0.0.1:TLS_PORT/backend-api` (the TUI's `chatgpt_base_url`).
    pub fn https_backend_api(&self) -> String {
        format!("{}/backend-api", self.https_url())
    }

    /// The TLS certificate (PEM) codex must trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Write the certificate to `dir/backend-cert.pem` and return the
    /// variables that make codex trust it (`CODEX_CA_CERTIFICATE`) plus
    /// the refresh/revoke overrides of `rig_env`.
    pub fn tls_env(&self, dir: &std::path::Path) -> Vec<(String, String)> {
        let path = dir.join("backend-cert.pem");
        std::fs::write(&path, &self.cert_pem).expect("write backend cert");
        let mut v = vec![(
            "CODEX_CA_CERTIFICATE".to_string(),
            path.display().to_string(),
        )];
        v.extend(self.rig_env());
        v
    }

    /// config.toml lines for the TUI: https `chatgpt_base_url`, and the
    /// model endpoint over TLS as well.
    pub fn rig_config_toml_tls(&self) -> String {
        format!(
            "chatgpt_base_url = \"{}/\"\nopenai_base_url = \"{}/v1\"\n",
            self.https_backend_api(),
            self.https_url()
        )
    }

    /// The most usage requests that were being answered at the same time
    /// (proves parallel fetching without timing anything).
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// `http://127.0.0.1:PORT/backend-api` (the `chatgpt_base_url`).
    pub fn backend_api(&self) -> String {
        format!("{}/backend-api", self.url())
    }

    /// The usage body for one ChatGPT account id; clears its fault.
    pub fn set_usage(&self, account_id: &str, usage: Value) {
        let mut st = self.shared.lock();
        st.faults.remove(account_id);
        st.usage.insert(account_id.to_string(), usage);
    }

    /// The account's current usage body (after any 429 flip).
    pub fn usage(&self, account_id: &str) -> Option<Value> {
        self.shared.lock().usage.get(account_id).cloned()
    }

    /// Make the usage endpoint misbehave for one account (the usage body,
    /// if any, is kept for `SlowBytes` and for after `clear_usage_fault`).
    pub fn set_usage_fault(&self, account_id: &str, fault: Fault) {
        self.shared
            .lock()
            .faults
            .insert(account_id.to_string(), fault);
    }

    pub fn clear_usage_fault(&self, account_id: &str) {
        self.shared.lock().faults.remove(account_id);
    }

    /// Wait this long before answering every usage request.
    pub fn set_usage_delay(&self, delay: Duration) {
        self.shared.lock().usage_delay = delay;
    }

    /// How `POST /v1/responses` answers for one account id.
    pub fn set_responses(&self, account_id: &str, r: Responses) {
        self.shared
            .lock()
            .responses
            .insert(account_id.to_string(), r);
    }

    /// Headers added to every `POST .../responses` answer for one account
    /// id (e.g. the `x-codex-*` rate limits).
    pub fn set_turn_headers(&self, account_id: &str, headers: &[(&str, &str)]) {
        self.shared.lock().turn_headers.insert(
            account_id.to_string(),
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }

    /// Rate-limit headers on every 200 `POST /v1/responses` for one account
    /// id, as the real backend sends them with each model turn: the 5-hour
    /// window (`primary`) and the weekly one (`secondary`) used%, their
    /// lengths and reset times. codex records them in its session rollout.
    pub fn set_rate_headers(&self, account_id: &str, five_hour: f64, weekly: f64) {
        let now = fixtures::now_unix();
        let h = |k: &str, v: String| (format!("x-codex-{k}"), v);
        let headers = vec![
            h("primary-used-percent", five_hour.to_string()),
            h("primary-window-minutes", "300".into()),
            h("primary-reset-at", (now + 3600).to_string()),
            h("secondary-used-percent", weekly.to_string()),
            h("secondary-window-minutes", "10080".into()),
            h("secondary-reset-at", (now + 5 * 86400).to_string()),
        ];
        self.shared
            .lock()
            .turn_headers
            .insert(account_id.to_string(), headers);
    }

    /// How `POST /oauth/token` answers (default `Fail401`).
    pub fn set_refresh(&self, r: RefreshBehavior) {
        self.shared.lock().refresh = Some(r);
    }

    /// Check bearer JWTs (expiry, account match) on usage and responses.
    /// On by default.
    pub fn set_check_tokens(&self, on: bool) {
        self.shared.lock().no_token_checks = !on;
    }

    /// Answer this access token 401 `token_revoked` (usage and turns)
    /// though it has not expired, as the service does for a login that was
    /// signed out elsewhere; a refresh still works.
    pub fn revoke_token(&self, token: &str) {
        self.shared.lock().revoked.push(token.to_string());
    }

    /// From `at` (Unix s) on, the usage endpoint answers `usage` for this
    /// account (what an account looks like once its announced reset came).
    pub fn set_usage_from(&self, account_id: &str, at: i64, usage: Value) {
        self.shared
            .lock()
            .scheduled_usage
            .insert(account_id.to_string(), (at, usage));
    }

    /// How the reset-credit consume endpoint answers for this account
    /// (default: 404, as for an unknown route).
    pub fn set_consume(&self, account_id: &str, c: Consume) {
        self.shared.lock().consume.insert(account_id.to_string(), c);
    }

    /// Binds an account's workspace to its own backend origin (data
    /// residency) in the `/wham/accounts/check` answer.
    pub fn set_workspace_origin(&self, account_id: &str, origin: &str) {
        self.shared
            .lock()
            .workspace_origin
            .insert(account_id.to_string(), origin.to_string());
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Req> {
        self.shared.lock().requests.clone()
    }

    /// Requests whose path starts with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .count()
    }

    /// The bearer tokens of the requests whose path starts with
    /// `path_prefix`, in order.
    pub fn bearer_tokens_for(&self, path_prefix: &str) -> Vec<String> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .filter_map(|r| r.bearer().map(str::to_string))
            .collect()
    }

    /// The account ids (header) of the requests under `path_prefix`.
    pub fn account_ids_for(&self, path_prefix: &str) -> Vec<String> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(path_prefix))
            .filter_map(|r| r.account_id.clone())
            .collect()
    }

    /// Wait until at least `n` requests under `path_prefix` arrived.
    pub fn wait_for(&self, path_prefix: &str, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if self.count(path_prefix) >= n {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// `-c` pairs pointing the real codex at this backend.
    pub fn codex_rig_args(&self) -> Vec<String> {
        vec![
            "-c".to_string(),
            format!("chatgpt_base_url=\"{}/\"", self.backend_api()),
            "-c".to_string(),
            format!("openai_base_url=\"{}/v1\"", self.url()),
        ]
    }

    /// The same two keys as config.toml lines.
    pub fn rig_config_toml(&self) -> String {
        format!(
            "chatgpt_base_url = \"{}/\"\nopenai_base_url = \"{}/v1\"\n",
            self.backend_api(),
            self.url()
        )
    }

    /// Refresh and revoke URL overrides pointing here.
    pub fn rig_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CODEX_REFRESH_TOKEN_URL_OVERRIDE".to_string(),
                format!("{}/oauth/token", self.url()),
            ),
            (
                "CODEX_REVOKE_TOKEN_URL_OVERRIDE".to_string(),
                format!("{}/oauth/revoke", self.url()),
            ),
        ]
    }

    /// Env for the fake codex to exec the real one (for everything except
    /// login/logout) with this rig: `FAKE_DELEGATE_REAL`,
    /// `FAKE_DELEGATE_RIG_URL` (the script adds the two `-c` keys) and the
    /// `rig_env` overrides.
    pub fn delegate_env(&self, real_codex: &std::path::Path) -> Vec<(String, String)> {
        let mut v = vec![
            (
                "FAKE_DELEGATE_REAL".to_string(),
                real_codex.display().to_string(),
            ),
            ("FAKE_DELEGATE_RIG_URL".to_string(), self.url()),
        ];
        v.extend(self.rig_env());
        v
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accepts; join only if the wake-up got through
        // (never hang a test in drop).
        let ports = [self.shared.port, self.shared.tls_port];
        for (port, h) in ports.into_iter().zip(self.accept.drain(..)) {
            let woke = TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(500),
            )
            .is_ok();
            if woke {
                let _ = h.join();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// connection handling

/// A connection the handler can serve: plain TCP or TLS over TCP. The
/// socket has a short read timeout (see `read_some`).
trait Conn: Read + Write {
    /// Finish the answer: half-close (after close_notify for TLS).
    fn close_write(&mut self);
}

impl Conn for TcpStream {
    fn close_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Conn for tls::TlsStream {
    fn close_write(&mut self) {
        tls::close(self);
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read from the stream with a short timeout, giving up on shutdown or
/// after 30 s of silence.
fn read_some(shared: &Shared, stream: &mut impl Conn, buf: &mut [u8]) -> io::Result<usize> {
    let start = Instant::now();
    loop {
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::TimedOut
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                if shared.down() || start.elapsed() > Duration::from_secs(30) {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "gave up"));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn read_request(shared: &Shared, stream: &mut impl Conn) -> io::Result<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too big"));
        }
        let n = read_some(shared, stream, &mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut rest = buf[head_end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut req = Request {
        method,
        path: target,
        headers,
        body: Vec::new(),
    };
    // Read the body (kept up to 1 MiB).
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while rest.len() < len {
            let n = read_some(shared, stream, &mut chunk)?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
    } else if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        // Read until the terminating zero-length chunk.
        while !chunked_complete(&rest) {
            let n = read_some(shared, stream, &mut chunk)?;
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
    }
    rest.truncate(1 << 20);
    req.body = rest;
    Ok(req)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a chunked body is complete (walks the chunk sizes).
fn chunked_complete(body: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let Some(eol) = find(&body[i..], b"\r\n") else {
            return false;
        };
        let size_text = String::from_utf8_lossy(&body[i..i + eol]).to_string();
        let size_text = size_text.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_text, 16) else {
            return true; // garbage: stop reading
        };
        i += eol + 2;
        if size == 0 {
            return find(&body[i..], b"\r\n").is_some();
        }
        if body.len() < i + size + 2 {
            return false;
        }
        i += size + 2;
    }
}

fn normalize_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or("");
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

struct Answer {
    status: u16,
    content_type: &'static str,
    extra_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            extra_headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }

    fn raw(status: u16, content_type: &'static str, body: &str) -> Answer {
        Answer {
            status,
            content_type,
            extra_headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head_bytes(a: &Answer) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        a.status,
        reason(a.status),
        a.content_type,
        a.body.len()
    );
    for (k, v) in &a.extra_headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn send(stream: &mut impl Conn, a: &Answer) {
    let mut bytes = head_bytes(a);
    bytes.extend_from_slice(&a.body);
    let _ = stream.write_all(&bytes);
    let _ = stream.flush();
}

fn handle(shared: &Shared, mut stream: impl Conn) {
    let Ok(req) = read_request(shared, &mut stream) else {
        return;
    };
    let path = normalize_path(&req.path);
    let authorization = req.header("authorization").map(str::to_string);
    let account_id = req.header("chatgpt-account-id").map(str::to_string);
    shared.lock().requests.push(Req {
        method: req.method.clone(),
        path: path.clone(),
        target: req.path.clone(),
        authorization: authorization.clone(),
        account_id: account_id.clone(),
        user_agent: req.header("user-agent").map(str::to_string),
        headers: req.headers.clone(),
        body: String::from_utf8_lossy(&req.body).into_owned(),
    });
    let account = account_id.clone().unwrap_or_default();
    let method = req.method.to_ascii_uppercase();

    let answer = match (method.as_str(), path.as_str()) {
        ("GET", "/backend-api/wham/usage") | ("GET", "/api/codex/usage") => {
            let _counted = InFlight::enter(shared);
            match usage_answer(shared, &mut stream, &account, authorization.as_deref()) {
                Some(a) => a,
                None => return, // handled (hang, slow bytes) or shut down
            }
        }
        // The model path: `/v1` (openai_base_url of the rig's config) and
        // `/backend-api/codex`, where codex sends turns under a ChatGPT login
        // by default (and where swop's in-turn relay sends them).
        ("GET", "/v1/responses" | "/backend-api/codex/responses")
            if req.header("upgrade").is_some() =>
        {
            Answer::json(
                426,
                &json!({"error": {"message": "websocket not supported here"}}),
            )
        }
        ("POST", "/v1/responses" | "/backend-api/codex/responses") => {
            responses_answer(shared, &account, authorization.as_deref())
        }
        ("GET", "/backend-api/wham/accounts/check") => {
            accounts_check_answer(shared, &account, authorization.as_deref())
        }
        ("POST", "/backend-api/wham/rate-limit-reset-credits/consume") => {
            consume_answer(shared, &account, authorization.as_deref(), &req.body)
        }
        ("POST", "/oauth/token") => refresh_answer(shared),
        ("POST", "/oauth/revoke") => Answer::json(200, &json!({})),
        _ => Answer::json(404, &json!({})),
    };
    send(&mut stream, &answer);
    stream.close_write();
}

/// The workspace routing check codex makes when its model provider is the
/// ChatGPT backend (and the TUI at start): the bearer's account (header,
/// else the JWT claim), unconstrained unless `set_workspace_origin` binds it
/// to its own backend. Without it codex fails with
/// "workspace routing discovery failed".
fn accounts_check_answer(shared: &Shared, account: &str, authorization: Option<&str>) -> Answer {
    let from_token = || {
        let claims = fixtures::decode_jwt(bearer_of(authorization)?)?;
        claims[fixtures::AUTH_CLAIMS]["chatgpt_account_id"]
            .as_str()
            .map(str::to_string)
    };
    let id = if account.is_empty() {
        from_token().unwrap_or_default()
    } else {
        account.to_string()
    };
    if id.is_empty() {
        return Answer::json(401, &json!({"error": {"message": "no account"}}));
    }
    let origin = shared
        .lock()
        .workspace_origin
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "NO_CONSTRAINT".into());
    Answer::json(
        200,
        &json!({
            "accounts": [{"id": id, "plan_type": "plus",
                "workspace_backend_origin": origin,
                "account_routing_override": "NO_CONSTRAINT"}],
            "account_ordering": [id],
        }),
    )
}

/// 401 if the bearer token is one of our JWTs and is expired or belongs to
/// another account; also 401 when there is no bearer token at all.
fn token_problem(shared: &Shared, account: &str, authorization: Option<&str>) -> Option<Answer> {
    if shared.lock().no_token_checks {
        return None;
    }
    let Some(token) = bearer_of(authorization) else {
        return Some(Answer::json(
            401,
            &json!({"error": {"message": "Missing bearer authentication.", "code": "missing_auth"}}),
        ));
    };
    if shared.lock().revoked.iter().any(|t| t == token) {
        return Some(Answer::json(
            401,
            &json!({"error": {
                "message": "Your authentication token has been invalidated.",
                "type": "invalid_request_error",
                "code": "token_revoked"}}),
        ));
    }
    let claims = fixtures::decode_jwt(token)?;
    if let Some(exp) = claims.get("exp").and_then(Value::as_i64) {
        if exp <= fixtures::now_unix() {
            return Some(Answer::json(
                401,
                &json!({"error": {
                    "message": "Provided authentication token is expired. Please try signing in again.",
                    "type": "invalid_request_error",
                    "code": "token_expired"}}),
            ));
        }
    }
    let claimed = claims[fixtures::AUTH_CLAIMS]["chatgpt_account_id"].as_str();
    if let Some(claimed) = claimed {
        if !account.is_empty() && claimed != account {
            return Some(Answer::json(
                401,
                &json!({"error": {"message": "token does not match ChatGPT-Account-Id", "code": "account_mismatch"}}),
            ));
        }
    }
    None
}

/// The reset-credit consume endpoint, as `set_consume` says; a request id
/// that already reset answers "already_redeemed".
fn consume_answer(
    shared: &Shared,
    account: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Answer {
    if let Some(a) = token_problem(shared, account, authorization) {
        return a;
    }
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["redeem_request_id"].as_str().map(str::to_string));
    let Some(id) = id else {
        return Answer::json(400, &json!({"error": {"message": "no redeem_request_id"}}));
    };
    let mut st = shared.lock();
    let Some(c) = st.consume.get_mut(account) else {
        return Answer::json(404, &json!({}));
    };
    if c.fail_first > 0 {
        c.fail_first -= 1;
        return Answer::json(500, &json!({"error": {"message": "try again"}}));
    }
    let code = c.code;
    let lose = c.lose_first > 0;
    c.lose_first = c.lose_first.saturating_sub(1);
    let code = if st.redeemed.contains(&id) {
        "already_redeemed"
    } else {
        if code == "reset" {
            st.redeemed.push(id);
            if let Some(u) = st.usage.get_mut(account) {
                reset_usage(u);
            }
        }
        code
    };
    if lose {
        return Answer::json(
            500,
            &json!({"error": {"message": "upstream connection reset"}}),
        );
    }
    Answer::json(200, &json!({"code": code}))
}

/// What a reset does to a usage body: both windows at 0 %, usable, one
/// reset credit fewer.
pub fn reset_usage(u: &mut Value) {
    let rl = &mut u["rate_limit"];
    rl["limit_reached"] = json!(false);
    rl["allowed"] = json!(true);
    for w in ["primary_window", "secondary_window"] {
        if rl[w].is_object() {
            rl[w]["used_percent"] = json!(0);
        }
    }
    u["rate_limit_reached_type"] = Value::Null;
    if let Some(n) = u["rate_limit_reset_credits"]["available_count"].as_i64() {
        u["rate_limit_reset_credits"]["available_count"] = json!((n - 1).max(0));
    }
}

fn usage_answer(
    shared: &Shared,
    stream: &mut impl Conn,
    account: &str,
    authorization: Option<&str>,
) -> Option<Answer> {
    let (delay, fault, usage) = {
        let mut st = shared.lock();
        let due = st
            .scheduled_usage
            .get(account)
            .is_some_and(|(at, _)| fixtures::now_unix() >= *at);
        if due {
            let (_, u) = st.scheduled_usage.remove(account).expect("due");
            st.usage.insert(account.to_string(), u);
        }
        (
            st.usage_delay,
            st.faults.get(account).cloned(),
            st.usage.get(account).cloned(),
        )
    };
    if !delay.is_zero() && !shared.sleep(delay) {
        return None;
    }
    match fault {
        Some(Fault::Status(code, body)) => {
            return Some(Answer::raw(code, "application/json", &body));
        }
        Some(Fault::Html502) => {
            return Some(Answer::raw(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            ));
        }
        Some(Fault::NotJson) => {
            return Some(Answer::raw(200, "application/json", "this is not json {"));
        }
        Some(Fault::WrongShape) => {
            return Some(Answer::json(
                200,
                &json!({"rate_limit": "full", "plan_type": 7, "primary_window": [1, 2, 3]}),
            ));
        }
        Some(Fault::Empty) => return Some(Answer::raw(200, "application/json", "")),
        Some(Fault::Hang) => {
            while shared.sleep(Duration::from_millis(200)) {}
            return None;
        }
        Some(Fault::SlowBytes) => {
            let body = usage.unwrap_or_else(|| fixtures::usage_json("plus", 10.0, 20.0));
            let a = Answer::json(200, &body);
            if stream.write_all(&head_bytes(&a)).is_err() {
                return None;
            }
            for b in &a.body {
                let _ = stream.flush();
                if !shared.sleep(Duration::from_secs(1)) || stream.write_all(&[*b]).is_err() {
                    return None;
                }
            }
            stream.close_write();
            return None;
        }
        Some(Fault::RetryAfter429(secs)) => {
            let mut a = Answer::json(
                429,
                &json!({"error": {"message": "Too many requests", "type": "rate_limited"}}),
            );
            a.extra_headers
                .push(("Retry-After".to_string(), secs.to_string()));
            return Some(a);
        }
        Some(Fault::Redirect(location)) => {
            let mut a = Answer::raw(302, "text/plain", "redirect");
            a.extra_headers.push(("Location".to_string(), location));
            return Some(a);
        }
        None => {}
    }
    if let Some(a) = token_problem(shared, account, authorization) {
        return Some(a);
    }
    Some(match usage {
        Some(v) => Answer::json(200, &v),
        None => Answer::json(404, &json!({})),
    })
}

/// The three SSE events codex needs for one assistant message.
pub fn sse_body(text: &str) -> String {
    let created = json!({"type": "response.created", "response": {"id": "resp_1"}});
    let item = json!({"type": "response.output_item.done", "item": {
        "type": "message", "role": "assistant", "id": "msg_1",
        "content": [{"type": "output_text", "text": text}]}});
    let completed = json!({"type": "response.completed", "response": {"id": "resp_1", "usage": {
        "input_tokens": 1, "input_tokens_details": null, "output_tokens": 1,
        "output_tokens_details": null, "total_tokens": 2}}});
    format!(
        "event: response.created\ndata: {created}\n\n\
         event: response.output_item.done\ndata: {item}\n\n\
         event: response.completed\ndata: {completed}\n\n"
    )
}

fn responses_answer(shared: &Shared, account: &str, authorization: Option<&str>) -> Answer {
    if let Some(a) = token_problem(shared, account, authorization) {
        return a;
    }
    let behaviour = shared
        .lock()
        .responses
        .get(account)
        .cloned()
        .unwrap_or_else(|| Responses::Ok("hello".to_string()));
    match behaviour {
        Responses::Ok(text) => {
            let mut a = Answer::raw(200, "text/event-stream", &sse_body(&text));
            if let Some(h) = shared.lock().turn_headers.get(account) {
                a.extra_headers.extend(h.iter().cloned());
            }
            a
        }
        Responses::UsageLimit { resets_at } => {
            let mut st = shared.lock();
            if let Some(u) = st.usage.get_mut(account) {
                flip_exhausted(u);
            }
            drop(st);
            let now = fixtures::now_unix();
            Answer::json(
                429,
                &json!({"error": {
                    "type": "usage_limit_reached",
                    "message": "You've hit your usage limit.",
                    "plan_type": "plus",
                    "resets_at": resets_at,
                    "resets_in_seconds": (resets_at - now).max(0),
                }}),
            )
        }
        Responses::Unauthorized => Answer::json(
            401,
            &json!({"error": {
                "message": "Provided authentication token is expired. Please try signing in again.",
                "type": "invalid_request_error",
                "code": "token_expired"}}),
        ),
    }
}

/// Mark a usage body as exhausted: limit reached, not allowed, weekly 100 %.
pub fn flip_exhausted(u: &mut Value) {
    if !u.is_object() {
        *u = json!({});
    }
    if !u["rate_limit"].is_object() {
        u["rate_limit"] = json!({});
    }
    let rl = &mut u["rate_limit"];
    rl["limit_reached"] = json!(true);
    rl["allowed"] = json!(false);
    if !rl["secondary_window"].is_object() {
        rl["secondary_window"] = json!({"limit_window_seconds": 604800});
    }
    rl["secondary_window"]["used_percent"] = json!(100);
}

fn refresh_answer(shared: &Shared) -> Answer {
    let behaviour = shared
        .lock()
        .refresh
        .clone()
        .unwrap_or(RefreshBehavior::Fail401);
    match behaviour {
        RefreshBehavior::Fail401 => Answer::json(
            401,
            &json!({"error": {
                "message": "Your refresh token has expired. Please try signing in again.",
                "type": "invalid_request_error",
                "code": "refresh_token_expired"}}),
        ),
        RefreshBehavior::Succeed(id) => {
            let (id_token, access_token, refresh_token) =
                fixtures::chatgpt_tokens(&id, fixtures::now_unix() + 3600);
            Answer::json(
                200,
                &json!({
                    "id_token": id_token,
                    "access_token": access_token,
                    "refresh_token": refresh_token,
                }),
            )
        }
    }
}

// ---------------------------------------------------------------------------
// a tiny client, for the self-tests and for tests that poke the backend

/// A parsed HTTP response.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request to `url` (http://127.0.0.1:PORT/path only).
/// `timeout` bounds the whole exchange; a server that does not answer in
/// time gives `Err(TimedOut/WouldBlock)`.
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "http:// only"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: std::net::SocketAddr = hostport
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "need ip:port"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)?;
    // `timeout` bounds the whole exchange, not just each read.
    let deadline = Instant::now() + timeout;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "response not complete in time",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head_end = find(&raw, b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response head"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&raw[head_end + 4..]).to_string(),
    })
}

/// `GET url` with these headers, 5 s timeout; panics on I/O errors.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_request("GET", url, headers, b"", Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// `GET <backend>/backend-api/wham/usage` as swop would send it for this
/// auth.json text.
pub fn get_usage_with(backend: &Backend, auth_json: &str) -> HttpResponse {
    let v: Value = serde_json::from_str(auth_json).expect("auth json");
    let token = v["tokens"]["access_token"].as_str().unwrap_or_default();
    let account = v["tokens"]["account_id"].as_str().unwrap_or_default();
    let bearer = format!("Bearer {token}");
    http_get(
        &format!("{}/wham/usage", backend.backend_api()),
        &[
            ("Authorization", &bearer),
            ("ChatGPT-Account-Id", account),
            ("User-Agent", "swop-rig-selftest"),
        ],
    )
}
