/**
 * Calls on the interfaces stock Bitcoin Core releases offer: Mining (tip, IBD, the waitTipChanged
 * long-poll) and, on master / v32, JSON-RPC over IPC through `Rpc.executeRpc` (also what the
 * rebased Chain-only flavour, chain5, reads its gauges through). Each Mining call goes out in the
 * schema generation the node's Init served (gen/v30, gen/v31 or gen/ for 32.x), because v30 encodes
 * waitTipChanged's timeout differently from the later ones.
 */
import type * as $ from "capnp-es";
import type { BlockRef as BlockRefStruct } from "../../gen/common.ts";
import { displayHash } from "../bitcoin/tx.ts";
import { BlockTemplate$Client, Mining$Client } from "../../gen/mining.ts";
import {
  BlockTemplate$Client as BlockTemplateV30$Client,
  Mining$Client as MiningV30$Client,
} from "../../gen/v30/mining.ts";
import {
  BlockTemplate$Client as BlockTemplateV31$Client,
  Mining$Client as MiningV31$Client,
} from "../../gen/v31/mining.ts";
import { Rpc$Client } from "../../gen/rpc.ts";
import type { MiningGeneration } from "./detect.ts";
import { named } from "./methods.ts";
import { capIndexAt } from "./capnp.ts";
import { RemoteCap, type ResultCaps } from "./rpc.ts";
import { RemoteError } from "./errors.ts";
import { RPC_URI, RPC_USER, type Session, type SessionCallOptions } from "./session.ts";

