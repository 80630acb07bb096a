//! The fake `claude` behaves as CLAUDE-CODE-FACTS.md says Claude does; the
//! other integration tests rely on it.

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::*;
use crate::harness::TestEnv;

/// The transcript directory name Claude derives from a cwd.
fn sanitized(path: &Path) -> String {
    path.to_str()
        .unwrap()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Files in `dir` whose name contains `.tmp.` (left-over temp files).
fn temp_files(dir: &Path) -> Vec<String> {
    list(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp."))
        .collect()
}

#[test]
fn report_shows_arguments_untouched_environment_and_process() {
    let sb = TestEnv::new();
    let report = sb.root.join("report.json");
    let args = [
        "mcp",
        "list",
        "--resume",
        "x",
        "with space \"double\" 'single' $HOME `tick`",
        "--",
        "-p",
        "",
        "ünïcødé ☃",
        "--settings={\"a\":1,\"b\":[2]}",
    ];
    let mut cmd = sb.fake();
    cmd.args(args)
        .env("FAKE_CLAUDE_REPORT", &report)
        .env("SOME_VAR", "some value");
    let child = cmd.spawn().expect("spawning the fake");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let r = read_json(&report);
    assert_eq!(r["args"], json!(args));
    assert_eq!(r["env"]["SOME_VAR"], "some value");
    assert_eq!(r["env"]["CLAUDE_CONFIG_DIR"], json!(sb.config));
    assert_eq!(r["cwd"], json!(sb.work));
    assert_eq!(r["pid"], pid);
    assert_eq!(r["ppid"], std::process::id());
    assert_eq!(r["configDir"], json!(sb.config));
    assert_eq!(r["claudeJson"], json!(sb.config.join(".claude.json")));
    assert_eq!(r["openFds"]["0"], "/dev/null");
    // No actions: the fake wrote nothing of Claude's and left no temp file.
    assert_eq!(list(&sb.config), Vec::<String>::new());
    assert_eq!(
        list(&sb.root),
        ["config", "home", "report.json", "store", "work"]
    );
}

#[test]
fn without_config_dir_state_is_in_home() {
    let sb = TestEnv::new();
    let report = sb.root.join("report.json");
    run_ok(
        sb.fake()
            .env_remove("CLAUDE_CONFIG_DIR")
            .env("FAKE_CLAUDE_REPORT", &report)
            .env("FAKE_CLAUDE_ACTIONS", "startup,set-model:opus"),
    );
    let r = read_json(&report);
    assert_eq!(r["configDir"], json!(sb.home.join(".claude")));
    assert_eq!(r["claudeJson"], json!(sb.home.join(".claude.json")));
    assert_eq!(read_json(&sb.home.join(".claude.json"))["numStartups"], 1);
    assert_eq!(
        read_json(&sb.home.join(".claude/settings.json")),
        json!({"model": "opus"})
    );
    assert_eq!(read_jsonl(&sb.home.join(".claude/history.jsonl")).len(), 1);
    assert_eq!(list(&sb.config), Vec::<String>::new());
}

#[test]
fn startup_keys_the_project_by_the_main_checkout_and_keeps_trust() {
    let sb = TestEnv::new();
    let repo = sb.root.join("my repo.v2");
    sb.init_repo(&repo);
    let wt = sb.root.join("wt");
    sb.git(
        &repo,
        &[
            "worktree",
            "add",
            "--quiet",
            "-b",
            "feature",
            wt.to_str().unwrap(),
        ],
    );
    let in_wt = wt.join("sub dir");
    fs::create_dir(&in_wt).unwrap();
    let key = repo.to_str().unwrap();
    write(
        &sb.config.join(".claude.json"),
        &claude_layout(&json!({
            "numStartups": 4,
            "projects": {key: {"hasTrustDialogAccepted": true, "custom": [1]}},
        })),
    );

    let (r1, r2) = (sb.root.join("r1.json"), sb.root.join("r2.json"));
    for (dir, report) in [(&in_wt, &r1), (&repo, &r2)] {
        run_ok(
            sb.fake()
                .current_dir(dir)
                .env("FAKE_CLAUDE_REPORT", report)
                .env("FAKE_CLAUDE_ACTIONS", "startup"),
        );
    }
    let (s1, s2) = (
        read_json(&r1)["sessionId"].clone(),
        read_json(&r2)["sessionId"].clone(),
    );

    let state = read_json(&sb.config.join(".claude.json"));
    assert_eq!(state["numStartups"], 6);
    let projects = state["projects"].as_object().unwrap();
    assert_eq!(projects.keys().collect::<Vec<_>>(), [key]);
    let project = &projects[key];
    assert_eq!(project["hasTrustDialogAccepted"], true);
    assert_eq!(project["custom"], json!([1]));
    assert_eq!(project["lastSessionId"], s2);
    assert_eq!(project["mcpServers"], json!({}));

    let transcripts = sb.config.join("projects");
    assert_eq!(list(&transcripts), {
        let mut v = vec![sanitized(&in_wt), sanitized(&repo)];
        v.sort();
        v
    });
    let t1 = read_jsonl(
        &transcripts
            .join(sanitized(&in_wt))
            .join(format!("{}.jsonl", s1.as_str().unwrap())),
    );
    assert_eq!(t1[0]["cwd"], json!(in_wt));
    let history = read_jsonl(&sb.config.join("history.jsonl"));
    let projects: Vec<&Value> = history.iter().map(|h| &h["project"]).collect();
    assert_eq!(projects, [key, key]);
}

#[test]
fn startup_outside_git_keys_the_project_by_cwd() {
    let sb = TestEnv::new();
    run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "startup"));
    let state = read_json(&sb.config.join(".claude.json"));
    let keys: Vec<&String> = state["projects"].as_object().unwrap().keys().collect();
    assert_eq!(keys, [sb.work.to_str().unwrap()]);
}

