//! Where an account's config dir really is, and whether it may be one.
//!
//! The helper writes `settings.json`, `.claude.json` and `.claude-accounts/`
//! into an account's config dir, makes it 0700, and Claude Code keeps the
//! account's whole state there; so the dir must be the account's alone.
//!
//! Guarantees:
//!
//! * [`lexical_problems`] (run by every manifest load, so by `check`) needs
//!   no filesystem: `~/` is expanded symbolically and `.`/`..` resolved. It
//!   refuses a dir that climbs out of `~`, is `~` or `/` itself, is another
//!   tool's directory ([`claimed`]), or is, holds or lies inside another
//!   account's dir written the same way. `check` also runs
//!   [`lexical_problems_in`] with HOME, for absolute dirs under it.
//! * [`resolve_all`] gives the path every command then uses: `~` expanded,
//!   `.`/`..` resolved lexically, then the links of its longest existing
//!   prefix resolved (a dangling link, or a file where a directory belongs,
//!   is an error). The same rules are then checked on that real path against
//!   the real HOME, plus: it lies under HOME, is not in the helper's own
//!   state dir nor in a git dir; and the real paths of all accounts are
//!   compared. Every error names the path, what it really is, and the fix.
//! * `~/.claude` (Claude Code's default dir) is allowed: users migrate from it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::manifest::{Account, Manifest, expand_home, normalize};

/// Directories under HOME that belong to other tools, with what they are;
/// a config dir may be neither one of them nor inside one.
const TOOL_DIRS: &[(&str, &str)] = &[
    (".ssh", "ssh's directory (keys, known hosts)"),
    (".gnupg", "GnuPG's directory (keys)"),
    (".pki", "the NSS certificate store"),
    (".password-store", "pass's password store"),
    (".aws", "the AWS CLI's directory (credentials)"),
    (".azure", "the Azure CLI's directory (credentials)"),
    (".kube", "kubectl's directory (cluster credentials)"),
    (".docker", "Docker's directory (registry credentials)"),
    (".mozilla", "Firefox's profiles"),
    (".thunderbird", "Thunderbird's profiles"),
    (".nix-profile", "Nix's profile (a link into the Nix store)"),
    (".nix-defexpr", "Nix's channel expressions"),
    (".cache", "the cache directory, which anything may empty"),
    (".git", "a git repository's directory"),
    (".cargo", "Cargo's directory"),
    (".rustup", "rustup's toolchains"),
    (".npm", "npm's cache"),
    (".vscode", "VS Code's directory"),
    (".vscode-server", "VS Code's server"),
    (".gitconfig", "git's configuration file"),
    (".git-credentials", "git's stored credentials"),
    (".netrc", "a file of login credentials"),
    (".nix-channels", "Nix's channel list"),
    (".claude.json", "Claude Code's own state file"),
];

/// Directories under HOME that hold other tools' directories: a config dir
/// may be a new directory inside one (e.g. `~/.config/claude-max`), not the
/// directory itself, nor one of the listed tools' directories inside it.
const SHARED_DIRS: &[(&str, &[&str])] = &[
    (
        ".config",
        &[
            "git",
            "gh",
            "nix",
            "nixpkgs",
            "home-manager",
            "systemd",
            "environment.d",
            "autostart",
            "gcloud",
            "sops",
            "age",
        ],
    ),
    (".local", &["bin", "lib"]),
    (
        ".local/share",
        &["nix", "home-manager", "keyrings", "applications"],
    ),
    (
        ".local/state",
        &["nix", "home-manager", "claude-accounts", "keyrings"],
    ),
];

/// The XDG user directories: documents, not config dirs (inside them is fine).
const USER_DIRS: &[&str] = &[
    "Desktop",
    "Documents",
    "Downloads",
    "Music",
    "Pictures",
    "Public",
    "Templates",
    "Videos",
];

