//! `claude-accounts explain` agrees with the real Claude Code: the model it
//! names is the model of the requests, and a Bash rule it reports as covered
//! by a deny rule is one Claude refuses to run. Also: the keys `check` warns
//! about are the keys Claude migrates away.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::api::{ToolRule, message_models};
use super::harness::RealEnv;
use crate::harness::{assert_success, stderr, stdout};

/// `explain --json --account max <args>` in `cwd`, with the real managed dir
/// (the one the real Claude reads).
fn explain(env: &mut RealEnv, cwd: &Path, args: &[&str]) -> Value {
    let manifest = env.write_manifest();
    let out = env
        .helper(cwd)
        .args(["explain", "--json", "--account", "max", "--manifest"])
        .arg(manifest)
        .args(args)
        .output()
        .expect("running claude-accounts explain");
    assert_success(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let managed: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "managed" && f["exists"] == true)
        .collect();
    assert!(
        managed.is_empty(),
        "this machine has managed Claude Code settings, which the test cannot control: {managed:?}"
    );
    report
}

/// The winning value of `key` and the level of the file it comes from.
fn winner(report: &Value, key: &str) -> (Value, String) {
    let s = report["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report:#}"));
    (
        s["value"].clone(),
        s["from"][0]["level"].as_str().unwrap().to_string(),
    )
}

#[test]
fn explain_names_the_level_whose_model_claude_sends() {
    let mut env = RealEnv::new();
    env.log_in("max");
    env.manifest["accounts"]["max"]["settings"] = json!({"model": "claude-user-level"});
    let repo = env.repo("repo");
    let app = env.mkdir("repo/app");
    let profile = env.write("profile.json", r#"{"model": "claude-profile-level"}"#);
    let profile = profile.to_str().unwrap().to_string();

    // Each step adds a higher level; its model must win, in explain and in
    // the requests.
    let steps: [(&str, Option<&str>, &[&str]); 4] = [
        ("user", None, &[]),
        ("project", Some("repo/app/.claude/settings.json"), &[]),
        ("local", Some("repo/.claude/settings.local.json"), &[]),
        ("flag", None, &["--settings", &profile]),
    ];
    for (level, file, extra) in steps {
        let model = if level == "flag" {
            "claude-profile-level".to_string()
        } else {
            format!("claude-{level}-level")
        };
        if let Some(file) = file {
            env.write(file, &json!({"model": model}).to_string());
        }
        let report = explain(&mut env, &app, &[&["model"], extra].concat());
        assert_eq!(winner(&report, "model"), (json!(model), level.to_string()));
        let run = env.print("max", &app, "hello", extra);
        assert_success(&run.output);
        let models = message_models(&run.requests);
        assert!(!models.is_empty(), "no request: {}", stderr(&run.output));
        assert!(
            models.iter().all(|m| *m == model),
            "explain says {model} ({level}); claude sent {models:?}"
        );
    }
    // Project settings come from the directory claude starts in: in the
    // repository's root the project level of repo/app does not apply.
    let report = explain(&mut env, &repo, &["model"]);
    assert_eq!(winner(&report, "model").1, "local");
    std::fs::remove_file(repo.join(".claude/settings.local.json")).unwrap();
    let report = explain(&mut env, &repo, &["model"]);
    assert_eq!(
        winner(&report, "model"),
        (json!("claude-user-level"), "user".to_string())
    );
    let run = env.print("max", &repo, "hello", &[]);
    assert_success(&run.output);
    assert_eq!(
        message_models(&run.requests)
            .iter()
            .all(|m| m == "claude-user-level"),
        true,
        "{:?}",
        message_models(&run.requests)
    );
}

/// Runs the scripted `touch mark` in `cwd`; whether the file appeared.
fn claude_runs_touch(env: &mut RealEnv, cwd: &Path) -> bool {
    let mark = cwd.join("mark");
    let _ = std::fs::remove_file(&mark);
    let run = env.print("max", cwd, "MAKE-MARK", &[]);
    assert_success(&run.output);
    let last = run
        .messages()
        .last()
        .map(|r| r.body_text())
        .unwrap_or_default();
    assert!(last.contains("tool_result"), "no tool result sent: {last}");
    mark.exists()
}

fn shadowed_rules(report: &Value) -> Vec<(String, String)> {
    report["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!(
                    "{} {}",
                    s["list"].as_str().unwrap(),
                    s["rule"].as_str().unwrap()
                ),
                format!(
                    "{} {}",
                    s["byList"].as_str().unwrap(),
                    s["byRule"].as_str().unwrap()
                ),
            )
        })
        .collect()
}

