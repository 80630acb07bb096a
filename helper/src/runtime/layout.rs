//! What a runtime dir holds: its own `.claude.json` and the helper's state,
//! and a link to the account dir's entry for everything else, so that an
//! account is one account in every worktree.
//!
//! A runtime dir's own entries ([`is_own`]): `.claude.json` with Claude
//! Code's lock, temporary and backup files beside it, `backups/`, the legacy
//! `.config.json`, and `.claude-accounts/`. Credentials are never in a
//! runtime dir: sessions find them in the account dir through
//! `CLAUDE_SECURESTORAGE_CONFIG_DIR`.
//!
//! Every other entry is a one-hop link `<runtime>/<name>` → `<account>/<name>`:
//! `settings.json` (Claude writes through one link hop and keeps it),
//! `projects/` (transcripts and auto memory outlive the worktree),
//! `history.jsonl`, `plugins/`, `agents/`, ... Nix-declared assets are links
//! into the store from the account dir, two hops from a runtime.
//!
//! Guarantees ([`link`]):
//! * Nothing is deleted that is not a link: a real entry found where a link
//!   belongs (a runtime dir of the first layout, or an entry a newer Claude
//!   created) is moved into the account when the account lacks it, merged
//!   into it file by file when both are directories, and otherwise kept in
//!   `.claude-accounts/displaced/` and reported. Files that differ are never
//!   overwritten. `history.jsonl` lines are appended to the account's.
//! * A credentials file is never moved to the account: our old link is
//!   removed, a real file is moved into `.claude-accounts/quarantine/`.
//! * Real entries are moved only while the caller holds the runtime's
//!   session lock (no Claude runs there); links are added either way.

use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::adopt::{adopt, quarantine_credentials};
use crate::managed::{self, STATE_DIR};

/// Directories created in the account dir when missing, so that their links
/// resolve before Claude first writes there (Claude cannot `mkdir` through a
/// dangling link): what sessions of several worktrees share while they run.
///
/// Not the entries Nix may own ([`crate::manifest::ASSET_NAMES`]: `agents/`,
/// `commands/`, ...): an empty directory made there would stand in the way
/// of Home Manager's link when the user declares them later. The account's
/// are linked when it has them; one Claude creates in a runtime dir moves to
/// the account when the session ends.
pub const ACCOUNT_DIRS: &[&str] = &[
    "file-history",
    "plans",
    "plugins",
    "projects",
    "session-env",
    "sessions",
    "shell-snapshots",
    "state",
    "todos",
];

/// Files linked even before the account has them: Claude creates them
/// through the link, in the account dir. (Not `CLAUDE.md`, which Nix may
/// own: see [`ACCOUNT_DIRS`].)
pub const ACCOUNT_FILES: &[&str] = &["history.jsonl", "keybindings.json", "settings.json"];

/// The credentials file Claude Code keeps in its secure-storage dir on Linux.
pub const CREDENTIALS: &str = ".credentials.json";

/// Whether `name` is one of a runtime dir's own entries.
pub fn is_own(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b == b".claude.json"
        || b.starts_with(b".claude.json.")
        || b == b"backups"
        || b == b".config.json"
        || b == STATE_DIR.as_bytes()
}

/// Entries of an account dir that are never linked into a runtime dir:
/// its own entries, credentials, and locks.
fn never_linked(name: &OsStr) -> bool {
    let b = name.as_bytes();
    is_own(name)
        || b == CREDENTIALS.as_bytes()
        || b.ends_with(b".lock")
        || b.ends_with(b".lock.owner")
        || b.windows(5).any(|w| w == b".tmp.")
}

/// What [`link`] did that the user should know.
#[derive(Debug, Default)]
pub struct Linked {
    pub notes: Vec<String>,
}

