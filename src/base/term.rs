//! Talking to the person at the terminal: one-line notes and warnings on
//! stderr with a `swop: ` prefix, and yes/no questions. Colour only on a
//! terminal and never when NO_COLOR is set.

use std::io::{BufRead, IsTerminal, Write};

fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn paint(code: &str, text: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Writes `text` to stderr in one write(2), so that lines of swops running
/// side by side in one terminal never interleave mid-line.
fn emit(text: String) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub fn warn(msg: &str) {
    emit(format!("swop: {} {msg}\n", paint("33", "warning:")));
}

/// A line on stderr without the `swop: ` prefix (a next step, a note
/// that belongs to the line before). Never panics on a closed stderr.
pub fn plain(msg: &str) {
    emit(format!("{msg}\n"));
}

pub fn note(msg: &str) {
    emit(format!("swop: {msg}\n"));
}

pub fn error(e: &crate::base::error::Error) {
    let mut text = format!("swop: {} {}\n", paint("31", "error:"), e.message);
    if let Some(h) = &e.help {
        text.push_str(&format!("{} {h}\n", paint("36", "help:")));
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
