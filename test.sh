#!/bin/sh
# Runs every test of swop: formatting, lints, unit and integration tests,
# including the suite that drives the real codex (npm @openai/codex), which
# this script installs into .cache/ on first use. The real-codex suite runs
# twice: on the pinned version and on the oldest version swop supports, both
# named in codex-versions.txt (the range the README's "Compatibility" and
# `swop doctor` name). Today: the real-codex suite on 0.171.0 and 0.162.1
# (a unit test keeps this line in step with codex-versions.txt).
#
#   ./test.sh                     everything, as CI runs it
#   ./test.sh --codex VERSION     the whole test suite against that codex
#   ./test.sh --codex latest      ... against npm's newest release
#   CODEX_VERSION=VERSION ./test.sh   the same as --codex VERSION
#
# --codex is the upgrade check: it installs that release, runs every test
# (the real-codex ones included) with it, and says which version it tested.
# When it passes, raise `pinned` in codex-versions.txt.
set -eu
cd "$(dirname "$0")"

version_of() { # key -> its value in codex-versions.txt
    sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" codex-versions.txt
}
PINNED=$(version_of pinned)
OLDEST=$(version_of oldest)
[ -n "$PINNED" ] && [ -n "$OLDEST" ] || {
    echo "test.sh: codex-versions.txt must name 'oldest' and 'pinned'" >&2
    exit 2
}

CHECK=${CODEX_VERSION:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --codex) [ $# -ge 2 ] || { echo "test.sh: --codex needs a version (or latest)" >&2; exit 2; }
                 CHECK=$2; shift ;;
        --codex=*) CHECK=${1#--codex=} ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown option '$1' (see ./test.sh --help)" >&2; exit 2 ;;
    esac
    shift
done

codex_for() { # version -> path of its codex binary (installed on first use)
    dir=${SWOP_CODEX_CACHE_ROOT:-"$PWD/.cache"}/codex-$1
    if [ ! -x "$dir/node_modules/.bin/codex" ]; then
        echo "test.sh: installing @openai/codex@$1 into $dir" >&2
        npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@openai/codex@$1" >&2
    fi
    echo "$dir/node_modules/.bin/codex"
}

announce() { # path -> says which codex the real-codex tests drive
    echo "test.sh: the real-codex tests run $("$1" --version) ($1)"
}

# The TUI tests drive the real codex in tmux; the completion tests run the
# scripts in real zsh and fish, and bash-completion's loader. In CI, as
# root, install them; elsewhere those tests skip without them (and fail
# when CI is set).
missing=""
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v zsh >/dev/null 2>&1 || missing="$missing zsh"
command -v fish >/dev/null 2>&1 || missing="$missing fish"
[ -f /usr/share/bash-completion/bash_completion ] || missing="$missing bash-completion"
if [ -n "$missing" ]; then
    if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing$missing for the TUI and completion tests"
        # shellcheck disable=SC2086 # one word per package
        apt-get update -qq && apt-get install -y -qq $missing >/dev/null
    else
        echo "test.sh: not installed:$missing; the tests that need them will be skipped (apt-get install$missing)"
    fi
fi

if [ -n "$CHECK" ]; then
    if [ "$CHECK" = latest ]; then
        CHECK=$(npm view @openai/codex version)
        echo "test.sh: npm's latest @openai/codex is $CHECK"
    fi
    SWOP_TEST_REAL_CODEX=$(codex_for "$CHECK")
    export SWOP_TEST_REAL_CODEX
    announce "$SWOP_TEST_REAL_CODEX"
    cargo test --locked
    echo "test.sh: every test passed with $("$SWOP_TEST_REAL_CODEX" --version) (tested range: $OLDEST to $PINNED in codex-versions.txt)"
    exit 0
fi

SWOP_TEST_REAL_CODEX=${SWOP_CODEX_CACHE:+"$SWOP_CODEX_CACHE/node_modules/.bin/codex"}
[ -n "$SWOP_TEST_REAL_CODEX" ] || SWOP_TEST_REAL_CODEX=$(codex_for "$PINNED")
export SWOP_TEST_REAL_CODEX
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
announce "$SWOP_TEST_REAL_CODEX"
FIRST=$("$SWOP_TEST_REAL_CODEX" --version)
cargo test --locked
echo "test.sh: the real-codex suite again on the oldest supported codex, $OLDEST"
SWOP_TEST_REAL_CODEX=$(codex_for "$OLDEST")
announce "$SWOP_TEST_REAL_CODEX"
cargo test --locked --test tests -- real_codex:: codex_daemon::
echo "test.sh: every test passed; the real-codex suite with $FIRST and $("$SWOP_TEST_REAL_CODEX" --version)"
