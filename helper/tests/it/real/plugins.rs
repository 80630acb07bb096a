//! Home Manager parity with the real Claude Code: a personal plugin declared
//! for an account (`programs.claude-code.accounts.<name>.plugins`) reaches a
//! session. The account dir is laid out as the module lays it out: `skills`
//! links to a store directory in which each plugin is a link to a wrapper
//! directory (links to the plugin's top-level entries, a generated
//! `.claude-plugin/plugin.json`).

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::api::REPLY_TEXT;
use super::harness::RealEnv;
use crate::common::write;
use crate::harness::{assert_success, stdout};

/// The text of the plugin's command, looked for in what Claude sends.
const COMMAND_MARK: &str = "PLUGIN-COMMAND-MARK: greet the reader";
/// The description of the plugin's agent, likewise.
const AGENT_MARK: &str = "PLUGIN-AGENT-MARK greets people";

/// Lays out the plugin `greet` (a command `hello`, an agent `greeter` and an
/// MCP server `greeter` running fake-mcp) as the module renders it into `store`, and
/// returns the account's `skills` store directory.
fn render_plugin(env: &RealEnv, store: &Path) -> PathBuf {
    let source = store.join("00000000000000000000000000000001-greet-source");
    write(
        &source.join("commands/hello.md"),
        &format!("{COMMAND_MARK}\n"),
    );
    write(
        &source.join("agents/greeter.md"),
        &format!("---\nname: greeter\ndescription: {AGENT_MARK}\n---\nGreet.\n"),
    );
    write(
        &source.join(".mcp.json"),
        &json!({"mcpServers": {"greeter": env.mcp_server("plugin-greeter")}}).to_string(),
    );
    // The module's wrapper: one link per top-level entry, and a plugin.json
    // naming the plugin when the source has none.
    let wrapper = store.join("00000000000000000000000000000002-claude-max-plugin-greet");
    std::fs::create_dir_all(&wrapper).unwrap();
    for entry in ["commands", "agents", ".mcp.json"] {
        symlink(source.join(entry), wrapper.join(entry)).unwrap();
    }
    write(
        &wrapper.join(".claude-plugin/plugin.json"),
        &json!({"name": "greet"}).to_string(),
    );
    let skills = store.join("00000000000000000000000000000003-claude-max-skills");
    std::fs::create_dir_all(&skills).unwrap();
    symlink(&wrapper, skills.join("greet")).unwrap();
    skills
}

#[test]
fn a_declared_plugins_command_agent_and_mcp_server_reach_a_session() {
    let mut env = RealEnv::new();
    let store = env.store();
    let skills = render_plugin(&env, &store);
    env.log_in("max");
    // Home Manager links the asset into the account dir (linkGeneration).
    symlink(&skills, env.account_dir("max").join("skills")).unwrap();
    env.manifest["accounts"]["max"]["assets"] = json!(["skills"]);
    let repo = env.repo("repo");

    // The plugin's MCP server is Claude's, under the plugin's name.
    let run = env.run("max", &repo, &["mcp", "list"]);
    assert_success(&run.output);
    let out = stdout(&run.output);
    assert!(
        out.lines()
            .any(|l| l.starts_with("plugin:greet:greeter: ") && l.ends_with("✔ Connected")),
        "mcp list:\n{out}"
    );
    assert_eq!(env.mcp_starts(), vec!["plugin-greeter"]);

    // In a session (in a worktree's runtime dir), the plugin's command
    // expands into the prompt, its agent and its server's tool are offered.
    let run = env.print("max", &repo, "/greet:hello", &[]);
    assert_success(&run.output);
    assert!(
        stdout(&run.output).contains(REPLY_TEXT),
        "{}",
        stdout(&run.output)
    );
    let first = run
        .messages()
        .first()
        .map(|r| r.body_text())
        .unwrap_or_default();
    assert!(
        first.contains(COMMAND_MARK),
        "the command's text is not in the request: {first}"
    );
    assert!(
        first.contains("mcp__plugin_greet_greeter__"),
        "the plugin server's tool is not offered: {first}"
    );
    assert!(
        first.contains(AGENT_MARK),
        "the plugin's agent is not offered: {first}"
    );
}

/// A declared marketplace, applied by activation into the account's
/// `settings.json` (`extraKnownMarketplaces`) and
/// `plugins/known_marketplaces.json`, is one Claude Code knows.
#[test]
fn a_declared_marketplace_is_known_to_claude() {
    let mut env = RealEnv::new();
    let market = env
        .store()
        .join("00000000000000000000000000000004-team-marketplace");
    write(
        &market.join(".claude-plugin/marketplace.json"),
        &json!({"name": "team", "owner": {"name": "alice"}, "plugins": []}).to_string(),
    );
    let source = json!({"source": "directory", "path": market});
    env.manifest["accounts"]["max"]["settings"] =
        json!({"extraKnownMarketplaces": {"team": {"source": source}}});
    env.manifest["accounts"]["max"]["knownMarketplaces"] = json!({"team": {
        "source": source,
        "installLocation": market,
        "lastUpdated": "1970-01-01T00:00:00Z"
    }});
    assert_success(&env.activate(&[]));
    env.log_in("max");
    let repo = env.repo("repo");
    let run = env.run("max", &repo, &["plugin", "marketplace", "list"]);
    assert_success(&run.output);
    let out = stdout(&run.output);
    let listed: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(
        listed
            .windows(2)
            .any(|w| w[0] == "❯ team" && w[1] == format!("Source: Folder ({})", market.display())),
        "plugin marketplace list:\n{out}"
    );
}
