# nixpkgs' Bitcoin Core built with IPC (multiprocess): gives `bitcoin-node`, which serves the IPC socket
# with -ipcbind=unix. `src` defaults to the flake's multiprocess branch input (pr/trace, the flavour
# with Chain, Node and Tracing); override it for another branch or a release.
{
  lib,
  bitcoind,
  libsodium,
  capnproto,
  src,
  version ? "30.99-multiprocess",
}:
bitcoind.overrideAttrs (old: {
  pname = "bitcoin-node";
  inherit version src;
  buildInputs = (old.buildInputs or [ ]) ++ [ libsodium capnproto ];
  cmakeFlags = (old.cmakeFlags or [ ]) ++ [ (lib.cmakeBool "ENABLE_IPC" true) ];
  preUnpack = "";
  doCheck = false;
  doInstallCheck = false;
  postInstall = (old.postInstall or "") + ''
    if [ -e $out/libexec/bitcoin-node ]; then ln -sf $out/libexec/bitcoin-node $out/bin/bitcoin-node; fi
  '';
})
