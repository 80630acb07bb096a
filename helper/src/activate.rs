//! `claude-accounts activate`: make every account's declared state hold in its
//! account dir (run from Home Manager's activation, after `linkGeneration`).
//!
//! Per account: resolve the account dir to the path it really is and check
//! that it is the account's own (see [`crate::configdir`]); create it (0700)
//! if missing, or make it 0700; migrate a
//! `settings.json` that is a link into the Nix store (left by Home Manager's
//! own `programs.claude-code` or an older setup) into a real file with the same
//! content; three-way apply `settings.json` and, when marketplaces are or were
//! declared, `plugins/known_marketplaces.json`; three-way apply `.claude.json`
//! unless a session holds the account dir, in which case the change is left
//! pending for the next launch. Modes hold even when nothing else changes
//! (see [`crate::modes`]): each repair is one line. Quiet unless something
//! changed. An account that fails is reported and leaves its files
//! untouched; the others still run. Paths are printed with their control
//! characters escaped ([`Shown`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::apply::Report;
use crate::jsonfile::{self, Outcome, Symlinks};
use crate::managed::ManagedFile;
use crate::manifest::{Account, Isolation, Manifest};
use crate::modes;
use crate::shown::Shown;

/// How activation runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Print the planned changes as RFC 6902 patches; change nothing.
    pub dry_run: bool,
    /// Also report what was already in place.
    pub verbose: bool,
}

/// Activates every account; returns false when an account failed (each
/// failure is reported on stderr and leaves that account's files untouched).
///
/// Accounts are independent (each has its own config dir), so up to
/// [`WORKERS`] are activated at the same time, each into its own buffer;
/// the output is then printed in account order, exactly as one at a time
/// would print it.
pub fn activate(m: &Manifest, home: &Path, opts: &Options, out: &mut dyn Write) -> Result<bool> {
    let accounts: Vec<(&String, &Account)> = m.accounts.iter().collect();
    let dirs = m.config_dirs(home);
    let next = AtomicUsize::new(0);
    let results: Vec<OnceLock<Activated>> = accounts.iter().map(|_| OnceLock::new()).collect();
    // Takes accounts in order until none is left.
    let work = || {
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some((name, account)) = accounts.get(k) else {
                break;
            };
            let mut buffer = Vec::new();
            let result = match &dirs[name.as_str()] {
                Ok(dir) => activate_account(m, name, account, dir, home, opts, &mut buffer),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            };
            let _ = results[k].set((buffer, result));
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..WORKERS.min(accounts.len()) {
            // Without more threads (resource limits), this one does it all.
            let _ = std::thread::Builder::new().spawn_scoped(scope, work);
        }
        work();
    });
    let mut ok = true;
    for ((name, _), result) in accounts.iter().zip(results) {
        let (buffer, result) = result.into_inner().expect("every account was taken");
        out.write_all(&buffer)?;
        if let Err(err) = result {
            out.flush()?;
            eprintln!("claude-accounts: error: account {name}: {err:#}");
            ok = false;
        }
    }
    Ok(ok)
}

/// One account's output and result.
type Activated = (Vec<u8>, Result<()>);

/// How many accounts are activated at the same time: their work is mostly
/// waiting for the disk (fsync), which overlaps well, and more waits at once
/// let the disk merge its cache flushes. Ten accounts with a change, in
/// this VM: 4 at a time 94.6 ms, 6 87.7, 10 81.2, 16 77.8 (median of 22).
pub const WORKERS: usize = 8;

