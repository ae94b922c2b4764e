//! The login guard of an app server launched through swop: swop sits
//! between the editor and `codex app-server` on stdio and answers, itself,
//! the JSON-RPC requests that would change the account's login in its
//! sandbox, with an error that says which swop command does it instead.
//! Everything else passes through unchanged, in order, line by line.
//!
//! Why (seen with codex 0.169.0 and 0.171.0 on the loopback rig): an editor
//! that thinks it is logged out offers its sign-in, and
//! - `account/logout` revokes the refresh token remotely and deletes
//!   auth.json;
//! - `account/login/start` replaces auth.json: at once for an API key, and
//!   when a browser or device-code sign-in completes for ChatGPT (with
//!   whatever account the person chose);
//! - `accountSession/switch`, `account/bedrock/setup`, `account/gcp/setup`
//!   and `account/gatewayOAuth/login` change the login or the workspace.
//!
//! Any of them would change an account behind swop's back. Methods of the
//! `account/` and `accountSession/` families pass only when they read
//! (`.../read`, `.../list`) or are known to leave the login alone; an
//! unknown new one is refused, never passed.
//!
//! Hostile input: a line from the editor is read up to [`LINE_MAX`] bytes
//! (longer ones are answered with an error and dropped, never forwarded in
//! part); a line that is not one JSON-RPC message is answered and dropped,
//! so nothing codex could read as a request gets past unread. codex's
//! output is copied through in chunks, a line at a time, never held whole.

use crate::base::error::Result;
use crate::base::term;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest line the editor may send (a turn with pasted images is a
/// few MiB).
pub const LINE_MAX: usize = 64 << 20;

/// Methods of the account families that leave the login alone.
const LEAVE_LOGIN_ALONE: &[&str] = &[
    "account/rateLimitResetCredit/consume",
    "account/login/cancel",
    "account/gatewayOAuth/cancel",
    "account/bedrock/discover",
    "account/bedrock/checkGovCloudRequirements",
    "account/sendAddCreditsNudgeEmail",
];

/// Why a request is answered by swop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A sign-in (any kind): it would replace the account's login.
    Login,
    /// A sign-out: it would revoke the account's login.
    Logout,
    /// Any other change of login or workspace.
    Switch,
}

/// The editor's request `method`, if swop answers it itself.
pub fn held(method: &str) -> Option<Held> {
    let family = method.starts_with("account/") || method.starts_with("accountSession/");
    if !family
        || method.ends_with("/read")
        || method.ends_with("/list")
        || LEAVE_LOGIN_ALONE.contains(&method)
    {
        return None;
    }
    Some(match method {
        "account/logout" => Held::Logout,
        m if m.starts_with("account/login/") || m.ends_with("/login") => Held::Login,
        _ => Held::Switch,
    })
}

/// What the guard says instead of codex (no secret: names only).
fn message(h: Held, method: &str, account: &str) -> String {
    let why = match h {
        Held::Login => format!(
            "signing in here would replace the login of swop's account '{account}'; \
             log in again in a terminal: swop relogin {account} (or add another account: swop add NAME)"
        ),
        Held::Logout => format!(
            "signing out here would revoke the login of swop's account '{account}'; \
             to remove the account run in a terminal: swop logout {account}"
        ),
        Held::Switch => format!(
            "swop picks the account for this codex ('{account}'); see `swop status`, \
             or force one with SWOP_ACCOUNT=NAME"
        ),
    };
    format!("swop: {method} refused: {why}")
}

/// One message line as far as the guard needs it.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
}

/// What to do with one line from the editor.
#[derive(Debug, PartialEq)]
pub enum Screened {
    /// Forward it to codex unchanged.
    Pass,
    /// Not for codex: this answer (if any) goes back to the editor and this
    /// line to stderr.
    Answer {
        reply: Option<Vec<u8>>,
        note: String,
    },
}

fn error_reply(id: Value, code: i64, message: &str) -> Vec<u8> {
    let mut v = serde_json::to_vec(&json!({"id": id, "error": {"code": code, "message": message}}))
        .expect("a JSON value serialises");
    v.push(b'\n');
    v
}

