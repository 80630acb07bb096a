//! `claude-accounts session` (claude-session) and profiles, with the fake
//! claude: the name store, transcripts across accounts, the SessionStart
//! hook, and every error a user can meet. How the real Claude Code treats
//! the session flags is shown in the real-Claude tier.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{self, Reaped, list, read_json, read_jsonl, wait_until};
use crate::harness::{TestEnv, assert_success, stderr, stdout};

/// A test world: the harness's two accounts, both with the profile `fast`.
struct World {
    t: TestEnv,
    reports: PathBuf,
    n: std::cell::Cell<u32>,
}

impl World {
    fn new() -> World {
        let mut t = TestEnv::new();
        let fast = t.write(
            "profiles/fast.json",
            r#"{"model": "haiku", "permissions": {"defaultMode": "plan"}}"#,
        );
        for a in ["max", "pro"] {
            t.manifest["accounts"][a]["profiles"] = json!({"fast": fast});
        }
        let reports = t.mkdir("reports");
        t.write_manifest();
        World {
            t,
            reports,
            n: std::cell::Cell::new(0),
        }
    }

    /// Every account runs its sessions in the account dir itself.
    fn isolation(&mut self, isolation: &str) {
        for a in ["max", "pro"] {
            self.t.manifest["accounts"][a]["isolation"] = json!(isolation);
        }
    }

    /// `claude-accounts session --manifest M ARGS` in `cwd`, the fake doing
    /// `actions`; the output and the fake's report (if it ran).
    fn cmd(&mut self, cwd: &Path, args: &[&str], actions: &str) -> (Command, PathBuf) {
        let manifest = self.t.write_manifest();
        let n = self.n.get() + 1;
        self.n.set(n);
        let report = self.reports.join(format!("{n}.json"));
        let mut cmd = self.t.helper(cwd);
        cmd.arg("session")
            .arg("--manifest")
            .arg(manifest)
            .args(args)
            .env("FAKE_CLAUDE_ACTIONS", actions)
            .env("FAKE_CLAUDE_REPORT", &report)
            .env("FAKE_CLAUDE_LOG", self.reports.join("log.jsonl"));
        (cmd, report)
    }

    fn session(&mut self, cwd: &Path, args: &[&str], actions: &str) -> (Output, Option<Value>) {
        let (mut cmd, report) = self.cmd(cwd, args, actions);
        let out = common::run(&mut cmd);
        let report = report.exists().then(|| read_json(&report));
        (out, report)
    }

    fn ok(&mut self, cwd: &Path, args: &[&str], actions: &str) -> Option<Value> {
        let (out, report) = self.session(cwd, args, actions);
        assert_success(&out);
        report
    }

    fn fails(&mut self, cwd: &Path, args: &[&str]) -> String {
        let (out, report) = self.session(cwd, args, "startup");
        assert!(
            !out.status.success(),
            "expected a failure of {args:?}:\n{}",
            stdout(&out)
        );
        assert_eq!(report, None, "claude must not run when {args:?} fails");
        stderr(&out)
    }

    /// `list --json` in `cwd`.
    fn list(&mut self, cwd: &Path) -> Value {
        let (out, _) = self.session(cwd, &["list", "--json"], "");
        assert_success(&out);
        serde_json::from_slice(&out.stdout).expect("list --json is JSON")
    }

