//! Realistic inputs, generated at run time (nothing big is committed):
//! `.claude.json` files in Claude Code's `JSON.stringify(v, null, 2)` layout
//! and Home Manager manifests.
//!
//! Deterministic: the same size and seed give the same bytes on every run and
//! machine, so figures from different runs measure the same work.

use serde_json::{Map, Value, json};

/// SplitMix64: a tiny, good-enough deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A float with a full-precision fraction, like JavaScript prints costs.
    fn float(&mut self, scale: f64) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * scale
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Words for prompts: plain, accented, CJK, emoji, and the characters JSON
/// must escape (quotes, backslashes, control characters).
const WORDS: &[&str] = &[
    "fix",
    "the",
    "flaky",
    "test",
    "in",
    "src/lib.rs",
    "refactor",
    "parser",
    "so",
    "it",
    "handles",
    "\"quoted\"",
    "strings",
    "C:\\Users\\dev\\repo",
    "naïve",
    "café",
    "Ünïcödé",
    "数据库",
    "迁移",
    "テスト",
    "🚀",
    "✨",
    "👩‍💻",
    "tab\there",
    "bell\u{7}",
    "</script>",
    "`cargo test`",
    "why",
    "does",
    "CI",
    "fail?",
    "résumé",
    "Ελληνικά",
    "and",
    "then",
    "commit",
];

fn sentence(rng: &mut Rng, words: u64) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(if rng.chance(8) { '\n' } else { ' ' });
        }
        s.push_str(rng.pick(WORDS));
    }
    s
}

/// A pasted block: code or logs, with newlines, tabs, quotes and escapes.
fn pasted(rng: &mut Rng, lines: u64) -> String {
    let mut s = String::new();
    for i in 0..lines {
        match rng.below(4) {
            0 => s.push_str(&format!(
                "\tlet v{i} = parse(\"{}\\n\")?; // {}",
                rng.pick(WORDS),
                rng.pick(WORDS)
            )),
            1 => s.push_str(&format!(
                "2026-08-22T06:{:02}:{:02}.{:03}Z ERROR request failed: {{\"code\": {}, \"path\": \"C:\\\\tmp\\\\{}\"}}",
                rng.below(60),
                rng.below(60),
                rng.below(1000),
                rng.range(400, 599),
                rng.pick(WORDS)
            )),
            2 => s.push_str(&sentence(rng, 12)),
            _ => s.push_str("    at Object.<anonymous> (/home/dev/app/node_modules/lib/index.js:42:17)"),
        }
        s.push('\n');
    }
    s
}

fn history_entry(rng: &mut Rng) -> Value {
    let words = rng.range(3, 60);
    let display = sentence(rng, words);
    let mut pasted_contents = Map::new();
    if rng.chance(20) {
        let lines = rng.range(5, 400);
        pasted_contents.insert(
            "1".into(),
            json!({"id": 1, "type": "text", "content": pasted(rng, lines)}),
        );
    }
    json!({"display": display, "pastedContents": pasted_contents})
}

const MODELS: &[&str] = &[
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
];

