//! Install.sh into a temporary HOME, the PATH blocks, uninstall,
//! and `swop doctor`.

use crate::support::world::add;
use crate::support::{
    real_codex, swop_bin, system_path, Backend, Identity, Output, TestCommand, TestEnv,
};
use std::fs;
use std::path::{Path, PathBuf};

pub fn install_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

/// `sh install.sh ARGS` with the test's HOME and SHELL, installing the test
/// build of swop instead of building a release.
pub fn install(env: &TestEnv, shell: &str, args: &[&str]) -> Output {
    let mut c = env.command("/bin/sh");
    c.arg(install_sh())
        .args(args.iter().copied())
        .env("SHELL", shell)
        .env("SWOP_INSTALL_BINARY", swop_bin());
    c.ok()
}

fn block_count(file: &Path) -> usize {
    fs::read_to_string(file)
        .unwrap_or_default()
        .matches(">>> swop: codex account switcher >>>")
        .count()
}

/// The range `codex-versions.txt` names (oldest, pinned): the one place
/// test.sh, install.sh, doctor and the README take it from.
pub fn tested_range() -> (String, String) {
    let text = include_str!("../codex-versions.txt");
    let value = |key: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| panic!("codex-versions.txt names no {key}"))
    };
    (value("oldest"), value("pinned"))
}

/// A new terminal's login shell, reading the rc files in HOME the way bash
/// -l does (~/.profile), but not the host's /etc/profile: that one sets a
/// PATH with the host's own codex in it (/usr/bin, /usr/local/bin), and
/// the tests must not depend on what the host has installed.
fn login_shell(env: &TestEnv, script: &str) -> TestCommand {
    let mut c = env.command("/bin/bash");
    c.args([
        "--noprofile",
        "--norc",
        "-c",
        &format!(". \"$HOME/.profile\"\n{script}"),
    ])
    .env("SHELL", "/bin/bash")
    .env("PATH", system_path().display().to_string());
    c
}

