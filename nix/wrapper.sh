#!/bin/sh
# bitcoind-ipc-exporter launcher: runs main.ts under Deno with exactly the permissions its arguments
# need (the node's socket, the listen address, and with --web.config.file the config and the
# certificate and key it names), never more. The Nix package installs it as
# bin/bitcoind-ipc-exporter with @deno@, @main@ and @denodir@ filled in; the environment variables
# below override them (tests, development). BITCOIND_IPC_EXPORTER_DRY_RUN=1 prints the environment
# it sets and the command instead of running it.
set -eu

deno=${BITCOIND_IPC_EXPORTER_DENO:-@deno@}
main=${BITCOIND_IPC_EXPORTER_MAIN:-@main@}
# The Deno cache filled when the package was built (empty, or the placeholder left as is: none, e.g.
# `deno task start`, which uses the user's own).
denodir=${BITCOIND_IPC_EXPORTER_DENO_DIR:-@denodir@}

usage="usage: bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] [--flavour F] [--[no-]collector.NAME ...] [--web.* ...] [--log.* ...] [<socket-path> | --datadir DIR] [--chain C]"
# One line (the path cannot work), or one line and the usage (a bad flag value), exit 2: as main.ts.
refuse() {
  printf 'bitcoind-ipc-exporter: %s\n' "$1" >&2
  exit 2
}
refuse_usage() {
  printf 'bitcoind-ipc-exporter: %s\n%s\n' "$1" "$usage" >&2
  exit 2
}

