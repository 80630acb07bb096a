//! `claude-accounts status`: every account, its config dir, its known runtime
//! dirs with their worktrees, which ones a session holds (the lock is the
//! truth, the recorded pid informational), changes pending for the next
//! launch, and drift of Nix-owned keys. Reads only; never writes or creates.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::apply::{ChangeKind, Report};
use crate::clock::format_utc;
use crate::dispatch;
use crate::lock::{self, SessionInfo};
use crate::login::{self, Login};
use crate::manifest::{Isolation, Manifest};
use crate::registry;
use crate::runtime::{self, Runtime};
use crate::shown::Shown;

/// The schema version of `status --json`; raised when a field changes
/// meaning or goes away (new fields do not raise it).
pub const SCHEMA_VERSION: u32 = 1;

/// The status of all accounts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The account the `claude` dispatcher picks in the current directory.
    pub here: Here,
    pub accounts: Vec<AccountStatus>,
}

/// Which account the current directory gets, and why (or why none).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Here {
    pub directory: PathBuf,
    pub choice: Option<dispatch::Choice>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub name: String,
    pub config_dir: PathBuf,
    pub isolation: Isolation,
    pub single_instance: bool,
    /// What is known about the login (never a token).
    pub login: Login,
    pub runtimes: Vec<RuntimeStatus>,
    /// Why the config dir cannot be used (then no runtime is listed).
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStatus {
    pub dir: PathBuf,
    /// `account`, `worktree` or `session`.
    pub kind: &'static str,
    pub worktree: Option<PathBuf>,
    pub project_key: Option<PathBuf>,
    /// Whether a session holds the runtime dir (the lock is the truth).
    pub running: bool,
    /// The running session's record, when it matches the lock holder.
    pub session: Option<SessionInfo>,
    /// The session's launcher is gone but its claude still runs.
    pub orphaned: bool,
    /// Paths the next launch (or activation) would change, per file.
    pub pending: Vec<String>,
    /// Nix-owned paths changed at runtime, per file.
    pub drift: Vec<String>,
    /// Entries of a runtime dir that are neither its own nor links to the
    /// account's (the next launch or session end moves them into the
    /// account).
    pub foreign: Vec<PathBuf>,
    /// Why the files could not be inspected.
    pub error: Option<String>,
}

