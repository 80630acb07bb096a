//! `context::detect` against real git repositories. Every git case is
//! checked against `git rev-parse` in the same environment, and says whether
//! the `.git` files answered alone or git had to be asked.

use std::path::{Path, PathBuf};

use claude_accounts::context::{Context, Kind, detect};
use pretty_assertions::assert_eq;

use crate::harness::{Env, TestEnv};

/// The three paths of a context, as detected or as git reports them.
#[derive(Debug, PartialEq)]
struct Paths {
    git_dir: PathBuf,
    common_dir: PathBuf,
    worktree: Option<PathBuf>,
}

/// What `git rev-parse` says in `cwd`, canonicalised; `None` when git finds
/// no repository (or fails).
fn git_paths(env: &Env, cwd: &Path) -> Option<Paths> {
    let canonical = |path: &str| {
        cwd.join(path)
            .canonicalize()
            .unwrap_or_else(|e| panic!("canonicalising git's {path}: {e}"))
    };
    let dirs = env
        .git(
            cwd,
            &["rev-parse", "--absolute-git-dir", "--git-common-dir"],
        )
        .ok()?;
    let dirs: Vec<&str> = dirs.lines().collect();
    let [git_dir, common_dir] = dirs.as_slice() else {
        panic!("unexpected rev-parse output {dirs:?}");
    };
    let worktree = env.git(cwd, &["rev-parse", "--show-toplevel"]).ok();
    Some(Paths {
        git_dir: canonical(git_dir),
        common_dir: canonical(common_dir),
        worktree: worktree.map(|top| canonical(top.trim_end_matches('\n'))),
    })
}

fn detected_paths(context: &Context) -> Option<Paths> {
    match context.kind {
        Kind::NotGit => None,
        _ => Some(Paths {
            git_dir: context.git_dir.clone().expect("a git dir"),
            common_dir: context.common_dir.clone().expect("a common dir"),
            worktree: context.worktree.clone(),
        }),
    }
}

/// Detects in `cwd` and asserts the result agrees with `git rev-parse`.
fn detect_agreeing(env: &Env, cwd: &Path) -> Context {
    let context = detect(cwd, &env.lookup());
    assert_eq!(
        detected_paths(&context),
        git_paths(env, cwd),
        "detected (left) and git (right) disagree in {}",
        cwd.display()
    );
    context
}

fn repository(
    kind: Kind,
    git_dir: &Path,
    common_dir: &Path,
    worktree: Option<&Path>,
    project_key: Option<&Path>,
) -> Context {
    Context {
        kind,
        git_dir: Some(git_dir.into()),
        common_dir: Some(common_dir.into()),
        worktree: worktree.map(Into::into),
        project_key: project_key.map(Into::into),
        asked_git: None,
        warning: None,
    }
}

fn not_git(asked_git: Option<&str>, warning: Option<&str>) -> Context {
    Context {
        kind: Kind::NotGit,
        git_dir: None,
        common_dir: None,
        worktree: None,
        project_key: None,
        asked_git: asked_git.map(Into::into),
        warning: warning.map(Into::into),
    }
}

fn asked(context: Context, reason: &str) -> Context {
    Context {
        asked_git: Some(reason.into()),
        ..context
    }
}

#[test]
fn outside_any_repository_is_not_git() {
    let sandbox = TestEnv::new();
    let plain = sandbox.mkdir("plain/sub");
    let env = sandbox.env();
    assert!(
        git_paths(&env, &plain).is_none(),
        "the temp dir {} is inside a git repository; run the tests with TMPDIR elsewhere",
        plain.display()
    );
    assert_eq!(detect_agreeing(&env, &plain), not_git(None, None));
}

#[test]
fn main_worktree_root_and_subdirectory() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let git_dir = main.join(".git");
    let expected = repository(Kind::Main, &git_dir, &git_dir, Some(&main), Some(&main));
    for cwd in [main.clone(), sandbox.mkdir("main/src/deep")] {
        assert_eq!(
            detect_agreeing(&sandbox.env(), &cwd),
            expected,
            "in {}",
            cwd.display()
        );
    }
}

#[test]
fn linked_worktree_root_and_subdirectory() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    sandbox.git(&main, &["worktree", "add", "--quiet", "../wt"]);
    let wt = sandbox.path("wt");
    let expected = repository(
        Kind::Linked,
        &main.join(".git/worktrees/wt"),
        &main.join(".git"),
        Some(&wt),
        Some(&main),
    );
    for cwd in [wt.clone(), sandbox.mkdir("wt/src/deep")] {
        assert_eq!(
            detect_agreeing(&sandbox.env(), &cwd),
            expected,
            "in {}",
            cwd.display()
        );
    }
}

