//! Atomic writes: a temp file next to the target, fsync, rename, fsync of
//! the directory; and the error of each step, with what to do.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow};

use super::{Disk, LockDir, Options, TEMP_MARK, dir_of, lease};

/// Writes a new version of `disk.target` through a temp file. With `verify`,
/// gives up (returns false, nothing written) when `disk.checks` no longer
/// hold under the lock.
pub(super) fn commit(
    path: &Path,
    disk: &Disk,
    opts: &Options,
    verify: bool,
    body: impl FnOnce(&mut BufWriter<WriteBack<'_>>) -> io::Result<()>,
) -> Result<bool> {
    let target = &disk.target;
    let dir = dir_of(target);
    let mut tmp = TempFile::create(path, target, opts.recycle)?;
    let fail = |step: Step, e: io::Error| write_failure(&e, step, path, dir);
    let mut out = BufWriter::with_capacity(1 << 18, WriteBack::new(&tmp.file));
    body(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    let written = out.get_ref().written;
    drop(out);
    if tmp.recycled {
        // Written over from the start: what is left of the old version goes.
        tmp.file
            .set_len(written)
            .map_err(|e| fail(Step::Write(&tmp.path), e))?;
    }
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
    if tmp.recycled {
        // Once in place, readers must not wait for a lease of ours.
        lease::release(&tmp.file);
    }
    let lock = match opts.lock_dir {
        true => Some(LockDir::acquire(path, target, opts.lock_timeout)?),
        false => None,
    };
    if verify && !disk.still_current()? {
        return Ok(false);
    }
    // The version replaced is kept for the next write to write over (see
    // `claim_recycled`), when the file is large enough for it to matter and
    // where that write can take it: on a file system with
    // leases (a new temp file, which nobody else has open, takes one unless
    // leases are not supported). Where one is kept already, or links are
    // not possible, it is freed as usual.
    let keep = opts.recycle && written >= RECYCLE_MIN && (tmp.recycled || lease::work(&tmp.file));
    let kept = match keep {
        true => Some(recycled_temp(target)?).filter(|kept| fs::hard_link(target, kept).is_ok()),
        false => None,
    };
    fs::rename(&tmp.path, target).map_err(|e| fail(Step::Rename, e))?;
    tmp.renamed = true;
    drop(lock);
    if let Some(kept) = kept {
        // As private as the new version (an old file may have been 0644).
        let _ = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(kept)
            .and_then(|f| f.set_permissions(Permissions::from_mode(mode)));
    }
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
pub(super) struct WriteBack<'f> {
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

pub(super) fn temp_prefix(target: &Path) -> Result<String> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} has no usable file name", target.display()))?;
    Ok(format!(".{name}{TEMP_MARK}"))
}

/// Whether process `pid` may be alive (EPERM counts: it exists).
pub(crate) fn pid_alive(pid: i32) -> bool {
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
    /// Whether it is the previous version, written over (and leased).
    recycled: bool,
}

impl TempFile {
    /// A temp file: with `recycle`, the previous version of the target
    /// kept by the last write ([`claim_recycled`]); else the empty one
    /// prepared in advance next to the target ([`prepared_temp`]) when
    /// there is one, claimed by renaming it to our own name; else a new
    /// file.
    fn create(path: &Path, target: &Path, recycle: bool) -> Result<TempFile> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = dir_of(target);
        let prefix = temp_prefix(target)?;
        let mut recycled = match recycle {
            true => Some(recycled_temp(target)?),
            false => None,
        };
        let mut prepared = Some(prepared_temp(target)?);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!("{prefix}{}.{n}", std::process::id()));
            let temp = |file, recycled| TempFile {
                path: tmp.clone(),
                file,
                renamed: false,
                recycled,
            };
            if let Some(file) = recycled.take().and_then(|p| claim_recycled(&p, &tmp)) {
                return Ok(temp(file, true));
            }
            if let Some(file) = prepared.take().and_then(|p| claim_empty_file(&p, &tmp)) {
                return Ok(temp(file, false));
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)
            {
                Ok(file) => return Ok(temp(file, false)),
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

/// The last part of the name of a temp file prepared in advance.
const PREPARED: &str = "prepared";

/// The last part of the name of the previous version of a file, kept to be
/// written over by the next write (see [`super::Options::recycle`]).
const RECYCLED: &str = "recycled";

/// Files written smaller than this keep no replaced version: allocating
/// and freeing their few blocks costs next to nothing.
const RECYCLE_MIN: u64 = 128 << 10;

/// Where the previous version of `target` is kept (see [`claim_recycled`]).
fn recycled_temp(target: &Path) -> Result<PathBuf> {
    named_temp(target, RECYCLED)
}

/// Our temp file beside `target` whose name ends in `last` instead of a pid
/// and a number (so that `remove_stale_temps` leaves it alone).
fn named_temp(target: &Path, last: &str) -> Result<PathBuf> {
    Ok(dir_of(target).join(format!("{}{last}", temp_prefix(target)?)))
}

/// Takes the previous version kept at `recycled` as `to`, to be written
/// over from the start: renamed first (of two claimers, one gets it), then
/// opened for writing without following a link, and used only when it is
/// a regular file of ours with no other name, under a write lease (Linux),
/// which the kernel refuses while any other process has the file open. So
/// no other name's content changes, and a reader of that old version,
/// however slow, never sees it change. Anything else is removed (`to` is
/// our own name by then) and `None` returned: the write makes a new file.
///
/// Why: writing over blocks a file already has skips allocating new ones
/// and freeing the old ones, which on a file system mounted with `discard`
/// is a synchronous discard (40 ms for 50 MB in this VM).
fn claim_recycled(recycled: &Path, to: &Path) -> Option<File> {
    use std::os::unix::fs::MetadataExt;
    claim(recycled, to, |f, m| {
        m.nlink() == 1 && lease::take(f, lease::Kind::Write)
    })
}

/// Where an empty temp file for `target` may be prepared in advance (by
/// [`prepare_temp`]), so that a write that must be quick does not make a
/// new inode: on some filesystems that is the slow part of a small write.
pub fn prepared_temp(target: &Path) -> Result<PathBuf> {
    named_temp(target, PREPARED)
}

/// Prepares an empty temp file for the next write of `target` (0600; one
/// already there is kept).
pub fn prepare_temp(target: &Path) -> Result<()> {
    create_empty_file(&prepared_temp(target)?)
}

/// Creates `path` as an empty private file (0600, a link never followed)
/// unless something is there: to be claimed later ([`claim_empty_file`]).
pub(crate) fn create_empty_file(path: &Path) -> Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Whether `path` is an empty regular file (a link is not followed).
pub(crate) fn is_empty_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0)
}

