//! `claude-accounts launch`, `status` and `close` with real git worktrees and
//! the fake claude.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{claude_layout, wait_until, write};
use crate::harness::*;

/// Waits (bounded) until `path` exists.
pub(crate) fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the fake claude once and returns its report.
pub(crate) fn run_report(
    env: &mut TestEnv,
    account: &str,
    cwd: &Path,
    args: &[&str],
    actions: &str,
) -> Value {
    launch_reporting(env, account, cwd, args, &[("FAKE_CLAUDE_ACTIONS", actions)]).1
}

/// Logs `max` in as a user first would: a session outside any repository
/// (so in the account dir itself) running the fake claude's `login` action;
/// returns that directory.
pub(crate) fn log_in_outside_git(env: &mut TestEnv, login: &str) -> PathBuf {
    let plain = env.root.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    run_report(env, "max", &plain, &[], login);
    plain
}

/// Runs one session to completion with the fake claude's settings in
/// `fake_env`, requires success, and returns the output and claude's report.
pub(crate) fn launch_reporting(
    env: &mut TestEnv,
    account: &str,
    cwd: &Path,
    args: &[&str],
    fake_env: &[(&str, &str)],
) -> (std::process::Output, Value) {
    let report = env.root.join(format!("report-{}.json", rand_suffix()));
    let mut vars = vec![("FAKE_CLAUDE_REPORT", report.to_str().unwrap())];
    vars.extend_from_slice(fake_env);
    let out = env.launch(account, cwd, args, &vars);
    assert_success(&out);
    let report = read_json(&report);
    (out, report)
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub(crate) fn config_dir(report: &Value) -> PathBuf {
    PathBuf::from(report["configDir"].as_str().expect("configDir in report"))
}

/// A long-running session and the path of its report.
pub(crate) fn start_session(
    env: &mut TestEnv,
    account: &str,
    cwd: &Path,
    extra: &[(&str, &str)],
) -> (Child, Value) {
    let report = env.root.join(format!("report-{}.json", rand_suffix()));
    let mut fake = vec![
        ("FAKE_CLAUDE_REPORT", report.to_str().unwrap()),
        ("FAKE_CLAUDE_RUN_MS", "forever"),
    ];
    fake.extend_from_slice(extra);
    let child = env.spawn_session(account, cwd, &fake);
    wait_for(&report);
    // The report is written atomically; give a rename a moment if needed.
    (child, read_json(&report))
}

pub(crate) fn stop(mut child: Child) -> std::process::ExitStatus {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap()
}

#[test]
fn the_context_matrix_picks_the_right_runtime_dir() {
    let mut env = TestEnv::new();
    let account_dir = env.account_dir("max");
    let plain = env.root.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let repo = env.repo("repo");
    let sub = repo.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let wt = env.worktree(&repo, "wt");
    let bare = env.root.join("bare.git");
    env.git(
        &env.root,
        &[
            "clone",
            "-q",
            "--bare",
            repo.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let lib = env.repo("lib");
    env.git(
        &repo,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            lib.to_str().unwrap(),
            "vendor/lib",
        ],
    );

    let cases: Vec<(&str, PathBuf, PathBuf)> = vec![
        ("not in git", plain.clone(), account_dir.clone()),
        (
            "main worktree",
            repo.clone(),
            repo.join(".git/claude-runtime/max"),
        ),
        (
            "main worktree subdir",
            sub.clone(),
            repo.join(".git/claude-runtime/max"),
        ),
        (
            "linked worktree",
            wt.clone(),
            repo.join(".git/worktrees/wt/claude-runtime/max"),
        ),
        ("bare repository", bare.clone(), account_dir.clone()),
        (
            "submodule",
            repo.join("vendor/lib"),
            repo.join(".git/modules/vendor/lib/claude-runtime/max"),
        ),
    ];
    for (what, cwd, expect) in cases {
        let report = run_report(&mut env, "max", &cwd, &[], "");
        assert_eq!(config_dir(&report), expect, "{what}");
        assert_eq!(report["env"]["CLAUDE_CONFIG_DIR"], json!(expect), "{what}");
    }
    // Isolation `account` always uses the account dir.
    env.manifest["accounts"]["max"]["isolation"] = "account".into();
    assert_eq!(
        config_dir(&run_report(&mut env, "max", &wt, &[], "")),
        account_dir
    );
}

#[test]
fn arguments_pass_through_untouched() {
    let mut env = TestEnv::new();
    let dir = env.root.clone();
    for args in [
        vec!["mcp", "list"],
        vec!["--resume", "abc def", "--", "-p", "it's \"quoted\"", ""],
        vec!["--settings", "{\"a\": 1}", "--model=opus"],
    ] {
        let report = run_report(&mut env, "max", &dir, &args, "");
        assert_eq!(report["args"], json!(args));
    }
}

#[test]
fn four_sessions_two_worktrees_two_accounts_no_cross_talk() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let mut sessions = Vec::new();
    for account in ["max", "pro"] {
        for cwd in [&repo, &wt] {
            let (child, report) = start_session(
                &mut env,
                account,
                cwd,
                &[
                    (
                        "FAKE_CLAUDE_ACTIONS",
                        &format!("startup,set-key:whoami=\"{account}\""),
                    ),
                    ("FAKE_CLAUDE_WRITE_HZ", "20"),
                ],
            );
            sessions.push((child, config_dir(&report), account));
        }
    }
    let dirs: std::collections::BTreeSet<_> = sessions.iter().map(|(_, d, _)| d.clone()).collect();
    assert_eq!(dirs.len(), 4, "four separate runtime dirs: {dirs:?}");
    std::thread::sleep(Duration::from_millis(300));
    for (child, dir, account) in sessions {
        assert_eq!(
            stop(child).code(),
            Some(128 + libc::SIGTERM),
            "exit status of a SIGTERMed claude"
        );
        let state = read_json(&dir.join(".claude.json"));
        assert_eq!(state["whoami"], json!(account), "{}", dir.display());
        assert!(
            !dir.join("backups").exists()
                || std::fs::read_dir(dir.join("backups"))
                    .unwrap()
                    .next()
                    .is_none(),
            "no corrupted-file backups in {}",
            dir.display()
        );
    }
}

#[test]
fn single_instance_per_worktree_and_crashes_free_the_lock() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let (first, _) = start_session(&mut env, "max", &repo, &[]);
    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Claude Code (max) is already running in")
            && err.contains(&repo.display().to_string())
            && err.contains(&format!("pid {}", first.id()))
            && err.contains("claude-close max"),
        "{err}"
    );
    // Another worktree starts.
    let report = run_report(&mut env, "max", &wt, &[], "");
    assert!(config_dir(&report).starts_with(repo.join(".git/worktrees/wt")));
    // SIGKILL of the session frees the lock.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    let report = run_report(&mut env, "max", &repo, &[], "");
    assert_eq!(config_dir(&report), repo.join(".git/claude-runtime/max"));
}

