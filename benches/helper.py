#!/usr/bin/env python3
"""Helper for benches/run.sh (not part of `cargo test`).

Subcommands:

  server --port-file F [--parent PID]
      A loopback usage server on 127.0.0.1 (ThreadingHTTPServer). Answers
      GET /backend-api/wham/usage with usage JSON chosen by the
      ChatGPT-Account-Id header. Control endpoints (not counted):
        /_ctl/count            number of usage requests so far
        /_ctl/set?delay=S      delay every usage answer by S seconds
        /_ctl/set?mode=hang    never answer (until mode=ok)
        /_ctl/set?mode=ok      answer normally (releases hung requests)
      Exits when its parent (PID) goes away.

  auth --dir D NAME...
      Writes D/NAME.json: a ChatGPT-mode auth.json (JWTs with alg "none" and
      a random, non-empty signature segment) for NAME@example.com, plan plus,
      user id user-NAME, workspace acct-NAME, valid for 30 days.

  report --results D --out FILE
      Reads what run.sh measured in D and writes BENCHMARKS.md.
"""

import base64
import hashlib
import json
import os
import re
import statistics
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------------------
# usage server


class State:
    lock = threading.Lock()
    count = 0
    delay = 0.0
    mode = "ok"
    release = threading.Event()


def usage_body(account_id):
    now = int(time.time())
    h = int(hashlib.sha256(account_id.encode()).hexdigest(), 16)
    weekly = 10 + h % 70
    five = 5 + (h >> 16) % 50
    return {
        "plan_type": "plus",
        "rate_limit": {
            "allowed": True,
            "limit_reached": False,
            "primary_window": {
                "used_percent": five,
                "limit_window_seconds": 18000,
                "reset_after_seconds": 3600,
                "reset_at": now + 3600,
            },
            "secondary_window": {
                "used_percent": weekly,
                "limit_window_seconds": 604800,
                "reset_after_seconds": 300000,
                "reset_at": now + 300000,
            },
        },
        "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
        "additional_rate_limits": [],
        "rate_limit_reached_type": None,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path == "/_ctl/count":
                with State.lock:
                    return self.send_json(200, {"count": State.count})
            if url.path == "/_ctl/set":
                q = urllib.parse.parse_qs(url.query)
                with State.lock:
                    if "delay" in q:
                        State.delay = float(q["delay"][0])
                    if "mode" in q:
                        State.mode = q["mode"][0]
                        if State.mode == "hang":
                            State.release = threading.Event()
                        else:
                            State.release.set()
                    return self.send_json(
                        200, {"delay": State.delay, "mode": State.mode}
                    )
            if url.path.rstrip("/").endswith("/wham/usage"):
                with State.lock:
                    State.count += 1
                    delay, mode, release = State.delay, State.mode, State.release
                if mode == "hang":
                    release.wait()  # never answers while hanging
                    self.close_connection = True
                    return
                if delay > 0:
                    time.sleep(delay)
                account = self.headers.get("ChatGPT-Account-Id") or "unknown"
                return self.send_json(200, usage_body(account))
            return self.send_json(404, {})
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # 16 accounts connect at once: the default backlog of 5 would make the
    # kernel drop SYNs and the client retry a second later.
    request_queue_size = 256


def cmd_server(args):
    port_file = args[args.index("--port-file") + 1]
    parent = int(args[args.index("--parent") + 1]) if "--parent" in args else None
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    if parent:

        def watchdog():
            while True:
                time.sleep(0.5)
                try:
                    os.kill(parent, 0)
                except ProcessLookupError:
                    os._exit(0)

        threading.Thread(target=watchdog, daemon=True).start()
    srv.serve_forever()


# ---------------------------------------------------------------------------
# auth.json fixtures

AUTH_CLAIMS = "https://api.openai.com/auth"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims):
    header = b64(b'{"alg":"none","typ":"JWT"}')
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64(os.urandom(32))}"


