//! Profiles, and the `--settings` layer a session gets.
//!
//! A profile is a JSON object of `settings.json` keys, declared per account
//! (`manifest::Account::profiles`, rendered into the store by Nix). Claude
//! Code reads one `--settings` layer per session: the last `--settings`
//! flag replaces earlier ones whole (checked with the real Claude Code
//! 2.1.332). So the layer is built here from, in order of strength:
//! 1. the profile's keys;
//! 2. the user's own `--settings` (a file or inline JSON), taken out of the
//!    user's arguments: its keys win, objects merged key by key;
//! 3. for a named session, the `SessionStart` hook that keeps the name
//!    across `/clear`, appended to `hooks.SessionStart`.
//!
//! Other flags the user passes need nothing here: Claude Code lets its flags
//! win over every settings layer (`--model` over a `--settings` model,
//! checked with the real Claude Code 2.1.332).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use crate::manifest::Account;

/// `settings.json` keys.
pub type Settings = Map<String, Value>;

/// The settings file of profile `name` of `account_name`, or an error
/// listing the account's profiles.
pub fn path<'a>(account_name: &str, account: &'a Account, name: &str) -> Result<&'a Path> {
    match account.profiles.get(name) {
        Some(p) => Ok(p),
        None => {
            let known: Vec<&str> = account.profiles.keys().map(String::as_str).collect();
            bail!(
                "account {account_name} has no profile {name:?} (profiles: {}); declare it as programs.claude-code.accounts.{account_name}.profiles.{name} (or programs.claude-code.profiles.{name}) and switch",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        }
    }
}

/// Reads a profile: a JSON object.
pub fn read(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the profile {}; run home-manager switch to render it again",
            path.display()
        )
    })?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!(
            "the profile {} is not a JSON object of settings.json keys",
            path.display()
        ),
        Err(e) => bail!("the profile {} is not valid JSON: {e}", path.display()),
    }
}

/// The user's `--settings` (the last one, as Claude reads it), taken out of
/// `args`; every other argument stays, in order. Arguments after a literal
/// `--` are not looked at.
pub fn take_user_settings(args: Vec<OsString>) -> Result<(Vec<OsString>, Option<Settings>)> {
    let mut rest = Vec::with_capacity(args.len());
    let mut found = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(it.by_ref());
            break;
        }
        let value = if arg == "--settings" {
            Some(it.next().context(
                "--settings in the arguments for claude has no value; give it a file or JSON",
            )?)
        } else {
            arg.to_str()
                .and_then(|a| a.strip_prefix("--settings="))
                .map(OsString::from)
        };
        match value {
            Some(v) => found = Some(v),
            None => rest.push(arg),
        }
    }
    let parsed = match found {
        Some(v) => Some(parse_settings_arg(&v)?),
        None => None,
    };
    Ok((rest, parsed))
}

/// A `--settings` value: inline JSON (starting with `{`) or a file.
fn parse_settings_arg(v: &OsStr) -> Result<Map<String, Value>> {
    let text = match v.to_str() {
        Some(s) if s.trim_start().starts_with('{') => s.to_string(),
        _ => std::fs::read_to_string(v).with_context(|| {
            format!(
                "reading the --settings file {} given for claude",
                Path::new(v).display()
            )
        })?,
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => bail!(
            "the --settings given for claude ({}) is not a JSON object; fix it or leave it out",
            Path::new(v).display()
        ),
    }
}

/// The layer: `profile`, then `user` on top (objects merged key by key,
/// anything else replaced), then `hook` appended to `hooks.SessionStart`.
pub fn layer(
    profile: Option<Map<String, Value>>,
    user: Option<Map<String, Value>>,
    hook: Option<&str>,
) -> Map<String, Value> {
    let mut out = profile.unwrap_or_default();
    if let Some(user) = user {
        merge(&mut out, user);
    }
    if let Some(command) = hook {
        let hooks = out
            .entry("hooks")
            .and_modify(|h| {
                if !h.is_object() {
                    *h = json!({});
                }
            })
            .or_insert_with(|| json!({}));
        let list = hooks
            .as_object_mut()
            .expect("an object")
            .entry("SessionStart")
            .and_modify(|l| {
                if !l.is_array() {
                    *l = json!([]);
                }
            })
            .or_insert_with(|| json!([]));
        list.as_array_mut()
            .expect("an array")
            .push(json!({"hooks": [{"type": "command", "command": command}]}));
    }
    out
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Writes `layer` to `path` (0600, atomically).
pub fn write_layer(path: &Path, layer: &Map<String, Value>) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(layer).context("encoding the settings layer")?;
    text.push(b'\n');
    crate::jsonfile::write_atomic(path, &text, &crate::jsonfile::Options::rebuildable())
}

