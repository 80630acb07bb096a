//! A launcher killed (`kill -9`) while its real Claude Code session runs:
//! claude gets SIGTERM from the kernel (`PR_SET_PDEATHSIG`, see
//! `crate::launch`) and ends, so no claude is left on a runtime whose lock
//! is free, and the next launch there runs at once.

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::harness::RealEnv;
use crate::common::{read, wait_until};
use crate::harness::assert_success;

/// Whether a process with this pid exists (a zombie counts until reaped).
fn exists(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_killed_launchers_claude_ends_and_the_next_launch_runs() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let screen = env.interactive("max", &repo, &[]);
    screen.accept_trust_dialog();

    // The launcher records itself and claude once claude started.
    let record = env
        .runtime_dir(&repo, "max")
        .join(".claude-accounts/session.json");
    wait_until("the session is recorded", || {
        serde_json::from_str::<Value>(&read(&record)).is_ok_and(|r| r["claudePid"].is_i64())
    });
    let info: Value = serde_json::from_str(&read(&record)).unwrap();
    let (launcher, claude) = (
        info["pid"].as_i64().unwrap(),
        info["claudePid"].as_i64().unwrap(),
    );
    assert!(exists(launcher) && exists(claude), "{info:#}");

    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(launcher as i32, libc::SIGKILL) }, 0);
    wait_until("claude ended after its launcher was killed", || {
        !exists(claude)
    });

    let run = env.print("max", &repo, "again", &[]);
    assert_success(&run.output);
}
