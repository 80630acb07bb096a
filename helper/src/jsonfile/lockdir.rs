//! Claude Code's `<file>.lock` directory lock, as the helper takes it.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, bail};

use super::atomic::{Step, write_failure};
use super::disk::lstat;
use super::{LOCK_STALE_AFTER, dir_of, pid_alive};

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
pub(super) struct LockDir {
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
    pub(super) fn remove_orphans(target: &Path) {
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
    pub(super) fn acquire(path: &Path, target: &Path, timeout: Duration) -> Result<LockDir> {
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
