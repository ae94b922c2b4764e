//! codex's argument grammar, as far as swop needs it: which subcommand a
//! command line runs and how swop treats it (the one table, [`TABLE`]),
//! which calls skip selection (fast paths), `--remote` runs, how a session
//! is continued (`resume` / `exec resume`), and the `--last` request that
//! swop answers across accounts.
//!
//! The table classifies every subcommand of the pinned codex (see
//! codex-versions.txt): whether it needs an account, whether it is
//! interactive, exec-like or other, and whether its session can be
//! continued on another account. A subcommand a newer codex adds is
//! learned from that codex's own `--help` (codex/help.rs) and handed over
//! once per process with [`learn`]; it is then a subcommand that needs an
//! account, never the TUI's prompt.
//!
//! The one place that reads codex's argv. Never changes the user's
//! arguments except for the documented rewrites (continuation, `--last`).

use crate::codex::help::Learned;
use std::ffi::OsString;
use std::sync::OnceLock;

/// Options of codex that take a value: their value is not a subcommand.
/// (Top-level and exec options of codex 0.171.0; a newer codex's are
/// learned from its `--help`.)
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
    "--remote",
    "--remote-auth-token-env",
    "--local-provider",
    "--add-dir",
    // `codex exec`'s own.
    "-o",
    "--output-last-message",
    "--output-schema",
    "--color",
    "--thread-source",
    "--cyber-access-program",
];

/// First arguments that never need an account: run the real codex as is.
const FAST_PATHS: &[&str] = &["--version", "-V", "--help", "-h", "help", "completion"];

/// Whether a command needs one of the user's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// Pick an account and run codex in its sandbox.
    Needed,
    /// Local files only (config, sessions, the binary itself): no pick, no
    /// network; codex runs in the shared codex home.
    NotNeeded,
    /// `login` / `logout` would act on an arbitrary sandbox: refused
    /// (swop add / relogin / logout do it).
    Refused,
    /// Manages codex's background app server, which keeps one account's
    /// login for as long as it runs: only on an account named with
    /// SWOP_ACCOUNT, never on whichever a pick finds.
    Pinned,
}

/// How a run talks to the person: decides how a session is continued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Non-interactive model turns (`codex exec`, `codex review`): a failed
    /// run on an exhausted account fails over to the next account.
    Exec,
    /// The TUI: no subcommand, a prompt, `resume`, `fork`, `agents`.
    Interactive,
    /// Anything else: codex's exit code is final (no failover).
    Other,
}

/// How swop treats one subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub account: Account,
    pub mode: Mode,
    /// Its session can be continued on another account (`codex resume ID`,
    /// `codex exec resume ID`); otherwise failover runs the command again.
    pub continuable: bool,
}

impl Class {
    const fn new(account: Account, mode: Mode, continuable: bool) -> Class {
        Class {
            account,
            mode,
            continuable,
        }
    }

    /// An exhausted account is failed over to the next one.
    pub fn fails_over(&self) -> bool {
        self.account == Account::Needed && self.mode != Mode::Other
    }
}

use Account::{Needed, NotNeeded, Pinned, Refused};
use Mode::{Exec, Interactive, Other};

/// The TUI (no subcommand, or a prompt).
pub const TUI: Class = Class::new(Needed, Interactive, true);
/// A subcommand swop's table does not know (a newer codex's): it runs on
/// an account and its exit code is final.
pub const UNKNOWN: Class = Class::new(Needed, Other, false);

