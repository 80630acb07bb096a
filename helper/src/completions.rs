//! Shell completions for `claude-accounts` (bash, zsh, fish) that complete
//! account names from the manifest.
//!
//! The static part (subcommands and flags) is clap_complete's. Account names
//! change with every Home Manager generation, so the scripts ask the helper
//! when completing: `claude-accounts names accounts [--manifest M]` prints
//! them one per line (the manifest from the command line being completed,
//! else `CLAUDE_ACCOUNTS_MANIFEST`). Wrappers with a fixed manifest
//! (`claude-status`, `claude-close`, ...) can call the same subcommand.

use clap::Command;
use clap_complete::Shell;

/// What `names` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Names {
    /// The accounts of the manifest.
    Accounts,
}

/// Subcommands whose optional or required positional argument is an account.
const ACCOUNT_POSITIONAL: &[&str] = &["status", "close", "diff"];

/// The completion script for `shell`.
pub fn script(shell: Shell, mut cmd: Command) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "claude-accounts", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    match shell {
        Shell::Bash => bash(&generated),
        Shell::Zsh => zsh(&generated),
        Shell::Fish => fish(&generated),
        _ => generated,
    }
}

fn bash(generated: &str) -> String {
    // clap_complete 4.6 names a subcommand's case `claude__subcmd__accounts__…`
    // but computes `claude__accounts__…` for a binary whose name holds a
    // '-', so no subcommand's options were ever completed.
    let generated = generated.replace("claude__subcmd__accounts", "claude__accounts");
    let positional = ACCOUNT_POSITIONAL.join("|");
    format!(
        r#"{generated}
# Account names, asked from the helper at completion time.
_claude_accounts_names() {{
    local manifest= i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${{COMP_WORDS[i]}} in
            --manifest) manifest=${{COMP_WORDS[i+1]}} ;;
            --manifest=*) manifest=${{COMP_WORDS[i]#--manifest=}} ;;
        esac
    done
    claude-accounts names "$1" ${{manifest:+--manifest "$manifest"}} 2>/dev/null
}}
_claude_accounts_complete() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=
    ((COMP_CWORD > 0)) && prev=${{COMP_WORDS[COMP_CWORD-1]}}
    if [[ $prev == --account ]]; then
        COMPREPLY=($(compgen -W "$(_claude_accounts_names accounts)" -- "$cur"))
        return 0
    fi
    _claude__accounts "$@"
    case ${{COMP_WORDS[1]}} in
        {positional})
            case $cur,$prev in
                -*,* | *,--manifest | *,--worktree | *,--timeout) ;;
                *) COMPREPLY+=($(compgen -W "$(_claude_accounts_names accounts)" -- "$cur")) ;;
            esac
            ;;
    esac
}}
complete -F _claude_accounts_complete -o bashdefault -o default claude-accounts
"#
    )
}

fn zsh(generated: &str) -> String {
    // Account options are named ACCOUNT (see cli.rs), account positionals
    // `account`; clap leaves their values to `_default`.
    let mut out = String::new();
    for line in generated.lines() {
        let trimmed = line.trim_start();
        let is_account = line.contains(":ACCOUNT:")
            || trimmed.starts_with("':account")
            || trimmed.starts_with("'::account");
        match line.rfind(":_default") {
            Some(at) if is_account => {
                out.push_str(&line[..at]);
                out.push_str(":_claude_accounts_accounts");
                out.push_str(&line[at + ":_default".len()..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    let helper = r#"
(( $+functions[_claude_accounts_accounts] )) ||
_claude_accounts_accounts() {
    local -a names manifest
    local i=${words[(I)--manifest]}
    (( i > 0 )) && manifest=(--manifest "${words[i+1]}")
    names=(${(f)"$(claude-accounts names accounts $manifest 2>/dev/null)"})
    _describe -t accounts 'account' names
}
"#;
    // The helper must exist before compdef runs the main function.
    match out.find("\nif [ \"$funcstack[1]\" = \"_claude-accounts\" ]") {
        Some(at) => {
            out.insert_str(at, helper);
            out
        }
        None => out + helper,
    }
}

fn fish(generated: &str) -> String {
    let mut out = String::new();
    for line in generated.lines() {
        out.push_str(line);
        if line.contains(" -l account ") && line.contains(" -r") {
            out.push_str(" -f -a \"(__fish_claude_accounts_names accounts)\"");
        }
        out.push('\n');
    }
    out.push_str(
        r#"
# Account names, asked from the helper at completion time.
function __fish_claude_accounts_names
    set -l tokens (commandline -opc)
    set -l manifest
    set -l i (contains -i -- --manifest $tokens)
    and set manifest --manifest $tokens[(math $i + 1)]
    claude-accounts names $argv[1] $manifest 2>/dev/null
end
"#,
    );
    for sub in ACCOUNT_POSITIONAL {
        out.push_str(&format!(
            "complete -c claude-accounts -n \"__fish_claude_accounts_using_subcommand {sub}; and not string match -q -- '-*' (commandline -ct)\" -f -a \"(__fish_claude_accounts_names accounts)\"\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(shell: Shell) -> String {
        script(shell, <crate::cli::Cli as clap::CommandFactory>::command())
    }

    /// Every account argument of every subcommand asks the helper for names.
    #[test]
    fn zsh_and_fish_complete_every_account_argument() {
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
        assert!(zsh.contains("_claude_accounts_accounts() {"));
        let fish = of(Shell::Fish);
        assert_eq!(
            fish.matches("(__fish_claude_accounts_names accounts)")
                .count(),
            account_lines.len(),
            "{fish}"
        );
        assert!(fish.contains("function __fish_claude_accounts_names"));
    }
}
