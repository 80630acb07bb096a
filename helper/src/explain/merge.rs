//! Claude Code's merge of its settings files, with where every value came
//! from: objects merge key by key, arrays are concatenated (lowest level
//! first) and de-duplicated, any other value comes from the highest level
//! that sets it; a value of another type at a higher level replaces the
//! lower one whole. Exception (Claude Code's settings docs): the managed
//! level's `fallbackModel` and `availableModels` replace the lower levels'
//! instead of merging with them.

use serde::Serialize;
use serde_json::{Map, Value};

/// Top-level keys whose managed value replaces the lower levels' values.
const MANAGED_REPLACES: &[&str] = &["fallbackModel", "availableModels"];

/// One effective setting: a leaf of the merged object (a scalar, an array
/// or an empty object), with its sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    /// Dotted path (`permissions.allow`); a key holding a dot is written as is.
    pub key: String,
    pub value: Value,
    /// The files the value comes from: one for a scalar, every contributing
    /// file for an array. Highest level first.
    pub from: Vec<usize>,
    /// Files that set this key (or a parent of it, to a non-object) and lost,
    /// highest first, with the value each one set.
    pub overrode: Vec<(usize, Value)>,
}

/// A leaf set by one file.
struct Leaf {
    path: Vec<String>,
    value: Value,
    file: usize,
}

fn leaves(value: &Value, path: &mut Vec<String>, file: usize, out: &mut Vec<Leaf>) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                path.push(k.clone());
                leaves(v, path, file, out);
                path.pop();
            }
        }
        other => out.push(Leaf {
            path: path.clone(),
            value: other.clone(),
            file,
        }),
    }
}

/// Merges `layers` (file index and parsed object), given lowest level first,
/// the way Claude Code does, and returns the merged object and every leaf
/// of it with its sources. `managed(i)` says whether file `i` is a managed
/// file.
pub fn merge(
    layers: &[(usize, &Map<String, Value>)],
    managed: &dyn Fn(usize) -> bool,
) -> (Value, Vec<Setting>) {
    let mut merged = Value::Object(Map::new());
    let mut all = Vec::new();
    // Managed replacements: the lower levels' values of these keys are
    // dropped once a managed file sets them.
    let replaced: Vec<&str> = MANAGED_REPLACES
        .iter()
        .copied()
        .filter(|k| {
            layers
                .iter()
                .any(|(i, o)| managed(*i) && o.contains_key(*k))
        })
        .collect();
    let mut first_managed_seen = Vec::new();
    for (i, obj) in layers {
        let mut obj = (*obj).clone();
        for key in &replaced {
            if managed(*i) && obj.contains_key(*key) && !first_managed_seen.contains(key) {
                first_managed_seen.push(*key);
                if let Value::Object(m) = &mut merged {
                    m.remove(*key);
                }
            }
            if !managed(*i) {
                obj.remove(*key);
            }
        }
        merge_into(&mut merged, &Value::Object(obj.clone()));
        leaves(&Value::Object(obj), &mut Vec::new(), *i, &mut all);
    }
    let mut out = Vec::new();
    let mut result = Vec::new();
    leaves(&merged, &mut Vec::new(), usize::MAX, &mut result);
    for leaf in result {
        if leaf.path.is_empty() {
            continue;
        }
        let setters: Vec<&Leaf> = all.iter().filter(|l| l.path == leaf.path).collect();
        let from: Vec<usize> = match &leaf.value {
            Value::Array(_) => {
                // Every file whose array reached the result.
                let last_non_array = setters
                    .iter()
                    .rposition(|l| !l.value.is_array())
                    .map_or(0, |p| p + 1);
                setters[last_non_array..]
                    .iter()
                    .rev()
                    .map(|l| l.file)
                    .collect()
            }
            _ => setters.last().map(|l| vec![l.file]).unwrap_or_default(),
        };
        let mut overrode: Vec<(usize, Value)> = all
            .iter()
            .filter(|l| {
                !from.contains(&l.file)
                    && (l.path == leaf.path
                        || (l.path.len() < leaf.path.len() && leaf.path.starts_with(&l.path)))
            })
            .map(|l| (l.file, l.value.clone()))
            .collect();
        overrode.reverse();
        out.push(Setting {
            key: leaf.path.join("."),
            value: leaf.value,
            from,
            overrode,
        });
    }
    (merged, out)
}

