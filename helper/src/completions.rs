//! Shell completions (bash, zsh, fish) for `claude-accounts` and the
//! commands the Home Manager module installs that forward to it
//! (`claude-status`, `claude-close`, `claude-session`, `claude-explain`),
//! completing account, session and profile names.
//!
//! The static part (subcommands and flags) is clap_complete's. Names change
//! with every Home Manager generation and every `claude-session start`, so
//! the scripts ask the helper when completing: `claude-accounts names
//! accounts|sessions|profiles` prints them one per line (the manifest from
//! the command line being completed, else `CLAUDE_ACCOUNTS_MANIFEST`, which
//! the module sets). Every script sends the helper's stderr to /dev/null
//! and completes nothing when it fails.
//!
//! One script per shell covers every command: a forwarding command
//! `claude-X ARGS` completes as `claude-accounts X ARGS`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use clap::Command;
use clap_complete::Shell;

use crate::manifest::Manifest;

/// What `names` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Names {
    /// The accounts of the manifest.
    Accounts,
    /// The session names of the current directory's project (what
    /// `claude-session list` shows).
    Sessions,
    /// The profiles of `--account`, or of every account.
    Profiles,
}

/// The commands the Home Manager module installs that run `claude-accounts
/// <subcommand> --manifest M "$@"` (`forwardCommands` in
/// modules/home-manager/default.nix), with that subcommand.
pub const FORWARDS: &[(&str, &str)] = &[
    ("claude-status", "status"),
    ("claude-close", "close"),
    ("claude-session", "session"),
    ("claude-explain", "explain"),
];

/// Subcommands whose first positional argument is an account.
const ACCOUNT_POSITIONAL: &[&str] = &["status", "close", "diff"];

/// The `session` subcommands whose first positional argument is an existing
/// session name, with that argument's id (`fork`'s second is a new name).
const SESSION_POSITIONAL: &[(&str, &str)] = &[
    ("resume", "name"),
    ("fork", "parent"),
    ("show", "name"),
    ("delete", "name"),
];

/// Prints the names `what` lists, one per line, on `out`: all of them or
/// nothing (an error: the manifest or the names store cannot be read).
/// Session names are exactly the keys of the project's names store that are
/// valid session names (the helper writes no other; a hand-edited store
/// cannot put a space or a glob into a command line).
pub fn print_names(
    what: Names,
    manifest: Option<&Path>,
    account: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let load = || match manifest {
        Some(path) => Manifest::load(path),
        None => bail!(
            "no manifest; pass --manifest M or set CLAUDE_ACCOUNTS_MANIFEST (the Home Manager module sets it)"
        ),
    };
    let names: Vec<String> = match what {
        Names::Accounts => load()?.accounts.keys().cloned().collect(),
        Names::Profiles => {
            let m = load()?;
            let all: BTreeSet<String> = match account {
                Some(a) => m.account(a)?.profiles.keys().cloned().collect(),
                None => m
                    .accounts
                    .values()
                    .flat_map(|a| a.profiles.keys().cloned())
                    .collect(),
            };
            all.into_iter().collect()
        }
        Names::Sessions => crate::session::commands::store_here()?
            .read()?
            .sessions
            .into_keys()
            .filter(|n| crate::session::names::check_name(n).is_ok())
            .collect(),
    };
    let mut text = String::new();
    for name in names {
        text.push_str(&name);
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The completion script for `shell`.
pub fn script(shell: Shell, mut cmd: Command) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "claude-accounts", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    let value_options = value_options(&mut cmd);
    match shell {
        Shell::Bash => bash(&generated, &value_options),
        Shell::Zsh => zsh(&generated),
        Shell::Fish => fish(&generated, &value_options),
        _ => generated,
    }
}

/// Every option (of any subcommand) that takes a value: a positional never
/// follows one directly.
fn value_options(cmd: &mut Command) -> Vec<String> {
    fn collect(cmd: &Command, set: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            set.extend(arg.get_long().map(|l| format!("--{l}")));
            set.extend(arg.get_short().map(|s| format!("-{s}")));
        }
        for sub in cmd.get_subcommands() {
            collect(sub, set);
        }
    }
    cmd.build();
    let mut set = BTreeSet::new();
    collect(cmd, &mut set);
    set.into_iter().collect()
}

fn session_subcommands() -> Vec<&'static str> {
    SESSION_POSITIONAL.iter().map(|(sub, _)| *sub).collect()
}

