#!/bin/sh
# deno task install [PREFIX]    (default: ~/.local)
#
# Installs the exporter without Nix: PREFIX/lib/bitcoind-ipc-exporter/bitcoind-ipc-exporter.js (the
# one-file bundle: no node_modules or Deno cache needed to run it, and the clone can go) and the
# launcher PREFIX/bin/bitcoind-ipc-exporter, which is nix/wrapper.sh with its @deno@ and @main@
# placeholders filled in: the Deno running this install and the bundle. The launcher derives the
# narrow permissions from its arguments, as `deno task start` does.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd -P)
deno=${DENO:-deno}
prefix=${1:-${HOME:?set HOME or give a PREFIX}/.local}
case "$prefix" in
  /*) ;;
  *) prefix="${INIT_CWD:-$(pwd -P)}/$prefix" ;; # deno task runs in the repository; INIT_CWD is where it was typed
esac
case "$prefix" in
  *[!A-Za-z0-9._/+-]*)
    echo "deno task install: the prefix \"$prefix\" has characters the launcher cannot hold; choose a plain path" >&2
    exit 2
    ;;
esac
# The Deno to run the exporter with, as an absolute path (the launcher may run without this PATH).
deno_path=$(command -v "$deno") || { echo "deno task install: no $deno on PATH" >&2; exit 1; }
lib="$prefix/lib/bitcoind-ipc-exporter"
bin="$prefix/bin/bitcoind-ipc-exporter"
mkdir -p "$lib" "$prefix/bin"
(cd "$here" && "$deno" bundle --quiet --output "$lib/bitcoind-ipc-exporter.js" main.ts)
sed -e "s|@deno@|$deno_path|" -e "s|@main@|$lib/bitcoind-ipc-exporter.js|" "$here/nix/wrapper.sh" >"$bin.tmp"
chmod 755 "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "installed $bin (runs $lib/bitcoind-ipc-exporter.js with $deno_path)"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) echo "add $prefix/bin to PATH to run it as bitcoind-ipc-exporter" ;;
esac
