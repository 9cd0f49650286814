/**
 * Preloaded into the exporter by the bench only (`deno run --preload=bench/loop_monitor.ts`; never in
 * a deployment): measures how long the event loop the node's callbacks share was held, as the
 * lateness of a 1 ms timer, and reports the process's memory. Every `WINDOW_MS` it writes one line
 * to stderr:
 *
 *   loopmon max_late_ms=X rss=B heap_used=B heap_total=B external=B
 *
 * `max_late_ms` is the longest a 1 ms timer fired late in that window: an upper bound on the longest
 * synchronous stretch (scheduler noise of a loaded machine included, so compare with an idle window).
 * It needs no permission, and costs one timer wake-up per millisecond: the bench uses it only in its
 * stall and memory workloads, never where callback latency is measured against the C++ client.
 */
const TICK_MS = 1;
const WINDOW_MS = 250;
let max = 0;
let last = performance.now();
function tick(): void {
  const now = performance.now();
  const late = now - last - TICK_MS;
  if (late > max) max = late;
  last = now;
  Deno.unrefTimer(setTimeout(tick, TICK_MS));
}
// Neither timer may keep the exporter alive after it has shut down.
Deno.unrefTimer(setTimeout(tick, TICK_MS));
const report = setInterval(() => {
  const m = Deno.memoryUsage();
  console.error(
    `loopmon max_late_ms=${
      max.toFixed(2)
    } rss=${m.rss} heap_used=${m.heapUsed} heap_total=${m.heapTotal} external=${m.external}`,
  );
  max = 0;
}, WINDOW_MS);
Deno.unrefTimer(report);
