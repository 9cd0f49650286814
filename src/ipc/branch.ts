/**
 * Calls on the interfaces of the multiprocess work (pr/trace, pr/ipc, and the generation rebased
 * over makeRpc: chain5-node, chain5): `Chain`, `Node`, `Tracing`, each by name, and the readers of
 * the callbacks they push to us. Collectors use these and never see ordinals, cap-table slots or
 * byte offsets. Every call carries our Thread in its `Proxy.Context` (Session.callWithContext).
 *
 * Calls go out in the schema generation the session proved (NodeInterfaces.chainGeneration and
 * .nodeGeneration): schemas/chain.capnp and schemas/node.capnp for pr/trace (and the pr/ipc of
 * pr/trace's base, which has the same ones), schemas/chain5/chain.capnp for the rebased work, and
 * schemas/pr-ipc/ for the pr/ipc branch of 2024, where the same methods sit at other ordinals
 * (the tables in those schemas' headers). Each method is looked up by name and ordinal below, and
 * layouts are compared with the capnp compiler's by tests/golden_test.ts. A method a generation
 * does not have is absent from its table: calling it is an error naming the method, never a call
 * of whatever the node has at that ordinal (FLAVOUR_TRAITS says what each flavour can give).
 */
import * as $ from "capnp-es";
import { displayHash } from "../bitcoin/tx.ts";
import type {
  Node_ExecuteRpc$Results,
  Node_GetBanned$Results,
  Node_GetNodesStats$Results,
  Node_GetWarnings$Results,
} from "../../gen/node.ts";
import type { ChainGeneration, NodeGeneration } from "./detect.ts";
import type { ChainCalls, NodeCalls } from "./branch_gen.ts";
import { int32Field, setCapAt, uint32Field } from "./capnp.ts";
import type { IncomingCall, LocalServer, RemoteCap } from "./rpc.ts";
import type { Session, SessionCallOptions } from "./session.ts";
import type { RpcReply } from "./stock.ts";
import type { WireMessage, WireStruct } from "./wire.ts";

/**
 * The generated code of the branch generations (Chain, Node and Tracing of pr/trace, the rebased
 * work and pr/ipc of 2024), loaded once detection has proven a branch flavour: a stock node's
 * exporter never loads it (issue 21; tests/module_graph_test.ts).
 */
let generations: typeof import("./branch_gen.ts") | undefined;

/** Loads the branch generations' tables (detection does, before its first Chain or Node probe). */
export async function loadBranchGenerations(): Promise<typeof import("./branch_gen.ts")> {
  return generations ??= await import("./branch_gen.ts");
}

/** The Chain methods called in one generation (for tests/golden_test.ts, which checks them against the compiler). */
export function chainCallsOf(generation: ChainGeneration): Readonly<ChainCalls> {
  return gen().chainCalls[generation];
}

/** The Node methods called in one generation (for tests/golden_test.ts). */
export function nodeCallsOf(generation: NodeGeneration): Readonly<NodeCalls> {
  return gen().nodeCalls[generation];
}

function gen(): typeof import("./branch_gen.ts") {
  if (!generations) throw new Error("the branch generations are not loaded (loadBranchGenerations)");
  return generations;
}

/** Bitcoin Core's ConnectionDirection flags for Node.getNodeCount. */
export const ConnectionDirection = { In: 1, Out: 2, Both: 3 } as const;

function chainOf(session: Session): { cap: RemoteCap; calls: ChainCalls } {
  const { chain: cap, chainGeneration } = session.interfaces;
  if (!cap || !chainGeneration) throw new Error("the node offers no Chain interface");
  return { cap, calls: gen().chainCalls[chainGeneration] };
}

function nodeOf(session: Session): { cap: RemoteCap; calls: NodeCalls } {
  const { node: cap, nodeGeneration } = session.interfaces;
  if (!cap || !nodeGeneration) throw new Error("the node offers no Node interface");
  return { cap, calls: gen().nodeCalls[nodeGeneration] };
}

/** A method this node's generation lacks: an error naming it, never a call of another method at its ordinal. */
function absent(session: Session, what: string): Error {
  return new Error(`${what}: the node's interface has no such method (flavour ${session.flavour})`);
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
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getHeaderTip, undefined, (r) => r.result ? r.height : -1, o);
}

export function getVerificationProgress(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getVerificationProgress, undefined, (r) => r.result, o);
}

export function getMempoolSize(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getMempoolSize, undefined, (r) => Number(r.result), o);
}

/** Memory the mempool uses (bytes). */
export function getMempoolDynamicUsage(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getMempoolDynamicUsage, undefined, (r) => Number(r.result), o);
}

/** -maxmempool in bytes. */
export function getMempoolMaxUsage(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getMempoolMaxUsage, undefined, (r) => Number(r.result), o);
}

export function getNodeCount(session: Session, flags: number, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getNodeCount, (p) => p.flags = flags, (r) => {
    return Number(r.result);
  }, o);
}

export function getTotalBytesRecv(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getTotalBytesRecv, undefined, (r) => Number(r.result), o);
}

export function getTotalBytesSent(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getTotalBytesSent, undefined, (r) => Number(r.result), o);
}