def auth_json(name):
    now = int(time.time())
    exp = now + 30 * 86400
    ident = {
        "chatgpt_plan_type": "plus",
        "chatgpt_account_id": f"acct-{name}",
        "chatgpt_user_id": f"user-{name}",
        "user_id": f"user-{name}",
    }
    email = f"{name}@example.com"
    id_token = jwt(
        {
            "iss": "https://auth.openai.com",
            "aud": ["app_bench"],
            "sub": f"auth0|user-{name}",
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": exp,
            AUTH_CLAIMS: ident,
        }
    )
    access_token = jwt(
        {
            "iss": "https://auth.openai.com",
            "aud": ["https://api.openai.com/v1"],
            "sub": f"auth0|user-{name}",
            "iat": now,
            "nbf": now,
            "exp": exp,
            "https://api.openai.com/profile": {"email": email, "email_verified": True},
            AUTH_CLAIMS: ident,
        }
    )
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": id_token,
            "access_token": access_token,
            "refresh_token": "rt_" + os.urandom(20).hex(),
            "account_id": f"acct-{name}",
        },
        "last_refresh": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now)),
    }


def cmd_auth(args):
    d = args[args.index("--dir") + 1]
    names = [a for a in args if a not in ("--dir", d)]
    os.makedirs(d, mode=0o700, exist_ok=True)
    for n in names:
        p = os.path.join(d, f"{n}.json")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(auth_json(n), f, indent=2)


# ---------------------------------------------------------------------------
# report


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def hf(results, file):
    """{command name: result} from a hyperfine --export-json file."""
    data = load_json(os.path.join(results, file)) or {"results": []}
    return {r["command"]: r for r in data["results"]}


def ms(x):
    return f"{x * 1000:.1f} ms" if x < 10 else f"{x:.2f} s"


def ms2(x):
    return f"{x * 1000:.2f}"


def row(label, r):
    if r is None:
        return f"| {label} | n/a | | | |"
    return (
        f"| {label} | {ms2(r['median'])} | {ms2(r['min'])} | {ms2(r['max'])} "
        f"| {len(r['times'])} |"
    )


def rss_values(results, prefix):
    out = []
    for f in sorted(os.listdir(results)):
        if f.startswith(prefix) and f.endswith(".time"):
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", read(os.path.join(results, f)))
            if m:
                out.append(int(m.group(1)))
    return out


def trace_summary(text):
    """Processes, threads, execs and sockets in an `strace -f -o` log."""
    execs, procs, threads, sockets, connects = [], 0, 0, 0, 0
    pending = {}
    for line in text.splitlines():
        m = re.match(r"^(\d+)\s+(.*)$", line)
        pid, body = (m.group(1), m.group(2)) if m else ("", line)
        if body.startswith("<... "):
            body = pending.pop(pid, "") + body
        elif body.rstrip().endswith("<unfinished ...>"):
            pending[pid] = body
            continue
        call = re.match(r"^(\w+)\(", body)
        if not call:
            continue
        name = call.group(1)
        if name == "connect":  # non-blocking: -1 EINPROGRESS is an attempt too
            connects += 1
            continue
        ok = re.search(r"= \d+\s*$", body.rstrip()) or re.search(r"= \d+ ", body)
        failed = re.search(r"= -1 ", body)
        if failed or not ok:
            continue
        if name == "execve":
            execs.append(body[len("execve(") :].split(",")[0])
        elif name in ("clone", "clone3", "fork", "vfork"):
            if "CLONE_THREAD" in body:
                threads += 1
            else:
                procs += 1
        elif name == "socket":
            sockets += 1
    return {
        "execs": execs,
        "procs": procs,
        "threads": threads,
        "sockets": sockets,
        "connects": connects,
    }