/// Makes every entry of `runtime` but its own a link to `account`'s entry;
/// with `locked` (the caller holds the session lock), real entries are
/// moved into the account first (see the module guarantees).
pub fn link(runtime: &Path, account: &Path, locked: bool) -> Result<Linked> {
    let mut out = Linked::default();
    for name in ACCOUNT_DIRS {
        let dir = account.join(name);
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {} // a file the user keeps there: linked as it is
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // A dangling link (a Nix asset removed) is left to activation.
                if std::fs::symlink_metadata(&dir).is_err() {
                    managed::create_private_dir(&dir)?;
                }
            }
            Err(e) => return Err(e).with_context(|| format!("inspecting {}", dir.display())),
        }
    }
    let wanted = wanted(account)?;
    for entry in read_dir(runtime)? {
        if is_own(&entry) || wanted.contains(&entry) {
            continue;
        }
        let path = runtime.join(&entry);
        if entry.as_bytes() == CREDENTIALS.as_bytes() {
            if locked {
                quarantine_credentials(runtime, &path, &mut out)?;
            }
            continue;
        }
        if never_linked(&entry) {
            continue; // a lock or temporary file of a running Claude
        }
        let target = account.join(&entry);
        match std::fs::read_link(&path) {
            // Ours, to an account entry that is gone: Claude may create a
            // real one here, which the next link moves to the account.
            Ok(t) if t == target => remove_link(&path)?,
            Ok(_) => {} // a link someone else made: left alone
            Err(_) if locked => {
                adopt(runtime, account, &entry, &mut out)?;
                make_link(&target, &path)?;
            }
            Err(_) => {}
        }
    }
    for entry in &wanted {
        let path = runtime.join(entry);
        let target = account.join(entry);
        match std::fs::read_link(&path) {
            Ok(t) if t == target => continue,
            Ok(_) => replace_link(&target, &path)?,
            Err(e) if e.kind() == ErrorKind::NotFound => make_link(&target, &path)?,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // A real entry where the account's belongs.
                if locked {
                    adopt(runtime, account, entry, &mut out)?;
                    make_link(&target, &path)?;
                }
            }
            Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
        }
    }
    Ok(out)
}

/// The entries a runtime dir links: [`ACCOUNT_FILES`] and the account's
/// entries but those [`never_linked`].
fn wanted(account: &Path) -> Result<Vec<OsString>> {
    let mut wanted: Vec<OsString> = ACCOUNT_FILES.iter().map(OsString::from).collect();
    for entry in read_dir(account)? {
        if !never_linked(&entry) && !wanted.contains(&entry) {
            wanted.push(entry);
        }
    }
    Ok(wanted)
}

/// Links a new, empty runtime dir made in advance (a spare: see
/// [`super::spare`]) as [`link`] would, without making anything in the
/// account: the links to [`ACCOUNT_DIRS`] the account does not have yet
/// resolve once a launch's [`link`] makes those dirs, before claude starts.
pub fn prelink(runtime: &Path, account: &Path) -> Result<()> {
    let mut names = wanted(account)?;
    for dir in ACCOUNT_DIRS {
        if !names.iter().any(|n| n == *dir) {
            names.push(OsString::from(dir));
        }
    }
    for name in names {
        make_link(&account.join(&name), &runtime.join(&name))?;
    }
    Ok(())
}

/// The names in `dir`.
pub(super) fn read_dir(dir: &Path) -> Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        names.push(
            entry
                .with_context(|| format!("reading {}", dir.display()))?
                .file_name(),
        );
    }
    names.sort();
    Ok(names)
}

