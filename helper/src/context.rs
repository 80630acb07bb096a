//! Which git context a directory is in, decided before every Claude session:
//! not a repository, a main worktree, a linked worktree, a bare repository
//! or a submodule, with the paths the launcher needs (the per-worktree git
//! dir that holds runtime dirs, the common dir, the work tree) and the
//! project key Claude Code uses in `.claude.json` `projects`.
//!
//! Guarantees:
//! * **Agrees with git.** The `.git` files are read directly only in
//!   layouts this module fully understands, and the answer is the one
//!   `git rev-parse --absolute-git-dir --git-common-dir --show-toplevel`
//!   gives. Whenever git could answer differently (an environment variable
//!   that changes discovery, `core.worktree`, `core.bare`, config includes, a
//!   repository owned by another user, anything malformed or unexpected) it
//!   asks `git rev-parse` once and takes git's answer.
//! * **Fast.** In the common case no process is started: a few `stat`s per
//!   directory level walked, and reading `.git`, `HEAD`, `commondir` and
//!   `config` files of the repository found.
//! * **Never fails.** When git is needed but missing or fails, the context
//!   is [`Kind::NotGit`] with a one-line [`Context::warning`] saying what
//!   happened, that the account's own config dir is used, and the fix.
//! * **Canonical.** Every path is absolute with symlinks resolved, so a
//!   worktree reached through a symlink gives the same context.
//! * **Read-only.** Writes nothing; runs nothing but `git rev-parse`.
//!
//! Like git, the walk up from the directory stops at a filesystem boundary
//! (unless `GIT_DISCOVERY_ACROSS_FILESYSTEM` is set, which git decides).
//! Settings only in the user's or system git config are not read; of those,
//! only `safe.bareRepository=explicit` changes the answer (git then refuses
//! a bare repository this module reports as [`Kind::Bare`]; both mean "use
//! the account dir").

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod gitconfig;

use gitconfig::Settings;

/// The kind of git context a directory is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not inside a git repository (or git could not tell; see
    /// [`Context::warning`]).
    NotGit,
    /// The main work tree of a repository (including one whose git dir was
    /// moved away with `git init --separate-git-dir`).
    Main,
    /// A linked work tree (`git worktree add`): its git dir is
    /// `<common dir>/worktrees/<name>`.
    Linked,
    /// A git dir without a work tree: a bare repository, or a directory
    /// inside the git dir of a non-bare one (git reports no top level there
    /// either).
    Bare,
    /// The work tree of a submodule whose git dir lives in the
    /// superproject's git dir (`.git/modules/<name>`). A submodule with its
    /// own `.git` directory (cloned before git 1.7.8 and never absorbed) is
    /// indistinguishable from [`Kind::Main`] without asking git and reported
    /// as such; both use their own git dir.
    Submodule,
}

/// The git context of a directory. All paths are absolute and canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub kind: Kind,
    /// The per-worktree git dir (`$GIT_DIR`; `.git/worktrees/<wt>` for a
    /// linked work tree, `.git/modules/<name>` for a submodule).
    pub git_dir: Option<PathBuf>,
    /// The common dir shared by all work trees of the repository.
    pub common_dir: Option<PathBuf>,
    /// The top level of the work tree (`None` for [`Kind::Bare`]).
    pub worktree: Option<PathBuf>,
    /// The directory Claude Code keys `.claude.json` `projects` by: the work
    /// tree's top level, the main checkout's for a linked work tree (see
    /// `claude_project_key`). `None` for [`Kind::NotGit`] and [`Kind::Bare`],
    /// where Claude Code keys by the session's working directory.
    pub project_key: Option<PathBuf>,
    /// Why `git rev-parse` was asked (for `status` and debugging); `None`
    /// when the `.git` files answered alone.
    pub asked_git: Option<String>,
    /// One line for the user when detection fell back to [`Kind::NotGit`]
    /// because git was needed but missing or failed.
    pub warning: Option<String>,
}

