# Runs every test file of this directory. A file evaluates to an attribute set
# of cases `{ <name> = { expr = ...; expected = ...; }; }`; a case passes when
# both are equal. Builtins only: `nix-instantiate --eval --strict tests/pure -A summary`
# needs no nixpkgs (tests/run-pure.sh does that).
let
  dir = builtins.readDir ./.;
  files = builtins.filter (
    name: dir.${name} == "regular" && name != "default.nix" && builtins.match ".*\\.nix" name != null
  ) (builtins.attrNames dir);

  casesOf =
    file:
    let
      cases = import (./. + "/${file}");
    in
    map (name: cases.${name} // { inherit file name; }) (builtins.attrNames cases);

  all = builtins.concatMap casesOf files;
  failures = builtins.filter (case: case.expr != case.expected) all;

  describe =
    case:
    "FAIL ${case.file}: ${case.name}\n  expected: ${builtins.toJSON case.expected}\n  actual:   ${builtins.toJSON case.expr}";
  total = toString (builtins.length all);
in
{
  inherit failures;
  count = builtins.length all;
  failed = map describe failures;
  summary = builtins.foldl' (acc: line: builtins.trace line acc) (
    if failures == [ ] then
      "ok: ${total} pure-Nix tests passed"
    else
      "FAILED: ${toString (builtins.length failures)} of ${total} pure-Nix tests"
  ) (map describe failures);
}