#[test]
fn a_left_behind_child_does_not_hold_the_lock() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let log = env.root.join("fake.log");
    let out = env.launch(
        "max",
        &repo,
        Vec::<&str>::new(),
        &[
            ("FAKE_CLAUDE_ACTIONS", "spawn-child:30"),
            ("FAKE_CLAUDE_LOG", log.to_str().unwrap()),
        ],
    );
    assert_success(&out);
    let child: i32 = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "spawn-child")
        .and_then(|e| e["childPid"].as_i64())
        .expect("the fake logged its child") as i32;
    assert_eq!(
        unsafe { libc::kill(child, 0) },
        0,
        "the left-behind child is alive"
    );
    let report = run_report(&mut env, "max", &repo, &[], "");
    assert_eq!(
        config_dir(&report),
        repo.join(".git/claude-runtime/max"),
        "relaunch while the child lives"
    );
    // Nothing of the launcher leaked into claude: no lock fd among its open files.
    let fds = report["openFds"].to_string();
    assert!(
        !fds.contains("session.lock"),
        "claude inherited the session lock: {fds}"
    );
    unsafe { libc::kill(child, libc::SIGKILL) };
}

#[test]
fn relaunch_after_a_manifest_change_applies_exactly_that() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let report = run_report(
        &mut env,
        "max",
        &repo,
        &[],
        "startup,add-mcp:user-srv,set-model:sonnet,set-key:custom=42",
    );
    let rt = config_dir(&report);
    let before = read_json(&rt.join(".claude.json"));
    assert_eq!(
        before["mcpServers"]["user-srv"]["command"]
            .as_str()
            .is_some(),
        true
    );

    let max = &mut env.manifest["accounts"]["max"];
    max["claudeJson"]["mcpServers"] = json!({"added": {"command": "added-mcp"}});
    max["settings"]["permissions"]["allow"] = json!(["Bash(make)"]);
    run_report(&mut env, "max", &repo, &[], "");

    let after = read_json(&rt.join(".claude.json"));
    assert_eq!(
        after["mcpServers"],
        json!({"user-srv": before["mcpServers"]["user-srv"], "added": {"command": "added-mcp"}})
    );
    let mut expect = before.clone();
    expect["mcpServers"] = after["mcpServers"].clone();
    for key in ["numStartups", "projects"] {
        // the second fake run did nothing, so Claude's keys are as it left them
        assert_eq!(after[key], before[key], "{key}");
    }
    assert_eq!(after["custom"], 42);
    let settings = read_json(&rt.join("settings.json"));
    assert_eq!(settings["permissions"]["allow"], json!(["Bash(make)"]));
    assert_eq!(settings["model"], "opus", "Nix's model wins over /model");
}

