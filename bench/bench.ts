/**
 * `deno task bench`: the cost we impose on the node, measured against the C++ limit.
 *
 * The C++ test peer plays the node and fires callbacks back to back, each only after the previous
 * answer (exactly like bitcoin-node), recording every round-trip. Each workload runs twice in the same
 * run: against the real exporter (main.ts as a subprocess, narrow permissions) and against the limit,
 * a minimal C++ client (the peer's --client mode) that answers the same calls and does nothing else.
 *
 *   deno task bench            full run (10^6 UTXO callbacks; minutes)
 *   deno task bench --quick    reduced, under a minute, same output shape
 *   deno task bench --smoke    tiny, for CI: proves the harness runs
 *
 * Output: a table, the heavy-block line (one mainnet-sized block's UTXO trace: the wall time the
 * node's validation thread spends in round trips, ours vs the C++ client), a JSON document
 * (bench/results.json), and as the very last line `worst p50 ratio: X.XX`.
 */
import { TestPeer } from "../tests/support/peer.ts";
import { ExporterProc } from "../tests/support/exporter.ts";
import { PEER_BIN } from "../tests/support/peer.ts";
import { Session } from "../src/ipc/session.ts";
import { getHeight } from "../src/ipc/branch.ts";
import { scrapeRoundBench } from "./scrape_round.ts";

/** Deno flags for the exporter under test (e.g. V8 heap flags), as the launcher would pass them. */
const EXPORTER_DENO_FLAGS = (Deno.env.get("BENCH_EXPORTER_DENO_FLAGS") ?? "").split(" ").filter((f) => f);
const mode = Deno.args.includes("--smoke") ? "smoke" : Deno.args.includes("--quick") ? "quick" : "full";
const scale = { full: 1, quick: 0.02, smoke: 0.002 }[mode];
const n = (full: number, min = 50) => Math.max(min, Math.round(full * scale));

const HASH = "44".repeat(32);
const tx = (bytes: number) => "02000000" + "00".repeat(Math.max(0, bytes - 4));

interface Stats {
  n: number;
  mean_us: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  calls_per_s: number;
}

interface Row {
  workload: string;
  ours: Stats;
  limit: Stats;
  p50_ratio: number;
  p99_ratio: number;
  ours_cpu_s_per_1e6?: number;
  rss_before_mib?: number;
  rss_after_mib?: number;
  scrape_p50_ms?: number;
  scrape_p99_ms?: number;
}

function parseStats(f: Record<string, string>): Stats {
  const num = (k: string) => Number(f[k]);
  return {
    n: num("n"),
    mean_us: num("mean_us"),
    p50_us: num("p50_us"),
    p99_us: num("p99_us"),
    p999_us: num("p999_us"),
    max_us: num("max_us"),
    calls_per_s: num("calls_per_s"),
  };
}

function procStat(pid: number): { cpuS: number; rssMiB: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return { cpuS: ticks / 100, rssMiB: rssKb / 1024 };
}

/** A C++ client that subscribes and answers every callback doing nothing: the physical limit. */
async function withLimitClient<T>(peer: TestPeer, fn: () => Promise<T>): Promise<T> {
  const child = new Deno.Command(PEER_BIN, {
    args: ["--client", peer.socketPath, "--subscribe-utxo"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("! subscribed")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("limit client exited before subscribing");
    buf += value;
  }
  await peer.waitStatus((s) => s.notifications === "1" && s.utxo === "1");
  try {
    return await fn();
  } finally {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("quit\n")).catch(() => {});
    await w.close().catch(() => {});
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await peer.waitStatus((s) => s.connected === "0");
  }
}

async function withExporter<T>(peer: TestPeer, fn: (exp: ExporterProc) => Promise<T>): Promise<T> {
  await peer.ok("set isInitialBlockDownload 0");
  const exp = await ExporterProc.start({ socketPath: peer.socketPath, denoFlags: EXPORTER_DENO_FLAGS });
  let result: T;
  try {
    await exp.waitLog(/subscribed to UTXO cache trace/);
    result = await fn(exp);
  } finally {
    const code = await exp.stop("SIGTERM");
    if (code !== 0) console.error(`exporter exited ${code}:\n${exp.lines.join("\n")}`);
    await peer.waitStatus((s) => s.connected === "0");
  }
  return result;
}

async function scrapeLoop(exp: ExporterProc, clients: number, stop: { done: boolean }): Promise<number[]> {
  const times: number[] = [];
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!stop.done) {
      const t0 = performance.now();
      const r = await fetch(exp.url());
      await r.text();
      times.push(performance.now() - t0);
    }
  }));
  return times.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;

