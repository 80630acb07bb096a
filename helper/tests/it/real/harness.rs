//! [`RealEnv`]: a [`TestEnv`] whose accounts run the pinned real Claude Code
//! against a loopback [`ApiStandIn`], with logged-in accounts, the project's
//! `fake-mcp`, `-p` runs and interactive runs under tmux, all through
//! `claude-accounts launch` as a user's `claude<name>` would run it.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use super::api::{ApiStandIn, Request};
use super::install::claude_binary;
use super::tmux::Screen;
use crate::common::{PATIENCE, read_json, read_jsonl, set_mode, write};
use crate::harness::{HELPER, TestEnv};

/// The project's stdio MCP server (`src/bin/fake-mcp.rs`).
pub const FAKE_MCP: &str = env!("CARGO_BIN_EXE_fake-mcp");

/// Far in the future (2100-01-01), in ms: an access token that never expires
/// during a test, so Claude never tries to refresh it.
const FAR_FUTURE_MS: u64 = 4_102_444_800_000;

pub struct RealEnv {
    pub env: TestEnv,
    pub api: ApiStandIn,
    /// Where every `fake-mcp` of this env logs its starts.
    pub mcp_log: PathBuf,
    screens: u32,
}

impl Deref for RealEnv {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl DerefMut for RealEnv {
    fn deref_mut(&mut self) -> &mut TestEnv {
        &mut self.env
    }
}

/// One `-p` run: the launcher's output and the requests it made.
pub struct Run {
    pub output: Output,
    pub requests: Vec<Request>,
}

impl Run {
    /// The `POST /v1/messages` requests.
    pub fn messages(&self) -> Vec<&Request> {
        self.requests.iter().filter(|r| r.is_message()).collect()
    }
}

impl RealEnv {
    /// A [`TestEnv`] whose accounts `max` and `pro` run the real Claude Code:
    /// no declared settings or MCP servers (tests add what they need), and a
    /// running API stand-in. Accounts are not logged in: see
    /// [`RealEnv::log_in`].
    pub fn new() -> RealEnv {
        let claude = claude_binary();
        let mut env = TestEnv::new();
        for name in ["max", "pro"] {
            let account = &mut env.manifest["accounts"][name];
            account["claude"] = json!(claude);
            account["settings"] = json!({});
            account["claudeJson"] = json!({});
        }
        let mcp_log = env.root.join("mcp-starts.jsonl");
        RealEnv {
            env,
            api: ApiStandIn::start(),
            mcp_log,
            screens: 0,
        }
    }

    /// The access token of a logged-in `account`.
    pub fn token(account: &str) -> String {
        format!("tok-{account}")
    }

    /// Logs `account` in the way `claude /login` leaves it: OAuth
    /// credentials in `<account dir>/.credentials.json` (0600) and the
    /// identity and onboarding keys in the account's `.claude.json`.
    pub fn log_in(&self, account: &str) {
        let dir = self.account_dir(account);
        write(
            &dir.join(".credentials.json"),
            &self.credentials(account).to_string(),
        );
        set_mode(&dir.join(".credentials.json"), 0o600);
        set_mode(&dir, 0o700);
        let path = dir.join(".claude.json");
        let mut claude_json = if path.exists() {
            read_json(&path)
        } else {
            json!({})
        };
        claude_json["hasCompletedOnboarding"] = json!(true);
        claude_json["oauthAccount"] = json!({
            "accountUuid": "00000000-0000-4000-8000-000000000001",
            "emailAddress": format!("{account}@example.com"),
            "organizationUuid": "00000000-0000-4000-8000-000000000002",
            "displayName": account,
        });
        write(&path, &serde_json::to_string_pretty(&claude_json).unwrap());
        set_mode(&path, 0o600);
    }

