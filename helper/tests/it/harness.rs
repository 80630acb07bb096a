//! The integration-test environment: a scratch HOME, real `git`, the
//! `claude-accounts` binary and the fake `claude`.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

pub use crate::common::{FAKE_CLAUDE, read_json};

pub const HELPER: &str = env!("CARGO_BIN_EXE_claude-accounts");

/// A scratch world: `root/home` is HOME, manifests are written under `root`.
pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    /// The manifest as JSON; edit it, then [`TestEnv::write_manifest`].
    pub manifest: Value,
    generation: u32,
}

impl TestEnv {
    /// A HOME with two accounts, `max` (worktree isolation, one session per
    /// runtime) and `pro`, both running the fake claude.
    pub fn new() -> TestEnv {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("canonical tmp");
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let store = root.join("store");
        std::fs::create_dir_all(&store).unwrap();
        let mut accounts = serde_json::Map::new();
        for name in ["max", "pro"] {
            accounts.insert(name.into(), Self::account(&home, name));
        }
        let manifest = json!({
            "version": 1,
            "storeDir": store,
            "accounts": accounts,
        });
        TestEnv {
            tmp,
            root,
            home,
            manifest,
            generation: 0,
        }
    }

    /// A plain account definition.
    pub fn account(home: &Path, name: &str) -> Value {
        json!({
            "configDir": home.join(format!(".claude-{name}")),
            "claude": FAKE_CLAUDE,
            "settings": {
                "model": "opus",
                "permissions": {"allow": ["Bash(git status)"]}
            },
            "claudeJson": {
                "mcpServers": {"nix-server": {"type": "stdio", "command": "nix-mcp", "args": []}}
            },
            "seedKeys": ["oauthAccount", "userID", "hasCompletedOnboarding", "lastOnboardingVersion"],
            "projectSeedKeys": ["hasTrustDialogAccepted", "hasCompletedProjectOnboarding", "mcpServers"],
            "assets": [],
            "isolation": "worktree",
            "singleInstance": true,
            "environment": {},
            "environmentFiles": [],
            "secretFiles": {},
            "oauthTokenFile": null,
            "trustedProjects": [],
            "mcpOverlay": ".claude/.mcp.json"
        })
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    pub fn account_dir(&self, name: &str) -> PathBuf {
        self.home.join(format!(".claude-{name}"))
    }

    /// Writes the current manifest as a new file (like a new generation) and
    /// returns its path.
    pub fn write_manifest(&mut self) -> PathBuf {
        self.generation += 1;
        let path = self.root.join(format!("manifest-{}.json", self.generation));
        std::fs::write(&path, serde_json::to_vec_pretty(&self.manifest).unwrap()).unwrap();
        path
    }

    /// The helper binary with a hermetic environment.
    pub fn helper(&self, cwd: &Path) -> Command {
        let mut cmd = Command::new(HELPER);
        self.hermetic(&mut cmd, cwd);
        cmd
    }

    /// Sets a hermetic environment on `cmd`.
    pub fn hermetic(&self, cmd: &mut Command, cwd: &Path) {
        cmd.env_clear()
            .current_dir(cwd)
            .env("HOME", &self.home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdin(Stdio::null());
    }

    /// Runs `claude-accounts activate` with the current manifest.
    pub fn activate(&mut self, extra: &[&str]) -> Output {
        let manifest = self.write_manifest();
        let home = self.home.clone();
        let mut cmd = self.helper(&home);
        cmd.arg("activate")
            .arg("--manifest")
            .arg(manifest)
            .args(extra);
        cmd.output().expect("running claude-accounts")
    }

    /// `claude-accounts launch` of `account` in `cwd`, with fake-claude
    /// settings in `fake_env`, run to completion.
    pub fn launch<I, S>(
        &mut self,
        account: &str,
        cwd: &Path,
        args: I,
        fake_env: &[(&str, &str)],
    ) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.launch_cmd(account, cwd, args, fake_env)
            .output()
            .expect("running claude-accounts launch")
    }

    /// The `launch` command, not started.
    pub fn launch_cmd<I, S>(
        &mut self,
        account: &str,
        cwd: &Path,
        args: I,
        fake_env: &[(&str, &str)],
    ) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let manifest = self.write_manifest();
        let mut cmd = self.helper(cwd);
        cmd.arg("launch")
            .arg("--manifest")
            .arg(manifest)
            .arg("--account")
            .arg(account)
            .arg("--")
            .args(args);
        for (k, v) in fake_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts a long-running session (the fake claude runs until told to stop).
    pub fn spawn_session(&mut self, account: &str, cwd: &Path, fake_env: &[(&str, &str)]) -> Child {
        let mut cmd = self.launch_cmd(account, cwd, Vec::<&str>::new(), fake_env);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.spawn().expect("spawning claude-accounts launch")
    }

    /// A git repository with one commit at `root/<name>`.
    pub fn repo(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        self.git(&dir, &["init", "-q", "-b", "main"]);
        std::fs::write(dir.join("README"), "hello\n").unwrap();
        self.git(&dir, &["add", "README"]);
        self.git(&dir, &["commit", "-q", "-m", "init"]);
        dir
    }

    /// `git worktree add` of a new branch at `root/<name>`.
    pub fn worktree(&self, repo: &Path, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        self.git(
            repo,
            &["worktree", "add", "-q", "-b", name, dir.to_str().unwrap()],
        );
        dir
    }

    /// Runs git in `cwd`, panicking with its stderr on failure.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.hermetic(&mut cmd, cwd);
        let out = cmd.args(args).output().expect("running git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// Asserts a command succeeded, showing its output otherwise.
#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
