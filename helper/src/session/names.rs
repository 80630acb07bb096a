//! The name store: which Claude Code session ids a name of a project stands
//! for, and which accounts hold a copy of each transcript.
//!
//! One file per project, `$XDG_STATE_HOME/claude-accounts/sessions/<project>/
//! names.json`, where `<project>` is derived from the project key (the main
//! checkout's root, so every worktree of a repository shares the names; the
//! directory itself outside git). Nothing is ever written inside the
//! repository.
//!
//! Guarantees:
//! * every change is a read-modify-write under an exclusive `flock` on the
//!   project's `lock` file ([`Store::lock`]), so concurrent `start`s of one
//!   project, and the `SessionStart` hook, never lose each other's changes;
//! * the file is replaced atomically (temp file, fsync, rename), so a reader
//!   never sees half a file and a crash leaves the old or the new one;
//! * a damaged file is never overwritten: every command stops with an error
//!   naming it and the fix;
//! * while a named session runs, the helper holds a second lock,
//!   `running/<name>.lock`, so one name never runs twice at once and `list`
//!   can tell which names are running; a crash releases it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::jsonfile::{self, Symlinks};
use crate::managed::create_private_dir;

/// The version of `names.json` this helper reads and writes.
pub const STORE_VERSION: u32 = 1;

/// The longest session name.
const MAX_NAME: usize = 64;

/// Every name of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Names {
    pub version: u32,
    /// The project key these names belong to.
    pub project: PathBuf,
    pub sessions: BTreeMap<String, Session>,
}

/// One named session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Session {
    /// The Claude Code session id `resume` continues.
    pub id: String,
    /// Ids the name had before (`/clear` starts a new id), oldest first.
    pub earlier_ids: Vec<String>,
    /// The account that last ran it.
    pub account: String,
    /// Account -> the ids of this name whose transcript it holds a copy of.
    pub copies: BTreeMap<String, BTreeSet<String>>,
    /// The profile it runs with, if any.
    pub profile: Option<String>,
    /// The session it was forked from.
    pub forked_from: Option<Parent>,
    /// Deleted with its transcripts when the session ends.
    pub incognito: bool,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds of the last start, resume or hook update.
    pub last_used_at: u64,
}

/// Where a fork came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parent {
    pub name: String,
    pub id: String,
}

impl Session {
    /// A new session of `account` with id `id`.
    pub fn new(id: &str, account: &str, profile: Option<String>) -> Session {
        let now = crate::clock::now_secs();
        Session {
            id: id.to_string(),
            earlier_ids: Vec::new(),
            account: account.to_string(),
            copies: BTreeMap::from([(account.to_string(), BTreeSet::from([id.to_string()]))]),
            profile,
            forked_from: None,
            incognito: false,
            created_at: now,
            last_used_at: now,
        }
    }

    /// Every id of the name, the current one last.
    pub fn all_ids(&self) -> Vec<String> {
        let mut ids = self.earlier_ids.clone();
        if !ids.contains(&self.id) {
            ids.push(self.id.clone());
        }
        ids
    }

    /// Records that `account` holds a copy of the transcript of `id`.
    pub fn add_copy(&mut self, account: &str, id: &str) {
        self.copies
            .entry(account.to_string())
            .or_default()
            .insert(id.to_string());
    }

    /// Makes `new_id` the current id (after `/clear`), keeping the old one
    /// as an earlier id; recorded as held by `account`. Returns false when
    /// `new_id` is already the current id.
    pub fn move_to(&mut self, new_id: &str, account: &str) -> bool {
        if self.id == new_id {
            return false;
        }
        let old = std::mem::replace(&mut self.id, new_id.to_string());
        if !self.earlier_ids.contains(&old) {
            self.earlier_ids.push(old);
        }
        self.earlier_ids.retain(|i| i != new_id);
        self.add_copy(account, new_id);
        self.last_used_at = crate::clock::now_secs();
        true
    }
}

