import { assertEquals } from "../tests/support/assert.ts";
import { Histogram, MetricsRegistry } from "./registry.ts";

Deno.test("render: prom-client's formatting and escaping, values refreshed each scrape, families omitted", async () => {
  let n = 1;
  let present = true;
  const r = new MetricsRegistry();
  r.add(
    { name: "a_total", help: "A counter.", type: "counter", read: () => n },
    {
      name: "b",
      help: "Help with a backslash \\ and\nnewline.",
      type: "gauge",
      read: () => [{ labels: { v: 'q"uo\\te\nx' }, value: n / 2 }, { labels: { v: "plain" }, value: NaN }],
    },
    { name: "c", help: "Omitted when absent.", type: "gauge", read: () => present ? 7 : undefined },
    { name: "d_total", help: "Exact.", type: "counter", read: () => 2n ** 60n + 1n },
  );
  const first = await r.render();
  assertEquals(
    first,
    [
      "# HELP a_total A counter.",
      "# TYPE a_total counter",
      "a_total 1",
      "# HELP b Help with a backslash \\\\ and\\nnewline.",
      "# TYPE b gauge",
      'b{v="q\\"uo\\\\te\\nx"} 0.5',
      'b{v="plain"} NaN',
      "# HELP c Omitted when absent.",
      "# TYPE c gauge",
      "c 7",
      "# HELP d_total Exact.",
      "# TYPE d_total counter",
      "d_total 1152921504606846977",
      "",
    ].join("\n"),
  );
  n = 3;
  present = false;
  const second = await r.render();
  assertEquals(second.includes("a_total 3\n"), true);
  assertEquals(second.includes('b{v="q\\"uo\\\\te\\nx"} 1.5\n'), true);
  assertEquals(second.includes("# HELP c"), false);
});

Deno.test("render: a histogram as cumulative le buckets, _sum and _count", async () => {
  const h = new Histogram([1, 10, 100]);
  for (const v of [0, 1, 5, 10, 11, 1000]) h.observe(v);
  const r = new MetricsRegistry();
  r.add({ name: "events_per_block", help: "Per block.", type: "histogram", read: () => h });
  assertEquals(
    await r.render(),
    [
      "# HELP events_per_block Per block.",
      "# TYPE events_per_block histogram",
      'events_per_block_bucket{le="1"} 2',
      'events_per_block_bucket{le="10"} 4',
      'events_per_block_bucket{le="100"} 5',
      'events_per_block_bucket{le="+Inf"} 6',
      "events_per_block_sum 1027",
      "events_per_block_count 6",
      "",
    ].join("\n"),
  );
});

Deno.test("render: byte for byte what prom-client writes for the same families (help, labels, values)", async () => {
  // prom-client is the reference for the format (the exporter no longer loads it: 15 MiB of RSS).
  const { default: client } = await import("prom-client");
  const families = [
    { name: "plain_total", help: "A counter.", type: "counter" as const, samples: [{ value: 42 }] },
    {
      name: "tricky",
      help: 'Backslash \\ newline \n quote " tab \t unicode é ✓.',
      type: "gauge" as const,
      samples: [
        { labels: { a: 'q"uo\\te\nx', b: "" }, value: -0.000001 },
        { labels: { a: "é✓ {}=,", b: "\\n" }, value: 1e21 },
        { labels: { a: "x", b: "y" }, value: Infinity },
        { labels: { a: "y", b: "z" }, value: -Infinity },
        { labels: { a: "z", b: "w" }, value: 2 ** 53 + 2 },
      ],
    },
  ];
  const ours = new MetricsRegistry();
  const prom = new client.Registry();
  for (const f of families) {
    ours.add({ name: f.name, help: f.help, type: f.type, read: () => f.samples });
    prom.registerMetric({
      name: f.name,
      help: f.help,
      type: f.type,
      aggregator: "sum",
      get: () => ({
        name: f.name,
        help: f.help,
        type: f.type,
        aggregator: "sum",
        values: f.samples.map((s) => ({ value: s.value, labels: "labels" in s ? s.labels : {} })),
      }),
      // deno-lint-ignore no-explicit-any
    } as any);
  }
  const expected = (await prom.metrics()).split("\n").filter((l) => l !== "").join("\n") + "\n";
  assertEquals(await ours.render(), expected);
  assertEquals(await ours.render(), expected, "the second render, from the cached lines, is the same");
});
