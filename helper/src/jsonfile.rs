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
//!   A [`Document`] borrows those spans from the one in-memory copy, so
//!   memory stays near the file's size, and values nobody edits are never
//!   decoded or re-encoded: numbers, escapes and unicode stay exactly as
//!   they were. A large file is read, and its UTF-8 checked, on two threads
//!   (see `scan`).
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
//!   temp file.
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

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions, Permissions};
use std::io::{self, BufWriter, Read, Write};
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::ser::PrettyFormatter;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

mod pick;
mod scan;

pub use pick::{Picked, Wanted};

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
    layout: Layout,
    disk: Disk,
}

/// A JSON object whose top-level values are the file's own bytes.
///
/// Each entry is a decoded key and the exact text of its value, a slice of
/// [`Snapshot::text`]; duplicate keys are kept in file order.
pub struct Document<'a> {
    path: &'a Path,
    text: &'a str,
    entries: Vec<(&'a str, &'a str)>,
    nested: Option<&'a [Vec<scan::Member>]>,
    trailing: &'a str,
}

/// Top-level edits: a key to a new value, or to `None` to remove it.
pub type Edits = BTreeMap<String, Option<Value>>;

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
            Ok(pick::pick(&f, Identity::of(&before), wanted))
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

    /// Whether the file's value for `key` already is `edit` (`None`: the
    /// key is absent); false when that cannot be told.
    fn holds(&self, key: &str, edit: Option<&Value>) -> bool {
        matches!(self.value(key), Ok(current) if current.as_ref() == edit)
    }
}

impl Members for Document<'_> {
    fn value(&self, key: &str) -> Result<Option<Value>> {
        Document::value(self, key)
    }
    fn has(&self, key: &str) -> Result<bool> {
        Ok(self.get(key).is_some())
    }
    fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        Document::member_fields(self, key, member, fields)
    }
}

/// Reads and validates `path`; see the module guarantees. Never writes.
pub fn read(path: &Path, opts: &Options) -> Result<Snapshot> {
    let loc = locate(path, opts)?;
    let Some(meta) = &loc.meta else {
        let text = String::from("{}");
        return Ok(Snapshot {
            path: path.to_path_buf(),
            layout: Layout {
                entries: Vec::new(),
                nested: None,
                trailing: text.len()..text.len(),
            },
            text,
            exists: false,
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
        layout,
        disk,
    })
}

impl Snapshot {
    /// The parsed object, borrowing this snapshot's text. [`read`] already
    /// validated and split the text, so this does not parse again.
    pub fn document(&self) -> Result<Document<'_>> {
        Ok(Document {
            path: &self.path,
            text: &self.text,
            nested: self.layout.nested.as_deref(),
            entries: self
                .layout
                .entries
                .iter()
                .map(|(key, span)| (key.as_str(), &self.text[span.clone()]))
                .collect(),
            trailing: &self.text[self.layout.trailing.clone()],
        })
    }
}

impl<'a> Document<'a> {
    /// The raw value of a top-level key (the last one if the key repeats,
    /// like `JSON.parse`).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        let raw = self.raw(key)?;
        Some(
            serde_json::from_str(raw)
                .expect("every value span was validated as JSON when the file was read"),
        )
    }

    /// The parsed value of a top-level key (the last one if the key repeats).
    pub fn value(&self, key: &str) -> Result<Option<Value>> {
        let Some(raw) = self.raw(key) else {
            return Ok(None);
        };
        serde_json::from_str(raw).map(Some).with_context(|| {
            format!(
                "decoding the value of {key:?} in {}; fix that value by hand and run again",
                self.path.display()
            )
        })
    }

    /// The parsed value of `member` in the object at top-level `key` (the
    /// last occurrence of each, like `JSON.parse`); `None` when the key is
    /// missing or not an object, or the object has no such member.
    ///
    /// Decodes that one member only: the others are skipped as raw text,
    /// which in `.claude.json` `projects` is most of the file and costs more
    /// to decode into [`Value`]s than to read and validate the whole file.
    pub fn member(&self, key: &str, member: &str) -> Result<Option<Value>> {
        let Some(raw) = self.member_raw(key, member)? else {
            return Ok(None);
        };
        serde_json::from_str(raw)
            .map(Some)
            .with_context(|| self.decoding(key))
    }

    /// The `fields` of the object `member` of the object at top-level `key`
    /// (last occurrences win, like `JSON.parse`); `None` when there is no
    /// such object. Decodes those fields only: a project's entry in
    /// `.claude.json` carries the project's whole prompt history, and a
    /// launch needs three flags of it.
    pub fn member_fields(
        &self,
        key: &str,
        member: &str,
        fields: &[String],
    ) -> Result<Option<Map<String, Value>>> {
        let Some(raw) = self.member_raw(key, member)? else {
            return Ok(None);
        };
        if !raw.starts_with('{') {
            return Ok(None);
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        (&mut de)
            .deserialize_map(FieldsOf(fields))
            .map(Some)
            .with_context(|| self.decoding(key))
    }

    /// The raw text of `member` in the object at top-level `key` (see
    /// [`Document::member`]).
    fn member_raw(&self, key: &str, member: &str) -> Result<Option<&'a str>> {
        let Some(i) = self.index(key) else {
            return Ok(None);
        };
        let raw = self.entries[i].1;
        if !raw.starts_with('{') {
            return Ok(None);
        }
        let Some(nested) = self.nested else {
            let mut de = serde_json::Deserializer::from_str(raw);
            return (&mut de)
                .deserialize_map(MemberOf(member))
                .map(|found| found.map(RawValue::get))
                .with_context(|| self.decoding(key));
        };
        // The fast path of `read` found the members' spans already.
        Ok(nested[i]
            .iter()
            .rev()
            .find(|(k, _)| key_is(&self.text[k.clone()], member))
            .map(|(_, value)| &self.text[value.clone()]))
    }

    fn decoding(&self, key: &str) -> String {
        format!(
            "decoding {key:?} in {}; fix that value by hand and run again",
            self.path.display()
        )
    }

    /// The top-level keys in file order (a repeated key appears each time).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.entries.iter().map(|(key, _)| *key)
    }

    /// The document with `edits` applied, in Claude's layout.
    pub fn render(&self, edits: &Edits) -> Vec<u8> {
        let size = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let mut out = Vec::with_capacity(size);
        self.render_to(edits, &mut out)
            .expect("writing into a Vec cannot fail");
        out
    }

    /// Streams the document with `edits` applied, in Claude's layout
    /// (`JSON.stringify(v, null, 2)`), into `w`:
    ///
    /// * entries nobody edits are written as their original bytes, in order;
    /// * an edited key is written once, at its last occurrence, re-encoded
    ///   with 2-space indentation at depth 1; `None` drops it (every
    ///   duplicate of an edited key collapses into that one entry);
    /// * keys the file lacks are appended in `edits` order;
    /// * the text after the closing brace (a trailing newline) is kept.
    pub fn render_to<W: Write>(&self, edits: &Edits, w: &mut W) -> io::Result<()> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, (key, _)) in self.entries.iter().enumerate() {
            if edits.contains_key(*key) {
                last.insert(key, i);
            }
        }
        let mut object = ObjectWriter { w, empty: true };
        for (i, (key, raw)) in self.entries.iter().enumerate() {
            match edits.get(*key) {
                None => object.raw(key, raw)?,
                Some(edit) if last.get(key) == Some(&i) => {
                    if let Some(value) = edit {
                        object.value(key, value)?;
                    }
                }
                Some(_) => {}
            }
        }
        for (key, edit) in edits {
            if let (false, Some(value)) = (last.contains_key(key.as_str()), edit) {
                object.value(key, value)?;
            }
        }
        object.finish()?;
        w.write_all(self.trailing.as_bytes())
    }

    fn raw(&self, key: &str) -> Option<&'a str> {
        self.index(key).map(|i| self.entries[i].1)
    }

    /// The index of the last entry of `key`.
    fn index(&self, key: &str) -> Option<usize> {
        self.entries.iter().rposition(|(k, _)| *k == key)
    }
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
        if attempt == 0 {
            // Best effort: a leftover we cannot remove harms nobody.
            let _ = remove_stale_temps(&snapshot.disk.target);
            if opts.lock_dir {
                LockDir::remove_orphans(&snapshot.disk.target);
            }
        }
        let doc = snapshot.document()?;
        let mut edits = edit(&doc)?;
        edits.retain(|key, value| !doc.holds(key, value.as_ref()));
        if edits.is_empty() {
            return Ok(Outcome::Unchanged);
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
    let entries = fs::read_dir(dir)
        .with_context(|| format!("listing {} for stale temp files", dir.display()))?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
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
            Err(e) => {
                return Err(e).with_context(|| format!("removing stale {}", stale.display()));
            }
        }
    }
    Ok(removed)
}

