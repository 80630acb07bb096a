//! `fake-claude`: a stand-in for Claude Code in integration and NixOS VM tests.
//!
//! It writes Claude's files the way `CLAUDE-CODE-FACTS.md` says Claude writes
//! them, so tests can check that the launcher and activation keep everything
//! Claude wrote. It shares no code with the helper it tests.
//!
//! It accepts ANY arguments and ignores them (the launcher must pass user
//! arguments through untouched; the report shows what arrived). It is
//! controlled only through environment variables:
//!
//! | variable | effect |
//! |---|---|
//! | `FAKE_CLAUDE_REPORT=<file>` | at startup, atomically write `{args, env, cwd, pid, ppid, configDir, claudeJson, sessionId, settingsLayer (the `--settings` JSON), openFds}` |
//! | `FAKE_CLAUDE_LOG=<file>` | append one JSON line per event (`start`, `action`, `lock-held`, `spawn-child` with `childPid`, `corrupted`, `signal`, `hook`, `exit`) |
//! | `FAKE_CLAUDE_ACTIONS=<a,b,...>` | actions performed in order (below) |
//! | `FAKE_CLAUDE_RUN_MS=<n>\|forever` | after the actions, stay alive n ms (or until a signal) |
//! | `FAKE_CLAUDE_TERM_EXIT=<code>` | on SIGTERM exit with this code instead of dying by the signal |
//! | `FAKE_CLAUDE_IGNORE_TERM=1` | ignore SIGTERM (a hung claude: only SIGKILL ends it) |
//! | `FAKE_CLAUDE_WRITE_HZ=<n>` | while staying alive, rewrite `.claude.json` n times a second (`fakeWriteCount` += 1) |
//! | `FAKE_CLAUDE_CREDENTIALS=through\|replace` | how `.credentials.json` is written when it is a symlink (default `through`) |
//! | `FAKE_CLAUDE_LOCK_HOLD=<file>` | after taking `.claude.json.lock`, wait until `<file>` exists (lets tests observe the lock) |
//!
//! Actions (`FAKE_CLAUDE_ACTIONS`; commas inside a JSON value of `set-key` are
//! fine, the list is split only at commas outside brackets and strings):
//!
//! * `startup`: `numStartups` += 1; ensures a `projects[<project key>]` entry
//!   (defaults for missing fields, never overwriting) and sets its
//!   `lastSessionId`; appends a transcript line to
//!   `projects/<sanitized cwd>/<session id>.jsonl` and a line to `history.jsonl`.
//! * `add-mcp:<name>`: user-scope stdio server `mcpServers.<name>`, like
//!   `claude mcp add --scope user <name> -- fake-mcp-<name>` (replaces one of
//!   the same name).
//! * `set-model:<model>`: writes `model` into `settings.json` like `/model`:
//!   through ONE symlink hop (a second link at the target is replaced by a
//!   file), temp file next to the target, rename; fails on a read-only target.
//! * `set-key:<key>=<json>`: sets a top-level key of `.claude.json`.
//! * `login[:<email>]`: writes `oauthAccount`, `userID`,
//!   `hasCompletedOnboarding` into `.claude.json` and a `.credentials.json`
//!   (0600, written like `refresh-credentials`).
//! * `refresh-credentials`: rotates the tokens in `.credentials.json` (fails
//!   when there is none: not logged in).
//! * `spawn-child:<secs>`: leaves a process (this binary in child mode) that
//!   sleeps `secs` seconds in its own session, stdio on `/dev/null`, and
//!   outlives the fake.
//! * `sleep:<ms>`: waits (a signal ends the wait).
//! * `exit:<code>`: exits at once with that code.
//!
//! * `clear`: like `/clear`: a new session id, then the `SessionStart` hooks
//!   with `source: "clear"`; later actions write the new id's transcript.
//!
//! Session flags, read from the arguments (the only ones the fake reads):
//! `--session-id <uuid>` names the session; `--resume <uuid>` continues the
//! transcript of that id found in any `projects/*/` (exit 1 with Claude's
//! "No conversation found" when there is none); with `--fork-session` the
//! new id (`--session-id` or a random one) gets a copy of the parent's lines.
//! `--settings <file|json>` (the last one, as Claude reads it): its
//! `hooks.SessionStart` commands run through `sh -c` at `startup` (`source`
//! `startup`, `resume` or `fork`) and at `clear`, with Claude's JSON on stdin
//! (`session_id`, `transcript_path`, `cwd`, `hook_event_name`, `source`);
//! each run is logged as a `hook` event with its exit code.
//!
//! Where Claude's files are: `.claude.json` is `$CLAUDE_CONFIG_DIR/.claude.json`
//! when `CLAUDE_CONFIG_DIR` is set, else `~/.claude.json`; `.credentials.json`
//! is in `$CLAUDE_SECURESTORAGE_CONFIG_DIR` when that is set; everything else
//! is under `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
//!
//! Signals: SIGTERM, SIGINT and SIGHUP are blocked and acted on between
//! actions, during `sleep:` and while staying alive (never in the middle of a
//! write): the fake dies by the signal (default disposition), except that
//! SIGTERM exits with `FAKE_CLAUDE_TERM_EXIT` when that is set.
//!
//! Exit status: 0 after the actions; `exit:<code>`; 1 when an action failed
//! the way Claude fails (message on stderr, e.g. `EACCES: permission denied,
//! open '...'`); 2 when the fake itself is misconfigured (bad variable).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, pthread_sigmask, raise, signal};
use serde_json::{Map, Value, json};

