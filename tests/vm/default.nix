# NixOS VM tests (Linux only). They drive real Home Manager generations of a
# user through switch cycles with the fake claude of the helper workspace.
{
  pkgs,
  home-manager,
  claude-accounts,
  homeManagerModule,
  nixosModule,
}:
let
  fakeClaudeCode = import ./fake-claude-code.nix { inherit pkgs claude-accounts; };

  # What `home-manager switch` builds for alice from a configuration file;
  # the test runs its `activate`, as `home-manager switch` does.
  homeGeneration =
    file:
    (home-manager.lib.homeManagerConfiguration {
      inherit pkgs;
      extraSpecialArgs = { inherit fakeClaudeCode; };
      modules = [
        homeManagerModule
        file
        {
          home.username = "alice";
          home.homeDirectory = "/home/alice";
          home.stateVersion = "25.05";
          programs.claude-code.accountsHelper.package = claude-accounts;
        }
      ];
    }).activationPackage;
in
{
  vm-switch-cycles = pkgs.testers.runNixOSTest (
    import ./switch-cycles.nix {
      gen1 = homeGeneration ./home/gen1.nix;
      gen2 = homeGeneration ./home/gen2.nix;
    }
  );

  vm-nixos-module = pkgs.testers.runNixOSTest (
    import ./nixos-module.nix {
      inherit
        home-manager
        nixosModule
        fakeClaudeCode
        claude-accounts
        ;
    }
  );
}
