//! claude-accounts: makes a Home Manager generation's declared Claude Code
//! accounts hold on disk, at activation and at every launch, without losing
//! anything Claude Code or the user wrote.
//!
//! One module per concern; `main.rs` only parses arguments and calls [`cli`].

pub mod activate;
pub mod apply;
pub mod claude_worktree;
pub mod cli;
pub mod clock;
pub mod close;
pub mod completions;
pub mod configdir;
pub mod context;
pub mod dispatch;
pub mod explain;
pub mod jsonfile;
pub mod launch;
pub mod lock;
pub mod login;
pub mod managed;
pub mod manifest;
pub mod modes;
pub mod overlay;
pub mod registry;
pub mod runtime;
pub mod secrets;
pub mod session;
pub mod shown;
pub mod spawn;
pub mod status;
