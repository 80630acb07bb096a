//! `claude-accounts close`: end running sessions cleanly.
//!
//! Guarantee: a signal is sent only after confirming through the session
//! lock that the recorded pid really is the session holding that runtime dir
//! (a stale record of a reused pid is never signalled).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::context;
use crate::lock;
use crate::manifest::{Isolation, Manifest};
use crate::registry;
use crate::runtime;
use crate::shown::Shown;

/// Which sessions to close.
#[derive(Debug, Clone)]
pub enum Target {
    /// The session of this worktree (or, outside git, the account dir's).
    Worktree(PathBuf),
    /// Every session of the account.
    All,
}

/// How to close.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for a session to end after SIGTERM.
    pub timeout: Duration,
    /// SIGKILL what is still running after the timeout.
    pub force: bool,
}

/// Closes the targeted sessions of `account`; returns false when one could
/// not be closed or there was nothing to close.
pub fn close(
    m: &Manifest,
    account: &str,
    target: &Target,
    home: &Path,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<bool> {
    let acct = m.account(account)?;
    let account_dir = m.config_dir(account, home)?;
    let dirs = registry::known_dirs(&registry::state_home(home), account, &account_dir)?;
    let wanted: Option<PathBuf> = match target {
        Target::All => None,
        // Every session of such an account runs in the account dir.
        Target::Worktree(_) if acct.isolation == Isolation::Account => Some(account_dir.clone()),
        Target::Worktree(path) => {
            let ctx = context::detect(path, &|k| std::env::var_os(k));
            Some(ctx.worktree.unwrap_or_else(|| account_dir.clone()))
        }
    };
    let mut found = false;
    let mut ok = true;
    for dir in dirs {
        let (info, orphaned) = match lock::probe(&dir)? {
            lock::Probe::Free => continue,
            lock::Probe::Held(Some(info)) => (info, false),
            lock::Probe::Orphaned(info) => (info, true),
            lock::Probe::Held(None) => {
                found = true;
                ok = false;
                writeln!(
                    out,
                    "claude-accounts: a session holds {} but has no record of its claude yet (it is starting) or its record does not match the lock holder; not sending signals; try again in a moment (see `claude-status`)",
                    Shown(&dir)
                )?;
                continue;
            }
        };
        let place = info.worktree.clone().unwrap_or_else(|| dir.clone());
        if let Some(w) = &wanted {
            let here = runtime::read_info(&dir)
                .and_then(|i| i.worktree)
                .unwrap_or_else(|| dir.clone());
            if &here != w {
                continue;
            }
        }
        found = true;
        if orphaned {
            ok &= close_orphan(account, &place, &info, opts, out)?;
            continue;
        }
        if !lock::holder_is(&dir, info.pid)? {
            writeln!(
                out,
                "claude-accounts: not closing the session in {}: the recorded pid {} does not hold its lock; see `claude-status`",
                Shown(&place),
                info.pid
            )?;
            ok = false;
            continue;
        }
        kill(Pid::from_raw(info.pid as i32), Signal::SIGTERM)
            .with_context(|| format!("sending SIGTERM to pid {}", info.pid))?;
        if wait_released(&dir, opts.timeout)? {
            writeln!(
                out,
                "closed Claude Code ({account}) in {} (pid {})",
                Shown(&place),
                info.pid
            )?;
            continue;
        }
        if opts.force {
            for pid in info.claude_pid.into_iter().chain([info.pid]) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            if wait_released(&dir, Duration::from_secs(5))? {
                writeln!(
                    out,
                    "killed Claude Code ({account}) in {} (pid {})",
                    Shown(&place),
                    info.pid
                )?;
                continue;
            }
        }
        writeln!(
            out,
            "claude-accounts: Claude Code ({account}) in {} (pid {}) is still running after {} s; it may be waiting for input: close it there, or run `claude-close {account} --force`",
            Shown(&place),
            info.pid,
            opts.timeout.as_secs()
        )?;
        ok = false;
    }
    if !found {
        let what = match &wanted {
            Some(w) => format!("in {}", Shown(w)),
            None => "anywhere".to_string(),
        };
        writeln!(
            out,
            "claude-accounts: no session of {account} is running {what}"
        )?;
        return Ok(false);
    }
    Ok(ok)
}

/// Ends the claude of a session whose launcher died: SIGTERM to the
/// recorded claude pid (only while it is still that process), then, with
/// `force`, SIGKILL.
fn close_orphan(
    account: &str,
    place: &Path,
    info: &lock::SessionInfo,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<bool> {
    let pid = Pid::from_raw(info.claude_pid.expect("an orphan has a claude pid") as i32);
    let ended = |timeout: Duration| {
        let start = Instant::now();
        while lock::claude_alive(info) {
            if start.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    };
    if lock::claude_alive(info) {
        kill(pid, Signal::SIGTERM).with_context(|| format!("sending SIGTERM to pid {pid}"))?;
    }
    if ended(opts.timeout) {
        writeln!(
            out,
            "closed Claude Code ({account}) in {} (claude pid {pid}; its launcher was gone)",
            Shown(place)
        )?;
        return Ok(true);
    }
    if opts.force && lock::claude_alive(info) {
        let _ = kill(pid, Signal::SIGKILL);
        if ended(Duration::from_secs(5)) {
            writeln!(
                out,
                "killed Claude Code ({account}) in {} (claude pid {pid})",
                Shown(place)
            )?;
            return Ok(true);
        }
    }
    writeln!(
        out,
        "claude-accounts: Claude Code ({account}) in {} (claude pid {pid}) is still running after {} s; close it there, or run `claude-close {account} --force`",
        Shown(place),
        opts.timeout.as_secs()
    )?;
    Ok(false)
}

fn wait_released(dir: &Path, timeout: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        if !lock::probe(dir)?.is_held() {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