# The same reading of the command line as main.ts (src/cli/args.ts): the positional argument is the
# socket, --metrics-addr / --web.listen-address (as "--flag value" or "--flag=value") the listen
# address, --web.config.file the web config; the values of the other flags that take one are
# skipped, so they are never taken for the socket; after "--" every argument is positional. A
# relative socket or config path is made absolute against the physical working directory, in the
# arguments main.ts gets too, so the permissions name exactly the path it uses.
# A socket path as main.ts takes it (src/cli/args.ts socketPathArgument): refused with a comma or an
# unexpanded "~", made absolute against the physical working directory when relative.
resolve_path() {
  # Deno's permission flags are comma-separated lists with no escape: a comma in the path would
  # grant other paths (`S,tmp` run from / grants /tmp) and cannot name this one.
  case "$1" in
    *,*) refuse "socket path \"$1\" contains a comma, which Deno's permission flags cannot express: use a path without one, e.g. a symlink to the socket" ;;
    "~"*) refuse "socket path \"$1\" starts with \"~\", which the shell did not expand (was it quoted?): write it unquoted, or as \$HOME/... or an absolute path" ;;
    "" | /*) resolved=$1 ;;
    *)
      cwd=$(pwd -P 2>/dev/null) || cwd=""
      case "$cwd" in /*) ;; *) refuse "relative socket path \"$1\", but the working directory is unavailable" ;; esac
      resolved="${cwd%/}/$1"
      ;;
  esac
}

socket=""
config=""
datadir=""
chain=""
datadir_given=""
listen="127.0.0.1:9332"
check=""
absolute() {
  case "$1" in
    /*) printf '%s' "$1" ;;
    *)
      cwd=$(pwd -P 2>/dev/null) || cwd=""
      case "$cwd" in /*) ;; *) refuse "relative path \"$1\", but the working directory is unavailable" ;; esac
      printf '%s' "${cwd%/}/$1"
      ;;
  esac
}
expect_value=""
positional_only=""
for arg in "$@"; do
  shift
  if [ -n "$expect_value" ]; then
    case "$expect_value" in
      listen) listen=$arg ;;
      datadir) datadir=$arg datadir_given=1 ;;
      chain) chain=$arg ;;
    esac
    case "$expect_value" in datadir | chain) expect_value="" && continue ;; esac
    if [ "$expect_value" = config ]; then
      case "$arg" in '' | *,*) ;; *) arg=$(absolute "$arg") ;; esac
      config=$arg
    fi
    expect_value=""
  elif [ -z "$positional_only" ] && [ "$arg" = -- ]; then
    positional_only=1
  elif [ -z "$positional_only" ] && case "$arg" in -*) true ;; *) false ;; esac; then
    case "$arg" in
      --metrics-addr | --web.listen-address) expect_value=listen ;;
      --metrics-addr=* | --web.listen-address=*) listen=${arg#*=} ;;
      --web.config.file) expect_value=config ;;
      --web.config.file=*)
        config=${arg#*=}
        case "$config" in '' | *,*) ;; *) config=$(absolute "$config") ;; esac
        arg="--web.config.file=$config"
        ;;
      # --check serves nothing: the socket alone is granted (main.ts asks for no more).
      --check) check=1 ;;
      --flavour | --fee-conf-targets | --web.telemetry-path | --web.scrape-floor | --collector.template.interval | --log.level | --log.format) expect_value=skip ;;
      # --datadir/--chain name the socket (src/cli/datadir.ts): resolved here, and main.ts gets the
      # socket path itself instead, so the permissions name exactly the path it uses.
      --datadir) expect_value=datadir && continue ;;
      --datadir=*) datadir=${arg#*=} datadir_given=1 && continue ;;
      --chain) expect_value=chain && continue ;;
      --chain=*) chain=${arg#*=} && continue ;;
    esac
  else
    resolve_path "$arg"
    arg=$resolved
    socket=$arg
  fi
  set -- "$@" "$arg"
done

if [ -n "$chain" ]; then
  case "$chain" in
    main) chain_dir="" ;;
    test) chain_dir="testnet3/" ;;
    testnet4 | signet | regtest) chain_dir="$chain/" ;;
    *) refuse_usage "invalid --chain \"$chain\": expected main, test, testnet4, signet, regtest" ;;
  esac
else
  chain_dir=""
fi
if [ -n "$socket" ] && { [ -n "$datadir_given" ] || [ -n "$chain" ]; }; then
  refuse_usage "give either <socket-path> or --datadir/--chain, not both"
fi
if [ -z "$socket" ]; then
  # No <socket-path>: <datadir>[/<chain>]/node.sock, the datadir defaulting to ~/.bitcoin.
  if [ -n "$datadir_given" ]; then
    [ -n "$datadir" ] || refuse_usage "empty --datadir"
  elif [ -n "${HOME:-}" ]; then
    datadir="${HOME%/}/.bitcoin"
  fi
  if [ -n "$datadir" ]; then
    resolve_path "${datadir%/}/${chain_dir}node.sock"
    socket=$resolved
    # An absolute path (never taken for a flag), and no "--": arguments added after it (a compiled
    # binary's, tools/compile.sh) stay flags.
    set -- "$@" "$socket"
  fi
fi

if [ -n "$socket" ]; then
  # The listen address goes into --allow-net as written: HOST:PORT with a host name, an IPv4
  # address or a bracketed IPv6 address, nothing else (a comma would add a host to the grant:
  # "0.0.0.0:9332,evil.example:80").
  case "$listen" in :*) listen="0.0.0.0$listen" ;; esac # ":9332" is every IPv4 interface (src/cli/args.ts)
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
fi

# Deno's update check would contact dl.deno.land from this process, outside the permission sandbox
# (deno run does it in the runtime itself, once a day per DENO_DIR): never from an exporter.
export DENO_NO_UPDATE_CHECK=1
export NO_COLOR="${NO_COLOR:-1}"
# One glibc malloc arena for all of Deno's threads (default: up to 8 per core, each keeping the memory its
# thread freed): RSS 1.5 MiB lower after 10^5 callbacks with a scrape a second, callback p50 unchanged
# (BENCHMARKS.md "Memory"). An operator's own value is kept.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-1}"
# Deno's cache of its analysis of each module, made when the package was built (nix/package.nix,
# tools/install.sh, the Containerfile) and only read here. Without one Deno analyses every module again at
# each start, and keeps what that took: 13-19 MiB more RSS for the life of the process. That is every start
# under the systemd unit, whose service user has no writable home (BENCHMARKS.md "Memory: the shipped
# bundle"). Nothing is fetched at run time either way (--cached-only). An operator's own DENO_DIR is kept.
case "$denodir" in
  "" | @*@) ;;
  *) export DENO_DIR="${DENO_DIR:-$denodir}" ;;
esac

if [ -n "$socket" ] && [ -n "$check" ]; then
  # --check: no listen address and no web config (it serves nothing), as main.ts --print-permissions --check says.
  set -- "--allow-read=$socket" "--allow-write=$socket" "--allow-net=unix:$socket" "$main" "$@"
elif [ -n "$socket" ] && [ -n "$config" ]; then
  # What the web config adds (its certificate and key files) is known only by reading it, which is
  # main.ts's job, not this script's: main.ts, allowed to read the config alone, prints the flags
  # this command line needs (src/cli/permissions.ts), or one line on what is wrong (exit 2). Each line
  # must be one of the three grants, whole, or nothing runs.
  case "$config" in *,*) refuse "--web.config.file \"$config\" contains a comma, which Deno's permission flags cannot express: use a path without one" ;; esac
  flags=$("$deno" run --cached-only --frozen --no-prompt "--allow-read=$config" "$main" --print-permissions "$@") || exit $?
  read_flag=$(printf '%s\n' "$flags" | sed -n 1p)
  write_flag=$(printf '%s\n' "$flags" | sed -n 2p)
  net_flag=$(printf '%s\n' "$flags" | sed -n 3p)
  case "$read_flag" in "--allow-read=$socket,$config"*) ;; *) refuse "unexpected permission from main.ts: $read_flag" ;; esac
  [ "$write_flag" = "--allow-write=$socket" ] || refuse "unexpected permission from main.ts: $write_flag"
  [ "$net_flag" = "--allow-net=unix:$socket,$listen" ] || refuse "unexpected permission from main.ts: $net_flag"
  [ "$(printf '%s\n' "$flags" | wc -l)" -eq 3 ] || refuse "unexpected permissions from main.ts: $flags"
  set -- "$read_flag" "$write_flag" "$net_flag" "$main" "$@"
elif [ -n "$socket" ]; then
  set -- "--allow-read=$socket" "--allow-write=$socket" "--allow-net=unix:$socket,$listen" "$main" "$@"
else
  # No socket path (or --help/--version): no permissions at all; main.ts explains the usage.
  set -- "$main" "$@"
fi
# V8's young generation capped at 1 MiB per semi-space (default: grows to 16 MiB): steady RSS 4-7 MiB lower under
# callbacks and a scrape a second (72 vs 78 MiB), scavenges of 0.06 ms instead of 0.25 ms, callback p50 unchanged,
# p99 ~10% higher (more frequent scavenges); no cap on the old space (BENCHMARKS.md "Memory" says why). And 1 MiB from
# the start: with only the cap, V8 starts smaller and scavenges (and promotes) more while the modules load: start to
# bitcoin_up 1 was 14-57 ms slower, steady RSS the same (BENCHMARKS.md "Start").
# --heap-growing-percent=10: after each full collection V8 lets the old space grow by 10% of what survived or 8 MB,
# whichever is more, instead of a factor it picks from its own speed measurements (up to 4x). With ~10 MB live that
# is live + 8 MB either way in the steady state, but under 50 looping scrapers the picked factor sometimes made it
# 31 MB of heap: RSS 93 MiB in 2 runs of 3 against 75-77 MiB in 3 of 3 with the fixed one, at the same callback p50
# and CPU (BENCHMARKS.md "Memory: the storm's heap").
set -- run --cached-only --frozen --no-prompt --v8-flags=--max-semi-space-size=1,--min-semi-space-size=1,--heap-growing-percent=10 "$@"

if [ "${BITCOIND_IPC_EXPORTER_DRY_RUN:-}" = 1 ]; then
  printf '%sDENO_NO_UPDATE_CHECK=%s NO_COLOR=%s MALLOC_ARENA_MAX=%s %s\n' "${DENO_DIR:+DENO_DIR=$DENO_DIR }" \
    "$DENO_NO_UPDATE_CHECK" "$NO_COLOR" "$MALLOC_ARENA_MAX" "$deno $*"
  exit 0
fi
exec "$deno" "$@"
