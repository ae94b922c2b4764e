//! codex's argument grammar, as far as swop needs it: which subcommand a
//! command line runs, which calls skip selection (fast paths), how a session
//! is continued (`resume` / `exec resume`), and the `--last` request that
//! swop answers across accounts.
//!
//! The one place that reads codex's argv. Never changes the user's
//! arguments except for the documented rewrites (continuation, `--last`).

use std::ffi::OsString;

/// Options of codex that take a value: their value is not a subcommand.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-c",
    "--config",
    "-p",
    "--profile",
    "-m",
    "--model",
    "-C",
    "--cd",
    "-s",
    "--sandbox",
    "-a",
    "--ask-for-approval",
    "-i",
    "--image",
    "--enable",
    "--disable",
];

/// First arguments that never need an account: run the real codex as is.
const FAST_PATHS: &[&str] = &["--version", "-V", "--help", "-h", "help", "completion"];

/// The codex subcommand: the first argument that is not an option (skipping
/// the values of options that take one); None for the interactive TUI.
pub fn subcommand(args: &[OsString]) -> Option<&str> {
    let mut skip = false;
    for a in args {
        let s = a.to_str()?;
        if skip {
            skip = false;
            continue;
        }
        if OPTIONS_WITH_VALUE.contains(&s) {
            skip = true;
            continue;
        }
        if s == "--" {
            return None;
        }
        if !s.starts_with('-') {
            return Some(s);
        }
    }
    None
}

/// `codex --version`, `codex help`, ...: no account, no selection.
pub fn is_fast_path(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| a.to_str())
        .is_some_and(|f| FAST_PATHS.contains(&f))
}

/// How a run talks to the person: decides how a session is continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `codex exec ...` (alias `e`): a script or a one-shot prompt.
    Exec,
    /// The TUI: no subcommand, a prompt, or `resume`.
    Interactive,
    /// Any other subcommand (mcp, apply, ...).
    Other,
}

/// The mode of a command line. A first argument that is not a known
/// subcommand is the TUI's initial prompt.
pub fn mode(args: &[OsString]) -> Mode {
    match subcommand(args) {
        Some("exec" | "e") => Mode::Exec,
        None | Some("resume") => Mode::Interactive,
        Some(s) if is_subcommand(s) => Mode::Other,
        Some(_) => Mode::Interactive,
    }
}

fn is_subcommand(s: &str) -> bool {
    matches!(
        s,
        "login"
            | "logout"
            | "mcp"
            | "mcp-server"
            | "app-server"
            | "apply"
            | "a"
            | "cloud"
            | "sandbox"
            | "debug"
            | "features"
            | "fork"
            | "proto"
            | "completion"
            | "help"
    )
}

/// The arguments that continue session `id`, built from the original ones:
/// `exec [opts] resume ID [prompt]` for exec runs, `[opts] resume ID` for
/// the TUI; a `resume --last` gets the id in place of `--last`.
pub fn continuation(args: &[OsString], id: &str) -> Vec<OsString> {
    let sub = subcommand(args);
    let pos = sub.and_then(|s| args.iter().position(|a| a.to_str() == Some(s)));
    match (sub, pos) {
        (Some("exec" | "e"), Some(i)) => {
            let before = &args[..=i];
            let rest = &args[i + 1..];
            if subcommand(rest) == Some("resume") {
                return with_id_for_last(args, id);
            }
            // The prompt is the last argument when it is not an option.
            let (opts, prompt) = match rest.last() {
                Some(p) if !p.to_string_lossy().starts_with('-') => {
                    (&rest[..rest.len() - 1], Some(p.clone()))
                }
                _ => (rest, None),
            };
            let mut out: Vec<OsString> = before.to_vec();
            out.extend(opts.iter().cloned());
            out.push("resume".into());
            out.push(id.into());
            out.extend(prompt);
            out
        }
        (Some("resume"), Some(_)) => with_id_for_last(args, id),
        _ => {
            // Interactive: keep the options before any prompt, then resume.
            let mut out: Vec<OsString> = match pos {
                Some(i) => args[..i].to_vec(),
                None => args.to_vec(),
            };
            out.push("resume".into());
            out.push(id.into());
            out
        }
    }
}

/// The command a person types to continue session `id` later, in the form
/// that fits the run: `codex exec resume ID` for exec, `codex resume ID`
/// for the TUI.
pub fn continue_hint(args: &[OsString], id: &str) -> String {
    match mode(args) {
        Mode::Exec => format!("codex exec resume {id}"),
        _ => format!("codex resume {id}"),
    }
}

