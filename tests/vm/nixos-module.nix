# The NixOS module: managed policy in /etc/claude-code, and accounts declared
# through the NixOS Home Manager integration with no extra import (the
# module adds itself to home-manager.sharedModules).
{
  home-manager,
  nixosModule,
  fakeClaudeCode,
  claude-accounts,
}:
{
  name = "claude-accounts-nixos-module";

  nodes.machine = {
    imports = [
      home-manager.nixosModules.home-manager
      nixosModule
    ];

    virtualisation.memorySize = 2048;

    users.users.alice = {
      isNormalUser = true;
      uid = 1000;
    };

    programs.claude-code.managed = {
      settings.permissions.deny = [ "Read(./secrets/**)" ];
      settingsFragments."10-telemetry".env.DISABLE_TELEMETRY = "1";
      mcpServers = {
        company-docs = {
          type = "http";
          url = "https://mcp.example.com/docs";
        };
        retired = {
          command = "retired-server";
          enabled = false;
        };
      };
      context = "Managed memory.";
    };

    home-manager.useUserPackages = true;
    home-manager.users.alice = {
      home.stateVersion = "25.05";
      programs.claude-code.accountsHelper.package = claude-accounts;
      programs.claude-code.accounts.work = {
        package = fakeClaudeCode;
        settings.model = "sonnet";
        mcpServers.tracker.command = "tracker-server";
      };
    };
  };

  testScript = ''
    import json


    def json_file(path: str) -> dict:
        return json.loads(machine.succeed(f"cat {path}"))


    machine.wait_for_unit("home-manager-alice.service")

    with subtest("managed policy files"):
        settings = json_file("/etc/claude-code/managed-settings.json")
        assert settings == {"permissions": {"deny": ["Read(./secrets/**)"]}}, settings
        fragment = json_file("/etc/claude-code/managed-settings.d/10-telemetry.json")
        assert fragment == {"env": {"DISABLE_TELEMETRY": "1"}}, fragment
        mcp = json_file("/etc/claude-code/managed-mcp.json")
        assert mcp == {"mcpServers": {"company-docs": {"type": "http", "url": "https://mcp.example.com/docs"}}}, mcp
        assert machine.succeed("cat /etc/claude-code/CLAUDE.md").strip() == "Managed memory."

    with subtest("the account from home-manager.users works without importing the module"):
        account = "/home/alice/.claude-work"
        machine.succeed(f"test -f {account}/settings.json && test ! -L {account}/settings.json")
        assert json_file(f"{account}/settings.json")["model"] == "sonnet"
        servers = json_file(f"{account}/.claude.json")["mcpServers"]
        assert list(servers) == ["tracker"], servers
        machine.succeed(
            "su -l alice -c 'cd /tmp && FAKE_CLAUDE_REPORT=/tmp/work.json "
            "/etc/profiles/per-user/alice/bin/claudework --version'"
        )
        report = json_file("/tmp/work.json")
        assert report["configDir"] == account, report
        assert report["args"] == ["--version"], report
  '';
}