/// Claude's `proper-lockfile` lock on `.claude.json` counts as abandoned when
/// its directory is older than this.
const LOCK_STALE: Duration = Duration::from_secs(10);
/// How often to try for a lock someone else holds before writing anyway.
const LOCK_RETRIES: u32 = 10;
const LOCK_RETRY_DELAY: Duration = Duration::from_millis(10);

/// The variable that turns this binary into the left-behind child of
/// `spawn-child:` (value: seconds to live).
const CHILD_MODE_VAR: &str = "FAKE_CLAUDE_CHILD_SECS";

/// Why the fake stops early.
enum Stop {
    /// An action failed the way Claude would fail: exit status 1.
    Failed(anyhow::Error),
    /// The fake is misconfigured: exit status 2.
    Usage(String),
    /// `exit:<code>`.
    Exit(u8),
    /// A signal arrived: die by it (or `FAKE_CLAUDE_TERM_EXIT`).
    Signal(Signal),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Failed(e)
    }
}

fn main() -> ExitCode {
    if let Some(secs) = std::env::var_os(CHILD_MODE_VAR) {
        return child_mode(&secs);
    }
    // Block the signals we act on, so they arrive only where we wait for
    // them and a write is never cut in half. Children get a clean mask
    // (std's Command resets it).
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), None) {
        eprintln!("fake-claude: blocking signals: {e}");
        return ExitCode::from(2);
    }
    if ignores_term() {
        // SAFETY: SIG_IGN runs no code of ours in signal context.
        let _ = unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) };
    }
    let log = std::env::var_os("FAKE_CLAUDE_LOG").map(PathBuf::from);
    let stop = match Fake::from_env() {
        Ok(fake) => fake.run().err(),
        Err(stop) => Some(stop),
    };
    let code = match stop {
        None => 0,
        Some(Stop::Exit(code)) => code,
        Some(Stop::Failed(e)) => {
            eprintln!("fake-claude: error: {e:#}");
            1
        }
        Some(Stop::Usage(msg)) => {
            eprintln!("fake-claude: misconfigured: {msg}");
            2
        }
        Some(Stop::Signal(sig)) => die_by(sig, log.as_deref()),
    };
    log_event(log.as_deref(), json!({"event": "exit", "code": code}));
    ExitCode::from(code)
}

/// The left-behind child: sleeps, then exits. No handlers, default signals.
fn child_mode(secs: &std::ffi::OsStr) -> ExitCode {
    let Some(secs) = secs.to_str().and_then(|s| s.parse::<u64>().ok()) else {
        eprintln!("fake-claude child: {CHILD_MODE_VAR} must be a number of seconds");
        return ExitCode::from(2);
    };
    std::thread::sleep(Duration::from_secs(secs));
    ExitCode::SUCCESS
}

fn ignores_term() -> bool {
    std::env::var_os("FAKE_CLAUDE_IGNORE_TERM").is_some_and(|v| v == "1")
}

fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    if !ignores_term() {
        set.add(Signal::SIGTERM);
    }
    set.add(Signal::SIGINT);
    set.add(Signal::SIGHUP);
    set
}

/// Dies by `sig` with its default disposition, or returns the exit code
/// `FAKE_CLAUDE_TERM_EXIT` asks for on SIGTERM.
fn die_by(sig: Signal, log: Option<&Path>) -> u8 {
    log_event(log, json!({"event": "signal", "signal": sig.as_str()}));
    if sig == Signal::SIGTERM
        && let Some(code) = std::env::var("FAKE_CLAUDE_TERM_EXIT").ok()
    {
        return code.parse().unwrap_or_else(|_| {
            eprintln!("fake-claude: FAKE_CLAUDE_TERM_EXIT={code:?} is not an exit code (0-255)");
            2
        });
    }
    // SAFETY: installing SIG_DFL runs no code of ours in signal context.
    let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    let mut set = SigSet::empty();
    set.add(sig);
    let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    let _ = raise(sig);
    // Not reached: the default disposition of these signals terminates.
    128 + sig as u8
}

