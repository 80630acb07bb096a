//! Runtime dirs: the `CLAUDE_CONFIG_DIR` a session runs in, chosen per account
//! and git worktree, and prepared so that the session is the account's, in
//! every worktree.
//!
//! A runtime dir isolates only what must be isolated: `.claude.json`, the
//! file Claude Code rewrites constantly. Everything else is the account's
//! ([`layout`]): links to the account dir's entries, credentials found in
//! the account dir through `CLAUDE_SECURESTORAGE_CONFIG_DIR`, and the
//! account-wide keys of `.claude.json` synced both ways ([`sync`]). A
//! runtime dir is the helper's alone ([`guard`]). The runtime's
//! `.claude.json` is prepared by [`claude_json`].
//!
//! Guarantees: preparing is idempotent and writes nothing when nothing
//! changed; nothing in a runtime dir is used before [`guard::open`] proved
//! the helper created it; real entries are moved into the account, never
//! deleted ([`layout`]).

mod adopt;
pub mod claude_json;
pub mod guard;
pub mod layout;
pub mod spare;
pub mod sync;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::apply::Report;
use crate::context::{Context, Kind};
use crate::jsonfile::{self, Outcome};
use crate::managed::{ManagedFile, PendingFile, PendingRecord, STATE_DIR};
use crate::manifest::{Account, Isolation};

/// Where runtime dirs live inside a git dir.
pub const RUNTIME_SUBDIR: &str = "claude-runtime";

pub use layout::CREDENTIALS;

/// What kind of dir a session runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// The account dir itself.
    Account,
    /// `$GIT_DIR/claude-runtime/<account>`.
    Worktree,
    /// A fresh per-launch dir in the helper's state dir, removed at the end.
    Session,
}

/// The dir a session runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// `CLAUDE_CONFIG_DIR` for the session.
    pub dir: PathBuf,
    /// The account dir (also `CLAUDE_SECURESTORAGE_CONFIG_DIR`).
    pub account_dir: PathBuf,
    pub kind: RuntimeKind,
    /// The worktree the session runs in, if any.
    pub worktree: Option<PathBuf>,
    /// The key Claude Code files the project under in `.claude.json`.
    pub project_key: Option<PathBuf>,
}

impl Runtime {
    /// A known runtime dir (the account dir, or one from the registry), as its
    /// metadata describes it.
    pub fn known(dir: &Path, account_dir: &Path) -> Runtime {
        let info = read_info(dir);
        let kind = if dir == account_dir {
            RuntimeKind::Account
        } else if info.as_ref().is_some_and(|i| i.ephemeral) {
            RuntimeKind::Session
        } else {
            RuntimeKind::Worktree
        };
        Runtime {
            dir: dir.to_path_buf(),
            account_dir: account_dir.to_path_buf(),
            kind,
            worktree: info.as_ref().and_then(|i| i.worktree.clone()),
            project_key: info.and_then(|i| i.project_key),
        }
    }

    /// Whether the session runs in the account dir itself.
    pub fn is_account_dir(&self) -> bool {
        self.kind == RuntimeKind::Account
    }

    /// Whether the dir is removed when the session ends.
    pub fn is_ephemeral(&self) -> bool {
        self.kind == RuntimeKind::Session
    }
}

/// Chooses the runtime dir of a session of `account` in `ctx`.
pub fn choose(
    name: &str,
    account_dir: &Path,
    isolation: Isolation,
    ctx: &Context,
    state_home: &Path,
) -> Runtime {
    let in_worktree = matches!(ctx.kind, Kind::Main | Kind::Linked | Kind::Submodule);
    let (dir, kind) = match isolation {
        Isolation::Account => (account_dir.to_path_buf(), RuntimeKind::Account),
        Isolation::Worktree => match (&ctx.git_dir, in_worktree) {
            (Some(git_dir), true) => (
                git_dir.join(RUNTIME_SUBDIR).join(name),
                RuntimeKind::Worktree,
            ),
            _ => (account_dir.to_path_buf(), RuntimeKind::Account),
        },
        Isolation::Session => (
            crate::registry::account_state_dir(state_home, name)
                .join("sessions")
                .join(format!(
                    "{}-{}",
                    crate::clock::now_secs(),
                    std::process::id()
                )),
            RuntimeKind::Session,
        ),
    };
    Runtime {
        dir,
        account_dir: account_dir.to_path_buf(),
        kind,
        worktree: if in_worktree { worktree_of(ctx) } else { None },
        project_key: ctx.project_key.clone(),
    }
}