    fn names(&mut self, cwd: &Path) -> Vec<String> {
        self.list(cwd)["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn record(&mut self, cwd: &Path, name: &str) -> Value {
        let (out, _) = self.session(cwd, &["show", name, "--json"], "");
        assert_success(&out);
        serde_json::from_slice(&out.stdout).expect("show --json is JSON")
    }

    fn account_dir(&self, a: &str) -> PathBuf {
        self.t.account_dir(a)
    }

    /// Every `<id>.jsonl` under `dir` (any depth), as paths relative to it.
    fn transcripts(&self, dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        walk(dir, &mut |p| {
            if p.extension().is_some_and(|e| e == "jsonl")
                && p.parent()
                    .and_then(Path::parent)
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "projects")
            {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        });
        out.sort();
        out
    }

    fn hooks(&self) -> Vec<Value> {
        let log = self.reports.join("log.jsonl");
        if !log.exists() {
            return Vec::new();
        }
        read_jsonl(&log)
            .into_iter()
            .filter(|e| e["event"] == "hook")
            .collect()
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

fn args(report: &Value) -> Vec<String> {
    report["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The transcript lines of `id` under `config_dir`.
fn lines(config_dir: &Path, id: &str) -> Vec<Value> {
    let projects = config_dir.join("projects");
    for d in list(&projects) {
        let p = projects.join(d).join(format!("{id}.jsonl"));
        if p.exists() {
            return read_jsonl(&p);
        }
    }
    panic!("no transcript of {id} under {}", projects.display());
}

#[test]
fn start_then_resume_continues_the_named_session() {
    let mut w = World::new();
    let repo = w.t.repo("repo");
    let r1 = w
        .ok(
            &repo,
            &["start", "fix-login", "--account", "max", "--", "-p", "hi"],
            "startup",
        )
        .unwrap();
    let id = r1["sessionId"].as_str().unwrap().to_string();
    let a = args(&r1);
    assert_eq!(a[..2], ["--session-id".to_string(), id.clone()]);
    assert_eq!(a[2], "--settings");
    assert_eq!(
        a[4..],
        ["-p".to_string(), "hi".into()],
        "the user's arguments come last, untouched"
    );

    let listed = w.list(&repo);
    assert_eq!(listed["project"], json!(repo));
    assert_eq!(listed["sessions"][0]["name"], "fix-login");
    assert_eq!(listed["sessions"][0]["id"], json!(id));
    assert_eq!(listed["sessions"][0]["account"], "max");
    assert_eq!(listed["sessions"][0]["running"], false);

    let r2 = w.ok(&repo, &["resume", "fix-login"], "startup").unwrap();
    assert_eq!(args(&r2)[..2], ["--resume".to_string(), id.clone()]);
    assert_eq!(r2["sessionId"], json!(id));
    assert_eq!(
        lines(Path::new(r2["configDir"].as_str().unwrap()), &id).len(),
        2
    );
    let sources: Vec<Value> = w.hooks().iter().map(|h| h["source"].clone()).collect();
    assert_eq!(
        sources,
        vec![json!("startup"), json!("resume")],
        "the hook ran in both"
    );
    assert!(w.hooks().iter().all(|h| h["code"] == 0), "{:?}", w.hooks());
}

#[test]
fn names_belong_to_the_project_and_live_outside_the_repository() {
    let mut w = World::new();
    let repo = w.t.repo("repo");
    let linked = w.t.worktree(&repo, "linked");
    let sub = w.t.mkdir("repo/src/deep");
    w.ok(&sub, &["start", "a", "--account", "max"], "startup");
    assert_eq!(
        w.names(&linked),
        vec!["a"],
        "a linked worktree sees the main checkout's names"
    );
    assert_eq!(w.names(&repo), vec!["a"]);
    let elsewhere = w.t.mkdir("elsewhere");
    assert_eq!(
        w.names(&elsewhere),
        Vec::<String>::new(),
        "another directory has its own names"
    );
    w.ok(&elsewhere, &["start", "a", "--account", "max"], "startup");
    assert_eq!(w.names(&elsewhere), vec!["a"]);

    let status = w.t.git(&repo, &["status", "--porcelain", "--ignored"]);
    assert_eq!(status, "", "nothing written into the work tree");
    let state = w.t.home.join(".local/state/claude-accounts/sessions");
    let stores = list(&state);
    assert_eq!(stores.len(), 2, "{stores:?}");
    let store = read_json(
        &state
            .join(stores.iter().find(|s| s.starts_with("repo-")).unwrap())
            .join("names.json"),
    );
    assert_eq!(store["project"], json!(repo));
}

#[test]
fn taken_unknown_and_bad_names_are_clear_errors() {
    let mut w = World::new();
    let repo = w.t.repo("repo");
    w.ok(&repo, &["start", "x", "--account", "max"], "startup");
    let taken = w.fails(&repo, &["start", "x", "--account", "pro"]);
    assert!(
        taken.contains("a session named \"x\" already exists"),
        "{taken}"
    );
    assert!(taken.contains("claude-session resume x"), "{taken}");
    let unknown = w.fails(&repo, &["resume", "y"]);
    assert!(unknown.contains("no session named \"y\""), "{unknown}");
    assert!(unknown.contains("(sessions: x)"), "{unknown}");
    let fork = w.fails(&repo, &["fork", "nope", "z"]);
    assert!(fork.contains("no session named \"nope\""), "{fork}");
    let taken_fork = w.fails(&repo, &["fork", "x", "x"]);
    assert!(taken_fork.contains("already exists"), "{taken_fork}");
    let bad = w.fails(&repo, &["start", "a/b", "--account", "max"]);
    assert!(bad.contains("is not a session name"), "{bad}");
    let delete = w.fails(&repo, &["delete", "y"]);
    assert!(delete.contains("no session named \"y\""), "{delete}");
    let flag = w.fails(
        &repo,
        &["start", "w", "--account", "max", "--", "--resume", "abc"],
    );
    assert!(
        flag.contains("--resume is claude-session's to choose"),
        "{flag}"
    );
    let account = w.fails(&repo, &["start", "w"]);
    assert!(account.contains("pass --account NAME"), "{account}");
    assert!(account.contains("max, pro"), "{account}");
    let no_account = w.fails(&repo, &["start", "w", "--account", "team"]);
    assert!(no_account.contains("no account \"team\""), "{no_account}");
    assert_eq!(
        w.names(&repo),
        vec!["x"],
        "no failed command left a name behind"
    );
    // With a default, --account may be left out, as with the dispatcher.
    w.t.manifest["defaultAccount"] = json!("pro");
    w.ok(&repo, &["start", "w"], "");
    assert_eq!(w.record(&repo, "w")["account"], "pro");
}

#[test]
fn the_only_account_needs_no_flag() {
    let mut w = World::new();
    w.t.manifest["accounts"]
        .as_object_mut()
        .unwrap()
        .remove("pro");
    let dir = w.t.mkdir("plain");
    let r = w.ok(&dir, &["start", "solo"], "startup").unwrap();
    assert_eq!(r["configDir"], json!(w.account_dir("max")));
}

#[test]
fn a_name_whose_claude_never_started_is_forgotten() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    w.t.manifest["accounts"]["max"]["claude"] = json!(w.t.root.join("missing-claude"));
    let err = w.fails(&dir, &["start", "n", "--account", "max"]);
    assert!(err.contains("missing-claude"), "{err}");
    assert_eq!(
        w.names(&dir),
        Vec::<String>::new(),
        "the name can be used again"
    );
}

#[test]
fn concurrent_starts_of_one_name_let_one_win() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    w.isolation("session");
    // Each fake ends by itself after 300 ms.
    let children: Vec<std::process::Child> = (0..4)
        .map(|_| {
            let (mut cmd, _) = w.cmd(
                &dir,
                &["start", "same", "--account", "max"],
                "startup,sleep:300",
            );
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            cmd.spawn().expect("spawning session start")
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        outs.iter().map(stderr).collect::<Vec<_>>()
    );
    for o in outs.iter().filter(|o| !o.status.success()) {
        let e = stderr(o);
        assert!(
            e.contains("already exists") || e.contains("is running"),
            "{e}"
        );
    }
    assert_eq!(w.names(&dir), vec!["same"]);
}

#[test]
fn a_running_name_neither_runs_twice_nor_is_deleted() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    let (mut cmd, report) = w.cmd(&dir, &["start", "busy", "--account", "max"], "startup");
    cmd.env("FAKE_CLAUDE_RUN_MS", "forever")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = Reaped(cmd.spawn().unwrap());
    wait_until("the session runs", || report.exists());
    assert_eq!(w.list(&dir)["sessions"][0]["running"], true);
    let again = w.fails(&dir, &["resume", "busy"]);
    assert!(again.contains("is running in another terminal"), "{again}");
    assert!(again.contains("claude-session fork busy"), "{again}");
    let del = w.fails(&dir, &["delete", "busy"]);
    assert!(del.contains("is running; end it first"), "{del}");
    common::kill(child.id(), libc::SIGTERM);
    wait_until("the session ends", || !common::is_alive(child.id()));
    drop(child);
    assert_eq!(w.list(&dir)["sessions"][0]["running"], false);
}

#[test]
fn resume_with_another_account_copies_the_transcript_and_records_it() {
    let mut w = World::new();
    w.isolation("account");
    let dir = w.t.mkdir("plain");
    let r1 = w
        .ok(&dir, &["start", "long", "--account", "max"], "startup")
        .unwrap();
    let id = r1["sessionId"].as_str().unwrap().to_string();
    let max_before = lines(&w.account_dir("max"), &id);

    let (out, r2) = w.session(&dir, &["resume", "long", "--account", "pro"], "startup");
    assert_success(&out);
    let r2 = r2.unwrap();
    assert!(
        stderr(&out).contains("copied the transcript of \"long\" from account max"),
        "{}",
        stderr(&out)
    );
    assert_eq!(r2["configDir"], json!(w.account_dir("pro")));
    assert_eq!(args(&r2)[..2], ["--resume".to_string(), id.clone()]);
    let pro = lines(&w.account_dir("pro"), &id);
    assert_eq!(pro.len(), 2);
    assert_eq!(pro[0], max_before[0], "pro continues max's turns");
    assert_eq!(
        lines(&w.account_dir("max"), &id),
        max_before,
        "max's copy is untouched, not moved"
    );

    let rec = w.record(&dir, "long");
    assert_eq!(rec["account"], "pro");
    assert_eq!(rec["copies"], json!({"max": [id], "pro": [id]}));
    let holders: Vec<&str> = rec["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["account"].as_str().unwrap())
        .collect();
    assert_eq!(holders, vec!["max", "pro"]);

    // Back to max: max's older copy is brought up to date from pro's.
    let r3 = w
        .ok(&dir, &["resume", "long", "--account", "max"], "startup")
        .unwrap();
    assert_eq!(r3["configDir"], json!(w.account_dir("max")));
    assert_eq!(lines(&w.account_dir("max"), &id).len(), 3);
}

#[test]
fn a_resume_whose_transcript_is_gone_says_so() {
    let mut w = World::new();
    w.isolation("account");
    let dir = w.t.mkdir("plain");
    let r = w
        .ok(&dir, &["start", "lost", "--account", "max"], "startup")
        .unwrap();
    let id = r["sessionId"].as_str().unwrap();
    std::fs::remove_dir_all(w.account_dir("max").join("projects")).unwrap();
    let err = w.fails(&dir, &["resume", "lost"]);
    assert!(
        err.contains(&format!(
            "the transcript of \"lost\" (session {id}) is in no account"
        )),
        "{err}"
    );
    assert!(err.contains("claude-session delete lost"), "{err}");
}

#[test]
fn fork_starts_a_new_id_carrying_the_parents_lines() {
    let mut w = World::new();
    w.isolation("account");
    let dir = w.t.mkdir("plain");
    let parent = w
        .ok(
            &dir,
            &["start", "p", "--account", "max", "--profile", "fast"],
            "startup",
        )
        .unwrap();
    let pid = parent["sessionId"].as_str().unwrap().to_string();
    let child = w.ok(&dir, &["fork", "p", "c"], "startup").unwrap();
    let cid = child["sessionId"].as_str().unwrap().to_string();
    assert_ne!(cid, pid);
    assert_eq!(
        args(&child)[..5],
        [
            "--resume".to_string(),
            pid.clone(),
            "--fork-session".into(),
            "--session-id".into(),
            cid.clone()
        ]
    );
    assert_eq!(
        child["settingsLayer"]["model"], "haiku",
        "the fork keeps the parent's profile"
    );
    let carried = lines(&w.account_dir("max"), &cid);
    assert_eq!(carried.len(), 2);
    assert_eq!(carried[0], lines(&w.account_dir("max"), &pid)[0]);
    let rec = w.record(&dir, "c");
    assert_eq!(rec["forkedFrom"], json!({"name": "p", "id": pid}));
    assert_eq!(w.hooks().last().unwrap()["source"], "fork");
}

#[test]
fn clear_keeps_the_name_and_delete_removes_every_id_in_every_account() {
    let mut w = World::new();
    w.isolation("account");
    let dir = w.t.mkdir("plain");
    let r = w
        .ok(
            &dir,
            &["start", "c", "--account", "max"],
            "startup,clear,startup",
        )
        .unwrap();
    let first = r["sessionId"].as_str().unwrap().to_string();
    let rec = w.record(&dir, "c");
    let second = rec["id"].as_str().unwrap().to_string();
    assert_ne!(
        second, first,
        "the hook moved the name to the id /clear made"
    );
    assert_eq!(rec["earlierIds"], json!([first]));
    let r2 = w
        .ok(&dir, &["resume", "c", "--account", "pro"], "startup")
        .unwrap();
    assert_eq!(args(&r2)[..2], ["--resume".to_string(), second.clone()]);
    assert_eq!(w.transcripts(&w.account_dir("max")).len(), 2);
    assert_eq!(w.transcripts(&w.account_dir("pro")).len(), 1);
    // Another name's transcript stays.
    let other = w
        .ok(&dir, &["start", "other", "--account", "max"], "startup")
        .unwrap();
    let other_id = other["sessionId"].as_str().unwrap().to_string();

    let (out, _) = w.session(&dir, &["delete", "c"], "");
    assert_success(&out);
    assert!(stdout(&out).contains("deleted \"c\""), "{}", stdout(&out));
    let left: Vec<String> = ["max", "pro"]
        .iter()
        .flat_map(|a| w.transcripts(&w.account_dir(a)))
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with(&format!("{other_id}.jsonl")), "{left:?}");
    assert_eq!(w.names(&dir), vec!["other"]);
}

#[test]
fn incognito_leaves_no_transcript_no_prompt_and_no_name() {
    let mut w = World::new();
    w.isolation("account");
    let dir = w.t.mkdir("plain");
    let kept = w
        .ok(&dir, &["start", "kept", "--account", "max"], "startup")
        .unwrap();
    let kept_id = kept["sessionId"].as_str().unwrap().to_string();
    let history = w.account_dir("max").join("history.jsonl");
    let before = common::read(&history);
    let hooks_before = w.hooks().len();
    let (out, r) = w.session(
        &dir,
        &["incognito", "--account", "max", "--", "-p", "q"],
        "startup,clear,startup",
    );
    assert_success(&out);
    assert!(
        stderr(&out).contains("incognito session ended"),
        "{}",
        stderr(&out)
    );
    assert_eq!(args(&r.unwrap())[4..], ["-p".to_string(), "q".into()]);
    assert_eq!(w.hooks().len() - hooks_before, 2, "the hook saw both ids");
    let only_kept = |w: &World| {
        let t = w.transcripts(&w.account_dir("max"));
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].ends_with(&format!("{kept_id}.jsonl")), "{t:?}");
    };
    only_kept(&w);
    assert_eq!(
        common::read(&history),
        before,
        "the incognito prompts are gone from history.jsonl, the others stay"
    );
    assert_eq!(w.names(&dir), vec!["kept"]);

    // Also when claude fails.
    let (out, _) = w.session(&dir, &["incognito", "--account", "max"], "startup,exit:3");
    assert_eq!(
        out.status.code(),
        Some(3),
        "claude's status: {}",
        stderr(&out)
    );
    only_kept(&w);
    assert_eq!(common::read(&history), before);
}

#[test]
fn a_profile_is_the_settings_layer_and_the_users_settings_win() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    let r = w
        .ok(
            &dir,
            &[
                "start",
                "p",
                "--account",
                "max",
                "--profile",
                "fast",
                "--",
                "--settings",
                r#"{"model":"opus","env":{"A":"1"}}"#,
                "-p",
                "x",
            ],
            "startup",
        )
        .unwrap();
    let layer = &r["settingsLayer"];
    assert_eq!(
        layer["model"], "opus",
        "the user's --settings wins over the profile"
    );
    assert_eq!(layer["permissions"], json!({"defaultMode": "plan"}));
    assert_eq!(layer["env"], json!({"A": "1"}));
    let hook = layer["hooks"]["SessionStart"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert!(hook.contains(" session-hook --state-home "), "{hook}");
    let a = args(&r);
    assert_eq!(
        a.iter().filter(|x| *x == "--settings").count(),
        1,
        "one layer: {a:?}"
    );
    assert_eq!(a[4..], ["-p".to_string(), "x".into()]);
    assert_eq!(w.record(&dir, "p")["profile"], "fast");

    let unknown = w.fails(
        &dir,
        &["start", "q", "--account", "max", "--profile", "slow"],
    );
    assert!(
        unknown.contains("account max has no profile \"slow\" (profiles: fast)"),
        "{unknown}"
    );
}

#[test]
fn launch_with_a_profile_passes_its_file() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    let report = w.reports.join("launch.json");
    let fast = w.t.path("profiles/fast.json");
    let out = w.t.launch(
        "max",
        &dir,
        ["-p", "x"],
        &[
            ("CLAUDE_ACCOUNTS_PROFILE", "fast"),
            ("FAKE_CLAUDE_REPORT", report.to_str().unwrap()),
        ],
    );
    assert_success(&out);
    let r = read_json(&report);
    assert_eq!(
        args(&r),
        vec![
            "--settings".to_string(),
            fast.to_string_lossy().into(),
            "-p".into(),
            "x".into()
        ]
    );

