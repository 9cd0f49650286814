/**
 * Interop: our TypeScript RPC + session against the reference C++ Cap'n Proto implementation
 * (tests/peer), through a real Unix socket.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./support/assert.ts";
import { Session } from "../src/ipc/session.ts";
import { waitFor } from "./support/wait.ts";
import * as branch from "../src/ipc/branch.ts";
import { Chain$Client } from "../gen/chain.ts";
import { Handler$Client } from "../gen/handler.ts";
import { Init$Client } from "../gen/init.ts";
import { Node$Client } from "../gen/node.ts";
import { ChainNotifications$Client } from "../gen/chain.ts";
import { type CapTable, type RemoteCap, RpcConnection } from "../src/ipc/rpc.ts";
import { CallTimeoutError, DisconnectedError, RemoteError } from "../src/ipc/errors.ts";
import { capIndexAt, setCapAt } from "../src/ipc/capnp.ts";
import { type Context, ThreadMap$Client } from "../gen/mp/proxy.ts";
import { ChainCollector } from "../src/collectors/chain.ts";
import { timing } from "../src/cli/defaults.ts";
import { CallbackCost } from "../src/collectors/callback_cost.ts";
import { ChainEvents } from "../src/collectors/events.ts";
import { UtxoCacheCollector } from "../src/collectors/utxo_cache.ts";
import { memoryLogger } from "../src/log.ts";
import { type PeerOptions, TestPeer } from "./support/peer.ts";

const HASH = "11".repeat(32);

async function withPeer(
  fn: (peer: TestPeer) => Promise<void>,
  options: PeerOptions = {},
): Promise<void> {
  const peer = await TestPeer.start(options);
  try {
    await fn(peer);
  } finally {
    const code = await peer.stop();
    if (!options.noCrash) assertEquals(code, 0, `peer exit code; notices: ${peer.notices.join(" | ")}`);
  }
}

Deno.test("handshake: construct with our ThreadMap, two Threads, Chain/Node/Tracing", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    const st = await peer.status();
    assertEquals(st.connected, "1");
    assertEquals(st.client_threadmap, "1");
    assertEquals(st.threads, "2");
    assert(s.tracing !== undefined, "tracing interface");
    await s.shutdown();
  });
});

/** Getter values no neighbouring method would give back (a call at a wrong ordinal shows as a wrong value). */
const GETTER_VALUES = [
  "set getHeaderTip 812345 1700000000",
  "set isInitialBlockDownload 1",
  "set getVerificationProgress 0.5",
  "set getMempoolSize 4294967296",
  "set getMempoolDynamicUsage 123456789",
  "set getMempoolMaxUsage 300000000",
  "set getNodeCount 11",
  "set getTotalBytesRecv 9007199254740993",
  "set getTotalBytesSent 77",
  "set getHeight 812340",
];

Deno.test("every Chain/Node read the exporter uses returns the peer's values", async () => {
  await withPeer(async (peer) => {
    for (const line of GETTER_VALUES) await peer.ok(line);
    const s = await Session.open(peer.socketPath);
    assertEquals(await branch.getHeaderTip(s), 812345);
    assertEquals(await branch.isInitialBlockDownload(s), true);
    assertEquals(await branch.getVerificationProgress(s), 0.5);
    assertEquals(await branch.getMempoolSize(s), 4294967296);
    assertEquals(await branch.getMempoolDynamicUsage(s), 123456789);
    assertEquals(await branch.getMempoolMaxUsage(s), 300000000);
    assertEquals(await branch.getNodeCount(s, branch.ConnectionDirection.Both), 11);
    assertEquals(await branch.getTotalBytesRecv(s), Number(9007199254740993n));
    assertEquals(await branch.getTotalBytesSent(s), 77);
    assertEquals(await branch.getHeight(s), 812340);
    assertEquals((await peer.status()).node_count_flags, "3");
    await peer.ok("set getHeaderTip none");
    assertEquals(await branch.getHeaderTip(s), -1);
    await peer.ok("set getHeight none");
    assertEquals(await branch.getHeight(s), undefined);
    await s.shutdown();
  });
});

Deno.test("a remote exception rejects the call with the node's reason", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("throw getMempoolSize");
    const e = await assertRejects(
      () => branch.getMempoolSize(s),
      RemoteError,
    );
    assertStringIncludes(e.message, "getMempoolSize failed");
    await peer.ok("throw none");
    // The session is still usable after a failed call.
    await branch.getMempoolSize(s);
    await s.shutdown();
  });
});

