//! Named Claude Code sessions (`claude-session`): names per project for
//! session ids, started, resumed (also with another account), forked and
//! deleted through the same launch path as `claude<name>`; and profiles,
//! named presets of `settings.json` keys passed with `--settings`.
//!
//! One concern per module:
//! * [`names`]: the name store, one file per project in the helper's state
//!   dir, read and written under a lock, replaced atomically;
//! * [`transcripts`]: where Claude Code keeps a session's transcript, and
//!   copying and removing transcripts across accounts;
//! * [`profile`]: profiles and the per-session `--settings` layer (the
//!   profile's keys, the user's own `--settings`, the `SessionStart` hook);
//! * [`hook`]: `claude-accounts session-hook`, the `SessionStart` hook that
//!   keeps a name attached across `/clear`;
//! * [`commands`]: start, resume, fork, incognito, list, show, delete.

pub mod commands;
pub mod hook;
pub mod names;
pub mod profile;
pub mod transcripts;
