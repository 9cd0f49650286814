import { assertEquals } from "../../tests/support/assert.ts";
import { Histogram, MetricsRegistry } from "./registry.ts";

Deno.test("render: the text format's escaping (as prom-client wrote it), values refreshed each scrape, families omitted", async () => {
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

Deno.test("render: labelled histograms, each label set's buckets (le last), _sum and _count; none leaves the family out", async () => {
  const a = new Histogram([0.01, 1]), b = new Histogram([0.01, 1]);
  for (const v of [0.005, 2]) a.observe(v);
  let hs: { labels: Record<string, string>; value: Histogram }[] = [
    { labels: { network: "ipv4" }, value: a },
    { labels: { network: "onion" }, value: b },
  ];
  const r = new MetricsRegistry();
  r.add({ name: "ping_seconds", help: "Ping.", type: "histogram", read: () => hs });
  assertEquals(
    await r.render(),
    [
      "# HELP ping_seconds Ping.",
      "# TYPE ping_seconds histogram",
      'ping_seconds_bucket{network="ipv4",le="0.01"} 1',
      'ping_seconds_bucket{network="ipv4",le="1"} 1',
      'ping_seconds_bucket{network="ipv4",le="+Inf"} 2',
      'ping_seconds_sum{network="ipv4"} 2.005',
      'ping_seconds_count{network="ipv4"} 2',
      'ping_seconds_bucket{network="onion",le="0.01"} 0',
      'ping_seconds_bucket{network="onion",le="1"} 0',
      'ping_seconds_bucket{network="onion",le="+Inf"} 0',
      'ping_seconds_sum{network="onion"} 0',
      'ping_seconds_count{network="onion"} 0',
      "",
    ].join("\n"),
  );
  hs = [];
  assertEquals(await r.render(), "");
});
