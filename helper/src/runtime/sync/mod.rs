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
//!   [`jsonfile`](crate::jsonfile) (atomic, under Claude Code's lock).
//! * The account's `.claude.json` is not read whole at launch while it is
//!   unchanged: its scoped values are cached in the account's state dir,
//!   keyed by the file's inode, size and mtime ([`AccountView::load`]).
//! * A lost or damaged base only turns agreed items into conflicts, which
//!   are resolved as above: it never loses an item both sides hold.
//!
//! The parts: [`Scope`] (here) says what is synced and reads and edits it
//! in a `.claude.json`; `merge.rs` is the three-way merge ([`merge`]);
//! `base.rs` keeps a runtime's base ([`read_base`]); `account.rs` reads the
//! account's side through its cache ([`AccountView`]) and writes to it
//! ([`push_to_account`]).

mod account;
mod base;
mod merge;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::jsonfile::{Edits, Members};
use crate::manifest::Account;

pub use account::{AccountView, modified, push_to_account};
pub use base::{base_path, base_to_write, read_base, write_base};
pub use merge::{Diff, Newer, Plan, Values, merge};

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
