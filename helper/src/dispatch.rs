//! The `claude` dispatcher: which account a directory gets
//! (`programs.claude-code.defaultAccount` and `accountFor`).
//!
//! Guarantees: the choice depends only on `CLAUDE_ACCOUNT`, the manifest and
//! the directory; `CLAUDE_ACCOUNT` (when set and not empty) wins, else the
//! longest `accountFor` directory that contains the directory (whole path
//! components, both sides normalised with links resolved), else
//! `defaultAccount`; when nothing applies the error names every option to
//! set. Reads only: it creates, writes and runs nothing.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::manifest::{Manifest, expand_home, normalize};

/// The variable that picks the account for one command.
pub const ACCOUNT_VAR: &str = "CLAUDE_ACCOUNT";

/// Why a directory gets its account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "rule")]
pub enum Reason {
    /// `CLAUDE_ACCOUNT` names it.
    Environment,
    /// The longest `accountFor` directory containing the directory.
    AccountFor {
        /// The directory as declared (`~/…` kept).
        declared: String,
    },
    /// `defaultAccount`.
    Default,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Environment => write!(f, "{ACCOUNT_VAR} is set"),
            Reason::AccountFor { declared } => write!(f, "accountFor {declared}"),
            Reason::Default => f.write_str("defaultAccount"),
        }
    }
}

/// The account a directory gets, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    pub account: String,
    pub reason: Reason,
}

/// Chooses the account for `cwd`. `from_env` is the value of
/// [`ACCOUNT_VAR`], if set.
pub fn choose(m: &Manifest, home: &Path, cwd: &Path, from_env: Option<&str>) -> Result<Choice> {
    if let Some(name) = from_env.filter(|n| !n.is_empty()) {
        m.account(name)
            .map_err(|e| anyhow::anyhow!("{ACCOUNT_VAR}={name}: {e:#}"))?;
        return Ok(Choice {
            account: name.to_string(),
            reason: Reason::Environment,
        });
    }
    let here = resolve(cwd);
    let mut best: Option<(usize, &str, &str)> = None;
    for (declared, account) in &m.account_for {
        let dir = resolve(&expand_home(Path::new(declared), home));
        if !here.starts_with(&dir) {
            continue;
        }
        let depth = dir.components().count();
        match best {
            Some((d, _, other)) if d == depth && other != account => anyhow::bail!(
                "accountFor maps {declared} to {account} and the same directory, under another spelling, to {other}; keep one of them in programs.claude-code.accountFor"
            ),
            Some((d, _, _)) if d >= depth => {}
            _ => best = Some((depth, declared, account)),
        }
    }
    if let Some((_, declared, account)) = best {
        return Ok(Choice {
            account: account.to_string(),
            reason: Reason::AccountFor {
                declared: declared.to_string(),
            },
        });
    }
    if let Some(name) = &m.default_account {
        return Ok(Choice {
            account: name.clone(),
            reason: Reason::Default,
        });
    }
    let names: Vec<&str> = m.accounts.keys().map(String::as_str).collect();
    anyhow::bail!(
        "no account is chosen for {}: run with {ACCOUNT_VAR}=<account> for this command, map a parent directory to an account with programs.claude-code.accountFor, or set programs.claude-code.defaultAccount (accounts: {})",
        cwd.display(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )
}

/// `path` normalised, with links resolved as far as it exists: a declared
/// directory that does not exist yet still matches lexically.
fn resolve(path: &Path) -> PathBuf {
    let path = normalize(path);
    if let Ok(canonical) = std::fs::canonicalize(&path) {
        return canonical;
    }
    // Resolve the longest existing ancestor and keep the rest as written.
    let mut rest = Vec::new();
    let mut base = path.as_path();
    while let Some(parent) = base.parent() {
        rest.push(base.file_name().map(PathBuf::from).unwrap_or_default());
        if let Ok(canonical) = std::fs::canonicalize(parent) {
            return rest.iter().rev().fold(canonical, |acc, c| acc.join(c));
        }
        base = parent;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(default: Option<&str>, map: &[(&str, &str)]) -> Manifest {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/manifest.golden.json"))
                .unwrap();
        let mut m: Manifest = serde_json::from_value(golden).unwrap();
        m.default_account = default.map(str::to_string);
        m.account_for = map
            .iter()
            .map(|(d, a)| (d.to_string(), a.to_string()))
            .collect();
        m
    }

    #[test]
    fn longest_whole_component_prefix_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        let work = home.join("work");
        std::fs::create_dir_all(work.join("acme/app")).unwrap();
        std::fs::create_dir_all(home.join("workshop")).unwrap();
        let m = manifest(None, &[("~/work", "max"), ("~/work/acme", "pro")]);
        let pick = |dir: &Path| choose(&m, &home, dir, None);
        assert_eq!(pick(&work.join("acme/app")).unwrap().account, "pro");
        assert_eq!(
            pick(&work).unwrap(),
            Choice {
                account: "max".into(),
                reason: Reason::AccountFor {
                    declared: "~/work".into()
                }
            }
        );
        let err = pick(&home.join("workshop")).unwrap_err().to_string();
        assert!(
            err.contains("CLAUDE_ACCOUNT") && err.contains("defaultAccount"),
            "{err}"
        );
    }

    #[test]
    fn links_are_resolved_on_both_sides() {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(home.join("data/work/app")).unwrap();
        std::os::unix::fs::symlink(home.join("data/work"), home.join("work")).unwrap();
        let m = manifest(Some("pro"), &[("~/work", "max")]);
        let got = choose(&m, &home, &home.join("data/work/app"), None).unwrap();
        assert_eq!(got.account, "max");
        let got = choose(&m, &home, &home.join("work/app/../app"), None).unwrap();
        assert_eq!(got.account, "max");
        let got = choose(&m, &home, &home.join("data"), None).unwrap();
        assert_eq!(got.reason, Reason::Default);
    }

    #[test]
    fn the_environment_wins_and_must_name_an_account() {
        let home = Path::new("/nonexistent-home");
        let m = manifest(Some("pro"), &[("/", "pro")]);
        let got = choose(&m, home, Path::new("/tmp"), Some("max")).unwrap();
        assert_eq!(got.reason, Reason::Environment);
        assert_eq!(got.account, "max");
        let err = format!(
            "{:#}",
            choose(&m, home, Path::new("/tmp"), Some("nope")).unwrap_err()
        );
        assert!(
            err.contains("CLAUDE_ACCOUNT=nope") && err.contains("max, pro"),
            "{err}"
        );
        // An empty variable is as good as unset.
        let got = choose(&m, home, Path::new("/tmp"), Some("")).unwrap();
        assert_eq!(got.account, "pro");
    }
}
