//! Talking to the person at the terminal: one-line notes and warnings on
//! stderr with a `swop: ` prefix, and yes/no questions. Colour only on a
//! terminal and never when NO_COLOR is set.
//!
//! Every string that comes from outside swop (the usage server, a JWT, a
//! file under SWOP_HOME) goes through [`clean`] before it is printed, so that
//! no escape sequence, bell or newline from a server reaches the terminal.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal, Write};

/// Whether `c` must not reach a terminal as is: every control character
/// (C0, DEL, C1) and the Unicode line separators and bidi overrides that can
/// make text look like something else.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A foreign string made safe to print: each unsafe character becomes its
/// visible Rust escape (`\u{1b}`, `\n`, ...). Borrows when nothing changes.
pub fn clean(s: &str) -> Cow<'_, str> {
    clean_keeping(s, false)
}

/// `value` as pretty JSON that is also safe on a terminal: serde_json
/// escapes only C0 controls inside strings; this also escapes DEL, C1 and
/// the separators/bidi overrides as `\uXXXX` (still the same JSON value).
pub fn json(value: &serde_json::Value) -> String {
    json_safe(serde_json::to_string_pretty(value).expect("a JSON value serialises"))
}

/// The same on one line (one document per line: NDJSON).
pub fn json_line(value: &serde_json::Value) -> String {
    json_safe(serde_json::to_string(value).expect("a JSON value serialises"))
}

