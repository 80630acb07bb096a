# Options of `programs.claude-code.accounts.<name>` and the helper package.
#
# Names and shapes follow Home Manager's own `programs.claude-code` where the
# two overlap, so a configuration moves from there into an account unchanged.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  inherit (lib) literalExpression mkOption types;

  cfg = config.programs.claude-code;
  jsonFormat = pkgs.formats.json { };
  homeDir = config.home.homeDirectory;

  # Whether Home Manager's own claude-code module is part of this evaluation.
  upstreamPresent = options ? programs.claude-code.enable;

  mkContentOption =
    {
      file,
      example,
      extra ? "",
    }:
    mkOption {
      type = types.attrsOf (types.either types.lines types.path);
      default = { };
      description = ''
        The attribute name becomes the file name ({file}`${file}`), the value
        is the content, inline or a path to a file. The files are rendered into
        one store directory, linked as a whole to {file}`${lib.head (lib.splitString "/" file)}`
        in the account's {option}`configDir`.
        Inherited entries of the same name from the shared
        `programs.claude-code` are replaced.${extra}
      '';
      inherit example;
    };

  mkDirOption =
    { file, example }:
    mkOption {
      type = types.nullOr types.path;
      default = null;
      description = ''
        A directory whose files are copied into the account's {file}`${file}`
        directory. Entries of the attribute-set option of the same kind
        replace files of the same name from this directory. An account without
        its own directory uses the shared one when it inherits.
      '';
      inherit example;
    };

  serverType = types.submodule {
    freeformType = jsonFormat.type;
    options.enabled = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether the server is written to the account's {file}`.claude.json`.
        A disabled server is left out (and pruned if an earlier generation
        declared it); the toggle itself is never written.
      '';
    };
  };

  accountModule =
    { name, config, ... }:
    {
      options = {
        enable = lib.mkEnableOption "the Claude Code account `${name}`" // {
          default = true;
          example = false;
        };

        package = mkOption {
          type = types.nullOr types.package;
          default = if upstreamPresent then cfg.package else pkgs.claude-code;
          defaultText = literalExpression "config.programs.claude-code.package";
          example = literalExpression "pkgs.claude-code";
          description = ''
            The Claude Code package whose {command}`claude` the account's
            wrapper runs. Defaults to Home Manager's
            {option}`programs.claude-code.package` (itself `pkgs.claude-code`
            unless set). With `null`, {command}`claude` is looked up in
            {env}`PATH` at launch.
          '';
        };

        configDir = mkOption {
          type = types.str;
          default = "${homeDir}/.claude-${name}";
          defaultText = literalExpression ''"''${config.home.homeDirectory}/.claude-<name>"'';
          example = literalExpression ''"''${config.xdg.configHome}/claude-work"'';
          description = ''
            The account directory: its {env}`CLAUDE_CONFIG_DIR` outside git
            repositories, holding {file}`settings.json`, {file}`.claude.json`,
            {file}`.credentials.json` and the linked assets. An absolute path
            inside the home directory; every account needs its own.
          '';
        };

        wrapperName = mkOption {
          type = types.str;
          default = "claude${name}";
          defaultText = literalExpression ''"claude<name>"'';
          example = "claude-work";
          description = ''
            Name of the command that starts Claude Code with this account
            (installed into {file}`~/.nix-profile/bin`). It passes its
            arguments to {command}`claude` untouched.
          '';
        };

        inheritShared = mkOption {
          type = types.bool;
          default = true;
          example = false;
          description = ''
            Whether the account builds on Home Manager's
            `programs.claude-code` (when that module is enabled):
            {option}`settings` are merged recursively with
            {option}`programs.claude-code.settings` (the account wins),
            {option}`mcpServers`, {option}`commands`, {option}`agents`,
            {option}`rules`, {option}`outputStyles`, {option}`hooks` and
            {option}`skills` are merged by name (the account wins), the
            `*Dir` options and {option}`context` are used when the account
            sets none. {option}`plugins`, {option}`marketplaces` and
            {option}`lspServers` are merged by name too, and
            {option}`enableMcpIntegration` follows the shared one unless
            set.
          '';
        };

        settings = mkOption {
          inherit (jsonFormat) type;
          default = { };
          example = literalExpression ''
            {
              model = "sonnet";
              permissions.allow = [ "Bash(git status)" "Bash(cargo test:*)" ];
              permissions.deny = [ "Read(./.env)" ];
              env.DISABLE_TELEMETRY = "1";
            }
          '';
          description = ''
            Keys of the account's {file}`settings.json`. The file stays a real,
            writable file: these keys are enforced at every switch and launch,
            keys removed here are removed there, and whatever Claude Code or
            you add (e.g. with `/model`) is kept. Elements of string lists
            such as `permissions.allow` are owned one by one.
          '';
        };

        mcpServers = mkOption {
          type = types.attrsOf serverType;
          default = { };
          example = literalExpression ''
            {
              github = {
                type = "http";
                url = "https://api.githubcopilot.com/mcp/";
                headers.Authorization = "Bearer ''${GITHUB_TOKEN}";
              };
              filesystem = {
                command = lib.getExe pkgs.mcp-server-filesystem;
                args = [ "/home/alice/src" ];
              };
              time = {
                command = "uvx";
                args = [ "mcp-server-time" ];
                enabled = false;
              };
            }
          '';
          description = ''
            User-scope MCP servers, written to `mcpServers` in the account's
            {file}`.claude.json` (Claude Code ignores them in
            {file}`settings.json`). A stdio server has `command`, `args`,
            `env`; a remote one `type` (`http`, `sse`, `ws`), `url`,
            `headers`. `type` is added when omitted. Servers added with
            {command}`claude mcp add --scope user` are kept; servers removed
            here are pruned. `''${VAR}` in values is expanded by Claude Code,
            e.g. from {option}`secretFiles`.
          '';
        };

        enableMcpIntegration = mkOption {
          type = types.bool;
          default =
            config.inheritShared && upstreamPresent && cfg.enable && cfg.enableMcpIntegration;
          defaultText = literalExpression "inheritShared && config.programs.claude-code.enable && config.programs.claude-code.enableMcpIntegration";
          example = true;
          description = ''
            Whether the account's {file}`.claude.json` also gets the MCP
            servers of {option}`programs.mcp.servers` (when `programs.mcp` is
            enabled), transformed as Home Manager's module does (`type`
            added, file-backed `envFiles` secrets read by a wrapper at
            start). Servers of {option}`mcpServers` win by name. A server
            disabled there (`enabled = false` or `disabled = true`) is left
            out: unlike a project's {file}`.mcp.json`, user-scope servers
            in {file}`.claude.json` have no toggle Claude Code honours.
          '';
        };

        plugins = mkOption {
          type = types.either (types.attrsOf (types.either types.package types.path)) (
            types.listOf (types.either types.package types.path)
          );
          default = { };
          example = literalExpression ''
            {
              my-local-plugin = ./my-local-plugin;
              claude-plugin = pkgs.fetchFromGitHub {
                owner = "some-github-org";
                repo = "claude-plugin";
                rev = "779a68ebc2a75e4a184d2c87e5a43a758e6458a1";
                hash = "sha256-...";
              };
            }
          '';
          description = ''
            Personal plugins of the account (as Home Manager's
            {option}`programs.claude-code.plugins`): the attribute name
            becomes the plugin's directory name, the value is the plugin
            directory (a path, a package or a fetcher's output; a
            subdirectory of a store path works too). Each plugin's
            skills, agents, commands, hooks and MCP servers reach every
            session of the account. With Claude Code 2.1.157 or later (or
            `package = null`) each plugin is a directory of the account's
            {file}`skills/` (a {file}`.claude-plugin/plugin.json` is added
            when the plugin has none); with 2.1.76 to 2.1.156, or a package
            without a version, the account's {command}`claude` is wrapped
            with `--plugin-dir` instead. A list is accepted but deprecated
            (names then come from the entries' base names). Merged by name
            with the shared {option}`programs.claude-code.plugins` when
            inheriting (the account wins).
          '';
        };

        marketplaces = mkOption {
          type = types.attrsOf (types.either types.package types.path);
          default = { };
          example = literalExpression "{ local-marketplace = ./my-local-marketplace; }";
          description = ''
            Plugin marketplaces of the account, by name, each a directory
            (a path, a package or a fetcher's output). Declared in the
            account's {file}`settings.json` as `extraKnownMarketplaces` and
            in {file}`plugins/known_marketplaces.json`; both stay writable
            (Claude Code writes them when you add a marketplace), so they
            are three-way applied: marketplaces removed here are removed
            there, and the ones you add are kept. Merged by name with the
            shared {option}`programs.claude-code.marketplaces` when
            inheriting (the account wins).
          '';
        };

        lspServers = mkOption {
          type = types.attrsOf jsonFormat.type;
          default = { };
          example = literalExpression ''
            {
              go = {
                command = "gopls";
                args = [ "serve" ];
                extensionToLanguage.".go" = "go";
              };
            }
          '';
          description = ''
            LSP servers of the account (the format of a plugin's
            {file}`.lsp.json`). Rendered as {file}`.lsp.json` of a generated
            plugin, {file}`skills/claude-code-home-manager` (plugin name
            `hm`, as Home Manager's module names it). Merged by name with
            the shared {option}`programs.claude-code.lspServers` when
            inheriting (the account wins).
          '';
        };

        profiles = mkOption {
          type = types.attrsOf jsonFormat.type;
          default = { };
          example = literalExpression ''
            {
              review = {
                model = "sonnet";
                permissions.deny = [ "Edit" "Write" ];
              };
            }
          '';
          description = ''
            Named profiles of the account: each a set of {file}`settings.json`
            keys, rendered into the store as a JSON file that a session of
            the account can be started with (see {command}`claude-session`).
            Merged by name with the shared
            {option}`programs.claude-code.profiles` when
            {option}`inheritShared` is set (the account's profile of a name
            replaces the shared one whole).
          '';
        };

        files = mkOption {
          type = types.submodule {
            options = {
              settings = mkOption {
                type = types.path;
                readOnly = true;
                description = "The account's declared {file}`settings.json` keys, as a file in the store.";
              };
              mcpConfig = mkOption {
                type = types.path;
                readOnly = true;
                description = ''
                  The account's MCP servers as `{"mcpServers": ...}` in the
                  store, the format of {command}`claude --mcp-config`.
                '';
              };
            };
          };
          readOnly = true;
          defaultText = literalExpression "rendered by the module";
          example = literalExpression ''"''${config.programs.claude-code.accounts.max.files.mcpConfig}"'';
          description = ''
            The account's files as Claude Code reads them, rendered into the
            store from the values of its manifest entry (which references
            them), for other tools: e.g. `claude --mcp-config` with
            {option}`files.mcpConfig`, or `claude --settings` with
            {option}`files.settings`. Read-only.
          '';
        };

        claudeJson = mkOption {
          inherit (jsonFormat) type;
          default = { };
          example = literalExpression "{ editorMode = \"vim\"; }";
          description = ''
            Other top-level keys enforced in the account's
            {file}`.claude.json`; every key not declared here (projects,
            history, identity) stays Claude Code's. Use {option}`mcpServers`
            for servers and {option}`settings` for what Claude Code reads from
            {file}`settings.json` (e.g. `settings.env.DISABLE_AUTOUPDATER =
            "1"` rather than `autoUpdates = false`, which Claude Code 2.1.x
            migrates away at every start).
          '';
        };

        context = mkOption {
          type = types.either types.lines types.path;
          default = "";
          example = literalExpression "./CLAUDE.md";
          description = ''
            The account's global memory, linked as {file}`CLAUDE.md` in
            {option}`configDir`: inline text or a path. Empty means none (or
            the shared {option}`programs.claude-code.context` when
            inheriting).
          '';
        };

        commands = mkContentOption {
          file = "commands/<name>.md";
          example = literalExpression ''
            {
              fix-issue = ./commands/fix-issue.md;
              changelog = '''
                ---
                description: Update CHANGELOG.md with a new entry
                ---
                Add an entry for $ARGUMENTS.
              ''';
            }
          '';
        };

        agents = mkContentOption {
          file = "agents/<name>.md";
          example = literalExpression ''
            {
              code-reviewer = '''
                ---
                name: code-reviewer
                description: Reviews code for quality and security
                tools: Read, Grep
                ---
                You are a senior engineer reviewing code.
              ''';
            }
          '';
        };

        rules = mkContentOption {
          file = "rules/<name>.md";
          example = literalExpression "{ testing = ./rules/testing.md; }";
          extra = " Claude Code loads every rule file as memory.";
        };

        outputStyles = mkContentOption {
          file = "output-styles/<name>.md";
          example = literalExpression "{ concise = ./output-styles/concise.md; }";
        };

        hooks = mkContentOption {
          file = "hooks/<name>";
          example = literalExpression ''
            {
              pre-edit = '''
                #!/usr/bin/env bash
                echo "About to edit $1"
              ''';
            }
          '';
          extra = " Hook scripts are made executable; refer to them from `settings.hooks`.";
        };

        skills = mkOption {
          type = types.either (types.attrsOf (types.either types.lines types.path)) types.path;
          default = { };
          example = literalExpression ''
            {
              data-analysis = ./skills/data-analysis;
              release = ./skills/release/SKILL.md;
            }
          '';
          description = ''
            Skills in the account's {file}`skills/` directory: an attribute set
            whose names become skill directories (inline text or a file becomes
            {file}`skills/<name>/SKILL.md`, a directory is copied as
            {file}`skills/<name>/`), or a path to a directory holding one folder
            per skill.
          '';
        };

        commandsDir = mkDirOption {
          file = "commands/";
          example = literalExpression "./commands";
        };
        agentsDir = mkDirOption {
          file = "agents/";
          example = literalExpression "./agents";
        };
        rulesDir = mkDirOption {
          file = "rules/";
          example = literalExpression "./rules";
        };
        hooksDir = mkDirOption {
          file = "hooks/";
          example = literalExpression "./hooks";
        };

        environment = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = {
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
          };
          description = ''
            Environment variables set for every session of the account (by
            its wrapper; nothing is written to a file).
          '';
        };

        environmentFiles = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "/run/secrets/claude-work.env" ];
          description = ''
            Files of `KEY=VALUE` lines read at every launch; their variables
            are set for the session. Absolute paths as strings, so that
            secrets never enter the Nix store.
          '';
        };

        secretFiles = mkOption {
          type = types.attrsOf types.str;
          default = { };
          example = {
            GITHUB_TOKEN = "/run/agenix/github-token";
          };
          description = ''
            Variables whose value is the content of a file, read at every
            launch (agenix, sops-nix). Absolute paths as strings, so that
            secrets never enter the Nix store; the values are never written
            to disk by claude-accounts.
          '';
        };

        oauthTokenFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "/run/agenix/claude-work-token";
          description = ''
            A file holding a long-lived token from {command}`claude
            setup-token`, exported as {env}`CLAUDE_CODE_OAUTH_TOKEN` at
            launch. An absolute path as a string, so the token never enters
            the Nix store.
          '';
        };

        isolation = mkOption {
          type = types.enum [
            "worktree"
            "account"
            "session"
          ];
          default = "worktree";
          description = ''
            Where a session's {env}`CLAUDE_CONFIG_DIR` points.
            `worktree`: one runtime dir per git worktree
            ({file}`$GIT_DIR/claude-runtime/<name>`), removed with the
            worktree, the account dir outside git; `account`: always the
            account dir; `session`: a fresh runtime dir per launch, removed
            when the session ends. Runtime dirs share the account's
            credentials and linked assets.
          '';
        };

        singleInstance = mkOption {
          type = types.bool;
          default = true;
          example = false;
          description = ''
            Whether to refuse a second session on the same runtime dir (per
            account and worktree with `isolation = "worktree"`), since
            concurrent sessions corrupt {file}`.claude.json`.
          '';
        };

        trustedProjects = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = literalExpression ''[ "''${config.home.homeDirectory}/src" ]'';
          description = ''
            Projects, or directories holding projects, whose MCP overlay file
            ({option}`mcpOverlay`) is merged into a session's servers. A
            project whose trust dialog was accepted in Claude Code is trusted
            too; servers of other projects never start.
          '';
        };

        mcpOverlay = mkOption {
          type = types.nullOr types.str;
          default = ".claude/.mcp.json";
          example = null;
          description = ''
            A per-project file of extra MCP servers (`{"mcpServers": ...}`),
            relative to the worktree's top level, merged over the account's
            servers (the project wins by name) for trusted projects. `null`
            turns overlays off.
          '';
        };

        seedKeys = mkOption {
          type = types.listOf types.str;
          default = [
            "oauthAccount"
            "userID"
            "hasCompletedOnboarding"
            "lastOnboardingVersion"
            "lastReleaseNotesSeen"
            "firstStartTime"
            "installMethod"
            "customApiKeyResponses"
          ];
          description = ''
            The account-wide top-level {file}`.claude.json` keys (identity,
            onboarding, API key approvals): copied from the account dir into
            a new runtime dir and kept in step between the account's and
            every runtime dir's {file}`.claude.json`, so that a new worktree
            needs no login and shows no first-run wizard. (`autoUpdates` is
            not one: Claude Code 2.1.x moves it into {file}`settings.json` as
            `env.DISABLE_AUTOUPDATER`.)
          '';
        };

        projectSeedKeys = mkOption {
          type = types.listOf types.str;
          default = [
            "hasTrustDialogAccepted"
            "hasCompletedProjectOnboarding"
            "projectOnboardingSeenCount"
            "allowedTools"
            "mcpServers"
            "enabledMcpjsonServers"
            "disabledMcpjsonServers"
            "hasClaudeMdExternalIncludesApproved"
            "hasClaudeMdExternalIncludesWarningShown"
          ];
          description = ''
            Keys of the project's entry in the account's {file}`.claude.json`
            (`projects.<path>`) copied into a new runtime dir: folder trust,
            local-scope MCP servers and per-project approvals.
          '';
        };
      };
    };
