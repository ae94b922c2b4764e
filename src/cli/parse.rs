//! The lexopt loop, driven by the table in `cli::flags`: argv becomes the
//! command's [`Spec`] plus its flags and operands ([`Matches`]), checked for
//! count and shape only. Turning that into a `Command` (and validating
//! account names) is `Command::from_matches`. Never reads config, files or
//! the environment.

use super::flags::{self, Operands, Spec};
use crate::base::error::{Error, Result};
use crate::base::suggest;
use lexopt::prelude::*;
use std::ffi::OsString;

/// What argv asked for.
#[derive(Debug)]
pub enum Parsed {
    /// Help, for swop (None) or a topic; checked to exist.
    Help(Option<String>),
    Version,
    Run(Matches),
}

/// A command's flags and operands as given.
#[derive(Debug)]
pub struct Matches {
    pub spec: &'static Spec,
    /// (long name, value) in the order given.
    flags: Vec<(&'static str, Option<OsString>)>,
    pub operands: Vec<OsString>,
    /// What followed `--` (only for a spec with `after_dashes`).
    pub after_dashes: Vec<OsString>,
}

impl Matches {
    /// Whether the flag `--long` was given.
    pub fn has(&self, long: &str) -> bool {
        self.known(long);
        self.flags.iter().any(|(l, _)| *l == long)
    }

    /// The value of `--long VALUE`; the last one wins.
    pub fn value(&self, long: &str) -> Option<OsString> {
        self.known(long);
        self.flags
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.clone())
    }

    /// A name asked for that the command's table row does not have is a
    /// misspelling in swop, which would silently read "not given": the
    /// test builds stop on it (and `cli::tests::every_flag_asked_for_exists`
    /// checks every literal name without running the command).
    fn known(&self, long: &str) {
        debug_assert!(
            self.spec.flag(long).is_some(),
            "swop asks for --{long}, which `{}` does not have (src/cli/flags.rs)",
            self.spec.name
        );
    }
}

pub fn parse(args: Vec<OsString>) -> Result<Parsed> {
    let mut p = lexopt::Parser::from_args(args);
    let name = match p.next().map_err(|e| top_error(e.to_string()))? {
        None | Some(Short('h') | Long("help")) => return Ok(Parsed::Help(None)),
        Some(Short('V') | Long("version")) => return Ok(Parsed::Version),
        Some(Value(v)) => v.to_string_lossy().into_owned(),
        Some(Long(l)) => return Err(unknown_global(&format!("--{l}"))),
        Some(Short(c)) => return Err(unknown_global(&format!("-{c}"))),
    };
    let spec = flags::find(&name).ok_or_else(|| unknown_command(&name))?;
    let mut m = Matches {
        spec,
        flags: Vec::new(),
        operands: Vec::new(),
        after_dashes: Vec::new(),
    };
    if spec.operands == Operands::CodexArgs {
        m.operands = p.raw_args().map_err(|e| cmd_error(spec, e))?.collect();
        return Ok(Parsed::Run(m));
    }
    loop {
        if spec.after_dashes.is_some() && next_is_dashes(&mut p) {
            let mut raw = p.raw_args().map_err(|e| cmd_error(spec, e))?;
            raw.next(); // the `--`
            m.after_dashes = raw.collect();
            break;
        }
        let Some(arg) = p.next().map_err(|e| cmd_error(spec, e))? else {
            break;
        };
        let flag = match arg {
            Short('h') | Long("help") => return Ok(Parsed::Help(Some(spec.name.into()))),
            Value(v) => {
                m.operands.push(v);
                continue;
            }
            Long(l) => spec
                .flag(l)
                .ok_or_else(|| unknown_flag(spec, &format!("--{l}"))),
            Short(c) => spec
                .flags
                .iter()
                .find(|f| f.short == Some(c))
                .ok_or_else(|| unknown_flag(spec, &format!("-{c}"))),
        }?;
        let value = match flag.value {
            Some(v) if flags::is_optional(v) => Some(optional_value(&mut p)),
            Some(_) => Some(p.value().map_err(|e| cmd_error(spec, e))?),
            None => None,
        };
        m.flags.push((flag.long, value));
    }
    check_operands(&m)?;
    if spec.operands == Operands::Topic {
        if m.has("man") && !m.operands.is_empty() {
            return Err(Error::usage(format!("{}: --man takes no topic", spec.name))
                .help("the manual page covers every command: swop help --man"));
        }
        if !m.has("man") {
            return Ok(Parsed::Help(topic(&m)?));
        }
    }
    Ok(Parsed::Run(m))
}

/// The value of a flag whose value is optional (`--watch`, `--watch=7`,
/// `--watch 7`): the argument right after it is its value unless it looks
/// like an option (or is `--`), whatever it says, so that `--watch abc`
/// is a bad interval (an error that says how to name accounts), never
/// silently an account. Empty when not given.
fn optional_value(p: &mut lexopt::Parser) -> OsString {
    if let Some(v) = p.optional_value() {
        return v;
    }
    let not_an_option = |a: &std::ffi::OsStr| !a.as_encoded_bytes().starts_with(b"-");
    p.try_raw_args()
        .and_then(|mut raw| raw.next_if(not_an_option))
        .unwrap_or_default()
}