const WORKLOADS: { name: string; command: string; calls: number; storm?: boolean }[] = [
  { name: "utxo add", command: "fire utxoAdd 5000000000 800000 1 0", calls: n(1_000_000) },
  { name: "utxo spend", command: "fire utxoSpend 5000000000 800000 1 0", calls: n(1_000_000) },
  { name: "tx added 250 B", command: `fire txAdded ${tx(250)}`, calls: n(100_000) },
  { name: "tx added 100 kB", command: `fire txAdded ${tx(100_000)}`, calls: n(5_000, 20) },
  { name: "block connected", command: `fire blockConnected 800000 ${HASH} 0`, calls: n(100_000) },
  { name: "block connected 2 MB data", command: `fire blockConnected 800000 ${HASH} 0 2000000`, calls: n(2_000, 20) },
  { name: "utxo add + 10 scrapers", command: "fire utxoAdd 5000000000 800000 1 0", calls: n(200_000), storm: true },
];

/** One mainnet-sized block's UTXO trace in the node's order: its coins spent and created, then blockConnected. */
const HEAVY_BLOCK = {
  adds: n(9_000, 100),
  spends: n(7_000, 100),
  blocks: mode === "full" ? 10 : mode === "quick" ? 3 : 1,
};

interface HeavyBlock {
  adds: number;
  spends: number;
  blocks: number;
  ours_ms_per_block: number;
  limit_ms_per_block: number;
  ratio: number;
}

/** Wall time the node's validation thread spends in round trips for one block, median over blocks. */
async function heavyBlockMs(peer: TestPeer): Promise<number> {
  const per: number[] = [];
  for (let b = 0; b < HEAVY_BLOCK.blocks; b++) {
    const t0 = performance.now();
    await peer.ok(`repeat ${HEAVY_BLOCK.spends} fire utxoSpend 5000000000 800000 1 0`, 3_600_000);
    await peer.ok(`repeat ${HEAVY_BLOCK.adds} fire utxoAdd 5000000000 800001 1 0`, 3_600_000);
    await peer.ok(`fire blockConnected ${800001 + b} ${HASH} 0`);
    per.push(performance.now() - t0);
  }
  per.sort((a, b) => a - b);
  return per[Math.floor(per.length / 2)];
}

async function heavyBlock(peer: TestPeer): Promise<HeavyBlock> {
  const limit = await withLimitClient(peer, () => heavyBlockMs(peer));
  const ours = await withExporter(peer, () => heavyBlockMs(peer));
  return { ...HEAVY_BLOCK, ours_ms_per_block: ours, limit_ms_per_block: limit, ratio: ours / limit };
}

