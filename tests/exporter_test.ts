/**
 * The exporter end to end: main.ts as a subprocess with only its narrow permissions, the C++ peer
 * playing the node, Prometheus's view through the real HTTP server.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { branchExtras, callbackCost, exporterHead, normalise } from "./support/exposition.ts";

const HASH = "22".repeat(32);
const TX = "02000000" + "01" + "33".repeat(32) + "00000000" + "00" + "ffffffff" + "01" + "0000000000000000" + "00" +
  "00000000";

Deno.test("scripted scenario: every metric driven to a known value, whole /metrics compared", async () => {
  const peer = await TestPeer.start();
  let exp: ExporterProc | undefined;
  try {
    await peer.ok("set isInitialBlockDownload 1");
    await peer.ok("set getHeaderTip 200 1700000000");
    await peer.ok("set getVerificationProgress 0.999");
    await peer.ok("set getMempoolSize 3");
    await peer.ok("set getMempoolDynamicUsage 4096");
    await peer.ok("set getMempoolMaxUsage 300000000");
    await peer.ok("set getNodeCount 8");
    await peer.ok("set getTotalBytesRecv 1000");
    await peer.ok("set getTotalBytesSent 2000");
    exp = await ExporterProc.start({ socketPath: peer.socketPath });
    await exp.waitLog(/subscribed to chain notifications/);
    await exp.waitLog(/deferring UTXO cache trace/);
    // In IBD: the UTXO subscription must not exist yet.
    assertEquals((await peer.status()).utxo, "0");
    // The chain model knows the block (getchaintxstats of the tip, whose hash comes with blockConnected).
    await peer.ok(`set tip 108 ${HASH}`);
    await peer.ok(`fire blockConnected 106 ${HASH} 0`);
    await peer.ok(`fire blockConnected 107 ${HASH} 0`);
    await peer.ok(`fire blockConnected 50 ${HASH} 1`); // a background (historical) chainstate block
    await peer.ok(`fire blockConnected 108 ${HASH} 0`);
    await peer.ok(`fire blockDisconnected 108 ${HASH}`);
    await peer.ok(`fire blockConnected 108 ${HASH} 0`);
    for (let i = 0; i < 4; i++) await peer.ok("fire updatedBlockTip");
    for (let i = 0; i < 7; i++) await peer.ok(`fire txAdded ${TX}`);
    for (let r = 0; r <= 5; r++) await peer.ok(`fire txRemoved ${TX} ${r}`);
    await peer.ok(`fire chainStateFlushed 0 ${HASH}`);
    await peer.ok(`fire chainStateFlushed 1 ${HASH}`);
    const during = samples(await exp.scrape());
    assertEquals(during.get("bitcoin_ibd"), "1");
    assertEquals(during.has("bitcoin_utxo_cache_add_total"), true);
    assertEquals((await peer.status()).utxo, "0");
    // Leaving IBD: the next read of the node registers the UTXO subscription.
    await peer.ok("set isInitialBlockDownload 0");
    await new Promise((r) => setTimeout(r, 1100)); // past the scrape cache
    await exp.scrape();
    await peer.waitStatus((s) => s.utxo === "1");
    await exp.waitLog(/subscribed to UTXO cache trace/);
    // Value sums past 2^53: 5 x 21e14-ish exceeds 2^53 (9007199254740992).
    for (let i = 0; i < 5; i++) await peer.ok("fire utxoAdd 2099999997690001 100 0 0");
    await peer.ok("fire utxoAdd 5000000000 108 0 1");
    for (let i = 0; i < 3; i++) await peer.ok("fire utxoSpend 2099999997690001 100 1 0");
    await peer.ok("fire utxoUncache 123 7 2 0");
    await new Promise((r) => setTimeout(r, 1100));
    const body = await exp.scrape();
    assertEquals(normalise(body), EXPECTED);
    const res = await fetch(exp.url());
    assertEquals(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    await res.body?.cancel();
  } finally {
    const code = await exp?.stop("SIGTERM");
    assertEquals(code, 0, exp?.lines.join("\n"));
    const st = await peer.waitStatus((s) => s.connected === "0");
    assertEquals([st.notifications, st.utxo, st.handler_disconnects], ["0", "0", "2"]);
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("HTTP: HEAD, 404 for other paths, 405 for other methods, query strings ignored", async () => {
  const peer = await TestPeer.start();
  const exp = await ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to chain notifications/);
    const head = await fetch(exp.url(), { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(await head.text(), "");
    const nf = await fetch(exp.url("/nope"));
    assertEquals(nf.status, 404);
    await nf.body?.cancel();
    const post = await fetch(exp.url(), { method: "POST", body: "x" });
    assertEquals(post.status, 405);
    assertEquals(post.headers.get("allow"), "GET, HEAD");
    await post.body?.cancel();
    const q = await fetch(exp.url("/metrics?name[]=x&%zz"));
    assertEquals(q.status, 200);
    assertStringIncludes(await q.text(), "bitcoin_up 1");
  } finally {
    assertEquals(await exp.stop("SIGINT"), 0);
    assertEquals(await peer.stop(), 0);
  }
});

Deno.test("shutdown: the peer sees every Handler.disconnect before the close, exit 0 in time", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = await ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    const from = peer.notices.length;
    const t0 = performance.now();
    assertEquals(await exp.stop("SIGTERM"), 0);
    assert(performance.now() - t0 < 5000, "exit within 5 s");
    // The peer notices the close on its own schedule; the order of what it saw is what counts.
    await peer.waitNotice(/^disconnected/, 5000, from);
    const order = peer.notices.slice(from).filter((n) => /^(unsubscribed|disconnected)/.test(n));
    assertEquals(order.slice(-1)[0], "disconnected");
    assertEquals(order.filter((n) => n.startsWith("unsubscribed")).length, 2);
  } finally {
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

const EXPECTED = exporterHead("pr-trace") + callbackCost({
  "ChainNotifications.transactionAddedToMempool": 7,
  "ChainNotifications.transactionRemovedFromMempool": 6,
  "ChainNotifications.blockConnected": 5,
  "ChainNotifications.blockDisconnected": 1,
  "ChainNotifications.updatedBlockTip": 4,
  "ChainNotifications.chainStateFlushed": 2,
  "UtxoCacheTrace.add": 6,
  "UtxoCacheTrace.spend": 3,
  "UtxoCacheTrace.uncache": 1,
}) + `# HELP bitcoin_blocks_connected_total Blocks connected via ChainNotifications.
# TYPE bitcoin_blocks_connected_total counter
bitcoin_blocks_connected_total 5
# HELP bitcoin_blocks_disconnected_total Blocks disconnected via ChainNotifications.
# TYPE bitcoin_blocks_disconnected_total counter
bitcoin_blocks_disconnected_total 1
# HELP bitcoin_mempool_tx_added_total Transactions added to mempool.
# TYPE bitcoin_mempool_tx_added_total counter
bitcoin_mempool_tx_added_total 7
# HELP bitcoin_mempool_tx_removed_total Transactions removed from mempool for expiry, size limit, reorg, conflict or replacement; transactions mined in a block leave with blockConnected and are not counted here.
# TYPE bitcoin_mempool_tx_removed_total counter
bitcoin_mempool_tx_removed_total 6
# HELP bitcoin_mempool_tx_removed_by_reason_total Transactions removed from mempool, by Bitcoin Core's MemPoolRemovalReason.
# TYPE bitcoin_mempool_tx_removed_by_reason_total counter
bitcoin_mempool_tx_removed_by_reason_total{reason="expiry"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="sizelimit"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="reorg"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="block"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="conflict"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="replaced"} 1
bitcoin_mempool_tx_removed_by_reason_total{reason="unknown"} 0
# HELP bitcoin_tip_updates_total Block tip updates received.
# TYPE bitcoin_tip_updates_total counter
bitcoin_tip_updates_total 4
# HELP bitcoin_chain_state_flushes_total Chain state flush events.
# TYPE bitcoin_chain_state_flushes_total counter
bitcoin_chain_state_flushes_total 2
# HELP bitcoin_block_height Height of the active tip, read from the node at connect and followed as blocks arrive (-1 when the node has no block).
# TYPE bitcoin_block_height gauge
bitcoin_block_height 108
# HELP bitcoin_utxo_cache_add_total UTXOs added to the cache.
# TYPE bitcoin_utxo_cache_add_total counter
bitcoin_utxo_cache_add_total 6
# HELP bitcoin_utxo_cache_spend_total UTXOs spent from the cache.
# TYPE bitcoin_utxo_cache_spend_total counter
bitcoin_utxo_cache_spend_total 3
# HELP bitcoin_utxo_cache_uncache_total UTXOs evicted from the cache.
# TYPE bitcoin_utxo_cache_uncache_total counter
bitcoin_utxo_cache_uncache_total 1
# HELP bitcoin_utxo_cache_add_value_total Cumulative satoshi value of UTXOs added to cache.
# TYPE bitcoin_utxo_cache_add_value_total counter
bitcoin_utxo_cache_add_value_total 10500004988450005
# HELP bitcoin_utxo_cache_spend_value_total Cumulative satoshi value of UTXOs spent from cache.
# TYPE bitcoin_utxo_cache_spend_value_total counter
bitcoin_utxo_cache_spend_value_total 6299999993070003
# HELP bitcoin_utxo_cache_uncache_value_total Cumulative satoshi value of UTXOs evicted from cache.
# TYPE bitcoin_utxo_cache_uncache_value_total counter
bitcoin_utxo_cache_uncache_value_total 123
# HELP bitcoin_header_height Height of the best known header.
# TYPE bitcoin_header_height gauge
bitcoin_header_height 200
# HELP bitcoin_ibd Whether the node is in initial block download (1=yes, 0=no).
# TYPE bitcoin_ibd gauge
bitcoin_ibd 0
# HELP bitcoin_verification_progress Estimated chain verification progress (0.0 to 1.0).
# TYPE bitcoin_verification_progress gauge
bitcoin_verification_progress 0.999
# HELP bitcoin_mempool_size Number of transactions in the mempool.
# TYPE bitcoin_mempool_size gauge
bitcoin_mempool_size 3
# HELP bitcoin_mempool_bytes Memory usage of the mempool in bytes (dynamic memory usage, not the serialized size of its transactions).
# TYPE bitcoin_mempool_bytes gauge
bitcoin_mempool_bytes 4096
# HELP bitcoin_mempool_max_bytes Maximum mempool memory usage in bytes (-maxmempool).
# TYPE bitcoin_mempool_max_bytes gauge
bitcoin_mempool_max_bytes 300000000
# HELP bitcoin_peers Number of connected peers (inbound and outbound).
# TYPE bitcoin_peers gauge
bitcoin_peers 8
# HELP bitcoin_bytes_recv_total Total bytes received from peers.
# TYPE bitcoin_bytes_recv_total counter
bitcoin_bytes_recv_total 1000
# HELP bitcoin_bytes_sent_total Total bytes sent to peers.
# TYPE bitcoin_bytes_sent_total counter
bitcoin_bytes_sent_total 2000
` +
  // 5 connects and 1 disconnect before the first updatedBlockTip: one reorg of depth 1. Connections
  // by direction from getNodeCount(In) and getNodeCount(Out), which the peer answers 8 to both.
  branchExtras([1], 8);
