//! `claude-accounts activate`: make every account's declared state hold in its
//! account dir (run from Home Manager's activation).

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::manifest::Manifest;

/// How activation runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    pub verbose: bool,
}

/// Activates every account; returns false when an account failed (each
/// failure is reported on stderr and leaves that account's files untouched).
pub fn activate(_m: &Manifest, _home: &Path, _opts: &Options, _out: &mut dyn Write) -> Result<bool> {
    todo!()
}
