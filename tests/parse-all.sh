#!/usr/bin/env bash
# nix-instantiate --parse of every tracked .nix file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=0
while IFS= read -r -d '' f; do
  nix-instantiate --parse "$f" >/dev/null || { echo "parse error in $f" >&2; exit 1; }
  n=$((n + 1))
done < <(git ls-files -z -- '*.nix')
echo "parsed $n .nix files"
