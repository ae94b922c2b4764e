//! Many swop processes at once: 32 launches through the shim share usage
//! fetches and run where they announced, and concurrent adds and logouts
//! keep the account registry whole. Editors and shells start codex in
//! parallel, so this is the everyday case, not a corner.

use super::{auth_file, cache_files_parse, hidden_entries, listed, ran_in, USAGE};
use crate::support::world::{add, add_named, announced, world};
use crate::support::{Identity, TestEnv};
use serde_json::Value;
use std::fs;
use std::time::{Duration, Instant};

/// 32 launches at once through the shim on 3 accounts whose cache is stale,
/// with a slow usage server. Returns the usage request count.
fn thirty_two_launches(extra: &str, sleep: &str, label: &str) -> usize {
    let names = ["a", "b", "c"];
    let (env, backend) = world(&[("a", 10.0), ("b", 20.0), ("c", 30.0)], extra);
    backend.set_usage_delay(Duration::from_millis(100));
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs::read(auth_file(&env, n)).unwrap())
        .collect();
    let t = Instant::now();
    let running: Vec<_> = (0..32)
        .map(|i| {
            env.codex()
                .args(["exec", &format!("task {i}")])
                .env("FAKE_SLEEP", sleep)
                .spawn()
        })
        .collect();
    let mut ok = 0;
    let mut per_account = std::collections::BTreeMap::<String, usize>::new();
    for r in running {
        let out = r.wait_output(Duration::from_secs(120));
        assert!(out.success(), "exit {:?}: {}", out.code, out.stderr);
        let name = announced(&out.stderr).unwrap_or_else(|| panic!("{}", out.stderr));
        let home = ran_in(&out.stdout).unwrap_or_else(|| panic!("{}", out.stdout));
        assert_eq!(
            home,
            env.account_home(&name).display().to_string(),
            "announced {name}"
        );
        *per_account.entry(name).or_default() += 1;
        ok += 1;
    }
    let took = t.elapsed();
    let requests = backend.count(USAGE);
    eprintln!(
        "32 concurrent launches ({label}): {ok}/32 held, accounts used {per_account:?}, \
         usage requests {requests} (one round per launch would be {}), max in flight {}, {took:?}",
        32 * 3,
        backend.max_in_flight()
    );
    assert_eq!(ok, 32);
    for (i, n) in names.iter().enumerate() {
        assert_eq!(
            fs::read(auth_file(&env, n)).unwrap(),
            before[i],
            "auth.json of {n} changed"
        );
    }
    let (files, _) = cache_files_parse(&env);
    assert_eq!(files, 3);
    requests
}

#[test]

fn thirty_two_concurrent_launches_with_ttl_0_share_fetches() {
    let requests = thirty_two_launches("cache_ttl = \"0s\"\n", "0", "cache_ttl = \"0s\"");
    assert!(
        requests < 32 * 3 / 2,
        "{requests} usage requests for 32 launches: launches that waited for the fetch lock \
         must use the numbers fetched meanwhile"
    );
}

#[test]
fn thirty_two_concurrent_launches_run_where_announced_and_share_fetches() {
    // No cache yet, default TTL: the first launch fetches, the others wait
    // for its lock and use its numbers. (The runs last a second: a finished
    // run marks the numbers stale, which would make later launches refetch.)
    let requests = thirty_two_launches("", "1", "empty cache, cache_ttl 60s");
    assert!(
        requests < 32 * 3 / 2,
        "{requests} usage requests for 32 launches: concurrent launches must share fetches"
    );
}

