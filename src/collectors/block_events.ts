/**
 * What the sequence of tips says: reorgs (a counter and a histogram of their depth) and the
 * interval between consecutive blocks' header times (a histogram). Fed by the tip events the chain
 * collector publishes (events.ts): on the multiprocess branches and chain5 from ChainNotifications
 * (blocks connected/disconnected since the previous updatedBlockTip), on v32 from the tip walk
 * (tip_source.ts). Stock v30/v31 know no connects or disconnects: these families are absent there.
 *
 * A reorg is a tip change that disconnected at least one block and connected at least one; its
 * depth is the number disconnected. A tip that only goes back (invalidateblock) is not a reorg,
 * and a change the walk could not resolve is not counted (never guessed).
 *
 * The interval is taken from what the node already pushes, with no read per tip: each connected
 * block's header (the branches' blockConnected carries the serialized block; v32's tip walk reads
 * every header it passes) gives its time and its parent's hash, and the interval is observed when
 * the parent's time is known (a block connected before, or the tip read at connect), once per block
 * however many blocks connect before the next tip event, so bursts (`generatetoaddress 3`) lose
 * none. Not observed in initial block download (IBD's intervals are history, not the network's pace
 * now; IBD as last read, here or by the node collector) nor for a block already observed (connected
 * again after a reorg). A block whose header time is before its parent's counts as 0 s. While the
 * node is in IBD (or that is not known) its getblockchaininfo is read once tips settle, to learn when
 * IBD ends; after it, no read per tip at all.
 */
import { FLAVOUR_TRAITS } from "../flavour.ts";
import type { Session } from "../ipc/session.ts";
import { type Family, Histogram } from "../metrics/registry.ts";
import { errorText } from "../util/errors.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";
import type { BlockEvent, TipEvent } from "./events.ts";
import { Answer, Reporter, rpcCall } from "./rpc_round.ts";

export const REORG_DEPTH_BUCKETS: readonly number[] = [1, 2, 3, 4, 5, 6, 10, 20, 50, 100];
export const BLOCK_INTERVAL_BUCKETS: readonly number[] = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200];
/** Header times remembered (by block hash): deeper reorgs lose the interval of their first block. */
const RECENT_BLOCKS = 2048;

/** The active tip as one read saw it. */
export interface TipTime {
  height: number;
  time: number;
  ibd: boolean;
  /** Display hex, where the answer had it. */
  hash?: string;
}

/** How a flavour's node tells the active tip's height, header time and IBD, or undefined if it cannot. */
type TipTimeRead = (session: Session, timeoutMs: number) => Promise<TipTime>;

export class BlockEventsCollector implements Collector {
  readonly name = "block_events";
  reorgs = 0;
  readonly reorgDepth = new Histogram(REORG_DEPTH_BUCKETS);
  readonly interval = new Histogram(BLOCK_INTERVAL_BUCKETS);
  #session: Session | undefined;
  #read: TipTimeRead | undefined;
  /** Recent blocks' header times by hash, and whether each one's interval was considered already. */
  readonly #times = new Map<string, { time: number; done: boolean }>();
  #reading: Promise<void> | undefined;
  /** The read itself, without the pause after it (what a scrape waits for). */
  #inflight: Promise<void> | undefined;
  /** When the previous per-tip read ended (performance.now()). */
  #lastReadAt = -Infinity;
  #again = false;
  #failure: string | undefined;
  /** Aborted when the session ends: a pause between per-tip reads ends with it. */
  #ended = new AbortController();
  readonly #ctx: CollectorContext;
  readonly #reporter: Reporter;

