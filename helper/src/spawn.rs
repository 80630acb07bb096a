//! Starting claude so that it ends with its launcher.
//!
//! On Linux claude gets `SIGTERM` when the launcher dies, even by `SIGKILL`
//! (`PR_SET_PDEATHSIG`), so that no claude runs on a runtime whose lock is
//! free. That setting must be made in the child between its creation and
//! its exec, which `posix_spawn` cannot do; `std::process::Command` with a
//! `pre_exec` hook then forks, and in a virtual machine a fork of the
//! launcher took 0.7 ms of every launch (phase timers; a fork of a 10 MB
//! process 3 ms). So on Linux the child is made the way `posix_spawn` makes
//! it, with `clone(CLONE_VM | CLONE_VFORK)`: it shares the launcher's
//! memory, the launcher waits until it has exec'd, and nothing is copied.
//!
//! Guarantees (Linux):
//! * Between `clone` and `execve` the child makes only async-signal-safe
//!   system calls and allocates nothing: program, arguments and environment
//!   are prepared by the launcher first.
//! * Signals are blocked around `clone`; the child sets the signals the
//!   launcher handles back to their default action and restores the signal
//!   mask before its exec, so no handler of the launcher runs in it.
//! * A child whose launcher is already gone when the death signal is set
//!   does not exec. Any failure before or in `execve` is returned as the
//!   error of [`spawn`], and the child is reaped.
//!
//! Elsewhere, `std::process::Command` (no death signal: see
//! [`crate::lock`]).

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::ExitStatus;

/// What to start: `program` (a path, or a name looked up in `PATH`) with
/// `args`, in the launcher's environment with `env` set on top of it.
pub struct Spec<'a> {
    pub program: &'a Path,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
    /// The signals the launcher handles (set back to default in the child).
    pub handled: &'a [nix::sys::signal::Signal],
}

/// A started claude.
pub struct Child {
    #[cfg(target_os = "linux")]
    pid: nix::unistd::Pid,
    #[cfg(not(target_os = "linux"))]
    child: std::process::Child,
}

impl Child {
    pub fn id(&self) -> u32 {
        #[cfg(target_os = "linux")]
        return self.pid.as_raw() as u32;
        #[cfg(not(target_os = "linux"))]
        return self.child.id();
    }

    /// Waits for the child to end (retrying when a signal interrupts).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        #[cfg(target_os = "linux")]
        return linux::wait(self.pid);
        #[cfg(not(target_os = "linux"))]
        return self.child.wait();
    }
}

