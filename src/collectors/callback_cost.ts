/**
 * What the node's callbacks cost, visible: every callback the node makes on our objects holds a node
 * thread until we answer (the UTXO trace holds the validation thread itself), so an operator needs to
 * see how many arrive, how long our side spends answering them, and how many UTXO trace events each
 * connected block brings. Shared by the collectors that answer callbacks and served by the framework,
 * like the per-collector success metrics. Recording is two array increments and an addition: it runs
 * on the hot path.
 */
import { ChainNotificationMethod, UtxoTraceMethod } from "../ipc/branch.ts";
import { type Family, Histogram } from "../metrics/registry.ts";

/** The callback interfaces and their methods, in ordinal order (schemas/chain.capnp, schemas/tracing.capnp). */
const INTERFACES = {
  ChainNotifications: Object.keys(ChainNotificationMethod),
  UtxoCacheTrace: Object.keys(UtxoTraceMethod),
} as const;
export type CallbackInterface = keyof typeof INTERFACES;

/** Buckets for UTXO trace events per block: an empty regtest block to a large mainnet block. */
export const EVENTS_PER_BLOCK_BUCKETS = [0, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000];

export class CallbackCost {
  readonly #base: Record<CallbackInterface, number>;
  readonly #labels: { interface: string; method: string }[] = [];
  readonly #count: number[];
  readonly #seconds: number[];
  readonly #seen = new Set<CallbackInterface>();
  /** UTXO trace events since the last blockConnected. */
  #sinceBlock = 0;
  readonly eventsPerBlock = new Histogram(EVENTS_PER_BLOCK_BUCKETS);
  readonly #utxoFirst: number;
  readonly #utxoLast: number;
  readonly #blockConnected: number;

  constructor() {
    const base = {} as Record<CallbackInterface, number>;
    for (const [iface, methods] of Object.entries(INTERFACES) as [CallbackInterface, readonly string[]][]) {
      base[iface] = this.#labels.length;
      for (const method of methods) this.#labels.push({ interface: iface, method });
    }
    this.#base = base;
    this.#count = new Array(this.#labels.length).fill(0);
    this.#seconds = new Array(this.#labels.length).fill(0);
    this.#utxoFirst = base.UtxoCacheTrace + UtxoTraceMethod.add;
    this.#utxoLast = base.UtxoCacheTrace + UtxoTraceMethod.uncache;
    this.#blockConnected = base.ChainNotifications + ChainNotificationMethod.blockConnected;
  }

  /** The slot of `iface`'s method `methodId` (undefined for a method the schema does not have). */
  slot(iface: CallbackInterface, methodId: number): number | undefined {
    return methodId >= 0 && methodId < INTERFACES[iface].length ? this.#base[iface] + methodId : undefined;
  }

  /** The interface is subscribed on this node: its rows are served from now on. */
  subscribed(iface: CallbackInterface): void {
    this.#seen.add(iface);
  }

  /** One callback answered; `seconds` spent in our handler. */
  record(slot: number, seconds: number): void {
    this.#count[slot]++;
    this.#seconds[slot] += seconds;
    if (slot >= this.#utxoFirst && slot <= this.#utxoLast) {
      this.#sinceBlock++;
    } else if (slot === this.#blockConnected && this.#seen.has("UtxoCacheTrace")) {
      this.eventsPerBlock.observe(this.#sinceBlock);
      this.#sinceBlock = 0;
    }
  }

  families(): Family[] {
    const rows = (values: number[]) => {
      const out = [];
      for (let i = 0; i < this.#labels.length; i++) {
        if (this.#seen.has(this.#labels[i].interface as CallbackInterface)) {
          out.push({ labels: this.#labels[i], value: values[i] });
        }
      }
      return out.length ? out : undefined;
    };
    return [
      {
        name: "bitcoind_ipc_exporter_callbacks_total",
        help:
          "Callbacks the node made on the exporter's objects, by interface and method (each holds a node thread until answered).",
        type: "counter",
        read: () => rows(this.#count),
      },
      {
        name: "bitcoind_ipc_exporter_callback_handler_seconds_total",
        help:
          "Seconds the exporter's handlers spent on the node's callbacks, by interface and method (our side only: socket and node-side IPC time not included).",
        type: "counter",
        read: () => rows(this.#seconds),
      },
      {
        name: "bitcoind_ipc_exporter_utxo_trace_events_per_block",
        help:
          "UTXO cache trace callbacks (add, spend, uncache) between consecutive blockConnected notifications: what each connected block costs the node's validation thread in round trips.",
        type: "histogram",
        read: () =>
          this.#seen.has("UtxoCacheTrace") && this.#seen.has("ChainNotifications") ? this.eventsPerBlock : undefined,
      },
    ];
  }
}
