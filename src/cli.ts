/**
 * The command line, drop-in compatible with ipc-exporter-rust:
 *   bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] <socket-path>
 * plus --web.listen-address (the Prometheus ecosystem's name for --metrics-addr), --help, --version.
 */
import { parseArgs } from "node:util";
import { type Flavour, FLAVOURS, isFlavour } from "./flavour.ts";
import { errorText } from "./util/errors.ts";
import { DEFAULTS } from "./defaults.ts";
import { COLLECTORS } from "./collectors/mod.ts";
import { CollectorFlagError, collectorHelp, collectorSwitches } from "./collectors/switches.ts";
import { CHAIN_DIRS, defaultDatadir, socketInDatadir } from "./datadir.ts";

export const USAGE =
  "usage: bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] [--flavour F] [--[no-]collector.NAME ...] <socket-path>";

export const HELP = `${USAGE}

Prometheus exporter for Bitcoin Core over its multiprocess IPC socket (-ipcbind=unix).

Arguments:
  <socket-path>                 the node's IPC socket, e.g. ~/.bitcoin/regtest/node.sock
                                (a relative path is taken against the working directory);
                                default: <datadir>/node.sock, as bitcoin-cli finds the node
  --datadir DIR                 the node's datadir when no <socket-path> is given (default
                                ~/.bitcoin, read by the launcher)
  --chain ${Object.keys(CHAIN_DIRS).join("|")}
                                its chain: the socket is in that chain's subdirectory

Options:
  --metrics-addr HOST:PORT      where to serve /metrics (default ${DEFAULTS.listenAddress})
  --web.listen-address HOST:PORT
                                the same, under the Prometheus ecosystem's name
  --flavour auto|${FLAVOURS.join("|")}
                                the node's IPC flavour (default auto: detected at every
                                connection); a forced one that does not match is a fatal error
  --debug                       log every event from the node (blocks, transactions, UTXO cache)
  --check                       connect once, print the flavour, which metric families this node
                                gives and which not (and why), the collectors and their cost; exit
                                0 if the node was reached and detected, 1 if not
  --help                        show this help
  --version                     print the version

Collectors (each one a source of metrics; a collector switched off subscribes to nothing,
calls nothing and serves nothing):
${collectorHelp(COLLECTORS)}

Deno permissions it needs (and checks for at startup):
  --allow-read=<socket-path> --allow-write=<socket-path> --allow-net=unix:<socket-path>,<HOST:PORT>
`;

export interface ListenAddress {
  /** The host as written (without brackets for IPv6), for Deno.serve. */
  hostname: string;
  port: number;
  /** HOST:PORT as Deno's --allow-net matches it (IPv6 in brackets). */
  permission: string;
}

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
    kind: "run";
    socketPath: string;
    listen: ListenAddress;
    debug: boolean;
    flavour?: Flavour;
    /** The collectors switched on (--collector.NAME / --no-collector.NAME over each one's default). */
    collectors: Set<string>;
    /** --check: report what this node gives, then exit (src/check.ts). */
    check?: boolean;
  };

export class UsageError extends Error {
  override name = "UsageError";
  /** Whether the usage line helps (a bad flag); not for a path that cannot work. */
  readonly showUsage: boolean;
  constructor(message: string, options: { showUsage?: boolean } = {}) {
    super(message);
    this.showUsage = options.showUsage ?? true;
  }
}

export const DEFAULT_LISTEN: string = DEFAULTS.listenAddress;

/**
 * `cwd` resolves a relative socket path (nix/wrapper.sh resolves it the same way, against the
 * physical working directory, and passes main.ts the absolute path, so the permissions it grants
 * are exactly the path main.ts uses).
 */
