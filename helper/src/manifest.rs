//! The manifest: the one JSON document the Home Manager module renders into the
//! Nix store per generation, and the only configuration the helper reads.
//!
//! The schema is this file. Field names are camelCase and identical on the Nix
//! side (`modules/home-manager/manifest.nix`); unknown fields are rejected, so
//! a module and a helper from different revisions fail loudly instead of
//! silently ignoring what the user declared. `tests/fixtures/manifest.golden.json`
//! is checked against this struct (Rust tests) and against the module's output
//! (Nix evaluation check).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The manifest version this helper reads and the module writes.
pub const MANIFEST_VERSION: u32 = 1;

/// Entries of a config dir that Nix may own as whole symlinks into the store.
pub const ASSET_NAMES: &[&str] = &[
    "CLAUDE.md",
    "agents",
    "commands",
    "hooks",
    "output-styles",
    "rules",
    "skills",
];

/// Keys that Claude Code reads from `settings.json` only; declaring them for
/// `.claude.json` would have no effect (CLAUDE-CODE-FACTS.md).
const SETTINGS_ONLY_KEYS: &[&str] = &[
    "permissions",
    "env",
    "hooks",
    "statusLine",
    "model",
    "outputStyle",
    "apiKeyHelper",
    "enabledPlugins",
];

/// Keys that Claude Code reads only from a project's entry of `.claude.json`
/// (`projects.<path>.<key>`); at the top level they have no effect.
const PROJECT_ONLY_KEYS: &[&str] = &["allowedTools"];

/// One Home Manager generation's declared state for every account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// Schema version; must equal [`MANIFEST_VERSION`].
    pub version: u32,
    /// The Nix store directory (`builtins.storeDir`), used to recognise links
    /// into the store (e.g. a `settings.json` left by another module).
    pub store_dir: PathBuf,
    /// Accounts by name (the `<name>` of `programs.claude-code.accounts.<name>`).
    pub accounts: BTreeMap<String, Account>,
    /// The account a plain `claude` (the dispatcher) runs where no
    /// [`Manifest::account_for`] prefix matches; `null` for none
    /// (`programs.claude-code.defaultAccount`).
    pub default_account: Option<String>,
    /// Directory prefixes (absolute or `~/...`) and the account the
    /// dispatcher runs below each (`programs.claude-code.accountFor`).
    pub account_for: BTreeMap<String, String>,
}

/// How `claude<name>` chooses the `CLAUDE_CONFIG_DIR` of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// One runtime dir per git worktree (`$GIT_DIR/claude-runtime/<account>`),
    /// the account dir outside git.
    #[default]
    Worktree,
    /// Always the account dir.
    Account,
    /// A fresh runtime dir per launch, removed when the session ends.
    Session,
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isolation::Worktree => "worktree",
            Isolation::Account => "account",
            Isolation::Session => "session",
        })
    }
}

impl std::str::FromStr for Isolation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "worktree" => Ok(Isolation::Worktree),
            "account" => Ok(Isolation::Account),
            "session" => Ok(Isolation::Session),
            other => {
                anyhow::bail!("unknown isolation {other:?}; use one of worktree, account, session")
            }
        }
    }
}

