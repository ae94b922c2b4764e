//! Tests of the test rig itself (`support/`): the fake backend, the
//! fixtures and secret scan, the fake codex, the command runner, the pty,
//! and (with SWOP_TEST_REAL_CODEX) the real codex against the backend.
//! None of these depend on swop's behaviour.
//!
//! One file per part of the rig.

mod backend;
mod commands;
mod fixtures;
mod pty;
mod real_codex;