/// Waits up to `timeout` (forever when `None`) for one of the handled
/// signals; returns it, or `None` when the time is up.
#[cfg(target_os = "linux")]
fn wait_for_signal(timeout: Option<Duration>) -> Option<Signal> {
    let set = handled_signals();
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs() as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    loop {
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
        // SAFETY: `set` and `ts` outlive the call; a null info pointer is allowed.
        let n = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), ts_ptr) };
        if n > 0 {
            return Signal::try_from(n).ok();
        }
        match io::Error::last_os_error().raw_os_error() {
            // EINTR (another signal, e.g. SIGCHLD handled by nobody): wait again.
            // Restarting with the full timeout is fine for a test fake.
            Some(libc::EINTR) => continue,
            _ => return None, // EAGAIN: time is up.
        }
    }
}

/// Waits up to `timeout` (forever when `None`) for one of the handled
/// signals; returns it, or `None` when the time is up. (No `sigtimedwait`
/// here: poll the pending set, then take the signal with `sigwait`.)
#[cfg(not(target_os = "linux"))]
fn wait_for_signal(timeout: Option<Duration>) -> Option<Signal> {
    let set = handled_signals();
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        // SAFETY: a zeroed sigset_t is a valid out-parameter for sigpending.
        let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `pending` is a valid, writable sigset_t.
        unsafe { libc::sigpending(&mut pending) };
        for sig in set.iter() {
            // SAFETY: `pending` was filled in by sigpending.
            if unsafe { libc::sigismember(&pending, sig as libc::c_int) } == 1 {
                let mut one = SigSet::empty();
                one.add(sig);
                let mut got: libc::c_int = 0;
                // SAFETY: `one` and `got` outlive the call; the signal is pending.
                unsafe { libc::sigwait(one.as_ref(), &mut got) };
                return Signal::try_from(got).ok();
            }
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Everything one run needs, from the environment.
struct Fake {
    config_dir: PathBuf,
    /// Where credentials live: `$CLAUDE_SECURESTORAGE_CONFIG_DIR`, else the
    /// config dir (checked with the real Claude Code 2.1.332).
    secure_dir: PathBuf,
    claude_json: PathBuf,
    cwd: PathBuf,
    /// The current session id (`clear` changes it).
    session_id: std::cell::RefCell<String>,
    /// Whether `clear` ran: `startup` then writes the new id's transcript
    /// and runs no hooks (they ran at `clear`).
    cleared: std::cell::Cell<bool>,
    /// The session flags of the command line.
    flags: SessionFlags,
    log: Option<PathBuf>,
    lock_hold: Option<PathBuf>,
    credentials_mode: CredentialsMode,
}

/// How `.credentials.json` is written when it is a symlink (uncertain fact:
/// tests exercise both).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CredentialsMode {
    /// Write through the link (one hop, temp file next to the target).
    Through,
    /// Replace the link by a real file.
    Replace,
}

/// The session flags of the command line (see the module doc).
#[derive(Default)]
struct SessionFlags {
    session_id: Option<String>,
    resume: Option<String>,
    fork: bool,
    settings: Option<String>,
}

impl SessionFlags {
    fn parse() -> SessionFlags {
        let mut flags = SessionFlags::default();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--session-id" => flags.session_id = args.next(),
                "--resume" | "-r" => flags.resume = args.next(),
                "--fork-session" => flags.fork = true,
                "--settings" => flags.settings = args.next(),
                _ => {
                    if let Some(v) = a.strip_prefix("--settings=") {
                        flags.settings = Some(v.to_string());
                    }
                }
            }
        }
        flags
    }

    /// The id this run's transcript is written under.
    fn first_id(&self) -> String {
        match (&self.resume, self.fork) {
            (Some(id), false) => id.clone(),
            _ => self.session_id.clone().unwrap_or_else(uuid_v4),
        }
    }

    /// `source` of the first `SessionStart`.
    fn source(&self) -> &'static str {
        match (&self.resume, self.fork) {
            (Some(_), true) => "fork",
            (Some(_), false) => "resume",
            (None, _) => "startup",
        }
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn env_str(name: &str) -> Result<Option<String>, Stop> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Stop::Usage(format!("{name} is not UTF-8"))),
    }
}

