//! The `claude-session` commands: start, resume, fork, incognito, list,
//! show and delete, for the project of the current directory.
//!
//! Every session runs through [`crate::launch::launch`], exactly like
//! `claude<name>` (runtime dir, single-instance lock, secrets), with the
//! session flags (`--session-id`, `--resume`, `--fork-session`) and the
//! session's `--settings` layer placed before the user's arguments.
//!
//! Guarantees: a name is recorded before its session starts and under the
//! project's lock, so two `start`s of one name cannot both succeed; a name
//! runs at most once at a time; a transcript is copied to another account,
//! never moved; `delete` and the end of an `incognito` session remove every
//! transcript of every id of the name in every account of the manifest.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::names::{self, Locked, Parent, Running, Session, Store};
use super::profile;
use super::transcripts::{self, Copied};
use crate::context;
use crate::launch;
use crate::manifest::{self, Manifest};
use crate::registry;

/// One `claude-session` command.
#[derive(Debug, Clone)]
pub enum Action {
    Start {
        name: String,
        account: Option<String>,
        profile: Option<String>,
        args: Vec<OsString>,
    },
    Resume {
        name: String,
        account: Option<String>,
        profile: Option<String>,
        args: Vec<OsString>,
    },
    Fork {
        parent: String,
        name: String,
        account: Option<String>,
        profile: Option<String>,
        args: Vec<OsString>,
    },
    Incognito {
        account: Option<String>,
        profile: Option<String>,
        args: Vec<OsString>,
    },
    List {
        json: bool,
    },
    Show {
        name: String,
        json: bool,
    },
    Delete {
        name: String,
    },
}

/// What every command needs: the manifest, the helper's state dir and the
/// store of the current directory's project.
pub struct Env<'m> {
    pub m: &'m Manifest,
    pub home: PathBuf,
    pub state_home: PathBuf,
    pub store: Store,
}

impl<'m> Env<'m> {
    /// The environment of the current directory.
    pub fn current(m: &'m Manifest) -> Result<Env<'m>> {
        let home = manifest::home_dir()?;
        let state_home = registry::state_home(&home);
        let store = store_here()?;
        Ok(Env {
            m,
            home,
            state_home,
            store,
        })
    }

    /// The config dirs of `account` to search: the account dir and its
    /// registered runtime dirs.
    fn config_dirs(&self, account: &str) -> Result<Vec<PathBuf>> {
        let dir = self.m.config_dir(account, &self.home)?;
        registry::known_dirs(&self.state_home, account, &dir)
    }

    /// Every account's config dirs, account by account.
    fn all_config_dirs(&self) -> Result<Vec<(String, Vec<PathBuf>)>> {
        self.m
            .accounts
            .keys()
            .map(|a| Ok((a.clone(), self.config_dirs(a)?)))
            .collect()
    }

    fn account_projects(&self, account: &str) -> Result<PathBuf> {
        Ok(self.m.config_dir(account, &self.home)?.join("projects"))
    }
}

/// The name store of the current directory's project: the one every
/// command here reads (and `claude-accounts names sessions` lists).
pub fn store_here() -> Result<Store> {
    let home = manifest::home_dir()?;
    let cwd = std::env::current_dir().context("finding the current directory")?;
    Ok(Store::new(&registry::state_home(&home), &project_key(&cwd)))
}

/// The key names are stored under: the main checkout's root of the
/// repository `cwd` is in; `cwd` itself outside git or in a bare repository.
pub fn project_key(cwd: &Path) -> PathBuf {
    let ctx = context::detect(cwd, &|k| std::env::var_os(k));
    ctx.project_key
        .unwrap_or_else(|| std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_path_buf()))
}

