/**
 * RpcConnection over a fake transport: the messages it writes and how it answers the peer's, read
 * with capnp-es's rpc.capnp, with no socket and no peer (the interop suite covers those).
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which as Which } from "capnp-es/capnp/rpc";
import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { CallTimeoutError, DisconnectedError } from "./errors.ts";
import { encodeContextCall, RemoteCap, RpcConnection } from "./rpc.ts";
import { chainCalls, nodeCalls } from "./branch_gen.ts";
import { setCapAt } from "./capnp.ts";

/** Collects what the connection writes; each write is one or more whole frames. */
class FakeTransport {
  readonly written: Uint8Array[] = [];
  closed = false;
  write(p: Uint8Array): Promise<number> {
    this.written.push(p.slice());
    return Promise.resolve(p.byteLength);
  }
  close(): void {
    this.closed = true;
  }
  /** Every message written so far, decoded (frames split by their segment tables). */
  messages(): RpcMessage[] {
    const out: RpcMessage[] = [];
    for (const chunk of this.written) {
      let at = 0;
      while (at < chunk.byteLength) {
        const v = new DataView(chunk.buffer, chunk.byteOffset + at);
        const segments = v.getUint32(0, true) + 1;
        let words = 0;
        for (let i = 0; i < segments; i++) words += v.getUint32(4 + 4 * i, true);
        const table = 4 + 4 * segments + (segments % 2 === 0 ? 4 : 0);
        const end = at + table + 8 * words;
        out.push(new $.Message(chunk.slice(at, end), false).getRoot(RpcMessage));
        at = end;
      }
    }
    return out;
  }
}

/** Lets the writer's promise chain run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

function frame(fill: (m: RpcMessage) => void): Uint8Array {
  const msg = new $.Message();
  fill(msg.initRoot(RpcMessage));
  return new Uint8Array(msg.toArrayBuffer());
}

/** The peer's Return for question `qid` whose results carry one senderHosted capability. */
function returnCap(qid: number, exportId: number): Uint8Array {
  return frame((m) => {
    const ret = m._initReturn();
    ret.answerId = qid;
    const results = ret._initResults();
    $.utils.setInterfacePointer(0, $.utils.getPointer(0, results));
    results._initCapTable(1).get(0).senderHosted = exportId;
  });
}

Deno.test("RpcConnection: bootstrap writes one Bootstrap, a Return with a cap resolves it, and a Finish follows", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const pending = conn.bootstrap();
  await settle();
  const [boot] = t.messages();
  assertEquals(boot.which(), Which.BOOTSTRAP);
  const qid = boot.bootstrap.questionId;
  conn.receive(returnCap(qid, 7));
  const cap = await pending;
  assert(cap instanceof RemoteCap);
  assertEquals(cap.importId, 7);
  await settle();
  const finish = t.messages().find((m) => m.which() === Which.FINISH);
  assert(finish, "a Finish for the answered question");
  assertEquals(finish.finish.questionId, qid);
  assertEquals(conn.stats.questions, 0);
  // Dropping the capability tells the peer: one Release of import 7.
  cap.release();
  await settle();
  const release = t.messages().find((m) => m.which() === Which.RELEASE);
  assert(release, "a Release for the dropped capability");
  assertEquals(release.release.id, 7);
  assertEquals(release.release.referenceCount, 1);
  conn.close();
});

Deno.test("RpcConnection: a pending call is rejected when the connection closes, and the transport is closed", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const pending = conn.bootstrap();
  conn.close(new DisconnectedError("socket closed by the node"));
  await assertRejects(() => pending, DisconnectedError, "socket closed by the node");
  await settle();
  assert(t.closed, "transport closed after the close");
  // Nothing more can be asked.
  await assertRejects(() => conn.bootstrap(), DisconnectedError);
});

Deno.test("RpcConnection: a call that times out is rejected and cancelled with a Finish; its late Return is dropped", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const pending = conn.bootstrap({ timeoutMs: 1 });
  await assertRejects(() => pending, CallTimeoutError);
  await settle();
  const msgs = t.messages();
  const qid = msgs[0].bootstrap.questionId;
  assert(msgs.some((m) => m.which() === Which.FINISH && m.finish.questionId === qid), "Finish sent on timeout");
  // The late answer arrives: its capability is released at once (we no longer want it).
  conn.receive(returnCap(qid, 9));
  await settle();
  assert(
    t.messages().some((m) => m.which() === Which.RELEASE && m.release.id === 9),
    "the late answer's capability is released",
  );
  assertEquals(conn.stats.questions, 0);
  assertEquals(conn.closed, undefined);
  conn.close();
});

Deno.test("RpcConnection: an Abort from the peer closes the connection with its reason", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const pending = conn.bootstrap();
  conn.receive(frame((m) => {
    m._initAbort().reason = "node shutting down";
  }));
  const e = await pending.then(() => undefined, (e: Error) => e);
  assert(e, "the pending call is rejected");
  assert(e.message.includes("node shutting down"), e.message);
  assert(conn.closed, "closed");
});

/** A transport whose peer reads nothing: writes stay pending until the transport is closed. */
function unreadTransport() {
  const pending: ((e: Error) => void)[] = [];
  let closedAt: number | undefined;
  return {
    transport: {
      write: (_p: Uint8Array) => new Promise<number>((_resolve, reject) => pending.push(reject)),
      close: () => {
        closedAt ??= performance.now();
        for (const r of pending.splice(0)) r(new Error("closed"));
      },
    },
    get closedAt() {
      return closedAt;
    },
  };
}

