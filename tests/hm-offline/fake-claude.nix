# The fake claude of the helper workspace as a claude-code package. Under
# hm-offline the helper "package" installs every prebuilt binary of
# $HM_OFFLINE_BIN_DIR, fake-claude included; on a real Nix host the VM tests
# use the package's `fake` output instead (tests/vm/fake-claude-code.nix).
{ config, pkgs }:
let
  helper = config.programs.claude-code.accountsHelper.package;
in
pkgs.runCommand "claude-code-fake-2.1.240" { } ''
  mkdir -p $out/bin
  ln -s ${helper}/bin/fake-claude $out/bin/claude
''
