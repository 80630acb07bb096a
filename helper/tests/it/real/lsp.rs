//! Home Manager parity with the real Claude Code: an LSP server declared for
//! an account (`programs.claude-code.accounts.<name>.lspServers`) reaches a
//! session. The account dir is laid out as the module lays it out: `skills`
//! links to a store directory in which the generated plugin
//! `claude-code-home-manager` (plugin name `hm`) is a link to a store
//! directory holding `.claude-plugin/plugin.json` and the declared servers
//! as `.lsp.json`.
//!
//! What Claude Code 2.1.332 does with it (no `ENABLE_LSP_TOOL` needed): it
//! loads the server as `plugin:hm:<server>` at start but does not start it;
//! its `LSP` tool is deferred (loaded with `ToolSearch`, like MCP tools); the
//! first `LSP` call on a file of the server's extension starts the server in
//! the session's working dir, sends `initialize`, `initialized`,
//! `textDocument/didOpen` (with the declared language id) and the operation
//! (positions made zero-based), and returns the server's answer as the
//! tool's result; at the end of the session it sends `shutdown` and `exit`.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::api::{Request, ToolRule};
use super::harness::RealEnv;
use crate::common::{read_jsonl, write};
use crate::harness::{assert_success, stdout};

/// The project's stdio language server (`src/bin/fake-lsp.rs`).
const FAKE_LSP: &str = env!("CARGO_BIN_EXE_fake-lsp");

/// The prompt that makes the stand-in load the `LSP` tool and hover.
const TRIGGER: &str = "HOVER-THE-ZZ-FILE";

/// Lays out the account's generated LSP plugin as the module renders it
/// into `store` (`lspServers` written verbatim as `.lsp.json`), and returns
/// the account's `skills` store directory.
fn render_lsp_plugin(store: &Path, lsp_servers: &Value) -> PathBuf {
    let plugin = store.join("00000000000000000000000000000005-claude-max-lsp-plugin");
    write(
        &plugin.join(".claude-plugin/plugin.json"),
        &json!({"name": "hm"}).to_string(),
    );
    write(&plugin.join(".lsp.json"), &lsp_servers.to_string());
    let skills = store.join("00000000000000000000000000000006-claude-max-skills");
    std::fs::create_dir_all(&skills).unwrap();
    symlink(&plugin, skills.join("claude-code-home-manager")).unwrap();
    skills
}

