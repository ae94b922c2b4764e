//! No local process can stop swop. The in-turn relay under the
//! attacks of the hostile review (the chunk size that aborted swop, a
//! 1 GiB body declared on a wrong path, 1,100 idle connections), after
//! which a real codex turn still completes through it on the right account;
//! planted FIFOs and links where swop keeps its own files; and `swop
//! logout` killed at any point. Each of these failed on the code before.

use crate::in_turn::{await_relay_base, rig, session_ids};
use crate::support::world::{add, announced, world};
use crate::support::{access_token_of, http_request, Identity, TestEnv};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// /proc readers for the process under attack

/// A `kB` field of /proc/PID/status (VmHWM, VmRSS) in bytes, or a count
/// (Threads).
fn status_field(pid: u32, key: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"));
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next().unwrap().parse().unwrap();
    if parts.next() == Some("kB") {
        n * 1024
    } else {
        n
    }
}

fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> u64 {
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as u64
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|s| {
                s.lines().any(|l| {
                    l.split_whitespace().collect::<Vec<_>>() == ["PPid:", &pid.to_string()]
                })
            })
        })
        .collect()
}

/// The relay URL on the command line of a child of `pid`, once it is there.
fn relay_url_of_child(pid: u32) -> String {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        for child in children(pid) {
            let Ok(cmdline) = fs::read(format!("/proc/{child}/cmdline")) else {
                continue;
            };
            for arg in cmdline.split(|b| *b == 0) {
                let arg = String::from_utf8_lossy(arg);
                if let Some(url) = arg.strip_prefix("openai_base_url=\"") {
                    return url.trim_end_matches('"').to_string();
                }
            }
        }
        assert!(Instant::now() < end, "codex never started under swop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (port, secret) of `http://127.0.0.1:PORT/SECRET`.
fn split_relay(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let (port, secret) = rest.split_once('/').unwrap();
    (port.parse().unwrap(), secret.to_string())
}

/// Sets the soft RLIMIT_NOFILE of `pid` (0: this process).
fn set_nofile(pid: u32, soft: u64) {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        assert_eq!(
            libc::prlimit(
                pid as libc::pid_t,
                libc::RLIMIT_NOFILE,
                std::ptr::null(),
                &mut old
            ),
            0
        );
    }
    let new = libc::rlimit {
        rlim_cur: soft.min(old.rlim_max),
        rlim_max: old.rlim_max,
    };
    unsafe {
        assert_eq!(
            libc::prlimit(
                pid as libc::pid_t,
                libc::RLIMIT_NOFILE,
                &new,
                std::ptr::null_mut()
            ),
            0,
            "prlimit {pid}"
        );
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends `raw` and reads what comes back until the relay closes.
fn exchange(port: u16, raw: &[u8]) -> String {
    let mut s = connect(port);
    let _ = s.write_all(raw);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    String::from_utf8_lossy(&got).to_string()
}

// ---------------------------------------------------------------------------
// The attacks, on a live relay

/// Defect 1 (with and without the secret), the 1 GiB body on a wrong path,
/// and `idle` connections held open; returns them (still open on our side).
fn attack(port: u16, secret: &str, idle: usize) -> Vec<TcpStream> {
    let chunked = |path: &str| {
        format!("POST {path} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\nffffffffffffffff\r\n")
    };
    let got = exchange(port, chunked("/nosecret").as_bytes());
    assert!(got.starts_with("HTTP/1.1 404"), "{got}");
    let got = exchange(port, chunked(&format!("/{secret}/responses")).as_bytes());
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");

    // A 1 GiB body declared on a wrong path: refused at the request line,
    // the connection closed before the body is read.
    let mut s = connect(port);
    s.write_all(b"POST /nosecret/responses HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n")
        .unwrap();
    let block = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    while sent < 1 << 30 {
        match s.write(&block) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "the relay took {sent} bytes of a body on a wrong path"
    );

    let mut held = Vec::with_capacity(idle);
    for _ in 0..idle {
        held.push(TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    held
}

/// How many of `conns` the relay has closed (EOF or reset, at once).
fn closed_by_relay(conns: &[TcpStream]) -> usize {
    conns
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).unwrap();
            match (&mut &**c).read(&mut [0u8; 1]) {
                Ok(0) => true,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                Ok(_) => false,
            }
        })
        .count()
}

/// The bound on swop's peak RSS (VmHWM) through the attacks; measured:
/// about 12 MiB for the debug build, most of it before the first byte.
const RSS_BOUND: u64 = 64 << 20;

#[test]
fn a_real_turn_completes_through_a_relay_that_was_attacked() {
    let Some(rig) = rig(true, None) else { return };
    rig.warm_cache();
    // codex exec waits for EOF on a piped stdin before its turn: the relay
    // is up, and codex idle, while the attacks run.
    let mut run = rig
        .codex()
        .args(["exec", "--skip-git-repo-check", "task"])
        .stdin_held()
        .spawn();
    let swop = run.pid();
    let (port, secret) = split_relay(&relay_url_of_child(swop));
    // As in the review: swop under `ulimit -n 1024`.
    set_nofile(swop, 1024);
    let threads_before = status_field(swop, "Threads");
    let held = attack(port, &secret, 1_100);
    std::thread::sleep(Duration::from_millis(500));
    let threads = status_field(swop, "Threads");
    let fds = open_fds(swop);
    // Idle connections without the secret cannot pile up: the oldest are
    // pushed out, 64 at most wait.
    assert!(
        threads <= threads_before + 64 + 2,
        "{threads} threads (were {threads_before})"
    );
    assert!(fds <= 64 + 40, "{fds} descriptors open in swop");
    let closed = closed_by_relay(&held);
    assert!(
        (1_100 - 64..1_100).contains(&closed),
        "{closed} of 1100 idle connections closed; the newest 64 wait"
    );
    // And swop does not spin (accept in a hot loop took 66% of a core).
    let t0 = cpu_ticks(swop);
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(swop) - t0;
    assert!(
        spent * 4 < ticks_per_second(),
        "swop used {spent} ticks of CPU in a second of idle connections"
    );
    let hwm = status_field(swop, "VmHWM");
    assert!(hwm < RSS_BOUND, "swop's peak RSS {hwm} bytes");
    drop(held);

    // The real turn: work is at its limit, so it fails over to personal.
    drop(run.child.stdin.take());
    let out = run.wait_output(Duration::from_secs(90));
    assert_eq!(out.stdout.trim(), "hello", "{}", out.stderr);
    assert_eq!(session_ids(&out.stderr).len(), 1, "{}", out.stderr);
    let tokens: Vec<String> = rig.turns().into_iter().map(|(_, t)| t).collect();
    assert_eq!(
        tokens,
        vec![rig.token("work"), rig.token("personal")],
        "the turn went out on work, then on personal"
    );
    eprintln!(
        "under attack: {threads} threads (before {threads_before}), {fds} fds, \
         {closed}/1100 idle connections closed, {spent} CPU ticks idle, VmHWM {} KiB",
        hwm / 1024
    );
}

/// The lowest descriptor number `pid` does not use, once its descriptors
/// have stayed the same for three looks in a row (a limit one above it
/// leaves swop exactly one to spare: the limit bounds numbers, not counts).
fn lowest_free_fd(pid: u32) -> u64 {
    let numbers = || -> Vec<u64> {
        let mut v: Vec<u64> = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    };
    let end = Instant::now() + Duration::from_secs(10);
    let (mut last, mut same) = (numbers(), 0);
    while same < 2 {
        assert!(Instant::now() < end, "swop's descriptors never settled");
        std::thread::sleep(Duration::from_millis(100));
        let now = numbers();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    (0..).find(|n| !last.contains(n)).unwrap()
}

/// True when the relay let `c` go within `within` (EOF or a reset); false
/// when it is still open.
fn pushed_out(c: &mut TcpStream, within: Duration) -> bool {
    c.set_read_timeout(Some(within)).unwrap();
    match c.read(&mut [0u8; 64]) {
        Ok(0) => true,
        Ok(n) => panic!("the relay sent {n} bytes to a connection that was not answered"),
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// With exactly one descriptor to spare, `accept` fails with EMFILE as soon
/// as one connection holds it. When that connection's request is arriving,
/// swop backs off (no spinning, and never by closing it), answers it, then
/// pushes the silent connections queued behind it out one by one; every
/// request that comes after takes the spare descriptor and is answered (on
/// the code before, the failing `accept` shut each one down as soon as it
/// was accepted); with descriptors back, codex is served again.
#[test]
fn accept_failures_back_off_and_the_relay_recovers() {
    let (env, _backend) = crate::support::world::World::new(&[("work", 10.0)])
        .extra("[failover]\nin_turn = true\n")
        .config_first()
        .build();
    let run = env
        .codex()
        .args(["exec", "hi"])
        .env("FAKE_SLEEP", "60")
        .spawn();
    let swop = run.pid();
    let base = await_relay_base(&env);
    let (port, secret) = split_relay(&base);
    set_nofile(swop, lowest_free_fd(swop) + 1);
    // The relay's pending `accept` may have taken its descriptor number
    // before the limit was lowered; one request makes it take the next one
    // under the limit.
    let got = exchange(port, b"GET /nosecret HTTP/1.1\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 404"), "{got:?}");

    // A request under way takes the spare descriptor; 20 silent
    // connections queue behind it (within the listen backlog, so none
    // waits for its SYN to be sent again; each takes swop about 150 ms to
    // let go of, as it must first have had time to speak).
    let mut begun = connect(port);
    begun.write_all(b"GET /nosecret").unwrap();
    let mut silent: Vec<TcpStream> = (0..20).map(|_| connect(port)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = cpu_ticks(swop);
    std::thread::sleep(Duration::from_secs(1));
    let spent = cpu_ticks(swop) - t0;
    assert!(
        spent * 4 < ticks_per_second(),
        "swop used {spent} ticks of CPU in a second"
    );
    assert!(
        !pushed_out(&mut begun, Duration::from_millis(200)),
        "the connection whose request was arriving was closed to make room"
    );
    begun.write_all(b" HTTP/1.1\r\n\r\n").unwrap();
    begun
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut got = String::new();
    let _ = begun.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 404"), "answered: {got:?}");
    drop(begun);

    // The silent ones are pushed out, each once the spare is free.
    let drained = Instant::now() + Duration::from_secs(60);
    for (i, c) in silent.iter_mut().enumerate() {
        let left = drained.saturating_duration_since(Instant::now());
        assert!(
            pushed_out(c, left.max(Duration::from_millis(1))),
            "silent connection {i} of 20 still held after 60 s"
        );
    }
    drop(silent);
    // Every request now takes the one spare descriptor, and is answered.
    for n in 0..10 {
        let got = exchange(port, b"GET /nosecret HTTP/1.1\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 404"), "request {n}: {got:?}");
    }

    set_nofile(swop, 1024);
    let token =
        access_token_of(&fs::read_to_string(env.account_home("work").join("auth.json")).unwrap());
    let bearer = format!("Bearer {token}");
    let ok = http_request(
        "POST",
        &format!("http://127.0.0.1:{port}/{secret}/responses"),
        &[
            ("Authorization", &bearer),
            ("ChatGPT-Account-Id", "acct-work"),
        ],
        b"{}",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    run.signal(libc::SIGTERM);
    run.finish();
}

// ---------------------------------------------------------------------------
// swop's own files: a FIFO or a link where swop keeps a file of its own

/// What can be planted in place of one of swop's files.
#[derive(Clone, Copy, Debug)]
enum Plant {
    /// A FIFO nobody writes to: a plain open blocks for ever.
    Fifo,
    /// A link to /dev/zero: a plain read never ends.
    Zero,
}

fn plant(path: &Path, how: Plant) {
    let _ = fs::remove_file(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    match how {
        Plant::Fifo => {
            let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }
        Plant::Zero => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
    }
}

const BOUND: Duration = Duration::from_secs(30);

/// A FIFO or a link to /dev/zero at cache/NAME.json or disabled.json: a
/// launch and `swop status` finish (a plain read would block or never
/// end), and the planted thing is never followed.
#[test]
fn planted_fifos_and_links_never_hang_a_launch_or_status() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 40.0)], "cache_ttl = \"1h\"\n");
    let home = &env.swop_home;
    for place in ["cache/a.json", "disabled.json"] {
        for how in [Plant::Fifo, Plant::Zero] {
            let path = home.join(place);
            plant(&path, how);
            let what = format!("{how:?} at {place}");
            let out = env.codex().args(["exec", "x"]).timeout(BOUND).run();
            assert!(!out.timed_out, "{what}: the launch hung");
            assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
            if place == "disabled.json" {
                // Unreadable, it disables nothing.
                let got = announced(&out.stderr);
                assert_eq!(got.as_deref(), Some("a"), "{what}: {}", out.stderr);
            }
            let out = env.swop().args(["status", "--json"]).timeout(BOUND).run();
            assert!(!out.timed_out, "{what}: status hung");
            assert_eq!(out.code, Some(0), "{what}: {}", out.stderr);
            if place == "disabled.json" {
                assert!(
                    out.stderr.contains("no account counts as disabled"),
                    "{what}: {}",
                    out.stderr
                );
                let out = env.swop().args(["disable", "b"]).timeout(BOUND).code(8);
                assert!(out.stderr.contains("rm '"), "{what}: {}", out.stderr);
                fs::remove_file(&path).unwrap();
            } else {
                let kind = fs::symlink_metadata(&path).unwrap().file_type();
                assert!(
                    kind.is_file(),
                    "{what}: status rebuilt the entry in its place"
                );
            }
        }
    }
}

/// A FIFO or a link to /dev/zero where an account's auth.json should be:
/// its usage is not fetched (one warning), a launch on another account
/// and `swop status` finish, and forcing that account is refused (exit 8).
#[test]
fn a_planted_auth_json_never_hangs_and_is_refused() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 40.0)], "cache_ttl = \"0s\"\n");
    let auth = env.account_home("b").join("auth.json");
    for how in [Plant::Fifo, Plant::Zero] {
        plant(&auth, how);
        let out = env.codex().args(["exec", "x"]).timeout(BOUND).run();
        assert!(!out.timed_out, "{how:?}: the launch hung");
        assert_eq!(
            announced(&out.stderr).as_deref(),
            Some("a"),
            "{how:?}: {}",
            out.stderr
        );
        let out = env.swop().args(["status", "--json"]).timeout(BOUND).run();
        assert!(!out.timed_out, "{how:?}: status hung");
        let out = env
            .codex()
            .args(["exec", "x"])
            .env("SWOP_ACCOUNT", "b")
            .timeout(BOUND)
            .code(8);
        assert!(out.stderr.contains("auth.json"), "{how:?}: {}", out.stderr);
    }
}