// ---------------------------------------------------------------- parsing

/// The top level of a valid file: decoded keys with the byte span of each
/// value, and the span of what follows the closing brace.
struct Layout {
    entries: Vec<(String, Range<usize>)>,
    /// Per entry, the members of an object value, when the fast path read
    /// the file (see [`Document::member`]).
    nested: Option<Vec<Vec<scan::Member>>>,
    trailing: Range<usize>,
}

/// Why a file's text is not a JSON object.
#[derive(Debug)]
enum Problem {
    Empty,
    Blank,
    ByteOrderMark,
    NotUtf8 {
        byte: u8,
        line: usize,
        column: usize,
    },
    Truncated {
        line: usize,
        column: usize,
    },
    Syntax(serde_json::Error),
    NotObject(&'static str),
}

/// Deserializes the top-level object as borrowed raw values, in file order.
struct TopLevel<'de>(Vec<(String, &'de RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// Whether the JSON string `raw` (with its quotes) decodes to `name`.
fn key_is(raw: &str, name: &str) -> bool {
    let inner = &raw[1..raw.len() - 1];
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).is_ok_and(|k| k == name)
    } else {
        inner == name
    }
}

/// Finds one member of an object (its last occurrence) as raw text,
/// skipping the others' values undecoded.
struct MemberOf<'m>(&'m str);

impl<'de> Visitor<'de> for MemberOf<'_> {
    type Value = Option<&'de RawValue>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                found = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Decodes the listed members of an object (the last occurrence of each),
/// skipping the others' values undecoded.
struct FieldsOf<'f>(&'f [String]);

impl<'de> Visitor<'de> for FieldsOf<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut found = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.0.contains(&key) {
                let value = map.next_value()?;
                found.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

fn parse_layout(text: &str) -> Result<Layout, Problem> {
    let body = text.trim_start_matches(is_json_space);
    let kind = match body.as_bytes().first() {
        None => return Err(Problem::Blank),
        Some(b'{') => None,
        Some(b'[') => Some("array"),
        Some(b'"') => Some("string"),
        Some(b'n') => Some("null"),
        Some(b't' | b'f') => Some("boolean"),
        Some(b'-' | b'0'..=b'9') => Some("number"),
        Some(_) => Some("value"),
    };
    let syntax = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Eof => Problem::Truncated {
            line: e.line(),
            column: e.column(),
        },
        _ => Problem::Syntax(e),
    };
    if let Some(kind) = kind {
        serde_json::from_str::<IgnoredAny>(text).map_err(syntax)?;
        return Err(Problem::NotObject(kind));
    }
    let TopLevel(raw) = serde_json::from_str(text).map_err(syntax)?;
    let base = text.as_ptr() as usize;
    let entries = raw
        .into_iter()
        .map(|(key, value)| {
            let start = value.get().as_ptr() as usize - base;
            (key, start..start + value.get().len())
        })
        .collect();
    let end = text.trim_end_matches(is_json_space).len();
    Ok(Layout {
        entries,
        nested: None,
        trailing: end..text.len(),
    })
}

/// The bytes as text and its top level, or why they are not a JSON object
/// in UTF-8 (see [`refusal`]).
///
/// Fast path: [`scan::object`] finds the members while [`scan::is_utf8`]
/// checks the encoding on another thread. Whatever the fast path does not
/// accept goes through [`decode`] and [`parse_layout`], which give the same
/// answer for a valid file and the exact problem for any other.
fn validate(bytes: Vec<u8>, shown: &str, file: &Path) -> Result<(String, Layout)> {
    let (utf8, members) = scan::is_utf8(&bytes, || scan::object(&bytes));
    // An empty file or a byte order mark gets `decode`'s own message.
    if utf8 && !bytes.is_empty() && !bytes.starts_with(b"\xEF\xBB\xBF") {
        // SAFETY: `scan::is_utf8` is true only when `bytes` is UTF-8 as
        // `std::str::from_utf8` defines it, unchanged since (borrowed).
        let text = unsafe { String::from_utf8_unchecked(bytes) };
        if let Some(layout) = members.and_then(|m| fast_layout(&text, m)) {
            return Ok((text, layout));
        }
        return match parse_layout(&text) {
            Ok(layout) => Ok((text, layout)),
            Err(problem) => Err(refusal(shown, file, problem)),
        };
    }
    let text = decode(bytes, shown, file)?;
    match parse_layout(&text) {
        Ok(layout) => Ok((text, layout)),
        Err(problem) => Err(refusal(shown, file, problem)),
    }
}

/// The layout from the scanned members: keys decoded by serde_json (`None`
/// when one is not a string serde_json decodes, e.g. a lone surrogate).
fn fast_layout(text: &str, members: scan::Members) -> Option<Layout> {
    let entries = members
        .entries
        .into_iter()
        .map(|(key, value)| Some((serde_json::from_str::<String>(&text[key]).ok()?, value)))
        .collect::<Option<Vec<_>>>()?;
    Some(Layout {
        entries,
        nested: Some(members.nested),
        trailing: members.end..text.len(),
    })
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The bytes as text, or why they are not UTF-8 JSON text.
fn decode(bytes: Vec<u8>, shown: &str, file: &Path) -> Result<String> {
    if bytes.is_empty() {
        return Err(refusal(shown, file, Problem::Empty));
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(refusal(shown, file, Problem::ByteOrderMark));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&bytes[..at]).expect("the prefix is valid UTF-8");
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        let problem = Problem::NotUtf8 {
            byte: bytes[at],
            line: valid.matches('\n').count() + 1,
            column: valid[line_start..].chars().count() + 1,
        };
        refusal(shown, file, problem)
    })
}

