//! `claude-accounts activate` through the binary: switch cycles, preservation
//! of what Claude and the user wrote, store-link migration, bad inputs, full
//! disk, SIGKILL mid-write, permissions.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;

fn file_state(path: &Path) -> (Vec<u8>, u64, i64, i64) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    (
        std::fs::read(path).unwrap(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
    )
}

/// A `.claude.json` as Claude writes it, about `projects` × 2 KB.
fn realistic_claude_json(projects: usize) -> String {
    let mut p = serde_json::Map::new();
    for i in 0..projects {
        p.insert(
            format!("/home/alice/src/project-{i}"),
            json!({
                "allowedTools": [],
                "history": (0..8).map(|h| json!({"display": format!("fix the bug in módulo {h} ✓ \"quoted\""), "pastedContents": {}})).collect::<Vec<_>>(),
                "lastCost": 0.123456789 * i as f64,
                "lastSessionId": format!("{i:08x}-0000-4000-8000-000000000000"),
                "hasTrustDialogAccepted": i % 2 == 0,
            }),
        );
    }
    let v = json!({
        "numStartups": 42,
        "userID": "f00dfeed",
        "oauthAccount": {"emailAddress": "alice@example.com", "organizationUuid": "org-1"},
        "hasCompletedOnboarding": true,
        "projects": p,
    });
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn first_switch_creates_and_second_is_quiet_and_writes_nothing() {
    let mut env = TestEnv::new();
    let out = env.activate(&[]);
    assert_success(&out);
    let dir = env.account_dir("max");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let settings = read_json(&dir.join("settings.json"));
    assert_eq!(
        settings,
        json!({"model": "opus", "permissions": {"allow": ["Bash(git status)"]}})
    );
    let claude = read_json(&dir.join(".claude.json"));
    assert_eq!(claude["mcpServers"]["nix-server"]["command"], "nix-mcp");
    assert_eq!(
        std::fs::metadata(dir.join(".claude.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(stdout(&out).contains("created"), "{}", stdout(&out));

    let before_s = file_state(&dir.join("settings.json"));
    let before_c = file_state(&dir.join(".claude.json"));
    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(stdout(&out), "", "a switch with nothing to do is quiet");
    assert_eq!(file_state(&dir.join("settings.json")), before_s);
    assert_eq!(file_state(&dir.join(".claude.json")), before_c);
    let out = env.activate(&["--verbose"]);
    assert!(stdout(&out).contains("up to date"), "{}", stdout(&out));
}

#[test]
fn switch_enforces_prunes_and_keeps_everything_else() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let dir = env.account_dir("max");
    // Claude and the user write: model changed by /model, a permission added,
    // a user-scope server, runtime state.
    let mut s = read_json(&dir.join("settings.json"));
    s["model"] = "sonnet".into();
    s["permissions"]["allow"]
        .as_array_mut()
        .unwrap()
        .push("Bash(ls)".into());
    s["theme"] = "dark".into();
    std::fs::write(
        dir.join("settings.json"),
        serde_json::to_string_pretty(&s).unwrap(),
    )
    .unwrap();
    let mut c = read_json(&dir.join(".claude.json"));
    c["mcpServers"]["user-added"] = json!({"command": "mine"});
    c["numStartups"] = 7.into();
    std::fs::write(
        dir.join(".claude.json"),
        serde_json::to_string_pretty(&c).unwrap(),
    )
    .unwrap();

    // Generation 2: a server added, one removed, a permission changed.
    let max = &mut env.manifest["accounts"]["max"];
    max["claudeJson"]["mcpServers"] = json!({"new-server": {"type": "http", "url": "https://x"}});
    max["settings"]["permissions"]["allow"] = json!(["Bash(cargo test:*)"]);
    let out = env.activate(&[]);
    assert_success(&out);
    let report = stdout(&out);
    assert!(
        report.contains("drifted") && report.contains("model"),
        "{report}"
    );

    let s = read_json(&dir.join("settings.json"));
    assert_eq!(
        s,
        json!({"model": "opus", "permissions": {"allow": ["Bash(ls)", "Bash(cargo test:*)"]}, "theme": "dark"})
    );
    let c = read_json(&dir.join(".claude.json"));
    assert_eq!(
        c["mcpServers"],
        json!({"user-added": {"command": "mine"}, "new-server": {"type": "http", "url": "https://x"}})
    );
    assert_eq!(c["numStartups"], 7);
}

#[test]
fn a_large_file_is_checked_from_its_members_and_updated_like_a_small_one() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".claude.json");
    // Above the size from which unchanged files are checked member by member.
    std::fs::write(&path, realistic_claude_json(400)).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 256 << 10);
    assert_success(&env.activate(&[]));
    let projects = read_json(&path)["projects"].clone();

    // Nothing to do, then only Claude's own changes (a counter, a user-scope
    // server): quiet, and the file is not rewritten.
    let before = file_state(&path);
    let out = env.activate(&[]);
    assert_eq!(stdout(&out), "");
    assert_eq!(file_state(&path), before);
    let mut c = read_json(&path);
    c["numStartups"] = 43.into();
    c["mcpServers"]["user-added"] = json!({"command": "mine"});
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    let before = file_state(&path);
    let out = env.activate(&[]);
    assert_eq!(stdout(&out), "", "Claude's changes are not drift");
    assert_eq!(file_state(&path), before);

    // Drift in a declared value is seen and repaired.
    c["mcpServers"]["nix-server"]["command"] = "edited".into();
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    let out = env.activate(&[]);
    assert!(stdout(&out).contains("drifted"), "{}", stdout(&out));
    let c = read_json(&path);
    assert_eq!(c["mcpServers"]["nix-server"]["command"], "nix-mcp");

    // A server Nix no longer declares is pruned, one it adds appears, and
    // the rest of the file is what it was.
    env.manifest["accounts"]["max"]["claudeJson"]["mcpServers"] =
        json!({"new-server": {"type": "http", "url": "https://x"}});
    assert_success(&env.activate(&[]));
    let after = read_json(&path);
    assert_eq!(
        after["mcpServers"],
        json!({"user-added": {"command": "mine"}, "new-server": {"type": "http", "url": "https://x"}})
    );
    assert_eq!(after["projects"], projects);
    assert_eq!(after["numStartups"], 43);

    // Damage in a member no declared key reads: with nothing to change the
    // file is left as it is (it is not read whole); a change reads it whole
    // and refuses it, untouched.
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen("\"allowedTools\": []", "\"allowedTools\": [,]", 1);
    assert_ne!(damaged, text);
    std::fs::write(&path, &damaged).unwrap();
    let before = file_state(&path);
    assert_success(&env.activate(&[]));
    assert_eq!(file_state(&path), before);
    env.manifest["accounts"]["max"]["claudeJson"]["mcpServers"] = json!({});
    let out = env.activate(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&path.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_state(&path), before);
}

