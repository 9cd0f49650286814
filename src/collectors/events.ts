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
 */
import { delay } from "../util/async.ts";

export interface TipEvent {
  /** As Bitcoin Core displays it; absent where the source does not decode it (updatedBlockTip). */
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
  /** Whether the node said it is in initial block download, as last read by any collector. */
  ibd: boolean | undefined;

  constructor(readonly ibdPauseMs: number = 2_000) {}

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

  tip(t: TipEvent): void {
    for (const l of this.#tip) {
      try {
        l(t);
      } catch { /* a listener's failure is its own to report */ }
    }
  }
}