/** The Mining calls the exporter makes, as stock 32.x declares them (schemas/mining.capnp). */
const miningV32 = {
  isInitialBlockDownload: named(Mining$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(Mining$Client.methods, 2, "getTip"),
  waitTipChanged: named(Mining$Client.methods, 3, "waitTipChanged"),
  interrupt: named(Mining$Client.methods, 6, "interrupt"),
};
/** As v31 declares them (schemas/v31/mining.capnp): the same ordinals and layouts as 32.x. */
const miningV31 = {
  isInitialBlockDownload: named(MiningV31$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(MiningV31$Client.methods, 2, "getTip"),
  waitTipChanged: named(MiningV31$Client.methods, 3, "waitTipChanged"),
  interrupt: named(MiningV31$Client.methods, 6, "interrupt"),
};
/** As v30 declares them: the same ordinals, no default on waitTipChanged's timeout, no interrupt. */
const miningV30 = {
  isInitialBlockDownload: named(MiningV30$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(MiningV30$Client.methods, 2, "getTip"),
  waitTipChanged: named(MiningV30$Client.methods, 3, "waitTipChanged"),
  interrupt: undefined,
};
const rpcMethods = { executeRpc: named(Rpc$Client.methods, 0, "executeRpc") };

/**
 * The Mining calls in `generation`'s schema. The generations' classes have the same accessors;
 * what differs is the defaults they encode against (and v30 has no interrupt), which is why the
 * node's generation picks the class. Exported for tests/golden_test.ts, which checks the encoding
 * against the capnp compiler's layout of each generation's schema.
 */
export function miningCalls(generation: MiningGeneration): typeof miningV32 | typeof miningV30 {
  return generation === "v30" ? miningV30 : generation === "v31" ? miningV31 : miningV32;
}

export interface BlockRef {
  /** As Bitcoin Core displays it (byte-reversed hex). */
  hash: string;
  height: number;
  /** The hash as the node sent it (internal byte order), to send back. */
  raw: Uint8Array;
}

function miningOf(session: Session) {
  const m = session.mining;
  if (!m) throw new Error("the node offers no Mining interface");
  // The generations' params classes differ only in the defaults they encode against; the calls
  // below use the accessors they share.
  const methods = miningCalls(m.generation) as typeof miningV32;
  return { cap: m.cap, methods };
}

/** A BlockRef result, or undefined when the node left it unset (no tip, or interrupted). */
function blockRef(r: BlockRefStruct): BlockRef | undefined {
  if (!r._hasHash()) return undefined;
  const raw = r.hash.toUint8Array().slice();
  if (raw.length !== 32) return undefined;
  return { hash: displayHash(raw), height: r.height, raw };
}

export function getTip(session: Session, options?: SessionCallOptions): Promise<BlockRef | undefined> {
  const { cap, methods } = miningOf(session);
  return session.callWithContext(
    cap,
    methods.getTip,
    undefined,
    (r) => r.hasResult ? blockRef(r.result) : undefined,
    options,
  );
}

export function miningIsInitialBlockDownload(session: Session, options?: SessionCallOptions): Promise<boolean> {
  const { cap, methods } = miningOf(session);
  return session.callWithContext(
    cap,
    methods.isInitialBlockDownload,
    undefined,
    (r) => r.result,
    options,
  );
}

/**
 * `Mining.waitTipChanged`: returns once the node's tip differs from `current`, or after `waitMs`
 * with the unchanged tip, or undefined if the node was interrupted or is shutting down. It holds a
 * Thread of the node for as long as it waits, so it runs on the session's "wait" lane.
 */
export function waitTipChanged(
  session: Session,
  current: Uint8Array,
  waitMs: number,
  callTimeoutMs: number,
): Promise<BlockRef | undefined> {
  const { cap, methods } = miningOf(session);
  return session.callWithContext(
    cap,
    methods.waitTipChanged,
    (p) => writeWaitTipChanged(p, current, waitMs),
    (r) => blockRef(r.result),
    { lane: "wait", timeoutMs: waitMs + callTimeoutMs },
  );
}

/**
 * waitTipChanged's parameters (after the Context): what `waitTipChanged` sends, exported so
 * tests/golden_test.ts can check its encoding against each generation's schema.
 */
export function writeWaitTipChanged(
  p: InstanceType<typeof miningV32.waitTipChanged.ParamsClass>,
  current: Uint8Array,
  waitMs: number,
): void {
  p._initCurrentTip(current.length).copyBuffer(current);
  p.timeout = waitMs; // milliseconds (MillisecondsDouble upstream)
}

/** `Mining.interrupt` (v31+): ends a waitTipChanged in progress. Takes no Context. */
export function interruptMining(session: Session, timeoutMs: number): Promise<void> {
  const m = session.mining;
  const interrupt = m && miningCalls(m.generation).interrupt;
  if (!m || !interrupt) return Promise.resolve();
  return session.conn.call(m.cap, interrupt, undefined, () => undefined, { timeoutMs });
}

// --- Mining.createNewBlock and BlockTemplate (the next block a miner would get now) ---

/** createNewBlock @4 and the BlockTemplate reads, per generation (each its own schema). */
const templateV32 = {
  createNewBlock: named(Mining$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplate$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplate$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplate$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplate$Client.methods, 4, "getTxSigops"),
};
const templateV31 = {
  createNewBlock: named(MiningV31$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplateV31$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplateV31$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplateV31$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplateV31$Client.methods, 4, "getTxSigops"),
};
/** v30: createNewBlock takes no Context (the node runs it on its event loop thread). */
const templateV30 = {
  createNewBlock: named(MiningV30$Client.methods, 4, "createNewBlock"),
  destroy: named(BlockTemplateV30$Client.methods, 0, "destroy"),
  getBlock: named(BlockTemplateV30$Client.methods, 2, "getBlock"),
  getTxFees: named(BlockTemplateV30$Client.methods, 3, "getTxFees"),
  getTxSigops: named(BlockTemplateV30$Client.methods, 4, "getTxSigops"),
};

export interface BlockTemplateSummary {
  /** Sum of getTxFees (the coinbase is not in the list): what a miner collects on top of the subsidy. */
  feesSat: bigint;
  /** Transactions besides the coinbase (getTxFees' length). */
  transactions: number;
  /** Sum of getTxSigops (sigop cost, coinbase excluded). */
  sigops: number;
  /** Serialized size of getBlock's answer, when asked for (it carries the whole block). */
  blockBytes?: number;
}

function sumInt64(list: { length: number; get(i: number): bigint }): bigint {
  let total = 0n;
  for (let i = 0; i < list.length; i++) total += list.get(i);
  return total;
}

/**
 * One `Mining.createNewBlock` with the node's default options, its fees, sigops and transaction
 * count read, then `BlockTemplate.destroy` so the node frees the template (it holds the block and
 * its transactions until then) — in a finally, so a failed read still frees it.
 */
export async function readBlockTemplate(
  session: Session,
  options: SessionCallOptions & { withBlock?: boolean } = {},
): Promise<BlockTemplateSummary> {
  const m = session.mining;
  if (!m) throw new Error("the node offers no Mining interface");
  const calls =
    (m.generation === "v30" ? templateV30 : m.generation === "v31" ? templateV31 : templateV32) as typeof templateV32;
  const takeTemplate = (r: $.Struct, caps: ResultCaps): RemoteCap => {
    const cap = caps.cap(capIndexAt(r, 0));
    if (!(cap instanceof RemoteCap)) throw new RemoteError("Mining.createNewBlock returned no template");
    return cap;
  };
  // The options are written out in full: v30's schema has no defaults, so an unset struct would
  // ask v30 for a block without the mempool.
  const build = (p: InstanceType<typeof templateV32.createNewBlock.ParamsClass>) => {
    const o = p._initOptions();
    o.useMempool = true;
    o.blockReservedWeight = 8000n;
    o.coinbaseOutputMaxAdditionalSigops = 400n;
    // 32.x: `cooldown` (default true) makes createNewBlock wait for the tip to settle after IBD; a
    // wait in progress when we disconnect is the hazard of bitcoin/bitcoin#34250, so never wait.
    if (m.generation === "v32") p.cooldown = false;
  };
  const template = m.generation === "v30"
    // v30 has no Context on createNewBlock: a plain call, bounded by the same timeout.
    ? await session.conn.call(m.cap, calls.createNewBlock, build, takeTemplate, { timeoutMs: options.timeoutMs })
    : await session.callWithContext(m.cap, calls.createNewBlock, build, takeTemplate, options);
  try {
    const fees = await session.callWithContext(template, calls.getTxFees, undefined, (r) => {
      return { total: sumInt64(r.result), count: r.result.length };
    }, options);
    const sigops = await session.callWithContext(
      template,
      calls.getTxSigops,
      undefined,
      (r) => Number(sumInt64(r.result)),
      options,
    );
    const blockBytes = options.withBlock
      ? await session.callWithContext(template, calls.getBlock, undefined, (r) => r.result.length, options)
      : undefined;
    return { feesSat: fees.total, transactions: fees.count, sigops, blockBytes };
  } finally {
    try {
      await session.callWithContext(template, calls.destroy, undefined, () => undefined, options);
    } finally {
      template.release();
    }
  }
}

/** One JSON-RPC request (or batch) through `Rpc.executeRpc`; returns the node's response text. */
export function executeRpc(session: Session, request: string, options?: SessionCallOptions): Promise<string> {
  const rpc = session.rpc;
  if (!rpc) return Promise.reject(new Error("the node offers no Rpc interface"));
  return session.callWithContext(
    rpc,
    rpcMethods.executeRpc,
    (p) => {
      p.request = request;
      p.uri = RPC_URI;
      p.user = RPC_USER;
    },
    (r) => r.result,
    options,
  );
}

export interface RpcReply {
  result?: unknown;
  error?: { code?: number; message?: string };
}

/**
 * A JSON-RPC 2.0 batch in one executeRpc call. Returns each request's reply by position; a reply
 * the node did not give (or gave in a shape that is not JSON-RPC) is an error naming why.
 */
export async function rpcBatch(
  session: Session,
  calls: { method: string; params?: unknown[] }[],
  options?: SessionCallOptions,
): Promise<RpcReply[]> {
  const request = JSON.stringify(
    calls.map((c, id) => ({ jsonrpc: "2.0", id, method: c.method, params: c.params ?? [] })),
  );
  const text = await executeRpc(session, request, options);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`executeRpc answered with text that is not JSON: ${text.slice(0, 80)}`);
  }
  if (!Array.isArray(parsed)) {
    // A user refused by -rpcwhitelist gets an empty answer instead of a batch.
    throw new Error(
      `executeRpc answered a batch with ${
        text.slice(0, 80) || "nothing"
      } (is user "${RPC_USER}" refused by -rpcwhitelist?)`,
    );
  }
  const byId = new Map<unknown, RpcReply>();
  for (const r of parsed) if (r && typeof r === "object") byId.set((r as { id?: unknown }).id, r as RpcReply);
  return calls.map((c, id) =>
    byId.get(id) ?? { error: { message: `no reply to ${c.method} in the node's batch answer` } }
  );
}
