# Module evaluation checks: the data cases of ./cases.nix, the golden
# manifest, the generated commands and activation snippet, and the asset
# directories, each built from a real Home Manager configuration.
{ pkgs, testLib }:
let
  inherit (builtins) storeDir;
  zeros = "00000000000000000000000000000000";

  claude = pkgs.writeTextFile {
    name = "claude-code-2.1.240";
    destination = "/bin/claude";
    executable = true;
    text = "#!/bin/sh\nexit 0\n";
  };

  # A helper that prints each argument as <arg> on its own line, so the
  # checks can see exactly what the generated commands pass to it.
  echoHelper = pkgs.writeShellScriptBin "claude-accounts" ''
    for arg in "$@"; do printf '<%s>\n' "$arg"; done
  '';

  golden = testLib.evalHome [ ../fixtures/golden-config.nix ];

  commands = testLib.evalHome [
    {
      programs.claude-code.accountsHelper.package = echoHelper;
      # Home Manager's module installs the package's own `claude` into the
      # same profile as the dispatcher.
      programs.claude-code = {
        enable = true;
        package = claude;
        defaultAccount = "max";
      };
      programs.claude-code.accounts = {
        max.package = claude;
        pro = {
          package = claude;
          wrapperName = "claude-pro";
        };
      };
    }
  ];

  # Valid for Nix's assertions, rejected by `claude-accounts check`.
  rejected = testLib.evalHome [
    {
      programs.claude-code.accounts.max = {
        package = claude;
        secretFiles.TOKEN = "relative/token";
      };
    }
  ];

  # Claude Code 2.1.100 (before personal plugins), printing its arguments.
  legacyClaude = pkgs.writeTextFile {
    name = "claude-code-2.1.100";
    destination = "/bin/claude";
    executable = true;
    text = ''
      #!/bin/sh
      for arg in "$@"; do printf '<%s>\n' "$arg"; done
    '';
  };
  legacy = testLib.evalHome [
    {
      programs.claude-code.accounts.max = {
        package = legacyClaude;
        plugins.greet = pkgs.writeTextDir "commands/greet.md" "Say hello.";
        lspServers.go.command = "gopls";
      };
    }
  ];

  assets = testLib.evalHome [
    {
      programs.claude-code = {
        enable = true;
        package = claude;
        commands.review = "shared review";
        hooks.shared-hook = "#!/bin/sh\necho shared\n";
      };
      programs.claude-code.accounts.max = {
        package = claude;
        commands.deploy = "own deploy";
        commandsDir = pkgs.writeTextDir "from-dir.md" "from the directory";
        skills = {
          inline = "inline skill";
          file = pkgs.writeText "skill.md" "file skill";
        };
        context = "account memory";
        plugins.greet = pkgs.runCommandLocal "greet-plugin" { } ''
          mkdir -p $out/commands $out/agents
          echo "Say hello." > $out/commands/greet.md
          echo "An agent." > $out/agents/greeter.md
        '';
        lspServers.go = {
          command = "gopls";
          extensionToLanguage.".go" = "go";
        };
      };
    }
  ];
