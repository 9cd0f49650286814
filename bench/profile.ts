/**
 * `deno run -A bench/profile.ts [--calls N] [--event utxo|tx|block|block2mb] [--scrapers K] [--loop]`:
 * profiles the exporter (Deno's --cpu-prof, V8's sampling profiler) while the peer fires N callbacks,
 * optionally with K clients scraping /metrics (once a second each, or looping with --loop), then
 * prints where its CPU time went: by category (idle, garbage collection, socket ops, our code,
 * capnp-es, the HTTP server, rendering) and the top functions by self time.
 *
 *   deno run -A bench/profile.ts                               UTXO adds, no scrapers
 *   deno run -A bench/profile.ts --event tx                    transactionAddedToMempool (a Context)
 *   deno run -A bench/profile.ts --scrapers 10 --loop          the scrape storm
 *   BENCH_EXPORTER_DENO_FLAGS=... deno run -A bench/profile.ts under other flags
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

const arg = (name: string, dflt: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : dflt;
};
const calls = Number(arg("--calls", "100000"));
const event = arg("--event", "utxo");
const scrapers = Number(arg("--scrapers", "0"));
const loop = Deno.args.includes("--loop");
const COMMANDS: Record<string, string> = {
  utxo: "fire utxoAdd 5000000000 800000 1 0",
  tx: `fire txAdded 02000000${"00".repeat(246)}`,
  block: `fire blockConnected 800000 ${"44".repeat(32)} 0`,
  block2mb: `fire blockConnected 800000 ${"44".repeat(32)} 0 2000000`,
};

const dir = await Deno.makeTempDir({ prefix: "exporter-prof-" });
const peer = await TestPeer.start();
await peer.ok("set isInitialBlockDownload 0");
const flags = (Deno.env.get("BENCH_EXPORTER_DENO_FLAGS") ?? "").split(" ").filter((f) => f);
const exp = ExporterProc.start({
  scrapeFloor: null,
  socketPath: peer.socketPath,
  denoFlags: [...flags, "--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=100"],
});
await exp.waitLog(/subscribed to UTXO cache trace/);
const stop = { done: false };
const scraping = Promise.all(Array.from({ length: scrapers }, async (_, i) => {
  if (!loop) await new Promise((r) => setTimeout(r, (i / scrapers) * 1000));
  while (!stop.done) {
    const t0 = performance.now();
    await (await fetch(exp.url())).text();
    if (!loop) await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - t0))));
  }
}));
// Warm up (JIT), then the measured run.
await peer.ok(`repeat ${Math.min(20_000, calls)} ${COMMANDS[event]}`, 600_000);
console.log(await peer.ok(`repeat ${calls} ${COMMANDS[event]}`, 600_000));
stop.done = true;
await scraping;
await exp.stop();
await peer.stop();

const file = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".cpuprofile"))!.name;
const prof = JSON.parse(await Deno.readTextFile(`${dir}/${file}`)) as {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
};
await Deno.remove(dir, { recursive: true });
const byId = new Map(prof.nodes.map((x) => [x.id, x]));
const parent = new Map<number, number>();
for (const x of prof.nodes) for (const c of x.children ?? []) parent.set(c, x.id);

/** A frame's category: what part of the process it belongs to. */
function category(cf: ProfileNode["callFrame"]): string {
  const name = cf.functionName, url = cf.url;
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "garbage collector";
  if (name === "(program)") return "program (V8/runtime, outside JS)";
  if (/^op_/.test(name)) return `op ${name}`;
  if (url.includes("/src/ipc/")) return "src/ipc (ours)";
  if (url.includes("capnp-es")) return "capnp-es";
  if (url.includes("prom-client")) return "prom-client";
  if (url.includes("/src/http")) return "src/http* (ours)";
  if (url.includes("/src/registry") || url.includes("/src/collectors/") || url.includes("/src/supervisor")) {
    return "collectors/registry (ours)";
  }
  if (url.includes("/src/")) return "src other (ours)";
  if (url.startsWith("ext:") || url.startsWith("node:") || url === "") return "Deno runtime JS (ext:)";
  return "other";
}

const self = new Map<string, number>();
const cats = new Map<string, number>();
/** Self time of Deno runtime JS attributed to the nearest frame of ours above it. */
const viaOurs = new Map<string, number>();
let total = 0;
prof.samples.forEach((id, i) => {
  const node = byId.get(id)!;
  const cf = node.callFrame;
  const dt = prof.timeDeltas[i];
  const key = `${cf.functionName || "(anonymous)"} ${cf.url.split("/").pop()}:${cf.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const c = category(cf);
  cats.set(c, (cats.get(c) ?? 0) + dt);
  if (c.startsWith("op ") || c.startsWith("Deno runtime")) {
    let p = parent.get(id);
    while (p !== undefined) {
      const pf = byId.get(p)!.callFrame;
      if (pf.url.includes("/src/") || pf.url.includes("capnp-es")) {
        const k = `${pf.functionName || "(anonymous)"} ${pf.url.split("/").pop()}:${pf.lineNumber + 1}`;
        viaOurs.set(k, (viaOurs.get(k) ?? 0) + dt);
        break;
      }
      p = parent.get(p);
    }
  }
  total += dt;
});
const busy = total - (cats.get("idle") ?? 0);
const show = (m: Map<string, number>, top: number) => {
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${(100 * v / total).toFixed(1).padStart(5)}% ${(100 * v / busy).toFixed(1).padStart(5)}%busy ${
        (v / calls).toFixed(2).padStart(6)
      } µs/call  ${k}`,
    );
  }
};
console.log(`\nprofile: ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s; per category:`);
show(cats, 30);
console.log("\ntop functions by self time:");
show(self, 30);
console.log("\nDeno runtime JS and ops, by the nearest caller of ours:");
show(viaOurs, 15);
