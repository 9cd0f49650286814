# Evaluates the real nix/package.nix with stand-ins for nixpkgs (Debian's nix-instantiate, no
# nixpkgs): fetchurl records its url and hash and answers the path `tarballDir`/<name>, where the
# test puts the tarball `npm pack` fetched; mkDerivation returns its arguments. Prints what the
# package fetches and its install phase, which tests/install_test.ts runs:
#   nix-instantiate --eval --strict --json nix/tests/eval-package.nix --argstr src DIR --argstr tarballDir DIR --argstr deno PATH
{
  src,
  tarballDir,
  deno,
}:
let
  lib = import ./stub-lib.nix // {
    getExe = p: p;
    licenses.mit = "MIT";
    platforms.linux = [ "x86_64-linux" ];
  };
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
  stdenvNoCC = {
    hostPlatform.isAarch64 = false;
    mkDerivation = attrs: attrs;
  };
  pkg = import ../package.nix {
    inherit
      lib
      stdenvNoCC
      deno
      fetchurl
      src
      ;
    version = "0.0.0";
  };
in
{
  fetches = map (key: {
    inherit key;
    inherit (pkg.passthru.tarballs.${key}) name url hash;
  }) (builtins.attrNames pkg.passthru.tarballs);
  inherit (pkg) installPhase;
}
