//! Lines of a file someone else writes (codex's rollouts), read in constant
//! memory whatever the file holds: a line is kept up to a cap, and a longer
//! one is passed over (its bytes are read and dropped, never gathered), so a
//! multi-GB line costs reading time, not memory.
//!
//! Never opens anything itself: the caller opens the file (through
//! `files::open_regular`) and bounds how much of it this reader sees.

use std::io::{BufRead, BufReader, Read};

/// The longest line swop keeps from a rollout: 1 MiB. codex 0.171.0's
/// session_meta line is about 27 KB (it carries the base instructions) and
/// a `token_count` line under 1 KB; a line longer than this (a tool output
/// or an image inlined by codex) holds nothing swop reads, and is skipped.
pub const LINE_CAP: usize = 1 << 20;

/// One line as [`Lines::next_line`] yields it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line without its `\n` (the last line may lack one).
    Text(&'a [u8]),
    /// Longer than the cap: passed over.
    TooLong,
}

/// A line reader over `R` that keeps at most `cap` bytes of a line.
pub struct Lines<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    cap: usize,
}

impl<R: Read> Lines<R> {
    pub fn new(inner: R, cap: usize) -> Lines<R> {
        Lines {
            inner: BufReader::with_capacity(64 << 10, inner),
            buf: Vec::new(),
            cap,
        }
    }

    /// The next line, or None at the end (or on a read error).
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            };
            if chunk.is_empty() {
                if !any {
                    return None;
                }
                break;
            }
            any = true;
            let (part, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], Some(i + 1)),
                None => (chunk, None),
            };
            if !too_long {
                if self.buf.len() + part.len() > self.cap {
                    too_long = true;
                    // Give back what the line had taken: constant memory.
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            let used = end.unwrap_or(chunk.len());
            self.inner.consume(used);
            if end.is_some() {
                break;
            }
        }
        Some(if too_long {
            Line::TooLong
        } else {
            Line::Text(&self.buf)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], cap: usize) -> Vec<Option<String>> {
        let mut r = Lines::new(input, cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line() {
            out.push(match l {
                Line::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn lines_up_to_the_cap_are_kept_and_longer_ones_skipped() {
        let text = b"short\n0123456789abcdef\nok\nlast without newline";
        assert_eq!(
            all(text, 10),
            [
                Some("short".into()),
                None,
                Some("ok".into()),
                None, // 20 bytes
            ]
        );
        assert_eq!(
            all(b"a\n\nb\n", 10),
            [Some("a".into()), Some("".into()), Some("b".into())]
        );
        assert!(all(b"", 10).is_empty());
    }

    #[test]
    fn a_line_longer_than_the_cap_costs_no_memory() {
        // 64 MiB of one line: what stays allocated is never more than the cap.
        let huge = std::io::repeat(b'x')
            .take(64 << 20)
            .chain(&b"\nafter\n"[..]);
        let mut r = Lines::new(huge, 1024);
        assert_eq!(r.next_line(), Some(Line::TooLong));
        assert!(r.buf.capacity() <= 1024);
        assert_eq!(r.next_line(), Some(Line::Text(b"after")));
        assert_eq!(r.next_line(), None);
    }
}
