/**
 * The connection lifecycle: connect, handshake, attach collectors (subscriptions), watch the
 * connection, and on any failure come back with capped, jittered exponential backoff. Stopping
 * disconnects every subscription before the socket closes — the node dies otherwise.
 */
import type { Collector } from "./collectors/collector.ts";
import type { ChainNotificationsCollector } from "./collectors/chain_notifications.ts";
import type { NodeGaugesCollector } from "./collectors/node_gauges.ts";
import type { UtxoCacheCollector } from "./collectors/utxo_cache.ts";
import type { TipWatcher } from "./collectors/tip_watcher.ts";
import { type Flavour, FLAVOUR_TRAITS } from "./flavour.ts";
import { Chain$Client, FlavourError, Session } from "./ipc/session.ts";
import { DisconnectedError } from "./ipc/errors.ts";
import { errorText } from "./util/errors.ts";
import type { Logger } from "./log.ts";
import type { Family } from "./registry.ts";

export interface ExporterOptions {
  socketPath: string;
  log: Logger;
  callTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** How often to ask the node whether it left IBD while the UTXO subscription is deferred. */
  ibdPollMs: number;
  /** Who we run as, for the permission-denied message. */
  user?: string;
  /** The flavour the operator insists on (--flavour); a node of another is a fatal error. */
  flavour?: Flavour;
  /** A condition retrying cannot fix (a forced flavour that does not match): the process ends. */
  onFatal?: (message: string) => void;
}

export class Exporter {
  readonly #o: ExporterOptions;
  readonly #chain: ChainNotificationsCollector;
  readonly #utxo: UtxoCacheCollector;
  readonly #node: NodeGaugesCollector;
  readonly #tips: TipWatcher;
  #session: Session | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #ibdTimer: ReturnType<typeof setTimeout> | undefined;
  #utxoSubscribing = false;
  /** Aborts a handshake in progress when stopping, instead of waiting for its timeouts. */
  readonly #stopSignal = new AbortController();
  // Self-metrics.
  up = 0;
  connectAttempts = 0;
  connects = 0;
  lastConnectSeconds: number | undefined;
  flavour: string | undefined;

  constructor(
    options: ExporterOptions,
    collectors: {
      chain: ChainNotificationsCollector;
      utxo: UtxoCacheCollector;
      node: NodeGaugesCollector;
      tips: TipWatcher;
    },
  ) {
    this.#o = options;
    this.#chain = collectors.chain;
    this.#utxo = collectors.utxo;
    this.#node = collectors.node;
    this.#tips = collectors.tips;
    if (options.flavour) this.#chain.traits = FLAVOUR_TRAITS[options.flavour];
    // A scrape that finds the node out of IBD registers the deferred UTXO subscription at once.
    this.#node.onReadings = (r) => {
      const s = this.#session;
      // Only once attach has finished: it makes the first decision itself.
      if (r.ibd === false && s && this.up === 1 && this.#utxoDeferred()) void this.#subscribeUtxo(s);
    };
  }

