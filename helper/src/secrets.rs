//! The environment a session gets: declared variables, `KEY=VALUE` files,
//! secret files (agenix/sops) and the OAuth token file.
//!
//! Guarantees: secrets are read at launch and only ever placed in the child's
//! environment; the helper never writes them to disk. A missing or unreadable
//! file is an error naming the variable and the path.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::manifest::{Account, expand_home};

/// The variable that carries a long-lived token from `claude setup-token`.
pub const OAUTH_TOKEN_VAR: &str = "CLAUDE_CODE_OAUTH_TOKEN";

/// Variables to set for `claude`, in increasing precedence: `environment`,
/// `environmentFiles` (in order), `secretFiles`, `oauthTokenFile`.
pub fn session_env(account: &Account, home: &Path) -> Result<BTreeMap<String, String>> {
    let mut env = account.environment.clone();
    for file in &account.environment_files {
        let path = expand_home(file, home);
        let text = read_secret(&path).with_context(|| {
            format!(
                "reading environment file {} (listed in environmentFiles); create it or remove it from the account",
                path.display()
            )
        })?;
        env.extend(
            parse_env_file(&text)
                .with_context(|| format!("parsing environment file {}", path.display()))?,
        );
    }
    for (var, file) in &account.secret_files {
        let path = expand_home(file, home);
        let value = read_secret(&path).with_context(|| {
            format!(
                "reading the secret for {var} from {}; check that the secret is deployed (agenix/sops) and readable by you",
                path.display()
            )
        })?;
        env.insert(var.clone(), trim_newline(&value).to_string());
    }
    if let Some(file) = &account.oauth_token_file {
        let path = expand_home(file, home);
        let value = read_secret(&path).with_context(|| {
            format!(
                "reading {OAUTH_TOKEN_VAR} from oauthTokenFile {}; create it with `claude setup-token` or unset oauthTokenFile",
                path.display()
            )
        })?;
        let token = value.trim();
        anyhow::ensure!(
            !token.is_empty(),
            "oauthTokenFile {} is empty; put the token from `claude setup-token` in it",
            path.display()
        );
        env.insert(OAUTH_TOKEN_VAR.to_string(), token.to_string());
    }
    Ok(env)
}

fn read_secret(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)?;
    anyhow::ensure!(meta.is_file(), "{} is not a regular file", path.display());
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))
}

fn trim_newline(s: &str) -> &str {
    s.strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .unwrap_or(s)
}

/// Parses a `KEY=VALUE` file as systemd's `EnvironmentFile=` and docker's
/// `--env-file` do: blank lines and `#` comments are skipped, an optional
/// `export ` prefix is allowed, a value in matching single or double quotes is
/// unquoted (double quotes understand `\"`, `\\`, `\n`, `\$`); unquoted values
/// are taken as they are, without trailing whitespace.
pub fn parse_env_file(text: &str) -> Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("line {}: expected KEY=VALUE, found {:?}", i + 1, raw))?;
        let key = key.trim_end();
        anyhow::ensure!(
            !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()),
            "line {}: {key:?} is not a valid variable name",
            i + 1
        );
        vars.insert(key.to_string(), unquote(value.trim_end(), i + 1)?);
    }
    Ok(vars)
}

fn unquote(value: &str, line: usize) -> Result<String> {
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        return Ok(value[1..value.len() - 1].to_string());
    }
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        let inner = &value[1..value.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(c @ ('"' | '\\' | '$' | '`')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => anyhow::bail!("line {line}: the value ends with a lone backslash"),
            }
        }
        return Ok(out);
    }
    anyhow::ensure!(
        !value.starts_with('"') && !value.starts_with('\''),
        "line {line}: unterminated quote in {value:?}"
    );
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn env_files_parse_like_systemd() {
        let vars = parse_env_file(
            "# comment\n\nA=1\nexport B = two words \nC=\"q \\\"x\\\" \\$HOME\\n\"\nD='it''s'\nE=\nF=a=b\n",
        )
        .unwrap();
        let expect: BTreeMap<String, String> = [
            ("A", "1"),
            ("B", " two words"),
            ("C", "q \"x\" $HOME\n"),
            ("D", "it''s"),
            ("E", ""),
            ("F", "a=b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(vars, expect);
    }

    #[test]
    fn env_file_errors_name_the_line() {
        let err = parse_env_file("A=1\nnot a var\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_env_file("1A=x\n").unwrap_err().to_string();
        assert!(err.contains("not a valid variable name"), "{err}");
        let err = parse_env_file("A=\"open\n").unwrap_err().to_string();
        assert!(err.contains("unterminated quote"), "{err}");
    }

    fn account(dir: &Path) -> Account {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/manifest.golden.json"))
                .unwrap();
        let mut a: Account = serde_json::from_value(golden["accounts"]["max"].clone()).unwrap();
        a.environment = [
            ("PLAIN".to_string(), "p".to_string()),
            ("OVER".to_string(), "env".to_string()),
        ]
        .into();
        std::fs::write(dir.join("env"), "OVER=file\nFROMFILE=yes\n").unwrap();
        std::fs::write(dir.join("gh"), "ghp_secret\n").unwrap();
        std::fs::write(dir.join("token"), "  sk-ant-oat\n").unwrap();
        a.environment_files = vec![dir.join("env")];
        a.secret_files = [("GITHUB_TOKEN".to_string(), dir.join("gh"))].into();
        a.oauth_token_file = Some(dir.join("token"));
        a
    }

    #[test]
    fn precedence_and_trimming() {
        let tmp = tempfile::tempdir().unwrap();
        let env = session_env(&account(tmp.path()), tmp.path()).unwrap();
        assert_eq!(env["PLAIN"], "p");
        assert_eq!(env["OVER"], "file");
        assert_eq!(env["FROMFILE"], "yes");
        assert_eq!(env["GITHUB_TOKEN"], "ghp_secret");
        assert_eq!(env[OAUTH_TOKEN_VAR], "sk-ant-oat");
    }

    #[test]
    fn missing_secret_names_variable_and_path() {
        let tmp = tempfile::tempdir().unwrap();
        let a = account(tmp.path());
        std::fs::remove_file(tmp.path().join("gh")).unwrap();
        let err = format!("{:#}", session_env(&a, tmp.path()).unwrap_err());
        assert!(
            err.contains("GITHUB_TOKEN")
                && err.contains(&tmp.path().join("gh").display().to_string()),
            "{err}"
        );
        std::fs::create_dir(tmp.path().join("gh")).unwrap();
        let err = format!("{:#}", session_env(&a, tmp.path()).unwrap_err());
        assert!(err.contains("not a regular file"), "{err}");
    }
}