/// Which account `cwd` gets; `from_env` is `CLAUDE_ACCOUNT`. Neither a
/// choice nor an error when the dispatcher is not used (no
/// `defaultAccount`, no `accountFor`, no `CLAUDE_ACCOUNT`).
pub fn here(m: &Manifest, home: &Path, cwd: &Path, from_env: Option<&str>) -> Here {
    let unused = m.default_account.is_none()
        && m.account_for.is_empty()
        && from_env.is_none_or(str::is_empty);
    let (choice, error) = match dispatch::choose(m, home, cwd, from_env) {
        Err(_) if unused => (None, None),
        Ok(c) => (Some(c), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    Here {
        directory: cwd.to_path_buf(),
        choice,
        error,
    }
}

/// Collects the status of every account (optionally one); `here` is the
/// current directory's account.
pub fn collect(m: &Manifest, home: &Path, only: Option<&str>, here: Here) -> Result<Status> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let state_home = registry::state_home(home);
    let mut accounts = Vec::new();
    let mut config_dirs = m.config_dirs(home);
    for (name, account) in &m.accounts {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let account_dir = match config_dirs.remove(name.as_str()).expect("resolved") {
            Ok(dir) => dir,
            Err(e) => {
                accounts.push(AccountStatus {
                    name: name.clone(),
                    config_dir: account.config_dir.clone(),
                    isolation: account.isolation,
                    single_instance: account.single_instance,
                    login: Login::unknown("the config dir could not be resolved (see the error)"),
                    runtimes: Vec::new(),
                    error: Some(format!("{e:#}")),
                });
                continue;
            }
        };
        let dirs = registry::known_dirs(&state_home, name, &account_dir)?;
        let mut runtimes = Vec::new();
        for dir in dirs {
            let rt = Runtime::known(&dir, &account_dir);
            let kind = if rt.is_account_dir() {
                "account"
            } else if rt.is_ephemeral() {
                "session"
            } else {
                "worktree"
            };
            let probe = if dir.exists() {
                lock::probe(&dir)?
            } else {
                lock::Probe::Free
            };
            let running = probe.is_held();
            let orphaned = matches!(probe, lock::Probe::Orphaned(_));
            let session = probe.holder().cloned();
            let (mut pending, mut drift, mut error) = (Vec::new(), Vec::new(), None);
            let foreign = if rt.is_account_dir() || !dir.exists() {
                Vec::new()
            } else {
                runtime::layout::foreign_entries(&dir, &account_dir).unwrap_or_default()
            };
            if dir.exists() {
                match runtime::plan(&rt, account, home) {
                    Ok((settings, claude_json)) => {
                        sort_changes("settings.json", &settings, &mut pending, &mut drift);
                        sort_changes(".claude.json", &claude_json, &mut pending, &mut drift);
                    }
                    Err(e) => error = Some(format!("{e:#}")),
                }
            } else {
                pending.push("the account dir does not exist yet: run home-manager switch".into());
            }
            runtimes.push(RuntimeStatus {
                dir,
                kind,
                worktree: rt.worktree,
                project_key: rt.project_key,
                running,
                session,
                orphaned,
                pending,
                drift,
                foreign,
                error,
            });
        }
        let login = login::health(account, &account_dir, now_ms);
        accounts.push(AccountStatus {
            name: name.clone(),
            config_dir: account_dir,
            isolation: account.isolation,
            single_instance: account.single_instance,
            login,
            runtimes,
            error: None,
        });
    }
    Ok(Status {
        schema_version: SCHEMA_VERSION,
        here,
        accounts,
    })
}

fn sort_changes(file: &str, report: &Report, pending: &mut Vec<String>, drift: &mut Vec<String>) {
    for change in &report.changes {
        let line = format!("{file}: {}", change.path_display());
        match change.kind {
            ChangeKind::Drifted => drift.push(line),
            ChangeKind::Released => {}
            _ => pending.push(line),
        }
    }
}

/// Prints the status for people: one line per fact, paths and messages
/// with their control characters escaped ([`Shown`]).
pub fn print(status: &Status, out: &mut dyn Write) -> Result<()> {
    let h = &status.here;
    match (&h.choice, &h.error) {
        (Some(c), _) => writeln!(
            out,
            "here: {} gets account {} ({})\n",
            Shown(&h.directory),
            Shown(&c.account),
            Shown(c.reason.to_string())
        )?,
        (None, Some(e)) => writeln!(out, "here: {}\n", Shown(e))?,
        (None, None) => {}
    }
    for a in &status.accounts {
        writeln!(
            out,
            "{}  {}  (isolation {}{})",
            Shown(&a.name),
            Shown(&a.config_dir),
            a.isolation,
            if a.single_instance {
                ", one session per runtime"
            } else {
                ""
            }
        )?;
        writeln!(out, "  login: {}", Shown(&a.login.summary))?;
        if let Some(e) = &a.error {
            writeln!(out, "  error    {}", Shown(e))?;
        }
        for r in &a.runtimes {
            let place = match (&r.worktree, r.kind) {
                (_, "account") => "account dir".to_string(),
                (Some(w), _) => Shown(w).to_string(),
                (None, _) => Shown(&r.dir).to_string(),
            };
            let state = match &r.session {
                Some(s) if r.orphaned => format!(
                    "running: claude {} since {} (its launcher is gone; `claude-close` ends it)",
                    s.claude_pid.unwrap_or_default(),
                    format_utc(s.started_at)
                ),
                Some(s) => format!(
                    "running: pid {}{} since {}",
                    s.pid,
                    s.claude_pid
                        .map(|c| format!(" (claude {c})"))
                        .unwrap_or_default(),
                    format_utc(s.started_at)
                ),
                None if r.running => {
                    "running (its record is being written or is missing)".to_string()
                }
                None => "idle".to_string(),
            };
            writeln!(out, "  {place:<40} {state}")?;
            if r.kind != "account" {
                writeln!(out, "  {:<40} {}", "", Shown(&r.dir))?;
            }
            for p in &r.pending {
                writeln!(out, "    pending  {}", Shown(p))?;
            }
            for d in &r.drift {
                writeln!(out, "    drifted  {}", Shown(d))?;
            }
            for f in &r.foreign {
                writeln!(
                    out,
                    "    not the account's  {} (moved into the account when no session runs there)",
                    Shown(f)
                )?;
            }
            if let Some(e) = &r.error {
                writeln!(out, "    error    {}", Shown(e))?;
            }
        }
    }
    Ok(())
}

/// Prints, as RFC 6902 patches, what the next launch would change in every
/// known dir of every account (or one).
pub fn diff(m: &Manifest, home: &Path, only: Option<&str>, out: &mut dyn Write) -> Result<()> {
    let state_home = registry::state_home(home);
    let mut config_dirs = m.config_dirs(home);
    for (name, account) in &m.accounts {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let account_dir = config_dirs.remove(name.as_str()).expect("resolved")?;
        let dirs = registry::known_dirs(&state_home, name, &account_dir)?;
        for dir in dirs.into_iter().filter(|d| d.exists()) {
            let rt = Runtime::known(&dir, &account_dir);
            let (settings, claude_json) = runtime::plan(&rt, account, home)?;
            for (file, report) in [("settings.json", settings), (".claude.json", claude_json)] {
                if report.changes.is_empty() {
                    continue;
                }
                writeln!(
                    out,
                    "{name}: {}\n{}",
                    Shown(dir.join(file)),
                    serde_json::to_string_pretty(&report.to_patch())?
                )?;
            }
        }
    }
    Ok(())
}
