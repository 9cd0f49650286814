/**
 * Chain events pushed by the node through `Chain.handleNotifications`: counters, and the height of
 * the last connected block. On stock flavours, which have no ChainNotifications, the tip watcher
 * (tip_watcher.ts) feeds the block and tip counters it can derive through `recordTip`, and the
 * counters no source feeds are left out.
 *
 * Each callback blocks the node's notification queue (which validation waits on) until we answer,
 * so the handler only bumps numbers; payloads are decoded only for what is counted (BlockInfo.height)
 * or when debug logging is on. It never throws: an exception answered to the real node kills it.
 */
import { ChainNotifications$Client, ChainNotifications_BlockConnected$Params } from "../../gen/chain.ts";
import {
  ChainNotifications_BlockDisconnected$Params,
  ChainNotifications_ChainStateFlushed$Params,
  ChainNotifications_TransactionAddedToMempool$Params,
  ChainNotifications_TransactionRemovedFromMempool$Params,
} from "../../gen/chain.ts";
import { displayHash, txid } from "../bitcoin/tx.ts";
import { int32Field, setCapAt } from "../ipc/capnp.ts";
import type { IncomingCall, LocalServer, RemoteCap, Results } from "../ipc/rpc.ts";
import type { WireMessage, WireStruct } from "../ipc/wire.ts";
import { Chain$Client, type Session } from "../ipc/session.ts";
import type { Logger } from "../log.ts";
import type { FlavourTraits } from "../flavour.ts";
import type { Family } from "../registry.ts";
import type { Collector } from "./collector.ts";
import { errorText } from "../util/errors.ts";

/** BlockInfo.height: Int32 at data offset 0, schema default -1 (stored XOR the default). */
const BLOCK_INFO_HEIGHT = { offset: 0, default: -1 } as const;

/** MemPoolRemovalReason, in Bitcoin Core's order. */
export const REMOVAL_REASONS = ["expiry", "sizelimit", "reorg", "block", "conflict", "replaced"] as const;

const M = {
  destroy: 0,
  transactionAddedToMempool: 1,
  transactionRemovedFromMempool: 2,
  blockConnected: 3,
  blockDisconnected: 4,
  updatedBlockTip: 5,
  chainStateFlushed: 6,
} as const;

export class ChainNotificationsCollector implements Collector, LocalServer {
  readonly name = "chain_notifications";
  readonly interfaceId = ChainNotifications$Client.interfaceId;
  blocksConnected = 0;
  blocksDisconnected = 0;
  txAdded = 0;
  txRemoved = 0;
  readonly txRemovedByReason = new Array<number>(REMOVAL_REASONS.length + 1).fill(0);
  tipUpdates = 0;
  flushes = 0;
  blockHeight = -1;
  #handler: RemoteCap | undefined;
  /**
   * What the node connected last (or the flavour forced on the command line) provides; undefined
   * until known, when every family is served as upstream does.
   */
  traits: FlavourTraits | undefined;

  constructor(readonly log: Logger) {}

  get subscribed(): boolean {
    return this.#handler !== undefined;
  }

