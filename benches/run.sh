#!/usr/bin/env bash
# swop benchmark harness: builds the release binary, makes an isolated world
# in a temp dir, measures the launch paths with hyperfine and writes
# BENCHMARKS.md at the repository root. Not part of `cargo test`.
#
#   benches/run.sh
#
# Needs: cargo, hyperfine, python3, curl. Uses when present: cc (the C
# stand-in for codex and the launch splitter; else /bin/true), /usr/bin/time
# (peak RSS), strace (process/network proof), valgrind (profile), the real
# codex (fast path).
#
# Knobs (environment): BENCH_REAL_CODEX (path of the real codex; default:
# .cache/codex-PINNED, /opt/codex-cache/PINNED, then PATH; PINNED from
# codex-versions.txt),
# BENCH_FAST_RUNS (30), BENCH_COLD_RUNS (10), BENCH_HUNG_RUNS (5),
# BENCH_BASELINE (an older swop binary measured beside this one in the
# codex-home-size section, benches/sizes.sh),
# BENCH_NO_BUILD=1 (use the existing target/release/swop),
# BENCH_OUT (default BENCHMARKS.md), BENCH_KEEP=1 (keep the temp world),
# BENCH_PROFILE=auto|1|0 (callgrind profile of one warm launch, built
# unstripped in target/bench-profile; auto: when the warm path uses more
# than 75% of its 2 ms budget, since noise can flip a close verdict).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$REPO/benches
OUT=${BENCH_OUT:-$REPO/BENCHMARKS.md}
FAST_WARMUP=3
FAST_RUNS=${BENCH_FAST_RUNS:-30}
COLD_RUNS=${BENCH_COLD_RUNS:-10}
HUNG_RUNS=${BENCH_HUNG_RUNS:-5}
COLD_DELAY=0.3          # seconds per usage request on the cold paths
HUNG_TIMEOUT=1s         # [usage] timeout for the hung-backend scenario
NORMAL_TIMEOUT=4s
WARM_TARGET_MS=2
PROOF_LAUNCHES=20
RSS_RUNS=10
SPLIT_RUNS=40
ROUNDS=3
PROFILE=${BENCH_PROFILE:-auto}
COUNTS=(1 4 8 16)

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'benches/run.sh: %s\n' "$*" >&2; exit 1; }

for tool in cargo hyperfine python3 curl; do
    command -v "$tool" >/dev/null || die "$tool is required (hyperfine: apt-get install hyperfine, or cargo install hyperfine)"
done
# The interpreter itself, not a pyenv/asdf shim that needs the real HOME.
PY=$(python3 -c 'import sys; print(sys.executable)')
REAL_HOME=$HOME

# -- build ---------------------------------------------------------------------
if [ -z "${BENCH_NO_BUILD:-}" ]; then
    say "cargo build --release"
    (cd "$REPO" && cargo build --release)
fi
SWOP=$REPO/target/release/swop
[ -x "$SWOP" ] || die "no $SWOP (build failed?)"

RUSTC=$(rustc --version 2>/dev/null || echo unknown)
COMMIT=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    COMMIT="$COMMIT (with uncommitted changes in src/)"
fi

# -- the real codex --------------------------------------------------------------
REAL=${BENCH_REAL_CODEX:-}
PINNED=$(sed -n 's/^pinned[[:space:]]*=[[:space:]]*//p' "$REPO/codex-versions.txt")
if [ -z "$REAL" ]; then
    for c in "$REPO/.cache/codex-$PINNED/node_modules/.bin/codex" \
             /opt/codex-cache/$PINNED/node_modules/.bin/codex; do
        if [ -x "$c" ]; then REAL=$c; break; fi
    done
fi
if [ -z "$REAL" ] && command -v codex >/dev/null; then
    c=$(command -v codex)
    # Not swop's own shim.
    if [ "$(readlink -f "$c")" != "$(readlink -f "$SWOP")" ] && ! "$c" --version 2>/dev/null | grep -q '^swop'; then
        REAL=$c
    fi
