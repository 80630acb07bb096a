# Runs the module evaluation cases of tests/eval/cases.nix under hm-offline
# (real Home Manager modules and nixpkgs lib, stand-in packages); see
# README.md beside this file. Evaluates to "ok: N cases" or throws, listing
# each failing case with its expected and actual values.
{
  hmOffline, # the hm-offline folder (holding eval.nix and pkgs.nix)
  hmSrc,
  nixpkgsLib,
  stubsDir,
}:
let
  evalHome =
    modules:
    (import (hmOffline + "/eval.nix") {
      inherit hmSrc nixpkgsLib stubsDir;
      configuration = {
        imports = [ ../../modules/home-manager ] ++ modules;
      };
    }).config;
  pkgs = import (hmOffline + "/pkgs.nix") {
    lib = import (nixpkgsLib + "/lib");
    inherit stubsDir;
  };
  cases =
    import ../eval/cases.nix { inherit evalHome pkgs; } // import ../eval/darwin.nix { inherit pkgs; };
  names = builtins.attrNames cases;
  failing = builtins.filter (name: cases.${name}.actual != cases.${name}.expected) names;
  describe =
    name:
    "FAIL ${name}\n  expected: ${builtins.toJSON cases.${name}.expected}\n  actual:   ${builtins.toJSON cases.${name}.actual}";
in
if failing == [ ] then
  "ok: ${toString (builtins.length names)} cases"
else
  throw (builtins.concatStringsSep "\n" (map describe failing))
