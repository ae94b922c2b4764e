#!/usr/bin/env python3
"""Trace replay: a simulated working day of codex launches through swop.

    benches/day.py SWOP_BINARY [--launches 200] [--out FILE]

About 200 `codex exec` launches in bursts (back to back, 5-40 s apart) with
idle gaps of 1-30 minutes, on 3 accounts, against a loopback usage server
that takes 300 ms per request, for each `[usage] refresh` policy. The codex
stand-in (benches/rollout.c) writes a session rollout with a token_count
`rate_limits` line as codex 0.169.0 does, and runs for RUN_MS (400 ms).

The day is simulated, not waited for: the gaps are applied by moving every
time in swop's cache files back by the gap (the numbers age exactly as they
would), so the replay takes minutes. Per launch it records the overhead (the
shim's start until the stand-in's start), the usage requests that arrived
while the launch was still before codex (blocking ones), and how old the
picked account's numbers were at the pick (in simulated time).

Prints a Markdown section (also written to --out when given). Not a test.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402  (auth_json: hand-made ChatGPT logins)

ACCOUNTS = ["a", "b", "c"]
DELAY = 0.3
RUN_MS = 400
TIME_FIELDS_S = ["fetched_at", "dead_since", "throttled_until", "backoff_until"]


class Log:
    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals = []  # (arrived ns, answered ns, account id)


LOG = Log()
WEEKLY = {"acct-a": 30.0, "acct-b": 45.0, "acct-c": 60.0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        acct = self.headers.get("ChatGPT-Account-Id", "")
        arrived = time.time_ns()
        time.sleep(DELAY)
        now = int(time.time())
        body = json.dumps({
            "plan_type": "plus",
            "rate_limit": {
                "allowed": True, "limit_reached": False,
                "primary_window": {"used_percent": 5, "limit_window_seconds": 18000, "reset_at": now + 3600},
                "secondary_window": {"used_percent": WEEKLY.get(acct, 50.0),
                                     "limit_window_seconds": 604800, "reset_at": now + 5 * 86400},
            },
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        with LOG.lock:
            LOG.arrivals.append((arrived, time.time_ns(), acct))


def make_world(root, swop, port, policy):
    home = os.path.join(root, "home")
    swop_home = os.path.join(root, "swop")
    shim = os.path.join(root, "shim")
    for d in (home, swop_home, shim, os.path.join(home, ".codex", "sessions")):
        os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(swop_home, 0o700)
    os.symlink(swop, os.path.join(shim, "codex"))
    for n in ACCOUNTS:
        d = os.path.join(swop_home, "accounts", n)
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(os.path.join(swop_home, "accounts"), 0o700)
        fd = os.open(os.path.join(d, "auth.json"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(helper.auth_json(n), f)
    with open(os.path.join(swop_home, "swop.toml"), "w") as f:
        f.write(f'[usage]\nbase_url = "http://127.0.0.1:{port}/backend-api"\n'
                f'timeout = "4s"\nrefresh = "{policy}"\n'
                f'[sandbox]\nshared_home = "{home}/.codex"\n'
                '[output]\nannounce = true\n')
    return home, swop_home, shim


def shift_cache(swop_home, secs):
    """Every time in the cache files moves `secs` into the past."""
    d = os.path.join(swop_home, "cache")
    if not os.path.isdir(d):
        return
    for name in os.listdir(d):
        if not name.endswith(".json"):
            continue
        p = os.path.join(d, name)
        try:
            with open(p) as f:
                e = json.load(f)
        except (OSError, ValueError):
            continue
        for k in TIME_FIELDS_S:
            if isinstance(e.get(k), int):
                e[k] -= secs
        if isinstance(e.get("attempted_ms"), int) and e["attempted_ms"] > 0:
            e["attempted_ms"] -= secs * 1000
        with open(p + ".tmp", "w") as f:
            json.dump(e, f)
        os.replace(p + ".tmp", p)


def cache_ages(swop_home):
    now = int(time.time())
    ages = {}
    for n in ACCOUNTS:
        try:
            with open(os.path.join(swop_home, "cache", n + ".json")) as f:
                e = json.load(f)
            if e.get("usage") is not None:
                ages[n] = now - e["fetched_at"]
        except (OSError, ValueError):
            pass
    return ages


def schedule(launches, rng):
    """Gaps (simulated seconds) before each launch: bursts and idle gaps."""
    gaps = []
    while len(gaps) < launches:
        gaps.append(rng.randint(60, 30 * 60))  # idle before a burst
        for _ in range(rng.randint(2, 8)):
            gaps.append(rng.randint(5, 40))  # back to back
    return gaps[:launches]


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def replay(swop, standin, policy, launches, seed):
    rng = random.Random(seed)
    root = tempfile.mkdtemp(prefix=f"swop-day-{policy}-")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with LOG.lock:
        LOG.arrivals.clear()
    home, swop_home, shim = make_world(root, swop, port, policy)
    stamp = os.path.join(root, "stamp")
    env = {
        "HOME": home, "SWOP_HOME": swop_home, "SWOP_CODEX": standin,
        "PATH": f"{shim}:/usr/bin:/bin", "STAMP_FILE": stamp, "RUN_MS": str(RUN_MS),
        "WEEKLY_a": "30", "WEEKLY_b": "45", "WEEKLY_c": "60",
    }
    rows = []
    prev_end_account = None
    for gap in schedule(launches, rng):
        shift_cache(swop_home, gap)
        ages = cache_ages(swop_home)
        if os.path.exists(stamp):
            os.unlink(stamp)
        t0 = time.time_ns()
        p = subprocess.run([os.path.join(shim, "codex"), "exec", "task"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise SystemExit(f"launch failed ({policy}): {p.stderr}")
        with open(stamp) as f:
            t1 = int(f.read())
        picked = next((l.split("'")[1] for l in p.stderr.splitlines()
                       if l.startswith("swop: codex on '")), None)
        # Blocking: asked by this launch and answered before codex started.
        # (The background round may reach the server before the stand-in's
        # first instruction; it is answered after, and is not counted.)
        with LOG.lock:
            blocking = [a for (t, done, a) in LOG.arrivals if t0 <= t and done < t1]
        asked_picked = f"acct-{picked}" in blocking
        age = 0 if asked_picked else ages.get(picked)
        rows.append({
            "overhead_ms": (t1 - t0) / 1e6, "blocking": len(blocking),
            "age": age, "after_same": prev_end_account == picked and gap <= 60,
        })
        if os.environ.get("DAY_DEBUG") and blocking:
            print(f"{policy}: gap {gap} picked {picked} ages {ages} blocking {blocking}\n{p.stderr}",
                  file=sys.stderr)
        prev_end_account = picked
    time.sleep(1)  # let rounds still running land before counting
    with LOG.lock:
        total = len(LOG.arrivals)
    server.shutdown()
    shutil.rmtree(root, ignore_errors=True)
    return rows, total


def warm_path(swop, standin, runs):
    """The warm path measured the same way: every account fresh."""
    root = tempfile.mkdtemp(prefix="swop-day-warm-")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home, swop_home, shim = make_world(root, swop, server.server_address[1], "before-launch")
    stamp = os.path.join(root, "stamp")
    env = {"HOME": home, "SWOP_HOME": swop_home, "SWOP_CODEX": standin,
           "PATH": f"{shim}:/usr/bin:/bin", "STAMP_FILE": stamp, "RUN_MS": "0"}
    subprocess.run([swop, "status"], env=env, stdout=subprocess.DEVNULL, check=True)
    cache = os.path.join(swop_home, "cache")
    saved = {n: open(os.path.join(cache, n)).read() for n in os.listdir(cache) if n.endswith(".json")}
    out = []
    for _ in range(runs):
        for n, text in saved.items():
            e = json.loads(text)
            e["fetched_at"] = int(time.time())
            with open(os.path.join(cache, n), "w") as f:
                json.dump(e, f)
        t0 = time.time_ns()
        subprocess.run([os.path.join(shim, "codex"), "exec", "task"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with open(stamp) as f:
            out.append((int(f.read()) - t0) / 1e6)
    server.shutdown()
    shutil.rmtree(root, ignore_errors=True)
    return out


def summary(policy, rows, total, warm_p95):
    o = [r["overhead_ms"] for r in rows]
    ages = [r["age"] for r in rows if r["age"] is not None]
    after = [r for r in rows if r["after_same"]]
    blocking = sum(r["blocking"] for r in rows)
    return {
        "policy": policy, "launches": len(rows),
        "p50": pct(o, 50), "p95": pct(o, 95), "max": max(o),
        "blocking_per_launch": blocking / len(rows), "total_requests": total,
        "age_p50": pct(ages, 50), "age_p95": pct(ages, 95), "age_max": max(ages) if ages else None,
        "no_numbers": sum(1 for r in rows if r["age"] is None),
        "after_same": len(after), "after_same_blocking": sum(r["blocking"] for r in after),
        "p95_over_warm": pct(o, 95) - warm_p95,
    }


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    swop = os.path.abspath(args[0])
    launches = int(args[args.index("--launches") + 1]) if "--launches" in args else 200
    out = args[args.index("--out") + 1] if "--out" in args else None
    here = os.path.dirname(os.path.abspath(__file__))
    standin = os.path.join(tempfile.mkdtemp(prefix="swop-day-bin-"), "codex-standin")
    subprocess.run(["cc", "-O2", "-o", standin, os.path.join(here, "rollout.c")], check=True)
    warm = warm_path(swop, standin, 40)
    warm_p95 = pct(warm, 95)
    results = []
    for policy in os.environ.get("DAY_POLICIES", "before-launch,background").split(","):
        rows, total = replay(swop, standin, policy, launches, seed=14)
        results.append(summary(policy, rows, total, warm_p95))
    lines = [
        "## 8. A working day, replayed (`benches/day.py`)",
        "",
        f"{launches} `codex exec` launches in bursts (5-40 s apart) with idle gaps of 1-30 minutes, "
        "3 accounts, 300 ms per usage request on the loopback server, a codex stand-in "
        "(`benches/rollout.c`) that writes a rollout with a `token_count` `rate_limits` line and runs "
        f"{RUN_MS} ms. Simulated time: gaps are applied by ageing swop's cache files. Same seed for "
        "both policies. Overhead = shim start to stand-in start (includes Python's spawn).",
        "",
        f"- warm path measured the same way (every account fresh, 40 runs): p50 {pct(warm, 50):.2f} ms, "
        f"p95 {warm_p95:.2f} ms",
        "",
        "| policy | overhead p50 | p95 | max | p95 over warm | blocking requests / launch | total requests "
        "| age of picked numbers p50 / p95 / max | launches right after a run on the same account: blocking requests |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['policy']} | {r['p50']:.2f} ms | {r['p95']:.2f} ms | {r['max']:.2f} ms | "
            f"{r['p95_over_warm']:+.2f} ms | {r['blocking_per_launch']:.3f} | {r['total_requests']} | "
            f"{r['age_p50']} s / {r['age_p95']} s / {r['age_max']} s | "
            f"{r['after_same_blocking']} in {r['after_same']} |")
    new = next(r for r in results if r["policy"] == "background")
    lines += [
        "",
        "Targets for the new default (`background`):",
        "",
        f"- p95 overhead within 2 ms of the warm path: {new['p95_over_warm']:+.2f} ms: "
        f"**{'PASS' if new['p95_over_warm'] <= 2 else 'FAIL'}**",
        f"- at most 0.05 blocking requests per launch: {new['blocking_per_launch']:.3f}: "
        f"**{'PASS' if new['blocking_per_launch'] <= 0.05 else 'FAIL'}**",
        f"- zero requests for a launch right after a run on the same account: "
        f"{new['after_same_blocking']} blocking in {new['after_same']} such launches: "
        f"**{'PASS' if new['after_same_blocking'] == 0 else 'FAIL'}**",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
