# The golden fixture configuration under hm-offline (the flake check
# `golden-manifest` does the same with the real nixpkgs).
{
  imports = [
    ../../modules/home-manager
    ../fixtures/golden-config.nix
  ];
}
