/**
 * What Deno's `Conn.read` does to V8's old space once a full GC has run (BENCHMARKS.md, "Memory:
 * past the first mark-compact"). `Conn.read` adds each read's op promise to a private, long-lived
 * Set and deletes it when the read ends (ext/net/01_net.js, Deno 2.9). Each delete that empties the
 * Set gives it a new backing table. This script does the same add/delete on a long-lived Set,
 * before and after a full GC, and prints V8's heap used across each run.
 *
 *   deno run --v8-flags=--expose-gc,--max-semi-space-size=1,--min-semi-space-size=1 bench/set_churn.ts [N]
 *
 * Add `--trace-gc` to the V8 flags to see the mark-compacts the second run causes.
 */
declare function gc(): void;

const n = Number(Deno.args[0] ?? 2_000_000);
const pending = new Set<object>();
let sizes = 0;
function reads(count: number): void {
  for (let i = 0; i < count; i++) {
    const op = { i };
    pending.add(op);
    sizes += pending.size;
    pending.delete(op);
  }
}
const usedMiB = () => (Deno.memoryUsage().heapUsed / 1048576).toFixed(2);

reads(100_000);
let before = usedMiB();
reads(n);
console.log(`${n} add/delete, no full GC yet: heap used ${before} -> ${usedMiB()} MiB`);
gc();
before = usedMiB();
reads(n);
console.log(`${n} add/delete after a full GC:  heap used ${before} -> ${usedMiB()} MiB (${sizes} sizes summed)`);
