//! swop: run OpenAI's Codex CLI across several ChatGPT accounts.
//!
//! One binary with two names: started as `codex` (through the shim) it
//! behaves as `swop codex ...`; under any other name it is the management
//! CLI. The decision is taken from `argv[0]`'s file name before anything else.
//!
//! Nothing prints with `println!`/`eprintln!` (they panic on a closed pipe):
//! stdout goes through `base::out`, stderr through `base::term`. The lints
//! in Cargo.toml (`[lints.clippy]`) hold every later change to that; unit
//! tests may print.
#![cfg_attr(test, allow(clippy::print_stdout, clippy::print_stderr))]

mod accounts;
mod base;
mod cli;
mod codex;
mod config;
mod launch;
mod relay;
mod select;
mod simulate;
mod usage;

use std::ffi::OsString;
use std::process::ExitCode;

/// Which personality `argv[0]` asks for.
fn invoked_as_codex(argv0: Option<&OsString>) -> bool {
    argv0
        .map(std::path::Path::new)
        .and_then(|p| p.file_stem())
        .is_some_and(|s| s == "codex")
}

fn main() -> ExitCode {
    // Read once: arguments, environment, cwd, terminals.
    let ctx = base::context::Context::from_process();
    ctx.install();
    let as_codex = invoked_as_codex(ctx.argv0.as_ref());
    // From the flags table, so it holds whether or not argv parses.
    let json = !as_codex && cli::asks_json(&ctx.args);
    base::time::set_test_now(ctx.var_str(base::time::TEST_NOW_VAR));
    let result = if as_codex {
        launch::run(ctx)
    } else {
        cli::parse(ctx.args.clone()).and_then(|cmd| cli::commands::run(cmd, &ctx))
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        // stdout's reader went away: nothing more can be said (base::out).
        Err(e) if e.quiet => ExitCode::from(e.code),
        Err(e) => {
            if json {
                // A closed stdout must not hide the error: it still goes to
                // stderr and the exit code stays the error's.
                let view = cli::views::ErrorView::from(&e);
                let _ = base::out::line(&cli::views::to_string(&view));
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
