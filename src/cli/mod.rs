//! Command-line parsing: turns argv into a plain [`Command`] and validates it;
//! no decision is taken here. Help and version return before any config is
//! read. `swop codex ARGS...` passes ARGS through untouched.
//!
//! Unit `cli/`: the management commands (`commands`), help and completions,
//! rendering of tables and JSON (`render`), `doctor`, `install`. The top of
//! the stack: may use every other unit; nothing uses it.

pub mod commands;
pub mod completions;
pub mod doctor;
pub mod install;
pub mod render;

use crate::base::error::{Error, Result};
use lexopt::prelude::*;
use std::ffi::OsString;

#[derive(Debug, PartialEq)]
pub enum Command {
    Help(Option<String>),
    Version,
    Add {
        name: String,
        device_auth: bool,
        extra: Vec<OsString>,
    },
    Import {
        name: String,
        from: Option<OsString>,
    },
    List {
        json: bool,
    },
    Relogin {
        name: String,
        device_auth: bool,
        extra: Vec<OsString>,
    },
    Logout {
        name: String,
        force: bool,
    },
    Status {
        json: bool,
        refresh: bool,
        names: Vec<String>,
    },
    Pick {
        json: bool,
    },
    Codex {
        args: Vec<OsString>,
    },
    Doctor {
        json: bool,
    },
    Uninstall {
        purge: bool,
    },
    Completions {
        shell: String,
    },
}

impl Command {
    /// Whether the output is a JSON document (errors then are JSON too).
    pub fn json(&self) -> bool {
        matches!(
            self,
            Command::List { json: true }
                | Command::Status { json: true, .. }
                | Command::Pick { json: true }
                | Command::Doctor { json: true }
        )
    }
}

/// For an argv that did not parse: did it ask for JSON? (Never in codex
/// mode, whose arguments belong to codex.)
pub fn asks_json(args: &[OsString]) -> bool {
    args.first().is_some_and(|a| a != "codex") && args.iter().any(|a| a == "--json")
}

pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("add", "swop add NAME [--device-auth] [-- LOGIN_ARGS...]",
     "Log in to a new account with the real `codex login`, in its own sandbox.\n\n  --device-auth   use codex's device-code flow (headless, WSL, SSH)\n  -- ARGS         more arguments for `codex login`"),
    ("import", "swop import NAME [--from DIR]",
     "Adopt an existing codex login: MOVES DIR/auth.json (default ~/.codex) into a\nnew account sandbox, so one login never lives in two homes."),
    ("list", "swop list [--json]", "List accounts: name, email, plan. No network."),
    ("relogin", "swop relogin NAME [--device-auth] [-- LOGIN_ARGS...]",
     "Log in to an existing account again (runs `codex login` in its sandbox)."),
    ("logout", "swop logout NAME [--force]",
     "Try `codex logout` (bounded; a failure is only a warning), then delete the\naccount's sandbox. Refuses while codex runs on the account, unless --force."),
    ("status", "swop status [--json] [--refresh] [NAME...]",
     "Per account: plan, 5-hour and weekly usage, weekly reset, state, live\nsessions; `*` marks the account a launch would pick now.\n\n  --refresh   ignore the cache and ask the usage server now\n  --json      machine-readable output (see README)"),
    ("pick", "swop pick [--json]",
     "Show which account `codex` would use now and why each other was passed over.\nExits 5 when every account is blocked."),
    ("codex", "swop codex [ARGS...]",
     "Pick the best account and run the real codex with ARGS under it. The `codex`\nshim does the same. SWOP_ACCOUNT=NAME forces an account."),
    ("doctor", "swop doctor [--json]",
     "Check the setup (PATH order, real codex, permissions, config, logins, usage\nserver) and say how to fix what is wrong. Exits 0 only when `codex` works."),
    ("uninstall", "swop uninstall [--purge]",
     "Remove swop's binary, the codex shim and the shell rc block. Accounts are\nkept unless --purge is given."),
    ("completions", "swop completions bash|zsh|fish",
     "Print a shell completion script for swop."),
];

