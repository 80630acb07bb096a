//! Integration tests, one binary: each module tests one concern; shared
//! helpers are in `common`.

mod common;
mod fake_claude;
mod session_lock;
