#!/usr/bin/env bash
# Runs the pure-Nix tests (tests/pure/*.nix) with a bare evaluator: no
# nixpkgs, no network. Failures are printed (as `trace:` lines) and make the
# script exit non-zero.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v nix-instantiate >/dev/null || {
  echo "run-pure.sh: nix-instantiate not found; install Nix (on Debian: apt-get install -y nix-bin)" >&2
  exit 2
}
summary=$(nix-instantiate --eval --strict tests/pure -A summary)
echo "$summary"
[[ $summary == '"ok: '* ]]