#[test]
fn a_fresh_worktree_is_the_account_logged_in_with_no_credentials_of_its_own() {
    let mut env = TestEnv::new();
    let account_dir = env.account_dir("max");
    // Log in once outside git (the account dir).
    log_in_outside_git(&mut env, "login");
    let account_state = read_json(&account_dir.join(".claude.json"));
    assert!(account_state.get("oauthAccount").is_some());

    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "fresh");
    let report = run_report(&mut env, "max", &wt, &[], "startup,set-model:haiku");
    let rt = config_dir(&report);
    assert_ne!(rt, account_dir);
    assert_eq!(
        report["env"]["CLAUDE_SECURESTORAGE_CONFIG_DIR"],
        account_dir.to_str().unwrap(),
        "the account's login and refresh lock"
    );
    let state = read_json(&rt.join(".claude.json"));
    for key in ["oauthAccount", "userID", "hasCompletedOnboarding"] {
        assert_eq!(state[key], account_state[key], "{key} synced");
    }
    assert!(
        std::fs::symlink_metadata(rt.join(".credentials.json")).is_err(),
        "no credentials in a runtime dir"
    );
    // Everything Claude wrote outside .claude.json is the account's.
    let mut own = Vec::new();
    for entry in std::fs::read_dir(&rt).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        match std::fs::read_link(rt.join(&name)) {
            Ok(target) => assert_eq!(target, account_dir.join(&name), "{name}"),
            Err(_) => own.push(name),
        }
    }
    own.sort();
    assert_eq!(own, [".claude-accounts", ".claude.json"]);
    assert_eq!(
        read_json(&account_dir.join("settings.json"))["model"],
        "haiku"
    );
    let transcripts = account_dir.join("projects").join(sanitize(&wt));
    assert!(transcripts.is_dir(), "{} missing", transcripts.display());
}

