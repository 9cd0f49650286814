/**
 * Node state read at scrape time, so every scrape sees the node as it is now rather than up to a
 * minute old: from the Chain/Node getters on the multiprocess branches, from one JSON-RPC batch
 * over IPC on stock master / v32, and from Mining (IBD only) on stock v30/v31. Concurrent scrapes share one round of calls, and a round is reused
 * for `cacheMs`, so scraping cannot make the exporter call the node more often than that. A round
 * that does not finish within `timeoutMs` is dropped: the metrics it would have produced are left
 * out of that scrape rather than served stale.
 */
import { FLAVOUR_TRAITS } from "../flavour.ts";
import { Chain$Client, Node$Client, type Session } from "../ipc/session.ts";
import { miningIsInitialBlockDownload, rpcBatch, type RpcReply } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../registry.ts";
import type { Collector } from "./collector.ts";
import { errorText } from "../util/errors.ts";

/** Bitcoin Core's ConnectionDirection::Both (In | Out). */
const CONNECTIONS_ALL = 3;

/** A reading left out is a metric this flavour cannot give (or the node's answer lacked it). */
export interface NodeReadings {
  headerHeight: number;
  ibd: boolean;
  verificationProgress: number;
  mempoolSize: number;
  mempoolBytes: number;
  mempoolMaxBytes: number;
  peers: number;
  bytesRecv: number;
  bytesSent: number;
}

export interface NodeGaugesOptions {
  cacheMs: number;
  timeoutMs: number;
}

export class NodeGaugesCollector implements Collector {
  readonly name = "node";
  #session: Session | undefined;
  #readings: Partial<NodeReadings> | undefined;
  #readAt = -Infinity;
  #inflight: Promise<void> | undefined;
  /** JSON-RPC answers that did not have what a metric needs, reported once each. */
  readonly #reported = new Set<string>();
  /** Rounds of calls made to the node, for tests and the self-metrics. */
  rounds = 0;

  /** Called with each fresh set of readings (the exporter watches `ibd`). */
  onReadings: ((r: Partial<NodeReadings>) => void) | undefined;

  constructor(readonly log: Logger, readonly options: NodeGaugesOptions) {}

  attach(session: Session): Promise<void> {
    this.#session = session;
    this.#readings = undefined;
    this.#readAt = -Infinity;
    return Promise.resolve();
  }

  detach(): void {
    this.#session = undefined;
    this.#readings = undefined;
  }

  /** Brings readings up to date (within the cache window); never rejects. */
  refresh(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    if (performance.now() - this.#readAt < this.options.cacheMs) return Promise.resolve();
    if (!this.#inflight) {
      this.#inflight = this.#read(session).finally(() => this.#inflight = undefined);
    }
    return this.#inflight;
  }

  async #read(session: Session): Promise<void> {
    this.rounds++;
    const deadline = performance.now() + this.options.timeoutMs;
    const opt = () => ({ timeoutMs: Math.max(1, deadline - performance.now()) });
    try {
      const source = FLAVOUR_TRAITS[session.flavour].gauges;
      const readings = source === "node"
        ? await readNode(session, opt)
        : source === "rpc"
        ? await this.#readRpc(session, opt)
        : { ibd: await miningIsInitialBlockDownload(session, opt()) };
      if (this.#session !== session) return;
      this.#readings = readings;
      this.#readAt = performance.now();
      this.onReadings?.(readings);
    } catch (e) {
      this.#readings = undefined;
      this.log.warn(`reading node state failed: ${errorText(e)}`);
    }
  }

  /**
   * Stock master / v32: one executeRpc carrying a JSON-RPC batch. Each field is checked: one the
   * node did not send (or sent as another type) leaves its metric out and is logged once, so a
   * renamed field never shows up as a zero.
   */
  async #readRpc(session: Session, opt: () => { timeoutMs: number }): Promise<Partial<NodeReadings>> {
    const [chain, mempool, peers, totals] = await rpcBatch(session, [
      { method: "getblockchaininfo" },
      { method: "getmempoolinfo" },
      { method: "getconnectioncount" },
      { method: "getnettotals" },
    ], opt());
    const r: Partial<NodeReadings> = {};
    const pick = <K extends keyof NodeReadings>(
      key: K,
      reply: RpcReply,
      method: string,
      field: string | undefined,
      type: "number" | "boolean",
    ) => {
      const where = field ? `${method}.${field}` : method;
      if (reply.error) return this.#report(`${where}: ${method} failed: ${reply.error.message ?? "error"}`);
      const v = field === undefined
        ? reply.result
        : (reply.result && typeof reply.result === "object"
          ? (reply.result as Record<string, unknown>)[field]
          : undefined);
      if (typeof v !== type || (type === "number" && !Number.isFinite(v))) {
        return this.#report(`${where} is ${v === undefined ? "missing" : `not a ${type}`} in the node's answer`);
      }
      (r as Record<string, unknown>)[key] = v;
    };
    pick("headerHeight", chain, "getblockchaininfo", "headers", "number");
    pick("ibd", chain, "getblockchaininfo", "initialblockdownload", "boolean");
    pick("verificationProgress", chain, "getblockchaininfo", "verificationprogress", "number");
    pick("mempoolSize", mempool, "getmempoolinfo", "size", "number");
    pick("mempoolBytes", mempool, "getmempoolinfo", "usage", "number");
    pick("mempoolMaxBytes", mempool, "getmempoolinfo", "maxmempool", "number");
    pick("peers", peers, "getconnectioncount", undefined, "number");
    pick("bytesRecv", totals, "getnettotals", "totalbytesrecv", "number");
    pick("bytesSent", totals, "getnettotals", "totalbytessent", "number");
    return r;
  }

