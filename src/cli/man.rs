//! The manual page, swop(1), in roff, generated from the table in
//! `cli::flags` as the help is: every command's usage line, summary, about,
//! options and examples, then the environment, files and exit codes. Printed
//! by `swop help --man`; install.sh writes it to your man dir. Pure: returns
//! the text, prints nothing.

use super::flags::{self, Flag, Spec};
use super::help;
use std::fmt::Write as _;

/// Text made safe for roff: a backslash is `\e`, every `-` is `\-` (a
/// minus, so options copy and paste as typed), and a line that would start
/// with `.` or `'` (a request) starts with `\&`.
fn esc(text: &str) -> String {
    text.lines()
        .map(|line| {
            let body = line.replace('\\', "\\e").replace('-', "\\-");
            if body.starts_with(['.', '\'']) {
                format!("\\&{body}")
            } else {
                body
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A paragraph of help text (hard-wrapped at 78 columns in the table):
/// joined into one so that man fills it to the reader's width.
fn para(text: &str) -> String {
    esc(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn option(s: &mut String, f: &Flag) {
    let short = f.short.map(|c| format!("\\-{c}, ")).unwrap_or_default();
    let value = f
        .value
        .map(|v| format!(" \\fI{}\\fR", esc(v)))
        .unwrap_or_default();
    let _ = writeln!(
        s,
        ".TP\n\\fB{short}\\-\\-{}\\fR{value}\n{}",
        esc(f.long),
        esc(f.help)
    );
}

fn command(s: &mut String, spec: &Spec) {
    let _ = writeln!(s, ".SS \"{}\"", esc(&help::usage(spec)));
    let _ = writeln!(s, "{}", para(spec.summary));
    if !spec.about.is_empty() {
        let _ = writeln!(s, ".PP\n{}", para(spec.about));
    }
    for f in spec.flags {
        option(s, f);
    }
    if let Some((what, about)) = spec.after_dashes {
        let _ = writeln!(
            s,
            ".TP\n\\fB\\-\\-\\fR \\fI{}\\fR...\n{}",
            esc(what),
            esc(about)
        );
    }
    s.push_str(".PP\nExamples:\n.RS\n");
    for (cmd, what) in spec.examples {
        let _ = writeln!(s, ".TP\n\\fB{}\\fR\n{}", esc(cmd), esc(what));
    }
    s.push_str(".RE\n");
}

/// `swop help --man`.
pub fn page() -> String {
    let mut s = format!(
        ".TH SWOP 1 \"{}\" \"swop {}\" \"User Commands\"\n",
        env!("SWOP_BUILD_DATE"),
        env!("CARGO_PKG_VERSION")
    );
    s.push_str(
        ".SH NAME\nswop \\- run codex on whichever of your ChatGPT accounts has the most quota left\n\
         .SH SYNOPSIS\n\\fBswop\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n\
         \\fBcodex\\fR [\\fIARGS\\fR...]  (through the shim: the same as \\fBswop codex\\fR)\n\
         .SH DESCRIPTION\n",
    );
    s.push_str(&para(
        "swop runs OpenAI's Codex CLI across several ChatGPT accounts. Each account \
         lives in its own sandbox (its own CODEX_HOME). You type codex as always: the \
         codex shim picks the account with the most weekly quota left, says which on \
         stderr, and runs the real codex under it.",
    ));
    s.push_str("\n.SH COMMANDS\n");
    for spec in flags::COMMANDS {
        command(&mut s, spec);
    }
    s.push_str(".SH OPTIONS\n");
    for f in flags::GLOBAL_FLAGS {
        option(&mut s, f);
    }
    s.push_str(".SH ENVIRONMENT\n");
    for (var, what) in flags::ENVIRONMENT {
        let _ = writeln!(s, ".TP\n\\fB{}\\fR\n{}", esc(var), esc(what));
    }
    s.push_str(".PP\nSet by swop for the codex it starts (not for you to set):\n");
    for (var, what) in flags::ENVIRONMENT_SET {
        let _ = writeln!(s, ".TP\n\\fB{}\\fR\n{}", esc(var), esc(what));
    }
    let _ = writeln!(
        s,
        ".SH FILES\n.TP\n\\fB$SWOP_HOME\\fR (default \\fI~/.swop\\fR)\n{}",
        para(
            "swop.toml (optional; every key and its default: swop help config), \
             accounts/NAME/ (the CODEX_HOME of each account), cache/."
        )
    );
    s.push_str(".SH EXIT STATUS\n");
    for (code, what) in flags::EXIT_CODES {
        let _ = writeln!(s, ".TP\n\\fB{code}\\fR\n{}", esc(what));
    }
    s.push_str(&format!(
        ".SH SEE ALSO\n{}\n",
        para("swop help COMMAND, swop help config, and the README of swop's repository.")
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_flag_and_code_is_in_the_page() {
        let page = page();
        assert!(page.starts_with(".TH SWOP 1 "));
        for section in ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS"] {
            assert!(page.contains(&format!("\n.SH {section}\n")), "{section}");
        }
        for spec in flags::COMMANDS {
            let usage = esc(&help::usage(spec));
            assert!(page.contains(&format!(".SS \"{usage}\"\n")), "{usage}");
            for f in spec.flags {
                assert!(
                    page.contains(&format!("\\-\\-{}", esc(f.long))),
                    "{}",
                    f.long
                );
            }
        }
        for (code, _) in flags::EXIT_CODES {
            assert!(page.contains(&format!(".TP\n\\fB{code}\\fR\n")), "{code}");
        }
        // No line of text is taken for a request.
        for line in page.lines().filter(|l| l.starts_with(['.', '\''])) {
            let request = line[1..].split([' ', '"']).next().unwrap_or("");
            assert!(
                ["TH", "SH", "SS", "PP", "TP", "RS", "RE", "br"].contains(&request),
                "not a request swop writes: {line}"
            );
        }
    }

    #[test]
    fn roff_specials_are_escaped() {
        assert_eq!(esc("--json"), "\\-\\-json");
        assert_eq!(esc("a\\b"), "a\\eb");
        assert_eq!(esc(".hidden\n'quote"), "\\&.hidden\n\\&'quote");
    }
}