pub fn main_help() -> String {
    let mut s = String::from(
        "swop: run codex on whichever of your ChatGPT accounts has the most quota left\n\nUsage: swop COMMAND [OPTIONS]\n       codex [ARGS...]     (through the shim: same as `swop codex`)\n\nCommands:\n",
    );
    for (name, _, help) in COMMANDS {
        s.push_str(&format!(
            "  {name:<12} {}\n",
            help.lines().next().unwrap_or("")
        ));
    }
    s.push_str(
        "\nOptions:\n  -h, --help      show help (also: swop help COMMAND)\n  -V, --version   show the version\n\nFiles: $SWOP_HOME (default ~/.swop): swop.toml, accounts/, cache/.\nSee the README for environment variables and exit codes.\n",
    );
    s
}

pub fn command_help(name: &str) -> Option<String> {
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, usage, help)| format!("Usage: {usage}\n\n{help}\n"))
}

fn unexpected(cmd: &str, e: lexopt::Error) -> Error {
    Error::usage(format!("{cmd}: {e}")).help(format!("see: swop help {cmd}"))
}

fn name_arg(cmd: &str, v: Option<OsString>) -> Result<String> {
    let v = v.ok_or_else(|| {
        Error::usage(format!("{cmd}: missing account NAME")).help(format!("see: swop help {cmd}"))
    })?;
    let s = v
        .into_string()
        .map_err(|_| Error::usage(format!("{cmd}: the account name is not valid UTF-8")))?;
    crate::accounts::validate_name(&s)?;
    Ok(s)
}