#[test]
fn add_mcp_keeps_every_other_key_in_claude_layout_and_mode() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    let before = json!({
        "numStartups": 5,
        "mcpServers": {"nix": {"type": "stdio", "command": "nix-server", "args": ["-x"]}},
        "projects": {"/p": {"allowedTools": []}},
        "zeta": 1.5e300,
    });
    write(&path, &claude_layout(&before));
    set_mode(&path, 0o640);

    run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "add-mcp:mine"));

    let mut after = before.clone();
    after["mcpServers"]["mine"] =
        json!({"type": "stdio", "command": "fake-mcp-mine", "args": [], "env": {}});
    assert_eq!(read(&path), claude_layout(&after));
    assert_eq!(mode(&path), 0o640);
    assert_eq!(temp_files(&sb.config), Vec::<String>::new());
}

#[test]
fn a_new_claude_json_is_private() {
    let sb = TestEnv::new();
    run_ok(sb.fake().env(
        "FAKE_CLAUDE_ACTIONS",
        r#"set-key:obj={"a":[1,2],"s":"x,y"},set-key:n=7"#,
    ));
    let path = sb.config.join(".claude.json");
    assert_eq!(
        read_json(&path),
        json!({"obj": {"a": [1, 2], "s": "x,y"}, "n": 7})
    );
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn claude_json_is_rewritten_under_the_lock_dir_from_a_fresh_read() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    let lock = sb.config.join(".claude.json.lock");
    let go = sb.root.join("go");
    write(&path, &claude_layout(&json!({"b": 2})));

    let mut child = sb
        .fake()
        .env("FAKE_CLAUDE_ACTIONS", "set-key:a=1")
        .env("FAKE_CLAUDE_LOCK_HOLD", &go)
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    wait_until("the fake holds .claude.json.lock", || lock.is_dir());
    // Someone else's write, landed before the fake read under its lock.
    write(&path, &claude_layout(&json!({"b": 3})));
    assert_eq!(
        read_json(&path),
        json!({"b": 3}),
        "the fake wrote before releasing the hold"
    );
    write(&go, "");
    assert!(child.wait().unwrap().success());

    assert_eq!(read_json(&path), json!({"b": 3, "a": 1}));
    assert!(!lock.exists(), "the lock dir was left behind");
    assert_eq!(temp_files(&sb.config), Vec::<String>::new());
}

#[test]
fn a_fresh_foreign_lock_is_waited_for_briefly_then_written_past() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    let lock = sb.config.join(".claude.json.lock");
    fs::create_dir(&lock).unwrap();

    run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "set-key:a=1"));

    assert_eq!(read_json(&path), json!({"a": 1}));
    assert!(lock.is_dir(), "the fake removed a lock it did not hold");
}

