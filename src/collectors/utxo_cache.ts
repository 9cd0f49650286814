/**
 * UTXO cache events from `Tracing.traceUtxoCache` (multiprocess pr/trace builds): counts and exact
 * satoshi sums of coins added to, spent from and evicted from the node's coins cache.
 *
 * These callbacks come straight from the validation thread, tens of thousands per block, so the
 * handler reads one Int64 from the params and nothing else. During initial block download the
 * subscription is deferred (as the Rust exporter does) and registered once the node leaves IBD.
 */
import * as $ from "capnp-es";
import { UtxoCacheTrace$Client, UtxoCacheTrace_Add$Params, type UtxoInfo } from "../../gen/tracing.ts";
import { setCapAt, uint32Field } from "../ipc/capnp.ts";
import type { IncomingCall, LocalServer, Results } from "../ipc/rpc.ts";
import type { WireMessage, WireStruct } from "../ipc/wire.ts";
import { type Session, Tracing$Client } from "../ipc/session.ts";
import type { Logger } from "../log.ts";
import { ExactSum } from "../exact_sum.ts";
import type { Family } from "../registry.ts";
import type { Collector } from "./collector.ts";
import { displayHash } from "../bitcoin/tx.ts";
import { errorText } from "../util/errors.ts";

const ADD = 1, SPEND = 2, UNCACHE = 3;
/** UtxoInfo.value: Int64 at data offset 8; UtxoInfo is pointer 0 of every method's params. */
const VALUE_OFFSET = 8;

export class UtxoCacheCollector implements Collector, LocalServer {
  readonly name = "utxo_cache";
  readonly interfaceId = UtxoCacheTrace$Client.interfaceId;
  readonly counts = [0, 0, 0, 0];
  readonly sums = [new ExactSum(), new ExactSum(), new ExactSum(), new ExactSum()];
  /** Whether the connected node offers the tracing interface at all. */
  available = false;
  subscribed = false;

  constructor(readonly log: Logger) {}

  /** Subscribes unless the node is in IBD; returns whether a subscription is now live. */
  async attach(session: Session, inIbd?: boolean): Promise<void> {
    this.available = session.tracing !== undefined;
    if (!this.available) {
      this.log.info("the node has no Tracing interface: UTXO cache metrics are not available");
      return;
    }
    if (inIbd) {
      this.log.info("deferring UTXO cache trace until initial block download completes");
      return;
    }
    await session.subscribe(session.tracing!, Tracing$Client.methods[0], (p, caps) => setCapAt(p, 1, caps.add(this)));
    this.subscribed = true;
    this.log.info("subscribed to UTXO cache trace");
  }

  detach(): void {
    this.subscribed = false;
  }

  fastDispatch(m: number, w: WireMessage, params: WireStruct | null): boolean {
    if (m < ADD || m > UNCACHE || this.log.debugEnabled) return m === 0; // destroy: nothing to do
    const info = params ? w.structAt(params, 0) : null;
    const value = info ? w.i64(info, VALUE_OFFSET) : 0;
    this.counts[m]++;
    this.sums[m].add(value);
    return true;
  }

  dispatch(call: IncomingCall): Results {
    const m = call.methodId;
    if (m >= ADD && m <= UNCACHE) {
      try {
        // add, spend and uncache share one params layout: (utxoInfo :UtxoInfo).
        const utxo = call.params(UtxoCacheTrace_Add$Params).utxoInfo;
        const lo = $.utils.getUint32(VALUE_OFFSET, utxo);
        const hi = $.utils.getInt32(VALUE_OFFSET + 4, utxo);
        this.counts[m]++;
        this.sums[m].add(hi * 4294967296 + lo);
        if (this.log.debugEnabled) this.#debug(m, utxo);
      } catch (e) {
        // Answer success regardless: an exception returned to the node takes the node down.
        this.log.error(`UTXO cache event ${m} could not be read: ${errorText(e)}`);
      }
    }
    return undefined;
  }

  #debug(m: number, utxo: UtxoInfo): void {
    this.log.debug(
      `utxo ${["", "add", "spend", "uncache"][m]} outpoint=${displayHash(utxo.outpointHash.toUint8Array())}:${
        uint32Field(utxo, 0)
      } height=${uint32Field(utxo, 4)} value=${utxo.value} coinbase=${utxo.isCoinbase}`,
    );
  }

  families(): Family[] {
    const present = () => this.available;
    const count = (name: string, help: string, i: number): Family => ({
      name,
      help,
      type: "counter",
      read: () => present() ? this.counts[i] : undefined,
    });
    const sum = (name: string, help: string, i: number): Family => ({
      name,
      help,
      type: "counter",
      read: () => present() ? this.sums[i].value : undefined,
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