    /// Records in the account's `.claude.json` that the project at `root`
    /// (a main checkout) was trusted, the way an accepted trust dialog does.
    pub fn trust(&self, account: &str, root: &Path) {
        let path = self.account_dir(account).join(".claude.json");
        let mut claude_json = read_json(&path);
        claude_json["projects"][root.to_string_lossy().as_ref()] =
            json!({"hasTrustDialogAccepted": true});
        write(&path, &serde_json::to_string_pretty(&claude_json).unwrap());
    }

    /// The credentials [`RealEnv::log_in`] writes for `account`.
    pub fn credentials(&self, account: &str) -> Value {
        json!({"claudeAiOauth": {
            "accessToken": Self::token(account),
            "refreshToken": format!("r-{account}"),
            "expiresAt": FAR_FUTURE_MS,
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        }})
    }

    /// A stdio MCP server entry running `fake-mcp`, logging its starts (with
    /// `name` among its arguments) to [`RealEnv::mcp_log`].
    pub fn mcp_server(&self, name: &str) -> Value {
        json!({"type": "stdio", "command": FAKE_MCP,
            "args": ["--log", self.mcp_log, "--name", name], "env": {}})
    }

    /// The names of the `fake-mcp` servers started so far, in order.
    pub fn mcp_starts(&self) -> Vec<String> {
        if !self.mcp_log.exists() {
            return vec![];
        }
        read_jsonl(&self.mcp_log)
            .iter()
            .filter(|e| e["event"] == "start")
            .map(|e| {
                let args: Vec<&str> = e["args"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                args.windows(2)
                    .find(|w| w[0] == "--name")
                    .map(|w| w[1].to_string())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The variables that point Claude at the stand-in and keep it offline,
    /// on top of the hermetic `HOME`, `PATH`: MCP servers connect before the
    /// first request (`MCP_CONNECTION_NONBLOCKING=false`).
    pub fn claude_vars(&self) -> Vec<(String, String)> {
        vec![
            ("ANTHROPIC_BASE_URL".into(), self.api.base_url()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("MCP_CONNECTION_NONBLOCKING".into(), "false".into()),
        ]
    }

    /// `claude-accounts launch --account <account> -- <args>` in `cwd`, not
    /// started, with the stand-in's variables.
    pub fn launch_real(&mut self, account: &str, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = self.env.launch_cmd(account, cwd, args, &[]);
        cmd.envs(self.claude_vars());
        cmd
    }

    /// Runs `claude<account> <args>` in `cwd` to completion.
    pub fn run(&mut self, account: &str, cwd: &Path, args: &[&str]) -> Run {
        let mark = self.api.count();
        let output = self
            .launch_real(account, cwd, args)
            .output()
            .expect("running claude-accounts launch");
        Run {
            output,
            requests: self.api.since(mark),
        }
    }

    /// `claude<account> -p <prompt> <extra…>` in `cwd`.
    pub fn print(&mut self, account: &str, cwd: &Path, prompt: &str, extra: &[&str]) -> Run {
        let mut args = vec!["-p", prompt];
        args.extend_from_slice(extra);
        self.run(account, cwd, &args)
    }

    /// `claude<account> <args>` in `cwd` on a tmux screen.
    pub fn interactive(&mut self, account: &str, cwd: &Path, args: &[&str]) -> Screen {
        let manifest = self.env.write_manifest();
        self.screens += 1;
        let name = format!("screen-{}", self.screens);
        let mut vars = vec![
            ("HOME".to_string(), self.home.to_string_lossy().into_owned()),
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string()),
            ("TERM".to_string(), "xterm-256color".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        vars.extend(self.claude_vars());
        let mut full = vec![
            "launch".to_string(),
            "--manifest".to_string(),
            manifest.to_string_lossy().into_owned(),
            "--account".to_string(),
            account.to_string(),
            "--".to_string(),
        ];
        full.extend(args.iter().map(|a| a.to_string()));
        Screen::start(&self.root, &name, cwd, &vars, Path::new(HELPER), &full)
    }
}

/// Claude's name for the directory of `cwd` under `projects/`: every
/// character that is not ASCII alphanumeric becomes `-`.
pub fn sanitized(cwd: &Path) -> String {
    cwd.to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

impl RealEnv {
    /// `<git dir of checkout>/claude-runtime/<account>`: the runtime dir of
    /// that checkout (issue 9's layout).
    pub fn runtime_dir(&self, checkout: &Path, account: &str) -> PathBuf {
        let git_dir = self.git(checkout, &["rev-parse", "--absolute-git-dir"]);
        Path::new(git_dir.trim())
            .join("claude-runtime")
            .join(account)
    }
}

/// What an interactive Claude Code 2.1.332 shows.
pub mod screen_text {
    /// The folder trust dialog (its default answer is "No, exit").
    pub const TRUST: &str = "Yes, I trust this folder";
    /// The footer of the prompt box: the session is ready for input.
    pub const READY: &str = "shift+tab to cycle";
    /// `/model <m>` done.
    pub const MODEL_SAVED: &str = "saved as your default for new sessions";
    /// `/model` during a conversation asks first.
    pub const SWITCH_MODEL: &str = "Switch model?";
}

impl Screen {
    /// Waits for the prompt; fails if the trust dialog shows instead.
    pub fn expect_ready_without_trust_dialog(&self) {
        let (which, screen) = self.wait_for_any(&[screen_text::READY, screen_text::TRUST]);
        assert_eq!(
            which, 0,
            "the trust dialog was shown, expected none:\n{screen}"
        );
    }

    /// Waits for the trust dialog, answers "Yes, I trust this folder" (the
    /// second choice), then waits for the prompt.
    pub fn accept_trust_dialog(&self) {
        use std::time::{Duration, Instant};
        self.wait_for(screen_text::TRUST);
        // Move to "Yes" one key at a time: a key sent while the dialog is
        // still being drawn is lost, and one sent before the last one took
        // effect (a loaded machine) would move past "Yes". So each Down
        // waits for the screen to change, and Enter waits for the cursor to
        // rest on "Yes".
        let selected = format!("❯ {}", screen_text::TRUST);
        let deadline = Instant::now() + PATIENCE;
        let settled = |text: &str| {
            text.contains(&selected) && {
                std::thread::sleep(Duration::from_millis(500));
                self.text().unwrap_or_default().contains(&selected)
            }
        };
        loop {
            assert!(Instant::now() < deadline, "could not select {selected:?}");
            let before = self.text().unwrap_or_default();
            if settled(&before) {
                break;
            }
            if self.text().unwrap_or_default().contains(&selected) {
                continue; // a key still arriving moved it: look again
            }
            self.keys(&["Down"]);
            let moved = Instant::now() + Duration::from_secs(3);
            while self.text().unwrap_or_default() == before && Instant::now() < moved {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.keys(&["Enter"]);
        self.wait_for(screen_text::READY);
    }

    /// Waits for the prompt, accepting the trust dialog if it is shown.
    pub fn ready_trusting(&self) {
        let (which, _) = self.wait_for_any(&[screen_text::READY, screen_text::TRUST]);
        if which == 1 {
            self.accept_trust_dialog();
        }
    }

    /// `/model <model>`, confirming the switch when Claude asks.
    pub fn set_model(&self, model: &str) {
        self.submit(&format!("/model {model}"));
        let (which, _) = self.wait_for_any(&[screen_text::MODEL_SAVED, screen_text::SWITCH_MODEL]);
        if which == 1 {
            self.keys(&["Enter"]);
            self.wait_for(screen_text::MODEL_SAVED);
        }
    }

    /// `/exit`, then waits for the launcher to end; returns its status.
    pub fn exit(&self) -> i32 {
        self.keys(&["Escape"]);
        self.submit("/exit");
        self.wait_exit()
    }
}