fn next_is_dashes(p: &mut lexopt::Parser) -> bool {
    p.try_raw_args()
        .is_some_and(|r| r.peek() == Some("--".as_ref()))
}

/// How many operands the command takes: (at least, at most).
fn arity(o: Operands) -> (usize, usize) {
    match o {
        Operands::None => (0, 0),
        Operands::NewName | Operands::Account | Operands::Shell => (1, 1),
        Operands::Topic | Operands::Editor => (0, 1),
        Operands::Accounts | Operands::CodexArgs => (0, usize::MAX),
    }
}

fn check_operands(m: &Matches) -> Result<()> {
    let spec = m.spec;
    let (min, max) = arity(spec.operands);
    if let Some(extra) = m.operands.get(max) {
        let e = Error::usage(format!(
            "{}: unexpected argument '{}'",
            spec.name,
            extra.to_string_lossy()
        ));
        return Err(match spec.after_dashes {
            Some((what, _)) => e.help(format!(
                "pass {what} after `--`: swop {} NAME -- ARGS",
                spec.name
            )),
            None => e.help(see(spec)),
        });
    }
    if m.operands.len() < min {
        return Err(match spec.operands {
            Operands::Shell => Error::usage(format!("{}: missing SHELL", spec.name))
                .help(format!("use one of: {}", flags::SHELLS.join(", "))),
            _ => Error::usage(format!("{}: missing account NAME", spec.name)).help(see(spec)),
        });
    }
    if let (Operands::Editor, Some(e)) = (spec.operands, m.operands.first()) {
        let e = e.to_string_lossy();
        if !flags::EDITORS.contains(&e.as_ref()) {
            let hint = match suggest::closest(&e, flags::EDITORS.iter().copied()) {
                Some(s) => format!(
                    "did you mean '{s}'? (one of: {})",
                    flags::EDITORS.join(", ")
                ),
                None => format!("use one of: {}", flags::EDITORS.join(", ")),
            };
            return Err(Error::usage(format!(
                "{}: unknown editor '{}'",
                spec.name,
                e.escape_debug()
            ))
            .help(hint));
        }
    }
    if spec.operands == Operands::Shell {
        let shell = m.operands[0].to_string_lossy();
        if !flags::SHELLS.contains(&shell.as_ref()) {
            return Err(
                Error::usage(format!("{}: unsupported shell '{shell}'", spec.name))
                    .help(format!("use one of: {}", flags::SHELLS.join(", "))),
            );
        }
    }
    Ok(())
}

/// The topic of `swop help [TOPIC]`, checked to exist.
fn topic(m: &Matches) -> Result<Option<String>> {
    let Some(t) = m.operands.first() else {
        return Ok(None);
    };
    let t = t.to_string_lossy().into_owned();
    let known = flags::COMMANDS
        .iter()
        .map(|s| s.name)
        .chain(flags::TOPICS.iter().map(|(n, _)| *n));
    if known.clone().any(|k| k == t) {
        return Ok(Some(t));
    }
    let hint = match suggest::closest(&t, known) {
        Some(s) => format!("did you mean: swop help {s}"),
        None => "see: swop --help".into(),
    };
    Err(Error::usage(format!(
        "no help for '{}': not a command or topic",
        t.escape_debug()
    ))
    .help(hint))
}

fn see(spec: &Spec) -> String {
    format!("see: swop help {}", spec.name)
}

fn cmd_error(spec: &Spec, e: lexopt::Error) -> Error {
    Error::usage(format!("{}: {e}", spec.name)).help(see(spec))
}

fn top_error(message: String) -> Error {
    Error::usage(message).help("see: swop --help")
}

fn unknown_global(flag: &str) -> Error {
    let names = flags::GLOBAL_FLAGS.iter().map(|f| f.long);
    let near = suggest::closest(flag.trim_start_matches('-'), names);
    match near.filter(|_| flag.starts_with("--")) {
        Some(s) => Error::usage(format!("invalid option '{flag}'"))
            .help(format!("did you mean '--{s}'? (see: swop --help)")),
        None => top_error(format!("invalid option '{flag}'")),
    }
}

fn unknown_command(name: &str) -> Error {
    let e = Error::usage(format!("unknown command '{}'", name.escape_debug()));
    match suggest::closest(name, flags::COMMANDS.iter().map(|s| s.name)) {
        Some(s) => e.help(format!("did you mean '{s}'? (see: swop --help)")),
        None => e.help("see: swop --help"),
    }
}

/// An option the command does not take: the nearest of its own, else the
/// commands that do take it.
fn unknown_flag(spec: &Spec, flag: &str) -> Error {
    let e = Error::usage(format!("{}: invalid option '{flag}'", spec.name));
    let long = flag.trim_start_matches('-');
    let own = spec.flags.iter().map(|f| f.long).chain(["help"]);
    if let Some(s) = suggest::closest(long, own).filter(|_| flag.starts_with("--")) {
        return e.help(format!("did you mean '--{s}'? ({})", see(spec)));
    }
    let owners: Vec<&str> = flags::COMMANDS
        .iter()
        .filter(|s| s.flag(long).is_some() && flag.starts_with("--"))
        .map(|s| s.name)
        .collect();
    if owners.is_empty() {
        e.help(see(spec))
    } else {
        e.help(format!(
            "'{flag}' is an option of: {} ({})",
            owners.join(", "),
            see(spec)
        ))
    }
}
