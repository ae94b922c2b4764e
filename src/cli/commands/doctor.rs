//! `swop doctor`: checks the setup and says how to fix each problem. Exits 0
//! only when everything `codex ...` needs works; warnings (usage server down,
//! no accounts yet, a codex outside the tested range) do not fail it, but
//! then it does not say "all good". Never prints a secret.

use crate::accounts::{self, sandbox};
use crate::base::error::{exit, Result};
use crate::base::out;
use crate::base::paths::Paths;
use crate::cli::views::{CheckView, DoctorView};
use crate::codex::{self, Codex};
use crate::config::Config;
use crate::usage::fetch::{self, FetchContext, Fetched};
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
    match &codex {
        Ok(c) => match (c.binary(), codex::version(c, version_bound(&cfg))) {
            (None, _) => {}
            (Some(p), Some(v)) => {
                checks.push(version_check(p, &v));
                checks.extend(grammar_check(paths, c, version_bound(&cfg)));
            }
            (Some(p), None) => checks.push(fail(
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
    checks.extend(login_checks(&cfg, &all));
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
        report_text(
            &checks,
            crate::base::term::stdout_width(),
            crate::base::term::stdout_color(),
        )
    })?;
    Ok(if failed { exit::FAILURE as i32 } else { 0 })
}

/// The config parses; no file means the defaults (else: defaults, and a
/// failed check).
fn config_check(paths: &Paths, checks: &mut Vec<Check>) -> Config {
    match Config::load(&paths.config()) {
        Ok(c) if paths.config().exists() => {
            checks.push(ok(format!("config '{}' parses", paths.config().display())));
            c
        }
        Ok(c) => {
            checks.push(ok(format!(
                "no config file ('{}'): the defaults apply",
                paths.config().display()
            )));
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

/// No accounts yet, a stray own login in the shared home, a credential
/// store that swop overrides.
fn login_checks(cfg: &Config, all: &[accounts::Account]) -> Vec<Check> {
    let mut checks = Vec::new();
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
    if let Some(s) = sandbox::shared_credentials_store(cfg).filter(|s| s != "file") {
        checks.push(ok(format!(
            "the shared config.toml sets cli_auth_credentials_store = \"{s}\"; swop overrides it with \"file\" so each account keeps its own auth.json"
        )));
    }
    checks
}

/// One check per account, asked in parallel; the fix for a usage failure
/// depends on how it failed, and on whether every account failed.
fn account_checks(paths: &Paths, all: &[accounts::Account], ctx: &FetchContext) -> Vec<Check> {
    let results: Vec<std::result::Result<Check, (String, String, u128)>> =
        std::thread::scope(|s| {
            let hs: Vec<_> = all
                .iter()
                .map(|a| s.spawn(move || account_check(paths, a, ctx)))
                .collect();
            hs.into_iter().filter_map(|h| h.join().ok()).collect()
        });
    let all_failed = results.iter().all(|r| r.is_err());
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|(name, why, ms)| {
                let fix = crate::usage::advice::fix(&name, &why, all_failed);
                if crate::usage::fetch::is_rejected(&why) {
                    // Retrying will not help: the login itself was refused.
                    return warn(format!("'{name}': login rejected: {why}"), fix);
                }
                warn(
                    format!("'{name}': usage server did not answer usefully after {ms} ms: {why}"),
                    format!(
                        "{fix} (launches still work from cached numbers or without quota data)"
                    ),
                )
            })
        })
        .collect()
}

fn report_json(checks: &[Check], failed: bool) -> String {
    let view = DoctorView {
        ok: !failed,
        checks: checks
            .iter()
            .map(|c| CheckView {
                level: match c.level {
                    Level::Ok => "ok",
                    Level::Warn => "warn",
                    Level::Fail => "fail",
                },
                check: c.what.clone(),
                fix: c.fix.clone(),
            })
            .collect(),
    };
    format!("{}\n", crate::cli::views::to_string(&view))
}

/// The checks, one each, wrapped at word boundaries under their own text
/// on a terminal, and a last line that counts what needs attention.
fn report_text(checks: &[Check], width: Option<usize>, color: bool) -> String {
    use crate::base::{fit, term};
    let mut text = String::new();
    for c in checks {
        let tag = match c.level {
            Level::Ok => term::painted(color, "32", "ok  "),
            Level::Warn => term::painted(color, "33", "warn"),
            Level::Fail => term::painted(color, "31", "FAIL"),
        };
        // Wrapped without colour (same width), then the tag is put in.
        let line = fit::wrap(&format!("xxxx  {}", term::clean(&c.what)), width, 6);
        text.push_str(&format!("{tag}{}\n", &line[4..]));
        if let Some(f) = &c.fix {
            let line = format!("      fix: {}", term::clean(f));
            text.push_str(&fit::wrap(&line, width, 11));
            text.push('\n');
        }
    }
    text.push('\n');
    text.push_str(&fit::wrap(&summary(checks), width, 2));
    text.push('\n');
    text
}

/// "all good", or how many problems and warnings there are, and what
/// that means for `codex`.
fn summary(checks: &[Check]) -> String {
    let count = |l: Level| checks.iter().filter(|c| c.level == l).count();
    let (fails, warns) = (count(Level::Fail), count(Level::Warn));
    let plural = crate::base::term::plural;
    match (fails, warns) {
        (0, 0) => "all good: `codex` runs through swop".into(),
        (0, w) => format!(
            "{}: `codex` runs through swop",
            plural(w, "warning", "warnings")
        ),
        (f, 0) => format!(
            "{}: `codex` through swop will not work until {} fixed",
            plural(f, "problem", "problems"),
            if f == 1 { "it is" } else { "they are" }
        ),
        (f, w) => format!(
            "{} and {}: `codex` through swop will not work until the {} fixed",
            plural(f, "problem", "problems"),
            plural(w, "warning", "warnings"),
            if f == 1 { "problem is" } else { "problems are" }
        ),
    }
}

/// How long `codex --version` may take: the usage timeout, at least 5 s
/// (node starts slowly on a busy machine), so doctor's run is bounded by
/// its config whatever codex does.
fn version_bound(cfg: &Config) -> std::time::Duration {
    cfg.usage.timeout.max(std::time::Duration::from_secs(5))
}

/// What plain `codex` runs: the first executable `codex` on PATH, judged by
/// what it resolves to (the shim, or any other link to swop, is fine).
fn path_order(paths: &Paths) -> Vec<Check> {
    let shim = paths.shim_dir();
    let line = format!("export PATH=\"{}:$PATH\"", shim.display());
    let path_var = crate::base::context::var("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
    let canon = |p: &std::path::Path| p.canonicalize().ok();
    let shim_canon = canon(&shim);
    let is_shim = |d: &PathBuf| *d == shim || (shim_canon.is_some() && canon(d) == shim_canon);
    let swop: Vec<PathBuf> = [crate::base::context::exe(), Some(shim.join("codex"))]
        .into_iter()
        .flatten()
        .filter_map(|p| canon(&p))
        .collect();
    let executable = |p: &PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let first = dirs
        .iter()
        .map(|d| (d, d.join("codex")))
        .find(|(_, c)| executable(c));
    let shim_on_path = dirs.iter().any(is_shim);
    let not_on_path = || {
        fail(
            format!(
                "the shim dir '{}' is not on PATH, so plain `codex` bypasses swop",
                shim.display()
            ),
            format!("run ./install.sh again, or add to your shell rc: {line}"),
        )
    };
    match first {
        Some((dir, c)) if canon(&c).is_some_and(|t| swop.contains(&t)) => {
            if is_shim(dir) {
                vec![ok(format!("the shim dir '{}' comes first on PATH", shim.display()))]
            } else {
                vec![ok(format!(
                    "`codex` on PATH is '{}', a link to swop: plain `codex` runs through swop",
                    c.display()
                ))]
            }
        }
        Some((_, c)) if shim_on_path => vec![fail(
            format!(
                "a real codex ('{}') comes before the shim dir on PATH, so plain `codex` bypasses swop",
                c.display()
            ),
            format!("put the shim first: {line} (at the end of your shell rc), then open a new shell"),
        )],
        _ if shim_on_path => vec![fail(
            format!("'{}' is missing", shim.join("codex").display()),
            "run ./install.sh again".into(),
        )],
        _ => vec![not_on_path()],
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
                "; {} in a row, launches try again after {}",
                crate::base::term::plural(e.failures as usize, "failure", "failures"),
                crate::base::time::wall(t)
            ),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// One account's login and usage; Err(name, why, ms) when the usage
/// server did not answer usefully (the fix depends on how the others did).
fn account_check(
    paths: &Paths,
    a: &accounts::Account,
    ctx: &FetchContext,
) -> std::result::Result<Check, (String, String, u128)> {
    if let Some(c) = still_throttled(paths, a, ctx.now) {
        return Ok(c);
    }
    let file = a.auth_file();
    if let Err(e) = crate::base::paths::check_private_file(&file) {
        return Ok(fail(
            format!("'{}': {}", a.name, e.message),
            e.help.unwrap_or_default(),
        ));
    }
    if let Err(e) = crate::accounts::auth::read(&file) {
        return Ok(fail(
            format!("'{}': {}", a.name, e.message),
            format!("log in again: swop relogin {}", a.name),
        ));
    }
    let t = Instant::now();
    let outcome = fetch::fetch(&a.home, ctx);
    let ms = t.elapsed().as_millis();
    Ok(match outcome {
        Fetched::Ok(u) => ok(format!(
            "'{}': logged in, usage server answered in {ms} ms (weekly {})",
            a.name,
            u.weekly_used()
                .map(|w| format!("{w:.0}%"))
                .unwrap_or_else(|| "unknown".into())
        )),
        Fetched::ApiKey => ok(format!("'{}': API-key login (no usage data)", a.name)),
        Fetched::Dead(why) => fail(
            format!("'{}': session expired: {why}", a.name),
            format!("swop relogin {}", a.name),
        ),
        Fetched::Failed(why) | Fetched::Throttled(why, _) => {
            let why = format!("{why}{}", backoff_note(paths, a, ctx.now));
            return Err((a.name.clone(), why, ms));
        }
    })
}

/// The subcommands the real codex lists that swop's argv table does not
/// know (a release newer than the tested range): said, with what swop does
/// with them. Nothing when codex's `--help` cannot be read.
fn grammar_check(paths: &Paths, c: &Codex, bound: std::time::Duration) -> Option<Check> {
    let learned = codex::help::learned(paths, c, bound)?;
    let unknown = crate::launch::argv::not_in_table(&learned);
    if unknown.is_empty() {
        return Some(ok(
            "every subcommand the real codex lists is in swop's table".into(),
        ));
    }
    Some(warn(
        format!(
            "the real codex lists subcommands swop does not know yet: {}",
            unknown.join(", ")
        ),
        "they run on a picked account, with codex's exit code final (no failover); a tested codex avoids the guess".into(),
    ))
}

/// The real codex's version, and a warning when swop's tests do not cover
/// it (the range comes from `codex-versions.txt`, as test.sh's does).
fn version_check(path: &std::path::Path, v: &str) -> Check {
    let what = format!("real codex: '{}' ({v})", path.display());
    if codex::versions::covers(v) == Some(true) {
        return ok(what);
    }
    let (lo, hi) = codex::versions::tested();
    warn(
        format!("{what}: swop is tested with codex {lo} to {hi}"),
        format!("it may work; if something fails, install a tested version: npm install -g @openai/codex@{hi}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(level: Level, what: &str) -> Check {
        Check {
            level,
            what: what.into(),
            fix: (level != Level::Ok).then(|| "swop relogin a-very-long-account-name-here".into()),
        }
    }

    /// A count instead of "all good" after warnings; lines
    /// wrapped under their text at word boundaries; `ok` coloured too.
    #[test]
    fn report_counts_and_wraps_under_its_text() {
        let long = "'work': usage server did not answer usefully after 1200 ms: no answer within 1s; 3 failures in a row, launches try again after Mon 1 Dec 10:00";
        let checks = [
            check(Level::Ok, "config parses"),
            check(Level::Warn, long),
            check(Level::Warn, "no accounts yet"),
        ];
        let t = report_text(&checks, Some(60), false);
        assert!(
            t.ends_with("\n2 warnings: `codex` runs through swop\n"),
            "{t}"
        );
        assert!(!t.contains("all good"), "{t}");
        for l in t.lines() {
            assert!(crate::base::fit::width(l) <= 60, "{l:?} in\n{t}");
        }
        let words: Vec<&str> = long.split(' ').collect();
        assert!(
            words.iter().all(|w| t.contains(w)),
            "a word was broken:\n{t}"
        );
        let cont: Vec<&str> = t
            .lines()
            .filter(|l| l.starts_with("      ") && !l.trim_start().starts_with("fix:"))
            .collect();
        assert!(
            !cont.is_empty() && cont.iter().all(|l| l.starts_with("      ")),
            "{t}"
        );
        let t = report_text(&checks, None, true);
        assert!(
            t.starts_with("\x1b[32mok  \x1b[0m  config parses\n"),
            "{t:?}"
        );
        let t = report_text(
            &[check(Level::Fail, "x"), check(Level::Warn, "y")],
            None,
            false,
        );
        assert!(t.ends_with("1 problem and 1 warning: `codex` through swop will not work until the problem is fixed\n"), "{t}");
        let t = report_text(&[check(Level::Ok, "x")], None, false);
        assert!(
            t.ends_with("\nall good: `codex` runs through swop\n"),
            "{t}"
        );
    }

    #[test]
    fn version_range() {
        let p = std::path::Path::new("/x/codex");
        // The case: 0.171.0, npm's latest when it was filed.
        assert!(version_check(p, "codex-cli 0.171.0").level == Level::Ok);
        assert!(version_check(p, "codex-cli 0.169.0").level == Level::Ok);
        assert!(version_check(p, "codex-cli 0.162.1").level == Level::Ok);
        let old = version_check(p, "codex-cli 0.150.0");
        assert!(old.level == Level::Warn);
        let (lo, hi) = codex::versions::tested();
        assert!(
            old.what
                .contains(&format!("tested with codex {lo} to {hi}")),
            "{}",
            old.what
        );
        assert!(version_check(p, "version unknown").level == Level::Warn);
    }
}
