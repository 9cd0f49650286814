/**
 * Wires the exporter together and owns the process lifecycle: HTTP server, connection supervisor and collectors, signals,
 * and the process-wide guard that turns any unexpected exception into a logged error and an orderly
 * disconnect instead of an abrupt exit (an abrupt exit with subscriptions live kills the node).
 */
import { COLLECTORS } from "./collectors/mod.ts";
import { CallbackCost } from "./collectors/callback_cost.ts";
import { ChainEvents } from "./collectors/events.ts";
import type { Flavour } from "./flavour.ts";
import type { ListenAddress } from "./cli/args.ts";
import { ConnectionSupervisor } from "./supervisor.ts";
import { webHandler } from "./http/handler.ts";
import { BasicAuth } from "./http/basic_auth.ts";
import type { WebConfig } from "./http/web_config.ts";
import { buildInfoFamily, processFamilies } from "./metrics/process_metrics.ts";
import { HttpServer } from "./http/server.ts";
import { HttpBusy } from "./http/busy.ts";
import type { Logger } from "./log.ts";
import { MetricsRegistry } from "./metrics/registry.ts";
import { installSignalHandlers } from "./signals.ts";
import { describeError, errorText } from "./util/errors.ts";
import { type Timing, timing as defaultTiming } from "./cli/defaults.ts";

export interface RunOptions {
  socketPath: string;
  listen: ListenAddress;
  debug: boolean;
  /** Forced with --flavour; detected at every connection otherwise. */
  flavour?: Flavour;
  log: Logger;
  version: string;
  /** Resolves to stop the exporter (tests); signals do the same in production. */
  stop?: Promise<void>;
  /** The collectors to run (by name); every registered one when not given. */
  collectors?: Set<string>;
  /** Timeouts, intervals and backoff (src/cli/defaults.ts); tests shorten them. */
  timing?: Partial<Timing>;
  /** estimatesmartfee conf targets (--fee-conf-targets); the fees collector's default when not given. */
  feeConfTargets?: readonly number[];
  /** Where metrics are served (default /metrics). */
  telemetryPath?: string;
  /** --web.config.file, checked (src/http/web_config.ts). */
  webConfig?: WebConfig;
  /** The PEM certificate chain and key the web config names, read by main.ts. */
  tls?: { cert: string; key: string };
}

