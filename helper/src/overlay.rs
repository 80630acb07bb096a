//! Per-project MCP overlay: servers from a project's personal overlay file
//! (by default `<worktree>/.claude/.mcp.json`, `{"mcpServers": {...}}`) merged
//! over the account's servers by name, into the runtime's user-scope
//! `mcpServers` (Claude Code does not read `$CLAUDE_CONFIG_DIR/.mcp.json`).
//!
//! Guarantee: an overlay is used only for a trusted project (listed in the
//! account's `trustedProjects`, itself or a parent directory, or trusted in
//! Claude Code's own trust dialog), because a server is a command that runs:
//! an untrusted repository must not be able to start one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::manifest::{Account, check_mcp_server, expand_home, normalize};

/// The overlay file for a worktree, if the account uses overlays.
pub fn overlay_path(account: &Account, worktree: &Path) -> Option<PathBuf> {
    account.mcp_overlay.as_ref().map(|p| worktree.join(p))
}

/// Whether the account's trust list covers `project` (itself or a parent).
pub fn listed_as_trusted(account: &Account, home: &Path, project: &Path) -> bool {
    let project = normalize(project);
    account.trusted_projects.iter().any(|t| {
        let t = normalize(&expand_home(t, home));
        project.starts_with(&t) || std::fs::canonicalize(&t).is_ok_and(|c| project.starts_with(c))
    })
}

/// Reads an overlay file: `Ok(None)` when it does not exist; an error naming
/// the file and the problem when it is not `{"mcpServers": {<valid servers>}}`.
pub fn read_overlay(path: &Path) -> Result<Option<Map<String, Value>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading MCP overlay {}", path.display())),
    };
    let value: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "MCP overlay {} is not valid JSON; fix it or remove it",
            path.display()
        )
    })?;
    let servers = match value.get("mcpServers") {
        Some(Value::Object(s)) => s.clone(),
        None if value.is_object() => Map::new(),
        _ => anyhow::bail!(
            "MCP overlay {} must be an object like {{\"mcpServers\": {{\"name\": {{\"command\": ...}}}}}}; fix it or remove it",
            path.display()
        ),
    };
    let problems: Vec<String> = servers
        .iter()
        .flat_map(|(name, def)| check_mcp_server(&format!("mcpServers.{name}"), def))
        .collect();
    anyhow::ensure!(
        problems.is_empty(),
        "MCP overlay {} has invalid servers: {}; fix them or remove the file",
        path.display(),
        problems.join("; ")
    );
    Ok(Some(servers))
}

/// The account's declared `.claude.json` keys with `overlay` servers merged
/// over the account's by name (the project wins).
pub fn merged_claude_json(
    account: &Account,
    overlay: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut desired = account.claude_json.clone();
    if let Some(overlay) = overlay.filter(|o| !o.is_empty()) {
        let mut servers = account.mcp_servers();
        for (name, def) in overlay {
            servers.insert(name.clone(), def.clone());
        }
        desired.insert("mcpServers".into(), Value::Object(servers));
    }
    desired
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> Account {
        let golden: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/manifest.golden.json"))
                .unwrap();
        serde_json::from_value(golden["accounts"]["max"].clone()).unwrap()
    }

    #[test]
    fn trust_list_covers_children_only() {
        let a = account(); // trusts /home/alice/src
        let home = Path::new("/home/alice");
        assert!(listed_as_trusted(
            &a,
            home,
            Path::new("/home/alice/src/app")
        ));
        assert!(listed_as_trusted(&a, home, Path::new("/home/alice/src")));
        assert!(!listed_as_trusted(
            &a,
            home,
            Path::new("/home/alice/srcery")
        ));
        assert!(!listed_as_trusted(&a, home, Path::new("/tmp/evil")));
    }

    #[test]
    fn project_servers_win_by_name() {
        let a = account();
        let overlay = json!({"github": {"command": "gh-mcp"}, "db": {"command": "pg-mcp"}});
        let merged = merged_claude_json(&a, overlay.as_object());
        let servers = merged["mcpServers"].as_object().unwrap();
        assert_eq!(servers["github"], json!({"command": "gh-mcp"}));
        assert_eq!(servers["db"], json!({"command": "pg-mcp"}));
        assert!(servers.contains_key("filesystem"));
        assert_eq!(merged_claude_json(&a, None), a.claude_json);
    }

    #[test]
    fn bad_overlays_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join(".mcp.json");
        assert!(read_overlay(&p).unwrap().is_none());
        std::fs::write(&p, "{\"mcpServers\": {\"x\": {\"type\": \"http\"}}}").unwrap();
        let err = format!("{:#}", read_overlay(&p).unwrap_err());
        assert!(
            err.contains(&p.display().to_string()) && err.contains("url"),
            "{err}"
        );
        std::fs::write(&p, "[1]").unwrap();
        assert!(read_overlay(&p).is_err());
        std::fs::write(&p, "{\"mcpServers\": {\"x\": {\"command\": \"c\"}}}").unwrap();
        assert_eq!(
            read_overlay(&p).unwrap().unwrap()["x"],
            json!({"command": "c"})
        );
    }
}
