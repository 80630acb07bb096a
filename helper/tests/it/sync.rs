//! The account-wide keys of `.claude.json` stay account-wide (issue 9): what
//! one worktree's session changes reaches the account when it ends, and the
//! other worktrees at their next launch. (The same with the real Claude Code
//! is in `real/`.)

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;
use crate::launch::{config_dir, launch_reporting, log_in_outside_git, run_report};

fn servers(state: &Value) -> Vec<String> {
    let mut names: Vec<String> = state["mcpServers"]
        .as_object()
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_user_server_added_or_removed_in_one_worktree_reaches_the_others() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let account_file = env.account_dir("max").join(".claude.json");
    let repo = env.repo("repo");
    let one = env.worktree(&repo, "one");
    let two = env.worktree(&repo, "two");
    let rt_two = config_dir(&run_report(&mut env, "max", &two, &[], ""));

    let (out, _) = launch_reporting(
        &mut env,
        "max",
        &one,
        &[],
        &[("FAKE_CLAUDE_ACTIONS", "add-mcp:mine")],
    );
    assert!(stderr(&out).contains("mcpServers.mine"), "{}", stderr(&out));
    assert_eq!(servers(&read_json(&account_file)), ["mine", "nix-server"]);
    run_report(&mut env, "max", &two, &[], "");
    assert_eq!(
        servers(&read_json(&rt_two.join(".claude.json"))),
        ["mine", "nix-server"]
    );

    // Removed in the second worktree (like `claude mcp remove -s user`):
    // gone from the account and, at its next launch, from the first.
    let mut state = read_json(&rt_two.join(".claude.json"));
    state["mcpServers"].as_object_mut().unwrap().remove("mine");
    let set = format!("set-key:mcpServers={}", state["mcpServers"]);
    run_report(&mut env, "max", &two, &[], &set);
    assert_eq!(servers(&read_json(&account_file)), ["nix-server"]);
    let rt_one = config_dir(&run_report(&mut env, "max", &one, &[], ""));
    assert_eq!(
        servers(&read_json(&rt_one.join(".claude.json"))),
        ["nix-server"]
    );
}

#[test]
fn trust_accepted_in_one_worktree_holds_in_every_worktree() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["projectSeedKeys"] =
        json!(["hasTrustDialogAccepted", "allowedTools"]);
    log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let key = repo.to_str().unwrap().to_string();
    let one = env.worktree(&repo, "one");
    let trusted = json!({&key: {"hasTrustDialogAccepted": true, "allowedTools": ["Bash(make)"], "history": ["x"]}});
    run_report(
        &mut env,
        "max",
        &one,
        &[],
        &format!("set-key:projects={trusted}"),
    );
    let account = read_json(&env.account_dir("max").join(".claude.json"));
    assert_eq!(
        account["projects"][&key],
        json!({"hasTrustDialogAccepted": true, "allowedTools": ["Bash(make)"]}),
        "only the consent fields reach the account"
    );
    let two = env.worktree(&repo, "two");
    let rt = config_dir(&run_report(&mut env, "max", &two, &[], ""));
    let state = read_json(&rt.join(".claude.json"));
    assert_eq!(state["projects"][&key]["hasTrustDialogAccepted"], true);
    assert_eq!(
        state["projects"][&key]["allowedTools"],
        json!(["Bash(make)"])
    );
}

#[test]
fn overlay_and_nix_servers_never_reach_the_account() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    env.manifest["accounts"]["max"]["trustedProjects"] = json!([repo]);
    assert_success(&env.activate(&[]));
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    std::fs::write(
        repo.join(".claude/.mcp.json"),
        r#"{"mcpServers": {"db": {"command": "pg-mcp"}}}"#,
    )
    .unwrap();
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], "add-mcp:mine"));
    assert_eq!(
        servers(&read_json(&rt.join(".claude.json"))),
        ["db", "mine", "nix-server"]
    );
    let account = read_json(&env.account_dir("max").join(".claude.json"));
    assert_eq!(servers(&account), ["mine", "nix-server"], "{account}");
    // Nix's server in the account is the account's own apply, not a sync:
    // changing it at runtime is drift, enforced back, not shared.
    let set = r#"set-key:mcpServers={"nix-server":{"command":"changed"},"mine":{"command":"m"},"db":{"command":"pg-mcp"}}"#;
    run_report(&mut env, "max", &repo, &[], set);
    let account = read_json(&env.account_dir("max").join(".claude.json"));
    assert_eq!(account["mcpServers"]["nix-server"]["command"], "nix-mcp");
    assert_eq!(account["mcpServers"]["mine"], json!({"command": "m"}));
}

