/**
 * The exporter's own build and process metrics, as every Prometheus exporter serves them
 * (`*_build_info`, `process_*`), within the narrow permissions: only what Deno gives without a
 * grant. Deno 2.9 asks for `--allow-all` to read anything under /proc/self (stat, statm, fd,
 * limits), so `process_virtual_memory_bytes`, `process_open_fds` and `process_max_fds` are left
 * out rather than widen the permissions (README "Deno permissions").
 */
import type { Family } from "./registry.ts";

export function buildInfoFamily(version: string): Family {
  return {
    name: "bitcoind_ipc_exporter_build_info",
    help:
      "A metric with a constant '1' value labeled by the exporter's version and the Deno, V8 and TypeScript it runs on.",
    type: "gauge",
    read: () => [{
      labels: { version, deno: Deno.version.deno, v8: Deno.version.v8, typescript: Deno.version.typescript },
      value: 1,
    }],
  };
}

export function processFamilies(): Family[] {
  // performance.timeOrigin: when this process's runtime started, in Unix milliseconds.
  const start = Math.round(performance.timeOrigin) / 1000;
  // Deno.memoryUsage costs ~20 µs (more than rendering every other family): once per scrape, for
  // the four families that read it.
  let memory: Deno.MemoryUsage | undefined;
  let memoryAt = -Infinity;
  const mem = (): Deno.MemoryUsage => {
    const now = performance.now();
    if (!memory || now - memoryAt > 100) {
      memory = Deno.memoryUsage();
      memoryAt = now;
    }
    return memory;
  };
  return [
    {
      name: "process_cpu_seconds_total",
      help: "Total user and system CPU time spent in seconds.",
      type: "counter",
      read: () => {
        // getrusage(2) in microseconds, no permission needed. Deno.cpuUsage is what node:process's
        // cpuUsage calls, without loading node:process (+3 MiB RSS over capnp-es, issue 21); Deno
        // 2.9's declarations omit it, so it is looked up, and the family is left out without it.
        const u = (Deno as { cpuUsage?: () => { user: number; system: number } }).cpuUsage?.();
        return u ? (u.user + u.system) / 1e6 : undefined;
      },
    },
    {
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      type: "gauge",
      read: () => mem().rss,
    },
    {
      name: "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds.",
      type: "gauge",
      read: () => start,
    },
    {
      name: "deno_heap_size_total_bytes",
      help: "V8 heap size (allocated) in bytes.",
      type: "gauge",
      read: () => mem().heapTotal,
    },
    {
      name: "deno_heap_size_used_bytes",
      help: "V8 heap used in bytes.",
      type: "gauge",
      read: () => mem().heapUsed,
    },
    {
      name: "deno_external_memory_bytes",
      help: "Memory of JavaScript objects bound to C++ objects (buffers) in bytes.",
      type: "gauge",
      read: () => mem().external,
    },
  ];
}
