//! Which MCP servers a session in a directory would get, from which scope,
//! and which need approval (CLAUDE-CODE-FACTS.md "What is read from where"):
//!
//! * managed: `<managed dir>/managed-mcp.json`; when it exists it takes
//!   exclusive control and every other server is left out;
//! * local: `projects[<project>].mcpServers` of the session's `.claude.json`;
//! * project: `.mcp.json` in the directory and each parent up to `/` (the
//!   nearer file wins a name); `disabledMcpjsonServers` leaves one out;
//!   the others wait for approval unless the project is trusted (Claude's
//!   trust dialog, `hasTrustDialogAccepted` in its `.claude.json` entry) and
//!   `enableAllProjectMcpServers` or `enabledMcpjsonServers` approves them
//!   (checked with `claude mcp list`, 2.1.332);
//! * user: top-level `mcpServers` of the session's `.claude.json`, as the
//!   next launch leaves it: the servers Nix declares and a trusted project's
//!   overlay replace those of the same name.
//!
//! A name in a higher scope hides the same name in a lower one (local >
//! project > user); entries are whole, never merged field by field.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

/// One server a session would see.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    pub name: String,
    /// `managed`, `local`, `project` or `user`.
    pub scope: &'static str,
    /// The file it is read from.
    pub file: PathBuf,
    /// More about where it comes from (`declared by Nix`, `project overlay
    /// <file>`), when known.
    pub origin: Option<String>,
    /// Whether it runs: `yes`, `needs approval`, `approved by <setting>`,
    /// `rejected by <setting>`, `hidden by <scope> <file>`, `left out:
    /// managed-mcp.json takes exclusive control`.
    pub state: String,
}

/// What [`servers`] reads.
pub struct Inputs<'a> {
    pub managed_dir: &'a Path,
    pub cwd: &'a Path,
    /// The session's `.claude.json`.
    pub claude_json: &'a Path,
    /// Its top-level `mcpServers` as the next launch leaves them, and the
    /// names Nix declares and the overlay adds.
    pub user: Map<String, Value>,
    pub declared: Vec<String>,
    pub overlay: Option<(PathBuf, Vec<String>)>,
    /// `projects[<project>]` of that file.
    pub project_entry: Option<Value>,
    /// The merged settings.
    pub settings: &'a Value,
}

/// Lists the servers in precedence order (managed, local, project, user),
/// with problems reading a file in `problems`.
pub fn servers(i: &Inputs, problems: &mut Vec<String>) -> Vec<Server> {
    let mut out = Vec::new();
    let managed = i.managed_dir.join("managed-mcp.json");
    let exclusive = match read_servers(&managed) {
        Ok(Some(servers)) => {
            for (name, _) in servers {
                out.push(Server {
                    name,
                    scope: "managed",
                    file: managed.clone(),
                    origin: None,
                    state: "yes".into(),
                });
            }
            true
        }
        Ok(None) => false,
        Err(e) => {
            problems.push(e);
            false
        }
    };
    let mut lower = Vec::new();
    if let Some(Value::Object(local)) = i.project_entry.as_ref().and_then(|e| e.get("mcpServers")) {
        for name in local.keys() {
            lower.push(server(name, "local", i.claude_json, None));
        }
    }
    for file in mcp_json_files(i.cwd) {
        match read_servers(&file) {
            Ok(Some(servers)) => {
                for name in servers.keys() {
                    let mut s = server(name, "project", &file, None);
                    s.state = approval(name, i.settings, i.project_entry.as_ref());
                    lower.push(s);
                }
            }
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    for name in i.user.keys() {
        let origin = match &i.overlay {
            Some((file, names)) if names.contains(name) => {
                Some(format!("project overlay {}", file.display()))
            }
            _ if i.declared.contains(name) => Some("declared by Nix".to_string()),
            _ => None,
        };
        lower.push(server(name, "user", i.claude_json, origin));
    }
    // The first of a name wins; later ones are hidden by it.
    for idx in 0..lower.len() {
        let name = lower[idx].name.clone();
        if let Some(winner) = lower[..idx].iter().find(|s| s.name == name) {
            let hidden = format!("hidden by {} {}", winner.scope, winner.file.display());
            lower[idx].state = hidden;
        }
    }
    if exclusive {
        for s in &mut lower {
            s.state = "left out: managed-mcp.json takes exclusive control".into();
        }
    }
    out.extend(lower);
    out
}

fn server(name: &str, scope: &'static str, file: &Path, origin: Option<String>) -> Server {
    Server {
        name: name.to_string(),
        scope,
        file: file.to_path_buf(),
        origin,
        state: "yes".into(),
    }
}

/// Whether a project server runs: rejected, approved, or waiting for the
/// user's approval. Claude keeps the choices in settings (and, in older
/// versions, in the project's `.claude.json` entry); they count only in a
/// trusted project.
fn approval(name: &str, settings: &Value, entry: Option<&Value>) -> String {
    let trusted = entry.and_then(|e| e.get("hasTrustDialogAccepted")) == Some(&Value::Bool(true));
    let listed = |key: &str| {
        [Some(settings), entry].into_iter().flatten().any(|v| {
            v.get(key)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|n| n == name))
        })
    };
    if listed("disabledMcpjsonServers") {
        "rejected by disabledMcpjsonServers".into()
    } else if !trusted {
        "needs approval (the project is not trusted yet: accept Claude's trust dialog here, then approve the server)".into()
    } else if settings.get("enableAllProjectMcpServers") == Some(&Value::Bool(true)) {
        "approved by enableAllProjectMcpServers".into()
    } else if listed("enabledMcpjsonServers") {
        "approved by enabledMcpjsonServers".into()
    } else {
        "needs approval (Claude asks at start; or list it in enabledMcpjsonServers)".into()
    }
}