/// Environment variables that change how git finds the repository or reads
/// its config: when one is set, git decides.
const GIT_DISCOVERY_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
];

/// Variables `git rev-parse` gets from (or, when unset there, not at all
/// despite) the `env` given to [`detect`], besides [`GIT_DISCOVERY_VARS`]
/// and `GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`; every other `GIT_*`
/// variable of this process is removed, so what git reads matches `env`.
const GIT_CHILD_VARS: &[&str] = &[
    "PATH",
    "HOME",
    "XDG_CONFIG_HOME",
    "SUDO_UID",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_OBJECT_DIRECTORY",
];

/// Git refuses larger `.git` files (`read_gitfile_gently`).
const MAX_GITFILE_SIZE: u64 = 1 << 20;

/// Detects the git context of `cwd`. `env` reads an environment variable
/// (`&|name| std::env::var_os(name)` in production); it is the environment
/// git would run in.
pub fn detect(cwd: &Path, env: &impl Fn(&str) -> Option<OsString>) -> Context {
    let found = match GIT_DISCOVERY_VARS.iter().find(|var| env(var).is_some()) {
        Some(var) => Err(format!("{var} is set")),
        None => discover(cwd),
    };
    match found {
        Ok(Some(repo)) => repo.into_context(None),
        Ok(None) => Context::not_git(None, None),
        Err(reason) => ask_git(cwd, env, reason),
    }
}

/// The directory Claude Code keys `.claude.json` `projects` by for a
/// repository (CLAUDE-CODE-FACTS.md "Worktrees and project keys"): the work
/// tree's top level, except for a linked work tree, where it is the parent
/// of the common dir, i.e. the main checkout's root when the common dir is
/// `<root>/.git`. For a linked work tree of a bare repository Claude Code
/// uses the bare repository's parent directory too (anthropics/claude-code
/// #27994); kept that way so trust entries are found where Claude writes
/// them. Uncertain upstream behaviour: change it here only.
fn claude_project_key(
    kind: Kind,
    worktree: Option<&Path>,
    common_dir: Option<&Path>,
) -> Option<PathBuf> {
    match kind {
        Kind::Main | Kind::Submodule => worktree.map(Path::to_path_buf),
        Kind::Linked => common_dir
            .and_then(Path::parent)
            .or(worktree)
            .map(Path::to_path_buf),
        Kind::NotGit | Kind::Bare => None,
    }
}

impl Context {
    fn not_git(asked_git: Option<String>, warning: Option<String>) -> Context {
        Context {
            kind: Kind::NotGit,
            git_dir: None,
            common_dir: None,
            worktree: None,
            project_key: None,
            asked_git,
            warning,
        }
    }
}

/// A repository found, with canonical paths.
#[derive(Debug)]
struct Repo {
    git_dir: PathBuf,
    common_dir: PathBuf,
    worktree: Option<PathBuf>,
}

impl Repo {
    fn into_context(self, asked_git: Option<String>) -> Context {
        let kind = if self.worktree.is_none() {
            Kind::Bare
        } else if self.git_dir != self.common_dir {
            Kind::Linked
        } else if is_submodule_git_dir(&self.git_dir) {
            Kind::Submodule
        } else {
            Kind::Main
        };
        Context {
            kind,
            project_key: claude_project_key(kind, self.worktree.as_deref(), Some(&self.common_dir)),
            git_dir: Some(self.git_dir),
            common_dir: Some(self.common_dir),
            worktree: self.worktree,
            asked_git,
            warning: None,
        }
    }
}

/// A submodule's git dir lives under `<git dir of its superproject>/modules/`
/// (names may contain slashes; nested submodules nest `modules/`).
fn is_submodule_git_dir(git_dir: &Path) -> bool {
    git_dir.ancestors().skip(1).any(|dir| {
        dir.file_name() == Some(OsStr::new("modules")) && dir.parent().is_some_and(is_git_dir)
    })
}

