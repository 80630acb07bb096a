//! Command-line interface: argument definitions and dispatch to the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::manifest::{self, Manifest};

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
    /// Print shell completions.
    Completions {
        shell: clap_complete::Shell,
    },
}

/// Runs one parsed command.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { manifest } => {
            let text = std::fs::read_to_string(&manifest).map_err(|e| {
                anyhow::anyhow!("reading manifest {}: {e}", manifest.display())
            })?;
            match manifest::check_text(&text) {
                Ok(m) => {
                    println!(
                        "{}: valid manifest, {} account{}",
                        manifest.display(),
                        m.accounts.len(),
                        if m.accounts.len() == 1 { "" } else { "s" }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    anyhow::bail!(
                        "invalid manifest {}: {}",
                        manifest.display(),
                        manifest::Problems(problems)
                    )
                }
            }
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
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "claude-accounts", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
