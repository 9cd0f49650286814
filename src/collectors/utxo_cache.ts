/**
 * UTXO cache events from `Tracing.traceUtxoCache` (multiprocess pr/trace builds): counts and exact
 * satoshi sums of coins added to, spent from and evicted from the node's coins cache.
 *
 * These callbacks come straight from the validation thread, tens of thousands per block, so the
 * handler reads one Int64 from the params and nothing else. During initial block download the
 * subscription is deferred (as the Rust exporter does) and registered once the node leaves IBD:
 * checked every `ibdPollMs`, and at every scrape.
 */
import * as branch from "../ipc/branch.ts";
import type { IncomingCall, LocalServer, RemoteCap, Results } from "../ipc/rpc.ts";
import type { Session } from "../ipc/session.ts";
import type { WireMessage, WireStruct } from "../ipc/wire.ts";
import type { Logger } from "../log.ts";
import { ExactSum } from "../metrics/exact_sum.ts";
import type { Family } from "../metrics/registry.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../cli/defaults.ts";
import type { CallbackCost } from "./callback_cost.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";

const { add: ADD, spend: SPEND, uncache: UNCACHE } = branch.UtxoTraceMethod;
const EVENT_NAMES = ["", "add", "spend", "uncache"];

export class UtxoCacheCollector implements Collector, LocalServer {
  readonly name = "utxo_cache";
  readonly interfaceId = branch.UTXO_TRACE_INTERFACE;
  readonly counts = [0, 0, 0, 0];
  readonly sums = [new ExactSum(), new ExactSum(), new ExactSum(), new ExactSum()];
  /** Whether the connected node offers the tracing interface at all (until known: served as upstream does). */
  available = false;
  #handler: RemoteCap | undefined;
  #session: Session | undefined;
  #subscribing: Promise<void> | undefined;
  #poll: ReturnType<typeof setTimeout> | undefined;
  #costSaid = false;
  readonly #log: Logger;
  readonly #timing: Timing;
  readonly #cost: CallbackCost;
  /** CallbackCost slot per method id. */
  readonly #slots: number[];

  constructor(ctx: CollectorContext) {
    this.#log = ctx.log;
    this.#timing = ctx.timing;
    this.#cost = ctx.callbacks;
    this.#slots = Object.values(branch.UtxoTraceMethod).map((m) => ctx.callbacks.slot("UtxoCacheTrace", m)!);
  }

  get subscribed(): boolean {
    return this.#handler !== undefined;
  }

  /** Subscribes, or defers the subscription while the node is in IBD. */
  async attach(session: Session): Promise<void> {
    this.available = session.tracing !== undefined;
    if (!this.available) {
      this.#log.info("the node has no Tracing interface: UTXO cache metrics are not available");
      return;
    }
    this.#session = session;
    if (await branch.isInitialBlockDownload(session)) {
      this.#log.info("deferring UTXO cache trace until initial block download completes");
      this.#schedulePoll(session);
      return;
    }
    await this.#subscribe(session);
  }