/// Claude's name for a project directory: every non-alphanumeric character
/// as `-`.
pub(crate) fn sanitize(dir: &Path) -> String {
    dir.to_str()
        .unwrap()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[test]
fn a_new_worktree_gets_the_projects_seed_keys_and_nothing_else_of_its_entry() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let key = repo.to_str().unwrap();
    let account_file = env.account_dir("max").join(".claude.json");
    let mut account_state = read_json(&account_file);
    let history: Vec<Value> = (0..200)
        .map(|i| json!({"display": format!("prompt {i} with \"quotes\" and {{braces}}")}))
        .collect();
    account_state["projects"] = json!({key: {
        "history": history,
        "allowedTools": ["Bash(make)"],
        "hasCompletedProjectOnboarding": true,
        "hasTrustDialogAccepted": true,
    }});
    write(&account_file, &claude_layout(&account_state));
    let wt = env.worktree(&repo, "fresh");
    std::fs::create_dir_all(wt.join(".claude")).unwrap();
    std::fs::write(
        wt.join(".claude/.mcp.json"),
        r#"{"mcpServers": {"db": {"command": "pg-mcp"}}}"#,
    )
    .unwrap();

    let (out, report) = launch_reporting(&mut env, "max", &wt, &[], &[]);
    let state = read_json(&config_dir(&report).join(".claude.json"));
    assert_eq!(
        state["projects"],
        json!({key: {"hasCompletedProjectOnboarding": true, "hasTrustDialogAccepted": true}}),
        "only the project seed keys the account has"
    );
    assert_eq!(
        state["mcpServers"]["db"],
        json!({"command": "pg-mcp"}),
        "the seeded trust flag makes the overlay trusted: {}",
        stderr(&out)
    );
}

/// A project's prompt history of about 300 KB in Claude's layout, whose
/// prompts quote `"<key>": 1` after a newline, as a top-level member of the
/// file would look if JSON strings could hold raw newlines.
fn long_history(key: &str) -> Value {
    (0..6000)
        .map(|i| json!({"display": format!("prompt {i}: \"quoted\"\n  \"{key}\": 1")}))
        .collect()
}

#[test]
fn a_login_in_a_worktree_is_the_accounts_and_reaches_other_worktrees() {
    use std::os::unix::fs::MetadataExt;
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let account_dir = env.account_dir("max");
    let account_file = account_dir.join(".claude.json");
    let wt = env.worktree(&repo, "one");
    let (out, report) = launch_reporting(
        &mut env,
        "max",
        &wt,
        &[],
        &[("FAKE_CLAUDE_ACTIONS", "login:wt@example.com")],
    );
    assert!(
        stderr(&out).contains("shared with the account"),
        "{}",
        stderr(&out)
    );
    let mut account = read_json(&account_file);
    assert_eq!(account["oauthAccount"]["emailAddress"], "wt@example.com");
    assert!(account["userID"].is_string());
    assert!(
        account_dir.join(".credentials.json").is_file(),
        "the login is the account's"
    );
    assert!(!config_dir(&report).join(".credentials.json").exists());

    // A large account file in Claude's layout (read without a full parse)
    // that already has the keys is left alone by the next sessions.
    let history = long_history("userID");
    account["projects"] = json!({"/elsewhere": {"history": history}});
    write(&account_file, &claude_layout(&account));
    assert!(std::fs::metadata(&account_file).unwrap().len() > 256 << 10);
    let before = std::fs::metadata(&account_file).unwrap();
    let two = env.worktree(&repo, "two");
    for _ in 0..2 {
        let (out, _) = launch_reporting(&mut env, "max", &two, &[], &[]);
        assert!(!stderr(&out).contains("shared"), "{}", stderr(&out));
    }
    let after = std::fs::metadata(&account_file).unwrap();
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (before.ino(), before.mtime(), before.mtime_nsec()),
        "the account file was rewritten"
    );

    // A new login in the account (outside git) reaches the worktrees at
    // their next launch; a removal too.
    log_in_outside_git(&mut env, "login:new@example.com");
    let mut account = read_json(&account_file);
    account
        .as_object_mut()
        .unwrap()
        .remove("hasCompletedOnboarding");
    write(&account_file, &claude_layout(&account));
    let report = run_report(&mut env, "max", &wt, &[], "");
    let state = read_json(&config_dir(&report).join(".claude.json"));
    assert_eq!(state["oauthAccount"]["emailAddress"], "new@example.com");
    assert_eq!(state.get("hasCompletedOnboarding"), None, "{state}");
}

