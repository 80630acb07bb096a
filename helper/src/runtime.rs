//! Runtime dirs: the `CLAUDE_CONFIG_DIR` a session runs in, chosen per account
//! and git worktree, and prepared so that the session starts logged in, with
//! the account's declared configuration.
//!
//! Layout of a runtime dir (DESIGN.md "Runtime directories"): links to the
//! account's Nix-owned assets (two hops: runtime → account dir → store, so a
//! switch never breaks them); its own real `settings.json` and `.claude.json`
//! (seeded from the account, then three-way applied); a one-hop link to the
//! account's `.credentials.json`; Claude's own files, never touched; and
//! `.claude-accounts/` with the helper's records and the session lock.
//!
//! Guarantees: preparing is idempotent and writes nothing when nothing
//! changed; it never removes or overwrites anything it did not create (a real
//! file where a link belongs is left alone and reported).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};

use crate::apply::Report;
use crate::context::{Context, Kind};
use crate::jsonfile::{self, Edits, Outcome};
use crate::managed::{self, ManagedFile, STATE_DIR};
use crate::manifest::{ASSET_NAMES, Account, Isolation};
use crate::overlay;

/// Where runtime dirs live inside a git dir.
pub const RUNTIME_SUBDIR: &str = "claude-runtime";

/// The credentials file Claude Code keeps in its config dir on Linux.
pub const CREDENTIALS: &str = ".credentials.json";

/// The dir a session runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// `CLAUDE_CONFIG_DIR` for the session.
    pub dir: PathBuf,
    /// The account dir.
    pub account_dir: PathBuf,
    /// A fresh per-session dir, removed when the session ends.
    pub ephemeral: bool,
    /// The worktree the session runs in, if any.
    pub worktree: Option<PathBuf>,
    /// The key Claude Code files the project under in `.claude.json`.
    pub project_key: Option<PathBuf>,
}

impl Runtime {
    /// A known runtime dir (the account dir, or one from the registry), as its
    /// metadata describes it.
    pub fn known(dir: &Path, account_dir: &Path) -> Runtime {
        let info = read_info(dir);
        Runtime {
            dir: dir.to_path_buf(),
            account_dir: account_dir.to_path_buf(),
            ephemeral: info.as_ref().is_some_and(|i| i.ephemeral),
            worktree: info.as_ref().and_then(|i| i.worktree.clone()),
            project_key: info.and_then(|i| i.project_key),
        }
    }

    /// Whether the session runs in the account dir itself.
    pub fn is_account_dir(&self) -> bool {
        self.dir == self.account_dir
    }
}

/// Chooses the runtime dir of a session of `account` in `ctx`.
pub fn choose(
    name: &str,
    account_dir: &Path,
    isolation: Isolation,
    ctx: &Context,
    state_home: &Path,
) -> Runtime {
    let in_worktree = matches!(ctx.kind, Kind::Main | Kind::Linked | Kind::Submodule);
    let dir = match isolation {
        Isolation::Account => account_dir.to_path_buf(),
        Isolation::Worktree => match (&ctx.git_dir, in_worktree) {
            (Some(git_dir), true) => git_dir.join(RUNTIME_SUBDIR).join(name),
            _ => account_dir.to_path_buf(),
        },
        Isolation::Session => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            state_home
                .join("claude-accounts")
                .join(name)
                .join("sessions")
                .join(format!("{}-{}", now.as_secs(), std::process::id()))
        }
    };
    Runtime {
        dir,
        account_dir: account_dir.to_path_buf(),
        ephemeral: isolation == Isolation::Session,
        worktree: if in_worktree {
            ctx.worktree.clone()
        } else {
            None
        },
        project_key: ctx.project_key.clone(),
    }
}

/// What preparing a runtime dir did.
#[derive(Debug, Default)]
pub struct Prepared {
    pub settings: Option<(Report, Outcome)>,
    pub claude_json: Option<(Report, Outcome)>,
    /// The account's seeds cache, refreshed when the seeds were read from
    /// its `.claude.json`: written by [`after_start`], as claude starts.
    pub seeds_cache: Option<SeedsCacheUpdate>,
    /// One line each: things the user should know (left-alone files, ignored
    /// overlays).
    pub notes: Vec<String>,
}

/// Metadata kept in `<runtime>/.claude-accounts/runtime.json` for `status`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeInfo {
    pub account: String,
    pub worktree: Option<PathBuf>,
    pub project_key: Option<PathBuf>,
    pub ephemeral: bool,
}

