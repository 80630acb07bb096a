# The module's data functions: how declared options become manifest values.
#
# Written with builtins only (no nixpkgs `lib`), so that `tests/pure/` can
# evaluate them with a bare `nix-instantiate --eval`. Every function is total
# on the values the option types admit and has no side effects.
let
  inherit (builtins)
    attrNames
    concatStringsSep
    elem
    filter
    isAttrs
    isList
    isString
    mapAttrs
    match
    removeAttrs
    replaceStrings
    split
    stringLength
    substring
    ;
in
rec {
  # The entries of a config dir that Nix may own, in the order the manifest
  # lists them (the helper's `ASSET_NAMES`).
  assetOrder = [
    "CLAUDE.md"
    "agents"
    "commands"
    "hooks"
    "output-styles"
    "rules"
    "skills"
  ];

  # Keys Claude Code reads from settings.json only; a `.claude.json`
  # declaration of them has no effect (the helper rejects them too).
  settingsOnlyKeys = [
    "permissions"
    "env"
    "hooks"
    "statusLine"
    "model"
    "outputStyle"
    "apiKeyHelper"
    "enabledPlugins"
  ];

  # Keys that Claude Code reads only from a project's entry of `.claude.json`
  # (`projects.<path>.<key>`); at the top level they have no effect (the
  # helper rejects them too).
  projectOnlyKeys = [ "allowedTools" ];

  # Merges two JSON objects recursively, `over` winning: objects merge key by
  # key, every other value (lists included) is replaced whole. This is how an
  # account's settings override the shared `programs.claude-code.settings`.
  mergeSettings =
    base: over:
    base
    // mapAttrs (
      name: value:
      if isAttrs value && isAttrs (base.${name} or null) then
        mergeSettings base.${name} value
      else
        value
    ) over;

  # Whether an MCP server declaration is enabled: `enabled = false` (this
  # module, Home Manager's `programs.mcp`) or `disabled = true`
  # (`programs.mcp`) turn it off; `enabled = null` means enabled.
  serverEnabled = server: (server.enabled or null) != false && (server.disabled or null) != true;

  # One MCP server as Claude Code reads it from `.claude.json`: the toggles
  # stripped, and `type` added when absent ("http" with a url, else "stdio"),
  # as Home Manager's `lib.hm.mcp.addType` does.
  renderServer =
    server:
    let
      clean = removeAttrs server [
        "enabled"
        "disabled"
      ];
    in
    if (clean.type or null) != null then
      clean
    else
      clean // { type = if (clean.url or null) != null then "http" else "stdio"; };

  # The enabled servers of a set, rendered; disabled servers are omitted.
  renderServers =
    servers:
    mapAttrs (_: renderServer) (
      removeAttrs servers (filter (name: !(serverEnabled servers.${name})) (attrNames servers))
    );

  # The asset names present, in manifest order. `present` maps an asset name
  # to whether the account links it.
  assetNames = present: filter (name: present.${name} or false) assetOrder;

  # One account's manifest entry. Every field is always present: the schema
  # (`helper/src/manifest.rs`) has no defaults and rejects unknown fields.
  accountEntry =
    {
      configDir,
      claude,
      settings,
      claudeJson,
      mcpServers,
      seedKeys,
      projectSeedKeys,
      assets,
      isolation,
      singleInstance,
      environment,
      environmentFiles,
      secretFiles,
      oauthTokenFile,
      trustedProjects,
      mcpOverlay,
      knownMarketplaces,
      files,
      profiles ? { },
    }:
    {
      inherit
        configDir
        claude
        settings
        seedKeys
        projectSeedKeys
        assets
        isolation
        singleInstance
        environment
        environmentFiles
        secretFiles
        oauthTokenFile
        trustedProjects
        mcpOverlay
        knownMarketplaces
        files
        profiles
        ;
      claudeJson = claudeJson // {
        mcpServers = mcpServers;
      };
    };

  # The whole manifest document (version 1 of the schema).
  manifest =
    {
      storeDir,
      accounts,
      defaultAccount ? null,
      accountFor ? { },
    }:
    {
      version = 1;
      inherit
        storeDir
        accounts
        defaultAccount
        accountFor
        ;
    };

  # Quotes a string for a POSIX shell, leaving it bare when it holds only
  # characters no shell treats specially (as nixpkgs' `lib.escapeShellArg`).
  shellQuote =
    s:
    if match "[[:alnum:],._+:@%/-]+" s != null then
      s
    else
      "'" + replaceStrings [ "'" ] [ "'\\''" ] s + "'";

  # The body of `claude<name>`: one `exec` into the helper, the user's
  # arguments passed through untouched after `--`.
  wrapperBody =
    {
      helper,
      manifest,
      account,
    }:
    ''
      exec ${shellQuote helper} launch --manifest ${shellQuote manifest} --account ${shellQuote account} -- "$@"
    '';

  # The body of a command that forwards to a helper subcommand with the
  # manifest (`claude-status`, `claude-close`).
  forwardBody =
    {
      helper,
      manifest,
      subcommand,
    }:
    ''
      exec ${shellQuote helper} ${shellQuote subcommand} --manifest ${shellQuote manifest} "$@"
    '';

  # The body of the opt-in `claude`: one `exec` into the helper's dispatcher,
  # which picks the account; the user's arguments follow `--` untouched.
  dispatchBody =
    { helper, manifest }:
    ''
      exec ${shellQuote helper} dispatch --manifest ${shellQuote manifest} -- "$@"
    '';

  # Whether a string is a valid account name: it names directories and the
  # `claude<name>` command.
  validAccountName = name: match "[A-Za-z0-9_-]+" name != null;

  # Whether `path` is `dir` or inside it (lexically; both absolute, no `..`).
  isInside =
    dir: path:
    let
      d = if substring (stringLength dir - 1) 1 dir == "/" then dir else dir + "/";
    in
    path + "/" == d || substring 0 (stringLength d) path == d;

  # Replaces the hash of every store path in `text` by 32 zeros, so that a
  # rendered manifest can be compared with a fixture across nixpkgs revisions.
  normalizeStorePaths =
    storeDir: text:
    concatStringsSep "" (
      map (piece: if isList piece then "${storeDir}/00000000000000000000000000000000-" else piece) (
        split "${replaceStrings [ "." "+" ] [ "\\." "\\+" ] storeDir}/[0-9a-df-np-sv-z]{32}-" text
      )
    );

  # Keys of `claudeJson` that cannot take effect there (they belong in
  # settings.json).
  misplacedClaudeJsonKeys =
    claudeJson: filter (key: elem key settingsOnlyKeys) (attrNames claudeJson);

  # Keys of `claudeJson` that Claude Code reads per project only.
  projectClaudeJsonKeys = claudeJson: filter (key: elem key projectOnlyKeys) (attrNames claudeJson);

  # Declared keys that Claude Code 2.1.x migrates away at every start, so
  # that every launch would re-apply them and report drift: a list of
  # `{ key; instead; }`, `key` the option path below the account and
  # `instead` what to declare.
  migratedKeys =
    { settings, claudeJson }:
    (
      if (settings.model or null) == "opus" then
        [
          {
            key = "settings.model = \"opus\"";
            instead = "Claude Code rewrites the alias \"opus\" in settings.json at start (to \"opus[1m]\" where the 1M context is offered, or drops it when the organisation's default model changes); declare environment.ANTHROPIC_MODEL = \"opus\" (Claude Code never rewrites the environment), put the model in a profile, or declare a full model name";
          }
        ]
      else
        [ ]
    )
    ++ (
      if (claudeJson.autoUpdates or null) == false then
        [
          {
            key = "claudeJson.autoUpdates";
            instead = "Claude Code removes autoUpdates = false from .claude.json at the first start in each config dir (every new runtime dir) and sets env.DISABLE_AUTOUPDATER = \"1\" in settings.json instead; declare settings.env.DISABLE_AUTOUPDATER = \"1\" instead";
          }
        ]
      else
        [ ]
    );

  # True for a non-empty string.
  nonEmpty = s: isString s && s != "";
}