/// The error for a file whose content cannot be used, with what to do.
fn refusal(shown: &str, file: &Path, problem: Problem) -> anyhow::Error {
    let fix = broken_file_fix(file);
    let reason = match problem {
        Problem::Empty => "is empty (0 bytes)".to_string(),
        Problem::Blank => "holds only whitespace, no JSON".to_string(),
        Problem::ByteOrderMark => {
            return anyhow!(
                "{shown} starts with a UTF-8 byte order mark, which JSON does not allow (Claude Code \
                 cannot parse it either); remove those first 3 bytes (sed -i '1s/^\\xEF\\xBB\\xBF//' {}) \
                 and run again (the file was left untouched)",
                file.display()
            );
        }
        Problem::NotUtf8 { byte, line, column } => format!(
            "is not UTF-8 text: byte 0x{byte:02x} at line {line}, column {column} is invalid \
             (Claude Code reads and writes UTF-8 only)"
        ),
        Problem::Truncated { line, column } => format!(
            "is truncated: the JSON stops at line {line}, column {column} before it is complete \
             (cut off by a crash or a full disk?)"
        ),
        Problem::Syntax(e) => format!("is not valid JSON: {e}"),
        Problem::NotObject(kind) => {
            format!("holds a JSON {kind}, not an object (`{{...}}`) as Claude Code expects")
        }
    };
    anyhow!("{shown} {reason}; {fix} (the file was left untouched)")
}

/// What to do about a file that does not hold a JSON object.
fn broken_file_fix(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == ".claude.json") {
        let dir = dir_of(file);
        let backups = [dir.join("backups"), dir.join(".claude/backups")]
            .into_iter()
            .find(|b| b.is_dir())
            .unwrap_or_else(|| dir.join("backups"));
        format!(
            "Claude Code itself would move it to {0} and reset it, losing its account, MCP \
             servers and project trust; restore the newest good copy from {0} (ls -t {0}) or fix \
             the JSON by hand, then run again",
            backups.display()
        )
    } else {
        format!(
            "fix the JSON by hand (jq . {} shows where it breaks) or move the file away to start \
             from an empty one, then run again",
            file.display()
        )
    }
}

// ---------------------------------------------------------------- rendering

/// Writes one top-level object in `JSON.stringify(v, null, 2)` layout.
struct ObjectWriter<'w, W: Write> {
    w: &'w mut W,
    empty: bool,
}

impl<W: Write> ObjectWriter<'_, W> {
    fn key(&mut self, key: &str) -> io::Result<()> {
        self.w
            .write_all(if self.empty { b"{\n  " } else { b",\n  " })?;
        self.empty = false;
        serde_json::to_writer(&mut *self.w, key)?;
        self.w.write_all(b": ")
    }

    fn raw(&mut self, key: &str, raw: &str) -> io::Result<()> {
        self.key(key)?;
        self.w.write_all(raw.as_bytes())
    }

    fn value(&mut self, key: &str, value: &Value) -> io::Result<()> {
        self.key(key)?;
        let mut ser = serde_json::Serializer::with_formatter(
            Indented(&mut *self.w),
            PrettyFormatter::with_indent(b"  "),
        );
        value.serialize(&mut ser).map_err(io::Error::from)
    }

    fn finish(self) -> io::Result<()> {
        self.w.write_all(if self.empty { b"{}" } else { b"\n}" })
    }
}

/// Indents pretty-printed JSON by one level (two spaces). Every newline in
/// serde_json's pretty output is structural (JSON strings cannot hold a raw
/// newline), so indenting after each one re-nests the value at depth 1.
struct Indented<W: Write>(W);

impl<W: Write> Write for Indented<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.0.write_all(&rest[..=i])?;
            self.0.write_all(b"  ")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

// ---------------------------------------------------------------- the disk

/// What identifies one version of a file (or its absence, as `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(m: &Metadata) -> Identity {
        Identity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Where a commit goes and what must still hold when it does.
struct Disk {
    /// The path renamed onto (a followed link's target, else the path).
    target: PathBuf,
    /// Paths whose identity (lstat; `None`: absent) must be unchanged.
    checks: Vec<(PathBuf, Option<Identity>)>,
    /// The current file's permission bits; `None` for a new file.
    mode: Option<u32>,
    /// The current file's owner, kept when we run as root.
    owner: Option<(u32, u32)>,
}

impl Disk {
    fn still_current(&self) -> Result<bool> {
        for (path, then) in &self.checks {
            let now = lstat(path)?.as_ref().map(Identity::of);
            if now != *then {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `path` after applying the symlink policy.
struct Located {
    /// The file holding the bytes (a link's target when going through one).
    file: PathBuf,
    /// The path a commit renames onto.
    target: PathBuf,
    /// The identity of the link itself when `path` is a link gone through.
    link: Option<Identity>,
    /// `file`'s metadata; `None` when nothing exists at `path`.
    meta: Option<Metadata>,
}

impl Located {
    /// How to name the file in messages.
    fn shown(&self, path: &Path) -> String {
        if self.file == path {
            path.display().to_string()
        } else {
            format!("{} (a link to {})", path.display(), self.file.display())
        }
    }
}

fn locate(path: &Path, opts: &Options) -> Result<Located> {
    let Some(meta) = lstat(path)? else {
        return Ok(Located {
            file: path.to_path_buf(),
            target: path.to_path_buf(),
            link: None,
            meta: None,
        });
    };
    if !meta.file_type().is_symlink() {
        check_regular(&path.display().to_string(), &meta)?;
        return Ok(Located {
            file: path.to_path_buf(),
            target: path.to_path_buf(),
            link: None,
            meta: Some(meta),
        });
    }
    let dest =
        fs::read_link(path).with_context(|| format!("reading the link {}", path.display()))?;
    let resolved = dir_of(path).join(&dest);
    let dest_meta = lstat(&resolved)?;
    let (p, d) = (path.display(), dest.display());
    if opts.symlinks == Symlinks::Refuse {
        if dest_meta.is_none() {
            bail!(
                "{p} is a dangling symlink to {d}, and links are not written through here; remove \
                 the link (rm {p}) so a real file can be created, then run again (nothing was changed)"
            );
        }
        bail!(
            "{p} is a symlink to {d}, and links are not written through here (Claude Code would \
             replace or write through it); replace it with a real file (cp --remove-destination \
             {} {p}) and run again (nothing was changed)",
            resolved.display()
        );
    }
    let Some(dest_meta) = dest_meta else {
        bail!(
            "{p} is a dangling symlink: its target {d} does not exist; remove the link (rm {p}) or \
             restore its target, then run again (nothing was changed)"
        );
    };
    if dest_meta.file_type().is_symlink() && opts.symlinks == Symlinks::Replace {
        // The link itself is replaced, so its chain is only read: follow it to
        // the end (Home Manager links through its generation's home-files).
        let end = fs::canonicalize(path)
            .with_context(|| format!("resolving the links of {}", path.display()))?;
        let end_meta =
            fs::metadata(&end).with_context(|| format!("inspecting {}", end.display()))?;
        check_regular(&format!("{p} (a link to {})", end.display()), &end_meta)?;
        return Ok(Located {
            target: path.to_path_buf(),
            file: end,
            link: Some(Identity::of(&meta)),
            meta: Some(end_meta),
        });
    }
    if dest_meta.file_type().is_symlink() {
        bail!(
            "{p} links to {}, which is itself a symlink; only one hop is followed (as Claude Code \
             does); point {p} at the file itself and run again (nothing was changed)",
            resolved.display()
        );
    }
    let shown = format!("{p} (a link to {})", resolved.display());
    check_regular(&shown, &dest_meta)?;
    Ok(Located {
        target: match opts.symlinks {
            Symlinks::Follow => resolved.clone(),
            _ => path.to_path_buf(),
        },
        file: resolved,
        link: Some(Identity::of(&meta)),
        meta: Some(dest_meta),
    })
}

fn check_regular(shown: &str, meta: &Metadata) -> Result<()> {
    if meta.is_dir() {
        bail!(
            "{shown} is a directory, not a JSON file; move it away (it is not something Claude Code \
             writes) and run again (nothing was changed)"
        );
    }
    if !meta.is_file() {
        bail!(
            "{shown} is not a regular file (a FIFO, socket or device); replace it with a regular \
             file and run again (nothing was changed)"
        );
    }
    Ok(())
}

/// `lstat`, with `None` for a path that does not exist.
fn lstat(path: &Path) -> Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => bail!(
            "cannot look at {}: permission denied (a directory above it is not searchable by \
             you); fix that directory's mode or owner (namei -l {}) and run again",
            path.display(),
            path.display()
        ),
        Err(e) => Err(e).with_context(|| format!("looking at {}", path.display())),
    }
}

/// Reads a regular file whole, after checking its size; returns its bytes
/// and the identity of the version read.
fn read_regular(file: &Path, shown: &str, max_size: u64) -> Result<(Vec<u8>, Identity)> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let (f, before) = open_regular(file, shown, max_size)?;
        let bytes = read_contents(&f, before.len(), max_size)
            .with_context(|| format!("reading {shown}"))?;
        let after = f
            .metadata()
            .with_context(|| format!("looking at {shown}"))?;
        let identity = Identity::of(&after);
        if identity == Identity::of(&before) && bytes.len() as u64 == after.len() {
            return Ok((bytes, identity));
        }
    }
    bail!(
        "{shown} kept changing while being read ({ATTEMPTS} attempts); something rewrites it in \
         place; run again once it is quiet (the file was left untouched)"
    )
}

