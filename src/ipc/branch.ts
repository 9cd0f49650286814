/**
 * Calls on the interfaces of the multiprocess work (pr/trace, pr/ipc, and the generation rebased
 * over makeRpc: chain5-node, chain5): `Chain`, `Node`, `Tracing`, each by name, and the readers of
 * the callbacks they push to us. Collectors use these and never see ordinals, cap-table slots or
 * byte offsets. Every call carries our Thread in its `Proxy.Context` (Session.callWithContext).
 *
 * Chain calls go out in the schema generation the session proved (NodeInterfaces.chainGeneration):
 * schemas/chain.capnp for the branches, schemas/chain5/chain.capnp for the rebased work. The methods
 * called here have the same ordinals and layouts in both (checked below by name and ordinal, and
 * layout by tests/golden_test.ts); the generations part ways after them (waitForNotifications @41).
 */
import * as $ from "capnp-es";
import {
  Chain$Client,
  ChainNotifications$Client,
  ChainNotifications_BlockConnected$Params,
  ChainNotifications_BlockDisconnected$Params,
  ChainNotifications_ChainStateFlushed$Params,
  ChainNotifications_TransactionAddedToMempool$Params,
  ChainNotifications_TransactionRemovedFromMempool$Params,
} from "../../gen/chain.ts";
import {
  Chain$Client as ChainChain5$Client,
  ChainNotifications$Client as ChainNotificationsChain5$Client,
} from "../../gen/chain5/chain.ts";
import { displayHash } from "../bitcoin/tx.ts";
import { Node$Client } from "../../gen/node.ts";
import type { ChainGeneration } from "./detect.ts";
import { Tracing$Client, UtxoCacheTrace$Client, UtxoCacheTrace_Add$Params } from "../../gen/tracing.ts";
import { int32Field, setCapAt, uint32Field } from "./capnp.ts";
import { named } from "./methods.ts";
import type { IncomingCall, LocalServer, RemoteCap } from "./rpc.ts";
import type { Session, SessionCallOptions } from "./session.ts";
import type { WireMessage, WireStruct } from "./wire.ts";

const chainCalls: Record<ChainGeneration, {
  getHeight: typeof Chain$Client.methods[1];
  isInitialBlockDownload: typeof Chain$Client.methods[33];
  handleNotifications: typeof Chain$Client.methods[39];
}> = {
  "pr-trace": {
    getHeight: named(Chain$Client.methods, 1, "getHeight"),
    isInitialBlockDownload: named(Chain$Client.methods, 33, "isInitialBlockDownload"),
    handleNotifications: named(Chain$Client.methods, 39, "handleNotifications"),
  },
  chain5: {
    getHeight: named(ChainChain5$Client.methods, 1, "getHeight"),
    isInitialBlockDownload: named(ChainChain5$Client.methods, 33, "isInitialBlockDownload"),
    handleNotifications: named(ChainChain5$Client.methods, 39, "handleNotifications"),
  },
};
const node = {
  getNodeCount: named(Node$Client.methods, 18, "getNodeCount"),
  getTotalBytesRecv: named(Node$Client.methods, 26, "getTotalBytesRecv"),
  getTotalBytesSent: named(Node$Client.methods, 27, "getTotalBytesSent"),
  getMempoolSize: named(Node$Client.methods, 28, "getMempoolSize"),
  getMempoolDynamicUsage: named(Node$Client.methods, 29, "getMempoolDynamicUsage"),
  getMempoolMaxUsage: named(Node$Client.methods, 30, "getMempoolMaxUsage"),
  getHeaderTip: named(Node$Client.methods, 31, "getHeaderTip"),
  getVerificationProgress: named(Node$Client.methods, 36, "getVerificationProgress"),
};
const tracing = {
  traceUtxoCache: named(Tracing$Client.methods, 0, "traceUtxoCache"),
};

/** Bitcoin Core's ConnectionDirection flags for Node.getNodeCount. */
export const ConnectionDirection = { In: 1, Out: 2, Both: 3 } as const;

function chainOf(session: Session): { cap: RemoteCap; calls: typeof chainCalls["pr-trace"] } {
  const { chain: cap, chainGeneration } = session.interfaces;
  if (!cap || !chainGeneration) throw new Error("the node offers no Chain interface");
  return { cap, calls: chainCalls[chainGeneration] };
}

function nodeOf(session: Session): RemoteCap {
  const cap = session.node;
  if (!cap) throw new Error("the node offers no Node interface");
  return cap;
}

