//! Integration tests, one binary: each module tests one concern; shared
//! helpers are in `common`, `git_sandbox` and `harness`.

mod common;
mod context;
mod fake_claude;
mod git_sandbox;
mod session_lock;