// ---- Scrape-time reads of the multiprocess branches (Node and Chain getters) ----
//
// Every read below is one call whose answer the node computes from state it holds (a lock taken
// briefly at most; upstream src/node/interfaces.cpp), and every list or text decoded is bounded:
// an answer past a bound is an error naming it, never a silently shortened value.

/** At most this many peers are decoded from `Node.getNodesStats` (more is an error, not a truncation). */
export const MAX_PEERS = 10_000;
/** At most this many bytes of ban-list JSON are scanned (`Node.getBanned`); about 5 million bans. */
export const MAX_BANMAP_BYTES = 512 * 1024 * 1024;
/** `Node.getWarnings` text is kept up to this many characters (it is the node's text, for a label or a log). */
export const MAX_WARNINGS_CHARS = 1_000;
/** `Node.executeRpc`: a result text longer than this is refused (one JSON-RPC answer, not a dump). */
export const MAX_RPC_RESULT_BYTES = 16 * 1024 * 1024;

/**
 * Bitcoin Core's `enum Network` (src/netaddress.h, the same on pr/trace) by value, as getpeerinfo
 * names it (GetNetworkName, src/netbase.cpp). NET_MAX (7) is not a network.
 */
export const NETWORK_NAMES: readonly string[] = [
  "not_publicly_routable", // NET_UNROUTABLE = 0
  "ipv4", // NET_IPV4
  "ipv6", // NET_IPV6
  "onion", // NET_ONION
  "i2p", // NET_I2P
  "cjdns", // NET_CJDNS
  "internal", // NET_INTERNAL
];
/**
 * `enum class ConnectionType` (src/node/connection_types.h on pr/trace and bitcoin/bitcoin master)
 * by value, as getpeerinfo names it (ConnectionTypeAsString). PRIVATE_BROADCAST (6) is on pr/trace
 * and master; older nodes never send it.
 */
export const CONNECTION_TYPE_NAMES: readonly string[] = [
  "inbound", // INBOUND = 0
  "outbound-full-relay", // OUTBOUND_FULL_RELAY
  "manual", // MANUAL
  "feeler", // FEELER
  "block-relay-only", // BLOCK_RELAY
  "addr-fetch", // ADDR_FETCH
  "private-broadcast", // PRIVATE_BROADCAST
];
/** `enum class TransportProtocolType : uint8_t` by value, as getpeerinfo names it (TransportTypeAsString). */
export const TRANSPORT_NAMES: readonly string[] = ["detecting", "v1", "v2"];
/** What an enum value the node sent and this table does not know is reported as (one bounded label value). */
export const UNKNOWN = "unknown";

function enumName(names: readonly string[], value: number): string {
  return Number.isInteger(value) && value >= 0 && value < names.length ? names[value] : UNKNOWN;
}

/** One connected peer, reduced to what bounded labels can carry (no address, no id). */
export interface PeerSummary {
  inbound: boolean;
  /** getpeerinfo's `network`, or "unknown". */
  network: string;
  /** getpeerinfo's `connection_type`, or "unknown". */
  connectionType: string;
  /** getpeerinfo's `transport_protocol_type`, or "unknown". */
  transport: string;
  /** getpeerinfo's `minping` in seconds; undefined while the peer has not answered a ping. */
  minPingSeconds?: number;
  /** getpeerinfo's `bip152_hb_to` / `bip152_hb_from` (BIP152 high-bandwidth compact blocks). */
  hbTo?: boolean;
  hbFrom?: boolean;
}

/** CNodeStats::m_min_ping_time before the first pong: std::chrono::microseconds::max() (src/net.h). */
const NO_PING_US = 0x7fff_ffff_ffff_ffffn;

/**
 * `Node.getNodesStats`: every connected peer's direction, network, connection type, transport,
 * minimum ping and BIP152 high-bandwidth flags. Reads those seven fields of each NodeStats and
 * nothing else (addresses, per-message byte maps and the state stats are never decoded). Rejects
 * when the node has no connection manager (`result` false) or reports more than MAX_PEERS peers.
 */
export function getNodesStats(session: Session, o?: SessionCallOptions): Promise<PeerSummary[]> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getNodesStats, undefined, decodeNodesStats, o);
}

/** getNodesStats' results decoded (exported for tests/golden_test.ts, which runs it on real frames). */
export function decodeNodesStats(r: Node_GetNodesStats$Results): PeerSummary[] {
  if (!r.result) throw new Error("Node.getNodesStats: the node has no connection manager (result false)");
  const stats = r.stats;
  if (stats.length > MAX_PEERS) {
    throw new Error(`Node.getNodesStats: the node reported ${stats.length} peers, more than the ${MAX_PEERS} read`);
  }
  const out: PeerSummary[] = new Array(stats.length);
  for (let i = 0; i < stats.length; i++) {
    const s = stats.get(i);
    out[i] = {
      inbound: s.inbound,
      network: enumName(NETWORK_NAMES, s.network),
      connectionType: enumName(CONNECTION_TYPE_NAMES, s.connType),
      transport: enumName(TRANSPORT_NAMES, s.transportType),
      minPingSeconds: pingSeconds(s.minPingTime),
      hbTo: s.bip152HighbandwidthTo,
      hbFrom: s.bip152HighbandwidthFrom,
    };
  }
  return out;
}

