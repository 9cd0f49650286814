/**
 * Peer quality by network through the real socket: the minimum pings as a snapshot histogram and
 * the BIP152 high-bandwidth counts, from Node.getNodesStats on a branch (pr-trace: minPingTime in
 * microseconds, microseconds::max() for a peer without a ping) and from getpeerinfo on stock v32
 * (the recorded real answer: minping 0.000514586 s, bip152_hb_from true). The families are served
 * whole, byte for byte (tests/support/exposition.ts peerQuality), and follow the peers as they change.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc } from "./support/exporter.ts";
import { scrapeUntil } from "./support/wait.ts";
import { peerQuality } from "./support/exposition.ts";

/** The two families' text out of an exposition. */
function qualityText(body: string): string {
  return body.split("\n").filter((l) => /bitcoin_peer_ping_seconds|bitcoin_peers_high_bandwidth/.test(l))
    .map((l) => l + "\n").join("");
}

Deno.test("pr-trace: peer ping and BIP152 high-bandwidth peers by network from Node.getNodesStats, snapshot not cumulative", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await peer.ok("set peers 2 0 1 1 2 40000 1 0"); // 2 outbound ipv4, 40 ms, high-bandwidth to
    await peer.ok("set peers 1 1 1 0 2 none 0 1"); // inbound ipv4, no pong yet, high-bandwidth from
    await peer.ok("set peers 1 0 3 4 1 3000000 0 0"); // block-relay-only onion, 3 s
    await exp.waitLog(/subscribed to chain notifications/);
    let body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.has('bitcoin_peers_high_bandwidth{direction="to",network="ipv4"}'),
      "the peer quality families",
    );
    assertEquals(
      qualityText(body),
      peerQuality({
        ipv4: { pings: [0.04, 0.04], hbTo: 2, hbFrom: 1 },
        onion: { pings: [3], hbTo: 0, hbFrom: 0 },
      }),
    );
    // The peers change: the histogram is remade from the peers connected now (not added to).
    await peer.ok("set peers none");
    await peer.ok("set peers 1 0 2 1 2 250 0 0"); // one ipv6 peer, 250 µs
    body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.has('bitcoin_peer_ping_seconds_count{network="ipv6"}'),
      "the changed peers",
    );
    assertEquals(qualityText(body), peerQuality({ ipv6: { pings: [0.00025], hbTo: 0, hbFrom: 0 } }));
    // No peers: both families absent, not zero.
    await peer.ok("set peers none");
    body = await scrapeUntil(
      () => exp.scrape(),
      (s) => !s.has('bitcoin_peer_ping_seconds_count{network="ipv6"}'),
      "no peers",
    );
    assertEquals(qualityText(body), "");
    assertStringIncludes(body, "bitcoin_banned_addresses");
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("stock v32: peer ping and BIP152 high-bandwidth peers from getpeerinfo (the recorded real answer, then a scripted one)", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    let body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.has('bitcoin_peer_ping_seconds_count{network="not_publicly_routable"}'),
      "the recorded peer",
    );
    assertEquals(
      qualityText(body),
      peerQuality({ not_publicly_routable: { pings: [0.000514586], hbTo: 0, hbFrom: 1 } }),
    );
    // A peer without minping (no pong yet) is not observed; one with a bad minping is a problem, logged.
    const p = (network: string, minping: number | undefined, to: boolean, from: boolean) => ({
      inbound: false,
      network,
      connection_type: "outbound-full-relay",
      transport_protocol_type: "v2",
      ...(minping === undefined ? {} : { minping }),
      bip152_hb_to: to,
      bip152_hb_from: from,
    });
    await peer.ok(
      `rpc getpeerinfo ${JSON.stringify([p("ipv4", 0.012, true, false), p("ipv4", undefined, true, true)])}`,
    );
    body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.has('bitcoin_peer_ping_seconds_count{network="ipv4"}'),
      "the scripted peers",
    );
    assertEquals(qualityText(body), peerQuality({ ipv4: { pings: [0.012], hbTo: 2, hbFrom: 1 } }));
    await peer.ok(`rpc getpeerinfo ${JSON.stringify([{ ...p("ipv4", 0.012, true, false), minping: "fast" }])}`);
    body = await scrapeUntil(
      () => exp.scrape(),
      (s) => ![...s.keys()].some((k) => k.startsWith("bitcoin_peer_ping_seconds")),
      "the malformed answer",
    );
    assert(!/bitcoin_peer_ping_seconds|bitcoin_peer_connections\{/.test(body), "left out, not zero");
    await exp.waitLog(/a peer's minping is not a number/);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});