  detach(): void {
    this.#session = undefined;
    this.#handler = undefined;
    clearTimeout(this.#poll);
    this.#poll = undefined;
  }

  /** While deferred, a scrape asks the node whether it has left IBD (one call, shared). */
  async scrape(): Promise<void> {
    const s = this.#session;
    if (!s || this.#handler || this.#subscribing) return;
    await this.#checkIbd(s);
  }

  async #checkIbd(session: Session): Promise<void> {
    const ibd = await branch.isInitialBlockDownload(session, { timeoutMs: this.#timing.scrapeTimeoutMs });
    if (ibd || this.#session !== session || this.#handler) return;
    this.#log.info("initial block download complete");
    await this.#subscribe(session);
  }

  #subscribe(session: Session): Promise<void> {
    this.#subscribing ??= (async () => {
      try {
        const h = await branch.subscribeUtxoTrace(session, this);
        if (this.#session === session) this.#handler = h;
        this.#cost.subscribed("UtxoCacheTrace");
        this.#log.info("subscribed to UTXO cache trace");
        if (!this.#costSaid) {
          // The operator accepts this cost by leaving the collector on: say it once, plainly.
          this.#costSaid = true;
          this.#log.info(
            "the UTXO cache trace makes the node's validation thread wait for a round trip to this exporter for every coin a block adds, spends or evicts (about 76 us each on a real node: ~1 s per 13,000-coin block); see README 'What each collector costs the node'; --no-collector.utxo_cache turns it off",
          );
        }
      } finally {
        this.#subscribing = undefined;
      }
    })();
    return this.#subscribing;
  }

  #schedulePoll(session: Session): void {
    this.#poll = setTimeout(async () => {
      this.#poll = undefined;
      if (this.#session !== session || this.#handler) return;
      try {
        await this.#checkIbd(session);
      } catch (e) {
        this.#log.warn(`checking initial block download failed: ${errorText(e)}`);
      }
      if (this.#session === session && !this.#handler) this.#schedulePoll(session);
    }, this.#timing.ibdPollMs);
  }

  /** The one place an event is counted, whichever way its params were read; `t0` when handling began. */
  #record(m: number, value: number, t0: number): void {
    this.counts[m]++;
    this.sums[m].add(value);
    this.#cost.record(this.#slots[m], (performance.now() - t0) / 1000);
  }

  fastDispatch(m: number, w: WireMessage, params: WireStruct | null): boolean {
    if (m < ADD || m > UNCACHE || this.#log.debugEnabled) return m === branch.UtxoTraceMethod.destroy;
    const t0 = performance.now();
    this.#record(m, branch.utxoValueWire(w, params), t0);
    return true;
  }

  dispatch(call: IncomingCall): Results {
    const m = call.methodId;
    const t0 = performance.now();
    if (m >= ADD && m <= UNCACHE) {
      try {
        this.#record(m, branch.utxoValue(call), t0);
        if (this.#log.debugEnabled) this.#debug(m, call);
      } catch (e) {
        // Answer success regardless: an exception returned to the node takes the node down.
        this.#log.error(`UTXO cache event ${m} could not be read: ${errorText(e)}`);
      }
    }
    return undefined;
  }

  #debug(m: number, call: IncomingCall): void {
    const u = branch.utxoEvent(call);
    this.#log.debug(
      `utxo ${EVENT_NAMES[m]} outpoint=${u.outpoint}:${u.n} height=${u.height} value=${u.value} coinbase=${u.coinbase}`,
    );
  }

  families(): Family[] {
    const count = (name: string, help: string, i: number): Family => ({
      name,
      help,
      type: "counter",
      read: () => this.available ? this.counts[i] : undefined,
    });
    const sum = (name: string, help: string, i: number): Family => ({
      name,
      help,
      type: "counter",
      read: () => this.available ? this.sums[i].value : undefined,
    });
    return [
      count("bitcoin_utxo_cache_add_total", "UTXOs added to the cache.", ADD),
      count("bitcoin_utxo_cache_spend_total", "UTXOs spent from the cache.", SPEND),
      count("bitcoin_utxo_cache_uncache_total", "UTXOs evicted from the cache.", UNCACHE),
      sum("bitcoin_utxo_cache_add_value_total", "Cumulative satoshi value of UTXOs added to cache.", ADD),
      sum("bitcoin_utxo_cache_spend_value_total", "Cumulative satoshi value of UTXOs spent from cache.", SPEND),
      sum("bitcoin_utxo_cache_uncache_value_total", "Cumulative satoshi value of UTXOs evicted from cache.", UNCACHE),
    ];
  }
}

export const utxoCacheCollector: CollectorSpec = {
  name: "utxo_cache",
  help: "UTXO cache adds, spends and evictions pushed by Tracing.traceUtxoCache (pr/trace)",
  create: (ctx) => new UtxoCacheCollector(ctx),
};
