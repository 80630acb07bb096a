//! `claude-accounts explain` (`claude-explain`): the settings and MCP servers
//! Claude Code would use in a directory, each value with the file it comes
//! from and the files it overrode.
//!
//! The settings files, highest level first (checked with Claude Code 2.1.332,
//! see CLAUDE-CODE-FACTS.md):
//! 1. managed: `managed-settings.json`, then `managed-settings.d/*.json` in
//!    name order (hidden files skipped; a later file wins), in
//!    `/etc/claude-code` (Linux) or `/Library/Application Support/ClaudeCode`
//!    (macOS); [`MANAGED_DIR_VAR`] replaces that directory, for tests;
//! 2. the `--settings` file (a profile);
//! 3. local: `.claude/settings.local.json` of the project (the main checkout's
//!    root in a git repository, else the directory);
//! 4. project: `.claude/settings.json` of the directory itself (Claude reads
//!    it from the directory it starts in, not from the repository's root);
//! 5. user: the account's `settings.json` (every runtime dir links its
//!    `settings.json` to it).
//!
//! Guarantees: reads only (no file is created, written or locked); a file
//! Claude Code would skip (unparsable, not an object) is listed with its
//! problem and left out of the merge, like Claude does; every file is read
//! with the project's safe JSON reader, through links.

mod mcp;
mod merge;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::apply;
use crate::context;
use crate::dispatch;
use crate::jsonfile;
use crate::managed::ManagedFile;
use crate::manifest::Manifest;
use crate::registry;
use crate::runtime;
use crate::shown::Shown;

/// Replaces the managed-settings directory (for tests).
pub const MANAGED_DIR_VAR: &str = "CLAUDE_ACCOUNTS_MANAGED_DIR";

/// The schema version of `explain --json`.
pub const SCHEMA_VERSION: u32 = 1;

/// Keys Claude Code ignores in any settings file, and why.
const IGNORED_IN_SETTINGS: &[(&str, &str)] = &[
    (
        "mcpServers",
        "Claude Code reads MCP servers from .claude.json (user and local scope) and .mcp.json (project scope), never from settings files; declare them with the module's mcpServers option or claude mcp add",
    ),
    (
        "allowedTools",
        "allowedTools is a per-project .claude.json key, not a settings key; use permissions.allow",
    ),
];

/// Keys Claude Code honours only in managed settings.
const MANAGED_ONLY: &[&str] = &[
    "allowManagedPermissionRulesOnly",
    "allowManagedHooksOnly",
    "allowManagedMcpServersOnly",
    "managedSourcesBehavior",
];

/// A settings level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Managed,
    Flag,
    Local,
    Project,
    User,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Managed => "managed",
            Level::Flag => "--settings",
            Level::Local => "local",
            Level::Project => "project",
            Level::User => "user",
        }
    }
}

/// One settings file, in Claude's order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub level: Level,
    pub path: PathBuf,
    pub exists: bool,
    /// Why Claude Code would skip it.
    pub error: Option<String>,
    #[serde(skip)]
    content: Option<Map<String, Value>>,
}

/// Where a value comes from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    pub level: Level,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overridden {
    pub level: Level,
    pub path: PathBuf,
    pub value: Value,
}

/// One effective setting.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub key: String,
    pub value: Value,
    pub from: Vec<Origin>,
    pub overrode: Vec<Overridden>,
}

/// A key Claude Code ignores in the file that sets it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ignored {
    pub key: String,
    pub path: PathBuf,
    pub why: String,
}

/// A permission rule that never applies because a rule checked before it
/// (deny before ask before allow) covers it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shadowed {
    /// `allow` or `ask`.
    pub list: &'static str,
    pub rule: String,
    /// `deny` or `ask`.
    pub by_list: &'static str,
    pub by_rule: String,
    /// The files setting each rule.
    pub files: Vec<PathBuf>,
    pub by_files: Vec<PathBuf>,
}

/// Everything `explain` found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    pub directory: PathBuf,
    pub account: String,
    /// Why this account (`--account`, or the dispatcher's rule).
    pub account_reason: String,
    /// The config dir a session here uses.
    pub config_dir: PathBuf,
    pub files: Vec<Source>,
    pub settings: Vec<Setting>,
    pub ignored: Vec<Ignored>,
    pub shadowed: Vec<Shadowed>,
    pub mcp_servers: Vec<mcp::Server>,
    pub notes: Vec<String>,
}

