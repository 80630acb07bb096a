//! Where Claude Code keeps a session's transcript, and copying and removing
//! transcripts across accounts.
//!
//! Claude Code writes the transcript of session `<id>` to `<config dir>/
//! projects/<cwd, sanitised>/<id>.jsonl` (docs/sessions.md), with the
//! session's side files (subagents, large tool results) in `<id>/` next to
//! it, and finds a session to `--resume` by its id in any directory of
//! `projects/` (checked with the real Claude Code 2.1.332, docs/sessions.md).
//! Every runtime dir of an account links `projects/` to the account dir, so
//! an account's transcripts are all in `<account dir>/projects/`; runtime
//! dirs that hold their own `projects/` (made by an older helper) are
//! searched too.
//!
//! Guarantees: a copy never moves or changes its source; it is written to a
//! temporary name and renamed into place, so Claude never sees half a
//! transcript; a different transcript already at the destination (one that
//! is not a prefix of the source) is kept under another name, never lost.
//! Only names made of a session id are ever removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};

use super::names::is_id;

/// Per-session entries Claude Code keeps outside `projects/`, by session id.
const SESSION_DIRS: &[&str] = &["session-env", "file-history"];

/// One transcript found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub modified: SystemTime,
    pub len: u64,
}

/// The `projects/` dirs of `config_dirs` that exist, each once (runtime
/// dirs link theirs to the account's).
pub fn projects_dirs(config_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for dir in config_dirs {
        let projects = dir.join("projects");
        if let Ok(real) = fs::canonicalize(&projects)
            && real.is_dir()
            && !seen.contains(&real)
        {
            seen.push(real);
            out.push(projects);
        }
    }
    out
}

/// Every transcript of session `id` in `projects` dirs.
pub fn find(projects: &[PathBuf], id: &str) -> Result<Vec<Found>> {
    if !is_id(id) {
        bail!("{id:?} is not a session id");
    }
    let mut found = Vec::new();
    for dir in projects {
        for sub in subdirs(dir)? {
            let path = sub.join(format!("{id}.jsonl"));
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => found.push(Found {
                    modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    len: m.len(),
                    path,
                }),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
            }
        }
    }
    Ok(found)
}

/// The most recently written of `found`.
pub fn newest(found: &[Found]) -> Option<&Found> {
    found.iter().max_by_key(|f| (f.modified, f.len))
}

/// What [`copy_into`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Copied {
    /// The destination already had the same transcript.
    Same(PathBuf),
    /// Copied to this path.
    To(PathBuf),
    /// Copied; a different transcript that was at the destination was kept
    /// at `.1`.
    Replaced(PathBuf, PathBuf),
}

/// Copies the transcript `src` (and its side dir `<id>/`, if any) into
/// `projects` (an account's `projects/`), under the same directory name.
pub fn copy_into(src: &Path, projects: &Path) -> Result<Copied> {
    let (Some(file), Some(dir_name)) = (src.file_name(), src.parent().and_then(Path::file_name))
    else {
        bail!("{} is not a transcript path", src.display());
    };
    let dest_dir = projects.join(dir_name);
    fs::create_dir_all(&dest_dir).with_context(|| format!("creating {}", dest_dir.display()))?;
    let dest = dest_dir.join(file);
    if same_file(src, &dest) {
        return Ok(Copied::Same(dest));
    }
    let bytes = fs::read(src).with_context(|| format!("reading {}", src.display()))?;
    let mut kept = None;
    match fs::read(&dest) {
        Ok(old) if old == bytes => return Ok(Copied::Same(dest)),
        Ok(old) if bytes.starts_with(&old) => {}
        Ok(_) => {
            let aside = dest.with_extension(format!("jsonl.replaced-{}", crate::clock::now_secs()));
            fs::rename(&dest, &aside).with_context(|| {
                format!("moving {} aside to {}", dest.display(), aside.display())
            })?;
            kept = Some(aside);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dest.display())),
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".claude-accounts-copy.")
        .tempfile_in(&dest_dir)
        .with_context(|| format!("creating a temporary file in {}", dest_dir.display()))?;
    std::io::Write::write_all(&mut tmp, &bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    set_private(tmp.path())?;
    tmp.persist(&dest)
        .map_err(|e| anyhow::anyhow!("renaming into {}: {}", dest.display(), e.error))?;
    let side = src.with_extension("");
    if side.is_dir() {
        copy_dir(&side, &dest.with_extension(""))?;
    }
    Ok(match kept {
        Some(aside) => Copied::Replaced(dest, aside),
        None => Copied::To(dest),
    })
}

/// Removes every transcript of session `id` in `projects` dirs, its side
/// dirs, and its per-session entries of `config_dirs` (`session-env/<id>`,
/// `file-history/<id>`); returns what it removed.
pub fn remove(projects: &[PathBuf], config_dirs: &[PathBuf], id: &str) -> Result<Vec<PathBuf>> {
    if !is_id(id) {
        bail!("{id:?} is not a session id");
    }
    let mut removed = Vec::new();
    for dir in projects {
        for sub in subdirs(dir)? {
            remove_entry(&sub.join(format!("{id}.jsonl")), &mut removed)?;
            remove_entry(&sub.join(id), &mut removed)?;
        }
    }
    for dir in config_dirs {
        for name in SESSION_DIRS {
            remove_entry(&dir.join(name).join(id), &mut removed)?;
        }
    }
    Ok(removed)
}

