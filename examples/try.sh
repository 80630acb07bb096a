#!/usr/bin/env bash
# Runs the helper's main job on examples/manifest.json in a scratch HOME:
# activation (twice: the second has nothing to do), then one launch of the
# fake claude in a git worktree, then status. Prints what happened.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cargo build --quiet --manifest-path "$root/helper/Cargo.toml" --bins
bin=$root/helper/target/debug
scratch=$(mktemp -d)
export HOME=$scratch XDG_STATE_HOME=$scratch/.local/state
# The example's accounts run `claude`; here that is the fake claude.
mkdir -p "$scratch/bin" && ln -s "$bin/fake-claude" "$scratch/bin/claude"
export PATH=$scratch/bin:$PATH

echo "# claude-accounts activate --manifest examples/manifest.json --verbose   (HOME=$scratch)"
"$bin/claude-accounts" activate --manifest "$root/examples/manifest.json" --verbose
echo
echo "# again: nothing to do, nothing printed"
"$bin/claude-accounts" activate --manifest "$root/examples/manifest.json"
echo
echo "# ~/.claude-max/settings.json"
cat "$scratch/.claude-max/settings.json"; echo
echo
git init -q -b main "$scratch/repo" && git -C "$scratch/repo" -c user.name=t -c user.email=t@e commit -q --allow-empty -m init
git -C "$scratch/repo" worktree add -q -b feature "$scratch/repo-feature"
echo "# claudemax in a linked worktree (the fake claude reports its CLAUDE_CONFIG_DIR)"
(cd "$scratch/repo-feature" && FAKE_CLAUDE_ACTIONS=startup FAKE_CLAUDE_REPORT=$scratch/report.json \
  "$bin/claude-accounts" launch --manifest "$root/examples/manifest.json" --account max -- --version)
sed -n 's/.*"configDir": "\([^"]*\)".*/CLAUDE_CONFIG_DIR=\1/p' "$scratch/report.json" | head -1
echo
echo "# claude-accounts status"
"$bin/claude-accounts" status --manifest "$root/examples/manifest.json"
