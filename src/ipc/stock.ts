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
import { Rpc$Client } from "../../gen/rpc.ts";
import type { MiningGeneration } from "./detect.ts";
import { named } from "./methods.ts";
import { capIndexAt } from "./capnp.ts";
import { RemoteCap, type ResultCaps } from "./rpc.ts";
import { RemoteError } from "./errors.ts";
import { RPC_URI, RPC_USER, type Session, type SessionCallOptions } from "./session.ts";

const rpcMethods = { executeRpc: named(Rpc$Client.methods, 0, "executeRpc") };

/**
 * The Mining calls in `generation`'s schema. The generations' classes have the same accessors;
 * what differs is the defaults they encode against (and v30 has no interrupt), which is why the
 * node's generation picks the class. Exported for tests/golden_test.ts, which checks the encoding
 * against the capnp compiler's layout of each generation's schema.
 */
export function miningCalls(generation: MiningGeneration): MiningCalls | StockGen["miningV30"] {
  const g = gen();
  return generation === "v30" ? g.miningV30 : generation === "v31" ? g.miningV31 : g.miningV32;
}

type StockGen = typeof import("./stock_gen.ts");
type MiningCalls = StockGen["miningV32"];
type TemplateCalls = StockGen["templateV32"];

/**
 * The Mining generations' generated code (gen/mining.ts, gen/v31/, gen/v30/), loaded once detection
 * needs a Mining probe: a branch node's exporter never loads it (issue 21; tests/module_graph_test.ts).
 */
let generations: StockGen | undefined;

/** Loads the Mining generations' tables (detection does, before its first Mining probe). */
export async function loadStockGenerations(): Promise<StockGen> {
  return generations ??= await import("./stock_gen.ts");
}

function gen(): StockGen {
  if (!generations) throw new Error("the Mining generations are not loaded (loadStockGenerations)");
  return generations;
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
  const methods = miningCalls(m.generation) as MiningCalls;
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
  p: InstanceType<MiningCalls["waitTipChanged"]["ParamsClass"]>,
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
    (m.generation === "v30"
      ? gen().templateV30
      : m.generation === "v31"
      ? gen().templateV31
      : gen().templateV32) as TemplateCalls;
  const takeTemplate = (r: $.Struct, caps: ResultCaps): RemoteCap => {
    const cap = caps.cap(capIndexAt(r, 0));
    if (!(cap instanceof RemoteCap)) throw new RemoteError("Mining.createNewBlock returned no template");
    return cap;
  };
  // The options are written out in full: v30's schema has no defaults, so an unset struct would
  // ask v30 for a block without the mempool.
  const build = (p: InstanceType<TemplateCalls["createNewBlock"]["ParamsClass"]>) => {
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
