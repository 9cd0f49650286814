/**
 * Hostile input from the socket: every frame a real node sent (tests/fixtures), mutated thousands of
 * times, fed to our RPC layer with the real collectors exported where the recorded calls land. Each
 * case must end handled or in a clean protocol error; never an exception out of receive(), a hang,
 * or a buffer that grows without bound.
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which } from "capnp-es/capnp/rpc";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { type CapTable, RemoteCap, RpcConnection } from "../src/ipc/rpc.ts";
import { ProtocolError } from "../src/ipc/errors.ts";
import { setCapAt } from "../src/ipc/capnp.ts";
import { FrameDecoder } from "../src/ipc/framing.ts";
import { WireMessage } from "../src/ipc/wire.ts";
import { Chain$Client, ChainNotifications$Client } from "../gen/chain.ts";
import { ChainCollector } from "../src/collectors/chain.ts";
import { timing } from "../src/cli/defaults.ts";
import { CallbackCost } from "../src/collectors/callback_cost.ts";
import { ChainEvents } from "../src/collectors/events.ts";
import { UtxoCacheCollector } from "../src/collectors/utxo_cache.ts";
import { memoryLogger } from "../src/log.ts";
import {
  deepChain,
  farPointerTree,
  hugeTextAbort,
  OBSOLETE_SAVE,
  pointerTree,
  sharedBlob,
  sharedBlobList,
} from "./support/hostile.ts";

const dir = new URL("./fixtures/pr-trace-regtest/frames/", import.meta.url);
const seeds = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith("-from-node.bin")).sort()
  .map((n) => Deno.readFileSync(new URL(n, dir)));

function connection() {
  const written: Uint8Array[] = [];
  const errors: Error[] = [];
  const conn = new RpcConnection({
    write: (p) => {
      written.push(p);
      return Promise.resolve(p.length);
    },
    close: () => {},
  }, {
    limits: { maxMessageBytes: 1 << 20, maxSegments: 64 },
    onProtocolError: (e) => errors.push(e),
    onWarning: () => {},
  });
  // Export the collectors as ids 0 and 1, where the recorded node calls are addressed.
  const log = memoryLogger();
  const chain = new ChainCollector({ log, timing: timing(), callbacks: new CallbackCost(), events: new ChainEvents() });
  const utxo = new UtxoCacheCollector({
    log,
    timing: timing(),
    callbacks: new CallbackCost(),
    events: new ChainEvents(),
  });
  const fake = new RemoteCap(conn, 99);
  for (const server of [chain, utxo]) {
    void conn.call(fake, Chain$Client.methods[39], (p, caps: CapTable) => setCapAt(p, 1, caps.add(server)), () => 0)
      .catch(() => {});
  }
  return { conn, written, errors, chain, utxo };
}

/** The node's calls and resolves: the frames that do not answer the capture client's own questions. */
function nodeInitiated(): Uint8Array[] {
  return seeds.filter((f) => {
    const root = new $.Message(f, false).getRoot(RpcMessage);
    return root.which() === Message_Which.CALL || root.which() === Message_Which.RESOLVE;
  });
}

Deno.test("recorded node calls replay cleanly: callbacks counted, every call answered", async () => {
  const { conn, written, errors, chain, utxo } = connection();
  const before = written.length;
  const frames = nodeInitiated();
  for (const f of frames) conn.receive(f);
  assertEquals(errors, []);
  assertEquals(chain.blocksConnected, 4);
  assertEquals(chain.blockHeight, 108);
  assertEquals(utxo.counts[1] + utxo.counts[2], 40);
  await conn.flushed();
  const calls = frames.filter((f) => new $.Message(f, false).getRoot(RpcMessage).which() === Message_Which.CALL);
  let returns = 0;
  const decoder = new FrameDecoder();
  for (const w of written.slice(before)) {
    decoder.push(w, (f) => {
      if (new $.Message(f, false).getRoot(RpcMessage).which() === Message_Which.RETURN) returns++;
    });
  }
  assertEquals(returns, calls.length, "one Return per call");
});

