//! `claude-accounts completions` and `names`: the scripts complete
//! subcommands, and account, session and profile names asked from the helper
//! at completion time, for claude-accounts and the forwarding commands
//! (claude-status, claude-session, ...), in the real bash, fish and zsh.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common;
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

/// A sandbox with two accounts (`max` with the profiles `fast` and `deep`,
/// `pro` with `fast`), a repository `proj` whose project has the session
/// names `fix-login` and `spike` (made by `claude-accounts session start`
/// with the fake claude), and a directory `elsewhere` with no names.
struct Sessions {
    t: TestEnv,
    manifest: PathBuf,
    repo: PathBuf,
    elsewhere: PathBuf,
    scripts: PathBuf,
}

/// Every name the cases below can complete: candidates are compared on
/// these only (a shell may add options or file names).
const KNOWN: &[&str] = &["max", "pro", "fix-login", "spike", "fast", "deep"];

impl Sessions {
    fn new() -> Sessions {
        let mut t = TestEnv::new();
        let fast = t.write("profiles/fast.json", r#"{"model": "haiku"}"#);
        let deep = t.write("profiles/deep.json", r#"{"model": "opus"}"#);
        t.manifest["accounts"]["max"]["profiles"] = json!({"fast": fast, "deep": deep});
        t.manifest["accounts"]["pro"]["profiles"] = json!({"fast": fast});
        let manifest = t.write_manifest();
        let repo = t.repo("proj");
        let elsewhere = t.mkdir("elsewhere");
        for name in ["fix-login", "spike"] {
            let mut cmd = t.helper(&repo);
            cmd.arg("session")
                .arg("--manifest")
                .arg(&manifest)
                .args(["start", name, "--account", "max"])
                .env("FAKE_CLAUDE_ACTIONS", "startup");
            assert_success(&common::run(&mut cmd));
        }
        let scripts = t.mkdir("completions");
        for (shell, file) in [
            ("bash", "claude-accounts.bash"),
            ("zsh", "_claude-accounts"),
            ("fish", "claude-accounts.fish"),
        ] {
            let out = t
                .helper(&t.root)
                .args(["completions", shell])
                .output()
                .unwrap();
            assert_success(&out);
            std::fs::write(scripts.join(file), &out.stdout).unwrap();
            if shell == "zsh" {
                // The Home Manager module's name for it.
                let dir = t.mkdir("completions/module");
                std::fs::write(dir.join("_claude-accounts-commands"), &out.stdout).unwrap();
            }
        }
        Sessions {
            t,
            manifest,
            repo,
            elsewhere,
            scripts,
        }
    }

    /// `program` in `cwd` with the sandbox's HOME, the helper under test
    /// first on PATH (the scripts call `claude-accounts`) and
    /// `CLAUDE_ACCOUNTS_MANIFEST` set (as the Home Manager module sets it).
    fn shell(&self, program: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        self.t.hermetic(&mut cmd, cwd);
        let helper_dir = Path::new(HELPER).parent().unwrap();
        cmd.env(
            "PATH",
            format!(
                "{}:{}",
                helper_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("CLAUDE_ACCOUNTS_MANIFEST", &self.manifest)
        .env("TERM", "xterm");
        cmd
    }

    fn names(&self, cwd: &Path, args: &[&str]) -> Output {
        self.t
            .helper(cwd)
            .arg("names")
            .args(args)
            .arg("--manifest")
            .arg(&self.manifest)
            .output()
            .unwrap()
    }

    /// The words bash completes for `line` (the last word, maybe empty,
    /// being completed).
    fn bash(&self, cwd: &Path, line: &str) -> Vec<String> {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        if line.ends_with(' ') {
            words.push("");
        }
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        let function = if words[0] == "claude-accounts" {
            "_claude_accounts_complete"
        } else {
            "_claude_accounts_forward"
        };
        let program = format!(
            "source '{}'\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\nCOMP_WORDS=({})\nCOMP_CWORD={cword}\n{function} '{}' '{}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
            self.scripts.join("claude-accounts.bash").display(),
            quoted.join(" "),
            words[0],
            words[cword],
        );
        let out = self
            .shell("bash", cwd)
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .expect("running bash (it must be installed)");
        assert_success(&out);
        stdout(&out).lines().map(str::to_string).collect()
    }

    /// The words fish completes for `line`.
    fn fish(&self, cwd: &Path, line: &str) -> Vec<String> {
        let program = format!(
            "source '{}'; complete -C '{line}'",
            self.scripts.join("claude-accounts.fish").display()
        );
        let out = self
            .shell("fish", cwd)
            .args(["--no-config", "-c", &program])
            .output()
            .expect("running fish (it must be installed)");
        assert_success(&out);
        stdout(&out)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect()
    }

    /// The words zsh completes for `line`: an interactive `zsh -f` in a
    /// pseudo-terminal (zpty), compinit with the script in `fpath`, `line`
    /// typed and TAB pressed; every word completion functions add that
    /// matches is recorded by a wrapper around compadd (after a first
    /// completion, which autoloads the script).
    fn zsh(&self, fpath: &Path, cwd: &Path, line: &str) -> Vec<String> {
        let hits = self.t.root.join("zsh-hits");
        let _ = std::fs::remove_file(&hits);
        // Every step waits for zle's prompt `<zle%ready>` (typed as
        // `%%`, so the echo of a command never matches): a key typed
        // before zle reads the terminal would meet the kernel's line
        // editing, where ^U erases the line.
        let driver = r#"
zmodload zsh/zpty || exit 2
zpty z zsh -f -i || exit 3
prompt() { zpty -r z out '*<zle%ready>*' || exit 4 }
zpty -w z "PS1='<zle%%ready>'; fpath=(${(q)SCRIPTS} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)SCRIPTS}/.zcompdump"
prompt
zpty -w z '__hits_file=/dev/null; compadd() {
  if [[ ${@[1,-1]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __hits
  builtin compadd -O __hits "$@"
  (( $#__hits )) && print -rl -- $__hits >> $__hits_file
  builtin compadd "$@"
}'
prompt
# A first completion autoloads the script (which redefines
# _claude-accounts): what is recorded is a later one, as users meet it.
zpty -n -w z "claude-accounts launch --account "$'\t'
zpty -w z $'\C-u'"__hits_file=${(q)HITS}"
prompt
zpty -n -w z "$LINE"$'\t'
zpty -w z $'\C-u'"print -r -- \${:-DONE}_MARK"
zpty -r z out '*DONE_MARK*' || exit 5
zpty -d z
"#;
        let out = self
            .shell("zsh", cwd)
            .args(["-f", "-c", driver])
            .env("SCRIPTS", fpath)
            .env("HITS", &hits)
            .env("LINE", line)
            .output()
            .expect("running zsh (it must be installed)");
        assert_success(&out);
        match std::fs::read_to_string(&hits) {
            Ok(text) => text.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("reading {}: {e}", hits.display()),
        }
    }

    /// Every case, in `shell`: (where, line, the known names completed).
    fn check(&self, shell: &str, complete: impl Fn(&Path, &str) -> Vec<String>) {
        let m = self.manifest.display().to_string();
        let session_names = ["fix-login", "spike"];
        let cases: Vec<(&Path, String, Vec<&str>)> = vec![
            (
                &self.repo,
                "claude-session resume ".into(),
                session_names.to_vec(),
            ),
            (
                &self.repo,
                "claude-session show f".into(),
                vec!["fix-login"],
            ),
            (&self.repo, "claude-session delete s".into(), vec!["spike"]),
            (
                &self.repo,
                "claude-session fork ".into(),
                session_names.to_vec(),
            ),
            // fork's second argument is a new name; start's only one too.
            (&self.repo, "claude-session fork spike ".into(), vec![]),
            (&self.repo, "claude-session start ".into(), vec![]),
            (&self.repo, "claude-session resume spike ".into(), vec![]),
            // Not in the project: no names.
            (&self.elsewhere, "claude-session resume ".into(), vec![]),
            (
                &self.repo,
                format!("claude-accounts session --manifest {m} resume "),
                session_names.to_vec(),
            ),
            (
                &self.repo,
                format!("claude-accounts session --manifest {m} fork fix-login "),
                vec![],
            ),
            (
                &self.repo,
                "claude-session resume spike --account ".into(),
                vec!["max", "pro"],
            ),
            (
                &self.repo,
                "claude-session resume spike --profile ".into(),
                vec!["deep", "fast"],
            ),
            (
                &self.repo,
                "claude-session start x --account pro --profile ".into(),
                vec!["fast"],
            ),
            (&self.repo, "claude-status ".into(), vec!["max", "pro"]),
            (&self.repo, "claude-close p".into(), vec!["pro"]),
            (&self.repo, "claude-close pro ".into(), vec![]),
            (&self.repo, "claude-explain --account m".into(), vec!["max"]),
        ];
        for (cwd, line, want) in cases {
            let mut got: Vec<String> = complete(cwd, &line)
                .into_iter()
                .filter(|w| KNOWN.contains(&w.as_str()))
                .collect();
            got.sort();
            got.dedup();
            assert_eq!(got, want, "{shell}: `{line}` in {}", cwd.display());
        }
    }
}

#[test]
fn names_lists_the_session_names_of_the_project_and_the_profiles() {
    let s = Sessions::new();
    let out = s.names(&s.repo, &["sessions"]);
    assert_success(&out);
    assert_eq!(stdout(&out), "fix-login\nspike\n");
    // The same names `claude-session list` shows, also from a subdirectory.
    let sub = s.t.mkdir("proj/src");
    let mut list = s.t.helper(&sub);
    list.arg("session")
        .arg("--manifest")
        .arg(&s.manifest)
        .arg("list");
    let listed = stdout(&common::run_ok(&mut list));
    let listed: Vec<&str> = listed
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, vec!["fix-login", "spike"]);
    assert_eq!(stdout(&s.names(&sub, &["sessions"])), "fix-login\nspike\n");
    // No names here: nothing, and success. No manifest needed.
    let out = s.names(&s.elsewhere, &["sessions"]);
    assert_success(&out);
    assert_eq!(stdout(&out), "");
    let out =
        s.t.helper(&s.repo)
            .args(["names", "sessions"])
            .output()
            .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "fix-login\nspike\n");
    // Profiles: of one account, or of every account.
    assert_eq!(
        stdout(&s.names(&s.repo, &["profiles", "--account", "pro"])),
        "fast\n"
    );
    assert_eq!(stdout(&s.names(&s.repo, &["profiles"])), "deep\nfast\n");
    let out = s.names(&s.repo, &["profiles", "--account", "nobody"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    // A names store that cannot be read: nothing on stdout, the path and
    // the fix on stderr, failure.
    let sessions = s.t.home.join(".local/state/claude-accounts/sessions");
    let dirs = common::list(&sessions);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let store = sessions.join(&dirs[0]).join("names.json");
    let kept = std::fs::read_to_string(&store).unwrap();
    std::fs::write(&store, "{\"version\": 1, \"sessions\": ").unwrap();
    let out = s.names(&s.repo, &["sessions"]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains(store.to_str().unwrap()) && err.contains("move it away"),
        "{err}"
    );
    // A hand-edited name that is not a session name never reaches a
    // command line.
    let mut v: serde_json::Value = serde_json::from_str(&kept).unwrap();
    let spike = v["sessions"]["spike"].clone();
    v["sessions"]["a b*"] = spike;
    std::fs::write(&store, v.to_string()).unwrap();
    assert_eq!(
        stdout(&s.names(&s.repo, &["sessions"])),
        "fix-login\nspike\n"
    );
}

#[test]
fn bash_completes_session_account_and_profile_names_for_every_command() {
    let s = Sessions::new();
    s.check("bash", |cwd, line| s.bash(cwd, line));
    // Where a session name goes, nothing else is offered.
    assert_eq!(
        s.bash(&s.repo, "claude-session resume "),
        vec!["fix-login", "spike"]
    );
}

#[test]
fn fish_completes_session_account_and_profile_names_for_every_command() {
    let s = Sessions::new();
    s.check("fish", |cwd, line| s.fish(cwd, line));
}

#[test]
fn zsh_completes_session_account_and_profile_names_for_every_command() {
    let s = Sessions::new();
    s.check("zsh", |cwd, line| s.zsh(&s.scripts, cwd, line));
    // Also autoloaded under the name the Home Manager module gives it.
    let module = s.scripts.join("module");
    s.check("zsh", |cwd, line| s.zsh(&module, cwd, line));
}
