//! `claude-accounts launch`: what `claude<name>` runs. Chooses and prepares
//! the session's runtime dir, takes the single-instance lock, and runs
//! `claude` with `CLAUDE_CONFIG_DIR` and the declared environment.
//!
//! Guarantees: the user's arguments reach `claude` untouched and nothing is
//! added but [`Options::leading_args`] (none for `claude<name>` without a
//! profile); the exit status is claude's (128+n when killed by signal n); the
//! session lock is held by this process for the session's whole life and is
//! never inherited by claude or its children (an MCP server left running
//! cannot keep the runtime locked); signals sent to this process are forwarded
//! to claude the way a shell would, while terminal-generated ones (Ctrl-C),
//! which claude receives itself, are not sent twice.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context as _, Result};

use crate::claude_worktree;
use crate::context;
use crate::lock::{self, Acquire, SessionInfo};
use crate::manifest::{self, Isolation, Manifest};
use crate::registry;
use crate::runtime::{self, Runtime};

/// Where Claude Code keeps a login (`.credentials.json`, or the name of the
/// macOS Keychain entry), its secure-storage lock and its OAuth refresh
/// lock: always the account dir, so every session of an account shares one
/// login and one refresh lock, whatever its `CLAUDE_CONFIG_DIR`.
pub const SECURE_STORAGE_VAR: &str = "CLAUDE_SECURESTORAGE_CONFIG_DIR";
use crate::secrets;

/// Per-launch choices, from flags or the environment.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the account's isolation (`CLAUDE_ACCOUNTS_ISOLATION`).
    pub isolation: Option<Isolation>,
    /// Keeps a per-session runtime dir after the session
    /// (`CLAUDE_ACCOUNTS_KEEP_SESSION=1`).
    pub keep_session: bool,
    /// Arguments placed before the user's (`claude-session`'s
    /// `--session-id`/`--resume` and a profile's `--settings`).
    pub leading_args: Vec<OsString>,
    /// Environment variables set for claude on top of the account's.
    pub extra_env: Vec<(OsString, OsString)>,
}

/// Runs one Claude Code session of `account_name`; returns claude's status.
pub fn launch(
    m: &Manifest,
    account_name: &str,
    args: Vec<OsString>,
    opts: &Options,
) -> Result<ExitCode> {
    let account = m.account(account_name)?;
    let home = manifest::home_dir()?;
    let cwd = std::env::current_dir().context("finding the current directory")?;
    let mut ctx = context::detect(&cwd, &|k| std::env::var_os(k));
    if let Some(w) = &ctx.warning {
        eprintln!("claude-accounts: warning: {w}");
    }
    let isolation = opts.isolation.unwrap_or(account.isolation);
    let mut args = args;
    if isolation == Isolation::Worktree
        && let Some((worktree_ctx, worktree_args)) = claude_worktree_context(&ctx, &args, &cwd)?
    {
        ctx = worktree_ctx;
        args = worktree_args;
    }
    let state_home = registry::state_home(&home);
    let account_dir = m.config_dir(account_name, &home)?;
    let mut notes: Vec<String> = crate::modes::hold_dir(&account_dir)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let rt = runtime::choose(account_name, &account_dir, isolation, &ctx, &state_home);
    let created = runtime::create(&rt, account_name, &state_home, &mut notes)?;

    let info = SessionInfo {
        pid: std::process::id(),
        claude_pid: None,
        claude_start: None,
        started_at: crate::clock::now_secs(),
        account: account_name.to_string(),
        worktree: rt.worktree.clone(),
        runtime_dir: rt.dir.clone(),
    };
    let management = is_management(&args);
    let exclusive = account.single_instance && !management;
    let mut session_lock = match lock::try_acquire(&rt.dir, &info)? {
        Acquire::Acquired(l) => Some(l),
        Acquire::Held(holder) if exclusive => {
            anyhow::bail!("{}", already_running(account_name, &rt, holder.as_ref()));
        }
        Acquire::Orphaned(claude) if exclusive => {
            anyhow::bail!("{}", orphaned(account_name, &rt, &claude));
        }
        Acquire::Held(_) | Acquire::Orphaned(_) => None,
    };

    let mut prepared = runtime::prepare(&rt, account, &home, session_lock.is_some(), created)?;
    let fixes = [&prepared.settings, &prepared.claude_json]
        .into_iter()
        .flatten()
        .flat_map(|(report, _)| report.modes.iter().map(ToString::to_string));
    for note in notes
        .into_iter()
        .chain(prepared.notes.iter().cloned())
        .chain(fixes)
    {
        eprintln!("claude-accounts: {note}");
    }
    if session_lock.is_none() && !management {
        eprintln!(
            "claude-accounts: another session runs in {}; its .claude.json is left as it is (declared changes apply at a launch when no other session runs there)",
            rt.dir.display()
        );
    }
    let env = secrets::session_env(account, &home)?;

    let claude = resolve_claude(&account.claude, &home);
    let spec = crate::spawn::Spec {
        program: &claude,
        args: opts.leading_args.iter().chain(&args).cloned().collect(),
        env: env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .chain(opts.extra_env.iter().cloned())
            .chain([
                ("CLAUDE_CONFIG_DIR".into(), rt.dir.clone().into()),
                (SECURE_STORAGE_VAR.into(), rt.account_dir.clone().into()),
            ])
            .collect(),
        handled: &FORWARDED,
    };
    let saved_terminal = Terminal::save();
    install_forwarding()?;
    let spawned = crate::spawn::spawn(&spec);
    let mut warnings = Vec::new();
    if let Ok(child) = &spawned {
        forward_to(child.id() as i32);
        // First: `status` and `close` find the session by this record.
        if let Some(l) = session_lock.as_mut()
            && let Err(e) = l.set_claude_pid(child.id())
        {
            warnings.push(format!("{e:#}"));
        }
    }
    warnings.extend(runtime::after_start(
        &rt,
        &mut prepared,
        account_name,
        &state_home,
    ));
    let mut child = spawned.with_context(|| {
        format!(
            "starting {} for account {account_name}; check programs.claude-code.accounts.{account_name}.package",
            claude.display()
        )
    })?;
    for warning in warnings {
        eprintln!("claude-accounts: warning: {warning}");
    }
    let status = child.wait().context("waiting for claude")?;
    forward_to(0);
    if status.signal().is_some() {
        saved_terminal.restore();
    }

    finish(&rt, account, &home, session_lock.is_some(), opts);
    drop(session_lock);
    Ok(exit_code(status))
}