#[test]
fn dry_run_prints_the_patch_and_changes_nothing() {
    let mut env = TestEnv::new();
    let out = env.activate(&["--dry-run"]);
    assert_success(&out);
    assert!(!env.account_dir("max").exists(), "dry run created nothing");
    let text = stdout(&out);
    assert!(
        text.contains("would create") && text.contains("\"op\": \"add\""),
        "{text}"
    );

    assert_success(&env.activate(&[]));
    let dir = env.account_dir("max");
    let before = file_state(&dir.join("settings.json"));
    env.manifest["accounts"]["max"]["settings"]["model"] = "haiku".into();
    let out = env.activate(&["--dry-run"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("\"op\": \"replace\"") && stdout(&out).contains("/model"),
        "{}",
        stdout(&out)
    );
    assert_eq!(file_state(&dir.join("settings.json")), before);
}

#[test]
fn a_settings_link_into_the_store_becomes_a_real_file() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let store_file = env.store().join("abc-claude-settings.json");
    // What Home Manager's own module linked: some keys the account still
    // declares, one it no longer does; linked as Home Manager does, through
    // its generation's home-files (two hops).
    std::fs::write(
        &store_file,
        r#"{"model":"opus","includeCoAuthoredBy":false}"#,
    )
    .unwrap();
    let home_files = env.store().join("def-home-manager-files");
    std::fs::create_dir_all(&home_files).unwrap();
    std::os::unix::fs::symlink(&store_file, home_files.join("settings.json")).unwrap();
    std::os::unix::fs::symlink(home_files.join("settings.json"), dir.join("settings.json"))
        .unwrap();
    let out = env.activate(&["--dry-run"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.contains("would turn") && text.contains("/includeCoAuthoredBy"),
        "{text}"
    );
    assert!(
        std::fs::symlink_metadata(dir.join("settings.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let out = env.activate(&[]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("into a real file"),
        "{}",
        stdout(&out)
    );
    let meta = std::fs::symlink_metadata(dir.join("settings.json")).unwrap();
    assert!(meta.is_file(), "settings.json is a real file now");
    assert_eq!(
        read_json(&dir.join("settings.json")),
        json!({"model": "opus", "permissions": {"allow": ["Bash(git status)"]}}),
        "the link's undeclared key was Nix's and is pruned"
    );
    assert_eq!(
        std::fs::read_to_string(&store_file).unwrap(),
        r#"{"model":"opus","includeCoAuthoredBy":false}"#
    );
}

#[test]
fn a_link_elsewhere_is_refused_and_other_accounts_still_activate() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let dotfiles = env.root.join("dotfiles-settings.json");
    std::fs::write(&dotfiles, "{\"mine\": true}").unwrap();
    std::os::unix::fs::symlink(&dotfiles, dir.join("settings.json")).unwrap();
    let out = env.activate(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&dir.join("settings.json").display().to_string()),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&dotfiles).unwrap(),
        "{\"mine\": true}"
    );
    assert!(
        std::fs::symlink_metadata(dir.join("settings.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        env.account_dir("pro").join("settings.json").is_file(),
        "pro was activated"
    );
}

#[test]
fn bad_claude_json_is_left_byte_identical_with_a_clear_error() {
    for (content, needle) in [
        ("", "empty"),
        ("{\"a\":", "line 1"),
        ("[]", "object"),
        ("null", "object"),
        ("{\n  \"a\": 1,\n  oops\n}", "line 3"),
    ] {
        let mut env = TestEnv::new();
        let dir = env.account_dir("max");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".claude.json");
        std::fs::write(&path, content).unwrap();
        let before = file_state(&path);
        let out = env.activate(&[]);
        assert!(!out.status.success(), "{content:?} was accepted");
        let err = stderr(&out);
        assert!(
            err.contains(&path.display().to_string()) && err.contains(needle),
            "{content:?}: {err}"
        );
        assert_eq!(file_state(&path), before, "{content:?} was touched");
    }
}

#[test]
fn a_directory_or_dangling_link_where_the_file_belongs_is_refused() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(dir.join(".claude.json")).unwrap();
    std::os::unix::fs::symlink(env.root.join("nowhere"), dir.join("settings.json")).unwrap();
    let out = env.activate(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("settings.json"), "{err}");
    assert!(dir.join(".claude.json").is_dir());
    assert!(
        std::fs::symlink_metadata(dir.join("settings.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn claude_json_mode_0644_comes_out_0600() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".claude.json");
    std::fs::write(&path, "{\"numStartups\": 1}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_success(&env.activate(&[]));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(read_json(&path)["numStartups"], 1);
}

/// Runs `activate` with a file-size limit: writes beyond it fail with EFBIG,
/// as on a full disk.
#[test]
fn a_full_disk_leaves_the_file_byte_identical() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".claude.json");
    std::fs::write(&path, realistic_claude_json(400)).unwrap();
    let before = file_state(&path);
    let size = before.0.len() as u64;
    let manifest = env.write_manifest();
    let mut cmd = env.helper(&env.home.clone());
    cmd.arg("activate").arg("--manifest").arg(manifest);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: (size / 2) as libc::rlim_t,
                rlim_max: (size / 2) as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "the write cannot have fitted");
    let err = stderr(&out);
    assert!(err.contains("full") && err.contains("unchanged"), "{err}");
    assert_eq!(file_state(&path), before);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// Each activation that rewrites an account's `.claude.json` keeps the
/// version it replaced, private, and the next one writes over it: the file
/// alternates between two inodes, and its content is always the new one.
#[test]
fn an_account_rewrite_writes_over_the_version_the_last_one_replaced() {
    use std::os::unix::fs::MetadataExt;
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".claude.json");
    // About 175 KB: files under 128 KiB keep no replaced version.
    std::fs::write(&path, realistic_claude_json(150)).unwrap();
    let kept = dir.join("..claude.json.tmp.claude-accounts.recycled");
    let ino = |p: &Path| std::fs::symlink_metadata(p).unwrap().ino();
    let mut inodes = Vec::new();
    for round in 0..4 {
        env.manifest["accounts"]["max"]["claudeJson"]["lastReleaseNotesSeen"] =
            format!("round {round}").into();
        assert_success(&env.activate(&[]));
        assert_eq!(
            read_json(&path)["lastReleaseNotesSeen"],
            format!("round {round}")
        );
        let meta = std::fs::symlink_metadata(&kept).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600, "kept private");
        assert_eq!(meta.nlink(), 1);
        inodes.push((ino(&path), ino(&kept)));
    }
    for pair in inodes.windows(2) {
        assert_eq!(
            pair[1].0, pair[0].1,
            "written over the kept version: {inodes:?}"
        );
        assert_eq!(
            pair[1].1, pair[0].0,
            "and the replaced one kept: {inodes:?}"
        );
    }
}

