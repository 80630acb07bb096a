//! The session lock with real processes: holders that exit, are killed, or
//! leave children behind.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use claude_accounts::lock::{self, Acquire, Probe, SessionInfo, SessionLock};
use pretty_assertions::assert_eq;

use crate::common::*;
use crate::harness::TestEnv;

fn info(account: &str, runtime: &Path) -> SessionInfo {
    SessionInfo {
        pid: std::process::id(),
        claude_pid: None,
        claude_start: None,
        started_at: 1_700_000_000,
        account: account.into(),
        worktree: Some("/src/project".into()),
        runtime_dir: runtime.to_owned(),
    }
}

fn acquire(runtime: &Path, info: &SessionInfo) -> SessionLock {
    match lock::try_acquire(runtime, info).unwrap() {
        Acquire::Acquired(l) => l,
        other => panic!("lock of {} not acquired: {other:?}", runtime.display()),
    }
}

/// Waits until the lock of `runtime` is free. A released lock is not always
/// free at once in a test process: a child forked by another test thread
/// holds a copy of every descriptor (close-on-exec or not) until it execs.
fn wait_free(runtime: &Path) {
    wait_until("the lock is free", || {
        lock::probe(runtime).unwrap() == Probe::Free
    });
}

fn held_by(runtime: &Path, info: &SessionInfo) -> Option<SessionInfo> {
    match lock::try_acquire(runtime, info).unwrap() {
        Acquire::Held(holder) => holder,
        other => panic!("expected a held lock: {other:?}"),
    }
}

/// A process outside this one holding the lock of `runtime` (util-linux
/// `flock(1)`, else Python's `fcntl.flock`), returned once it says `locked`.
fn external_holder(runtime: &Path) -> Child {
    let path = lock::lock_path(runtime);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let on_path = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut cmd = if on_path("flock") {
        // The shell opens the file, flock(1) locks that open file, and the
        // shell becomes `sleep`, which holds it from then on.
        let mut c = Command::new("sh");
        c.args([
            "-c",
            r#"exec 9>>"$1" && flock 9 && echo locked && exec sleep 600"#,
            "sh",
        ])
        .arg(&path);
        c
    } else if on_path("python3") {
        let mut c = Command::new("python3");
        c.args([
            "-c",
            "import fcntl, sys, time\n\
             f = open(sys.argv[1], 'a')\n\
             fcntl.flock(f, fcntl.LOCK_EX)\n\
             print('locked', flush=True)\n\
             time.sleep(600)",
        ])
        .arg(&path);
        c
    } else {
        panic!("this test needs flock(1) (util-linux) or python3 on PATH to hold a lock");
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning a lock holder");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n", "the lock holder {cmd:?} failed");
    child
}

#[test]
fn acquiring_records_the_holder_and_a_second_acquire_is_refused() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    let state = runtime.join(".claude-accounts");
    fs::create_dir_all(&state).unwrap();
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    // A record an earlier holder left behind is not this holder's.
    write(
        &lock::info_path(runtime),
        &serde_json::to_string(&info("old", runtime)).unwrap(),
    );
    let mine = info("max", runtime);
    let mut held = acquire(runtime, &mine);

    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&lock::lock_path(runtime)), 0o600);
    // Held, and recorded once claude started.
    assert!(
        !lock::info_path(runtime).exists(),
        "the stale record stayed"
    );
    assert_eq!(held_by(runtime, &info("pro", runtime)), None);
    assert_eq!(lock::probe(runtime).unwrap(), Probe::Held(None));
    assert!(lock::holder_is(runtime, std::process::id()).unwrap());

    held.set_claude_pid(4242).unwrap();
    let with_claude = SessionInfo {
        claude_pid: Some(4242),
        ..mine
    };
    assert_eq!(held.info(), &with_claude);
    assert_eq!(mode(&lock::info_path(runtime)), 0o600);
    let record: SessionInfo = serde_json::from_str(&read(&lock::info_path(runtime))).unwrap();
    assert_eq!(record, with_claude);
    assert_eq!(
        held_by(runtime, &info("pro", runtime)),
        Some(with_claude.clone())
    );
    assert_eq!(
        lock::probe(runtime).unwrap(),
        Probe::Held(Some(with_claude))
    );
    assert_eq!(
        list(&state),
        ["session.json", "session.lock"],
        "temp files left"
    );
}