/// Opens a regular file for reading, without following a link or blocking
/// on a FIFO, and checks its size; returns it with its metadata.
fn open_regular(file: &Path, shown: &str, max_size: u64) -> Result<(File, Metadata)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EACCES | libc::EPERM) => anyhow!(
                "cannot read {shown}: permission denied; make it readable by you (check its \
                 owner and mode: ls -l {}) and run again (the file was left untouched)",
                file.display()
            ),
            _ => anyhow!(
                "opening {shown}: {e}; it changed while being read? run again (the file was \
                 left untouched)"
            ),
        })?;
    let meta = f
        .metadata()
        .with_context(|| format!("looking at {shown}"))?;
    check_regular(shown, &meta)?;
    if meta.len() > max_size {
        bail!(
            "{shown} is {} bytes, more than the {max_size}-byte limit for this file; check \
             that it is the right file, and shrink it (for .claude.json: remove old `projects` \
             entries) or move it away, then run again (the file was left untouched)",
            meta.len()
        );
    }
    Ok((f, meta))
}

/// Files at least this large are read by two threads: reading a cached file
/// is copying it, and two cores copy about twice as fast as one. Below it,
/// starting a thread costs more than it saves.
const PARALLEL_READ_MIN: u64 = 8 << 20;

/// The piece of a file a thread reads at a time.
const READ_PIECE: usize = 2 << 20;

/// Reads `f` whole: the `expected` bytes its size said, and, for a file that
/// grew meanwhile, more (up to `max_size + 1` in all) so that the caller's
/// size check sees it. A file that shrank gives fewer bytes.
///
/// A large file is read in pieces taken in turn by this thread and one more
/// (when the system gives one), so a helper thread that starts late or is
/// descheduled only leaves more pieces to this one.
fn read_contents(f: &File, expected: u64, max_size: u64) -> io::Result<Vec<u8>> {
    if expected < PARALLEL_READ_MIN {
        let mut bytes = Vec::with_capacity(expected as usize + 1);
        let spare = bytes.spare_capacity_mut();
        prefault(spare.as_mut_ptr().cast(), spare.len());
        f.take(max_size + 1).read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    let len = expected as usize;
    // Zeroed by the allocator (fresh pages from the kernel), not written.
    let mut bytes = vec![0; len];
    prefault(bytes.as_mut_ptr(), len);
    let pieces = Mutex::new(bytes.chunks_mut(READ_PIECE).enumerate());
    // Reads pieces until none is left; false when the file ended early.
    let read_pieces = || -> io::Result<bool> {
        loop {
            let next = pieces.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((k, piece)) = next else {
                return Ok(true);
            };
            if read_at_most(f, piece, k * READ_PIECE)? < piece.len() {
                return Ok(false);
            }
        }
    };
    let (mine, helper) = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new().spawn_scoped(scope, read_pieces);
        let mine = read_pieces();
        let helper = helper
            .ok()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (mine, helper)
    });
    let complete = mine? && helper.transpose()?.unwrap_or(true);
    if !complete {
        bytes.clear(); // shrank: the caller's size check fails
        return Ok(bytes);
    }
    let mut more = [0; 1];
    if f.read_at(&mut more, expected)? > 0 {
        bytes.push(more[0]); // grew: the caller's size check fails
    }
    Ok(bytes)
}

/// Makes the `len` bytes at `start` (a fresh buffer the caller owns, about
/// to be filled) resident in one system call, backed by huge pages where
/// they cover whole 2 MiB-aligned blocks.
///
/// Why: filling a fresh buffer otherwise takes one page fault per 4 KiB
/// page, and in a virtual machine a fault costs microseconds: for a 50 MB
/// `.claude.json` that was 13,000 faults and most of the read's system time
/// (`perf stat`), and prefaulting the 1 MB account file's buffer took a
/// quarter of a millisecond off a launch (A/B over 200 launches).
/// Transparent huge pages are usually in `madvise` mode, hence the advice.
/// Only advice: the contents are unchanged (zero), and a kernel without
/// `MADV_POPULATE_WRITE` (before Linux 5.14) or huge pages changes nothing
/// but the speed.
#[cfg(target_os = "linux")]
fn prefault(start: *mut u8, len: usize) {
    /// Buffers smaller than this are left to fault in page by page.
    const PREFAULT_MIN: usize = 64 << 10;
    const PAGE: usize = 4 << 10;
    const HUGE: usize = 2 << 20;
    if len < PREFAULT_MIN {
        return;
    }
    let start = start as usize;
    let advise = |align: usize, advice: libc::c_int| {
        let from = start.next_multiple_of(align);
        let to = (start + len) / align * align;
        if to > from {
            // SAFETY: the range lies inside the caller's buffer; neither
            // MADV_HUGEPAGE nor MADV_POPULATE_WRITE changes what memory
            // holds, only how and when it is backed. Errors (an old kernel,
            // no THP) are only lost speed.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, advice);
            }
        }
    };
    advise(HUGE, libc::MADV_HUGEPAGE);
    advise(PAGE, libc::MADV_POPULATE_WRITE);
}

