#!/usr/bin/env bash
# The project's whole test run: installs what it needs on a fresh Debian machine (Deno from npm,
# capnproto/libcapnp-dev/g++/pkg-config for the C++ test peer, nix-bin and systemd for the packaging
# checks), then checks generated code, formatting, lint and types, builds the C++ peer, runs every
# test (the interop suite cannot be skipped: a missing tool is a failure) and a benchmark smoke run.
# Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
APT_PACKAGES=(capnproto libcapnp-dev g++ pkg-config nix-bin systemd)

log() { printf '== %s\n' "$*" >&2; }

install_deps() {
  if ! command -v deno >/dev/null || [ "$(deno --version | awk 'NR==1{print $2}')" != "$DENO_VERSION" ]; then
    log "installing deno $DENO_VERSION from npm"
    npm install -g "deno@$DENO_VERSION" >&2 || return 1
  fi
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2 || return 1
  fi
}

if ! install_deps; then
  echo "could not install the test prerequisites" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

export NO_COLOR=1
passed=0
failed=0
step() { # name, command...: a check that counts as one test
  local name=$1; shift
  log "$name"
  if "$@" >&2; then passed=$((passed + 1)); else failed=$((failed + 1)); log "FAILED: $name"; fi
}

step "deno install --frozen" deno install --frozen
step "generated code is up to date (deno task gen --check)" deno run --allow-read --allow-write --allow-run=capnp --allow-env tools/gen.ts --check
step "deno fmt --check" deno fmt --check
step "deno lint" deno lint
step "deno check" deno check main.ts src/ tests/ tools/
step "build the C++ test peer" bash tests/peer/build.sh

log "deno test"
out=$(mktemp)
deno test --allow-all --trace-leaks 2>&1 | tee "$out" >&2
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tail -n 1)
if [ -z "$summary" ]; then
  log "deno test printed no summary"
  failed=$((failed + 1))
else
  p=$(sed -E 's/^[^|]*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  f=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
  passed=$((passed + p)); failed=$((failed + f))
fi
rm -f "$out"

step "benchmark smoke run (deno task bench --smoke)" deno run --allow-all bench/bench.ts --smoke

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
