# Flake checks (`nix flake check`): the helper package with its Rust tests,
# module evaluation checks, the pure-Nix tests and, on Linux, NixOS VM tests.
# They need a real Nix host with the binary cache; see docs/testing.md.
{
  pkgs,
  home-manager,
  claude-accounts,
  homeManagerModule,
  nixosModule,
}:
let
  inherit (pkgs) lib;
  testLib = import ./eval/lib.nix {
    inherit
      pkgs
      home-manager
      claude-accounts
      homeManagerModule
      ;
  };
  evalChecks = import ./eval { inherit pkgs testLib; };
  vmChecks = lib.optionalAttrs pkgs.stdenv.hostPlatform.isLinux (
    import ./vm {
      inherit
        pkgs
        home-manager
        claude-accounts
        homeManagerModule
        nixosModule
        ;
    }
  );
in
{
  inherit claude-accounts;
  pure = testLib.pureTests (import ./pure);
}
// evalChecks
// vmChecks
