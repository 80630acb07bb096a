//! Spare runtime dirs (`helper/src/runtime/spare.rs`): a first launch in a
//! new worktree, and every launch of a throwaway session, renames a dir the
//! helper made in advance into place. Linux only: elsewhere there is no
//! atomic rename that never replaces, and runtime dirs are made in place.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::common::wait_until;
use crate::harness::*;
use crate::launch::{config_dir, start_session, stop};

/// The spares of `account` in the state dir under `state_home`.
fn spares(state_home: &Path, account: &str) -> Vec<PathBuf> {
    let dir = state_home.join("claude-accounts").join(account);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("spare-"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The one spare of `account`.
fn the_spare(state_home: &Path, account: &str) -> PathBuf {
    let found = spares(state_home, account);
    assert_eq!(found.len(), 1, "one spare for {account}: {found:?}");
    found.into_iter().next().unwrap()
}

fn ino(path: &Path) -> u64 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("inspecting {}: {e}", path.display()))
        .ino()
}

fn state_home(env: &TestEnv) -> PathBuf {
    env.home.join(".local/state")
}

/// Every entry of `rt` but its own links to the account's, which exists.
fn assert_linked_to_account(rt: &Path, account: &Path) {
    let mut names: Vec<String> = std::fs::read_dir(rt)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".claude-accounts" && !n.starts_with(".claude.json"))
        .collect();
    names.sort();
    assert!(names.contains(&"settings.json".to_string()), "{names:?}");
    for name in names {
        let link = rt.join(&name);
        assert_eq!(
            std::fs::read_link(&link).ok(),
            Some(account.join(&name)),
            "{} links to the account's",
            link.display()
        );
        if name != "history.jsonl" && name != "keybindings.json" {
            assert!(link.exists(), "{} resolves", link.display());
        }
    }
}

#[test]
fn activation_makes_a_spare_that_the_first_launch_in_a_new_worktree_runs_in() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let state = state_home(&env);
    let spare = the_spare(&state, "max");
    let spare_ino = ino(&spare);
    let account = env.account_dir("max");
    assert!(
        !account.join("plugins").exists() && !account.join("projects").exists(),
        "activation makes nothing in the account for a spare"
    );
    // A quiet switch with a spare in place says nothing and keeps it.
    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(stdout(&out), "");
    assert_eq!(ino(&the_spare(&state, "max")), spare_ino);

    // The files a first launch writes before claude starts are made in
    // advance too: the runtime's .claude.json (through its temp file) and
    // the registry entry.
    let prepared_temp = spare.join("..claude.json.tmp.claude-accounts.prepared");
    let prepared_entry = state.join("claude-accounts/max/runtimes/.prepared");
    let (temp_ino, entry_ino) = (ino(&prepared_temp), ino(&prepared_entry));

    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let (session, report) = start_session(&mut env, "max", &wt, &[]);
    let rt = config_dir(&report);
    assert_eq!(rt, repo.join(".git/worktrees/wt/claude-runtime/max"));
    assert_eq!(ino(&rt), spare_ino, "the runtime dir is the spare, renamed");
    assert_eq!(
        ino(&rt.join(".claude.json")),
        temp_ino,
        "written into the prepared temp"
    );
    let entries: Vec<u64> = std::fs::read_dir(state.join("claude-accounts/max/runtimes"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| ino(&e.path()))
        .collect();
    assert_eq!(
        entries,
        vec![entry_ino],
        "the registry entry is the prepared file"
    );
    assert_linked_to_account(&rt, &account);
    assert!(rt.join(".claude.json").is_file());
    // The launcher made the next spare once claude had started.
    wait_until("the next spare is made", || {
        spares(&state, "max").len() == 1
    });
    let next = the_spare(&state, "max");
    assert_ne!(ino(&next), spare_ino);
    stop(session);

    // The dir is the helper's by its registry: a re-launch uses it again.
    let out = env.launch("max", &wt, ["-p", "hi"], &[]);
    assert_success(&out);
    assert_eq!(ino(&rt), spare_ino);
    assert_eq!(
        ino(&the_spare(&state, "max")),
        ino(&next),
        "not fresh: no new spare"
    );
}