#[test]
fn linked_worktree_of_a_bare_repository_keys_by_the_bare_repositorys_parent() {
    let sandbox = TestEnv::new();
    sandbox.repo("main");
    sandbox.git(
        &sandbox.path(""),
        &["clone", "--quiet", "--bare", "main", "bare.git"],
    );
    let bare = sandbox.path("bare.git");
    sandbox.git(&bare, &["worktree", "add", "--quiet", "../feature"]);
    let feature = sandbox.path("feature");
    assert_eq!(
        detect_agreeing(&sandbox.env(), &feature),
        repository(
            Kind::Linked,
            &bare.join("worktrees/feature"),
            &bare,
            Some(&feature),
            Some(&sandbox.path("")),
        )
    );
}

#[test]
fn inside_a_bare_repository_there_is_no_worktree() {
    let sandbox = TestEnv::new();
    let bare = sandbox.mkdir("bare.git");
    sandbox.git(&bare, &["init", "--quiet", "--bare"]);
    let expected = repository(Kind::Bare, &bare, &bare, None, None);
    for cwd in [bare.clone(), bare.join("refs/heads")] {
        assert_eq!(
            detect_agreeing(&sandbox.env(), &cwd),
            expected,
            "in {}",
            cwd.display()
        );
    }
}

#[test]
fn inside_a_git_dir_there_is_no_worktree_either() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    sandbox.git(&main, &["worktree", "add", "--quiet", "../wt"]);
    let git_dir = main.join(".git");
    let expected = repository(Kind::Bare, &git_dir, &git_dir, None, None);
    for cwd in [git_dir.clone(), git_dir.join("refs/heads")] {
        assert_eq!(
            detect_agreeing(&sandbox.env(), &cwd),
            expected,
            "in {}",
            cwd.display()
        );
    }
    let wt_git_dir = git_dir.join("worktrees/wt");
    assert_eq!(
        detect_agreeing(&sandbox.env(), &wt_git_dir),
        repository(Kind::Bare, &wt_git_dir, &git_dir, None, None)
    );
}

#[test]
fn submodule_uses_its_own_git_dir_under_modules() {
    let sandbox = TestEnv::new();
    let lib = sandbox.repo("lib");
    let superproject = sandbox.repo("super");
    let lib_url = lib.to_str().expect("UTF-8 temp path");
    sandbox.git(
        &superproject,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "--quiet",
            lib_url,
            "libs/m",
        ],
    );
    let module = superproject.join("libs/m");
    assert_eq!(
        sandbox.git(&module, &["rev-parse", "--show-superproject-working-tree"]),
        format!("{}\n", superproject.display()),
        "git sees a submodule"
    );
    let git_dir = superproject.join(".git/modules/libs/m");
    let expected = repository(
        Kind::Submodule,
        &git_dir,
        &git_dir,
        Some(&module),
        Some(&module),
    );
    for cwd in [module.clone(), sandbox.mkdir("super/libs/m/src")] {
        assert_eq!(
            detect_agreeing(&sandbox.env(), &cwd),
            expected,
            "in {}",
            cwd.display()
        );
    }
}

#[test]
fn git_dir_and_work_tree_from_the_environment_are_gits_call() {
    let sandbox = TestEnv::new();
    let dotfiles = sandbox.mkdir("dotfiles.git");
    sandbox.git(&dotfiles, &["init", "--quiet", "--bare"]);
    let home = sandbox.mkdir("userhome");
    let env = sandbox
        .env()
        .set("GIT_DIR", &dotfiles)
        .set("GIT_WORK_TREE", &home);
    assert_eq!(
        detect_agreeing(&env, &sandbox.mkdir("userhome/.config")),
        asked(
            repository(Kind::Main, &dotfiles, &dotfiles, Some(&home), Some(&home)),
            "GIT_DIR is set"
        )
    );
}

#[test]
fn separate_git_dir_is_a_main_worktree_read_from_its_git_file() {
    let sandbox = TestEnv::new();
    sandbox.mkdir("store");
    let store = sandbox.path("store/app.git");
    let store_arg = store.to_str().expect("UTF-8 temp path");
    sandbox.git(
        &sandbox.path(""),
        &["init", "--quiet", "--separate-git-dir", store_arg, "app"],
    );
    let app = sandbox.path("app");
    sandbox.git(
        &app,
        &["commit", "--quiet", "--allow-empty", "-m", "initial"],
    );
    assert_eq!(
        detect_agreeing(&sandbox.env(), &app),
        repository(Kind::Main, &store, &store, Some(&app), Some(&app))
    );
}

