#!/usr/bin/env bash
# A codex home of any size: what swop costs after an interactive
# session, for `resume --last`, for `swop ps`, with 1,000 / 10,000 / 50,000
# rollouts over two years of day folders, when resuming a 500 MB and a 2 GB
# rollout, and for a cold pick over 16 / 64 / 200 accounts; time and peak
# RSS, side by side with an older swop when BENCH_BASELINE names one.
# Writes its section of BENCHMARKS.md (between its markers). run.sh calls
# it last; alone:
#
#   BENCH_BASELINE=/path/to/old/swop benches/sizes.sh [SWOP] [OUT]
#
# Needs hyperfine, python3, curl, cc, /usr/bin/time; strace (thread counts)
# if present. About 2 GB of disk for the homes (the big rollouts are
# sparse). Knobs: BENCH_SIZES_RUNS (30), BENCH_SIZES_COLD_RUNS (5),
# BENCH_KEEP=1, BENCH_MAIN_RESULTS (run.sh's results dir, for the warm-path
# target).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$REPO/benches
SWOP=${1:-$REPO/target/release/swop}
OUT=${2:-$REPO/BENCHMARKS.md}
OLD=${BENCH_BASELINE:-}
RUNS=${BENCH_SIZES_RUNS:-30}
ROUNDS=3
PER=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
COLD_RUNS=${BENCH_SIZES_COLD_RUNS:-5}
SIZES=(0 1000 10000 50000)
DAYS=730
PAD=27000
COLD_COUNTS=(16 64 200)
COLD_DELAY=0.3
COLD_TIMEOUT=4s
RSS_RUNS=5

say() { printf '\n== sizes: %s\n' "$*" >&2; }
die() { printf 'benches/sizes.sh: %s\n' "$*" >&2; exit 1; }
for tool in hyperfine python3 curl cc; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is required (peak RSS)"
[ -x "$SWOP" ] || die "no swop binary at $SWOP"
# Absolute: the shims are links to it, made in another directory.
SWOP=$(cd "$(dirname "$SWOP")" && pwd -P)/$(basename "$SWOP")
[ -z "$OLD" ] || [ -x "$OLD" ] || die "BENCH_BASELINE=$OLD is not executable"
PY=$(python3 -c 'import sys; print(sys.executable)')
BINS=(new)
[ -n "$OLD" ] && BINS+=(old)

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/swop-sizes.XXXXXX")
ROOT=$(cd "$ROOT" && pwd -P)
RES=$ROOT/results
SERVER_PID=""
LIVE=()
stop_live() {
    for pid in ${LIVE[@]+"${LIVE[@]}"}; do
        for c in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
        kill "$pid" 2>/dev/null || true
    done
    for pid in ${LIVE[@]+"${LIVE[@]}"}; do wait "$pid" 2>/dev/null || true; done
    LIVE=()
}
cleanup() {
    stop_live
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$ROOT"; else echo "kept $ROOT" >&2; fi
}
trap cleanup EXIT
umask 077
mkdir -p "$ROOT/home" "$ROOT/bin" "$ROOT/homes" "$ROOT/cold" "$ROOT/projects/empty" "$RES"
for i in $(seq 0 39); do mkdir -p "$ROOT/projects/p$(printf %02d "$i")"; done
mkdir -p "$ROOT/projects/big"
cc -O2 -o "$ROOT/bin/stamp" "$BENCH/stamp.c"
cc -O2 -o "$ROOT/bin/rollout" "$BENCH/rollout.c"
for b in "${BINS[@]}"; do
    mkdir -p "$ROOT/shim-$b"
    if [ "$b" = new ]; then ln -s "$SWOP" "$ROOT/shim-new/codex"; else ln -s "$OLD" "$ROOT/shim-old/codex"; fi
done
bin_of() { if [ "$1" = new ]; then echo "$SWOP"; else echo "$OLD"; fi; }

for v in CODEX_HOME CODEX_API_KEY CODEX_ACCESS_TOKEN CODEX_SQLITE_HOME SWOP_HOME SWOP_CODEX \
         SWOP_ACCOUNT SWOP_BYPASS SWOP_LAUNCHED_HOME SWOP_DEPTH STAMP_FILE LD_PRELOAD RUN_MS \
         ROLLOUT_SOURCE ROLLOUT_META_PAD ROLLOUT_APPEND; do
    unset "$v"