fi
NATIVE=""
if [ -n "$REAL" ]; then
    nm=$(cd "$(dirname "$(readlink -f "$REAL")")/../.." 2>/dev/null && pwd || true)
    if [ -n "$nm" ]; then
        NATIVE=$(find "$nm" -path '*vendor*/bin/codex' -type f -perm -u+x 2>/dev/null | head -n1 || true)
    fi
fi

# -- the world -------------------------------------------------------------------
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/swop-bench.XXXXXX")
ROOT=$(cd "$ROOT" && pwd -P)
RES=$ROOT/results
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$ROOT"; else echo "kept $ROOT" >&2; fi
}
trap cleanup EXIT
umask 077
mkdir -p "$ROOT/home" "$ROOT/bin" "$ROOT/shim" "$ROOT/work" "$ROOT/worlds" "$ROOT/snap" "$RES"
ln -s "$SWOP" "$ROOT/shim/codex"
SHIM=$ROOT/shim/codex

# The stand-in for the real codex (benches/stamp.c: exits 0 at once; with
# STAMP_FILE set it first notes its start time); startlat, which splits a
# launch into "until codex starts" and "after codex exits"; a stub that makes
# fsync a no-op (LD_PRELOAD); and the floor: the smallest Rust program that
# spawns codex and waits for it, as any shim that reports codex's exit
# status has to. Compiled before HOME changes (rustup needs the real one).
NOOP=/bin/true
STAND_IN_DESC="/bin/true"
SPLIT=""
if command -v cc >/dev/null; then
    if cc -O2 -static -o "$ROOT/bin/stamp" "$BENCH/stamp.c" 2>/dev/null \
        || cc -O2 -o "$ROOT/bin/stamp" "$BENCH/stamp.c"; then
        NOOP=$ROOT/bin/stamp
        STAND_IN_DESC="benches/stamp.c, a static C program that exits 0 at once"
    fi
    printf 'int fsync(int fd) { (void)fd; return 0; }\nint fdatasync(int fd) { (void)fd; return 0; }\n' > "$ROOT/nofsync.c"
    cat > "$ROOT/floor.rs" <<'EOF'
fn main() {
    let real = std::env::var_os("SWOP_CODEX").expect("SWOP_CODEX");
    let status = std::process::Command::new(real)
        .args(std::env::args_os().skip(1))
        .status()
        .expect("spawn");
    std::process::exit(status.code().unwrap_or(1));
}
EOF
    if [ "$NOOP" != /bin/true ] \
        && cc -O2 -o "$ROOT/bin/startlat" "$BENCH/startlat.c" \
        && cc -O2 -shared -fPIC -o "$ROOT/bin/nofsync.so" "$ROOT/nofsync.c" \
        && rustc -O -C panic=abort -C strip=symbols -o "$ROOT/bin/floor" "$ROOT/floor.rs" 2>/dev/null; then
        SPLIT=1
    fi
fi

# A clean environment for everything swop runs.
for v in CODEX_HOME CODEX_API_KEY CODEX_ACCESS_TOKEN CODEX_SQLITE_HOME SWOP_HOME SWOP_CODEX \
         SWOP_ACCOUNT SWOP_BYPASS SWOP_LAUNCHED_HOME SWOP_DEPTH SSH_CONNECTION SSH_TTY \
         STAMP_FILE LD_PRELOAD; do
    unset "$v"
done
export HOME=$ROOT/home NO_COLOR=1 PATH="$ROOT/shim:$PATH"
cd "$ROOT/work"

# The fake codex `swop add` logs in with: copies a prepared auth.json.
cat > "$ROOT/bin/fake-codex" <<'EOF'
#!/bin/sh
for a in "$@"; do
  case "$a" in
    login)
      umask 077
      cat "$FAKE_CODEX_AUTH" > "$CODEX_HOME/auth.json" || exit 1
      chmod 600 "$CODEX_HOME/auth.json"
      echo "Successfully logged in" >&2
      exit 0 ;;
  esac