/// Screens one line (without its newline) from the editor.
pub fn screen(line: &[u8], account: &str) -> Screened {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Screened::Pass;
    }
    let object = line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let probe = match serde_json::from_slice::<Probe>(line)
        .ok()
        .filter(|_| object)
    {
        Some(p) => p,
        None => {
            let note = "swop: dropped a line from the client that is not one JSON-RPC message";
            return Screened::Answer {
                reply: Some(error_reply(Value::Null, -32700, note)),
                note: note.to_string(),
            };
        }
    };
    let Some(method) = probe.method else {
        return Screened::Pass; // a response to one of codex's requests
    };
    let Some(h) = held(&method) else {
        return Screened::Pass;
    };
    let text = message(h, &method, account);
    Screened::Answer {
        // A notification gets no answer (JSON-RPC), only the stderr line.
        reply: probe.id.map(|id| error_reply(id, -32600, &text)),
        note: text,
    }
}

/// One line from the editor, newline dropped.
#[derive(Debug, PartialEq)]
enum Line {
    Full(Vec<u8>),
    /// Longer than the cap: skipped up to its newline.
    TooLong,
    Eof,
}

/// Reads one line of at most `max` bytes, never holding more.
fn read_line_capped(r: &mut impl BufRead, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::Eof,
                (false, false) => Line::Full(line),
            });
        }
        let (take, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let body = if end { &buf[..take - 1] } else { &buf[..take] };
        if !too_long && line.len() + body.len() <= max {
            line.extend_from_slice(body);
        } else {
            too_long = true;
            line = Vec::new();
        }
        r.consume(take);
        if end {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Full(line)
            });
        }
    }
}

