//! `swop doctor`: checks the setup and says how to fix each problem. Exits 0
//! only when everything `codex ...` needs works; warnings (usage server down,
//! no accounts yet) do not fail it. Never prints a secret.

use crate::accounts::{self, sandbox};
use crate::base::error::{exit, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::codex::{self, Codex};
use crate::config::Config;
use crate::usage::fetch::{self, FetchContext, Fetched};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    what: String,
    fix: Option<String>,
}

fn ok(what: String) -> Check {
    Check {
        level: Level::Ok,
        what,
        fix: None,
    }
}
fn warn(what: String, fix: String) -> Check {
    Check {
        level: Level::Warn,
        what,
        fix: Some(fix),
    }
}
fn fail(what: String, fix: String) -> Check {
    Check {
        level: Level::Fail,
        what,
        fix: Some(fix),
    }
}

pub fn run(paths: &Paths, json_out: bool) -> Result<i32> {
    let mut checks = Vec::new();
    let cfg = config_check(paths, &mut checks);
    checks.extend(path_order(paths));
    let codex = Codex::locate(&cfg, paths);
    match codex.as_ref().map(|c| c.binary().expect("located")) {
        Ok(p) => match codex::version(p) {
            Some(v) => checks.push(ok(format!("real codex: '{}' ({v})", p.display()))),
            None => checks.push(fail(
                format!("real codex '{}' does not answer --version", p.display()),
                "reinstall codex: npm install -g @openai/codex".into(),
            )),
        },
        Err(e) => checks.push(fail(e.message.clone(), e.help.clone().unwrap_or_default())),
    }
    match paths.check_private() {
        Ok(()) => checks.push(ok(format!("'{}' is private (0700)", paths.home.display()))),
        Err(e) => checks.push(fail(e.message.clone(), e.help.clone().unwrap_or_default())),
    }
    let all = accounts::list(paths).unwrap_or_default();
    if all.is_empty() {
        checks.push(warn(
            "no accounts yet: codex runs with your own login".into(),
            "add one: swop add NAME".into(),
        ));
    } else if let Some(own) = cfg
        .shared_home()
        .ok()
        .map(|h| h.join("auth.json"))
        .filter(|p| p.is_file())
    {
        // Launches through swop never use it; one login in two places is
        // also how refresh tokens get burnt.
        checks.push(warn(
            format!(
                "'{}' is a codex login that launches through swop do not use",
                own.display()
            ),
            "adopt it as an account (it is moved, not copied): swop import NAME".into(),
        ));
    }
    if let Some(s) = sandbox::shared_credentials_store(&cfg).filter(|s| s != "file") {
        checks.push(ok(format!(
            "the shared config.toml sets cli_auth_credentials_store = \"{s}\"; swop overrides it with \"file\" so each account keeps its own auth.json"
        )));
    }
    let codex = codex.unwrap_or_else(|_| Codex::if_present(&cfg, paths));
    let ctx = FetchContext {
        base_url: &cfg.usage.base_url,
        timeout: cfg.usage.timeout,
        codex: &codex,
        now: crate::base::time::now(),
    };
    checks.extend(account_checks(paths, &all, &ctx));

    let failed = checks.iter().any(|c| c.level == Level::Fail);
    out::print(&if json_out {
        report_json(&checks, failed)
    } else {
        report_text(&checks, failed)
    })?;
    Ok(if failed { exit::FAILURE as i32 } else { 0 })
}

/// The config parses (else: defaults, and a failed check).
fn config_check(paths: &Paths, checks: &mut Vec<Check>) -> Config {
    match Config::load(&paths.config()) {
        Ok(c) => {
            checks.push(ok(format!("config '{}' parses", paths.config().display())));
            c
        }
        Err(e) => {
            checks.push(fail(
                e.message.clone(),
                "fix the file; `swop help config` shows every key and its default".into(),
            ));
            Config::default()
        }
    }
}