  async attach(session: Session): Promise<void> {
    if (!session.chain) return;
    this.#handler = await session.subscribe(
      session.chain,
      Chain$Client.methods[39],
      (p, caps) => setCapAt(p, 1, caps.add(this)),
    );
    this.log.info("subscribed to chain notifications");
  }

  detach(): void {
    this.#handler = undefined;
  }

  /** A tip change seen by the tip watcher; connects/disconnects when it could resolve them. */
  recordTip(height: number, blocks?: { connected: number; disconnected: number }): void {
    this.tipUpdates++;
    this.blockHeight = height;
    if (blocks) {
      this.blocksConnected += blocks.connected;
      this.blocksDisconnected += blocks.disconnected;
    }
  }

  fastDispatch(methodId: number, w: WireMessage, params: WireStruct | null): boolean {
    if (this.log.debugEnabled) return false; // debug lines decode payloads: the general path
    switch (methodId) {
      case M.transactionAddedToMempool:
        this.txAdded++;
        return true;
      case M.transactionRemovedFromMempool: {
        const reason = params ? w.i32(params, 0) : 0;
        this.txRemoved++;
        this.txRemovedByReason[reason >= 0 && reason < REMOVAL_REASONS.length ? reason : REMOVAL_REASONS.length]++;
        return true;
      }
      case M.blockConnected: {
        const block = params ? w.structAt(params, 2) : null;
        const height = block ? (w.i32(block, BLOCK_INFO_HEIGHT.offset) ^ BLOCK_INFO_HEIGHT.default) : -1;
        this.blocksConnected++;
        this.blockHeight = height;
        return true;
      }
      case M.blockDisconnected:
        this.blocksDisconnected++;
        return true;
      case M.updatedBlockTip:
        this.tipUpdates++;
        return true;
      case M.chainStateFlushed:
        this.flushes++;
        return true;
      case M.destroy:
        return true;
      default:
        return false;
    }
  }

  dispatch(call: IncomingCall): Results {
    try {
      switch (call.methodId) {
        case M.transactionAddedToMempool:
          this.txAdded++;
          if (this.log.debugEnabled) {
            this.#logTx("added", call.params(ChainNotifications_TransactionAddedToMempool$Params).tx);
          }
          break;
        case M.transactionRemovedFromMempool: {
          this.txRemoved++;
          const p = call.params(ChainNotifications_TransactionRemovedFromMempool$Params);
          const reason = p.reason;
          this.txRemovedByReason[reason >= 0 && reason < REMOVAL_REASONS.length ? reason : REMOVAL_REASONS.length]++;
          if (this.log.debugEnabled) this.#logTx(`removed (${REMOVAL_REASONS[reason] ?? reason})`, p.tx);
          break;
        }
        case M.blockConnected: {
          this.blocksConnected++;
          const p = call.params(ChainNotifications_BlockConnected$Params);
          const block = p.block;
          this.blockHeight = int32Field(block, BLOCK_INFO_HEIGHT.offset, BLOCK_INFO_HEIGHT.default);
          if (this.log.debugEnabled) {
            const role = p.role.historical ? "historical" : "validated";
            this.log.debug(`block connected height=${this.blockHeight} hash=${hashOf(block.hash)} role=${role}`);
          }
          break;
        }
        case M.blockDisconnected:
          this.blocksDisconnected++;
          if (this.log.debugEnabled) {
            const block = call.params(ChainNotifications_BlockDisconnected$Params).block;
            const height = int32Field(block, BLOCK_INFO_HEIGHT.offset, BLOCK_INFO_HEIGHT.default);
            this.log.debug(`block disconnected height=${height} hash=${hashOf(block.hash)}`);
          }
          break;
        case M.updatedBlockTip:
          this.tipUpdates++;
          if (this.log.debugEnabled) this.log.debug("tip updated");
          break;
        case M.chainStateFlushed:
          this.flushes++;
          if (this.log.debugEnabled) {
            const p = call.params(ChainNotifications_ChainStateFlushed$Params);
            this.log.debug(`chain state flushed role=${p.role.historical ? "historical" : "validated"}`);
          }
          break;
        case M.destroy:
          break;
        default:
          this.log.warn(`chain notification with unknown method ${call.methodId} answered as done`);
      }
    } catch (e) {
      // Answer success regardless: an exception returned to the node takes the node down.
      this.log.error(`chain notification ${call.methodId} could not be read: ${errorText(e)}`);
    }
    return undefined;
  }

  #logTx(what: string, tx: { toUint8Array(): Uint8Array }): void {
    const bytes = tx.toUint8Array();
    this.log.debug(`mempool tx ${what} txid=${txid(bytes) ?? "?"} size=${bytes.length}`);
  }

  families(): Family[] {
    // Which source feeds a family on the current flavour; a family no source feeds is left out.
    const events = () => this.traits === undefined || this.traits.chainNotifications;
    const blocks = () => events() || this.traits!.derivedBlocks;
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
        help: "Height of the last connected block (-1 until one is connected).",
        type: "gauge",
        read: () => this.blockHeight,
      },
    ];
  }
}

function hashOf(data: { toUint8Array(): Uint8Array }): string {
  return displayHash(data.toUint8Array());
}