/// One account: `programs.claude-code.accounts.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Account {
    /// The account's config dir, absolute or starting with `~/`.
    pub config_dir: PathBuf,
    /// The `claude` executable: an absolute path, or a name looked up in `PATH`.
    pub claude: PathBuf,
    /// Declared `settings.json` keys (three-way applied; Nix wins on its keys).
    pub settings: Map<String, Value>,
    /// Declared top-level `.claude.json` keys, including `mcpServers`.
    pub claude_json: Map<String, Value>,
    /// Top-level `.claude.json` keys copied from the account dir into a new
    /// runtime dir (identity and onboarding), so no login or wizard is shown.
    pub seed_keys: Vec<String>,
    /// Keys of the account's `projects[<project>]` entry copied into a new
    /// runtime dir for that project (trust and per-project state).
    pub project_seed_keys: Vec<String>,
    /// Entries of the config dir that Nix links into the store (see
    /// [`ASSET_NAMES`]); runtime dirs link to them.
    pub assets: Vec<String>,
    /// Where sessions run.
    pub isolation: Isolation,
    /// Allow only one session per runtime dir.
    pub single_instance: bool,
    /// Environment variables set for `claude`.
    pub environment: BTreeMap<String, String>,
    /// `KEY=VALUE` files read at launch; their variables are set for `claude`.
    pub environment_files: Vec<PathBuf>,
    /// Variables whose values are the contents of a file, read at launch
    /// (agenix/sops secrets). Never written anywhere by the helper.
    pub secret_files: BTreeMap<String, PathBuf>,
    /// A file holding a long-lived token (`claude setup-token`), exported as
    /// `CLAUDE_CODE_OAUTH_TOKEN`.
    pub oauth_token_file: Option<PathBuf>,
    /// Projects (or parent directories of projects) whose MCP overlay file is
    /// trusted.
    pub trusted_projects: Vec<PathBuf>,
    /// The per-project MCP overlay file, relative to the worktree's top level or
    /// absolute; `null` disables overlays.
    pub mcp_overlay: Option<PathBuf>,
    /// Declared entries of `plugins/known_marketplaces.json` in the account
    /// dir, by marketplace name (Home Manager's `marketplaces`). Claude Code
    /// writes that file too, so it is three-way applied at activation like
    /// `settings.json`, never linked.
    pub known_marketplaces: Map<String, Value>,
    /// The account's files as Claude Code reads them, rendered into the store
    /// from the same values as this entry.
    pub files: AccountFiles,
    /// Named presets of `settings.json` keys: profile name -> absolute path of
    /// a JSON object (rendered into the store), passed with `--settings` by
    /// `claude-session start --profile P` and `CLAUDE_ACCOUNTS_PROFILE=P`.
    pub profiles: BTreeMap<String, PathBuf>,
}

/// Files the module renders per account, next to the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AccountFiles {
    /// The declared `settings.json` keys ([`Account::settings`]) as a file,
    /// e.g. for `claude --settings`.
    pub settings: PathBuf,
    /// The declared MCP servers as `{"mcpServers": ...}`, Claude Code's
    /// `--mcp-config` format.
    pub mcp_config: PathBuf,
}

/// Expands a leading `~/` against `home`.
pub fn expand_home(path: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) if path.as_os_str().len() > 1 || rest.as_os_str().is_empty() => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// The user's home directory, from `$HOME`.
pub fn home_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set; claude-accounts needs it to find the account dirs")?;
    Ok(PathBuf::from(home))
}

impl Account {
    /// Declared `mcpServers` (an empty map when none are declared).
    pub fn mcp_servers(&self) -> Map<String, Value> {
        match self.claude_json.get("mcpServers") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    }
}

impl Account {
    /// Problems with the rendered [`AccountFiles`]: each must be readable
    /// and hold exactly what this entry declares (`settings`, and
    /// `{"mcpServers": ...}` of `claudeJson.mcpServers`), so that what other
    /// tools read from them is what the helper applies.
    pub fn rendered_file_problems(&self, name: &str) -> Vec<String> {
        let expected = [
            (
                "settings",
                &self.files.settings,
                Value::Object(self.settings.clone()),
            ),
            (
                "mcpConfig",
                &self.files.mcp_config,
                serde_json::json!({ "mcpServers": self.mcp_servers() }),
            ),
        ];
        let mut problems = Vec::new();
        for (field, path, want) in expected {
            let at = format!("accounts.{name}.files.{field}");
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!(
                        "{at}: cannot read {}: {e}; build the manifest with the module that renders it",
                        path.display()
                    ));
                    continue;
                }
            };
            match serde_json::from_str::<Value>(&text) {
                Ok(found) if found == want => {}
                Ok(_) => problems.push(format!(
                    "{at}: {} differs from what accounts.{name} declares; the file and the manifest come from different renderings (rebuild them together)",
                    path.display()
                )),
                Err(e) => problems.push(format!(
                    "{at}: {} is not valid JSON ({e}); rebuild it with the module",
                    path.display()
                )),
            }
        }
        problems
    }
}

impl Manifest {
    /// Problems with every account's rendered files (see
    /// [`Account::rendered_file_problems`]).
    pub fn rendered_file_problems(&self) -> Vec<String> {
        self.accounts
            .iter()
            .flat_map(|(name, a)| a.rendered_file_problems(name))
            .collect()
    }

    /// Reads, parses and validates a manifest; every problem is reported.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        Manifest::parse(&text).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses and validates manifest text; every problem is reported.
    pub fn parse(text: &str) -> Result<Manifest> {
        let problems = match check_text(text) {
            Ok(manifest) => return Ok(manifest),
            Err(problems) => problems,
        };
        anyhow::bail!("{}", Problems(problems))
    }

