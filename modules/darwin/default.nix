# nix-darwin module: Claude Code's managed (system) policy in
# /Library/Application Support/ClaudeCode, and the claude-accounts Home
# Manager module for every Home Manager user when Home Manager's nix-darwin
# integration is imported. The options are those of ../managed/common.nix,
# shared with the NixOS module.
#
# nix-darwin manages no files outside /etc, so activation links each declared
# entry to its file in the store and removes an entry that an earlier
# generation linked and this one no longer declares. A real file or
# directory there (placed by an administrator or an MDM tool) is never
# touched: activation says so and leaves it.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  policyDir = "/Library/Application Support/ClaudeCode";
  cfg = config.programs.claude-code.managed;

  # Every entry the options can declare; a name not declared now is pruned
  # when it is a link into the store.
  entries = [
    "managed-settings.json"
    "managed-settings.d"
    "managed-mcp.json"
    "CLAUDE.md"
  ];

  fragments = lib.filterAttrs (name: _: lib.hasPrefix "managed-settings.d/" name) cfg.files;
  fragmentsDir = pkgs.linkFarm "claude-code-managed-settings.d" (
    lib.mapAttrs' (name: lib.nameValuePair (lib.removePrefix "managed-settings.d/" name)) fragments
  );
  sources = lib.filterAttrs (name: _: !(lib.hasPrefix "managed-settings.d/" name)) cfg.files
    // lib.optionalAttrs (fragments != { }) { "managed-settings.d" = fragmentsDir; };
in
{
  imports = [ (import ../managed/common.nix { inherit policyDir; }) ];

  config.system.activationScripts.postActivation.text = ''
    claudeCodePolicy() {
      local target=${lib.escapeShellArg policyDir}/"$1" source=$2
      if [ -e "$target" ] && [ ! -L "$target" ]; then
        if [ -n "$source" ]; then
          echo "programs.claude-code.managed: $target is not a link this module made; move it away so that it can be managed" >&2
        fi
        return 0
      fi
      if [ -n "$source" ]; then
        ln -sfn "$source" "$target"
      elif [ -L "$target" ] && [[ "$(readlink "$target")" == ${lib.escapeShellArg builtins.storeDir}/* ]]; then
        rm "$target"
      fi
    }
    mkdir -p ${lib.escapeShellArg policyDir}
    ${lib.concatMapStringsSep "\n" (
      name: "claudeCodePolicy ${lib.escapeShellArg name} ${lib.escapeShellArg (sources.${name} or "")}"
    ) entries}
    unset -f claudeCodePolicy
  '';
}
