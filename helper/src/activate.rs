//! `claude-accounts activate`: make every account's declared state hold in its
//! account dir (run from Home Manager's activation, after `linkGeneration`).
//!
//! Per account: create the account dir (0700) if missing; migrate a
//! `settings.json` that is a link into the Nix store (left by Home Manager's
//! own `programs.claude-code` or an older setup) into a real file with the same
//! content; three-way apply `settings.json`; three-way apply `.claude.json`
//! unless a session holds the account dir, in which case the change is left
//! pending for the next launch. Quiet unless something changed. An account that
//! fails is reported and leaves its files untouched; the others still run.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::apply::Report;
use crate::jsonfile::{self, Outcome, Symlinks};
use crate::managed::{self, ManagedFile};
use crate::manifest::{Account, Manifest};

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
pub fn activate(m: &Manifest, home: &Path, opts: &Options, out: &mut dyn Write) -> Result<bool> {
    let mut ok = true;
    for (name, account) in &m.accounts {
        if let Err(err) = activate_account(m, name, account, home, opts, out) {
            eprintln!("claude-accounts: error: account {name}: {err:#}");
            ok = false;
        }
    }
    Ok(ok)
}

fn activate_account(
    m: &Manifest,
    name: &str,
    account: &Account,
    home: &Path,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    let dir = account.config_dir(home);
    if opts.dry_run {
        if !dir.exists() {
            writeln!(out, "{name}: would create {}", dir.display())?;
        }
    } else {
        let existed = dir.exists();
        managed::create_private_dir(&dir)?;
        if !existed {
            writeln!(out, "{name}: created {}", dir.display())?;
        }
    }

    let settings = ManagedFile::settings(&dir);
    let migrated = store_link_content(&settings.path, &m.store_dir)?;
    let mut record = None;
    if let Some(link) = migrated {
        writeln!(
            out,
            "{name}: {} {} (a link to {}) into a real file Claude Code can write",
            if opts.dry_run { "would turn" } else { "turned" },
            settings.path.display(),
            link.target.display()
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
    }
    let settings = if record.is_some() && opts.dry_run {
        // Nothing was migrated yet: plan through the link.
        ManagedFile {
            opts: jsonfile::Options {
                symlinks: Symlinks::Follow,
                ..settings.opts
            },
            ..settings
        }
    } else {
        settings
    };
    apply_file(name, &settings, &account.settings, record, opts, out)?;

    let claude_json = ManagedFile::claude_json(&dir);
    if let crate::lock::Probe::Held(holder) = crate::lock::probe(&dir)? {
        let plan = claude_json.plan(&account.claude_json, None)?;
        if !plan.changes.is_empty() {
            writeln!(
                out,
                "{name}: {} pending: a session is running in {}{}; it is applied at the next launch of claude{name}",
                claude_json.path.display(),
                dir.display(),
                holder
                    .map(|h| format!(" (pid {})", h.pid))
                    .unwrap_or_default()
            )?;
        }
        return Ok(());
    }
    apply_file(name, &claude_json, &account.claude_json, None, opts, out)
}

/// A `settings.json` that is a link into the Nix store.
struct StoreLink {
    target: PathBuf,
    text: String,
    content: Map<String, Value>,
}

/// Reads `path` when it is a symlink into the store.
fn store_link_content(path: &Path, store: &Path) -> Result<Option<StoreLink>> {
    let Ok(target) = std::fs::read_link(path) else {
        return Ok(None);
    };
    let resolved = path.parent().unwrap_or(Path::new("/")).join(&target);
    if !resolved.starts_with(store) {
        return Ok(None);
    }
    let snapshot = jsonfile::read(
        path,
        &jsonfile::Options {
            symlinks: Symlinks::Follow,
            ..jsonfile::Options::settings_json()
        },
    )?;
    let content = match serde_json::from_str(&snapshot.text)
        .with_context(|| format!("parsing {}", resolved.display()))?
    {
        Value::Object(content) => content,
        _ => unreachable!("jsonfile::read accepts only objects"),
    };
    Ok(Some(StoreLink {
        target: resolved,
        text: snapshot.text,
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
                writeln!(out, "{name}: {} is up to date", file.path.display())?;
            }
        } else {
            let patch = serde_json::to_string_pretty(&report.to_patch())?;
            writeln!(
                out,
                "{name}: {} would change:\n{patch}",
                file.path.display()
            )?;
        }
        return Ok(());
    }
    let (report, outcome) = file.apply_with_record(desired, fallback_record)?;
    print_report(name, &file.path, &report, outcome, opts, out)
}

/// Prints what an apply did: nothing when nothing changed (unless verbose).
pub fn print_report(
    name: &str,
    path: &Path,
    report: &Report,
    outcome: Outcome,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<()> {
    if report.changes.is_empty() && outcome == Outcome::Unchanged {
        if opts.verbose {
            writeln!(out, "{name}: {} is up to date", path.display())?;
        }
        return Ok(());
    }
    writeln!(out, "{name}: updated {}", path.display())?;
    for change in &report.changes {
        writeln!(out, "{change}")?;
    }
    Ok(())
}
