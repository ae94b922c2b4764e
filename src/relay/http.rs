//! The relay's HTTP/1.1 towards codex: read one request in three bounded
//! steps (the request line, then the rest of the head, then the whole
//! body: a model request must be re-sendable), write a response head, then
//! the body in chunks as they arrive.
//!
//! The request line and head are parsed by `httparse` (the parser under
//! hyper; already in the tree through ureq); chunk sizes too
//! (`httparse::parse_chunk_size`). This module only frames: it reads no
//! byte past a bound, adds sizes with checked arithmetic, and asks a shared
//! [`Budget`] before it holds a body in memory. Everything it reads is
//! hostile (any local process can connect), so nothing here may panic on
//! any input; the property tests below feed it arbitrary bytes.
//!
//! The caller sees the request line before anything else is read
//! ([`read_request`]'s `admit`): a request without the path secret is
//! refused having read at most [`Limits::line`] bytes.
//!
//! One request per connection (`Connection: close`): no pipelining state
//! and no idle connections to keep; a loopback connect costs microseconds.
//! Never logs a header (they carry tokens).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How much one request may make the relay read and hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes read from a connection before its path is checked: the
    /// request line must end within them. Also the bound of one chunk-size
    /// line and of one trailer line.
    pub line: usize,
    /// The whole head (request line and headers); the trailers of a
    /// chunked body get the same bound again.
    pub head: usize,
    /// The body of one request.
    pub body: usize,
}

/// The relay's bounds. The body bound is for codex's model requests: every
/// turn re-sends the whole conversation, images included (base64 data URLs,
/// zstd-compressed as a whole). codex resizes an attached image to at most
/// 2048 px a side and 2,500 32-px patches (about 10 MiB as PNG at worst,
/// 0.2 to 3 MiB for a typical screenshot); an "original detail" image is
/// sent as the file is. 256 MiB holds dozens of worst-case images and
/// hundreds of typical ones; a larger body gets 413 with a message that
/// names the bound. See SECURITY.md, "The in-turn relay".
pub const LIMITS: Limits = Limits {
    line: 4 << 10,
    head: 64 << 10,
    body: 256 << 20,
};

/// Headers in one head; codex sends about fifteen.
const MAX_HEADERS: usize = 128;
/// One read from the socket into the head buffer.
const READ_STEP: usize = 8 << 10;
/// One read of body bytes (memory is only touched as bytes arrive).
const BODY_STEP: usize = 64 << 10;

/// Why a request is not served.
#[derive(Debug)]
pub enum Refusal {
    /// The connection ended, failed or timed out: nothing to answer.
    Gone,
    /// Answer this status with this fixed message, then close.
    Status(u16, &'static str),
}

impl From<io::Error> for Refusal {
    fn from(_: io::Error) -> Refusal {
        Refusal::Gone
    }
}

fn bad(why: &'static str) -> Refusal {
    Refusal::Status(400, why)
}

/// Memory for request bodies, shared by every connection of one relay: a
/// body is only held once its size has been taken from here.
pub struct Budget {
    left: AtomicUsize,
}

impl Budget {
    pub fn new(bytes: usize) -> Arc<Budget> {
        Arc::new(Budget {
            left: AtomicUsize::new(bytes),
        })
    }

    fn take(&self, n: usize) -> bool {
        self.left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    #[cfg(test)]
    pub fn left(&self) -> usize {
        self.left.load(Ordering::SeqCst)
    }
}

/// What a request holds of a [`Budget`]; given back when dropped.
pub struct Lease {
    budget: Arc<Budget>,
    held: usize,
}

impl Lease {
    fn new(budget: &Arc<Budget>) -> Lease {
        Lease {
            budget: budget.clone(),
            held: 0,
        }
    }