/// Writes `bytes` to swop's stdout as one whole line among codex's.
fn to_editor(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Editor -> codex: screened line by line; EOF closes codex's stdin (an app
/// server exits then).
fn pump_in(mut to_codex: ChildStdin, account: &str) {
    let mut from = BufReader::with_capacity(1 << 16, io::stdin().lock());
    loop {
        let line = match read_line_capped(&mut from, LINE_MAX) {
            Ok(Line::Full(l)) => l,
            Ok(Line::Eof) | Err(_) => return, // dropping to_codex closes it
            Ok(Line::TooLong) => {
                let note =
                    format!("swop: dropped a line from the client longer than {LINE_MAX} bytes");
                term::warn(&note);
                let _ = to_editor(&error_reply(Value::Null, -32700, &note));
                continue;
            }
        };
        match screen(&line, account) {
            Screened::Pass => {
                let sent = to_codex
                    .write_all(&line)
                    .and_then(|_| to_codex.write_all(b"\n"))
                    .and_then(|_| to_codex.flush());
                if sent.is_err() {
                    return; // codex is gone
                }
            }
            Screened::Answer { reply, note } => {
                term::warn(note.strip_prefix("swop: ").unwrap_or(&note));
                if let Some(r) = reply {
                    let _ = to_editor(&r);
                }
            }
        }
    }
}

/// codex -> editor: copied as it comes, each line whole under stdout's
/// lock so that an answer of the guard never lands inside one. The lock
/// is taken only once a line has begun to arrive (waiting for codex while
/// holding it would keep the guard's answers out).
fn pump_out(from: impl Read) {
    let mut r = BufReader::with_capacity(1 << 16, from);
    loop {
        match r.fill_buf() {
            Ok([]) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        let mut out = io::stdout().lock();
        loop {
            let buf = match r.fill_buf() {
                Ok([]) => {
                    let _ = out.flush();
                    return;
                }
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let (n, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if out.write_all(&buf[..n]).is_err() {
                return; // the editor is gone
            }
            r.consume(n);
            if end {
                break;
            }
        }
        if out.flush().is_err() {
            return;
        }
    }
}

/// How long swop waits, after codex exited, for the rest of its output
/// (a process codex started may hold the pipe open forever).
const DRAIN_MAX: Duration = Duration::from_secs(2);

/// Runs the app server `cmd` (for `account`) behind the guard; returns
/// codex's exit code.
pub fn run(mut cmd: Command, account: &str) -> Result<i32> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let account = account.to_string();
    let (ended, out) = crate::codex::run_attached_with(cmd, move |child| {
        if let Some(to_codex) = child.stdin.take() {
            let _ = std::thread::Builder::new()
                .name("swop-guard-in".into())
                .spawn(move || pump_in(to_codex, &account));
        }
        child.stdout.take().and_then(|from| {
            std::thread::Builder::new()
                .name("swop-guard-out".into())
                .spawn(move || pump_out(from))
                .ok()
        })
    })?;
    if let Some(h) = out {
        let deadline = Instant::now() + DRAIN_MAX;
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    Ok(ended.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_methods_that_change_the_login_are_held() {
        for m in [
            "account/read",
            "account/rateLimits/read",
            "account/usage/read",
            "account/rateLimitResetCredit/consume",
            "account/login/cancel",
            "accountSession/list",
            "thread/start",
            "turn/start",
            "initialize",
            "config/read",
            "mcpServer/oauth/login",
        ] {
            assert_eq!(held(m), None, "{m}");
        }
        assert_eq!(held("account/login/start"), Some(Held::Login));
        assert_eq!(held("account/gatewayOAuth/login"), Some(Held::Login));
        assert_eq!(held("account/logout"), Some(Held::Logout));
        assert_eq!(held("accountSession/switch"), Some(Held::Switch));
        assert_eq!(held("account/bedrock/setup"), Some(Held::Switch));
        assert_eq!(
            held("account/somethingNew"),
            Some(Held::Switch),
            "unknown: held"
        );
    }

    fn answer(line: &str) -> (Option<Value>, String) {
        match screen(line.as_bytes(), "work") {
            Screened::Answer { reply, note } => {
                (reply.map(|r| serde_json::from_slice(&r).unwrap()), note)
            }
            Screened::Pass => panic!("passed: {line}"),
        }
    }

    #[test]
    fn a_login_request_is_answered_with_the_swop_command() {
        let (reply, note) = answer(
            r#"{"jsonrpc":"2.0","id":7,"method":"account/login/start","params":{"type":"chatgpt"}}"#,
        );
        let reply = reply.unwrap();
        assert_eq!(reply["id"], 7);
        assert_eq!(reply["error"]["code"], -32600);
        let msg = reply["error"]["message"].as_str().unwrap();
        assert!(msg.contains("swop relogin work"), "{msg}");
        assert_eq!(msg, note);
        let (reply, _) = answer(r#"{"id":"x","method":"account/logout"}"#);
        assert!(reply.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("swop logout work"));
        let (reply, note) = answer(r#"{"method":"account/logout"}"#);
        assert!(reply.is_none(), "a notification gets no answer");
        assert!(note.contains("account/logout"));
    }

    #[test]
    fn every_spelling_of_a_held_method_is_caught_and_garbage_never_passes() {
        // Escapes decode to the same method; an array is read by position
        // (as serde would for codex too); duplicate keys are not one message.
        for line in [
            r#"{"id":1,"method":"account\/logout"}"#,
            r#"{"id":1,"method":"\u0061ccount/logout"}"#,
            r#"[1,"account/logout"]"#,
            r#"{"id":1,"method":"thread/start","method":"account/logout"}"#,
            "not json",
            r#"{"id":1,"method":"account/logout""#,
        ] {
            let _ = answer(line);
        }
        for line in [
            r#"{"id":1,"method":"turn/start","params":{"input":[{"type":"text","text":"account/logout"}]}}"#,
            r#"{"id":3,"result":{"decision":"accept"}}"#,
            r#"{"jsonrpc":"2.0","method":"initialized"}"#,
            "",
            "  ",
        ] {
            assert_eq!(screen(line.as_bytes(), "w"), Screened::Pass, "{line}");
        }
    }

    #[test]
    fn lines_are_read_whole_up_to_the_cap_and_longer_ones_are_skipped() {
        let input = b"abc\nxxxxxxxxxx\nde\nlast".to_vec();
        let mut r = BufReader::with_capacity(4, &input[..]);
        let mut got = Vec::new();
        loop {
            match read_line_capped(&mut r, 5).unwrap() {
                Line::Eof => break,
                l => got.push(l),
            }
        }
        let full = |s: &str| Line::Full(s.as_bytes().to_vec());
        assert_eq!(
            got,
            vec![full("abc"), Line::TooLong, full("de"), full("last")]
        );
    }
}
