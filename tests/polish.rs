//! CLI polish: a cancelled login reads as cancelled (exit 130),
//! swop names `swop add NAME --device-auth` before codex names its own
//! command, `--purge` asks first, uninstall leaves nothing of its own
//! behind (completions, man page, rc files it made), "did you mean" for
//! account names and swop.toml keys, `--for` bounds, `swop version`, the
//! man page, the help's order and its config example, and install.sh when
//! cargo does not work.

use crate::install::{install, install_sh};
use crate::support::world::{add, add_named, on_a_terminal, write_config};
use crate::support::{real_codex, run_in_pty_after, Identity, TestEnv};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// Terminal output with its wrapping undone: one space between words.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- 1, 2: a login cancelled with Ctrl-C; the device-code line ----

#[test]
fn ctrl_c_during_add_is_a_cancel_not_a_failure() {
    let env = TestEnv::new();
    let auth = env.write_auth_fixture("auth-work", &Identity::named("work"));
    let mut cmd = env.swop();
    cmd.args(["add", "work"])
        .env("FAKE_CODEX_AUTH", &auth)
        .env("FAKE_LOGIN_HANG", "1");
    let (code, out) = on_a_terminal(&mut cmd, b"\x03", Duration::from_secs(20));
    let shown = flat(&out);
    assert_eq!(code, Some(130), "{out}");
    assert!(
        shown.contains("login for 'work' cancelled; nothing was added"),
        "{out}"
    );
    assert!(
        !shown.contains("failed") && !shown.contains("help:"),
        "{out}"
    );
    let list = env.swop().args(["list", "--json"]).ok();
    assert_eq!(list.stdout.trim(), "[]");
    // No staging dir left behind either.
    let left: Vec<_> = fs::read_dir(env.swop_home.join("accounts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ctrl_c_during_relogin_keeps_the_login_and_says_cancelled() {
    let env = TestEnv::new();
    add(&env, "work", &Identity::named("work"));
    let auth = env.account_home("work").join("auth.json");
    let before = fs::read(&auth).unwrap();
    let mut cmd = env.swop();
    cmd.args(["relogin", "work"]).env("FAKE_LOGIN_HANG", "1");
    let (code, out) = on_a_terminal(&mut cmd, b"\x03", Duration::from_secs(20));
    let shown = flat(&out);
    assert_eq!(code, Some(130), "{out}");
    assert!(
        shown.contains("login for 'work' cancelled; the current login of 'work' is unchanged"),
        "{out}"
    );
    assert!(!shown.contains("help:"), "{out}");
    assert_eq!(fs::read(&auth).unwrap(), before);
}

#[test]
fn a_failed_login_still_says_failed_with_the_device_code_advice() {
    let env = TestEnv::new();
    let out = env
        .swop()
        .args(["add", "work"])
        .env("FAKE_LOGIN_FAIL", "1")
        .code(6);
    assert!(out.stderr.contains("failed (exit 1)"), "{}", out.stderr);
    assert!(
        out.stderr.contains("swop add work --device-auth"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_browser_login_names_swops_device_code_command_first() {
    let env = TestEnv::new();
    let auth = env.write_auth_fixture("auth-work", &Identity::named("work"));
    let out = env
        .swop()
        .args(["add", "work"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    assert!(
        flat(&out.stderr).contains(
            "use `swop add work --device-auth`, not the `codex login --device-auth` codex names below"
        ),
        "{}",
        out.stderr
    );
    let out = env
        .swop()
        .args(["relogin", "work"])
        .env("FAKE_CODEX_AUTH", &auth)
        .ok();
    assert!(
        flat(&out.stderr).contains("`swop relogin work --device-auth`"),
        "{}",
        out.stderr
    );
    // The device-code flow itself needs no such line.
    let auth2 = env.write_auth_fixture("auth-home", &Identity::named("home"));
    let out = env
        .swop()
        .args(["add", "home", "--device-auth"])
        .env("FAKE_CODEX_AUTH", &auth2)
        .ok();
    assert!(!out.stderr.contains("--device-auth"), "{}", out.stderr);
}

/// The real codex, on a terminal: swop's line comes before codex's own
/// "Use `codex login --device-auth` instead", and Ctrl-C at codex's
/// browser prompt is a cancel. BROWSER=true: no browser is opened; codex
/// makes no request before the browser comes back, so nothing leaves the
/// machine. codex listens on its fixed port 1455 meanwhile.
#[test]
fn real_codex_login_hint_comes_after_swops_and_ctrl_c_cancels() {
    let Some(real) = real_codex() else { return };
    let env = TestEnv::new();
    let mut cmd = env
        .swop()
        .args(["add", "work"])
        .env("SWOP_CODEX", &real)
        .env("BROWSER", "true")
        .env("TERM", "dumb")
        .to_command();
    let hint = "--device-auth` instead";
    let (code, out, timed_out) = run_in_pty_after(&mut cmd, hint, b"\x03", Duration::from_secs(60));
    assert!(!timed_out, "{out}");
    let shown = flat(&out);
    let ours = shown
        .find("use `swop add work --device-auth`")
        .unwrap_or_else(|| panic!("no swop line: {out}"));
    let theirs = shown
        .find("Use `codex login --device-auth` instead")
        .unwrap_or_else(|| panic!("codex's hint changed: {out}"));
    assert!(ours < theirs, "swop's line must come first: {out}");
    assert_eq!(code, Some(130), "{out}");
    assert!(
        shown.contains("login for 'work' cancelled; nothing was added"),
        "{out}"
    );
    assert!(!shown.contains("help:"), "{out}");
    let list = env.swop().args(["list", "--json"]).ok();
    assert_eq!(list.stdout.trim(), "[]");
}

// ---- 9, 10: uninstall ----

#[test]
fn purge_refuses_off_a_terminal_without_yes_and_asks_on_one() {
    let env = TestEnv::new();
    install(&env, "/bin/bash", &[]);
    add_named(&env, &["work", "home"]);
    let bin = env.swop_home.join("bin/swop");
    let out = env.swop().args(["uninstall", "--purge"]).code(2);
    assert!(
        out.stderr.contains("there is no terminal to ask")
            && out.stderr.contains("swop uninstall --purge --yes"),
        "{}",
        out.stderr
    );
    assert!(
        bin.exists() && env.account_home("work").exists(),
        "nothing removed"
    );
    // On a terminal: anything but yes keeps everything.
    let mut cmd = env.swop();
    cmd.args(["uninstall", "--purge"]);
    let (code, out) = on_a_terminal(&mut cmd, b"\n", Duration::from_secs(20));
    assert_eq!(code, Some(1), "{out}");
    let shown = flat(&out);
    assert!(
        shown.contains("with the logins of 2 accounts (home, work)") && shown.contains("[y/N]"),
        "{out}"
    );
    assert!(shown.contains("nothing was removed"), "{out}");
    assert!(bin.exists() && env.account_home("work").exists());
    let (code, out) = on_a_terminal(&mut cmd, b"y\n", Duration::from_secs(20));
    assert_eq!(code, Some(0), "{out}");
    assert!(!env.swop_home.exists(), "{out}");
}

#[test]
fn uninstall_says_kept_only_when_there_are_accounts() {
    let env = TestEnv::new();
    install(&env, "/bin/bash", &[]);
    // swop made accounts/ (an add that was cancelled), but no account.
    let accounts = env.swop_home.join("accounts");
    fs::create_dir_all(&accounts).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&accounts, fs::Permissions::from_mode(0o700)).unwrap();
    let out = env.swop().arg("uninstall").ok();
    assert!(!out.stdout.contains("kept"), "{}", out.stdout);
    install(&env, "/bin/bash", &[]);
    add(&env, "work", &Identity::named("work"));
    let out = env.swop().arg("uninstall").ok();
    assert!(
        out.stdout.contains("kept your account in '"),
        "{}",
        out.stdout
    );
}

/// What install.sh put outside SWOP_HOME, for the shells it found.
fn installed_extras(home: &Path) -> Vec<std::path::PathBuf> {
    vec![
        home.join(".local/share/bash-completion/completions/swop"),
        home.join(".zfunc/_swop"),
        home.join(".config/fish/completions/swop.fish"),
        home.join(".local/share/man/man1/swop.1"),
    ]
}

#[test]
fn uninstall_removes_completions_man_page_and_the_rc_files_install_made() {
    let env = TestEnv::new();
    // The person's own files: an .zshrc they made empty (as people do to
    // silence zsh's first-run wizard) and a .bashrc with content.
    fs::write(env.home.join(".zshrc"), "").unwrap();
    fs::write(env.home.join(".bashrc"), "# mine\n").unwrap();
    fs::create_dir_all(env.home.join(".config/fish")).unwrap();
    install(&env, "/bin/bash", &[]);
    for f in installed_extras(&env.home) {
        assert!(f.is_file(), "install.sh did not write {}", f.display());
    }
    for made in [".profile", ".zprofile", ".config/fish/conf.d/swop.fish"] {
        assert!(env.home.join(made).is_file(), "{made}");
    }
    let out = env.swop().arg("uninstall").ok();
    for f in installed_extras(&env.home) {
        assert!(!f.exists(), "left behind: {}\n{}", f.display(), out.stdout);
    }
    // Files install.sh made are gone once empty; the person's stay.
    for made in [".profile", ".zprofile", ".config/fish/conf.d/swop.fish"] {
        assert!(!env.home.join(made).exists(), "{made} left\n{}", out.stdout);
    }
    assert_eq!(fs::read_to_string(env.home.join(".zshrc")).unwrap(), "");
    assert_eq!(
        fs::read_to_string(env.home.join(".bashrc")).unwrap(),
        "# mine\n"
    );
    // Dirs install.sh made are gone when empty; the person's stay.
    assert!(!env.home.join(".zfunc").exists());
    assert!(!env.home.join(".local").exists());
    assert!(env.home.join(".config/fish").is_dir());
    // The same through install.sh --uninstall.
    install(&env, "/bin/bash", &[]);
    env.command("/bin/sh")
        .arg(install_sh())
        .arg("--uninstall")
        .ok();
    for f in installed_extras(&env.home) {
        assert!(!f.exists(), "left behind: {}", f.display());
    }
}

/// The completions install.sh put in place, loaded by each shell the way a
/// new terminal loads them.
#[test]
fn installed_completions_load_in_each_shell() {
    let env = TestEnv::new();
    // A .zshrc that runs compinit first, as most do; fish in use.
    fs::write(
        env.home.join(".zshrc"),
        "autoload -Uz compinit\ncompinit -u -D\n",
    )
    .unwrap();
    fs::create_dir_all(env.home.join(".config/fish")).unwrap();
    install(&env, "/bin/bash", &[]);
    let path = format!("{}:/usr/bin:/bin", env.swop_home.join("bin").display());
    // bash, without bash-completion: the rc block loads it.
    let out = env
        .command("/bin/bash")
        .args(["-i", "-c", "complete -p swop"])
        .env("PATH", &path)
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "complete -F _swop swop",
        "{}",
        out.stderr
    );
    // bash-completion finds it in its user dir by itself.
    let loader = "/usr/share/bash-completion/bash_completion";
    if Path::new(loader).exists() {
        let out = env
            .command("/bin/bash")
            .args([
                "--norc",
                "-c",
                &format!(". {loader}; __load_completion swop && complete -p swop"),
            ])
            .env("PATH", &path)
            .ok();
        assert_eq!(
            out.stdout.trim(),
            "complete -F _swop swop",
            "{}",
            out.stderr
        );
    } else if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but bash-completion is not installed");
    }
    if Path::new("/usr/bin/zsh").exists() || Path::new("/bin/zsh").exists() {
        let out = env
            .command("/usr/bin/zsh")
            .args(["-i", "-c", "print -r -- ${_comps[swop]}"])
            .env("PATH", &path)
            .env("ZDOTDIR", &env.home)
            .ok();
        assert_eq!(out.stdout.trim(), "_swop", "{}", out.stderr);
    }
    if Path::new("/usr/bin/fish").exists() {
        let out = env
            .command("/usr/bin/fish")
            .args(["-c", "complete -C 'swop simulate --workload '"])
            .env("PATH", &path)
            .ok();
        assert!(out.stdout.contains("weekday-bursts"), "{}", out.stderr);
    }
}

// ---- 11: did you mean ----

#[test]
fn a_mistyped_account_name_gets_the_nearest_one() {
    let env = TestEnv::new();
    let names = ["work", "home", "spare", "team-a", "team-b", "old", "client"];
    add_named(&env, &names);
    let out = env.swop().args(["disable", "wrok"]).code(4);
    assert!(
        out.stderr.contains("help: did you mean 'work'?"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("spare"),
        "not every name: {}",
        out.stderr
    );
    let out = env.codex().arg("exec").env("SWOP_ACCOUNT", "wrok").code(4);
    assert!(
        out.stderr
            .contains("SWOP_ACCOUNT=wrok: no account named 'wrok'")
            && out.stderr.contains("did you mean 'work'?"),
        "{}",
        out.stderr
    );
    // Nothing near: no guess, and with this many names no list either.
    let out = env.swop().args(["enable", "zzzzzz"]).code(4);
    assert!(!out.stderr.contains("did you mean"), "{}", out.stderr);
    assert!(out.stderr.contains("swop list"), "{}", out.stderr);
}

#[test]
fn a_mistyped_config_key_gets_the_nearest_one() {
    let env = TestEnv::new();
    write_config(&env, "[usage]\ncahce_ttl = \"5m\"\n");
    let out = env.swop().arg("list").code(3);
    assert!(
        out.stderr
            .contains("help: did you mean 'cache_ttl' (not 'cahce_ttl')?"),
        "{}",
        out.stderr
    );
}

// ---- 12: --for ----

#[test]
fn for_durations_have_bounds_and_swops_words() {
    let env = TestEnv::new();
    add(&env, "work", &Identity::named("work"));
    for (value, why) in [
        ("0s", "shorter than a minute"),
        ("99999days", "longer than 365 days"),
        ("2x", "not a duration (units: m, h, days, weeks)"),
    ] {
        let out = env.swop().args(["disable", "work", "--for", value]).code(2);
        assert!(
            out.stderr
                .contains(&format!("disable: invalid --for '{value}': {why}")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("from 1m to 365days"), "{}", out.stderr);
    }
    env.swop()
        .args(["disable", "work", "--for", "365days"])
        .ok();
}

// ---- 16: discovery ----

#[test]
fn version_prints_the_commit_and_build_date() {
    let env = TestEnv::new();
    let out = env.swop().arg("version").ok();
    let same = env.swop().arg("--version").ok();
    assert_eq!(out.stdout, same.stdout);
    let line = out.stdout.trim();
    let rest = line
        .strip_prefix(&format!("swop {} (commit ", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|| panic!("{line}"));
    let (commit, date) = rest.split_once(", built ").unwrap();
    let date = date.strip_suffix(')').unwrap();
    assert!(
        date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
        "{line}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(Some(commit.to_string()), head.or(Some("unknown".into())));
}

#[test]
fn the_man_page_renders_and_names_every_command() {
    let env = TestEnv::new();
    let page = env.swop().args(["help", "--man"]).ok().stdout;
    assert!(page.starts_with(".TH SWOP 1 "), "{page}");
    let path = env.root.join("swop.1");
    fs::write(&path, &page).unwrap();
    if !Path::new("/usr/bin/man").exists() {
        eprintln!("SKIPPED: rendering the man page: man is not installed (the roff is checked)");
        return;
    }
    let out = env
        .command("/usr/bin/man")
        .args(["--warnings", "-l"])
        .arg(&path)
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .ok();
    assert!(
        out.stderr.trim().is_empty(),
        "roff warnings: {}",
        out.stderr
    );
    let text = out.stdout;
    assert!(text.contains("SWOP(1)"), "{text}");
    for section in ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXIT STATUS"] {
        assert!(text.contains(&format!("\n{section}\n")), "{section}");
    }
    let help = env.swop().arg("--help").ok().stdout;
    let names: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() > 10, "{help}");
    for name in names {
        let usage = env.swop().args(["help", name]).ok().stdout;
        let usage = usage.lines().next().unwrap().trim_start_matches("Usage: ");
        assert!(text.contains(usage), "the man page lacks `{usage}`");
    }
}

#[test]
fn help_lists_commands_in_a_sensible_order() {
    let env = TestEnv::new();
    let help = env.swop().arg("--help").ok().stdout;
    let names: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let at = |n: &str| {
        names
            .iter()
            .position(|x| *x == n)
            .unwrap_or_else(|| panic!("{n}: {names:?}"))
    };
    assert_eq!(at("enable"), at("disable") + 1, "{names:?}");
    assert!(
        at("pick") < at("simulate") && at("status") < at("pick"),
        "{names:?}"
    );
    assert!(
        at("add") < at("relogin") && at("relogin") < at("logout"),
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"help"), "{names:?}");
}

/// The config example of `swop help help`, run as written, writes where
/// SWOP_HOME says.
#[test]
fn the_help_config_example_honours_swop_home() {
    let env = TestEnv::new();
    let home = env.root.join("elsewhere");
    fs::create_dir_all(&home).unwrap();
    let help = env.swop().args(["help", "help"]).ok().stdout;
    let example = help
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("swop help config >"))
        .unwrap_or_else(|| panic!("{help}"));
    let example = example.split("  ").next().unwrap();
    let bin = crate::support::swop_bin();
    env.command("/bin/sh")
        .args(["-c", example])
        .env("SWOP_HOME", &home)
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", bin.parent().unwrap().display()),
        )
        .ok();
    let written = fs::read_to_string(home.join("swop.toml")).unwrap();
    assert_eq!(written, env.swop().args(["help", "config"]).ok().stdout);
}

// ---- 17: install.sh with a cargo that does not work ----

#[test]
fn install_says_what_to_do_when_cargo_does_not_run() {
    let env = TestEnv::new();
    let fake = env.root.join("rustup-bin");
    fs::create_dir_all(&fake).unwrap();
    let log = env.root.join("cargo.log");
    // rustup's proxy with no default toolchain.
    let cargo = format!(
        "#!/bin/sh\necho \"$*\" >> '{}'\n\
         echo 'error: rustup could not choose a version of cargo to run, because one wasn'\\''t specified explicitly, and no default is configured.' >&2\n\
         echo \"help: run 'rustup default stable' to download the latest stable release of Rust and set it as your default toolchain.\" >&2\n\
         exit 1\n",
        log.display()
    );
    for (name, text) in [("cargo", cargo.as_str()), ("rustup", "#!/bin/sh\nexit 1\n")] {
        let p = fake.join(name);
        fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = env
        .command("/bin/sh")
        .arg(install_sh())
        .env("SHELL", "/bin/bash")
        .env("PATH", format!("{}:/usr/bin:/bin", fake.display()))
        .code(1);
    assert!(
        out.stderr
            .contains("install.sh: cargo is installed but does not work; it says:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("    error: rustup could not choose a version of cargo"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("help: install and select a toolchain with: rustup default stable"),
        "{}",
        out.stderr
    );
    // Asked for its version only: no build was started.
    assert_eq!(fs::read_to_string(&log).unwrap().trim(), "--version");
    assert!(!env.swop_home.join("bin/swop").exists());
}
