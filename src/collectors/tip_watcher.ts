/**
 * The chain tip on stock flavours, which have no ChainNotifications: one `Mining.waitTipChanged`
 * long-poll always outstanding (re-armed as soon as it returns) keeps `bitcoin_block_height` and
 * `bitcoin_tip_updates_total` current in real time.
 *
 * Where the node speaks JSON-RPC over IPC (v32), each tip change is also resolved into the blocks
 * it connected and disconnected: both tips are walked back through `getblockheader` to their
 * common ancestor (a new tip whose parent is the old tip is one connect; anything else is a reorg).
 * A change that cannot be resolved is logged and left uncounted, never guessed.
 */
import type { Collector } from "./collector.ts";
import type { ChainNotificationsCollector } from "./chain_notifications.ts";
import { FLAVOUR_TRAITS } from "../flavour.ts";
import { DisconnectedError } from "../ipc/errors.ts";
import { errorText } from "../util/errors.ts";
import type { Session } from "../ipc/session.ts";
import { type BlockRef, getTip, interruptMining, rpcBatch, waitTipChanged } from "../ipc/stock.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../registry.ts";

export interface TipWatcherOptions {
  /** How long each waitTipChanged waits on the node before returning the unchanged tip. */
  waitMs: number;
  /** Added to waitMs for our own timeout of the call. */
  callTimeoutMs: number;
  /** Pause after a failed wait before the next, so a node answering errors is not hammered. */
  retryMs: number;
}

/** Deeper tip changes are not walked (one getblockheader per block); they are logged instead. */
export const MAX_WALK = 1000;

export class TipWatcher implements Collector {
  readonly name = "tip_watcher";
  #session: Session | undefined;
  #tip: BlockRef | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(
    readonly log: Logger,
    readonly chain: ChainNotificationsCollector,
    readonly options: TipWatcherOptions,
  ) {}

  async attach(session: Session): Promise<void> {
    if (!FLAVOUR_TRAITS[session.flavour].tipWatch) return;
    this.#session = session;
    this.#tip = await getTip(session);
    if (this.#tip) this.chain.blockHeight = this.#tip.height;
    this.#loop = this.#watch(session);
    // Before the socket closes, end the wait in progress where the node lets us (v31+ has
    // Mining.interrupt; v30 has none, and its wait simply ends with the connection).
    session.beforeShutdown(async () => {
      this.#session = undefined;
      this.#wake?.();
      if (session.mining?.generation !== "v31") return;
      await interruptMining(session, 500).catch(() => {});
      const loop = this.#loop;
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (loop) await Promise.race([loop, new Promise((r) => timer = setTimeout(r, 500))]);
      clearTimeout(timer);
    });
    this.log.info(`watching the chain tip (height ${this.#tip?.height ?? "none"}) with Mining.waitTipChanged`);
  }

  detach(): void {
    this.#session = undefined;
    this.#tip = undefined;
    this.#wake?.();
  }

  families(): Family[] {
    return []; // feeds the chain collector's families
  }

  async #watch(session: Session): Promise<void> {
    const o = this.options;
    while (this.#session === session) {
      let next: BlockRef | undefined;
      try {
        next = await waitTipChanged(session, this.#tip?.raw ?? new Uint8Array(32), o.waitMs, o.callTimeoutMs);
      } catch (e) {
        if (this.#session !== session || e instanceof DisconnectedError) return;
        this.log.warn(`waiting for a new tip failed: ${errorText(e)}; waiting again in ${o.retryMs / 1000} s`);
        await this.#sleep(o.retryMs);
        continue;
      }
      if (this.#session !== session) return;
      if (!next || next.hash === this.#tip?.hash) continue; // interrupted, or the wait timed out
      const prev = this.#tip;
      this.#tip = next;
      const blocks = prev && FLAVOUR_TRAITS[session.flavour].derivedBlocks
        ? await this.#resolve(session, prev, next)
        : undefined;
      if (this.#session !== session) return;
      this.chain.recordTip(next.height, blocks);
      if (this.log.debugEnabled) {
        const what = blocks ? ` (+${blocks.connected} connected, -${blocks.disconnected} disconnected)` : "";
        this.log.debug(`tip changed to height=${next.height} hash=${next.hash}${what}`);
      }
    }
  }

  /** Blocks connected and disconnected between two tips, through their common ancestor. */
  async #resolve(
    session: Session,
    from: BlockRef,
    to: BlockRef,
  ): Promise<{ connected: number; disconnected: number } | undefined> {
    const parents = new Map<string, string>();
    const parent = async (hash: string): Promise<string> => {
      const known = parents.get(hash);
      if (known) return known;
      const [reply] = await rpcBatch(session, [{ method: "getblockheader", params: [hash] }]);
      const prev = (reply.result as { previousblockhash?: unknown } | undefined)?.previousblockhash;
      if (reply.error || typeof prev !== "string") {
        throw new Error(`getblockheader ${hash}: ${reply.error?.message ?? "no previousblockhash"}`);
      }
      parents.set(hash, prev);
      return prev;
    };
    try {
      let a = from.hash, ha = from.height, b = to.hash, hb = to.height;
      let connected = 0, disconnected = 0;
      while (a !== b) {
        if (connected + disconnected > 2 * MAX_WALK) {
          throw new Error(`the common ancestor is more than ${MAX_WALK} blocks back`);
        }
        if (hb >= ha) {
          b = await parent(b);
          hb--;
          connected++;
        } else {
          a = await parent(a);
          ha--;
          disconnected++;
        }
      }
      return { connected, disconnected };
    } catch (e) {
      if (this.#session === session) {
        this.log.error(
          `could not resolve the tip change ${from.height}/${from.hash} -> ${to.height}/${to.hash}: ${
            errorText(e)
          }; its blocks are not counted`,
        );
      }
      return undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }
}