/**
 * NodeStats.minPingTime in seconds: libmultiprocess sends a std::chrono::duration as its count()
 * (mp/type-chrono.h), so microseconds here. The no-ping sentinel (microseconds::max(), which
 * getpeerinfo leaves out as `minping`) and a negative value are no reading.
 */
export function pingSeconds(us: bigint): number | undefined {
  if (us >= NO_PING_US || us < 0n) return undefined;
  return Number(us) / 1e6;
}

/**
 * `Node.getBanned`: how many entries the node's ban list has. The node sends the list as one JSON
 * text (Banmap.json = BanMapToJson(banmap).write(), an array of objects); it is counted in place
 * by a scan of its bytes that builds no string and no object. Rejects when the node has no ban
 * manager or the text is not a JSON array of objects.
 */
export function getBannedCount(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getBanned, undefined, decodeBannedCount, o);
}

/** getBanned's results counted (exported for tests/golden_test.ts). */
export function decodeBannedCount(r: Node_GetBanned$Results): number {
  if (!r.result) throw new Error("Node.getBanned: the node has no ban manager (result false)");
  if (!r._hasBanmap()) throw new Error("Node.getBanned: the answer has no ban map");
  // Banmap.json is Text: a byte list ending in NUL. Read as Data it is a view into the frame.
  const bytes = $.utils.getData(0, r.banmap).toUint8Array();
  return countJsonArrayObjects(bytes, "Node.getBanned");
}

/**
 * The number of elements of a JSON array of objects given as UTF-8 bytes (a trailing NUL and
 * whitespace allowed), in one pass: strings are skipped with their escapes, nesting is tracked.
 * Throws when the text is not one array whose elements are all objects.
 */
export function countJsonArrayObjects(bytes: Uint8Array, what: string): number {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0) end--; // Text's NUL terminator
  if (end > MAX_BANMAP_BYTES) throw new Error(`${what}: ${end} bytes of JSON, more than the ${MAX_BANMAP_BYTES} read`);
  const bad = (why: string) => new Error(`${what}: the node's JSON is not an array of objects (${why})`);
  const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
  let i = 0;
  while (i < end && isSpace(bytes[i])) i++;
  if (bytes[i] !== 0x5b) throw bad("no opening [");
  i++;
  let depth = 1; // inside the top-level array
  let count = 0;
  let expectElement = true; // after [ or a top-level comma
  for (; i < end; i++) {
    const c = bytes[i];
    if (isSpace(c)) continue;
    if (c === 0x22) { // a string: skip to its closing quote
      if (depth === 1) throw bad("a top-level element is a string");
      for (i++; i < end && bytes[i] !== 0x22; i++) if (bytes[i] === 0x5c) i++;
      if (i >= end) throw bad("an unterminated string");
      continue;
    }
    if (depth === 1) {
      if (c === 0x5d) { // the closing ]
        if (expectElement && count > 0) throw bad("a trailing comma");
        depth = 0;
        i++;
        break;
      }
      if (c === 0x2c) {
        if (expectElement) throw bad("an empty element");
        expectElement = true;
        continue;
      }
      if (c !== 0x7b || !expectElement) throw bad("a top-level element is not an object");
      count++;
      expectElement = false;
      depth++;
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  if (depth !== 0) throw bad("unbalanced brackets");
  while (i < end && isSpace(bytes[i])) i++;
  if (i !== end) throw bad("text after the array");
  return count;
}

/** `Node.getNetworkActive`: whether P2P networking is enabled (false also when the node has no connection manager). */
export function getNetworkActive(session: Session, o?: SessionCallOptions): Promise<boolean> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getNetworkActive, undefined, (r) => r.result, o);
}

/**
 * `Node.getLastBlockTime`: the header time (seconds) of the ACTIVE chain's tip (upstream:
 * ActiveChain().Tip()->GetBlockTime() under cs_main; the genesis block's time before any tip).
 * This is `bitcoin_block_timestamp_seconds`' source on the flavours with Node: one call, no
 * parameters. (`getHeaderTip`'s blockTime is the best HEADER's time, ahead of the tip during IBD;
 * `Chain.findBlock` with wantTime would need the tip hash first: two calls and a race.)
 */
export function getLastBlockTime(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getLastBlockTime, undefined, (r) => Number(r.result), o);
}

/** `Node.getHeaderTip` in full: the best header's height and time, undefined when the node has none. */
export function getBestHeader(
  session: Session,
  o?: SessionCallOptions,
): Promise<{ height: number; blockTime: number } | undefined> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getHeaderTip, undefined, (r) => {
    return r.result ? { height: r.height, blockTime: Number(r.blockTime) } : undefined;
  }, o);
}

/** `Node.getNumBlocks`: the active chain's height (-1 with no block). */
export function getNumBlocks(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getNumBlocks, undefined, (r) => r.result, o);
}

/** `Node.getBestBlockHash`: the active tip's hash as Bitcoin Core displays it (genesis before any tip). */
export function getBestBlockHash(session: Session, o?: SessionCallOptions): Promise<string> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getBestBlockHash, undefined, (r) => {
    const raw = r.result.toUint8Array();
    if (raw.length !== 32) throw new Error(`Node.getBestBlockHash: a ${raw.length}-byte hash`);
    return displayHash(raw);
  }, o);
}

