//! Command-line interface: argument definitions and dispatch to the library.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::manifest::{self, Isolation, Manifest};

/// Runs Claude Code with several declaratively configured accounts.
#[derive(Debug, Parser)]
#[command(name = "claude-accounts", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a manifest and explain every problem in it.
    Check {
        /// The manifest (rendered by the Home Manager module).
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
    },
    /// Make every account's declared settings hold in its config dir
    /// (run by Home Manager's activation).
    Activate {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        /// Print the planned changes as RFC 6902 patches and change nothing.
        #[arg(long, short = 'n')]
        dry_run: bool,
        /// Also say what was already in place.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Run a Claude Code session of an account (what `claude<name>` runs).
    /// Everything after `--` reaches claude untouched.
    Launch {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        #[arg(long)]
        account: String,
        /// Override the account's isolation for this session.
        #[arg(long, env = "CLAUDE_ACCOUNTS_ISOLATION")]
        isolation: Option<Isolation>,
        /// Keep a per-session config dir after the session ends.
        #[arg(long)]
        keep_session: bool,
        /// Arguments for claude.
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Show every account, its runtime dirs, running sessions, pending
    /// changes and drift.
    Status {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        /// Only this account.
        account: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// End a running session cleanly (SIGTERM, wait, report).
    Close {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        account: String,
        /// The session of this worktree (default: the current directory's).
        #[arg(long, conflicts_with = "all")]
        worktree: Option<PathBuf>,
        /// Every session of the account.
        #[arg(long)]
        all: bool,
        /// Seconds to wait for the session to end.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Kill what is still running after the timeout.
        #[arg(long)]
        force: bool,
    },
    /// Print, as RFC 6902 patches, what the next launch would change in every
    /// known config and runtime dir.
    Diff {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        /// Only this account.
        account: Option<String>,
    },
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

/// Runs one parsed command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { manifest } => {
            let m = Manifest::load(&manifest)?;
            // HOME says where `~` is: absolute config dirs are checked too.
            let mut problems = match manifest::home_dir() {
                Ok(home) => crate::configdir::lexical_problems_in(&m, Some(&home)),
                Err(_) => Vec::new(),
            };
            problems.extend(m.rendered_file_problems());
            if !problems.is_empty() {
                anyhow::bail!(
                    "invalid manifest {}: {}",
                    manifest.display(),
                    manifest::Problems(problems)
                );
            }
            let n = m.accounts.len();
            println!(
                "{}: valid manifest, {n} account{}",
                manifest.display(),
                if n == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Activate {
            manifest,
            dry_run,
            verbose,
        } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let opts = crate::activate::Options { dry_run, verbose };
            let mut out = std::io::stdout().lock();
            let ok = crate::activate::activate(&m, &home, &opts, &mut out)?;
            out.flush()?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Launch {
            manifest,
            account,
            isolation,
            keep_session,
            args,
        } => {
            let m = Manifest::load(&manifest)?;
            let opts = crate::launch::Options {
                isolation,
                keep_session,
            };
            crate::launch::launch(&m, &account, args, &opts)
        }
        Command::Status {
            manifest,
            account,
            json,
        } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let status = crate::status::collect(&m, &home, account.as_deref())?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &status)?;
                writeln!(out)?;
            } else {
                crate::status::print(&status, &mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Close {
            manifest,
            account,
            worktree,
            all,
            timeout,
            force,
        } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let target = match (all, worktree) {
                (true, _) => crate::close::Target::All,
                (false, Some(w)) => crate::close::Target::Worktree(w),
                (false, None) => crate::close::Target::Worktree(
                    std::env::current_dir()
                        .map_err(|e| anyhow::anyhow!("finding the current directory: {e}"))?,
                ),
            };
            let opts = crate::close::Options {
                timeout: std::time::Duration::from_secs(timeout),
                force,
            };
            let mut out = std::io::stdout().lock();
            let ok = crate::close::close(&m, &account, &target, &home, &opts, &mut out)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Diff { manifest, account } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let mut out = std::io::stdout().lock();
            crate::status::diff(&m, &home, account.as_deref(), &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "claude-accounts", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
