#!/usr/bin/env bash
# Runs the script of the VM test `vm-switch-cycles` (tests/vm/switch-cycles.nix)
# on this machine: the generations are built with hm-offline, the script's
# commands run locally with HOME=/home/alice. /home/alice must not exist (it
# is created, and removed afterwards unless KEEP=1).
#   HM_SRC=/tmp/hm NIXPKGS_LIB=/tmp/nixpkgs.lib \
#   HM_OFFLINE_BIN_DIR=$PWD/helper/target/release tests/hm-offline/run-vm-script.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# hm-offline lives beside the repository (../shared/hm-offline from the main
# checkout, also when this is a linked worktree) unless HM_OFFLINE says where.
main_root=$(cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --path-format=absolute --git-common-dir)/.." && pwd)
hm_offline=${HM_OFFLINE:-$main_root/../shared/hm-offline}/hm-offline
[ ! -e /home/alice ] || { echo "run-vm-script.sh: /home/alice exists; move it away first" >&2; exit 2; }
work=$(mktemp -d /tmp/vm-script.XXXXXX)
for g in gen1 gen2; do
  printf 'import %s/vm-generation.nix { generation = "%s"; }\n' "$here" "$g" > "$work/$g.nix"
  printf -v "$g" %s "$("$hm_offline" build "$work/$g.nix")"
done
nix-instantiate --eval --strict --json -E \
  "(import $here/../vm/switch-cycles.nix { gen1 = \"$gen1\"; gen2 = \"$gen2\"; }).testScript" \
  | python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin))' > "$work/script.py"
rm -f /tmp/outside.json /tmp/main.json /tmp/wt.json /tmp/wt2.json /tmp/pro1.json /tmp/pro2.json \
  /tmp/bg.json /tmp/bg2.json /tmp/second.json /tmp/other.json /tmp/after-close.json /tmp/next.json
mkdir -p /home/alice
status=0
python3 -u "$here/vm-script-driver.py" "$work/script.py" || status=$?
[ "${KEEP:-}" = 1 ] || rm -rf /home/alice "$work"
exit $status