/// Runs one command; for the commands that run claude, claude's status.
///
/// `out` gets what `list`, `show` and `delete` print; the commands that run
/// claude print their notes on stderr, leaving stdout to claude.
pub fn run(m: &Manifest, action: Action, out: &mut dyn Write) -> Result<ExitCode> {
    let env = Env::current(m)?;
    let notes = &mut std::io::stderr();
    match action {
        Action::Start {
            name,
            account,
            profile,
            args,
        } => start(&env, &name, account, profile, args, notes),
        Action::Resume {
            name,
            account,
            profile,
            args,
        } => resume(&env, &name, account, profile, args, notes),
        Action::Fork {
            parent,
            name,
            account,
            profile,
            args,
        } => fork(&env, &parent, &name, account, profile, args, notes),
        Action::Incognito {
            account,
            profile,
            args,
        } => incognito(&env, account, profile, args, notes),
        Action::List { json } => list(&env, json, out).map(|()| ExitCode::SUCCESS),
        Action::Show { name, json } => show(&env, &name, json, out).map(|()| ExitCode::SUCCESS),
        Action::Delete { name } => delete(&env, &name, out).map(|()| ExitCode::SUCCESS),
    }
}

/// The account a new session runs with: the one given, else the
/// manifest's only account or its default.
fn choose_account(env: &Env, given: Option<String>) -> Result<String> {
    let m = env.m;
    if let Some(a) = given {
        m.account(&a)?;
        return Ok(a);
    }
    if m.accounts.len() == 1 {
        return Ok(m.accounts.keys().next().expect("one account").clone());
    }
    // As the `claude` dispatcher chooses: CLAUDE_ACCOUNT, accountFor,
    // defaultAccount.
    let from_env = std::env::var(crate::dispatch::ACCOUNT_VAR).ok();
    let cwd = std::env::current_dir().context("finding the current directory")?;
    if let Ok(choice) = crate::dispatch::choose(m, &env.home, &cwd, from_env.as_deref()) {
        return Ok(choice.account);
    }
    let known: Vec<&str> = m.accounts.keys().map(String::as_str).collect();
    bail!(
        "the manifest has {} accounts ({}) and no default for this directory; pass --account NAME, or set programs.claude-code.defaultAccount or accountFor",
        known.len(),
        known.join(", ")
    )
}

/// `given` (checked against the manifest), else `recorded`: the account a
/// session ran with last.
fn account_or(env: &Env, given: Option<String>, recorded: &str) -> Result<String> {
    match given {
        Some(a) => {
            env.m.account(&a)?;
            Ok(a)
        }
        None => Ok(recorded.to_string()),
    }
}

/// Refuses the flags `claude-session` passes itself.
fn check_args(args: &[OsString]) -> Result<()> {
    for arg in args {
        if arg == "--" {
            break;
        }
        let Some(a) = arg.to_str() else { continue };
        let flag = a.split('=').next().unwrap_or(a);
        if matches!(
            flag,
            "--session-id" | "--resume" | "-r" | "--continue" | "-c" | "--fork-session"
        ) {
            bail!(
                "{flag} is claude-session's to choose; remove it from the arguments for claude (use `claude-session resume NAME` or `claude-session fork PARENT NAME`)"
            );
        }
    }
    Ok(())
}

/// The profile a session runs with: the one given (it must exist), else
/// the one it ran with before if `account` has it.
fn choose_profile(
    env: &Env,
    account: &str,
    given: Option<String>,
    before: Option<&str>,
    out: &mut dyn Write,
) -> Result<Option<String>> {
    let acc = env.m.account(account)?;
    if let Some(p) = given {
        profile::path(account, acc, &p)?;
        return Ok(Some(p));
    }
    match before {
        Some(p) if acc.profiles.contains_key(p) => Ok(Some(p.to_string())),
        Some(p) => {
            writeln!(
                out,
                "claude-session: account {account} has no profile {p:?}; running without it"
            )?;
            Ok(None)
        }
        None => Ok(None),
    }
}

