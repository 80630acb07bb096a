# Home Manager module: `programs.claude-code.accounts.<name>`.
#
# Nix decides what must hold and renders it into one manifest; the
# `claude-accounts` helper makes it hold on disk (at activation and at every
# launch). This file resolves each account (including what it inherits from
# Home Manager's own `programs.claude-code`), renders the manifest, the asset
# directories and the commands, and hooks the helper into activation.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  render = import ./render.nix;

  cfg = config.programs.claude-code;
  homeDir = config.home.homeDirectory;

  helper = cfg.accountsHelper.package;
  helperExe = lib.getExe' helper "claude-accounts";
  # The manifest writer runs the helper at build time, which needs a helper
  # the build platform can execute.
  canRunHelper = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;

  # Home Manager's own single-account module, when it is part of this
  # evaluation and enabled: the source of inherited values.
  upstreamPresent = options ? programs.claude-code.enable;
  upstreamEnabled = upstreamPresent && cfg.enable;
  upstreamConfigDir = if upstreamPresent then cfg.configDir else "${homeDir}/.claude";
  jsonFormat = pkgs.formats.json { };

  # The servers of Home Manager's `programs.mcp` (when enabled), transformed
  # as Home Manager's claude-code module does, for accounts with
  # `enableMcpIntegration`. Disabled entries keep their toggle so that
  # `render.renderServers` can drop them.
  programsMcpServers = lib.mapAttrs (
    name: server:
    if render.serverEnabled server then
      lib.hm.mcp.transformMcpServer {
        inherit server;
        exclude = [ "enabled" ];
        extraTransforms = [
          lib.hm.mcp.addType
          (lib.hm.mcp.wrapEnvFilesCommand { inherit pkgs name; })
        ];
      }
    else
      server
  ) (lib.optionalAttrs programsMcpEnabled config.programs.mcp.servers);
  programsMcpEnabled = options ? programs.mcp.enable && config.programs.mcp.enable;

  # Plugins as an attribute set: the deprecated list form is named after
  # each entry's base name, as Home Manager's module does.
  pluginSet =
    plugins:
    if builtins.isList plugins then
      lib.listToAttrs (
        map (
          plugin:
          lib.nameValuePair (builtins.unsafeDiscardStringContext (
            lib.strings.sanitizeDerivationName (baseNameOf (toString plugin))
          )) plugin
        ) plugins
      )
    else
      plugins;

  # Directory name (under `skills/`) and plugin name of the generated plugin
  # that carries an account's LSP servers; Home Manager's names.
  generatedPluginDir = "claude-code-home-manager";
  generatedPluginName = "hm";

  enabledAccounts = lib.filterAttrs (_: account: account.enable) cfg.accounts;

  isPathLike = lib.hm.strings.isPathLike;

  # The `claude` executable of a package: its main program when declared
  # (claude-code's is `claude`), else `bin/claude`.
  claudeExe =
    package:
    if package == null then
      "claude"
    else if package ? meta.mainProgram then
      lib.getExe package
    else
      "${package}/bin/claude";

  # Everything the rest of the module needs about one account, with the
  # shared values already merged in.
  resolve =
    name: account:
    let
      inherits = account.inheritShared && upstreamEnabled;
      fromShared = attr: default: if inherits then cfg.${attr} else default;
      mergeNamed = attr: fromShared attr { } // account.${attr};
      pickDir = attr: if account.${attr} != null then account.${attr} else fromShared attr null;

      skillParts =
        value:
        if isPathLike value then
          {
            dir = value;
            entries = { };
          }
        else
          {
            dir = null;
            entries = value;
          };
      ownSkills = skillParts account.skills;
      sharedSkills = skillParts (fromShared "skills" { });

      # Each asset directory: files from an optional directory, then named
      # entries (replacing files of the same name).
      assetSpecs = {
        agents = {
          entries = mergeNamed "agents";
          dir = pickDir "agentsDir";
          fileName = entry: "${entry}.md";
          mode = "0644";
        };
        commands = {
          entries = mergeNamed "commands";
          dir = pickDir "commandsDir";
          fileName = entry: "${entry}.md";
          mode = "0644";
        };
        hooks = {
          entries = mergeNamed "hooks";
          dir = pickDir "hooksDir";
          fileName = entry: entry;
          mode = "0755";
        };
        output-styles = {
          entries = mergeNamed "outputStyles";
          dir = null;
          fileName = entry: "${entry}.md";
          mode = "0644";
        };
        rules = {
          entries = mergeNamed "rules";
          dir = pickDir "rulesDir";
          fileName = entry: "${entry}.md";
          mode = "0644";
        };
        skills = {
          entries = sharedSkills.entries // ownSkills.entries;
          dir = if ownSkills.dir != null then ownSkills.dir else sharedSkills.dir;
          skill = true;
        };
      };

      context = if account.context != "" then account.context else fromShared "context" "";
      hasContext = context != "";

      # Plugins, marketplaces and LSP servers, inherited by name.
      plugins = pluginSet (fromShared "plugins" { }) // pluginSet account.plugins;
      pluginsAreList = builtins.isList account.plugins && account.plugins != [ ];
      marketplaces = mergeNamed "marketplaces";
      lspServers = mergeNamed "lspServers";

      # Which way plugins reach Claude Code depends on its version, as in
      # Home Manager's module: personal plugins under `skills/` from
      # 2.1.157 (and with `package = null`, assumed current), else
      # `--plugin-dir` from 2.1.76 (and for a package without a version).
      version = if account.package == null then null else lib.getVersion account.package;
      hasVersion = version != null && version != "";
      atLeast = v: account.package == null || (hasVersion && lib.versionAtLeast version v);
      personalPlugins = atLeast "2.1.157";
      pluginDirWorks = !hasVersion || atLeast "2.1.76";

      lspPlugin = lib.optionalAttrs (lspServers != { }) {
        ${generatedPluginDir} = pkgs.runCommandLocal "claude-${name}-lsp-plugin" { } ''
          install -Dm644 ${
            jsonFormat.generate "claude-${name}-plugin.json" { name = generatedPluginName; }
          } "$out/.claude-plugin/plugin.json"
          install -Dm644 ${jsonFormat.generate "claude-${name}-lsp.json" lspServers} "$out/.lsp.json"
        '';
      };
      pluginDirs = lspPlugin // lib.mapAttrs (mkPlugin name) plugins;
      usesPluginDir = pluginDirs != { } && !personalPlugins;
      pluginDirArgs = lib.concatMap (dir: [
        "--plugin-dir"
        "${dir}"
      ]) (lib.attrValues pluginDirs);

      # Each asset directory: files from an optional directory, then named
      # entries (replacing files of the same name); `skills` also holds the
      # personal plugins, each linked as a whole directory.
      skillsSpec = assetSpecs.skills // {
        plugins = lib.optionalAttrs personalPlugins pluginDirs;
      };
      specs = assetSpecs // {
        skills = skillsSpec;
      };
      usedSpecs = lib.filterAttrs (
        _: spec: spec.entries != { } || spec.dir != null || (spec.plugins or { }) != { }
      ) specs;

      settings = render.mergeSettings (render.mergeSettings (fromShared "settings" { }) account.settings) (
        lib.optionalAttrs (marketplaces != { }) {
          extraKnownMarketplaces = lib.mapAttrs (_: marketplaceSource) marketplaces;
        }
      );
      servers = render.renderServers (
        lib.optionalAttrs account.enableMcpIntegration programsMcpServers
        // fromShared "mcpServers" { }
        // account.mcpServers
      );
      claude = claudeExe account.package;
      profiles = lib.optionalAttrs account.inheritShared cfg.profiles // account.profiles;
    in
    {
      inherit
        account
        inherits
        context
        hasContext
        settings
        servers
        plugins
        pluginsAreList
        pluginDirs
        personalPlugins
        pluginDirWorks
        usesPluginDir
        version
        hasVersion
        ;
      skillNames =
        if isPathLike skillsSpec.dir then
          lib.attrNames skillsSpec.entries
          ++ lib.optionals (lib.isPath skillsSpec.dir && lib.pathIsDirectory skillsSpec.dir) (
            lib.attrNames (builtins.readDir skillsSpec.dir)
          )
        else
          lib.attrNames skillsSpec.entries;
      assetDirs = lib.mapAttrs (mkAssetDir name) usedSpecs;
      assets = render.assetNames (
        lib.mapAttrs (_: _: true) usedSpecs // { "CLAUDE.md" = hasContext; }
      );
      knownMarketplaces = lib.mapAttrs (
        _: dir:
        marketplaceSource dir
        // {
          installLocation = "${dir}";
          lastUpdated = "1970-01-01T00:00:00Z";
        }
      ) marketplaces;
      # Claude Code itself, or (plugins on 2.1.76 to 2.1.156) a wrapper that
      # adds `--plugin-dir` for each plugin before the user's arguments.
      claude =
        if usesPluginDir then
          "${pkgs.writeShellScriptBin "claude" ''
            exec -a "$0" ${lib.escapeShellArg claude} ${lib.escapeShellArgs pluginDirArgs} "$@"
          ''}/bin/claude"
        else
          claude;
      profileFiles = lib.mapAttrs (
        profile: value: jsonFormat.generate "claude-${name}-profile-${profile}.json" value
      ) profiles;
      files = {
        settings = jsonFormat.generate "claude-${name}-settings.json" settings;
        mcpConfig = jsonFormat.generate "claude-${name}-mcp.json" { mcpServers = servers; };
      };
    };

  # A marketplace directory as Claude Code's `extraKnownMarketplaces` names it.
  marketplaceSource = dir: {
    source = {
      source = "directory";
      path = "${dir}";
    };
  };

  # One plugin as a directory of links to its top-level entries (so that its
  # `agents/` and `commands/` stay whole directories, which Claude Code's
  # scanners need), with a `.claude-plugin/plugin.json` naming it when the
  # plugin has none.
  mkPlugin =
    account: name: plugin:
    pkgs.runCommandLocal "claude-${account}-plugin-${lib.strings.sanitizeDerivationName name}" { } ''
      src=${lib.escapeShellArg "${plugin}"}
      if [ ! -d "$src" ]; then
        echo "programs.claude-code.accounts.${account}.plugins.${name}: $src is not a directory" >&2
        exit 1
      fi
      mkdir -p "$out"
      shopt -s dotglob nullglob
      for entry in "$src"/*; do
        ln -s "$entry" "$out/''${entry##*/}"
      done
      if [ ! -e "$out/.claude-plugin/plugin.json" ]; then
        rm -f "$out/.claude-plugin"
        mkdir -p "$out/.claude-plugin"
        for entry in "$src"/.claude-plugin/*; do
          ln -s "$entry" "$out/.claude-plugin/''${entry##*/}"
        done
        install -m644 ${
          jsonFormat.generate "claude-${account}-plugin-${lib.strings.sanitizeDerivationName name}.json" {
            inherit name;
          }
        } "$out/.claude-plugin/plugin.json"
      fi
    '';

  # One asset directory in the store, holding regular files (Claude Code
  # skips symlinked files in `agents/` and `commands/`), linked as a whole.
  mkAssetDir =
    account: kind: spec:
    let
      source =
        entry: content:
        if isPathLike content then
          "${content}"
        else
          pkgs.writeText (lib.strings.sanitizeDerivationName "claude-${account}-${kind}-${entry}"
          ) content;
      put =
        entry: content:
        let
          from = lib.escapeShellArg (source entry content);
        in
        if spec.skill or false then
          "put_skill ${from} ${lib.escapeShellArg entry}"
        else
          "put_file ${spec.mode} ${from} ${lib.escapeShellArg (spec.fileName entry)}";
    in
    pkgs.runCommandLocal "claude-${account}-${kind}" { } ''
      put_file() {
        if [ -d "$2" ]; then
          echo "programs.claude-code.accounts.${account}: $2 is a directory;" \
            "${kind} entries must be files" >&2
          exit 1
        fi
        rm -rf "$out/$3"
        install -D -m "$1" "$2" "$out/$3"
      }
      put_plugin() {
        if [ -e "$out/$2" ] || [ -L "$out/$2" ]; then
          echo "programs.claude-code.accounts.${account}: skills/$2 is both a skill and a plugin;" \
            "give them distinct names" >&2
          exit 1
        fi
        ln -s "$1" "$out/$2"
      }
      put_skill() {
        rm -rf "$out/$2"
        if [ -d "$1" ]; then
          mkdir -p "$out/$2"
          cp -RL "$1/." "$out/$2/"
          chmod -R u+w "$out/$2"
        else
          install -D -m 0644 "$1" "$out/$2/SKILL.md"
        fi
      }
      mkdir -p "$out"
      ${lib.optionalString (spec.dir != null) ''
        cp -RL ${lib.escapeShellArg "${spec.dir}"}/. "$out/"
        chmod -R u+w "$out"
      ''}
      ${lib.concatLines (lib.mapAttrsToList put spec.entries)}
      ${lib.concatLines (
        lib.mapAttrsToList (
          entry: dir:
          "put_plugin ${lib.escapeShellArg "${dir}"} ${lib.escapeShellArg entry}"
        ) (spec.plugins or { })
      )}
    '';

  # Every account resolved (lazily: `files` of a disabled account is still
  # defined), and the enabled ones.
  resolvedAll = lib.mapAttrs resolve cfg.accounts;
  resolved = lib.filterAttrs (_: r: r.account.enable) resolvedAll;

  manifestData = render.manifest {
    inherit (builtins) storeDir;
    accounts = lib.mapAttrs (
      name: r:
      render.accountEntry {
        inherit (r.account)
          configDir
          claudeJson
          seedKeys
          projectSeedKeys
          isolation
          singleInstance
          environment
          environmentFiles
          secretFiles
          oauthTokenFile
          trustedProjects
          mcpOverlay
          ;
        inherit (r)
          settings
          assets
          claude
          knownMarketplaces
          ;
        mcpServers = r.servers;
        files = lib.mapAttrs (_: file: "${file}") r.files;
        profiles = lib.mapAttrs (_: file: "${file}") r.profileFiles;
      }
    ) resolved;
    inherit (cfg) defaultAccount accountFor;
  };

  # The opt-in `claude` that picks the account by directory.
  dispatching = cfg.defaultAccount != null || cfg.accountFor != { };

  manifestFile = pkgs.writeTextFile {
    name = "claude-accounts-manifest.json";
    text = builtins.toJSON manifestData;
    checkPhase = lib.optionalString canRunHelper ''
      ${lib.escapeShellArg helperExe} check --manifest "$target"
    '';
  };

  commandArgs = {
    helper = helperExe;
    manifest = "${manifestFile}";
  };

  wrappers = lib.mapAttrsToList (
    name: r:
    pkgs.writeShellScriptBin r.account.wrapperName (
      render.wrapperBody (commandArgs // { account = name; })
    )
  ) resolved;

  forwardCommand =
    commandName: subcommand:
    pkgs.writeShellScriptBin commandName (
      render.forwardBody (commandArgs // { inherit subcommand; })
    );

  reservedCommands = [
    "claude"
    "claude-accounts"
    "claude-status"
    "claude-close"
    "claude-session"
    "claude-explain"
  ];

  # Commands that forward to a helper subcommand with the manifest.
  forwardCommands = {
    claude-status = "status";
    claude-close = "close";
    claude-session = "session";
    claude-explain = "explain";
  };

  otherForwardCommands = lib.attrNames (removeAttrs forwardCommands [ "claude-status" ]);

  # Shell completions of the forwarding commands, as the helper prints them
  # (the helper's own are installed by its package). One script per shell
  # completes claude-accounts and every forwarding command, with account,
  # session and profile names; bash and fish load completions by command
  # name, so each command gets a link to it.
  completions = pkgs.runCommandLocal "claude-accounts-completions" { } ''
    bash=$out/share/bash-completion/completions
    zsh=$out/share/zsh/site-functions
    fish=$out/share/fish/vendor_completions.d
    mkdir -p "$bash" "$zsh" "$fish"
    ${lib.escapeShellArg helperExe} completions bash > "$bash/claude-status"
    ${lib.escapeShellArg helperExe} completions zsh > "$zsh/_claude-accounts-commands"
    ${lib.escapeShellArg helperExe} completions fish > "$fish/claude-status.fish"
    for command in ${lib.escapeShellArgs otherForwardCommands}; do
      ln -s claude-status "$bash/$command"
      ln -s claude-status.fish "$fish/$command.fish"
    done
  '';

  fileEntries =
    name: r:
    lib.mapAttrs' (
      kind: dir: lib.nameValuePair "${r.account.configDir}/${kind}" { source = dir; }
    ) r.assetDirs
    // lib.optionalAttrs r.hasContext {
      "${r.account.configDir}/CLAUDE.md" =
        if isPathLike r.context then { source = r.context; } else { text = r.context; };
    };

  opt = name: "programs.claude-code.accounts.${name}";

  # Pairs of accounts sharing the value `f` returns.
  clashes =
    f:
    let
      groups = lib.groupBy (name: f name resolved.${name}) (lib.attrNames resolved);
    in
    lib.filterAttrs (_: names: lib.length names > 1) groups;

  stripSlash =
    path: if path != "/" && lib.hasSuffix "/" path then lib.removeSuffix "/" path else path;

  accountAssertions =
    name: r:
    let
      a = r.account;
      misplaced = render.misplacedClaudeJsonKeys a.claudeJson;
      perProject = render.projectClaudeJsonKeys a.claudeJson;
    in
    [
      {
        assertion = render.validAccountName name;
        message = ''${opt name}: an account name may hold only letters, digits, "-" and "_" (it names the account's directories and its command); rename the account.'';
      }
      {
        assertion = lib.hasPrefix "/" a.configDir && render.isInside homeDir a.configDir;
        message = ''${opt name}.configDir = "${a.configDir}" must be an absolute path inside ${homeDir}, e.g. "${homeDir}/.claude-${name}".'';
      }
      {
        assertion = stripSlash a.configDir != stripSlash homeDir;
        message = ''${opt name}.configDir must be a directory of its own, not the home directory; use e.g. "${homeDir}/.claude-${name}".'';
      }
      {
        assertion = !(upstreamEnabled && stripSlash a.configDir == stripSlash upstreamConfigDir);
        message = ''${opt name}.configDir is ${a.configDir}, the directory of Home Manager's programs.claude-code, which links a read-only settings.json there; give the account its own directory (remove configDir for the default "${homeDir}/.claude-${name}") or disable programs.claude-code.'';
      }
      {
        assertion = !(lib.elem a.wrapperName reservedCommands);
        message = ''${opt name}.wrapperName = "${a.wrapperName}" would shadow the command of that name${lib.optionalString (a.wrapperName == "claude") " (Claude Code's own)"}; choose another, e.g. "claude${name}".'';
      }
      {
        assertion = !(a.claudeJson ? mcpServers);
        message = ''${opt name}.claudeJson.mcpServers: declare MCP servers in ${opt name}.mcpServers instead (it adds the enabled toggle and merges shared servers).'';
      }
      {
        assertion = !(r.settings ? mcpServers);
        message = ''${opt name}.settings.mcpServers${lib.optionalString (!(a.settings ? mcpServers)) " (inherited from programs.claude-code.settings)"}: Claude Code ignores mcpServers in settings.json; move the servers to ${opt name}.mcpServers.'';
      }
      {
        assertion = misplaced == [ ];
        message = ''${opt name}.claudeJson: Claude Code reads ${lib.concatStringsSep ", " misplaced} from settings.json, not .claude.json; move ${
          if lib.length misplaced == 1 then "it" else "them"
        } to ${opt name}.settings.'';
      }
      {
        assertion = perProject == [ ];
        message = ''${opt name}.claudeJson: ${lib.concatStringsSep ", " perProject} is a per-project key of .claude.json (projects.<path>.${lib.head (perProject ++ [ "" ])}, written by Claude Code when you approve a tool), not a top-level one, so it has no effect here; allow tools for every project with ${opt name}.settings.permissions.allow instead.'';
      }
      {
        assertion = lib.all render.validAccountName (lib.attrNames r.profileFiles);
        message = ''${opt name}.profiles: a profile name may hold only letters, digits, "-" and "_"; rename ${
          lib.concatStringsSep ", " (lib.filter (p: !render.validAccountName p) (lib.attrNames r.profileFiles))
        }.'';
      }
      {
        assertion = r.pluginDirs == { } || r.pluginDirWorks;
        message = ''${opt name}: plugins and lspServers need Claude Code 2.1.76 or later, and ${opt name}.package is version ${toString r.version}; upgrade the package or remove them.'';
      }
      {
        assertion =
          !r.personalPlugins || lib.intersectLists r.skillNames (lib.attrNames r.pluginDirs) == [ ];
        message = ''${opt name}: ${
          lib.concatStringsSep ", " (lib.intersectLists r.skillNames (lib.attrNames r.pluginDirs))
        } is both a skill and a plugin (both are directories of skills/); rename one.'';
      }
      {
        assertion = !(a.environment ? CLAUDE_CONFIG_DIR || a.secretFiles ? CLAUDE_CONFIG_DIR);
        message = ''${opt name}: CLAUDE_CONFIG_DIR is chosen by ${a.wrapperName} for every session; remove it from environment/secretFiles and set configDir or isolation instead.'';
      }
    ];

  # The dispatcher's choices must name enabled accounts that run a claude
  # other than itself.
  dispatchAssertions =
    let
      known = lib.concatStringsSep ", " (lib.attrNames resolved);
      names = lib.optional (cfg.defaultAccount != null) cfg.defaultAccount ++ lib.attrValues cfg.accountFor;
    in
    lib.optional (cfg.defaultAccount != null) {
      assertion = resolved ? ${cfg.defaultAccount};
      message = ''programs.claude-code.defaultAccount = "${cfg.defaultAccount}" is not an enabled account (accounts: ${known}); name one of them or set it to null.'';
    }
    ++ lib.mapAttrsToList (dir: account: {
      assertion = resolved ? ${account};
      message = ''programs.claude-code.accountFor."${dir}" = "${account}" is not an enabled account (accounts: ${known}); name one of them.'';
    }) cfg.accountFor
    ++ lib.mapAttrsToList (dir: _: {
      assertion = lib.hasPrefix "/" dir || lib.hasPrefix "~/" dir;
      message = ''programs.claude-code.accountFor."${dir}": a directory must be absolute or start with ~/, e.g. "~/work".'';
    }) cfg.accountFor
    ++ map (name: {
      assertion = !(resolved ? ${name}) || resolved.${name}.account.package != null;
      message = ''programs.claude-code.accounts.${name}.package is null, so its launch would look claude up in PATH and find the claude command that programs.claude-code.defaultAccount/accountFor install; set the account's package.'';
    }) (lib.unique names);

  accountWarnings =
    name: r:
    let
      a = r.account;
    in
    map (m: ''
      ${opt name}.${m.key}: ${m.instead}. Otherwise every launch re-applies it and reports drift.
    '') (render.migratedKeys { inherit (r) settings; inherit (a) claudeJson; })
    ++ lib.optional (a.trustedProjects != [ ] && a.mcpOverlay == null) ''
      ${opt name}.trustedProjects has no effect while ${opt name}.mcpOverlay is null (no overlay file is read); set mcpOverlay or remove trustedProjects.
    ''
    ++ lib.optional (r.settings ? env.CLAUDE_CONFIG_DIR) ''
      ${opt name}.settings.env.CLAUDE_CONFIG_DIR cannot take effect: Claude Code reads settings.json from the config dir that ${a.wrapperName} has already chosen. Remove it; set configDir or isolation instead.
    ''
    ++ lib.optional (!upstreamEnabled && stripSlash a.configDir == stripSlash upstreamConfigDir) ''
      ${opt name}.configDir is ${a.configDir}: with CLAUDE_CONFIG_DIR set to it, Claude Code keeps its state in ${a.configDir}/.claude.json instead of ~/.claude.json (anthropics/claude-code#24479), so the account does not see the state of plain `claude` sessions. Copy ~/.claude.json there once, or use another directory.
    ''
    ++ lib.optional r.pluginsAreList ''
      ${opt name}.plugins is a list: each plugin's directory name then comes from its base name, which for a store path is unstable (e.g. `bxa1s0m3h4sh-source`). Use an attribute set, e.g. plugins.my-plugin = ./my-plugin;
    ''
    ++ lib.optional (r.usesPluginDir && r.pluginDirWorks) ''
      ${opt name}.package ${
        if r.hasVersion then "is version ${r.version}" else "has no version"
      }, so its plugins and LSP servers are passed with `--plugin-dir` by a wrapper around claude, which strict subcommands such as `claude rc` may reject. Use Claude Code 2.1.157 or later to get them as personal plugins.
    ''
    ++ lib.optional (pkgs.stdenv.hostPlatform.isDarwin && a.isolation != "account" && a.oauthTokenFile == null) ''
      ${opt name}: on macOS Claude Code keeps credentials in the Keychain under the config dir's path, so every ${a.isolation} runtime dir asks for a new login. Set ${opt name}.oauthTokenFile (a token from `claude setup-token`) or isolation = "account".
    '';
in
{
  imports = [ ./options.nix ];

  # Each account's rendered files (read-only, for other tools).
  options.programs.claude-code.accounts = lib.mkOption {
    type = lib.types.attrsOf (
      lib.types.submodule (
        { name, ... }:
        {
          config.files = resolvedAll.${name}.files;
        }
      )
    );
  };

  config = lib.mkMerge [
    {
      programs.claude-code.accountsManifest = manifestFile;
      programs.claude-code.accountsManifestData = manifestData;
    }

    (lib.mkIf (enabledAccounts != { }) {
      assertions =
        lib.concatLists (lib.mapAttrsToList accountAssertions resolved)
        ++ lib.mapAttrsToList (wrapperName: names: {
          assertion = false;
          message = ''Accounts ${lib.concatStringsSep " and " names} all use the command name "${wrapperName}"; give each a distinct programs.claude-code.accounts.<name>.wrapperName.'';
        }) (clashes (_: r: r.account.wrapperName))
        ++ dispatchAssertions
        ++ lib.mapAttrsToList (configDir: names: {
          assertion = false;
          message = ''Accounts ${lib.concatStringsSep " and " names} share the config dir ${configDir}; give each its own programs.claude-code.accounts.<name>.configDir (the default is ~/.claude-<name>).'';
        }) (clashes (_: r: stripSlash r.account.configDir));

      warnings = lib.concatLists (lib.mapAttrsToList accountWarnings resolved);

      home.packages =
        wrappers
        ++ lib.mapAttrsToList forwardCommand forwardCommands
        ++ [ helper ]
        ++ lib.optional canRunHelper completions
        # Higher priority than the package's own `claude` (Home Manager's
        # programs.claude-code installs it into the same profile).
        ++ lib.optional dispatching (
          lib.hiPrio (pkgs.writeShellScriptBin "claude" (render.dispatchBody commandArgs))
        );

      home.file = lib.mkMerge (lib.mapAttrsToList fileEntries resolved);

      # A stable path to the current manifest, for `claude-accounts` run by
      # hand (the commands above use the generation's own store path).
      xdg.configFile."claude-accounts/manifest.json".source = manifestFile;
      home.sessionVariables.CLAUDE_ACCOUNTS_MANIFEST =
        "${config.xdg.configHome}/claude-accounts/manifest.json";

      # After linkGeneration, so that the assets the helper links runtime
      # dirs to are in place. The helper is quiet unless something changed.
      home.activation.claudeAccounts = lib.hm.dag.entryAfter [ "linkGeneration" ] ''
        claudeAccountsArgs=(--manifest ${lib.escapeShellArg "${manifestFile}"})
        if [[ -v DRY_RUN ]]; then
          claudeAccountsArgs+=(--dry-run)
        fi
        if [[ -v VERBOSE ]]; then
          claudeAccountsArgs+=(--verbose)
        fi
        ${lib.escapeShellArg helperExe} activate "''${claudeAccountsArgs[@]}"
        unset claudeAccountsArgs
      '';
    })
  ];
}
