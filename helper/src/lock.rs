//! The session lock: one Claude session per runtime dir.
//!
//! Guarantees:
//!
//! * The lock is a kernel `flock(2)` on `<runtime>/.claude-accounts/session.lock`,
//!   held by the launcher for the session's life through one open file
//!   description. The kernel frees it when the holder exits, however it
//!   exits (crash, SIGKILL): there is never a stale lock to clean up, and
//!   never a PID file in `/tmp`.
//! * The descriptor is opened close-on-exec, so Claude and its children never
//!   inherit it: a process left behind by Claude never keeps the lock. (A
//!   child forked by another thread holds a copy until it execs, so a
//!   released lock may stay held for that moment; [`try_acquire`] retries
//!   briefly for this and for a concurrent [`probe`].)
//! * The lock file is never removed (removing a lock file lets two processes
//!   lock two different inodes) and never followed if it is a symlink.
//! * `session.json` beside it records who holds the lock (for `status` and
//!   `close`); it is informational, written atomically (temp + rename) only
//!   by the holder, once claude started ([`SessionLock::set_claude_pid`]):
//!   until then, the lock is held with no record. The lock is the truth: [`probe`] reports the record only
//!   while the lock is held, and on Linux only when `/proc/locks` confirms
//!   the recorded pid holds it.
//! * A session stays busy while its claude lives, even when the launcher
//!   was killed (`kill -9`) and the kernel freed the lock: the launcher
//!   records claude's pid and start time in `session.json`, which then
//!   stays behind, and [`try_acquire`] and [`probe`] report such a claude
//!   as [`Acquire::Orphaned`] / [`Probe::Orphaned`] for as long as a process
//!   with that pid *and* that start time runs (a reused pid is not it). On
//!   Linux claude also gets SIGTERM when its launcher dies (see
//!   [`crate::launch`]), so this window is short.
//! * [`probe`] and [`holder_is`] never create, change or block on anything.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The helper's own directory inside a runtime dir.
pub const STATE_DIR: &str = ".claude-accounts";
/// The lock file inside [`STATE_DIR`].
pub const LOCK_FILE: &str = "session.lock";
/// The holder's record inside [`STATE_DIR`].
pub const INFO_FILE: &str = "session.json";

/// How long [`try_acquire`] keeps trying before reporting the lock held: a
/// [`probe`] holds a shared lock for a moment, which must not look like a
/// running session.
const ACQUIRE_PATIENCE: Duration = Duration::from_millis(100);
const ACQUIRE_RETRY: Duration = Duration::from_millis(5);
/// How long [`try_acquire`] waits for the claude of a session whose
/// launcher died to end before reporting it.
const ORPHAN_PATIENCE: Duration = Duration::from_secs(3);

/// Who holds a session lock (the content of `session.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The launcher, which holds the lock.
    pub pid: u32,
    /// Claude, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_pid: Option<u32>,
    /// Claude's start time (clock ticks since boot, `/proc/<pid>/stat`), to
    /// tell it from a later process that reuses its pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_start: Option<u64>,
    /// Unix seconds.
    pub started_at: u64,
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<PathBuf>,
    pub runtime_dir: PathBuf,
}

/// A held session lock; dropping it removes `session.json` and then releases
/// the lock.
#[derive(Debug)]
pub struct SessionLock {
    /// The locked open file description: closing it releases the lock.
    _locked: File,
    info_path: PathBuf,
    info: SessionInfo,
}

/// The result of [`try_acquire`].
#[derive(Debug)]
pub enum Acquire {
    Acquired(SessionLock),
    /// Someone else holds it; their record when it could be confirmed.
    Held(Option<SessionInfo>),
    /// Free, but the claude of a session whose launcher died still runs.
    Orphaned(SessionInfo),
}

/// The state of a runtime dir's lock, as [`probe`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Free,
    /// Held; the holder's record, or `None` when it is missing, unreadable or
    /// names a process that does not hold the lock (a session starting or
    /// ending at this very moment).
    Held(Option<SessionInfo>),
    /// The lock is free, but the claude recorded in `session.json` still
    /// runs: its launcher died.
    Orphaned(SessionInfo),
}

impl Probe {
    /// Whether a session runs there (held, or orphaned).
    pub fn is_held(&self) -> bool {
        !matches!(self, Probe::Free)
    }

    /// The running session's record, when known.
    pub fn holder(&self) -> Option<&SessionInfo> {
        match self {
            Probe::Held(h) => h.as_ref(),
            Probe::Orphaned(h) => Some(h),
            Probe::Free => None,
        }
    }
}

/// Whether the claude `info` records is still the process running with
/// that pid (same start time; where start times cannot be read, whether
/// the pid exists).
pub fn claude_alive(info: &SessionInfo) -> bool {
    let Some(pid) = info.claude_pid else {
        return false;
    };
    match (process_start(pid), info.claude_start) {
        (Some(now), Some(recorded)) => now == recorded,
        (Some(_), None) => false,
        (None, _) if cfg!(target_os = "linux") => false,
        (None, _) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok(),
    }
}

