//! The backend's HTTP/1.1 server side: read one bounded request from plain
//! TCP or TLS, route it (`routes`), and answer with `Connection: close`.
//! Minimal on purpose: it only has to understand codex and swop, and never
//! hang a test (short read timeouts, giving up on shutdown).

use super::routes::*;
use super::tls;
use super::*;
use serde_json::{json, Value};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// A connection the handler can serve: plain TCP or TLS over TCP. The
/// socket has a short read timeout (see `read_some`).
pub(super) trait Conn: Read + Write {
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

pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read from the stream with a short timeout, giving up on shutdown or
/// after 30 s of silence.
pub(super) fn read_some(
    shared: &Shared,
    stream: &mut impl Conn,
    buf: &mut [u8],
) -> io::Result<usize> {
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

pub(super) fn read_request(shared: &Shared, stream: &mut impl Conn) -> io::Result<Request> {
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

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a chunked body is complete (walks the chunk sizes).
pub(super) fn chunked_complete(body: &[u8]) -> bool {
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

pub(super) fn normalize_path(target: &str) -> String {
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

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) extra_headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            extra_headers: vec![],
            body: body.to_string().into_bytes(),
        }
    }

    pub(super) fn raw(status: u16, content_type: &'static str, body: &str) -> Answer {
        Answer {
            status,
            content_type,
            extra_headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }
}

pub(super) fn reason(status: u16) -> &'static str {
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

pub(super) fn head_bytes(a: &Answer) -> Vec<u8> {
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

pub(super) fn send(stream: &mut impl Conn, a: &Answer) {
    let mut bytes = head_bytes(a);
    bytes.extend_from_slice(&a.body);
    let _ = stream.write_all(&bytes);
    let _ = stream.flush();
}

pub(super) fn handle(shared: &Shared, mut stream: impl Conn) {
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