async function trivialCall(peer: TestPeer, calls: number): Promise<{ ours: Stats; limit: Stats }> {
  // C++ client → C++ peer.
  const out = await new Deno.Command(PEER_BIN, {
    args: ["--client", peer.socketPath, "--bench-calls", String(calls)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("ok"));
  if (!line) throw new Error("C++ bench client printed no result");
  const limit = parseStats(Object.fromEntries(line.split(" ").slice(1).map((kv) => kv.split("="))));
  await peer.waitStatus((s) => s.connected === "0");
  // Our session → C++ peer, the same Chain.getHeight.
  const s = await Session.open(peer.socketPath);
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const a = performance.now();
    await getHeight(s);
    times.push((performance.now() - a) * 1000);
  }
  const total = performance.now() - t0;
  await s.shutdown();
  await peer.waitStatus((x) => x.connected === "0");
  times.sort((a, b) => a - b);
  const ours: Stats = {
    n: calls,
    mean_us: times.reduce((a, b) => a + b, 0) / calls,
    p50_us: pct(times, 0.5),
    p99_us: pct(times, 0.99),
    p999_us: pct(times, 0.999),
    max_us: times[times.length - 1],
    calls_per_s: calls / (total / 1000),
  };
  return { ours, limit };
}

async function main() {
  const peer = await TestPeer.start();
  const rows: Row[] = [];
  let heavy: HeavyBlock;
  try {
    const trivial = await trivialCall(peer, n(20_000));
    rows.push({
      workload: "trivial call (client → node)",
      ours: trivial.ours,
      limit: trivial.limit,
      p50_ratio: trivial.ours.p50_us / trivial.limit.p50_us,
      p99_ratio: trivial.ours.p99_us / trivial.limit.p99_us,
    });
    for (const w of WORKLOADS) {
      const limit = await withLimitClient(
        peer,
        async () => parseStats(await peer.ok(`repeat ${w.calls} ${w.command}`, 3_600_000)),
      );
      const row = await withExporter(peer, async (exp) => {
        const pid = exp.child.pid;
        const before = procStat(pid);
        const stop = { done: false };
        const scrapes = w.storm ? scrapeLoop(exp, 10, stop) : Promise.resolve([]);
        const ours = parseStats(await peer.ok(`repeat ${w.calls} ${w.command}`, 3_600_000));
        stop.done = true;
        const scrapeTimes = await scrapes;
        const after = procStat(pid);
        const r: Row = {
          workload: w.name,
          ours,
          limit,
          p50_ratio: ours.p50_us / limit.p50_us,
          p99_ratio: ours.p99_us / limit.p99_us,
          ours_cpu_s_per_1e6: (after.cpuS - before.cpuS) / w.calls * 1e6,
          rss_before_mib: before.rssMiB,
          rss_after_mib: after.rssMiB,
        };
        if (w.storm) {
          r.scrape_p50_ms = pct(scrapeTimes, 0.5);
          r.scrape_p99_ms = pct(scrapeTimes, 0.99);
        }
        return r;
      });
      rows.push(row);
    }
    heavy = await heavyBlock(peer);
  } finally {
    await peer.stop();
  }
  const f = (x: number | undefined, d = 1) => x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d);
  console.log(`mode: ${mode}; machine: ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`);
  console.log(
    "| workload | n | ours p50/p99/p99.9 µs | limit p50/p99/p99.9 µs | p50 ratio | p99 ratio | ours calls/s | CPU s/10⁶ | RSS MiB before→after | scrape p50/p99 ms |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.workload} | ${r.ours.n} | ${f(r.ours.p50_us)}/${f(r.ours.p99_us)}/${f(r.ours.p999_us)} | ${
        f(r.limit.p50_us)
      }/${f(r.limit.p99_us)}/${f(r.limit.p999_us)} | ${f(r.p50_ratio, 2)} | ${f(r.p99_ratio, 2)} | ${
        f(r.ours.calls_per_s, 0)
      } | ${f(r.ours_cpu_s_per_1e6, 1)} | ${f(r.rss_before_mib)}→${f(r.rss_after_mib)} | ${f(r.scrape_p50_ms, 2)}/${
        f(r.scrape_p99_ms, 2)
      } |`,
    );
  }
  console.log(
    `heavy block (${heavy.spends} spends + ${heavy.adds} adds + blockConnected, median of ${heavy.blocks}): ours ${
      f(heavy.ours_ms_per_block)
    } ms/block, C++ client ${f(heavy.limit_ms_per_block)} ms/block, ratio ${f(heavy.ratio, 2)}`,
  );
  const json = { mode, date: new Date().toISOString(), cores: navigator.hardwareConcurrency, rows, heavy_block: heavy };
  const path = new URL(`./results${mode === "full" ? "" : "-" + mode}.json`, import.meta.url);
  await Deno.writeTextFile(path, JSON.stringify(json, null, 2) + "\n");
  console.log(`json: ${path.pathname}`);
  // The targets are about the callbacks the node makes; the trivial client call is a reference row.
  const worst = Math.max(...rows.filter((r) => r.ours_cpu_s_per_1e6 !== undefined).map((r) => r.p50_ratio));
  await scrapeRoundBench(mode);
  console.log(`worst p50 ratio: ${worst.toFixed(2)}`);
}

await main();
