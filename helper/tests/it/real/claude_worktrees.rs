//! Issue 9, point 4, with the real Claude Code: `claudemax -w NAME` gets
//! the runtime of `<main root>/.claude/worktrees/NAME`, so sessions of
//! several Claude-made worktrees of one checkout run side by side.

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::api::REPLY_TEXT;
use super::harness::RealEnv;

#[test]
fn two_claude_worktrees_of_one_checkout_run_side_by_side() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    // Claude refuses `-w` in a folder not yet trusted ("Workspace trust not
    // yet accepted"): trust the project once first.
    let first = env.interactive("max", &repo, &[]);
    first.accept_trust_dialog();
    assert_eq!(first.exit(), 0);
    let a = env.interactive("max", &repo, &["-w", "a"]);
    a.expect_ready_without_trust_dialog();
    let b = env.interactive("max", &repo, &["-w", "b"]);
    b.expect_ready_without_trust_dialog();
    let mark = env.api.count();
    a.submit("hello from a");
    a.wait_for(REPLY_TEXT);
    b.submit("hello from b");
    b.wait_for(REPLY_TEXT);
    let dirs: Vec<String> = env
        .api
        .since(mark)
        .iter()
        .filter(|r| r.is_message())
        .map(|r| working_dir(&r.body))
        .collect();
    let worktrees = repo.join(".claude").join("worktrees");
    assert_eq!(
        dirs,
        vec![
            worktrees.join("a").to_string_lossy().into_owned(),
            worktrees.join("b").to_string_lossy().into_owned()
        ]
    );
    assert_eq!(a.exit(), 0);
    assert_eq!(b.exit(), 0);
    for name in ["a", "b"] {
        let runtime = env.runtime_dir(&worktrees.join(name), "max");
        assert!(
            runtime.join(".claude.json").is_file(),
            "the -w {name} session did not get {}",
            runtime.display()
        );
    }
}

/// "Primary working directory: <dir>" of a request's environment section.
fn working_dir(body: &Value) -> String {
    let text = body.to_string();
    let marker = "Primary working directory: ";
    let start = text
        .find(marker)
        .expect("a working directory in the request")
        + marker.len();
    text[start..]
        .split("\\n")
        .next()
        .unwrap_or_default()
        .to_string()
}