done
export HOME=$ROOT/home NO_COLOR=1 TZ=UTC PATH="/usr/local/bin:/usr/bin:/bin"

cat > "$ROOT/bin/fake-codex" <<'EOF'
#!/bin/sh
for a in "$@"; do
  case "$a" in
    login) umask 077; cat "$FAKE_CODEX_AUTH" > "$CODEX_HOME/auth.json" || exit 1; exit 0 ;;
  esac
done
exit 0
EOF
chmod 755 "$ROOT/bin/fake-codex"

say "usage server"
"$PY" "$BENCH/helper.py" server --port-file "$ROOT/port" --parent $$ &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$ROOT/port" ] && break; sleep 0.05; done
[ -s "$ROOT/port" ] || die "the usage server did not start"
URL=http://127.0.0.1:$(cat "$ROOT/port")
ctl() { curl -fsS "$URL/_ctl/$1" >/dev/null; }

names=(a01 a02)
for i in $(seq 1 200); do names+=("c$(printf %03d "$i")"); done
"$PY" "$BENCH/helper.py" auth --dir "$ROOT/auth" "${names[@]}"

# world DIR CODEX_HOME NAMES... : a SWOP_HOME sharing sessions with CODEX_HOME.
world() {
    local w=$1 shared=$2
    shift 2
    mkdir -p "$w/swop" "$shared/sessions"
    chmod 700 "$w/swop"
    cat > "$w/swop/swop.toml" <<EOF
[usage]
base_url = "$URL/backend-api"
timeout = "$COLD_TIMEOUT"
cache_ttl = "24h"
stale_after = "24h"

[failover]
mode = "off"

[sandbox]
shared_home = "$shared"
EOF
    for n in "$@"; do
        SWOP_HOME=$w/swop SWOP_CODEX=$ROOT/bin/fake-codex FAKE_CODEX_AUTH=$ROOT/auth/$n.json \
            "$SWOP" add "$n" >/dev/null 2>"$ROOT/add.log" || { cat "$ROOT/add.log" >&2; die "swop add $n"; }
    done
}

say "synthetic codex homes (${SIZES[*]} rollouts over $DAYS days)"
H50=$ROOT/homes/50000
"$PY" "$BENCH/sizes.py" gen --root "$H50/codex/sessions" --count 50000 --days "$DAYS" \
    --projects "$ROOT/projects" --pad "$PAD"
"$PY" "$BENCH/sizes.py" subset --from "$H50/codex/sessions" --to "$ROOT/homes/10000/codex/sessions" --every 5
"$PY" "$BENCH/sizes.py" subset --from "$H50/codex/sessions" --to "$ROOT/homes/1000/codex/sessions" --every 50
"$PY" "$BENCH/sizes.py" subset --from "$H50/codex/sessions" --to "$ROOT/homes/noline/codex/sessions" --every 1
"$PY" "$BENCH/sizes.py" noline --root "$ROOT/homes/noline/codex/sessions" --size $((1 << 30))
mkdir -p "$ROOT/homes/0/codex/sessions" "$ROOT/homes/big/codex/sessions"
BIG500=$("$PY" "$BENCH/sizes.py" big --root "$ROOT/homes/big/codex/sessions" --cwd "$ROOT/projects/big" \
    --size 500000000 --days-ago 3)
BIG2000=$("$PY" "$BENCH/sizes.py" big --root "$ROOT/homes/big/codex/sessions" --cwd "$ROOT/projects/big" \
    --size 2000000000 --days-ago 2)
big_path() { find "$ROOT/homes/big/codex/sessions" -name "*$1.jsonl"; }
for h in "${SIZES[@]}" noline big; do
    world "$ROOT/homes/$h" "$ROOT/homes/$h/codex" a01 a02
    SWOP_HOME=$ROOT/homes/$h/swop "$SWOP" status --refresh >/dev/null 2>&1 || die "swop status in $h"
