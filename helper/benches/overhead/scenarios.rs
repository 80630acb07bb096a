//! The measured scenarios, each in its own sandbox HOME under one temporary
//! root: apply per file size (with the floors and jq interleaved or beside
//! it), launch in a linked git worktree, and activate for 1 and 10 accounts.
//!
//! Every helper run goes through the real binary with a clean environment
//! (`HOME` and `PATH` only), the way Home Manager and `claude<name>` run it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::children::{
    ADD_SERVER, FLOOR_RUNTIME, FLOOR_VALIDATE, FLOOR_WRITE, FLOOR_WRITE_MANY, STAMP,
};
use crate::generate::{self, Variant};
use crate::measure::{Run, Runner};

/// The helper under test.
pub const HELPER: &str = env!("CARGO_BIN_EXE_claude-accounts");

pub const MB: usize = 1024 * 1024;

/// The jq pipeline of issue 5, as a user's startup script runs it.
const JQ_PIPELINE: &str = r#"jq --argjson m "$M" --argjson p "$P" --argjson e "$E" --argjson s "$S" --argjson h "$H" '. | .mcpServers = $m | .permissions = $p | .env = $e | .statusLine = $s | .hooks = $h' "$F" > "$F.tmp" && mv "$F.tmp" "$F""#;

/// Shared settings of a benchmark run.
pub struct Bench {
    pub root: PathBuf,
    /// This binary, re-executed for the floors and the stamping `claude`.
    pub exe: PathBuf,
    pub jq: bool,
    pub quick: bool,
}

impl Bench {
    /// Repetitions: more for fast cases, fewer in `--quick` mode.
    pub fn reps(&self, full: usize) -> usize {
        if self.quick {
            full.div_ceil(4).max(3)
        } else {
            full
        }
    }
}

fn path_env() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into())
}

/// `program` run through `runner`, with only `HOME` and `PATH` set.
fn clean(runner: &Runner, program: impl AsRef<std::ffi::OsStr>, home: &Path) -> Command {
    let mut cmd = runner.command(program);
    cmd.env_clear().env("PATH", path_env()).env("HOME", home);
    cmd
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn json_file(path: &Path, value: &serde_json::Value) {
    write(path, serde_json::to_vec_pretty(value).expect("JSON"));
}

/// What identifies one version of a path: inode, size, mtime and ctime (ns).
/// A directory's times change when an entry (a temp file, a lock) is
/// created in it.
type Identity = (u64, u64, i128, i128);

/// What must not change on disk when nothing is to be applied (`None`:
/// absent).
fn identities(paths: &[PathBuf]) -> Vec<Option<Identity>> {
    paths
        .iter()
        .map(|p| {
            fs::symlink_metadata(p).ok().map(|m| {
                let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
                (
                    m.ino(),
                    m.size(),
                    ns(m.mtime(), m.mtime_nsec()),
                    ns(m.ctime(), m.ctime_nsec()),
                )
            })
        })
        .collect()
}

/// The files and directories of an account dir that an apply could touch.
fn watched(config: &Path) -> Vec<PathBuf> {
    let records = config.join(".claude-accounts/last-applied");
    vec![
        config.to_path_buf(),
        config.join(".claude.json"),
        config.join("settings.json"),
        config.join(".claude-accounts"),
        records.clone(),
        records.join(".claude.json"),
        records.join("settings.json"),
    ]
}

fn inode(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("looking at {}: {e}", path.display()))
        .ino()
}

/// Alternates the declared configuration so that every apply changes
/// `.claude.json`; `current` is what is applied now.
pub struct Manifests {
    a: PathBuf,
    b: PathBuf,
    current: Variant,
}

impl Manifests {
    fn new(dir: &Path, accounts: &[&str], claude: &str) -> Manifests {
        let a = dir.join("manifest-a.json");
        let b = dir.join("manifest-b.json");
        json_file(&a, &generate::manifest(accounts, claude, Variant::A));
        json_file(&b, &generate::manifest(accounts, claude, Variant::B));
        Manifests {
            a,
            b,
            current: Variant::A,
        }
    }

    fn path(&self, v: Variant) -> &Path {
        match v {
            Variant::A => &self.a,
            Variant::B => &self.b,
        }
    }

    fn other(&self) -> Variant {
        match self.current {
            Variant::A => Variant::B,
            Variant::B => Variant::A,
        }
    }
}