#[cfg(not(target_os = "linux"))]
fn prefault(_start: *mut u8, _len: usize) {}

/// Fills `buf` from `offset` on, stopping early only at the end of the file;
/// returns how much was read.
fn read_at_most(f: &File, buf: &mut [u8], offset: usize) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], (offset + done) as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Writes a new version of `disk.target` through a temp file. With `verify`,
/// gives up (returns false, nothing written) when `disk.checks` no longer
/// hold under the lock.
fn commit(
    path: &Path,
    disk: &Disk,
    opts: &Options,
    verify: bool,
    body: impl FnOnce(&mut BufWriter<WriteBack<'_>>) -> io::Result<()>,
) -> Result<bool> {
    let target = &disk.target;
    let dir = dir_of(target);
    let mut tmp = TempFile::create(path, target)?;
    let fail = |step: Step, e: io::Error| write_failure(&e, step, path, dir);
    let mut out = BufWriter::with_capacity(1 << 18, WriteBack::new(&tmp.file));
    body(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    drop(out);
    let mode = match disk.mode {
        None => 0o600,
        Some(mode) if opts.private => mode & 0o700,
        Some(mode) => mode,
    };
    tmp.file
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    if let Some((uid, gid)) = disk.owner
        && nix::unistd::geteuid().is_root()
        && (uid, gid) != (0, 0)
    {
        std::os::unix::fs::fchown(&tmp.file, Some(uid), Some(gid))
            .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    }
    if opts.durable {
        tmp.file
            .sync_all()
            .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    }
    let lock = match opts.lock_dir {
        true => Some(LockDir::acquire(path, target, opts.lock_timeout)?),
        false => None,
    };
    if verify && !disk.still_current()? {
        return Ok(false);
    }
    fs::rename(&tmp.path, target).map_err(|e| fail(Step::Rename, e))?;
    tmp.renamed = true;
    drop(lock);
    if !opts.durable {
        return Ok(true);
    }
    sync_dir(dir).with_context(|| {
        format!(
            "{} was replaced, but flushing its directory {} to disk failed; the new content may be \
             lost if the machine crashes now",
            path.display(),
            dir.display()
        )
    })?;
    Ok(true)
}

/// Writes to a file and, every [`WriteBack::EVERY`] bytes, asks the kernel
/// to start writing what was written so far to disk (Linux
/// `sync_file_range`), so that the fsync after the last byte has little
/// left to wait for: the disk works while the rest is still being copied.
/// Only a hint; durability comes from that fsync.
struct WriteBack<'f> {
    file: &'f File,
    written: u64,
    started: u64,
}

impl<'f> WriteBack<'f> {
    const EVERY: u64 = 4 << 20;

    fn new(file: &'f File) -> WriteBack<'f> {
        WriteBack {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl Write for WriteBack<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = (self.started + Self::EVERY - self.written) as usize;
        let n = (&*self.file).write(&buf[..buf.len().min(room)])?;
        self.written += n as u64;
        if self.written - self.started >= Self::EVERY {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads its integer arguments, and the
    // descriptor stays open for the call. Errors are left to the fsync.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        )
    };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()), // not supported here
        other => other,
    }
}

/// `path`'s directory (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn temp_prefix(target: &Path) -> Result<String> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} has no usable file name", target.display()))?;
    Ok(format!(".{name}{TEMP_MARK}"))
}

fn pid_alive(pid: i32) -> bool {
    use nix::errno::Errno;
    pid == std::process::id() as i32
        || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) != Err(Errno::ESRCH)
}

/// A temporary file of ours next to the target; removed when dropped unless
/// it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: File,
    renamed: bool,
}

impl TempFile {
    fn create(path: &Path, target: &Path) -> Result<TempFile> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = dir_of(target);
        let prefix = temp_prefix(target)?;
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!("{prefix}{}.{n}", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path: tmp,
                        file,
                        renamed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_failure(&e, Step::Create, path, dir)),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Claude Code's lock: the directory `<target>.lock`, held while it exists.
///
/// The helper's lock dir holds one file, `claude-accounts.<pid>`, so that a
/// helper killed while holding the lock (SIGKILL) does not block the next run
/// for the 10 s Claude Code waits before calling a lock stale: a lock whose
/// marker names a dead pid is taken over at once. On Linux the lock is built
/// under a private name with its marker inside and moved into place with
/// `renameat2(RENAME_NOREPLACE)`, so a lock of ours without its marker never
/// exists, and an existing lock (Claude's empty directory) is never replaced.
/// Claude Code's own locks carry no marker and are only taken over when stale.
struct LockDir {
    path: PathBuf,
    marker: PathBuf,
}

/// The marker of a lock held by the helper with this pid.
const MARKER_PREFIX: &str = "claude-accounts.";

impl LockDir {
    /// `<target>.lock`.
    fn path(target: &Path) -> PathBuf {
        let mut lock = target.as_os_str().to_owned();
        lock.push(".lock");
        PathBuf::from(lock)
    }

    /// Whether `lock` is a lock of a helper that died holding it.
    fn orphaned(lock: &Path) -> bool {
        let Ok(entries) = fs::read_dir(lock) else {
            return false;
        };
        let names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
        match names.as_slice() {
            [name] => name
                .to_str()
                .and_then(|n| n.strip_prefix(MARKER_PREFIX))
                .and_then(|pid| pid.parse::<i32>().ok())
                .is_some_and(|pid| pid > 0 && !pid_alive(pid)),
            _ => false,
        }
    }

    /// Takes `lock` (stale or orphaned) out of the way in one atomic step, by
    /// renaming it to a private name, then removes it: a crash halfway never
    /// leaves a lock without its marker.
    fn break_lock(lock: &Path) -> io::Result<()> {
        let mut private = lock.as_os_str().to_owned();
        private.push(format!(".{MARKER_PREFIX}{}.broken", std::process::id()));
        let private = PathBuf::from(private);
        fs::rename(lock, &private)?;
        LockDir::remove(&private)
    }

    /// Removes a lock dir with whatever marker is inside it.
    fn remove(lock: &Path) -> io::Result<()> {
        if let Ok(entries) = fs::read_dir(lock) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(MARKER_PREFIX))
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        fs::remove_dir(lock)
    }