done
exit 0
EOF
chmod 755 "$ROOT/bin/fake-codex"

# The usage server.
say "usage server"
"$PY" "$BENCH/helper.py" server --port-file "$ROOT/port" --parent $$ &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$ROOT/port" ] && break; sleep 0.05; done
[ -s "$ROOT/port" ] || die "the usage server did not start"
PORT=$(cat "$ROOT/port")
URL=http://127.0.0.1:$PORT
ctl() { curl -fsS "$URL/_ctl/$1" >/dev/null; }
count() { curl -fsS "$URL/_ctl/count" | tr -cd 0-9; }

world() { echo "$ROOT/worlds/n$1"; }
write_config() { # world timeout
    cat > "$1/swop.toml" <<EOF
[usage]
base_url = "$URL/backend-api"
timeout = "$2"
cache_ttl = "1h"
stale_after = "1h"

[failover]
mode = "off"
EOF
}

say "accounts: swop add through a fake codex"
names=()
for i in $(seq 16); do names+=("$(printf 'a%02d' "$i")"); done
"$PY" "$BENCH/helper.py" auth --dir "$ROOT/auth" "${names[@]}"
for n in "${COUNTS[@]}"; do
    w=$(world "$n")
    mkdir -m 700 "$w"
    write_config "$w" "$NORMAL_TIMEOUT"
    for name in "${names[@]:0:$n}"; do
        if ! SWOP_HOME=$w SWOP_CODEX=$ROOT/bin/fake-codex FAKE_CODEX_AUTH=$ROOT/auth/$name.json \
            "$SWOP" add "$name" >"$ROOT/add.log" 2>&1; then
            cat "$ROOT/add.log" >&2
            die "swop add $name failed"
        fi
    done
    # Fill the cache and keep a copy: restoring it makes a fresh cache.
    SWOP_HOME=$w "$SWOP" status --refresh >/dev/null 2>"$ROOT/status.log" \
        || { cat "$ROOT/status.log" >&2; die "swop status failed in $w"; }
    cp -a "$w/cache" "$ROOT/snap/n$n"
done
W1=$(world 1)
W16=$(world 16)
# Restores a fresh cache, then `sync`s so that swop's own fsyncs do not also
# flush what cp just wrote (a real cache was written, and synced, by swop).
restore() { rm -rf "$1/cache"; cp -a "$ROOT/snap/n$2" "$1/cache"; sync; }
fresh16="sh -c 'cp -a $ROOT/snap/n16/. $W16/cache/ && sync'"
fresh1="sh -c 'cp -a $ROOT/snap/n1/. $W1/cache/ && sync'"

HF=(hyperfine -N --style basic)

# -- 1. warm path --------------------------------------------------------------------
# In ROUNDS rounds that alternate the commands, so that the load of a shared
# machine drifting during the run does not favour one of them; the runs of
# all rounds are pooled (the report recomputes median, min and max).
say "1. warm path: codex exec hi through the shim vs the stand-in directly"
export SWOP_CODEX=$NOOP
per_round=$(( (FAST_RUNS + ROUNDS - 1) / ROUNDS ))
for r in $(seq "$ROUNDS"); do
    floor=()
    if [ -n "$SPLIT" ]; then floor=(--prepare "$fresh16" -n "floor" "$ROOT/bin/floor exec hi"); fi
    SWOP_HOME=$W16 "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$per_round" --export-json "$RES/warm_r$r.json" \
        --prepare "$fresh16" -n "direct" "$NOOP exec hi" \
        --prepare "$fresh16" -n "shim, 16 accounts" "$SHIM exec hi" \
        ${floor[@]+"${floor[@]}"}
    SWOP_HOME=$W1 "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$per_round" --export-json "$RES/warm1_r$r.json" \
        --prepare "$fresh1" -n "shim, 1 account" "$SHIM exec hi"
