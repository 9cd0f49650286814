/**
 * Golden decode cases from real traffic: every frame a pr/trace bitcoin-node sent on regtest
 * (tests/fixtures/pr-trace-regtest), decoded with our layer and compared with what the node did.
 * And the encodings no recorded traffic covers, checked against the capnp compiler's own layout of
 * each schema generation: the Mining calls per stock generation (v30, v31, 32.x), and the Chain and
 * Node generations (pr/trace, rebased over makeRpc, pr/ipc of 2024) for everything the exporter calls
 * or is called with.
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which } from "capnp-es/capnp/rpc";
import {
  CodeGeneratorRequest,
  type Field,
  Field_Which,
  type Node,
  Node_Which,
  type Type,
  Type_Which,
  type Value,
  Value_Which,
} from "capnp-es/capnp/schema";
import { assert, assertEquals } from "./support/assert.ts";
import { int32Field, uint32Field } from "../src/ipc/capnp.ts";
import { FrameDecoder } from "../src/ipc/framing.ts";
import {
  ChainNotifications$Client,
  ChainNotifications_BlockConnected$Params,
  ChainNotifications_BlockDisconnected$Params,
  ChainNotifications_TransactionRemovedFromMempool$Params,
} from "../gen/chain.ts";
import { UtxoCacheTrace$Client, UtxoCacheTrace_Add$Params } from "../gen/tracing.ts";
import { Init$Client } from "../gen/v32/init.ts";
import {
  Mining$Client,
  Mining_GetTip$Results,
  Mining_WaitTipChanged$Params,
  Mining_WaitTipChanged$Results,
} from "../gen/mining.ts";
import { Rpc$Client, Rpc_ExecuteRpc$Results } from "../gen/rpc.ts";
import { loadStockGenerations, miningCalls, writeWaitTipChanged } from "../src/ipc/stock.ts";
import type { MiningGeneration } from "../src/ipc/detect.ts";
import { WireMessage } from "../src/ipc/wire.ts";
import { named } from "../src/ipc/methods.ts";
import { Chain$Client, Chain_EstimateSmartFee$Params } from "../gen/chain.ts";
import { Node$Client } from "../gen/node.ts";
import {
  chainCallsOf,
  decodeBannedCount,
  decodeEstimateSmartFee,
  decodeNodesStats,
  feeRateSatPerVb,
  loadBranchGenerations,
  nodeCallsOf,
} from "../src/ipc/branch.ts";
import type { ChainGeneration, NodeGeneration } from "../src/ipc/detect.ts";

// The call tables are loaded when a session's detection needs them; these tests read them directly.
await loadBranchGenerations();
await loadStockGenerations();

const dir = new URL("./fixtures/pr-trace-regtest/", import.meta.url);

async function fromNodeCalls() {
  const names = [...Deno.readDirSync(new URL("frames/", dir))].map((e) => e.name).filter((n) =>
    n.endsWith("-from-node.bin")
  )
    .sort();
  const calls: { interfaceId: bigint; methodId: number; call: RpcMessage["call"] }[] = [];
  for (const name of names) {
    const bytes = await Deno.readFile(new URL(`frames/${name}`, dir));
    // Each file is exactly one framed message: the decoder must agree.
    const frames: Uint8Array[] = [];
    new FrameDecoder().push(bytes, (f) => frames.push(f.slice()));
    assertEquals(frames.length, 1, name);
    const root = new $.Message(frames[0], false).getRoot(RpcMessage);
    if (root.which() !== Message_Which.CALL) continue;
    calls.push({ interfaceId: root.call.interfaceId, methodId: root.call.methodId, call: root.call });
  }
  return calls;
}

Deno.test("BlockInfo.height (Int32, default -1) decodes as the node sent it", async () => {
  const calls = await fromNodeCalls();
  const iid = ChainNotifications$Client.interfaceId;
  const connected = calls.filter((c) => c.interfaceId === iid && c.methodId === 3).map((c) => {
    const p = $.utils.getStruct(0, ChainNotifications_BlockConnected$Params, c.call.params);
    return int32Field(p.block, 0, -1);
  });
  // 105 blocks existed; 106-108 mined; 108 invalidated (disconnected) and reconsidered (connected).
  assertEquals(connected, [106, 107, 108, 108]);
  const disconnected = calls.filter((c) => c.interfaceId === iid && c.methodId === 4).map((c) =>
    int32Field($.utils.getStruct(0, ChainNotifications_BlockDisconnected$Params, c.call.params).block, 0, -1)
  );
  assertEquals(disconnected, [108]);
  // capnp-es's own getter shows the bug this layer exists for.
  const p = $.utils.getStruct(
    0,
    ChainNotifications_BlockConnected$Params,
    calls.find((c) => c.methodId === 3 && c.interfaceId === iid)!.call.params,
  );
  assertEquals(p.block.height, -65430);
});

Deno.test("mempool removal reason and UTXO values decode as observed", async () => {
  const observed = JSON.parse(await Deno.readTextFile(new URL("observed.json", dir))) as { events: string[] };
  const calls = await fromNodeCalls();
  const removed = calls.filter((c) => c.interfaceId === ChainNotifications$Client.interfaceId && c.methodId === 2)
    .map((c) => $.utils.getStruct(0, ChainNotifications_TransactionRemovedFromMempool$Params, c.call.params).reason);
  assertEquals(removed, [5]); // the replaced transaction
  const utxo = calls.filter((c) => c.interfaceId === UtxoCacheTrace$Client.interfaceId && c.methodId >= 1);
  const decoded = utxo.map((c) => {
    const info = $.utils.getStruct(0, UtxoCacheTrace_Add$Params, c.call.params).utxoInfo;
    const kind = ["", "add", "spend", "uncache"][c.methodId];
    // The capture client logged the height for adds only.
    return kind === "add" ? `add ${info.value} ${uint32Field(info, 4)}` : `${kind} ${info.value}`;
  });
  const expected = observed.events.filter((e) => e.startsWith("utxo.")).map((e) => {
    const m = /^utxo\.(\w+) value=(\d+)(?: h=(\d+))?/.exec(e)!;
    return m[3] ? `${m[1]} ${m[2]} ${m[3]}` : `${m[1]} ${m[2]}`;
  });
  assert(decoded.length > 0);
  // The capture client logged callbacks as it handled them, interleaved differently from the frame
  // order across its threads; the set of events is what must match.
  assertEquals(decoded.sort(), expected.sort());
});

Deno.test("stock master: the real node's Init, Mining and Rpc frames decode with our 32.x schemas", async () => {
  const sm = new URL("./fixtures/stock-master-regtest/", import.meta.url);
  const observed = JSON.parse(await Deno.readTextFile(new URL("observed.json", sm)));
  const names = [...Deno.readDirSync(new URL("frames/", sm))].map((e) => e.name).sort();
  // Calls from the client and the node's Returns, paired by question id in frame order.
  const open = new Map<number, { interfaceId: bigint; methodId: number; call: RpcMessage["call"] }>();
  const answered: { interfaceId: bigint; methodId: number; call: RpcMessage["call"]; ret: RpcMessage["return"] }[] = [];
  for (const name of names) {
    const frames: Uint8Array[] = [];
    new FrameDecoder().push(await Deno.readFile(new URL(`frames/${name}`, sm)), (f) => frames.push(f.slice()));
    const root = new $.Message(frames[0], false).getRoot(RpcMessage);
    if (name.endsWith("-to-node.bin") && root.which() === Message_Which.CALL) {
      open.set(root.call.questionId, {
        interfaceId: root.call.interfaceId,
        methodId: root.call.methodId,
        call: root.call,
      });
    } else if (name.endsWith("-from-node.bin") && root.which() === Message_Which.RETURN) {
      const c = open.get(root.return.answerId);
      open.delete(root.return.answerId);
      if (c) answered.push({ ...c, ret: root.return });
    }
  }
  const initCalls = answered.filter((a) => a.interfaceId === Init$Client.interfaceId).map((a) => a.methodId);
  assertEquals(initCalls, [0, 4, 3]); // construct, makeRpc, makeMining: the 32.x Init's ordinals
  const mining = answered.filter((a) => a.interfaceId === Mining$Client.interfaceId);
  assertEquals(mining.map((m) => m.methodId), [2, 3]);
  const tip = $.utils.getStruct(0, Mining_GetTip$Results, mining[0].ret.results);
  assertEquals([tip.result.height, tip.hasResult], [observed["mining.getTip"].height, true]);
  assertEquals(tip.result.hash.toUint8Array().length, 32);
  const waited = $.utils.getStruct(0, Mining_WaitTipChanged$Results, mining[1].ret.results);
  assertEquals(waited.result.height, observed["mining.waitTipChanged"].height);
  // The capture client's 2 s timeout, read with the default-bearing 32.x schema: exactly 2000 ms
  // (read without the default, the same bits would be a denormal near zero).
  const timeout = $.utils.getStruct(0, Mining_WaitTipChanged$Params, mining[1].call.params).timeout;
  assertEquals(timeout, 2000);
  const rpc = answered.filter((a) => a.interfaceId === Rpc$Client.interfaceId);
  assert(rpc.length > 10);
  const text = $.utils.getStruct(0, Rpc_ExecuteRpc$Results, rpc[0].ret.results).result;
  assertEquals(JSON.parse(text), observed.getblockchaininfo);
});

/** The pr/trace client's calls on `interfaceId` and the node's Returns, paired by question id in frame order. */
async function answeredCalls(interfaceId: bigint) {
  const names = [...Deno.readDirSync(new URL("frames/", dir))].map((e) => e.name).sort();
  const open = new Map<number, RpcMessage["call"]>();
  const out: { interfaceId: bigint; methodId: number; call: RpcMessage["call"]; ret: RpcMessage["return"] }[] = [];
  for (const name of names) {
    const frames: Uint8Array[] = [];
    new FrameDecoder().push(await Deno.readFile(new URL(`frames/${name}`, dir)), (f) => frames.push(f.slice()));
    const root = new $.Message(frames[0], false).getRoot(RpcMessage);
    if (name.endsWith("-to-node.bin") && root.which() === Message_Which.CALL) {
      if (root.call.interfaceId === interfaceId) open.set(root.call.questionId, root.call);
    } else if (name.endsWith("-from-node.bin") && root.which() === Message_Which.RETURN) {
      const call = open.get(root.return.answerId);
      open.delete(root.return.answerId);
      if (!call) continue;
      out.push({ interfaceId, methodId: call.methodId, call, ret: root.return });
    }
  }
  return out;
}

