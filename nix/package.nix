# The exporter as a Nix package: the sources, their npm dependencies fetched reproducibly, and a
# launcher that runs main.ts with Deno under exactly the permissions its arguments need.
{
  lib,
  stdenvNoCC,
  deno,
  fetchurl,
  version,
  src,
}:
let
  # deno.lock is the only pin: one fetch per npm package, by the integrity the lock records, laid
  # out as `deno install` would (nix/npm-deps.nix). No hash to fill in, and a change of the lock
  # needs no edit here.
  npmDeps = import ./npm-deps.nix {
    inherit lib fetchurl;
    lockFile = "${src}/deno.lock";
    cpu = if stdenvNoCC.hostPlatform.isAarch64 then "arm64" else "x64";
  };
in
stdenvNoCC.mkDerivation {
  pname = "bitcoind-ipc-exporter";
  inherit version src;
  dontConfigure = true;
  dontBuild = true;
  # Everything main.ts loads: its sources, the generated code, and the config and lock it reads.
  # Nothing is fetched at run time (--cached-only, node_modules laid out here). deno-dir/ is Deno's
  # cache, made here and only read at run time (the launcher's DENO_DIR): every module analysed and
  # compiled from TypeScript (`deno cache`, which also covers the modules main.ts imports only when
  # needed), then two runs of the launcher itself (its V8 flags; after one, the cache still needs a
  # write on opening, and Deno, unable to write the store, would give it up). Without it Deno does
  # all that again at each start and keeps what it took: 13-19 MiB more RSS for the life of the
  # process (BENCHMARKS.md "Memory: the shipped bundle").
  installPhase = ''
    runHook preInstall
    mkdir -p $out/lib/bitcoind-ipc-exporter $out/bin
    cp -r main.ts deno.json deno.lock src gen $out/lib/bitcoind-ipc-exporter/
    chmod -R u+w $out/lib/bitcoind-ipc-exporter
    (
      cd $out/lib/bitcoind-ipc-exporter
      ${npmDeps.script}
    )
    substitute nix/wrapper.sh $out/bin/bitcoind-ipc-exporter \
      --subst-var-by deno ${lib.getExe deno} \
      --subst-var-by main $out/lib/bitcoind-ipc-exporter/main.ts \
      --subst-var-by denodir $out/lib/bitcoind-ipc-exporter/deno-dir
    chmod +x $out/bin/bitcoind-ipc-exporter
    (
      cd $out/lib/bitcoind-ipc-exporter
      DENO_DIR=$out/lib/bitcoind-ipc-exporter/deno-dir DENO_NO_UPDATE_CHECK=1 ${lib.getExe deno} cache --frozen --quiet main.ts
    )
    for _ in 1 2; do
      env -u DENO_DIR sh $out/bin/bitcoind-ipc-exporter --version >/dev/null
    done
    runHook postInstall
  '';
  passthru = {
    inherit (npmDeps) packages tarballs;
  };
  meta = {
    description = "Prometheus exporter for Bitcoin Core over its multiprocess IPC socket";
    license = lib.licenses.mit;
    mainProgram = "bitcoind-ipc-exporter";
    platforms = lib.platforms.linux;
  };
}