done
restore "$W16" 16
SWOP_HOME=$W16 "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$FAST_RUNS" --export-json "$RES/warm_b2b.json" \
    -n "shim, 16 accounts, back to back" "$SHIM exec hi"

# Where the time goes: until the stand-in starts, and after it exits. The
# variants take turns, run by run.
if [ -n "$SPLIT" ]; then
    say "1b. warm path split: until codex starts / after codex exits"
    export STAMP_FILE=$ROOT/stamp
    prep="cp -a $ROOT/snap/n16/. $W16/cache/ && sync"
    for _ in $(seq "$SPLIT_RUNS"); do
        "$ROOT/bin/startlat" 1 "sync" -- "$NOOP" exec hi >> "$RES/split_direct.txt"
        "$ROOT/bin/startlat" 1 "sync" -- "$ROOT/bin/floor" exec hi >> "$RES/split_floor.txt"
        SWOP_HOME=$W16 "$ROOT/bin/startlat" 1 "$prep" -- "$SHIM" exec hi >> "$RES/split_shim.txt" 2>/dev/null
        SWOP_HOME=$W16 LD_PRELOAD=$ROOT/bin/nofsync.so "$ROOT/bin/startlat" 1 "$prep" -- "$SHIM" exec hi \
            >> "$RES/split_shim_nofsync.txt" 2>/dev/null
    done
    unset STAMP_FILE
fi

# -- 2. fast path --------------------------------------------------------------------
if [ -n "$REAL" ]; then
    say "2. fast path: codex --version through the shim vs the real codex"
    for r in $(seq "$ROUNDS"); do
        SWOP_HOME=$W16 SWOP_CODEX=$REAL "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$per_round" \
            --export-json "$RES/fast_r$r.json" -n direct "$REAL --version" -n shim "$SHIM --version"
        if [ -n "$NATIVE" ]; then
            SWOP_HOME=$W16 SWOP_CODEX=$NATIVE "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$per_round" \
                --export-json "$RES/fast_native_r$r.json" -n direct "$NATIVE --version" -n shim "$SHIM --version"
        fi
    done
else
    say "2. fast path: SKIPPED (no real codex found; set BENCH_REAL_CODEX)"
fi

# -- 3. cold path --------------------------------------------------------------------
say "3. cold path: swop pick, empty cache, ${COLD_DELAY}s per usage request"
ctl "set?delay=$COLD_DELAY&mode=ok"
cold=()
for n in "${COUNTS[@]}"; do
    w=$(world "$n")
    label="$n accounts"; [ "$n" = 1 ] && label="1 account"
    cold+=(--prepare "rm -rf $w/cache" -n "$label" "env SWOP_HOME=$w $SWOP pick")
done
"${HF[@]}" --warmup 1 --runs "$COLD_RUNS" --export-json "$RES/cold.json" "${cold[@]}"

# -- 4. hung backend -----------------------------------------------------------------
say "4. hung backend: codex exec hi, usage server never answers, timeout $HUNG_TIMEOUT"
write_config "$W1" "$HUNG_TIMEOUT"
write_config "$W16" "$HUNG_TIMEOUT"
ctl "set?mode=hang"
"${HF[@]}" --warmup 1 --runs "$HUNG_RUNS" --export-json "$RES/hung.json" \
    --prepare "rm -rf $W1/cache" -n "1 account" "env SWOP_HOME=$W1 $SHIM exec hi" \
    --prepare "rm -rf $W16/cache" -n "16 accounts" "env SWOP_HOME=$W16 $SHIM exec hi"
ctl "set?mode=ok"
write_config "$W1" "$NORMAL_TIMEOUT"
write_config "$W16" "$NORMAL_TIMEOUT"

# -- 5. swop status ------------------------------------------------------------------
say "5. swop status, 16 accounts, warm and cold"
SWOP_HOME=$W16 "${HF[@]}" --warmup "$FAST_WARMUP" --runs "$FAST_RUNS" --export-json "$RES/status_warm.json" \
    --prepare "$fresh16" -n warm "$SWOP status"