/// A process's start time in clock ticks since boot (Linux); `None` when it
/// does not exist or elsewhere.
pub fn process_start(pid: u32) -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so
    // count from the last `)`; starttime is field 22, the 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The record left by a session whose launcher died, while its claude runs.
fn orphan(runtime_dir: &Path) -> Option<SessionInfo> {
    let bytes = fs::read(info_path(runtime_dir)).ok()?;
    let info: SessionInfo = serde_json::from_slice(&bytes).ok()?;
    claude_alive(&info).then_some(info)
}

/// `<runtime>/.claude-accounts/session.lock`.
pub fn lock_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(STATE_DIR).join(LOCK_FILE)
}

/// `<runtime>/.claude-accounts/session.json`.
pub fn info_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(STATE_DIR).join(INFO_FILE)
}

/// Takes the session lock of `runtime_dir` without waiting for a running
/// session (only briefly for a concurrent [`probe`]), creating
/// `.claude-accounts/` (0700) and `session.lock` (0600) as needed. `info`
/// is recorded in `session.json` by [`SessionLock::set_claude_pid`]; a
/// record left by an earlier holder is removed now. The runtime dir itself
/// must exist.
pub fn try_acquire(runtime_dir: &Path, info: &SessionInfo) -> Result<Acquire> {
    let state_dir = runtime_dir.join(STATE_DIR);
    match DirBuilder::new().mode(0o700).create(&state_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(e).with_context(|| {
                format!(
                    "creating {}: the runtime dir {} does not exist (create it first)",
                    state_dir.display(),
                    runtime_dir.display()
                )
            });
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", state_dir.display())),
    }
    let path = lock_path(runtime_dir);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| open_failure(&path, &e))?;
    let deadline = Instant::now() + ACQUIRE_PATIENCE;
    loop {
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB)
            .with_context(|| format!("locking {}", path.display()))?
        {
            break;
        }
        if Instant::now() >= deadline {
            return Ok(Acquire::Held(read_confirmed_info(runtime_dir, &file)?));
        }
        std::thread::sleep(ACQUIRE_RETRY);
    }
    // A claude whose launcher just died gets SIGTERM (Linux) and is
    // usually ending: give it a moment before calling the runtime busy.
    let deadline = Instant::now() + ORPHAN_PATIENCE;
    while let Some(info) = orphan(runtime_dir) {
        if Instant::now() >= deadline {
            return Ok(Acquire::Orphaned(info)); // the lock goes with `file`
        }
        std::thread::sleep(ACQUIRE_RETRY);
    }
    let lock = SessionLock {
        _locked: file,
        info_path: info_path(runtime_dir),
        info: info.clone(),
    };
    match fs::remove_file(&lock.info_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "removing the stale session record {}",
                    lock.info_path.display()
                )
            });
        }
    }
    Ok(Acquire::Acquired(lock))
}

impl SessionLock {
    /// What `session.json` records.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Records Claude's pid and start time in `session.json` (atomically).
    pub fn set_claude_pid(&mut self, pid: u32) -> Result<()> {
        self.info.claude_pid = Some(pid);
        self.info.claude_start = process_start(pid);
        self.write_info()
    }

    fn write_info(&self) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(&self.info).context("encoding session info")?;
        bytes.push(b'\n');
        write_atomic(&self.info_path, &bytes)
    }
}

impl Drop for SessionLock {
    /// Removes the record while still holding the lock (so it never removes
    /// the next holder's), then the lock goes with the descriptor.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.info_path);
    }
}

/// Whether the session lock of `runtime_dir` is held right now, and by whom.
/// Never blocks and never creates anything: a missing runtime dir or lock
/// file is [`Probe::Free`]. Takes a shared lock for a moment to test it.
pub fn probe(runtime_dir: &Path) -> Result<Probe> {
    let path = lock_path(runtime_dir);
    let file = match open_existing(&path)? {
        Some(file) => file,
        None => return Ok(Probe::Free),
    };
    if flock(&file, libc::LOCK_SH | libc::LOCK_NB)
        .with_context(|| format!("testing the session lock {}", path.display()))?
    {
        // Free; our shared lock goes with `file`.
        return Ok(match orphan(runtime_dir) {
            Some(info) => Probe::Orphaned(info),
            None => Probe::Free,
        });
    }
    Ok(Probe::Held(read_confirmed_info(runtime_dir, &file)?))
}

/// Whether process `pid` holds the session lock of `runtime_dir`, as the
/// kernel reports it in `/proc/locks` (Linux). Elsewhere: whether the lock is
/// held and `session.json` names `pid`.
pub fn holder_is(runtime_dir: &Path, pid: u32) -> Result<bool> {
    let path = lock_path(runtime_dir);
    match open_existing(&path)? {
        Some(file) => holds_flock(&file, &path, pid),
        None => Ok(false),
    }
}

/// The holder's record, when `/proc/locks` confirms its pid holds the lock.
fn read_confirmed_info(runtime_dir: &Path, lock_file: &File) -> Result<Option<SessionInfo>> {
    let path = info_path(runtime_dir);
    let info = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<SessionInfo>(&bytes).ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    match info {
        Some(info) if confirms(lock_file, &lock_path(runtime_dir), info.pid)? => Ok(Some(info)),
        _ => Ok(None),
    }
}

