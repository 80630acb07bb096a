//! File leases (Linux `F_SETLEASE`): the kernel's promise that no other
//! process opens a file in a conflicting way while the lease is held. A read
//! lease holds off opens for writing and truncation; a write lease holds off
//! any open, and is refused while any other open file refers to the file.
//! A conflicting open waits until the lease is given up (or, at most,
//! `fs.lease-break-time` seconds).
//!
//! Guarantees:
//! * [`take`] is true only when the lease is held. It is false where leases
//!   cannot be had: another open conflicts, the file is not the caller's,
//!   a file system without leases, leases turned off, not Linux.
//! * The holder is told of a waiting opener with `SIGIO`, whose default
//!   action ends the process: before the first lease, a handler that does
//!   nothing is installed (`exec` resets it); without it no lease is taken.
//! * A lease lasts until [`release`] or until the last descriptor of its
//!   open file is closed.

use std::fs::File;

/// What a lease holds off.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// Opens for writing, and truncation.
    Read,
    /// Any open.
    Write,
}

/// Takes a lease of `kind` on `file` (opened read-only for a read lease).
#[cfg(target_os = "linux")]
pub(super) fn take(file: &File, kind: Kind) -> bool {
    use std::os::fd::AsRawFd;
    let kind = match kind {
        Kind::Read => libc::F_RDLCK,
        Kind::Write => libc::F_WRLCK,
    };
    // SAFETY: fcntl with F_SETLEASE reads only its integer arguments; the
    // descriptor is open for the call.
    break_handler_installed()
        && unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, kind) } == 0
}

#[cfg(not(target_os = "linux"))]
pub(super) fn take(_file: &File, _kind: Kind) -> bool {
    false
}

/// Gives up the lease on `file`, if any.
pub(super) fn release(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `take`.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Whether `file`, which no other process has open, takes a write lease:
/// false where the file system, the system or the file's owner rules
/// leases out. The lease is given up at once.
pub(super) fn work(file: &File) -> bool {
    let taken = take(file, Kind::Write);
    if taken {
        release(file);
    }
    taken
}

/// Installs, once, a `SIGIO` handler that does nothing, so that a lease
/// break does not end the process; false when it could not be installed.
#[cfg(target_os = "linux")]
fn break_handler_installed() -> bool {
    use std::sync::OnceLock;

    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

    extern "C" fn ignore(_: libc::c_int) {}
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let action = SigAction::new(
            SigHandler::Handler(ignore),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler does nothing at all.
        unsafe { sigaction(Signal::SIGIO, &action) }.is_ok()
    })
}
