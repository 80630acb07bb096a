//! What this benchmark binary does when it re-executes itself: the floors
//! (the plainest way to do the unavoidable I/O and validation), the no-op
//! `claude` that stamps the moment it started, and the small launcher every
//! measured process is started from.
//!
//! Running the floors as processes, like the helper, means the floors and the
//! helper pay the same process start-up and are compared the same way.

use std::fs::{self, File};
use std::io::Write;

use serde::de::IgnoredAny;

/// Reads a file and validates it as JSON once.
pub const FLOOR_VALIDATE: &str = "__floor-validate";
/// Reads, validates, and writes it back through temp + fsync + rename.
pub const FLOOR_WRITE: &str = "__floor-write";
/// `__floor-write-many <threads> <file>...`: [`FLOOR_WRITE`] for every
/// file, by `threads` threads taking the files in turn (as `activate` takes
/// accounts).
pub const FLOOR_WRITE_MANY: &str = "__floor-write-many";
/// A no-op `claude`: prints `CLOCK_MONOTONIC` (ns) at its start and exits.
pub const STAMP: &str = "__stamp";
/// A `claude` that adds a user-scope MCP server named by its argument to
/// `$CLAUDE_CONFIG_DIR/.claude.json`, as `claude mcp add -s user` does.
pub const ADD_SERVER: &str = "__add-server";
/// `__floor-runtime <dir> <account dir> <registry file>`: makes the entries
/// of a new runtime dir in the plainest way (see [`new_runtime_entries`]),
/// then prints `CLOCK_MONOTONIC` like the no-op.
pub const FLOOR_RUNTIME: &str = "__floor-runtime";
/// `__run <report> <program> <args>...`: see [`crate::measure`].
pub const RUN: &str = "__run";
/// `__setup <dir> <MB>`: the apply scenario's files, left for profiling.
pub const SETUP: &str = "__setup";
/// `__setup-launch <dir>`: the launch scenario's files (`claude` is
/// `/bin/true`), left for profiling.
pub const SETUP_LAUNCH: &str = "__setup-launch";

/// Runs the child mode named by `args[1]`, if any; returns false otherwise.
pub fn dispatch(args: &[String]) -> bool {
    match args.get(1).map(String::as_str) {
        Some(STAMP) => {
            println!("{}", crate::measure::monotonic_ns());
            true
        }
        Some(ADD_SERVER) => {
            let dir = std::env::var_os("CLAUDE_CONFIG_DIR").expect("CLAUDE_CONFIG_DIR is set");
            let path = std::path::Path::new(&dir).join(".claude.json");
            let mut state: serde_json::Value = serde_json::from_slice(
                &fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            state["mcpServers"][&args[2]] =
                serde_json::json!({"type": "stdio", "command": "bench-mcp", "args": [], "env": {}});
            let tmp = path.with_extension("json.tmp");
            fs::write(&tmp, serde_json::to_vec_pretty(&state).expect("JSON"))
                .and_then(|()| fs::rename(&tmp, &path))
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            true
        }
        Some(FLOOR_RUNTIME) => {
            let [dir, account, registry] = [&args[2], &args[3], &args[4]].map(std::path::Path::new);
            new_runtime_entries(dir, account, registry);
            println!("{}", crate::measure::monotonic_ns());
            true
        }
        Some(RUN) => {
            crate::measure::launcher(&args[2], &args[3], &args[4..]);
            true
        }
        Some(SETUP) => {
            let size: usize = args[3].parse().expect("a size in MB");
            crate::scenarios::setup_apply(std::path::Path::new(&args[2]), size);
            true
        }
        Some(SETUP_LAUNCH) => {
            let dir = std::path::Path::new(&args[2]);
            let exe = std::env::current_exe().expect("finding this executable");
            let runner = crate::measure::Runner::new(&exe, &dir.join("scratch"));
            crate::scenarios::setup_launch(dir, &runner, std::path::Path::new("/bin/true"), &[])
                .expect("git is needed for the launch scenario");
            true
        }
        Some(FLOOR_VALIDATE) => {
            read_and_validate(&args[2]);
            true
        }
        Some(FLOOR_WRITE) => {
            rewrite(&args[2]);
            true
        }
        Some(FLOOR_WRITE_MANY) => {
            let threads: usize = args[2].parse().expect("a number of threads");
            let files = &args[3..];
            let next = std::sync::atomic::AtomicUsize::new(0);
            let work = || {
                while let Some(path) =
                    files.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    rewrite(path);
                }
            };
            std::thread::scope(|scope| {
                for _ in 1..threads.min(files.len()) {
                    scope.spawn(work);
                }
                work();
            });
            true
        }
        _ => false,
    }
}

/// Reads and validates `path`, and writes it back through temp + fsync +
/// rename.
fn rewrite(path: &str) {
    let text = read_and_validate(path);
    let tmp = format!("{path}.tmp");
    let mut f = File::create(&tmp).unwrap_or_else(|e| panic!("creating {tmp}: {e}"));
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .unwrap_or_else(|e| panic!("writing {tmp}: {e}"));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("renaming {tmp}: {e}"));
}

fn read_and_validate(path: &str) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str::<IgnoredAny>(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    text
}

/// What a first launch in a new worktree made before claude started until
/// runtime dirs were made in advance (`runtime::spare`): the runtime dir and
/// the helper's state dir in it, the session lock file, the registry entry,
/// one link per account entry, and the runtime's `.claude.json` (written to
/// a temp file and renamed). Each is a new inode; nothing is read, parsed
/// or fsynced. What a spare saves a first launch, on the host measured.
fn new_runtime_entries(
    dir: &std::path::Path,
    account: &std::path::Path,
    registry: &std::path::Path,
) {
    use std::os::unix::fs::DirBuilderExt;
    let fail = |what: &str, e: std::io::Error| -> ! { panic!("{what}: {e}") };
    let state = dir.join(".claude-accounts");
    for d in [dir, &state] {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(d)
            .unwrap_or_else(|e| fail(&d.display().to_string(), e));
    }
    File::create(state.join("session.lock")).unwrap_or_else(|e| fail("session.lock", e));
    fs::write(registry, b"{}").unwrap_or_else(|e| fail("registry entry", e));
    let entries = claude_accounts::runtime::layout::ACCOUNT_DIRS
        .iter()
        .chain(claude_accounts::runtime::layout::ACCOUNT_FILES);
    for name in entries {
        std::os::unix::fs::symlink(account.join(name), dir.join(name))
            .unwrap_or_else(|e| fail(name, e));
    }
    let tmp = dir.join(".claude.json.tmp");
    fs::write(&tmp, b"{}\n").unwrap_or_else(|e| fail(".claude.json.tmp", e));
    fs::rename(&tmp, dir.join(".claude.json")).unwrap_or_else(|e| fail(".claude.json", e));
}