/// Every subcommand of codex 0.171.0 (codex-versions.txt's pinned version),
/// with its aliases, and two that older versions had.
#[rustfmt::skip]
pub const TABLE: &[(&str, &[&str], Class)] = &[
    ("agents", &[], Class::new(Needed, Interactive, false)),
    ("exec", &["e"], Class::new(Needed, Exec, true)),
    ("review", &[], Class::new(Needed, Exec, false)),
    ("login", &[], Class::new(Refused, Other, false)),
    ("logout", &[], Class::new(Refused, Other, false)),
    ("mcp", &[], Class::new(NotNeeded, Other, false)),
    ("plugin", &[], Class::new(Needed, Other, false)),
    // `app-server daemon ...` and `app-server proxy` are Pinned: see `class`.
    ("app-server", &[], Class::new(Needed, Other, false)),
    ("remote-control", &[], Class::new(Pinned, Other, false)),
    ("completion", &[], Class::new(NotNeeded, Other, false)),
    ("update", &[], Class::new(NotNeeded, Other, false)),
    ("doctor", &[], Class::new(Needed, Other, false)),
    ("sandbox", &[], Class::new(NotNeeded, Other, false)),
    ("debug", &[], Class::new(Needed, Other, false)),
    ("apply", &["a"], Class::new(Needed, Other, false)),
    ("resume", &[], Class::new(Needed, Interactive, true)),
    ("queue", &[], Class::new(Needed, Other, false)),
    ("archive", &[], Class::new(NotNeeded, Other, false)),
    ("delete", &[], Class::new(NotNeeded, Other, false)),
    ("migrate-rollouts", &[], Class::new(NotNeeded, Other, false)),
    ("migrate-nfs-db", &[], Class::new(NotNeeded, Other, false)),
    ("unarchive", &[], Class::new(NotNeeded, Other, false)),
    ("fork", &[], Class::new(Needed, Interactive, true)),
    ("cloud", &[], Class::new(Needed, Other, false)),
    ("exec-server", &[], Class::new(Needed, Other, false)),
    ("features", &[], Class::new(NotNeeded, Other, false)),
    ("help", &[], Class::new(NotNeeded, Other, false)),
    // Listed by older codex versions only.
    ("mcp-server", &[], Class::new(Needed, Other, false)),
    ("proto", &[], Class::new(Needed, Other, false)),
];

/// `app-server` subcommands that talk to the background server.
const DAEMON_CONTROL: &[&str] = &["daemon", "proxy"];

static LEARNED: OnceLock<Learned> = OnceLock::new();

/// What the installed codex's `--help` says (codex/help.rs), for the rest
/// of this process. Set once, before the launch looks at the arguments.
pub fn learn(learned: Learned) {
    let _ = LEARNED.set(learned);
}

fn learned() -> Option<&'static Learned> {
    LEARNED.get()
}

fn takes_value(s: &str) -> bool {
    OPTIONS_WITH_VALUE.contains(&s)
        || learned().is_some_and(|l| l.value_options.iter().any(|o| o == s))
}

fn row(s: &str) -> Option<&'static Class> {
    TABLE
        .iter()
        .find(|(name, aliases, _)| *name == s || aliases.contains(&s))
        .map(|(_, _, c)| c)
}

/// The positional words of a command line: arguments that are not options
/// nor the values of options that take one, up to a `--`.
fn positionals(args: &[OsString]) -> impl Iterator<Item = (usize, &str)> {
    let mut skip = false;
    let mut done = false;
    args.iter().enumerate().filter_map(move |(i, a)| {
        let s = a.to_str();
        if done {
            return None;
        }
        if skip {
            skip = false;
            return None;
        }
        match s {
            None => {
                done = true;
                None
            }
            Some("--") => {
                done = true;
                None
            }
            Some(s) if takes_value(s) => {
                skip = true;
                None
            }
            Some(s) if s.starts_with('-') => None,
            Some(s) => Some((i, s)),
        }
    })
}

/// The codex subcommand: the first argument that is not an option (skipping
/// the values of options that take one); None for the interactive TUI.
pub fn subcommand(args: &[OsString]) -> Option<&str> {
    positionals(args).next().map(|(_, s)| s)
}

/// `codex --version`, `codex help`, ...: no account, no selection.
pub fn is_fast_path(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| a.to_str())
        .is_some_and(|f| FAST_PATHS.contains(&f))
}

/// How swop treats this command line. A first word that is neither in the
/// table nor learned from codex is the TUI's initial prompt.
pub fn class(args: &[OsString]) -> Class {
    let mut words = positionals(args).map(|(_, s)| s);
    let Some(first) = words.next() else {
        return TUI;
    };
    match row(first) {
        Some(_)
            if first == "app-server"
                && words.next().is_some_and(|w| DAEMON_CONTROL.contains(&w)) =>
        {
            Class::new(Pinned, Other, false)
        }
        Some(c) => *c,
        None if is_learned(first) => UNKNOWN,
        None => TUI,
    }
}

/// The mode of a command line (see [`class`]).
pub fn mode(args: &[OsString]) -> Mode {
    class(args).mode
}

fn is_learned(s: &str) -> bool {
    learned().is_some_and(|l| l.subcommands.iter().any(|c| c == s))
}

/// The subcommands in `learned` (a codex's `--help`) that the table does
/// not have (doctor names them).
pub fn not_in_table(learned: &Learned) -> Vec<String> {
    learned
        .subcommands
        .iter()
        .filter(|s| row(s).is_none())
        .cloned()
        .collect()
}