/// `--settings` for `claude<name>` with `CLAUDE_ACCOUNTS_PROFILE`: the
/// arguments to put before the user's, the user's arguments (their own
/// `--settings` merged into the layer), and the merged file to remove after
/// the session (`None` when the profile's own file is passed).
pub struct LaunchSettings {
    pub leading: Vec<OsString>,
    pub args: Vec<OsString>,
    pub temp: Option<tempfile::TempPath>,
}

/// The `--settings` of a `launch` with profile `name`.
pub fn for_launch(
    account_name: &str,
    account: &Account,
    name: &str,
    args: Vec<OsString>,
    temp_dir: &Path,
) -> Result<LaunchSettings> {
    let file = path(account_name, account, name)?.to_path_buf();
    let profile = read(&file)?;
    let (args, user) = take_user_settings(args)?;
    let Some(user) = user else {
        return Ok(LaunchSettings {
            leading: vec!["--settings".into(), file.into()],
            args,
            temp: None,
        });
    };
    crate::managed::create_private_dir(temp_dir)?;
    let temp = tempfile::Builder::new()
        .prefix("settings.")
        .suffix(".json")
        .tempfile_in(temp_dir)
        .with_context(|| format!("creating a settings file in {}", temp_dir.display()))?
        .into_temp_path();
    let merged: PathBuf = temp.to_path_buf();
    write_layer(&merged, &layer(Some(profile), Some(user), None))?;
    Ok(LaunchSettings {
        leading: vec!["--settings".into(), merged.into()],
        args,
        temp: Some(temp),
    })
}

/// `s` quoted for `sh` (hook commands run through a shell).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn user_settings_are_taken_out_and_the_last_wins() {
        let (rest, user) = take_user_settings(os(&[
            "-p",
            "--settings",
            "{\"model\":\"a\"}",
            "hi",
            "--settings={\"model\":\"b\"}",
            "--",
            "--settings",
        ]))
        .unwrap();
        assert_eq!(rest, os(&["-p", "hi", "--", "--settings"]));
        assert_eq!(user.unwrap()["model"], "b");
        let err = take_user_settings(os(&["--settings"])).unwrap_err();
        assert!(err.to_string().contains("has no value"), "{err}");
        let err = take_user_settings(os(&["--settings", "{nope"])).unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
        let err = take_user_settings(os(&["--settings", "/nonexistent/s.json"])).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/s.json"),
            "{err:#}"
        );
    }

    #[test]
    fn the_layer_lets_the_user_win_and_appends_the_hook() {
        let profile = json!({
            "model": "haiku",
            "permissions": {"allow": ["Read"], "defaultMode": "plan"},
            "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "mine"}]}]}
        });
        let user = json!({"model": "opus", "permissions": {"allow": ["Edit"]}});
        let got = layer(
            profile.as_object().cloned(),
            user.as_object().cloned(),
            Some("'/bin/helper' session-hook"),
        );
        pretty_assertions::assert_eq!(
            Value::Object(got),
            json!({
                "model": "opus",
                "permissions": {"allow": ["Edit"], "defaultMode": "plan"},
                "hooks": {"SessionStart": [
                    {"hooks": [{"type": "command", "command": "mine"}]},
                    {"hooks": [{"type": "command", "command": "'/bin/helper' session-hook"}]}
                ]}
            })
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/nix/store/x-y/bin/a"), "/nix/store/x-y/bin/a");
        assert_eq!(shell_quote("it's a b"), "'it'\\''s a b'");
        assert_eq!(shell_quote(""), "''");
    }
}