fn start(
    env: &Env,
    name: &str,
    account: Option<String>,
    profile: Option<String>,
    args: Vec<OsString>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    names::check_name(name)?;
    check_args(&args)?;
    let account = choose_account(env, account)?;
    let profile = choose_profile(env, &account, profile, None, out)?;
    let id = names::new_id()?;
    let running = {
        let mut locked = env.store.lock()?;
        taken(&locked, name)?;
        let running = claim(&env.store, name)?;
        locked.names.sessions.insert(
            name.to_string(),
            Session::new(&id, &account, profile.clone()),
        );
        locked.save()?;
        running
    };
    let leading = vec!["--session-id".into(), id.clone().into()];
    run_new_id(
        env,
        name,
        &id,
        &account,
        profile.as_deref(),
        leading,
        args,
        running,
    )
}

fn resume(
    env: &Env,
    name: &str,
    account: Option<String>,
    profile: Option<String>,
    args: Vec<OsString>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    check_args(&args)?;
    let running = claim_existing(env, name)?;
    let session = get(&env.store, name)?;
    let account = account_or(env, account, &session.account)?;
    let profile = choose_profile(env, &account, profile, session.profile.as_deref(), out)?;
    bring(env, name, &session.id, &account, out)?;
    {
        let mut locked = env.store.lock()?;
        let s = locked.get_mut(name)?;
        s.account = account.clone();
        s.profile = profile.clone();
        s.last_used_at = crate::clock::now_secs();
        locked.save()?;
    }
    let leading = vec!["--resume".into(), session.id.clone().into()];
    let result = run_claude(env, name, &account, profile.as_deref(), leading, args);
    drop(running);
    result
}

/// Runs the new id `id` of `name` while `running` holds the name; an id
/// claude never ran is forgotten again when the run fails.
#[allow(clippy::too_many_arguments)]
fn run_new_id(
    env: &Env,
    name: &str,
    id: &str,
    account: &str,
    profile: Option<&str>,
    leading: Vec<OsString>,
    args: Vec<OsString>,
    running: Running,
) -> Result<ExitCode> {
    let result = run_claude(env, name, account, profile, leading, args);
    if result.is_err() {
        forget_if_never_ran(env, name, id)?;
    }
    drop(running);
    result
}

fn fork(
    env: &Env,
    parent: &str,
    name: &str,
    account: Option<String>,
    profile: Option<String>,
    args: Vec<OsString>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    names::check_name(name)?;
    check_args(&args)?;
    let from = get(&env.store, parent)?;
    let account = account_or(env, account, &from.account)?;
    let profile = choose_profile(env, &account, profile, from.profile.as_deref(), out)?;
    bring(env, parent, &from.id, &account, out)?;
    let id = names::new_id()?;
    let running = {
        let mut locked = env.store.lock()?;
        taken(&locked, name)?;
        let running = claim(&env.store, name)?;
        let mut session = Session::new(&id, &account, profile.clone());
        session.forked_from = Some(Parent {
            name: parent.to_string(),
            id: from.id.clone(),
        });
        locked.names.sessions.insert(name.to_string(), session);
        locked.save()?;
        running
    };
    let leading = vec![
        "--resume".into(),
        from.id.clone().into(),
        "--fork-session".into(),
        "--session-id".into(),
        id.clone().into(),
    ];
    run_new_id(
        env,
        name,
        &id,
        &account,
        profile.as_deref(),
        leading,
        args,
        running,
    )
}

fn incognito(
    env: &Env,
    account: Option<String>,
    profile: Option<String>,
    args: Vec<OsString>,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    check_args(&args)?;
    let account = choose_account(env, account)?;
    let profile = choose_profile(env, &account, profile, None, out)?;
    let id = names::new_id()?;
    let name = format!("incognito-{}", &id[..8]);
    let running = {
        let mut locked = env.store.lock()?;
        taken(&locked, &name)?;
        let running = claim(&env.store, &name)?;
        let mut session = Session::new(&id, &account, profile.clone());
        session.incognito = true;
        locked.names.sessions.insert(name.clone(), session);
        locked.save()?;
        running
    };
    let leading = vec!["--session-id".into(), id.into()];
    let result = run_claude(env, &name, &account, profile.as_deref(), leading, args);
    drop(running);
    if let Err(e) = forget_prompts(env, &name) {
        eprintln!("claude-session: warning: {e:#}");
    }
    let removed = remove_name(env, &name);
    match (&result, removed) {
        (_, Ok(n)) => {
            writeln!(
                out,
                "claude-session: incognito session ended; removed its transcripts ({n} files and dirs)"
            )?;
        }
        (Ok(_), Err(e)) => return Err(e.context("removing the incognito session's transcripts")),
        (Err(_), Err(e)) => eprintln!("claude-session: warning: {e:#}"),
    }
    result
}