/// A link at disabled.json, swop.toml or cache/NAME.json to a file that
/// would change the pick is not followed.
#[test]
fn links_where_swop_keeps_its_files_are_never_followed() {
    let (env, _backend) = world(&[("a", 10.0), ("b", 40.0)], "cache_ttl = \"1h\"\n");
    let home = &env.swop_home;
    // Disables a, the best account: followed, the launch would pick b.
    let list = env.root.join("list.json");
    fs::write(&list, r#"{"accounts":{"a":null}}"#).unwrap();
    std::os::unix::fs::symlink(&list, home.join("disabled.json")).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("a"),
        "{}",
        out.stderr
    );
    let out = env.swop().args(["enable", "a"]).code(8);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(&list).unwrap(),
        r#"{"accounts":{"a":null}}"#
    );
    fs::remove_file(home.join("disabled.json")).unwrap();

    // A cache entry elsewhere saying b is nearly unused: followed, the
    // launch would pick b. Not followed, b's numbers are unknown for this
    // launch and the fresh a is picked; `status` then replaces the link.
    let now = crate::support::now_unix();
    let entry = serde_json::json!({"fetched_at": now, "attempted_ms": now * 1000,
        "usage": {"plan": "plus", "allowed": true, "limit_reached": false,
          "five_hour": {"used_percent": 1.0, "window_seconds": 18000, "reset_at": now + 3600},
          "weekly": {"used_percent": 1.0, "window_seconds": 604800, "reset_at": now + 86400}}});
    let cached = env.root.join("cached.json");
    fs::write(&cached, entry.to_string()).unwrap();
    env.swop().args(["status", "--json"]).ok();
    fs::remove_file(home.join("cache/b.json")).unwrap();
    std::os::unix::fs::symlink(&cached, home.join("cache/b.json")).unwrap();
    let out = env.codex().args(["exec", "x"]).ok();
    assert_eq!(
        announced(&out.stderr).as_deref(),
        Some("a"),
        "{}",
        out.stderr
    );
    env.swop().args(["status", "--json"]).ok();
    assert!(
        fs::symlink_metadata(home.join("cache/b.json"))
            .unwrap()
            .is_file(),
        "the link was replaced by a fresh entry, not written through"
    );
    assert_eq!(fs::read_to_string(&cached).unwrap(), entry.to_string());

    // swop.toml: a link or a FIFO is refused (exit 8) within the bound,
    // and `codex --version` still works.
    let config = home.join("swop.toml");
    let text = fs::read_to_string(&config).unwrap();
    let elsewhere = env.root.join("swop.toml");
    fs::write(&elsewhere, &text).unwrap();
    fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &config).unwrap();
    let out = env.codex().args(["exec", "x"]).timeout(BOUND).code(8);
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cp --remove-destination"),
        "{}",
        out.stderr
    );
    plant(&config, Plant::Fifo);
    let out = env.swop().arg("status").timeout(BOUND).code(8);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    let out = env.codex().arg("--version").timeout(BOUND).ok();
    assert!(out.stdout.contains("codex-cli"), "{}", out.stdout);
    assert!(env
        .fake_log()
        .iter()
        .all(|c| c.subcommand() != Some("exec") || c.codex_home.is_some()));
}

