#!/bin/sh
# deno task compile [--metrics-addr HOST:PORT] [--flavour F] [--[no-]collector.NAME ...] [<socket-path> | --datadir DIR] [--chain C]
#
# Builds dist/bitcoind-ipc-exporter, a standalone binary, in two steps: `deno task bundle` writes
# dist/bundle/ (main.js and its chunks), then `deno compile` turns that into the binary (the chunks main.js
# imports when needed go in with it). Compiling
# main.ts directly crashed Deno 2.9 ("thread 'tokio-runtime-worker' has overflowed its stack",
# denoland/deno#36746) while prom-client's npm tree was in the module graph; the exporter no longer
# loads prom-client, and the bundle (no npm graph left) keeps the compile step away from that bug
# whatever npm packages the graph holds.
#
# A compiled binary cannot be given permissions when it runs: Deno bakes them in at compile time.
# So the arguments are the exporter's own, and the binary gets exactly the permissions nix/wrapper.sh
# derives from them (the socket and the listen address, nothing else), with the arguments embedded:
# it then runs with no arguments. For another socket or address, compile again. With no socket
# path, the launcher's default: ~/.bitcoin[/<chain>]/node.sock of the user who compiles.
#
# DIST_DIR (default dist) is where both files go. DENORT_BIN=<any ELF executable> makes `deno compile`
# use that file as the runtime instead of downloading Deno's (denort) once: the whole compile step
# then runs offline (CI does this; tests/compile_test.ts), but the output is not runnable.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd -P)
deno=${DENO:-deno}
dist=${DIST_DIR:-dist}

if [ "${BITCOIND_IPC_EXPORTER_COMPILE_STAGE:-}" = compile ]; then
  # Stage two: nix/wrapper.sh calls this script in place of Deno, as
  # `run --cached-only --frozen --no-prompt [--v8-flags=...] <permission flags> <bundle> <arguments>`.
  # The V8 flags are baked in like the permissions (deno compile --v8-flags).
  shift 4
  perms=""
  for a in "$@"; do
    case "$a" in --allow-* | --v8-flags=*) perms="$perms $a"; shift ;; *) break ;; esac
  done
  case "$perms" in
    *--allow-read=*) ;;
    *)
      echo "deno task compile: give the socket path the binary is for, e.g. deno task compile /var/lib/bitcoind/node.sock (Deno bakes the permissions in at compile time; with no HOME there is no default)" >&2
      exit 2
      ;;
  esac
  bundle=$1
  shift
  # $perms holds flags the launcher derived and checked: no spaces or commas can widen them
  # (it refuses paths with commas; a path with a space would be split here, and refused by Deno).
  # shellcheck disable=SC2086
  exec "$deno" compile --no-config --no-prompt $perms --output "$dist/bitcoind-ipc-exporter" "$bundle" "$@"
fi

cd "$here"
mkdir -p "$dist"
case "$dist" in /*) ;; *) dist="$here/$dist" ;; esac # tools/bundle.sh takes a relative path from INIT_CWD
DENO=$deno sh tools/bundle.sh "$dist/bundle"
BITCOIND_IPC_EXPORTER_COMPILE_STAGE=compile DIST_DIR=$dist \
  BITCOIND_IPC_EXPORTER_DENO="$here/tools/compile.sh" BITCOIND_IPC_EXPORTER_MAIN="$dist/bundle/main.js" \
  DENO=$deno exec sh nix/wrapper.sh "$@"
