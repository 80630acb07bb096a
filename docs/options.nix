# Renders the options reference (docs/options.md) from the modules' own
# declarations: names, descriptions, types, defaults and examples.
# docs/generate-options.sh calls it; see there.
{
  lib,
  hmOptions, # `options` of a Home Manager evaluation that imports modules/home-manager
  nixosOptions, # `options` of an evaluation that imports modules/nixos
  darwinOptions, # `options` of an evaluation that imports modules/darwin
}:
let
  # MyST roles of Nixpkgs-style descriptions, as plain Markdown.
  plain = lib.replaceStrings [ "{option}`" "{file}`" "{env}`" "{command}`" "{var}`" ] [
    "`"
    "`"
    "`"
    "`"
    "`"
  ];

  docsOf =
    prefix: options:
    lib.filter (
      o: o.visible && !o.internal && lib.hasPrefix prefix o.name
    ) (lib.optionAttrSetToDocList options);

  code =
    value:
    let
      text = value.text or (toString value);
    in
    if lib.hasInfix "\n" text then
      "\n\n```nix\n${lib.removeSuffix "\n" text}\n```"
    else
      " `${text}`";

  renderOption =
    o:
    lib.concatStringsSep "\n\n" (
      [
        "### `${o.name}`"
        (lib.removeSuffix "\n" (plain (o.description or "")))
        "*Type:* ${o.type}${lib.optionalString o.readOnly " (read-only)"}"
      ]
      ++ lib.optional (o ? default) "*Default:*${code o.default}"
      ++ lib.optional (o ? example) "*Example:*${code o.example}"
    )
    + "\n";

  section = title: docs: ''
    ## ${title}

    ${lib.concatMapStringsSep "\n" renderOption docs}
  '';
in
''
  # Options reference

  Generated from the modules by `docs/generate-options.sh`; do not edit by hand.

  ${section "Home Manager: `programs.claude-code.accounts` and the `claude` dispatcher" (
    docsOf "programs.claude-code." {
      programs.claude-code = {
        inherit (hmOptions.programs.claude-code)
          accounts
          defaultAccount
          accountFor
          profiles
          accountsHelper
          ;
      };
    }
  )}
  ${section "NixOS: `programs.claude-code`" (
    docsOf "programs.claude-code." { inherit (nixosOptions.programs) claude-code; }
  )}
  ${section "nix-darwin: `programs.claude-code`" (
    docsOf "programs.claude-code." { inherit (darwinOptions.programs) claude-code; }
  )}''