/** `Node.getNetLocalAddresses`: how many local addresses the node advertises (the list is not decoded). */
export function getNetLocalAddressCount(session: Session, o?: SessionCallOptions): Promise<number> {
  const n = nodeOf(session);
  const method = n.calls.getNetLocalAddresses;
  if (!method) return Promise.reject(absent(session, "Node.getNetLocalAddresses"));
  return session.callWithContext(n.cap, method, undefined, (r) => r.result.length, o);
}

/** The node's warnings: the original (untranslated) text, bounded, and how many messages it joins. */
export interface NodeWarnings {
  /** Up to MAX_WARNINGS_CHARS characters of the original text ("" when there is none). */
  text: string;
  /** How many messages the node joined (with "<hr />", upstream getWarnings); 0 when none. */
  count: number;
  /** The text was longer than MAX_WARNINGS_CHARS. */
  truncated: boolean;
}

/** `Node.getWarnings` (BilingualStr): the `original` text; the translation is never read. */
export function getWarnings(session: Session, o?: SessionCallOptions): Promise<NodeWarnings> {
  const n = nodeOf(session);
  return session.callWithContext(n.cap, n.calls.getWarnings, undefined, decodeWarnings, o);
}

/** getWarnings' results decoded (exported for tests). */
export function decodeWarnings(r: Node_GetWarnings$Results): NodeWarnings {
  const original = r._hasResult() ? r.result.original : "";
  return {
    text: original.slice(0, MAX_WARNINGS_CHARS),
    count: original === "" ? 0 : original.split("<hr />").length,
    truncated: original.length > MAX_WARNINGS_CHARS,
  };
}

/**
 * A serialized CFeeRate (what every fee-rate answer of Chain and Node carries in `Data`) as
 * sat/vB, or undefined for the "no fee rate" value (size 0: CFeeRate{}).
 *
 * Bitcoin Core since v30 (pr/trace included) serializes CFeeRate as its FeeFrac
 * (`READWRITE(obj.m_feerate.fee, obj.m_feerate.size)`, src/policy/feerate.h): fee Int64 LE then
 * size Int32 LE, 12 bytes; the node's rates are built from sat/kvB so size is 1000 (recorded:
 * relayMinFee = 64 00 00 00 00 00 00 00 e8 03 00 00, 100 sat per 1000 vB). Earlier nodes wrote
 * nSatoshisPerK alone (Int64 LE, 8 bytes), also read here. The value is GetFeePerK() / 1000, as the
 * RPCs report it (whole sat/kvB, rounded down).
 */
export function feeRateSatPerVb(data: Uint8Array, what: string): number | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length === 8) return Number(view.getBigInt64(0, true)) / 1000;
  if (data.length !== 12) {
    throw new Error(`${what}: a ${data.length}-byte fee rate (CFeeRate is 12 bytes, or 8 before v30)`);
  }
  const fee = view.getBigInt64(0, true);
  const size = view.getInt32(8, true);
  if (size <= 0) return undefined;
  // FeeFrac::EvaluateFeeDown(1000): the fee of 1000 vB, rounded towards -infinity.
  const num = fee * 1000n;
  const den = BigInt(size);
  let perK = num / den;
  if (num % den !== 0n && num < 0n) perK -= 1n;
  return Number(perK) / 1000;
}

function chainFeeRate(
  session: Session,
  which: "mempoolMinFee" | "relayMinFee" | "relayIncrementalFee" | "relayDustFee",
  o?: SessionCallOptions,
): Promise<number | undefined> {
  const { cap, calls } = chainOf(session);
  return session.callWithContext(
    cap,
    calls[which],
    undefined,
    (r) => feeRateSatPerVb(r.result.toUint8Array(), `Chain.${which}`),
    o,
  );
}

/**
 * `Chain.estimateSmartFee(confTarget, conservative=false, wantCalc=false)` in sat/vB (economical,
 * as estimatesmartfee's default mode), undefined when the node has no estimate (a zero fee rate,
 * as on a fresh node: recorded for target 6) or no fee estimator.
 *
 * This is the estimator's own number. The `estimatesmartfee` RPC (src/rpc/fees.cpp) reports
 * max(estimate, mempoolMinFee, relayMinFee) when there is an estimate, and refuses a target
 * outside 1..HighestTargetTracked (1008) where the estimator clamps it: a caller that wants the
 * RPC's value takes the max itself and keeps targets in 1..1008.
 */
export function estimateSmartFee(
  session: Session,
  confTarget: number,
  o?: SessionCallOptions,
): Promise<number | undefined> {
  const { cap, calls } = chainOf(session);
  return session.callWithContext(
    cap,
    calls.estimateSmartFee,
    (p) => {
      p.numBlocks = confTarget;
      p.conservative = false;
      p.wantCalc = false;
    },
    decodeEstimateSmartFee,
    o,
  );
}

/** estimateSmartFee's results decoded: a zero (or absent) fee rate is no estimate (exported for tests). */
export function decodeEstimateSmartFee(r: { result: $.Data }): number | undefined {
  const rate = feeRateSatPerVb(r.result.toUint8Array(), "Chain.estimateSmartFee");
  return rate === undefined || rate <= 0 ? undefined : rate;
}

