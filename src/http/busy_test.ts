import { assert, assertEquals } from "../../tests/support/assert.ts";
import { HTTP_BUSY_BUCKETS, HttpBusy } from "./busy.ts";
import { webHandler } from "./handler.ts";
import { HttpServer } from "./server.ts";
import { type HistogramSample, MetricsRegistry } from "../metrics/registry.ts";
import type { SharedRender } from "./shared_render.ts";
import { memoryLogger } from "../log.ts";

/** `_count` of each stage's histogram in a text exposition. */
function counts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^bitcoind_ipc_exporter_http_busy_seconds_count\{stage="(\w+)"\} (\d+)$/gm)) {
    out[m[1]] = Number(m[2]);
  }
  return out;
}

Deno.test("HTTP busy: every request is one parse, one handler and one serialize stretch; every render one render stretch", async () => {
  const busy = new HttpBusy();
  const registry = new MetricsRegistry();
  registry.add({ name: "t_big", help: "a family worth rendering", type: "gauge", read: () => 1 });
  registry.add(busy.family());
  let shared: SharedRender | undefined;
  const server = new HttpServer({
    hostname: "127.0.0.1",
    port: 0,
    busy,
    handler: webHandler({
      registry,
      refresh: () => Promise.resolve(),
      log: memoryLogger(),
      floorMs: 0, // a render per scrape
      busy,
      onRender: (r) => shared = r,
    }),
  });
  const client = Deno.createHttpClient({});
  try {
    let last = "";
    const n = 6;
    for (let i = 0; i < n; i++) {
      last = await (await fetch(`http://127.0.0.1:${server.addr.port}/metrics`, { client })).text();
    }
    // The last exposition is rendered after its own request's parse and handler stretches and
    // before its render and serialize stretches end: n, n, n - 1, n - 1.
    assertEquals(counts(last), { parse: n, handler: n, render: n - 1, serialize: n - 1 });
    assertEquals(shared?.renders, n);
    assert(busy.longest > 0 && busy.longest < HTTP_BUSY_BUCKETS[HTTP_BUSY_BUCKETS.length - 1] * 40);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("HTTP busy: a stretch lands in the bucket of its length", () => {
  const busy = new HttpBusy();
  const start = performance.now();
  while (performance.now() - start < 2) { /* 2 ms of work */ }
  busy.since("render", start);
  const h = busy.family().read() as HistogramSample[];
  const render = h.find((x) => x.labels.stage === "render")!.value;
  const i = render.counts.findIndex((c) => c === 1);
  assert(render.bounds[i] >= 0.002 && (i === 0 || render.bounds[i - 1] < 0.002 + 0.05), `bucket ${render.bounds[i]}`);
  assertEquals(h.filter((x) => x.labels.stage !== "render").every((x) => x.value.counts.every((c) => c === 0)), true);
});
