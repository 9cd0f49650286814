import { assertEquals } from "../../tests/support/assert.ts";
import { timing } from "../cli/defaults.ts";
import { Answer, Reporter, rpcFailures, RpcRound, satoshis, satPerVbyte } from "./rpc_round.ts";
import type { Logger } from "../log.ts";

Deno.test("satPerVbyte: BTC/kvB as Core prints it, exactly through integer sat/kvB", () => {
  assertEquals(satPerVbyte(0.000001), 0.1);
  assertEquals(satPerVbyte(0.00001), 1);
  assertEquals(satPerVbyte(0.00012345), 12.345);
  assertEquals(satoshis(0.01881), 1881000);
  assertEquals(satoshis(20999999.9769), 2099999997690000);
});

Deno.test("RpcRound.add: identical requests share one slot, different params do not", () => {
  const r = new RpcRound(timing());
  const a = r.add("getmempoolinfo");
  const b = r.add("getmempoolinfo", undefined, { node: true });
  const c = r.add("estimatesmartfee", [2]);
  const d = r.add("estimatesmartfee", [6]);
  assertEquals([a === b, c === d, r.size], [true, false, 3]);
});

Deno.test("Answer: a missing or retyped field is reported once and read as absent; a skipped request says nothing", () => {
  const lines: string[] = [];
  const log = { error: (m: string) => lines.push(m) } as unknown as Logger;
  const rep = new Reporter(log);
  const a = new Answer({ result: { size: "3", ok: true } }, "getmempoolinfo", rep);
  assertEquals([a.num("size"), a.num("size"), a.bool("ok"), a.num("bytes")], [undefined, undefined, true, undefined]);
  assertEquals(lines, [
    "JSON-RPC over IPC: getmempoolinfo.size is not a number in the node's answer; the metric it feeds is left out",
    "JSON-RPC over IPC: getmempoolinfo.bytes is missing in the node's answer; the metric it feeds is left out",
  ]);
  const skipped = new Answer({ skipped: true }, "getpeerinfo", rep);
  assertEquals([skipped.array(), skipped.result(), skipped.problem("x")], [undefined, undefined, undefined]);
  assertEquals(lines.length, 2);
});

Deno.test("Answer: a failed method is one line per method and error, naming the metrics declared for it", () => {
  const lines: string[] = [];
  const log = { error: (m: string) => lines.push(m) } as unknown as Logger;
  rpcFailures(log).feeds("getblockchaininfo", ["bitcoin_header_height", "bitcoin_ibd"]);
  rpcFailures(log).feeds("getblockchaininfo", ["bitcoin_difficulty", "bitcoin_ibd"]);
  const refused = { error: { code: -32601, message: "Method not found" } };
  // Two collectors (two Reporters) reading three fields each from the same refused answer.
  for (const rep of [new Reporter(log), new Reporter(log)]) {
    const a = new Answer(refused, "getblockchaininfo", rep);
    assertEquals([a.num("headers"), a.bool("initialblockdownload"), a.result()], [undefined, undefined, undefined]);
  }
  new Answer({ error: { code: -28, message: "Loading block index" } }, "getblockchaininfo", new Reporter(log)).num("x");
  new Answer(refused, "estimatesmartfee(6)", new Reporter(log)).result();
  assertEquals(lines, [
    "JSON-RPC over IPC: getblockchaininfo failed: Method not found (code -32601); left out: bitcoin_header_height, bitcoin_ibd, bitcoin_difficulty",
    "JSON-RPC over IPC: getblockchaininfo failed: Loading block index (code -28); left out: bitcoin_header_height, bitcoin_ibd, bitcoin_difficulty",
    "JSON-RPC over IPC: estimatesmartfee(6) failed: Method not found (code -32601); the metrics it feeds are left out",
  ]);
});
