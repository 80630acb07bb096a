# Helpers of the flake's evaluation checks.
{
  pkgs,
  home-manager,
  claude-accounts,
  homeManagerModule,
}:
let
  inherit (pkgs) lib;
in
rec {
  # A Home Manager configuration for alice with this project's module (and,
  # as in every Home Manager, its own programs.claude-code module).
  evalHomeConfiguration =
    modules:
    home-manager.lib.homeManagerConfiguration {
      inherit pkgs;
      modules = [
        homeManagerModule
        {
          home.username = "alice";
          home.homeDirectory = "/home/alice";
          home.stateVersion = "25.05";
          programs.claude-code.accountsHelper.package = lib.mkDefault claude-accounts;
        }
      ]
      ++ modules;
    };
  evalHome = modules: (evalHomeConfiguration modules).config;

  # One check for a set of `{ expected; actual; }` cases: it fails when a
  # case's values differ (compared in Nix) and prints a diff of each.
  compareCases =
    name: cases:
    pkgs.runCommandLocal name
      {
        nativeBuildInputs = [
          pkgs.jq
          pkgs.diffutils
        ];
        cases = builtins.toJSON (
          lib.mapAttrs (_: case: {
            inherit (case) expected actual;
            pass = case.expected == case.actual;
          }) cases
        );
        passAsFile = [ "cases" ];
      }
      ''
        failed=0
        for case in $(jq -r 'keys[]' "$casesPath"); do
          if [ "$(jq --arg c "$case" '.[$c].pass' "$casesPath")" != true ]; then
            failed=$((failed + 1))
            echo "FAIL $case" >&2
            diff -u --label expected --label actual \
              <(jq -S --arg c "$case" '.[$c].expected' "$casesPath") \
              <(jq -S --arg c "$case" '.[$c].actual' "$casesPath") >&2 || true
          fi
        done
        total=$(jq 'length' "$casesPath")
        if [ "$failed" != 0 ]; then
          echo "${name}: $failed of $total cases failed" >&2
          exit 1
        fi
        echo "${name}: $total cases passed"
        touch "$out"
      '';

  # The pure-Nix tests (tests/pure) as a check.
  pureTests =
    results:
    pkgs.runCommandLocal "pure-nix-tests"
      {
        failed = lib.concatStringsSep "\n\n" results.failed;
        passAsFile = [ "failed" ];
      }
      ''
        if [ ${toString (builtins.length results.failures)} != 0 ]; then
          cat "$failedPath" >&2
          exit 1
        fi
        echo "${toString results.count} pure-Nix tests passed"
        touch "$out"
      '';
}