fn bash(generated: &str, value_options: &[String]) -> String {
    // clap_complete 4.6 names a subcommand's case `claude__subcmd__accounts__…`
    // but computes `claude__accounts__…` for a binary whose name holds a
    // '-', so no subcommand's options were ever completed.
    let generated = generated.replace("claude__subcmd__accounts", "claude__accounts");
    let accounts = ACCOUNT_POSITIONAL.join(" | ");
    let sessions: Vec<String> = session_subcommands()
        .iter()
        .map(|s| format!("\"session {s}\""))
        .collect();
    let sessions = sessions.join(" | ");
    let value_options = value_options.join(" | ");
    let forwards: String = FORWARDS
        .iter()
        .map(|(command, sub)| format!("        {command}) sub={sub} ;;\n"))
        .collect();
    let commands: Vec<&str> = FORWARDS.iter().map(|(c, _)| *c).collect();
    let commands = commands.join(" ");
    format!(
        r#"{generated}
# Names asked from the helper at completion time: `names accounts`,
# `names sessions`, `names profiles` (with the --manifest and --account of
# the command line).
_claude_accounts_names() {{
    local manifest= account= i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --manifest) manifest=${{COMP_WORDS[i+1]}} ;;
            --manifest=*) manifest=${{COMP_WORDS[i]#--manifest=}} ;;
            --account) account=${{COMP_WORDS[i+1]}} ;;
        esac
    done
    [[ $1 == profiles ]] || account=
    claude-accounts names "$1" ${{manifest:+--manifest "$manifest"}} ${{account:+--account "$account"}} 2>/dev/null
}}
# The positional words before the one being completed, space-separated
# (options and their values skipped); `--` once claude's arguments began.
_claude_accounts_positionals() {{
    local i w pos=
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        case $w in
            --) echo --; return ;;
            {value_options}) ((i++)) ;;
            -*) ;;
            *) pos+="${{pos:+ }}$w" ;;
        esac
    done
    echo "$pos"
}}
_claude_accounts_complete() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
    ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
    case $prev in
        --account)
            COMPREPLY=($(compgen -W "$(_claude_accounts_names accounts)" -- "$cur"))
            return 0
            ;;
        --profile)
            COMPREPLY=($(compgen -W "$(_claude_accounts_names profiles)" -- "$cur"))
            return 0
            ;;
    esac
    _claude__accounts "$@"
    [[ $cur == -* ]] && return 0
    case $(_claude_accounts_positionals) in
        {accounts})
            COMPREPLY+=($(compgen -W "$(_claude_accounts_names accounts)" -- "$cur"))
            ;;
        {sessions})
            # Only names: no options, no file names when none matches.
            compopt +o default +o bashdefault 2>/dev/null
            COMPREPLY=($(compgen -W "$(_claude_accounts_names sessions)" -- "$cur"))
            ;;
    esac
    return 0
}}
# `claude-X ARGS` completes as `claude-accounts X ARGS`.
_claude_accounts_forward() {{
    local sub
    case ${{1##*/}} in
{forwards}        *) return 1 ;;
    esac
    local -a COMP_WORDS=(claude-accounts "$sub" "${{COMP_WORDS[@]:1}}")
    local COMP_CWORD=$((COMP_CWORD + 1))
    _claude_accounts_complete claude-accounts "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
}}
complete -F _claude_accounts_complete -o bashdefault -o default claude-accounts
complete -F _claude_accounts_forward -o bashdefault -o default {commands}
"#
    )
}

