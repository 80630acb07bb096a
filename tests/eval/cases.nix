# Module evaluation cases: each is `{ expected; actual; }`, plain data that the
# flake check compares (tests/eval/default.nix shows a diff when they differ).
#
# `evalHome modules` evaluates a Home Manager configuration for alice
# (/home/alice) with this project's module and Home Manager's own
# claude-code module imported, and returns its `config`. The cases only use
# `pkgs` for stand-in packages, so they also run under ../hm-offline.
{ evalHome, pkgs }:
let
  # A stand-in for claude-code (unfree, and not needed to evaluate): a
  # version in the name keeps Home Manager's module off its legacy path.
  claude = pkgs.writeTextFile {
    name = "claude-code-2.1.240";
    destination = "/bin/claude";
    executable = true;
    text = "#!/bin/sh\nexit 0\n";
  };

  manifestOf = config: config.programs.claude-code.accountsManifestData;
  accountsOf = modules: (manifestOf (evalHome modules)).accounts;

  failedAssertions =
    config: map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  # This module's warnings, the macOS Keychain one aside (see
  # warningMacosKeychain): the other cases hold on every platform.
  isOurs = w: builtins.match "(.|\n)*programs\\.claude-code\\.accounts(.|\n)*" w != null;
  isKeychain = w: builtins.match "(.|\n)*on macOS Claude Code keeps credentials(.|\n)*" w != null;
  ourWarnings = config: builtins.filter (w: isOurs w && !isKeychain w) config.warnings;

  fileTargets =
    config:
    builtins.filter (t: builtins.match "/home/alice/\\.claude.*" t != null) (
      map (f: "/home/alice/${f.target}") (builtins.attrValues config.home.file)
    );

  # Home Manager's programs.claude-code, enabled with shared values.
  sharedUpstream = {
    programs.claude-code = {
      enable = true;
      package = claude;
      settings = {
        theme = "dark";
        includeCoAuthoredBy = false;
        permissions = {
          allow = [ "Bash(git status)" ];
          deny = [ "Read(./.env)" ];
        };
      };
      mcpServers = {
        shared = {
          command = "shared-server";
        };
        replaced = {
          command = "from-shared";
        };
        off = {
          command = "off";
          enabled = false;
        };
      };
      commands = {
        review = "shared review";
        deploy = "shared deploy";
      };
      rules.style = "shared style";
      context = "shared memory";
    };
  };

  inheritingAccounts = {
    programs.claude-code.accounts = {
      inherits = {
        package = claude;
        settings = {
          model = "sonnet";
          permissions.allow = [ "Edit" ];
        };
        mcpServers.replaced = {
          type = "http";
          url = "https://example.com/mcp";
        };
        mcpServers.own.command = "own-server";
        commands.deploy = "own deploy";
      };
      standalone = {
        package = claude;
        inheritShared = false;
        settings.model = "haiku";
        mcpServers.own.command = "own-server";
      };
    };
  };

  inheriting = evalHome [
    sharedUpstream
    inheritingAccounts
  ];
  inheritingOff = evalHome [
    { programs.claude-code = sharedUpstream.programs.claude-code // { enable = false; }; }
    inheritingAccounts
  ];

  # programs.mcp servers reach an account through Home Manager's
  # programs.claude-code.enableMcpIntegration.
  mcpIntegration = evalHome [
    {
      programs.mcp = {
        enable = true;
        servers = {
          everything = {
            command = "npx";
            args = [ "-y" "@modelcontextprotocol/server-everything" ];
          };
          remote.url = "https://mcp.example.com/mcp";
          # A file-backed secret: read by a wrapper at start, never in the store.
          secret = {
            command = "secret-server";
            args = [ "--stdio" ];
            env = {
              LEVEL = "debug";
              TOKEN.file = "/run/secrets/token";
            };
          };
          disabled = {
            command = "nope";
            enabled = false;
          };
        };
      };
      programs.claude-code = {
        enable = true;
        package = claude;
        enableMcpIntegration = true;
      };
      programs.claude-code.accounts = {
        max.package = claude;
        # Switched off per account.
        off = {
          package = claude;
          enableMcpIntegration = false;
        };
        # Switched on without inheriting anything else.
        standalone = {
          package = claude;
          inheritShared = false;
          enableMcpIntegration = true;
        };
      };
    }
  ];

  # Plugins, marketplaces and LSP servers, shared and per account.
  aPlugin = pkgs.writeTextFile {
    name = "a-plugin";
    destination = "/commands/a.md";
    text = "A.";
  };
  aMarketplace = pkgs.writeTextFile {
    name = "a-marketplace";
    destination = "/.claude-plugin/marketplace.json";
    text = "{}";
  };
  withExtras =
    package: account:
    evalHome [
      {
        programs.claude-code = {
          enable = true;
          package = claude;
          plugins = {
            shared = aPlugin;
            replaced = aPlugin;
          };
          marketplaces.shared-market = aMarketplace;
          lspServers = {
            go.command = "gopls";
            rust.command = "rust-analyzer";
          };
          accounts.max = {
            inherit package;
          }
          // account;
          accounts.standalone = {
            inherit package;
            inheritShared = false;
          };
        };
      }
    ];
  extras = withExtras claude {
    plugins.replaced = aPlugin;
    plugins.own = aPlugin;
    marketplaces.own-market = aMarketplace;
    lspServers.go.command = "own-gopls";
  };
  claudeAt =
    version:
    pkgs.writeTextFile {
      name = "claude-code-${version}";
      destination = "/bin/claude";
      executable = true;
      text = "#!/bin/sh\nexit 0\n";
    };

  # The opt-in `claude` that picks the account, and profiles.
  dispatching = evalHome [
    {
      programs.claude-code = {
        enable = true;
        package = claude;
        defaultAccount = "max";
        accountFor."~/work" = "work";
        profiles = {
          fast.model = "haiku";
          review.model = "sonnet";
        };
        accounts = {
          max = {
            package = claude;
            profiles.review.permissions.deny = [ "Edit" ];
          };
          work = {
            package = claude;
            inheritShared = false;
            profiles.solo.model = "sonnet";
          };
        };
      };
    }
  ];
  secretServer = (manifestOf mcpIntegration).accounts.max.claudeJson.mcpServers.secret;
  packagesNamed = name: config: builtins.filter (p: (p.name or "") == name) config.home.packages;

  # Configurations that must fail, and the messages they must fail with.
  bad = modules: failedAssertions (evalHome modules);
in
{
  inheritanceMergesSettingsRecursivelyAccountWins = {
    actual = (manifestOf inheriting).accounts.inherits.settings;
    expected = {
      theme = "dark";
      includeCoAuthoredBy = false;
      model = "sonnet";
      permissions = {
        allow = [ "Edit" ];
        deny = [ "Read(./.env)" ];
      };
    };
  };
  inheritanceMergesServersByNameAndDropsDisabled = {
    actual = (manifestOf inheriting).accounts.inherits.claudeJson;
    expected = {
      mcpServers = {
        shared = {
          command = "shared-server";
          type = "stdio";
        };
        replaced = {
          type = "http";
          url = "https://example.com/mcp";
        };
        own = {
          command = "own-server";
          type = "stdio";
        };
      };
    };
  };
  inheritanceLinksSharedAssets = {
    actual = (manifestOf inheriting).accounts.inherits.assets;
    expected = [
      "CLAUDE.md"
      "commands"
      "rules"
    ];
  };
  inheritanceSharedContextBecomesAccountClaudeMd = {
    actual = inheriting.home.file."/home/alice/.claude-inherits/CLAUDE.md".text;
    expected = "shared memory";
  };
  inheritanceSwitchedOffPerAccount = {
    actual = {
      inherit ((manifestOf inheriting).accounts.standalone) settings claudeJson assets;
    };
    expected = {
      settings.model = "haiku";
      claudeJson.mcpServers.own = {
        command = "own-server";
        type = "stdio";
      };
      assets = [ ];
    };
  };
  inheritanceNeedsTheUpstreamModuleEnabled = {
    actual = {
      inherit ((manifestOf inheritingOff).accounts.inherits) settings assets;
      servers = builtins.attrNames (
        (manifestOf inheritingOff).accounts.inherits.claudeJson.mcpServers
      );
    };
    expected = {
      settings = {
        model = "sonnet";
        permissions.allow = [ "Edit" ];
      };
      assets = [ "commands" ];
      servers = [
        "own"
        "replaced"
      ];
    };
  };
  inheritanceTakesProgramsMcpServers = {
    actual = (manifestOf mcpIntegration).accounts.max.claudeJson.mcpServers;
    expected = {
      everything = {
        command = "npx";
        args = [
          "-y"
          "@modelcontextprotocol/server-everything"
        ];
        type = "stdio";
      };
      remote = {
        url = "https://mcp.example.com/mcp";
        type = "http";
      };
      # The wrapper reads TOKEN from its file at start; args go to it (empty
      # ones are dropped as Home Manager's transform drops them).
      secret = {
        inherit (secretServer) command;
        env.LEVEL = "debug";
        type = "stdio";
      };
    };
  };
  mcpIntegrationReadsFileSecretsInAWrapper = {
    actual = {
      wrapper = builtins.match ".*-mcp-secret-wrapper" "${secretServer.command}" != null;
      secretNotInTheManifest =
        !(pkgs.lib.hasInfix "/run/secrets/token" (builtins.toJSON (manifestOf mcpIntegration)));
    };
    expected = {
      wrapper = true;
      secretNotInTheManifest = true;
    };
  };
  mcpIntegrationFollowsTheSharedSwitchUnlessSetPerAccount = {
    actual = builtins.mapAttrs (_: a: builtins.attrNames a.claudeJson.mcpServers) (
      manifestOf mcpIntegration
    ).accounts;
    expected = {
      max = [
        "everything"
        "remote"
        "secret"
      ];
      off = [ ];
      standalone = [
        "everything"
        "remote"
        "secret"
      ];
    };
  };
  extrasInheritedByNameAccountWins = {
    actual =
      let
        a = extras.programs.claude-code.accounts.max;
        m = (manifestOf extras).accounts;
      in
      {
        marketplaces = builtins.attrNames m.max.knownMarketplaces;
        declared = builtins.attrNames m.max.settings.extraKnownMarketplaces;
        marketplaceEntry = m.max.knownMarketplaces.own-market;
        assets = m.max.assets;
        standalone = {
          inherit (m.standalone) assets knownMarketplaces;
          declared = m.standalone.settings ? extraKnownMarketplaces;
        };
        # The account's own options, before inheritance, are unchanged.
        ownPlugins = builtins.attrNames a.plugins;
      };
    expected = {
      marketplaces = [
        "own-market"
        "shared-market"
      ];
      declared = [
        "own-market"
        "shared-market"
      ];
      marketplaceEntry = {
        source = {
          source = "directory";
          path = "${aMarketplace}";
        };
        installLocation = "${aMarketplace}";
        lastUpdated = "1970-01-01T00:00:00Z";
      };
      assets = [ "skills" ];
      standalone = {
        assets = [ ];
        knownMarketplaces = { };
        declared = false;
      };
      ownPlugins = [
        "own"
        "replaced"
      ];
    };
  };
  filesAreExposedAndReferencedByTheManifest = {
    actual =
      let
        a = extras.programs.claude-code.accounts.max;
      in
      {
        files = (manifestOf extras).accounts.max.files;
        names = map (f: builtins.substring 33 100 (baseNameOf f)) [
          a.files.settings
          a.files.mcpConfig
        ];
      };
    expected = {
      files = {
        settings = "${extras.programs.claude-code.accounts.max.files.settings}";
        mcpConfig = "${extras.programs.claude-code.accounts.max.files.mcpConfig}";
      };
      names = [
        "claude-max-settings.json"
        "claude-max-mcp.json"
      ];
    };
  };
  personalPluginsFrom2_1_157 = {
    actual = (manifestOf (withExtras (claudeAt "2.1.157") { })).accounts.max.claude;
    expected = "${claudeAt "2.1.157"}/bin/claude";
  };
  pluginDirWrapperBefore2_1_157 =
    let
      config = withExtras (claudeAt "2.1.100") { };
      claudePath = (manifestOf config).accounts.max.claude;
    in
    {
      actual = {
        wrapped = claudePath != "${claudeAt "2.1.100"}/bin/claude" && pkgs.lib.hasSuffix "/bin/claude" claudePath;
        # Skills are not used for plugins then.
        assets = (manifestOf config).accounts.max.assets;
        warnings = ourWarnings config;
      };
      expected = {
        wrapped = true;
        assets = [ ];
        warnings = [
          ''
            programs.claude-code.accounts.max.package is version 2.1.100, so its plugins and LSP servers are passed with `--plugin-dir` by a wrapper around claude, which strict subcommands such as `claude rc` may reject. Use Claude Code 2.1.157 or later to get them as personal plugins.
          ''
        ];
      };
    };
  dispatcherChoicesAreInTheManifest = {
    actual = {
      inherit (manifestOf dispatching) defaultAccount accountFor;
      plain = {
        inherit (manifestOf inheriting) defaultAccount accountFor;
      };
    };
    expected = {
      defaultAccount = "max";
      accountFor."~/work" = "work";
      plain = {
        defaultAccount = null;
        accountFor = { };
      };
    };
  };
  dispatcherClaudeWinsOverThePackagesClaude = {
    # Home Manager's programs.claude-code installs the package (named
    # claude-code-*); the dispatcher `claude` has the higher priority.
    actual = {
      dispatcher = map (p: p.meta.priority or null) (packagesNamed "claude" dispatching);
      plain = packagesNamed "claude" inheriting;
    };
    expected = {
      dispatcher = [ (-10) ];
      plain = [ ];
    };
  };
  profilesInheritedByNameAccountWinsWhole = {
    actual = builtins.mapAttrs (
      _: a: builtins.mapAttrs (_: f: builtins.substring 33 100 (baseNameOf f)) a.profiles
    ) (manifestOf dispatching).accounts;
    expected = {
      max = {
        fast = "claude-max-profile-fast.json";
        review = "claude-max-profile-review.json";
      };
      work.solo = "claude-work-profile-solo.json";
    };
  };
  forwardingCommandsAreInstalled = {
    actual = builtins.sort builtins.lessThan (
      builtins.filter (n: builtins.match "claude-(status|close|session|explain)" n != null) (
        map (p: p.name or "") inheriting.home.packages
      )
    );
    expected = [
      "claude-close"
      "claude-explain"
      "claude-session"
      "claude-status"
    ];
  };
  assertionDispatcherChoices = {
    actual = bad [
      {
        programs.claude-code = {
          defaultAccount = "nobody";
          accountFor = {
            "work" = "max";
            "/srv" = "ghost";
          };
          accounts.max.package = null;
          accounts.pro = {
            package = claude;
            profiles."two words".model = "haiku";
          };
        };
      }
    ];
    expected = [
      "programs.claude-code.accounts.pro.profiles: a profile name may hold only letters, digits, \"-\" and \"_\"; rename two words."
      ''programs.claude-code.defaultAccount = "nobody" is not an enabled account (accounts: max, pro); name one of them or set it to null.''
      ''programs.claude-code.accountFor."/srv" = "ghost" is not an enabled account (accounts: max, pro); name one of them.''
      ''programs.claude-code.accountFor."work": a directory must be absolute or start with ~/, e.g. "~/work".''
      "programs.claude-code.accounts.max.package is null, so its launch would look claude up in PATH and find the claude command that programs.claude-code.defaultAccount/accountFor install; set the account's package."
    ];
  };
  packageDefaultsToTheUpstreamPackage = {
    actual = (manifestOf mcpIntegration).accounts.max.claude;
    expected = "${claude}/bin/claude";
  };

  # Only account assets are home.file entries; settings.json and
  # .claude.json never are (Claude Code must be able to write them).
  homeFilesAreAssetsOnly = {
    actual = builtins.sort builtins.lessThan (fileTargets inheriting);
    expected = [
      # Home Manager's own module links these into ~/.claude.
      "/home/alice/.claude-inherits/CLAUDE.md"
      "/home/alice/.claude-inherits/commands"
      "/home/alice/.claude-inherits/rules"
      "/home/alice/.claude/CLAUDE.md"
      "/home/alice/.claude/commands/deploy.md"
      "/home/alice/.claude/commands/review.md"
      "/home/alice/.claude/rules/style.md"
      "/home/alice/.claude/settings.json"
      "/home/alice/.claude/skills/claude-code-home-manager"
    ];
  };

  activationRunsAfterLinkGeneration = {
    actual = {
      inherit (inheriting.home.activation.claudeAccounts) after before;
    };
    expected = {
      after = [ "linkGeneration" ];
      before = [ ];
    };
  };

  noAccountsNoActivationNoCommands = {
    actual =
      let
        config = evalHome [ { programs.claude-code.accounts.off.enable = false; } ];
      in
      {
        activation = config.home.activation ? claudeAccounts;
        accounts = (manifestOf config).accounts;
      };
    expected = {
      activation = false;
      accounts = { };
    };
  };

  assertionWrapperNamedClaude = {
    actual = bad [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          wrapperName = "claude";
        };
      }
    ];
    expected = [
      ''programs.claude-code.accounts.max.wrapperName = "claude" would shadow the command of that name (Claude Code's own); choose another, e.g. "claudemax".''
    ];
  };
  assertionDuplicateWrapperNames = {
    actual = bad [
      {
        programs.claude-code.accounts = {
          a = {
            package = claude;
            wrapperName = "claudework";
          };
          b = {
            package = claude;
            wrapperName = "claudework";
          };
        };
      }
    ];
    expected = [
      ''Accounts a and b all use the command name "claudework"; give each a distinct programs.claude-code.accounts.<name>.wrapperName.''
    ];
  };
  assertionSharedConfigDir = {
    actual = bad [
      {
        programs.claude-code.accounts = {
          a = {
            package = claude;
            configDir = "/home/alice/.claude-shared";
          };
          b = {
            package = claude;
            configDir = "/home/alice/.claude-shared/";
          };
        };
      }
    ];
    expected = [
      "Accounts a and b share the config dir /home/alice/.claude-shared; give each its own programs.claude-code.accounts.<name>.configDir (the default is ~/.claude-<name>)."
    ];
  };
  assertionUpstreamConfigDir = {
    actual = bad [
      {
        programs.claude-code = {
          enable = true;
          package = claude;
          accounts.max = {
            package = claude;
            configDir = "/home/alice/.claude";
          };
        };
      }
    ];
    expected = [
      ''programs.claude-code.accounts.max.configDir is /home/alice/.claude, the directory of Home Manager's programs.claude-code, which links a read-only settings.json there; give the account its own directory (remove configDir for the default "/home/alice/.claude-max") or disable programs.claude-code.''
    ];
  };
  assertionConfigDirOutsideHome = {
    actual = bad [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          configDir = "/var/lib/claude";
        };
      }
    ];
    expected = [
      ''programs.claude-code.accounts.max.configDir = "/var/lib/claude" must be an absolute path inside /home/alice, e.g. "/home/alice/.claude-max".''
    ];
  };
  assertionMisplacedKeys = {
    actual = bad [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          settings.mcpServers.x.command = "x";
          claudeJson = {
            permissions = { };
            mcpServers = { };
            allowedTools = [ "Edit" ];
          };
          environment.CLAUDE_CONFIG_DIR = "/tmp/x";
        };
      }
    ];
    expected = [
      "programs.claude-code.accounts.max.claudeJson.mcpServers: declare MCP servers in programs.claude-code.accounts.max.mcpServers instead (it adds the enabled toggle and merges shared servers)."
      "programs.claude-code.accounts.max.settings.mcpServers: Claude Code ignores mcpServers in settings.json; move the servers to programs.claude-code.accounts.max.mcpServers."
      "programs.claude-code.accounts.max.claudeJson: Claude Code reads permissions from settings.json, not .claude.json; move it to programs.claude-code.accounts.max.settings."
      "programs.claude-code.accounts.max.claudeJson: allowedTools is a per-project key of .claude.json (projects.<path>.allowedTools, written by Claude Code when you approve a tool), not a top-level one, so it has no effect here; allow tools for every project with programs.claude-code.accounts.max.settings.permissions.allow instead."
      "programs.claude-code.accounts.max: CLAUDE_CONFIG_DIR is chosen by claudemax for every session; remove it from environment/secretFiles and set configDir or isolation instead."
    ];
  };
  assertionInheritedSettingsMcpServers = {
    actual = bad [
      {
        programs.claude-code = {
          enable = true;
          package = claude;
          settings.mcpServers.x.command = "x";
          accounts.max.package = claude;
        };
      }
    ];
    expected = [
      "programs.claude-code.accounts.max.settings.mcpServers (inherited from programs.claude-code.settings): Claude Code ignores mcpServers in settings.json; move the servers to programs.claude-code.accounts.max.mcpServers."
    ];
  };
  assertionAccountName = {
    actual = bad [ { programs.claude-code.accounts."my account".package = claude; } ];
    expected = [
      ''programs.claude-code.accounts.my account: an account name may hold only letters, digits, "-" and "_" (it names the account's directories and its command); rename the account.''
    ];
  };
  validConfigurationPassesEveryAssertion = {
    actual = failedAssertions inheriting;
    expected = [ ];
  };

  warningsWhereSettingsCannotTakeEffect = {
    actual = ourWarnings (evalHome [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          trustedProjects = [ "/home/alice/src" ];
          mcpOverlay = null;
          settings.env.CLAUDE_CONFIG_DIR = "/tmp/elsewhere";
        };
        programs.claude-code.accounts.main = {
          package = claude;
          configDir = "/home/alice/.claude";
        };
      }
    ]);
    expected = [
      ''
        programs.claude-code.accounts.main.configDir is /home/alice/.claude: with CLAUDE_CONFIG_DIR set to it, Claude Code keeps its state in /home/alice/.claude/.claude.json instead of ~/.claude.json (anthropics/claude-code#24479), so the account does not see the state of plain `claude` sessions. Copy ~/.claude.json there once, or use another directory.
      ''
      ''
        programs.claude-code.accounts.max.trustedProjects has no effect while programs.claude-code.accounts.max.mcpOverlay is null (no overlay file is read); set mcpOverlay or remove trustedProjects.
      ''
      ''
        programs.claude-code.accounts.max.settings.env.CLAUDE_CONFIG_DIR cannot take effect: Claude Code reads settings.json from the config dir that claudemax has already chosen. Remove it; set configDir or isolation instead.
      ''
    ];
  };
  warningMigratedKeys = {
    actual = ourWarnings (evalHome [
      {
        programs.claude-code = {
          enable = true;
          package = claude;
          settings.model = "opus";
          accounts.max = {
            package = claude;
            claudeJson.autoUpdates = false;
          };
        };
      }
    ]);
    expected = [
      ''
        programs.claude-code.accounts.max.settings.model = "opus": Claude Code rewrites the alias "opus" in settings.json at start (to "opus[1m]" where the 1M context is offered, or drops it when the organisation's default model changes); declare environment.ANTHROPIC_MODEL = "opus" (Claude Code never rewrites the environment), put the model in a profile, or declare a full model name. Otherwise every launch re-applies it and reports drift.
      ''
      ''
        programs.claude-code.accounts.max.claudeJson.autoUpdates: Claude Code removes autoUpdates = false from .claude.json at the first start in each config dir (every new runtime dir) and sets env.DISABLE_AUTOUPDATER = "1" in settings.json instead; declare settings.env.DISABLE_AUTOUPDATER = "1" instead. Otherwise every launch re-applies it and reports drift.
      ''
    ];
  };
  warningPluginList = {
    actual = ourWarnings (evalHome [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          plugins = [ aPlugin ];
        };
      }
    ]);
    expected = [
      ''
        programs.claude-code.accounts.max.plugins is a list: each plugin's directory name then comes from its base name, which for a store path is unstable (e.g. `bxa1s0m3h4sh-source`). Use an attribute set, e.g. plugins.my-plugin = ./my-plugin;
      ''
    ];
  };
  assertionPluginsNeedClaude2_1_76 = {
    actual = bad [
      {
        programs.claude-code.accounts.max = {
          package = claudeAt "2.1.50";
          lspServers.go.command = "gopls";
        };
      }
    ];
    expected = [
      "programs.claude-code.accounts.max: plugins and lspServers need Claude Code 2.1.76 or later, and programs.claude-code.accounts.max.package is version 2.1.50; upgrade the package or remove them."
    ];
  };
  assertionSkillAndPluginShareAName = {
    actual = bad [
      {
        programs.claude-code.accounts.max = {
          package = claude;
          skills.same = "A skill.";
          plugins.same = aPlugin;
        };
      }
    ];
    expected = [
      "programs.claude-code.accounts.max: same is both a skill and a plugin (both are directories of skills/); rename one."
    ];
  };
  warningMacosKeychain = {
    actual = builtins.filter isKeychain (evalHome [
      {
        programs.claude-code.accounts = {
          max.package = claude;
          pro = {
            package = claude;
            oauthTokenFile = "/run/agenix/claude-pro-token";
          };
          solo = {
            package = claude;
            isolation = "account";
          };
        };
      }
    ]).warnings;
    expected = pkgs.lib.optional pkgs.stdenv.hostPlatform.isDarwin ''
      programs.claude-code.accounts.max: on macOS Claude Code keeps credentials in the Keychain under the config dir's path, so every worktree runtime dir asks for a new login. Set programs.claude-code.accounts.max.oauthTokenFile (a token from `claude setup-token`) or isolation = "account".
    '';
  };
  noWarningsForAPlainConfiguration = {
    actual = ourWarnings inheriting;
    expected = [ ];
  };
}
