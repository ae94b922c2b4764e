//! Making what swop prints fit the terminal: the one mechanism every
//! command's tables and prose go through, so that nothing a person reads
//! is wrapped by the terminal in the middle of a column or a word.
//!
//! - [`Table`]: columns that give way in the order the caller names
//!   ([`Give`]): a shorter form (full dates become "in 2d"), columns that
//!   say nothing dropped, cells cut with "…", columns dropped, the last
//!   column wrapped under itself. What still does not fit is cut at the
//!   width, never wrapped.
//! - [`lines`] / [`wrap`]: prose broken at spaces with a hanging indent
//!   (under the text's last column, when it has one).
//!
//! A width of `None` (stdout or stderr is not a terminal) leaves everything
//! whole: piped output keeps every column and every character. Widths are
//! terminal columns ([`width`]), not bytes or chars. Every table cell is
//! made safe to print with [`term::clean`] (cells hold server and JWT
//! strings). A single word longer than a line (a path, a command to copy)
//! is never broken. Pure: prints nothing, reads nothing.

use crate::base::term;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How many terminal columns `s` takes.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// The widest line of `text`.
pub fn widest(text: &str) -> usize {
    text.lines().map(width).max().unwrap_or(0)
}

/// `s` in at most `max` columns, its end replaced by "…" when cut.
pub fn cut(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out + "…"
}

/// The same keeping the end ("…/src/app"): for paths, whose end says most.
pub fn cut_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut kept: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        kept.push(c);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

/// `text` (one paragraph) broken at spaces into lines of at most `width`
/// columns; the first line as it starts, later ones indented by `indent`
/// spaces. A word that does not fit a line on its own stays whole.
pub fn wrap(text: &str, width: Option<usize>, indent: usize) -> String {
    let Some(width) = width.filter(|&w| w > indent + 8) else {
        return text.to_string();
    };
    if self::width(text) <= width {
        return text.to_string();
    }
    let lead = text.len() - text.trim_start_matches(' ').len();
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = vec![text[..lead].to_string()];
    let mut fresh = true; // nothing but indentation on the current line yet
    let mut rest = &text[lead..];
    while !rest.is_empty() {
        // The spaces before the next word stay as they were on one line.
        let gap = rest.len() - rest.trim_start_matches(' ').len();
        let (sep, after) = rest.split_at(gap);
        let (word, next) = after.split_at(after.find(' ').unwrap_or(after.len()));
        rest = next;
        if word.is_empty() {
            break; // trailing spaces
        }
        let cur = lines.last_mut().expect("one line at least");
        // A word too long for any line stays where it is: moving it would
        // only leave a short line behind.
        let fits_alone = indent + self::width(word) <= width;
        if !fresh && self::width(cur) + self::width(sep) + self::width(word) > width && fits_alone {
            lines.push(format!("{pad}{word}"));
        } else {
            if !fresh {
                cur.push_str(sep);
            }
            cur.push_str(word);
        }
        fresh = false;
    }
    lines.join("\n")
}

/// Every line of `text` fitted to `width`: a line that is too wide is
/// broken at spaces, its later lines under the start of its last column
/// (the text after a run of two spaces, as in `  --json   print JSON`),
/// or, when that column starts too far right to be useful, with the
/// column's text moved to the next lines, indented by four more than the
/// line; a line with no column indents its later lines by two.
pub fn lines(text: &str, width: Option<usize>) -> String {
    let Some(w) = width else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let (body, end) = line.split_at(line.trim_end_matches('\n').len());
        out.push_str(&fit_line(body, w));
        out.push_str(end);
    }
    out
}

fn fit_line(line: &str, w: usize) -> String {
    if width(line) <= w {
        return line.to_string();
    }
    let lead = line.len() - line.trim_start_matches(' ').len();
    // The start of the last column: after the last run of 2+ spaces.
    let column = line[lead..]
        .rfind("  ")
        .map(|i| lead + i + line[lead + i..].len() - line[lead + i..].trim_start().len());
    // Under the column only when it leaves room for the column's words.
    let longest = |t: &str| t.split(' ').map(width).max().unwrap_or(0);
    match column {
        Some(at)
            if width(&line[..at]) <= w / 2 && width(&line[..at]) + longest(&line[at..]) <= w =>
        {
            wrap(line, Some(w), width(&line[..at]))
        }
        Some(at) => {
            let head = line[..at].trim_end();
            let rest = format!("{}{}", " ".repeat(lead + 4), &line[at..]);
            format!("{head}\n{}", wrap(&rest, Some(w), lead + 4))
        }
        None => wrap(line, Some(w), lead + 2),
    }
}

