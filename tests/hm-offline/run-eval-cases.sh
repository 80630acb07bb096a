#!/usr/bin/env bash
# Evaluates tests/eval/cases.nix with hm-offline. Needs HM_SRC, NIXPKGS_LIB
# and the hm-offline folder (HM_OFFLINE, default ../shared/hm-offline from the main checkout);
# run `hm-offline eval` once before, which prepares the stubs folder.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# hm-offline lives beside the repository (../shared/hm-offline from the main
# checkout, also when this is a linked worktree) unless HM_OFFLINE says where.
main_root=$(cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --path-format=absolute --git-common-dir)/.." && pwd)
hm_offline=${HM_OFFLINE:-$main_root/../shared/hm-offline}
stubs=${XDG_CACHE_HOME:-$HOME/.cache}/hm-offline/stubs
[ -d "$stubs" ] || { echo "run-eval-cases.sh: run 'hm-offline eval' once first (it prepares $stubs)" >&2; exit 2; }
nix-instantiate --eval --strict "$@" -E "import $here/eval-cases.nix {
  hmOffline = $hm_offline; hmSrc = $(cd "$HM_SRC" && pwd); nixpkgsLib = $(cd "$NIXPKGS_LIB" && pwd); stubsDir = $stubs;
}"
