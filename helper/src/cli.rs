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

impl Cli {
    /// This process's command line. The exact form the account wrappers
    /// exec, `launch --manifest M --account A -- ARGS…`, is read directly:
    /// clap builds its whole command tree (every subcommand and its help) on
    /// each parse, a third of a millisecond of every launch. Anything else,
    /// and that form with `CLAUDE_ACCOUNTS_ISOLATION` or
    /// `CLAUDE_ACCOUNTS_PROFILE` set, is parsed by clap; both give the same
    /// [`Cli`] (tested).
    pub fn from_env() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::wrapper_form(&args, &|name| std::env::var_os(name))
            .unwrap_or_else(|| Cli::parse_from(args))
    }

    /// The wrappers' `launch` form (see [`Cli::from_env`]), or `None`.
    fn wrapper_form(args: &[OsString], env: &dyn Fn(&str) -> Option<OsString>) -> Option<Cli> {
        if ["CLAUDE_ACCOUNTS_ISOLATION", "CLAUDE_ACCOUNTS_PROFILE"]
            .iter()
            .any(|name| env(name).is_some())
        {
            return None;
        }
        let [
            _,
            launch,
            manifest_flag,
            manifest,
            account_flag,
            account,
            dashes,
            rest @ ..,
        ] = args
        else {
            return None;
        };
        let value = |v: &OsString| !v.as_encoded_bytes().starts_with(b"-");
        let form = launch == "launch"
            && manifest_flag == "--manifest"
            && account_flag == "--account"
            && dashes == "--"
            && value(manifest)
            && value(account);
        if !form {
            return None;
        }
        Some(Cli {
            command: Command::Launch {
                manifest: PathBuf::from(manifest),
                account: account.to_str()?.to_string(),
                session: SessionArgs {
                    isolation: None,
                    keep_session: false,
                    profile: None,
                    args: rest.to_vec(),
                },
            },
        })
    }
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
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Run a Claude Code session of the account the current directory gets
    /// (what the `claude` dispatcher runs): `CLAUDE_ACCOUNT` if set, else the
    /// account of the longest `accountFor` directory containing it, else
    /// `defaultAccount`. Then exactly what `launch --account <it>` runs;
    /// everything after `--` reaches claude untouched.
    ///
    /// Example: `claude-accounts dispatch --manifest M -- -p "hello"`
    Dispatch {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        #[command(flatten)]
        session: SessionArgs,
    },
    /// Print the settings Claude Code would use in the current directory: for
    /// each key its value, the file it comes from and the files it overrode;
    /// keys Claude ignores where they are set; permission rules a deny (or
    /// ask) rule covers; and the MCP servers a session here gets, from which
    /// scope, and which need approval.
    ///
    /// Examples: `claude-explain model`, `claude-explain permissions`,
    /// `claude-explain --account pro --json`.
    ///
    /// The managed directory is /etc/claude-code (Linux) or
    /// /Library/Application Support/ClaudeCode (macOS);
    /// CLAUDE_ACCOUNTS_MANAGED_DIR replaces it (for tests).
    Explain {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        /// The account (default: the one the `claude` dispatcher picks here,
        /// or the only one).
        #[arg(long)]
        account: Option<String>,
        /// A settings file (or JSON text) passed to claude with `--settings`.
        #[arg(long, value_name = "FILE|JSON")]
        settings: Option<PathBuf>,
        /// A profile of the account (what `CLAUDE_ACCOUNTS_PROFILE=P
        /// claude<name>` and `claude-session start --profile P` pass).
        #[arg(long, env = "CLAUDE_ACCOUNTS_PROFILE", conflicts_with = "settings")]
        profile: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Only these keys (and the keys under them), e.g. `model`,
        /// `permissions.allow`, `mcpServers`.
        keys: Vec<String>,
    },
    /// Named Claude Code sessions of the current project (what
    /// `claude-session` runs): start, resume (also with another account),
    /// fork, incognito, list, show, delete.
    #[command(after_help = SESSION_EXAMPLES)]
    Session {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        #[command(subcommand)]
        action: SessionCommand,
    },
    /// The SessionStart hook of named sessions: records the new session id
    /// after /clear. Installed by `session` through --settings; reads the
    /// hook's JSON on stdin.
    #[command(hide = true)]
    SessionHook {
        #[arg(long)]
        state_home: PathBuf,
        #[arg(long)]
        project: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        account: String,
    },
    /// Show every account, its runtime dirs, running sessions, pending
    /// changes and drift.
    Status {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        /// Only this account.
        #[arg(value_name = "ACCOUNT")]
        account: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// End a running session cleanly (SIGTERM, wait, report).
    Close {
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: PathBuf,
        #[arg(value_name = "ACCOUNT")]
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
        #[arg(value_name = "ACCOUNT")]
        account: Option<String>,
    },
    /// Print shell completions (bash, zsh, fish) for claude-accounts and
    /// claude-status, claude-close, claude-session, claude-explain; they
    /// complete account, session and profile names with `names`.
    ///
    /// Example: `claude-accounts completions bash > ~/.local/share/bash-completion/completions/claude-accounts`
    Completions { shell: clap_complete::Shell },
    /// Print names for shell completion, one per line: the accounts of the
    /// manifest, the session names of the current directory's project (what
    /// `claude-session list` shows; no manifest needed), or the profiles of
    /// an account (of every account without --account). Completion scripts
    /// call it; prints all names or nothing, and an error when the manifest
    /// or the names store cannot be read.
    Names {
        what: crate::completions::Names,
        #[arg(long, env = "CLAUDE_ACCOUNTS_MANIFEST")]
        manifest: Option<PathBuf>,
        /// For `profiles`: only this account's.
        #[arg(long)]
        account: Option<String>,
    },
}