    /// The real path of account `name`'s config dir, checked to be a
    /// directory of its own under `home` and to overlap no other account's
    /// (see [`crate::configdir`]); an error naming the path and the fix
    /// otherwise. Every command uses this path, never `configDir` as written.
    pub fn config_dir(&self, name: &str, home: &Path) -> Result<PathBuf> {
        self.account(name)?;
        crate::configdir::resolve_all(self, home)
            .remove(name)
            .expect("every account is resolved")
    }

    /// [`Manifest::config_dir`] of every account, by name.
    pub fn config_dirs(&self, home: &Path) -> BTreeMap<&str, Result<PathBuf>> {
        crate::configdir::resolve_all(self, home)
    }

    /// The account named `name`, or an error listing the known accounts.
    pub fn account(&self, name: &str) -> Result<&Account> {
        self.accounts.get(name).with_context(|| {
            let known: Vec<&str> = self.accounts.keys().map(String::as_str).collect();
            format!(
                "no account {name:?} in the manifest (accounts: {}); declare it as programs.claude-code.accounts.{name} and switch",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )
        })
    }
}

/// A list of problems, printed one per line.
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}:", if n == 1 { "" } else { "s" })?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Parses and validates manifest text, collecting every problem found: JSON
/// syntax, then the structure of each account separately (so one bad account
/// does not hide another's problems), then the semantic rules.
pub fn check_text(text: &str) -> std::result::Result<Manifest, Vec<String>> {
    // A valid manifest (every launch reads one) is decoded in one pass;
    // anything else is decoded again below, account by account, so that
    // every problem is reported with its path.
    if let Ok(m) = serde_json::from_str::<Manifest>(text)
        && validate(&m).is_empty()
    {
        return Ok(m);
    }
    check_each(text)
}

/// [`check_text`] account by account, every problem with its path.
fn check_each(text: &str) -> std::result::Result<Manifest, Vec<String>> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        vec![format!(
            "not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )]
    })?;
    let Value::Object(mut root) = root else {
        return Err(vec!["the manifest must be a JSON object".into()]);
    };
    let mut problems = Vec::new();

    // Structure of each account on its own, so every account's problem shows.
    let accounts_value = root.remove("accounts");
    let mut accounts = BTreeMap::new();
    match accounts_value {
        None => problems.push("missing field `accounts`".into()),
        Some(Value::Object(map)) => {
            for (name, value) in map {
                match serde_path_to_error::deserialize::<_, Account>(value) {
                    Ok(account) => {
                        accounts.insert(name, account);
                    }
                    Err(e) => problems.push(format!(
                        "{}: {}",
                        join_path(&["accounts", &name], e.path()),
                        e.inner()
                    )),
                }
            }
        }
        Some(_) => problems.push("accounts: must be an object of accounts by name".into()),
    }
    root.insert("accounts".into(), Value::Object(Map::new()));
    let manifest = match serde_path_to_error::deserialize::<_, Manifest>(Value::Object(root)) {
        Ok(mut m) => {
            m.accounts = accounts;
            Some(m)
        }
        Err(e) => {
            problems.push(format!("{}: {}", join_path(&[], e.path()), e.inner()));
            None
        }
    };
    if let Some(m) = &manifest {
        problems.extend(validate(m));
    }
    match manifest {
        Some(m) if problems.is_empty() => Ok(m),
        _ => Err(problems),
    }
}

