//! The account-wide keys of `.claude.json`, kept account-wide: a three-way
//! sync between the account's `.claude.json` and each runtime dir's.
//!
//! What is synced ([`Scope`]):
//! * the account's identity and onboarding keys (`seedKeys` of the manifest)
//!   that Nix does not declare;
//! * user-scope MCP servers (`mcpServers.<name>`) that Nix does not declare
//!   and that do not come from the project's overlay: overlay servers never
//!   reach the account;
//! * the project's consent entry, `projects[<main checkout root>]`: the
//!   fields of `projectSeedKeys` and Claude's trust flag.
//!
//! How: each runtime keeps, in `.claude-accounts/synced.json`, the values it
//! last agreed on with the account (the base). For each item, a side that
//! still holds the base value takes the other side's value, so additions,
//! changes and removals all propagate, and unrelated changes on both sides
//! merge item by item. When both sides changed one item differently, the
//! side whose file changed last wins and the conflict is reported.
//!
//! Guarantees:
//! * Nothing outside the scope is read into or written from a sync.
//! * A sync writes a file only when an item changes in it, through
//!   [`jsonfile`] (atomic, under Claude Code's lock).
//! * The account's `.claude.json` is not read whole at launch while it is
//!   unchanged: its scoped values are cached in the account's state dir,
//!   keyed by the file's inode, size and mtime ([`AccountView::load`]).
//! * A lost or damaged base only turns agreed items into conflicts, which
//!   are resolved as above: it never loses an item both sides hold.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jsonfile::{self, Edits, Members};
use crate::managed::{self, STATE_DIR};
use crate::manifest::Account;

/// Claude Code's flag, in a project's entry, that its trust dialog was
/// accepted.
pub const TRUST_FLAG: &str = "hasTrustDialogAccepted";

/// What is synced for one runtime.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Top-level keys.
    pub keys: Vec<String>,
    /// Server names never synced (declared by Nix, now or before, or from
    /// the project's overlay).
    pub excluded_servers: BTreeSet<String>,
    /// The project's key in `projects` and the fields synced there.
    pub project: Option<(String, Vec<String>)>,
}

impl Scope {
    /// The scope of a runtime of `account` for `project`; `excluded` are
    /// server names besides the account's declared ones that stay out.
    pub fn new(
        account: &Account,
        project: Option<&str>,
        excluded: impl IntoIterator<Item = String>,
    ) -> Scope {
        let keys = account
            .seed_keys
            .iter()
            .filter(|k| !account.claude_json.contains_key(*k) && k.as_str() != "mcpServers")
            .cloned()
            .collect();
        let mut excluded_servers: BTreeSet<String> =
            account.mcp_servers().keys().cloned().collect();
        excluded_servers.extend(excluded);
        let project = project
            .filter(|_| !account.claude_json.contains_key("projects"))
            .map(|p| {
                let mut fields = account.project_seed_keys.clone();
                if !fields.iter().any(|f| f == TRUST_FLAG) {
                    fields.push(TRUST_FLAG.to_string());
                }
                (p.to_string(), fields)
            });
        Scope {
            keys,
            excluded_servers,
            project,
        }
    }

    /// What to read of a `.claude.json` to collect the scoped values.
    pub fn wanted_keys(&self) -> Vec<String> {
        let mut keys = self.keys.clone();
        keys.push("mcpServers".to_string());
        keys
    }

    /// The scoped values of a file read as `doc`.
    pub fn collect(&self, doc: &dyn Members) -> Result<Values> {
        let mut top = Map::new();
        for key in &self.keys {
            if let Some(v) = doc.value(key)? {
                top.insert(key.clone(), v);
            }
        }
        let servers = doc.value("mcpServers")?;
        let project = match &self.project {
            Some((key, fields)) => doc.member_fields("projects", key, fields)?,
            None => None,
        };
        Ok(self.values(top, servers, project))
    }

