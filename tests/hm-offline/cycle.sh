#!/usr/bin/env bash
# Switch cycles with hm-offline into a scratch HOME: generation 1 (two
# accounts, `max` inheriting from programs.claude-code), the wrappers
# launching the fake claude through the helper outside git, in a repository
# and in a linked worktree, then generation 2 (changed accounts), with checks
# after each step. A development aid for machines without the Nix binary
# cache; on a real Nix host the VM test `vm-switch-cycles` covers this.
#
#   HM_SRC=/tmp/hm NIXPKGS_LIB=/tmp/nixpkgs.lib \
#   HM_OFFLINE_BIN_DIR=$PWD/helper/target/release tests/hm-offline/cycle.sh [SCRATCH]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# hm-offline lives beside the repository (../shared/hm-offline from the main
# checkout, also when this is a linked worktree) unless HM_OFFLINE says where.
main_root=$(cd "$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --path-format=absolute --git-common-dir)/.." && pwd)
hm_offline=${HM_OFFLINE:-$main_root/../shared/hm-offline}/hm-offline
scratch=${1:-$(mktemp -d /tmp/claude-accounts-cycle.XXXXXX)}
rm -rf "$scratch" && mkdir -p "$scratch"
home=$(cd "$scratch" && pwd)
max=$home/.claude-max pro=$home/.claude-pro team=$home/.claude-team

step() { printf '\n== %s\n' "$*"; }
fail() { echo "cycle.sh: FAIL: $*" >&2; exit 1; }
expect() { # DESCRIPTION JQ-EXPRESSION FILE: the expression must be true
  jq -e "$2" "$3" >/dev/null || { echo "--- $3" >&2; jq . "$3" >&2; fail "$1"; }
}
# Runs a command as alice in the scratch home (as hm-offline's activation does).
as_alice() { env -i HOME="$home" USER=alice PATH="$home/.nix-profile/bin:/usr/local/bin:/usr/bin:/bin" "$@"; }

switch() { # CONFIG: activate, print the activation log, keep it in $log
  log=$("$hm_offline" switch "$here/$1" "$home" 2>&1) || { echo "$log"; fail "switching to $1"; }
  echo "$log"
  generation=$(tail -n 1 <<<"$log")
  bin=$generation/home-path/bin
}
helper_output() { # what the claudeAccounts step printed
  sed -n '/^Activating claudeAccounts$/,/^Activating /p' <<<"$log" | sed '1d;$d'
}

step "switch 1: gen1.nix"
switch gen1.nix
[ -f "$max/settings.json" ] && [ ! -L "$max/settings.json" ] || fail "settings.json is not a real file"
[ -f "$max/.claude.json" ] && [ ! -L "$max/.claude.json" ] || fail ".claude.json is not a real file"
expect "max inherits and overrides settings" \
  '.theme == "dark" and .includeCoAuthoredBy == false and .permissions.allow == ["Bash(git status)","Bash(cargo test:*)"] and .permissions.deny == ["Read(./.env)"]' \
  "$max/settings.json"
expect "max has the shared, programs.mcp and its own servers, not the disabled ones" \
  '(.mcpServers | keys) == ["everything","github","scratch","shared-time"] and .editorMode == "vim"' "$max/.claude.json"
expect "pro inherits nothing" '.permissions == {} and (has("theme") | not) and (has("extraKnownMarketplaces") | not)' "$pro/settings.json"
expect "pro takes only the programs.mcp servers" '(.mcpServers | keys) == ["everything"]' "$pro/.claude.json"
[ ! -e "$pro/skills" ] && [ ! -e "$pro/plugins" ] || fail "pro got plugins or marketplaces it does not inherit"
for p in shared-plugin max-plugin; do
  [ -f "$max/skills/$p/commands/hello-$p.md" ] && [ -L "$max/skills/$p/commands" ] \
    || fail "max's personal plugin $p is not in skills/ with its whole commands/ directory"
  expect "plugin $p has a generated plugin.json" ".name == \"$p\"" "$max/skills/$p/.claude-plugin/plugin.json"
done
expect "max's LSP servers, shared and own, in the generated plugin" \
  '(keys) == ["go","rust"] and .rust.command == "rust-analyzer"' "$max/skills/claude-code-home-manager/.lsp.json"
expect "max's marketplaces in known_marketplaces.json" \
  '(keys) == ["max-market","shared-market"] and (.["max-market"].installLocation | test("-max-market$"))' \
  "$max/plugins/known_marketplaces.json"