/// The worktree a git dir belongs to: for a linked worktree, what its
/// `gitdir` file names (so that a launch with `GIT_DIR` pointing at another
/// worktree's git dir labels that worktree, not the current directory);
/// otherwise the detected top level.
fn worktree_of(ctx: &Context) -> Option<PathBuf> {
    if ctx.kind == Kind::Linked
        && let Some(git_dir) = &ctx.git_dir
        && let Ok(text) = std::fs::read_to_string(git_dir.join("gitdir"))
    {
        let dot_git = PathBuf::from(text.trim_end_matches(['\n', '\r']));
        if let Some(top) = dot_git.parent().filter(|_| dot_git.is_absolute()) {
            return Some(top.to_path_buf());
        }
    }
    ctx.worktree.clone()
}

/// The helper's own records a launch in a fresh runtime dir writes only
/// once claude has started ([`after_start`]), so that claude does not wait
/// for files it never reads: the runtime's metadata, the last-applied
/// record of its `.claude.json` and the sync base. Each is written after
/// the file it describes; when the launcher dies first, the next launch
/// reads none and writes them again (see [`create`], [`managed`] and
/// [`sync::read_base`]).
///
/// [`managed`]: crate::managed
#[derive(Debug, Default)]
pub struct Later {
    info: Option<PendingFile>,
    record: Option<PendingRecord>,
    base: Option<PendingFile>,
}

impl Later {
    /// Writes what is pending; returns what failed.
    fn write(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        if let Some(record) = self.record.take()
            && let Err(e) = record.write()
        {
            failed.push(format!("{e:#}"));
        }
        for file in [self.base.take(), self.info.take()].into_iter().flatten() {
            if let Err(e) = file.write() {
                failed.push(format!("{e:#}"));
            }
        }
        failed
    }
}

/// A checked runtime dir (see [`create`]).
#[derive(Debug)]
pub struct Created {
    /// Whether this launch made the dir.
    pub fresh: bool,
    later: Later,
}

/// What preparing a runtime dir did.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The account's `settings.json` (every runtime links to it).
    pub settings: Option<(Report, Outcome)>,
    pub claude_json: Option<(Report, Outcome)>,
    /// The account's sync cache, refreshed: written by [`after_start`].
    pub cache: Option<PendingFile>,
    /// One line each: things the user should know (moved entries, ignored
    /// overlays, sync conflicts).
    pub notes: Vec<String>,
    /// Whether the runtime dir is new (see [`Created`]).
    pub fresh: bool,
    /// What [`after_start`] writes.
    later: Later,
}

/// Metadata kept in `<runtime>/.claude-accounts/runtime.json` for `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeInfo {
    pub account: String,
    pub worktree: Option<PathBuf>,
    pub project_key: Option<PathBuf>,
    pub ephemeral: bool,
}

/// Path of the runtime metadata file.
pub fn info_path(dir: &Path) -> PathBuf {
    dir.join(STATE_DIR).join("runtime.json")
}

/// The metadata of a runtime dir (`None` for an account dir or a damaged file).
pub fn read_info(dir: &Path) -> Option<RuntimeInfo> {
    serde_json::from_str(&std::fs::read_to_string(info_path(dir)).ok()?).ok()
}

