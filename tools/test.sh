#!/usr/bin/env bash
# The project's whole test run: installs what it needs on a fresh Debian machine (Deno from npm,
# capnproto/libcapnp-dev/g++/pkg-config for the C++ test peer, nix-bin and systemd for the packaging
# checks, prometheus for promtool and the real-Prometheus test, curl for the README quick start, podman and runc
# for the container image),
# then checks generated code, formatting, lint and types, builds the C++ peer, runs every test (the interop suite cannot be skipped: a missing tool is a failure) and a benchmark smoke run.
# Ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

DENO_VERSION=2.9.6
# podman and runc build and run the container image (tests/container_test.ts; runc: crun fails on hybrid
# cgroups); iproute2 brings loopback up in the offline network namespace of tests/install_test.ts.
APT_PACKAGES=(capnproto libcapnp-dev g++ pkg-config nix-bin systemd prometheus curl podman runc iproute2)
# Installed without their Recommends (prometheus recommends prometheus-node-exporter, another daemon).
NO_RECOMMENDS=(prometheus)

log() { printf '== %s\n' "$*" >&2; }

install_deps() {
  if ! command -v deno >/dev/null || [ "$(deno --version | awk 'NR==1{print $2}')" != "$DENO_VERSION" ]; then
    log "installing deno $DENO_VERSION from npm"
    npm install -g "deno@$DENO_VERSION" >&2 || return 1
  fi
  local missing=() plain=() bare=()
  # Installed means "install ok installed": a removed package whose configuration files remain
  # ("rc") still answers `dpkg -s` with exit 0.
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    for p in "${missing[@]}"; do
      if [[ " ${NO_RECOMMENDS[*]} " == *" $p "* ]]; then bare+=("$p"); else plain+=("$p"); fi
    done
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    # The prometheus package ships a system service and its postinst starts it (invoke-rc.d, or
    # systemctl where systemd runs). The tests run their own Prometheus on a random loopback port
    # and must never leave the package's running: a policy-rc.d that denies every start (exit 101,
    # Debian's mechanism) is in place for the install unless one already is, and the unit is
    # stopped and masked afterwards where systemd is PID 1.
    local policy=/usr/sbin/policy-rc.d own_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && own_policy=1
    fi
    local ok=0
    $sudo apt-get update -qq >&2 || ok=1
    if [ $ok -eq 0 ] && [ ${#plain[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${plain[@]}" >&2 || ok=1
    fi
    if [ $ok -eq 0 ] && [ ${#bare[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${bare[@]}" >&2 || ok=1
    fi
    [ -n "$own_policy" ] && $sudo rm -f "$policy"
    if [ -d /run/systemd/system ] && systemctl list-unit-files prometheus.service >/dev/null 2>&1; then
      $sudo systemctl disable --now prometheus.service >&2 2>/dev/null || true
      $sudo systemctl mask prometheus.service >&2 2>/dev/null || true
    fi
    return $ok
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
step "generated code is up to date (deno task gen --check)" deno run --config tools/gen/deno.json --frozen --allow-read --allow-write --allow-run=capnp --allow-env tools/gen.ts --check
step "deno fmt --check" deno fmt --check
step "deno lint" deno lint
step "deno check" deno check main.ts src/ tests/ tools/
step "build the C++ test peer" bash tests/peer/build.sh
step "promtool check rules alerts/" promtool check rules alerts/bitcoind-ipc-exporter.rules.yml
step "promtool test rules alerts/tests.yml" promtool test rules alerts/tests.yml

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
