//! Faults on this machine: an unusable auth.json, a bad swop.toml, corrupt
//! cache files, a read-only SWOP_HOME and a full disk each fail clearly (or
//! are rebuilt) and leave the previous state intact. The read-only and
//! full-disk tests mount in a private mount namespace and skip, saying
//! why, where this machine does not allow it.

use super::{
    auth_file, cache_files_parse, hidden_entries, json_of, listed, one_warning, pick_json, ran_in,
    snapshot, USAGE,
};
use crate::support::fixtures::SecretKind;
use crate::support::world::{
    add, add_named, age_cache, announced, config_for, mode, world, write_config,
};
use crate::support::{register_secret, usage_json, Backend, Identity, TestEnv};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[test]
fn unusable_auth_json_is_skipped_with_the_relogin_command() {
    let not_jwt =
        r#"{"tokens":{"id_token":"plainstring","access_token":"x","account_id":"acct-w"}}"#
            .to_string();
    let variants: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "auth.json is missing"),
        ("empty", Some(String::new()), "the file is empty"),
        (
            "truncated",
            Some("{\"auth_mode\": \"chatgpt\", \"tokens\": {\"id_tok".into()),
            "truncated",
        ),
        ("not JSON", Some("<html>login</html>".into()), "not valid"),
        ("id_token not a JWT", Some(not_jwt), "not a JWT"),
    ];
    for (what, content, cause) in &variants {
        // A fresh cache says `w` is best: the login file itself must be
        // checked before launching on it.
        let (env, _backend) = world(&[("w", 5.0), ("p", 50.0)], "cache_ttl = \"1h\"\n");
        assert_eq!(pick_json(&env).0["account"], "w");
        match content {
            None => fs::remove_file(auth_file(&env, "w")).unwrap(),
            Some(t) => fs::write(auth_file(&env, "w"), t).unwrap(),
        }
        let out = env.codex().args(["exec", "x"]).ok();
        assert!(out.stderr.contains(cause), "{what}: {}", out.stderr);
        assert!(
            out.stderr.contains("swop relogin w"),
            "{what}: {}",
            out.stderr
        );
        assert_eq!(announced(&out.stderr).as_deref(), Some("p"), "{what}");
        let status = env.swop().arg("status").ok();
        let line = status.stdout.lines().find(|l| l.contains(" w ")).unwrap();
        assert!(line.contains("session expired"), "{what}: {line}");
        // Alone: exit 6 with the command that fixes it.
        env.swop().args(["logout", "p"]).ok();
        let out = env.codex().args(["exec", "x"]).code(6);
        assert!(
            out.stderr.contains("swop relogin w"),
            "{what}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{what}");
        assert!(
            ran_in(&out.stdout).is_none(),
            "{what}: codex ran without a login"
        );
        let out = env.swop().args(["pick", "--json"]).code(6);
        json_of(&out, what);
    }
    // An access token that is not a JWT is opaque, not broken: still usable.
    let (env, backend) = world(&[("o", 5.0)], "cache_ttl = 0\n");
    backend.set_check_tokens(false);
    let mut v: Value =
        serde_json::from_str(&fs::read_to_string(auth_file(&env, "o")).unwrap()).unwrap();
    let opaque = format!("opaque-{}", crate::support::fixtures::random_hex(40));
    register_secret(SecretKind::Other, &opaque);
    v["tokens"]["access_token"] = Value::from(opaque);
    fs::write(auth_file(&env, "o"), v.to_string()).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("o"),
        "{}",
        out.stderr
    );
    eprintln!(
        "unusable auth.json: {} variants + 1 opaque token",
        variants.len()
    );
}