in
{
  options.programs.claude-code = {
    accounts = mkOption {
      type = types.attrsOf (types.submodule accountModule);
      default = { };
      example = literalExpression ''
        {
          max = {
            settings.model = "sonnet";
            mcpServers.github = {
              type = "http";
              url = "https://api.githubcopilot.com/mcp/";
            };
          };
          pro = {
            isolation = "session";
            inheritShared = false;
          };
        }
      '';
      description = ''
        Claude Code accounts, each with its own config dir and a command
        {command}`claude<name>` that starts Claude Code with it. Next to the
        wrappers, {command}`claude-status` lists accounts and running sessions
        and {command}`claude-close` ends one. Settings and servers declared
        here are applied into Claude Code's own writable files at every
        switch and launch, keeping everything Claude Code writes.
      '';
    };

    defaultAccount = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "max";
      description = ''
        The account a plain {command}`claude` runs where no
        {option}`programs.claude-code.accountFor` prefix matches. Setting
        this or {option}`accountFor` installs a {command}`claude` command
        that picks the account (`CLAUDE_ACCOUNT=<name>` overrides the choice
        for one command) and runs its launch with the arguments untouched;
        it takes precedence over the package's own {command}`claude` in the
        profile. Without either, no {command}`claude` is installed by this
        module.
      '';
    };

    accountFor = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = literalExpression ''
        {
          "~/work" = "work";
          "''${config.home.homeDirectory}/src/oss" = "max";
        }
      '';
      description = ''
        Directory prefixes (absolute, or starting with `~/`) and the account
        a plain {command}`claude` runs below each; the longest matching
        prefix wins, else {option}`programs.claude-code.defaultAccount`.
        Setting it installs the {command}`claude` command described there.
      '';
    };

    profiles = mkOption {
      type = types.attrsOf jsonFormat.type;
      default = { };
      example = literalExpression "{ fast.model = \"haiku\"; }";
      description = ''
        Profiles shared by every account that inherits
        ({option}`programs.claude-code.accounts.<name>.inheritShared`); an
        account's own profile of the same name wins. See
        {option}`programs.claude-code.accounts.<name>.profiles`.
      '';
    };

    accountsHelper.package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../../pkgs/claude-accounts { };
      defaultText = literalExpression "pkgs.callPackage <claude-accounts>/pkgs/claude-accounts { }";
      description = ''
        The {command}`claude-accounts` helper that applies the accounts'
        declared state and starts their sessions. It must come from the same
        revision as this module (the manifest format is versioned).
      '';
    };

    accountsManifest = mkOption {
      type = types.package;
      readOnly = true;
      internal = true;
      description = ''
        The rendered manifest of all enabled accounts (a JSON file in the
        store, validated by {command}`claude-accounts check` when built).
      '';
    };

    accountsManifestData = mkOption {
      type = types.attrs;
      readOnly = true;
      internal = true;
      description = "The manifest of all enabled accounts, before it is written (for tests).";
    };
  };
}
