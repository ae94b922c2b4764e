//! The management CLI. This file turns argv into a plain [`Command`]: the
//! table of commands and flags is `flags.rs` (read its header to add a
//! command), the lexopt loop `parse.rs`, the one arm per command
//! [`Command::from_matches`] below. No decision is taken here; help and
//! version return before any config is read. `swop codex ARGS...` passes
//! ARGS through untouched.
//!
//! Unit `cli/`: the management commands (`commands/`, one file each, and
//! the bigger ones beside it: `status`, `doctor`, `redeem`, `wait`, `ide`,
//! `simulate`), the table, parser, help and completions, rendering of
//! tables (`render`) and the JSON documents (`views`). The top of the stack: may use every other unit; nothing uses it.

pub mod commands;
pub mod completions;
pub mod flags;
pub mod help;
pub mod man;
mod parse;
pub mod render;
pub mod views;

use commands::{ide, redeem, simulate, status, wait};

use crate::base::error::Result;
use parse::{Matches, Parsed};
use std::ffi::OsString;

/// A parsed command line: plain data, one variant per entry of
/// `flags::COMMANDS` (plus help and version), each carrying what its
/// command's `run` takes (a request struct, or its one value), handed over
/// whole by `commands::run`.
#[derive(Debug, PartialEq)]
pub enum Command {
    Help(Option<String>),
    /// `swop help --man`: the manual page in roff.
    Man,
    Version,
    Add(commands::Login),
    Import(commands::import::Request),
    List {
        json: bool,
    },
    Relogin(commands::Login),
    Logout(commands::logout::Request),
    Status(status::Request),
    Ps {
        json: bool,
    },
    Disable(commands::disable::Request),
    Enable {
        name: String,
    },
    Pick {
        json: bool,
    },
    Redeem(redeem::Request),
    Wait(wait::Request),
    Codex {
        args: Vec<OsString>,
    },
    Doctor {
        json: bool,
    },
    Uninstall(commands::uninstall::Request),
    Ide(ide::Request),
    Completions {
        shell: String,
    },
    Simulate(simulate::Request),
}

impl Command {
    /// The one place a parsed command line becomes a [`Command`]: one arm
    /// per entry of `flags::COMMANDS`.
    fn from_matches(m: Matches) -> Result<Command> {
        // Read once for every command: false for one without --json.
        let json = m.spec.flag("json").is_some() && m.has("json");
        Ok(match m.spec.name {
            "add" => Command::Add(login(m)?),
            "import" => Command::Import(commands::import::Request {
                name: account_name(&m)?,
                from: m.value("from"),
            }),
            "list" => Command::List { json },
            "relogin" => Command::Relogin(login(m)?),
            "logout" => Command::Logout(commands::logout::Request {
                name: account_name(&m)?,
                force: m.has("force"),
            }),
            "status" => Command::Status(status::Request {
                json,
                refresh: m.has("refresh"),
                names: m
                    .operands
                    .iter()
                    .map(|v| name(&m, v))
                    .collect::<Result<_>>()?,
                watch: m.value("watch").map(|v| watch_secs(&v)).transpose()?,
            }),
            "ps" => Command::Ps { json },
            "disable" => Command::Disable(commands::disable::Request {
                name: account_name(&m)?,
                duration: m.value("for").map(|v| for_duration(&v)).transpose()?,
            }),
            "enable" => Command::Enable {
                name: account_name(&m)?,
            },
            "pick" => Command::Pick { json },
            "redeem" => Command::Redeem(redeem::Request {
                name: account_name(&m)?,
                yes: m.has("yes"),
                json,
            }),
            "wait" => Command::Wait(wait::Request {
                names: m
                    .operands
                    .iter()
                    .map(|v| name(&m, v))
                    .collect::<Result<_>>()?,
                timeout: m.value("timeout").map(|v| wait_timeout(&v)).transpose()?,
                notify: m.has("notify"),
            }),
            "codex" => Command::Codex { args: m.operands },
            "doctor" => Command::Doctor { json },
            "uninstall" => Command::Uninstall(commands::uninstall::Request {
                purge: m.has("purge"),
                yes: m.has("yes"),
            }),
            "ide" => Command::Ide(ide::Request {
                editor: m.operands.first().map(|e| e.to_string_lossy().into_owned()),
                remove: m.has("remove"),
                json,
            }),
            "simulate" => simulate_command(&m)?,
            "version" => Command::Version,
            // Only `help --man` gets here (parse answers every other help).
            "help" => Command::Man,
            "completions" => Command::Completions {
                shell: m.operands[0].to_string_lossy().into_owned(),
            },
            other => unreachable!("'{other}' is in flags::COMMANDS but has no arm here"),
        })
    }
}