#[test]
fn install_puts_binary_shim_and_one_path_block_in_place() {
    let env = TestEnv::new();
    let out = install(&env, "/bin/bash", &[]);
    let bin = env.swop_home.join("bin/swop");
    let shim = env.swop_home.join("shim/codex");
    assert!(bin.is_file());
    assert_eq!(
        fs::read_link(&shim).unwrap(),
        bin,
        "the shim resolves to the binary"
    );
    assert!(
        out.stdout.contains("swop add work"),
        "ends with the next step: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("swop 0."),
        "shows that it runs: {}",
        out.stdout
    );
    for rc in [".bashrc", ".profile"] {
        assert_eq!(block_count(&env.home.join(rc)), 1, "{rc}");
    }
    // Twice: nothing changes the second time.
    let snapshot: Vec<(PathBuf, Vec<u8>)> = [".bashrc", ".profile"]
        .iter()
        .map(|f| (env.home.join(f), fs::read(env.home.join(f)).unwrap()))
        .chain([(bin.clone(), fs::read(&bin).unwrap())])
        .collect();
    let mtime = fs::metadata(&bin).unwrap().modified().unwrap();
    let out = install(&env, "/bin/bash", &[]);
    assert!(
        out.stdout.contains("already has the swop PATH block"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("is up to date"), "{}", out.stdout);
    for (p, bytes) in snapshot {
        assert_eq!(
            fs::read(&p).unwrap(),
            bytes,
            "{} changed on the second run",
            p.display()
        );
    }
    assert_eq!(fs::metadata(&bin).unwrap().modified().unwrap(), mtime);
    // A new login shell finds the shim first.
    let out = login_shell(&env, "command -v codex").ok();
    assert_eq!(out.stdout.trim(), shim.display().to_string());
    crate::support::world::assert_private_tree(&env.swop_home);
}

#[test]
fn zsh_and_fish_get_their_blocks() {
    let env = TestEnv::new();
    install(&env, "/bin/zsh", &[]);
    assert_eq!(block_count(&env.home.join(".zshrc")), 1);
    assert_eq!(block_count(&env.home.join(".zprofile")), 1);
    install(&env, "/usr/bin/fish", &[]);
    let fish = env.home.join(".config/fish/conf.d/swop.fish");
    assert_eq!(block_count(&fish), 1);
    assert!(fs::read_to_string(&fish).unwrap().contains("set -gx PATH"));
}

#[test]
fn no_modify_path_leaves_rc_files_alone_and_prints_the_line() {
    let env = TestEnv::new();
    fs::write(env.home.join(".bashrc"), "# mine\n").unwrap();
    let out = install(&env, "/bin/bash", &["--no-modify-path"]);
    assert_eq!(
        fs::read_to_string(env.home.join(".bashrc")).unwrap(),
        "# mine\n"
    );
    assert!(!env.home.join(".profile").exists());
    assert!(
        out.stdout.contains(&format!(
            "export PATH=\"{}",
            env.swop_home.join("shim").display()
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn uninstall_removes_what_install_added_and_keeps_accounts() {
    let env = TestEnv::new();
    fs::write(env.home.join(".bashrc"), "# mine\nalias ll='ls -l'\n").unwrap();
    install(&env, "/bin/bash", &[]);
    add(&env, "work", &Identity::named("work"));
    let mut c = env.command("/bin/sh");
    let out = c.arg(install_sh()).arg("--uninstall").ok();
    assert!(
        out.stdout.contains("kept your account in"),
        "{}",
        out.stdout
    );
    assert!(!env.swop_home.join("bin/swop").exists());
    assert!(!env.swop_home.join("shim/codex").exists());
    assert_eq!(
        fs::read_to_string(env.home.join(".bashrc")).unwrap(),
        "# mine\nalias ll='ls -l'\n"
    );
    assert_eq!(block_count(&env.home.join(".profile")), 0);
    assert!(env.account_home("work").join("auth.json").exists());
    // swop uninstall --purge takes the accounts too.
    install(&env, "/bin/bash", &[]);
    let out = env.swop().args(["uninstall", "--purge", "--yes"]).ok();
    assert!(
        out.stdout.contains("with every account in it"),
        "{}",
        out.stdout
    );
    assert!(!env.swop_home.exists());
    assert_eq!(block_count(&env.home.join(".bashrc")), 0);
}

#[test]
fn real_codex_version_through_the_installed_shim_in_a_login_shell() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    install(&env, "/bin/bash", &[]);
    // The real codex on PATH after the shim (as `npm i -g` would put it).
    let real_dir = real.parent().unwrap();
    let out = login_shell(
        &env,
        &format!(
            "export PATH=\"$PATH:{}\"; command -v codex; codex --version",
            real_dir.display()
        ),
    )
    .env_remove("SWOP_CODEX")
    .ok();
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(env.swop_home.join("shim/codex").to_str().unwrap())
    );
    let own = std::process::Command::new(&real)
        .arg("--version")
        .output()
        .unwrap();
    let own = String::from_utf8_lossy(&own.stdout).trim().to_string();
    assert!(own.starts_with("codex-cli 0."), "{own}");
    assert_eq!(lines.next(), Some(own.as_str()), "{}", out.stderr);
}

/// An installed swop with the fake codex as "the real codex" on PATH after
/// the shim, and one account whose usage the backend serves.
fn doctor_env() -> (TestEnv, Backend) {
    let env = TestEnv::new();
    install(&env, "/bin/bash", &[]);
    crate::support::world::World::new(&[("work", 12.0)])
        .in_env(env)
        .build()
}

/// `swop doctor` with a tested codex (the fake one, naming the pinned
/// version), so a good setup has nothing to warn about.
fn doctor(env: &TestEnv, path: String) -> Output {
    let mut c = env.command(env.swop_home.join("bin/swop"));
    c.arg("doctor")
        .env_remove("SWOP_CODEX")
        .env("PATH", path)
        .env("FAKE_CODEX_VERSION", tested_range().1);
    c.run()
}

#[test]
fn doctor_passes_on_a_good_setup() {
    let (env, _backend) = doctor_env();
    let out = doctor(
        &env,
        format!(
            "{}:{}:{}",
            env.swop_home.join("shim").display(),
            env.bin.display(),
            system_path().display()
        ),
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.contains("comes first on PATH"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("(codex-cli {})", tested_range().1)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("'work': logged in, usage server answered in"),
        "{}",
        out.stdout
    );
    // The fake codex runs at the pinned version: nothing to warn about.
    assert!(
        out.stdout
            .contains("\nall good: `codex` runs through swop\n"),
        "{}",
        out.stdout
    );
    // An own login left in the shared home is pointed out, not an error.
    let own = env.write_auth_fixture("own", &Identity::named("own"));
    fs::copy(&own, env.home.join(".codex/auth.json")).unwrap();
    let out = doctor(
        &env,
        format!(
            "{}:{}:{}",
            env.swop_home.join("shim").display(),
            env.bin.display(),
            system_path().display()
        ),
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout.contains("launches through swop do not use"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("swop import NAME"), "{}", out.stdout);
    // ... and then doctor does not end with "all good".
    assert!(!out.stdout.contains("all good"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("\n1 warning: `codex` runs through swop\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn doctor_reports_a_wrong_path_order_and_a_missing_codex_with_fixes() {
    let (env, _backend) = doctor_env();
    let shim = env.swop_home.join("shim");
    let sys = system_path().display().to_string();
    let out = doctor(
        &env,
        format!("{}:{}:{sys}", env.bin.display(), shim.display()),
    );
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("comes before the shim dir on PATH"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "fix: put the shim first: export PATH=\"{}:$PATH\"",
            shim.display()
        )),
        "{}",
        out.stdout
    );
    let out = doctor(&env, format!("{}:{sys}", shim.display()));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout.contains("FAIL  cannot find the real codex"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("fix: install codex"), "{}", out.stdout);
    let out = doctor(&env, format!("{}:{sys}", env.bin.display()));
    assert!(
        out.stdout
            .contains("is not on PATH, so plain `codex` bypasses swop"),
        "{}",
        out.stdout
    );
    let json = env
        .command(env.swop_home.join("bin/swop"))
        .args(["doctor", "--json"])
        .run();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["checks"].as_array().unwrap().len() >= 5);
}

#[test]
fn install_without_codex_finishes_and_says_how_to_get_it() {
    let env = TestEnv::new();
    let mut c = env.command("/bin/sh");
    c.arg(install_sh())
        .env("SHELL", "/bin/bash")
        .env("SWOP_INSTALL_BINARY", swop_bin())
        .env_remove("SWOP_CODEX")
        .env("PATH", system_path().display().to_string());
    let out = c.ok();
    assert!(
        out.stdout.contains("npm install -g @openai/codex"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("swop works as soon as"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("swop add work"), "{}", out.stdout);
    // With a real codex (here the fake one, a tested version) it names it
    // instead.
    let found = install_with_codex_version(&env, &tested_range().1);
    assert!(found.stdout.contains("real codex: '"), "{}", found.stdout);
    assert!(!found.stdout.contains("npm install"), "{}", found.stdout);
}

/// install.sh with this fake `codex --version`: its output.
fn install_with_codex_version(env: &TestEnv, version: &str) -> Output {
    let mut c = env.command("/bin/sh");
    c.arg(install_sh())
        .env("SHELL", "/bin/bash")
        .env("SWOP_INSTALL_BINARY", swop_bin())
        .env("FAKE_CODEX_VERSION", version);
    c.ok()
}

/// Install.sh names the codex it found and says plainly when it
/// is outside the range swop is tested with (codex-versions.txt), and what
/// to do.
#[test]
fn install_names_the_codex_version_and_says_when_it_is_outside_the_tested_range() {
    let env = TestEnv::new();
    let (lo, hi) = tested_range();
    for v in ["0.0.0-fake", "0.150.0", "9.0.0"] {
        let out = install_with_codex_version(&env, v);
        assert!(
            out.stdout.contains(&format!("(codex-cli {v})")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!(
                "codex {v} is outside the range swop is tested with ({lo} to {hi})"
            )),
            "{v}: {}",
            out.stdout
        );
        assert!(
            out.stdout
                .contains(&format!("npm install -g @openai/codex@{hi}")),
            "{}",
            out.stdout
        );
    }
    for v in [&lo, &hi] {
        let out = install_with_codex_version(&env, v);
        assert!(
            out.stdout.contains(&format!(
                "codex {v} is in the range swop is tested with ({lo} to {hi})"
            )),
            "{v}: {}",
            out.stdout
        );
        assert!(!out.stdout.contains("outside"), "{}", out.stdout);
    }
}

/// `swop doctor` with the pinned codex (0.171.0 when this was
/// was filed) names it and warns nothing about the version.
#[test]
fn doctor_with_a_tested_codex_reports_no_range_warning() {
    let (env, _backend) = doctor_env();
    let (lo, hi) = tested_range();
    let path = format!(
        "{}:{}:{}",
        env.swop_home.join("shim").display(),
        env.bin.display(),
        system_path().display()
    );
    for v in [&hi, &lo] {
        let mut c = env.command(env.swop_home.join("bin/swop"));
        c.arg("doctor")
            .env_remove("SWOP_CODEX")
            .env("PATH", &path)
            .env("FAKE_CODEX_VERSION", v);
        let out = c.run();
        assert!(
            out.stdout.contains(&format!("(codex-cli {v})")),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("tested with"), "{}", out.stdout);
        assert!(out.stdout.contains("all good"), "{}", out.stdout);
    }
    let mut c = env.command(env.swop_home.join("bin/swop"));
    c.arg("doctor")
        .env_remove("SWOP_CODEX")
        .env("PATH", &path)
        .env("FAKE_CODEX_VERSION", "0.150.0");
    let out = c.run();
    assert!(
        out.stdout
            .contains(&format!("swop is tested with codex {lo} to {hi}")),
        "{}",
        out.stdout
    );
    // A range warning, then "all good" was once said; now it counts.
    assert_eq!(out.code, Some(0), "a warning does not fail doctor");
    assert!(!out.stdout.contains("all good"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("\n1 warning: `codex` runs through swop\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("every subcommand the real codex lists is in swop's table"),
        "{}",
        out.stdout
    );
    // A newer codex (a new binary) with a subcommand swop's table lacks.
    crate::support::write_fake_codex(&env.bin);
    let mut c = env.command(env.swop_home.join("bin/swop"));
    c.arg("doctor")
        .env_remove("SWOP_CODEX")
        .env("PATH", &path)
        .env("FAKE_EXTRA_COMMANDS", "frobnicate")
        .env("FAKE_CODEX_VERSION", "0.172.0");
    let out = c.run();
    assert!(
        out.stdout
            .contains("the real codex lists subcommands swop does not know yet: frobnicate"),
        "{}",
        out.stdout
    );
}
