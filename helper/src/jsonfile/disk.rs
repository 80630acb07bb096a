//! The file on disk: where a path leads under the symlink policy, what
//! identifies one version of a file, and reading a regular file whole.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::{Result, anyhow, bail};

use super::mapped::Mapped;
use super::text::Bytes;
use super::{Options, Symlinks};

/// What identifies one version of a file (or its absence, as `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
    pub(super) size: u64,
    pub(super) mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    pub(super) fn of(m: &Metadata) -> Identity {
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
pub(super) struct Disk {
    /// The path renamed onto (a followed link's target, else the path).
    pub(super) target: PathBuf,
    /// Paths whose identity (lstat; `None`: absent) must be unchanged.
    pub(super) checks: Vec<(PathBuf, Option<Identity>)>,
    /// The current file's permission bits; `None` for a new file.
    pub(super) mode: Option<u32>,
    /// The current file's owner, kept when we run as root.
    pub(super) owner: Option<(u32, u32)>,
}

impl Disk {
    pub(super) fn still_current(&self) -> Result<bool> {
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
pub(super) struct Located {
    /// The file holding the bytes (a link's target when going through one).
    pub(super) file: PathBuf,
    /// The path a commit renames onto.
    pub(super) target: PathBuf,
    /// The identity of the link itself when `path` is a link gone through.
    pub(super) link: Option<Identity>,
    /// `file`'s metadata; `None` when nothing exists at `path`.
    pub(super) meta: Option<Metadata>,
}

impl Located {
    /// How to name the file in messages.
    pub(super) fn shown(&self, path: &Path) -> String {
        if self.file == path {
            path.display().to_string()
        } else {
            format!("{} (a link to {})", path.display(), self.file.display())
        }
    }
}

pub(super) fn locate(path: &Path, opts: &Options) -> Result<Located> {
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
    let dest = fs::read_link(path).map_err(|e| io_failure("reading the link", path, &e))?;
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
        let end =
            fs::canonicalize(path).map_err(|e| io_failure("resolving the links of", path, &e))?;
        let end_meta = fs::metadata(&end).map_err(|e| io_failure("looking at", &end, &e))?;
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
pub(super) fn lstat(path: &Path) -> Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => bail!(
            "cannot look at {}: permission denied (a directory above it is not searchable by \
             you); fix that directory's mode or owner (namei -l {}) and run again",
            path.display(),
            path.display()
        ),
        Err(e) => Err(io_failure("looking at", path, &e)),
    }
}

/// The error for an I/O step on `path` that failed: what was being done,
/// the reason, and what to do for the errors a user can act on.
pub fn io_failure(doing: &str, path: &Path, err: &io::Error) -> anyhow::Error {
    let p = path.display();
    let fix = match err.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => {
            format!("make it (and the directories above it) yours and accessible (namei -l {p})")
        }
        Some(libc::EIO) => "the disk may be failing (see dmesg); check it".to_string(),
        Some(libc::ELOOP) => {
            format!("it goes through too many links; point them at real paths (namei {p})")
        }
        Some(libc::ENOTDIR) => {
            format!("a part of {p} is a file where a directory belongs; move that file away")
        }
        Some(libc::ENOSPC | libc::EDQUOT) => "the disk is full; free space".to_string(),
        Some(libc::EROFS) => "the file system is read-only; make it writable".to_string(),
        _ => format!("check it (ls -ld {p})"),
    };
    anyhow!("{doing} {p}: {err}; {fix} and run again (nothing was changed)")
}

/// Reads a regular file whole, after checking its size; returns its bytes
/// and the identity of the version read. A file of [`MAP_MIN`] bytes or
/// more is mapped where it can be (see [`super::mapped`]), else read.
pub(super) fn read_regular(file: &Path, shown: &str, max_size: u64) -> Result<(Bytes, Identity)> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let (f, before) = open_regular(file, shown, max_size)?;
        let mapped = match before.len() >= MAP_MIN {
            true => f
                .try_clone()
                .ok()
                .and_then(|f| Mapped::new(f, before.len() as usize)),
            false => None,
        };
        let bytes = match mapped {
            Some(mapped) => Bytes::Mapped(mapped),
            None => Bytes::Read(
                read_contents(&f, before.len(), max_size)
                    .map_err(|e| io_failure("reading", file, &e))?,
            ),
        };
        // For a mapping: the version leased, whatever a writer did before.
        let after = f
            .metadata()
            .map_err(|e| io_failure("looking at", file, &e))?;
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
pub(super) fn open_regular(file: &Path, shown: &str, max_size: u64) -> Result<(File, Metadata)> {
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
        .map_err(|e| io_failure("looking at", file, &e))?;
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

/// Files at least this large are mapped rather than read where they can be:
/// below it, the mapping's system calls cost more than the copy saves.
const MAP_MIN: u64 = 128 << 10;

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

/// `path`'s directory (`.` for a bare file name).
pub(super) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn io_failures_name_the_path_and_the_fix() {
        let path = Path::new("/home/u/.claude-max");
        for (errno, fix) in [
            (
                libc::EACCES,
                "make it (and the directories above it) yours and accessible (namei -l /home/u/.claude-max)",
            ),
            (libc::EIO, "the disk may be failing"),
            (
                libc::ENOTDIR,
                "a part of /home/u/.claude-max is a file where a directory belongs",
            ),
            (libc::ENOSPC, "the disk is full; free space"),
            (libc::ENAMETOOLONG, "check it (ls -ld /home/u/.claude-max)"),
        ] {
            let message =
                io_failure("looking at", path, &io::Error::from_raw_os_error(errno)).to_string();
            assert!(
                message.starts_with("looking at /home/u/.claude-max: "),
                "{message}"
            );
            assert!(message.contains(fix), "{message}");
            assert!(
                message.ends_with(" and run again (nothing was changed)"),
                "{message}"
            );
        }
    }

    use crate::jsonfile::read;

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
}