#[cfg(target_os = "linux")]
fn confirms(lock_file: &File, lock_path: &Path, pid: u32) -> Result<bool> {
    holds_flock(lock_file, lock_path, pid)
}

/// Without `/proc/locks` the record cannot be checked; the caller has seen
/// the lock held.
#[cfg(not(target_os = "linux"))]
fn confirms(_lock_file: &File, _lock_path: &Path, _pid: u32) -> Result<bool> {
    Ok(true)
}

#[cfg(target_os = "linux")]
fn holds_flock(lock_file: &File, lock_path: &Path, pid: u32) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let meta = lock_file
        .metadata()
        .with_context(|| format!("reading {}", lock_path.display()))?;
    let locks = fs::read_to_string("/proc/locks").context("reading /proc/locks")?;
    Ok(flock_holders(&locks, meta.dev(), meta.ino()).contains(&pid))
}

#[cfg(not(target_os = "linux"))]
fn holds_flock(lock_file: &File, lock_path: &Path, pid: u32) -> Result<bool> {
    let _ = lock_file;
    let runtime_dir = lock_path
        .parent()
        .and_then(Path::parent)
        .context("lock path has no runtime dir")?;
    Ok(match probe(runtime_dir)? {
        Probe::Held(Some(info)) => info.pid == pid,
        _ => false,
    })
}

/// The pids `/proc/locks` (text `locks`) shows holding a `FLOCK` on the
/// inode `ino` of device `dev`. Lines look like
/// `1: FLOCK  ADVISORY  WRITE 1234 fe:01:5678 0 EOF`; waiters (`->`) are
/// skipped. The device is `major:minor` in hex.
#[cfg(target_os = "linux")]
fn flock_holders(locks: &str, dev: u64, ino: u64) -> Vec<u32> {
    let want = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
    locks
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [_, "FLOCK", _, _, pid, id, ..] if id == want => pid.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

/// Opens an existing lock file read-only, without following a symlink;
/// `None` when it (or its directory) does not exist.
fn open_existing(path: &Path) -> Result<Option<File>> {
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(open_failure(path, &e)),
    }
}

/// The error for a session lock file that cannot be opened: what is in its
/// place and what to do.
fn open_failure(path: &Path, err: &io::Error) -> anyhow::Error {
    let p = path.display();
    let what = match err.raw_os_error() {
        Some(libc::EISDIR) => "is a directory, not the lock file claude-accounts keeps there",
        Some(libc::ELOOP) => "is a symbolic link, which claude-accounts never follows",
        Some(libc::EACCES | libc::EPERM) => {
            return anyhow::anyhow!(
                "cannot open the session lock {p}: permission denied; make it yours and writable (ls -l '{p}'), or remove it, and launch again"
            );
        }
        _ => {
            return anyhow::anyhow!(
                "opening the session lock {p}: {err}; remove it if it is not a regular file (it holds nothing: the lock is the open file) and launch again"
            );
        }
    };
    anyhow::anyhow!(
        "the session lock {p} {what}; move it away (mv -- '{p}' '{p}.old') and launch again (no session is running there: the lock could not even be opened)"
    )
}

/// `flock(2)`; `Ok(false)` when a non-blocking request would block.
fn flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: the descriptor is open for the duration of the call.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// Writes `bytes` to `path` with mode 0600: temp file in the same
/// directory, rename. Readers see the old or the new record, never a part.
/// Not fsynced: the record describes a running process, so after a crash
/// it would describe nothing, and [`probe`] ignores it unless the lock is
/// held; an fsync would delay every launch for no use.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .context("session info path has no directory")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".session.json.")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming a temporary file to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[cfg(target_os = "linux")]
    #[test]
    fn flock_holders_reads_proc_locks_lines() {
        let dev = libc::makedev(0xfe, 0x01);
        let locks = "\
1: FLOCK  ADVISORY  WRITE 1234 fe:01:5678 0 EOF
1: -> FLOCK  ADVISORY  WRITE 999 fe:01:5678 0 EOF
2: POSIX  ADVISORY  WRITE 42 fe:01:5678 0 EOF
3: FLOCK  ADVISORY  READ  77 fe:01:5678 0 EOF
4: FLOCK  ADVISORY  WRITE 55 fe:02:5678 0 EOF
5: FLOCK  ADVISORY  WRITE 66 fe:01:56789 0 EOF
";
        assert_eq!(flock_holders(locks, dev, 5678), vec![1234, 77]);
    }

    #[test]
    fn session_info_json_uses_camel_case_and_omits_absent_fields() {
        let info = SessionInfo {
            pid: 10,
            claude_pid: None,
            claude_start: None,
            started_at: 1_700_000_000,
            account: "max".into(),
            worktree: None,
            runtime_dir: "/r".into(),
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            serde_json::json!({"pid": 10, "startedAt": 1_700_000_000u64, "account": "max", "runtimeDir": "/r"})
        );
    }
}