Deno.test("calls on one Thread never overlap: a stalled call delays, not fails, the next", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("stall getMempoolSize");
    const first = branch.getMempoolSize(s, { timeoutMs: 10_000 });
    const second = branch.getMempoolMaxUsage(s, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await peer.ok("stall none");
    await first;
    await second;
    // Without the queue the node refuses the overlap: this is what the queue prevents.
    await peer.ok("stall getMempoolSize");
    const thread = s.threads.read;
    const raw = (m: typeof Node$Client.methods[28]) =>
      s.conn.call(s.node!, m, (p, caps) => setCapAt(p._initContext(), 0, caps.add(thread)), (r) => r.result);
    const a = raw(Node$Client.methods[28]);
    const e = await assertRejects(() => raw(Node$Client.methods[28]), RemoteError);
    assertStringIncludes(e.message, "thread busy");
    await peer.ok("stall none");
    await a;
    await s.shutdown();
  });
});

Deno.test("a stuck call times out, and so do calls queued behind it; no pile-up", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("stall getMempoolSize");
    const t0 = performance.now();
    const calls = [0, 1, 2].map(() => branch.getMempoolSize(s, { timeoutMs: 200 }));
    for (const c of calls) await assertRejects(() => c, CallTimeoutError);
    assert(performance.now() - t0 < 2000, "timeouts honoured");
    assertEquals(s.conn.stats.questions, 1, "only the first call reached the node");
    await peer.ok("stall none");
    await s.shutdown();
  });
});

Deno.test("a call that timed out keeps its node Thread until the late answer: the next call waits for it, never 'thread busy'", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("stall getMempoolSize");
    await assertRejects(() => branch.getMempoolSize(s, { timeoutMs: 100 }), CallTimeoutError);
    // The node's thread is still running the stalled call: a call sent now would be refused.
    const next = branch.getMempoolMaxUsage(s, { timeoutMs: 10_000 });
    await waitFor("the stalled call to be the only one sent", async () => {
      return (await peer.status()).calls.includes("getMempoolMaxUsage") ? false : true;
    });
    await peer.ok("stall none");
    assertEquals(await next, 300000000);
    assertEquals(s.unansweredMs(), 0);
    await s.shutdown();
  });
});

Deno.test("the connection dropped mid-call rejects every pending call promptly", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("stall getMempoolSize");
    const pending = branch.getMempoolSize(s, { timeoutMs: 30_000 });
    const queued = branch.getMempoolDynamicUsage(s, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await peer.ok("drop");
    await assertRejects(() => pending, DisconnectedError);
    await assertRejects(() => queued, DisconnectedError);
    assert(performance.now() - t0 < 1000, "rejected promptly");
    await s.closed;
    await peer.ok("stall none");
  });
});

