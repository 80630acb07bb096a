//! The three-way merge of the account's and a runtime's scoped values from
//! their base (see the parent module).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::set_members;
use crate::jsonfile::Edits;

/// The scoped values of one `.claude.json` (an absent item is not in its
/// map).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Values {
    pub top: Map<String, Value>,
    pub servers: Map<String, Value>,
    pub project: Map<String, Value>,
}

/// Changes to one side, per item: `Some(value)` to set, `None` to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    pub top: Edits,
    pub servers: Edits,
    pub project: Edits,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.top.is_empty() && self.servers.is_empty() && self.project.is_empty()
    }
}

/// The result of a three-way merge.
#[derive(Debug, Default)]
pub struct Plan {
    pub to_runtime: Diff,
    pub to_account: Diff,
    /// What both sides hold afterwards: the next base.
    pub base: Values,
    /// One line per item both sides changed differently.
    pub conflicts: Vec<String>,
    /// One line per item that went from the runtime to the account.
    pub shared: Vec<String>,
}

/// Which side's file changed last (wins conflicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Newer {
    Account,
    Runtime,
}

/// The three-way merge of `account` and `runtime` from `base`.
///
/// A side that lost every top-level key the base holds was reset (Claude
/// Code replaces a `.claude.json` it cannot parse by a fresh one): its
/// losses are not changes to propagate. The merge then runs as for a new
/// runtime, from no base: what either side holds is kept and copied to the
/// other, so the reset side is restored, and nothing is removed.
pub fn merge(account: &Values, runtime: &Values, base: &Values, newer: Newer) -> Plan {
    let reset = |side: &Values| !base.top.is_empty() && side.top.is_empty();
    if reset(account) || reset(runtime) {
        let mut plan = merge_from(account, runtime, &Values::default(), newer);
        plan.conflicts.push(format!(
            "the {} .claude.json had lost its account-wide keys (reset by Claude Code after damage?); restored them from the {}",
            if reset(account) { "account's" } else { "worktree's" },
            if reset(account) { "worktree's" } else { "account's" },
        ));
        return plan;
    }
    merge_from(account, runtime, base, newer)
}

fn merge_from(account: &Values, runtime: &Values, base: &Values, newer: Newer) -> Plan {
    let mut plan = Plan::default();
    let sections = [
        ("", &account.top, &runtime.top, &base.top),
        (
            "mcpServers.",
            &account.servers,
            &runtime.servers,
            &base.servers,
        ),
        (
            "projects[…].",
            &account.project,
            &runtime.project,
            &base.project,
        ),
    ];
    let mut next: [Map<String, Value>; 3] = Default::default();
    let mut to_runtime: [Vec<(String, Option<Value>)>; 3] = Default::default();
    let mut to_account: [Vec<(String, Option<Value>)>; 3] = Default::default();
    for (i, (label, a, r, b)) in sections.into_iter().enumerate() {
        let names: BTreeSet<&String> = a.keys().chain(r.keys()).chain(b.keys()).collect();
        for name in names {
            let (av, rv, bv) = (a.get(name), r.get(name), b.get(name));
            let agreed = if av == rv {
                av
            } else if av == bv {
                to_account[i].push((name.clone(), rv.cloned()));
                plan.shared.push(format!("{label}{name} ({})", verb(rv)));
                rv
            } else if rv == bv {
                to_runtime[i].push((name.clone(), av.cloned()));
                av
            } else {
                let (winner, side) = match newer {
                    Newer::Account => (av, "the account's"),
                    Newer::Runtime => (rv, "this worktree's"),
                };
                plan.conflicts.push(format!(
                    "{label}{name} was changed both in this worktree and in the account; kept {side} (changed last)"
                ));
                match newer {
                    Newer::Account => to_runtime[i].push((name.clone(), winner.cloned())),
                    Newer::Runtime => to_account[i].push((name.clone(), winner.cloned())),
                }
                winner
            };
            if let Some(v) = agreed {
                next[i].insert(name.clone(), v.clone());
            }
        }
    }
    let [top, servers, project] = next;
    plan.base = Values {
        top,
        servers,
        project,
    };
    let [rt_top, rt_servers, rt_project] = to_runtime;
    let [ac_top, ac_servers, ac_project] = to_account;
    plan.to_runtime = diff_of(rt_top, rt_servers, rt_project);
    plan.to_account = diff_of(ac_top, ac_servers, ac_project);
    plan
}

fn verb(v: Option<&Value>) -> &'static str {
    if v.is_some() {
        "added or changed"
    } else {
        "removed"
    }
}

fn diff_of(
    top: Vec<(String, Option<Value>)>,
    servers: Vec<(String, Option<Value>)>,
    project: Vec<(String, Option<Value>)>,
) -> Diff {
    Diff {
        top: top.into_iter().collect(),
        servers: servers.into_iter().collect(),
        project: project.into_iter().collect(),
    }
}

