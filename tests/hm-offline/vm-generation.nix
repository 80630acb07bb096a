# A generation of the VM test (tests/vm/home/<gen>.nix) under hm-offline,
# with the fake claude from the prebuilt helper binaries.
{ generation }:
{ config, pkgs, ... }:
{
  imports = [
    ../../modules/home-manager
    (../vm/home + "/${generation}.nix")
  ];
  _module.args.fakeClaudeCode = import ./fake-claude.nix { inherit config pkgs; };
}
