//! The registry of runtime dirs: the helper's own record, outside every
//! repository, of the runtime dirs it created.
//!
//! One file per runtime dir in `$XDG_STATE_HOME/claude-accounts/<account>/
//! runtimes/`, named by a hash of the runtime path, holding the path and the
//! device and inode the directory had when the helper created it.
//!
//! Guarantees:
//! * A runtime dir is [`Proof::Created`] only when an entry written by
//!   [`register`] names its path *and* its current device and inode. Content
//!   that travels with a repository (a tarball carrying `.git/`) cannot forge
//!   that: the registry lives in the user's state dir, and a directory
//!   unpacked later has another inode.
//! * Entries of the first layout (a symlink to the runtime path, written for
//!   every runtime the helper used) are read as [`Proof::Legacy`]: the caller
//!   decides whether to adopt them (they predate the device/inode record).
//! * Registering is atomic (temp file + rename) and idempotent; entries
//!   whose runtime dir is gone (`git worktree remove`, a finished throwaway
//!   session) are pruned when listed.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// `$XDG_STATE_HOME`, or `~/.local/state`.
pub fn state_home(home: &Path) -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(s) if Path::new(&s).is_absolute() => PathBuf::from(s),
        _ => home.join(".local/state"),
    }
}

/// The helper's own dir for `account` in `state_home`.
pub fn account_state_dir(state_home: &Path, account: &str) -> PathBuf {
    state_home.join("claude-accounts").join(account)
}

fn registry_dir(state_home: &Path, account: &str) -> PathBuf {
    account_state_dir(state_home, account).join("runtimes")
}

/// 64-bit FNV-1a, stable across builds (unlike `DefaultHasher`).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn entry_path(state_home: &Path, account: &str, runtime_dir: &Path) -> PathBuf {
    registry_dir(state_home, account).join(format!(
        "{:016x}",
        fnv1a(runtime_dir.as_os_str().as_bytes())
    ))
}

/// What the registry holds about one runtime dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
}

/// What the registry says about a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// The helper created this very directory (path, device and inode match).
    Created,
    /// An entry of the first registry layout names the path.
    Legacy,
    /// An entry names the path, but the directory there is another one
    /// (removed and re-created, or replaced by someone else).
    Replaced,
    /// No entry names the path.
    Unknown,
}

/// Records `runtime_dir` (which must exist: its device and inode are taken
/// now, without following a link) as created by the helper for `account`.
///
/// The entry is written atomically but not synced, so that a first launch
/// does not wait for the disk before claude starts: [`make_durable`] syncs it
/// once claude is starting. (Lost in a crash before that, the runtime dir is
/// refused at the next launch with the command that removes it: it then
/// holds only a `.claude.json` copied from the account.)
pub fn register(state_home: &Path, account: &str, runtime_dir: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(runtime_dir)
        .with_context(|| format!("inspecting {}", runtime_dir.display()))?;
    let entry = Entry {
        path: runtime_dir.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    let path = entry_path(state_home, account, runtime_dir);
    if read_entry(&path).ok().flatten().as_ref() == Some(&EntryKind::Current(entry.clone())) {
        return Ok(());
    }
    let dir = path.parent().expect("entry in a dir");
    crate::managed::create_private_dir(dir)?;
    let bytes = serde_json::to_vec(&entry).expect("serialisable");
    // Written into the file prepared in advance ([`prepare_entry`]) when
    // there is one, else a new one, and renamed over whatever is there: a
    // legacy entry is a symlink, which `rename` replaces itself (it never
    // writes through it).
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".new.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let file = match crate::jsonfile::claim_empty_file(&dir.join(PREPARED), &tmp) {
        Some(file) => Ok(file),
        None => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp),
    };
    use std::io::Write as _;
    let written = file
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// The empty file [`register`] writes its next entry into, made in
/// advance (a new inode is the slow part of registering on some
/// filesystems). Its name starts with a dot: [`list`] skips it.
const PREPARED: &str = ".prepared";

/// Prepares the file the next [`register`] of `account` writes into (one
/// already there is kept).
pub fn prepare_entry(state_home: &Path, account: &str) -> Result<()> {
    let dir = registry_dir(state_home, account);
    crate::managed::create_private_dir(&dir)?;
    crate::jsonfile::create_empty_file(&dir.join(PREPARED))
}

