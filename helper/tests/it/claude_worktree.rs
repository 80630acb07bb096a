//! `claude<name> -w [NAME]`: Claude Code's own worktrees get their own
//! runtime dir and lock (issue 9). (With the real Claude Code: `real/`.)

use std::path::Path;
use std::process::{Child, Stdio};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;
use crate::launch::{config_dir, run_report, stop, wait_for};

/// A long-running session with claude arguments `args`.
fn session_with_args(env: &mut TestEnv, cwd: &Path, args: &[&str], tag: &str) -> (Child, Value) {
    let report = env.root.join(format!("report-w-{tag}.json"));
    let mut cmd = env.launch_cmd(
        "max",
        cwd,
        args,
        &[
            ("FAKE_CLAUDE_REPORT", report.to_str().unwrap()),
            ("FAKE_CLAUDE_RUN_MS", "forever"),
        ],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for(&report);
    (child, read_json(&report))
}

#[test]
fn two_claude_worktrees_of_one_checkout_run_side_by_side() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let (a, report_a) = session_with_args(&mut env, &repo, &["-w", "a"], "a");
    let (b, report_b) = session_with_args(&mut env, &repo, &["--worktree=b", "-p", "hi"], "b");
    assert_eq!(
        config_dir(&report_a),
        repo.join(".git/worktrees/a/claude-runtime/max")
    );
    assert_eq!(
        config_dir(&report_b),
        repo.join(".git/worktrees/b/claude-runtime/max")
    );
    assert_eq!(report_a["args"], json!(["-w", "a"]), "arguments untouched");
    assert_eq!(report_b["args"], json!(["--worktree=b", "-p", "hi"]));
    assert_eq!(
        report_a["cwd"],
        json!(repo),
        "claude changes directory itself"
    );
    for name in ["a", "b"] {
        let wt = repo.join(".claude/worktrees").join(name);
        assert_eq!(
            env.git(&wt, &["branch", "--show-current"]).trim(),
            format!("worktree-{name}")
        );
    }
    // The checkout's own session is still free to start.
    let report = run_report(&mut env, "max", &repo, &[], "");
    assert_eq!(config_dir(&report), repo.join(".git/claude-runtime/max"));
    // And a second `-w a` meets the first one's lock.
    let out = env.launch("max", &repo, ["-w", "a"], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("already running in"),
        "{}",
        stderr(&out)
    );
    stop(a);
    stop(b);
}

#[test]
fn a_bare_flag_gets_a_generated_name_and_existing_branches_are_kept() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let report = run_report(&mut env, "max", &repo, &["-p", "q", "-w"], "");
    let args: Vec<String> = serde_json::from_value(report["args"].clone()).unwrap();
    assert_eq!(&args[..3], ["-p", "q", "-w"]);
    let name = &args[3];
    assert_eq!(name.split('-').count(), 3, "{name}");
    assert!(
        repo.join(".claude/worktrees")
            .join(name)
            .join(".git")
            .is_file()
    );
    assert_eq!(
        config_dir(&report),
        repo.join(".git/worktrees")
            .join(name)
            .join("claude-runtime/max")
    );

    // A branch worktree-c with its own commit is checked out, not reset.
    env.git(&repo, &["branch", "worktree-c"]);
    let side = env.worktree(&repo, "side");
    env.git(&side, &["switch", "-q", "worktree-c"]);
    env.git(&side, &["commit", "-q", "--allow-empty", "-m", "keep me"]);
    env.git(&side, &["switch", "-q", "side"]);
    // From a linked worktree: the worktree goes under the main checkout.
    run_report(&mut env, "max", &side, &["-w", "c"], "");
    let wt = repo.join(".claude/worktrees/c");
    assert_eq!(
        env.git(&wt, &["log", "-1", "--format=%s"]).trim(),
        "keep me"
    );
}

#[test]
fn a_name_claude_refuses_creates_nothing() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let report = run_report(&mut env, "max", &repo, &["-w", "../x"], "");
    assert_eq!(config_dir(&report), repo.join(".git/claude-runtime/max"));
    assert!(!repo.join(".claude").exists());
}
