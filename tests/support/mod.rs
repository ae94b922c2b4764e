//! The integration-test rig for swop.
//!
//! - `fixtures`: JWTs, auth.json files, usage bodies, and the secret
//!   registry with `assert_no_secrets`.
//! - `backend`: a fake ChatGPT/OpenAI backend on 127.0.0.1 (usage, model
//!   turns, refresh, revoke) with injectable faults and a request log, over
//!   plain HTTP and TLS (its throwaway certificate in `backend::tls`).
//! - `fake_codex`: a sh stand-in for the real codex that logs its calls.
//! - `env`: a temp home per test and `TestCommand`, which runs the built
//!   swop with a clean environment and scans every output for secrets.
//! - `pty`: run a command on a pseudo-terminal.
//! - `tui`: drive a full-screen program (the real codex TUI) in tmux.
//! - `world`: the shortcuts area tests share (adding accounts, writing
//!   swop.toml) and `World`, the one builder of a test world.
//!
//! Nothing here talks to anything but 127.0.0.1.
#![allow(dead_code, unused_imports)]

pub mod backend;
pub mod env;
pub mod fake_codex;
pub mod fixtures;
pub mod pty;
pub mod tui;
pub mod world;

pub use backend::{
    flip_exhausted, get_usage_with, http_get, http_request, reset_usage, sse_body, Backend,
    Consume, Fault, HttpResponse, RefreshBehavior, Req, Responses,
};
pub use env::{real_codex, report, swop_bin, system_path, Output, Running, TestCommand, TestEnv};
pub use fake_codex::{parse_consume_log, parse_fake_log, write_fake_codex, FakeCall};
pub use fixtures::{
    access_token_of, api_key, apikey_auth_json, assert_no_secrets, chatgpt_auth_json,
    chatgpt_tokens, decode_jwt, find_secret, jwt, now_unix, refresh_token, refresh_token_of,
    register_secret, usage_json, Identity, SecretKind,
};
pub use pty::{run_in_pty, run_in_pty_after, run_in_pty_cols, run_in_pty_full, strip_ansi, widest};
pub use tui::{tmux_bin, Tui};