fn activate(runner: &Runner, home: &Path, manifest: &Path) -> Command {
    let mut cmd = clean(runner, HELPER, home);
    cmd.arg("activate").arg("--manifest").arg(manifest);
    cmd
}

/// The apply scenario's files in `dir`: `home/.claude-bench/` with a
/// `size_mb` MB `.claude.json` and a user's `settings.json`, and the two
/// manifests; returns the `.claude.json` text.
pub fn setup_apply(dir: &Path, size_mb: usize) -> (String, Manifests) {
    let config = dir.join("home/.claude-bench");
    let text = generate::claude_json(size_mb * MB, None);
    write(&config.join(".claude.json"), &text);
    write(&config.join("settings.json"), generate::user_settings());
    (text, Manifests::new(dir, &["bench"], "/bin/true"))
}

/// Results of the apply scenario at one file size.
pub struct Apply {
    pub size_mb: usize,
    pub bytes: usize,
    pub change: Vec<Run>,
    pub noop: Vec<Run>,
    /// Whether every no-op apply left every watched path as it was.
    pub noop_wrote_nothing: bool,
    pub floor_validate: Vec<Run>,
    pub floor_write: Vec<Run>,
    pub jq: Vec<Run>,
}

/// Apply with a change and with nothing to change through `activate` (one
/// account whose `.claude.json` is `size_mb` MB), interleaved with the
/// floors on a copy of the same file; then the jq pipeline on another copy.
pub fn apply(b: &Bench, size_mb: usize, reps: usize, jq_reps: usize) -> Apply {
    let dir = b.root.join(format!("apply-{size_mb}"));
    let home = dir.join("home");
    let config = home.join(".claude-bench");
    let runner = Runner::new(&b.exe, &dir.join("scratch"));
    eprintln!("[overhead] generating a {size_mb} MB .claude.json");
    let (text, mut manifests) = setup_apply(&dir, size_mb);
    let floor_file = dir.join("floor/.claude.json");
    write(&floor_file, &text);
    let jq_file = dir.join("jq/.claude.json");
    // The first activation takes the declared keys over; untimed.
    runner.run(&mut activate(&runner, &home, &manifests.a));

    eprintln!("[overhead] apply at {size_mb} MB: {reps} runs each, floors interleaved");
    let floor = |mode: &str| {
        let mut cmd = clean(&runner, &b.exe, &home);
        cmd.arg(mode).arg(&floor_file);
        runner.run(&mut cmd)
    };
    let claude_json = config.join(".claude.json");
    let paths = watched(&config);
    let mut result = Apply {
        size_mb,
        bytes: text.len(),
        change: Vec::new(),
        noop: Vec::new(),
        noop_wrote_nothing: true,
        floor_validate: Vec::new(),
        floor_write: Vec::new(),
        jq: Vec::new(),
    };
    // One warm-up round, then the measured ones.
    for round in 0..=reps {
        let validate = floor(FLOOR_VALIDATE);
        let before = identities(&paths);
        let noop = runner.run(&mut activate(
            &runner,
            &home,
            manifests.path(manifests.current),
        ));
        if identities(&paths) != before {
            result.noop_wrote_nothing = false;
        }
        let write = floor(FLOOR_WRITE);
        let old = inode(&claude_json);
        let next = manifests.other();
        let change = runner.run(&mut activate(&runner, &home, manifests.path(next)));
        assert_ne!(
            inode(&claude_json),
            old,
            "activate did not rewrite {} although the declared MCP servers changed",
            claude_json.display()
        );
        manifests.current = next;
        if round > 0 {
            result.floor_validate.push(validate);
            result.noop.push(noop);
            result.floor_write.push(write);
            result.change.push(change);
        }
    }

    if b.jq {
        eprintln!("[overhead] jq pipeline at {size_mb} MB: {jq_reps} runs");
        let settings = generate::settings();
        let mut runs = Vec::new();
        for round in 0..=jq_reps {
            // Every run starts from the file Claude wrote (untimed).
            write(&jq_file, &text);
            let mut cmd = clean(&runner, "sh", &home);
            cmd.arg("-c")
                .arg(JQ_PIPELINE)
                .env("F", &jq_file)
                .env("M", generate::mcp_servers(Variant::A).to_string())
                .env("P", settings["permissions"].to_string())
                .env("E", settings["env"].to_string())
                .env("S", settings["statusLine"].to_string())
                .env("H", settings["hooks"].to_string());
            let run = runner.run(&mut cmd);
            if round > 0 {
                runs.push(run);
            }
        }
        result.jq = runs;
    }
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Results of the launch scenario.
pub struct Launch {
    /// Spawn to the stamp of the no-op `claude`, run directly (ms).
    pub direct_to_exec: Vec<f64>,
    pub direct: Vec<Run>,
    /// Spawn of `claude-accounts launch` to the stamp of its `claude` (ms).
    pub first_to_exec: Vec<f64>,
    pub first: Vec<Run>,
    pub cold_to_exec: Vec<f64>,
    pub cold: Vec<Run>,
    pub again_to_exec: Vec<f64>,
    pub again: Vec<Run>,
    pub again_big_to_exec: Vec<f64>,
    pub again_big: Vec<Run>,
    /// Spawn of the runtime-entries floor to its stamp (ms).
    pub floor_to_exec: Vec<f64>,
    pub floor: Vec<Run>,
    pub account_bytes: usize,
    pub runtime_bytes: usize,
}

/// `git` with a predictable environment; `None` when git cannot run.
fn git(home: &Path, dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .env_clear()
        .env("PATH", path_env())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("git output is UTF-8"))
}