// ---------------------------------------------------------------------------
// logout killed at any point

fn listed(env: &TestEnv) -> Vec<String> {
    let out = env.swop().args(["list", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

/// Hidden dirs a logout of `name` set aside.
fn set_aside(env: &TestEnv, name: &str) -> Vec<std::path::PathBuf> {
    fs::read_dir(env.swop_home.join("accounts"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n.starts_with(".logout-") && n.ends_with(&format!("-{name}"))
        })
        .collect()
}

/// Waits until the fake codex logged a `logout` (it then hangs).
fn wait_for_logout_call(env: &TestEnv) {
    let end = Instant::now() + Duration::from_secs(20);
    while !env
        .fake_log()
        .iter()
        .any(|c| c.subcommand() == Some("logout"))
    {
        assert!(Instant::now() < end, "codex logout never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Defect 4: `swop logout` killed (kill -9) while codex logout runs (before
/// or after it deleted the login) or at a random moment leaves the account
/// as it was (listed, its auth.json byte for byte) or gone from the list;
/// never listed without its login. A second `swop logout` finishes the
/// job: the login set aside is revoked (codex logout runs in it) and
/// deleted.
#[test]
fn a_logout_killed_at_any_point_leaves_the_account_whole_or_gone() {
    let (env, _backend) = world(&[("keep", 10.0)], "");
    let (mut whole, mut gone, mut finished) = (0, 0, 0);
    for i in 0..18 {
        let name = format!("v{i}");
        add(&env, &name, &Identity::named(&name));
        let auth_path = env.account_home(&name).join("auth.json");
        let login = fs::read(&auth_path).unwrap();
        let _ = fs::remove_file(env.root.join("fake-codex.log"));
        let mut c = env.swop();
        c.args(["logout", &name]);
        match i % 3 {
            0 => c.env("FAKE_LOGOUT_HANG", "1"),
            1 => c.env("FAKE_LOGOUT_HANG_AFTER", "1"),
            _ => &mut c,
        };
        let r = c.spawn();
        if i % 3 == 2 {
            std::thread::sleep(Duration::from_millis((i as u64 * 7) % 50));
        } else {
            wait_for_logout_call(&env);
        }
        r.signal(libc::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
        r.signal_group(libc::SIGKILL);
        r.wait_output(Duration::from_secs(10));
        for n in listed(&env) {
            let home = env.account_home(&n);
            assert!(
                home.join("auth.json").is_file(),
                "{n} listed without its login"
            );
        }
        let aside = set_aside(&env, &name);
        if listed(&env).contains(&name) {
            whole += 1;
            assert_eq!(
                fs::read(&auth_path).unwrap(),
                login,
                "{name}: its login changed"
            );
            assert!(aside.is_empty(), "{name}: {aside:?}");
            env.swop().args(["logout", &name]).ok();
        } else if aside.is_empty() {
            gone += 1;
            env.swop().args(["logout", &name]).code(4);
        } else {
            gone += 1;
            finished += 1;
            let out = env.swop().args(["logout", &name]).ok();
            assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
            let revoked_there = env.fake_log().iter().any(|c| {
                c.subcommand() == Some("logout")
                    && c.codex_home.as_deref() == Some(aside[0].to_str().unwrap())
            });
            assert!(revoked_there, "{name}: not revoked from {aside:?}");
        }
        assert!(set_aside(&env, &name).is_empty(), "{name}: left aside");
        assert!(!listed(&env).contains(&name), "{name}: still listed");
    }
    assert!(
        finished >= 12,
        "the hung logouts were all finished by a second one ({finished})"
    );
    eprintln!(
        "logout killed: {whole} left whole, {gone} gone ({finished} finished by a second logout)"
    );
}
