#!/usr/bin/env bash
# Regenerates docs/options.md from the modules' option declarations, with the
# real Home Manager modules and nixpkgs lib (as ../tests/hm-offline uses them):
#   HM_SRC=/path/to/home-manager NIXPKGS_LIB=/path/to/nixpkgs.lib docs/generate-options.sh
# Run `hm-offline eval` once first (it prepares the stubs folder). The JSON
# options' type is printed as nixpkgs names it ("JSON value"); hm-offline's
# stand-in `pkgs.formats.json` calls it "attribute set of anything".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# hm-offline lives beside the repository (../shared/hm-offline from the main
# checkout, also when this is a linked worktree) unless HM_OFFLINE says where.
main_root=$(cd "$(git -C "$root" rev-parse --path-format=absolute --git-common-dir)/.." && pwd)
hm_offline=${HM_OFFLINE:-$main_root/../shared/hm-offline}
stubs=${XDG_CACHE_HOME:-$HOME/.cache}/hm-offline/stubs
[ -d "$stubs" ] || { echo "generate-options.sh: run 'hm-offline eval' once first (it prepares $stubs)" >&2; exit 2; }
hm=$(cd "$HM_SRC" && pwd)
nl=$(cd "$NIXPKGS_LIB" && pwd)
nix-instantiate --eval --strict --json -E "
  let
    lib = import $nl/lib;
    pkgs = import $hm_offline/pkgs.nix { inherit lib; stubsDir = $stubs; };
    hm = import $hm_offline/eval.nix {
      hmSrc = $hm; nixpkgsLib = $nl; stubsDir = $stubs;
      configuration = { imports = [ $root/modules/home-manager ]; };
    };
    nixos = lib.evalModules {
      modules = [
        $root/modules/nixos
        { _module.args.pkgs = pkgs; _module.check = false; }
      ];
    };
    darwin = lib.evalModules {
      modules = [
        $root/modules/darwin
        { _module.args.pkgs = pkgs; _module.check = false; }
      ];
    };
    text = import $root/docs/options.nix {
      inherit lib;
      hmOptions = hm.options;
      nixosOptions = nixos.options;
      darwinOptions = darwin.options;
    };
  in
  builtins.replaceStrings [ \"attribute set of anything\" ] [ \"JSON value\" ] text
" | python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin))' > "$root/docs/options.md"
echo "wrote docs/options.md"