SWOP_HOME=$W16 "${HF[@]}" --warmup 1 --runs "$COLD_RUNS" --export-json "$RES/status_cold.json" \
    --prepare "rm -rf $W16/cache" -n cold "$SWOP status"
ctl "set?delay=0"

# -- 6. peak RSS ---------------------------------------------------------------------
export SWOP_HOME=$W16
if [ -x /usr/bin/time ]; then
    say "6. peak RSS (/usr/bin/time -v)"
    for i in $(seq "$RSS_RUNS"); do
        restore "$W16" 16
        /usr/bin/time -v -o "$RES/rss_warm_$i.time" "$SHIM" exec hi 2>/dev/null
        /usr/bin/time -v -o "$RES/rss_direct_$i.time" "$NOOP" exec hi
    done
    ctl "set?delay=$COLD_DELAY"
    for i in 1 2 3; do
        rm -rf "$W16/cache"
        /usr/bin/time -v -o "$RES/rss_cold_$i.time" "$SWOP" pick >/dev/null 2>&1
    done
    ctl "set?delay=0"
fi

# -- 7. no network, no extra process -------------------------------------------------
say "7. request counter and strace on the warm path"
fresh_before=$(count)
for _ in $(seq "$PROOF_LAUNCHES"); do
    restore "$W16" 16
    "$SHIM" exec hi 2>/dev/null
done
fresh_after=$(count)
restore "$W16" 16
b2b_before=$(count)
for _ in $(seq "$PROOF_LAUNCHES"); do "$SHIM" exec hi 2>/dev/null; done
b2b_after=$(count)
printf '{"launches": %s, "fresh_before": %s, "fresh_after": %s, "b2b_before": %s, "b2b_after": %s}\n' \
    "$PROOF_LAUNCHES" "$fresh_before" "$fresh_after" "$b2b_before" "$b2b_after" > "$RES/counts.json"
if command -v strace >/dev/null; then
    restore "$W16" 16
    strace -f -qq -o "$RES/strace_warm.log" -e trace=execve,clone,clone3,fork,vfork,socket,connect \
        "$SHIM" exec hi 2>/dev/null
    # Every syscall of swop itself (not of the stand-in), counted.
    restore "$W16" 16
    strace -qq -c -S calls -U name,calls,errors -o "$RES/strace_warm_c.txt" "$SHIM" exec hi 2>/dev/null \
        || strace -qq -c -S calls -o "$RES/strace_warm_c.txt" "$SHIM" exec hi 2>/dev/null
    # A second launch right after a first one (no restore in between).
    restore "$W16" 16
    "$SHIM" exec hi 2>/dev/null
    strace -f -qq -o "$RES/strace_b2b.log" -e trace=execve,clone,clone3,fork,vfork,socket,connect \
        "$SHIM" exec hi 2>/dev/null
    # Paths in the logs: relative to the temp world.
    sed -i "s#$ROOT#\$BENCH#g" "$RES/strace_warm.log" "$RES/strace_b2b.log"
fi

# -- merge hyperfine files -------------------------------------------------------------
"$PY" - "$RES" <<'EOF'
import glob, json, os, statistics, sys
res = sys.argv[1]
groups = {
    "warm.json": ["warm_r*.json", "warm1_r*.json"],
    "fast.json": ["fast_r*.json"],
    "fast_native.json": ["fast_native_r*.json"],
    "status.json": ["status_warm.json", "status_cold.json"],
}
for out, patterns in groups.items():
    pooled = {}
    for pat in patterns:
        for path in sorted(glob.glob(os.path.join(res, pat))):
            with open(path) as fh:
                for r in json.load(fh)["results"]:
                    pooled.setdefault(r["command"], []).extend(r["times"])
    results = [
        {"command": name, "times": t, "median": statistics.median(t), "min": min(t),
         "max": max(t), "mean": statistics.fmean(t)}
        for name, t in pooled.items()
    ]
    with open(os.path.join(res, out), "w") as fh:
        json.dump({"results": results}, fh)