    fn values(
        &self,
        top: Map<String, Value>,
        servers: Option<Value>,
        project: Option<Map<String, Value>>,
    ) -> Values {
        let servers = match servers {
            Some(Value::Object(s)) => s
                .into_iter()
                .filter(|(name, _)| !self.excluded_servers.contains(name))
                .collect(),
            _ => Map::new(),
        };
        Values {
            top,
            servers,
            project: project.unwrap_or_default(),
        }
    }

    /// The edits that make `doc` hold `diff` (whole `mcpServers` and
    /// `projects` values, with only the diff's members changed).
    pub fn edits(&self, doc: &dyn Members, diff: &Diff) -> Result<Edits> {
        let mut edits = Edits::new();
        for (key, value) in &diff.top {
            edits.insert(key.clone(), value.clone());
        }
        if !diff.servers.is_empty() {
            let mut servers = match doc.value("mcpServers")? {
                Some(Value::Object(s)) => s,
                _ => Map::new(),
            };
            set_members(&mut servers, &diff.servers);
            edits.insert("mcpServers".into(), Some(Value::Object(servers)));
        }
        if let Some((key, _)) = &self.project
            && !diff.project.is_empty()
        {
            // Decodes the whole `projects` value: only when a consent field
            // changed, which is rare.
            let mut projects = match doc.value("projects")? {
                Some(Value::Object(p)) => p,
                _ => Map::new(),
            };
            let mut entry = match projects.remove(key) {
                Some(Value::Object(e)) => e,
                _ => Map::new(),
            };
            set_members(&mut entry, &diff.project);
            projects.insert(key.clone(), Value::Object(entry));
            edits.insert("projects".into(), Some(Value::Object(projects)));
        }
        Ok(edits)
    }
}

/// Makes `object` hold `changes` (`None`: the member is removed).
fn set_members(object: &mut Map<String, Value>, changes: &Edits) {
    for (name, change) in changes {
        match change {
            Some(v) => object.insert(name.clone(), v.clone()),
            None => object.remove(name),
        };
    }
}

/// The scoped values of one `.claude.json` (an absent item is not in its
/// map).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    pub top: Map<String, Value>,
    pub servers: Map<String, Value>,
    pub project: Map<String, Value>,
}

/// Changes to one side, per item: `Some(value)` to set, `None` to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub top: Edits,
    pub servers: Edits,
    pub project: Edits,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.top.is_empty() && self.servers.is_empty() && self.project.is_empty()
    }
}

/// The result of a three-way merge.
#[derive(Debug, Default)]
pub struct Plan {
    pub to_runtime: Diff,
    pub to_account: Diff,
    /// What both sides hold afterwards: the next base.
    pub base: Values,
    /// One line per item both sides changed differently.
    pub conflicts: Vec<String>,
    /// One line per item that went from the runtime to the account.
    pub shared: Vec<String>,
}

/// Which side's file changed last (wins conflicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newer {
    Account,
    Runtime,
}

/// The three-way merge of `account` and `runtime` from `base`.
///
/// A side that lost every top-level key the base holds was reset (Claude
/// Code replaces a `.claude.json` it cannot parse by a fresh one): its
/// losses are not changes to propagate. The merge then runs as for a new
/// runtime, from no base: what either side holds is kept and copied to the
/// other, so the reset side is restored, and nothing is removed.
pub fn merge(account: &Values, runtime: &Values, base: &Values, newer: Newer) -> Plan {
    let reset = |side: &Values| !base.top.is_empty() && side.top.is_empty();
    if reset(account) || reset(runtime) {
        let mut plan = merge_from(account, runtime, &Values::default(), newer);
        plan.conflicts.push(format!(
            "the {} .claude.json had lost its account-wide keys (reset by Claude Code after damage?); restored them from the {}",
            if reset(account) { "account's" } else { "worktree's" },
            if reset(account) { "worktree's" } else { "account's" },
        ));
        return plan;
    }
    merge_from(account, runtime, base, newer)
}