/**
 * `Chain.mempoolMinFee`: the mempool's own rolling minimum (CTxMemPool::GetMinFee), 0 until the
 * mempool has been full. getmempoolinfo's `mempoolminfee` is max(this, relayMinFee); undefined
 * when the node has no mempool.
 */
export function mempoolMinFee(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  return chainFeeRate(session, "mempoolMinFee", o);
}

/** `Chain.relayMinFee`: -minrelaytxfee (sat/vB). */
export function relayMinFee(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  return chainFeeRate(session, "relayMinFee", o);
}

/** `Chain.relayIncrementalFee`: -incrementalrelayfee (sat/vB). */
export function relayIncrementalFee(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  return chainFeeRate(session, "relayIncrementalFee", o);
}

/** `Chain.relayDustFee`: -dustrelayfee (sat/vB). */
export function relayDustFee(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  return chainFeeRate(session, "relayDustFee", o);
}

/** `Chain.havePruned`: whether the node has pruned any block files. */
export function havePruned(session: Session, o?: SessionCallOptions): Promise<boolean> {
  const { cap, calls } = chainOf(session);
  return session.callWithContext(cap, calls.havePruned, undefined, (r) => r.result, o);
}

/** `Chain.getPruneHeight`: the lowest height with block data, undefined when nothing is pruned. */
export function getPruneHeight(session: Session, o?: SessionCallOptions): Promise<number | undefined> {
  const { cap, calls } = chainOf(session);
  const method = calls.getPruneHeight;
  if (!method) return Promise.reject(absent(session, "Chain.getPruneHeight"));
  return session.callWithContext(cap, method, undefined, (r) => r.hasResult ? r.result : undefined, o);
}

/**
 * What `Node.executeRpc` answered instead of a result: the RPC's own error (a thrown JSONRPCError,
 * `{"code":..,"message":..}` in `rpcError`: `code` set) or a C++ exception (its what() in `error`:
 * `code` undefined, `exception` true).
 */
export class NodeRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number | undefined,
    readonly rpcMessage: string,
    readonly exception = false,
  ) {
    super(
      exception
        ? `Node.executeRpc ${method}: the node threw: ${rpcMessage.slice(0, 200)}`
        : `Node.executeRpc ${method}: error ${code ?? "?"}: ${rpcMessage.slice(0, 200)}`,
    );
    this.name = "NodeRpcError";
  }
}

/** `Node.executeRpc` answered with a result this layer refuses (not JSON, or past MAX_RPC_RESULT_BYTES). */
export class NodeRpcAnswerError extends Error {
  override name = "NodeRpcAnswerError";
}

/**
 * `Node.executeRpc(command, params, uri)`: one JSON-RPC method through the node's RPC table
 * (upstream NodeImpl::executeRpc: `tableRPC.execute` on a JSONRPCRequest — no HTTP, no
 * credentials, no -rpcwhitelist; the same table bitcoin-qt's console uses, registered even with
 * -server=0). `paramsJson` is the params array or object as JSON text. Returns the parsed result.
 * The RPC's own error (a thrown UniValue: `{"code":..,"message":..}` in `rpcError`) rejects with
 * NodeRpcError; a C++ exception (`error`, its what()) with an Error. Call only read-only methods:
 * the node runs whatever it is asked.
 */
export function nodeExecuteRpc(
  session: Session,
  method: string,
  paramsJson = "[]",
  o?: SessionCallOptions,
): Promise<unknown> {
  const n = nodeOf(session);
  return session.callWithContext(
    n.cap,
    n.calls.executeRpc,
    (p) => {
      p.command = method;
      p.params = paramsJson;
      p.uri = "";
    },
    (r) => decodeNodeExecuteRpc(method, r),
    o,
  );
}

/** executeRpc's results decoded (exported for tests). */
export function decodeNodeExecuteRpc(method: string, r: Node_ExecuteRpc$Results): unknown {
  const has = (i: number) => !$.utils.isNull($.utils.getPointer(i, r));
  if (has(1)) { // rpcError: a JSONRPCError object as JSON text
    const text = r.rpcError.slice(0, 64 * 1024);
    let err: { code?: unknown; message?: unknown } = {};
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === "object") err = parsed;
    } catch { /* kept as text below */ }
    const code = typeof err.code === "number" ? err.code : undefined;
    const message = typeof err.message === "string" ? err.message : text;
    throw new NodeRpcError(method, code, message);
  }
  if (has(0)) throw new NodeRpcError(method, undefined, r.error.slice(0, 64 * 1024), true);
  // Measured on the frame before any string is built from it.
  const bytes = $.utils.getData(2, r).length;
  if (bytes > MAX_RPC_RESULT_BYTES) {
    throw new NodeRpcAnswerError(
      `Node.executeRpc ${method}: a ${bytes}-byte result, more than the ${MAX_RPC_RESULT_BYTES} read`,
    );
  }
  const text = r.result;
  try {
    return JSON.parse(text);
  } catch {
    throw new NodeRpcAnswerError(`Node.executeRpc ${method}: the result is not JSON: ${text.slice(0, 80)}`);
  }
}

