/**
 * Node events one collector learns and others use, without collectors knowing each other: the chain
 * collector publishes each new tip it sees; a collector that reads something once per block
 * subscribes. Listeners run synchronously and must not throw (a throw is caught and dropped).
 *
 * Also what collectors learned of initial block download (`ibd`): during IBD the node connects
 * many blocks a second, and a read per tip (getblockstats reads the block and its undo data from
 * disk) would keep the node busy for the whole sync. Per-tip readers start a read no sooner than
 * `perTipWait()` says: `ibdPauseMs` after their previous one while the node is in IBD, at once
 * otherwise.
 *
 * Per-tip reads the node does not feel (issue 21): a read that still needs the node (getblockstats
 * reads the block and its undo data from disk; it contends for the node's locks while it connects
 * the next block) waits until tips settle, `settleMs` with no new tip, so a burst of blocks costs
 * one read of the newest; and per-tip reads run one at a time (`perTipRead`), never two at once
 * whichever collectors make them. What the node already pushes (the connected blocks' headers,
 * `onBlock`; the serialized block itself, `onBlockData`) needs no read at all.
 */
import { delay } from "../util/async.ts";

/**
 * A block the node connected, in the order it connected them: from the branches' blockConnected
 * (the block's header carried in BlockInfo.data), or v32's tip walk (getblockheader of each block).
 */
export interface BlockEvent {
  height: number;
  /** Display hex (as Bitcoin Core shows it). */
  hash: string;
  /** The parent's hash (display hex) and the block's header time, where the source carries them. */
  prevHash?: string;
  time?: number;
}

/** A connected block as the node serialized it: `bytes` is the collectors' own copy. */
export interface BlockData {
  /** Display hex. */
  hash: string;
  bytes: Uint8Array;
}

export interface TipEvent {
  /**
   * As Bitcoin Core displays it; absent where the source does not know it (an updatedBlockTip with
   * no blockConnected since the last blockDisconnected, or whose block's hash was not read).
   */
  hash?: string;
  height: number;
  /**
   * Blocks connected and disconnected since the previous tip event, where the source knows them
   * (ChainNotifications counts; the v32 tip walk); absent where it does not (v30/v31, a walk that
   * could not be resolved).
   */
  blocks?: { connected: number; disconnected: number };
}

export class ChainEvents {
  readonly #tip: ((t: TipEvent) => void)[] = [];
  readonly #block: ((b: BlockEvent) => void)[] = [];
  readonly #blockData: ((b: BlockData) => void)[] = [];
  /** Whether the node said it is in initial block download, as last read by any collector. */
  ibd: boolean | undefined;
  /** When the last tip event arrived (performance.now()). */
  #lastTipAt = -Infinity;
  /** The per-tip read in progress (one at a time, across collectors). */
  #running: Promise<unknown> = Promise.resolve();

  /**
   * `settleMs`: how long the node must be quiet (no new tip) before a per-tip read; `settleMaxMs`:
   * the longest a read waits for that (a node that never pauses, a long sync, still gets one read
   * per `settleMaxMs`).
   */
  constructor(
    readonly ibdPauseMs: number = 2_000,
    readonly settleMs: number = 0,
    readonly settleMaxMs: number = 10_000,
  ) {}

  /**
   * Runs `read` once the tips have settled (no new tip for `settleMs`, or `settleMaxMs` waited;
   * during IBD also `ibdPauseMs`
   * after the caller's previous read) and no other per-tip read is running. Resolves to undefined
   * without reading when `signal` aborts (the session ended) before its turn.
   */
  async perTipRead<T>(lastReadAt: number, signal: AbortSignal, read: () => Promise<T>): Promise<T | undefined> {
    await this.perTipWait(lastReadAt, signal);
    const giveUpAt = performance.now() + this.settleMaxMs;
    for (;;) {
      const quiet = Math.min(this.#lastTipAt + this.settleMs, giveUpAt) - performance.now();
      if (quiet <= 0 || signal.aborted) break;
      await delay(quiet, signal);
    }
    if (signal.aborted) return undefined;
    const before = this.#running;
    let done!: () => void;
    this.#running = new Promise<void>((r) => done = r);
    try {
      await before;
      if (signal.aborted) return undefined;
      return await read();
    } finally {
      done();
    }
  }

  /**
   * Resolves when a per-tip reader whose previous read ended at `lastReadAt` (performance.now())
   * may read again: at once outside IBD; during IBD `ibdPauseMs` after that read, so a sync costs
   * the node one read per pause and reader, not one per block. Ends at once when `signal` aborts
   * (the session ended).
   */
  perTipWait(lastReadAt: number, signal: AbortSignal): Promise<void> {
    const wait = this.ibd ? lastReadAt + this.ibdPauseMs - performance.now() : 0;
    return wait > 0 ? delay(wait, signal) : Promise.resolve();
  }

  onTip(listener: (t: TipEvent) => void): void {
    this.#tip.push(listener);
  }

  /** A connected block (before the tip event that announces it): listeners must only note it. */
  onBlock(listener: (b: BlockEvent) => void): void {
    this.#block.push(listener);
  }

  /**
   * A connected block's serialized bytes (the branches' blockConnected carries them), published
   * after the node has its answer and outside initial block download only (copying every block of
   * a sync would cost more than it saves). Listeners must only keep it.
   */
  onBlockData(listener: (b: BlockData) => void): void {
    this.#blockData.push(listener);
  }

  /** Whether any collector takes block data (the block is copied out of the message only then). */
  get wantsBlockData(): boolean {
    return this.#blockData.length > 0;
  }

  blockData(b: BlockData): void {
    for (const l of this.#blockData) {
      try {
        l(b);
      } catch { /* a listener's failure is its own to report */ }
    }
  }

  /** Whether any collector takes block events (their headers are read only then). */
  get wantsBlocks(): boolean {
    return this.#block.length > 0;
  }

  block(b: BlockEvent): void {
    for (const l of this.#block) {
      try {
        l(b);
      } catch { /* a listener's failure is its own to report */ }
    }
  }

  tip(t: TipEvent): void {
    this.#lastTipAt = performance.now();
    for (const l of this.#tip) {
      try {
        l(t);
      } catch { /* a listener's failure is its own to report */ }
    }
  }
}