/// One `projects` entry as Claude Code keeps it.
fn project_entry(rng: &mut Rng, trusted: bool) -> Value {
    let history: Vec<Value> = (0..rng.range(0, 100)).map(|_| history_entry(rng)).collect();
    let mut usage = Map::new();
    for model in MODELS.iter().take(rng.range(1, 3) as usize) {
        usage.insert(
            (*model).into(),
            json!({
                "inputTokens": rng.range(0, 5_000_000),
                "outputTokens": rng.range(0, 900_000),
                "cacheReadInputTokens": rng.range(0, 90_000_000_000),
                "cacheCreationInputTokens": rng.range(0, 9_000_000),
                "webSearchRequests": rng.below(20),
                "costUSD": rng.float(40.0),
                "contextWindow": 200_000,
            }),
        );
    }
    let mut local_servers = Map::new();
    if rng.chance(10) {
        local_servers.insert(
            "local-db".into(),
            json!({"type": "stdio", "command": "/usr/bin/env", "args": ["db-mcp", "--dsn", "postgres://localhost/dev?sslmode=disable"], "env": {}}),
        );
    }
    json!({
        "allowedTools": ["Bash(npm test)", "Bash(git diff:*)", "Edit(src/**)"],
        "history": history,
        "mcpContextUris": [],
        "mcpServers": local_servers,
        "enabledMcpjsonServers": [],
        "disabledMcpjsonServers": [],
        "hasTrustDialogAccepted": trusted || rng.chance(70),
        "projectOnboardingSeenCount": rng.range(0, 12),
        "hasClaudeMdExternalIncludesApproved": false,
        "hasClaudeMdExternalIncludesWarningShown": false,
        "hasCompletedProjectOnboarding": true,
        "lastCost": rng.float(25.0),
        "lastAPIDuration": rng.range(0, 9_000_000),
        "lastAPIDurationWithoutRetries": rng.range(0, 9_000_000),
        "lastToolDuration": rng.range(0, 900_000),
        "lastDuration": rng.range(0, 90_000_000),
        "lastLinesAdded": rng.range(0, 5000),
        "lastLinesRemoved": rng.range(0, 5000),
        "lastTotalInputTokens": rng.range(0, 5_000_000),
        "lastTotalOutputTokens": rng.range(0, 900_000),
        "lastTotalCacheCreationInputTokens": rng.range(0, 9_000_000),
        "lastTotalCacheReadInputTokens": rng.range(0, 90_000_000_000),
        "lastTotalWebSearchRequests": rng.below(20),
        "lastModelUsage": usage,
        "lastSessionId": rng.uuid(),
        // Beyond 2^53 (a JavaScript number cannot hold it exactly): must
        // survive byte for byte, which a decode/re-encode does not guarantee.
        "lastSessionMetricsSeed": 9_007_199_254_740_993u64 + rng.below(1 << 40),
        "lastFrameMetrics": {
            "frameDurationP50": rng.float(20.0),
            "frameDurationP99": rng.float(200.0),
            "scale": 1.5e-7,
            "counter": u64::MAX,
            "drift": -0.000_123_456_789_012_345_67,
        },
        "exampleFiles": ["src/main.rs", "src/lib.rs", "README.md", "Cargo.toml", "tests/it.rs"],
        "exampleFilesGeneratedAt": 1_787_379_775_000u64 + rng.below(1_000_000_000),
    })
}

fn project_name(rng: &mut Rng, i: u64) -> String {
    let stem = [
        "api", "web", "données", "项目", "infra", "ml-🧪", "dotfiles",
    ];
    format!(
        "/home/dev/src/{}-{i:05}/{}",
        rng.pick(&stem),
        rng.pick(&["main", "feature/ünï", "work tree"])
    )
}

/// The identity keys a logged-in account has (what runtime dirs are seeded
/// with).
fn identity(rng: &mut Rng) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("numStartups".into(), json!(rng.range(100, 2000)));
    m.insert("installMethod".into(), json!("native"));
    m.insert("autoUpdates".into(), json!(false));
    m.insert(
        "tipsHistory".into(),
        json!({"new-user-warmup": 1, "plan-mode-for-complex-tasks": 37, "memory-command": 112, "git-worktrees": 208}),
    );
    m.insert("promptQueueUseCount".into(), json!(rng.range(0, 90)));
    m.insert(
        "userID".into(),
        json!(format!("{:016x}{:016x}", rng.next(), rng.next())),
    );
    m.insert("firstStartTime".into(), json!("2025-03-01T10:22:33.123Z"));
    m.insert(
        "oauthAccount".into(),
        json!({
            "accountUuid": rng.uuid(),
            "emailAddress": "dev@example.com",
            "organizationUuid": rng.uuid(),
            "organizationRole": "admin",
            "workspaceRole": null,
            "organizationName": "Ünïcödé Labs ✨",
            "displayName": "Dév \"the\" Öne",
            "hasExtraUsageEnabled": false,
            "billingType": "stripe_subscription",
        }),
    );
    m.insert("hasCompletedOnboarding".into(), json!(true));
    m.insert("lastOnboardingVersion".into(), json!("2.1.240"));
    m
}

