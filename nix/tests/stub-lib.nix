# A small stand-in for the nixpkgs `lib` functions nix/module.nix and nix/unit.nix use, so the real
# module can be evaluated with Debian's nix-instantiate and no nixpkgs (CI has no network for it).
# Semantics follow nixpkgs' lib for the cases the module exercises.
rec {
  mkEnableOption = name: {
    _option = true;
    default = false;
    description = "Whether to enable ${name}.";
  };
  mkOption = attrs: attrs // { _option = true; };
  types = {
    package = "package";
    str = "str";
    bool = "bool";
    listOf = t: "listOf ${t}";
    attrsOf = t: "attrsOf ${t}";
  };
  mkIf = cond: content: if cond then content else { };
  optionals = cond: list: if cond then list else [ ];
  last = list: builtins.elemAt list (builtins.length list - 1);
  splitString = sep: s: builtins.filter builtins.isString (builtins.split (escapeRegex sep) s);
  escapeRegex = s: builtins.replaceStrings [ "." "[" "]" "(" ")" "*" "+" "?" "^" "$" "|" "\\" ] [ "\\." "\\[" "\\]" "\\(" "\\)" "\\*" "\\+" "\\?" "\\^" "\\$" "\\|" "\\\\" ] s;
  toInt = s: builtins.fromJSON s;
  escapeShellArg =
    arg:
    if builtins.match "[[:alnum:],._+:@%/=-]+" arg != null then
      arg
    else
      "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] arg}'";
  escapeShellArgs = args: builtins.concatStringsSep " " (map escapeShellArg args);
  concatMapStrings = f: list: builtins.concatStringsSep "" (map f list);
  mapAttrsToList = f: set: map (name: f name set.${name}) (builtins.attrNames set);
  filterAttrs = pred: set: builtins.listToAttrs (builtins.filter (x: pred x.name x.value) (map (name: { inherit name; value = set.${name}; }) (builtins.attrNames set)));
}
