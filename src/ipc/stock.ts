/**
 * Calls on the interfaces stock Bitcoin Core releases offer: Mining (tip, IBD, the waitTipChanged
 * long-poll) and, on master / v32, JSON-RPC over IPC through `Rpc.executeRpc`. Each Mining call
 * goes out in the schema generation the node's Init served (gen/v30 or gen/), because the
 * two encode waitTipChanged's timeout differently.
 */
import type { BlockRef as BlockRefStruct } from "../../gen/common.ts";
import { displayHash } from "../bitcoin/tx.ts";
import { Mining$Client } from "../../gen/mining.ts";
import { Mining$Client as MiningV30$Client } from "../../gen/v30/mining.ts";
import { Rpc$Client } from "../../gen/rpc.ts";
import { named } from "./methods.ts";
import { RPC_URI, RPC_USER, type Session, type SessionCallOptions } from "./session.ts";

/** Mining as v31 and master declare it; v30's methods used here sit at the same ordinals. */
const mining = {
  isInitialBlockDownload: named(Mining$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(Mining$Client.methods, 2, "getTip"),
  waitTipChanged: named(Mining$Client.methods, 3, "waitTipChanged"),
  interrupt: named(Mining$Client.methods, 6, "interrupt"),
};
const miningV30 = {
  isInitialBlockDownload: named(MiningV30$Client.methods, 1, "isInitialBlockDownload"),
  getTip: named(MiningV30$Client.methods, 2, "getTip"),
  waitTipChanged: named(MiningV30$Client.methods, 3, "waitTipChanged"),
};
const rpcMethods = { executeRpc: named(Rpc$Client.methods, 0, "executeRpc") };

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
  // The v30 classes have the same accessors as the v31 ones; what differs is the defaults they
  // encode against, which is why the node's generation picks the class.
  const methods = (m.generation === "v30" ? miningV30 : mining) as unknown as typeof mining;
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
    (p) => {
      p._initCurrentTip(current.length).copyBuffer(current);
      p.timeout = waitMs; // milliseconds (MillisecondsDouble upstream)
    },
    (r) => blockRef(r.result),
    { lane: "wait", timeoutMs: waitMs + callTimeoutMs },
  );
}

/** `Mining.interrupt` (v31+): ends a waitTipChanged in progress. Takes no Context. */
export function interruptMining(session: Session, timeoutMs: number): Promise<void> {
  const m = session.mining;
  if (!m || m.generation === "v30") return Promise.resolve();
  return session.conn.call(m.cap, mining.interrupt, undefined, () => undefined, { timeoutMs });
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