#[test]
fn a_stale_lock_is_taken_over_and_removed() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    let lock = sb.config.join(".claude.json.lock");
    let go = sb.root.join("go");
    fs::create_dir(&lock).unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    File::open(&lock).unwrap().set_modified(old).unwrap();

    let mut child = sb
        .fake()
        .env("FAKE_CLAUDE_ACTIONS", "set-key:a=1")
        .env("FAKE_CLAUDE_LOCK_HOLD", &go)
        .env("FAKE_CLAUDE_LOG", sb.root.join("log"))
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    wait_until("the fake takes over the stale lock", || {
        fs::metadata(&lock).is_ok_and(|m| m.modified().unwrap() > old)
    });
    write(&go, "");
    assert!(child.wait().unwrap().success());

    assert_eq!(read_json(&path), json!({"a": 1}));
    assert!(!lock.exists(), "the lock dir was left behind");
    let events: Vec<Value> = read_jsonl(&sb.root.join("log"))
        .into_iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(events, ["start", "action", "lock-held", "exit"]);
}

#[test]
fn a_corrupted_claude_json_is_backed_up_and_reset() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    let corrupted = "{\"numStartups\": 3,, \"mcpServers\": {}";
    write(&path, corrupted);

    let out = run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "set-key:k=\"v\""));

    assert_eq!(read_json(&path), json!({"k": "v"}));
    let backups = list(&sb.config.join("backups"));
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(
        backups[0].starts_with(".claude.json.corrupted."),
        "{backups:?}"
    );
    assert_eq!(
        read(&sb.config.join("backups").join(&backups[0])),
        corrupted
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupted"));
}

#[test]
fn set_model_writes_through_one_symlink_hop() {
    let sb = TestEnv::new();
    let store = sb.root.join("store");
    let real = store.join("settings.json");
    write(&real, &claude_layout(&json!({"theme": "dark"})));
    let link = sb.config.join("settings.json");
    symlink("../store/settings.json", &link).unwrap();

    run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "set-model:opus"));

    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../store/settings.json")
    );
    assert_eq!(read_json(&real), json!({"theme": "dark", "model": "opus"}));
    assert_eq!(temp_files(&store), Vec::<String>::new());
    assert_eq!(list(&sb.config), ["settings.json"]);
}

#[test]
fn set_model_fails_like_claude_on_a_read_only_target() {
    let sb = TestEnv::new();
    let store = sb.root.join("store");
    let real = store.join("settings.json");
    let content = claude_layout(&json!({"theme": "dark"}));
    write(&real, &content);
    set_mode(&real, 0o444);
    set_mode(&store, 0o555);
    let link = sb.config.join("settings.json");
    symlink(&real, &link).unwrap();

    // The build's binary may lie where `nobody` cannot reach it.
    let fake = RunnableByAnyone::new(Path::new(FAKE_CLAUDE));
    let mut cmd = sb.fake_from(&fake.path);
    cmd.env("FAKE_CLAUDE_ACTIONS", "set-model:opus");
    if is_root() {
        // Root ignores permission bits: run the fake as `nobody`.
        set_mode(&sb.root, 0o755);
        cmd.uid(65534).gid(65534);
    }
    let out = run(&mut cmd);

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("EACCES"), "{stderr}");
    assert!(stderr.contains(store.to_str().unwrap()), "{stderr}");
    assert_eq!(read(&real), content);
    assert_eq!(fs::read_link(&link).unwrap(), real);
    set_mode(&store, 0o755); // let the sandbox be removed
}

/// An account dir holding real credentials, and the runtime dir's one-hop
/// link to them.
fn logged_in_account(sb: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    let account = sb.root.join("account");
    run_ok(
        sb.fake()
            .env("CLAUDE_CONFIG_DIR", &account)
            .env("FAKE_CLAUDE_ACTIONS", "login:me@example.com"),
    );
    let real = account.join(".credentials.json");
    let link = sb.config.join(".credentials.json");
    symlink(&real, &link).unwrap();
    (real, link)
}

#[test]
fn login_writes_identity_and_private_credentials() {
    let sb = TestEnv::new();
    run_ok(sb.fake().env("FAKE_CLAUDE_ACTIONS", "login:me@example.com"));

    let state = read_json(&sb.config.join(".claude.json"));
    assert_eq!(state["oauthAccount"]["emailAddress"], "me@example.com");
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert_eq!(state["userID"].as_str().unwrap().len(), 64);
    let creds_path = sb.config.join(".credentials.json");
    assert_eq!(mode(&creds_path), 0o600);
    let creds = read_json(&creds_path);
    assert!(creds["claudeAiOauth"]["accessToken"].is_string(), "{creds}");
    assert!(
        creds["claudeAiOauth"]["refreshToken"].is_string(),
        "{creds}"
    );
}