#[test]
fn a_spare_made_before_the_account_changed_links_the_account_as_it_is_at_launch() {
    let mut env = TestEnv::new();
    let account = env.account_dir("max");
    std::fs::create_dir_all(account.join("commands")).unwrap();
    assert_success(&env.activate(&[]));
    let spare = the_spare(&state_home(&env), "max");
    let spare_ino = ino(&spare);
    assert_eq!(
        std::fs::read_link(spare.join("commands")).unwrap(),
        account.join("commands")
    );
    // After the spare was made: a new entry, and one removed.
    std::fs::create_dir(account.join("rules")).unwrap();
    std::fs::write(account.join("rules/style.md"), "tabs").unwrap();
    std::fs::remove_dir(account.join("commands")).unwrap();

    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    let out = env.launch("max", &wt, ["-p", "hi"], &[]);
    assert_success(&out);
    let rt = repo.join(".git/worktrees/wt/claude-runtime/max");
    assert_eq!(ino(&rt), spare_ino, "the runtime dir is the spare");
    assert_linked_to_account(&rt, &account);
    assert_eq!(
        std::fs::read_to_string(rt.join("rules/style.md")).unwrap(),
        "tabs"
    );
    assert!(
        std::fs::symlink_metadata(rt.join("commands")).is_err(),
        "the link to the removed entry is gone"
    );
}

#[test]
fn each_throwaway_session_runs_in_a_spare_and_leaves_the_next_one() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["isolation"] = "session".into();
    assert_success(&env.activate(&[]));
    let state = state_home(&env);
    let work = env.work.clone();
    for round in 0..2 {
        let spare_ino = ino(&the_spare(&state, "max"));
        let (session, report) = start_session(&mut env, "max", &work, &[]);
        let dir = config_dir(&report);
        assert!(dir.starts_with(state.join("claude-accounts/max/sessions")));
        assert_eq!(
            ino(&dir),
            spare_ino,
            "round {round}: the session dir is the spare"
        );
        assert_linked_to_account(&dir, &env.account_dir("max"));
        wait_until("the next spare is made", || {
            spares(&state, "max").len() == 1
        });
        stop(session);
        assert!(!dir.exists(), "a throwaway session dir goes at the end");
    }
}

#[test]
fn with_the_state_dir_on_another_filesystem_the_runtime_dir_is_made_in_place() {
    let mut env = TestEnv::new();
    // /dev/shm is a tmpfs of its own on Linux: a rename from there into the
    // repository fails with EXDEV.
    let other = tempfile::tempdir_in("/dev/shm").expect("a directory in /dev/shm");
    let state = other.path().join("state");
    assert_ne!(
        std::fs::metadata(other.path()).unwrap().dev(),
        std::fs::metadata(&env.root).unwrap().dev(),
        "this test needs /dev/shm on another filesystem than the test's temporary dir"
    );
    let manifest = env.write_manifest();
    let home = env.home.clone();
    let mut activate = env.helper(&home);
    activate
        .env("XDG_STATE_HOME", &state)
        .args(["activate", "--manifest"])
        .arg(&manifest);
    assert_success(&activate.output().unwrap());
    let spare = the_spare(&state, "max");
    let spare_ino = ino(&spare);

    let repo = env.repo("repo");
    let wt = env.worktree(&repo, "wt");
    for _ in 0..2 {
        let mut cmd = env.launch_cmd("max", &wt, ["-p", "hi"], &[]);
        cmd.env("XDG_STATE_HOME", &state);
        let out = cmd.output().unwrap();
        assert_success(&out);
        assert_eq!(stderr(&out), "", "nothing to say about the spare");
    }
    let rt = repo.join(".git/worktrees/wt/claude-runtime/max");
    assert_linked_to_account(&rt, &env.account_dir("max"));
    assert_eq!(
        ino(&the_spare(&state, "max")),
        spare_ino,
        "left where it is"
    );
}