impl Fake {
    fn from_env() -> Result<Fake, Stop> {
        let (config_dir, claude_json) = match env_path("CLAUDE_CONFIG_DIR") {
            Some(dir) => (dir.clone(), dir.join(".claude.json")),
            None => {
                let home = env_path("HOME").ok_or_else(|| {
                    Stop::Usage("neither CLAUDE_CONFIG_DIR nor HOME is set".into())
                })?;
                (home.join(".claude"), home.join(".claude.json"))
            }
        };
        let cwd = std::env::current_dir()
            .map_err(|e| Stop::Failed(anyhow!("getting the current directory: {e}")))?;
        let credentials_mode = match env_str("FAKE_CLAUDE_CREDENTIALS")?.as_deref() {
            None | Some("through") => CredentialsMode::Through,
            Some("replace") => CredentialsMode::Replace,
            Some(other) => {
                return Err(Stop::Usage(format!(
                    "FAKE_CLAUDE_CREDENTIALS={other:?}: use `through` or `replace`"
                )));
            }
        };
        let flags = SessionFlags::parse();
        let secure_dir = env_path("CLAUDE_SECURESTORAGE_CONFIG_DIR").unwrap_or(config_dir.clone());
        Ok(Fake {
            config_dir,
            secure_dir,
            claude_json,
            cwd,
            session_id: std::cell::RefCell::new(flags.first_id()),
            cleared: std::cell::Cell::new(false),
            flags,
            log: env_path("FAKE_CLAUDE_LOG"),
            lock_hold: env_path("FAKE_CLAUDE_LOCK_HOLD"),
            credentials_mode,
        })
    }

    fn run(&self) -> Result<(), Stop> {
        log_event(
            self.log.as_deref(),
            json!({"event": "start", "pid": std::process::id(), "sessionId": self.id()}),
        );
        if let Some(report) = env_path("FAKE_CLAUDE_REPORT") {
            self.write_report(&report)?;
        }
        let actions = env_str("FAKE_CLAUDE_ACTIONS")?.unwrap_or_default();
        for action in split_actions(&actions) {
            log_event(
                self.log.as_deref(),
                json!({"event": "action", "action": action}),
            );
            self.perform(action)?;
            if let Some(sig) = wait_for_signal(Some(Duration::ZERO)) {
                return Err(Stop::Signal(sig));
            }
        }
        self.stay_alive()?;
        match wait_for_signal(Some(Duration::ZERO)) {
            Some(sig) => Err(Stop::Signal(sig)),
            None => Ok(()),
        }
    }

