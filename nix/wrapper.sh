#!/bin/sh
# bitcoind-ipc-exporter launcher: runs main.ts under Deno with exactly the permissions its arguments
# need (the node's socket and the listen address), never more. The Nix package installs it as
# bin/bitcoind-ipc-exporter with @deno@, @main@ and @denoDir@ filled in; the environment variables
# below override them (tests, development). BITCOIND_IPC_EXPORTER_DRY_RUN=1 prints the command
# instead of running it.
set -eu

deno=${BITCOIND_IPC_EXPORTER_DENO:-@deno@}
main=${BITCOIND_IPC_EXPORTER_MAIN:-@main@}
deno_dir=${BITCOIND_IPC_EXPORTER_DENO_DIR:-@denoDir@}

# The same reading of the command line as main.ts: the positional argument is the socket, and
# --metrics-addr / --web.listen-address (as "--flag value" or "--flag=value") the listen address.
# --flavour's value is skipped, so it is never taken for the socket.
socket=""
listen="127.0.0.1:9332"
expect_value=""
for arg in "$@"; do
  case "$expect_value" in
    listen) listen=$arg; expect_value=""; continue ;;
    skip) expect_value=""; continue ;;
  esac
  case "$arg" in
    --metrics-addr | --web.listen-address) expect_value=listen ;;
    --metrics-addr=* | --web.listen-address=*) listen=${arg#*=} ;;
    --flavour) expect_value=skip ;;
    -*) ;;
    *) socket=$arg ;;
  esac
done

if [ -n "$socket" ]; then
  set -- "--allow-read=$socket" "--allow-write=$socket" "--allow-net=unix:$socket,$listen" "$main" "$@"
else
  # No socket path (or --help/--version): no permissions at all; main.ts explains the usage.
  set -- "$main" "$@"
fi
set -- run --cached-only --frozen --no-prompt "$@"

if [ "${BITCOIND_IPC_EXPORTER_DRY_RUN:-}" = 1 ]; then
  printf '%s\n' "$deno $*"
  exit 0
fi
case "$deno_dir" in @*) ;; *) export DENO_DIR="$deno_dir" ;; esac
export NO_COLOR="${NO_COLOR:-1}"
exec "$deno" "$@"
