# Evaluation cases of the nix-darwin module (modules/darwin): `{ expected;
# actual; }` pairs like ./cases.nix. The module is evaluated with the module
# system and declarations of the nix-darwin options it sets
# (`system.activationScripts.<name>.text`, `assertions`, `warnings`) and of
# Home Manager's nix-darwin integration (`home-manager.sharedModules`), so
# that the cases need neither nix-darwin nor a Mac; they check what the
# module declares, not nix-darwin's activation itself.
{ pkgs }:
let
  inherit (pkgs) lib;

  # The few nix-darwin and Home Manager options the module touches, typed
  # as nix-darwin and Home Manager type them.
  darwinOptions =
    { lib, ... }:
    {
      options = {
        assertions = lib.mkOption {
          type = lib.types.listOf lib.types.unspecified;
          default = [ ];
        };
        warnings = lib.mkOption {
          type = lib.types.listOf lib.types.str;
          default = [ ];
        };
        system.activationScripts = lib.mkOption {
          type = lib.types.attrsOf (
            lib.types.submodule {
              options.text = lib.mkOption {
                type = lib.types.lines;
                default = "";
              };
            }
          );
          default = { };
        };
      };
    };
  withHomeManager =
    { lib, ... }:
    {
      options.home-manager.sharedModules = lib.mkOption {
        type = lib.types.listOf lib.types.raw;
        default = [ ];
      };
    };

  evalDarwin =
    modules:
    (lib.evalModules {
      modules = [
        ../../modules/darwin
        darwinOptions
        { _module.args.pkgs = pkgs; }
      ]
      ++ modules;
    }).config;

  policy = evalDarwin [
    withHomeManager
    {
      programs.claude-code.managed = {
        settings.permissions.deny = [ "Read(./.env)" ];
        settingsFragments."10-telemetry".env.DISABLE_TELEMETRY = "1";
        mcpServers = {
          docs = {
            type = "http";
            url = "https://mcp.example.com/docs";
          };
          off = {
            command = "off";
            enabled = false;
          };
        };
        context = "Never commit secrets.";
      };
    }
  ];
  empty = evalDarwin [ ];
  activation = config: config.system.activationScripts.postActivation.text;
  # The `claudeCodePolicy <entry> <source>` lines of the activation script,
  # with store paths reduced to their names.
  policyLines =
    config:
    map (line: builtins.replaceStrings [ "${builtins.storeDir}/" ] [ "" ] line) (
      builtins.filter (line: builtins.match "claudeCodePolicy [^(]*" line != null) (
        lib.splitString "\n" (activation config)
      )
    );
  stripHash = s: builtins.head (builtins.match "[0-9a-z]{32}-(.*)" s);
in
{
  darwinPolicyFiles = {
    actual = builtins.attrNames policy.programs.claude-code.managed.files;
    expected = [
      "CLAUDE.md"
      "managed-mcp.json"
      "managed-settings.d/10-telemetry.json"
      "managed-settings.json"
    ];
  };
  darwinActivationLinksEveryEntryIntoTheApplicationSupportDir = {
    actual = {
      dir = lib.hasInfix "mkdir -p '/Library/Application Support/ClaudeCode'" (activation policy);
      entries = map (
        line:
        let
          words = builtins.match "claudeCodePolicy ([^ ]+) '?([^']*)'?" line;
        in
        {
          entry = builtins.head words;
          source = if builtins.elemAt words 1 == "" then "" else stripHash (builtins.elemAt words 1);
        }
      ) (policyLines policy);
    };
    expected = {
      dir = true;
      entries = [
        {
          entry = "managed-settings.json";
          source = "claude-code-managed-settings.json";
        }
        {
          entry = "managed-settings.d";
          source = "claude-code-managed-settings.d";
        }
        {
          entry = "managed-mcp.json";
          source = "claude-code-managed-mcp.json";
        }
        {
          entry = "CLAUDE.md";
          source = "claude-code-managed-CLAUDE.md";
        }
      ];
    };
  };
  darwinNothingDeclaredPrunesEveryEntry = {
    actual = policyLines empty;
    expected = [
      "claudeCodePolicy managed-settings.json ''"
      "claudeCodePolicy managed-settings.d ''"
      "claudeCodePolicy managed-mcp.json ''"
      "claudeCodePolicy CLAUDE.md ''"
    ];
  };
  darwinOptionTextNamesTheDirectory = {
    actual =
      lib.hasInfix "/Library/Application Support/ClaudeCode/managed-settings.json"
        (lib.evalModules {
          modules = [
            ../../modules/darwin
            darwinOptions
            { _module.args.pkgs = pkgs; }
          ];
        }).options.programs.claude-code.managed.settings.description;
    expected = true;
  };
  darwinAddsTheAccountsModuleForHomeManagerUsers = {
    actual = map toString policy.home-manager.sharedModules;
    expected = [ (toString ../../modules/home-manager) ];
  };
  darwinWithoutHomeManagerEvaluates = {
    actual = empty.programs.claude-code.managed.files;
    expected = { };
  };
  darwinAssertionSettingsMcpServers = {
    actual = map (a: a.message) (
      builtins.filter (a: !a.assertion)
        (evalDarwin [ { programs.claude-code.managed.settings.mcpServers.x.command = "x"; } ]).assertions
    );
    expected = [
      "programs.claude-code.managed.settings.mcpServers: Claude Code ignores mcpServers in settings files; declare them in programs.claude-code.managed.mcpServers."
    ];
  };
}
