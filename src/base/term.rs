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
    eprint!("swop: {question} [Y/n] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            eprintln!();
            false
        }
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "" | "y" | "yes"),
    }
}
