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
/// A no-op `claude`: prints `CLOCK_MONOTONIC` (ns) at its start and exits.
pub const STAMP: &str = "__stamp";
/// A `claude` that adds a user-scope MCP server named by its argument to
/// `$CLAUDE_CONFIG_DIR/.claude.json`, as `claude mcp add -s user` does.
pub const ADD_SERVER: &str = "__add-server";
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
            let path = &args[2];
            let text = read_and_validate(path);
            let tmp = format!("{path}.tmp");
            let mut f = File::create(&tmp).unwrap_or_else(|e| panic!("creating {tmp}: {e}"));
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .unwrap_or_else(|e| panic!("writing {tmp}: {e}"));
            fs::rename(&tmp, path).unwrap_or_else(|e| panic!("renaming {tmp}: {e}"));
            true
        }
        _ => false,
    }
}

fn read_and_validate(path: &str) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str::<IgnoredAny>(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    text
}
