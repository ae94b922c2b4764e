//! A JSON-RPC session with `codex app-server` in one account's home: how
//! swop asks codex to act with that account's login (codex refreshes the
//! token itself on the way, so swop never spends a refresh token). One JSON
//! object per line; the notifications and server requests that arrive
//! between a call and its reply are skipped.
//!
//! What codex prints is hostile input: a line longer than [`MAX_LINE`] is
//! dropped unread, every wait ends at a deadline, and the process is killed
//! when the session is dropped. Never prints anything, and never passes a
//! reply's text on: codex's error messages echo URLs and response bodies.

use super::{Codex, HomeCommand};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// The longest line read from app-server; longer ones are skipped.
pub const MAX_LINE: u64 = 1 << 20;

/// Proxy variables, in every spelling, that codex would honour.
const PROXY_VARS: &[&str] = &[
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// A running `codex app-server`, initialized.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next_id: i64,
}

impl Session {
    /// Starts app-server in `home` against `base_url` (codex's
    /// `chatgpt_base_url`) and initializes it before `deadline`. The error
    /// is a short cause, fit for a one-line message.
    pub fn start(
        codex: &Codex,
        home: &Path,
        base_url: &str,
        deadline: Instant,
    ) -> Result<Session, String> {
        let HomeCommand {
            command: mut cmd, ..
        } = codex
            .in_home(home)
            .map_err(|_| "the real codex was not found".to_string())?;
        if base_url.trim_end_matches('/') != crate::config::DEFAULT_BASE_URL {
            cmd.arg("-c")
                .arg(format!("chatgpt_base_url=\"{base_url}\""));
            if base_url.starts_with("http://") {
                // codex must not send the token to a proxy in clear.
                for v in PROXY_VARS {
                    cmd.env_remove(v);
                }
            }
        }
        cmd.arg("app-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("codex app-server could not start ({})", e.kind()))?;
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take().expect("piped");
        let (tx, rx) = mpsc::channel::<Value>();
        std::thread::spawn(move || read_lines(stdout, tx));
        let mut session = Session {
            child,
            stdin,
            rx,
            next_id: 1,
        };
        let init = json!({"clientInfo": {"name": "swop", "version": env!("CARGO_PKG_VERSION")}});
        session
            .call("initialize", init, deadline)
            .filter(|r| r.get("result").is_some())
            .ok_or_else(|| "codex app-server gave no answer in time".to_string())?;
        session
            .send(&json!({"jsonrpc": "2.0", "method": "initialized"}))
            .map_err(|_| "codex app-server closed its input".to_string())?;
        Ok(session)
    }

    fn send(&mut self, v: &Value) -> std::io::Result<()> {
        writeln!(self.stdin, "{v}").and_then(|_| self.stdin.flush())
    }

    /// Calls `method`; its reply (an object with `result` or `error`), or
    /// None when none came before `deadline` (or codex went away).
    pub fn call(&mut self, method: &str, params: Value, deadline: Instant) -> Option<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if !params.is_null() {
            request["params"] = params;
        }
        self.send(&request).ok()?;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let v = self.rx.recv_timeout(left).ok()?;
            if v.get("id").and_then(Value::as_i64) == Some(id) && v.get("method").is_none() {
                return Some(v);
            }
            // A notification, a server request or another call's reply.
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends every JSON line of `stdout` to `tx`; a line over [`MAX_LINE`] is
/// skipped, anything that is not JSON ignored.
fn read_lines(stdout: impl Read, tx: mpsc::Sender<Value>) {
    let mut r = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.by_ref().take(MAX_LINE + 1).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() as u64 > MAX_LINE {
            if r.skip_until(b'\n').is_err() {
                return;
            }
            continue;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&line) {
            if tx.send(v).is_err() {
                return;
            }
        }
    }
}

/// Whether an app-server error means "log in again". The message echoes
/// URLs and bodies, so it is only matched, never shown.
pub fn is_auth_failure(reply: &Value) -> bool {
    let m = reply.pointer("/error/message").and_then(Value::as_str);
    is_auth_message(m.unwrap_or(""))
}

/// Whether an app-server error message means "log in again" (only matched,
/// never shown: it echoes URLs and bodies).
///
/// codex's failed HTTP calls read `<METHOD> <url> failed: <status> <reason>;
/// content-type=…; body=…`. There the status alone decides: the URL (a port
/// such as `:40123`) and the body (a request id, a server's prose) can hold
/// any word or number. Other messages (a refresh that failed, no login) are
/// matched by their words, URLs left out, and a 401 or 403 only as a number
/// of its own.
pub fn is_auth_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    if let Some(status) = http_status(&m) {
        return matches!(status, 401 | 403);
    }
    let prose: Vec<&str> = m
        .split_whitespace()
        .filter(|word| !word.contains("://"))
        .collect();
    let prose = prose.join(" ");
    let said = [
        "authentication required",
        "unauthorized",
        "forbidden",
        "refresh token",
        "log in",
        "sign in",
    ]
    .iter()
    .any(|k| prose.contains(k));
    said || prose
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|n| n == "401" || n == "403")
}