/// Why `rel` (a path relative to HOME, lexically normal) is not a dedicated
/// directory: `None` when it is one.
pub fn claimed(rel: &Path) -> Option<String> {
    let parts: Vec<&OsStr> = rel.iter().collect();
    let Some(first) = parts.first() else {
        return Some("is your home directory itself".into());
    };
    for (name, what) in TOOL_DIRS {
        if *first == OsStr::new(name) {
            return Some(if parts.len() == 1 {
                format!("is ~/{name}, {what}")
            } else {
                format!("is inside ~/{name}, {what}")
            });
        }
    }
    if parts.iter().any(|p| *p == OsStr::new(".git")) {
        return Some("is inside a git dir".into());
    }
    for (shared, tools) in SHARED_DIRS {
        let shared = Path::new(shared);
        let Ok(inside) = rel.strip_prefix(shared) else {
            continue;
        };
        let shown = shared.display();
        match inside.iter().next() {
            None => {
                return Some(format!(
                    "is ~/{shown}, which holds many programs' directories"
                ));
            }
            Some(tool) if tools.iter().any(|t| tool == OsStr::new(t)) => {
                return Some(format!(
                    "is inside ~/{shown}/{}, another program's directory",
                    tool.to_string_lossy()
                ));
            }
            Some(_) => {}
        }
    }
    if parts.len() == 1 && USER_DIRS.iter().any(|d| *first == OsStr::new(d)) {
        return Some(format!(
            "is ~/{}, one of your documents folders",
            first.to_string_lossy()
        ));
    }
    None
}

/// The fix every refusal ends with.
fn fix(name: &str) -> String {
    format!(
        "set programs.claude-code.accounts.{name}.configDir to a directory of its own under your home directory, such as ~/.claude-{name} (the default), and switch again"
    )
}

/// The problems [`Manifest::parse`] reports about config dirs, found
/// without the filesystem or HOME: each dir as written, `~/` kept symbolic.
pub fn lexical_problems(m: &Manifest) -> Vec<String> {
    lexical_problems_in(m, None)
}

/// [`lexical_problems`], and with `home` (what `check` knows from HOME)
/// also for absolute dirs under it, such as the Home Manager module
/// renders: each dir with `~` expanded and `.`/`..` resolved, still without
/// looking at the filesystem (links are for [`resolve_all`]). A dir outside
/// `home` is not a problem here: the manifest may be checked where HOME is
/// not its user's (Nix builds it with HOME=/homeless-shelter); activation
/// refuses it.
pub fn lexical_problems_in(m: &Manifest, home: Option<&Path>) -> Vec<String> {
    let home = home.map(normalize);
    let mut problems = Vec::new();
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    for (name, a) in &m.accounts {
        let written = &a.config_dir;
        if !(written.is_absolute() || written.starts_with("~")) {
            continue; // reported by the manifest's own rules
        }
        let at = format!("accounts.{name}.configDir");
        let (key, base) = match &home {
            Some(home) => (normalize(&expand_home(written, home)), Some(home.as_path())),
            None => (
                normalize(written),
                written.starts_with("~").then_some(Path::new("~")),
            ),
        };
        let shown = key.display();
        match base.map(|base| (base, key.strip_prefix(base))) {
            Some((_, Ok(rel))) => {
                if let Some(why) = claimed(rel) {
                    problems.push(format!("{at}: {written:?} {why}; {}", fix(name)));
                }
            }
            Some(_) if written.starts_with("~") => problems.push(format!(
                "{at}: {written:?} climbs out of your home directory (it is {shown}); {}",
                fix(name)
            )),
            Some(_) => {}
            None if key == Path::new("/") => problems.push(format!(
                "{at}: {written:?} is the root directory; {}",
                fix(name)
            )),
            None => {}
        }
        for (other_key, other) in &seen {
            if let Some(relation) = relation(&key, other_key) {
                problems.push(format!(
                    "{at}: {written:?} {relation} account {other:?}'s config dir {}; two accounts never share a dir; {}",
                    other_key.display(),
                    fix(name)
                ));
            }
        }
        seen.push((key, name));
    }
    problems
}

/// How `a` stands to another account's dir `b`, when they overlap.
fn relation(a: &Path, b: &Path) -> Option<&'static str> {
    if a == b {
        Some("is")
    } else if a.starts_with(b) {
        Some("is inside")
    } else if b.starts_with(a) {
        Some("holds")
    } else {
        None
    }
}

/// HOME and the helper's state dir, as they really are.
struct Places {
    home: PathBuf,
    real_home: PathBuf,
    state: PathBuf,
}

impl Places {
    fn of(home: &Path) -> Result<Places> {
        let real_home = std::fs::canonicalize(home).map_err(|e| {
            anyhow::anyhow!(
                "your home directory {} (HOME) cannot be resolved: {e}; set HOME to your home directory and run again",
                home.display()
            )
        })?;
        let state = crate::registry::state_home(home).join("claude-accounts");
        Ok(Places {
            home: home.to_path_buf(),
            real_home,
            state: real_path(&normalize(&state)).unwrap_or(state),
        })
    }
}