/// SIGKILL at random points during 200 activations that each rewrite a
/// ~400 KB `.claude.json`: the file is always complete and valid.
#[test]
fn sigkill_mid_write_never_leaves_a_partial_file() {
    let mut env = TestEnv::new();
    let dir = env.account_dir("max");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(".claude.json");
    let original = realistic_claude_json(200);
    std::fs::write(&path, &original).unwrap();
    let original: Value = serde_json::from_str(&original).unwrap();
    let manifests: Vec<_> = (0..2)
        .map(|i| {
            env.manifest["accounts"]["max"]["claudeJson"]["autoUpdates"] = Value::Bool(i == 0);
            env.write_manifest()
        })
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut killed_mid_run = 0;
    for i in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut cmd = env.helper(&env.home.clone());
        cmd.arg("activate").arg("--manifest").arg(&manifests[i % 2]);
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(seed % 6000));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        let now = read_json(&path);
        assert!(now.is_object());
        assert_eq!(
            now["projects"], original["projects"],
            "run {i}: unowned data changed"
        );
    }
    assert!(
        killed_mid_run > 20,
        "only {killed_mid_run} runs were killed while running"
    );
    // The next run, which has something to write, cleans up and converges
    // (taking over a lock a killed run left, at once when the run had marked
    // it, else once it is stale).
    env.manifest["accounts"]["max"]["claudeJson"]["lastReleaseNotesSeen"] = "final".into();
    assert_success(&env.activate(&[]));
    assert_eq!(read_json(&path)["lastReleaseNotesSeen"], "final");
    // The version the last write replaced is kept by design, to be written
    // over by the next write (docs/ownership.md); nothing else is left.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.contains(".lock"))
        .filter(|n| n != "..claude.json.tmp.claude-accounts.recycled")
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