/// Removes the lines of sessions `ids` from the prompt history
/// (`history.jsonl`) of `config_dirs` (each file once: runtime dirs link
/// theirs to the account's); returns how many lines went.
///
/// Claude Code appends to this file from every session of the account
/// without a lock the helper could take: the filtered copy is renamed into
/// place only if the file did not change since it was read (else it is
/// read again), so a line appended meanwhile is not lost. Lines that are
/// not JSON are kept.
pub fn remove_history(config_dirs: &[PathBuf], ids: &[String]) -> Result<usize> {
    let mut seen = Vec::new();
    let mut removed = 0;
    for dir in config_dirs {
        let path = dir.join("history.jsonl");
        let Ok(real) = fs::canonicalize(&path) else {
            continue;
        };
        if seen.contains(&real) {
            continue;
        }
        seen.push(real.clone());
        removed += filter_history(&real, ids)?;
    }
    Ok(removed)
}

fn filter_history(path: &Path, ids: &[String]) -> Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    for _ in 0..20 {
        let before =
            fs::metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut kept = String::with_capacity(text.len());
        let mut dropped = 0;
        for line in text.split_inclusive('\n') {
            let ours = serde_json::from_str::<serde_json::Value>(line.trim_end())
                .ok()
                .and_then(|v| {
                    v.get("sessionId")
                        .and_then(|s| s.as_str())
                        .map(str::to_owned)
                })
                .is_some_and(|id| ids.contains(&id));
            if ours {
                dropped += 1;
            } else {
                kept.push_str(line);
            }
        }
        if dropped == 0 {
            return Ok(0);
        }
        let dir = path.parent().expect("a file has a parent");
        let mut tmp = tempfile::Builder::new()
            .prefix(".history.claude-accounts.")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, kept.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        fs::set_permissions(
            tmp.path(),
            fs::Permissions::from_mode(before.permissions().mode() & 0o777),
        )
        .with_context(|| format!("setting the mode of {}", tmp.path().display()))?;
        let now = fs::metadata(path).with_context(|| format!("inspecting {}", path.display()))?;
        if now.len() != before.len() || now.modified().ok() != before.modified().ok() {
            continue; // appended meanwhile: read again
        }
        tmp.persist(path)
            .map_err(|e| anyhow::anyhow!("renaming into {}: {}", path.display(), e.error))?;
        return Ok(dropped);
    }
    bail!(
        "{} kept changing while the incognito session's prompts were being removed from it; run `claude-session delete` of the name again when the account's sessions are quiet",
        path.display()
    )
}

fn remove_entry(path: &Path, removed: &mut Vec<PathBuf>) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    result.with_context(|| format!("removing {}", path.display()))?;
    removed.push(path.to_path_buf());
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

/// Copies the regular files and directories under `src` into `dest`
/// (created), overwriting files of the same name; links are skipped.
fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for entry in fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry.with_context(|| format!("listing {}", src.display()))?;
        let ty = entry
            .file_type()
            .with_context(|| format!("inspecting {}", entry.path().display()))?;
        let to = dest.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else if ty.is_file() {
            fs::copy(entry.path(), &to).with_context(|| {
                format!("copying {} to {}", entry.path().display(), to.display())
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_loses_only_the_given_sessions_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let account = tmp.path().join("account");
        let runtime = tmp.path().join("runtime");
        fs::create_dir_all(&account).unwrap();
        fs::create_dir_all(&runtime).unwrap();
        std::os::unix::fs::symlink(account.join("history.jsonl"), runtime.join("history.jsonl"))
            .unwrap();
        let text = "{\"display\":\"a\",\"sessionId\":\"s1\"}\nnot json\n{\"display\":\"b\",\"sessionId\":\"s2\"}\n{\"display\":\"c\",\"sessionId\":\"s3\"}\n";
        fs::write(account.join("history.jsonl"), text).unwrap();
        let ids = vec!["s2".to_string(), "s3".to_string()];
        let n = remove_history(&[account.clone(), runtime.clone()], &ids).unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            fs::read_to_string(account.join("history.jsonl")).unwrap(),
            "{\"display\":\"a\",\"sessionId\":\"s1\"}\nnot json\n"
        );
        assert!(runtime.join("history.jsonl").is_symlink(), "the link stays");
        assert_eq!(remove_history(&[account], &ids).unwrap(), 0);
    }

    #[test]
    fn copy_keeps_a_different_destination_and_the_source() {
        let tmp = tempfile::tempdir().unwrap();
        let id = "11111111-1111-4111-8111-111111111111";
        let src_dir = tmp.path().join("a/projects/-w");
        fs::create_dir_all(src_dir.join(id).join("subagents")).unwrap();
        let src = src_dir.join(format!("{id}.jsonl"));
        fs::write(&src, "one\ntwo\n").unwrap();
        fs::write(src_dir.join(id).join("subagents/agent-1.jsonl"), "s\n").unwrap();
        let dest_projects = tmp.path().join("b/projects");

        let first = copy_into(&src, &dest_projects).unwrap();
        let dest = dest_projects.join("-w").join(format!("{id}.jsonl"));
        assert_eq!(first, Copied::To(dest.clone()));
        assert_eq!(fs::read_to_string(&dest).unwrap(), "one\ntwo\n");
        assert!(
            dest_projects
                .join("-w")
                .join(id)
                .join("subagents/agent-1.jsonl")
                .is_file()
        );
        assert_eq!(
            copy_into(&src, &dest_projects).unwrap(),
            Copied::Same(dest.clone())
        );

        // The destination went its own way: it is kept aside.
        fs::write(&dest, "one\nelsewhere\n").unwrap();
        let Copied::Replaced(to, aside) = copy_into(&src, &dest_projects).unwrap() else {
            panic!("expected a replacement");
        };
        assert_eq!(to, dest);
        assert_eq!(fs::read_to_string(&aside).unwrap(), "one\nelsewhere\n");
        assert_eq!(fs::read_to_string(&src).unwrap(), "one\ntwo\n");
    }
}
