# Tests of modules/home-manager/render.nix, the module's data functions.
let
  r = import ../../modules/home-manager/render.nix;

  golden = builtins.fromJSON (builtins.readFile ../fixtures/manifest.golden.json);
  schemaSource = builtins.readFile ../../helper/src/manifest.rs;

  # The string elements of a `const NAME: &[&str] = &[ ... ];` in manifest.rs.
  rustStrings =
    name:
    let
      found = builtins.filter builtins.isList (
        builtins.split "const ${name}: &[[]&str[]] = &[[]([^;]*)[]];" schemaSource
      );
    in
    if found == [ ] then
      throw "const ${name} not found in helper/src/manifest.rs"
    else
      builtins.concatLists (
        builtins.filter builtins.isList (builtins.split "\"([^\"]+)\"" (builtins.head (builtins.head found)))
      );

  anEntry = r.accountEntry {
    configDir = "/home/alice/.claude-x";
    claude = "claude";
    settings = { };
    claudeJson = {
      editorMode = "vim";
    };
    mcpServers = {
      a = {
        command = "a";
        type = "stdio";
      };
    };
    seedKeys = [ ];
    projectSeedKeys = [ ];
    assets = [ ];
    isolation = "worktree";
    singleInstance = true;
    environment = { };
    environmentFiles = [ ];
    secretFiles = { };
    knownMarketplaces = { };
    files = {
      settings = "/nix/store/x-settings.json";
      mcpConfig = "/nix/store/x-mcp.json";
    };
    oauthTokenFile = null;
    trustedProjects = [ ];
    mcpOverlay = null;
  };