fn join_path(prefix: &[&str], path: &serde_path_to_error::Path) -> String {
    let mut s: Vec<String> = prefix.iter().map(|p| p.to_string()).collect();
    let rest = path.to_string();
    if rest != "." {
        s.push(rest);
    }
    if s.is_empty() {
        "manifest".into()
    } else {
        s.join(".")
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Whether `name` can name a profile: it is typed on command lines and in
/// `CLAUDE_ACCOUNTS_PROFILE`.
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn is_absolute_or_home(p: &Path) -> bool {
    p.is_absolute() || p.starts_with("~")
}

/// Lexically normalises a path (drops `.`, resolves `..`, trailing slashes).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The semantic rules a structurally valid manifest must also satisfy.
pub fn validate(m: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    if m.version != MANIFEST_VERSION {
        problems.push(format!(
            "version: this claude-accounts reads manifest version {MANIFEST_VERSION}, not {}; the helper package and the Home Manager module come from different revisions of the claude-accounts flake (use the flake's own package for programs.claude-code.accountsHelper.package)",
            m.version
        ));
    }
    if !m.store_dir.is_absolute() {
        problems.push(format!(
            "storeDir: {:?} must be an absolute path such as /nix/store",
            m.store_dir
        ));
    }
    problems.extend(validate_dispatch(m));
    problems.extend(crate::configdir::lexical_problems(m));
    for (name, a) in &m.accounts {
        let at = |field: &str| format!("accounts.{name}.{field}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(format!(
                "accounts.{name:?}: an account name may hold only letters, digits, '-' and '_' (it names directories and the claude<name> command)"
            ));
        }
        if !is_absolute_or_home(&a.config_dir) {
            problems.push(format!(
                "{}: {:?} must be absolute or start with ~/",
                at("configDir"),
                a.config_dir
            ));
        }
        if a.claude.as_os_str().is_empty() {
            problems.push(format!("{}: must name the claude executable", at("claude")));
        }
        if a.settings.contains_key("mcpServers") {
            problems.push(format!(
                "{}: Claude Code ignores mcpServers in settings.json; declare the servers in claudeJson.mcpServers (the module's mcpServers option)",
                at("settings.mcpServers")
            ));
        }
        for key in SETTINGS_ONLY_KEYS {
            if a.claude_json.contains_key(*key) {
                problems.push(format!(
                    "{}: Claude Code reads {key} from settings.json, not .claude.json; move it to settings",
                    at(&format!("claudeJson.{key}"))
                ));
            }
        }
        for key in PROJECT_ONLY_KEYS {
            if a.claude_json.contains_key(*key) {
                problems.push(format!(
                    "{}: Claude Code reads {key} per project (projects.<path>.{key} of .claude.json), not at the top level; allow tools for every project with settings.permissions.allow",
                    at(&format!("claudeJson.{key}"))
                ));
            }
        }
        match a.claude_json.get("mcpServers") {
            None => {}
            Some(Value::Object(servers)) => {
                for (server, def) in servers {
                    problems.extend(check_mcp_server(
                        &at(&format!("claudeJson.mcpServers.{server}")),
                        def,
                    ));
                }
            }
            Some(_) => problems.push(format!(
                "{}: must be an object of servers by name",
                at("claudeJson.mcpServers")
            )),
        }
        let mut seen = BTreeSet::new();
        for asset in &a.assets {
            if !ASSET_NAMES.contains(&asset.as_str()) {
                problems.push(format!(
                    "{}: {asset:?} is not a config dir entry Nix can own; use one of {}",
                    at("assets"),
                    ASSET_NAMES.join(", ")
                ));
            }
            if !seen.insert(asset) {
                problems.push(format!("{}: {asset:?} is listed twice", at("assets")));
            }
        }
        for key in a.seed_keys.iter().chain(&a.project_seed_keys) {
            if key.is_empty() {
                problems.push(format!("{}: empty key", at("seedKeys")));
            }
        }
        for (var, _) in a.environment.iter() {
            if !valid_env_name(var) {
                problems.push(format!(
                    "{}: {var:?} is not a valid environment variable name",
                    at("environment")
                ));
            }
        }
        for (var, path) in &a.secret_files {
            if !valid_env_name(var) {
                problems.push(format!(
                    "{}: {var:?} is not a valid environment variable name",
                    at("secretFiles")
                ));
            }
            if a.environment.contains_key(var) {
                problems.push(format!(
                    "{}: {var} is set both in environment and from a secret file; keep one",
                    at("secretFiles")
                ));
            }
            if !is_absolute_or_home(path) {
                problems.push(format!(
                    "{}: {:?} must be an absolute path",
                    at(&format!("secretFiles.{var}")),
                    path
                ));
            }
        }
        for var in ["CLAUDE_CONFIG_DIR"] {
            if a.environment.contains_key(var) || a.secret_files.contains_key(var) {
                problems.push(format!(
                    "{}: {var} is chosen by claude{name} for every session; remove it (set configDir or isolation instead)",
                    at("environment")
                ));
            }
        }
        if let Some(token) = &a.oauth_token_file {
            if !is_absolute_or_home(token) {
                problems.push(format!(
                    "{}: {:?} must be an absolute path",
                    at("oauthTokenFile"),
                    token
                ));
            }
            if a.environment.contains_key("CLAUDE_CODE_OAUTH_TOKEN")
                || a.secret_files.contains_key("CLAUDE_CODE_OAUTH_TOKEN")
            {
                problems.push(format!(
                    "{}: CLAUDE_CODE_OAUTH_TOKEN is also set in environment or secretFiles; keep only oauthTokenFile",
                    at("oauthTokenFile")
                ));
            }
        }
        for f in &a.environment_files {
            if !is_absolute_or_home(f) {
                problems.push(format!(
                    "{}: {:?} must be an absolute path",
                    at("environmentFiles"),
                    f
                ));
            }
        }
        for p in &a.trusted_projects {
            if !is_absolute_or_home(p) {
                problems.push(format!(
                    "{}: {:?} must be an absolute path",
                    at("trustedProjects"),
                    p
                ));
            }
        }
        for (market, entry) in &a.known_marketplaces {
            if !entry.is_object() {
                problems.push(format!(
                    "{}: a marketplace entry must be an object",
                    at(&format!("knownMarketplaces.{market}"))
                ));
            }
        }
        for (field, path) in [
            ("files.settings", &a.files.settings),
            ("files.mcpConfig", &a.files.mcp_config),
        ] {
            if !path.is_absolute() {
                problems.push(format!(
                    "{}: {:?} must be an absolute path (a file in the store)",
                    at(field),
                    path
                ));
            }
        }
        for (profile, path) in &a.profiles {
            if !valid_profile_name(profile) {
                problems.push(format!(
                    "{}: {profile:?} is not a profile name; use letters, digits, '.', '-' and '_'",
                    at("profiles")
                ));
            }
            if !path.is_absolute() {
                problems.push(format!(
                    "{}: {:?} must be an absolute path (the module renders profiles into the store)",
                    at(&format!("profiles.{profile}")),
                    path
                ));
            }
        }
        if let Some(o) = &a.mcp_overlay
            && (o.as_os_str().is_empty() || o.components().any(|c| c == Component::ParentDir))
        {
            problems.push(format!(
                "{}: {:?} must be a path inside the worktree (no '..') or an absolute path",
                at("mcpOverlay"),
                o
            ));
        }
    }
    problems
}

