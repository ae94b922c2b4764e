#!/usr/bin/env python3
"""Helper for benches/sizes.sh (a codex home of any size).

Subcommands:

  gen --root SESSIONS --count N --days D --projects DIR [--pad BYTES] [--seed S]
      Writes N rollouts named and shaped as codex 0.171.0 writes them
      (UTC day folders, UUID v7 ids, a session_meta line carrying BYTES of
      base instructions, then three event lines) spread over the last D
      days. Their directories are DIR/p00 .. DIR/p39; the newest session is
      an interactive one in p00. 70% interactive ("cli"), 30% exec.

  subset --from SESSIONS --to SESSIONS --every K
      Hard-links every K-th rollout (by name) of one home into another.

  big --root SESSIONS --cwd DIR --size BYTES --days-ago N
      A rollout of BYTES (sparse: its session_meta, a hole, then 1 MiB of
      lines), created N days ago. Prints its thread id.

  noline --root SESSIONS --size BYTES
      The newest rollout, whose first line never ends (BYTES of a hole).

  report --results D --out FILE
      Writes the "A codex home of any size" section of FILE from what
      sizes.sh measured in D (between its markers).
"""

import json
import os
import random
import re
import statistics
import sys
import time

DAY_MS = 86_400_000


def arg(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def v7(ms, n, tag="0000"):
    return f"{ms >> 16:08x}-{ms & 0xffff:04x}-7000-8000-{tag}{n:08x}"


def name_of(ms, n):
    t = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(ms / 1000))
    return f"rollout-{t}-{v7(ms, n)}.jsonl"


def day_of(ms):
    return time.strftime("%Y/%m/%d", time.gmtime(ms / 1000))


