/**
 * Chain and mempool events: counters, and the height of the last connected block. Their source
 * depends on the flavour: the multiprocess branches push them through `Chain.handleNotifications`;
 * stock releases have no notifications, so a tip source (tip_source.ts, `Mining.waitTipChanged`)
 * feeds the block and tip counters it can derive, and the counters no source feeds are left out.
 *
 * Each callback blocks the node's notification queue (which validation waits on) until we answer,
 * so the handler only bumps numbers; payloads are decoded only for what is counted (the block's
 * height, the removal reason) or when debug logging is on. It never throws: an exception answered to
 * the real node kills it.
 */
import { txid } from "../bitcoin/tx.ts";
import { FLAVOUR_TRAITS, type FlavourTraits } from "../flavour.ts";
import * as branch from "../ipc/branch.ts";
import type { IncomingCall, LocalServer, RemoteCap, Results } from "../ipc/rpc.ts";
import type { Session } from "../ipc/session.ts";
import type { WireMessage, WireStruct } from "../ipc/wire.ts";
import type { Logger } from "../log.ts";
import type { Family } from "../metrics/registry.ts";
import { errorText } from "../util/errors.ts";
import type { CallbackCost } from "./callback_cost.ts";
import type { Collector, CollectorContext, CollectorSpec } from "./collector.ts";
import { type TipChange, TipSource } from "./tip_source.ts";

/** MemPoolRemovalReason, in Bitcoin Core's order. */
export const REMOVAL_REASONS = ["expiry", "sizelimit", "reorg", "block", "conflict", "replaced"] as const;

const M = branch.ChainNotificationMethod;
/** At most one connected block copied for collectors per this long (see #wantsData). */
export const BLOCK_COPY_INTERVAL_MS = 1000;

export class ChainCollector implements Collector, LocalServer {
  readonly name = "chain";
  readonly interfaceId = branch.CHAIN_NOTIFICATIONS_INTERFACE;
  blocksConnected = 0;
  blocksDisconnected = 0;
  txAdded = 0;
  txRemoved = 0;
  readonly txRemovedByReason = new Array<number>(REMOVAL_REASONS.length + 1).fill(0);
  tipUpdates = 0;
  flushes = 0;
  blockHeight = -1;
  /** blocksConnected/blocksDisconnected at the last tip event (what the next one reports is the difference). */
  #publishedConnected = 0;
  #publishedDisconnected = 0;
  #handler: RemoteCap | undefined;
  /** Reads the notifications in the connected node's Chain generation (their layouts differ on pr/ipc). */
  #read: branch.ChainNotificationReader = branch.chainNotificationReader();
  #tips: TipSource | undefined;
  /**
   * The hash of the block connected last, until a block is disconnected: the tip the next
   * updatedBlockTip announces (Core connects a step's blocks, then updates the tip once), so
   * per-tip readers need not ask the node for it.
   */
  #tipHash: string | undefined;
  /** The hash of the blockConnected being answered, when its block is to be copied once answered. */
  #copyHash: string | undefined;
  /** When a block was last copied for collectors (performance.now()). */
  #lastCopyAt = -Infinity;
  /**
   * What the node connected last (or the flavour forced on the command line) provides; undefined
   * until known, when every family is served as upstream does.
   */
  #traits: FlavourTraits | undefined;
  readonly #ctx: CollectorContext;
  readonly #log: Logger;
  readonly #cost: CallbackCost;
  /** CallbackCost slot per method id. */
  readonly #slots: number[];

  constructor(ctx: CollectorContext) {
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#cost = ctx.callbacks;
    this.#slots = Object.values(M).map((m) => ctx.callbacks.slot("ChainNotifications", m)!);
    if (ctx.flavour) this.#traits = FLAVOUR_TRAITS[ctx.flavour];
  }

  get subscribed(): boolean {
    return this.#handler !== undefined;
  }

  async attach(session: Session): Promise<void> {
    this.#traits = FLAVOUR_TRAITS[session.flavour];
    this.#tipHash = undefined;
    if (session.chain) {
      this.#read = branch.chainNotificationReader(session);
      // The height now, so bitcoin_block_height is the node's from the first scrape (not -1 until
      // the next block); -1 only when the node has no block. Read before subscribing: a block
      // connected meanwhile then arrives after it and wins.
      const height = await branch.getHeight(session);
      this.blockHeight = height ?? -1;
      this.#publishedConnected = this.blocksConnected;
      this.#publishedDisconnected = this.blocksDisconnected;
      this.#handler = await branch.subscribeChainNotifications(session, this);
      this.#cost.subscribed("ChainNotifications");
      this.#log.info("subscribed to chain notifications");
    } else if (this.#traits.tipWatch) {
      this.#tips = new TipSource(session, this.#ctx, (change) => this.#tipChanged(change));
      const tip = await this.#tips.start();
      this.blockHeight = tip ? tip.height : -1;
    }
  }

