//! The account's side of the sync: its scoped values, read through the
//! cache beside its `.claude.json`, and pushes into that file.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Diff, Scope, Values};
use crate::jsonfile;
use crate::managed::{PendingFile, STATE_DIR};

/// The account's scoped values, from the cache when it matches the file.
pub struct AccountView {
    pub values: Values,
    /// A refreshed cache to write once claude has started (best effort:
    /// a lost cache is only a cache).
    pub refreshed: Option<PendingFile>,
}

/// `<account>/.claude-accounts/sync-cache.json`: the scoped members of one
/// version of the account's `.claude.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cache {
    identity: String,
    keys: Vec<String>,
    values: Map<String, Value>,
    /// Project key → `{"fields": [...], "entry": {...} | null}`.
    projects: Map<String, Value>,
}

impl AccountView {
    /// The scoped values of `<account_dir>/.claude.json`.
    pub fn load(account_dir: &Path, scope: &Scope) -> Result<AccountView> {
        let path = account_dir.join(".claude.json");
        let cache_path = account_dir.join(STATE_DIR).join("sync-cache.json");
        let identity = file_identity(&path);
        let keys = scope.wanted_keys();
        let project_id = scope
            .project
            .as_ref()
            .map(|(k, fields)| (k.clone(), serde_json::json!(fields)));
        let cached: Option<Cache> = std::fs::read(&cache_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|c: &Cache| identity.as_ref() == Some(&c.identity) && c.keys == keys);
        let cached_project = |c: &Cache| match &project_id {
            None => Some(None),
            Some((k, fields)) => c
                .projects
                .get(k)
                .filter(|e| e.get("fields") == Some(fields))
                .map(|e| match e.get("entry") {
                    Some(Value::Object(o)) => Some(o.clone()),
                    _ => None,
                }),
        };
        if let Some(c) = &cached
            && let Some(project) = cached_project(c)
        {
            return Ok(AccountView {
                values: scope.values(
                    pick_keys(&c.values, &scope.keys),
                    c.values.get("mcpServers").cloned(),
                    project,
                ),
                refreshed: None,
            });
        }
        let picked = jsonfile::pick(
            &path,
            &jsonfile::Options::claude_json(),
            jsonfile::Wanted {
                keys: &keys,
                fields_of: scope
                    .project
                    .as_ref()
                    .map(|(k, f)| ("projects", k.as_str(), &f[..])),
            },
        )?;
        let mut cache = cached.unwrap_or_default();
        if cache.identity != identity.clone().unwrap_or_default() {
            cache.projects = Map::new();
        }
        cache.values = picked.values.clone();
        if let Some((k, fields)) = &project_id {
            cache.projects.insert(
                k.clone(),
                serde_json::json!({
                    "fields": fields,
                    "entry": picked.fields.clone().map_or(Value::Null, Value::Object),
                }),
            );
        }
        let values = scope.values(
            pick_keys(&picked.values, &scope.keys),
            picked.values.get("mcpServers").cloned(),
            picked.fields,
        );
        // The identity was taken before the read: if the file changed in
        // between, the cache never matches it (a miss, never a stale hit).
        let refreshed = match (identity, picked.exists) {
            (Some(identity), true) => {
                cache.identity = identity;
                cache.keys = keys;
                Some(PendingFile::new(
                    cache_path,
                    serde_json::to_vec(&cache).expect("serialisable"),
                ))
            }
            _ => None,
        };
        Ok(AccountView { values, refreshed })
    }
}

fn pick_keys(values: &Map<String, Value>, keys: &[String]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| values.get(k).map(|v| (k.clone(), v.clone())))
        .collect()
}

/// Identity (inode, size, mtime) of a file, for the cache.
fn file_identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{} {} {}.{}",
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// Pushes `diff` into the account's `.claude.json`, item by item only where
/// the account still holds what `seen` says (the rest changed meanwhile and
/// waits for the next sync). Returns what was applied.
pub fn push_to_account(
    account_dir: &Path,
    scope: &Scope,
    seen: &Values,
    diff: &Diff,
) -> Result<Diff> {
    let path = account_dir.join(".claude.json");
    let mut applied = Diff::default();
    jsonfile::update(&path, &jsonfile::Options::account_claude_json(), |doc| {
        let now = scope.collect(doc)?;
        applied = diff.still_applicable(seen, &now);
        scope.edits(doc, &applied)
    })
    .with_context(|| {
        format!(
            "sharing this worktree's account-wide keys with {}",
            path.display()
        )
    })?;
    Ok(applied)
}

/// When a file was modified, for reports.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