def syscall_count(summary, name):
    """Calls of one syscall in an `strace -c` table (either column layout)."""
    for line in summary.splitlines():
        t = line.split()
        if t and t[0] == name and len(t) > 1 and t[1].isdigit():
            return int(t[1])  # -U name,calls,errors
        if t and t[-1] == name and len(t) >= 5:
            return int(t[3])  # % time, seconds, usecs/call, calls, [errors], syscall
    return 0


def split_stats(results, name):
    """Median (until start, after exit) in microseconds from startlat output."""
    rows = []
    for line in read(os.path.join(results, f"split_{name}.txt")).splitlines():
        parts = line.split()
        if len(parts) == 2:
            rows.append((int(parts[0]), int(parts[1])))
    if not rows:
        return None
    return (
        statistics.median(a for a, _ in rows),
        statistics.median(b for _, b in rows),
        statistics.median(a + b for a, b in rows),
        len(rows),
    )


def shorten(line, repo=""):
    line = re.sub(r"/rustc/[0-9a-f]+/library/", "", line)
    line = re.sub(r"\S*/\.cargo/registry/src/[^/]+/", "", line)
    line = re.sub(r"\./\S*?/([\w.-]+\.[ch]):", r"glibc \1:", line)
    line = re.sub(r"\[(\S*/)?([^/\]]+)\]$", r"[\2]", line)
    if repo:
        line = line.replace(repo.rstrip("/") + "/", "")
    return line


def callgrind_top(path, n, repo=""):
    """The first n function lines of a callgrind_annotate listing."""
    out, total = [], None
    for line in read(path).splitlines():
        if "PROGRAM TOTALS" in line:
            total = line.strip()
            continue
        if not re.match(r"^\s*[\d,]+ \(", line):
            continue
        out.append(shorten(line.rstrip(), repo))
        if len(out) >= n:
            break
    return total, out


def verdict(ok):
    return "**PASS**" if ok else "**FAIL**"


