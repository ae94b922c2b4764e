//! Private files: after a full scenario every file swop made is 0600 and
//! every directory 0700, and a launch refuses an auth.json, a SWOP_HOME or
//! an accounts directory others can read, saying how to fix it. The logins
//! of every account live there.

use super::{auth_file, ran_in};
use crate::support::world::{announced, assert_private_tree, mode, world};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

#[test]
fn every_file_is_0600_and_every_dir_0700_after_a_full_scenario() {
    let (env, _backend) = world(&[("work", 10.0), ("home", 20.0)], "");
    // swop.toml is the user's file (written by the test): not swop's to set.
    fs::set_permissions(
        env.swop_home.join("swop.toml"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    env.swop().arg("pick").ok();
    let out = env
        .codex()
        .args(["exec", "x"])
        .env("FAKE_SLEEP", "2")
        .spawn();
    // While codex runs: the live entry and its lock are private too.
    let live = env.swop_home.join("live/work");
    let end = Instant::now() + Duration::from_secs(20);
    let registered = || {
        fs::read_dir(&live).is_ok_and(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    };
    while !registered() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        registered(),
        "the launch never registered in {}",
        live.display()
    );
    assert_private_tree(&env.swop_home);
    assert!(out.finish().success());
    env.swop().args(["status", "--refresh"]).ok();
    env.swop().args(["logout", "home"]).ok();
    assert_private_tree(&env.swop_home);
    let mut counts = (0, 0);
    let mut stack = vec![env.swop_home.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                counts.0 += 1;
                stack.push(p);
            } else if m.is_file() {
                counts.1 += 1;
            }
        }
    }
    assert_eq!(mode(&env.swop_home), 0o700);
    eprintln!(
        "private tree: {} dirs 0700, {} files 0600",
        counts.0, counts.1
    );
}

#[test]
fn auth_json_readable_by_others_is_refused_at_launch_with_chmod_600() {
    let (env, _backend) = world(&[("work", 10.0)], "");
    let file = auth_file(&env, "work");
    for m in [0o644, 0o640, 0o604] {
        fs::set_permissions(&file, fs::Permissions::from_mode(m)).unwrap();
        let out = env.codex().args(["exec", "x"]).code(8);
        assert!(out.stderr.contains("too open"), "{m:o}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("chmod 600 '{}'", file.display())),
            "{m:o}: {}",
            out.stderr
        );
        assert!(ran_in(&out.stdout).is_none(), "{m:o}: codex ran");
        let doctor = env.swop().arg("doctor").run();
        assert!(doctor.stdout.contains("chmod 600"), "{}", doctor.stdout);
    }
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(announced(&out.stderr).as_deref(), Some("work"));
}

#[test]
fn swop_home_or_accounts_open_to_group_or_others_is_refused() {
    let (env, _backend) = world(&[("work", 10.0)], "");
    let accounts = env.swop_home.join("accounts");
    for dir in [&env.swop_home, &accounts] {
        for m in [0o750, 0o705, 0o770] {
            fs::set_permissions(dir, fs::Permissions::from_mode(m)).unwrap();
            for out in [
                env.swop().arg("list").code(8),
                env.swop().arg("status").code(8),
                env.codex().args(["exec", "x"]).code(8),
            ] {
                assert!(
                    out.stderr
                        .contains(&format!("chmod 700 '{}'", dir.display())),
                    "{m:o} {}: {}",
                    dir.display(),
                    out.stderr
                );
                assert!(ran_in(&out.stdout).is_none());
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
    }
    env.swop().arg("list").ok();
}