Deno.test("pr/trace: the node's real Node and Chain getter answers decode as the node gave them", async () => {
  const observed = JSON.parse(await Deno.readTextFile(new URL("observed.json", dir))).calls;
  const recorded = [...await answeredCalls(Node$Client.interfaceId), ...await answeredCalls(Chain$Client.interfaceId)];
  // The one recorded answer to `m` (matched by interface and ordinal), read with m's results layout.
  const answer = <R extends $.Struct>(m: $.Method<$.Struct, R>, interfaceId: bigint) => {
    const found = recorded.filter((c) => c.interfaceId === interfaceId && c.methodId === m.methodId);
    assertEquals(found.length, 1, `one recorded ${m.methodName}`);
    return { results: $.utils.getStruct(0, m.ResultsClass, found[0].ret.results), call: found[0].call };
  };
  const nodeAnswer = <R extends $.Struct>(m: $.Method<$.Struct, R>) => answer(m, Node$Client.interfaceId).results;
  const chainAnswer = <R extends $.Struct>(m: $.Method<$.Struct, R>) => answer(m, Chain$Client.interfaceId).results;
  const N = Node$Client.methods;
  const C = Chain$Client.methods;

  // Node.getNodesStats @19 (answered before the second node connected: no peer, result true).
  const stats = nodeAnswer(named(N, 19, "getNodesStats"));
  assertEquals([stats.result, stats.stats.length], [observed["node.getNodesStats"].result, 0]);
  assertEquals(decodeNodesStats(stats), []);

  // Node.getBanned @20: Banmap.json is the text "[]" (BanMapToJson of an empty ban list).
  const banned = nodeAnswer(named(N, 20, "getBanned"));
  assertEquals([banned.result, banned.banmap.json], [true, "[]"]);
  assertEquals(decodeBannedCount(banned), 0);

  // Node.getNetworkActive @40, getLastBlockTime @35, getNumBlocks @32.
  assertEquals(nodeAnswer(named(N, 40, "getNetworkActive")).result, observed["node.getNetworkActive"]);
  const lastBlockTime = Number(nodeAnswer(named(N, 35, "getLastBlockTime")).result);
  assertEquals(lastBlockTime, Number(observed["node.getLastBlockTime"]));
  // At the tip, the active tip's time is the best header's (getHeaderTip's blockTime).
  assertEquals(lastBlockTime, Number(nodeAnswer(named(N, 31, "getHeaderTip")).blockTime));
  assertEquals(nodeAnswer(named(N, 32, "getNumBlocks")).result, observed["node.getNumBlocks"]);

  // Chain fee rates: CFeeRate serialized as FeeFrac (fee Int64 LE, size Int32 LE), 12 bytes.
  const relay = chainAnswer(named(C, 27, "relayMinFee")).result.toUint8Array();
  assertEquals([...relay], observed["chain.relayMinFee"]);
  const v = new DataView(relay.buffer, relay.byteOffset, relay.byteLength);
  assertEquals([v.getBigInt64(0, true), v.getInt32(8, true)], [100n, 1000]); // 100 sat per 1000 vB
  assertEquals(feeRateSatPerVb(relay, "relayMinFee"), 0.1); // -minrelaytxfee's default since v30
  const mempoolMin = chainAnswer(named(C, 26, "mempoolMinFee")).result.toUint8Array();
  assertEquals([...mempoolMin], observed["chain.mempoolMinFee"]);
  assertEquals(feeRateSatPerVb(mempoolMin, "mempoolMinFee"), 0); // a mempool that was never full

  // Chain.estimateSmartFee(6) @24 on a fresh regtest node: a zero fee rate, which is no estimate.
  const esf = answer(named(C, 24, "estimateSmartFee"), Chain$Client.interfaceId);
  assertEquals($.utils.getStruct(0, Chain_EstimateSmartFee$Params, esf.call.params).numBlocks, 6);
  assertEquals([...esf.results.result.toUint8Array()], [0, 0, 0, 0, 0, 0, 0, 0, 0xe8, 3, 0, 0]);
  assertEquals(esf.results.calc.returnedTarget, observed["chain.estimateSmartFee(6)"].returnedTarget);
  assertEquals(decodeEstimateSmartFee(esf.results), undefined);

  assertEquals(chainAnswer(named(C, 30, "havePruned")).result, observed["chain.havePruned"]);
});

