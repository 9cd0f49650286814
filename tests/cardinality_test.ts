/**
 * Bounded cardinality on a large node: 125 peers of every network, connection type and transport,
 * and 10,000 bans, answered by the C++ peer through JSON-RPC over IPC (v32) and through the Node
 * getters (pr-trace: getNodesStats, getBanned). Every family of the exposition must stay within the
 * series bound METRICS.md states for it, and no label may carry a peer's or a ban's address.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ExporterProc } from "./support/exporter.ts";
import { scrapeUntil } from "./support/wait.ts";
import { bigBanList, bigPeerInfo } from "./support/big_node.ts";
import { CONNECTION_TYPE_NAMES, NETWORK_NAMES, TRANSPORT_NAMES } from "../src/ipc/branch.ts";

const METRICS_MD = new URL("../METRICS.md", import.meta.url).pathname;

/** METRICS.md's "Series bounds" table: family -> the most series it can have. */
export function seriesBounds(): Map<string, number> {
  const text = Deno.readTextFileSync(METRICS_MD);
  const section = text.slice(text.indexOf("## Series bounds"));
  const bounds = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([a-z_:]+)`\s*\|\s*(\d+)\s*\|/gm)) bounds.set(m[1], Number(m[2]));
  return bounds;
}

/** Series per family in an exposition (histogram series counted under their family's name). */
export function seriesPerFamily(body: string): Map<string, number> {
  const types = new Map<string, string>();
  for (const m of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  const counts = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    let name = line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)![0];
    const base = name.replace(/_(bucket|sum|count)$/, "");
    if (types.get(base) === "histogram") name = base;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** Holds an exposition to METRICS.md's bounds; `peers` the distinct label sets expected, summing to 125. */
function checkBounds(body: string, labelSets: number): void {
  const bounds = seriesBounds();
  assert(bounds.size >= 20, `METRICS.md's series bounds table has ${bounds.size} rows`);
  const series = seriesPerFamily(body);
  for (const [family, n] of series) {
    const bound = bounds.get(family);
    assert(bound !== undefined, `${family} has no series bound in METRICS.md`);
    assert(n <= bound, `${family}: ${n} series, more than METRICS.md's bound of ${bound}`);
  }
  // Every peer is counted once, under label sets only (no address, id or session in any label).
  const peers = [...body.matchAll(/^bitcoin_peer_connections\{[^}]*\} (\d+)$/gm)];
  assertEquals(peers.reduce((a, m) => a + Number(m[1]), 0), 125);
  assertEquals(peers.length, labelSets);
  // Peer quality: every peer that has a ping observed once, the BIP152 flags counted (big_node.ts: i % 5, 3, 4).
  const sum = (re: RegExp) => [...body.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  assertEquals(sum(/^bitcoin_peer_ping_seconds_count\{[^}]*\} (\d+)$/gm), 100);
  // Pings of 10^(i % 8 - 4) s (µs on the branches): the same buckets either way, so the unit is right.
  const pinged = Array.from({ length: 125 }, (_, i) => i).filter((i) => i % 5 !== 0);
  assertEquals(
    sum(/^bitcoin_peer_ping_seconds_bucket\{[^}]*le="0.001"\} (\d+)$/gm),
    pinged.filter((i) => i % 8 <= 1).length,
  );
  assertEquals(
    sum(/^bitcoin_peer_ping_seconds_bucket\{[^}]*le="10"\} (\d+)$/gm),
    pinged.filter((i) => i % 8 <= 5).length,
  );
  assertEquals(sum(/^bitcoin_peers_high_bandwidth\{direction="to",[^}]*\} (\d+)$/gm), 42);
  assertEquals(sum(/^bitcoin_peers_high_bandwidth\{direction="from",[^}]*\} (\d+)$/gm), 32);
  assert(!/203\.0\.113|10\.0\.\d+\.\d+|session/.test(body), "an address in a label");
  const total = [...series.values()].reduce((a, b) => a + b, 0);
  assert(total <= [...bounds.values()].reduce((a, b) => a + b, 0), `${total} series`);
  assert(body.length < 64 * 1024, `the exposition is ${body.length} bytes`);
}

Deno.test("a large node (125 peers of every type, 10,000 bans): every family within its METRICS.md series bound", async () => {
  const peer = await TestPeer.start({ flavour: "master" });
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    await peer.ok(`rpc getpeerinfo ${JSON.stringify(bigPeerInfo(125))}`);
    await peer.ok(`rpc listbanned ${JSON.stringify(bigBanList(10_000))}`);
    await exp.waitLog(/connected to .* \(flavour v32\)/);
    const body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.get("bitcoin_banned_addresses") === "10000",
      "the big answers",
    );
    // One series per distinct label set among the peers (direction follows from the connection type).
    const sets = new Set(
      bigPeerInfo(125).map((p) => {
        const o = p as Record<string, unknown>;
        return `${o.network}/${o.connection_type}/${o.transport_protocol_type}`;
      }),
    );
    checkBounds(body, sets.size);
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});

Deno.test("a large branch node (125 peers through Node.getNodesStats, 10,000 bans through getBanned): within the bounds", async () => {
  const peer = await TestPeer.start();
  const exp = ExporterProc.start({ socketPath: peer.socketPath });
  try {
    // 125 peers, one per (network, connection type, transport) in turn, plus an enum value no
    // table knows (network 9): it is served as `unknown`, not as a new label value.
    const sets = new Set<string>();
    for (let i = 0; i < 125; i++) {
      const net = i === 124 ? 9 : i % NETWORK_NAMES.length;
      const type = Math.floor(i / NETWORK_NAMES.length) % CONNECTION_TYPE_NAMES.length;
      const transport = i % TRANSPORT_NAMES.length;
      // Peer quality as big_node.ts gives it on v32: no ping yet on every fifth, BIP152 flags by i % 3 and i % 4.
      const ping = i % 5 === 0 ? "none" : String(10 ** ((i % 8) + 2));
      await peer.ok(
        `set peers 1 ${type === 0 ? 1 : 0} ${net} ${type} ${transport} ${ping} ${i % 3 === 0 ? 1 : 0} ${
          i % 4 === 0 ? 1 : 0
        }`,
      );
      sets.add(`${net === 9 ? "unknown" : net}/${type}/${transport}`);
    }
    await peer.ok("set banned 10000");
    await exp.waitLog(/subscribed to chain notifications/);
    const body = await scrapeUntil(
      () => exp.scrape(),
      (s) => s.get("bitcoin_banned_addresses") === "10000",
      "the big answers",
    );
    checkBounds(body, sets.size);
    assert(/network="unknown"/.test(body), "the unknown network value");
  } finally {
    assertEquals(await exp.stop("SIGTERM"), 0, exp.lines.join("\n"));
    assertEquals(await peer.stop(), 0, peer.notices.join(" | "));
  }
});
