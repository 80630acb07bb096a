//! An account's `configDir` is checked as the path it really is (issue 10,
//! case 5): `check` refuses what it sees without the filesystem, `activate`
//! and `launch` refuse what only the filesystem shows, naming the path and
//! the fix, and write nothing anywhere.

use std::path::Path;

use pretty_assertions::assert_eq;

use crate::common::{list, mode, set_mode};
use crate::harness::*;

/// `claude-accounts check` of the current manifest.
fn check(env: &mut TestEnv) -> std::process::Output {
    let manifest = env.write_manifest();
    env.helper(&env.home.clone())
        .args(["check", "--manifest"])
        .arg(manifest)
        .output()
        .unwrap()
}

/// A `~/.ssh` with a key in it, mode 0755 as some users have it.
fn ssh_dir(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.home.join(".ssh");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("id_ed25519"), "secret key").unwrap();
    set_mode(&dir, 0o755);
    dir
}

const FIX: &str = "set programs.claude-code.accounts.max.configDir to a directory of its own under your home directory, such as ~/.claude-max (the default), and switch again";

#[test]
fn a_dot_dot_into_another_tools_dir_is_refused_by_check_and_nothing_is_written() {
    let mut env = TestEnv::new();
    let ssh = ssh_dir(&env);
    env.manifest["accounts"]["max"]["configDir"] = "~/.claude-max/../.ssh".into();
    let out = check(&mut env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "accounts.max.configDir: \"~/.claude-max/../.ssh\" is ~/.ssh, ssh's directory (keys, known hosts); {FIX}"
        )),
        "{}",
        stderr(&out)
    );
    let out = env.activate(&[]);
    assert!(!out.status.success());
    assert_eq!(list(&ssh), ["id_ed25519"]);
    assert_eq!(mode(&ssh), 0o755);
}

#[test]
fn a_link_to_another_tools_dir_is_refused_by_activate_and_launch() {
    let mut env = TestEnv::new();
    let ssh = ssh_dir(&env);
    std::os::unix::fs::symlink(&ssh, env.account_dir("max")).unwrap();
    // Only the filesystem shows it.
    assert_success(&check(&mut env));

    let out = env.activate(&[]);
    assert!(!out.status.success());
    let expected = format!(
        "account max: the config dir of account max, {} (really {}), is ~/.ssh, ssh's directory (keys, known hosts); {FIX}",
        env.account_dir("max").display(),
        ssh.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    // The other account is activated as usual.
    assert!(env.account_dir("pro").join("settings.json").is_file());

    let report = env.root.join("report.json");
    let work = env.work.clone();
    let out = env.launch(
        "max",
        &work,
        Vec::<&str>::new(),
        &[("FAKE_CLAUDE_REPORT", report.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&expected["account max: ".len()..]),
        "{}",
        stderr(&out)
    );
    assert!(!report.exists(), "claude did not run");
    assert_eq!(list(&ssh), ["id_ed25519"]);
    assert_eq!(mode(&ssh), 0o755);
}

#[test]
fn two_accounts_in_one_dir_are_refused_whether_by_dot_dot_or_by_a_link() {
    let mut env = TestEnv::new();
    // Without HOME, check compares dirs written the same way.
    env.manifest["accounts"]["max"]["configDir"] = "~/.claude-max".into();
    env.manifest["accounts"]["pro"]["configDir"] = "~/.claude-pro/../.claude-max".into();
    let out = check(&mut env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "accounts.pro.configDir: \"~/.claude-pro/../.claude-max\" is account \"max\"'s config dir"
        ),
        "{}",
        stderr(&out)
    );

    // The same dir through a link: both accounts are refused, nothing is
    // written in it.
    env.manifest["accounts"]["pro"]["configDir"] = env.account_dir("pro").to_str().into();
    let max = env.account_dir("max");
    std::fs::create_dir(&max).unwrap();
    std::os::unix::fs::symlink(&max, env.account_dir("pro")).unwrap();
    assert_success(&check(&mut env));
    let out = env.activate(&[]);
    assert!(!out.status.success());
    for (name, other) in [("max", "pro"), ("pro", "max")] {
        assert!(
            stderr(&out).contains(&format!(
                "account {name}: the config dir of account {name}, "
            )) && stderr(&out).contains(&format!("is the config dir of account {other}")),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(list(&max), Vec::<String>::new());

    // One inside the other.
    std::fs::remove_file(env.account_dir("pro")).unwrap();
    env.manifest["accounts"]["pro"]["configDir"] = "~/.claude-max/pro".into();
    let out = check(&mut env);
    assert!(
        stderr(&out).contains("is inside account \"max\"'s config dir"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn claudes_own_default_dir_and_a_linked_dedicated_dir_are_used() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["configDir"] = "~/.claude".into();
    // pro's dir is a link to a dedicated dir elsewhere under HOME: the real
    // dir is used (and printed).
    let real = env.home.join("accounts/pro");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, env.account_dir("pro")).unwrap();
    let out = env.activate(&[]);
    assert_success(&out);
    assert!(env.home.join(".claude/settings.json").is_file());
    assert!(real.join("settings.json").is_file());
    assert!(
        std::fs::symlink_metadata(env.account_dir("pro"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays"
    );
    assert!(
        stdout(&out).contains(&format!(
            "pro: updated {}",
            real.join("settings.json").display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(Path::new(&real).join(".claude-accounts").is_dir());
}

#[test]
fn check_knows_home_for_absolute_dirs_as_home_manager_renders_them() {
    let mut env = TestEnv::new();
    let ssh = ssh_dir(&env);
    env.manifest["accounts"]["max"]["configDir"] = env.home.join(".ssh").to_str().into();
    let out = check(&mut env);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!(
            "accounts.max.configDir: {:?} is ~/.ssh, ssh's directory (keys, known hosts); {FIX}",
            ssh.display().to_string()
        )),
        "{}",
        stderr(&out)
    );
    let out = env.activate(&[]);
    assert!(!out.status.success());
    assert_eq!(list(&ssh), ["id_ed25519"]);
}
