//! A runtime dir's `.claude.json` at launch: the account-wide keys synced
//! from and to the account ([`super::sync`]), the project's MCP overlay when
//! the project is trusted, and the account's declared keys applied
//! three-way, in one atomic write.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value};

use super::Runtime;
use super::sync::{self, AccountView, Scope, TRUST_FLAG, Values};
use crate::apply::Report;
use crate::jsonfile::{self, Outcome};
use crate::managed::{self, ManagedFile};
use crate::manifest::Account;
use crate::overlay;

/// A worktree's MCP overlay as read at launch, and whether the account's
/// trust list covers the project.
pub struct Overlay {
    path: Option<PathBuf>,
    servers: Option<Map<String, Value>>,
    listed: bool,
    /// Why an existing overlay file could not be used.
    pub problem: Option<String>,
}

impl Overlay {
    /// Reads the overlay of `rt`'s worktree (none outside a worktree).
    pub fn load(rt: &Runtime, account: &Account, home: &Path) -> Overlay {
        let path = rt
            .worktree
            .as_ref()
            .and_then(|w| overlay::overlay_path(account, w));
        let (servers, problem) = match &path {
            Some(p) => match overlay::read_overlay(p) {
                Ok(o) => (o, None),
                Err(e) => (None, Some(format!("ignoring the MCP overlay: {e:#}"))),
            },
            None => (None, None),
        };
        let listed = rt
            .project_key
            .as_deref()
            .is_some_and(|p| overlay::listed_as_trusted(account, home, p));
        Overlay {
            path,
            servers,
            listed,
            problem,
        }
    }

    /// The names of the overlay's servers (trusted or not): never synced to
    /// the account.
    pub fn server_names(&self) -> impl Iterator<Item = String> + '_ {
        self.servers.iter().flat_map(|s| s.keys().cloned())
    }

    /// The declared keys: the account's, with the overlay's servers merged
    /// over them when the project is trusted (by the list, or by Claude
    /// Code's trust dialog as recorded in the project's entry `trusted`),
    /// and the line to tell the user when an overlay is ignored.
    pub fn desired(
        &self,
        account: &Account,
        project: Option<&str>,
        trusted_by_claude: bool,
    ) -> (Map<String, Value>, Option<String>) {
        match &self.servers {
            Some(o) if self.listed || trusted_by_claude => {
                (overlay::merged_claude_json(account, Some(o)), None)
            }
            Some(o) if !o.is_empty() => (
                account.claude_json.clone(),
                Some(format!(
                    "ignoring MCP servers in {}: {} is not a trusted project; trust it by accepting Claude Code's trust dialog there or by adding it to trustedProjects of this account, then relaunch",
                    self.path
                        .as_ref()
                        .expect("servers come from a file")
                        .display(),
                    project.unwrap_or("this worktree")
                )),
            ),
            _ => (account.claude_json.clone(), None),
        }
    }
}

/// The sync scope of `rt`, with the server names its own declarations and
/// overlay own.
pub fn scope(
    rt: &Runtime,
    account: &Account,
    last_applied: Option<&Map<String, Value>>,
    overlay: &Overlay,
) -> Scope {
    let recorded: Vec<String> = last_applied
        .and_then(|r| match r.get("mcpServers") {
            Some(Value::Object(s)) => Some(s.keys().cloned().collect()),
            _ => None,
        })
        .unwrap_or_default();
    let project = rt
        .project_key
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    Scope::new(
        account,
        project.as_deref(),
        recorded.into_iter().chain(overlay.server_names()),
    )
}

/// What preparing the runtime's `.claude.json` did.
pub struct Prepared {
    pub report: Report,
    pub outcome: Outcome,
    /// The account's refreshed sync cache, written once claude started.
    pub cache: Option<managed::PendingFile>,
    /// With `later`: the last-applied record and the sync base, to write
    /// once claude started.
    pub record: Option<managed::PendingRecord>,
    pub base: Option<managed::PendingFile>,
    pub notes: Vec<String>,
}

/// Syncs, overlays and applies the runtime's `.claude.json`; pushes what
/// only the runtime had (a session that could not finish) to the account.
/// With `later`, the helper's records of what it did are returned, not
/// written (see [`super::Later`]).
pub fn prepare(
    rt: &Runtime,
    file: &ManagedFile,
    account: &Account,
    home: &Path,
    later: bool,
) -> Result<Prepared> {
    let overlay = Overlay::load(rt, account, home);
    let mut notes: Vec<String> = overlay.problem.iter().cloned().collect();
    let record = file.read_record()?;
    let scope = scope(rt, account, record.applied.as_ref(), &overlay);
    let view = AccountView::load(&rt.account_dir, &scope)?;
    let base = sync::read_base(&rt.dir, &scope);
    let newer = sync::newer(&rt.account_dir.join(".claude.json"), &file.path);
    let project = scope.project.as_ref().map(|(k, _)| k.clone());
    let mut keys: Vec<String> = account.claude_json.keys().cloned().collect();
    keys.extend(scope.wanted_keys());
    let fields = scope
        .project
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default();
    let reads = jsonfile::Wanted {
        keys: &keys,
        fields_of: project.as_deref().map(|p| ("projects", p, &fields[..])),
    };
    let mut plan = None;
    let mut overlay_note = None;
    let (report, outcome, record) = file.apply_with(record, Some(reads), later, |doc| {
        let runtime = scope.collect(doc)?;
        let merged = sync::merge(&view.values, &runtime, &base, newer);
        let extra = scope.edits(doc, &merged.to_runtime)?;
        let trusted = merged.base.project.get(TRUST_FLAG) == Some(&Value::Bool(true));
        let (desired, note) = overlay.desired(account, project.as_deref(), trusted);
        overlay_note = note;
        plan = Some(merged);
        Ok(managed::Prepare { desired, extra })
    })?;
    notes.extend(overlay_note);
    let plan = plan.expect("apply_with calls prepare");
    let mut agreed = plan.base.clone();
    if !plan.to_account.is_empty() {
        let applied =
            sync::push_to_account(&rt.account_dir, &scope, &view.values, &plan.to_account)?;
        if applied != plan.to_account {
            // What changed in the account meanwhile is synced next time.
            agreed = base_after_partial_push(&base, &plan.base, &plan.to_account, &applied);
        }
    }
    notes.extend(plan.conflicts.iter().cloned());
    let mut pending_base = sync::base_to_write(&rt.dir, &scope, &base, &agreed);
    if !later && let Some(b) = pending_base.take() {
        b.write()?;
    }
    Ok(Prepared {
        report,
        outcome,
        cache: view.refreshed,
        record,
        base: pending_base,
        notes,
    })
}

