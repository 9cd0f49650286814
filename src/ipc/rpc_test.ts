/**
 * RpcConnection over a fake transport: the messages it writes and how it answers the peer's, read
 * with capnp-es's rpc.capnp, with no socket and no peer (the interop suite covers those).
 */
import * as $ from "capnp-es";
import { Message as RpcMessage, Message_Which as Which } from "capnp-es/capnp/rpc";
import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { CallTimeoutError, DisconnectedError } from "./errors.ts";
import { RemoteCap, RpcConnection } from "./rpc.ts";

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
