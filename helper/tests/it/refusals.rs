//! Something else where the helper keeps its own files (issue 10, case 9):
//! the error names the path and what to do, and nothing is lost.

use pretty_assertions::assert_eq;

use crate::common::read;
use crate::harness::*;

#[test]
fn a_record_that_is_a_directory_is_refused_with_the_fix() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let dir = env.account_dir("max");
    let record = dir.join(".claude-accounts/last-applied/settings.json");
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    let settings = read(&dir.join("settings.json"));
    env.manifest["accounts"]["max"]["settings"]["model"] = "sonnet".into();

    let out = env.activate(&[]);
    assert!(!out.status.success());
    let r = record.display();
    assert!(
        stderr(&out).contains(&format!(
            "account max: {r}, claude-accounts' record of what it applied to {}, is a directory, not a file; move it away (mv -- '{r}' '{r}.old') and run again",
            dir.join("settings.json").display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(read(&dir.join("settings.json")), settings, "left untouched");
    assert!(record.is_dir());
}

#[test]
fn a_session_lock_that_is_a_directory_is_refused_with_the_fix() {
    let mut env = TestEnv::new();
    let repo = env.repo("repo");
    assert_success(&env.launch("max", &repo, Vec::<&str>::new(), &[]));
    let lock = repo.join(".git/claude-runtime/max/.claude-accounts/session.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();

    let report = env.root.join("report.json");
    let out = env.launch(
        "max",
        &repo,
        Vec::<&str>::new(),
        &[("FAKE_CLAUDE_REPORT", report.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let l = lock.display();
    assert!(
        stderr(&out).contains(&format!(
            "the session lock {l} is a directory, not the lock file claude-accounts keeps there; move it away (mv -- '{l}' '{l}.old') and launch again"
        )),
        "{}",
        stderr(&out)
    );
    assert!(!report.exists(), "claude did not run");
    assert!(lock.is_dir());
}