#[test]
fn a_cwd_reached_through_a_symlink_gives_the_same_canonical_context() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let sub = sandbox.mkdir("main/sub");
    let link = sandbox.path("link-to-sub");
    std::os::unix::fs::symlink(&sub, &link).expect("creating a symlink");
    let through_link = detect_agreeing(&sandbox.env(), &link);
    assert_eq!(through_link, detect(&sub, &sandbox.env().lookup()));
    assert_eq!(through_link.worktree, Some(main));
}

#[test]
fn without_git_on_path_the_files_still_answer() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let env = sandbox.env().set("PATH", sandbox.mkdir("empty-bin"));
    let git_dir = main.join(".git");
    assert_eq!(
        detect(&main, &env.lookup()),
        repository(Kind::Main, &git_dir, &git_dir, Some(&main), Some(&main))
    );
}

#[test]
fn git_dir_set_but_git_missing_falls_back_with_a_warning() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let env = sandbox
        .env()
        .set("PATH", sandbox.mkdir("empty-bin"))
        .set("GIT_DIR", main.join(".git"));
    assert_eq!(
        detect(&main, &env.lookup()),
        not_git(
            Some("GIT_DIR is set"),
            Some(
                "GIT_DIR is set, so git must tell which repository this is, but `git` is not \
                 on PATH; using the account's own config dir, not a per-worktree one. Fix: \
                 install git or put it on PATH."
            )
        )
    );
}

#[test]
fn a_git_dir_variable_naming_nothing_warns_with_gits_complaint() {
    let sandbox = TestEnv::new();
    let cwd = sandbox.mkdir("plain");
    let missing = sandbox.path("missing");
    let env = sandbox.env().set("GIT_DIR", &missing);
    let context = detect_agreeing(&env, &cwd);
    assert_eq!(
        context,
        not_git(
            Some("GIT_DIR is set"),
            Some(&format!(
                "GIT_DIR is set, and `git rev-parse` in {} failed: not a git repository: '{}'; \
                 using the account's own config dir, not a per-worktree one. Fix: run `git \
                 status` there to see what git objects to.",
                cwd.display(),
                missing.display()
            ))
        )
    );
}

#[test]
fn a_corrupt_git_file_is_not_git_with_a_warning() {
    let sandbox = TestEnv::new();
    let gitfile = sandbox.write("broken/.git", "garbage\n");
    let cwd = sandbox.mkdir("broken/sub");
    let reason = format!(
        "{}: invalid gitfile format (expected `gitdir: <path>`)",
        gitfile.display()
    );
    let context = detect_agreeing(&sandbox.env(), &cwd);
    assert_eq!(
        context,
        not_git(
            Some(&reason),
            Some(&format!(
                "{reason}, and `git rev-parse` in {} failed: invalid gitfile format: {}; \
                 using the account's own config dir, not a per-worktree one. Fix: run `git \
                 status` there to see what git objects to.",
                cwd.display(),
                gitfile.display()
            ))
        )
    );

    let without_git = sandbox.env().set("PATH", sandbox.mkdir("empty-bin"));
    let warning = detect(&cwd, &without_git.lookup())
        .warning
        .expect("a warning");
    assert!(
        warning.starts_with(&format!("{reason}, so git must tell")),
        "{warning}"
    );
}

#[test]
fn a_git_file_pointing_nowhere_is_not_git_with_a_warning() {
    let sandbox = TestEnv::new();
    let gitfile = sandbox.write("dangling/.git", "gitdir: ../nowhere\n");
    let cwd = sandbox.path("dangling");
    let context = detect_agreeing(&sandbox.env(), &cwd);
    assert_eq!(context.kind, Kind::NotGit);
    let reason = context.asked_git.expect("git asked");
    assert!(
        reason.starts_with(&format!(
            "{} points to a missing git dir",
            gitfile.display()
        )),
        "{reason}"
    );
    let warning = context.warning.expect("a warning");
    assert!(
        warning.contains("failed: not a git repository: "),
        "{warning}"
    );
}

#[test]
fn git_ceiling_directories_are_gits_call() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let env = sandbox.env().set("GIT_CEILING_DIRECTORIES", &main);
    assert_eq!(
        detect_agreeing(&env, &sandbox.mkdir("main/sub")),
        not_git(Some("GIT_CEILING_DIRECTORIES is set"), None)
    );
}

