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

pub fn warn(msg: &str) {
    eprintln!("swop: {} {msg}", paint("33", "warning:"));
}

pub fn note(msg: &str) {
    eprintln!("swop: {msg}");
}

pub fn error(e: &crate::error::Error) {
    eprintln!("swop: {} {}", paint("31", "error:"), e.message);
    if let Some(h) = &e.help {
        eprintln!("{} {h}", paint("36", "help:"));
    }
}

/// Both stdin and stderr are terminals: a person can answer a question.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
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
