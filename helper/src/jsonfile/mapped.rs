//! A large file's bytes without a copy: a private, read-only mapping of the
//! file, held steady by a read lease.
//!
//! Why: reading a file copies it into fresh memory, and in a virtual machine
//! each fresh page costs a fault of microseconds: reading a 50 MB
//! `.claude.json` took 50-65 ms where mapping it takes 5 (its pages are
//! already in the page cache), and a 1 MB file about a millisecond.
//!
//! Guarantees:
//! * A mapping is only made under a read lease (`F_SETLEASE`, Linux): while
//!   it is held, the kernel holds off any other open of the file for
//!   writing and any truncation (they wait until the lease is released,
//!   which dropping the [`Mapped`] does). So the mapped bytes are the file's
//!   bytes as of the lease and do not change under the reader, as a copy
//!   would not. Writers that replace the file by renaming a new one over it
//!   (Claude Code, this helper) are not held off: the mapped version stays
//!   what it was.
//! * Where a lease cannot be had (another process has the file open for
//!   writing, the file is not the caller's, a file system without leases,
//!   leases disabled, not Linux), [`Mapped::new`] returns `None` and the
//!   caller reads the file instead. Nothing else changes.
//! * A writer waiting for the lease does not end the process (see
//!   [`super::lease`]).
//!
//! Limit: the kernel ends a lease by force once a waiting writer has waited
//! `fs.lease-break-time` seconds (45 by default). A reader that keeps a
//! mapping that long, while a writer truncates the file, would fault; the
//! helper holds a mapping for the length of one read or update.

use std::fs::File;
use std::ops::Deref;

use super::lease;

/// A private read-only mapping of a whole file, under a read lease held by
/// the open file it owns.
pub(super) struct Mapped {
    #[cfg(target_os = "linux")]
    start: std::ptr::NonNull<u8>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    len: usize,
    /// Holds the lease; closing it releases the lease.
    _file: File,
}

// SAFETY: the mapping is read-only and private to this value, and the lease
// keeps its bytes from changing, so sharing and sending it is sharing and
// sending immutable bytes.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the first `len` bytes of `file` (opened read-only; `len` from
    /// its `fstat`) under a read lease; `None` when either cannot be had
    /// (see the module guarantees). The caller checks afterwards that the
    /// file is still the version it measured: a writer that finished just
    /// before the lease is not held off.
    #[cfg(target_os = "linux")]
    pub(super) fn new(file: File, len: usize) -> Option<Mapped> {
        use std::num::NonZeroUsize;

        use nix::sys::mman::{MapFlags, ProtFlags, mmap};

        let length = NonZeroUsize::new(len)?;
        if !lease::take(&file, lease::Kind::Read) {
            return None;
        }
        // SAFETY: a new private, read-only mapping at an address the kernel
        // picks aliases no Rust object; the lease keeps the file's bytes as
        // they are while it lives (dropped with it, after `munmap`).
        let start = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_POPULATE,
                &file,
                0,
            )
        }
        .ok()?;
        Some(Mapped {
            start: start.cast(),
            len,
            _file: file,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn new(_file: File, _len: usize) -> Option<Mapped> {
        None
    }
}

impl Deref for Mapped {
    type Target = [u8];

    #[cfg(target_os = "linux")]
    fn deref(&self) -> &[u8] {
        // SAFETY: `start` maps `len` readable bytes until `drop`, and the
        // lease keeps them from changing (see the module guarantees).
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }

    #[cfg(not(target_os = "linux"))]
    fn deref(&self) -> &[u8] {
        unreachable!("no mapping is made on this system")
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: the mapping was made by `new` with this length and no
        // borrow of it outlives `self`. An error leaves only address space.
        unsafe {
            let _ = nix::sys::mman::munmap(self.start.cast(), self.len);
        }
        // `_file` closes after this, which releases the lease.
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::super::disk::read_regular;
    use super::super::text::Bytes;

    fn large(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
        let path = dir.join(".claude.json");
        let content: Vec<u8> = (0..(300 << 10)).map(|i| b'a' + (i % 26) as u8).collect();
        fs::write(&path, &content).unwrap();
        (path, content)
    }

    #[test]
    fn a_large_file_is_mapped_unless_another_process_has_it_open_for_writing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, content) = large(dir.path());
        let (bytes, _) = read_regular(&path, "f", 1 << 30).unwrap();
        assert!(matches!(bytes, Bytes::Mapped(_)), "mapped");
        assert!(*bytes == content[..]);
        drop(bytes);

        // An open writer rules out a lease: the file is read instead.
        let writer = OpenOptions::new().append(true).open(&path).unwrap();
        let (bytes, _) = read_regular(&path, "f", 1 << 30).unwrap();
        assert!(matches!(bytes, Bytes::Read(_)), "read");
        assert!(*bytes == content[..]);
        drop(writer);

        // A small file is always read.
        fs::write(&path, b"{}").unwrap();
        let (bytes, _) = read_regular(&path, "f", 1 << 30).unwrap();
        assert!(matches!(bytes, Bytes::Read(_)) && *bytes == b"{}"[..]);
    }

    /// The lease holds writers off while the bytes are mapped: one that
    /// will not wait is refused, one that waits (the process gets SIGIO,
    /// and lives) writes once the mapping is dropped.
    #[test]
    fn writers_wait_for_the_mapping_to_be_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (path, content) = large(dir.path());
        let (bytes, _) = read_regular(&path, "f", 1 << 30).unwrap();
        assert!(matches!(bytes, Bytes::Mapped(_)));

        let impatient = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .expect_err("a non-blocking open for writing is refused while leased");
        assert_eq!(impatient.raw_os_error(), Some(libc::EWOULDBLOCK));

        let (wrote, written) = mpsc::channel();
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            let mut f = OpenOptions::new().write(true).open(&writer_path).unwrap();
            f.write_all(b"XXXX").unwrap();
            wrote.send(()).unwrap();
        });
        assert!(
            written.recv_timeout(Duration::from_millis(300)).is_err(),
            "the writer waits while the file is mapped"
        );
        assert!(*bytes == content[..], "the mapped bytes did not change");
        drop(bytes);
        written
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer goes on once the mapping is dropped");
        writer.join().unwrap();
        assert_eq!(&fs::read(&path).unwrap()[..4], b"XXXX");
    }
}
