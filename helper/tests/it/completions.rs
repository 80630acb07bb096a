//! `claude-accounts completions`: the bash script completes subcommands and
//! account names read from the manifest at completion time.

use pretty_assertions::assert_eq;

use crate::harness::*;

/// Runs bash completion of `words` (the last one being completed) with the
/// generated script; the candidates, sorted.
fn complete(env: &mut TestEnv, words: &[&str]) -> Vec<String> {
    let manifest = env.write_manifest();
    let script = env.root.join("completion.bash");
    let out = env
        .helper(&env.root)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert_success(&out);
    std::fs::write(&script, &out.stdout).unwrap();
    let words: Vec<String> = words
        .iter()
        .map(|w| w.replace("MANIFEST", manifest.to_str().unwrap()))
        .collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { &words[cword - 1] } else { "" };
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n_claude_accounts_complete claude-accounts '{}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words[cword],
    );
    // The script calls `claude-accounts`: the one under test, first on PATH.
    let helper_dir = std::path::Path::new(HELPER).parent().unwrap();
    let mut bash = std::process::Command::new("bash");
    env.hermetic(&mut bash, &env.root);
    let out = bash
        .env(
            "PATH",
            format!(
                "{}:{}",
                helper_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("running bash");
    assert_success(&out);
    let mut got: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    got.sort();
    got
}

#[test]
fn bash_completes_account_names_from_the_manifest() {
    let mut env = TestEnv::new();
    let accounts = vec!["max".to_string(), "pro".to_string()];
    assert_eq!(
        complete(
            &mut env,
            &[
                "claude-accounts",
                "launch",
                "--manifest",
                "MANIFEST",
                "--account",
                ""
            ]
        ),
        accounts
    );
    assert_eq!(
        complete(
            &mut env,
            &[
                "claude-accounts",
                "explain",
                "--manifest",
                "MANIFEST",
                "--account",
                "p"
            ]
        ),
        vec!["pro".to_string()]
    );
    assert_eq!(
        complete(
            &mut env,
            &["claude-accounts", "close", "--manifest", "MANIFEST", "m"]
        ),
        vec!["max".to_string()]
    );
    // A third account appears as soon as the manifest has it.
    env.manifest["accounts"]["team"] = TestEnv::account(&env.home, "team");
    let status = complete(
        &mut env,
        &["claude-accounts", "status", "--manifest", "MANIFEST", ""],
    );
    for name in ["max", "pro", "team", "--json"] {
        assert!(
            status.contains(&name.to_string()),
            "{name} missing in {status:?}"
        );
    }
    // Subcommands still come from clap's script.
    let subs = complete(&mut env, &["claude-accounts", "ex"]);
    assert_eq!(subs, vec!["explain".to_string()]);
    // Options are not account names.
    let opts = complete(
        &mut env,
        &["claude-accounts", "status", "--manifest", "MANIFEST", "--j"],
    );
    assert_eq!(opts, vec!["--json".to_string()]);
}

#[test]
fn names_lists_the_accounts_and_fails_on_a_bad_manifest() {
    let mut env = TestEnv::new();
    let manifest = env.write_manifest();
    let out = env
        .helper(&env.root)
        .args(["names", "accounts", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "max\npro\n");
    std::fs::write(&manifest, "{").unwrap();
    let out = env
        .helper(&env.root)
        .args(["names", "accounts", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
}
