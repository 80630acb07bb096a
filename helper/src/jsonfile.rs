//! Safe reading and writing of the JSON files Claude Code also writes.
//!
//! CONTRACT (implementation pending):
//!
//! * [`read`] refuses (error naming the path, the reason and what to do) an
//!   empty, truncated, unparsable (line/column given), non-object or non-UTF-8
//!   file, one over [`Options::max_size`], a directory, a dangling symlink, an
//!   unreadable file, and a symlink unless [`Symlinks::Follow`]. A missing file
//!   reads as an empty object that does not exist yet.
//! * [`Document`] keeps every top-level value as the exact bytes of the file
//!   (`RawValue`, borrowed from one in-memory copy): unowned values are carried
//!   through without re-encoding, numbers, escapes and unicode exactly as they
//!   were.
//! * [`Document::render`] writes the object in Claude's layout
//!   (`JSON.stringify(v, null, 2)`): unchanged entries byte for byte and in
//!   order, edited entries re-encoded in place at their nesting, new entries
//!   appended, removed entries dropped; the original trailing newline (or its
//!   absence) is kept.
//! * [`update`] is atomic: temp file in the same directory, fsync, rename, fsync
//!   of the directory; the file is always either the old or the new content.
//!   It takes Claude Code's own `<file>.lock` directory lock (mkdir; stale after
//!   10 s) around the final check-and-rename when [`Options::lock_dir`] is set,
//!   re-checks that the file did not change between read and rename (identity:
//!   dev, inode, size, mtime, ctime) and if it did, starts again from a fresh
//!   read (up to [`Options::retries`] times, then gives up without writing).
//!   Nothing is written when the edits change nothing. Mode: kept, but never
//!   looser than 0600 when [`Options::private`]; new files 0600.
//!   Never follows or replaces a symlink unless asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;
use serde_json::value::RawValue;

/// Larger files are refused (real `.claude.json` files reach tens of MB).
pub const DEFAULT_MAX_SIZE: u64 = 512 * 1024 * 1024;

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
            lock_timeout: Duration::from_secs(3),
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
}

/// A file as read: its bytes and what identifies this version of it.
pub struct Snapshot {
    pub path: PathBuf,
    /// The file's text (`{}` when it does not exist).
    pub text: String,
    /// False when the file did not exist.
    pub exists: bool,
}

/// A JSON object whose top-level values are the file's own bytes.
pub struct Document<'a> {
    _entries: Vec<(String, &'a RawValue)>,
}

/// Top-level edits: a key to a new value, or to `None` to remove it.
pub type Edits = BTreeMap<String, Option<Value>>;

/// What [`update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Written,
}

pub fn read(_path: &Path, _opts: &Options) -> Result<Snapshot> {
    todo!()
}

impl Snapshot {
    pub fn document(&self) -> Result<Document<'_>> {
        todo!()
    }
}

impl<'a> Document<'a> {
    /// The raw value of a top-level key (the last one if the key repeats).
    pub fn get(&self, _key: &str) -> Option<&'a RawValue> {
        todo!()
    }
    /// The parsed value of a top-level key.
    pub fn value(&self, _key: &str) -> Result<Option<Value>> {
        todo!()
    }
    /// The document with `edits` applied, in Claude's layout.
    pub fn render(&self, _edits: &Edits) -> Vec<u8> {
        todo!()
    }
}

/// Reads `path`, asks `edit` for the edits to make on what it read, and
/// commits them atomically; see the module contract.
pub fn update(
    _path: &Path,
    _opts: &Options,
    _edit: impl FnMut(&Document<'_>) -> Result<Edits>,
) -> Result<Outcome> {
    todo!()
}

/// Writes `bytes` to `path` atomically (temp, fsync, rename, fsync dir),
/// refusing to replace a symlink unless `opts.symlinks` is `Replace`.
pub fn write_atomic(_path: &Path, _bytes: &[u8], _opts: &Options) -> Result<()> {
    todo!()
}