done
TODAY=$(date -u +%Y/%m/%d)
# What the stand-in wrote (its ids end in b0b0...), removed before each run.
CLEAN="sh -c 'rm -f $ROOT/homes/*/codex/sessions/$TODAY/*-8000-b0b0*.jsonl'"
HF=(hyperfine -N --style basic)

# rounds NAME CWD CMDARGS... : every size and binary, interleaved in rounds.
rounds() {
    local name=$1 dir=$2
    shift 2
    local cmds=()
    for b in "${BINS[@]}"; do
        for s in "${SIZES[@]}"; do
            cmds+=(-n "$b $s" "env SWOP_HOME=$ROOT/homes/$s/swop $ROOT/shim-$b/codex $*")
        done
    done
    for r in $(seq "$ROUNDS"); do
        (cd "$dir" && "${HF[@]}" --warmup 2 --runs "$PER" --prepare "$CLEAN" \
            --export-json "$RES/${name}_r$r.json" "${cmds[@]}" >/dev/null)
    done
}

# rss KEY CWD HOME BIN ARGS... : peak RSS of RSS_RUNS runs.
rss() {
    local key=$1 dir=$2 home=$3 b=$4
    shift 4
    for i in $(seq "$RSS_RUNS"); do
        sh -c "$CLEAN"
        (cd "$dir" && /usr/bin/time -f %M -o "$RES/rss_${key}_$i.txt" \
            env SWOP_HOME="$home/swop" "$ROOT/shim-$b/codex" "$@" >/dev/null 2>&1) || true
    done
}

say "after an interactive session exits"
export SWOP_CODEX=$ROOT/bin/rollout ROLLOUT_SOURCE=cli ROLLOUT_META_PAD=$PAD
rounds after "$ROOT/projects/p00" hi
for b in "${BINS[@]}"; do for s in "${SIZES[@]}"; do
    rss "after_${b}_$s" "$ROOT/projects/p00" "$ROOT/homes/$s" "$b" hi
done; done

say "resume --last, with and without sessions"
export SWOP_CODEX=$ROOT/bin/stamp
rounds last_with "$ROOT/projects/p00" exec resume --last hi
rounds last_without "$ROOT/projects/empty" exec resume --last hi
for b in "${BINS[@]}"; do for s in "${SIZES[@]}"; do
    rss "last_with_${b}_$s" "$ROOT/projects/p00" "$ROOT/homes/$s" "$b" exec resume --last hi
    rss "last_without_${b}_$s" "$ROOT/projects/empty" "$ROOT/homes/$s" "$b" exec resume --last hi
done; done

say "edge cases: first --last, a first line that never ends, 500 MB and 2 GB rollouts"
W50=$ROOT/homes/50000/swop
(cd "$ROOT/projects/p00" && "${HF[@]}" --runs 5 --prepare "rm -f $W50/cache/sessions/last.json" \
    --export-json "$RES/extra_first.json" -n "new first_last" \
    "env SWOP_HOME=$W50 $ROOT/shim-new/codex exec resume --last hi" >/dev/null)
for i in 1 2 3; do
    rm -f "$W50/cache/sessions/last.json"
    (cd "$ROOT/projects/p00" && /usr/bin/time -f %M -o "$RES/rss_first_last_new_$i.txt" \
        env SWOP_HOME="$W50" "$ROOT/shim-new/codex" exec resume --last hi >/dev/null 2>&1) || true
done
edge() { # KEY CWD HOME ARGS...
    local key=$1 dir=$2 home=$3
    shift 3
    for b in "${BINS[@]}"; do
        local n=10
        [ "$b" = old ] && n=3
        (cd "$dir" && "${HF[@]}" --warmup 1 --runs "$n" --export-json "$RES/extra_${key}_$b.json" \
            -n "$b $key" "env SWOP_HOME=$home/swop $ROOT/shim-$b/codex $*" >/dev/null)
        for i in $(seq 3); do
            (cd "$dir" && /usr/bin/time -f %M -o "$RES/rss_${key}_${b}_$i.txt" \
                env SWOP_HOME="$home/swop" "$ROOT/shim-$b/codex" "$@" >/dev/null 2>&1) || true
        done
    done
}
edge noline "$ROOT/projects/p00" "$ROOT/homes/noline" exec resume --last hi
export SWOP_CODEX=$ROOT/bin/rollout
ROLLOUT_APPEND=$(big_path "$BIG500") edge big500 "$ROOT/projects/big" "$ROOT/homes/big" resume "$BIG500"
ROLLOUT_APPEND=$(big_path "$BIG2000") edge big2000 "$ROOT/projects/big" "$ROOT/homes/big" resume "$BIG2000"