  #utxoDeferred(): boolean {
    return this.#utxo.available && !this.#utxo.subscribed && !this.#utxoSubscribing;
  }

  async #subscribeUtxo(session: Session): Promise<void> {
    if (this.#utxoSubscribing) return;
    this.#utxoSubscribing = true;
    try {
      if (this.#session !== session || this.#stopping || this.#utxo.subscribed) return;
      this.#o.log.info("initial block download complete");
      await this.#utxo.attach(session, false);
    } catch (e) {
      this.#o.log.warn(`subscribing to the UTXO cache trace failed: ${errorText(e)}`);
    } finally {
      this.#utxoSubscribing = false;
    }
  }

  get collectors(): Collector[] {
    return [this.#chain, this.#utxo, this.#node, this.#tips];
  }

  get session(): Session | undefined {
    return this.#session;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const log = this.#o.log;
    let delay = this.#o.backoffMinMs;
    let lastFailure = "";
    while (!this.#stopping) {
      this.connectAttempts++;
      let session: Session | undefined;
      try {
        session = await Session.open(this.#o.socketPath, {
          signal: this.#stopSignal.signal,
          callTimeoutMs: this.#o.callTimeoutMs,
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
        await this.#attach(session);
        this.up = 1;
        this.connects++;
        this.lastConnectSeconds = Date.now() / 1000;
        delay = this.#o.backoffMinMs;
        lastFailure = "";
        log.info(`connected to ${this.#o.socketPath} (flavour ${session.flavour})`);
        await session.closed;
        if (!this.#stopping) {
          log.warn(`connection to the node lost: ${session.conn.closed?.message ?? "closed"}`);
        }
      } catch (e) {
        const msg = describeConnectFailure(e, this.#o.socketPath, this.#o.user);
        // Repeated identical failures are logged once, not once per retry.
        if (msg !== lastFailure) log.error(`${msg}; retrying with backoff (up to ${this.#o.backoffMaxMs / 1000} s)`);
        lastFailure = msg;
        if (session && !session.conn.closed) await session.shutdown(new DisconnectedError(msg)).catch(() => {});
      } finally {
        this.#detach();
        if (this.#session === session) this.#session = undefined;
      }
      if (this.#stopping) break;
      await this.#sleep(delay * (0.5 + Math.random() * 0.5));
      delay = Math.min(delay * 2, this.#o.backoffMaxMs);
    }
  }

  async #attach(session: Session): Promise<void> {
    this.flavour = session.flavour;
    this.#chain.traits = FLAVOUR_TRAITS[session.flavour];
    await this.#node.attach(session);
    await this.#chain.attach(session);
    await this.#tips.attach(session);
    const ibd = session.chain
      ? await session.callWithContext(session.chain, Chain$Client.methods[33], undefined, (r) => r.result)
      : undefined;
    await this.#utxo.attach(session, ibd);
    if (this.#utxo.available && !this.#utxo.subscribed) this.#pollIbd(session);
  }

  /** While the UTXO subscription is deferred, ask the node whether it has left IBD. */
  #pollIbd(session: Session): void {
    this.#ibdTimer = setTimeout(async () => {
      this.#ibdTimer = undefined;
      if (this.#session !== session || this.#stopping) return;
      try {
        const ibd = await session.callWithContext(session.chain!, Chain$Client.methods[33], undefined, (r) => r.result);
        if (this.#session !== session || this.#stopping) return;
        if (!ibd) await this.#subscribeUtxo(session);
        if (!this.#utxoDeferred()) return;
      } catch (e) {
        this.#o.log.warn(`checking initial block download failed: ${errorText(e)}`);
      }
      if (this.#session === session && !this.#stopping) this.#pollIbd(session);
    }, this.#o.ibdPollMs);
  }

  #detach(): void {
    if (this.#ibdTimer !== undefined) clearTimeout(this.#ibdTimer);
    this.#ibdTimer = undefined;
    this.up = 0;
    for (const c of this.collectors) c.detach?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  /** Brings node readings up to date for a scrape (bounded by the node collector's timeout). */
  refresh(): Promise<void> {
    return this.#node.refresh();
  }

  /** Orderly stop: disconnect subscriptions, close, end the loop. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    if (!this.#session) this.#stopSignal.abort();
    const s = this.#session;
    if (s && !s.conn.closed) {
      const errors = await s.shutdown(new DisconnectedError("exporter stopping"));
      for (const e of errors) this.#o.log.warn(`disconnecting a subscription failed: ${e.message}`);
      this.#o.log.info("subscriptions disconnected, connection closed");
    }
    await this.#loop;
  }

  families(): Family[] {
    return [
      {
        name: "bitcoin_up",
        help: "1 while connected to the node with the IPC handshake done, 0 otherwise.",
        type: "gauge",
        read: () => this.up,
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