/// Path of the runtime metadata file.
pub fn info_path(dir: &Path) -> PathBuf {
    dir.join(STATE_DIR).join("runtime.json")
}

/// The metadata of a runtime dir (`None` for an account dir or a damaged file).
pub fn read_info(dir: &Path) -> Option<RuntimeInfo> {
    serde_json::from_str(&std::fs::read_to_string(info_path(dir)).ok()?).ok()
}

/// Creates the runtime dir (0700) and its state dir, and records its
/// metadata; true when the runtime dir is new (its state dir did not exist).
pub fn create(rt: &Runtime, name: &str) -> Result<bool> {
    let state = rt.dir.join(STATE_DIR);
    let fresh = std::fs::symlink_metadata(&state).is_err();
    managed::create_private_dir(&state)?;
    if rt.is_account_dir() {
        return Ok(fresh);
    }
    let info = RuntimeInfo {
        account: name.to_string(),
        worktree: rt.worktree.clone(),
        project_key: rt.project_key.clone(),
        ephemeral: rt.ephemeral,
    };
    let path = info_path(&rt.dir);
    let bytes = serde_json::to_vec_pretty(&info).expect("serialisable");
    if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
        // Not durable: after a crash, a lost or damaged record reads as none
        // (`read_info`) and is written again here at the next launch.
        let opts = jsonfile::Options {
            durable: false,
            ..jsonfile::Options::settings_json()
        };
        jsonfile::write_atomic(&path, &bytes, &opts)?;
    }
    Ok(fresh)
}

/// The managed files of a runtime dir. In a fresh runtime dir they are
/// written without fsync, so that the first launch does not wait for the
/// disk before Claude starts; [`make_durable`] syncs them right after.
///
/// Nor do they take `.claude.json.lock` there, which is 8 metadata system
/// calls (0.1-0.3 ms of a first launch in two A/B runs): the lock keeps
/// Claude Code's writes and ours apart, and a fresh runtime dir has no
/// other writer. This launch just created it, holds its session lock (so
/// no other launch writes its `.claude.json`), and has not started claude.
fn managed_files(rt: &Runtime, fresh: bool) -> (ManagedFile, ManagedFile) {
    let durable = !fresh || rt.is_account_dir();
    let with = |mut f: ManagedFile| {
        f.opts.durable = durable;
        f.opts.lock_dir &= durable;
        f
    };
    (
        with(ManagedFile::settings(&rt.dir)),
        with(ManagedFile::claude_json(&rt.dir)),
    )
}

/// The work a launch leaves until claude has started (the launcher only
/// waits for it then): syncing a fresh runtime dir's files (not for a
/// throwaway session dir, removed at the end) and writing a refreshed seeds
/// cache. Returns what failed, as warnings: the session is running.
pub fn after_start(rt: &Runtime, prepared: &Prepared, fresh: bool) -> Vec<String> {
    let mut warnings = Vec::new();
    if fresh
        && !rt.is_account_dir()
        && !rt.ephemeral
        && let Err(e) = make_durable(rt)
    {
        warnings.push(format!("{e:#}"));
    }
    if let Some(cache) = &prepared.seeds_cache {
        // Only a cache: without it the next new worktree reads the
        // account's .claude.json again.
        drop(cache.write());
    }
    warnings
}