say "swop ps with 4 live sessions"
export SWOP_CODEX=$ROOT/bin/rollout RUN_MS=3600000
for s in "${SIZES[@]}"; do
    for p in p01 p02 p03 p04; do
        (cd "$ROOT/projects/$p" && exec env SWOP_HOME="$ROOT/homes/$s/swop" "$ROOT/shim-new/codex" hi \
            </dev/null >/dev/null 2>&1) &
        LIVE+=($!)
    done
done
unset RUN_MS
for s in "${SIZES[@]}"; do
    for _ in $(seq 200); do
        n=$(SWOP_HOME=$ROOT/homes/$s/swop "$SWOP" ps --json | python3 -c \
            'import json,sys; print(sum(1 for s in json.load(sys.stdin)["sessions"] if s.get("session_id")))')
        [ "$n" = 4 ] && break
        sleep 0.05
    done
    [ "$n" = 4 ] || die "4 live sessions with their rollouts not seen in home $s ($n)"
done
ps_cmds=()
for b in "${BINS[@]}"; do for s in "${SIZES[@]}"; do
    ps_cmds+=(-n "$b $s" "env SWOP_HOME=$ROOT/homes/$s/swop $(bin_of "$b") ps")
done; done
for r in $(seq "$ROUNDS"); do
    "${HF[@]}" --warmup 2 --runs "$PER" --export-json "$RES/ps_r$r.json" "${ps_cmds[@]}" >/dev/null
done
for b in "${BINS[@]}"; do for s in "${SIZES[@]}"; do
    for i in $(seq "$RSS_RUNS"); do
        /usr/bin/time -f %M -o "$RES/rss_ps_${b}_${s}_$i.txt" env SWOP_HOME="$ROOT/homes/$s/swop" \
            "$(bin_of "$b")" ps >/dev/null 2>&1 || true
    done
done; done
stop_live

say "cold pick over ${COLD_COUNTS[*]} accounts"
cnames=("${names[@]:2}")
for n in "${COLD_COUNTS[@]}"; do
    world "$ROOT/cold/n$n" "$ROOT/cold/n$n/codex" "${cnames[@]:0:$n}"
done
ctl "set?delay=$COLD_DELAY&mode=ok"
cold_cmds=()
for b in "${BINS[@]}"; do for n in "${COLD_COUNTS[@]}"; do
    cold_cmds+=(-n "$b $n" "env SWOP_HOME=$ROOT/cold/n$n/swop $(bin_of "$b") pick")
done; done
"${HF[@]}" --warmup 1 --runs "$COLD_RUNS" --prepare "sh -c 'rm -rf $ROOT/cold/n*/swop/cache'" \
    --export-json "$RES/cold.json" "${cold_cmds[@]}" >/dev/null
echo '{' > "$RES/cold_threads.json.tmp"
echo '{' > "$RES/cold_answered.json.tmp"
for b in "${BINS[@]}"; do for n in "${COLD_COUNTS[@]}"; do
    W=$ROOT/cold/n$n/swop
    for i in 1 2 3; do
        rm -rf "$W/cache"
        /usr/bin/time -f %M -o "$RES/rss_cold_${b}_${n}_$i.txt" env SWOP_HOME="$W" "$(bin_of "$b")" pick \
            >/dev/null 2>&1 || true
    done
    answered=$(find "$W/cache" -maxdepth 1 -name 'c*.json' | wc -l | tr -d ' ')
    echo "\"$b $n\": \"$answered of $n\"," >> "$RES/cold_answered.json.tmp"
    if command -v strace >/dev/null; then
        rm -rf "$W/cache"
        SWOP_HOME=$W strace -f -qq -e trace=clone,clone3 -o "$RES/strace_cold_${b}_$n.log" \
            "$(bin_of "$b")" pick >/dev/null 2>&1 || true
        threads=$(grep -c 'clone' "$RES/strace_cold_${b}_$n.log" || true)
        echo "\"$b $n\": $threads," >> "$RES/cold_threads.json.tmp"
    fi