/// What to explain.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub account: Option<String>,
    /// A `--settings` file or JSON text.
    pub settings: Option<PathBuf>,
    /// A profile of the account (its file is the `--settings` level).
    pub profile: Option<String>,
    /// Only these keys (and keys under them); all when empty.
    pub keys: Vec<String>,
}

/// The managed-settings directory of this platform, or [`MANAGED_DIR_VAR`].
pub fn managed_dir() -> PathBuf {
    match std::env::var_os(MANAGED_DIR_VAR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ if cfg!(target_os = "macos") => PathBuf::from("/Library/Application Support/ClaudeCode"),
        _ => PathBuf::from("/etc/claude-code"),
    }
}

/// Reads a JSON object file through links with the safe reader: `None`
/// when it does not exist; an error naming the file and the fix otherwise.
pub fn read_object(path: &Path) -> Result<Option<Map<String, Value>>> {
    match path.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        Ok(_) => {}
    }
    let target = std::fs::canonicalize(path).with_context(|| {
        format!(
            "{} is a link to nothing; fix or remove the link",
            path.display()
        )
    })?;
    let snapshot = jsonfile::read(&target, &jsonfile::Options::settings_json())
        .with_context(|| format!("reading {}", path.display()))?;
    let text = snapshot.text;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => anyhow::bail!("{} is not a JSON object; fix it", path.display()),
        Err(e) => Err(e).with_context(|| format!("decoding {}; fix it", path.display())),
    }
}

fn source(level: Level, path: PathBuf) -> Source {
    let (exists, content, error) = match read_object(&path) {
        Ok(Some(m)) => (true, Some(m), None),
        Ok(None) => (false, None, None),
        Err(e) => (true, None, Some(format!("{e:#}"))),
    };
    Source {
        level,
        path,
        exists,
        error,
        content,
    }
}

/// The `--settings` layer: a file, or JSON text as `claude --settings`
/// also takes (shown as the path `--settings`).
fn flag_source(flag: &Path) -> Source {
    let text = flag.to_string_lossy();
    if !text.trim_start().starts_with('{') {
        return source(Level::Flag, flag.to_path_buf());
    }
    let (content, error) = match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => (Some(m), None),
        Ok(_) => (None, Some("--settings JSON must be an object".to_string())),
        Err(e) => (None, Some(format!("--settings JSON: {e}"))),
    };
    Source {
        level: Level::Flag,
        path: PathBuf::from("--settings"),
        exists: true,
        error,
        content,
    }
}

/// The managed files in Claude's order, lowest first: the base file, then
/// the drop-ins by name (the last one wins).
fn managed_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![dir.join("managed-settings.json")];
    let d = dir.join("managed-settings.d");
    if let Ok(entries) = std::fs::read_dir(&d) {
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|n| d.join(n)));
    }
    files
}