    /// Best effort, before a run: removes the lock of a helper that died
    /// holding it, and lock dirs a dead helper was still building, so that
    /// Claude Code need not wait for them to go stale.
    fn remove_orphans(target: &Path) {
        let lock = LockDir::path(target);
        if LockDir::orphaned(&lock) {
            let _ = LockDir::break_lock(&lock);
        }
        let prefix = format!(
            "{}.{MARKER_PREFIX}",
            lock.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        );
        let Ok(entries) = fs::read_dir(dir_of(target)) else {
            return;
        };
        for entry in entries.flatten() {
            let dead = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|rest| rest.split('.').next())
                .and_then(|pid| pid.parse::<i32>().ok())
                .is_some_and(|pid| pid > 0 && !pid_alive(pid));
            if dead {
                let _ = LockDir::remove(&entry.path());
            }
        }
    }

    /// Creates the lock dir with our marker inside: atomically where the
    /// system allows it. `Err(AlreadyExists)` when someone holds the lock.
    fn create(lock: &Path) -> io::Result<PathBuf> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let pid = std::process::id();
        let marker_name = format!("{MARKER_PREFIX}{pid}");
        #[cfg(target_os = "linux")]
        {
            let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut building = lock.as_os_str().to_owned();
            building.push(format!(".{MARKER_PREFIX}{pid}.{seq}"));
            let building = PathBuf::from(building);
            fs::create_dir(&building)?;
            let placed = File::create(building.join(&marker_name)).and_then(|_| {
                nix::fcntl::renameat2(
                    nix::fcntl::AT_FDCWD,
                    &building,
                    nix::fcntl::AT_FDCWD,
                    lock,
                    nix::fcntl::RenameFlags::RENAME_NOREPLACE,
                )
                .map_err(io::Error::from)
            });
            match placed {
                Ok(()) => Ok(lock.join(marker_name)),
                Err(e) => {
                    let _ = LockDir::remove(&building);
                    // Filesystems without RENAME_NOREPLACE: plain mkdir.
                    if e.raw_os_error() == Some(libc::EINVAL) {
                        return LockDir::create_plain(lock, &marker_name);
                    }
                    Err(e)
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = &SEQ;
            LockDir::create_plain(lock, &marker_name)
        }
    }

    /// mkdir, then the marker (a helper killed in between leaves a plain lock
    /// that goes stale after 10 s).
    fn create_plain(lock: &Path, marker_name: &str) -> io::Result<PathBuf> {
        fs::create_dir(lock)?;
        let marker = lock.join(marker_name);
        let _ = File::create(&marker);
        Ok(marker)
    }

    /// Takes the lock, taking over a stale one (older than
    /// [`LOCK_STALE_AFTER`]) or one a dead helper held; waits up to `timeout`
    /// for a fresh one.
    fn acquire(path: &Path, target: &Path, timeout: Duration) -> Result<LockDir> {
        let lock = LockDir::path(target);
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let err = match LockDir::create(&lock) {
                Ok(marker) => return Ok(LockDir { path: lock, marker }),
                Err(e) => e,
            };
            if err.kind() != io::ErrorKind::AlreadyExists {
                return Err(write_failure(&err, Step::Lock(&lock), path, dir_of(target)));
            }
            match lstat(&lock)? {
                None => continue, // released meanwhile
                Some(meta) if is_stale(&meta) || LockDir::orphaned(&lock) => {
                    match LockDir::break_lock(&lock) {
                        Ok(()) => continue,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => bail!(
                            "{} is a stale lock (older than {} s) but removing it failed: {e}; \
                             remove it by hand (rm -r {}) and run again; {} is unchanged",
                            lock.display(),
                            LOCK_STALE_AFTER.as_secs(),
                            lock.display(),
                            path.display()
                        ),
                    }
                }
                Some(_) => {}
            }
            if start.elapsed() >= timeout {
                bail!(
                    "timed out after {:.1} s waiting for {}, the lock Claude Code holds while it \
                     writes {}; nothing was written; run again, or if no Claude Code session is \
                     running, remove the leftover lock (rm -r {}) and run again",
                    timeout.as_secs_f64(),
                    lock.display(),
                    target.display(),
                    lock.display()
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(16));
        }
    }
}

impl Drop for LockDir {
    /// Releases by renaming the lock dir to a private name first: the release
    /// is one atomic step, and a crash while cleaning up leaves only a private
    /// directory that the next run removes.
    fn drop(&mut self) {
        let mut released = self.path.as_os_str().to_owned();
        released.push(format!(".{MARKER_PREFIX}{}.released", std::process::id()));
        let released = PathBuf::from(released);
        if fs::rename(&self.path, &released).is_ok() {
            let _ = LockDir::remove(&released);
        } else {
            let _ = fs::remove_file(&self.marker);
            let _ = fs::remove_dir(&self.path);
        }
    }
}

fn is_stale(meta: &Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age > LOCK_STALE_AFTER)
}