#[test]
fn refresh_through_a_symlink_updates_the_target_and_keeps_the_link() {
    let sb = TestEnv::new();
    let (real, link) = logged_in_account(&sb);
    let before = read_json(&real);

    run_ok(
        sb.fake()
            .env("FAKE_CLAUDE_CREDENTIALS", "through")
            .env("FAKE_CLAUDE_ACTIONS", "refresh-credentials"),
    );

    assert_eq!(fs::read_link(&link).unwrap(), real);
    let after = read_json(&real);
    let (b, a) = (&before["claudeAiOauth"], &after["claudeAiOauth"]);
    assert_ne!(a["accessToken"], b["accessToken"]);
    assert_ne!(a["refreshToken"], b["refreshToken"]);
    assert_eq!(a["scopes"], b["scopes"]);
    assert_eq!(mode(&real), 0o600);
    assert_eq!(temp_files(real.parent().unwrap()), Vec::<String>::new());
}

#[test]
fn refresh_in_replace_mode_replaces_the_symlink_by_a_file() {
    let sb = TestEnv::new();
    let (real, link) = logged_in_account(&sb);
    let before = read(&real);

    run_ok(
        sb.fake()
            .env("FAKE_CLAUDE_CREDENTIALS", "replace")
            .env("FAKE_CLAUDE_ACTIONS", "refresh-credentials"),
    );

    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(mode(&link), 0o600);
    assert_eq!(
        read(&real),
        before,
        "the account's file was written through the link"
    );
    let (old, new) = (
        serde_json::from_str::<Value>(&before).unwrap(),
        read_json(&link),
    );
    assert_ne!(
        new["claudeAiOauth"]["accessToken"],
        old["claudeAiOauth"]["accessToken"]
    );
}

