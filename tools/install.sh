#!/bin/sh
# deno task install [PREFIX]    (default: ~/.local)
#
# Installs the exporter without Nix: PREFIX/lib/bitcoind-ipc-exporter/ (the bundle, `deno task bundle`:
# main.js and its chunks, no node_modules needed to run it, so the clone can go; and deno-dir/, Deno's
# analysis of those modules, made here and only read when the exporter runs) and the launcher
# PREFIX/bin/bitcoind-ipc-exporter, which is nix/wrapper.sh with its @deno@, @main@ and @denodir@
# placeholders filled in: the Deno running this install, the bundle and that cache. The launcher derives
# the narrow permissions from its arguments, as `deno task start` does.
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
rm -f "$lib/bitcoind-ipc-exporter.js" # an earlier install's one-file bundle
DENO=$deno sh "$here/tools/bundle.sh" "$lib"
sed -e "s|@deno@|$deno_path|" -e "s|@main@|$lib/main.js|" -e "s|@denodir@|$lib/deno-dir|" "$here/nix/wrapper.sh" >"$bin.tmp"
chmod 755 "$bin.tmp"
mv "$bin.tmp" "$bin"
# Deno's cache, filled by the launcher itself (so with the V8 flags it runs the exporter with) and readable by
# any user (the service's): twice, because a cache one run has made still needs a write on opening it, and
# a user who cannot write it (the systemd unit's) would have Deno give it up and analyse every module again
# (`DENO_LOG=debug`: "Failed creating cache db"); after the second run it opens read-only. tests/quickstart_test.ts.
for _ in 1 2; do
  env -u DENO_DIR "$bin" --version >/dev/null
done
chmod -R a+rX "$lib"
echo "installed $bin (runs $lib/main.js with $deno_path)"
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) echo "add $prefix/bin to PATH to run it as bitcoind-ipc-exporter" ;;
esac
