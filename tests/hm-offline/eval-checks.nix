# The flake's evaluation checks (tests/eval/default.nix) built under
# hm-offline: stand-in packages, prebuilt helper. The shell completions of
# `asset-dirs` are not installed by hm-offline's stand-in Rust builder, so
# that check is expected to fail there on its last three lines only; nor does
# its stand-in buildEnv honour package priorities, so `commands` is expected
# to fail there on its last line only (the dispatcher `claude` over the
# package's; the module-eval case dispatcherClaudeWinsOverThePackagesClaude
# checks the priority itself).
{
  hmOffline,
  hmSrc,
  nixpkgsLib,
  stubsDir,
}:
let
  lib = import (nixpkgsLib + "/lib");
  pkgs = import (hmOffline + "/pkgs.nix") { inherit lib stubsDir; };
  evalHome =
    modules:
    (import (hmOffline + "/eval.nix") {
      inherit hmSrc nixpkgsLib stubsDir;
      configuration = {
        imports = [ ../../modules/home-manager ] ++ modules;
      };
    }).config;
  testLib = import ../eval/lib.nix {
    inherit pkgs;
    home-manager = null;
    claude-accounts = null;
    homeManagerModule = null;
  };
in
import ../eval {
  inherit pkgs;
  testLib = testLib // {
    inherit evalHome;
  };
}
