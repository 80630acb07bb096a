//! `status`, `diff` and `close` print one line per fact whatever a path
//! holds (issue 10, case 8a): control characters are escaped, never written
//! raw.

use pretty_assertions::assert_eq;

use crate::harness::*;

/// Lines of `text` holding a control character (other than the newline
/// that ends them).
fn raw_controls(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.chars().any(|c| c.is_control()))
        .collect()
}

#[test]
fn a_worktree_path_with_a_newline_and_an_escape_stays_on_one_line() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let wt = env.root.join("wt\n\u{1b}[2Jx\ty");
    env.git(
        &repo,
        &["worktree", "add", "-q", "-b", "odd", wt.to_str().unwrap()],
    );
    let report = env.root.join("report.json");
    let out = env.launch(
        "max",
        &wt,
        Vec::<&str>::new(),
        &[("FAKE_CLAUDE_REPORT", report.to_str().unwrap())],
    );
    assert_success(&out);
    // Something pending for diff to print.
    env.manifest["accounts"]["max"]["claudeJson"]["mcpServers"]["more"] =
        serde_json::json!({"type": "stdio", "command": "more-mcp", "args": []});
    let manifest = env.write_manifest();
    let escaped = format!("{}/wt\\n\\e[2Jx\\ty", env.root.display());

    let status = env
        .helper(&env.root.clone())
        .args(["status", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&status);
    let text = stdout(&status);
    assert_eq!(raw_controls(&text), Vec::<&str>::new(), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with(&escaped)),
        "the worktree, escaped, on its own line:\n{text}"
    );

    let diff = env
        .helper(&env.root.clone())
        .args(["diff", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&diff);
    assert!(stdout(&diff).contains("more-mcp"), "{}", stdout(&diff));
    assert_eq!(raw_controls(&stdout(&diff)), Vec::<&str>::new());

    let close = env
        .helper(&env.root.clone())
        .args(["close", "max", "--worktree"])
        .arg(&wt)
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(!close.status.success(), "nothing runs there");
    let text = stdout(&close);
    assert_eq!(raw_controls(&text), Vec::<&str>::new(), "{text}");
    assert!(
        text.contains(&format!("no session of max is running in {escaped}")),
        "{text}"
    );
}