/// `dir/repo`, a repository with one commit, and a linked worktree
/// `dir/<name>` on a branch of that name for each of `worktrees`; `None`
/// when git cannot run.
fn repo_with_worktrees(home: &Path, dir: &Path, worktrees: &[&str]) -> Option<PathBuf> {
    let repo = dir.join("repo");
    fs::create_dir_all(&repo).expect("creating the repo dir");
    git(home, &repo, &["init", "--quiet"])?;
    git(
        home,
        &repo,
        &["commit", "--quiet", "--allow-empty", "-m", "init"],
    )?;
    for name in worktrees {
        let wt = dir.join(name);
        let wt = wt.to_str().expect("UTF-8 path");
        git(home, &repo, &["worktree", "add", "--quiet", "-b", name, wt])?;
    }
    Some(repo)
}

/// The launch scenario's files: a repository with three linked worktrees, an
/// account whose `claude` is a given no-op, activated as after a switch.
pub struct LaunchSandbox {
    pub home: PathBuf,
    pub manifest: PathBuf,
    /// Its runtime dir is removed before each first launch.
    pub wt_first: PathBuf,
    pub rt_first: PathBuf,
    /// Its runtime dir exists, with the `.claude.json` a runtime has after
    /// use: identity, caches, this project's entry and history.
    pub wt_again: PathBuf,
    pub runtime_bytes: usize,
    /// Its runtime dir exists, with a 1 MB `.claude.json` of its own.
    pub wt_again_big: PathBuf,
    pub account_bytes: usize,
}

/// `claude-accounts launch` of the account in `wt`, running `claude_args`.
fn launch_command(
    runner: &Runner,
    home: &Path,
    manifest: &Path,
    wt: &Path,
    claude_args: &[&str],
) -> Command {
    let mut cmd = clean(runner, HELPER, home);
    cmd.args(["launch", "--manifest"])
        .arg(manifest)
        .args(["--account", "bench", "--"])
        .args(claude_args)
        .current_dir(wt);
    cmd
}

impl LaunchSandbox {
    /// `claude-accounts launch` of the account in `wt`, running `claude_args`.
    pub fn launch(&self, runner: &Runner, wt: &Path, claude_args: &[&str]) -> Command {
        launch_command(runner, &self.home, &self.manifest, wt, claude_args)
    }

    /// Removes the first worktree's runtime dir and its registry entry, so
    /// the next launch there is a first launch; with `cache` also the
    /// account's sync cache, as for the first worktree of a project never
    /// launched before (or after the account's `.claude.json` changed).
    pub fn forget_first(&self, cache: bool) {
        if cache {
            let cache = self
                .home
                .join(".claude-bench/.claude-accounts/sync-cache.json");
            let _ = fs::remove_file(cache);
        }
        forget_runtime(&self.home, &self.rt_first);
    }
}