/// Git's repository discovery from `cwd`, reading the files, for the
/// layouts this module understands. `Ok(None)`: not in a repository.
/// `Err(reason)`: git must decide.
fn discover(cwd: &Path) -> Result<Option<Repo>, String> {
    let cwd = canonical(cwd)?;
    let device = fs::metadata(&cwd)
        .map_err(|e| format!("cannot inspect {}: {e}", cwd.display()))?
        .dev();
    let mut dir = cwd.as_path();
    loop {
        let dotgit = dir.join(".git");
        match fs::symlink_metadata(&dotgit) {
            Ok(meta) if meta.is_dir() => return from_dotgit_dir(dir, &dotgit).map(Some),
            Ok(meta) if meta.is_file() => return from_gitfile(dir, &dotgit).map(Some),
            Ok(_) => {
                return Err(format!(
                    "{} is a symlink or special file, not a directory or regular file",
                    dotgit.display()
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot inspect {}: {e}", dotgit.display())),
        }
        if is_git_dir(dir) {
            return from_inside_git_dir(dir).map(Some);
        }
        let Some(parent) = dir.parent() else {
            return Ok(None);
        };
        let parent_device = fs::metadata(parent)
            .map_err(|e| format!("cannot inspect {}: {e}", parent.display()))?
            .dev();
        if parent_device != device {
            return Ok(None); // git stops at a filesystem boundary too
        }
        dir = parent;
    }
}

/// `<worktree>/.git` is a directory: a main work tree.
fn from_dotgit_dir(worktree: &Path, git_dir: &Path) -> Result<Repo, String> {
    if !is_git_dir(git_dir) {
        return Err(format!(
            "{} is not a valid git directory",
            git_dir.display()
        ));
    }
    if read_commondir(git_dir)?.is_some() {
        return Err(format!("{} has a commondir file", git_dir.display()));
    }
    let config = RepoConfig::load(git_dir, git_dir)?;
    config.check_own_worktree(git_dir, worktree)?;
    check_owner(&[worktree, git_dir])?;
    Ok(Repo {
        git_dir: git_dir.to_path_buf(),
        common_dir: git_dir.to_path_buf(),
        worktree: Some(worktree.to_path_buf()),
    })
}

/// `<worktree>/.git` is a file: a linked work tree, a submodule, or a main
/// work tree whose git dir was moved.
fn from_gitfile(worktree: &Path, gitfile: &Path) -> Result<Repo, String> {
    let contents = read_limited(gitfile, MAX_GITFILE_SIZE)?;
    let target = parse_gitfile(&contents).map_err(|e| format!("{}: {e}", gitfile.display()))?;
    let git_dir = canonical(&worktree.join(target))
        .map_err(|e| format!("{} points to a missing git dir: {e}", gitfile.display()))?;
    if !is_git_dir(&git_dir) {
        return Err(format!(
            "{} points to {}, which is not a git directory",
            gitfile.display(),
            git_dir.display()
        ));
    }
    let common_dir = read_commondir(&git_dir)?.unwrap_or_else(|| git_dir.clone());
    let config = RepoConfig::load(&common_dir, &git_dir)?;
    if common_dir == git_dir {
        config.check_own_worktree(&git_dir, worktree)?;
    } else {
        config.check_linked()?;
    }
    check_owner(&[worktree, gitfile, &git_dir, &common_dir])?;
    Ok(Repo {
        git_dir,
        common_dir,
        worktree: Some(worktree.to_path_buf()),
    })
}

/// The directory walked to is itself a git dir: a bare repository or the
/// inside of a git dir. Git has no work tree there unless `core.worktree`
/// names one, which git then decides.
fn from_inside_git_dir(git_dir: &Path) -> Result<Repo, String> {
    let common_dir = read_commondir(git_dir)?.unwrap_or_else(|| git_dir.to_path_buf());
    let config = RepoConfig::load(&common_dir, git_dir)?;
    if common_dir == git_dir {
        if let Some(source) = config.worktree_source() {
            return Err(format!("core.worktree is set in {}", source.display()));
        }
    } else {
        config.check_linked()?;
    }
    check_owner(&[git_dir, &common_dir])?;
    Ok(Repo {
        git_dir: git_dir.to_path_buf(),
        common_dir,
        worktree: None,
    })
}

/// The layout settings of a repository: its common `config` and, with
/// `extensions.worktreeConfig`, the work tree's own `config.worktree`.
struct RepoConfig {
    common: Settings,
    common_path: PathBuf,
    own: Settings,
    own_path: PathBuf,
}

impl RepoConfig {
    fn load(common_dir: &Path, git_dir: &Path) -> Result<RepoConfig, String> {
        let common_path = common_dir.join("config");
        let common = read_settings(&common_path)?;
        let own_path = git_dir.join("config.worktree");
        let own = if common.worktree_config {
            read_settings(&own_path)?
        } else {
            Settings::default()
        };
        for (settings, path) in [(&common, &common_path), (&own, &own_path)] {
            if settings.includes {
                return Err(format!("{} includes other config files", path.display()));
            }
        }
        Ok(RepoConfig {
            common,
            common_path,
            own,
            own_path,
        })
    }

    /// The file `core.worktree` effectively comes from, if set.
    fn worktree_source(&self) -> Option<&Path> {
        if self.own.worktree.is_some() {
            Some(&self.own_path)
        } else if self.common.worktree.is_some() {
            Some(&self.common_path)
        } else {
            None
        }
    }

    /// For a git dir found through `<worktree>/.git` (not a linked work
    /// tree): git treats it as bare when `core.bare` is true, and uses
    /// `core.worktree` as the work tree when set. Only the plain case (or a
    /// `core.worktree` naming `worktree` itself, as submodules have) is
    /// decided here.
    fn check_own_worktree(&self, git_dir: &Path, worktree: &Path) -> Result<(), String> {
        let (bare, bare_path) = match self.own.bare {
            Some(bare) => (Some(bare), &self.own_path),
            None => (self.common.bare, &self.common_path),
        };
        if bare == Some(true) {
            return Err(format!("core.bare is true in {}", bare_path.display()));
        }
        let Some(source) = self.worktree_source() else {
            return Ok(());
        };
        let configured = self.own.worktree.as_ref().or(self.common.worktree.as_ref());
        let configured = configured.map(|path| git_dir.join(path));
        match configured.as_deref().map(fs::canonicalize) {
            Some(Ok(path)) if path == worktree => Ok(()),
            _ => Err(format!(
                "core.worktree in {} names another work tree",
                source.display()
            )),
        }
    }

    /// For a linked work tree git ignores `core.bare` and `core.worktree` of
    /// the common config, but honours them in its own `config.worktree`.
    fn check_linked(&self) -> Result<(), String> {
        if self.own.bare.is_some() || self.own.worktree.is_some() {
            return Err(format!(
                "{} sets core.bare or core.worktree",
                self.own_path.display()
            ));
        }
        Ok(())
    }
}

fn read_settings(path: &Path) -> Result<Settings, String> {
    match fs::read(path) {
        Ok(text) => gitconfig::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Why a `.git` file cannot be used, in git's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GitfileError {
    /// It does not start with `gitdir: `.
    InvalidFormat,
    /// `gitdir: ` is followed by no path.
    NoPath,
    /// It contains a NUL byte (git would cut the path there).
    Nul,
}

impl std::fmt::Display for GitfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GitfileError::InvalidFormat => "invalid gitfile format (expected `gitdir: <path>`)",
            GitfileError::NoPath => "gitfile has no path after `gitdir: `",
            GitfileError::Nul => "gitfile contains a NUL byte",
        })
    }
}