/// `--watch` alone is every 5 seconds; `--watch SECS` / `--watch=SECS`.
/// The word after `--watch` is always its interval: a name there is an
/// error that says where names go, not an account watched by surprise.
fn watch_secs(v: &OsString) -> Result<u64> {
    const DEFAULT: u64 = 5;
    if v.is_empty() {
        return Ok(DEFAULT);
    }
    let v = v.to_string_lossy();
    v.parse::<u64>().ok().filter(|&s| s > 0).ok_or_else(|| {
        let e = crate::base::error::Error::usage(format!(
            "status: --watch takes whole seconds, not '{v}'"
        ));
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            e.help("give whole seconds, e.g. --watch 10")
        } else {
            e.help(format!(
                "to watch an account, name it before --watch: swop status {v} --watch"
            ))
        }
    })
}

/// `swop simulate`'s flags (the last of each wins), validated.
fn simulate_command(m: &Matches) -> Result<Command> {
    let last = |name: &str| m.value(name).map(|v| v.to_string_lossy().into_owned());
    let bad = |flag: &str, v: &str, want: &str| {
        crate::base::error::Error::usage(format!("simulate: invalid --{flag} '{v}': {want}"))
            .help("see: swop help simulate")
    };
    let days = match last("days") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| bad("days", &v, "a whole number from 1 to 365"))?,
        None => 28,
    };
    let seed = match last("seed") {
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| bad("seed", &v, "a whole number from 0"))?,
        None => 1,
    };
    let workload = last("workload").unwrap_or_else(|| "steady".into());
    crate::simulate::workload::Workload::parse(&workload)?;
    let accounts = last("accounts");
    if let Some(a) = &accounts {
        crate::simulate::spec::parse(a)?;
    }
    Ok(Command::Simulate(simulate::Request {
        json: m.has("json"),
        accounts,
        days,
        workload,
        seed,
    }))
}

/// `swop add` / `swop relogin`: the account, `--device-auth` and what
/// follows `--`.
fn login(m: Matches) -> Result<commands::Login> {
    Ok(commands::Login {
        name: account_name(&m)?,
        device_auth: m.has("device-auth"),
        extra: m.after_dashes,
    })
}

/// `--timeout 30m`, `--timeout 2h`, or a number of seconds.
fn wait_timeout(v: &OsString) -> Result<std::time::Duration> {
    let v = v.to_string_lossy();
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    humantime::parse_duration(&v).map_err(|e| {
        crate::base::error::Error::usage(format!("wait: bad --timeout '{v}': {e}"))
            .help("give a duration such as 90s, 30m or 2h")
    })
}

/// `--for 2h`, `--for 3days`.
/// The shortest and the longest `--for`: less than a minute is no pause at
/// all, and a year is as good as "until `swop enable`".
const FOR_MIN: std::time::Duration = std::time::Duration::from_secs(60);
const FOR_MAX: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// `--for 2h`, `--for 3days`: from 1 minute to 365 days, in swop's words
/// (never the parser library's).
fn for_duration(v: &OsString) -> Result<std::time::Duration> {
    let v = v.to_string_lossy();
    let bad = |why: &str| {
        crate::base::error::Error::usage(format!(
            "disable: invalid --for '{}': {why}",
            v.escape_debug()
        ))
        .help("give a duration from 1m to 365days, e.g. 30m, 2h or 3days; or leave --for out to disable it until `swop enable`")
    };
    let d = humantime::parse_duration(v.trim())
        .map_err(|_| bad("not a duration (units: m, h, days, weeks)"))?;
    if d < FOR_MIN {
        return Err(bad("shorter than a minute"));
    }
    if d > FOR_MAX {
        return Err(bad("longer than 365 days"));
    }
    Ok(d)
}

/// The first operand as an account name (its presence is checked by parse).
fn account_name(m: &Matches) -> Result<String> {
    name(m, &m.operands[0])
}