/** `Chain.getHeight`: the active chain's height, or undefined when the node has no block. */
export function getHeight(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  const { cap, calls } = chainOf(session);
  return session.callWithContext(cap, calls.getHeight, undefined, (r) => {
    return r.hasResult ? r.result : undefined;
  }, o);
}

/** `Chain.isInitialBlockDownload`. */
export function isInitialBlockDownload(session: Session, o?: SessionCallOptions): Promise<boolean> {
  const { cap, calls } = chainOf(session);
  return session.callWithContext(cap, calls.isInitialBlockDownload, undefined, (r) => r.result, o);
}

/** `Node.getHeaderTip`: the best header's height, -1 when the node has none. */
export function getHeaderTip(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getHeaderTip, undefined, (r) => r.result ? r.height : -1, o);
}

export function getVerificationProgress(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getVerificationProgress, undefined, (r) => r.result, o);
}

export function getMempoolSize(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getMempoolSize, undefined, (r) => Number(r.result), o);
}

/** Memory the mempool uses (bytes). */
export function getMempoolDynamicUsage(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getMempoolDynamicUsage, undefined, (r) => Number(r.result), o);
}

/** -maxmempool in bytes. */
export function getMempoolMaxUsage(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getMempoolMaxUsage, undefined, (r) => Number(r.result), o);
}

export function getNodeCount(session: Session, flags: number, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getNodeCount, (p) => p.flags = flags, (r) => {
    return Number(r.result);
  }, o);
}

export function getTotalBytesRecv(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getTotalBytesRecv, undefined, (r) => Number(r.result), o);
}

export function getTotalBytesSent(session: Session, o?: SessionCallOptions): Promise<number> {
  return session.callWithContext(nodeOf(session), node.getTotalBytesSent, undefined, (r) => Number(r.result), o);
}

/** `Chain.handleNotifications(notifications)`: the Handler is disconnected before every close. */
export function subscribeChainNotifications(session: Session, server: LocalServer): Promise<RemoteCap> {
  const { cap, calls } = chainOf(session);
  return session.subscribe(cap, calls.handleNotifications, (p, caps) => {
    setCapAt(p, 1, caps.add(server)); // params: (context, notifications)
  });
}

/** `Tracing.traceUtxoCache(callback)` (pr/trace only). */
export function subscribeUtxoTrace(session: Session, server: LocalServer): Promise<RemoteCap> {
  const cap = session.tracing;
  if (!cap) return Promise.reject(new Error("the node offers no Tracing interface"));
  return session.subscribe(cap, tracing.traceUtxoCache, (p, caps) => {
    setCapAt(p, 1, caps.add(server)); // params: (context, callback)
  });
}

// ---- Callbacks the node makes on our objects ----

export const CHAIN_NOTIFICATIONS_INTERFACE: bigint = ChainNotifications$Client.interfaceId;
// One ChainNotifications server serves both Chain generations: same interface ID (same file ID and
// name) and the same methods at the same ordinals, checked here; their params layouts are compared
// by tests/golden_test.ts.
if (ChainNotificationsChain5$Client.interfaceId !== CHAIN_NOTIFICATIONS_INTERFACE) {
  throw new Error("schema mismatch: the two Chain generations' ChainNotifications interface IDs differ");
}
export const UTXO_TRACE_INTERFACE: bigint = UtxoCacheTrace$Client.interfaceId;

/** ChainNotifications method ordinals (schemas/chain.capnp, schemas/chain5/chain.capnp). */
export const ChainNotificationMethod = {
  destroy: 0,
  transactionAddedToMempool: 1,
  transactionRemovedFromMempool: 2,
  blockConnected: 3,
  blockDisconnected: 4,
  updatedBlockTip: 5,
  chainStateFlushed: 6,
} as const;
for (const [name, ordinal] of Object.entries(ChainNotificationMethod)) {
  named(ChainNotifications$Client.methods, ordinal, name);
  named(ChainNotificationsChain5$Client.methods, ordinal, name);
}

/** UtxoCacheTrace method ordinals (schemas/tracing.capnp); add, spend and uncache share one params layout. */
export const UtxoTraceMethod = { destroy: 0, add: 1, spend: 2, uncache: 3 } as const;

/** BlockInfo.height: Int32 at data offset 0, schema default -1 (stored XOR the default). */
const BLOCK_INFO_HEIGHT = { offset: 0, default: -1 } as const;
/** blockConnected params: (context @0, role @1, block @2) — pointers 0, 1, 2. */
const BLOCK_CONNECTED_BLOCK_PTR = 2;
/** transactionRemovedFromMempool params: reason :Int32 at data offset 0. */
const REMOVED_REASON_OFFSET = 0;
/** add/spend/uncache params: (utxoInfo) with no Context, so UtxoInfo is pointer 0; its value: Int64 at offset 8. */
const UTXO_INFO_PTR = 0;
const UTXO_VALUE_OFFSET = 8;