Deno.test("callbacks arrive in order with correct values, senderPromise contexts leak nothing", async () => {
  await withPeer(async (peer) => {
    const log = memoryLogger(true);
    const s = await Session.open(peer.socketPath);
    const chain = new ChainCollector({
      log,
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    const utxo = new UtxoCacheCollector({
      log,
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    await chain.attach(s);
    await utxo.attach(s);
    assertEquals((await peer.status()).notifications, "1");
    assertEquals((await peer.status()).utxo, "1");
    await peer.ok(`fire blockConnected 106 ${HASH} 0`);
    await peer.ok(`fire blockConnected 107 ${HASH} 1`);
    await peer.ok(`fire blockDisconnected 107 ${HASH}`);
    await peer.ok("fire updatedBlockTip");
    await peer.ok("fire txAdded 0200000001" + "00".repeat(36) + "00ffffffff0100000000000000000000000000");
    for (let r = 0; r <= 5; r++) await peer.ok(`fire txRemoved 02000000000000000000 ${r}`);
    await peer.ok(`fire chainStateFlushed 0 ${HASH}`);
    await peer.ok("fire utxoAdd 5000000000 106 0 1");
    await peer.ok("fire utxoSpend 2100000000000000 2147483647 4294967295 0");
    await peer.ok("fire utxoUncache 1 1 1 0");
    const rep = await peer.ok("repeat 500 fire utxoAdd 1 200 1 0");
    assertEquals(rep.n, "500");
    assertEquals(chain.blocksConnected, 2);
    assertEquals(chain.blockHeight, 107);
    assertEquals(chain.blocksDisconnected, 1);
    assertEquals(chain.tipUpdates, 1);
    assertEquals(chain.txAdded, 1);
    assertEquals(chain.txRemoved, 6);
    assertEquals(chain.txRemovedByReason, [1, 1, 1, 1, 1, 1, 0]);
    assertEquals(chain.flushes, 1);
    assertEquals(utxo.counts.slice(1), [501, 1, 1]);
    assertEquals(utxo.sums[1].value, 5000000500n);
    assertEquals(utxo.sums[2].value, 2100000000000000n);
    assert(log.lines.some((l) => l.includes("block connected height=107") && l.includes("role=historical")));
    assert(log.lines.some((l) => l.includes("height=2147483647") && l.includes(":4294967295")), "UInt32 edges");
    // Context.thread promises from callbacks are released with each answer: no import growth.
    assert(s.conn.stats.imports <= 8, `imports ${JSON.stringify(s.conn.stats)}`);
    // With our ThreadMap the node made one callback thread on it (pipelined: receiverAnswer, then
    // receiverHosted) and reused it; no broken promises, no Resolve traffic.
    assertEquals(s.threadMap.threads.length, 1);
    assertEquals(s.conn.stats.resolves, 0);
    await s.shutdown();
    const st = await peer.waitStatus((x) => x.connected === "0");
    assertEquals([st.notifications, st.utxo], ["0", "0"]);
    assertEquals(st.handler_disconnects, "2");
  });
});

Deno.test("Handler.disconnect ends the subscription and the peer releases our callback object", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    const chain = new ChainCollector({
      log: memoryLogger(),
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    await chain.attach(s);
    assert(s.conn.isExported(chain), "exported while subscribed");
    const [handler] = [...s.subscriptions];
    await s.unsubscribe(handler);
    await peer.waitNotice(/unsubscribed notifications/);
    assertEquals((await peer.status()).notifications, "0");
    const deadline = Date.now() + 5000;
    while (s.conn.isExported(chain) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert(!s.conn.isExported(chain), "peer released our ChainNotifications object");
    assertEquals((await peer.cmd(`fire blockConnected 1 ${HASH} 0`)).startsWith("err"), true);
    await s.shutdown();
  });
});

Deno.test("hazard reproduced: closing the socket with a live subscription crashes the node (peer)", async () => {
  const peer = await TestPeer.start();
  try {
    const s = await Session.open(peer.socketPath);
    const chain = new ChainCollector({
      log: memoryLogger(),
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    await chain.attach(s);
    s.close(); // deliberately skipping shutdown(): what a crash of ours would do
    await s.closed;
    assertEquals(await peer.exitCode(), 71);
    assert(peer.notices.some((n) => n.includes("crash disconnect-with-live-subscription")));
  } finally {
    await peer.stop();
  }
});

Deno.test("garbage from the node: subscriptions are disconnected before we close, node survives", async () => {
  await withPeer(async (peer) => {
    const errors: Error[] = [];
    const s = await Session.open(peer.socketPath, { onProtocolError: (e) => errors.push(e) });
    const chain = new ChainCollector({
      log: memoryLogger(),
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    await chain.attach(s);
    await peer.ok("garbage ffffffff00000000deadbeef");
    await s.closed;
    assertEquals(errors.length, 1);
    const st = await peer.waitStatus((x) => x.connected === "0");
    assertEquals(st.notifications, "0");
    assert(!peer.exited, "peer (node) still alive");
  });
});

Deno.test("garbage from the node during the handshake: Session.open fails with the framing error, no hang", async () => {
  await withPeer(async (peer) => {
    await peer.ok("stall Init.construct");
    const errors: Error[] = [];
    // A call timeout far longer than the test's bound: only the protocol error can end the handshake.
    const opening = Session.open(peer.socketPath, { callTimeoutMs: 600_000, onProtocolError: (e) => errors.push(e) })
      .then(() => undefined, (e: Error) => e);
    await peer.waitStatus((x) => x.held === "1");
    await peer.ok("garbage ffffffff00000000deadbeef");
    const e = await opening;
    assert(e instanceof Error, "the handshake failed");
    assertStringIncludes(e.message, "segments");
    assertEquals(errors.length, 1);
    await peer.ok("stall none");
    await peer.waitStatus((x) => x.connected === "0");
    assert(!peer.exited, "peer (node) still alive");
  });
});

Deno.test("a call whose Context.thread is not one of the node's Threads fails like libmultiprocess", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    // Pass our own Thread object (from our ThreadMap) where the node expects one of its own.
    const own = s.threadMap.threads[0] ?? { interfaceId: 0n, dispatch: () => undefined };
    const e = await assertRejects(
      () =>
        s.conn.call(
          s.node!,
          Node$Client.methods[28],
          (p, caps) => setCapAt(p._initContext(), 0, caps.add(own)),
          (r) => r.result,
        ),
      RemoteError,
    );
    assertStringIncludes(e.message, "invalid thread handle");
    await s.shutdown();
  });
});

Deno.test("a client without ThreadMap (like ipc-exporter-rust) gets broken-promise contexts; handled, no leak", async () => {
  await withPeer(async (peer) => {
    const socket = await Deno.connect({ transport: "unix", path: peer.socketPath });
    const conn = new RpcConnection({ write: (p) => socket.write(p), close: () => socket.close() });
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await socket.read(buf).catch(() => null);
        if (n === null) return conn.close();
        conn.receive(buf.subarray(0, n));
      }
    })();
    const init = await conn.bootstrap();
    const map = await conn.call(
      init,
      Init$Client.methods[0],
      undefined,
      (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
    );
    const thread = await conn.call(
      map,
      ThreadMap$Client.methods[0],
      (p) => p.name = "t",
      (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
    );
    const ctx = (p: { _initContext(): Context }, caps: CapTable) => setCapAt(p._initContext(), 0, caps.add(thread));
    const chain = await conn.call(
      init,
      Init$Client.methods[4],
      ctx,
      (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap,
    );
    const collector = new ChainCollector({
      log: memoryLogger(),
      timing: timing(),
      callbacks: new CallbackCost(),
      events: new ChainEvents(),
    });
    const handler = await conn.call(chain, Chain$Client.methods[39], (p, caps) => {
      ctx(p, caps);
      setCapAt(p, 1, caps.add(collector));
    }, (r, caps) => caps.cap(capIndexAt(r, 0)) as RemoteCap);
    assertEquals((await peer.status()).client_threadmap, "0");
    for (let i = 0; i < 50; i++) await peer.ok(`fire blockConnected ${i} ${HASH} 0`);
    assertEquals(collector.blocksConnected, 50);
    assertEquals(collector.blockHeight, 49);
    const imports = conn.stats.imports;
    assert(imports <= 6, `imports after 50 broken-promise callbacks: ${imports}`);
    assert(conn.stats.resolves >= 50, `Resolve messages seen: ${conn.stats.resolves}`);
    await conn.call(handler, Handler$Client.methods[1], ctx, () => undefined);
    handler.release();
    await peer.waitStatus((s) => s.notifications === "0");
    await conn.flushed();
    conn.close();
    await reading;
  });
});

Deno.test("pr/ipc (no Tracing): the session works without it", async () => {
  const ipc = await TestPeer.start({ extraArgs: ["--flavour", "pr-ipc"] });
  try {
    const s = await Session.open(ipc.socketPath);
    assertEquals(s.tracing, undefined);
    await s.shutdown();
  } finally {
    assertEquals(await ipc.stop(), 0);
  }
});

Deno.test("hazard reproduced: a callback answered with an exception crashes the node (peer)", async () => {
  // What a careless client would do; ours never does (see ChainCollector). The peer
  // must die here exactly like bitcoin-node, so such a regression cannot pass CI.
  const peer = await TestPeer.start();
  try {
    const s = await Session.open(peer.socketPath);
    const throwing = {
      interfaceId: ChainNotifications$Client.interfaceId,
      dispatch: (): undefined => {
        throw new Error("careless handler");
      },
    };
    await s.subscribe(s.chain!, Chain$Client.methods[39], (p, caps) => setCapAt(p, 1, caps.add(throwing)));
    assertStringIncludes(await peer.cmd(`fire updatedBlockTip`).catch((e) => String(e)), "exited");
    assertEquals(await peer.exitCode(), 70);
    assert(peer.notices.some((n) => n.startsWith("crash callback-exception")));
    await s.closed;
  } finally {
    await peer.stop();
  }
});

Deno.test("the node restarts its listener (peer `restart`): the exporter's session ends cleanly, a new one works", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    await peer.ok("restart");
    await s.closed;
    const again = await Session.open(peer.socketPath);
    assertEquals((await peer.status()).connected, "1");
    await again.shutdown();
  });
});

// ---- The scrape-time getters of the branches (src/ipc/branch.ts) against the peer ----

/** Every getter once, as a collector would read them. */
async function readAll(s: Session) {
  return {
    peers: await branch.getNodesStats(s),
    banned: await branch.getBannedCount(s),
    networkActive: await branch.getNetworkActive(s),
    lastBlockTime: await branch.getLastBlockTime(s),
    numBlocks: await branch.getNumBlocks(s),
    bestBlockHash: await branch.getBestBlockHash(s),
    localAddresses: await branch.getNetLocalAddressCount(s),
    warnings: await branch.getWarnings(s),
    fee6: await branch.estimateSmartFee(s, 6),
    mempoolMinFee: await branch.mempoolMinFee(s),
    relayMinFee: await branch.relayMinFee(s),
    relayIncrementalFee: await branch.relayIncrementalFee(s),
    relayDustFee: await branch.relayDustFee(s),
    pruned: await branch.havePruned(s),
    pruneHeight: await branch.getPruneHeight(s),
  };
}

const RECORDED_DEFAULTS = {
  peers: [],
  banned: 0,
  networkActive: true,
  lastBlockTime: 1795482928, // the recorded pr/trace node's getLastBlockTime
  numBlocks: 105,
  bestBlockHash: "6c263fa7fb45f4b6e2d98f614aaefc6d23458b6aba2bcb99f61ec32f033f646a",
  localAddresses: 0,
  warnings: { text: "", count: 0, truncated: false },
  fee6: undefined, // estimateSmartFee(6) on a fresh node: a zero fee rate
  mempoolMinFee: 0,
  relayMinFee: 0.1,
  relayIncrementalFee: 0.1,
  relayDustFee: 3,
  pruned: false,
  pruneHeight: undefined,
};

Deno.test("branch getters: the peer's defaults are the recorded pr/trace node's answers, through the socket", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    assertEquals(await readAll(s), RECORDED_DEFAULTS);
    // estimatesmartfee's default mode (economical), no FeeCalculation asked for.
    assertEquals((await peer.status()).fee_estimate_last, "6/0/0");
    await s.shutdown();
  });
});