fn merge_from(account: &Values, runtime: &Values, base: &Values, newer: Newer) -> Plan {
    let mut plan = Plan::default();
    let sections = [
        ("", &account.top, &runtime.top, &base.top),
        (
            "mcpServers.",
            &account.servers,
            &runtime.servers,
            &base.servers,
        ),
        (
            "projects[…].",
            &account.project,
            &runtime.project,
            &base.project,
        ),
    ];
    let mut next: [Map<String, Value>; 3] = Default::default();
    let mut to_runtime: [Vec<(String, Option<Value>)>; 3] = Default::default();
    let mut to_account: [Vec<(String, Option<Value>)>; 3] = Default::default();
    for (i, (label, a, r, b)) in sections.into_iter().enumerate() {
        let names: BTreeSet<&String> = a.keys().chain(r.keys()).chain(b.keys()).collect();
        for name in names {
            let (av, rv, bv) = (a.get(name), r.get(name), b.get(name));
            let agreed = if av == rv {
                av
            } else if av == bv {
                to_account[i].push((name.clone(), rv.cloned()));
                plan.shared.push(format!("{label}{name} ({})", verb(rv)));
                rv
            } else if rv == bv {
                to_runtime[i].push((name.clone(), av.cloned()));
                av
            } else {
                let (winner, side) = match newer {
                    Newer::Account => (av, "the account's"),
                    Newer::Runtime => (rv, "this worktree's"),
                };
                plan.conflicts.push(format!(
                    "{label}{name} was changed both in this worktree and in the account; kept {side} (changed last)"
                ));
                match newer {
                    Newer::Account => to_runtime[i].push((name.clone(), winner.cloned())),
                    Newer::Runtime => to_account[i].push((name.clone(), winner.cloned())),
                }
                winner
            };
            if let Some(v) = agreed {
                next[i].insert(name.clone(), v.clone());
            }
        }
    }
    let [top, servers, project] = next;
    plan.base = Values {
        top,
        servers,
        project,
    };
    let [rt_top, rt_servers, rt_project] = to_runtime;
    let [ac_top, ac_servers, ac_project] = to_account;
    plan.to_runtime = diff_of(rt_top, rt_servers, rt_project);
    plan.to_account = diff_of(ac_top, ac_servers, ac_project);
    plan
}

fn verb(v: Option<&Value>) -> &'static str {
    if v.is_some() {
        "added or changed"
    } else {
        "removed"
    }
}

fn diff_of(
    top: Vec<(String, Option<Value>)>,
    servers: Vec<(String, Option<Value>)>,
    project: Vec<(String, Option<Value>)>,
) -> Diff {
    Diff {
        top: top.into_iter().collect(),
        servers: servers.into_iter().collect(),
        project: project.into_iter().collect(),
    }
}

