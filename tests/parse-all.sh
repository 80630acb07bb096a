#!/usr/bin/env bash
# Parses every tracked .nix file with `nix-instantiate --parse`; fails on the
# first syntax error and names the file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v nix-instantiate >/dev/null || {
  echo "parse-all.sh: nix-instantiate not found; install Nix (on Debian: apt-get install -y nix-bin)" >&2
  exit 2
}
count=0
while IFS= read -r -d '' file; do
  [ -e "$file" ] || continue  # deleted in the work tree
  if ! nix-instantiate --parse "$file" >/dev/null; then
    echo "parse-all.sh: $file does not parse" >&2
    exit 1
  fi
  count=$((count + 1))
done < <(git ls-files -z --cached --others --exclude-standard -- '*.nix')
[ "$count" -gt 0 ] || {
  echo "parse-all.sh: no tracked .nix files found (run it inside the git checkout)" >&2
  exit 1
}
echo "ok: $count .nix files parse"
