# NixOS module: Claude Code's managed (system) policy in /etc/claude-code,
# and the claude-accounts Home Manager module for every Home Manager user
# when the NixOS Home Manager integration is imported.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  inherit (lib) literalExpression mkOption types;

  render = import ../home-manager/render.nix;
  cfg = config.programs.claude-code;
  jsonFormat = pkgs.formats.json { };

  serverType = types.submodule {
    freeformType = jsonFormat.type;
    options.enabled = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether the server is written to {file}`/etc/claude-code/managed-mcp.json`;
        the toggle itself is never written.
      '';
    };
  };

  managedServers = render.renderServers cfg.managed.mcpServers;
in
{
  options.programs.claude-code = {
    managed = {
      settings = mkOption {
        inherit (jsonFormat) type;
        default = { };
        example = literalExpression ''
          {
            permissions.deny = [ "Read(./.env)" "Read(./secrets/**)" ];
            env.DISABLE_TELEMETRY = "1";
          }
        '';
        description = ''
          Managed settings, written to
          {file}`/etc/claude-code/managed-settings.json`. They take
          precedence over every user and project setting of every account
          (the same JSON as an account's `settings`).
        '';
      };

      settingsFragments = mkOption {
        type = types.attrsOf jsonFormat.type;
        default = { };
        example = literalExpression ''
          {
            "10-telemetry".env.DISABLE_TELEMETRY = "1";
          }
        '';
        description = ''
          Managed settings fragments, each written to
          {file}`/etc/claude-code/managed-settings.d/<name>.json`, for
          policy assembled from several modules.
        '';
      };

      mcpServers = mkOption {
        type = types.attrsOf serverType;
        default = { };
        example = literalExpression ''
          {
            company-docs = {
              type = "http";
              url = "https://mcp.example.com/docs";
            };
          }
        '';
        description = ''
          Managed MCP servers, written to
          {file}`/etc/claude-code/managed-mcp.json` (the same shape as an
          account's `mcpServers`). When this file exists Claude Code uses
          only these servers: user-scope servers of accounts and
          `--mcp-config` are then not used.
        '';
      };

      context = mkOption {
        type = types.lines;
        default = "";
        example = "Never commit secrets.";
        description = ''
          Managed memory, written to {file}`/etc/claude-code/CLAUDE.md` and
          loaded into every session.
        '';
      };
    };

    homeManagerIntegration = mkOption {
      type = types.bool;
      default = true;
      example = false;
      description = ''
        Whether to add the claude-accounts Home Manager module to
        `home-manager.sharedModules`, so that
        `home-manager.users.<user>.programs.claude-code.accounts` can be used
        without importing it per user. Has an effect only when Home
        Manager's NixOS module is imported.
      '';
    };
  };

  config = lib.mkMerge [
    {
      environment.etc = lib.mkMerge [
        (lib.mkIf (cfg.managed.settings != { }) {
          "claude-code/managed-settings.json".source =
            jsonFormat.generate "claude-code-managed-settings.json" cfg.managed.settings;
        })
        (lib.mapAttrs' (
          name: value:
          lib.nameValuePair "claude-code/managed-settings.d/${name}.json" {
            source = jsonFormat.generate "claude-code-managed-settings-${name}.json" value;
          }
        ) cfg.managed.settingsFragments)
        (lib.mkIf (managedServers != { }) {
          "claude-code/managed-mcp.json".source =
            jsonFormat.generate "claude-code-managed-mcp.json" { mcpServers = managedServers; };
        })
        (lib.mkIf (cfg.managed.context != "") {
          "claude-code/CLAUDE.md".text = cfg.managed.context;
        })
      ];

      assertions = [
        {
          assertion = !(cfg.managed.settings ? mcpServers);
          message = "programs.claude-code.managed.settings.mcpServers: Claude Code ignores mcpServers in settings files; declare them in programs.claude-code.managed.mcpServers.";
        }
      ];
    }

    # The same path as the flake's homeManagerModules.default, so that a
    # user who also imports it directly gets it once.
    (lib.optionalAttrs (options ? home-manager.sharedModules) {
      home-manager.sharedModules = lib.mkIf cfg.homeManagerIntegration [ ../home-manager ];
    })
  ];
}
