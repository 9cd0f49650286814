/**
 * The command line, drop-in compatible with ipc-exporter-rust:
 *   bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] <socket-path>
 * plus the Prometheus ecosystem's flags (--web.listen-address, --web.telemetry-path,
 * --web.config.file, --log.level, --log.format), --flavour, collector switches, --help, --version.
 */
import { type Flavour, FLAVOURS, isFlavour } from "../flavour.ts";
import { errorText } from "../util/errors.ts";
import { DEFAULT_FEE_CONF_TARGETS, DEFAULTS, MAX_FEE_CONF_TARGETS } from "./defaults.ts";
import { COLLECTORS } from "../collectors/mod.ts";
import { CollectorFlagError, collectorHelp, collectorSwitches } from "../collectors/switches.ts";
import type { Level } from "../log.ts";
import { FlagError, parseFlags } from "./flags.ts";
import { CHAIN_DIRS, defaultDatadir, socketInDatadir } from "./datadir.ts";

export const USAGE =
  "usage: bitcoind-ipc-exporter [--debug] [--metrics-addr HOST:PORT] [--flavour F] [--fee-conf-targets N,...] [--[no-]collector.NAME ...] [--web.* ...] [--log.* ...] <socket-path>";

export const LOG_LEVELS: readonly Level[] = ["debug", "info", "warn", "error"];
export const LOG_FORMATS = ["text", "logfmt", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

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
  --metrics-addr HOST:PORT      where to serve metrics (default ${DEFAULTS.listenAddress});
                                :PORT listens on every IPv4 interface (0.0.0.0:PORT)
  --web.listen-address HOST:PORT
                                the same, under the Prometheus ecosystem's name
  --web.telemetry-path PATH     the path metrics are served at (default ${DEFAULTS.telemetryPath})
  --web.config.file FILE        exporter-toolkit web config: TLS (tls_server_config) and basic
                                auth (basic_auth_users, bcrypt hashes)
  --web.scrape-floor DURATION   the least time between two renders of the metrics (default
                                ${DEFAULTS.scrapeFloorMs}ms): scrapes within it, or during a render, share the
                                last one; 0s renders for every scrape
  --collector.template.interval DURATION
                                the template collector's read besides one per new tip (default ${
  DEFAULTS.templateIntervalMs / 1000
}s; 1s to 1h)
  --flavour auto|${FLAVOURS.join("|")}
                                the node's IPC flavour (default auto: detected at every
                                connection); a forced one that does not match is a fatal error
  --fee-conf-targets N,N,...    estimatesmartfee conf targets served by the fees collector
                                (default ${
  DEFAULT_FEE_CONF_TARGETS.join(",")
}; 1 to 1008, at most ${MAX_FEE_CONF_TARGETS})
  --log.level debug|info|warn|error
                                the least severe lines logged (default info); debug logs every
                                event from the node (blocks, transactions, UTXO cache)
  --debug                       the same as --log.level debug
  --log.format text|logfmt|json one line per event on stderr (default text)
  --print-permissions           print the Deno permission flags this command line needs, one
                                per line, and exit (reads --web.config.file for its files)
  --check                       connect once, print the flavour, which metric families this node
                                gives and which not (and why), the collectors and their cost; exit
                                0 if the node was reached and detected, 1 if not
  --help                        show this help
  --version                     print the version, and the Deno, V8 and TypeScript it runs on

Collectors (each one a source of metrics; a collector switched off subscribes to nothing,
calls nothing and serves nothing):
${collectorHelp(COLLECTORS)}

