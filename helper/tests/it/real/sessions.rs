//! Issue 11, "Done when", for named sessions and profiles, with the real
//! Claude Code: `claude-session` (`claude-accounts session`) drives the
//! pinned CLI against the stand-in, as a user would.

use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::api::{REPLY_TEXT, Request, message_models};
use super::harness::{RealEnv, Run};
use super::tmux::Screen;
use crate::harness::{HELPER, assert_success};

/// `claude-session ARGS` in `cwd` to completion, with the stand-in's
/// variables; the requests it made.
fn session(env: &mut RealEnv, cwd: &Path, args: &[&str]) -> Run {
    let manifest = env.write_manifest();
    let mark = env.api.count();
    let mut cmd = env.helper(cwd);
    cmd.arg("session")
        .arg("--manifest")
        .arg(manifest)
        .args(args)
        .envs(env.claude_vars());
    let output = cmd.output().expect("running claude-accounts session");
    Run {
        output,
        requests: env.api.since(mark),
    }
}

/// `claude-session ARGS` that must succeed and send at least one message.
#[track_caller]
fn ok(env: &mut RealEnv, cwd: &Path, args: &[&str]) -> Run {
    let run = session(env, cwd, args);
    assert_success(&run.output);
    run
}

/// `claude-session show NAME --json`.
fn show(env: &mut RealEnv, cwd: &Path, name: &str) -> Value {
    let run = ok(env, cwd, &["show", name, "--json"]);
    serde_json::from_slice(&run.output.stdout).expect("show --json is JSON")
}

/// The text of the last message request.
#[track_caller]
fn last_body(run: &Run) -> String {
    run.messages()
        .last()
        .expect("a message request was sent")
        .body_text()
}

#[track_caller]
fn assert_token(requests: &[&Request], account: &str) {
    assert!(!requests.is_empty(), "no message request was sent");
    let expected = format!("Bearer {}", RealEnv::token(account));
    for r in requests {
        assert_eq!(r.header("authorization"), Some(expected.as_str()));
    }
}

