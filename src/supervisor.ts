/**
 * The connection supervisor: connect, handshake, attach every collector, watch the connection, and
 * on any failure come back with capped, jittered exponential backoff. Stopping disconnects every
 * subscription before the socket closes — the node dies otherwise. It also runs each scrape's
 * collector work and serves the framework's own families: whether the node is up, connection
 * counters, and per collector whether it succeeded and how long its scrape took.
 */
import type { Collector } from "./collectors/collector.ts";
import { type Flavour, FLAVOUR_TRAITS } from "./flavour.ts";
import { DisconnectedError, FlavourError } from "./ipc/errors.ts";
import { Session } from "./ipc/session.ts";
import type { Logger } from "./log.ts";
import type { Family } from "./metrics/registry.ts";
import { Backoff, Deadlines, delay } from "./util/async.ts";
import { errorText } from "./util/errors.ts";
import { explainSocketPath } from "./cli/socket_path.ts";
import type { Timing } from "./cli/defaults.ts";

export interface SupervisorOptions {
  socketPath: string;
  log: Logger;
  timing: Timing;
  collectors: readonly Collector[];
  /** Who we run as, for the permission-denied message. */
  user?: string;
  /** The flavour the operator insists on (--flavour); a node of another is a fatal error. */
  flavour?: Flavour;
  /** A condition retrying cannot fix (a forced flavour that does not match): the process ends. */
  onFatal?: (message: string) => void;
}

/** Per collector: did its attach and its last scrape succeed, and how long did the scrape take. */
interface CollectorHealth {
  attached: boolean;
  /**
   * Whether its scrape-time work has run since it attached: one still attaching, or attached while
   * a scrape was in flight (that scrape skipped it), has not read its values yet and is no success.
   */
  scraped: boolean;
  /** Counts attaches, so a scrape that began before a reattach does not vouch for it. */
  generation: number;
  scrapeOk: boolean;
  scrapeSeconds: number;
  /** Why its last scrape failed, while it keeps failing (logged once, not once per scrape). */
  failure?: string;
}

