//! One managed JSON file: the manifest's declared keys three-way applied onto
//! the live file, with the last-applied record kept beside it.
//!
//! Guarantees: the file is only ever replaced atomically (see [`jsonfile`]);
//! top-level values Nix neither declares nor declared are carried through byte
//! for byte; nothing is written when nothing changes; the record is written
//! only after the file, so a crash in between is repaired by the next run
//! (apply is idempotent). Modes hold at every apply, even when nothing
//! else changes: the file and its record never looser than 0600, the
//! helper's state dirs beside them never looser than 0700 (see
//! [`crate::modes`]); each repair is in the report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use crate::apply::{self, Policy, Report};
use crate::jsonfile::{self, Edits, Members, Outcome, Symlinks, Wanted};
use crate::modes::{self, ModeFix};

/// Directory, inside a config dir, that holds the helper's own state.
pub use crate::lock::STATE_DIR;

/// A managed file and how it is handled.
#[derive(Debug, Clone)]
pub struct ManagedFile {
    /// The live file, e.g. `~/.claude-max/settings.json`.
    pub path: PathBuf,
    /// The last-applied record, `<dir>/.claude-accounts/last-applied/<name>`.
    pub record: PathBuf,
    pub opts: jsonfile::Options,
    pub policy: Policy,
}

impl ManagedFile {
    /// `settings.json` in `dir` (private: it may hold `env` secrets).
    pub fn settings(dir: &Path) -> ManagedFile {
        ManagedFile::new(
            dir,
            "settings.json",
            jsonfile::Options {
                private: true,
                ..jsonfile::Options::settings_json()
            },
            apply::SETTINGS,
        )
    }

    /// `.claude.json` in `dir`.
    pub fn claude_json(dir: &Path) -> ManagedFile {
        ManagedFile::new(
            dir,
            ".claude.json",
            jsonfile::Options::claude_json(),
            apply::CLAUDE_JSON,
        )
    }

    /// An account's own `.claude.json` in its account dir `dir` (see
    /// [`jsonfile::Options::account_claude_json`]).
    pub fn account_claude_json(dir: &Path) -> ManagedFile {
        ManagedFile {
            opts: jsonfile::Options::account_claude_json(),
            ..ManagedFile::claude_json(dir)
        }
    }

    /// `plugins/known_marketplaces.json` in `dir`: Claude Code's list of
    /// plugin marketplaces, which it also writes (`/plugin marketplace add`).
    pub fn known_marketplaces(dir: &Path) -> ManagedFile {
        ManagedFile {
            path: dir.join("plugins").join("known_marketplaces.json"),
            record: dir
                .join(STATE_DIR)
                .join("last-applied")
                .join("known_marketplaces.json"),
            opts: jsonfile::Options::settings_json(),
            policy: apply::SETTINGS,
        }
    }

    fn new(dir: &Path, name: &str, opts: jsonfile::Options, policy: Policy) -> ManagedFile {
        ManagedFile {
            path: dir.join(name),
            record: dir.join(STATE_DIR).join("last-applied").join(name),
            opts,
            policy,
        }
    }

    /// The last-applied record, `None` before the first apply.
    pub fn last_applied(&self) -> Result<Option<Map<String, Value>>> {
        Ok(self.read_record()?.applied)
    }