fn activate_account(
    m: &Manifest,
    name: &str,
    account: &Account,
    dir: &Path,
    home: &Path,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    if opts.dry_run {
        if !dir.exists() {
            writeln!(out, "{name}: would create {}", Shown(dir))?;
        }
    } else {
        let existed = dir.exists();
        if let Some(fix) = modes::hold_dir(dir)? {
            writeln!(out, "{name}: {fix}")?;
        }
        if !existed {
            writeln!(out, "{name}: created {}", Shown(dir))?;
        }
    }

    let settings = ManagedFile::settings(dir);
    let migrated = store_link_content(&settings.path, &m.store_dir)?;
    let mut record = None;
    let mut plan_from = None;
    if let Some(link) = migrated {
        writeln!(
            out,
            "{name}: {} {} (a link to {}) into a real file Claude Code can write",
            if opts.dry_run { "would turn" } else { "turned" },
            Shown(&settings.path),
            Shown(&link.target)
        )?;
        if !opts.dry_run {
            let replace = jsonfile::Options {
                symlinks: Symlinks::Replace,
                ..jsonfile::Options::settings_json()
            };
            jsonfile::write_atomic(&settings.path, link.text.as_bytes(), &replace)?;
        }
        // Everything in a store link was Nix's: what the account no longer
        // declares is pruned instead of lingering as if the user wrote it.
        record = Some(link.content);
        plan_from = Some(link.target);
    }
    let settings = match plan_from {
        // Nothing was migrated yet: plan from the link's final target.
        Some(target) if opts.dry_run => ManagedFile {
            path: target,
            ..settings
        },
        _ => settings,
    };
    apply_file(name, &settings, &account.settings, record, opts, out)?;
    apply_known_marketplaces(name, dir, account, opts, out)?;

    let claude_json = ManagedFile::account_claude_json(dir);
    let probe = crate::lock::probe(dir)?;
    if probe.is_held() {
        let holder = probe.holder();
        let plan = claude_json.plan(&account.claude_json, None)?;
        if !plan.changes.is_empty() {
            writeln!(
                out,
                "{name}: {} pending: a session is running in {}{}; it is applied at the next launch of claude{name}",
                Shown(&claude_json.path),
                Shown(dir),
                holder
                    .map(|h| format!(" (pid {})", h.pid))
                    .unwrap_or_default()
            )?;
        }
        return Ok(());
    }
    apply_file(name, &claude_json, &account.claude_json, None, opts, out)?;
    prepare_spare(name, account, dir, home, opts, out)
}

/// Makes the account's spare runtime dir (see [`crate::runtime::spare`])
/// unless it has one or runs in its account dir. A failure is reported,
/// not fatal: launches then make their runtime dirs in place.
fn prepare_spare(
    name: &str,
    account: &Account,
    dir: &Path,
    home: &Path,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    if opts.dry_run || account.isolation == Isolation::Account {
        return Ok(());
    }
    let state_home = crate::registry::state_home(home);
    if let Err(e) = crate::runtime::spare::make(&state_home, name, dir) {
        writeln!(
            out,
            "{name}: warning: {e:#}; could not prepare a spare runtime dir, so a first launch in a new worktree makes its own (fix the path, or ignore this)"
        )?;
    }
    Ok(())
}

/// Three-way applies the declared marketplaces to
/// `plugins/known_marketplaces.json`, creating `plugins/` when needed. An
/// account that declares none and never did is left alone (no file, no
/// directory).
fn apply_known_marketplaces(
    name: &str,
    dir: &Path,
    account: &Account,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    let file = ManagedFile::known_marketplaces(dir);
    if account.known_marketplaces.is_empty() && file.last_applied()?.is_none() {
        return Ok(());
    }
    if !opts.dry_run {
        crate::managed::create_private_dir(file.path.parent().expect("the file is in plugins/"))?;
    }
    apply_file(name, &file, &account.known_marketplaces, None, opts, out)
}

/// A `settings.json` that is a link into the Nix store.
struct StoreLink {
    target: PathBuf,
    text: String,
    content: Map<String, Value>,
}

/// Reads `path` when it is a symlink into the store, however many hops
/// (Home Manager links `settings.json` to its generation's `home-files`,
/// which links on into the store).
fn store_link_content(path: &Path, store: &Path) -> Result<Option<StoreLink>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        _ => return Ok(None),
    }
    // A dangling link is not a store link; the normal read reports it.
    let Ok(resolved) = std::fs::canonicalize(path) else {
        return Ok(None);
    };
    let store = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    if !resolved.starts_with(&store) {
        return Ok(None);
    }
    let snapshot = jsonfile::read(&resolved, &jsonfile::Options::settings_json())?;
    let content = match serde_json::from_str(&snapshot.text)
        .with_context(|| format!("parsing {}", resolved.display()))?
    {
        Value::Object(content) => content,
        _ => unreachable!("jsonfile::read accepts only objects"),
    };
    Ok(Some(StoreLink {
        target: resolved,
        text: snapshot.text.into_string(),
        content,
    }))
}

