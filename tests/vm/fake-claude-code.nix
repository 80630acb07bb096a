# The helper workspace's fake claude (the `fake` output of the helper
# package) as a claude-code package: `bin/claude`.
{ pkgs, claude-accounts }:
pkgs.runCommand "claude-code-fake-2.1.240"
  {
    meta.mainProgram = "claude";
  }
  ''
    mkdir -p $out/bin
    ln -s ${claude-accounts.fake}/bin/fake-claude $out/bin/claude
  ''
