//! Three-way apply of declared JSON keys onto a live JSON object, like
//! `kubectl apply`: *desired* (from the manifest), *last applied* (what the
//! helper applied last time, kept beside the file), *live* (the file).
//! Pure: values in, values out, no I/O. See DESIGN.md "File ownership model".
//!
//! Guarantees of [`apply`]:
//!
//! * Objects merge key by key, recursively.
//! * A leaf Nix declares is enforced (Nix wins). If live differed from the
//!   last-applied value, that is *drift*: enforced back and reported as
//!   `Drifted`. Without a last-applied value there, taking over a different
//!   live value is `Changed` and a missing one `Added`; a declared value that
//!   differs from the last-applied one is `Changed`.
//! * A key Nix declared last time but no longer declares is removed
//!   (`Removed`) when its live value still equals the last-applied value;
//!   if someone changed it since, it is kept and reported `Released` (it is
//!   theirs now: nothing Claude or the user wrote is ever lost). When Nix stops
//!   declaring an object, pruning goes inside it; an owned object left empty
//!   by pruning is removed, one where something not owned remains is kept.
//! * Arrays whose desired elements are all strings, where the live value is
//!   absent or an array, are ordered sets with element ownership: elements
//!   Nix declares are ensured (appended in desired order when missing),
//!   elements Nix declared last time but no longer does are removed (every
//!   occurrence), elements anyone else added stay where they are, with their
//!   duplicates; so do elements that are not strings (a user's list is
//!   never lost because one of its elements is a number or an object).
//!   Re-adding a Nix element someone removed is drift. When Nix stops
//!   declaring the array, only its former elements are removed, and the key
//!   too if the array ends up empty. All other arrays (and a string array
//!   whose live value is not an array) are owned whole.
//! * Paths matching one of the policy's `atomic` patterns are owned whole
//!   (e.g. `mcpServers.*`: each server is Nix's or not; never merged field by
//!   field, because Claude Code does not merge server fields either).
//! * Type conflicts are resolved by Nix: a declared object replaces a live
//!   non-object whole, a declared non-object replaces a live object whole.
//! * An empty declared object (`permissions = {}`) is still applied: the key
//!   exists as an object afterwards and everything Nix owned under it before
//!   is pruned.
//! * Keys neither desired nor last-applied are never read or changed, so the
//!   result for the owned keys is the same whether `live` holds the whole file
//!   or only the owned top-level keys. Key order is kept: edited keys stay in
//!   place, new keys are appended in desired order, removals shift (never
//!   swap) the remaining keys.
//! * Idempotent: applying the result again, with `desired` as the last-applied
//!   record, reports nothing and changes nothing.

use std::collections::HashSet;
use std::fmt;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::{Map, Value};

use crate::modes::ModeFix;

/// Which paths are owned whole rather than merged.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Patterns of object paths owned whole; `"*"` matches any one key. A
    /// pattern matches a path of exactly its length.
    pub atomic: &'static [&'static [&'static str]],
}

/// `settings.json`: everything merges key by key.
pub const SETTINGS: Policy = Policy { atomic: &[] };

/// `.claude.json`: each `mcpServers` entry is owned whole.
pub const CLAUDE_JSON: Policy = Policy {
    atomic: &[&["mcpServers", "*"]],
};

impl Policy {
    fn is_atomic(&self, path: &[String]) -> bool {
        self.atomic.iter().any(|pattern| {
            pattern.len() == path.len()
                && pattern.iter().zip(path).all(|(p, k)| *p == "*" || p == k)
        })
    }
}

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

impl ChangeKind {
    /// The lowercase name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Drifted => "drifted",
            ChangeKind::Removed => "removed",
            ChangeKind::Released => "released",
        }
    }
}

impl fmt::Display for ChangeKind {
    /// The lowercase name; honours width and alignment (`{:<8}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One change at one path.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// The path as JSON object keys (array elements are reported on the array).
    pub path: Vec<String>,
    pub kind: ChangeKind,
    /// The live value before, if any.
    pub before: Option<Value>,
    /// The live value after, if any (for `Released`: the kept value).
    pub after: Option<Value>,
}

impl fmt::Display for Change {
    /// One line without a newline: `  drifted  permissions.allow`. Keys are
    /// joined with `.`; a key that is not `[A-Za-z0-9_-]+` is JSON-quoted,
    /// e.g. `projects."/home/a/src"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  {:<8} {}", self.kind, self.path_display())
    }
}

impl Change {
    /// The path for people: keys joined with `.`, a key that is not
    /// `[A-Za-z0-9_-]+` JSON-quoted, e.g. `projects."/home/a/src"`.
    pub fn path_display(&self) -> String {
        let mut out = String::new();
        for (i, key) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            let plain = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if plain {
                out.push_str(key);
            } else {
                out.push_str(&Value::from(key.as_str()).to_string());
            }
        }
        out
    }
}

/// Everything an apply did, in path order. Change paths never nest: no
/// change's path is a prefix of another's.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Report {
    pub changes: Vec<Change>,
    /// The modes of the file, its record and their dirs that were repaired
    /// (filled in by [`crate::managed`]; [`apply`] sees no files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<ModeFix>,
}

impl Report {
    /// True when the apply changed nothing, released nothing and repaired
    /// no mode.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.modes.is_empty()
    }

    /// How many changes are of this kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// RFC 6902 operations that turn the old live value into the new one
    /// (as values; `json_patch`'s `remove` may reorder object keys, so write
    /// the mutated live object, not a patched copy). Arrays are one
    /// `add`/`replace` of the whole array; `Released` produces no operation;
    /// pointers are escaped per RFC 6901.
    pub fn to_patch(&self) -> Patch {
        let ops = self.changes.iter().filter_map(|c| {
            let path = PointerBuf::from_tokens(&c.path);
            match (c.kind, &c.before, &c.after) {
                (ChangeKind::Released, _, _) => None,
                (_, _, None) => Some(PatchOperation::Remove(RemoveOperation { path })),
                (_, None, Some(value)) => Some(PatchOperation::Add(AddOperation {
                    path,
                    value: value.clone(),
                })),
                (_, Some(_), Some(value)) => Some(PatchOperation::Replace(ReplaceOperation {
                    path,
                    value: value.clone(),
                })),
            }
        });
        Patch(ops.collect())
    }
}