/// After the session: the account-wide keys and entries it changed go to
/// the account; a throwaway runtime dir is removed. Problems are warnings:
/// the session is over and its exit status is what matters.
fn finish(rt: &Runtime, account: &manifest::Account, home: &Path, locked: bool, opts: &Options) {
    if rt.is_account_dir() {
        return;
    }
    match runtime::finish(rt, account, home, locked) {
        Ok(notes) => {
            for note in notes {
                eprintln!("claude-accounts: {note}");
            }
        }
        Err(e) => eprintln!(
            "claude-accounts: warning: {e:#}; the next launch in {} shares it with the account",
            rt.worktree.as_deref().unwrap_or(&rt.dir).display()
        ),
    }
    if rt.is_ephemeral() && locked {
        let keep = opts.keep_session
            || std::env::var_os("CLAUDE_ACCOUNTS_KEEP_SESSION").is_some_and(|v| v == "1");
        if keep {
            eprintln!(
                "claude-accounts: kept this session's config dir {}",
                rt.dir.display()
            );
        } else if let Err(e) = std::fs::remove_dir_all(&rt.dir) {
            eprintln!(
                "claude-accounts: warning: removing the session dir {}: {e}; remove it by hand",
                rt.dir.display()
            );
        }
    }
}

/// For `-w [NAME]` in a git worktree: the context of the worktree Claude
/// will run in (created now when missing, see [`claude_worktree`]) and the
/// arguments for claude.
fn claude_worktree_context(
    ctx: &context::Context,
    args: &[OsString],
    cwd: &Path,
) -> Result<Option<(context::Context, Vec<OsString>)>> {
    let in_worktree = matches!(
        ctx.kind,
        context::Kind::Main | context::Kind::Linked | context::Kind::Submodule
    );
    let (Some(request), Some(main_root), true) = (
        claude_worktree::requested(args),
        ctx.project_key.as_deref(),
        in_worktree,
    ) else {
        return Ok(None);
    };
    let Some(resolved) =
        claude_worktree::resolve(&request, args, cwd, main_root, std::ffi::OsStr::new("git"))?
    else {
        return Ok(None);
    };
    if resolved.created {
        eprintln!(
            "claude-accounts: created the worktree {} for this session (Claude Code reuses it)",
            resolved.worktree.display()
        );
    }
    let worktree_ctx = context::detect(&resolved.worktree, &|k| std::env::var_os(k));
    Ok(Some((worktree_ctx, resolved.args)))
}