Deno.test("thousands of mutated real frames: no throw, no hang, bounded buffering", () => {
  let seed = 0x5eed;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const t0 = performance.now();
  let cases = 0, protocolErrors = 0;
  let ctx = connection();
  for (let round = 0; round < 25; round++) {
    for (const original of seeds) {
      const f = original.slice();
      switch (rand(5)) {
        case 0: // flip a few bits anywhere
          for (let i = rand(4) + 1; i > 0; i--) f[rand(f.length)] ^= 1 << rand(8);
          break;
        case 1: // overwrite a word with random bytes (often a pointer)
          for (let i = 8 * rand(f.length >> 3); i < Math.min(f.length, 8); i++) f[i] = rand(256);
          break;
        case 2: { // random 32-bit value somewhere (lengths, offsets, counts)
          const at = 4 * rand(f.length >> 2);
          new DataView(f.buffer).setUint32(at, rand(2 ** 31) * (rand(2) + 1), true);
          break;
        }
        case 3: // corrupt the segment table
          new DataView(f.buffer).setUint32(4 * rand(2), rand(1 << 20), true);
          break;
        default: // truncate
          ctx.conn.receive(f.subarray(0, rand(f.length)));
          cases++;
          ctx = connection(); // a truncated frame leaves the stream mid-message by design
          continue;
      }
      try {
        ctx.conn.receive(f);
      } catch (e) {
        throw new Error(`receive() threw on case ${cases}: ${e}`);
      }
      cases++;
      if (ctx.errors.length > 0) {
        assert(ctx.errors.every((e) => e instanceof ProtocolError));
        protocolErrors++;
        ctx = connection();
      }
    }
  }
  const ms = performance.now() - t0;
  assert(cases >= 3000, `ran ${cases} cases`);
  assert(protocolErrors > 0, "mutations produced protocol errors");
  console.log(`fuzz: ${cases} cases, ${protocolErrors} protocol errors, ${ms.toFixed(0)} ms`);
});

function callFrame(target: number, interfaceId: bigint, methodId: number, questionId = 7): Uint8Array {
  const msg = new $.Message();
  const call = msg.initRoot(RpcMessage)._initCall();
  call.questionId = questionId;
  call.target.importedCap = target;
  call.interfaceId = interfaceId;
  call.methodId = methodId;
  call._initParams();
  return new Uint8Array(msg.toArrayBuffer());
}

async function returns(written: Uint8Array[], from: number) {
  const out: { answerId: number; exception?: string; type?: number }[] = [];
  const decoder = new FrameDecoder();
  for (const w of written.slice(from)) {
    decoder.push(w, (f) => {
      const root = new $.Message(f, false).getRoot(RpcMessage);
      if (root.which() !== Message_Which.RETURN) return;
      const r = root.return;
      out.push(
        r._isException
          ? { answerId: r.answerId, exception: r.exception.reason, type: r.exception.type }
          : { answerId: r.answerId },
      );
    });
  }
  return await Promise.resolve(out);
}

Deno.test("wrong interface ids, unknown methods and unknown targets get the protocol's answer", async () => {
  const { conn, written, errors, chain } = connection();
  const from = written.length;
  conn.receive(callFrame(0, 0x1234n, 3, 1)); // our ChainNotifications is export 0
  conn.receive(callFrame(0, ChainNotifications$Client.interfaceId, 99, 2));
  conn.receive(callFrame(42, ChainNotifications$Client.interfaceId, 3, 3));
  await conn.flushed();
  assertEquals(errors, []);
  const r = await returns(written, from);
  assertEquals(r.map((x) => x.answerId), [1, 2, 3]);
  assertEquals(r[0].type, 3, "unimplemented");
  assert(r[0].exception!.includes("does not implement interface 0x1234"));
  // An unknown method on a callback object is answered as done (an exception would kill the node).
  assertEquals(r[1].exception, undefined);
  assertEquals(chain.blocksConnected, 0);
  assert(r[2].exception!.includes("unknown capability"));
});

// ---- Structure-aware cases: shapes that cost a careless reader more than their size ----

