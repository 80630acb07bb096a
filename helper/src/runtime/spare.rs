//! Spare runtime dirs: one runtime dir per account made in advance, so that
//! the first launch in a new worktree (and every launch of a throwaway
//! session) renames a finished dir into place instead of making its entries
//! while the user waits.
//!
//! A new runtime dir needs about fifteen new inodes before claude can start
//! (the dir, its state dir, the session lock file and a link per account
//! entry: see [`layout`](super::layout)); on some filesystems each costs a
//! tenth of a millisecond or more. A spare holds exactly those, made by
//! [`make`] when nobody waits: by `activate`, and by a launch once its claude
//! has started. It holds no `.claude.json`, which depends on the project,
//! only the empty temp file its first write takes
//! ([`crate::jsonfile::prepared_temp`]); and the registry gets the empty
//! file its next entry is written into ([`crate::registry::prepare_entry`]).
//! So a first launch makes no new inode before claude starts (but
//! `claude-runtime/` in a git dir that has none yet).
//!
//! Guarantees:
//! * A spare lives only in the helper's own state dir
//!   (`$XDG_STATE_HOME/claude-accounts/<account>/spare-<hash of the account
//!   dir>`), never in a repository: nothing a repository carries can be
//!   taken as a spare. [`take`] moves only a real directory owned by the
//!   user and private to them (0700), and the launch then registers it at
//!   its new path like a dir it created ([`crate::registry`]).
//! * A spare is complete or absent: it is built under a temporary name and
//!   renamed into place. Taking it is one `rename` that never replaces
//!   anything (`RENAME_NOREPLACE`): of two launches racing for it, one
//!   takes it and the other builds its dir as without a spare.
//! * A spare is only an optimisation: every failure (none there, another
//!   filesystem, a filesystem without `RENAME_NOREPLACE`) falls back to
//!   making the dir in place, and the launch re-checks every link as it
//!   does at a re-launch, so a spare made before the account changed is
//!   corrected. Spares are made only on Linux, where the helper has that
//!   rename (`renameat2`); elsewhere runtime dirs are made in place.
//! * Removing a stale spare (one made for another account dir) removes
//!   only what [`make`] puts there: links, the empty lock file and the
//!   directories; anything else is left where it is.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result};

use crate::lock::LOCK_FILE;
use crate::managed::{self, STATE_DIR};

/// The prefix of a spare's name; the rest is a hash of the account dir.
const PREFIX: &str = "spare-";

/// Where `account`'s spare runtime dir for `account_dir` lives.
pub fn path(state_home: &Path, account: &str, account_dir: &Path) -> PathBuf {
    crate::registry::account_state_dir(state_home, account).join(format!(
        "{PREFIX}{:016x}",
        crate::registry::fnv1a(account_dir.as_os_str().as_bytes())
    ))
}

/// Moves `account`'s spare to `dir`, which must not exist (its parent
/// must). True when the spare is now at `dir`; false when there was none
/// to take or it could not be moved there (then nothing changed).
pub fn take(state_home: &Path, account: &str, account_dir: &Path, dir: &Path) -> bool {
    let spare = path(state_home, account, account_dir);
    if !is_ours(&spare) {
        return false;
    }
    rename_noreplace(&spare, dir).is_ok()
}