/// Claude Code's subcommands that manage its configuration or other
/// sessions instead of running a session (`claude --help`, 2.1.332). They
/// may run beside a session in the same runtime dir: `claudemax mcp add` in
/// a worktree where claudemax runs is what a user expects to work. Claude
/// Code's own lock keeps their `.claude.json` writes apart.
const MANAGEMENT: &[&str] = &[
    "agents",
    "attach",
    "auth",
    "auto-mode",
    "doctor",
    "import",
    "install",
    "kill",
    "logs",
    "mcp",
    "plugin",
    "plugins",
    "purge",
    "respawn",
    "rm",
    "setup-token",
    "stop",
    "update",
    "upgrade",
];

/// Whether claude's arguments start with a management subcommand.
fn is_management(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| a.to_str())
        .is_some_and(|a| MANAGEMENT.contains(&a))
}

fn already_running(name: &str, rt: &Runtime, holder: Option<&SessionInfo>) -> String {
    let place = rt.worktree.as_deref().unwrap_or(&rt.dir).display();
    let who = match holder {
        Some(h) => format!(
            " (pid {}, since {})",
            h.pid,
            crate::clock::format_utc(h.started_at)
        ),
        None => String::new(),
    };
    let close = match &rt.worktree {
        Some(w) => format!("claude-close {name} --worktree {}", w.display()),
        None => format!("claude-close {name}"),
    };
    format!(
        "Claude Code ({name}) is already running in {place}{who}; close it with `{close}`, use that session, or start this one in another worktree"
    )
}

fn orphaned(name: &str, rt: &Runtime, claude: &SessionInfo) -> String {
    let place = rt.worktree.as_deref().unwrap_or(&rt.dir).display();
    let close = match &rt.worktree {
        Some(w) => format!("claude-close {name} --worktree {}", w.display()),
        None => format!("claude-close {name}"),
    };
    format!(
        "Claude Code ({name}) is still running in {place} (claude pid {}, since {}) although its launcher is gone; close it with `{close}`, or end that process, then launch again",
        claude.claude_pid.unwrap_or_default(),
        crate::clock::format_utc(claude.started_at)
    )
}

/// `claude` as an absolute path, or a name looked up in `PATH`.
fn resolve_claude(claude: &Path, home: &Path) -> PathBuf {
    manifest::expand_home(claude, home)
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        _ => ExitCode::FAILURE,
    }
}

/// The pid signals are forwarded to: 0 before claude runs, -1 after.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A forwardable signal that arrived before claude started.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Only async-signal-safe work here: atomics and kill(2).
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    if !sent_by_a_process(unsafe { &*info }) {
        return; // from the terminal: claude, in the same process group, got it too
    }
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, sig) };
    } else if child == 0 {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

/// Whether a signal was sent by a process (`kill`, `sigqueue`), rather than
/// generated by the kernel for the terminal (Ctrl-C, hangup).
#[cfg(target_os = "linux")]
fn sent_by_a_process(info: &libc::siginfo_t) -> bool {
    matches!(
        info.si_code,
        libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
    )
}

/// Whether a signal was sent by a process: the kernel leaves the sender's pid
/// at 0 for terminal-generated signals.
#[cfg(not(target_os = "linux"))]
fn sent_by_a_process(info: &libc::siginfo_t) -> bool {
    info.si_pid != 0
}

/// The signals a launcher forwards to claude (see [`install_forwarding`]).
const FORWARDED: [nix::sys::signal::Signal; 4] = [
    nix::sys::signal::Signal::SIGTERM,
    nix::sys::signal::Signal::SIGHUP,
    nix::sys::signal::Signal::SIGINT,
    nix::sys::signal::Signal::SIGQUIT,
];

fn install_forwarding() -> Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    let action = SigAction::new(
        SigHandler::SigAction(on_signal),
        SaFlags::SA_RESTART | SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    for sig in FORWARDED {
        // SAFETY: the handler only touches atomics and calls kill(2).
        unsafe { sigaction(sig, &action) }
            .with_context(|| format!("installing a {sig} handler"))?;
    }
    Ok(())
}

fn forward_to(pid: i32) {
    if pid == 0 {
        CHILD.store(-1, Ordering::SeqCst);
        return;
    }
    CHILD.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(pid, pending) };
    }
}

/// The terminal's settings, restored if claude dies by a signal with the
/// terminal in raw mode.
struct Terminal(Option<nix::sys::termios::Termios>);

impl Terminal {
    fn save() -> Terminal {
        let stdin = std::io::stdin();
        Terminal(nix::sys::termios::tcgetattr(&stdin).ok())
    }
    fn restore(&self) {
        if let Some(t) = &self.0 {
            let stdin = std::io::stdin();
            let _ = nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, t);
            let _ = std::io::stderr().flush();
        }
    }
}