    fn perform(&self, action: &str) -> Result<(), Stop> {
        let (name, arg) = match action.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (action, None),
        };
        let need =
            |what: &str| arg.ok_or_else(|| Stop::Usage(format!("action `{name}` needs `:{what}`")));
        let number = |what: &str| -> Result<u64, Stop> {
            let a = need(what)?;
            a.parse()
                .map_err(|_| Stop::Usage(format!("action `{action}`: `{a}` is not a number")))
        };
        match name {
            "startup" => self.startup()?,
            "clear" => {
                *self.session_id.borrow_mut() = uuid_v4();
                self.cleared.set(true);
                let transcript = self.new_transcript_path();
                self.run_hooks("clear", &transcript)?;
            }
            "add-mcp" => {
                let server = need("name")?.to_owned();
                let entry = json!({
                    "type": "stdio",
                    "command": format!("fake-mcp-{server}"),
                    "args": [],
                    "env": {},
                });
                self.update_claude_json(|m| {
                    let servers = object_at(m, "mcpServers");
                    servers.insert(server, entry);
                })?;
            }
            "set-model" => {
                let model = need("model")?;
                self.update_settings(|m| {
                    m.insert("model".into(), Value::String(model.into()));
                })?;
            }
            "set-key" => {
                let (key, text) = need("key=json")?.split_once('=').ok_or_else(|| {
                    Stop::Usage(format!("action `{action}`: use set-key:<key>=<json>"))
                })?;
                let value: Value = serde_json::from_str(text).map_err(|e| {
                    Stop::Usage(format!("action `{action}`: `{text}` is not JSON: {e}"))
                })?;
                self.update_claude_json(|m| {
                    m.insert(key.into(), value);
                })?;
            }
            "login" => self.login(arg.unwrap_or("fake@example.com"))?,
            "refresh-credentials" => self.refresh_credentials()?,
            "spawn-child" => self.spawn_child(number("secs")?)?,
            "sleep" => {
                if let Some(sig) = wait_for_signal(Some(Duration::from_millis(number("ms")?))) {
                    return Err(Stop::Signal(sig));
                }
            }
            "exit" => {
                let a = need("code")?;
                let code = a
                    .parse()
                    .map_err(|_| Stop::Usage(format!("action `{action}`: `{a}` is not 0-255")))?;
                return Err(Stop::Exit(code));
            }
            _ => return Err(Stop::Usage(format!("unknown action `{action}`"))),
        }
        Ok(())
    }

    /// The report: what the fake was started with.
    fn write_report(&self, path: &Path) -> Result<()> {
        let text = |s: OsString| s.to_string_lossy().into_owned();
        let env: BTreeMap<String, String> = std::env::vars_os()
            .map(|(k, v)| (text(k), text(v)))
            .collect();
        let report = json!({
            "args": std::env::args_os().skip(1).map(text).collect::<Vec<_>>(),
            "env": env,
            "cwd": lossy(&self.cwd),
            "pid": std::process::id(),
            "ppid": std::os::unix::process::parent_id(),
            "configDir": lossy(&self.config_dir),
            "claudeJson": lossy(&self.claude_json),
            "sessionId": self.id(),
            "settingsLayer": self.settings_layer()?,
            "openFds": open_fds(),
        });
        write_replacing(path, &pretty(&report), 0o644)
    }

    /// `startup`: what one interactive start leaves behind.
    fn startup(&self) -> Result<()> {
        let key = project_key(&self.cwd);
        let session = self.id();
        self.update_claude_json(|m| {
            let n = m.get("numStartups").and_then(Value::as_u64).unwrap_or(0);
            m.insert("numStartups".into(), json!(n + 1));
            let project = object_at(object_at(m, "projects"), &key);
            let defaults = [
                ("allowedTools", json!([])),
                ("mcpContextUris", json!([])),
                ("mcpServers", json!({})),
                ("enabledMcpjsonServers", json!([])),
                ("disabledMcpjsonServers", json!([])),
                ("hasTrustDialogAccepted", json!(false)),
                ("projectOnboardingSeenCount", json!(0)),
            ];
            for (k, v) in defaults {
                project.entry(k).or_insert(v);
            }
            project.insert("lastSessionId".into(), Value::String(session.clone()));
        })?;
        let now = now_ms();
        let transcript = self.startup_transcript()?;
        append_line(
            &transcript,
            &json!({
                "type": "user",
                "sessionId": session,
                "cwd": lossy(&self.cwd),
                "timestamp": now,
                "message": {"role": "user", "content": "fake prompt"},
            }),
        )?;
        append_line(
            &self.config_dir.join("history.jsonl"),
            &json!({
                "display": "fake prompt",
                "pastedContents": {},
                "timestamp": now,
                "project": key,
                "sessionId": session,
            }),
        )?;
        if self.cleared.get() {
            return Ok(());
        }
        self.run_hooks(self.flags.source(), &transcript)
    }

    fn id(&self) -> String {
        self.session_id.borrow().clone()
    }

    /// Where a new transcript of the current id goes.
    fn new_transcript_path(&self) -> PathBuf {
        self.config_dir
            .join("projects")
            .join(sanitize_path(&lossy(&self.cwd)))
            .join(format!("{}.jsonl", self.id()))
    }

    /// The transcript `startup` appends to: the resumed one, a fork's copy
    /// of its parent, or a new one.
    fn startup_transcript(&self) -> Result<PathBuf> {
        let Some(parent) = self.flags.resume.as_ref().filter(|_| !self.cleared.get()) else {
            return Ok(self.new_transcript_path());
        };
        let found = find_transcript(&self.config_dir.join("projects"), parent)
            .ok_or_else(|| anyhow!("No conversation found with session ID: {parent}"))?;
        if !self.flags.fork {
            return Ok(found);
        }
        let path = self.new_transcript_path();
        let text =
            fs::read_to_string(&found).with_context(|| format!("reading {}", found.display()))?;
        for line in text.lines() {
            append_line(
                &path,
                &serde_json::from_str(line).context("a transcript line")?,
            )?;
        }
        Ok(path)
    }

    /// The `--settings` layer as JSON (`null` without one).
    fn settings_layer(&self) -> Result<Value> {
        let Some(settings) = &self.flags.settings else {
            return Ok(Value::Null);
        };
        let text = if settings.trim_start().starts_with('{') {
            settings.clone()
        } else {
            fs::read_to_string(settings).with_context(|| format!("reading {settings}"))?
        };
        serde_json::from_str(&text).with_context(|| format!("parsing {settings}"))
    }

    /// Runs the `SessionStart` hooks of `--settings` with `source`.
    fn run_hooks(&self, source: &str, transcript: &Path) -> Result<()> {
        let value = self.settings_layer()?;
        let input = json!({
            "session_id": self.id(),
            "transcript_path": lossy(transcript),
            "cwd": lossy(&self.cwd),
            "hook_event_name": "SessionStart",
            "source": source,
        });
        let groups = value["hooks"]["SessionStart"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for hook in groups
            .iter()
            .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
        {
            let Some(command) = hook["command"].as_str() else {
                continue;
            };
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&self.cwd)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .with_context(|| format!("running the hook {command}"))?;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(input.to_string().as_bytes())
                .context("writing the hook's input")?;
            let status = child.wait().context("waiting for the hook")?;
            log_event(
                self.log.as_deref(),
                json!({"event": "hook", "source": source, "sessionId": self.id(), "code": status.code()}),
            );
        }
        Ok(())
    }

    /// `login`: identity into `.claude.json`, tokens into `.credentials.json`.
    fn login(&self, email: &str) -> Result<()> {
        let account = json!({
            "accountUuid": uuid_v4(),
            "emailAddress": email,
            "organizationUuid": uuid_v4(),
            "organizationName": "Fake Org",
            "displayName": "Fake User",
        });
        let user_id = random_hex(32);
        self.update_claude_json(|m| {
            m.insert("oauthAccount".into(), account);
            m.insert("userID".into(), Value::String(user_id));
            m.insert("hasCompletedOnboarding".into(), Value::Bool(true));
        })?;
        self.write_credentials(&fresh_tokens())
    }

    /// `refresh-credentials`: rotates both tokens, keeping other fields.
    fn refresh_credentials(&self) -> Result<()> {
        let path = self.secure_dir.join(".credentials.json");
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "not logged in: reading {} (run `login` first)",
                path.display()
            )
        })?;
        let mut creds: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let oauth = creds
            .get_mut("claudeAiOauth")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| anyhow!("{}: no claudeAiOauth object", path.display()))?;
        let Value::Object(new) = fresh_tokens()["claudeAiOauth"].take() else {
            unreachable!("fresh_tokens builds an object")
        };
        for k in ["accessToken", "refreshToken", "expiresAt"] {
            oauth.insert(k.into(), new[k].clone());
        }
        self.write_credentials(&creds)
    }

    fn write_credentials(&self, creds: &Value) -> Result<()> {
        let path = self.secure_dir.join(".credentials.json");
        fs::create_dir_all(&self.secure_dir)
            .with_context(|| format!("creating {}", self.secure_dir.display()))?;
        let target = match self.credentials_mode {
            CredentialsMode::Through => one_hop(&path)?,
            CredentialsMode::Replace => path,
        };
        write_replacing(&target, &pretty(creds), 0o600)
    }

    /// `spawn-child:<secs>`: a process in its own session that outlives us.
    fn spawn_child(&self, secs: u64) -> Result<()> {
        let exe = std::env::current_exe().context("finding the fake's own executable")?;
        let mut cmd = Command::new(&exe);
        cmd.arg0("fake-claude-child")
            .env(CHILD_MODE_VAR, secs.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches no Rust state.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Not waited for: when we exit it is reparented, like a daemonized child.
        let child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", exe.display()))?;
        log_event(
            self.log.as_deref(),
            json!({"event": "spawn-child", "childPid": child.id()}),
        );
        Ok(())
    }

    /// `FAKE_CLAUDE_RUN_MS` / `FAKE_CLAUDE_WRITE_HZ`: stay alive, writing.
    fn stay_alive(&self) -> Result<(), Stop> {
        let Some(run) = env_str("FAKE_CLAUDE_RUN_MS")? else {
            return Ok(());
        };
        let start = Instant::now();
        let deadline = match run.as_str() {
            "forever" => None,
            ms => Some(
                start
                    + Duration::from_millis(ms.parse().map_err(|_| {
                        Stop::Usage(format!(
                            "FAKE_CLAUDE_RUN_MS={ms:?}: use a number of ms or `forever`"
                        ))
                    })?),
            ),
        };
        let interval = match env_str("FAKE_CLAUDE_WRITE_HZ")? {
            None => None,
            Some(hz) => match hz.parse::<f64>() {
                Ok(hz) if hz > 0.0 && hz.is_finite() => Some(Duration::from_secs_f64(1.0 / hz)),
                _ => {
                    return Err(Stop::Usage(format!(
                        "FAKE_CLAUDE_WRITE_HZ={hz:?}: use a positive number"
                    )));
                }
            },
        };
        let mut next_write = interval.map(|i| start + i);
        loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            if let (Some(at), Some(i)) = (next_write, interval)
                && now >= at
            {
                self.update_claude_json(|m| {
                    let n = m.get("fakeWriteCount").and_then(Value::as_u64).unwrap_or(0);
                    m.insert("fakeWriteCount".into(), json!(n + 1));
                })?;
                next_write = Some((at + i).max(Instant::now()));
            }
            let until = [deadline, next_write].into_iter().flatten().min();
            if let Some(sig) = wait_for_signal(until.map(|t| t.saturating_duration_since(now))) {
                return Err(Stop::Signal(sig));
            }
        }
    }

    /// Edits `.claude.json` exactly the way Claude does: takes the
    /// `.claude.json.lock` directory (or writes anyway after a short retry),
    /// re-reads the file under it, backs an unparsable file up to
    /// `backups/.claude.json.corrupted.<ts>` and starts from `{}`, writes
    /// `.claude.json.tmp.<pid>.<ts>` and renames it over the file, removes the
    /// lock. New files are 0600; an existing file keeps its mode.
    fn update_claude_json(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<()> {
        let path = &self.claude_json;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let lock = append_to_name(path, ".lock");
        let locked = take_lock_dir(&lock);
        if locked && let Some(hold) = &self.lock_hold {
            log_event(
                self.log.as_deref(),
                json!({"event": "lock-held", "lock": lossy(&lock)}),
            );
            while !hold.exists() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let result = self.rewrite_claude_json(path, edit);
        if locked {
            let _ = fs::remove_dir(&lock);
        }
        result
    }

    fn rewrite_claude_json(
        &self,
        path: &Path,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<()> {
        let (mut map, mode) = match fs::read(path) {
            Ok(bytes) => {
                let mode = fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .permissions()
                    .mode()
                    & 0o7777;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(map)) => (map, mode),
                    parsed => {
                        let why = match parsed {
                            Err(e) => e.to_string(),
                            Ok(_) => "not a JSON object".to_owned(),
                        };
                        self.back_up_corrupted(path, &bytes, &why)?;
                        (Map::new(), mode)
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Map::new(), 0o600),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        edit(&mut map);
        write_replacing(path, &pretty(&Value::Object(map)), mode)
    }

    fn back_up_corrupted(&self, path: &Path, bytes: &[u8], why: &str) -> Result<()> {
        let dir = self.config_dir.join("backups");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let backup = dir.join(format!(".claude.json.corrupted.{}", now_ms()));
        fs::write(&backup, bytes).with_context(|| format!("writing {}", backup.display()))?;
        eprintln!(
            "Claude configuration file at {} is corrupted: {why}. \
             The corrupted file has been backed up to {}.",
            path.display(),
            backup.display()
        );
        log_event(
            self.log.as_deref(),
            json!({"event": "corrupted", "file": lossy(path), "backup": lossy(&backup)}),
        );
        Ok(())
    }

    /// Edits `settings.json` the way `/model` and `/config` do: follows ONE
    /// symlink hop, writes a temp file next to the resolved target and renames
    /// it; a read-only target fails with EACCES/EROFS.
    fn update_settings(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<()> {
        fs::create_dir_all(&self.config_dir)
            .with_context(|| format!("creating {}", self.config_dir.display()))?;
        let target = one_hop(&self.config_dir.join("settings.json"))?;
        let (mut map, mode) = match fs::read(&target) {
            Ok(bytes) => {
                let meta = fs::metadata(&target)
                    .with_context(|| format!("reading {}", target.display()))?;
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(map)) => (map, meta.permissions().mode() & 0o7777),
                    _ => bail!("invalid settings file {}", target.display()),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Map::new(), 0o644),
            Err(e) => return Err(node_error(e, "open", &[&target])),
        };
        edit(&mut map);
        write_replacing(&target, &pretty(&Value::Object(map)), mode)
    }
}

/// Takes Claude's lock directory: mkdir; an existing one older than
/// [`LOCK_STALE`] is removed and taken; a fresh one is retried a few times.
/// Returns false when it could not be had (the caller writes anyway, as
/// Claude does).
fn take_lock_dir(lock: &Path) -> bool {
    for _ in 0..=LOCK_RETRIES {
        match fs::create_dir(lock) {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let stale = fs::metadata(lock)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > LOCK_STALE));
                if stale && fs::remove_dir(lock).is_ok() {
                    continue;
                }
            }
            Err(_) => return false,
        }
        std::thread::sleep(LOCK_RETRY_DELAY);
    }
    false
}