const SESSION_EXAMPLES: &str = "\
Names belong to the project of the current directory (the main checkout of a
git repository, so every worktree sees them; the directory itself outside git)
and are kept in the helper's state dir, never in the repository.

Examples:
  claude-session start fix-login                 start a session named fix-login
  claude-session start spike --profile fast -- --model haiku
                                                 with the profile `fast`; --model wins over it
  claude-session resume fix-login                continue it (with the account that last ran it)
  claude-session resume fix-login --account pro  continue it with account pro (its transcript is copied)
  claude-session fork fix-login try-oauth        a new session carrying fix-login's turns
  claude-session incognito -- -p 'one question'  a session whose transcript is deleted when it ends
  claude-session list                            the names of this project
  claude-session show fix-login                  its ids, accounts and transcripts
  claude-session delete fix-login                the name and every transcript of it, in every account

Profiles also work without a name: CLAUDE_ACCOUNTS_PROFILE=fast claudemax";

/// A `claude-session` command.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Start a new session called NAME.
    Start {
        /// The new name: letters, digits, '.', '-', '_' (e.g. fix-login).
        name: String,
        /// The account to run it with (needed when the manifest has several).
        #[arg(long)]
        account: Option<String>,
        /// A profile of the account (settings.json keys passed with
        /// --settings).
        #[arg(long)]
        profile: Option<String>,
        /// Arguments for claude.
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Continue the session called NAME, with its account or another one
    /// (the transcript is then copied, never moved).
    Resume {
        /// A name of this project (see `list`).
        name: String,
        /// Continue with this account (default: the one that last ran it).
        #[arg(long)]
        account: Option<String>,
        /// Use this profile (default: the one it ran with, if the account has it).
        #[arg(long)]
        profile: Option<String>,
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Start NAME as a new session carrying the turns of PARENT.
    Fork {
        /// The session to fork (a name of this project).
        parent: String,
        /// The new name.
        name: String,
        /// The account to run it with (default: PARENT's).
        #[arg(long)]
        account: Option<String>,
        /// Use this profile (default: PARENT's, if the account has it).
        #[arg(long)]
        profile: Option<String>,
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Run a session whose transcripts are deleted when it ends.
    Incognito {
        /// The account to run it with (needed when the manifest has several).
        #[arg(long)]
        account: Option<String>,
        /// A profile of the account.
        #[arg(long)]
        profile: Option<String>,
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// The named sessions of this project.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Everything about one name: ids, accounts, transcripts on disk.
    Show {
        /// A name of this project.
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete NAME and every transcript of every id it had, in every account.
    Delete {
        /// A name of this project.
        name: String,
    },
}

impl From<SessionCommand> for crate::session::commands::Action {
    fn from(c: SessionCommand) -> Self {
        use crate::session::commands::Action;
        match c {
            SessionCommand::Start {
                name,
                account,
                profile,
                args,
            } => Action::Start {
                name,
                account,
                profile,
                args,
            },
            SessionCommand::Resume {
                name,
                account,
                profile,
                args,
            } => Action::Resume {
                name,
                account,
                profile,
                args,
            },
            SessionCommand::Fork {
                parent,
                name,
                account,
                profile,
                args,
            } => Action::Fork {
                parent,
                name,
                account,
                profile,
                args,
            },
            SessionCommand::Incognito {
                account,
                profile,
                args,
            } => Action::Incognito {
                account,
                profile,
                args,
            },
            SessionCommand::List { json } => Action::List { json },
            SessionCommand::Show { name, json } => Action::Show { name, json },
            SessionCommand::Delete { name } => Action::Delete { name },
        }
    }
}

/// How `launch` and `dispatch` run the session.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// Override the account's isolation for this session.
    #[arg(long, env = "CLAUDE_ACCOUNTS_ISOLATION")]
    isolation: Option<Isolation>,
    /// Keep a per-session config dir after the session ends.
    #[arg(long)]
    keep_session: bool,
    /// Run with this profile of the account (its settings.json keys,
    /// passed with --settings; flags in the arguments win over it).
    #[arg(long, env = "CLAUDE_ACCOUNTS_PROFILE")]
    profile: Option<String>,
    /// Arguments for claude.
    #[arg(last = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
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
            for warning in manifest::warnings(&m) {
                eprintln!("claude-accounts: warning: {warning}");
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
            session,
        } => {
            let m = Manifest::load(&manifest)?;
            launch(&m, &account, session)
        }
        Command::Dispatch { manifest, session } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let cwd = std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("finding the current directory: {e}"))?;
            let from_env = std::env::var(crate::dispatch::ACCOUNT_VAR).ok();
            let choice = crate::dispatch::choose(&m, &home, &cwd, from_env.as_deref())?;
            launch(&m, &choice.account, session)
        }
        Command::Explain {
            manifest,
            account,
            settings,
            profile,
            json,
            keys,
        } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let cwd = std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("finding the current directory: {e}"))?;
            let opts = crate::explain::Options {
                account,
                settings,
                profile: profile.filter(|p| !p.is_empty()),
                keys,
            };
            let report = crate::explain::explain(&m, &home, &cwd, &opts)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                crate::explain::print(&report, &mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Session { manifest, action } => {
            let m = Manifest::load(&manifest)?;
            let mut out = std::io::stdout().lock();
            crate::session::commands::run(&m, action.into(), &mut out)
        }
        Command::SessionHook {
            state_home,
            project,
            name,
            account,
        } => {
            crate::session::hook::run(&crate::session::hook::Target {
                state_home,
                project,
                name,
                account,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status {
            manifest,
            account,
            json,
        } => {
            let m = Manifest::load(&manifest)?;
            let home = manifest::home_dir()?;
            let cwd = std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("finding the current directory: {e}"))?;
            let from_env = std::env::var(crate::dispatch::ACCOUNT_VAR).ok();
            let here = crate::status::here(&m, &home, &cwd, from_env.as_deref());
            let status = crate::status::collect(&m, &home, account.as_deref(), here)?;
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
            let cmd = <Cli as clap::CommandFactory>::command();
            print!("{}", crate::completions::script(shell, cmd));
            Ok(ExitCode::SUCCESS)
        }
        Command::Names {
            what,
            manifest,
            account,
        } => {
            let mut out = std::io::stdout().lock();
            crate::completions::print_names(
                what,
                manifest.as_deref(),
                account.as_deref(),
                &mut out,
            )?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `launch` runs (and `dispatch`, once it chose the account): the
/// session with the account's profile `profile`, if any.
fn launch(m: &Manifest, account: &str, session: SessionArgs) -> Result<ExitCode> {
    let SessionArgs {
        isolation,
        keep_session,
        profile,
        args,
    } = session;
    let mut opts = crate::launch::Options {
        isolation,
        keep_session,
        ..Default::default()
    };
    let (args, _merged) = match profile.filter(|p| !p.is_empty()) {
        None => (args, None),
        Some(p) => {
            let home = manifest::home_dir()?;
            let dir = crate::registry::state_home(&home)
                .join("claude-accounts")
                .join("settings");
            let s =
                crate::session::profile::for_launch(account, m.account(account)?, &p, args, &dir)?;
            opts.leading_args = s.leading;
            (s.args, s.temp)
        }
    };
    crate::launch::launch(m, account, args, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// What clap makes of `args`, when the environment sets none of the
    /// launch's variables.
    fn by_clap(args: &[OsString]) -> Option<String> {
        for name in [
            "CLAUDE_ACCOUNTS_ISOLATION",
            "CLAUDE_ACCOUNTS_PROFILE",
            "CLAUDE_ACCOUNTS_MANIFEST",
        ] {
            assert!(
                std::env::var_os(name).is_none(),
                "unset {name} to run this test"
            );
        }
        Cli::try_parse_from(args).ok().map(|c| format!("{c:?}"))
    }

    fn fast(args: &[OsString]) -> Option<String> {
        Cli::wrapper_form(args, &|_| None).map(|c| format!("{c:?}"))
    }

    #[test]
    fn the_wrappers_form_is_read_as_clap_reads_it_and_nothing_else_is() {
        let wrapper = os(&[
            "claude-accounts",
            "launch",
            "--manifest",
            "/nix/store/x-manifest.json",
            "--account",
            "max",
            "--",
            "-p",
            "--resume",
            "--",
            "hello",
        ]);
        assert!(fast(&wrapper).is_some());
        assert_eq!(fast(&wrapper), by_clap(&wrapper));
        // Left to clap: other flags, other orders, a missing `--`, values
        // that look like flags, and the variables the launch reads.
        for other in [
            os(&["c", "launch", "--account", "max", "--manifest", "/m", "--"]),
            os(&["c", "launch", "--manifest", "/m", "--account", "max"]),
            os(&["c", "launch", "--manifest", "/m", "--account", "max", "x"]),
            os(&["c", "launch", "--manifest", "-m", "--account", "max", "--"]),
            os(&["c", "launch", "--manifest", "/m", "--account", "--", "--"]),
            os(&["c", "status", "--manifest", "/m", "--account", "max", "--"]),
            os(&[
                "c",
                "launch",
                "--manifest=/m",
                "--account",
                "max",
                "--",
                "a",
            ]),
        ] {
            assert_eq!(fast(&other), None, "{other:?}");
        }
        for name in ["CLAUDE_ACCOUNTS_ISOLATION", "CLAUDE_ACCOUNTS_PROFILE"] {
            let env = |n: &str| (n == name).then(|| OsString::from("account"));
            assert!(Cli::wrapper_form(&wrapper, &env).is_none(), "{name}");
        }
    }

    proptest! {
        #[test]
        fn any_arguments_after_the_wrappers_form_reach_claude_as_clap_passes_them(
            manifest in "[^-\u{0}][^\u{0}]{0,20}",
            account in "[^-\u{0}][^\u{0}]{0,10}",
            rest in prop::collection::vec(
                prop_oneof!["[^\u{0}]{0,6}", Just("--".to_string()), Just("-p".to_string())],
                0..6,
            ),
        ) {
            let mut args = os(&["claude-accounts", "launch", "--manifest", &manifest, "--account", &account, "--"]);
            args.extend(rest.iter().map(OsString::from));
            prop_assert!(fast(&args).is_some());
            prop_assert_eq!(fast(&args), by_clap(&args));
        }
    }
}