def cmd_report(args):
    res = args[args.index("--results") + 1]
    out = args[args.index("--out") + 1]
    meta = load_json(os.path.join(res, "meta.json")) or {}
    warm = hf(res, "warm.json")
    b2b = hf(res, "warm_b2b.json")
    fast = hf(res, "fast.json")
    fastn = hf(res, "fast_native.json")
    cold = hf(res, "cold.json")
    hung = hf(res, "hung.json")
    status = hf(res, "status.json")
    counts = load_json(os.path.join(res, "counts.json")) or {}
    timeout_s = float(meta.get("hung_timeout_s", 1))

    def g(d, k):
        return d.get(k)

    L = []
    w16, wd = g(warm, "shim, 16 accounts"), g(warm, "direct")
    w1 = g(warm, "shim, 1 account")
    added = (w16["median"] - wd["median"]) if w16 and wd else None
    added1 = (w1["median"] - wd["median"]) if w1 and wd else None
    c1, c16 = g(cold, "1 account"), g(cold, "16 accounts")
    cold_ratio = c16["median"] / c1["median"] if c1 and c16 else None
    h16 = g(hung, "16 accounts")
    h1 = g(hung, "1 account")
    rss = rss_values(res, "rss_warm")
    rss_direct = rss_values(res, "rss_direct")
    tr = trace_summary(read(os.path.join(res, "strace_warm.log")))
    tr_b2b = trace_summary(read(os.path.join(res, "strace_b2b.log")))
    req_fresh = counts.get("fresh_after", 0) - counts.get("fresh_before", 0)
    req_b2b = counts.get("b2b_after", 0) - counts.get("b2b_before", 0)
    n_launch = counts.get("launches", 0)
    stand_in = meta.get("stand_in", "?")
    no_extra = (
        req_fresh == 0
        and len(tr["execs"]) == 2
        and tr["procs"] == 1
        and tr["threads"] == 0
        and tr["sockets"] == 0
        and tr["connects"] == 0
    )

    targets = []
    if added is not None:
        targets.append(
            (
                f"warm path adds <= {meta.get('warm_target_ms', 2)} ms over a direct exec (16 accounts)",
                f"+{added * 1000:.2f} ms (x{w16['median'] / wd['median']:.2f})",
                added * 1000 <= float(meta.get("warm_target_ms", 2)),
            )
        )
    targets.append(
        (
            "warm path: no network request, no extra process",
            f"{req_fresh} requests in {n_launch} launches; execve {len(tr['execs'])} "
            f"(swop + stand-in), {tr['procs']} child process, {tr['threads']} threads, "
            f"{tr['sockets']} sockets",
            no_extra,
        )
    )
    if cold_ratio is not None:
        targets.append(
            (
                "cold path: 16 accounts within 1.3x of 1 account",
                f"x{cold_ratio:.2f} ({ms(c16['median'])} vs {ms(c1['median'])})",
                cold_ratio <= 1.3,
            )
        )
    if h16 is not None:
        targets.append(
            (
                f"hung backend: launch within timeout + 0.5 s = {timeout_s + 0.5:.1f} s",
                f"{ms(h16['median'])} median, {ms(h16['max'])} max (16 accounts)",
                h16["max"] <= timeout_s + 0.5,
            )
        )
    if rss:
        targets.append(
            (
                "shim peak RSS < 10 MB (warm path)",
                f"{max(rss) / 1024:.1f} MB max of {len(rss)} runs",
                max(rss) < 10 * 1024,
            )
        )

    L.append("# swop benchmarks")
    L.append("")
    L.append(
        "Generated by `benches/run.sh` (do not edit by hand: rerun it). "
        "It builds the release binary, makes an isolated world in a temp dir "
        "(HOME, SWOP_HOME, a shim dir with `codex -> target/release/swop`, accounts "
        "added with `swop add` through a fake codex that installs hand-made "
        "ChatGPT auth.json files), starts a loopback usage server, and measures "
        "with hyperfine."
    )
    L.append("")
    L.append("Reproduce:")
    L.append("")
    L.append("```sh")
    L.append("benches/run.sh   # needs cargo, hyperfine, python3, curl; uses cc, strace, /usr/bin/time, valgrind if present")
    L.append("```")
    L.append("")
    L.append("## Machine")
    L.append("")
    for k, label in [
        ("date", "date"),
        ("commit", "swop commit"),
        ("uname", "kernel"),
        ("cpu", "CPU"),
        ("nproc", "nproc"),
        ("fs", "filesystem of the temp world"),
        ("hyperfine", "hyperfine"),
        ("rustc", "rustc"),
        ("codex", "real codex"),
    ]:
        if meta.get(k):
            L.append(f"- {label}: {meta[k]}")
    L.append("")
    L.append(
        "Shared 2-core VM: expect noise of a few tenths of a millisecond on the fast "
        "paths. Every figure is the median of the runs, with min and max."
    )
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | result |")
    L.append("|---|---|---|")
    for name, measured, ok in targets:
        L.append(f"| {name} | {measured} | {verdict(ok)} |")
    L.append("")

    L.append("## Figures (milliseconds)")
    L.append("")
    L.append("| scenario | median | min | max | runs |")
    L.append("|---|---|---|---|---|")
    L.append(f"| **1. warm path** `codex exec hi`, fresh cache, stand-in `{stand_in}` | | | | |")
    L.append(row("direct: stand-in alone", wd))
    L.append(
        row(
            "floor: smallest Rust program that spawns the stand-in and waits (what any shim costs)",
            g(warm, "floor"),
        )
    )
    L.append(row("through the shim, 1 account", w1))
    L.append(row("through the shim, 16 accounts", w16))
    L.append(
        row(
            "through the shim, 16 accounts, back to back (cache not restored between runs)",
            g(b2b, "shim, 16 accounts, back to back"),
        )
    )
    L.append("| **2. fast path** `codex --version`, real codex | | | | |")
    L.append(row("direct: npm launcher (`node_modules/.bin/codex`, node)", g(fast, "direct")))
    L.append(row("through the shim, SWOP_CODEX = npm launcher", g(fast, "shim")))
    L.append(row("direct: native binary (vendor/.../codex)", g(fastn, "direct")))
    L.append(row("through the shim, SWOP_CODEX = native binary", g(fastn, "shim")))
    L.append(
        f"| **3. cold path** `swop pick`, empty cache, {meta.get('cold_delay_ms', 300)} ms per usage request | | | | |"
    )
    for n in (1, 4, 8, 16):
        key = "1 account" if n == 1 else f"{n} accounts"
        L.append(row(key, g(cold, key)))
    L.append(
        f"| **4. hung backend** `codex exec hi`, empty cache, usage server never answers, timeout {meta.get('hung_timeout', '1s')} | | | | |"
    )
    L.append(row("1 account", h1))
    L.append(row("16 accounts", h16))
    L.append("| **5. `swop status`**, 16 accounts | | | | |")
    L.append(row("warm (fresh cache)", g(status, "warm")))
    L.append(
        row(f"cold (empty cache, {meta.get('cold_delay_ms', 300)} ms per request)", g(status, "cold"))
    )
    L.append("")

    L.append("Derived:")
    L.append("")
    if added is not None:
        L.append(
            f"- warm path, 16 accounts: +{added * 1000:.2f} ms over the direct exec "
            f"(ratio x{w16['median'] / wd['median']:.2f}); 1 account: "
            f"+{added1 * 1000:.2f} ms (x{w1['median'] / wd['median']:.2f})."
        )
    wb = g(b2b, "shim, 16 accounts, back to back")
    if wb and wd:
        L.append(
            f"- back to back (a launch right after another one, within the TTL): "
            f"+{(wb['median'] - wd['median']) * 1000:.2f} ms over the direct exec, and one "
            f"usage request per launch ({req_b2b} in {n_launch}; see section 7)."
        )
    for label, d in (("npm launcher", fast), ("native binary", fastn)):
        s, dd = g(d, "shim"), g(d, "direct")
        if s and dd:
            L.append(
                f"- fast path (`--version`, {label}): +{(s['median'] - dd['median']) * 1000:.2f} ms "
                f"(x{s['median'] / dd['median']:.3f})."
            )
    if cold_ratio is not None:
        parts = []
        for n in (4, 8, 16):
            r = g(cold, f"{n} accounts")
            if r:
                parts.append(f"{n}/1 = x{r['median'] / c1['median']:.2f}")
        L.append(f"- cold path: {', '.join(parts)}.")
    if h16 is not None:
        L.append(
            f"- hung backend: {h16['median'] - timeout_s:+.3f} s over the {timeout_s:g} s timeout "
            f"(median, 16 accounts); worst run {h16['max'] - timeout_s:+.3f} s."
        )
    L.append("")

    L.append("## 6. Memory and size")
    L.append("")
    size = meta.get("binary_size")
    if size:
        L.append(f"- release binary `target/release/swop`: {int(size):,} bytes ({int(size) / 1048576:.2f} MiB)")
    if rss:
        L.append(
            f"- peak RSS of the shim on the warm path (`/usr/bin/time -v`, 16 accounts, "
            f"{len(rss)} runs): median {statistics.median(rss) / 1024:.1f} MB, "
            f"max {max(rss) / 1024:.1f} MB"
        )
    if rss_direct:
        L.append(
            f"- for comparison, the stand-in alone: {statistics.median(rss_direct) / 1024:.1f} MB"
        )
    rss_cold = rss_values(res, "rss_cold")
    if rss_cold:
        L.append(
            f"- `swop pick` on the cold path with 16 accounts (16 fetch threads, TLS stack "
            f"linked in): {max(rss_cold) / 1024:.1f} MB max of {len(rss_cold)} runs"
        )
    L.append("")

    L.append("## 7. No network, no extra process on the warm path")
    L.append("")
    L.append(
        f"- usage-server request counter around {n_launch} warm launches (cache restored "
        f"to fresh before each): {counts.get('fresh_before')} before, "
        f"{counts.get('fresh_after')} after: **{req_fresh} requests**."
    )
    L.append(
        f"- `strace -f` of one warm launch (execve, clone, clone3, fork, vfork, socket, "
        f"connect): {len(tr['execs'])} execve ({', '.join(tr['execs'])}), "
        f"{tr['procs']} process created, {tr['threads']} threads, {tr['sockets']} sockets, "
        f"{tr['connects']} connects."
    )
    L.append("")
    L.append("```")
    L.append(read(os.path.join(res, "strace_warm.log")).rstrip())
    L.append("```")
    L.append("")
    summ = read(os.path.join(res, "strace_warm_c.txt")).rstrip()
    if summ:
        L.append("`strace -c` of one warm launch, every syscall of swop itself (the stand-in not included):")
        L.append("")
        L.append("```")
        L.append(summ)
        L.append("```")
        L.append("")
    L.append("### Back to back launches")
    L.append("")
    if req_b2b > 0:
        L.append(
            "After every run swop marks the used account's cache entry `invalidated` "
            "(`cache::invalidate` after the child exits, src/launch.rs), so the next launch "
            "is not fully warm: it refetches that one account before it starts codex."
        )
    else:
        L.append("A launch right after another one finds the cache still fresh.")
    L.append("")
    L.append(
        f"- {n_launch} launches in a row without restoring the cache: "
        f"{counts.get('b2b_before')} before, {counts.get('b2b_after')} after: "
        f"**{req_b2b} requests**."
    )
    L.append(
        f"- `strace -f` of such a second launch: {len(tr_b2b['execs'])} execve, "
        f"{tr_b2b['procs']} process, {tr_b2b['threads']} threads, {tr_b2b['sockets']} "
        f"sockets, {tr_b2b['connects']} connects."
    )
    L.append("")

    # Where the warm path's time goes.
    sd, sf = split_stats(res, "direct"), split_stats(res, "floor")
    fsyncs = syscall_count(read(os.path.join(res, "strace_warm_c.txt")), "fsync")
    ss, sn = split_stats(res, "shim"), split_stats(res, "shim_nofsync")
    cg_incl = os.path.join(res, "callgrind_inclusive.txt")
    if sd and ss:
        L.append("## Where the warm path's time goes")
        L.append("")
        L.append(
            f"`benches/startlat.c` forks, execs the command and reaps it; the stand-in "
            f"notes when it started (`STAMP_FILE`), which splits each launch in two. "
            f"Medians of {sd[3]} runs, microseconds, 16 accounts, fresh cache."
        )
        L.append("")
        L.append("| | until codex starts | after codex exits | total |")
        L.append("|---|---|---|---|")

        def srow(label, x):
            if x:
                L.append(f"| {label} | {x[0]:.0f} | {x[1]:.0f} | {x[2]:.0f} |")

        srow("direct: stand-in alone", sd)
        srow("floor: minimal Rust spawn-and-wait", sf)
        srow("swop shim", ss)
        srow("swop shim, fsync made a no-op (LD_PRELOAD stub)", sn)
        L.append("")
        if sf:
            L.append(
                f"- Any shim that stays codex's parent (swop must, to report codex's exit "
                f"status and fail over) pays the floor: +{(sf[2] - sd[2]) / 1000:.2f} ms "
                f"here (exec of a second, dynamically linked program, spawn, wait)."
            )
            L.append(
                f"- swop on top of the floor: +{(ss[0] - sf[0]) / 1000:.2f} ms before codex "
                f"starts (config, account list, 16 cache files, live sessions, auth.json, "
                f"sandbox links, live registration) and +{(ss[1] - sf[1]) / 1000:.2f} ms after "
                f"codex exits (ending the live registration, marking the used account's "
                f"cache entry)."
            )
        if sn:
            d = (ss[2] - sn[2]) / 1000
            if fsyncs == 0:
                L.append(
                    f"- swop makes no fsync on the warm path (`strace -c` in section 7); "
                    f"with fsync stubbed out (LD_PRELOAD) the total moves by {-d:+.2f} ms, i.e. noise."
                )
            else:
                L.append(
                    f"- swop makes {fsyncs} fsync call(s) on the warm path (`strace -c` in "
                    f"section 7); stubbing fsync out (LD_PRELOAD) changes the total by "
                    f"{-d:+.2f} ms here (ext4 on a virtual disk; a slower disk pays more)."
                )
        L.append("")
    if os.path.exists(cg_incl):
        total, incl = callgrind_top(cg_incl, 32, meta.get("repo", ""))
        _, own = callgrind_top(os.path.join(res, "callgrind_self.txt"), 16, meta.get("repo", ""))
        L.append("### callgrind, one warm launch (16 accounts, unstripped build)")
        L.append("")
        L.append(
            f"Instructions executed by swop itself (`{total}`); at the machine's speed "
            "that is a few tenths of a millisecond, so most of the time is the kernel "
            "(exec, page faults, the syscalls counted in section 7), not swop's code."
        )
        L.append("")
        L.append("Inclusive (function and what it calls):")
        L.append("")
        L.append("```")
        L.extend(incl)
        L.append("```")
        L.append("")
        L.append("Self cost:")
        L.append("")
        L.append("```")
        L.extend(own)
        L.append("```")
        L.append("")
    L.append("## Method")
    L.append("")
    L.append(
        f"- Stand-in for the real codex on the warm and hung paths: `{stand_in}` "
        "(exits 0 at once), set through `SWOP_CODEX`; the direct run is the same "
        "program with the same arguments (`exec hi`)."
    )
    L.append(
        "- Accounts: `swop add aNN` with a fake codex (sh) whose `login` copies a "
        "prepared auth.json (ChatGPT mode, alg-none JWTs with a non-empty random "
        "signature, claims per codex-facts.md) into `$CODEX_HOME`. Separate "
        "SWOP_HOMEs with 1, 4, 8 and 16 accounts."
    )
    L.append(
        "- Usage server: `benches/helper.py server`, Python ThreadingHTTPServer on "
        "127.0.0.1, per-account usage by `ChatGPT-Account-Id`, injectable delay, a "
        "hang mode, a request counter."
    )
    L.append(
        "- `swop.toml`: `[usage] base_url` = the loopback server, `cache_ttl = \"1h\"`, "
        f"`timeout = \"4s\"` (cold) or `\"{meta.get('hung_timeout', '1s')}\"` (hung)."
    )
    L.append(
        "- Warm: the cache is filled once, snapshotted, and restored with `cp -a` in "
        "hyperfine's `--prepare` before every run (untimed), so every timed run finds "
        "a fresh cache. Cold: `--prepare 'rm -rf $SWOP_HOME/cache'`."
    )
    L.append(
        "- hyperfine runs every command without a shell (`-N`). The warm and fast paths "
        f"run in {meta.get('rounds', 3)} rounds that alternate the commands (each round "
        f"`--warmup {meta.get('fast_warmup', 3)}`), {meta.get('fast_runs', 30)} runs per "
        "command pooled, so that load drifting on a shared machine does not favour one "
        f"command; cold paths {meta.get('cold_runs', 10)} runs, hung backend "
        f"{meta.get('hung_runs', 5)} runs."
    )
    L.append("")
    with open(out, "w") as f:
        f.write("\n".join(L))
    # The verdicts, for run.sh's summary.
    for name, measured, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {measured}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"server": cmd_server, "auth": cmd_auth, "report": cmd_report}[cmd](args)


if __name__ == "__main__":
    main()