/// The real path of `account`'s config dir (see the module doc), checked
/// to be a dedicated directory under HOME. `name` names the account in the
/// error.
fn resolve(name: &str, account: &Account, places: &Places) -> Result<PathBuf> {
    let written = &account.config_dir;
    let lexical = normalize(&expand_home(written, &places.home));
    if !lexical.is_absolute() {
        bail!(
            "the config dir of account {name}, {}, is not an absolute path; {}",
            written.display(),
            fix(name)
        );
    }
    let real_home = &places.real_home;
    let real = real_path(&lexical).map_err(|e| {
        anyhow::anyhow!(
            "the config dir of account {name}, {}: {e}",
            written.display()
        )
    })?;
    let is = if real.as_path() == written.as_path() {
        String::new()
    } else {
        format!(" (really {})", real.display())
    };
    let Ok(rel) = real.strip_prefix(real_home) else {
        bail!(
            "the config dir of account {name}, {}{is}, is not under your home directory {}; {}",
            written.display(),
            real_home.display(),
            fix(name)
        );
    };
    if let Some(why) = claimed(rel) {
        bail!(
            "the config dir of account {name}, {}{is}, {why}; {}",
            written.display(),
            fix(name)
        );
    }
    let state = &places.state;
    if let Some(relation) = relation(&real, state) {
        bail!(
            "the config dir of account {name}, {}{is}, {relation} claude-accounts' own state dir {}; {}",
            written.display(),
            state.display(),
            fix(name)
        );
    }
    Ok(real)
}

/// The real config dirs of every account, or why each cannot be used: the
/// errors of `resolve`, and two accounts whose real dirs are the same or
/// nested (both are refused).
pub fn resolve_all<'m>(m: &'m Manifest, home: &Path) -> BTreeMap<&'m str, Result<PathBuf>> {
    let places = Places::of(home);
    let mut dirs: BTreeMap<&str, Result<PathBuf>> = m
        .accounts
        .iter()
        .map(|(name, a)| {
            let dir = match &places {
                Ok(places) => resolve(name, a, places),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            };
            (name.as_str(), dir)
        })
        .collect();
    let real: Vec<(&str, PathBuf)> = dirs
        .iter()
        .filter_map(|(name, dir)| Some((*name, dir.as_ref().ok()?.clone())))
        .collect();
    for (name, dir) in &real {
        let clash = real
            .iter()
            .filter(|(other, _)| other != name)
            .find_map(|(other, other_dir)| Some((other, other_dir, relation(dir, other_dir)?)));
        if let Some((other, other_dir, relation)) = clash {
            let written = &m.accounts[*name].config_dir;
            dirs.insert(
                name,
                Err(anyhow::anyhow!(
                    "the config dir of account {name}, {} (really {}), {relation} the config dir of account {other}, {}; each would prune the other's declared keys; {}",
                    written.display(),
                    dir.display(),
                    other_dir.display(),
                    fix(name)
                )),
            );
        }
    }
    dirs
}

