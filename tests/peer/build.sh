#!/usr/bin/env bash
# Builds the C++ reference test peer from schemas/ with Debian's capnproto (capnp compile -oc++) and
# g++, linking libcapnp-rpc and libcapnp-json (the JSON-RPC over IPC it answers on stock master).
# Cached: rebuilds only when the sources, the schemas or this script change. schemas/v30 and
# schemas/v31 are not compiled in: they share file IDs with schemas/*.capnp, and the peer serves
# those flavours from the branch schema by routing ordinals itself (see InitImpl::dispatchCall).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/build"
bin="$out/bitcoind-ipc-test-peer"
for tool in capnp capnpc-c++ g++ pkg-config; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool not found (install capnproto libcapnp-dev g++ pkg-config)" >&2; exit 1; }
done
for pc in capnp-rpc capnp-json; do
  pkg-config --exists "$pc" || { echo "build.sh: pkg-config cannot find $pc (install libcapnp-dev)" >&2; exit 1; }
done
stamp=$(cat "$0" "$here"/*.c++ "$root"/schemas/*.capnp "$root"/schemas/mp/*.capnp | sha256sum | cut -c1-16)
if [ -x "$bin" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
rm -rf "$out/gen"
mkdir -p "$out/gen"
(cd "$root/schemas" && capnp compile -I. --no-standard-import -I/usr/include --src-prefix=. -oc++:"$out/gen" ./*.capnp mp/proxy.capnp)
srcs=("$here"/*.c++)
for f in "$out"/gen/*.c++ "$out"/gen/mp/*.c++; do srcs+=("$f"); done
# shellcheck disable=SC2046
g++ -std=c++17 -O2 -g0 -Wall -Wno-unused-parameter -I"$out/gen" -o "$bin.tmp" "${srcs[@]}" $(pkg-config --cflags --libs capnp-rpc capnp-json) -pthread
mv "$bin.tmp" "$bin"
echo "$stamp" > "$out/stamp"