/// The names of the tools a request offers in full (not deferred).
fn tool_names(request: &Request) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The result Claude sent back for the tool call `id`, as text.
fn tool_result(requests: &[&Request], id: &str) -> Option<String> {
    requests.iter().rev().find_map(|request| {
        request.body["messages"]
            .as_array()?
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .find(|block| block["type"] == "tool_result" && block["tool_use_id"] == id)
            .map(|block| match &block["content"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
    })
}

/// The events `fake-lsp` logged so far.
fn lsp_log(log: &Path) -> Vec<Value> {
    if log.exists() {
        read_jsonl(log)
    } else {
        vec![]
    }
}

#[test]
fn a_declared_lsp_server_is_started_and_answers_claudes_lsp_tool() {
    let mut env = RealEnv::new();
    let log = env.root.join("lsp.jsonl");
    // The server as a user declares it: a command, arguments, environment
    // (here: where fake-lsp logs) and the extensions it serves.
    let servers = json!({"zz": {
        "command": FAKE_LSP,
        "args": ["--stdio", "--name", "zz"],
        "env": {"FAKE_LSP_LOG": log},
        "extensionToLanguage": {".zz": "zzlang"},
    }});
    let skills = render_lsp_plugin(&env.store(), &servers);
    env.log_in("max");
    // Home Manager links the asset into the account dir (linkGeneration).
    symlink(&skills, env.account_dir("max").join("skills")).unwrap();
    env.manifest["accounts"]["max"]["assets"] = json!(["skills"]);
    let repo = env.repo("repo");
    let file = repo.join("main.zz");
    write(&file, "fn main() {}\n");

    // Claude knows the plugin and its server, without starting it.
    let run = env.run("max", &repo, &["plugin", "details", "hm"]);
    assert_success(&run.output);
    let out = stdout(&run.output);
    assert!(
        out.lines()
            .map(str::trim)
            .any(|l| l.starts_with("LSP servers (1)") && l.split_whitespace().any(|w| w == "zz")),
        "plugin details hm:\n{out}"
    );
    assert_eq!(lsp_log(&log), Vec::<Value>::new(), "listing started it");

    // A session: the model loads the deferred LSP tool, then hovers over
    // line 1, character 4 (one-based, as the tool takes them) of main.zz.
    env.api.add_rule(ToolRule {
        trigger: TRIGGER.to_string(),
        tool: "ToolSearch".to_string(),
        input: json!({"query": "select:LSP"}),
    });
    env.api.add_rule(ToolRule {
        trigger: TRIGGER.to_string(),
        tool: "LSP".to_string(),
        input: json!({"operation": "hover", "filePath": "main.zz", "line": 1, "character": 4}),
    });
    let run = env.print("max", &repo, TRIGGER, &[]);
    assert_success(&run.output);
    let messages = run.messages();
    let offered: Vec<Vec<String>> = messages.iter().map(|r| tool_names(r)).collect();
    assert!(
        offered.iter().any(|tools| tools.iter().any(|t| t == "LSP")),
        "no request offers the LSP tool: {offered:?}"
    );

    // The server started once, in the session's working dir, with the
    // declared arguments and environment, and was asked for the hover.
    let events = lsp_log(&log);
    let starts: Vec<&Value> = events.iter().filter(|e| e["event"] == "start").collect();
    assert_eq!(starts.len(), 1, "fake-lsp starts: {events:#?}");
    assert_eq!(starts[0]["cwd"], json!(repo), "{events:#?}");
    assert_eq!(starts[0]["args"], json!(["--stdio", "--name", "zz"]));
    let mut methods: Vec<&str> = events.iter().filter_map(|e| e["method"].as_str()).collect();
    // Claude may end the server before it reads `exit`.
    if methods.last() == Some(&"exit") {
        methods.pop();
    }
    assert_eq!(
        methods,
        vec![
            "initialize",
            "initialized",
            "textDocument/didOpen",
            "textDocument/hover",
            "shutdown"
        ],
        "{events:#?}"
    );
    let uri = format!("file://{}", file.display());
    let of = |method: &str| {
        events
            .iter()
            .find(|e| e["method"] == method)
            .map(|e| e["params"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        of("initialize")["rootUri"],
        json!(format!("file://{}", repo.display()))
    );
    assert_eq!(
        of("textDocument/didOpen")["textDocument"],
        json!({"uri": uri, "languageId": "zzlang", "version": 1, "text": "fn main() {}\n"})
    );

    // Its answer is the LSP tool's result, sent back to the model.
    assert_eq!(
        tool_result(&messages, "toolu_standin_1"),
        Some(format!("fake-lsp zz: hover at 0:3 of {uri}")),
        "the hover answer is not the LSP tool's result"
    );
}

/// The LSP tool comes from the declaration: an account without `lspServers`
/// is not offered it, and no server starts.
#[test]
fn an_account_without_lsp_servers_gets_no_lsp_tool() {
    let mut env = RealEnv::new();
    env.log_in("pro");
    let repo = env.repo("repo");
    write(&repo.join("main.zz"), "fn main() {}\n");
    env.api.add_rule(ToolRule {
        trigger: TRIGGER.to_string(),
        tool: "ToolSearch".to_string(),
        input: json!({"query": "select:LSP"}),
    });
    let run = env.print("pro", &repo, TRIGGER, &[]);
    assert_success(&run.output);
    let messages = run.messages();
    assert!(messages.len() >= 2, "the ToolSearch call was not answered");
    let offered: Vec<Vec<String>> = messages.iter().map(|r| tool_names(r)).collect();
    assert!(
        offered
            .iter()
            .all(|tools| !tools.iter().any(|t| t == "LSP")),
        "the LSP tool is offered with no server declared: {offered:?}"
    );
    assert!(
        offered
            .iter()
            .all(|tools| tools.iter().any(|t| t == "ToolSearch")),
        "{offered:?}"
    );
}