done; done
echo '"": 0}' >> "$RES/cold_threads.json.tmp"
echo '"": 0}' >> "$RES/cold_answered.json.tmp"
mv "$RES/cold_threads.json.tmp" "$RES/cold_threads.json"
mv "$RES/cold_answered.json.tmp" "$RES/cold_answered.json"
ctl "set?delay=0"

say "warm path: codex exec hi over 16 accounts with a fresh cache, against a direct exec"
# The cold pick above left every n16 account's usage fresh (cache_ttl 24h).
W16=$ROOT/cold/n16/swop
SWOP_HOME=$W16 "$SWOP" pick >/dev/null 2>&1 || die "swop pick in n16"
export SWOP_CODEX=$ROOT/bin/stamp
warm_cmds=(-n direct "$ROOT/bin/stamp exec hi")
for b in "${BINS[@]}"; do warm_cmds+=(-n "$b" "env SWOP_HOME=$W16 $ROOT/shim-$b/codex exec hi"); done
for r in $(seq "$ROUNDS"); do
    (cd "$ROOT/projects/empty" && "${HF[@]}" --warmup 3 --runs "$PER" --export-json "$RES/warm_r$r.json" \
        "${warm_cmds[@]}" >/dev/null)
done
before=$(curl -fsS "$URL/_ctl/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
for _ in $(seq 20); do
    (cd "$ROOT/projects/empty" && SWOP_HOME=$W16 "$ROOT/shim-new/codex" exec hi >/dev/null 2>&1)
done
after=$(curl -fsS "$URL/_ctl/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
echo "{\"launches\": 20, \"requests\": $((after - before))}" > "$RES/warm_counts.json"

# -- report ---------------------------------------------------------------------
commit=$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(cd "$REPO" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes in src/)"
fi
baseline=""
[ -n "$OLD" ] && baseline="${BENCH_BASELINE_NAME:-$OLD}"
"$PY" - "$RES/sizes_meta.json" "${BENCH_MAIN_RESULTS:-}" <<EOF
import json, os, statistics, sys
meta = {
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
    "commit": "$commit",
    "baseline": "$baseline",
    "runs": $RUNS,
    "days": $DAYS,
    "pad": $PAD,
    "sizes": "${SIZES[*]}".split(),
    "cold_counts": "${COLD_COUNTS[*]}".split(),
    "cold_delay_ms": int(float("$COLD_DELAY") * 1000),
    "cold_timeout": "$COLD_TIMEOUT",
}
main = sys.argv[2]
if main and os.path.exists(os.path.join(main, "warm.json")):
    r = {x["command"]: x for x in json.load(open(os.path.join(main, "warm.json")))["results"]}
    meta["warm_added_ms"] = (r["shim, 16 accounts"]["median"] - r["direct"]["median"]) * 1000
    c = json.load(open(os.path.join(main, "counts.json")))
    meta["warm_requests"] = c["fresh_after"] - c["fresh_before"]
res = os.path.dirname(sys.argv[1])
if "warm_added_ms" not in meta and os.path.exists(os.path.join(res, "warm_counts.json")):
    import glob
    t = {}
    for f in sorted(glob.glob(os.path.join(res, "warm_r*.json"))):
        for x in json.load(open(f))["results"]:
            t.setdefault(x["command"], []).extend(x["times"])
    d = statistics.median(t["direct"]) * 1000
    meta["warm_added_ms"] = statistics.median(t["new"]) * 1000 - d
    if "old" in t:
        meta["warm_old_added_ms"] = statistics.median(t["old"]) * 1000 - d
    meta["warm_requests"] = json.load(open(os.path.join(res, "warm_counts.json")))["requests"]
notes = os.environ.get("BENCH_SIZES_NOTES")
if notes and os.path.exists(notes):
    meta["notes"] = open(notes).read().rstrip("\n").split("\n")
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
"$PY" "$BENCH/sizes.py" report --results "$RES" --out "$OUT"
echo "wrote the codex-home-size section of $OUT" >&2
