/**
 * Signals, end to end: the exporter subscribed to a pr/trace node (the C++ peer, which dies with
 * exit 71 like the node when the socket closes under a live subscription) receives every signal
 * in src/signals.ts's table. None may end it abruptly.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc, samples } from "./support/exporter.ts";
import { SIGNAL_POLICY, type SignalPolicy } from "../src/signals.ts";

const policies = Object.entries(SIGNAL_POLICY) as [Deno.Signal, SignalPolicy][];
const ignored = policies.filter(([, p]) => p.action === "ignore").map(([s]) => s);
const shutdown = policies.filter(([, p]) => p.action === "shutdown").map(([s]) => s);

async function subscribed(peer: TestPeer): Promise<ExporterProc> {
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  await exp.waitLog(/subscribed to UTXO cache trace/);
  await peer.waitStatus((s) => s.notifications === "1" && s.utxo === "1");
  return exp;
}

Deno.test("SIGHUP, SIGUSR1, SIGUSR2: one line each, the exporter keeps running and subscribed, the node survives", async () => {
  assertEquals(ignored.sort(), ["SIGHUP", "SIGUSR1", "SIGUSR2"]);
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  const exp = await subscribed(peer);
  try {
    for (const round of [1, 2]) {
      for (const signal of ignored) {
        const seen = exp.lines.filter((l) => l.includes(`INFO  ${signal}: `)).length;
        exp.child.kill(signal);
        // Handled: its line is written (once per signal; the logger's rate limit allows both rounds).
        await waitFor(
          `the ${signal} line (round ${round})`,
          () => exp.lines.filter((l) => l.includes(`INFO  ${signal}: `)).length > seen,
        );
        assertEquals(samples(await exp.scrape()).get("bitcoin_up"), "1", `serving after ${signal}`);
      }
    }
    assertStringIncludes(exp.lines.join("\n"), "SIGHUP: nothing to reload");
    // Still subscribed, and the subscriptions still deliver.
    await peer.ok(`fire blockConnected 200 ${"77".repeat(32)} 0`);
    await peer.ok("fire utxoAdd 5 200 0 0");
    const m = samples(await exp.scrape());
    assertEquals([m.get("bitcoin_blocks_connected_total"), m.get("bitcoin_utxo_cache_add_total")], ["1", "1"]);
    const st = await peer.status();
    assertEquals([st.connected, st.notifications, st.utxo], ["1", "1", "1"]);
    assert(!peer.notices.some((n) => n.startsWith("crash")), peer.notices.join(" | "));
  } finally {
    assertEquals(await exp.stop(), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("SIGQUIT, SIGINT, SIGTERM: orderly shutdown, every subscription disconnected before the close, exit 0", async () => {
  assertEquals(shutdown.sort(), ["SIGINT", "SIGQUIT", "SIGTERM"]);
  const peer = await TestPeer.start();
  await peer.ok("set isInitialBlockDownload 0");
  try {
    for (const signal of shutdown) {
      const from = peer.notices.length;
      const exp = await subscribed(peer);
      assertEquals(await exp.stop(signal), 0, `${signal}: ${exp.lines.join("\n")}`);
      assertStringIncludes(exp.lines.join("\n"), `received ${signal}: shutting down`);
      await peer.waitNotice(/^disconnected/, 10_000, from);
      const seen = peer.notices.slice(from).filter((n) => /^(unsubscribed|disconnected|crash|hazard)/.test(n));
      assertEquals(
        [...seen.slice(0, 2).sort(), ...seen.slice(2)],
        ["unsubscribed notifications", "unsubscribed utxo", "disconnected"],
        `${signal}: what the node saw`,
      );
    }
  } finally {
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

async function waitFor(what: string, pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
