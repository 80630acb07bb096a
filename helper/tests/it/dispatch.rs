//! `claude-accounts dispatch` (the `claude` that picks the account): one
//! launch per rule, with the fake claude reporting the config dir it got.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;

/// Runs `dispatch -- args` in `cwd` with `extra` environment; the output and
/// the fake claude's report (`Value::Null` when claude did not run).
fn dispatch(
    env: &mut TestEnv,
    cwd: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> (std::process::Output, Value) {
    let manifest = env.write_manifest();
    let report = env.root.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut cmd = env.helper(cwd);
    cmd.arg("dispatch")
        .arg("--manifest")
        .arg(manifest)
        .arg("--")
        .args(args)
        .env("FAKE_CLAUDE_REPORT", &report);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running claude-accounts dispatch");
    let report = if report.exists() {
        read_json(&report)
    } else {
        Value::Null
    };
    (out, report)
}

/// The account whose dir the session ran in (outside git: the account dir).
fn account_of(env: &TestEnv, report: &Value) -> String {
    let dir = Path::new(report["configDir"].as_str().expect("configDir in report"));
    ["max", "pro"]
        .into_iter()
        .find(|a| dir == env.account_dir(a))
        .unwrap_or_else(|| panic!("{} is no account dir", dir.display()))
        .to_string()
}

#[test]
fn each_rule_picks_its_account_and_arguments_pass_untouched() {
    let mut env = TestEnv::new();
    let clients = env.mkdir("clients");
    let acme_app = env.mkdir("clients/acme/app");
    let other = env.mkdir("clients/other");
    let elsewhere = env.mkdir("elsewhere");
    // A directory whose name extends a mapped one is not inside it.
    let lookalike = env.mkdir("clients-old");
    env.manifest["accountFor"] = json!({
        clients.to_str().unwrap(): "max",
        env.root.join("clients/acme").to_str().unwrap(): "pro",
    });

    // Prefix.
    let args = ["-p", "--model", "x y", "--", "-"];
    let (out, report) = dispatch(&mut env, &other, &args, &[]);
    assert_success(&out);
    assert_eq!(account_of(&env, &report), "max");
    assert_eq!(
        report["args"],
        json!(args),
        "arguments reach claude untouched"
    );

    // Longest prefix.
    let (out, report) = dispatch(&mut env, &acme_app, &[], &[]);
    assert_success(&out);
    assert_eq!(account_of(&env, &report), "pro");

    // None: a clear error naming every option, and claude does not run.
    for dir in [&elsewhere, &lookalike] {
        let (out, report) = dispatch(&mut env, dir, &[], &[]);
        assert!(!out.status.success(), "{}", stdout(&out));
        assert_eq!(report, Value::Null);
        let err = stderr(&out);
        for needle in [
            "CLAUDE_ACCOUNT=",
            "accountFor",
            "defaultAccount",
            "max, pro",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in {err}");
        }
    }

    // Default.
    env.manifest["defaultAccount"] = json!("pro");
    let (out, report) = dispatch(&mut env, &elsewhere, &[], &[]);
    assert_success(&out);
    assert_eq!(account_of(&env, &report), "pro");
    let (out, report) = dispatch(&mut env, &other, &[], &[]);
    assert_success(&out);
    assert_eq!(
        account_of(&env, &report),
        "max",
        "a prefix beats the default"
    );

    // CLAUDE_ACCOUNT beats everything; an unknown name is an error.
    let (out, report) = dispatch(&mut env, &acme_app, &[], &[("CLAUDE_ACCOUNT", "max")]);
    assert_success(&out);
    assert_eq!(account_of(&env, &report), "max");
    let (out, report) = dispatch(&mut env, &acme_app, &[], &[("CLAUDE_ACCOUNT", "team")]);
    assert!(!out.status.success());
    assert_eq!(report, Value::Null);
    assert!(
        stderr(&out).contains("CLAUDE_ACCOUNT=team"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_directory_reached_through_a_link_gets_the_account_of_its_target() {
    let mut env = TestEnv::new();
    let real = env.mkdir("data/work/app");
    std::os::unix::fs::symlink(env.root.join("data/work"), env.home.join("work")).unwrap();
    env.manifest["accountFor"] = json!({"~/work": "pro"});
    env.manifest["defaultAccount"] = json!("max");
    let (out, report) = dispatch(&mut env, &real, &[], &[]);
    assert_success(&out);
    assert_eq!(account_of(&env, &report), "pro");
}

#[test]
fn check_rejects_unknown_accounts_and_relative_directories() {
    let mut env = TestEnv::new();
    env.manifest["defaultAccount"] = json!("team");
    env.manifest["accountFor"] = json!({"src/work": "max", "/srv/x": "nobody"});
    let manifest = env.write_manifest();
    let out = env
        .helper(&env.root)
        .arg("check")
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    for needle in [
        "defaultAccount: \"team\" is not a declared account",
        "accountFor.\"src/work\": a directory must be absolute",
        "accountFor.\"/srv/x\": \"nobody\" is not a declared account",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
}

#[test]
fn status_says_which_account_the_directory_gets_and_each_login() {
    let mut env = TestEnv::new();
    let clients = env.mkdir("clients/acme");
    let status = |env: &mut TestEnv, cwd: &Path, extra: &[(&str, &str)]| -> Value {
        let manifest = env.write_manifest();
        let mut cmd = env.helper(cwd);
        cmd.args(["status", "--json", "--manifest"]).arg(manifest);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Without the dispatcher, nothing to say.
    let s = status(&mut env, &clients, &[]);
    assert_eq!(
        s["here"],
        json!({"directory": clients, "choice": null, "error": null})
    );
    env.manifest["accountFor"] = json!({env.root.join("clients").to_str().unwrap(): "max"});
    let s = status(&mut env, &clients, &[]);
    assert_eq!(s["schemaVersion"], 1);
    assert_eq!(
        s["here"]["choice"],
        json!({"account": "max", "reason": {"rule": "accountFor", "declared": env.root.join("clients")}})
    );
    assert_eq!(s["accounts"][0]["login"]["state"], "not-logged-in");
    let root = env.root.clone();
    let s = status(&mut env, &root, &[("CLAUDE_ACCOUNT", "pro")]);
    assert_eq!(
        s["here"]["choice"]["reason"],
        json!({"rule": "environment"})
    );
    let s = status(&mut env, &root, &[]);
    assert!(s["here"]["choice"].is_null());
    assert!(
        s["here"]["error"]
            .as_str()
            .unwrap()
            .contains("defaultAccount"),
        "{s:#}"
    );

    // A login (the fake claude writes the account's .credentials.json).
    let (out, _) = dispatch(&mut env, &clients, &[], &[("FAKE_CLAUDE_ACTIONS", "login")]);
    assert_success(&out);
    let s = status(&mut env, &clients, &[]);
    let login = &s["accounts"][0]["login"];
    assert_eq!(login["state"], "logged-in", "{login:#}");
    assert!(login["expiresAt"].as_u64().is_some(), "{login:#}");
    let text = serde_json::to_string(&s).unwrap();
    let creds = std::fs::read_to_string(env.account_dir("max").join(".credentials.json")).unwrap();
    let creds: Value = serde_json::from_str(&creds).unwrap();
    let token = creds["claudeAiOauth"]["accessToken"].as_str().unwrap();
    assert!(!text.contains(token), "status shows no token");

    // The text form.
    let manifest = env.write_manifest();
    let out = env
        .helper(&clients)
        .args(["status", "--manifest"])
        .arg(manifest)
        .output()
        .unwrap();
    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "here: {} gets account max (accountFor {})",
            clients.display(),
            env.root.join("clients").display()
        )),
        "{text}"
    );
    assert!(text.contains("login: logged in"), "{text}");
    assert!(!text.contains(token));
}
