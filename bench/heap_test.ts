import { assertEquals } from "../tests/support/assert.ts";
import { heapUsedMiB, markCompacts } from "./heap.ts";

Deno.test("bench heap: a fall of more than 2 MiB between two samples is a mark-compact, a scavenge's is not", () => {
  // The exporter's heap used (MiB) under UTXO callbacks with a scrape a second: the old space grows,
  // scavenges take back up to the young generation, a mark-compact takes back the old garbage.
  const before = [9.0, 9.4, 8.7, 9.9, 10.2, 9.5, 10.8, 11.4, 10.6, 11.4];
  assertEquals(markCompacts(before), 0);
  assertEquals(markCompacts([...before, 16.5, 13.0, 14.3, 9.9, 14.2, 9.8]), 3);
  assertEquals(markCompacts([]), 0);
});

Deno.test("bench heap: deno_heap_size_used_bytes is read from an exposition, not a longer name", () => {
  const body =
    "# TYPE deno_heap_size_used_bytes gauge\ndeno_heap_size_used_bytes_x 1\ndeno_heap_size_used_bytes 10485760\n";
  assertEquals(heapUsedMiB(body), 10);
  assertEquals(heapUsedMiB("bitcoin_up 1\n"), undefined);
});
