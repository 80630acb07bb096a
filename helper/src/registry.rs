//! The registry of runtime dirs, so `status`, `close --all` and `diff` can find
//! the runtime dirs scattered over git repositories.
//!
//! One symlink per runtime dir in `$XDG_STATE_HOME/claude-accounts/<account>/
//! runtimes/`, named by a hash of the runtime path and pointing at it.
//! Guarantees: registering is idempotent and costs one `readlink` when
//! already registered; entries whose runtime dir is gone (`git worktree
//! remove`, a finished throwaway session) are pruned when listed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// `$XDG_STATE_HOME`, or `~/.local/state`.
pub fn state_home(home: &Path) -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(s) if Path::new(&s).is_absolute() => PathBuf::from(s),
        _ => home.join(".local/state"),
    }
}

fn registry_dir(state_home: &Path, account: &str) -> PathBuf {
    state_home
        .join("claude-accounts")
        .join(account)
        .join("runtimes")
}

/// 64-bit FNV-1a, stable across builds (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Records `runtime_dir` as a runtime of `account`.
pub fn register(state_home: &Path, account: &str, runtime_dir: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let dir = registry_dir(state_home, account);
    let entry = dir.join(format!(
        "{:016x}",
        fnv1a(runtime_dir.as_os_str().as_bytes())
    ));
    if std::fs::read_link(&entry).is_ok_and(|t| t == runtime_dir) {
        return Ok(());
    }
    crate::managed::create_private_dir(&dir)?;
    let tmp = dir.join(format!(".new.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(runtime_dir, &tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    std::fs::rename(&tmp, &entry).with_context(|| format!("creating {}", entry.display()))
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
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.is_dir() {
            found.push(target);
        } else {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    found.sort();
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
}