Deno.test("closing never waits on a peer that does not read: the socket closes within the flush grace", async () => {
  const t = unreadTransport();
  const conn = new RpcConnection(t.transport);
  const asked = conn.bootstrap().catch((e) => e); // written, never read
  conn.close(new DisconnectedError("handshake timed out"));
  assert(await asked instanceof DisconnectedError);
  for (let i = 0; i < 200 && t.closedAt === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  assert(t.closedAt !== undefined, "the transport was never closed (the old close waited for a flush forever)");
});

Deno.test("a peer that floods requests and never reads: the connection fails at the queue cap and closes at once", () => {
  const t = unreadTransport();
  const closes: Error[] = [];
  const conn = new RpcConnection(t.transport, {
    limits: { maxMessageBytes: 1 << 20, maxSegments: 8, maxQueuedBytes: 64 * 1024 },
    onClose: (e) => closes.push(e),
  });
  void conn.bootstrap().catch(() => {});
  // Bootstrap requests from the peer, each answered with an exception Return, none of them read.
  const frame = Uint8Array.from(
    "00000000040000000000000001000100080000000000000000000000010000000700000000000000".match(/../g)!,
    (h) => parseInt(h, 16),
  );
  let sent = 0;
  while (!conn.closed && sent < 100_000) {
    conn.receive(frame);
    sent++;
  }
  assertEquals(closes.length, 1);
  assert(/the node is not reading what we send/.test(closes[0].message), closes[0].message);
  assert(sent < 2000, `${sent} requests before the cap`);
  assert(t.closedAt !== undefined, "closed at once, not after a flush that never comes");
});

Deno.test("a loop of calls writes once per call: each Finish goes out in the write of the next call, in order", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const n = 5;
  for (let i = 0; i < n; i++) {
    const pending = conn.bootstrap();
    await Promise.resolve(); // the question is written in this turn
    const q = t.messages().filter((m) => m.which() === Which.BOOTSTRAP).at(-1)!.bootstrap.questionId;
    conn.receive(returnCap(q, 100 + i));
    (await pending).release(); // the next message: its Release carries the Finish along
  }
  await settle();
  const kinds = t.messages().map((m) => m.which());
  // Bootstrap, then per round: Finish, Release (one write), Bootstrap (the next round's).
  assertEquals(kinds.filter((k) => k === Which.FINISH).length, n);
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] === Which.FINISH) assertEquals(kinds[i + 1], Which.RELEASE, "each Finish travels before its Release");
  }
  // Without holding the Finish: 3 writes per round (Bootstrap, Finish, Release); with it, 2.
  assertEquals(t.written.length, 2 * n);
  conn.close();
});

Deno.test("a Finish with nothing after it goes out alone by the end of the turn, and before the socket closes", async () => {
  const t = new FakeTransport();
  const conn = new RpcConnection(t);
  const pending = conn.bootstrap();
  await Promise.resolve();
  const q = t.messages()[0].bootstrap.questionId;
  conn.receive(returnCap(q, 9));
  await pending;
  assertEquals(t.messages().filter((m) => m.which() === Which.FINISH).length, 0, "held for the next message");
  await settle();
  assertEquals(t.messages().filter((m) => m.which() === Which.FINISH).length, 1, "sent by the end of the turn");
  const p2 = conn.bootstrap();
  await Promise.resolve();
  conn.receive(returnCap(t.messages().at(-1)!.bootstrap.questionId, 10));
  await p2;
  conn.close(); // the held Finish is written before the transport closes
  await settle();
  assertEquals(t.messages().filter((m) => m.which() === Which.FINISH).length, 2);
  assert(t.closed);
});

Deno.test("RpcConnection: callOnThread writes, for each method, the bytes call() builds for a Context-only call", async () => {
  type ContextOnly = $.Method<$.Struct & { _initContext(): $.Struct }, $.Struct>;
  const methods: ContextOnly[] = [
    ...Object.values(chainCalls).map((c) => c.getHeight),
    ...Object.values(nodeCalls).flatMap((c) => [c.getTotalBytesRecv, c.getMempoolSize]),
  ];
  const firstWrite = async (send: (conn: RpcConnection, target: RemoteCap, thread: RemoteCap) => Promise<unknown>) => {
    const t = new FakeTransport();
    const conn = new RpcConnection(t);
    send(conn, new RemoteCap(conn, 0x1234567), new RemoteCap(conn, 0xabcdef01)).catch(() => {});
    await settle();
    conn.close();
    return t.written[0];
  };
  for (const m of methods) {
    const general = await firstWrite((conn, target, thread) =>
      conn.call(target, m, (p, caps) => setCapAt(p._initContext(), 0, caps.add(thread)), () => undefined)
    );
    const patched = await firstWrite((conn, target, thread) => conn.callOnThread(target, m, thread, () => undefined));
    assertEquals(patched, general, `${m.methodName}: the same bytes`);
    assertEquals(patched, encodeContextCall(m, 0, 0x1234567, 0xabcdef01));
    // And the fields read back as set: a later question, other capabilities.
    const t = new FakeTransport();
    const conn = new RpcConnection(t);
    conn.callOnThread(new RemoteCap(conn, 42), m, new RemoteCap(conn, 7), () => undefined).catch(() => {});
    conn.callOnThread(new RemoteCap(conn, 0xffffffff), m, new RemoteCap(conn, 3), () => undefined).catch(() => {});
    await settle();
    const calls = t.messages().filter((x) => x.which() === Which.CALL).map((x) => x.call);
    assertEquals(calls.map((c) => [c.questionId, c.target.importedCap, c.params.capTable.get(0).receiverHosted]), [
      [0, 42, 7],
      [1, 0xffffffff, 3],
    ]);
    assertEquals(calls[1].methodId, m.methodId);
    assertEquals(calls[1].interfaceId, m.interfaceId);
    conn.close();
  }
});
