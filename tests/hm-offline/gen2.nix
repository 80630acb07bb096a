# hm-offline generation 2: the accounts of gen1.nix changed. `max` loses the
# server `scratch`, gains `added`, trades a permission and a command; the
# shared module drops its command; `pro` moves to worktree isolation; the
# account `team` is added (inheriting).
{ config, pkgs, ... }:
let
  fakeClaude = import ./fake-claude.nix { inherit config pkgs; };
  # A plugin with a command and an MCP server, and a marketplace.
  plugin =
    name:
    pkgs.runCommandLocal name { } ''
      mkdir -p $out/commands
      echo "Say hello from ${name}." > $out/commands/hello-${name}.md
      echo '{"mcpServers": {"${name}-server": {"command": "echo"}}}' > $out/.mcp.json
    '';
  marketplace =
    name:
    pkgs.writeTextFile {
      inherit name;
      destination = "/.claude-plugin/marketplace.json";
      text = builtins.toJSON {
        inherit name;
        owner.name = "alice";
        plugins = [ ];
      };
    };
in
{
  imports = [ ../../modules/home-manager ];

  programs.claude-code = {
    enable = true;
    package = fakeClaude;
    settings = {
      theme = "dark";
      permissions.allow = [ "Bash(git status)" ];
      permissions.deny = [ "Read(./.env)" ];
    };
    mcpServers.shared-time = {
      command = "uvx";
      args = [ "mcp-server-time" ];
    };
    context = "Shared memory for every account.";
    plugins.shared-plugin = plugin "shared-plugin";
    marketplaces.shared-market = marketplace "shared-market";
    lspServers.go = {
      command = "gopls";
      extensionToLanguage.".go" = "go";
    };
    enableMcpIntegration = true;
  };

  # Servers of Home Manager's programs.mcp, for accounts with
  # enableMcpIntegration (team inherits it; max switches it off here).
  programs.mcp = {
    enable = true;
    servers = {
      everything = {
        command = "mcp-everything";
        args = [ "--stdio" ];
      };
      mcp-off = {
        command = "false";
        disabled = true;
      };
    };
  };

  programs.claude-code.accounts = {
    max = {
      settings = {
        includeCoAuthoredBy = false;
        permissions.allow = [
          "Bash(git status)"
          "Bash(nix build:*)"
        ];
      };
      mcpServers = {
        github = {
          type = "http";
          url = "https://api.githubcopilot.com/mcp/";
          headers.Authorization = "Bearer \${GITHUB_TOKEN}";
        };
        added = {
          command = "echo";
          args = [ "added" ];
        };
        disabled-one = {
          command = "false";
          enabled = false;
        };
      };
      commands.review = "Review $ARGUMENTS.";
      agents.reviewer = ''
        ---
        name: reviewer
        description: Reviews code
        ---
        Review carefully.
      '';
      hooks.pre-edit = ''
        #!/bin/sh
        echo "editing $1"
      '';
      skills.release = "Cut a release.";
      environment.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
      claudeJson.editorMode = "vim";
      # Generation 2 drops max's own plugin, marketplace and LSP server,
      # and the programs.mcp servers.
      enableMcpIntegration = false;
    };

    pro = {
      inheritShared = false;
      settings.permissions = { };
      mcpOverlay = null;
    };

    team = {
      mcpServers.team-only.command = "team-server";
    };
  };
}
