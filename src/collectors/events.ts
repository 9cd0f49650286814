/**
 * Node events one collector learns and others use, without collectors knowing each other: the chain
 * collector publishes each new tip it sees; a collector that reads something once per block
 * subscribes. Listeners run synchronously and must not throw (a throw is caught and dropped).
 */
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
