//! Integration tests, one binary: each module tests one concern; shared
//! helpers are in `common`, `git_sandbox` and `harness`.

mod activate;
mod common;
mod context;
mod fake_claude;
mod git_sandbox;
mod harness;
mod jsonfile;
mod launch;
mod session_lock;