    /// The last-applied record and its permission bits (from the `fstat`
    /// of the open record); `(None, None)` before the first apply. Anything
    /// but a regular file of a JSON object is refused with the fix.
    pub fn read_record(&self) -> Result<Record> {
        use std::io::Read;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let record = self.record.display();
        let fix = format!(
            "run again (Nix's declared keys are then taken over again; keys Nix no longer declares stay in {})",
            self.path.display()
        );
        let mut file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&self.record)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Record {
                    applied: None,
                    mode: None,
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => anyhow::bail!(
                "{record}, claude-accounts' record of what it applied to {}, is a symbolic link; remove the link (rm -- '{record}') and {fix}",
                self.path.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "reading {record}, claude-accounts' record of what it applied; make it a file you can read (ls -l '{record}'), or remove it and {fix}"
                    )
                });
            }
        };
        let meta = file
            .metadata()
            .map_err(|e| jsonfile::io_failure("looking at", &self.record, &e))?;
        if !meta.is_file() {
            anyhow::bail!(
                "{record}, claude-accounts' record of what it applied to {}, is {}, not a file; move it away (mv -- '{record}' '{record}.old') and {fix}",
                self.path.display(),
                if meta.is_dir() {
                    "a directory"
                } else {
                    "a FIFO, socket or device"
                }
            );
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("reading {record}; remove it and {fix}"))?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(m)) => Ok(Record {
                applied: Some(m),
                mode: Some(meta.mode() & 0o7777),
            }),
            _ => anyhow::bail!(
                "{record} is not the JSON object claude-accounts wrote; remove it and {fix}"
            ),
        }
    }

    /// Computes what applying `desired` would change, without writing; see
    /// [`ManagedFile::apply_with_record`] for `fallback_record`.
    pub fn plan(
        &self,
        desired: &Map<String, Value>,
        fallback_record: Option<Map<String, Value>>,
    ) -> Result<Report> {
        let last = self.last_applied()?.or(fallback_record);
        let snapshot = jsonfile::read(&self.path, &self.opts)?;
        let doc = snapshot.document()?;
        let (report, _) = compute(&doc, desired, last.as_ref(), &self.policy, &Edits::new())?;
        Ok(report)
    }

    /// Applies `desired`: the file atomically, then the record.
    pub fn apply(&self, desired: &Map<String, Value>) -> Result<(Report, Outcome)> {
        self.apply_with_record(desired, None)
    }

    /// Like [`ManagedFile::apply`], with a last-applied record to use when
    /// the file has none yet (e.g. the content of a store link being migrated,
    /// all of which Nix owned).
    pub fn apply_with_record(
        &self,
        desired: &Map<String, Value>,
        fallback_record: Option<Map<String, Value>>,
    ) -> Result<(Report, Outcome)> {
        let record = self.read_record()?;
        let last = record.applied.or(fallback_record);
        let keys: Vec<String> = desired.keys().cloned().collect();
        // A changed declaration is a write: picking members first would
        // only add a pass over the file.
        let reads = (last.as_ref() == Some(desired)).then_some(Wanted {
            keys: &keys,
            fields_of: None,
        });
        let (report, outcome, _) = self.apply_from(last, record.mode, reads, false, |_| {
            Ok(Prepare {
                desired: desired.clone(),
                extra: Edits::new(),
            })
        })?;
        Ok((report, outcome))
    }

    /// The general apply: `prepare` sees the file as read (again on every
    /// retry) and returns the desired keys and extra edits (keys synced
    /// from the account); both are committed in one atomic write. The extra
    /// edits are made first: for a key Nix owns, the edited value is what
    /// the three-way apply sees as live, so declared values still win.
    ///
    /// `reads` names what `prepare` reads (the record's keys are added):
    /// when the file is large and in Claude Code's layout, those members
    /// are [`jsonfile::pick`]ed first, and if they show that nothing is to
    /// change, the file is not read whole. Otherwise (and whenever `prepare`
    /// asks for something else) it is read, validated and updated as usual.
    ///
    /// `record` is this file's [`ManagedFile::read_record`], which the
    /// caller has read already (so it is not read twice). With `later`, a
    /// changed record is not written but returned, for the caller to write
    /// after something more urgent (it is still written after the file).
    pub fn apply_with(
        &self,
        record: Record,
        reads: Option<Wanted<'_>>,
        later: bool,
        prepare: impl FnMut(&dyn Members) -> Result<Prepare>,
    ) -> Result<(Report, Outcome, Option<PendingRecord>)> {
        self.apply_from(record.applied, record.mode, reads, later, prepare)
    }

    /// [`ManagedFile::apply_with`] from the record `last`, whose permission
    /// bits were `record_mode`.
    fn apply_from(
        &self,
        last: Option<Map<String, Value>>,
        record_mode: Option<u32>,
        reads: Option<Wanted<'_>>,
        later: bool,
        mut prepare: impl FnMut(&dyn Members) -> Result<Prepare>,
    ) -> Result<(Report, Outcome, Option<PendingRecord>)> {
        let unchanged = match reads {
            Some(reads) => self.unchanged(reads, last.as_ref(), &mut prepare)?,
            None => None,
        };
        let (decided, outcome) = match unchanged {
            Some(decided) => (decided, Outcome::Unchanged),
            None => {
                let mut decided = None;
                let outcome = jsonfile::update(&self.path, &self.opts, |doc| {
                    let (report, desired, edits) =
                        decide(doc, last.as_ref(), &self.policy, &mut prepare)?;
                    decided = Some(Decided {
                        report,
                        desired,
                        mode: doc.mode(),
                    });
                    Ok(edits)
                })?;
                let decided = decided.expect("update calls the edit function at least once");
                (decided, outcome)
            }
        };
        let Decided {
            mut report,
            desired,
            mode,
        } = decided;
        let record_written = last.as_ref() != Some(&desired);
        let mut pending = None;
        if record_written {
            let record = PendingRecord {
                file: self.clone(),
                desired,
            };
            if later {
                pending = Some(record);
            } else {
                record.write()?;
            }
        }
        // A record written now or later counts as rewritten: it is
        // written private.
        report.modes = self.hold_modes(
            (mode, outcome == Outcome::Written),
            (record_mode, record_written),
        )?;
        Ok((report, outcome, pending))
    }

    /// Makes the helper's state dirs beside the file, the file and its
    /// record private, from the permission bits `(mode, rewritten)` of the
    /// file and of the record as read (a rewritten one is already private:
    /// [`jsonfile`] writes private files so); returns the repairs.
    fn hold_modes(
        &self,
        file: (Option<u32>, bool),
        record: (Option<u32>, bool),
    ) -> Result<Vec<ModeFix>> {
        let mut fixes = Vec::new();
        let records = self.record.parent().expect("record has a parent");
        for dir in [records.parent().expect("in a state dir"), records] {
            fixes.extend(modes::hold_existing_dir(dir)?);
        }
        for (path, (mode, rewritten)) in [(&self.path, file), (&self.record, record)] {
            let Some(mode) = mode.filter(|_| self.opts.private) else {
                continue;
            };
            fixes.extend(if rewritten {
                modes::fix_of(path, mode)
            } else {
                modes::hold(path, mode)?
            });
        }
        Ok(fixes)
    }

    /// The report and declared keys, when the members `reads` and `last`
    /// name, picked out of a large file, show that it already holds what
    /// an apply would write; `None` when they do not or cannot tell.
    fn unchanged(
        &self,
        reads: Wanted<'_>,
        last: Option<&Map<String, Value>>,
        prepare: &mut impl FnMut(&dyn Members) -> Result<Prepare>,
    ) -> Result<Option<Decided>> {
        let mut keys = reads.keys.to_vec();
        for key in last.into_iter().flat_map(|l| l.keys()) {
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
        let wanted = Wanted {
            keys: &keys,
            fields_of: reads.fields_of,
        };
        let Some(picked) = jsonfile::pick_large(&self.path, &self.opts, wanted)? else {
            return Ok(None);
        };
        // An error here (a member not picked, one that does not decode) is
        // left to the full read, which reports it exactly.
        let Ok((report, desired, edits)) = decide(&picked, last, &self.policy, prepare) else {
            return Ok(None);
        };
        let holds = edits
            .iter()
            .all(|(key, edit)| picked.holds(key, edit.as_ref()));
        Ok(holds.then_some(Decided {
            report,
            desired,
            mode: picked.mode,
        }))
    }

    fn write_record(&self, desired: &Map<String, Value>) -> Result<()> {
        let dir = self.record.parent().expect("record has a parent");
        create_private_dir(dir)?;
        let mut bytes = serde_json::to_vec_pretty(desired).expect("JSON values serialise");
        bytes.push(b'\n');
        jsonfile::write_atomic(
            &self.record,
            &bytes,
            &jsonfile::Options {
                symlinks: Symlinks::Refuse,
                durable: self.opts.durable,
                private: true,
                ..jsonfile::Options::settings_json()
            },
        )
    }
}