/// Where a write to `path` lands when one symlink hop is followed: the link's
/// target (relative targets resolved against the link's directory), or
/// `path` itself when it is not a link.
fn one_hop(path: &Path) -> Result<PathBuf> {
    match fs::read_link(path) {
        Ok(target) => Ok(match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        }),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => {
            Ok(path.to_owned())
        }
        Err(e) => Err(node_error(e, "readlink", &[path])),
    }
}

/// Replaces `path` atomically, the way Claude (Node's `writeFileSync` to a
/// temp file, then `renameSync`) does: `<path>.tmp.<pid>.<ms>` with `mode`,
/// renamed over `path` (a symlink at `path` is replaced, not followed).
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = append_to_name(path, &format!(".tmp.{}.{}", std::process::id(), now_ms()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| node_error(e, "open", &[&tmp]))?;
    let written = file
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .map_err(|e| node_error(e, "write", &[&tmp]))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| node_error(e, "rename", &[&tmp, path])));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// An I/O error worded like Node's (`EACCES: permission denied, open '<path>'`,
/// `rename '<from>' -> '<to>'`), which is what Claude prints.
fn node_error(e: io::Error, syscall: &str, paths: &[&Path]) -> anyhow::Error {
    let code = match e.raw_os_error() {
        Some(libc::EACCES) => "EACCES",
        Some(libc::EROFS) => "EROFS",
        Some(libc::EPERM) => "EPERM",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EEXIST) => "EEXIST",
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::EISDIR) => "EISDIR",
        _ => "EIO",
    };
    let paths: Vec<String> = paths.iter().map(|p| format!("'{}'", p.display())).collect();
    anyhow!("{code}: {e}, {syscall} {}", paths.join(" -> "))
}