Deno permissions it needs (and checks for at startup):
  --allow-read=<socket-path> --allow-write=<socket-path> --allow-net=unix:<socket-path>,<HOST:PORT>
  and with --web.config.file, --allow-read of the file and of the certificate and key it names
  (--check serves nothing: the socket's three alone, --allow-net=unix:<socket-path>)
`;

export interface ListenAddress {
  /** The host as written (without brackets for IPv6), for Deno.listen. */
  hostname: string;
  port: number;
  /** HOST:PORT as Deno's --allow-net matches it (IPv6 in brackets). */
  permission: string;
}

export interface RunCommand {
  kind: "run";
  socketPath: string;
  listen: ListenAddress;
  /** --log.level debug (or --debug). */
  debug: boolean;
  logLevel: Level;
  logFormat: LogFormat;
  telemetryPath: string;
  /** --web.config.file, made absolute. */
  webConfigFile?: string;
  flavour?: Flavour;
  /** The collectors switched on (--collector.NAME / --no-collector.NAME over each one's default). */
  collectors: Set<string>;
  /** --web.scrape-floor and --collector.template.interval, when given (the rest of the timing is the defaults'). */
  timing?: { scrapeFloorMs?: number; templateIntervalMs?: number };
  /** --fee-conf-targets, when given. */
  feeConfTargets?: number[];
  /** --check: report what this node gives, then exit (src/cli/check.ts). */
  check?: boolean;
}

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | RunCommand
  | (Omit<RunCommand, "kind"> & { kind: "print-permissions" });

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
    parsed = parseFlags(switches.rest, OPTIONS);
  } catch (e) {
    if (e instanceof FlagError) throw new UsageError(e.message);
    throw e;
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
  const targets = v["fee-conf-targets"];
  const level = v["log.level"] ?? (v.debug ? "debug" : "info");
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`invalid --log.level "${level}": expected ${LOG_LEVELS.join(", ")}`);
  }
  if (v.debug && level !== "debug") {
    throw new UsageError(`--debug is --log.level debug, but --log.level ${level} is given too; give one`);
  }
  const format = v["log.format"] ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`invalid --log.format "${format}": expected ${LOG_FORMATS.join(", ")}`);
  }
  const telemetryPath = v["web.telemetry-path"] ?? DEFAULTS.telemetryPath;
  if (!/^\/[\x21-\x7e]*$/.test(telemetryPath) || /[?#]/.test(telemetryPath) || /^\/-\//.test(telemetryPath)) {
    throw new UsageError(
      `invalid --web.telemetry-path "${telemetryPath}": expected a path starting with /, without spaces, ? or #, outside /-/`,
    );
  }
  const config = v["web.config.file"];
  const floor = v["web.scrape-floor"];
  const templateInterval = v["collector.template.interval"];
  const timing = {
    ...(floor === undefined ? {} : { scrapeFloorMs: parseDurationMs(floor, "--web.scrape-floor", 60_000) }),
    ...(templateInterval === undefined ? {} : {
      templateIntervalMs: parseDurationMs(templateInterval, "--collector.template.interval", 3_600_000, 1000),
    }),
  };
  return {
    kind: v["print-permissions"] ? "print-permissions" : "run",
    socketPath,
    listen,
    debug: level === "debug",
    logLevel: level as Level,
    logFormat: format as LogFormat,
    telemetryPath,
    ...(config === undefined ? {} : { webConfigFile: filePathArgument(config, "--web.config.file", cwd) }),
    ...(flavour === "auto" ? {} : { flavour }),
    collectors: switches.enabled,
    ...(targets === undefined ? {} : { feeConfTargets: parseFeeConfTargets(targets) }),
    ...(Object.keys(timing).length === 0 ? {} : { timing }),
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

/** `2,6,144`: distinct whole numbers of blocks, 1 to 1008 (estimatesmartfee's range), at most MAX_FEE_CONF_TARGETS. */
export function parseFeeConfTargets(text: string): number[] {
  const parts = text.split(",");
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,4}$/.test(p) || Number(p) < 1 || Number(p) > 1008) {
      throw new UsageError(
        `invalid --fee-conf-targets "${text.slice(0, 80)}": "${p.slice(0, 20)}" is not a conf target from 1 to 1008`,
      );
    }
    if (!out.includes(Number(p))) out.push(Number(p));
  }
  if (out.length > MAX_FEE_CONF_TARGETS) {
    throw new UsageError(`invalid --fee-conf-targets: ${out.length} targets, at most ${MAX_FEE_CONF_TARGETS}`);
  }
  return out;
}

/** A duration as Prometheus writes one (`500ms`, `1s`, `1.5s`, `5m`, `1h`, `0s`), in milliseconds, from `minMs` to `maxMs`. */
export function parseDurationMs(text: string, flag: string, maxMs: number, minMs = 0): number {
  const m = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h)$/.exec(text);
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"] : NaN;
  if (!Number.isFinite(ms) || ms > maxMs || ms < minMs || !Number.isInteger(Math.round(ms * 1000) / 1000)) {
    throw new UsageError(
      `invalid ${flag} "${text.slice(0, 40)}": expected a duration such as ${minMs ? "30s or 5m" : "500ms or 1s"}${
        minMs ? `, at least ${minMs / 1000}s` : ""
      }, at most ${maxMs / 1000}s`,
    );
  }
  return ms;
}

/** The flags (src/cli/flags.ts specs); one line each, so a flag added elsewhere merges cleanly. */
const OPTIONS = {
  debug: { type: "boolean" },
  "metrics-addr": { type: "string" },
  "web.listen-address": { type: "string" },
  "web.telemetry-path": { type: "string" },
  "web.config.file": { type: "string" },
  "web.scrape-floor": { type: "string" },
  "collector.template.interval": { type: "string" },
  "log.level": { type: "string" },
  "log.format": { type: "string" },
  flavour: { type: "string" },
  check: { type: "boolean" },
  datadir: { type: "string" },
  chain: { type: "string" },
  "fee-conf-targets": { type: "string" },
  "print-permissions": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

/** A file named on the command line, absolute, and one Deno's permission flags can name. */
export function filePathArgument(path: string, flag: string, cwd: () => string = () => Deno.cwd()): string {
  if (path === "") throw new UsageError(`${flag}: empty path`);
  if (/[,\r\n]/.test(path)) {
    throw new UsageError(
      `${flag} "${path}" contains a comma or line break, which Deno's permission flags cannot express: use a path without one`,
      { showUsage: false },
    );
  }
  if (path.startsWith("~")) {
    throw new UsageError(`${flag} "${path}" starts with "~", which the shell did not expand (was it quoted?)`, {
      showUsage: false,
    });
  }
  if (path.startsWith("/")) return path;
  let dir: string;
  try {
    dir = cwd();
  } catch (e) {
    throw new UsageError(`relative ${flag} "${path}", but the working directory is unavailable (${errorText(e)})`, {
      showUsage: false,
    });
  }
  return `${dir.replace(/\/+$/, "")}/${path}`;
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
  // `:9332`, as Go programs write "every interface": every IPv4 one here (Deno's --allow-net must
  // then name 0.0.0.0:9332); `[::]:9332` listens on IPv6 and, where the system maps them, IPv4 too.
  if (/^:\d{1,5}$/.test(text)) return parseListenAddress(`0.0.0.0${text}`);
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
