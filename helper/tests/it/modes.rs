//! Modes hold at every activate and launch, even when nothing else changes
//! (issue 10, case 7): the managed files and their records 0600, the account
//! dir and the helper's state dirs 0700; each repair is one line naming the
//! path and both modes, and nothing else is touched.

use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use crate::common::{mode, read, set_mode};
use crate::harness::*;

/// Loosens each of `paths` to 0755 (dirs) or 0644 (files); returns the
/// repair lines expected, sorted.
fn loosen(paths: &[PathBuf]) -> Vec<String> {
    let mut lines: Vec<String> = paths
        .iter()
        .map(|p| {
            let (loose, private) = if p.is_dir() {
                (0o755, 0o700)
            } else {
                (0o644, 0o600)
            };
            set_mode(p, loose);
            format!(
                "{} was mode {loose:04o}; made it {private:04o}",
                p.display()
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The lines of `text` that report a repair, without their prefix, sorted.
fn repairs(text: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains(" was mode "))
        .map(|l| l.strip_prefix(prefix).unwrap_or(l).to_string())
        .collect();
    lines.sort();
    lines
}

fn contents(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| read(p))
        .collect()
}

/// The account dir, its state dirs, its managed files and their records.
fn account_paths(dir: &Path) -> Vec<PathBuf> {
    let state = dir.join(".claude-accounts");
    let records = state.join("last-applied");
    vec![
        dir.to_path_buf(),
        state.clone(),
        records.clone(),
        dir.join("settings.json"),
        dir.join(".claude.json"),
        records.join("settings.json"),
        records.join(".claude.json"),
    ]
}

#[test]
fn activate_repairs_loose_modes_when_nothing_else_changes() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let paths = account_paths(&env.account_dir("max"));
    let before = contents(&paths);
    let expected = loosen(&paths);

    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(repairs(&stdout(&out), "max: "), expected);
    assert_eq!(
        stdout(&out).lines().count(),
        expected.len(),
        "only the repairs are reported:\n{}",
        stdout(&out)
    );
    for p in &paths {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }
    assert_eq!(contents(&paths), before, "only the modes changed");

    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(stdout(&out), "", "held: nothing more to repair");
}

#[test]
fn a_write_makes_a_loose_file_private_and_says_so() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let settings = env.account_dir("max").join("settings.json");
    let expected = loosen(std::slice::from_ref(&settings));
    env.manifest["accounts"]["max"]["settings"]["model"] = "sonnet".into();
    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(repairs(&stdout(&out), "max: "), expected);
    assert_eq!(mode(&settings), 0o600);
    assert!(read(&settings).contains("sonnet"));
}

#[test]
fn launch_repairs_the_account_and_the_runtime() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    let repo = env.repo("repo");
    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert_success(&out);
    let account = env.account_dir("max");
    let runtime = repo.join(".git/claude-runtime/max");
    let state = runtime.join(".claude-accounts");
    let mut paths = account_paths(&account);
    paths.retain(|p| !p.ends_with(".claude.json")); // not managed at a worktree launch
    paths.extend([
        state.clone(),
        state.join("last-applied"),
        runtime.join(".claude.json"),
        state.join("last-applied/.claude.json"),
    ]);
    let before = contents(&paths);
    let expected = loosen(&paths);

    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert_success(&out);
    assert_eq!(repairs(&stderr(&out), "claude-accounts: "), expected);
    for p in &paths {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }
    assert_eq!(contents(&paths), before, "only the modes changed");

    let out = env.launch("max", &repo, Vec::<&str>::new(), &[]);
    assert_success(&out);
    assert_eq!(
        repairs(&stderr(&out), "claude-accounts: "),
        Vec::<String>::new()
    );
}
