//! The tier works, and can fail: the account's token, model and MCP servers
//! reach the real Claude Code through `claude-accounts launch`.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::api::{REPLY_TEXT, ToolRule, message_models};
use super::harness::RealEnv;
use crate::harness::{assert_success, stdout};

#[test]
fn a_print_session_sends_the_accounts_token() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let run = env.print("max", &repo, "hello", &[]);
    assert_success(&run.output);
    assert!(
        stdout(&run.output).contains(REPLY_TEXT),
        "{}",
        stdout(&run.output)
    );
    let messages = run.messages();
    assert!(!messages.is_empty(), "no request reached the stand-in");
    for request in messages {
        assert_eq!(request.header("authorization"), Some("Bearer tok-max"));
        assert_eq!(request.header("x-api-key"), None);
    }
}

#[test]
fn the_model_of_the_accounts_settings_is_the_requests_model() {
    let mut env = RealEnv::new();
    env.manifest["accounts"]["max"]["settings"] = json!({"model": "sonnet"});
    env.log_in("max");
    let repo = env.repo("repo");
    let run = env.print("max", &repo, "hello", &[]);
    assert_success(&run.output);
    assert_eq!(message_models(&run.requests), vec!["claude-sonnet-5-5"]);
}

#[test]
fn mcp_list_shows_a_declared_server_connected() {
    let mut env = RealEnv::new();
    let server = env.mcp_server("declared");
    env.manifest["accounts"]["max"]["claudeJson"] = json!({"mcpServers": {"declared": server}});
    env.log_in("max");
    let repo = env.repo("repo");
    let run = env.run("max", &repo, &["mcp", "list"]);
    assert_success(&run.output);
    let out = stdout(&run.output);
    assert!(
        out.lines()
            .any(|l| l.starts_with("declared: ") && l.ends_with("✔ Connected")),
        "mcp list:\n{out}"
    );
    assert_eq!(env.mcp_starts(), vec!["declared"]);
}

#[test]
fn a_scripted_tool_use_runs_a_permitted_command() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    env.api.add_rule(ToolRule::bash("MAKE-MARK", "touch mark"));
    let run = env.print(
        "max",
        &repo,
        "MAKE-MARK",
        &["--allowedTools", "Bash(touch mark)"],
    );
    assert_success(&run.output);
    assert!(repo.join("mark").is_file(), "the Bash tool did not run");
    let last = run
        .messages()
        .last()
        .map(|r| r.body_text())
        .unwrap_or_default();
    assert!(
        last.contains("tool_result"),
        "the tool's result was not sent back: {last}"
    );
}

/// The interactive driver: the trust dialog of a new repository, `/model`,
/// and a second session in the same place that is not asked again.
#[test]
fn an_interactive_session_trusts_once_and_keeps_its_model_choice() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let first = env.interactive("max", &repo, &[]);
    first.accept_trust_dialog();
    first.set_model("haiku");
    let mark = env.api.count();
    first.submit("hello");
    first.wait_for(REPLY_TEXT);
    assert_eq!(first.exit(), 0);
    assert_eq!(
        message_models(&env.api.since(mark)),
        vec!["claude-haiku-5-5"]
    );

    let second = env.interactive("max", &repo, &[]);
    second.expect_ready_without_trust_dialog();
    let mark = env.api.count();
    second.submit("again");
    second.wait_for(REPLY_TEXT);
    assert_eq!(second.exit(), 0);
    assert_eq!(
        message_models(&env.api.since(mark)),
        vec!["claude-haiku-5-5"]
    );
}
