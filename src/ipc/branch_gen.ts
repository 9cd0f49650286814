/**
 * The generated code the branch flavours call through (src/ipc/branch.ts): Chain, Node and Tracing
 * of pr/trace's schemas (also pr/ipc of 2026 and the rebased #10102's Node), the rebased work's
 * Chain (schemas/chain5/) and pr/ipc of 2024 (schemas/pr-ipc/), each method named by ordinal and
 * checked when this module loads. Loaded by branch.ts's loadBranchGenerations only once detection
 * needs a Chain or Node probe, so an exporter of a stock node never loads it (issue 21: RSS;
 * tests/module_graph_test.ts checks the graph).
 */
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
import {
  Chain$Client as ChainPrIpc$Client,
  ChainNotifications$Client as ChainNotificationsPrIpc$Client,
  ChainNotifications_BlockConnected$Params as PrIpcBlockConnected$Params,
  ChainNotifications_ChainStateFlushed$Params as PrIpcChainStateFlushed$Params,
} from "../../gen/pr-ipc/chain.ts";
import { Node$Client } from "../../gen/node.ts";
import { Node$Client as NodePrIpc$Client } from "../../gen/pr-ipc/node.ts";
import { Tracing$Client, UtxoCacheTrace$Client, UtxoCacheTrace_Add$Params } from "../../gen/tracing.ts";
import { CHAIN_NOTIFICATIONS_INTERFACE, ChainNotificationMethod, UTXO_TRACE_INTERFACE } from "./branch.ts";
import type { ChainGeneration, NodeGeneration } from "./detect.ts";
import { named } from "./methods.ts";

export {
  ChainNotifications_BlockConnected$Params,
  ChainNotifications_BlockDisconnected$Params,
  ChainNotifications_ChainStateFlushed$Params,
  ChainNotifications_TransactionAddedToMempool$Params,
  ChainNotifications_TransactionRemovedFromMempool$Params,
  PrIpcBlockConnected$Params,
  PrIpcChainStateFlushed$Params,
  UtxoCacheTrace_Add$Params,
};

/** The Chain methods called here, typed by pr/trace's schema (every generation's have the same params and results). */
export interface ChainCalls {
  getHeight: typeof Chain$Client.methods[1];
  isInitialBlockDownload: typeof Chain$Client.methods[33];
  handleNotifications: typeof Chain$Client.methods[39];
  estimateSmartFee: typeof Chain$Client.methods[24];
  mempoolMinFee: typeof Chain$Client.methods[26];
  relayMinFee: typeof Chain$Client.methods[27];
  relayIncrementalFee: typeof Chain$Client.methods[28];
  relayDustFee: typeof Chain$Client.methods[29];
  havePruned: typeof Chain$Client.methods[30];
  /** Not on pr/ipc (2024). */
  getPruneHeight?: typeof Chain$Client.methods[31];
}

export const chainCalls: Record<ChainGeneration, ChainCalls> = {
  "pr-trace": {
    getHeight: named(Chain$Client.methods, 1, "getHeight"),
    isInitialBlockDownload: named(Chain$Client.methods, 33, "isInitialBlockDownload"),
    handleNotifications: named(Chain$Client.methods, 39, "handleNotifications"),
    estimateSmartFee: named(Chain$Client.methods, 24, "estimateSmartFee"),
    mempoolMinFee: named(Chain$Client.methods, 26, "mempoolMinFee"),
    relayMinFee: named(Chain$Client.methods, 27, "relayMinFee"),
    relayIncrementalFee: named(Chain$Client.methods, 28, "relayIncrementalFee"),
    relayDustFee: named(Chain$Client.methods, 29, "relayDustFee"),
    havePruned: named(Chain$Client.methods, 30, "havePruned"),
    getPruneHeight: named(Chain$Client.methods, 31, "getPruneHeight"),
  },
  // The rebased generation's estimateSmartFee returns Common.FeeCalculation where the branches'
  // returns Chain.FeeCalculation: the same layout (tests/golden_test.ts), and `calc` is never read.
  chain5: {
    getHeight: named(ChainChain5$Client.methods, 1, "getHeight"),
    isInitialBlockDownload: named(ChainChain5$Client.methods, 33, "isInitialBlockDownload"),
    handleNotifications: named(ChainChain5$Client.methods, 39, "handleNotifications"),
    estimateSmartFee: named(ChainChain5$Client.methods, 24, "estimateSmartFee"),
    mempoolMinFee: named(ChainChain5$Client.methods, 26, "mempoolMinFee"),
    relayMinFee: named(ChainChain5$Client.methods, 27, "relayMinFee"),
    relayIncrementalFee: named(ChainChain5$Client.methods, 28, "relayIncrementalFee"),
    relayDustFee: named(ChainChain5$Client.methods, 29, "relayDustFee"),
    havePruned: named(ChainChain5$Client.methods, 30, "havePruned"),
    getPruneHeight: named(ChainChain5$Client.methods, 31, "getPruneHeight"),
  },
  // pr/ipc (2024): getTipLocator @4 and getActiveChainLocator @5 come first, getPruneHeight does
  // not exist (schemas/pr-ipc/chain.capnp). estimateSmartFee's FeeCalculation lacks bestHeight
  // (@4, the last data field): `calc` is never read, and the call asks for none (wantCalc false).
  "pr-ipc": {
    getHeight: named(ChainPrIpc$Client.methods, 1, "getHeight"),
    isInitialBlockDownload: named(ChainPrIpc$Client.methods, 34, "isInitialBlockDownload"),
    // The params' ChainNotifications type differs (role :UInt32); the capability is set by its
    // cap-table index (subscribeChainNotifications), never through the typed client.
    handleNotifications: named(ChainPrIpc$Client.methods, 40, "handleNotifications") as unknown as ChainCalls[
      "handleNotifications"
    ],
    estimateSmartFee: named(ChainPrIpc$Client.methods, 26, "estimateSmartFee") as unknown as ChainCalls[
      "estimateSmartFee"
    ],
    mempoolMinFee: named(ChainPrIpc$Client.methods, 28, "mempoolMinFee"),
    relayMinFee: named(ChainPrIpc$Client.methods, 29, "relayMinFee"),
    relayIncrementalFee: named(ChainPrIpc$Client.methods, 30, "relayIncrementalFee"),
    relayDustFee: named(ChainPrIpc$Client.methods, 31, "relayDustFee"),
    havePruned: named(ChainPrIpc$Client.methods, 32, "havePruned"),
  },
};