/**
 * Several read-only JSON-RPC methods through `Node.executeRpc`, one call each (the Node interface
 * has no batch), in order on the session's read Thread. Answers in the shape of stock.ts's
 * `rpcBatch`, by position: `{result}` or `{error}` (the RPC's error or the node's exception), so one
 * collector reads both flavours' answers. A failure of the call itself (timeout, disconnect)
 * rejects the whole batch. With `o.timeoutMs`, that is the budget of the whole batch.
 */
export async function nodeRpcBatch(
  session: Session,
  calls: { method: string; params?: unknown[] }[],
  o?: SessionCallOptions,
): Promise<RpcReply[]> {
  const deadline = o?.timeoutMs === undefined ? undefined : performance.now() + o.timeoutMs;
  const out: RpcReply[] = [];
  for (const c of calls) {
    const left = deadline === undefined ? undefined : Math.max(1, deadline - performance.now());
    try {
      const result = await nodeExecuteRpc(session, c.method, JSON.stringify(c.params ?? []), {
        ...o,
        timeoutMs: left,
      });
      out.push({ result });
    } catch (e) {
      if (e instanceof NodeRpcError) out.push({ error: { code: e.code, message: e.rpcMessage } });
      else if (e instanceof NodeRpcAnswerError) out.push({ error: { message: e.message } });
      else throw e;
    }
  }
  return out;
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
  return session.subscribe(cap, gen().tracing.traceUtxoCache, (p, caps) => {
    setCapAt(p, 1, caps.add(server)); // params: (context, callback)
  });
}

// ---- Callbacks the node makes on our objects ----

/** ChainNotifications' interface ID in every Chain generation (branch_gen.ts checks it against each). */
export const CHAIN_NOTIFICATIONS_INTERFACE = 0x9ac9db48ba219039n;
/** UtxoCacheTrace's interface ID (schemas/tracing.capnp; branch_gen.ts checks it). */
export const UTXO_TRACE_INTERFACE = 0xf877dd6fb711c62fn;

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

/** UtxoCacheTrace method ordinals (schemas/tracing.capnp); add, spend and uncache share one params layout. */
export const UtxoTraceMethod = { destroy: 0, add: 1, spend: 2, uncache: 3 } as const;

/** BlockInfo.height: Int32 at data offset 0, schema default -1 (stored XOR the default). */
const BLOCK_INFO_HEIGHT = { offset: 0, default: -1 } as const;
/** blockConnected params: (context @0, role @1, block @2) — pointers 0, 1, 2. */
const BLOCK_CONNECTED_BLOCK_PTR = 2;
/**
 * pr/ipc of 2024: blockConnected params (context @0, role :UInt32 @1, block @2): the role is in the
 * data section, so block is pointer 1. Read at pr/trace's pointer 2 it would be absent (-1).
 */
