//! What the relay has to tell the person (a failover, an account it could
//! not move to), and when: at once while codex writes plain lines (`exec`),
//! or after codex has exited when codex owns the terminal (the TUI). A line
//! written into the TUI's screen lands wherever its cursor is (seen: over
//! the composer's placeholder, which the TUI never repaints) and is lost at
//! the next redraw.
//!
//! Never holds a secret: callers pass finished sentences that name
//! accounts only.

use crate::base::term;
use std::sync::Mutex;

/// When the relay's lines reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// As they happen.
    Live,
    /// Once codex has exited (the relay is dropped).
    AfterExit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Note(String),
    Warn(String),
}

pub struct Notices {
    when: When,
    held: Mutex<Vec<Line>>,
}

impl Notices {
    pub fn new(when: When) -> Notices {
        Notices {
            when,
            held: Mutex::new(Vec::new()),
        }
    }

    /// A `swop: ` note.
    pub fn note(&self, text: String) {
        self.say(Line::Note(text));
    }

    /// A `swop: warning: ` line.
    pub fn warn(&self, text: String) {
        self.say(Line::Warn(text));
    }

    fn say(&self, line: Line) {
        match self.when {
            When::Live => emit(&line),
            When::AfterExit => self.lock().push(line),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Line>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The held lines' text, in order.
    #[cfg(test)]
    pub fn held(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|l| match l {
                Line::Note(t) | Line::Warn(t) => t.clone(),
            })
            .collect()
    }

    /// Writes the held lines, in order, once.
    pub fn flush(&self) {
        for line in std::mem::take(&mut *self.lock()) {
            emit(&line);
        }
    }
}

fn emit(line: &Line) {
    match line {
        Line::Note(t) => term::note(t),
        Line::Warn(t) => term::warn(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_exit_holds_lines_in_order_until_flushed_once() {
        let n = Notices::new(When::AfterExit);
        n.note("one".into());
        n.warn("two".into());
        assert_eq!(
            *n.lock(),
            vec![Line::Note("one".into()), Line::Warn("two".into())]
        );
        n.flush();
        assert!(n.lock().is_empty(), "flushed lines are not written again");
    }

    #[test]
    fn live_holds_nothing() {
        let n = Notices::new(When::Live);
        n.note("one".into());
        assert!(n.lock().is_empty());
    }
}