def stamp(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def meta_line(ms, n, cwd, source, pad):
    t = stamp(ms)
    return json.dumps(
        {
            "timestamp": t,
            "ordinal": 0,
            "type": "session_meta",
            "payload": {
                "account_scoped": True,
                "creator_user_id": "user-a01",
                "creator_account_id": "acct-a01",
                "session_id": v7(ms, n),
                "id": v7(ms, n),
                "timestamp": t,
                "cwd": cwd,
                "runtime_workspace_roots": [cwd],
                "originator": "codex_cli_rs",
                "cli_version": "0.171.0",
                "source": source,
                "thread_source": "user",
                "model_provider": "openai",
                "base_instructions": {"text": "x" * pad},
            },
        },
        separators=(",", ":"),
    )


def event_lines(ms):
    t = stamp(ms + 1500)
    return [
        json.dumps({"timestamp": t, "type": "event_msg", "payload": {"type": "user_message", "message": "fix the tests"}}),
        json.dumps(
            {
                "timestamp": t,
                "type": "event_msg",
                "payload": {
                    "type": "token_count",
                    "info": None,
                    "rate_limits": {
                        "limit_id": "codex",
                        "primary": {"used_percent": 12.5, "window_minutes": 300, "resets_at": ms // 1000 + 3600},
                        "secondary": {"used_percent": 40.0, "window_minutes": 10080, "resets_at": ms // 1000 + 86400},
                    },
                },
            }
        ),
        json.dumps({"timestamp": t, "type": "event_msg", "payload": {"type": "task_complete", "last_agent_message": "done"}}),
    ]


def write(root, ms, n, lines):
    d = os.path.join(root, day_of(ms))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name_of(ms, n))
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    return p


def cmd_gen(args):
    root = arg(args, "--root")
    count = int(arg(args, "--count"))
    days = int(arg(args, "--days"))
    projects = arg(args, "--projects")
    pad = int(arg(args, "--pad", "27000"))
    rng = random.Random(int(arg(args, "--seed", "1")))
    now = int(time.time() * 1000)
    times = sorted(now - 120_000 - int(rng.random() * days * DAY_MS) for _ in range(count))
    for n, ms in enumerate(times):
        newest = n == count - 1
        cwd = os.path.join(projects, "p00" if newest else f"p{rng.randrange(40):02d}")
        source = "cli" if newest or rng.random() < 0.7 else "exec"
        write(root, ms, n, [meta_line(ms, n, cwd, source, pad)] + event_lines(ms))


def cmd_subset(args):
    src, dst, every = arg(args, "--from"), arg(args, "--to"), int(arg(args, "--every"))
    files = []
    for dirpath, _, names in os.walk(src):
        files += [os.path.join(dirpath, n) for n in names if n.startswith("rollout-")]
    files.sort(key=os.path.basename)
    # Keep the newest, so that every home has the same answer for p00.
    chosen = files[::-1][::every]
    for p in chosen:
        q = os.path.join(dst, os.path.relpath(p, src))
        os.makedirs(os.path.dirname(q), exist_ok=True)
        os.link(p, q)


def cmd_big(args):
    root, cwd = arg(args, "--root"), arg(args, "--cwd")
    size, ago = int(arg(args, "--size")), int(arg(args, "--days-ago"))
    ms = int(time.time() * 1000) - ago * DAY_MS
    n = 0xB1 + size % 997
    p = write(root, ms, n, [meta_line(ms, n, cwd, "cli", 27000)])
    tail = "\n".join(event_lines(ms) * (2 ** 20 // 900)) + "\n"
    with open(p, "r+b") as f:
        f.truncate(size - len(tail))
        f.seek(0, 2)
        f.write(tail.encode())
    print(v7(ms, n))


def cmd_noline(args):
    root, size = arg(args, "--root"), int(arg(args, "--size"))
    ms = int(time.time() * 1000) - 30_000
    d = os.path.join(root, day_of(ms))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name_of(ms, 0xDEAD))
    with open(p, "wb") as f:
        f.truncate(size)


# ---------------------------------------------------------------------------
# report


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def hf(res, name, suffix=r"(_r\d+)?"):
    """{command: times (s)} of a hyperfine export, pooled over rounds."""
    out = {}
    for f in sorted(os.listdir(res)):
        if re.fullmatch(re.escape(name) + suffix + r"\.json", f):
            for r in load(os.path.join(res, f), {"results": []})["results"]:
                out.setdefault(r["command"], []).extend(r["times"])
    return out


def med(times):
    return statistics.median(times) * 1000 if times else None


def fmt(x, unit=" ms"):
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.2f}{unit}"


def rss(res, key):
    """Max peak RSS (MB) of the runs recorded as RES/rss_KEY_*.txt."""
    vals = []
    for f in os.listdir(res):
        if f.startswith(f"rss_{key}_") and f.endswith(".txt"):
            try:
                vals.append(int(open(os.path.join(res, f)).read().split()[0]) / 1024)
            except (ValueError, IndexError):
                pass
    return max(vals) if vals else None


def mb(x):
    return "-" if x is None else f"{x:.1f} MB"


def verdict(ok):
    return "**PASS**" if ok else "**NOT MET**"


def cmd_report(args):
    res, out = arg(args, "--results"), arg(args, "--out")
    meta = load(os.path.join(res, "sizes_meta.json"), {})
    sizes = meta.get("sizes", ["0", "1000", "10000", "50000"])
    label = {"0": "empty home", "1000": "1,000 rollouts", "10000": "10,000", "50000": "50,000"}
    old = meta.get("baseline")
    L = ["<!-- sizes:begin (benches/sizes.sh writes this section) -->", "## A codex home of any size", ""]
    L += [
        f"Generated by `benches/sizes.sh` (run by `benches/run.sh`; alone: `BENCH_BASELINE=path/to/old/swop benches/sizes.sh`), "
        f"{meta.get('date', '?')}, swop {meta.get('commit', '?')}"
        + (f", side by side with the old swop ({old})" if old else "")
        + ". Release builds, a C stand-in for codex (`benches/rollout.c`: writes a rollout as codex 0.171.0 does; "
        "`benches/stamp.c`: exits at once), the shared 2-core machine. Synthetic codex homes "
        f"(`benches/sizes.py`): {meta.get('days', 730)} days of day folders, rollouts named and shaped as codex 0.171.0 writes "
        f"them (UUID v7 ids, a session_meta line of {meta.get('pad', 27000):,} bytes of base instructions, as seen), in 40 "
        "project directories, 70% interactive; the 1,000 and 10,000 homes are every 50th and 5th file of the 50,000 one. "
        f"Medians of {meta.get('runs', '?')} runs per command (hyperfine, rounds interleaving the homes and both binaries); "
        "peak RSS is the largest of the runs measured with `/usr/bin/time`.",
        "",
    ]
    rows = {}

    def table(title, key, note=""):
        times = hf(res, key)
        L.append(f"**{title}**{note}")
        L.append("")
        head = "| codex home | new: median | new: added over the empty home | new: peak RSS |"
        sep = "|---|---|---|---|"
        if old:
            head += " old: median | old: added | old: peak RSS |"
            sep += "---|---|---|"
        L.extend([head, sep])
        base = {b: med(times.get(f"{b} {sizes[0]}", [])) for b in ("new", "old")}
        for s in sizes:
            r = {}
            for b in ("new", "old"):
                m = med(times.get(f"{b} {s}", []))
                r[b] = (m, None if m is None or base[b] is None else m - base[b], rss(res, f"{key}_{b}_{s}"))
            rows[(key, s)] = r
            line = f"| {label.get(s, s)} | {fmt(r['new'][0])} | {fmt(r['new'][1])} | {mb(r['new'][2])} |"
            if old:
                line += f" {fmt(r['old'][0])} | {fmt(r['old'][1])} | {mb(r['old'][2])} |"
            L.append(line)
        L.append("")

    table("After an interactive session exits", "after",
          ": `codex hi` through the shim (interactive mode; the stand-in writes a new interactive rollout "
          "with a `token_count` line and exits), in a project with sessions; the whole launch, so the added time is "
          "what the after-exit work costs over the empty home.")
    table("`codex exec resume --last hi`, directory with sessions", "last_with",
          " (its newest session is the newest of the home; stand-in: exits at once).")
    table("`codex exec resume --last hi`, directory without sessions", "last_without", "")
    table("`swop ps`, 4 live sessions", "ps",
          " (four `codex` launches running in four projects, each with its new rollout).")

    extra = hf(res, "extra", r"_\w+")
    L += ["**Edge cases**", "", "| case | new: median | new: peak RSS |" + (" old: median | old: peak RSS |" if old else ""),
          "|---|---|---|" + ("---|---|" if old else "")]
    cases = [
        ("first `resume --last` at 50,000 (swop's record of the home built, once)", "first_last"),
        ("`resume --last` at 50,000 plus a 1 GiB rollout whose first line never ends", "noline"),
        ("resume a 500 MB interactive session (`codex resume ID`, the stand-in appends a turn)", "big500"),
        ("resume a 2 GB interactive session", "big2000"),
    ]
    for title, key in cases:
        n, o = med(extra.get(f"new {key}", [])), med(extra.get(f"old {key}", []))
        line = f"| {title} | {fmt(n)} | {mb(rss(res, f'{key}_new'))} |"
        if old:
            line += f" {fmt(o)} | {mb(rss(res, f'{key}_old'))} |"
        L.append(line)
    L.append("")

    cold = hf(res, "cold")
    threads = load(os.path.join(res, "cold_threads.json"), {})
    answered = load(os.path.join(res, "cold_answered.json"), {})
    L += [f"**Cold pick** (`swop pick`, empty cache, {meta.get('cold_delay_ms', 300)} ms per usage request, "
          f"timeout {meta.get('cold_timeout', '4s')})", "",
          "| accounts | new: median | new: peak RSS | new: threads started (in all) | new: accounts answered |"
          + (" old: median | old: peak RSS | old: threads started |" if old else ""),
          "|---|---|---|---|---|" + ("---|---|---|" if old else "")]
    for n in meta.get("cold_counts", ["16", "64", "200"]):
        line = (f"| {n} | {fmt(med(cold.get(f'new {n}', [])))} | {mb(rss(res, f'cold_new_{n}'))} | "
                f"{threads.get(f'new {n}', '-')} | {answered.get(f'new {n}', '-')} |")
        if old:
            line += (f" {fmt(med(cold.get(f'old {n}', [])))} | {mb(rss(res, f'cold_old_{n}'))} | "
                     f"{threads.get(f'old {n}', '-')} |")
        L.append(line)
    L.append("")

    # Targets.
    def added(key):
        return rows.get((key, sizes[-1]), {}).get("new", (None, None, None))[1]

    def worst_rss(keys):
        vals = [rss(res, k) for k in keys]
        vals = [v for v in vals if v is not None]
        return max(vals) if vals else None

    after = added("after")
    last = max([x for x in (added("last_with"), added("last_without")) if x is not None], default=None)
    ps = added("ps")
    shim_keys = [f"{k}_new_{s}" for k in ("after", "last_with", "last_without") for s in sizes]
    shim_keys += ["big500_new", "big2000_new", "noline_new", "first_last_new"]
    shim_rss = worst_rss(shim_keys)
    cold200 = rss(res, "cold_new_200")
    warm = meta.get("warm_added_ms")
    L += ["**Targets**", "", "| target | measured | result |", "|---|---|---|"]
    L.append(f"| after an interactive session exits: at most +1 ms at 50,000 rollouts over the empty home | "
             f"{fmt(after)} | {verdict(after is not None and after <= 1.0)} |")
    L.append(f"| `resume --last` (with and without sessions): at most +5 ms at 50,000 | {fmt(last)} | "
             f"{verdict(last is not None and last <= 5.0)} |")
    L.append(f"| `swop ps`, 4 live sessions: at most +5 ms at 50,000 | {fmt(ps)} | {verdict(ps is not None and ps <= 5.0)} |")
    L.append(f"| shim peak RSS under 8 MB for any rollout size (every case above) | {mb(shim_rss)} | "
             f"{verdict(shim_rss is not None and shim_rss < 8.0)} |")
    L.append(f"| cold pick over 200 accounts under 16 MB | {mb(cold200)} | {verdict(cold200 is not None and cold200 < 16.0)} |")
    if warm is not None:
        wo = meta.get("warm_old_added_ms")
        L.append(f"| warm path unchanged: +1.85 ms over a direct exec, 0 requests (`codex exec hi`, 16 accounts, "
                 f"fresh cache; {meta.get('runs', '?')} runs, 20 launches counted) | "
                 f"+{warm:.2f} ms" + (f" (old: +{wo:.2f} ms)" if wo is not None else "")
                 + f", {meta.get('warm_requests', '?')} requests | "
                 f"{verdict((warm <= 2.0 if wo is None else warm - wo <= 0.3) and str(meta.get('warm_requests')) == '0')} |")
    L.append("")
    notes = meta.get("notes", [])
    if notes:
        L += notes + [""]
    L.append("<!-- sizes:end -->")
    section = "\n".join(L) + "\n"
    text = open(out).read() if os.path.exists(out) else ""
    pat = re.compile(r"<!-- sizes:begin.*?<!-- sizes:end -->\n?", re.S)
    text = pat.sub(lambda _: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section
    open(out, "w").write(text)


def main():
    cmds = {"gen": cmd_gen, "subset": cmd_subset, "big": cmd_big, "noline": cmd_noline, "report": cmd_report}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