fn name(m: &Matches, v: &OsString) -> Result<String> {
    let s = v.to_str().ok_or_else(|| {
        crate::base::error::Error::usage(format!(
            "{}: the account name is not valid UTF-8",
            m.spec.name
        ))
    })?;
    crate::accounts::validate_name(s)?;
    Ok(s.to_string())
}

/// Did argv ask for JSON output (so errors are a JSON document on stdout
/// too)? Answered from the table whether or not argv parses: only a command
/// whose entry has `--json` does (never `codex`, whose arguments are
/// codex's); for an unknown command a `--json` counts, so that a script that
/// asked for JSON gets a JSON error.
pub fn asks_json(args: &[OsString]) -> bool {
    let given = || {
        args.iter()
            .skip(1)
            .take_while(|a| *a != "--")
            .any(|a| a == "--json")
    };
    match args.first().and_then(|a| a.to_str()) {
        Some(name) => match flags::find(name) {
            Some(spec) => spec.flag("json").is_some() && given(),
            None => given(),
        },
        None => false,
    }
}

/// The documented example config, printed by `swop help config`.
pub const CONFIG_EXAMPLE: &str = include_str!("../../config.example.toml");

/// argv (without `argv[0]`) to a [`Command`], or a usage error (exit 2).
pub fn parse(args: Vec<OsString>) -> Result<Command> {
    match parse::parse(args)? {
        Parsed::Help(topic) => Ok(Command::Help(topic)),
        Parsed::Version => Ok(Command::Version),
        Parsed::Run(m) => Command::from_matches(m),
    }
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
            Command::Add(commands::Login {
                name: "work".into(),
                device_auth: true,
                extra: vec!["--foo".into(), "bar".into()]
            })
        );
        assert_eq!(
            p(&["add", "work"]).unwrap(),
            Command::Add(commands::Login {
                name: "work".into(),
                device_auth: false,
                extra: vec![]
            })
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
            Command::Status(status::Request {
                json: true,
                refresh: true,
                names: vec!["a".into(), "b".into()],
                watch: None,
            })
        );
        let watch = |args: &[&str]| match p(args).unwrap() {
            Command::Status(status::Request { watch, names, .. }) => (watch, names),
            other => panic!("{other:?}"),
        };
        assert_eq!(watch(&["status", "--watch"]), (Some(5), vec![]));
        assert_eq!(
            watch(&["status", "--watch", "2", "a"]),
            (Some(2), vec!["a".to_string()])
        );
        assert_eq!(watch(&["status", "--watch=7"]), (Some(7), vec![]));
        // The word after --watch is its interval, never an
        // account by surprise; names go before it (or after a number).
        let e = p(&["status", "--watch", "abc"]).unwrap_err();
        assert_eq!(e.code, crate::base::error::exit::USAGE);
        assert!(e.message.contains("'abc'"), "{}", e.message);
        assert!(e.help.unwrap().contains("swop status abc --watch"));
        let e = p(&["status", "--watch", "2s"]).unwrap_err();
        assert_eq!(
            e.help.as_deref(),
            Some("give whole seconds, e.g. --watch 10")
        );
        assert_eq!(
            watch(&["status", "a", "--watch"]),
            (Some(5), vec!["a".to_string()])
        );
        assert_eq!(
            watch(&["status", "--watch", "--refresh", "a"]),
            (Some(5), vec!["a".to_string()])
        );
        assert!(p(&["status", "--watch=x"]).is_err());
        assert!(p(&["status", "--watch=0"]).is_err());
    }

    #[test]
    fn simulate_flags() {
        assert_eq!(
            p(&["simulate"]).unwrap(),
            Command::Simulate(simulate::Request {
                json: false,
                accounts: None,
                days: 28,
                workload: "steady".into(),
                seed: 1
            })
        );
        let args = [
            "simulate",
            "--json",
            "--days",
            "7",
            "--days",
            "3",
            "--workload",
            "crunch",
            "--seed",
            "9",
            "--accounts",
            "plus:10",
        ];
        assert_eq!(
            p(&args).unwrap(),
            Command::Simulate(simulate::Request {
                json: true,
                accounts: Some("plus:10".into()),
                days: 3,
                workload: "crunch".into(),
                seed: 9
            })
        );
        for bad in [
            &["simulate", "--days", "0"][..],
            &["simulate", "--days", "x"],
            &["simulate", "--workload", "nope"],
            &["simulate", "--seed", "-1"],
            &["simulate", "--accounts", "plus:200"],
            &["simulate", "extra"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ps_disable_enable() {
        assert_eq!(p(&["ps", "--json"]).unwrap(), Command::Ps { json: true });
        assert_eq!(
            p(&["disable", "a", "--for", "2h"]).unwrap(),
            Command::Disable(commands::disable::Request {
                name: "a".into(),
                duration: Some(std::time::Duration::from_secs(7200))
            })
        );
        assert_eq!(
            p(&["disable", "a"]).unwrap(),
            Command::Disable(commands::disable::Request {
                name: "a".into(),
                duration: None
            })
        );
        assert!(p(&["disable", "a", "--for", "soon"]).is_err());
        for (bad, why) in [
            ("0s", "shorter than a minute"),
            ("59s", "shorter than a minute"),
            ("99999days", "longer than 365 days"),
            ("2x", "not a duration (units: m, h, days, weeks)"),
            ("", "not a duration (units: m, h, days, weeks)"),
        ] {
            let e = p(&["disable", "a", "--for", bad]).unwrap_err();
            assert_eq!(e.code, crate::base::error::exit::USAGE);
            assert_eq!(
                e.message,
                format!("disable: invalid --for '{bad}': {why}"),
                "{bad}"
            );
            assert!(e.help.unwrap().contains("from 1m to 365days"));
        }
        for (good, secs) in [("1m", 60), ("365days", 365 * 86_400), ("1h 30m", 5400)] {
            assert_eq!(
                p(&["disable", "a", "--for", good]).unwrap(),
                Command::Disable(commands::disable::Request {
                    name: "a".into(),
                    duration: Some(std::time::Duration::from_secs(secs))
                }),
                "{good}"
            );
        }
        assert!(p(&["disable"]).is_err());
        assert_eq!(
            p(&["enable", "a"]).unwrap(),
            Command::Enable { name: "a".into() }
        );
    }

    #[test]
    fn redeem_and_wait() {
        assert_eq!(
            p(&["redeem", "a", "-y", "--json"]).unwrap(),
            Command::Redeem(redeem::Request {
                name: "a".into(),
                yes: true,
                json: true
            })
        );
        assert!(p(&["redeem"]).is_err());
        assert!(p(&["redeem", "a/b"]).is_err());
        assert_eq!(
            p(&["wait", "--timeout", "90", "a", "b", "--notify"]).unwrap(),
            Command::Wait(wait::Request {
                names: vec!["a".into(), "b".into()],
                timeout: Some(std::time::Duration::from_secs(90)),
                notify: true
            })
        );
        assert_eq!(
            p(&["wait", "--timeout=2h"]).unwrap(),
            Command::Wait(wait::Request {
                names: vec![],
                timeout: Some(std::time::Duration::from_secs(7200)),
                notify: false
            })
        );
        assert!(p(&["wait", "--timeout", "soon"]).is_err());
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
            Command::Import(commands::import::Request {
                name: "old".into(),
                from: Some("/x".into())
            })
        );
    }

    /// An argv that gives every flag of `spec` (values and operands filled in).
    fn argv_with_flag(spec: &flags::Spec, f: &flags::Flag) -> Vec<&'static str> {
        let mut v = vec![spec.name];
        match spec.operands {
            flags::Operands::NewName | flags::Operands::Account => v.push("acct"),
            flags::Operands::Shell => v.push("bash"),
            _ => {}
        }
        v.push(Box::leak(format!("--{}", f.long).into_boxed_str()));
        match f.value {
            Some(name) if flags::is_optional(name) => v.push("7"),
            Some("DURATION") => v.push("2h"),
            Some("N") => v.push("7"),
            Some("WORKLOAD") => v.push("steady"),
            Some("SPEC") => v.push("plus:10"),
            Some(_) => v.push("/x"),
            None => {}
        }
        v
    }

    #[test]
    fn every_flag_parses_under_its_own_command_only() {
        for spec in flags::COMMANDS {
            for other in flags::COMMANDS {
                for f in other.flags {
                    let got = p(&argv_with_flag(spec, f));
                    match spec.flag(f.long) {
                        Some(_) => assert!(got.is_ok(), "{} --{}: {got:?}", spec.name, f.long),
                        None if spec.operands == flags::Operands::CodexArgs => {
                            assert!(got.is_ok(), "codex passes --{} through", f.long)
                        }
                        None => {
                            let e = got.unwrap_err();
                            assert_eq!(e.code, crate::base::error::exit::USAGE);
                            assert!(e.message.contains(f.long), "{}", e.message);
                        }
                    }
                }
                if let Some(c) = other.flags.iter().find_map(|f| f.short) {
                    let short = format!("-{c}");
                    let got = p(&[spec.name, "acct", &short]);
                    let own = spec.flags.iter().any(|f| f.short == Some(c))
                        || spec.operands == flags::Operands::CodexArgs;
                    assert!(own || got.is_err(), "{} {short}: {got:?}", spec.name);
                }
            }
        }
        assert_eq!(
            p(&["logout", "a", "-f"]).unwrap(),
            Command::Logout(commands::logout::Request {
                name: "a".into(),
                force: true
            })
        );
    }

    #[test]
    fn every_summary_is_one_complete_line() {
        for spec in flags::COMMANDS {
            let s = spec.summary;
            assert!(s.ends_with('.') && !s.ends_with(".."), "{}: {s}", spec.name);
            assert!(!s.contains('\n') && !s.contains('…'), "{}: {s}", spec.name);
            assert!(s.starts_with(char::is_uppercase), "{}: {s}", spec.name);
            assert!(s.len() <= 64, "{}: {} chars: {s}", spec.name, s.len());
            assert!(s.split_whitespace().count() >= 5, "{}: {s}", spec.name);
            assert!(
                help::main_help().contains(&format!("  {:<12} {s}\n", spec.name)),
                "{}: not whole in swop --help",
                spec.name
            );
            for line in spec.about.lines() {
                assert!(
                    line.len() <= 78,
                    "{}: about line too long: {line}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        for spec in flags::COMMANDS {
            assert!(!spec.examples.is_empty(), "{} has no example", spec.name);
            let h = help::topic_help(spec.name).unwrap();
            assert!(h.starts_with(&format!("Usage: {}\n", help::usage(spec))));
            assert!(h.contains("\nExamples:\n"), "{h}");
            for (cmd, what) in spec.examples {
                let mentions = cmd.contains(&format!("swop {}", spec.name))
                    || (spec.name == "codex" && cmd.contains("codex"));
                assert!(mentions, "{}: example {cmd:?} does not use it", spec.name);
                assert!(h.contains(cmd) && h.contains(what), "{}: {cmd}", spec.name);
            }
        }
    }

    /// Every flag name src/cli asks a `Matches` for (`has` or `value` with a
    /// literal) is a flag of the table: a misspelt name would read "not
    /// given" without a word.
    #[test]
    fn every_flag_asked_for_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut files = vec![dir.clone()];
        let mut asked = 0;
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for call in [".has(\"", ".value(\""] {
                for (at, _) in text.match_indices(call) {
                    let rest = &text[at + call.len()..];
                    let name = &rest[..rest.find('"').unwrap()];
                    asked += 1;
                    assert!(
                        flags::COMMANDS.iter().any(|s| s.flag(name).is_some()),
                        "{}: --{name} is no flag of any command",
                        p.display()
                    );
                }
            }
        }
        assert!(asked > 10, "the scan found the calls ({asked})");
    }

    #[test]
    fn every_flag_is_in_its_own_help_only() {
        let token = |text: &str, long: &str| {
            let flag = format!("--{long}");
            text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .any(|w| w == flag)
        };
        for spec in flags::COMMANDS {
            let h = help::command_help(spec);
            for other in flags::COMMANDS {
                for f in other.flags {
                    assert_eq!(
                        token(&h, f.long),
                        spec.flag(f.long).is_some(),
                        "--{} in the help of {}",
                        f.long,
                        spec.name
                    );
                    // Its own help line (two commands may share a flag name,
                    // each with its own words: --yes of redeem and uninstall).
                    if let Some(own) = spec.flag(f.long) {
                        assert!(h.contains(own.help), "{}: --{} help", spec.name, f.long);
                    }
                }
            }
        }
    }

    #[test]
    fn help_topics_and_did_you_mean() {
        assert_eq!(
            p(&["help", "config"]).unwrap(),
            Command::Help(Some("config".into()))
        );
        let e = p(&["stauts"]).unwrap_err();
        assert_eq!(e.code, crate::base::error::exit::USAGE);
        assert!(e.help.unwrap().contains("'status'"));
        let e = p(&["status", "--jsn"]).unwrap_err();
        assert!(e.help.unwrap().contains("'--json'"));
        let e = p(&["help", "stauts"]).unwrap_err();
        assert!(e.help.unwrap().contains("swop help status"));
        let e = p(&["logout", "a", "--refresh"]).unwrap_err();
        assert!(e.help.unwrap().contains("option of: status"));
        // No suggestion names a command or page that does not exist.
        let e = p(&["--verbose"]).unwrap_err();
        assert_eq!(e.help.as_deref(), Some("see: swop --help"));
    }

    #[test]
    fn help_config_is_a_config_that_parses() {
        let text = help::topic_help("config").unwrap();
        assert_eq!(text, include_str!("../../config.example.toml"));
        let cfg = crate::config::Config::parse(&text, std::path::Path::new("swop.toml"));
        assert!(cfg.is_ok(), "{:?}", cfg.err());
    }

    #[test]
    fn asks_json_follows_the_table() {
        let a = |v: &[&str]| asks_json(&v.iter().map(OsString::from).collect::<Vec<_>>());
        assert!(a(&["status", "--nope", "--json"]));
        assert!(a(&["stauts", "--json"]));
        assert!(!a(&["logout", "a", "--json"]));
        assert!(!a(&["codex", "exec", "--json"]));
        assert!(!a(&["add", "a", "--", "--json"]));
        assert!(!a(&["list"]));
    }

    /// README.md documents the same commands, usage lines and variables.
    #[test]
    fn readme_agrees_with_the_table() {
        let readme = include_str!("../../README.md");
        for spec in flags::COMMANDS {
            let usage = help::usage(spec).replace('|', "\\|");
            assert!(
                readme.contains(&format!("`{usage}`")),
                "README.md lacks `{usage}`"
            );
        }
        for (var, _) in flags::ENVIRONMENT.iter().chain(flags::ENVIRONMENT_SET) {
            let var = var.split('=').next().unwrap();
            assert!(readme.contains(&format!("`{var}")), "README.md lacks {var}");
        }
        let exit_codes = readme
            .split("## Exit codes")
            .nth(1)
            .expect("README.md has an Exit codes section");
        for (code, _) in flags::EXIT_CODES {
            assert!(
                exit_codes.contains(&format!("\n| {code} | ")),
                "README.md's exit codes lack {code}"
            );
        }
        // And the other way: no row the table does not have.
        for row in table_rows(exit_codes) {
            let code: u8 = row.trim().parse().unwrap_or_else(|_| panic!("{row}"));
            assert!(
                flags::EXIT_CODES.iter().any(|(c, _)| *c == code),
                "README.md documents exit code {code}, which swop --help does not"
            );
        }
        let commands = readme
            .split("| command | what it does |")
            .nth(1)
            .expect("README.md has a command table");
        for row in table_rows(commands) {
            for usage in row.split(", ") {
                let usage = usage.trim_matches('`');
                let Some(rest) = usage.strip_prefix("swop ") else {
                    assert!(usage.starts_with("codex "), "{row}");
                    continue;
                };
                let name = rest.split(' ').next().unwrap();
                let spec = flags::find(name).unwrap_or_else(|| {
                    panic!("README.md documents `swop {name}`: no such command")
                });
                let usage_line = help::usage(spec).replace('|', "\\|");
                assert_eq!(usage, usage_line, "README.md's usage line for {name}");
            }
        }
    }

    /// The first cell of each row of the Markdown table `text` starts with
    /// (header and separator skipped), up to the first blank line.
    fn table_rows(text: &str) -> Vec<&str> {
        text.lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter(|l| !l.starts_with("|---") && !l.starts_with("| code |"))
            .filter_map(|l| l.split(" | ").next())
            .map(|cell| cell.trim_start_matches("| "))
            .collect()
    }
}