/// Unreadable files and read-only directories, checked as an unprivileged
/// user (root ignores file modes, so as root the helper runs as `nobody`,
/// who then owns the account, as a user owns theirs).
#[test]
fn unreadable_file_and_read_only_dir_are_refused_untouched() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let dir = env.account_dir("max");
    let as_root = unsafe { libc::geteuid() } == 0;
    let manifest = env.write_manifest();
    // The build's binary may lie where `nobody` cannot reach it.
    let helper = crate::common::RunnableByAnyone::new(Path::new(HELPER));
    let run = |env: &TestEnv| {
        let mut cmd = std::process::Command::new(&helper.path);
        env.hermetic(&mut cmd, &env.home);
        cmd.arg("activate").arg("--manifest").arg(&manifest);
        if as_root {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        crate::common::run(&mut cmd)
    };
    if as_root {
        for p in [&env.root, &env.home] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // Everything readable to the unprivileged user but the file under test.
    chmod_tree(&dir);
    if as_root {
        chown_tree(&dir, 65534);
    }
    // Unreadable .claude.json.
    let claude = dir.join(".claude.json");
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o000)).unwrap();
    let before = file_state(&claude);
    let out = run(&env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&claude.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_state(&claude), before);
    // A read-only account dir with a change to make in settings.json.
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o644)).unwrap();
    let settings = dir.join("settings.json");
    std::fs::set_permissions(&settings, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&settings, "{\"model\": \"haiku\"}").unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = file_state(&settings);
    let out = run(&env);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    assert_eq!(file_state(&settings), before);
}

/// Owner and group `id`, below and including `dir`.
fn chown_tree(dir: &Path, id: u32) {
    std::os::unix::fs::lchown(dir, Some(id), Some(id)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            chown_tree(&path, id);
        } else {
            std::os::unix::fs::lchown(&path, Some(id), Some(id)).unwrap();
        }
    }
}

/// Directories 0755, files 0644, below and including `dir`.
fn chmod_tree(dir: &Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            chmod_tree(&path);
        } else if meta.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}