/// The `projects` key for `cwd`: the canonical git root (for a linked
/// worktree, the main checkout's root), or `cwd` itself outside git.
fn project_key(cwd: &Path) -> String {
    let out = Command::new("git")
        .args([
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--absolute-git-dir",
            "--git-common-dir",
        ])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let fallback = || lossy(cwd);
    // Not a work tree (outside git, a bare repo, inside `.git`): cwd.
    let Ok(out) = out
        .map_err(drop)
        .and_then(|o| o.status.success().then_some(o).ok_or(()))
    else {
        return fallback();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let [toplevel, git_dir, common_dir] = lines[..] else {
        return fallback();
    };
    // A linked worktree has its own git dir under `<common>/worktrees/`; its
    // canonical root is the checkout owning `<common>` (named `.git`).
    let common = Path::new(common_dir);
    if git_dir != common_dir
        && common.file_name().is_some_and(|n| n == ".git")
        && let Some(root) = common.parent()
    {
        return lossy(root);
    }
    toplevel.to_owned()
}

/// A path as Claude names its transcript directory: every character other
/// than ASCII letters and digits becomes `-` (one per UTF-16 unit, as
/// JavaScript's `replace(/[^a-zA-Z0-9]/g, "-")` does); a name longer than
/// 200 is cut at 200 and followed by `-` and the absolute value of Java's
/// `String.hashCode` of the path in base 36 (what the real Claude Code
/// 2.1.332 does for a 260-character path).
fn sanitize_path(path: &str) -> String {
    let name: String = path
        .chars()
        .flat_map(|c| {
            let keep = c.is_ascii_alphanumeric();
            let n = if keep { 1 } else { c.len_utf16() };
            std::iter::repeat_n(if keep { c } else { '-' }, n)
        })
        .collect();
    if name.len() <= 200 {
        return name;
    }
    let hash = path
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    let mut n = i64::from(hash).unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!("{}-{}", &name[..200], String::from_utf8_lossy(&digits))
}

/// `projects/*/<id>.jsonl`, the way Claude finds a session to resume.
fn find_transcript(projects: &Path, id: &str) -> Option<PathBuf> {
    fs::read_dir(projects)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(format!("{id}.jsonl")))
        .find(|p| p.is_file())
}

