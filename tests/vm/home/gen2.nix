# Generation 2: `max` gains a server, loses `drop`, changes a permission and
# its command set; the account `pro` is added.
{ fakeClaudeCode, ... }:
{
  programs.claude-code.accounts.max = {
    package = fakeClaudeCode;
    settings = {
      theme = "dark";
      permissions = {
        allow = [
          "Bash(git status)"
          "Bash(nix build:*)"
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
      added.command = "added-server";
    };
    claudeJson.editorMode = "vim";
    commands.review = "Review the staged changes.";
    context = "Generation 2 memory.";
  };

  programs.claude-code.accounts.pro = {
    package = fakeClaudeCode;
    isolation = "session";
    singleInstance = false;
    settings.permissions.allow = [ "Read" ];
    mcpServers.pro-only.command = "pro-server";
  };
}