/// `defaultAccount` and `accountFor` must name declared accounts, and every
/// `accountFor` directory must be absolute or start with `~/`.
fn validate_dispatch(m: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    let known = || {
        let names: Vec<&str> = m.accounts.keys().map(String::as_str).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    if let Some(name) = &m.default_account
        && !m.accounts.contains_key(name)
    {
        problems.push(format!(
            "defaultAccount: {name:?} is not a declared account (accounts: {}); set programs.claude-code.defaultAccount to one of them",
            known()
        ));
    }
    for (dir, name) in &m.account_for {
        let path = Path::new(dir);
        if dir.is_empty() || !is_absolute_or_home(path) {
            problems.push(format!(
                "accountFor.{dir:?}: a directory must be absolute or start with ~/ (a relative path would depend on where claude is run)"
            ));
        }
        if !m.accounts.contains_key(name) {
            problems.push(format!(
                "accountFor.{dir:?}: {name:?} is not a declared account (accounts: {}); map the directory to one of them",
                known()
            ));
        }
    }
    problems
}

/// Declared keys Claude Code 2.1.x migrates away at start (its migrations
/// run once per `.claude.json`, so again in every new runtime dir): each one
/// is re-applied and shows as drift. Each warning names the key and what to declare instead.
/// Warnings never make a manifest invalid.
pub fn warnings(m: &Manifest) -> Vec<String> {
    let mut warnings = Vec::new();
    for (name, a) in &m.accounts {
        if a.claude_json.get("autoUpdates") == Some(&Value::Bool(false)) {
            warnings.push(format!(
                "accounts.{name}.claudeJson.autoUpdates: Claude Code 2.1.x removes autoUpdates = false from .claude.json at the first start in each config dir (every new worktree's runtime dir) and writes env.DISABLE_AUTOUPDATER = \"1\" into settings.json instead, so the key is reported as drift and re-applied; declare settings.env.DISABLE_AUTOUPDATER = \"1\" (or environment.DISABLE_AUTOUPDATER = \"1\") instead"
            ));
        }
        if a.settings.get("model").and_then(Value::as_str) == Some("opus") {
            warnings.push(format!(
                "accounts.{name}.settings.model: Claude Code 2.1.x rewrites model = \"opus\" in settings.json at start (to \"opus[1m]\" for accounts offered the 1M context, and drops a user model when the organisation's default model changes), so the declared value drifts and is re-applied; declare environment.ANTHROPIC_MODEL = \"opus\" (Claude never rewrites the environment) or put the model in a profile (passed with --settings) instead"
            ));
        }
    }
    warnings
}

/// Checks one MCP server entry: `{type?, command, args, env}` or `{type, url, headers}`.
pub fn check_mcp_server(at: &str, def: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Value::Object(def) = def else {
        return vec![format!("{at}: a server must be an object")];
    };
    let ty = match def.get("type") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => {
            problems.push(format!("{at}.type: must be a string"));
            None
        }
    };
    match ty {
        None | Some("stdio") => {
            if !matches!(def.get("command"), Some(Value::String(c)) if !c.is_empty()) {
                problems.push(format!(
                    "{at}: a stdio server needs a non-empty \"command\" (or set \"type\" and \"url\" for a remote server)"
                ));
            }
        }
        Some("http" | "sse" | "ws") => {
            if !matches!(def.get("url"), Some(Value::String(u)) if !u.is_empty()) {
                problems.push(format!(
                    "{at}: a {} server needs a \"url\"",
                    ty.unwrap_or("")
                ));
            }
        }
        Some(other) => problems.push(format!(
            "{at}.type: {other:?} is not one of stdio, http, sse, ws"
        )),
    }
    if let Some(args) = def.get("args")
        && !matches!(args, Value::Array(a) if a.iter().all(Value::is_string))
    {
        problems.push(format!("{at}.args: must be a list of strings"));
    }
    for field in ["env", "headers"] {
        if let Some(v) = def.get(field)
            && !matches!(v, Value::Object(m) if m.values().all(Value::is_string))
        {
            problems.push(format!("{at}.{field}: must be an object of strings"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/manifest.golden.json"
        ))
        .unwrap()
    }

    #[test]
    fn golden_fixture_parses_and_round_trips_exactly() {
        let text = golden();
        let m = Manifest::parse(&text).expect("golden manifest is valid");
        let again = serde_json::to_value(&m).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        pretty_assertions::assert_eq!(original, again, "every golden field is modelled");
    }

    #[test]
    fn the_one_pass_decode_accepts_exactly_what_the_thorough_one_does() {
        let golden: Value = serde_json::from_str(&golden()).unwrap();
        let mut cases = vec![golden.clone()];
        for (pointer, value) in [
            ("/accounts/max/mcpServer", Value::Bool(true)),
            ("/extra", Value::Bool(true)),
            ("/version", Value::from(99)),
            ("/accounts/max/isolation", Value::from("nowhere")),
            ("/defaultAccount", Value::from("nobody")),
        ] {
            let mut v = golden.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = value;
            cases.push(v);
        }
        let mut valid = 0;
        for case in cases {
            let text = case.to_string();
            let (fast, thorough) = (check_text(&text), check_each(&text));
            valid += usize::from(fast.is_ok());
            assert_eq!(fast.as_ref().ok(), thorough.as_ref().ok(), "{text}");
            assert_eq!(fast.is_err(), thorough.is_err(), "{text}");
        }
        assert_eq!(valid, 1, "only the golden manifest is valid");
    }

    #[test]
    fn example_manifest_is_valid() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/manifest.json"
        ))
        .unwrap();
        Manifest::parse(&text).unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_path() {
        let mut v: Value = serde_json::from_str(&golden()).unwrap();
        v["accounts"]["max"]["mcpServer"] = Value::Bool(true);
        v["extra"] = Value::Bool(true);
        let err = check_text(&v.to_string()).unwrap_err();
        assert!(
            err.iter()
                .any(|p| p.starts_with("accounts.max") && p.contains("unknown field `mcpServer`")),
            "{err:?}"
        );
        assert!(
            err.iter().any(|p| p.contains("unknown field `extra`")),
            "{err:?}"
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let mut v: Value = serde_json::from_str(&golden()).unwrap();
        let pro = v["accounts"]["pro"].clone();
        v["accounts"]["max"]["claudeJson"]["permissions"] = serde_json::json!({});
        v["accounts"]["max"]["claudeJson"]["allowedTools"] = serde_json::json!([]);
        v["accounts"]["max"]["settings"]["mcpServers"] = serde_json::json!({});
        v["accounts"]["max"]["environment"]["CLAUDE_CONFIG_DIR"] = "/x".into();
        v["accounts"]["max"]["claudeJson"]["mcpServers"]["bad"] =
            serde_json::json!({"type": "http"});
        let mut other = pro.clone();
        other["configDir"] = v["accounts"]["max"]["configDir"].clone();
        v["accounts"]["other"] = other;
        v["accounts"]["broken"] = serde_json::json!({"configDir": 3});
        v["version"] = 9.into();
        let err = check_text(&v.to_string()).unwrap_err();
        let text = Problems(err.clone()).to_string();
        for needle in [
            "claudeJson.permissions",
            "claudeJson.allowedTools: Claude Code reads allowedTools per project",
            "settings.mcpServers",
            "CLAUDE_CONFIG_DIR",
            "mcpServers.bad: a http server needs a \"url\"",
            "is account \"max\"'s config dir",
            "accounts.broken",
            "manifest version 1, not 9",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    /// The rendered files must hold what the entry declares: equal JSON
    /// passes, a different value, a missing file or bad JSON is a problem
    /// naming the field and the path.
    #[test]
    fn rendered_files_must_match_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::parse(&golden()).unwrap();
        let max = m.accounts.get_mut("max").unwrap();
        max.files.settings = dir.path().join("settings.json");
        max.files.mcp_config = dir.path().join("mcp.json");
        std::fs::write(
            &max.files.settings,
            serde_json::to_vec_pretty(&max.settings).unwrap(),
        )
        .unwrap();
        std::fs::write(
            &max.files.mcp_config,
            serde_json::json!({"mcpServers": max.mcp_servers()}).to_string(),
        )
        .unwrap();
        assert_eq!(max.rendered_file_problems("max"), Vec::<String>::new());

        std::fs::write(&max.files.settings, r#"{"model": "haiku"}"#).unwrap();
        std::fs::remove_file(&max.files.mcp_config).unwrap();
        let problems = max.rendered_file_problems("max");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("accounts.max.files.settings: ")
                && problems[0].contains("differs from what accounts.max declares"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("accounts.max.files.mcpConfig: cannot read ")
                && problems[1].contains("mcp.json"),
            "{problems:?}"
        );

        std::fs::write(&max.files.settings, "{").unwrap();
        assert!(max.rendered_file_problems("max")[0].contains("is not valid JSON"));
    }

    #[test]
    fn profiles_need_a_name_and_an_absolute_path() {
        let mut v: Value = serde_json::from_str(&golden()).unwrap();
        v["accounts"]["pro"]["profiles"] = serde_json::json!({"ok": "/nix/store/x-ok.json", "rel": "fast.json", ".hidden": "/x", "a b": "/y"});
        let text = Problems(check_text(&v.to_string()).unwrap_err()).to_string();
        for needle in [
            "accounts.pro.profiles.rel: \"fast.json\" must be an absolute path",
            "\".hidden\" is not a profile name",
            "\"a b\" is not a profile name",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("\"ok\""), "{text}");
    }

    #[test]
    fn migrated_keys_warn_with_what_to_declare_and_stay_valid() {
        let mut m = Manifest::parse(&golden()).unwrap();
        let max = m.accounts.get_mut("max").unwrap();
        max.settings.insert("model".into(), "opus".into());
        max.claude_json.insert("autoUpdates".into(), false.into());
        let w = warnings(&m);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("accounts.max.claudeJson.autoUpdates")
                && w[0].contains("declare settings.env.DISABLE_AUTOUPDATER"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("accounts.max.settings.model")
                && w[1].contains("declare environment.ANTHROPIC_MODEL"),
            "{w:?}"
        );
        let max = m.accounts.get_mut("max").unwrap();
        max.settings.insert("model".into(), "sonnet".into());
        max.claude_json.insert("autoUpdates".into(), true.into());
        assert_eq!(warnings(&m), Vec::<String>::new());
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let err = check_text("{\n  \"version\": 1,\n  \"accounts\": {").unwrap_err();
        assert!(err[0].contains("line 3"), "{err:?}");
    }

    #[test]
    fn home_expansion() {
        let home = Path::new("/home/a");
        assert_eq!(
            expand_home(Path::new("~/.claude-max"), home),
            Path::new("/home/a/.claude-max")
        );
        assert_eq!(expand_home(Path::new("/abs"), home), Path::new("/abs"));
        assert_eq!(expand_home(Path::new("~"), home), Path::new("/home/a"));
    }
}