/// Makes a fresh runtime dir's seeded files durable (fsync of each file that
/// exists and of the directories holding them). Run by the launcher once
/// Claude is starting; until then a crash can lose only copies of what the
/// account dir holds.
fn make_durable(rt: &Runtime) -> Result<()> {
    let (settings, claude_json) = managed_files(rt, false);
    let mut dirs = Vec::new();
    for file in [
        &settings.path,
        &claude_json.path,
        &settings.record,
        &claude_json.record,
    ] {
        match std::fs::File::open(file) {
            Ok(f) => f
                .sync_all()
                .with_context(|| format!("syncing {}", file.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("opening {}", file.display())),
        }
        let dir = file.parent().expect("a file in a dir").to_path_buf();
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    for dir in dirs {
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing directory {}", dir.display()))?;
    }
    Ok(())
}

/// Prepares a created runtime dir: asset and credential links, seeds, and the
/// three-way apply of the account's declared settings and `.claude.json` keys
/// (with the project's MCP overlay when trusted). With `apply_claude_json`
/// false (another session holds the dir), `.claude.json` is left alone.
///
/// `settings.json` and `.claude.json` are independent files, prepared one
/// after the other: an error in one does not undo the other, and the
/// settings error is reported first. (They were prepared on two threads;
/// an A/B test over 200 launches found one thread 0.2 ms faster on a first
/// launch and on a re-launch: a fresh runtime's files are synced after
/// claude starts, an unchanged file is not written, and starting a thread
/// and waking the second core cost more than the work they overlapped.)
pub fn prepare(
    rt: &Runtime,
    account: &Account,
    home: &Path,
    apply_claude_json: bool,
    fresh: bool,
) -> Result<Prepared> {
    let (settings_file, claude_json_file) = managed_files(rt, fresh);
    let mut prepared = Prepared::default();
    if !rt.is_account_dir() {
        link_assets(rt, account, &mut prepared.notes)?;
        reconcile_credentials(rt, &mut prepared.notes)?;
        for file in [&settings_file, &claude_json_file] {
            reseed_if_empty(file, &mut prepared.notes)?;
        }
    }
    let settings = || {
        if !rt.is_account_dir() {
            seed_settings(rt, &settings_file)?;
        }
        settings_file.apply(&account.settings)
    };
    if !apply_claude_json {
        prepared.settings = Some(settings()?);
        return Ok(prepared);
    }
    let settings = settings();
    let claude_json = apply_claude_json_file(
        rt,
        &claude_json_file,
        account,
        home,
        &mut prepared.seeds_cache,
        &mut prepared.notes,
    );
    prepared.settings = Some(settings?);
    prepared.claude_json = Some(claude_json?);
    Ok(prepared)
}

/// A runtime dir's `settings.json` or `.claude.json` of zero bytes can only
/// be left by a crash before its first sync (Claude Code never writes an
/// empty file): it holds nothing, so it is removed with its record and seeded
/// again, instead of being refused as the account dir's files would be.
fn reseed_if_empty(file: &ManagedFile, notes: &mut Vec<String>) -> Result<()> {
    match std::fs::symlink_metadata(&file.path) {
        Ok(m) if m.is_file() && m.len() == 0 => {
            std::fs::remove_file(&file.path)
                .with_context(|| format!("removing empty {}", file.path.display()))?;
            let _ = std::fs::remove_file(&file.record);
            notes.push(format!(
                "{} was empty (left by a crash); seeded it again",
                file.path.display()
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Links the account's Nix-owned assets into the runtime dir (whole entries:
/// Claude Code drops per-file links inside real directories), and removes the
/// links of assets the account no longer declares.
fn link_assets(rt: &Runtime, account: &Account, notes: &mut Vec<String>) -> Result<()> {
    for name in ASSET_NAMES {
        let link = rt.dir.join(name);
        let target = rt.account_dir.join(name);
        let wanted = account.assets.iter().any(|a| a == name);
        let current = std::fs::symlink_metadata(&link);
        let is_ours = std::fs::read_link(&link).is_ok_and(|t| t == target);
        match (wanted, current) {
            (true, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                std::os::unix::fs::symlink(&target, &link)
                    .with_context(|| format!("linking {} to {}", link.display(), target.display()))?;
            }
            (true, Ok(meta)) if meta.file_type().is_symlink() && !is_ours => {
                replace_symlink(&target, &link)?;
            }
            (true, Ok(meta)) if !meta.file_type().is_symlink() => notes.push(format!(
                "{} is a real {} that Claude Code or you made; it hides the account's Nix-declared {name}; move it away to use them",
                link.display(),
                if meta.is_dir() { "directory" } else { "file" }
            )),
            (false, Ok(_)) if is_ours => {
                std::fs::remove_file(&link)
                    .with_context(|| format!("removing stale link {}", link.display()))?;
            }
            (_, Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("inspecting {}", link.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Points `link` at `target` atomically (a new link renamed over the old one).
fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    let tmp = link.with_file_name(format!(
        ".{}.link.claude-accounts.{}",
        link.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("creating link {}", tmp.display()))?;
    std::fs::rename(&tmp, link).with_context(|| format!("replacing link {}", link.display()))
}

/// Keeps `<runtime>/.credentials.json` a one-hop link to the account's file.
///
/// Claude Code may replace the link by a real file when it refreshes its
/// token; refresh tokens rotate, so the newest credentials must flow back to
/// the account or every other runtime dir would hold a dead token. A runtime
/// file newer than the account's replaces it (atomically); an older one is
/// kept in the runtime's state dir, never deleted.
pub fn reconcile_credentials(rt: &Runtime, notes: &mut Vec<String>) -> Result<()> {
    let link = rt.dir.join(CREDENTIALS);
    let target = rt.account_dir.join(CREDENTIALS);
    match std::fs::symlink_metadata(&link) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::os::unix::fs::symlink(&target, &link)
                .with_context(|| format!("linking {} to {}", link.display(), target.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", link.display())),
        Ok(meta) if meta.file_type().is_symlink() => {
            if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                replace_symlink(&target, &link)?;
            }
        }
        Ok(meta) if meta.is_file() => {
            let runtime_newer = match std::fs::metadata(&target) {
                Ok(account) => meta.modified()? > account.modified()?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => {
                    return Err(e).with_context(|| format!("inspecting {}", target.display()));
                }
            };
            if runtime_newer {
                let bytes =
                    std::fs::read(&link).with_context(|| format!("reading {}", link.display()))?;
                let private = jsonfile::Options {
                    private: true,
                    ..jsonfile::Options::settings_json()
                };
                jsonfile::write_atomic(&target, &bytes, &private)?;
                replace_symlink(&target, &link)?;
                notes.push(format!(
                    "moved refreshed credentials from {} to {}",
                    link.display(),
                    target.display()
                ));
            } else {
                let keep = rt.dir.join(STATE_DIR).join("credentials.superseded.json");
                std::fs::rename(&link, &keep)
                    .with_context(|| format!("moving {} to {}", link.display(), keep.display()))?;
                std::os::unix::fs::symlink(&target, &link).with_context(|| {
                    format!("linking {} to {}", link.display(), target.display())
                })?;
                notes.push(format!(
                    "{} was older than the account's credentials; kept it as {}",
                    link.display(),
                    keep.display()
                ));
            }
        }
        Ok(_) => anyhow::bail!(
            "{} is neither a file nor a link; move it away so the session can use the account's credentials",
            link.display()
        ),
    }
    Ok(())
}

/// A new runtime's `settings.json` starts as a copy of the account's (user
/// keys included), and inherits the account's record so Nix's keys there are
/// known as Nix's.
fn seed_settings(rt: &Runtime, runtime: &ManagedFile) -> Result<()> {
    if std::fs::symlink_metadata(&runtime.path).is_ok() {
        return Ok(());
    }
    let account = ManagedFile::settings(&rt.account_dir);
    let snapshot = match jsonfile::read(&account.path, &account.opts) {
        Ok(s) if s.exists => s,
        _ => return Ok(()), // nothing usable to copy; apply creates the file
    };
    jsonfile::write_atomic(&runtime.path, snapshot.text.as_bytes(), &runtime.opts)?;
    if let Some(record) = account.last_applied()? {
        managed::create_private_dir(runtime.record.parent().expect("record dir"))?;
        let bytes = serde_json::to_vec_pretty(&record).expect("serialisable");
        let record_opts = jsonfile::Options {
            durable: runtime.opts.durable,
            ..jsonfile::Options::settings_json()
        };
        jsonfile::write_atomic(&runtime.record, &bytes, &record_opts)?;
    }
    Ok(())
}

/// Where [`AccountState`] keeps the project's entry (not a JSON key Claude uses).
const PROJECT_SEED: &str = "\0project";

/// The account's seeds (its identity keys and one project's seed entry), read
/// at most once per launch and only when a seed is missing from the runtime.
///
/// They come from `<account>/.claude-accounts/seeds-cache.json` when that
/// cache was taken from the account's `.claude.json` as it is now (same
/// inode, size and mtime) for the same keys and holds this project: a new
/// worktree of a project seen before then starts without reading a possibly
/// large account file. Otherwise the account file is read and the cache
/// refreshed once claude has started ([`after_start`]; best effort: a
/// cache that cannot be written is only a cache).
struct AccountState {
    path: PathBuf,
    cache: PathBuf,
    loaded: Option<Map<String, Value>>,
    /// A refreshed seeds cache, written once claude has started.
    refreshed: Option<SeedsCacheUpdate>,
}

/// A seeds cache to write (see [`after_start`]).
#[derive(Debug)]
pub struct SeedsCacheUpdate {
    path: PathBuf,
    bytes: Vec<u8>,
}

/// The seeds cache: what [`AccountState`] took from one version of the
/// account's `.claude.json`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SeedsCache {
    identity: String,
    seed_keys: Vec<String>,
    project_seed_keys: Vec<String>,
    keys: Map<String, Value>,
    /// Project key → its seed entry (`null`: the account has no entry).
    projects: Map<String, Value>,
}

impl AccountState {
    fn new(account_dir: &Path) -> AccountState {
        AccountState {
            path: account_dir.join(".claude.json"),
            cache: account_dir.join(STATE_DIR).join("seeds-cache.json"),
            loaded: None,
            refreshed: None,
        }
    }

    fn get(&mut self, account: &Account, project: Option<&str>) -> Result<&Map<String, Value>> {
        if self.loaded.is_none() {
            let (seeds, refreshed) = self.load(account, project)?;
            self.loaded = Some(seeds);
            self.refreshed = refreshed;
        }
        Ok(self.loaded.as_ref().expect("loaded above"))
    }

    /// The seeds, and the refreshed cache when they were read from the
    /// account file.
    fn load(
        &self,
        account: &Account,
        project: Option<&str>,
    ) -> Result<(Map<String, Value>, Option<SeedsCacheUpdate>)> {
        let identity = file_identity(&self.path);
        let cached: Option<SeedsCache> = std::fs::read_to_string(&self.cache)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .filter(|c: &SeedsCache| {
                Some(&c.identity) == identity.as_ref()
                    && c.seed_keys == account.seed_keys
                    && c.project_seed_keys == account.project_seed_keys
            });
        let hit = cached
            .as_ref()
            .is_some_and(|c| project.is_none_or(|p| c.projects.contains_key(p)));
        let mut cache = match cached {
            Some(c) if hit => return Ok((seeds_of(&c, project), None)),
            Some(c) => c,
            None => SeedsCache::default(),
        };
        let picked = jsonfile::pick(
            &self.path,
            &jsonfile::Options::claude_json(),
            jsonfile::Wanted {
                keys: &account.seed_keys,
                fields_of: project.map(|p| ("projects", p, &account.project_seed_keys[..])),
            },
        )?;
        cache.keys = picked.values;
        if let Some(p) = project {
            let entry = picked.fields.map_or(Value::Null, Value::Object);
            cache.projects.insert(p.to_string(), entry);
        }
        let seeds = seeds_of(&cache, project);
        // The identity was taken before the read: if the file changed in
        // between, the cache never matches it (a miss, never a stale hit).
        let refreshed = match (identity, picked.exists) {
            (Some(identity), true) => {
                cache.identity = identity;
                cache.seed_keys = account.seed_keys.clone();
                cache.project_seed_keys = account.project_seed_keys.clone();
                Some(SeedsCacheUpdate {
                    path: self.cache.clone(),
                    bytes: serde_json::to_vec(&cache).expect("serialisable"),
                })
            }
            _ => None,
        };
        Ok((seeds, refreshed))
    }
}

impl SeedsCacheUpdate {
    /// Writes the cache (atomically; not synced: a lost cache is only a
    /// cache). Best effort: the caller ignores errors.
    fn write(&self) -> Result<()> {
        let opts = jsonfile::Options {
            durable: false,
            private: true,
            ..jsonfile::Options::settings_json()
        };
        managed::create_private_dir(self.path.parent().expect("state dir"))?;
        jsonfile::write_atomic(&self.path, &self.bytes, &opts)
    }
}

/// The seeds of `project` from a cache: the identity keys, and the project's
/// entry under [`PROJECT_SEED`] when the account has one.
fn seeds_of(cache: &SeedsCache, project: Option<&str>) -> Map<String, Value> {
    let mut seeds = cache.keys.clone();
    if let Some(entry @ Value::Object(_)) = project.and_then(|p| cache.projects.get(p)) {
        seeds.insert(PROJECT_SEED.into(), entry.clone());
    }
    seeds
}

/// A worktree's MCP overlay as read at launch, and whether the account's
/// trust list covers the project.
pub struct Overlay {
    path: Option<PathBuf>,
    servers: Option<Map<String, Value>>,
    listed: bool,
    /// Why an existing overlay file could not be used.
    pub problem: Option<String>,
}

impl Overlay {
    /// Reads the overlay of `rt`'s worktree (none outside a worktree).
    pub fn load(rt: &Runtime, account: &Account, home: &Path) -> Overlay {
        let path = rt
            .worktree
            .as_ref()
            .and_then(|w| overlay::overlay_path(account, w));
        let (servers, problem) = match &path {
            Some(p) => match overlay::read_overlay(p) {
                Ok(o) => (o, None),
                Err(e) => (None, Some(format!("ignoring the MCP overlay: {e:#}"))),
            },
            None => (None, None),
        };
        let listed = rt
            .project_key
            .as_deref()
            .is_some_and(|p| overlay::listed_as_trusted(account, home, p));
        Overlay {
            path,
            servers,
            listed,
            problem,
        }
    }

    /// The declared `.claude.json` keys: the account's, with the overlay's
    /// servers merged over them when the project is trusted (by the list, or
    /// by Claude Code's trust dialog as recorded in `project_entry`, which
    /// needs only that flag), and the
    /// line to tell the user when an overlay is ignored.
    pub fn desired(
        &self,
        account: &Account,
        project: Option<&str>,
        project_entry: Option<&Value>,
    ) -> (Map<String, Value>, Option<String>) {
        let trusted_by_claude =
            project_entry.and_then(|e| e.get(TRUST_FLAG)) == Some(&Value::Bool(true));
        match &self.servers {
            Some(o) if self.listed || trusted_by_claude => {
                (overlay::merged_claude_json(account, Some(o)), None)
            }
            Some(o) if !o.is_empty() => (
                account.claude_json.clone(),
                Some(format!(
                    "ignoring MCP servers in {}: {} is not a trusted project; trust it by accepting Claude Code's trust dialog there or by adding it to trustedProjects of this account, then relaunch",
                    self.path
                        .as_ref()
                        .expect("servers come from a file")
                        .display(),
                    project.unwrap_or("this worktree")
                )),
            ),
            _ => (account.claude_json.clone(), None),
        }
    }
}

/// Where Claude Code records, in a project's entry, that its trust dialog
/// was accepted.
const TRUST_FLAG: &str = "hasTrustDialogAccepted";

/// What a launch looks at in the `projects[<project>]` entry of `doc`: the
/// account's project seed keys and Claude's trust flag. Nothing else is
/// decoded: the entry's prompt history, often most of its bytes, and the
/// other projects stay raw text.
fn project_fields(
    doc: &dyn jsonfile::Members,
    project: Option<&str>,
    account: &Account,
) -> Result<Option<Value>> {
    let Some(p) = project else {
        return Ok(None);
    };
    Ok(doc
        .member_fields("projects", p, &project_field_names(account))?
        .map(Value::Object))
}

/// The fields [`project_fields`] reads.
fn project_field_names(account: &Account) -> Vec<String> {
    let mut fields = account.project_seed_keys.clone();
    fields.push(TRUST_FLAG.to_string());
    fields
}

/// Identity (inode, size, mtime) of a file, for the seeds cache.
fn file_identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{} {} {}.{}",
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// What launching in `rt` would change in its `settings.json` and
/// `.claude.json` (for `status`), without writing.
pub fn plan(rt: &Runtime, account: &Account, home: &Path) -> Result<(Report, Report)> {
    let settings = ManagedFile::settings(&rt.dir).plan(&account.settings, None)?;
    let file = ManagedFile::claude_json(&rt.dir);
    let snapshot = jsonfile::read(&file.path, &file.opts)?;
    let doc = snapshot.document()?;
    let project = rt
        .project_key
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let entry = project_fields(&doc, project.as_deref(), account)?;
    let (desired, _) =
        Overlay::load(rt, account, home).desired(account, project.as_deref(), entry.as_ref());
    Ok((settings, file.plan(&desired, None)?))
}

/// Seeds, overlay and three-way apply of the runtime's `.claude.json`, in one
/// atomic update.
fn apply_claude_json_file(
    rt: &Runtime,
    file: &ManagedFile,
    account: &Account,
    home: &Path,
    seeds_cache: &mut Option<SeedsCacheUpdate>,
    notes: &mut Vec<String>,
) -> Result<(Report, Outcome)> {
    let project = rt.project_key.clone();
    let project_name = project.as_ref().map(|p| p.to_string_lossy().into_owned());
    let overlay = Overlay::load(rt, account, home);
    notes.extend(overlay.problem.clone());
    let mut account_state = AccountState::new(&rt.account_dir);
    let seeding = !rt.is_account_dir();
    let mut overlay_note = None;
    // What the preparation below reads: the declared keys (the overlay's
    // servers go under one of them), the seed keys, the project's fields.
    let mut keys: Vec<String> = account.claude_json.keys().cloned().collect();
    keys.extend(account.seed_keys.iter().cloned());
    keys.push("mcpServers".to_string());
    let fields = project_field_names(account);
    let reads = jsonfile::Wanted {
        keys: &keys,
        fields_of: project_name
            .as_deref()
            .map(|p| ("projects", p, &fields[..])),
    };
    let result = file.apply_with(None, Some(reads), |doc| {
        let mut extra = Edits::new();
        let mut runtime_project = project_fields(doc, project_name.as_deref(), account)?;
        if seeding {
            let missing: Vec<String> = account
                .seed_keys
                .iter()
                .filter(|k| !account.claude_json.contains_key(*k))
                .filter_map(|k| match doc.has(k) {
                    Ok(true) => None,
                    Ok(false) => Some(Ok(k.clone())),
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_>>()?;
            let project_missing = project_name.is_some()
                && account
                    .project_seed_keys
                    .iter()
                    .any(|k| runtime_project.as_ref().and_then(|e| e.get(k)).is_none());
            if !missing.is_empty() || project_missing {
                let seeds = account_state.get(account, project_name.as_deref())?;
                for key in &missing {
                    if let Some(v) = seeds.get(key) {
                        extra.insert(key.clone(), Some(v.clone()));
                    }
                }
                if let (Some(name), Some(Value::Object(source))) =
                    (&project_name, seeds.get(PROJECT_SEED))
                {
                    let has = |key: &String| {
                        runtime_project
                            .as_ref()
                            .is_some_and(|e| e.get(key).is_some())
                    };
                    let adds: Vec<(&String, &Value)> = account
                        .project_seed_keys
                        .iter()
                        .filter(|key| !has(key))
                        .filter_map(|key| source.get(key).map(|v| (key, v)))
                        .collect();
                    if !adds.is_empty() && !account.claude_json.contains_key("projects") {
                        // `projects` is rewritten, so decoded whole: this
                        // happens once per runtime, usually a new one.
                        let mut projects = match doc.value("projects")? {
                            Some(Value::Object(p)) => p,
                            _ => Map::new(),
                        };
                        let mut entry = match projects.get(name) {
                            Some(Value::Object(e)) => e.clone(),
                            _ => Map::new(),
                        };
                        for (key, value) in adds {
                            entry.insert(key.clone(), value.clone());
                        }
                        projects.insert(name.clone(), Value::Object(entry.clone()));
                        extra.insert("projects".into(), Some(Value::Object(projects)));
                        runtime_project = Some(Value::Object(entry));
                    }
                }
            }
        }
        let (desired, note) =
            overlay.desired(account, project_name.as_deref(), runtime_project.as_ref());
        overlay_note = note;
        Ok(managed::Prepare { desired, extra })
    })?;
    notes.extend(overlay_note);
    *seeds_cache = account_state.refreshed.take();
    Ok(result)
}

/// After a session: identity keys a login wrote into the runtime's
/// `.claude.json` that the account lacks are copied to the account, so the
/// next runtime starts logged in too. Only missing keys are added.
pub fn propagate_identity(rt: &Runtime, account: &Account) -> Result<Vec<String>> {
    if rt.is_account_dir() || account.seed_keys.is_empty() {
        return Ok(Vec::new());
    }
    let seeds = jsonfile::Wanted {
        keys: &account.seed_keys,
        fields_of: None,
    };
    let opts = jsonfile::Options::claude_json();
    let found = jsonfile::pick(&rt.dir.join(".claude.json"), &opts, seeds)?.values;
    let account_file = rt.account_dir.join(".claude.json");
    // Usually the account has them all: then it is not locked or rewritten.
    let has = jsonfile::pick(&account_file, &opts, seeds)?.values;
    if found.keys().all(|k| has.contains_key(k)) {
        return Ok(Vec::new());
    }
    let mut added = Vec::new();
    jsonfile::update(&account_file, &opts, |doc| {
        added.clear();
        let mut edits = Edits::new();
        for (key, value) in &found {
            if doc.get(key).is_none() {
                edits.insert(key.clone(), Some(value.clone()));
                added.push(key.clone());
            }
        }
        Ok(edits)
    })?;
    Ok(added)
}
