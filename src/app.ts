/**
 * Wires the exporter together and owns the process lifecycle: HTTP server, IPC exporter, signals,
 * and the process-wide guard that turns any unexpected exception into a logged error and an orderly
 * disconnect instead of an abrupt exit (an abrupt exit with subscriptions live kills the node).
 */
import { ChainNotificationsCollector } from "./collectors/chain_notifications.ts";
import { NodeGaugesCollector } from "./collectors/node_gauges.ts";
import { UtxoCacheCollector } from "./collectors/utxo_cache.ts";
import { TipWatcher } from "./collectors/tip_watcher.ts";
import type { Flavour } from "./flavour.ts";
import type { ListenAddress } from "./cli.ts";
import { Exporter } from "./exporter.ts";
import { metricsHandler } from "./http.ts";
import { HttpServer } from "./http_server.ts";
import type { Logger } from "./log.ts";
import { MetricsRegistry } from "./registry.ts";
import { installSignalHandlers } from "./signals.ts";
import { describeError, errorText } from "./util/errors.ts";

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
  /** Timeouts and backoff, overridable for tests. */
  callTimeoutMs?: number;
  scrapeTimeoutMs?: number;
  scrapeCacheMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  ibdPollMs?: number;
  /** How long each Mining.waitTipChanged waits on stock nodes. */
  tipWaitMs?: number;
}

const SHUTDOWN_DEADLINE_MS = 5000;

export async function run(o: RunOptions): Promise<number> {
  const log = o.log;
  const chain = new ChainNotificationsCollector(log);
  const utxo = new UtxoCacheCollector(log);
  const node = new NodeGaugesCollector(log, {
    cacheMs: o.scrapeCacheMs ?? 1000,
    timeoutMs: o.scrapeTimeoutMs ?? 3000,
  });
  const callTimeoutMs = o.callTimeoutMs ?? 5000;
  const tips = new TipWatcher(log, chain, { waitMs: o.tipWaitMs ?? 30_000, callTimeoutMs, retryMs: 1000 });
  const exporter = new Exporter({
    socketPath: o.socketPath,
    log,
    callTimeoutMs,
    backoffMinMs: o.backoffMinMs ?? 500,
    backoffMaxMs: o.backoffMaxMs ?? 30_000,
    ibdPollMs: o.ibdPollMs ?? 10_000,
    user: await currentUser(),
    flavour: o.flavour,
    // A fatal condition ends the process like a signal does, with exit code 1.
    onFatal: (m) => void stop(m, 1),
  }, { chain, utxo, node, tips });
  const registry = new MetricsRegistry();
  registry.add(...exporter.families());
  for (const c of exporter.collectors) registry.add(...c.families());

  let server: HttpServer;
  try {
    server = new HttpServer({
      hostname: o.listen.hostname,
      port: o.listen.port,
      handler: metricsHandler({ registry, refresh: () => exporter.refresh(), log }),
      onError: (m) => log.error(`http: ${m}`),
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      log.error(`cannot listen on ${o.listen.permission}: address already in use (another exporter running?)`);
    } else {
      log.error(`cannot listen on ${o.listen.permission}: ${errorText(e)}`);
    }
    return 1;
  }
  log.info(
    `bitcoind-ipc-exporter ${o.version} serving http://${o.listen.permission}/metrics, node socket ${o.socketPath}`,
  );

  let stopping: Promise<number> | undefined;
  let stopped!: (code: number) => void;
  const finished = new Promise<number>((resolve) => stopped = resolve);
  const stop = (why: string, code: number): Promise<number> => {
    stopping ??= (async () => {
      log.info(`${why}: shutting down`);
      const deadline = setTimeout(() => {
        log.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting`);
        Deno.exit(code || 1);
      }, SHUTDOWN_DEADLINE_MS);
      try {
        await server.shutdown();
        await exporter.stop();
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

  exporter.start();
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
