{
  description = "Claude Code with several declaratively configured accounts, for Home Manager, NixOS and nix-darwin";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      home-manager,
    }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # Paths rather than imported functions, so that importing the Home
      # Manager module twice (directly and through the NixOS module) is
      # deduplicated by the module system.
      homeManagerModules.default = ./modules/home-manager;
      homeModules.default = self.homeManagerModules.default;
      nixosModules.default = ./modules/nixos;
      darwinModules.default = ./modules/darwin;

      overlays.default = final: _prev: {
        claude-accounts = final.callPackage ./pkgs/claude-accounts { };
      };

      packages = forAllSystems (pkgs: {
        claude-accounts = pkgs.callPackage ./pkgs/claude-accounts { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.claude-accounts;
      });

      checks = forAllSystems (
        pkgs:
        import ./tests {
          inherit pkgs home-manager;
          claude-accounts = self.packages.${pkgs.stdenv.hostPlatform.system}.claude-accounts;
          homeManagerModule = self.homeManagerModules.default;
          nixosModule = self.nixosModules.default;
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.claude-accounts ];
          packages = [
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.nixfmt
            pkgs.git
            pkgs.jq
          ];
        };
      });
    };
}
