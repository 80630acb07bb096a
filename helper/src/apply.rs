//! Three-way apply of declared JSON keys onto a live JSON object, like
//! `kubectl apply`: *desired* (from the manifest), *last applied* (what the
//! helper applied last time, kept beside the file), *live* (the file).
//!
//! CONTRACT (implementation pending; see DESIGN.md "File ownership model"):
//!
//! * Objects merge key by key, recursively.
//! * A leaf Nix declares is enforced (Nix wins). If live differed from the
//!   last-applied value, that is *drift*: enforced back and reported as
//!   `Drifted`. Without a last-applied record, taking over a different live
//!   value is `Changed`.
//! * A key Nix declared last time but no longer declares is removed
//!   (`Removed`) when its live value still equals the last-applied value;
//!   if someone changed it since, it is kept and reported `Released` (it is
//!   theirs now: nothing Claude or the user wrote is ever lost). An owned
//!   object left empty by pruning is removed too, unless something not owned
//!   remains in it.
//! * Arrays whose desired elements are all strings, where the live value is
//!   absent or an array of strings, are ordered sets with element ownership:
//!   elements Nix declares are ensured (appended in desired order when
//!   missing), elements Nix declared last time but no longer does are
//!   removed, elements anyone else added stay where they are. A pruned array
//!   left empty that Nix owned is removed. All other arrays are owned whole.
//! * Paths matching one of the policy's `atomic` patterns are owned whole
//!   (e.g. `mcpServers.*`: each server is Nix's or not; never merged field by
//!   field, because Claude Code does not merge server fields either).
//! * An empty declared object (`permissions = {}`) is still applied: the key
//!   exists as an object afterwards and everything Nix owned under it before
//!   is pruned.
//! * Keys neither desired nor last-applied are never read or changed.
//! * Idempotent: applying the result again reports nothing.

use serde_json::{Map, Value};

/// Which paths are owned whole rather than merged.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Patterns of object paths owned whole; `"*"` matches any one key.
    pub atomic: &'static [&'static [&'static str]],
}

/// `settings.json`: everything merges key by key.
pub const SETTINGS: Policy = Policy { atomic: &[] };

/// `.claude.json`: each `mcpServers` entry is owned whole.
pub const CLAUDE_JSON: Policy = Policy {
    atomic: &[&["mcpServers", "*"]],
};

/// What happened at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Declared and absent from the live file: added.
    Added,
    /// The declared value changed (or was taken over): updated.
    Changed,
    /// A Nix-owned value someone changed: enforced back.
    Drifted,
    /// No longer declared: removed.
    Removed,
    /// No longer declared but changed by someone else: kept, no longer owned.
    Released,
}

/// One change at one path.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The path as JSON object keys (array elements are reported on the array).
    pub path: Vec<String>,
    pub kind: ChangeKind,
    /// The live value before, if any.
    pub before: Option<Value>,
    /// The live value after, if any.
    pub after: Option<Value>,
}

/// Everything an apply did, in path order.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
}

pub fn apply(
    _desired: &Map<String, Value>,
    _last_applied: Option<&Map<String, Value>>,
    _live: &mut Map<String, Value>,
    _policy: &Policy,
) -> Report {
    todo!("apply engine")
}