  detach(): void {
    this.#handler = undefined;
    this.#tips?.stop();
    this.#tips = undefined;
  }

  /** A tip change seen by the tip source; connects/disconnects when it could resolve them. */
  #tipChanged(c: TipChange): void {
    for (const h of c.headers ?? []) this.#ctx.events.block(h);
    this.#ctx.events.tip({ hash: c.hash, height: c.height, blocks: c.blocks });
    this.tipUpdates++;
    this.blockHeight = c.height;
    if (c.blocks) {
      this.blocksConnected += c.blocks.connected;
      this.blocksDisconnected += c.blocks.disconnected;
    }
  }

  /**
   * The one place a notification is counted, whichever way its params were read. `arg` is the
   * removal reason of transactionRemovedFromMempool and the height of blockConnected; `t0` when
   * handling began (for the callback cost).
   */
  #record(methodId: number, arg: number, t0: number, header?: branch.ConnectedHeader): boolean {
    // The block's header for block_events (its interval): what the node pushed, no read.
    if (header) this.#tipHash = header.hash;
    const known = this.#count(methodId, arg);
    if (header && known) this.#ctx.events.block({ height: arg, ...header });
    if (known) this.#cost.record(this.#slots[methodId], (performance.now() - t0) / 1000);
    return known;
  }

  #count(methodId: number, arg: number): boolean {
    switch (methodId) {
      case M.transactionAddedToMempool:
        this.txAdded++;
        return true;
      case M.transactionRemovedFromMempool:
        this.txRemoved++;
        this.txRemovedByReason[arg >= 0 && arg < REMOVAL_REASONS.length ? arg : REMOVAL_REASONS.length]++;
        return true;
      case M.blockConnected:
        this.blocksConnected++;
        this.blockHeight = arg;
        return true;
      case M.blockDisconnected:
        this.blocksDisconnected++;
        this.#tipHash = undefined;
        return true;
      case M.updatedBlockTip: {
        this.tipUpdates++;
        const blocks = {
          connected: this.blocksConnected - this.#publishedConnected,
          disconnected: this.blocksDisconnected - this.#publishedDisconnected,
        };
        this.#publishedConnected = this.blocksConnected;
        this.#publishedDisconnected = this.blocksDisconnected;
        this.#ctx.events.tip({ hash: this.#tipHash, height: this.blockHeight, blocks });
        return true;
      }
      case M.chainStateFlushed:
        this.flushes++;
        return true;
      case M.destroy:
        return true;
      default:
        return false;
    }
  }

  fastDispatch(methodId: number, w: WireMessage, params: WireStruct | null): boolean {
    if (this.#log.debugEnabled || methodId > M.chainStateFlushed) return false; // debug lines decode payloads
    const t0 = performance.now();
    const header = methodId === M.blockConnected && this.#wantsHeader() ? this.#read.headerWire(w, params) : undefined;
    const arg = this.#read.argWire(methodId, w, params);
    this.#copyHash = header && this.#wantsData() ? header.hash : undefined;
    return this.#record(methodId, arg, t0, header);
  }

  /** Whether blockConnected's header is read: for block events, and for the hash of the block data. */
  #wantsHeader(): boolean {
    return this.#ctx.events.wantsBlocks || this.#ctx.events.wantsBlockData;
  }

  /**
   * Whether a connected block's bytes are copied for collectors: never in IBD (or before it is
   * known), and at most one block per BLOCK_COPY_INTERVAL_MS. HAZARD: a copy per block made a burst
   * of 2 MB blocks cost 6x the C++ client's CPU per callback and 55 MiB of RSS (bench, "block
   * connected 2 MB data"); in a burst only the newest block is read anyway (the others' copies would
   * be garbage), and a block not copied is read with the whole getblockstats.
   */
  #wantsData(): boolean {
    if (!this.#ctx.events.wantsBlockData || this.#ctx.events.ibd !== false) return false;
    const now = performance.now();
    if (now - this.#lastCopyAt < BLOCK_COPY_INTERVAL_MS) return false;
    this.#lastCopyAt = now;
    return true;
  }

  /**
   * After the node has its answer: the connected block's bytes, copied out of the message for
   * last_block (it reads the block's counts once tips settle instead of asking the node). The copy
   * is the block's size (a 4 MB block is about a millisecond), at most once per BLOCK_COPY_INTERVAL_MS and never
   * in IBD (#wantsData).
   */
  answered(methodId: number, w: WireMessage, params: WireStruct | null): void {
    const hash = this.#copyHash;
    if (methodId !== M.blockConnected || hash === undefined) return;
    this.#copyHash = undefined;
    const data = this.#read.dataWire(w, params);
    if (data) this.#ctx.events.blockData({ hash, bytes: data.slice() });
  }

  dispatch(call: IncomingCall): Results {
    const t0 = performance.now();
    try {
      const header = call.methodId === M.blockConnected && this.#wantsHeader() ? this.#read.header(call) : undefined;
      if (!this.#record(call.methodId, this.#read.arg(call), t0, header)) {
        this.#log.warn(`chain notification with unknown method ${call.methodId} answered as done`);
      } else if (this.#log.debugEnabled) {
        this.#debug(call);
      }
      // The general path (debug logging, an unusual message) copies before answering: not the hot path.
      const data = header && this.#wantsData() ? this.#read.data(call) : null;
      if (header && data) this.#ctx.events.blockData({ hash: header.hash, bytes: data.slice() });
    } catch (e) {
      // Answer success regardless: an exception returned to the node takes the node down.
      this.#log.error(`chain notification ${call.methodId} could not be read: ${errorText(e)}`);
    }
    return undefined;
  }

  #debug(call: IncomingCall): void {
    switch (call.methodId) {
      case M.transactionAddedToMempool:
      case M.transactionRemovedFromMempool: {
        const bytes = branch.notificationTx(call);
        const what = call.methodId === M.transactionAddedToMempool
          ? "added"
          : `removed (${REMOVAL_REASONS[this.#read.arg(call)] ?? this.#read.arg(call)})`;
        this.#log.debug(`mempool tx ${what} txid=${txid(bytes) ?? "?"} size=${bytes.length}`);
        break;
      }
      case M.blockConnected: {
        const b = this.#read.block(call);
        const role = b.historical ? "historical" : "validated";
        this.#log.debug(`block connected height=${b.height} hash=${b.hash} role=${role}`);
        break;
      }
      case M.blockDisconnected: {
        const b = this.#read.block(call);
        this.#log.debug(`block disconnected height=${b.height} hash=${b.hash}`);
        break;
      }
      case M.updatedBlockTip:
        this.#log.debug("tip updated");
        break;
      case M.chainStateFlushed:
        this.#log.debug(`chain state flushed role=${this.#read.flushedHistorical(call) ? "historical" : "validated"}`);
        break;
    }
  }

  families(): Family[] {
    // Which source feeds a family on the current flavour; a family no source feeds is left out.
    const events = () => this.#traits === undefined || this.#traits.chainNotifications;
    const blocks = () => events() || this.#traits!.derivedBlocks;
    const counter = (name: string, help: string, present: () => boolean, read: () => number): Family => ({
      name,
      help,
      type: "counter",
      read: () => present() ? read() : undefined,
    });
    return [
      counter(
        "bitcoin_blocks_connected_total",
        "Blocks connected via ChainNotifications.",
        blocks,
        () => this.blocksConnected,
      ),
      counter(
        "bitcoin_blocks_disconnected_total",
        "Blocks disconnected via ChainNotifications.",
        blocks,
        () => this.blocksDisconnected,
      ),
      counter("bitcoin_mempool_tx_added_total", "Transactions added to mempool.", events, () => this.txAdded),
      counter(
        "bitcoin_mempool_tx_removed_total",
        "Transactions removed from mempool for expiry, size limit, reorg, conflict or replacement; transactions mined in a block leave with blockConnected and are not counted here.",
        events,
        () => this.txRemoved,
      ),
      {
        name: "bitcoin_mempool_tx_removed_by_reason_total",
        help: "Transactions removed from mempool, by Bitcoin Core's MemPoolRemovalReason.",
        type: "counter",
        read: () =>
          events()
            ? [...REMOVAL_REASONS, "unknown"].map((reason, i) => ({
              labels: { reason },
              value: this.txRemovedByReason[i],
            }))
            : undefined,
      },
      counter("bitcoin_tip_updates_total", "Block tip updates received.", () => true, () => this.tipUpdates),
      counter("bitcoin_chain_state_flushes_total", "Chain state flush events.", events, () => this.flushes),
      {
        name: "bitcoin_block_height",
        help:
          "Height of the active tip, read from the node at connect and followed as blocks arrive (-1 when the node has no block).",
        type: "gauge",
        read: () => this.blockHeight,
      },
    ];
  }
}

export const chainCollector: CollectorSpec = {
  name: "chain",
  help:
    "blocks, tip updates, mempool and flush events: pushed by ChainNotifications (branches) or derived from Mining.waitTipChanged (stock)",
  create: (ctx) => new ChainCollector(ctx),
};
