//! Claude Code's own worktrees: `claude<name> -w [NAME]` (`--worktree`).
//!
//! Claude Code runs such a session in `<main root>/.claude/worktrees/<NAME>`
//! (a `/` in the name becomes `+`), on branch `worktree-<NAME>`, creating the
//! worktree from `origin/HEAD` when the repository has one, else from the
//! current checkout's `HEAD`, and reusing it when it exists (checked with
//! Claude Code 2.1.332). So that such a session gets that worktree's own
//! runtime dir and lock, the launch resolves the name first and creates the
//! worktree the same way when it is missing; Claude then reuses it.
//!
//! Guarantees:
//! * The user's arguments keep their meaning: they reach claude untouched,
//!   except that a generated name is inserted after a bare `-w`/`--worktree`
//!   (Claude would generate one itself; the launch must know it).
//! * An existing branch `worktree-<NAME>` is checked out as it is, never
//!   reset (Claude Code resets it to the base, dropping its commits).
//! * A name Claude would refuse is left to Claude: nothing is created, and
//!   the session runs in the current worktree's runtime, where claude exits
//!   with its own message.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// Where `-w` appears in the arguments and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The name given, if any.
    pub name: Option<String>,
    /// Where to insert a generated name (after a bare flag).
    insert_at: usize,
}

/// Finds `-w`/`--worktree` among claude's top-level arguments (before a
/// `--`), as Claude Code parses them: the next argument is the name unless
/// it starts with `-`; `--worktree=NAME` and `-wNAME` carry it.
pub fn requested(args: &[OsString]) -> Option<Request> {
    for (i, arg) in args.iter().enumerate() {
        let b = arg.as_bytes();
        if b == b"--" {
            return None;
        }
        if b == b"-w" || b == b"--worktree" {
            let name = args
                .get(i + 1)
                .filter(|next| !next.as_bytes().starts_with(b"-"))
                .map(|n| n.to_string_lossy().into_owned());
            return Some(Request {
                name,
                insert_at: i + 1,
            });
        }
        if let Some(name) = b.strip_prefix(b"--worktree=") {
            return Some(Request {
                name: Some(String::from_utf8_lossy(name).into_owned()),
                insert_at: i + 1,
            });
        }
        if b.starts_with(b"-w") && !b.starts_with(b"--") {
            return Some(Request {
                name: Some(String::from_utf8_lossy(&b[2..]).into_owned()),
                insert_at: i + 1,
            });
        }
    }
    None
}

/// The worktree's directory name for `name` (Claude's rule: each `/`
/// becomes `+`), or `None` when Claude refuses the name.
pub fn dir_name(name: &str) -> Option<String> {
    let valid_segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    name.split('/')
        .all(valid_segment)
        .then(|| name.replace('/', "+"))
}

/// What the launch does for a `-w` request: the worktree to run in and the
/// arguments for claude.
#[derive(Debug)]
pub struct Resolved {
    pub worktree: PathBuf,
    pub args: Vec<OsString>,
    /// Whether the helper created the worktree now.
    pub created: bool,
}

/// Resolves a `-w` request made in `cwd` of the repository whose main
/// checkout is `main_root`: the worktree's path, created (like Claude does)
/// when missing. `None` when Claude would refuse the name.
pub fn resolve(
    request: &Request,
    args: &[OsString],
    cwd: &Path,
    main_root: &Path,
    git: &OsStr,
) -> Result<Option<Resolved>> {
    let mut args = args.to_vec();
    let name = match &request.name {
        Some(n) => n.clone(),
        None => {
            let n = generate_name();
            args.insert(request.insert_at, OsString::from(&n));
            n
        }
    };
    let Some(dir) = dir_name(&name) else {
        return Ok(None);
    };
    let worktree = main_root.join(".claude").join("worktrees").join(&dir);
    if worktree.join(".git").exists() {
        return Ok(Some(Resolved {
            worktree,
            args,
            created: false,
        }));
    }
    let branch = format!("worktree-{dir}");
    let exists = git_ok(
        git,
        cwd,
        &[
            "show-ref",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )?;
    let path = worktree.to_string_lossy().into_owned();
    if exists {
        git_run(git, cwd, &["worktree", "add", "--quiet", &path, &branch])?;
    } else {
        let base = if git_ok(
            git,
            cwd,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "refs/remotes/origin/HEAD^{commit}",
            ],
        )? {
            "origin/HEAD"
        } else {
            "HEAD"
        };
        git_run(
            git,
            cwd,
            &["worktree", "add", "--quiet", "-b", &branch, &path, base],
        )?;
    }
    Ok(Some(Resolved {
        worktree,
        args,
        created: true,
    }))
}

