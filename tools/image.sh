#!/bin/sh
# deno task image
#
# Builds the container image (Containerfile) with podman, or docker where there is no podman:
#   IMAGE   the tag (default localhost/bitcoind-ipc-exporter:<version>)
#   BASE    the image to build FROM, with Deno 2.9 at /bin/deno (e.g. docker.io/denoland/deno:distroless-2.9.6);
#           by default one made here FROM scratch: the Deno running this task (its real binary, not an npm shim)
#           and the shared libraries `ldd` names for it, nothing else (no shell), imported as
#           localhost/bitcoind-ipc-exporter-base:<deno version> once (REBUILD_BASE=1 makes it again).
#           Nothing is pulled from a registry.
#   CONTAINER_TOOL  podman or docker; CONTAINER_BUILD_FLAGS  more `build` flags (e.g. --runtime runc)
#   IMAGE_SOURCE    the org.opencontainers.image.source label (default: the clone's origin URL)
# The build context is a temporary directory holding the Containerfile and the bundle (`deno task bundle`) in app/.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd -P)
deno=${DENO:-deno}
tool=${CONTAINER_TOOL:-}
if [ -z "$tool" ]; then
  if command -v podman >/dev/null 2>&1; then tool=podman; elif command -v docker >/dev/null 2>&1; then tool=docker; else
    echo "deno task image: neither podman nor docker is installed (apt-get install podman runc)" >&2
    exit 1
  fi
fi
version=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$here/deno.json")
image=${IMAGE:-localhost/bitcoind-ipc-exporter:$version}
source=${IMAGE_SOURCE:-$(git -C "$here" remote get-url origin 2>/dev/null || true)}
revision=$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

if [ -z "${BASE:-}" ]; then
  # The real Deno binary: `npm install -g deno` puts it behind a symlink, or a node shim that execs the
  # platform package's binary (@deno/linux-x64-glibc/deno); DENO_BIN names it when neither is found.
  bin=${DENO_BIN:-$(readlink -f "$(command -v "$deno")")}
  if [ "$(od -An -c -N4 "$bin" | tr -d ' ')" != '177ELF' ]; then
    for b in "$(dirname "$bin")"/node_modules/@deno/linux-*/deno "$(npm root -g 2>/dev/null)"/deno/node_modules/@deno/linux-*/deno; do
      [ -f "$b" ] && bin=$b && break
    done
  fi
  [ "$(od -An -c -N4 "$bin" | tr -d ' ')" = '177ELF' ] || {
    echo "deno task image: $bin is not the Deno binary; set DENO_BIN to it" >&2
    exit 1
  }
  deno_version=$("$bin" --version | awk 'NR==1{print $2}')
  BASE=localhost/bitcoind-ipc-exporter-base:$deno_version
fi
# Made once per Deno version (REBUILD_BASE=1 makes it again), from a reproducible tar.
if [ -n "${deno_version:-}" ] && { [ -n "${REBUILD_BASE:-}" ] || ! $tool image inspect "$BASE" >/dev/null 2>&1; }; then
  root="$ctx/rootfs"
  mkdir -p "$root/bin" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp "$bin" "$root/bin/deno"
  # Every library the dynamic loader resolves for it, and the loader itself, at the same paths.
  for lib in $(ldd "$bin" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  # The base's config: deno as the entrypoint, as the official images.
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . | $tool import --change 'ENTRYPOINT ["/bin/deno"]' - "$BASE" >/dev/null
  rm -rf "$root"
  echo "base $BASE: FROM scratch, /bin/deno ($deno_version) and $(ldd "$bin" | grep -c '/') libraries" >&2
fi

cp "$here/Containerfile" "$ctx/Containerfile"
DENO=$deno sh "$here/tools/bundle.sh" "$ctx/app"
# shellcheck disable=SC2086
$tool build ${CONTAINER_BUILD_FLAGS:-} --build-arg "BASE=$BASE" --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" ${source:+--build-arg "SOURCE=$source"} -t "$image" -f "$ctx/Containerfile" "$ctx" >&2
echo "$image"