fn zsh(generated: &str) -> String {
    // Account options are named ACCOUNT (see cli.rs), account positionals
    // `account`, profile options PROFILE; clap leaves their values to
    // `_default`. Session positionals are found by the subcommand whose
    // case they are in.
    let mut out = String::new();
    let mut case = "";
    for line in generated.lines() {
        let trimmed = line.trim_start();
        if let Some(label) = trimmed
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .filter(|l| !l.contains(' '))
        {
            case = label;
        }
        let is_account = line.contains(":ACCOUNT:")
            || trimmed.starts_with("':account")
            || trimmed.starts_with("'::account");
        let is_session = SESSION_POSITIONAL.iter().any(|(sub, id)| {
            case == *sub
                && (trimmed.starts_with(&format!("':{id} -- "))
                    || trimmed.starts_with(&format!("':{id}:")))
        });
        let action = if is_account {
            Some("_claude_accounts_accounts")
        } else if is_session {
            Some("_claude_accounts_sessions")
        } else if line.contains(":PROFILE:") {
            Some("_claude_accounts_profiles")
        } else {
            None
        };
        match (line.rfind(":_default"), action) {
            (Some(at), Some(action)) => {
                out.push_str(&line[..at]);
                out.push(':');
                out.push_str(action);
                out.push_str(&line[at + ":_default".len()..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    let commands: Vec<&str> = FORWARDS.iter().map(|(c, _)| *c).collect();
    let commands = commands.join(" ");
    let out = out.replacen(
        "#compdef claude-accounts\n",
        &format!("#compdef claude-accounts {commands}\n"),
        1,
    );
    let forwards: String = FORWARDS
        .iter()
        .map(|(command, sub)| format!("        {command}) sub={sub} ;;\n"))
        .collect();
    let helpers = format!(
        r#"
# Names asked from the helper at completion time, with the --manifest (and,
# for profiles, the --account) of the command line.
(( $+functions[_claude_accounts_names] )) ||
_claude_accounts_names() {{
    local -a names args
    local i=${{words[(I)--manifest]}}
    (( i > 0 )) && args=(--manifest "${{words[i+1]}}")
    i=${{words[(I)--account]}}
    [[ $1 == profiles ]] && (( i > 0 )) && args+=(--account "${{words[i+1]}}")
    names=(${{(f)"$(claude-accounts names $1 $args 2>/dev/null)"}})
    _describe -t $1 $2 names
}}
(( $+functions[_claude_accounts_accounts] )) ||
_claude_accounts_accounts() {{ _claude_accounts_names accounts account }}
(( $+functions[_claude_accounts_sessions] )) ||
_claude_accounts_sessions() {{ _claude_accounts_names sessions 'session name' }}
(( $+functions[_claude_accounts_profiles] )) ||
_claude_accounts_profiles() {{ _claude_accounts_names profiles profile }}
# `claude-X ARGS` completes as `claude-accounts X ARGS`.
(( $+functions[_claude_accounts_forward] )) ||
_claude_accounts_forward() {{
    local sub
    case $service in
{forwards}        *) _claude-accounts "$@"; return ;;
    esac
    words=(claude-accounts $sub "${{(@)words[2,-1]}}")
    (( CURRENT++ ))
    _claude-accounts "$@"
}}

# Every command, also after this file was autoloaded as a completion
# function (`_claude-accounts`, or another name given to this script)
# that redefined itself above.
compdef _claude_accounts_forward claude-accounts {commands}
if [[ $funcstack[1] == _claude-accounts* ]]; then
    _claude_accounts_forward "$@"
fi
"#
    );
    // The helpers replace clap's tail, which registers claude-accounts only.
    match out.find("\nif [ \"$funcstack[1]\" = \"_claude-accounts\" ]") {
        Some(at) => out[..at].to_string() + &helpers,
        None => out + &helpers,
    }
}

fn fish(generated: &str, value_options: &[String]) -> String {
    let mut out = String::new();
    for line in generated.lines() {
        out.push_str(line);
        if line.contains(" -l account ") && line.contains(" -r") {
            out.push_str(" -f -a \"(__fish_claude_accounts_names accounts)\"");
        } else if line.contains(" -l profile ") && line.contains(" -r") {
            out.push_str(" -f -a \"(__fish_claude_accounts_names profiles)\"");
        }
        out.push('\n');
    }
    let value_options = value_options.join(" ");
    out.push_str(&format!(
        r#"
# Names asked from the helper at completion time, with the --manifest (and,
# for profiles, the --account) of the command line.
function __fish_claude_accounts_names
    set -l tokens (commandline -opc)
    set -l args
    set -l i (contains -i -- --manifest $tokens)
    and set -a args --manifest $tokens[(math $i + 1)]
    set i (contains -i -- --account $tokens)
    and test $argv[1] = profiles
    and set -a args --account $tokens[(math $i + 1)]
    claude-accounts names $argv[1] $args 2>/dev/null
end
# The positional words before the one being completed, space-separated
# (options and their values skipped); `--` once claude's arguments began.
function __fish_claude_accounts_positionals
    set -l pos
    set -l skip 0
    for t in (commandline -opc)[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case --
                echo --
                return
            case {value_options}
                set skip 1
            case '-*'
            case '*'
                set -a pos $t
        end
    end
    string join ' ' -- $pos
end
"#
    ));
    // Names of `kind` where a positional is one of `positions`.
    let names_at = |positions: Vec<String>, kind: &str| {
        format!(
            "complete -c claude-accounts -n \"contains -- (__fish_claude_accounts_positionals) {}; and not string match -q -- '-*' (commandline -ct)\" -f -a \"(__fish_claude_accounts_names {kind})\"\n",
            positions.join(" ")
        )
    };
    out.push_str(&names_at(
        ACCOUNT_POSITIONAL
            .iter()
            .map(|s| format!("'{s}'"))
            .collect(),
        "accounts",
    ));
    out.push_str(&names_at(
        session_subcommands()
            .iter()
            .map(|s| format!("'session {s}'"))
            .collect(),
        "sessions",
    ));
    out.push_str("# `claude-X ARGS` completes as `claude-accounts X ARGS`.\n");
    for (command, sub) in FORWARDS {
        out.push_str(&format!(
            "complete -c {command} -w 'claude-accounts {sub}'\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command() -> Command {
        <crate::cli::Cli as clap::CommandFactory>::command()
    }

    fn of(shell: Shell) -> String {
        script(shell, command())
    }

    /// Every account and profile option and account positional of every
    /// subcommand asks the helper for names, in zsh and fish.
    #[test]
    fn zsh_and_fish_complete_every_account_and_profile_argument() {
        let zsh = of(Shell::Zsh);
        let account_lines: Vec<&str> = zsh
            .lines()
            .filter(|l| {
                l.contains(":ACCOUNT:")
                    || l.trim_start().contains("account:") && l.trim_start().starts_with("':")
            })
            .collect();
        // launch, explain, the session commands: --account; status, close,
        // diff: positional.
        assert!(account_lines.len() >= 5, "{account_lines:#?}");
        assert!(
            account_lines
                .iter()
                .all(|l| l.contains(":_claude_accounts_accounts'")),
            "{account_lines:#?}"
        );
        let profile_lines: Vec<&str> = zsh.lines().filter(|l| l.contains(":PROFILE:")).collect();
        // launch, dispatch, explain, start, resume, fork, incognito.
        assert_eq!(profile_lines.len(), 7, "{profile_lines:#?}");
        assert!(
            profile_lines
                .iter()
                .all(|l| l.contains(":PROFILE:_claude_accounts_profiles'")),
            "{profile_lines:#?}"
        );
        assert!(zsh.contains("_claude_accounts_accounts() {"));
        let fish = of(Shell::Fish);
        let account_options = account_lines.len() - ACCOUNT_POSITIONAL.len();
        // One line for the positionals of status, close and diff.
        assert_eq!(
            fish.matches("(__fish_claude_accounts_names accounts)")
                .count(),
            account_options + 1,
            "{fish}"
        );
        assert_eq!(
            fish.matches("(__fish_claude_accounts_names profiles)")
                .count(),
            profile_lines.len(),
            "{fish}"
        );
        assert!(fish.contains("function __fish_claude_accounts_names"));
    }

    /// The arguments the scripts complete with session names exist, are the
    /// first positional of their subcommand, and only they are completed so.
    #[test]
    fn session_names_complete_the_first_positional_of_resume_fork_show_delete() {
        let cmd = command();
        let session = cmd
            .find_subcommand("session")
            .expect("a session subcommand");
        for (sub, id) in SESSION_POSITIONAL {
            let sub = session.find_subcommand(sub).expect(sub);
            let first = sub.get_positionals().next().expect("a positional");
            assert_eq!(first.get_id().as_str(), *id, "{}", sub.get_name());
        }
        let zsh = of(Shell::Zsh);
        let lines: Vec<&str> = zsh
            .lines()
            .filter(|l| l.contains("_claude_accounts_sessions'"))
            .map(str::trim)
            .collect();
        assert_eq!(lines.len(), SESSION_POSITIONAL.len(), "{lines:#?}");
        assert!(lines[1].starts_with("':parent -- "), "{lines:#?}");
        assert!(
            !zsh.contains("':name -- The new name:_claude_accounts_sessions'"),
            "{zsh}"
        );
    }

    /// Every forwarding command forwards to a subcommand the helper has, and
    /// every script registers it.
    #[test]
    fn every_script_registers_the_forwarding_commands() {
        let cmd = command();
        let (bash, zsh, fish) = (of(Shell::Bash), of(Shell::Zsh), of(Shell::Fish));
        let registered = bash
            .lines()
            .find(|l| l.starts_with("complete -F _claude_accounts_forward "))
            .expect("a complete line for the forwarding commands");
        let header = zsh.lines().next().unwrap();
        for (command, sub) in FORWARDS {
            assert!(cmd.find_subcommand(sub).is_some(), "{sub}");
            assert!(registered.split(' ').any(|w| w == *command), "{registered}");
            assert!(header.split(' ').any(|w| w == *command), "{header}");
            assert!(
                fish.contains(&format!(
                    "complete -c {command} -w 'claude-accounts {sub}'\n"
                )),
                "{command}"
            );
        }
    }

    /// The options the positional walks skip with their value are exactly
    /// the options that take one.
    #[test]
    fn value_options_are_those_that_take_a_value() {
        let got = value_options(&mut command());
        for option in ["--manifest", "--account", "--profile", "--timeout"] {
            assert!(got.contains(&option.to_string()), "{got:?}");
        }
        for flag in ["--json", "--all", "--help", "--force", "-n"] {
            assert!(!got.contains(&flag.to_string()), "{got:?}");
        }
    }
}