[ -f "$max/plugins/known_marketplaces.json" ] && [ ! -L "$max/plugins/known_marketplaces.json" ] \
  || fail "known_marketplaces.json is not a real file Claude can write"
expect "max's marketplaces in settings.json" \
  '(.extraKnownMarketplaces | keys) == ["max-market","shared-market"] and .extraKnownMarketplaces["shared-market"].source.source == "directory"' \
  "$max/settings.json"
[ -L "$max/commands" ] && [ -f "$max/commands/shared-review.md" ] && [ -f "$max/commands/deploy.md" ] \
  || fail "max's commands are not one linked directory with shared and own entries"
[ "$(cat "$max/CLAUDE.md")" = "Shared memory for every account." ] || fail "max did not inherit the shared context"

manifest=$home/.config/claude-accounts/manifest.json
expect "max's profiles, shared and own, are files in the store" \
  '(.accounts.max.profiles | keys) == ["fast","review"] and (.accounts.pro.profiles == {})' "$manifest"
expect "the shared profile" '. == {"model": "haiku"}' "$(jq -r .accounts.max.profiles.fast "$manifest")"
expect "max's rendered settings.json is its declared keys" \
  ". == $(jq -c .accounts.max.settings "$manifest")" "$(jq -r .accounts.max.files.settings "$manifest")"
expect "max's rendered .mcp.json is its servers" \
  ". == {\"mcpServers\": $(jq -c .accounts.max.claudeJson.mcpServers "$manifest")}" \
  "$(jq -r .accounts.max.files.mcpConfig "$manifest")"

step "switch 1 again: nothing to do, nothing said"
switch gen1.nix
[ -z "$(helper_output)" ] || fail "activation of an unchanged generation printed: $(helper_output)"

step "claudemax outside git: the account dir, arguments untouched"
(cd "$home" && as_alice FAKE_CLAUDE_REPORT="$home/outside.json" \
  FAKE_CLAUDE_ACTIONS=login:max@example.com,startup,add-mcp:user-added,set-model:sonnet \
  "$bin/claudemax" --append-system-prompt 'two words' -- '')
expect "claudemax ran in the account dir with the arguments as given" \
  ".configDir == \"$max\" and .args == [\"--append-system-prompt\",\"two words\",\"--\",\"\"]" "$home/outside.json"
expect "Claude's /model write landed" '.model == "sonnet"' "$max/settings.json"
expect "Claude's server is there" '.mcpServers | has("user-added")' "$max/.claude.json"

step "claudemax in a repository and a linked worktree: one runtime dir each"
git -C "$home" init -q proj
git -C "$home/proj" -c user.name=a -c user.email=a@b commit -q --allow-empty -m init
git -C "$home/proj" worktree add -q ../proj-wt
(cd "$home/proj" && as_alice FAKE_CLAUDE_REPORT="$home/main.json" FAKE_CLAUDE_ACTIONS=startup,add-mcp:main-only "$bin/claudemax")
(cd "$home/proj-wt" && as_alice FAKE_CLAUDE_REPORT="$home/wt.json" FAKE_CLAUDE_ACTIONS=startup,set-model:haiku "$bin/claudemax")
main_rt=$home/proj/.git/claude-runtime/max
wt_rt=$home/proj/.git/worktrees/proj-wt/claude-runtime/max
expect "the main worktree's runtime dir" ".configDir == \"$main_rt\"" "$home/main.json"
expect "the linked worktree's runtime dir" ".configDir == \"$wt_rt\"" "$home/wt.json"
expect "the worktree is seeded with the login" '.oauthAccount.emailAddress == "max@example.com"' "$wt_rt/.claude.json"
# One account in every worktree (issue 9): what Claude adds at user scope in
# one runtime dir is the account's, and reaches the next session elsewhere.
expect "a server added in one worktree is the account's" '.mcpServers | has("main-only")' "$max/.claude.json"
expect "and reaches the other worktree's session" '.mcpServers | has("main-only")' "$wt_rt/.claude.json"
for entry in commands skills settings.json plugins; do
  [ "$(readlink "$wt_rt/$entry")" = "$max/$entry" ] || fail "the runtime dir's $entry does not link to the account dir"
done
expect "a model chosen in a worktree is the account's (settings.json is shared)" '.model == "haiku"' "$max/settings.json"

