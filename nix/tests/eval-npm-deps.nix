# Evaluates nix/npm-deps.nix on a given lock with stand-ins (no nixpkgs): fetchurl answers
# `tarballDir`/<name>. Prints the packages it fetches (key, url, hash, tarball path) and the layout script:
#   nix-instantiate --eval --strict --json nix/tests/eval-npm-deps.nix --argstr lockFile FILE --argstr tarballDir DIR
{
  lockFile,
  tarballDir,
}:
let
  deps = import ../npm-deps.nix {
    lib = import ./stub-lib.nix;
    fetchurl =
      {
        name,
        url,
        hash,
      }:
      {
        inherit name url hash;
        outPath = "${tarballDir}/${name}";
      };
    inherit lockFile;
  };
in
{
  fetches = map (key: {
    inherit key;
    inherit (deps.tarballs.${key}) name url hash;
  }) (builtins.attrNames deps.tarballs);
  inherit (deps) script;
}