/// Makes `account`'s spare unless one is there; also removes spares made
/// for another account dir. True when it made one. Only on Linux, the only
/// system where [`take`] can use one.
pub fn make(state_home: &Path, account: &str, account_dir: &Path) -> Result<bool> {
    if !cfg!(target_os = "linux") {
        return Ok(false); // never taken there (see [`rename_noreplace`])
    }
    // The next registration writes into a file made now, wherever it is.
    crate::registry::prepare_entry(state_home, account)?;
    let spare = path(state_home, account, account_dir);
    if std::fs::symlink_metadata(&spare).is_ok() {
        return Ok(false);
    }
    let parent = spare.parent().expect("a spare has a parent");
    managed::create_private_dir(parent)?;
    remove_stale(parent, &spare);
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let building = parent.join(format!(
        ".{PREFIX}{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    // Left by a crashed launch with the same pid: only what `make` puts.
    remove(&building);
    let built = build(&building, account_dir).and_then(|()| {
        rename_noreplace(&building, &spare)
            .with_context(|| format!("renaming {} to {}", building.display(), spare.display()))
    });
    match built {
        Ok(()) => Ok(true),
        Err(e) => {
            remove(&building);
            // Made by a concurrent launch meanwhile: as good as ours.
            if std::fs::symlink_metadata(&spare).is_ok() {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// The entries of a new runtime dir but its `.claude.json`.
fn build(dir: &Path, account_dir: &Path) -> Result<()> {
    super::guard::create_dir(dir)?;
    let state = dir.join(STATE_DIR);
    super::guard::create_dir(&state)?;
    crate::jsonfile::create_empty_file(&state.join(LOCK_FILE))?;
    crate::jsonfile::prepare_temp(&dir.join(".claude.json"))?;
    super::layout::prelink(dir, account_dir)
}

/// Whether `spare` is a real directory of the user's, private to them.
fn is_ours(spare: &Path) -> bool {
    std::fs::symlink_metadata(spare).is_ok_and(|m| {
        m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o077 == 0
    })
}

/// Renames `from` to `to` unless `to` exists. Only where the system can
/// say so atomically (Linux `renameat2`); elsewhere an error, and the
/// callers go without a spare.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            from,
            nix::fcntl::AT_FDCWD,
            to,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        )
        .map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, to);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// Removes the spares in `parent` other than `keep` (made for another
/// account dir, or left half-built).
fn remove_stale(parent: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let b = name.as_bytes();
        let spare_like = b.starts_with(PREFIX.as_bytes())
            || b.starts_with(format!(".{PREFIX}").as_bytes())
                && !is_live_building(&name.to_string_lossy());
        if spare_like && entry.path() != keep {
            remove(&entry.path());
        }
    }
}

/// Whether a `.spare-<pid>.<n>` name belongs to a process that is alive
/// (and may be building it right now).
fn is_live_building(name: &str) -> bool {
    name.strip_prefix(&format!(".{PREFIX}"))
        .and_then(|rest| rest.split('.').next())
        .and_then(|pid| pid.parse::<i32>().ok())
        .is_some_and(crate::jsonfile::pid_alive)
}

/// Removes a spare: its links, its empty lock file and its directories;
/// anything else stays (and so does every directory holding it).
fn remove(dir: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    use crate::jsonfile::is_empty_file;
    let prepared = crate::jsonfile::prepared_temp(&dir.join(".claude.json")).ok();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    let _ = std::fs::remove_file(&path);
                }
                Ok(_) if Some(&path) == prepared.as_ref() && is_empty_file(&path) => {
                    let _ = std::fs::remove_file(&path);
                }
                Ok(t) if t.is_dir() && entry.file_name().as_bytes() == STATE_DIR.as_bytes() => {
                    let lock = path.join(LOCK_FILE);
                    if is_empty_file(&lock) {
                        let _ = std::fs::remove_file(&lock);
                    }
                    let _ = std::fs::remove_dir(&path);
                }
                _ => {}
            }
        }
    }
    // Fails when it holds something `make` never puts there: left alone.
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::os::unix::fs::DirBuilderExt;

    struct Setup {
        _tmp: tempfile::TempDir,
        state: PathBuf,
        account: PathBuf,
        repo: PathBuf,
    }

    fn setup() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let account = root.join("acct");
        std::fs::create_dir(&account).unwrap();
        std::fs::write(account.join("CLAUDE.md"), "mine").unwrap();
        let repo = root.join("repo/.git/claude-runtime");
        std::fs::create_dir_all(&repo).unwrap();
        Setup {
            state: root.join("state"),
            account,
            repo,
            _tmp: tmp,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        super::super::layout::read_dir(dir)
            .unwrap()
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spare_is_a_runtime_dir_but_its_claude_json_and_taking_it_moves_that_very_dir() {
        let s = setup();
        assert!(make(&s.state, "max", &s.account).unwrap());
        assert!(!make(&s.state, "max", &s.account).unwrap(), "one is enough");
        assert_eq!(names(&s.account), vec!["CLAUDE.md"], "nothing made there");
        let spare = path(&s.state, "max", &s.account);
        let ino = std::fs::symlink_metadata(&spare).unwrap().ino();
        let target = s.repo.join("max");
        assert!(take(&s.state, "max", &s.account, &target));
        assert!(std::fs::symlink_metadata(&spare).is_err(), "taken");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert_eq!((meta.ino(), meta.mode() & 0o777), (ino, 0o700));
        let prepared = crate::jsonfile::prepared_temp(&target.join(".claude.json")).unwrap();
        let prepared_name = prepared.file_name().unwrap().to_string_lossy().into_owned();
        let mut expected: Vec<String> = super::super::layout::ACCOUNT_DIRS
            .iter()
            .chain(super::super::layout::ACCOUNT_FILES)
            .map(ToString::to_string)
            .chain([STATE_DIR.to_string(), "CLAUDE.md".to_string()])
            .chain([prepared_name.clone()])
            .collect();
        expected.sort();
        assert_eq!(names(&target), expected);
        assert_eq!(std::fs::metadata(&prepared).unwrap().len(), 0);
        for name in names(&target)
            .iter()
            .filter(|n| *n != STATE_DIR && **n != prepared_name)
        {
            assert_eq!(
                std::fs::read_link(target.join(name)).unwrap(),
                s.account.join(name),
                "{name}"
            );
        }
        assert_eq!(names(&target.join(STATE_DIR)), vec![LOCK_FILE.to_string()]);
        // Nothing left to take: the next new dir is built in place.
        assert!(!take(&s.state, "max", &s.account, &s.repo.join("other")));
        assert!(std::fs::symlink_metadata(s.repo.join("other")).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn taking_never_replaces_a_dir_that_appeared_meanwhile() {
        let s = setup();
        make(&s.state, "max", &s.account).unwrap();
        let target = s.repo.join("max");
        std::fs::create_dir(&target).unwrap();
        assert!(!take(&s.state, "max", &s.account, &target));
        assert!(
            names(&target).is_empty(),
            "the other launch's dir is intact"
        );
        assert!(path(&s.state, "max", &s.account).is_dir(), "and the spare");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn concurrent_makes_leave_one_spare_and_nothing_half_built() {
        let s = setup();
        let made: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| make(&s.state, "max", &s.account).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(made.iter().any(|&m| m), "{made:?}");
        let spare = path(&s.state, "max", &s.account);
        let spare_name = spare.file_name().unwrap().to_string_lossy().into_owned();
        let spares: Vec<String> = names(spare.parent().unwrap())
            .into_iter()
            .filter(|n| n.contains("spare"))
            .collect();
        assert_eq!(spares, vec![spare_name]);
        let target = s.repo.join("max");
        assert!(take(&s.state, "max", &s.account, &target));
        assert!(target.join("settings.json").symlink_metadata().is_ok());
    }

    #[test]
    fn only_a_private_real_directory_is_taken() {
        let s = setup();
        let spare = path(&s.state, "max", &s.account);
        std::fs::create_dir_all(spare.parent().unwrap()).unwrap();
        let elsewhere = s.repo.parent().unwrap().join("planted");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &spare).unwrap();
        assert!(!take(&s.state, "max", &s.account, &s.repo.join("max")));
        std::fs::remove_file(&spare).unwrap();
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&spare)
            .unwrap();
        assert!(!take(&s.state, "max", &s.account, &s.repo.join("max")));
        assert!(std::fs::symlink_metadata(s.repo.join("max")).is_err());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spare_of_another_account_dir_is_removed_but_never_what_make_did_not_put_there() {
        let s = setup();
        let old_account = s.account.with_file_name("old-acct");
        std::fs::create_dir(&old_account).unwrap();
        make(&s.state, "max", &old_account).unwrap();
        let old = path(&s.state, "max", &old_account);
        let stranger = old.join(STATE_DIR).join("notes.txt");
        std::fs::write(&stranger, "keep me").unwrap();
        make(&s.state, "max", &s.account).unwrap();
        assert_eq!(std::fs::read_to_string(&stranger).unwrap(), "keep me");
        assert_eq!(names(&old), vec![STATE_DIR.to_string()], "links removed");
        std::fs::remove_file(&stranger).unwrap();
        std::fs::remove_dir(path(&s.state, "max", &s.account)).unwrap_err();
        // The next make finds the old one empty of strangers: gone.
        std::fs::rename(
            path(&s.state, "max", &s.account),
            s.repo.join("taken-meanwhile"),
        )
        .unwrap();
        make(&s.state, "max", &s.account).unwrap();
        assert!(std::fs::symlink_metadata(&old).is_err());
        assert!(path(&s.state, "max", &s.account).is_dir());
    }
}
