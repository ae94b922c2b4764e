//! The commands, one file each (`commands/<name>.rs`, as cargo's), and the
//! one dispatch: [`run`] matches a parsed [`Command`] once and hands its
//! request, whole, to the command's `run`, with only what that command
//! needs loaded (help, version, completions and simulate read no config;
//! doctor and uninstall no config either, so that they work when it is
//! broken). `status.rs` holds status, pick and ps (one view of the pool,
//! three ways); help, version, completions and codex are one line each
//! here. Never parses argv (that is `cli::parse`) and never decides
//! anything a command's file should.

pub mod add;
pub mod disable;
pub mod doctor;
pub mod enable;
pub mod ide;
pub mod import;
pub mod list;
pub mod logout;
pub mod redeem;
pub mod relogin;
pub mod simulate;
pub mod status;
pub mod uninstall;
pub mod wait;

use crate::base::context::Context;
use crate::base::error::{Error, Result};
use crate::base::fit;
use crate::base::out;
use crate::base::paths::Paths;
use crate::base::term;
use crate::cli::{self, Command};
use crate::config::Config;
use crate::launch;
use std::ffi::OsString;

/// What `swop add` and `swop relogin` are asked: the account, `--device-auth`,
/// and the arguments after `--` for `codex login`.
#[derive(Debug, PartialEq)]
pub struct Login {
    pub name: String,
    pub device_auth: bool,
    pub extra: Vec<OsString>,
}

/// Runs one command; its exit status.
pub fn run(cmd: Command, ctx: &Context) -> Result<i32> {
    match cmd {
        Command::Help(topic) => help(topic),
        Command::Version => out::line(&cli::help::version()).map(|_| 0),
        Command::Man => out::print(&cli::man::page()).map(|_| 0),
        // `swop codex ARGS`: the same process, codex's arguments.
        Command::Codex { args } => launch::run(Context {
            args,
            ..ctx.clone()
        }),
        Command::Completions { shell } => out::print(&cli::completions::script(&shell)).map(|_| 0),
        Command::Simulate(req) => simulate::run(req),
        Command::Doctor { json } => doctor::run(&Paths::from_env()?, json),
        Command::Uninstall(req) => uninstall::run(req, &Paths::from_env()?, ctx),
        Command::Add(req) => with_config(|p, c| add::run(req, p, c)),
        Command::Import(req) => with_config(|p, _| import::run(req, p)),
        Command::List { json } => with_config(|p, _| list::run(json, p)),
        Command::Relogin(req) => with_config(|p, c| relogin::run(req, p, c)),
        Command::Logout(req) => with_config(|p, c| logout::run(req, p, c)),
        Command::Status(req) => with_config(|p, c| status::status(req, p, c, ctx)),
        Command::Pick { json } => with_config(|p, c| status::pick(json, p, c, ctx)),
        Command::Ps { json } => with_config(|p, c| status::ps(json, p, c)),
        Command::Redeem(req) => with_config(|p, c| redeem::run(req, p, c, ctx)),
        Command::Wait(req) => with_config(|p, c| wait::run(req, p, c, ctx)),
        Command::Disable(req) => with_config(|p, _| disable::run(req, p)),
        Command::Enable { name } => with_config(|p, _| enable::run(&name, p)),
        Command::Ide(req) => with_config(|p, c| ide::run(p, c, ctx, req)),
    }
}

/// Runs a command that needs the config: swop's paths, swop.toml read,
/// and swop's home checked private first.
fn with_config(command: impl FnOnce(&Paths, &Config) -> Result<i32>) -> Result<i32> {
    let paths = Paths::from_env()?;
    let cfg = Config::load(&paths.config())?;
    paths.check_private()?;
    command(&paths, &cfg)
}

/// Help fits the terminal (rows wrap under their own column); `help config`
/// is a file to copy, printed as it is.
fn help(topic: Option<String>) -> Result<i32> {
    let Some(topic) = topic else {
        out::print(&fit::lines(&cli::help::main_help(), term::stdout_width()))?;
        return Ok(0);
    };
    match cli::help::topic_help(&topic) {
        Some(h) if topic == "config" => out::print(&h)?,
        Some(h) => out::print(&fit::lines(&h, term::stdout_width()))?,
        None => return Err(Error::usage(format!("no help for '{topic}'")).help("see: swop --help")),
    }
    Ok(0)
}