#[test]
fn a_large_runtime_file_is_left_alone_until_something_changes() {
    use std::os::unix::fs::MetadataExt;
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let key = repo.to_str().unwrap();
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], ""));
    let path = rt.join(".claude.json");
    // What a long-used runtime holds: this project's history, trusted.
    let mut state = read_json(&path);
    let history = long_history("mcpServers");
    state["projects"] = json!({key: {"hasTrustDialogAccepted": true, "history": history}});
    write(&path, &claude_layout(&state));
    assert!(std::fs::metadata(&path).unwrap().len() > 256 << 10);
    let identity = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let before = identity(&path);
    run_report(&mut env, "max", &repo, &[], "");
    assert_eq!(identity(&path), before, "a re-launch rewrote it");

    // The project's overlay (trusted by Claude's flag) is a change.
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    std::fs::write(
        repo.join(".claude/.mcp.json"),
        r#"{"mcpServers": {"db": {"command": "pg-mcp"}}}"#,
    )
    .unwrap();
    run_report(&mut env, "max", &repo, &[], "");
    let after = read_json(&path);
    assert_eq!(after["mcpServers"]["db"], json!({"command": "pg-mcp"}));
    assert_eq!(after["projects"], state["projects"]);
}

#[test]
fn credentials_refreshed_in_a_worktree_are_the_accounts_and_old_runtimes_are_migrated() {
    let mut env = TestEnv::new();
    let account_dir = env.account_dir("max");
    log_in_outside_git(&mut env, "login");
    let before = std::fs::read(account_dir.join(".credentials.json")).unwrap();
    let repo = env.repo("repo");
    let (_, report) = launch_reporting(
        &mut env,
        "max",
        &repo,
        &[],
        &[("FAKE_CLAUDE_ACTIONS", "refresh-credentials")],
    );
    let rt = config_dir(&report);
    let after = std::fs::read(account_dir.join(".credentials.json")).unwrap();
    assert_ne!(before, after, "refreshed in the account");
    assert!(std::fs::symlink_metadata(rt.join(".credentials.json")).is_err());

    // A runtime of the first layout: our credentials link, or a real file
    // (a login made there). The link goes; the file is moved aside, never
    // copied over the account's login.
    std::os::unix::fs::symlink(
        account_dir.join(".credentials.json"),
        rt.join(".credentials.json"),
    )
    .unwrap();
    run_report(&mut env, "max", &repo, &[], "");
    assert!(std::fs::symlink_metadata(rt.join(".credentials.json")).is_err());
    std::fs::write(
        rt.join(".credentials.json"),
        r#"{"claudeAiOauth": {"accessToken": "old"}}"#,
    )
    .unwrap();
    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(
        stderr(&out).contains("never reach the account"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(account_dir.join(".credentials.json")).unwrap(),
        after
    );
    assert!(
        rt.join(".claude-accounts/quarantine/credentials.json")
            .is_file()
    );
    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(
        !stderr(&out).contains("credentials"),
        "said once: {}",
        stderr(&out)
    );
}

#[test]
fn git_worktree_remove_leaves_nothing_behind() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "gone");
    let report = run_report(&mut env, "max", &wt, &[], "startup");
    let rt = config_dir(&report);
    assert!(rt.exists());
    env.git(
        &repo,
        &["worktree", "remove", "--force", wt.to_str().unwrap()],
    );
    assert!(!rt.exists());
    assert!(!repo.join(".git/worktrees/gone").exists());
    let status = env.status_json();
    assert!(
        !status.to_string().contains("gone"),
        "status forgot the removed worktree:\n{status:#}"
    );
}

