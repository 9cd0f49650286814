/**
 * Node state read at scrape time, so every scrape sees the node as it is now rather than up to a
 * minute old: from the Chain/Node getters on the multiprocess branches, from the shared JSON-RPC round
 * over IPC on stock master / v32 and chain5 (rpc_round.ts), and from Mining (IBD only) on stock v30/v31. Concurrent scrapes
 * share one round of calls, and a round is reused for `scrapeCacheMs`, so scraping cannot make the
 * exporter call the node more often than that. A round that does not finish within
 * `scrapeTimeoutMs` is dropped: the metrics it would have produced are left out of that scrape
 * rather than served stale. One value the node fails to give leaves out that value alone.
 */
import * as branch from "../ipc/branch.ts";
import { miningIsInitialBlockDownload, type RpcReply } from "../ipc/stock.ts";
import type { Family } from "../metrics/registry.ts";
import type { CollectorContext, CollectorSpec } from "./collector.ts";
import { ScrapedCollector } from "./scraped.ts";

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

export class NodeGaugesCollector extends ScrapedCollector<NodeReadings> {
  readonly name = "node";
  readonly #events: CollectorContext["events"];

  constructor(ctx: CollectorContext) {
    super(ctx, {
      // Stock master / v32 and chain5: each field is checked; one the node did not send (or sent as
      // another type) leaves its metric out and is logged once, so a renamed field never shows up as
      // a zero.
      rpc: (round) => {
        const chain = round.add("getblockchaininfo", undefined, {
          feeds: ["bitcoin_header_height", "bitcoin_ibd", "bitcoin_verification_progress"],
        });
        const mempool = round.add("getmempoolinfo", undefined, {
          feeds: ["bitcoin_mempool_size", "bitcoin_mempool_bytes", "bitcoin_mempool_max_bytes"],
        });
        const peers = round.add("getconnectioncount", undefined, { feeds: ["bitcoin_peers"] });
        const totals = round.add("getnettotals", undefined, {
          feeds: ["bitcoin_bytes_recv_total", "bitcoin_bytes_sent_total"],
        });
        return (answer) => {
          const c = answer(chain, "getblockchaininfo");
          const m = answer(mempool, "getmempoolinfo");
          const t = answer(totals, "getnettotals");
          return {
            headerHeight: c.num("headers"),
            ibd: c.bool("initialblockdownload"),
            verificationProgress: c.num("verificationprogress"),
            mempoolSize: m.num("size"),
            mempoolBytes: m.num("usage"),
            mempoolMaxBytes: m.num("maxmempool"),
            peers: answer(peers, "getconnectioncount").num(),
            bytesRecv: t.num("totalbytesrecv"),
            bytesSent: t.num("totalbytessent"),
          };
        };
      },
      node: (session, opt) => ({
        headerHeight: () => branch.getHeaderTip(session, opt()),
        ibd: () => branch.isInitialBlockDownload(session, opt()),
        verificationProgress: () => branch.getVerificationProgress(session, opt()),
        mempoolSize: () => branch.getMempoolSize(session, opt()),
        mempoolBytes: () => branch.getMempoolDynamicUsage(session, opt()),
        mempoolMaxBytes: () => branch.getMempoolMaxUsage(session, opt()),
        peers: () => branch.getNodeCount(session, branch.ConnectionDirection.Both, opt()),
        bytesRecv: () => branch.getTotalBytesRecv(session, opt()),
        bytesSent: () => branch.getTotalBytesSent(session, opt()),
      }),
      mining: (session, opt) => ({ ibd: () => miningIsInitialBlockDownload(session, opt()) }),
    });
    this.#events = ctx.events;
  }

  /** Also tells the per-tip readers whether the node is in IBD (events.ts). */
  override async scrape(): Promise<void> {
    try {
      await super.scrape();
    } finally {
      const ibd = this.readings?.ibd;
      if (ibd !== undefined) this.#events.ibd = ibd;
    }
  }

  families(): Family[] {
    const g = (
      name: string,
      help: string,
      type: "gauge" | "counter",
      pick: (x: Partial<NodeReadings>) => number | undefined,
    ): Family => ({ ...this.gauge(name, help, pick), type });
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

export const nodeCollector: CollectorSpec = {
  name: "node",
  help: "node state read at scrape time: headers, IBD, verification progress, mempool, peers, traffic",
  create: (ctx) => new NodeGaugesCollector(ctx),
};