export const nodeCalls: Record<NodeGeneration, NodeCalls> = {
  // pr/trace, pr/trace's base (pr/ipc of 2026) and the rebased #10102 (ryanofsky/bitcoin
  // src/ipc/capnp/node.capnp at 658cdbcd0af55341c73d676576178aeb0a75e943: the same ordinals).
  "pr-trace": {
    getNodeCount: named(Node$Client.methods, 18, "getNodeCount"),
    getTotalBytesRecv: named(Node$Client.methods, 26, "getTotalBytesRecv"),
    getTotalBytesSent: named(Node$Client.methods, 27, "getTotalBytesSent"),
    getMempoolSize: named(Node$Client.methods, 28, "getMempoolSize"),
    getMempoolDynamicUsage: named(Node$Client.methods, 29, "getMempoolDynamicUsage"),
    getMempoolMaxUsage: named(Node$Client.methods, 30, "getMempoolMaxUsage"),
    getHeaderTip: named(Node$Client.methods, 31, "getHeaderTip"),
    getVerificationProgress: named(Node$Client.methods, 36, "getVerificationProgress"),
    getWarnings: named(Node$Client.methods, 3, "getWarnings"),
    getNodesStats: named(Node$Client.methods, 19, "getNodesStats"),
    getBanned: named(Node$Client.methods, 20, "getBanned"),
    getNumBlocks: named(Node$Client.methods, 32, "getNumBlocks"),
    getNetLocalAddresses: named(Node$Client.methods, 33, "getNetLocalAddresses"),
    getBestBlockHash: named(Node$Client.methods, 34, "getBestBlockHash"),
    getLastBlockTime: named(Node$Client.methods, 35, "getLastBlockTime"),
    getNetworkActive: named(Node$Client.methods, 40, "getNetworkActive"),
    getDustRelayFee: named(Node$Client.methods, 41, "getDustRelayFee"),
    executeRpc: named(Node$Client.methods, 42, "executeRpc"),
  },
  // pr/ipc (2024): no getNetLocalAddresses, so everything after getNumBlocks @32 is one lower
  // (schemas/pr-ipc/node.capnp).
  "pr-ipc": {
    getNodeCount: named(NodePrIpc$Client.methods, 18, "getNodeCount"),
    getTotalBytesRecv: named(NodePrIpc$Client.methods, 26, "getTotalBytesRecv"),
    getTotalBytesSent: named(NodePrIpc$Client.methods, 27, "getTotalBytesSent"),
    getMempoolSize: named(NodePrIpc$Client.methods, 28, "getMempoolSize"),
    getMempoolDynamicUsage: named(NodePrIpc$Client.methods, 29, "getMempoolDynamicUsage"),
    getMempoolMaxUsage: named(NodePrIpc$Client.methods, 30, "getMempoolMaxUsage"),
    getHeaderTip: named(NodePrIpc$Client.methods, 31, "getHeaderTip"),
    getVerificationProgress: named(NodePrIpc$Client.methods, 35, "getVerificationProgress"),
    getWarnings: named(NodePrIpc$Client.methods, 3, "getWarnings"),
    getNodesStats: named(NodePrIpc$Client.methods, 19, "getNodesStats"),
    getBanned: named(NodePrIpc$Client.methods, 20, "getBanned"),
    getNumBlocks: named(NodePrIpc$Client.methods, 32, "getNumBlocks"),
    getBestBlockHash: named(NodePrIpc$Client.methods, 33, "getBestBlockHash"),
    getLastBlockTime: named(NodePrIpc$Client.methods, 34, "getLastBlockTime"),
    getNetworkActive: named(NodePrIpc$Client.methods, 39, "getNetworkActive"),
    getDustRelayFee: named(NodePrIpc$Client.methods, 40, "getDustRelayFee"),
    executeRpc: named(NodePrIpc$Client.methods, 41, "executeRpc"),
  },
};
export const tracing = {
  traceUtxoCache: named(Tracing$Client.methods, 0, "traceUtxoCache"),
};

