import { assert, assertEquals, assertRejects } from "../../tests/support/assert.ts";
import { SharedRender } from "./shared_render.ts";
import { webHandler } from "./handler.ts";
import { HttpServer } from "./server.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { memoryLogger } from "../log.ts";

function counting(floorMs: number, clock = { t: 0 }) {
  const calls = { refresh: 0, render: 0 };
  let gate: Promise<void> = Promise.resolve();
  const r = new SharedRender({
    refresh: async () => {
      calls.refresh++;
      await gate;
    },
    render: (f) => {
      calls.render++;
      return `# ${f} ${calls.refresh}\n` + "x 1\n".repeat(100);
    },
    floorMs,
    now: () => clock.t,
  });
  return { r, calls, clock, hold: (p: Promise<void>) => gate = p };
}

Deno.test("shared render: requests during a refresh share it, one render per format, gzip made from it", async () => {
  const { r, calls, hold } = counting(500);
  let open!: () => void;
  hold(new Promise((res) => open = res));
  const waiting = Array.from({ length: 10 }, (_, i) => r.body(i % 2 ? "openmetrics" : "text", i % 4 === 0));
  open();
  const bodies = await Promise.all(waiting);
  assertEquals(calls.refresh, 1);
  assertEquals(calls.render, 2, "one text and one OpenMetrics render for ten requests");
  assert(bodies[0].gzip && !bodies[2].gzip);
  assertEquals(r.refreshes, 1);
  assertEquals(r.renders, 2);
});

Deno.test("shared render: within the floor the last bodies are reused; after it, one new refresh", async () => {
  const { r, calls, clock } = counting(500);
  for (let i = 0; i < 50; i++) {
    clock.t = i * 10; // a loop of 50 requests in 490 ms
    await r.body("text", false);
  }
  assertEquals(calls.refresh, 1);
  assertEquals(calls.render, 1);
  clock.t = 500;
  const b = await r.body("text", false);
  assertEquals(calls.refresh, 2);
  assert(new TextDecoder().decode(b.body).startsWith("# text 2"));
});

Deno.test("shared render: a failed refresh fails its waiters and is not kept", async () => {
  let fail = true;
  const r = new SharedRender({
    refresh: () => fail ? Promise.reject(new Error("node gone")) : Promise.resolve(),
    render: () => "ok\n",
    floorMs: 500,
    now: () => 0,
  });
  await assertRejects(() => Promise.all([r.body("text", false), r.body("text", false)]), Error, "node gone");
  fail = false;
  assertEquals(new TextDecoder().decode((await r.body("text", false)).body), "ok\n");
  assertEquals(r.refreshes, 2);
});

/** The real HTTP server and /metrics handler on loopback, with a refresh that counts. */
function serve(o: { floorMs: number; requestsPerSecond?: number }) {
  let shared!: SharedRender;
  const log = memoryLogger();
  const registry = new MetricsRegistry();
  let refreshes = 0;
  registry.add({ name: "t_refreshes", help: "refreshes", type: "gauge", read: () => refreshes });
  const server = new HttpServer({
    hostname: "127.0.0.1",
    port: 0,
    requestsPerSecond: o.requestsPerSecond,
    onPaced: (m) => log.warn(m),
    handler: webHandler({
      registry,
      refresh: async () => {
        refreshes++;
        await new Promise((r) => setTimeout(r, 20)); // a round of node reads takes a while
      },
      log,
      floorMs: o.floorMs,
      onRender: (r) => shared = r,
    }),
  });
  return { server, shared: () => shared, log, port: server.addr.port };
}

Deno.test("HTTP: concurrent scrapes on separate connections share one refresh and one render", async () => {
  const s = serve({ floorMs: 60_000 });
  try {
    const clients = Array.from({ length: 10 }, () => Deno.createHttpClient({}));
    const answers = await Promise.all(
      clients.map((client) => fetch(`http://127.0.0.1:${s.port}/metrics`, { client }).then((r) => r.text())),
    );
    for (const c of clients) c.close();
    assertEquals(new Set(answers).size, 1, "every scraper got the same bytes");
    assertEquals(s.shared().refreshes, 1);
    assertEquals(s.shared().renders, 1);
  } finally {
    await s.server.shutdown();
  }
});

Deno.test("HTTP: a client looping on /metrics is paced to its share and cannot raise the render rate above the floor", async () => {
  const floorMs = 200, rate = 5;
  const s = serve({ floorMs, requestsPerSecond: rate });
  const c = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    const n = 25;
    const start = performance.now();
    const buf = new Uint8Array(65536);
    for (let i = 0; i < n; i++) {
      await c.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
      let got = "";
      while (!/\r\n\r\n[\s\S]*t_refreshes \d+\n$/.test(got)) {
        const k = await c.read(buf);
        assert(k !== null, "connection kept open");
        got += new TextDecoder().decode(buf.subarray(0, k));
      }
      assert(got.startsWith("HTTP/1.1 200"), got);
    }
    const elapsed = performance.now() - start;
    // Counted, not timed: the renders done are bounded by the time the loop took, whatever it took.
    const bound = Math.floor(elapsed / floorMs) + 1;
    assert(s.shared().refreshes <= bound, `${s.shared().refreshes} refreshes in ${elapsed} ms (floor ${floorMs})`);
    assert(s.shared().refreshes < n, "a loop of requests did not cost a render each");
    // The burst (twice the rate) went at once; every request after it waited for its turn.
    assertEquals(s.server.stats.paced, n - 2 * rate);
    const paced = s.log.lines.filter((l) => l.includes("requests per second on one connection"));
    assertEquals(paced.length, 1, "the pacing is logged once");
  } finally {
    c.close();
    await s.server.shutdown();
  }
});

Deno.test("shared render: a change of state (the node connects or goes away) is rendered at once, floor or not", async () => {
  let up = 0;
  let n = 0;
  const r = new SharedRender({
    refresh: () => Promise.resolve(),
    render: () => `bitcoin_up ${up} ${++n}\n`,
    floorMs: 60_000,
    now: () => 0,
    state: () => up,
  });
  const text = async () => new TextDecoder().decode((await r.body("text", false)).body);
  assertEquals(await text(), "bitcoin_up 0 1\n");
  assertEquals(await text(), "bitcoin_up 0 1\n", "within the floor, in the same state: reused");
  up = 1;
  assertEquals(await text(), "bitcoin_up 1 2\n");
  assertEquals(r.refreshes, 2);
});
