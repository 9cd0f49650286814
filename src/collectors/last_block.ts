/**
 * The active tip's block as `getblockstats` describes it, read for the newest tip once tips settle
 * (events.ts: a burst of blocks costs one read; never at scrape time): its transactions, size, weight, fees, fee-rate percentiles and subsidy, how much it grew
 * the UTXO set, and its inputs and outputs. Where the node speaks
 * JSON-RPC over IPC (v32) this answers "what does each block do to the UTXO set" without the
 * UTXO-cache trace subscription and its per-coin round trips; it never runs `gettxoutsetinfo` (a
 * scan of the whole UTXO set). On the branches the same getblockstats goes through
 * `Node.executeRpc` (Chain.findBlock carries no fee, size or UTXO statistics). With it, the chain's
 * transaction count (getchaintxstats of the same block, no window). Absent on v30/v31.
 *
 * What the node already pushed is not asked for (issue 21): on the branches blockConnected carries
 * the serialized block, so when the block read is the one connected last (kept by the chain
 * collector, events.ts `onBlockData`) its transactions, size, weight, inputs and outputs (and
 * utxo_increase, outputs minus inputs) are counted here (src/bitcoin/block.ts, a bounded number of
 * transactions per event-loop turn) and getblockstats is asked only for the statistics that need the
 * block's undo data, which the node reads from disk either way; the tip's hash comes from the same
 * notifications, so no getbestblockhash either. The values are the node's definitions exactly.
 */
import { type BlockCounts, countBlock } from "../bitcoin/block.ts";
import type { Session } from "../ipc/session.ts";
import type { RpcReply } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../metrics/registry.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../cli/defaults.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";
import type { BlockData, ChainEvents } from "./events.ts";
import { pickField } from "./node_gauges.ts";
import { rpcCall, rpcFailures } from "./rpc_round.ts";

/** getblockstats fields read, and the metric each feeds. */
const FIELDS = {
  txs: "bitcoin_last_block_transactions",
  total_size: "bitcoin_last_block_size_bytes",
  total_weight: "bitcoin_last_block_weight",
  totalfee: "bitcoin_last_block_fees_satoshis",
  subsidy: "bitcoin_last_block_subsidy_satoshis",
  ins: "bitcoin_last_block_inputs",
  outs: "bitcoin_last_block_outputs",
  utxo_increase: "bitcoin_last_block_utxo_increase",
  utxo_size_inc: "bitcoin_last_block_utxo_size_increase_bytes",
  utxo_increase_actual: "bitcoin_last_block_utxo_increase_spendable",
  utxo_size_inc_actual: "bitcoin_last_block_utxo_size_increase_spendable_bytes",
} as const;
type Field = keyof typeof FIELDS;
/**
 * The fields a serialized block gives without undo data (Core's getblockstats: txs, ins, outs,
 * total_size, total_weight, and utxo_increase = outs - ins). Left out of the request when counted
 * here, which also spares the node serializing every transaction for total_size; the rest need the
 * undo data (fees, the spent coins' sizes) or the chain's parameters (subsidy).
 */
const LOCAL: Record<Exclude<Field, NodeField>, (c: BlockCounts) => number> = {
  txs: (c) => c.txs,
  total_size: (c) => c.totalSize,
  total_weight: (c) => c.totalWeight,
  ins: (c) => c.ins,
  outs: (c) => c.outs,
  utxo_increase: (c) => c.outs - c.ins,
};
const NODE_FIELDS = ["totalfee", "subsidy", "utxo_size_inc", "utxo_increase_actual", "utxo_size_inc_actual"] as const;
type NodeField = typeof NODE_FIELDS[number];
/** getblockstats' feerate_percentiles are these, in sat/vB. */
export const FEE_RATE_PERCENTILES = ["10", "25", "50", "75", "90"] as const;

export class LastBlockCollector implements Collector {
  readonly name = "last_block";
  #session: Session | undefined;
  #stats: Partial<Record<Field, number>> | undefined;
  #percentiles: number[] | undefined;
  /** getchaintxstats' txcount at the block read (undefined where unknown or not read). */
  #chainTxs: number | undefined;
  #reading: Promise<void> | undefined;
  /** The read itself, without the pause after it (what a scrape waits for). */
  #inflight: Promise<void> | undefined;
  /** When the previous per-tip read ended (performance.now()). */
  #lastReadAt = -Infinity;
  /** Aborted when the session ends: a pause between per-tip reads ends with it. */
  #ended = new AbortController();
  readonly #events: ChainEvents;
  /** The block connected last, as the node pushed it (until read, or replaced by the next). */
  #kept: BlockData | undefined;
  /** A tip that arrived during a read: read next. */
  #next: { hash: string | undefined } | undefined;
  #failure: string | undefined;
  /** Problems with the node's answers already logged (bounded). */
  readonly #reported = new Set<string>();
  readonly #log: Logger;
  readonly #timing: Timing;

