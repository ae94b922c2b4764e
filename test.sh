#!/bin/sh
# Runs every test of swop: formatting, lints, unit and integration tests,
# including the suite that drives the real codex (npm @openai/codex), which
# this script installs into .cache/ on first use. The real-codex suite runs
# twice: on the pinned version and on the oldest version swop supports
# (the range the README's "Compatibility" and `swop doctor` name).
set -eu
cd "$(dirname "$0")"
CODEX_VERSION=0.169.0
CODEX_OLDEST=0.162.1

codex_for() { # version -> path of its codex binary (installed on first use)
    dir=${SWOP_CODEX_CACHE_ROOT:-"$PWD/.cache"}/codex-$1
    if [ ! -x "$dir/node_modules/.bin/codex" ]; then
        echo "test.sh: installing @openai/codex@$1 into $dir" >&2
        npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "@openai/codex@$1" >&2
    fi
    echo "$dir/node_modules/.bin/codex"
}

SWOP_TEST_REAL_CODEX=${SWOP_CODEX_CACHE:+"$SWOP_CODEX_CACHE/node_modules/.bin/codex"}
[ -n "$SWOP_TEST_REAL_CODEX" ] || SWOP_TEST_REAL_CODEX=$(codex_for "$CODEX_VERSION")
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
export SWOP_TEST_REAL_CODEX
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
echo "test.sh: the real-codex suite again on the oldest supported codex, $CODEX_OLDEST"
SWOP_TEST_REAL_CODEX=$(codex_for "$CODEX_OLDEST") cargo test --locked --test tests real_codex::
