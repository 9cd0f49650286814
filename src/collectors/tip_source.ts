/**
 * The chain tip on stock flavours, which have no ChainNotifications: a source of tip events for the
 * chain collector. One `Mining.waitTipChanged` long-poll always outstanding (re-armed as soon as it
 * returns) reports each new tip in real time.
 *
 * Where the node speaks JSON-RPC over IPC (v32), each tip change is also resolved into the blocks
 * it connected and disconnected: both tips are walked back through `getblockheader` to their
 * common ancestor (a new tip whose parent is the old tip is one connect; anything else is a reorg).
 * A change that cannot be resolved is logged and left uncounted, never guessed.
 *
 * Hazard (bitcoin/bitcoin#34250): a stock v30 node can crash when a client disconnects while a
 * waitTipChanged is in flight, and v30 has no Mining.interrupt to end one early. So on v30 each
 * wait is short (`tipWaitMsV30`), and before the session closes the outstanding wait is allowed
 * to return (on v31+ it is interrupted first).
 */
import { FLAVOUR_TRAITS } from "../flavour.ts";
import { DisconnectedError } from "../ipc/errors.ts";
import type { Session } from "../ipc/session.ts";
import { type BlockRef, getTip, interruptMining, rpcBatch, waitTipChanged } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import { delay, settleWithin } from "../util/async.ts";
import { errorText } from "../util/errors.ts";
import type { Timing } from "../cli/defaults.ts";
import type { BlockEvent } from "./events.ts";

/** Deeper tip changes are not walked (one getblockheader per block); they are logged instead. */
export const MAX_WALK = 1000;

export interface TipChange {
  height: number;
  hash: string;
  /** Blocks connected and disconnected since the previous tip, where they could be resolved. */
  blocks?: { connected: number; disconnected: number };
  /** The connected blocks' headers as the walk read them, oldest first (block_events' intervals). */
  headers?: BlockEvent[];
}

/** What walking between two tips needs: the parent of a block. */
export type ParentOf = (hash: string) => Promise<string>;

export class TipSource {
  #tip: BlockRef | undefined;
  #loop: Promise<void> | undefined;
  #running = false;
  readonly #stopped = new AbortController();
  readonly #log: Logger;
  readonly #timing: Timing;

  constructor(
    readonly session: Session,
    ctx: { log: Logger; timing: Timing },
    readonly onChange: (change: TipChange) => void,
  ) {
    this.#log = ctx.log;
    this.#timing = ctx.timing;
  }

  /** How long each wait asks the node to wait. */
  get waitMs(): number {
    return this.session.mining?.generation === "v30" ? this.#timing.tipWaitMsV30 : this.#timing.tipWaitMs;
  }

  /** Reads the current tip and starts watching; returns the tip. */
  async start(): Promise<BlockRef | undefined> {
    const session = this.session;
    this.#tip = await getTip(session);
    this.#running = true;
    this.#loop = this.#watch();
    // Before the socket closes, end the wait in progress where the node lets us (v31+ has
    // Mining.interrupt), and let it return: closing with it in flight can crash a v30 node.
    session.beforeShutdown(async () => {
      this.#running = false;
      this.#stopped.abort();
      if (session.mining?.generation !== "v30") await interruptMining(session, 500).catch(() => {});
      if (this.#loop) await settleWithin(this.#loop, this.waitMs + 500);
    });
    this.#log.info(`watching the chain tip (height ${this.#tip?.height ?? "none"}) with Mining.waitTipChanged`);
    return this.#tip;
  }

  /** The session has ended: stop re-arming (the wait in flight ended with the connection). */
  stop(): void {
    this.#running = false;
    this.#stopped.abort();
  }

  async #watch(): Promise<void> {
    const session = this.session;
    while (this.#running) {
      let next: BlockRef | undefined;
      try {
        const current = this.#tip?.raw ?? new Uint8Array(32);
        next = await waitTipChanged(session, current, this.waitMs, this.#timing.callTimeoutMs);
      } catch (e) {
        if (!this.#running || e instanceof DisconnectedError) return;
        const retry = this.#timing.tipRetryMs;
        this.#log.warn(`waiting for a new tip failed: ${errorText(e)}; waiting again in ${retry / 1000} s`);
        await delay(retry, this.#stopped.signal);
        continue;
      }
      if (!this.#running) return;
      if (!next || next.hash === this.#tip?.hash) continue; // interrupted, or the wait timed out
      const prev = this.#tip;
      this.#tip = next;
      const resolved = prev && FLAVOUR_TRAITS[session.flavour].derivedBlocks
        ? await this.#resolve(prev, next)
        : undefined;
      if (!this.#running) return;
      const blocks = resolved?.blocks;
      this.onChange({ height: next.height, hash: next.hash, blocks, headers: resolved?.headers });
      if (this.#log.debugEnabled) {
        const what = blocks ? ` (+${blocks.connected} connected, -${blocks.disconnected} disconnected)` : "";
        this.#log.debug(`tip changed to height=${next.height} hash=${next.hash}${what}`);
      }
    }
  }

  async #resolve(
    from: BlockRef,
    to: BlockRef,
  ): Promise<{ blocks: NonNullable<TipChange["blocks"]>; headers: BlockEvent[] } | undefined> {
    const parents = new Map<string, string>();
    const times = new Map<string, number>();
    const parentOf: ParentOf = async (hash) => {
      const known = parents.get(hash);
      if (known) return known;
      const [reply] = await rpcBatch(this.session, [{ method: "getblockheader", params: [hash] }]);
      const r = reply.result as { previousblockhash?: unknown; time?: unknown } | undefined;
      const prev = r?.previousblockhash;
      if (reply.error || typeof prev !== "string") {
        throw new Error(`getblockheader ${hash}: ${reply.error?.message ?? "no previousblockhash"}`);
      }
      parents.set(hash, prev);
      if (typeof r?.time === "number") times.set(hash, r.time);
      return prev;
    };
    try {
      const blocks = await walkTips(from, to, parentOf);
      // The connected blocks are the new tip and its ancestors the walk passed: newest first here.
      const headers: BlockEvent[] = [];
      let hash = to.hash;
      for (let i = 0; i < blocks.connected; i++) {
        const prevHash = parents.get(hash)!;
        headers.push({ height: to.height - i, hash, prevHash, time: times.get(hash) });
        hash = prevHash;
      }
      return { blocks, headers: headers.reverse() };
    } catch (e) {
      if (this.#running) {
        this.#log.error(
          `could not resolve the tip change ${from.height}/${from.hash} -> ${to.height}/${to.hash}: ${
            errorText(e)
          }; its blocks are not counted`,
        );
      }
      return undefined;
    }
  }
}

/**
 * The blocks connected and disconnected going from tip `from` to tip `to`: walk the higher of the
 * two back one parent at a time until both meet at their common ancestor. Throws when the
 * ancestor is more than MAX_WALK blocks back or a parent cannot be read.
 */
export async function walkTips(
  from: { hash: string; height: number },
  to: { hash: string; height: number },
  parentOf: ParentOf,
): Promise<{ connected: number; disconnected: number }> {
  let a = from.hash, ha = from.height, b = to.hash, hb = to.height;
  let connected = 0, disconnected = 0;
  while (a !== b) {
    if (connected + disconnected > 2 * MAX_WALK) {
      throw new Error(`the common ancestor is more than ${MAX_WALK} blocks back`);
    }
    if (hb >= ha) {
      b = await parentOf(b);
      hb--;
      connected++;
    } else {
      a = await parentOf(a);
      ha--;
      disconnected++;
    }
  }
  return { connected, disconnected };
}
