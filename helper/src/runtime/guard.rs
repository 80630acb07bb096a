//! A runtime dir is the helper's alone: it is used only when the helper can
//! prove it created it.
//!
//! A worktree's runtime dir lies inside the repository's git dir, where
//! anything can be planted (a tarball of a repository carries `.git/`). So
//! before reading or writing anything in a runtime dir, [`open`] checks,
//! without following a single link:
//! * `claude-runtime/`, the runtime dir and its `.claude-accounts/` are real
//!   directories (not links) owned by the user;
//! * the runtime dir is the very directory the helper created, by the
//!   registry of the helper's own state dir (path, device and inode;
//!   [`registry::proof`]), which content travelling with a repository
//!   cannot forge. A directory the registry does not know is adopted only
//!   when it holds nothing that could act: nothing at all, or only links to
//!   the account's own entries, an empty session lock file and the empty
//!   temp file prepared for `.claude.json`. That is what
//!   a crash between creating a runtime dir (or renaming a spare into
//!   place) and registering it leaves.
//!
//! A missing runtime dir is made from the account's spare when it has one
//! ([`spare`]: made in advance in the helper's state dir, renamed into
//! place), and registered like a dir made in place.
//!
//! Otherwise the launch stops with a message that names the path and what
//! to do, having read and written nothing there. The session lock file is
//! opened without following links ([`crate::lock`]), and the runtime's
//! `.claude.json` is never written through a link ([`crate::jsonfile`]).

use std::fs::{DirBuilder, Metadata};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::layout::read_dir;
use super::{Runtime, RuntimeKind, spare};
use crate::managed::{self, STATE_DIR};
use crate::registry::{self, Proof};

/// Checks (creating what is missing) the runtime dir of `rt` and its state
/// dir; true when the runtime dir was created now. Mode repairs are added to
/// `notes`.
pub fn open(
    rt: &Runtime,
    account: &str,
    state_home: &Path,
    notes: &mut Vec<String>,
) -> Result<bool> {
    let fresh = match rt.kind {
        RuntimeKind::Account => {
            managed::create_private_dir(&rt.dir)?;
            false
        }
        RuntimeKind::Session => {
            let parent = rt.dir.parent().expect("a session dir has a parent");
            managed::create_private_dir(parent)?;
            create_runtime_dir(rt, account, state_home)?;
            true
        }
        RuntimeKind::Worktree => open_worktree_runtime(rt, account, state_home, notes)?,
    };
    let state = rt.dir.join(STATE_DIR);
    if real_dir(&state, "the helper's state dir")?.is_none() {
        create_dir(&state)?;
    }
    Ok(fresh)
}

/// Checks a runtime dir `.../claude-runtime/<account>` under a git dir.
fn open_worktree_runtime(
    rt: &Runtime,
    account: &str,
    state_home: &Path,
    notes: &mut Vec<String>,
) -> Result<bool> {
    let dir = rt.dir.as_path();
    let parent = dir.parent().expect("a runtime dir has a parent");
    if real_dir(parent, "the runtime dirs' folder")?.is_none() {
        create_dir(parent)?;
    }
    let Some(meta) = real_dir(dir, "the runtime dir")? else {
        create_runtime_dir(rt, account, state_home)?;
        return Ok(true);
    };
    match registry::proof(state_home, account, dir)? {
        Proof::Created => {}
        Proof::Legacy => registry::register(state_home, account, dir)?,
        Proof::Unknown | Proof::Replaced if holds_nothing_of_its_own(dir, &rt.account_dir)? => {
            registry::register(state_home, account, dir)?;
        }
        Proof::Unknown => bail!(
            "{} was not created by claude-accounts for the account {account} on this machine (it may have come with the repository, e.g. in a tarball of .git); claude-accounts reads and writes nothing in it. Remove it (rm -rf -- '{}') and launch again: it holds no file of your account",
            dir.display(),
            dir.display()
        ),
        Proof::Replaced => bail!(
            "{} is not the directory claude-accounts created there (it was removed and made again by something else); claude-accounts reads and writes nothing in it. Remove it (rm -rf -- '{}') and launch again",
            dir.display(),
            dir.display()
        ),
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private (0700)", dir.display()))?;
        notes.push(format!(
            "{} was mode {:04o}; made it 0700",
            dir.display(),
            meta.mode() & 0o7777
        ));
    }
    Ok(false)
}

/// Makes the (missing) runtime dir of `rt`, from the account's spare when
/// there is one ([`spare`]), and registers it as the helper's.
fn create_runtime_dir(rt: &Runtime, account: &str, state_home: &Path) -> Result<()> {
    if !spare::take(state_home, account, &rt.account_dir, &rt.dir) {
        create_dir(&rt.dir)?;
    }
    registry::register(state_home, account, &rt.dir)
}

/// `path`'s metadata when it is a real directory owned by the user; `None`
/// when it does not exist; an error naming the fix otherwise.
fn real_dir(path: &Path, what: &str) -> Result<Option<Metadata>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "?".into());
        bail!(
            "{} ({what}) is a symbolic link to {target}; claude-accounts keeps runtime dirs only in real directories it created, and follows no link there. Remove the link (rm -- '{}') and launch again",
            path.display(),
            path.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "{} ({what}) is not a directory; claude-accounts needs a directory there. Move it away (mv -- '{}' '{}.old') and launch again",
            path.display(),
            path.display(),
            path.display()
        );
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "{} ({what}) belongs to uid {}, not to you (uid {me}); claude-accounts uses only directories you own. Remove it, or launch from a checkout you own",
            path.display(),
            meta.uid()
        );
    }
    Ok(Some(meta))
}

/// Creates one directory, 0700 (its parent must exist).
pub(super) fn create_dir(path: &Path) -> Result<()> {
    DirBuilder::new()
        .mode(0o700)
        .create(path)
        .with_context(|| format!("creating directory {}", path.display()))
}

/// Whether `dir` holds nothing but what the helper itself puts in a new
/// runtime dir before registering it: links to the account's entries of
/// the same names, the empty temp file prepared for `.claude.json`, and a
/// state dir holding at most an empty session lock file. Such a dir holds
/// nothing that could act (a link only leads to the account's own entry),
/// so it is adopted: a crash between renaming a spare into place and
/// registering it leaves one. Nothing is followed.
fn holds_nothing_of_its_own(dir: &Path, account_dir: &Path) -> Result<bool> {
    use crate::jsonfile::is_empty_file;
    let prepared = crate::jsonfile::prepared_temp(&dir.join(".claude.json"))?;
    for name in read_dir(dir)? {
        let path = dir.join(&name);
        if path == prepared {
            if !is_empty_file(&path) {
                return Ok(false);
            }
        } else if name == STATE_DIR {
            let mine = std::fs::symlink_metadata(&path)
                .is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw());
            if !mine {
                return Ok(false);
            }
            for inner in read_dir(&path)? {
                if inner != crate::lock::LOCK_FILE || !is_empty_file(&path.join(&inner)) {
                    return Ok(false);
                }
            }
        } else if super::layout::is_own(&name)
            || std::fs::read_link(&path).ok() != Some(account_dir.join(&name))
        {
            return Ok(false); // a runtime's own entry is never a link
        }
    }
    Ok(true)
}
