//! Build script: the git commit and the build date that `swop version` and
//! `swop --version` print, as the compile-time variables SWOP_GIT_COMMIT
//! and SWOP_BUILD_DATE. Outside a git checkout (a source tarball, crates.io)
//! the commit is "unknown". SOURCE_DATE_EPOCH, when set, fixes the date, so
//! a reproducible build stays reproducible. Reruns when HEAD moves.

// A build script talks to cargo through stdout.
#![allow(clippy::print_stdout)]

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `git ARGS` in the package dir, its trimmed stdout when it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Unix seconds to a UTC `YYYY-MM-DD` (the proleptic Gregorian calendar,
/// counted in 400-year eras of 146097 days).
fn civil_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400) + 719_468; // from 0000-03-01
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    println!("cargo:rustc-env=SWOP_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=SWOP_BUILD_DATE={}", civil_date(secs));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit moves HEAD, or the branch HEAD names (loose or packed).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    assert_eq!(civil_date(0), "1970-01-01");
    assert_eq!(civil_date(951_782_400), "2000-02-29");
    assert_eq!(civil_date(1_700_000_000), "2023-11-14");
}