/// One cell: its text and an SGR colour (applied after padding, so colour
/// never changes the alignment).
#[derive(Clone, Debug)]
pub struct Cell {
    pub text: String,
    pub color: Option<&'static str>,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, color: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// One column: its forms, fullest first (a header and every row's cell
/// each), and what its cells read when they say nothing.
#[derive(Clone, Debug)]
pub struct Column {
    forms: Vec<(String, Vec<Cell>)>,
    blank: &'static [&'static str],
}

impl Column {
    pub fn new(header: &str, cells: Vec<Cell>) -> Column {
        Column {
            forms: vec![(header.to_string(), clean_all(cells))],
            blank: &[],
        }
    }

    /// A shorter form, reached by [`Give::Shorten`].
    pub fn or(mut self, header: &str, cells: Vec<Cell>) -> Column {
        self.forms.push((header.to_string(), clean_all(cells)));
        self
    }

    /// Cells reading one of `values` say nothing ("-", "0"): a column of
    /// only those goes first ([`Give::DropBlank`]).
    pub fn blank(mut self, values: &'static [&'static str]) -> Column {
        self.blank = values;
        self
    }

    fn says_nothing(&self) -> bool {
        !self.blank.is_empty()
            && self.forms[0]
                .1
                .iter()
                .all(|c| self.blank.contains(&c.text.as_str()))
    }
}

fn clean_all(cells: Vec<Cell>) -> Vec<Cell> {
    cells
        .into_iter()
        .map(|c| Cell {
            text: term::clean(&c.text).into_owned(),
            color: c.color,
        })
        .collect()
}

/// One way a table gives width back, tried in the order given until the
/// table fits. Indices are column positions in the table.
#[derive(Clone, Copy, Debug)]
pub enum Give {
    /// The column's next shorter form.
    Shorten(usize),
    /// Every column whose cells all say nothing ([`Column::blank`]).
    DropBlank,
    /// Cut the column's cells with "…", as little as needed and to no
    /// fewer than this many columns.
    Cut(usize, usize),
    /// The same keeping the cells' ends (paths).
    CutLeft(usize, usize),
    Drop(usize),
    /// Wrap the last shown column at spaces, its later lines under its
    /// start, when that leaves it at least this many columns.
    Wrap(usize),
}

/// A table: a header row (unless `headless`) and rows, two spaces between
/// columns, left-aligned, no trailing spaces.
#[derive(Clone, Debug)]
pub struct Table {
    pub columns: Vec<Column>,
    pub headless: bool,
}

/// How a table was fitted: what the caller may need to explain (a short
/// header's meaning is only worth a legend when it is shown).
#[derive(Clone, Debug)]
pub struct Fitted {
    pub text: String,
    form: Vec<usize>,
    shown: Vec<bool>,
}

impl Fitted {
    /// Column `i` is shown, in its form `form` (0 = fullest).
    pub fn shows(&self, i: usize, form: usize) -> bool {
        self.shown[i] && self.form[i] == form
    }
}