#[test]
fn refresh_without_credentials_fails() {
    let sb = TestEnv::new();
    let out = run(sb.fake().env("FAKE_CLAUDE_ACTIONS", "refresh-credentials"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not logged in"));
}

#[test]
fn a_spawned_child_outlives_the_fake_in_its_own_session_without_its_stdout() {
    let sb = TestEnv::new();
    let log = sb.root.join("log");
    let child = sb
        .fake()
        .env("FAKE_CLAUDE_LOG", &log)
        .env("FAKE_CLAUDE_ACTIONS", "spawn-child:300")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let fake_pid = child.id();
    // Returns once every holder of the pipes closed them: if the left-behind
    // child kept stdout, this would only return when it exits.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());

    let events = read_jsonl(&log);
    let spawned = events.iter().find(|e| e["event"] == "spawn-child").unwrap();
    let pid = u32::try_from(spawned["childPid"].as_u64().unwrap()).unwrap();
    let _guard = KillOnDrop(pid);
    assert!(is_alive(pid), "the child did not outlive the fake");
    let stat = proc_stat(pid).unwrap();
    assert_eq!(
        stat[3],
        pid.to_string(),
        "the child is not in its own session"
    );
    assert_ne!(stat[1], fake_pid.to_string());
    for fd in 0..=2 {
        let target = fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, Path::new("/dev/null"), "fd {fd} of the child");
    }
}

#[test]
fn sigterm_ends_a_running_fake_by_the_signal_or_the_requested_code() {
    let sb = TestEnv::new();
    /// (actions, FAKE_CLAUDE_TERM_EXIT, signal sent, expected (signal, code))
    type Case = (
        &'static str,
        Option<&'static str>,
        i32,
        (Option<i32>, Option<i32>),
    );
    let cases: [Case; 4] = [
        ("", None, libc::SIGTERM, (Some(libc::SIGTERM), None)),
        ("", Some("7"), libc::SIGTERM, (None, Some(7))),
        ("", Some("7"), libc::SIGHUP, (Some(libc::SIGHUP), None)),
        (
            "sleep:600000,set-key:late=1",
            None,
            libc::SIGINT,
            (Some(libc::SIGINT), None),
        ),
    ];
    for (i, (actions, term_exit, sig, want)) in cases.into_iter().enumerate() {
        let report = sb.root.join(format!("report{i}.json"));
        let mut cmd = sb.fake();
        cmd.env("FAKE_CLAUDE_REPORT", &report)
            .env("FAKE_CLAUDE_ACTIONS", actions)
            .env("FAKE_CLAUDE_RUN_MS", "forever");
        if let Some(code) = term_exit {
            cmd.env("FAKE_CLAUDE_TERM_EXIT", code);
        }
        let mut child = cmd.spawn().unwrap();
        let _guard = KillOnDrop(child.id());
        wait_until("the fake wrote its report", || report.exists());
        kill(child.id(), sig);
        let status = child.wait().unwrap();
        assert_eq!((status.signal(), status.code()), want, "case {i}");
    }
    assert!(
        !sb.config.join(".claude.json").exists(),
        "an action ran after the signal"
    );
}

#[test]
fn a_running_fake_keeps_rewriting_claude_json_and_two_never_corrupt_it() {
    let sb = TestEnv::new();
    let path = sb.config.join(".claude.json");
    write(&path, &claude_layout(&json!({"mine": "kept"})));
    let fakes: Vec<_> = (0..2)
        .map(|_| {
            sb.fake()
                .env("FAKE_CLAUDE_RUN_MS", "forever")
                .env("FAKE_CLAUDE_WRITE_HZ", "200")
                .spawn()
                .unwrap()
        })
        .collect();
    let _guards: Vec<_> = fakes.iter().map(|c| KillOnDrop(c.id())).collect();
    wait_until("the fakes wrote 50 times", || {
        // Every read sees a whole file: writes are renames.
        read_json(&path)["fakeWriteCount"].as_u64().unwrap_or(0) >= 50
    });
    for mut fake in fakes {
        kill(fake.id(), libc::SIGTERM);
        fake.wait().unwrap();
    }
    assert_eq!(read_json(&path)["mine"], "kept");
    assert_eq!(
        list(&sb.config),
        [".claude.json"],
        "temp files, locks or backups left"
    );
}

#[test]
fn exit_stops_at_once_and_a_bad_action_is_a_usage_error() {
    let sb = TestEnv::new();
    let out = run(sb
        .fake()
        .env("FAKE_CLAUDE_ACTIONS", "set-key:a=1,exit:3,set-key:b=2"));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(read_json(&sb.config.join(".claude.json")), json!({"a": 1}));

    let out = run(sb.fake().env("FAKE_CLAUDE_ACTIONS", "fly-to-the-moon"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action `fly-to-the-moon`"));
}

#[test]
fn a_long_cwd_gets_the_hashed_transcript_dir_claude_gives_it() {
    let sb = TestEnv::new();
    // The hash covers the whole path, so the expected name is computed
    // for this root (the rule is pinned to the real CLI below).
    let long = sb
        .work
        .join("x".repeat(120))
        .join("y".repeat(120))
        .join("é-ü");
    std::fs::create_dir_all(&long).unwrap();
    run_ok(
        sb.fake()
            .current_dir(&long)
            .env("FAKE_CLAUDE_ACTIONS", "startup"),
    );
    let dirs = list(&sb.config.join("projects"));
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let full = sanitized(&long);
    assert_eq!(
        dirs[0].len(),
        200 + 1 + java_hash_base36(long.to_str().unwrap()).len()
    );
    assert_eq!(
        dirs[0],
        format!(
            "{}-{}",
            &full[..200],
            java_hash_base36(long.to_str().unwrap())
        )
    );
}

/// `Math.abs(h).toString(36)` of Java's `String.hashCode` over UTF-16
/// units, written out independently of the fake.
fn java_hash_base36(s: &str) -> String {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    let mut n = i64::from(h).unsigned_abs();
    let mut out = String::new();
    loop {
        out.insert(0, std::char::from_digit((n % 36) as u32, 36).unwrap());
        n /= 36;
        if n == 0 {
            return out;
        }
    }
}

#[test]
fn java_hash_matches_the_real_claude_codes_name() {
    // The real Claude Code 2.1.332 named this directory `…-boqy1j`.
    let path = format!("/tmp/sx/proj/{}/{}/é-ü", "x".repeat(120), "y".repeat(120));
    assert_eq!(java_hash_base36(&path), "boqy1j");
}
