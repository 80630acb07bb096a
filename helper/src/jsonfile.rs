//! Safe reading and writing of the JSON files Claude Code also writes.
//!
//! Guarantees:
//!
//! * [`read`] refuses (error naming the path, the reason and what to do,
//!   without touching the file) an empty, truncated, unparsable (line and
//!   column given), non-object or non-UTF-8 file, one over
//!   [`Options::max_size`] (checked before reading), a directory or other
//!   non-regular file, a dangling symlink, an unreadable file, and a symlink
//!   under [`Symlinks::Refuse`]. A missing file reads as an empty object that
//!   does not exist yet.
//! * The text is parsed once, in [`read`], into the top-level keys and the
//!   exact byte span of each value (and of the members of object values).
//!   A [`Document`] borrows those spans from the one copy of the text, so
//!   memory stays near the file's size, and values nobody edits are never
//!   decoded or re-encoded: numbers, escapes and unicode stay exactly as
//!   they were. A file of 128 KiB or more is mapped under a read lease
//!   that holds other writers off until the [`Snapshot`] is dropped (see
//!   `mapped`), or read when it cannot be leased; a large one has its UTF-8
//!   checked on two threads (see `scan`).
//! * [`Document::render_to`] streams the object in Claude's layout
//!   (`JSON.stringify(v, null, 2)`): unchanged entries byte for byte and in
//!   order, edited entries re-encoded in place, new entries appended in
//!   [`Edits`] order, removed entries dropped, the original trailing newline
//!   (or its absence) kept. A file Claude wrote renders back byte for byte
//!   identical when there are no edits.
//! * [`update`] is atomic: temp file in the same directory, fsync, rename,
//!   fsync of the directory (the fsyncs only when [`Options::durable`], as
//!   it is unless a caller opts out); the file is always either the old or
//!   the new content, and every error leaves it unchanged and removes the
//!   temp file. With [`Options::recycle`], the temp file is the version
//!   the last write replaced, written over only when no other process has
//!   it open and it has no other name (see `atomic`).
//!   It takes Claude Code's own `<file>.lock` directory lock (mkdir; stale
//!   after 10 s) around the final check-and-rename only, when
//!   [`Options::lock_dir`] is set, re-checks that the file did not change
//!   between read and rename (identity: dev, inode, size, mtime, ctime) and if
//!   it did, starts again from a fresh read (up to [`Options::retries`] times,
//!   then gives up without writing). Nothing at all is written (no temp file,
//!   no lock) when the edits change nothing. Mode: kept, but never looser
//!   than 0600 when [`Options::private`]; new files 0600.
//! * Symlinks are never followed or replaced unless [`Options::symlinks`] says
//!   so, and then only one hop.
//!
//! Limit: a writer that ignores the lock (Claude Code does, after failing to
//! get it) can still replace the file between our check and our rename; the
//! window is the length of one `lstat` + `rename`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Map, Value};

mod atomic;
mod disk;
mod document;
mod lease;
mod lockdir;
mod mapped;
mod parse;
mod pick;
mod render;
mod scan;
mod text;

pub(crate) use atomic::{claim_empty_file, create_empty_file, is_empty_file, pid_alive};
use atomic::{commit, temp_prefix};
pub use atomic::{prepare_temp, prepared_temp};
pub use disk::io_failure;
use disk::{Disk, Identity, dir_of, locate, open_regular, read_regular};
pub use document::{Document, Edits, Snapshot};
use lockdir::LockDir;
use parse::{FieldsOf, Layout, validate};
pub use pick::{Picked, Wanted};
pub use text::Text;

/// Larger files are refused (real `.claude.json` files reach tens of MB).
pub const DEFAULT_MAX_SIZE: u64 = 512 * 1024 * 1024;

/// A lock directory older than this is left over by a crashed writer and is
/// taken over (Claude Code's `proper-lockfile` uses the same 10 s).
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(10);

/// Marks our temporary files: `.<name>.tmp.claude-accounts.<pid>.<n>`.
const TEMP_MARK: &str = ".tmp.claude-accounts.";

/// What to do when the path is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Refuse with an error naming the link and its target.
    Refuse,
    /// Read and write the link's target (one hop, like Claude Code does);
    /// the link stays.
    Follow,
    /// Read through the link, and replace the link itself by a real file on
    /// write (migrating a link into the Nix store).
    Replace,
}

/// How a file is read and written.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_size: u64,
    /// Mode never looser than 0600 (files holding identity or credentials).
    pub private: bool,
    /// Take Claude Code's `<file>.lock` directory lock while committing.
    pub lock_dir: bool,
    pub symlinks: Symlinks,
    /// How many times to start over when the file changed under us.
    pub retries: u32,
    /// How long to wait for a fresh (non-stale) lock held by someone else.
    pub lock_timeout: Duration,
    /// fsync the new content before the rename and the directory after it,
    /// so the file survives a crash. Off only for files that are rebuilt
    /// when lost or damaged; the write stays atomic either way.
    pub durable: bool,
    /// Keep the version a write replaces beside the file (a hidden
    /// `.<name>.tmp.claude-accounts.recycled`, private like the file) and
    /// write the next version over it, when nobody else has it open and it
    /// has no other name: writing over allocated blocks is cheaper than
    /// allocating new ones and freeing the old. For large files written
    /// often; it keeps one more copy of the file on disk, and only of a
    /// file of 128 KiB or more, on a file system with leases.
    pub recycle: bool,
}

