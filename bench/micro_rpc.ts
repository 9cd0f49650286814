/**
 * `deno run -A bench/micro_rpc.ts`: what the per-callback steps of src/ipc/rpc.ts cost in isolation
 * (CPU µs per operation, and bytes of garbage per operation from V8's heap statistics), to size the
 * fixes BENCHMARKS.md proposes there: decoding the caller's Finish with capnp-es (the general path,
 * taken for every callback today) vs reading its two words in place (wire.ts), and allocating the
 * answer's Return per callback vs patching a buffer that is reused.
 */
import * as $ from "capnp-es";
import { Message as RpcMessage } from "capnp-es/capnp/rpc";
import { WireMessage } from "../src/ipc/wire.ts";

function finishFrame(qid: number): Uint8Array {
  const msg = new $.Message();
  const f = msg.initRoot(RpcMessage)._initFinish();
  f.questionId = qid;
  f.releaseResultCaps = true;
  return new Uint8Array(msg.toArrayBuffer());
}

function returnTemplate(): Uint8Array {
  const msg = new $.Message();
  const ret = msg.initRoot(RpcMessage)._initReturn();
  ret.answerId = 0;
  ret.releaseParamCaps = true;
  ret._initResults();
  return new Uint8Array(msg.toArrayBuffer());
}

interface Result {
  name: string;
  us: number;
  bytes: number;
}

// deno-lint-ignore no-explicit-any
const v8: any = await import("node:v8");
function measure(name: string, n: number, fn: (i: number) => unknown): Result {
  for (let i = 0; i < 20_000; i++) fn(i); // warm up (JIT)
  const h0 = v8.getHeapStatistics();
  const t0 = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i++) sink += fn(i) ? 1 : 0;
  const t1 = performance.now();
  const h1 = v8.getHeapStatistics();
  // Allocated bytes: V8 counts them (across GCs) in total_allocated_bytes where available.
  const alloc = (h1.total_allocated_bytes ?? NaN) - (h0.total_allocated_bytes ?? NaN);
  if (sink < 0) console.log(sink);
  return { name, us: (t1 - t0) * 1000 / n, bytes: alloc / n };
}

const N = 500_000;
const frames = Array.from({ length: 64 }, (_, i) => finishFrame(i));
const tpl = returnTemplate();
const offset = 8 + 8 + 4; // not used for correctness here: patching cost is what is measured
const reused = tpl.slice();
const reusedView = new DataView(reused.buffer);
const results = [
  measure("Finish via capnp-es (new Message, getRoot, which, questionId)", N, (i) => {
    const root = new $.Message(frames[i & 63], false).getRoot(RpcMessage);
    return root.which() === 4 && root.finish.questionId >= 0;
  }),
  measure("Finish read in place (WireMessage: root, structAt, u32)", N, (i) => {
    const w = new WireMessage(frames[i & 63]);
    const root = w.root()!;
    return w.u16(root, 0) === 4 && w.u32(w.structAt(root, 0)!, 0) >= 0;
  }),
  measure("Return: a fresh copy of the template + DataView per answer (forAnswer today)", N, (i) => {
    const out = tpl.slice();
    new DataView(out.buffer).setUint32(offset, i, true);
    return out;
  }),
  measure("Return: patch one reused buffer in place", N, (i) => {
    reusedView.setUint32(offset, i, true);
    return reused;
  }),
  measure(
    "WireMessage of a callback frame (views array + DataView per segment)",
    N,
    (i) => new WireMessage(frames[i & 63]),
  ),
];
console.log("| step | CPU µs/op | bytes allocated/op |\n|---|---|---|");
for (const r of results) {
  console.log(`| ${r.name} | ${r.us.toFixed(3)} | ${Number.isNaN(r.bytes) ? "-" : r.bytes.toFixed(0)} |`);
}