/// Parses the contents of a `.git` file the way git does
/// (`read_gitfile_gently`): it starts with exactly `gitdir: `, trailing CR
/// and LF characters are dropped, and the rest, spaces included, is the
/// path. A relative path is relative to the directory holding the file.
fn parse_gitfile(contents: &[u8]) -> Result<&OsStr, GitfileError> {
    if contents.contains(&0) {
        return Err(GitfileError::Nul);
    }
    let rest = contents
        .strip_prefix(b"gitdir: ")
        .ok_or(GitfileError::InvalidFormat)?;
    let end = rest
        .iter()
        .rposition(|&c| c != b'\n' && c != b'\r')
        .map_or(0, |last| last + 1);
    match &rest[..end] {
        [] => Err(GitfileError::NoPath),
        path => Ok(OsStr::from_bytes(path)),
    }
}

/// Git's `is_git_directory`: a valid `HEAD`, and `objects/` and `refs/` in
/// the common dir (named by a `commondir` file, or the directory itself).
fn is_git_dir(dir: &Path) -> bool {
    if !valid_head(&dir.join("HEAD")) {
        return false;
    }
    let common = match read_commondir(dir) {
        Ok(Some(common)) => common,
        Ok(None) => dir.to_path_buf(),
        Err(_) => return false,
    };
    common.join("objects").is_dir() && common.join("refs").is_dir()
}

