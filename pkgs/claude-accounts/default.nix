# The claude-accounts helper. The Rust tests run in checkPhase (with git, for
# the worktree tests); the test binaries `fake-claude`, which imitates how
# Claude Code writes its files, `fake-mcp`, a stdio MCP server, and
# `fake-lsp`, a stdio language server, go to the separate output `fake` for
# the NixOS VM tests and never into the user's profile.
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
  git,
  util-linux,
}:
let
  root = ../..;
  # The crate, plus the fixtures its tests read through `../` (the golden
  # manifest and the example), and nothing else: a change to the Nix side or
  # the docs does not rebuild the helper.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (root + "/helper/Cargo.toml")
      (root + "/helper/Cargo.lock")
      (root + "/helper/src")
      (lib.fileset.maybeMissing (root + "/helper/tests"))
      (lib.fileset.maybeMissing (root + "/helper/benches"))
      (lib.fileset.difference (root + "/tests/fixtures") (
        lib.fileset.fileFilter (file: file.hasExt "nix") (root + "/tests/fixtures")
      ))
      (root + "/examples")
    ];
  };
  cargoToml = lib.importTOML (root + "/helper/Cargo.toml");
in
rustPlatform.buildRustPackage {
  pname = "claude-accounts";
  inherit (cargoToml.package) version;
  inherit src;

  cargoRoot = "helper";
  buildAndTestSubdir = "helper";
  cargoLock.lockFile = root + "/helper/Cargo.lock";

  outputs = [
    "out"
    "fake"
  ];

  nativeBuildInputs = [ installShellFiles ];
  # git for the worktree tests, flock(1) for the session lock tests.
  nativeCheckInputs = [
    git
    util-linux
  ];

  # The tests exercise Linux behaviour (/proc/locks, renameat2, flock(1),
  # /proc/<pid>/fd); on Darwin the helper is built (and type-checked in
  # development with `cargo check --target x86_64-apple-darwin`) but its
  # tests run only on Linux.
  doCheck = stdenv.hostPlatform.isLinux;

  # The first needs root to create a repository owned by another user (it
  # asserts so); the build sandbox runs the tests unprivileged. The
  # real-Claude tier (tests/it/real) installs Claude Code from npm, which the
  # sandbox cannot reach. .ci/run runs both.
  checkFlags = [
    "--skip=a_repository_of_another_user_is_gits_call"
    "--skip=real::"
  ];

  # The integration tests create git repositories and worktrees.
  preCheck = ''
    export HOME=$(mktemp -d)
    export GIT_AUTHOR_NAME=nixbld GIT_AUTHOR_EMAIL=nixbld@localhost
    export GIT_COMMITTER_NAME=nixbld GIT_COMMITTER_EMAIL=nixbld@localhost
  '';

  postInstall = ''
    for test_bin in fake-claude fake-mcp fake-lsp; do
      moveToOutput "bin/$test_bin" "$fake"
      if [ ! -x "$fake/bin/$test_bin" ]; then
        echo "claude-accounts: the $test_bin test binary was not built" >&2
        exit 1
      fi
    done
  ''
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd claude-accounts \
      --bash <("$out/bin/claude-accounts" completions bash) \
      --zsh <("$out/bin/claude-accounts" completions zsh) \
      --fish <("$out/bin/claude-accounts" completions fish)
  '';

  meta = {
    description = "Run Claude Code with several declaratively configured accounts";
    mainProgram = "claude-accounts";
    platforms = lib.platforms.unix;
  };
}