/// A changed last-applied record not written yet (see
/// [`ManagedFile::apply_with`]).
#[derive(Debug)]
pub struct PendingRecord {
    file: ManagedFile,
    desired: Map<String, Value>,
}

impl PendingRecord {
    /// Writes the record (atomically, durable as its file is).
    pub fn write(&self) -> Result<()> {
        self.file.write_record(&self.desired)
    }
}

/// One of the helper's own files that are rebuilt when lost (a cache, a
/// sync base, metadata), to write later: atomically, not durably
/// ([`jsonfile::Options::rebuildable`]), in a private dir made if missing.
#[derive(Debug)]
pub struct PendingFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl PendingFile {
    pub fn new(path: PathBuf, bytes: Vec<u8>) -> PendingFile {
        PendingFile { path, bytes }
    }

    /// Writes it.
    pub fn write(&self) -> Result<()> {
        create_private_dir(self.path.parent().expect("a file in a dir"))?;
        jsonfile::write_atomic(&self.path, &self.bytes, &jsonfile::Options::rebuildable())
    }
}

/// The last-applied record as read.
pub struct Record {
    /// The declared keys of the last apply; `None` before the first.
    pub applied: Option<Map<String, Value>>,
    /// Its permission bits (from the `fstat` of the open record).
    mode: Option<u32>,
}

