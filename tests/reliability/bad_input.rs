//! Bad input on the command line: account names that could escape a
//! directory are refused by every command, unknown commands and flags exit
//! 2 pointing to help, and `--json` stays valid JSON on error paths.

use super::{closed_port, json_of, listed, ran_in, snapshot};
use crate::support::world::{add_named, world, write_config};
use crate::support::{usage_json, Fault, TestEnv};
use serde_json::Value;
use std::fs;

#[test]
fn bad_account_names_are_refused_by_every_command() {
    let env = TestEnv::new();
    add_named(&env, &["keep"]);
    // Never the real usage server: a closed port.
    write_config(
        &env,
        &format!(
            "[usage]\nbase_url = \"http://127.0.0.1:{}/backend-api\"\ntimeout = \"1s\"\n",
            closed_port()
        ),
    );
    let before = snapshot(&env.swop_home);
    let long = "x".repeat(300);
    let bad = [
        "a/b",
        "..",
        ".",
        "../keep",
        "keep/..",
        "-rf",
        "has space",
        "ünïcode",
        "tab\there",
        "new\nline",
        long.as_str(),
        "",
        ".hidden",
        "/etc",
    ];
    let from = env.root.join("from");
    fs::create_dir_all(&from).unwrap();
    let mut tried = 0;
    for name in bad {
        for cmd in [
            vec!["add", name],
            vec!["import", name, "--from", from.to_str().unwrap()],
            vec!["logout", name],
            vec!["logout", "--force", name],
            vec!["relogin", name],
            vec!["status", name],
            vec!["status", "--json", name],
        ] {
            let out = env.swop().args(&cmd).run();
            tried += 1;
            assert!(
                matches!(out.code, Some(2) | Some(4)),
                "{cmd:?}: exit {:?}: {}",
                out.code,
                out.stderr
            );
            let msg = &out.stderr;
            assert!(
                msg.contains("invalid account name")
                    || msg.contains("invalid option")
                    || msg.contains("missing account NAME")
                    || msg.contains("unexpected argument")
                    || msg.contains("no account named"),
                "{cmd:?}: {msg}"
            );
            assert!(!msg.contains("panicked"), "{cmd:?}");
            if cmd.contains(&"--json") {
                let v = json_of(&out, &format!("{cmd:?}"));
                assert_eq!(v["exit_code"], out.code.unwrap(), "{v}");
            } else {
                assert!(out.stdout.is_empty(), "{cmd:?}: {}", out.stdout);
            }
        }
        // An empty SWOP_ACCOUNT means unset (as codex treats its own).
        if !name.is_empty() {
            let out = env
                .codex()
                .args(["exec", "x"])
                .env("SWOP_ACCOUNT", name)
                .run();
            tried += 1;
            assert!(
                matches!(out.code, Some(2) | Some(4)),
                "SWOP_ACCOUNT={name:?}: {}",
                out.stderr
            );
            assert!(
                ran_in(&out.stdout).is_none(),
                "SWOP_ACCOUNT={name:?}: codex ran"
            );
        }
    }
    assert!(
        env.fake_log()
            .iter()
            .all(|c| c.subcommand() == Some("login")),
        "codex ran for a bad name"
    );
    assert_eq!(
        snapshot(&env.swop_home),
        before,
        "a refused command changed SWOP_HOME"
    );
    assert_eq!(listed(&env), ["keep"]);
    eprintln!(
        "bad names: {} names, {tried} commands refused, nothing changed",
        bad.len()
    );
}

#[test]
fn unknown_commands_and_flags_exit_2_and_point_to_help() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &str)] = &[
        (&["frobnicate"], "unknown command 'frobnicate'"),
        (&["--bogus"], "--bogus"),
        (&["-x"], "-x"),
        (&["list", "--bogus"], "--bogus"),
        (&["list", "extra"], "unexpected argument 'extra'"),
        (&["status", "--json", "--nope"], "--nope"),
        (&["list", "--json", "--nope"], "--nope"),
        (&["pick", "--json", "x"], "unexpected argument 'x'"),
        (&["pick", "now"], "unexpected argument 'now'"),
        (&["add"], "missing account NAME"),
        (&["add", "a", "b"], "unexpected argument 'b'"),
        (&["logout"], "missing account NAME"),
        (&["import", "x", "--from"], "--from"),
        (&["completions", "tcsh"], "tcsh"),
        (&["completions"], "completions"),
        (&["help", "nope"], "no help for 'nope'"),
        (&["doctor", "--fix"], "--fix"),
        (&["uninstall", "--all"], "--all"),
        (&["LIST"], "unknown command 'LIST'"),
    ];
    for (args, want) in cases {
        let out = env.swop().args(args.iter().copied()).run();
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("help"),
            "{args:?}: no pointer to help: {}",
            out.stderr
        );
        if args.contains(&"--json") {
            // A --json command answers with a JSON error document.
            let v = json_of(&out, &format!("{args:?}"));
            assert_eq!(v["exit_code"], 2, "{v}");
            assert!(v["error"].as_str().unwrap().contains(want), "{v}");
        } else {
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
    }
    assert!(
        !env.swop_home.join("accounts").exists(),
        "a bad command created state"
    );
    eprintln!(
        "unknown commands/flags: {} inputs, exit 2 each",
        cases.len()
    );
}