pub(super) fn make_link(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

pub(super) fn remove_link(link: &Path) -> Result<()> {
    std::fs::remove_file(link).with_context(|| format!("removing the link {}", link.display()))
}

/// Points `link` at `target` atomically (a new link renamed over the old).
fn replace_link(target: &Path, link: &Path) -> Result<()> {
    let tmp = link.with_file_name(format!(
        ".{}.link.claude-accounts.{}",
        link.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    make_link(target, &tmp)?;
    std::fs::rename(&tmp, link).with_context(|| format!("replacing the link {}", link.display()))
}

/// Entries of a runtime dir that are neither its own nor links to the
/// account's (for `status`).
pub fn foreign_entries(runtime: &Path, account: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in read_dir(runtime)? {
        if is_own(&entry) || never_linked(&entry) && entry.as_bytes() != CREDENTIALS.as_bytes() {
            continue;
        }
        let path = runtime.join(&entry);
        if std::fs::read_link(&path).ok() != Some(account.join(&entry)) {
            found.push(path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let rt = tmp.path().join("rt");
        let acct = tmp.path().join("acct");
        std::fs::create_dir_all(rt.join(STATE_DIR)).unwrap();
        std::fs::create_dir_all(&acct).unwrap();
        (tmp, rt, acct)
    }

    fn names(dir: &Path) -> Vec<String> {
        read_dir(dir)
            .unwrap()
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn everything_but_the_runtimes_own_entries_links_to_the_account() {
        let (_t, rt, acct) = setup();
        std::fs::write(acct.join("keybindings.json"), "{}").unwrap();
        std::fs::create_dir(acct.join("newer-claude-dir")).unwrap();
        std::fs::write(acct.join(CREDENTIALS), "secret").unwrap();
        std::fs::create_dir(acct.join(".oauth_refresh.lock")).unwrap();
        std::fs::write(rt.join(".claude.json"), "{}").unwrap();
        link(&rt, &acct, true).unwrap();
        for name in names(&rt) {
            let path = rt.join(&name);
            if is_own(OsStr::new(&name)) {
                assert!(
                    std::fs::read_link(&path).is_err(),
                    "{name} is the runtime's own"
                );
            } else {
                assert_eq!(
                    std::fs::read_link(&path).unwrap(),
                    acct.join(&name),
                    "{name}"
                );
            }
        }
        let rt_names = names(&rt);
        assert!(rt_names.contains(&"newer-claude-dir".to_string()));
        assert!(rt_names.contains(&"projects".to_string()));
        assert!(!rt_names.contains(&CREDENTIALS.to_string()));
        assert!(!rt_names.contains(&".oauth_refresh.lock".to_string()));
        assert!(acct.join("projects").is_dir(), "created in the account");
        // Idempotent, and nothing to say the second time.
        assert!(link(&rt, &acct, true).unwrap().notes.is_empty());
        assert!(foreign_entries(&rt, &acct).unwrap().is_empty());
    }

    #[test]
    fn real_entries_move_into_the_account_and_nothing_is_overwritten() {
        let (_t, rt, acct) = setup();
        // The first layout: real projects/ with transcripts, a copied
        // settings.json, our credentials link, a history.
        std::fs::create_dir_all(rt.join("projects/-p")).unwrap();
        std::fs::write(rt.join("projects/-p/a.jsonl"), "runtime a").unwrap();
        std::fs::write(rt.join("projects/-p/same.jsonl"), "same").unwrap();
        std::fs::write(rt.join("projects/-p/clash.jsonl"), "runtime").unwrap();
        std::fs::create_dir_all(acct.join("projects/-p")).unwrap();
        std::fs::write(acct.join("projects/-p/same.jsonl"), "same").unwrap();
        std::fs::write(acct.join("projects/-p/clash.jsonl"), "account").unwrap();
        std::fs::write(rt.join("settings.json"), "{\"model\":\"haiku\"}").unwrap();
        std::fs::write(acct.join("settings.json"), "{}").unwrap();
        std::fs::write(rt.join("history.jsonl"), "{\"r\":1}\n").unwrap();
        std::fs::write(acct.join("history.jsonl"), "{\"a\":1}\n").unwrap();
        std::os::unix::fs::symlink(acct.join(CREDENTIALS), rt.join(CREDENTIALS)).unwrap();
        std::fs::write(rt.join("todos-new"), "t").unwrap();

        let notes = link(&rt, &acct, true).unwrap().notes;
        assert_eq!(
            std::fs::read_to_string(acct.join("projects/-p/a.jsonl")).unwrap(),
            "runtime a"
        );
        assert_eq!(
            std::fs::read_to_string(acct.join("projects/-p/clash.jsonl")).unwrap(),
            "account"
        );
        assert_eq!(
            std::fs::read_to_string(acct.join("settings.json")).unwrap(),
            "{}"
        );
        assert_eq!(
            std::fs::read_to_string(acct.join("history.jsonl")).unwrap(),
            "{\"a\":1}\n{\"r\":1}\n"
        );
        assert_eq!(
            std::fs::read_to_string(acct.join("todos-new")).unwrap(),
            "t"
        );
        let displaced = rt.join(STATE_DIR).join("displaced");
        assert_eq!(
            std::fs::read_to_string(displaced.join("projects/-p/clash.jsonl")).unwrap(),
            "runtime"
        );
        assert_eq!(
            std::fs::read_to_string(displaced.join("settings.json")).unwrap(),
            "{\"model\":\"haiku\"}"
        );
        assert!(
            std::fs::symlink_metadata(rt.join(CREDENTIALS)).is_err(),
            "our old link is removed"
        );
        assert!(
            !acct.join(CREDENTIALS).exists(),
            "and nothing was made in the account"
        );
        for name in ["projects", "settings.json", "history.jsonl", "todos-new"] {
            assert_eq!(
                std::fs::read_link(rt.join(name)).unwrap(),
                acct.join(name),
                "{name}"
            );
        }
        assert_eq!(notes.len(), 4, "{notes:#?}");
    }

    #[test]
    fn a_real_credentials_file_is_quarantined_never_moved_to_the_account() {
        let (_t, rt, acct) = setup();
        std::fs::write(acct.join(CREDENTIALS), "account").unwrap();
        std::fs::write(rt.join(CREDENTIALS), "planted").unwrap();
        let notes = link(&rt, &acct, true).unwrap().notes;
        assert_eq!(
            std::fs::read_to_string(acct.join(CREDENTIALS)).unwrap(),
            "account"
        );
        assert_eq!(
            std::fs::read_to_string(rt.join(STATE_DIR).join("quarantine/credentials.json"))
                .unwrap(),
            "planted"
        );
        assert!(notes[0].contains("never reach the account"), "{notes:?}");
    }

    #[test]
    fn without_the_lock_real_entries_stay_where_they_are() {
        let (_t, rt, acct) = setup();
        std::fs::create_dir(rt.join("projects")).unwrap();
        std::fs::write(rt.join(CREDENTIALS), "x").unwrap();
        link(&rt, &acct, false).unwrap();
        assert!(rt.join("projects").is_dir() && std::fs::read_link(rt.join("projects")).is_err());
        assert!(rt.join(CREDENTIALS).is_file());
        assert_eq!(
            foreign_entries(&rt, &acct).unwrap(),
            vec![rt.join(CREDENTIALS), rt.join("projects")]
        );
    }

    #[test]
    fn nothing_is_made_in_the_account_where_nix_may_link_an_asset() {
        let tmp = tempfile::tempdir().unwrap();
        let (rt, acct) = (tmp.path().join("rt"), tmp.path().join("acct"));
        std::fs::create_dir_all(rt.join(STATE_DIR)).unwrap();
        std::fs::create_dir_all(&acct).unwrap();
        link(&rt, &acct, true).unwrap();
        for name in crate::manifest::ASSET_NAMES {
            assert!(
                std::fs::symlink_metadata(acct.join(name)).is_err(),
                "{name} made in the account"
            );
            assert!(
                !ACCOUNT_DIRS.contains(name) && !ACCOUNT_FILES.contains(name),
                "{name}"
            );
        }
        // A directory Claude made in the runtime moves to the account.
        std::fs::create_dir(rt.join("agents")).unwrap();
        std::fs::write(rt.join("agents/mine.md"), "---\nname: mine\n---\n").unwrap();
        link(&rt, &acct, true).unwrap();
        assert!(acct.join("agents/mine.md").is_file());
        assert_eq!(
            std::fs::read_link(rt.join("agents")).unwrap(),
            acct.join("agents")
        );
    }
}
