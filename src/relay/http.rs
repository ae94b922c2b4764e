//! The relay's HTTP/1.1 towards codex: read one request (head and whole
//! body: a model request must be re-sendable), write a response head, then
//! the body in chunks as they arrive.
//!
//! One request per connection (`Connection: close`): no pipelining state and
//! no idle connections to keep; a loopback connect costs microseconds. Never
//! logs a header (they carry tokens).

use std::io::{self, BufRead, Read, Write};

const MAX_HEAD: usize = 64 * 1024;
/// A model request carries the whole conversation (zstd): allow a lot, but
/// not unbounded memory.
const MAX_BODY: usize = 256 << 20;

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as codex sent it (path and query).
    pub target: String,
    /// Names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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

fn bad(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// One line of the head without its CRLF; counts against `budget`.
fn head_line(r: &mut impl BufRead, budget: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.take(*budget as u64 + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if n > *budget {
        return Err(bad("request head too large"));
    }
    *budget -= n;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| bad("request head is not UTF-8"))
}

pub fn read_request(r: &mut impl BufRead) -> io::Result<Request> {
    let mut budget = MAX_HEAD;
    let request_line = head_line(r, &mut budget)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("bad request line"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let line = head_line(r, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or(bad("bad header line"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(r)?
    } else {
        match header(&headers, "content-length") {
            None => Vec::new(),
            Some(v) => {
                let len: usize = v.parse().map_err(|_| bad("bad content-length"))?;
                if len > MAX_BODY {
                    return Err(bad("request body too large"));
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body)?;
                body
            }
        }
    };
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

fn read_chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut budget = 1024;
        let size_line = head_line(r, &mut budget)?;
        let size = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailers (ignored) up to the empty line.
            let mut budget = MAX_HEAD;
            while !head_line(r, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
    }
}

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 204, 304).
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

/// A small complete answer from the relay itself (404, 426, 502).
pub fn answer(w: &mut impl Write, status: u16, json: &str) -> io::Result<()> {
    let headers = [("content-type".to_string(), "application/json".to_string())];
    write_head(w, status, &headers, Framing::Length(json.len() as u64))?;
    w.write_all(json.as_bytes())?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> io::Result<Request> {
        read_request(&mut io::BufReader::new(raw))
    }

    #[test]
    fn reads_head_and_length_body() {
        let r = parse(b"POST /s/v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nAuthorization: Bearer t\r\n\r\nabcextra").unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/s/v1/responses");
        assert_eq!(r.header("authorization"), Some("Bearer t"));
        assert_eq!(r.body, b"abc");
    }

    #[test]
    fn reads_chunked_body() {
        let r = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse(b"").is_err());
        assert!(parse(b"GET\r\n\r\n").is_err());
        assert!(parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").is_err());
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(parse(huge.as_bytes()).is_err());
    }

    #[test]
    fn chunked_copy_frames_each_read_and_ends() {
        let mut out = Vec::new();
        copy_body(&mut &b"hello"[..], &mut out, Framing::Chunked).unwrap();
        assert_eq!(out, b"5\r\nhello\r\n0\r\n\r\n");
    }

    #[test]
    fn head_drops_hop_by_hop_headers() {
        let mut out = Vec::new();
        let h = [
            ("Content-Type".to_string(), "text/event-stream".to_string()),
            ("Transfer-Encoding".to_string(), "chunked".to_string()),
            ("Connection".to_string(), "keep-alive".to_string()),
        ];
        write_head(&mut out, 429, &h, Framing::Chunked).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Type: text/event-stream\r\n"));
        assert_eq!(text.matches("chunked").count(), 1, "{text}");
        assert!(!text.contains("keep-alive"));
    }
}