#[test]
fn overlays_only_for_trusted_projects_and_the_project_wins() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    std::fs::write(
        repo.join(".claude/.mcp.json"),
        r#"{"mcpServers": {"nix-server": {"command": "project-version"}, "db": {"command": "pg-mcp"}}}"#,
    )
    .unwrap();
    let (out, report) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(
        stderr(&out).contains("not a trusted project"),
        "{}",
        stderr(&out)
    );
    let rt = config_dir(&report);
    let servers = read_json(&rt.join(".claude.json"))["mcpServers"].clone();
    assert_eq!(
        servers,
        json!({"nix-server": {"type": "stdio", "command": "nix-mcp", "args": []}})
    );

    env.manifest["accounts"]["max"]["trustedProjects"] = json!([env.root]);
    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert_success(&out);
    let servers = read_json(&rt.join(".claude.json"))["mcpServers"].clone();
    assert_eq!(
        servers,
        json!({"nix-server": {"command": "project-version"}, "db": {"command": "pg-mcp"}})
    );

    // Removing a server from the overlay prunes it at the next launch.
    std::fs::write(repo.join(".claude/.mcp.json"), r#"{"mcpServers": {}}"#).unwrap();
    assert_success(&env.launch("max", &repo, Vec::<&str>::new(), &[]));
    let servers = read_json(&rt.join(".claude.json"))["mcpServers"].clone();
    assert_eq!(
        servers,
        json!({"nix-server": {"type": "stdio", "command": "nix-mcp", "args": []}})
    );
}

#[test]
fn secrets_reach_claude_and_no_file_the_helper_wrote() {
    let mut env = TestEnv::new();
    let secret_dir = env.root.join("run-agenix");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("gh"), "ghp_SECRET_VALUE_123\n").unwrap();
    std::fs::write(secret_dir.join("token"), "sk-ant-oat-TOKEN_456\n").unwrap();
    std::fs::write(secret_dir.join("env"), "FROM_FILE=\"file-SECRET_789\"\n").unwrap();
    let max = &mut env.manifest["accounts"]["max"];
    max["secretFiles"] = json!({"GITHUB_TOKEN": secret_dir.join("gh")});
    max["oauthTokenFile"] = json!(secret_dir.join("token"));
    max["environmentFiles"] = json!([secret_dir.join("env")]);
    max["environment"] = json!({"PLAIN": "visible"});
    let repo = env.repo("repo");
    // The report is written outside HOME and the repository, which are searched below.
    let (_, report) = launch_reporting(
        &mut env,
        "max",
        &repo,
        &[],
        &[("FAKE_CLAUDE_ACTIONS", "startup")],
    );
    assert_eq!(report["env"]["GITHUB_TOKEN"], "ghp_SECRET_VALUE_123");
    assert_eq!(
        report["env"]["CLAUDE_CODE_OAUTH_TOKEN"],
        "sk-ant-oat-TOKEN_456"
    );
    assert_eq!(report["env"]["FROM_FILE"], "file-SECRET_789");
    assert_eq!(report["env"]["PLAIN"], "visible");
    // No file under HOME or the repository holds a secret.
    for root in [&env.home, &repo] {
        for file in walk(root) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for secret in ["SECRET_VALUE_123", "TOKEN_456", "SECRET_789"] {
                assert!(!text.contains(secret), "{} holds {secret}", file.display());
            }
        }
    }
    // A missing secret is a clear error naming the variable and the path.
    std::fs::remove_file(secret_dir.join("gh")).unwrap();
    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("GITHUB_TOKEN")
            && stderr(&out).contains(&secret_dir.join("gh").display().to_string()),
        "{}",
        stderr(&out)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for e in entries.flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            files.extend(walk(&p));
        } else if meta.is_file() {
            files.push(p);
        }
    }
    files
}

