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
SWOP_TEST_REAL_CODEX="$codex_dir/node_modules/.bin/codex"
export SWOP_TEST_REAL_CODEX
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