/// The step of a commit that failed.
#[derive(Debug, Clone, Copy)]
enum Step<'p> {
    Create,
    Write(&'p Path),
    Lock(&'p Path),
    Rename,
}

/// The error for a failed commit step: the reason and what to do for the
/// errno values a user can act on, always saying that `path` is unchanged.
/// `dir` is the directory the temp file and the lock live in.
fn write_failure(err: &io::Error, step: Step, path: &Path, dir: &Path) -> anyhow::Error {
    let (p, d) = (path.display(), dir.display());
    let doing = match step {
        Step::Create => format!("creating a temporary file in {d}"),
        Step::Write(tmp) => format!("writing {}", tmp.display()),
        Step::Lock(lock) => format!("creating the lock {}", lock.display()),
        Step::Rename => format!("replacing {p}"),
    };
    let unchanged = format!("{p} is unchanged");
    let message = match err.raw_os_error() {
        Some(libc::ENOSPC) => format!(
            "{doing}: the disk is full (no space left on the file system holding {d}); free space \
             and run again; {unchanged}"
        ),
        Some(libc::EDQUOT) => format!(
            "{doing}: the disk is full for you (your disk quota on the file system holding {d} is \
             used up); free space and run again; {unchanged}"
        ),
        Some(libc::EFBIG) => format!(
            "{doing}: the disk is full or the file too large (the file size limit, ulimit -f, \
             was reached); raise the limit or free space and run again; {unchanged}"
        ),
        Some(libc::EROFS) => format!(
            "cannot create a file in {d}: the file system is read-only (the Nix store?); make \
             {d} writable and run again; {unchanged}"
        ),
        Some(libc::EACCES | libc::EPERM) => format!(
            "cannot create a file in {d}: permission denied; make {d} writable by you (check its \
             owner and mode: ls -ld {d}) and run again; {unchanged}"
        ),
        Some(libc::ENOENT) if matches!(step, Step::Create) => format!(
            "cannot create a file in {d}: the directory does not exist; create it and run again; \
             {unchanged}"
        ),
        Some(libc::EIO) => format!(
            "{doing}: input/output error; the disk may be failing (see dmesg); check it and run \
             again; {unchanged}"
        ),
        Some(libc::EBUSY | libc::EXDEV) => format!(
            "{doing}: {p} cannot be replaced by a rename (is it a mount point?); make it a plain \
             file and run again; {unchanged}"
        ),
        _ => format!("{doing}: {err}; fix that and run again; {unchanged}"),
    };
    anyhow!(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    fn layout_of(text: &str) -> Snapshot {
        let layout = parse_layout(text).expect("valid test JSON");
        Snapshot {
            path: PathBuf::from("/test/file.json"),
            text: text.to_string(),
            exists: true,
            layout,
            disk: Disk {
                target: PathBuf::from("/test/file.json"),
                checks: Vec::new(),
                mode: None,
                owner: None,
            },
        }
    }

    fn render(text: &str, edits: &[(&str, Option<Value>)]) -> String {
        let snapshot = layout_of(text);
        let edits: Edits = edits
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        String::from_utf8(snapshot.document().unwrap().render(&edits)).unwrap()
    }

    #[test]
    fn renders_claude_layout_keeping_unedited_bytes() {
        let text = "{\n  \"a\": 1.0,\n  \"b\": {\n    \"x\": \"\\u00e9\\/\"\n  },\n  \"c\": []\n}";
        assert_eq!(render(text, &[]), text);
        assert_eq!(
            render(text, &[("b", Some(json!({"y": [1, {"z": null}]})))]),
            "{\n  \"a\": 1.0,\n  \"b\": {\n    \"y\": [\n      1,\n      {\n        \"z\": null\n      }\n    ]\n  },\n  \"c\": []\n}"
        );
        assert_eq!(
            render(text, &[("a", None), ("new", Some(json!("v\nw")))]),
            "{\n  \"b\": {\n    \"x\": \"\\u00e9\\/\"\n  },\n  \"c\": [],\n  \"new\": \"v\\nw\"\n}"
        );
    }

    #[test]
    fn renders_empty_objects_and_keeps_trailing_text() {
        assert_eq!(render("{}", &[]), "{}");
        assert_eq!(render("{}\n", &[]), "{}\n");
        assert_eq!(render("{\"a\":1}\n", &[("a", None)]), "{}\n");
        assert_eq!(
            render("{\"a\":1}", &[("b", Some(json!({})))]),
            "{\n  \"a\": 1,\n  \"b\": {}\n}"
        );
    }

    /// Large files take the fast path (two threads); its answers must be
    /// the slow path's: the same layout, or the same error.
    #[test]
    fn large_files_validate_like_serde_json() {
        let entry = json!({"display": "fix \"it\"\n\t\u{e9}\u{1F600}", "n": [1.5, -2, 1e21]});
        let mut projects = Map::new();
        for i in 0..3000 {
            projects.insert(format!("/p/{i}/\u{e9}"), entry.clone());
        }
        let text = serde_json::to_string_pretty(&json!({"a": 1, "projects": projects, "z": null}))
            .unwrap();
        assert!(text.len() > 2 * 128 * 1024, "exercises the parallel check");
        let file = Path::new("/test/.claude.json");
        let fast = |bytes: Vec<u8>| validate(bytes, "f", file).map_err(|e| e.to_string());
        let slow = |bytes: Vec<u8>| {
            let text = decode(bytes, "f", file).map_err(|e| e.to_string())?;
            parse_layout(&text)
                .map(|layout| (text, layout))
                .map_err(|p| refusal("f", file, p).to_string())
        };
        let spans = |r: Result<(String, Layout), String>| r.map(|(_, l)| (l.entries, l.trailing));

        let valid = text.clone().into_bytes();
        assert_eq!(spans(fast(valid.clone())), spans(slow(valid)));
        let mut damaged = Vec::new();
        for at in [10, text.len() / 2, text.len() - 2] {
            let mut not_utf8 = text.clone().into_bytes();
            not_utf8[at] = 0xff;
            damaged.push(not_utf8);
            let mut control = text.clone().into_bytes();
            control[at] = 0x01;
            damaged.push(control);
        }
        let mut cut = text.clone().into_bytes();
        cut.truncate(text.len() - 1);
        damaged.push(cut);
        damaged.push(text.replace("\"z\": null", "\"z\": null,").into_bytes());
        for bytes in damaged {
            let expected = slow(bytes.clone());
            assert!(expected.is_err());
            assert_eq!(spans(fast(bytes)), spans(expected));
        }
    }

    #[test]
    fn large_files_are_read_whole_and_size_changes_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let content: Vec<u8> = (0..PARALLEL_READ_MIN + 3 * READ_PIECE as u64 / 2 + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&path, &content).unwrap();
        let f = File::open(&path).unwrap();
        let len = content.len() as u64;
        assert!(read_contents(&f, len, u64::MAX).unwrap() == content);
        // The size said less than there is (it grew): one byte more shows it.
        let grew = read_contents(&f, len - 10, u64::MAX).unwrap();
        assert_eq!(grew.len() as u64, len - 9);
        assert!(grew[..] == content[..grew.len()]);
        // The size said more than there is (it shrank): fewer bytes.
        assert!((read_contents(&f, len + 10, u64::MAX).unwrap().len() as u64) < len);

        let text = format!(
            "{{\"k\": \"{}\"}}\n",
            "é".repeat(PARALLEL_READ_MIN as usize / 2)
        );
        fs::write(&path, &text).unwrap();
        let snapshot = read(&path, &Options::settings_json()).unwrap();
        assert!(snapshot.text == text);
        assert_eq!(
            snapshot.document().unwrap().keys().collect::<Vec<_>>(),
            ["k"]
        );
    }

    #[test]
    fn write_back_writes_everything_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = File::create(&path).unwrap();
        let content: Vec<u8> = (0..2 * WriteBack::EVERY + 12_345)
            .map(|i| (i % 253) as u8)
            .collect();
        let mut w = BufWriter::with_capacity(1 << 18, WriteBack::new(&file));
        let (head, rest) = content.split_at(1000);
        w.write_all(head).unwrap(); // buffered
        w.write_all(rest).unwrap(); // larger than the buffer: in pieces
        w.flush().unwrap();
        drop(w);
        assert!(fs::read(&path).unwrap() == content);
    }

    /// A snapshot read by the fast path (`validate`), with nested spans.
    fn fast_layout_of(text: &str) -> Snapshot {
        let (text, layout) =
            validate(text.as_bytes().to_vec(), "f", Path::new("/test/file.json")).unwrap();
        assert!(layout.nested.is_some(), "the fast path read {text:?}");
        Snapshot {
            layout,
            text,
            ..layout_of("{}")
        }
    }

    #[test]
    fn member_decodes_one_member_of_an_object_value() {
        let text = r#"{"p": {"/a": {"t": true}, "/b": [1, {"x": "\u00e9"}], "/\u0061": {"t": 1.5}}, "n": 3, "s": "{}"}"#;
        let deep = format!(
            r#"{{"p": {{"deep": {}{}, "/a": 1}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        for read in [layout_of, fast_layout_of] {
            let snapshot = read(text);
            let doc = snapshot.document().unwrap();
            assert_eq!(doc.member("p", "/a").unwrap(), Some(json!({"t": 1.5})));
            assert_eq!(doc.member("p", "/b").unwrap(), Some(json!([1, {"x": "é"}])));
            assert_eq!(doc.member("p", "/c").unwrap(), None);
            assert_eq!(doc.member("n", "/a").unwrap(), None);
            assert_eq!(doc.member("s", "/a").unwrap(), None);
            assert_eq!(doc.member("missing", "/a").unwrap(), None);

            let snapshot = read(&deep);
            let doc = snapshot.document().unwrap();
            assert_eq!(doc.member("p", "/a").unwrap(), Some(json!(1)));
            assert!(doc.member("p", "deep").is_err());
        }
    }

    #[test]
    fn member_fields_decodes_only_the_listed_fields() {
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let text = format!(
            r#"{{"projects": {{"/a": {{"history": [{}], "trust": true, "mcp": {{"s": 1}}, "trust": false}},
               "/b": [1], "/\u0061": {{"trust": "last", "x": "\u00e9"}}}}, "n": 3}}"#,
            r#"{"display": "a \"quoted\" {not json} [x]"}, "#.repeat(50) + "1"
        );
        for read in [layout_of, fast_layout_of] {
            let snapshot = read(&text);
            let doc = snapshot.document().unwrap();
            assert_eq!(
                doc.member_fields("projects", "/a", &fields(&["trust", "x", "absent"]))
                    .unwrap(),
                Some(serde_json::from_value(json!({"trust": "last", "x": "é"})).unwrap()),
                "the last /a (written with an escape) wins"
            );
            let snapshot = read(&text.replace(r#""/\u0061""#, r#""/c""#));
            let doc = snapshot.document().unwrap();
            assert_eq!(
                doc.member_fields("projects", "/a", &fields(&["trust", "mcp"]))
                    .unwrap(),
                Some(serde_json::from_value(json!({"trust": false, "mcp": {"s": 1}})).unwrap()),
                "the last trust of /a wins, history is skipped"
            );
            assert_eq!(
                doc.member_fields("projects", "/b", &fields(&["0"]))
                    .unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("projects", "/z", &fields(&["trust"]))
                    .unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("n", "/a", &fields(&["trust"])).unwrap(),
                None
            );
            assert_eq!(
                doc.member_fields("missing", "/a", &fields(&["trust"]))
                    .unwrap(),
                None
            );
        }
    }

    #[test]
    fn duplicate_keys_read_last_and_collapse_when_edited() {
        let text = "{\"k\": 1, \"a\": 2, \"k\": 3, \"b\": 4}";
        let snapshot = layout_of(text);
        let doc = snapshot.document().unwrap();
        assert_eq!(doc.get("k").map(|r| r.get()), Some("3"));
        assert_eq!(doc.value("k").unwrap(), Some(json!(3)));
        assert_eq!(doc.keys().collect::<Vec<_>>(), ["k", "a", "k", "b"]);
        assert_eq!(
            render(text, &[]),
            "{\n  \"k\": 1,\n  \"a\": 2,\n  \"k\": 3,\n  \"b\": 4\n}"
        );
        assert_eq!(
            render(text, &[("k", Some(json!(5)))]),
            "{\n  \"a\": 2,\n  \"k\": 5,\n  \"b\": 4\n}"
        );
        assert_eq!(
            render(text, &[("k", None)]),
            "{\n  \"a\": 2,\n  \"b\": 4\n}"
        );
    }

    #[test]
    fn keys_are_reencoded_and_values_kept_raw() {
        let text = "{\"\\u0061\\n\": 123456789012345678901234567890, \"\\ud83d\\ude00\": -0.0}";
        assert_eq!(
            render(text, &[]),
            "{\n  \"a\\n\": 123456789012345678901234567890,\n  \"\u{1F600}\": -0.0\n}"
        );
    }

    #[test]
    fn classifies_bad_text() {
        let problem = |text: &str| parse_layout(text).err().map(|p| format!("{p:?}"));
        assert_eq!(problem("  \n"), Some("Blank".into()));
        assert_eq!(problem("[]"), Some("NotObject(\"array\")".into()));
        assert_eq!(problem("null"), Some("NotObject(\"null\")".into()));
        assert_eq!(problem("3"), Some("NotObject(\"number\")".into()));
        assert_eq!(
            problem("{\"a\":"),
            Some("Truncated { line: 1, column: 5 }".into())
        );
        assert!(problem("{\"a\" 1}").unwrap().starts_with("Syntax("));
        assert!(problem("{} {}").unwrap().starts_with("Syntax("));
        assert!(problem("nul").unwrap().starts_with("Truncated"));
        assert_eq!(problem("{\"a\": 1}"), None);
    }

    #[test]
    fn indents_every_structural_newline() {
        let mut out = Vec::new();
        Indented(&mut out).write_all(b"[\n  1\n]").unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[\n    1\n  ]");
    }

    #[test]
    fn write_failures_say_why_what_to_do_and_that_the_file_is_unchanged() {
        let path = Path::new("/home/u/.claude.json");
        let dir = Path::new("/home/u");
        let tmp = Path::new("/home/u/..claude.json.tmp.claude-accounts.1.0");
        let cases: [(i32, Step, &str); 9] = [
            (
                libc::ENOSPC,
                Step::Write(tmp),
                "the disk is full (no space left",
            ),
            (libc::EDQUOT, Step::Write(tmp), "disk quota"),
            (libc::EFBIG, Step::Write(tmp), "ulimit -f"),
            (
                libc::EROFS,
                Step::Create,
                "cannot create a file in /home/u: the file system is read-only",
            ),
            (
                libc::EACCES,
                Step::Create,
                "cannot create a file in /home/u: permission denied",
            ),
            (
                libc::EPERM,
                Step::Rename,
                "cannot create a file in /home/u: permission denied",
            ),
            (libc::ENOENT, Step::Create, "the directory does not exist"),
            (libc::EIO, Step::Write(tmp), "input/output error"),
            (
                libc::EXDEV,
                Step::Rename,
                "replacing /home/u/.claude.json: /home/u/.claude.json cannot be replaced by a rename",
            ),
        ];
        for (errno, step, reason) in cases {
            let message =
                write_failure(&io::Error::from_raw_os_error(errno), step, path, dir).to_string();
            assert!(message.contains(reason), "errno {errno}: {message}");
            assert!(
                message.ends_with("/home/u/.claude.json is unchanged"),
                "errno {errno}: {message}"
            );
            assert!(message.contains("run again"), "errno {errno}: {message}");
        }
        let other = write_failure(
            &io::Error::from_raw_os_error(libc::ENAMETOOLONG),
            Step::Lock(Path::new("/home/u/.claude.json.lock")),
            path,
            dir,
        )
        .to_string();
        assert!(
            other.starts_with("creating the lock /home/u/.claude.json.lock: File name too long"),
            "{other}"
        );
        assert!(other.ends_with("is unchanged"), "{other}");
    }

    /// Random JSON values with the characters that need escaping.
    pub(super) fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            "[a-z\u{e9}\u{1F600}\"\\\\/\n\t\u{1}]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Rendering equals pretty-printing the edited object (serde_json's
        /// 2-space pretty output is JSON.stringify's layout for these values).
        #[test]
        fn render_matches_pretty_printing_the_edited_object(
            entries in prop::collection::vec(("[a-e]", value_strategy()), 0..6),
            edits in prop::collection::btree_map("[a-g]", prop::option::of(value_strategy()), 0..4),
            newline in any::<bool>(),
        ) {
            let original: Map<String, Value> = entries.into_iter().collect();
            let nl = if newline { "\n" } else { "" };
            let text = serde_json::to_string_pretty(&original).unwrap() + nl;
            let snapshot = layout_of(&text);
            let doc = snapshot.document().unwrap();
            prop_assert_eq!(String::from_utf8(doc.render(&Edits::new())).unwrap(), text.clone());

            let mut expected = original.clone();
            for (key, edit) in &edits {
                match edit {
                    Some(value) => { expected.insert(key.clone(), value.clone()); }
                    None => { expected.shift_remove(key); }
                }
            }
            let rendered = String::from_utf8(doc.render(&edits)).unwrap();
            prop_assert_eq!(rendered, serde_json::to_string_pretty(&expected).unwrap() + nl);
        }
    }
}