  #report(problem: string): void {
    if (this.#reported.has(problem)) return;
    this.#reported.add(problem);
    this.log.error(`JSON-RPC over IPC: ${problem}; the metric it feeds is left out`);
  }

  get readings(): Partial<NodeReadings> | undefined {
    return this.#readings;
  }

  families(): Family[] {
    const r = () => this.#readings;
    const g = (
      name: string,
      help: string,
      type: "gauge" | "counter",
      pick: (x: Partial<NodeReadings>) => number | undefined,
    ): Family => ({
      name,
      help,
      type,
      read: () => {
        const x = r();
        return x ? pick(x) : undefined;
      },
    });
    return [
      g("bitcoin_header_height", "Height of the best known header.", "gauge", (x) => x.headerHeight),
      g(
        "bitcoin_ibd",
        "Whether the node is in initial block download (1=yes, 0=no).",
        "gauge",
        (x) => x.ibd === undefined ? undefined : x.ibd ? 1 : 0,
      ),
      g(
        "bitcoin_verification_progress",
        "Estimated chain verification progress (0.0 to 1.0).",
        "gauge",
        (x) => x.verificationProgress,
      ),
      g("bitcoin_mempool_size", "Number of transactions in the mempool.", "gauge", (x) => x.mempoolSize),
      g(
        "bitcoin_mempool_bytes",
        "Memory usage of the mempool in bytes (dynamic memory usage, not the serialized size of its transactions).",
        "gauge",
        (x) => x.mempoolBytes,
      ),
      g(
        "bitcoin_mempool_max_bytes",
        "Maximum mempool memory usage in bytes (-maxmempool).",
        "gauge",
        (x) => x.mempoolMaxBytes,
      ),
      g("bitcoin_peers", "Number of connected peers (inbound and outbound).", "gauge", (x) => x.peers),
      g("bitcoin_bytes_recv_total", "Total bytes received from peers.", "counter", (x) => x.bytesRecv),
      g("bitcoin_bytes_sent_total", "Total bytes sent to peers.", "counter", (x) => x.bytesSent),
    ];
  }
}

/** Multiprocess branches: the Chain/Node getters, one call after another on the read Thread. */
async function readNode(session: Session, opt: () => { timeoutMs: number }): Promise<NodeReadings> {
  const node = session.node!;
  const n = Node$Client.methods;
  const headerHeight = await session.callWithContext(node, n[31], undefined, (r) => r.result ? r.height : -1, opt());
  const ibd = await session.callWithContext(
    session.chain!,
    Chain$Client.methods[33],
    undefined,
    (r) => r.result,
    opt(),
  );
  const verificationProgress = await session.callWithContext(node, n[36], undefined, (r) => r.result, opt());
  const mempoolSize = await session.callWithContext(node, n[28], undefined, (r) => Number(r.result), opt());
  const mempoolBytes = await session.callWithContext(node, n[29], undefined, (r) => Number(r.result), opt());
  const mempoolMaxBytes = await session.callWithContext(node, n[30], undefined, (r) => Number(r.result), opt());
  const peers = await session.callWithContext(
    node,
    n[18],
    (p) => p.flags = CONNECTIONS_ALL,
    (r) => Number(r.result),
    opt(),
  );
  const bytesRecv = await session.callWithContext(node, n[26], undefined, (r) => Number(r.result), opt());
  const bytesSent = await session.callWithContext(node, n[27], undefined, (r) => Number(r.result), opt());
  return {
    headerHeight,
    ibd,
    verificationProgress,
    mempoolSize,
    mempoolBytes,
    mempoolMaxBytes,
    peers,
    bytesRecv,
    bytesSent,
  };
}
