//! Issue 9, "Done when", with the real Claude Code: one account in every
//! worktree. Each test drives `claude-accounts launch` in several worktrees
//! of one repository, the way a user runs `claudemax` there.

use std::fs;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use serde_json::json;

use super::api::{REPLY_TEXT, Request, ToolRule, message_models};
use super::harness::{FAKE_MCP, RealEnv, sanitized};
use crate::common::{list, read, wait_until, write};
use crate::harness::{assert_success, stdout};

/// Asserts every message request carries the account's token.
#[track_caller]
fn assert_token(requests: &[Request], account: &str) {
    let messages: Vec<&Request> = requests.iter().filter(|r| r.is_message()).collect();
    assert!(!messages.is_empty(), "no message request was sent");
    let expected = format!("Bearer {}", RealEnv::token(account));
    for request in messages {
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
    }
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("inspecting {}: {e}", path.display()))
        .ino()
}

#[test]
fn after_trusting_a_project_once_a_new_linked_worktree_opens_without_the_dialog() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let main = env.interactive("max", &repo, &[]);
    main.accept_trust_dialog();
    assert_eq!(main.exit(), 0);

    // The first launch left a runtime dir made in advance for the next
    // worktree (runtime/spare.rs): the new worktree's session runs in it.
    let spares = env.home.join(".local/state/claude-accounts/max");
    let spare = list(&spares)
        .into_iter()
        .find(|name| name.starts_with("spare-"))
        .map(|name| spares.join(name))
        .expect("a spare runtime dir after the first launch");
    let spare_ino = inode(&spare);
    let fresh = env.worktree(&repo, "fresh");
    let mark = env.api.count();
    let screen = env.interactive("max", &fresh, &[]);
    screen.expect_ready_without_trust_dialog();
    screen.submit("hello from the new worktree");
    screen.wait_for(REPLY_TEXT);
    assert_eq!(screen.exit(), 0);
    assert_eq!(
        inode(&env.runtime_dir(&fresh, "max")),
        spare_ino,
        "the session ran in the spare, renamed into the worktree's git dir"
    );
    assert_token(&env.api.since(mark), "max");
    let history = env.account_dir("max").join("history.jsonl");
    assert!(
        read(&history).contains("hello from the new worktree"),
        "the prompt is not in the account's {}",
        history.display()
    );
}

#[test]
fn the_accounts_memory_and_agents_reach_a_session_in_a_linked_worktree() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let account = env.account_dir("max");
    write(
        &account.join("CLAUDE.md"),
        "Account memory: MEMORY-MARK-7\n",
    );
    write(
        &account.join("agents").join("reviewer.md"),
        "---\nname: reviewer-mark-7\ndescription: Reviews code for the test AGENT-MARK-7\n---\nReview.\n",
    );
    let repo = env.repo("repo");
    let linked = env.worktree(&repo, "linked");
    let run = env.print("max", &linked, "hello", &[]);
    assert_success(&run.output);
    let body = run
        .messages()
        .first()
        .expect("a message request")
        .body_text();
    for mark in ["MEMORY-MARK-7", "reviewer-mark-7"] {
        assert!(
            body.contains(mark),
            "{mark} of the account is not in the request"
        );
    }
}

#[test]
fn a_user_scope_server_added_or_removed_in_one_worktree_is_so_in_another() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let (one, two) = (env.worktree(&repo, "one"), env.worktree(&repo, "two"));
    let log = env.mcp_log.to_string_lossy().into_owned();
    let add = env.run(
        "max",
        &one,
        &[
            "mcp", "add", "-s", "user", "added", "--", FAKE_MCP, "--log", &log, "--name", "added",
        ],
    );
    assert_success(&add.output);

    let list = env.run("max", &two, &["mcp", "list"]);
    assert_success(&list.output);
    let out = stdout(&list.output);
    assert!(
        out.lines()
            .any(|l| l.starts_with("added: ") && l.ends_with("✔ Connected")),
        "`mcp list` in the other worktree:\n{out}"
    );
    assert_eq!(env.mcp_starts(), vec!["added"]);

    // A removal made in the other worktree reaches the first one too.
    let remove = env.run("max", &two, &["mcp", "remove", "-s", "user", "added"]);
    assert_success(&remove.output);
    let list = env.run("max", &one, &["mcp", "list"]);
    assert_success(&list.output);
    let out = stdout(&list.output);
    assert!(
        !out.contains("added"),
        "`mcp list` after the removal in the other worktree:\n{out}"
    );
}

