//! Crash safety: `swop add` and `swop logout` killed with SIGKILL at random
//! points never leave a half-made account behind: every account listed
//! afterwards is complete. A user's Ctrl-C or a dying terminal must never
//! cost a login.

use super::{auth_file, cache_files_parse, hidden_entries, json_of, listed};
use crate::support::fixtures::random_bytes;
use crate::support::world::{add, world};
use crate::support::{Identity, TestEnv};
use serde_json::Value;
use std::fs;
use std::time::{Duration, Instant};

/// A random duration in `0..max_ms` milliseconds.
fn random_ms(max_ms: u64) -> Duration {
    let b = random_bytes(8);
    let n = u64::from_le_bytes(b.try_into().unwrap());
    Duration::from_millis(n % max_ms.max(1))
}

/// Every listed account is complete: auth.json and swop-account.json parse.
fn assert_listed_accounts_complete(env: &TestEnv, context: &str) -> Vec<String> {
    let names = listed(env);
    for n in &names {
        let home = env.account_home(n);
        let meta = fs::read(home.join("swop-account.json"))
            .unwrap_or_else(|e| panic!("{context}: {n} listed without its record: {e}"));
        serde_json::from_slice::<Value>(&meta)
            .unwrap_or_else(|e| panic!("{context}: {n} record torn: {e}"));
    }
    names
}

#[test]
fn kill_9_at_random_points_never_leaves_a_half_made_account() {
    let t = Instant::now();
    let (env, backend) = world(&[("base", 10.0)], "cache_ttl = 0\ntimeout = \"1s\"\n");
    let mut kills = 0;
    let mut completed = 0;
    // Adds: killed during the login (hung) or anywhere in the add.
    for i in 0..20 {
        let name = format!("k{i}");
        let fixture = env.write_auth_fixture(&name, &Identity::named(&name));
        let mut c = env.swop();
        c.args(["add", &name]).env("FAKE_CODEX_AUTH", &fixture);
        let hang = i % 2 == 0;
        if hang {
            c.env("FAKE_LOGIN_HANG", "1");
        }
        let r = c.spawn();
        std::thread::sleep(random_ms(if hang { 200 } else { 40 }));
        // kill -9 swop itself; its codex child is reaped a moment later.
        r.signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        r.signal_group(libc::SIGKILL);
        let out = r.wait_output(Duration::from_secs(10));
        if out.signal == Some(libc::SIGKILL) {
            kills += 1;
        } else {
            completed += 1;
        }
        let names = assert_listed_accounts_complete(&env, &format!("after add {name}"));
        for n in &names {
            assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
        }
    }
    // Logouts: killed during `codex logout` (hung) or during the delete.
    let mut set_aside = Vec::new();
    for i in 0..15 {
        let name = format!("v{i}");
        add(&env, &name, &Identity::named(&name));
        let mut c = env.swop();
        c.args(["logout", &name]);
        let hang = i % 3 == 0;
        if hang {
            c.env("FAKE_LOGOUT_HANG", "1");
        }
        let r = c.spawn();
        std::thread::sleep(random_ms(if hang { 200 } else { 30 }));
        r.signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        r.signal_group(libc::SIGKILL);
        let out = r.wait_output(Duration::from_secs(10));
        if out.signal == Some(libc::SIGKILL) {
            kills += 1;
        } else {
            completed += 1;
        }
        let names = assert_listed_accounts_complete(&env, &format!("after logout {name}"));
        // Listed means whole: the sandbox leaves the list before its login
        // is touched (SECURITY.md, promise 19).
        if names.contains(&name) {
            assert!(
                auth_file(&env, &name).is_file(),
                "{name} listed without auth.json"
            );
        } else if hidden_entries(&env, ".logout-")
            .iter()
            .any(|h| h.ends_with(&format!("-{name}")))
        {
            // Killed between the rename and the end: the next logout
            // finishes the job.
            set_aside.push(name.clone());
        }
    }
    // Cache writes: concurrent picks with a stale cache, some killed.
    backend.set_usage_delay(Duration::from_millis(20));
    for _ in 0..3 {
        let running: Vec<_> = (0..8)
            .map(|_| env.swop().args(["pick", "--json"]).spawn())
            .collect();
        for (j, r) in running.into_iter().enumerate() {
            if j % 2 == 0 {
                std::thread::sleep(random_ms(60));
                r.signal(libc::SIGKILL);
            }
            let out = r.wait_output(Duration::from_secs(30));
            match out.signal {
                Some(libc::SIGKILL) => kills += 1,
                _ => {
                    assert!(out.success(), "{}", out.stderr);
                    json_of(&out, "pick");
                    completed += 1;
                }
            }
        }
        cache_files_parse(&env);
    }
    // Everything still works.
    for n in &set_aside {
        env.swop().args(["logout", n]).ok();
    }
    let names = assert_listed_accounts_complete(&env, "at the end");
    for n in &names {
        assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
    }
    env.swop().arg("list").ok();
    env.swop().arg("status").ok();
    add(&env, "survivor", &Identity::named("survivor"));
    assert!(listed(&env).contains(&"survivor".to_string()));
    // The add swept what the killed ones left; the second logouts finished
    // what they set aside.
    for prefix in [".add-", ".trash-", ".retire-", ".logout-"] {
        assert!(
            hidden_entries(&env, prefix).is_empty(),
            "{prefix}* left: {:?}",
            hidden_entries(&env, prefix)
        );
    }
    let (files, tmp) = cache_files_parse(&env);
    eprintln!(
        "kill -9: {kills} killed, {completed} finished, {} set-aside logins finished by a \
         second logout, {} accounts listed and complete, {files} cache files parse, \
         {tmp} temp files left in cache/, {:?}",
        set_aside.len(),
        names.len() + 1,
        t.elapsed()
    );
    // The 15 hung ones are always killed; most of the others too.
    assert!(
        kills >= 15,
        "too few kills landed ({kills}) to mean anything"
    );
}
