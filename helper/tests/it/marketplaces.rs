//! Declared plugin marketplaces (`knownMarketplaces`): three-way applied to
//! `plugins/known_marketplaces.json` of the account dir at activation, a
//! file Claude Code writes too (`/plugin marketplace add`).

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::harness::*;

fn entry(path: &str) -> Value {
    json!({
        "source": {"source": "directory", "path": path},
        "installLocation": path,
        "lastUpdated": "1970-01-01T00:00:00Z"
    })
}

#[test]
fn declared_marketplaces_are_applied_kept_beside_claudes_and_pruned() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["knownMarketplaces"] =
        json!({"team": entry("/nix/store/a-team"), "tools": entry("/nix/store/b-tools")});
    assert_success(&env.activate(&[]));
    let file = env
        .account_dir("max")
        .join("plugins/known_marketplaces.json");
    assert_eq!(
        read_json(&file),
        json!({"team": entry("/nix/store/a-team"), "tools": entry("/nix/store/b-tools")})
    );

    // Claude adds a marketplace of its own and updates a declared one.
    let mut live = read_json(&file);
    live["mine"] = entry("/home/alice/.claude-max/plugins/marketplaces/mine");
    live["team"]["lastUpdated"] = json!("2026-12-01T00:00:00Z");
    std::fs::write(&file, serde_json::to_vec_pretty(&live).unwrap()).unwrap();

    // The next generation drops `tools` and changes `team`'s path.
    env.manifest["accounts"]["max"]["knownMarketplaces"] =
        json!({"team": entry("/nix/store/c-team")});
    let out = env.activate(&[]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("known_marketplaces.json"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        read_json(&file),
        json!({
            "team": entry("/nix/store/c-team"),
            "mine": entry("/home/alice/.claude-max/plugins/marketplaces/mine")
        })
    );

    // None declared any more: the declared one goes, Claude's stays.
    env.manifest["accounts"]["max"]["knownMarketplaces"] = json!({});
    assert_success(&env.activate(&[]));
    assert_eq!(
        read_json(&file),
        json!({"mine": entry("/home/alice/.claude-max/plugins/marketplaces/mine")})
    );
    // And a quiet switch after that changes nothing.
    let out = env.activate(&[]);
    assert_success(&out);
    assert_eq!(stdout(&out), "");
}

#[test]
fn an_account_without_marketplaces_gets_no_plugins_dir() {
    let mut env = TestEnv::new();
    assert_success(&env.activate(&[]));
    assert!(!env.account_dir("max").join("plugins").exists());
}

#[test]
fn dry_run_shows_the_marketplaces_and_writes_nothing() {
    let mut env = TestEnv::new();
    env.manifest["accounts"]["max"]["knownMarketplaces"] =
        json!({"team": entry("/nix/store/a-team")});
    let out = env.activate(&["--dry-run"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("plugins/known_marketplaces.json would change"),
        "{}",
        stdout(&out)
    );
    assert!(!env.account_dir("max").join("plugins").exists());
}

#[test]
fn a_directory_in_place_of_the_file_is_reported_and_nothing_else_is_lost() {
    let mut env = TestEnv::new();
    let file = env
        .account_dir("max")
        .join("plugins/known_marketplaces.json");
    std::fs::create_dir_all(&file).unwrap();
    std::fs::write(file.join("keep"), "mine").unwrap();
    env.manifest["accounts"]["max"]["knownMarketplaces"] =
        json!({"team": entry("/nix/store/a-team")});
    let out = env.activate(&[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&file.display().to_string()),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(file.join("keep")).unwrap(), "mine");
    // The other account is activated all the same.
    assert!(env.account_dir("pro").join("settings.json").exists());
}