/// Git's `validate_headref`: a symlink into `refs/`, `ref: refs/...`, or an
/// object id in hex.
fn valid_head(head: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(head) else {
        return false;
    };
    if meta.file_type().is_symlink()
        && fs::read_link(head)
            .is_ok_and(|target| target.as_os_str().as_bytes().starts_with(b"refs/"))
    {
        return true;
    }
    let mut contents = Vec::with_capacity(256);
    let read = fs::File::open(head).and_then(|file| file.take(255).read_to_end(&mut contents));
    if read.is_err() {
        return false;
    }
    if let Some(target) = contents.strip_prefix(b"ref:") {
        let start = target
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(target.len());
        return target[start..].starts_with(b"refs/");
    }
    let hex = contents
        .iter()
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    hex == 40 || hex == 64
}

/// The canonical common dir named by `<git_dir>/commondir`, if that file
/// exists (relative paths are relative to `git_dir`).
fn read_commondir(git_dir: &Path) -> Result<Option<PathBuf>, String> {
    let path = git_dir.join("commondir");
    let contents = match fs::read(&path) {
        Ok(contents) => contents,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let end = contents
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    if end == 0 {
        return Err(format!("{} is empty", path.display()));
    }
    canonical(&git_dir.join(OsStr::from_bytes(&contents[..end])))
        .map(Some)
        .map_err(|e| format!("{} names a missing common dir: {e}", path.display()))
}

/// Git refuses a repository whose work tree, `.git` file or git dir another
/// user owns, unless `safe.directory` allows it (and, for root, `SUDO_UID`):
/// such cases are git's to decide.
fn check_owner(paths: &[&Path]) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    for path in paths {
        let owner = fs::symlink_metadata(path)
            .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?
            .uid();
        if owner != me {
            return Err(format!(
                "{} is owned by uid {owner}, not by this user (uid {me})",
                path.display()
            ));
        }
    }
    Ok(())
}

