//! swop: run OpenAI's Codex CLI across several ChatGPT accounts.
//!
//! One binary with two names: started as `codex` (through the shim) it
//! behaves as `swop codex ...`; under any other name it is the management
//! CLI. The decision is taken from argv[0]'s file name before anything else.

mod accounts;
mod base;
mod cli;
mod codex;
mod config;
mod launch;
mod relay;
mod select;
mod usage;

use std::ffi::OsString;
use std::process::ExitCode;

/// Which personality argv[0] asks for.
fn invoked_as_codex(argv0: Option<&OsString>) -> bool {
    argv0
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .is_some_and(|s| s == "codex")
}

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next();
    let rest: Vec<OsString> = args.collect();
    let mut json = false;
    let result = if invoked_as_codex(argv0.as_ref()) {
        launch::run(base::process::Context::from_process(rest))
    } else {
        json = cli::asks_json(&rest);
        cli::parse(rest).and_then(|cmd| {
            json = cmd.json();
            cli::commands::run(cmd)
        })
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            if json {
                println!("{}", e.to_json());
            }
            base::term::error(&e);
            ExitCode::from(e.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv0_dispatch() {
        assert!(invoked_as_codex(Some(&"codex".into())));
        assert!(invoked_as_codex(Some(&"/home/u/.swop/shim/codex".into())));
        assert!(!invoked_as_codex(Some(&"swop".into())));
        assert!(!invoked_as_codex(Some(&"/usr/bin/codex-real".into())));
        assert!(!invoked_as_codex(None));
    }
}