impl Options {
    /// `.claude.json`: private, locked like Claude locks it, links refused.
    pub fn claude_json() -> Options {
        Options {
            max_size: DEFAULT_MAX_SIZE,
            private: true,
            lock_dir: true,
            symlinks: Symlinks::Refuse,
            retries: 5,
            lock_timeout: LOCK_STALE_AFTER.saturating_add(Duration::from_secs(2)),
            durable: true,
            recycle: false,
        }
    }
    /// An account's own `.claude.json` (not a runtime dir's): as
    /// [`Options::claude_json`], and [`Options::recycle`]d, since it is
    /// the large file every activation and session end rewrites.
    pub fn account_claude_json() -> Options {
        Options {
            recycle: true,
            ..Options::claude_json()
        }
    }
    /// `settings.json`: mode kept, links refused.
    pub fn settings_json() -> Options {
        Options {
            private: false,
            lock_dir: false,
            ..Options::claude_json()
        }
    }
    /// The helper's own files that are rebuilt when lost or damaged (caches,
    /// sync bases, metadata): private, links refused, not durable.
    pub fn rebuildable() -> Options {
        Options {
            private: true,
            durable: false,
            ..Options::settings_json()
        }
    }
}

/// What [`update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The edits changed nothing; nothing was written.
    Unchanged,
    /// The new content was renamed into place.
    Written,
}

/// Below this size [`pick`] reads the file whole: that is as fast.
const PICK_MIN: u64 = 256 << 10;

/// The values of `wanted.keys` and the fields of `wanted.fields_of` in
/// `path`, which is only read, never written.
///
/// A large file in Claude Code's layout is not read whole: its top-level
/// member lines are found in one pass through a small buffer and only the
/// wanted members are parsed (see `pick.rs` for what that does and does not
/// check). Any other file is read and validated whole, as by [`read`].
pub fn pick(path: &Path, opts: &Options, wanted: Wanted) -> Result<Picked> {
    if let Some(picked) = pick_large(path, opts, wanted)? {
        return Ok(picked);
    }
    let snapshot = read(path, opts)?;
    pick_from(&snapshot.document()?, wanted, snapshot.exists)
}

/// [`pick`] from a file read whole.
fn pick_from(doc: &Document<'_>, wanted: Wanted, exists: bool) -> Result<Picked> {
    let mut picked = Picked::asked(wanted, exists);
    for key in wanted.keys {
        if let Some(value) = doc.value(key)? {
            picked.values.insert(key.clone(), value);
        }
    }
    if let Some((outer, member, fields)) = wanted.fields_of {
        picked.fields = doc.member_fields(outer, member, fields)?;
    }
    Ok(picked)
}

/// [`pick`] when `path` is large and in Claude Code's layout; `None` (the
/// file not read) otherwise.
pub fn pick_large(path: &Path, opts: &Options, wanted: Wanted) -> Result<Option<Picked>> {
    let loc = locate(path, opts)?;
    match &loc.meta {
        Some(meta) if meta.len() >= PICK_MIN => {
            let (f, before) = open_regular(&loc.file, &loc.shown(path), opts.max_size)?;
            let mut picked = pick::pick(&f, Identity::of(&before), wanted);
            if let Some(picked) = &mut picked {
                picked.mode = Some(before.mode() & 0o7777);
            }
            Ok(picked)
        }
        _ => Ok(None),
    }
}

/// What is read of a file to decide what to change in it: a few of its
/// members, from the whole parsed file ([`Document`]) or from members
/// [`pick`]ed out of it ([`Picked`], which answers only for what it
/// picked and is an error otherwise).
pub trait Members {
    /// The parsed value of a top-level key (the last one if it repeats).
    fn value(&self, key: &str) -> Result<Option<Value>>;
    /// Whether the file has the top-level key.
    fn has(&self, key: &str) -> Result<bool>;
    /// The `fields` of the object `member` of the object at top-level `key`;
    /// see [`Document::member_fields`].
    fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>>;
    /// The file's permission bits as read (`None`: there is no file, or
    /// they were not looked at).
    fn mode(&self) -> Option<u32>;

    /// Whether the file's value for `key` already is `edit` (`None`: the
    /// key is absent); false when that cannot be told.
    fn holds(&self, key: &str, edit: Option<&Value>) -> bool {
        matches!(self.value(key), Ok(current) if current.as_ref() == edit)
    }
}