/// Syncs the registry entry of `runtime_dir` and its directory to disk.
pub fn make_durable(state_home: &Path, account: &str, runtime_dir: &Path) -> Result<()> {
    let path = entry_path(state_home, account, runtime_dir);
    let dir = path.parent().expect("entry in a dir");
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// What the registry says about `dir` as it is now.
pub fn proof(state_home: &Path, account: &str, dir: &Path) -> Result<Proof> {
    let path = entry_path(state_home, account, dir);
    let meta =
        std::fs::symlink_metadata(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    Ok(match read_entry(&path)? {
        Some(EntryKind::Current(e)) if e.path == dir => {
            if e.dev == meta.dev() && e.ino == meta.ino() {
                Proof::Created
            } else {
                Proof::Replaced
            }
        }
        Some(EntryKind::Legacy(target)) if target == dir => Proof::Legacy,
        _ => Proof::Unknown,
    })
}

/// Forgets `dir` (after it was removed).
pub fn forget(state_home: &Path, account: &str, dir: &Path) -> Result<()> {
    let path = entry_path(state_home, account, dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

#[derive(Debug, PartialEq)]
enum EntryKind {
    Current(Entry),
    Legacy(PathBuf),
}

fn read_entry(path: &Path) -> Result<Option<EntryKind>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
    };
    if meta.file_type().is_symlink() {
        let target =
            std::fs::read_link(path).with_context(|| format!("reading {}", path.display()))?;
        return Ok(Some(EntryKind::Legacy(target)));
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // A damaged entry proves nothing: the runtime dir is then refused with
    // a message, never trusted.
    Ok(serde_json::from_slice(&bytes).ok().map(EntryKind::Current))
}

/// The registered runtime dirs of `account` that still exist, sorted; dead
/// entries are removed.
pub fn list(state_home: &Path, account: &str) -> Result<Vec<PathBuf>> {
    let dir = registry_dir(state_home, account);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if entry.file_name().as_bytes().starts_with(b".") {
            continue; // a temporary file of a concurrent register
        }
        let target = match read_entry(&entry.path()) {
            Ok(Some(EntryKind::Current(e))) => e.path,
            Ok(Some(EntryKind::Legacy(t))) => t,
            _ => continue,
        };
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            found.push(target);
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Every dir a session of `account` may run in: the account dir, then the
/// registered runtime dirs that still exist.
pub fn known_dirs(state_home: &Path, account: &str, account_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![account_dir.to_path_buf()];
    dirs.extend(list(state_home, account)?);
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn register_is_idempotent_and_prunes_dead_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        register(&state, "max", &a).unwrap();
        register(&state, "max", &a).unwrap();
        register(&state, "max", &b).unwrap();
        assert_eq!(list(&state, "max").unwrap(), vec![a.clone(), b.clone()]);
        assert!(list(&state, "pro").unwrap().is_empty());
        std::fs::remove_dir(&b).unwrap();
        assert_eq!(list(&state, "max").unwrap(), vec![a]);
        let left = std::fs::read_dir(registry_dir(&state, "max"))
            .unwrap()
            .count();
        assert_eq!(left, 1, "the dead entry was removed");
    }

    #[test]
    fn proof_needs_the_same_directory_not_only_the_same_path() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Unknown);
        register(&state, "max", &a).unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Created);
        assert_eq!(proof(&state, "pro", &a).unwrap(), Proof::Unknown);
        // Keep an inode alive so the new dir cannot reuse the old one's.
        let keep = tmp.path().join("keep");
        std::fs::rename(&a, &keep).unwrap();
        std::fs::create_dir(&a).unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Replaced);
        register(&state, "max", &a).unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Created);
    }

    #[test]
    fn legacy_symlink_entries_are_read_and_upgraded() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let entry = entry_path(&state, "max", &a);
        std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&a, &entry).unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Legacy);
        assert_eq!(list(&state, "max").unwrap(), vec![a.clone()]);
        register(&state, "max", &a).unwrap();
        assert!(
            !std::fs::symlink_metadata(&entry)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Created);
    }

    #[test]
    fn a_damaged_entry_proves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let a = tmp.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let entry = entry_path(&state, "max", &a);
        std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
        std::fs::write(&entry, "{not json").unwrap();
        assert_eq!(proof(&state, "max", &a).unwrap(), Proof::Unknown);
    }
}