#[test]
fn bad_swop_toml_exits_3_naming_file_line_and_key() {
    let env = TestEnv::new();
    // No account: with a broken swop.toml nothing may fall back to the real
    // usage server (doctor would otherwise try the default base_url).
    let cases: &[(&str, &str, &[&str])] = &[
        ("syntax error", "[usage\ntimeout = \"1s\"\n", &["line 1"]),
        (
            "unknown key",
            "[usage]\ntimeout = \"1s\"\n\n[selection]\nstrategy = \"drain\"\nmax_weekly = 3\n",
            &["line 6", "max_weekly"],
        ),
        (
            "wrong type",
            "[selection]\nspread = \"yes\"\n",
            &["line 2", "spread"],
        ),
        (
            "bad duration",
            "[usage]\ncache_ttl = \"soon\"\n",
            &["line 2", "cache_ttl"],
        ),
        (
            "unknown table",
            "[usag]\ntimeout = \"1s\"\n",
            &["line 1", "usag"],
        ),
        (
            "percent out of range",
            "[selection]\nmax_weekly_percent = 150\n",
            &["max_weekly_percent"],
        ),
        (
            "not a URL",
            "[usage]\nbase_url = \"chatgpt.com\"\n",
            &["base_url"],
        ),
    ];
    let config = env.swop_home.join("swop.toml");
    for (what, text, wants) in cases {
        write_config(&env, text);
        for out in [
            env.swop().arg("list").code(3),
            env.swop().args(["status", "--json"]).code(3),
            env.swop().arg("pick").code(3),
            env.codex().args(["exec", "x"]).code(3),
        ] {
            assert!(
                out.stderr.contains(&config.display().to_string()),
                "{what}: file not named: {}",
                out.stderr
            );
            for w in *wants {
                assert!(
                    out.stderr.contains(w),
                    "{what}: lacks {w:?}: {}",
                    out.stderr
                );
            }
            assert!(ran_in(&out.stdout).is_none(), "{what}: codex ran");
        }
        let doctor = env.swop().arg("doctor").run();
        assert!(doctor.stdout.contains("FAIL"), "{what}: {}", doctor.stdout);
    }
    eprintln!("bad swop.toml: {} variants, exit 3 each", cases.len());
}

#[test]
fn corrupt_or_truncated_cache_files_warn_and_are_rebuilt() {
    let bad: &[(&str, &[u8])] = &[
        ("empty", b""),
        (
            "truncated",
            b"{\"fetched_at\": 1700000000, \"usage\": {\"plan\": \"pl",
        ),
        ("binary", &[0xff, 0x00, 0xfe, 0x12, 0x80]),
        ("wrong type", b"[1, 2, 3]"),
        ("wrong field type", b"{\"fetched_at\": \"yesterday\"}"),
    ];
    for (what, bytes) in bad {
        // before-launch: the launch must refetch the lost numbers first.
        let (env, backend) = world(
            &[("a", 10.0), ("b", 20.0)],
            "cache_ttl = \"1h\"\nrefresh = \"before-launch\"\n",
        );
        pick_json(&env);
        let n = backend.count(USAGE);
        let file = env.swop_home.join("cache/a.json");
        fs::write(&file, bytes).unwrap();
        let out = env.codex().args(["exec", "x"]).ok();
        let line = one_warning(&out.stderr, "a", what);
        assert!(line.contains("cache file was corrupt"), "{what}: {line}");
        assert_eq!(announced(&out.stderr).as_deref(), Some("a"), "{what}");
        assert_eq!(backend.count(USAGE), n + 1, "{what}: only a is refetched");
        let v: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        assert!(
            v["usage"]["weekly"]["used_percent"].is_number(),
            "{what}: {v}"
        );
        assert_eq!(mode(&file), 0o600);
        let out = env.swop().arg("status").ok();
        assert!(
            !out.stderr.contains("corrupt"),
            "{what}: rebuilt: {}",
            out.stderr
        );
    }
}

