//! The modes of what the helper keeps private, held at every activate and
//! launch even when nothing else changes: its managed files (`settings.json`,
//! `.claude.json`, the last-applied records) never looser than 0600, the
//! account dir and the helper's state dirs never looser than 0700.
//!
//! Guarantees: only group and other bits are ever removed (a mode is never
//! loosened, and the owner's bits are kept); a link is never followed to
//! change its target's mode; every repair is returned as a [`ModeFix`], one
//! line for the user naming the path and both modes. The callers take the
//! mode from a `stat` they already do, so holding costs nothing more unless
//! a repair is due.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A mode the helper repaired.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModeFix {
    pub path: PathBuf,
    /// The permission bits found.
    pub from: u32,
    /// The permission bits set.
    pub to: u32,
}

impl fmt::Display for ModeFix {
    /// `<path> was mode 0644; made it 0600` (no newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was mode {:04o}; made it {:04o}",
            crate::shown::Shown(&self.path),
            self.from,
            self.to
        )
    }
}

/// Whether permission bits `mode` let group or others in.
pub fn is_loose(mode: u32) -> bool {
    mode & 0o077 != 0
}

/// `mode` without the group and other bits.
pub fn private(mode: u32) -> u32 {
    mode & 0o700
}

/// The fix for a file or dir found with permission bits `mode`, when they
/// are loose; nothing is changed on disk (see [`hold`]).
pub fn fix_of(path: &Path, mode: u32) -> Option<ModeFix> {
    let from = mode & 0o7777;
    is_loose(from).then(|| ModeFix {
        path: path.to_path_buf(),
        from,
        to: private(from),
    })
}

/// Makes `path` (a real file or dir, not a link: the caller's `lstat` said
/// so, and its permission bits were `mode`) private when `mode` is loose.
pub fn hold(path: &Path, mode: u32) -> Result<Option<ModeFix>> {
    let Some(fix) = fix_of(path, mode) else {
        return Ok(None);
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(fix.to)).with_context(|| {
        format!(
            "{} is mode {:04o}, readable by others; making it {:04o} failed; run chmod {:o} {} (as its owner) and run again",
            path.display(),
            fix.from,
            fix.to,
            fix.to,
            path.display()
        )
    })?;
    Ok(Some(fix))
}

/// Makes `dir` private when it is a directory (not a link); nothing when
/// it does not exist. One `lstat`.
pub fn hold_existing_dir(dir: &Path) -> Result<Option<ModeFix>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => hold(dir, m.mode()),
        _ => Ok(None),
    }
}

/// Creates `dir` (0700, with its missing parents), or makes an existing
/// directory private; one `lstat`. A link to a directory is left as it is
/// (what it points to is not the helper's to change).
pub fn hold_dir(dir: &Path) -> Result<Option<ModeFix>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => hold(dir, m.mode()),
        // Missing (created), a link to a directory (kept), or an error
        // naming the path and the fix.
        _ => crate::managed::create_private_dir(dir).map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn only_group_and_other_bits_go() {
        assert_eq!(private(0o644), 0o600);
        assert_eq!(private(0o755), 0o700);
        assert_eq!(private(0o400), 0o400);
        assert!(!is_loose(0o600) && !is_loose(0o700) && !is_loose(0o400));
        assert!(is_loose(0o604) && is_loose(0o640));
        assert_eq!(fix_of(Path::new("/x"), 0o100600), None);
        assert_eq!(
            fix_of(Path::new("/x"), 0o100644).map(|f| f.to_string()),
            Some("/x was mode 0644; made it 0600".to_string())
        );
    }

    #[test]
    fn dirs_are_created_private_and_repaired() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert_eq!(hold_dir(&dir).unwrap(), None);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let fix = hold_dir(&dir).unwrap().expect("repaired");
        assert_eq!((fix.from, fix.to), (0o755, 0o700));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(hold_dir(&dir).unwrap(), None);
    }
}
