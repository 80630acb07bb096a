//! A runtime's base: the values it last agreed on with the account, in
//! `<runtime>/.claude-accounts/synced.json`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::{Scope, Values};
use crate::managed::{PendingFile, STATE_DIR};

/// The base record of a runtime: `<runtime>/.claude-accounts/synced.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Base {
    project_key: Option<String>,
    values: Values,
}

pub fn base_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(STATE_DIR).join("synced.json")
}

/// The base of `runtime_dir` for `scope` (empty when missing or damaged, or
/// recorded for another project).
pub fn read_base(runtime_dir: &Path, scope: &Scope) -> Values {
    let base: Option<Base> = std::fs::read(base_path(runtime_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match base {
        Some(mut b) => {
            if b.project_key.as_deref() != scope.project.as_ref().map(|(k, _)| k.as_str()) {
                b.values.project = Map::new();
            }
            b.values
        }
        None => Values::default(),
    }
}

/// Records `values` as the base, unless it is `current`, the base as read.
/// Not durable: a base lost in a crash reads as none, and the next sync
/// treats every value as new on both sides.
pub fn write_base(
    runtime_dir: &Path,
    scope: &Scope,
    current: &Values,
    values: &Values,
) -> Result<()> {
    match base_to_write(runtime_dir, scope, current, values) {
        Some(base) => base.write(),
        None => Ok(()),
    }
}

/// The base [`write_base`] would write, if it would write one.
pub fn base_to_write(
    runtime_dir: &Path,
    scope: &Scope,
    current: &Values,
    values: &Values,
) -> Option<PendingFile> {
    let path = base_path(runtime_dir);
    if current == values && path.exists() {
        return None;
    }
    let base = Base {
        project_key: scope.project.as_ref().map(|(k, _)| k.clone()),
        values: values.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&base).expect("serialisable");
    Some(PendingFile::new(path, bytes))
}
