/**
 * The exporter's V8 heap as the bench reads it from its own exposition (deno_heap_size_used_bytes),
 * and the mark-compacts those samples show.
 */
import { samples } from "../tests/support/exporter.ts";

/**
 * V8 mark-compacts seen in the exporter's own deno_heap_size_used_bytes, sampled by its scrapes: a fall
 * of more than 2 MiB between two samples. A scavenge frees at most the young generation (the launcher
 * fixes it at 1 MiB a semi-space; a BENCH_EXPORTER_DENO_FLAGS with a larger one makes scavenges look
 * like mark-compacts here), and a second at 1/s is too short to refill 2 MiB of old space.
 */
export function markCompacts(heapUsedMiB: number[]): number {
  let seen = 0;
  for (let i = 1; i < heapUsedMiB.length; i++) if (heapUsedMiB[i - 1] - heapUsedMiB[i] > 2) seen++;
  return seen;
}

/** deno_heap_size_used_bytes of an exposition, in MiB (undefined: not in it). */
export function heapUsedMiB(body: string): number | undefined {
  const v = samples(body).get("deno_heap_size_used_bytes");
  return v === undefined ? undefined : Number(v) / (1024 * 1024);
}
