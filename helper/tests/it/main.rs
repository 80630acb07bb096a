//! Integration tests, one binary: each module tests one concern; shared
//! helpers are `harness::TestEnv` (the environment) and `common`.

mod activate;
mod claude_worktree;
mod common;
mod completions;
mod configdir;
mod context;
mod dispatch;
mod escaping;
mod explain;
mod fake_claude;
mod harness;
mod jsonfile;
mod launch;
mod marketplaces;
mod modes;
mod real;
mod refusals;
mod session;
mod session_lock;
mod spare;
mod sync;
mod trust;