EOF

# -- profile (callgrind, one warm launch, unstripped build) ----------------------------
if [ "$PROFILE" = auto ]; then
    added=$("$PY" -c '
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(1 if (r["shim, 16 accounts"]["median"] - r["direct"]["median"]) * 1000 > 0.75 * float(sys.argv[2]) else 0)
' "$RES/warm.json" "$WARM_TARGET_MS")
    [ "$added" = 1 ] && PROFILE=1 || PROFILE=0
fi
if [ "$PROFILE" = 1 ] && command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    say "profile: unstripped build in target/bench-profile, callgrind on one warm launch"
    (cd "$REPO" && HOME=$REAL_HOME CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
        cargo build --release --target-dir "$REPO/target/bench-profile")
    mkdir -p "$ROOT/profshim"
    ln -s "$REPO/target/bench-profile/release/swop" "$ROOT/profshim/codex"
    restore "$W16" 16
    valgrind --tool=callgrind --callgrind-out-file="$RES/callgrind.out" "$ROOT/profshim/codex" exec hi \
        >/dev/null 2>"$RES/callgrind.log"
    callgrind_annotate --inclusive=yes "$RES/callgrind.out" > "$RES/callgrind_inclusive.txt" 2>/dev/null || true
    callgrind_annotate "$RES/callgrind.out" > "$RES/callgrind_self.txt" 2>/dev/null || true
fi

# -- report --------------------------------------------------------------------------
real_version=""
[ -n "$REAL" ] && real_version="$("$REAL" --version 2>/dev/null | head -n1) ($REAL)"
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
[ -n "$cpu" ] || cpu=$(sysctl -n machdep.cpu.brand_string 2>/dev/null || echo unknown)
"$PY" - "$RES/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "commit": "$COMMIT",
    "uname": "$(uname -srm)",
    "cpu": "$cpu",
    "nproc": "$(nproc 2>/dev/null || sysctl -n hw.ncpu)",
    "fs": "$(df -T "$ROOT" 2>/dev/null | awk 'NR==2 {print $2}')",
    "hyperfine": "$(hyperfine --version)",
    "rustc": "$RUSTC",
    "codex": "$real_version",
    "binary_size": "$(wc -c < "$SWOP" | tr -d ' ')",
    "stand_in": "$STAND_IN_DESC",
    "cold_delay_ms": int(float("$COLD_DELAY") * 1000),
    "hung_timeout": "$HUNG_TIMEOUT",
    "hung_timeout_s": float("$HUNG_TIMEOUT".rstrip("s")),
    "warm_target_ms": $WARM_TARGET_MS,
    "repo": "$REPO",
    "fast_warmup": $FAST_WARMUP,
    "fast_runs": $FAST_RUNS,
    "rounds": $ROUNDS,
    "cold_runs": $COLD_RUNS,
    "hung_runs": $HUNG_RUNS,
    "split_runs": $SPLIT_RUNS,
}, open(sys.argv[1], "w"), indent=1)
EOF
say "writing $OUT"
"$PY" "$BENCH/helper.py" report --results "$RES" --out "$OUT"
"$BENCH/simulate.sh" "$SWOP" "$OUT"

# -- 9. a codex home of any size -------------------------------------------
# Its own section, between markers; BENCH_BASELINE=path/to/old/swop adds the
# old swop side by side.
say "9. a codex home of any size: benches/sizes.sh"
BENCH_MAIN_RESULTS=$RES "$BENCH/sizes.sh" "$SWOP" "$OUT"

# -- 8. a working day, replayed (both [usage] refresh policies) ----------------------
if command -v cc >/dev/null; then
    say "8. a working day replayed: benches/day.py"
    "$PY" "$BENCH/day.py" "$SWOP" --out "$RES/day.md"
    printf '\n' >> "$OUT"
    cat "$RES/day.md" >> "$OUT"
fi