const PR_IPC_BLOCK_CONNECTED_BLOCK_PTR = 1;
/** pr/ipc of 2024's role: kernel::ChainstateRole as UInt32 (NORMAL 0, BACKGROUND 1, ASSUMEDVALID 2). */
const PR_IPC_ROLE_BACKGROUND = 1;
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
export function chainNotificationArgWire(
  methodId: number,
  w: WireMessage,
  params: WireStruct | null,
  blockPtr: number = BLOCK_CONNECTED_BLOCK_PTR,
): number {
  if (!params) return methodId === ChainNotificationMethod.blockConnected ? -1 : 0;
  switch (methodId) {
    case ChainNotificationMethod.transactionRemovedFromMempool:
      return w.i32(params, REMOVED_REASON_OFFSET);
    case ChainNotificationMethod.blockConnected: {
      const block = w.structAt(params, blockPtr);
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
      return call.params(gen().ChainNotifications_TransactionRemovedFromMempool$Params).reason;
    case ChainNotificationMethod.blockConnected: {
      const p = call.params(gen().ChainNotifications_BlockConnected$Params);
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
  const info = call.params(gen().UtxoCacheTrace_Add$Params).utxoInfo;
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
  const u = call.params(gen().UtxoCacheTrace_Add$Params).utxoInfo;
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
    ? call.params(gen().ChainNotifications_TransactionRemovedFromMempool$Params).tx.toUint8Array()
    : call.params(gen().ChainNotifications_TransactionAddedToMempool$Params).tx.toUint8Array();
}

/** The block of blockConnected / blockDisconnected, and for blockConnected its chainstate role. */
export function notificationBlock(call: IncomingCall): { height: number; hash: string; historical?: boolean } {
  if (call.methodId === ChainNotificationMethod.blockConnected) {
    const p = call.params(gen().ChainNotifications_BlockConnected$Params);
    const b = p.block;
    return { height: blockInfoHeight(b), hash: displayHash(b.hash.toUint8Array()), historical: p.role.historical };
  }
  const b = call.params(gen().ChainNotifications_BlockDisconnected$Params).block;
  return { height: blockInfoHeight(b), hash: displayHash(b.hash.toUint8Array()) };
}

/** chainStateFlushed's role: whether the flushed chainstate is the historical (background) one. */
export function flushedHistorical(call: IncomingCall): boolean {
  return call.params(gen().ChainNotifications_ChainStateFlushed$Params).role.historical;
}

// ---- The connected block's header (block_events' intervals), read in place ----

/** BlockInfo's pointers: hash @0 (0), prevHash @1 (1), data @5 (2: the serialized block). */
const BLOCK_INFO_HASH_PTR = 0;
const BLOCK_INFO_DATA_PTR = 2;
/** A block header: version 4, prevHash 32, merkle root 32, time 4, bits 4, nonce 4. */
const HEADER_BYTES = 80;
const HEADER_PREV_AT = 4;
const HEADER_TIME_AT = 68;

/** What block_events takes from blockConnected: the block's hash, its parent's and its header time. */
export interface ConnectedHeader {
  hash: string;
  prevHash?: string;
  time?: number;
}

/**
 * The Data (byte list) that pointer `index` of `s` points to, as a view into the frame (no copy),
 * at most `max` bytes of it; null for a null or non-byte-list pointer. Follows single and double far
 * pointers (libcapnp puts a large Data, a whole block, in a segment of its own); every offset is
 * checked against its segment.
 */
export function bytesAtWire(w: WireMessage, s: WireStruct, index: number, max: number): Uint8Array | null {
  if (index >= s.ptrCount) return null;
  let v = w.views[s.seg];
  let at = s.ptrs + 8 * index;
  let lo = v.getUint32(at, true), hi = v.getUint32(at + 4, true);
  let start: number;
  if ((lo & 3) === 2) {
    const pv = w.views[hi];
    const pad = (lo >>> 3) * 8;
    if (!pv || pad + ((lo & 4) ? 16 : 8) > pv.byteLength) return null;
    if ((lo & 4) === 0) {
      v = pv;
      at = pad;
      lo = v.getUint32(at, true);
      hi = v.getUint32(at + 4, true);
      if ((lo & 3) !== 1) return null;
      start = at + 8 + (lo >> 2) * 8;
    } else {
      const far = pv.getUint32(pad, true);
      v = w.views[pv.getUint32(pad + 4, true)];
      if (!v || (far & 7) !== 2) return null;
      start = (far >>> 3) * 8;
      lo = pv.getUint32(pad + 8, true);
      hi = pv.getUint32(pad + 12, true);
      if ((lo & 3) !== 1) return null;
    }
  } else {
    if ((lo & 3) !== 1) return null;
    start = at + 8 + (lo >> 2) * 8;
  }
  if ((hi & 7) !== 2) return null; // not a byte list
  const count = hi >>> 3;
  if (start < 0 || start + count > v.byteLength) return null;
  return new Uint8Array(v.buffer, v.byteOffset + start, Math.min(count, max));
}

/** The header of a blockConnected's block: its hash always, its parent and time where data holds a header. */
export function headerOf(hash: Uint8Array, data: Uint8Array | null): ConnectedHeader {
  const out: ConnectedHeader = { hash: displayHash(hash) };
  if (data && data.length >= HEADER_BYTES) {
    out.prevHash = displayHash(data.subarray(HEADER_PREV_AT, HEADER_PREV_AT + 32));
    out.time = new DataView(data.buffer, data.byteOffset + HEADER_TIME_AT, 4).getUint32(0, true);
  }
  return out;
}

/** blockConnected params' role (pr/trace, chain5): ChainstateRole at pointer 1, `historical` its bit 1. */
const BLOCK_CONNECTED_ROLE_PTR = 1;
const ROLE_HISTORICAL_BIT = 2;

/** Whether blockConnected's role, read in place, says the block is of the historical (background) chainstate. */
function historicalWire(w: WireMessage, params: WireStruct, blockPtr: number): boolean {
  // pr/ipc of 2024: the role is a UInt32 in the data section (the block is pointer 1).
  if (blockPtr === PR_IPC_BLOCK_CONNECTED_BLOCK_PTR) return w.u32(params, 0) === PR_IPC_ROLE_BACKGROUND;
  const role = w.structAt(params, BLOCK_CONNECTED_ROLE_PTR);
  return role !== null && (w.u32(role, 0) & ROLE_HISTORICAL_BIT) !== 0;
}

/**
 * blockConnected's header read in place (undefined without a block or hash, and for a block of the
 * historical chainstate: assumeutxo's background sync connects old blocks, whose intervals are history).
 */
function connectedHeaderWire(w: WireMessage, params: WireStruct | null, blockPtr: number): ConnectedHeader | undefined {
  if (!params || historicalWire(w, params, blockPtr)) return undefined;
  const block = w.structAt(params, blockPtr);
  const hash = block ? bytesAtWire(w, block, BLOCK_INFO_HASH_PTR, 32) : null;
  if (!block || !hash || hash.length !== 32) return undefined;
  return headerOf(hash, bytesAtWire(w, block, BLOCK_INFO_DATA_PTR, HEADER_BYTES));
}

/**
 * blockConnected's serialized block (BlockInfo.data) read in place: a view into the message, valid
 * only while it is (copy what is kept); null without one, and for a block of the historical chainstate.
 */
function connectedDataWire(w: WireMessage, params: WireStruct | null, blockPtr: number): Uint8Array | null {
  if (!params || historicalWire(w, params, blockPtr)) return null;
  const block = w.structAt(params, blockPtr);
  return block ? bytesAtWire(w, block, BLOCK_INFO_DATA_PTR, Infinity) : null;
}

/** The same through capnp-es. */
function connectedHeader(b: { hash: $.Data; data: $.Data; _hasData(): boolean }): ConnectedHeader | undefined {
  const hash = b.hash.toUint8Array();
  if (hash.length !== 32) return undefined;
  return headerOf(hash, b._hasData() ? b.data.toUint8Array().subarray(0, HEADER_BYTES) : null);
}

/** The readers of chain notifications in one Chain generation's params layouts. */
export interface ChainNotificationReader {
  /** blockConnected's header, read in place (the general path: `header`). */
  headerWire(w: WireMessage, params: WireStruct | null): ConnectedHeader | undefined;
  header(call: IncomingCall): ConnectedHeader | undefined;
  /** blockConnected's serialized block, a view into the message (the general path: `data`). */
  dataWire(w: WireMessage, params: WireStruct | null): Uint8Array | null;
  data(call: IncomingCall): Uint8Array | null;
  /** chainNotificationArgWire: the number a notification is counted by, read in place. */
  argWire(methodId: number, w: WireMessage, params: WireStruct | null): number;
  /** chainNotificationArg: the same through capnp-es. */
  arg(call: IncomingCall): number;
  /** notificationBlock. */
  block(call: IncomingCall): { height: number; hash: string; historical?: boolean };
  /** flushedHistorical. */
  flushedHistorical(call: IncomingCall): boolean;
}

const prTraceReader: ChainNotificationReader = Object.freeze({
  argWire: (methodId: number, w: WireMessage, params: WireStruct | null) =>
    chainNotificationArgWire(methodId, w, params),
  arg: chainNotificationArg,
  block: notificationBlock,
  flushedHistorical,
  headerWire: (w: WireMessage, params: WireStruct | null) => connectedHeaderWire(w, params, BLOCK_CONNECTED_BLOCK_PTR),
  header: (call: IncomingCall) => {
    const p = call.params(gen().ChainNotifications_BlockConnected$Params);
    return p._hasBlock() && !p.role.historical ? connectedHeader(p.block) : undefined;
  },
  dataWire: (w: WireMessage, params: WireStruct | null) => connectedDataWire(w, params, BLOCK_CONNECTED_BLOCK_PTR),
  data: (call: IncomingCall) => {
    const p = call.params(gen().ChainNotifications_BlockConnected$Params);
    return p._hasBlock() && !p.role.historical && p.block._hasData() ? p.block.data.toUint8Array() : null;
  },
});

// pr/ipc of 2024: the role is a UInt32 (no struct), and blockConnected's block is pointer 1.
const prIpcReader: ChainNotificationReader = Object.freeze({
  argWire: (methodId: number, w: WireMessage, params: WireStruct | null) =>
    chainNotificationArgWire(methodId, w, params, PR_IPC_BLOCK_CONNECTED_BLOCK_PTR),
  arg: (call: IncomingCall) => {
    if (call.methodId !== ChainNotificationMethod.blockConnected) return chainNotificationArg(call);
    const p = call.params(gen().PrIpcBlockConnected$Params);
    return p._hasBlock() ? blockInfoHeight(p.block) : -1;
  },
  block: (call: IncomingCall) => {
    if (call.methodId !== ChainNotificationMethod.blockConnected) return notificationBlock(call);
    const p = call.params(gen().PrIpcBlockConnected$Params);
    const b = p.block;
    return {
      height: blockInfoHeight(b),
      hash: displayHash(b.hash.toUint8Array()),
      historical: p.role === PR_IPC_ROLE_BACKGROUND,
    };
  },
  flushedHistorical: (call: IncomingCall) =>
    call.params(gen().PrIpcChainStateFlushed$Params).role === PR_IPC_ROLE_BACKGROUND,
  headerWire: (w: WireMessage, params: WireStruct | null) =>
    connectedHeaderWire(w, params, PR_IPC_BLOCK_CONNECTED_BLOCK_PTR),
  header: (call: IncomingCall) => {
    const p = call.params(gen().PrIpcBlockConnected$Params);
    return p._hasBlock() && p.role !== PR_IPC_ROLE_BACKGROUND ? connectedHeader(p.block) : undefined;
  },
  dataWire: (w: WireMessage, params: WireStruct | null) =>
    connectedDataWire(w, params, PR_IPC_BLOCK_CONNECTED_BLOCK_PTR),
  data: (call: IncomingCall) => {
    const p = call.params(gen().PrIpcBlockConnected$Params);
    return p._hasBlock() && p.role !== PR_IPC_ROLE_BACKGROUND && p.block._hasData()
      ? p.block.data.toUint8Array()
      : null;
  },
});

/**
 * The chain-notification readers for the session's Chain generation (pr/trace's before a session
 * is known). The ChainNotifications server is the same for every generation; only the layouts of
 * blockConnected and chainStateFlushed differ (pr/ipc of 2024).
 */
export function chainNotificationReader(session?: Session): ChainNotificationReader {
  return session?.interfaces.chainGeneration === "pr-ipc" ? prIpcReader : prTraceReader;
}
