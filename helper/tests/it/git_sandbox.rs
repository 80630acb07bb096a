//! Helpers shared by the integration tests.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary directory with its own `HOME` holding a git config with a
/// user, so git commands run hermetically (`GIT_CONFIG_NOSYSTEM=1`, no
/// `GIT_*` variable of the test process leaks in).
pub struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let root = dir.path().canonicalize().expect("canonical temp dir");
        let sandbox = Sandbox { _dir: dir, root };
        sandbox.write(
            "home/.gitconfig",
            "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
        );
        sandbox
    }

    /// The canonical path of `relative` inside the sandbox.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Creates `relative` and its parents; returns its path.
    pub fn mkdir(&self, relative: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        path
    }

    /// Writes `contents` to `relative`, creating parents; returns its path.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("a parent"))
            .unwrap_or_else(|e| panic!("creating the parent of {}: {e}", path.display()));
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }

    /// The environment tests run git (and the code under test) in.
    pub fn env(&self) -> Env {
        let mut vars = HashMap::new();
        if let Some(path) = std::env::var_os("PATH") {
            vars.insert("PATH".to_string(), path);
        }
        vars.insert("HOME".to_string(), self.path("home").into());
        vars.insert("GIT_CONFIG_NOSYSTEM".to_string(), "1".into());
        Env(vars)
    }

    /// Runs git in `cwd` with [`Sandbox::env`]; panics unless it succeeds.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        self.env()
            .git(cwd, args)
            .unwrap_or_else(|stderr| panic!("git {args:?} in {} failed: {stderr}", cwd.display()))
    }

    /// `git init` of a new repository `relative` with one empty commit.
    pub fn repo(&self, relative: &str) -> PathBuf {
        let path = self.mkdir(relative);
        self.git(&path, &["init", "--quiet"]);
        self.git(
            &path,
            &["commit", "--quiet", "--allow-empty", "-m", "initial"],
        );
        path
    }
}

/// A set of environment variables, given to the code under test as a
/// lookup function and to child processes as their whole `GIT_*`, `PATH`
/// and `HOME` environment.
#[derive(Clone)]
pub struct Env(HashMap<String, OsString>);

impl Env {
    pub fn set(mut self, name: &str, value: impl Into<OsString>) -> Env {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// The lookup function code under test takes.
    pub fn lookup(&self) -> impl Fn(&str) -> Option<OsString> + '_ {
        |name| self.0.get(name).cloned()
    }

    /// Runs git in `cwd` with this environment: its stdout, or its stderr.
    /// The git binary is found through the test process's `PATH`, so a test
    /// can hide git from the code under test and still use it.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new(test_git());
        command.args(args).current_dir(cwd).env("LC_ALL", "C");
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("GIT_") || text == "HOME" || text == "PATH" {
                command.env_remove(&name);
            }
        }
        command.envs(&self.0);
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
        if output.status.success() {
            Ok(String::from_utf8(output.stdout).expect("UTF-8 git output"))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

/// The git binary on the test process's `PATH`.
fn test_git() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("git"))
                .find(|candidate| candidate.is_file())
        })
        .expect("git on PATH: these tests need real git")
}