/// The first word when only the installed codex can tell whether it is a
/// subcommand: not in the table, and spelled like a subcommand name (a
/// prompt with a space or a capital is never one, so it costs nothing).
pub fn needs_learning(args: &[OsString]) -> bool {
    subcommand(args).is_some_and(|s| row(s).is_none() && crate::codex::help::is_name(s))
}

/// `--remote ADDR` (or `--remote=ADDR`) among codex's options, top-level or
/// a subcommand's (`codex exec --remote ...`): the turns run in an app
/// server elsewhere, which holds its own login.
pub fn is_remote(args: &[OsString]) -> bool {
    let mut skip = false;
    for a in args {
        let Some(s) = a.to_str() else { return false };
        if skip {
            skip = false;
            continue;
        }
        if s == "--" {
            return false;
        }
        if s == "--remote" || s.starts_with("--remote=") {
            return true;
        }
        skip = takes_value(s);
    }
    false
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
            (&["exec", "-o", "out.txt", "resume", "--last"], Some("exec"), Mode::Exec, false, &["exec", "-o", "out.txt", "resume", "ID"], "codex exec resume ID"),
            (&["resume", "--last"], Some("resume"), Mode::Interactive, false, &["resume", "ID"], "codex resume ID"),
            (&["resume", "OLD"], Some("resume"), Mode::Interactive, false, &["resume", "OLD"], "codex resume ID"),
            (&["-c", "a=b", "login"], Some("login"), Mode::Other, false, &["-c", "a=b", "resume", "ID"], "codex resume ID"),
            (&["mcp", "list"], Some("mcp"), Mode::Other, false, &["resume", "ID"], "codex resume ID"),
            (&["--", "login"], None, Mode::Interactive, false, &["--", "login", "resume", "ID"], "codex resume ID"),
            (&["--version"], None, Mode::Interactive, true, &["--version", "resume", "ID"], "codex resume ID"),
            (&["-h"], None, Mode::Interactive, true, &["-h", "resume", "ID"], "codex resume ID"),
            (&["help", "exec"], Some("help"), Mode::Other, true, &["resume", "ID"], "codex resume ID"),
            (&["completion", "bash"], Some("completion"), Mode::Other, true, &["resume", "ID"], "codex resume ID"),
            // Options of codex 0.171.0 that take a value: never a subcommand.
            (&["--remote", "ws://h:1", "exec", "t"], Some("exec"), Mode::Exec, false, &["--remote", "ws://h:1", "exec", "resume", "ID", "t"], "codex exec resume ID"),
            (&["--add-dir", "update", "hi"], Some("hi"), Mode::Interactive, false, &["--add-dir", "update", "resume", "ID"], "codex resume ID"),
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

    /// args, needs an account, mode, continuable.
    type ClassRow = (&'static [&'static str], Account, Mode, bool);

    /// A row for every subcommand codex 0.171.0 lists (checked against its
    /// `--help` below), and what swop does with it.
    #[rustfmt::skip]
    const CLASSES: &[ClassRow] = &[
        (&[], Account::Needed, Mode::Interactive, true),
        (&["fix", "the", "bug"], Account::Needed, Mode::Interactive, true),
        (&["agents"], Account::Needed, Mode::Interactive, false),
        (&["exec", "task"], Account::Needed, Mode::Exec, true),
        (&["e", "task"], Account::Needed, Mode::Exec, true),
        (&["review", "--uncommitted"], Account::Needed, Mode::Exec, false),
        (&["login"], Account::Refused, Mode::Other, false),
        (&["logout"], Account::Refused, Mode::Other, false),
        (&["mcp", "list"], Account::NotNeeded, Mode::Other, false),
        (&["plugin", "list"], Account::Needed, Mode::Other, false),
        (&["app-server"], Account::Needed, Mode::Other, false),
        (&["app-server", "generate-json-schema"], Account::Needed, Mode::Other, false),
        (&["app-server", "daemon", "start"], Account::Pinned, Mode::Other, false),
        (&["-c", "k=v", "app-server", "proxy"], Account::Pinned, Mode::Other, false),
        (&["remote-control", "start"], Account::Pinned, Mode::Other, false),
        (&["completion", "zsh"], Account::NotNeeded, Mode::Other, false),
        (&["update"], Account::NotNeeded, Mode::Other, false),
        (&["doctor"], Account::Needed, Mode::Other, false),
        (&["sandbox", "ls"], Account::NotNeeded, Mode::Other, false),
        (&["debug", "models"], Account::Needed, Mode::Other, false),
        (&["apply", "TASK"], Account::Needed, Mode::Other, false),
        (&["a", "TASK"], Account::Needed, Mode::Other, false),
        (&["resume", "ID"], Account::Needed, Mode::Interactive, true),
        (&["queue", "--thread", "T", "--message", "M"], Account::Needed, Mode::Other, false),
        (&["archive", "ID"], Account::NotNeeded, Mode::Other, false),
        (&["delete", "ID"], Account::NotNeeded, Mode::Other, false),
        (&["migrate-rollouts"], Account::NotNeeded, Mode::Other, false),
        (&["migrate-nfs-db"], Account::NotNeeded, Mode::Other, false),
        (&["unarchive", "ID"], Account::NotNeeded, Mode::Other, false),
        (&["fork", "--last"], Account::Needed, Mode::Interactive, true),
        (&["cloud", "list"], Account::Needed, Mode::Other, false),
        (&["exec-server"], Account::Needed, Mode::Other, false),
        (&["features", "list"], Account::NotNeeded, Mode::Other, false),
        (&["help"], Account::NotNeeded, Mode::Other, false),
        (&["mcp-server"], Account::Needed, Mode::Other, false),
        (&["proto"], Account::Needed, Mode::Other, false),
    ];

    #[test]
    fn every_subcommand_has_its_class() {
        for (args, account, mode_, continuable) in CLASSES {
            let c = class(&a(args));
            assert_eq!(
                (c.account, c.mode, c.continuable),
                (*account, *mode_, *continuable),
                "{args:?}"
            );
        }
        assert!(class(&a(&["exec", "x"])).fails_over());
        assert!(class(&a(&["review"])).fails_over());
        assert!(class(&[]).fails_over());
        assert!(!class(&a(&["doctor"])).fails_over());
        assert!(!class(&a(&["update"])).fails_over());
    }

    /// The table and the test above cover what codex 0.171.0 itself lists.
    #[test]
    fn the_table_covers_every_subcommand_of_codex_0_171_0() {
        let help = crate::codex::help::parse(crate::codex::help::tests::HELP_0_171_0).unwrap();
        assert!(help.subcommands.len() >= 29);
        for s in &help.subcommands {
            assert!(row(s).is_some(), "{s} is not in TABLE");
            assert!(
                CLASSES
                    .iter()
                    .any(|(args, ..)| args.first() == Some(&s.as_str())),
                "{s} has no row in CLASSES"
            );
        }
        for o in &help.value_options {
            assert!(
                OPTIONS_WITH_VALUE.contains(&o.as_str()),
                "{o} takes a value"
            );
        }
    }

    #[test]
    fn remote_runs_are_seen_wherever_the_option_is() {
        assert!(is_remote(&a(&["exec", "--remote", "ws://h:1", "task"])));
        assert!(is_remote(&a(&["--remote", "unix://", "hi"])));
        assert!(is_remote(&a(&["--remote=wss://h:2"])));
        assert!(is_remote(&a(&["archive", "--remote", "unix://", "ID"])));
        assert!(!is_remote(&a(&["exec", "task", "--", "--remote"])));
        assert!(!is_remote(&a(&["-c", "--remote", "exec"])), "a -c value");
        assert!(!is_remote(&a(&["--remote-auth-token-env", "T", "exec"])));
        assert!(!is_remote(&a(&["exec", "talk about --remote flags"])));
    }

    #[test]
    fn a_word_only_codex_can_classify_is_learned_once_then_a_subcommand() {
        assert!(needs_learning(&a(&["frobnicate", "--x"])));
        assert!(!needs_learning(&a(&["exec", "x"])));
        assert!(
            !needs_learning(&a(&["fix the bug"])),
            "a prompt with spaces"
        );
        assert!(!needs_learning(&a(&["Hello"])));
        assert!(!needs_learning(&[]));
        // The global is per process: this test owns it (nothing else in
        // the unit tests calls `learn`).
        learn(Learned {
            subcommands: vec!["frobnicate".into()],
            value_options: vec!["--new-opt".into()],
        });
        assert_eq!(class(&a(&["frobnicate"])), UNKNOWN);
        assert_eq!(
            class(&a(&["hello"])),
            TUI,
            "not a codex subcommand: a prompt"
        );
        assert_eq!(
            subcommand(&a(&["--new-opt", "v", "review"])),
            Some("review")
        );
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