/// Explains the settings and MCP servers of a session in `cwd`.
pub fn explain(m: &Manifest, home: &Path, cwd: &Path, opts: &Options) -> Result<Report> {
    let (account_name, account_reason) = match &opts.account {
        Some(a) => (a.clone(), "--account".to_string()),
        None => {
            let from_env = std::env::var(dispatch::ACCOUNT_VAR).ok();
            match dispatch::choose(m, home, cwd, from_env.as_deref()) {
                Ok(c) => (c.account, c.reason.to_string()),
                Err(_) if m.accounts.len() == 1 => (
                    m.accounts.keys().next().cloned().unwrap_or_default(),
                    "the only account".to_string(),
                ),
                Err(e) => return Err(e.context("choose the account with --account")),
            }
        }
    };
    let account = m.account(&account_name)?;
    let ctx = context::detect(cwd, &|k| std::env::var_os(k));
    let account_dir = m.config_dir(&account_name, home)?;
    let rt = runtime::choose(
        &account_name,
        &account_dir,
        account.isolation,
        &ctx,
        &registry::state_home(home),
    );
    // A runtime dir not made yet starts from the account's files.
    let config_dir = if rt.dir.exists() && !rt.is_ephemeral() {
        rt.dir.clone()
    } else {
        account_dir.clone()
    };
    let project_root = ctx.project_key.clone().unwrap_or_else(|| cwd.to_path_buf());
    let mut notes = Vec::new();

    // Highest first, as shown; merged lowest first.
    let managed = managed_dir();
    let mut files: Vec<Source> = managed_files(&managed)
        .into_iter()
        .rev()
        .map(|p| source(Level::Managed, p))
        .collect();
    if let Some(flag) = &opts.settings {
        files.push(flag_source(flag));
    }
    if let Some(p) = &opts.profile {
        let path = account.profiles.get(p).with_context(|| {
            let known: Vec<&str> = account.profiles.keys().map(String::as_str).collect();
            format!(
                "account {account_name} has no profile {p:?} (profiles: {}); declare it as programs.claude-code.accounts.{account_name}.profiles.{p}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })?;
        files.push(source(Level::Flag, path.clone()));
    }
    files.push(source(
        Level::Local,
        project_root.join(".claude/settings.local.json"),
    ));
    files.push(source(Level::Project, cwd.join(".claude/settings.json")));
    files.push(source(Level::User, account_dir.join("settings.json")));

    if files.iter().any(|f| f.level == Level::Managed && f.exists) {
        notes.push(format!(
            "Claude Code uses one managed source: server-managed settings (from the Claude admin console), else MDM/OS policy{}, else these files, unless that source sets managedSourcesBehavior = \"merge\"; this shows the files in {} only",
            if cfg!(target_os = "macos") {
                " (/Library/Managed Preferences/com.anthropic.claudecode.plist)"
            } else {
                ""
            },
            managed.display()
        ));
    }
    if cfg!(target_os = "macos") {
        let mdm = Path::new("/Library/Managed Preferences/com.anthropic.claudecode.plist");
        if mdm.exists() {
            notes.push(format!(
                "{} (an MDM profile) exists: Claude Code uses it instead of the managed files shown here, unless it sets managedSourcesBehavior = \"merge\"",
                mdm.display()
            ));
        }
    }
    // The user level as the next launch leaves it: the declared keys
    // applied over the file (Nix wins on its keys).
    if let Some(user) = files.iter_mut().find(|f| f.level == Level::User)
        && user.error.is_none()
    {
        let managed_file = ManagedFile::settings(&account_dir);
        match managed_file.last_applied() {
            Ok(last) => {
                let mut live = user.content.clone().unwrap_or_default();
                let report = apply::apply(
                    &account.settings,
                    last.as_ref(),
                    &mut live,
                    &managed_file.policy,
                );
                if !report.changes.is_empty() {
                    notes.push(format!(
                        "user values include what the next launch of {account_name} applies to {} from the manifest: {}",
                        user.path.display(),
                        report
                            .changes
                            .iter()
                            .map(|c| c.path_display())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !live.is_empty() || user.exists {
                    user.content = Some(live);
                }
            }
            Err(e) => notes.push(format!("{e:#}")),
        }
    }

    let mut ignored = Vec::new();
    let mut layers = Vec::new();
    for (i, f) in files.iter().enumerate().rev() {
        let Some(content) = &f.content else { continue };
        let mut kept = content.clone();
        for (key, why) in IGNORED_IN_SETTINGS {
            if kept.remove(*key).is_some() {
                ignored.push(Ignored {
                    key: key.to_string(),
                    path: f.path.clone(),
                    why: why.to_string(),
                });
            }
        }
        if f.level != Level::Managed {
            for key in MANAGED_ONLY {
                if kept.remove(*key).is_some() {
                    ignored.push(Ignored {
                        key: key.to_string(),
                        path: f.path.clone(),
                        why: format!("Claude Code honours {key} only in managed settings"),
                    });
                }
            }
        }
        layers.push((i, kept));
    }
    // Managed settings may restrict the lower levels' rules and hooks.
    let managed_says = |layers: &[(usize, Map<String, Value>)], key: &str| {
        layers.iter().any(|(i, l)| {
            files[*i].level == Level::Managed && l.get(key) == Some(&Value::Bool(true))
        })
    };
    let restrict = [
        ("allowManagedPermissionRulesOnly", "permissions"),
        ("allowManagedHooksOnly", "hooks"),
    ];
    for (flag, key) in restrict {
        if !managed_says(&layers, flag) {
            continue;
        }
        for (i, l) in layers.iter_mut() {
            if files[*i].level != Level::Managed && l.remove(key).is_some() {
                ignored.push(Ignored {
                    key: key.to_string(),
                    path: files[*i].path.clone(),
                    why: format!("managed settings set {flag}, so only managed {key} apply"),
                });
            }
        }
    }
    let refs: Vec<(usize, &Map<String, Value>)> = layers.iter().map(|(i, l)| (*i, l)).collect();
    let (merged, settings) = merge::merge(&refs, &|i| files[i].level == Level::Managed);
    // With KEYs, only what concerns them.
    let about = |key: &str| {
        opts.keys.is_empty()
            || opts
                .keys
                .iter()
                .any(|k| wanted(key, std::slice::from_ref(k)) || wanted(k, &[key.to_string()]))
    };
    let shadowed = if about("permissions") {
        shadowed_rules(&refs, &files)
    } else {
        Vec::new()
    };
    ignored.retain(|i| about(&i.key));
    let settings: Vec<Setting> = settings
        .into_iter()
        .filter(|s| wanted(&s.key, &opts.keys))
        .map(|s| Setting {
            key: s.key,
            value: s.value,
            from: s
                .from
                .iter()
                .map(|i| Origin {
                    level: files[*i].level,
                    path: files[*i].path.clone(),
                })
                .collect(),
            overrode: s
                .overrode
                .into_iter()
                .map(|(i, value)| Overridden {
                    level: files[i].level,
                    path: files[i].path.clone(),
                    value,
                })
                .collect(),
        })
        .collect();

    // MCP servers.
    let claude_json = config_dir.join(".claude.json");
    let project_key = project_root.to_string_lossy().into_owned();
    let (file_servers, project_entry) = match read_claude_json(&claude_json, &project_key) {
        Ok(v) => v,
        Err(e) => {
            notes.push(format!("{e:#}"));
            (Map::new(), None)
        }
    };
    let overlay = runtime::claude_json::Overlay::load(&rt, account, home);
    if let Some(p) = &overlay.problem {
        notes.push(p.clone());
    }
    let trusted_by_claude = project_entry
        .as_ref()
        .and_then(|e| e.get("hasTrustDialogAccepted"))
        == Some(&Value::Bool(true));
    let (desired, overlay_note) = overlay.desired(account, Some(&project_key), trusted_by_claude);
    notes.extend(overlay_note);
    let declared: Vec<String> = account.mcp_servers().keys().cloned().collect();
    let desired_servers = match desired.get("mcpServers") {
        Some(Value::Object(s)) => s.clone(),
        _ => Map::new(),
    };
    let overlay_names: Vec<String> = desired_servers
        .iter()
        .filter(|(n, v)| account.mcp_servers().get(*n) != Some(*v))
        .map(|(n, _)| n.clone())
        .collect();
    let mut user = file_servers;
    for (n, v) in desired_servers {
        user.insert(n, v);
    }
    let overlay_file = rt
        .worktree
        .as_ref()
        .and_then(|w| crate::overlay::overlay_path(account, w));
    let mut mcp_problems = Vec::new();
    let mcp_servers = if opts.keys.is_empty() || opts.keys.iter().any(|k| k == "mcpServers") {
        mcp::servers(
            &mcp::Inputs {
                managed_dir: &managed,
                cwd,
                claude_json: &claude_json,
                user,
                declared,
                overlay: overlay_file.map(|f| (f, overlay_names)),
                project_entry,
                settings: &merged,
            },
            &mut mcp_problems,
        )
    } else {
        Vec::new()
    };
    notes.extend(mcp_problems);

    Ok(Report {
        schema_version: SCHEMA_VERSION,
        directory: cwd.to_path_buf(),
        account: account_name,
        account_reason,
        config_dir,
        files,
        settings,
        ignored,
        shadowed,
        mcp_servers,
        notes,
    })
}

/// The top-level `mcpServers` and the `projects[<project>]` entry of a
/// `.claude.json` (empty when the file does not exist).
fn read_claude_json(path: &Path, project: &str) -> Result<(Map<String, Value>, Option<Value>)> {
    let snapshot = jsonfile::read(path, &jsonfile::Options::claude_json())?;
    let doc = snapshot.document()?;
    let servers = match doc.value("mcpServers")? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Ok((servers, doc.member("projects", project)?))
}

fn wanted(key: &str, keys: &[String]) -> bool {
    keys.is_empty()
        || keys
            .iter()
            .any(|k| key == k || key.starts_with(&format!("{k}.")))
}

/// Allow and ask rules covered by a deny rule, and allow rules covered by
/// an ask rule, across all levels (Claude checks deny, then ask, then allow).
fn shadowed_rules(layers: &[(usize, &Map<String, Value>)], files: &[Source]) -> Vec<Shadowed> {
    let rules = |list: &str| {
        let mut out: Vec<(String, Vec<PathBuf>)> = Vec::new();
        for (i, l) in layers.iter().rev() {
            let Some(Value::Array(a)) = l.get("permissions").and_then(|p| p.get(list)) else {
                continue;
            };
            for r in a.iter().filter_map(Value::as_str) {
                match out.iter_mut().find(|(x, _)| x == r) {
                    Some((_, f)) => f.push(files[*i].path.clone()),
                    None => out.push((r.to_string(), vec![files[*i].path.clone()])),
                }
            }
        }
        out
    };
    let (deny, ask, allow) = (rules("deny"), rules("ask"), rules("allow"));
    let mut out = Vec::new();
    for (list, checked, by_list, by) in [
        ("allow", &allow, "deny", &deny),
        ("ask", &ask, "deny", &deny),
        ("allow", &allow, "ask", &ask),
    ] {
        for (rule, files) in checked {
            if out
                .iter()
                .any(|s: &Shadowed| s.list == list && &s.rule == rule)
            {
                continue;
            }
            if let Some((by_rule, by_files)) = by.iter().find(|(b, _)| merge::covers(b, rule)) {
                out.push(Shadowed {
                    list,
                    rule: rule.clone(),
                    by_list,
                    by_rule: by_rule.clone(),
                    files: files.clone(),
                    by_files: by_files.clone(),
                });
            }
        }
    }
    out
}

/// Prints the report for people.
pub fn print(r: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{}: account {} ({}), config dir {}",
        Shown(&r.directory),
        r.account,
        r.account_reason,
        Shown(&r.config_dir)
    )?;
    writeln!(out, "\nSettings files, highest first:")?;
    for f in &r.files {
        let state = match (&f.error, f.exists, &f.content) {
            (Some(e), _, _) => format!("skipped by Claude: {}", Shown(e)),
            (None, true, _) => "read".to_string(),
            (None, false, Some(_)) => "written by the next launch".to_string(),
            (None, false, None) => "absent".to_string(),
        };
        writeln!(
            out,
            "  {:<10} {}  ({state})",
            f.level.name(),
            Shown(&f.path)
        )?;
    }
    writeln!(out, "\nSettings:")?;
    if r.settings.is_empty() {
        writeln!(out, "  (none set)")?;
    }
    for s in &r.settings {
        writeln!(out, "  {} = {}", Shown(&s.key), s.value)?;
        for f in &s.from {
            writeln!(out, "      from {} {}", f.level.name(), Shown(&f.path))?;
        }
        for o in &s.overrode {
            writeln!(
                out,
                "      overrides {} {} ({})",
                o.level.name(),
                Shown(&o.path),
                o.value
            )?;
        }
    }
    if !r.ignored.is_empty() {
        writeln!(out, "\nIgnored by Claude Code:")?;
        for i in &r.ignored {
            writeln!(out, "  {} in {}: {}", i.key, Shown(&i.path), i.why)?;
        }
    }
    if !r.shadowed.is_empty() {
        writeln!(out, "\nPermission rules that never apply:")?;
        for s in &r.shadowed {
            writeln!(
                out,
                "  {} {} ({}) is covered by {} {} ({})",
                s.list,
                Shown(&s.rule),
                join_paths(&s.files),
                s.by_list,
                Shown(&s.by_rule),
                join_paths(&s.by_files)
            )?;
        }
    }
    if !r.mcp_servers.is_empty() {
        writeln!(out, "\nMCP servers:")?;
        for s in &r.mcp_servers {
            writeln!(
                out,
                "  {:<20} {:<8} {}{}  runs: {}",
                Shown(&s.name).to_string(),
                s.scope,
                Shown(&s.file),
                s.origin
                    .as_ref()
                    .map(|o| format!(" ({})", Shown(o)))
                    .unwrap_or_default(),
                s.state
            )?;
        }
    }
    if !r.notes.is_empty() {
        writeln!(out, "\nNotes:")?;
        for n in &r.notes {
            writeln!(out, "  {}", Shown(n))?;
        }
    }
    Ok(())
}

fn join_paths(p: &[PathBuf]) -> String {
    p.iter()
        .map(|p| Shown(p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