/// Checks the runtime dir (see [`guard`]), creating it and its state dir
/// as needed, and records its metadata (in a new dir, once claude started:
/// see [`Later`]).
pub fn create(
    rt: &Runtime,
    name: &str,
    state_home: &Path,
    notes: &mut Vec<String>,
) -> Result<Created> {
    let fresh = guard::open(rt, name, state_home, notes)?;
    let mut created = Created {
        fresh,
        later: Later::default(),
    };
    if rt.is_account_dir() {
        return Ok(created);
    }
    let info = RuntimeInfo {
        account: name.to_string(),
        worktree: rt.worktree.clone(),
        project_key: rt.project_key.clone(),
        ephemeral: rt.is_ephemeral(),
    };
    // Rebuildable: a lost or damaged record reads as none (`read_info`)
    // and is written again here at the next launch.
    let bytes = serde_json::to_vec_pretty(&info).expect("serialisable");
    if fresh {
        created.later.info = Some(PendingFile::new(info_path(&rt.dir), bytes));
    } else if read_info(&rt.dir).as_ref() != Some(&info) {
        jsonfile::write_atomic(
            &info_path(&rt.dir),
            &bytes,
            &jsonfile::Options::rebuildable(),
        )?;
    }
    Ok(created)
}

/// The runtime's `.claude.json`. In a fresh runtime dir it is written
/// without fsync, so that the first launch does not wait for the disk
/// before Claude starts; [`after_start`] syncs it right after.
///
/// Nor does it take `.claude.json.lock` there, which is 8 metadata system
/// calls: the lock keeps Claude Code's writes and ours apart, and a fresh
/// runtime dir has no other writer. This launch just created it, holds its
/// session lock, and has not started claude.
fn claude_json_file(rt: &Runtime, fresh: bool) -> ManagedFile {
    let durable = !fresh || rt.is_account_dir();
    let mut file = ManagedFile::claude_json(&rt.dir);
    file.opts.durable = durable;
    file.opts.lock_dir &= durable;
    file
}

/// The work a launch leaves until claude has started (the launcher only
/// waits for it then): the records of a fresh runtime dir ([`Later`]),
/// syncing its registry entry and files (not for a throwaway session dir,
/// removed at the end), and writing a refreshed sync cache. Also what a
/// launch whose claude did not start must still do. Returns what failed, as
/// warnings: the session is running.
pub fn after_start(
    rt: &Runtime,
    prepared: &mut Prepared,
    account: &str,
    state_home: &Path,
) -> Vec<String> {
    let mut warnings = prepared.later.write();
    if prepared.fresh && rt.kind == RuntimeKind::Worktree {
        let synced = crate::registry::make_durable(state_home, account, &rt.dir)
            .and_then(|()| make_durable(rt));
        if let Err(e) = synced {
            warnings.push(format!("{e:#}"));
        }
    }
    if prepared.fresh && !rt.is_account_dir() {
        // For the next new runtime dir of this account.
        if let Err(e) = spare::make(state_home, account, &rt.account_dir) {
            warnings.push(format!("preparing a spare runtime dir: {e:#}"));
        }
    }
    if let Some(cache) = &prepared.cache {
        // Only a cache: without it the next launch reads the account's
        // .claude.json again.
        drop(cache.write());
    }
    warnings
}