fn git_command(git: &OsStr, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(git);
    cmd.args(args).current_dir(cwd).env("LC_ALL", "C");
    cmd
}

fn git_ok(git: &OsStr, cwd: &Path, args: &[&str]) -> Result<bool> {
    let out = git_command(git, cwd, args)
        .output()
        .with_context(|| missing_git(git))?;
    Ok(out.status.success())
}

fn git_run(git: &OsStr, cwd: &Path, args: &[&str]) -> Result<()> {
    let out = git_command(git, cwd, args)
        .output()
        .with_context(|| missing_git(git))?;
    if !out.status.success() {
        bail!(
            "`git {}` in {} failed: {}; fix that (or run claude without -w) and launch again",
            args.join(" "),
            cwd.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn missing_git(git: &OsStr) -> String {
    format!(
        "running {} to prepare the worktree claude -w asks for; install git or put it on PATH",
        git.to_string_lossy()
    )
}

/// Three lowercase words joined by `-`, like the names Claude generates.
pub fn generate_name() -> String {
    const FIRST: &[&str] = &[
        "brave", "calm", "eager", "gentle", "happy", "jolly", "keen", "lucky", "merry", "nimble",
        "proud", "quiet", "rapid", "sunny", "tidy", "witty",
    ];
    const SECOND: &[&str] = &[
        "baking",
        "climbing",
        "dancing",
        "drifting",
        "humming",
        "juggling",
        "leaping",
        "mending",
        "painting",
        "roaming",
        "sailing",
        "singing",
        "skating",
        "weaving",
        "whistling",
        "writing",
    ];
    const THIRD: &[&str] = &[
        "acorn", "badger", "comet", "falcon", "harbor", "lantern", "maple", "meadow", "otter",
        "pebble", "river", "sparrow", "sunbeam", "thistle", "walrus", "willow",
    ];
    let mut bytes = [0u8; 8];
    let seeded = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    let mut n = u64::from_ne_bytes(bytes);
    if !seeded {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        n = now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32);
    }
    let pick = |list: &[&'static str], n: &mut u64| {
        let word = list[(*n % list.len() as u64) as usize];
        *n /= list.len() as u64;
        word
    };
    let a = pick(FIRST, &mut n);
    let b = pick(SECOND, &mut n);
    let c = pick(THIRD, &mut n);
    format!("{a}-{b}-{c}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn name_of(a: &[&str]) -> Option<Option<String>> {
        requested(&args(a)).map(|r| r.name)
    }

    #[test]
    fn finds_the_flag_as_claude_parses_it() {
        assert_eq!(name_of(&["-w", "foo", "-p", "q"]), Some(Some("foo".into())));
        assert_eq!(name_of(&["-p", "q", "-w"]), Some(None));
        assert_eq!(name_of(&["-w", "-p", "q"]), Some(None));
        assert_eq!(name_of(&["--worktree=bar", "-p"]), Some(Some("bar".into())));
        assert_eq!(name_of(&["--worktree", "baz"]), Some(Some("baz".into())));
        assert_eq!(name_of(&["-wqux"]), Some(Some("qux".into())));
        assert_eq!(name_of(&["-p", "q"]), None);
        assert_eq!(name_of(&["--", "-w", "x"]), None);
        assert_eq!(name_of(&["--worker"]), None);
    }

    #[test]
    fn a_generated_name_goes_right_after_a_bare_flag() {
        let a = args(&["-p", "q", "-w"]);
        let r = requested(&a).unwrap();
        assert_eq!(r.insert_at, 3);
        let a = args(&["-w", "-p", "q"]);
        assert_eq!(requested(&a).unwrap().insert_at, 1);
    }

    #[test]
    fn names_follow_claudes_rules() {
        assert_eq!(dir_name("a/b"), Some("a+b".into()));
        assert_eq!(dir_name("fix-1.2_x"), Some("fix-1.2_x".into()));
        assert_eq!(dir_name("../x"), None);
        assert_eq!(dir_name("a b"), None);
        assert_eq!(dir_name("a//b"), None);
        assert_eq!(dir_name(""), None);
        let g = generate_name();
        assert_eq!(g.split('-').count(), 3, "{g}");
        assert!(dir_name(&g).is_some());
    }
}
