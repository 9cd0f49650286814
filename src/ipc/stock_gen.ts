/**
 * The generated code of the stock Mining generations (schemas/mining.capnp for 32.x,
 * schemas/v31/ and schemas/v30/) that src/ipc/stock.ts calls through, each method named by ordinal
 * and checked when this module loads. Loaded by stock.ts's loadStockGenerations only once
 * detection needs a Mining probe, so an exporter of a branch node never loads it (issue 21: RSS;
 * tests/module_graph_test.ts checks the graph).
 */
import { BlockTemplate$Client, Mining$Client } from "../../gen/mining.ts";
import {
  BlockTemplate$Client as BlockTemplateV30$Client,
  Mining$Client as MiningV30$Client,
} from "../../gen/v30/mining.ts";
import {
  BlockTemplate$Client as BlockTemplateV31$Client,
  Mining$Client as MiningV31$Client,
} from "../../gen/v31/mining.ts";
import { named } from "./methods.ts";

/** The Mining calls the exporter makes, as stock 32.x declares them (schemas/mining.capnp). */
export const miningV32 = {
  isInitialBlockDownload: named(Mining$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(Mining$Client.methods, 2, "getTip"),
  waitTipChanged: named(Mining$Client.methods, 3, "waitTipChanged"),
  interrupt: named(Mining$Client.methods, 6, "interrupt"),
};
/** As v31 declares them (schemas/v31/mining.capnp): the same ordinals and layouts as 32.x. */
export const miningV31 = {
  isInitialBlockDownload: named(MiningV31$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(MiningV31$Client.methods, 2, "getTip"),
  waitTipChanged: named(MiningV31$Client.methods, 3, "waitTipChanged"),
  interrupt: named(MiningV31$Client.methods, 6, "interrupt"),
};
/** As v30 declares them: the same ordinals, no default on waitTipChanged's timeout, no interrupt. */
export const miningV30 = {
  isInitialBlockDownload: named(MiningV30$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(MiningV30$Client.methods, 2, "getTip"),
  waitTipChanged: named(MiningV30$Client.methods, 3, "waitTipChanged"),
  interrupt: undefined,
};
/** createNewBlock @4 and the BlockTemplate reads, per generation (each its own schema). */
export const templateV32 = {
  createNewBlock: named(Mining$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplate$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplate$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplate$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplate$Client.methods, 4, "getTxSigops"),
};
export const templateV31 = {
  createNewBlock: named(MiningV31$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplateV31$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplateV31$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplateV31$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplateV31$Client.methods, 4, "getTxSigops"),
};
/** v30: createNewBlock takes no Context (the node runs it on its event loop thread). */
export const templateV30 = {
  createNewBlock: named(MiningV30$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplateV30$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplateV30$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplateV30$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplateV30$Client.methods, 4, "getTxSigops"),
};

/** detect.ts's Mining probes (one harmless call proving the interface). */
export const probes = {
  miningIsTestChain: {
    what: "Mining.isTestChain",
    method: named(Mining$Client.methods, 0, "isTestChain"),
    of: "a Mining interface",
  },
  miningV30IsTestChain: {
    what: "Mining.isTestChain",
    method: named(MiningV30$Client.methods, 0, "isTestChain"),
    of: "a Mining interface",
  },
} as const;
