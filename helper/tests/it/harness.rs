//! The integration-test environment, one for every test module: a scratch
//! root with its own HOME (a git identity in `home/.gitconfig`), real `git`,
//! the `claude-accounts` binary, the fake `claude`, and a manifest to edit.

#![allow(dead_code)] // each module uses its own subset

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

pub use crate::common::{FAKE_CLAUDE, read_json};

pub const HELPER: &str = env!("CARGO_BIN_EXE_claude-accounts");

/// A scratch world, paths canonical: `root/home` is HOME, `root/config` a
/// config dir for the fake claude run directly, `root/work` a cwd, `root/store`
/// a stand-in Nix store; manifests are written under `root`.
pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub config: PathBuf,
    pub work: PathBuf,
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
        let sub = |name: &str| {
            let p = root.join(name);
            std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
            p
        };
        let (home, config, work, store) = (sub("home"), sub("config"), sub("work"), sub("store"));
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        let mut accounts = serde_json::Map::new();
        for name in ["max", "pro"] {
            accounts.insert(name.into(), Self::account(&home, name));
        }
        let manifest = json!({
            "version": 1,
            "storeDir": store,
            "defaultAccount": null,
            "accountFor": {},
            "accounts": accounts,
            "defaultAccount": null,
            "accountFor": {},
        });
        TestEnv {
            tmp,
            root,
            home,
            config,
            work,
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
            "mcpOverlay": ".claude/.mcp.json",
            "knownMarketplaces": {},
            // Rendered by `write_manifest`, as the module renders them.
            "files": {"settings": "/nix/store/unrendered", "mcpConfig": "/nix/store/unrendered"},
            "profiles": {}
        })
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    pub fn account_dir(&self, name: &str) -> PathBuf {
        self.home.join(format!(".claude-{name}"))
    }

    /// Writes the current manifest as a new file (like a new generation) and
    /// returns its path. Like the module, it first renders each account's
    /// `files` (its settings and `{"mcpServers": ...}`) into this
    /// generation's store files, which the manifest then references.
    pub fn write_manifest(&mut self) -> PathBuf {
        self.generation += 1;
        let generation = self.generation;
        let store = self.store();
        for (name, account) in self.manifest["accounts"]
            .as_object_mut()
            .expect("accounts is an object")
        {
            let settings = account["settings"].clone();
            let servers = account["claudeJson"]
                .get("mcpServers")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let rendered = [
                ("settings", settings),
                ("mcpConfig", json!({ "mcpServers": servers })),
            ];
            for (field, value) in rendered {
                let file = store.join(format!("gen{generation}-{name}-{field}.json"));
                std::fs::write(&file, serde_json::to_vec(&value).unwrap()).unwrap();
                account["files"][field] = json!(file);
            }
        }
        let path = self.root.join(format!("manifest-{generation}.json"));
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

    /// `claude-accounts status --json` with the current manifest, which must
    /// succeed; its output parsed.
    pub fn status_json(&mut self) -> Value {
        let manifest = self.write_manifest();
        let root = self.root.clone();
        let out = self
            .helper(&root)
            .args(["status", "--json", "--manifest"])
            .arg(manifest)
            .output()
            .expect("running claude-accounts status");
        assert_success(&out);
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
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

    /// The canonical path of `relative` inside the root.
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

    /// The environment git (and the code under test) runs in: `PATH`, this
    /// HOME, no system git config.
    pub fn env(&self) -> Env {
        let mut vars = HashMap::new();
        if let Some(path) = std::env::var_os("PATH") {
            vars.insert("PATH".to_string(), path);
        }
        vars.insert("HOME".to_string(), self.home.clone().into());
        vars.insert("GIT_CONFIG_NOSYSTEM".to_string(), "1".into());
        Env(vars)
    }

    /// Runs git in `cwd` with [`TestEnv::env`]; its stdout, or a panic with
    /// its stderr.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        self.env()
            .git(cwd, args)
            .unwrap_or_else(|stderr| panic!("git {args:?} in {} failed: {stderr}", cwd.display()))
    }

    /// A new repository at `root/<relative>` with one empty commit.
    pub fn repo(&self, relative: &str) -> PathBuf {
        let path = self.mkdir(relative);
        self.init_repo(&path);
        path
    }

    /// A new repository with one empty commit at `dir` (created).
    pub fn init_repo(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        self.git(dir, &["init", "--quiet"]);
        self.git(
            dir,
            &["commit", "--quiet", "--allow-empty", "-m", "initial"],
        );
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

    /// The fake claude run directly, with a clean environment: only `PATH`,
    /// `HOME`, `CLAUDE_CONFIG_DIR=<config>`, in `<work>`.
    pub fn fake(&self) -> Command {
        self.fake_from(Path::new(FAKE_CLAUDE))
    }

    /// [`TestEnv::fake`], run from the binary at `program` (a copy of it).
    pub fn fake_from(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.config)
            .current_dir(&self.work)
            .stdin(Stdio::null());
        cmd
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

/// The runtimes `status --json` lists for `account`.
pub fn status_runtimes(status: &Value, account: &str) -> Vec<Value> {
    status["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter(|a| a["name"] == account)
        .flat_map(|a| a["runtimes"].as_array().expect("runtimes").clone())
        .collect()
}

/// The entry `status --json` has for the runtime dir `dir` of `account`.
#[track_caller]
pub fn status_runtime(status: &Value, account: &str, dir: &Path) -> Value {
    status_runtimes(status, account)
        .into_iter()
        .find(|r| r["dir"] == json!(dir))
        .unwrap_or_else(|| panic!("{} not listed for {account}: {status:#}", dir.display()))
}
