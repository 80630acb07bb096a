//! `fake-lsp`: a tiny stdio language server for the real-Claude test tier.
//!
//! It speaks LSP's JSON-RPC 2.0 over stdin/stdout, each message framed by a
//! `Content-Length: <n>` header and a blank line. It answers `initialize`
//! (hover, definition and document symbols offered), `shutdown`,
//! `textDocument/hover` (a text naming the server and the position asked,
//! see [`hover_text`]), `textDocument/documentSymbol` (none) and
//! `textDocument/definition` (none); other requests get "method not found",
//! notifications get no answer, and the `exit` notification ends it.
//!
//! Its purpose is to be seen: every start appends one JSON line
//! `{"event":"start","pid":…,"cwd":…,"args":[…]}` to a log file, and every
//! message it reads a line `{"event":"request"|"notification","method":…,
//! "params":…}`, so a test can prove that a server started, where, and what
//! it was asked. The log file is named by `--log <file>` or else by
//! `FAKE_LSP_LOG`; with neither it logs nothing. `--name <name>` names the
//! server in its hover text. Lines are appended with one `write` on a file
//! opened with `O_APPEND`, so servers sharing a log do not interleave within
//! a line.
//!
//! Exit status: 0 at end of input or on `exit`; 2 on bad arguments, an
//! unwritable log, or input that is not LSP framing (message on stderr).

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

#[path = "support/log.rs"]
mod log;
use log::append;

/// The arguments: where to log, and the name shown in hover texts.
struct Args {
    log: Option<PathBuf>,
    name: String,
}

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&raw) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("fake-lsp: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(raw: &[OsString]) -> Result<(), String> {
    let args = parse_args(raw)?;
    let cwd = std::env::current_dir().unwrap_or_default();
    append(
        args.log.as_ref(),
        &json!({
            "event": "start",
            "pid": std::process::id(),
            "cwd": cwd,
            "args": raw.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
        }),
    )?;
    serve(&args)
}

/// `--log <file>` (else `FAKE_LSP_LOG`) and `--name <name>` (else
/// `fake-lsp`); other arguments (such as `--stdio`) are ignored.
fn parse_args(raw: &[OsString]) -> Result<Args, String> {
    let mut log = None;
    let mut name = None;
    let mut iter = raw.iter();
    while let Some(arg) = iter.next() {
        if arg == "--log" {
            let path = iter.next().ok_or("--log needs a file name")?;
            log = Some(PathBuf::from(path));
        } else if arg == "--name" {
            let value = iter.next().ok_or("--name needs a name")?;
            name = Some(value.to_string_lossy().into_owned());
        }
    }
    Ok(Args {
        log: log.or_else(|| std::env::var_os("FAKE_LSP_LOG").map(PathBuf::from)),
        name: name.unwrap_or_else(|| "fake-lsp".to_string()),
    })
}

/// Reads one framed message; `None` at end of input.
fn read_message(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, String> {
    let mut length = None;
    loop {
        let mut line = String::new();
        let read = input
            .read_line(&mut line)
            .map_err(|e| format!("reading stdin: {e}"))?;
        if read == 0 {
            return if length.is_none() {
                Ok(None)
            } else {
                Err("stdin ended inside a message header".to_string())
            };
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (field, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not an LSP header line: {line:?}"))?;
        if field.trim().eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|e| format!("bad Content-Length {value:?}: {e}"))?;
            length = Some(n);
        }
    }
    let length = length.ok_or("an LSP message without Content-Length")?;
    let mut body = vec![0; length];
    input
        .read_exact(&mut body)
        .map_err(|e| format!("reading a {length}-byte message body: {e}"))?;
    Ok(Some(body))
}

/// Writes one framed message.
fn write_message(output: &mut impl Write, message: &Value) -> Result<(), String> {
    let body = message.to_string();
    write!(output, "Content-Length: {}\r\n\r\n{body}", body.len())
        .and_then(|()| output.flush())
        .map_err(|e| format!("writing stdout: {e}"))
}

/// Answers messages until stdin ends or `exit` arrives.
fn serve(args: &Args) -> Result<(), String> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut output = io::stdout().lock();
    while let Some(body) = read_message(&mut input)? {
        let Ok(message) = serde_json::from_slice::<Value>(&body) else {
            let reply = json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": "parse error"}});
            write_message(&mut output, &reply)?;
            continue;
        };
        let method = message.get("method").and_then(Value::as_str);
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        let id = message.get("id").cloned();
        let Some(method) = method else {
            // A response to a request of ours; this server sends none.
            continue;
        };
        let kind = if id.is_some() {
            "request"
        } else {
            "notification"
        };
        append(
            args.log.as_ref(),
            &json!({"event": kind, "method": method, "params": params}),
        )?;
        let Some(id) = id else {
            if method == "exit" {
                return Ok(());
            }
            continue;
        };
        let reply = match answer(method, &params, &args.name) {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, text)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": text}})
            }
        };
        write_message(&mut output, &reply)?;
    }
    Ok(())
}

/// The text of a hover answer: the server's name, the document and the
/// zero-based position, e.g. `fake-lsp zz: hover at 0:3 of file:///r/a.zz`.
fn hover_text(name: &str, params: &Value) -> String {
    let uri = params["textDocument"]["uri"].as_str().unwrap_or("?");
    let line = &params["position"]["line"];
    let character = &params["position"]["character"];
    format!("fake-lsp {name}: hover at {line}:{character} of {uri}")
}

fn answer(method: &str, params: &Value, name: &str) -> Result<Value, (i64, String)> {
    match method {
        "initialize" => Ok(json!({
            "capabilities": {
                "textDocumentSync": 1,
                "hoverProvider": true,
                "definitionProvider": true,
                "documentSymbolProvider": true,
            },
            "serverInfo": {"name": "fake-lsp", "version": env!("CARGO_PKG_VERSION")},
        })),
        "shutdown" => Ok(Value::Null),
        "textDocument/hover" => Ok(json!({
            "contents": {"kind": "plaintext", "value": hover_text(name, params)},
        })),
        "textDocument/documentSymbol" => Ok(json!([])),
        "textDocument/definition" => Ok(Value::Null),
        _ => Err((-32601, format!("method not found: {method}"))),
    }
}