#[test]
fn status_json_and_close() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let (session, report) = start_session(&mut env, "max", &wt, &[]);
    let rt = config_dir(&report);
    // The launcher records the session right after claude started, beside it.
    wait_until("status shows the session's launcher", || {
        status_runtime(&env.status_json(), "max", &rt)["session"]["pid"] == json!(session.id())
    });
    let runtime = status_runtime(&env.status_json(), "max", &rt);
    assert_eq!(runtime["worktree"], json!(wt));
    assert_eq!(runtime["kind"], "worktree");

    // A Nix-owned key changed at runtime shows as drift.
    let mut s = read_json(&rt.join("settings.json"));
    s["model"] = "haiku".into();
    std::fs::write(rt.join("settings.json"), s.to_string()).unwrap();
    let status = env.status_json().to_string();
    assert!(status.contains("settings.json: model"), "{status}");
    let manifest = env.write_manifest();

    // close: from the worktree, by path.
    let out = env
        .helper(&env.root.clone())
        .args(["close", "max", "--worktree"])
        .arg(&wt)
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("closed Claude Code (max)"),
        "{}",
        stdout(&out)
    );
    let mut session = session;
    let status = session.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    let out = env
        .helper(&env.root.clone())
        .args(["close", "max", "--all", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("no session of max is running"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn throwaway_sessions_are_removed_unless_kept() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["pro"]["isolation"] = "session".into();
    let repo = env.repo("repo");
    let report = run_report(&mut env, "pro", &repo, &[], "startup");
    let dir = config_dir(&report);
    assert!(
        dir.starts_with(env.home.join(".local/state/claude-accounts/pro/sessions")),
        "{}",
        dir.display()
    );
    assert!(!dir.exists(), "removed after the session");
    let (_, report) = launch_reporting(
        &mut env,
        "pro",
        &repo,
        &[],
        &[("CLAUDE_ACCOUNTS_KEEP_SESSION", "1")],
    );
    assert!(config_dir(&report).exists(), "kept on request");
}

#[test]
fn relaunching_writes_nothing_when_nothing_changed() {
    use std::os::unix::fs::MetadataExt;
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], ""));
    let state = |rt: &Path| -> Vec<(PathBuf, u64, i64, i64)> {
        [
            "settings.json",
            ".claude.json",
            ".claude-accounts/runtime.json",
            ".claude-accounts/last-applied/.claude.json",
        ]
        .iter()
        .map(|f| {
            let m = std::fs::metadata(rt.join(f)).unwrap();
            (rt.join(f), m.ino(), m.mtime(), m.mtime_nsec())
        })
        .collect()
    };
    let before = state(&rt);
    std::thread::sleep(Duration::from_millis(20));
    run_report(&mut env, "max", &repo, &[], "");
    assert_eq!(state(&rt), before);
}

#[test]
fn an_empty_runtime_file_left_by_a_crash_is_seeded_again() {
    let mut env = TestEnv::new();
    let plain = log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], ""));
    std::fs::write(rt.join(".claude.json"), "").unwrap();
    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert!(stderr(&out).contains("was empty"), "{}", stderr(&out));
    let state = read_json(&rt.join(".claude.json"));
    assert!(
        state.get("oauthAccount").is_some(),
        "identity synced again: {state}"
    );
    // The account dir's own files are never treated this way.
    std::fs::write(env.account_dir("max").join("settings.json"), "").unwrap();
    let out = env.launch("max", &plain, Vec::<&str>::new(), &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("empty"), "{}", stderr(&out));
}