    /// Holds `total` bytes in all (never less than now).
    fn hold(&mut self, total: usize) -> Result<(), Refusal> {
        let more = total.saturating_sub(self.held);
        if more > 0 && !self.budget.take(more) {
            return Err(Refusal::Status(
                503,
                "too many large requests at once; try again",
            ));
        }
        self.held = self.held.max(total);
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.left.fetch_add(self.held, Ordering::SeqCst);
    }
}

/// The request line: all the relay looks at before it reads on.
#[derive(Debug)]
pub struct Line {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
}

pub struct Request {
    pub method: String,
    /// The request target as codex sent it (path and query).
    pub target: String,
    /// Names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body's share of the relay's [`Budget`].
    _lease: Lease,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Bytes read from a connection and not yet used; reads only as much as
/// the caller allows.
pub struct Wire<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[start..]` is what has not been used yet.
    start: usize,
}

impl<R: Read> Wire<R> {
    pub fn new(inner: R) -> Wire<R> {
        Wire {
            inner,
            buf: Vec::new(),
            start: 0,
        }
    }

    #[cfg(test)]
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.buf.len());
    }

    /// Reads more, so that at most `cap` bytes are pending. EOF is an error.
    fn fill(&mut self, cap: usize) -> Result<(), Refusal> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let room = cap.saturating_sub(self.buf.len()).min(READ_STEP);
        if room == 0 {
            return Err(bad("request framing exceeds its bound"));
        }
        let mut step = [0u8; READ_STEP];
        let n = loop {
            match self.inner.read(&mut step[..room]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            return Err(Refusal::Gone);
        }
        self.buf.extend_from_slice(&step[..n.min(room)]);
        Ok(())
    }

    /// The pending bytes up to and including the next `\n`, once it has
    /// arrived within `cap` pending bytes.
    fn line(&mut self, cap: usize, too_long: Refusal) -> Result<usize, Refusal> {
        let mut too_long = Some(too_long);
        loop {
            if let Some(i) = self.pending().iter().position(|b| *b == b'\n') {
                return Ok(i + 1);
            }
            if self.pending().len() >= cap {
                return Err(too_long.take().unwrap_or_else(|| bad("line too long")));
            }
            self.fill(cap)?;
        }
    }

    /// Appends exactly `n` bytes to `body` (whose spare capacity the caller
    /// has made room for): pending bytes first, then straight from the
    /// connection.
    fn take_into(&mut self, body: &mut Vec<u8>, n: usize) -> Result<(), Refusal> {
        let from_buf = n.min(self.pending().len());
        body.extend_from_slice(&self.pending()[..from_buf]);
        self.consume(from_buf);
        let mut left = n - from_buf;
        while left > 0 {
            let step = left.min(BODY_STEP);
            let at = body.len();
            body.resize(at + step, 0);
            self.inner.read_exact(&mut body[at..])?;
            left -= step;
        }
        Ok(())
    }
}

/// Reads one request from `wire`. `admit` sees the request line as soon as
/// it has arrived (at most `limits.line` bytes read) and may refuse it, or
/// prepare the rest (timeouts, connection slots) through the reader; only
/// then is the rest of the head read, then the body, each within its bound.
pub fn read_request<R: Read>(
    wire: &mut Wire<R>,
    limits: &Limits,
    budget: &Arc<Budget>,
    admit: impl FnOnce(&mut R, &Line) -> Result<(), Refusal>,
) -> Result<Request, Refusal> {
    let line = read_line(wire, limits)?;
    admit(&mut wire.inner, &line)?;
    let headers = read_head(wire, limits)?;
    let framing = request_framing(&headers)?;
    let (body, lease) = read_body(wire, framing, limits, budget)?;
    Ok(Request {
        method: line.method,
        target: line.target,
        headers,
        body,
        _lease: lease,
    })
}

/// The request line, parsed by httparse; nothing past it is used yet.
fn read_line<R: Read>(wire: &mut Wire<R>, limits: &Limits) -> Result<Line, Refusal> {
    let end = wire.line(limits.line, Refusal::Status(414, "request line too long"))?;
    let mut no_headers = [];
    let mut req = httparse::Request::new(&mut no_headers);
    // Partial: the line parsed, the headers not yet there (or not yet read).
    match req.parse(&wire.pending()[..end]) {
        Ok(_) => {}
        Err(_) => return Err(bad("malformed request line")),
    }
    match (req.method, req.path, req.version) {
        (Some(method), Some(target), Some(_)) => Ok(Line {
            method: method.to_string(),
            target: target.to_string(),
        }),
        _ => Err(bad("malformed request line")),
    }
}

/// Where the head in `buf` ends (just after its empty line), if it has;
/// looks for line ends from `from` on.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let nl = i + buf.get(i..)?.iter().position(|b| *b == b'\n')?;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) => return Some(nl + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
}

/// The headers, once the whole head (request line included) has arrived
/// within `limits.head` bytes.
fn read_head<R: Read>(
    wire: &mut Wire<R>,
    limits: &Limits,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut scanned = 0;
    let end = loop {
        if let Some(end) = head_end(wire.pending(), scanned) {
            break end;
        }
        // A line end may be the last byte or two, its pair still to come.
        scanned = wire.pending().len().saturating_sub(3);
        if wire.pending().len() >= limits.head {
            return Err(Refusal::Status(431, "request head too large"));
        }
        wire.fill(limits.head)?;
    };
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(&wire.pending()[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::Status(431, "too many request headers"))
        }
        _ => return Err(bad("malformed request head")),
    }
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).map_err(|_| bad("header is not UTF-8"))?;
        headers.push((h.name.to_string(), value.trim().to_string()));
    }
    wire.consume(end);
    Ok(headers)
}

/// How the request body is delimited (RFC 9112 6.3): chunked when
/// `Transfer-Encoding` says exactly that (any other coding: 501), else
/// `Content-Length` (digits only; several must agree), else none. Both at
/// once is refused: it is how requests are smuggled.
fn request_framing(headers: &[(String, String)]) -> Result<Framing, Refusal> {
    let values = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    let te = values("transfer-encoding");
    let cl = values("content-length");
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err(bad("both Transfer-Encoding and Content-Length"));
        }
        let codings: Vec<&str> = te
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        return match codings.as_slice() {
            [c] if c.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            _ => Err(Refusal::Status(501, "transfer coding not supported")),
        };
    }
    let mut length = None;
    for v in cl {
        let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let n: u64 = v
            .parse()
            .ok()
            .filter(|_| digits)
            .ok_or(bad("bad Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(bad("conflicting Content-Length"));
        }
        length = Some(n);
    }
    Ok(length.map_or(Framing::Empty, Framing::Length))
}

fn too_large() -> Refusal {
    Refusal::Status(413, "request body larger than the relay's bound (256 MiB)")
}

fn read_body<R: Read>(
    wire: &mut Wire<R>,
    framing: Framing,
    limits: &Limits,
    budget: &Arc<Budget>,
) -> Result<(Vec<u8>, Lease), Refusal> {
    let mut lease = Lease::new(budget);
    let mut body = Vec::new();
    match framing {
        Framing::Empty => {}
        Framing::Length(n) => {
            let n = usize::try_from(n)
                .ok()
                .filter(|n| *n <= limits.body)
                .ok_or_else(too_large)?;
            lease.hold(n)?;
            body.try_reserve_exact(n)
                .map_err(|_| Refusal::Status(503, "out of memory"))?;
            wire.take_into(&mut body, n)?;
        }
        Framing::Chunked => read_chunked(wire, limits, &mut lease, &mut body)?,
    }
    Ok((body, lease))
}

/// A chunked body, decoded. Every size is checked against what is left of
/// the bound before anything is reserved (a size may be up to 2^64 - 1).
fn read_chunked<R: Read>(
    wire: &mut Wire<R>,
    limits: &Limits,
    lease: &mut Lease,
    body: &mut Vec<u8>,
) -> Result<(), Refusal> {
    loop {
        let end = wire.line(limits.line, bad("chunk size line too long"))?;
        let size = match httparse::parse_chunk_size(&wire.pending()[..end]) {
            Ok(httparse::Status::Complete((used, size))) if used == end => size,
            _ => return Err(bad("bad chunk size")),
        };
        wire.consume(end);
        if size == 0 {
            return read_trailers(wire, limits);
        }
        let room = limits.body.saturating_sub(body.len());
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= room)
            .ok_or_else(too_large)?;
        reserve_within(body, size, limits.body, lease)?;
        wire.take_into(body, size)?;
        while wire.pending().len() < 2 {
            wire.fill(limits.line)?;
        }
        if !wire.pending().starts_with(b"\r\n") {
            return Err(bad("chunk not followed by CRLF"));
        }
        wire.consume(2);
    }
}

/// Room for `more` bytes in `body`, growing its capacity geometrically but
/// never past `cap`, with the budget taken first.
fn reserve_within(
    body: &mut Vec<u8>,
    more: usize,
    cap: usize,
    lease: &mut Lease,
) -> Result<(), Refusal> {
    let need = body.len().saturating_add(more);
    if need <= body.capacity() {
        return Ok(());
    }
    let target = need.max(body.capacity().saturating_mul(2)).min(cap);
    lease.hold(target)?;
    body.try_reserve_exact(target - body.len())
        .map_err(|_| Refusal::Status(503, "out of memory"))
}

/// Trailer lines up to the empty one; read and dropped, within the head
/// bound.
fn read_trailers<R: Read>(wire: &mut Wire<R>, limits: &Limits) -> Result<(), Refusal> {
    let mut total = 0usize;
    loop {
        let end = wire.line(limits.line, bad("trailer line too long"))?;
        let empty = matches!(&wire.pending()[..end], b"\r\n" | b"\n");
        wire.consume(end);
        if empty {
            return Ok(());
        }
        total = total.saturating_add(end);
        if total > limits.head {
            return Err(Refusal::Status(431, "trailers too large"));
        }
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 204, 304; a request without a length).
    Empty,
    Length(u64),
    /// Chunks as they arrive: codex can tell a cut stream from a whole one.
    Chunked,
}

/// Headers that describe one hop, never forwarded in either direction.
pub fn hop_by_hop(name: &str) -> bool {
    const HOP: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    ];
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

pub fn write_head(
    w: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    framing: Framing,
) -> io::Result<()> {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Status");
    let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match framing {
        Framing::Empty => {}
        Framing::Length(n) => head.push_str(&format!("content-length: {n}\r\n")),
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    head.push_str("connection: close\r\n\r\n");
    w.write_all(head.as_bytes())
}

/// Copies `body` to `w` under `framing`, flushing after every read so that
/// each server-sent event reaches codex as soon as it arrives.
pub fn copy_body(body: &mut impl Read, w: &mut impl Write, framing: Framing) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        match framing {
            Framing::Empty => {}
            Framing::Length(_) => w.write_all(&buf[..n])?,
            Framing::Chunked => {
                w.write_all(format!("{n:x}\r\n").as_bytes())?;
                w.write_all(&buf[..n])?;
                w.write_all(b"\r\n")?;
            }
        }
        w.flush()?;
    }
    if framing == Framing::Chunked {
        w.write_all(b"0\r\n\r\n")?;
    }
    w.flush()
}

/// A small complete answer from the relay itself (404, 426, 502, ...).
pub fn answer(w: &mut impl Write, status: u16, json: &str) -> io::Result<()> {
    let headers = [("content-type".to_string(), "application/json".to_string())];
    write_head(w, status, &headers, Framing::Length(json.len() as u64))?;
    w.write_all(json.as_bytes())?;
    w.flush()
}

#[cfg(test)]
mod tests;
