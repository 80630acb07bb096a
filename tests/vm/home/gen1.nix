# Generation 1 of the VM test: one account, `max`, with settings, servers and
# assets. It declares no `model`, which the fake claude sets at runtime.
{ fakeClaudeCode, ... }:
{
  programs.claude-code.accounts.max = {
    package = fakeClaudeCode;
    settings = {
      theme = "dark";
      permissions = {
        allow = [
          "Bash(git status)"
          "Bash(cargo test:*)"
        ];
        deny = [ "Read(./.env)" ];
      };
    };
    mcpServers = {
      github = {
        type = "http";
        url = "https://api.githubcopilot.com/mcp/";
      };
      keep = {
        command = "keep-server";
        args = [ "--stdio" ];
      };
      drop.command = "drop-server";
    };
    claudeJson.editorMode = "vim";
    commands.deploy = "Deploy $ARGUMENTS.";
    context = "Generation 1 memory.";
  };
}