/// Starts `spec`; on Linux, with the death signal (see the module doc).
pub fn spawn(spec: &Spec) -> io::Result<Child> {
    #[cfg(target_os = "linux")]
    return linux::spawn(spec).map(|pid| Child { pid });
    #[cfg(not(target_os = "linux"))]
    return std::process::Command::new(spec.program)
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .map(|child| Child { child });
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::{CString, OsString};
    use std::io;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::ExitStatusExt;
    use std::path::{Path, PathBuf};
    use std::process::ExitStatus;
    use std::sync::atomic::{AtomicI32, Ordering};

    use nix::errno::Errno;
    use nix::sched::CloneFlags;
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, pthread_sigmask, signal};
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::Pid;

    use super::Spec;

    /// The environment the child gets: the launcher's, with `overrides`
    /// set on top in order (a later value wins).
    fn merged_env(overrides: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        for (key, value) in overrides {
            match env.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => env.push((key.clone(), value.clone())),
            }
        }
        env
    }

    /// `program` as a path: itself when it has a slash, else the first
    /// executable file of that name in the absolute directories of `path`
    /// (the child's `PATH`; a relative entry such as `.` would make the
    /// current directory, maybe a repository, choose the program).
    fn resolve(program: &Path, path: Option<&OsString>) -> io::Result<PathBuf> {
        if program.as_os_str().as_bytes().contains(&b'/') {
            return Ok(program.to_path_buf());
        }
        path.zip(program.to_str())
            .and_then(|(path, name)| crate::context::find_executable(path, name))
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn c_string(bytes: &[u8]) -> io::Result<CString> {
        CString::new(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an argument or environment variable holds a NUL byte",
            )
        })
    }

    pub fn spawn(spec: &Spec) -> io::Result<Pid> {
        let env = merged_env(&spec.env);
        let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v);
        let program = resolve(spec.program, path)?;
        let program_c = c_string(program.as_os_str().as_bytes())?;
        let argv: Vec<CString> = std::iter::once(spec.program.as_os_str())
            .chain(spec.args.iter().map(OsString::as_os_str))
            .map(|a| c_string(a.as_bytes()))
            .collect::<io::Result<_>>()?;
        let envp: Vec<CString> = env
            .iter()
            .map(|(k, v)| {
                let mut entry = k.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                c_string(&entry)
            })
            .collect::<io::Result<_>>()?;
        let argv_ptrs: Vec<*const libc::c_char> = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let envp_ptrs: Vec<*const libc::c_char> = envp
            .iter()
            .map(|e| e.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        let launcher = nix::unistd::getpid();
        // The child writes here why it did not exec (it shares our memory).
        let failed = AtomicI32::new(0);
        let mut stack = vec![0u8; 64 << 10];
        let mut old_mask = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut old_mask),
        )?;
        let child = Box::new(|| -> isize {
            // In the child, until execve: no allocation, only
            // async-signal-safe calls.
            for &sig in spec.handled {
                // SAFETY: resetting to the default action installs no handler.
                let _ = unsafe { signal(sig, SigHandler::SigDfl) };
            }
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
            let ready =
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).and_then(|()| {
                    if nix::unistd::getppid() == launcher {
                        Ok(())
                    } else {
                        Err(Errno::ESRCH) // the launcher is gone
                    }
                });
            if let Err(e) = ready {
                failed.store(e as i32, Ordering::SeqCst);
                return 127;
            }
            // SAFETY: both arrays are NUL-terminated arrays of pointers to
            // NUL-terminated strings that live until the launcher resumes.
            unsafe { libc::execve(program_c.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
            failed.store(Errno::last_raw().max(1), Ordering::SeqCst);
            127
        });
        // SAFETY: CLONE_VFORK suspends this thread until the child has
        // exec'd or exited, so the child is alone with our memory; it
        // neither allocates nor returns into our frames (see the closure),
        // and its stack is `stack`, which outlives it.
        let cloned = unsafe {
            nix::sched::clone(
                child,
                &mut stack,
                CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
                Some(libc::SIGCHLD),
            )
        };
        let restored = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        let pid = cloned?;
        restored?;
        let why = failed.load(Ordering::SeqCst);
        if why != 0 {
            let _ = wait(pid);
            return Err(io::Error::from_raw_os_error(why));
        }
        Ok(pid)
    }

    pub fn wait(pid: Pid) -> io::Result<ExitStatus> {
        loop {
            match waitpid(pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::from_raw(code << 8)),
                Ok(WaitStatus::Signaled(_, sig, core)) => {
                    return Ok(ExitStatus::from_raw(
                        sig as i32 | if core { 0x80 } else { 0 },
                    ));
                }
                Ok(_) => continue, // stopped or continued: still running
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn spec<'a>(program: &'a Path, args: &[&str], env: &[(&str, &str)]) -> Spec<'a> {
        Spec {
            program,
            args: args.iter().map(OsString::from).collect(),
            env: env
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
            handled: &[],
        }
    }

    #[test]
    fn the_child_gets_its_arguments_environment_and_status() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let script = format!(
            "printf '%s|%s|%s' \"$1\" \"$CA_SPAWN_TEST\" \"$HOME\" > '{}'; exit 7",
            out.display()
        );
        let sh = Path::new("sh"); // looked up in PATH
        let mut child = spawn(&spec(
            sh,
            &["-c", &script, "sh", "first arg"],
            &[("CA_SPAWN_TEST", "set on top")],
        ))
        .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(7));
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("first arg|set on top|{home}")
        );
    }

    #[test]
    fn a_program_that_cannot_be_started_is_the_error_of_spawn() {
        let missing = Path::new("/nonexistent/claude");
        let err = spawn(&spec(missing, &[], &[])).err().expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let not_in_path = Path::new("claude-accounts-no-such-program");
        let err = spawn(&spec(not_in_path, &[], &[])).err().expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let not_executable = tmp.path().join("plain");
        std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
        let err = spawn(&spec(&not_executable, &[], &[]))
            .err()
            .expect("an error");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    }

    #[test]
    fn a_signal_ends_the_child_and_says_so() {
        let mut child = spawn(&spec(Path::new("sleep"), &["30"], &[])).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
}