/// The HTTP status in codex's "… failed: 500 Internal Server Error; …".
fn http_status(message: &str) -> Option<u16> {
    message.match_indices(" failed: ").find_map(|(at, sep)| {
        let rest = &message[at + sep.len()..];
        let digits = rest.get(..3)?;
        let next = rest[3..].chars().next();
        (digits.bytes().all(|b| b.is_ascii_digit()) && !next.is_some_and(|c| c.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_and_the_next_one_is_read() {
        let mut text = vec![b'x'; MAX_LINE as usize + 10];
        text.extend_from_slice(b"\n{\"id\":1}\nnot json\n{\"id\":2}");
        let (tx, rx) = mpsc::channel();
        read_lines(&text[..], tx);
        let got: Vec<Value> = rx.iter().collect();
        assert_eq!(got, [json!({"id": 1}), json!({"id": 2})]);
    }

    #[test]
    fn auth_failures_are_recognised_by_their_words_only() {
        let e = |m: &str| json!({"error": {"code": -32603, "message": m}});
        assert!(is_auth_failure(&e(
            "codex account authentication required to read rate limits"
        )));
        assert!(is_auth_failure(&e("POST x failed: 401 Unauthorized")));
        assert!(!is_auth_failure(&e(
            "POST x failed: 500 Internal Server Error"
        )));
        assert!(!is_auth_failure(&json!({"result": {}})));
    }

    /// A lost answer on a loopback port that holds "401" was taken for a
    /// dead login (and `swop redeem` stopped with "log in again").
    #[test]
    fn the_status_decides_never_the_url_or_the_body() {
        let failed = |port: &str, status: &str, body: &str| {
            format!(
                "failed to consume rate limit reset: POST http://127.0.0.1:{port}/backend-api/wham/rate-limit-reset-credits/consume failed: {status}; content-type=application/json; body={body}"
            )
        };
        for port in ["40123", "34031", "14030"] {
            let m = failed(
                port,
                "500 Internal Server Error",
                r#"{"error":"upstream connection reset"}"#,
            );
            assert!(!is_auth_message(&m), "{m}");
        }
        let m = failed(
            "9",
            "502 Bad Gateway",
            r#"{"detail":"please log in; 401 forbidden"}"#,
        );
        assert!(!is_auth_message(&m), "the body never decides");
        for status in ["401 Unauthorized", "403 Forbidden"] {
            assert!(is_auth_message(&failed("40123", status, "{}")), "{status}");
        }
    }

    #[test]
    fn without_a_status_words_decide_and_numbers_only_on_their_own() {
        assert!(is_auth_message(
            "Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again."
        ));
        assert!(is_auth_message("unexpected status 401 Unauthorized"));
        assert!(!is_auth_message(
            "stream disconnected: error sending request for url (http://127.0.0.1:40123/v1/responses)"
        ));
        assert!(!is_auth_message("request 7f4014030 timed out"));
    }
}