/// Every `*.jsonl` transcript directly under `<dir>/projects/*/`.
fn transcripts(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(projects) = std::fs::read_dir(dir.join("projects")) else {
        return out;
    };
    for p in projects.flatten() {
        let Ok(files) = std::fs::read_dir(p.path()) else {
            continue;
        };
        for f in files.flatten() {
            if f.path().extension().is_some_and(|e| e == "jsonl") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

fn ids_of(record: &Value) -> Vec<String> {
    let mut ids: Vec<String> = record["earlierIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.push(record["id"].as_str().unwrap().to_string());
    ids
}

/// `claude-session ARGS` in `cwd` on a tmux screen.
fn session_screen(env: &mut RealEnv, cwd: &Path, name: &str, args: &[&str]) -> Screen {
    let manifest = env.write_manifest();
    let mut vars = vec![
        ("HOME".to_string(), env.home.to_string_lossy().into_owned()),
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        ),
        ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()),
        ("TERM".to_string(), "xterm-256color".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ];
    vars.extend(env.claude_vars());
    let mut full = vec![
        "session".to_string(),
        "--manifest".to_string(),
        manifest.to_string_lossy().into_owned(),
    ];
    full.extend(args.iter().map(|a| a.to_string()));
    Screen::start(
        &env.root,
        &format!("session-{name}"),
        cwd,
        &vars,
        Path::new(HELPER),
        &full,
    )
}

#[test]
fn start_then_resume_sends_the_first_sessions_turns() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let first = ok(
        &mut env,
        &repo,
        &[
            "start",
            "feat",
            "--account",
            "max",
            "--",
            "-p",
            "FIRST-TURN-41",
        ],
    );
    assert!(!first.messages().is_empty());
    let resumed = ok(
        &mut env,
        &repo,
        &["resume", "feat", "--", "-p", "SECOND-TURN-41"],
    );
    let body = last_body(&resumed);
    for mark in ["FIRST-TURN-41", REPLY_TEXT, "SECOND-TURN-41"] {
        assert!(body.contains(mark), "{mark} is not in the resumed request");
    }
    assert_token(&resumed.messages(), "max");
}

#[test]
fn fork_gives_a_new_id_carrying_the_parents_turns() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    ok(
        &mut env,
        &repo,
        &[
            "start",
            "base",
            "--account",
            "max",
            "--",
            "-p",
            "PARENT-TURN-42",
        ],
    );
    let parent = show(&mut env, &repo, "base")["id"].clone();
    let forked = ok(
        &mut env,
        &repo,
        &["fork", "base", "branch", "--", "-p", "CHILD-TURN-42"],
    );
    assert!(
        last_body(&forked).contains("PARENT-TURN-42"),
        "the fork does not carry the parent's turn"
    );
    let child = show(&mut env, &repo, "branch");
    assert_ne!(child["id"], parent);
    let on_disk: Vec<&Value> = child["transcripts"].as_array().unwrap().iter().collect();
    assert_eq!(on_disk.len(), 1);
    let text = std::fs::read_to_string(on_disk[0]["path"].as_str().unwrap()).unwrap();
    assert!(text.contains("PARENT-TURN-42") && text.contains("CHILD-TURN-42"));
    // The parent's transcript did not get the child's turn.
    let parent_rec = show(&mut env, &repo, "base");
    let parent_text =
        std::fs::read_to_string(parent_rec["transcripts"][0]["path"].as_str().unwrap()).unwrap();
    assert!(!parent_text.contains("CHILD-TURN-42"));
}

#[test]
fn resume_with_pro_of_a_session_max_started_is_sent_with_pros_token() {
    let mut env = RealEnv::new();
    env.log_in("max");
    env.log_in("pro");
    let repo = env.repo("repo");
    let linked = env.worktree(&repo, "linked");
    let first = ok(
        &mut env,
        &repo,
        &[
            "start",
            "limits",
            "--account",
            "max",
            "--",
            "-p",
            "MAX-TURN-43",
        ],
    );
    assert_token(&first.messages(), "max");
    let resumed = ok(
        &mut env,
        &linked,
        &[
            "resume",
            "limits",
            "--account",
            "pro",
            "--",
            "-p",
            "PRO-TURN-43",
        ],
    );
    assert_token(&resumed.messages(), "pro");
    assert!(
        last_body(&resumed).contains("MAX-TURN-43"),
        "pro's request lacks max's turn"
    );
    let rec = show(&mut env, &repo, "limits");
    let id = rec["id"].as_str().unwrap();
    assert_eq!(rec["copies"], json!({"max": [id], "pro": [id]}));
    // max's copy stays as max left it.
    let max_copy = rec["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["account"] == "max")
        .expect("max keeps its copy");
    let text = std::fs::read_to_string(max_copy["path"].as_str().unwrap()).unwrap();
    assert!(!text.contains("PRO-TURN-43"));
}

#[test]
fn clear_in_an_interactive_session_keeps_the_name() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let screen = session_screen(
        &mut env,
        &repo,
        "clear",
        &["start", "chat", "--account", "max"],
    );
    screen.ready_trusting();
    let first = show(&mut env, &repo, "chat")["id"].clone();
    let mark = env.api.count();
    screen.submit("BEFORE-CLEAR-44");
    screen.wait_for(REPLY_TEXT);
    screen.submit("/clear");
    crate::common::wait_until("the hook moved the name after /clear", || {
        show(&mut env, &repo, "chat")["id"] != first
    });
    screen.submit("AFTER-CLEAR-44");
    crate::common::wait_until("the turn after /clear is sent", || {
        env.api
            .since(mark)
            .iter()
            .any(|r| r.is_message() && r.body_text().contains("AFTER-CLEAR-44"))
    });
    assert_eq!(screen.exit(), 0);
    let rec = show(&mut env, &repo, "chat");
    assert_eq!(rec["earlierIds"], json!([first]));

    let resumed = ok(&mut env, &repo, &["resume", "chat", "--", "-p", "NEXT-44"]);
    let body = last_body(&resumed);
    assert!(
        body.contains("AFTER-CLEAR-44"),
        "resume did not continue after /clear"
    );
    assert!(
        !body.contains("BEFORE-CLEAR-44"),
        "resume continued the id from before /clear"
    );
}

#[test]
fn delete_leaves_no_transcript_of_any_id_and_incognito_none_at_all() {
    let mut env = RealEnv::new();
    env.log_in("max");
    env.log_in("pro");
    let repo = env.repo("repo");
    ok(
        &mut env,
        &repo,
        &["start", "gone", "--account", "max", "--", "-p", "one"],
    );
    ok(
        &mut env,
        &repo,
        &["resume", "gone", "--account", "pro", "--", "-p", "two"],
    );
    ok(
        &mut env,
        &repo,
        &["fork", "gone", "kept", "--", "-p", "three"],
    );
    let ids = ids_of(&show(&mut env, &repo, "gone"));
    let kept = show(&mut env, &repo, "kept")["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&mut env, &repo, &["delete", "gone"]);
    for account in ["max", "pro"] {
        for t in transcripts(&env.account_dir(account)) {
            let name = t.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(!ids.contains(&name), "{} is left", t.display());
        }
    }
    assert_eq!(
        transcripts(&env.account_dir("pro")).len(),
        1,
        "the fork's transcript stays"
    );
    assert!(transcripts(&env.account_dir("pro"))[0].ends_with(format!("{kept}.jsonl")));

    let before = transcripts(&env.account_dir("max"));
    let run = ok(
        &mut env,
        &repo,
        &["incognito", "--account", "max", "--", "-p", "SECRET-45"],
    );
    assert!(last_body(&run).contains("SECRET-45"));
    assert_eq!(
        transcripts(&env.account_dir("max")),
        before,
        "incognito left a transcript"
    );
}

#[test]
fn a_profiles_model_is_sent_and_a_model_flag_wins_over_it() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let fast = env.write("profiles/fast.json", r#"{"model": "claude-haiku-4-5"}"#);
    env.manifest["accounts"]["max"]["profiles"] = json!({"fast": fast});
    let repo = env.repo("repo");
    let run = ok(
        &mut env,
        &repo,
        &[
            "start",
            "p",
            "--account",
            "max",
            "--profile",
            "fast",
            "--",
            "-p",
            "hi",
        ],
    );
    assert_eq!(message_models(&run.requests), vec!["claude-haiku-4-5"]);
    let run = ok(
        &mut env,
        &repo,
        &[
            "start",
            "q",
            "--account",
            "max",
            "--profile",
            "fast",
            "--",
            "-p",
            "hi",
            "--model",
            "claude-opus-4-6",
        ],
    );
    assert_eq!(message_models(&run.requests), vec!["claude-opus-4-6"]);

    // CLAUDE_ACCOUNTS_PROFILE with claude<name>.
    let mut cmd = env.launch_real("max", &repo, &["-p", "hi"]);
    cmd.env("CLAUDE_ACCOUNTS_PROFILE", "fast");
    let mark = env.api.count();
    let out = cmd.output().unwrap();
    assert_success(&out);
    assert_eq!(
        message_models(&env.api.since(mark)),
        vec!["claude-haiku-4-5"]
    );
}

#[test]
fn an_interactive_incognito_session_leaves_neither_transcript_nor_prompt() {
    let mut env = RealEnv::new();
    env.log_in("max");
    let repo = env.repo("repo");
    let history = env.account_dir("max").join("history.jsonl");
    let other = "{\"display\":\"OTHER-PROMPT-46\",\"pastedContents\":{},\"timestamp\":1,\"project\":\"/x\",\"sessionId\":\"11111111-1111-4111-8111-111111111111\"}\n";
    crate::common::write(&history, other);
    let screen = session_screen(
        &mut env,
        &repo,
        "incognito",
        &["incognito", "--account", "max"],
    );
    screen.ready_trusting();
    screen.submit("SECRET-PROMPT-46");
    screen.wait_for(REPLY_TEXT);
    assert!(
        crate::common::read(&history).contains("SECRET-PROMPT-46"),
        "Claude keeps the prompt in history.jsonl while the session runs"
    );
    assert!(!transcripts(&env.account_dir("max")).is_empty());
    assert_eq!(screen.exit(), 0);
    assert_eq!(transcripts(&env.account_dir("max")), Vec::<PathBuf>::new());
    assert_eq!(
        crate::common::read(&history),
        other,
        "only the incognito prompts went"
    );
}