/// Reads and validates `path`; see the module guarantees. Never writes.
pub fn read(path: &Path, opts: &Options) -> Result<Snapshot> {
    let loc = locate(path, opts)?;
    let Some(meta) = &loc.meta else {
        let text = Text::from(String::from("{}"));
        return Ok(Snapshot {
            path: path.to_path_buf(),
            layout: Layout {
                entries: Vec::new(),
                nested: None,
                trailing: text.len()..text.len(),
            },
            text,
            exists: false,
            mode: None,
            disk: Disk {
                target: loc.target,
                checks: vec![(path.to_path_buf(), None)],
                mode: None,
                owner: None,
            },
        });
    };
    let shown = loc.shown(path);
    let (bytes, identity) = read_regular(&loc.file, &shown, opts.max_size)?;
    let (text, layout) = validate(bytes, &shown, &loc.file)?;
    let replacing_link = loc.link.is_some() && opts.symlinks == Symlinks::Replace;
    let mut checks = Vec::with_capacity(2);
    if let Some(link) = loc.link {
        checks.push((path.to_path_buf(), Some(link)));
    }
    checks.push((loc.file.clone(), Some(identity)));
    let disk = Disk {
        target: loc.target,
        checks,
        // A link replaced by a real file leaves a read-only store file
        // behind: the new file must be writable by its owner.
        mode: Some(meta.mode() & 0o777 | if replacing_link { 0o200 } else { 0 }),
        owner: (!replacing_link).then(|| (meta.uid(), meta.gid())),
    };
    Ok(Snapshot {
        path: path.to_path_buf(),
        text,
        exists: true,
        mode: Some(meta.mode() & 0o7777),
        layout,
        disk,
    })
}

/// Reads `path`, asks `edit` for the edits to make on what it read, and
/// commits them atomically; see the module guarantees. `edit` is called
/// again on the fresh content each time the file changed under us.
pub fn update(
    path: &Path,
    opts: &Options,
    mut edit: impl FnMut(&Document<'_>) -> Result<Edits>,
) -> Result<Outcome> {
    for attempt in 0..=opts.retries {
        let snapshot = read(path, opts)?;
        if attempt == 0 && opts.lock_dir {
            // A lock of ours left by a killed run blocks Claude Code's
            // writes too, whether or not this update writes.
            LockDir::remove_orphans(&snapshot.disk.target);
        }
        let doc = snapshot.document()?;
        let mut edits = edit(&doc)?;
        edits.retain(|key, value| !doc.holds(key, value.as_ref()));
        if edits.is_empty() {
            return Ok(Outcome::Unchanged);
        }
        if attempt == 0 {
            // Listed only before writing beside them. Best effort: a
            // leftover we cannot remove harms nobody.
            let _ = remove_stale_temps(&snapshot.disk.target);
        }
        let committed = commit(path, &snapshot.disk, opts, true, |w| {
            doc.render_to(&edits, w)
        })?;
        if committed {
            return Ok(Outcome::Written);
        }
    }
    bail!(
        "{} kept changing while it was being updated ({} attempts): another program \
         (Claude Code?) rewrites it constantly; nothing was written; run again, and if this \
         persists close the Claude Code sessions using it first",
        path.display(),
        opts.retries + 1
    )
}

/// Writes `bytes` to `path` atomically (temp, fsync, rename, fsync dir),
/// refusing to replace a symlink unless `opts.symlinks` is `Replace` (with
/// `Follow`, the link's target is replaced). Takes the lock directory when
/// `opts.lock_dir`; the mode rules are those of [`update`].
pub fn write_atomic(path: &Path, bytes: &[u8], opts: &Options) -> Result<()> {
    let loc = locate(path, opts)?;
    let replacing_link = loc.link.is_some() && opts.symlinks == Symlinks::Replace;
    let disk = Disk {
        mode: loc
            .meta
            .as_ref()
            .map(|m| m.mode() & 0o777 | if replacing_link { 0o200 } else { 0 }),
        owner: loc
            .meta
            .as_ref()
            .filter(|_| !replacing_link)
            .map(|m| (m.uid(), m.gid())),
        target: loc.target,
        checks: Vec::new(),
    };
    commit(path, &disk, opts, false, |w| w.write_all(bytes))?;
    Ok(())
}

/// Removes our temporary files next to `path` left by runs that no longer
/// exist (a SIGKILLed earlier run): `.<name>.tmp.claude-accounts.<pid>.<n>`
/// whose pid is not alive. Never touches anything else (Claude Code's own
/// `.claude.json.tmp.<pid>.<ts>` files included). Returns what it removed.
pub fn remove_stale_temps(path: &Path) -> Result<Vec<PathBuf>> {
    let dir = dir_of(path);
    let prefix = temp_prefix(path)?;
    let listing = |e: io::Error| io_failure("listing (for stale temp files)", dir, &e);
    let entries = fs::read_dir(dir).map_err(listing)?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(listing)?;
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(&prefix))
            .and_then(|rest| rest.split_once('.'))
            .filter(|(_, seq)| !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || pid_alive(pid) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let stale = entry.path();
        match fs::remove_file(&stale) {
            Ok(()) => removed.push(stale),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_failure("removing our stale temp file", &stale, &e)),
        }
    }
    Ok(removed)
}