/// `resume --last` becomes `resume ID`; `resume ID` stays as it is.
fn with_id_for_last(args: &[OsString], id: &str) -> Vec<OsString> {
    args.iter()
        .map(|a| {
            if a == "--last" {
                OsString::from(id)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// A `resume --last` (or `exec resume --last`) on the command line: codex
/// scopes `--last` to the login that made the session, so swop answers it
/// across accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRequest {
    /// Index of `--last` in the arguments.
    pub at: usize,
    pub exec: bool,
    /// `--all`: any directory, not just the current one.
    pub all: bool,
    pub include_non_interactive: bool,
}

impl LastRequest {
    pub fn find(args: &[OsString]) -> Option<LastRequest> {
        let strs: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
        let resume = strs.iter().position(|a| *a == "resume")?;
        let at = strs
            .iter()
            .position(|a| *a == "--last")
            .filter(|&i| i > resume)?;
        Some(LastRequest {
            at,
            exec: strs[..resume].iter().any(|a| *a == "exec" || *a == "e"),
            all: strs.contains(&"--all"),
            include_non_interactive: strs.contains(&"--include-non-interactive"),
        })
    }

    /// The arguments with `--last` replaced by `id`.
    pub fn answer(&self, args: &[OsString], id: &str) -> Vec<OsString> {
        let mut out = args.to_vec();
        out[self.at] = OsString::from(id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    /// The whole grammar in one table: command line -> subcommand, mode,
    /// fast path, continuation of session ID, hint.
    /// args, subcommand, mode, fast path, continuation of ID, hint.
    type Row = (
        &'static [&'static str],
        Option<&'static str>,
        Mode,
        bool,
        &'static [&'static str],
        &'static str,
    );

    #[test]
    fn grammar_table() {
        #[rustfmt::skip]
        let rows: &[Row] = &[
            (&[], None, Mode::Interactive, false, &["resume", "ID"], "codex resume ID"),
            (&["fix the bug"], Some("fix the bug"), Mode::Interactive, false, &["resume", "ID"], "codex resume ID"),
            (&["-m", "o3", "hi"], Some("hi"), Mode::Interactive, false, &["-m", "o3", "resume", "ID"], "codex resume ID"),
            (&["-m", "login", "exec"], Some("exec"), Mode::Exec, false, &["-m", "login", "exec", "resume", "ID"], "codex exec resume ID"),
            (&["exec", "task"], Some("exec"), Mode::Exec, false, &["exec", "resume", "ID", "task"], "codex exec resume ID"),
            (&["e", "--json", "task"], Some("e"), Mode::Exec, false, &["e", "--json", "resume", "ID", "task"], "codex exec resume ID"),
            (&["-c", "a=b", "exec", "--skip-git-repo-check"], Some("exec"), Mode::Exec, false, &["-c", "a=b", "exec", "--skip-git-repo-check", "resume", "ID"], "codex exec resume ID"),
            (&["exec", "resume", "--last", "go"], Some("exec"), Mode::Exec, false, &["exec", "resume", "ID", "go"], "codex exec resume ID"),
            (&["resume", "--last"], Some("resume"), Mode::Interactive, false, &["resume", "ID"], "codex resume ID"),
            (&["resume", "OLD"], Some("resume"), Mode::Interactive, false, &["resume", "OLD"], "codex resume ID"),
            (&["-c", "a=b", "login"], Some("login"), Mode::Other, false, &["-c", "a=b", "resume", "ID"], "codex resume ID"),
            (&["mcp", "list"], Some("mcp"), Mode::Other, false, &["resume", "ID"], "codex resume ID"),
            (&["--", "login"], None, Mode::Interactive, false, &["--", "login", "resume", "ID"], "codex resume ID"),
            (&["--version"], None, Mode::Interactive, true, &["--version", "resume", "ID"], "codex resume ID"),
            (&["-h"], None, Mode::Interactive, true, &["-h", "resume", "ID"], "codex resume ID"),
            (&["help", "exec"], Some("help"), Mode::Other, true, &["resume", "ID"], "codex resume ID"),
            (&["completion", "bash"], Some("completion"), Mode::Other, true, &["resume", "ID"], "codex resume ID"),
        ];
        for (args, sub, mode_, fast, cont, hint) in rows {
            let args = a(args);
            assert_eq!(subcommand(&args), *sub, "subcommand of {args:?}");
            assert_eq!(mode(&args), *mode_, "mode of {args:?}");
            assert_eq!(is_fast_path(&args), *fast, "fast path {args:?}");
            assert_eq!(
                continuation(&args, "ID"),
                a(cont),
                "continuation of {args:?}"
            );
            assert_eq!(continue_hint(&args, "ID"), *hint, "hint for {args:?}");
        }
    }

    #[test]
    fn last_requests() {
        let args = a(&["exec", "resume", "--last", "--all", "go"]);
        let req = LastRequest::find(&args).unwrap();
        assert_eq!(
            req,
            LastRequest {
                at: 2,
                exec: true,
                all: true,
                include_non_interactive: false
            }
        );
        assert_eq!(
            req.answer(&args, "X"),
            a(&["exec", "resume", "X", "--all", "go"])
        );
        assert_eq!(LastRequest::find(&a(&["resume", "ID"])), None);
        assert_eq!(LastRequest::find(&a(&["--last", "resume"])), None);
        let tui =
            LastRequest::find(&a(&["resume", "--last", "--include-non-interactive"])).unwrap();
        assert!(!tui.exec && tui.include_non_interactive);
    }
}
