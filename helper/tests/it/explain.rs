//! `claude-accounts explain`: which file each setting comes from, in a real
//! git repository, with a managed directory of the test's own.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;

/// Runs `explain --json` in `cwd` with the managed dir `root/managed`.
fn explain(env: &mut TestEnv, cwd: &Path, extra: &[&str]) -> Value {
    let out = explain_raw(env, cwd, &[&["--json"], extra].concat());
    assert_success(&out);
    serde_json::from_slice(&out.stdout).expect("explain --json prints JSON")
}

fn explain_raw(env: &mut TestEnv, cwd: &Path, args: &[&str]) -> std::process::Output {
    let manifest = env.write_manifest();
    env.helper(cwd)
        .arg("explain")
        .arg("--manifest")
        .arg(manifest)
        .args(args)
        .env("CLAUDE_ACCOUNTS_MANAGED_DIR", env.root.join("managed"))
        .output()
        .expect("running claude-accounts explain")
}

fn setting<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no setting {key} in {report:#}"))
}

/// A repository `repo` with a sub directory `app` holding project settings,
/// local settings at the repository's root, user settings in max's dir, and
/// managed files: every level sets `model`.
fn levels(env: &mut TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    env.manifest["accounts"]["max"]["settings"] = json!({});
    let repo = env.repo("repo");
    let app = env.mkdir("repo/app");
    env.write(
        ".claude-user.json",
        r#"{"model": "user-model", "permissions": {"allow": ["Bash(rm -rf build)", "Read"]}}"#,
    );
    let user = env.account_dir("max").join("settings.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::rename(env.path(".claude-user.json"), &user).unwrap();
    env.write(
        "repo/app/.claude/settings.json",
        r#"{"model": "project-model", "permissions": {"allow": ["Bash(ls)", "Read"]}, "mcpServers": {"x": {"command": "x"}}}"#,
    );
    env.write(
        "repo/.claude/settings.local.json",
        r#"{"model": "local-model", "allowManagedHooksOnly": true}"#,
    );
    env.write("profile.json", r#"{"model": "profile-model"}"#);
    env.write(
        "managed/managed-settings.json",
        r#"{"permissions": {"deny": ["Bash(rm:*)"]}, "cleanupPeriodDays": 5}"#,
    );
    env.write(
        "managed/managed-settings.d/20-b.json",
        r#"{"cleanupPeriodDays": 20}"#,
    );
    env.write(
        "managed/managed-settings.d/10-a.json",
        r#"{"cleanupPeriodDays": 10}"#,
    );
    env.write(
        "managed/managed-settings.d/.99-hidden.json",
        r#"{"cleanupPeriodDays": 99}"#,
    );
    (repo, app)
}

#[test]
fn each_level_wins_over_the_ones_below_it() {
    let mut env = TestEnv::new();
    let (repo, app) = levels(&mut env);
    let user = env.account_dir("max").join("settings.json");
    let project = app.join(".claude/settings.json");
    let local = repo.join(".claude/settings.local.json");
    let profile = env.path("profile.json");

    let r = explain(
        &mut env,
        &app,
        &[
            "--account",
            "max",
            "--settings",
            profile.to_str().unwrap(),
            "model",
        ],
    );
    assert_eq!(
        r["settings"],
        json!([{
            "key": "model",
            "value": "profile-model",
            "from": [{"level": "flag", "path": profile}],
            "overrode": [
                {"level": "local", "path": local, "value": "local-model"},
                {"level": "project", "path": project, "value": "project-model"},
                {"level": "user", "path": user, "value": "user-model"},
            ],
        }])
    );
    let r = explain(
        &mut env,
        &app,
        &[
            "--account",
            "max",
            "--settings",
            r#"{"model": "inline"}"#,
            "model",
        ],
    );
    assert_eq!(setting(&r, "model")["value"], "inline");
    assert_eq!(
        setting(&r, "model")["from"],
        json!([{"level": "flag", "path": "--settings"}])
    );
    // A profile of the account is that level too.
    env.manifest["accounts"]["max"]["profiles"] = json!({"fast": profile});
    let r = explain(
        &mut env,
        &app,
        &["--account", "max", "--profile", "fast", "model"],
    );
    assert_eq!(
        setting(&r, "model")["from"],
        json!([{"level": "flag", "path": profile}])
    );
    let out = explain_raw(&mut env, &app, &["--account", "max", "--profile", "slow"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no profile \"slow\" (profiles: fast)"),
        "{}",
        stderr(&out)
    );
    let r = explain(&mut env, &app, &["--account", "max", "model"]);
    assert_eq!(setting(&r, "model")["value"], "local-model");
    // Only what concerns the keys asked for.
    assert_eq!((&r["ignored"], &r["shadowed"]), (&json!([]), &json!([])));
    let r = explain(&mut env, &app, &["--account", "max", "permissions.allow"]);
    assert_eq!(r["shadowed"].as_array().unwrap().len(), 1, "{r:#}");
    std::fs::remove_file(&local).unwrap();
    let r = explain(&mut env, &app, &["--account", "max", "model"]);
    assert_eq!(setting(&r, "model")["value"], "project-model");
    // Project settings are read from the directory claude starts in only.
    let r = explain(&mut env, &repo, &["--account", "max", "model"]);
    assert_eq!(setting(&r, "model")["value"], "user-model");
    assert_eq!(setting(&r, "model")["from"][0]["path"], json!(user));
}

#[test]
fn managed_drop_ins_arrays_ignored_keys_and_shadowed_rules() {
    let mut env = TestEnv::new();
    let (repo, app) = levels(&mut env);
    let managed = env.root.join("managed");
    let r = explain(&mut env, &app, &["--account", "max"]);
    let files: Vec<(&str, String)> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["level"].as_str().unwrap(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let p = |p: &Path| p.display().to_string();
    assert_eq!(
        files,
        vec![
            ("managed", p(&managed.join("managed-settings.d/20-b.json"))),
            ("managed", p(&managed.join("managed-settings.d/10-a.json"))),
            ("managed", p(&managed.join("managed-settings.json"))),
            ("local", p(&repo.join(".claude/settings.local.json"))),
            ("project", p(&app.join(".claude/settings.json"))),
            ("user", p(&env.account_dir("max").join("settings.json"))),
        ]
    );
    let cleanup = setting(&r, "cleanupPeriodDays");
    assert_eq!(cleanup["value"], 20);
    assert_eq!(cleanup["overrode"].as_array().unwrap().len(), 2);
    let allow = setting(&r, "permissions.allow");
    assert_eq!(
        allow["value"],
        json!(["Bash(rm -rf build)", "Read", "Bash(ls)"])
    );
    assert_eq!(allow["from"].as_array().unwrap().len(), 2);
    let ignored: Vec<(&str, &str)> = r["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["key"].as_str().unwrap(), i["path"].as_str().unwrap()))
        .collect();
    let local = p(&repo.join(".claude/settings.local.json"));
    let project = p(&app.join(".claude/settings.json"));
    assert_eq!(
        ignored,
        vec![
            ("mcpServers", project.as_str()),
            ("allowManagedHooksOnly", local.as_str())
        ]
    );
    assert_eq!(
        r["shadowed"],
        json!([{
            "list": "allow", "rule": "Bash(rm -rf build)",
            "byList": "deny", "byRule": "Bash(rm:*)",
            "files": [env.account_dir("max").join("settings.json")],
            "byFiles": [managed.join("managed-settings.json")],
        }])
    );
    // The text form says the same.
    let out = explain_raw(&mut env, &app, &["--account", "max"]);
    assert_success(&out);
    let text = stdout(&out);
    for needle in [
        "model = \"local-model\"",
        "allow Bash(rm -rf build)",
        "is covered by deny Bash(rm:*)",
        "mcpServers in",
        "Claude Code uses one managed source",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn a_broken_file_is_skipped_like_claude_skips_it() {
    let mut env = TestEnv::new();
    let (repo, app) = levels(&mut env);
    env.write("repo/.claude/settings.local.json", "{\"model\": ");
    let r = explain(&mut env, &app, &["--account", "max", "model"]);
    let local = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["level"] == "local")
        .unwrap();
    let err = local["error"]
        .as_str()
        .expect("an error for the broken file");
    assert!(
        err.contains(
            &repo
                .join(".claude/settings.local.json")
                .display()
                .to_string()
        ),
        "{err}"
    );
    assert_eq!(setting(&r, "model")["value"], "project-model");
    // A directory where a file should be is named too, and nothing is written.
    std::fs::remove_file(app.join(".claude/settings.json")).unwrap();
    std::fs::create_dir(app.join(".claude/settings.json")).unwrap();
    let r = explain(&mut env, &app, &["--account", "max", "model"]);
    let project = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["level"] == "project")
        .unwrap();
    assert!(project["error"].is_string(), "{project:#}");
    assert!(
        !repo.join(".git/claude-runtime").exists(),
        "explain creates nothing"
    );
}

#[test]
fn mcp_servers_with_their_scope_and_approval() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    env.write(
        "repo/.mcp.json",
        r#"{"mcpServers": {"proj": {"command": "p"}, "nix-server": {"command": "shadowed"}}}"#,
    );
    env.manifest["defaultAccount"] = json!("pro");
    let r = explain(&mut env, &repo, &[]);
    assert_eq!(r["account"], "pro");
    assert_eq!(r["accountReason"], "defaultAccount");
    let servers: Vec<(&str, &str, &str)> = r["mcpServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["scope"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    let hidden = format!("hidden by project {}", repo.join(".mcp.json").display());
    let untrusted = "needs approval (the project is not trusted yet: accept Claude's trust dialog here, then approve the server)";
    assert_eq!(
        servers,
        vec![
            ("proj", "project", untrusted),
            ("nix-server", "project", untrusted),
            ("nix-server", "user", hidden.as_str()),
        ]
    );
    assert_eq!(r["mcpServers"][2]["origin"], "declared by Nix");
    // Approvals count in a trusted project only.
    env.write(
        "repo/.claude/settings.local.json",
        r#"{"enableAllProjectMcpServers": true}"#,
    );
    let r = explain(&mut env, &repo, &["mcpServers"]);
    assert_eq!(r["mcpServers"][0]["state"], untrusted);
    env.write(
        ".claude-pro.json",
        &json!({"projects": {repo.to_str().unwrap(): {"hasTrustDialogAccepted": true}}})
            .to_string(),
    );
    std::fs::create_dir_all(env.account_dir("pro")).unwrap();
    std::fs::rename(
        env.path(".claude-pro.json"),
        env.account_dir("pro").join(".claude.json"),
    )
    .unwrap();
    let r = explain(&mut env, &repo, &["mcpServers"]);
    assert_eq!(
        r["mcpServers"][0]["state"],
        "approved by enableAllProjectMcpServers"
    );
    assert_eq!(r["settings"], json!([]));
}

#[test]
fn declared_settings_count_as_the_user_level_before_any_launch() {
    let mut env = TestEnv::new(); // max declares model "opus"
    let dir = env.mkdir("plain");
    let r = explain(&mut env, &dir, &["--account", "max", "model"]);
    let model = setting(&r, "model");
    assert_eq!(model["value"], "opus");
    assert_eq!(
        model["from"],
        json!([{"level": "user", "path": env.account_dir("max").join("settings.json")}])
    );
    assert!(
        r["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("the next launch of max applies")),
        "{r:#}"
    );
    assert!(!env.account_dir("max").exists(), "explain creates nothing");
    // After a launch the file holds it, and nothing is pending.
    let out = env.launch("max", &dir, Vec::<&str>::new(), &[]);
    assert_success(&out);
    let r = explain(&mut env, &dir, &["--account", "max", "model"]);
    assert_eq!(setting(&r, "model")["value"], "opus");
    assert_eq!(r["notes"], json!([]));
}

#[test]
fn the_text_form_escapes_what_files_hold() {
    let mut env = TestEnv::new();
    let dir = env.mkdir("odd\ndir");
    env.write(
        "odd\ndir/.claude/settings.json",
        r#"{"env": {"X\u001b[2J": "1"}, "permissions": {"allow": ["Bash(a\nb)"], "deny": ["Bash"]}}"#,
    );
    let out = explain_raw(&mut env, &dir, &["--account", "max"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("env.X\\e[2J = \"1\""), "{text}");
    assert!(text.contains("allow Bash(a\\nb)"), "{text}");
    assert!(text.contains("odd\\ndir/.claude/settings.json"), "{text}");
}