in
{
  module-eval = testLib.compareCases "module-eval" (
    import ./cases.nix {
      inherit (testLib) evalHome;
      inherit pkgs;
    }
  );

  # The nix-darwin module's options and activation (./darwin.nix), on every
  # system: evaluation needs no Mac.
  darwin-module-eval = testLib.compareCases "darwin-module-eval" (import ./darwin.nix { inherit pkgs; });

  # The manifest rendered from tests/fixtures/golden-config.nix, as written
  # to the store (and accepted there by `claude-accounts check`), equals the
  # fixture the Rust tests check against the schema.
  golden-manifest =
    pkgs.runCommandLocal "golden-manifest"
      {
        nativeBuildInputs = [
          pkgs.jq
          pkgs.diffutils
        ];
      }
      ''
        sed -E 's#${storeDir}/[0-9a-df-np-sv-z]{32}-#${storeDir}/${zeros}-#g' \
          ${golden.programs.claude-code.accountsManifest} > rendered.json
        if ! diff -u --label tests/fixtures/manifest.golden.json --label rendered \
            <(jq -S . ${../fixtures/manifest.golden.json}) <(jq -S . rendered.json); then
          echo "golden-manifest: the module renders tests/fixtures/golden-config.nix differently from the fixture" >&2
          exit 1
        fi
        touch "$out"
      '';

  # The commands: their exact text, and what they pass to the helper.
  commands =
    let
      manifest = "${commands.programs.claude-code.accountsManifest}";
      helper = "${echoHelper}/bin/claude-accounts";
      bin = "${commands.home.path}/bin";
      expectedWrapper = ''
        #!${pkgs.runtimeShell}
        exec ${helper} launch --manifest ${manifest} --account max -- "$@"
      '';
      activation = commands.home.activation.claudeAccounts.data;
    in
    pkgs.runCommandLocal "commands"
      {
        nativeBuildInputs = [ pkgs.diffutils ];
        inherit expectedWrapper activation;
        passAsFile = [
          "expectedWrapper"
          "activation"
        ];
      }
      ''
        expect() { # NAME EXPECTED-LINES... < actual
          name=$1; shift
          if ! diff -u --label "$name (expected)" --label "$name (actual)" <(printf '%s\n' "$@") -; then
            echo "commands: $name passes other arguments to the helper" >&2
            exit 1
          fi
        }

        diff -u --label expected --label ${bin}/claudemax "$expectedWrapperPath" ${bin}/claudemax

        ${bin}/claudemax -p 'two words' --resume "" '$HOME' -- x \
          | expect claudemax '<launch>' '<--manifest>' '<${manifest}>' '<--account>' '<max>' '<-->' \
              '<-p>' '<two words>' '<--resume>' '<>' '<$HOME>' '<-->' '<x>'
        ${bin}/claude-pro mcp list | expect claude-pro '<launch>' '<--manifest>' '<${manifest}>' \
          '<--account>' '<pro>' '<-->' '<mcp>' '<list>'
        test ! -e ${bin}/claudepro
        ${bin}/claude-status --json | expect claude-status '<status>' '<--manifest>' '<${manifest}>' '<--json>'
        ${bin}/claude-close max --all | expect claude-close '<close>' '<--manifest>' '<${manifest}>' '<max>' '<--all>'
        ${bin}/claude-session list | expect claude-session '<session>' '<--manifest>' '<${manifest}>' '<list>'
        ${bin}/claude-explain --json | expect claude-explain '<explain>' '<--manifest>' '<${manifest}>' '<--json>'


        # The activation snippet honours DRY_RUN and VERBOSE as Home Manager sets them.
        bash -euo pipefail "$activationPath" | expect activation '<activate>' '<--manifest>' '<${manifest}>'
        DRY_RUN=1 VERBOSE=1 bash -euo pipefail "$activationPath" \
          | expect 'activation -n -v' '<activate>' '<--manifest>' '<${manifest}>' '<--dry-run>' '<--verbose>'

        # The dispatcher, not the package's claude, is `claude` in the profile
        # (by its priority: last, since hm-offline's stand-in buildEnv
        # ignores priorities).
        ${bin}/claude -p 'two words' -- x \
          | expect claude '<dispatch>' '<--manifest>' '<${manifest}>' '<-->' '<-p>' '<two words>' '<-->' '<x>'
        touch "$out"
      '';

  # Before Claude Code 2.1.157, an account's plugins (its own and the
  # generated LSP plugin) reach claude as `--plugin-dir` arguments, ahead of
  # the user's arguments, which pass untouched.
  plugin-dir-wrapper =
    let
      claudePath = legacy.programs.claude-code.accountsManifestData.accounts.max.claude;
    in
    pkgs.runCommandLocal "plugin-dir-wrapper" { nativeBuildInputs = [ pkgs.diffutils ]; } ''
      fail() { echo "plugin-dir-wrapper: $*" >&2; exit 1; }
      ${claudePath} -p 'two words' > args
      mapfile -t args < args
      [ "''${#args[@]}" = 6 ] || fail "expected 6 arguments, got: ''${args[*]}"
      [ "''${args[0]}" = "<--plugin-dir>" ] && [ "''${args[2]}" = "<--plugin-dir>" ] \
        || fail "no --plugin-dir pair: ''${args[*]}"
      lsp=''${args[1]#<}; lsp=''${lsp%>}
      greet=''${args[3]#<}; greet=''${greet%>}
      [ "$(tr -d ' \n' < "$lsp/.lsp.json")" = '{"go":{"command":"gopls"}}' ] \
        || fail "the first plugin dir is not the LSP plugin"
      [ "$(cat "$greet/commands/greet.md")" = "Say hello." ] \
        && [ "$(tr -d ' \n' < "$greet/.claude-plugin/plugin.json")" = '{"name":"greet"}' ] \
        || fail "the second plugin dir is not the plugin greet"
      [ "''${args[4]}" = "<-p>" ] && [ "''${args[5]}" = "<two words>" ] \
        || fail "the user's arguments did not follow untouched: ''${args[*]}"
      touch "$out"
    '';

  # A configuration the helper rejects does not build, so `home-manager
  # switch` stops before activating anything: the writer runs `check`.
  manifest-check-rejects =
    let
      failure = pkgs.testers.testBuildFailure rejected.programs.claude-code.accountsManifest;
    in
    pkgs.runCommandLocal "manifest-check-rejects" { } ''
      grep -F 'accounts.max.secretFiles.TOKEN: "relative/token" must be an absolute path' \
        ${failure}/testBuildFailure.log || {
        echo "manifest-check-rejects: the manifest build failed without the helper's explanation:" >&2
        cat ${failure}/testBuildFailure.log >&2
        exit 1
      }
      touch "$out"
    '';

  # Asset directories: whole directories of regular files in the store,
  # merged from the shared module, a directory and named entries; shell
  # completions from the helper package in the profile.
  asset-dirs =
    let
      files = "${assets.home-files}/.claude-max";
      path = assets.home.path;
    in
    pkgs.runCommandLocal "asset-dirs" { } ''
      fail() { echo "asset-dirs: $*" >&2; exit 1; }
      for entry in commands hooks skills; do
        [ -L ${files}/$entry ] || fail "$entry is not linked as a whole directory"
      done
      [ ! -e ${files}/settings.json ] || fail "settings.json must never be a home.file entry"
      [ ! -e ${files}/.claude.json ] || fail ".claude.json must never be a home.file entry"
      for f in commands/deploy.md commands/review.md commands/from-dir.md hooks/shared-hook \
               skills/inline/SKILL.md skills/file/SKILL.md; do
        [ -f ${files}/$f ] && [ ! -L ${files}/$f ] || fail "$f is not a regular file in its asset directory"
      done
      [ "$(cat ${files}/commands/deploy.md)" = "own deploy" ] || fail "commands/deploy.md has the wrong content"
      [ "$(cat ${files}/commands/review.md)" = "shared review" ] || fail "the shared command review.md is missing"
      [ "$(cat ${files}/commands/from-dir.md)" = "from the directory" ] || fail "commandsDir's file is missing"
      [ "$(cat ${files}/skills/file/SKILL.md)" = "file skill" ] || fail "a skill file is not SKILL.md"
      [ -x ${files}/hooks/shared-hook ] || fail "hooks are not executable"
      [ "$(cat ${files}/CLAUDE.md)" = "account memory" ] || fail "CLAUDE.md has the wrong content"
      # Personal plugins: a directory of skills/ each, whose component
      # directories are whole (linked) directories, with a plugin.json.
      plugin=${files}/skills/greet
      [ -L "$plugin" ] && [ -d "$plugin" ] || fail "the plugin greet is not a linked directory of skills/"
      [ -L "$plugin/commands" ] && [ "$(cat "$plugin/commands/greet.md")" = "Say hello." ] \
        || fail "the plugin's commands/ is not its whole directory"
      [ "$(cat "$plugin/.claude-plugin/plugin.json" | tr -d ' \n')" = '{"name":"greet"}' ] \
        || fail "the plugin has no generated plugin.json"
      lsp=${files}/skills/claude-code-home-manager
      [ "$(cat "$lsp/.claude-plugin/plugin.json" | tr -d ' \n')" = '{"name":"hm"}' ] \
        || fail "the LSP plugin is not named hm"
      [ "$(cat "$lsp/.lsp.json" | tr -d ' \n')" = '{"go":{"command":"gopls","extensionToLanguage":{".go":"go"}}}' ] \
        || fail "the LSP plugin's .lsp.json is not the declared servers"
      # Completions of the forwarding commands, as the helper prints them:
      # each file registers the command it is loaded for.
      completions=${path}/share/bash-completion/completions
      fishCompletions=${path}/share/fish/vendor_completions.d
      zshCommands=${path}/share/zsh/site-functions/_claude-accounts-commands
      [ -s $zshCommands ] || fail "no zsh completion for the commands"
      for command in claude-status claude-close claude-session claude-explain; do
        [ -s $completions/$command ] || fail "no bash completion for $command"
        [ -s $fishCompletions/$command.fish ] || fail "no fish completion for $command"
        grep -q "^complete -F _claude_accounts_forward .* $command\( \|$\)" $completions/$command \
          || fail "the bash completion does not register $command"
        grep -q "^complete -c $command -w " $fishCompletions/$command.fish \
          || fail "the fish completion does not register $command"
        head -n 1 $zshCommands | grep -q "^#compdef .* $command\( \|$\)" \
          || fail "the zsh completion does not register $command"
      done
      [ -s ${path}/share/bash-completion/completions/claude-accounts.bash ] || fail "no bash completion installed"
      [ -s ${path}/share/zsh/site-functions/_claude-accounts ] || fail "no zsh completion installed"
      [ -s ${path}/share/fish/vendor_completions.d/claude-accounts.fish ] || fail "no fish completion installed"
      touch "$out"
    '';
}