/// Runs `f` on a thread with its own private mount namespace: mounts made
/// there are invisible to the rest of the machine and vanish with the
/// thread. Err says why this machine does not allow it.
fn with_private_mounts<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscalls on this thread's own namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                return Err(format!(
                    "unshare(CLONE_NEWNS): {}",
                    std::io::Error::last_os_error()
                ));
            }
            sys_mount(
                None,
                Path::new("/"),
                None,
                libc::MS_REC | libc::MS_PRIVATE,
                None,
            )
            .map_err(|e| format!("make / private: {e}"))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn sys_mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &str| CString::new(s).unwrap();
    let src = src.map(c);
    let fstype = fstype.map(c);
    let data = data.map(c);
    let target = CString::new(target.as_os_str().as_bytes()).unwrap();
    let p = |o: &Option<CString>| o.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid NUL-terminated strings or null, as mount(2) allows.
    let r = unsafe {
        libc::mount(
            p(&src),
            target.as_ptr(),
            p(&fstype),
            flags,
            p(&data) as *const libc::c_void,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn sys_umount(target: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let t = std::ffi::CString::new(target.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path; MNT_DETACH never blocks.
    unsafe {
        libc::umount2(t.as_ptr(), libc::MNT_DETACH);
    }
}

#[test]
fn read_only_swop_home_fails_clearly_and_changes_nothing() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 20.0)], "cache_ttl = 0\n");
    pick_json(&env);
    // Older numbers on disk, so that the next fetch has something to write.
    age_cache(&env, "a", 60);
    age_cache(&env, "b", 60);
    let other = env.root.join("other-codex");
    fs::create_dir_all(&other).unwrap();
    let import_src = env.write_auth_fixture("imp", &Identity::named("imp"));
    fs::copy(&import_src, other.join("auth.json")).unwrap();
    let before = snapshot(&env.swop_home);
    let home = env.swop_home.clone();
    let r = with_private_mounts(|| {
        sys_mount(
            Some(home.to_str().unwrap()),
            &home,
            None,
            libc::MS_BIND,
            None,
        )
        .map_err(|e| format!("bind mount: {e}"))?;
        sys_mount(
            None,
            &home,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            None,
        )
        .map_err(|e| format!("remount read-only: {e}"))?;
        let probe = fs::write(home.join("probe"), b"x");
        assert!(probe.is_err(), "root can still write: not read-only");

        // Reading works: list, status, pick, and a launch (warnings only).
        assert_eq!(listed(&env), ["a", "b"]);
        let out = env.swop().args(["pick", "--json"]).ok();
        assert!(
            out.stderr.contains("cannot update the usage cache"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        json_of(&out, "pick");
        let out = env.codex().args(["exec", "x"]).ok();
        assert_eq!(
            announced(&out.stderr).as_deref(),
            Some("a"),
            "{}",
            out.stderr
        );
        assert!(ran_in(&out.stdout).is_some());
        // Changing things fails with the cause and what to check.
        let fixture = env.write_auth_fixture("c", &Identity::named("c"));
        let out = env
            .swop()
            .args(["add", "c"])
            .env("FAKE_CODEX_AUTH", &fixture)
            .fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("writable"), "{}", out.stderr);
        let out = env.swop().args(["logout", "b"]).fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        let out = env
            .swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .fails();
        assert!(
            out.stderr.contains("Read-only file system"),
            "{}",
            out.stderr
        );
        assert!(other.join("auth.json").is_file(), "import lost the login");
        sys_umount(&home);
        Ok::<(), String>(())
    });
    match r {
        Ok(Ok(())) => {}
        Ok(Err(why)) | Err(why) => {
            eprintln!(
                "SKIPPED read-only SWOP_HOME: cannot make a read-only mount here ({why}); \
                 a chmod-based read-only dir would not stop root, so a mount is required"
            );
            return;
        }
    }
    assert_eq!(
        snapshot(&env.swop_home),
        before,
        "a failed command changed SWOP_HOME"
    );
    assert_eq!(listed(&env), ["a", "b"]);
    eprintln!("read-only SWOP_HOME: reads work, 3 writes refused, nothing changed");
}

fn free_blocks(p: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and out pointer.
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
    s.f_bavail as u64
}

/// Fills the filesystem of `dir` with `dir/filler` (4 KiB pages) and then
/// frees `leave` pages again.
fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&filler)
        .unwrap();
    let page = [0u8; 4096];
    while f.write_all(&page).is_ok() {}
    let _ = f.sync_all();
    let len = f.metadata().unwrap().len();
    let len = len - len % 4096;
    f.set_len(len.saturating_sub(4096 * leave)).unwrap();
    fs::set_permissions(&filler, fs::Permissions::from_mode(0o600)).unwrap();
    filler
}

/// Runs `f` with SWOP_HOME on a small tmpfs (`size`, e.g. "64k") mounted
/// in a private mount namespace. False (after saying why) when this machine
/// does not allow the mount.
fn on_tiny_disk(env: &TestEnv, size: &str, what: &str, f: impl FnOnce() + Send) -> bool {
    let home = env.swop_home.clone();
    fs::create_dir_all(&home).unwrap();
    let r = with_private_mounts(|| {
        sys_mount(
            Some("tmpfs"),
            &home,
            Some("tmpfs"),
            0,
            Some(&format!("size={size},mode=0700")),
        )
        .map_err(|e| format!("mount -t tmpfs -o size={size}: {e}"))?;
        // Unmount even when `f` fails an assertion.
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                sys_umount(self.0);
            }
        }
        let _unmount = Unmount(&home);
        f();
        Ok::<(), String>(())
    });
    match r {
        Ok(Ok(())) => true,
        Ok(Err(why)) | Err(why) => {
            eprintln!("SKIPPED {what}: cannot mount a small tmpfs here ({why})");
            false
        }
    }
}

