//! Moving a real entry found in a runtime dir into the account without
//! losing anything (see [`super::layout`] for when): moved when the account
//! lacks it, merged file by file into a directory the account has, appended
//! for `history.jsonl`, removed only when identical to the account's copy,
//! and otherwise kept in `.claude-accounts/displaced/` and reported. A
//! credentials file never goes to the account: it is quarantined.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use super::layout::{Linked, make_link, read_dir, remove_link};
use crate::managed::{self, STATE_DIR};

/// A runtime's credentials: our link of the first layout is removed; a real
/// file (a login made in the runtime before sessions kept credentials in
/// the account, or one planted) is moved into the state dir, never to the
/// account.
pub(super) fn quarantine_credentials(runtime: &Path, path: &Path, out: &mut Linked) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("inspecting {}", path.display()))?;
    if meta.file_type().is_symlink() {
        return remove_link(path);
    }
    let dir = runtime.join(STATE_DIR).join("quarantine");
    managed::create_private_dir(&dir)?;
    let kept = unique(&dir.join("credentials.json"));
    std::fs::rename(path, &kept)
        .with_context(|| format!("moving {} to {}", path.display(), kept.display()))?;
    out.notes.push(format!(
        "moved {} to {}: sessions now use the account's login (CLAUDE_SECURESTORAGE_CONFIG_DIR), and a runtime dir's credentials never reach the account; delete it when you no longer need it",
        path.display(),
        kept.display()
    ));
    Ok(())
}

/// Moves the real entry `name` of `runtime` into `account` (see the module
/// guarantees); afterwards `runtime/name` does not exist.
pub(super) fn adopt(runtime: &Path, account: &Path, name: &OsStr, out: &mut Linked) -> Result<()> {
    let src = runtime.join(name);
    let dst = account.join(name);
    let mut displaced = Vec::new();
    merge_into(&src, &dst, &mut displaced)?;
    if displaced.is_empty() {
        out.notes.push(format!(
            "moved {} into the account ({}), where every worktree finds it",
            src.display(),
            dst.display()
        ));
        return Ok(());
    }
    let keep = unique(&runtime.join(STATE_DIR).join("displaced").join(name));
    managed::create_private_dir(keep.parent().expect("a parent"))?;
    if std::fs::symlink_metadata(&src).is_ok() {
        std::fs::rename(&src, &keep)
            .with_context(|| format!("moving {} to {}", src.display(), keep.display()))?;
    }
    out.notes.push(format!(
        "moved {} into the account ({}) except what differs from the account's copy: {}; that is kept in {}: compare and merge it by hand",
        src.display(),
        dst.display(),
        displaced
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        keep.display()
    ));
    Ok(())
}

/// Moves `src` to `dst` when `dst` does not exist; merges directories entry
/// by entry; removes a file identical to `dst`; appends `history.jsonl`.
/// Entries left in `src` (they differ from the account's) are listed in
/// `displaced`; `src` is removed when nothing is left in it.
fn merge_into(src: &Path, dst: &Path, displaced: &mut Vec<PathBuf>) -> Result<()> {
    let src_meta =
        std::fs::symlink_metadata(src).with_context(|| format!("inspecting {}", src.display()))?;
    let dst_meta = match std::fs::symlink_metadata(dst) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return move_entry(src, dst),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", dst.display())),
    };
    if src_meta.is_dir() && std::fs::metadata(dst).is_ok_and(|m| m.is_dir()) {
        for name in read_dir(src)? {
            merge_into(&src.join(&name), &dst.join(&name), displaced)?;
        }
        if read_dir(src)?.is_empty() {
            std::fs::remove_dir(src).with_context(|| format!("removing {}", src.display()))?;
        }
        return Ok(());
    }
    if src_meta.is_file() && dst_meta.is_file() {
        let a = std::fs::read(src).with_context(|| format!("reading {}", src.display()))?;
        let b = std::fs::read(dst).with_context(|| format!("reading {}", dst.display()))?;
        if a == b {
            return std::fs::remove_file(src)
                .with_context(|| format!("removing {}", src.display()));
        }
        if dst.file_name() == Some(OsStr::new("history.jsonl")) {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(dst)
                .with_context(|| format!("opening {}", dst.display()))?;
            if !b.is_empty() && !b.ends_with(b"\n") {
                f.write_all(b"\n")
                    .with_context(|| format!("writing {}", dst.display()))?;
            }
            f.write_all(&a)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("appending {} to {}", src.display(), dst.display()))?;
            return std::fs::remove_file(src)
                .with_context(|| format!("removing {}", src.display()));
        }
    }
    displaced.push(src.to_path_buf());
    Ok(())
}

/// `rename`, or a copy then removal across file systems.
fn move_entry(src: &Path, dst: &Path) -> Result<()> {
    match std::fs::rename(src, dst) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("moving {} to {}", src.display(), dst.display()));
        }
    }
    let tmp = unique(&dst.with_file_name(format!(
        ".{}.moving.claude-accounts",
        dst.file_name().unwrap_or_default().to_string_lossy()
    )));
    copy_tree(src, &tmp)?;
    std::fs::rename(&tmp, dst)
        .with_context(|| format!("moving {} to {}", tmp.display(), dst.display()))?;
    remove_tree(src)
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(src).with_context(|| format!("inspecting {}", src.display()))?;
    if meta.file_type().is_symlink() {
        let t = std::fs::read_link(src).with_context(|| format!("reading {}", src.display()))?;
        return make_link(&t, dst);
    }
    if meta.is_dir() {
        std::fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        for name in read_dir(src)? {
            copy_tree(&src.join(&name), &dst.join(&name))?;
        }
        return std::fs::set_permissions(dst, meta.permissions())
            .with_context(|| format!("setting the mode of {}", dst.display()));
    }
    if !meta.is_file() {
        bail!(
            "{} is neither a file, a directory nor a link; move it away and launch again",
            src.display()
        );
    }
    std::fs::copy(src, dst)
        .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    std::fs::File::open(dst)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", dst.display()))
}

fn remove_tree(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("inspecting {}", path.display()))?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .with_context(|| format!("removing {}", path.display()))
}

/// `path`, or `path.1`, `path.2`, ... : the first that does not exist.
fn unique(path: &Path) -> PathBuf {
    let mut candidate = path.to_path_buf();
    let mut n = 1;
    while std::fs::symlink_metadata(&candidate).is_ok() {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        candidate = path.with_file_name(name);
        n += 1;
    }
    candidate
}