export function parseCommandLine(args: string[], cwd: () => string = () => Deno.cwd()): Command {
  let switches;
  try {
    switches = collectorSwitches(args, COLLECTORS);
  } catch (e) {
    if (e instanceof CollectorFlagError) throw new UsageError(e.message);
    throw e;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: switches.rest,
      allowPositionals: true,
      strict: true,
      options: {
        debug: { type: "boolean" },
        check: { type: "boolean" },
        "metrics-addr": { type: "string" },
        "web.listen-address": { type: "string" },
        flavour: { type: "string" },
        datadir: { type: "string" },
        chain: { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    });
  } catch (e) {
    throw new UsageError(cleanParseError(e));
  }
  const v = parsed.values;
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };
  if (v["metrics-addr"] !== undefined && v["web.listen-address"] !== undefined) {
    throw new UsageError("--metrics-addr and --web.listen-address are the same option; give one");
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected one <socket-path>, got ${parsed.positionals.length}: ${parsed.positionals.join(" ")}`,
    );
  }
  const socketPath = socketPathArgument(socketPathOrDefault(parsed.positionals[0], v.datadir, v.chain), cwd);
  const listen = parseListenAddress(v["metrics-addr"] ?? v["web.listen-address"] ?? DEFAULT_LISTEN);
  const flavour = v.flavour ?? "auto";
  if (flavour !== "auto" && !isFlavour(flavour)) {
    throw new UsageError(`invalid --flavour "${flavour}": expected auto, ${FLAVOURS.join(", ")}`);
  }
  return {
    kind: "run",
    socketPath,
    listen,
    debug: v.debug ?? false,
    ...(flavour === "auto" ? {} : { flavour }),
    collectors: switches.enabled,
    ...(v.check ? { check: true } : {}),
  };
}

/** The positional socket path, or the one in the datadir (--datadir, else ~/.bitcoin when HOME may be read). */
function socketPathOrDefault(positional: string | undefined, datadir?: string, chain?: string): string {
  if (chain !== undefined && !(chain in CHAIN_DIRS)) {
    throw new UsageError(`invalid --chain "${chain}": expected ${Object.keys(CHAIN_DIRS).join(", ")}`);
  }
  if (positional !== undefined) {
    if (datadir !== undefined || chain !== undefined) {
      throw new UsageError("give either <socket-path> or --datadir/--chain, not both");
    }
    return positional;
  }
  const dir = datadir ?? defaultDatadir();
  if (dir === undefined) {
    throw new UsageError(
      "missing <socket-path> (or --datadir DIR; the default ~/.bitcoin needs HOME, which the launcher reads)",
    );
  }
  if (dir === "") throw new UsageError("empty --datadir");
  return socketInDatadir(dir, chain ?? "main");
}

/**
 * The socket path as main.ts uses it and as Deno's permission flags must name it. Deno's flags are
 * comma-separated lists with no escape (`--allow-read=a,b` is two paths): a path with a comma
 * cannot be granted, and copied into a flag it would grant other paths (`S,tmp` from `/` grants
 * /tmp), so it is refused. A leading `~` is a tilde the shell did not expand (it was quoted).
 */
export function socketPathArgument(path: string, cwd: () => string = () => Deno.cwd()): string {
  if (path === "") throw new UsageError("empty <socket-path>");
  if (path.includes(",")) {
    throw new UsageError(
      `socket path "${path}" contains a comma, which Deno's permission flags cannot express: ` +
        `use a path without one, e.g. a symlink to the socket`,
      { showUsage: false },
    );
  }
  if (path.startsWith("~")) {
    throw new UsageError(
      `socket path "${path}" starts with "~", which the shell did not expand (was it quoted?): ` +
        `write it unquoted, or as $HOME/... or an absolute path`,
      { showUsage: false },
    );
  }
  if (path.startsWith("/")) return path;
  let dir: string;
  try {
    dir = cwd();
  } catch (e) {
    throw new UsageError(`relative socket path "${path}", but the working directory is unavailable (${errorText(e)})`, {
      showUsage: false,
    });
  }
  return `${dir.replace(/\/+$/, "")}/${path}`;
}

export function parseListenAddress(text: string): ListenAddress {
  // Host names and IPv4 as Deno's --allow-net takes them; nothing else (a comma would add a host).
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)):(\d{1,5})$/.exec(text);
  if (!m) {
    throw new UsageError(`invalid listen address "${text}": expected HOST:PORT, e.g. 127.0.0.1:9332 or [::1]:9332`);
  }
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new UsageError(`invalid port ${m[3]} in "${text}": expected 1-65535`);
  const hostname = m[1] ?? m[2];
  return { hostname, port, permission: m[1] !== undefined ? `[${hostname}]:${port}` : `${hostname}:${port}` };
}

function cleanParseError(e: unknown): string {
  const msg = errorText(e);
  // node:util's messages carry hints meant for scripts; keep the first sentence.
  const unknown = /Unknown option '([^']+)'/.exec(msg);
  if (unknown) return `unknown flag: ${unknown[1]}`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(msg);
  if (missing) return `${missing[1].split(",").pop()!.trim()} requires a value`;
  return msg.split(". ")[0];
}