/// A `.claude.json` of about `target` bytes. `trusted_project`, when given,
/// is the first `projects` entry and has accepted the trust dialog (the
/// project a launch runs in).
pub fn claude_json(target: usize, trusted_project: Option<&str>) -> String {
    let mut rng = Rng::new(0x0c1a_0de5 ^ target as u64);
    let mut top = identity(&mut rng);
    let changelog = (0..400)
        .map(|i| format!("## 2.1.{i}\n\n- {}\n", sentence(&mut rng, 25)))
        .collect::<String>();
    top.insert("cachedChangelog".into(), json!(changelog));
    top.insert("changelogLastFetched".into(), json!(1_787_379_775_123u64));
    top.insert(
        "mcpServers".into(),
        // Added by the user with `claude mcp add --scope user`: not Nix's.
        json!({"scratch": {"type": "stdio", "command": "/home/dev/bin/scratch-mcp", "args": ["--verbose"], "env": {"SCRATCH_DIR": "/tmp/scratch ü"}}}),
    );
    top.insert(
        "cachedStatsigGates".into(),
        json!({"tengu_disable_bypass_permissions_mode": false, "tengu_tool_pear": true, "tengu_migrate_ignore_patterns": true}),
    );
    top.insert(
        "s1mAccessCache".into(),
        json!({"org": {"hasAccess": true, "timestamp": 1_787_379_775_123u64}}),
    );
    top.insert("fallbackAvailableWarningThreshold".into(), json!(0.5));

    // Each entry's share of the final text: its pretty form indented one
    // level deeper (depth 2), its key, and the separators.
    let base = serde_json::to_string_pretty(&top).expect("JSON").len();
    let mut size = base;
    let mut projects = Map::new();
    let mut add = |key: String, entry: Value, size: &mut usize| {
        let text = serde_json::to_string_pretty(&entry).expect("JSON");
        *size += text.len() + 4 * text.matches('\n').count() + key.len() + 12;
        projects.insert(key, entry);
    };
    if let Some(key) = trusted_project {
        let entry = project_entry(&mut rng, true);
        add(key.to_string(), entry, &mut size);
    }
    let mut i = 0;
    while size < target {
        let key = project_name(&mut rng, i);
        let entry = project_entry(&mut rng, false);
        add(key, entry, &mut size);
        i += 1;
    }
    top.insert("projects".into(), Value::Object(projects));
    let mut text = serde_json::to_string_pretty(&top).expect("JSON");
    // Claude Code ends the file without a newline; keep it that way.
    debug_assert!(!text.ends_with('\n'));
    text.shrink_to_fit();
    text
}

/// Which declared configuration a manifest holds: the two differ in one MCP
/// server, so alternating them makes every apply change `.claude.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    A,
    B,
}

/// The declared `settings.json` keys of an account.
pub fn settings() -> Value {
    json!({
        "model": "opus",
        "includeCoAuthoredBy": false,
        "cleanupPeriodDays": 30,
        "permissions": {
            "defaultMode": "acceptEdits",
            "allow": [
                "Bash(git status)", "Bash(git diff:*)", "Bash(git log:*)", "Bash(cargo build:*)",
                "Bash(cargo test:*)", "Bash(cargo clippy:*)", "Bash(nix build:*)", "Bash(nix flake check:*)",
                "Bash(rg:*)", "Bash(fd:*)", "Read(~/.config/**)", "Edit(src/**)", "WebFetch(domain:docs.rs)",
                "mcp__github__get_issue", "mcp__github__list_pull_requests"
            ],
            "deny": ["Read(./.env)", "Read(./.env.*)", "Read(~/.ssh/**)", "Bash(rm -rf:*)", "Bash(curl:*)"],
            "ask": ["Bash(git push:*)", "Bash(nix-collect-garbage:*)"],
            "additionalDirectories": ["~/notes", "/srv/shared/docs"]
        },
        "env": {
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "BASH_DEFAULT_TIMEOUT_MS": "120000",
            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "32000",
            "MCP_TIMEOUT": "30000"
        },
        "hooks": {
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "/nix/store/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-guard/bin/bash-guard", "timeout": 10}]},
                {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "/nix/store/0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-guard/bin/path-guard"}]}
            ],
            "PostToolUse": [
                {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "/nix/store/9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k-fmt/bin/format-changed \"$CLAUDE_FILE_PATHS\""}]}
            ],
            "Notification": [{"hooks": [{"type": "command", "command": "notify-send 'Claude Code' \"needs you\""}]}],
            "Stop": [{"hooks": [{"type": "command", "command": "/nix/store/1q2w3e4r5t6y7u8i9o0p1a2s3d4f5g6h-chime/bin/chime"}]}]
        },
        "statusLine": {"type": "command", "command": "/nix/store/5g6h7j8k9l0z1x2c3v4b5n6m7q8w9e0r-statusline/bin/statusline", "padding": 0}
    })
}

