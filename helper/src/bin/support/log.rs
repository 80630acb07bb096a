//! The event log of the fake servers (`fake-mcp`, `fake-lsp`): one JSON
//! object per line, appended, so that a test reads what a server was asked
//! in order.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

/// Appends `event` as one line to the log, if there is one.
pub fn append(log: Option<&PathBuf>, event: &Value) -> Result<(), String> {
    let Some(path) = log else { return Ok(()) };
    let mut line = event.to_string();
    line.push('\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| {
            format!(
                "appending to the log {}: {e}; pass a writable --log",
                path.display()
            )
        })
}