#[test]
fn json_output_stays_valid_on_error_paths() {
    // No accounts at all.
    let env = TestEnv::new();
    let out = env.swop().args(["list", "--json"]).ok();
    assert_eq!(json_of(&out, "list"), Value::Array(vec![]));
    let out = env.swop().args(["status", "--json"]).ok();
    assert_eq!(json_of(&out, "status")["accounts"], Value::Array(vec![]));
    let out = env.swop().args(["pick", "--json"]).code(4);
    let v = json_of(&out, "pick with no accounts");
    assert_eq!(v["exit_code"], 4, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no accounts"), "{v}");
    json_of(&env.swop().args(["doctor", "--json"]).run(), "doctor");

    // Every account blocked.
    let (env, backend) = world(
        &[("a", 10.0), ("b", 20.0)],
        "cache_ttl = 0\ntimeout = \"1s\"\n",
    );
    for n in ["a", "b"] {
        let mut u = usage_json("plus", 5.0, 100.0);
        u["rate_limit"]["limit_reached"] = Value::Bool(true);
        backend.set_usage(&format!("acct-{n}"), u);
    }
    let out = env.swop().args(["pick", "--json"]).code(5);
    let v = json_of(&out, "pick blocked");
    assert_eq!(v["account"], Value::Null);
    assert_eq!(v["exit_code"], 5);
    assert_eq!(v["accounts"].as_array().unwrap().len(), 2);

    // Every session dead.
    for n in ["a", "b"] {
        backend.set_usage_fault(&format!("acct-{n}"), Fault::Status(401, "{}".into()));
    }
    let out = env
        .swop()
        .args(["pick", "--json"])
        .env("FAKE_APP_SERVER", "dead")
        .code(6);
    let v = json_of(&out, "pick dead");
    assert_eq!(v["exit_code"], 6, "{v}");

    // The usage server failing in every way.
    for fault in [
        Fault::Status(500, "{}".into()),
        Fault::NotJson,
        Fault::Hang,
        Fault::Redirect("http://127.0.0.1:1/".into()),
    ] {
        for n in ["a", "b"] {
            backend.set_usage_fault(&format!("acct-{n}"), fault.clone());
        }
        for args in [
            &["status", "--json"][..],
            &["status", "--json", "--refresh"],
            &["pick", "--json"],
            &["doctor", "--json"],
        ] {
            let out = env.swop().args(args.iter().copied()).run();
            let v = json_of(&out, &format!("{args:?} {fault:?}"));
            if args[0] == "status" {
                assert!(out.success());
                let w = v["accounts"][0]["warning"].as_str().unwrap_or("");
                assert!(!w.is_empty(), "{fault:?}: no warning in {v}");
            }
        }
    }
    // A refused connection, and a bad name argument.
    write_config(
        &env,
        &format!(
            "[usage]\nbase_url = \"http://127.0.0.1:{}/backend-api\"\ntimeout = \"1s\"\n",
            closed_port()
        ),
    );
    let out = env.swop().args(["status", "--json", "--refresh"]).ok();
    let v = json_of(&out, "status refused");
    assert!(
        v["accounts"][1]["warning"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{v}"
    );
    let out = env.swop().args(["status", "--json", "nobody"]).code(4);
    let v = json_of(&out, "status nobody");
    assert!(v["error"].as_str().unwrap().contains("nobody"), "{v}");
    // A broken swop.toml is an error document too.
    write_config(&env, "[usage\n");
    for args in [
        &["status", "--json"][..],
        &["pick", "--json"],
        &["list", "--json"],
    ] {
        let out = env.swop().args(args.iter().copied()).code(3);
        assert_eq!(json_of(&out, "bad config")["exit_code"], 3);
    }
    write_config(&env, "");
    let out = env.swop().args(["list", "--json"]).ok();
    assert_eq!(json_of(&out, "list").as_array().unwrap().len(), 2);
}