/// Splits the action list at commas outside JSON brackets and strings.
fn split_actions(list: &str) -> Vec<&str> {
    let (mut out, mut start, mut depth, mut in_str, mut escaped) = (vec![], 0, 0i32, false, false);
    for (i, c) in list.char_indices() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth <= 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&list[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect()
}

/// `map[key]` as an object, created (or replacing a non-object) if needed.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("just made an object")
}

/// Claude's layout, `JSON.stringify(v, null, 2)`: two spaces, no final newline.
fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("a Value always serializes")
}

/// A path as a JSON string (never fails, unlike serializing a `Path`).
fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn append_to_name(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Appends one JSON line (O_APPEND, so concurrent writers interleave whole lines).
fn append_line(path: &Path, v: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut line = serde_json::to_vec(v).expect("a Value always serializes");
    line.push(b'\n');
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(&line))
        .with_context(|| format!("appending to {}", path.display()))
}

/// Best effort: the event log must never change what the fake does.
fn log_event(log: Option<&Path>, mut event: Value) {
    if let Some(log) = log {
        event["pid"] = json!(std::process::id());
        event["timeMs"] = json!(now_ms());
        let _ = append_line(log, &event);
    }
}

/// The process's open descriptors and what they point to (tests use this
/// to check that no lock or pipe leaked into Claude).
fn open_fds() -> BTreeMap<String, String> {
    let mut fds = BTreeMap::new();
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return fds;
    };
    for entry in dir.flatten() {
        if let Ok(target) = fs::read_link(entry.path()) {
            fds.insert(
                entry.file_name().to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            );
        }
    }
    // Drop the descriptor of the directory listing itself.
    let own = format!("/proc/{}/fd", std::process::id());
    fds.retain(|_, t| *t != own);
    fds
}

fn fresh_tokens() -> Value {
    json!({
        "claudeAiOauth": {
            "accessToken": format!("sk-ant-oat01-fake-{}", random_hex(16)),
            "refreshToken": format!("sk-ant-ort01-fake-{}", random_hex(16)),
            "expiresAt": now_ms() + 8 * 3600 * 1000,
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        }
    })
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    buf
}

fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID, like Claude's session ids.
fn uuid_v4() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..].concat()
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
