//! A loopback stand-in of the Anthropic Messages API, enough for Claude Code
//! to run a session offline: `POST /v1/messages` answers with a streamed
//! (SSE) or plain message, `POST /v1/messages/count_tokens` with a count,
//! anything else with a 404 in the API's error shape. Every request is
//! recorded (method, path, headers with lower-case names, JSON body) for the
//! tests to inspect.
//!
//! Answers are text (`stand-in reply`) unless a [`ToolRule`] matches: then
//! the answer is one `tool_use` block of the rule's tool, and once the
//! conversation carries that tool's result, text again. So a prompt naming a
//! rule's trigger makes Claude run the tool (subject to its permissions) and
//! send the result back.
//!
//! One thread accepts, one thread serves each connection (keep-alive). The
//! server lives as long as its [`ApiStandIn`]; dropping it stops accepting.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

/// The text every plain answer carries.
pub const REPLY_TEXT: &str = "stand-in reply";

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path with query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A `POST /v1/messages` (not `count_tokens`).
    pub fn is_message(&self) -> bool {
        self.method == "POST" && self.path.split('?').next() == Some("/v1/messages")
    }

    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    /// The whole body as JSON text, for "does the request mention X" checks.
    pub fn body_text(&self) -> String {
        self.body.to_string()
    }
}

/// The models of the `POST /v1/messages` among `requests`, in order.
pub fn message_models(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.is_message())
        .map(|r| r.model().unwrap_or("<none>").to_string())
        .collect()
}

/// "When a user message contains `trigger`, answer with a `tool_use` of
/// `tool` with `input`."
#[derive(Debug, Clone)]
pub struct ToolRule {
    pub trigger: String,
    pub tool: String,
    pub input: Value,
}

impl ToolRule {
    /// Runs `command` with the Bash tool when a prompt contains `trigger`.
    pub fn bash(trigger: &str, command: &str) -> ToolRule {
        ToolRule {
            trigger: trigger.to_string(),
            tool: "Bash".to_string(),
            input: json!({"command": command, "description": "run the test's command"}),
        }
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    rules: Mutex<Vec<ToolRule>>,
    stop: AtomicBool,
}

/// The running stand-in.
pub struct ApiStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ApiStandIn {
    /// Listens on an ephemeral loopback port and serves in the background.
    pub fn start() -> ApiStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let addr = listener.local_addr().expect("the listener's address");
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn_shared = Arc::clone(&accept_shared);
                thread::spawn(move || serve(stream, &conn_shared));
            }
        });
        ApiStandIn { addr, shared }
    }

    /// `http://127.0.0.1:<port>`, for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule (rules are tried in the order added).
    pub fn add_rule(&self, rule: ToolRule) {
        self.shared.rules.lock().unwrap().push(rule);
    }

    /// How many requests arrived so far (a mark for [`ApiStandIn::since`]).
    pub fn count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// The requests that arrived after `mark`.
    pub fn since(&self, mark: usize) -> Vec<Request> {
        self.shared.requests.lock().unwrap()[mark..].to_vec()
    }
}

impl Drop for ApiStandIn {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one connection until the client closes it.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    while let Some(request) = read_request(&mut reader) {
        let (status, content_type, body) = respond(&request, shared);
        shared.requests.lock().unwrap().push(request);
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nrequest-id: req_standin\r\nconnection: keep-alive\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
        let _ = writer.flush();
    }
}

/// Reads one HTTP/1.1 request; `None` at end of stream or on garbage.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let raw = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader)?
    } else {
        let length: usize = find("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut raw = vec![0; length];
        reader.read_exact(&mut raw).ok()?;
        raw
    };
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(raw);
        }
        raw.extend_from_slice(&chunk[..size]);
    }
}

/// Status line, content type and body for `request`.
fn respond(request: &Request, shared: &Shared) -> (&'static str, &'static str, Vec<u8>) {
    let route = request.path.split('?').next().unwrap_or("");
    match (request.method.as_str(), route) {
        ("POST", "/v1/messages") => {
            let content = answer_content(&request.body, &shared.rules.lock().unwrap());
            let model = request.model().unwrap_or("claude-stand-in").to_string();
            if request.body.get("stream").and_then(Value::as_bool) == Some(true) {
                ("200 OK", "text/event-stream", sse(&model, &content))
            } else {
                let stop = stop_reason(&content);
                let message = json!({
                    "id": "msg_standin", "type": "message", "role": "assistant",
                    "model": model, "content": content, "stop_reason": stop,
                    "stop_sequence": null, "usage": usage(),
                });
                (
                    "200 OK",
                    "application/json",
                    message.to_string().into_bytes(),
                )
            }
        }
        ("POST", "/v1/messages/count_tokens") => (
            "200 OK",
            "application/json",
            json!({"input_tokens": 42}).to_string().into_bytes(),
        ),
        _ => (
            "404 Not Found",
            "application/json",
            json!({"type": "error", "error": {"type": "not_found_error",
                "message": format!("the test stand-in does not serve {route}")}})
            .to_string()
            .into_bytes(),
        ),
    }
}

fn usage() -> Value {
    json!({"input_tokens": 10, "output_tokens": 5,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
}

fn stop_reason(content: &[Value]) -> &'static str {
    if content.iter().any(|c| c["type"] == "tool_use") {
        "tool_use"
    } else {
        "end_turn"
    }
}

/// The content blocks of the answer: the first rule whose trigger is in a
/// user message and whose tool result is not yet in the conversation gives a
/// `tool_use`; otherwise text.
fn answer_content(body: &Value, rules: &[ToolRule]) -> Vec<Value> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let user_text: String = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["content"].to_string())
        .collect();
    for (index, rule) in rules.iter().enumerate() {
        let id = format!("toolu_standin_{index}");
        let answered = user_text.contains(&format!("\"tool_use_id\":\"{id}\""));
        if user_text.contains(&rule.trigger) && !answered {
            return vec![
                json!({"type": "tool_use", "id": id, "name": rule.tool, "input": rule.input}),
            ];
        }
    }
    vec![json!({"type": "text", "text": REPLY_TEXT})]
}

/// The content as a Messages API event stream.
fn sse(model: &str, content: &[Value]) -> Vec<u8> {
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_standin", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage()}})];
    for (index, block) in content.iter().enumerate() {
        let (start, delta) = if block["type"] == "tool_use" {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        } else {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": start}));
        events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason(content), "stop_sequence": null},
        "usage": {"output_tokens": 5}}));
    events.push(json!({"type": "message_stop"}));
    let mut out = Vec::new();
    for event in events {
        let name = event["type"].as_str().unwrap_or("").to_string();
        out.extend_from_slice(format!("event: {name}\ndata: {event}\n\n").as_bytes());
    }
    out
}