#[test]
fn full_disk_fails_clearly_and_keeps_the_previous_state() {
    let env = TestEnv::new();
    let backend = Backend::start();
    let home = env.swop_home.clone();
    let ran = on_tiny_disk(&env, "64k", "full disk", || {
        add_named(&env, &["a", "b"]);
        backend.set_usage("acct-a", usage_json("plus", 5.0, 10.0));
        backend.set_usage("acct-b", usage_json("plus", 5.0, 20.0));
        config_for(&env, &backend, "cache_ttl = 0\n");
        pick_json(&env);
        age_cache(&env, "a", 60);
        let cache_before = fs::read(home.join("cache/a.json")).unwrap();
        let only_a = |snap: Vec<(PathBuf, String)>| -> Vec<(PathBuf, String)> {
            snap.into_iter()
                .filter(|(p, _)| p.starts_with(home.join("accounts/a")))
                .collect()
        };
        let a_before = only_a(snapshot(&home.join("accounts")));

        // Completely full: usage numbers cannot be cached, launches still
        // work, the old cache stays whole.
        let filler = fill_disk(&home, 0);
        assert_eq!(free_blocks(&home), 0);
        let out = env.swop().args(["pick", "--json"]).ok();
        assert!(
            out.stderr.contains("cannot update the usage cache"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        json_of(&out, "pick");
        assert_eq!(fs::read(home.join("cache/a.json")).unwrap(), cache_before);
        let out = env.codex().args(["exec", "x"]).ok();
        assert!(ran_in(&out.stdout).is_some(), "{}", out.stderr);
        let (_, tmp) = cache_files_parse(&env);
        assert_eq!(tmp, 0, "temp files left behind by failed writes");

        // One free page: codex's auth.json fits, swop's own record does not.
        fs::remove_file(&filler).unwrap();
        let filler = fill_disk(&home, 1);
        assert_eq!(free_blocks(&home), 1);
        let fixture = env.write_auth_fixture("c", &Identity::named("c"));
        let out = env
            .swop()
            .args(["add", "c"])
            .env("FAKE_CODEX_AUTH", &fixture)
            .fails();
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("disk is full"), "{}", out.stderr);
        assert!(hidden_entries(&env, ".add-").is_empty(), "staging left");
        assert_eq!(listed(&env), ["a", "b"]);

        // Import across filesystems onto a full disk: the login stays put.
        let other = env.root.join("other-codex");
        fs::create_dir_all(&other).unwrap();
        let src = env.write_auth_fixture("imp", &Identity::named("imp"));
        fs::copy(&src, other.join("auth.json")).unwrap();
        fs::remove_file(&filler).unwrap();
        let filler = fill_disk(&home, 0);
        let out = env
            .swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .fails();
        assert!(
            out.stderr.contains("No space left on device"),
            "{}",
            out.stderr
        );
        assert_eq!(
            fs::read(other.join("auth.json")).unwrap(),
            fs::read(&src).unwrap(),
            "import lost the login on a full disk"
        );
        assert_eq!(listed(&env), ["a", "b"]);
        assert_eq!(
            only_a(snapshot(&home.join("accounts"))),
            a_before,
            "account a changed while the disk was full"
        );

        // Space again: everything works.
        fs::remove_file(&filler).unwrap();
        add(&env, "c", &Identity::named("c"));
        env.swop()
            .args(["import", "imp", "--from"])
            .arg(&other)
            .ok();
        env.swop().args(["logout", "b"]).ok();
        assert_eq!(listed(&env), ["a", "c", "imp"]);
        pick_json(&env);
    });
    if ran {
        eprintln!("full disk: 64k tmpfs; cache, add and import refused cleanly, state kept");
    }
}

#[test]

fn logout_on_a_full_disk_is_all_or_nothing() {
    let env = TestEnv::new();
    let home = env.swop_home.clone();
    on_tiny_disk(&env, "64k", "logout on a full disk", || {
        add_named(&env, &["a", "b"]);
        let before = snapshot(&home.join("accounts"));
        let filler = fill_disk(&home, 0);
        // codex logout fails, so it frees nothing either.
        let out = env
            .swop()
            .args(["logout", "b"])
            .env("FAKE_LOGOUT_FAIL", "1")
            .run();
        let names = listed(&env);
        let hidden: Vec<String> = [".logout-", ".retire-"]
            .iter()
            .flat_map(|p| hidden_entries(&env, p))
            .collect();
        eprintln!(
            "logout on a full disk: exit {:?}, listed {names:?}, hidden {hidden:?}\n{}",
            out.code, out.stderr
        );
        if out.success() {
            assert_eq!(names, ["a"]);
        } else {
            assert!(
                out.stderr.contains("No space left on device"),
                "{}",
                out.stderr
            );
            assert_eq!(names, ["a", "b"], "a failed logout made the account vanish");
            assert_eq!(snapshot(&home.join("accounts")), before, "half a logout");
        }
        fs::remove_file(&filler).unwrap();
    });
}