#[test]
fn dropping_the_lock_frees_it_and_removes_the_record() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    drop(acquire(runtime, &info("max", runtime)));

    wait_free(runtime);
    assert!(!lock::holder_is(runtime, std::process::id()).unwrap());
    assert_eq!(list(&runtime.join(".claude-accounts")), ["session.lock"]);
    let again = info("pro", runtime);
    assert_eq!(acquire(runtime, &again).info(), &again);
}

#[test]
fn a_missing_runtime_dir_is_an_error_naming_it() {
    let sb = TestEnv::new();
    let runtime = sb.root.join("absent");
    let err = lock::try_acquire(&runtime, &info("max", &runtime)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains(runtime.to_str().unwrap()), "{msg}");
    assert!(msg.contains("create it first"), "{msg}");
    assert!(!runtime.exists());
}

#[test]
fn probing_and_asking_for_the_holder_create_nothing() {
    let sb = TestEnv::new();
    let absent = sb.root.join("absent");
    assert_eq!(lock::probe(&absent).unwrap(), Probe::Free);
    assert!(!lock::holder_is(&absent, 1).unwrap());
    assert!(!absent.exists());

    let empty = &sb.work;
    assert_eq!(lock::probe(empty).unwrap(), Probe::Free);
    assert!(!lock::holder_is(empty, 1).unwrap());
    assert_eq!(list(empty), Vec::<String>::new());

    fs::create_dir(empty.join(".claude-accounts")).unwrap();
    assert_eq!(lock::probe(empty).unwrap(), Probe::Free);
    assert_eq!(list(&empty.join(".claude-accounts")), Vec::<String>::new());
}

#[test]
fn a_sigkilled_holder_frees_the_lock() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    let mut holder = external_holder(runtime);
    let _guard = KillOnDrop(holder.id());

    assert_eq!(held_by(runtime, &info("max", runtime)), None);
    kill(holder.id(), libc::SIGKILL);
    holder.wait().unwrap();

    assert_eq!(lock::probe(runtime).unwrap(), Probe::Free);
    drop(acquire(runtime, &info("max", runtime)));
}

#[test]
fn a_record_the_lock_does_not_confirm_is_not_reported() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    let mut holder = external_holder(runtime);
    let _guard = KillOnDrop(holder.id());
    // A record left by a launcher that is gone, naming a process (this one)
    // that does not hold the lock.
    let stale = info("stale", runtime);
    write(
        &lock::info_path(runtime),
        &serde_json::to_string(&stale).unwrap(),
    );

    assert_eq!(lock::probe(runtime).unwrap(), Probe::Held(None));
    assert!(!lock::holder_is(runtime, std::process::id()).unwrap());
    kill(holder.id(), libc::SIGKILL);
    holder.wait().unwrap();
}

#[test]
fn holder_is_names_only_the_locking_process() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    let other = spawn_sleeper();
    let held = acquire(runtime, &info("max", runtime));

    assert!(lock::holder_is(runtime, std::process::id()).unwrap());
    assert!(!lock::holder_is(runtime, other.id()).unwrap());
    drop(held);
    wait_free(runtime);
    assert!(!lock::holder_is(runtime, std::process::id()).unwrap());
}

/// A `sleep 600` process, killed when dropped.
fn spawn_sleeper() -> Reaped {
    let child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning sleep");
    Reaped(child)
}