pub fn parse(args: Vec<OsString>) -> Result<Command> {
    let mut p = lexopt::Parser::from_args(args);
    let sub = match p.next().map_err(|e| unexpected("swop", e))? {
        None | Some(Short('h') | Long("help")) => return Ok(Command::Help(None)),
        Some(Short('V') | Long("version")) => return Ok(Command::Version),
        Some(Value(v)) => v.string().map_err(|e| unexpected("swop", e))?,
        Some(a) => return Err(unexpected("swop", a.unexpected())),
    };
    let sub = sub.as_str();
    if sub == "codex" {
        return Ok(Command::Codex {
            args: p.raw_args().map_err(|e| unexpected("codex", e))?.collect(),
        });
    }
    if command_help(sub).is_none() && sub != "help" {
        return Err(
            Error::usage(format!("unknown command '{}'", sub.escape_debug()))
                .help("see: swop --help"),
        );
    }
    let mut json = false;
    let mut device_auth = false;
    let mut force = false;
    let mut refresh = false;
    let mut purge = false;
    let mut from = None;
    let mut extra = Vec::new();
    let mut positional: Vec<OsString> = Vec::new();
    while let Some(arg) = p.next().map_err(|e| unexpected(sub, e))? {
        match (sub, arg) {
            (_, Short('h') | Long("help")) => return Ok(Command::Help(Some(sub.to_string()))),
            ("list" | "status" | "pick" | "doctor", Long("json")) => json = true,
            ("add" | "relogin", Long("device-auth")) => device_auth = true,
            ("logout", Long("force") | Short('f')) => force = true,
            ("status", Long("refresh")) => refresh = true,
            ("uninstall", Long("purge")) => purge = true,
            ("import", Long("from")) => from = Some(p.value().map_err(|e| unexpected(sub, e))?),
            ("add" | "relogin", Value(v)) if positional.is_empty() => positional.push(v),
            ("add" | "relogin", Value(v)) => {
                return Err(Error::usage(format!(
                    "{sub}: unexpected argument '{}'",
                    v.to_string_lossy()
                ))
                .help(format!(
                    "pass arguments for codex login after `--`: swop {sub} NAME -- ARGS"
                )))
            }
            (_, Value(v)) => positional.push(v),
            (_, a) => return Err(unexpected(sub, a.unexpected())),
        }
        if matches!(sub, "add" | "relogin")
            && p.try_raw_args()
                .is_some_and(|r| r.peek() == Some("--".as_ref()))
        {
            let mut raw = p.raw_args().map_err(|e| unexpected(sub, e))?;
            raw.next(); // the `--`
            extra = raw.collect();
            break;
        }
    }
    let mut pos = positional.into_iter();
    let no_more = |pos: &mut std::vec::IntoIter<OsString>, sub: &str| -> Result<()> {
        match pos.next() {
            Some(v) => Err(Error::usage(format!(
                "{sub}: unexpected argument '{}'",
                v.to_string_lossy()
            ))
            .help(format!("see: swop help {sub}"))),
            None => Ok(()),
        }
    };
    let cmd = match sub {
        "help" => {
            let topic = pos.next().map(|t| t.to_string_lossy().to_string());
            Command::Help(topic)
        }
        "add" => Command::Add {
            name: name_arg(sub, pos.next())?,
            device_auth,
            extra,
        },
        "relogin" => Command::Relogin {
            name: name_arg(sub, pos.next())?,
            device_auth,
            extra,
        },
        "import" => Command::Import {
            name: name_arg(sub, pos.next())?,
            from,
        },
        "logout" => Command::Logout {
            name: name_arg(sub, pos.next())?,
            force,
        },
        "list" => Command::List { json },
        "pick" => Command::Pick { json },
        "doctor" => Command::Doctor { json },
        "uninstall" => Command::Uninstall { purge },
        "status" => {
            let names = pos
                .by_ref()
                .map(|v| name_arg(sub, Some(v)))
                .collect::<Result<Vec<_>>>()?;
            Command::Status {
                json,
                refresh,
                names,
            }
        }
        "completions" => {
            let shell = pos
                .next()
                .map(|s| s.to_string_lossy().to_string())
                .ok_or_else(|| {
                    Error::usage("completions: missing SHELL").help("use one of: bash, zsh, fish")
                })?;
            if !matches!(shell.as_str(), "bash" | "zsh" | "fish") {
                return Err(
                    Error::usage(format!("completions: unsupported shell '{shell}'"))
                        .help("use one of: bash, zsh, fish"),
                );
            }
            Command::Completions { shell }
        }
        _ => unreachable!("checked against COMMANDS"),
    };
    no_more(&mut pos, sub)?;
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn no_args_is_help() {
        assert_eq!(p(&[]).unwrap(), Command::Help(None));
        assert_eq!(p(&["--help"]).unwrap(), Command::Help(None));
        assert_eq!(p(&["-V"]).unwrap(), Command::Version);
        assert_eq!(
            p(&["status", "-h"]).unwrap(),
            Command::Help(Some("status".into()))
        );
        assert_eq!(
            p(&["help", "add"]).unwrap(),
            Command::Help(Some("add".into()))
        );
    }

    #[test]
    fn add_with_device_auth_and_extra() {
        assert_eq!(
            p(&["add", "work", "--device-auth", "--", "--foo", "bar"]).unwrap(),
            Command::Add {
                name: "work".into(),
                device_auth: true,
                extra: vec!["--foo".into(), "bar".into()]
            }
        );
        assert_eq!(
            p(&["add", "work"]).unwrap(),
            Command::Add {
                name: "work".into(),
                device_auth: false,
                extra: vec![]
            }
        );
    }

    #[test]
    fn add_rejects_bad_names_and_extra_positionals() {
        assert!(p(&["add"])
            .unwrap_err()
            .message
            .contains("missing account NAME"));
        assert!(p(&["add", "a/b"])
            .unwrap_err()
            .message
            .contains("invalid account name"));
        assert!(p(&["add", "a", "b"]).is_err());
        assert_eq!(
            p(&["add", "--", "-rf"]).unwrap_err().code,
            crate::base::error::exit::USAGE
        );
    }

    #[test]
    fn codex_args_pass_through_untouched() {
        assert_eq!(
            p(&["codex", "exec", "--json", "-h", "--", "x"]).unwrap(),
            Command::Codex {
                args: ["exec", "--json", "-h", "--", "x"]
                    .iter()
                    .map(OsString::from)
                    .collect()
            }
        );
    }

    #[test]
    fn status_options() {
        assert_eq!(
            p(&["status", "--json", "a", "--refresh", "b"]).unwrap(),
            Command::Status {
                json: true,
                refresh: true,
                names: vec!["a".into(), "b".into()]
            }
        );
    }

    #[test]
    fn unknown_command_and_flags() {
        assert!(p(&["frobnicate"])
            .unwrap_err()
            .message
            .contains("unknown command 'frobnicate'"));
        assert!(p(&["list", "--bogus"])
            .unwrap_err()
            .message
            .contains("--bogus"));
        assert!(p(&["logout", "a", "--json"]).is_err());
        assert!(p(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn import_from() {
        assert_eq!(
            p(&["import", "old", "--from", "/x"]).unwrap(),
            Command::Import {
                name: "old".into(),
                from: Some("/x".into())
            }
        );
    }
}