Deno.test("branch getters: scripted values, every peer type, unknown enum values as 'unknown'", async () => {
  await withPeer(async (peer) => {
    // Network, ConnectionType, TransportProtocolType by Core's values; 7, 7 and 3 are past each enum.
    await peer.ok("set peers 3 1 1 0 2"); // inbound ipv4 v2
    await peer.ok("set peers 2 0 2 1 1"); // outbound-full-relay ipv6 v1
    await peer.ok("set peers 1 0 3 2 1"); // manual onion
    await peer.ok("set peers 1 0 4 3 0"); // feeler i2p detecting
    await peer.ok("set peers 1 0 5 4 2"); // block-relay-only cjdns
    await peer.ok("set peers 1 0 0 5 1"); // addr-fetch not_publicly_routable
    await peer.ok("set peers 1 0 6 6 2"); // private-broadcast internal
    await peer.ok("set peers 1 1 7 7 3"); // values no table knows
    await peer.ok("set peers 1 1 -1 99 255");
    await peer.ok("set banned 3");
    await peer.ok("set networkActive 0");
    await peer.ok("set feeEstimate 2 25000");
    await peer.ok("set feeEstimate 1008 1001");
    await peer.ok("set mempoolMinFee 1500");
    await peer.ok("set relayMinFee 1000");
    await peer.ok("set relayIncrementalFee none");
    await peer.ok("set pruned 1 4242");
    await peer.ok("set warnings This is a pre-release test build<hr />Unknown new rules activated");
    await peer.ok("set lastBlockTime 1795500000");
    await peer.ok("set netLocalAddresses 2");
    const s = await Session.open(peer.socketPath);
    const peers = await branch.getNodesStats(s);
    const key = (p: branch.PeerSummary) =>
      `${p.inbound ? "in" : "out"} ${p.network} ${p.connectionType} ${p.transport}`;
    assertEquals(peers.map(key), [
      ...Array(3).fill("in ipv4 inbound v2"),
      ...Array(2).fill("out ipv6 outbound-full-relay v1"),
      "out onion manual v1",
      "out i2p feeler detecting",
      "out cjdns block-relay-only v2",
      "out not_publicly_routable addr-fetch v1",
      "out internal private-broadcast v2",
      "in unknown unknown unknown",
      "in unknown unknown unknown",
    ]);
    assertEquals(await branch.getBannedCount(s), 3);
    assertEquals(await branch.getNetworkActive(s), false);
    assertEquals(await branch.estimateSmartFee(s, 2), 25);
    assertEquals(await branch.estimateSmartFee(s, 1008), 1.001);
    assertEquals(await branch.estimateSmartFee(s, 12), undefined);
    assertEquals((await peer.status()).fee_estimate_last, "12/0/0");
    assertEquals(await branch.mempoolMinFee(s), 1.5);
    assertEquals(await branch.relayMinFee(s), 1);
    assertEquals(await branch.relayIncrementalFee(s), undefined); // CFeeRate{}: 0 per 0 vB
    assertEquals([await branch.havePruned(s), await branch.getPruneHeight(s)], [true, 4242]);
    assertEquals(await branch.getWarnings(s), {
      text: "This is a pre-release test build<hr />Unknown new rules activated",
      count: 2,
      truncated: false,
    });
    assertEquals(await branch.getLastBlockTime(s), 1795500000);
    assertEquals(await branch.getNetLocalAddressCount(s), 2);
    await peer.ok(`set warnings ${"w".repeat(branch.MAX_WARNINGS_CHARS + 5)}`);
    const long = await branch.getWarnings(s);
    assertEquals([long.text.length, long.count, long.truncated], [branch.MAX_WARNINGS_CHARS, 1, true]);
    await s.shutdown();
  });
});

