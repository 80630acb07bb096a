//! An account's login health, as far as it can be known without asking the
//! API: on Linux from `<account dir>/.credentials.json` (the access token's
//! expiry, whether a refresh token is there, the subscription type); on
//! macOS the login is in the Keychain, which is not read.
//!
//! Guarantee: no token is ever decoded, kept, or printed: the token fields
//! are skipped while parsing (only their presence is noted). The file is
//! read with the project's safe reader (size limit, no link, no directory).

use std::path::Path;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::manifest::Account;
use crate::runtime::CREDENTIALS;

/// What is known about an account's login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    /// `logged-in`, `expired` (a refresh token renews it at the next
    /// start), `expired-no-refresh` (log in again), `not-logged-in`,
    /// `keychain` (macOS: not inspected), `token-file` (a long-lived token
    /// from oauthTokenFile), `unreadable`, `unknown` (the account dir could
    /// not be resolved).
    pub state: &'static str,
    /// When the access token expires, in milliseconds since the epoch.
    pub expires_at: Option<u64>,
    pub subscription_type: Option<String>,
    /// One line for people.
    pub summary: String,
}

impl Login {
    /// A login that cannot be inspected, and why.
    pub fn unknown(why: &str) -> Login {
        Login {
            state: "unknown",
            expires_at: None,
            subscription_type: None,
            summary: why.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    claude_ai_oauth: Option<OAuth>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OAuth {
    access_token: Option<IgnoredAny>,
    refresh_token: Option<IgnoredAny>,
    expires_at: Option<u64>,
    subscription_type: Option<String>,
}

/// The login health of `account`, whose dir is `account_dir`, at `now_ms`.
pub fn health(account: &Account, account_dir: &Path, now_ms: u64) -> Login {
    let login = |state, summary: String| Login {
        state,
        expires_at: None,
        subscription_type: None,
        summary,
    };
    if let Some(file) = &account.oauth_token_file {
        return login(
            "token-file",
            format!(
                "long-lived token from {} (claude setup-token)",
                file.display()
            ),
        );
    }
    if cfg!(target_os = "macos") {
        return login(
            "keychain",
            "the login is in the macOS Keychain (not inspected); `claude auth status` in a session shows it".into(),
        );
    }
    let path = account_dir.join(CREDENTIALS);
    let snapshot = match crate::jsonfile::read(&path, &crate::jsonfile::Options::claude_json()) {
        Ok(s) if !s.exists => {
            return login(
                "not-logged-in",
                format!(
                    "not logged in: no {}; start a session and log in",
                    path.display()
                ),
            );
        }
        Ok(s) => s,
        Err(e) => return login("unreadable", format!("{e:#}")),
    };
    let creds: Credentials = match serde_json::from_str(&snapshot.text) {
        Ok(c) => c,
        Err(e) => {
            return login(
                "unreadable",
                format!(
                    "{} is not the credentials file Claude writes ({e}); log in again",
                    path.display()
                ),
            );
        }
    };
    let Some(oauth) = creds.claude_ai_oauth.filter(|o| o.access_token.is_some()) else {
        return login(
            "not-logged-in",
            format!("not logged in: {} holds no login; log in", path.display()),
        );
    };
    let sub = oauth
        .subscription_type
        .as_deref()
        .map(|s| format!("{s} subscription, "))
        .unwrap_or_default();
    let (state, summary) = match oauth.expires_at {
        Some(t) if t > now_ms => (
            "logged-in",
            format!(
                "logged in ({sub}token valid until {})",
                crate::clock::format_utc(t / 1000)
            ),
        ),
        Some(t) if oauth.refresh_token.is_some() => (
            "expired",
            format!(
                "logged in ({sub}token expired {}; Claude renews it at the next start)",
                crate::clock::format_utc(t / 1000)
            ),
        ),
        Some(t) => (
            "expired-no-refresh",
            format!(
                "login expired {} and cannot be renewed; log in again",
                crate::clock::format_utc(t / 1000)
            ),
        ),
        None => ("logged-in", format!("logged in ({sub}no expiry recorded)")),
    };
    Login {
        state,
        expires_at: oauth.expires_at,
        subscription_type: oauth.subscription_type,
        summary,
    }
}

#[cfg(all(test, not(target_os = "macos")))]
mod tests {
    use super::*;

    fn account() -> Account {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/manifest.golden.json"))
                .unwrap();
        serde_json::from_value(golden["accounts"]["pro"].clone()).unwrap()
    }

    #[test]
    fn states_from_the_credentials_file_and_no_token_shown() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = account();
        a.oauth_token_file = None;
        assert_eq!(health(&a, tmp.path(), 0).state, "not-logged-in");
        let write = |v: serde_json::Value| {
            std::fs::write(tmp.path().join(CREDENTIALS), v.to_string()).unwrap()
        };
        write(serde_json::json!({"claudeAiOauth": {
            "accessToken": "sk-secret-access", "refreshToken": "sk-secret-refresh",
            "expiresAt": 2_000_000_000_000u64, "subscriptionType": "max"}}));
        let l = health(&a, tmp.path(), 1_000_000_000_000);
        assert_eq!(
            (l.state, l.subscription_type.as_deref(), l.expires_at),
            ("logged-in", Some("max"), Some(2_000_000_000_000))
        );
        let shown = format!("{l:?} {}", serde_json::to_string(&l).unwrap());
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(l.summary.contains("2033-05-18"), "{}", l.summary);
        assert_eq!(health(&a, tmp.path(), 3_000_000_000_000).state, "expired");
        write(serde_json::json!({"claudeAiOauth": {"accessToken": "x", "expiresAt": 1}}));
        assert_eq!(health(&a, tmp.path(), 2).state, "expired-no-refresh");
        write(serde_json::json!({}));
        assert_eq!(health(&a, tmp.path(), 2).state, "not-logged-in");
        std::fs::write(tmp.path().join(CREDENTIALS), "{").unwrap();
        assert_eq!(health(&a, tmp.path(), 2).state, "unreadable");
        let mut with_token = a.clone();
        with_token.oauth_token_file = Some("/run/secrets/token".into());
        assert_eq!(health(&with_token, tmp.path(), 2).state, "token-file");
    }
}