/// Starts `adds` new accounts and logs out `logouts` existing ones, all at
/// once, `rounds` times; then checks that the registry matches the disk.
fn concurrent_registry_ops(adds: usize, logouts: usize, rounds: usize) -> Vec<String> {
    let env = TestEnv::new();
    let mut want: Vec<String> = Vec::new();
    for r in 0..rounds {
        let gone: Vec<String> = (0..logouts).map(|i| format!("old{r}-{i}")).collect();
        for g in &gone {
            add(&env, g, &Identity::named(g));
        }
        let fresh: Vec<String> = (0..adds).map(|i| format!("new{r}-{i}")).collect();
        let mut running = Vec::new();
        for i in 0..adds.max(logouts) {
            if let Some(n) = fresh.get(i) {
                let fixture = env.write_auth_fixture(&format!("f-{n}"), &Identity::named(n));
                running.push(
                    env.swop()
                        .args(["add", n])
                        .env("FAKE_CODEX_AUTH", &fixture)
                        .spawn(),
                );
            }
            if let Some(g) = gone.get(i) {
                running.push(env.swop().args(["logout", g]).spawn());
            }
        }
        for r in running {
            let out = r.wait_output(Duration::from_secs(60));
            assert!(out.success(), "{}\n{}", out.stdout, out.stderr);
        }
        want.extend(fresh);
        for g in &gone {
            assert!(!auth_file(&env, g).exists(), "{g} still has a login");
        }
    }
    want.sort();
    let names = listed(&env);
    assert_eq!(names, want, "list after concurrent add/logout");
    for n in &names {
        assert!(auth_file(&env, n).is_file(), "{n} listed without auth.json");
        let meta: Value = serde_json::from_slice(
            &fs::read(env.account_home(n).join("swop-account.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["identity"]["email"], format!("{n}@example.com"));
    }
    for prefix in [".add-", ".trash-", ".retire-", ".logout-"] {
        assert!(
            hidden_entries(&env, prefix).is_empty(),
            "left behind: {:?}",
            hidden_entries(&env, prefix)
        );
    }
    names
}

#[test]
fn eight_concurrent_adds_all_land_complete() {
    let names = concurrent_registry_ops(8, 0, 1);
    eprintln!("8 concurrent adds: {} listed, each complete", names.len());
}

#[test]
fn eight_concurrent_logouts_all_finish() {
    let names = concurrent_registry_ops(0, 8, 1);
    assert!(names.is_empty(), "{names:?}");
    eprintln!("8 concurrent logouts: none left listed, nothing left behind");
}

#[test]

fn concurrent_adds_and_logouts_keep_the_registry_consistent() {
    let names = concurrent_registry_ops(4, 4, 4);
    eprintln!(
        "4 rounds of 4 adds + 4 logouts at once: registry consistent ({} listed)",
        names.len()
    );
}

#[test]

fn an_add_during_a_slow_logout_leaves_that_logout_alone() {
    let env = TestEnv::new();
    add_named(&env, &["big"]);
    // A sandbox with many files (codex keeps logs there), so that deleting
    // it takes a moment.
    let log = env.account_home("big").join("log");
    fs::create_dir_all(&log).unwrap();
    for i in 0..20_000 {
        fs::write(log.join(format!("{i}.log")), b"x").unwrap();
    }
    let logout = env.swop().args(["logout", "big"]).spawn();
    let end = Instant::now() + Duration::from_secs(20);
    while hidden_entries(&env, ".logout-").is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_micros(200));
    }
    // Hold the logout mid-delete (as a slow disk or a busy machine would).
    logout.signal(libc::SIGSTOP);
    let caught = !hidden_entries(&env, ".logout-").is_empty();
    // `swop add` sweeps what crashed commands left: not a live logout's.
    let fixture = env.write_auth_fixture("other", &Identity::named("other"));
    let add = env
        .swop()
        .args(["add", "other"])
        .env("FAKE_CODEX_AUTH", &fixture)
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    logout.signal(libc::SIGCONT);
    let add = add.wait_output(Duration::from_secs(30));
    let out = logout.wait_output(Duration::from_secs(30));
    assert!(caught, "logout was not caught deleting");
    assert!(add.success(), "add failed: {}", add.stderr);
    assert!(out.success(), "logout failed: {}", out.stderr);
    assert_eq!(listed(&env), ["other"]);
    // Its links stay (sessions it started remain resumable).
    assert!(env.account_home("big").join("swop-retired").is_file());
}