Deno.test("branch getters: a large node (125 peers of every kind, 10,000 bans) and the bounds past it", async () => {
  await withPeer(async (peer) => {
    // 125 = 5 of each of 25 kinds (network x connection type, transports alternating).
    for (let net = 0; net < 5; net++) {
      for (let type = 0; type < 5; type++) {
        await peer.ok(`set peers 5 ${type === 0 ? 1 : 0} ${net} ${type} ${1 + (type % 2)}`);
      }
    }
    await peer.ok("set banned 10000");
    const s = await Session.open(peer.socketPath);
    const peers = await branch.getNodesStats(s);
    assertEquals(peers.length, 125);
    assertEquals(new Set(peers.map((p) => `${p.network}/${p.connectionType}/${p.transport}`)).size, 25);
    assertEquals(peers.filter((p) => p.inbound).length, 25);
    assertEquals(await branch.getBannedCount(s), 10_000);
    // Past MAX_PEERS the answer is refused, not truncated.
    await peer.ok("set peers none");
    await peer.ok(`set peers ${branch.MAX_PEERS + 1} 1 1 0 1`);
    const e = await assertRejects(() => branch.getNodesStats(s, { timeoutMs: 30_000 }), Error);
    assertStringIncludes(e.message, `${branch.MAX_PEERS + 1} peers, more than the ${branch.MAX_PEERS} read`);
    await peer.ok("set peers none");
    assertEquals(await branch.getNodesStats(s), []);
    // A ban list that is not BanMapToJson's shape is an error naming the call, never a count.
    await peer.ok('set banmap [{"address":"1.2.3.4/32"},');
    assertStringIncludes((await assertRejects(() => branch.getBannedCount(s), Error)).message, "Node.getBanned");
    await peer.ok("set bannedResult 0");
    assertStringIncludes((await assertRejects(() => branch.getBannedCount(s), Error)).message, "no ban manager");
    await peer.ok("set nodesStatsResult 0");
    assertStringIncludes((await assertRejects(() => branch.getNodesStats(s), Error)).message, "no connection manager");
    await s.shutdown();
  });
});