#[test]
fn both_sides_changing_one_server_keeps_the_later_change_and_says_so() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let account_file = env.account_dir("max").join(".claude.json");
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let rt = config_dir(&run_report(&mut env, "max", &wt, &[], "add-mcp:shared"));
    // A session in the worktree changed it but never finished (its
    // launcher was killed), then the account changed it too, later.
    let mut state = read_json(&rt.join(".claude.json"));
    state["mcpServers"]["shared"] = json!({"command": "from-worktree"});
    std::fs::write(rt.join(".claude.json"), state.to_string()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let plain = env.root.join("plain");
    run_report(
        &mut env,
        "max",
        &plain,
        &[],
        r#"set-key:mcpServers={"shared":{"command":"from-account"},"nix-server":{"type":"stdio","command":"nix-mcp","args":[]}}"#,
    );
    let (out, _) = launch_reporting(&mut env, "max", &wt, &[], &[]);
    assert!(
        stderr(&out).contains("mcpServers.shared was changed both in this worktree and in the account; kept the account's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read_json(&rt.join(".claude.json"))["mcpServers"]["shared"]["command"],
        "from-account"
    );
    assert_eq!(
        read_json(&account_file)["mcpServers"]["shared"]["command"],
        "from-account"
    );

    // The other way round: the worktree's change is the later one.
    run_report(
        &mut env,
        "max",
        &plain,
        &[],
        r#"set-key:mcpServers={"shared":{"command":"account-2"},"nix-server":{"type":"stdio","command":"nix-mcp","args":[]}}"#,
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut state = read_json(&rt.join(".claude.json"));
    state["mcpServers"]["shared"] = json!({"command": "worktree-2"});
    std::fs::write(rt.join(".claude.json"), state.to_string()).unwrap();
    let (out, _) = launch_reporting(&mut env, "max", &wt, &[], &[]);
    assert!(
        stderr(&out).contains("kept this worktree's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        read_json(&account_file)["mcpServers"]["shared"]["command"],
        "worktree-2"
    );
}

#[test]
fn a_management_command_runs_beside_a_session_and_is_shared() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let (session, _) = crate::launch::start_session(&mut env, "max", &wt, &[]);
    // `claudemax mcp add -s user x -- cmd` while claudemax runs there.
    let out = env.launch(
        "max",
        &wt,
        ["mcp", "add", "-s", "user", "x", "--", "cmd"],
        &[("FAKE_CLAUDE_ACTIONS", "add-mcp:x")],
    );
    assert_success(&out);
    assert!(
        !stderr(&out).contains("already running"),
        "{}",
        stderr(&out)
    );
    let account = read_json(&env.account_dir("max").join(".claude.json"));
    assert!(account["mcpServers"]["x"].is_object(), "{account}");
    // A session, though, is still one per worktree.
    let out = env.launch("max", &wt, Vec::<&str>::new(), &[]);
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));
    crate::launch::stop(session);
}

#[test]
fn a_reset_claude_json_on_either_side_is_restored_not_propagated() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let account_file = env.account_dir("max").join(".claude.json");
    let repo = env.repo("repo");
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], "add-mcp:mine"));
    let before = read_json(&account_file);
    // Claude Code resets a .claude.json it cannot parse: the worktree's.
    std::fs::write(rt.join(".claude.json"), "{\"numStartups\": 1}").unwrap();
    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(
        stderr(&out).contains("restored them from the account's"),
        "{}",
        stderr(&out)
    );
    let account = read_json(&account_file);
    assert_eq!(account["oauthAccount"], before["oauthAccount"]);
    assert_eq!(servers(&account), ["mine", "nix-server"]);
    let state = read_json(&rt.join(".claude.json"));
    assert_eq!(state["oauthAccount"], before["oauthAccount"]);
    assert_eq!(servers(&state), ["mine", "nix-server"]);

    // The account's: the worktree restores it.
    std::fs::write(&account_file, "{\"numStartups\": 1}").unwrap();
    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(
        stderr(&out).contains("restored them from the worktree's"),
        "{}",
        stderr(&out)
    );
    let account = read_json(&account_file);
    assert_eq!(account["oauthAccount"], before["oauthAccount"]);
    assert_eq!(account["userID"], before["userID"]);
    // Nix's own server comes back with the account's next apply.
    assert_eq!(servers(&account), ["mine"]);
}