/** This process's CPU seconds (user + system), from /proc: bounds work without timing the wall. */
function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Hostile {
  name: string;
  frame: Uint8Array;
  /** What the limits say about it, when the message is of a kind we read (else answered unread). */
  refused?: RegExp;
}

const KIB = 1024, MIB = 1024 * 1024;
const CALL = Message_Which.CALL, ABORT = Message_Which.ABORT;
const UNFOLDS = /message refused: message of \d+ words unfolds to more than \d+ words \(traversal limit/;
const NESTS = /message refused: message nests deeper than 64 pointers \(nesting limit\)/;
const HOSTILE: Hostile[] = [];
// Each shape twice: in a message we do not implement (answered Unimplemented without reading it),
// and in one we read (a call, or an abort), where the read limits refuse it before capnp-es reads.
for (const [which, kind] of [[OBSOLETE_SAVE, "obsoleteSave"], [CALL, "call"]] as const) {
  const r = (re: RegExp) => which === CALL ? re : undefined;
  HOSTILE.push(
    { name: `${kind}: doubling pointer tree, depth 20`, frame: pointerTree(which, 20), refused: r(UNFOLDS) },
    { name: `${kind}: doubling far-pointer tree, 21 segments`, frame: farPointerTree(which, 20), refused: r(UNFOLDS) },
    { name: `${kind}: 600 pointers to one ~1 MiB blob`, frame: sharedBlob(which, 600, MIB - 64), refused: r(UNFOLDS) },
    {
      name: `${kind}: a list of 4096 pointers to one ~1 MiB blob`,
      frame: sharedBlobList(which, 4096, MIB - 64),
      refused: r(UNFOLDS),
    },
    { name: `${kind}: nesting 10,000 deep`, frame: deepChain(which, 10_000), refused: r(NESTS) },
  );
}
HOSTILE.push(
  { name: "an unknown message type: doubling pointer tree, depth 20", frame: pointerTree(42, 20) },
  { name: "abort: doubling pointer tree, depth 20", frame: pointerTree(ABORT, 20), refused: UNFOLDS },
  { name: "abort: a ~1 MiB reason (read once: linear)", frame: hugeTextAbort(MIB - 4 * KIB) },
);

for (const c of HOSTILE) {
  Deno.test(`hostile frame, bounded work: ${c.name}`, async () => {
    const { conn, written, errors } = connection();
    await conn.flushed();
    const before = written.reduce((s, w) => s + w.length, 0);
    const words0 = conn.stats.wordsRead;
    const cpu0 = cpuSeconds();
    conn.receive(c.frame);
    const cpu = cpuSeconds() - cpu0;
    await conn.flushed();
    const sent = written.reduce((s, w) => s + w.length, 0) - before;
    assert(errors.every((e) => e instanceof ProtocolError), String(errors));
    if (c.refused) {
      assertEquals(errors.length, 1, "refused as a protocol error");
      assertMatch(errors[0].message, c.refused);
    } else {
      assertEquals(errors, []);
    }
    // The work, as the reader counts it: at most the traversal limit (4 x the message's size).
    const words = conn.stats.wordsRead - words0;
    assert(words <= 4 * (c.frame.length / 8), `${words} words read for a message of ${c.frame.length / 8}`);
    // And as the OS counts it: linear is a few ms for 1 MiB; the careless reader took 5 s to minutes.
    assert(cpu < 1.5, `${cpu.toFixed(2)} s of CPU for ${c.frame.length} bytes`);
    // What we send back is bounded by what we received: no peer data is copied back to it.
    assert(sent <= 2 * c.frame.length + 4 * KIB, `${sent} bytes sent back for ${c.frame.length} received`);
  });
}

Deno.test("every recorded node message unfolds to no more than its own size (the limits' 4x is slack)", () => {
  const { conn, errors } = connection();
  let words = 0;
  for (const f of nodeInitiated()) {
    conn.receive(f);
    words += new WireMessage(f).words;
  }
  assertEquals(errors, []);
  assert(conn.stats.wordsRead > 0 && conn.stats.wordsRead <= words, `${conn.stats.wordsRead} of ${words} words`);
});