#[test]
fn a_model_chosen_in_one_worktree_is_the_next_sessions_model_in_another() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let (one, two) = (env.worktree(&repo, "one"), env.worktree(&repo, "two"));
    let screen = env.interactive("max", &one, &[]);
    screen.ready_trusting();
    screen.set_model("haiku");
    assert_eq!(screen.exit(), 0);

    let run = env.print("max", &two, "which model?", &[]);
    assert_success(&run.output);
    assert_eq!(message_models(&run.requests), vec!["claude-haiku-5-5"]);
}

#[test]
fn the_transcripts_of_a_removed_worktree_remain_in_the_account() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let gone = env.worktree(&repo, "gone");
    let run = env.print("max", &gone, "remember this line", &[]);
    assert_success(&run.output);
    let session = run
        .messages()
        .first()
        .and_then(|r| r.header("x-claude-code-session-id"))
        .expect("a session id header")
        .to_string();

    env.git(
        &repo,
        &["worktree", "remove", "--force", gone.to_str().unwrap()],
    );
    assert!(!gone.exists());
    let transcript = env
        .account_dir("max")
        .join("projects")
        .join(sanitized(&gone))
        .join(format!("{session}.jsonl"));
    assert!(
        transcript.is_file(),
        "{} is missing after `git worktree remove`",
        transcript.display()
    );
    assert!(read(&transcript).contains("remember this line"));
}

#[test]
fn runtime_dirs_hold_no_credentials_and_every_worktree_sends_the_accounts_token() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let credentials = env.account_dir("max").join(".credentials.json");
    let before = fs::read(&credentials).unwrap();
    let repo = env.repo("repo");
    let checkouts = [
        repo.clone(),
        env.worktree(&repo, "one"),
        env.worktree(&repo, "two"),
    ];
    for checkout in &checkouts {
        let run = env.print("max", checkout, "hello", &[]);
        assert_success(&run.output);
        assert_token(&run.requests, "max");
        let runtime = env.runtime_dir(checkout, "max");
        assert!(
            runtime.join(".claude.json").is_file(),
            "{} is not a runtime dir",
            runtime.display()
        );
        let found = credential_like(&runtime);
        assert!(found.is_empty(), "credentials in a runtime dir: {found:?}");
    }
    assert_eq!(
        fs::read(&credentials).unwrap(),
        before,
        "the account's login changed"
    );
}

/// Entries under `dir` (links not followed) that are credentials or hold
/// a token: `.credentials.json`, Claude's OAuth locks, or a file mentioning
/// `tok-`/`r-` tokens of the test accounts.
fn credential_like(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            if name.contains("credentials") || name.starts_with(".oauth_refresh") {
                found.push(path);
            } else if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let text = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
                if text.contains("tok-max") || text.contains("r-max") {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// `claudemax mcp add` beside a running session of the same worktree takes
/// effect account-wide, and survives that session's end (Claude rewrites its
/// `.claude.json` at exit).
#[test]
fn a_server_added_beside_a_running_session_survives_its_end_and_reaches_other_worktrees() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    env.trust("max", &repo);
    let (one, two) = (env.worktree(&repo, "one"), env.worktree(&repo, "two"));
    let running = env.interactive("max", &one, &[]);
    running.expect_ready_without_trust_dialog();
    let log = env.mcp_log.to_string_lossy().into_owned();
    let add = env.run(
        "max",
        &one,
        &[
            "mcp", "add", "-s", "user", "beside", "--", FAKE_MCP, "--log", &log, "--name", "beside",
        ],
    );
    assert_success(&add.output);
    running.submit("hello");
    running.wait_for(REPLY_TEXT);
    assert_eq!(running.exit(), 0);

    for checkout in [&two, &one] {
        let list = env.run("max", checkout, &["mcp", "list"]);
        assert_success(&list.output);
        let out = stdout(&list.output);
        assert!(
            out.lines()
                .any(|l| l.starts_with("beside: ") && l.ends_with("✔ Connected")),
            "`mcp list` in {} after the session ended:\n{out}",
            checkout.display()
        );
    }
}

/// The runtime layout covers what Claude Code really creates: after a busy
/// interactive session in a linked worktree (trust, a Bash and a Write tool
/// call, `/model`), every entry of its runtime dir is the runtime's own
/// (`.claude.json` and Claude's files beside it, `backups/`, the helper's
/// `.claude-accounts/`) or a link to the account's entry of that name, and
/// `status` reports nothing as not the account's.
#[test]
fn after_a_busy_session_a_runtime_holds_only_its_own_entries_and_links_to_the_accounts() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let linked = env.worktree(&repo, "linked");
    env.api
        .add_rule(ToolRule::bash("RUN-A-COMMAND", "touch ran"));
    env.api.add_rule(ToolRule {
        trigger: "WRITE-A-FILE".to_string(),
        tool: "Write".to_string(),
        input: json!({"file_path": linked.join("written.txt"), "content": "written\n"}),
    });
    let screen = env.interactive(
        "max",
        &linked,
        &["--allowedTools", "Bash(touch ran)", "Write"],
    );
    screen.accept_trust_dialog();
    screen.submit("RUN-A-COMMAND");
    screen.wait_for(REPLY_TEXT);
    screen.submit("WRITE-A-FILE");
    wait_until("the Write tool ran", || {
        linked.join("written.txt").is_file()
    });
    screen.set_model("haiku");
    assert_eq!(screen.exit(), 0);
    assert!(linked.join("ran").is_file(), "the Bash tool did not run");

    let runtime = env.runtime_dir(&linked, "max");
    let account = env.account_dir("max");
    assert!(
        runtime.join(".claude.json").is_file(),
        "{} is not a runtime dir",
        runtime.display()
    );
    let own = |name: &str| {
        name == ".claude.json"
            || name.starts_with(".claude.json.")
            || name == "backups"
            || name == ".claude-accounts"
    };
    let stray: Vec<String> = list(&runtime)
        .into_iter()
        .filter(|name| {
            !own(name) && fs::read_link(runtime.join(name)).ok() != Some(account.join(name))
        })
        .collect();
    assert_eq!(
        stray,
        Vec::<String>::new(),
        "entries of {} that are neither its own nor the account's",
        runtime.display()
    );

    let manifest = env.write_manifest();
    let root = env.root.clone();
    let status = env
        .helper(&root)
        .args(["status", "--manifest"])
        .arg(&manifest)
        .output()
        .expect("running claude-accounts status");
    assert_success(&status);
    assert!(
        !stdout(&status).contains("not the account's"),
        "status:\n{}",
        stdout(&status)
    );
}