in
{
  # Settings inheritance: the account wins, objects merge, lists are replaced.
  mergeSettingsMergesObjectsKeyByKey = {
    expr = r.mergeSettings {
      theme = "dark";
      permissions = {
        allow = [ "Read" ];
        deny = [ "WebFetch" ];
      };
    } { permissions.allow = [ "Edit" ]; };
    expected = {
      theme = "dark";
      permissions = {
        allow = [ "Edit" ];
        deny = [ "WebFetch" ];
      };
    };
  };
  mergeSettingsAccountScalarReplacesSharedObject = {
    expr = r.mergeSettings { statusLine.type = "command"; } { statusLine = null; };
    expected = {
      statusLine = null;
    };
  };
  mergeSettingsAccountObjectReplacesSharedScalar = {
    expr = r.mergeSettings { model = "sonnet"; } { model.name = "opus"; };
    expected = {
      model.name = "opus";
    };
  };
  mergeSettingsRecursesSeveralLevels = {
    expr = r.mergeSettings { a.b.c = 1; a.b.d = 2; } { a.b.c = 3; a.e = 4; };
    expected = {
      a = {
        b = {
          c = 3;
          d = 2;
        };
        e = 4;
      };
    };
  };
  mergeSettingsKeepsEmptyDeclarations = {
    expr = r.mergeSettings { } { permissions = { }; };
    expected = {
      permissions = { };
    };
  };

  # MCP server toggles and rendering.
  serverEnabledToggles = {
    expr = map r.serverEnabled [
      { }
      { enabled = true; }
      { enabled = null; }
      { enabled = false; }
      { disabled = true; }
      { disabled = false; }
    ];
    expected = [
      true
      true
      true
      false
      false
      true
    ];
  };
  renderServerAddsStdioType = {
    expr = r.renderServer {
      command = "uvx";
      args = [ "x" ];
      enabled = true;
    };
    expected = {
      command = "uvx";
      args = [ "x" ];
      type = "stdio";
    };
  };
  renderServerAddsHttpTypeForUrl = {
    expr = r.renderServer { url = "https://example.com/mcp"; };
    expected = {
      url = "https://example.com/mcp";
      type = "http";
    };
  };
  renderServerKeepsDeclaredType = {
    expr = r.renderServer {
      type = "sse";
      url = "https://example.com/sse";
      disabled = false;
    };
    expected = {
      type = "sse";
      url = "https://example.com/sse";
    };
  };
  renderServerNullUrlIsStdio = {
    expr = (r.renderServer {
      command = "x";
      url = null;
    }).type;
    expected = "stdio";
  };
  renderServersOmitsDisabled = {
    expr = r.renderServers {
      on.command = "on";
      off = {
        command = "off";
        enabled = false;
      };
      gone = {
        url = "https://x";
        disabled = true;
      };
    };
    expected = {
      on = {
        command = "on";
        type = "stdio";
      };
    };
  };

  # Assets.
  assetNamesInManifestOrder = {
    expr = r.assetNames {
      skills = true;
      "CLAUDE.md" = true;
      commands = true;
      hooks = false;
    };
    expected = [
      "CLAUDE.md"
      "commands"
      "skills"
    ];
  };
  assetOrderIsTheHelpersAssetNames = {
    expr = r.assetOrder;
    expected = rustStrings "ASSET_NAMES";
  };
  settingsOnlyKeysAreTheHelpers = {
    expr = r.settingsOnlyKeys;
    expected = rustStrings "SETTINGS_ONLY_KEYS";
  };
  projectOnlyKeysAreTheHelpers = {
    expr = r.projectOnlyKeys;
    expected = rustStrings "PROJECT_ONLY_KEYS";
  };
  projectClaudeJsonKeysFindsAllowedTools = {
    expr = r.projectClaudeJsonKeys {
      allowedTools = [ "Edit" ];
      editorMode = "vim";
    };
    expected = [ "allowedTools" ];
  };

  # Keys Claude Code 2.1.x migrates away are named, with what to declare.
  migratedKeysNamesOpusAndAutoUpdates = {
    expr = map (m: m.key) (
      r.migratedKeys {
        settings.model = "opus";
        claudeJson.autoUpdates = false;
      }
    );
    expected = [
      "settings.model = \"opus\""
      "claudeJson.autoUpdates"
    ];
  };
  migratedKeysSaysWhatToDeclare = {
    expr =
      builtins.match ".*settings.env.DISABLE_AUTOUPDATER = \"1\".*"
        (builtins.head (r.migratedKeys {
          settings = { };
          claudeJson.autoUpdates = false;
        })).instead
      != null;
    expected = true;
  };
  migratedKeysLeavesOtherValuesAlone = {
    expr = r.migratedKeys {
      settings.model = "sonnet";
      claudeJson.autoUpdates = true;
    };
    expected = [ ];
  };

  # The manifest entry always has every field of the schema.
  accountEntryHasEveryGoldenField = {
    expr = builtins.attrNames anEntry;
    expected = builtins.attrNames golden.accounts.max;
  };
  accountEntryPutsServersIntoClaudeJson = {
    expr = anEntry.claudeJson;
    expected = {
      editorMode = "vim";
      mcpServers.a = {
        command = "a";
        type = "stdio";
      };
    };
  };
  manifestHasGoldenTopLevelFields = {
    expr = builtins.attrNames (
      r.manifest {
        storeDir = "/nix/store";
        accounts = { };
      }
    );
    expected = builtins.attrNames golden;
  };
  manifestVersionIsTheHelpers = {
    expr =
      (r.manifest {
        storeDir = "/nix/store";
        accounts = { };
      }).version;
    expected = golden.version;
  };

  # Shell text of the generated commands.
  shellQuoteLeavesSafeWordsBare = {
    expr = r.shellQuote "/nix/store/abc-claude-accounts/bin/claude-accounts";
    expected = "/nix/store/abc-claude-accounts/bin/claude-accounts";
  };
  shellQuoteQuotesSpacesAndQuotes = {
    expr = r.shellQuote "it's a b";
    expected = "'it'\\''s a b'";
  };
  wrapperBodyIsOneExecLine = {
    expr = r.wrapperBody {
      helper = "/s/h/bin/claude-accounts";
      manifest = "/s/m.json";
      account = "max";
    };
    expected = ''
      exec /s/h/bin/claude-accounts launch --manifest /s/m.json --account max -- "$@"
    '';
  };
  forwardBodyPassesArguments = {
    expr = r.forwardBody {
      helper = "/s/h/bin/claude-accounts";
      manifest = "/s/m.json";
      subcommand = "status";
    };
    expected = ''
      exec /s/h/bin/claude-accounts status --manifest /s/m.json "$@"
    '';
  };

  dispatchBodyPassesArgumentsAfterDashDash = {
    expr = r.dispatchBody {
      helper = "/s/h/bin/claude-accounts";
      manifest = "/s/m.json";
    };
    expected = ''
      exec /s/h/bin/claude-accounts dispatch --manifest /s/m.json -- "$@"
    '';
  };
  manifestCarriesTheDispatcherChoices = {
    expr =
      let
        m = r.manifest {
          storeDir = "/nix/store";
          accounts = { };
          defaultAccount = "max";
          accountFor."~/work" = "work";
        };
      in
      {
        inherit (m) defaultAccount accountFor;
      };
    expected = {
      defaultAccount = "max";
      accountFor."~/work" = "work";
    };
  };

  # Validation helpers.
  validAccountNames = {
    expr = map r.validAccountName [
      "max"
      "work-2"
      "a_b"
      ""
      "a b"
      "a/b"
      "é"
    ];
    expected = [
      true
      true
      true
      false
      false
      false
      false
    ];
  };
  isInsideHome = {
    expr = map (r.isInside "/home/alice") [
      "/home/alice/.claude-max"
      "/home/alice"
      "/home/alice/"
      "/home/alicex/.claude"
      "/etc/claude"
    ];
    expected = [
      true
      true
      true
      false
      false
    ];
  };
  misplacedClaudeJsonKeysFindsSettingsKeys = {
    expr = r.misplacedClaudeJsonKeys {
      editorMode = "vim";
      permissions = { };
      model = "sonnet";
      allowedTools = [ ];
    };
    expected = [
      "model"
      "permissions"
    ];
  };

  # Store path normalisation for the golden comparison.
  normalizeStorePathsZeroesHashes = {
    expr = r.normalizeStorePaths "/nix/store" "a /nix/store/p75p80jvh26as1w12pplz2s9913i0brx-claude/bin/claude and /nix/store/5lrwisphgfbvy715sgcz25y0672mv18y-x.json";
    expected = "a /nix/store/00000000000000000000000000000000-claude/bin/claude and /nix/store/00000000000000000000000000000000-x.json";
  };
  normalizeStorePathsLeavesOtherPaths = {
    expr = r.normalizeStorePaths "/nix/store" "/nix/store/short-x /home/alice/.claude-max /nix/storex/p75p80jvh26as1w12pplz2s9913i0brx-y";
    expected = "/nix/store/short-x /home/alice/.claude-max /nix/storex/p75p80jvh26as1w12pplz2s9913i0brx-y";
  };
}
