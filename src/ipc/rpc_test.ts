import { assert, assertEquals } from "../../tests/support/assert.ts";
import { RpcConnection } from "./rpc.ts";
import { DisconnectedError } from "./errors.ts";

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
  const t0 = performance.now();
  for (let i = 0; i < 100 && t.closedAt === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  assert(t.closedAt !== undefined, "the transport was never closed (the old close waited for a flush forever)");
  assert(t.closedAt - t0 < 3000, `closed after ${(t.closedAt - t0).toFixed(0)} ms`);
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
  const frame = new Uint8Array([
    0,
    0,
    0,
    0,
    4,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    1,
    0,
    8,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    7,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
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
