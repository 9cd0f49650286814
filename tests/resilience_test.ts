/**
 * Never down with the node: reconnects, `bitcoin_up`, a node that stalls, throws or sends garbage,
 * signals at awkward moments. The exporter runs as a subprocess with its narrow permissions.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { waitFor as until } from "./support/wait.ts";

const HASH = "55".repeat(32);

const up = async (exp: ExporterProc) => samples(await exp.scrape()).get("bitcoin_up");

Deno.test("node restarts: up 1 → 0 → 1, counters continue, exactly one live subscription after", async () => {
  const dir = await Deno.makeTempDir();
  const socketPath = `${dir}/node.sock`;
  let peer = await TestPeer.start({ socketPath });
  const exp = ExporterProc.start({ socketPath });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    await peer.ok(`fire blockConnected 100 ${HASH} 0`);
    await peer.ok(`fire blockConnected 101 ${HASH} 0`);
    assertEquals(await up(exp), "1");
    assertEquals(await peer.stop(), 0); // the node goes away (and its socket with it)
    await until("bitcoin_up 0", async () => (await up(exp)) === "0" ? true : undefined);
    const down = samples(await exp.scrape());
    assertEquals(down.get("bitcoin_blocks_connected_total"), "2", "counters keep their values");
    assertEquals(down.has("bitcoin_mempool_size"), false, "node gauges are not served stale");
    peer = await TestPeer.start({ socketPath });
    await until("bitcoin_up 1", async () => (await up(exp)) === "1" ? true : undefined);
    await peer.waitStatus((s) => s.notifications === "1" && s.utxo === "1");
    await peer.ok(`fire blockConnected 102 ${HASH} 0`);
    const after = samples(await exp.scrape());
    assertEquals(after.get("bitcoin_blocks_connected_total"), "3");
    assertEquals(after.get("bitcoind_ipc_exporter_connects_total"), "2");
    const st = await peer.status();
    assertEquals([st.notifications, st.utxo], ["1", "1"]);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("no socket at start: one clear line, then connects once the socket appears", async () => {
  const dir = await Deno.makeTempDir();
  const socketPath = `${dir}/node.sock`;
  const exp = ExporterProc.start({ socketPath });
  let peer: TestPeer | undefined;
  try {
    await exp.waitLog(/does not exist.*retrying/);
    assertEquals(await up(exp), "0");
    await new Promise((r) => setTimeout(r, 1500));
    peer = await TestPeer.start({ socketPath });
    const t0 = Date.now();
    await exp.waitLog(/connected to /, 10_000);
    assert(Date.now() - t0 < 8000, "connected within the backoff bound");
    assertEquals(exp.lines.filter((l) => l.includes("does not exist")).length, 1, "repeated failures logged once");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    if (peer) assertEquals(await peer.stop(), 0);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a stalled node read: the scrape answers within its timeout without node gauges", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to/);
    await peer.ok("stall getMempoolSize");
    const t0 = performance.now();
    const m = samples(await exp.scrape());
    const ms = performance.now() - t0;
    assert(ms < 4500, `scrape took ${ms} ms`);
    assertEquals(m.get("bitcoin_up"), "1");
    assertEquals(m.has("bitcoin_mempool_size"), false);
    // Concurrent scrapes during the stall share one round of calls.
    await Promise.all([exp.scrape(), exp.scrape(), exp.scrape()]);
    await peer.ok("stall none");
    await until("node gauges back", async () => samples(await exp.scrape()).has("bitcoin_mempool_size") || undefined);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("scrapes cannot make the exporter call the node more often than its cache allows", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    const before = Number(/getMempoolSize:(\d+)/.exec((await peer.status()).calls)?.[1] ?? "0");
    const t0 = Date.now();
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 15 }, () => exp.scrape()));
    const elapsed = Date.now() - t0;
    const after = Number(/getMempoolSize:(\d+)/.exec((await peer.status()).calls)?.[1] ?? "0");
    // One round per second of cache at most (plus one for a round already in flight).
    assert(after - before <= Math.ceil(elapsed / 1000) + 1, `${after - before} rounds in ${elapsed} ms`);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("the node throws from every method the exporter uses: logged, retried, never a crash", async () => {
  const peer = await TestPeer.start();
  for (
    const m of [
      "getHeaderTip",
      "isInitialBlockDownload",
      "getVerificationProgress",
      "getMempoolSize",
      "getMempoolDynamicUsage",
      "getMempoolMaxUsage",
      "getNodeCount",
      "getTotalBytesRecv",
      "getTotalBytesSent",
    ]
  ) await peer.ok(`throw ${m}`);
  await peer.ok("throw handleNotifications");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/handleNotifications failed.*retrying/);
    assertEquals(await up(exp), "0");
    await peer.ok("throw none");
    await peer.ok("throw getMempoolSize");
    await exp.waitLog(/connected to/, 20_000);
    const m = samples(await exp.scrape());
    assertEquals(m.get("bitcoin_up"), "1");
    assertEquals(m.has("bitcoin_mempool_size"), false);
    await exp.waitLog(/reading node state failed: .*getMempoolSize failed/);
    assertEquals((await peer.status()).notifications, "1");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("garbage from the node: disconnect subscriptions, reconnect; the node survives", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to /);
    await peer.ok("garbage 0100000002000000ffffffffffffffff");
    await exp.waitLog(/disconnecting subscriptions and reconnecting/);
    await until(
      "reconnected",
      () => Promise.resolve(exp.lines.filter((l) => /connected to /.test(l)).length >= 2 || undefined),
    );
    assert(!peer.exited, "the node (peer) survived");
    assertEquals((await peer.waitStatus((s) => s.notifications === "1")).notifications, "1");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("a flood of callbacks: all counted, memory flat, node never waits on us", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    const r = await peer.ok("repeat 20000 fire utxoAdd 1000 5 0 0", 120_000);
    assertEquals(r.n, "20000");
    await peer.ok(`repeat 2000 fire txAdded 02000000000000000000`);
    const m = samples(await exp.scrape());
    assertEquals(m.get("bitcoin_utxo_cache_add_total"), "20000");
    assertEquals(m.get("bitcoin_utxo_cache_add_value_total"), "20000000");
    assertEquals(m.get("bitcoin_mempool_tx_added_total"), "2000");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("SIGTERM during backoff, during the handshake and during a scrape: exit 0 promptly", async () => {
  // During backoff: no socket at all.
  const dir = await Deno.makeTempDir();
  const lone = ExporterProc.start({ socketPath: `${dir}/none.sock` });
  await lone.waitLog(/retrying/);
  let t0 = performance.now();
  assertEquals(await lone.stop(), 0);
  assert(performance.now() - t0 < 3000);
  await Deno.remove(dir, { recursive: true });

  const peer = await TestPeer.start();
  try {
    // During the handshake: the node never answers makeNode.
    await peer.ok("stall makeNode");
    const a = ExporterProc.start({ socketPath: peer.socketPath });
    await peer.waitStatus((s) => /makeNode:1/.test(s.calls));
    t0 = performance.now();
    assertEquals(await a.stop(), 0, a.lines.join("\n"));
    assert(performance.now() - t0 < 2000, "the handshake is abandoned at once");
    await peer.ok("stall none");
    await peer.waitStatus((s) => s.connected === "0");
    // During a scrape stuck on the node.
    const b = ExporterProc.start({ socketPath: peer.socketPath });
    await b.waitLog(/subscribed to chain notifications/);
    await peer.ok("stall getHeaderTip");
    const scrape = fetch(b.url()).then((r) => r.text()).catch((e) => `failed: ${e}`);
    await new Promise((r) => setTimeout(r, 100));
    t0 = performance.now();
    assertEquals(await b.stop(), 0, b.lines.join("\n"));
    assert(performance.now() - t0 < 5500);
    const body = await scrape;
    // Either the scrape was completed (without node gauges) or cut off: never a partial body.
    if (!body.startsWith("failed")) assertStringIncludes(body, "bitcoin_up");
    await peer.ok("stall none");
    const st = await peer.waitStatus((s) => s.connected === "0");
    assertEquals(st.notifications, "0", "subscriptions disconnected before the close");
  } finally {
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});
