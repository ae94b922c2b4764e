//! swop's integration tests: one test target, one module per area.
//! The rig lives in `support/`; `rig_selftest` tests the rig itself.

// Tests print what they measured and what went wrong.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod hardening;
mod support;

mod accounts;
mod availability;
mod cli;
mod codex_daemon;
mod completions;
mod editors;
mod grammar;
mod in_turn;
mod install;
mod launch;
mod layout;
mod live;
mod never_stuck;
mod polish;
mod real_codex;
mod reliability;
mod rig_selftest;
mod sessions;
mod sharing;
mod simulate;
mod tui;
mod usage;
mod usage_refresh;
mod views;
mod widths;