fn apply_file(
    name: &str,
    file: &ManagedFile,
    desired: &Map<String, Value>,
    fallback_record: Option<Map<String, Value>>,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    if opts.dry_run {
        let report = file.plan(desired, fallback_record)?;
        if report.changes.is_empty() {
            if opts.verbose {
                writeln!(out, "{name}: {} is up to date", Shown(&file.path))?;
            }
        } else {
            let patch = serde_json::to_string_pretty(&report.to_patch())?;
            writeln!(out, "{name}: {} would change:\n{patch}", Shown(&file.path))?;
        }
        return Ok(());
    }
    let (report, outcome) = file.apply_with_record(desired, fallback_record)?;
    print_report(name, &file.path, &report, outcome, opts, out)
}

/// Prints what an apply did: nothing when nothing changed (unless verbose);
/// a line per mode repaired.
pub fn print_report(
    name: &str,
    path: &Path,
    report: &Report,
    outcome: Outcome,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    for fix in &report.modes {
        writeln!(out, "{name}: {fix}")?;
    }
    if report.changes.is_empty() && outcome == Outcome::Unchanged {
        if opts.verbose {
            writeln!(out, "{name}: {} is up to date", Shown(path))?;
        }
        return Ok(());
    }
    writeln!(out, "{name}: updated {}", Shown(path))?;
    for change in &report.changes {
        writeln!(out, "{change}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// Accounts run at the same time, but the output reads as if they ran
    /// one after the other, in name order; a failing one does not stop the
    /// others.
    #[test]
    fn output_is_in_account_order_whatever_finishes_first() {
        let home = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..9).map(|i| format!("a{i}")).collect();
        let accounts: serde_json::Map<String, Value> = names
            .iter()
            .map(|name| {
                let account = serde_json::json!({
                    "configDir": format!("~/.claude-{name}"),
                    "claude": "claude",
                    "settings": {"model": "opus", "env": {"WHO": name}},
                    "claudeJson": {"mcpServers": {}},
                    "seedKeys": [],
                    "projectSeedKeys": [],
                    "assets": [],
                    "isolation": "account",
                    "singleInstance": true,
                    "environment": {},
                    "environmentFiles": [],
                    "secretFiles": {},
                    "oauthTokenFile": null,
                    "trustedProjects": [],
                    "mcpOverlay": null,
                    "knownMarketplaces": {},
                    "files": {
                        "settings": format!("/nix/store/{name}-settings.json"),
                        "mcpConfig": format!("/nix/store/{name}-mcp.json")
                    },
                    "profiles": {}
                });
                (name.clone(), account)
            })
            .collect();
        let manifest = serde_json::json!({"version": 1, "storeDir": "/nix/store", "accounts": accounts, "defaultAccount": null, "accountFor": {}});
        let m = Manifest::parse(&manifest.to_string()).unwrap();
        // a4's settings.json is a directory: it fails, the others go on.
        std::fs::create_dir_all(home.path().join(".claude-a4/settings.json")).unwrap();

        let mut out = Vec::new();
        let ok = activate(&m, home.path(), &Options::default(), &mut out).unwrap();
        assert!(!ok);
        let out = String::from_utf8(out).unwrap();
        let order: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_once(':').map(|(name, _)| name))
            .filter(|name| !name.starts_with(' '))
            .collect();
        let mut expected = order.clone();
        expected.sort(); // stable: each account's lines stay together
        assert_eq!(order, expected);
        for name in &names {
            let created = out.contains(&format!("{name}: created "));
            assert_eq!(created, name != "a4", "{out}");
            if name != "a4" {
                let settings = home.path().join(format!(".claude-{name}/settings.json"));
                assert!(std::fs::read_to_string(settings).unwrap().contains(name));
            }
        }
    }
}