Deno.test("branch getters: throw and stall reach each new method", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    const calls: [string, () => Promise<unknown>][] = [
      ["getNodesStats", () => branch.getNodesStats(s, { timeoutMs: 10_000 })],
      ["getBanned", () => branch.getBannedCount(s, { timeoutMs: 10_000 })],
      ["getNetworkActive", () => branch.getNetworkActive(s, { timeoutMs: 10_000 })],
      ["getLastBlockTime", () => branch.getLastBlockTime(s, { timeoutMs: 10_000 })],
      ["getBestBlockHash", () => branch.getBestBlockHash(s, { timeoutMs: 10_000 })],
      ["getNetLocalAddresses", () => branch.getNetLocalAddressCount(s, { timeoutMs: 10_000 })],
      ["getWarnings", () => branch.getWarnings(s, { timeoutMs: 10_000 })],
      ["estimateSmartFee", () => branch.estimateSmartFee(s, 6, { timeoutMs: 10_000 })],
      ["mempoolMinFee", () => branch.mempoolMinFee(s, { timeoutMs: 10_000 })],
      ["relayMinFee", () => branch.relayMinFee(s, { timeoutMs: 10_000 })],
      ["relayIncrementalFee", () => branch.relayIncrementalFee(s, { timeoutMs: 10_000 })],
      ["relayDustFee", () => branch.relayDustFee(s, { timeoutMs: 10_000 })],
      ["havePruned", () => branch.havePruned(s, { timeoutMs: 10_000 })],
      ["getPruneHeight", () => branch.getPruneHeight(s, { timeoutMs: 10_000 })],
      ["Node.executeRpc", () => branch.nodeExecuteRpc(s, "uptime", "[]", { timeoutMs: 10_000 })],
    ];
    for (const [name, call] of calls) {
      await peer.ok(`throw ${name}`);
      const e = await assertRejects(call, RemoteError);
      assertStringIncludes(e.message, `${name} failed`);
      await peer.ok("throw none");
      await peer.ok(`stall ${name}`);
      const held = call();
      await waitFor(`${name} to reach the peer`, async () => (await peer.status()).calls.includes(`${name}:2`));
      await peer.ok("stall none");
      await held;
    }
    await s.shutdown();
  });
});