/// A launcher killed between starting claude and writing a fresh runtime's
/// records (`runtime.json`, the last-applied record, the sync base) leaves
/// a runtime without them: the next launch works as usual and writes them.
#[test]
fn records_a_killed_launcher_did_not_write_are_written_by_the_next_launch() {
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login");
    let repo = env.repo("repo");
    let rt = config_dir(&run_report(&mut env, "max", &repo, &[], ""));
    let records = [
        ".claude-accounts/runtime.json",
        ".claude-accounts/last-applied/.claude.json",
        ".claude-accounts/synced.json",
    ];
    for r in records {
        std::fs::remove_file(rt.join(r)).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    // Meanwhile a session elsewhere added a server to the account.
    let account_file = env.account_dir("max").join(".claude.json");
    let mut account = read_json(&account_file);
    account["mcpServers"]["added-meanwhile"] = json!({"type": "stdio", "command": "x"});
    std::fs::write(&account_file, account.to_string()).unwrap();

    let (out, _) = launch_reporting(&mut env, "max", &repo, &[], &[]);
    assert_eq!(
        stderr(&out)
            .lines()
            .filter(|l| l.contains("warning") || l.contains("error"))
            .collect::<Vec<_>>(),
        Vec::<&str>::new(),
        "{}",
        stderr(&out)
    );
    for r in records {
        assert!(rt.join(r).is_file(), "{r} was not written again");
    }
    let runtime = read_json(&rt.join(".claude.json"));
    assert!(
        runtime["mcpServers"].get("added-meanwhile").is_some(),
        "{runtime:#}"
    );
    assert!(
        runtime["mcpServers"].get("nix-server").is_some(),
        "{runtime:#}"
    );
    assert_eq!(
        read_json(&rt.join(".claude-accounts/last-applied/.claude.json")),
        env.manifest["accounts"]["max"]["claudeJson"]
    );
    assert_eq!(
        read_json(&rt.join(".claude-accounts/runtime.json"))["account"],
        "max"
    );
}

#[test]
fn close_finds_an_account_isolated_session_from_any_worktree() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["isolation"] = "account".into();
    let repo = env.repo("repo");
    let (session, report) = start_session(&mut env, "max", &repo, &[]);
    assert_eq!(config_dir(&report), env.account_dir("max"));
    let manifest = env.write_manifest();
    let out = env
        .helper(&repo)
        .args(["close", "max", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&out);
    let mut session = session;
    assert_eq!(session.wait().unwrap().code(), Some(128 + libc::SIGTERM));
}

/// New worktrees of a project seen before take the account's values from
/// the account's sync cache while the account's `.claude.json` is
/// unchanged, and from the file again once it changes.
#[test]
fn account_values_come_from_the_cache_until_the_account_file_changes() {
    use std::os::unix::fs::MetadataExt;
    let mut env = TestEnv::new();
    log_in_outside_git(&mut env, "login:first@example.com");
    let account_file = env.account_dir("max").join(".claude.json");
    let repo = env.repo("repo");
    let wt1 = env.worktree(&repo, "one");
    let rt1 = config_dir(&run_report(&mut env, "max", &wt1, &[], ""));
    let seeded = read_json(&rt1.join(".claude.json"))["oauthAccount"].clone();
    assert!(seeded.to_string().contains("first@example.com"), "{seeded}");
    assert!(
        env.account_dir("max")
            .join(".claude-accounts/sync-cache.json")
            .exists()
    );

    // Same inode, size and mtime, other content: the cache answers.
    let meta = std::fs::metadata(&account_file).unwrap();
    let text = std::fs::read_to_string(&account_file).unwrap();
    let swapped = text.replace("first@example.com", "other@example.com");
    assert_eq!(swapped.len(), text.len());
    std::fs::write(&account_file, &swapped).unwrap();
    let times = [
        libc::timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec(),
        },
        libc::timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec(),
        },
    ];
    let c = std::ffi::CString::new(account_file.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) },
        0
    );
    let wt2 = env.worktree(&repo, "two");
    let rt2 = config_dir(&run_report(&mut env, "max", &wt2, &[], ""));
    assert_eq!(
        read_json(&rt2.join(".claude.json"))["oauthAccount"],
        seeded,
        "seeded from the cache"
    );

    // A real change (new mtime) is read from the file.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&account_file, &swapped).unwrap();
    let wt3 = env.worktree(&repo, "three");
    let rt3 = config_dir(&run_report(&mut env, "max", &wt3, &[], ""));
    let fresh = read_json(&rt3.join(".claude.json"))["oauthAccount"].clone();
    assert!(fresh.to_string().contains("other@example.com"), "{fresh}");
}
