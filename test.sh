#!/bin/sh
# Runs every test of swop: formatting, lints, unit and integration tests,
# including the suite that drives the real codex (npm @openai/codex, pinned),
# which this script installs into .cache/ on first use.
set -eu
cd "$(dirname "$0")"
CODEX_VERSION=0.169.0
codex_dir=${SWOP_CODEX_CACHE:-"$PWD/.cache/codex-$CODEX_VERSION"}
if [ ! -x "$codex_dir/node_modules/.bin/codex" ]; then
    echo "test.sh: installing @openai/codex@$CODEX_VERSION into $codex_dir"
    npm install --prefix "$codex_dir" --no-audit --no-fund --loglevel=error "@openai/codex@$CODEX_VERSION"
fi
# The TUI tests drive the real codex in tmux. In CI, as root, install it;
# elsewhere those tests skip without it (and fail when CI is set).
if ! command -v tmux >/dev/null 2>&1; then
    if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing tmux for the TUI tests"
        apt-get update -qq && apt-get install -y -qq tmux >/dev/null
    else
        echo "test.sh: tmux is not installed: the TUI tests will be skipped (apt-get install tmux)"
    fi
fi
SWOP_TEST_REAL_CODEX="$codex_dir/node_modules/.bin/codex"
export SWOP_TEST_REAL_CODEX
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