Deno.test("Node.executeRpc: read-only JSON-RPC on the branches, answered from the recorded node's answers", async () => {
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    const recorded = (m: string) =>
      JSON.parse(Deno.readTextFileSync(new URL(`./fixtures/stock-master-regtest/rpc/${m}.json`, import.meta.url)));
    assertEquals(await branch.nodeExecuteRpc(s, "uptime"), recorded("uptime"));
    assertEquals(await branch.nodeExecuteRpc(s, "getnetworkinfo"), recorded("getnetworkinfo"));
    assertEquals(await branch.nodeExecuteRpc(s, "getblockchaininfo", "{}"), recorded("getblockchaininfo"));
    assertEquals(await branch.nodeExecuteRpc(s, "getblockcount"), 105); // the chain model
    assertEquals((await peer.status()).calls.includes("rpc.getnetworkinfo:1"), true);
    // The RPC's own error comes back in rpcError as {"code","message"}.
    const missing = await assertRejects(
      () => branch.nodeExecuteRpc(s, "nosuchmethod"),
      branch.NodeRpcError,
    ) as branch.NodeRpcError;
    assertEquals([missing.code, missing.rpcMessage], [-32601, "Method not found"]);
    await peer.ok("rpc getblockchaininfo error -28 Loading block index...");
    const warmup = await assertRejects(
      () => branch.nodeExecuteRpc(s, "getblockchaininfo"),
      branch.NodeRpcError,
    ) as branch.NodeRpcError;
    assertEquals([warmup.code, warmup.rpcMessage], [-28, "Loading block index..."]);
    // A std::exception (RPCHelpMan's usage text on a wrong argument count) comes back in `error`.
    const usage = await assertRejects(
      () => branch.nodeExecuteRpc(s, "getblockcount", "[1]"),
      branch.NodeRpcError,
    ) as branch.NodeRpcError;
    assertEquals([usage.code, usage.exception, usage.rpcMessage], [undefined, true, "getblockcount"]);
    assertStringIncludes(usage.message, "the node threw: getblockcount");
    // Several methods in rpcBatch's answer shape, by position; errors in place, never thrown.
    await peer.ok("rpc getblockchaininfo none");
    assertEquals(
      await branch.nodeRpcBatch(s, [
        { method: "uptime" },
        { method: "nosuchmethod" },
        { method: "getblockcount", params: [1] },
        { method: "getblockheader", params: [RECORDED_DEFAULTS.bestBlockHash] },
      ], { timeoutMs: 10_000 }),
      [
        { result: recorded("uptime") },
        { error: { code: -32601, message: "Method not found" } },
        { error: { code: undefined, message: "getblockcount" } },
        {
          result: {
            hash: RECORDED_DEFAULTS.bestBlockHash,
            confirmations: 1,
            height: 105,
          },
        },
      ],
    );
    await s.shutdown();
  });
});

Deno.test("branch getters on the rebased flavours: chain5-node (Node @6, Chain @5) and chain5 (Chain only)", async () => {
  await withPeer(async (peer) => {
    await peer.ok("set feeEstimate 6 2000");
    const s = await Session.open(peer.socketPath);
    assertEquals(s.interfaces.flavour, "chain5-node");
    assertEquals(await readAll(s), { ...RECORDED_DEFAULTS, fee6: 2 });
    await s.shutdown();
  }, { flavour: "chain5-node" });
  await withPeer(async (peer) => {
    const s = await Session.open(peer.socketPath);
    assertEquals(s.interfaces.flavour, "chain5");
    assertEquals([await branch.relayMinFee(s), await branch.estimateSmartFee(s, 6)], [0.1, undefined]);
    const e = await assertRejects(() => branch.getNodesStats(s), Error);
    assertStringIncludes(e.message, "no Node interface");
    await s.shutdown();
  }, { flavour: "chain5" });
});

// ---- pr/ipc of 2024 (willcl-ark/bitcoin pr/ipc d2ccbd3f): its own Init, Chain and Node ordinals ----