#[derive(Clone)]
struct State {
    form: Vec<usize>,
    shown: Vec<bool>,
    max: Vec<Option<(usize, bool)>>, // (columns, keep the end)
    wrap: Option<usize>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            headless: false,
        }
    }

    /// A table of plain cells: `header` names the columns, `rows` are
    /// lines of cells in the same order.
    pub fn of(header: &[&str], rows: &[Vec<String>]) -> Table {
        let columns = header
            .iter()
            .enumerate()
            .map(|(i, h)| Column::new(h, rows.iter().map(|r| Cell::from(r[i].clone())).collect()))
            .collect();
        Table::new(columns)
    }

    /// Without the header row.
    pub fn headless(mut self) -> Table {
        self.headless = true;
        self
    }

    /// The table in `width` (None: whole), giving way by `give` in order.
    pub fn fit(&self, width: Option<usize>, give: &[Give], color: bool) -> Fitted {
        let n = self.columns.len();
        let mut st = State {
            form: vec![0; n],
            shown: vec![true; n],
            max: vec![None; n],
            wrap: None,
        };
        let done = |st: &State| Fitted {
            text: self.render(st, width, color),
            form: st.form.clone(),
            shown: st.shown.clone(),
        };
        let Some(w) = width else {
            return done(&st);
        };
        let over = |st: &State| widest(&self.render(st, Some(w), false)).saturating_sub(w);
        for g in give {
            if over(&st) == 0 {
                self.relax(&mut st, w);
                return done(&st);
            }
            let o = over(&st);
            self.apply(&mut st, *g, o);
        }
        if over(&st) == 0 {
            self.relax(&mut st, w);
            return done(&st);
        }
        // Still too wide: cut every line (no colour: no escape code is cut).
        let text = self
            .render(&st, Some(w), false)
            .lines()
            .map(|l| cut(l, w) + "\n")
            .collect();
        Fitted {
            text,
            form: st.form,
            shown: st.shown,
        }
    }

    fn apply(&self, st: &mut State, g: Give, over: usize) {
        match g {
            Give::Shorten(i) => st.form[i] = (st.form[i] + 1).min(self.columns[i].forms.len() - 1),
            Give::DropBlank => {
                for (i, c) in self.columns.iter().enumerate() {
                    if c.says_nothing() {
                        st.shown[i] = false;
                    }
                }
            }
            Give::Cut(i, min) | Give::CutLeft(i, min) => {
                let now = self.column_width(st, i);
                let to = now.saturating_sub(over).max(min);
                st.max[i] = Some((to, matches!(g, Give::CutLeft(..))));
            }
            Give::Drop(i) => st.shown[i] = false,
            Give::Wrap(min) => st.wrap = Some(min),
        }
    }

    /// Gives cut columns back what a later step freed (a name cut to its
    /// minimum before a column was dropped anyway gets its length back).
    fn relax(&self, st: &mut State, w: usize) {
        for i in 0..self.columns.len() {
            let Some((max, left)) = st.max[i] else {
                continue;
            };
            let slack = w.saturating_sub(widest(&self.render(st, Some(w), false)));
            if slack == 0 {
                return;
            }
            st.max[i] = Some((max + slack, left));
            if widest(&self.render(st, Some(w), false)) > w {
                st.max[i] = Some((max, left));
            }
        }
    }

    fn cell(&self, st: &State, i: usize, row: usize) -> Cell {
        let c = &self.columns[i].forms[st.form[i]].1[row];
        let text = match st.max[i] {
            Some((m, false)) => cut(&c.text, m),
            Some((m, true)) => cut_left(&c.text, m),
            None => c.text.clone(),
        };
        Cell {
            text,
            color: c.color,
        }
    }

    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.forms[0].1.len())
    }

    fn column_width(&self, st: &State, i: usize) -> usize {
        let header = if self.headless {
            0
        } else {
            width(&self.columns[i].forms[st.form[i]].0)
        };
        (0..self.rows())
            .map(|r| width(&self.cell(st, i, r).text))
            .fold(header, usize::max)
    }

    fn render(&self, st: &State, width: Option<usize>, color: bool) -> String {
        let shown: Vec<usize> = (0..self.columns.len()).filter(|&i| st.shown[i]).collect();
        let widths: Vec<usize> = shown.iter().map(|&i| self.column_width(st, i)).collect();
        let start: usize = widths.iter().rev().skip(1).map(|w| w + 2).sum();
        // The room the last column has when it may wrap.
        let room = match (st.wrap, width) {
            (Some(min), Some(w)) if w >= start + min => Some(w - start),
            _ => None,
        };
        let mut rows: Vec<Vec<Cell>> = Vec::new();
        if !self.headless {
            rows.push(
                shown
                    .iter()
                    .map(|&i| Cell::from(self.columns[i].forms[st.form[i]].0.as_str()))
                    .collect(),
            );
        }
        for r in 0..self.rows() {
            rows.push(shown.iter().map(|&i| self.cell(st, i, r)).collect());
        }
        let mut out = String::new();
        for row in rows {
            let mut line = String::new();
            for (k, c) in row.iter().enumerate() {
                let last = k + 1 == row.len();
                let text = match (last, room) {
                    (true, Some(room)) => wrap(&c.text, Some(room), 0)
                        .replace('\n', &format!("\n{}", " ".repeat(start))),
                    _ => c.text.clone(),
                };
                let pad = if last {
                    0
                } else {
                    widths[k] - self::width(&c.text) + 2
                };
                match c.color {
                    Some(code) => line.push_str(&term::painted(color, code, &text)),
                    None => line.push_str(&text),
                }
                line.push_str(&" ".repeat(pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<Cell> {
        v.iter().map(|s| Cell::from(*s)).collect()
    }

    #[test]
    fn cuts_by_terminal_columns() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(cut_left("/src/my/app", 6), "…y/app");
        assert_eq!(width("日本"), 4);
        assert_eq!(cut("日本語", 4), "日…");
        assert!(width(&cut("日本語", 4)) <= 4);
    }

    #[test]
    fn wrap_breaks_at_spaces_and_keeps_long_words() {
        let t = wrap("one two three four five six", Some(12), 2);
        assert_eq!(t, "one two\n  three four\n  five six");
        let t = wrap("  see /a/very/long/path/that/stays/whole ok", Some(14), 4);
        assert!(t.contains("/a/very/long/path/that/stays/whole"), "{t}");
        assert_eq!(wrap("a b", None, 2), "a b");
    }

    #[test]
    fn lines_hang_under_the_last_column() {
        let row = "  --accounts SPEC   [NAME=]PLAN[:WEEKLY%[@RESET_IN]],... (default: yours)\n";
        let t = lines(row, Some(60));
        assert!(widest(&t) <= 60, "{t}");
        let second = t.lines().nth(1).unwrap();
        assert!(second.starts_with(&" ".repeat(20)), "{t}");
        // No room under the column for its longest word: the text moves
        // under the line instead.
        let t = lines(row, Some(50));
        assert!(widest(&t) <= 50, "{t}");
        assert!(t.starts_with("  --accounts SPEC\n      [NAME=]"), "{t}");
        // A column too far right: its text goes under the line, indented.
        let t = lines(
            "  swop simulate --accounts plus:60@1d,pro:20@6d --workload crunch  two made-up accounts\n",
            Some(60),
        );
        assert!(
            t.starts_with("  swop simulate --accounts plus:60@1d,pro:20@6d --workload crunch\n      two made-up"),
            "{t}"
        );
        assert_eq!(lines("short\n", Some(60)), "short\n");
    }

    fn sample() -> Table {
        Table::new(vec![
            Column::new("NAME", cells(&["a-very-long-account-name", "b"])),
            Column::new("WHEN", cells(&["Fri 28 Nov 10:00 (in 2d 3h)", "-"]))
                .or("WHEN", cells(&["in 2d 3h", "-"])),
            Column::new("LIVE", cells(&["0", "0"])).blank(&["0"]),
            Column::new("EMAIL", cells(&["someone@example.com", "-"])),
        ])
    }

    #[test]
    fn gives_way_in_the_order_named() {
        let give = [
            Give::Shorten(1),
            Give::DropBlank,
            Give::Cut(0, 8),
            Give::Drop(3),
            Give::Cut(0, 3),
        ];
        let whole = sample().fit(None, &give, false);
        assert!(whole.text.contains("LIVE") && whole.text.contains("(in 2d 3h)"));
        for w in [20, 30, 40, 50, 60, 80] {
            let f = sample().fit(Some(w), &give, false);
            assert!(widest(&f.text) <= w, "{w}:\n{}", f.text);
        }
        // Cut to its minimum, then a column dropped anyway: the name gets
        // back the room the drop freed.
        let f = sample().fit(
            Some(36),
            &[
                Give::Shorten(1),
                Give::DropBlank,
                Give::Cut(0, 6),
                Give::Drop(3),
            ],
            false,
        );
        assert!(widest(&f.text) <= 36, "{}", f.text);
        assert!(f.text.contains("a-very-long-account-name"), "{}", f.text);
        let f = sample().fit(Some(50), &give, false);
        assert!(!f.shows(2, 0), "the all-0 column goes first:\n{}", f.text);
        assert!(f.shows(3, 0), "EMAIL stays when cutting the name is enough");
        assert!(f.text.contains('…'), "{}", f.text);
        assert!(f.shows(1, 1));
    }

    #[test]
    fn a_wrapped_last_column_stays_under_itself() {
        let t = Table::new(vec![
            Column::new("", cells(&["  b", "  c"])),
            Column::new(
                "",
                cells(&["limit reached, resets Fri 28 Nov 10:00 (in 2d 3h)", "ok"]),
            ),
        ])
        .headless();
        let f = t.fit(Some(30), &[Give::Wrap(12)], false);
        assert!(widest(&f.text) <= 30, "{}", f.text);
        assert!(
            f.text.lines().nth(1).unwrap().starts_with("     "),
            "{}",
            f.text
        );
        assert!(f.text.starts_with("  b  limit reached,"), "{}", f.text);
    }

    #[test]
    fn colour_does_not_change_alignment() {
        let t = Table::new(vec![
            Column::new(
                "STATE",
                vec![Cell {
                    text: "ok".into(),
                    color: Some("32"),
                }],
            ),
            Column::new("N", cells(&["1"])),
        ]);
        assert_eq!(
            t.fit(None, &[], true).text,
            "STATE  N\n\x1b[32mok\x1b[0m     1\n"
        );
        let t = Table::new(vec![Column::new("A", cells(&["p\x1b[2J\nswop: x"]))]);
        let text = t.fit(None, &[], false).text;
        assert!(
            !text.contains('\x1b') && text.lines().count() == 2,
            "{text:?}"
        );
    }
}