/** The Node methods called here, typed by pr/trace's schema (both generations' have the same params and results). */
export interface NodeCalls {
  getNodeCount: typeof Node$Client.methods[18];
  getTotalBytesRecv: typeof Node$Client.methods[26];
  getTotalBytesSent: typeof Node$Client.methods[27];
  getMempoolSize: typeof Node$Client.methods[28];
  getMempoolDynamicUsage: typeof Node$Client.methods[29];
  getMempoolMaxUsage: typeof Node$Client.methods[30];
  getHeaderTip: typeof Node$Client.methods[31];
  getVerificationProgress: typeof Node$Client.methods[36];
  getWarnings: typeof Node$Client.methods[3];
  getNodesStats: typeof Node$Client.methods[19];
  getBanned: typeof Node$Client.methods[20];
  getNumBlocks: typeof Node$Client.methods[32];
  /** Not on pr/ipc (2024). */
  getNetLocalAddresses?: typeof Node$Client.methods[33];
  getBestBlockHash: typeof Node$Client.methods[34];
  getLastBlockTime: typeof Node$Client.methods[35];
  getNetworkActive: typeof Node$Client.methods[40];
  getDustRelayFee: typeof Node$Client.methods[41];
  executeRpc: typeof Node$Client.methods[42];
}

// One ChainNotifications server serves every Chain generation: the same interface ID (same file ID
// and name) and the same methods at the same ordinals, checked here; their params layouts are
// compared by tests/golden_test.ts. pr/ipc of 2024 has the same ID and ordinals too, but other
// params for blockConnected and chainStateFlushed: see branch.ts chainNotificationReader.
if (
  ChainNotifications$Client.interfaceId !== CHAIN_NOTIFICATIONS_INTERFACE ||
  ChainNotificationsChain5$Client.interfaceId !== CHAIN_NOTIFICATIONS_INTERFACE ||
  ChainNotificationsPrIpc$Client.interfaceId !== CHAIN_NOTIFICATIONS_INTERFACE
) {
  throw new Error("schema mismatch: the Chain generations' ChainNotifications interface IDs differ");
}
if (UtxoCacheTrace$Client.interfaceId !== UTXO_TRACE_INTERFACE) {
  throw new Error("schema mismatch: UtxoCacheTrace's interface ID");
}
for (const [name, ordinal] of Object.entries(ChainNotificationMethod)) {
  named(ChainNotifications$Client.methods, ordinal, name);
  named(ChainNotificationsChain5$Client.methods, ordinal, name);
  named(ChainNotificationsPrIpc$Client.methods, ordinal, name);
}

/** detect.ts's Chain and Node probes (each one harmless call proving the interface). */
export const probes = {
  chainGetHeight: { what: "Chain.getHeight", method: named(Chain$Client.methods, 1, "getHeight"), of: "a Chain" },
  prIpcChainGetHeight: {
    what: "Chain.getHeight",
    method: named(ChainPrIpc$Client.methods, 1, "getHeight"),
    of: "a Chain",
  },
  chain5GetHeight: {
    what: "Chain.getHeight",
    method: named(ChainChain5$Client.methods, 1, "getHeight"),
    of: "a Chain",
  },
  // The Node proof reads one integer the node holds (Assert(m_context)->exit_status upstream): no
  // lock, no chainstate, answered the same at any point of the node's life.
  nodeGetExitStatus: {
    what: "Node.getExitStatus",
    method: named(Node$Client.methods, 5, "getExitStatus"),
    of: "a Node",
  },
  prIpcNodeGetExitStatus: {
    what: "Node.getExitStatus",
    method: named(NodePrIpc$Client.methods, 5, "getExitStatus"),
    of: "a Node",
  },
} as const;