fn list(env: &Env, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let names = env.store.read()?;
    if as_json {
        let mut all = Vec::new();
        for (name, s) in &names.sessions {
            let mut v = serde_json::to_value(s)?;
            v["name"] = json!(name);
            v["running"] = json!(env.store.is_running(name)?);
            all.push(v);
        }
        serde_json::to_writer_pretty(
            &mut *out,
            &json!({"project": names.project, "sessions": all}),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    if names.sessions.is_empty() {
        writeln!(
            out,
            "no named sessions in {}; start one with `claude-session start NAME`",
            names.project.display()
        )?;
        return Ok(());
    }
    writeln!(out, "sessions of {}:", names.project.display())?;
    let mut rows = vec![[
        "NAME".to_string(),
        "ACCOUNT".into(),
        "LAST USED".into(),
        "SESSION ID".into(),
        "NOTES".into(),
    ]];
    for (name, s) in &names.sessions {
        rows.push([
            name.clone(),
            s.account.clone(),
            crate::clock::format_utc(s.last_used_at),
            s.id.clone(),
            notes(s, env.store.is_running(name)?).join(", "),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

fn notes(s: &Session, running: bool) -> Vec<String> {
    let mut n = Vec::new();
    if running {
        n.push("running".to_string());
    }
    if s.incognito {
        n.push("incognito".into());
    }
    if let Some(p) = &s.forked_from {
        n.push(format!("fork of {}", p.name));
    }
    if let Some(p) = &s.profile {
        n.push(format!("profile {p}"));
    }
    if !s.earlier_ids.is_empty() {
        n.push(format!("{} earlier ids", s.earlier_ids.len()));
    }
    let others: Vec<&str> = s
        .copies
        .keys()
        .filter(|a| **a != s.account)
        .map(String::as_str)
        .collect();
    if !others.is_empty() {
        n.push(format!("copies also in {}", others.join(", ")));
    }
    n
}

fn show(env: &Env, name: &str, as_json: bool, out: &mut dyn Write) -> Result<()> {
    let names = env.store.read()?;
    let Some(s) = names.sessions.get(name) else {
        bail!("{}", names::unknown_name(&names, name));
    };
    let running = env.store.is_running(name)?;
    // Transcripts on disk, id by id, account by account.
    let mut on_disk = Vec::new();
    for id in s.all_ids() {
        for (account, dirs) in env.all_config_dirs()? {
            for f in transcripts::find(&transcripts::projects_dirs(&dirs), &id)? {
                on_disk.push(json!({
                    "id": id,
                    "account": account,
                    "path": f.path,
                    "bytes": f.len,
                }));
            }
        }
    }
    if as_json {
        let mut v = serde_json::to_value(s)?;
        v["name"] = json!(name);
        v["project"] = json!(names.project);
        v["running"] = json!(running);
        v["transcripts"] = Value::Array(on_disk);
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{name} (project {})", names.project.display())?;
    writeln!(out, "  session id:  {}", s.id)?;
    if !s.earlier_ids.is_empty() {
        writeln!(out, "  earlier ids: {}", s.earlier_ids.join(", "))?;
    }
    writeln!(out, "  account:     {} (last run with)", s.account)?;
    if let Some(p) = &s.profile {
        writeln!(out, "  profile:     {p}")?;
    }
    if let Some(p) = &s.forked_from {
        writeln!(out, "  forked from: {} ({})", p.name, p.id)?;
    }
    writeln!(
        out,
        "  created:     {}",
        crate::clock::format_utc(s.created_at)
    )?;
    writeln!(
        out,
        "  last used:   {}",
        crate::clock::format_utc(s.last_used_at)
    )?;
    writeln!(
        out,
        "  state:       {}{}",
        if running { "running" } else { "not running" },
        if s.incognito { ", incognito" } else { "" }
    )?;
    if on_disk.is_empty() {
        writeln!(out, "  transcripts: none on disk")?;
    } else {
        writeln!(out, "  transcripts:")?;
        for t in &on_disk {
            writeln!(
                out,
                "    {} {}: {} ({} bytes)",
                t["account"].as_str().unwrap_or(""),
                t["id"].as_str().unwrap_or(""),
                t["path"].as_str().unwrap_or(""),
                t["bytes"]
            )?;
        }
    }
    Ok(())
}

fn delete(env: &Env, name: &str, out: &mut dyn Write) -> Result<()> {
    get(&env.store, name)?;
    let Some(running) = env.store.claim(name)? else {
        bail!(
            "the session {name:?} is running; end it first, then run `claude-session delete {name}` again"
        );
    };
    let n = remove_name(env, name)?;
    drop(running);
    writeln!(
        out,
        "deleted {name:?} and its transcripts ({n} files and dirs)"
    )?;
    Ok(())
}

/// Removes the prompts of every id of `name` from every account's
/// `history.jsonl` (for incognito sessions).
fn forget_prompts(env: &Env, name: &str) -> Result<()> {
    let ids = get(&env.store, name)?.all_ids();
    for (_, dirs) in env.all_config_dirs()? {
        transcripts::remove_history(&dirs, &ids)?;
    }
    Ok(())
}

/// Removes every transcript of every id of `name` in every account, then
/// the name. The name is kept when a transcript could not be removed, so
/// `delete` can be run again.
fn remove_name(env: &Env, name: &str) -> Result<usize> {
    let mut locked = env.store.lock()?;
    let session = locked.get_mut(name)?.clone();
    let mut removed = 0;
    for (_, dirs) in env.all_config_dirs()? {
        let projects = transcripts::projects_dirs(&dirs);
        for id in session.all_ids() {
            removed += transcripts::remove(&projects, &dirs, &id)?.len();
        }
    }
    let gone: Vec<&String> = session
        .copies
        .keys()
        .filter(|a| !env.m.accounts.contains_key(*a))
        .collect();
    for account in gone {
        eprintln!(
            "claude-session: warning: account {account} is no longer in the manifest; remove its copies of {} by hand (in its config dir's projects/)",
            session.all_ids().join(", ")
        );
    }
    locked.names.sessions.remove(name);
    locked.save()?;
    let _ = std::fs::remove_file(env.store.settings_file(name));
    Ok(removed)
}

/// Makes sure `account` holds the newest transcript of `id` (of `name`),
/// copying it from another account when needed, and records the copy.
fn bring(env: &Env, name: &str, id: &str, account: &str, out: &mut dyn Write) -> Result<()> {
    let mut everywhere = Vec::new();
    for (acc, dirs) in env.all_config_dirs()? {
        for f in transcripts::find(&transcripts::projects_dirs(&dirs), id)? {
            everywhere.push((acc.clone(), f));
        }
    }
    let found: Vec<_> = everywhere.iter().map(|(_, f)| f.clone()).collect();
    let Some(newest) = transcripts::newest(&found) else {
        bail!(
            "the transcript of {name:?} (session {id}) is in no account's projects/ dir any more; delete the name with `claude-session delete {name}`"
        );
    };
    let holder = everywhere
        .iter()
        .find(|(_, f)| f == newest)
        .map(|(a, _)| a.clone())
        .expect("newest is one of them");
    if holder != account {
        let projects = env.account_projects(account)?;
        match transcripts::copy_into(&newest.path, &projects)? {
            Copied::Same(_) => {}
            Copied::To(to) => writeln!(
                out,
                "claude-session: copied the transcript of {name:?} from account {holder} to {}",
                to.display()
            )?,
            Copied::Replaced(to, aside) => writeln!(
                out,
                "claude-session: copied the transcript of {name:?} from account {holder} to {}; the different one that was there is kept as {}",
                to.display(),
                aside.display()
            )?,
        }
    }
    let mut locked = env.store.lock()?;
    let s = locked.get_mut(name)?;
    s.add_copy(account, id);
    locked.save()
}

/// Runs claude for session `name` through the launch path, with the
/// session's `--settings` layer (profile, the user's `--settings`, the
/// `SessionStart` hook).
fn run_claude(
    env: &Env,
    name: &str,
    account: &str,
    profile: Option<&str>,
    mut leading: Vec<OsString>,
    args: Vec<OsString>,
) -> Result<ExitCode> {
    let acc = env.m.account(account)?;
    let profile_keys = match profile {
        Some(p) => Some(profile::read(profile::path(account, acc, p)?)?),
        None => None,
    };
    let (args, user) = profile::take_user_settings(args)?;
    let layer = profile::layer(profile_keys, user, Some(&hook_command(env, name, account)?));
    let settings = env.store.settings_file(name);
    profile::write_layer(&settings, &layer)?;
    leading.push("--settings".into());
    leading.push(settings.clone().into());
    let opts = launch::Options {
        leading_args: leading,
        ..launch::Options::default()
    };
    let result = launch::launch(env.m, account, args, &opts);
    let _ = std::fs::remove_file(&settings);
    result
}

/// The hook command, for `sh`: this helper's `session-hook` with where to
/// record.
fn hook_command(env: &Env, name: &str, account: &str) -> Result<String> {
    let exe = std::env::current_exe().context("finding the claude-accounts executable")?;
    let q = |p: &Path| profile::shell_quote(&p.to_string_lossy());
    Ok(format!(
        "{} session-hook --state-home {} --project {} --name {} --account {}",
        q(&exe),
        q(&env.state_home),
        q(&env.store.project),
        profile::shell_quote(name),
        profile::shell_quote(account)
    ))
}

fn get(store: &Store, name: &str) -> Result<Session> {
    let names = store.read()?;
    names
        .sessions
        .get(name)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{}", names::unknown_name(&names, name)))
}

fn taken(locked: &Locked, name: &str) -> Result<()> {
    if let Some(s) = locked.names.sessions.get(name) {
        bail!(
            "a session named {name:?} already exists in {} (started {} with account {}); resume it with `claude-session resume {name}`, pick another name, or delete it first with `claude-session delete {name}`",
            locked.names.project.display(),
            crate::clock::format_utc(s.created_at),
            s.account
        );
    }
    Ok(())
}

fn claim(store: &Store, name: &str) -> Result<Running> {
    store.claim(name)?.with_context(|| {
        format!("the session {name:?} is running in another terminal; use that one, or fork it with `claude-session fork {name} NEW-NAME`")
    })
}

fn claim_existing(env: &Env, name: &str) -> Result<Running> {
    get(&env.store, name)?;
    claim(&env.store, name)
}

/// After a failed launch of a new name: forgets the name when claude wrote
/// no transcript for it (it never ran), so the name can be used again.
fn forget_if_never_ran(env: &Env, name: &str, id: &str) -> Result<()> {
    for (_, dirs) in env.all_config_dirs()? {
        if !transcripts::find(&transcripts::projects_dirs(&dirs), id)?.is_empty() {
            return Ok(());
        }
    }
    let mut locked = env.store.lock()?;
    if locked.names.sessions.get(name).is_some_and(|s| s.id == id) {
        locked.names.sessions.remove(name);
        locked.save()?;
    }
    Ok(())
}