/// `path` (absolute, lexically normal) with the links of its longest
/// existing prefix resolved; the rest is appended as written.
fn real_path(path: &Path) -> Result<PathBuf> {
    let mut existing = path;
    let mut missing: Vec<&OsStr> = Vec::new();
    loop {
        match std::fs::canonicalize(existing) {
            Ok(mut real) => {
                real.extend(missing.iter().rev());
                return Ok(real);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(existing).is_ok() {
                    let target = std::fs::read_link(existing)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default();
                    bail!(
                        "{} is a dangling link (to {target}); remove it, or create the directory it points to, and run again",
                        existing.display()
                    );
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => bail!(
                "a part of {} is a file, not a directory; move that file away or choose another configDir, and run again",
                existing.display()
            ),
            Err(e) => bail!(
                "resolving {}: {e}; make it readable by you (namei -l {}) and run again",
                existing.display(),
                existing.display()
            ),
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(last)) => {
                missing.push(last);
                existing = parent;
            }
            _ => bail!("no part of {} exists", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    /// A manifest whose accounts have these config dirs as written.
    fn manifest(dirs: &[(&str, &str)]) -> Manifest {
        let accounts: serde_json::Map<String, serde_json::Value> = dirs
            .iter()
            .map(|(name, dir)| {
                let account = json!({
                    "configDir": dir, "claude": "claude", "settings": {}, "claudeJson": {},
                    "seedKeys": [], "projectSeedKeys": [], "assets": [], "isolation": "account",
                    "singleInstance": true, "environment": {}, "environmentFiles": [],
                    "secretFiles": {}, "oauthTokenFile": null, "trustedProjects": [],
                    "mcpOverlay": null, "knownMarketplaces": {}, "profiles": {},
                    "files": {"settings": "/nix/store/s.json", "mcpConfig": "/nix/store/m.json"}
                });
                (name.to_string(), account)
            })
            .collect();
        let mut m: Manifest = serde_json::from_value(json!({
            "version": 1, "storeDir": "/nix/store", "accounts": {},
            "defaultAccount": null, "accountFor": {}
        }))
        .unwrap();
        m.accounts = accounts
            .into_iter()
            .map(|(k, v)| (k, serde_json::from_value(v).unwrap()))
            .collect();
        m
    }

    fn problems(dirs: &[(&str, &str)]) -> Vec<String> {
        lexical_problems(&manifest(dirs))
    }

    #[test]
    fn dedicated_dirs_pass_the_lexical_check() {
        for dir in [
            "~/.claude-max",
            "~/.claude",
            "~/./.claude-max/",
            "~/.config/claude-max",
            "~/.local/share/claude/max",
            "~/claude-max",
            "~/Documents/claude",
            "/home/alice/.claude-max",
        ] {
            assert_eq!(problems(&[("max", dir)]), Vec::<String>::new(), "{dir}");
        }
    }

    #[test]
    fn other_tools_dirs_home_and_escapes_are_refused_by_check() {
        for (dir, why) in [
            ("~/.claude-max/../.ssh", "is ~/.ssh, ssh's directory"),
            ("~/.ssh/claude", "is inside ~/.ssh"),
            ("~/.gnupg", "is ~/.gnupg"),
            ("~", "is your home directory itself"),
            ("~/", "is your home directory itself"),
            ("~/.claude-max/..", "is your home directory itself"),
            ("~/../bob/.claude-max", "climbs out of your home directory"),
            ("/", "is the root directory"),
            ("/home/alice/..", ""),
            (
                "~/.config",
                "is ~/.config, which holds many programs' directories",
            ),
            (
                "~/.config/gh",
                "is inside ~/.config/gh, another program's directory",
            ),
            ("~/.local", "is ~/.local, which holds"),
            ("~/.local/share", "is ~/.local/share, which holds"),
            ("~/.local/bin/x", "is inside ~/.local/bin"),
            (
                "~/.local/state/claude-accounts/max",
                "is inside ~/.local/state/claude-accounts",
            ),
            ("~/.cache/claude", "is inside ~/.cache"),
            ("~/src/repo/.git/claude", "is inside a git dir"),
            ("~/.nix-profile", "is ~/.nix-profile"),
            ("~/Documents", "one of your documents folders"),
        ] {
            let found = problems(&[("max", dir)]);
            if dir == "/home/alice/.." {
                // /home: absolute, checked against HOME only when used.
                assert_eq!(found, Vec::<String>::new());
                continue;
            }
            assert_eq!(found.len(), 1, "{dir}: {found:?}");
            assert!(
                found[0].starts_with("accounts.max.configDir: "),
                "{found:?}"
            );
            assert!(found[0].contains(why), "{dir}: {found:?}");
            assert!(
                found[0].ends_with(
                    "set programs.claude-code.accounts.max.configDir to a directory of its own under your home directory, such as ~/.claude-max (the default), and switch again"
                ),
                "{found:?}"
            );
        }
    }

    #[test]
    fn accounts_whose_dirs_are_one_or_nested_are_refused_by_check() {
        let one = problems(&[
            ("max", "~/.claude-max"),
            ("pro", "~/.claude-pro/../.claude-max"),
        ]);
        assert_eq!(one.len(), 1, "{one:?}");
        assert!(
            one[0].starts_with(
                "accounts.pro.configDir: \"~/.claude-pro/../.claude-max\" is account \"max\"'s config dir ~/.claude-max"
            ),
            "{one:?}"
        );
        let nested = problems(&[("max", "~/.claude-max"), ("pro", "~/.claude-max/pro")]);
        assert!(
            nested[0].contains("is inside account \"max\"'s config dir"),
            "{nested:?}"
        );
        let holds = problems(&[("a", "/home/u/c"), ("b", "/home/u/c/b")]);
        assert!(holds[0].contains("is inside account \"a\"'s"), "{holds:?}");
        assert_eq!(
            problems(&[("a", "/home/u/.claude-a"), ("b", "/home/u/.claude-ab")]),
            Vec::<String>::new(),
            "a name prefix is not a path prefix"
        );
    }

    #[test]
    fn with_home_absolute_dirs_are_checked_too() {
        let home = Path::new("/home/alice");
        let found = |dirs: &[(&str, &str)]| lexical_problems_in(&manifest(dirs), Some(home));
        assert_eq!(
            found(&[("max", "/home/alice/.claude-max")]),
            Vec::<String>::new()
        );
        let ssh = found(&[("max", "/home/alice/.ssh")]);
        assert!(
            ssh[0].contains("\"/home/alice/.ssh\" is ~/.ssh, ssh's directory"),
            "{ssh:?}"
        );
        assert_eq!(
            found(&[("max", "/srv/claude-max")]),
            Vec::<String>::new(),
            "outside HOME: left to activation"
        );
        let mixed = found(&[("max", "/home/alice/.claude-max"), ("pro", "~/.claude-max")]);
        assert!(
            mixed[0].contains(
                "\"~/.claude-max\" is account \"max\"'s config dir /home/alice/.claude-max"
            ),
            "{mixed:?}"
        );
    }

    /// A HOME with a dir of ssh's and links to it.
    fn home() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(tmp.path()).unwrap().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        (tmp, home)
    }

    #[test]
    fn the_real_path_is_checked_and_used() {
        let (_tmp, home) = home();
        let m = manifest(&[("max", "~/.claude-max/./sub/../")]);
        let dirs = resolve_all(&m, &home);
        assert_eq!(dirs["max"].as_ref().unwrap(), &home.join(".claude-max"));

        // A link to another tool's dir is that dir.
        std::os::unix::fs::symlink(home.join(".ssh"), home.join(".claude-max")).unwrap();
        let err = format!("{:#}", resolve_all(&m, &home)["max"].as_ref().unwrap_err());
        assert_eq!(
            err,
            format!(
                "the config dir of account max, ~/.claude-max/./sub/../ (really {}), is ~/.ssh, ssh's directory (keys, known hosts); {}",
                home.join(".ssh").display(),
                fix("max")
            )
        );
        // Dangling: named, with the fix.
        std::fs::remove_file(home.join(".claude-max")).unwrap();
        std::os::unix::fs::symlink(home.join("gone"), home.join(".claude-max")).unwrap();
        let err = format!("{:#}", resolve_all(&m, &home)["max"].as_ref().unwrap_err());
        assert!(err.contains("is a dangling link"), "{err}");
        assert!(err.contains("remove it, or create the directory"), "{err}");
        // Outside HOME.
        let m = manifest(&[("max", "/tmp/claude-max")]);
        let err = format!("{:#}", resolve_all(&m, &home)["max"].as_ref().unwrap_err());
        assert!(err.contains("is not under your home directory"), "{err}");
    }

    #[test]
    fn two_accounts_one_dir_through_a_link_are_both_refused() {
        let (_tmp, home) = home();
        std::fs::create_dir(home.join(".claude-max")).unwrap();
        std::os::unix::fs::symlink(home.join(".claude-max"), home.join(".claude-pro")).unwrap();
        let m = manifest(&[("max", "~/.claude-max"), ("pro", "~/.claude-pro")]);
        assert_eq!(
            lexical_problems(&m),
            Vec::<String>::new(),
            "only the filesystem shows it"
        );
        let dirs = resolve_all(&m, &home);
        for (name, other) in [("max", "pro"), ("pro", "max")] {
            let err = format!("{:#}", dirs[name].as_ref().unwrap_err());
            assert!(
                err.contains(&format!("is the config dir of account {other}")),
                "{err}"
            );
        }
        // Nested through a link.
        std::fs::remove_file(home.join(".claude-pro")).unwrap();
        std::os::unix::fs::symlink(home.join(".claude-max/inner"), home.join(".claude-pro"))
            .unwrap();
        std::fs::create_dir(home.join(".claude-max/inner")).unwrap();
        let dirs = resolve_all(&m, &home);
        let err = format!("{:#}", dirs["pro"].as_ref().unwrap_err());
        assert!(
            err.contains("is inside the config dir of account max"),
            "{err}"
        );
        let err = format!("{:#}", dirs["max"].as_ref().unwrap_err());
        assert!(err.contains("holds the config dir of account pro"), "{err}");
    }
}
