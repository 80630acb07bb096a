# The options of Claude Code's managed (system) policy, shared by the NixOS
# module (policy in /etc/claude-code) and the nix-darwin module (policy in
# /Library/Application Support/ClaudeCode): `policyDir` names the directory
# in the option texts. Each system module installs `managed.files` into its
# directory. Also adds the claude-accounts Home Manager module for every Home
# Manager user when Home Manager's system integration is imported.
{ policyDir }:
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
        Whether the server is written to {file}`${policyDir}/managed-mcp.json`;
        the toggle itself is never written.
      '';
    };
  };

  managedServers = render.renderServers cfg.managed.mcpServers;

  # When this file is not the one that applies (Claude Code's docs, "How
  # Claude Code combines managed sources").
  notAlwaysApplied = ''
    By default Claude Code uses a single managed source: settings from the
    claude.ai console (server-managed) win over an MDM profile, which wins
    over these files, and the sources below the one in use are ignored
    whole. So when an organisation also delivers server-managed settings
    or an MDM profile, this file does not apply, unless the source in use
    sets `"managedSourcesBehavior": "merge"`. {command}`/status` in Claude
    Code names the source in use.
  '';
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
          {file}`${policyDir}/managed-settings.json`. They take
          precedence over every user and project setting of every account
          (the same JSON as an account's `settings`).

          ${notAlwaysApplied}
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
          {file}`${policyDir}/managed-settings.d/<name>.json`, for
          policy assembled from several modules. They belong to the same
          file source as {option}`programs.claude-code.managed.settings`.

          ${notAlwaysApplied}
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
          {file}`${policyDir}/managed-mcp.json` (the same shape as an
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
          Managed memory, written to {file}`${policyDir}/CLAUDE.md` and
          loaded into every session.
        '';
      };
    };

    managed.files = mkOption {
      type = types.attrsOf types.path;
      readOnly = true;
      internal = true;
      description = ''
        The managed policy files, by their path relative to
        {file}`${policyDir}`, each a file in the store; the system module
        installs them there.
      '';
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
      programs.claude-code.managed.files =
        lib.optionalAttrs (cfg.managed.settings != { }) {
          "managed-settings.json" =
            jsonFormat.generate "claude-code-managed-settings.json" cfg.managed.settings;
        }
        // lib.mapAttrs' (
          name: value:
          lib.nameValuePair "managed-settings.d/${name}.json" (
            jsonFormat.generate "claude-code-managed-settings-${name}.json" value
          )
        ) cfg.managed.settingsFragments
        // lib.optionalAttrs (managedServers != { }) {
          "managed-mcp.json" = jsonFormat.generate "claude-code-managed-mcp.json" {
            mcpServers = managedServers;
          };
        }
        // lib.optionalAttrs (cfg.managed.context != "") {
          "CLAUDE.md" = pkgs.writeText "claude-code-managed-CLAUDE.md" cfg.managed.context;
        };

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