#[test]
fn a_child_of_the_holder_does_not_keep_the_lock_after_release() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    let held = acquire(runtime, &info("max", runtime));
    let child = spawn_sleeper();
    let lock_file = lock::lock_path(runtime);
    assert!(
        !fd_targets(child.id()).contains(&lock_file),
        "the child inherited the lock file"
    );

    drop(held);
    assert!(is_alive(child.id()));
    wait_free(runtime);
    drop(acquire(runtime, &info("pro", runtime)));
}

/// Set in the process [`a_child_of_the_holder_does_not_keep_the_lock_after_it_dies`]
/// re-runs itself as: that process takes the lock, starts a child, and waits
/// to be killed.
const HOLDER_ROLE: &str = "CLAUDE_ACCOUNTS_TEST_LOCK_HOLDER";

#[test]
fn a_child_of_the_holder_does_not_keep_the_lock_after_it_dies() {
    if let Some(runtime) = std::env::var_os(HOLDER_ROLE) {
        let runtime = PathBuf::from(runtime);
        let _held = acquire(&runtime, &info("max", &runtime));
        let child = spawn_sleeper();
        let pid_file = runtime.join("child.pid");
        write(&runtime.join("child.pid.tmp"), &child.id().to_string());
        fs::rename(runtime.join("child.pid.tmp"), pid_file).unwrap();
        loop {
            std::thread::park(); // until SIGKILLed
        }
    }

    let sb = TestEnv::new();
    let runtime = &sb.work;
    // This very test, run again in a process of its own as the holder.
    let (_, test_path) = module_path!().split_once("::").unwrap();
    let test = format!("{test_path}::a_child_of_the_holder_does_not_keep_the_lock_after_it_dies");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(HOLDER_ROLE, runtime)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _holder_guard = KillOnDrop(holder.id());
    let pid_file = runtime.join("child.pid");
    wait_until("the holder process started its child", || pid_file.exists());
    let child: u32 = read(&pid_file).parse().unwrap();
    let _child_guard = KillOnDrop(child);

    // Held with no record: the holder started no claude.
    assert_eq!(lock::probe(runtime).unwrap(), Probe::Held(None));
    assert!(lock::holder_is(runtime, holder.id()).unwrap());
    assert!(!lock::holder_is(runtime, child).unwrap());

    kill(holder.id(), libc::SIGKILL);
    holder.wait().unwrap();
    assert!(is_alive(child), "the holder's child died with it");
    assert_eq!(lock::probe(runtime).unwrap(), Probe::Free);
    drop(acquire(runtime, &info("pro", runtime)));
}

#[test]
fn a_claude_left_by_a_dead_launcher_keeps_the_runtime_busy_while_it_runs() {
    let sb = TestEnv::new();
    let runtime = &sb.work;
    // What a launcher killed by SIGKILL leaves: a free lock and its record,
    // naming a claude that still runs.
    let claude = spawn_sleeper();
    let mut left = info("max", runtime);
    left.pid = 1; // not us, and not holding anything
    left.claude_pid = Some(claude.id());
    left.claude_start = lock::process_start(claude.id());
    assert!(left.claude_start.is_some(), "/proc/<pid>/stat readable");
    write(&lock::lock_path(runtime), "");
    write(
        &lock::info_path(runtime),
        &serde_json::to_string(&left).unwrap(),
    );

    assert_eq!(lock::probe(runtime).unwrap(), Probe::Orphaned(left.clone()));
    match lock::try_acquire(runtime, &info("max", runtime)).unwrap() {
        Acquire::Orphaned(found) => assert_eq!(found, left),
        other => panic!("expected the orphan: {other:?}"),
    }
    // A reused pid (another start time) is not that claude.
    let mut reused = left.clone();
    reused.claude_start = left.claude_start.map(|t| t + 1);
    write(
        &lock::info_path(runtime),
        &serde_json::to_string(&reused).unwrap(),
    );
    assert_eq!(lock::probe(runtime).unwrap(), Probe::Free);

    write(
        &lock::info_path(runtime),
        &serde_json::to_string(&left).unwrap(),
    );
    drop(claude);
    wait_free(runtime);
    drop(acquire(runtime, &info("max", runtime)));
}