/// Makes a fresh runtime dir's `.claude.json` and records durable (fsync
/// of each file that exists and of the directories holding them), and the
/// runtime dir's own entry (made or renamed there: [`spare`]).
fn make_durable(rt: &Runtime) -> Result<()> {
    let file = claude_json_file(rt, false);
    let mut dirs: Vec<PathBuf> = rt.dir.parent().map(Path::to_path_buf).into_iter().collect();
    for path in [&file.path, &file.record] {
        match std::fs::File::open(path) {
            Ok(f) => f
                .sync_all()
                .with_context(|| format!("syncing {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        }
        let dir = path.parent().expect("a file in a dir").to_path_buf();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing directory {}", dir.display()))?;
    }
    Ok(())
}

/// Prepares a created runtime dir: links to the account's entries, the
/// three-way apply of the account's declared settings (in the account's
/// `settings.json`, which every runtime links to), and the runtime's
/// `.claude.json` ([`claude_json::prepare`]). With `locked` false (another
/// session holds the dir), `.claude.json` is left alone and real entries
/// stay where they are.
///
/// `settings.json` and `.claude.json` are independent files: an error in one
/// does not undo the other, and the settings error is reported first.
pub fn prepare(
    rt: &Runtime,
    account: &Account,
    home: &Path,
    locked: bool,
    created: Created,
) -> Result<Prepared> {
    let fresh = created.fresh;
    let mut prepared = Prepared {
        fresh,
        later: created.later,
        ..Prepared::default()
    };
    if !rt.is_account_dir() {
        let linked = layout::link(&rt.dir, &rt.account_dir, locked)?;
        prepared.notes.extend(linked.notes);
        let claude_json = claude_json_file(rt, fresh);
        reseed_if_empty(&claude_json, &mut prepared.notes)?;
    }
    let settings = ManagedFile::settings(&rt.account_dir).apply(&account.settings);
    if !locked {
        prepared.settings = Some(settings?);
        return Ok(prepared);
    }
    let claude_json = if rt.is_account_dir() {
        ManagedFile::claude_json(&rt.dir).apply(&account.claude_json)
    } else {
        claude_json::prepare(rt, &claude_json_file(rt, fresh), account, home, fresh).map(|p| {
            prepared.notes.extend(p.notes);
            prepared.cache = p.cache;
            prepared.later.record = p.record;
            prepared.later.base = p.base;
            (p.report, p.outcome)
        })
    };
    prepared.settings = Some(settings?);
    prepared.claude_json = Some(claude_json?);
    Ok(prepared)
}

/// A runtime dir's `.claude.json` of zero bytes can only be left by a crash
/// before its first sync (Claude Code never writes an empty file): it holds
/// nothing, so it is removed with its record and prepared again, instead of
/// being refused as the account dir's would be.
fn reseed_if_empty(file: &ManagedFile, notes: &mut Vec<String>) -> Result<()> {
    match std::fs::symlink_metadata(&file.path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            std::fs::remove_file(&file.path)
                .with_context(|| format!("removing empty {}", file.path.display()))?;
            let _ = std::fs::remove_file(&file.record);
            let _ = std::fs::remove_file(sync::base_path(file.path.parent().expect("a dir")));
            notes.push(format!(
                "{} was empty (left by a crash); prepared it again",
                file.path.display()
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// After a session: the account-wide keys it changed go to the account
/// (through Claude Code's lock, so also beside another session in the same
/// runtime dir), and, when it held the runtime's lock, entries it created
/// move into the account (see [`layout`]). Returns lines for the user.
pub fn finish(rt: &Runtime, account: &Account, home: &Path, locked: bool) -> Result<Vec<String>> {
    if rt.is_account_dir() {
        return Ok(Vec::new());
    }
    if std::fs::symlink_metadata(rt.dir.join(".claude.json")).is_err()
        && std::fs::symlink_metadata(&rt.dir).is_err()
    {
        // Claude Code removes a clean `-w` worktree when its session ends,
        // git dir and runtime dir with it: there is nothing left to share.
        return Ok(Vec::new());
    }
    let mut notes = claude_json::finish(rt, &ManagedFile::claude_json(&rt.dir), account, home)?;
    if locked {
        // A throwaway session dir too: what Claude made there that is not
        // the account's yet would go with the dir.
        notes.extend(layout::link(&rt.dir, &rt.account_dir, true)?.notes);
    }
    Ok(notes)
}

/// What launching in `rt` would change in the account's `settings.json`
/// and the runtime's `.claude.json` (for `status`), without writing.
pub fn plan(rt: &Runtime, account: &Account, home: &Path) -> Result<(Report, Report)> {
    let settings = ManagedFile::settings(&rt.account_dir).plan(&account.settings, None)?;
    let claude_json = if rt.is_account_dir() {
        ManagedFile::claude_json(&rt.dir).plan(&account.claude_json, None)?
    } else {
        claude_json::plan(rt, account, home)?
    };
    Ok((settings, claude_json))
}
