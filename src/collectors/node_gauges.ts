/**
 * Node state read at scrape time, so every scrape sees the node as it is now rather than up to a
 * minute old: from the Chain/Node getters on the multiprocess branches, from one JSON-RPC batch
 * over IPC on stock master / v32, and from Mining (IBD only) on stock v30/v31. Concurrent scrapes
 * share one round of calls, and a round is reused for `scrapeCacheMs`, so scraping cannot make the
 * exporter call the node more often than that. A round that does not finish within
 * `scrapeTimeoutMs` is dropped: the metrics it would have produced are left out of that scrape
 * rather than served stale. One value the node fails to give leaves out that value alone.
 */
import { FLAVOUR_TRAITS } from "../flavour.ts";
import * as branch from "../ipc/branch.ts";
import type { Session, SessionCallOptions } from "../ipc/session.ts";
import { miningIsInitialBlockDownload, rpcBatch, type RpcReply } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../registry.ts";
import { CallTimeoutError, DisconnectedError } from "../ipc/errors.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../defaults.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";

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

/** How many distinct problems with the node's answers are remembered (each is logged once). */
const MAX_REPORTED = 64;

export class NodeGaugesCollector implements Collector {
  readonly name = "node";
  #session: Session | undefined;
  #readings: Partial<NodeReadings> | undefined;
  #readAt = -Infinity;
  #inflight: Promise<void> | undefined;
  /** Problems with the node's answers, each logged once (bounded: the oldest is forgotten). */
  readonly #reported = new Set<string>();
  readonly #log: Logger;
  readonly #timing: Timing;

  constructor(ctx: CollectorContext) {
    this.#log = ctx.log;
    this.#timing = ctx.timing;
  }

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

  /** Brings readings up to date (within the cache window); rejects when the round failed. */
  scrape(): Promise<void> {
    const session = this.#session;
    if (!session) return Promise.resolve();
    if (performance.now() - this.#readAt < this.#timing.scrapeCacheMs) return Promise.resolve();
    this.#inflight ??= this.#read(session).finally(() => this.#inflight = undefined);
    return this.#inflight;
  }

  async #read(session: Session): Promise<void> {
    const end = performance.now() + this.#timing.scrapeTimeoutMs;
    const opt = (): SessionCallOptions => ({ timeoutMs: Math.max(1, end - performance.now()) });
    const failures: string[] = [];
    let readings: Partial<NodeReadings>;
    try {
      const source = FLAVOUR_TRAITS[session.flavour].gauges;
      readings = source === "node"
        ? await readBranch(session, opt, failures)
        : source === "rpc"
        ? await this.#readRpc(session, opt)
        : { ibd: await miningIsInitialBlockDownload(session, opt()) };
    } catch (e) {
      if (this.#session === session) this.#readings = undefined;
      throw new Error(`reading node state failed: ${errorText(e)}`);
    }
    if (this.#session !== session) return;
    this.#readings = readings;
    this.#readAt = performance.now();
    if (failures.length > 0) throw new Error(`reading node state failed: ${failures.join("; ")}`);
  }

  /**
   * Stock master / v32: one executeRpc carrying a JSON-RPC batch. Each field is checked: one the
   * node did not send (or sent as another type) leaves its metric out and is logged once, so a
   * renamed field never shows up as a zero.
   */
  async #readRpc(session: Session, opt: () => SessionCallOptions): Promise<Partial<NodeReadings>> {
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
      const v = pickField(reply, method, field, type);
      if (typeof v === "string") return this.#report(v);
      (r as Record<string, unknown>)[key] = v.value;
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
    if (this.#reported.size >= MAX_REPORTED) this.#reported.delete(this.#reported.values().next().value!);
    this.#reported.add(problem);
    this.#log.error(`JSON-RPC over IPC: ${problem}; the metric it feeds is left out`);
  }

  /** The last readings (tests). */
  get readings(): Partial<NodeReadings> | undefined {
    return this.#readings;
  }

  families(): Family[] {
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
        const x = this.#readings;
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

/** A JSON-RPC reply's field of the expected type, or the problem with it as text. */
export function pickField(
  reply: RpcReply,
  method: string,
  field: string | undefined,
  type: "number" | "boolean",
): { value: number | boolean } | string {
  const where = field ? `${method}.${field}` : method;
  if (reply.error) return `${where}: ${method} failed: ${String(reply.error.message ?? "error").slice(0, 200)}`;
  const v = field === undefined
    ? reply.result
    : (reply.result && typeof reply.result === "object" ? (reply.result as Record<string, unknown>)[field] : undefined);
  if (typeof v !== type || (type === "number" && !Number.isFinite(v))) {
    return `${where} is ${v === undefined ? "missing" : `not a ${type}`} in the node's answer`;
  }
  return { value: v as number | boolean };
}

/**
 * Multiprocess branches: the Chain/Node getters, one call after another on the read Thread. Each
 * is read on its own: one the node fails to answer is left out (and named in `failures`), the
 * others are served. A call that timed out stops the round: the calls after it would only wait
 * behind it for the same Thread.
 */
async function readBranch(
  session: Session,
  opt: () => SessionCallOptions,
  failures: string[],
): Promise<Partial<NodeReadings>> {
  const r: Partial<NodeReadings> = {};
  const reads: [keyof NodeReadings, () => Promise<number | boolean>][] = [
    ["headerHeight", () => branch.getHeaderTip(session, opt())],
    ["ibd", () => branch.isInitialBlockDownload(session, opt())],
    ["verificationProgress", () => branch.getVerificationProgress(session, opt())],
    ["mempoolSize", () => branch.getMempoolSize(session, opt())],
    ["mempoolBytes", () => branch.getMempoolDynamicUsage(session, opt())],
    ["mempoolMaxBytes", () => branch.getMempoolMaxUsage(session, opt())],
    ["peers", () => branch.getNodeCount(session, branch.ConnectionDirection.Both, opt())],
    ["bytesRecv", () => branch.getTotalBytesRecv(session, opt())],
    ["bytesSent", () => branch.getTotalBytesSent(session, opt())],
  ];
  for (const [key, read] of reads) {
    try {
      (r as Record<string, unknown>)[key] = await read();
    } catch (e) {
      failures.push(`${key}: ${errorText(e)}`);
      // What is left would only wait behind it for the Thread, or fail the same way.
      if (e instanceof CallTimeoutError || e instanceof DisconnectedError) break;
    }
  }
  if (failures.length === reads.length) throw new Error(failures[0]);
  return r;
}

export const nodeCollector: CollectorSpec = {
  name: "node",
  help: "node state read at scrape time: headers, IBD, verification progress, mempool, peers, traffic",
  create: (ctx) => new NodeGaugesCollector(ctx),
};
