/**
 * What the UTXO trace costs the node, visible in /metrics: callbacks by interface and method, our
 * handlers' time, and trace events per connected block.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";

const HASH = "77".repeat(32);

Deno.test("callback cost: counts and handler seconds move with the node's callbacks; UTXO events are binned per block", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    await exp.waitLog(/connected to/);
    await peer.ok(`fire blockConnected 101 ${HASH} 0`); // closes the (empty) span before it
    await peer.ok("repeat 1200 fire utxoAdd 1 101 0 0");
    await peer.ok("repeat 800 fire utxoSpend 1 101 0 0");
    await peer.ok(`fire blockConnected 102 ${HASH} 0`);
    await peer.ok("repeat 30 fire utxoUncache 1 101 0 0");
    await peer.ok(`fire blockConnected 103 ${HASH} 0`);
    const s = samples(await exp.scrape());
    const row = (i: string, m: string) => `{interface="${i}",method="${m}"}`;
    assertEquals(s.get(`bitcoind_ipc_exporter_callbacks_total${row("UtxoCacheTrace", "add")}`), "1200");
    assertEquals(s.get(`bitcoind_ipc_exporter_callbacks_total${row("UtxoCacheTrace", "spend")}`), "800");
    assertEquals(s.get(`bitcoind_ipc_exporter_callbacks_total${row("ChainNotifications", "blockConnected")}`), "3");
    const secs = Number(s.get(`bitcoind_ipc_exporter_callback_handler_seconds_total${row("UtxoCacheTrace", "add")}`));
    assert(secs > 0 && secs < 10, `handler seconds ${secs}`);
    // Three blocks: 0 events before the first, 2000 before the second, 30 before the third.
    const h = "bitcoind_ipc_exporter_utxo_trace_events_per_block";
    assertEquals(s.get(`${h}_count`), "3");
    assertEquals(s.get(`${h}_sum`), "2030");
    assertEquals(s.get(`${h}_bucket{le="0"}`), "1");
    assertEquals(s.get(`${h}_bucket{le="100"}`), "2");
    assertEquals(s.get(`${h}_bucket{le="1000"}`), "2");
    assertEquals(s.get(`${h}_bucket{le="2500"}`), "3");
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("callback cost families are absent on a flavour with no callbacks (stock v31)", async () => {
  const peer = await TestPeer.start({ flavour: "v31" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to/);
    const body = await exp.scrape();
    assertEquals(body.includes("bitcoind_ipc_exporter_callbacks_total"), false);
    assertEquals(body.includes("bitcoind_ipc_exporter_utxo_trace_events_per_block"), false);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

for (
  const [off, families, notice] of [
    ["utxo_cache", ["bitcoin_utxo_cache_add_total", "bitcoind_ipc_exporter_utxo_trace_events_per_block"], "utxo"],
    ["chain", ["bitcoin_blocks_connected_total", "bitcoin_mempool_tx_added_total"], "notifications"],
    ["node", ["bitcoin_mempool_size", "bitcoin_peers"], undefined],
  ] as const
) {
  Deno.test(`--no-collector.${off}: it subscribes to nothing, calls nothing and serves no family`, async () => {
    const peer = await TestPeer.start();
    const exp = ExporterProc.start({ socketPath: peer.socketPath, args: [`--no-collector.${off}`] });
    try {
      await exp.waitLog(/connected to/);
      await exp.waitLog(new RegExp(`collectors switched off: ${off}`));
      const body = await exp.scrape();
      for (const f of families) assertEquals(body.includes(f), false, `${f} is served with ${off} off`);
      assertEquals(body.includes(`collector="${off}"`), false);
      const st = await peer.status();
      if (notice) assertEquals(st[notice], "0", `no ${notice} subscription`);
      // getNodeCount is also the network collector's (connections in/out): the node collector's own getters are these.
      if (off === "node") assertEquals(/getMempoolSize|getTotalBytesRecv|getHeaderTip/.test(st.calls), false, st.calls);
      // The others still work.
      assertEquals(body.includes("bitcoin_up 1"), true);
    } finally {
      assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
      assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
    }
  });
}

Deno.test("the UTXO trace's documented default: on, its cost said once per process (not per reconnect), deferred during IBD", async () => {
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 1");
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  const costLines = () => exp.lines.filter((l) => l.includes("validation thread wait for a round trip")).length;
  try {
    await exp.waitLog(/connected to/);
    // In IBD the node would pay a round trip for every coin of every block it downloads: no subscription yet.
    assertEquals((await peer.status()).utxo, "0");
    assertEquals(costLines(), 0);
    await peer.ok("set isInitialBlockDownload 0");
    await exp.scrape(); // a scrape re-checks IBD at once (otherwise the 10 s poll does)
    await peer.waitStatus((s) => s.utxo === "1");
    await exp.waitLog(/subscribed to UTXO cache trace/);
    assertEquals(costLines(), 1);
    // A new connection subscribes again but does not repeat the cost line.
    const seen = exp.lines.length;
    await peer.ok("restart");
    await peer.waitStatus((s) => s.utxo === "1", 20_000);
    // The peer counts the subscription when the call reaches it; the exporter logs it once the answer
    // is back: wait for a line logged since the restart (the first connection's line matched at once,
    // and a CI run read the log before the new line came).
    await exp.waitLog(/subscribed to UTXO cache trace/, 20_000, seen);
    assert(exp.lines.slice(seen).some((l) => /subscribed to UTXO cache trace/.test(l)), "resubscribed after restart");
    // The cost line would follow the subscription's; "connected to" comes after the whole attach, so
    // a repeated cost line has been logged by then.
    await exp.waitLog(/connected to /, 20_000, seen);
    assertEquals(costLines(), 1);
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});