Deno.test("pr/ipc of 2024: every Node and Chain getter in its own ordinals; what it lacks fails naming the method, unsent", async () => {
  await withPeer(async (peer) => {
    // Values no neighbouring method would give back (pr/trace's getVerificationProgress @36 is
    // isInitialBlockDownload there, its executeRpc @42 listRpcCommands).
    for (const line of GETTER_VALUES) await peer.ok(line);
    await peer.ok("set peers 2 1 0 1 2");
    await peer.ok("set banned 3");
    await peer.ok("set networkActive 0");
    await peer.ok("set lastBlockTime 1795500000");
    await peer.ok("set feeEstimate 2 25000");
    await peer.ok("set mempoolMinFee 1500");
    await peer.ok("set relayMinFee 1000");
    await peer.ok("set pruned 1 4242");
    await peer.ok("set warnings a test build");
    const s = await Session.open(peer.socketPath);
    assertEquals([s.flavour, s.interfaces.chainGeneration, s.interfaces.nodeGeneration], [
      "pr-ipc",
      "pr-ipc",
      "pr-ipc",
    ]);
    assertEquals(await branch.getHeaderTip(s), 812345);
    assertEquals(await branch.getBestHeader(s), { height: 812345, blockTime: 1700000000 });
    assertEquals(await branch.isInitialBlockDownload(s), true);
    assertEquals(await branch.getVerificationProgress(s), 0.5);
    assertEquals(await branch.getMempoolSize(s), 4294967296);
    assertEquals(await branch.getMempoolDynamicUsage(s), 123456789);
    assertEquals(await branch.getMempoolMaxUsage(s), 300000000);
    assertEquals(await branch.getNodeCount(s, branch.ConnectionDirection.Both), 11);
    assertEquals(await branch.getTotalBytesRecv(s), Number(9007199254740993n));
    assertEquals(await branch.getTotalBytesSent(s), 77);
    assertEquals(await branch.getHeight(s), 812340);
    assertEquals((await branch.getNodesStats(s)).length, 2);
    assertEquals(await branch.getBannedCount(s), 3);
    assertEquals(await branch.getNetworkActive(s), false);
    assertEquals(await branch.getLastBlockTime(s), 1795500000);
    assertEquals(await branch.getNumBlocks(s), 105);
    assertEquals(
      await branch.getBestBlockHash(s),
      "6c263fa7fb45f4b6e2d98f614aaefc6d23458b6aba2bcb99f61ec32f033f646a",
    );
    assertEquals((await branch.getWarnings(s)).text, "a test build");
    assertEquals(await branch.estimateSmartFee(s, 2), 25);
    assertEquals(await branch.mempoolMinFee(s), 1.5);
    assertEquals(await branch.relayMinFee(s), 1);
    assertEquals(await branch.relayDustFee(s), 3);
    assertEquals(await branch.havePruned(s), true);
    assertEquals(await branch.nodeExecuteRpc(s, "getblockcount"), 105);
    // Methods pr/ipc does not have: a clear error, and nothing is sent at their pr/trace ordinals.
    const e1 = await assertRejects(() => branch.getNetLocalAddressCount(s), Error);
    assertEquals(e1.message, "Node.getNetLocalAddresses: the node's interface has no such method (flavour pr-ipc)");
    const e2 = await assertRejects(() => branch.getPruneHeight(s), Error);
    assertEquals(e2.message, "Chain.getPruneHeight: the node's interface has no such method (flavour pr-ipc)");
    const st = await peer.status();
    assert(!/getNetLocalAddresses|getPruneHeight|listRpcCommands/.test(st.calls), st.calls);
    await s.shutdown();
  }, { flavour: "pr-ipc" });
});

for (const debug of [true, false]) {
  Deno.test(`pr/ipc of 2024: chain notifications in its layouts (role a UInt32, block at pointer 1), ${debug ? "decoded in full (debug)" : "read in place"}`, async () => {
    await withPeer(async (peer) => {
      const log = memoryLogger(debug);
      const s = await Session.open(peer.socketPath);
      const chain = new ChainCollector({
        log,
        timing: timing(),
        callbacks: new CallbackCost(),
        events: new ChainEvents(),
      });
      await chain.attach(s);
      assertEquals((await peer.status()).notifications, "1");
      await peer.ok(`fire blockConnected 106 ${HASH} 0`);
      await peer.ok(`fire blockConnected 50 ${HASH} 1`); // the background (historical) chainstate
      assertEquals(chain.blockHeight, 50);
      await peer.ok(`fire blockConnected 107 ${HASH} 0`);
      await peer.ok(`fire blockDisconnected 107 ${HASH}`);
      await peer.ok(`fire txRemoved 02000000000000000000 5`);
      await peer.ok(`fire chainStateFlushed 1 ${HASH}`);
      await peer.ok(`fire chainStateFlushed 0 ${HASH}`);
      assertEquals(
        [chain.blocksConnected, chain.blockHeight, chain.blocksDisconnected, chain.flushes],
        [3, 107, 1, 2],
      );
      assertEquals(chain.txRemovedByReason, [0, 0, 0, 0, 0, 1, 0]);
      if (debug) {
        const has = (re: RegExp) => assert(log.lines.some((l) => re.test(l)), `${re}: ${log.lines.join("\n")}`);
        has(new RegExp(`block connected height=106 hash=${HASH} role=validated`));
        has(new RegExp(`block connected height=50 hash=${HASH} role=historical`));
        has(/block disconnected height=107/);
        has(/chain state flushed role=historical/);
        has(/chain state flushed role=validated/);
      }
      assert(!log.lines.some((l) => /could not be read|unknown method/.test(l)), log.lines.join("\n"));
      await s.shutdown();
      const st = await peer.waitStatus((x) => x.connected === "0");
      assertEquals([st.notifications, st.handler_disconnects], ["0", "1"]);
    }, { flavour: "pr-ipc" });
  });
}
