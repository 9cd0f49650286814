#!/bin/sh
# bitcoind-ipc-exporter launcher: runs main.ts under Deno with exactly the permissions its arguments
# need (the node's socket and the listen address), never more. The Nix package installs it as
# bin/bitcoind-ipc-exporter with @deno@, @main@ and @denoDir@ filled in; the environment variables
# below override them (tests, development). BITCOIND_IPC_EXPORTER_DRY_RUN=1 prints the environment
# it sets and the command instead of running it.
set -eu

deno=${BITCOIND_IPC_EXPORTER_DENO:-@deno@}
main=${BITCOIND_IPC_EXPORTER_MAIN:-@main@}
deno_dir=${BITCOIND_IPC_EXPORTER_DENO_DIR:-@denoDir@}

usage="usage: bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] [--flavour F] <socket-path>"
# One line (the path cannot work), or one line and the usage (a bad flag value), exit 2: as main.ts.
refuse() {
  printf 'bitcoind-ipc-exporter: %s\n' "$1" >&2
  exit 2
}
refuse_usage() {
  printf 'bitcoind-ipc-exporter: %s\n%s\n' "$1" "$usage" >&2
  exit 2
}

# The same reading of the command line as main.ts (src/cli.ts): the positional argument is the
# socket, --metrics-addr / --web.listen-address (as "--flag value" or "--flag=value") the listen
# address; --flavour's value is skipped, so it is never taken for the socket; after "--" every
# argument is positional. A relative socket path is made absolute against the physical working
# directory, in the arguments main.ts gets too, so the permissions name exactly the path it uses.
socket=""
listen="127.0.0.1:9332"
expect_value=""
positional_only=""
for arg in "$@"; do
  shift
  if [ -n "$expect_value" ]; then
    if [ "$expect_value" = listen ]; then listen=$arg; fi
    expect_value=""
  elif [ -z "$positional_only" ] && [ "$arg" = -- ]; then
    positional_only=1
  elif [ -z "$positional_only" ] && case "$arg" in -*) true ;; *) false ;; esac; then
    case "$arg" in
      --metrics-addr | --web.listen-address) expect_value=listen ;;
      --metrics-addr=* | --web.listen-address=*) listen=${arg#*=} ;;
      --flavour) expect_value=skip ;;
    esac
  else
    # Deno's permission flags are comma-separated lists with no escape: a comma in the path would
    # grant other paths (`S,tmp` run from / grants /tmp) and cannot name this one.
    case "$arg" in
      *,*) refuse "socket path \"$arg\" contains a comma, which Deno's permission flags cannot express: use a path without one, e.g. a symlink to the socket" ;;
      "~"*) refuse "socket path \"$arg\" starts with \"~\", which the shell did not expand (was it quoted?): write it unquoted, or as \$HOME/... or an absolute path" ;;
      "") ;;
      /*) ;;
      *)
        cwd=$(pwd -P 2>/dev/null) || cwd=""
        case "$cwd" in /*) ;; *) refuse "relative socket path \"$arg\", but the working directory is unavailable" ;; esac
        arg="${cwd%/}/$arg"
        ;;
    esac
    socket=$arg
  fi
  set -- "$@" "$arg"
done

if [ -n "$socket" ]; then
  # The listen address goes into --allow-net as written: HOST:PORT with a host name, an IPv4
  # address or a bracketed IPv6 address, nothing else (a comma would add a host to the grant:
  # "0.0.0.0:9332,evil.example:80").
  case "$listen" in
    \[*\]:*)
      host=${listen%]:*}
      host=${host#\[}
      port=${listen##*]:}
      case "$host" in *:*) ;; *) host="," ;; esac # an IPv6 address has a colon
      case "$host" in '' | *[!0-9A-Fa-f:.]*) host="," ;; esac
      ;;
    *:*)
      host=${listen%:*}
      port=${listen##*:}
      case "$host" in '' | .* | *..* | *[!A-Za-z0-9._-]*) host="," ;; esac
      ;;
    *) host="," port="" ;;
  esac
  case "$port" in '' | *[!0-9]* | ??????*) host="," ;; esac
  while case "$port" in 0?*) true ;; *) false ;; esac; do port=${port#0}; done
  if [ "$host" = "," ] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    refuse_usage "invalid listen address \"$listen\": expected HOST:PORT, e.g. 127.0.0.1:9332 or [::1]:9332"
  fi
  case "$listen" in \[*) listen="[$host]:$port" ;; *) listen="$host:$port" ;; esac
  set -- "--allow-read=$socket" "--allow-write=$socket" "--allow-net=unix:$socket,$listen" "$main" "$@"
else
  # No socket path (or --help/--version): no permissions at all; main.ts explains the usage.
  set -- "$main" "$@"
fi
# V8's young generation capped at 1 MiB per semi-space (default: grows to 16 MiB): steady RSS 4-7 MiB lower under
# callbacks and a scrape a second (72 vs 78 MiB), scavenges of 0.06 ms instead of 0.25 ms, callback p50 unchanged,
# p99 ~10% higher (more frequent scavenges); no cap on the old space (BENCHMARKS.md "Memory" says why).
set -- run --cached-only --frozen --no-prompt --v8-flags=--max-semi-space-size=1 "$@"

# Deno's update check would contact dl.deno.land from this process, outside the permission sandbox
# (deno run does it in the runtime itself, once a day per DENO_DIR): never from an exporter.
export DENO_NO_UPDATE_CHECK=1
export NO_COLOR="${NO_COLOR:-1}"
case "$deno_dir" in @*) ;; *) export DENO_DIR="$deno_dir" ;; esac

if [ "${BITCOIND_IPC_EXPORTER_DRY_RUN:-}" = 1 ]; then
  printf 'DENO_NO_UPDATE_CHECK=%s NO_COLOR=%s %s\n' "$DENO_NO_UPDATE_CHECK" "$NO_COLOR" "$deno $*"
  exit 0
fi
exec "$deno" "$@"