/**
 * The one number a chain notification is counted by, read in place from the frame: the removal
 * reason of transactionRemovedFromMempool, the height of blockConnected (-1 if absent), 0 otherwise.
 * Throws WireError on a malformed frame (the call then goes the general way, `chainNotificationArg`).
 */
export function chainNotificationArgWire(methodId: number, w: WireMessage, params: WireStruct | null): number {
  if (!params) return methodId === ChainNotificationMethod.blockConnected ? -1 : 0;
  switch (methodId) {
    case ChainNotificationMethod.transactionRemovedFromMempool:
      return w.i32(params, REMOVED_REASON_OFFSET);
    case ChainNotificationMethod.blockConnected: {
      const block = w.structAt(params, BLOCK_CONNECTED_BLOCK_PTR);
      return block ? (w.i32(block, BLOCK_INFO_HEIGHT.offset) ^ BLOCK_INFO_HEIGHT.default) : -1;
    }
    default:
      return 0;
  }
}

/** The same number through capnp-es (the general path). */
export function chainNotificationArg(call: IncomingCall): number {
  switch (call.methodId) {
    case ChainNotificationMethod.transactionRemovedFromMempool:
      return call.params(ChainNotifications_TransactionRemovedFromMempool$Params).reason;
    case ChainNotificationMethod.blockConnected: {
      const p = call.params(ChainNotifications_BlockConnected$Params);
      return p._hasBlock() ? blockInfoHeight(p.block) : -1;
    }
    default:
      return 0;
  }
}

/** BlockInfo.height read exactly (capnp-es's own getter mishandles the -1 default). */
export function blockInfoHeight(block: $.Struct): number {
  return int32Field(block, BLOCK_INFO_HEIGHT.offset, BLOCK_INFO_HEIGHT.default);
}

/** A UTXO-cache event's satoshi value, read in place (0 when absent). */
export function utxoValueWire(w: WireMessage, params: WireStruct | null): number {
  const info = params ? w.structAt(params, UTXO_INFO_PTR) : null;
  return info ? w.i64(info, UTXO_VALUE_OFFSET) : 0;
}

/** The same value through capnp-es (the general path). */
export function utxoValue(call: IncomingCall): number {
  const info = call.params(UtxoCacheTrace_Add$Params).utxoInfo;
  return $.utils.getInt32(UTXO_VALUE_OFFSET + 4, info) * 4294967296 + $.utils.getUint32(UTXO_VALUE_OFFSET, info);
}

// ---- Whole payloads, decoded only for debug lines ----

/** A UTXO-cache event as the debug line shows it. */
export function utxoEvent(call: IncomingCall): {
  outpoint: string;
  n: number;
  height: number;
  value: bigint;
  coinbase: boolean;
} {
  const u = call.params(UtxoCacheTrace_Add$Params).utxoInfo;
  return {
    outpoint: displayHash(u.outpointHash.toUint8Array()),
    n: uint32Field(u, 0),
    height: uint32Field(u, 4),
    value: u.value,
    coinbase: u.isCoinbase,
  };
}

/** The serialized transaction of transactionAddedToMempool / transactionRemovedFromMempool. */
export function notificationTx(call: IncomingCall): Uint8Array {
  return call.methodId === ChainNotificationMethod.transactionRemovedFromMempool
    ? call.params(ChainNotifications_TransactionRemovedFromMempool$Params).tx.toUint8Array()
    : call.params(ChainNotifications_TransactionAddedToMempool$Params).tx.toUint8Array();
}

/** The block of blockConnected / blockDisconnected, and for blockConnected its chainstate role. */
export function notificationBlock(call: IncomingCall): { height: number; hash: string; historical?: boolean } {
  if (call.methodId === ChainNotificationMethod.blockConnected) {
    const p = call.params(ChainNotifications_BlockConnected$Params);
    const b = p.block;
    return { height: blockInfoHeight(b), hash: displayHash(b.hash.toUint8Array()), historical: p.role.historical };
  }
  const b = call.params(ChainNotifications_BlockDisconnected$Params).block;
  return { height: blockInfoHeight(b), hash: displayHash(b.hash.toUint8Array()) };
}

/** chainStateFlushed's role: whether the flushed chainstate is the historical (background) one. */
export function flushedHistorical(call: IncomingCall): boolean {
  return call.params(ChainNotifications_ChainStateFlushed$Params).role.historical;
}
