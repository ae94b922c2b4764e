//! Talking to the person at the terminal: one-line notes and warnings on
//! stderr with a `swop: ` prefix, and yes/no questions. Colour only on a
//! terminal and never when NO_COLOR is set.

use std::io::{BufRead, IsTerminal, Write};

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
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
    let from_env = std::env::var("COLUMNS")
        .ok()
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