/// A year of use makes `.claude.json` large: shared into from sessions in two
/// worktrees, an account file of about 1 MB (mapped under a lease, and
/// written over the version the previous share replaced) takes each user
/// server, loses nothing of its projects, and both sessions' servers are
/// connected everywhere.
#[test]
fn a_large_account_file_takes_servers_from_every_worktree_and_loses_nothing() {
    use std::os::unix::fs::MetadataExt;
    let mut env = RealEnv::new();
    let account = env.account_dir("max");
    let history: Vec<_> = (0..2000)
        .map(|i| json!({"display": format!("prompt {i}: fix the módulo ✓"), "pastedContents": {}}))
        .collect();
    let old_project = json!({"history": history, "hasTrustDialogAccepted": true});
    write(
        &account.join(".claude.json"),
        &serde_json::to_string_pretty(&json!({"projects": {"/home/old/project": old_project}}))
            .unwrap(),
    );
    env.log_in("max");
    let size = fs::metadata(account.join(".claude.json")).unwrap().len();
    assert!(size > 128 << 10, "large enough to be mapped: {size} bytes");
    let repo = env.repo("repo");
    let (one, two) = (env.worktree(&repo, "one"), env.worktree(&repo, "two"));
    let log = env.mcp_log.to_string_lossy().into_owned();
    let kept = account.join("..claude.json.tmp.claude-accounts.recycled");
    let mut inodes = Vec::new();
    for (name, from) in [("first", &one), ("second", &two)] {
        let add = env.run(
            "max",
            from,
            &[
                "mcp", "add", "-s", "user", name, "--", FAKE_MCP, "--log", &log, "--name", name,
            ],
        );
        assert_success(&add.output);
        inodes.push((inode(&account.join(".claude.json")), inode(&kept)));
    }
    assert_eq!(
        inodes[1].0, inodes[0].1,
        "the second share wrote over the version the first replaced"
    );
    for checkout in [&one, &two] {
        let list = env.run("max", checkout, &["mcp", "list"]);
        assert_success(&list.output);
        let out = stdout(&list.output);
        for name in ["first", "second"] {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(&format!("{name}: ")) && l.ends_with("✔ Connected")),
                "`mcp list` in {}:\n{out}",
                checkout.display()
            );
        }
    }
    let now = crate::common::read_json(&account.join(".claude.json"));
    assert_eq!(now["projects"]["/home/old/project"], old_project);
    let meta = fs::symlink_metadata(&kept).expect("the replaced version is kept");
    assert_eq!((meta.mode() & 0o777, meta.nlink()), (0o600, 1));
}
