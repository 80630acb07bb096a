//! The modes claude-accounts holds (issue 10, case 7) against Claude Code's
//! own writes. Claude Code 2.1.332 keeps `.claude.json` 0600, but writes
//! `settings.json` (`/model`, `/config`, plugin installs) with the default
//! mode, 0644 under umask 022: the next launch makes it 0600 again and says
//! so in one line, and the launch after that has nothing to repair.

use pretty_assertions::assert_eq;

use super::api::REPLY_TEXT;
use super::harness::RealEnv;
use crate::common::{mode, read};
use crate::harness::{assert_success, stderr};

/// The launcher's lines that report a mode repair.
fn repairs(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(" was mode "))
        .map(str::to_string)
        .collect()
}

#[test]
fn claudes_own_writes_and_the_modes_held_at_the_next_launch() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let screen = env.interactive("max", &repo, &[]);
    screen.accept_trust_dialog();
    screen.set_model("haiku");
    screen.submit("hello");
    screen.wait_for(REPLY_TEXT);
    assert_eq!(screen.exit(), 0);

    let account = env.account_dir("max");
    let settings = account.join("settings.json");
    let claude_jsons = [
        account.join(".claude.json"),
        env.runtime_dir(&repo, "max").join(".claude.json"),
    ];
    assert!(read(&settings).contains("haiku"), "Claude wrote it");
    assert_eq!(mode(&settings), 0o644, "Claude's write");
    for f in &claude_jsons {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }

    let run = env.print("max", &repo, "again", &[]);
    assert_success(&run.output);
    assert_eq!(
        repairs(&stderr(&run.output)),
        [format!(
            "claude-accounts: {} was mode 0644; made it 0600",
            settings.display()
        )]
    );
    assert_eq!(mode(&settings), 0o600);
    assert!(read(&settings).contains("haiku"), "only the mode changed");

    let run = env.print("max", &repo, "and again", &[]);
    assert_success(&run.output);
    assert_eq!(repairs(&stderr(&run.output)), Vec::<String>::new());
}
