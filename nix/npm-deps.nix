# The npm dependencies of a deno.lock, for the Nix package, with no hash to maintain: each package's
# tarball is a fixed-output fetch pinned by the integrity the lock itself records (nothing else is
# downloaded at build time), so a change of deno.lock needs no Nix edit. `script` lays them out as
# `deno install` does, in the working directory:
#   node_modules/.deno/<name>@<version>/node_modules/<name>     the unpacked tarball
#   node_modules/.deno/<name>@<version>/node_modules/<dep>      a symlink to each dependency
#   node_modules/<name>                                         a symlink for each direct dependency
# and switches deno.json to "nodeModulesDir": "manual": Deno then resolves npm: specifiers through
# node_modules alone (as Node does), writes nothing there and needs no npm cache in DENO_DIR, so the
# exporter runs from the read-only store with `--cached-only` and no network
# (tests/install_test.ts builds this very layout from `npm pack` tarballs and runs it so).
{
  lib,
  fetchurl,
  lockFile,
  # Optional packages built for another platform are left out, as `deno install` does (npm's names).
  os ? "linux",
  cpu ? "x64",
  registry ? "https://registry.npmjs.org",
}:
let
  lock = builtins.fromJSON (builtins.readFile lockFile);
  npm = lock.npm or { };
  # Only npm packages are supported (the project imports no jsr: or remote modules).
  checked =
    if (lock.jsr or { }) != { } || (lock.remote or { }) != { } then
      throw "deno.lock has jsr: or remote entries; nix/npm-deps.nix lays out npm packages only"
    else if lock.version != "5" then
      throw "deno.lock version ${lock.version}: nix/npm-deps.nix reads version 5"
    else
      npm;

  # A lock key is name@version, then one _peer@version suffix per resolved peer dependency.
  parseKey =
    key:
    let
      m = builtins.match "(@?[^@]+)@([^_]+)(_.*)?" key;
    in
    if m == null then
      throw "deno.lock: unexpected npm package key ${key}"
    else
      {
        name = builtins.elemAt m 0;
        version = builtins.elemAt m 1;
      };
  unscoped =
    name:
    let
      m = builtins.match "@[^/]+/(.*)" name;
    in
    if m == null then name else builtins.head m;
  # Deno's folder name for a package: its key, "/" of a scope as "+".
  folder = key: builtins.replaceStrings [ "/" ] [ "+" ] key;

  # npm's os/cpu lists: a package for another platform is skipped ("!x" excludes x).
  allows =
    list: value:
    list == [ ]
    || builtins.elem value list
    || (
      builtins.any (x: builtins.substring 0 1 x == "!") list && !(builtins.elem "!${value}" list)
    );
  wanted = builtins.filter (key: allows (checked.${key}.os or [ ]) os && allows (checked.${key}.cpu or [ ]) cpu) (
    builtins.attrNames checked
  );

  # A dependency as the lock writes it: the name alone (one version of it in the lock), the key
  # (several), or "alias@npm:key" (an alias). Returns the name it is linked as and the key.
  resolveDep =
    dep:
    let
      alias = builtins.match "(@?[^@]+)@npm:(.*)" dep;
      byName = builtins.filter (k: (parseKey k).name == dep) (builtins.attrNames checked);
    in
    if alias != null then
      {
        as = builtins.elemAt alias 0;
        key = builtins.elemAt alias 1;
      }
    else if checked ? ${dep} then
      {
        as = (parseKey dep).name;
        key = dep;
      }
    else if builtins.length byName == 1 then
      {
        as = dep;
        key = builtins.head byName;
      }
    else
      throw "deno.lock: dependency ${dep} names no single package";

  packages = map (
    key:
    let
      entry = checked.${key};
      p = parseKey key;
      hash = entry.integrity or (throw "deno.lock: ${key} has no integrity (a patched package?)");
    in
    {
      inherit key hash;
      inherit (p) name version;
      url = entry.tarball or "${registry}/${p.name}/-/${unscoped p.name}-${p.version}.tgz";
      deps = builtins.filter (d: builtins.elem d.key wanted) (
        map resolveDep ((entry.dependencies or [ ]) ++ (entry.optionalDependencies or [ ]))
      );
    }
  ) wanted;

  # Store path names allow no "@" or "/".
  tarballs = builtins.listToAttrs (
    map (p: {
      name = p.key;
      value = fetchurl {
        name = "npm-${builtins.replaceStrings [ "@" "/" ] [ "-" "+" ] p.key}.tgz";
        inherit (p) url hash;
      };
    }) packages
  );

  # The workspace's direct dependencies ("npm:name@range" → the lock's specifiers → a key).
  direct = map (
    spec:
    let
      m = builtins.match "npm:(@?[^@]+)@.*" spec;
      name = builtins.head m;
    in
    if m == null then
      throw "deno.lock: unexpected workspace dependency ${spec}"
    else
      {
        inherit name;
        key = "${name}@${lock.specifiers.${spec}}";
      }
  ) ((lock.workspace or { }).dependencies or [ ]);

  q = lib.escapeShellArg;
  # The relative path up from node_modules/<name> (one more level under a scope).
  up = name: if builtins.substring 0 1 name == "@" then "../" else "";
  dir = key: "node_modules/.deno/${folder key}/node_modules";
  unpack = p: ''
    mkdir -p ${q "${dir p.key}/${p.name}"}
    tar -xzf ${q "${tarballs.${p.key}}"} -C ${q "${dir p.key}/${p.name}"} --strip-components=1 --no-same-owner
    chmod -R u+rwX,go+rX ${q "${dir p.key}/${p.name}"}
  '';
  linkDeps =
    p:
    lib.concatMapStrings (
      d:
      if d.as == p.name then
        ""
      else
        ''
          mkdir -p "$(dirname ${q "${dir p.key}/${d.as}"})"
          ln -s ${q "${up d.as}../../${folder d.key}/node_modules/${(parseKey d.key).name}"} ${q "${dir p.key}/${d.as}"}
        ''
    ) p.deps;
  linkDirect =
    d:
    let
      target = if checked ? ${d.key} then d.key else throw "deno.lock: ${d.key} is not among its npm packages";
    in
    ''
      mkdir -p "$(dirname ${q "node_modules/${d.name}"})"
      ln -s ${q "${up d.name}.deno/${folder target}/node_modules/${d.name}"} ${q "node_modules/${d.name}"}
    '';
in
{
  inherit packages tarballs;
  script = ''
    mkdir -p node_modules/.deno
    ${lib.concatMapStrings unpack packages}
    ${lib.concatMapStrings linkDeps packages}
    ${lib.concatMapStrings linkDirect direct}
    # Deno resolves npm: specifiers through node_modules as laid out above, and never writes to it.
    sed -i 's/"nodeModulesDir": "auto"/"nodeModulesDir": "manual"/' deno.json
    grep -q '"nodeModulesDir": "manual"' deno.json || {
      echo 'nix/npm-deps.nix: deno.json has no "nodeModulesDir": "auto" to switch to "manual"' >&2
      exit 1
    }
  '';
}
