/**
 * The chain and the node as they describe themselves, read at scrape time: the tip's header time,
 * difficulty, size on disk, pruning, chain tips by status, the node's version and chain, its start
 * time and its warnings. JSON-RPC flavours (v32, chain5) from getblockchaininfo, getchaintips,
 * getnetworkinfo and uptime in the shared round; the multiprocess branches from Node getters
 * (getLastBlockTime, getWarnings) and the same JSON-RPC methods through Node.executeRpc.
 *
 * Bounded: chain tips are counted by Core's five statuses (anything else is `unknown`); the node's
 * version strings are one series, each label cut to 100 characters; warnings are a count.
 */
import * as branch from "../ipc/branch.ts";
import type { Family, Sample } from "../metrics/registry.ts";
import type { CollectorContext, CollectorSpec } from "./collector.ts";
import type { Answer } from "./rpc_round.ts";
import { ScrapedCollector } from "./scraped.ts";

export const TIP_STATUSES = ["active", "valid-fork", "valid-headers", "headers-only", "invalid"] as const;
const MAX_LABEL = 100;

export interface ChainInfoReadings {
  blockTime: number;
  difficulty: number;
  sizeOnDisk: number;
  pruned: boolean;
  pruneHeight: number;
  /** Chain tips by status (TIP_STATUSES, then `unknown`). */
  tips: number[];
  info: { version: string; subversion: string; chain: string };
  uptime: number;
  warnings: number;
}

/** getchaintips' answer counted by status; undefined (reported) when malformed. */
export function tipsFromRpc(a: Answer): number[] | undefined {
  const list = a.array();
  if (!list) return undefined;
  const counts = new Array<number>(TIP_STATUSES.length + 1).fill(0);
  for (const t of list) {
    const status = t && typeof t === "object" ? (t as Record<string, unknown>).status : undefined;
    if (typeof status !== "string") return a.problem("a tip has no status");
    const i = (TIP_STATUSES as readonly string[]).indexOf(status);
    counts[i < 0 ? TIP_STATUSES.length : i]++;
  }
  return counts;
}

/** Warnings as a count: an array of texts (Core 28+), or one text, empty for none (older). */
export function warningCount(a: Answer, field: string): number | undefined {
  const r = a.result();
  if (r === undefined) return undefined;
  const w = r && typeof r === "object" ? (r as Record<string, unknown>)[field] : undefined;
  if (Array.isArray(w)) return w.length;
  if (typeof w === "string") return w === "" ? 0 : 1;
  return a.problem(`${field} is ${w === undefined ? "missing" : "neither texts nor a text"}`);
}

export class ChainInfoCollector extends ScrapedCollector<ChainInfoReadings> {
  readonly name = "chaininfo";
  /** The start time served, kept while uptime agrees with it to a second (uptime is whole seconds). */
  #startTime: number | undefined;

  constructor(ctx: CollectorContext) {
    super(ctx, {
      rpc: (round) => {
        // On the branches all four go through Node.executeRpc (no getter gives difficulty, size on
        // disk, chain tips, versions or uptime); `pruned` too, as Chain.havePruned answers another
        // question (has any block file been pruned yet, not whether the node prunes).
        const chain = round.add("getblockchaininfo", undefined, {
          node: true,
          feeds: [
            "bitcoin_block_timestamp_seconds",
            "bitcoin_difficulty",
            "bitcoin_blockchain_size_bytes",
            "bitcoin_pruned",
            "bitcoin_prune_height",
            "bitcoin_node_info",
            "bitcoin_warnings",
          ],
        });
        const tips = round.add("getchaintips", undefined, { node: true, feeds: ["bitcoin_chain_tips"] });
        const net = round.add("getnetworkinfo", undefined, { node: true, feeds: ["bitcoin_node_info"] });
        const uptime = round.add("uptime", undefined, { node: true, feeds: ["bitcoin_node_start_time_seconds"] });
        return (answer) => {
          const c = answer(chain, "getblockchaininfo");
          const n = answer(net, "getnetworkinfo");
          const pruned = c.bool("pruned");
          const version = n.num("version"), subversion = n.str("subversion"), name = c.str("chain");
          return {
            blockTime: c.num("time"),
            difficulty: c.num("difficulty"),
            sizeOnDisk: c.num("size_on_disk"),
            pruned,
            // Present only while pruned (Core omits it otherwise).
            pruneHeight: pruned ? c.num("pruneheight") : undefined,
            tips: tipsFromRpc(answer(tips, "getchaintips")),
            info: version === undefined || subversion === undefined || name === undefined
              ? undefined
              : { version: String(version), subversion, chain: name },
            uptime: answer(uptime, "uptime").num(),
            warnings: warningCount(c, "warnings"),
          };
        };
      },
      node: (session, opt) => ({
        blockTime: () => branch.getLastBlockTime(session, opt()),
        warnings: async () => (await branch.getWarnings(session, opt())).count,
      }),
    });
  }

