//! Issue 9, point 4, with the real Claude Code: `claudemax -w NAME` gets
//! the runtime of `<main root>/.claude/worktrees/NAME`, so sessions of
//! several Claude-made worktrees of one checkout run side by side.

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::api::REPLY_TEXT;
use super::harness::RealEnv;
use crate::common::{list, read};

#[test]
fn two_claude_worktrees_of_one_checkout_run_side_by_side() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    // Claude refuses `-w` in a folder not yet trusted ("Workspace trust not
    // yet accepted"): the account has trusted the project before.
    env.trust("max", &repo);
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
    // Checked while both run: Claude removes a clean worktree at exit.
    for name in ["a", "b"] {
        let runtime = env.runtime_dir(&worktrees.join(name), "max");
        assert!(
            runtime.join(".claude.json").is_file(),
            "the -w {name} session did not get {}",
            runtime.display()
        );
    }
    assert_eq!(a.exit(), 0);
    assert_eq!(b.exit(), 0);
    // Claude removed both clean worktrees at exit ("Worktree removed (no
    // changes)"); their conversations stay in the account.
    // (Claude 2.1.332 files an interactive `-w` session's transcript
    // under the directory it was started in, the main checkout.)
    let projects = env.account_dir("max").join("projects");
    let transcripts: String = list(&projects)
        .iter()
        .flat_map(|d| {
            let dir = projects.join(d);
            list(&dir)
                .into_iter()
                .filter(|f| f.ends_with(".jsonl"))
                .map(move |f| read(&dir.join(f)))
        })
        .collect();
    for name in ["a", "b"] {
        assert!(
            transcripts.contains(&format!("hello from {name}")),
            "no transcript of the -w {name} session in {}",
            projects.display()
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

/// The user's `-w` arguments keep their meaning (a name, `--worktree=NAME`,
/// none at the end), and each such session gets the runtime of the worktree
/// Claude runs in.
#[test]
fn every_form_of_the_worktree_flag_gets_that_worktrees_runtime() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let worktrees = repo.join(".claude").join("worktrees");
    for args in [
        &["-w", "named", "-p", "hello"][..],
        &["--worktree=equals", "-p", "hello"][..],
        &["-p", "hello", "-w"][..],
    ] {
        let run = env.run("max", &repo, args);
        crate::harness::assert_success(&run.output);
        let dir = run
            .requests
            .iter()
            .find(|r| r.is_message())
            .map(|r| working_dir(&r.body))
            .expect("a message request");
        let dir = std::path::PathBuf::from(dir);
        assert_eq!(
            dir.parent(),
            Some(worktrees.as_path()),
            "{args:?} ran in {}",
            dir.display()
        );
        // Claude itself writes `migrationVersion` at every start: the
        // session ran with this runtime as its config dir.
        let claude_json = env.runtime_dir(&dir, "max").join(".claude.json");
        assert!(
            claude_json.is_file() && crate::common::read(&claude_json).contains("migrationVersion"),
            "{args:?}: the session did not run in {}",
            claude_json.display()
        );
    }
}
