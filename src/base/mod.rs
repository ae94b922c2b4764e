//! The base every other unit stands on: paths under SWOP_HOME, atomic files
//! and locks, the one error type, time, the terminal, "did you mean".
//!
//! Knows nothing of accounts, usage or codex; never imports from another unit.

pub mod context;
pub mod error;
pub mod files;
pub mod fit;
pub mod lines;
pub mod name;
pub mod out;
pub mod paths;
pub mod process;
pub mod suggest;
pub mod term;
pub mod time;