/// The store of one project.
#[derive(Debug, Clone)]
pub struct Store {
    /// The project key.
    pub project: PathBuf,
    /// `.../sessions/<project>/`.
    pub dir: PathBuf,
}

/// The store, locked: changes are saved with [`Locked::save`]; the lock is
/// released when this is dropped.
pub struct Locked {
    pub store: Store,
    pub names: Names,
    _lock: Flock<File>,
}

/// A running named session: the `running/<name>.lock` lock, released when
/// dropped (or when the process dies).
pub struct Running {
    _lock: Flock<File>,
}

impl Store {
    /// The store of `project` under `state_home` (`registry::state_home`).
    pub fn new(state_home: &Path, project: &Path) -> Store {
        Store {
            project: project.to_path_buf(),
            dir: state_home
                .join("claude-accounts")
                .join("sessions")
                .join(project_dir_name(project)),
        }
    }

    /// `names.json`.
    pub fn file(&self) -> PathBuf {
        self.dir.join("names.json")
    }

    /// Reads the names without locking (the file is replaced atomically, so
    /// this sees one complete version). No file: no names.
    pub fn read(&self) -> Result<Names> {
        let path = self.file();
        let text = match read_regular(&path)? {
            Some(text) => text,
            None => return Ok(self.empty()),
        };
        let names: Names = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a session store this claude-accounts can read ({e}); move it away to start over (the names of this project are then forgotten; their transcripts stay in the accounts' projects/ dirs)",
                path.display()
            )
        })?;
        if names.version != STORE_VERSION {
            bail!(
                "{} has version {}, this claude-accounts reads version {STORE_VERSION}; use the claude-accounts that wrote it, or move the file away to start over",
                path.display(),
                names.version
            );
        }
        if names.project != self.project {
            bail!(
                "{} holds the names of {}, not of {}; move it away (two project paths share a store name)",
                path.display(),
                names.project.display(),
                self.project.display()
            );
        }
        Ok(names)
    }

    /// Takes the project's lock (waiting for another command holding it)
    /// and reads the names.
    pub fn lock(&self) -> Result<Locked> {
        create_private_dir(&self.dir)?;
        let path = self.dir.join("lock");
        let file = open_lock_file(&path)?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))?;
        let names = self.read()?;
        Ok(Locked {
            store: self.clone(),
            names,
            _lock: lock,
        })
    }

    /// Marks `name` as running, or `None` when it already runs.
    pub fn claim(&self, name: &str) -> Result<Option<Running>> {
        let dir = self.dir.join("running");
        create_private_dir(&dir)?;
        let path = dir.join(format!("{name}.lock"));
        let mut file = open_lock_file(&path)?;
        // A concurrent `list` probes with a brief shared lock: retry a
        // little before calling the name busy.
        for _ in 0..20 {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(Some(Running { _lock: lock })),
                Err((f, nix::errno::Errno::EWOULDBLOCK)) => file = f,
                Err((_, e)) => bail!("locking {}: {e}", path.display()),
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        Ok(None)
    }

    /// Whether a session of `name` is running now.
    pub fn is_running(&self, name: &str) -> Result<bool> {
        let path = self.dir.join("running").join(format!("{name}.lock"));
        if !path.exists() {
            return Ok(false);
        }
        let file = open_lock_file(&path)?;
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_) => Ok(false),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(true),
            Err((_, e)) => Err(anyhow::anyhow!("probing {}: {e}", path.display())),
        }
    }

    /// The per-session `--settings` file of `name`.
    pub fn settings_file(&self, name: &str) -> PathBuf {
        self.dir
            .join("running")
            .join(format!("{name}.settings.json"))
    }

    fn empty(&self) -> Names {
        Names {
            version: STORE_VERSION,
            project: self.project.clone(),
            sessions: BTreeMap::new(),
        }
    }
}