  /** Now minus uptime, steady across scrapes: it moves only when it disagrees by more than a second. */
  #start(uptime: number | undefined): number | undefined {
    if (uptime === undefined) return undefined;
    const t = Math.round(Date.now() / 1000 - uptime);
    if (this.#startTime === undefined || Math.abs(t - this.#startTime) > 1) this.#startTime = t;
    return this.#startTime;
  }

  families(): Family[] {
    return [
      this.gauge(
        "bitcoin_block_timestamp_seconds",
        "Header time of the active tip (Unix seconds); alert on time() - bitcoin_block_timestamp_seconds.",
        (x) => x.blockTime,
      ),
      this.gauge("bitcoin_difficulty", "Proof-of-work difficulty of the active tip.", (x) => x.difficulty),
      this.gauge(
        "bitcoin_blockchain_size_bytes",
        "Estimated size of the block and undo files on disk (getblockchaininfo size_on_disk).",
        (x) => x.sizeOnDisk,
      ),
      this.gauge(
        "bitcoin_pruned",
        "Whether the node prunes its block files (1) or keeps them all (0).",
        (x) => x.pruned === undefined ? undefined : x.pruned ? 1 : 0,
      ),
      this.gauge(
        "bitcoin_prune_height",
        "Height of the lowest block whose data is stored (pruned nodes only).",
        (x) => x.pruneHeight,
      ),
      {
        name: "bitcoin_chain_tips",
        help:
          "Chain tips known to the node by status (getchaintips; active, valid-fork, valid-headers, headers-only, invalid, and unknown for any other).",
        type: "gauge",
        read: () => {
          const t = this.readings?.tips;
          if (!t) return undefined;
          const out: Sample[] = TIP_STATUSES.map((status, i) => ({ labels: { status }, value: t[i] }));
          if (t[TIP_STATUSES.length] > 0) out.push({ labels: { status: "unknown" }, value: t[TIP_STATUSES.length] });
          return out;
        },
      },
      {
        name: "bitcoin_node_info",
        help: "What the node says it is (getnetworkinfo version and subversion, getblockchaininfo chain); always 1.",
        type: "gauge",
        read: () => {
          const i = this.readings?.info;
          if (!i) return undefined;
          return [{
            labels: {
              version: i.version.slice(0, MAX_LABEL),
              subversion: i.subversion.slice(0, MAX_LABEL),
              chain: i.chain.slice(0, MAX_LABEL),
            },
            value: 1,
          }];
        },
      },
      this.gauge(
        "bitcoin_node_start_time_seconds",
        "When the node started (Unix seconds): now minus its uptime, steady to within a second.",
        (x) => this.#start(x.uptime),
      ),
      this.gauge(
        "bitcoin_warnings",
        "Warnings the node reports (getblockchaininfo warnings): a count, their texts are in the node's log.",
        (x) => x.warnings,
      ),
    ];
  }
}

export const chainInfoCollector: CollectorSpec = {
  name: "chaininfo",
  help: "tip time, difficulty, size on disk, pruning, chain tips by status, node version/chain, start time, warnings",
  create: (ctx) => new ChainInfoCollector(ctx),
};
