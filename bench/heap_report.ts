/**
 * Preloaded into the exporter by bench/mem.ts only: writes the process's memory to stderr every
 * 250 ms (`heapmon rss=B heap_used=B heap_total=B external=B`), with no other work, so that what it
 * measures is the exporter's own heap (bench/loop_monitor.ts also measures stalls, with a 1 ms timer
 * whose allocations would show here).
 */
const report = setInterval(() => {
  const m = Deno.memoryUsage();
  console.error(`heapmon rss=${m.rss} heap_used=${m.heapUsed} heap_total=${m.heapTotal} external=${m.external}`);
}, 250);
Deno.unrefTimer(report);