  constructor(ctx: CollectorContext) {
    this.#log = ctx.log;
    this.#timing = ctx.timing;
    this.#events = ctx.events;
    ctx.events.onBlockData((b) => this.#kept = b);
    ctx.events.onTip((t) => {
      const s = this.#session;
      if (s) this.#schedule(s, t.hash);
    });
  }

  async attach(session: Session): Promise<void> {
    this.#stats = undefined;
    this.#percentiles = undefined;
    this.#chainTxs = undefined;
    this.#failure = undefined;
    this.#next = undefined;
    this.#kept = undefined;
    // JSON-RPC: Rpc.executeRpc (v32, chain5) or Node.executeRpc (the branches).
    if (!session.rpc && !session.node) return;
    this.#session = session;
    this.#ended = new AbortController();
    await this.#read(session, undefined);
  }

  /**
   * Reads the block of a new tip once tips settle. Tips that arrive meanwhile are coalesced into
   * the newest (a burst of tips costs the node one read, or two when one arrives during the read).
   */
  #schedule(session: Session, hash: string | undefined): void {
    if (this.#reading) {
      this.#next = { hash };
      return;
    }
    const ended = this.#ended.signal;
    this.#reading = (async () => {
      let h = hash;
      for (;;) {
        // Once the tips settle (a burst of blocks costs one read of the newest; during IBD one per
        // pause) and no other per-tip read runs (events.ts).
        await this.#events.perTipRead(this.#lastReadAt, ended, async () => {
          // Off the callback path: the read starts once the node has its answer (a call begun
          // here would be encoded and written before the callback returns).
          await new Promise((r) => setTimeout(r, 0));
          if (this.#session !== session) return;
          if (this.#next) {
            h = this.#next.hash;
            this.#next = undefined;
          }
          this.#inflight = this.#read(session, h);
          await this.#inflight;
          this.#inflight = undefined;
          this.#lastReadAt = performance.now();
        });
        // A tip that arrived during the read is read next.
        if (!this.#next || this.#session !== session) break;
      }
    })().finally(() => this.#reading = undefined);
  }

  detach(): void {
    this.#session = undefined;
    this.#ended.abort();
  }

  /** Fails the scrape (collector_success 0) while the last read of a block failed. */
  async scrape(): Promise<void> {
    await this.#inflight;
    if (this.#failure) throw new Error(this.#failure);
  }

  /** getblockstats of `hash`, or of the best block when the tip's hash is not known. */
  async #read(session: Session, tipHash: string | undefined): Promise<void> {
    let hash = tipHash ?? "best block";
    try {
      const timeoutMs = this.#timing.scrapeTimeoutMs;
      if (tipHash === undefined) {
        const best = await rpcCall(session, "getbestblockhash", undefined, timeoutMs);
        if (typeof best.result !== "string") {
          throw new Error(`getbestblockhash: ${best.error?.message ?? "no hash in the answer"}`);
        }
        hash = best.result;
      }
      // The block the node pushed, if it is the one read: counted here, not asked for.
      const kept = this.#kept?.hash === hash ? this.#kept : undefined;
      if (kept) this.#kept = undefined;
      const counts = kept ? await countBlock(kept.bytes, this.#ended.signal) : undefined;
      if (this.#session !== session) return;
      const asked = counts ? NODE_FIELDS : Object.keys(FIELDS) as Field[];
      const reply = await rpcCall(session, "getblockstats", [hash, [...asked, "feerate_percentiles"]], timeoutMs);
      if (this.#session !== session) return;
      // A refused getblockstats (an -rpcwhitelist without it) is one line naming what it feeds.
      if (reply.error) {
        rpcFailures(this.#log).feeds("getblockstats", this.families().map((f) => f.name));
        rpcFailures(this.#log).failed("getblockstats", reply.error);
      }
      const stats: Partial<Record<Field, number>> = {};
      for (const f of reply.error ? [] : asked) {
        const v = pickField(reply, "getblockstats", f, "number");
        if (typeof v === "string") this.#report(v);
        else stats[f] = v.value as number;
      }
      if (counts && !reply.error) {
        for (const [f, read] of Object.entries(LOCAL)) stats[f as Field] = read(counts);
      }
      this.#stats = stats;
      this.#percentiles = reply.error ? undefined : percentiles(reply, (p) => this.#report(p));
      this.#failure = undefined;
    } catch (e) {
      if (this.#session !== session) return;
      this.#stats = undefined;
      this.#percentiles = undefined;
      this.#failure = `getblockstats ${hash}: ${errorText(e)}`;
    }
    if (hash !== "best block" && this.#session === session) await this.#readChainTxs(session, hash);
  }

  /**
   * getchaintxstats with no window (nblocks 0: the block's own nChainTx, no walk back through the
   * block index) for the same block: the chain's transaction count. Absent where the node does not
   * know it (txcount is left out after an assumeutxo load until the background sync ends) or the
   * read failed (a refusal logged once); it does not fail the collector.
   */
  async #readChainTxs(session: Session, hash: string): Promise<void> {
    let txs: number | undefined;
    try {
      const reply = await rpcCall(session, "getchaintxstats", [0, hash], this.#timing.scrapeTimeoutMs);
      if (this.#session !== session) return;
      if (reply.error) {
        this.#report(`getchaintxstats: ${reply.error.message ?? "failed"}`);
      } else {
        const v = (reply.result as { txcount?: unknown } | undefined)?.txcount;
        if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) txs = v;
        else if (v !== undefined) this.#report("getchaintxstats.txcount is not a count in the node's answer");
      }
    } catch {
      // No answer (the connection ending, the exporter stopping, a timeout): left out, not logged;
      // the same read's getblockstats reports a node that stopped answering (collector_success 0).
    }
    if (this.#session === session) this.#chainTxs = txs;
  }

  #report(problem: string): void {
    if (this.#reported.has(problem)) return;
    if (this.#reported.size >= 32) this.#reported.delete(this.#reported.values().next().value!);
    this.#reported.add(problem);
    this.#log.warn(`JSON-RPC over IPC: ${problem}; the metric it feeds is left out`);
  }

  families(): Family[] {
    const g = (field: Field, help: string): Family => ({
      name: FIELDS[field],
      help,
      type: "gauge",
      read: () => this.#stats?.[field],
    });
    return [
      {
        name: "bitcoin_chain_transactions_total",
        help:
          "Transactions in the active chain up to its tip, coinbases included (getchaintxstats txcount), read once tips settle; rate() gives confirmed transactions per second. A reorg to a chain with fewer transactions lowers it (a counter reset to rate()).",
        type: "counter",
        read: () => this.#chainTxs,
      },
      g("txs", "Transactions in the active tip's block, coinbase included (getblockstats txs)."),
      g(
        "total_size",
        "Serialized size of the active tip's block's transactions, coinbase excluded (getblockstats total_size).",
      ),
      g(
        "total_weight",
        "Weight of the active tip's block's transactions, coinbase excluded (getblockstats total_weight).",
      ),
      g("totalfee", "Fees paid by the active tip's block's transactions (getblockstats totalfee)."),
      g("subsidy", "The block subsidy of the active tip's block (getblockstats subsidy)."),
      {
        name: "bitcoin_last_block_fee_rate_sat_per_vbyte",
        help:
          "Fee rates of the active tip's block at the 10th, 25th, 50th, 75th and 90th percentile of its weight (getblockstats feerate_percentiles).",
        type: "gauge",
        read: () => this.#percentiles?.map((value, i) => ({ labels: { percentile: FEE_RATE_PERCENTILES[i] }, value })),
      },
      g("ins", "Inputs of the active tip's block, coinbase excluded (getblockstats ins)."),
      g("outs", "Outputs of the active tip's block (getblockstats outs)."),
      g(
        "utxo_increase",
        "Change in the number of UTXOs the active tip's block made: outputs minus inputs (getblockstats utxo_increase).",
      ),
      g(
        "utxo_size_inc",
        "Change in the UTXO set's size in bytes the active tip's block made (getblockstats utxo_size_inc).",
      ),
      g(
        "utxo_increase_actual",
        "The same as bitcoin_last_block_utxo_increase, counting only outputs that can be spent (getblockstats utxo_increase_actual; Core 29+).",
      ),
      g(
        "utxo_size_inc_actual",
        "The same as bitcoin_last_block_utxo_size_increase_bytes for spendable outputs only (getblockstats utxo_size_inc_actual; Core 29+).",
      ),
    ];
  }
}

/** feerate_percentiles: five numbers, or undefined (reported). */
function percentiles(reply: RpcReply, report: (problem: string) => void): number[] | undefined {
  const v = (reply.result as { feerate_percentiles?: unknown } | undefined)?.feerate_percentiles;
  if (Array.isArray(v) && v.length === FEE_RATE_PERCENTILES.length && v.every((x) => typeof x === "number")) {
    return v as number[];
  }
  report(
    `getblockstats.feerate_percentiles is ${v === undefined ? "missing" : "not five numbers"} in the node's answer`,
  );
  return undefined;
}

export const lastBlockCollector: CollectorSpec = {
  name: "last_block",
  help:
    "the active tip's block from getblockstats and the chain's transaction count from getchaintxstats, read once tips settle (JSON-RPC over IPC, or Node.executeRpc)",
  create: (ctx) => new LastBlockCollector(ctx),
};