fn canonical(path: &Path) -> Result<PathBuf, String> {
    fs::canonicalize(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let mut contents = Vec::new();
    fs::File::open(path)
        .and_then(|file| file.take(limit + 1).read_to_end(&mut contents))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if contents.len() as u64 > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    Ok(contents)
}

/// Asks `git rev-parse` in `cwd`, with the environment `env` describes.
fn ask_git(cwd: &Path, env: &impl Fn(&str) -> Option<OsString>, reason: String) -> Context {
    const FALLBACK: &str = "using the account's own config dir, not a per-worktree one";
    let Some(git) = env("PATH").and_then(|path| find_executable(&path, "git")) else {
        let warning = format!(
            "{reason}, so git must tell which repository this is, but `git` is not on PATH; \
             {FALLBACK}. Fix: install git or put it on PATH."
        );
        return Context::not_git(Some(reason), Some(warning));
    };
    let output = git_command(&git, cwd, env).output();
    let answer = match output {
        Ok(output) => parse_rev_parse(cwd, &output),
        Err(e) => Err(format!("cannot run {}: {e}", git.display())),
    };
    match answer {
        Ok(Some(repo)) => repo.into_context(Some(reason)),
        Ok(None) => Context::not_git(Some(reason), None),
        Err(problem) => {
            let warning = format!(
                "{reason}, and `git rev-parse` in {} failed: {problem}; {FALLBACK}. \
                 Fix: run `git status` there to see what git objects to.",
                cwd.display()
            );
            Context::not_git(Some(reason), Some(warning))
        }
    }
}

fn git_command(git: &Path, cwd: &Path, env: &impl Fn(&str) -> Option<OsString>) -> Command {
    let mut command = Command::new(git);
    command
        .args([
            "rev-parse",
            "--absolute-git-dir",
            "--git-common-dir",
            "--show-toplevel",
        ])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .env_remove("LANGUAGE");
    for (name, _) in std::env::vars_os() {
        if name.as_bytes().starts_with(b"GIT_") {
            command.env_remove(name);
        }
    }
    let mut pass = |name: &str| {
        match env(name) {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    };
    for name in GIT_CHILD_VARS.iter().chain(GIT_DISCOVERY_VARS) {
        pass(name);
    }
    let count = env("GIT_CONFIG_COUNT")
        .and_then(|count| count.to_str()?.trim().parse::<usize>().ok())
        .unwrap_or(0);
    for index in 0..count {
        pass(&format!("GIT_CONFIG_KEY_{index}"));
        pass(&format!("GIT_CONFIG_VALUE_{index}"));
    }
    command
}

/// Reads `git rev-parse --absolute-git-dir --git-common-dir --show-toplevel`
/// output. `Ok(None)`: git found no repository. `Err`: git's complaint.
fn parse_rev_parse(cwd: &Path, output: &Output) -> Result<Option<Repo>, String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let complaint = stderr
        .lines()
        .find(|line| line.starts_with("fatal: "))
        .or_else(|| stderr.lines().rev().find(|line| !line.trim().is_empty()));
    let mut lines: Vec<&[u8]> = output.stdout.split(|&c| c == b'\n').collect();
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    let no_worktree = complaint == Some("fatal: this operation must be run in a work tree");
    match (output.status.success(), lines.as_slice()) {
        (true, [git_dir, common_dir, worktree]) => Ok(Some(Repo {
            git_dir: canonical(&cwd.join(OsStr::from_bytes(git_dir)))?,
            common_dir: canonical(&cwd.join(OsStr::from_bytes(common_dir)))?,
            worktree: Some(canonical(&cwd.join(OsStr::from_bytes(worktree)))?),
        })),
        (false, [git_dir, common_dir]) if no_worktree => Ok(Some(Repo {
            git_dir: canonical(&cwd.join(OsStr::from_bytes(git_dir)))?,
            common_dir: canonical(&cwd.join(OsStr::from_bytes(common_dir)))?,
            worktree: None,
        })),
        (false, [])
            if complaint.is_some_and(|c| c.starts_with("fatal: not a git repository (or any ")) =>
        {
            Ok(None)
        }
        _ => Err(match complaint {
            Some(complaint) => complaint.trim_start_matches("fatal: ").to_string(),
            None => format!("{} with unexpected output", output.status),
        }),
    }
}

/// The first executable file `name` in the absolute directories of `path`.
pub(crate) fn find_executable(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn gitfile_paths_are_taken_exactly_as_git_does() {
        for (contents, path) in [
            (
                &b"gitdir: /abs/.git/worktrees/wt\n"[..],
                "/abs/.git/worktrees/wt",
            ),
            (
                b"gitdir: ../../.git/modules/libs/m",
                "../../.git/modules/libs/m",
            ),
            (b"gitdir: /with space \r\n\n", "/with space "),
            (b"gitdir:  /lead", " /lead"),
        ] {
            assert_eq!(
                parse_gitfile(contents),
                Ok(OsStr::new(path)),
                "{contents:?}"
            );
        }
        assert_eq!(
            parse_gitfile(b"gitdir: /t\xff\n"),
            Ok(OsStr::from_bytes(b"/t\xff"))
        );
    }

    #[test]
    fn malformed_gitfiles_are_refused_with_gits_reason() {
        for (contents, error) in [
            (&b""[..], GitfileError::InvalidFormat),
            (b"garbage\n", GitfileError::InvalidFormat),
            (b"gitdir:/no/space\n", GitfileError::InvalidFormat),
            (b"GITDIR: /x\n", GitfileError::InvalidFormat),
            (b" gitdir: /x\n", GitfileError::InvalidFormat),
            (b"gitdir: \n", GitfileError::NoPath),
            (b"gitdir: \r\n\r\n", GitfileError::NoPath),
            (b"gitdir: /x\0y\n", GitfileError::Nul),
        ] {
            assert_eq!(parse_gitfile(contents), Err(error), "{contents:?}");
        }
    }

    #[test]
    fn project_keys_follow_claude_code() {
        let root = Path::new("/src/app");
        let common = Path::new("/src/app/.git");
        let key = |kind, worktree, common| claude_project_key(kind, worktree, common);
        assert_eq!(key(Kind::Main, Some(root), Some(common)), Some(root.into()));
        assert_eq!(
            key(Kind::Linked, Some(Path::new("/src/wt")), Some(common)),
            Some(root.into())
        );
        assert_eq!(
            key(
                Kind::Linked,
                Some(Path::new("/src/wt")),
                Some(Path::new("/src/bare.git"))
            ),
            Some("/src".into())
        );
        assert_eq!(
            key(
                Kind::Submodule,
                Some(Path::new("/src/app/libs/m")),
                Some(common)
            ),
            Some("/src/app/libs/m".into())
        );
        assert_eq!(key(Kind::Bare, None, Some(common)), None);
        assert_eq!(key(Kind::NotGit, None, None), None);
    }

    #[test]
    fn rev_parse_output_is_read_or_refused() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let cwd = fs::canonicalize(dir.path()).expect("canonical temp dir");
        let output = |code: i32, stdout: &str, stderr: &str| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
        };
        let with_worktree = parse_rev_parse(
            &cwd,
            &output(0, &format!("{0}\n.\n{0}\n", cwd.display()), ""),
        )
        .expect("parsed")
        .expect("a repository");
        assert_eq!(
            (
                with_worktree.git_dir,
                with_worktree.common_dir,
                with_worktree.worktree
            ),
            (cwd.clone(), cwd.clone(), Some(cwd.clone()))
        );
        let bare = parse_rev_parse(
            &cwd,
            &output(
                128,
                &format!("{}\n.\n", cwd.display()),
                "fatal: this operation must be run in a work tree\n",
            ),
        )
        .expect("parsed")
        .expect("a repository");
        assert_eq!(bare.worktree, None);
        let none = parse_rev_parse(
            &cwd,
            &output(
                128,
                "",
                "fatal: not a git repository (or any of the parent directories): .git\n",
            ),
        );
        assert!(matches!(none, Ok(None)), "{none:?}");
        let refused = parse_rev_parse(
            &cwd,
            &output(
                128,
                "",
                "fatal: detected dubious ownership in repository at '/x'\n\
                 To add an exception for this directory, call:\n\n\
                 \tgit config --global --add safe.directory /x\n",
            ),
        );
        assert_eq!(
            refused.map(|_| ()),
            Err("detected dubious ownership in repository at '/x'".to_string())
        );
        let truncated = parse_rev_parse(&cwd, &output(0, &format!("{}\n", cwd.display()), ""));
        assert!(truncated.is_err(), "{truncated:?}");
    }
}