impl Diff {
    /// The diff restricted to items whose value in `now` still is the one
    /// in `then` (the rest changed concurrently and waits for the next sync).
    pub fn still_applicable(&self, then: &Values, now: &Values) -> Diff {
        fn unchanged(
            changes: &Edits,
            then: &Map<String, Value>,
            now: &Map<String, Value>,
        ) -> Edits {
            changes
                .iter()
                .filter(|(k, _)| then.get(*k) == now.get(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
        Diff {
            top: unchanged(&self.top, &then.top, &now.top),
            servers: unchanged(&self.servers, &then.servers, &now.servers),
            project: unchanged(&self.project, &then.project, &now.project),
        }
    }

    /// `values` with this diff applied.
    pub fn applied_to(&self, values: &Values) -> Values {
        let mut out = values.clone();
        set_members(&mut out.top, &self.top);
        set_members(&mut out.servers, &self.servers);
        set_members(&mut out.project, &self.project);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn values(v: Value) -> Values {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn one_sided_changes_flow_to_the_other_side() {
        let base =
            values(json!({"top": {"userID": "u"}, "servers": {"a": 1, "gone": 2}, "project": {}}));
        let account = values(
            json!({"top": {"userID": "u"}, "servers": {"a": 1, "gone": 2, "new": 3}, "project": {}}),
        );
        let runtime = values(
            json!({"top": {"userID": "u", "oauthAccount": {"x": 1}}, "servers": {"a": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let plan = merge(&account, &runtime, &base, Newer::Account);
        assert_eq!(plan.conflicts, Vec::<String>::new());
        assert_eq!(
            plan.to_runtime,
            Diff {
                servers: [("new".to_string(), Some(json!(3)))].into(),
                ..Diff::default()
            }
        );
        assert_eq!(
            plan.to_account,
            Diff {
                top: [("oauthAccount".to_string(), Some(json!({"x": 1})))].into(),
                servers: [("gone".to_string(), None)].into(),
                project: [("hasTrustDialogAccepted".to_string(), Some(json!(true)))].into(),
            }
        );
        assert_eq!(
            plan.base,
            values(
                json!({"top": {"userID": "u", "oauthAccount": {"x": 1}}, "servers": {"a": 1, "new": 3}, "project": {"hasTrustDialogAccepted": true}})
            )
        );
    }

    #[test]
    fn without_a_base_the_account_seeds_a_new_runtime() {
        let account = values(
            json!({"top": {"userID": "u"}, "servers": {"s": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let plan = merge(
            &account,
            &Values::default(),
            &Values::default(),
            Newer::Runtime,
        );
        assert!(plan.to_account.is_empty());
        assert_eq!(plan.to_runtime.applied_to(&Values::default()), account);
        assert_eq!(plan.base, account);
    }

    #[test]
    fn conflicts_go_to_the_side_changed_last_and_are_reported() {
        let base = values(json!({"top": {}, "servers": {"s": 1}, "project": {}}));
        let account = values(json!({"top": {}, "servers": {"s": 2}, "project": {}}));
        let runtime = values(json!({"top": {}, "servers": {"s": 3}, "project": {}}));
        let plan = merge(&account, &runtime, &base, Newer::Runtime);
        assert_eq!(plan.conflicts.len(), 1, "{:?}", plan.conflicts);
        assert!(plan.to_runtime.is_empty());
        assert_eq!(plan.to_account.applied_to(&account), runtime);
        let plan = merge(&account, &runtime, &base, Newer::Account);
        assert!(plan.to_account.is_empty());
        assert_eq!(plan.to_runtime.applied_to(&runtime), account);
    }

    #[test]
    fn a_concurrent_change_is_not_overwritten() {
        let seen = values(json!({"top": {}, "servers": {"a": 1, "b": 1}, "project": {}}));
        let now = values(json!({"top": {}, "servers": {"a": 1, "b": 9}, "project": {}}));
        let diff = Diff {
            servers: [("a".to_string(), None), ("b".to_string(), None)].into(),
            ..Diff::default()
        };
        let applicable = diff.still_applicable(&seen, &now);
        assert_eq!(applicable.servers, Edits::from([("a".to_string(), None)]));
    }

    #[test]
    fn a_reset_side_is_restored_and_nothing_is_removed() {
        let base = values(
            json!({"top": {"userID": "u", "oauthAccount": 1}, "servers": {"s": 1}, "project": {"hasTrustDialogAccepted": true}}),
        );
        let reset = values(json!({"top": {}, "servers": {}, "project": {}}));
        for newer in [Newer::Account, Newer::Runtime] {
            // The runtime was reset: the account keeps everything.
            let plan = merge(&base, &reset, &base, newer);
            assert!(plan.to_account.is_empty(), "{:?}", plan.to_account);
            assert_eq!(plan.to_runtime.applied_to(&reset), base);
            assert_eq!(plan.conflicts.len(), 1);
            // The account was reset: the worktree restores it.
            let plan = merge(&reset, &base, &base, newer);
            assert!(plan.to_runtime.is_empty());
            assert_eq!(plan.to_account.applied_to(&reset), base);
        }
    }

    #[test]
    fn a_null_value_is_a_value() {
        let account = values(json!({"top": {"k": null}, "servers": {}, "project": {}}));
        let plan = merge(
            &account,
            &Values::default(),
            &Values::default(),
            Newer::Account,
        );
        assert_eq!(
            plan.to_runtime.top,
            [("k".to_string(), Some(Value::Null))].into()
        );
        assert_eq!(plan.to_runtime.applied_to(&Values::default()), account);
    }
}