fn json_safe(text: String) -> String {
    if !text.chars().any(|c| is_unsafe(c) && c != '\n') {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) && c != '\n' {
            // Only inside strings: outside them serde writes ASCII layout.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The same, but newlines stay: for swop's own multi-line messages, whose
/// foreign parts were cleaned (newlines included) when they were built.
fn clean_keeping(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| is_unsafe(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn no_color() -> bool {
    crate::base::context::var("NO_COLOR").is_some()
}

fn color() -> bool {
    !no_color() && std::io::stderr().is_terminal()
}

/// Colour for what goes to stdout (tables, doctor): a terminal, no NO_COLOR.
pub fn stdout_color() -> bool {
    !no_color() && std::io::stdout().is_terminal()
}

/// `text` in SGR colour `code` when `on` (red "31", yellow "33", green "32").
pub fn painted(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The width stdout's lines must fit in: None when stdout is not a terminal
/// (piped output keeps every column). On a terminal, COLUMNS when set (what
/// the shell says, and how tests pick a width), else the terminal's own size.
pub fn stdout_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = crate::base::context::var_str("COLUMNS")
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    from_env.or_else(|| {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize; fd 1 is open (it is a terminal).
        let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
    })
}

fn paint(code: &str, text: &str) -> String {
    painted(color(), code, text)
}

/// Writes `text` to stderr in one write(2), so that lines of swops running
/// side by side in one terminal never interleave mid-line.
fn emit(text: String) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The width of the terminal on stderr (COLUMNS when set), if it is one.
fn stderr_width() -> Option<usize> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let from_env =
        crate::base::context::var_str("COLUMNS").and_then(|c| c.trim().parse::<usize>().ok());
    from_env.filter(|&c| c > 0).or_else(|| {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize; fd 2 is open (a terminal).
        let rc = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
    })
}

/// Breaks each line of `text` at spaces into lines of at most `width`
/// columns (a word longer than that stays whole); later lines are indented
/// by two more than the line, so a narrow terminal shows a tidy paragraph
/// instead of its own hard wrap (see `base::fit`).
pub fn fill(text: &str, width: Option<usize>) -> String {
    text.split('\n')
        .map(|l| {
            let lead = l.len() - l.trim_start_matches(' ').len();
            crate::base::fit::wrap(l, width, lead + 2)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "1 account", "2 accounts": a count with its noun, never "account(s)".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// [`plural`] of a count a server gave (negative counts as 0).
pub fn plural_i64(n: i64, one: &str, many: &str) -> String {
    plural(usize::try_from(n).unwrap_or(0), one, many)
}

pub fn warn(msg: &str) {
    let text = fill(
        &format!("swop: warning: {}", clean_keeping(msg, true)),
        stderr_width(),
    );
    let text = text.replacen("warning:", &paint("33", "warning:"), 1);
    emit(format!("{text}\n"));
}

/// A line on stderr without the `swop: ` prefix (a next step, a note
/// that belongs to the line before). Never panics on a closed stderr.
pub fn plain(msg: &str) {
    emit(format!("{msg}\n"));
}

pub fn note(msg: &str) {
    emit(format!(
        "{}\n",
        fill(
            &format!("swop: {}", clean_keeping(msg, true)),
            stderr_width()
        )
    ));
}

pub fn error(e: &crate::base::error::Error) {
    let mut text = format!(
        "swop: {} {}\n",
        paint("31", "error:"),
        clean_keeping(&e.message, true)
    );
    if let Some(h) = &e.help {
        text.push_str(&format!(
            "{} {}\n",
            paint("36", "help:"),
            clean_keeping(h, true)
        ));
    }
    emit(text);
}

/// Asks `question [Y/n]` on stderr; Enter means yes. EOF means no.
pub fn confirm(question: &str) -> bool {
    emit(format!("swop: {question} [Y/n] "));
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            emit("\n".into());
            false
        }
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "" | "y" | "yes"),
    }
}

/// Asks `question [y/N]` on stderr for what cannot be undone: only an
/// explicit y or yes is a yes; Enter, EOF and anything else mean no.
pub fn confirm_strict(question: &str) -> bool {
    emit(format!("swop: {question} [y/N] "));
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            emit("\n".into());
            false
        }
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

/// A one-line "working on it" note on stderr for a wait that turned out
/// long: shown only on a terminal and only after `delay`, erased (not left
/// behind) when the value is dropped. Off a terminal it costs nothing.
pub struct Progress {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    pub fn after(delay: std::time::Duration, msg: &str) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress {
                stop: None,
                thread: None,
            };
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let line = format!("swop: {msg}...");
        let thread = std::thread::spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            if rx.recv_timeout(delay) != Err(RecvTimeoutError::Timeout) {
                return; // done (or dropped) before the delay: say nothing
            }
            emit(line);
            let _ = rx.recv();
            emit("\r\x1b[2K".to_string());
        });
        Progress {
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_breaks_at_spaces_within_the_width() {
        let t = fill(
            "swop: warning: usage for 'a' unavailable: HTTP 500",
            Some(20),
        );
        assert!(t.lines().all(|l| l.chars().count() <= 20), "{t}");
        assert!(t.lines().skip(1).all(|l| l.starts_with("  ")), "{t}");
        assert_eq!(fill("a b", None), "a b");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn clean_removes_every_control_character(s in "\\PC*|.*|[\\x00-\\x{9f}\\x{2028}-\\x{206f}]*") {
            let c = clean(&s);
            proptest::prop_assert!(!c.chars().any(is_unsafe), "{:?}", c);
            let v = serde_json::json!({"s": s});
            let j = json(&v);
            proptest::prop_assert!(!j.chars().any(|c| is_unsafe(c) && c != '\n'));
            proptest::prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&j).unwrap(), v.clone());
            let l = json_line(&v);
            proptest::prop_assert!(!l.chars().any(is_unsafe));
            proptest::prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&l).unwrap(), v);
        }
    }

    #[test]
    fn clean_escapes_control_characters() {
        assert_eq!(clean("plus"), "plus");
        assert!(matches!(clean("plus"), Cow::Borrowed(_)));
        assert_eq!(clean("a\x1b]0;pwned\x07b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(clean("x\nswop: fake"), "x\\nswop: fake");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(clean("\u{202e}gpj"), "\\u{202e}gpj");
        assert_eq!(clean_keeping("a\nb\x1b", true), "a\nb\\u{1b}");
        let v = serde_json::json!({"p": "a\u{9b}\u{1b}\n\u{202e}"});
        let text = json(&v);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }
}