/// The declared MCP servers of an account.
pub fn mcp_servers(variant: Variant) -> Value {
    let mut servers = json!({
        "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"}},
        "filesystem": {"type": "stdio", "command": "/nix/store/2b3c4d5e6f7g8h9i0j1k2l3m4n5o6p7q-mcp-fs/bin/mcp-server-filesystem", "args": ["/home/dev/src", "/home/dev/notes"], "env": {}},
        "time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time", "--local-timezone=Europe/Zürich"]},
        "sentry": {"type": "sse", "url": "https://mcp.sentry.dev/sse"},
        "postgres": {"type": "stdio", "command": "/nix/store/3c4d5e6f7g8h9i0j1k2l3m4n5o6p7q8r-mcp-pg/bin/mcp-postgres", "args": [], "env": {"DATABASE_URL": "${DATABASE_URL:-postgres://localhost/dev}"}},
        "playwright": {"type": "stdio", "command": "npx", "args": ["-y", "@playwright/mcp@0.0.41", "--headless"], "timeout": 60000}
    });
    if variant == Variant::B {
        servers["linear"] = json!({"type": "http", "url": "https://mcp.linear.app/mcp", "headers": {"X-Team": "Ünïcödé"}});
        servers["time"]["args"][1] = json!("--local-timezone=UTC");
    }
    servers
}

/// A manifest with `accounts` (names), each running `claude`.
pub fn manifest(accounts: &[&str], claude: &str, variant: Variant) -> Value {
    let mut all = Map::new();
    for name in accounts {
        all.insert(
            (*name).into(),
            json!({
                "configDir": format!("~/.claude-{name}"),
                "claude": claude,
                "settings": settings(),
                "claudeJson": {"mcpServers": mcp_servers(variant)},
                "seedKeys": ["oauthAccount", "userID", "hasCompletedOnboarding", "lastOnboardingVersion"],
                "projectSeedKeys": ["hasTrustDialogAccepted", "hasCompletedProjectOnboarding", "mcpServers"],
                "assets": [],
                "isolation": "worktree",
                "singleInstance": true,
                "environment": {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
                "environmentFiles": [],
                "secretFiles": {},
                "oauthTokenFile": null,
                "trustedProjects": [],
                "mcpOverlay": ".claude/.mcp.json",
                "knownMarketplaces": {},
                "files": {
                    "settings": format!("/nix/store/{name}-settings.json"),
                    "mcpConfig": format!("/nix/store/{name}-mcp.json")
                },
                "profiles": {}
            }),
        );
    }
    json!({"version": 1, "storeDir": "/nix/store", "accounts": all, "defaultAccount": null, "accountFor": {}})
}

/// What a user's own `settings.json` holds besides Nix's keys.
pub fn user_settings() -> String {
    let v = json!({"theme": "dark", "feedbackSurveyState": {"lastShownTime": 1_787_379_775_123u64}, "alwaysThinkingEnabled": true});
    serde_json::to_string_pretty(&v).expect("JSON")
}
