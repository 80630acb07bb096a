//! The pinned real Claude Code, installed once with npm and cached under the
//! target dir (`<target>/real-claude/<version>/`), never in git.
//!
//! Guarantees: one install even when many tests (or test processes) ask at
//! once: an exclusive `flock` on `<target>/real-claude/<version>.lock` covers
//! checking and installing; a finished install is marked by a file written
//! only after `claude --version` printed the pinned version, so a broken or
//! half-done install is redone. When npm or the network is missing the test
//! fails with what to install; it never skips.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::fcntl::{Flock, FlockArg};

/// The Claude Code version the tier runs. Change it here only.
pub const CLAUDE_VERSION: &str = "2.1.332";

/// The npm package, and the platform package that carries the native binary.
const PACKAGE: &str = "@anthropic-ai/claude-code";
const NATIVE_BINARY: &str = "node_modules/@anthropic-ai/claude-code-linux-x64/claude";
/// Written after a verified install.
const DONE_MARK: &str = ".installed";

/// The path of the pinned `claude` binary, installing it first if needed.
pub fn claude_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| install(&cache_root().join(CLAUDE_VERSION)))
}

/// `<target>/real-claude`, next to the target's `tmp/`.
fn cache_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent (the target dir)")
        .join("real-claude")
}

fn install(dir: &Path) -> PathBuf {
    let parent = dir.parent().expect("the cache dir has a parent");
    fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));
    let mut lock_name = dir.file_name().expect("a versioned dir").to_owned();
    lock_name.push(".lock");
    let lock_path = parent.join(lock_name);
    let lock_file = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("creating the install lock {}: {e}", lock_path.display()));
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking {}: {e}", lock_path.display()));
    let binary = dir.join(NATIVE_BINARY);
    if dir.join(DONE_MARK).is_file() {
        return binary;
    }
    if dir.exists() {
        fs::remove_dir_all(dir)
            .unwrap_or_else(|e| panic!("removing the unfinished install {}: {e}", dir.display()));
    }
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let spec = format!("{PACKAGE}@{CLAUDE_VERSION}");
    let out = Command::new("npm")
        // The package's postinstall only copies the platform package's
        // binary over its launcher stub; the tier runs that binary directly,
        // so skip it (it also needs a newer Node than Debian's).
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefix",
        ])
        .arg(dir)
        .arg(&spec)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the real-Claude tests need npm to install {spec} ({e}); install Node.js and npm \
                 (Debian: apt-get install npm), or run ./tests/run, which installs them"
            )
        });
    assert!(
        out.status.success(),
        "npm install {spec} into {} failed ({}); the real-Claude tests need npm and access to \
         the npm registry once (the install is cached there):\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {} --version after npm install: {e}; is this a linux-x64 machine?",
                binary.display()
            )
        });
    let printed = String::from_utf8_lossy(&version.stdout);
    assert!(
        printed.starts_with(CLAUDE_VERSION),
        "{} --version printed {printed:?}, not {CLAUDE_VERSION}; remove {} and rerun",
        binary.display(),
        dir.display()
    );
    fs::write(dir.join(DONE_MARK), CLAUDE_VERSION)
        .unwrap_or_else(|e| panic!("writing {}: {e}", dir.join(DONE_MARK).display()));
    binary
}
