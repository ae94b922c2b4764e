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
//!
//! Files: `state` (what is served, the request log), `server` (HTTP/1.1 on
//! plain TCP and TLS), `routes` (the answer per endpoint), `tls` (the
//! throwaway certificate), `client` (a tiny client for tests).

mod client;
mod routes;
mod server;
mod state;
mod tls;

pub use client::{get_usage_with, http_get, http_request, HttpResponse};
pub use routes::{flip_exhausted, reset_usage, sse_body};
use server::handle;
use state::{bearer_of, InFlight, Shared, State};

use super::fixtures::{self, Identity};
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
