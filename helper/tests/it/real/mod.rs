//! The real-Claude tier: behaviour that depends on how Claude Code reads,
//! writes and prompts, shown with the real CLI (pinned in
//! [`install::CLAUDE_VERSION`], installed with npm and cached under the
//! target dir) running offline against [`api::ApiStandIn`], driven through
//! `claude-accounts launch` as a user would. See docs/testing.md.

mod api;
mod baseline;
mod claude_worktrees;
mod explain;
mod harness;
mod hostile;
mod install;
mod launcher;
mod lsp;
mod modes;
mod plugins;
mod sessions;
mod tmux;
mod worktrees;
