# hm-offline generation 1: two accounts, `max` inheriting from Home Manager's
# own programs.claude-code, `pro` standing alone. The claude they run is the
# helper workspace's fake claude (see README.md beside this file).
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
    commands.shared-review = "Review the staged changes.";
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
  # enableMcpIntegration (max and team inherit it; pro sets it).
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

  # Profiles: shared, and max's own.
  programs.claude-code.profiles.fast.model = "haiku";

  programs.claude-code.accounts = {
    max = {
      settings = {
        includeCoAuthoredBy = false;
        permissions.allow = [
          "Bash(git status)"
          "Bash(cargo test:*)"
        ];
      };
      mcpServers = {
        github = {
          type = "http";
          url = "https://api.githubcopilot.com/mcp/";
          headers.Authorization = "Bearer \${GITHUB_TOKEN}";
        };
        scratch = {
          command = "echo";
          args = [ "scratch" ];
        };
        disabled-one = {
          command = "false";
          enabled = false;
        };
      };
      commands.deploy = "Deploy $ARGUMENTS.";
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
      profiles.review.permissions.deny = [ "Edit" ];
      plugins.max-plugin = plugin "max-plugin";
      marketplaces.max-market = marketplace "max-market";
      lspServers.rust.command = "rust-analyzer";
    };

    pro = {
      inheritShared = false;
      isolation = "session";
      singleInstance = false;
      settings.permissions = { };
      mcpOverlay = null;
      # Inherits nothing, but takes the programs.mcp servers (not in gen2).
      enableMcpIntegration = true;
    };
  };
}
