/**
 * Nothing the node does can make the exporter hang or lie, and nothing the exporter does on the
 * way out can take the node down: a frozen node, a slow call, one failing value, a stop at an
 * awkward moment. Each test is named after what it protects.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { InProcessExporter } from "./support/inprocess.ts";
import { scrapeUntil, waitFor } from "./support/wait.ts";

Deno.test("a frozen node (SIGSTOP) reads as bitcoin_up 0 with the socket kept open, and recovers when it answers", async () => {
  const peer = await TestPeer.start();
  const exp = new InProcessExporter({
    socketPath: peer.socketPath,
    timing: { unresponsiveMs: 600, scrapeTimeoutMs: 200, scrapeCacheMs: 0, callTimeoutMs: 300 },
  });
  let frozen = false;
  try {
    await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "1", "connected");
    Deno.kill(peer.child.pid, "SIGSTOP");
    frozen = true;
    // Each scrape's read is abandoned after its timeout; the unanswered call ages past the limit.
    const down = await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "0", "the node read as down");
    const s = samples(down);
    assert(Number(s.get("bitcoind_ipc_exporter_node_unanswered_seconds")) >= 0.6, down);
    assertEquals(s.get('bitcoind_ipc_exporter_collector_success{collector="node"}'), "0");
    assertEquals(s.has("bitcoin_mempool_size"), false);
    Deno.kill(peer.child.pid, "SIGCONT");
    frozen = false;
    await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "1" && s.has("bitcoin_mempool_size"), "back");
    // The same connection all along: closing it while the node was frozen would have killed it
    // (live subscriptions) once it resumed.
    const st = await peer.status();
    assertEquals([st.connected, st.notifications, st.utxo], ["1", "1", "1"]);
    assertEquals(samples(await exp.scrape()).get("bitcoind_ipc_exporter_connects_total"), "1");
  } finally {
    if (frozen) Deno.kill(peer.child.pid, "SIGCONT");
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("one value the node fails to give leaves out that value alone, and the collector says it failed", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to/);
    await peer.ok("throw getMempoolSize");
    const s = samples(await exp.scrape());
    assertEquals(s.has("bitcoin_mempool_size"), false);
    for (
      const kept of ["bitcoin_header_height", "bitcoin_mempool_bytes", "bitcoin_peers", "bitcoin_bytes_sent_total"]
    ) {
      assert(s.has(kept), `${kept} is served while getMempoolSize fails`);
    }
    assertEquals(s.get('bitcoind_ipc_exporter_collector_success{collector="node"}'), "0");
    assertEquals(s.get('bitcoind_ipc_exporter_collector_success{collector="chain"}'), "1");
    await exp.waitLog(/collector node: reading node state failed: mempoolSize: .*getMempoolSize failed/);
    await peer.ok("throw none");
    await scrapeUntil(
      () => exp.scrape(),
      (x) =>
        x.has("bitcoin_mempool_size") && x.get('bitcoind_ipc_exporter_collector_success{collector="node"}') === "1",
      "recovered",
    );
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("a slow read does not fail the next scrape: the next call waits for the late answer, never 'thread busy'", async () => {
  const peer = await TestPeer.start();
  const exp = new InProcessExporter({
    socketPath: peer.socketPath,
    timing: { scrapeTimeoutMs: 300, scrapeCacheMs: 0, unresponsiveMs: 60_000 },
  });
  try {
    await scrapeUntil(() => exp.scrape(), (s) => s.get("bitcoin_up") === "1", "connected");
    await peer.ok("stall getHeaderTip");
    const first = samples(await exp.scrape()); // its round gives up on the stalled call
    assertEquals(first.has("bitcoin_header_height"), false);
    const next = exp.scrape(); // queued behind the stalled call on the same node Thread
    await peer.ok("stall none");
    const s = samples(await next);
    assert(!exp.lines.some((l) => l.includes("thread busy")), exp.lines.join("\n"));
    await scrapeUntil(
      () => exp.scrape(),
      (x) => x.has("bitcoin_header_height") && x.has("bitcoin_mempool_size"),
      "all",
    );
    assert(s.has("bitcoin_up"));
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

for (
  const [flavour, stall] of [
    ["branch", "handleNotifications"],
    ["branch", "traceUtxoCache"],
    ["branch", "getMempoolSize"],
    ["v30", "isInitialBlockDownload"],
    ["v31", "getTip"],
    ["master", "executeRpc"],
  ] as const
) {
  Deno.test(`a stop while ${stall} is in flight (${flavour}): clean log, subscriptions disconnected first, node survives`, async () => {
    const peer = await TestPeer.start({ flavour });
    const exp = ExporterProc.start({ socketPath: peer.socketPath });
    try {
      if (stall === "getMempoolSize" || stall === "isInitialBlockDownload" || stall === "executeRpc") {
        await exp.waitLog(/connected to/);
        await peer.ok(`stall ${stall}`);
        void exp.scrape().catch(() => {});
      } else {
        await peer.ok(`stall ${stall}`);
        await exp.waitLog(/node flavour/);
      }
      await waitFor(`${stall} reached the node`, async () => (await peer.status()).calls.includes(stall) || undefined);
      const stopped = exp.stop("SIGTERM");
      await exp.waitLog(/shutting down/);
      await peer.ok("stall none");
      assertEquals(await stopped, 0, exp.lines.join("\n"));
      const noisy = exp.lines.filter((l) => / (ERROR|WARN) /.test(l) || l.includes("retrying"));
      assertEquals(noisy, [], "a clean stop logs as clean");
    } finally {
      assertEquals(await peer.stop(), 0, `the node survived; notices: ${peer.notices.join(" | ")}`);
    }
  });
}