/// Takes the empty file `prepared` as `to`: renamed first (of two
/// claimers, one gets it), then opened without following a link and
/// checked to be an empty regular file of ours; anything else is removed
/// (it was only ever an empty file) and `None` returned.
pub(crate) fn claim_empty_file(prepared: &Path, to: &Path) -> Option<File> {
    if !is_empty_file(prepared) {
        return None;
    }
    claim(prepared, to, |_, m| m.len() == 0)
}

/// Takes the file at `from` as `to`: renamed (of two claimers, one gets
/// it), opened for writing without following a link, and kept only when it
/// is a regular file of ours that passes `check`; otherwise `to` (our own
/// name by then) is removed and `None` returned.
fn claim(from: &Path, to: &Path, check: impl Fn(&File, &fs::Metadata) -> bool) -> Option<File> {
    use std::os::unix::fs::MetadataExt;
    if fs::rename(from, to).is_err() {
        return None;
    }
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(to)
        .ok()
        .filter(|f| {
            f.metadata().is_ok_and(|m| {
                m.is_file() && m.uid() == nix::unistd::geteuid().as_raw() && check(f, &m)
            })
        });
    if file.is_none() {
        let _ = fs::remove_file(to);
    }
    file
}

/// The step of a commit that failed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step<'p> {
    Create,
    Write(&'p Path),
    Lock(&'p Path),
    Rename,
}

/// The error for a failed commit step: the reason and what to do for the
/// errno values a user can act on, always saying that `path` is unchanged.
/// `dir` is the directory the temp file and the lock live in.
pub(super) fn write_failure(err: &io::Error, step: Step, path: &Path, dir: &Path) -> anyhow::Error {
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

    /// Commits `content` to `target` (of permission bits `mode`) as an
    /// update would, without the checks.
    fn write_to(target: &Path, mode: Option<u32>, opts: Options, content: &str) {
        let disk = super::super::Disk {
            target: target.to_path_buf(),
            checks: Vec::new(),
            mode,
            owner: None,
        };
        commit(target, &disk, &opts, false, |w| {
            w.write_all(content.as_bytes())
        })
        .unwrap();
    }

    #[test]
    fn a_prepared_temp_is_written_in_place_of_a_new_one_only_when_it_is_an_empty_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(".claude.json");
        let prepared = prepared_temp(&target).unwrap();
        let ino = |p: &Path| fs::symlink_metadata(p).unwrap().ino();
        let write = |content: &str| write_to(&target, None, Options::rebuildable(), content);
        prepare_temp(&target).unwrap();
        let prepared_ino = ino(&prepared);
        prepare_temp(&target).unwrap(); // kept
        assert_eq!(ino(&prepared), prepared_ino);
        write("{\"a\": 1}");
        assert_eq!(
            ino(&target),
            prepared_ino,
            "the prepared file became the target"
        );
        assert!(fs::symlink_metadata(&prepared).is_err(), "and is gone");
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"a\": 1}");

        // Not an empty file: left alone, and a new temp file is made.
        fs::write(&prepared, "junk").unwrap();
        write("{\"a\": 2}");
        assert_eq!(fs::read_to_string(&prepared).unwrap(), "junk");
        fs::remove_file(&prepared).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &prepared).unwrap();
        write("{\"a\": 3}");
        assert!(!elsewhere.exists(), "a link is never followed");
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"a\": 3}");
    }

    /// The version a recycling write replaces is kept and written over by
    /// the next write, but only when nothing else can see it: not while
    /// another open file refers to it, not when it has another name.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_replaced_version_is_written_over_only_when_nobody_else_can_see_it() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(".claude.json");
        let recycled = recycled_temp(&target).unwrap();
        let ino = |p: &Path| fs::symlink_metadata(p).unwrap().ino();
        let opts = Options::account_claude_json;
        let write = |content: &str| write_to(&target, Some(0o600), opts(), content);
        // Contents of `len` bytes, told apart by `key`.
        let sized = |key: &str, len: usize| format!("{{\"{key}\": \"{}\"}}", "x".repeat(len - 9));
        let (big, size) = (RECYCLE_MIN as usize, |p: &Path| {
            fs::metadata(p).unwrap().len()
        });
        let long = sized("a", 2 * big);
        fs::write(&target, &long).unwrap();
        let first = ino(&target);
        write(&sized("b", big));
        assert_eq!(ino(&recycled), first, "the replaced version is kept");
        assert_eq!(fs::read_to_string(&recycled).unwrap(), long);
        let second = ino(&target);

        // Written over, and cut to the new length.
        write(&sized("c", big + 1));
        assert_eq!(ino(&target), first, "the kept version became the file");
        assert_eq!(fs::read_to_string(&target).unwrap(), sized("c", big + 1));
        assert_eq!(ino(&recycled), second);

        // Someone still reads the kept version: it is left as it was.
        let reader = File::open(&recycled).unwrap();
        write(&sized("d", big));
        assert_ne!(ino(&target), second, "a new file was written");
        assert_eq!(fs::read_to_string(&target).unwrap(), sized("d", big));
        let mut still = String::new();
        io::Read::read_to_string(&mut &reader, &mut still).unwrap();
        assert_eq!(
            still,
            sized("b", big),
            "what the reader reads did not change"
        );
        drop(reader);

        // The kept version has another name: that name's content stays.
        let other = dir.path().join("backup.json");
        fs::hard_link(&recycled, &other).unwrap();
        let before = fs::read_to_string(&other).unwrap();
        write(&sized("e", big));
        assert_eq!(fs::read_to_string(&other).unwrap(), before);
        assert_eq!(fs::read_to_string(&target).unwrap(), sized("e", big));
        assert_eq!(fs::metadata(&other).unwrap().nlink(), 1, "our name is gone");

        // A link in its place is removed, never followed.
        fs::remove_file(&recycled).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, "theirs").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &recycled).unwrap();
        write(&sized("f", big));
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "theirs");
        assert_eq!(fs::read_to_string(&target).unwrap(), sized("f", big));
        assert_eq!(fs::symlink_metadata(&target).unwrap().mode() & 0o777, 0o600);
        assert_eq!(size(&recycled), big as u64, "the replaced version kept");

        // A small file: the kept version is written over, none is kept.
        write("{\"g\": 7}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"g\": 7}");
        assert!(fs::symlink_metadata(&recycled).is_err(), "nothing kept");
        write("{\"h\": 8}");
        assert!(fs::symlink_metadata(&recycled).is_err(), "nothing kept");
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
}