    let out = w.t.launch(
        "max",
        &dir,
        ["--settings", r#"{"model":"opus"}"#],
        &[
            ("CLAUDE_ACCOUNTS_PROFILE", "fast"),
            ("FAKE_CLAUDE_REPORT", report.to_str().unwrap()),
        ],
    );
    assert_success(&out);
    let r = read_json(&report);
    assert_eq!(
        r["settingsLayer"],
        json!({"model": "opus", "permissions": {"defaultMode": "plan"}})
    );
    let merged = PathBuf::from(args(&r)[1].clone());
    assert!(
        !merged.exists(),
        "the merged layer is removed after the session"
    );

    let out =
        w.t.launch("max", &dir, ["-p"], &[("CLAUDE_ACCOUNTS_PROFILE", "slow")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no profile \"slow\" (profiles: fast)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_store_stops_every_command_and_is_kept() {
    let mut w = World::new();
    let dir = w.t.mkdir("plain");
    w.ok(&dir, &["start", "a", "--account", "max"], "startup");
    let state = w.t.home.join(".local/state/claude-accounts/sessions");
    let file = state.join(&list(&state)[0]).join("names.json");
    std::fs::write(&file, "{ not json").unwrap();
    for args in [
        &["list"][..],
        &["start", "b", "--account", "max"],
        &["resume", "a"],
        &["delete", "a"],
    ] {
        let err = w.fails(&dir, args);
        assert!(err.contains(&file.display().to_string()), "{args:?}: {err}");
        assert!(err.contains("move it away"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ not json");
}

#[test]
fn the_hook_prints_nothing_and_rejects_bad_input() {
    let w = World::new();
    let mut cmd = w.t.helper(&w.t.work);
    cmd.args(["session-hook", "--state-home"])
        .arg(w.t.root.join("state"))
        .args(["--project", "/p", "--name", "n", "--account", "max"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"session_id\": \"../../x\"}")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("not a UUID"), "{}", stderr(&out));
}

#[test]
fn a_session_moves_across_worktrees_and_accounts() {
    let mut w = World::new();
    for a in ["max", "pro"] {
        w.t.manifest["accounts"][a]["singleInstance"] = json!(false);
    }
    let repo = w.t.repo("repo");
    let linked = w.t.worktree(&repo, "linked");
    let r1 = w
        .ok(&repo, &["start", "wt", "--account", "max"], "startup")
        .unwrap();
    let id = r1["sessionId"].as_str().unwrap().to_string();
    assert_ne!(
        r1["configDir"],
        json!(w.account_dir("max")),
        "the session ran in the worktree's runtime dir"
    );
    let r2 = w
        .ok(&linked, &["resume", "wt", "--account", "pro"], "startup")
        .unwrap();
    assert!(
        r2["configDir"]
            .as_str()
            .unwrap()
            .starts_with(repo.join(".git/worktrees").to_str().unwrap()),
        "{}",
        r2["configDir"]
    );
    assert_eq!(
        lines(&w.account_dir("pro"), &id).len(),
        2,
        "pro continued max's transcript"
    );
    assert_eq!(lines(&w.account_dir("max"), &id).len(), 1);
    let (out, _) = w.session(&linked, &["delete", "wt"], "");
    assert_success(&out);
    for a in ["max", "pro"] {
        assert_eq!(w.transcripts(&w.account_dir(a)), Vec::<String>::new());
    }
}
