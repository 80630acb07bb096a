//! Small helpers shared by the integration test modules (the environment
//! itself is `harness::TestEnv`).

#![allow(dead_code)] // each module uses its own subset

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fake `claude` built from `src/bin/fake-claude.rs`.
pub const FAKE_CLAUDE: &str = env!("CARGO_BIN_EXE_fake-claude");

/// How long [`wait_until`] waits before failing: generous, because the
/// machines running the tests are shared and slow; it is a deadline for a
/// broken test, not a speed requirement.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Runs `cmd` to completion, capturing its output.
///
/// A binary copied for the test (see [`RunnableByAnyone`]) can be "busy"
/// for a moment: a child another test thread forked while the copy was
/// being written holds the written file open until it execs. That exec
/// (ETXTBSY) is tried again, briefly.
pub fn run(cmd: &mut Command) -> Output {
    let mut tries = 0;
    loop {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result.unwrap_or_else(|e| panic!("running {cmd:?}: {e}")),
        }
    }
}

/// Runs `cmd` and requires it to succeed.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The JSON lines of a `.jsonl` file.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    read(path)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {l}: {e}", path.display())))
        .collect()
}

/// Writes `text` to `path`, creating parent directories.
pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// `JSON.stringify(v, null, 2)`, Claude's layout.
pub fn claude_layout(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("serializing")
}

/// Permission bits of `path` (not following a symlink).
pub fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Names in directory `dir`, sorted (empty when it does not exist).
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => panic!("listing {}: {e}", dir.display()),
    };
    names.sort();
    names
}

/// Polls `cond` until it holds; fails the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The fields of `/proc/<pid>/stat` after the command name: state is [0],
/// ppid [1], pgrp [2], session [3].
pub fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Whether `pid` exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|f| f[0] != "Z")
}

pub fn kill(pid: u32, sig: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// SIGKILLs a process when dropped, so a failing test leaves nothing behind.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: as above; the process may already be gone.
        unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
    }
}

/// A child process that is SIGKILLed and reaped when dropped.
pub struct Reaped(pub Child);

impl Reaped {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the descriptors of process `pid` point to.
pub fn fd_targets(pid: u32) -> Vec<PathBuf> {
    let dir = format!("/proc/{pid}/fd");
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {dir}: {e}"))
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .collect()
}

/// A copy of a binary that any user may run, in its own temporary dir.
///
/// The tests that drop root's privileges run a binary as `nobody`; the
/// build's own binaries lie in the checkout, which may be under a folder
/// others cannot traverse (a clone inside a 0700 `mktemp -d`). The copy lies
/// in the system's temporary dir, in a dir of mode 0755, and is removed with
/// this value.
pub struct RunnableByAnyone {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl RunnableByAnyone {
    pub fn new(binary: &Path) -> RunnableByAnyone {
        let dir = tempfile::Builder::new()
            .prefix("claude-accounts-it-bin.")
            .tempdir()
            .expect("a temporary dir for a copy of the binary");
        set_mode(dir.path(), 0o755);
        let name = binary.file_name().expect("a binary has a file name");
        let path = dir.path().join(name);
        fs::copy(binary, &path)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", binary.display(), path.display()));
        set_mode(&path, 0o755);
        RunnableByAnyone { dir, path }
    }

    /// The dir holding the copy (traversable by anyone: a cwd for the child).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
