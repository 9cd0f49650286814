/**
 * Golden decode cases from real traffic: every frame a pr/trace bitcoin-node sent on regtest
 * (tests/fixtures/pr-trace-regtest), decoded with our layer and compared with what the node did.
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which } from "capnp-es/capnp/rpc";
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
import { Init$Client } from "../gen/v31/init.ts";
import {
  Mining$Client,
  Mining_GetTip$Results,
  Mining_WaitTipChanged$Params,
  Mining_WaitTipChanged$Results,
} from "../gen/mining.ts";
import { Rpc$Client, Rpc_ExecuteRpc$Results } from "../gen/rpc.ts";

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

Deno.test("stock master: the real node's Init, Mining and Rpc frames decode with our v31+ schemas", async () => {
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
  assertEquals(initCalls, [0, 4, 3]); // construct, makeRpc, makeMining: the v31 Init's ordinals
  const mining = answered.filter((a) => a.interfaceId === Mining$Client.interfaceId);
  assertEquals(mining.map((m) => m.methodId), [2, 3]);
  const tip = $.utils.getStruct(0, Mining_GetTip$Results, mining[0].ret.results);
  assertEquals([tip.result.height, tip.hasResult], [observed["mining.getTip"].height, true]);
  assertEquals(tip.result.hash.toUint8Array().length, 32);
  const waited = $.utils.getStruct(0, Mining_WaitTipChanged$Results, mining[1].ret.results);
  assertEquals(waited.result.height, observed["mining.waitTipChanged"].height);
  // The capture client's 2 s timeout, read with the default-bearing v31 schema: exactly 2000 ms
  // (read without the default, the same bits would be a denormal near zero).
  const timeout = $.utils.getStruct(0, Mining_WaitTipChanged$Params, mining[1].call.params).timeout;
  assertEquals(timeout, 2000);
  const rpc = answered.filter((a) => a.interfaceId === Rpc$Client.interfaceId);
  assert(rpc.length > 10);
  const text = $.utils.getStruct(0, Rpc_ExecuteRpc$Results, rpc[0].ret.results).result;
  assertEquals(JSON.parse(text), observed.getblockchaininfo);
});