/// What an apply decided from the file as read.
struct Decided {
    report: Report,
    /// The declared keys (the next record).
    desired: Map<String, Value>,
    /// The file's permission bits as read.
    mode: Option<u32>,
}

/// What [`ManagedFile::apply_with`] applies.
pub struct Prepare {
    /// The declared keys.
    pub desired: Map<String, Value>,
    /// Edits made before the declared keys are applied, in the same write.
    pub extra: Edits,
}

/// What an apply of `prepare`'s declared keys makes of `doc`: the report,
/// the declared keys, and the edits (the extra ones of keys Nix does not
/// own included; declared values win).
fn decide(
    doc: &dyn Members,
    last: Option<&Map<String, Value>>,
    policy: &Policy,
    prepare: &mut impl FnMut(&dyn Members) -> Result<Prepare>,
) -> Result<(Report, Map<String, Value>, Edits)> {
    let Prepare { desired, extra } = prepare(doc)?;
    let (report, mut edits) = compute(doc, &desired, last, policy, &extra)?;
    for (key, value) in extra {
        edits.entry(key).or_insert(value);
    }
    Ok((report, desired, edits))
}

/// The owned top-level keys of `doc` after a three-way apply, as edits.
fn compute(
    doc: &dyn Members,
    desired: &Map<String, Value>,
    last: Option<&Map<String, Value>>,
    policy: &Policy,
    before: &Edits,
) -> Result<(Report, Edits)> {
    let owned: Vec<&String> = desired
        .keys()
        .chain(last.into_iter().flat_map(|l| l.keys()))
        .collect();
    let mut live = Map::new();
    for key in &owned {
        let value = match before.get(*key) {
            Some(edited) => edited.clone(),
            None => doc.value(key)?,
        };
        if let Some(v) = value {
            live.insert((*key).clone(), v);
        }
    }
    let report = apply::apply(desired, last, &mut live, policy);
    let mut edits = Edits::new();
    for key in owned {
        edits.insert(key.clone(), live.get(key).cloned());
    }
    Ok((report, edits))
}

/// Creates `dir` and its missing parents; a directory created here is 0700.
/// An existing directory's mode is left alone.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(m) if m.file_type().is_symlink() && dir.is_dir() => return Ok(()),
        Ok(_) => anyhow::bail!(
            "{} exists but is not a directory; move it away so claude-accounts can create the directory",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(jsonfile::io_failure("looking at", dir, &e)),
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| jsonfile::io_failure("creating the directory", dir, &e))
}
