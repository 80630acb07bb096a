# NixOS module: Claude Code's managed (system) policy in /etc/claude-code,
# and the claude-accounts Home Manager module for every Home Manager user
# when the NixOS Home Manager integration is imported. The options are those
# of ../managed/common.nix, shared with the nix-darwin module.
{ config, lib, ... }:
let
  cfg = config.programs.claude-code.managed;
in
{
  imports = [ (import ../managed/common.nix { policyDir = "/etc/claude-code"; }) ];

  config.environment.etc = lib.mapAttrs' (
    name: source: lib.nameValuePair "claude-code/${name}" { inherit source; }
  ) cfg.files;
}