#[test]
fn core_worktree_naming_another_directory_is_gits_call() {
    let sandbox = TestEnv::new();
    let repo = sandbox.repo("repo");
    let elsewhere = sandbox.mkdir("elsewhere");
    let elsewhere_arg = elsewhere.to_str().expect("UTF-8 temp path");
    sandbox.git(&repo, &["config", "core.worktree", elsewhere_arg]);
    let git_dir = repo.join(".git");
    assert_eq!(
        detect_agreeing(&sandbox.env(), &repo),
        asked(
            repository(
                Kind::Main,
                &git_dir,
                &git_dir,
                Some(&elsewhere),
                Some(&elsewhere)
            ),
            &format!(
                "core.worktree in {} names another work tree",
                git_dir.join("config").display()
            )
        )
    );
}

#[test]
fn core_bare_in_a_dot_git_directory_is_gits_call() {
    let sandbox = TestEnv::new();
    let repo = sandbox.repo("repo");
    sandbox.git(&repo, &["config", "core.bare", "true"]);
    let git_dir = repo.join(".git");
    assert_eq!(
        detect_agreeing(&sandbox.env(), &repo),
        asked(
            repository(Kind::Bare, &git_dir, &git_dir, None, None),
            &format!("core.bare is true in {}", git_dir.join("config").display())
        )
    );
}

#[test]
fn per_worktree_config_is_read_and_its_worktree_setting_is_gits_call() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    sandbox.git(&main, &["worktree", "add", "--quiet", "../wt"]);
    sandbox.git(&main, &["config", "extensions.worktreeConfig", "true"]);
    let wt = sandbox.path("wt");
    sandbox.git(
        &wt,
        &["config", "--worktree", "core.sparseCheckout", "true"],
    );
    let wt_git_dir = main.join(".git/worktrees/wt");
    let common = main.join(".git");
    let linked = repository(Kind::Linked, &wt_git_dir, &common, Some(&wt), Some(&main));
    assert_eq!(detect_agreeing(&sandbox.env(), &wt), linked);

    let elsewhere = sandbox.mkdir("elsewhere");
    let elsewhere_arg = elsewhere.to_str().expect("UTF-8 temp path");
    sandbox.git(
        &wt,
        &["config", "--worktree", "core.worktree", elsewhere_arg],
    );
    let context = detect_agreeing(&sandbox.env(), &wt);
    assert_eq!(context.worktree, Some(elsewhere));
    assert_eq!(
        context.asked_git,
        Some(format!(
            "{} sets core.bare or core.worktree",
            wt_git_dir.join("config.worktree").display()
        ))
    );
}

#[test]
fn an_empty_dot_git_directory_is_gits_call_and_git_skips_it() {
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let fake = sandbox.mkdir("main/sub/.git");
    let git_dir = main.join(".git");
    assert_eq!(
        detect_agreeing(&sandbox.env(), &sandbox.path("main/sub")),
        asked(
            repository(Kind::Main, &git_dir, &git_dir, Some(&main), Some(&main)),
            &format!("{} is not a valid git directory", fake.display())
        )
    );
}

#[test]
fn a_repository_of_another_user_is_gits_call() {
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "this test creates a repository owned by another user, which needs root (as in CI)"
    );
    let sandbox = TestEnv::new();
    let main = sandbox.repo("main");
    let status = std::process::Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(&main)
        .status()
        .expect("running chown");
    assert!(status.success(), "chown failed");
    let reason = format!(
        "{} is owned by uid 4242, not by this user (uid 0)",
        main.display()
    );

    let refused = detect_agreeing(&sandbox.env(), &main);
    assert_eq!(refused.kind, Kind::NotGit);
    assert_eq!(refused.asked_git.as_deref(), Some(reason.as_str()));
    let warning = refused.warning.expect("a warning");
    assert!(
        warning.contains("failed: detected dubious ownership in repository"),
        "{warning}"
    );

    let git_dir = main.join(".git");
    let allowed = asked(
        repository(Kind::Main, &git_dir, &git_dir, Some(&main), Some(&main)),
        &reason,
    );
    sandbox.write("trusting-home/.gitconfig", "[safe]\n\tdirectory = *\n");
    let trusting = sandbox.env().set("HOME", sandbox.path("trusting-home"));
    assert_eq!(detect_agreeing(&trusting, &main), allowed);

    let by_variables = sandbox
        .env()
        .set("GIT_CONFIG_COUNT", "1")
        .set("GIT_CONFIG_KEY_0", "safe.directory")
        .set("GIT_CONFIG_VALUE_0", "*");
    assert_eq!(
        detect_agreeing(&by_variables, &main),
        asked(allowed, "GIT_CONFIG_COUNT is set")
    );
}