impl Diff {
    /// The diff restricted to items whose value in `now` still is the one
    /// in `then` (the rest changed concurrently and waits for the next sync).
    pub fn still_applicable(&self, then: &Values, now: &Values) -> Diff {
        fn unchanged(
            changes: &Edits,
            then: &Map<String, Value>,
            now: &Map<String, Value>,
        ) -> Edits {
            changes
                .iter()
                .filter(|(k, _)| then.get(*k) == now.get(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
        Diff {
            top: unchanged(&self.top, &then.top, &now.top),
            servers: unchanged(&self.servers, &then.servers, &now.servers),
            project: unchanged(&self.project, &then.project, &now.project),
        }
    }

    /// `values` with this diff applied.
    pub fn applied_to(&self, values: &Values) -> Values {
        let mut out = values.clone();
        set_members(&mut out.top, &self.top);
        set_members(&mut out.servers, &self.servers);
        set_members(&mut out.project, &self.project);
        out
    }
}

/// The base record of a runtime: `<runtime>/.claude-accounts/synced.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Base {
    project_key: Option<String>,
    values: Values,
}

pub fn base_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(STATE_DIR).join("synced.json")
}

/// The base of `runtime_dir` for `scope` (empty when missing or damaged, or
/// recorded for another project).
pub fn read_base(runtime_dir: &Path, scope: &Scope) -> Values {
    let base: Option<Base> = std::fs::read(base_path(runtime_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match base {
        Some(mut b) => {
            if b.project_key.as_deref() != scope.project.as_ref().map(|(k, _)| k.as_str()) {
                b.values.project = Map::new();
            }
            b.values
        }
        None => Values::default(),
    }
}

/// Records `values` as the base (not synced: a lost base is harmless),
/// unless it is `current`, the base as read.
pub fn write_base(
    runtime_dir: &Path,
    scope: &Scope,
    current: &Values,
    values: &Values,
) -> Result<()> {
    match base_to_write(runtime_dir, scope, current, values) {
        Some(base) => base.write(),
        None => Ok(()),
    }
}

/// The base [`write_base`] would write, if it would write one.
pub fn base_to_write(
    runtime_dir: &Path,
    scope: &Scope,
    current: &Values,
    values: &Values,
) -> Option<PendingBase> {
    let path = base_path(runtime_dir);
    if current == values && path.exists() {
        return None;
    }
    let base = Base {
        project_key: scope.project.as_ref().map(|(k, _)| k.clone()),
        values: values.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&base).expect("serialisable");
    Some(PendingBase { path, bytes })
}

/// A sync base to write (see [`base_to_write`]).
#[derive(Debug)]
pub struct PendingBase {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl PendingBase {
    /// Writes it (atomically; not durable: a base lost in a crash reads as
    /// none, and the next sync treats every value as new on both sides).
    pub fn write(&self) -> Result<()> {
        jsonfile::write_atomic(&self.path, &self.bytes, &jsonfile::Options::rebuildable())
    }
}

/// Which of two files changed last (by mtime; the account on a tie or
/// when unknown, as the account is what every worktree shares).
pub fn newer(account_file: &Path, runtime_file: &Path) -> Newer {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (mtime(account_file), mtime(runtime_file)) {
        (Some(a), Some(r)) if r > a => Newer::Runtime,
        (None, Some(_)) => Newer::Runtime,
        _ => Newer::Account,
    }
}

/// The account's scoped values, from the cache when it matches the file.
pub struct AccountView {
    pub values: Values,
    /// A refreshed cache to write once claude has started.
    pub refreshed: Option<CacheUpdate>,
}

/// A cache to write (best effort).
#[derive(Debug)]
pub struct CacheUpdate {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl CacheUpdate {
    /// Writes the cache (atomically; not synced: a lost cache is only a
    /// cache).
    pub fn write(&self) -> Result<()> {
        managed::create_private_dir(self.path.parent().expect("state dir"))?;
        jsonfile::write_atomic(&self.path, &self.bytes, &jsonfile::Options::rebuildable())
    }
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
                Some(CacheUpdate {
                    path: cache_path,
                    bytes: serde_json::to_vec(&cache).expect("serialisable"),
                })
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
    jsonfile::update(&path, &jsonfile::Options::claude_json(), |doc| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn values(v: Value) -> Values {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn one_sided_changes_flow_to_the_other_side() {
        let base =
            values(json!({"top": {"userID": "u"}, "servers": {"a": 1, "gone": 2}, "project": {}}));
        let account = values(
            json!({"top": {"userID": "u"}, "servers": {"a": 1, "gone": 2, "new": 3}, "project": {}}),
        );
        let runtime = values(
            json!({"top": {"userID": "u", "oauthAccount": {"x": 1}}, "servers": {"a": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let plan = merge(&account, &runtime, &base, Newer::Account);
        assert_eq!(plan.conflicts, Vec::<String>::new());
        assert_eq!(
            plan.to_runtime,
            Diff {
                servers: [("new".to_string(), Some(json!(3)))].into(),
                ..Diff::default()
            }
        );
        assert_eq!(
            plan.to_account,
            Diff {
                top: [("oauthAccount".to_string(), Some(json!({"x": 1})))].into(),
                servers: [("gone".to_string(), None)].into(),
                project: [("hasTrustDialogAccepted".to_string(), Some(json!(true)))].into(),
            }
        );
        assert_eq!(
            plan.base,
            values(
                json!({"top": {"userID": "u", "oauthAccount": {"x": 1}}, "servers": {"a": 1, "new": 3}, "project": {"hasTrustDialogAccepted": true}})
            )
        );
    }

    #[test]
    fn without_a_base_the_account_seeds_a_new_runtime() {
        let account = values(
            json!({"top": {"userID": "u"}, "servers": {"s": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let plan = merge(
            &account,
            &Values::default(),
            &Values::default(),
            Newer::Runtime,
        );
        assert!(plan.to_account.is_empty());
        assert_eq!(plan.to_runtime.applied_to(&Values::default()), account);
        assert_eq!(plan.base, account);
    }

    #[test]
    fn conflicts_go_to_the_side_changed_last_and_are_reported() {
        let base = values(json!({"top": {}, "servers": {"s": 1}, "project": {}}));
        let account = values(json!({"top": {}, "servers": {"s": 2}, "project": {}}));
        let runtime = values(json!({"top": {}, "servers": {"s": 3}, "project": {}}));
        let plan = merge(&account, &runtime, &base, Newer::Runtime);
        assert_eq!(plan.conflicts.len(), 1, "{:?}", plan.conflicts);
        assert!(plan.to_runtime.is_empty());
        assert_eq!(plan.to_account.applied_to(&account), runtime);
        let plan = merge(&account, &runtime, &base, Newer::Account);
        assert!(plan.to_account.is_empty());
        assert_eq!(plan.to_runtime.applied_to(&runtime), account);
    }

    #[test]
    fn a_concurrent_change_is_not_overwritten() {
        let seen = values(json!({"top": {}, "servers": {"a": 1, "b": 1}, "project": {}}));
        let now = values(json!({"top": {}, "servers": {"a": 1, "b": 9}, "project": {}}));
        let diff = Diff {
            servers: [("a".to_string(), None), ("b".to_string(), None)].into(),
            ..Diff::default()
        };
        let applicable = diff.still_applicable(&seen, &now);
        assert_eq!(applicable.servers, Edits::from([("a".to_string(), None)]));
    }

    #[test]
    fn a_reset_side_is_restored_and_nothing_is_removed() {
        let base = values(
            json!({"top": {"userID": "u", "oauthAccount": 1}, "servers": {"s": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let reset = values(json!({"top": {}, "servers": {}, "project": {}}));
        for newer in [Newer::Account, Newer::Runtime] {
            // The runtime was reset: the account keeps everything.
            let plan = merge(&base, &reset, &base, newer);
            assert!(plan.to_account.is_empty(), "{:?}", plan.to_account);
            assert_eq!(plan.to_runtime.applied_to(&reset), base);
            assert_eq!(plan.conflicts.len(), 1);
            // The account was reset: the worktree restores it.
            let plan = merge(&reset, &base, &base, newer);
            assert!(plan.to_runtime.is_empty());
            assert_eq!(plan.to_account.applied_to(&reset), base);
        }
    }

    #[test]
    fn a_null_value_is_a_value() {
        let account = values(json!({"top": {"k": null}, "servers": {}, "project": {}}));
        let plan = merge(
            &account,
            &Values::default(),
            &Values::default(),
            Newer::Account,
        );
        assert_eq!(
            plan.to_runtime.top,
            [("k".to_string(), Some(Value::Null))].into()
        );
        assert_eq!(plan.to_runtime.applied_to(&Values::default()), account);
    }
}