#[test]
fn explain_and_claude_agree_on_a_bash_rule_allowed_at_one_level_and_denied_at_another() {
    let mut env = RealEnv::new();
    env.log_in("max");
    env.api.add_rule(ToolRule::bash("MAKE-MARK", "touch mark"));
    let repo = env.repo("repo");
    let allow = (
        "allow Bash(touch mark)".to_string(),
        "deny Bash(touch:*)".to_string(),
    );

    // Allowed by the user level only: not covered, and Claude runs it.
    env.manifest["accounts"]["max"]["settings"] =
        json!({"permissions": {"allow": ["Bash(touch mark)"]}});
    let report = explain(&mut env, &repo, &["permissions"]);
    assert_eq!(shadowed_rules(&report), vec![]);
    assert!(
        claude_runs_touch(&mut env, &repo),
        "the allowed command did not run"
    );

    // Denied by the (higher) project level: covered, and Claude refuses.
    env.write(
        "repo/.claude/settings.json",
        r#"{"permissions": {"deny": ["Bash(touch:*)"]}}"#,
    );
    let report = explain(&mut env, &repo, &["permissions"]);
    assert_eq!(shadowed_rules(&report), vec![allow.clone()]);
    assert!(!claude_runs_touch(&mut env, &repo), "a denied command ran");

    // Denied by the (lower) user level and allowed by the local level: a
    // deny anywhere wins, in explain and in Claude.
    std::fs::remove_file(repo.join(".claude/settings.json")).unwrap();
    env.manifest["accounts"]["max"]["settings"] =
        json!({"permissions": {"deny": ["Bash(touch:*)"]}});
    env.write(
        "repo/.claude/settings.local.json",
        r#"{"permissions": {"allow": ["Bash(touch mark)"]}}"#,
    );
    let report = explain(&mut env, &repo, &["permissions"]);
    assert_eq!(shadowed_rules(&report), vec![allow]);
    assert!(!claude_runs_touch(&mut env, &repo), "a denied command ran");
}

#[test]
fn check_warns_on_auto_updates_and_claude_migrates_it_away() {
    let mut env = RealEnv::new();
    env.log_in("max");
    env.manifest["accounts"]["max"]["claudeJson"] = json!({"autoUpdates": false});
    let manifest = env.write_manifest();
    let out = env
        .helper(&env.root)
        .args(["check", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stderr(&out).contains("claudeJson.autoUpdates")
            && stderr(&out).contains("declare settings.env.DISABLE_AUTOUPDATER"),
        "{}",
        stderr(&out)
    );
    // What the warning says Claude does: after one session the declared key
    // is gone from .claude.json and settings.json has the variable.
    let dir = env.mkdir("plain");
    let run = env.print("max", &dir, "hello", &[]);
    assert_success(&run.output);
    let account = env.account_dir("max");
    let claude_json: Value =
        serde_json::from_str(&std::fs::read_to_string(account.join(".claude.json")).unwrap())
            .unwrap();
    assert_eq!(claude_json.get("autoUpdates"), None, "{claude_json:#}");
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(account.join("settings.json")).unwrap())
            .unwrap();
    assert_eq!(settings["env"]["DISABLE_AUTOUPDATER"], "1", "{settings:#}");
    // So the next launch applies it again: status reports it pending.
    let manifest = env.write_manifest();
    let out = env
        .helper(&dir)
        .args(["status", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("autoUpdates"), "{}", stdout(&out));
}

#[test]
fn explain_and_claude_mcp_list_agree_on_which_servers_run() {
    let mut env = RealEnv::new();
    let declared = env.mcp_server("declared");
    env.manifest["accounts"]["max"]["claudeJson"] = json!({"mcpServers": {"declared": declared}});
    env.log_in("max");
    let repo = env.repo("repo");
    let app = env.mkdir("repo/app");
    let servers: serde_json::Map<String, Value> = ["approved", "waiting", "rejected"]
        .into_iter()
        .map(|n| (n.to_string(), env.mcp_server(n)))
        .collect();
    env.write(
        "repo/.mcp.json",
        &json!({"mcpServers": servers}).to_string(),
    );
    env.write(
        "repo/.claude/settings.local.json",
        r#"{"enabledMcpjsonServers": ["approved"], "disabledMcpjsonServers": ["rejected"]}"#,
    );
    // The project is trusted (as after Claude's trust dialog).
    let account_json = env.account_dir("max").join(".claude.json");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&account_json).unwrap()).unwrap();
    state["projects"] = json!({repo.to_str().unwrap(): {"hasTrustDialogAccepted": true}});
    std::fs::write(&account_json, state.to_string()).unwrap();

    let run = env.run("max", &app, &["mcp", "list"]);
    assert_success(&run.output);
    let listed = stdout(&run.output);
    let report = explain(&mut env, &app, &["mcpServers"]);
    let mut seen = Vec::new();
    for server in report["mcpServers"].as_array().unwrap() {
        let name = server["name"].as_str().unwrap();
        let state = server["state"].as_str().unwrap();
        let line = listed.lines().find(|l| l.starts_with(&format!("{name}: ")));
        let claude_says = match line {
            None => "absent",
            Some(l) if l.contains("Connected") => "runs",
            Some(l) if l.contains("Pending approval") => "waits",
            Some(l) => panic!("unexpected mcp list line {l:?}"),
        };
        let explain_says = if state == "yes" || state.starts_with("approved") {
            "runs"
        } else if state.starts_with("needs approval") {
            "waits"
        } else if state.starts_with("rejected") {
            "absent"
        } else {
            panic!("unexpected explain state {state:?}")
        };
        seen.push((name.to_string(), explain_says, claude_says));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("approved".to_string(), "runs", "runs"),
            ("declared".to_string(), "runs", "runs"),
            ("rejected".to_string(), "absent", "absent"),
            ("waiting".to_string(), "waits", "waits"),
        ],
        "claude mcp list:\n{listed}"
    );
}
