//! `fake-mcp`: a tiny stdio MCP server for the real-Claude test tier.
//!
//! It speaks JSON-RPC 2.0, one message per line on stdin/stdout, and answers
//! `initialize`, `ping`, `tools/list` (one tool, `echo`) and `tools/call`;
//! notifications get no answer, other requests a "method not found" error.
//!
//! Its purpose is to be seen: every start appends one JSON line
//! `{"event":"start","pid":…,"cwd":…,"args":[…]}` to a log file, and every
//! `tools/call` a line `{"event":"call","arguments":…}`, so a test can prove
//! that a server did, or did not, start. The log file is named by
//! `--log <file>` or else by `FAKE_MCP_LOG`; with neither it logs nothing.
//! Lines are appended with one `write` on a file opened with `O_APPEND`, so
//! concurrent servers sharing a log do not interleave within a line.
//!
//! Exit status: 0 at end of input; 2 on bad arguments or an unwritable log
//! (message on stderr).

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

#[path = "support/log.rs"]
mod log;
use log::append;

/// The one tool this server offers.
const TOOL: &str = "echo";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let log = match log_path(&args) {
        Ok(log) => log,
        Err(msg) => {
            eprintln!("fake-mcp: {msg}");
            return ExitCode::from(2);
        }
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let start = json!({
        "event": "start",
        "pid": std::process::id(),
        "cwd": cwd,
        "args": args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
    });
    if let Err(msg) = append(log.as_ref(), &start) {
        eprintln!("fake-mcp: {msg}");
        return ExitCode::from(2);
    }
    match serve(log.as_ref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("fake-mcp: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `--log <file>` among the arguments, else `FAKE_MCP_LOG`.
fn log_path(args: &[OsString]) -> Result<Option<PathBuf>, String> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--log" {
            return iter
                .next()
                .map(|p| Some(PathBuf::from(p)))
                .ok_or_else(|| "--log needs a file name".to_string());
        }
    }
    Ok(std::env::var_os("FAKE_MCP_LOG").map(PathBuf::from))
}

/// Answers requests until stdin ends.
fn serve(log: Option<&PathBuf>) -> Result<(), String> {
    let stdin = io::stdin();
    let mut stdout = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            let reply = json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": "parse error"}});
            writeln!(stdout, "{reply}").map_err(|e| format!("writing stdout: {e}"))?;
            continue;
        };
        // A notification (no id) gets no answer.
        let Some(id) = request.get("id").cloned() else {
            continue;
        };
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let params = request.get("params").cloned().unwrap_or(Value::Null);
        let reply = match answer(method, &params, log)? {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            }
        };
        writeln!(stdout, "{reply}").map_err(|e| format!("writing stdout: {e}"))?;
        stdout.flush().map_err(|e| format!("writing stdout: {e}"))?;
    }
    Ok(())
}

/// The result of one request, or a JSON-RPC error.
type Answer = Result<Value, (i64, String)>;

fn answer(method: &str, params: &Value, log: Option<&PathBuf>) -> Result<Answer, String> {
    Ok(match method {
        "initialize" => Ok(json!({
            "protocolVersion": params.get("protocolVersion").cloned()
                .unwrap_or_else(|| json!("2025-06-18")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fake-mcp", "version": env!("CARGO_PKG_VERSION")},
        })),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": [{
            "name": TOOL,
            "description": "Returns its text argument.",
            "inputSchema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
        }]})),
        "tools/call" if params.get("name").and_then(Value::as_str) == Some(TOOL) => {
            let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
            append(log, &json!({"event": "call", "arguments": arguments}))?;
            let text = arguments.get("text").and_then(Value::as_str).unwrap_or("");
            Ok(json!({"content": [{"type": "text", "text": text}], "isError": false}))
        }
        "tools/call" => Err((-32602, format!("unknown tool; this server has only {TOOL}"))),
        _ => Err((-32601, format!("method not found: {method}"))),
    })
}