impl Locked {
    /// Writes the names atomically (the lock is still held).
    pub fn save(&self) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(&self.names).context("encoding the names")?;
        text.push(b'\n');
        let opts = jsonfile::Options {
            private: true,
            lock_dir: false,
            symlinks: Symlinks::Refuse,
            retries: 0,
            ..jsonfile::Options::claude_json()
        };
        jsonfile::write_atomic(&self.store.file(), &text, &opts)
    }

    /// The session called `name`, or an error listing the known names.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Session> {
        if !self.names.sessions.contains_key(name) {
            bail!("{}", unknown_name(&self.names, name));
        }
        Ok(self.names.sessions.get_mut(name).expect("checked above"))
    }
}

/// The error for a name that is not in `names`.
pub fn unknown_name(names: &Names, name: &str) -> String {
    let known: Vec<&str> = names
        .sessions
        .iter()
        .filter(|(_, s)| !s.incognito)
        .map(|(n, _)| n.as_str())
        .collect();
    format!(
        "no session named {name:?} in {} (sessions: {}); start one with `claude-session start {name}`, or see `claude-session list`",
        names.project.display(),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// Checks that `name` can name a session: 1 to 64 letters, digits, `.`, `-`
/// and `_`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !ok {
        bail!(
            "{name:?} is not a session name; use 1 to {MAX_NAME} letters, digits, '.', '-' and '_', starting with a letter or digit (e.g. fix-login)"
        );
    }
    Ok(())
}

/// A new random (version 4) UUID, as Claude Code's `--session-id` takes.
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for a session id")?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Whether `s` is a UUID in its canonical text form (what Claude Code names
/// transcripts by); anything else is never used in a path.
pub fn is_id(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `<last component, sanitised>-<64-bit FNV-1a of the key>`: readable, and
/// distinct for distinct keys that sanitise alike (`/a-b`, `/a/b`).
fn project_dir_name(project: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let hash = project
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    let base: String = project
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    format!("{base}-{hash:016x}")
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| {
            format!(
                "opening the lock file {} (if it is a symlink or a directory, remove it)",
                path.display()
            )
        })
}

/// The text of a regular file, `None` when it does not exist; a link or a
/// directory in its place is an error.
fn read_regular(path: &Path) -> Result<Option<String>> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => bail!(
            "{} is not a regular file (a link or a directory?); move it away",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
    }
    std::fs::read_to_string(path)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v4_uuids_and_distinct() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert!(!is_id("../../etc/passwd"));
        assert!(!is_id("11111111-1111-4111-8111-11111111111g"));
    }

    #[test]
    fn names_are_checked() {
        for ok in ["a", "fix-login", "v1.2_x", &"a".repeat(64)] {
            check_name(ok).unwrap();
        }
        for bad in ["", "-a", ".a", "a/b", "a b", "ä", &"a".repeat(65)] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("e.g. fix-login"), "{err}");
        }
    }

    #[test]
    fn project_dirs_differ_for_keys_that_sanitise_alike() {
        let a = project_dir_name(Path::new("/src/a-b"));
        let b = project_dir_name(Path::new("/src/a/b"));
        assert_ne!(a, b);
        assert!(a.starts_with("a-b-"), "{a}");
    }

    #[test]
    fn move_to_keeps_the_earlier_ids_once() {
        let mut s = Session::new("11111111-1111-4111-8111-111111111111", "max", None);
        assert!(s.move_to("22222222-1111-4111-8111-111111111111", "pro"));
        assert!(!s.move_to("22222222-1111-4111-8111-111111111111", "pro"));
        assert!(s.move_to("33333333-1111-4111-8111-111111111111", "pro"));
        assert_eq!(
            s.all_ids(),
            vec![
                "11111111-1111-4111-8111-111111111111",
                "22222222-1111-4111-8111-111111111111",
                "33333333-1111-4111-8111-111111111111"
            ]
        );
        assert_eq!(s.copies["pro"].len(), 2);
    }
}