/// The base after a push that applied only part of `wanted`: items not
/// pushed keep their old base, so the next sync sees them changed on both
/// sides.
fn base_after_partial_push(
    old: &Values,
    new: &Values,
    wanted: &sync::Diff,
    applied: &sync::Diff,
) -> Values {
    let mut out = new.clone();
    for k in wanted.top.keys().filter(|k| !applied.top.contains_key(*k)) {
        restore(&mut out.top, &old.top, k);
    }
    for k in wanted
        .servers
        .keys()
        .filter(|k| !applied.servers.contains_key(*k))
    {
        restore(&mut out.servers, &old.servers, k);
    }
    for k in wanted
        .project
        .keys()
        .filter(|k| !applied.project.contains_key(*k))
    {
        restore(&mut out.project, &old.project, k);
    }
    out
}

fn restore(into: &mut Map<String, Value>, from: &Map<String, Value>, key: &str) {
    match from.get(key) {
        Some(v) => into.insert(key.to_string(), v.clone()),
        None => into.remove(key),
    };
}

/// After a session: what changed in the runtime's account-wide keys goes to
/// the account (and what changed in the account meanwhile, and conflicts
/// resolved for the account, to the runtime). Reads the account file only
/// when the runtime changed something. Returns lines for the user.
pub fn finish(
    rt: &Runtime,
    file: &ManagedFile,
    account: &Account,
    home: &Path,
) -> Result<Vec<String>> {
    let overlay = Overlay::load(rt, account, home);
    let scope = scope(rt, account, file.last_applied()?.as_ref(), &overlay);
    let base = sync::read_base(&rt.dir, &scope);
    let picked = jsonfile::pick(
        &file.path,
        &file.opts,
        jsonfile::Wanted {
            keys: &scope.wanted_keys(),
            fields_of: scope
                .project
                .as_ref()
                .map(|(k, f)| ("projects", k.as_str(), &f[..])),
        },
    )?;
    let runtime = scope.collect(&picked)?;
    if runtime == base {
        return Ok(Vec::new());
    }
    let account_file = rt.account_dir.join(".claude.json");
    let newer = sync::newer(&account_file, &file.path);
    let mut plan = None;
    jsonfile::update(
        &account_file,
        &jsonfile::Options::account_claude_json(),
        |doc| {
            let current = scope.collect(doc)?;
            let merged = sync::merge(&current, &runtime, &base, newer);
            let edits = scope.edits(doc, &merged.to_account)?;
            plan = Some(merged);
            Ok(edits)
        },
    )?;
    let plan = plan.expect("update calls the edit function");
    let mut agreed = plan.base.clone();
    if !plan.to_runtime.is_empty() {
        let applied = push_to_runtime(file, &scope, &runtime, &plan.to_runtime)?;
        if applied != plan.to_runtime {
            agreed = base_after_partial_push(&base, &plan.base, &plan.to_runtime, &applied);
        }
    }
    sync::write_base(&rt.dir, &scope, &base, &agreed)?;
    let mut notes = plan.conflicts;
    if !plan.shared.is_empty() {
        notes.push(format!(
            "shared with the account ({}): {}",
            account_file.display(),
            plan.shared.join(", ")
        ));
    }
    Ok(notes)
}

fn push_to_runtime(
    file: &ManagedFile,
    scope: &Scope,
    seen: &Values,
    diff: &sync::Diff,
) -> Result<sync::Diff> {
    let mut applied = sync::Diff::default();
    jsonfile::update(&file.path, &file.opts, |doc| {
        let now = scope.collect(doc)?;
        applied = diff.still_applicable(seen, &now);
        scope.edits(doc, &applied)
    })?;
    Ok(applied)
}

/// What launching in `rt` would change in its `.claude.json` (for
/// `status`), without writing: the declared keys and the overlay. (Items
/// the sync would bring are not changes Nix makes.)
pub fn plan(rt: &Runtime, account: &Account, home: &Path) -> Result<Report> {
    let file = ManagedFile::claude_json(&rt.dir);
    let snapshot = jsonfile::read(&file.path, &file.opts)?;
    let doc = snapshot.document()?;
    let project = rt
        .project_key
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let trusted = match project.as_deref() {
        Some(p) => {
            doc.member_fields("projects", p, &[TRUST_FLAG.to_string()])?
                .and_then(|f| f.get(TRUST_FLAG).cloned())
                == Some(Value::Bool(true))
        }
        None => false,
    };
    let (desired, _) =
        Overlay::load(rt, account, home).desired(account, project.as_deref(), trusted);
    file.plan(&desired, None)
}