// ---- Encodings checked against the capnp compiler's layout of each schema ----

const SCHEMAS = new URL("../schemas/", import.meta.url).pathname;

/** The capnp compiler's view of one schema file (and everything it imports): nodes by ID and name. */
async function compiled(rel: string): Promise<{ byId: Map<bigint, Node>; named: (displayName: string) => Node }> {
  const out = await new Deno.Command("capnp", {
    args: ["compile", `-I${SCHEMAS}`, "--no-standard-import", `--src-prefix=${SCHEMAS}`, "-o-", `${SCHEMAS}${rel}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const req = new $.Message(out.stdout, false).getRoot(CodeGeneratorRequest);
  const byId = new Map<bigint, Node>();
  for (const n of req.nodes) byId.set(n.id, n);
  const named = (displayName: string) => {
    const n = [...byId.values()].find((n) => n.displayName === displayName);
    assert(n, `${displayName} is not in ${rel}`);
    return n;
  };
  return { byId, named };
}

/** A method's ordinal in an interface node (the compiler lists methods by ordinal). */
function ordinalOf(iface: Node, name: string): number {
  assertEquals(iface.which(), Node_Which.INTERFACE);
  const i = [...iface.interface.methods].findIndex((m) => m.name === name);
  assert(i >= 0, `${iface.displayName} has no method ${name}`);
  return i;
}

const DATA_BITS: Partial<Record<number, number>> = {
  [Type_Which.BOOL]: 1,
  [Type_Which.INT8]: 8,
  [Type_Which.UINT8]: 8,
  [Type_Which.INT16]: 16,
  [Type_Which.UINT16]: 16,
  [Type_Which.ENUM]: 16,
  [Type_Which.INT32]: 32,
  [Type_Which.UINT32]: 32,
  [Type_Which.FLOAT32]: 32,
  [Type_Which.INT64]: 64,
  [Type_Which.UINT64]: 64,
  [Type_Which.FLOAT64]: 64,
};

const typeName = (w: number) => Object.entries(Type_Which).find(([, v]) => v === w)?.[0] ?? String(w);

/** A data field's default as the number it is (a field is stored XOR its default's bits). */
function defaultOf(v: Value): string {
  switch (v.which()) {
    case Value_Which.BOOL:
      return String(v.bool);
    case Value_Which.INT32:
      return String(v.int32);
    case Value_Which.UINT32:
      return String(v.uint32);
    case Value_Which.INT64:
      return String(v.int64);
    case Value_Which.UINT64:
      return String(v.uint64);
    case Value_Which.FLOAT64:
      return String(v.float64);
    default:
      return `value kind ${v.which()}`;
  }
}

/**
 * A struct's wire layout as the compiler computed it, with nothing that does not travel (names of
 * types, struct type IDs): section sizes, and per field its slot, kind and default; struct fields
 * are described recursively, interface fields by the interface ID calls on them carry.
 */
function layout(c: { byId: Map<bigint, Node> }, id: bigint, depth = 0): unknown {
  const n = c.byId.get(id);
  assert(n && n.which() === Node_Which.STRUCT, `struct ${id}`);
  return {
    dataWords: n.struct.dataWordCount,
    pointers: n.struct.pointerCount,
    fields: [...n.struct.fields].map((f: Field) => {
      assertEquals(f.which(), Field_Which.SLOT, `${n.displayName}.${f.name} is a group`);
      const t: Type = f.slot.type;
      const bits = DATA_BITS[t.which()];
      if (bits) {
        return {
          name: f.name,
          dataBit: f.slot.offset * bits,
          type: typeName(t.which()),
          default: defaultOf(f.slot.defaultValue),
        };
      }
      const what = t.which() === Type_Which.STRUCT
        ? (depth < 4 ? layout(c, t.struct.typeId, depth + 1) : "struct")
        : t.which() === Type_Which.INTERFACE
        ? { interfaceId: `0x${t.interface.typeId.toString(16)}` }
        : typeName(t.which());
      return { name: f.name, pointer: f.slot.offset, what };
    }),
  };
}

/** A method's params and results layouts. */
function methodLayout(c: Awaited<ReturnType<typeof compiled>>, iface: Node, name: string) {
  const m = [...iface.interface.methods][ordinalOf(iface, name)];
  return { params: layout(c, m.paramStructType), results: layout(c, m.resultStructType) };
}

const MINING_SCHEMA: Record<MiningGeneration, string> = {
  v30: "v30/mining.capnp",
  v31: "v31/mining.capnp",
  v32: "mining.capnp", // 32.x: the newest generation sits at the top level
};

Deno.test("Mining per generation: the calls we build carry the interface ID, ordinals and layout the capnp compiler gives each schema (32.x for v32)", async () => {
  const tip = new Uint8Array(32).map((_, i) => i + 1);
  const words = (bytes: Uint8Array, at: number) => {
    const v = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
    return [v.getUint32(0, true), v.getUint32(4, true)];
  };
  const f64 = (x: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, true);
    return words(b, 0);
  };
  for (const generation of ["v30", "v31", "v32"] as const) {
    const c = await compiled(MINING_SCHEMA[generation]);
    const iface = c.named(`${MINING_SCHEMA[generation]}:Mining`);
    const calls = miningCalls(generation);
    for (const [name, call] of Object.entries(calls)) {
      if (!call) continue; // v30 has no interrupt
      assertEquals(call.interfaceId, iface.id, `${generation} ${name}: interface ID`);
      assertEquals(call.methodId, ordinalOf(iface, name), `${generation} ${name}: ordinal`);
    }
    // waitTipChanged's params exactly as waitTipChanged writes them (our Context in pointer 0).
    const msg = new $.Message();
    const params = msg.initRoot(calls.waitTipChanged.ParamsClass);
    params._initContext();
    writeWaitTipChanged(params, tip, 30000);
    const bytes = new Uint8Array(msg.toArrayBuffer());
    const w = new WireMessage(bytes);
    const root = w.root()!;
    const expected = methodLayout(c, iface, "waitTipChanged").params as {
      dataWords: number;
      pointers: number;
      fields: { name: string; pointer?: number; dataBit?: number; default?: string }[];
    };
    assertEquals([root.dataBytes / 8, root.ptrCount], [expected.dataWords, expected.pointers], generation);
    const field = (name: string) => expected.fields.find((f) => f.name === name)!;
    assertEquals(w.structAt(root, field("context").pointer!)?.ptrCount, 2, `${generation}: Context in its slot`);
    // currentTip: a byte list of 32 in its pointer slot.
    const seg = w.views[root.seg];
    const ptr = root.ptrs + 8 * field("currentTip").pointer!;
    assertEquals([seg.getUint32(ptr, true) & 3, seg.getUint32(ptr + 4, true)], [1, (32 << 3) | 2], generation);
    // timeout: 30000 ms stored XOR the schema's default (none on v30, maxDouble after).
    const timeout = field("timeout");
    const dflt = f64(Number(timeout.default));
    const want = f64(30000).map((x, i) => (x ^ dflt[i]) >>> 0);
    const at = root.data + timeout.dataBit! / 8;
    assertEquals([seg.getUint32(at, true), seg.getUint32(at + 4, true)], want, `${generation}: timeout bits`);
  }
  // The check has teeth: the v32 encoding read as v30 declares the field is not 30000 ms.
  const v30 = await compiled("v30/mining.capnp");
  const f = (methodLayout(v30, v30.named("v30/mining.capnp:Mining"), "waitTipChanged").params as {
    fields: { name: string; default?: string }[];
  }).fields.find((f) => f.name === "timeout")!;
  assertEquals(f.default, "0");
});

Deno.test("the rebased Chain generation keeps, wire for wire, everything the exporter calls and is called with", async () => {
  const pr = await compiled("chain.capnp");
  const rebased = await compiled("chain5/chain.capnp");
  for (
    const [name, ordinal] of [
      ["getHeight", 1],
      ["isInitialBlockDownload", 33],
      ["handleNotifications", 39],
      // The scrape-time getters (src/ipc/branch.ts).
      ["estimateSmartFee", 24],
      ["mempoolMinFee", 26],
      ["relayMinFee", 27],
      ["relayIncrementalFee", 28],
      ["relayDustFee", 29],
      ["havePruned", 30],
      ["getPruneHeight", 31],
    ] as const
  ) {
    const a = pr.named("chain.capnp:Chain");
    const b = rebased.named("chain5/chain.capnp:Chain");
    assertEquals([a.id, ordinalOf(a, name)], [b.id, ordinalOf(b, name)], name);
    assertEquals(ordinalOf(a, name), ordinal, name);
    assertEquals(methodLayout(pr, a, name), methodLayout(rebased, b, name), name);
  }
  const a = pr.named("chain.capnp:ChainNotifications");
  const b = rebased.named("chain5/chain.capnp:ChainNotifications");
  assertEquals(a.id, b.id);
  assertEquals([...a.interface.methods].map((m) => m.name), [...b.interface.methods].map((m) => m.name));
  for (const m of a.interface.methods) {
    assertEquals(methodLayout(pr, a, m.name), methodLayout(rebased, b, m.name), `ChainNotifications.${m.name}`);
  }
  // ... while the generations do differ where upstream changed them: this compares two schemas.
  assertEquals([
    ordinalOf(pr.named("chain.capnp:Chain"), "handleRpc"),
    ordinalOf(rebased.named("chain5/chain.capnp:Chain"), "handleRpc"),
  ], [41, 42]);
});

const CHAIN_SCHEMA: Record<ChainGeneration, string> = {
  "pr-trace": "chain.capnp",
  chain5: "chain5/chain.capnp",
  "pr-ipc": "pr-ipc/chain.capnp",
};
const NODE_SCHEMA: Record<NodeGeneration, string> = { "pr-trace": "node.capnp", "pr-ipc": "pr-ipc/node.capnp" };

Deno.test("every Chain and Node call goes out at the ordinal its generation's schema gives that method, with pr/trace's layout", async () => {
  const prChain = await compiled("chain.capnp");
  const prNode = await compiled("node.capnp");
  const cases = [
    ...(["pr-trace", "chain5", "pr-ipc"] as const).map((g) => ({
      what: `Chain ${g}`,
      schema: CHAIN_SCHEMA[g],
      iface: "Chain",
      calls: chainCallsOf(g) as Record<string, { interfaceId: bigint; methodId: number } | undefined>,
      reference: prChain,
      referenceIface: prChain.named("chain.capnp:Chain"),
    })),
    ...(["pr-trace", "pr-ipc"] as const).map((g) => ({
      what: `Node ${g}`,
      schema: NODE_SCHEMA[g],
      iface: "Node",
      calls: nodeCallsOf(g) as Record<string, { interfaceId: bigint; methodId: number } | undefined>,
      reference: prNode,
      referenceIface: prNode.named("node.capnp:Node"),
    })),
  ];
  for (const c of cases) {
    const schema = await compiled(c.schema);
    const iface = schema.named(`${c.schema}:${c.iface}`);
    for (const [name, call] of Object.entries(c.calls)) {
      assert(call, `${c.what} ${name}`);
      assertEquals(call.interfaceId, iface.id, `${c.what} ${name}: interface ID`);
      assertEquals(call.methodId, ordinalOf(iface, name), `${c.what} ${name}: ordinal`);
      const ours = methodLayout(schema, iface, name);
      const ref = methodLayout(c.reference, c.referenceIface, name);
      assertEquals(ours.params, ref.params, `${c.what} ${name}: params`);
      // estimateSmartFee's FeeCalculation differs per generation (never read: the call asks for none).
      if (name !== "estimateSmartFee") assertEquals(ours.results, ref.results, `${c.what} ${name}: results`);
    }
  }
  // What pr/ipc of 2024 lacks is absent from its tables, not called at another method's ordinal.
  assertEquals(nodeCallsOf("pr-ipc").getNetLocalAddresses, undefined);
  assertEquals(chainCallsOf("pr-ipc").getPruneHeight, undefined);
  const prIpcNode = (await compiled("pr-ipc/node.capnp")).named("pr-ipc/node.capnp:Node");
  assert(![...prIpcNode.interface.methods].some((m) => m.name === "getNetLocalAddresses"));
  const prIpcChain = (await compiled("pr-ipc/chain.capnp")).named("pr-ipc/chain.capnp:Chain");
  assert(![...prIpcChain.interface.methods].some((m) => m.name === "getPruneHeight"));
});

Deno.test("pr/ipc of 2024's ChainNotifications: same interface and ordinals, the role a UInt32 in the data section", async () => {
  const pr = await compiled("chain.capnp");
  const ipc = await compiled("pr-ipc/chain.capnp");
  const a = pr.named("chain.capnp:ChainNotifications");
  const b = ipc.named("pr-ipc/chain.capnp:ChainNotifications");
  assertEquals(a.id, b.id);
  assertEquals([...a.interface.methods].map((m) => m.name), [...b.interface.methods].map((m) => m.name));
  for (const m of a.interface.methods) {
    const same = methodLayout(pr, a, m.name);
    const other = methodLayout(ipc, b, m.name);
    if (m.name === "blockConnected" || m.name === "chainStateFlushed") {
      // (context, role, block|locator): pointers 0, 1, 2 on pr/trace; context 0, data 0, pointer 1 here.
      assertEquals(other.params, {
        dataWords: 1,
        pointers: 2,
        fields: [
          (same.params as { fields: unknown[] }).fields[0],
          { name: "role", dataBit: 0, type: typeName(Type_Which.UINT32), default: "0" },
          { ...(same.params as { fields: { pointer: number }[] }).fields[2], pointer: 1 },
        ],
      }, m.name);
    } else {
      assertEquals(other, same, m.name);
    }
  }
});