/// Removes the runtime dir `rt` of the account `bench` and its registry
/// entry, so that the next launch there is a first launch.
fn forget_runtime(home: &Path, rt: &Path) {
    let _ = fs::remove_dir_all(rt);
    let registry = home.join(".local/state/claude-accounts/bench/runtimes");
    let path = rt.to_str().expect("UTF-8 path");
    for entry in fs::read_dir(&registry).into_iter().flatten().flatten() {
        let names_it = fs::read(entry.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|e| e["path"] == path);
        if names_it {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Builds the launch sandbox in `dir` with `claude` (run as `claude
/// <claude_args>`) as the account's claude; `None` when git is not available.
pub fn setup_launch(
    dir: &Path,
    runner: &Runner,
    claude: &Path,
    claude_args: &[&str],
) -> Option<LaunchSandbox> {
    let home = dir.join("home");
    let repo = repo_with_worktrees(&home, dir, &["wt-first", "wt-again", "wt-again-big"])?;
    let git_dir = |wt: &Path| {
        let out = git(&home, wt, &["rev-parse", "--absolute-git-dir"]).expect("git ran before");
        PathBuf::from(out.trim())
    };
    let (wt_first, wt_again) = (dir.join("wt-first"), dir.join("wt-again"));
    let wt_again_big = dir.join("wt-again-big");
    let rt_first = git_dir(&wt_first).join("claude-runtime/bench");

    let project = repo.to_str().expect("UTF-8 path");
    let text = generate::claude_json(MB, Some(project));
    let config = home.join(".claude-bench");
    write(&config.join(".claude.json"), &text);
    write(&config.join("settings.json"), generate::user_settings());
    let claude = claude.to_str().expect("UTF-8 path");
    let manifests = Manifests::new(dir, &["bench"], claude);
    // As after `home-manager switch`: the account dir is activated.
    runner.run(&mut activate(runner, &home, &manifests.a));
    // A runtime's own .claude.json after use: what Claude Code keeps there
    // besides the synced keys (caches, this project's history), no other project.
    let used = generate::claude_json(0, Some(project));
    // The re-launch worktrees: a runtime dir made by a launch, its
    // .claude.json then replaced as use by Claude Code would (one as usual,
    // one grown to 1 MB), then a launch applying the declared keys to it.
    for (wt, content) in [(&wt_again, &used), (&wt_again_big, &text)] {
        let rt = git_dir(wt).join("claude-runtime/bench");
        let relaunch = || {
            runner.run(&mut launch_command(
                runner,
                &home,
                &manifests.a,
                wt,
                claude_args,
            ))
        };
        relaunch();
        write(&rt.join(".claude.json"), content);
        relaunch();
    }
    Some(LaunchSandbox {
        home,
        manifest: manifests.a,
        wt_first,
        rt_first,
        wt_again,
        runtime_bytes: used.len(),
        wt_again_big,
        account_bytes: text.len(),
    })
}

/// Launch in three linked worktrees of one repository: a first launch (the
/// worktree's runtime dir removed before each run, so it is created and
/// seeded from the account's 1 MB `.claude.json`), a re-launch (the runtime
/// dir exists, with the `.claude.json` use leaves there), and a re-launch
/// whose runtime `.claude.json` is 1 MB too (stricter than the issue asks).
/// Interleaved with the no-op `claude` run directly, whose start-up is the
/// baseline.
/// `None` when git is not available.
pub fn launch(b: &Bench, reps: usize) -> Option<Launch> {
    let dir = b.root.join("launch");
    let runner = Runner::new(&b.exe, &dir.join("scratch"));
    eprintln!("[overhead] launch: generating the account's 1 MB .claude.json");
    let sb = setup_launch(&dir, &runner, &b.exe, &[STAMP])?;
    let launch_in = |wt: &Path| {
        let run = runner.run(&mut sb.launch(&runner, wt, &[STAMP]));
        (stamp(&runner, &run), run)
    };

    eprintln!("[overhead] launch in a linked worktree: {reps} runs each");
    let mut result = Launch {
        direct_to_exec: Vec::new(),
        direct: Vec::new(),
        first_to_exec: Vec::new(),
        first: Vec::new(),
        cold_to_exec: Vec::new(),
        cold: Vec::new(),
        again_to_exec: Vec::new(),
        again: Vec::new(),
        again_big_to_exec: Vec::new(),
        again_big: Vec::new(),
        floor_to_exec: Vec::new(),
        floor: Vec::new(),
        account_bytes: sb.account_bytes,
        runtime_bytes: sb.runtime_bytes,
    };
    for round in 0..=reps {
        let mut cmd = clean(&runner, &b.exe, &sb.home);
        cmd.arg(STAMP).current_dir(&sb.wt_first);
        let direct = runner.run(&mut cmd);
        let direct_to_exec = stamp(&runner, &direct);
        sb.forget_first(true);
        let (cold_to_exec, cold) = launch_in(&sb.wt_first);
        sb.forget_first(false);
        let (first_to_exec, first) = launch_in(&sb.wt_first);
        assert!(
            sb.rt_first.join(".claude.json").is_file(),
            "the first launch did not create {}",
            sb.rt_first.display()
        );
        let (again_to_exec, again) = launch_in(&sb.wt_again);
        let (again_big_to_exec, again_big) = launch_in(&sb.wt_again_big);
        // The floor's dir beside the first worktree's runtime dir (one
        // filesystem), made anew each round as that runtime dir is.
        let floor_dir = sb.rt_first.with_file_name("floor");
        let floor_entry = sb.home.join(".local/state/claude-accounts/floor-entry");
        let _ = fs::remove_dir_all(&floor_dir);
        let _ = fs::remove_file(&floor_entry);
        let mut cmd = clean(&runner, &b.exe, &sb.home);
        cmd.arg(FLOOR_RUNTIME)
            .args([&floor_dir, &sb.home.join(".claude-bench"), &floor_entry])
            .current_dir(&sb.wt_first);
        let floor = runner.run(&mut cmd);
        let floor_to_exec = stamp(&runner, &floor);
        if round > 0 {
            result.floor_to_exec.push(floor_to_exec);
            result.floor.push(floor);
            result.direct_to_exec.push(direct_to_exec);
            result.direct.push(direct);
            result.first_to_exec.push(first_to_exec);
            result.first.push(first);
            result.cold_to_exec.push(cold_to_exec);
            result.cold.push(cold);
            result.again_to_exec.push(again_to_exec);
            result.again.push(again);
            result.again_big_to_exec.push(again_big_to_exec);
            result.again_big.push(again_big);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    Some(result)
}

/// Milliseconds from the spawn of `run` to the stamp its `claude` printed.
fn stamp(runner: &Runner, run: &Run) -> f64 {
    let out = runner.last_stdout();
    let ns: u64 = out
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("the no-op claude printed no stamp: {out:?}"));
    (ns - run.start_ns) as f64 / 1e6
}

/// Results of activate for several accounts.
pub struct Activate {
    pub accounts: usize,
    pub change: Vec<Run>,
    pub noop: Vec<Run>,
    /// The floor of the change: every account's `.claude.json` read,
    /// validated and written back durably, as many at a time as
    /// `activate` takes.
    pub floor: Vec<Run>,
}

/// `activate` with `accounts` accounts, each with a 1 MB `.claude.json`:
/// with nothing to change, and with a changed MCP server in every account.
pub fn activate_accounts(b: &Bench, accounts: usize, reps: usize) -> Activate {
    let dir = b.root.join(format!("activate-{accounts}"));
    let home = dir.join("home");
    let runner = Runner::new(&b.exe, &dir.join("scratch"));
    let text = generate::claude_json(MB, None);
    let names: Vec<String> = (1..=accounts).map(|i| format!("a{i:02}")).collect();
    for name in &names {
        let config = home.join(format!(".claude-{name}"));
        write(&config.join(".claude.json"), &text);
        write(&config.join("settings.json"), generate::user_settings());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut manifests = Manifests::new(&dir, &refs, "/bin/true");
    runner.run(&mut activate(&runner, &home, &manifests.a));
    eprintln!("[overhead] activate with {accounts} accounts: {reps} runs each");
    let mut result = Activate {
        accounts,
        change: Vec::new(),
        noop: Vec::new(),
        floor: Vec::new(),
    };
    // The floor's copies, beside the accounts (one filesystem).
    let files: Vec<PathBuf> = names
        .iter()
        .map(|name| {
            let path = dir.join(format!("floor/{name}.json"));
            write(&path, &text);
            path
        })
        .collect();
    for round in 0..=reps {
        let noop = runner.run(&mut activate(
            &runner,
            &home,
            manifests.path(manifests.current),
        ));
        let next = manifests.other();
        let change = runner.run(&mut activate(&runner, &home, manifests.path(next)));
        manifests.current = next;
        let mut cmd = clean(&runner, &b.exe, &home);
        cmd.arg(FLOOR_WRITE_MANY)
            .arg(claude_accounts::activate::WORKERS.to_string())
            .args(&files);
        let floor = runner.run(&mut cmd);
        if round > 0 {
            result.noop.push(noop);
            result.change.push(change);
            result.floor.push(floor);
        }
    }
    let _ = fs::remove_dir_all(&dir);
    result
}

/// Results of the account-wide sync with a large account `.claude.json`.
pub struct Sync {
    pub account_bytes: usize,
    pub direct_to_exec: Vec<f64>,
    pub direct: Vec<Run>,
    /// Re-launch in a worktree: the account's values come from its cache.
    pub again_to_exec: Vec<f64>,
    pub again: Vec<Run>,
    /// First launch in a worktree with the cache gone: the account's synced
    /// members are picked out of its file.
    pub cold_to_exec: Vec<f64>,
    pub cold: Vec<Run>,
    /// A whole session that adds a user-scope MCP server: at its end the
    /// server is written into the account's file.
    pub share: Vec<Run>,
}

/// The account-wide sync against an account `.claude.json` of `size_mb`:
/// a re-launch (cache), a first launch with no cache, and a session whose
/// end shares a new server with the account. `None` without git.
pub fn sync(b: &Bench, size_mb: usize, reps: usize) -> Option<Sync> {
    let dir = b.root.join("sync");
    let runner = Runner::new(&b.exe, &dir.join("scratch"));
    let home = dir.join("home");
    let repo = repo_with_worktrees(&home, &dir, &["wt-again", "wt-cold"])?;
    let (wt_again, wt_cold) = (dir.join("wt-again"), dir.join("wt-cold"));
    let rt_cold = repo.join(".git/worktrees/wt-cold/claude-runtime/bench");
    eprintln!("[overhead] sync: generating the account's {size_mb} MB .claude.json");
    let text = generate::claude_json(size_mb * MB, repo.to_str());
    let config = home.join(".claude-bench");
    write(&config.join(".claude.json"), &text);
    write(&config.join("settings.json"), generate::user_settings());
    let manifests = Manifests::new(&dir, &["bench"], b.exe.to_str().expect("UTF-8"));
    runner.run(&mut activate(&runner, &home, &manifests.a));
    let launch = |wt: &Path, args: &[&str]| launch_command(&runner, &home, &manifests.a, wt, args);
    runner.run(&mut launch(&wt_again, &[STAMP]));
    let cache = config.join(".claude-accounts/sync-cache.json");

    eprintln!("[overhead] sync with a {size_mb} MB account: {reps} runs each");
    let mut result = Sync {
        account_bytes: text.len(),
        direct_to_exec: Vec::new(),
        direct: Vec::new(),
        again_to_exec: Vec::new(),
        again: Vec::new(),
        cold_to_exec: Vec::new(),
        cold: Vec::new(),
        share: Vec::new(),
    };
    for round in 0..=reps {
        let mut cmd = clean(&runner, &b.exe, &home);
        cmd.arg(STAMP).current_dir(&wt_again);
        let direct = runner.run(&mut cmd);
        let direct_to_exec = stamp(&runner, &direct);
        // The session that shares a server changes the account's file;
        // the first launch after it, with no cache, refreshes the cache;
        // the re-launch then finds the account's values there.
        let server = format!("bench-{round}");
        let share = runner.run(&mut launch(&wt_again, &[ADD_SERVER, &server]));
        let _ = fs::remove_file(&cache);
        forget_runtime(&home, &rt_cold);
        let cold = runner.run(&mut launch(&wt_cold, &[STAMP]));
        let cold_to_exec = stamp(&runner, &cold);
        let again = runner.run(&mut launch(&wt_again, &[STAMP]));
        let again_to_exec = stamp(&runner, &again);
        if round > 0 {
            result.direct_to_exec.push(direct_to_exec);
            result.direct.push(direct);
            result.again_to_exec.push(again_to_exec);
            result.again.push(again);
            result.cold_to_exec.push(cold_to_exec);
            result.cold.push(cold);
            result.share.push(share);
        }
    }
    let account: serde_json::Value =
        serde_json::from_slice(&fs::read(config.join(".claude.json")).expect("account file"))
            .expect("the account file stays JSON");
    assert!(
        account["mcpServers"][format!("bench-{reps}")].is_object(),
        "the last shared server did not reach the account"
    );
    let _ = fs::remove_dir_all(&dir);
    Some(result)
}