/// One check per account, asked in parallel.
fn account_checks(paths: &Paths, all: &[accounts::Account], ctx: &FetchContext) -> Vec<Check> {
    std::thread::scope(|s| {
        let hs: Vec<_> = all
            .iter()
            .map(|a| s.spawn(move || account_check(paths, a, ctx)))
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}

fn report_json(checks: &[Check], failed: bool) -> String {
    let v: Vec<_> = checks
        .iter()
        .map(|c| json!({"level": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail" }, "check": c.what, "fix": c.fix}))
        .collect();
    let doc = serde_json::to_string_pretty(&json!({"ok": !failed, "checks": v})).expect("json");
    format!("{doc}\n")
}

fn report_text(checks: &[Check], failed: bool) -> String {
    let mut text = String::new();
    for c in checks {
        let tag = match c.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        text.push_str(&format!("{tag}  {}\n", c.what));
        if let Some(f) = &c.fix {
            text.push_str(&format!("      fix: {f}\n"));
        }
    }
    text.push_str(if failed {
        "\nsome checks failed: `codex` through swop will not work until they are fixed\n"
    } else {
        "\nall good: `codex` runs through swop\n"
    });
    text
}

/// The shim dir must be on PATH, ahead of every real codex.
fn path_order(paths: &Paths) -> Vec<Check> {
    let shim = paths.shim_dir();
    let line = format!("export PATH=\"{}:$PATH\"", shim.display());
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
    let shim_canon = shim.canonicalize().ok();
    let is_shim =
        |d: &PathBuf| *d == shim || (shim_canon.is_some() && d.canonicalize().ok() == shim_canon);
    let Some(shim_pos) = dirs.iter().position(is_shim) else {
        return vec![fail(
            format!(
                "the shim dir '{}' is not on PATH, so plain `codex` bypasses swop",
                shim.display()
            ),
            format!("run ./install.sh again, or add to your shell rc: {line}"),
        )];
    };
    if !shim.join("codex").exists() {
        return vec![fail(
            format!("'{}' is missing", shim.join("codex").display()),
            "run ./install.sh again".into(),
        )];
    }
    let first_real = dirs.iter().position(|d| {
        !is_shim(d)
            && d.join("codex").is_file()
            && d.join("codex").canonicalize().ok()
                != std::env::current_exe()
                    .ok()
                    .and_then(|e| e.canonicalize().ok())
    });
    match first_real {
        Some(r) if r < shim_pos => vec![fail(
            format!(
                "a real codex ('{}') comes before the shim dir on PATH, so plain `codex` bypasses swop",
                dirs[r].join("codex").display()
            ),
            format!("put the shim first: {line} (at the end of your shell rc), then open a new shell"),
        )],
        _ => vec![ok(format!("the shim dir '{}' comes first on PATH", shim.display()))],
    }
}

/// A server's Retry-After still running, from the usage cache: doctor
/// does not ask either.
fn still_throttled(paths: &Paths, a: &accounts::Account, now: i64) -> Option<Check> {
    let crate::usage::cache::Loaded::Found(e) = crate::usage::cache::load(paths, &a.name) else {
        return None;
    };
    let t = e.throttled_until.filter(|&t| t > now)?;
    Some(warn(
        format!(
            "'{}': the usage server asked swop to wait ({}); not asked again before {}",
            a.name,
            e.last_error.as_deref().unwrap_or("HTTP 429"),
            crate::base::time::wall(t)
        ),
        "nothing to do: launches use cached numbers meanwhile".into(),
    ))
}

/// ", N failures in a row; launches try again after TIME" when backing off.
fn backoff_note(paths: &Paths, a: &accounts::Account, now: i64) -> String {
    match crate::usage::cache::load(paths, &a.name) {
        crate::usage::cache::Loaded::Found(e) => match e.backoff_until.filter(|&t| t > now) {
            Some(t) => format!(
                "; {} failure(s) in a row, launches try again after {}",
                e.failures,
                crate::base::time::wall(t)
            ),
            None => String::new(),
        },
        _ => String::new(),
    }
}

fn account_check(paths: &Paths, a: &accounts::Account, ctx: &FetchContext) -> Check {
    if let Some(c) = still_throttled(paths, a, ctx.now) {
        return c;
    }
    let file = a.auth_file();
    if let Err(e) = crate::base::paths::check_private_file(&file) {
        return fail(
            format!("'{}': {}", a.name, e.message),
            e.help.unwrap_or_default(),
        );
    }
    if let Err(e) = crate::accounts::auth::read(&file) {
        return fail(
            format!("'{}': {}", a.name, e.message),
            format!("log in again: swop relogin {}", a.name),
        );
    }
    let t = Instant::now();
    let outcome = fetch::fetch(&a.home, ctx);
    let ms = t.elapsed().as_millis();
    match outcome {
        Fetched::Ok(u) => ok(format!(
            "'{}': logged in, usage server answered in {ms} ms (weekly {})",
            a.name,
            u.weekly_used().map(|w| format!("{w:.0}%")).unwrap_or_else(|| "unknown".into())
        )),
        Fetched::ApiKey => ok(format!("'{}': API-key login (no usage data)", a.name)),
        Fetched::Dead(why) => fail(format!("'{}': session expired: {why}", a.name), format!("swop relogin {}", a.name)),
        Fetched::Failed(why) | Fetched::Throttled(why, _) => warn(
            format!("'{}': usage server did not answer usefully after {ms} ms: {why}{}", a.name, backoff_note(paths, a, ctx.now)),
            "launches still work from cached numbers or without quota data; check your network or [usage] base_url".into(),
        ),
    }
}