/// Merges `higher` over `base` in place: objects key by key, arrays
/// concatenated and de-duplicated (first occurrence kept), anything else
/// replaced.
pub fn merge_into(base: &mut Value, higher: &Value) {
    match (base, higher) {
        (Value::Object(b), Value::Object(h)) => {
            for (k, v) in h {
                match b.get_mut(k) {
                    Some(existing) => merge_into(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(h)) => {
            for v in h {
                if !b.contains(v) {
                    b.push(v.clone());
                }
            }
            let mut seen = Vec::new();
            b.retain(|v| {
                let fresh = !seen.contains(v);
                if fresh {
                    seen.push(v.clone());
                }
                fresh
            });
        }
        (b, h) => *b = h.clone(),
    }
}

/// A permission rule, `Tool` or `Tool(specifier)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule<'a> {
    tool: &'a str,
    spec: Option<&'a str>,
}

fn parse_rule(rule: &str) -> Rule<'_> {
    match rule.split_once('(') {
        Some((tool, rest)) if rest.ends_with(')') => Rule {
            tool: tool.trim(),
            spec: Some(&rest[..rest.len() - 1]).filter(|s| !s.is_empty() && *s != "*"),
        },
        _ => Rule {
            tool: rule.trim(),
            spec: None,
        },
    }
}

/// The literal prefix of a specifier that ends in a wildcard (`npm run:*`,
/// `npm run *`, `git*`), or `None` for an exact specifier.
fn wildcard_prefix(spec: &str) -> Option<&str> {
    spec.strip_suffix(":*")
        .or_else(|| spec.strip_suffix('*'))
        .filter(|p| !p.contains('*'))
}

/// Whether every use `rule` matches is also matched by `by`: the same rule,
/// a rule for the whole tool, or a wildcard rule whose prefix covers it.
pub fn covers(by: &str, rule: &str) -> bool {
    let (by, rule) = (parse_rule(by), parse_rule(rule));
    if by.tool != rule.tool {
        return false;
    }
    match (by.spec, rule.spec) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(b), Some(r)) if b == r => true,
        (Some(b), Some(r)) => match wildcard_prefix(b) {
            Some(prefix) => {
                let r = wildcard_prefix(r).unwrap_or(r);
                r.starts_with(prefix)
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(files: &[Value], managed: &[usize]) -> (Value, Vec<Setting>) {
        let maps: Vec<Map<String, Value>> = files
            .iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect();
        let layers: Vec<(usize, &Map<String, Value>)> = maps.iter().enumerate().collect();
        merge(&layers, &|i| managed.contains(&i))
    }

    #[test]
    fn scalars_from_the_highest_arrays_concatenated_objects_by_key() {
        let (merged, settings) = run(
            &[
                json!({"model": "a", "permissions": {"allow": ["X", "Y"]}, "env": {"A": "1"}}),
                json!({"model": "b", "permissions": {"allow": ["Y", "Z"], "deny": ["W"]}}),
                json!({"env": {"B": "2"}}),
            ],
            &[],
        );
        pretty_assertions::assert_eq!(
            merged,
            json!({"model": "b", "permissions": {"allow": ["X", "Y", "Z"], "deny": ["W"]}, "env": {"A": "1", "B": "2"}})
        );
        let model = settings.iter().find(|s| s.key == "model").unwrap();
        assert_eq!(
            (model.from.clone(), model.overrode.clone()),
            (vec![1], vec![(0, json!("a"))])
        );
        let allow = settings
            .iter()
            .find(|s| s.key == "permissions.allow")
            .unwrap();
        assert_eq!(allow.from, vec![1, 0]);
        let b = settings.iter().find(|s| s.key == "env.B").unwrap();
        assert_eq!(b.from, vec![2]);
    }

    #[test]
    fn a_value_of_another_type_replaces_whole() {
        let (merged, settings) = run(
            &[json!({"hooks": {"Stop": []}}), json!({"hooks": "none"})],
            &[],
        );
        assert_eq!(merged, json!({"hooks": "none"}));
        let hooks = settings.iter().find(|s| s.key == "hooks").unwrap();
        assert_eq!(hooks.from, vec![1]);
        let (merged, settings) = run(&[json!({"a": 1}), json!({"a": {"b": 2}})], &[]);
        assert_eq!(merged, json!({"a": {"b": 2}}));
        let ab = settings.iter().find(|s| s.key == "a.b").unwrap();
        assert_eq!(ab.overrode, vec![(0, json!(1))]);
    }

    #[test]
    fn managed_available_models_replace_lower_levels() {
        let (merged, _) = run(
            &[
                json!({"availableModels": ["a", "b"], "permissions": {"allow": ["X"]}}),
                json!({"availableModels": ["c"], "permissions": {"allow": ["Y"]}}),
            ],
            &[1],
        );
        assert_eq!(
            merged,
            json!({"availableModels": ["c"], "permissions": {"allow": ["X", "Y"]}})
        );
    }

    #[test]
    fn rule_coverage() {
        assert!(covers("Bash", "Bash(ls)"));
        assert!(covers("Bash(*)", "Bash(ls -la)"));
        assert!(covers("Bash(rm:*)", "Bash(rm -rf /)"));
        assert!(covers("Bash(git *)", "Bash(git push:*)"));
        assert!(covers("Bash(ls)", "Bash(ls)"));
        assert!(!covers("Bash(ls)", "Bash(ls -la)"));
        assert!(!covers("Bash(rm:*)", "Bash"));
        assert!(!covers("Read", "Bash(ls)"));
        assert!(!covers("Bash(git push)", "Bash(git *)"));
    }
}
