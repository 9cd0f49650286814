/**
 * A scrape while collectors are still attaching: `bitcoind_ipc_exporter_collector_success` is 1 only
 * for a collector whose values the scrape read. One still attaching, or one that attached while the
 * scrape was in flight (the scrape skipped it), has no values yet and is not a success. Through the
 * real socket (the C++ peer plays pr/trace), with the attach and the scrape held at points the test
 * chooses, so the interleaving is exact, not timed.
 */
import { assertEquals } from "./support/assert.ts";
import { TestPeer } from "./support/peer.ts";
import { ConnectionSupervisor } from "../src/supervisor.ts";
import type { Collector } from "../src/collectors/collector.ts";
import type { Session } from "../src/ipc/session.ts";
import * as branch from "../src/ipc/branch.ts";
import { memoryLogger } from "../src/log.ts";
import { timing } from "../src/cli/defaults.ts";
import { MetricsRegistry } from "../src/metrics/registry.ts";
import { samples } from "./support/exporter.ts";
import { waitFor } from "./support/wait.ts";

/** A promise the test resolves. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => open = r);
  return { wait, open };
}

/** A collector whose attach and scrape each read the node's height once the test lets them. */
class Held implements Collector {
  height: number | undefined;
  #session: Session | undefined;
  attaching = false;
  constructor(readonly name: string, readonly attachGate: Promise<void>, readonly scrapeGate: Promise<void>) {}
  families() {
    return [{ name: `test_${this.name}_height`, help: "h", type: "gauge" as const, read: () => this.height }];
  }
  async attach(session: Session): Promise<void> {
    this.attaching = true;
    await this.attachGate;
    await branch.getHeight(session);
    this.#session = session;
    this.height = undefined; // read at scrape time
  }
  detach(): void {
    this.#session = undefined;
    this.height = undefined;
  }
  async scrape(): Promise<void> {
    await this.scrapeGate;
    if (this.#session) this.height = (await branch.getHeight(this.#session)) ?? -1;
  }
}

Deno.test("a scrape during attach: a collector not yet read is collector_success 0, then 1 once read", async () => {
  const peer = await TestPeer.start({ flavour: "branch" });
  await peer.ok("set getHeight 321");
  const log = memoryLogger();
  const aScrape = gate(), bAttach = gate();
  const a = new Held("a", Promise.resolve(), aScrape.wait);
  const b = new Held("b", bAttach.wait, Promise.resolve());
  const sup = new ConnectionSupervisor({ socketPath: peer.socketPath, log, timing: timing(), collectors: [a, b] });
  const registry = new MetricsRegistry();
  registry.add(...sup.families(), ...a.families(), ...b.families());
  const exposition = () => Promise.resolve(samples(registry.render()));
  try {
    sup.start();
    await waitFor("b attaching", () => b.attaching || undefined);
    // A scrape now: `a` is attached (its read held), `b` still attaching.
    const first = sup.scrape();
    let s = await exposition();
    assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="b"}`), "0", "b is attaching");
    // `b` finishes attaching while that scrape is in flight; the scrape then ends.
    bAttach.open();
    await waitFor("attached", () => log.lines.some((l) => /connected to/.test(l)) || undefined);
    aScrape.open();
    await first;
    s = await exposition();
    assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="a"}`), "1");
    assertEquals(s.get("test_a_height"), "321");
    // The scrape skipped `b` (it was attaching when it began): no values, so no success.
    assertEquals(s.has("test_b_height"), false);
    assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="b"}`), "0", "b attached mid-scrape");
    // The next scrape reads it.
    await sup.scrape();
    s = await exposition();
    assertEquals(s.get("test_b_height"), "321");
    assertEquals(s.get(`bitcoind_ipc_exporter_collector_success{collector="b"}`), "1");
  } finally {
    aScrape.open();
    bAttach.open();
    await sup.stop();
    assertEquals(await peer.stop(), 0);
  }
});