export class ConnectionSupervisor {
  readonly #o: SupervisorOptions;
  readonly #health = new Map<Collector, CollectorHealth>();
  #session: Session | undefined;
  #stopping = false;
  readonly #stopSignal = new AbortController();
  /**
   * Each collector's scrape deadline, on one timer: a setTimeout per collector per scrape was
   * garbage that lived through the scrape's node reads, so under load it was promoted.
   */
  readonly #deadlines = new Deadlines();
  #loop: Promise<void> | undefined;
  // Self-metrics.
  #connected = false;
  connectAttempts = 0;
  connects = 0;
  lastConnectSeconds: number | undefined;
  flavour: string | undefined;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    for (const c of options.collectors) {
      this.#health.set(c, {
        attached: false,
        scraped: false,
        generation: 0,
        scrapeOk: true,
        scrapeSeconds: 0,
      });
    }
  }

  get collectors(): readonly Collector[] {
    return this.#o.collectors;
  }

  /** 1 while connected with the handshake done and the node answering; 0 otherwise. */
  get up(): 0 | 1 {
    const s = this.#session;
    return this.#connected && s && s.unansweredMs() < this.#o.timing.unresponsiveMs ? 1 : 0;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const log = this.#o.log;
    const backoff = new Backoff({ minMs: this.#o.timing.backoffMinMs, maxMs: this.#o.timing.backoffMaxMs });
    let lastFailure = "";
    while (!this.#stopping) {
      this.connectAttempts++;
      let session: Session | undefined;
      try {
        session = await Session.open(this.#o.socketPath, {
          signal: this.#stopSignal.signal,
          callTimeoutMs: this.#o.timing.callTimeoutMs,
          onWarning: (m) => log.warn(`ipc: ${m}`),
          onProtocolError: (e) => log.error(`ipc: ${e.message}; disconnecting subscriptions and reconnecting`),
        });
        if (this.#stopping) {
          await session.shutdown();
          break;
        }
        log.info(`node flavour ${session.flavour}: ${FLAVOUR_TRAITS[session.flavour].description}`);
        log.debug(`flavour probes: ${session.probes.join("; ")}`);
        const forced = this.#o.flavour;
        if (forced && session.flavour !== forced) {
          await session.shutdown();
          const msg = `--flavour ${forced} was given, but the node is ${session.flavour} (${
            FLAVOUR_TRAITS[session.flavour].description
          }; probes: ${session.probes.join("; ")}); remove --flavour or correct it`;
          log.error(msg);
          this.#stopping = true;
          this.#o.onFatal?.(msg);
          break;
        }
        this.#session = session;
        this.flavour = session.flavour;
        await this.#attach(session);
        this.#connected = true;
        this.connects++;
        this.lastConnectSeconds = Date.now() / 1000;
        backoff.reset();
        lastFailure = "";
        log.info(`connected to ${this.#o.socketPath} (flavour ${session.flavour})`);
        await session.closed;
        if (!this.#stopping) {
          log.warn(`connection to the node lost: ${session.conn.closed?.message ?? "closed"}`);
        }
      } catch (e) {
        // A stop in progress ends the handshake or the attach on purpose: that is no failure.
        if (this.#stopping) break;
        // A path that is not a listening socket (a datadir, a regular file, a stale socket) says what it is.
        const msg = await explainSocketPath(this.#o.socketPath, e) ??
          describeConnectFailure(e, this.#o.socketPath, this.#o.user);
        // Repeated identical failures are logged once, not once per retry.
        if (msg !== lastFailure) {
          log.error(`${msg}; retrying with backoff (up to ${this.#o.timing.backoffMaxMs / 1000} s)`);
        }
        lastFailure = msg;
        if (session && !session.conn.closed) await session.shutdown(new DisconnectedError(msg)).catch(() => {});
      } finally {
        this.#detach();
        if (this.#session === session) this.#session = undefined;
      }
      if (this.#stopping) break;
      await delay(backoff.next(), this.#stopSignal.signal);
    }
  }

  async #attach(session: Session): Promise<void> {
    for (const c of this.#o.collectors) {
      const h = this.#health.get(c)!;
      h.attached = false;
      h.scraped = false;
      h.generation++;
      try {
        await c.attach?.(session);
      } catch (e) {
        throw new Error(`collector ${c.name}: ${errorText(e)}`);
      }
      h.attached = true;
      h.scrapeOk = true;
      h.failure = undefined;
    }
  }

  #detach(): void {
    this.#connected = false;
    for (const c of this.#o.collectors) {
      this.#health.get(c)!.attached = false;
      c.detach?.();
    }
  }

  /**
   * Brings every collector's scrape-time readings up to date. Never rejects and settles within the
   * scrape timeout: a collector that fails or is late is marked failed for this scrape.
   */
  async scrape(): Promise<void> {
    if (!this.#session) return;
    const limit = this.#o.timing.scrapeTimeoutMs + 100;
    await Promise.all(this.#o.collectors.map(async (c) => {
      const h = this.#health.get(c)!;
      if (!c.scrape || !h.attached) return;
      const start = performance.now();
      const generation = h.generation;
      try {
        await this.#deadlines.within(c.scrape(), limit, `collector ${c.name}`);
        h.scrapeOk = true;
        if (h.generation === generation && h.attached) h.scraped = true;
        if (h.failure !== undefined) this.#o.log.info(`collector ${c.name}: scrapes succeed again`);
        h.failure = undefined;
      } catch (e) {
        h.scrapeOk = false;
        const why = errorText(e);
        // Reads cut short by a stop are no failure worth a line; a failure that persists is one
        // line, not one per scrape (collector_success says it goes on); a new reason is a new line.
        if (!this.#stopping && why !== h.failure) this.#o.log.warn(`collector ${c.name}: ${why}`);
        h.failure = why;
      } finally {
        h.scrapeSeconds = (performance.now() - start) / 1000;
      }
    }));
  }

  /** Orderly stop: disconnect subscriptions, close, end the loop. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopSignal.abort();
    const s = this.#session;
    if (s && !s.conn.closed) {
      const errors = await s.shutdown(new DisconnectedError("exporter stopping"));
      for (const e of errors) this.#o.log.warn(`disconnecting a subscription failed: ${e.message}`);
      this.#o.log.info("subscriptions disconnected, connection closed");
    }
    await this.#loop;
    this.#deadlines.close();
  }

  families(): Family[] {
    return [
      {
        name: "bitcoin_up",
        help:
          "1 while connected to the node with the IPC handshake done and the node answering calls, 0 otherwise (a node that leaves a call unanswered for longer than the unresponsive limit counts as down).",
        type: "gauge",
        read: () => this.up,
      },
      {
        name: "bitcoind_ipc_exporter_node_unanswered_seconds",
        help:
          "How long the oldest call to the node has gone unanswered (0 when none is outstanding; long-polls excluded).",
        type: "gauge",
        read: () => this.#session ? this.#session.unansweredMs() / 1000 : undefined,
      },
      {
        name: "bitcoind_ipc_exporter_connect_attempts_total",
        help: "Attempts to connect to the node's IPC socket.",
        type: "counter",
        read: () => this.connectAttempts,
      },
      {
        name: "bitcoind_ipc_exporter_connects_total",
        help: "Successful connections (handshake and subscriptions done).",
        type: "counter",
        read: () => this.connects,
      },
      {
        name: "bitcoind_ipc_exporter_last_connect_timestamp_seconds",
        help: "Unix time of the last successful connection.",
        type: "gauge",
        read: () => this.lastConnectSeconds,
      },
      {
        name: "bitcoind_ipc_exporter_node_info",
        help: "The connected node's IPC flavour (interfaces it offers).",
        type: "gauge",
        read: () => this.flavour === undefined ? undefined : [{ labels: { flavour: this.flavour }, value: 1 }],
      },
      {
        name: "bitcoind_ipc_exporter_collector_success",
        help:
          "1 when the collector is attached to the node and its last scrape-time work succeeded, 0 otherwise (see the log for why).",
        type: "gauge",
        read: () =>
          this.#o.collectors.map((c) => {
            const h = this.#health.get(c)!;
            // Attached, and (for one with scrape-time work) read since then without failing.
            const ok = h.attached && (!c.scrape || (h.scraped && h.scrapeOk));
            return { labels: { collector: c.name }, value: ok ? 1 : 0 };
          }),
      },
      {
        name: "bitcoind_ipc_exporter_collector_duration_seconds",
        help:
          "How long the collector's scrape-time work took in the last scrape (0 for collectors fed only by events).",
        type: "gauge",
        read: () =>
          this.#o.collectors.map((c) => ({
            labels: { collector: c.name },
            value: this.#health.get(c)!.scrapeSeconds,
          })),
      },
    ];
  }
}

/** One line saying what went wrong connecting to the node, and what to do about it. */
export function describeConnectFailure(e: unknown, path: string, user: string | undefined): string {
  if (e instanceof Deno.errors.NotFound) {
    return `IPC socket ${path} does not exist (is bitcoin-node running with -ipcbind=unix?)`;
  }
  if (e instanceof Deno.errors.ConnectionRefused) {
    return `IPC socket ${path} refused the connection (node not listening)`;
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    const who = user ? `the exporter's user (${user})` : "the exporter's user";
    return `permission denied opening IPC socket ${path}${
      socketOwner(path)
    }: ${who} needs write access to it; run the exporter as the node's user, or as a member of its group with the socket made group-writable (bitcoind creates it under its umask)`;
  }
  if (e instanceof FlavourError) return e.message;
  return `IPC session failed: ${errorText(e)}`;
}

/** " (owner uid U, gid G, mode 0MMM)" for the socket, or "" if it cannot be read: what the operator must change. */
function socketOwner(path: string): string {
  try {
    const st = Deno.statSync(path); // --allow-read=<socket> covers this
    if (st.uid === null || st.mode === null) return "";
    return ` (owner uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o777).toString(8).padStart(4, "0")})`;
  } catch {
    return "";
  }
}