  constructor(ctx: CollectorContext) {
    this.#ctx = ctx;
    this.#reporter = new Reporter(ctx.log);
    ctx.events.onTip((t) => this.#tip(t));
    ctx.events.onBlock((b) => this.#block(b));
  }

  /** Where reorgs are known on the connected flavour. */
  get #reorgsKnown(): boolean {
    const s = this.#session;
    if (!s) return false;
    const t = FLAVOUR_TRAITS[s.flavour];
    return t.chainNotifications || t.derivedBlocks;
  }

  async attach(session: Session): Promise<void> {
    this.#session = session;
    this.#ended = new AbortController();
    this.#times.clear();
    this.#failure = undefined;
    // getblockchaininfo through Rpc.executeRpc (v32, chain5) or Node.executeRpc (the branches).
    this.#read = session.rpc || session.node ? (s, ms) => this.#readRpc(s, ms) : undefined;
    if (!this.#read || !this.#reorgsKnown) return;
    // The tip now, so the first block after connecting has a parent to measure from. A tip that comes
    // while it is read waits for it (#reading): it may say IBD is over, and then no tip is read at all.
    this.#again = false;
    const first = this.#readTip(session);
    this.#startReading(first.then(() => this.#readWhileTipsCome(session)));
    await first;
  }

  detach(): void {
    this.#session = undefined;
    this.#times.clear();
    this.#ended.abort();
  }

  /** A connected block, on the node's callback path: a map lookup and an observation at most. */
  #block(b: BlockEvent): void {
    if (!this.#session || !this.#read || b.time === undefined) return;
    const known = this.#times.get(b.hash);
    const parent = b.prevHash === undefined ? undefined : this.#times.get(b.prevHash);
    if (parent && !known?.done && this.#ctx.events.ibd !== true) {
      this.interval.observe(Math.max(0, b.time - parent.time));
    }
    this.#remember(b.hash, b.time, known?.done || parent !== undefined);
  }

  #remember(hash: string, time: number, done: boolean): void {
    this.#times.delete(hash);
    if (this.#times.size >= RECENT_BLOCKS) this.#times.delete(this.#times.keys().next().value!);
    this.#times.set(hash, { time, done });
  }

  /** On the node's callback path (via the chain collector): counts only, the read is scheduled. */
  #tip(t: TipEvent): void {
    const session = this.#session;
    if (!session) return;
    if (t.blocks && t.blocks.disconnected > 0 && t.blocks.connected > 0) {
      this.reorgs++;
      this.reorgDepth.observe(t.blocks.disconnected);
    }
    // Outside IBD nothing is read per tip; in it (or not knowing), IBD's end is read once tips settle.
    if (!this.#read || this.#ctx.events.ibd === false) return;
    this.#again = true;
    if (this.#reading) return;
    this.#startReading(this.#readWhileTipsCome(session));
  }

  /** Runs `run` as the reading in progress (what tips that come meanwhile wait for). */
  #startReading(run: Promise<void>): void {
    const reading: Promise<void> = run.finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    this.#reading = reading;
  }

  /**
   * Per-tip reads while tips keep coming and IBD is not known to be over: one at a time, each once
   * the tips settle (ChainEvents.perTipRead), the newest tip's.
   */
  async #readWhileTipsCome(session: Session): Promise<void> {
    const ended = this.#ended.signal;
    while (this.#again && this.#session === session && this.#ctx.events.ibd !== false) {
      this.#again = false;
      await this.#ctx.events.perTipRead(this.#lastReadAt, ended, async () => {
        // Off the callback path: the read starts once the node has its answer (a call begun
        // here would be encoded and written before the callback returns). IBD may have been
        // learned over while this waited (another collector's read): then there is nothing to read.
        await new Promise((r) => setTimeout(r, 0));
        if (this.#session !== session || this.#ctx.events.ibd === false) return;
        this.#inflight = this.#readTip(session);
        await this.#inflight;
        this.#inflight = undefined;
        this.#lastReadAt = performance.now();
      });
    }
  }

  async #readTip(session: Session): Promise<void> {
    let now: TipTime;
    try {
      now = await this.#read!(session, this.#ctx.timing.scrapeTimeoutMs);
    } catch (e) {
      if (this.#session !== session) return;
      this.#failure = `reading the tip's header time: ${errorText(e)}`;
      return;
    }
    if (this.#session !== session) return;
    this.#failure = undefined;
    this.#ctx.events.ibd = now.ibd;
    // The tip's own interval is the block event's to observe (or was before this read).
    if (now.hash !== undefined && !this.#times.has(now.hash)) this.#remember(now.hash, now.time, true);
  }

  /** getblockchaininfo: height, header time, hash and IBD of one tip, in one answer. */
  async #readRpc(session: Session, timeoutMs: number): Promise<TipTime> {
    const reply = await rpcCall(session, "getblockchaininfo", undefined, timeoutMs);
    const a = new Answer(reply, "getblockchaininfo", this.#reporter);
    const height = a.num("blocks"), time = a.num("time"), ibd = a.bool("initialblockdownload");
    if (height === undefined || time === undefined || ibd === undefined) {
      throw new Error("getblockchaininfo lacks blocks, time or initialblockdownload");
    }
    const hash = (reply.result as { bestblockhash?: unknown } | undefined)?.bestblockhash;
    return { height, time, ibd, hash: typeof hash === "string" ? hash.toLowerCase() : undefined };
  }

  /** Fails the scrape (collector_success 0) while the last tip read failed. */
  async scrape(): Promise<void> {
    await this.#inflight;
    if (this.#failure) throw new Error(this.#failure);
  }

  families(): Family[] {
    return [
      {
        name: "bitcoin_reorgs_total",
        help: "Chain reorganisations: tip changes that disconnected at least one block and connected at least one.",
        type: "counter",
        read: () => this.#reorgsKnown ? this.reorgs : undefined,
      },
      {
        name: "bitcoin_reorg_depth_blocks",
        help: "Blocks disconnected by each reorganisation.",
        type: "histogram",
        read: () => this.#reorgsKnown ? this.reorgDepth : undefined,
      },
      {
        name: "bitcoin_block_interval_seconds",
        help:
          "Seconds between consecutive blocks' header times, observed as each block becomes the tip (outside initial block download; a header time before its parent's counts as 0).",
        type: "histogram",
        read: () => this.#reorgsKnown && this.#read ? this.interval : undefined,
      },
    ];
  }
}

export const blockEventsCollector: CollectorSpec = {
  name: "block_events",
  help:
    "reorgs (count, depth histogram) and the interval between blocks' header times, from tip events and pushed headers",
  create: (ctx) => new BlockEventsCollector(ctx),
};