impl fmt::Display for Report {
    /// One line per change, each ending with a newline; nothing when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.changes.iter().try_for_each(|c| writeln!(f, "{c}"))
    }
}

/// Applies `desired` onto `live` in place, given what was applied last time
/// (`None` when there is no record), and reports what changed. `live` may hold
/// only the top-level keys of `desired` and `last_applied`; other keys are
/// never read or changed. The caller stores `desired` as the next
/// last-applied record. See the module doc for the rules.
pub fn apply(
    desired: &Map<String, Value>,
    last_applied: Option<&Map<String, Value>>,
    live: &mut Map<String, Value>,
    policy: &Policy,
) -> Report {
    let mut walk = Walk {
        policy,
        path: Vec::new(),
        changes: Vec::new(),
    };
    walk.merge(Some(desired), last_applied, live);
    walk.changes.sort_by(|a, b| a.path.cmp(&b.path));
    Report {
        changes: walk.changes,
        modes: Vec::new(),
    }
}

/// The elements of a string array, `None` for anything else.
fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

/// One apply in progress: the path being visited and the changes so far.
struct Walk<'p> {
    policy: &'p Policy,
    path: Vec<String>,
    changes: Vec<Change>,
}

impl Walk<'_> {
    fn record(&mut self, kind: ChangeKind, before: Option<Value>, after: Option<Value>) {
        self.changes.push(Change {
            path: self.path.clone(),
            kind,
            before,
            after,
        });
    }

    /// Visits the keys of `desired` (in its order), then those only in `last`.
    fn merge(
        &mut self,
        desired: Option<&Map<String, Value>>,
        last: Option<&Map<String, Value>>,
        live: &mut Map<String, Value>,
    ) {
        for (key, d) in desired.into_iter().flatten() {
            let l = last.and_then(|l| l.get(key));
            self.visit(key, |w| w.ensure(key, d, l, live));
        }
        for (key, l) in last.into_iter().flatten() {
            if !desired.is_some_and(|d| d.contains_key(key)) {
                self.visit(key, |w| w.prune(key, l, live));
            }
        }
    }

    fn visit(&mut self, key: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(key.to_owned());
        f(self);
        self.path.pop();
    }

    /// Makes `live[key]` hold the declared `d`.
    fn ensure(&mut self, key: &str, d: &Value, l: Option<&Value>, live: &mut Map<String, Value>) {
        if !self.policy.is_atomic(&self.path) {
            if let Value::Object(d) = d {
                if let Some(Value::Object(v)) = live.get_mut(key) {
                    return self.merge(Some(d), l.and_then(Value::as_object), v);
                }
            } else if let Some(d) = strings(d)
                && live.get(key).is_none_or(Value::is_array)
            {
                return self.ensure_set(key, &d, l, live);
            }
        }
        self.replace(key, d, l, live);
    }

    /// Owned whole: `live[key] = d`.
    fn replace(&mut self, key: &str, d: &Value, l: Option<&Value>, live: &mut Map<String, Value>) {
        let before = live.get(key);
        if before == Some(d) {
            return;
        }
        let kind = if l.is_some() && before != l {
            ChangeKind::Drifted
        } else if before.is_none() {
            ChangeKind::Added
        } else {
            ChangeKind::Changed
        };
        let before = before.cloned();
        self.record(kind, before, Some(d.clone()));
        live.insert(key.to_owned(), d.clone());
    }

    /// String set: `live[key]` is absent or an array; its elements that are
    /// not strings are never Nix's and stay where they are.
    fn ensure_set(
        &mut self,
        key: &str,
        desired: &[&str],
        l: Option<&Value>,
        live: &mut Map<String, Value>,
    ) {
        let owned: HashSet<&str> = l
            .and_then(strings)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let wanted: HashSet<&str> = desired.iter().copied().collect();
        let before = live.get(key).and_then(Value::as_array);
        let (after, drifted) = match before {
            None => (
                desired.iter().map(|&s| Value::from(s)).collect(),
                l.is_some(),
            ),
            Some(before) => {
                let present: HashSet<&str> = before.iter().filter_map(Value::as_str).collect();
                let dropped = |e: &&Value| {
                    e.as_str()
                        .is_some_and(|s| owned.contains(s) && !wanted.contains(s))
                };
                let mut after: Vec<Value> =
                    before.iter().filter(|e| !dropped(e)).cloned().collect();
                let mut appended = HashSet::new();
                for &s in desired {
                    if !present.contains(s) && appended.insert(s) {
                        after.push(Value::from(s));
                    }
                }
                let drifted = desired
                    .iter()
                    .any(|s| owned.contains(s) && !present.contains(s));
                (after, drifted)
            }
        };
        if before == Some(&after) {
            return;
        }
        let kind = if drifted {
            ChangeKind::Drifted
        } else if before.is_none() {
            ChangeKind::Added
        } else {
            ChangeKind::Changed
        };
        let after = Value::Array(after);
        let before = before.cloned().map(Value::Array);
        self.record(kind, before, Some(after.clone()));
        live.insert(key.to_owned(), after);
    }

    /// No longer declared: removes what Nix still owns at `live[key]`.
    fn prune(&mut self, key: &str, l: &Value, live: &mut Map<String, Value>) {
        let Some(v) = live.get_mut(key) else {
            return;
        };
        if !self.policy.is_atomic(&self.path) {
            if let (Value::Object(l), Value::Object(v)) = (l, &mut *v) {
                // Only an object whose keys are all owned can end up empty.
                let original = v.keys().all(|k| l.contains_key(k)).then(|| v.clone());
                let mark = self.changes.len();
                self.merge(None, Some(l), v);
                if let (true, Some(original)) = (v.is_empty(), original) {
                    // Report the object's removal once, not each of its keys.
                    self.changes.truncate(mark);
                    self.record(ChangeKind::Removed, Some(Value::Object(original)), None);
                    live.shift_remove(key);
                }
                return;
            }
            if let (Some(owned), Value::Array(v)) = (strings(l), &mut *v) {
                let owned: HashSet<&str> = owned.into_iter().collect();
                let after: Vec<Value> = v
                    .iter()
                    .filter(|e| !e.as_str().is_some_and(|s| owned.contains(s)))
                    .cloned()
                    .collect();
                if after.is_empty() {
                    let before = live.shift_remove(key);
                    self.record(ChangeKind::Removed, before, None);
                } else if after.len() != v.len() {
                    let before = std::mem::replace(v, after.clone());
                    self.record(
                        ChangeKind::Removed,
                        Some(Value::Array(before)),
                        Some(Value::Array(after)),
                    );
                }
                return;
            }
        }
        if v == l {
            let before = live.shift_remove(key);
            self.record(ChangeKind::Removed, before, None);
        } else {
            let kept = v.clone();
            self.record(ChangeKind::Released, Some(kept.clone()), Some(kept));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("test fixture is not an object: {other}"),
        }
    }

    /// Applies and returns (new live, report).
    fn run(desired: Value, last: Option<Value>, live: Value, policy: &Policy) -> (Value, Report) {
        let desired = obj(desired);
        let last = last.map(obj);
        let mut live = obj(live);
        let report = apply(&desired, last.as_ref(), &mut live, policy);
        (Value::Object(live), report)
    }

    fn kinds(report: &Report) -> Vec<(String, ChangeKind)> {
        report
            .changes
            .iter()
            .map(|c| (c.path.join("."), c.kind))
            .collect()
    }

    fn k(path: &str, kind: ChangeKind) -> (String, ChangeKind) {
        (path.to_owned(), kind)
    }

    use ChangeKind::*;

    #[test]
    fn fresh_file_gets_every_declared_key() {
        let (live, report) = run(
            json!({"model": "opus", "permissions": {"allow": ["Bash(ls)"]}}),
            None,
            json!({}),
            &SETTINGS,
        );
        assert_eq!(
            live,
            json!({"model": "opus", "permissions": {"allow": ["Bash(ls)"]}})
        );
        assert_eq!(
            kinds(&report),
            vec![k("model", Added), k("permissions", Added)]
        );
    }

    #[test]
    fn claude_mcp_add_server_survives_a_switch() {
        let github = json!({"command": "gh-mcp", "args": ["stdio"]});
        let mine = json!({"type": "stdio", "command": "my-mcp", "env": {}});
        let (live, report) = run(
            json!({"mcpServers": {"github": github, "linear": {"url": "https://l"}}}),
            Some(json!({"mcpServers": {"github": github}})),
            json!({"numStartups": 7, "mcpServers": {"github": github, "mine": mine}}),
            &CLAUDE_JSON,
        );
        assert_eq!(
            live,
            json!({"numStartups": 7, "mcpServers": {
                "github": github, "mine": mine, "linear": {"url": "https://l"}}})
        );
        assert_eq!(kinds(&report), vec![k("mcpServers.linear", Added)]);
    }

    #[test]
    fn server_removed_from_nix_is_pruned() {
        let github = json!({"command": "gh-mcp"});
        let mine = json!({"command": "my-mcp"});
        let (live, report) = run(
            json!({"mcpServers": {}}),
            Some(json!({"mcpServers": {"github": github}})),
            json!({"mcpServers": {"github": github, "mine": mine}}),
            &CLAUDE_JSON,
        );
        assert_eq!(live, json!({"mcpServers": {"mine": mine}}));
        assert_eq!(kinds(&report), vec![k("mcpServers.github", Removed)]);
        assert_eq!(report.changes[0].before, Some(github));
    }

    #[test]
    fn atomic_server_is_replaced_whole_never_merged() {
        // Someone added a field to Nix's server: the server is Nix's, so it is
        // enforced back whole, and a changed declaration replaces it whole.
        let (live, report) = run(
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v2"]}}}),
            Some(json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v1"]}}})),
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v1"], "env": {"T": "x"}}}}),
            &CLAUDE_JSON,
        );
        assert_eq!(
            live,
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v2"]}}})
        );
        assert_eq!(kinds(&report), vec![k("mcpServers.github", Drifted)]);
        // Under SETTINGS the same input merges field by field instead.
        let (merged, _) = run(
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v2"]}}}),
            Some(json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v1"]}}})),
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v1"], "env": {"T": "x"}}}}),
            &SETTINGS,
        );
        assert_eq!(
            merged,
            json!({"mcpServers": {"github": {"command": "gh-mcp", "args": ["v2"], "env": {"T": "x"}}}})
        );
    }

    #[test]
    fn user_permission_survives_and_dropped_nix_permission_is_removed() {
        let (live, report) = run(
            json!({"permissions": {"allow": ["Bash(ls)", "Read"]}}),
            Some(json!({"permissions": {"allow": ["Bash(ls)", "Bash(rm)"]}})),
            json!({"permissions": {"allow": ["Bash(ls)", "WebFetch", "Bash(rm)", "WebFetch"]}}),
            &SETTINGS,
        );
        assert_eq!(
            live,
            json!({"permissions": {"allow": ["Bash(ls)", "WebFetch", "WebFetch", "Read"]}})
        );
        assert_eq!(kinds(&report), vec![k("permissions.allow", Changed)]);
        assert_eq!(
            report.changes[0].before,
            Some(json!(["Bash(ls)", "WebFetch", "Bash(rm)", "WebFetch"]))
        );
    }

    #[test]
    fn nix_element_someone_removed_is_re_added_as_drift() {
        let (live, report) = run(
            json!({"permissions": {"allow": ["Bash(ls)", "Read"]}}),
            Some(json!({"permissions": {"allow": ["Bash(ls)", "Read"]}})),
            json!({"permissions": {"allow": ["WebFetch", "Read"]}}),
            &SETTINGS,
        );
        assert_eq!(
            live,
            json!({"permissions": {"allow": ["WebFetch", "Read", "Bash(ls)"]}})
        );
        assert_eq!(kinds(&report), vec![k("permissions.allow", Drifted)]);
    }

    #[test]
    fn string_array_no_longer_declared_keeps_only_foreign_elements() {
        let (live, report) = run(
            json!({}),
            Some(json!({"permissions": {"allow": ["Read"], "deny": ["Bash(rm)"]}})),
            json!({"permissions": {"allow": ["Read", "WebFetch"], "deny": ["Bash(rm)"]}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"permissions": {"allow": ["WebFetch"]}}));
        assert_eq!(
            kinds(&report),
            vec![
                k("permissions.allow", Removed),
                k("permissions.deny", Removed)
            ]
        );
        assert_eq!(report.changes[0].after, Some(json!(["WebFetch"])));
        assert_eq!(report.changes[1].after, None);
    }

    #[test]
    fn drift_of_model_is_enforced_back() {
        let (live, report) = run(
            json!({"model": "opus"}),
            Some(json!({"model": "opus"})),
            json!({"model": "sonnet", "theme": "dark"}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"model": "opus", "theme": "dark"}));
        assert_eq!(
            report.changes,
            vec![Change {
                path: vec!["model".into()],
                kind: Drifted,
                before: Some(json!("sonnet")),
                after: Some(json!("opus")),
            }]
        );
    }

    #[test]
    fn leaf_kinds_follow_the_last_applied_record() {
        // Declared value changed in Nix, live untouched: Changed.
        let (_, r) = run(
            json!({"m": 2}),
            Some(json!({"m": 1})),
            json!({"m": 1}),
            &SETTINGS,
        );
        assert_eq!(kinds(&r), vec![k("m", Changed)]);
        // No record: taking over a different live value is Changed.
        let (_, r) = run(json!({"m": 2}), None, json!({"m": 1}), &SETTINGS);
        assert_eq!(kinds(&r), vec![k("m", Changed)]);
        // Someone deleted a Nix key: put back as drift.
        let (live, r) = run(json!({"m": 2}), Some(json!({"m": 2})), json!({}), &SETTINGS);
        assert_eq!((live, kinds(&r)), (json!({"m": 2}), vec![k("m", Drifted)]));
        // Live already holds the new declaration: nothing to report.
        let (_, r) = run(
            json!({"m": 2}),
            Some(json!({"m": 1})),
            json!({"m": 2}),
            &SETTINGS,
        );
        assert!(r.is_empty());
    }

    #[test]
    fn value_changed_by_someone_then_undeclared_is_released_and_kept() {
        let (live, report) = run(
            json!({}),
            Some(json!({"model": "opus", "env": {"A": "1", "B": "2"}})),
            json!({"model": "sonnet", "env": {"A": "1", "B": "3"}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"model": "sonnet", "env": {"B": "3"}}));
        assert_eq!(
            kinds(&report),
            vec![
                k("env.A", Removed),
                k("env.B", Released),
                k("model", Released)
            ]
        );
        assert_eq!(report.changes[2].after, Some(json!("sonnet")));
    }

    #[test]
    fn owned_object_left_empty_is_removed_but_kept_with_foreign_keys() {
        let (live, report) = run(
            json!({}),
            Some(json!({"env": {"A": "1"}, "sandbox": {"enabled": true}})),
            json!({"env": {"A": "1"}, "sandbox": {"enabled": true, "mine": 1}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"sandbox": {"mine": 1}}));
        assert_eq!(
            kinds(&report),
            vec![k("env", Removed), k("sandbox.enabled", Removed)]
        );
        assert_eq!(report.changes[0].before, Some(json!({"A": "1"})));
    }

    #[test]
    fn empty_declared_object_is_applied_and_prunes_what_nix_owned_below() {
        let (live, report) = run(json!({"permissions": {}}), None, json!({}), &SETTINGS);
        assert_eq!(live, json!({"permissions": {}}));
        assert_eq!(kinds(&report), vec![k("permissions", Added)]);

        let (live, report) = run(
            json!({"permissions": {}}),
            Some(json!({"permissions": {"allow": ["Read"], "defaultMode": "plan"}})),
            json!({"permissions": {"allow": ["Read", "Mine"], "defaultMode": "plan"}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"permissions": {"allow": ["Mine"]}}));
        assert_eq!(
            kinds(&report),
            vec![
                k("permissions.allow", Removed),
                k("permissions.defaultMode", Removed)
            ]
        );
        // Everything below pruned: the declared empty object itself stays.
        let (live, _) = run(
            json!({"permissions": {}}),
            Some(json!({"permissions": {"allow": ["Read"]}})),
            json!({"permissions": {"allow": ["Read"]}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"permissions": {}}));
    }

    #[test]
    fn hooks_array_of_objects_is_owned_whole() {
        let nix_hook = json!([{"matcher": "Bash", "hooks": [{"type": "command", "command": "x"}]}]);
        let user_hook = json!({"matcher": "Edit", "hooks": []});
        let mut live_hooks = nix_hook.as_array().cloned().unwrap_or_default();
        live_hooks.push(user_hook);
        let (live, report) = run(
            json!({"hooks": {"PreToolUse": nix_hook}}),
            Some(json!({"hooks": {"PreToolUse": nix_hook}})),
            json!({"hooks": {"PreToolUse": live_hooks}}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"hooks": {"PreToolUse": nix_hook}}));
        assert_eq!(kinds(&report), vec![k("hooks.PreToolUse", Drifted)]);
    }

    #[test]
    fn string_set_keeps_the_users_strings_next_to_a_non_string() {
        // permissions.allow holding a non-string next to the user's strings:
        // every element stays where it is, Nix's own are added and pruned.
        let (live, report) = run(
            json!({"permissions": {"allow": ["Bash(ls)", "Read"]}}),
            Some(json!({"permissions": {"allow": ["Bash(old)", "Read"]}})),
            json!({"permissions": {"allow": ["mine", 1, "Bash(old)", {"x": true}, "Read", "also mine"]}}),
            &SETTINGS,
        );
        assert_eq!(
            live,
            json!({"permissions": {"allow": ["mine", 1, {"x": true}, "Read", "also mine", "Bash(ls)"]}})
        );
        assert_eq!(kinds(&report), vec![k("permissions.allow", Changed)]);

        // No longer declared: only Nix's former strings go.
        let (live, report) = run(
            json!({}),
            Some(json!({"xs": ["a", "b"]})),
            json!({"xs": ["a", 2, "c", "b"]}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"xs": [2, "c"]}));
        assert_eq!(kinds(&report), vec![k("xs", Removed)]);
        let (live, _) = run(
            json!({}),
            Some(json!({"xs": ["a"]})),
            json!({"xs": [null]}),
            &SETTINGS,
        );
        assert_eq!(live, json!({"xs": [null]}), "a non-string alone is kept");
    }

    #[test]
    fn type_conflicts_are_resolved_by_replacing_whole() {
        // Declared object over a live string.
        let (live, r) = run(
            json!({"env": {"A": "1"}}),
            None,
            json!({"env": "oops"}),
            &SETTINGS,
        );
        assert_eq!(
            (live, kinds(&r)),
            (json!({"env": {"A": "1"}}), vec![k("env", Changed)])
        );
        // Same, but Nix had applied the object before: drift.
        let (live, r) = run(
            json!({"env": {"A": "1"}}),
            Some(json!({"env": {"A": "1"}})),
            json!({"env": ["x"]}),
            &SETTINGS,
        );
        assert_eq!(
            (live, kinds(&r)),
            (json!({"env": {"A": "1"}}), vec![k("env", Drifted)])
        );
        // Declared scalar over a live object.
        let (live, r) = run(
            json!({"statusLine": "none"}),
            None,
            json!({"statusLine": {"type": "command"}}),
            &SETTINGS,
        );
        assert_eq!(
            (live, kinds(&r)),
            (
                json!({"statusLine": "none"}),
                vec![k("statusLine", Changed)]
            )
        );
    }

    #[test]
    fn undeclared_object_replaced_by_someone_is_released() {
        let (live, r) = run(
            json!({}),
            Some(json!({"env": {"A": "1"}})),
            json!({"env": "mine"}),
            &SETTINGS,
        );
        assert_eq!(
            (live, kinds(&r)),
            (json!({"env": "mine"}), vec![k("env", Released)])
        );
    }

    #[test]
    fn keys_neither_desired_nor_last_applied_are_untouched_and_order_is_kept() {
        let (live, _) = run(
            json!({"b": 2}),
            Some(json!({"a": 1, "c": {"x": 1}})),
            json!({"z": [1], "a": 1, "m": {"deep": true}, "b": 0, "c": {"x": 1, "y": 2}, "q": null}),
            &SETTINGS,
        );
        assert_eq!(
            serde_json::to_string(&live).ok(),
            Some(r#"{"z":[1],"m":{"deep":true},"b":2,"c":{"y":2},"q":null}"#.to_owned())
        );
    }

    #[test]
    fn applying_twice_changes_nothing() {
        let desired = json!({"model": "opus", "permissions": {"allow": ["Read"], "deny": []},
            "mcpServers": {"s": {"command": "c"}}});
        let (live, first) = run(
            desired.clone(),
            Some(json!({"permissions": {"allow": ["Old"]}, "gone": 1})),
            json!({"permissions": {"allow": ["Old", "Mine"]}, "gone": 1, "other": {}}),
            &CLAUDE_JSON,
        );
        assert!(!first.is_empty());
        let (again, second) = run(desired.clone(), Some(desired), live.clone(), &CLAUDE_JSON);
        assert_eq!(again, live);
        assert_eq!(second, Report::default());
    }

    #[test]
    fn report_is_in_path_order_and_counts_kinds() {
        let (_, r) = run(
            json!({"z": 1, "a": {"y": 1, "b": 1}}),
            Some(json!({"m": 1})),
            json!({"m": 2, "a": {}}),
            &SETTINGS,
        );
        assert_eq!(
            kinds(&r),
            vec![
                k("a.b", Added),
                k("a.y", Added),
                k("m", Released),
                k("z", Added)
            ]
        );
        assert_eq!(
            (r.count(Added), r.count(Released), r.count(Removed)),
            (3, 1, 0)
        );
    }

    #[test]
    fn display_renders_one_aligned_line_per_change_with_quoted_keys() {
        let change = |path: &[&str], kind| Change {
            path: path.iter().map(|s| s.to_string()).collect(),
            kind,
            before: None,
            after: None,
        };
        let report = Report {
            changes: vec![
                change(&["permissions", "allow"], Drifted),
                change(&["mcpServers", "github"], Added),
                change(&["projects", "/home/a/src", "allowedTools"], Released),
                change(&["a b", "", "q\"x", "ok_-9"], Removed),
            ],
            modes: Vec::new(),
        };
        assert_eq!(
            report.to_string(),
            concat!(
                "  drifted  permissions.allow\n",
                "  added    mcpServers.github\n",
                "  released projects.\"/home/a/src\".allowedTools\n",
                "  removed  \"a b\".\"\".\"q\\\"x\".ok_-9\n",
            )
        );
        assert_eq!(Report::default().to_string(), "");
    }

    #[test]
    fn patch_uses_add_replace_remove_with_escaped_pointers() {
        let (_, report) = run(
            json!({"a/b": {"t~x": 1}, "new": [ "s" ], "kept": "n"}),
            Some(json!({"gone": 1, "mine": 1})),
            json!({"a/b": {"t~x": 0}, "gone": 1, "mine": 2, "kept": "o"}),
            &SETTINGS,
        );
        let patch = serde_json::to_value(report.to_patch()).ok();
        assert_eq!(
            patch,
            Some(json!([
                {"op": "replace", "path": "/a~1b/t~0x", "value": 1},
                {"op": "remove", "path": "/gone"},
                {"op": "replace", "path": "/kept", "value": "n"},
                {"op": "add", "path": "/new", "value": ["s"]},
            ]))
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use proptest::sample::select;
        use serde_json::json;

        const POLICIES: [Policy; 3] = [
            SETTINGS,
            CLAUDE_JSON,
            Policy {
                atomic: &[&["mcpServers", "*"], &["a", "*", "b"]],
            },
        ];

        fn key() -> impl Strategy<Value = String> {
            select(vec!["a", "b", "c", "mcpServers"]).prop_map(str::to_owned)
        }

        fn word() -> impl Strategy<Value = Value> {
            select(vec!["x", "y", "z"]).prop_map(Value::from)
        }

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                3 => word(),
                1 => Just(Value::Null),
                1 => any::<bool>().prop_map(Value::from),
                1 => (0..3i64).prop_map(Value::from),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let scalar_or_array = prop_oneof![
                3 => leaf(),
                3 => prop::collection::vec(word(), 0..4).prop_map(Value::Array),
                1 => prop::collection::vec(leaf(), 1..3).prop_map(Value::Array),
            ];
            scalar_or_array.prop_recursive(3, 32, 4, |inner| {
                prop::collection::vec((key(), inner), 0..4)
                    .prop_map(|kvs| Value::Object(kvs.into_iter().collect()))
            })
        }

        fn object() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::vec((key(), value()), 0..4).prop_map(|kvs| kvs.into_iter().collect())
        }

        /// desired, last applied, live, policy. The last-applied record is
        /// absent, unrelated or a variant of desired; live is unrelated, or the
        /// result of the last apply, possibly edited since (merge patch, string
        /// array elements added or removed), with
        /// foreign top-level keys (`u`, `v` first, `w` last) Nix never owns.
        #[derive(Debug, Clone)]
        struct Case {
            desired: Map<String, Value>,
            last: Option<Map<String, Value>>,
            live: Map<String, Value>,
            policy: Policy,
        }

        fn case() -> impl Strategy<Value = Case> {
            (
                (object(), object(), 0..3usize),
                (object(), object(), 0..4usize, any::<u64>()),
                0..POLICIES.len(),
                foreign(vec!["u", "v"]),
                foreign(vec!["w"]),
            )
                .prop_map(
                    |((desired, other, l_sel), (base, edit, live_sel, bits), p, front, back)| {
                        let policy = POLICIES[p];
                        let last = match l_sel {
                            0 => None,
                            1 => Some(other),
                            _ => {
                                let mut l = Value::Object(desired.clone());
                                json_patch::merge(&mut l, &Value::Object(other));
                                l.as_object().cloned()
                            }
                        };
                        let live = match live_sel {
                            0 => base,
                            _ => {
                                let mut live = base;
                                if let Some(l) = &last {
                                    apply(l, None, &mut live, &policy);
                                }
                                let mut live = Value::Object(live);
                                if live_sel == 2 {
                                    json_patch::merge(&mut live, &Value::Object(edit));
                                }
                                if live_sel >= 2 {
                                    edit_arrays(&mut live, &mut { bits });
                                }
                                live.as_object().cloned().unwrap_or_default()
                            }
                        };
                        let live = front.into_iter().chain(live).chain(back).collect();
                        Case {
                            desired,
                            last,
                            live,
                            policy,
                        }
                    },
                )
        }

        /// Someone edits arrays: appends a string (maybe Nix's, maybe `u`,
        /// never Nix's), removes the first element, or inserts one that is
        /// not a string, as `bits` say.
        fn edit_arrays(v: &mut Value, bits: &mut u64) {
            let mut take = |n: u32| {
                let b = *bits & ((1 << n) - 1);
                *bits = bits.rotate_right(n);
                b
            };
            match v {
                Value::Object(m) => m.values_mut().for_each(|v| edit_arrays(v, bits)),
                Value::Array(a) => match take(2) {
                    1 => a.push(Value::from(["x", "y", "z", "u"][take(2) as usize])),
                    2 if !a.is_empty() => {
                        a.remove(0);
                    }
                    3 => {
                        let at = take(2) as usize % (a.len() + 1);
                        let other = [json!(1), json!(null), json!({"x": true}), json!(["x"])];
                        a.insert(at, other[take(2) as usize].clone());
                    }
                    _ => {}
                },
                _ => {}
            }
        }

        fn foreign(keys: Vec<&'static str>) -> impl Strategy<Value = Vec<(String, Value)>> {
            prop::collection::vec((select(keys).prop_map(str::to_owned), value()), 0..3)
        }

        fn is_string_array(value: &Value) -> bool {
            value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string))
        }

        /// The test's own reading of `Policy::atomic`.
        fn atomic(policy: &Policy, path: &[String]) -> bool {
            policy.atomic.iter().any(|pattern| {
                pattern.len() == path.len()
                    && pattern.iter().zip(path).all(|(p, k)| *p == "*" || p == k)
            })
        }

        fn applied(c: &Case) -> (Map<String, Value>, Report) {
            let mut live = c.live.clone();
            let report = apply(&c.desired, c.last.as_ref(), &mut live, &c.policy);
            (live, report)
        }

        fn child<'v>(v: Option<&'v Value>, key: &str) -> Option<&'v Value> {
            v?.as_object()?.get(key)
        }

        fn at<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
            path.iter().try_fold(v, |v, k| v.as_object()?.get(k))
        }

        /// What Nix neither owns nor owned: `live` without the paths under
        /// desired or last-applied values, minus their string-set elements
        /// (a live array under a string set keeps its other elements).
        /// Containers whose every key or element is owned drop out.
        fn unowned(
            live: &Map<String, Value>,
            d: Option<&Value>,
            l: Option<&Value>,
            path: &mut Vec<String>,
            policy: &Policy,
        ) -> Map<String, Value> {
            let mut out = Map::new();
            for (key, v) in live {
                path.push(key.clone());
                let (dk, lk) = (child(d, key), child(l, key));
                let ruler = dk.or(lk);
                if ruler.is_none() {
                    out.insert(key.clone(), v.clone());
                } else if atomic(policy, path) {
                    // owned whole
                } else if let (Value::Object(v), Some(Value::Object(_))) = (v, ruler) {
                    let inner = unowned(v, dk, lk.filter(|l| l.is_object()), path, policy);
                    if !inner.is_empty() {
                        out.insert(key.clone(), Value::Object(inner));
                    }
                } else if v.is_array() && ruler.is_some_and(is_string_array) {
                    let owned: Vec<&Value> = [dk, lk]
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_array)
                        .flatten()
                        .collect();
                    let rest: Vec<Value> = v
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|e| !owned.contains(e))
                        .cloned()
                        .collect();
                    if !rest.is_empty() {
                        out.insert(key.clone(), Value::Array(rest));
                    }
                }
                path.pop();
            }
            out
        }

        /// Every array in `m` reached through objects, with its path.
        fn arrays<'v>(
            m: &'v Map<String, Value>,
            path: &mut Vec<String>,
            out: &mut Vec<(Vec<String>, &'v Vec<Value>)>,
        ) {
            for (key, v) in m {
                path.push(key.clone());
                match v {
                    Value::Object(m) => arrays(m, path, out),
                    Value::Array(a) => out.push((path.clone(), a)),
                    _ => {}
                }
                path.pop();
            }
        }

        /// Whether `part` appears in `whole` in the same order (with other
        /// elements in between or not).
        fn subsequence(part: &[&Value], whole: &[Value]) -> bool {
            let mut rest = whole.iter();
            part.iter().all(|p| rest.any(|w| w == *p))
        }

        #[derive(Debug, Clone, PartialEq)]
        enum Fact {
            Leaf(Value),
            EmptyObject,
            Array,
            Element(Value),
        }

        /// Every path of `v` with what is there, arrays as elements.
        fn facts(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Fact)>) {
            match v {
                Value::Object(m) if m.is_empty() => out.push((path.clone(), Fact::EmptyObject)),
                Value::Object(m) => {
                    for (k, v) in m {
                        path.push(k.clone());
                        facts(v, path, out);
                        path.pop();
                    }
                }
                Value::Array(a) => {
                    out.push((path.clone(), Fact::Array));
                    for e in a {
                        out.push((path.clone(), Fact::Element(e.clone())));
                    }
                }
                v => out.push((path.clone(), Fact::Leaf(v.clone()))),
            }
        }

        /// Some ancestor of `path` (or itself, when `inclusive`) holds a
        /// desired value that is owned whole (atomic or not an object).
        fn desired_whole(d: &Value, path: &[String], policy: &Policy, inclusive: bool) -> bool {
            let end = if inclusive {
                path.len()
            } else {
                path.len() - 1
            };
            (1..=end).any(|n| {
                at(d, &path[..n]).is_some_and(|v| !v.is_object() || atomic(policy, &path[..n]))
            })
        }

        /// Collects violations of "every desired value holds" (`objects`:
        /// only check that declared objects are objects).
        fn check_desired(
            d: &Map<String, Value>,
            live: &Value,
            path: &mut Vec<String>,
            policy: &Policy,
            objects: bool,
            bad: &mut Vec<String>,
        ) {
            for (key, d) in d {
                path.push(key.clone());
                let got = at(live, path);
                let whole = atomic(policy, path);
                match d {
                    Value::Object(d) if !whole => {
                        if got.is_some_and(Value::is_object) {
                            check_desired(d, live, path, policy, objects, bad);
                        } else {
                            bad.push(format!("{path:?}: declared object, got {got:?}"));
                        }
                    }
                    _ if objects => {}
                    d if !whole && is_string_array(d) => {
                        let holds = got.and_then(Value::as_array).is_some_and(|g| {
                            d.as_array().into_iter().flatten().all(|e| g.contains(e))
                        });
                        if !holds {
                            bad.push(format!("{path:?}: string set {d} not in {got:?}"));
                        }
                    }
                    d => {
                        if got != Some(d) {
                            bad.push(format!("{path:?}: declared {d}, got {got:?}"));
                        }
                    }
                }
                path.pop();
            }
        }

        /// Collects what Nix owned last time, no longer declares, and still
        /// finds unchanged after apply (pruning left it behind): unchanged
        /// leaves and atomic values, dropped string-set elements, and owned
        /// containers left empty.
        fn check_pruned(
            last: &Map<String, Value>,
            d: Option<&Value>,
            after: Option<&Value>,
            path: &mut Vec<String>,
            policy: &Policy,
            bad: &mut Vec<String>,
        ) {
            for (key, l) in last {
                path.push(key.clone());
                let (d, after) = (child(d, key), child(after, key));
                let same_shape = |d: &Value| {
                    (d.is_object() && l.is_object()) || (is_string_array(d) && is_string_array(l))
                };
                if atomic(policy, path) || !(l.is_object() || is_string_array(l)) {
                    if d.is_none() && after == Some(l) {
                        bad.push(format!("{path:?}: undeclared {l} left in place"));
                    }
                } else if d.is_some_and(|d| !same_shape(d)) {
                    // Declared as something else now: replaced, see P4.
                } else if let Value::Object(l) = l {
                    if d.is_none()
                        && after.is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
                    {
                        bad.push(format!("{path:?}: owned object left empty"));
                    }
                    check_pruned(l, d, after, path, policy, bad);
                } else {
                    let declared = d.and_then(Value::as_array);
                    let live = after.and_then(Value::as_array);
                    for e in l.as_array().into_iter().flatten() {
                        let dropped = !declared.is_some_and(|d| d.contains(e));
                        if dropped && live.is_some_and(|a| a.contains(e)) {
                            bad.push(format!("{path:?}: dropped element {e} left in place"));
                        }
                    }
                    if d.is_none() && live.is_some_and(Vec::is_empty) {
                        bad.push(format!("{path:?}: owned array left empty"));
                    }
                }
                path.pop();
            }
        }

        proptest! {
            #[test]
            fn idempotent(c in case()) {
                let (once, _) = applied(&c);
                let mut twice = once.clone();
                let again = apply(&c.desired, Some(&c.desired), &mut twice, &c.policy);
                prop_assert_eq!(again, Report::default());
                prop_assert_eq!(&twice, &once);
            }

            #[test]
            fn never_owned_paths_are_preserved_in_order(c in case()) {
                let (after, _) = applied(&c);
                let d = Value::Object(c.desired.clone());
                let l = c.last.clone().map(Value::Object);
                let project = |live: &Map<String, Value>| {
                    let kept = unowned(live, Some(&d), l.as_ref(), &mut Vec::new(), &c.policy);
                    serde_json::to_string_pretty(&kept).unwrap_or_default()
                };
                prop_assert_eq!(project(&c.live), project(&after));
            }

            #[test]
            fn only_owned_paths_are_removed(c in case()) {
                let (after, _) = applied(&c);
                let d = Value::Object(c.desired.clone());
                let l = c.last.clone().map(Value::Object).unwrap_or_else(|| Value::Object(Map::new()));
                let (mut old, mut new) = (Vec::new(), Vec::new());
                facts(&Value::Object(c.live.clone()), &mut Vec::new(), &mut old);
                facts(&Value::Object(after), &mut Vec::new(), &mut new);
                for (path, fact) in old.into_iter().filter(|f| !new.contains(f)) {
                    if path.is_empty() || desired_whole(&d, &path, &c.policy, false) {
                        continue; // replaced as part of a value Nix owns whole
                    }
                    let declared = at(&d, &path);
                    let last = at(&l, &path);
                    let ok = match &fact {
                        Fact::Element(e) => {
                            let owned_elem = |v: Option<&Value>| {
                                v.and_then(Value::as_array)
                                    .is_some_and(|a| a.contains(e))
                            };
                            declared.is_some_and(|d| !is_string_array(d) || atomic(&c.policy, &path))
                                || (owned_elem(last) && !owned_elem(declared))
                        }
                        Fact::Leaf(v) => {
                            declared.is_some()
                                || last == Some(v)
                        }
                        Fact::EmptyObject | Fact::Array => {
                            declared.is_some() || last.is_some()
                        }
                    };
                    prop_assert!(ok, "removed {:?} at {:?}, which Nix did not own", fact, path);
                }
            }

            #[test]
            fn every_desired_value_holds(c in case()) {
                let (after, _) = applied(&c);
                let mut bad = Vec::new();
                check_desired(&c.desired, &Value::Object(after), &mut Vec::new(), &c.policy, false, &mut bad);
                prop_assert!(bad.is_empty(), "{:#?}", bad);
            }

            #[test]
            fn declared_objects_are_objects(c in case()) {
                // The root is an object by type (`&mut Map`); below it every
                // object Nix declares, empty or not, must be an object.
                let (after, _) = applied(&c);
                let mut bad = Vec::new();
                check_desired(&c.desired, &Value::Object(after), &mut Vec::new(), &c.policy, true, &mut bad);
                prop_assert!(bad.is_empty(), "{:#?}", bad);
            }

            #[test]
            fn patch_turns_old_live_into_new_live(c in case()) {
                let (after, report) = applied(&c);
                let mut doc = Value::Object(c.live.clone());
                let patched = json_patch::patch(&mut doc, &report.to_patch());
                prop_assert!(patched.is_ok(), "{:?}", patched);
                prop_assert_eq!(doc, Value::Object(after));
            }

            #[test]
            fn partial_live_gives_the_same_result(c in case()) {
                let owned = |k: &String| {
                    c.desired.contains_key(k) || c.last.as_ref().is_some_and(|l| l.contains_key(k))
                };
                let (full, full_report) = applied(&c);
                let partial_case = Case {
                    live: c.live.iter().filter(|(k, _)| owned(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
                    ..c.clone()
                };
                let (partial, partial_report) = applied(&partial_case);
                let full_owned: Map<String, Value> =
                    full.into_iter().filter(|(k, _)| owned(k)).collect();
                prop_assert_eq!(
                    serde_json::to_string(&full_owned).unwrap_or_default(),
                    serde_json::to_string(&partial).unwrap_or_default()
                );
                prop_assert_eq!(full_report, partial_report);
            }

            #[test]
            fn pruning_is_complete(c in case()) {
                let (after, _) = applied(&c);
                let mut bad = Vec::new();
                if let Some(last) = &c.last {
                    let d = Value::Object(c.desired.clone());
                    let after = Value::Object(after);
                    check_pruned(last, Some(&d), Some(&after), &mut Vec::new(), &c.policy, &mut bad);
                }
                prop_assert!(bad.is_empty(), "{:#?}", bad);
            }

            /// A live array under a string set Nix declares or declared keeps
            /// every element but Nix's former strings, in order, whatever
            /// the other elements are (non-strings included).
            #[test]
            fn list_elements_are_never_lost(c in case()) {
                let (after, _) = applied(&c);
                let d = Value::Object(c.desired.clone());
                let l = Value::Object(c.last.clone().unwrap_or_default());
                let after = Value::Object(after);
                let mut lists = Vec::new();
                arrays(&c.live, &mut Vec::new(), &mut lists);
                for (path, before) in lists {
                    let (declared, last) = (at(&d, &path), at(&l, &path));
                    let string_set = match declared {
                        Some(d) => is_string_array(d),
                        None => last.is_some_and(is_string_array),
                    };
                    let whole = desired_whole(&d, &path, &c.policy, false)
                        || (1..=path.len()).any(|n| atomic(&c.policy, &path[..n]));
                    if !string_set || whole {
                        continue;
                    }
                    let holds = |v: Option<&Value>, e: &Value| {
                        v.and_then(Value::as_array).is_some_and(|a| a.contains(e))
                    };
                    let kept: Vec<&Value> = before
                        .iter()
                        .filter(|e| !(e.is_string() && holds(last, e) && !holds(declared, e)))
                        .collect();
                    let now = at(&after, &path).and_then(Value::as_array);
                    let ok = match now {
                        Some(now) => subsequence(&kept, now),
                        None => kept.is_empty(),
                    };
                    prop_assert!(ok, "at {:?}: {:?} became {:?}", path, before, now);
                }
            }

            #[test]
            fn report_is_in_path_order_and_paths_never_nest(c in case()) {
                let (_, report) = applied(&c);
                for pair in report.changes.windows(2) {
                    let (a, b) = (&pair[0].path, &pair[1].path);
                    prop_assert!(a < b && !b.starts_with(a), "{:?} then {:?}", a, b);
                }
            }
        }
    }
}