step "claudepro (isolation = session)"
(cd "$home/proj" && as_alice FAKE_CLAUDE_REPORT="$home/pro.json" FAKE_CLAUDE_ACTIONS=startup "$bin/claudepro")
pro_session=$(jq -r .configDir "$home/pro.json")
[ "$pro_session" != "$pro" ] && [ ! -e "$pro_session" ] || fail "claudepro's session dir $pro_session was not a removed per-session dir"

step "Claude adds a marketplace of its own"
jq '.["claude-added"] = {"source": {"source": "github", "repo": "o/r"}, "installLocation": "/x", "lastUpdated": "2026-12-01T00:00:00Z"}' \
  "$max/plugins/known_marketplaces.json" > "$home/markets.json"
cat "$home/markets.json" > "$max/plugins/known_marketplaces.json"

step "the user edits max's settings.json by hand"
jq '.permissions.allow += ["Bash(ls)"] | .editorMode = "vim" | .theme = "light"' "$max/settings.json" > "$home/edited.json"
cat "$home/edited.json" > "$max/settings.json"
credentials=$(sha256sum "$max/.credentials.json")

step "switch 2: gen2.nix"
switch gen2.nix
expect "enforced, pruned, preserved in settings.json" \
  '(.permissions.allow | sort) == (["Bash(git status)","Bash(nix build:*)","Bash(ls)"] | sort) and .theme == "dark" and .model == "haiku" and .editorMode == "vim"' \
  "$max/settings.json"
expect "servers: added, pruned, Claude's kept" \
  '(.mcpServers | keys) == ["added","github","main-only","shared-time","user-added"] and .oauthAccount.emailAddress == "max@example.com" and .numStartups >= 1' \
  "$max/.claude.json"
[ "$(sha256sum "$max/.credentials.json")" = "$credentials" ] || fail "credentials changed"
[ -f "$max/commands/review.md" ] && [ ! -e "$max/commands/deploy.md" ] && [ ! -e "$max/commands/shared-review.md" ] \
  || fail "max's commands were not replaced"
expect "team (added) inherits the shared settings and servers" \
  '.theme == "dark" and .permissions.allow == ["Bash(git status)"]' "$team/settings.json"
[ -x "$bin/claudeteam" ] || fail "no claudeteam command"
expect "max's own marketplace is pruned, the shared one and Claude's are kept" \
  '(keys) == ["claude-added","shared-market"]' "$max/plugins/known_marketplaces.json"
expect "max's settings.json declares only the shared marketplace" \
  '(.extraKnownMarketplaces | keys) == ["shared-market"]' "$max/settings.json"
[ ! -e "$max/skills/max-plugin" ] && [ -d "$max/skills/shared-plugin" ] \
  || fail "max's dropped plugin is still there, or the shared one is gone"
expect "max's dropped LSP server is gone" '(keys) == ["go"]' "$max/skills/claude-code-home-manager/.lsp.json"
expect "max without programs.mcp servers, pro too" '(.mcpServers | has("everything")) | not' "$max/.claude.json"
expect "pro without programs.mcp servers" '(.mcpServers | has("everything")) | not' "$pro/.claude.json"
expect "team (added) inherits the programs.mcp servers" \
  '(.mcpServers | keys) == ["everything","shared-time","team-only"]' "$team/.claude.json"
[ -d "$team/skills/shared-plugin" ] || fail "team did not inherit the shared plugin"
expect "team inherits the shared marketplace" '(keys) == ["shared-market"]' "$team/plugins/known_marketplaces.json"

step "the next launch applies generation 2 in the worktree"
(cd "$home/proj-wt" && as_alice FAKE_CLAUDE_REPORT="$home/wt2.json" FAKE_CLAUDE_ACTIONS=startup "$bin/claudemax")
expect "the worktree's servers follow generation 2" \
  '(.mcpServers | has("added")) and (.mcpServers | has("scratch") | not)' "$wt_rt/.claude.json"
expect "the model Claude chose is kept" '.model == "haiku"' "$wt_rt/settings.json"

step "claudeteam and claude-status"
(cd "$home" && as_alice FAKE_CLAUDE_REPORT="$home/team.json" "$bin/claudeteam")
expect "claudeteam ran in its account dir" ".configDir == \"$team\"" "$home/team.json"
as_alice "$bin/claude-status"

step "git worktree remove takes the runtime dir with it"
git -C "$home/proj" worktree remove ../proj-wt
[ ! -e "$wt_rt" ] || fail "the worktree's runtime dir survived git worktree remove"

printf '\ncycle.sh: all checks passed (scratch home: %s)\n' "$home"
