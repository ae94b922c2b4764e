//! The help texts, generated from the table in `cli::flags`: `swop --help`,
//! `swop help CMD` (= `swop CMD --help`), the usage line of each command,
//! `swop help config` and the version line. Pure: returns strings, prints
//! nothing. The manual page is `cli::man`.

use super::flags::{self, Flag, Operands, Spec};
use std::fmt::Write as _;

/// `swop version` and `swop --version`: the version, the git commit and
/// the build date (build.rs).
pub fn version() -> String {
    format!(
        "swop {} (commit {}, built {})",
        env!("CARGO_PKG_VERSION"),
        env!("SWOP_GIT_COMMIT"),
        env!("SWOP_BUILD_DATE")
    )
}

/// `swop --help`.
pub fn main_help() -> String {
    let mut s = String::from(
        "swop: run codex on whichever of your ChatGPT accounts has the most quota left\n\n\
         Usage: swop COMMAND [OPTIONS]\n       \
         codex [ARGS...]     (through the shim: the same as `swop codex`)\n\n\
         Get started:\n  \
         swop add work          log in to an account (once per account)\n  \
         swop status            usage of every account\n  \
         codex \"fix the tests\"  codex on the account with the most quota left\n\n\
         Commands:\n",
    );
    for spec in flags::COMMANDS {
        let _ = writeln!(s, "  {:<12} {}", spec.name, spec.summary);
    }
    s.push_str("\nOptions:\n");
    s.push_str(&options(flags::GLOBAL_FLAGS, None));
    let width = flags::ENVIRONMENT
        .iter()
        .chain(flags::ENVIRONMENT_SET)
        .map(|(v, _)| v.len())
        .max()
        .unwrap_or(0);
    s.push_str("\nEnvironment (an empty variable counts as unset):\n");
    s.push_str(&pairs_width(flags::ENVIRONMENT, width));
    s.push_str("Set by swop for the codex it starts (not for you to set):\n");
    s.push_str(&pairs_width(flags::ENVIRONMENT_SET, width));
    s.push_str(
        "\nFiles: $SWOP_HOME (default ~/.swop) holds swop.toml (optional; every key\n\
         and its default: swop help config), accounts/ and cache/.\n\nExit codes:\n",
    );
    let width = flags::EXIT_CODES
        .iter()
        .map(|(code, _)| code.to_string().len())
        .max()
        .unwrap_or(1);
    for (code, what) in flags::EXIT_CODES {
        let _ = writeln!(s, "  {code:>width$}  {what}");
    }
    s.push_str("\nMore: swop help COMMAND (or swop COMMAND --help).\n");
    s
}

/// `swop help TOPIC`: a command's help, or the example config.
pub fn topic_help(topic: &str) -> Option<String> {
    if topic == "config" {
        return Some(super::CONFIG_EXAMPLE.to_string());
    }
    flags::find(topic).map(command_help)
}

/// `swop help CMD`.
pub fn command_help(spec: &Spec) -> String {
    let mut s = format!("Usage: {}\n\n{}\n", usage(spec), spec.summary);
    if !spec.about.is_empty() {
        let _ = writeln!(s, "\n{}", spec.about);
    }
    if spec.operands != Operands::CodexArgs {
        s.push_str("\nOptions:\n");
        let own: Vec<&Flag> = spec.flags.iter().chain([&flags::HELP_HERE]).collect();
        s.push_str(&options_of(&own, spec.after_dashes));
    }
    if spec.operands == Operands::Topic {
        s.push_str("\nTopics:\n");
        let topics: Vec<(&str, &str)> = flags::COMMANDS
            .iter()
            .map(|c| (c.name, c.summary))
            .chain(flags::TOPICS.iter().copied())
            .collect();
        s.push_str(&pairs(&topics));
    }
    s.push_str("\nExamples:\n");
    let width = spec
        .examples
        .iter()
        .map(|(c, _)| c.len())
        .max()
        .unwrap_or(0);
    // Side by side when every row fits 80 columns, else each "what"
    // under its command.
    let stacked = spec
        .examples
        .iter()
        .any(|(_, what)| 2 + width + 2 + what.len() > 80);
    for (cmd, what) in spec.examples {
        if stacked {
            let _ = writeln!(s, "  {cmd}\n      {what}");
        } else {
            let _ = writeln!(s, "  {cmd:<width$}  {what}");
        }
    }
    s
}

/// The usage line: `swop add NAME [--device-auth] [-- LOGIN_ARGS...]`.
pub fn usage(spec: &Spec) -> String {
    let mut s = format!("swop {}", spec.name);
    match spec.operands {
        Operands::NewName | Operands::Account => s.push_str(" NAME"),
        Operands::Editor => s.push_str(" [EDITOR]"),
        Operands::Shell => {
            let _ = write!(s, " {}", flags::SHELLS.join("|"));
        }
        _ => {}
    }
    for f in spec.flags {
        match f.value {
            Some(v) => write!(s, " [--{} {v}]", f.long),
            None => write!(s, " [--{}]", f.long),
        }
        .expect("write to a String");
    }
    match spec.operands {
        Operands::Accounts => s.push_str(" [NAME...]"),
        Operands::Topic => s.push_str(" [COMMAND|config]"),
        Operands::CodexArgs => s.push_str(" [ARGS...]"),
        _ => {}
    }
    if let Some((what, _)) = spec.after_dashes {
        let _ = write!(s, " [-- {what}...]");
    }
    s
}

fn options(list: &[Flag], after_dashes: Option<(&str, &str)>) -> String {
    options_of(&list.iter().collect::<Vec<_>>(), after_dashes)
}

/// An aligned table: `  -f, --force   help`.
fn options_of(list: &[&Flag], after_dashes: Option<(&str, &str)>) -> String {
    let mut rows: Vec<(String, &str)> = list
        .iter()
        .map(|f| {
            let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_default();
            let value = f.value.map(|v| format!(" {v}")).unwrap_or_default();
            (format!("{short:>4}--{}{value}", f.long), f.help)
        })
        .collect();
    if let Some((what, help)) = after_dashes {
        rows.push((format!("    -- {what}..."), help));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(l, h)| format!("  {l:<width$}   {h}\n"))
        .collect()
}

/// An aligned two-column list.
fn pairs(list: &[(&str, &str)]) -> String {
    let width = list.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
    pairs_width(list, width)
}

fn pairs_width(list: &[(&str, &str)], width: usize) -> String {
    list.iter()
        .map(|(a, b)| format!("  {a:<width$}  {b}\n"))
        .collect()
}