/// `.mcp.json` in `cwd` and each parent, nearest first.
fn mcp_json_files(cwd: &Path) -> Vec<PathBuf> {
    cwd.ancestors()
        .map(|d| d.join(".mcp.json"))
        .filter(|f| f.symlink_metadata().is_ok())
        .collect()
}

/// The `mcpServers` of a `{"mcpServers": {...}}` file; `None` when absent.
fn read_servers(path: &Path) -> Result<Option<Map<String, Value>>, String> {
    let Some(value) = super::read_object(path).map_err(|e| format!("{e:#}"))? else {
        return Ok(None);
    };
    match value.get("mcpServers") {
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        None => Ok(Some(Map::new())),
        Some(_) => Err(format!(
            "{}: mcpServers must be an object of servers by name; Claude Code ignores the file; fix it",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_hide_lower_ones_and_project_servers_need_approval() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let cwd = root.join("repo/sub");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::write(
            root.join("repo/.mcp.json"),
            r#"{"mcpServers": {"db": {"command": "far"}, "web": {"command": "w"}, "ok": {"command": "o"}, "no": {"command": "n"}}}"#,
        )
        .unwrap();
        std::fs::write(
            cwd.join(".mcp.json"),
            r#"{"mcpServers": {"db": {"command": "near"}}}"#,
        )
        .unwrap();
        let settings = json!({"enabledMcpjsonServers": ["ok"], "disabledMcpjsonServers": ["no"]});
        let managed = root.join("managed");
        let cj = root.join("cfg/.claude.json");
        let inputs = Inputs {
            managed_dir: &managed,
            cwd: &cwd,
            claude_json: &cj,
            user: json!({"web": {}, "gh": {}, "mine": {}})
                .as_object()
                .unwrap()
                .clone(),
            declared: vec!["gh".into()],
            overlay: Some((root.join("ov.json"), vec!["mine".into()])),
            project_entry: Some(json!({"mcpServers": {"web": {}}, "hasTrustDialogAccepted": true})),
            settings: &settings,
        };
        let mut problems = Vec::new();
        let got: Vec<(String, &str, String)> = servers(&inputs, &mut problems)
            .into_iter()
            .map(|s| (s.name, s.scope, s.state))
            .collect();
        assert_eq!(problems, Vec::<String>::new());
        let near = cwd.join(".mcp.json").display().to_string();
        let local = format!("hidden by local {}", cj.display());
        pretty_assertions::assert_eq!(
            got,
            vec![
                ("web".into(), "local", "yes".into()),
                (
                    "db".into(),
                    "project",
                    "needs approval (Claude asks at start; or list it in enabledMcpjsonServers)"
                        .into()
                ),
                ("db".into(), "project", format!("hidden by project {near}")),
                ("web".into(), "project", local.clone()),
                (
                    "ok".into(),
                    "project",
                    "approved by enabledMcpjsonServers".into()
                ),
                (
                    "no".into(),
                    "project",
                    "rejected by disabledMcpjsonServers".into()
                ),
                ("web".into(), "user", local),
                ("gh".into(), "user", "yes".into()),
                ("mine".into(), "user", "yes".into()),
            ]
        );
        // managed-mcp.json takes over.
        std::fs::create_dir_all(&managed).unwrap();
        std::fs::write(
            managed.join("managed-mcp.json"),
            r#"{"mcpServers": {"corp": {"command": "c"}}}"#,
        )
        .unwrap();
        let all = servers(&inputs, &mut problems);
        assert_eq!(all[0].name, "corp");
        assert!(
            all[1..].iter().all(|s| s.state.contains("exclusive")),
            "{all:?}"
        );
    }
}
