# The exporter as a Nix package: the sources, their npm dependencies fetched reproducibly, and a
# launcher that runs main.ts with Deno under exactly the permissions its arguments need.
{
  lib,
  stdenvNoCC,
  deno,
  cacert,
  version,
  src,
  # Hash of the dependency fetch below; update it when deno.lock changes (the build failure
  # prints the new one).
  depsHash ? lib.fakeHash,
}:
let
  # Fixed-output derivation: `deno install --frozen` against the committed lock file. Network access
  # is allowed because the output is pinned by depsHash; `--frozen` fails on any drift from deno.lock.
  deps = stdenvNoCC.mkDerivation {
    pname = "bitcoind-ipc-exporter-deps";
    inherit version src;
    nativeBuildInputs = [ deno cacert ];
    dontConfigure = true;
    buildPhase = ''
      export HOME=$TMPDIR
      export DENO_DIR=$out/deno
      deno install --frozen --entrypoint main.ts
      mv node_modules $out/node_modules
    '';
    dontInstall = true;
    dontFixup = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = depsHash;
  };
in
stdenvNoCC.mkDerivation {
  pname = "bitcoind-ipc-exporter";
  inherit version src;
  dontConfigure = true;
  dontBuild = true;
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/bitcoind-ipc-exporter $out/bin
    cp -r main.ts deno.json deno.lock src $out/lib/bitcoind-ipc-exporter/
    ln -s ${deps}/node_modules $out/lib/bitcoind-ipc-exporter/node_modules
    substitute ${./wrapper.sh} $out/bin/bitcoind-ipc-exporter \
      --subst-var-by deno ${lib.getExe deno} \
      --subst-var-by main $out/lib/bitcoind-ipc-exporter/main.ts \
      --subst-var-by denoDir ${deps}/deno
    chmod +x $out/bin/bitcoind-ipc-exporter
    runHook postInstall
  '';
  meta = {
    description = "Prometheus exporter for Bitcoin Core over its multiprocess IPC socket";
    license = lib.licenses.mit;
    mainProgram = "bitcoind-ipc-exporter";
    platforms = lib.platforms.linux;
  };
}