export async function run(o: RunOptions): Promise<number> {
  const log = o.log;
  const timing = defaultTiming(o.timing);
  const callbacks = new CallbackCost();
  const events = new ChainEvents(timing.perTipIbdPauseMs, timing.perTipSettleMs);
  const collectors = COLLECTORS
    .filter((spec) => o.collectors?.has(spec.name) ?? true)
    .map((spec) =>
      spec.create({ log, timing, flavour: o.flavour, callbacks, events, feeConfTargets: o.feeConfTargets })
    );
  // Only those switched off against their default (a collector off by default is not news).
  const off = COLLECTORS.filter((spec) =>
    spec.defaultEnabled !== false && !collectors.some((c) => c.name === spec.name)
  )
    .map((s) => s.name);
  if (off.length > 0) log.info(`collectors switched off: ${off.join(", ")}`);
  const supervisor = new ConnectionSupervisor({
    socketPath: o.socketPath,
    log,
    timing,
    collectors,
    user: await currentUser(),
    flavour: o.flavour,
    // A fatal condition ends the process like a signal does, with exit code 1.
    onFatal: (m) => void stop(m, 1),
  });
  const registry = new MetricsRegistry();
  registry.add(...supervisor.families(), ...callbacks.families());
  for (const c of collectors) registry.add(...c.families());
  registry.add(buildInfoFamily(o.version), ...processFamilies());
  const telemetryPath = o.telemetryPath ?? "/metrics";
  const busy = new HttpBusy();
  registry.add(busy.family());
  const auth = o.webConfig && o.webConfig.users.size > 0 ? new BasicAuth({ users: o.webConfig.users }) : undefined;

  let server: HttpServer;
  try {
    server = new HttpServer({
      hostname: o.listen.hostname,
      port: o.listen.port,
      tls: o.tls,
      handler: webHandler({
        registry,
        refresh: () => supervisor.scrape(),
        floorMs: timing.scrapeFloorMs,
        // A scrape right after the node connects, goes away or stops answering shows it at once.
        state: () => supervisor.up === 1 ? supervisor.flavour : undefined,
        log,
        telemetryPath,
        auth,
        busy,
        headers: o.webConfig?.headers,
        landing: () => ({
          version: o.version,
          flavour: supervisor.flavour,
          up: supervisor.up === 1,
          socketPath: o.socketPath,
        }),
      }),
      onError: (m) => log.error(`http: ${m}`),
      requestsPerSecond: timing.httpRequestsPerSecond,
      busy,
      onPaced: (m) => log.warn(`http: ${m}`),
      // A client's mistake (bad method, bad Host, malformed head) is its problem: debug only.
      onClientError: (m) => log.debug(`http: ${m}`),
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      log.error(`cannot listen on ${o.listen.permission}: address already in use (another exporter running?)`);
    } else if (o.tls && o.webConfig?.tls) {
      // rustls refused the certificate or key: a configuration error, as a bad flag is.
      const t = o.webConfig.tls;
      log.error(
        `--web.config.file ${o.webConfig.path}: tls_server_config.cert_file ${t.certFile} / key_file ${t.keyFile}: ` +
          `cannot serve TLS with them: ${errorText(e)}`,
      );
      return 2;
    } else {
      log.error(`cannot listen on ${o.listen.permission}: ${errorText(e)}`);
    }
    return 1;
  }
  log.info(
    `bitcoind-ipc-exporter ${o.version} serving ${o.tls ? "https" : "http"}://${o.listen.permission}${telemetryPath}` +
      `${auth ? " (basic auth)" : ""}, node socket ${o.socketPath}`,
  );

  let stopping: Promise<number> | undefined;
  let stopped!: (code: number) => void;
  const finished = new Promise<number>((resolve) => stopped = resolve);
  const stop = (why: string, code: number): Promise<number> => {
    stopping ??= (async () => {
      log.info(`${why}: shutting down`);
      const deadline = setTimeout(() => {
        log.error(`shutdown took longer than ${timing.shutdownDeadlineMs / 1000} s; exiting`);
        Deno.exit(code || 1);
      }, timing.shutdownDeadlineMs);
      try {
        await server.shutdown();
        await supervisor.stop();
      } catch (e) {
        log.error(`during shutdown: ${errorText(e)}`);
      } finally {
        clearTimeout(deadline);
      }
      log.info("stopped");
      stopped(code);
      return code;
    })();
    return stopping;
  };

  // The signals people and scripts send (SIGHUP, SIGQUIT, SIGUSR1/2, ...) would by default end the
  // process at once, closing the socket under live subscriptions (a node crash): src/signals.ts.
  const removeSignalHandlers = installSignalHandlers(log, (name) => void stop(`received ${name}`, 0));
  const onRejection = (ev: PromiseRejectionEvent) => {
    ev.preventDefault();
    log.error(`internal error (unhandled rejection): ${describeError(ev.reason)}`);
    void stop("internal error", 1);
  };
  const onError = (ev: ErrorEvent) => {
    ev.preventDefault();
    log.error(`internal error: ${describeError(ev.error ?? ev.message)}`);
    void stop("internal error", 1);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);

  supervisor.start();
  if (o.stop) void o.stop.then(() => stop("stop requested", 0));
  try {
    return await finished;
  } finally {
    removeSignalHandlers();
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
}

/** The uid to name in a permission-denied message, if we may know it without asking for more. */
async function currentUser(): Promise<string | undefined> {
  if ((await Deno.permissions.query({ name: "sys", kind: "uid" })).state !== "granted") return undefined;
  return `uid ${Deno.uid()}`;
}
